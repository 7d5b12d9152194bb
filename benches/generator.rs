//! Generator hot paths at 256 px config-f (channel multiplier 2, random weights):
//! synthesis at batch 1 and 4, fused vs unfused modulated convolution, and one backward pass
//! through synthesis to W+ (what latent optimisation runs every step).
//!
//! Compare with PyTorch on the same machine, in the same run: `scripts/bench_generator.sh`.
//! Device: `STYLECLIP_BENCH_DEVICE` (default `flex`; `wgpu`, `cuda` with their features).

use std::time::Duration;

use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use styleclip::device::device_from_name;
use styleclip::stylegan2::{Generator, GeneratorConfig, ModConvMode, NoiseMode};

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn synthesis(c: &mut Criterion) {
    let device = device();
    let g = Generator::new(GeneratorConfig::rosinality(256, 512, 8, 2), &device).unwrap();
    let mut group = c.benchmark_group("synthesis_256_config_f");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for batch in [1usize, 4] {
        let wp = g.broadcast(g.mapping(g.sample_z(batch, 0)));
        for mode in [ModConvMode::Auto, ModConvMode::Fused, ModConvMode::Unfused] {
            let g = g.clone().with_modconv_mode(mode);
            let id = BenchmarkId::new(format!("{mode:?}").to_lowercase(), batch);
            group.bench_with_input(id, &wp, |b, wp| {
                b.iter(|| {
                    let img = g.synthesis(wp.clone(), NoiseMode::Const);
                    img.into_data()
                })
            });
        }
    }
    group.finish();
}

fn backward(c: &mut Criterion) {
    let device = device().autodiff();
    let g = Generator::new(GeneratorConfig::rosinality(256, 512, 8, 2), &device)
        .unwrap()
        .no_grad();
    let mut group = c.benchmark_group("synthesis_backward_256_config_f");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let wp0 = g.broadcast(g.mapping(g.sample_z(1, 0))).detach();
    group.bench_function("batch_1", |b| {
        b.iter(|| {
            let wp = wp0.clone().require_grad();
            let loss = g
                .synthesis(wp.clone(), NoiseMode::Const)
                .powi_scalar(2)
                .mean();
            let grads = loss.backward();
            wp.grad(&grads).expect("gradient").into_data()
        })
    });
    group.finish();
}

criterion_group!(benches, synthesis, backward);
criterion_main!(benches);
