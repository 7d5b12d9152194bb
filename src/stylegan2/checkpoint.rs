//! Loading official checkpoints and saving/loading the crate's own format.
//!
//! Official (`torch.save`, as written by rosinality's `convert_weight.py` and used by StyleCLIP):
//! `{"g_ema": state_dict, "latent_avg": [512] or [1, 512], "g": .., "d": .., "g_optim": ..}`,
//! or a bare generator state dict, or the decoder of a StyleCLIP mapper or e4e checkpoint
//! (`state_dict.decoder.*`; e4e's top-level `latent_avg` is `[18, 512]`, one w repeated per
//! row, and loads as that w). Only `g_ema` (else the bare dict, else `g`, else the decoder) is
//! read; the discriminator and optimiser entries are ignored. The configuration is inferred
//! from shapes:
//! - `style_dim`  ← `conv1.conv.modulation.weight` `[C4, style_dim]`
//! - `n_mlp`      ← how many `style.{1..}.weight` there are (index 0 is the parameterless PixelNorm)
//! - `size`       ← `4 · 2^(number of to_rgbs.{j})`
//! - `channels`   ← `input.input` `[1, C4, 4, 4]` and `convs.{2j}.conv.weight` `[1, C, C_prev, 3, 3]`
//!
//! Every other tensor is then checked against that configuration when the layers are built.
//! The blur/up-sampling `kernel` buffers, when present, are compared with the configured kernel.
//!
//! Own format (safetensors): the same state-dict keys without a prefix, plus `latent_avg`, with
//! metadata `format = "styleclip.stylegan2"` and `config` (JSON of [`GeneratorConfig`]). A
//! PyTorch user can read it with `safetensors.torch.load_file` and `load_state_dict`.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;

use super::config::GeneratorConfig;
use super::generator::Generator;
use crate::error::{Error, Result};
use crate::ops::make_kernel;
use crate::weights::{CheckpointSource, Precision, TensorFile, named_params, save_safetensors_as};

/// Metadata value that marks the crate's own generator files.
pub const FORMAT: &str = "styleclip.stylegan2";
const FORMAT_VERSION: &str = "1";

impl Generator {
    /// Load a generator from a `torch.save` checkpoint (official layout) or the crate's own
    /// safetensors file. f16/bf16/f64 weights load as f32.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        Self::from_file(&TensorFile::open(path)?, device)
    }

    /// Load from an opened [`TensorFile`].
    pub fn from_file(file: &TensorFile, device: &Device) -> Result<Self> {
        let own = file.metadata().get("format").map(String::as_str) == Some(FORMAT);
        let (prefix, config) = if own {
            let json = file
                .metadata()
                .get("config")
                .ok_or_else(|| Error::MissingKey {
                    key: "config (metadata)".into(),
                    source_name: file.path().display().to_string(),
                })?;
            let config: GeneratorConfig = serde_json::from_str(json).map_err(|e| {
                Error::InvalidConfig(format!(
                    "bad config metadata in {}: {e}",
                    file.path().display()
                ))
            })?;
            (String::new(), config)
        } else {
            let prefix = generator_prefix(file)?;
            let config = infer_config(file, &prefix)?;
            (prefix, config)
        };
        check_kernels(file, &prefix, &config)?;
        let mut src = CheckpointSource::new(file, &prefix, device);
        let g = Generator::build(config.clone(), &mut src)?;
        let avg = match file.shape("latent_avg") {
            None => None,
            Some(shape) => {
                let d = config.style_dim;
                // `D` values in any shape (`[D]`, `[1, D]`), or e4e's `[n_latent, D]`: one w
                // repeated per style row.
                let n: usize = shape.iter().product();
                let rows = n / d.max(1);
                if n == 0 || n != rows * d || (n != d && shape.last() != Some(&d)) {
                    return Err(Error::ShapeMismatch {
                        key: "latent_avg".into(),
                        expected: vec![d],
                        found: shape.to_vec(),
                    });
                }
                let (mut v, _) = file.read_f32("latent_avg")?;
                if v.chunks(d).any(|row| row != &v[..d]) {
                    return Err(Error::InvalidConfig(format!(
                        "`latent_avg` in {} is [{rows}, {d}] with differing rows; a generator \
                         needs one mean w",
                        file.path().display()
                    )));
                }
                v.truncate(d);
                Some(Tensor::from_data(TensorData::new(v, [d]), device))
            }
        };
        Ok(g.with_latent_avg(avg))
    }

    /// Every parameter and buffer under its official state-dict key (`style.1.weight`,
    /// `noises.noise_0`, …), plus `latent_avg` when set. The FIR `kernel` buffers, which are
    /// constants of the configuration, are not included.
    pub fn state_dict(&self) -> Vec<(String, TensorData)> {
        named_params(self)
            .into_iter()
            .map(|(path, data)| (official_key(&path), data))
            .collect()
    }

    /// The metadata of the crate's own format (`format`, `format_version`, `config`).
    pub(crate) fn own_metadata(&self) -> Result<HashMap<String, String>> {
        let config = serde_json::to_string(self.config())
            .map_err(|e| Error::InvalidConfig(e.to_string()))?;
        Ok([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("config".to_string(), config),
        ]
        .into())
    }

    /// Save to the crate's own safetensors format (f32).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_as(path, Precision::F32)
    }

    /// [`save`](Self::save) at a chosen precision ([`Precision::F16`] halves the file).
    pub fn save_as(&self, path: impl AsRef<Path>, precision: Precision) -> Result<()> {
        let meta = self.own_metadata()?;
        save_safetensors_as(path.as_ref(), self.state_dict(), meta, precision)
    }
}

/// Module path → official key: `style.{i}` → `style.{i+1}`, `noises.{j}` → `noises.noise_{j}`.
fn official_key(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["style", i, rest @ ..] => {
            let i: usize = i.parse().unwrap_or(0);
            format!("style.{}.{}", i + 1, rest.join("."))
        }
        ["noises", j] => format!("noises.noise_{j}"),
        _ => path.to_string(),
    }
}

/// Which sub-dictionary holds the generator.
fn generator_prefix(file: &TensorFile) -> Result<String> {
    // `state_dict.decoder.`: the generator inside a StyleCLIP mapper checkpoint.
    for prefix in ["g_ema.", "", "g.", "state_dict.decoder.", "decoder."] {
        if file.contains(&format!("{prefix}input.input")) {
            return Ok(prefix.to_string());
        }
    }
    Err(Error::NotACheckpoint {
        path: file.path().to_path_buf(),
        reason: "no StyleGAN2 generator in it (looked for `g_ema.input.input`, a bare state dict \
                 with `input.input`, `g.input.input` and a mapper checkpoint's `state_dict.decoder.input.input`)"
            .into(),
    })
}

fn shape_of<'a>(file: &'a TensorFile, key: &str) -> Result<&'a [usize]> {
    file.shape(key).ok_or_else(|| Error::MissingKey {
        key: key.to_string(),
        source_name: file.path().display().to_string(),
    })
}

fn dim(file: &TensorFile, key: &str, rank: usize, axis: usize) -> Result<usize> {
    let s = shape_of(file, key)?;
    if s.len() != rank {
        return Err(Error::InvalidConfig(format!(
            "`{key}` should have rank {rank}, found shape {s:?}"
        )));
    }
    Ok(s[axis])
}

/// Infer the generator's configuration from tensor shapes under `prefix`.
pub(crate) fn infer_config(file: &TensorFile, prefix: &str) -> Result<GeneratorConfig> {
    let k = |s: &str| format!("{prefix}{s}");
    let style_dim = dim(file, &k("conv1.conv.modulation.weight"), 2, 1)?;
    let n_mlp = (1..)
        .take_while(|i| file.contains(&k(&format!("style.{i}.weight"))))
        .count();
    let n_rgbs = (0..)
        .take_while(|j| file.contains(&k(&format!("to_rgbs.{j}.conv.weight"))))
        .count();
    if n_rgbs > 20 {
        return Err(Error::InvalidConfig(format!(
            "{n_rgbs} ToRGB layers is not a StyleGAN2"
        )));
    }
    let mut channels = vec![dim(file, &k("input.input"), 4, 1)?];
    for j in 0..n_rgbs {
        channels.push(dim(
            file,
            &k(&format!("convs.{}.conv.weight", 2 * j)),
            5,
            1,
        )?);
    }
    let config = GeneratorConfig {
        size: 4 << n_rgbs,
        style_dim,
        n_mlp,
        channels,
        ..GeneratorConfig::rosinality(4, style_dim, n_mlp, 2)
    };
    config.validate()?;
    Ok(config)
}

/// The stored FIR kernels must be the configured ones (else the numbers would silently differ).
fn check_kernels(file: &TensorFile, prefix: &str, config: &GeneratorConfig) -> Result<()> {
    let expected = make_kernel(&config.blur_kernel, 4.0);
    for key in file.keys() {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let is_kernel = rest.ends_with(".blur.kernel") || rest.ends_with(".upsample.kernel");
        if !is_kernel || !(rest.starts_with("convs.") || rest.starts_with("to_rgb")) {
            continue;
        }
        let (values, _) = file.read_f32(key)?;
        let same = values.len() == expected.len()
            && values
                .iter()
                .zip(&expected)
                .all(|(a, b)| (a - b).abs() <= 1e-6 * b.abs().max(1.0));
        if !same {
            return Err(Error::InvalidConfig(format!(
                "`{key}` is not the {:?} blur kernel this generator is configured with",
                config.blur_kernel
            )));
        }
    }
    Ok(())
}
