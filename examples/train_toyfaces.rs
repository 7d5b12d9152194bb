//! Regenerate the toy world's networks in `weights/toyfaces/` (fixed seeds, resumable).
//!
//! ```text
//! cargo run --release --example train_toyfaces -- --stage oracle
//! cargo run --release --example train_toyfaces -- --stage generator --work-dir toy-work
//! cargo run --release --example train_toyfaces -- --stage eval
//! ```
//! Stages: `oracle` (the attribute classifier), `generator` (StyleGAN2 fitted to the renderer;
//! checkpoints in `--work-dir`, resumed when present), `eval` (the oracle's agreement with the
//! renderer on generator samples, and the mean pixel error).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::toyfaces::fit::{
    GeneratorFit, fit_generator, fit_latents, render_latents, toy_generator_config,
};
use styleclip::toyfaces::oracle::{Oracle, train_oracle};
use styleclip::toyfaces::{Attributes, Face, Jitter, Style, render_batch};

#[derive(Parser, Debug)]
#[command(about = "Train the toy world's networks")]
struct Args {
    /// `oracle`, `generator` or `eval`.
    #[arg(long)]
    stage: String,
    /// Where the shipped files go.
    #[arg(long, default_value = "weights/toyfaces")]
    out_dir: PathBuf,
    /// Checkpoints of long stages (resumed when present).
    #[arg(long, default_value = "toy-work")]
    work_dir: PathBuf,
    /// Training steps (default: the stage's own).
    #[arg(long)]
    steps: Option<usize>,
    /// Batch size (default: the stage's own).
    #[arg(long)]
    batch: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples for `eval`.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
}

fn bar(n: usize) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg} (eta {eta})")
            .expect("template"),
    );
    pb
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = Device::flex();
    std::fs::create_dir_all(&args.out_dir)?;
    match args.stage.as_str() {
        "oracle" => {
            let steps = args.steps.unwrap_or(3000);
            let ad = device.clone().autodiff();
            let oracle = Oracle::new_seeded(args.seed, &ad)?;
            let pb = bar(steps);
            let t = Instant::now();
            let oracle = train_oracle(
                oracle,
                steps,
                args.batch.unwrap_or(64),
                2e-3,
                args.seed,
                |_, loss| {
                    pb.inc(1);
                    pb.set_message(format!("loss {loss:.4}"));
                },
            )?;
            pb.finish();
            let path = args.out_dir.join("oracle.safetensors");
            oracle.valid().save(&path)?;
            println!(
                "oracle: {steps} steps in {:.0} s → {}",
                t.elapsed().as_secs_f64(),
                path.display()
            );
            let oracle = Oracle::load(&path, &device)?;
            held_out_accuracy(&oracle, &device)?;
        }
        "generator" => {
            let fit = GeneratorFit {
                steps: args.steps.unwrap_or(GeneratorFit::default().steps),
                batch: args.batch.unwrap_or(GeneratorFit::default().batch),
                seed: args.seed,
                checkpoint_dir: Some(args.work_dir.clone()),
                ..GeneratorFit::default()
            };
            let ad = device.clone().autodiff();
            let g = Generator::new_seeded(toy_generator_config(), args.seed, &ad)?;
            let pb = bar(fit.steps);
            let t = Instant::now();
            let mut every = 0;
            let g = fit_generator(g, &fit, |r| {
                pb.set_position(r.step as u64);
                every += 1;
                if every % 10 == 0 {
                    pb.set_message(format!("L1 {:.4} MSE {:.4}", r.l1, r.mse));
                }
                true
            })?;
            pb.finish();
            let path = args.out_dir.join("generator.safetensors");
            g.save(&path)?;
            println!(
                "generator: {} steps in {:.0} s → {}",
                fit.steps,
                t.elapsed().as_secs_f64(),
                path.display()
            );
        }
        "eval" => {
            let g = Generator::load(args.out_dir.join("generator.safetensors"), &device)?;
            let oracle = Oracle::load(args.out_dir.join("oracle.safetensors"), &device)?;
            let n = args.samples;
            let (mut agree, mut total, mut l1) = ([0usize; 6], 0usize, 0f64);
            for chunk in 0..n.div_ceil(50) {
                let b = 50.min(n - chunk * 50);
                let z = fit_latents(10_000 + args.seed, chunk, b, g.config().style_dim, &device);
                let target = render_latents(&z)?;
                let out = g.synthesis(g.broadcast(g.mapping(z.clone())), NoiseMode::Const);
                l1 += f64::from(
                    (out.clone() - target.clone())
                        .abs()
                        .mean()
                        .into_scalar::<f32>(),
                ) * b as f64;
                let zs = z
                    .into_data()
                    .try_into_vec_as::<f32>()
                    .map_err(|e| format!("{e:?}"))?;
                let d = g.config().style_dim;
                for (i, got) in oracle.classify(out.clone())?.iter().enumerate() {
                    let want = Face::from_latent(&zs[i * d..(i + 1) * d]).attributes;
                    for (k, (a, b)) in got.indices().iter().zip(want.indices()).enumerate() {
                        agree[k] += usize::from(*a == b);
                    }
                    total += 1;
                }
                if chunk == 0 {
                    let mut imgs = to_rgb8(target.narrow(0, 0, 8))?;
                    imgs.extend(to_rgb8(out.narrow(0, 0, 8))?);
                    common::save_grid("toyfaces_fit.png", &imgs, 8, 2)?;
                }
            }
            let names = [
                "hair_color",
                "hairstyle",
                "mouth",
                "glasses",
                "skin",
                "background",
            ];
            for (k, name) in names.iter().enumerate() {
                println!("{name:>12}: {:.1}%", 100.0 * agree[k] as f64 / total as f64);
            }
            let all: usize = agree.iter().sum();
            println!(
                "all attributes: {:.2}% over {total} samples; mean |G(z) − R(z)| = {:.4}",
                100.0 * all as f64 / (6 * total) as f64,
                l1 / n as f64
            );
        }
        other => return Err(format!("unknown stage `{other}`").into()),
    }
    Ok(())
}

/// Oracle accuracy per head on 600 held-out renders of each style.
fn held_out_accuracy(oracle: &Oracle, device: &Device) -> Result<(), Box<dyn std::error::Error>> {
    for style in [Style::Photo, Style::Sketch, Style::Negative] {
        let faces: Vec<Face> = (0..600u64)
            .map(|i| Face {
                attributes: Attributes::sample(5_000_000 + i),
                jitter: Jitter::sample(5_000_000 + i),
            })
            .collect();
        let mut agree = [0usize; 7];
        for chunk in faces.chunks(100) {
            let x = render_batch(chunk, style, styleclip::toyfaces::SIZE, device)?;
            for (r, f) in oracle.read(x)?.iter().zip(chunk) {
                let (a, b) = (r.attributes.indices(), f.attributes.indices());
                for k in 0..6 {
                    agree[k] += usize::from(a[k] == b[k]);
                }
                agree[6] += usize::from(r.style == style);
            }
        }
        let pct: Vec<String> = agree
            .iter()
            .map(|&a| format!("{:.1}", a as f64 / 6.0))
            .collect();
        println!(
            "{style:?}: hair_color hairstyle mouth glasses skin background style = {}",
            pct.join(" ")
        );
    }
    Ok(())
}
