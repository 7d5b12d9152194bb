//! Parity with rosinality's `projector.py`, run as a script on CPU for 6 steps on the tiny
//! 32 px generator (fixtures: `scripts/gen_projector_fixtures.py`), in W and in W+ mode: the
//! target PNGs read as the script reads them, then every step's learning rate, latent-noise
//! strength, noise regulariser, MSE and total loss, and the final latent and noise maps, with
//! the script's own draws (latent statistics, initial noise maps, per-step latent noise).
//! Modes `w` and `wplus` replace the script's LPIPS by 0, so the loss is
//! `1e5 · noise_regularize + MSE` (`--mse 1`); mode `wplus_lpips` runs the official defaults
//! (`--mse 0`) with LPIPS on the formula weights of `tests/lpips_parity.rs`.

mod common;

use burn::prelude::*;
use common::{assert_close, fixture, load, lpips_formula};
use styleclip::imaging::load_image;
use styleclip::invert::projector::{PixelOnly, Projector};
use styleclip::lpips::Lpips;
use styleclip::stylegan2::Generator;
use styleclip::weights::TensorFile;

const STEPS: usize = 6;

fn check(mode: &str, w_plus: bool, with_lpips: bool) {
    let device = Device::flex().autodiff();
    let g = Generator::load(fixture("optimization/generator.pt"), &device)
        .unwrap()
        .no_grad();
    let r = TensorFile::open(fixture("projector/run.ref.safetensors")).unwrap();
    let key = |k: &str| format!("{mode}.{k}");
    let f64s = |k: &str| r.read_f32(&key(k)).unwrap().0;

    // The targets, as read from the PNGs, equal the script's tensors.
    let targets: Vec<Tensor<4>> = (0..2)
        .map(|i| load_image(fixture(&format!("projector/target{i}.png")), 32, &device).unwrap())
        .collect();
    let target = Tensor::cat(targets, 0);
    assert_close(
        "target",
        target.clone(),
        load(&r, &key("target"), &device),
        1e-6,
    );

    let n = 2;
    let rows = if w_plus { g.config().n_latent() } else { 1 };
    let draws_ref: Tensor<3> = if w_plus {
        load::<4>(&r, &key("draws"), &device).reshape([STEPS, n * rows, 512])
    } else {
        load::<3>(&r, &key("draws"), &device)
    };
    let projector = Projector::new()
        .with_steps(STEPS)
        .with_mse(if with_lpips { 0.0 } else { 1.0 })
        .with_w_plus(w_plus)
        .with_latent_stats(
            load(&r, &key("latent_mean"), &device),
            f64s("latent_std")[0] as f64,
        )
        .with_noises(
            (0..g.config().num_noises())
                .map(|j| load(&r, &key(&format!("noise0.{j}")), &device))
                .collect(),
        )
        .with_latent_noise_draws(
            (0..STEPS)
                .map(|s| draws_ref.clone().narrow(0, s, 1).reshape([n, rows, 512]))
                .collect(),
        );
    let out = if with_lpips {
        let lpips = Lpips::from_fn(&device, lpips_formula).unwrap();
        projector.run(&g, &lpips, target, |_| ())
    } else {
        projector.run(&g, &PixelOnly, target, |_| ())
    }
    .unwrap();
    assert_eq!(out.perceptual, with_lpips);

    let p_loss = f64s("p_loss");
    let (lr, strength, n_loss, mse, loss) = (
        f64s("lr"),
        f64s("strength"),
        f64s("n_loss"),
        f64s("mse"),
        f64s("loss"),
    );
    for (s, rec) in out.history.iter().enumerate() {
        let close = |what: &str, ours: f64, theirs: f32, tol: f64| {
            let theirs = theirs as f64;
            let err = (ours - theirs).abs() / theirs.abs().max(1e-12);
            assert!(
                err <= tol,
                "{mode} step {s} {what}: ours {ours}, official {theirs} (rel {err:.2e})"
            );
        };
        close("lr", rec.lr, lr[s], 1e-6);
        close("noise strength", rec.noise_strength, strength[s], 1e-5);
        close("noise regulariser", rec.noise_reg, n_loss[s], 1e-4);
        close("mse", rec.mse, mse[s], 1e-4);
        close("loss", rec.total, loss[s], 1e-4);
        if with_lpips {
            // Adam's first updates are nearly lr·sign(g): float noise in the 14.7 M-parameter
            // VGG's gradient grows about tenfold a step (measured 7e-8, 0, 9e-7, 2e-6, 5e-5,
            // 4e-4 over steps 0–5).
            close(
                "lpips",
                rec.lpips.unwrap(),
                p_loss[s],
                if s < 5 { 1e-4 } else { 1e-3 },
            );
        }
    }
    let final_ref: Tensor<3> = if w_plus {
        load(&r, &key("final_latent"), &device)
    } else {
        load::<2>(&r, &key("final_latent"), &device)
            .reshape([n, 1, 512])
            .repeat_dim(1, g.config().n_latent())
    };
    // With LPIPS the sixth update carries the growth above (measured 1.2e-3 on the latent).
    let tol = if with_lpips { 3e-3 } else { 1e-4 };
    assert_close(&format!("{mode} final latent"), out.latent, final_ref, tol);
    for (j, noise) in out.noises.into_iter().enumerate() {
        let theirs = load(&r, &key(&format!("noise.{j}")), &device);
        assert_close(&format!("{mode} noise map {j}"), noise, theirs, tol);
    }
}

#[test]
fn projector_matches_the_official_script_in_w() {
    check("w", false, false);
}

#[test]
fn projector_matches_the_official_script_in_w_plus() {
    check("wplus", true, false);
}

#[test]
fn projector_matches_the_official_script_with_lpips() {
    check("wplus_lpips", true, true);
}
