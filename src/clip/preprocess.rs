//! Image preprocessing for CLIP.
//!
//! [`styleclip_raw`] is the path StyleCLIP's latent optimisation and mapper use
//! (`criteria/clip_loss.py`): the raw generator output, still in about `[-1, 1]`, upsampled ×7
//! (nearest) and average-pooled with a `size/32` window, **without** CLIP's mean/std
//! normalisation (StyleCLIP issue #38; reproduced because it is what the official numbers
//! come from).
//!
//! Nearest-×7 followed by a `k = size/32` average pool is linear and separable, so it is computed
//! as `A · X · Aᵀ` with a `[224, size]` box matrix `A[i, s] = |{r ∈ [i·k, (i+1)·k) : ⌊r/7⌋ = s}| / k`.
//! At 1024 px this avoids the 7168² intermediate (the 7× upsample of a batch of 1024² images is
//! 49× the input's memory) and stays differentiable.

use burn::prelude::*;

use crate::error::{Error, Result};

/// The box matrix `A` (`[out, size]`) of nearest-×`up` then average pool with window `k`.
fn box_matrix(size: usize, up: usize, k: usize, device: &Device) -> Tensor<2> {
    let out = size * up / k;
    let mut a = vec![0f32; out * size];
    for i in 0..out {
        for r in i * k..(i + 1) * k {
            a[i * size + r / up] += 1.0 / k as f32;
        }
    }
    Tensor::from_data(TensorData::new(a, [out, size]), device)
}

/// StyleCLIP's CLIP input: `AvgPool2d(size/32)(Upsample(×7, nearest)(image))`, no normalisation.
///
/// # Shapes
/// `[B, C, S, S]` with `S` a multiple of 32 → `[B, C, 224, 224]`
///
/// # Errors
/// [`Error::InvalidArgument`] when the image is not square or `S` is not a positive multiple of
/// 32 (the official pooling window `S // 32` would be 0 or would not tile the upsampled image).
pub fn styleclip_raw(image: Tensor<4>) -> Result<Tensor<4>> {
    let [b, c, h, w] = image.dims();
    if h != w || h < 32 || h % 32 != 0 {
        return Err(Error::InvalidArgument(format!(
            "StyleCLIP's CLIP path needs a square image whose side is a multiple of 32, got {h}×{w}"
        )));
    }
    let a = box_matrix(h, 7, h / 32, &image.device());
    let out = a.dims()[0];
    // Rows: [out, S] × [B·C·S, S]ᵀ per image, done as two matmuls over the flattened batch.
    let x = image.reshape([b * c, h, w]);
    let at = a.clone().transpose().unsqueeze::<3>().repeat_dim(0, b * c);
    let a3 = a.unsqueeze::<3>().repeat_dim(0, b * c);
    Ok(a3.matmul(x).matmul(at).reshape([b, c, out, out]))
}
