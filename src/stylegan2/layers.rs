//! The generator's layers, bottom-up as in rosinality's `model.py`. Field names are the
//! checkpoint's key names, so `conv1.conv.modulation.weight` is `self.conv1.conv.modulation.weight`.
//!
//! Equalized learning rate: parameters hold the raw stored values (e.g. `N(0,1)/lr_mul`) and the
//! forward pass multiplies by the runtime scale, so optimisers see the same parameters as the
//! official code.

use burn::module::Param;
use burn::prelude::*;

use crate::error::Result;
use crate::ops::{ModConvMode, fused_leaky_relu, make_kernel, modulated_conv2d, upfirdn2d};
use crate::weights::{Init, ParamSource};

/// `key.sub`, or `sub` at the root.
pub(crate) fn join(key: &str, sub: &str) -> String {
    if key.is_empty() {
        sub.to_string()
    } else {
        format!("{key}.{sub}")
    }
}

/// A `[n, n]` FIR kernel as a tensor constant.
pub(crate) fn kernel_tensor(k: &[f32], gain: f32, device: &Device) -> Tensor<2> {
    let n = k.len();
    Tensor::from_data(TensorData::new(make_kernel(k, gain), [n, n]), device)
}

/// Linear layer with equalized learning rate: `y = x·(W·scale)ᵀ + b·lr_mul`, optionally followed
/// by the fused leaky ReLU.
#[derive(Module, Debug)]
pub struct EqualLinear {
    /// Stored weight `[out, in]` (PyTorch layout).
    pub weight: Param<Tensor<2>>,
    /// Stored bias `[out]`.
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    scale: f64,
    #[module(skip)]
    lr_mul: f64,
    #[module(skip)]
    activate: bool,
}

impl EqualLinear {
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        in_dim: usize,
        out_dim: usize,
        bias_init: f64,
        lr_mul: f64,
        activate: bool,
    ) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &join(key, "weight"),
                [out_dim, in_dim],
                Init::Normal(1.0 / lr_mul),
            )?),
            bias: Param::from_tensor(src.tensor(
                &join(key, "bias"),
                [out_dim],
                Init::Constant(bias_init),
            )?),
            scale: lr_mul / (in_dim as f64).sqrt(),
            lr_mul,
            activate,
        })
    }

    /// The weight and bias the layer actually applies (`W·scale`, `b·lr_mul`).
    pub(crate) fn effective(&self) -> (Tensor<2>, Tensor<1>) {
        (
            self.weight.val().mul_scalar(self.scale),
            self.bias.val().mul_scalar(self.lr_mul),
        )
    }

    /// The same layer applying `weight` (`[out, in]`) and `bias` (`[out]`): stored as
    /// `weight / scale` and `bias / lr_mul`, so the equalised-lr convention is kept.
    pub(crate) fn with_effective(mut self, weight: Tensor<2>, bias: Tensor<1>) -> Self {
        self.weight = Param::initialized(self.weight.id, weight.div_scalar(self.scale));
        self.bias = Param::initialized(self.bias.id, bias.div_scalar(self.lr_mul));
        self
    }

    /// The input is flattened to 2-D and the equalized-lr scale applied to the (small) output
    /// rather than the (512 × 512) weight: on flex a 3-D `linear` against the transposed weight
    /// view took 0.32 ms for `[1, 4, 512]`, the 2-D product 0.14 ms.
    ///
    /// # Shapes
    /// `[.., in] → [.., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut dims = x.dims();
        let [out, inp] = self.weight.dims();
        let rows = dims[..D - 1].iter().product();
        let y = x
            .reshape([rows, inp])
            .matmul(self.weight.val().transpose())
            .mul_scalar(self.scale);
        let b = self.bias.val().mul_scalar(self.lr_mul);
        let y = if self.activate {
            fused_leaky_relu(y, Some(b), 1)
        } else {
            y + b.reshape([1, out])
        };
        dims[D - 1] = out;
        y.reshape(dims)
    }
}

/// Modulated convolution: the affine `modulation` maps w to this layer's style vector.
#[derive(Module, Debug)]
pub struct ModulatedConv2d {
    /// Stored weight `[1, O, I, k, k]`.
    pub weight: Param<Tensor<5>>,
    /// w → style (bias initialised to 1).
    pub modulation: EqualLinear,
    /// `4 · make_kernel(blur)` for up-sampling layers.
    up_blur: Option<Tensor<2>>,
    #[module(skip)]
    scale: f64,
    #[module(skip)]
    demodulate: bool,
}

impl ModulatedConv2d {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        in_ch: usize,
        out_ch: usize,
        kernel_size: usize,
        style_dim: usize,
        demodulate: bool,
        upsample_blur: Option<&[f32]>,
    ) -> Result<Self> {
        let k = kernel_size;
        let weight = src.tensor(
            &join(key, "weight"),
            [1, out_ch, in_ch, k, k],
            Init::Normal(1.0),
        )?;
        let modulation = EqualLinear::build(
            src,
            &join(key, "modulation"),
            style_dim,
            in_ch,
            1.0,
            1.0,
            false,
        )?;
        let up_blur = upsample_blur.map(|b| kernel_tensor(b, 4.0, src.device()));
        Ok(Self {
            weight: Param::from_tensor(weight),
            modulation,
            up_blur,
            scale: 1.0 / ((in_ch * k * k) as f64).sqrt(),
            demodulate,
        })
    }

    /// The layer's style vector (StyleSpace coordinates) for W rows `w`: `[B, D] → [B, I]`.
    pub fn style(&self, w: Tensor<2>) -> Tensor<2> {
        self.modulation.forward(w)
    }

    /// Convolve `x` modulated by `style` (`[B, I]`).
    pub fn forward(&self, x: Tensor<4>, style: Tensor<2>, mode: ModConvMode) -> Tensor<4> {
        let w = self.weight.val().mul_scalar(self.scale);
        let [_, o, i, k, _] = w.dims();
        modulated_conv2d(
            x,
            w.reshape([o, i, k, k]),
            style,
            self.demodulate,
            self.up_blur.clone(),
            mode,
        )
    }
}

/// Per-pixel noise, scaled by one learned scalar.
#[derive(Module, Debug)]
pub struct NoiseInjection {
    /// Noise strength `[1]`, initialised to 0.
    pub weight: Param<Tensor<1>>,
}

/// Per-channel bias + leaky ReLU × √2 (rosinality `FusedLeakyReLU`).
#[derive(Module, Debug)]
pub struct FusedLeakyReLU {
    /// Bias `[C]`.
    pub bias: Param<Tensor<1>>,
}

/// Modulated 3×3 convolution, noise, activation.
#[derive(Module, Debug)]
pub struct StyledConv {
    /// The modulated convolution.
    pub conv: ModulatedConv2d,
    /// Noise injection.
    pub noise: NoiseInjection,
    /// Bias + activation.
    pub activate: FusedLeakyReLU,
}

impl StyledConv {
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        in_ch: usize,
        out_ch: usize,
        style_dim: usize,
        upsample_blur: Option<&[f32]>,
    ) -> Result<Self> {
        let conv = ModulatedConv2d::build(
            src,
            &join(key, "conv"),
            in_ch,
            out_ch,
            3,
            style_dim,
            true,
            upsample_blur,
        )?;
        let noise = src.tensor(&join(key, "noise.weight"), [1], Init::Constant(0.0))?;
        let bias = src.tensor(&join(key, "activate.bias"), [out_ch], Init::Constant(0.0))?;
        Ok(Self {
            conv,
            noise: NoiseInjection {
                weight: Param::from_tensor(noise),
            },
            activate: FusedLeakyReLU {
                bias: Param::from_tensor(bias),
            },
        })
    }

    /// `act(modconv(x, style) + strength · noise)`; `noise` is `[B or 1, 1, H, W]`.
    pub fn forward(
        &self,
        x: Tensor<4>,
        style: Tensor<2>,
        noise: Option<Tensor<4>>,
        mode: ModConvMode,
    ) -> Tensor<4> {
        let mut out = self.conv.forward(x, style, mode);
        if let Some(noise) = noise {
            out = out + noise * self.noise.weight.val().reshape([1, 1, 1, 1]);
        }
        fused_leaky_relu(out, Some(self.activate.bias.val()), 1)
    }
}

/// 1×1 modulated convolution to RGB (no demodulation), bias, plus the up-sampled skip.
#[derive(Module, Debug)]
pub struct ToRGB {
    /// The modulated 1×1 convolution.
    pub conv: ModulatedConv2d,
    /// RGB bias `[1, 3, 1, 1]`.
    pub bias: Param<Tensor<4>>,
    /// `4 · make_kernel(blur)` for the skip's 2× up-sampling (`None` at 4 px).
    upsample: Option<Tensor<2>>,
}

impl ToRGB {
    pub(crate) fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        in_ch: usize,
        style_dim: usize,
        skip_blur: Option<&[f32]>,
    ) -> Result<Self> {
        let conv =
            ModulatedConv2d::build(src, &join(key, "conv"), in_ch, 3, 1, style_dim, false, None)?;
        let bias = src.tensor(&join(key, "bias"), [1, 3, 1, 1], Init::Constant(0.0))?;
        Ok(Self {
            conv,
            bias: Param::from_tensor(bias),
            upsample: skip_blur.map(|b| kernel_tensor(b, 4.0, src.device())),
        })
    }

    /// RGB of `x` plus the 2× up-sampled `skip` (if any).
    pub fn forward(
        &self,
        x: Tensor<4>,
        style: Tensor<2>,
        skip: Option<Tensor<4>>,
        mode: ModConvMode,
    ) -> Tensor<4> {
        let out = self.conv.forward(x, style, mode) + self.bias.val();
        match (skip, &self.upsample) {
            (Some(skip), Some(kernel)) => {
                let p = kernel.dims()[0] as isize - 2;
                let pad = ((p + 1).div_euclid(2) + 1, p.div_euclid(2));
                out + upfirdn2d(skip, kernel.clone(), 2, 1, pad)
            }
            (Some(skip), None) => out + skip,
            (None, _) => out,
        }
    }
}

/// The learned 4×4 constant the synthesis starts from.
#[derive(Module, Debug)]
pub struct ConstantInput {
    /// `[1, C, 4, 4]`.
    pub input: Param<Tensor<4>>,
}
