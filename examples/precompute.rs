//! StyleCLIP method 3, the one-off precomputation per generator: StyleSpace statistics, then the
//! channel relevance `fs3` (resumable: rerun the same command after an interruption).
//!
//! ```text
//! cargo run --release --example precompute -- \
//!     --generator stylegan2-ffhq-config-f.pt --clip ViT-B-32.pt \
//!     --stats ffhq_stats.safetensors --fs3 ffhq_fs3.safetensors --device cuda
//! ```
//! Official settings are the defaults (100 000 latents, seed 5, ψ 0.7, cutoff 8; 100 images
//! per channel, all 17 layers). `--max-resolution 128` reproduces the shipped script's cap.
//! The cost (generator + CLIP forwards) is printed before the relevance run starts.

mod common;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::clip::Clip;
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::global_direction::{
    ChannelReset, Quantize, RelevanceConfig, StatsConfig, StyleStats, TruncationVariant,
};
use styleclip::stylegan2::Generator;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Variant {
    /// global_torch: W+ rows >= cutoff untruncated, uint8 by truncation.
    Torch,
    /// global_directions (TF): one truncated w on every row, uint8 by rounding.
    Tf,
}

#[derive(Parser, Debug)]
#[command(about = "Precompute StyleSpace statistics and channel relevance (StyleCLIP method 3)")]
struct Args {
    /// StyleGAN2 checkpoint (official .pt or styleclip safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    generator: String,
    /// CLIP weights (OpenAI ViT-B-32.pt, a state dict, or Hugging Face safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    clip: String,
    /// Statistics file: loaded if it exists, else computed and written.
    #[arg(long, default_value = "stats.safetensors")]
    stats: String,
    /// Relevance output; also the checkpoint a rerun continues from.
    #[arg(long, default_value = "fs3.safetensors")]
    fs3: String,
    #[arg(long, default_value_t = 100_000)]
    latents: usize,
    #[arg(long, default_value_t = 5)]
    seed: u64,
    #[arg(long, default_value_t = 100)]
    images: usize,
    /// Only layers up to this resolution (the shipped script: 128).
    #[arg(long)]
    max_resolution: Option<usize>,
    #[arg(long, value_enum, default_value_t = Variant::Torch)]
    variant: Variant,
    /// Reset only the measured channel to its mean (not the official cumulative reset).
    #[arg(long)]
    per_channel_reset: bool,
    /// Images per generator/CLIP batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Only print the cost and exit.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn bar(len: usize, what: &str) -> Result<ProgressBar, Box<dyn std::error::Error>> {
    Ok(
        ProgressBar::new(len as u64).with_style(ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}}  {{elapsed_precise}} ETA {{msg}}"
        ))?),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let g = Generator::load(&args.generator, &device)?;
    let (variant, quantize) = match args.variant {
        Variant::Torch => (TruncationVariant::Torch, Quantize::Truncate),
        Variant::Tf => (TruncationVariant::Tf, Quantize::Round),
    };
    let config = RelevanceConfig::new(args.images)
        .with_max_resolution(args.max_resolution)
        .with_quantize(quantize)
        .with_batch_size(args.batch)
        .with_channel_reset(if args.per_channel_reset {
            ChannelReset::PerChannel
        } else {
            ChannelReset::Cumulative
        });
    let cost = config.cost(&g);
    eprintln!(
        "relevance: {} layers, {} channels × {} images × 2 = {} generator + {} CLIP forwards",
        cost.layers, cost.channels, cost.images, cost.generator_forwards, cost.clip_forwards
    );
    if args.dry_run {
        return Ok(());
    }

    let stats = if std::path::Path::new(&args.stats).exists() {
        eprintln!("statistics: loading {}", args.stats);
        StyleStats::load(&args.stats)?
    } else {
        let pb = bar(args.latents, "statistics")?;
        let stats = StatsConfig::new(args.latents, args.seed)
            .with_variant(variant)
            .compute(&g, &device, |p| {
                pb.set_position(p.done as u64);
                pb.set_message(format!("{:.0?}", p.eta.unwrap_or_default()));
            })?;
        pb.finish();
        stats.save(&args.stats)?;
        eprintln!("statistics: wrote {}", args.stats);
        stats
    };

    let clip = Clip::load(&args.clip, &device)?;
    let pb = bar(cost.channels, "relevance")?;
    let fs3 = config.compute(
        &g,
        &clip,
        &stats,
        Some(std::path::Path::new(&args.fs3)),
        |p| {
            if p.resumed > 0 && p.done == p.resumed {
                pb.println(format!("resuming after {} channels", p.resumed));
            }
            pb.set_position(p.done as u64);
            pb.set_message(format!("{:.0?}", p.eta.unwrap_or_default()));
        },
    )?;
    pb.finish();
    eprintln!(
        "relevance: wrote {} ({} × {})",
        args.fs3,
        fs3.rows(),
        fs3.dim()
    );
    Ok(())
}
