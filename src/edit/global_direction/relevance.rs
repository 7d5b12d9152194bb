//! Channel relevance `fs3` (official `global_torch/SingleChannel.py`, identical to
//! `global_directions/SingleChannel.py`): how each StyleSpace channel moves CLIP's image
//! embedding.
//!
//! ```text
//! for each non-ToRGB layer l, each channel c, each of the M first samples s_i:
//!     s_i[l][c] ← μ_c                                   (set to its mean)
//!     x±  = uint8( G(s_i with s[l][c] = μ_c ± 5 σ_c) )  (constant noise)
//!     f±  = E_I(preprocess(x±)) / ‖·‖                    (standard CLIP preprocessing)
//!     d_i = (f+ − f−) / ‖f+ − f−‖
//! fs3_c = mean_i d_i / ‖mean_i d_i‖                      → [C, embed_dim], unit rows
//! ```
//!
//! Official quirks, reproduced by default:
//! - [`ChannelReset::Cumulative`]: `M.dlatents = copy.copy(dlatents_o)` copies the list, not
//!   the arrays, so `M.dlatents[l][:, c] = mean` writes into the shared arrays: once visited, a
//!   channel stays at its mean for every later channel (of its layer and of later layers).
//!   [`ChannelReset::PerChannel`] resets only the channel being measured.
//! - [`Quantize::Truncate`]: the torch code converts with `((x + 1) · 127.5).clamp(0, 255)`
//!   cast to uint8, which truncates; the TF code rounds ([`Quantize::Round`]).
//! - `s = f32(μ + α·σ)` is formed in f64, as NumPy does when it adds the f64 boundary.
//! - The shipped script only visits layers up to 128 px (`mindexs <= 16`), while the released
//!   `fs3.npy` covers all 17 layers; all layers are the default here,
//!   [`RelevanceConfig::with_max_resolution`]`(128)` reproduces the script. Rows of layers left
//!   out are simply absent, and [`super::GlobalDirection::style_delta`] gives them no change, as
//!   `SplitS` does.
//!
//! The work is (channels × M × 2) generator + CLIP forwards ([`RelevanceConfig::cost`]), run in
//! batches that mix channels and images. With a checkpoint path, finished channels are saved
//! every [`RelevanceConfig::with_checkpoint_every`] channels (atomically, through a rename);
//! a restart with the same inputs continues where the file ends, and a finished checkpoint is a
//! normal relevance file. The progress callback may return `ControlFlow::Break(())` to stop
//! after the current channel: the checkpoint is saved and a partial [`Relevance`] returned
//! ([`Relevance::is_complete`] is false).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use burn::prelude::*;

use super::stats::StyleStats;
use super::{FNV_START, eta, fnv1a, host, write_f32_safetensors};
use crate::clip::Clip;
use crate::clip::preprocess::clip_preprocess;
use crate::edit::optimization::ObserverResult;
use crate::error::{Error, Result};
use crate::imaging::Rgb8;
use crate::stylegan2::{Generator, LayerKind, NoiseMode, StyleCode};
use crate::weights::TensorFile;

/// Generator output to uint8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantize {
    /// `global_torch`: `u8(clamp((x + 1) · 127.5, 0, 255))`, truncating.
    #[default]
    Truncate,
    /// `global_directions` (TF `convert_images_to_uint8`): `u8(clip(x · 127.5 + 128, 0, 255))`,
    /// i.e. rounding.
    Round,
}

/// Which channels sit at their mean while one channel is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelReset {
    /// Official: every channel visited so far (shallow-copy quirk).
    #[default]
    Cumulative,
    /// Only the channel being measured (what the paper describes).
    PerChannel,
}

/// Up-front cost of a relevance run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Style layers measured.
    pub layers: usize,
    /// Channels measured (rows of `fs3`).
    pub channels: usize,
    /// Images per channel.
    pub images: usize,
    /// Generator forwards (images generated): `channels · images · 2`.
    pub generator_forwards: usize,
    /// CLIP image forwards, equal to the generator's.
    pub clip_forwards: usize,
}

/// Progress of a relevance run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelevanceProgress {
    /// Channels finished, including those loaded from a checkpoint.
    pub done: usize,
    /// Channels in all.
    pub total: usize,
    /// Channels that were already in the checkpoint at the start.
    pub resumed: usize,
    /// Time since this run started.
    pub elapsed: Duration,
    /// Estimated time left, from this run's rate (`None` before the first channel).
    pub eta: Option<Duration>,
}

/// Settings of a relevance run (official: 100 images, α ±5, all layers).
#[derive(Debug, Clone)]
pub struct RelevanceConfig {
    images: usize,
    alpha: f64,
    max_resolution: Option<usize>,
    quantize: Quantize,
    reset: ChannelReset,
    batch_size: usize,
    checkpoint_every: usize,
}

impl RelevanceConfig {
    /// `images` samples per channel (official 100), α = ±5, every layer, batches of 8.
    pub fn new(images: usize) -> Self {
        Self {
            images,
            alpha: 5.0,
            max_resolution: None,
            quantize: Quantize::Truncate,
            reset: ChannelReset::Cumulative,
            batch_size: 8,
            checkpoint_every: 64,
        }
    }

    /// The channel goes to `μ ± alpha·σ` (official 5).
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Only measure layers of at most this resolution (the shipped script: 128).
    pub fn with_max_resolution(mut self, max_resolution: Option<usize>) -> Self {
        self.max_resolution = max_resolution;
        self
    }

    /// uint8 conversion (default: the torch code's truncation).
    pub fn with_quantize(mut self, quantize: Quantize) -> Self {
        self.quantize = quantize;
        self
    }

    /// Cumulative (official) or per-channel reset to the mean.
    pub fn with_channel_reset(mut self, reset: ChannelReset) -> Self {
        self.reset = reset;
        self
    }

    /// Images per generator/CLIP batch (results do not depend on it).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Save the checkpoint after this many finished channels (default 64).
    pub fn with_checkpoint_every(mut self, channels: usize) -> Self {
        self.checkpoint_every = channels.max(1);
        self
    }

    /// The style layers measured (non-ToRGB, within the resolution cap), official order.
    fn layers(&self, g: &Generator) -> Vec<usize> {
        g.style_layers()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == LayerKind::Conv)
            .filter(|(_, l)| self.max_resolution.is_none_or(|r| l.resolution <= r))
            .map(|(j, _)| j)
            .collect()
    }

    /// What the run will cost on this generator, before running it.
    pub fn cost(&self, g: &Generator) -> Cost {
        let layers = self.layers(g);
        let channels = layers.iter().map(|&j| g.style_layers()[j].channels).sum();
        let forwards = channels * self.images * 2;
        Cost {
            layers: layers.len(),
            channels,
            images: self.images,
            generator_forwards: forwards,
            clip_forwards: forwards,
        }
    }

    /// Run on the statistics' first `images` samples (see [`StyleStats::sample_styles`]).
    pub fn compute<R: ObserverResult>(
        &self,
        g: &Generator,
        clip: &Clip,
        stats: &StyleStats,
        checkpoint: Option<&Path>,
        progress: impl FnMut(RelevanceProgress) -> R,
    ) -> Result<Relevance> {
        let base = stats.sample_styles(g, self.images, &g.device())?;
        self.compute_for_styles(g, clip, stats, &base, checkpoint, progress)
    }

    /// Run on given base style codes (`[images, ·]` per layer).
    pub fn compute_for_styles<R: ObserverResult>(
        &self,
        g: &Generator,
        clip: &Clip,
        stats: &StyleStats,
        base: &StyleCode,
        checkpoint: Option<&Path>,
        mut progress: impl FnMut(RelevanceProgress) -> R,
    ) -> Result<Relevance> {
        stats.check(g)?;
        if self.images == 0 || self.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "relevance needs at least one image and a positive batch size".into(),
            ));
        }
        if !self.alpha.is_finite() || self.alpha == 0.0 {
            return Err(Error::InvalidArgument(format!(
                "relevance α must be finite and non-zero, got {}",
                self.alpha
            )));
        }
        if base.info() != g.style_layers() || base.batch_size() != self.images {
            return Err(Error::InvalidArgument(format!(
                "base style codes must be {} codes of this generator, got {}",
                self.images,
                base.batch_size()
            )));
        }
        let device = g.device();
        let info = g.style_layers();
        let base: Vec<Vec<f32>> = base
            .layers()
            .iter()
            .map(|t| host(t.clone()))
            .collect::<Result<_>>()?;
        let layers = self.layers(g);
        let layer_channels: Vec<usize> = layers.iter().map(|&j| info[j].channels).collect();
        let total: usize = layer_channels.iter().sum();
        // (style layer, channel) of every row.
        let rows: Vec<(usize, usize)> = layers
            .iter()
            .flat_map(|&j| (0..info[j].channels).map(move |c| (j, c)))
            .collect();
        let dim = clip.config().embed_dim;
        let fingerprint = self.fingerprint(&base, stats, &layer_channels, dim);

        let mut fs3: Vec<f32> = Vec::with_capacity(total * dim);
        if let Some(path) = checkpoint.filter(|p| p.exists()) {
            let r = Relevance::load(path)?;
            if r.fingerprint.as_deref() != Some(fingerprint.as_str()) || r.dim != dim {
                return Err(Error::InvalidArgument(format!(
                    "checkpoint {} was written by a run with other inputs or settings; delete it \
                     or choose another path",
                    path.display()
                )));
            }
            fs3 = r.values;
        }
        let resumed = fs3.len() / dim;
        let start = Instant::now();
        let report = |done: usize| RelevanceProgress {
            done,
            total,
            resumed,
            elapsed: start.elapsed(),
            eta: eta(start.elapsed(), done - resumed, total - resumed),
        };
        let save = |fs3: &[f32], done: usize| -> Result<()> {
            match checkpoint {
                Some(path) => Relevance {
                    values: fs3.to_vec(),
                    rows: done,
                    dim,
                    layer_channels: Some(layer_channels.clone()),
                    total: Some(total),
                    fingerprint: Some(fingerprint.clone()),
                }
                .save(path),
                None => Ok(()),
            }
        };

        let partial = |values: Vec<f32>, rows: usize| Relevance {
            values,
            rows,
            dim,
            layer_channels: Some(layer_channels.clone()),
            total: Some(total),
            fingerprint: Some(fingerprint.clone()),
        };

        if progress(report(resumed)).stop() {
            return Ok(partial(fs3, resumed));
        }

        let m = self.images;
        let per_channel = 2 * m;
        let items = (total - resumed) * per_channel;
        let mut acc = ChannelAcc::new(dim);
        let mut since_save = 0;
        let mut item = 0;
        while item < items {
            let n = self.batch_size.min(items - item);
            let code = self.batch_code(g, stats, &base, &rows, resumed, item, n, &device)?;
            let images = g.synthesis_from_styles(&code, NoiseMode::Const);
            let pixels = clip_preprocess(
                &self.quantize_images(images)?,
                clip.config().image_resolution,
                &device,
            )?;
            let feats = host(clip.encode_image(pixels))?;
            for f in feats.chunks_exact(dim) {
                if let Some(row) = acc.push(f, m)? {
                    fs3.extend(row);
                    since_save += 1;
                    let done = fs3.len() / dim;
                    if since_save >= self.checkpoint_every && done < total {
                        save(&fs3, done)?;
                        since_save = 0;
                    }
                    if progress(report(done)).stop() {
                        save(&fs3, done)?;
                        return Ok(partial(fs3, done));
                    }
                }
            }
            item += n;
        }
        save(&fs3, total)?;
        Ok(partial(fs3, total))
    }

    /// The style codes of work items `first .. first + n` (item = (row, image, ∓)).
    #[allow(clippy::too_many_arguments)]
    fn batch_code(
        &self,
        g: &Generator,
        stats: &StyleStats,
        base: &[Vec<f32>],
        rows: &[(usize, usize)],
        resumed: usize,
        first: usize,
        n: usize,
        device: &Device,
    ) -> Result<StyleCode> {
        let info = g.style_layers();
        let m = self.images;
        let mut data: Vec<Vec<f32>> = info
            .iter()
            .map(|l| Vec::with_capacity(n * l.channels))
            .collect();
        for k in first..first + n {
            let (row, rest) = (resumed + k / (2 * m), k % (2 * m));
            let (image, sign) = (rest / 2, if rest % 2 == 0 { -1.0 } else { 1.0 });
            let (lc, cc) = rows[row];
            for (j, l) in info.iter().enumerate() {
                let c = l.channels;
                let start = data[j].len();
                data[j].extend_from_slice(&base[j][image * c..(image + 1) * c]);
                let out = &mut data[j][start..];
                if self.reset == ChannelReset::Cumulative && l.kind == LayerKind::Conv {
                    // Channels visited before (lc, cc) in the official order sit at their mean.
                    // Measured layers are a prefix of the conv layers, so every conv layer
                    // before `lc` has been visited in full.
                    let upto = if j < lc {
                        c
                    } else if j == lc {
                        cc
                    } else {
                        0
                    };
                    out[..upto].copy_from_slice(&stats.mean(j)[..upto]);
                }
                if j == lc {
                    let (mu, sd) = (stats.mean(j)[cc] as f64, stats.std(j)[cc] as f64);
                    out[cc] = (mu + sign * self.alpha * sd) as f32;
                }
            }
        }
        let tensors = data
            .into_iter()
            .zip(info)
            .map(|(v, l)| Tensor::from_data(TensorData::new(v, [n, l.channels]), device))
            .collect();
        g.style_code(tensors)
    }

    fn quantize_images(&self, images: Tensor<4>) -> Result<Vec<Rgb8>> {
        let [b, c, h, w] = images.dims();
        if c != 3 {
            return Err(Error::InvalidArgument(format!(
                "expected RGB images, got {c} channels"
            )));
        }
        let v = host(images.permute([0, 2, 3, 1]))?;
        let q = self.quantize;
        Ok(v.chunks_exact(h * w * 3)
            .take(b)
            .map(|img| Rgb8 {
                width: w,
                height: h,
                data: img
                    .iter()
                    .map(|&x| match q {
                        // `as u8` saturates and truncates toward zero, as torch's and numpy's casts
                        // do on the clamped value.
                        Quantize::Truncate => ((x + 1.0) * 127.5).clamp(0.0, 255.0) as u8,
                        Quantize::Round => (x * 127.5 + 128.0).clamp(0.0, 255.0) as u8,
                    })
                    .collect(),
            })
            .collect())
    }

    fn fingerprint(
        &self,
        base: &[Vec<f32>],
        stats: &StyleStats,
        layer_channels: &[usize],
        dim: usize,
    ) -> String {
        let mut h = FNV_START;
        for (j, b) in base.iter().enumerate() {
            h = fnv1a(h, b);
            h = fnv1a(h, stats.mean(j));
            h = fnv1a(h, stats.std(j));
        }
        format!(
            "images={} alpha={} quantize={:?} reset={:?} layers={:?} dim={} inputs={:016x}",
            self.images, self.alpha, self.quantize, self.reset, layer_channels, dim, h
        )
    }
}

/// Folds the CLIP features of one channel's (image, ∓) items, in order, into its fs3 row.
struct ChannelAcc {
    dim: usize,
    minus: Option<Vec<f64>>,
    sum: Vec<f64>,
    images: usize,
}

impl ChannelAcc {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            minus: None,
            sum: vec![0.0; dim],
            images: 0,
        }
    }

    fn unit(f: &[f32]) -> Result<Vec<f64>> {
        let v: Vec<f64> = f.iter().map(|&x| x as f64).collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(n.is_finite() && n > 0.0) {
            return Err(Error::InvalidArgument(
                "a CLIP feature (or a feature difference) is zero or not finite".into(),
            ));
        }
        Ok(v.into_iter().map(|x| x / n).collect())
    }

    /// Push one feature; returns the finished row after the last item of a channel.
    fn push(&mut self, f: &[f32], m: usize) -> Result<Option<Vec<f32>>> {
        let unit = Self::unit(f)?;
        let Some(minus) = self.minus.take() else {
            self.minus = Some(unit);
            return Ok(None);
        };
        // Official `GetFs` works in f32; each normalised difference is rounded to f32 there.
        let diff: Vec<f32> = unit
            .iter()
            .zip(&minus)
            .map(|(p, q)| (p - q) as f32)
            .collect();
        for (s, d) in self.sum.iter_mut().zip(Self::unit(&diff)?) {
            *s += d;
        }
        self.images += 1;
        if self.images < m {
            return Ok(None);
        }
        let mean: Vec<f32> = self.sum.iter().map(|s| (s / m as f64) as f32).collect();
        let row = Self::unit(&mean)?.into_iter().map(|x| x as f32).collect();
        self.sum = vec![0.0; self.dim];
        self.images = 0;
        Ok(Some(row))
    }
}

/// Per-channel relevance `fs3`: `[rows, embed_dim]`, one unit row per non-ToRGB channel, in the
/// official order (layers as `Generator::style_layers()`, ToRGB skipped).
#[derive(Debug, Clone)]
pub struct Relevance {
    values: Vec<f32>,
    rows: usize,
    dim: usize,
    layer_channels: Option<Vec<usize>>,
    total: Option<usize>,
    fingerprint: Option<String>,
}

const FORMAT: &str = "styleclip-fs3/1";

impl Relevance {
    /// Official relevance on the statistics' first `images` samples (official 100): all
    /// non-ToRGB layers, α ±5. [`RelevanceConfig`] has the other settings and the resumable run.
    pub fn compute<R: ObserverResult>(
        g: &Generator,
        clip: &Clip,
        stats: &StyleStats,
        images: usize,
        progress: impl FnMut(RelevanceProgress) -> R,
    ) -> Result<Self> {
        RelevanceConfig::new(images).compute(g, clip, stats, None, progress)
    }

    /// Like [`Relevance::compute`], saving finished channels to `checkpoint` (safetensors) and
    /// continuing from it when it exists.
    pub fn compute_resumable<R: ObserverResult>(
        g: &Generator,
        clip: &Clip,
        stats: &StyleStats,
        images: usize,
        checkpoint: impl AsRef<Path>,
        progress: impl FnMut(RelevanceProgress) -> R,
    ) -> Result<Self> {
        RelevanceConfig::new(images).compute(g, clip, stats, Some(checkpoint.as_ref()), progress)
    }

    /// From row-major values `[rows, dim]` (e.g. computed elsewhere).
    pub fn from_values(values: Vec<f32>, rows: usize, dim: usize) -> Result<Self> {
        if rows == 0 || dim == 0 || rows.checked_mul(dim) != Some(values.len()) {
            return Err(Error::ShapeMismatch {
                key: "fs3".into(),
                expected: vec![rows, dim],
                found: vec![values.len()],
            });
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(
                "fs3 contains NaN or infinite values".into(),
            ));
        }
        Ok(Self {
            values,
            rows,
            dim,
            layer_channels: None,
            total: None,
            fingerprint: None,
        })
    }

    /// The officially released `fs3.npy` (float32 `[6048, 512]` for FFHQ 1024), or any 2-D
    /// float `.npy`.
    pub fn load_npy(path: impl AsRef<Path>) -> Result<Self> {
        let file = TensorFile::open(path.as_ref())?;
        let key = "array";
        if !file.contains(key) {
            return Err(Error::NotACheckpoint {
                path: path.as_ref().to_path_buf(),
                reason: "not a .npy file".into(),
            });
        }
        let (values, shape) = file.read_f32(key)?;
        match shape.as_slice() {
            &[rows, dim] => Self::from_values(values, rows, dim),
            _ => Err(Error::ShapeMismatch {
                key: format!("fs3 in {}", path.as_ref().display()),
                expected: vec![6048, 512],
                found: shape,
            }),
        }
    }

    /// Load a file written by [`Relevance::save`] (or a finished checkpoint); a `.npy` file is
    /// read with [`Relevance::load_npy`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = TensorFile::open(path)?;
        if file.contains("array") && file.keys().len() == 1 {
            return Self::load_npy(path);
        }
        let meta = file.metadata();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(Error::NotACheckpoint {
                path: path.to_path_buf(),
                reason: format!("not a styleclip relevance file ({FORMAT})"),
            });
        }
        let (values, shape) = file.read_f32("fs3")?;
        let (rows, dim) = match shape.as_slice() {
            &[r, d] => (r, d),
            _ => {
                return Err(Error::ShapeMismatch {
                    key: "fs3".into(),
                    expected: vec![0, 0],
                    found: shape,
                });
            }
        };
        let mut r = if rows == 0 {
            Self {
                values,
                rows,
                dim,
                layer_channels: None,
                total: None,
                fingerprint: None,
            }
        } else {
            Self::from_values(values, rows, dim)?
        };
        r.layer_channels = meta
            .get("layer_channels")
            .and_then(|s| serde_json::from_str(s).ok());
        r.total = meta.get("total").and_then(|s| s.parse().ok());
        r.fingerprint = meta.get("fingerprint").cloned();
        Ok(r)
    }

    /// Save as safetensors (`fs3` `[rows, dim]` f32, layer sizes in the metadata).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
        if let Some(lc) = &self.layer_channels {
            meta.insert("layer_channels".into(), format!("{lc:?}"));
        }
        if let Some(t) = self.total {
            meta.insert("total".into(), t.to_string());
        }
        if let Some(f) = &self.fingerprint {
            meta.insert("fingerprint".into(), f.clone());
        }
        write_f32_safetensors(
            path.as_ref(),
            &[("fs3".into(), vec![self.rows, self.dim], &self.values)],
            meta,
        )
    }

    /// Rows (channels covered).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Embedding size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row-major values `[rows, dim]`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Whether every channel of the run is present (always true except for a partial
    /// checkpoint).
    pub fn is_complete(&self) -> bool {
        self.total.is_none_or(|t| t == self.rows)
    }

    /// As a tensor `[rows, dim]`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), [self.rows, self.dim]),
            device,
        )
    }
}
