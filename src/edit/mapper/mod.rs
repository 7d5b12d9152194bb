//! Method 2: the latent mapper (official `mapper/latent_mappers.py`, `mapper/training/coach.py`).
//!
//! A small network per prompt maps a latent to its edit in one forward pass:
//!
//! ```text
//! ŵ = w + 0.1 · M(w)                       W+ mappers (LevelsMapper, SingleMapper)
//! ŝ_l = s_l + 0.1 · M_l(s_l)               StyleSpace mappers, one per style layer
//! M  = PixelNorm → 4 × EqualLinear(d, d, lr_mul 0.01, fused lrelu·√2, the last one too)
//! ```
//!
//! [`LevelsMapper`] gives the coarse rows 0–3, medium rows 4–7 and fine rows 8.. of W+ each their
//! own [`Mapper`]; `no_coarse` / `no_medium` / `no_fine` make a group's delta zero (the official
//! README recommends `no_fine` when colours should stay). [`SingleMapper`] maps all rows with one
//! network. [`StyleSpaceMapper`] has one network per StyleSpace layer (without the ToRGB layers,
//! as the official `--work_in_stylespace`, or with them).
//!
//! # Official quirks, reproduced
//! - **PixelNorm over the W+ row axis.** The official `PixelNorm` is `x / √(mean(x², dim=1))`.
//!   On the `[B, k, d]` group slice a W+ mapper sees, dim 1 is the *row* axis: each feature is
//!   normalised across the k rows of its group, not across the d features of a row. This is the
//!   default ([`PixelNormAxis::Rows`]); [`PixelNormAxis::Features`] is the conventional norm.
//!   StyleSpace mappers see `[B, d]`, where dim 1 is the features either way.
//! - The residual scale 0.1 is fixed in the official code; [`MapperOptions::residual_scale`].
//! - The coarse mapper's attribute, and so its checkpoint keys, is `course_mapping` (sic).
//!
//! # Checkpoints
//! The released mappers (`mohawk.pt`, …) are `torch.save({"state_dict": net.state_dict(),
//! "opts": vars(opts)})` of the official `StyleCLIPMapper`, so the state dict holds the mapper
//! under `mapper.*` and the whole generator under `decoder.*`. [`MapperCheckpoint`] reads the
//! mapper, its options (`mapper_type`, `no_*_mapper`, `work_in_stylespace`, `description`, …,
//! read as data: nothing in the pickle is executed) and, on request, the generator
//! ([`MapperCheckpoint::generator`]). The crate's own format is safetensors with the same
//! `mapper.*` keys, options as JSON metadata, and (for training checkpoints) optimiser state.
//!
//! Training lives in [`training`].

pub mod training;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::pixel_norm;
use crate::stylegan2::layers::{EqualLinear, join};
use crate::stylegan2::{Generator, LayerKind, StyleCode, StyleLayer};
use crate::weights::{CheckpointSource, ParamSource, RandomInit, TensorFile, save_safetensors};

pub use training::{
    MapperData, MapperTrainer, MapperTraining, StepLosses, TrainedMapper, TrainingEvent,
};

/// Metadata value that marks the crate's own mapper files.
pub const FORMAT: &str = "styleclip.mapper";

/// The official residual scale: `ŵ = w + 0.1 · M(w)`.
pub const RESIDUAL_SCALE: f64 = 0.1;

/// First W+ row of the medium and of the fine group (`x[:, :4]`, `x[:, 4:8]`, `x[:, 8:]`).
pub const LEVEL_BOUNDS: [usize; 2] = [4, 8];

/// Number of EqualLinear layers in a [`Mapper`].
pub const MAPPER_DEPTH: usize = 4;

/// The axis PixelNorm normalises in a W+ mapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelNormAxis {
    /// The official `dim=1`: across the W+ rows of the group, per feature.
    #[default]
    Rows,
    /// Across the features of each row (StyleGAN's mapping-network norm).
    Features,
}

impl PixelNormAxis {
    /// The axis of a `[B, k, d]` W+ group slice.
    fn dim(self) -> usize {
        match self {
            Self::Rows => 1,
            Self::Features => 2,
        }
    }
}

/// Which mapper architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MapperKind {
    /// Coarse / medium / fine W+ mappers (official default, `LevelsMapper`).
    #[default]
    Levels,
    /// One mapper over all W+ rows (`SingleMapper`).
    Single,
    /// One mapper per StyleSpace layer; ToRGB layers unmapped (`WithoutToRGBStyleSpaceMapper`,
    /// the official `--work_in_stylespace`).
    StyleSpace,
    /// One mapper per StyleSpace layer including ToRGB (`FullStyleSpaceMapper`).
    StyleSpaceFull,
}

impl MapperKind {
    /// Whether it maps StyleSpace codes (else W+).
    pub fn is_style_space(self) -> bool {
        matches!(self, Self::StyleSpace | Self::StyleSpaceFull)
    }
}

/// Architecture options (the official `opts` that shape the network).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapperOptions {
    /// Architecture.
    pub kind: MapperKind,
    /// No coarse mapper (rows 0–3 unchanged). Levels only.
    pub no_coarse: bool,
    /// No medium mapper (rows 4–7 unchanged). Levels only.
    pub no_medium: bool,
    /// No fine mapper (rows 8.. unchanged). Levels only.
    pub no_fine: bool,
    /// PixelNorm axis of W+ mappers.
    pub pixel_norm: PixelNormAxis,
    /// Residual scale (official 0.1).
    pub residual_scale: f64,
}

impl Default for MapperOptions {
    fn default() -> Self {
        Self {
            kind: MapperKind::Levels,
            no_coarse: false,
            no_medium: false,
            no_fine: false,
            pixel_norm: PixelNormAxis::Rows,
            residual_scale: RESIDUAL_SCALE,
        }
    }
}

impl MapperOptions {
    /// The official `LevelsMapper` with the given groups switched off.
    pub fn levels(no_coarse: bool, no_medium: bool, no_fine: bool) -> Self {
        Self {
            no_coarse,
            no_medium,
            no_fine,
            ..Self::default()
        }
    }

    /// Defaults with another architecture.
    pub fn with_kind(kind: MapperKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// These options for a generator with `n_latent` W+ rows: a [`MapperKind::Levels`] group
    /// that would map no row (the fine group below 9 rows, i.e. generators under 64 px; the
    /// medium group below 5) is switched off, so it is neither built, trained nor saved. Other
    /// kinds are returned unchanged.
    pub fn for_rows(mut self, n_latent: usize) -> Self {
        if self.kind == MapperKind::Levels {
            self.no_medium |= n_latent <= LEVEL_BOUNDS[0];
            self.no_fine |= n_latent <= LEVEL_BOUNDS[1];
        }
        self
    }
}

/// PixelNorm followed by four equalized-lr linear layers with lr_mul 0.01 and fused leaky ReLU.
#[derive(Module, Debug)]
pub struct Mapper {
    /// The linear layers; official keys `mapping.1` … `mapping.4` (`mapping.0` is PixelNorm).
    pub mapping: Vec<EqualLinear>,
}

impl Mapper {
    fn build<S: ParamSource>(src: &mut S, key: &str, dim: usize) -> Result<Self> {
        let mapping = (1..=MAPPER_DEPTH)
            .map(|i| {
                EqualLinear::build(
                    src,
                    &join(key, &format!("mapping.{i}")),
                    dim,
                    dim,
                    0.0,
                    0.01,
                    true,
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self { mapping })
    }

    /// Input (and output) width.
    pub fn dim(&self) -> usize {
        self.mapping[0].weight.dims()[1]
    }

    /// PixelNorm over axis `norm_dim`, then the four layers (on the last axis).
    ///
    /// # Shapes
    /// `[.., d] → [.., d]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>, norm_dim: usize) -> Tensor<D> {
        self.mapping
            .iter()
            .fold(pixel_norm(x, norm_dim), |x, l| l.forward(x))
    }

    fn state_dict(&self, key: &str, out: &mut Vec<(String, TensorData)>) {
        for (i, l) in self.mapping.iter().enumerate() {
            let k = join(key, &format!("mapping.{}", i + 1));
            out.push((join(&k, "weight"), l.weight.val().into_data()));
            out.push((join(&k, "bias"), l.bias.val().into_data()));
        }
    }
}

fn check_w_plus(w: &Tensor<3>, dim: usize) -> Result<()> {
    let [b, n, d] = w.dims();
    if d != dim || b == 0 || n == 0 {
        return Err(Error::InvalidArgument(format!(
            "W+ latent must be [B, n_latent, {dim}], got [{b}, {n}, {d}]"
        )));
    }
    Ok(())
}

/// Coarse (rows 0–3), medium (4–7) and fine (8..) mappers, official `LevelsMapper`.
#[derive(Module, Debug)]
pub struct LevelsMapper {
    /// Coarse mapper (key `course_mapping`, sic); `None` with `no_coarse`.
    pub course_mapping: Option<Mapper>,
    /// Medium mapper; `None` with `no_medium`.
    pub medium_mapping: Option<Mapper>,
    /// Fine mapper; `None` with `no_fine`.
    pub fine_mapping: Option<Mapper>,
    #[module(skip)]
    options: MapperOptions,
    #[module(skip)]
    dim: usize,
}

impl LevelsMapper {
    /// Official random initialisation (`N(0, 1)/0.01` weights, zero biases) from `seed`.
    pub fn new_seeded(
        options: MapperOptions,
        dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        Self::build(&mut RandomInit::new(seed, device), options, dim)
    }

    fn build<S: ParamSource>(src: &mut S, options: MapperOptions, dim: usize) -> Result<Self> {
        let mut group = |off: bool, name: &str| -> Result<Option<Mapper>> {
            (!off).then(|| Mapper::build(src, name, dim)).transpose()
        };
        Ok(Self {
            course_mapping: group(options.no_coarse, "course_mapping")?,
            medium_mapping: group(options.no_medium, "medium_mapping")?,
            fine_mapping: group(options.no_fine, "fine_mapping")?,
            options: MapperOptions {
                kind: MapperKind::Levels,
                ..options
            },
            dim,
        })
    }

    /// Load an official checkpoint (`mohawk.pt`, …) or the crate's own file; errors if it holds
    /// another architecture.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        match MapperCheckpoint::open(path)?.mapper(device)? {
            AnyMapper::Levels(m) => Ok(m),
            other => Err(Error::InvalidConfig(format!(
                "the checkpoint holds a {:?} mapper, not a LevelsMapper",
                other.options().kind
            ))),
        }
    }

    /// Its options.
    pub fn options(&self) -> &MapperOptions {
        &self.options
    }

    /// Normalise over another axis ([`PixelNormAxis::Features`] is the conventional norm; the
    /// official mappers were trained with [`PixelNormAxis::Rows`]).
    pub fn with_pixel_norm(mut self, axis: PixelNormAxis) -> Self {
        self.options.pixel_norm = axis;
        self
    }

    /// The raw mapper output `M(w)`, zeros for a switched-off group.
    ///
    /// # Shapes
    /// `[B, n_latent, d] → [B, n_latent, d]`
    pub fn forward(&self, w: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = w.dims();
        let norm_dim = self.options.pixel_norm.dim();
        let bounds = [0, LEVEL_BOUNDS[0].min(n), LEVEL_BOUNDS[1].min(n), n];
        let groups = [
            &self.course_mapping,
            &self.medium_mapping,
            &self.fine_mapping,
        ];
        let parts: Vec<Tensor<3>> = groups
            .iter()
            .zip(bounds.windows(2))
            .filter(|(_, r)| r[1] > r[0])
            .map(|(m, r)| {
                let x = w.clone().slice([0..b, r[0]..r[1], 0..d]);
                match m {
                    Some(m) => m.forward(x, norm_dim),
                    None => x.zeros_like(),
                }
            })
            .collect();
        Tensor::cat(parts, 1)
    }

    /// `w + 0.1 · M(w)` (the residual scale of the options).
    ///
    /// # Panics
    /// If the last axis of `w` is not the mapper's width (burn's matmul assertion); see
    /// [`LevelsMapper::try_edit`] for the checked version.
    pub fn edit(&self, w: Tensor<3>) -> Tensor<3> {
        w.clone() + self.forward(w).mul_scalar(self.options.residual_scale)
    }

    /// [`edit`](Self::edit) with the latent's shape checked first.
    pub fn try_edit(&self, w: Tensor<3>) -> Result<Tensor<3>> {
        check_w_plus(&w, self.dim)?;
        Ok(self.edit(w))
    }

    fn state_dict(&self, out: &mut Vec<(String, TensorData)>) {
        for (m, k) in [
            (&self.course_mapping, "course_mapping"),
            (&self.medium_mapping, "medium_mapping"),
            (&self.fine_mapping, "fine_mapping"),
        ] {
            if let Some(m) = m {
                m.state_dict(&join("mapper", k), out);
            }
        }
    }
}

/// One mapper over every W+ row, official `SingleMapper`.
#[derive(Module, Debug)]
pub struct SingleMapper {
    /// The mapper (key `mapping`).
    pub mapping: Mapper,
    #[module(skip)]
    options: MapperOptions,
}

impl SingleMapper {
    /// Official random initialisation from `seed`.
    pub fn new_seeded(
        options: MapperOptions,
        dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        Self::build(&mut RandomInit::new(seed, device), options, dim)
    }

    fn build<S: ParamSource>(src: &mut S, options: MapperOptions, dim: usize) -> Result<Self> {
        Ok(Self {
            mapping: Mapper::build(src, "mapping", dim)?,
            options: MapperOptions {
                kind: MapperKind::Single,
                ..options
            },
        })
    }

    /// Its options.
    pub fn options(&self) -> &MapperOptions {
        &self.options
    }

    /// `M(w)`.
    ///
    /// # Shapes
    /// `[B, n_latent, d] → [B, n_latent, d]`
    pub fn forward(&self, w: Tensor<3>) -> Tensor<3> {
        let norm_dim = self.options.pixel_norm.dim();
        self.mapping.forward(w, norm_dim)
    }

    /// `w + 0.1 · M(w)`.
    ///
    /// # Panics
    /// If the last axis of `w` is not the mapper's width (burn's matmul assertion); see
    /// [`SingleMapper::try_edit`] for the checked version.
    pub fn edit(&self, w: Tensor<3>) -> Tensor<3> {
        w.clone() + self.forward(w).mul_scalar(self.options.residual_scale)
    }

    /// [`edit`](Self::edit) with the latent's shape checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `w` is not `[B, n, d]` with `B, n ≥ 1` and `d` the
    /// mapper's width.
    pub fn try_edit(&self, w: Tensor<3>) -> Result<Tensor<3>> {
        check_w_plus(&w, self.mapping.dim())?;
        Ok(self.edit(w))
    }
}

/// One mapper per StyleSpace layer (`[B, C_l] → [B, C_l]`), official
/// `WithoutToRGBStyleSpaceMapper` (ToRGB layers get a zero delta) or `FullStyleSpaceMapper`.
#[derive(Module, Debug)]
pub struct StyleSpaceMapper {
    /// The mappers, in style-layer order, skipping unmapped layers (keys `mapper_{layer}`).
    pub mappers: Vec<Mapper>,
    /// The style layer each mapper belongs to.
    #[module(skip)]
    layers: Vec<usize>,
    #[module(skip)]
    dims: Vec<usize>,
    #[module(skip)]
    options: MapperOptions,
}

impl StyleSpaceMapper {
    /// Official random initialisation from `seed` for a generator's style layers.
    pub fn new_seeded(
        options: MapperOptions,
        style_layers: &[StyleLayer],
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let dims: Vec<usize> = style_layers.iter().map(|l| l.channels).collect();
        let full = options.kind == MapperKind::StyleSpaceFull;
        let mapped: Vec<usize> = style_layers
            .iter()
            .enumerate()
            .filter(|(_, l)| full || l.kind == LayerKind::Conv)
            .map(|(i, _)| i)
            .collect();
        Self::build(&mut RandomInit::new(seed, device), options, dims, mapped)
    }

    fn build<S: ParamSource>(
        src: &mut S,
        options: MapperOptions,
        dims: Vec<usize>,
        layers: Vec<usize>,
    ) -> Result<Self> {
        let mappers = layers
            .iter()
            .map(|&l| Mapper::build(src, &format!("mapper_{l}"), dims[l]))
            .collect::<Result<_>>()?;
        let kind = if layers.len() == dims.len() {
            MapperKind::StyleSpaceFull
        } else {
            MapperKind::StyleSpace
        };
        Ok(Self {
            mappers,
            layers,
            dims,
            options: MapperOptions { kind, ..options },
        })
    }

    /// Its options.
    pub fn options(&self) -> &MapperOptions {
        &self.options
    }

    /// The raw per-layer outputs `M_l(s_l)` (zeros for unmapped layers).
    ///
    /// # Errors
    /// A style code with other layer widths.
    pub fn forward(&self, styles: &StyleCode) -> Result<Vec<Tensor<2>>> {
        let found: Vec<usize> = styles.info().iter().map(|l| l.channels).collect();
        if found != self.dims {
            return Err(Error::InvalidArgument(format!(
                "style code layer widths {found:?} differ from the mapper's {:?}",
                self.dims
            )));
        }
        let mut out: Vec<Tensor<2>> = styles.layers().iter().map(|s| s.zeros_like()).collect();
        for (m, &l) in self.mappers.iter().zip(&self.layers) {
            out[l] = m.forward(styles.layers()[l].clone(), 1);
        }
        Ok(out)
    }

    /// `s_l + 0.1 · M_l(s_l)` per layer.
    pub fn edit(&self, styles: &StyleCode) -> Result<StyleCode> {
        let delta = self.forward(styles)?;
        let layers = styles
            .layers()
            .iter()
            .zip(delta)
            .map(|(s, d)| s.clone() + d.mul_scalar(self.options.residual_scale))
            .collect();
        styles.with_layers(layers)
    }

    fn state_dict(&self, out: &mut Vec<(String, TensorData)>) {
        for (m, l) in self.mappers.iter().zip(&self.layers) {
            m.state_dict(&format!("mapper.mapper_{l}"), out);
        }
    }
}

/// Any of the mapper architectures (what a checkpoint holds).
#[derive(Module, Debug)]
pub enum AnyMapper {
    /// Coarse / medium / fine.
    Levels(LevelsMapper),
    /// One W+ mapper.
    Single(SingleMapper),
    /// Per-layer StyleSpace mappers.
    StyleSpace(StyleSpaceMapper),
}

impl AnyMapper {
    /// A freshly initialised mapper of `options.kind` for `generator` (official init from
    /// `seed`). Level groups that would map no W+ row of this generator are left out
    /// ([`MapperOptions::for_rows`]).
    pub fn new_seeded(options: MapperOptions, generator: &Generator, seed: u64) -> Result<Self> {
        let device = generator.device();
        let dim = generator.config().style_dim;
        let options = options.for_rows(generator.config().n_latent());
        Ok(match options.kind {
            MapperKind::Levels => {
                Self::Levels(LevelsMapper::new_seeded(options, dim, seed, &device)?)
            }
            MapperKind::Single => {
                Self::Single(SingleMapper::new_seeded(options, dim, seed, &device)?)
            }
            MapperKind::StyleSpace | MapperKind::StyleSpaceFull => Self::StyleSpace(
                StyleSpaceMapper::new_seeded(options, generator.style_layers(), seed, &device)?,
            ),
        })
    }

    /// Load an official checkpoint or the crate's own file.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        MapperCheckpoint::open(path)?.mapper(device)
    }

    /// Its options.
    pub fn options(&self) -> &MapperOptions {
        match self {
            Self::Levels(m) => m.options(),
            Self::Single(m) => m.options(),
            Self::StyleSpace(m) => m.options(),
        }
    }

    /// W+ edit `w + 0.1 · M(w)`.
    ///
    /// # Errors
    /// A StyleSpace mapper (use [`edit_styles`](Self::edit_styles)), or a latent whose width is
    /// not the mapper's.
    pub fn edit(&self, w: Tensor<3>) -> Result<Tensor<3>> {
        match self {
            Self::Levels(m) => m.try_edit(w),
            Self::Single(m) => m.try_edit(w),
            Self::StyleSpace(_) => Err(Error::InvalidArgument(
                "a StyleSpace mapper edits style codes: call edit_styles".into(),
            )),
        }
    }

    /// Edit the style code of `w` (`[B, n_latent, d]`) and return the edited style code: W+
    /// mappers edit `w` first, StyleSpace mappers edit `generator.styles(w)`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `w` is not `[B, n_latent, style_dim]` of `generator`
    /// (checked by [`Generator::try_styles`]) or does not fit the mapper.
    pub fn edit_styles(&self, generator: &Generator, w: Tensor<3>) -> Result<StyleCode> {
        match self {
            Self::StyleSpace(m) => m.edit(&generator.try_styles(w)?),
            _ => generator.try_styles(self.edit(w)?),
        }
    }

    /// The mapper's parameters under their official keys (`mapper.course_mapping.mapping.1.weight`,
    /// …).
    pub fn state_dict(&self) -> Vec<(String, TensorData)> {
        let mut out = Vec::new();
        match self {
            Self::Levels(m) => m.state_dict(&mut out),
            Self::Single(m) => m.mapping.state_dict("mapper.mapping", &mut out),
            Self::StyleSpace(m) => m.state_dict(&mut out),
        }
        out
    }

    /// Save to the crate's own safetensors format (official keys, options as metadata).
    pub fn save(&self, path: impl AsRef<Path>, opts: &OfficialOpts) -> Result<()> {
        save_safetensors(path.as_ref(), self.state_dict(), self.metadata(opts)?)
    }

    pub(crate) fn metadata(&self, opts: &OfficialOpts) -> Result<HashMap<String, String>> {
        Ok([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), "1".to_string()),
            ("options".to_string(), to_json(self.options())?),
            ("opts".to_string(), to_json(opts)?),
            ("dims".to_string(), to_json(&self.style_dims())?),
        ]
        .into())
    }

    fn style_dims(&self) -> Vec<usize> {
        match self {
            Self::StyleSpace(m) => m.dims.clone(),
            Self::Levels(m) => vec![m.dim],
            Self::Single(m) => vec![m.mapping.dim()],
        }
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::InvalidConfig(e.to_string()))
}

/// The official `opts` dictionary stored with a mapper (`vars(opts)` of `train_options.py`):
/// every entry as JSON (`description`, `mapper_type`, `no_coarse_mapper`, `learning_rate`, …).
pub type OfficialOpts = BTreeMap<String, serde_json::Value>;

/// An opened mapper checkpoint: official `torch.save` file or the crate's safetensors.
pub struct MapperCheckpoint {
    file: TensorFile,
    prefix: String,
    opts: OfficialOpts,
    options: MapperOptions,
}

impl std::fmt::Debug for MapperCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapperCheckpoint")
            .field("path", &self.file.path())
            .field("options", &self.options)
            .field("opts", &self.opts)
            .finish()
    }
}

impl MapperCheckpoint {
    /// Open a checkpoint and read its options. The architecture comes from `opts`
    /// (`work_in_stylespace`, `mapper_type`, `no_*_mapper`) when present, else from the keys;
    /// the two must agree.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = TensorFile::open(path)?;
        let own = file.metadata().get("format").map(String::as_str) == Some(FORMAT);
        let prefix = ["state_dict.mapper.", "mapper.", ""]
            .into_iter()
            .find(|p| {
                file.keys()
                    .iter()
                    .any(|k| k.starts_with(p) && k.ends_with("mapping.1.weight"))
            })
            .ok_or_else(|| Error::NotACheckpoint {
                path: path.to_path_buf(),
                reason: "no latent mapper in it (looked for `state_dict.mapper.*mapping.1.weight`)"
                    .into(),
            })?
            .to_string();
        let opts: OfficialOpts = if own {
            let raw = file.metadata().get("opts").cloned().unwrap_or_default();
            serde_json::from_str(&raw).map_err(|e| {
                Error::InvalidConfig(format!("bad opts metadata in {}: {e}", path.display()))
            })?
        } else {
            read_pickled_opts(path)
        };
        let from_keys = options_from_keys(&file, &prefix, path)?;
        let options = if own {
            let raw = file.metadata().get("options").cloned().unwrap_or_default();
            serde_json::from_str(&raw).map_err(|e| {
                Error::InvalidConfig(format!("bad options metadata in {}: {e}", path.display()))
            })?
        } else {
            options_from_opts(&opts, from_keys.clone(), path)?
        };
        // Without or with ToRGB mappers is settled by the mapped layers, not by the kind.
        let kinds_agree = options.kind == from_keys.kind
            || (options.kind.is_style_space() && from_keys.kind.is_style_space());
        let groups = |o: &MapperOptions| (o.no_coarse, o.no_medium, o.no_fine);
        if !kinds_agree
            || (options.kind == MapperKind::Levels && groups(&options) != groups(&from_keys))
        {
            return Err(Error::InvalidConfig(format!(
                "{}: its options say {:?} with (no_coarse, no_medium, no_fine) = {:?}, but its \
                 keys hold {:?} with {:?}",
                path.display(),
                options.kind,
                groups(&options),
                from_keys.kind,
                groups(&from_keys)
            )));
        }
        Ok(Self {
            file,
            prefix,
            opts,
            options,
        })
    }

    /// The architecture options.
    pub fn options(&self) -> &MapperOptions {
        &self.options
    }

    /// The official `opts` entries (empty when the file has none).
    pub fn opts(&self) -> &OfficialOpts {
        &self.opts
    }

    /// The prompt it was trained for (`opts["description"]`), when recorded.
    pub fn description(&self) -> Option<&str> {
        self.opts.get("description").and_then(|v| v.as_str())
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The opened file (training checkpoints keep optimiser state and metadata in it).
    pub(crate) fn file(&self) -> &TensorFile {
        &self.file
    }

    /// Build the mapper.
    pub fn mapper(&self, device: &Device) -> Result<AnyMapper> {
        let mut src = CheckpointSource::new(&self.file, &self.prefix, device);
        let p = &self.prefix;
        let options = self.options.clone();
        Ok(match options.kind {
            MapperKind::Levels => {
                let dim = self.width(&format!(
                    "{p}{}.mapping.1.weight",
                    ["course_mapping", "medium_mapping", "fine_mapping"]
                        .into_iter()
                        .find(|g| self.file.contains(&format!("{p}{g}.mapping.1.weight")))
                        .unwrap_or("course_mapping")
                ))?;
                AnyMapper::Levels(LevelsMapper::build(&mut src, options, dim)?)
            }
            MapperKind::Single => {
                let dim = self.width(&format!("{p}mapping.mapping.1.weight"))?;
                AnyMapper::Single(SingleMapper::build(&mut src, options, dim)?)
            }
            MapperKind::StyleSpace | MapperKind::StyleSpaceFull => {
                let (dims, layers) = self.style_space_layers()?;
                AnyMapper::StyleSpace(StyleSpaceMapper::build(&mut src, options, dims, layers)?)
            }
        })
    }

    /// The generator saved beside the mapper (`state_dict.decoder.*`).
    ///
    /// # Errors
    /// [`Error::MissingKey`] when the file has no generator (the crate's own mapper files never
    /// do: load the generator from its own file).
    pub fn generator(&self, device: &Device) -> Result<Generator> {
        let has = self
            .file
            .keys()
            .iter()
            .any(|k| k.starts_with("state_dict.decoder.") || k.starts_with("decoder."));
        if !has {
            return Err(Error::MissingKey {
                key: "state_dict.decoder.* (the embedded generator)".into(),
                source_name: self.file.path().display().to_string(),
            });
        }
        Generator::from_file(&self.file, device)
    }

    fn width(&self, key: &str) -> Result<usize> {
        match self.file.shape(key) {
            Some([o, i]) if o == i => Ok(*i),
            Some(s) => {
                // A hostile file may hold a scalar here: name it, never index it.
                let d = s.first().copied().unwrap_or(0);
                Err(Error::ShapeMismatch {
                    key: key.into(),
                    expected: vec![d, d],
                    found: s.to_vec(),
                })
            }
            None => Err(Error::MissingKey {
                key: key.into(),
                source_name: self.file.path().display().to_string(),
            }),
        }
    }

    /// Per-layer widths (from `opts`-free key inspection: mapped layers' widths; unmapped
    /// ToRGB layers' widths come from the `dims` metadata or the official 1024 table).
    fn style_space_layers(&self) -> Result<(Vec<usize>, Vec<usize>)> {
        let p = &self.prefix;
        let mut layers: Vec<usize> = self
            .file
            .keys()
            .iter()
            .filter_map(|k| {
                k.strip_prefix(p.as_str())?
                    .strip_prefix("mapper_")?
                    .strip_suffix(".mapping.1.weight")?
                    .parse()
                    .ok()
            })
            .collect();
        layers.sort_unstable();
        let dims: Vec<usize> = match self.file.metadata().get("dims") {
            Some(raw) => serde_json::from_str(raw)
                .map_err(|e| Error::InvalidConfig(format!("bad dims metadata: {e}")))?,
            None => {
                // Official files: the per-layer widths are the generator's (its `decoder.*`) or,
                // without it, the official 1024 table `STYLESPACE_DIMENSIONS`.
                match self.decoder_style_dims() {
                    Some(d) => d,
                    None => official_stylespace_dims(),
                }
            }
        };
        for &l in &layers {
            let w = self.width(&format!("{p}mapper_{l}.mapping.1.weight"))?;
            if dims.get(l) != Some(&w) {
                return Err(Error::InvalidConfig(format!(
                    "mapper_{l} has width {w}, but style layer {l} has {:?} channels",
                    dims.get(l)
                )));
            }
        }
        Ok((dims, layers))
    }

    fn decoder_style_dims(&self) -> Option<Vec<usize>> {
        let prefix = ["state_dict.decoder.", "decoder."].into_iter().find(|p| {
            self.file
                .contains(&format!("{p}conv1.conv.modulation.weight"))
        })?;
        // `None` for a missing key or a scalar (a hostile file): the official table is used.
        let out = |k: &str| {
            self.file
                .shape(&format!("{prefix}{k}"))
                .and_then(|s| s.first().copied())
        };
        let mut dims = vec![
            out("conv1.conv.modulation.weight")?,
            out("to_rgb1.conv.modulation.weight")?,
        ];
        for j in 0.. {
            let Some(rgb) = out(&format!("to_rgbs.{j}.conv.modulation.weight")) else {
                break;
            };
            dims.push(out(&format!("convs.{}.conv.modulation.weight", 2 * j))?);
            dims.push(out(&format!("convs.{}.conv.modulation.weight", 2 * j + 1))?);
            dims.push(rgb);
        }
        Some(dims)
    }
}

/// The official `STYLESPACE_DIMENSIONS` (FFHQ 1024 config-f).
pub fn official_stylespace_dims() -> Vec<usize> {
    let mut d = vec![512; 15];
    for c in [256, 128, 64] {
        d.extend([c; 3]);
    }
    d.extend([32, 32]);
    d
}

fn read_pickled_opts(path: &Path) -> OfficialOpts {
    use pytorch_reader::{PickleValue, PytorchReader};
    fn json(v: PickleValue) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            PickleValue::None => J::Null,
            PickleValue::Bool(b) => J::Bool(b),
            PickleValue::Int(i) => J::from(i),
            PickleValue::Float(f) => J::from(f),
            PickleValue::String(s) => J::String(s),
            PickleValue::List(l) => J::Array(l.into_iter().map(json).collect()),
            PickleValue::Dict(d) => J::Object(d.into_iter().map(|(k, v)| (k, json(v))).collect()),
            PickleValue::Bytes(_) | PickleValue::Unsupported(_) => J::Null,
        }
    }
    match PytorchReader::read_pickle_data(path, Some("opts")) {
        Ok(PickleValue::Dict(d)) => d.into_iter().map(|(k, v)| (k, json(v))).collect(),
        _ => OfficialOpts::new(),
    }
}

fn options_from_keys(file: &TensorFile, prefix: &str, path: &Path) -> Result<MapperOptions> {
    let has = |g: &str| file.contains(&format!("{prefix}{g}.mapping.1.weight"));
    let levels = ["course_mapping", "medium_mapping", "fine_mapping"].map(has);
    if levels.iter().any(|&b| b) {
        return Ok(MapperOptions::levels(!levels[0], !levels[1], !levels[2]));
    }
    if has("mapping") {
        return Ok(MapperOptions::with_kind(MapperKind::Single));
    }
    if file
        .keys()
        .iter()
        .any(|k| k.starts_with(&format!("{prefix}mapper_")))
    {
        // Without- or with-ToRGB is settled by the layer list (`StyleSpaceMapper::build`).
        return Ok(MapperOptions::with_kind(MapperKind::StyleSpace));
    }
    Err(Error::NotACheckpoint {
        path: path.to_path_buf(),
        reason: "unrecognised mapper keys".into(),
    })
}

fn options_from_opts(
    opts: &OfficialOpts,
    from_keys: MapperOptions,
    path: &Path,
) -> Result<MapperOptions> {
    if opts.is_empty() {
        return Ok(from_keys);
    }
    let flag = |k: &str| opts.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    let kind = if flag("work_in_stylespace") {
        MapperKind::StyleSpace
    } else {
        match opts.get("mapper_type").and_then(|v| v.as_str()) {
            None | Some("LevelsMapper") => MapperKind::Levels,
            Some("SingleMapper") => MapperKind::Single,
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "{}: unknown mapper_type `{other}`",
                    path.display()
                )));
            }
        }
    };
    Ok(MapperOptions {
        kind,
        no_coarse: flag("no_coarse_mapper"),
        no_medium: flag("no_medium_mapper"),
        no_fine: flag("no_fine_mapper"),
        ..MapperOptions::default()
    })
}
