//! Image preprocessing for CLIP.
//!
//! Three paths:
//! - [`clip_preprocess`] is OpenAI's `clip.load` transform for images from disk: PIL bicubic
//!   resize of the short side on uint8 pixels (Pillow's fixed-point, antialiased resampler,
//!   reproduced exactly), centre crop with Python's round-half-to-even offsets, `/255`, CLIP's
//!   mean/std. A float bicubic differs from PIL by up to 0.2 after normalisation, so the integer
//!   arithmetic is kept.
//! - [`clip_normalized`] is the differentiable, correctly normalised path for generator output
//!   (the fix for StyleCLIP issue #38, and StyleGAN-NADA's preprocessing).
//! - [`styleclip_raw`] is the path StyleCLIP's latent optimisation and mapper use
//!   (`criteria/clip_loss.py`): the raw generator output, still in about `[-1, 1]`, upsampled ×7
//!   (nearest) and average-pooled with a `size/32` window, **without** CLIP's mean/std
//!   normalisation (StyleCLIP issue #38; reproduced because it is what the official numbers
//!   come from).
//!
//! Nearest-×7 followed by a `k = size/32` average pool is linear and separable, so it is computed
//! as `A · X · Aᵀ` with a `[224, size]` box matrix `A[i, s] = |{r ∈ [i·k, (i+1)·k) : ⌊r/7⌋ = s}| / k`.
//! At 1024 px this avoids the 7168² intermediate (the 7× upsample of a batch of 1024² images is
//! 49× the input's memory) and stays differentiable.

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::imaging::Rgb8;

/// CLIP's per-channel normalisation mean (RGB), as OpenAI writes it (applied in f32).
pub const CLIP_MEAN: [f64; 3] = [0.48145466, 0.4578275, 0.40821073];
/// CLIP's per-channel normalisation standard deviation (RGB), as OpenAI writes it.
pub const CLIP_STD: [f64; 3] = [0.26862954, 0.26130258, 0.27577711];

/// Pillow's bicubic kernel (`a = −0.5`).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point fraction bits of Pillow's 8-bit resampler (`32 − 8 − 2`).
const PRECISION_BITS: u32 = 22;

/// Per output pixel: the first input index and the normalised filter weights (Pillow's
/// `precompute_coeffs`; also what PyTorch's antialiased bicubic uses).
fn float_coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|x| {
            let center = (x as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let mut k: Vec<f64> = (xmin..xmax)
                .map(|j| bicubic((j as f64 - center + 0.5) / filterscale))
                .collect();
            let total: f64 = k.iter().sum();
            if total != 0.0 {
                k.iter_mut().for_each(|v| *v /= total);
            }
            (xmin, k)
        })
        .collect()
}

/// The same weights in Pillow's 8-bit fixed point (`normalize_coeffs_8bpc`).
fn coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i64>)> {
    let one = (1i64 << PRECISION_BITS) as f64;
    float_coeffs(in_size, out_size)
        .into_iter()
        .map(|(xmin, k)| {
            let fixed = k
                .iter()
                .map(|&v| {
                    if v < 0.0 {
                        (-0.5 + v * one) as i64
                    } else {
                        (0.5 + v * one) as i64
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// The `[out, in]` matrix of an antialiased bicubic resize along one axis.
fn resize_matrix(in_size: usize, out_size: usize, device: &Device) -> Tensor<2> {
    let mut m = vec![0f32; out_size * in_size];
    for (o, (start, k)) in float_coeffs(in_size, out_size).into_iter().enumerate() {
        for (j, w) in k.into_iter().enumerate() {
            m[o * in_size + start + j] = w as f32;
        }
    }
    Tensor::from_data(TensorData::new(m, [out_size, in_size]), device)
}

/// A differentiable CLIP input from generator output, for methods that fix StyleCLIP's raw path:
/// `[-1, 1] → [0, 1]`, short side to `n_px` by antialiased bicubic (PyTorch
/// `interpolate(mode="bicubic", antialias=True)`, i.e. torchvision's tensor `Resize`), centre
/// crop, CLIP mean/std. This is StyleGAN-NADA's CLIP preprocessing. The resize is two matrix
/// products, so gradients flow to the image.
///
/// # Shapes
/// `[B, 3, H, W]` → `[B, 3, n_px, n_px]`
pub fn clip_normalized(image: Tensor<4>, n_px: usize) -> Result<Tensor<4>> {
    let [b, c, h, w] = image.dims();
    if c != 3 || h == 0 || w == 0 || n_px == 0 {
        return Err(Error::InvalidArgument(format!(
            "expected [B, 3, H, W] images and a positive size, got [{b}, {c}, {h}, {w}] → {n_px}"
        )));
    }
    let device = image.device();
    let (nw, nh, top, left) = resize_crop_geometry(w, h, n_px);
    let x = image.add_scalar(1.0).div_scalar(2.0).reshape([b * c, h, w]);
    let x = if (nh, nw) == (h, w) {
        x
    } else {
        let rows = resize_matrix(h, nh, &device)
            .unsqueeze::<3>()
            .repeat_dim(0, b * c);
        let cols = resize_matrix(w, nw, &device)
            .transpose()
            .unsqueeze::<3>()
            .repeat_dim(0, b * c);
        rows.matmul(x).matmul(cols)
    };
    let x = x
        .slice([0..b * c, top..top + n_px, left..left + n_px])
        .reshape([b, c, n_px, n_px]);
    let mean: Vec<f32> = CLIP_MEAN.iter().map(|&v| v as f32).collect();
    let std: Vec<f32> = CLIP_STD.iter().map(|&v| v as f32).collect();
    let mean = Tensor::<1>::from_floats(mean.as_slice(), &device).reshape([1, 3, 1, 1]);
    let std = Tensor::<1>::from_floats(std.as_slice(), &device).reshape([1, 3, 1, 1]);
    Ok((x - mean) / std)
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One separable pass over rows (`horizontal`) or columns of an interleaved RGB buffer.
fn resample_pass(src: &Rgb8, out_len: usize, horizontal: bool) -> Rgb8 {
    let (w, h) = (src.width, src.height);
    let (ow, oh) = if horizontal {
        (out_len, h)
    } else {
        (w, out_len)
    };
    let k = coeffs(if horizontal { w } else { h }, out_len);
    let mut data = vec![0u8; ow * oh * 3];
    let half = 1i64 << (PRECISION_BITS - 1);
    for y in 0..oh {
        for x in 0..ow {
            let (start, weights) = if horizontal { &k[x] } else { &k[y] };
            for c in 0..3 {
                let mut acc = half;
                for (j, wgt) in weights.iter().enumerate() {
                    let (sx, sy) = if horizontal {
                        (start + j, y)
                    } else {
                        (x, start + j)
                    };
                    acc += wgt * src.data[(sy * w + sx) * 3 + c] as i64;
                }
                data[(y * ow + x) * 3 + c] = clip8(acc);
            }
        }
    }
    Rgb8 {
        width: ow,
        height: oh,
        data,
    }
}

/// `PIL.Image.resize((width, height), BICUBIC)` on an RGB image, bit-exact: horizontal pass
/// first, each pass rounding to 8 bits, as Pillow's `ImagingResample` does.
pub fn resize_bicubic_pil(img: &Rgb8, width: usize, height: usize) -> Rgb8 {
    let mut out = img.clone();
    if width != img.width {
        out = resample_pass(&out, width, true);
    }
    if height != img.height {
        out = resample_pass(&out, height, false);
    }
    out
}

/// torchvision `Resize(n_px)` (short side to `n_px`, long side `int(n_px · long / short)`,
/// PIL bicubic) then `CenterCrop(n_px)` (offsets `round((size − n_px) / 2)`, half to even).
pub fn clip_resize_crop(img: &Rgb8, n_px: usize) -> Result<Rgb8> {
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 || img.data.len() != w * h * 3 {
        return Err(Error::InvalidArgument(format!(
            "not an RGB image: {w}×{h} with {} bytes",
            img.data.len()
        )));
    }
    let (nw, nh, top, left) = resize_crop_geometry(w, h, n_px);
    let resized = if (nw, nh) == (w, h) {
        img.clone()
    } else {
        resize_bicubic_pil(img, nw, nh)
    };
    let mut data = Vec::with_capacity(n_px * n_px * 3);
    for y in top..top + n_px {
        let row = (y * nw + left) * 3;
        data.extend_from_slice(&resized.data[row..row + n_px * 3]);
    }
    Ok(Rgb8 {
        width: n_px,
        height: n_px,
        data,
    })
}

/// torchvision's `Resize(n_px)` + `CenterCrop(n_px)` geometry for a `w × h` image: the resized
/// size (short side `n_px`, long side `int(n_px · long / short)`) and the crop's top-left
/// corner (`round((size − n_px) / 2)`, half to even, as Python's `round`).
fn resize_crop_geometry(w: usize, h: usize, n_px: usize) -> (usize, usize, usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (n_px as f64 * long as f64 / short as f64) as usize;
    let (nw, nh) = if w <= h {
        (n_px, new_long)
    } else {
        (new_long, n_px)
    };
    let offset = |size: usize| ((size - n_px) as f64 / 2.0).round_ties_even() as usize;
    (nw, nh, offset(nh), offset(nw))
}

/// OpenAI's `clip.load` preprocessing of decoded RGB images: resize, crop, `/255`, mean/std.
///
/// # Shapes
/// → `[B, 3, n_px, n_px]`
pub fn clip_preprocess(images: &[Rgb8], n_px: usize, device: &Device) -> Result<Tensor<4>> {
    if images.is_empty() || n_px == 0 {
        return Err(Error::InvalidArgument(
            "no images, or a zero input size".into(),
        ));
    }
    let mut values = Vec::with_capacity(images.len() * 3 * n_px * n_px);
    for img in images {
        let crop = clip_resize_crop(img, n_px)?;
        for c in 0..3 {
            let (mean, std) = (CLIP_MEAN[c] as f32, CLIP_STD[c] as f32);
            values.extend(
                crop.data
                    .chunks_exact(3)
                    .map(|p| (p[c] as f32 / 255.0 - mean) / std),
            );
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [images.len(), 3, n_px, n_px]),
        device,
    ))
}

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
    if h != w || h < 32 || !h.is_multiple_of(32) {
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
