//! StyleCLIP's editing methods, one file each, each reading like its equation.
//!
//! - [`optimization`]: method 1, text-driven latent optimisation (W+ or StyleSpace).
//! - [`mapper`]: method 2, the latent mapper (train, run, load the official mappers).
//! - [`global_direction`]: method 3, text-driven global directions in StyleSpace.
//! - [`nada`]: StyleGAN-NADA, fine-tuning the generator itself to a new domain.
//! - [`optim`]: the official optimisers (PyTorch's Adam, StyleCLIP's Ranger), per tensor.
//!
//! Methods 1 and 2 share the CLIP term [`clip_loss`].

pub mod global_direction;
pub mod mapper;
pub mod nada;
pub mod optim;
pub mod optimization;

use burn::prelude::*;

use crate::clip::Clip;
use crate::clip::model::l2_normalize;
use crate::clip::preprocess::{clip_normalized, styleclip_raw};
use crate::error::Result;

/// How generator output reaches CLIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipInput {
    /// StyleCLIP's own path: raw `[-1, 1]` pixels, ×7 nearest, avg-pool `size/32`.
    #[default]
    Raw,
    /// `[0, 1]`, antialiased bicubic to CLIP's resolution, CLIP mean/std.
    Normalized,
}

/// The official `CLIPLoss` (`criteria/clip_loss.py`), averaged over the batch:
/// `mean_b (1 − logits_b / 100)` with `logits = exp(logit_scale) · cos(CLIP(image_b), text)`.
///
/// # Shapes
/// - `images`: `[B, 3, H, W]` in `[-1, 1]`
/// - `text`: `[1, E]`, unit norm (from [`Clip::encode_text`] and [`l2_normalize`])
/// - returns `[1]`
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when the images do not fit the CLIP input path (see
/// [`styleclip_raw`] and [`clip_normalized`]) or `text` is not `[1, embed_dim]`.
pub fn clip_loss(
    clip: &Clip,
    input: ClipInput,
    images: Tensor<4>,
    text: Tensor<2>,
) -> Result<Tensor<1>> {
    let [tb, te] = text.dims();
    let e = clip.config().embed_dim;
    if (tb, te) != (1, e) {
        return Err(crate::Error::InvalidArgument(format!(
            "the text feature must be [1, {e}], got [{tb}, {te}]"
        )));
    }
    let img = l2_normalize(clip.encode_image(clip_pixels(clip, input, images)?));
    let logits = img.matmul(text.transpose()) * clip.logit_scale_exp().reshape([1, 1]);
    Ok(logits.div_scalar(100.0).neg().add_scalar(1.0).mean())
}

/// Generator output `[B, 3, H, W]` in `[-1, 1]` as `clip`'s input by the path `input`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when the images do not fit that path (see
/// [`styleclip_raw`] and [`clip_normalized`]).
pub fn clip_pixels(clip: &Clip, input: ClipInput, images: Tensor<4>) -> Result<Tensor<4>> {
    match input {
        ClipInput::Raw => styleclip_raw(images),
        ClipInput::Normalized => clip_normalized(images, clip.config().image_resolution),
    }
}

/// A float tensor's values on the host (one device → host transfer).
pub(crate) fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| crate::Error::InvalidArgument(format!("cannot read tensor: {e:?}")))
}
