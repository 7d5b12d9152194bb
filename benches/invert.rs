//! Inversion (issue 10), random weights, batch 1:
//! - `e4e_encode/256`, `e4e_encode/1024`: the e4e encoder (`Encoder4Editing(50, 'ir_se')`, IR-SE50
//!   trunk, feature pyramid, 14 heads for a 256 px generator, 18 for 1024 px) on one
//!   256 × 256 image, forward only (`Encoder4Editing::encode`);
//! - `projector_step/256`: one step of rosinality's projector (`Projector` in W+, LPIPS VGG16
//!   on, noise maps optimised) on a 256 px config-f generator: latent noise, synthesis with the
//!   given noise maps, LPIPS against the target + noise regulariser (+ MSE, weight 0), backward
//!   to the latent and every noise map, Adam on all of them, noise renormalisation.
//!   `projector_step/64` is the same on a 64 px config-f generator (a quick check).
//!
//! What `projector_step` times: `Projector::run` with `with_steps(1)`, from the call to the
//! end of step 0 (the observer's call, after the Adam update and the noise renormalisation;
//! every step's loss is read back as a scalar, so the step has been computed). The setup is
//! given and not timed: the latent statistics (the official 10 000 mapped z) through
//! `with_latent_stats`, the initial noise maps through `with_noises`; the final synthesis
//! `run` performs after its loop (the returned image) is not timed either.
//!
//! Compare with PyTorch in the same run: `scripts/bench_invert.sh`.
//! Device: `STYLECLIP_BENCH_DEVICE` (default `flex`; `wgpu`, `cuda` with their features).

use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use styleclip::device::device_from_name;
use styleclip::e4e::{E4eConfig, Encoder4Editing};
use styleclip::invert::projector::latent_stats;
use styleclip::invert::{Lpips, Projector};
use styleclip::stylegan2::{Generator, GeneratorConfig};

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn e4e_encode(c: &mut Criterion) {
    let device = device();
    let image = Tensor::<4>::random([1, 3, 256, 256], Distribution::Uniform(-1.0, 1.0), &device);
    let mut group = c.benchmark_group("e4e_encode");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for size in [256usize, 1024] {
        let e4e =
            Encoder4Editing::new_seeded(E4eConfig::official(size).unwrap(), 0, &device).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(size), &image, |b, image| {
            b.iter(|| e4e.encode(image.clone()).into_data())
        });
    }
    group.finish();
}

fn projector_step(c: &mut Criterion) {
    let device = device().autodiff();
    let lpips = Lpips::new_seeded(0, &device).unwrap();
    let mut group = c.benchmark_group("projector_step");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    for size in [64usize, 256] {
        let g = Generator::new(GeneratorConfig::rosinality(size, 512, 8, 2), &device)
            .unwrap()
            .no_grad();
        let (mean, std) = latent_stats(&g, g.sample_z(10_000, 0));
        let mean = mean.detach();
        let cfg = g.config().clone();
        let noises: Vec<Tensor<4>> = (0..cfg.num_noises())
            .map(|j| {
                let r = cfg.noise_size(j);
                Tensor::random([1, 1, r, r], Distribution::Normal(0.0, 1.0), &device)
            })
            .collect();
        let target = Tensor::<4>::random(
            [1, 3, size, size],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let projector = Projector::new()
            .with_steps(1)
            .with_w_plus(true)
            .with_latent_stats(mean, std)
            .with_noises(noises);
        group.bench_with_input(BenchmarkId::from_parameter(size), &target, |b, target| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let mut step_done = None;
                    projector
                        .run(&g, &lpips, target.clone(), |_| {
                            step_done = Some(start.elapsed());
                        })
                        .unwrap();
                    total += step_done.expect("one step");
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, e4e_encode, projector_step);
criterion_main!(benches);
