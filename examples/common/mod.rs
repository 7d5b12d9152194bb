//! Shared by the examples: writing a PNG contact sheet.

use styleclip::imaging::{Rgb8, grid};

/// Lay `images` out `cols` per row with `pad` pixels between them and write a PNG.
pub fn save_grid(
    path: &str,
    images: &[Rgb8],
    cols: usize,
    pad: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let sheet = grid(images, cols, pad)?;
    image::save_buffer(
        path,
        &sheet.data,
        sheet.width as u32,
        sheet.height as u32,
        image::ColorType::Rgb8,
    )?;
    Ok(())
}
