//! StyleSpace: the per-layer style vectors (the modulation outputs, bias included).

use std::sync::Arc;

use burn::prelude::*;

use crate::error::{Error, Result};

/// What a style layer modulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// A 3×3 styled convolution (the up-sampling one or the one after it).
    Conv,
    /// A 1×1 ToRGB convolution.
    ToRgb,
}

/// Where one style vector sits in the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StyleLayer {
    /// Conv or ToRGB.
    pub kind: LayerKind,
    /// Output resolution of the layer, in pixels.
    pub resolution: usize,
    /// Length of the style vector (the layer's input channels).
    pub channels: usize,
    /// Which W+ row drives it.
    pub w_index: usize,
}

/// One style vector per modulated layer, in the official order: `conv1`, `to_rgb1`, then per
/// resolution the up-sampling conv, the conv, and the ToRGB (26 layers, 9088 channels for FFHQ
/// 1024).
#[derive(Debug, Clone)]
pub struct StyleCode {
    layers: Vec<Tensor<2>>,
    info: Arc<[StyleLayer]>,
}

impl StyleCode {
    /// Wrap per-layer vectors after checking them against the generator's layer list.
    ///
    /// # Shapes
    /// `layers[j]`: `[B, info[j].channels]`, one `B` for all.
    pub fn new(layers: Vec<Tensor<2>>, info: Arc<[StyleLayer]>) -> Result<Self> {
        if layers.len() != info.len() {
            return Err(Error::InvalidArgument(format!(
                "a style code for this generator has {} layers, got {}",
                info.len(),
                layers.len()
            )));
        }
        let batch = layers.first().map(|t| t.dims()[0]).unwrap_or(0);
        for (j, (t, l)) in layers.iter().zip(info.iter()).enumerate() {
            let [b, c] = t.dims();
            if c != l.channels || b != batch {
                return Err(Error::InvalidArgument(format!(
                    "style layer {j} must be [{batch}, {}], got [{b}, {c}]",
                    l.channels
                )));
            }
        }
        Ok(Self { layers, info })
    }

    pub(crate) fn new_unchecked(layers: Vec<Tensor<2>>, info: Arc<[StyleLayer]>) -> Self {
        Self { layers, info }
    }

    /// The style vectors, official order.
    pub fn layers(&self) -> &[Tensor<2>] {
        &self.layers
    }

    /// Take the style vectors.
    pub fn into_layers(self) -> Vec<Tensor<2>> {
        self.layers
    }

    /// What each layer is.
    pub fn info(&self) -> &[StyleLayer] {
        &self.info
    }

    /// Batch size.
    pub fn batch_size(&self) -> usize {
        self.layers.first().map(|t| t.dims()[0]).unwrap_or(0)
    }

    /// Total channels over all layers (9088 for FFHQ 1024; 6048 without ToRGB).
    pub fn total_channels(&self, include_to_rgb: bool) -> usize {
        self.info
            .iter()
            .filter(|l| include_to_rgb || l.kind == LayerKind::Conv)
            .map(|l| l.channels)
            .sum()
    }

    /// Same layout, new vectors (each `[B, channels]`), checked.
    pub fn with_layers(&self, layers: Vec<Tensor<2>>) -> Result<Self> {
        Self::new(layers, self.info.clone())
    }

    /// `styles + α · self`: apply this delta (batch 1, broadcast over the batch, or the same
    /// batch as `styles`) to style codes, layer by layer (official `MSCode` for one α).
    ///
    /// # Panics
    /// If the two codes have different layer layouts or incompatible batches; see
    /// [`StyleCode::try_apply`] for the checked version.
    pub fn apply(&self, styles: &StyleCode, alpha: impl Into<f64>) -> StyleCode {
        self.try_apply(styles, alpha)
            .unwrap_or_else(|e| panic!("StyleCode::apply: {e}"))
    }

    /// [`StyleCode::apply`], with layout and batch mismatches as errors.
    pub fn try_apply(&self, styles: &StyleCode, alpha: impl Into<f64>) -> Result<StyleCode> {
        let alpha = alpha.into();
        if *self.info != *styles.info {
            return Err(Error::InvalidArgument(
                "a style delta and the codes it edits must come from the same generator".into(),
            ));
        }
        let (bd, bs) = (self.batch_size(), styles.batch_size());
        if bd != 1 && bd != bs {
            return Err(Error::InvalidArgument(format!(
                "a style delta must have batch 1 or the codes' batch {bs}, got {bd}"
            )));
        }
        let layers = self
            .layers
            .iter()
            .zip(&styles.layers)
            .map(|(d, s)| s.clone() + d.clone().mul_scalar(alpha).expand(s.dims()))
            .collect();
        Ok(Self::new_unchecked(layers, styles.info.clone()))
    }

    /// An α sweep (official `MSCode` with `M.alpha = alphas`): for each code of `styles`, one
    /// edited code per α, batch `B · alphas.len()` ordered image-major (`[i, k]` at
    /// `i · alphas.len() + k`).
    pub fn apply_sweep(&self, styles: &StyleCode, alphas: &[f32]) -> Result<StyleCode> {
        let (b, k) = (styles.batch_size(), alphas.len());
        if k == 0 {
            return Err(Error::InvalidArgument("no α values to sweep".into()));
        }
        let edits = alphas
            .iter()
            .map(|&a| self.try_apply(styles, a))
            .collect::<Result<Vec<_>>>()?;
        let layers = (0..self.layers.len())
            .map(|j| {
                let parts: Vec<Tensor<2>> = edits.iter().map(|e| e.layers[j].clone()).collect();
                let c = parts[0].dims()[1];
                // [k, b, c] → [b, k, c] → [b·k, c]
                Tensor::stack::<3>(parts, 0)
                    .swap_dims(0, 1)
                    .reshape([b * k, c])
            })
            .collect();
        Ok(Self::new_unchecked(layers, styles.info.clone()))
    }
}
