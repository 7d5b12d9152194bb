//! The optimisers of the official code, written out per tensor so their numbers match PyTorch's:
//!
//! - [`Adam`]: `torch.optim.Adam` (β 0.9/0.999, ε 1e-8; burn's own Adam defaults to ε 1e-5),
//!   used by latent optimisation and, optionally, by mapper training.
//! - [`Ranger`]: StyleCLIP's `mapper/training/ranger.py` (version 20.4.11), the mapper's default:
//!   RAdam + Lookahead (α 0.5, k 6) + gradient centralisation, β 0.95/0.999, ε 1e-5,
//!   N_sma threshold 5.
//!
//! Every scalar (bias corrections, RAdam's rectification) is computed in f64, as Python does,
//! and applied to f32 tensors. State lives in [`Moments`], one per parameter tensor, viewed as
//! 2-D `[rows, rest]` so one type serves every rank; it can be saved and restored by name
//! (`exp_avg`, `exp_avg_sq`, `slow_buffer`) to resume training.

use burn::prelude::*;

use crate::error::{Error, Result};

/// Which optimiser trains a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// StyleCLIP's Ranger (the mapper's official default).
    #[default]
    Ranger,
    /// PyTorch's Adam.
    Adam,
}

impl OptimizerKind {
    /// The official option value (`--optim_name`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ranger => "ranger",
            Self::Adam => "adam",
        }
    }

    /// Parse the official option value.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "ranger" => Ok(Self::Ranger),
            "adam" => Ok(Self::Adam),
            other => Err(Error::InvalidArgument(format!(
                "unknown optimiser `{other}` (expected `ranger` or `adam`)"
            ))),
        }
    }
}

/// One parameter tensor's optimiser state, on the parameter's device (without autodiff).
#[derive(Debug, Clone)]
pub struct Moments {
    /// First moment.
    pub exp_avg: Tensor<2>,
    /// Second moment.
    pub exp_avg_sq: Tensor<2>,
    /// Lookahead's slow weights (Ranger only).
    pub slow_buffer: Option<Tensor<2>>,
    /// Steps taken.
    pub step: u64,
}

impl Moments {
    /// Fresh state for `param` (`slow` copies it, for Ranger).
    pub fn new(param: &Tensor<2>, slow: bool) -> Self {
        Self {
            exp_avg: param.zeros_like(),
            exp_avg_sq: param.zeros_like(),
            slow_buffer: slow.then(|| param.clone()),
            step: 0,
        }
    }
}

/// PyTorch's Adam without weight decay:
/// `p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl Adam {
    /// One step on `param` with gradient `grad`; returns the new value.
    pub fn step(
        &self,
        param: Tensor<2>,
        grad: Tensor<2>,
        state: &mut Moments,
        lr: f64,
    ) -> Tensor<2> {
        state.step += 1;
        let t = state.step as i32;
        state.exp_avg = state.exp_avg.clone().mul_scalar(self.beta1)
            + grad.clone().mul_scalar(1.0 - self.beta1);
        state.exp_avg_sq = state.exp_avg_sq.clone().mul_scalar(self.beta2)
            + grad.powi_scalar(2).mul_scalar(1.0 - self.beta2);
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        let denom = state
            .exp_avg_sq
            .clone()
            .sqrt()
            .div_scalar(bc2.sqrt())
            .add_scalar(self.eps);
        param - (state.exp_avg.clone() / denom).mul_scalar(lr / bc1)
    }
}

/// StyleCLIP's Ranger: RAdam with Lookahead and gradient centralisation.
///
/// Per step `t` (grad `g`, centralised over all axes but the first when the tensor has more
/// than one axis):
/// ```text
/// v ← β₂v + (1−β₂)g²,  m ← β₁m + (1−β₁)g
/// N_max = 2/(1−β₂) − 1,  N_t = N_max − 2tβ₂ᵗ/(1−β₂ᵗ)
/// N_t > 5:  p ← p − lr · √((1−β₂ᵗ)(N_t−4)(N_t−2)N_max / ((N_max−4)N_t(N_max−2))) / (1−β₁ᵗ) · m/(√v+ε)
/// else:     p ← p − lr / (1−β₁ᵗ) · m
/// t mod k = 0:  slow ← slow + α(p − slow),  p ← slow
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranger {
    /// Lookahead interpolation α.
    pub alpha: f64,
    /// Lookahead period k.
    pub k: u64,
    /// RAdam's variance-rectification threshold.
    pub n_sma_threshold: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Gradient centralisation.
    pub use_gc: bool,
}

impl Default for Ranger {
    fn default() -> Self {
        Self {
            alpha: 0.5,
            k: 6,
            n_sma_threshold: 5.0,
            beta1: 0.95,
            beta2: 0.999,
            eps: 1e-5,
            use_gc: true,
        }
    }
}

impl Ranger {
    /// One step on `param` (`[rows, rest]`; `centralize` when the original tensor has more than
    /// one axis) with gradient `grad`; returns the new value.
    pub fn step(
        &self,
        param: Tensor<2>,
        grad: Tensor<2>,
        centralize: bool,
        state: &mut Moments,
        lr: f64,
    ) -> Tensor<2> {
        let grad = if self.use_gc && centralize {
            let mean = grad.clone().mean_dim(1);
            grad - mean
        } else {
            grad
        };
        state.step += 1;
        let t = state.step;
        state.exp_avg_sq = state.exp_avg_sq.clone().mul_scalar(self.beta2)
            + grad.clone().powi_scalar(2).mul_scalar(1.0 - self.beta2);
        state.exp_avg =
            state.exp_avg.clone().mul_scalar(self.beta1) + grad.mul_scalar(1.0 - self.beta1);

        let beta2_t = self.beta2.powi(t as i32);
        let n_sma_max = 2.0 / (1.0 - self.beta2) - 1.0;
        let n_sma = n_sma_max - 2.0 * t as f64 * beta2_t / (1.0 - beta2_t);
        let bc1 = 1.0 - self.beta1.powi(t as i32);
        let param = if n_sma > self.n_sma_threshold {
            let step_size = ((1.0 - beta2_t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0)
                / n_sma
                * n_sma_max
                / (n_sma_max - 2.0))
                .sqrt()
                / bc1;
            let denom = state.exp_avg_sq.clone().sqrt().add_scalar(self.eps);
            param - (state.exp_avg.clone() / denom).mul_scalar(step_size * lr)
        } else {
            param - state.exp_avg.clone().mul_scalar(lr / bc1)
        };
        if t.is_multiple_of(self.k) {
            let slow = state.slow_buffer.get_or_insert_with(|| param.clone());
            let new_slow = slow.clone() + (param - slow.clone()).mul_scalar(self.alpha);
            *slow = new_slow.clone();
            new_slow
        } else {
            param
        }
    }
}

/// An optimiser of either kind with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// PyTorch's Adam.
    Adam(Adam),
    /// StyleCLIP's Ranger.
    Ranger(Ranger),
}

impl Optimizer {
    /// The official settings of `kind`.
    pub fn official(kind: OptimizerKind) -> Self {
        match kind {
            OptimizerKind::Adam => Self::Adam(Adam::default()),
            OptimizerKind::Ranger => Self::Ranger(Ranger::default()),
        }
    }

    /// Fresh state for `param`.
    pub fn init(&self, param: &Tensor<2>) -> Moments {
        Moments::new(param, matches!(self, Self::Ranger(_)))
    }

    /// One step (see [`Ranger::step`] for `centralize`).
    pub fn step(
        &self,
        param: Tensor<2>,
        grad: Tensor<2>,
        centralize: bool,
        state: &mut Moments,
        lr: f64,
    ) -> Tensor<2> {
        match self {
            Self::Adam(a) => a.step(param, grad, state, lr),
            Self::Ranger(r) => r.step(param, grad, centralize, state, lr),
        }
    }
}
