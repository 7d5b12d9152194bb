//! StyleCLIP method 2: apply a trained mapper (an official `mohawk.pt` … or one trained with
//! `train_mapper`) to several latents and write a grid: top row the sources, bottom row the edits.
//!
//! ```text
//! cargo run --release --example apply_mapper -- --mapper mohawk.pt \
//!     --latents example_celebs.pt --count 4 --out mohawk.png
//! ```
//! The generator is the one saved inside an official mapper checkpoint unless `--generator` is
//! given. Without `--latents`, latents are sampled from `--seed` with truncation ψ.

mod common;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::mapper::MapperCheckpoint;
use styleclip::imaging::to_rgb8;
use styleclip::latents::load_w_plus;
use styleclip::stylegan2::{Generator, NoiseMode};

#[derive(Parser, Debug)]
#[command(about = "Apply a StyleCLIP latent mapper (method 2)")]
struct Args {
    /// Mapper checkpoint (official .pt or styleclip safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    mapper: String,
    /// Generator; default: the one inside the mapper checkpoint.
    #[arg(long, value_parser = common::weights_arg)]
    generator: Option<String>,
    /// W+ latents (e4e `latents.pt`, `example_celebs.pt`, .npy, safetensors).
    #[arg(long)]
    latents: Option<String>,
    /// How many latents to edit.
    #[arg(long, default_value_t = 4)]
    count: usize,
    /// Seed for sampled latents (without --latents).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0.7)]
    truncation: f64,
    #[arg(long, default_value = "mapper.png")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let ckpt = MapperCheckpoint::open(&args.mapper)?;
    let mapper = ckpt.mapper(&device)?;
    let g = match &args.generator {
        Some(p) => Generator::load(p, &device)?,
        None => ckpt.generator(&device).map_err(|e| {
            format!("{e}; pass --generator (mappers saved by styleclip hold no generator)")
        })?,
    };
    let cfg = g.config().clone();
    let w = match &args.latents {
        Some(p) => {
            let all = load_w_plus(p, cfg.n_latent(), cfg.style_dim, &device)?;
            let n = all.dims()[0].min(args.count);
            all.narrow(0, 0, n)
        }
        None => {
            let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));
            g.broadcast(g.truncate(
                g.mapping(g.sample_z(args.count, args.seed)),
                args.truncation,
                avg,
            ))
        }
    };
    let n = w.dims()[0];
    eprintln!(
        "{:?} mapper{} for {:?}",
        mapper.options().kind,
        ckpt.description()
            .map(|d| format!(" trained on \"{d}\""))
            .unwrap_or_default(),
        args.mapper
    );
    let bar = ProgressBar::new(n as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} {elapsed_precise}",
    )?);
    let (mut sources, mut edits) = (Vec::new(), Vec::new());
    for i in 0..n {
        let wi = w.clone().narrow(0, i, 1);
        sources.extend(to_rgb8(g.synthesis(wi.clone(), NoiseMode::Const))?);
        let edited = mapper.edit_styles(&g, wi)?;
        edits.extend(to_rgb8(g.synthesis_from_styles(&edited, NoiseMode::Const))?);
        bar.inc(1);
    }
    bar.finish();
    sources.extend(edits);
    common::save_grid(&args.out, &sources, n, 2)?;
    device.sync()?;
    eprintln!("wrote {} (top: sources, bottom: edits)", args.out);
    Ok(())
}
