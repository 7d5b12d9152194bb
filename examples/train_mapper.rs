//! StyleCLIP method 2: train a latent mapper for one prompt (the official coach).
//!
//! ```text
//! cargo run --release --example train_mapper -- \
//!     --generator stylegan2-ffhq-config-f.pt --clip ViT-B-32.pt --arcface model_ir_se50.pth \
//!     --description "mohawk hairstyle" --no-fine --latents-train train_faces.pt \
//!     --latents-test test_faces.pt --out-dir results/mohawk
//! ```
//! Without latent files, W+ latents are sampled (z → w, ψ 0.7). Writes
//! `OUT/checkpoints/{iteration_N,best_model}.safetensors` (resume with `--resume`) and
//! `OUT/images/step_N.png` (top row G(w), bottom row G(ŵ)).

mod common;

use burn::prelude::*;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::arcface::ArcFace;
use styleclip::clip::Clip;
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::ClipInput;
use styleclip::edit::mapper::{
    MapperData, MapperKind, MapperOptions, MapperTraining, TrainingEvent,
};
use styleclip::edit::optim::OptimizerKind;
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::Generator;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    Levels,
    Single,
    Stylespace,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Optim {
    Ranger,
    Adam,
}

#[derive(Parser, Debug)]
#[command(about = "Train a StyleCLIP latent mapper (method 2)")]
struct Args {
    /// StyleGAN2 checkpoint (official .pt or styleclip safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    generator: String,
    /// CLIP weights (OpenAI ViT-B-32.pt, a state dict, or Hugging Face safetensors).
    #[arg(long, value_parser = common::weights_arg)]
    clip: String,
    /// ArcFace IR-SE50 weights (`model_ir_se50.pth`); needed unless --id-lambda 0.
    #[arg(long, value_parser = common::weights_arg)]
    arcface: Option<String>,
    /// The text prompt.
    #[arg(long)]
    description: String,
    #[arg(long, value_enum, default_value_t = Kind::Levels)]
    mapper: Kind,
    #[arg(long)]
    no_coarse: bool,
    #[arg(long)]
    no_medium: bool,
    #[arg(long)]
    no_fine: bool,
    /// Training W+ latents (`train_faces.pt`, .npy, safetensors); else sampled.
    #[arg(long)]
    latents_train: Option<String>,
    /// Validation W+ latents.
    #[arg(long)]
    latents_test: Option<String>,
    /// Sampled latents when no files are given (train, test).
    #[arg(long, default_value_t = 5000)]
    train_size: usize,
    #[arg(long, default_value_t = 1000)]
    test_size: usize,
    #[arg(long, default_value_t = 50_000)]
    steps: usize,
    #[arg(long, default_value_t = 2)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    #[arg(long, value_enum, default_value_t = Optim::Ranger)]
    optimizer: Optim,
    #[arg(long, default_value_t = 1.0)]
    clip_lambda: f64,
    #[arg(long, default_value_t = 0.8)]
    l2_lambda: f64,
    #[arg(long, default_value_t = 0.1)]
    id_lambda: f64,
    /// Feed CLIP normalised images instead of the official raw path.
    #[arg(long)]
    normalized: bool,
    #[arg(long, default_value_t = 2000)]
    val_interval: usize,
    #[arg(long, default_value_t = 2000)]
    save_interval: usize,
    #[arg(long, default_value_t = 100)]
    image_interval: usize,
    /// Continue from a checkpoint written by this example.
    #[arg(long)]
    resume: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "results/mapper")]
    out_dir: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?.autodiff();
    let g = Generator::load(&args.generator, &device)?.no_grad();
    let clip = Clip::load(&args.clip, &device)?.no_grad();
    let arcface = match &args.arcface {
        Some(p) => Some(ArcFace::load(p, &device)?.no_grad()),
        None if args.id_lambda > 0.0 => {
            return Err(
                "--id-lambda > 0 needs --arcface model_ir_se50.pth (or pass --id-lambda 0)".into(),
            );
        }
        None => None,
    };
    let data = match &args.latents_train {
        Some(train) => MapperData::load(
            &g,
            train,
            args.latents_test.as_deref().map(std::path::Path::new),
        )?,
        None => MapperData::sample(&g, args.train_size, args.test_size, 0.7, args.seed)?,
    };
    let options = MapperOptions {
        kind: match args.mapper {
            Kind::Levels => MapperKind::Levels,
            Kind::Single => MapperKind::Single,
            Kind::Stylespace => MapperKind::StyleSpace,
        },
        ..MapperOptions::levels(args.no_coarse, args.no_medium, args.no_fine)
    };
    let mut training = MapperTraining::new(args.description.clone())
        .with_options(options)
        .with_steps(args.steps)
        .with_batch_size(args.batch_size)
        .with_lr(args.lr)
        .with_optimizer(match args.optimizer {
            Optim::Ranger => OptimizerKind::Ranger,
            Optim::Adam => OptimizerKind::Adam,
        })
        .with_lambdas(args.clip_lambda, args.l2_lambda, args.id_lambda)
        .with_clip_input(if args.normalized {
            ClipInput::Normalized
        } else {
            ClipInput::Raw
        })
        .with_seed(args.seed)
        .with_intervals(args.val_interval, args.save_interval, args.image_interval)
        .with_checkpoint_dir(format!("{}/checkpoints", args.out_dir));
    if let Some(r) = &args.resume {
        training = training.with_resume(r);
    }
    let images_dir = format!("{}/images", args.out_dir);
    std::fs::create_dir_all(&images_dir)?;

    let bar = ProgressBar::new(args.steps as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} {msg}  {elapsed_precise} ETA {eta}",
    )?);
    let mut image_error = None;
    let trained = training.run(&g, &clip, arcface.as_ref(), &data, |event| match event {
        TrainingEvent::Step { step, losses, .. } => {
            bar.set_position(*step as u64);
            bar.set_message(format!(
                "loss {:.4} clip {:.4} l2 {:.4} id {:.4}",
                losses.loss, losses.clip, losses.l2, losses.id
            ));
        }
        TrainingEvent::Validation { step, losses, best } => bar.println(format!(
            "step {step}: validation loss {:.4} (clip {:.4}){}",
            losses.loss,
            losses.clip,
            if *best { ", best so far" } else { "" }
        )),
        TrainingEvent::Checkpoint { path, .. } => bar.println(format!("saved {}", path.display())),
        TrainingEvent::Images {
            step,
            source,
            edited,
        } => {
            let write = || -> Result<(), Box<dyn std::error::Error>> {
                let mut all = to_rgb8((*source).clone().inner())?;
                let cols = all.len();
                all.extend(to_rgb8((*edited).clone().inner())?);
                common::save_grid(&format!("{images_dir}/step_{step:06}.png"), &all, cols, 2)
            };
            if let Err(e) = write() {
                image_error.get_or_insert(e);
            }
        }
    })?;
    bar.finish();
    if let Some(e) = image_error {
        return Err(e);
    }
    device.sync()?;
    let last = trained.history.last().map(|l| l.loss).unwrap_or(f64::NAN);
    eprintln!(
        "trained {} steps, last loss {last:.4}; checkpoints in {}/checkpoints",
        trained.steps, args.out_dir
    );
    Ok(())
}
