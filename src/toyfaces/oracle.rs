//! The attribute oracle: a small supervised CNN that reads every attribute and the rendering
//! style off a toy face. It scores edits; CLIP never does.
//!
//! ```text
//! x [B,3,64,64] in [-1,1]
//!   → conv3×3 16 → conv3×3/2 32 → conv3×3/2 64 → conv3×3/2 64 → conv3×3/2 96   (ReLU after each)
//!   → flatten [B, 96·4·4] → dense 128 (ReLU) → dense 27 logits
//! logits = hair_color 6 | hairstyle 4 | mouth 4 | glasses 3 | skin 3 | background 4 | style 3
//! ```
//! Trained with the summed per-head cross-entropy on renders of every style (colour heads are
//! not trained on sketches, which carry no colour), with random blur and pixel noise so that
//! the slightly soft images of a fitted generator read as well as crisp renders.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{avg_pool2d, conv2d, linear};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::{Attribute, Attributes, CLASS_COUNTS, Face, Jitter, Style};
use super::render::render_batch;
use crate::error::{Error, Result};
use crate::training::ModuleAdam;
use crate::weights::{
    CheckpointSource, Init, ParamSource, Precision, RandomInit, TensorFile, named_params,
    save_safetensors_as,
};

/// Metadata value that marks oracle files.
pub const FORMAT: &str = "styleclip.toyfaces.oracle";

/// Class counts of the heads, in logit order (six attributes, then the style).
pub const HEADS: [usize; 7] = {
    let mut heads = [Style::ALL.len(); 7];
    let mut k = 0;
    while k < CLASS_COUNTS.len() {
        heads[k] = CLASS_COUNTS[k];
        k += 1;
    }
    heads
};

const CHANNELS: [usize; 5] = [16, 32, 64, 64, 96];
const HIDDEN: usize = 128;

/// A 3×3 convolution with bias.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[out, in, 3, 3]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    stride: usize,
}

impl Conv {
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        i: usize,
        o: usize,
        stride: usize,
    ) -> Result<Self> {
        let he = (2.0 / (i * 9) as f64).sqrt();
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &format!("{key}.weight"),
                [o, i, 3, 3],
                Init::Normal(he),
            )?),
            bias: Param::from_tensor(src.tensor(
                &format!("{key}.bias"),
                [o],
                Init::Constant(0.0),
            )?),
            stride,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let opts = ConvOptions::new([self.stride; 2], [1, 1], [1, 1], 1);
        relu(conv2d(x, self.weight.val(), Some(self.bias.val()), opts))
    }
}

/// A dense layer; the weight is stored `[out, in]` (PyTorch's layout).
#[derive(Module, Debug)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    fn build<S: ParamSource>(src: &mut S, key: &str, i: usize, o: usize) -> Result<Self> {
        let he = (2.0 / i as f64).sqrt();
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &format!("{key}.weight"),
                [o, i],
                Init::Normal(he),
            )?),
            bias: Param::from_tensor(src.tensor(
                &format!("{key}.bias"),
                [o],
                Init::Constant(0.0),
            )?),
        })
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear(x, self.weight.val().transpose(), Some(self.bias.val()))
    }
}

/// What the oracle reads off one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The six attributes.
    pub attributes: Attributes,
    /// The rendering style.
    pub style: Style,
    /// The probability of the chosen class of each head (attributes in field order, then style).
    pub confidence: [f32; 7],
}

/// The attribute oracle (see the module header).
#[derive(Module, Debug)]
pub struct Oracle {
    /// The five convolutions.
    pub convs: Vec<Conv>,
    /// Hidden dense layer.
    pub fc: Dense,
    /// Output logits.
    pub head: Dense,
}

impl Oracle {
    fn build<S: ParamSource>(src: &mut S) -> Result<Self> {
        let mut convs = Vec::new();
        let mut i = 3;
        for (k, &o) in CHANNELS.iter().enumerate() {
            convs.push(Conv::build(
                src,
                &format!("convs.{k}"),
                i,
                o,
                if k == 0 { 1 } else { 2 },
            )?);
            i = o;
        }
        let flat = CHANNELS[4] * 16;
        Ok(Self {
            convs,
            fc: Dense::build(src, "fc", flat, HIDDEN)?,
            head: Dense::build(src, "head", HIDDEN, HEADS.iter().sum())?,
        })
    }

    /// A freshly initialised oracle (He-normal weights from `seed`).
    pub fn new_seeded(seed: u64, device: &Device) -> Result<Self> {
        Self::build(&mut RandomInit::new(seed, device))
    }

    /// Load an oracle file written by [`Oracle::save`].
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let file = TensorFile::open(path)?;
        if file.metadata().get("format").map(String::as_str) != Some(FORMAT) {
            return Err(Error::NotACheckpoint {
                path: file.path().to_path_buf(),
                reason: format!("not a toy-faces oracle (metadata `format` is not `{FORMAT}`)"),
            });
        }
        Self::build(&mut CheckpointSource::new(&file, "", device))
    }

    /// Save as f32 safetensors, with the format marker in the metadata.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_as(path, Precision::F32)
    }

    /// [`save`](Self::save) at a chosen precision (the shipped oracle is f16).
    pub fn save_as(&self, path: impl AsRef<Path>, precision: Precision) -> Result<()> {
        let meta: HashMap<String, String> = [("format".to_string(), FORMAT.to_string())].into();
        save_safetensors_as(path.as_ref(), named_params(self), meta, precision)
    }

    /// Logits of every head, concatenated (see [`HEADS`]).
    ///
    /// # Shapes
    /// `[B, 3, 64, 64]` in `[-1, 1]` → `[B, 27]`
    ///
    /// # Panics
    /// If `images` is not `[B, 3, 64, 64]` (burn's conv or matmul assertion); the entries
    /// [`Oracle::read`] and [`Oracle::classify`] check the shape and return an error.
    pub fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.convs.iter().fold(images, |x, c| c.forward(x));
        let [b, c, h, w] = x.dims();
        let x = relu(self.fc.forward(x.reshape([b, c * h * w])));
        self.head.forward(x)
    }

    /// Read attributes and style off images.
    ///
    /// # Shapes
    /// `images`: `[B, 3, 64, 64]` in `[-1, 1]` (generator output or renders)
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `images` is not `[B, 3, 64, 64]`, or the output is not
    /// finite (NaN input).
    pub fn read(&self, images: Tensor<4>) -> Result<Vec<Reading>> {
        let [b, c, h, w] = images.dims();
        if c != 3 || h != super::SIZE || w != super::SIZE {
            return Err(Error::InvalidArgument(format!(
                "the oracle reads [B, 3, {0}, {0}] images, got [{b}, {c}, {h}, {w}]",
                super::SIZE
            )));
        }
        let logits = self.logits(images);
        let n: usize = HEADS.iter().sum();
        let probs: Vec<f32> = crate::edit::host(softmax_heads(logits))?;
        if probs.iter().any(|p| !p.is_finite()) {
            return Err(Error::InvalidArgument(
                "the oracle's output is not finite (NaN input?)".into(),
            ));
        }
        Ok(probs
            .chunks_exact(n)
            .map(|row| {
                let mut idx = [0usize; 7];
                let mut confidence = [0f32; 7];
                let mut start = 0;
                for (k, &len) in HEADS.iter().enumerate() {
                    let (arg, p) = row[start..start + len].iter().enumerate().fold(
                        (0, f32::MIN),
                        |best, (j, &p)| if p > best.1 { (j, p) } else { best },
                    );
                    idx[k] = arg;
                    confidence[k] = p;
                    start += len;
                }
                Reading {
                    attributes: Attributes::from_indices([
                        idx[0], idx[1], idx[2], idx[3], idx[4], idx[5],
                    ]),
                    style: Style::from_index(idx[6]),
                    confidence,
                }
            })
            .collect())
    }

    /// The attributes of each image (see [`Oracle::read`] for the style and confidences too).
    pub fn classify(&self, images: Tensor<4>) -> Result<Vec<Attributes>> {
        Ok(self
            .read(images)?
            .into_iter()
            .map(|r| r.attributes)
            .collect())
    }
}

/// Softmax within each head's slice of the logits.
fn softmax_heads(logits: Tensor<2>) -> Tensor<2> {
    let mut start = 0;
    let parts = HEADS
        .iter()
        .map(|&len| {
            let p = burn::tensor::activation::softmax(logits.clone().narrow(1, start, len), 1);
            start += len;
            p
        })
        .collect();
    Tensor::cat(parts, 1)
}

/// Summed per-head cross-entropy, averaged over the batch. `targets[b][k]` is the class of head
/// `k`; `mask[b][k]` is 0 where head `k` is not trained on sample `b`.
fn heads_loss(logits: Tensor<2>, targets: &[[usize; 7]], mask: &[[f32; 7]]) -> Tensor<1> {
    let device = logits.device();
    let b = targets.len();
    let n: usize = HEADS.iter().sum();
    let mut onehot = vec![0f32; b * n];
    for (i, (t, m)) in targets.iter().zip(mask).enumerate() {
        let mut start = 0;
        for (k, &len) in HEADS.iter().enumerate() {
            onehot[i * n + start + t[k]] = m[k];
            start += len;
        }
    }
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, n]), &device);
    let mut start = 0;
    let logp = Tensor::cat(
        HEADS
            .iter()
            .map(|&len| {
                let lp = log_softmax(logits.clone().narrow(1, start, len), 1);
                start += len;
                lp
            })
            .collect(),
        1,
    );
    (logp * onehot).sum().neg().div_scalar(b as f64)
}

/// Images `[B, 3, 64, 64]`, per image the class of each head, and per image which heads
/// count (0 for colour heads on sketches).
pub type TrainingBatch = (Tensor<4>, Vec<[usize; 7]>, Vec<[f32; 7]>);

/// One training batch of renders with their labels: styles photo 60 %, sketch 20 %,
/// negative 20 %; half the images blurred (3×3 box), all with N(0, σ²) pixel noise,
/// σ ∈ [0, 0.06].
pub fn training_batch(batch: usize, seed: u64, device: &Device) -> Result<TrainingBatch> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(batch);
    let mut targets = Vec::with_capacity(batch);
    let mut masks = Vec::with_capacity(batch);
    for i in 0..batch {
        let face_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let face = Face {
            attributes: Attributes::sample(face_seed),
            jitter: Jitter::sample(face_seed),
        };
        let u: f32 = rng.random();
        let style = if u < 0.6 {
            Style::Photo
        } else if u < 0.8 {
            Style::Sketch
        } else {
            Style::Negative
        };
        let x = render_batch(&[face], style, super::SIZE, device)?;
        let x = if rng.random_bool(0.5) {
            avg_pool2d(
                x,
                AvgPoolOptions::new([3, 3])
                    .with_stride([1, 1])
                    .with_padding([1, 1])
                    .with_count_include_pad(false),
            )
        } else {
            x
        };
        let sigma: f64 = rng.random_range(0.0..0.06);
        let noise = Tensor::<4>::random(
            x.dims(),
            burn::tensor::Distribution::Normal(0.0, sigma.max(1e-6)),
            device,
        );
        images.push(x + noise);
        let a = face.attributes.indices();
        targets.push([a[0], a[1], a[2], a[3], a[4], a[5], style.index()]);
        let colour = if style == Style::Sketch { 0.0 } else { 1.0 };
        masks.push([colour, 1.0, 1.0, 1.0, colour, colour, 1.0]);
    }
    Ok((Tensor::cat(images, 0), targets, masks))
}

/// Train an oracle from `oracle` for `steps` Adam steps (lr `lr`, batch `batch`), calling
/// `progress(step, loss)` after each. `device` must be an autodiff device.
pub fn train_oracle(
    oracle: Oracle,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
    mut progress: impl FnMut(usize, f32),
) -> Result<Oracle> {
    let device = oracle.fc.weight.val().device();
    let mut model = crate::training::leaves(oracle);
    let mut adam = ModuleAdam::new();
    for step in 0..steps {
        let (x, t, m) = training_batch(batch, seed.wrapping_add(step as u64 * 7919), &device)?;
        let loss = heads_loss(model.logits(x), &t, &m);
        let value = crate::edit::host(loss.clone())?[0];
        if !value.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "oracle loss is {value} at step {step}"
            )));
        }
        let grads = loss.backward();
        // Cosine decay to 5 % of lr.
        let t = step as f64 / steps.max(1) as f64;
        let lr_t = lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()));
        model = adam.step(model, &grads, lr_t)?;
        progress(step, value);
    }
    Ok(model)
}
