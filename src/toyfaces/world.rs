//! The shipped toy world: the trained generator, CLIP, oracle, StyleSpace statistics, channel
//! relevance and latent mappers in `weights/toyfaces/`, loaded together.
//!
//! ```no_run
//! # fn main() -> styleclip::Result<()> {
//! use burn::prelude::*;
//! use styleclip::toyfaces::{Attributes, ToyFaces};
//! let device = Device::flex();
//! let world = ToyFaces::load(&device)?;
//! let image = world.render(&Attributes::sample(7), 7); // [1, 3, 64, 64] in [-1, 1]
//! let found = world.oracle.classify(image)?;
//! assert_eq!(found[0], Attributes::sample(7));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::attributes::{Attributes, Face, Jitter, Style};
use super::oracle::Oracle;
use super::render::render_batch;
use crate::clip::{Clip, Tokenizer};
use crate::edit::global_direction::{Relevance, StyleStats};
use crate::edit::mapper::LevelsMapper;
use crate::error::{Error, Result};
use crate::stylegan2::Generator;

/// The prompts with a shipped latent mapper (`weights/toyfaces/mappers/`).
pub const MAPPER_PROMPTS: [&str; 3] = ["a smiling face", "purple hair", "mohawk hairstyle"];

/// The shipped networks of the toy world.
#[derive(Debug)]
pub struct ToyFaces {
    /// StyleGAN2 fitted to the renderer (64 px, 64-d styles).
    pub generator: Generator,
    /// The contrastively trained tiny CLIP.
    pub clip: Clip,
    /// The attribute and style classifier that scores edits.
    pub oracle: Oracle,
    /// StyleSpace statistics of [`Self::generator`].
    pub stats: StyleStats,
    /// Channel relevance (fs3) of [`Self::generator`] under [`Self::clip`].
    pub fs3: Relevance,
    /// The official BPE tokenizer.
    pub tokenizer: Tokenizer,
    dir: PathBuf,
    device: Device,
}

/// The file name of a prompt's mapper: lower case, words joined by `_`.
pub fn mapper_file_name(prompt: &str) -> String {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    format!("{}.safetensors", words.join("_"))
}

impl ToyFaces {
    /// The directory of the shipped files (`weights/toyfaces` in the crate's source).
    pub fn shipped_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/toyfaces")
    }

    /// Load the shipped world onto `device`.
    pub fn load(device: &Device) -> Result<Self> {
        Self::load_from(Self::shipped_dir(), device)
    }

    /// Load a world from `dir` (the layout `examples/train_toyfaces.rs` writes).
    pub fn load_from(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        for (file, stage) in [
            ("generator.safetensors", "generator"),
            ("clip.safetensors", "clip"),
            ("oracle.safetensors", "oracle"),
            ("stats.safetensors", "extras"),
            ("fs3.safetensors", "extras"),
        ] {
            if !dir.join(file).exists() {
                return Err(Error::InvalidArgument(format!(
                    "the toy world in {} has no {file}: run `cargo run --release --example \
                     train_toyfaces -- --stage {stage} --out-dir {}`",
                    dir.display(),
                    dir.display()
                )));
            }
        }
        let generator = Generator::load(dir.join("generator.safetensors"), device)?;
        let clip = Clip::load(dir.join("clip.safetensors"), device)?;
        let oracle = Oracle::load(dir.join("oracle.safetensors"), device)?;
        let stats = StyleStats::load(dir.join("stats.safetensors"))?;
        stats.check(&generator)?;
        let fs3 = Relevance::load(dir.join("fs3.safetensors"))?;
        Ok(Self {
            generator,
            clip,
            oracle,
            stats,
            fs3,
            tokenizer: Tokenizer::new(),
            dir,
            device: device.clone(),
        })
    }

    /// The shipped mapper of `prompt` (case and punctuation ignored), if there is one.
    pub fn mapper(&self, prompt: &str) -> Result<Option<LevelsMapper>> {
        let path = self.mapper_path(prompt);
        if !path.exists() {
            return Ok(None);
        }
        LevelsMapper::load(&path, &self.device).map(Some)
    }

    /// Where the mapper of `prompt` lives in this world: `mappers/<words>.safetensors`.
    pub fn mapper_path(&self, prompt: &str) -> PathBuf {
        self.dir.join("mappers").join(mapper_file_name(prompt))
    }

    /// The [`MAPPER_PROMPTS`] whose mapper file is present in this world.
    pub fn present_mappers(&self) -> Vec<&'static str> {
        MAPPER_PROMPTS
            .into_iter()
            .filter(|p| self.mapper_path(p).exists())
            .collect()
    }

    /// The renderer's image of `attributes` with the jitter of `seed`.
    ///
    /// # Shapes
    /// `[1, 3, 64, 64]` in `[-1, 1]`
    pub fn render(&self, attributes: &Attributes, seed: u64) -> Tensor<4> {
        let face = Face {
            attributes: *attributes,
            jitter: Jitter::sample(seed),
        };
        // The size is the world's own and valid, so rendering cannot fail.
        render_batch(&[face], Style::Photo, super::SIZE, &self.device)
            .expect("the toy world's size is valid")
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device it lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The W+ latents of generator samples `seeds` (no truncation) and the faces the renderer
    /// draws for the same `z` (the generator was fitted to draw them).
    ///
    /// # Shapes
    /// `[seeds, n_latent, style_dim]`
    pub fn sample(&self, seeds: &[u64]) -> Result<(Tensor<3>, Vec<Face>)> {
        if seeds.is_empty() {
            return Err(Error::InvalidArgument("no seeds to sample".into()));
        }
        let g = &self.generator;
        let z = Tensor::cat(seeds.iter().map(|&s| g.sample_z(1, s)).collect(), 0);
        let d = g.config().style_dim;
        let values = crate::edit::host(z.clone())?;
        let faces = values.chunks_exact(d).map(Face::from_latent).collect();
        Ok((g.broadcast(g.mapping(z)), faces))
    }
}
