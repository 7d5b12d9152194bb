//! Images in and out: generator output to 8-bit pixels and PNG files, and image files (PNG,
//! JPEG, WebP) to generator-sized tensors in `[-1, 1]`. [`align`] crops a face photo the way
//! FFHQ was made, from landmarks.

use std::path::Path;

use burn::prelude::*;

use crate::error::{Error, Result};

pub mod align;

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

/// Read an image file (PNG, JPEG or WebP; the format is sniffed from the bytes) as 8-bit RGB.
/// Grey and alpha channels are converted (alpha is dropped, not blended).
///
/// # Errors
/// [`Error::FileNotFound`], [`Error::Io`], or [`Error::NotAnImage`] naming the file and what
/// the decoder found wrong.
pub fn read_rgb8(path: impl AsRef<Path>) -> Result<Rgb8> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::FileNotFound(path.to_path_buf()));
    }
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let not_an_image = |reason: String| Error::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    if reader.format().is_none() {
        return Err(not_an_image(
            "unknown format (the first bytes match no PNG, JPEG or WebP signature)".into(),
        ));
    }
    let mut decoder = reader;
    // Decoding limits: a declared size far beyond any photo is refused before allocation.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1 << 30);
    decoder.limits(limits);
    let img = decoder.decode().map_err(|e| not_an_image(e.to_string()))?;
    let rgb = img.into_rgb8();
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    if width == 0 || height == 0 {
        return Err(not_an_image("the image has no pixels".into()));
    }
    Ok(Rgb8 {
        width,
        height,
        data: rgb.into_raw(),
    })
}

/// The largest width or height [`read_rgb8`] decodes (16 384 px).
pub const MAX_SIDE: u32 = 16_384;

/// The central square of `img` (side `min(width, height)`, offset `⌊(long − short) / 2⌋`)
/// resized to `size × size` with a Lanczos-3 filter computed in f32 (no 8-bit rounding
/// between the passes). A square image of side `size` is returned unchanged.
///
/// This is how [`load_image`] fits a photo to a generator. It is not PIL's bilinear resize of
/// rosinality's `projector.py` (`Resize(256)` then `CenterCrop(256)`): pixels differ slightly
/// at the same size; parity with the official projector is on tensors, not on files.
///
/// # Errors
/// [`Error::InvalidArgument`] when `size` is 0 or the image is empty or inconsistent.
pub fn fit_square(img: &Rgb8, size: usize) -> Result<Rgb8> {
    let (w, h) = (img.width, img.height);
    if size == 0 || w == 0 || h == 0 || img.data.len() != w * h * 3 {
        return Err(Error::InvalidArgument(format!(
            "cannot fit a {w}×{h} image ({} bytes) to a {size}-px square",
            img.data.len()
        )));
    }
    let side = w.min(h);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    if side == size && w == h {
        return Ok(img.clone());
    }
    let mut square = image::Rgb32FImage::new(side as u32, side as u32);
    for (y, row) in square.rows_mut().enumerate() {
        for (x, px) in row.enumerate() {
            let at = ((y0 + y) * w + x0 + x) * 3;
            let c = &img.data[at..at + 3];
            *px = image::Rgb([c[0] as f32, c[1] as f32, c[2] as f32]);
        }
    }
    let out = if side == size {
        square
    } else {
        image::imageops::resize(
            &square,
            size as u32,
            size as u32,
            image::imageops::FilterType::Lanczos3,
        )
    };
    Ok(Rgb8 {
        width: size,
        height: size,
        data: out
            .into_raw()
            .into_iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect(),
    })
}

/// 8-bit images to a `[B, 3, H, W]` tensor in `[-1, 1]`: `x / 127.5 − 1`, the inverse of
/// [`to_rgb8`] (torchvision's `ToTensor` then `Normalize(0.5, 0.5)`).
///
/// # Errors
/// [`Error::InvalidArgument`] when there are no images, they differ in size, or a buffer does
/// not hold `width · height · 3` bytes.
pub fn from_rgb8(images: &[Rgb8], device: &Device) -> Result<Tensor<4>> {
    let first = images
        .first()
        .ok_or_else(|| Error::InvalidArgument("no images to convert".into()))?;
    let (w, h) = (first.width, first.height);
    if let Some(bad) = images
        .iter()
        .find(|i| i.width != w || i.height != h || i.data.len() != w * h * 3)
    {
        return Err(Error::InvalidArgument(format!(
            "images must share one size with 3 bytes a pixel: {w}×{h} and {}×{} ({} bytes)",
            bad.width,
            bad.height,
            bad.data.len()
        )));
    }
    let data: Vec<f32> = images
        .iter()
        .flat_map(|i| i.data.iter().map(|&v| v as f32 / 127.5 - 1.0))
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(data, [images.len(), h, w, 3]), device);
    Ok(x.permute([0, 3, 1, 2]))
}

/// Read an image file and fit it to a generator: [`read_rgb8`], [`fit_square`] to
/// `size × size`, [`from_rgb8`]. Returns `[1, 3, size, size]` in `[-1, 1]`.
///
/// Face generators (FFHQ) expect an aligned face crop: eyes and mouth where FFHQ puts them.
/// This function only crops the centre and resizes; align a photo first with
/// [`align::align_face`] (the FFHQ recipe, from a detector's landmarks) or the inversion will
/// be poor.
///
/// # Errors
/// As [`read_rgb8`] and [`fit_square`].
pub fn load_image(path: impl AsRef<Path>, size: usize, device: &Device) -> Result<Tensor<4>> {
    let img = fit_square(&read_rgb8(path)?, size)?;
    from_rgb8(&[img], device)
}

/// Write an 8-bit RGB image as PNG.
///
/// # Errors
/// [`Error::InvalidArgument`] for an inconsistent buffer, [`Error::Io`] when the file cannot
/// be written.
pub fn save_png(path: impl AsRef<Path>, img: &Rgb8) -> Result<()> {
    let path = path.as_ref();
    if img.width == 0 || img.height == 0 || img.data.len() != img.width * img.height * 3 {
        return Err(Error::InvalidArgument(format!(
            "cannot save a {}×{} image from {} bytes",
            img.width,
            img.height,
            img.data.len()
        )));
    }
    image::save_buffer_with_format(
        path,
        &img.data,
        img.width as u32,
        img.height as u32,
        image::ColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| match e {
        image::ImageError::IoError(io) => Error::io(path, io),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    })
}
