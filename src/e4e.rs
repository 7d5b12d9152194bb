//! e4e, the encoder for editing (Tov et al., SIGGRAPH 2021): a real face photo → a W+ code of a
//! StyleGAN2 generator, the inversion StyleCLIP's methods start from.
//!
//! This is `Encoder4Editing(50, 'ir_se', opts)` of `omertov/encoder4editing`
//! (`models/encoders/psp_encoders.py`, blocks in `models/encoders/helpers.py`) plus pSp's
//! `latent_avg` offset (`models/psp.py`). Inference only: BatchNorm uses its running statistics.
//!
//! Data flow, `[B, 3, 256, 256]` in `[-1, 1]` → `[B, n_styles, 512]`:
//! 1. input layer: conv 3×3 (3 → 64, no bias) → BatchNorm → PReLU, at 256 px;
//! 2. the 24 IR-SE units of ArcFace's IR-SE50 ([`crate::arcface::BottleneckIrSe`], shared), with
//!    three taps: `c1` after unit 6 `[B, 128, 64, 64]`, `c2` after unit 20 `[B, 256, 32, 32]`,
//!    `c3` after unit 23 `[B, 512, 16, 16]`;
//! 3. a feature pyramid: `p2 = up(c3) + latlayer1(c2)` at 32 px, `p1 = up(p2) + latlayer2(c1)`
//!    at 64 px, where `up` is bilinear resampling with **`align_corners=True`** and the lateral
//!    layers are 1×1 convolutions with bias (256 → 512, 128 → 512);
//! 4. one [`GradualStyleBlock`] per W+ row: rows 0–2 read `c3`, rows 3–6 read `p2`, rows 7 and
//!    up read `p1`. Each halves the resolution down to 1×1 with stride-2 3×3 convolutions
//!    (with bias, each followed by LeakyReLU of the **default slope 0.01**), then applies an
//!    equalised-lr linear layer;
//! 5. progressive deltas: `w[:, 0] = w₀` (head 0) and `w[:, i] = w₀ + Δᵢ` (head i) for every
//!    i ≥ 1 (the official `progressive_stage` starts at `Inference` and is not saved, so all
//!    deltas are used);
//! 6. `+ latent_avg` (pSp's `start_from_latent_avg`): the generator's mean w, stored in the
//!    checkpoint beside the weights; added to every row.
//!
//! `n_styles = 2·log2(stylegan_size) − 2` (18 for the released 1024 px FFHQ model); the loader
//! takes it from the number of `styles.{i}` heads in the file, so any generator size loads.
//!
//! # Input
//! The official inference transform (`configs/transforms_config.py`, `EncodeTransforms`) is
//! `Resize((256, 256))` (PIL bilinear) → `ToTensor` (÷255) → `Normalize([0.5]*3, [0.5]*3)`,
//! i.e. `x / 127.5 − 1` on 8-bit RGB of an aligned 256 px face (`utils/alignment.py`). The
//! encoder only works at exactly 256 × 256: the heads reduce 16/32/64 px to 1×1 and the
//! official `view(-1, 512)` silently mixes batch and space otherwise, so [`Encoder4Editing::try_encode`]
//! refuses other sizes.
//!
//! # Checkpoint
//! `e4e_ffhq_encode.pt` is `torch.save({"state_dict": {encoder.*, decoder.*}, "latent_avg",
//! "opts"})` (`training/coach.py`): the encoder's 621 entries (267 M parameters; 52 entries
//! are BatchNorm's `num_batches_tracked`, not read) under `state_dict.encoder.`, the
//! 1024 px rosinality generator under `state_dict.decoder.` ([`load_decoder`]), the mean
//! latent at the top level (`[18, 512]` from training; `[512]` and `[1, 512]` broadcast the
//! same way and are accepted), and the training options as a plain dictionary, of which
//! `encoder_type`, `stylegan_size` and `start_from_latent_avg` are checked.

use std::collections::BTreeSet;
use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};

use crate::arcface::{BatchNorm, BottleneckIrSe, Conv, PRelu, ir50_body};
use crate::error::{Error, Result};
use crate::stylegan2::Generator;
use crate::stylegan2::layers::{EqualLinear, join};
use crate::weights::{
    CheckpointSource, FileKind, FnSource, Init, ParamSource, RandomInit, TensorFile,
};

/// The only input resolution the encoder accepts.
pub const INPUT_SIZE: usize = 256;
/// The official W+ width (`GradualStyleBlock(512, 512, …)`).
pub const STYLE_DIM: usize = 512;
/// Heads `0..COARSE` read `c3` (16 px).
const COARSE: usize = 3;
/// Heads `COARSE..MIDDLE` read `p2` (32 px), the rest `p1` (64 px).
const MIDDLE: usize = 7;
/// Body units after which `c1`, `c2`, `c3` are tapped.
const TAPS: [usize; 3] = [6, 20, 23];
/// Channels of `c3`, `p2` and `p1`, the heads' input.
const PYRAMID_CHANNELS: usize = 512;
/// LeakyReLU slope in the heads (`nn.LeakyReLU()`'s default, not StyleGAN's 0.2).
const HEAD_SLOPE: f64 = 0.01;
/// Key prefixes tried for the encoder, in order: the released pSp/e4e layout, a flattened pSp
/// state dict, and a bare encoder state dict.
const PREFIXES: [&str; 3] = ["state_dict.encoder.", "encoder.", ""];

/// Shape of an [`Encoder4Editing`]: how many W+ rows and how wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E4eConfig {
    /// Number of heads = W+ rows, `2·log2(stylegan_size) − 2`.
    pub n_styles: usize,
    /// Width of a W+ row (the heads' channels): 512 officially. Smaller widths exist only for
    /// cheap tests; the 512-channel pyramid feeding the heads is fixed.
    pub style_dim: usize,
}

impl E4eConfig {
    /// The official encoder for a `stylegan_size` px generator (`n_styles = 2·log2 S − 2`,
    /// width 512).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `stylegan_size` is a power of two ≥ 4.
    pub fn official(stylegan_size: usize) -> Result<Self> {
        if stylegan_size < 4 || !stylegan_size.is_power_of_two() {
            return Err(Error::InvalidConfig(format!(
                "stylegan_size must be a power of two ≥ 4, got {stylegan_size}"
            )));
        }
        let log = stylegan_size.trailing_zeros() as usize;
        Ok(Self {
            n_styles: 2 * log - 2,
            style_dim: STYLE_DIM,
        })
    }

    fn validate(&self) -> Result<()> {
        if self.n_styles == 0 || self.style_dim == 0 {
            return Err(Error::InvalidConfig(format!(
                "an e4e encoder needs at least one head and a nonzero width, got {self:?}"
            )));
        }
        Ok(())
    }
}

/// A convolution with bias (`nn.Conv2d` defaults): the heads' 3×3 stride-2 convolutions and the
/// pyramid's 1×1 lateral layers.
#[derive(Module, Debug)]
pub struct BiasConv {
    /// `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    stride: usize,
}

impl BiasConv {
    /// Random init: normal with the variance of PyTorch's default `U(±1/√fan_in)`.
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self> {
        let std = (1.0 / (3 * cin * k * k) as f64).sqrt();
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &join(key, "weight"),
                [cout, cin, k, k],
                Init::Normal(std),
            )?),
            bias: Param::from_tensor(src.tensor(&join(key, "bias"), [cout], Init::Normal(std))?),
            stride,
        })
    }

    /// Convolve with padding `k / 2` and the layer's stride.
    ///
    /// # Shapes
    /// `[B, in, H, W] → [B, out, ⌈H / stride⌉, ⌈W / stride⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let opts = ConvOptions::new([self.stride; 2], [k / 2; 2], [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), opts)
    }
}

/// `GradualStyleBlock(512, D, spatial)`: `log2(spatial)` × (conv 3×3 stride 2 + LeakyReLU 0.01)
/// down to 1×1, then `EqualLinear(D, D)` without activation (`y = x·(W/√D)ᵀ + b`).
#[derive(Module, Debug)]
pub struct GradualStyleBlock {
    /// `convs.{0, 2, 4, …}` (the odd indices are the parameterless LeakyReLUs).
    pub convs: Vec<BiasConv>,
    /// `linear`.
    pub linear: EqualLinear,
}

impl GradualStyleBlock {
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        in_c: usize,
        out_c: usize,
        spatial: usize,
    ) -> Result<Self> {
        let pools = spatial.trailing_zeros() as usize;
        let convs = (0..pools)
            .map(|j| {
                let cin = if j == 0 { in_c } else { out_c };
                BiasConv::build(
                    src,
                    &join(key, &format!("convs.{}", 2 * j)),
                    cin,
                    out_c,
                    3,
                    2,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            convs,
            linear: EqualLinear::build(src, &join(key, "linear"), out_c, out_c, 0.0, 1.0, false)?,
        })
    }

    /// One W+ row (head 0) or delta (heads ≥ 1).
    ///
    /// # Shapes
    /// `[B, 512, s, s] → [B, D]` with `s` this head's spatial size (16, 32 or 64).
    ///
    /// # Panics
    /// If the convolutions do not end at 1×1 (a wrong input size): the official `view(-1, 512)`
    /// would silently fold the leftover pixels into the batch instead.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .convs
            .iter()
            .fold(x, |x, conv| leaky_relu(conv.forward(x), HEAD_SLOPE));
        let [b, c, h, w] = x.dims();
        assert!(
            h == 1 && w == 1,
            "an e4e head must end at 1×1, got {h}×{w} (input not 256 px?)"
        );
        self.linear.forward(x.reshape([b, c]))
    }
}

/// The encoder's intermediate features, for inspection and tests.
#[derive(Debug, Clone)]
pub struct E4eFeatures {
    /// After body unit 6, `[B, 128, 64, 64]`.
    pub c1: Tensor<4>,
    /// After body unit 20, `[B, 256, 32, 32]`.
    pub c2: Tensor<4>,
    /// After body unit 23, `[B, 512, 16, 16]`.
    pub c3: Tensor<4>,
}

/// The e4e encoder (`Encoder4Editing(50, 'ir_se')`) with pSp's `latent_avg`.
///
/// Field names follow the official modules; see the [module docs](self) for the data flow.
#[derive(Module, Debug)]
pub struct Encoder4Editing {
    /// `input_layer.0`: conv 3×3, 3 → 64, no bias.
    pub input_conv: Conv,
    /// `input_layer.1`.
    pub input_bn: BatchNorm,
    /// `input_layer.2`.
    pub input_prelu: PRelu,
    /// The 24 IR-SE units (`body.{i}`).
    pub body: Vec<BottleneckIrSe>,
    /// One head per W+ row (`styles.{i}`).
    pub styles: Vec<GradualStyleBlock>,
    /// `latlayer1`: 1×1, 256 → 512 (`c2` into `p2`).
    pub latlayer1: BiasConv,
    /// `latlayer2`: 1×1, 128 → 512 (`c1` into `p1`).
    pub latlayer2: BiasConv,
    /// The mean latent added to every code, `[n_styles, D]` (pSp's `latent_avg`), if any.
    pub latent_avg: Option<Param<Tensor<2>>>,
}

impl Encoder4Editing {
    /// Load the encoder of an e4e checkpoint: the released `e4e_ffhq_encode.pt` (torch zip,
    /// `{"state_dict": {"encoder.*", "decoder.*"}, "latent_avg", "opts"}`), a flattened pSp
    /// state dict (`encoder.*` keys) or a bare encoder state dict, in `torch.save` or
    /// safetensors form; f16/bf16/f64 load as f32.
    ///
    /// The number of heads comes from the `styles.{i}` present; every encoder key the official
    /// `load_state_dict(strict=True)` expects must be there with its shape, and no other
    /// (BatchNorm's `num_batches_tracked` aside). `latent_avg` is read from the top level when
    /// present (`[D]`, `[1, D]` or `[n_styles, D]`) and stored as `[n_styles, D]`. When the
    /// checkpoint's `opts` are readable: `encoder_type` must be `Encoder4Editing` (pSp's
    /// `GradualStyleEncoder` has the same keys and another forward pass), `stylegan_size` must
    /// give the number of heads found, and `start_from_latent_avg = False` drops the
    /// `latent_avg`, as pSp's forward does.
    ///
    /// # Errors
    /// [`Error::MissingKey`] naming the first absent tensor (e.g.
    /// `state_dict.encoder.styles.0.linear.weight`), [`Error::ShapeMismatch`] for a tensor or
    /// `latent_avg` of the wrong shape, [`Error::InvalidConfig`] for unexpected keys or
    /// disagreeing `opts`, and the file errors of [`TensorFile::open`].
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        Self::from_file(&TensorFile::open(path)?, device)
    }

    /// [`Encoder4Editing::load`] from an opened [`TensorFile`].
    pub fn from_file(file: &TensorFile, device: &Device) -> Result<Self> {
        let prefix = encoder_prefix(file)?;
        let heads_key = |i: usize| format!("{prefix}styles.{i}.linear.weight");
        let n_styles = (0..).take_while(|&i| file.contains(&heads_key(i))).count();
        if n_styles == 0 {
            return Err(Error::MissingKey {
                key: heads_key(0),
                source_name: file.path().display().to_string(),
            });
        }
        let style_dim = match file.shape(&heads_key(0)).unwrap_or_default() {
            &[d, d_in] if d == d_in && d > 0 => d,
            found => {
                return Err(Error::ShapeMismatch {
                    key: heads_key(0),
                    expected: vec![STYLE_DIM, STYLE_DIM],
                    found: found.to_vec(),
                });
            }
        };
        let config = E4eConfig {
            n_styles,
            style_dim,
        };
        let opts = CheckpointOpts::read(file);
        opts.check(file, n_styles)?;
        // Checked before the (large) build, read after it.
        let avg_rows = match opts.start_from_latent_avg {
            Some(false) => None,
            _ => latent_avg_rows(file, config)?,
        };

        let mut src = Recording {
            inner: CheckpointSource::new(file, prefix, device),
            asked: BTreeSet::new(),
        };
        let encoder = Self::build(config, &mut src)?;
        check_no_extra_keys(file, prefix, &src.asked)?;

        let avg = match avg_rows {
            None => None,
            Some(rows) => {
                let (values, _) = file.read_f32("latent_avg")?;
                let d = config.style_dim;
                Some(Tensor::<2>::from_data(
                    TensorData::new(values, [rows, d]),
                    device,
                ))
            }
        };
        encoder.with_latent_avg(avg)
    }

    /// A randomly initialised encoder drawn from `seed` (PyTorch's default init with normal
    /// draws of the same variance; BatchNorm at mean 0, variance 1), without `latent_avg`.
    pub fn new_seeded(config: E4eConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::build(config, &mut RandomInit::new(seed, device))
    }

    /// Build from a function giving each official key's values (row-major, PyTorch shapes, no
    /// prefix: `input_layer.0.weight`, `styles.3.convs.2.bias`, …), without `latent_avg`.
    pub fn from_fn(
        config: E4eConfig,
        device: &Device,
        f: impl FnMut(&str, &[usize]) -> Vec<f32>,
    ) -> Result<Self> {
        Self::build(config, &mut FnSource::new(f, device))
    }

    fn build<S: ParamSource>(config: E4eConfig, src: &mut S) -> Result<Self> {
        config.validate()?;
        let input_conv = Conv::build(src, "input_layer.0", 3, 64, 3, 1)?;
        let input_bn = BatchNorm::build(src, "input_layer.1", 64)?;
        let input_prelu = PRelu::build(src, "input_layer.2", 64)?;
        let body = ir50_body(src, "body")?;
        let styles = (0..config.n_styles)
            .map(|i| {
                let spatial = head_spatial(i);
                let key = format!("styles.{i}");
                GradualStyleBlock::build(src, &key, PYRAMID_CHANNELS, config.style_dim, spatial)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            input_conv,
            input_bn,
            input_prelu,
            body,
            styles,
            latlayer1: BiasConv::build(src, "latlayer1", 256, PYRAMID_CHANNELS, 1, 1)?,
            latlayer2: BiasConv::build(src, "latlayer2", 128, PYRAMID_CHANNELS, 1, 1)?,
            latent_avg: None,
        })
    }

    /// Number of W+ rows produced.
    pub fn n_styles(&self) -> usize {
        self.styles.len()
    }

    /// Width of a W+ row.
    pub fn style_dim(&self) -> usize {
        self.styles[0].linear.weight.dims()[0]
    }

    /// The mean latent added by [`Encoder4Editing::encode`], `[n_styles, D]`, if any.
    pub fn latent_avg(&self) -> Option<Tensor<2>> {
        self.latent_avg.as_ref().map(|p| p.val())
    }

    /// Set (or clear) the mean latent, given as `[1, D]` (one w, e.g. `Generator::latent_avg`
    /// unsqueezed, or `mean_latent` as pSp computes it when the checkpoint has none) or
    /// `[n_styles, D]`; stored as `[n_styles, D]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (key `latent_avg`) for any other shape.
    pub fn with_latent_avg(mut self, avg: Option<Tensor<2>>) -> Result<Self> {
        let (n, d) = (self.n_styles(), self.style_dim());
        self.latent_avg = match avg {
            None => None,
            Some(a) => {
                let [rows, width] = a.dims();
                if width != d || (rows != 1 && rows != n) {
                    return Err(Error::ShapeMismatch {
                        key: "latent_avg".into(),
                        expected: vec![n, d],
                        found: vec![rows, width],
                    });
                }
                let a = if rows == 1 { a.repeat_dim(0, n) } else { a };
                Some(Param::from_tensor(a))
            }
        };
        Ok(self)
    }

    /// The body's three taps.
    ///
    /// # Shapes
    /// `[B, 3, 256, 256] → c1 [B, 128, 64, 64], c2 [B, 256, 32, 32], c3 [B, 512, 16, 16]`
    /// (other sizes scale with the input).
    pub fn features(&self, images: Tensor<4>) -> E4eFeatures {
        let x = self
            .input_prelu
            .forward(self.input_bn.forward(self.input_conv.forward(images)));
        let mut taps = Vec::with_capacity(3);
        let mut x = x;
        for (i, unit) in self.body.iter().enumerate() {
            x = unit.forward(x);
            if TAPS.contains(&i) {
                taps.push(x.clone());
            }
        }
        let [c1, c2, c3] = <[Tensor<4>; 3]>::try_from(taps).expect("three taps in 24 units");
        E4eFeatures { c1, c2, c3 }
    }

    /// The pyramid's 32 px level, `p2 = up(c3) + latlayer1(c2)`, `[B, 512, 32, 32]`.
    pub fn p2(&self, f: &E4eFeatures) -> Tensor<4> {
        upsample_add(f.c3.clone(), self.latlayer1.forward(f.c2.clone()))
    }

    /// The pyramid's 64 px level, `p1 = up(p2) + latlayer2(c1)`, `[B, 512, 64, 64]`.
    pub fn p1(&self, f: &E4eFeatures, p2: Tensor<4>) -> Tensor<4> {
        upsample_add(p2, self.latlayer2.forward(f.c1.clone()))
    }

    /// The official `Encoder4Editing.forward` from the taps: `w₀ = styles[0](c3)`, then
    /// `w₀ + styles[i](c3 | p2 | p1)` per row; pyramid levels are computed only when a head
    /// reads them. No `latent_avg`.
    ///
    /// # Shapes
    /// taps of a 256 px batch → `[B, n_styles, D]`
    pub fn codes_from_features(&self, f: &E4eFeatures) -> Tensor<3> {
        let w0 = self.styles[0].forward(f.c3.clone());
        let mut rows = vec![w0.clone()];
        let mut level = f.c3.clone();
        let mut p2 = None;
        for (i, head) in self.styles.iter().enumerate().skip(1) {
            if i == COARSE {
                let p = self.p2(f);
                p2 = Some(p.clone());
                level = p;
            } else if i == MIDDLE {
                level = self.p1(f, p2.take().expect("p2 precedes p1"));
            }
            rows.push(w0.clone() + head.forward(level.clone()));
        }
        Tensor::stack(rows, 1)
    }

    /// The encoder's own output (official `Encoder4Editing.forward`), without `latent_avg`.
    ///
    /// # Shapes
    /// `[B, 3, 256, 256] → [B, n_styles, D]`
    ///
    /// # Panics
    /// For any other input size (a head does not end at 1×1, or burn's conv assertion); see
    /// [`Encoder4Editing::try_encode`].
    pub fn codes(&self, images: Tensor<4>) -> Tensor<3> {
        self.codes_from_features(&self.features(images))
    }

    /// Invert aligned faces: [`codes`](Self::codes) `+ latent_avg` (when set), the W+ latents
    /// pSp hands its decoder (`input_is_latent=True`) and `scripts/inference.py` saves.
    ///
    /// Images are in `[-1, 1]`, i.e. `x / 127.5 − 1` of 8-bit RGB resized to 256 px (see the
    /// [module docs](self#input)).
    ///
    /// # Shapes
    /// `[B, 3, 256, 256] → [B, n_styles, D]`
    ///
    /// # Panics
    /// For any other input shape; see [`Encoder4Editing::try_encode`].
    pub fn encode(&self, images: Tensor<4>) -> Tensor<3> {
        let codes = self.codes(images);
        match self.latent_avg() {
            Some(avg) => codes + avg.unsqueeze_dim(0),
            None => codes,
        }
    }

    /// [`Encoder4Editing::encode`] with the input shape checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `images` is `[B, 3, 256, 256]` with `B ≥ 1`.
    pub fn try_encode(&self, images: Tensor<4>) -> Result<Tensor<3>> {
        let [b, c, h, w] = images.dims();
        if b == 0 || c != 3 || h != INPUT_SIZE || w != INPUT_SIZE {
            return Err(Error::InvalidArgument(format!(
                "e4e encodes [B, 3, 256, 256] images in [-1, 1] (aligned faces resized to 256 px), \
                 got [{b}, {c}, {h}, {w}]"
            )));
        }
        Ok(self.encode(images))
    }
}

/// The generator stored beside the encoder in an e4e checkpoint (`state_dict.decoder.*`, the
/// 1024 px FFHQ StyleGAN2 for the released model), through [`Generator::from_file`]; its
/// `latent_avg` is the checkpoint's (one row of e4e's `[18, 512]`, whose rows are copies).
///
/// # Errors
/// [`Error::MissingKey`] (`state_dict.decoder.input.input`) when the file has no decoder, and
/// those of [`Generator::load`].
pub fn load_decoder(path: impl AsRef<Path>, device: &Device) -> Result<Generator> {
    decoder_from_file(&TensorFile::open(path)?, device)
}

/// Both networks of an e4e checkpoint, reading the file once: ([`Encoder4Editing::load`],
/// [`load_decoder`]).
///
/// # Errors
/// Those of either.
pub fn load_with_decoder(
    path: impl AsRef<Path>,
    device: &Device,
) -> Result<(Encoder4Editing, Generator)> {
    let file = TensorFile::open(path)?;
    let encoder = Encoder4Editing::from_file(&file, device)?;
    Ok((encoder, decoder_from_file(&file, device)?))
}

fn decoder_from_file(file: &TensorFile, device: &Device) -> Result<Generator> {
    let key = "state_dict.decoder.input.input";
    if !file.contains(key) {
        return Err(Error::MissingKey {
            key: key.into(),
            source_name: file.path().display().to_string(),
        });
    }
    Generator::from_file(file, device)
}

/// Spatial size of head `i`'s input: 16 (c3), 32 (p2) or 64 (p1).
fn head_spatial(i: usize) -> usize {
    if i < COARSE {
        16
    } else if i < MIDDLE {
        32
    } else {
        64
    }
}

/// `_upsample_add(x, y)`: `interpolate(x, y's size, bilinear, align_corners=True) + y`.
fn upsample_add(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = y.dims();
    let opts = InterpolateOptions::new(InterpolateMode::Bilinear)
        .with_align_corners(true)
        .with_output_size([h, w]);
    interpolate(x, opts) + y
}

fn encoder_prefix(file: &TensorFile) -> Result<&'static str> {
    PREFIXES
        .into_iter()
        .find(|p| file.contains(&format!("{p}input_layer.0.weight")))
        .ok_or_else(|| Error::MissingKey {
            key: "state_dict.encoder.input_layer.0.weight".into(),
            source_name: format!(
                "{} (also looked for `encoder.input_layer.0.weight` and a bare \
                 `input_layer.0.weight`)",
                file.path().display()
            ),
        })
}

/// Every tensor under `prefix` must have been asked for (strict loading), except BatchNorm's
/// `num_batches_tracked` counters and, for a bare state dict, the top-level `latent_avg`.
fn check_no_extra_keys(file: &TensorFile, prefix: &str, asked: &BTreeSet<String>) -> Result<()> {
    let extra: Vec<&str> = file
        .keys()
        .into_iter()
        .filter_map(|k| k.strip_prefix(prefix))
        .filter(|k| !k.ends_with("num_batches_tracked") && !asked.contains(*k))
        .filter(|k| {
            // A bare encoder dict shares the root with everything else in the file.
            !(prefix.is_empty() && (*k == "latent_avg" || k.starts_with("state_dict.")))
        })
        .collect();
    if let Some(first) = extra.first() {
        return Err(Error::InvalidConfig(format!(
            "{}: {} unexpected encoder key(s) under `{prefix}`, e.g. `{first}` (not an \
             Encoder4Editing(50, 'ir_se') state dict?)",
            file.path().display(),
            extra.len()
        )));
    }
    Ok(())
}

/// Rows of the top-level `latent_avg` (`None` when absent): `[D]` and `[1, D]` are one row,
/// broadcast to every style as pSp's `latent_avg.repeat(B, 1, 1)` does, `[n_styles, D]` is one
/// per style.
fn latent_avg_rows(file: &TensorFile, config: E4eConfig) -> Result<Option<usize>> {
    let Some(shape) = file.shape("latent_avg") else {
        return Ok(None);
    };
    let (n, d) = (config.n_styles, config.style_dim);
    match *shape {
        [w] if w == d => Ok(Some(1)),
        [r, w] if w == d && (r == 1 || r == n) => Ok(Some(r)),
        _ => Err(Error::ShapeMismatch {
            key: "latent_avg".into(),
            expected: vec![n, d],
            found: shape.to_vec(),
        }),
    }
}

/// The `opts` dictionary entries the loader checks (all optional: safetensors files and bare
/// state dicts have none).
#[derive(Debug, Default)]
struct CheckpointOpts {
    encoder_type: Option<String>,
    stylegan_size: Option<i64>,
    start_from_latent_avg: Option<bool>,
}

impl CheckpointOpts {
    fn read(file: &TensorFile) -> Self {
        use pytorch_reader::{PickleValue, PytorchReader};
        let path = file.path();
        if !matches!(TensorFile::kind(path), Ok(FileKind::Torch)) {
            return Self::default();
        }
        // No `opts` (or an unreadable one) means nothing to check, never an error: the
        // tensors were read already.
        let Ok(PickleValue::Dict(opts)) = PytorchReader::read_pickle_data(path, Some("opts"))
        else {
            return Self::default();
        };
        Self {
            encoder_type: match opts.get("encoder_type") {
                Some(PickleValue::String(s)) => Some(s.clone()),
                _ => None,
            },
            stylegan_size: match opts.get("stylegan_size") {
                Some(PickleValue::Int(s)) => Some(*s),
                _ => None,
            },
            start_from_latent_avg: match opts.get("start_from_latent_avg") {
                Some(PickleValue::Bool(b)) => Some(*b),
                _ => None,
            },
        }
    }

    fn check(&self, file: &TensorFile, n_styles: usize) -> Result<()> {
        let path = file.path().display();
        if let Some(t) = &self.encoder_type
            && t != "Encoder4Editing"
        {
            return Err(Error::InvalidConfig(format!(
                "{path}: opts.encoder_type is `{t}`, not `Encoder4Editing` (pSp's \
                 GradualStyleEncoder has the same keys but another forward pass)"
            )));
        }
        if let Some(size) = self.stylegan_size {
            let expected = usize::try_from(size)
                .ok()
                .and_then(|s| E4eConfig::official(s).ok())
                .map(|c| c.n_styles);
            if expected != Some(n_styles) {
                return Err(Error::InvalidConfig(format!(
                    "{path}: opts.stylegan_size = {size} but the file has {n_styles} style heads"
                )));
            }
        }
        Ok(())
    }
}

/// A `ParamSource` that remembers which keys were asked for.
struct Recording<S> {
    inner: S,
    asked: BTreeSet<String>,
}

impl<S: ParamSource> ParamSource for Recording<S> {
    fn device(&self) -> &Device {
        self.inner.device()
    }

    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>> {
        self.asked.insert(key.to_string());
        self.inner.tensor(key, shape, init)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::weights::write_f32_safetensors;

    fn file_with(keys: &[&str]) -> (TensorFile, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("styleclip-e4e-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.safetensors", keys.len()));
        let one = [0.5f32];
        let tensors: Vec<(String, Vec<usize>, &[f32])> = keys
            .iter()
            .map(|k| (k.to_string(), vec![1], &one[..]))
            .collect();
        write_f32_safetensors(&path, &tensors, HashMap::new()).unwrap();
        (TensorFile::open(&path).unwrap(), dir)
    }

    #[test]
    fn strict_loading_names_an_unexpected_key() {
        let asked: BTreeSet<String> = ["input_layer.0.weight".to_string()].into();
        let (file, dir) = file_with(&[
            "state_dict.encoder.input_layer.0.weight",
            "state_dict.encoder.input_layer.1.num_batches_tracked",
            "state_dict.decoder.input.input",
            "latent_avg",
        ]);
        check_no_extra_keys(&file, "state_dict.encoder.", &asked).unwrap();

        let (file, _) = file_with(&[
            "state_dict.encoder.input_layer.0.weight",
            "state_dict.encoder.styles.18.linear.weight",
            "latent_avg",
        ]);
        let err = check_no_extra_keys(&file, "state_dict.encoder.", &asked).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig(m) if m.contains("`styles.18.linear.weight`")),
            "{err}"
        );
        // A bare state dict shares the root with `latent_avg`, which is not an extra key.
        let (file, _) = file_with(&["input_layer.0.weight", "latent_avg"]);
        check_no_extra_keys(&file, "", &asked).unwrap();
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn official_config_follows_the_generator_size() {
        assert_eq!(E4eConfig::official(1024).unwrap().n_styles, 18);
        assert_eq!(E4eConfig::official(256).unwrap().n_styles, 14);
        assert_eq!(E4eConfig::official(64).unwrap().style_dim, 512);
        assert!(E4eConfig::official(1000).is_err());
        assert!(E4eConfig::official(2).is_err());
        assert_eq!(
            [0, 2, 3, 6, 7, 17].map(head_spatial),
            [16, 16, 32, 32, 64, 64]
        );
    }
}
