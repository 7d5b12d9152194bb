//! LPIPS (Zhang et al., CVPR 2018), VGG16 trunk, version 0.1: the perceptual distance that
//! rosinality's `projector.py` minimises when it inverts a photo into StyleGAN's W space.
//!
//! For images `a`, `b` in `[-1, 1]`:
//!
//! ```text
//! x̃      = (x − shift) / scale                        shift = [−0.030, −0.088, −0.188]
//!                                                      scale = [ 0.458,  0.448,  0.450]
//! f_k(x) = tap k of VGG16 on x̃                        relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
//! f̂_k    = f_k / (sqrt(Σ_c f_k²) + 1e-10)             per pixel; the eps is outside the sqrt
//! d(a,b) = Σ_k  mean_{h,w}  Σ_c w_{k,c} · (f̂_k(a) − f̂_k(b))²
//! ```
//!
//! This is PyPI `lpips.LPIPS(net='vgg', version='0.1')` (and the copy bundled with
//! rosinality/stylegan2-pytorch, `PerceptualLoss(model='net-lin', net='vgg')`, which computes the
//! same numbers): `ScalingLayer` → torchvision `vgg16().features` sliced after each tap →
//! `normalize_tensor` → squared difference → `NetLinLayer` (a 1×1 convolution without bias; its
//! dropout is the identity in eval mode) → `spatial_average` → sum over the five taps. The
//! scaling constants are the ImageNet mean and std mapped to `[-1, 1]`; they are constants of
//! the method ([`SHIFT`], [`SCALE`]), not weights.
//!
//! # Weights
//! Two official files, neither executed, both read by [`crate::weights::TensorFile`]:
//! - the trunk: torchvision's `vgg16-397923af.pth` (ImageNet, BSD-3-Clause), keys
//!   `features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}`; its `classifier.*` is
//!   ignored;
//! - the heads: lpips' `weights/v0.1/vgg.pth` (BSD-2-Clause), a legacy (pre-1.6) `torch.save`
//!   pickle with keys `lin{0..4}.model.1.weight` shaped `[1, C, 1, 1]`.
//!
//! [`Lpips::load`] takes the two, [`Lpips::load_file`] one file holding both (a PyPI `LPIPS`
//! `state_dict()`, or what [`Lpips::save`] writes). The key layouts each accepts are listed on
//! [`Lpips::load`].
//!
//! The network is a frozen loss: every constructor returns it with `require_grad` off, so on an
//! autodiff device gradients flow to the images only (call `set_require_grad` on a parameter
//! to train it).

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};

use crate::error::{Error, Result};
use crate::weights::{
    CheckpointSource, FnSource, Init, ParamSource, RandomInit, TensorFile, save_safetensors,
};

/// `ScalingLayer.shift`: the ImageNet mean mapped to `[-1, 1]` (`2·mean − 1`).
pub const SHIFT: [f32; 3] = [-0.030, -0.088, -0.188];
/// `ScalingLayer.scale`: the ImageNet std mapped to `[-1, 1]` (`2·std`).
pub const SCALE: [f32; 3] = [0.458, 0.448, 0.450];
/// The eps added to each feature's channel norm (`normalize_tensor`).
pub const NORM_EPS: f64 = 1e-10;
/// The smallest height and width [`Lpips::try_distance`] accepts: the four 2×2 max-pools must
/// leave at least one pixel at relu5_3.
pub const MIN_SIZE: usize = 16;

/// The torchvision `vgg16().features` index of each convolution, by tap slice
/// (`slice1` = `features[0:4]`, …, `slice5` = `features[23:30]`).
pub const SLICES: [&[usize]; 5] = [
    &[0, 2],
    &[5, 7],
    &[10, 12, 14],
    &[17, 19, 21],
    &[24, 26, 28],
];
/// Channels of the five taps (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
pub const CHANNELS: [usize; 5] = [64, 128, 256, 512, 512];

/// A 3×3 convolution with bias and padding 1, followed by ReLU (torchvision
/// `features.{N}` + `features.{N+1}`).
#[derive(Module, Debug)]
pub struct Conv3x3 {
    /// `features.{N}.weight`, `[out, in, 3, 3]`.
    pub weight: Param<Tensor<4>>,
    /// `features.{N}.bias`, `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl Conv3x3 {
    /// `relu(conv3x3(x) + bias)`, `[N, in, H, W] → [N, out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let opts = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        relu(conv2d(x, self.weight.val(), Some(self.bias.val()), opts))
    }
}

/// A linear head: a 1×1 convolution to one channel, without bias (`lin{k}.model.1`; the
/// `model.0` dropout is the identity in eval mode).
#[derive(Module, Debug)]
pub struct NetLinLayer {
    /// `lin{k}.model.1.weight`, `[1, C, 1, 1]`.
    pub weight: Param<Tensor<4>>,
}

impl NetLinLayer {
    /// `Σ_c w_c · x_c`, `[N, C, H, W] → [N, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let opts = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        conv2d(x, self.weight.val(), None, opts)
    }
}

/// LPIPS v0.1 with the VGG16 trunk. See the [module docs](self) for the equation.
#[derive(Module, Debug)]
pub struct Lpips {
    /// The 13 convolutions of `vgg16().features`, in order: `features[i]` is torchvision's
    /// `features.{SLICES.concat()[i]}` (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28).
    pub features: Vec<Conv3x3>,
    /// The five heads, `lins[k]` = `lin{k}` (one per tap).
    pub lins: Vec<NetLinLayer>,
}

/// How a file names the trunk's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrunkLayout {
    /// torchvision: `features.{N}.{weight,bias}`.
    Torchvision,
    /// lpips' own module: `net.slice{s}.{N}.{weight,bias}`.
    Lpips,
}

impl TrunkLayout {
    fn key(self, slice: usize, n: usize, what: &str) -> String {
        match self {
            Self::Torchvision => format!("features.{n}.{what}"),
            Self::Lpips => format!("net.slice{}.{n}.{what}", slice + 1),
        }
    }

    fn detect(file: &TensorFile) -> Result<Self> {
        [Self::Torchvision, Self::Lpips]
            .into_iter()
            .find(|l| file.contains(&l.key(0, 0, "weight")))
            .ok_or_else(|| Error::NotACheckpoint {
                path: file.path().to_path_buf(),
                reason: "no VGG16 trunk in it (looked for torchvision's `features.0.weight` and \
                         lpips' `net.slice1.0.weight`)"
                    .into(),
            })
    }
}

/// How a file names the heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadLayout {
    /// lpips' `weights/v0.1/vgg.pth`: `lin{k}.model.1.weight`.
    Lin,
    /// PyPI `LPIPS`'s `ModuleList` alias: `lins.{k}.model.1.weight`.
    Lins,
    /// e4e's `criteria/lpips` (renamed on load): `{k}.1.weight`.
    E4e,
}

impl HeadLayout {
    fn key(self, k: usize) -> String {
        match self {
            Self::Lin => format!("lin{k}.model.1.weight"),
            Self::Lins => format!("lins.{k}.model.1.weight"),
            Self::E4e => format!("{k}.1.weight"),
        }
    }

    fn detect(file: &TensorFile) -> Result<Self> {
        [Self::Lin, Self::Lins, Self::E4e]
            .into_iter()
            .find(|l| file.contains(&l.key(0)))
            .ok_or_else(|| Error::NotACheckpoint {
                path: file.path().to_path_buf(),
                reason: "no LPIPS heads in it (looked for `lin0.model.1.weight`, \
                         `lins.0.model.1.weight` and e4e's `0.1.weight`)"
                    .into(),
            })
    }
}

impl Lpips {
    /// Load the trunk and the heads from their official files.
    ///
    /// `trunk` is torchvision's `vgg16-397923af.pth` or any `torch.save`/safetensors file with
    /// its keys; `heads` is lpips' `weights/v0.1/vgg.pth` (a legacy pickle) or a file with its
    /// keys. Each file's layout is chosen by its first key, then every key is required under
    /// that layout; other keys are ignored (`classifier.*`, `scaling_layer.*`, the other
    /// layout's aliases). Accepted layouts, as official key → field:
    ///
    /// - trunk, torchvision: `features.{N}.{weight,bias}` → `features[i]` where `N` is the
    ///   `i`-th of 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 (the ReLUs and pools between
    ///   hold no weights);
    /// - trunk, lpips state dict: `net.slice{s}.{N}.{weight,bias}` → the same `features[i]`,
    ///   with `s` = 1 for `N` ∈ {0, 2}, 2 for {5, 7}, 3 for {10, 12, 14}, 4 for {17, 19, 21},
    ///   5 for {24, 26, 28} ([`SLICES`]);
    /// - heads, lpips release: `lin{k}.model.1.weight` → `lins[k].weight`;
    /// - heads, PyPI `LPIPS` alias: `lins.{k}.model.1.weight` → `lins[k].weight`;
    /// - heads, e4e `criteria/lpips`: `{k}.1.weight` → `lins[k].weight`.
    ///
    /// The `scaling_layer.{shift,scale}` buffers of a full state dict are not read: they are
    /// the constants [`SHIFT`] and [`SCALE`]. f16/bf16/f64 tensors load as f32.
    ///
    /// # Errors
    /// [`Error::FileNotFound`] or [`Error::NotACheckpoint`] for a file that cannot be read or
    /// holds no trunk (or heads) under any layout; [`Error::MissingKey`] naming the key and
    /// file when the layout is incomplete; [`Error::ShapeMismatch`] naming the key and both
    /// shapes.
    pub fn load(trunk: impl AsRef<Path>, heads: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let trunk = TensorFile::open(trunk)?;
        let heads = TensorFile::open(heads)?;
        Self::from_files(&trunk, &heads, device)
    }

    /// Load trunk and heads from one file: a PyPI `LPIPS(net='vgg')` `state_dict()` saved with
    /// `torch.save` or as safetensors, what [`Lpips::save`] writes, or any file holding both
    /// sets of keys in a layout [`Lpips::load`] accepts.
    ///
    /// # Errors
    /// As [`Lpips::load`].
    pub fn load_file(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let file = TensorFile::open(path)?;
        Self::from_files(&file, &file, device)
    }

    fn from_files(trunk: &TensorFile, heads: &TensorFile, device: &Device) -> Result<Self> {
        let (tl, hl) = (TrunkLayout::detect(trunk)?, HeadLayout::detect(heads)?);
        let features = build_trunk(&mut CheckpointSource::new(trunk, "", device), tl)?;
        let lins = build_heads(&mut CheckpointSource::new(heads, "", device), hl)?;
        Ok(Self { features, lins }.no_grad())
    }

    /// A randomly initialised network (seeded): the trunk as torchvision initialises VGG
    /// (`N(0, 2/fan_out)` weights, zero biases), the heads all ones (PyPI's `lpips=False`
    /// baseline, the unweighted squared distance of the normalised features).
    pub fn new_seeded(seed: u64, device: &Device) -> Result<Self> {
        Self::build(&mut RandomInit::new(seed, device))
    }

    /// Build from a function giving each tensor's values (row-major, PyTorch shapes), called
    /// with torchvision's trunk keys (`features.{N}.weight`, `features.{N}.bias`, in order)
    /// and then the release's head keys (`lin{k}.model.1.weight`, `[1, C, 1, 1]`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `f` returns the wrong number of values.
    pub fn from_fn(device: &Device, f: impl FnMut(&str, &[usize]) -> Vec<f32>) -> Result<Self> {
        Self::build(&mut FnSource::new(f, device))
    }

    fn build<S: ParamSource>(src: &mut S) -> Result<Self> {
        let features = build_trunk(src, TrunkLayout::Torchvision)?;
        let lins = build_heads(src, HeadLayout::Lin)?;
        Ok(Self { features, lins }.no_grad())
    }

    /// Every weight under its official key: torchvision's `features.{N}.{weight,bias}` and the
    /// release's `lin{k}.model.1.weight`.
    pub fn state_dict(&self) -> Vec<(String, TensorData)> {
        let trunk = SLICES.iter().flat_map(|s| s.iter()).zip(&self.features);
        let mut out = Vec::new();
        for (n, conv) in trunk {
            out.push((
                format!("features.{n}.weight"),
                conv.weight.val().into_data(),
            ));
            out.push((format!("features.{n}.bias"), conv.bias.val().into_data()));
        }
        for (k, lin) in self.lins.iter().enumerate() {
            out.push((HeadLayout::Lin.key(k), lin.weight.val().into_data()));
        }
        out
    }

    /// Save trunk and heads in one f32 safetensors file under their official keys
    /// ([`Lpips::state_dict`]); [`Lpips::load_file`] reads it back.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let meta = HashMap::from([
            ("format".to_string(), "styleclip-lpips".to_string()),
            ("net".to_string(), "vgg16".to_string()),
            ("version".to_string(), "0.1".to_string()),
        ]);
        save_safetensors(path.as_ref(), self.state_dict(), meta)
    }

    /// The five raw taps (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) of images in `[-1, 1]`,
    /// after the scaling layer.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, C_k, H_k, W_k]` with `C` = [`CHANNELS`] and `H_k = ⌊H / 2^k⌋`.
    ///
    /// # Panics
    /// If `x` does not have 3 channels (burn's conv assertion). Images under 16 px leave
    /// relu5_3 empty and are not supported; [`Lpips::try_distance`] rejects them.
    pub fn taps(&self, x: Tensor<4>) -> [Tensor<4>; 5] {
        let device = x.device();
        let shift = Tensor::<1>::from_floats(SHIFT, &device).reshape([1, 3, 1, 1]);
        let scale = Tensor::<1>::from_floats(SCALE, &device).reshape([1, 3, 1, 1]);
        let mut x = (x - shift) / scale;
        let mut convs = self.features.iter();
        std::array::from_fn(|s| {
            if s > 0 {
                x = max_pool2d(x.clone(), MaxPoolOptions::new([2, 2]));
            }
            for conv in convs.by_ref().take(SLICES[s].len()) {
                x = conv.forward(x.clone());
            }
            x.clone()
        })
    }

    /// The five taps unit-normalised over channels, `f / (sqrt(Σ_c f²) + 1e-10)`: what the
    /// heads compare. Computing a fixed target's features once and reusing them with
    /// [`Lpips::distance_from_features`] halves the trunk's work per step.
    ///
    /// # Shapes
    /// As [`Lpips::taps`].
    ///
    /// # Panics
    /// As [`Lpips::taps`].
    pub fn features(&self, x: Tensor<4>) -> [Tensor<4>; 5] {
        self.taps(x).map(normalize)
    }

    /// Per-tap distances between two sets of [`Lpips::features`]:
    /// `mean_{h,w} Σ_c w_{k,c} (f̂_a − f̂_b)²` for each tap `k`.
    ///
    /// # Shapes
    /// Each `fa[k]`, `fb[k]` is `[N, C_k, H_k, W_k]` (or `fb[k]` has batch 1 and broadcasts);
    /// each result is `[N]`.
    ///
    /// # Panics
    /// If the shapes do not match (burn's broadcast assertion).
    pub fn per_layer_from_features(
        &self,
        fa: &[Tensor<4>; 5],
        fb: &[Tensor<4>; 5],
    ) -> [Tensor<1>; 5] {
        std::array::from_fn(|k| {
            let d = (fa[k].clone() - fb[k].clone()).powi_scalar(2);
            let d = self.lins[k].forward(d);
            let [n, _, h, w] = d.dims();
            d.reshape([n, h * w]).mean_dim(1).reshape([n])
        })
    }

    /// The LPIPS distance between two sets of [`Lpips::features`], summed over taps in order.
    ///
    /// # Shapes
    /// As [`Lpips::per_layer_from_features`]; returns `[N]`.
    ///
    /// # Panics
    /// As [`Lpips::per_layer_from_features`].
    pub fn distance_from_features(&self, fa: &[Tensor<4>; 5], fb: &[Tensor<4>; 5]) -> Tensor<1> {
        sum_taps(self.per_layer_from_features(fa, fb))
    }

    /// The five per-tap terms of the distance (relu1_2 … relu5_3); they sum to
    /// [`Lpips::distance`]. One trunk pass over `a` and `b` stacked on the batch axis.
    ///
    /// # Shapes
    /// `a`, `b`: `[N, 3, H, W]` in `[-1, 1]`, `H, W ≥ 16`; each result is `[N]`.
    ///
    /// # Panics
    /// If the shapes differ, the channels are not 3 or the images are smaller than 16 px
    /// (burn's assertions); see [`Lpips::try_distance`].
    pub fn distance_per_layer(&self, a: Tensor<4>, b: Tensor<4>) -> [Tensor<1>; 5] {
        let n = a.dims()[0];
        let f = self.features(Tensor::cat(vec![a, b], 0));
        let fa = f.clone().map(|t| t.narrow(0, 0, n));
        let fb = f.map(|t| t.narrow(0, n, n));
        self.per_layer_from_features(&fa, &fb)
    }

    /// The LPIPS v0.1 distance `d(a, b)` of each pair; differentiable with respect to both
    /// images on an autodiff device.
    ///
    /// # Shapes
    /// `a`, `b`: `[N, 3, H, W]` in `[-1, 1]`, `H, W ≥ 16` → `[N]`.
    ///
    /// # Panics
    /// As [`Lpips::distance_per_layer`]; [`Lpips::try_distance`] checks first.
    pub fn distance(&self, a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
        sum_taps(self.distance_per_layer(a, b))
    }

    /// [`Lpips::distance`] with the inputs checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the shapes when either input is not
    /// `[N, 3, H, W]` with `N ≥ 1` and `H, W ≥ 16`, or the two shapes differ.
    pub fn try_distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Tensor<1>> {
        check_pair(&a, &b)?;
        Ok(self.distance(a, b))
    }

    /// [`Lpips::distance_per_layer`] with the inputs checked first.
    ///
    /// # Errors
    /// As [`Lpips::try_distance`].
    pub fn try_distance_per_layer(&self, a: Tensor<4>, b: Tensor<4>) -> Result<[Tensor<1>; 5]> {
        check_pair(&a, &b)?;
        Ok(self.distance_per_layer(a, b))
    }
}

/// `normalize_tensor`: `f / (sqrt(Σ_c f²) + eps)` over axis 1.
fn normalize(f: Tensor<4>) -> Tensor<4> {
    let norm = f
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .add_scalar(NORM_EPS);
    f / norm
}

/// `val = res[0]; val += res[1]; …` in the official order.
fn sum_taps(per_layer: [Tensor<1>; 5]) -> Tensor<1> {
    let [d0, d1, d2, d3, d4] = per_layer;
    d0 + d1 + d2 + d3 + d4
}

fn build_trunk<S: ParamSource>(src: &mut S, layout: TrunkLayout) -> Result<Vec<Conv3x3>> {
    let mut convs = Vec::with_capacity(13);
    let mut cin = 3;
    for (s, indices) in SLICES.iter().enumerate() {
        let cout = CHANNELS[s];
        for &n in *indices {
            // torchvision's init: kaiming_normal_(mode="fan_out", nonlinearity="relu"), bias 0.
            let std = (2.0 / (cout * 9) as f64).sqrt();
            convs.push(Conv3x3 {
                weight: Param::from_tensor(src.tensor(
                    &layout.key(s, n, "weight"),
                    [cout, cin, 3, 3],
                    Init::Normal(std),
                )?),
                bias: Param::from_tensor(src.tensor(
                    &layout.key(s, n, "bias"),
                    [cout],
                    Init::Constant(0.0),
                )?),
            });
            cin = cout;
        }
    }
    Ok(convs)
}

fn build_heads<S: ParamSource>(src: &mut S, layout: HeadLayout) -> Result<Vec<NetLinLayer>> {
    CHANNELS
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            Ok(NetLinLayer {
                weight: Param::from_tensor(src.tensor(
                    &layout.key(k),
                    [1, c, 1, 1],
                    Init::Constant(1.0),
                )?),
            })
        })
        .collect()
}

fn check_image(what: &str, x: &Tensor<4>) -> Result<()> {
    let [n, c, h, w] = x.dims();
    if n == 0 || c != 3 || h < MIN_SIZE || w < MIN_SIZE {
        return Err(Error::InvalidArgument(format!(
            "LPIPS input `{what}` must be [N, 3, H, W] with N ≥ 1 and H, W ≥ {MIN_SIZE}, \
             got [{n}, {c}, {h}, {w}]"
        )));
    }
    Ok(())
}

fn check_pair(a: &Tensor<4>, b: &Tensor<4>) -> Result<()> {
    check_image("a", a)?;
    check_image("b", b)?;
    if a.dims() != b.dims() {
        return Err(Error::InvalidArgument(format!(
            "LPIPS inputs must have one shape, got {:?} and {:?}",
            a.dims(),
            b.dims()
        )));
    }
    Ok(())
}
