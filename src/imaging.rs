//! Turning generator output into 8-bit pixels.

use burn::prelude::*;

use crate::error::{Error, Result};

/// An 8-bit RGB image, row-major, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height · width · 3` bytes.
    pub data: Vec<u8>,
}

/// Generator output (about `[-1, 1]`) to 8-bit images: `round((x + 1) · 127.5)`, clamped,
/// as `torchvision.utils.save_image(img, normalize=True, range=(-1, 1))` does.
///
/// # Shapes
/// `images`: `[B, 3, H, W]`
///
/// # Errors
/// [`Error::InvalidArgument`] when the images do not have 3 channels or have no pixels
/// (`H` or `W` is 0). A batch of 0 gives no images; NaN pixels become 0 (black).
pub fn to_rgb8(images: Tensor<4>) -> Result<Vec<Rgb8>> {
    let [b, c, h, w] = images.dims();
    if c != 3 || h == 0 || w == 0 {
        return Err(Error::InvalidArgument(format!(
            "expected [B, 3, H, W] images with H, W ≥ 1, got [{b}, {c}, {h}, {w}]"
        )));
    }
    let data = images
        .add_scalar(1.0)
        .mul_scalar(127.5)
        .clamp(0.0, 255.0)
        .permute([0, 2, 3, 1])
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Error::InvalidArgument(format!("cannot read image tensor: {e:?}")))?;
    Ok(data
        .chunks_exact(h * w * 3)
        .take(b)
        .map(|img| Rgb8 {
            width: w,
            height: h,
            data: img.iter().map(|v| v.round() as u8).collect(),
        })
        .collect())
}

/// Tile images of one size into a grid with `cols` columns and a `pad`-pixel black border.
pub fn grid(images: &[Rgb8], cols: usize, pad: usize) -> Result<Rgb8> {
    let first = images
        .first()
        .ok_or_else(|| Error::InvalidArgument("no images to tile".into()))?;
    let (w, h) = (first.width, first.height);
    if images.iter().any(|i| i.width != w || i.height != h) {
        return Err(Error::InvalidArgument(
            "grid images must share one size".into(),
        ));
    }
    let cols = cols.clamp(1, images.len());
    let rows = images.len().div_ceil(cols);
    let (gw, gh) = (cols * (w + pad) + pad, rows * (h + pad) + pad);
    let mut data = vec![0u8; gw * gh * 3];
    for (k, img) in images.iter().enumerate() {
        let (x0, y0) = (pad + (k % cols) * (w + pad), pad + (k / cols) * (h + pad));
        for y in 0..h {
            let dst = ((y0 + y) * gw + x0) * 3;
            data[dst..dst + w * 3].copy_from_slice(&img.data[y * w * 3..(y + 1) * w * 3]);
        }
    }
    Ok(Rgb8 {
        width: gw,
        height: gh,
        data,
    })
}
