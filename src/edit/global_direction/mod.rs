//! Method 3: global directions in StyleSpace (official `global_torch/` and `global_directions/`).
//!
//! A text pair becomes a StyleSpace direction in milliseconds, after a one-off precomputation per
//! generator:
//!
//! ```text
//! 1. statistics   μ_c, σ_c of every style channel over N sampled latents       (StyleStats)
//! 2. relevance    fs3_c = normalise( mean_i normalise( f̂(G(s_i, c → μ_c + 5σ_c))
//!                                                  − f̂(G(s_i, c → μ_c − 5σ_c)) ) )  (Relevance)
//!                 with f̂ = E_I(x)/‖E_I(x)‖, over the M first samples, non-ToRGB channels only
//! 3. text         Δt = normalise( t̄(target) − t̄(neutral) ),
//!                 t̄(x) = normalise( mean_k normalise(E_T(template_k(x))) ), 79 templates
//!                                                                            (GlobalDirection)
//! 4. edit         r = fs3 · Δt;  r_c ← 0 where |r_c| < β;  r ← r / max|r|;
//!                 Δs_c = r_c · σ_c (ToRGB layers 0);  s' = s + α Δs          (style_delta, apply)
//! ```
//!
//! ```no_run
//! # use burn::prelude::*;
//! # use styleclip::clip::{Clip, Tokenizer};
//! # use styleclip::stylegan2::{Generator, NoiseMode};
//! use styleclip::edit::global_direction::{GlobalDirection, Relevance, StyleStats};
//! # fn main() -> styleclip::Result<()> {
//! # let device = Device::flex();
//! # let generator = Generator::load("g.pt", &device)?;
//! # let clip = Clip::load("ViT-B-32.pt", &device)?;
//! let stats = StyleStats::compute(&generator, 100_000, 5, &device, |_| {})?; // or ::load(path)
//! let fs3 = Relevance::compute(&generator, &clip, &stats, 100, |_| {})?; // or ::load_npy(path)
//! let dir = GlobalDirection::from_text(&clip, &Tokenizer::new(), "face", "smiling face")?;
//! let delta = dir.style_delta(&fs3, &stats, 0.15)?;
//! let wp = generator.broadcast(generator.mapping(generator.sample_z(1, 0)));
//! let styles = generator.styles(wp);
//! let image = generator.synthesis_from_styles(&delta.apply(&styles, 4.1), NoiseMode::Const);
//! # Ok(()) }
//! ```
//!
//! Official behaviour reproduced by default (each documented where it lives, with the fix as an
//! option where there is one):
//! - statistics: seed 5, ψ 0.7, truncation cutoff 8, population std; the torch variant leaves
//!   W+ rows ≥ cutoff untruncated, the TF variant tiles one truncated w ([`TruncationVariant`]);
//! - relevance: the shallow-copy quirk of `SingleChannel.py` (channels already visited stay at
//!   their mean, [`ChannelReset`]), the torch uint8 conversion that truncates (TF rounds,
//!   [`Quantize`]), images through the standard CLIP preprocessing;
//! - text: the 79 templates ([`IMAGENET_TEMPLATES`], `'a photo of many {}.'` left out);
//! - edit: thresholding with `|r| < β` dropped, max-normalisation, std scaling, ToRGB untouched,
//!   the automatic β of `Inference.py` ([`GlobalDirection::auto_beta`]).
//!
//! The official code samples z with NumPy's `RandomState(5)`; this crate draws its own normals
//! (as [`Generator::sample_z`](crate::stylegan2::Generator::sample_z) does), so statistics match the
//! official ones in distribution, not bit for bit. Given the same codes, every step matches.

mod direction;
mod relevance;
mod stats;

pub use direction::{AutoBeta, DirectionDelta, GlobalDirection, IMAGENET_TEMPLATES};
pub use relevance::{ChannelReset, Cost, Quantize, Relevance, RelevanceConfig, RelevanceProgress};
pub use stats::{StatsAccumulator, StatsConfig, StatsProgress, StyleStats, TruncationVariant};

use std::time::Duration;

/// Estimated time left, from the rate so far.
pub(crate) fn eta(elapsed: Duration, done: usize, total: usize) -> Option<Duration> {
    (done > 0).then(|| elapsed.mul_f64((total - done.min(total)) as f64 / done as f64))
}

pub(crate) use crate::edit::host;

/// FNV-1a over `f32` bit patterns, to recognise the inputs of a resumed run.
pub(crate) fn fnv1a(h: u64, values: &[f32]) -> u64 {
    values.iter().fold(h, |h, v| {
        v.to_le_bytes()
            .iter()
            .fold(h, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
    })
}

/// The FNV-1a offset basis.
pub(crate) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

pub(crate) use crate::weights::write_f32_safetensors;
