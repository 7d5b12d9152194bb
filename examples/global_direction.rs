//! StyleCLIP method 3: edit with a global direction from a text pair, as an α sweep.
//!
//! ```text
//! cargo run --release --example global_direction -- \
//!     --generator stylegan2-ffhq-config-f.pt --clip ViT-B-32.pt \
//!     --stats stats.safetensors --fs3 fs3.npy \
//!     --neutral face --target "smiling face" --beta 0.15 --alpha=-4,0,2,4.1,6 --out sweep.png
//! ```
//! `--fs3` takes the officially released `fs3.npy` or a file from the `precompute` example;
//! `--stats` comes from `precompute`. `--beta auto` picks the official automatic threshold.
//! The image edited is `--seed`'s sample (ψ `--truncation`) or row `--latent-index` of a W+ file
//! (e4e `latents.pt`, `w_plus.npy`). Writes one strip `[α₁ | α₂ | …]` and prints how many
//! channels move.

mod common;

use clap::Parser;
use styleclip::clip::{Clip, Tokenizer};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::global_direction::{GlobalDirection, Relevance, StyleStats};
use styleclip::imaging::to_rgb8;
use styleclip::latents::load_w_plus;
use styleclip::stylegan2::{Generator, NoiseMode};

#[derive(Parser, Debug)]
#[command(about = "Text-driven global directions in StyleSpace (StyleCLIP method 3)")]
struct Args {
    #[arg(long, value_parser = common::weights_arg)]
    generator: String,
    #[arg(long, value_parser = common::weights_arg)]
    clip: String,
    /// Statistics from the `precompute` example.
    #[arg(long, value_parser = common::weights_arg)]
    stats: String,
    /// Channel relevance: the official `fs3.npy` or the `precompute` output.
    #[arg(long, value_parser = common::weights_arg)]
    fs3: String,
    #[arg(long, default_value = "face")]
    neutral: String,
    #[arg(long, default_value = "smiling face")]
    target: String,
    /// Disentanglement threshold β, or `auto`.
    #[arg(long, default_value = "0.15")]
    beta: String,
    /// For `--beta auto`: move more than this many channels (official 20 for faces, 100 else).
    #[arg(long, default_value_t = 20)]
    min_channels: usize,
    /// Strengths α, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        default_value = "-4,0,4.1"
    )]
    alpha: Vec<f32>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0.7)]
    truncation: f64,
    /// A W+ latent file to edit instead of a sample.
    #[arg(long)]
    latent: Option<String>,
    #[arg(long, default_value_t = 0)]
    latent_index: usize,
    #[arg(long, default_value = "global_direction.png")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let g = Generator::load(&args.generator, &device)?;
    let clip = Clip::load(&args.clip, &device)?;
    let stats = StyleStats::load(&args.stats)?;
    stats.check(&g)?;
    let fs3 = Relevance::load(&args.fs3)?;

    let cfg = g.config().clone();
    let wp = match &args.latent {
        Some(path) => {
            let all = load_w_plus(path, cfg.n_latent(), cfg.style_dim, &device)?;
            if args.latent_index >= all.dims()[0] {
                return Err(format!("--latent-index {} is out of range", args.latent_index).into());
            }
            all.narrow(0, args.latent_index, 1)
        }
        None => {
            let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));
            g.broadcast(g.truncate(g.mapping(g.sample_z(1, args.seed)), args.truncation, avg))
        }
    };

    let dir = GlobalDirection::from_text(&clip, &Tokenizer::new(), &args.neutral, &args.target)?;
    let beta = match args.beta.as_str() {
        "auto" => dir.auto_beta(&fs3, args.min_channels)?.beta,
        b => b.parse::<f64>().map_err(|_| format!("bad --beta {b}"))?,
    };
    let start = std::time::Instant::now();
    let delta = dir.delta(&fs3, &stats, beta)?;
    let sweep = delta.delta.apply_sweep(&g.styles(wp), &args.alpha)?;
    let images = to_rgb8(g.synthesis_from_styles(&sweep, NoiseMode::Const))?;
    println!(
        "{} → {}: β {beta:.3} moves {} channels; α {:?} rendered in {:.2?}",
        args.neutral,
        args.target,
        delta.channels,
        args.alpha,
        start.elapsed()
    );
    common::save_grid(&args.out, &images, images.len(), 0)?;
    eprintln!("wrote {}", args.out);
    Ok(())
}
