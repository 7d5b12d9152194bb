//! FFHQ face alignment from landmarks: the recipe of e4e's `utils/alignment.py::align_face`
//! (omertov/encoder4editing, itself NVIDIA's FFHQ `recreate_aligned_images`), fed with
//! landmarks from any detector. No detector is bundled or needed.
//!
//! FFHQ generators, the e4e encoder and the projector expect a face cropped, rotated and
//! scaled the way FFHQ was made: eyes level, at fixed places. [`align_face`] makes that crop
//! from a photo and its landmarks, either the 68 iBUG points (dlib's
//! `shape_predictor_68_face_landmarks`, `face-alignment`, …) or the 5 points of RetinaFace,
//! MTCNN or InsightFace ([`Landmarks`]).
//!
//! # Recipe
//! Coordinates are pixels, x right and y down, pixel centres at integers (dlib's convention).
//! Everything is in f64 unless said otherwise.
//!
//! **Quad** ([`ffhq_quad`]). With the eye centres `e_l`, `e_r` (the means of iBUG points 36–41
//! and 42–47) and the mouth corners `m_l`, `m_r` (points 48 and 54):
//! ```text
//! ē = (e_l + e_r)·0.5      d_e = e_r − e_l      m̄ = (m_l + m_r)·0.5      d_m = m̄ − ē
//! x̂ = (d_e.x + d_m.y, d_e.y − d_m.x)
//! x = x̂ / |x̂| · max(2·|d_e|, 1.8·|d_m|)         y = (−x.y, x.x)         c = ē + 0.1·d_m
//! quad = [c − x − y, c − x + y, c + x + y, c + x − y]   (NW, SW, SE, NE)       q = 2·|x|
//! ```
//! The quad is a square of side `q` centred a little below the eyes, turned so that its
//! x axis follows the eye line (bent by the mouth's direction).
//!
//! Then, for output size `S` and transform size `T` ([`AlignOptions`]; e4e: `S = T = 256`,
//! FFHQ: `S = 1024`, `T = 4096`), on the image of size `W × H`:
//! 1. **Shrink** ([`shrink`]): `s = ⌊q / S · 0.5⌋`. If `s > 1`, resize the image to
//!    `(rint(W / s), rint(H / s))` with PIL's Lanczos filter ([`resize_lanczos`]), and
//!    `quad /= s`, `q /= s`.
//! 2. **Crop** ([`crop`]): `b = max(rint(0.1·q), 3)`; the box `(⌊min x⌋, ⌊min y⌋, ⌈max x⌉,
//!    ⌈max y⌉)` of the quad, grown by `b` and clamped to the image. If it is smaller than the
//!    image, crop to it and shift the quad.
//! 3. **Pad** ([`pad`]): with the quad's box `(x0, y0, x1, y1)` in the current image,
//!    `p = (max(b − x0, 0), max(b − y0, 0), max(x1 − W + b, 0), max(y1 − H + b, 0))`. If
//!    `max p > b − 4`: `p = max(p, rint(0.3·q))`, reflect-pad the image by `p` (in f32,
//!    without repeating the edge), and with
//!    ```text
//!    mask(x, y) = max(1 − min(x / p_l, (w − 1 − x) / p_r), 1 − min(y / p_t, (h − 1 − y) / p_b))
//!    img += (gauss_σ(img) − img) · clip(3·mask + 1, 0, 1)        σ = 0.02·q
//!    img += (median(img) − img) · clip(mask, 0, 1)               (median per channel)
//!    ```
//!    round half to even, clip to `[0, 255]`, and shift the quad by `(p_l, p_t)`. The padded
//!    border fades from the reflected photo into a blurred, then flat, fill.
//! 4. **Transform** ([`transform`]): PIL's `QUAD` warp with bilinear sampling of the quad
//!    (corners `+ 0.5`) onto a `T × T` image; samples outside the image are black.
//! 5. If `S < T`, resize to `S × S` with PIL's Lanczos filter.
//!
//! # Fidelity
//! Each stage reproduces the numerics of the library the official code calls (Pillow, numpy,
//! scipy), so the output bytes are the official function's. `tests/align.rs` checks six cases
//! against `scripts/gen_align_fixtures.py` (Pillow 13, numpy 2.4, scipy 1.17): every byte, the
//! quad and every stage's values agree exactly. So did 745 random cases (noise and gradient
//! photos of 8–400 px, faces of 3 px to 8·S partly outside, `S` 32–256, `T = S` or `2S`,
//! padding on and off), with the resize's pass order set to Pillow 13's. In detail:
//! - the quad, crop and pad sizes and the `QUAD` warp (PIL's double-precision bilinear
//!   sampling, truncated to `u8`) follow the official arithmetic operation by operation;
//! - the Lanczos resize is PIL's 8-bit fixed-point resampler (weights rounded to 22 fraction
//!   bits, each pass rounded and clipped to `u8`), in the pass order of Pillow ≤ 12 (see
//!   [`resize_lanczos`] for Pillow 13's);
//! - the padding follows numpy's and scipy's dtypes step by step (f32 storage, f64 mask and
//!   line sums, numpy's pairwise sum for the kernel's normalisation). The Gaussian kernel's
//!   `exp` (and the Lanczos `sin`) come from the platform `libm`, where numpy uses its own SIMD
//!   `exp`, which differs in the last bit for some arguments: a byte may then move by 1 where
//!   a value sits on a rounding edge (not seen in the tests).
//!
//! Quirks kept from the official code: the warp samples bilinearly at `T` and only then
//! resizes to `S`, so at `S = T` (e4e) a face up to `4S` px wide is minified up to 4× without
//! prefiltering; samples outside the (padded) image are black, not clamped; sampling
//! truncates rather than rounds. The official `ANTIALIAS` name is gone from Pillow
//! ≥ 10, which makes its shrink branch crash there; it meant `LANCZOS`, used here. The
//! official reads landmarks as dlib's integers; these are f64. Where the official crashes (a
//! face wholly outside the photo, a face under about 1.7 px) or returns a black image (the
//! former with padding off), this module returns an error.

use std::borrow::Cow;
use std::f64::consts::PI;

use super::Rgb8;
use crate::error::{Error, Result};

/// The largest output or transform size [`align_face_with`] accepts (16 384 px, as
/// [`super::MAX_SIDE`]).
pub const MAX_SIZE: usize = 16_384;

/// The most pixels the padded image may have (16 384², about 3 GiB of working memory). A quad
/// reaching far outside the photo at a huge output size is refused rather than allocated (at
/// `S = 256` the padded image stays under about 2 600² px whatever the landmarks).
pub const MAX_PADDED_PIXELS: usize = 1 << 28;

/// Quad coordinates beyond ±2³¹ (C `int`, as PIL computes boxes) are refused.
const MAX_COORD: f64 = 2_147_483_647.0;

/// Face landmarks, in pixels of the image they were detected on (x right, y down, pixel
/// centres at integer coordinates).
///
/// "Left" and "right" are the **image's** left and right, as in the iBUG 68-point scheme:
/// `left_eye` is the subject's right eye (iBUG points 36–41), `mouth_left` the corner at
/// iBUG point 48. This is the order RetinaFace, MTCNN and InsightFace give their 5 points in.
#[derive(Debug, Clone, PartialEq)]
pub enum Landmarks {
    /// The 68 iBUG 300-W points (dlib, `face-alignment`, …), in their standard order: jaw
    /// 0–16, brows 17–26, nose 27–35, eyes 36–41 and 42–47, mouth 48–67.
    Ibug68(Vec<[f64; 2]>),
    /// Five points: the two eye centres, the nose tip and the two mouth corners.
    Five {
        /// Centre of the eye on the image's left (the subject's right eye).
        left_eye: [f64; 2],
        /// Centre of the eye on the image's right.
        right_eye: [f64; 2],
        /// Nose tip (not used by the recipe; kept for completeness).
        nose: [f64; 2],
        /// Mouth corner on the image's left (iBUG point 48).
        mouth_left: [f64; 2],
        /// Mouth corner on the image's right (iBUG point 54).
        mouth_right: [f64; 2],
    },
}

impl Landmarks {
    /// The 68 iBUG points, checked: exactly 68, all finite.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the count or the first non-finite point.
    pub fn ibug68(points: &[[f64; 2]]) -> Result<Self> {
        let lm = Landmarks::Ibug68(points.to_vec());
        lm.anchors()?;
        Ok(lm)
    }

    /// Five points in the order left eye, right eye, nose tip, left mouth corner, right mouth
    /// corner (image left and right; RetinaFace's, MTCNN's and InsightFace's order), checked
    /// finite.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first non-finite point.
    pub fn five(points: [[f64; 2]; 5]) -> Result<Self> {
        let [left_eye, right_eye, nose, mouth_left, mouth_right] = points;
        let lm = Landmarks::Five {
            left_eye,
            right_eye,
            nose,
            mouth_left,
            mouth_right,
        };
        lm.anchors()?;
        Ok(lm)
    }

    /// The five points the recipe reads: for iBUG-68, the eye centres are the means of points
    /// 36–41 and 42–47, the nose tip point 30, the mouth corners points 48 and 54. Both give
    /// the same [`ffhq_quad`]. Five points are returned as they are.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when an iBUG set does not have 68 points or has a
    /// non-finite one.
    pub fn to_five(&self) -> Result<Landmarks> {
        match self {
            Landmarks::Five { .. } => Ok(self.clone()),
            Landmarks::Ibug68(p) => {
                let [left_eye, right_eye, mouth_left, mouth_right] = self.anchors()?;
                Ok(Landmarks::Five {
                    left_eye,
                    right_eye,
                    nose: p[30],
                    mouth_left,
                    mouth_right,
                })
            }
        }
    }

    /// `[e_l, e_r, m_l, m_r]`, validated. An eye centre is numpy's `mean(axis=0)` of six
    /// points: summed in order, then divided by 6.
    fn anchors(&self) -> Result<[[f64; 2]; 4]> {
        let check = |name: &str, p: &[f64; 2]| {
            if p.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!(
                    "landmark {name} is not finite: ({}, {})",
                    p[0], p[1]
                )))
            }
        };
        match self {
            Landmarks::Ibug68(p) => {
                if p.len() != 68 {
                    return Err(Error::InvalidArgument(format!(
                        "iBUG landmarks need 68 points, got {}",
                        p.len()
                    )));
                }
                for (i, q) in p.iter().enumerate() {
                    check(&format!("point {i}"), q)?;
                }
                let mean6 = |s: &[[f64; 2]]| {
                    let mut m = [0.0; 2];
                    for q in s {
                        m[0] += q[0];
                        m[1] += q[1];
                    }
                    [m[0] / 6.0, m[1] / 6.0]
                };
                Ok([mean6(&p[36..42]), mean6(&p[42..48]), p[48], p[54]])
            }
            Landmarks::Five {
                left_eye,
                right_eye,
                nose,
                mouth_left,
                mouth_right,
            } => {
                check("left_eye", left_eye)?;
                check("right_eye", right_eye)?;
                check("nose", nose)?;
                check("mouth_left", mouth_left)?;
                check("mouth_right", mouth_right)?;
                Ok([*left_eye, *right_eye, *mouth_left, *mouth_right])
            }
        }
    }
}

/// The oriented square FFHQ crops, in image pixels (see the module docs for the formula).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad {
    /// Centre `c = ē + 0.1·d_m`.
    pub center: [f64; 2],
    /// Half-side vector along the eye line, `x`.
    pub x: [f64; 2],
    /// Half-side vector towards the chin, `y = (−x.y, x.x)`.
    pub y: [f64; 2],
    /// Corners NW, SW, SE, NE: `c − x − y`, `c − x + y`, `c + x + y`, `c + x − y`.
    pub corners: [[f64; 2]; 4],
    /// Side length `q = 2·|x|`.
    pub size: f64,
}

impl Quad {
    /// The quad with every point divided by `s` (numpy's `quad /= shrink`).
    fn scaled_down(&self, s: f64) -> Quad {
        let d = |p: [f64; 2]| [p[0] / s, p[1] / s];
        Quad {
            center: d(self.center),
            x: d(self.x),
            y: d(self.y),
            corners: self.corners.map(d),
            size: self.size / s,
        }
    }

    /// The quad moved by `(dx, dy)` (integers, as the official crop and pad offsets are).
    fn shifted(&self, dx: i64, dy: i64) -> Quad {
        let t = |p: [f64; 2]| [p[0] + dx as f64, p[1] + dy as f64];
        Quad {
            center: t(self.center),
            corners: self.corners.map(t),
            ..*self
        }
    }

    /// The integer box `(⌊min x⌋, ⌊min y⌋, ⌈max x⌉, ⌈max y⌉)` of the corners.
    fn bbox(&self) -> [i64; 4] {
        let xs = self.corners.map(|p| p[0]);
        let ys = self.corners.map(|p| p[1]);
        let min = |v: [f64; 4]| v.into_iter().fold(f64::INFINITY, f64::min);
        let max = |v: [f64; 4]| v.into_iter().fold(f64::NEG_INFINITY, f64::max);
        [
            min(xs).floor() as i64,
            min(ys).floor() as i64,
            max(xs).ceil() as i64,
            max(ys).ceil() as i64,
        ]
    }

    /// The crop and pad margin `b = max(rint(0.1·q), 3)`.
    fn border(&self) -> i64 {
        ((self.size * 0.1).round_ties_even() as i64).max(3)
    }
}

/// The FFHQ quad of a face (module docs, "Quad"), exactly the official float64 formula.
///
/// # Errors
/// [`Error::InvalidArgument`] for invalid landmarks (see [`Landmarks::ibug68`]), eye centres
/// that coincide, or a quad that is not finite or lies beyond ±2³¹ px.
pub fn ffhq_quad(landmarks: &Landmarks) -> Result<Quad> {
    let [el, er, ml, mr] = landmarks.anchors()?;
    let eye_avg = [(el[0] + er[0]) * 0.5, (el[1] + er[1]) * 0.5];
    let e2e = [er[0] - el[0], er[1] - el[1]];
    if e2e == [0.0, 0.0] {
        return Err(Error::InvalidArgument(format!(
            "the eye centres coincide at ({}, {}); the landmarks are degenerate",
            el[0], el[1]
        )));
    }
    let mouth_avg = [(ml[0] + mr[0]) * 0.5, (ml[1] + mr[1]) * 0.5];
    let e2m = [mouth_avg[0] - eye_avg[0], mouth_avg[1] - eye_avg[1]];
    // x = eye_to_eye − flipud(eye_to_mouth)·[−1, 1]
    let mut x = [e2e[0] - (-e2m[1]), e2e[1] - e2m[0]];
    let norm = x[0].hypot(x[1]);
    x = [x[0] / norm, x[1] / norm];
    let (a, b) = (e2e[0].hypot(e2e[1]) * 2.0, e2m[0].hypot(e2m[1]) * 1.8);
    let scale = if b > a { b } else { a };
    x = [x[0] * scale, x[1] * scale];
    let y = [-x[1], x[0]];
    let c = [eye_avg[0] + e2m[0] * 0.1, eye_avg[1] + e2m[1] * 0.1];
    let corner = |sx: f64, sy: f64| {
        let p = |i: usize| {
            let v = if sx < 0.0 { c[i] - x[i] } else { c[i] + x[i] };
            if sy < 0.0 { v - y[i] } else { v + y[i] }
        };
        [p(0), p(1)]
    };
    let quad = Quad {
        center: c,
        x,
        y,
        corners: [
            corner(-1.0, -1.0),
            corner(-1.0, 1.0),
            corner(1.0, 1.0),
            corner(1.0, -1.0),
        ],
        size: x[0].hypot(x[1]) * 2.0,
    };
    let coords_ok = quad
        .corners
        .iter()
        .flatten()
        .all(|v| v.is_finite() && v.abs() <= MAX_COORD);
    if !coords_ok || !quad.size.is_finite() || quad.size <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "the face quad is unusable (corners {:?}, side {}); the landmarks are degenerate or \
             beyond ±2³¹ px",
            quad.corners, quad.size
        )));
    }
    Ok(quad)
}

/// Sizes and switches of the recipe (the official function's local constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlignOptions {
    /// `S`: the returned image is `S × S`; also sets the shrink factor. e4e: 256.
    pub output_size: usize,
    /// `T`: the quad is warped onto `T × T`, then resized to `S` if `S < T`. Must be `≥ S`.
    /// e4e: 256 (no final resize); FFHQ: 4096 for `S = 1024`.
    pub transform_size: usize,
    /// Reflect-pad, blur and fill where the quad leaves the photo (stage 3). Without it those
    /// samples are black. On in both official scripts.
    pub enable_padding: bool,
}

impl AlignOptions {
    /// `S = T = size`, padding on: e4e's recipe at another size.
    pub fn new(size: usize) -> Self {
        AlignOptions {
            output_size: size,
            transform_size: size,
            enable_padding: true,
        }
    }

    /// e4e's `align_face`: 256 × 256, no final resize, padding on.
    pub fn e4e() -> Self {
        Self::new(256)
    }

    /// FFHQ's own recipe (NVIDIA's `download_ffhq.py::recreate_aligned_images` with its
    /// defaults, the same formula): warped to 4096², resized to 1024², padding on.
    pub fn ffhq() -> Self {
        AlignOptions {
            output_size: 1024,
            transform_size: 4096,
            enable_padding: true,
        }
    }

    fn check(&self) -> Result<()> {
        let (s, t) = (self.output_size, self.transform_size);
        if s == 0 || s > t || t > MAX_SIZE {
            return Err(Error::InvalidArgument(format!(
                "alignment needs 1 ≤ output_size ≤ transform_size ≤ {MAX_SIZE}, got output_size \
                 {s}, transform_size {t}"
            )));
        }
        Ok(())
    }
}

impl Default for AlignOptions {
    fn default() -> Self {
        Self::e4e()
    }
}

/// Align a face the way e4e's `align_face` does, to `output_size × output_size` (e4e: 256).
/// Same as [`align_face_with`] with [`AlignOptions::new`]`(output_size)`.
///
/// ```no_run
/// use styleclip::imaging::{align::{Landmarks, align_face}, read_rgb8, save_png};
///
/// # fn main() -> styleclip::Result<()> {
/// let photo = read_rgb8("photo.jpg")?;
/// let points: Vec<[f64; 2]> = vec![[0.0; 2]; 68]; // from any 68-point detector
/// let face = align_face(&photo, &Landmarks::ibug68(&points)?, 256)?;
/// save_png("aligned.png", &face)?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`align_face_with`].
pub fn align_face(image: &Rgb8, landmarks: &Landmarks, output_size: usize) -> Result<Rgb8> {
    align_face_with(image, landmarks, &AlignOptions::new(output_size))
}

/// The whole recipe (module docs): [`ffhq_quad`], [`shrink`], [`crop`], [`pad`] (if
/// enabled), [`transform`] to `T`, then [`resize_lanczos`] to `S` if `S < T`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty or inconsistent image, sizes outside
/// `1 ≤ S ≤ T ≤ 16384`, invalid or degenerate landmarks, a quad wholly outside the image, a
/// face too small to pad (quad side under about 1.7 px), or a padded image over
/// [`MAX_PADDED_PIXELS`].
pub fn align_face_with(
    image: &Rgb8,
    landmarks: &Landmarks,
    options: &AlignOptions,
) -> Result<Rgb8> {
    check_image(image)?;
    options.check()?;
    let mut quad = ffhq_quad(landmarks)?;
    let mut img = Cow::Borrowed(image);
    if let Some((i, q)) = shrink(&img, &quad, options.output_size)? {
        (img, quad) = (Cow::Owned(i), q);
    }
    if let Some((i, q)) = crop(&img, &quad)? {
        (img, quad) = (Cow::Owned(i), q);
    }
    if options.enable_padding
        && let Some((i, q)) = pad(&img, &quad)?
    {
        (img, quad) = (Cow::Owned(i), q);
    }
    let out = transform(&img, &quad, options.transform_size)?;
    if options.output_size < options.transform_size {
        resize_lanczos(&out, options.output_size, options.output_size)
    } else {
        Ok(out)
    }
}

fn check_image(image: &Rgb8) -> Result<()> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(image.data.len())
    {
        return Err(Error::InvalidArgument(format!(
            "cannot align a {w}×{h} image held in {} bytes (need ≥ 1 px and 3 bytes a pixel)",
            image.data.len()
        )));
    }
    Ok(())
}

/// Stage 1: for a face much larger than the output, downscale the photo first.
///
/// `s = ⌊q / output_size · 0.5⌋`; if `s > 1`, returns the image resized to
/// `(rint(W / s), rint(H / s))` with [`resize_lanczos`] and the quad divided by `s`;
/// otherwise `None` (nothing to do).
///
/// # Errors
/// [`Error::InvalidArgument`] for an inconsistent image, `output_size` 0, or a face so large
/// that the shrunk image would have no pixels.
pub fn shrink(image: &Rgb8, quad: &Quad, output_size: usize) -> Result<Option<(Rgb8, Quad)>> {
    check_image(image)?;
    if output_size == 0 {
        return Err(Error::InvalidArgument("output_size must be ≥ 1".into()));
    }
    let s = (quad.size / output_size as f64 * 0.5).floor();
    if s <= 1.0 {
        return Ok(None);
    }
    let w = (image.width as f64 / s).round_ties_even();
    let h = (image.height as f64 / s).round_ties_even();
    if w < 1.0 || h < 1.0 {
        return Err(Error::InvalidArgument(format!(
            "the face (quad side {} px) is so much larger than the {}×{} image that shrinking \
             by {s} leaves no pixels",
            quad.size, image.width, image.height
        )));
    }
    let small = resize_lanczos(image, w as usize, h as usize)?;
    Ok(Some((small, quad.scaled_down(s))))
}

/// Stage 2: crop the image to the quad's box grown by the border `b = max(rint(0.1·q), 3)`
/// and clamped to the image, when that is smaller than the image; the quad is shifted to
/// match. `None` when the box covers the whole image.
///
/// # Errors
/// [`Error::InvalidArgument`] when the grown box misses the image entirely: the face lies
/// outside the photo (the official code crashes in PIL's `crop` there, or, with padding off
/// and a box of zero height or width, returns a black image), or for an inconsistent image.
pub fn crop(image: &Rgb8, quad: &Quad) -> Result<Option<(Rgb8, Quad)>> {
    check_image(image)?;
    let b = quad.border();
    let [x0, y0, x1, y1] = quad.bbox();
    let (w, h) = (image.width as i64, image.height as i64);
    let c = [
        (x0 - b).max(0),
        (y0 - b).max(0),
        (x1 + b).min(w),
        (y1 + b).min(h),
    ];
    if c[2] - c[0] >= w && c[3] - c[1] >= h {
        return Ok(None);
    }
    if c[2] <= c[0] || c[3] <= c[1] {
        return Err(Error::InvalidArgument(format!(
            "the face quad (box {x0}..{x1} × {y0}..{y1} px, margin {b}) lies outside the {w}×{h} \
             image"
        )));
    }
    let (cw, ch) = ((c[2] - c[0]) as usize, (c[3] - c[1]) as usize);
    let (cx, cy) = (c[0] as usize, c[1] as usize);
    let mut data = Vec::with_capacity(cw * ch * 3);
    for y in cy..cy + ch {
        let row = (y * image.width + cx) * 3;
        data.extend_from_slice(&image.data[row..row + cw * 3]);
    }
    let out = Rgb8 {
        width: cw,
        height: ch,
        data,
    };
    Ok(Some((out, quad.shifted(-c[0], -c[1]))))
}

/// Stage 3: where the quad (plus the border `b`) leaves the image, pad it: reflect, blur
/// towards the edges and fade to the per-channel median (module docs, step 3). `None` when
/// every side needs at most `b − 4` px.
///
/// Numerics as numpy 2 / scipy compute them: the padded image in f32; the mask in f64 (numpy 2
/// promotes `f32 / int64` to f64); scipy's `gaussian_filter` (σ = 0.02·q, radius
/// `int(4σ + 0.5)`, mode `reflect`, which repeats the edge) along y then x, each pass summed
/// in f64 from the symmetric ends inwards and stored as f32; the blends `img += d·m` in f64,
/// stored as f32; the median the mean of the two middle values in f32; `rint`, clip, `u8`.
///
/// # Errors
/// [`Error::InvalidArgument`] when a side would be padded by 0 px (a face under about
/// 1.7 px, where the official divides by zero), when the padded image would exceed
/// [`MAX_PADDED_PIXELS`], or for an inconsistent image.
pub fn pad(image: &Rgb8, quad: &Quad) -> Result<Option<(Rgb8, Quad)>> {
    check_image(image)?;
    let b = quad.border();
    let [x0, y0, x1, y1] = quad.bbox();
    let (w, h) = (image.width as i64, image.height as i64);
    let p = [
        (b - x0).max(0),
        (b - y0).max(0),
        (x1 - w + b).max(0),
        (y1 - h + b).max(0),
    ];
    if p.iter().copied().max().unwrap_or(0) <= b - 4 {
        return Ok(None);
    }
    let least = (quad.size * 0.3).round_ties_even() as i64;
    let p = p.map(|v| v.max(least));
    if p.contains(&0) {
        return Err(Error::InvalidArgument(format!(
            "the face is too small to pad (quad side {} px; the recipe needs about 1.7 px)",
            quad.size
        )));
    }
    let (pw, ph) = (w + p[0] + p[2], h + p[1] + p[3]);
    if pw
        .checked_mul(ph)
        .is_none_or(|n| n > MAX_PADDED_PIXELS as i64)
    {
        return Err(Error::InvalidArgument(format!(
            "padding the {w}×{h} image to {pw}×{ph} px would exceed {MAX_PADDED_PIXELS} pixels; \
             the face quad reaches far outside the photo"
        )));
    }
    let out = pad_blur_fill(image, p.map(|v| v as usize), quad.size);
    Ok(Some((out, quad.shifted(p[0], p[1]))))
}

/// numpy's `reflect` (no edge repeat): the period is `2n − 2`.
fn reflect_numpy(i: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * n as i64 - 2;
    let m = i.rem_euclid(period) as usize;
    if m < n { m } else { period as usize - m }
}

/// scipy.ndimage's `reflect` (the edge repeats): the period is `2n`.
fn reflect_scipy(i: i64, n: usize) -> usize {
    let period = 2 * n as i64;
    let m = i.rem_euclid(period) as usize;
    if m < n { m } else { period as usize - 1 - m }
}

/// The padding proper, `p = [left, top, right, bottom]`, all ≥ 1 (see [`pad`]).
fn pad_blur_fill(image: &Rgb8, p: [usize; 4], qsize: f64) -> Rgb8 {
    let (w, h) = (image.width, image.height);
    let (pw, ph) = (w + p[0] + p[2], h + p[1] + p[3]);
    // mask = max(ax[x], ay[y]) with a·[i] = 1 − min(i / p_lo, (n − 1 − i) / p_hi); numpy
    // computes float32(i) / int64 in f64.
    let axis_mask = |n: usize, lo: usize, hi: usize| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let a = (i as f32) as f64 / lo as f64;
                let b = ((n - 1 - i) as f32) as f64 / hi as f64;
                1.0 - a.min(b)
            })
            .collect()
    };
    let (ax, ay) = (axis_mask(pw, p[0], p[2]), axis_mask(ph, p[1], p[3]));
    let sigma = qsize * 0.02;
    let kernel = gaussian_kernel(sigma);
    let cols: Vec<usize> = (0..pw)
        .map(|x| reflect_numpy(x as i64 - p[0] as i64, w))
        .collect();
    let mut out = vec![0u8; pw * ph * 3];
    let mut plane = vec![0f32; pw * ph];
    let mut scratch = vec![0f32; pw * ph];
    for ch in 0..3 {
        for y in 0..ph {
            let sy = reflect_numpy(y as i64 - p[1] as i64, h);
            let src = &image.data[sy * w * 3..(sy + 1) * w * 3];
            for (v, &sx) in plane[y * pw..(y + 1) * pw].iter_mut().zip(&cols) {
                *v = src[sx * 3 + ch] as f32;
            }
        }
        gaussian_filter(&plane, &mut scratch, pw, ph, &kernel);
        // img += (blur − img) · clip(3·mask + 1, 0, 1)
        for ((row, blur), &my) in plane
            .chunks_exact_mut(pw)
            .zip(scratch.chunks_exact(pw))
            .zip(&ay)
        {
            for ((v, &b), &mx) in row.iter_mut().zip(blur).zip(&ax) {
                let m = (mx.max(my) * 3.0 + 1.0).clamp(0.0, 1.0);
                *v = (*v as f64 + (b - *v) as f64 * m) as f32;
            }
        }
        let median = median_f32(&plane, &mut scratch);
        // img += (median − img) · clip(mask, 0, 1), then uint8(clip(rint(img), 0, 255))
        for ((row, dst), &my) in plane
            .chunks_exact(pw)
            .zip(out.chunks_exact_mut(pw * 3))
            .zip(&ay)
        {
            for ((&v, px), &mx) in row.iter().zip(dst.chunks_exact_mut(3)).zip(&ax) {
                let m = mx.max(my).clamp(0.0, 1.0);
                let v = (v as f64 + (median - v) as f64 * m) as f32;
                px[ch] = v.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Rgb8 {
        width: pw,
        height: ph,
        data: out,
    }
}

/// scipy's `_gaussian_kernel1d(σ, 0, r)`, `r = int(4σ + 0.5)`: `exp(−0.5/σ² · k²)` for
/// `k = −r..=r`, divided by its numpy (pairwise) sum.
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let c = -0.5 / (sigma * sigma);
    let phi: Vec<f64> = (-radius..=radius)
        .map(|k| (c * (k * k) as f64).exp())
        .collect();
    let sum = pairwise_sum(&phi);
    phi.iter().map(|v| v / sum).collect()
}

/// numpy's pairwise summation of a contiguous f64 array (`add.reduce`): below 8 values a plain
/// loop, up to 128 eight interleaved accumulators, beyond that halves (multiples of 8).
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, v| s + v)
    } else if n <= 128 {
        let mut r: [f64; 8] = a[..8].try_into().expect("8 values");
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// scipy's `gaussian_filter(plane, [σ, σ])` with mode `reflect`: `correlate1d` along y, then
/// along x, each output `f64(in[0])·w₀ + Σ_{j=r..1} (in[−j] + in[+j])·w_j` (scipy's symmetric
/// branch, outermost taps first) stored as f32.
fn gaussian_filter(src: &[f32], dst: &mut [f32], w: usize, h: usize, kernel: &[f64]) {
    let r = kernel.len() / 2;
    let w0 = kernel[r];
    // Along y, a row at a time (same operation order per pixel as scipy's line loop).
    let mut tmp = vec![0f32; w * h];
    let mut acc = vec![0f64; w];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = v as f64 * w0;
        }
        for j in (1..=r).rev() {
            let up = reflect_scipy(y as i64 - j as i64, h);
            let down = reflect_scipy(y as i64 + j as i64, h);
            let (ru, rd) = (&src[up * w..(up + 1) * w], &src[down * w..(down + 1) * w]);
            let wj = kernel[r - j];
            for ((a, &u), &d) in acc.iter_mut().zip(ru).zip(rd) {
                *a += (u as f64 + d as f64) * wj;
            }
        }
        for (t, &a) in tmp[y * w..(y + 1) * w].iter_mut().zip(&acc) {
            *t = a as f32;
        }
    }
    // Along x, on the f32 result.
    let mut line = vec![0f64; w + 2 * r];
    for y in 0..h {
        let row = &tmp[y * w..(y + 1) * w];
        for (i, v) in line.iter_mut().enumerate() {
            *v = row[reflect_scipy(i as i64 - r as i64, w)] as f64;
        }
        for (x, d) in dst[y * w..(y + 1) * w].iter_mut().enumerate() {
            let c = x + r;
            let mut s = line[c] * w0;
            for j in (1..=r).rev() {
                s += (line[c - j] + line[c + j]) * kernel[r - j];
            }
            *d = s as f32;
        }
    }
}

/// numpy's `median` of f32 values: the middle value, or `(a + b) / 2` in f32 for the two
/// middle values of an even count. `scratch` is overwritten.
fn median_f32(values: &[f32], scratch: &mut [f32]) -> f32 {
    scratch.copy_from_slice(values);
    let n = scratch.len();
    let (left, &mut b, _) = scratch.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        return b;
    }
    let a = left.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (a + b) / 2.0
}

/// Stage 4: PIL's `Image.transform((size, size), QUAD, (quad + 0.5).flatten(), BILINEAR)`.
///
/// With `d` the corners `+ 0.5` and `A = 1/size`, output pixel `(X, Y)` samples the input at
/// `d_nw + (d_ne − d_nw)·A·u + (d_sw − d_nw)·A·v + (d_se − d_sw − d_ne + d_nw)·A²·u·v` for
/// `u = X + 0.5`, `v = Y + 0.5` (PIL's coefficient order, in f64). A sample outside
/// `[0, W) × [0, H)` is black; inside, PIL's bilinear filter at `(x − 0.5, y − 0.5)` with
/// clamped columns, the second row only if it exists, truncated to `u8`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an inconsistent image or `size` outside `1..=16384`.
pub fn transform(image: &Rgb8, quad: &Quad, size: usize) -> Result<Rgb8> {
    check_image(image)?;
    if size == 0 || size > MAX_SIZE {
        return Err(Error::InvalidArgument(format!(
            "transform size must be in 1..={MAX_SIZE}, got {size}"
        )));
    }
    let [nw, sw, se, ne] = quad.corners.map(|p| [p[0] + 0.5, p[1] + 0.5]);
    let (a_s, a_t) = (1.0 / size as f64, 1.0 / size as f64);
    let coeffs = |i: usize| {
        let x0 = nw[i];
        [
            x0,
            (ne[i] - x0) * a_s,
            (sw[i] - x0) * a_t,
            (se[i] - sw[i] - ne[i] + x0) * a_s * a_t,
        ]
    };
    let (ax, ay) = (coeffs(0), coeffs(1));
    let (w, h) = (image.width, image.height);
    let mut data = vec![0u8; size * size * 3];
    for yy in 0..size {
        let v = yy as f64 + 0.5;
        for xx in 0..size {
            let u = xx as f64 + 0.5;
            let xs = ax[0] + ax[1] * u + ax[2] * v + ax[3] * u * v;
            let ys = ay[0] + ay[1] * u + ay[2] * v + ay[3] * u * v;
            let at = (yy * size + xx) * 3;
            bilinear(image, xs, ys, &mut data[at..at + 3], w, h);
        }
    }
    Ok(Rgb8 {
        width: size,
        height: size,
        data,
    })
}

/// PIL's `bilinear_filter32RGB` (`libImaging/Geometry.c`); leaves `out` untouched (black)
/// outside the image.
fn bilinear(image: &Rgb8, xin: f64, yin: f64, out: &mut [u8], w: usize, h: usize) {
    if !(xin >= 0.0 && xin < w as f64 && yin >= 0.0 && yin < h as f64) {
        return;
    }
    let (xin, yin) = (xin - 0.5, yin - 0.5);
    let (x, y) = (xin.floor() as i64, yin.floor() as i64);
    let (dx, dy) = (xin - x as f64, yin - y as f64);
    let clamp_x = |v: i64| v.clamp(0, w as i64 - 1) as usize;
    let (x0, x1) = (clamp_x(x), clamp_x(x + 1));
    let row0 = y.clamp(0, h as i64 - 1) as usize;
    let row1 = (y + 1 < h as i64).then_some((y + 1) as usize);
    let px = |row: usize, col: usize, b: usize| image.data[(row * w + col) * 3 + b] as i32;
    for (b, o) in out.iter_mut().enumerate() {
        let lerp = |row: usize| {
            let (a, c) = (px(row, x0, b), px(row, x1, b));
            a as f64 + (c - a) as f64 * dx
        };
        let v1 = lerp(row0);
        let v2 = row1.map_or(v1, lerp);
        *o = (v1 + (v2 - v1) * dy) as u8;
    }
}

/// PIL's `Image.resize(size, LANCZOS)` for RGB (`libImaging/Resample.c`), bit for bit: a
/// Lanczos-3 kernel widened by the scale when downsampling, its weights normalised then
/// rounded to 22 fraction bits; a horizontal pass, rounded and clipped to `u8`, then a
/// vertical one. A pass is skipped when that side keeps its size. This is the filter the
/// official code's `ANTIALIAS` named.
///
/// The passes run in the order of every Pillow up to 12 (the official code's era). Pillow 13
/// runs the vertical pass first when the height loses more than twice as many pixels as the
/// width, which moves some pixels by one rounding step; in [`align_face`] that concerns only
/// photos more than twice as tall as wide whose face is shrunk.
///
/// # Errors
/// [`Error::InvalidArgument`] for an inconsistent image or a target side of 0 or over
/// 16 384 px (beyond the image's own size).
pub fn resize_lanczos(image: &Rgb8, width: usize, height: usize) -> Result<Rgb8> {
    check_image(image)?;
    let too_big = |to: usize, from: usize| to > MAX_SIZE.max(from);
    if width == 0 || height == 0 || too_big(width, image.width) || too_big(height, image.height) {
        return Err(Error::InvalidArgument(format!(
            "cannot resize a {}×{} image to {width}×{height}",
            image.width, image.height
        )));
    }
    Ok(lanczos_passes(image, width, height, false))
}

/// The two passes of [`resize_lanczos`], horizontal first unless `vertical_first`.
fn lanczos_passes(image: &Rgb8, width: usize, height: usize, vertical_first: bool) -> Rgb8 {
    let mut img = Cow::Borrowed(image);
    if vertical_first && height != img.height {
        img = Cow::Owned(resample_vertical(&img, height));
    }
    if width != img.width {
        img = Cow::Owned(resample_horizontal(&img, width));
    }
    if height != img.height {
        img = Cow::Owned(resample_vertical(&img, height));
    }
    img.into_owned()
}

/// PIL's `ImagingResampleHorizontal_8bpc` for 3 bands: every row to `width` columns.
fn resample_horizontal(img: &Rgb8, width: usize) -> Rgb8 {
    let (bounds, k) = lanczos_coeffs(img.width, width);
    let (iw, ih) = (img.width, img.height);
    let mut data = vec![0u8; width * ih * 3];
    for y in 0..ih {
        let src = &img.data[y * iw * 3..(y + 1) * iw * 3];
        let dst = &mut data[y * width * 3..(y + 1) * width * 3];
        for (xx, &(min, len, off)) in bounds.iter().enumerate() {
            for c in 0..3 {
                let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                for (i, &kv) in k[off..off + len].iter().enumerate() {
                    ss += src[(min + i) * 3 + c] as i64 * kv as i64;
                }
                dst[xx * 3 + c] = clip8(ss);
            }
        }
    }
    Rgb8 {
        width,
        height: ih,
        data,
    }
}

/// PIL's `ImagingResampleVertical_8bpc` for 3 bands: every column to `height` rows.
fn resample_vertical(img: &Rgb8, height: usize) -> Rgb8 {
    let (bounds, k) = lanczos_coeffs(img.height, height);
    let row = img.width * 3;
    let mut data = vec![0u8; row * height];
    let mut acc = vec![0i64; row];
    for (yy, &(min, len, off)) in bounds.iter().enumerate() {
        acc.fill(1 << (PRECISION_BITS - 1));
        for (i, &kv) in k[off..off + len].iter().enumerate() {
            let src = &img.data[(min + i) * row..(min + i + 1) * row];
            for (a, &v) in acc.iter_mut().zip(src) {
                *a += v as i64 * kv as i64;
            }
        }
        for (d, &a) in data[yy * row..(yy + 1) * row].iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
    Rgb8 {
        width: img.width,
        height,
        data,
    }
}

/// Fraction bits of PIL's 8-bit resampling coefficients (`32 − 8 − 2`).
const PRECISION_BITS: u32 = 22;

fn clip8(ss: i64) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the Lanczos filter: per output
/// index `(first input index, tap count, offset into the weights)` and the integer weights.
fn lanczos_coeffs(in_size: usize, out_size: usize) -> (Vec<(usize, usize, usize)>, Vec<i32>) {
    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            1.0
        } else {
            let x = x * PI;
            x.sin() / x
        }
    }
    fn lanczos(x: f64) -> f64 {
        if (-3.0..3.0).contains(&x) {
            sinc(x) * sinc(x / 3.0)
        } else {
            0.0
        }
    }
    // `(double)(in1 − in0) / outSize` with the box in C `float`.
    let scale = (in_size as f32) as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    let ss = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = Vec::new();
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C `(int)` truncates towards zero.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let len = (xmax - xmin).max(0) as usize;
        let k: Vec<f64> = (0..len)
            .map(|x| lanczos(((x as i64 + xmin) as f64 - center + 0.5) * ss))
            .collect();
        let ww: f64 = k.iter().fold(0.0, |s, v| s + v);
        bounds.push((xmin as usize, len, weights.len()));
        for v in k {
            let v = if ww != 0.0 { v / ww } else { v };
            let scaled = v * (1u32 << PRECISION_BITS) as f64;
            weights.push(if v < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            });
        }
    }
    (bounds, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflections_match_numpy_and_scipy() {
        // numpy 'reflect' of [a b c]: … c b | a b c | b a …; scipy 'reflect': … b a | a b c | c b …
        let np: Vec<usize> = (-4..7).map(|i| reflect_numpy(i, 3)).collect();
        assert_eq!(np, [0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2]);
        let sp: Vec<usize> = (-4..7).map(|i| reflect_scipy(i, 3)).collect();
        assert_eq!(sp, [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]);
        assert_eq!(reflect_numpy(-5, 1), 0);
        assert_eq!(reflect_scipy(-5, 1), 0);
    }

    #[test]
    fn pairwise_sum_is_exact_on_integers() {
        for n in [0usize, 1, 7, 8, 9, 128, 129, 1000] {
            let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(pairwise_sum(&v), (n * n.saturating_sub(1) / 2) as f64);
        }
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        let mut s = [0f32; 4];
        assert_eq!(median_f32(&[4.0, 1.0, 3.0, 2.0], &mut s), 2.5);
        let mut s = [0f32; 3];
        assert_eq!(median_f32(&[9.0, 1.0, 3.0], &mut s), 3.0);
    }

    #[test]
    fn lanczos_weights_sum_to_one_in_fixed_point() {
        let (bounds, k) = lanczos_coeffs(600, 200);
        for &(_, len, off) in &bounds {
            let s: i32 = k[off..off + len].iter().sum();
            assert!((s - (1 << PRECISION_BITS)).abs() <= len as i32, "{s}");
        }
    }
}
