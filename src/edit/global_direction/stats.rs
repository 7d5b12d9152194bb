//! StyleSpace statistics: the mean and standard deviation of every style channel over sampled
//! latents (official `GenerateS` + `GetCodeMS`, `global_torch/manipulate.py`; `GetCode.py` for
//! TF).
//!
//! ```text
//! z_n ~ N(0, I)  (n < N, seed)       w_n = mapping(z_n)       w̃_n = w̄ + ψ (w_n − w̄)
//! W+ rows: torch variant  [w̃_n] × cutoff ++ [w_n] × (n_latent − cutoff)
//!          TF variant     [w̃_n] × n_latent   (the TF code keeps row 0 and tiles it)
//! μ_c = mean_n s_c(W+_n),   σ_c = sqrt(mean_n (s_c − μ_c)²)   (population std, as numpy)
//! ```
//!
//! Official settings: N = 100 000, seed 5, ψ 0.7, cutoff 8. Latents are streamed in batches
//! and folded into per-channel f64 running moments (Chan's parallel Welford update), so no
//! N × 9088 matrix is ever held. The truncation centre is the checkpoint's `latent_avg` (the
//! NVlabs `w_avg`/`dlatent_avg` the official code uses) or, without one, `mean_latent(4096)`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::{eta, host, write_f32_safetensors};
use crate::error::{Error, Result};
use crate::stylegan2::{Generator, LayerKind, StyleCode, StyleLayer};
use crate::weights::TensorFile;

/// Which official W+ the samples get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncationVariant {
    /// `global_torch`: `G.mapping(z, truncation_psi, truncation_cutoff)`; rows `< cutoff` are
    /// truncated, the others are the raw w.
    #[default]
    Torch,
    /// `global_directions` (TF): row 0 of the truncated W+ is kept and tiled over every row, so
    /// all rows are truncated.
    Tf,
}

impl TruncationVariant {
    fn name(self) -> &'static str {
        match self {
            Self::Torch => "torch",
            Self::Tf => "tf",
        }
    }
}

/// Progress of a statistics run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsProgress {
    /// Latents done.
    pub done: usize,
    /// Latents in all.
    pub total: usize,
    /// Time since the start.
    pub elapsed: Duration,
    /// Estimated time left (`None` before the first batch).
    pub eta: Option<Duration>,
}

/// How to sample the latents (official defaults: seed 5, ψ 0.7, cutoff 8, torch variant).
#[derive(Debug, Clone)]
pub struct StatsConfig {
    n: usize,
    seed: u64,
    psi: f64,
    cutoff: usize,
    variant: TruncationVariant,
    batch_size: usize,
    center: Option<Tensor<1>>,
}

impl StatsConfig {
    /// `n` latents from `seed`, official ψ 0.7, cutoff 8, torch variant, batches of 1000.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            psi: 0.7,
            cutoff: 8,
            variant: TruncationVariant::Torch,
            batch_size: 1000,
            center: None,
        }
    }

    /// Truncation ψ (official 0.7).
    pub fn with_psi(mut self, psi: f64) -> Self {
        self.psi = psi;
        self
    }

    /// Truncation cutoff: W+ rows below it are truncated (official 8).
    pub fn with_cutoff(mut self, cutoff: usize) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// Torch (default) or TF W+ construction.
    pub fn with_variant(mut self, variant: TruncationVariant) -> Self {
        self.variant = variant;
        self
    }

    /// Latents per generator batch (official 1000; results do not depend on it).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Truncation centre `w̄` (`[style_dim]`), instead of the generator's `latent_avg` or its
    /// `mean_latent(4096, seed)`.
    pub fn with_truncation_center(mut self, center: Tensor<1>) -> Self {
        self.center = Some(center);
        self
    }

    fn check(&self, g: &Generator, device: &Device) -> Result<()> {
        if *device != g.device() {
            return Err(Error::InvalidArgument(format!(
                "statistics must be sampled on the generator's device ({:?}), got {device:?}",
                g.device()
            )));
        }
        if self.n == 0 || self.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "statistics need at least one latent and a positive batch size".into(),
            ));
        }
        if !(self.psi.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "truncation ψ must be finite, got {}",
                self.psi
            )));
        }
        if let Some(c) = &self.center
            && c.dims()[0] != g.config().style_dim
        {
            return Err(Error::ShapeMismatch {
                key: "truncation centre".into(),
                expected: vec![g.config().style_dim],
                found: c.dims().to_vec(),
            });
        }
        Ok(())
    }

    fn center(&self, g: &Generator) -> Tensor<1> {
        self.center
            .clone()
            .or_else(|| g.latent_avg())
            .unwrap_or_else(|| g.mean_latent(4096, self.seed))
    }

    /// The W+ of this recipe for given z `[B, style_dim]` and truncation centre `[style_dim]`:
    /// `[B, n_latent, style_dim]`.
    ///
    /// # Panics
    /// If `z` is not `[B, style_dim]` or `center` not `[style_dim]` (burn's matmul/broadcast
    /// assertions); [`StatsConfig::sample_styles`] and [`StatsConfig::compute`] draw `z`
    /// themselves and check the centre.
    pub fn w_plus(&self, g: &Generator, z: Tensor<2>, center: &Tensor<1>) -> Tensor<3> {
        let w = g.mapping(z);
        let wt = g.truncate(w.clone(), self.psi, center.clone());
        let n = g.config().n_latent();
        let k = self.cutoff.min(n);
        match self.variant {
            TruncationVariant::Tf => g.broadcast(wt),
            TruncationVariant::Torch if k == n => g.broadcast(wt),
            TruncationVariant::Torch if k == 0 => g.broadcast(w),
            TruncationVariant::Torch => Tensor::cat(
                vec![
                    wt.unsqueeze_dim::<3>(1).repeat_dim(1, k),
                    w.unsqueeze_dim::<3>(1).repeat_dim(1, n - k),
                ],
                1,
            ),
        }
    }

    /// The style codes of the first `count` samples (the images the relevance uses), computed
    /// exactly as during the statistics run. `z` is the stream of
    /// [`Generator::sample_z`]`(n, seed)`.
    pub fn sample_styles(&self, g: &Generator, count: usize, device: &Device) -> Result<StyleCode> {
        self.check(g, device)?;
        if count == 0 {
            return Err(Error::InvalidArgument("no samples requested".into()));
        }
        let center = self.center(g).to_device(device);
        let d = g.config().style_dim;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let z = draw(&mut rng, count * d, d, device);
        Ok(g.styles(self.w_plus(g, z, &center)))
    }

    /// Stream the latents through the generator and return the per-channel statistics.
    /// `device` must be the generator's.
    pub fn compute(
        &self,
        g: &Generator,
        device: &Device,
        mut progress: impl FnMut(StatsProgress),
    ) -> Result<StyleStats> {
        self.check(g, device)?;
        let start = Instant::now();
        let center = self.center(g).to_device(device);
        let d = g.config().style_dim;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut acc = StatsAccumulator::new(g.style_layers());
        let mut done = 0;
        while done < self.n {
            let b = self.batch_size.min(self.n - done);
            let z = draw(&mut rng, b * d, d, device);
            acc.add(&g.styles(self.w_plus(g, z, &center)))?;
            done += b;
            let elapsed = start.elapsed();
            progress(StatsProgress {
                done,
                total: self.n,
                elapsed,
                eta: eta(elapsed, done, self.n),
            });
        }
        let mut stats = acc.finish()?;
        stats.recipe = Some(Recipe {
            config: self.clone(),
            center: host(center)?,
        });
        Ok(stats)
    }
}

fn draw(rng: &mut StdRng, n: usize, d: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Tensor::from_data(TensorData::new(v, [n / d, d]), device)
}

/// How the statistics were sampled, kept so that the relevance can regenerate its images.
#[derive(Debug, Clone)]
struct Recipe {
    config: StatsConfig,
    center: Vec<f32>,
}

/// Running per-channel mean and M2 (sum of squared deviations), in f64.
#[derive(Debug, Clone)]
pub struct StatsAccumulator {
    layers: Vec<StyleLayer>,
    count: usize,
    mean: Vec<Vec<f64>>,
    m2: Vec<Vec<f64>>,
}

impl StatsAccumulator {
    /// Empty moments for these style layers (`Generator::style_layers()`).
    pub fn new(layers: &[StyleLayer]) -> Self {
        Self {
            layers: layers.to_vec(),
            count: 0,
            mean: layers.iter().map(|l| vec![0.0; l.channels]).collect(),
            m2: layers.iter().map(|l| vec![0.0; l.channels]).collect(),
        }
    }

    /// Fold in a batch of style codes.
    pub fn add(&mut self, styles: &StyleCode) -> Result<()> {
        if styles.info() != self.layers.as_slice() {
            return Err(Error::InvalidArgument(
                "style code layout differs from the statistics' generator".into(),
            ));
        }
        let nb = styles.batch_size();
        if nb == 0 {
            return Ok(());
        }
        let n = self.count as f64;
        let m = nb as f64;
        for (j, t) in styles.layers().iter().enumerate() {
            let v = host(t.clone())?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "style layer {j} has non-finite values"
                )));
            }
            let c = self.layers[j].channels;
            for ch in 0..c {
                let bm = (0..nb).map(|i| v[i * c + ch] as f64).sum::<f64>() / m;
                let bm2: f64 = (0..nb).map(|i| (v[i * c + ch] as f64 - bm).powi(2)).sum();
                let delta = bm - self.mean[j][ch];
                self.mean[j][ch] += delta * m / (n + m);
                self.m2[j][ch] += bm2 + delta * delta * n * m / (n + m);
            }
        }
        self.count += nb;
        Ok(())
    }

    /// The mean and population std of everything added.
    pub fn finish(self) -> Result<StyleStats> {
        if self.count == 0 {
            return Err(Error::InvalidArgument(
                "no style codes were added to the statistics".into(),
            ));
        }
        let n = self.count as f64;
        Ok(StyleStats {
            mean: self
                .mean
                .iter()
                .map(|l| l.iter().map(|&v| v as f32).collect())
                .collect(),
            std: self
                .m2
                .iter()
                .map(|l| l.iter().map(|&v| (v / n).sqrt() as f32).collect())
                .collect(),
            layers: self.layers,
            count: self.count,
            recipe: None,
        })
    }
}

/// Per-channel mean and std of every style layer (official `code_mean`, `code_std`).
#[derive(Debug, Clone)]
pub struct StyleStats {
    mean: Vec<Vec<f32>>,
    std: Vec<Vec<f32>>,
    layers: Vec<StyleLayer>,
    count: usize,
    recipe: Option<Recipe>,
}

const FORMAT: &str = "styleclip-style-stats/1";

impl StyleStats {
    /// Official statistics: `n` latents from `seed` (official 100 000 and 5), ψ 0.7, cutoff 8,
    /// torch variant. See [`StatsConfig`] for the other settings.
    pub fn compute(
        g: &Generator,
        n: usize,
        seed: u64,
        device: &Device,
        progress: impl FnMut(StatsProgress),
    ) -> Result<Self> {
        StatsConfig::new(n, seed).compute(g, device, progress)
    }

    /// Statistics from given means and stds (e.g. the official `S_mean_std` pickle, converted),
    /// one vector per style layer.
    pub fn from_parts(
        layers: &[StyleLayer],
        mean: Vec<Vec<f32>>,
        std: Vec<Vec<f32>>,
        count: usize,
    ) -> Result<Self> {
        let ok = mean.len() == layers.len()
            && std.len() == layers.len()
            && layers
                .iter()
                .zip(mean.iter().zip(&std))
                .all(|(l, (m, s))| m.len() == l.channels && s.len() == l.channels);
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "statistics need one mean and one std vector per style layer ({} layers)",
                layers.len()
            )));
        }
        if mean.iter().chain(&std).flatten().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(
                "statistics contain NaN or infinite values".into(),
            ));
        }
        Ok(Self {
            mean,
            std,
            layers: layers.to_vec(),
            count,
            recipe: None,
        })
    }

    /// Per-channel means of style layer `j`.
    pub fn mean(&self, j: usize) -> &[f32] {
        &self.mean[j]
    }

    /// Per-channel population stds of style layer `j`.
    pub fn std(&self, j: usize) -> &[f32] {
        &self.std[j]
    }

    /// The layers these statistics describe.
    pub fn layers(&self) -> &[StyleLayer] {
        &self.layers
    }

    /// How many latents went in.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The sampling settings, when the statistics were computed (or loaded) with a recipe.
    pub fn config(&self) -> Option<&StatsConfig> {
        self.recipe.as_ref().map(|r| &r.config)
    }

    /// The style codes of the first `count` samples of the statistics run (official
    /// `M.dlatents[i][0:count]`), truncated with the same centre.
    pub fn sample_styles(&self, g: &Generator, count: usize, device: &Device) -> Result<StyleCode> {
        self.check(g)?;
        let r = self.recipe.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "these statistics carry no sampling recipe (built from parts or an accumulator): \
                 pass the base style codes explicitly"
                    .into(),
            )
        })?;
        let d = r.center.len();
        let center = Tensor::from_data(TensorData::new(r.center.clone(), [d]), device);
        r.config
            .clone()
            .with_truncation_center(center)
            .sample_styles(g, count, device)
    }

    /// Check that these statistics belong to a generator with `g`'s style layers.
    pub fn check(&self, g: &Generator) -> Result<()> {
        if self.layers.as_slice() != g.style_layers() {
            let ch = |l: &[StyleLayer]| l.iter().map(|l| l.channels).collect::<Vec<_>>();
            return Err(Error::InvalidArgument(format!(
                "the statistics were computed for another generator: style channels {:?}, this \
                 generator has {:?}",
                ch(&self.layers),
                ch(g.style_layers())
            )));
        }
        Ok(())
    }

    /// Zero-or-std vectors as a batch-1 [`StyleCode`] on `device` (helper for deltas).
    pub(crate) fn code_from(&self, layers: Vec<Vec<f32>>, device: &Device) -> Result<StyleCode> {
        let tensors = layers
            .into_iter()
            .map(|v| {
                let c = v.len();
                Tensor::from_data(TensorData::new(v, [1, c]), device)
            })
            .collect();
        StyleCode::new(tensors, Arc::from(self.layers.clone()))
    }

    /// Save as safetensors (`mean.{j}`, `std.{j}`, the recipe in the metadata).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
        for (j, (m, s)) in self.mean.iter().zip(&self.std).enumerate() {
            tensors.push((format!("mean.{j}"), vec![m.len()], m));
            tensors.push((format!("std.{j}"), vec![s.len()], s));
        }
        let mut meta = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("count".to_string(), self.count.to_string()),
            (
                "layers".to_string(),
                serde_json::to_string(&self.layers.iter().map(layer_json).collect::<Vec<_>>())
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?,
            ),
        ]);
        if let Some(r) = &self.recipe {
            let c = &r.config;
            meta.insert(
                "recipe".into(),
                serde_json::json!({
                    "n": c.n, "seed": c.seed, "psi": c.psi, "cutoff": c.cutoff,
                    "variant": c.variant.name(), "batch_size": c.batch_size,
                })
                .to_string(),
            );
            tensors.push(("truncation_center".into(), vec![r.center.len()], &r.center));
        }
        write_f32_safetensors(path, &tensors, meta)
    }

    /// Load statistics saved by [`StyleStats::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = TensorFile::open(path)?;
        let bad = |reason: String| Error::NotACheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let meta = file.metadata();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!("not a styleclip statistics file ({FORMAT})")));
        }
        let layers: Vec<serde_json::Value> = meta
            .get("layers")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("no layer list in the metadata".into()))?;
        let layers = layers
            .iter()
            .map(layer_from_json)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("bad layer list in the metadata".into()))?;
        let count = meta
            .get("count")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no count in the metadata".into()))?;
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for j in 0..layers.len() {
            mean.push(file.read_f32(&format!("mean.{j}"))?.0);
            std.push(file.read_f32(&format!("std.{j}"))?.0);
        }
        let mut stats = Self::from_parts(&layers, mean, std, count)?;
        if let Some(r) = meta.get("recipe") {
            let v: serde_json::Value =
                serde_json::from_str(r).map_err(|e| bad(format!("bad recipe: {e}")))?;
            let get = |k: &str| v.get(k).ok_or_else(|| bad(format!("recipe has no `{k}`")));
            let int = |k: &str| get(k).and_then(|x| x.as_u64().ok_or_else(|| bad(k.into())));
            let config = StatsConfig {
                n: int("n")? as usize,
                seed: int("seed")?,
                psi: get("psi")?.as_f64().ok_or_else(|| bad("psi".into()))?,
                cutoff: int("cutoff")? as usize,
                variant: match get("variant")?.as_str() {
                    Some("tf") => TruncationVariant::Tf,
                    _ => TruncationVariant::Torch,
                },
                batch_size: int("batch_size")? as usize,
                center: None,
            };
            let center = file.read_f32("truncation_center")?.0;
            stats.recipe = Some(Recipe { config, center });
        }
        Ok(stats)
    }
}

fn layer_json(l: &StyleLayer) -> serde_json::Value {
    let kind = match l.kind {
        LayerKind::Conv => "conv",
        LayerKind::ToRgb => "to_rgb",
    };
    serde_json::json!([kind, l.resolution, l.channels, l.w_index])
}

fn layer_from_json(v: &serde_json::Value) -> Option<StyleLayer> {
    let a = v.as_array()?;
    let kind = match a.first()?.as_str()? {
        "conv" => LayerKind::Conv,
        "to_rgb" => LayerKind::ToRgb,
        _ => return None,
    };
    let n = |i: usize| a.get(i)?.as_u64().map(|x| x as usize);
    Some(StyleLayer {
        kind,
        resolution: n(1)?,
        channels: n(2)?,
        w_index: n(3)?,
    })
}
