//! The projector (rosinality's `projector.py`): its helper formulas against direct
//! computations, a tiny generator's own image recovered from the mean latent, and every bad
//! input refused with an error. Parity with the official loop: `tests/projector_parity.rs`.

mod common;

use std::ops::ControlFlow;

use burn::prelude::*;
use styleclip::invert::projector::{
    PixelOnly, Projector, Start, latent_stats, noise_normalize, noise_regularize,
};
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};

fn tiny(device: &Device) -> Generator {
    let cfg = GeneratorConfig {
        channels: vec![24, 20, 16],
        ..GeneratorConfig::rosinality(16, 32, 2, 1)
    };
    Generator::new_seeded(cfg, 7, device).unwrap().no_grad()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn seeded(dims: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    let n = dims.iter().product::<usize>();
    let mut s = seed;
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_data(TensorData::new(data, dims), device)
}

/// The regulariser written out with loops in f64: rolls by index, means over the whole
/// tensor, 2×2 mean pooling down to 8 px.
fn regularizer_by_loops(maps: &[(Vec<f64>, usize, usize)]) -> f64 {
    let mut loss = 0.0;
    for (data, n, size) in maps {
        let (mut x, mut r) = (data.clone(), *size);
        loop {
            let at = |x: &[f64], b: usize, i: usize, j: usize| x[(b * r + i) * r + j];
            let (mut sx, mut sy) = (0.0, 0.0);
            for b in 0..*n {
                for i in 0..r {
                    for j in 0..r {
                        sx += at(&x, b, i, j) * at(&x, b, i, (j + r - 1) % r);
                        sy += at(&x, b, i, j) * at(&x, b, (i + r - 1) % r, j);
                    }
                }
            }
            let count = (n * r * r) as f64;
            loss += (sx / count).powi(2) + (sy / count).powi(2);
            if r <= 8 {
                break;
            }
            let h = r / 2;
            let mut y = vec![0.0; n * h * h];
            for b in 0..*n {
                for i in 0..h {
                    for j in 0..h {
                        y[(b * h + i) * h + j] = (at(&x, b, 2 * i, 2 * j)
                            + at(&x, b, 2 * i + 1, 2 * j)
                            + at(&x, b, 2 * i, 2 * j + 1)
                            + at(&x, b, 2 * i + 1, 2 * j + 1))
                            / 4.0;
                    }
                }
            }
            x = y;
            r = h;
        }
    }
    loss
}

#[test]
fn noise_regularizer_equals_the_loops() {
    let device = Device::flex();
    // Correlated maps, so the terms are far from 0.
    let maps: Vec<Tensor<4>> = [(2, 4), (2, 8), (2, 32)]
        .iter()
        .enumerate()
        .map(|(k, &(n, r))| {
            let x = seeded([n, 1, r, r], 11 + k as u64, &device);
            x.clone() + x.slice([0..n, 0..1, 0..r, 0..1]).mul_scalar(0.7)
        })
        .collect();
    let ours = values(noise_regularize(&maps))[0];
    let reference = regularizer_by_loops(
        &maps
            .iter()
            .map(|m| (values(m.clone()), m.dims()[0], m.dims()[2]))
            .collect::<Vec<_>>(),
    );
    assert!(reference > 1e-3, "the test maps must be correlated");
    assert!(
        (ours - reference).abs() <= 1e-5 * reference,
        "ours {ours}, loops {reference}"
    );
}

#[test]
fn noise_normalize_gives_zero_mean_and_unit_unbiased_std() {
    let device = Device::flex();
    let x = seeded([2, 1, 8, 8], 3, &device)
        .mul_scalar(3.0)
        .add_scalar(0.5);
    let v = values(noise_normalize(x));
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(mean.abs() < 1e-6, "mean {mean}");
    assert!((var - 1.0).abs() < 1e-5, "unbiased variance {var}");
}

#[test]
fn latent_std_is_the_scalar_rms_spread() {
    let device = Device::flex();
    let g = tiny(&device);
    let z = g.sample_z(50, 1);
    let (mean, std) = latent_stats(&g, z.clone());
    let w = values(g.mapping(z));
    let m = values(mean);
    let d = m.len();
    let mut sum = 0.0;
    for row in w.chunks(d) {
        for (a, b) in row.iter().zip(&m) {
            sum += (a - b).powi(2);
        }
    }
    let expected = (sum / 50.0).sqrt();
    assert!(
        (std - expected).abs() < 1e-4 * expected,
        "{std} vs {expected}"
    );
}

/// A tiny generator's own image, projected from the mean latent with the pixel loss alone,
/// comes back: the MSE falls to a small fraction of where it started.
#[test]
fn projection_recovers_a_generated_image() {
    let device = Device::flex().autodiff();
    let g = tiny(&device);
    let w = g.mapping(g.sample_z(2, 5));
    let target = g.synthesis(g.broadcast(w), NoiseMode::Const).detach();
    for w_plus in [false, true] {
        let projector = Projector::new()
            .with_steps(150)
            .with_w_plus(w_plus)
            .with_seed(9);
        let mut seen = 0;
        let out = projector
            .run(&g, &PixelOnly, target.clone(), |_| {
                seen += 1;
            })
            .unwrap();
        assert!(!out.perceptual);
        assert_eq!(seen, 150);
        assert_eq!(out.latent.dims(), [2, g.config().n_latent(), 32]);
        assert_eq!(out.latent_path.len(), 1);
        let first = out.history[0].mse;
        let last = values((out.image.clone() - target.clone()).powi_scalar(2).mean())[0];
        println!("w_plus {w_plus}: MSE {first:.4} → {last:.5}");
        assert!(last < 0.1 * first, "MSE {first} → {last} (w_plus {w_plus})");
        assert!(out.history.iter().all(|r| r.lpips.is_none()));
        assert_eq!(out.history[0].lr, 0.0, "the official ramp starts at 0");
    }
}

#[test]
fn observer_stops_early_and_given_zero_noise_equals_no_noise() {
    let device = Device::flex().autodiff();
    let g = tiny(&device);
    let target = g
        .synthesis(g.broadcast(g.mapping(g.sample_z(1, 2))), NoiseMode::Const)
        .detach();
    let projector = Projector::new().with_steps(6).with_seed(4);
    let off = projector
        .clone()
        .with_latent_noise(0.0)
        .run(&g, &PixelOnly, target.clone(), |_| ())
        .unwrap();
    let zero = projector
        .clone()
        .with_latent_noise_draws(vec![Tensor::zeros([1, 1, 32], &device); 6])
        .run(&g, &None::<PixelOnly>, target.clone(), |_| ())
        .unwrap();
    assert_eq!(values(off.latent.clone()), values(zero.latent));
    let noisy = projector
        .clone()
        .run(&g, &PixelOnly, target.clone(), |_| ())
        .unwrap();
    assert_ne!(values(off.latent), values(noisy.latent));
    let stopped = projector
        .run(&g, &PixelOnly, target, |r| {
            if r.step == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(stopped.history.len(), 3);
}

/// A full-size image is mean-pooled to the comparison size as the official loop pools the
/// generator's output: a 512 px generator compares at 256.
#[test]
fn large_images_compare_at_256() {
    let device = Device::flex().autodiff();
    let cfg = GeneratorConfig {
        channels: vec![4, 4, 4, 4, 4, 4, 4, 4],
        ..GeneratorConfig::rosinality(512, 8, 1, 1)
    };
    let g = Generator::new_seeded(cfg, 1, &device).unwrap().no_grad();
    let full = g
        .synthesis(g.broadcast(g.mapping(g.sample_z(1, 3))), NoiseMode::Const)
        .detach();
    let pooled = full
        .clone()
        .reshape([1, 3, 256, 2, 256, 2])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([1, 3, 256, 256]);
    let p = Projector::new().with_steps(1).with_seed(2);
    let a = p.run(&g, &PixelOnly, full, |_| ()).unwrap();
    let b = p.run(&g, &PixelOnly, pooled, |_| ()).unwrap();
    assert_eq!(a.history[0].mse, b.history[0].mse);
}

#[test]
fn bad_inputs_are_errors() {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let g = tiny(&device);
    let p = Projector::new().with_steps(2);
    let target = Tensor::<4>::zeros([1, 3, 16, 16], &device);
    let err = |r: styleclip::Result<styleclip::invert::projector::Projection>| {
        r.expect_err("expected an error").to_string()
    };

    let e = err(p.run(&g, &PixelOnly, Tensor::zeros([1, 3, 8, 8], &device), |_| ()));
    assert!(e.contains("[N, 3, 16, 16]"), "{e}");
    let e = err(p
        .clone()
        .with_noises(vec![Tensor::zeros([1, 1, 4, 4], &device)])
        .run(&g, &PixelOnly, target.clone(), |_| ()));
    assert!(e.contains("needs 5 noise maps, got 1"), "{e}");
    let e = err(p
        .clone()
        .with_start(Start::WPlus(Tensor::zeros([1, 6, 32], &device)))
        .run(&g, &PixelOnly, target.clone(), |_| ()));
    assert!(
        e.contains("W+ start") && e.contains("Start::W([1, 32])"),
        "{e}"
    );
    let e = err(p
        .clone()
        .with_latent_noise_draws(vec![Tensor::zeros([1, 1, 32], &device)])
        .run(&g, &PixelOnly, target.clone(), |_| ()));
    assert!(e.contains("covers 1 steps of 2"), "{e}");
    let e = err(p
        .clone()
        .with_latent_stats(Tensor::zeros([31], &device), 1.0)
        .run(&g, &PixelOnly, target.clone(), |_| ()));
    assert!(e.contains("latent mean must be [32]"), "{e}");
    let e = err(p
        .clone()
        .with_steps(0)
        .run(&g, &PixelOnly, target.clone(), |_| ()));
    assert!(e.contains("steps ≥ 1"), "{e}");
    let frozen = tiny(&plain);
    let e = err(p.run(
        &frozen,
        &PixelOnly,
        Tensor::zeros([1, 3, 16, 16], &plain),
        |_| (),
    ));
    assert!(e.contains("autodiff"), "{e}");
}
