//! OpenAI CLIP (ViT image and text towers), natively.
//!
//! - [`model`]: the networks, field names = OpenAI state-dict keys.
//! - [`config`]: presets (`ViT-B/32`, `ViT-B/16`, `ViT-L/14`, `ViT-L/14@336px`) and inference from
//!   shapes.
//! - [`load`]: one loader per checkpoint family (OpenAI/open_clip state dicts, Hugging Face).

pub mod config;
pub mod load;
pub mod model;
pub mod preprocess;

pub use config::ClipConfig;
pub use load::ClipFormat;
pub use model::Clip;
