//! Optimisation-based inversion: rosinality's `projector.py`.
//!
//! Find the latent `w` (W `[N, D]` or W+ `[N, n_latent, D]`) and the noise maps `n_j` whose image
//! is the target `x` `[N, 3, R, R]`, `R = min(size, 256)`:
//!
//! ```text
//! t      = i / steps
//! lr_i   = lr · get_lr(t)                                   0 at i = 0 (official ramp)
//! σ_i    = σ_w · noise · max(0, 1 − t / noise_ramp)²        σ_w: RMS norm of w − w̄ (a scalar)
//! w_n    = w + σ_i · ε_i,  ε_i ~ N(0, 1)                    latent noise, fresh every step
//! x̂      = G(w_n, n), mean-pooled to R when size > R
//! L      = Σ_N LPIPS(x̂, x) + λ_noise · Σ_j reg(n_j) + λ_MSE · mean (x̂ − x)²
//! reg(n) = Σ over scales (n, n↓2, …, down to 8 px) of mean(n · roll_x n)² + mean(n · roll_y n)²
//! (w, n) ← Adam(L);  n_j ← (n_j − mean n_j) / std n_j       (unbiased std, batch included)
//! ```
//!
//! started at the mean latent `w̄` of 10 000 mapped z, with fresh `N(0, 1)` noise maps, Adam
//! (β 0.9/0.999, ε 1e-8) over the latent **and every noise map**.
//!
//! Every random draw of the official loop can come from outside
//! ([`Projector::with_latent_stats`], [`Projector::with_noises`],
//! [`Projector::with_latent_noise_draws`], or strength 0 with [`Projector::with_latent_noise`]),
//! so a run can be replayed step for step against the official code; the rest are drawn from
//! [`Projector::with_seed`].
//!
//! Official quirks, kept:
//! - `--lr_rampup` and `--lr_rampdown` are parsed but never used: the ramp is always 0.05 up,
//!   0.25 down, and step 0 runs with learning rate 0 (Adam's moments still move).
//! - `latent_std` is one scalar, `sqrt(Σ_{n,c} (w − w̄)² / 10 000)`: about `√D` times the
//!   per-coordinate spread.
//! - The noise regulariser's means include the batch.
//! - The official PNG shows the latent of the last multiple of 100 steps (`latent_path[-1]`,
//!   an `IndexError` under 100 steps) while the saved latent is the final one.
//!   [`Projection::image`] is the final latent's image; [`Projection::latent_path`] holds the
//!   latents every [`Projector::with_record_every`] steps for the official one.
//!
//! Deviation, by design: LPIPS is optional ([`Perceptual`]). Without it ([`PixelOnly`]: no VGG
//! weights, as in the toy world or on an offline machine) the loss is the pixel MSE alone,
//! weighted by [`Projector::with_mse`] or 1 when that is 0, and [`Projection::perceptual`] says
//! so.
//!
//! The generator (and the perceptual network) must live on an autodiff device, frozen with
//! `.no_grad()`.

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::edit::optim::{Adam, Moments};
use crate::edit::optimization::{ObserverResult, get_lr};
use crate::error::{Error, Result};
use crate::stylegan2::{Generator, NoiseMode};

/// The largest side the official projector compares at: larger generators' images are
/// mean-pooled down to it.
pub const MAX_COMPARE: usize = 256;

/// A perceptual distance between images, differentiable in its first argument (LPIPS), or
/// none ([`PixelOnly`], `Option::None`): what [`Projector::run`] compares images with besides
/// the pixel MSE.
pub trait Perceptual {
    /// The distance of each pair.
    ///
    /// # Shapes
    /// `a`, `b`: `[N, 3, H, W]` in `[-1, 1]` → `[N]`
    ///
    /// # Errors
    /// The two batches do not fit the network.
    fn distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Tensor<1>>;

    /// Whether there is a distance at all ([`PixelOnly`] and `None` say no).
    fn enabled(&self) -> bool {
        true
    }
}

/// No perceptual network: the projector runs on the pixel MSE alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct PixelOnly;

impl Perceptual for PixelOnly {
    fn distance(&self, a: Tensor<4>, _b: Tensor<4>) -> Result<Tensor<1>> {
        Ok(Tensor::zeros([a.dims()[0]], &a.device()))
    }
    fn enabled(&self) -> bool {
        false
    }
}

impl<P: Perceptual> Perceptual for Option<P> {
    fn distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Tensor<1>> {
        match self {
            Some(p) => p.distance(a, b),
            None => PixelOnly.distance(a, b),
        }
    }
    fn enabled(&self) -> bool {
        self.as_ref().is_some_and(Perceptual::enabled)
    }
}

impl<P: Perceptual + ?Sized> Perceptual for &P {
    fn distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Tensor<1>> {
        (**self).distance(a, b)
    }
    fn enabled(&self) -> bool {
        (**self).enabled()
    }
}

/// LPIPS as the projector's perceptual distance ([`crate::lpips::Lpips::try_distance`]).
impl Perceptual for crate::lpips::Lpips {
    fn distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Tensor<1>> {
        self.try_distance(a, b)
    }
}

/// The projector: the official settings ([`Projector::new`]), each with a `with_*`, and the
/// random draws, drawn from [`Projector::with_seed`] unless given.
#[derive(Debug, Clone)]
pub struct Projector {
    steps: usize,
    lr: f64,
    noise: f64,
    noise_ramp: f64,
    noise_regularize: f64,
    mse: f64,
    w_plus: bool,
    optimize_noise: bool,
    record_every: usize,
    seed: u64,
    latent_stats: Option<(Tensor<1>, f64)>,
    noises: Option<Vec<Tensor<4>>>,
    latent_noise_draws: Option<Vec<Tensor<3>>>,
    start: Start,
}

impl Default for Projector {
    fn default() -> Self {
        Self::new()
    }
}

impl Projector {
    /// The official defaults: 1000 steps, lr 0.1, latent noise 0.05 ramped down over 0.75 of
    /// the run, noise regulariser 1e5, MSE weight 0, W (not W+), noise maps optimised, the
    /// latent kept every 100 steps, the mean latent as the start, draws from seed 0.
    pub fn new() -> Self {
        Self {
            steps: 1000,
            lr: 0.1,
            noise: 0.05,
            noise_ramp: 0.75,
            noise_regularize: 1e5,
            mse: 0.0,
            w_plus: false,
            optimize_noise: true,
            record_every: 100,
            seed: 0,
            latent_stats: None,
            noises: None,
            latent_noise_draws: None,
            start: Start::Mean,
        }
    }
    /// Optimiser steps.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }
    /// Peak learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Latent-noise strength relative to `σ_w` (official 0.05; 0: none).
    pub fn with_latent_noise(mut self, strength: f64) -> Self {
        self.noise = strength;
        self
    }
    /// Fraction of the run over which the latent noise ramps down (official 0.75).
    pub fn with_noise_ramp(mut self, ramp: f64) -> Self {
        self.noise_ramp = ramp;
        self
    }
    /// Weight of the noise regulariser (official 1e5).
    pub fn with_noise_regularize(mut self, weight: f64) -> Self {
        self.noise_regularize = weight;
        self
    }
    /// Weight of the pixel MSE (official 0; with no perceptual distance 0 means 1).
    pub fn with_mse(mut self, weight: f64) -> Self {
        self.mse = weight;
        self
    }
    /// Optimise W+ (one row per layer) instead of W.
    pub fn with_w_plus(mut self, w_plus: bool) -> Self {
        self.w_plus = w_plus;
        self
    }
    /// Optimise the noise maps with the latent (official: always). Off, the initial maps stay
    /// as drawn and the regulariser is not computed.
    pub fn with_optimize_noise(mut self, on: bool) -> Self {
        self.optimize_noise = on;
        self
    }
    /// Keep the latent every this many steps in [`Projection::latent_path`] (official 100).
    pub fn with_record_every(mut self, every: usize) -> Self {
        self.record_every = every;
        self
    }
    /// The seed of every draw not given: latent statistics of 10 000 z from `seed`, noise maps
    /// from `seed + 1 + j`, latent noise from `seed + 1 000 003` (this crate's numbers, not
    /// `torch.randn`'s).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// The latent mean `w̄` `[D]` and scalar spread `σ_w` (official: of 10 000 mapped z; see
    /// [`latent_stats`]).
    pub fn with_latent_stats(mut self, mean: Tensor<1>, std: f64) -> Self {
        self.latent_stats = Some((mean, std));
        self
    }
    /// The initial noise maps, one per noise input `j` in the generator's order,
    /// `[N, 1, r_j, r_j]`.
    pub fn with_noises(mut self, noises: Vec<Tensor<4>>) -> Self {
        self.noises = Some(noises);
        self
    }
    /// The per-step standard-normal latent noise `ε_i`, one tensor per step shaped like the
    /// latent (`[N, 1, D]` in W, `[N, n_latent, D]` in W+), scaled by `σ_i` here.
    pub fn with_latent_noise_draws(mut self, draws: Vec<Tensor<3>>) -> Self {
        self.latent_noise_draws = Some(draws);
        self
    }
    /// Where the latent starts (official: the mean latent).
    pub fn with_start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }
    /// Steps of a run.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// The per-step latent noise `ε_i`.
#[derive(Debug, Clone)]
enum LatentNoise {
    /// Standard normal, drawn from this seed (this crate's numbers, not `torch.randn`'s).
    Seeded(u64),
    /// Given standard-normal draws, one per step, each shaped like the latent (`[N, 1, D]` in
    /// W mode, `[N, n_latent, D]` in W+); they are scaled by `σ_i` here.
    Given(Vec<Tensor<3>>),
    /// None (the strength-0 run).
    Off,
}

/// Every random draw of a run, given or drawn from the seed.
#[derive(Debug, Clone)]
struct Draws {
    /// `w̄` `[D]`: the start latent and the centre of the latent statistics.
    latent_mean: Tensor<1>,
    /// `σ_w`, the scalar spread of mapped latents (see [`latent_stats`]).
    latent_std: f64,
    /// Initial noise maps, one per noise input `j`, `[N, 1, r_j, r_j]`.
    noises: Vec<Tensor<4>>,
    /// The per-step latent noise.
    latent_noise: LatentNoise,
}

/// `N(0, 1)` noise maps for a batch of `batch`, one per noise input `j` of `g`, drawn from
/// `seed + 1 + j`.
fn seeded_noises(g: &Generator, batch: usize, seed: u64) -> Vec<Tensor<4>> {
    let cfg = g.config();
    let device = g.device();
    (0..cfg.num_noises())
        .map(|j| {
            let r = cfg.noise_size(j);
            let data = crate::stylegan2::normal(batch * r * r, seed.wrapping_add(1 + j as u64));
            Tensor::from_data(TensorData::new(data, [batch, 1, r, r]), &device)
        })
        .collect()
}

/// The official latent statistics of mapped `z` `[M, D]`: the mean `w̄` `[D]` and the scalar
/// `σ_w = sqrt(Σ_{m,c} (w_mc − w̄_c)² / M)`.
///
/// # Panics
/// If `z` is not `[M, style_dim]` (as [`Generator::mapping`]).
pub fn latent_stats(g: &Generator, z: Tensor<2>) -> (Tensor<1>, f64) {
    let [m, d] = z.dims();
    let w = g.mapping(z);
    let mean = w.clone().mean_dim(0);
    let var = (w - mean.clone()).powi_scalar(2).sum().into_scalar::<f32>() as f64 / m as f64;
    (mean.reshape([d]), var.sqrt())
}

/// The official noise regulariser: for each map, at its size and every halving down to 8 px,
/// `mean(n · roll(n, 1, x))² + mean(n · roll(n, 1, y))²`, means over the whole `[N, 1, r, r]`
/// tensor. Returns `[1]`.
///
/// # Panics
/// If a map is not `[N, 1, r, r]` with `r` a power of two (the halving reshape).
pub fn noise_regularize(noises: &[Tensor<4>]) -> Tensor<1> {
    let mut loss: Option<Tensor<1>> = None;
    for noise in noises {
        let mut x = noise.clone();
        let mut size = x.dims()[2];
        loop {
            let term = (x.clone() * roll1(x.clone(), 3)).mean().powi_scalar(2)
                + (x.clone() * roll1(x.clone(), 2)).mean().powi_scalar(2);
            loss = Some(match loss {
                Some(l) => l + term,
                None => term,
            });
            if size <= 8 {
                break;
            }
            let n = x.dims()[0];
            x = x
                .reshape([n, 1, size / 2, 2, size / 2, 2])
                .mean_dim(5)
                .mean_dim(3)
                .reshape([n, 1, size / 2, size / 2]);
            size /= 2;
        }
    }
    loss.unwrap_or_else(|| Tensor::zeros([1], &Default::default()))
}

/// `torch.roll(x, 1, dim)`: the last slice along `dim` moves to the front.
fn roll1(x: Tensor<4>, dim: usize) -> Tensor<4> {
    let n = x.dims()[dim];
    if n < 2 {
        return x;
    }
    Tensor::cat(
        vec![x.clone().narrow(dim, n - 1, 1), x.narrow(dim, 0, n - 1)],
        dim,
    )
}

/// The official `noise_normalize_`: `(n − mean n) / std n` over the whole tensor, with the
/// unbiased standard deviation.
pub fn noise_normalize(noise: Tensor<4>) -> Tensor<4> {
    let count = noise.dims().iter().product::<usize>();
    let centred = noise.clone() - noise.mean().reshape([1, 1, 1, 1]);
    let var = centred
        .clone()
        .powi_scalar(2)
        .sum()
        .div_scalar((count.max(2) - 1) as f64);
    centred / var.sqrt().reshape([1, 1, 1, 1])
}

/// Where the latent starts.
#[derive(Debug, Clone, Default)]
pub enum Start {
    /// The mean latent `w̄` (official): [`Projector::with_latent_stats`]'s, else that of 10 000
    /// mapped z.
    #[default]
    Mean,
    /// A given W `[N, D]` (W mode only).
    W(Tensor<2>),
    /// A given W+ `[N, n_latent, D]`, for example an encoder's output (W+ mode only).
    WPlus(Tensor<3>),
}

/// One step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectorStep {
    /// Step index, from 0.
    pub step: usize,
    /// Learning rate of this step's update.
    pub lr: f64,
    /// `σ_i`, the latent-noise strength of this step.
    pub noise_strength: f64,
    /// `Σ_N` perceptual (LPIPS) distance (`None` without a perceptual network).
    pub lpips: Option<f64>,
    /// Pixel MSE (always measured; weighted into the loss by the effective MSE weight).
    pub mse: f64,
    /// The noise regulariser before its weight (0 when noise maps are not optimised).
    pub noise_reg: f64,
    /// The weighted total.
    pub total: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Projection {
    /// The final W+ latent `[N, n_latent, D]` (in W mode, W repeated over the rows).
    pub latent: Tensor<3>,
    /// The final noise maps.
    pub noises: Vec<Tensor<4>>,
    /// `G(latent, noises)` at the generator's full size, unclamped.
    pub image: Tensor<4>,
    /// The latent (W+ layout) after every [`Projector::with_record_every`] steps.
    pub latent_path: Vec<Tensor<3>>,
    /// Every step's numbers.
    pub history: Vec<ProjectorStep>,
    /// Whether a perceptual distance was part of the loss; `false`: pixel MSE alone.
    pub perceptual: bool,
}

impl Projector {
    fn check(&self) -> Result<()> {
        let finite = [self.lr, self.noise, self.noise_regularize, self.mse];
        if self.steps == 0
            || finite.iter().any(|v| !v.is_finite() || *v < 0.0)
            || self.lr == 0.0
            || !(self.noise_ramp > 0.0 && self.noise_ramp.is_finite())
        {
            return Err(Error::InvalidArgument(format!(
                "the projector needs steps ≥ 1, lr > 0, noise_ramp > 0 and finite weights ≥ 0, \
                 got {self:?}"
            )));
        }
        Ok(())
    }

    /// The weight of the pixel MSE actually used: [`Projector::with_mse`]'s, or 1 when that
    /// is 0 and there is no perceptual distance.
    pub fn mse_weight(&self, perceptual: bool) -> f64 {
        if !perceptual && self.mse == 0.0 {
            1.0
        } else {
            self.mse
        }
    }

    /// Project `image` into `generator`, comparing with `perceptual` (an
    /// [`Lpips`](crate::lpips::Lpips), [`PixelOnly`], or an `Option` of either) plus the
    /// weighted pixel MSE. `observer` sees every step and may stop the run early (return
    /// `ControlFlow::Break(())`).
    ///
    /// # Shapes
    /// `image`: `[N, 3, R, R]` in `[-1, 1]` with `R = min(size, 256)` (the official
    /// comparison size), or `[N, 3, size, size]`, mean-pooled to `R` here.
    ///
    /// # Errors
    /// A non-autodiff device, an image or start of the wrong shape, given draws that do not
    /// fit (noise maps, latent statistics, latent noise shorter than the run), bad settings, or
    /// a non-finite loss (naming the step).
    pub fn run<R: ObserverResult>(
        &self,
        generator: &Generator,
        perceptual: &(impl Perceptual + ?Sized),
        image: Tensor<4>,
        mut observer: impl FnMut(&ProjectorStep) -> R,
    ) -> Result<Projection> {
        self.check()?;
        let device = generator.device();
        if !device.is_autodiff() {
            return Err(Error::InvalidArgument(
                "the projector needs the generator on an autodiff device (Device::autodiff())"
                    .into(),
            ));
        }
        let cfg = generator.config().clone();
        let (size, d, rows_all) = (cfg.size, cfg.style_dim, cfg.n_latent());
        let compare = size.min(MAX_COMPARE);
        let [n, c, h, w] = image.dims();
        if n == 0 || c != 3 || h != w || (h != compare && h != size) {
            return Err(Error::InvalidArgument(format!(
                "the projector's image must be [N, 3, {compare}, {compare}] or [N, 3, {size}, \
                 {size}] with N ≥ 1 for a {size}-px generator, got [{n}, {c}, {h}, {w}]"
            )));
        }
        let target = pool_to(image, compare);
        let rows = if self.w_plus { rows_all } else { 1 };
        let latent_shape = [n, rows, d];
        let draws = self.draws(generator, n);
        self.check_draws(&draws, &cfg, n, latent_shape)?;
        let start = self.start.clone();
        let enabled = perceptual.enabled();
        let target = target.to_device(&device).detach();

        // The optimised tensors, kept off the autodiff graph between steps.
        let mut latent = match start {
            Start::Mean => draws
                .latent_mean
                .clone()
                .reshape([1, 1, d])
                .repeat_dim(0, n)
                .repeat_dim(1, rows),
            Start::W(w0) if !self.w_plus && w0.dims() == [n, d] => w0.reshape([n, 1, d]),
            Start::WPlus(w0) if self.w_plus && w0.dims() == [n, rows_all, d] => w0,
            Start::W(w0) => return Err(start_error("W", &w0.dims(), self.w_plus, n, rows, d)),
            Start::WPlus(w0) => {
                return Err(start_error("W+", &w0.dims(), self.w_plus, n, rows, d));
            }
        }
        .to_device(&device)
        .detach()
        .inner();
        let mut noises: Vec<Tensor<4>> = draws
            .noises
            .iter()
            .map(|t| t.clone().to_device(&device).detach().inner())
            .collect();

        let adam = Adam::default();
        let flat = |t: &Tensor<4>| -> Tensor<2> {
            let [b, c, h, w] = t.dims();
            t.clone().reshape([b, c * h * w])
        };
        let mut latent_m = Moments::new(&latent.clone().reshape([n, rows * d]), false);
        let mut noise_m: Vec<Moments> = noises
            .iter()
            .map(|t| Moments::new(&flat(t), false))
            .collect();
        let mut rng = match &draws.latent_noise {
            LatentNoise::Seeded(seed) => Some(StdRng::seed_from_u64(*seed)),
            _ => None,
        };
        let mse_weight = self.mse_weight(enabled);
        let mut history = Vec::with_capacity(self.steps);
        let mut latent_path = Vec::new();
        let expand = |l: Tensor<3>| {
            if rows == 1 {
                l.repeat_dim(1, rows_all)
            } else {
                l
            }
        };

        for step in 0..self.steps {
            let t = step as f64 / self.steps as f64;
            let lr = get_lr(t, self.lr, 0.25, 0.05);
            let strength =
                draws.latent_std * self.noise * (1.0 - t / self.noise_ramp).max(0.0).powi(2);
            let latent_var = Tensor::<3>::from_inner(latent.clone()).require_grad();
            let noise_vars: Vec<Tensor<4>> = noises
                .iter()
                .map(|t| {
                    let v = Tensor::from_inner(t.clone());
                    if self.optimize_noise {
                        v.require_grad()
                    } else {
                        v
                    }
                })
                .collect();
            let eps = match (&draws.latent_noise, rng.as_mut()) {
                (LatentNoise::Given(v), _) => Some(v[step].clone().to_device(&device)),
                (LatentNoise::Seeded(_), Some(rng)) => {
                    let count = n * rows * d;
                    let data: Vec<f32> = (0..count).map(|_| StandardNormal.sample(rng)).collect();
                    Some(Tensor::from_data(
                        TensorData::new(data, latent_shape),
                        &device,
                    ))
                }
                _ => None,
            };
            let latent_n = match eps {
                Some(e) => latent_var.clone() + e.mul_scalar(strength),
                None => latent_var.clone(),
            };
            let image = generator.synthesis(expand(latent_n), NoiseMode::Given(noise_vars.clone()));
            let image = pool_to(image, compare);

            let mse = (image.clone() - target.clone()).powi_scalar(2).mean();
            let mut total = mse.clone().mul_scalar(mse_weight);
            let mut perceptual_value = None;
            if enabled {
                let dist = perceptual.distance(image, target.clone())?.sum();
                perceptual_value = Some(dist.clone());
                total = total + dist;
            }
            let mut reg_value = None;
            if self.optimize_noise {
                let reg = noise_regularize(&noise_vars);
                reg_value = Some(reg.clone());
                total = total + reg.mul_scalar(self.noise_regularize);
            }
            let scalar = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
            let record = ProjectorStep {
                step,
                lr,
                noise_strength: strength,
                lpips: perceptual_value.map(scalar),
                mse: scalar(mse),
                noise_reg: reg_value.map(scalar).unwrap_or(0.0),
                total: scalar(total.clone()),
            };
            if !record.total.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "the projector's loss is {} at step {step} (perceptual {:?}, mse {}, \
                     noise regulariser {})",
                    record.total, record.lpips, record.mse, record.noise_reg
                )));
            }
            let grads = total.backward();
            let g = latent_var
                .grad(&grads)
                .ok_or_else(|| Error::InvalidArgument("no gradient reached the latent".into()))?;
            latent = adam
                .step(
                    latent.reshape([n, rows * d]),
                    g.reshape([n, rows * d]),
                    &mut latent_m,
                    lr,
                )
                .reshape(latent_shape);
            if self.optimize_noise {
                for ((p, v), m) in noises.iter_mut().zip(&noise_vars).zip(noise_m.iter_mut()) {
                    let dims = p.dims();
                    // A noise input the generator ignores (zero strength) still gets a zero
                    // gradient from the regulariser; none at all means it is unused.
                    let g = v.grad(&grads).unwrap_or_else(|| p.zeros_like());
                    let next = adam.step(flat(p), flat(&g), m, lr).reshape(dims);
                    *p = noise_normalize(next);
                }
            }
            if (step + 1) % self.record_every.max(1) == 0 {
                latent_path.push(expand(Tensor::from_inner(latent.clone())));
            }
            history.push(record);
            if observer(history.last().expect("pushed")).stop() {
                break;
            }
        }
        let latent = expand(Tensor::from_inner(latent));
        let noises: Vec<Tensor<4>> = noises.into_iter().map(Tensor::from_inner).collect();
        let image = generator
            .synthesis(latent.clone(), NoiseMode::Given(noises.clone()))
            .detach();
        Ok(Projection {
            latent,
            noises,
            image,
            latent_path,
            history,
            perceptual: enabled,
        })
    }

    /// The draws of a run on `n` images: the given ones, the rest from the seed.
    fn draws(&self, g: &Generator, n: usize) -> Draws {
        let (latent_mean, latent_std) = match &self.latent_stats {
            Some((m, s)) => (m.clone(), *s),
            None => latent_stats(g, g.sample_z(10_000, self.seed)),
        };
        let noises = match &self.noises {
            Some(v) => v.clone(),
            None => seeded_noises(g, n, self.seed),
        };
        let latent_noise = match &self.latent_noise_draws {
            Some(v) => LatentNoise::Given(v.clone()),
            None if self.noise == 0.0 => LatentNoise::Off,
            None => LatentNoise::Seeded(self.seed.wrapping_add(1_000_003)),
        };
        Draws {
            latent_mean,
            latent_std,
            noises,
            latent_noise,
        }
    }

    fn check_draws(
        &self,
        draws: &Draws,
        cfg: &crate::stylegan2::GeneratorConfig,
        n: usize,
        latent_shape: [usize; 3],
    ) -> Result<()> {
        let d = cfg.style_dim;
        if draws.latent_mean.dims() != [d] || !(draws.latent_std.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "the projector's latent mean must be [{d}] and its spread finite, got {:?} and {}",
                draws.latent_mean.dims(),
                draws.latent_std
            )));
        }
        if draws.noises.len() != cfg.num_noises() {
            return Err(Error::InvalidArgument(format!(
                "the projector needs {} noise maps, got {}",
                cfg.num_noises(),
                draws.noises.len()
            )));
        }
        for (j, t) in draws.noises.iter().enumerate() {
            let r = cfg.noise_size(j);
            if t.dims() != [n, 1, r, r] {
                return Err(Error::InvalidArgument(format!(
                    "noise map {j} must be [{n}, 1, {r}, {r}], got {:?}",
                    t.dims()
                )));
            }
        }
        if let LatentNoise::Given(v) = &draws.latent_noise {
            if v.len() < self.steps {
                return Err(Error::InvalidArgument(format!(
                    "given latent noise covers {} steps of {}",
                    v.len(),
                    self.steps
                )));
            }
            if let Some(bad) = v.iter().position(|t| t.dims() != latent_shape) {
                return Err(Error::InvalidArgument(format!(
                    "given latent noise of step {bad} must be {latent_shape:?}, got {:?}",
                    v[bad].dims()
                )));
            }
        }
        Ok(())
    }
}

fn start_error(kind: &str, dims: &[usize], w_plus: bool, n: usize, rows: usize, d: usize) -> Error {
    let space = if w_plus { "W+" } else { "W" };
    let want = if w_plus {
        format!("Start::WPlus([{n}, {rows}, {d}])")
    } else {
        format!("Start::W([{n}, {d}])")
    };
    Error::InvalidArgument(format!(
        "a {kind} start {dims:?} does not fit a projection in {space}: expected {want}"
    ))
}

/// Mean-pool `[N, C, S, S]` to `[N, C, R, R]` by the integer factor `S / R` (the official
/// `reshape(…, S/f, f, S/f, f).mean([3, 5])`); unchanged when `S = R`. This is how the
/// projector compares a generator's image larger than 256 px with its target.
///
/// # Panics
/// If `R` does not divide `S` (the reshape).
pub fn pool_to(x: Tensor<4>, r: usize) -> Tensor<4> {
    let [n, c, s, _] = x.dims();
    if s == r {
        return x;
    }
    let f = s / r;
    x.reshape([n, c, r, f, r, f])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([n, c, r, r])
}
