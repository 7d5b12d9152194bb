//! Regenerate the toy world's networks in `weights/toyfaces/` (fixed seeds, resumable).
//!
//! ```text
//! cargo run --release --example train_toyfaces -- --stage oracle
//! cargo run --release --example train_toyfaces -- --stage generator --work-dir toy-work
//! cargo run --release --example train_toyfaces -- --stage eval
//! cargo run --release --example train_toyfaces -- --stage clip --work-dir toy-work
//! cargo run --release --example train_toyfaces -- --stage extras --work-dir toy-work
//! ```
//! Stages: `oracle` (the attribute classifier), `generator` (StyleGAN2 fitted to the renderer;
//! checkpoints in `--work-dir`, resumed when present), `eval` (the oracle's agreement with the
//! renderer on generator samples, and the mean pixel error), `clip` (the contrastive CLIP,
//! resumable, with its zero-shot table), `extras` (StyleSpace statistics, fs3 and one latent
//! mapper per shipped prompt, from the shipped generator and CLIP), `zeroshot` (the CLIP table
//! of a shipped file). `extras` is `stats` (statistics and fs3) then `mappers`. Networks are
//! written as f16 safetensors.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::ControlFlow;
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::{Generator, NoiseMode};

use styleclip::clip::{Clip, ContrastiveTraining, Tokenizer};
use styleclip::edit::global_direction::{RelevanceConfig, StatsConfig};
use styleclip::edit::mapper::{MapperData, MapperTraining, TrainingEvent};
use styleclip::toyfaces::MAPPER_PROMPTS;
use styleclip::toyfaces::contrastive::{
    BatchMix, caption_pairs, toy_clip_config, zero_shot_accuracy,
};
use styleclip::toyfaces::fit::{
    FitInput, GeneratorFit, fit_generator, fit_latents, render_latents, toy_generator_config,
    write_face_code_mapping,
};
use styleclip::toyfaces::oracle::{Oracle, train_oracle};
use styleclip::toyfaces::world::mapper_file_name;
use styleclip::toyfaces::{Attributes, Face, Jitter, Style, render_batch};
use styleclip::weights::Precision;

/// The attributes in the order of `Attributes::indices`.
const ATTRIBUTE_NAMES: [&str; 6] = [
    "hair_color",
    "hairstyle",
    "mouth",
    "glasses",
    "skin",
    "background",
];

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
    /// Peak learning rate of `generator` (default: the stage's own).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stage-3 steps of `generator` (the synthesis through the written mapping); 0 skips it.
    #[arg(long, default_value_t = 0)]
    polish_steps: usize,
    /// Start `generator` from this generator (mapping already written): stages 1 and 2 are
    /// skipped and `--polish-steps` of stage 3 run on it.
    #[arg(long)]
    init_generator: Option<PathBuf>,
    /// Pixel-loss weight of the mouth, glasses and eyebrow regions in `generator`.
    #[arg(long, default_value_t = 1.0)]
    detail_weight: f32,
    /// Weigh each face's mouth by how faintly its lips stand out on its skin (× 5 on dark
    /// skin) in `generator`.
    #[arg(long)]
    mouth_balance: bool,
    /// Probability of a twin pair (one attribute changed) in `clip`'s batches.
    #[arg(long, default_value_t = 0.5)]
    twins: f64,
    /// Invariant pairs per step in `clip`'s batches (`toyfaces::contrastive::invariant_pairs`).
    #[arg(long, default_value_t = 0)]
    invariant: usize,
    /// Weight of `clip`'s invariance term over the invariant pairs.
    #[arg(long, default_value_t = 1.0)]
    invariance_weight: f64,
    /// Ranked pairs per step in `clip`'s batches (`toyfaces::contrastive::ranked_pairs`).
    #[arg(long, default_value_t = 0)]
    ranked: usize,
    /// Weight of `clip`'s ranking term over the ranked pairs.
    #[arg(long, default_value_t = 1.0)]
    ranking_weight: f64,
    /// Start `clip` from this CLIP file instead of a fresh seeded one.
    #[arg(long)]
    init_clip: Option<PathBuf>,
    /// λ_L2 of `mappers` (the official recipe's 0.8 assumes OpenAI CLIP's logit scale 100;
    /// see weights/toyfaces/README.md for the value the shipped mappers used).
    #[arg(long, default_value_t = 0.8)]
    mapper_l2: f64,
    /// Ranger learning rate of `mappers` (official 0.5, tuned for 50 000 steps).
    #[arg(long, default_value_t = 0.5)]
    mapper_lr: f64,
    /// Residual scale of `mappers`: `ŵ = w + scale · M(w)` (official 0.1).
    #[arg(long, default_value_t = 0.1)]
    mapper_residual: f64,
    /// Prompts of `mappers` (default: `MAPPER_PROMPTS`), separated by `;`.
    #[arg(long, value_delimiter = ';')]
    prompts: Vec<String>,
    /// Images per channel of `extras`' fs3.
    #[arg(long, default_value_t = 32)]
    fs3_images: usize,
    /// Samples for `eval`.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
}

/// A log line every `every` steps, printed above the bar (and alone when the bar is hidden,
/// as when the output goes to a file).
fn log_every(pb: &ProgressBar, step: usize, every: usize, msg: impl FnOnce() -> String) {
    if step.is_multiple_of(every) {
        let line = format!("step {step}: {}", msg());
        pb.suspend(|| eprintln!("{line}"));
    }
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
            oracle.valid().save_as(&path, Precision::F16)?;
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
                input: FitInput::FaceCodes,
                steps: args.steps.unwrap_or(GeneratorFit::default().steps),
                lr: args.lr.unwrap_or(GeneratorFit::default().lr),
                batch: args.batch.unwrap_or(GeneratorFit::default().batch),
                seed: args.seed,
                checkpoint_dir: Some(args.work_dir.clone()),
                detail_weight: args.detail_weight,
                mouth_balance: args.mouth_balance,
                ..GeneratorFit::default()
            };
            let ad = device.clone().autodiff();
            let g = if let Some(init) = &args.init_generator {
                Generator::load(init, &device)?
            } else {
                // Stages 1 and 2: the synthesis network learns to draw the face codes
                // (resumable), then the mapping network is written to output them.
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
                    log_every(&pb, r.step, 100, || {
                        format!("L1 {:.4} MSE {:.4}", r.l1, r.mse)
                    });
                    true
                })?;
                pb.finish();
                println!(
                    "synthesis: {} steps, {:.0} s this run",
                    fit.steps,
                    t.elapsed().as_secs_f64()
                );
                write_face_code_mapping(g, args.seed)?
            };
            // Stage 3 (optional): the synthesis trains on through the written mapping.
            let g = if args.polish_steps > 0 {
                let fit = GeneratorFit {
                    input: FitInput::FixedMapping,
                    steps: args.polish_steps,
                    lr: args.lr.unwrap_or(GeneratorFit::default().lr) * 0.25,
                    ..fit
                };
                let pb = bar(fit.steps);
                let g = fit_generator(g.to_device(&ad), &fit, |r| {
                    pb.set_position(r.step as u64);
                    pb.set_message(format!("L1 {:.4}", r.l1));
                    log_every(&pb, r.step, 100, || format!("L1 {:.4}", r.l1));
                    true
                })?;
                pb.finish();
                g
            } else {
                g
            };
            let path = args.out_dir.join("generator.safetensors");
            g.save_as(&path, Precision::F16)?;
            println!("generator → {}", path.display());
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
            let names = ATTRIBUTE_NAMES;
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
        "clip" => {
            let run = ContrastiveTraining {
                steps: args.steps.unwrap_or(2000),
                batch_size: args.batch.unwrap_or(128),
                lr: args.lr.unwrap_or(1e-3),
                warmup: 100,
                weight_decay: 0.1,
                checkpoint_dir: Some(args.work_dir.clone()),
                checkpoint_every: 100,
                invariance_weight: args.invariance_weight,
                ranking_weight: args.ranking_weight,
                ..ContrastiveTraining::default()
            };
            let tokenizer = Tokenizer::new();
            let ad = device.clone().autodiff();
            let clip = match &args.init_clip {
                // Fine-tune an existing CLIP (a checkpoint in work-dir still takes precedence).
                Some(path) => Clip::load(path, &ad)?,
                None => Clip::new_seeded(toy_clip_config(), args.seed, &ad)?,
            };
            let pb = bar(run.steps);
            let t = Instant::now();
            let clip = run.run(
                clip,
                |step, b| {
                    let mix = BatchMix {
                        twins: args.twins,
                        invariant: args.invariant,
                        ranked: args.ranked,
                    };
                    caption_pairs(args.seed, step, b, mix, &tokenizer, &device)
                },
                |r| {
                    pb.set_position(r.step as u64);
                    let msg = format!(
                        "loss {:.3} acc {:.2} scale {:.1} inv {:.3} rank {:.3}",
                        r.loss, r.accuracy, r.logit_scale, r.invariance, r.ranking
                    );
                    log_every(&pb, r.step, 100, || msg.clone());
                    pb.set_message(msg);
                    ControlFlow::Continue(())
                },
            )?;
            pb.finish();
            let clip = zero_unused_tokens(clip, &tokenizer)?;
            let path = args.out_dir.join("clip.safetensors");
            clip.save(&path, Precision::F16)?;
            println!(
                "clip: {} steps in {:.0} s → {}",
                run.steps,
                t.elapsed().as_secs_f64(),
                path.display()
            );
            zero_shot_table(&Clip::load(&path, &device)?, &device)?;
        }
        "zeroshot" => {
            zero_shot_table(
                &Clip::load(args.out_dir.join("clip.safetensors"), &device)?,
                &device,
            )?;
        }
        "extras" => {
            statistics(&args, &device)?;
            mappers(&args, &device)?;
        }
        "stats" => statistics(&args, &device)?,
        "ceiling" => ceiling(&args, &device)?,
        "mappers" => mappers(&args, &device)?,
        other => return Err(format!("unknown stage `{other}`").into()),
    }
    Ok(())
}

/// `ceiling`: what the generator can show at best. For `--samples` latents and every attribute
/// value, the ideal W edit `w' = w + √2 · (T[value] − T[current])` (the written mapping's own
/// direction, `toyfaces::fit`), drawn and read by the oracle: per value, how often the target is
/// read (over faces without it) and how often every other attribute is read as on the
/// unedited face. No text method
/// can beat these rates on the same generator and oracle. Needs the `--seed` stage 1 used;
/// `--init-generator` measures a stage-1 checkpoint (its mapping written here).
fn ceiling(args: &Args, device: &Device) -> Result<(), Box<dyn std::error::Error>> {
    use styleclip::toyfaces::attributes::CLASS_COUNTS;
    use styleclip::toyfaces::fit::{FACE_CODE_DIMS, face_code_table};
    // A stage-1 checkpoint (`--init-generator`) gets its mapping written first.
    let g = match &args.init_generator {
        Some(path) => write_face_code_mapping(Generator::load(path, device)?, args.seed)?,
        None => Generator::load(args.out_dir.join("generator.safetensors"), device)?,
    };
    let oracle = Oracle::load(args.out_dir.join("oracle.safetensors"), device)?;
    let d = g.config().style_dim;
    let table = face_code_table(d, args.seed);
    let n = args.samples;
    let z = fit_latents(20_000 + args.seed, 0, n, d, device);
    let zs = z
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let w = g.mapping(z);
    let source: Vec<[usize; 6]> = (0..n)
        .map(|i| {
            Face::from_latent(&zs[i * d..(i + 1) * d])
                .attributes
                .indices()
        })
        .collect();
    // What the oracle reads on the unedited faces: "kept" compares with it, as the edit
    // benchmark does (the generator's own misdrawings are not the edit's fault).
    let mut read = Vec::with_capacity(n);
    for start in (0..n).step_by(50) {
        let b = 50.min(n - start);
        let img = g.synthesis(g.broadcast(w.clone().narrow(0, start, b)), NoiseMode::Const);
        read.extend(oracle.classify(img)?.iter().map(|a| a.indices()));
    }
    let names = ATTRIBUTE_NAMES;
    let (mut sum_reached, mut sum_kept, mut count) = (0.0, 0.0, 0usize);
    let mut offset = 0;
    for (k, &classes) in CLASS_COUNTS.iter().enumerate() {
        for v in 0..classes {
            // Per face: Δw = √2 · (T[offset + v] − T[offset + current]).
            let mut delta = vec![0f32; n * d];
            let mut moved = vec![false; n];
            for (i, src) in source.iter().enumerate() {
                if src[k] == v {
                    continue;
                }
                moved[i] = true;
                let (to, from) = (offset + v, offset + src[k]);
                for j in 0..d {
                    delta[i * d + j] =
                        std::f32::consts::SQRT_2 * (table[to * d + j] - table[from * d + j]);
                }
            }
            let delta = Tensor::<2>::from_data(TensorData::new(delta, [n, d]), device);
            let (mut reached, mut kept, mut m) = (0usize, 0usize, 0usize);
            for start in (0..n).step_by(50) {
                let b = 50.min(n - start);
                let wb = w.clone().narrow(0, start, b) + delta.clone().narrow(0, start, b);
                let img = g.synthesis(g.broadcast(wb), NoiseMode::Const);
                for (i, got) in oracle.classify(img)?.iter().enumerate() {
                    let i = start + i;
                    if !moved[i] {
                        continue;
                    }
                    m += 1;
                    let got = got.indices();
                    reached += usize::from(got[k] == v);
                    kept += usize::from((0..6).all(|a| a == k || got[a] == read[i][a]));
                }
            }
            let (r, p) = (
                100.0 * reached as f64 / m.max(1) as f64,
                100.0 * kept as f64 / m.max(1) as f64,
            );
            println!(
                "{:>10} → {:<28} reached {r:5.1}% kept {p:5.1}% (of {m})",
                names[k],
                value_label(k, v),
            );
            sum_reached += r;
            sum_kept += p;
            count += 1;
        }
        offset += classes;
    }
    debug_assert_eq!(offset, FACE_CODE_DIMS);
    println!(
        "mean over {count} values: reached {:.1}%, kept {:.1}%",
        sum_reached / count as f64,
        sum_kept / count as f64
    );
    Ok(())
}

/// The name of value `v` of attribute `k` (field order of `Attributes::indices`).
fn value_label(k: usize, v: usize) -> String {
    let mut i = [0usize; 6];
    i[k] = v;
    let a = Attributes::from_indices(i);
    match k {
        0 => format!("{:?}", a.hair_color),
        1 => format!("{:?}", a.hairstyle),
        2 => format!("{:?}", a.mouth),
        3 => format!("{:?}", a.glasses),
        4 => format!("{:?}", a.skin),
        _ => format!("{:?}", a.background),
    }
}

/// `stats`: StyleSpace statistics over 20 000 latents and fs3 of the shipped generator and CLIP.
fn statistics(args: &Args, device: &Device) -> Result<(), Box<dyn std::error::Error>> {
    let g = Generator::load(args.out_dir.join("generator.safetensors"), device)?;
    let clip = Clip::load(args.out_dir.join("clip.safetensors"), device)?;
    let n = 20_000;
    let pb = bar(n);
    let stats =
        StatsConfig::new(n, args.seed).compute(&g, device, |p| pb.set_position(p.done as u64))?;
    pb.finish();
    stats.save(args.out_dir.join("stats.safetensors"))?;
    let config = RelevanceConfig::new(args.fs3_images).with_batch_size(32);
    let cost = config.cost(&g);
    let pb = bar(cost.channels);
    std::fs::create_dir_all(&args.work_dir)?;
    let fs3 = config.compute(
        &g,
        &clip,
        &stats,
        Some(&args.work_dir.join("fs3_partial.safetensors")),
        |p| pb.set_position(p.done as u64),
    )?;
    pb.finish();
    fs3.save(args.out_dir.join("fs3.safetensors"))?;
    println!(
        "stats over {n} latents, fs3 over {} channels × {} images",
        cost.channels, args.fs3_images
    );
    Ok(())
}

/// `mappers`: one LevelsMapper per shipped prompt.
fn mappers(args: &Args, device: &Device) -> Result<(), Box<dyn std::error::Error>> {
    // Mappers: the official recipe (Ranger, λ_L2 0.8, no identity loss: these are
    // not photos of people) on untruncated samples of the toy generator.
    let ad = device.clone().autodiff();
    let g = Generator::load(args.out_dir.join("generator.safetensors"), &ad)?.no_grad();
    let clip = Clip::load(args.out_dir.join("clip.safetensors"), &ad)?.no_grad();
    let data = MapperData::sample(&g, 4096, 0, 1.0, args.seed)?;
    let steps = args.steps.unwrap_or(600);
    std::fs::create_dir_all(args.out_dir.join("mappers"))?;
    let prompts: Vec<String> = if args.prompts.is_empty() {
        MAPPER_PROMPTS.iter().map(|p| p.to_string()).collect()
    } else {
        args.prompts.clone()
    };
    for prompt in &prompts {
        let pb = bar(steps);
        let t = Instant::now();
        let trained = MapperTraining::new(prompt)
            .with_steps(steps)
            .with_batch_size(args.batch.unwrap_or(8))
            .with_lambdas(1.0, args.mapper_l2, 0.0)
            .with_lr(args.mapper_lr)
            .with_options(styleclip::edit::mapper::MapperOptions {
                residual_scale: args.mapper_residual,
                ..Default::default()
            })
            .with_seed(args.seed)
            .with_intervals(0, 0, 0)
            .run(&g, &clip, None, &data, |e| {
                if let TrainingEvent::Step { step, losses, .. } = e {
                    pb.set_position(*step as u64);
                    let msg = format!("clip {:.4} l2 {:.4}", losses.clip, losses.l2);
                    log_every(&pb, *step, 100, || msg.clone());
                    pb.set_message(msg);
                }
            })?;
        pb.finish();
        let path = args.out_dir.join("mappers").join(mapper_file_name(prompt));
        trained.save(&path)?;
        println!(
            "mapper `{prompt}`: {steps} steps in {:.0} s → {}",
            t.elapsed().as_secs_f64(),
            path.display()
        );
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

/// The shipped CLIP's zero-shot accuracy on 500 held-out renders per style.
fn zero_shot_table(clip: &Clip, device: &Device) -> Result<(), Box<dyn std::error::Error>> {
    println!("zero-shot accuracy on held-out renders (attributes on photos, style on all three):");
    for (name, acc) in zero_shot_accuracy(clip, &Tokenizer::new(), 500, 7_000_000, device)? {
        println!("{name:>12}: {:.1}%", 100.0 * acc);
    }
    Ok(())
}

/// Zero the token-embedding rows that no training caption uses (they hold only their random
/// initialisation, shrunk by weight decay): the file then compresses, and unknown words embed
/// as zero instead of as noise. The captions' vocabulary is finite; 50 000 draws cover it.
fn zero_unused_tokens(
    clip: Clip,
    tokenizer: &Tokenizer,
) -> Result<Clip, Box<dyn std::error::Error>> {
    let mut used = std::collections::BTreeSet::new();
    for s in 0..50_000u64 {
        let a = Attributes::sample(s);
        let style = [Style::Photo, Style::Sketch, Style::Negative][(s % 3) as usize];
        used.extend(tokenizer.encode(&a.caption_seeded(style, s)));
    }
    for (_, prompts) in styleclip::toyfaces::contrastive::zero_shot_prompts() {
        for p in prompts {
            used.extend(tokenizer.encode(&p));
        }
    }
    // Start and end of text.
    used.extend([49406u32, 49407]);
    let w = clip.token_embedding.weight.val();
    let [vocab, width] = w.dims();
    let device = w.device();
    let mut mask = vec![0f32; vocab];
    for &t in &used {
        mask[t as usize] = 1.0;
    }
    let mask = Tensor::<1>::from_data(TensorData::new(mask, [vocab]), &device).reshape([vocab, 1]);
    let mut clip = clip;
    let id = clip.token_embedding.weight.id;
    clip.token_embedding.weight =
        burn::module::Param::initialized(id, w * mask.repeat_dim(1, width));
    println!(
        "clip: {} of {vocab} token rows used; the rest zeroed",
        used.len()
    );
    Ok(clip)
}
