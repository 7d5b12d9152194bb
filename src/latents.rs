//! Reading and writing latent codes: W+ arrays from the files users bring.
//!
//! Accepted: `torch.save(tensor)` `.pt` files (e4e's `latents.pt`, read by the data-only pickle
//! walker) or `.pt` dicts, NumPy `.npy` (f16/f32/f64, either byte order, C or Fortran order), and
//! safetensors. A file with several tensors must name the latent `latent`, `latents`, `w_plus`,
//! `wp` or `w`.

use std::path::Path;

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::weights::TensorFile;

/// Keys tried, in order, when a file holds several tensors.
pub const LATENT_KEYS: [&str; 5] = ["latent", "latents", "w_plus", "wp", "w"];

/// Load W+ latents `[B, n_latent, style_dim]` (a single `[n_latent, style_dim]` latent gets a
/// batch axis), checking the two trailing sizes.
pub fn load_w_plus(
    path: impl AsRef<Path>,
    n_latent: usize,
    style_dim: usize,
    device: &Device,
) -> Result<Tensor<3>> {
    let file = TensorFile::open(path)?;
    let keys = file.keys();
    let key = if keys.len() == 1 {
        keys[0].to_string()
    } else {
        LATENT_KEYS
            .iter()
            .find(|k| file.contains(k))
            .map(|k| k.to_string())
            .ok_or_else(|| Error::MissingKey {
                key: format!("one of {LATENT_KEYS:?}"),
                source_name: format!("{} (keys: {keys:?})", file.path().display()),
            })?
    };
    let (values, shape) = file.read_f32(&key)?;
    let (b, n, d) = match shape.as_slice() {
        [n, d] => (1, *n, *d),
        [b, n, d] => (*b, *n, *d),
        _ => (0, 0, 0),
    };
    if (n, d) != (n_latent, style_dim) || b == 0 {
        return Err(Error::ShapeMismatch {
            key,
            expected: vec![b.max(1), n_latent, style_dim],
            found: shape,
        });
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [b, n, d]),
        device,
    ))
}

/// Save latents (any rank) as safetensors under the key `latent`.
pub fn save_latent<const D: usize>(path: impl AsRef<Path>, latent: Tensor<D>) -> Result<()> {
    crate::weights::save_safetensors(
        path.as_ref(),
        vec![("latent".to_string(), latent.into_data())],
        Default::default(),
    )
}
