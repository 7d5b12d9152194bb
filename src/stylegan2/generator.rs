//! The generator: mapping, latent handling, StyleSpace and synthesis.

use std::sync::Arc;

use burn::module::Param;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::config::GeneratorConfig;
use super::layers::{ConstantInput, EqualLinear, StyledConv, ToRGB, join};
use super::style_code::{LayerKind, StyleCode, StyleLayer};
use crate::error::{Error, Result};
use crate::ops::{ModConvMode, pixel_norm};
use crate::weights::{Init, ParamSource, RandomInit};

/// Where the per-layer noise comes from.
#[derive(Debug, Clone, Default)]
pub enum NoiseMode {
    /// The checkpoint's `noises.noise_j` buffers (official `randomize_noise=False`). What every
    /// StyleCLIP method uses.
    #[default]
    Const,
    /// Fresh `N(0, 1)` noise per sample, drawn from this seed (same seed, same noise).
    Random(u64),
    /// No noise.
    Zero,
    /// Given tensors, one per noise input `j`, each `[B or 1, 1, r_j, r_j]` with
    /// `r_j = 2^((j + 5) / 2)`.
    Given(Vec<Tensor<4>>),
}

/// A StyleGAN2 generator (rosinality layout).
///
/// Field names follow the checkpoint keys; see the [module docs](super) for the data flow.
/// Parameters are trainable by default (burn's convention); on an autodiff device call
/// `.no_grad()` when only latents are optimised, so no gradients are kept for the weights.
#[derive(Module, Debug)]
pub struct Generator {
    /// Mapping layers (`style.1` .. `style.{n_mlp}` in checkpoints; index 0 there is PixelNorm).
    pub style: Vec<EqualLinear>,
    /// Constant input.
    pub input: ConstantInput,
    /// First styled conv, 4 px.
    pub conv1: StyledConv,
    /// First ToRGB, 4 px.
    pub to_rgb1: ToRGB,
    /// Styled convs: up-sampling then plain, per resolution from 8 px.
    pub convs: Vec<StyledConv>,
    /// ToRGB per resolution from 8 px.
    pub to_rgbs: Vec<ToRGB>,
    /// Constant noise buffers (`noises.noise_j`), `[1, 1, r_j, r_j]`.
    pub noises: Vec<Param<Tensor<4>>>,
    /// The checkpoint's `latent_avg`, `[style_dim]`, if it had one.
    pub latent_avg: Option<Param<Tensor<1>>>,
    #[module(skip)]
    config: GeneratorConfig,
    #[module(skip)]
    layer_info: Arc<[StyleLayer]>,
    #[module(skip)]
    mode: ModConvMode,
}

impl Generator {
    /// A generator with the official random initialisation, drawn from seed 0.
    pub fn new(config: GeneratorConfig, device: &Device) -> Result<Self> {
        Self::new_seeded(config, 0, device)
    }

    /// A generator with the official random initialisation, drawn from `seed`.
    pub fn new_seeded(config: GeneratorConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::build(config, &mut RandomInit::new(seed, device))
    }

    /// Build every layer from `src` (random init or a checkpoint).
    pub(crate) fn build<S: ParamSource>(config: GeneratorConfig, src: &mut S) -> Result<Self> {
        config.validate()?;
        let d = config.style_dim;
        let blur = config.blur_kernel.clone();
        let style = (0..config.n_mlp)
            .map(|i| {
                let key = format!("style.{}", i + 1);
                EqualLinear::build(src, &key, d, d, 0.0, config.lr_mlp, true)
            })
            .collect::<Result<Vec<_>>>()?;
        let c4 = config.channels[0];
        let input = ConstantInput {
            input: Param::from_tensor(src.tensor(
                "input.input",
                [1, c4, 4, 4],
                Init::Normal(1.0),
            )?),
        };
        let conv1 = StyledConv::build(src, "conv1", c4, c4, d, None)?;
        let to_rgb1 = ToRGB::build(src, "to_rgb1", c4, d, None)?;
        let mut convs = Vec::new();
        let mut to_rgbs = Vec::new();
        for (j, pair) in config.channels.windows(2).enumerate() {
            let (cin, cout) = (pair[0], pair[1]);
            let up =
                StyledConv::build(src, &format!("convs.{}", 2 * j), cin, cout, d, Some(&blur))?;
            convs.push(up);
            convs.push(StyledConv::build(
                src,
                &format!("convs.{}", 2 * j + 1),
                cout,
                cout,
                d,
                None,
            )?);
            to_rgbs.push(ToRGB::build(
                src,
                &format!("to_rgbs.{j}"),
                cout,
                d,
                Some(&blur),
            )?);
        }
        let noises = (0..config.num_noises())
            .map(|j| {
                let r = config.noise_size(j);
                let key = join("noises", &format!("noise_{j}"));
                src.tensor(&key, [1, 1, r, r], Init::Normal(1.0))
                    .map(Param::from_tensor)
            })
            .collect::<Result<Vec<_>>>()?;
        let layer_info = layer_info(&config).into();
        Ok(Self {
            style,
            input,
            conv1,
            to_rgb1,
            convs,
            to_rgbs,
            noises,
            latent_avg: None,
            config,
            layer_info,
            mode: ModConvMode::Auto,
        })
    }

    /// Size, style_dim, n_mlp, channels, and derived counts (`n_latent()`).
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.input.input.val().device()
    }

    /// How modulated convolutions run (default [`ModConvMode::Auto`]).
    pub fn with_modconv_mode(mut self, mode: ModConvMode) -> Self {
        self.mode = mode;
        self
    }

    /// The current modulated-convolution mode.
    pub fn modconv_mode(&self) -> ModConvMode {
        self.mode
    }

    /// The style layers in official order (conv/ToRGB, resolution, channels, W+ row).
    pub fn style_layers(&self) -> &[StyleLayer] {
        &self.layer_info
    }

    /// Set (or clear) the mean latent used for truncation (`[style_dim]`; not checked here, a
    /// wrong size panics in [`Generator::truncate`]).
    pub fn with_latent_avg(mut self, avg: Option<Tensor<1>>) -> Self {
        self.latent_avg = avg.map(Param::from_tensor);
        self
    }

    // ------------------------------------------------------------------ latents

    /// `N(0, 1)` latent codes z from an explicit seed, `[batch, style_dim]`.
    ///
    /// The numbers are this crate's own (they cannot equal `torch.randn` for the same seed).
    pub fn sample_z(&self, batch: usize, seed: u64) -> Tensor<2> {
        let d = self.config.style_dim;
        Tensor::from_data(
            TensorData::new(normal(batch * d, seed), [batch, d]),
            &self.device(),
        )
    }

    /// Mapping network z → w: PixelNorm over features, then `n_mlp` EqualLinear + lrelu.
    ///
    /// # Shapes
    /// `[B, style_dim] → [B, style_dim]`
    ///
    /// # Panics
    /// If `z` is not `[B, style_dim]` (burn's matmul shape assertion in the first layer); see
    /// [`Generator::try_mapping`] for the checked version. NaN in `z` propagates to the output.
    pub fn mapping(&self, z: Tensor<2>) -> Tensor<2> {
        self.style
            .iter()
            .fold(pixel_norm(z, 1), |x, layer| layer.forward(x))
    }

    /// [`Generator::mapping`] with the shape and device of `z` checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `z` is not `[B, style_dim]` with `B ≥ 1`, or lives on
    /// another device than the generator.
    pub fn try_mapping(&self, z: Tensor<2>) -> Result<Tensor<2>> {
        let [b, d] = z.dims();
        if b == 0 || d != self.config.style_dim {
            return Err(Error::InvalidArgument(format!(
                "z must be [B, {}] with B ≥ 1, got [{b}, {d}]",
                self.config.style_dim
            )));
        }
        self.check_device("z", &z.device())?;
        Ok(self.mapping(z))
    }

    /// The W+ latent check shared by the `try_` entry points.
    fn check_w_plus(&self, wp: &Tensor<3>) -> Result<()> {
        let [b, n, d] = wp.dims();
        let (nl, sd) = (self.config.n_latent(), self.config.style_dim);
        if b == 0 || (n, d) != (nl, sd) {
            return Err(Error::InvalidArgument(format!(
                "W+ must be [B, {nl}, {sd}] with B ≥ 1, got [{b}, {n}, {d}]"
            )));
        }
        self.check_device("W+", &wp.device())
    }

    fn check_device(&self, what: &str, device: &Device) -> Result<()> {
        let own = self.device();
        if *device != own {
            return Err(Error::InvalidArgument(format!(
                "{what} is on {device:?} but the generator is on {own:?}"
            )));
        }
        Ok(())
    }

    /// The noise check shared by the `try_` synthesis entry points.
    fn check_noise(&self, noise: &NoiseMode, batch: usize) -> Result<()> {
        if let NoiseMode::Given(v) = noise {
            let n = self.config.num_noises();
            if v.len() != n {
                return Err(Error::InvalidArgument(format!(
                    "NoiseMode::Given needs {n} tensors, got {}",
                    v.len()
                )));
            }
            for (j, t) in v.iter().enumerate() {
                let r = self.config.noise_size(j);
                let [b, c, h, w] = t.dims();
                if (c, h, w) != (1, r, r) || (b != 1 && b != batch) {
                    return Err(Error::InvalidArgument(format!(
                        "noise {j} must be [1 or {batch}, 1, {r}, {r}], got [{b}, {c}, {h}, {w}]"
                    )));
                }
                self.check_device(&format!("noise {j}"), &t.device())?;
            }
        }
        Ok(())
    }

    /// The checkpoint's `latent_avg` (`[style_dim]`), if it had one.
    pub fn latent_avg(&self) -> Option<Tensor<1>> {
        self.latent_avg.as_ref().map(|p| p.val())
    }

    /// Mean of `mapping(z)` over given z (`[N, style_dim]`): the official `mean_latent` for a
    /// given draw. Returns `[style_dim]`.
    ///
    /// # Panics
    /// As [`Generator::mapping`], if `z` is not `[N, style_dim]`.
    pub fn mean_latent_of(&self, z: Tensor<2>) -> Tensor<1> {
        let d = self.config.style_dim;
        self.mapping(z).mean_dim(0).reshape([d])
    }

    /// Official `mean_latent(n)`: the mean w of `n` z drawn from `seed` (in chunks of 4096).
    pub fn mean_latent(&self, n: usize, seed: u64) -> Tensor<1> {
        let d = self.config.style_dim;
        let n = n.max(1);
        let z = normal(n * d, seed);
        let device = self.device();
        let mut sum = Tensor::<1>::zeros([d], &device);
        for chunk in z.chunks(4096 * d) {
            let rows = chunk.len() / d;
            let zc = Tensor::from_data(TensorData::new(chunk.to_vec(), [rows, d]), &device);
            sum = sum + self.mapping(zc).sum_dim(0).reshape([d]);
        }
        sum.div_scalar(n as f64)
    }

    /// Truncation `avg + ψ (w − avg)` for W `[B, D]` or W+ `[B, n_latent, D]`.
    ///
    /// # Panics
    /// If `avg` is not `[D]` with `D` the last axis of `w` (burn's broadcast assertion).
    pub fn truncate<const N: usize>(&self, w: Tensor<N>, psi: f64, avg: Tensor<1>) -> Tensor<N> {
        let mut shape = [1usize; N];
        shape[N - 1] = avg.dims()[0];
        let avg = avg.reshape(shape);
        (w - avg.clone()).mul_scalar(psi) + avg
    }

    /// W `[B, D]` repeated into W+ `[B, n_latent, D]`.
    pub fn broadcast(&self, w: Tensor<2>) -> Tensor<3> {
        w.unsqueeze_dim::<3>(1)
            .repeat_dim(1, self.config.n_latent())
    }

    /// Style mixing: W+ rows `< inject_index` from `w1`, the rest from `w2`.
    ///
    /// `inject_index` is clamped to `0..=n_latent`.
    ///
    /// # Panics
    /// If `w1` and `w2` differ in shape (burn's `cat` assertion). A wrong width is caught later
    /// by [`Generator::styles`] / [`Generator::try_styles`].
    pub fn mix(&self, w1: Tensor<2>, w2: Tensor<2>, inject_index: usize) -> Tensor<3> {
        let n = self.config.n_latent();
        let k = inject_index.min(n);
        match k {
            0 => self.broadcast(w2),
            k if k == n => self.broadcast(w1),
            k => Tensor::cat(
                vec![
                    w1.unsqueeze_dim::<3>(1).repeat_dim(1, k),
                    w2.unsqueeze_dim::<3>(1).repeat_dim(1, n - k),
                ],
                1,
            ),
        }
    }

    // --------------------------------------------------------------- StyleSpace

    /// W+ → StyleSpace: each layer's modulation applied to its W+ row.
    ///
    /// # Shapes
    /// `wp`: `[B, n_latent, style_dim]`; result layer `j`: `[B, style_layers()[j].channels]`.
    ///
    /// # Panics
    /// If `wp` is not `[B, n_latent, style_dim]`; see [`Generator::try_styles`] for the checked
    /// version.
    pub fn styles(&self, wp: Tensor<3>) -> StyleCode {
        let [b, n, d] = wp.dims();
        assert_eq!(
            (n, d),
            (self.config.n_latent(), self.config.style_dim),
            "W+ must be [B, n_latent, style_dim]"
        );
        let row = |i: usize| wp.clone().narrow(1, i, 1).reshape([b, d]);
        let layers = self
            .modulated_layers()
            .zip(self.layer_info.iter())
            .map(|(conv, info)| conv.style(row(info.w_index)))
            .collect();
        StyleCode::new_unchecked(layers, self.layer_info.clone())
    }

    /// [`Generator::styles`] with the shape and device of `wp` checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `wp` is not `[B, n_latent, style_dim]` with `B ≥ 1`, or
    /// lives on another device than the generator.
    pub fn try_styles(&self, wp: Tensor<3>) -> Result<StyleCode> {
        self.check_w_plus(&wp)?;
        Ok(self.styles(wp))
    }

    /// Check user-made style vectors against this generator's layers.
    pub fn style_code(&self, layers: Vec<Tensor<2>>) -> Result<StyleCode> {
        StyleCode::new(layers, self.layer_info.clone())
    }

    fn modulated_layers(&self) -> impl Iterator<Item = &super::layers::ModulatedConv2d> {
        let first = [&self.conv1.conv, &self.to_rgb1.conv];
        let rest = self
            .convs
            .chunks(2)
            .zip(&self.to_rgbs)
            .flat_map(|(pair, rgb)| [&pair[0].conv, &pair[1].conv, &rgb.conv]);
        first.into_iter().chain(rest)
    }

    // ---------------------------------------------------------------- synthesis

    /// W+ → image, `[B, n_latent, D] → [B, 3, size, size]` (raw output, about `[-1, 1]`).
    ///
    /// # Panics
    /// If `wp` is not `[B, n_latent, style_dim]` ("W+ must be [B, n_latent, style_dim]"), or
    /// `noise` is [`NoiseMode::Given`] with the wrong count or sizes; see
    /// [`Generator::try_synthesis`] for the checked version. NaN in `wp` propagates to the image.
    pub fn synthesis(&self, wp: Tensor<3>, noise: NoiseMode) -> Tensor<4> {
        self.synthesis_from_styles(&self.styles(wp), noise)
    }

    /// [`Generator::synthesis`] with the latent and the noise checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `wp` is not `[B, n_latent, style_dim]` with `B ≥ 1`, is on
    /// another device, or `noise` is [`NoiseMode::Given`] with the wrong count, sizes or batch.
    pub fn try_synthesis(&self, wp: Tensor<3>, noise: NoiseMode) -> Result<Tensor<4>> {
        self.check_w_plus(&wp)?;
        self.check_noise(&noise, wp.dims()[0])?;
        Ok(self.synthesis(wp, noise))
    }

    /// [`Generator::synthesis_from_styles`] with the style code and the noise checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `styles` has another layer layout than this generator
    /// (see [`Generator::style_code`]), batch 0, lives on another device, or `noise` is
    /// [`NoiseMode::Given`] with the wrong count, sizes or batch.
    pub fn try_synthesis_from_styles(
        &self,
        styles: &StyleCode,
        noise: NoiseMode,
    ) -> Result<Tensor<4>> {
        if styles.info() != self.style_layers() {
            return Err(Error::InvalidArgument(
                "the style code does not come from this generator's layer layout".into(),
            ));
        }
        let b = styles.batch_size();
        if b == 0 {
            return Err(Error::InvalidArgument("the style code has batch 0".into()));
        }
        if let Some(t) = styles.layers().first() {
            self.check_device("the style code", &t.device())?;
        }
        self.check_noise(&noise, b)?;
        Ok(self.synthesis_from_styles(styles, noise))
    }

    /// StyleSpace → image, `[B, 3, size, size]`.
    ///
    /// # Panics
    /// If `styles` does not come from this generator's layout (see [`Generator::style_code`]),
    /// or `noise` is [`NoiseMode::Given`] with the wrong count or sizes; see
    /// [`Generator::try_synthesis_from_styles`] for the checked version.
    pub fn synthesis_from_styles(&self, styles: &StyleCode, noise: NoiseMode) -> Tensor<4> {
        let s = styles.layers();
        assert_eq!(
            s.len(),
            self.layer_info.len(),
            "style code has the wrong number of layers"
        );
        let b = styles.batch_size();
        let noise = self.noise_inputs(noise, b);
        let mode = self.mode;

        let x = self.input.input.val().repeat_dim(0, b);
        let mut x = self.conv1.forward(x, s[0].clone(), noise[0].clone(), mode);
        let mut skip = self.to_rgb1.forward(x.clone(), s[1].clone(), None, mode);
        for (j, (pair, rgb)) in self.convs.chunks(2).zip(&self.to_rgbs).enumerate() {
            let base = 2 + 3 * j;
            x = pair[0].forward(x, s[base].clone(), noise[1 + 2 * j].clone(), mode);
            x = pair[1].forward(x, s[base + 1].clone(), noise[2 + 2 * j].clone(), mode);
            skip = rgb.forward(x.clone(), s[base + 2].clone(), Some(skip), mode);
        }
        skip
    }

    /// One optional noise tensor per noise input.
    fn noise_inputs(&self, mode: NoiseMode, batch: usize) -> Vec<Option<Tensor<4>>> {
        let n = self.config.num_noises();
        match mode {
            NoiseMode::Const => self.noises.iter().map(|p| Some(p.val())).collect(),
            NoiseMode::Zero => vec![None; n],
            NoiseMode::Random(seed) => {
                let device = self.device();
                let mut rng = StdRng::seed_from_u64(seed);
                (0..n)
                    .map(|j| {
                        let r = self.config.noise_size(j);
                        let v: Vec<f32> = (0..batch * r * r)
                            .map(|_| StandardNormal.sample(&mut rng))
                            .collect();
                        Some(Tensor::from_data(
                            TensorData::new(v, [batch, 1, r, r]),
                            &device,
                        ))
                    })
                    .collect()
            }
            NoiseMode::Given(v) => {
                assert_eq!(v.len(), n, "NoiseMode::Given needs {n} tensors");
                v.into_iter()
                    .enumerate()
                    .map(|(j, t)| {
                        let r = self.config.noise_size(j);
                        let [_, c, h, w] = t.dims();
                        assert_eq!((c, h, w), (1, r, r), "noise {j} must be [B|1, 1, {r}, {r}]");
                        Some(t)
                    })
                    .collect()
            }
        }
    }
}

/// Style layers in official order.
fn layer_info(c: &GeneratorConfig) -> Vec<StyleLayer> {
    let layer = |kind, resolution, channels, w_index| StyleLayer {
        kind,
        resolution,
        channels,
        w_index,
    };
    let mut v = vec![
        layer(LayerKind::Conv, 4, c.channels[0], 0),
        layer(LayerKind::ToRgb, 4, c.channels[0], 1),
    ];
    for (j, pair) in c.channels.windows(2).enumerate() {
        let res = 8 << j;
        let i = 1 + 2 * j;
        v.push(layer(LayerKind::Conv, res, pair[0], i));
        v.push(layer(LayerKind::Conv, res, pair[1], i + 1));
        v.push(layer(LayerKind::ToRgb, res, pair[1], i + 2));
    }
    v
}

/// `n` standard-normal `f32` from `seed`.
pub(crate) fn normal(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}
