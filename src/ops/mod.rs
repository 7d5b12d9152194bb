//! Free-function building blocks of StyleGAN2, each with a slow reference beside the fast path
//! where the fast path is not obviously the definition.
//!
//! - [`upfirdn2d()`]: upsample (zero insertion), pad or crop, FIR filter, downsample.
//! - [`bias_act`]: bias + leaky ReLU × √2 (rosinality's `fused_leaky_relu`).
//! - [`modulated_conv2d()`]: style-modulated, optionally demodulated convolution, fused (grouped
//!   over the batch) or unfused (shared-weight conv between two scalings).

pub mod bias_act;
pub mod modulated_conv2d;
pub mod upfirdn2d;

pub use bias_act::{fused_leaky_relu, pixel_norm};
pub use modulated_conv2d::{ModConvMode, modulated_conv2d};
pub use upfirdn2d::{make_kernel, upfirdn2d, upfirdn2d_ref};
