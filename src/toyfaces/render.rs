//! The toy-face renderer: a [`Face`] and a [`Style`] in, an anti-aliased RGB image out.
//!
//! Drawn with `tiny-skia` (paths, anti-aliased fills and strokes) in unit coordinates: the face
//! lives in `[0, 1]²`, the [`Jitter`] moves and scales it about the centre, and the transform
//! maps it to `size × size` pixels. Any size works; the toy world uses 64 px.
//!
//! Styles:
//! - [`Style::Photo`]: flat colours, the generator's domain.
//! - [`Style::Sketch`]: every shape outlined in pencil grey on white paper, hair shaded light,
//!   dark parts (pupils, sunglasses, an open mouth) filled grey. No colour survives.
//! - [`Style::Negative`]: the photo with every channel inverted.
//!
//! Deterministic: the same face, style and size give the same bytes.

use burn::prelude::*;
use tiny_skia::{
    Color, FillRule, LineCap, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform,
};

use super::attributes::{
    Attributes, Background, Face, Glasses, HairColor, Hairstyle, Jitter, Mouth, Skin, Style,
};
use crate::error::{Error, Result};
use crate::imaging::Rgb8;

const PAPER: [u8; 3] = [246, 245, 240];
const PENCIL: [u8; 3] = [55, 55, 60];
const SHIRT: [u8; 3] = [60, 70, 92];

fn hair_rgb(c: HairColor) -> [u8; 3] {
    match c {
        HairColor::Black => [28, 26, 28],
        HairColor::Brown => [112, 66, 34],
        HairColor::Blonde => [238, 204, 112],
        HairColor::Red => [204, 58, 28],
        HairColor::Grey => [168, 168, 172],
        HairColor::Purple => [138, 56, 196],
    }
}

fn skin_rgb(s: Skin) -> [u8; 3] {
    match s {
        Skin::Light => [250, 218, 188],
        Skin::Tan => [206, 150, 104],
        Skin::Dark => [118, 78, 52],
    }
}

/// The lips' stroke colour (every mouth draws its outline in it).
const LIPS: [u8; 3] = [160, 40, 52];

/// How far the lips stand out from `skin`: the L1 distance of their colours over the three
/// channels, on the `[0, 1]` scale. Light skin 1.59, tan 0.82, dark 0.31: on dark skin a mouth
/// changes the pixels five times less than on light skin.
pub(crate) fn lips_contrast(skin: Skin) -> f32 {
    let s = skin_rgb(skin);
    (0..3)
        .map(|c| f32::from(LIPS[c].abs_diff(s[c])) / 255.0)
        .sum()
}

fn background_rgb(b: Background) -> [u8; 3] {
    match b {
        Background::Blue => [148, 196, 242],
        Background::Green => [156, 222, 158],
        Background::Pink => [246, 172, 204],
        Background::Yellow => [246, 236, 146],
    }
}

fn shade(c: [u8; 3], f: f32) -> [u8; 3] {
    c.map(|v| (f32::from(v) * f).round().clamp(0.0, 255.0) as u8)
}

/// How a shape is drawn in the sketch style.
#[derive(Clone, Copy)]
enum Kind {
    /// Paper-filled (so it hides what lies behind), then outlined.
    Surface,
    /// Shaded light grey, then outlined (hair).
    Shaded,
    /// Filled pencil grey (pupils, lenses, mouth interior).
    Dark,
}

struct Canvas {
    pixmap: Pixmap,
    transform: Transform,
    sketch: bool,
    /// One pixel in unit coordinates (after the jitter's scale).
    px: f32,
}

impl Canvas {
    fn paint(rgb: [u8; 3]) -> Paint<'static> {
        let mut paint = Paint::default();
        paint.set_color(Color::from_rgba8(rgb[0], rgb[1], rgb[2], 255));
        paint.anti_alias = true;
        paint
    }

    fn fill(&mut self, path: &Path, rgb: [u8; 3], kind: Kind) {
        if !self.sketch {
            self.pixmap.fill_path(
                path,
                &Self::paint(rgb),
                FillRule::Winding,
                self.transform,
                None,
            );
            return;
        }
        let fill: Option<[u8; 3]> = match kind {
            Kind::Surface => Some(PAPER),
            Kind::Shaded => Some([214, 213, 208]),
            Kind::Dark => Some([96, 96, 100]),
        };
        if let Some(f) = fill {
            self.pixmap.fill_path(
                path,
                &Self::paint(f),
                FillRule::Winding,
                self.transform,
                None,
            );
        }
        self.outline(path, 1.1);
    }

    fn outline(&mut self, path: &Path, width_px: f32) {
        let stroke = Stroke {
            width: width_px * self.px,
            line_cap: LineCap::Round,
            ..Stroke::default()
        };
        self.pixmap
            .stroke_path(path, &Self::paint(PENCIL), &stroke, self.transform, None);
    }

    /// A stroked line of `width` (unit coordinates); pencil-coloured in the sketch style.
    fn line(&mut self, path: &Path, rgb: [u8; 3], width: f32) {
        let rgb = if self.sketch { PENCIL } else { rgb };
        let width = if self.sketch {
            width.max(1.1 * self.px)
        } else {
            width
        };
        let stroke = Stroke {
            width,
            line_cap: LineCap::Round,
            ..Stroke::default()
        };
        self.pixmap
            .stroke_path(path, &Self::paint(rgb), &stroke, self.transform, None);
    }
}

fn oval(l: f32, t: f32, r: f32, b: f32) -> Path {
    PathBuilder::from_oval(Rect::from_ltrb(l, t, r, b).expect("non-empty oval")).expect("oval path")
}

fn rect(l: f32, t: f32, r: f32, b: f32) -> Path {
    PathBuilder::from_rect(Rect::from_ltrb(l, t, r, b).expect("non-empty rect"))
}

fn poly(points: &[(f32, f32)]) -> Path {
    let mut pb = PathBuilder::new();
    pb.move_to(points[0].0, points[0].1);
    for &(x, y) in &points[1..] {
        pb.line_to(x, y);
    }
    pb.close();
    pb.finish().expect("polygon path")
}

fn quad(a: (f32, f32), c: (f32, f32), b: (f32, f32)) -> Path {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to(c.0, c.1, b.0, b.1);
    pb.finish().expect("curve path")
}

/// The short-hair cap: over the crown from temple to temple, with a fringe.
fn hair_cap() -> Path {
    let mut pb = PathBuilder::new();
    pb.move_to(0.255, 0.43);
    pb.cubic_to(0.235, 0.09, 0.765, 0.09, 0.745, 0.43);
    pb.line_to(0.705, 0.43);
    pb.quad_to(0.67, 0.28, 0.50, 0.285);
    pb.quad_to(0.33, 0.28, 0.295, 0.43);
    pb.close();
    pb.finish().expect("cap path")
}

fn mohawk() -> Path {
    poly(&[
        (0.445, 0.33),
        (0.415, 0.12),
        (0.46, 0.16),
        (0.465, 0.04),
        (0.50, 0.11),
        (0.535, 0.04),
        (0.54, 0.16),
        (0.585, 0.12),
        (0.555, 0.33),
        (0.50, 0.345),
    ])
}

/// Draw one face into a new `size × size` image.
pub fn render_face(face: &Face, style: Style, size: usize) -> Result<Rgb8> {
    if !(8..=4096).contains(&size) {
        return Err(Error::InvalidArgument(format!(
            "toy faces render at 8 to 4096 px, got {size}"
        )));
    }
    let Face {
        attributes: a,
        jitter: Jitter { dx, dy, scale },
    } = *face;
    let s = size as f32;
    // Unit square → pixels, about the centre, then the jitter's offset.
    let transform = Transform::from_row(
        s * scale,
        0.0,
        0.0,
        s * scale,
        s * (0.5 - 0.5 * scale + dx),
        s * (0.5 - 0.5 * scale + dy),
    );
    let sketch = style == Style::Sketch;
    let mut pixmap = Pixmap::new(size as u32, size as u32).expect("size checked above");
    let bg = if sketch {
        PAPER
    } else {
        background_rgb(a.background)
    };
    pixmap.fill(Color::from_rgba8(bg[0], bg[1], bg[2], 255));
    let mut c = Canvas {
        pixmap,
        transform,
        sketch,
        px: 1.0 / (s * scale),
    };
    draw(&mut c, &a);

    let rgba = c.pixmap.take();
    let mut data: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    if style == Style::Negative {
        data.iter_mut().for_each(|v| *v = 255 - *v);
    }
    Ok(Rgb8 {
        width: size,
        height: size,
        data,
    })
}

fn draw(c: &mut Canvas, a: &Attributes) {
    let skin = skin_rgb(a.skin);
    let hair = hair_rgb(a.hair_color);

    // Shoulders and neck.
    c.fill(&oval(0.16, 0.80, 0.84, 1.20), SHIRT, Kind::Surface);
    c.fill(
        &rect(0.43, 0.68, 0.57, 0.84),
        shade(skin, 0.92),
        Kind::Surface,
    );

    // Long hair falls behind the head to the shoulders.
    if a.hairstyle == Hairstyle::Long {
        let mut pb = PathBuilder::new();
        pb.move_to(0.22, 0.40);
        pb.cubic_to(0.20, 0.06, 0.80, 0.06, 0.78, 0.40);
        pb.line_to(0.80, 0.86);
        pb.quad_to(0.50, 0.90, 0.20, 0.86);
        pb.close();
        c.fill(&pb.finish().expect("hair path"), hair, Kind::Shaded);
    }

    // Ears, then the head.
    c.fill(
        &oval(0.235, 0.43, 0.30, 0.56),
        shade(skin, 0.95),
        Kind::Surface,
    );
    c.fill(
        &oval(0.70, 0.43, 0.765, 0.56),
        shade(skin, 0.95),
        Kind::Surface,
    );
    c.fill(&oval(0.27, 0.19, 0.73, 0.76), skin, Kind::Surface);

    // Hair on the head.
    match a.hairstyle {
        Hairstyle::Short => c.fill(&hair_cap(), hair, Kind::Shaded),
        Hairstyle::Long => {
            c.fill(&hair_cap(), hair, Kind::Shaded);
            c.fill(
                &poly(&[(0.255, 0.42), (0.30, 0.42), (0.285, 0.72), (0.225, 0.74)]),
                hair,
                Kind::Shaded,
            );
            c.fill(
                &poly(&[(0.745, 0.42), (0.70, 0.42), (0.715, 0.72), (0.775, 0.74)]),
                hair,
                Kind::Shaded,
            );
        }
        Hairstyle::Mohawk => c.fill(&mohawk(), hair, Kind::Shaded),
        Hairstyle::Bald => {
            if !c.sketch {
                c.fill(
                    &oval(0.40, 0.22, 0.50, 0.27),
                    shade(skin, 1.08),
                    Kind::Surface,
                );
            }
        }
    }

    // Eyebrows in the hair colour (they carry it on bald heads).
    let brow = 0.032;
    c.line(
        &quad((0.355, 0.405), (0.40, 0.385), (0.455, 0.40)),
        hair,
        brow,
    );
    c.line(
        &quad((0.545, 0.40), (0.60, 0.385), (0.645, 0.405)),
        hair,
        brow,
    );

    // Eyes.
    for x in [0.40, 0.60] {
        c.fill(
            &oval(x - 0.045, 0.435, x + 0.045, 0.49),
            [250, 250, 250],
            Kind::Surface,
        );
        let pupil = PathBuilder::from_circle(x, 0.4625, 0.021).expect("pupil");
        c.fill(&pupil, [36, 28, 26], Kind::Dark);
    }

    // Nose.
    c.line(
        &quad((0.50, 0.49), (0.465, 0.565), (0.515, 0.57)),
        shade(skin, 0.72),
        0.016,
    );

    // Mouth.
    let lips = LIPS;
    match a.mouth {
        Mouth::Smile => c.line(
            &quad((0.395, 0.615), (0.50, 0.735), (0.605, 0.615)),
            lips,
            0.032,
        ),
        Mouth::Frown => c.line(
            &quad((0.395, 0.685), (0.50, 0.575), (0.605, 0.685)),
            lips,
            0.032,
        ),
        Mouth::Neutral => c.line(
            &quad((0.41, 0.645), (0.50, 0.645), (0.59, 0.645)),
            lips,
            0.032,
        ),
        Mouth::Open => {
            c.fill(&oval(0.435, 0.595, 0.565, 0.71), [72, 14, 22], Kind::Dark);
            let stroke_lips = oval(0.435, 0.595, 0.565, 0.71);
            c.line(&stroke_lips, lips, 0.018);
        }
    }

    // Glasses over the eyes.
    let frame = [30, 30, 34];
    match a.glasses {
        Glasses::None => {}
        Glasses::Round => {
            for x in [0.40, 0.60] {
                let ring = PathBuilder::from_circle(x, 0.4625, 0.072).expect("lens");
                c.line(&ring, frame, 0.02);
            }
            c.line(
                &quad((0.472, 0.46), (0.50, 0.445), (0.528, 0.46)),
                frame,
                0.02,
            );
        }
        Glasses::Sunglasses => {
            for (l, r) in [(0.325, 0.475), (0.525, 0.675)] {
                let mut pb = PathBuilder::new();
                pb.move_to(l, 0.425);
                pb.line_to(r, 0.425);
                pb.quad_to(r, 0.52, (l + r) / 2.0, 0.515);
                pb.quad_to(l, 0.52, l, 0.425);
                pb.close();
                c.fill(&pb.finish().expect("lens path"), [18, 18, 24], Kind::Dark);
            }
            c.line(
                &quad((0.47, 0.44), (0.50, 0.43), (0.53, 0.44)),
                frame,
                0.022,
            );
            c.line(
                &quad((0.325, 0.435), (0.29, 0.44), (0.265, 0.45)),
                frame,
                0.016,
            );
            c.line(
                &quad((0.675, 0.435), (0.71, 0.44), (0.735, 0.45)),
                frame,
                0.016,
            );
        }
    }
}

/// Render faces into one `[B, 3, size, size]` tensor in `[-1, 1]` (the generator's layout).
pub fn render_batch(
    faces: &[Face],
    style: Style,
    size: usize,
    device: &Device,
) -> Result<Tensor<4>> {
    let images = faces
        .iter()
        .map(|f| render_face(f, style, size))
        .collect::<Result<Vec<_>>>()?;
    rgb8_to_tensor(&images, device)
}

/// 8-bit images of one size → `[B, 3, H, W]` in `[-1, 1]` (`v / 127.5 − 1`).
pub fn rgb8_to_tensor(images: &[Rgb8], device: &Device) -> Result<Tensor<4>> {
    let first = images
        .first()
        .ok_or_else(|| Error::InvalidArgument("no images".into()))?;
    let (h, w) = (first.height, first.width);
    if images.iter().any(|i| i.height != h || i.width != w) {
        return Err(Error::InvalidArgument("images must share one size".into()));
    }
    let mut planar = Vec::with_capacity(images.len() * 3 * h * w);
    for img in images {
        for ch in 0..3 {
            planar.extend(
                img.data
                    .iter()
                    .skip(ch)
                    .step_by(3)
                    .map(|&v| f32::from(v) / 127.5 - 1.0),
            );
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(planar, [images.len(), 3, h, w]),
        device,
    ))
}
