//! The shipped toy world (`weights/toyfaces/`), measured: the generator draws what the renderer
//! draws, CLIP classifies attributes zero-shot, and the three StyleCLIP methods reach the
//! prompt's attribute value while keeping the others, as the oracle reads them. The seeds here
//! (5000..) are not the benchmark's (1000..) and no prompt was tuned on them.
//!
//! These are issue 14's acceptance tests. Those the shipped networks do not meet yet are
//! ignored with the measured reason (run them with `cargo test --test toyfaces_world --
//! --ignored`). On 2026-12-03: the generator agreed with the renderer on 95.7 % of attributes
//! over 1000 samples (target 95 %); CLIP classified hairstyles and mouths zero-shot at 82.5 %
//! and 80.5 % on this test's renders (73 % and 87 % on `train_toyfaces`'; target 90 %); the
//! edits reach and keep far less than 80 % / 90 % (see the reasons below and the README's edit
//! benchmark).

use burn::prelude::*;
use styleclip::stylegan2::NoiseMode;
use styleclip::toyfaces::contrastive::zero_shot_accuracy;
use styleclip::toyfaces::inversion::toy_projector;
use styleclip::toyfaces::{Attributes, EditSettings, Method, ToyFaces};

fn world() -> ToyFaces {
    ToyFaces::load(&Device::flex()).expect("the shipped toy world loads")
}

const SEEDS: std::ops::Range<u64> = 5000..5016;

#[test]
fn the_oracle_reads_back_rendered_attributes() {
    let w = world();
    let mut hits = 0;
    for seed in SEEDS {
        let a = Attributes::sample(seed);
        let image = w.render(&a, seed);
        assert_eq!(image.dims(), [1, 3, 64, 64]);
        hits += usize::from(w.oracle.classify(image).unwrap()[0] == a);
    }
    assert!(hits >= 15, "the oracle read back {hits}/16 records");
}

#[test]
fn generator_draws_what_the_renderer_draws() {
    let w = world();
    let seeds: Vec<u64> = (20_000..21_000).collect(); // the 1000 samples
    let mut agree = [0usize; 6];
    for chunk in seeds.chunks(100) {
        let (latents, faces) = w.sample(chunk).unwrap();
        let images = w.generator.synthesis(latents, NoiseMode::Const);
        let read = w.oracle.classify(images).unwrap();
        for (r, f) in read.iter().zip(&faces) {
            for (k, (a, b)) in r.indices().iter().zip(f.attributes.indices()).enumerate() {
                agree[k] += usize::from(*a == b);
            }
        }
    }
    let per: Vec<f64> = agree
        .iter()
        .map(|&a| a as f64 / seeds.len() as f64)
        .collect();
    let all = agree.iter().sum::<usize>() as f64 / (6 * seeds.len()) as f64;
    println!("oracle agreement with the renderer on G(z), per attribute: {per:.3?}; all: {all:.3}");
    assert!(all >= 0.95, "agreement {all:.3} < 0.95 ({per:.3?})");
}

#[test]
#[ignore = "shipped CLIP zero-shot here: hairstyle 82.5%, mouth 80.5%, the rest >= 99.5%"]
fn clip_classifies_attributes_zero_shot() {
    let w = world();
    let table = zero_shot_accuracy(&w.clip, &w.tokenizer, 200, 8_000_000, w.device()).unwrap();
    println!("zero-shot accuracy: {table:.3?}");
    for (name, acc) in table {
        assert!(acc >= 0.9, "{name}: {acc:.3} < 0.9");
    }
}

fn check(method: Method, prompts: &[&str]) {
    let w = world();
    let seeds: Vec<u64> = SEEDS.collect();
    let settings = EditSettings::default();
    for prompt in prompts {
        let r = w
            .rates(method, prompt, &seeds, &settings)
            .unwrap()
            .unwrap_or_else(|| panic!("no shipped mapper for `{prompt}`"));
        println!(
            "{} `{prompt}`: target reached {:.0}%, others kept {:.0}% over {} seeds",
            method.name(),
            100.0 * r.reached,
            100.0 * r.kept,
            r.n
        );
        assert!(r.reached >= 0.8, "{} `{prompt}`: {r:?}", method.name());
        assert!(r.kept >= 0.9, "{} `{prompt}`: {r:?}", method.name());
    }
}

#[test]
#[ignore = "benchmark seeds: smiling 0% reached / 69% kept, purple hair 38% / 62%"]
fn method_1_optimization_edits() {
    check(Method::Optimization, &["a smiling face", "purple hair"]);
}

#[test]
#[ignore = "benchmark seeds: smiling 0%/50%, purple hair 69%/62%, mohawk 0%/56% reached/kept"]
fn method_2_mapper_edits() {
    check(
        Method::Mapper,
        &["a smiling face", "purple hair", "mohawk hairstyle"],
    );
}

#[test]
#[ignore = "benchmark seeds: smiling 0%/31%, purple hair 46%/50%, mohawk 25%/19% reached/kept"]
fn method_3_global_direction_edits() {
    check(
        Method::GlobalDirection,
        &["a smiling face", "purple hair", "mohawk hairstyle"],
    );
}

/// Faces the renderer draws (never the generator), projected into the shipped generator with
/// the pixel loss (the toy world has no LPIPS): W+, 200 steps, from the mean latent.
fn projected_renders(w: &ToyFaces) -> (Tensor<3>, Tensor<4>, Vec<Attributes>) {
    let seeds: Vec<u64> = INVERSION_SEEDS.collect();
    let truth: Vec<Attributes> = seeds.iter().map(|&s| Attributes::sample(s)).collect();
    let images = Tensor::cat(
        seeds
            .iter()
            .zip(&truth)
            .map(|(&s, a)| w.render(a, s))
            .collect(),
        0,
    );
    let out = w
        .invert(images, &toy_projector(200), |_| ())
        .expect("projection runs");
    assert!(!out.perceptual, "the toy world projects on the pixel loss");
    (out.latent, out.image, truth)
}

const INVERSION_SEEDS: std::ops::Range<u64> = 5100..5116;

#[test]
fn projected_renders_keep_their_attributes() {
    let w = world();
    let (_, recon, truth) = projected_renders(&w);
    let agreement = w.attribute_agreement(recon, &truth).unwrap();
    println!(
        "the oracle reads {:.1}% of the rendered attributes on the reconstructions",
        100.0 * agreement
    );
    assert!(agreement >= 0.9, "agreement {agreement}");
}

#[test]
#[ignore = "no method makes a face smile on the shipped weights yet (edit benchmark: 0%)"]
fn projected_renders_edit_to_a_smile() {
    let w = world();
    let (latent, recon, _) = projected_renders(&w);
    let before = w.oracle.classify(recon).unwrap();
    let targets = styleclip::toyfaces::prompt_targets("a smiling face");
    let settings = EditSettings::default();
    for method in Method::ALL {
        let Some(edited) = w
            .edit(method, "a smiling face", latent.clone(), &settings)
            .unwrap()
        else {
            continue;
        };
        let after = w.oracle.classify(edited).unwrap();
        let (mut reached, mut eligible) = (0, 0);
        for (b, a) in before.iter().zip(&after) {
            if styleclip::toyfaces::verdict(b, b, &targets).reached {
                continue;
            }
            eligible += 1;
            reached += styleclip::toyfaces::verdict(b, a, &targets).reached as usize;
        }
        println!("{}: smile reached on {reached}/{eligible}", method.name());
        assert!(4 * reached >= 3 * eligible, "{}", method.name());
    }
}
