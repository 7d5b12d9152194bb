//! The main job: edit generated faces with a text prompt by all three StyleCLIP methods.
//!
//! ```text
//! cargo run --release --example edit -- --prompt "a smiling face"
//! ```
//! With no weight arguments it runs offline on the shipped toy world (`weights/toyfaces/`):
//! per seed, the source and the result of each method (1 latent optimisation, 2 latent mapper,
//! 3 global direction), labelled and upscaled, in one PNG (`--out`); per method it prints the
//! time and the attribute oracle's verdict (target reached, other attributes kept). With
//! `--generator` and `--clip` (and `--mapper`, `--stats` + `--fs3`) the same command edits with
//! real checkpoints; a method whose files are missing is skipped with the reason.

mod common;

use burn::prelude::*;
use clap::Parser;
use common::methods::{WeightFlags, cell, run_methods, setup, verdict_columns};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::NoiseMode;
use styleclip::toyfaces::{Attributes, EditSettings};

#[derive(Parser, Debug)]
#[command(about = "Edit faces with a text prompt by StyleCLIP's three methods")]
struct Args {
    /// What the edited image should show.
    #[arg(long, default_value = "a smiling face")]
    prompt: String,
    /// The neutral text of the global direction (method 3).
    #[arg(long, default_value = "a face")]
    neutral: String,
    /// Seeds of the faces to edit.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3")]
    seeds: Vec<u64>,
    /// Method settings (default: the toy world's `EditSettings::default()` on the toy world,
    /// `EditSettings::official()` on real checkpoints).
    #[command(flatten)]
    edit: common::EditFlags,
    /// Truncation ψ of the sampled faces (default: 1 in the toy world, 0.7 otherwise).
    #[arg(long)]
    truncation: Option<f64>,
    /// The networks (default: the toy world).
    #[command(flatten)]
    weights: WeightFlags,
    /// Upscaling of the images in the PNG.
    #[arg(long, default_value_t = 4)]
    scale: usize,
    #[arg(long, default_value = "edit.png")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.seeds.is_empty() {
        return Err("--seeds is empty".into());
    }
    let device = device_from_name(&args.device)?;
    let s = setup(&args.weights, &args.prompt, &device)?;
    let g = &s.g;
    let n = args.seeds.len();
    let psi = args.truncation.unwrap_or(if s.toy() { 1.0 } else { 0.7 });
    // Defaults: the toy world's tuned settings, or the official values on real checkpoints.
    let settings = EditSettings {
        neutral: args.neutral.clone(),
        ..args.edit.over(s.default_settings())
    };
    let avg = g.latent_avg().unwrap_or_else(|| g.mean_latent(4096, 0));
    let z = Tensor::cat(
        args.seeds.iter().map(|&seed| g.sample_z(1, seed)).collect(),
        0,
    );
    let w = g.broadcast(g.truncate(g.mapping(z), psi, avg));
    let source = g.synthesis(w.clone(), NoiseMode::Const);
    println!(
        "editing {n} faces toward `{}` with {}",
        args.prompt,
        s.describe()
    );
    let results = run_methods(&s, &args.prompt, &settings, &w, &[1, 2, 3], &device)?;

    // Verdicts and the sheet.
    let before: Option<Vec<Attributes>> = match &s.oracle {
        Some(o) => Some(o.classify(source.clone())?),
        None => None,
    };
    let mut columns = vec![
        to_rgb8(source)?
            .iter()
            .map(|im| cell("SOURCE", im, args.scale))
            .collect(),
    ];
    columns.extend(verdict_columns(
        &s,
        &args.prompt,
        &results,
        before.as_deref(),
        n,
        args.scale,
    )?);
    let mut sheet = Vec::with_capacity(n * columns.len());
    for i in 0..n {
        sheet.extend(columns.iter().map(|c: &Vec<_>| c[i].clone()));
    }
    common::save_grid(&args.out, &sheet, columns.len(), 4)?;
    println!(
        "wrote {} (rows: seeds {:?}; columns: source, methods 1–3)",
        args.out, args.seeds
    );
    Ok(())
}
