//! Method 1 against the official `run_optimization.py` `main`, run for a few steps on a tiny
//! generator and CLIP (fixtures: `scripts/gen_optimization_fixtures.py`): the learning rate, the
//! CLIP and L2 terms, and the latent after every step, in W+ and in StyleSpace.

mod common;

use common::tiny_clip_config;

use burn::prelude::*;
use common::{assert_close, fixture, load};
use styleclip::clip::Clip;
use styleclip::edit::optimization::{Latent, LatentOptimization, Space};
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::weights::TensorFile;

fn flat(latent: &Latent) -> Vec<f32> {
    match latent {
        Latent::WPlus(w) => w.clone().into_data().try_into_vec_as::<f32>().unwrap(),
        Latent::Styles(s) => s
            .layers()
            .iter()
            .flat_map(|t| t.clone().into_data().try_into_vec_as::<f32>().unwrap())
            .collect(),
    }
}

fn check(space: Space, name: &str) {
    let device = Device::flex().autodiff();
    let g = Generator::load(fixture("optimization/generator.pt"), &device)
        .unwrap()
        .no_grad();
    let clip = Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        &device,
    )
    .unwrap()
    .no_grad();
    let r = TensorFile::open(fixture("optimization/run.ref.safetensors")).unwrap();
    let steps: usize = r.metadata()["steps"].parse().unwrap();
    let start: Tensor<3> = load(&r, "start", &device);

    let mut latents = Vec::new();
    let result = LatentOptimization::new(r.metadata()["prompt"].clone())
        .with_steps(steps)
        .with_space(space)
        .run(&g, &clip, None, start.clone(), |step| {
            latents.push(flat(step.latent))
        })
        .unwrap();
    assert_eq!(result.history.len(), steps);

    let flex = Device::flex();
    let want_lr = r.read_f32(&format!("{name}_lr")).unwrap().0;
    let want_clip = r.read_f32(&format!("{name}_clip_loss")).unwrap().0;
    let (want_latents, shape) = r.read_f32(&format!("{name}_latents")).unwrap();
    let width = shape[1];
    let start_flat = match space {
        Space::WPlus => flat(&Latent::WPlus(start)),
        Space::StyleSpace => want_latents[..width].to_vec(), // step 0 has lr 0: still the start
    };
    for (i, rec) in result.history.iter().enumerate() {
        assert!(
            (rec.lr - want_lr[i] as f64).abs() < 1e-7,
            "{name} step {i}: lr {} vs {}",
            rec.lr,
            want_lr[i]
        );
        let d = (rec.clip_loss - want_clip[i] as f64).abs();
        assert!(
            d < 1e-4,
            "{name} step {i}: clip loss {} vs {}",
            rec.clip_loss,
            want_clip[i]
        );
        // Official L2: Σ (latent before this step − start)².
        let before = if i == 0 {
            &start_flat[..]
        } else {
            &want_latents[(i - 1) * width..i * width]
        };
        let l2: f64 = before
            .iter()
            .zip(&start_flat)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        assert!(
            (rec.l2_loss - l2).abs() <= 1e-4 * l2.max(1e-3),
            "{name} step {i}: l2 {} vs {l2}",
            rec.l2_loss
        );
        let ours = Tensor::<1>::from_floats(latents[i].as_slice(), &flex);
        let want = Tensor::<1>::from_floats(&want_latents[i * width..(i + 1) * width], &flex);
        assert_close(&format!("{name} latent after step {i}"), ours, want, 1e-4);
    }
    // Official quirk: the returned image is the last forward's, i.e. G(latent before the last
    // update); ours is G(final latent). Check the official image against ours one step back.
    let before_last = &latents[steps - 2];
    let image = match space {
        Space::WPlus => {
            let (n, d) = (g.config().n_latent(), g.config().style_dim);
            let w = Tensor::<1>::from_floats(before_last.as_slice(), &device).reshape([1, n, d]);
            g.synthesis(w, NoiseMode::Const)
        }
        Space::StyleSpace => {
            let mut offset = 0;
            let layers = g
                .style_layers()
                .iter()
                .map(|l| {
                    let t = Tensor::<1>::from_floats(
                        &before_last[offset..offset + l.channels],
                        &device,
                    );
                    offset += l.channels;
                    t.reshape([1, l.channels])
                })
                .collect();
            g.synthesis_from_styles(&g.style_code(layers).unwrap(), NoiseMode::Const)
        }
    };
    let want_img: Tensor<4> = load(&r, &format!("{name}_final_image"), &flex);
    assert_close(
        &format!("{name} official final image"),
        image.inner(),
        want_img,
        1e-4,
    );
}

#[test]
fn w_plus_matches_official_loop() {
    check(Space::WPlus, "wplus");
}

#[test]
fn stylespace_matches_official_loop() {
    check(Space::StyleSpace, "stylespace");
}

fn tiny(device: &Device) -> (Generator, Clip, Tensor<3>) {
    let g = Generator::load(fixture("optimization/generator.pt"), device)
        .unwrap()
        .no_grad();
    let clip = Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        device,
    )
    .unwrap()
    .no_grad();
    let r = TensorFile::open(fixture("optimization/run.ref.safetensors")).unwrap();
    let start: Tensor<3> = load(&r, "start", device);
    (g, clip, start)
}

#[test]
fn optimisation_lowers_the_clip_loss_and_keeps_l2_bounded() {
    let device = Device::flex().autodiff();
    let (g, clip, start) = tiny(&device);
    let result = LatentOptimization::new("a person with purple hair")
        .with_steps(30)
        .with_lr(0.02)
        .run(&g, &clip, None, start, |_| ())
        .unwrap();
    let h = &result.history;
    let first = h[0].clip_loss;
    let best = h.iter().map(|r| r.clip_loss).fold(f64::INFINITY, f64::min);
    assert!(
        best < first - 1e-3,
        "CLIP loss did not fall: first {first}, best {best}"
    );
    let last = h.last().unwrap();
    assert!(
        last.l2_loss.is_finite() && last.l2_loss < 50.0,
        "L2 ran away: {}",
        last.l2_loss
    );
}

#[test]
fn observer_stops_early_and_errors_are_typed() {
    use std::ops::ControlFlow;
    use styleclip::Error;
    let device = Device::flex().autodiff();
    let (g, clip, start) = tiny(&device);
    let opt = LatentOptimization::new("a face").with_steps(10);
    let r = opt
        .run(&g, &clip, None, start.clone(), |s| {
            if s.record.step == 1 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(r.history.len(), 2);

    let err = opt
        .clone()
        .with_id_lambda(0.005)
        .run(&g, &clip, None, start.clone(), |_| ())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = opt
        .run(&g, &clip, None, start.clone().narrow(1, 0, 3), |_| ())
        .unwrap_err();
    assert!(err.to_string().contains("start latent"), "{err}");
    let nan = start.mul_scalar(f64::NAN);
    let err = opt.run(&g, &clip, None, nan, |_| ()).unwrap_err();
    assert!(err.to_string().contains("step 0"), "{err}");

    let flex = Device::flex();
    let (g, clip, start) = tiny(&flex);
    let err = opt.run(&g, &clip, None, start, |_| ()).unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}

#[test]
fn identity_term_uses_arcface() {
    use styleclip::arcface::ArcFace;
    let device = Device::flex().autodiff();
    let (g, clip, start) = tiny(&device);
    let arcface = ArcFace::new_seeded(0, &device).unwrap().no_grad();
    let result = LatentOptimization::new("a face")
        .with_steps(3)
        .with_id_lambda(0.005)
        .run(&g, &clip, Some(&arcface), start, |_| ())
        .unwrap();
    let h = &result.history;
    // Step 0 has lr 0 and the image is the source: no identity change yet; then it appears.
    assert!(
        h[0].id_loss.abs() < 1e-5,
        "id loss at step 0: {}",
        h[0].id_loss
    );
    assert!(
        h[2].id_loss > 0.0,
        "id loss after two updates: {}",
        h[2].id_loss
    );
    let total = h[2].clip_loss + 0.008 * h[2].l2_loss + 0.005 * h[2].id_loss;
    assert!(
        (h[2].total - total).abs() < 1e-5,
        "total {} vs {total}",
        h[2].total
    );
}
