//! StyleGAN-NADA: move a generator to a new domain with a directional CLIP loss.
//!
//! ```text
//! cargo run --release --example nada -- --steps 150                      # toy world: photo → pencil sketch
//! cargo run --release --example nada -- --generator ffhq.pt --clip ViT-B-32.pt \
//!     --source photo --target sketch --steps 300 --auto-layer-k 18
//! ```
//! With no weight arguments it adapts the toy world's generator from "a photo of a face" to
//! "a pencil sketch of a face" (captions its CLIP learnt; one template `{}`, StyleCLIP's raw
//! CLIP input path, which that CLIP was trained on) and the oracle reports how many samples of
//! fixed seeds it reads as sketches, and which other attributes it still reads as before. With
//! `--generator` and `--clip` it runs the official recipe (79 ImageNet templates, NADA's
//! normalised CLIP input). Writes a before/after grid every `--sample-every` steps
//! (`<out>-<step>.png`) and the adapted generator (`<out>.safetensors`).

mod common;

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::prelude::*;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::clip::Clip;
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::edit::ClipInput;
use styleclip::edit::nada::{Augment, Nada, NadaTarget, Phase};
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::toyfaces::{Attributes, Face, Jitter, Style, ToyFaces, render_batch};
use styleclip::weights::Precision;

#[derive(Parser, Debug)]
#[command(about = "Adapt a generator to a new domain from text (StyleGAN-NADA)")]
struct Args {
    /// Source class text (default: the toy world's "a photo of a face", else "photo").
    #[arg(long)]
    source: Option<String>,
    /// Target class text (default: the toy world's "a pencil sketch of a face", else "sketch").
    #[arg(long)]
    target: Option<String>,
    /// Generator updates.
    #[arg(long, default_value_t = 150)]
    steps: usize,
    /// Batch per update (official 16; CLI default of the README: 2).
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Learning rate (official 0.002, scaled by g_reg_every/(g_reg_every + 1) as the official).
    #[arg(long, default_value_t = 0.002)]
    lr: f64,
    /// Trainable layers: texture, shape, no_fine, shape_expanded, all, or None (every conv).
    #[arg(long, default_value = "None")]
    phase: String,
    /// Adaptive layer selection: rows per step (0: off, the phase decides).
    #[arg(long, default_value_t = 0)]
    auto_layer_k: usize,
    /// Adaptive layer selection iterations.
    #[arg(long, default_value_t = 1)]
    auto_layer_iters: usize,
    /// Toy world: aim at this many sketch renders (NADA's image-guided mode) instead of the
    /// target text.
    #[arg(long, default_value_t = 0)]
    target_renders: usize,
    /// Jittered copies of each image pair in the directional loss (not in the official code;
    /// see `edit::nada::Augment`).
    #[arg(long, default_value_t = 0)]
    augment: usize,
    /// Seed.
    #[arg(long, default_value_t = 2)]
    seed: u64,
    /// A generator checkpoint (else the toy world's).
    #[arg(long, value_parser = common::weights_path, requires = "clip")]
    generator: Option<PathBuf>,
    /// A CLIP checkpoint (with `--generator`).
    #[arg(long, value_parser = common::weights_path)]
    clip: Option<PathBuf>,
    /// Seeds of the faces in the grids (and, in the toy world, of the oracle's count).
    #[arg(long, default_value_t = 32)]
    samples: u64,
    /// Write a grid every this many steps (0: only at the end).
    #[arg(long, default_value_t = 50)]
    sample_every: usize,
    /// Output prefix.
    #[arg(long, default_value = "nada")]
    out: String,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let ad = device.clone().autodiff();
    let toy = args.generator.is_none();
    let (g_path, clip_path) = match (&args.generator, &args.clip) {
        (Some(g), Some(c)) => (g.clone(), c.clone()),
        _ => {
            let dir = ToyFaces::shipped_dir();
            (
                dir.join("generator.safetensors"),
                dir.join("clip.safetensors"),
            )
        }
    };
    let (source, target) = if toy {
        (
            args.source.clone().unwrap_or("a photo of a face".into()),
            args.target
                .clone()
                .unwrap_or("a pencil sketch of a face".into()),
        )
    } else {
        (
            args.source.clone().unwrap_or("photo".into()),
            args.target.clone().unwrap_or("sketch".into()),
        )
    };
    let frozen = Generator::load(&g_path, &ad)?;
    let clip = Clip::load(&clip_path, &ad)?.no_grad();
    let aim = if toy && args.target_renders > 0 {
        let faces: Vec<Face> = (0..args.target_renders as u64)
            .map(|s| Face {
                attributes: Attributes::sample(50_000 + s),
                jitter: Jitter::sample(50_000 + s),
            })
            .collect();
        let sketches = render_batch(&faces, Style::Sketch, styleclip::toyfaces::SIZE, &device)?;
        println!(
            "aiming at {} sketch renders (image-guided mode)",
            args.target_renders
        );
        NadaTarget::images(to_rgb8(sketches)?, &target)
    } else {
        NadaTarget::text(&source, &target)
    };
    let mut nada = Nada::new(aim)
        .with_steps(args.steps)
        .with_batch(args.batch)
        .with_lr(args.lr)
        .with_seed(args.seed)
        .with_phase(Phase::from_name(&args.phase)?)
        .with_auto_layers(args.auto_layer_k, args.auto_layer_iters)
        .with_clip_models(vec![(&clip, 1.0)])
        .with_augment(Augment {
            copies: args.augment,
            ..Augment::default()
        });
    if toy {
        nada = nada.with_templates(&["{}"]).with_clip_input(ClipInput::Raw);
    }
    println!(
        "NADA: `{source}` → `{target}` on {} with {} ({} steps, batch {})",
        g_path.display(),
        clip_path.display(),
        args.steps,
        args.batch
    );

    // Fixed samples for the grids and the oracle.
    let plain = Generator::load(&g_path, &device)?;
    let z = plain.sample_z(args.samples as usize, 1000);
    let wp = plain.broadcast(plain.mapping(z));
    let before = plain.synthesis(wp.clone(), NoiseMode::Const);
    let world = if toy {
        Some(ToyFaces::load(&device)?)
    } else {
        None
    };
    let report = |g: &Generator, step: usize| -> Result<(), Box<dyn std::error::Error>> {
        let g = g.clone().valid();
        let after = g.synthesis(wp.clone(), NoiseMode::Const);
        let cols = 8.min(args.samples as usize).max(1);
        let mut cells = Vec::new();
        let (b, a) = (to_rgb8(before.clone())?, to_rgb8(after.clone())?);
        // Rows of `cols` sources, each followed by the same faces after adaptation.
        for (src, out) in b.chunks(cols).zip(a.chunks(cols)) {
            cells.extend(src.iter().map(|x| common::upscale(x, 2)));
            cells.extend(out.iter().map(|x| common::upscale(x, 2)));
        }
        let path = format!("{}-{step:04}.png", args.out);
        common::save_grid(&path, &cells, cols, 2)?;
        if let Some(w) = &world {
            let (rb, ra) = (w.oracle.read(before.clone())?, w.oracle.read(after)?);
            let sketches = ra.iter().filter(|r| r.style == Style::Sketch).count();
            // Attributes a sketch still shows: hairstyle, mouth, glasses.
            let kept = rb
                .iter()
                .zip(&ra)
                .filter(|(x, y)| {
                    let (x, y) = (x.attributes.indices(), y.attributes.indices());
                    x[1] == y[1] && x[2] == y[2] && x[3] == y[3]
                })
                .count();
            let n = ra.len();
            println!(
                "step {step}: the oracle reads {sketches}/{n} samples as sketches; hairstyle, \
                 mouth and glasses kept on {kept}/{n}; grid {path}"
            );
        } else {
            println!("step {step}: grid {path}");
        }
        Ok(())
    };
    report(&frozen, 0)?;
    let pb = ProgressBar::new(args.steps as u64).with_style(ProgressStyle::with_template(
        "NADA {bar:40} {pos}/{len} {msg} {elapsed_precise} (eta {eta})",
    )?);
    let mut failure = None;
    let run = nada.run(&frozen, |s| {
        pb.set_message(format!("loss {:.4}", s.record.loss));
        pb.inc(1);
        let done = s.record.step + 1;
        if args.sample_every > 0
            && done % args.sample_every == 0
            && done < args.steps
            && let Err(e) = pb.suspend(|| report(s.generator, done))
        {
            failure = Some(e.to_string());
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    pb.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.into());
    }
    report(&run.generator, args.steps)?;
    let path = format!("{}.safetensors", args.out);
    run.generator.save_as(&path, Precision::F16)?;
    println!("wrote {path} (loads with Generator::load)");
    Ok(())
}
