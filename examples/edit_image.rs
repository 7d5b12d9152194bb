//! Edit a real image with a text prompt: invert it into W+ (rosinality's projector, optionally
//! started from the e4e encoder), then edit that latent by StyleCLIP's methods.
//!
//! ```text
//! cargo run --release --example edit_image -- --render 7 --prompt "purple hair"
//! cargo run --release --example edit_image -- --image face.png --prompt "a smiling face" \
//!     --generator ffhq.pt --clip ViT-B-32.pt --lpips-trunk vgg16-397923af.pth \
//!     --lpips-heads vgg.pth [--e4e e4e_ffhq_encode.pt] [--mapper M] [--stats S --fs3 F]
//! ```
//! Writes one PNG: input | reconstruction | each method's edit, labelled and upscaled, and
//! prints the reconstruction's PSNR (and LPIPS when its weights are given). With no weight
//! arguments it runs offline on the toy world; `--render SEED` draws a face with the toy
//! renderer (never produced by the generator) as the input, and the oracle then checks the
//! reconstruction against the renderer's attributes and scores every edit. Face generators
//! expect an aligned crop (eyes and mouth where the training set had them): the image is only
//! centre-cropped and resized here.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use common::methods::{WeightFlags, cell, run_methods, setup, verdict_columns};
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::e4e::Encoder4Editing;
use styleclip::imaging::{fit_square, from_rgb8, load_image, save_png, to_rgb8};
use styleclip::invert::projector::{MAX_COMPARE, Projector, Start, pool_to};
use styleclip::lpips::Lpips;
use styleclip::stylegan2::Generator;
use styleclip::toyfaces::{Attributes, EditSettings, ToyFaces};

#[derive(Parser, Debug)]
#[command(about = "Invert an image into W+ and edit it with a text prompt")]
struct Args {
    /// The image to edit (PNG, JPEG or WebP; an aligned face crop for face generators).
    #[arg(long, required_unless_present = "render")]
    image: Option<PathBuf>,
    /// Toy world only: draw the input with the renderer from this seed's attributes and jitter
    /// (written beside `--out` as `<out>-input.png`).
    #[arg(long, conflicts_with = "image")]
    render: Option<u64>,
    /// What the edited image should show.
    #[arg(long, default_value = "a smiling face")]
    prompt: String,
    /// The neutral text of the global direction (method 3).
    #[arg(long, default_value = "a face")]
    neutral: String,
    /// Methods: 1, 2, 3 or all.
    #[arg(long, default_value = "all")]
    method: String,
    /// Projector steps (official 1000; 0 with `--e4e` keeps the encoder's latent).
    #[arg(long, default_value_t = 300)]
    project_steps: usize,
    /// Optimise W (one row, as the official default) instead of W+.
    #[arg(long)]
    w_only: bool,
    /// Weight of the pixel MSE in the projector (official 0; without LPIPS it is 1).
    #[arg(long, default_value_t = 0.0)]
    mse: f64,
    /// Seed of the projector's draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// LPIPS trunk: torchvision's `vgg16-397923af.pth` (with `--lpips-heads`).
    #[arg(long, value_parser = common::weights_path, requires = "lpips_heads")]
    lpips_trunk: Option<PathBuf>,
    /// LPIPS heads: lpips' `weights/v0.1/vgg.pth`.
    #[arg(long, value_parser = common::weights_path, requires = "lpips_trunk")]
    lpips_heads: Option<PathBuf>,
    /// An e4e checkpoint (`e4e_ffhq_encode.pt`): its W+ starts the projector.
    #[arg(long, value_parser = common::weights_path)]
    e4e: Option<PathBuf>,
    /// Method settings.
    #[command(flatten)]
    edit: common::EditFlags,
    /// The networks (default: the toy world).
    #[command(flatten)]
    weights: WeightFlags,
    /// Upscaling of the images in the PNG.
    #[arg(long, default_value_t = 4)]
    scale: usize,
    #[arg(long, default_value = "edit_image.png")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let methods: Vec<usize> = match args.method.as_str() {
        "all" => vec![1, 2, 3],
        m => m
            .split(',')
            .map(|s| match s.trim() {
                "1" => Ok(1),
                "2" => Ok(2),
                "3" => Ok(3),
                other => Err(format!("--method takes 1, 2, 3 or all, got `{other}`")),
            })
            .collect::<Result<_, _>>()?,
    };
    let device = device_from_name(&args.device)?;
    let s = setup(&args.weights, &args.prompt, &device)?;
    let size = s.g.config().size;
    let compare = size.min(MAX_COMPARE);

    // The input, at the size the projector compares at.
    let (input, truth) = match (&args.image, args.render) {
        (Some(path), _) => (load_image(path, compare, &device)?, None),
        (None, Some(seed)) => {
            let dir = s
                .world
                .as_ref()
                .ok_or("--render draws toy faces: it needs the toy world (no --generator)")?;
            let world = ToyFaces::load_from(dir, &device)?;
            let truth = Attributes::sample(seed);
            let x = world.render(&truth, seed);
            let path = format!("{}-input.png", args.out.trim_end_matches(".png"));
            save_png(&path, &to_rgb8(x.clone())?[0])?;
            println!("rendered seed {seed} ({truth:?}) to {path}");
            (x, Some(truth))
        }
        (None, None) => unreachable!("clap requires --image or --render"),
    };

    // Inversion on an autodiff copy of the generator.
    let ad = device.clone().autodiff();
    let g_ad = Generator::load(&s.generator, &ad)?.no_grad();
    let lpips = match (&args.lpips_trunk, &args.lpips_heads) {
        (Some(t), Some(h)) => Some(Lpips::load(t, h, &ad)?),
        _ => None,
    };
    let start = match &args.e4e {
        Some(path) => {
            let enc = Encoder4Editing::load(path, &device)?;
            // The official transform: the image resized to 256 px.
            let x256 = match &args.image {
                Some(p) => load_image(p, styleclip::e4e::INPUT_SIZE, &device)?,
                None => from_rgb8(
                    &[fit_square(
                        &to_rgb8(input.clone())?[0],
                        styleclip::e4e::INPUT_SIZE,
                    )?],
                    &device,
                )?,
            };
            let w = enc.try_encode(x256)?;
            println!("e4e: W+ {:?} from {}", w.dims(), path.display());
            Some(w)
        }
        None => None,
    };
    let w_plus = !args.w_only || start.is_some();
    let projector = Projector::new()
        .with_steps(args.project_steps.max(1))
        .with_w_plus(w_plus)
        .with_mse(args.mse)
        .with_seed(args.seed);
    if lpips.is_none() {
        println!(
            "no LPIPS weights (--lpips-trunk, --lpips-heads): the projector runs on the pixel \
             MSE alone (weight {})",
            projector.mse_weight(false)
        );
    }
    let t = Instant::now();
    let w = match (&start, args.project_steps) {
        (Some(w), 0) => w.clone(),
        _ => {
            let pb = ProgressBar::new(projector.steps() as u64).with_style(
                ProgressStyle::with_template(
                    "projecting {bar:40} {pos}/{len} {msg} {elapsed_precise}",
                )?,
            );
            let target = Tensor::from_data(input.clone().into_data(), &ad);
            let projector = match &start {
                Some(w) => projector
                    .with_start(Start::WPlus(Tensor::from_data(w.clone().into_data(), &ad))),
                None => projector,
            };
            let out = projector.run(&g_ad, &lpips, target, |r| {
                pb.set_message(format!("mse {:.4}", r.mse));
                pb.inc(1);
            })?;
            pb.finish_and_clear();
            Tensor::from_data(out.latent.inner().into_data(), &device)
        }
    };
    let recon =
        s.g.synthesis(w.clone(), styleclip::stylegan2::NoiseMode::Const);
    let recon_cmp = pool_to(recon.clone(), compare);
    let mse: f32 = (recon_cmp.clone() - input.clone())
        .powi_scalar(2)
        .mean()
        .into_scalar();
    // PSNR of [-1, 1] images: the peak-to-peak range is 2.
    let psnr = 10.0 * (4.0 / mse as f64).log10();
    let mut line = format!("reconstruction in {:.1?}: PSNR {psnr:.2} dB", t.elapsed());
    if let Some(l) = &lpips {
        let d: f32 = l
            .try_distance(
                Tensor::from_data(recon_cmp.into_data(), &ad),
                Tensor::from_data(input.clone().into_data(), &ad),
            )?
            .into_scalar();
        line += &format!(", LPIPS {d:.4}");
    }
    println!("{line}");
    let before = match &s.oracle {
        Some(o) => {
            let read = o.classify(recon.clone())?;
            if let Some(truth) = truth {
                let same = read[0]
                    .indices()
                    .iter()
                    .zip(truth.indices())
                    .filter(|(a, b)| **a == *b)
                    .count();
                println!("oracle: the reconstruction keeps {same}/6 of the rendered attributes");
            }
            Some(read)
        }
        None => None,
    };

    let settings = EditSettings {
        neutral: args.neutral.clone(),
        ..args.edit.over(s.default_settings())
    };
    println!("editing toward `{}` with {}", args.prompt, s.describe());
    let results = run_methods(&s, &args.prompt, &settings, &w, &methods, &device)?;
    let input_full = if compare == size {
        input
    } else {
        load_image(args.image.as_ref().expect("image"), size, &device)?
    };
    let mut columns = vec![
        vec![cell("INPUT", &to_rgb8(input_full)?[0], args.scale)],
        vec![cell("INVERTED", &to_rgb8(recon)?[0], args.scale)],
    ];
    columns.extend(verdict_columns(
        &s,
        &args.prompt,
        &results,
        before.as_deref(),
        1,
        args.scale,
    )?);
    let row: Vec<_> = columns.iter().map(|c| c[0].clone()).collect();
    common::save_grid(&args.out, &row, row.len(), 4)?;
    println!("wrote {} (input, reconstruction, methods)", args.out);
    Ok(())
}
