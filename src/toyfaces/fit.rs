//! Fitting a StyleGAN2 to the renderer by regression: `G(z) ≈ R(face(z))`.
//!
//! [`Face::from_latent`] turns a Gaussian `z` into a face; the generator learns to draw it.
//! No discriminator is needed because the target of every `z` is known, which also sidesteps
//! burn's lack of double backward (no R1 penalty). The loss is
//! `mean|G(z) − R(z)| + mean (G(z) − R(z))²` with zero noise inputs (the renderer has no
//! stochastic detail), trained with PyTorch's Adam; the mapping layers get the learning rate
//! times `1 / lr_mlp` so that their equalised-learning-rate multiplier (0.01, kept so the file
//! stays an ordinary StyleGAN2) does not freeze them.
//!
//! Step `s` draws its `z` batch from `(seed, s)` alone, so a run resumed from a checkpoint
//! reproduces the uninterrupted run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::attributes::{Face, Style};
use super::render::render_batch;
use crate::error::{Error, Result};
use crate::stylegan2::{Generator, GeneratorConfig, NoiseMode};
use crate::training::{ModuleAdam, leaves};

/// The toy world's generator shape: 64 px, 64-d styles, 4 mapping layers, channels
/// 128 (4 px), 128, 96, 48, 24 (64 px).
pub fn toy_generator_config() -> GeneratorConfig {
    GeneratorConfig {
        size: super::SIZE,
        style_dim: 64,
        n_mlp: 4,
        channels: vec![128, 128, 96, 48, 24],
        lr_mlp: 0.01,
        blur_kernel: vec![1.0, 3.0, 3.0, 1.0],
    }
}

/// Settings of a generator fit.
#[derive(Debug, Clone)]
pub struct GeneratorFit {
    /// Adam steps.
    pub steps: usize,
    /// Latents per step.
    pub batch: usize,
    /// Adam learning rate of the synthesis network.
    pub lr: f64,
    /// Seed of the latent batches.
    pub seed: u64,
    /// Write `generator_fit.safetensors` (weights and Adam state) here every
    /// `checkpoint_every` steps, and resume from it when present.
    pub checkpoint_dir: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
}

impl Default for GeneratorFit {
    fn default() -> Self {
        Self {
            steps: 4000,
            batch: 16,
            lr: 2e-3,
            seed: 0,
            checkpoint_dir: None,
            checkpoint_every: 200,
        }
    }
}

/// One step's numbers.
#[derive(Debug, Clone, Copy)]
pub struct FitRecord {
    /// Steps done (1-based).
    pub step: usize,
    /// Mean absolute pixel error of the batch, on the `[-1, 1]` scale.
    pub l1: f32,
    /// Mean squared error.
    pub mse: f32,
}

/// The latent batch of step `step`: `[batch, style_dim]`, `N(0, 1)`, from `(seed, step)`.
pub fn fit_latents(seed: u64, step: usize, batch: usize, dim: usize, device: &Device) -> Tensor<2> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ step as u64);
    let v: Vec<f32> = (0..batch * dim)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_data(TensorData::new(v, [batch, dim]), device)
}

/// The renderer's image of each latent row: `[B, 3, 64, 64]` in `[-1, 1]`.
pub fn render_latents(z: &Tensor<2>) -> Result<Tensor<4>> {
    let [b, d] = z.dims();
    let values = crate::edit::host(z.clone())?;
    let faces: Vec<Face> = (0..b)
        .map(|i| Face::from_latent(&values[i * d..(i + 1) * d]))
        .collect();
    render_batch(&faces, Style::Photo, super::SIZE, &z.device())
}

fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("generator_fit.safetensors")
}

/// Fit `g` (on an autodiff device) to the renderer; `observer` sees every step and may stop
/// the run by returning `false`. Returns the generator with `latent_avg` set to the mean of
/// 4096 mapped latents.
pub fn fit_generator(
    g: Generator,
    fit: &GeneratorFit,
    mut observer: impl FnMut(FitRecord) -> bool,
) -> Result<Generator> {
    let device = g.device();
    let config = g.config().clone();
    if config.size != super::SIZE {
        return Err(Error::InvalidArgument(format!(
            "the toy generator draws {0} px images; this one is {1} px",
            super::SIZE,
            config.size
        )));
    }
    let mut start = 0;
    let mut g = g;
    let mut adam = ModuleAdam::new();
    adam.allow_missing = true; // noise buffers, noise weights under zero noise, latent_avg
    let mapping_scale = 1.0 / config.lr_mlp;
    adam = adam.with_lr_scale(move |name| {
        if name.starts_with("style.") {
            mapping_scale
        } else {
            1.0
        }
    });
    if let Some(dir) = &fit.checkpoint_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = checkpoint_path(dir);
        if path.exists() {
            let file = crate::weights::TensorFile::open(&path)?;
            g = Generator::from_file(&file, &device)?;
            start = adam.restore(&file)?;
        }
    }
    let mut g = leaves(g);
    for step in start..fit.steps {
        let z = fit_latents(fit.seed, step, fit.batch, config.style_dim, &device);
        let target = render_latents(&z)?;
        let wp = g.broadcast(g.mapping(z));
        let out = g.synthesis(wp, NoiseMode::Zero);
        let diff = out - target;
        let l1 = diff.clone().abs().mean();
        let mse = diff.powi_scalar(2).mean();
        let loss = l1.clone() + mse.clone();
        let values = crate::edit::host(Tensor::cat(vec![l1, mse], 0))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "generator fit: loss is not finite at step {step}"
            )));
        }
        let grads = loss.backward();
        // Linear warm-up over 100 steps, cosine decay to 10 % at the end.
        let t = step as f64 / fit.steps.max(1) as f64;
        let lr = fit.lr
            * ((step + 1) as f64 / 100.0).min(1.0)
            * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()));
        g = adam.step(g, &grads, lr)?;
        let done = step + 1;
        if let Some(dir) = &fit.checkpoint_dir
            && (done % fit.checkpoint_every.max(1) == 0 || done == fit.steps)
        {
            save_checkpoint(&g, &adam, done, &checkpoint_path(dir))?;
        }
        if !observer(FitRecord {
            step: done,
            l1: values[0],
            mse: values[1],
        }) {
            break;
        }
    }
    let g = g.valid();
    let avg = g.mean_latent(4096, fit.seed);
    Ok(g.with_latent_avg(Some(avg)))
}

fn save_checkpoint(g: &Generator, adam: &ModuleAdam, step: usize, path: &Path) -> Result<()> {
    let config =
        serde_json::to_string(g.config()).map_err(|e| Error::InvalidConfig(e.to_string()))?;
    let mut tensors = g.state_dict();
    tensors.extend(adam.state("adam."));
    let meta: HashMap<String, String> = [
        (
            "format".to_string(),
            crate::stylegan2::checkpoint::FORMAT.to_string(),
        ),
        ("format_version".to_string(), "1".to_string()),
        ("config".to_string(), config),
        ("step".to_string(), step.to_string()),
    ]
    .into();
    crate::weights::save_safetensors(path, tensors, meta)
}
