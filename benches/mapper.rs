//! Method 2, the latent mapper:
//! - `mapper_inference/levels_bN`: `ŵ = w + 0.1 · M(w)` for a LevelsMapper (18 × 512 W+);
//! - `mapper_edit_synthesis/1024`: the mapper edit plus config-f synthesis at 1024 px, batch 1
//!   (the paper's "75 ms" inference);
//! - `mapper_train_step/256`: one official coach step (batch 2: G(w), G(ŵ), ViT-B/32 CLIP term on
//!   the raw ×7/avg-pool input, MSE, ArcFace IR-SE50 ID term, backward, Ranger update) on a
//!   256 px config-f generator; `STYLECLIP_BENCH_1024=1` adds the official 1024 px.
//!
//! Random weights. Compare with PyTorch in the same run: `scripts/bench_mapper.sh`.

use std::time::Duration;

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use styleclip::arcface::ArcFace;
use styleclip::clip::{Clip, ClipConfig};
use styleclip::device::device_from_name;
use styleclip::edit::mapper::{
    AnyMapper, LevelsMapper, MapperOptions, MapperTrainer, MapperTraining,
};
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn inference(c: &mut Criterion) {
    let device = device();
    let m = LevelsMapper::new_seeded(MapperOptions::default(), 512, 0, &device).unwrap();
    let mut group = c.benchmark_group("mapper_inference");
    for b in [1, 8] {
        let w = Tensor::<3>::random([b, 18, 512], burn::tensor::Distribution::Default, &device);
        group.bench_function(format!("levels_b{b}"), |bench| {
            bench.iter(|| m.edit(w.clone()).into_data())
        });
    }
    group.finish();

    let g = Generator::new(GeneratorConfig::ffhq_config_f(), &device).unwrap();
    let w = g.broadcast(g.mapping(g.sample_z(1, 0)));
    let mut group = c.benchmark_group("mapper_edit_synthesis");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("1024", |bench| {
        bench.iter(|| g.synthesis(m.edit(w.clone()), NoiseMode::Const).into_data())
    });
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let device = device().autodiff();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device)
        .unwrap()
        .no_grad();
    let arcface = ArcFace::new_seeded(0, &device).unwrap().no_grad();
    let mut sizes = vec![256];
    if std::env::var("STYLECLIP_BENCH_1024").is_ok() {
        sizes.push(1024);
    }
    let mut group = c.benchmark_group("mapper_train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    for size in sizes {
        let g = Generator::new(GeneratorConfig::rosinality(size, 512, 8, 2), &device)
            .unwrap()
            .no_grad();
        let w = g.broadcast(g.mapping(g.sample_z(2, 0))).detach();
        let training = MapperTraining::new("mohawk hairstyle");
        let mapper = AnyMapper::new_seeded(MapperOptions::default(), &g, 0).unwrap();
        let mut trainer = MapperTrainer::new(&training, &g, &clip, Some(&arcface), mapper).unwrap();
        group.bench_function(format!("{size}"), |bench| {
            bench.iter(|| trainer.step(w.clone()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, inference, train_step);
criterion_main!(benches);
