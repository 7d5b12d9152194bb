//! One latent-optimisation step (forward and backward, the body of the official loop):
//! W+ → synthesis (config-f, constant noise) → StyleCLIP's raw CLIP input → ViT-B/32 logits
//! against one prompt → `1 − logits/100 + 0.008 Σ(Δw)²` → gradient w.r.t. W+.
//! 256 px by default; `STYLECLIP_BENCH_1024=1` adds 1024 px. Random weights.
//! Compare with PyTorch in the same run: `scripts/bench_optimization.sh`.

use std::time::Duration;

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use styleclip::clip::preprocess::styleclip_raw;
use styleclip::clip::{Clip, ClipConfig, Tokenizer};
use styleclip::device::device_from_name;
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};

fn step(c: &mut Criterion) {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = device_from_name(&name)
        .expect("STYLECLIP_BENCH_DEVICE")
        .autodiff();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device)
        .unwrap()
        .no_grad();
    let tokens = Tokenizer::new()
        .tokenize(&["a person with purple hair"], &device)
        .unwrap();
    let mut sizes = vec![256];
    if std::env::var("STYLECLIP_BENCH_1024").is_ok() {
        sizes.push(1024);
    }
    let mut group = c.benchmark_group("optimization_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    for size in sizes {
        let g = Generator::new(GeneratorConfig::rosinality(size, 512, 8, 2), &device)
            .unwrap()
            .no_grad();
        let wp0 = g.broadcast(g.mapping(g.sample_z(1, 0))).detach();
        group.bench_function(format!("{size}"), |b| {
            b.iter(|| {
                let wp = wp0.clone().require_grad();
                let image = g.synthesis(wp.clone(), NoiseMode::Const);
                let (logits, _) = clip.logits(styleclip_raw(image).unwrap(), tokens.clone());
                let clip_loss = logits.reshape([1]).div_scalar(100.0).neg().add_scalar(1.0);
                let l2 = (wp.clone() - wp0.clone())
                    .powi_scalar(2)
                    .sum()
                    .mul_scalar(0.008);
                let grads = (clip_loss + l2).backward();
                wp.grad(&grads).expect("gradient").into_data()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
