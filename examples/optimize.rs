//! StyleCLIP method 1: edit a generated (or given) face towards a text by optimising its latent.
//!
//! ```text
//! cargo run --release --example optimize -- \
//!     --generator stylegan2-ffhq-config-f.pt --clip ViT-B-32.pt \
//!     --prompt "a person with purple hair" --seed 3 --steps 300 --out-dir results
//! ```
//! Writes `results/final.png` ([source | edited]), `results/step_XXXXX.png` every
//! `--save-every` steps, and `results/latent.safetensors`.

mod common;

use burn::prelude::*;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::arcface::ArcFace;
use styleclip::clip::Clip;
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::optimization::{ClipInput, Latent, LatentOptimization, Mode, Space};
use styleclip::imaging::{Rgb8, to_rgb8};
use styleclip::latents::{load_w_plus, save_latent};
use styleclip::stylegan2::{Generator, NoiseMode};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SpaceArg {
    Wplus,
    Stylespace,
}

#[derive(Parser, Debug)]
#[command(about = "Text-driven latent optimisation (StyleCLIP method 1)")]
struct Args {
    /// StyleGAN2 checkpoint (official .pt or styleclip safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    generator: String,
    /// CLIP weights (OpenAI ViT-B-32.pt, a state dict, or Hugging Face safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    clip: String,
    /// ArcFace IR-SE50 weights (`model_ir_se50.pth`), needed for --id-lambda > 0.
    #[arg(long, value_parser = common::weights_arg)]
    arcface: Option<String>,
    /// The text to move towards.
    #[arg(long, default_value = "a person with purple hair")]
    prompt: String,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    #[arg(long, default_value_t = 0.008)]
    l2_lambda: f64,
    #[arg(long, default_value_t = 0.0)]
    id_lambda: f64,
    #[arg(long, value_enum, default_value_t = SpaceArg::Wplus)]
    space: SpaceArg,
    /// Free generation (CLIP loss only, from the mean latent) instead of editing.
    #[arg(long)]
    free: bool,
    /// Feed CLIP normalised images (the fix for StyleCLIP issue #38) instead of the official raw path.
    #[arg(long)]
    normalized: bool,
    /// Start from this seed's z (truncated by --truncation)...
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ...or from a W+ latent file (.pt, .npy, safetensors); --latent-index picks a row.
    #[arg(long)]
    latent: Option<String>,
    #[arg(long, default_value_t = 0)]
    latent_index: usize,
    #[arg(long, default_value_t = 0.7)]
    truncation: f64,
    /// Save an intermediate image every N steps (0: never).
    #[arg(long, default_value_t = 20)]
    save_every: usize,
    #[arg(long, default_value = "results")]
    out_dir: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn save_png(path: &str, images: &[Rgb8]) -> Result<(), Box<dyn std::error::Error>> {
    common::save_grid(path, images, images.len(), 0)
}

fn render(g: &Generator, latent: &Latent) -> Tensor<4> {
    match latent {
        Latent::WPlus(w) => g.synthesis(w.clone(), NoiseMode::Const),
        Latent::Styles(s) => g.synthesis_from_styles(s, NoiseMode::Const),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?.autodiff();
    let g = Generator::load(&args.generator, &device)?.no_grad();
    let clip = Clip::load(&args.clip, &device)?.no_grad();
    let arcface = match &args.arcface {
        Some(p) => Some(ArcFace::load(p, &device)?.no_grad()),
        None => None,
    };
    let cfg = g.config().clone();
    let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));
    let start = match (&args.latent, args.free) {
        (Some(path), _) => {
            let all = load_w_plus(path, cfg.n_latent(), cfg.style_dim, &device)?;
            let n = all.dims()[0];
            if args.latent_index >= n {
                return Err(format!(
                    "--latent-index {} but the file has {n} latents",
                    args.latent_index
                )
                .into());
            }
            all.narrow(0, args.latent_index, 1)
        }
        (None, true) => g.broadcast(avg.reshape([1, cfg.style_dim])),
        (None, false) => {
            g.broadcast(g.truncate(g.mapping(g.sample_z(1, args.seed)), args.truncation, avg))
        }
    };

    let opt = LatentOptimization::new(args.prompt.clone())
        .with_steps(args.steps)
        .with_lr(args.lr)
        .with_l2_lambda(args.l2_lambda)
        .with_id_lambda(args.id_lambda)
        .with_space(match args.space {
            SpaceArg::Wplus => Space::WPlus,
            SpaceArg::Stylespace => Space::StyleSpace,
        })
        .with_mode(if args.free {
            Mode::FreeGeneration
        } else {
            Mode::Edit
        })
        .with_clip_input(if args.normalized {
            ClipInput::Normalized
        } else {
            ClipInput::Raw
        });

    std::fs::create_dir_all(&args.out_dir)?;
    let bar = ProgressBar::new(args.steps as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} {msg}  {elapsed_precise} ETA {eta}",
    )?);
    let mut save_error = None;
    let result = opt.run(&g, &clip, arcface.as_ref(), start, |step| {
        let r = step.record;
        bar.set_message(format!(
            "clip {:.4} l2 {:.4} id {:.4} lr {:.4}",
            r.clip_loss, r.l2_loss, r.id_loss, r.lr
        ));
        bar.inc(1);
        if args.save_every > 0 && r.step % args.save_every == 0 {
            let path = format!("{}/step_{:05}.png", args.out_dir, r.step);
            if let Err(e) = to_rgb8(render(&g, step.latent).inner())
                .map_err(Into::into)
                .and_then(|i| save_png(&path, &i))
            {
                save_error = Some(e);
            }
        }
    })?;
    bar.finish();
    if let Some(e) = save_error {
        return Err(e);
    }

    let mut pair = to_rgb8(result.source_image.clone().inner())?;
    pair.extend(to_rgb8(result.image.clone().inner())?);
    let final_path = format!("{}/final.png", args.out_dir);
    save_png(&final_path, &pair)?;
    let latent_path = format!("{}/latent.safetensors", args.out_dir);
    match &result.latent {
        Latent::WPlus(w) => save_latent(&latent_path, w.clone().inner())?,
        Latent::Styles(s) => {
            let flat = Tensor::cat(s.layers().iter().map(|t| t.clone().inner()).collect(), 1);
            save_latent(&latent_path, flat)?
        }
    }
    device.sync()?;
    let last = result.history.last().map(|r| r.total).unwrap_or(f64::NAN);
    eprintln!("final loss {last:.4}; wrote {final_path} and {latent_path}");
    Ok(())
}
