//! StyleGAN-NADA against the official `ZSSGAN/` code run unmodified on CPU on a tiny generator
//! and two tiny CLIPs (fixtures: `scripts/gen_nada_fixtures.py`): Δtext, the directional
//! (cosine, mse, mae), global and manifold losses, the image-target direction, the phase
//! presets, the layers adaptive selection picks, and 5 + 3 training steps (loss and every
//! synthesis parameter after each). Plus checkpoints, resuming, the run loop and the errors.

mod common;

use std::ops::ControlFlow;

use burn::module::Param;
use burn::prelude::*;
use common::{assert_close, fixture, load, scratch, tiny_clip_config};
use styleclip::clip::Clip;
use styleclip::edit::ClipInput;
use styleclip::edit::global_direction::IMAGENET_TEMPLATES;
use styleclip::edit::nada::{
    self, DirectionLoss, Nada, NadaTarget, NadaTrainer, Phase, image_direction, text_direction,
};
use styleclip::imaging::read_rgb8;
use styleclip::stylegan2::Generator;
use styleclip::tokenizer::Tokenizer;
use styleclip::weights::TensorFile;

const TOL: f32 = 1e-4;

struct World {
    device: Device,
    frozen: Generator,
    train: Generator,
    clip_a: Clip,
    clip_b: Clip,
    r: TensorFile,
    meta: serde_json::Value,
}

fn world() -> World {
    let device = Device::flex().autodiff();
    let frozen = Generator::load(fixture("nada/generator.pt"), &device).unwrap();
    let train = Generator::load(fixture("nada/generator_train.pt"), &device).unwrap();
    let clip_a = Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        &device,
    )
    .unwrap()
    .no_grad();
    // The second CLIP: the first with projections and temperature replaced.
    let delta = TensorFile::open(fixture("nada/clip2_delta.safetensors")).unwrap();
    let mut clip_b = clip_a.clone();
    clip_b.visual.proj = Param::from_tensor(load(&delta, "visual.proj", &device));
    clip_b.text_projection = Param::from_tensor(load(&delta, "text_projection", &device));
    let (ls, _) = delta.read_f32("logit_scale").unwrap();
    clip_b.logit_scale = Param::from_tensor(Tensor::from_data(TensorData::new(ls, [1]), &device));
    let clip_b = clip_b.no_grad();
    let r = TensorFile::open(fixture("nada/ref.safetensors")).unwrap();
    let meta = serde_json::from_str(&r.metadata()["meta"]).unwrap();
    World {
        device,
        frozen,
        train,
        clip_a,
        clip_b,
        r,
        meta,
    }
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

fn close_scalar(what: &str, got: f32, want: f32) {
    let err = (got - want).abs() / want.abs().max(1e-3);
    assert!(err <= TOL, "{what}: {got} vs official {want} (rel {err:e})");
    eprintln!("{what}: rel err {err:.2e}");
}

#[test]
fn text_direction_and_losses_match_official() {
    let w = world();
    let tok = Tokenizer::new();
    let a: Tensor<4> = load(&w.r, "imgs_a", &w.device);
    let b: Tensor<4> = load(&w.r, "imgs_b", &w.device);
    assert_eq!(w.meta["n_templates"], 79);
    let targets = [
        read_rgb8(fixture("nada/target0.png")).unwrap(),
        read_rgb8(fixture("nada/target1.png")).unwrap(),
    ];
    for (name, clip) in [("A", &w.clip_a), ("B", &w.clip_b)] {
        let dt = text_direction(clip, &tok, "photo", "sketch").unwrap();
        let want: Tensor<2> = load(&w.r, &format!("{name}_text_direction"), &w.device);
        assert_close(&format!("{name} Δtext"), dt.clone(), want, TOL);
        for (kind, key) in [
            (DirectionLoss::Cosine, "cosine"),
            (DirectionLoss::Mse, "mse"),
            (DirectionLoss::Mae, "mae"),
        ] {
            let l = nada::directional_loss(
                clip,
                ClipInput::Normalized,
                a.clone(),
                b.clone(),
                dt.clone(),
                kind,
            )
            .unwrap();
            let want = w.r.read_f32(&format!("{name}_dir_{key}")).unwrap().0[0];
            close_scalar(&format!("{name} directional {key}"), scalar(l), want);
        }
        for (text, key) in [("a sketch", "global_a"), ("sketch", "global_raw")] {
            let t = tok.tokenize(&[text], &w.device).unwrap();
            let t = styleclip::clip::model::l2_normalize(clip.encode_text(t));
            let l = nada::global_loss(clip, ClipInput::Normalized, b.clone(), t).unwrap();
            let want = w.r.read_f32(&format!("{name}_{key}")).unwrap().0[0];
            close_scalar(&format!("{name} {key}"), scalar(l), want);
        }
        let cos_text =
            nada::manifold_text(clip, &tok, "photo", "sketch", &IMAGENET_TEMPLATES).unwrap();
        let l = nada::manifold_loss(clip, ClipInput::Normalized, a.clone(), b.clone(), cos_text)
            .unwrap();
        let want = w.r.read_f32(&format!("{name}_manifold")).unwrap().0[0];
        close_scalar(&format!("{name} manifold"), scalar(l), want);
        let d = image_direction(clip, ClipInput::Normalized, a.clone(), &targets).unwrap();
        let want: Tensor<2> = load(&w.r, &format!("{name}_img2img"), &w.device);
        assert_close(&format!("{name} image direction"), d, want, TOL);
    }
}

#[test]
fn phase_presets_match_official() {
    let w = world();
    for (name, phase) in [
        ("texture", Phase::Texture),
        ("shape", Phase::Shape),
        ("no_fine", Phase::NoFine),
        ("shape_expanded", Phase::ShapeExpanded),
        ("all", Phase::All),
        ("None", Phase::AllConvs),
    ] {
        assert_eq!(Phase::from_name(name).unwrap(), phase);
        let want: Vec<String> = w.meta["phases"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            // Children without parameters in the official generator.
            .filter(|m| m != "upsamples" && m != "noises")
            .collect();
        assert_eq!(phase.modules(6), want, "phase {name}");
    }
}

/// The synthesis parameters (official keys, fixture order) of `g`, flattened.
fn params(g: &Generator, keys: &[String]) -> Vec<f32> {
    let sd: std::collections::HashMap<String, TensorData> = g.state_dict().into_iter().collect();
    keys.iter()
        .flat_map(|k| {
            sd.get(k)
                .unwrap_or_else(|| panic!("no parameter {k}"))
                .clone()
                .try_into_vec_as::<f32>()
                .unwrap()
        })
        .collect()
}

fn max_rel(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());

    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn setting_a<'a>(w: &'a World) -> Nada<'a> {
    Nada::new(NadaTarget::text("photo", "sketch"))
        .with_clip_models(vec![(&w.clip_a, 1.0), (&w.clip_b, 0.5)])
        .with_lambdas(1.0, 0.5, 0.3)
        .with_auto_layers(2, 2)
        .with_auto_layer_batch(3)
        .with_batch(2)
        .with_train_generator(&w.train)
}

fn z_at(w: &World, key: &str, i: usize) -> Tensor<2> {
    let all: Tensor<3> = load(&w.r, key, &w.device);
    let [_, b, d] = all.dims();
    all.narrow(0, i, 1).reshape([b, d])
}

#[test]
fn training_with_layer_selection_matches_official() {
    let w = world();
    let keys = strings(&w.meta["a_keys"]);
    let (want_params, shape) = w.r.read_f32("a_params").unwrap();
    let want_loss = w.r.read_f32("a_loss").unwrap().0;
    let chosen = w.meta["a_chosen"].as_array().unwrap();
    let nada = setting_a(&w);
    let mut trainer = NadaTrainer::new(&nada, &w.frozen).unwrap();
    let dir = scratch("nada-resume");
    let mut worst = 0f32;
    for i in 0..shape[0] {
        let rows = trainer.select_layers(z_at(&w, "a_zsel", i)).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            trainer.trainable_modules(),
            strings(&chosen[i]).as_slice(),
            "step {i}: layers picked"
        );
        let record = trainer.step(z_at(&w, "a_z", i)).unwrap();
        assert_eq!(record.step, i);
        close_scalar(&format!("step {i} loss"), record.loss as f32, want_loss[i]);
        let got = params(trainer.generator(), &keys);
        let e = max_rel(&got, &want_params[i * shape[1]..(i + 1) * shape[1]]);
        eprintln!("step {i}: parameters rel err {e:.2e}");
        assert!(e <= TOL, "step {i}: parameters rel err {e:e}");
        worst = worst.max(e);
        if i == 1 {
            trainer.save(dir.join("000002.safetensors")).unwrap();
        }
    }
    eprintln!("worst parameter error over the run: {worst:.2e}");

    // The checkpoint loads as a plain generator, and a resumed trainer continues exactly.
    let ckpt = dir.join("000002.safetensors");
    let loaded = Generator::load(&ckpt, &w.device).unwrap();
    let e = max_rel(
        &params(&loaded, &keys),
        &want_params[shape[1]..2 * shape[1]],
    );
    assert!(e <= TOL, "checkpoint parameters rel err {e:e}");
    let resumed = setting_a(&w).with_resume(&ckpt);
    let mut trainer = NadaTrainer::new(&resumed, &w.frozen).unwrap();
    assert_eq!(trainer.steps_done(), 2);
    for i in 2..shape[0] {
        trainer.select_layers(z_at(&w, "a_zsel", i)).unwrap();
        let record = trainer.step(z_at(&w, "a_z", i)).unwrap();
        assert_eq!(record.step, i);
        close_scalar(
            &format!("resumed step {i} loss"),
            record.loss as f32,
            want_loss[i],
        );
        let e = max_rel(
            &params(trainer.generator(), &keys),
            &want_params[i * shape[1]..(i + 1) * shape[1]],
        );
        assert!(e <= TOL, "resumed step {i}: parameters rel err {e:e}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn training_with_a_phase_matches_official() {
    let w = world();
    let keys = strings(&w.meta["b_keys"]);
    let (want_params, _) = w.r.read_f32("b_params").unwrap();
    let want_loss = w.r.read_f32("b_loss").unwrap().0;
    let nada = Nada::new(NadaTarget::text("photo", "sketch"))
        .with_clip_models(vec![(&w.clip_a, 1.0)])
        .with_phase(Phase::Texture)
        .with_direction_loss(DirectionLoss::Mse)
        .with_auto_layers(0, 0)
        .with_train_generator(&w.train);
    let mut trainer = NadaTrainer::new(&nada, &w.frozen).unwrap();
    assert!(trainer.select_layers(z_at(&w, "b_zsel", 0)).is_err());
    for (i, want) in want_loss.iter().enumerate() {
        let record = trainer.step(z_at(&w, "b_z", i)).unwrap();
        assert!(record.rows.is_empty());
        close_scalar(&format!("phase step {i} loss"), record.loss as f32, *want);
    }
    let e = max_rel(&params(trainer.generator(), &keys), &want_params);
    eprintln!("phase texture: final parameters rel err {e:.2e}");
    assert!(e <= TOL, "final parameters rel err {e:e}");
}

#[test]
fn run_loop_writes_checkpoints_and_stops_early() {
    let w = world();
    let dir = scratch("nada-run");
    let nada = setting_a(&w)
        .with_steps(3)
        .with_mixing(0.9)
        .with_checkpoints(&dir, 1);
    let mut seen = Vec::new();
    let run = nada
        .run(&w.frozen, |s| {
            seen.push(s.record.loss);
            if s.record.step == 1 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(run.history.len(), 2);
    assert!(seen.iter().all(|l| l.is_finite()));
    assert_eq!(run.history[1].rows.len(), 2);
    // Step 1 is saved (official: i > 0 and i % save_interval == 0); step 0 is not.
    assert!(!dir.join("000000.safetensors").exists());
    let g = Generator::load(dir.join("000001.safetensors"), &w.device).unwrap();
    assert_eq!(g.config(), w.frozen.config());
    assert_eq!(run.generator.config(), w.frozen.config());
    // Same seed, same run.
    let again = setting_a(&w)
        .with_steps(2)
        .with_mixing(0.9)
        .run(&w.frozen, |_| ())
        .unwrap();
    assert_eq!(again.history, run.history);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn errors_are_clear() {
    let w = world();
    let text = || NadaTarget::text("photo", "sketch");
    let msg = |r: Result<NadaTrainer, styleclip::Error>| match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    };
    let e = msg(NadaTrainer::new(&Nada::new(text()), &w.frozen));
    assert!(e.contains("CLIP model"), "{e}");
    let models = || vec![(&w.clip_a, 1.0)];
    let e = msg(NadaTrainer::new(
        &Nada::new(NadaTarget::text("", "sketch")).with_clip_models(models()),
        &w.frozen,
    ));
    assert!(e.contains("empty"), "{e}");
    let e = msg(NadaTrainer::new(
        &Nada::new(text())
            .with_clip_models(models())
            .with_lambdas(0.0, 0.0, 0.0),
        &w.frozen,
    ));
    assert!(e.contains("not all 0"), "{e}");
    let e = msg(NadaTrainer::new(
        &Nada::new(text())
            .with_clip_models(models())
            .with_auto_layers(99, 1),
        &w.frozen,
    ));
    assert!(e.contains("auto_layer_k"), "{e}");
    let e = msg(NadaTrainer::new(
        &Nada::new(NadaTarget::images(vec![], "sketch")).with_clip_models(models()),
        &w.frozen,
    ));
    assert!(e.contains("at least one image"), "{e}");
    let e = msg(NadaTrainer::new(
        &Nada::new(text())
            .with_clip_models(models())
            .with_mixing(2.0),
        &w.frozen,
    ));
    assert!(e.contains("mixing"), "{e}");
    // A CLIP on another device than the generator; a generator without autodiff.
    let plain = Device::flex();
    let clip_plain = Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        &plain,
    )
    .unwrap();
    let e = msg(NadaTrainer::new(
        &Nada::new(text()).with_clip_models(vec![(&clip_plain, 1.0)]),
        &w.frozen,
    ));
    assert!(e.contains("CLIP model 0 is on"), "{e}");
    let g_plain = Generator::load(fixture("nada/generator.pt"), &plain).unwrap();
    let e = msg(NadaTrainer::new(
        &Nada::new(text()).with_clip_models(vec![(&clip_plain, 1.0)]),
        &g_plain,
    ));
    assert!(e.contains("autodiff"), "{e}");
    // Empty templates.
    let tok = Tokenizer::new();
    let e = nada::text_direction_with_templates(&w.clip_a, &tok, "photo", "sketch", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no text templates"), "{e}");
    let e = nada::text_direction_with_templates(&w.clip_a, &tok, "a", "b", &["no slot"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `{}`"), "{e}");
    // z of the wrong shape; a NaN loss names the step.
    let nada = Nada::new(text())
        .with_clip_models(models())
        .with_auto_layers(0, 0);
    let mut trainer = NadaTrainer::new(&nada, &w.frozen).unwrap();
    let e = trainer
        .step(Tensor::zeros([2, 5], &w.device))
        .unwrap_err()
        .to_string();
    assert!(e.contains("z must be"), "{e}");
    let e = trainer
        .step(Tensor::full([2, 64], f32::NAN, &w.device))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at step 0"), "{e}");
}
