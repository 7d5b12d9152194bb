//! The toy world's CLIP: a tiny ViT [`Clip`] trained contrastively
//! ([`crate::clip::ContrastiveTraining`]) on renders of every style and their seeded captions,
//! and its zero-shot attribute classification by text prompts.
//!
//! Images enter CLIP exactly as StyleCLIP feeds generator output to it:
//! [`styleclip_raw`] of the `[-1, 1]` image (×7 nearest upsampling, average pooling to 224 px,
//! no normalisation), so every StyleCLIP method scores the toy generator's images in the
//! distribution CLIP was trained on.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::{
    Attribute, Attributes, Background, CLASS_COUNTS, Face, Glasses, HairColor, Hairstyle, Jitter,
    Mouth, Skin, Style,
};
use super::render::render_batch;
use crate::clip::preprocess::styleclip_raw;
use crate::clip::{Clip, ClipConfig, InvariantPairs, Pairs, RankedPairs, Tokenizer};
use crate::error::Result;

/// The toy CLIP's shape: 64-d joint space; a 3-block ViT of width 64 with 32 px patches on
/// 224 px input; a 2-block text transformer of width 32 over the official vocabulary and
/// 77-token context.
pub fn toy_clip_config() -> ClipConfig {
    ClipConfig {
        embed_dim: 64,
        image_resolution: 224,
        vision_layers: 3,
        vision_width: 64,
        vision_heads: 2,
        vision_patch_size: 32,
        context_length: 77,
        vocab_size: 49408,
        text_width: 32,
        text_heads: 2,
        text_layers: 2,
    }
}

/// The style of the `i`-th draw: 60 % photos, 20 % sketches, 20 % negatives.
fn style_of(u: f64) -> Style {
    match u {
        u if u < 0.6 => Style::Photo,
        u if u < 0.8 => Style::Sketch,
        _ => Style::Negative,
    }
}

/// `face` with attribute `k` (an [`Attributes::indices`] position) moved to another class
/// drawn from `rng`.
fn twin_of(face: Face, k: usize, rng: &mut StdRng) -> Face {
    let mut idx = face.attributes.indices();
    let n = CLASS_COUNTS[k];
    idx[k] = (idx[k] + rng.random_range(1..n)) % n;
    Face {
        attributes: Attributes::from_indices(idx),
        ..face
    }
}

/// Render faces grouped by style (`by_style[style.index()]` holds `(draw index, face)`), one
/// batch per style, and return the rows in draw order: `[N, 3, 64, 64]`.
fn render_in_order(by_style: &[Vec<(usize, Face)>; 3], device: &Device) -> Result<Tensor<4>> {
    let mut rows: Vec<(usize, Tensor<4>)> = Vec::new();
    for (k, group) in by_style.iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        let faces: Vec<Face> = group.iter().map(|(_, f)| *f).collect();
        let x = render_batch(&faces, Style::from_index(k), super::SIZE, device)?;
        for (j, (i, _)) in group.iter().enumerate() {
            rows.push((*i, x.clone().narrow(0, j, 1)));
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    Ok(Tensor::cat(rows.into_iter().map(|(_, t)| t).collect(), 0))
}

/// What a training batch mixes in besides random `(render, caption)` pairs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchMix {
    /// Probability that a draw is a pair of twins (see [`caption_pairs`]).
    pub twins: f64,
    /// [`invariant_pairs`] per batch (0: none).
    pub invariant: usize,
    /// [`ranked_pairs`] per batch (0: none).
    pub ranked: usize,
}

/// Step `step`'s batch of `(render, caption)` pairs, a function of `(seed, step, mix)` alone,
/// with `mix.invariant` [`invariant_pairs`] and `mix.ranked` [`ranked_pairs`].
///
/// With probability `mix.twins` a draw is a pair of *twins*: the same face, style and jitter
/// with one attribute changed (mouth and hairstyle most often; never a colour on sketches),
/// both captions naming that attribute. Random batches differ in many attributes at once, so a
/// contrastive model can ignore the small ones (measured: zero-shot mouth 32 % after 2700
/// steps without twins); twins are hard negatives that only the changed attribute separates.
pub fn caption_pairs(
    seed: u64,
    step: usize,
    batch: usize,
    mix: BatchMix,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<Pairs> {
    let twins = mix.twins;
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x2f1d_9b3c_0e4b_8a6b) ^ step as u64);
    let mut by_style: [Vec<(usize, Face)>; 3] = Default::default();
    let mut captions = vec![String::new(); batch];
    let mut i = 0;
    while i < batch {
        let s: u64 = rng.random();
        let style = style_of(rng.random());
        let face = Face {
            attributes: Attributes::sample(s),
            jitter: Jitter::sample(s),
        };
        if twins > 0.0 && i + 1 < batch && rng.random_bool(twins.min(1.0)) {
            // Attribute to change: weighted towards the small features.
            let options: &[usize] = if style == Style::Sketch {
                &[1, 2, 2, 3]
            } else {
                &[0, 1, 1, 2, 2, 2, 3, 4, 5]
            };
            let k = options[rng.random_range(0..options.len())];
            let twin = twin_of(face, k, &mut rng);
            for (j, f) in [(i, face), (i + 1, twin)] {
                captions[j] = f.attributes.caption_naming(style, s ^ j as u64, k);
                by_style[style.index()].push((j, f));
            }
            i += 2;
        } else {
            captions[i] = face.attributes.caption_seeded(style, s);
            by_style[style.index()].push((i, face));
            i += 1;
        }
    }
    let images = render_in_order(&by_style, device)?;
    let texts: Vec<&str> = captions.iter().map(String::as_str).collect();
    Ok(Pairs {
        pixels: styleclip_raw(images)?,
        tokens: tokenizer.tokenize(&texts, device)?,
        invariant: match mix.invariant {
            0 => None,
            n => Some(invariant_pairs(seed, step, n, tokenizer, device)?),
        },
        ranked: match mix.ranked {
            0 => None,
            n => Some(ranked_pairs(seed, step, n, tokenizer, device)?),
        },
    })
}

/// Step `step`'s `count` ranked pairs: a photo (one in five a negative), its twin with one
/// attribute changed, and a short caption ([`Attributes::caption_only`]) naming that attribute
/// of the first (one in three also names another, shared, attribute): "a smiling face" for a
/// smiling face and its frowning twin. Mouth and hairstyle are changed most often.
///
/// With [`invariant_pairs`] these are the two halves of what an edit toward a short caption
/// needs: the named change raises its score, an unnamed one leaves it.
pub fn ranked_pairs(
    seed: u64,
    step: usize,
    count: usize,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<RankedPairs> {
    let mut rng =
        StdRng::seed_from_u64(seed.wrapping_mul(0x7b3e_a1c5_92d4_6f01) ^ (step as u64) ^ 0x4a2);
    let (better, worse, tokens) = twin_pairs(&mut rng, count, tokenizer, device, |rng| {
        let k = [0, 1, 1, 2, 2, 2, 3, 4, 5][rng.random_range(0..9)];
        let mut named = vec![k];
        if rng.random_bool(1.0 / 3.0) {
            // A shared second attribute, never the other half of the hair.
            let options: Vec<usize> = (0..6).filter(|&j| j != k && !(j < 2 && k < 2)).collect();
            named.push(options[rng.random_range(0..options.len())]);
        }
        (named, k)
    })?;
    Ok(RankedPairs {
        better,
        worse,
        tokens,
    })
}

/// Step `step`'s `count` invariant pairs: a photo (one in five a negative) and its twin with
/// one attribute changed, and a short caption ([`Attributes::caption_only`]) naming one or two
/// *other* attributes, which describes both alike. Hair colour and hairstyle are never the
/// named/changed pair (a bald head shows its hair colour only on the eyebrows).
///
/// These are the pairs text-driven edits need: "a smiling face" must score a smiling face the
/// same whatever its hair, or an edit toward it changes the hair.
pub fn invariant_pairs(
    seed: u64,
    step: usize,
    count: usize,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<InvariantPairs> {
    let mut rng =
        StdRng::seed_from_u64(seed.wrapping_mul(0x51a7_3e09_c4d2_11f5) ^ (step as u64) ^ 0x1a7);
    let (first, second, tokens) = twin_pairs(&mut rng, count, tokenizer, device, |rng| {
        let first: usize = rng.random_range(0..6);
        let mut named = vec![first];
        if rng.random_bool(0.3) {
            let second = (first + rng.random_range(1..6)) % 6;
            named.push(second);
        }
        let hair = |k: usize| k < 2;
        let options: Vec<usize> = (0..6)
            .filter(|k| !named.contains(k))
            .filter(|&k| !(hair(k) && named.iter().any(|&n| hair(n))))
            .collect();
        let k = options[rng.random_range(0..options.len())];
        (named, k)
    })?;
    Ok(InvariantPairs {
        first,
        second,
        tokens,
    })
}

/// `count` twin pairs drawn from `rng`: a photo (one in five a negative), its twin with
/// attribute `k` changed, and the short caption of the first naming `named`, where `choose`
/// picks `(named, k)`. Returns both images through [`styleclip_raw`] and the caption tokens.
fn twin_pairs(
    rng: &mut StdRng,
    count: usize,
    tokenizer: &Tokenizer,
    device: &Device,
    mut choose: impl FnMut(&mut StdRng) -> (Vec<usize>, usize),
) -> Result<(Tensor<4>, Tensor<4>, Tensor<2, Int>)> {
    let mut firsts: [Vec<(usize, Face)>; 3] = Default::default();
    let mut seconds: [Vec<(usize, Face)>; 3] = Default::default();
    let mut captions = Vec::with_capacity(count);
    for i in 0..count {
        let s: u64 = rng.random();
        let style = if rng.random_bool(0.8) {
            Style::Photo
        } else {
            Style::Negative
        };
        let face = Face {
            attributes: Attributes::sample(s),
            jitter: Jitter::sample(s),
        };
        let (named, k) = choose(rng);
        let twin = twin_of(face, k, rng);
        captions.push(face.attributes.caption_only(style, s, &named));
        firsts[style.index()].push((i, face));
        seconds[style.index()].push((i, twin));
    }
    let texts: Vec<&str> = captions.iter().map(String::as_str).collect();
    Ok((
        styleclip_raw(render_in_order(&firsts, device)?)?,
        styleclip_raw(render_in_order(&seconds, device)?)?,
        tokenizer.tokenize(&texts, device)?,
    ))
}

/// The text prompts of zero-shot classification, one per class, for each attribute (in
/// [`Attributes::indices`] order) and then for the style.
pub fn zero_shot_prompts() -> Vec<(&'static str, Vec<String>)> {
    fn each<A: Attribute>(f: impl Fn(A) -> String) -> Vec<String> {
        A::ALL.iter().map(|&a| f(a)).collect()
    }
    vec![
        (
            HairColor::NAME,
            each(|c: HairColor| format!("a face with {} hair", c.word())),
        ),
        (
            Hairstyle::NAME,
            each(|h: Hairstyle| match h {
                Hairstyle::Bald => "a bald face".to_string(),
                Hairstyle::Mohawk => "a face with a mohawk hairstyle".to_string(),
                h => format!("a face with {}", h.word()),
            }),
        ),
        (
            Mouth::NAME,
            each(|m: Mouth| {
                match m {
                    Mouth::Smile => "a face with a smile",
                    Mouth::Neutral => "a face with a neutral expression",
                    Mouth::Frown => "a face with a frown",
                    Mouth::Open => "a face with an open mouth",
                }
                .to_string()
            }),
        ),
        (
            Glasses::NAME,
            each(|g: Glasses| {
                match g {
                    Glasses::None => "a face with no glasses",
                    Glasses::Round => "a face with round glasses",
                    Glasses::Sunglasses => "a face with sunglasses",
                }
                .to_string()
            }),
        ),
        (
            Skin::NAME,
            each(|s: Skin| format!("a face with {} skin", s.word())),
        ),
        (
            Background::NAME,
            each(|b: Background| format!("a face with a {} background", b.word())),
        ),
        (
            Style::NAME,
            each(|s: Style| {
                match s {
                    Style::Photo => "a photo of a face",
                    Style::Sketch => "a pencil sketch of a face",
                    Style::Negative => "a negative of a face",
                }
                .to_string()
            }),
        ),
    ]
}

/// Zero-shot accuracy of `clip` per attribute on `n` held-out photo renders (seeds from
/// `seed`), and of the style on `n` renders of each style: `(name, accuracy)` rows in
/// [`zero_shot_prompts`] order. Hair colour is scored on faces with hair only.
pub fn zero_shot_accuracy(
    clip: &Clip,
    tokenizer: &Tokenizer,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<(&'static str, f64)>> {
    let prompts = zero_shot_prompts();
    let text: Vec<Tensor<2>> = prompts
        .iter()
        .map(|(_, p)| {
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            Ok(crate::clip::model::l2_normalize(
                clip.encode_text(tokenizer.tokenize(&p, device)?),
            ))
        })
        .collect::<Result<_>>()?;
    let mut hits = vec![0usize; prompts.len()];
    let mut counts = vec![0usize; prompts.len()];
    for &style in Style::ALL {
        let faces: Vec<Face> = (0..n as u64)
            .map(|i| Face {
                attributes: Attributes::sample(seed + i),
                jitter: Jitter::sample(seed + i),
            })
            .collect();
        for chunk in faces.chunks(50) {
            let x = render_batch(chunk, style, super::SIZE, device)?;
            let img = crate::clip::model::l2_normalize(clip.encode_image(styleclip_raw(x)?));
            for (k, t) in text.iter().enumerate() {
                let is_style = k == prompts.len() - 1;
                if !is_style && style != Style::Photo {
                    continue;
                }
                let pick =
                    crate::edit::host(img.clone().matmul(t.clone().transpose()).argmax(1).float())?;
                for (face, p) in chunk.iter().zip(pick) {
                    let truth = if is_style {
                        style.index()
                    } else {
                        face.attributes.indices()[k]
                    };
                    if k == 0 && face.attributes.hairstyle == Hairstyle::Bald {
                        continue;
                    }
                    counts[k] += 1;
                    hits[k] += usize::from(p as usize == truth);
                }
            }
        }
    }
    Ok(prompts
        .iter()
        .zip(hits.iter().zip(&counts))
        .map(|((name, _), (&h, &c))| (*name, h as f64 / c.max(1) as f64))
        .collect())
}
