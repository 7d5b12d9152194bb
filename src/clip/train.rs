//! Contrastive training of a [`Clip`] on image–caption pairs, as CLIP was trained:
//!
//! ```text
//! I = l2(encode_image(x)),  T = l2(encode_text(t))        [B, E] each
//! logits = exp(s) · I Tᵀ                                   [B, B]
//! loss = ½ (CE(logits, arange B) + CE(logitsᵀ, arange B))  symmetric InfoNCE
//! ```
//! with the learnable logit scale `s` clamped to `ln 100` after every step (OpenAI's rule), and
//! AdamW (β = 0.9, 0.98, ε = 1e-6, decoupled weight decay on weight matrices and embeddings
//! only), linear warm-up then cosine decay. It trains from scratch ([`Clip::new_seeded`]) or
//! fine-tunes a loaded checkpoint; [`Clip::save`] writes the result in OpenAI's key layout.
//!
//! Captions in one batch are each other's negatives: two identical captions in a batch are
//! pushed apart as well (the data source decides how likely that is).
//!
//! Optionally, a batch also carries [`InvariantPairs`]: two images that one caption describes
//! equally well (they differ only in what the caption does not say). With
//! [`ContrastiveTraining::invariance_weight`] `λ > 0` the loss adds
//!
//! ```text
//! λ · mean_i (exp(s)·cos(a_i, t_i) − exp(s)·cos(b_i, t_i))²   (exp(s) held fixed)
//! ```
//!
//! InfoNCE alone leaves a short caption's score free to depend on what it does not name (an
//! image whose unnamed features have a small embedding share scores higher on every caption),
//! and text-driven editing climbs exactly that score: it then changes the unnamed attributes.
//!
//! And [`RankedPairs`]: a caption, an image it describes and one it does not (twins that
//! differ only in what the caption names). With [`ContrastiveTraining::ranking_weight`]
//! `μ > 0` the loss adds the pairwise logistic loss
//!
//! ```text
//! μ · mean_i softplus(exp(s)·cos(worse_i, t_i) − exp(s)·cos(better_i, t_i))   (exp(s) fixed)
//! ```
//!
//! InfoNCE cannot teach a short caption such as "a smiling face" whom it describes: in a
//! batch a quarter of the faces smile, and each is a negative of the others' caption. A ranked
//! pair has no such false negative: it asks exactly what an edit toward the caption needs, that
//! the named change raises the score.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::model::{Clip, l2_normalize};
use crate::error::{Error, Result};
use crate::training::{ModuleAdam, leaves};
use crate::weights::{Precision, TensorFile, named_params, save_safetensors_as};

/// Metadata value that marks the crate's own CLIP files (OpenAI keys plus the config).
pub const FORMAT: &str = "styleclip.clip";

/// One batch of pairs.
#[derive(Debug, Clone)]
pub struct Pairs {
    /// CLIP-normalised pixels `[B, 3, R, R]` (see [`super::preprocess`]).
    pub pixels: Tensor<4>,
    /// Caption tokens `[B, context_length]` (see [`crate::tokenizer::Tokenizer`]).
    pub tokens: Tensor<2, Int>,
    /// Image pairs each caption must score alike (used when
    /// [`ContrastiveTraining::invariance_weight`] is positive).
    pub invariant: Option<InvariantPairs>,
    /// Image pairs each caption must rank (used when [`ContrastiveTraining::ranking_weight`]
    /// is positive).
    pub ranked: Option<RankedPairs>,
}

/// Pairs of images `(first_i, second_i)` that caption `i` describes equally well.
#[derive(Debug, Clone)]
pub struct InvariantPairs {
    /// CLIP-normalised pixels `[P, 3, R, R]`.
    pub first: Tensor<4>,
    /// CLIP-normalised pixels `[P, 3, R, R]`, the same captions' other image.
    pub second: Tensor<4>,
    /// Caption tokens `[P, context_length]`.
    pub tokens: Tensor<2, Int>,
}

/// Pairs of images `(better_i, worse_i)`: caption `i` describes `better_i` and not `worse_i`.
#[derive(Debug, Clone)]
pub struct RankedPairs {
    /// CLIP-normalised pixels `[P, 3, R, R]` that the captions describe.
    pub better: Tensor<4>,
    /// CLIP-normalised pixels `[P, 3, R, R]` that they do not.
    pub worse: Tensor<4>,
    /// Caption tokens `[P, context_length]`.
    pub tokens: Tensor<2, Int>,
}

impl RankedPairs {
    fn to_device(&self, device: &Device) -> Self {
        Self {
            better: self.better.clone().to_device(device),
            worse: self.worse.clone().to_device(device),
            tokens: self.tokens.clone().to_device(device),
        }
    }
}

impl InvariantPairs {
    fn to_device(&self, device: &Device) -> Self {
        Self {
            first: self.first.clone().to_device(device),
            second: self.second.clone().to_device(device),
            tokens: self.tokens.clone().to_device(device),
        }
    }
}

/// Settings of a contrastive run.
#[derive(Debug, Clone)]
pub struct ContrastiveTraining {
    /// Optimiser steps.
    pub steps: usize,
    /// Pairs per step (the number of negatives is `batch_size − 1`).
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Decoupled weight decay (OpenAI: 0.2).
    pub weight_decay: f64,
    /// Upper bound of `exp(logit_scale)` (OpenAI: 100).
    pub max_logit_scale: f64,
    /// Write `clip_train.safetensors` (weights and optimiser state) here every
    /// `checkpoint_every` steps and resume from it when present.
    pub checkpoint_dir: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
    /// Weight λ of the invariance term over [`Pairs::invariant`] (0: plain InfoNCE).
    pub invariance_weight: f64,
    /// Weight μ of the ranking term over [`Pairs::ranked`] (0: none).
    pub ranking_weight: f64,
}

impl Default for ContrastiveTraining {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 64,
            lr: 5e-4,
            warmup: 100,
            weight_decay: 0.2,
            max_logit_scale: 100.0,
            checkpoint_dir: None,
            checkpoint_every: 200,
            invariance_weight: 0.0,
            ranking_weight: 0.0,
        }
    }
}

/// One step's numbers.
#[derive(Debug, Clone, Copy)]
pub struct ContrastiveStep {
    /// Steps done (1-based).
    pub step: usize,
    /// Of [`ContrastiveTraining::steps`].
    pub steps: usize,
    /// Symmetric InfoNCE loss of the batch.
    pub loss: f32,
    /// Fraction of images whose own caption scores highest in the batch.
    pub accuracy: f32,
    /// `exp(logit_scale)` before the step.
    pub logit_scale: f32,
    /// Mean squared score difference over [`Pairs::invariant`] (0 without pairs), before λ.
    pub invariance: f32,
    /// Mean pairwise logistic loss over [`Pairs::ranked`] (0 without pairs), before μ.
    pub ranking: f32,
}

/// Symmetric InfoNCE of a batch and the image→text top-1 accuracy within it.
///
/// # Shapes
/// pixels `[B, 3, R, R]`, tokens `[B, context]` → loss `[1]`, accuracy `[1]`
///
/// # Panics
/// If the pixels or tokens do not fit [`Clip::encode_image`] / [`Clip::encode_text`], or the
/// two batches differ (burn's broadcast assertion). The pairs builders of
/// [`crate::toyfaces::contrastive`] always produce fitting batches.
pub fn contrastive_loss(clip: &Clip, pairs: &Pairs) -> (Tensor<1>, Tensor<1>) {
    let b = pairs.pixels.dims()[0];
    let device = pairs.pixels.device();
    let img = l2_normalize(clip.encode_image(pairs.pixels.clone()));
    let txt = l2_normalize(clip.encode_text(pairs.tokens.clone()));
    let logits = img.matmul(txt.transpose()) * clip.logit_scale_exp().reshape([1, 1]);
    let eye = Tensor::<2>::eye(b, &device);
    let ce = |l: Tensor<2>| -(log_softmax(l, 1) * eye.clone()).sum_dim(1).mean();
    let loss = (ce(logits.clone()) + ce(logits.clone().transpose())).div_scalar(2.0);
    let best = logits.argmax(1).reshape([b]);
    let target = Tensor::<1, Int>::arange(0..b as i64, &device);
    let accuracy = best.equal(target).float().mean();
    (loss, accuracy)
}

/// Mean squared difference of the two images' scores `exp(s)·cos(image, caption)` over
/// invariant pairs, with the logit scale held fixed (the term must not shrink it).
///
/// # Shapes
/// `[P, 3, R, R]` twice, tokens `[P, context]` → `[1]`
///
/// # Errors
/// The two image tensors differ in shape, or the captions are not one per pair.
pub fn invariance_loss(clip: &Clip, pairs: &InvariantPairs) -> Result<Tensor<1>> {
    let (first, second) = pair_scores(
        clip,
        &pairs.first,
        &pairs.second,
        &pairs.tokens,
        "invariant",
    )?;
    Ok((first - second).powi_scalar(2).mean())
}

/// Mean pairwise logistic loss `softplus(score(worse) − score(better))` over ranked pairs,
/// scores `exp(s)·cos(image, caption)` with the logit scale held fixed.
///
/// # Shapes
/// `[P, 3, R, R]` twice, tokens `[P, context]` → `[1]`
///
/// # Errors
/// The two image tensors differ in shape, or the captions are not one per pair.
pub fn ranking_loss(clip: &Clip, pairs: &RankedPairs) -> Result<Tensor<1>> {
    let (better, worse) = pair_scores(clip, &pairs.better, &pairs.worse, &pairs.tokens, "ranked")?;
    Ok(burn::tensor::activation::softplus(worse - better, 1.0).mean())
}

/// The scores `exp(s)·cos(image, caption_i)` `[P, 1]` of both images of each pair, the logit
/// scale held fixed; the two image tensors go through the image tower as one batch.
fn pair_scores(
    clip: &Clip,
    a: &Tensor<4>,
    b: &Tensor<4>,
    tokens: &Tensor<2, Int>,
    what: &str,
) -> Result<(Tensor<2>, Tensor<2>)> {
    let (da, db) = (a.dims(), b.dims());
    let t = tokens.dims()[0];
    if da != db || da[0] != t || t == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what} pairs need two image tensors of one shape and one caption per pair, \
             got images {da:?} and {db:?} and {t} captions"
        )));
    }
    let txt = l2_normalize(clip.encode_text(tokens.clone()));
    let img = l2_normalize(clip.encode_image(Tensor::cat(vec![a.clone(), b.clone()], 0)));
    let scale = clip.logit_scale_exp().detach().reshape([1, 1]);
    let score = |x: Tensor<2>| (x * txt.clone()).sum_dim(1) * scale.clone();
    Ok((
        score(img.clone().narrow(0, 0, t)),
        score(img.narrow(0, t, t)),
    ))
}

impl ContrastiveTraining {
    fn check(&self) -> Result<()> {
        if self.steps == 0 || self.batch_size < 2 || self.lr.is_nan() || self.lr <= 0.0 {
            return Err(Error::InvalidArgument(format!(
                "contrastive training needs steps ≥ 1, batch_size ≥ 2 and lr > 0, got {}, {}, {}",
                self.steps, self.batch_size, self.lr
            )));
        }
        if !(self.invariance_weight >= 0.0 && self.invariance_weight.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "contrastive training needs a finite invariance_weight ≥ 0, got {}",
                self.invariance_weight
            )));
        }
        if !(self.ranking_weight >= 0.0 && self.ranking_weight.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "contrastive training needs a finite ranking_weight ≥ 0, got {}",
                self.ranking_weight
            )));
        }
        Ok(())
    }

    /// Learning rate of step `step` (0-based): linear warm-up, then cosine decay to 0.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.lr * (step + 1) as f64 / self.warmup as f64;
        }
        let t = (step - self.warmup) as f64 / (self.steps - self.warmup).max(1) as f64;
        self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }

    /// Train `clip` (on an autodiff device). `batch(step, batch_size)` gives the pairs of a
    /// step (on any device; a run resumed from a checkpoint asks for the same steps again, so
    /// make the batch a function of the step for an exactly resumable run). `observer` sees
    /// every step and may stop the run early. Returns the model on the plain device.
    pub fn run(
        &self,
        clip: Clip,
        mut batch: impl FnMut(usize, usize) -> Result<Pairs>,
        mut observer: impl FnMut(&ContrastiveStep) -> ControlFlow<()>,
    ) -> Result<Clip> {
        self.check()?;
        let device = clip.visual.positional_embedding.val().device();
        let mut adam = ModuleAdam::new().with_betas(0.9, 0.98, 1e-6);
        adam.weight_decay = self.weight_decay;
        let mut clip = clip;
        let mut start = 0;
        if let Some(dir) = &self.checkpoint_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            let path = dir.join("clip_train.safetensors");
            if path.exists() {
                let file = TensorFile::open(&path)?;
                clip = Clip::from_file(&file, &device)?;
                start = adam.restore(&file)?;
            }
        }
        let max_s = self.max_logit_scale.ln();
        let mut clip = leaves(clip);
        for step in start..self.steps {
            let pairs = batch(step, self.batch_size)?;
            let invariant = match (&pairs.invariant, self.invariance_weight > 0.0) {
                (Some(p), true) => Some(p.to_device(&device)),
                _ => None,
            };
            let ranked = match (&pairs.ranked, self.ranking_weight > 0.0) {
                (Some(p), true) => Some(p.to_device(&device)),
                _ => None,
            };
            let pairs = Pairs {
                pixels: pairs.pixels.to_device(&device),
                tokens: pairs.tokens.to_device(&device),
                invariant: None,
                ranked: None,
            };
            let (mut loss, accuracy) = contrastive_loss(&clip, &pairs);
            let scale = clip.logit_scale_exp().detach();
            let info_nce = loss.clone().detach();
            let mut invariance = Tensor::<1>::zeros([1], &device);
            if let Some(p) = &invariant {
                let term = invariance_loss(&clip, p)?;
                invariance = term.clone().detach();
                loss = loss + term.mul_scalar(self.invariance_weight);
            }
            let mut ranking = Tensor::<1>::zeros([1], &device);
            if let Some(p) = &ranked {
                let term = ranking_loss(&clip, p)?;
                ranking = term.clone().detach();
                loss = loss + term.mul_scalar(self.ranking_weight);
            }
            let numbers = crate::edit::host(Tensor::cat(
                vec![info_nce, accuracy, scale, invariance, ranking],
                0,
            ))?;
            if !numbers.iter().all(|v| v.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "contrastive training: the loss is not finite at step {step}"
                )));
            }
            let grads = loss.backward();
            clip = adam.step(clip, &grads, self.lr_at(step))?;
            clip = clip.clamp_logit_scale(max_s);
            let done = step + 1;
            if let Some(dir) = &self.checkpoint_dir
                && (done % self.checkpoint_every.max(1) == 0 || done == self.steps)
            {
                let mut tensors = clip.state_dict();
                tensors.extend(adam.state("adam."));
                let mut meta = clip.metadata()?;
                meta.insert("step".into(), done.to_string());
                save_safetensors_as(
                    &dir.join("clip_train.safetensors"),
                    tensors,
                    meta,
                    Precision::F32,
                )?;
            }
            let record = ContrastiveStep {
                step: done,
                steps: self.steps,
                loss: numbers[0],
                accuracy: numbers[1],
                logit_scale: numbers[2],
                invariance: numbers[3],
                ranking: numbers[4],
            };
            if observer(&record).is_break() {
                break;
            }
        }
        Ok(clip.valid())
    }
}

impl Clip {
    /// Every parameter under OpenAI's key names and layout (`[out, in]` linear weights).
    pub fn state_dict(&self) -> Vec<(String, TensorData)> {
        let device = self.logit_scale.val().device();
        named_params(self)
            .into_iter()
            .filter(|(k, _)| k != "attn_mask")
            .map(|(k, d)| {
                // The model keeps linear weights as `[in, out]`; OpenAI stores `[out, in]`.
                let linear = k.ends_with("in_proj_weight")
                    || k.ends_with("out_proj.weight")
                    || k.ends_with("c_fc.weight")
                    || k.ends_with("c_proj.weight");
                if linear {
                    let t = Tensor::<2>::from_data(d, &device).transpose();
                    (k, t.into_data())
                } else {
                    (k, d)
                }
            })
            .collect()
    }

    fn metadata(&self) -> Result<HashMap<String, String>> {
        let config = serde_json::to_string(self.config())
            .map_err(|e| Error::InvalidConfig(e.to_string()))?;
        Ok([
            ("format".to_string(), FORMAT.to_string()),
            ("config".to_string(), config),
        ]
        .into())
    }

    /// Save as safetensors in OpenAI's key layout with the configuration in the metadata
    /// (so head counts need not be inferred); [`Clip::load`] reads it back.
    pub fn save(&self, path: impl AsRef<Path>, precision: Precision) -> Result<()> {
        save_safetensors_as(
            path.as_ref(),
            self.state_dict(),
            self.metadata()?,
            precision,
        )
    }

    /// Load from an open file, taking the configuration from its metadata when it has one.
    pub(crate) fn from_file(file: &TensorFile, device: &Device) -> Result<Self> {
        let format = super::load::detect(file)?;
        let config = match file.metadata().get("config") {
            Some(json) if file.metadata().get("format").map(String::as_str) == Some(FORMAT) => {
                serde_json::from_str(json).map_err(|e| {
                    Error::InvalidConfig(format!(
                        "{}: bad CLIP config in metadata: {e}",
                        file.path().display()
                    ))
                })?
            }
            _ => super::load::infer_config(file, &format)?,
        };
        super::load::build(file, &format, config, device)
    }

    /// `logit_scale` clamped to at most `max` (a fresh autodiff leaf).
    fn clamp_logit_scale(mut self, max: f64) -> Self {
        let id = self.logit_scale.id;
        let v = self.logit_scale.val().inner().clamp_max(max);
        self.logit_scale =
            burn::module::Param::initialized(id, Tensor::from_inner(v).require_grad());
        self
    }
}
