//! Training a mapper for one prompt: the official coach (`mapper/training/coach.py`).
//!
//! Per step, on a batch `w` of W+ latents (official batch 2):
//!
//! ```text
//! x  = G(w),  ŵ = w + 0.1 · M(w),  x̂ = G(ŵ)          constant noise, truncation 1
//! L  = λ_ID · mean_b(1 − ⟨R(x̂_b), R(x_b)⟩)           ArcFace, skipped when λ_ID = 0
//!    + λ_CLIP · mean_b(1 − logits(x̂_b, text)/100)     raw ×7-nearest/avg-pool CLIP input
//!    + λ_L2 · mean((ŵ − w)²)                          an MSE (the optimiser's L2 is a sum)
//! ```
//!
//! with defaults λ_CLIP 1.0, λ_L2 0.8, λ_ID 0.1, Ranger at lr 0.5, and only the mapper's
//! parameters trained. StyleSpace mappers edit `s = S(w)` instead and the L2 is the sum over
//! layers of each layer's MSE, as the official `work_in_stylespace` (whose dataset holds S codes;
//! here they are computed from the W+ training latents).
//!
//! The loop differs from the official one where the official behaviour is an accident:
//! - it runs exactly `steps` optimiser steps (the official loop trains at `global_step ==
//!   max_steps` too, so `max_steps + 1`);
//! - validation and checkpoints happen after every `interval` completed steps and after the
//!   last (the official also validates and saves at step 0);
//! - the shuffled order of epoch `e` is a permutation seeded by `(seed, e)`, so a resumed run
//!   sees exactly the batches the uninterrupted run would have seen;
//! - sampled training latents use the generator's `latent_avg` (or a mean of 4096 mapped z) as
//!   the truncation centre; the official `self.net.latent_avg` does not exist.
//!
//! Checkpoints (the crate's safetensors, `mapper.*` under official keys) also hold the optimiser
//! state (`optim.<param>.exp_avg`, …) and the step count, so [`MapperTraining::with_resume`]
//! continues where a run stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::module::{ModuleMapper, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{AnyMapper, MapperCheckpoint, MapperKind, MapperOptions, OfficialOpts};
use crate::arcface::ArcFace;
use crate::clip::Clip;
use crate::clip::model::l2_normalize;
use crate::edit::optim::{Moments, Optimizer, OptimizerKind};
use crate::edit::optimization::ObserverResult;
use crate::edit::{ClipInput, clip_loss};
use crate::error::{Error, Result};
use crate::latents::load_w_plus;
use crate::stylegan2::{Generator, NoiseMode, StyleCode};
use crate::tokenizer::Tokenizer;
use crate::weights::save_safetensors;

/// W+ latents to train and validate on.
#[derive(Debug, Clone)]
pub struct MapperData {
    /// Training latents `[N, n_latent, style_dim]`.
    pub train: Tensor<3>,
    /// Validation latents `[M, n_latent, style_dim]`, if any.
    pub test: Option<Tensor<3>>,
}

impl MapperData {
    /// From tensors (moved to the generator's device by the trainer).
    pub fn new(train: Tensor<3>, test: Option<Tensor<3>>) -> Self {
        Self { train, test }
    }

    /// Load the official `train_faces.pt` / `test_faces.pt` (a `[N, n_latent, style_dim]`
    /// tensor), or `.npy` / safetensors latents, checked against the generator.
    pub fn load(
        generator: &Generator,
        train: impl AsRef<Path>,
        test: Option<&Path>,
    ) -> Result<Self> {
        let cfg = generator.config();
        let device = generator.device();
        let load = |p: &Path| load_w_plus(p, cfg.n_latent(), cfg.style_dim, &device);
        Ok(Self {
            train: load(train.as_ref())?,
            test: test.map(load).transpose()?,
        })
    }

    /// Sample `n_train` + `n_test` latents as the official coach does without files:
    /// `w = avg + ψ (mapping(z) − avg)` with ψ 0.7, broadcast to every W+ row. `avg` is the
    /// generator's `latent_avg`, else the mean of 4096 mapped z (seeded by `seed`).
    pub fn sample(
        generator: &Generator,
        n_train: usize,
        n_test: usize,
        psi: f64,
        seed: u64,
    ) -> Result<Self> {
        if n_train == 0 {
            return Err(Error::InvalidArgument("n_train must be positive".into()));
        }
        let avg = generator
            .latent_avg()
            .unwrap_or_else(|| generator.mean_latent(4096, seed ^ 0x5eed));
        let draw = |n: usize, seed: u64| -> Tensor<3> {
            let chunks: Vec<Tensor<3>> = (0..n.div_ceil(256))
                .map(|c| {
                    let b = (n - c * 256).min(256);
                    let z = generator.sample_z(b, seed.wrapping_add(c as u64));
                    let w = generator.truncate(generator.mapping(z), psi, avg.clone());
                    generator.broadcast(w).detach()
                })
                .collect();
            Tensor::cat(chunks, 0)
        };
        let train = draw(n_train, seed);
        let test = (n_test > 0).then(|| draw(n_test, seed.wrapping_add(1 << 32)));
        Ok(Self { train, test })
    }
}

/// One evaluation's loss terms (unweighted) and weighted total.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepLosses {
    /// Weighted total.
    pub loss: f64,
    /// CLIP term.
    pub clip: f64,
    /// Latent MSE.
    pub l2: f64,
    /// ArcFace term (0 when λ_ID is 0).
    pub id: f64,
}

impl StepLosses {
    fn mean(all: &[StepLosses]) -> Self {
        let n = all.len().max(1) as f64;
        let sum = |f: fn(&StepLosses) -> f64| all.iter().map(f).sum::<f64>() / n;
        Self {
            loss: sum(|l| l.loss),
            clip: sum(|l| l.clip),
            l2: sum(|l| l.l2),
            id: sum(|l| l.id),
        }
    }
}

/// What the observer sees during training.
#[derive(Debug)]
pub enum TrainingEvent<'a> {
    /// A step finished.
    Step {
        /// Steps completed (1-based).
        step: usize,
        /// Steps in the run.
        steps: usize,
        /// This step's losses.
        losses: StepLosses,
        /// Wall time since the run (or resume) started.
        elapsed: Duration,
    },
    /// A validation pass finished.
    Validation {
        /// Steps completed.
        step: usize,
        /// Mean losses over the validation batches.
        losses: StepLosses,
        /// Whether it is the best so far.
        best: bool,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Steps completed.
        step: usize,
        /// Where.
        path: &'a Path,
    },
    /// Sample images of the current batch: `G(w)` and `G(ŵ)`, `[B, 3, H, W]` in `[-1, 1]`.
    Images {
        /// Steps completed.
        step: usize,
        /// Sources.
        source: &'a Tensor<4>,
        /// Edits.
        edited: &'a Tensor<4>,
    },
}

/// The outcome of a run.
#[derive(Debug)]
pub struct TrainedMapper {
    /// The trained mapper, on the plain (non-autodiff) device.
    pub mapper: AnyMapper,
    /// Every step's losses.
    pub history: Vec<StepLosses>,
    /// `(step, mean losses)` of every validation pass.
    pub validation: Vec<(usize, StepLosses)>,
    /// Steps completed in total (including those before a resume).
    pub steps: usize,
    /// The official `opts` of the run (prompt, architecture, optimiser, λs).
    pub opts: OfficialOpts,
}

impl TrainedMapper {
    /// Save the mapper with the run's `opts` (the crate's safetensors format).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.mapper.save(path, &self.opts)
    }
}

/// Mapper training with the official defaults; every setting has a `with_*`.
#[derive(Debug, Clone)]
pub struct MapperTraining {
    description: String,
    options: MapperOptions,
    steps: usize,
    batch_size: usize,
    test_batch_size: usize,
    val_batches: usize,
    lr: f64,
    optimizer: Optimizer,
    clip_lambda: f64,
    latent_l2_lambda: f64,
    id_lambda: f64,
    clip_input: ClipInput,
    seed: u64,
    val_interval: usize,
    save_interval: usize,
    image_interval: usize,
    checkpoint_dir: Option<PathBuf>,
    resume: Option<PathBuf>,
}

impl MapperTraining {
    /// Official defaults (`train_options.py`): LevelsMapper, 50 000 steps, batch 2, Ranger at lr
    /// 0.5, λ_CLIP 1.0, λ_L2 0.8, λ_ID 0.1, validation and checkpoints every 2000 steps on at
    /// most 201 test batches of 1, sample images every 100 steps.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            options: MapperOptions::default(),
            steps: 50_000,
            batch_size: 2,
            test_batch_size: 1,
            val_batches: 201,
            lr: 0.5,
            optimizer: Optimizer::official(OptimizerKind::Ranger),
            clip_lambda: 1.0,
            latent_l2_lambda: 0.8,
            id_lambda: 0.1,
            clip_input: ClipInput::Raw,
            seed: 0,
            val_interval: 2000,
            save_interval: 2000,
            image_interval: 100,
            checkpoint_dir: None,
            resume: None,
        }
    }

    /// Architecture (kind, `no_*` groups, PixelNorm axis, residual scale).
    pub fn with_options(mut self, options: MapperOptions) -> Self {
        self.options = options;
        self
    }
    /// Number of optimiser steps.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }
    /// Training batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Validation batch size and the most batches per validation.
    pub fn with_validation(mut self, test_batch_size: usize, max_batches: usize) -> Self {
        self.test_batch_size = test_batch_size;
        self.val_batches = max_batches;
        self
    }
    /// Learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Optimiser with its official settings.
    pub fn with_optimizer(mut self, kind: OptimizerKind) -> Self {
        self.optimizer = Optimizer::official(kind);
        self
    }
    /// Optimiser with explicit settings.
    pub fn with_optimizer_settings(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }
    /// Loss weights λ_CLIP, λ_L2, λ_ID.
    pub fn with_lambdas(mut self, clip: f64, latent_l2: f64, id: f64) -> Self {
        self.clip_lambda = clip;
        self.latent_l2_lambda = latent_l2;
        self.id_lambda = id;
        self
    }
    /// How images reach CLIP.
    pub fn with_clip_input(mut self, clip_input: ClipInput) -> Self {
        self.clip_input = clip_input;
        self
    }
    /// Seed of the mapper's initialisation and of the data order.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Validate every `val`, checkpoint every `save`, sample images every `image` steps
    /// (0 = never).
    pub fn with_intervals(mut self, val: usize, save: usize, image: usize) -> Self {
        self.val_interval = val;
        self.save_interval = save;
        self.image_interval = image;
        self
    }
    /// Write checkpoints (`iteration_{step}.safetensors`, `best_model.safetensors`) here.
    pub fn with_checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }
    /// Continue from a training checkpoint: mapper, optimiser state and step count.
    pub fn with_resume(mut self, checkpoint: impl Into<PathBuf>) -> Self {
        self.resume = Some(checkpoint.into());
        self
    }

    /// The official `opts` this run corresponds to (stored in checkpoints).
    pub fn official_opts(&self, generator: &Generator) -> OfficialOpts {
        use serde_json::json;
        // The groups this generator actually has (an empty level group is left out).
        let o = &self.options.clone().for_rows(generator.config().n_latent());
        let optim = match self.optimizer {
            Optimizer::Adam(_) => "adam",
            Optimizer::Ranger(_) => "ranger",
        };
        [
            ("description", json!(self.description)),
            (
                "mapper_type",
                json!(match o.kind {
                    MapperKind::Single => "SingleMapper",
                    _ => "LevelsMapper",
                }),
            ),
            ("work_in_stylespace", json!(o.kind.is_style_space())),
            ("no_coarse_mapper", json!(o.no_coarse)),
            ("no_medium_mapper", json!(o.no_medium)),
            ("no_fine_mapper", json!(o.no_fine)),
            ("batch_size", json!(self.batch_size)),
            ("test_batch_size", json!(self.test_batch_size)),
            ("learning_rate", json!(self.lr)),
            ("optim_name", json!(optim)),
            ("id_lambda", json!(self.id_lambda)),
            ("clip_lambda", json!(self.clip_lambda)),
            ("latent_l2_lambda", json!(self.latent_l2_lambda)),
            ("stylegan_size", json!(generator.config().size)),
            ("max_steps", json!(self.steps)),
            ("val_interval", json!(self.val_interval)),
            ("save_interval", json!(self.save_interval)),
            ("image_interval", json!(self.image_interval)),
            ("seed", json!(self.seed)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn validate_settings(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidArgument(what.to_string()));
        if self.batch_size == 0 || self.test_batch_size == 0 {
            return bad("batch sizes must be positive");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("the learning rate must be positive");
        }
        for (name, v) in [
            ("clip", self.clip_lambda),
            ("latent_l2", self.latent_l2_lambda),
            ("id", self.id_lambda),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "λ_{name} must be finite and ≥ 0, got {v}"
                )));
            }
        }
        if self.description.trim().is_empty() {
            return bad("the description (prompt) is empty");
        }
        Ok(())
    }

    /// Train on `data` (W+ latents). The generator, CLIP and ArcFace must be on an autodiff
    /// device, frozen with `.no_grad()`; ArcFace is needed when λ_ID > 0.
    ///
    /// # Errors
    /// Bad settings or prompt, a plain device, latents of the wrong shape or too few for one
    /// batch, a missing ArcFace, a NaN/infinite loss (naming the step), an unreadable resume
    /// checkpoint, or a checkpoint that cannot be written.
    pub fn run<R: ObserverResult>(
        &self,
        generator: &Generator,
        clip: &Clip,
        arcface: Option<&ArcFace>,
        data: &MapperData,
        mut observer: impl FnMut(&TrainingEvent) -> R,
    ) -> Result<TrainedMapper> {
        self.validate_settings()?;
        let device = generator.device();
        let train = data.train.clone().to_device(&device).detach();
        let test = data.test.clone().map(|t| t.to_device(&device).detach());
        let [n, _, _] = train.dims();
        if n < self.batch_size {
            return Err(Error::InvalidArgument(format!(
                "{n} training latents is less than one batch of {}",
                self.batch_size
            )));
        }
        let (mut trainer, mut best) = match &self.resume {
            Some(path) => MapperTrainer::resume(self, generator, clip, arcface, path)?,
            None => {
                let mapper = AnyMapper::new_seeded(self.options.clone(), generator, self.seed)?;
                (
                    MapperTrainer::new(self, generator, clip, arcface, mapper)?,
                    None,
                )
            }
        };
        let opts = self.official_opts(generator);
        if let Some(dir) = &self.checkpoint_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let batches_per_epoch = n / self.batch_size;
        let mut history = Vec::new();
        let mut validation = Vec::new();
        let start = Instant::now();
        let mut order: (usize, Vec<usize>) = (usize::MAX, Vec::new());
        let every = |interval: usize, step: usize| interval > 0 && step.is_multiple_of(interval);

        while trainer.steps_done() < self.steps {
            let s = trainer.steps_done();
            let (epoch, batch) = (s / batches_per_epoch, s % batches_per_epoch);
            if order.0 != epoch {
                order = (epoch, epoch_order(n, self.seed, epoch));
            }
            let idx = &order.1[batch * self.batch_size..(batch + 1) * self.batch_size];
            let w = select_rows(&train, idx);
            let (losses, x, x_hat) = trainer.train_step(w)?;
            let done = trainer.steps_done();
            history.push(losses);
            let mut stop = observer(&TrainingEvent::Step {
                step: done,
                steps: self.steps,
                losses,
                elapsed: start.elapsed(),
            })
            .stop();
            let last = done == self.steps || stop;

            if every(self.image_interval, done) {
                stop |= observer(&TrainingEvent::Images {
                    step: done,
                    source: &x,
                    edited: &x_hat,
                })
                .stop();
            }
            let mut val = None;
            if let Some(test) = &test
                && (every(self.val_interval, done) || last)
            {
                let losses = self.validate(&trainer, test)?;
                let is_best = best.is_none_or(|b| losses.loss < b);
                if is_best {
                    best = Some(losses.loss);
                }
                validation.push((done, losses));
                val = Some(is_best);
                stop |= observer(&TrainingEvent::Validation {
                    step: done,
                    losses,
                    best: is_best,
                })
                .stop();
            }
            if let Some(dir) = &self.checkpoint_dir {
                let mut names = Vec::new();
                if val == Some(true) {
                    names.push("best_model".to_string());
                }
                if every(self.save_interval, done) || last || stop {
                    names.push(format!("iteration_{done}"));
                }
                for name in names {
                    let path = dir.join(format!("{name}.safetensors"));
                    trainer.save(&path, &opts, best)?;
                    stop |= observer(&TrainingEvent::Checkpoint {
                        step: done,
                        path: &path,
                    })
                    .stop();
                }
            }
            if stop {
                break;
            }
        }
        Ok(TrainedMapper {
            steps: trainer.steps_done(),
            mapper: trainer.mapper.valid(),
            history,
            validation,
            opts,
        })
    }

    fn validate(&self, trainer: &MapperTrainer, test: &Tensor<3>) -> Result<StepLosses> {
        let [m, _, _] = test.dims();
        let batches = (m / self.test_batch_size).min(self.val_batches);
        let all = (0..batches)
            .map(|b| {
                let batch = test
                    .clone()
                    .narrow(0, b * self.test_batch_size, self.test_batch_size);
                trainer.evaluate(batch).map(|(l, _, _)| l)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StepLosses::mean(&all))
    }
}

/// The shuffled order of epoch `epoch`.
fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    idx.shuffle(&mut rng);
    idx
}

fn select_rows(x: &Tensor<3>, idx: &[usize]) -> Tensor<3> {
    let device = x.device();
    let idx: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    let n = idx.len();
    x.clone().select(
        0,
        Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &device),
    )
}

/// The mapper, its optimiser state and the loss: one official training step at a time.
/// [`MapperTraining::run`] drives it; use it directly to feed your own batches.
pub struct MapperTrainer<'a> {
    generator: &'a Generator,
    clip: &'a Clip,
    arcface: Option<&'a ArcFace>,
    mapper: AnyMapper,
    optimizer: Optimizer,
    moments: HashMap<String, Moments>,
    text: Tensor<2>,
    lr: f64,
    lambdas: [f64; 3],
    clip_input: ClipInput,
    steps_done: usize,
}

impl<'a> MapperTrainer<'a> {
    /// A trainer for `mapper` (moved to the generator's device) with the settings of
    /// `training`.
    pub fn new(
        training: &MapperTraining,
        generator: &'a Generator,
        clip: &'a Clip,
        arcface: Option<&'a ArcFace>,
        mapper: AnyMapper,
    ) -> Result<Self> {
        training.validate_settings()?;
        let device = generator.device();
        if !device.is_autodiff() {
            return Err(Error::InvalidArgument(
                "mapper training needs an autodiff device (Device::autodiff())".into(),
            ));
        }
        if training.id_lambda > 0.0 && arcface.is_none() {
            return Err(Error::InvalidArgument(
                "id_lambda > 0 needs an ArcFace network".into(),
            ));
        }
        // Fresh trainable leaves (a loaded parameter may be the result of a reshape).
        let mapper = crate::training::leaves(mapper.to_device(&device));
        let tokens = Tokenizer::new().tokenize(&[training.description.as_str()], &device)?;
        let text = l2_normalize(clip.encode_text(tokens)).detach();
        Ok(Self {
            generator,
            clip,
            arcface,
            mapper,
            optimizer: training.optimizer,
            moments: HashMap::new(),
            text,
            lr: training.lr,
            lambdas: [
                training.clip_lambda,
                training.latent_l2_lambda,
                training.id_lambda,
            ],
            clip_input: training.clip_input,
            steps_done: 0,
        })
    }

    fn resume(
        training: &MapperTraining,
        generator: &'a Generator,
        clip: &'a Clip,
        arcface: Option<&'a ArcFace>,
        path: &Path,
    ) -> Result<(Self, Option<f64>)> {
        let device = generator.device();
        let ckpt = MapperCheckpoint::open(path)?;
        let mapper = ckpt.mapper(&device)?;
        if mapper.options().kind != training.options.kind {
            return Err(Error::InvalidConfig(format!(
                "{}: resuming a {:?} mapper with {:?} settings",
                path.display(),
                mapper.options().kind,
                training.options.kind
            )));
        }
        let mut trainer = Self::new(training, generator, clip, arcface, mapper)?;
        let file = ckpt.file();
        let meta = file.metadata();
        let num = |k: &str| -> Result<Option<f64>> {
            meta.get(k)
                .map(|v| {
                    v.parse::<f64>().map_err(|e| {
                        Error::InvalidConfig(format!("{}: bad `{k}`: {e}", path.display()))
                    })
                })
                .transpose()
        };
        let steps = num("step")?.ok_or_else(|| Error::MissingKey {
            key: "step (metadata): not a training checkpoint".into(),
            source_name: path.display().to_string(),
        })?;
        trainer.steps_done = steps as usize;
        let names: Vec<String> = file
            .keys()
            .iter()
            .filter_map(|k| k.strip_prefix("optim.")?.strip_suffix(".exp_avg"))
            .map(str::to_string)
            .collect();
        for name in names {
            let get = |what: &str| -> Result<Option<Tensor<2>>> {
                let key = format!("optim.{name}.{what}");
                if !file.contains(&key) {
                    return Ok(None);
                }
                let (v, shape) = file.read_f32(&key)?;
                let [r, c] = as_2d(&shape);
                Ok(Some(Tensor::from_data(
                    TensorData::new(v, [r, c]),
                    &device.clone().inner(),
                )))
            };
            if let (Some(exp_avg), Some(exp_avg_sq)) = (get("exp_avg")?, get("exp_avg_sq")?) {
                trainer.moments.insert(
                    name.clone(),
                    Moments {
                        exp_avg,
                        exp_avg_sq,
                        slow_buffer: get("slow_buffer")?,
                        step: steps as u64,
                    },
                );
            }
        }
        Ok((trainer, num("best_val_loss")?))
    }

    /// The mapper being trained (on the autodiff device).
    pub fn mapper(&self) -> &AnyMapper {
        &self.mapper
    }

    /// Optimiser steps taken.
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// Loss terms, `G(w)` and `G(ŵ)` for a batch `w`, with the current mapper.
    fn losses(&self, w: Tensor<3>) -> Result<(Tensor<1>, [Tensor<1>; 3], Tensor<4>, Tensor<4>)> {
        let g = self.generator;
        let w = w.detach();
        let (x, x_hat, l2) = match &self.mapper {
            AnyMapper::StyleSpace(m) => {
                let s = g.styles(w);
                let s = s.with_layers(s.layers().iter().map(|t| t.clone().detach()).collect())?;
                let x = g.synthesis_from_styles(&s, NoiseMode::Const).detach();
                let s_hat: StyleCode = m.edit(&s)?;
                let x_hat = g.synthesis_from_styles(&s_hat, NoiseMode::Const);
                let l2 = s_hat
                    .layers()
                    .iter()
                    .zip(s.layers())
                    .map(|(a, b)| (a.clone() - b.clone()).powi_scalar(2).mean())
                    .reduce(|a, b| a + b)
                    .expect("a generator has style layers");
                (x, x_hat, l2)
            }
            mapper => {
                let x = g.synthesis(w.clone(), NoiseMode::Const).detach();
                let w_hat = mapper.edit(w.clone())?;
                let l2 = (w_hat.clone() - w).powi_scalar(2).mean();
                (x, g.synthesis(w_hat, NoiseMode::Const), l2)
            }
        };
        let [clip_l, l2_l, id_l] = self.lambdas;
        let device = x.device();
        let zero = || Tensor::<1>::zeros([1], &device);
        let id = match (id_l > 0.0, self.arcface) {
            (true, Some(net)) => net.id_loss(x_hat.clone(), x.clone()),
            _ => zero(),
        };
        let clip = if clip_l > 0.0 {
            clip_loss(self.clip, self.clip_input, x_hat.clone(), self.text.clone())?
        } else {
            zero()
        };
        let mut total = id.clone().mul_scalar(id_l);
        if clip_l > 0.0 {
            total = total + clip.clone().mul_scalar(clip_l);
        }
        if l2_l > 0.0 {
            total = total + l2.clone().mul_scalar(l2_l);
        }
        Ok((total, [clip, l2, id], x, x_hat))
    }

    /// The four numbers, read back from the device in one transfer.
    fn record(total: &Tensor<1>, terms: &[Tensor<1>; 3]) -> Result<StepLosses> {
        let all = Tensor::cat(
            vec![
                total.clone().detach(),
                terms[0].clone().detach(),
                terms[1].clone().detach(),
                terms[2].clone().detach(),
            ],
            0,
        );
        let v = crate::edit::host(all)?;
        Ok(StepLosses {
            loss: v[0] as f64,
            clip: v[1] as f64,
            l2: v[2] as f64,
            id: v[3] as f64,
        })
    }

    /// Losses and images for a batch without updating anything.
    pub fn evaluate(&self, w: Tensor<3>) -> Result<(StepLosses, Tensor<4>, Tensor<4>)> {
        let (total, terms, x, x_hat) = self.losses(w)?;
        Ok((Self::record(&total, &terms)?, x, x_hat.detach()))
    }

    /// One optimiser step on the batch `w` (`[B, n_latent, style_dim]`); returns its losses
    /// (computed before the update, as the official coach logs them).
    ///
    /// # Errors
    /// A latent of the wrong shape, or a NaN/infinite loss (naming the step and the terms).
    pub fn step(&mut self, w: Tensor<3>) -> Result<StepLosses> {
        self.train_step(w).map(|(losses, _, _)| losses)
    }

    /// [`step`](Self::step), also returning that step's `G(w)` and `G(ŵ)` (before the update).
    pub(crate) fn train_step(
        &mut self,
        w: Tensor<3>,
    ) -> Result<(StepLosses, Tensor<4>, Tensor<4>)> {
        let cfg = self.generator.config();
        let [b, n, d] = w.dims();
        if b == 0 || (n, d) != (cfg.n_latent(), cfg.style_dim) {
            return Err(Error::InvalidArgument(format!(
                "training latents must be [B, {}, {}], got [{b}, {n}, {d}]",
                cfg.n_latent(),
                cfg.style_dim
            )));
        }
        let (total, terms, x, x_hat) = self.losses(w)?;
        let record = Self::record(&total, &terms)?;
        if !record.loss.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "loss is {} at step {} (clip {}, l2 {}, id {})",
                record.loss, self.steps_done, record.clip, record.l2, record.id
            )));
        }
        let grads = total.backward();
        let mut update = Update {
            path: Vec::new(),
            grads: &grads,
            optimizer: self.optimizer,
            moments: &mut self.moments,
            lr: self.lr,
            error: None,
        };
        let mapper = self.mapper.clone().map(&mut update);
        if let Some(e) = update.error {
            return Err(e);
        }
        self.mapper = mapper;
        self.steps_done += 1;
        Ok((record, x, x_hat.detach()))
    }

    /// Save a training checkpoint: the mapper under official keys, the optimiser state, the
    /// step count and the official `opts`.
    pub fn save(&self, path: &Path, opts: &OfficialOpts, best_val_loss: Option<f64>) -> Result<()> {
        let mut tensors = self.mapper.state_dict();
        let mut names: Vec<&String> = self.moments.keys().collect();
        names.sort();
        for name in names {
            let m = &self.moments[name];
            tensors.push((format!("optim.{name}.exp_avg"), m.exp_avg.to_data()));
            tensors.push((format!("optim.{name}.exp_avg_sq"), m.exp_avg_sq.to_data()));
            if let Some(s) = &m.slow_buffer {
                tensors.push((format!("optim.{name}.slow_buffer"), s.to_data()));
            }
        }
        let mut meta = self.mapper.metadata(opts)?;
        meta.insert("step".into(), self.steps_done.to_string());
        if let Some(b) = best_val_loss {
            meta.insert("best_val_loss".into(), b.to_string());
        }
        save_safetensors(path, tensors, meta)
    }
}

fn as_2d(shape: &[usize]) -> [usize; 2] {
    match shape {
        [] => [1, 1],
        [n] => [1, *n],
        [r, rest @ ..] => [*r, rest.iter().product()],
    }
}

/// Replaces every parameter by its optimiser update.
struct Update<'g, 'm> {
    path: Vec<String>,
    grads: &'g Gradients,
    optimizer: Optimizer,
    moments: &'m mut HashMap<String, Moments>,
    lr: f64,
    error: Option<Error>,
}

impl ModuleMapper for Update<'_, '_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let (id, value): (ParamId, Tensor<D>) = (param.id, param.val());
        let Some(grad) = value.grad(self.grads) else {
            self.error.get_or_insert(Error::InvalidArgument(format!(
                "no gradient reached mapper parameter {name}"
            )));
            return param;
        };
        let dims = value.dims();
        let [r, c] = as_2d(&dims);
        let p = value.inner().reshape([r, c]);
        let state = self
            .moments
            .entry(name)
            .or_insert_with(|| self.optimizer.init(&p));
        let new = self
            .optimizer
            .step(p, grad.reshape([r, c]), D > 1, state, self.lr);
        Param::initialized(id, Tensor::from_inner(new.reshape(dims)).require_grad())
    }
}
