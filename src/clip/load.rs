//! Loading CLIP weights: one loader per checkpoint family.
//!
//! - **OpenAI / open_clip state dicts** (`torch.save` zip or safetensors): OpenAI's own key names,
//!   which are the module's field names; an optional wrapping prefix (`state_dict.`, `module.`)
//!   is found from `visual.conv1.weight`.
//! - **Hugging Face `transformers`** (`CLIPModel` safetensors, `openai/clip-vit-base-patch32`
//!   layout): keys renamed rule by rule in [`hf_key`]; q/k/v projections concatenated into the
//!   fused `in_proj`; the projection matrices transposed (HF stores `Linear` weights
//!   `[embed, width]`, OpenAI a `[width, embed]` matrix).
//! - **OpenAI's released TorchScript archives** (`ViT-B-32.pt`): read by the crate's data-only
//!   TorchScript reader ([`crate::weights`]); the attribute paths are OpenAI's state-dict keys,
//!   plus `input_resolution`, `context_length`, `vocab_size`, which are ignored.
//!
//! The configuration is inferred from shapes as OpenAI's `build_model` does (heads =
//! width / 64); [`Clip::load_with_config`] overrides it when heads cannot be inferred.

use std::path::Path;

use burn::prelude::*;

use super::config::ClipConfig;
use super::model::Clip;
use crate::error::{Error, Result};
use crate::weights::{CheckpointSource, Init, ParamSource, TensorFile, check_shape};

/// Which key layout a CLIP checkpoint uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipFormat {
    /// OpenAI / open_clip state dict, keys under this prefix.
    OpenAi(String),
    /// Hugging Face `transformers` `CLIPModel`, keys under this prefix.
    HuggingFace(String),
}

impl Clip {
    /// Load a CLIP checkpoint (OpenAI state dict or Hugging Face safetensors), inferring the
    /// configuration from its shapes. f16 weights load as f32.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        // The crate's own files (`Clip::save`) carry their configuration in the metadata.
        Self::from_file(&TensorFile::open(path)?, device)
    }

    /// Load with an explicit configuration (every shape is still checked).
    pub fn load_with_config(
        path: impl AsRef<Path>,
        config: ClipConfig,
        device: &Device,
    ) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let format = detect(&file)?;
        build(&file, &format, config, device)
    }
}

pub(crate) fn build(
    file: &TensorFile,
    format: &ClipFormat,
    config: ClipConfig,
    device: &Device,
) -> Result<Clip> {
    match format {
        ClipFormat::OpenAi(prefix) => {
            Clip::build(config, &mut CheckpointSource::new(file, prefix, device))
        }
        ClipFormat::HuggingFace(prefix) => Clip::build(
            config,
            &mut HfSource {
                file,
                prefix: prefix.clone(),
                device: device.clone(),
            },
        ),
    }
}

/// Find the layout and prefix from a marker key.
pub fn detect(file: &TensorFile) -> Result<ClipFormat> {
    for key in file.keys() {
        if let Some(prefix) = key.strip_suffix("visual.conv1.weight") {
            return Ok(ClipFormat::OpenAi(prefix.to_string()));
        }
        if let Some(prefix) = key.strip_suffix("vision_model.embeddings.patch_embedding.weight") {
            return Ok(ClipFormat::HuggingFace(prefix.to_string()));
        }
    }
    Err(Error::NotACheckpoint {
        path: file.path().to_path_buf(),
        reason: "no CLIP ViT in it (looked for `visual.conv1.weight` and \
                 `vision_model.embeddings.patch_embedding.weight`)"
            .into(),
    })
}

fn shape(file: &TensorFile, key: &str) -> Result<Vec<usize>> {
    file.shape(key)
        .map(<[usize]>::to_vec)
        .ok_or_else(|| Error::MissingKey {
            key: key.to_string(),
            source_name: file.path().display().to_string(),
        })
}

/// Extent `axis` of the tensor under `key`; a tensor with fewer axes (a hostile file's scalar)
/// is an error naming the key.
fn dim(file: &TensorFile, key: &str, axis: usize) -> Result<usize> {
    let s = shape(file, key)?;
    s.get(axis).copied().ok_or_else(|| {
        Error::InvalidConfig(format!(
            "`{key}` has shape {s:?}: no axis {axis} to read the configuration from"
        ))
    })
}

fn count(file: &TensorFile, prefix: &str, suffix: &str) -> usize {
    (0..)
        .take_while(|i| file.contains(&format!("{prefix}{i}{suffix}")))
        .count()
}

/// Infer the configuration the way OpenAI's `build_model` does.
pub fn infer_config(file: &TensorFile, format: &ClipFormat) -> Result<ClipConfig> {
    let (p, conv, vpos, vblocks, tblocks, tok, tpos, lnf, proj, proj_axis) = match format {
        ClipFormat::OpenAi(p) => (
            p.as_str(),
            "visual.conv1.weight",
            "visual.positional_embedding",
            ("visual.transformer.resblocks.", ".attn.in_proj_weight"),
            ("transformer.resblocks.", ".attn.in_proj_weight"),
            "token_embedding.weight",
            "positional_embedding",
            "ln_final.weight",
            "text_projection",
            1,
        ),
        ClipFormat::HuggingFace(p) => (
            p.as_str(),
            "vision_model.embeddings.patch_embedding.weight",
            "vision_model.embeddings.position_embedding.weight",
            ("vision_model.encoder.layers.", ".self_attn.q_proj.weight"),
            ("text_model.encoder.layers.", ".self_attn.q_proj.weight"),
            "text_model.embeddings.token_embedding.weight",
            "text_model.embeddings.position_embedding.weight",
            "text_model.final_layer_norm.weight",
            "text_projection.weight",
            0,
        ),
    };
    let k = |s: &str| format!("{p}{s}");
    let conv = shape(file, &k(conv))?;
    let vpos = shape(file, &k(vpos))?;
    if conv.len() != 4 || vpos.len() != 2 {
        return Err(Error::InvalidConfig(format!(
            "unexpected patch-embedding shapes {conv:?} / {vpos:?}"
        )));
    }
    let (vision_width, patch) = (conv[0], conv[3]);
    let grid = ((vpos[0].saturating_sub(1)) as f64).sqrt().round() as usize;
    if grid * grid + 1 != vpos[0] {
        return Err(Error::InvalidConfig(format!(
            "{} positional embeddings is not a square grid plus a class token",
            vpos[0]
        )));
    }
    let text_width = dim(file, &k(lnf), 0)?;
    let vocab_size = dim(file, &k(tok), 0)?;
    let config = ClipConfig {
        embed_dim: dim(file, &k(proj), proj_axis)?,
        image_resolution: grid * patch,
        vision_layers: count(file, &k(vblocks.0), vblocks.1),
        vision_width,
        vision_heads: (vision_width / 64).max(1),
        vision_patch_size: patch,
        context_length: dim(file, &k(tpos), 0)?,
        vocab_size,
        text_width,
        text_heads: (text_width / 64).max(1),
        text_layers: count(file, &k(tblocks.0), tblocks.1),
    };
    config.validate()?;
    Ok(config)
}

/// OpenAI key → Hugging Face key, one rule per line. Keys with a transform (fused `in_proj`,
/// transposed projections) are handled in `HfSource` (private to this module).
pub fn hf_key(key: &str) -> String {
    let (tower, rest) = match key.strip_prefix("visual.") {
        Some(rest) => ("vision_model", rest),
        None => ("text_model", key),
    };
    let rest = rest
        .replace("transformer.resblocks.", "encoder.layers.")
        .replace(".attn.out_proj.", ".self_attn.out_proj.")
        .replace(".ln_1.", ".layer_norm1.")
        .replace(".ln_2.", ".layer_norm2.")
        .replace(".mlp.c_fc.", ".mlp.fc1.")
        .replace(".mlp.c_proj.", ".mlp.fc2.");
    let rest = match rest.as_str() {
        "conv1.weight" => "embeddings.patch_embedding.weight".to_string(),
        "class_embedding" => "embeddings.class_embedding".to_string(),
        "positional_embedding" => "embeddings.position_embedding.weight".to_string(),
        "token_embedding.weight" => "embeddings.token_embedding.weight".to_string(),
        "ln_pre.weight" => "pre_layrnorm.weight".to_string(), // sic: HF's spelling
        "ln_pre.bias" => "pre_layrnorm.bias".to_string(),
        "ln_post.weight" => "post_layernorm.weight".to_string(),
        "ln_post.bias" => "post_layernorm.bias".to_string(),
        "ln_final.weight" => "final_layer_norm.weight".to_string(),
        "ln_final.bias" => "final_layer_norm.bias".to_string(),
        _ => rest,
    };
    format!("{tower}.{rest}")
}

/// Reads Hugging Face tensors under OpenAI names.
struct HfSource<'a> {
    file: &'a TensorFile,
    prefix: String,
    device: Device,
}

impl HfSource<'_> {
    fn read(&self, key: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        self.file.read_f32(&format!("{}{key}", self.prefix))
    }

    /// Values and shape of the OpenAI-named tensor `key`.
    fn values(&self, key: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        // Fused q/k/v projections: concatenate along the output axis.
        for (suffix, part) in [
            (".attn.in_proj_weight", "weight"),
            (".attn.in_proj_bias", "bias"),
        ] {
            if let Some(block) = key.strip_suffix(suffix) {
                let base =
                    hf_key(&format!("{block}.ln_1.weight")).replace(".layer_norm1.weight", "");
                let mut values = Vec::new();
                let mut rows = 0;
                let mut cols = Vec::new();
                for qkv in ["q", "k", "v"] {
                    let key = format!("{base}.self_attn.{qkv}_proj.{part}");
                    let (v, s) = self.read(&key)?;
                    let Some((&r, rest)) = s.split_first() else {
                        return Err(Error::ShapeMismatch {
                            key,
                            expected: vec![0],
                            found: s,
                        });
                    };
                    rows += r;
                    cols = rest.to_vec();
                    values.extend(v);
                }
                let mut shape = vec![rows];
                shape.extend(cols);
                return Ok((values, shape));
            }
        }
        // Projections: HF `Linear` weight [embed, width] is the transpose of OpenAI's matrix.
        let transposed = match key {
            "visual.proj" => Some("visual_projection.weight"),
            "text_projection" => Some("text_projection.weight"),
            _ => None,
        };
        if let Some(hf) = transposed {
            let (v, s) = self.read(hf)?;
            let (r, c) = (
                s.first().copied().unwrap_or(1),
                s.get(1).copied().unwrap_or(1),
            );
            if r * c != v.len() {
                return Err(Error::ShapeMismatch {
                    key: hf.into(),
                    expected: vec![r, c],
                    found: s,
                });
            }
            let t = (0..r * c).map(|i| v[(i % r) * c + i / r]).collect();
            return Ok((t, vec![c, r]));
        }
        if key == "logit_scale" {
            return self.read("logit_scale");
        }
        self.read(&hf_key(key))
    }
}

impl ParamSource for HfSource<'_> {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<D>> {
        let (values, found) = self.values(key)?;
        check_shape(key, &shape, &found)?;
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            &self.device,
        ))
    }
}
