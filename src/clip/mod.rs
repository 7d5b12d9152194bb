//! OpenAI CLIP (ViT image and text towers), natively.
//!
//! - [`model`]: the networks, field names = OpenAI state-dict keys.
//! - [`config`]: presets (`ViT-B/32`, `ViT-B/16`, `ViT-L/14`, `ViT-L/14@336px`) and inference from
//!   shapes.
//! - [`load`]: one loader per checkpoint family (OpenAI/open_clip state dicts, Hugging Face,
//!   OpenAI's TorchScript releases).
//! - [`preprocess`]: `clip.load`'s PIL-exact transform and StyleCLIP's raw loss path.
//! - [`train`]: contrastive training and fine-tuning on image–caption pairs, and saving.
//! - [`Tokenizer`] (re-exported from [`crate::tokenizer`]): the byte-level BPE.

pub mod config;
pub mod load;
pub mod model;
pub mod preprocess;
pub mod train;

pub use crate::tokenizer::Tokenizer;
pub use config::ClipConfig;
pub use load::ClipFormat;
pub use model::Clip;
pub use train::{
    ContrastiveStep, ContrastiveTraining, InvariantPairs, Pairs, RankedPairs, contrastive_loss,
    invariance_loss, ranking_loss,
};
