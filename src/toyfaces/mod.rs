//! A toy-faces world: a procedural renderer of cartoon faces with known attributes, and the
//! small networks trained on it, so that text-driven edits can be shown and measured offline.
//!
//! - [`attributes`]: the attribute record ([`Attributes`]), captions, and the deterministic map
//!   from a Gaussian latent to a face ([`Face::from_latent`]).
//! - [`render`]: the `tiny-skia` renderer, in the generator's domain ([`Style::Photo`]) and out
//!   of it ([`Style::Sketch`], [`Style::Negative`]).
//! - [`fit`]: fitting this crate's StyleGAN2 to the renderer by regression.
//! - [`contrastive`]: the toy CLIP's configuration, caption pairs and zero-shot table.
//! - [`score`]: the attribute values a prompt asks for and the oracle's verdict on an edit.
//! - [`world`]: [`ToyFaces`], the shipped networks loaded together.
//! - [`edits`]: the three methods on the toy world and their oracle-measured rates.
//! - [`inversion`]: renders projected into the generator (real images in) and the oracle's
//!   reading of the reconstructions.
//! - [`oracle`]: a supervised CNN that reads the attributes and style back; it scores edits.
//!
//! The world renders at [`SIZE`] px. It is a miniature of StyleCLIP's face experiments with
//! ground truth: every image the renderer draws comes with the attributes it was drawn from.

pub mod attributes;
pub mod contrastive;
pub mod edits;
pub mod fit;
pub mod inversion;
pub mod oracle;
pub mod render;
pub mod score;
pub mod world;

pub use attributes::{
    Attribute, Attributes, Background, CLASS_COUNTS, Face, Glasses, HairColor, Hairstyle, Jitter,
    Mouth, Skin, Style, latent_units,
};
pub use edits::{EditSettings, Method, Rates};
pub use oracle::{Oracle, Reading};
pub use render::{render_batch, render_face, rgb8_to_tensor};
pub use score::{Verdict, prompt_targets, verdict};
pub use world::{MAPPER_PROMPTS, ToyFaces};

/// Side of the toy world's images, in pixels.
pub const SIZE: usize = 64;
