//! StyleCLIP method 3 (global directions), random weights:
//! - `global_direction_edit/{size}`: one edit, Δs from fs3 `[6048, 512]` (β 0.15) + `s + αΔs` +
//!   synthesis from S at `size` (config-f, constant noise), read back to the host;
//! - `global_direction_text/vit_b_32`: Δt from a text pair (2 × 79 templates through ViT-B/32's
//!   text tower);
//! - `fs3_throughput/256`: channel relevance on a reduced configuration (256 px config-f,
//!   ViT-B/32), 2 channels × 2 images (8 generator + 8 CLIP forwards at 224 through the
//!   PIL-exact preprocessing), reported as channels per second.
//!
//! The edit runs at 256 px by default; `STYLECLIP_BENCH_1024=1` adds 1024 px (FFHQ config-f,
//! the paper's size).
//! Compare with the official PyTorch code in the same run: `scripts/bench_global_direction.sh`.

use std::ops::ControlFlow;
use std::time::Duration;

use burn::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use styleclip::clip::{Clip, ClipConfig, Tokenizer};
use styleclip::device::device_from_name;
use styleclip::edit::global_direction::{
    GlobalDirection, Relevance, RelevanceConfig, StatsConfig, StyleStats,
};
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};

fn normal(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn unit_rows(rows: usize, dim: usize, seed: u64) -> Relevance {
    let mut v = normal(rows * dim, seed);
    for r in v.chunks_mut(dim) {
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        r.iter_mut().for_each(|x| *x /= n);
    }
    Relevance::from_values(v, rows, dim).unwrap()
}

fn sizes() -> Vec<usize> {
    let mut sizes = vec![256];
    if std::env::var("STYLECLIP_BENCH_1024").is_ok() {
        sizes.push(1024);
    }
    sizes
}

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn config(size: usize) -> GeneratorConfig {
    if size == 1024 {
        GeneratorConfig::ffhq_config_f()
    } else {
        GeneratorConfig::rosinality(size, 512, 8, 2)
    }
}

fn stats(g: &Generator, device: &Device) -> StyleStats {
    StatsConfig::new(1000, 5)
        .compute(g, device, |_| {})
        .unwrap()
}

fn edit(c: &mut Criterion) {
    let device = device();
    let mut group = c.benchmark_group("global_direction_edit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for size in sizes() {
        let g = Generator::new(config(size), &device).unwrap();
        let stats = stats(&g, &device);
        let conv: usize = stats
            .layers()
            .iter()
            .filter(|l| l.kind == styleclip::stylegan2::LayerKind::Conv)
            .map(|l| l.channels)
            .sum();
        let fs3 = unit_rows(conv, 512, 1);
        let dir = GlobalDirection::from_vector(normal(512, 2), &device).unwrap();
        let styles = stats.sample_styles(&g, 1, &device).unwrap();
        group.bench_function(format!("{size}"), |b| {
            b.iter(|| {
                let delta = dir.style_delta(&fs3, &stats, 0.15).unwrap();
                let image = g.synthesis_from_styles(&delta.apply(&styles, 4.1), NoiseMode::Const);
                image.into_data()
            })
        });
    }
    group.finish();
}

fn text(c: &mut Criterion) {
    let device = device();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device).unwrap();
    let tok = Tokenizer::new();
    let mut group = c.benchmark_group("global_direction_text");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("vit_b_32", |b| {
        b.iter(|| GlobalDirection::from_text(&clip, &tok, "face", "smiling face").unwrap())
    });
    group.finish();
}

fn fs3(c: &mut Criterion) {
    let device = device();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device).unwrap();
    let (channels, images) = (2, 2);
    let mut group = c.benchmark_group("fs3_throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(channels as u64));
    // The reduced configuration only: 256 px config-f.
    let size = 256;
    let g = Generator::new(config(size), &device).unwrap();
    let stats = stats(&g, &device);
    let base = stats.sample_styles(&g, images, &device).unwrap();
    let run = RelevanceConfig::new(images).with_batch_size(2 * images);
    group.bench_function(format!("{size}"), |b| {
        b.iter(|| {
            run.compute_for_styles(&g, &clip, &stats, &base, None, |p| {
                if p.done >= channels {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, edit, text, fs3);
criterion_main!(benches);
