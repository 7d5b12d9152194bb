//! Generator hyper-parameters.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The shape of a StyleGAN2 generator.
///
/// Everything except `lr_mlp` and `blur_kernel` is inferred from checkpoint shapes by
/// [`Generator::load`](super::Generator::load); those two keep the official values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Output resolution, a power of two ≥ 4.
    pub size: usize,
    /// Width of Z, W and the mapping network.
    pub style_dim: usize,
    /// Number of mapping layers (8 in the official models).
    pub n_mlp: usize,
    /// Feature channels per resolution: `channels[j]` is at `4 · 2^j` px (`log2(size) − 1` entries).
    pub channels: Vec<usize>,
    /// Learning-rate multiplier of the mapping layers (0.01): part of the forward pass through
    /// equalized learning rate.
    pub lr_mlp: f64,
    /// 1-D FIR kernel of the up-sampling filters (`[1, 3, 3, 1]`).
    pub blur_kernel: Vec<f32>,
}

impl GeneratorConfig {
    /// The official channel table of rosinality's `Generator(size, style_dim, n_mlp,
    /// channel_multiplier)`: 512 up to 32 px, then `256·cm, 128·cm, 64·cm, 32·cm, 16·cm`.
    pub fn rosinality(
        size: usize,
        style_dim: usize,
        n_mlp: usize,
        channel_multiplier: usize,
    ) -> Self {
        let table = |res: usize| match res {
            0..=32 => 512,
            64 => 256 * channel_multiplier,
            128 => 128 * channel_multiplier,
            256 => 64 * channel_multiplier,
            512 => 32 * channel_multiplier,
            _ => 16 * channel_multiplier,
        };
        let levels = size.max(4).ilog2() as usize - 1;
        Self {
            size,
            style_dim,
            n_mlp,
            channels: (0..levels).map(|j| table(4 << j)).collect(),
            lr_mlp: 0.01,
            blur_kernel: vec![1.0, 3.0, 3.0, 1.0],
        }
    }

    /// `stylegan2-ffhq-config-f`: 1024 px, 512-d styles, 8 mapping layers, channel multiplier 2.
    pub fn ffhq_config_f() -> Self {
        Self::rosinality(1024, 512, 8, 2)
    }

    /// `log2(size)`.
    pub fn log_size(&self) -> usize {
        self.size.max(1).ilog2() as usize
    }

    /// Rows of a W+ latent: `2·log2(size) − 2` (18 at 1024 px).
    pub fn n_latent(&self) -> usize {
        self.log_size() * 2 - 2
    }

    /// Noise inputs: one per styled convolution, `2·log2(size) − 3`.
    pub fn num_noises(&self) -> usize {
        (self.log_size() - 2) * 2 + 1
    }

    /// Side of noise input `j` (`2^((j + 5) / 2)`).
    pub fn noise_size(&self, j: usize) -> usize {
        1 << ((j + 5) / 2)
    }

    /// Channels at resolution `res` (a power of two in `4..=size`).
    pub fn channels_at(&self, res: usize) -> usize {
        self.channels[res.ilog2() as usize - 2]
    }

    /// Check that the numbers describe a buildable generator.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.size < 4 || !self.size.is_power_of_two() {
            return bad(format!(
                "size must be a power of two ≥ 4, got {}",
                self.size
            ));
        }
        if self.style_dim == 0 {
            return bad("style_dim must be positive".into());
        }
        let levels = self.log_size() - 1;
        if self.channels.len() != levels {
            return bad(format!(
                "size {} needs {levels} channel counts (4 px .. {} px), got {}",
                self.size,
                self.size,
                self.channels.len()
            ));
        }
        if self.channels.contains(&0) {
            return bad("channel counts must be positive".into());
        }
        if !(self.lr_mlp.is_finite() && self.lr_mlp > 0.0) {
            return bad(format!("lr_mlp must be positive, got {}", self.lr_mlp));
        }
        if self.blur_kernel.len() < 2 || self.blur_kernel.iter().sum::<f32>() == 0.0 {
            return bad("blur_kernel needs ≥ 2 taps with a non-zero sum".into());
        }
        Ok(())
    }
}
