//! StyleGAN-NADA (`rinongal/StyleGAN-nada`, `ZSSGAN/`): move the generator itself to a new
//! domain ("photo" → "pencil sketch") by fine-tuning a copy of it with a directional CLIP loss.
//!
//! Latent edits (methods 1–3) stay inside the generator's domain. NADA trains a copy `G_t` of
//! the generator against a frozen `G_f`, both fed the same W+ from the frozen mapping:
//!
//! ```text
//! I(x)   = nrm(E_I(P(x)))                     P: [-1,1] → [0,1], bicubic to 224, CLIP mean/std
//! T_c[j] = nrm(E_T(template_j(c)))            79 ImageNet templates
//! Δt     = nrm(mean_j (T_tgt[j] − T_src[j]))  (images: nrm(mean_t nrm E_I(target_t) − mean_b I(G(z_b))))
//! Δi_b   = nrm(I(G_t(w_b)) − I(G_f(w_b)))     (if Σ Δi = 0: I(G_t(w) + 1e-6), the official guard)
//! L_dir  = mean_b (1 − cos(Δi_b, Δt))         ('mse' / 'mae': mean over b and features)
//! L_glob = mean_b (1 − exp(logit_scale)·⟨I(G_t(w_b)), nrm E_T("a {target}")⟩ / 100)
//! L_man  = mean_b |clamp⟨I(G_t), I(G_f)⟩ − ⟨S̄_tgt, S̄_src⟩|,  S̄_c = nrm(mean_j T_c[j])
//! L      = Σ_models weight_m · (λ_glob L_glob + λ_dir L_dir + λ_man L_man)
//! ```
//!
//! Adam at `lr · r` with betas `(0, 0.99^r)`, `r = g_reg_every / (g_reg_every + 1) = 4/5`
//! (PyTorch ≥ 2 semantics: a parameter without a gradient this step takes no step and its
//! step count does not advance). Only some layers train: a [`Phase`] preset, or, with adaptive
//! layer selection (`auto_layer_k`, `auto_layer_iters`), the `k` layers whose W+ rows moved most
//! in a few SGD steps (lr 0.01) on the global loss of the raw target text, chosen anew before
//! every step (the official `determine_opt_layers`, quirks included; see [`LayerMap`]).
//!
//! What is left out: the patch loss (needs images larger than 510 px and random crops), the
//! texture loss (dead code in the official trainer), ResNet CLIPs, StyleGAN3/XL generators,
//! the official eval grids (the observer gets the generator and may render what it likes).
//!
//! Quirks kept, as the official code has them:
//! - the directional loss's text embeddings are normalised per template before averaging, the
//!   manifold loss's after (`set_text_features`);
//! - the global loss divides `exp(logit_scale)·cos` by 100, and selection uses the raw target
//!   text while the training loss uses `"a {target}"`;
//! - the zero-direction guard tests the total sum of `Δi` (true at step 0 when `G_t = G_f`);
//! - during [`Nada::run`], the frozen and trainable generators get independent random noise and,
//!   when mixing, independent `inject_index` draws;
//! - selection's index map is one row early for the convs and maps W+ row 1 to `to_rgb1`
//!   ([`LayerMap::Official`]; [`LayerMap::Rows`] is the fix);
//! - the mapping is never trained (w comes from the frozen mapping), even in [`Phase::All`].
//!
//! Generator and CLIP models must live on one autodiff device (`device.autodiff()`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::clip::Clip;
use crate::clip::model::l2_normalize;
use crate::clip::preprocess::clip_preprocess;
use crate::edit::global_direction::IMAGENET_TEMPLATES;
use crate::edit::{ClipInput, host};
use crate::error::{Error, Result};
use crate::imaging::Rgb8;
use crate::stylegan2::{Generator, NoiseMode};
use crate::tokenizer::Tokenizer;
use crate::training::ModuleAdam;
use crate::weights::TensorFile;

pub use crate::edit::optimization::ObserverResult;

/// The official `g_reg_every` (4): learning rate and β₂ are scaled by `4 / (4 + 1)`.
pub const G_REG_EVERY: f64 = 4.0;

/// What the generator moves towards.
#[derive(Debug, Clone)]
pub enum NadaTarget {
    /// From the `source` class to the `target` class (official `--source_class`,
    /// `--target_class`).
    Text {
        /// Source domain text, e.g. `"photo"`.
        source: String,
        /// Target domain text, e.g. `"sketch"`.
        target: String,
    },
    /// From the generator's own samples to the mean CLIP embedding of these images (official
    /// `--style_img_dir`). `target_class` still feeds the global loss and layer selection, as
    /// in the official code (whose default is `"cat"`).
    Images {
        /// The target images (decoded RGB, any size; CLIP's own preprocessing is applied).
        images: Vec<Rgb8>,
        /// Text for the global loss and layer selection.
        target_class: String,
    },
}

impl NadaTarget {
    /// A text target, `source` → `target`.
    pub fn text(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self::Text {
            source: source.into(),
            target: target.into(),
        }
    }

    /// An image target; `target_class` names it for the global loss and layer selection.
    pub fn images(images: Vec<Rgb8>, target_class: impl Into<String>) -> Self {
        Self::Images {
            images,
            target_class: target_class.into(),
        }
    }

    fn target_class(&self) -> &str {
        match self {
            Self::Text { target, .. } => target,
            Self::Images { target_class, .. } => target_class,
        }
    }
}

/// The official `phase` presets: which layers of the trainable generator train when adaptive
/// layer selection is off. Slices clip on small generators (32 px has 6 convs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// `texture`: constant input, `conv1`, `convs[2..10]`.
    Texture,
    /// `shape`: constant input, `conv1`, `convs[0..2]`.
    Shape,
    /// `no_fine`: constant input, `conv1`, `convs[0..10]`.
    NoFine,
    /// `shape_expanded`: constant input, `conv1`, `convs[0..3]`.
    ShapeExpanded,
    /// `all`: every layer, mapping and ToRGB included (the mapping still gets no gradient).
    All,
    /// The official default (`None`): constant input, `conv1` and every conv; no ToRGB, no
    /// mapping.
    #[default]
    AllConvs,
}

impl Phase {
    /// Parse the official option value (`"None"` and `""` are [`Phase::AllConvs`], as the
    /// official code treats any unknown string).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "texture" => Self::Texture,
            "shape" => Self::Shape,
            "no_fine" => Self::NoFine,
            "shape_expanded" => Self::ShapeExpanded,
            "all" => Self::All,
            "None" | "none" | "" => Self::AllConvs,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown phase `{other}` (expected texture, shape, no_fine, shape_expanded, \
                     all or None)"
                )));
            }
        })
    }

    /// The modules that train, as module paths of [`Generator`] (`input`, `conv1`, `convs.3`,
    /// `to_rgbs`, `style` …), for a generator with `n_convs` entries in `convs`.
    pub fn modules(self, n_convs: usize) -> Vec<String> {
        let convs =
            |a: usize, b: usize| (a.min(n_convs)..b.min(n_convs)).map(|j| format!("convs.{j}"));
        let head = ["input".to_string(), "conv1".to_string()];
        match self {
            Self::Texture => head.into_iter().chain(convs(2, 10)).collect(),
            Self::Shape => head.into_iter().chain(convs(0, 2)).collect(),
            Self::NoFine => head.into_iter().chain(convs(0, 10)).collect(),
            Self::ShapeExpanded => head.into_iter().chain(convs(0, 3)).collect(),
            Self::AllConvs => head.into_iter().chain(convs(0, n_convs)).collect(),
            Self::All => ["style", "input", "conv1", "to_rgb1", "convs", "to_rgbs"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

/// The official `direction_loss_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectionLoss {
    /// `mean_b (1 − cos(Δi_b, Δt))` (the official default).
    #[default]
    Cosine,
    /// `mean_{b,d} (Δi − Δt)²`.
    Mse,
    /// `mean_{b,d} |Δi − Δt|`.
    Mae,
}

/// How adaptive selection maps the W+ rows that moved most onto layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerMap {
    /// The official map `[conv1, to_rgb1] + convs`: row 0 → `conv1`, row 1 → `to_rgb1`, row
    /// `i ≥ 2` → `convs[i − 2]`. It is one row early for the convs (`convs[j]` reads row
    /// `j + 1`) and trains `to_rgb1` for row 1.
    #[default]
    Official,
    /// The layer that reads the row: row 0 → `conv1`, row `i` in `1..n_latent−1` →
    /// `convs[i − 1]`, the last row → the last ToRGB.
    Rows,
}

/// Random augmentations of the directional loss's image pairs (this crate's option, not the
/// official code's): each pair (frozen, trainable) is seen `copies` times, each copy shifted
/// by the same random whole-pixel offset up to `max_shift` (a fraction of the side, cyclic)
/// and given the same Gaussian pixel noise of std `noise`; the features of all copies enter the
/// loss. A small CLIP's raw gradient can climb its score with patterns no person sees (the toy
/// world's does); averaging over jitter is the usual remedy of CLIP-guided generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Copies per pair (0: off).
    pub copies: usize,
    /// Largest shift, as a fraction of the image side.
    pub max_shift: f64,
    /// Std of the added pixel noise (images in `[-1, 1]`).
    pub noise: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            copies: 0,
            max_shift: 0.125,
            noise: 0.1,
        }
    }
}

/// NADA's settings with the official defaults; every setting has a `with_*`.
#[derive(Clone)]
pub struct Nada<'a> {
    target: NadaTarget,
    steps: usize,
    batch: usize,
    lr: f64,
    g_reg_every: f64,
    mixing: f64,
    seed: u64,
    lambda_direction: f64,
    lambda_global: f64,
    lambda_manifold: f64,
    direction_loss: DirectionLoss,
    clip_models: Vec<(&'a Clip, f64)>,
    clip_input: ClipInput,
    templates: Vec<String>,
    augment: Augment,
    phase: Phase,
    auto_layer_k: usize,
    auto_layer_iters: usize,
    auto_layer_batch: usize,
    layer_map: LayerMap,
    img2img_batch: usize,
    train_generator: Option<&'a Generator>,
    checkpoint_dir: Option<PathBuf>,
    save_interval: usize,
    resume: Option<PathBuf>,
}

impl<'a> Nada<'a> {
    /// The official defaults (`ZSSGAN/options/train_options.py`): 1000 steps, batch 16, lr
    /// 0.002, `g_reg_every` 4, no mixing, λ_direction 1 (global and manifold 0), cosine
    /// direction loss, phase `None`, adaptive selection `k = 1`, 1 iteration, batch 8, the
    /// official layer map, 16 source images for an image target, seed 2, no checkpoints. CLIP
    /// models must be given ([`Nada::with_clip_models`]).
    pub fn new(target: NadaTarget) -> Self {
        Self {
            target,
            steps: 1000,
            batch: 16,
            lr: 0.002,
            g_reg_every: G_REG_EVERY,
            mixing: 0.0,
            seed: 2,
            lambda_direction: 1.0,
            lambda_global: 0.0,
            lambda_manifold: 0.0,
            direction_loss: DirectionLoss::Cosine,
            clip_models: Vec::new(),
            clip_input: ClipInput::Normalized,
            templates: IMAGENET_TEMPLATES.iter().map(|t| t.to_string()).collect(),
            augment: Augment::default(),
            phase: Phase::AllConvs,
            auto_layer_k: 1,
            auto_layer_iters: 1,
            auto_layer_batch: 8,
            layer_map: LayerMap::Official,
            img2img_batch: 16,
            train_generator: None,
            checkpoint_dir: None,
            save_interval: 0,
            resume: None,
        }
    }

    /// How generator output reaches CLIP (official: [`ClipInput::Normalized`], NADA's
    /// un-normalise, bicubic resize and CLIP mean/std). [`ClipInput::Raw`] is StyleCLIP's
    /// path, for a CLIP trained on it (the toy world's).
    pub fn with_clip_input(mut self, input: ClipInput) -> Self {
        self.clip_input = input;
        self
    }

    /// The text templates of the text direction and the manifold loss (official: the 79
    /// ImageNet templates); each has one `{}` for the class text.
    pub fn with_templates(mut self, templates: &[&str]) -> Self {
        self.templates = templates.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Augment the image pairs of the directional loss (not in the official code; off by
    /// default): see [`Augment`].
    pub fn with_augment(mut self, augment: Augment) -> Self {
        self.augment = augment;
        self
    }

    /// Number of generator updates (official `--iter`).
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }
    /// Images per update (official `--batch`; the README uses 2).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }
    /// Base learning rate (scaled by `g_reg_every / (g_reg_every + 1)`).
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// The official `g_reg_every` (scales lr and β₂).
    pub fn with_g_reg_every(mut self, g_reg_every: f64) -> Self {
        self.g_reg_every = g_reg_every;
        self
    }
    /// Style-mixing probability (official `--mixing`).
    pub fn with_mixing(mut self, mixing: f64) -> Self {
        self.mixing = mixing;
        self
    }
    /// Seed of every random draw of [`Nada::run`] (z, mixing, noise, selection batches).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// λ_direction, λ_global and λ_manifold.
    pub fn with_lambdas(mut self, direction: f64, global: f64, manifold: f64) -> Self {
        self.lambda_direction = direction;
        self.lambda_global = global;
        self.lambda_manifold = manifold;
        self
    }
    /// The direction loss type.
    pub fn with_direction_loss(mut self, kind: DirectionLoss) -> Self {
        self.direction_loss = kind;
        self
    }
    /// CLIP models and their weights (official ViT-B/32 and ViT-B/16 at 1.0 each).
    pub fn with_clip_models(mut self, models: Vec<(&'a Clip, f64)>) -> Self {
        self.clip_models = models;
        self
    }
    /// Trainable layers when adaptive selection is off.
    pub fn with_phase(mut self, phase: Phase) -> Self {
        self.phase = phase;
        self
    }
    /// Adaptive layer selection: `k` layers after `iters` SGD steps; `(0, 0)` (or either 0)
    /// turns it off, so the [`Phase`] decides.
    pub fn with_auto_layers(mut self, k: usize, iters: usize) -> Self {
        self.auto_layer_k = k;
        self.auto_layer_iters = iters;
        self
    }
    /// W codes per selection (official `--auto_layer_batch`, 8).
    pub fn with_auto_layer_batch(mut self, batch: usize) -> Self {
        self.auto_layer_batch = batch;
        self
    }
    /// How selected W+ rows map onto layers.
    pub fn with_layer_map(mut self, map: LayerMap) -> Self {
        self.layer_map = map;
        self
    }
    /// Generator samples for an image target's source embedding (official `--img2img_batch`).
    pub fn with_img2img_batch(mut self, batch: usize) -> Self {
        self.img2img_batch = batch;
        self
    }
    /// Start the trainable copy from another generator of the same configuration (official
    /// `--train_gen_ckpt`); else it starts as a copy of the frozen one.
    pub fn with_train_generator(mut self, generator: &'a Generator) -> Self {
        self.train_generator = Some(generator);
        self
    }
    /// Write `{step:06}.safetensors` here every `interval` steps (`step > 0`, official
    /// `--save_interval`). The files load with [`Generator::load`] and resume with
    /// [`Nada::with_resume`].
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>, interval: usize) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self.save_interval = interval;
        self
    }
    /// Continue from a checkpoint written by this trainer (generator, Adam state, step).
    pub fn with_resume(mut self, checkpoint: impl Into<PathBuf>) -> Self {
        self.resume = Some(checkpoint.into());
        self
    }

    fn auto_layers(&self) -> bool {
        self.auto_layer_k > 0 && self.auto_layer_iters > 0
    }

    /// Check the settings that do not depend on the generator.
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.clip_models.is_empty() {
            return bad("NADA needs at least one CLIP model (with_clip_models)".into());
        }
        if let Some((_, w)) = self.clip_models.iter().find(|(_, w)| !w.is_finite()) {
            return bad(format!("CLIP model weight {w} is not finite"));
        }
        let lambdas = [
            self.lambda_direction,
            self.lambda_global,
            self.lambda_manifold,
        ];
        if lambdas.iter().any(|l| !l.is_finite() || *l < 0.0) || lambdas.iter().all(|l| *l == 0.0) {
            return bad(format!(
                "λ_direction, λ_global, λ_manifold must be finite, ≥ 0 and not all 0, got {lambdas:?}"
            ));
        }
        if self.batch == 0 {
            return bad("batch must be ≥ 1".into());
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.lr) || !positive(self.g_reg_every) {
            return bad(format!(
                "lr ({}) and g_reg_every ({}) must be positive",
                self.lr, self.g_reg_every
            ));
        }
        if !(0.0..=1.0).contains(&self.mixing) {
            return bad(format!("mixing must be in [0, 1], got {}", self.mixing));
        }
        if self.auto_layers() && self.auto_layer_batch == 0 {
            return bad("auto_layer_batch must be ≥ 1".into());
        }
        match &self.target {
            NadaTarget::Text { source, target } => {
                if source.trim().is_empty() || target.trim().is_empty() {
                    return bad("the source and target texts must not be empty".into());
                }
            }
            NadaTarget::Images {
                images,
                target_class,
            } => {
                if images.is_empty() {
                    return bad("an image target needs at least one image".into());
                }
                if target_class.trim().is_empty() {
                    return bad("an image target needs a target class text".into());
                }
                if self.img2img_batch == 0 {
                    return bad("img2img_batch must be ≥ 1".into());
                }
            }
        }
        if self.save_interval > 0 && self.checkpoint_dir.is_none() {
            return bad("a save interval needs a checkpoint directory".into());
        }
        Ok(())
    }

    /// Train with the official loop (seeded z, mixing, random noise drawn independently for
    /// the frozen and trainable generators, layer selection before every step when on) and
    /// return the adapted generator. The observer sees every step and may stop the run with
    /// `ControlFlow::Break(())`.
    ///
    /// # Errors
    /// Bad settings, a generator or CLIP model on a non-autodiff device or on different
    /// devices, a checkpoint that cannot be written or resumed from, a NaN/infinite loss
    /// (naming the step).
    pub fn run<R: ObserverResult>(
        &self,
        frozen: &Generator,
        mut observer: impl FnMut(&NadaStep) -> R,
    ) -> Result<NadaRun> {
        let mut trainer = NadaTrainer::new(self, frozen)?;
        let cfg = frozen.config().clone();
        let (d, n) = (cfg.style_dim, cfg.n_latent());
        let device = frozen.device();
        let mut history = Vec::new();
        while trainer.steps_done() < self.steps {
            let step = trainer.steps_done();
            // One generator per step, so a resumed run draws what the uninterrupted one did.
            let mut rng = StdRng::seed_from_u64(
                self.seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            if self.auto_layers() {
                let z = normal_tensor(&mut rng, self.auto_layer_batch, d, &device);
                let noise = NoiseMode::Random(rng.random());
                trainer.select_with(z, noise)?;
            }
            let mixed = self.mixing > 0.0 && rng.random::<f64>() < self.mixing;
            let z1 = normal_tensor(&mut rng, self.batch, d, &device);
            let w1 = trainer.frozen.mapping(z1).detach();
            let (wf, wt) = if mixed {
                let z2 = normal_tensor(&mut rng, self.batch, d, &device);
                let w2 = trainer.frozen.mapping(z2).detach();
                // Each generator call draws its own inject_index (random.randint(1, n − 1)).
                let (i_f, i_t) = (rng.random_range(1..n), rng.random_range(1..n));
                (
                    frozen.mix(w1.clone(), w2.clone(), i_f),
                    frozen.mix(w1, w2, i_t),
                )
            } else {
                let wp = frozen.broadcast(w1);
                (wp.clone(), wp)
            };
            let (nf, nt) = (
                NoiseMode::Random(rng.random()),
                NoiseMode::Random(rng.random()),
            );
            let record = trainer.step_on(wf, wt, nf, nt)?;
            let done = trainer.steps_done();
            if let (Some(dir), true) = (&self.checkpoint_dir, self.save_interval > 0) {
                // Official: after update i, when i > 0 and i % save_interval == 0.
                if step > 0 && step.is_multiple_of(self.save_interval) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                    trainer.save(dir.join(format!("{step:06}.safetensors")))?;
                }
            }
            history.push(record);
            let stop = observer(&NadaStep {
                record: history.last().expect("pushed"),
                generator: trainer.generator(),
            })
            .stop();
            if stop || done >= self.steps {
                break;
            }
        }
        Ok(NadaRun {
            generator: trainer.train.clone().no_grad(),
            history,
        })
    }
}

/// One step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NadaRecord {
    /// Step index, from 0.
    pub step: usize,
    /// The weighted total loss.
    pub loss: f64,
    /// Each CLIP model's loss (before its weight).
    pub model_losses: Vec<f64>,
    /// The W+ rows adaptive selection picked for this step (empty when a phase decides).
    pub rows: Vec<usize>,
}

/// What the observer gets after each step.
pub struct NadaStep<'a> {
    /// This step's numbers.
    pub record: &'a NadaRecord,
    /// The trainable generator after the update.
    pub generator: &'a Generator,
}

/// The outcome of [`Nada::run`].
#[derive(Debug)]
pub struct NadaRun {
    /// The adapted generator (same configuration, new weights; parameters without grad).
    pub generator: Generator,
    /// Every step's numbers.
    pub history: Vec<NadaRecord>,
}

/// Per CLIP model: the fixed text-side tensors.
struct ModelTerms {
    /// Δt, `[1, E]`.
    direction: Tensor<2>,
    /// `nrm E_T("a {target}")`, `[1, E]` (global loss in training).
    global_text: Tensor<2>,
    /// `nrm E_T(target)`, `[1, E]` (layer selection).
    select_text: Tensor<2>,
    /// `⟨S̄_tgt, S̄_src⟩` (manifold loss), when a text target and λ_manifold > 0.
    cos_text: Option<Tensor<2>>,
}

/// The NADA trainer: a frozen generator, a trainable copy, the CLIP terms and Adam; one
/// official step at a time (see [`NadaTrainer::step`]).
pub struct NadaTrainer<'a> {
    nada: Nada<'a>,
    frozen: Generator,
    train: Generator,
    adam: ModuleAdam,
    terms: Vec<ModelTerms>,
    /// Module paths that train at the next step.
    active: Vec<String>,
    rows: Vec<usize>,
    step: usize,
}

impl<'a> NadaTrainer<'a> {
    /// Set up the twin generators, the text (or image) directions and Adam.
    ///
    /// # Errors
    /// Bad settings, devices that are not one autodiff device, a train generator of another
    /// configuration, a resume checkpoint that does not fit.
    pub fn new(nada: &Nada<'a>, frozen: &Generator) -> Result<Self> {
        nada.validate()?;
        let device = frozen.device();
        if !device.is_autodiff() {
            return Err(Error::InvalidArgument(
                "NADA needs the generator on an autodiff device (Device::autodiff())".into(),
            ));
        }
        for (i, (clip, _)) in nada.clip_models.iter().enumerate() {
            let cd = clip.logit_scale_exp().device();
            if cd != device || cd.is_autodiff() != device.is_autodiff() {
                return Err(Error::InvalidArgument(format!(
                    "CLIP model {i} is on {cd:?} but the generator is on {device:?}"
                )));
            }
        }
        let cfg = frozen.config();
        if nada.auto_layers() && nada.auto_layer_k > cfg.n_latent() {
            return Err(Error::InvalidArgument(format!(
                "auto_layer_k {} exceeds the generator's {} W+ rows",
                nada.auto_layer_k,
                cfg.n_latent()
            )));
        }
        let mut train = match nada.train_generator {
            Some(g) => {
                if g.config() != cfg {
                    return Err(Error::InvalidArgument(
                        "the train generator's configuration differs from the frozen one".into(),
                    ));
                }
                if g.device() != device {
                    return Err(Error::InvalidArgument(format!(
                        "the train generator is on {:?} but the frozen one is on {device:?}",
                        g.device()
                    )));
                }
                g.clone()
            }
            None => frozen.clone(),
        };
        let frozen = frozen.clone().no_grad();
        let ratio = nada.g_reg_every / (nada.g_reg_every + 1.0);
        let mut adam = ModuleAdam::new().with_betas(0f64.powf(ratio), 0.99f64.powf(ratio), 1e-8);
        adam.allow_missing = true;
        let mut step = 0;
        let mut restored: HashMap<usize, Tensor<2>> = HashMap::new();
        if let Some(path) = &nada.resume {
            let file = TensorFile::open(path)?;
            let g = Generator::from_file(&file, &device)?;
            if g.config() != cfg {
                return Err(Error::InvalidArgument(format!(
                    "the checkpoint {} holds a generator of another configuration",
                    path.display()
                )));
            }
            train = g;
            step = adam.restore(&file)?;
            for i in 0..nada.clip_models.len() {
                let key = format!("nada.direction.{i}");
                if file.contains(&key) {
                    let (v, shape) = file.read_f32(&key)?;
                    let e = *shape.last().unwrap_or(&0);
                    restored.insert(i, Tensor::from_data(TensorData::new(v, [1, e]), &device));
                }
            }
        }
        let tokenizer = Tokenizer::new();
        let target_class = nada.target.target_class();
        // Source images of an image target: the trainable generator's own samples.
        let img2img_source = match &nada.target {
            NadaTarget::Images { .. } if restored.len() < nada.clip_models.len() => {
                let mut rng = StdRng::seed_from_u64(nada.seed.wrapping_add(0x1212));
                let z = normal_tensor(&mut rng, nada.img2img_batch, cfg.style_dim, &device);
                let g = train.clone().no_grad();
                let wp = g.broadcast(g.mapping(z));
                Some(g.synthesis(wp, NoiseMode::Random(rng.random())).detach())
            }
            _ => None,
        };
        let templates: Vec<&str> = nada.templates.iter().map(String::as_str).collect();
        let input = nada.clip_input;
        let mut terms = Vec::new();
        for (i, (clip, _)) in nada.clip_models.iter().enumerate() {
            let direction = match (restored.remove(&i), &nada.target) {
                (Some(d), _) => d,
                (None, NadaTarget::Text { source, target }) => {
                    text_direction_with_templates(clip, &tokenizer, source, target, &templates)?
                }
                (None, NadaTarget::Images { images, .. }) => image_direction(
                    clip,
                    input,
                    img2img_source.clone().expect("sampled above"),
                    images,
                )?,
            };
            let encode = |text: &str| -> Result<Tensor<2>> {
                let t = tokenizer.tokenize(&[text], &device)?;
                Ok(l2_normalize(clip.encode_text(t)).detach())
            };
            let cos_text = match (&nada.target, nada.lambda_manifold > 0.0) {
                (NadaTarget::Text { source, target }, true) => {
                    Some(manifold_text(clip, &tokenizer, source, target, &templates)?)
                }
                (NadaTarget::Images { .. }, true) => {
                    return Err(Error::InvalidArgument(
                        "the manifold loss needs a text target".into(),
                    ));
                }
                _ => None,
            };
            terms.push(ModelTerms {
                direction: direction.detach(),
                global_text: encode(&format!("a {target_class}"))?,
                select_text: encode(target_class)?,
                cos_text,
            });
        }
        let active = nada.phase.modules(2 * (cfg.channels.len() - 1));
        Ok(Self {
            nada: nada.clone(),
            frozen,
            train,
            adam,
            terms,
            active,
            rows: Vec::new(),
            step,
        })
    }

    /// The trainable generator now.
    pub fn generator(&self) -> &Generator {
        &self.train
    }

    /// Updates done so far (restored ones included).
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Each CLIP model's target direction Δt, `[1, E]`.
    pub fn directions(&self) -> Vec<Tensor<2>> {
        self.terms.iter().map(|t| t.direction.clone()).collect()
    }

    /// The module paths that train at the next step (`input`, `conv1`, `convs.2` …).
    pub fn trainable_modules(&self) -> &[String] {
        &self.active
    }

    /// The official `determine_opt_layers` on the W codes of `z` (`[auto_layer_batch or any,
    /// style_dim]`), with the checkpoint's constant noise: `auto_layer_iters` SGD steps (lr
    /// 0.01) of the W+ codes on the weighted global loss of the raw target text, then the
    /// `auto_layer_k` rows that moved most (by mean |Δw|, largest first). The next
    /// [`NadaTrainer::step`] trains only the layers those rows map to ([`LayerMap`]).
    ///
    /// # Errors
    /// Selection off (`k` or `iters` 0), a `z` of the wrong shape or device, a NaN loss.
    pub fn select_layers(&mut self, z: Tensor<2>) -> Result<Vec<usize>> {
        self.select_with(z, NoiseMode::Const)
    }

    fn check_z(&self, z: &Tensor<2>) -> Result<()> {
        let [b, d] = z.dims();
        let sd = self.frozen.config().style_dim;
        if b == 0 || d != sd {
            return Err(Error::InvalidArgument(format!(
                "z must be [B, {sd}] with B ≥ 1, got [{b}, {d}]"
            )));
        }
        let (zd, gd) = (z.device(), self.frozen.device());
        if zd != gd {
            return Err(Error::InvalidArgument(format!(
                "z is on {zd:?} but the generator is on {gd:?}"
            )));
        }
        Ok(())
    }

    fn select_with(&mut self, z: Tensor<2>, noise: NoiseMode) -> Result<Vec<usize>> {
        if !self.nada.auto_layers() {
            return Err(Error::InvalidArgument(
                "adaptive layer selection is off (with_auto_layers(k, iters) with k, iters ≥ 1)"
                    .into(),
            ));
        }
        self.check_z(&z)?;
        let n = self.frozen.config().n_latent();
        let w0 = self
            .frozen
            .broadcast(self.frozen.mapping(z))
            .detach()
            .inner();
        let g = self.train.clone().no_grad();
        let mut w = w0.clone();
        for it in 0..self.nada.auto_layer_iters {
            let v = Tensor::from_inner(w.clone()).require_grad();
            let img = g.synthesis(v.clone(), noise.clone());
            let mut loss: Option<Tensor<1>> = None;
            for ((clip, weight), t) in self.nada.clip_models.iter().zip(&self.terms) {
                let l = global_loss(
                    clip,
                    self.nada.clip_input,
                    img.clone(),
                    t.select_text.clone(),
                )?
                .mul_scalar(*weight);
                loss = Some(match loss {
                    Some(a) => a + l,
                    None => l,
                });
            }
            let loss = loss.expect("at least one CLIP model");
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "layer selection loss is {value} at step {} (selection iteration {it})",
                    self.step
                )));
            }
            let grads = loss.backward();
            let grad = v.grad(&grads).ok_or_else(|| {
                Error::InvalidArgument("no gradient reached the W codes in layer selection".into())
            })?;
            w = w - grad.mul_scalar(0.01);
        }
        let score = host((w - w0).abs().mean_dim(2).mean_dim(0).reshape([n]))?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
        order.truncate(self.nada.auto_layer_k);
        self.active = rows_to_modules(&order, self.nada.layer_map, n);
        self.rows = order.clone();
        Ok(order)
    }

    /// One official update on the W codes of `z` (`[B, style_dim]`), with the checkpoint's
    /// constant noise and no mixing: frozen and trainable images of the same W+, the loss,
    /// Adam on the layers that train (the last [`NadaTrainer::select_layers`] pick, or the
    /// phase). It never selects layers itself.
    ///
    /// # Errors
    /// A `z` of the wrong shape or device, a NaN/infinite loss (naming the step).
    pub fn step(&mut self, z: Tensor<2>) -> Result<NadaRecord> {
        self.check_z(&z)?;
        let wp = self.frozen.broadcast(self.frozen.mapping(z)).detach();
        self.step_on(wp.clone(), wp, NoiseMode::Const, NoiseMode::Const)
    }

    fn step_on(
        &mut self,
        w_frozen: Tensor<3>,
        w_train: Tensor<3>,
        noise_frozen: NoiseMode,
        noise_train: NoiseMode,
    ) -> Result<NadaRecord> {
        let frozen_img = self.frozen.synthesis(w_frozen, noise_frozen).detach();
        let train = set_trainable(self.train.clone(), &self.active);
        let img = train.synthesis(w_train, noise_train);
        let (total, model_losses) = self.loss(frozen_img, img)?;
        let loss = total.clone().into_scalar::<f32>() as f64;
        if !loss.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "NADA loss is {loss} at step {} (per model: {model_losses:?})",
                self.step
            )));
        }
        let grads = total.backward();
        let ratio = self.nada.g_reg_every / (self.nada.g_reg_every + 1.0);
        self.train = self.adam.step(train, &grads, self.nada.lr * ratio)?;
        let record = NadaRecord {
            step: self.step,
            loss,
            model_losses,
            rows: self.rows.clone(),
        };
        self.step += 1;
        Ok(record)
    }

    /// The weighted loss of trainable images against frozen ones, and each model's loss.
    fn loss(&self, frozen_img: Tensor<4>, img: Tensor<4>) -> Result<(Tensor<1>, Vec<f64>)> {
        let nada = &self.nada;
        let mut total: Option<Tensor<1>> = None;
        let mut per_model = Vec::new();
        for ((clip, weight), t) in nada.clip_models.iter().zip(&self.terms) {
            let mut l: Option<Tensor<1>> = None;
            let mut add = |x: Tensor<1>| {
                l = Some(match l.take() {
                    Some(a) => a + x,
                    None => x,
                })
            };
            if nada.lambda_global > 0.0 {
                add(
                    global_loss(clip, nada.clip_input, img.clone(), t.global_text.clone())?
                        .mul_scalar(nada.lambda_global),
                );
            }
            if nada.lambda_direction > 0.0 {
                let (src, tgt) = augment_pairs(
                    frozen_img.clone(),
                    img.clone(),
                    nada.augment,
                    nada.seed.wrapping_add(0xa11 * (self.step as u64 + 1)),
                );
                add(directional_loss(
                    clip,
                    nada.clip_input,
                    src,
                    tgt,
                    t.direction.clone(),
                    nada.direction_loss,
                )?
                .mul_scalar(nada.lambda_direction));
            }
            if let (true, Some(cos_text)) = (nada.lambda_manifold > 0.0, &t.cos_text) {
                add(manifold_loss(
                    clip,
                    nada.clip_input,
                    frozen_img.clone(),
                    img.clone(),
                    cos_text.clone(),
                )?
                .mul_scalar(nada.lambda_manifold));
            }
            let l = l.expect("validated: one λ > 0");
            per_model.push(l.clone().into_scalar::<f32>() as f64);
            let l = l.mul_scalar(*weight);
            total = Some(match total {
                Some(a) => a + l,
                None => l,
            });
        }
        Ok((total.expect("validated: one model"), per_model))
    }

    /// Write a checkpoint: the trainable generator (loads with [`Generator::load`]), Adam's
    /// state with each parameter's step count, the target directions and the step count.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut tensors = self.train.state_dict();
        tensors.extend(self.adam.state_with_steps("adam."));
        for (i, t) in self.terms.iter().enumerate() {
            tensors.push((format!("nada.direction.{i}"), t.direction.to_data()));
        }
        let mut meta = self.train.own_metadata()?;
        meta.insert("step".into(), self.step.to_string());
        meta.insert("trainer".into(), "styleclip.nada".into());
        crate::weights::save_safetensors_as(
            path.as_ref(),
            tensors,
            meta,
            crate::weights::Precision::F32,
        )
    }
}

/// Module paths `m` trains: `m` itself and everything under it.
fn trains(active: &[String], path: &str) -> bool {
    if path.starts_with("noises") || path.starts_with("latent_avg") {
        return false; // buffers in the official code
    }
    active
        .iter()
        .any(|m| path == m || (path.starts_with(m.as_str()) && path[m.len()..].starts_with('.')))
}

/// Fresh autodiff leaves: the active modules' parameters require grad, the rest do not.
fn set_trainable(g: Generator, active: &[String]) -> Generator {
    struct Mark<'b> {
        path: Vec<String>,
        active: &'b [String],
    }
    impl ModuleMapper for Mark<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let on = trains(self.active, &self.path.join("."));
            let id = param.id;
            let t = Tensor::from_inner(param.val().inner());
            Param::initialized(id, if on { t.require_grad() } else { t })
        }
    }
    g.map(&mut Mark {
        path: Vec::new(),
        active,
    })
}

/// Selected W+ rows → module paths.
fn rows_to_modules(rows: &[usize], map: LayerMap, n_latent: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &i in rows {
        let m = match (map, i) {
            (_, 0) => "conv1".to_string(),
            (LayerMap::Official, 1) => "to_rgb1".to_string(),
            (LayerMap::Official, i) => format!("convs.{}", i - 2),
            (LayerMap::Rows, i) if i + 1 == n_latent => format!("to_rgbs.{}", (n_latent - 3) / 2),
            (LayerMap::Rows, i) => format!("convs.{}", i - 1),
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// `a` and `b` (`[B, 3, S, S]`) each followed by `augment.copies` jittered copies, the same
/// jitter for both (see [`Augment`]); unchanged when `copies` is 0.
fn augment_pairs(
    a: Tensor<4>,
    b: Tensor<4>,
    augment: Augment,
    seed: u64,
) -> (Tensor<4>, Tensor<4>) {
    if augment.copies == 0 {
        return (a, b);
    }
    let [n, c, h, w] = a.dims();
    let device = a.device();
    let mut rng = StdRng::seed_from_u64(seed);
    let max = ((augment.max_shift * h.min(w) as f64).round() as i64).max(0);
    let roll = |x: Tensor<4>, dim: usize, k: i64| {
        let len = x.dims()[dim] as i64;
        let k = k.rem_euclid(len) as usize;
        if k == 0 {
            return x;
        }
        let len = len as usize;
        Tensor::cat(
            vec![x.clone().narrow(dim, len - k, k), x.narrow(dim, 0, len - k)],
            dim,
        )
    };
    let (mut xs, mut ys) = (vec![a.clone()], vec![b.clone()]);
    for _ in 0..augment.copies {
        let (dy, dx) = (rng.random_range(-max..=max), rng.random_range(-max..=max));
        let noise: Vec<f32> = (0..n * c * h * w)
            .map(|_| {
                let v: f32 = StandardNormal.sample(&mut rng);
                v * augment.noise as f32
            })
            .collect();
        let noise = Tensor::<4>::from_data(TensorData::new(noise, [n, c, h, w]), &device);
        xs.push(roll(roll(a.clone(), 2, dy), 3, dx) + noise.clone());
        ys.push(roll(roll(b.clone(), 2, dy), 3, dx) + noise);
    }
    (Tensor::cat(xs, 0), Tensor::cat(ys, 0))
}

fn normal_tensor(rng: &mut StdRng, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

fn clip_device(clip: &Clip) -> Device {
    clip.logit_scale_exp().device()
}

/// `nrm E_T(template_j(class))` for every template, `[T, E]`, detached (official
/// `get_text_features`).
///
/// # Errors
/// No templates, a template without `{}`, an empty class, a text too long for CLIP.
pub fn text_features(
    clip: &Clip,
    tokenizer: &Tokenizer,
    class: &str,
    templates: &[&str],
) -> Result<Tensor<2>> {
    if templates.is_empty() {
        return Err(Error::InvalidArgument("no text templates".into()));
    }
    if class.trim().is_empty() {
        return Err(Error::InvalidArgument("empty class text".into()));
    }
    if let Some(t) = templates.iter().find(|t| !t.contains("{}")) {
        return Err(Error::InvalidArgument(format!(
            "template `{t}` has no `{{}}` for the class"
        )));
    }
    let texts: Vec<String> = templates.iter().map(|t| t.replace("{}", class)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens = tokenizer.tokenize(&refs, &clip_device(clip))?;
    Ok(l2_normalize(clip.encode_text(tokens)).detach())
}

/// Δt = `nrm(mean_j (T_tgt[j] − T_src[j]))` over the 79 ImageNet templates, `[1, E]` (official
/// `compute_text_direction`: each embedding normalised, then the mean of the differences,
/// normalised).
///
/// # Errors
/// An empty class text, a text too long for CLIP.
pub fn text_direction(
    clip: &Clip,
    tokenizer: &Tokenizer,
    source: &str,
    target: &str,
) -> Result<Tensor<2>> {
    text_direction_with_templates(clip, tokenizer, source, target, &IMAGENET_TEMPLATES)
}

/// [`text_direction`] with other templates (each with one `{}`).
///
/// # Errors
/// No templates, a template without `{}`, an empty class text, a text too long for CLIP.
pub fn text_direction_with_templates(
    clip: &Clip,
    tokenizer: &Tokenizer,
    source: &str,
    target: &str,
    templates: &[&str],
) -> Result<Tensor<2>> {
    let s = text_features(clip, tokenizer, source, templates)?;
    let t = text_features(clip, tokenizer, target, templates)?;
    Ok(l2_normalize((t - s).mean_dim(0)))
}

/// `I(x) = nrm(E_I(P(x)))` for generator output `x` in `[-1, 1]` (official
/// `get_image_features`), `[B, E]`.
///
/// # Errors
/// Images that are not `[B, 3, H, W]`.
pub fn image_features(clip: &Clip, input: ClipInput, images: Tensor<4>) -> Result<Tensor<2>> {
    let pixels = crate::edit::clip_pixels(clip, input, images)?;
    Ok(l2_normalize(clip.encode_image(pixels)))
}

/// The image-target direction (official `compute_img2img_direction`): `nrm(mean_t
/// nrm(E_I(target_t)) − mean_b I(source_b))`, `[1, E]`, with `source` generator output in
/// `[-1, 1]` and the targets through CLIP's own preprocessing (official,
/// [`ClipInput::Normalized`]) or, with [`ClipInput::Raw`], through the same path as the source.
///
/// # Errors
/// No targets, source images that are not `[B, 3, H, W]`.
pub fn image_direction(
    clip: &Clip,
    input: ClipInput,
    source: Tensor<4>,
    targets: &[Rgb8],
) -> Result<Tensor<2>> {
    if targets.is_empty() {
        return Err(Error::InvalidArgument("no target images".into()));
    }
    let src = image_features(clip, input, source)?.mean_dim(0);
    let pixels = match input {
        // Official: the target files through CLIP's own preprocessing.
        ClipInput::Normalized => {
            clip_preprocess(targets, clip.config().image_resolution, &clip_device(clip))?
        }
        // A CLIP trained on StyleCLIP's path sees the targets as it sees generator output.
        ClipInput::Raw => {
            let mut rows = Vec::with_capacity(targets.len());
            for t in targets {
                let x = crate::imaging::from_rgb8(std::slice::from_ref(t), &clip_device(clip))?;
                rows.push(crate::edit::clip_pixels(clip, input, x)?);
            }
            Tensor::cat(rows, 0)
        }
    };
    let tgt = l2_normalize(clip.encode_image(pixels)).mean_dim(0);
    Ok(l2_normalize(tgt - src).detach())
}

/// The directional loss (official `clip_directional_loss`) of trainable images `target`
/// against frozen images `source` (both `[B, 3, H, W]` in `[-1, 1]`) for the direction Δt
/// (`[1, E]`), `[1]`. When `Σ (I(target) − I(source))` is exactly 0, `I(target + 1e-6)` is
/// used instead, as the official guard does.
///
/// # Errors
/// Images that are not `[B, 3, H, W]` or differ in shape; a direction that is not `[1, E]`.
pub fn directional_loss(
    clip: &Clip,
    input: ClipInput,
    source: Tensor<4>,
    target: Tensor<4>,
    direction: Tensor<2>,
    kind: DirectionLoss,
) -> Result<Tensor<1>> {
    let e = clip.config().embed_dim;
    if direction.dims() != [1, e] {
        return Err(Error::InvalidArgument(format!(
            "the direction must be [1, {e}], got {:?}",
            direction.dims()
        )));
    }
    if source.dims() != target.dims() {
        return Err(Error::InvalidArgument(format!(
            "source images {:?} and target images {:?} differ in shape",
            source.dims(),
            target.dims()
        )));
    }
    let src = image_features(clip, input, source)?;
    let mut edit = image_features(clip, input, target.clone())? - src.clone();
    if edit.clone().sum().into_scalar::<f32>() == 0.0 {
        edit = image_features(clip, input, target.add_scalar(1e-6))? - src;
    }
    let edit = l2_normalize(edit);
    Ok(match kind {
        DirectionLoss::Cosine => {
            // nn.CosineSimilarity(dim=1, eps=1e-8): x·y / max(‖x‖‖y‖, eps).
            let dot = (edit.clone() * direction.clone()).sum_dim(1);
            let norms =
                edit.powi_scalar(2).sum_dim(1).sqrt() * direction.powi_scalar(2).sum_dim(1).sqrt();
            let cos = dot / norms.clamp_min(1e-8);
            cos.neg().add_scalar(1.0).mean()
        }
        DirectionLoss::Mse => (edit - direction).powi_scalar(2).mean(),
        DirectionLoss::Mae => (edit - direction).abs().mean(),
    })
}

/// The global loss (official `global_clip_loss`): `mean_b (1 − exp(logit_scale)·⟨I(x_b), t⟩ /
/// 100)` for images `x` in `[-1, 1]` and a unit text feature `t` (`[1, E]`), `[1]`.
///
/// # Errors
/// Images that are not `[B, 3, H, W]`; a text feature that is not `[1, E]`.
pub fn global_loss(
    clip: &Clip,
    input: ClipInput,
    images: Tensor<4>,
    text: Tensor<2>,
) -> Result<Tensor<1>> {
    crate::edit::clip_loss(clip, input, images, text)
}

/// The manifold loss's text side (official `set_text_features`): `⟨S̄_tgt, S̄_src⟩`, `[1, 1]`,
/// with `S̄_c = nrm(mean_j T_c[j])` (the mean of the normalised template embeddings,
/// normalised: another order than [`text_direction`]'s).
///
/// # Errors
/// An empty class text, a text too long for CLIP.
pub fn manifold_text(
    clip: &Clip,
    tokenizer: &Tokenizer,
    source: &str,
    target: &str,
    templates: &[&str],
) -> Result<Tensor<2>> {
    let mean = |c: &str| -> Result<Tensor<2>> {
        Ok(l2_normalize(
            text_features(clip, tokenizer, c, templates)?.mean_dim(0),
        ))
    };
    Ok(mean(target)?.matmul(mean(source)?.transpose()).detach())
}

/// The manifold loss (official `clip_angle_loss`): `mean_b |clamp(⟨I(target_b), I(source_b)⟩,
/// ±1) − cos_text|` with `cos_text = ⟨S̄_tgt, S̄_src⟩` (`[1, 1]`), `[1]`.
///
/// # Errors
/// Images that are not `[B, 3, H, W]`.
pub fn manifold_loss(
    clip: &Clip,
    input: ClipInput,
    source: Tensor<4>,
    target: Tensor<4>,
    cos_text: Tensor<2>,
) -> Result<Tensor<1>> {
    let s = image_features(clip, input, source)?;
    let t = image_features(clip, input, target)?;
    let cos = (t * s).sum_dim(1).clamp(-1.0, 1.0);
    Ok((cos - cos_text).abs().mean())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_maps() {
        // 32 px: 8 W+ rows, 6 convs, 3 to_rgbs.
        assert_eq!(
            rows_to_modules(&[0, 1, 2, 7], LayerMap::Official, 8),
            ["conv1", "to_rgb1", "convs.0", "convs.5"]
        );
        assert_eq!(
            rows_to_modules(&[0, 1, 2, 6, 7], LayerMap::Rows, 8),
            ["conv1", "convs.0", "convs.1", "convs.5", "to_rgbs.2"]
        );
    }

    #[test]
    fn trainable_paths() {
        let active = Phase::Texture.modules(6);
        assert!(trains(&active, "convs.2.conv.weight"));
        assert!(!trains(&active, "convs.1.conv.weight"));
        assert!(trains(&active, "input.input"));
        assert!(!trains(&["convs.1".to_string()], "convs.10.conv.weight"));
        assert!(!trains(&Phase::All.modules(6), "noises.0"));
        assert!(Phase::from_name("bogus").is_err());
    }

    #[test]
    fn augmented_pairs_share_their_jitter() {
        let device = Device::flex();
        let a = Tensor::<4>::random([2, 3, 8, 8], burn::tensor::Distribution::Default, &device);
        let b = a.clone().mul_scalar(0.5).add_scalar(0.25);
        let (x, y) = augment_pairs(a.clone(), b.clone(), Augment::default(), 1);
        assert_eq!(y.dims(), [2, 3, 8, 8]);
        assert_eq!(x.dims(), [2, 3, 8, 8]);
        let aug = Augment {
            copies: 3,
            max_shift: 0.25,
            noise: 0.1,
        };
        let (x, y) = augment_pairs(a.clone(), b.clone(), aug, 7);
        assert_eq!(x.dims(), [8, 3, 8, 8]);
        // The first block is the input itself.
        let d0: f32 = (x.clone().narrow(0, 0, 2) - a.clone())
            .abs()
            .max()
            .into_scalar();
        assert_eq!(d0, 0.0);
        // Each copy: one shift for both sides (y − x is the shifted b − a) and pixel noise of
        // the configured std on top of the shifted input.
        let roll = |t: Tensor<4>, dim: usize, s: usize| {
            if s == 0 {
                return t;
            }
            Tensor::cat(
                vec![t.clone().narrow(dim, 8 - s, s), t.narrow(dim, 0, 8 - s)],
                dim,
            )
        };
        let diff = b - a.clone();
        for k in 1..4 {
            let (xk, yk) = (x.clone().narrow(0, 2 * k, 2), y.clone().narrow(0, 2 * k, 2));
            let shift = (0..64).map(|i| (i / 8, i % 8)).find(|&(dy, dx)| {
                let r = roll(roll(diff.clone(), 2, dy), 3, dx);
                let e: f32 = (yk.clone() - xk.clone() - r).abs().max().into_scalar();
                e < 1e-5
            });
            let (dy, dx) = shift.unwrap_or_else(|| panic!("copy {k}: no shared shift"));
            let noise = xk - roll(roll(a.clone(), 2, dy), 3, dx);
            let std: f32 = noise.powi_scalar(2).mean().sqrt().into_scalar();
            assert!((0.07..0.13).contains(&std), "copy {k}: noise std {std}");
        }
    }
}
