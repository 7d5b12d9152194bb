//! A toy-faces world: a procedural renderer of cartoon faces with known attributes, and the
//! small networks trained on it, so that text-driven edits can be shown and measured offline.
//!
//! - [`attributes`]: the attribute record ([`Attributes`]), captions, and the deterministic map
//!   from a Gaussian latent to a face ([`Face::from_latent`]).
//! - [`render`]: the `tiny-skia` renderer, in the generator's domain ([`Style::Photo`]) and out
//!   of it ([`Style::Sketch`], [`Style::Negative`]).
//! - [`fit`]: fitting this crate's StyleGAN2 to the renderer by regression.
//! - [`oracle`]: a supervised CNN that reads the attributes and style back; it scores edits.
//!
//! The world renders at [`SIZE`] px. It is a miniature of StyleCLIP's face experiments with
//! ground truth: every image the renderer draws comes with the attributes it was drawn from.

pub mod attributes;
pub mod fit;
pub mod oracle;
pub mod render;

pub use attributes::{
    Attribute, Attributes, Background, Face, Glasses, HairColor, Hairstyle, Jitter, Mouth, Skin,
    Style,
};
pub use oracle::{Oracle, Reading};
pub use render::{render_batch, render_face, rgb8_to_tensor};

/// Side of the toy world's images, in pixels.
pub const SIZE: usize = 64;
