//! # styleclip
//!
//! Text-driven StyleGAN editing (StyleCLIP, Patashnik et al., ICCV 2021) in pure Rust on
//! [burn](https://burn.dev). One code path runs on CPU (`flex`), wgpu (Vulkan/Metal) and CUDA:
//! every function takes or infers a `burn::prelude::Device`.
//!
//! Layout, following the data flow:
//! - [`ops`]: free functions (upfirdn2d, bias + activation, modulated convolution).
//! - [`stylegan2`]: the generator, its latent spaces and StyleSpace, checkpoint loading.
//! - [`clip`] + [`tokenizer`]: OpenAI CLIP (ViT towers, loaders for the OpenAI, Hugging Face
//!   and TorchScript formats, preprocessing) and its byte-level BPE tokenizer.
//! - [`arcface`]: the IR-SE50 face-identity network and StyleCLIP's ID loss.
//! - [`lpips`]: the LPIPS v0.1 (VGG16) perceptual distance, the loss of photo inversion.
//! - [`e4e`]: the e4e encoder (real face photo → W+), sharing ArcFace's IR-SE50 blocks.
//! - [`weights`]: safe readers for `torch.save`, TorchScript and safetensors files.
//! - [`invert`]: real images in: a photo's W+ latent by optimisation (rosinality's projector).
//! - [`toyfaces`]: a procedural cartoon-face world with known attributes, for offline edits.
//! - `pretrained` (feature `pretrained`): the catalogue of official checkpoints, found in a
//!   user folder or the Hugging Face cache and verified by sha256.
//! - [`imaging`], [`device`]: 8-bit images and device names for tools and examples.
//!
//! ```no_run
//! use burn::prelude::*;
//! use styleclip::stylegan2::{Generator, NoiseMode};
//!
//! # fn main() -> styleclip::Result<()> {
//! let device = Device::flex();
//! let g = Generator::load("stylegan2-ffhq-config-f.pt", &device)?;
//! let z = g.sample_z(4, 42);
//! let w = g.mapping(z);
//! let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));
//! let wp = g.broadcast(g.truncate(w, 0.7, avg));
//! let image = g.synthesis(wp, NoiseMode::Const); // [4, 3, 1024, 1024], about [-1, 1]
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod arcface;
pub mod clip;
pub mod device;
pub mod e4e;
pub mod edit;
pub mod error;
pub mod imaging;
pub mod invert;
pub mod latents;
pub mod lpips;
pub mod ops;
#[cfg(feature = "pretrained")]
pub mod pretrained;
pub mod stylegan2;
pub mod tokenizer;
pub mod toyfaces;
pub(crate) mod training;
pub mod weights;

pub use error::{Error, Result};

/// Compiles the README's code blocks as doctests, so the usage snippet stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
