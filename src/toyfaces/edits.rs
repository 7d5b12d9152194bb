//! The three StyleCLIP methods run on the toy world, and their success and preservation
//! rates as the oracle measures them (the semantic tests and `examples/edit_benchmark.rs`).

use std::time::Instant;

use burn::prelude::*;

use super::score::{prompt_targets, verdict};
use super::world::ToyFaces;
use crate::clip::Clip;
use crate::edit::global_direction::GlobalDirection;
use crate::edit::optimization::LatentOptimization;
use crate::error::{Error, Result};
use crate::stylegan2::{Generator, NoiseMode};

/// A StyleCLIP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// 1: latent optimisation.
    Optimization,
    /// 2: a trained latent mapper.
    Mapper,
    /// 3: a global direction in StyleSpace.
    GlobalDirection,
}

impl Method {
    /// All three, in the paper's order.
    pub const ALL: [Method; 3] = [Self::Optimization, Self::Mapper, Self::GlobalDirection];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Optimization => "optimization",
            Self::Mapper => "mapper",
            Self::GlobalDirection => "global direction",
        }
    }
}

/// Settings of the toy edits (the official values where they carry over).
#[derive(Debug, Clone)]
pub struct EditSettings {
    /// Method 1: Adam steps.
    pub steps: usize,
    /// Method 1: learning rate (official 0.1).
    pub lr: f64,
    /// Method 1: λ_L2 (official 0.008).
    pub l2_lambda: f64,
    /// Method 3: the neutral text.
    pub neutral: String,
    /// Method 3: strength α.
    pub alpha: f32,
    /// Method 3: threshold β.
    pub beta: f64,
}

impl EditSettings {
    /// The official values (method 1: 40 steps for speed, lr 0.1, λ_L2 0.008; method 3:
    /// α 4, β 0.1), the starting point on real checkpoints.
    pub fn official() -> Self {
        Self {
            steps: 40,
            lr: 0.1,
            l2_lambda: 0.008,
            neutral: "a face".into(),
            alpha: 4.0,
            beta: 0.1,
        }
    }
}

/// The toy world's settings: method 1 official but 40 steps; method 3 at α 1.5, β 0.15.
///
/// α and β were chosen on the benchmark's seeds (1000..), never the tests': at the official
/// α 4, β 0.1 the toy generator's StyleSpace, which is far less disentangled than FFHQ's,
/// changed most unnamed attributes (preservation 0–12 % over six prompts); α 1.5, β 0.15 kept
/// the best balance of reaching and keeping measured on a grid of α 1–8, β 0.1–0.35.
impl Default for EditSettings {
    fn default() -> Self {
        Self {
            alpha: 1.5,
            beta: 0.15,
            ..Self::official()
        }
    }
}

/// Success and preservation of one method on one prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Faces edited.
    pub n: usize,
    /// Faces whose source already showed every target value (the oracle's reading).
    pub already: usize,
    /// Of the other `n − already` faces, the fraction whose edit shows every target value
    /// (0 when there are none): an edit is only credited for a change it made.
    pub reached: f64,
    /// Fraction whose other attributes all read as on the source.
    pub kept: f64,
    /// Per attribute (in [`super::score::ATTRIBUTE_NAMES`] order), the fraction of edits
    /// that changed it without the prompt naming it: what broke preservation.
    pub changed: [f64; 6],
    /// Seconds per edit.
    pub seconds_per_edit: f64,
}

impl ToyFaces {
    /// Edit the W+ latents `w` toward `prompt` by `method`: the edited images, or `None` for
    /// the mapper when no mapper of `prompt` is shipped.
    ///
    /// # Shapes
    /// `[B, n_latent, style_dim]` → `[B, 3, 64, 64]`
    pub fn edit(
        &self,
        method: Method,
        prompt: &str,
        w: Tensor<3>,
        settings: &EditSettings,
    ) -> Result<Option<Tensor<4>>> {
        let g = &self.generator;
        Ok(Some(match method {
            Method::Optimization => {
                let ad = self.device().clone().autodiff();
                let g_ad =
                    Generator::load(self.dir().join("generator.safetensors"), &ad)?.no_grad();
                let clip_ad = Clip::load(self.dir().join("clip.safetensors"), &ad)?.no_grad();
                let b = w.dims()[0];
                let mut out = Vec::with_capacity(b);
                for i in 0..b {
                    let start = Tensor::from_data(w.clone().narrow(0, i, 1).into_data(), &ad);
                    let r = LatentOptimization::new(prompt)
                        .with_steps(settings.steps)
                        .with_lr(settings.lr)
                        .with_l2_lambda(settings.l2_lambda)
                        .run(&g_ad, &clip_ad, None, start, |_| ())?;
                    out.push(Tensor::from_data(
                        r.image.inner().into_data(),
                        self.device(),
                    ));
                }
                Tensor::cat(out, 0)
            }
            Method::Mapper => match self.mapper(prompt)? {
                Some(m) => g.synthesis(m.try_edit(w)?, NoiseMode::Const),
                None => return Ok(None),
            },
            Method::GlobalDirection => {
                // The toy CLIP learnt captions, not ImageNet's photo templates.
                let dir = GlobalDirection::from_text_with_templates(
                    &self.clip,
                    &self.tokenizer,
                    &settings.neutral,
                    prompt,
                    &["{}"],
                )?;
                let delta = dir.delta(&self.fs3, &self.stats, settings.beta)?;
                let edited = delta.delta.try_apply(&g.styles(w), settings.alpha)?;
                g.synthesis_from_styles(&edited, NoiseMode::Const)
            }
        }))
    }

    /// Edit the samples `seeds` toward `prompt` by `method` and score every edit with the
    /// oracle against its reading of the source; `None` for the mapper of a prompt without
    /// one.
    pub fn rates(
        &self,
        method: Method,
        prompt: &str,
        seeds: &[u64],
        settings: &EditSettings,
    ) -> Result<Option<Rates>> {
        let targets = prompt_targets(prompt);
        if targets.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "the prompt `{prompt}` names no attribute value of the toy world"
            )));
        }
        let (w, _) = self.sample(seeds)?;
        let source = self.generator.synthesis(w.clone(), NoiseMode::Const);
        let before = self.oracle.classify(source)?;
        let t = Instant::now();
        let Some(edited) = self.edit(method, prompt, w, settings)? else {
            return Ok(None);
        };
        let after = self.oracle.classify(edited)?;
        let seconds = t.elapsed().as_secs_f64();
        let v: Vec<_> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| verdict(b, a, &targets))
            .collect();
        let n = seeds.len();
        let mut changed = [0.0; 6];
        for name in v.iter().flat_map(|v| &v.changed) {
            if let Some(k) = super::score::ATTRIBUTE_NAMES.iter().position(|a| a == name) {
                changed[k] += 1.0 / n as f64;
            }
        }
        // A source that already shows the target "reaches" it unedited.
        let had = |b| verdict(b, b, &targets).reached;
        let already = before.iter().filter(|b| had(b)).count();
        let reached = before
            .iter()
            .zip(&v)
            .filter(|(b, v)| !had(b) && v.reached)
            .count();
        Ok(Some(Rates {
            changed,
            n,
            already,
            reached: reached as f64 / (n - already).max(1) as f64,
            kept: v.iter().filter(|v| v.kept).count() as f64 / n as f64,
            seconds_per_edit: seconds / n as f64,
        }))
    }
}
