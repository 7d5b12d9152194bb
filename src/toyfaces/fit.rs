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
//! # Two stages
//! End to end ([`FitInput::Mapping`]), the synthesis network first sees a mapping output that
//! barely depends on `z` and learns the mean face; measured, 3400 steps reached only 44 %
//! oracle agreement. The fit therefore runs in two cheap stages and an optional third:
//! 1. [`FitInput::FaceCodes`]: the synthesis network learns to draw `w = c(z) · T`, where
//!    `c(z)` is the face's code ([`face_code`]: the one-hot classes) and `T` a fixed
//!    seeded table ([`face_code_table`]); every `w` carries its face from the first step.
//! 2. [`write_face_code_mapping`]: the mapping network is *written*, not learned: its four
//!    layers compute `√2 · (c(z) · T + o)` from `z` (class boundaries as steep ramps), and the
//!    affine map is folded into the modulations, so the pair draws what stage 1 drew.
//!    (Learning it by regression instead was measured: after 6000 steps the W error was still
//!    36 % of the code's variance, a step function being hard for a leaky-ReLU MLP to find.)
//! 3. Optionally the synthesis network trains on through the written mapping
//!    ([`FitInput::FixedMapping`]).
//!
//! W is then factorised by construction (an attribute change is a fixed vector), which is what
//! StyleCLIP's edits look for in W and StyleSpace.
//!
//! Step `s` draws its `z` batch from `(seed, s)` alone, so a run resumed from a checkpoint
//! reproduces the uninterrupted run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::attributes::{
    Attribute, Attributes, CLASS_COUNTS, Face, Glasses, HairColor, Hairstyle, Jitter, Mouth, Skin,
    Style,
};
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

/// What the synthesis network is fed during [`fit_generator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitInput {
    /// `w = mapping(z)`: end to end, every parameter trained.
    Mapping,
    /// `w = face_code(z) · face_code_table(seed)`: the synthesis network only (stage 1).
    FaceCodes,
    /// `w = mapping(z)` with the mapping held fixed (after [`write_face_code_mapping`]): the
    /// synthesis network only (stage 3).
    FixedMapping,
}

/// Width of a face code: one slot per class (6 + 4 + 4 + 3 + 3 + 4).
pub const FACE_CODE_DIMS: usize = 24;

/// The code of the face of latent `z`: the one-hot class of each attribute, in field order.
pub fn face_code(z: &[f32]) -> [f32; FACE_CODE_DIMS] {
    let face = Face::from_latent(z);
    let mut code = [0f32; FACE_CODE_DIMS];
    let mut offset = 0;
    for (&class, n) in face.attributes.indices().iter().zip(CLASS_COUNTS) {
        code[offset + class] = 1.0;
        offset += n;
    }
    code
}

/// The fixed table `T` (`FACE_CODE_DIMS × style_dim`, row-major) that turns a face code into
/// the `w` of stage 1: `N(0, 1 / 7)` entries from `seed` (six one-hot rows add up per face,
/// so `w` has variance 6/7 per coordinate).
pub fn face_code_table(style_dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc0de_7ab1e);
    let s = (1.0f32 / 7.0).sqrt();
    (0..FACE_CODE_DIMS * style_dim)
        .map(|_| {
            let x: f32 = StandardNormal.sample(&mut rng);
            s * x
        })
        .collect()
}

/// `c(z) · T` for every row of `z` (`[B, d]` on the host): `[B, d]`.
fn coded_latents(z: &[f32], d: usize, table: &[f32], device: &Device) -> Tensor<2> {
    let b = z.len() / d.max(1);
    let mut w = vec![0f32; b * d];
    for (row, out) in z.chunks_exact(d).zip(w.chunks_exact_mut(d)) {
        for (c, t) in face_code(row).iter().zip(table.chunks_exact(d)) {
            if *c != 0.0 {
                out.iter_mut().zip(t).for_each(|(o, t)| *o += c * t);
            }
        }
    }
    Tensor::from_data(TensorData::new(w, [b, d]), device)
}

// ------------------------------------------------------------------ the written mapping

/// Gain and negative slope of the mapping layers' fused leaky ReLU.
const GAIN: f32 = std::f32::consts::SQRT_2;
const SLOPE: f32 = 0.2;
/// A class boundary becomes a ramp `1 / STEEPNESS` wide in `ẑ` (0.013: about 8 % of latents
/// have one attribute on some ramp, a blend of two classes). The first layer's stored weight is
/// `STEEPNESS · √64 / lr_mul` = 60 000, just inside f16's range.
const STEEPNESS: f32 = 75.0;
/// Offset that keeps the face code positive between the middle mapping layers.
const CODE_OFFSET: f32 = 2.0;

/// `x` with `normal_cdf(x) = p` (bisection on this crate's own Φ, so the written mapping's
/// boundaries sit where [`Face::from_latent`] puts them).
fn normal_quantile(p: f32) -> f32 {
    let (mut lo, mut hi) = (-8.0f32, 8.0f32);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if super::attributes::normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// First-layer unit: `GAIN · lrelu(gain · (ẑ[coord] − at))`.
struct Knot {
    coord: usize,
    at: f32,
    gain: f32,
}

/// The face code as piecewise-linear functions of `ẑ`, each `const + Σ Δ·relu(ẑ[coord] − at)`
/// over first-layer knots: returns the knots and, per code slot, `(const, [(knot, Δ)])`.
#[allow(clippy::type_complexity)]
fn face_code_pieces() -> (Vec<Knot>, Vec<(f32, Vec<(usize, f32)>)>) {
    let mut knots = Vec::new();
    let mut slots = Vec::new();
    let h = 0.5 / STEEPNESS;
    for (k, &n) in CLASS_COUNTS.iter().enumerate() {
        // Step c (1 ≤ c < n): 0 below boundary c, 1 above, a ramp of width 2h between.
        let mut steps: Vec<[(usize, f32); 2]> = Vec::new();
        for c in 1..n {
            let b = normal_quantile(c as f32 / n as f32);
            knots.push(Knot {
                coord: k,
                at: b - h,
                gain: STEEPNESS,
            });
            knots.push(Knot {
                coord: k,
                at: b + h,
                gain: STEEPNESS,
            });
            let i = knots.len();
            steps.push([(i - 2, STEEPNESS), (i - 1, -STEEPNESS)]);
        }
        // One-hot: class 0 = 1 − s₁, class c = s_c − s_{c+1}, class n−1 = s_{n−1}.
        for c in 0..n {
            let mut terms = Vec::new();
            if c >= 1 {
                terms.extend(steps[c - 1]);
            }
            if c + 1 < n {
                terms.extend(steps[c].map(|(i, d)| (i, -d)));
            }
            slots.push((if c == 0 { 1.0 } else { 0.0 }, terms));
        }
    }
    (knots, slots)
}

/// Stage 2: write the mapping network of `g` so that `mapping(z) = √2 · (c(z) · T + o)`,
/// the stage-1 input up to a positive per-coordinate offset `o`, and fold that affine map
/// into every modulation layer, so the synthesis network draws exactly what it drew in stage 1.
///
/// No training: the first layer turns each class boundary of `ẑ` (PixelNorm-ed `z`) into a
/// steep ramp pair; the middle
/// layers assemble and pass on the one-hot code (kept positive, where the leaky ReLU is
/// linear); the last applies `T`. Needs `n_mlp ≥ 2` and `style_dim ≥ 36` (the first layer's
/// units). `seed` must be the one stage 1 used (it picks `T`). `latent_avg` is reset to the
/// mean of 4096 mapped latents.
pub fn write_face_code_mapping(g: Generator, seed: u64) -> Result<Generator> {
    let config = g.config().clone();
    let d = config.style_dim;
    let n_mlp = g.style.len();
    let (knots, slots) = face_code_pieces();
    if n_mlp < 2 || d < knots.len() || d < FACE_CODE_DIMS {
        return Err(Error::InvalidArgument(format!(
            "the face-code mapping needs n_mlp ≥ 2 and style_dim ≥ {} (got {n_mlp} and {d})",
            knots.len()
        )));
    }
    let device = g.device();
    let table = face_code_table(d, seed);
    let matrix = |v: Vec<f32>, rows: usize, cols: usize| {
        Tensor::<2>::from_data(TensorData::new(v, [rows, cols]), &device)
    };
    let vector = |v: Vec<f32>| {
        let n = v.len();
        Tensor::<1>::from_data(TensorData::new(v, [n]), &device)
    };

    // Layer 1: knot units.
    let (mut w1, mut b1) = (vec![0f32; d * d], vec![0f32; d]);
    for (u, knot) in knots.iter().enumerate() {
        w1[u * d + knot.coord] = knot.gain;
        b1[u] = -knot.gain * knot.at;
    }
    // The code as an affine function of layer 1's output h: code = A·h + a0, with
    // relu(y) = (lrelu(y) − SLOPE·y) / (1 − SLOPE) and Σ Δ = 0 per slot (no linear term left).
    let (mut a, mut a0) = (vec![0f32; FACE_CODE_DIMS * d], vec![0f32; FACE_CODE_DIMS]);
    for (j, (constant, terms)) in slots.iter().enumerate() {
        a0[j] = *constant;
        for &(u, delta) in terms {
            let knot = &knots[u];
            a[j * d + u] += delta / ((1.0 - SLOPE) * GAIN * knot.gain);
            a0[j] += SLOPE * delta * knot.at / (1.0 - SLOPE);
        }
    }
    let mut layers = vec![(w1, b1)];
    if n_mlp >= 3 {
        // Layer 2: r = GAIN · (code + CODE_OFFSET), positive on the code slots.
        let (mut w, mut b) = (vec![0f32; d * d], vec![0f32; d]);
        w[..FACE_CODE_DIMS * d].copy_from_slice(&a);
        for j in 0..FACE_CODE_DIMS {
            b[j] = a0[j] + CODE_OFFSET;
        }
        layers.push((w, b));
        // Middle layers pass r on unchanged (GAIN · lrelu(r / GAIN) = r for r > 0).
        for _ in 3..n_mlp {
            let mut w = vec![0f32; d * d];
            for j in 0..FACE_CODE_DIMS {
                w[j * d + j] = 1.0 / GAIN;
            }
            layers.push((w, vec![0f32; d]));
        }
        // From here the code is r / GAIN − CODE_OFFSET.
        a = vec![0f32; FACE_CODE_DIMS * d];
        for j in 0..FACE_CODE_DIMS {
            a[j * d + j] = 1.0 / GAIN;
            a0[j] = -CODE_OFFSET;
        }
    }
    // Last layer: code · T + o, with o[e] lifting the smallest reachable value above 0.5.
    let mut offset = vec![0f32; d];
    for (e, o) in offset.iter_mut().enumerate() {
        let mut row = 0;
        let mut low = 0.0;
        for &n in &CLASS_COUNTS {
            low += (row..row + n)
                .map(|r| table[r * d + e])
                .fold(f32::INFINITY, f32::min);
            row += n;
        }
        for r in row..FACE_CODE_DIMS {
            low -= table[r * d + e].abs();
        }
        *o = (-low).max(0.0) + 0.5;
    }
    let (mut wl, mut bl) = (vec![0f32; d * d], offset.clone());
    for e in 0..d {
        for j in 0..FACE_CODE_DIMS {
            let t = table[j * d + e];
            for (u, w) in wl[e * d..(e + 1) * d].iter_mut().enumerate() {
                *w += t * a[j * d + u];
            }
            bl[e] += t * a0[j];
        }
    }
    layers.push((wl, bl));

    let mut g = g;
    let style = std::mem::take(&mut g.style);
    g.style = style
        .into_iter()
        .zip(layers)
        .map(|(layer, (w, b))| layer.with_effective(matrix(w, d, d), vector(b)))
        .collect();
    // Fold w_old = w / GAIN − o into every modulation: s = W·w_old + b = (W / GAIN)·w + (b − W·o).
    let o = matrix(offset, d, 1);
    let fold = |m: crate::stylegan2::layers::EqualLinear| {
        let (w, b) = m.effective();
        let [out, _] = w.dims();
        let shift = w.clone().matmul(o.clone()).reshape([out]);
        m.with_effective(w.div_scalar(f64::from(GAIN)), b - shift)
    };
    g.conv1.conv.modulation = fold(g.conv1.conv.modulation);
    g.to_rgb1.conv.modulation = fold(g.to_rgb1.conv.modulation);
    g.convs = std::mem::take(&mut g.convs)
        .into_iter()
        .map(|mut c| {
            c.conv.modulation = fold(c.conv.modulation);
            c
        })
        .collect();
    g.to_rgbs = std::mem::take(&mut g.to_rgbs)
        .into_iter()
        .map(|mut c| {
            c.conv.modulation = fold(c.conv.modulation);
            c
        })
        .collect();
    let avg = g.mean_latent(4096, seed);
    Ok(g.with_latent_avg(Some(avg)))
}

/// Settings of a generator fit.
#[derive(Debug, Clone)]
pub struct GeneratorFit {
    /// What the synthesis network is fed (and so which parameters learn).
    pub input: FitInput,
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
    /// Pixel-loss weight of the detail regions ([`detail_weights`]: where the mouth, the
    /// glasses and the eyebrows are drawn); 1 weighs every pixel alike.
    pub detail_weight: f32,
    /// Weigh each face's mouth region ([`mouth_mask`]) by `detail_weight` times how much
    /// fainter its lips stand out on its skin than on light skin (1 light, 1.9 tan, 5.1 dark),
    /// so that a smile on dark skin costs the loss what it costs on light skin.
    pub mouth_balance: bool,
}

impl Default for GeneratorFit {
    fn default() -> Self {
        Self {
            input: FitInput::Mapping,
            steps: 4000,
            batch: 16,
            lr: 2e-3,
            seed: 0,
            checkpoint_dir: None,
            checkpoint_every: 200,
            detail_weight: 1.0,
            mouth_balance: false,
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
    let v = latent_values(seed, step, batch, dim);
    Tensor::from_data(TensorData::new(v, [batch, dim]), device)
}

/// The values of [`fit_latents`], row-major on the host.
fn latent_values(seed: u64, step: usize, batch: usize, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ step as u64);
    (0..batch * dim)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

/// The renderer's image of each latent row: `[B, 3, 64, 64]` in `[-1, 1]`.
///
/// # Panics
/// If `z` has width 0 (`[B, 0]`). Any other width works: rows are read on their first
/// coordinates (see [`Face::from_latent`](super::attributes::Face::from_latent)).
///
/// # Errors
/// A batch of 0 (no faces to render) or an unreadable tensor.
pub fn render_latents(z: &Tensor<2>) -> Result<Tensor<4>> {
    let [_, d] = z.dims();
    render_rows(&crate::edit::host(z.clone())?, d, &z.device())
}

/// [`render_latents`] of host rows of width `d`.
fn render_rows(values: &[f32], d: usize, device: &Device) -> Result<Tensor<4>> {
    let faces: Vec<Face> = values.chunks_exact(d).map(Face::from_latent).collect();
    render_batch(&faces, Style::Photo, super::SIZE, device)
}

/// Per-pixel loss weights `[1, 1, 64, 64]`: `weight` on the detail regions, 1 elsewhere.
///
/// The small attributes occupy few pixels (the mouth about 5 % of the image, the eyebrows that
/// carry the hair colour of a bald head less), so a uniform pixel loss lets them stay soft
/// while the large regions are already sharp. The regions are read off the renderer: the
/// pixels of the centred face that change when only the mouth, only the glasses, or only the
/// hair colour of a bald head changes, grown by one pixel.
pub fn detail_weights(weight: f32, device: &Device) -> Result<Tensor<4>> {
    if !(weight.is_finite() && weight > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "detail weight must be finite and positive, got {weight}"
        )));
    }
    let n = super::SIZE;
    let base = Face::from_latent(&[0.0; super::attributes::LATENT_DIMS_USED]).attributes;
    let groups: [Vec<Attributes>; 3] = [
        Mouth::ALL
            .iter()
            .map(|&mouth| Attributes { mouth, ..base })
            .collect(),
        Glasses::ALL
            .iter()
            .map(|&glasses| Attributes { glasses, ..base })
            .collect(),
        HairColor::ALL
            .iter()
            .map(|&hair_color| Attributes {
                hair_color,
                hairstyle: Hairstyle::Bald,
                ..base
            })
            .collect(),
    ];
    let mask = changed_region(&groups)?;
    let values = mask.iter().map(|&m| if m { weight } else { 1.0 }).collect();
    Ok(Tensor::from_data(
        TensorData::new(values, [1, 1, n, n]),
        device,
    ))
}

/// The mouth region `[1, 1, 64, 64]`: 1 where the centred face changes when only its mouth
/// changes (grown by one pixel), 0 elsewhere. A part of [`detail_weights`]' region.
pub fn mouth_mask(device: &Device) -> Result<Tensor<4>> {
    let n = super::SIZE;
    let base = Face::from_latent(&[0.0; super::attributes::LATENT_DIMS_USED]).attributes;
    let group: Vec<Attributes> = Mouth::ALL
        .iter()
        .map(|&mouth| Attributes { mouth, ..base })
        .collect();
    let mask = changed_region(&[group])?;
    let values = mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    Ok(Tensor::from_data(
        TensorData::new(values, [1, 1, n, n]),
        device,
    ))
}

/// The pixels of the centred photo that differ (by more than 8 of 255 in a channel) between
/// the first record of a group and any other, over all groups, grown by one pixel.
fn changed_region(groups: &[Vec<Attributes>]) -> Result<Vec<bool>> {
    let n = super::SIZE;
    let mut mask = vec![false; n * n];
    for group in groups {
        let images = group
            .iter()
            .map(|&attributes| {
                let face = Face {
                    attributes,
                    jitter: Jitter::NONE,
                };
                super::render::render_face(&face, Style::Photo, n)
            })
            .collect::<Result<Vec<_>>>()?;
        for (p, m) in mask.iter_mut().enumerate() {
            let first = &images[0].data[3 * p..3 * p + 3];
            *m |= images[1..]
                .iter()
                .any(|im| (0..3).any(|c| first[c].abs_diff(im.data[3 * p + c]) > 8));
        }
    }
    let mut grown = vec![false; n * n];
    for y in 0..n {
        for x in 0..n {
            grown[y * n + x] = (y.saturating_sub(1)..(y + 2).min(n))
                .any(|yy| (x.saturating_sub(1)..(x + 2).min(n)).any(|xx| mask[yy * n + xx]));
        }
    }
    Ok(grown)
}

/// The mouth weight factor of [`GeneratorFit::mouth_balance`] for a skin tone: the lips'
/// colour contrast on light skin over their contrast on `skin` (1 light, 1.94 tan, 5.05 dark).
pub fn mouth_factor(skin: Skin) -> f32 {
    use super::render::lips_contrast;
    lips_contrast(Skin::Light) / lips_contrast(skin)
}

/// [`mouth_factor`] of each face of a latent batch, `[B, 1, 1, 1]`.
fn mouth_factors(values: &[f32], d: usize, device: &Device) -> Tensor<4> {
    let f: Vec<f32> = values
        .chunks_exact(d)
        .map(|row| mouth_factor(Face::from_latent(row).attributes.skin))
        .collect();
    let b = f.len();
    Tensor::from_data(TensorData::new(f, [b, 1, 1, 1]), device)
}

fn checkpoint_path(dir: &Path, input: FitInput) -> PathBuf {
    dir.join(match input {
        FitInput::Mapping => "generator_fit.safetensors",
        FitInput::FaceCodes => "synthesis_fit.safetensors",
        FitInput::FixedMapping => "synthesis_polish.safetensors",
    })
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
        let path = checkpoint_path(dir, fit.input);
        if path.exists() {
            let file = crate::weights::TensorFile::open(&path)?;
            g = Generator::from_file(&file, &device)?;
            start = adam.restore(&file)?;
        }
    }
    let mut g = leaves(g);
    let d = config.style_dim;
    let table = face_code_table(d, fit.seed);
    // Uniform weights (the default) need no product in the loop.
    let weights = if fit.detail_weight == 1.0 && !fit.mouth_balance {
        None
    } else {
        Some(detail_weights(fit.detail_weight, &device)?)
    };
    let mouth = if fit.mouth_balance {
        Some(mouth_mask(&device)? * fit.detail_weight)
    } else {
        None
    };
    for step in start..fit.steps {
        // The batch is drawn on the host, where the renderer and the face codes read it.
        let values = latent_values(fit.seed, step, fit.batch, d);
        let target = render_rows(&values, d, &device)?;
        // The mouth region weighs `detail_weight · factor` per face (the factor is 1 on light
        // skin, where the base weights already hold `detail_weight`).
        let weights = match (&weights, &mouth) {
            (Some(w), Some(m)) => {
                Some(w.clone() + m.clone() * (mouth_factors(&values, d, &device) - 1.0))
            }
            (w, _) => w.clone(),
        };
        let w = match fit.input {
            FitInput::FaceCodes => coded_latents(&values, d, &table, &device),
            input => {
                let z = Tensor::from_data(TensorData::new(values, [fit.batch, d]), &device);
                let w = g.mapping(z);
                if input == FitInput::FixedMapping {
                    w.detach()
                } else {
                    w
                }
            }
        };
        let wp = g.broadcast(w);
        let out = g.synthesis(wp, NoiseMode::Zero);
        let diff = out - target;
        let weigh = |x: Tensor<4>| match &weights {
            Some(w) => x * w.clone(),
            None => x,
        };
        let l1 = weigh(diff.clone().abs()).mean();
        let mse = weigh(diff.powi_scalar(2)).mean();
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
            save_checkpoint(&g, &adam, done, &checkpoint_path(dir, fit.input))?;
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
