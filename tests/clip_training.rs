//! Contrastive CLIP training on the CPU: a tiny CLIP learns to pair four flat colours with
//! their names, a resumed run continues exactly, and `Clip::save` round-trips through
//! `Clip::load` (OpenAI key layout, configuration in the metadata, f32 and f16).

mod common;

use std::ops::ControlFlow;

use burn::prelude::*;
use common::{rel_err, scratch};
use styleclip::clip::{
    Clip, ContrastiveTraining, InvariantPairs, Pairs, RankedPairs, Tokenizer, invariance_loss,
    ranking_loss,
};
use styleclip::weights::Precision;

const COLOURS: [(&str, [f32; 3]); 4] = [
    ("a red square", [1.0, -1.0, -1.0]),
    ("a green square", [-1.0, 1.0, -1.0]),
    ("a blue square", [-1.0, -1.0, 1.0]),
    ("a yellow square", [1.0, 1.0, -1.0]),
];

/// Images of colours `order` (indices into `COLOURS`) with a little step-dependent noise.
fn colour_images(order: &[usize], step: usize, device: &Device) -> Tensor<4> {
    let b = order.len();
    let mut pixels = Vec::with_capacity(b * 3 * 224 * 224);
    for (n, &i) in order.iter().enumerate() {
        for (c, v) in COLOURS[i].1.iter().enumerate() {
            for p in 0..224 * 224 {
                let wobble = (((p * 31 + c * 7 + n * 13 + step * 5) % 17) as f32 - 8.0) * 0.02;
                pixels.push(v + wobble);
            }
        }
    }
    Tensor::from_data(TensorData::new(pixels, [b, 3, 224, 224]), device)
}

/// Step `step`'s batch: the four colours in a step-dependent order, with a little noise.
fn batch(step: usize, b: usize, device: &Device) -> Pairs {
    let tok = Tokenizer::new();
    let order: Vec<usize> = (0..b).map(|i| (i + step) % COLOURS.len()).collect();
    let texts: Vec<&str> = order.iter().map(|&i| COLOURS[i].0).collect();
    Pairs {
        pixels: colour_images(&order, step, device),
        tokens: tok.tokenize(&texts, device).unwrap(),
        invariant: None,
        ranked: None,
    }
}

/// Two pairs (red, green) and (blue, yellow) that the caption "a square" must score alike.
fn squares(step: usize, device: &Device) -> InvariantPairs {
    InvariantPairs {
        first: colour_images(&[0, 2], step, device),
        second: colour_images(&[1, 3], step + 7, device),
        tokens: Tokenizer::new()
            .tokenize(&["a square", "a square"], device)
            .unwrap(),
    }
}

fn training(steps: usize) -> ContrastiveTraining {
    ContrastiveTraining {
        steps,
        batch_size: 4,
        lr: 2e-3,
        warmup: 2,
        weight_decay: 0.1,
        ..ContrastiveTraining::default()
    }
}

#[test]
fn pairs_are_learned_and_resume_is_exact() {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let dir = scratch("clip-train");
    let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &device).unwrap();
    let mut history = Vec::new();
    let trained = training(30)
        .run(
            clip,
            |s, b| Ok(batch(s, b, &plain)),
            |r| {
                history.push(*r);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(history.len(), 30);
    let first = history[0].loss;
    let last: f32 = history[25..].iter().map(|r| r.loss).sum::<f32>() / 5.0;
    assert!(last < 0.5 * first, "loss {first} → {last}");
    assert!(history[29].accuracy == 1.0, "{:?}", history[29]);

    // Zero-shot on fresh images: each colour's best caption is its own.
    let pairs = batch(1000, 4, &plain);
    let (per_image, _) = trained.logits(pairs.pixels, pairs.tokens);
    let best = per_image
        .argmax(1)
        .reshape([4])
        .into_data()
        .try_into_vec_as::<i64>()
        .unwrap();
    assert_eq!(best, vec![0, 1, 2, 3], "zero-shot picks");

    // Stop after 12 steps with a checkpoint at 10, resume to 30: same weights as one run of 30.
    let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &device).unwrap();
    let run = ContrastiveTraining {
        checkpoint_dir: Some(dir.clone()),
        checkpoint_every: 10,
        ..training(30)
    };
    let mut seen = 0;
    run.run(
        clip,
        |s, b| Ok(batch(s, b, &plain)),
        |_| {
            seen += 1;
            if seen == 12 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    let fresh = Clip::new_seeded(common::tiny_clip_config(), 99, &device).unwrap();
    let mut resumed_steps = Vec::new();
    let resumed = run
        .run(
            fresh,
            |s, b| Ok(batch(s, b, &plain)),
            |r| {
                resumed_steps.push(r.step);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(resumed_steps.first(), Some(&11));
    for ((k, a), (_, b)) in resumed.state_dict().into_iter().zip(trained.state_dict()) {
        let (a, b) = (
            a.try_into_vec_as::<f32>().unwrap(),
            b.try_into_vec_as::<f32>().unwrap(),
        );
        let d = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-5, "{k} differs after resuming by {d:e}");
    }
}

/// The invariance term is the mean squared gap of the pairs' scores (checked against
/// `Clip::logits`), and training with it closes the gap that InfoNCE alone leaves on a caption
/// no batch pairs ("a square" on red vs green, blue vs yellow).
#[test]
fn invariance_term_equalises_a_captions_scores() {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let gap = |clip: &Clip| {
        let p = squares(1000, &plain);
        let score = |x: Tensor<4>| {
            let (per_image, _) = clip.logits(x, p.tokens.clone().narrow(0, 0, 1));
            per_image.reshape([2])
        };
        let d = score(p.first.clone()) - score(p.second.clone());
        let manual = d.clone().powi_scalar(2).mean().into_scalar::<f32>();
        let term = invariance_loss(clip, &p).unwrap().into_scalar::<f32>();
        let mismatched = InvariantPairs {
            second: p.second.clone().narrow(0, 0, 1),
            ..p.clone()
        };
        assert!(invariance_loss(clip, &mismatched).is_err());
        assert!(
            (manual - term).abs() <= 1e-4 * (1.0 + manual),
            "invariance_loss {term} vs logits {manual}"
        );
        d.abs().max().into_scalar::<f32>()
    };
    let train = |weight: f64| {
        let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &device).unwrap();
        let run = ContrastiveTraining {
            invariance_weight: weight,
            ..training(30)
        };
        let mut inv = Vec::new();
        let clip = run
            .run(
                clip,
                |s, b| {
                    Ok(Pairs {
                        invariant: Some(squares(s, &plain)),
                        ranked: None,
                        ..batch(s, b, &plain)
                    })
                },
                |r| {
                    inv.push(r.invariance);
                    ControlFlow::Continue(())
                },
            )
            .unwrap();
        (clip, inv)
    };
    let (plain_run, inv0) = train(0.0);
    let (inv_run, inv1) = train(5.0);
    assert!(inv0.iter().all(|&v| v == 0.0), "no term at λ = 0: {inv0:?}");
    assert!(inv1.iter().all(|&v| v.is_finite() && v >= 0.0));
    let (g0, g1) = (gap(&plain_run), gap(&inv_run));
    eprintln!("largest score gap on \"a square\": InfoNCE {g0:.3}, with invariance {g1:.3}");
    assert!(g0 > 0.2, "InfoNCE alone left no gap to close ({g0})");
    assert!(g1 < 0.25 * g0, "gap {g0} → {g1}");
}

/// "a warm square", a caption no batch pairs, must rank red above blue and yellow above
/// green.
fn warm(step: usize, device: &Device) -> RankedPairs {
    RankedPairs {
        better: colour_images(&[0, 3], step, device),
        worse: colour_images(&[2, 1], step + 7, device),
        tokens: Tokenizer::new()
            .tokenize(&["a warm square", "a warm square"], device)
            .unwrap(),
    }
}

/// The ranking term is the mean softplus of the pairs' score differences (checked against
/// `Clip::logits`), and training with it makes a caption that InfoNCE never saw rank its
/// images first, by a margin.
#[test]
fn ranking_term_orders_a_captions_scores() {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let margins = |clip: &Clip| {
        let p = warm(1000, &plain);
        let score = |x: Tensor<4>| {
            let (per_image, _) = clip.logits(x, p.tokens.clone().narrow(0, 0, 1));
            per_image.reshape([2])
        };
        let d = score(p.better.clone()) - score(p.worse.clone());
        let manual = burn::tensor::activation::softplus(-d.clone(), 1.0)
            .mean()
            .into_scalar::<f32>();
        let term = ranking_loss(clip, &p).unwrap().into_scalar::<f32>();
        assert!(
            (manual - term).abs() <= 1e-4 * (1.0 + manual),
            "ranking_loss {term} vs logits {manual}"
        );
        let mismatched = RankedPairs {
            tokens: p.tokens.clone().narrow(0, 0, 1),
            ..p.clone()
        };
        assert!(ranking_loss(clip, &mismatched).is_err());
        d.into_data().try_to_vec::<f32>().unwrap()
    };
    let train = |weight: f64| {
        let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &device).unwrap();
        let run = ContrastiveTraining {
            ranking_weight: weight,
            ..training(30)
        };
        let mut rank = Vec::new();
        let clip = run
            .run(
                clip,
                |s, b| {
                    Ok(Pairs {
                        ranked: Some(warm(s, &plain)),
                        ..batch(s, b, &plain)
                    })
                },
                |r| {
                    rank.push(r.ranking);
                    ControlFlow::Continue(())
                },
            )
            .unwrap();
        (clip, rank)
    };
    let (plain_run, rank0) = train(0.0);
    let (rank_run, rank1) = train(5.0);
    assert!(
        rank0.iter().all(|&v| v == 0.0),
        "no term at μ = 0: {rank0:?}"
    );
    assert!(rank1.iter().all(|&v| v.is_finite() && v >= 0.0));
    let (m0, m1) = (margins(&plain_run), margins(&rank_run));
    eprintln!("\"a warm square\" margins (red−blue, yellow−green): InfoNCE {m0:?}, ranked {m1:?}");
    assert!(
        m1.iter().all(|&m| m > 1.0),
        "ranking left a margin ≤ 1 logit: {m1:?}"
    );
    assert!(
        rank1[rank1.len() - 1] < 0.5 * rank1[0],
        "ranking loss {rank1:?}"
    );
}

#[test]
fn save_and_load_round_trip() {
    let device = Device::flex();
    let clip = Clip::new_seeded(common::tiny_clip_config(), 3, &device).unwrap();
    let tokens = Tokenizer::new()
        .tokenize(&["a face", "a sketch of a face"], &device)
        .unwrap();
    let pixels = batch(0, 2, &device).pixels;
    for (precision, tol) in [(Precision::F32, 1e-6), (Precision::F16, 2e-3)] {
        let path = scratch("clip-save").join(format!("{precision:?}.safetensors"));
        clip.save(&path, precision).unwrap();
        // 2 text heads of width 32 cannot be inferred from shapes: the metadata carries them.
        let back = Clip::load(&path, &device).unwrap();
        assert_eq!(back.config(), clip.config());
        let e = rel_err(
            back.encode_text(tokens.clone()),
            clip.encode_text(tokens.clone()),
        );
        assert!(e < tol, "{precision:?} text rel err {e}");
        let e = rel_err(
            back.encode_image(pixels.clone()),
            clip.encode_image(pixels.clone()),
        );
        assert!(e < tol, "{precision:?} image rel err {e}");
    }
}
