//! ArcFace IR-SE50, the face-identity network of StyleCLIP's ID loss.
//!
//! The network is InsightFace's IR-SE50 as StyleCLIP uses it (`models/facial_recognition/
//! model_irse.py`: `Backbone(input_size=112, num_layers=50, drop_ratio=0.6, mode='ir_se')`, from
//! TreB1eN/InsightFace_Pytorch). Fields are named by role (the official `Sequential`s are
//! numbered); each is built from its official key of the released `model_ir_se50.pth`
//! (`input_layer.0.weight`, `body.3.res_layer.5.fc1.weight`, …), so the file loads as it is. Inference only: BatchNorm uses its running statistics, Dropout is the
//! identity.
//!
//! The building blocks ([`BatchNorm`], [`Conv`], [`PRelu`], [`BottleneckIrSe`]) and the 24-unit
//! body are shared with the e4e encoder ([`crate::e4e`]), whose checkpoint uses the same keys.
//!
//! [`ArcFace::id_features`] and [`ArcFace::id_loss`] reproduce `criteria/id_loss.py`: adaptive
//! average pool to 256 px when needed, crop `[35:223, 32:220]`, adaptive average pool to 112 px,
//! embed, and `mean(1 − ⟨f(ŷ), f(y)⟩)` with the target features detached.

use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::{adaptive_avg_pool2d, conv2d, linear};
use burn::tensor::ops::ConvOptions;

use crate::error::{Error, Result};
use crate::stylegan2::layers::join;
use crate::weights::{CheckpointSource, Init, ParamSource, TensorFile, linear_weight};

const BN_EPS: f64 = 1e-5;

/// Inference-mode BatchNorm (`weight`, `bias`, `running_mean`, `running_var`).
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale `[C]`.
    pub weight: Param<Tensor<1>>,
    /// Shift `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Running mean `[C]`.
    pub running_mean: Param<Tensor<1>>,
    /// Running variance `[C]`.
    pub running_var: Param<Tensor<1>>,
}

impl BatchNorm {
    pub(crate) fn build<S: ParamSource>(src: &mut S, key: &str, c: usize) -> Result<Self> {
        let mut p = |name: &str, init| -> Result<Param<Tensor<1>>> {
            Ok(Param::from_tensor(src.tensor(
                &join(key, name),
                [c],
                init,
            )?))
        };
        Ok(Self {
            weight: p("weight", Init::Constant(1.0))?,
            bias: p("bias", Init::Constant(0.0))?,
            running_mean: p("running_mean", Init::Constant(0.0))?,
            running_var: p("running_var", Init::Constant(1.0))?,
        })
    }

    /// Normalise axis 1 of `[B, C, …]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let c = self.weight.dims()[0];
        let mut shape = [1usize; D];
        shape[1] = c;
        let scale = self.weight.val() / self.running_var.val().add_scalar(BN_EPS).sqrt();
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();
        x * scale.reshape(shape) + shift.reshape(shape)
    }
}

/// A bias-free convolution.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    #[module(skip)]
    stride: usize,
}

impl Conv {
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self> {
        let std = (1.0 / (cin * k * k) as f64).sqrt();
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &join(key, "weight"),
                [cout, cin, k, k],
                Init::Normal(std),
            )?),
            stride,
        })
    }

    /// Convolve with "same" padding and the layer's stride.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let opts = ConvOptions::new([self.stride; 2], [k / 2; 2], [1, 1], 1);
        conv2d(x, self.weight.val(), None, opts)
    }
}

/// PReLU with one slope per channel.
#[derive(Module, Debug)]
pub struct PRelu {
    /// Negative slopes `[C]`.
    pub weight: Param<Tensor<1>>,
}

impl PRelu {
    /// `key.weight` `[c]`, initialised to PyTorch's 0.25.
    pub(crate) fn build<S: ParamSource>(src: &mut S, key: &str, c: usize) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &join(key, "weight"),
                [c],
                Init::Constant(0.25),
            )?),
        })
    }

    /// `max(x, 0) + a · min(x, 0)` per channel.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.weight.dims()[0];
        x.clone().clamp_min(0.0) + x.clamp_max(0.0) * self.weight.val().reshape([1, c, 1, 1])
    }
}

/// Squeeze-and-excitation (reduction 16), 1×1 convolutions without bias.
#[derive(Module, Debug)]
pub struct SeModule {
    /// `C → C/16`.
    pub fc1: Conv,
    /// `C/16 → C`.
    pub fc2: Conv,
}

/// The downsampling shortcut: 1×1 strided convolution + BatchNorm (`shortcut_layer.{0,1}`).
#[derive(Module, Debug)]
pub struct Shortcut {
    /// `shortcut_layer.0`.
    pub conv: Conv,
    /// `shortcut_layer.1`.
    pub bn: BatchNorm,
}

/// `bottleneck_IR_SE`: BN → conv3×3 → PReLU → conv3×3 (strided) → BN → SE, plus the shortcut.
#[derive(Module, Debug)]
pub struct BottleneckIrSe {
    /// `res_layer.0`.
    pub bn1: BatchNorm,
    /// `res_layer.1`.
    pub conv1: Conv,
    /// `res_layer.2`.
    pub prelu: PRelu,
    /// `res_layer.3`.
    pub conv2: Conv,
    /// `res_layer.4`.
    pub bn2: BatchNorm,
    /// `res_layer.5`.
    pub se: SeModule,
    /// A convolution when the depth changes, else `MaxPool2d(1, stride)` (a strided pick).
    pub shortcut: Option<Shortcut>,
    #[module(skip)]
    stride: usize,
}

impl BottleneckIrSe {
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        cin: usize,
        depth: usize,
        stride: usize,
    ) -> Result<Self> {
        let r = |i: usize| join(key, &format!("res_layer.{i}"));
        let shortcut = if cin == depth {
            None
        } else {
            Some(Shortcut {
                conv: Conv::build(src, &join(key, "shortcut_layer.0"), cin, depth, 1, stride)?,
                bn: BatchNorm::build(src, &join(key, "shortcut_layer.1"), depth)?,
            })
        };
        Ok(Self {
            bn1: BatchNorm::build(src, &r(0), cin)?,
            conv1: Conv::build(src, &r(1), cin, depth, 3, 1)?,
            prelu: PRelu::build(src, &r(2), depth)?,
            conv2: Conv::build(src, &r(3), depth, depth, 3, stride)?,
            bn2: BatchNorm::build(src, &r(4), depth)?,
            se: SeModule {
                fc1: Conv::build(src, &join(&r(5), "fc1"), depth, depth / 16, 1, 1)?,
                fc2: Conv::build(src, &join(&r(5), "fc2"), depth / 16, depth, 1, 1)?,
            },
            shortcut,
            stride,
        })
    }

    /// One residual unit.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.shortcut {
            Some(s) => s.bn.forward(s.conv.forward(x.clone())),
            None if self.stride == 1 => x.clone(),
            None => {
                let [b, c, h, w] = x.dims();
                let s = self.stride;
                x.clone()
                    .reshape([b, c, h / s, s, w / s, s])
                    .narrow(3, 0, 1)
                    .narrow(5, 0, 1)
                    .reshape([b, c, h / s, w / s])
            }
        };
        let r = self.bn1.forward(x);
        let r = self
            .conv2
            .forward(self.prelu.forward(self.conv1.forward(r)));
        let r = self.bn2.forward(r);
        let [b, c, _, _] = r.dims();
        let gate = r.clone().mean_dim(3).mean_dim(2).reshape([b, c, 1, 1]);
        let gate = sigmoid(self.se.fc2.forward(relu(self.se.fc1.forward(gate))));
        r * gate + shortcut
    }
}

/// The embedding head: BN2d → Dropout (identity) → flatten → Linear(512·7·7, 512) → BN1d.
#[derive(Module, Debug)]
pub struct OutputLayer {
    /// `output_layer.0`.
    pub bn2d: BatchNorm,
    /// `output_layer.3.weight`, held `[in, out]` (transposed at load).
    pub linear_weight: Param<Tensor<2>>,
    /// `output_layer.3.bias`.
    pub linear_bias: Param<Tensor<1>>,
    /// `output_layer.4`.
    pub bn1d: BatchNorm,
}

/// ArcFace IR-SE50 at 112 px: `[B, 3, 112, 112]` in `[-1, 1]` → unit-norm `[B, 512]` embeddings.
#[derive(Module, Debug)]
pub struct ArcFace {
    /// `input_layer.0`: conv 3×3, 3 → 64.
    pub input_conv: Conv,
    /// `input_layer.1`.
    pub input_bn: BatchNorm,
    /// `input_layer.2`.
    pub input_prelu: PRelu,
    /// The 24 residual units (`body.{i}`).
    pub body: Vec<BottleneckIrSe>,
    /// `output_layer.*`.
    pub output: OutputLayer,
}

/// `(in, depth, units)` of the four IR-50 stages; each stage's first unit has stride 2.
const IR50_STAGES: [(usize, usize, usize); 4] =
    [(64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)];

/// The 24 IR-SE units of `get_blocks(50)` under `key.{i}` (`body.{i}` in both ArcFace and e4e):
/// stages of 3, 4, 14 and 3 units (64, 128, 256 and 512 channels), each stage opening with a
/// stride-2 unit. Shared with [`crate::e4e`].
pub(crate) fn ir50_body<S: ParamSource>(src: &mut S, key: &str) -> Result<Vec<BottleneckIrSe>> {
    let mut body = Vec::new();
    for (cin, depth, units) in IR50_STAGES {
        for u in 0..units {
            let (i, stride) = if u == 0 { (cin, 2) } else { (depth, 1) };
            let unit_key = join(key, &body.len().to_string());
            body.push(BottleneckIrSe::build(src, &unit_key, i, depth, stride)?);
        }
    }
    Ok(body)
}

impl ArcFace {
    /// Load `model_ir_se50.pth` (or the same keys in safetensors); f16 loads as f32.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let file = TensorFile::open(path)?;
        Self::build(&mut CheckpointSource::new(&file, "", device))
    }

    /// A randomly initialised network (seeded), for tests and training from scratch.
    pub fn new_seeded(seed: u64, device: &Device) -> Result<Self> {
        Self::build(&mut crate::weights::RandomInit::new(seed, device))
    }

    /// Build from a function giving each official key's values (row-major, PyTorch shapes).
    pub fn from_fn(device: &Device, f: impl FnMut(&str, &[usize]) -> Vec<f32>) -> Result<Self> {
        Self::build(&mut crate::weights::FnSource::new(f, device))
    }

    fn build<S: ParamSource>(src: &mut S) -> Result<Self> {
        // Body first: `RandomInit` draws in call order, and `new_seeded` keeps its numbers.
        let body = ir50_body(src, "body")?;
        Ok(Self {
            input_conv: Conv::build(src, "input_layer.0", 3, 64, 3, 1)?,
            input_bn: BatchNorm::build(src, "input_layer.1", 64)?,
            input_prelu: PRelu::build(src, "input_layer.2", 64)?,
            body,
            output: OutputLayer {
                bn2d: BatchNorm::build(src, "output_layer.0", 512)?,
                linear_weight: Param::from_tensor(linear_weight(
                    src,
                    "output_layer.3.weight",
                    [512, 512 * 7 * 7],
                    Init::Normal((1.0f64 / 25088.0).sqrt()),
                )?),
                linear_bias: Param::from_tensor(src.tensor(
                    "output_layer.3.bias",
                    [512],
                    Init::Constant(0.0),
                )?),
                bn1d: BatchNorm::build(src, "output_layer.4", 512)?,
            },
        })
    }

    /// Unit-norm embeddings of 112 px faces, `[B, 3, 112, 112] → [B, 512]`.
    ///
    /// # Panics
    /// If `x` is not `[B, 3, 112, 112]` (burn's conv or reshape assertion); the user-facing
    /// entries [`ArcFace::try_id_features`] and [`ArcFace::try_id_loss`] check their input.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .input_prelu
            .forward(self.input_bn.forward(self.input_conv.forward(x)));
        let x = self.body.iter().fold(x, |x, unit| unit.forward(x));
        let x = self.output.bn2d.forward(x);
        let b = x.dims()[0];
        let x = linear(
            x.reshape([b, 512 * 7 * 7]),
            self.output.linear_weight.val(),
            Some(self.output.linear_bias.val()),
        );
        let x = self.output.bn1d.forward(x);
        let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt();
        x / norm
    }

    /// `criteria/id_loss.py`'s `extract_feats`: pool to 256 px unless already 256, crop
    /// `[35:223, 32:220]`, pool to 112 px, embed. Images in `[-1, 1]`, `[B, 3, H, W]`.
    ///
    /// # Panics
    /// If the images do not have 3 channels or are empty; see [`ArcFace::try_id_features`].
    pub fn id_features(&self, images: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = images.dims();
        let x = if h != 256 || w != 256 {
            adaptive_avg_pool2d(images, [256, 256])
        } else {
            images
        };
        let x = x.slice([0..b, 0..c, 35..223, 32..220]);
        self.forward(adaptive_avg_pool2d(x, [112, 112]))
    }

    /// StyleCLIP's ID loss `mean_i (1 − ⟨f(ŷᵢ), f(yᵢ)⟩)`, the target's features detached.
    /// Returns `[1]`.
    ///
    /// # Panics
    /// If either batch is not `[B, 3, H, W]` with one `B` for both (burn's broadcast
    /// assertion); see [`ArcFace::try_id_loss`].
    pub fn id_loss(&self, y_hat: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
        let target = self.id_features(y).detach();
        let pred = self.id_features(y_hat);
        (pred * target).sum_dim(1).neg().add_scalar(1.0).mean()
    }

    /// [`ArcFace::id_features`] with the images' shape checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `images` is not `[B, 3, H, W]` with `B, H, W ≥ 1`.
    pub fn try_id_features(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        check_faces("images", &images)?;
        Ok(self.id_features(images))
    }

    /// [`ArcFace::id_loss`] with both batches checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when either is not `[B, 3, H, W]` with `B, H, W ≥ 1`, or the
    /// two batch sizes differ.
    pub fn try_id_loss(&self, y_hat: Tensor<4>, y: Tensor<4>) -> Result<Tensor<1>> {
        check_faces("y_hat", &y_hat)?;
        check_faces("y", &y)?;
        let (a, b) = (y_hat.dims()[0], y.dims()[0]);
        if a != b {
            return Err(Error::InvalidArgument(format!(
                "ID loss needs one batch size for both images, got {a} and {b}"
            )));
        }
        Ok(self.id_loss(y_hat, y))
    }
}

/// `[B, 3, H, W]` with nothing empty.
fn check_faces(what: &str, images: &Tensor<4>) -> Result<()> {
    let [b, c, h, w] = images.dims();
    if b == 0 || c != 3 || h == 0 || w == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what} must be [B, 3, H, W] face images, got [{b}, {c}, {h}, {w}]"
        )));
    }
    Ok(())
}
