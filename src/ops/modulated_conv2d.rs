//! Modulated convolution (StyleGAN2 §2.2): scale the weight's input channels by a per-sample
//! style, optionally demodulate each output channel to unit norm, convolve.
//!
//! Two ways to compute the same thing, as NVIDIA's `fused_modconv` has:
//! - **Fused**: build one modulated weight per sample, `[B·O, I, k, k]`, and run a single grouped
//!   convolution with `groups = B` (rosinality's formulation). At batch 1 this is an ordinary
//!   convolution.
//! - **Unfused**: scale the input by the style, run one shared-weight convolution over the whole
//!   batch, then multiply the output by the demodulation coefficients
//!   `rsqrt(s² · Σₖ w² + 1e-8)` (computed as one `[B, I] × [I, O]` matmul).
//!
//! The CubeCL backends (wgpu, CUDA) run grouped convolutions with a slow direct kernel, so
//! [`ModConvMode::Auto`] never runs fused above batch 1. At batch 1 the grouped convolution is an
//! ordinary one and the two paths differ only in their extra element-wise work: fused scales the
//! `O·I·k²` weights, unfused scales the `I·H·W` input and `O·H'·W'` output. Auto takes the
//! smaller, per layer: fused on the wide low-resolution layers, unfused on the large maps. (On
//! flex, 256 px config-f, 2 cores: fused-only 1.09 s, unfused-only 1.02 s per image.)
//! Both paths agree to float rounding (tested).

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use serde::{Deserialize, Serialize};

use super::upfirdn2d::upfirdn2d;

/// Demodulation epsilon of the official code.
pub const DEMOD_EPS: f64 = 1e-8;

/// Which formulation [`modulated_conv2d`] uses (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ModConvMode {
    /// Unfused above batch 1; at batch 1 whichever does less element-wise work for the layer.
    #[default]
    Auto,
    /// Grouped convolution over the batch (official rosinality path).
    Fused,
    /// Shared-weight convolution between input scaling and output demodulation.
    Unfused,
}

impl ModConvMode {
    /// Whether a layer runs fused: `batch` samples, a weight of `weight_len` elements, an input
    /// map of `input_len` and an output map of `output_len` elements per sample.
    pub fn is_fused(
        self,
        batch: usize,
        weight_len: usize,
        input_len: usize,
        output_len: usize,
    ) -> bool {
        match self {
            ModConvMode::Auto => batch == 1 && weight_len < input_len + output_len,
            ModConvMode::Fused => true,
            ModConvMode::Unfused => false,
        }
    }
}

/// Blur padding after a stride-2 transposed convolution (rosinality `ModulatedConv2d`).
fn up_blur_pad(blur_len: usize, kernel_size: usize) -> (isize, isize) {
    let p = (blur_len as isize - 2) - (kernel_size as isize - 1);
    ((p + 1).div_euclid(2) + 1, p.div_euclid(2) + 1)
}

/// Modulated convolution with optional 2× upsampling.
///
/// - `weight` is the effective weight (equalized-lr scale already applied), shared by the batch.
/// - `styles` are the per-sample input-channel scales (the StyleSpace vector of this layer).
/// - `up_blur`: `Some(kernel)` upsamples by 2 with a stride-2 transposed convolution followed by
///   this FIR kernel (already multiplied by `factor²` = 4), as rosinality does; `None` keeps the
///   resolution with "same" padding.
///
/// # Shapes
/// - `x`: `[B, I, H, W]`
/// - `weight`: `[O, I, k, k]`
/// - `styles`: `[B, I]`
/// - output: `[B, O, H, W]`, or `[B, O, 2H, 2W]` when upsampling
pub fn modulated_conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    styles: Tensor<2>,
    demodulate: bool,
    up_blur: Option<Tensor<2>>,
    mode: ModConvMode,
) -> Tensor<4> {
    let [b, i, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let (oh, ow) = if up_blur.is_some() {
        (2 * h, 2 * w)
    } else {
        (h, w)
    };
    let out = if mode.is_fused(b, o * i * k * k, i * h * w, o * oh * ow) {
        // [B, O, I, k, k] per-sample weights.
        let mut wm = weight.unsqueeze::<5>() * styles.clone().reshape([b, 1, i, 1, 1]);
        if demodulate {
            let d = wm
                .clone()
                .powi_scalar(2)
                .sum_dim(2)
                .sum_dim(3)
                .sum_dim(4)
                .add_scalar(DEMOD_EPS)
                .sqrt()
                .recip();
            wm = wm * d;
        }
        let xg = x.reshape([1, b * i, h, w]);
        let out = if up_blur.is_some() {
            let wt = wm.swap_dims(1, 2).reshape([b * i, o, k, k]);
            let opts = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], b);
            conv_transpose2d(xg, wt, None, opts)
        } else {
            let opts = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], b);
            conv2d(xg, wm.reshape([b * o, i, k, k]), None, opts)
        };
        let [_, _, oh, ow] = out.dims();
        out.reshape([b, o, oh, ow])
    } else {
        let xs = x * styles.clone().reshape([b, i, 1, 1]);
        let out = if up_blur.is_some() {
            let opts = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
            conv_transpose2d(xs, weight.clone().swap_dims(0, 1), None, opts)
        } else {
            let opts = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
            conv2d(xs, weight.clone(), None, opts)
        };
        if demodulate {
            // Σ_{i,kh,kw} (w·s)² = (s²) · (Σ_{kh,kw} w²)ᵀ  →  [B, O]
            let w2 = weight.powi_scalar(2).sum_dim(3).sum_dim(2).reshape([o, i]);
            let d = styles
                .powi_scalar(2)
                .matmul(w2.transpose())
                .add_scalar(DEMOD_EPS)
                .sqrt()
                .recip();
            out * d.reshape([b, o, 1, 1])
        } else {
            out
        }
    };
    match up_blur {
        Some(kernel) => {
            let pad = up_blur_pad(kernel.dims()[0], k);
            upfirdn2d(out, kernel, 1, 1, pad)
        }
        None => out,
    }
}
