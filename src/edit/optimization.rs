//! Method 1: text-driven latent optimisation (official `optimization/run_optimization.py`).
//!
//! Minimise over a latent `w` (W+, or the StyleSpace vectors without the ToRGB layers):
//!
//! ```text
//! L(w) = (1 − logits(G(w), text) / 100)           CLIP term, as the official code computes it
//!      + λ_L2 · Σ (w − w_s)²                      a sum of squares (edit mode only)
//!      + λ_ID · (1 − ⟨R(G(w_s)), R(G(w))⟩)        ArcFace identity (edit mode, λ_ID > 0)
//! ```
//!
//! with Adam (PyTorch's: β 0.9/0.999, ε 1e-8) and the learning rate set before every step by
//! the official ramp `get_lr(t = step/steps)`, which is 0 at step 0. `logits = exp(logit_scale) ·
//! cos`; with OpenAI's ViT-B/32 `exp(logit_scale) = 100`, so the CLIP term is `1 − cos`.
//! The generator runs with constant noise. The CLIP input is, by default, StyleCLIP's raw
//! ×7-nearest/avg-pool path with no normalisation ([`ClipInput::Raw`]);
//! [`ClipInput::Normalized`] is the correctly normalised alternative (StyleCLIP issue #38).
//!
//! The generator, CLIP and ArcFace must live on an autodiff device (`device.autodiff()`), frozen
//! with `.no_grad()`.

use std::ops::ControlFlow;

use burn::prelude::*;

use crate::arcface::ArcFace;
use crate::clip::Clip;
use crate::clip::model::l2_normalize;
pub use crate::edit::ClipInput;
use crate::edit::optim::{Adam, Moments};
use crate::error::{Error, Result};
use crate::stylegan2::{Generator, LayerKind, NoiseMode, StyleCode};
use crate::tokenizer::Tokenizer;

/// Where the latent lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Space {
    /// W+ `[1, n_latent, style_dim]`.
    #[default]
    WPlus,
    /// StyleSpace: the conv layers' style vectors (ToRGB layers stay fixed).
    StyleSpace,
}

/// Edit an existing latent, or generate freely from the start (CLIP loss only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// CLIP + L2 (+ ID) around the start latent.
    #[default]
    Edit,
    /// CLIP only (the official free generation starts from the mean latent).
    FreeGeneration,
}

/// The text to move towards.
#[derive(Debug, Clone)]
enum Text {
    Prompt(String),
    Tokens(Vec<u32>),
}

/// A latent being optimised.
// One value per run: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Latent {
    /// W+ `[1, n_latent, style_dim]`.
    WPlus(Tensor<3>),
    /// Style vectors, official order.
    Styles(StyleCode),
}

/// One step's numbers, as the observer and the history see them.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Step index, from 0.
    pub step: usize,
    /// Learning rate used for this step's update.
    pub lr: f64,
    /// CLIP term.
    pub clip_loss: f64,
    /// Sum of squared latent differences (0 in free generation).
    pub l2_loss: f64,
    /// ArcFace term (0 when λ_ID is 0).
    pub id_loss: f64,
    /// Weighted total.
    pub total: f64,
}

/// What the observer gets after each step.
pub struct Step<'a> {
    /// This step's numbers.
    pub record: &'a StepRecord,
    /// The latent after the update.
    pub latent: &'a Latent,
}

/// What an observer may return: `()` to go on, or `ControlFlow::Break(())` to stop early.
pub trait ObserverResult {
    /// Whether to stop after this step.
    fn stop(&self) -> bool;
}

impl ObserverResult for () {
    fn stop(&self) -> bool {
        false
    }
}

impl ObserverResult for ControlFlow<()> {
    fn stop(&self) -> bool {
        self.is_break()
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct OptimizationResult {
    /// The final latent.
    pub latent: Latent,
    /// `G(latent)`, `[1, 3, size, size]`.
    pub image: Tensor<4>,
    /// `G(start)`, `[1, 3, size, size]`.
    pub source_image: Tensor<4>,
    /// Every step's numbers.
    pub history: Vec<StepRecord>,
}

/// Latent optimisation with the official defaults; every setting has a `with_*`.
#[derive(Debug, Clone)]
pub struct LatentOptimization {
    text: Text,
    steps: usize,
    lr: f64,
    l2_lambda: f64,
    id_lambda: f64,
    space: Space,
    mode: Mode,
    clip_input: ClipInput,
    rampdown: f64,
    rampup: f64,
}

/// The official cosine learning-rate ramp (`get_lr`): 0 at `t = 0`, linear warm-up over
/// `rampup`, cosine decay over the last `rampdown` of the run.
pub fn get_lr(t: f64, initial_lr: f64, rampdown: f64, rampup: f64) -> f64 {
    let ramp = ((1.0 - t) / rampdown).min(1.0);
    let ramp = 0.5 - 0.5 * (ramp * std::f64::consts::PI).cos();
    initial_lr * ramp * (t / rampup).min(1.0)
}

impl LatentOptimization {
    /// Official defaults: lr 0.1, 300 steps, λ_L2 0.008, λ_ID 0, W+, edit mode, raw CLIP input.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            text: Text::Prompt(prompt.into()),
            steps: 300,
            lr: 0.1,
            l2_lambda: 0.008,
            id_lambda: 0.0,
            space: Space::WPlus,
            mode: Mode::Edit,
            clip_input: ClipInput::Raw,
            rampdown: 0.25,
            rampup: 0.05,
        }
    }

    /// Use these token ids (with start/end tokens, ≤ 77) instead of a prompt.
    pub fn with_tokens(mut self, tokens: Vec<u32>) -> Self {
        self.text = Text::Tokens(tokens);
        self
    }
    /// Number of steps.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }
    /// Peak learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Weight of the latent sum of squares.
    pub fn with_l2_lambda(mut self, l2_lambda: f64) -> Self {
        self.l2_lambda = l2_lambda;
        self
    }
    /// Weight of the ArcFace identity loss (the official notebook uses 0.005).
    pub fn with_id_lambda(mut self, id_lambda: f64) -> Self {
        self.id_lambda = id_lambda;
        self
    }
    /// W+ or StyleSpace.
    pub fn with_space(mut self, space: Space) -> Self {
        self.space = space;
        self
    }
    /// Edit or free generation.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// How images reach CLIP.
    pub fn with_clip_input(mut self, clip_input: ClipInput) -> Self {
        self.clip_input = clip_input;
        self
    }
    /// Learning-rate ramp fractions (official 0.25 down, 0.05 up).
    pub fn with_lr_ramp(mut self, rampdown: f64, rampup: f64) -> Self {
        self.rampdown = rampdown;
        self.rampup = rampup;
        self
    }

    fn tokens(&self, device: &Device) -> Result<Tensor<2, Int>> {
        match &self.text {
            Text::Prompt(p) => Tokenizer::new().tokenize(&[p.as_str()], device),
            Text::Tokens(t) => {
                if t.is_empty() || t.len() > crate::tokenizer::CONTEXT_LENGTH {
                    return Err(Error::InvalidArgument(format!(
                        "{} token ids (1..=77 allowed)",
                        t.len()
                    )));
                }
                let mut row: Vec<i64> = t.iter().map(|&v| v as i64).collect();
                row.resize(crate::tokenizer::CONTEXT_LENGTH, 0);
                Ok(Tensor::from_data(
                    TensorData::new(row, [1, crate::tokenizer::CONTEXT_LENGTH]),
                    device,
                ))
            }
        }
    }

    /// Run from the W+ latent `start` (`[1, n_latent, style_dim]`) on its device.
    ///
    /// # Errors
    /// A non-autodiff device, a latent of the wrong shape, `id_lambda > 0` without ArcFace, a bad
    /// prompt, or a NaN/infinite loss (naming the step).
    pub fn run<R: ObserverResult>(
        &self,
        generator: &Generator,
        clip: &Clip,
        arcface: Option<&ArcFace>,
        start: Tensor<3>,
        mut observer: impl FnMut(&Step) -> R,
    ) -> Result<OptimizationResult> {
        let device = start.device();
        if !device.is_autodiff() {
            return Err(Error::InvalidArgument(
                "latent optimisation needs an autodiff device (Device::autodiff())".into(),
            ));
        }
        let cfg = generator.config();
        let [b, n, d] = start.dims();
        if (b, n, d) != (1, cfg.n_latent(), cfg.style_dim) {
            return Err(Error::InvalidArgument(format!(
                "start latent must be [1, {}, {}], got [{b}, {n}, {d}]",
                cfg.n_latent(),
                cfg.style_dim
            )));
        }
        let use_id = self.mode == Mode::Edit && self.id_lambda > 0.0;
        if use_id && arcface.is_none() {
            return Err(Error::InvalidArgument(
                "id_lambda > 0 needs an ArcFace network".into(),
            ));
        }
        // The text side does not depend on the latent: encode it once (the official loop
        // re-encodes it every step, with the same result).
        let text = l2_normalize(clip.encode_text(self.tokens(&device)?)).detach();
        let start = start.detach();
        let source_image = generator
            .synthesis(start.clone(), NoiseMode::Const)
            .detach();

        // The optimised tensors (W+: one; StyleSpace: one per layer, ToRGB frozen) and their
        // starting values.
        let (init, trainable): (Vec<Tensor<2>>, Vec<bool>) = match self.space {
            Space::WPlus => (vec![start.clone().reshape([n, d])], vec![true]),
            Space::StyleSpace => {
                let s = generator.styles(start.clone());
                let train = s.info().iter().map(|l| l.kind == LayerKind::Conv).collect();
                (
                    s.into_layers().into_iter().map(|t| t.detach()).collect(),
                    train,
                )
            }
        };
        let mut params: Vec<Tensor<2>> = init.iter().map(|t| t.clone().inner()).collect();
        let adam = Adam::default();
        let mut moments: Vec<Moments> = params.iter().map(|p| Moments::new(p, false)).collect();
        let mut history = Vec::with_capacity(self.steps);
        let mut latent = self.latent(generator, &params, n, d)?;

        for step in 0..self.steps {
            let lr = get_lr(
                step as f64 / self.steps as f64,
                self.lr,
                self.rampdown,
                self.rampup,
            );
            let vars: Vec<Tensor<2>> = params
                .iter()
                .zip(&trainable)
                .map(|(p, &t)| {
                    let v = Tensor::from_inner(p.clone());
                    if t { v.require_grad() } else { v }
                })
                .collect();
            let image = match self.space {
                Space::WPlus => {
                    generator.synthesis(vars[0].clone().reshape([1, n, d]), NoiseMode::Const)
                }
                Space::StyleSpace => {
                    let code = generator.style_code(vars.clone())?;
                    generator.synthesis_from_styles(&code, NoiseMode::Const)
                }
            };
            let clip_loss =
                crate::edit::clip_loss(clip, self.clip_input, image.clone(), text.clone())?;
            let (mut total, mut l2_value, mut id_value) = (clip_loss.clone(), 0.0, 0.0);
            if self.mode == Mode::Edit {
                let l2 = vars
                    .iter()
                    .zip(&init)
                    .map(|(v, s)| (v.clone() - s.clone()).powi_scalar(2).sum())
                    .reduce(|a, b| a + b)
                    .expect("at least one latent tensor");
                total = total + l2.clone().mul_scalar(self.l2_lambda);
                l2_value = scalar(l2.clone());
                if let (true, Some(net)) = (use_id, arcface) {
                    let id = net.id_loss(image, source_image.clone());
                    id_value = scalar(id.clone());
                    total = total + id.mul_scalar(self.id_lambda);
                }
            }
            let record = StepRecord {
                step,
                lr,
                clip_loss: scalar(clip_loss),
                l2_loss: l2_value,
                id_loss: id_value,
                total: scalar(total.clone()),
            };
            if !record.total.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "loss is {} at step {step} (clip {}, l2 {}, id {})",
                    record.total, record.clip_loss, record.l2_loss, record.id_loss
                )));
            }
            let grads = total.backward();
            for ((p, v), (m, &t)) in params
                .iter_mut()
                .zip(&vars)
                .zip(moments.iter_mut().zip(&trainable))
            {
                if !t {
                    continue;
                }
                let g = v.grad(&grads).ok_or_else(|| {
                    Error::InvalidArgument("no gradient reached the latent".into())
                })?;
                *p = adam.step(p.clone(), g, m, lr);
            }
            latent = self.latent(generator, &params, n, d)?;
            history.push(record);
            if observer(&Step {
                record: history.last().expect("pushed"),
                latent: &latent,
            })
            .stop()
            {
                break;
            }
        }
        let image = match &latent {
            Latent::WPlus(w) => generator.synthesis(w.clone(), NoiseMode::Const),
            Latent::Styles(s) => generator.synthesis_from_styles(s, NoiseMode::Const),
        }
        .detach();
        Ok(OptimizationResult {
            latent,
            image,
            source_image,
            history,
        })
    }

    fn latent(&self, g: &Generator, params: &[Tensor<2>], n: usize, d: usize) -> Result<Latent> {
        let on = |t: &Tensor<2>| Tensor::from_inner(t.clone());
        Ok(match self.space {
            Space::WPlus => Latent::WPlus(on(&params[0]).reshape([1, n, d])),
            Space::StyleSpace => Latent::Styles(g.style_code(params.iter().map(on).collect())?),
        })
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}
