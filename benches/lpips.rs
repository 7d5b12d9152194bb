//! LPIPS v0.1 (VGG16, random weights, f32): the distance of one image pair at 64 px and
//! 256 px, forward only and forward + backward to the first image (one projector step's loss).
//! Device: `STYLECLIP_BENCH_DEVICE` (default `flex`).

use std::time::Duration;

use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use styleclip::device::device_from_name;
use styleclip::lpips::Lpips;

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn distance(c: &mut Criterion) {
    let device = device();
    let net = Lpips::new_seeded(0, &device).unwrap();
    let ad = device.clone().autodiff();
    let net_ad = Lpips::new_seeded(0, &ad).unwrap();
    let mut group = c.benchmark_group("lpips_vgg16");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for size in [64usize, 256] {
        let img = |dev: &Device| {
            Tensor::<4>::random(
                [1, 3, size, size],
                burn::tensor::Distribution::Uniform(-1.0, 1.0),
                dev,
            )
        };
        let (a, b) = (img(&device), img(&device));
        group.bench_with_input(
            BenchmarkId::new("forward", size),
            &(a, b),
            |bench, (a, b)| bench.iter(|| net.distance(a.clone(), b.clone()).into_data()),
        );
        let (a, b) = (img(&ad), img(&ad));
        group.bench_with_input(
            BenchmarkId::new("backward", size),
            &(a, b),
            |bench, (a, b)| {
                bench.iter(|| {
                    let a = a.clone().require_grad();
                    let d = net_ad.distance(a.clone(), b.clone()).sum();
                    a.grad(&d.backward()).unwrap().into_data()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, distance);
criterion_main!(benches);
