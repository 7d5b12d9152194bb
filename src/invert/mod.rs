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

pub mod projector;
