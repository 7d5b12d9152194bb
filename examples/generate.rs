//! Generate images from seeds with a StyleGAN2 checkpoint and write a PNG grid.
//!
//! ```text
//! cargo run --release --example generate -- \
//!     --checkpoint stylegan2-ffhq-config-f.pt --seeds 0-7 --truncation 0.7 --out grid.png
//! ```
//! Add `--features wgpu` / `cuda` and `--device wgpu` / `cuda` for a GPU.

mod common;

use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::{Generator, NoiseMode};

#[derive(Parser, Debug)]
#[command(about = "Generate a PNG grid from a StyleGAN2 checkpoint")]
struct Args {
    /// Checkpoint: official `torch.save` (`{"g_ema", "latent_avg"}` or bare) or styleclip safetensors.
    #[arg(long, value_parser = common::weights_arg)]
    checkpoint: String,
    /// Seeds: `0-7`, `1,5,9`, or a mix (`0-3,10`).
    #[arg(long, default_value = "0-7")]
    seeds: String,
    /// Truncation ψ (1 = none). The mean w is the checkpoint's `latent_avg`, else the mean of
    /// 4096 mapped z.
    #[arg(long, default_value_t = 0.7)]
    truncation: f64,
    /// Noise: `const` (the checkpoint's buffers), `random`, or `zero`.
    #[arg(long, default_value = "const")]
    noise: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Grid columns.
    #[arg(long, default_value_t = 4)]
    cols: usize,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
    /// Output PNG.
    #[arg(long, default_value = "generated.png")]
    out: String,
}

fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let mut seeds = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (
                    a.trim().parse().map_err(|_| format!("bad seed `{a}`"))?,
                    b.trim().parse().map_err(|_| format!("bad seed `{b}`"))?,
                );
                seeds.extend(a..=b);
            }
            None => seeds.push(
                part.trim()
                    .parse()
                    .map_err(|_| format!("bad seed `{part}`"))?,
            ),
        }
    }
    if seeds.is_empty() {
        return Err("no seeds".into());
    }
    Ok(seeds)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let seeds = parse_seeds(&args.seeds)?;

    let t0 = Instant::now();
    let g = Generator::load(&args.checkpoint, &device)?;
    let cfg = g.config();
    eprintln!(
        "loaded {} ({} px, style_dim {}, {} mapping layers, channels {:?}) in {:.2?}",
        args.checkpoint,
        cfg.size,
        cfg.style_dim,
        cfg.n_mlp,
        cfg.channels,
        t0.elapsed()
    );
    let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));

    let bar = ProgressBar::new(seeds.len() as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} images  {elapsed_precise} ETA {eta}",
    )?);
    let mut images = Vec::new();
    for chunk in seeds.chunks(args.batch.max(1)) {
        // One z per seed, so an image depends only on its own seed.
        let z = Tensor::cat(chunk.iter().map(|&s| g.sample_z(1, s)).collect(), 0);
        let w = g.truncate(g.mapping(z), args.truncation, avg.clone());
        let noise = match args.noise.as_str() {
            "const" => NoiseMode::Const,
            "zero" => NoiseMode::Zero,
            "random" => NoiseMode::Random(chunk[0]),
            other => return Err(format!("unknown noise mode `{other}`").into()),
        };
        let img = g.synthesis(g.broadcast(w), noise);
        images.extend(to_rgb8(img)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    common::save_grid(&args.out, &images, args.cols, 2)?;
    device.sync()?;
    eprintln!(
        "wrote {} ({} images) in {:.2?}",
        args.out,
        images.len(),
        t0.elapsed()
    );
    Ok(())
}
