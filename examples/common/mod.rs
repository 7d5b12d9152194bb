//! Shared by the examples: writing a PNG contact sheet, labels, upscaling.
#![allow(dead_code)] // each example uses a part

use styleclip::imaging::{Rgb8, grid};

pub mod methods;

/// Lay `images` out `cols` per row with `pad` pixels between them and write a PNG.
pub fn save_grid(
    path: &str,
    images: &[Rgb8],
    cols: usize,
    pad: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    styleclip::imaging::save_png(path, &grid(images, cols, pad)?)?;
    Ok(())
}

/// 3×5 pixel glyphs (rows top to bottom, 3 bits each, high bit left) for labels.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [6, 1, 2, 4, 7],
        '3' => [6, 1, 2, 1, 6],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 6, 1, 6],
        '6' => [3, 4, 7, 5, 7],
        '7' => [7, 1, 2, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 6],
        '.' => [0, 0, 0, 0, 2],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        '%' => [5, 1, 2, 4, 5],
        '/' => [1, 1, 2, 4, 4],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        _ => [0; 5],
    }
}

/// A `width`-pixel-wide white strip with `text` in black, glyphs scaled by `scale`.
pub fn label(text: &str, width: usize, scale: usize) -> styleclip::imaging::Rgb8 {
    let height = 7 * scale;
    let mut data = vec![255u8; width * height * 3];
    for (i, c) in text.chars().enumerate() {
        let x0 = scale + i * 4 * scale;
        for (r, bits) in glyph(c).iter().enumerate() {
            for b in 0..3 {
                if bits >> (2 - b) & 1 == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (x, y) = (x0 + b * scale + dx, scale + r * scale + dy);
                        if x < width {
                            data[(y * width + x) * 3..(y * width + x) * 3 + 3].fill(0);
                        }
                    }
                }
            }
        }
    }
    styleclip::imaging::Rgb8 {
        width,
        height,
        data,
    }
}

/// Nearest-neighbour upscaling by an integer factor, so small images can be seen.
pub fn upscale(img: &styleclip::imaging::Rgb8, k: usize) -> styleclip::imaging::Rgb8 {
    let (w, h) = (img.width * k, img.height * k);
    let mut data = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let s = ((y / k) * img.width + x / k) * 3;
            data[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&img.data[s..s + 3]);
        }
    }
    styleclip::imaging::Rgb8 {
        width: w,
        height: h,
        data,
    }
}

/// Stack images of equal width top to bottom.
pub fn vstack(parts: &[styleclip::imaging::Rgb8]) -> styleclip::imaging::Rgb8 {
    let width = parts.first().map_or(0, |p| p.width);
    styleclip::imaging::Rgb8 {
        width,
        height: parts.iter().map(|p| p.height).sum(),
        data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
    }
}

/// The edit settings as command-line flags; each one left out keeps the base's value.
#[derive(clap::Args, Debug, Clone)]
pub struct EditFlags {
    /// Method 1: optimisation steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Method 1: learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Method 1: λ_L2.
    #[arg(long)]
    pub l2_lambda: Option<f64>,
    /// Method 3: strength α.
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<f32>,
    /// Method 3: disentanglement threshold β.
    #[arg(long)]
    pub beta: Option<f64>,
}

impl EditFlags {
    /// `base` with the flags given on the command line.
    pub fn over(
        &self,
        base: styleclip::toyfaces::EditSettings,
    ) -> styleclip::toyfaces::EditSettings {
        styleclip::toyfaces::EditSettings {
            steps: self.steps.unwrap_or(base.steps),
            lr: self.lr.unwrap_or(base.lr),
            l2_lambda: self.l2_lambda.unwrap_or(base.l2_lambda),
            alpha: self.alpha.unwrap_or(base.alpha),
            beta: self.beta.unwrap_or(base.beta),
            ..base
        }
    }
}

/// A checkpoint argument (`--generator`, `--clip`, `--mapper`, `--stats`, `--fs3`, …): an
/// existing path wins; otherwise a name of the pretrained catalogue (`ffhq`, `vit-b-32`,
/// `mapper:purple_hair`, … with `--features pretrained`), found and verified by
/// `styleclip::pretrained`. Used as a clap `value_parser`.
pub fn weights_arg(s: &str) -> Result<String, String> {
    if std::path::Path::new(s).exists() {
        return Ok(s.to_string());
    }
    catalogue_path(s).map(|p| p.display().to_string())
}

/// [`weights_arg`] for `PathBuf` arguments.
pub fn weights_path(s: &str) -> Result<std::path::PathBuf, String> {
    if std::path::Path::new(s).exists() {
        return Ok(s.into());
    }
    catalogue_path(s)
}

#[cfg(feature = "pretrained")]
fn catalogue_path(s: &str) -> Result<std::path::PathBuf, String> {
    use styleclip::pretrained::Pretrained;
    match s.parse::<Pretrained>() {
        Ok(p) => p.path().map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "`{s}` is neither an existing file nor a catalogue name (names: {})",
            Pretrained::names()
        )),
    }
}

#[cfg(not(feature = "pretrained"))]
fn catalogue_path(s: &str) -> Result<std::path::PathBuf, String> {
    Err(format!(
        "`{s}`: no such file (catalogue names such as `ffhq`, `vit-b-32` or \
         `mapper:purple_hair` need `--features pretrained`)"
    ))
}
