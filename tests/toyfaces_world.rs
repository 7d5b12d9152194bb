//! The shipped toy world (`weights/toyfaces/`), measured: the generator draws what the renderer
//! draws, CLIP classifies attributes zero-shot, and the three StyleCLIP methods reach the
//! prompt's attribute value while keeping the others, as the oracle reads them. The seeds here
//! (5000..) are not the benchmark's (1000..) and no prompt was tuned on them.
//!
//! These are issue 14's acceptance tests. They are ignored until the shipped networks meet
//! the targets (run them with `cargo test --test toyfaces_world -- --ignored`): on
//! 2026-12-02 the generator (4000 face-code steps, written mapping) agreed with the renderer
//! on 83.9 % of attributes (target 95 %), CLIP (3000 contrastive steps, then 3000 on twin
//! batches) classified mouths zero-shot at 53 % and hairstyles at 70 % (target 90 %), and the
//! statistics, fs3 and mappers, which depend on both, are not yet computed.

use burn::prelude::*;
use styleclip::stylegan2::NoiseMode;
use styleclip::toyfaces::contrastive::zero_shot_accuracy;
use styleclip::toyfaces::{Attributes, EditSettings, Method, ToyFaces};

fn world() -> ToyFaces {
    ToyFaces::load(&Device::flex()).expect("the shipped toy world loads")
}

const SEEDS: std::ops::Range<u64> = 5000..5016;

#[test]
#[ignore = "the shipped toy world is incomplete: stats, fs3 and mappers not computed yet"]
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
#[ignore = "the shipped generator is undertrained: 83.9% agreement (mouth 48.8%)"]
fn generator_draws_what_the_renderer_draws() {
    let w = world();
    let seeds: Vec<u64> = (20_000..20_200).collect();
    let (latents, faces) = w.sample(&seeds).unwrap();
    let images = w.generator.synthesis(latents, NoiseMode::Const);
    let read = w.oracle.classify(images).unwrap();
    let mut agree = [0usize; 6];
    for (r, f) in read.iter().zip(&faces) {
        for (k, (a, b)) in r.indices().iter().zip(f.attributes.indices()).enumerate() {
            agree[k] += usize::from(*a == b);
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
#[ignore = "the shipped CLIP is undertrained: mouth 53%, hairstyle 70% zero-shot"]
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
#[ignore = "the shipped toy world is incomplete: stats, fs3 and mappers not computed yet"]
fn method_1_optimization_edits() {
    check(Method::Optimization, &["a smiling face", "purple hair"]);
}

#[test]
#[ignore = "the shipped toy world is incomplete: stats, fs3 and mappers not computed yet"]
fn method_2_mapper_edits() {
    check(
        Method::Mapper,
        &["a smiling face", "purple hair", "mohawk hairstyle"],
    );
}

#[test]
#[ignore = "the shipped toy world is incomplete: stats, fs3 and mappers not computed yet"]
fn method_3_global_direction_edits() {
    check(
        Method::GlobalDirection,
        &["a smiling face", "purple hair", "mohawk hairstyle"],
    );
}
