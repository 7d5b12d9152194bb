//! The text direction Δt and the StyleSpace edit it gives (official `GetDt` /
//! `zeroshot_classifier`, `GetBoundary`, `SplitS`, `global_torch/StyleCLIP.py`; `GetDt2` of
//! `global_directions/Inference.py` for the automatic β).
//!
//! ```text
//! t̄(x)  = normalise( mean_k normalise( E_T(template_k(x)) ) )     79 ImageNet templates
//! Δt    = normalise( t̄(target) − t̄(neutral) )
//! r     = fs3 · Δt;   r_c ← 0 where |r_c| < β;   r ← r / max_c |r_c|
//! Δs    = r_c · σ_c per non-ToRGB channel, 0 on ToRGB layers (and on layers fs3 lacks)
//! s'    = s + α Δs
//! ```
//!
//! The paper's equation omits the max-normalisation and the std scaling; the code has both,
//! and so does this port. Unlike `clip.tokenize`'s fixed 77 tokens, the prompts run through the
//! text tower only up to the longest one's end token: the tower is causal and pools at the end
//! token, so the features are the same (to float rounding) for a fraction of the work.
//!
//! With no channel at or above β the official code divides 0 by 0 and edits with NaN; here that
//! is an [`Error::InvalidArgument`].

use burn::prelude::*;

use super::host;
use super::relevance::Relevance;
use super::stats::StyleStats;
use crate::clip::Clip;
use crate::clip::model::l2_normalize;
use crate::error::{Error, Result};
use crate::stylegan2::{LayerKind, StyleCode};
use crate::tokenizer::Tokenizer;

/// The CLIP ImageNet prompt templates as StyleCLIP uses them: OpenAI's 80 from the CLIP
/// "Prompt Engineering for ImageNet" notebook, minus the commented-out `'a photo of many {}.'`,
/// in the official order (`global_torch/StyleCLIP.py`, `global_directions/MapTS.py`).
pub const IMAGENET_TEMPLATES: [&str; 79] = [
    "a bad photo of a {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
];

/// A text direction Δt in CLIP space (unit length).
#[derive(Debug, Clone)]
pub struct GlobalDirection {
    dt: Vec<f32>,
    device: Device,
}

/// An edit direction in StyleSpace with what it moves.
#[derive(Debug, Clone)]
pub struct DirectionDelta {
    /// Δs, batch 1, official layer order, ToRGB layers zero.
    pub delta: StyleCode,
    /// Channels with `|r| ≥ β` (official `num_c`).
    pub channels: usize,
    /// The threshold used.
    pub beta: f64,
}

/// The automatic threshold of `Inference.py` (`GetDt2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoBeta {
    /// The largest β of `0.10, 0.11, …, 0.29` that moves more than the minimum number of
    /// channels, or 0.1 when none does.
    pub beta: f64,
    /// Channels moved at that β.
    pub channels: usize,
}

impl GlobalDirection {
    /// Δt from a neutral and a target text (e.g. `"face"`, `"smiling face"`), with the 79
    /// official templates.
    pub fn from_text(
        clip: &Clip,
        tokenizer: &Tokenizer,
        neutral: &str,
        target: &str,
    ) -> Result<Self> {
        Self::from_text_with_templates(clip, tokenizer, neutral, target, &IMAGENET_TEMPLATES)
    }

    /// Δt with other templates (each must contain `{}`, the class name's place).
    pub fn from_text_with_templates(
        clip: &Clip,
        tokenizer: &Tokenizer,
        neutral: &str,
        target: &str,
        templates: &[&str],
    ) -> Result<Self> {
        for (what, text) in [("neutral", neutral), ("target", target)] {
            if text.trim().is_empty() {
                return Err(Error::InvalidArgument(format!("the {what} text is empty")));
            }
        }
        if templates.is_empty() || templates.iter().any(|t| !t.contains("{}")) {
            return Err(Error::InvalidArgument(
                "templates must be non-empty and each contain `{}`".into(),
            ));
        }
        let device = clip.text_projection.val().device();
        let t = class_embedding(clip, tokenizer, target, templates, &device)?;
        let n = class_embedding(clip, tokenizer, neutral, templates, &device)?;
        let dt: Vec<f32> = t.iter().zip(&n).map(|(a, b)| a - b).collect();
        let norm = dt.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "the texts `{neutral}` and `{target}` give the same CLIP embedding: no direction"
            )));
        }
        Ok(Self {
            dt: dt.iter().map(|&x| (x as f64 / norm) as f32).collect(),
            device,
        })
    }

    /// A given Δt (normalised here); the edit is built on `device`.
    pub fn from_vector(dt: Vec<f32>, device: &Device) -> Result<Self> {
        let norm = dt.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        if dt.is_empty() || !(norm.is_finite() && norm > 0.0) {
            return Err(Error::InvalidArgument(
                "a direction must be non-empty, finite and non-zero".into(),
            ));
        }
        Ok(Self {
            dt: dt.iter().map(|&x| (x as f64 / norm) as f32).collect(),
            device: device.clone(),
        })
    }

    /// Δt, unit length.
    pub fn vector(&self) -> &[f32] {
        &self.dt
    }

    /// Per-channel relevance `r = fs3 · Δt` (before thresholding).
    pub fn relevance(&self, fs3: &Relevance) -> Result<Vec<f32>> {
        if fs3.dim() != self.dt.len() {
            return Err(Error::ShapeMismatch {
                key: "fs3 columns (CLIP embedding size)".into(),
                expected: vec![self.dt.len()],
                found: vec![fs3.dim()],
            });
        }
        Ok(fs3
            .values()
            .chunks_exact(fs3.dim())
            .map(|row| {
                row.iter()
                    .zip(&self.dt)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum::<f64>() as f32
            })
            .collect())
    }

    /// How many channels `|r| ≥ β` selects.
    pub fn channels_moved(&self, fs3: &Relevance, beta: impl Into<f64>) -> Result<usize> {
        let beta = beta.into();
        check_beta(beta)?;
        Ok(self
            .relevance(fs3)?
            .iter()
            .filter(|r| (r.abs() as f64) >= beta)
            .count())
    }

    /// `Inference.py`'s automatic β: the largest of `np.arange(0.1, 0.3, 0.01)` that moves more
    /// than `min_channels` channels (official 20 for faces, 100 otherwise), else 0.1.
    pub fn auto_beta(&self, fs3: &Relevance, min_channels: usize) -> Result<AutoBeta> {
        let r = self.relevance(fs3)?;
        let count = |beta: f64| r.iter().filter(|v| (v.abs() as f64) >= beta).count();
        // NumPy's arange fills `start + i·δ` with δ = (start + step) − start, not step.
        let delta = (0.1f64 + 0.01) - 0.1;
        let pick = (0..20)
            .map(|i| 0.1 + i as f64 * delta)
            .rfind(|&b| count(b) > min_channels)
            .unwrap_or(0.1);
        Ok(AutoBeta {
            beta: pick,
            channels: count(pick),
        })
    }

    /// Δs for threshold β (official `GetBoundary` + `SplitS(if_std=True)`), batch 1.
    pub fn style_delta(
        &self,
        fs3: &Relevance,
        stats: &StyleStats,
        beta: impl Into<f64>,
    ) -> Result<StyleCode> {
        Ok(self.delta(fs3, stats, beta)?.delta)
    }

    /// Δs with the number of channels it moves.
    pub fn delta(
        &self,
        fs3: &Relevance,
        stats: &StyleStats,
        beta: impl Into<f64>,
    ) -> Result<DirectionDelta> {
        // β is compared in f64 with the f32 relevances promoted, as NumPy compares them.
        let beta = beta.into();
        check_beta(beta)?;
        let r = self.relevance(fs3)?;
        let mut ds: Vec<f32> = r
            .iter()
            .map(|&v| if (v.abs() as f64) < beta { 0.0 } else { v })
            .collect();
        let channels = r.iter().filter(|v| (v.abs() as f64) >= beta).count();
        let max = ds.iter().fold(0f32, |m, v| m.max(v.abs()));
        if channels == 0 || max == 0.0 {
            let top = r.iter().fold(0f32, |m, v| m.max(v.abs()));
            return Err(Error::InvalidArgument(format!(
                "β = {beta} selects no channel (the largest |relevance| is {top}); lower β"
            )));
        }
        ds.iter_mut().for_each(|v| *v /= max);
        // SplitS: slices of ds per non-ToRGB layer, scaled by σ; ToRGB and absent layers are 0.
        let layers = stats.layers();
        let conv_total: usize = layers
            .iter()
            .filter(|l| l.kind == LayerKind::Conv)
            .map(|l| l.channels)
            .sum();
        let mut start = 0;
        let mut out = Vec::with_capacity(layers.len());
        for (j, l) in layers.iter().enumerate() {
            if l.kind == LayerKind::Conv && start < ds.len() {
                let end = start + l.channels;
                if end > ds.len() {
                    return Err(fs3_rows_error(ds.len(), conv_total));
                }
                out.push(
                    ds[start..end]
                        .iter()
                        .zip(stats.std(j))
                        .map(|(a, s)| a * s)
                        .collect(),
                );
                start = end;
            } else {
                out.push(vec![0.0; l.channels]);
            }
        }
        if start != ds.len() {
            return Err(fs3_rows_error(ds.len(), conv_total));
        }
        Ok(DirectionDelta {
            delta: stats.code_from(out, &self.device)?,
            channels,
            beta,
        })
    }
}

fn fs3_rows_error(rows: usize, conv_total: usize) -> Error {
    Error::ShapeMismatch {
        key: format!(
            "fs3 rows (the generator's {conv_total} non-ToRGB channels, or whole layers of them \
             from the first)"
        ),
        expected: vec![conv_total],
        found: vec![rows],
    }
}

fn check_beta(beta: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&beta) {
        return Err(Error::InvalidArgument(format!(
            "β must be in [0, 1] (relevances are cosines), got {beta}"
        )));
    }
    Ok(())
}

/// `normalise(mean_k normalise(E_T(template_k(name))))`, on the host.
fn class_embedding(
    clip: &Clip,
    tokenizer: &Tokenizer,
    name: &str,
    templates: &[&str],
    device: &Device,
) -> Result<Vec<f32>> {
    let texts: Vec<String> = templates.iter().map(|t| t.replace("{}", name)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let context = clip.config().context_length;
    let rows = tokenizer.tokenize_ids(&refs, context, false)?;
    // The text tower is causal and pools at the end token, so the padding after the longest
    // prompt's end token cannot change any feature: run only up to there (templates are ~10
    // tokens of the 77).
    let eot = tokenizer.eot();
    let len = rows
        .iter()
        .map(|r| r.iter().position(|&t| t == eot).map_or(context, |p| p + 1))
        .max()
        .unwrap_or(context);
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| r[..len].iter().map(|&t| i64::from(t)))
        .collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows.len(), len]), device);
    let e = l2_normalize(clip.encode_text(tokens));
    let d = e.dims()[1];
    let v = host(e.mean_dim(0).reshape([1, d]))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "CLIP gave a non-finite embedding for `{name}`"
        )));
    }
    let norm = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    Ok(v.iter().map(|&x| (x as f64 / norm) as f32).collect())
}
