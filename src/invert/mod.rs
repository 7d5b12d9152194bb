//! Real images in: find the W+ latent whose image is a given photo, so that the three StyleCLIP
//! methods can edit it.
//!
//! ```text
//! photo ──imaging::load_image──▶ x [1, 3, S, S] in [-1, 1]
//!       ──projector::Projector (rosinality `projector.py`: Adam on w (+ noise maps),
//!                               LPIPS + λ_MSE·MSE + λ_noise·noise regularisation)──▶ w⁺
//!       ──edit::{optimization, mapper, global_direction}──▶ edited image
//! ```
//!
//! - [`projector`]: the optimisation-based inversion, with every random draw of the official
//!   loop available from outside (latent statistics, initial noise maps, per-step latent
//!   noise), and a [`projector::Perceptual`] distance (LPIPS) that is optional: without one the
//!   projector runs on the pixel loss alone and says so in its result.
//! - [`E4e`] (the e4e encoder, [`crate::e4e`]): one forward pass from an aligned 256 px face to
//!   W+, the usual start of a projection ([`Start::WPlus`]).
//! - [`Lpips`] ([`crate::lpips`]): the perceptual distance the projector minimises.
//! - Photos come in through [`crate::imaging::load_image`] (aligned first with
//!   [`crate::imaging::align`] when they are face photos).
//!
//! ```no_run
//! use burn::prelude::*;
//! use styleclip::invert::{E4e, Lpips, Projector, Start};
//! use styleclip::imaging::load_image;
//! use styleclip::stylegan2::Generator;
//!
//! # fn main() -> styleclip::Result<()> {
//! let device = Device::flex().autodiff();
//! let g = Generator::load("stylegan2-ffhq-config-f.pt", &device)?.no_grad();
//! let image = load_image("face.png", 256, &device)?;
//! let e4e = E4e::load("e4e_ffhq_encode.pt", &device)?;
//! let start = e4e.encode(load_image("face.png", 256, &device)?); // [1, 18, 512]
//! let lpips = Lpips::load("vgg16-397923af.pth", "vgg.pth", &device)?;
//! let result = Projector::new()
//!     .with_steps(300)
//!     .with_w_plus(true)
//!     .with_start(Start::WPlus(start.detach()))
//!     .run(&g, &lpips, image, |_| ())?;
//! let (w_plus, reconstruction) = (result.latent, result.image);
//! # Ok(()) }
//! ```

pub mod projector;

pub use crate::e4e::Encoder4Editing as E4e;
pub use crate::lpips::Lpips;
pub use projector::{Perceptual, PixelOnly, Projection, Projector, ProjectorStep, Start};
