//! CLIP ViT-B/32 (random weights, f32): image encoding at batch 1 and 8, text encoding at
//! batch 1 and 8 (77 tokens). Compare with PyTorch in the same run: `scripts/bench_clip.sh`.
//! Device: `STYLECLIP_BENCH_DEVICE` (default `flex`).

use std::time::Duration;

use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use styleclip::clip::{Clip, ClipConfig, Tokenizer};
use styleclip::device::device_from_name;

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn encode(c: &mut Criterion) {
    let device = device();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device).unwrap();
    let tok = Tokenizer::new();
    let mut group = c.benchmark_group("clip_vit_b_32");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for batch in [1usize, 8] {
        let pixels = Tensor::<4>::random(
            [batch, 3, 224, 224],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        group.bench_with_input(BenchmarkId::new("encode_image", batch), &pixels, |b, x| {
            b.iter(|| clip.encode_image(x.clone()).into_data())
        });
        let texts: Vec<&str> = ["a face with blonde hair"; 8][..batch].to_vec();
        let tokens = tok.tokenize(&texts, &device).unwrap();
        group.bench_with_input(BenchmarkId::new("encode_text", batch), &tokens, |b, t| {
            b.iter(|| clip.encode_text(t.clone()).into_data())
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
