//! Bias + activation, and PixelNorm.

use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

/// Negative slope of StyleGAN2's leaky ReLU.
pub const LRELU_SLOPE: f64 = 0.2;
/// Gain that keeps the activation variance-preserving: √2.
pub const LRELU_GAIN: f64 = std::f64::consts::SQRT_2;

/// `leaky_relu(x + bias, 0.2) · √2`, rosinality's `fused_leaky_relu`.
///
/// The bias is broadcast along `bias_dim`: the channel axis (1) for feature maps, the last axis
/// for the outputs of linear layers. (The official CUDA-free fallback puts the bias on the last
/// axis for 3-D input and on axis 1 otherwise; callers choose explicitly here.)
///
/// # Shapes
/// - `x`: any rank `D`, with `x.dims()[bias_dim] == bias.dims()[0]`
/// - `bias`: `[C]`
pub fn fused_leaky_relu<const D: usize>(
    x: Tensor<D>,
    bias: Option<Tensor<1>>,
    bias_dim: usize,
) -> Tensor<D> {
    let x = match bias {
        Some(b) => {
            let mut shape = [1usize; D];
            shape[bias_dim] = b.dims()[0];
            x + b.reshape(shape)
        }
        None => x,
    };
    leaky_relu(x, LRELU_SLOPE).mul_scalar(LRELU_GAIN)
}

/// `x · rsqrt(mean(x², dim) + 1e-8)`: StyleGAN's PixelNorm over axis `dim`.
pub fn pixel_norm<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = x
        .clone()
        .powi_scalar(2)
        .mean_dim(dim)
        .add_scalar(1e-8)
        .sqrt()
        .recip();
    x * norm
}
