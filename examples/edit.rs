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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::prelude::*;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::clip::{Clip, Tokenizer};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::global_direction::{
    GlobalDirection, IMAGENET_TEMPLATES, Relevance, StyleStats,
};
use styleclip::edit::mapper::AnyMapper;
use styleclip::edit::optimization::LatentOptimization;
use styleclip::imaging::{Rgb8, to_rgb8};
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::toyfaces::{Attributes, EditSettings, Oracle, ToyFaces, prompt_targets, verdict};

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
    /// A generator checkpoint (else the toy world): a path, or with `--features pretrained` a
    /// catalogue name such as `ffhq` (likewise `--clip vit-b-32`, `--mapper mapper:mohawk`).
    #[arg(long, value_parser = common::weights_path)]
    generator: Option<PathBuf>,
    /// A CLIP checkpoint (with `--generator`).
    #[arg(long, value_parser = common::weights_path)]
    clip: Option<PathBuf>,
    /// A trained mapper for the prompt (method 2).
    #[arg(long, value_parser = common::weights_path)]
    mapper: Option<PathBuf>,
    /// StyleSpace statistics (method 3, with `--fs3`).
    #[arg(long, value_parser = common::weights_path)]
    stats: Option<PathBuf>,
    /// Channel relevance, `fs3.npy` or the `precompute` output (method 3).
    #[arg(long, value_parser = common::weights_path)]
    fs3: Option<PathBuf>,
    /// A toy world directory other than the shipped `weights/toyfaces`.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Upscaling of the images in the PNG.
    #[arg(long, default_value_t = 4)]
    scale: usize,
    #[arg(long, default_value = "edit.png")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

/// A method's images and time, or why it was skipped.
type Outcome = Result<(Tensor<4>, Duration), String>;

/// What a run edits with.
struct Setup {
    generator: PathBuf,
    clip: PathBuf,
    g: Generator,
    clip_model: Clip,
    mapper: Result<AnyMapper, String>,
    global: Result<(StyleStats, Relevance), String>,
    oracle: Option<Oracle>,
    toy: bool,
}

fn setup(args: &Args, device: &Device) -> Result<Setup, Box<dyn std::error::Error>> {
    let Some(generator) = args.generator.clone() else {
        let dir = args.world.clone().unwrap_or_else(ToyFaces::shipped_dir);
        let world = ToyFaces::load_from(&dir, device)?;
        let mapper = match &args.mapper {
            Some(p) => AnyMapper::load(p, device).map_err(|e| e.to_string()),
            None => match world.mapper(&args.prompt)? {
                Some(m) => Ok(AnyMapper::Levels(m)),
                None => {
                    let shipped = world.present_mappers();
                    Err(format!(
                        "no mapper for `{}` at {} (present: {}); train one with the \
                         `train_mapper` example and pass --mapper",
                        args.prompt,
                        world.mapper_path(&args.prompt).display(),
                        if shipped.is_empty() {
                            "none".to_string()
                        } else {
                            shipped.join(", ")
                        }
                    ))
                }
            },
        };
        return Ok(Setup {
            generator: dir.join("generator.safetensors"),
            clip: dir.join("clip.safetensors"),
            g: world.generator,
            clip_model: world.clip,
            mapper,
            global: Ok((world.stats, world.fs3)),
            oracle: Some(world.oracle),
            toy: true,
        });
    };
    let clip = args
        .clip
        .clone()
        .ok_or("--generator needs --clip (a CLIP checkpoint)")?;
    let mapper = match &args.mapper {
        Some(p) => AnyMapper::load(p, device).map_err(|e| e.to_string()),
        None => Err("no --mapper given".to_string()),
    };
    let global = match (&args.stats, &args.fs3) {
        (Some(s), Some(f)) => StyleStats::load(s)
            .and_then(|s| Relevance::load(f).map(|f| (s, f)))
            .map_err(|e| e.to_string()),
        _ => Err("method 3 needs --stats and --fs3 (see the `precompute` example)".to_string()),
    };
    Ok(Setup {
        g: Generator::load(&generator, device)?,
        clip_model: Clip::load(&clip, device)?,
        generator,
        clip,
        mapper,
        global,
        oracle: None,
        toy: false,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.seeds.is_empty() {
        return Err("--seeds is empty".into());
    }
    let device = device_from_name(&args.device)?;
    let s = setup(&args, &device)?;
    let g = &s.g;
    let n = args.seeds.len();
    let psi = args.truncation.unwrap_or(if s.toy { 1.0 } else { 0.7 });
    // Defaults: the toy world's tuned settings, or the official values on real checkpoints.
    let d = if s.toy {
        EditSettings::default()
    } else {
        EditSettings::official()
    };
    let settings = EditSettings {
        neutral: args.neutral.clone(),
        ..args.edit.over(d)
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
        s.generator
            .parent()
            .map_or("the given checkpoints".into(), |d| {
                if s.toy {
                    format!("the toy world in {}", d.display())
                } else {
                    format!("{} and {}", s.generator.display(), s.clip.display())
                }
            })
    );

    // Method 1: optimisation, one latent at a time, on an autodiff copy of the networks.
    let ad = device.clone().autodiff();
    let g_ad = Generator::load(&s.generator, &ad)?.no_grad();
    let clip_ad = Clip::load(&s.clip, &ad)?.no_grad();
    let pb = ProgressBar::new((n * settings.steps) as u64).with_style(
        ProgressStyle::with_template("1 optimisation {bar:40} {pos}/{len} {elapsed_precise}")?,
    );
    let t = Instant::now();
    let mut optimised = Vec::with_capacity(n);
    for i in 0..n {
        let start = Tensor::from_data(w.clone().narrow(0, i, 1).into_data(), &ad);
        let result = LatentOptimization::new(args.prompt.clone())
            .with_steps(settings.steps)
            .with_lr(settings.lr)
            .with_l2_lambda(settings.l2_lambda)
            .run(&g_ad, &clip_ad, None, start, |_| pb.inc(1))?;
        optimised.push(Tensor::from_data(result.image.inner().into_data(), &device));
    }
    pb.finish_and_clear();
    let mut results: Vec<(&str, Outcome)> =
        vec![("1 OPTIMIZE", Ok((Tensor::cat(optimised, 0), t.elapsed())))];

    // Method 2: the mapper, all latents at once.
    let t = Instant::now();
    let mapped = s.mapper.as_ref().map_err(Clone::clone).and_then(|m| {
        let edited = m.edit_styles(g, w.clone()).map_err(|e| e.to_string())?;
        Ok((
            g.synthesis_from_styles(&edited, NoiseMode::Const),
            t.elapsed(),
        ))
    });
    results.push(("2 MAPPER", mapped));

    // Method 3: the global direction.
    let t = Instant::now();
    let global = s
        .global
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|(stats, fs3)| {
            let run = || -> styleclip::Result<Tensor<4>> {
                // The toy CLIP learnt captions, not ImageNet's photo templates.
                let templates: &[&str] = if s.toy { &["{}"] } else { &IMAGENET_TEMPLATES };
                let dir = GlobalDirection::from_text_with_templates(
                    &s.clip_model,
                    &Tokenizer::new(),
                    &args.neutral,
                    &args.prompt,
                    templates,
                )?;
                let delta = dir.delta(fs3, stats, settings.beta)?;
                let edited = delta
                    .delta
                    .try_apply(&g.styles(w.clone()), settings.alpha)?;
                Ok(g.synthesis_from_styles(&edited, NoiseMode::Const))
            };
            run().map(|x| (x, t.elapsed())).map_err(|e| e.to_string())
        });
    results.push(("3 GLOBAL DIR", global));

    // Verdicts and the sheet.
    let targets = prompt_targets(&args.prompt);
    let before: Option<Vec<Attributes>> = match &s.oracle {
        Some(o) => Some(o.classify(source.clone())?),
        None => None,
    };
    let size = g.config().size * args.scale;
    let src_imgs = to_rgb8(source)?;
    let mut columns: Vec<Vec<Rgb8>> = vec![
        src_imgs
            .iter()
            .map(|im| cell("SOURCE", im, args.scale))
            .collect(),
    ];
    for (name, result) in &results {
        match result {
            Ok((images, time)) => {
                let imgs = to_rgb8(images.clone())?;
                let mut line = format!(
                    "{name:<12} {:>8.2?} total, {:>8.2?} per face",
                    time,
                    *time / n as u32
                );
                let mut marks = vec![String::new(); n];
                if let (Some(o), Some(before)) = (&s.oracle, &before) {
                    let after = o.classify(images.clone())?;
                    let v: Vec<_> = before
                        .iter()
                        .zip(&after)
                        .map(|(b, a)| verdict(b, a, &targets))
                        .collect();
                    let reached = v.iter().filter(|v| v.reached).count();
                    let kept = v.iter().filter(|v| v.kept).count();
                    line += &format!(
                        "; oracle: target reached {reached}/{n}, other attributes kept {kept}/{n}"
                    );
                    for (i, v) in v.iter().enumerate() {
                        marks[i] = match (v.reached, v.kept) {
                            (true, true) => " OK".into(),
                            (true, false) => " +CHANGED".into(),
                            (false, _) => " MISSED".into(),
                        };
                    }
                }
                println!("{line}");
                columns.push(
                    imgs.iter()
                        .zip(&marks)
                        .map(|(im, m)| cell(&format!("{name}{m}"), im, args.scale))
                        .collect(),
                );
            }
            Err(why) => {
                println!("{name:<12} skipped: {why}");
                let blank = Rgb8 {
                    width: size / args.scale,
                    height: size / args.scale,
                    data: vec![200; size * size * 3 / (args.scale * args.scale)],
                };
                columns.push(
                    (0..n)
                        .map(|_| cell(&format!("{name} SKIPPED"), &blank, args.scale))
                        .collect(),
                );
            }
        }
    }
    if s.toy && targets.is_empty() {
        println!(
            "(the oracle knows no attribute value in `{}`: nothing to score)",
            args.prompt
        );
    }
    let mut sheet = Vec::with_capacity(n * columns.len());
    for i in 0..n {
        sheet.extend(columns.iter().map(|c| c[i].clone()));
    }
    common::save_grid(&args.out, &sheet, columns.len(), 4)?;
    println!(
        "wrote {} (rows: seeds {:?}; columns: source, methods 1–3)",
        args.out, args.seeds
    );
    Ok(())
}

/// An upscaled image with a one-line label under it.
fn cell(text: &str, image: &Rgb8, scale: usize) -> Rgb8 {
    let big = common::upscale(image, scale);
    let strip = common::label(text, big.width, 2);
    common::vstack(&[big, strip])
}
