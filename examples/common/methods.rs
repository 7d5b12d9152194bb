//! The three methods run on W+ latents with either the toy world or real checkpoints: shared by
//! the `edit` and `edit_image` examples.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::clip::{Clip, Tokenizer};
use styleclip::edit::global_direction::{
    GlobalDirection, IMAGENET_TEMPLATES, Relevance, StyleStats,
};
use styleclip::edit::mapper::AnyMapper;
use styleclip::edit::optimization::LatentOptimization;
use styleclip::imaging::{Rgb8, to_rgb8};
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::toyfaces::{Attributes, EditSettings, Oracle, ToyFaces, prompt_targets, verdict};

/// The networks: the toy world by default, or real checkpoints.
#[derive(clap::Args, Debug, Clone)]
pub struct WeightFlags {
    /// A generator checkpoint (else the toy world): a path, or with `--features pretrained` a
    /// catalogue name such as `ffhq` (likewise `--clip vit-b-32`, `--mapper mapper:mohawk`).
    #[arg(long, value_parser = super::weights_path)]
    pub generator: Option<PathBuf>,
    /// A CLIP checkpoint (with `--generator`).
    #[arg(long, value_parser = super::weights_path)]
    pub clip: Option<PathBuf>,
    /// A trained mapper for the prompt (method 2).
    #[arg(long, value_parser = super::weights_path)]
    pub mapper: Option<PathBuf>,
    /// StyleSpace statistics (method 3, with `--fs3`).
    #[arg(long, value_parser = super::weights_path)]
    pub stats: Option<PathBuf>,
    /// Channel relevance, `fs3.npy` or the `precompute` output (method 3).
    #[arg(long, value_parser = super::weights_path)]
    pub fs3: Option<PathBuf>,
    /// A toy world directory other than the shipped `weights/toyfaces`.
    #[arg(long)]
    pub world: Option<PathBuf>,
}

/// A method's images and time, or why it was skipped.
pub type Outcome = Result<(Tensor<4>, Duration), String>;

/// What a run edits with.
pub struct Setup {
    pub generator: PathBuf,
    pub clip: PathBuf,
    pub g: Generator,
    pub clip_model: Clip,
    pub mapper: Result<AnyMapper, String>,
    pub global: Result<(StyleStats, Relevance), String>,
    pub oracle: Option<Oracle>,
    /// The toy world, when no `--generator` was given.
    pub world: Option<PathBuf>,
}

impl Setup {
    /// Whether this is the toy world.
    pub fn toy(&self) -> bool {
        self.world.is_some()
    }

    /// The method settings to start from: the toy world's tuned ones, or the official values.
    pub fn default_settings(&self) -> EditSettings {
        if self.toy() {
            EditSettings::default()
        } else {
            EditSettings::official()
        }
    }

    /// Where the networks came from, in words.
    pub fn describe(&self) -> String {
        match &self.world {
            Some(dir) => format!("the toy world in {}", dir.display()),
            None => format!("{} and {}", self.generator.display(), self.clip.display()),
        }
    }
}

/// Load the networks for `prompt` (the mapper is the prompt's shipped one in the toy world).
pub fn setup(
    flags: &WeightFlags,
    prompt: &str,
    device: &Device,
) -> Result<Setup, Box<dyn std::error::Error>> {
    let Some(generator) = flags.generator.clone() else {
        let dir = flags.world.clone().unwrap_or_else(ToyFaces::shipped_dir);
        let world = ToyFaces::load_from(&dir, device)?;
        let mapper = match &flags.mapper {
            Some(p) => AnyMapper::load(p, device).map_err(|e| e.to_string()),
            None => match world.mapper(prompt)? {
                Some(m) => Ok(AnyMapper::Levels(m)),
                None => {
                    let shipped = world.present_mappers();
                    Err(format!(
                        "no mapper for `{prompt}` at {} (present: {}); train one with the \
                         `train_mapper` example and pass --mapper",
                        world.mapper_path(prompt).display(),
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
            world: Some(dir),
        });
    };
    let clip = flags
        .clip
        .clone()
        .ok_or("--generator needs --clip (a CLIP checkpoint)")?;
    let mapper = match &flags.mapper {
        Some(p) => AnyMapper::load(p, device).map_err(|e| e.to_string()),
        None => Err("no --mapper given".to_string()),
    };
    let global = match (&flags.stats, &flags.fs3) {
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
        world: None,
    })
}

/// Run the methods `methods` (1, 2, 3) on the W+ latents `w` toward `prompt`, method 1 with a
/// progress bar; returns the labelled outcomes in method order.
pub fn run_methods(
    s: &Setup,
    prompt: &str,
    settings: &EditSettings,
    w: &Tensor<3>,
    methods: &[usize],
    device: &Device,
) -> Result<Vec<(&'static str, Outcome)>, Box<dyn std::error::Error>> {
    let g = &s.g;
    let n = w.dims()[0];
    let mut results = Vec::new();
    if methods.contains(&1) {
        // Optimisation, one latent at a time, on an autodiff copy of the networks.
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
            let result = LatentOptimization::new(prompt)
                .with_steps(settings.steps)
                .with_lr(settings.lr)
                .with_l2_lambda(settings.l2_lambda)
                .run(&g_ad, &clip_ad, None, start, |_| pb.inc(1))?;
            optimised.push(Tensor::from_data(result.image.inner().into_data(), device));
        }
        pb.finish_and_clear();
        results.push(("1 OPTIMIZE", Ok((Tensor::cat(optimised, 0), t.elapsed()))));
    }
    if methods.contains(&2) {
        let t = Instant::now();
        let mapped = s.mapper.as_ref().map_err(Clone::clone).and_then(|m| {
            let edited = m.edit_styles(g, w.clone()).map_err(|e| e.to_string())?;
            Ok((
                g.synthesis_from_styles(&edited, NoiseMode::Const),
                t.elapsed(),
            ))
        });
        results.push(("2 MAPPER", mapped));
    }
    if methods.contains(&3) {
        let t = Instant::now();
        let global = s
            .global
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|(stats, fs3)| {
                let run = || -> styleclip::Result<Tensor<4>> {
                    // The toy CLIP learnt captions, not ImageNet's photo templates.
                    let templates: &[&str] = if s.toy() {
                        &["{}"]
                    } else {
                        &IMAGENET_TEMPLATES
                    };
                    let dir = GlobalDirection::from_text_with_templates(
                        &s.clip_model,
                        &Tokenizer::new(),
                        &settings.neutral,
                        prompt,
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
    }
    Ok(results)
}

/// Print each method's time (and, with an oracle, its verdict against `before`) and build one
/// column of `n` labelled, upscaled cells per method (grey cells for a skipped method).
pub fn verdict_columns(
    s: &Setup,
    prompt: &str,
    results: &[(&'static str, Outcome)],
    before: Option<&[Attributes]>,
    n: usize,
    scale: usize,
) -> Result<Vec<Vec<Rgb8>>, Box<dyn std::error::Error>> {
    let size = s.g.config().size;
    let targets = prompt_targets(prompt);
    let mut columns = Vec::new();
    for (name, result) in results {
        match result {
            Ok((images, time)) => {
                let imgs = to_rgb8(images.clone())?;
                let mut line = format!(
                    "{name:<12} {:>8.2?} total, {:>8.2?} per face",
                    time,
                    *time / n as u32
                );
                let mut marks = vec![String::new(); n];
                if let (Some(o), Some(before)) = (&s.oracle, before) {
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
                        .map(|(im, m)| cell(&format!("{name}{m}"), im, scale))
                        .collect(),
                );
            }
            Err(why) => {
                println!("{name:<12} skipped: {why}");
                let blank = Rgb8 {
                    width: size,
                    height: size,
                    data: vec![200; size * size * 3],
                };
                columns.push(
                    (0..n)
                        .map(|_| cell(&format!("{name} SKIPPED"), &blank, scale))
                        .collect(),
                );
            }
        }
    }
    if s.toy() && targets.is_empty() {
        println!("(the oracle knows no attribute value in `{prompt}`: nothing to score)");
    }
    Ok(columns)
}

/// An upscaled image with a one-line label under it.
pub fn cell(text: &str, image: &Rgb8, scale: usize) -> Rgb8 {
    let big = super::upscale(image, scale);
    let strip = super::label(text, big.width, 2);
    super::vstack(&[big, strip])
}
