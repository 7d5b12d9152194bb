//! StyleGAN2 generator with rosinality / StyleCLIP `models/stylegan2/model.py` semantics.
//!
//! Data flow: `z` →[mapping: PixelNorm + n_mlp × EqualLinear(lr 0.01, lrelu)]→ `w` → (truncate,
//! broadcast or mix) → `W+` `[B, n_latent, D]` →[per-layer affine]→ StyleSpace ([`StyleCode`]) →
//! synthesis (constant 4×4 input, modulated convs with noise, ToRGB skips) → image in about
//! `[-1, 1]`, `[B, 3, size, size]`.
//!
//! Layout choices:
//! - Layers live in [`layers`] with fields named like the checkpoint keys; the ops they call are
//!   free functions in [`crate::ops`].
//! - One constructor per layer serves both random initialisation and checkpoint loading (through
//!   a `ParamSource`), so shapes are checked in one place and the two cannot drift apart.
//! - Noise is always explicit ([`NoiseMode`]): never drawn from a hidden global RNG.

pub(crate) mod checkpoint;
mod config;
mod generator;
pub mod layers;
mod style_code;

pub use crate::ops::ModConvMode;
pub use config::GeneratorConfig;
pub use generator::{Generator, NoiseMode};
pub use style_code::{LayerKind, StyleCode, StyleLayer};

pub(crate) use generator::normal;
