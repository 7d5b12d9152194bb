//! Draw toy faces from seeds in every style and write a PNG contact sheet.
//!
//! ```text
//! cargo run --release --example toyfaces_gallery -- --seeds 0-15 --out toyfaces.png
//! ```

mod common;

use clap::Parser;
use styleclip::toyfaces::{Attributes, Face, Jitter, SIZE, Style, render_face};

#[derive(Parser, Debug)]
#[command(about = "Render toy faces (photo, sketch, negative) into a PNG grid")]
struct Args {
    /// Seeds: `a-b`.
    #[arg(long, default_value = "0-15")]
    seeds: String,
    /// Pixels per image.
    #[arg(long, default_value_t = SIZE)]
    size: usize,
    /// Output PNG.
    #[arg(long, default_value = "toyfaces.png")]
    out: String,
    /// Print each face's attributes and a caption.
    #[arg(long)]
    verbose: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (a, b) = args
        .seeds
        .split_once('-')
        .unwrap_or((&args.seeds, &args.seeds));
    let (a, b): (u64, u64) = (a.parse()?, b.parse()?);
    let mut images = Vec::new();
    for seed in a..=b {
        let face = Face {
            attributes: Attributes::sample(seed),
            jitter: Jitter::sample(seed),
        };
        if args.verbose {
            println!(
                "{seed}: {:?}\n    {}",
                face.attributes,
                face.attributes.caption()
            );
        }
        for style in [Style::Photo, Style::Sketch, Style::Negative] {
            images.push(render_face(&face, style, args.size)?);
        }
    }
    common::save_grid(&args.out, &images, 12, 2)?;
    println!("wrote {}", args.out);
    Ok(())
}
