//! StyleGAN-NADA training (issue 11), random weights, f32: one training step on a 256 px
//! config-f generator (`GeneratorConfig::rosinality(256, 512, 8, 2)`) with one ViT-B/32 CLIP,
//! batch 2 (the README's `--batch 2`), text target "photo" → "sketch", the official loss
//! defaults (λ_direction 1, global and manifold 0, cosine), Adam at lr 0.002 · 4/5:
//! - `nada_step/phase_none`: adaptive layer selection off (`with_auto_layers(0, 0)`), phase
//!   `None` (constant input, `conv1` and every conv train). Timed: `NadaTrainer::step(z)`:
//!   z → w through the frozen mapping, the frozen synthesis (no grad) and the trainable one,
//!   both with the checkpoint's constant noise, CLIP's preprocessing and image encoder on the
//!   2 + 2 images, the directional loss (read back as a scalar), backward into the trainable
//!   layers, Adam on them.
//! - `nada_step/auto_layer_k1`: the official selection defaults (`k = 1`, 1 iteration, 8 W
//!   codes): `NadaTrainer::select_layers(z8)` (synthesis of 8 images, CLIP's global loss of the
//!   raw target text, backward to the W+ codes, one SGD step, the row scores read back) and then
//!   `step(z)` as above, training the one layer picked.
//!
//! Not timed: building the models, `NadaTrainer::new` (the 79-template text direction, the
//! generator copy, Adam's setup) and the z draws (fixed tensors, reused every iteration). The
//! trainer keeps training across iterations, as in a run; the warm-up absorbs step 0 (the only
//! one whose trainable images equal the frozen ones, so the zero-direction guard encodes them
//! once more).
//!
//! The official step does work this one does not: it draws fresh noise maps for both
//! generators every forward (`randomize_noise=True`; here the checkpoint's constant noise), and
//! its `determine_opt_layers` unfreezes the whole trainable generator first, so the selection's
//! backward also computes every synthesis weight's gradient (thrown away by `zero_grad`; here
//! the generator is frozen there and only the W+ codes get one), and runs CLIP's text encoder on
//! the target text at every call (`global_clip_loss` tokenises and encodes; here it is encoded
//! once in `NadaTrainer::new`).
//!
//! Compare with PyTorch in the same run: `scripts/bench_nada.sh`. Measured once, roughly, on a
//! busy 2-core machine (load 4–5: a training job and builds beside it), `--profile dev`
//! (styleclip at opt-level 1, dependencies at 3; no release build), against the official code
//! on PyTorch 2.15 CPU at 2 threads (single steps after a warm-up step, not the script's full
//! loop): `phase_none` 45.7 s (criterion, 10 samples, 43.0–48.3 s) vs 55.5 s right after it
//! (34.4 s earlier, under a different load), so ×0.8–1.3; `auto_layer_k1` about 143 s (only
//! criterion's warm-up iteration, step 0, was run) vs 123 s (earlier), about ×1.2. Treat these
//! as rough ratios, not timings.
//! Device: `STYLECLIP_BENCH_DEVICE` (default `flex`; `wgpu`, `cuda` with their features).

use std::time::Duration;

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use styleclip::clip::{Clip, ClipConfig};
use styleclip::device::device_from_name;
use styleclip::edit::nada::{Nada, NadaTarget, NadaTrainer};
use styleclip::stylegan2::{Generator, GeneratorConfig};

fn device() -> Device {
    let name = std::env::var("STYLECLIP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    device_from_name(&name).expect("STYLECLIP_BENCH_DEVICE")
}

fn nada_step(c: &mut Criterion) {
    let device = device().autodiff();
    let g = Generator::new(GeneratorConfig::rosinality(256, 512, 8, 2), &device).unwrap();
    let clip = Clip::new_seeded(ClipConfig::vit_b_32(), 0, &device)
        .unwrap()
        .no_grad();
    let z = Tensor::<2>::random([2, 512], Distribution::Normal(0.0, 1.0), &device);
    let z_select = Tensor::<2>::random([8, 512], Distribution::Normal(0.0, 1.0), &device);
    let base = Nada::new(NadaTarget::text("photo", "sketch"))
        .with_clip_models(vec![(&clip, 1.0)])
        .with_batch(2);
    let mut group = c.benchmark_group("nada_step");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));

    let nada = base.clone().with_auto_layers(0, 0);
    let mut trainer = NadaTrainer::new(&nada, &g).unwrap();
    group.bench_function("phase_none", |b| {
        b.iter(|| trainer.step(z.clone()).unwrap())
    });

    let nada = base.with_auto_layers(1, 1).with_auto_layer_batch(8);
    let mut trainer = NadaTrainer::new(&nada, &g).unwrap();
    group.bench_function("auto_layer_k1", |b| {
        b.iter(|| {
            trainer.select_layers(z_select.clone()).unwrap();
            trainer.step(z.clone()).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, nada_step);
criterion_main!(benches);
