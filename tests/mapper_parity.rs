//! Method 2 against the official code (fixtures: `scripts/gen_mapper_fixtures.py`): the mappers
//! of `mapper/latent_mappers.py` loaded from checkpoints in the official format, their forward
//! passes, the official optimisers, and the official coach's first training steps.

mod common;

use common::tiny_clip_config;

use burn::prelude::*;
use common::{assert_close, fixture, load, rel_err, scratch};
use styleclip::Error;
use styleclip::clip::Clip;
use styleclip::edit::mapper::{
    AnyMapper, LevelsMapper, MapperCheckpoint, MapperKind, MapperTrainer, MapperTraining,
};
use styleclip::edit::optim::{Adam, Moments, Optimizer, OptimizerKind, Ranger};
use styleclip::stylegan2::Generator;
use styleclip::weights::TensorFile;

fn reference() -> TensorFile {
    TensorFile::open(fixture("mapper/mapper.ref.safetensors")).unwrap()
}

#[test]
fn levels_mapper_matches_official_forward() {
    let device = Device::flex();
    let r = reference();
    let w: Tensor<3> = load(&r, "w", &device);
    let m = LevelsMapper::load(fixture("mapper/levels.pt"), &device).unwrap();
    assert_close(
        "levels delta",
        m.forward(w.clone()),
        load(&r, "levels.delta", &device),
        1e-5,
    );
    assert_close(
        "levels edit",
        m.edit(w.clone()),
        load(&r, "levels.edited", &device),
        1e-5,
    );

    let ckpt = MapperCheckpoint::open(fixture("mapper/levels_no_coarse.pt")).unwrap();
    assert!(ckpt.options().no_coarse && !ckpt.options().no_medium && !ckpt.options().no_fine);
    assert_eq!(ckpt.description(), Some("curly hair"));
    assert_eq!(ckpt.opts()["learning_rate"], serde_json::json!(0.5));
    let AnyMapper::Levels(m) = ckpt.mapper(&device).unwrap() else {
        panic!("not a LevelsMapper")
    };
    assert!(m.course_mapping.is_none());
    let delta = m.forward(w.clone());
    assert_close(
        "no_coarse delta",
        delta.clone(),
        load(&r, "no_coarse.delta", &device),
        1e-5,
    );
    let coarse: f32 = delta.slice([0..3, 0..4, 0..64]).abs().max().into_scalar();
    assert_eq!(coarse, 0.0, "the coarse rows must not move");
}

#[test]
fn single_and_stylespace_mappers_match_official_forward() {
    let device = Device::flex();
    let r = reference();
    let w: Tensor<3> = load(&r, "w", &device);
    let AnyMapper::Single(m) = AnyMapper::load(fixture("mapper/single.pt"), &device).unwrap()
    else {
        panic!("not a SingleMapper")
    };
    assert_close(
        "single delta",
        m.forward(w),
        load(&r, "single.delta", &device),
        1e-5,
    );

    let ckpt = MapperCheckpoint::open(fixture("mapper/stylespace.pt")).unwrap();
    assert_eq!(ckpt.options().kind, MapperKind::StyleSpace);
    let g = ckpt.generator(&device).unwrap();
    let AnyMapper::StyleSpace(m) = ckpt.mapper(&device).unwrap() else {
        panic!("not a StyleSpace mapper")
    };
    let n = g.style_layers().len();
    let s: Vec<Tensor<2>> = (0..n)
        .map(|i| load(&r, &format!("stylespace.s{i}"), &device))
        .collect();
    let code = g.style_code(s).unwrap();
    let out = m.forward(&code).unwrap();
    for (i, o) in out.into_iter().enumerate() {
        let expected: Tensor<2> = load(&r, &format!("stylespace.delta{i}"), &device);
        if g.style_layers()[i].kind == styleclip::stylegan2::LayerKind::ToRgb {
            let z: f32 = o.abs().max().into_scalar();
            assert_eq!(z, 0.0, "ToRGB layer {i} must not move");
        } else {
            assert_close(&format!("stylespace layer {i}"), o, expected, 1e-5);
        }
    }
}

#[test]
fn checkpoint_pieces_and_errors() {
    let device = Device::flex();
    // The embedded generator loads through both entry points.
    let g = Generator::load(fixture("mapper/levels.pt"), &device).unwrap();
    assert_eq!((g.config().size, g.config().style_dim), (64, 64));

    // Own format round trip, which has no generator.
    let m = AnyMapper::load(fixture("mapper/levels_no_coarse.pt"), &device).unwrap();
    let dir = scratch("mapper-roundtrip");
    let path = dir.join("m.safetensors");
    let opts = MapperCheckpoint::open(fixture("mapper/levels_no_coarse.pt"))
        .unwrap()
        .opts()
        .clone();
    m.save(&path, &opts).unwrap();
    let ckpt = MapperCheckpoint::open(&path).unwrap();
    assert_eq!(ckpt.description(), Some("curly hair"));
    assert!(ckpt.options().no_coarse);
    let back = ckpt.mapper(&device).unwrap();
    let w = Tensor::<3>::random([2, 10, 64], burn::tensor::Distribution::Default, &device);
    assert_eq!(
        rel_err(back.edit(w.clone()).unwrap(), m.edit(w).unwrap()),
        0.0
    );
    assert!(matches!(
        ckpt.generator(&device),
        Err(Error::MissingKey { .. })
    ));

    // A generator checkpoint is not a mapper; a StyleSpace mapper is not a LevelsMapper.
    assert!(matches!(
        MapperCheckpoint::open(fixture("stylegan2/g4_min.pt")),
        Err(Error::NotACheckpoint { .. })
    ));
    assert!(matches!(
        LevelsMapper::load(fixture("mapper/stylespace.pt"), &device),
        Err(Error::InvalidConfig(_))
    ));
    // A W+ latent of the wrong width is an error, not a panic.
    let bad = Tensor::<3>::zeros([1, 10, 32], &device);
    assert!(matches!(back.edit(bad), Err(Error::InvalidArgument(_))));
}

/// Official Ranger (`mapper/training/ranger.py`) and `torch.optim.Adam` on a weight and a bias
/// over 13 steps: Ranger's un-rectified phase, its adaptive phase and two lookahead syncs.
#[test]
fn optimisers_match_official() {
    let device = Device::flex();
    let r = reference();
    for (name, opt) in [
        ("ranger", Optimizer::Ranger(Ranger::default())),
        ("adam", Optimizer::Adam(Adam::default())),
    ] {
        for (key, centralize) in [("weight", true), ("bias", false)] {
            let mut p: Tensor<2> = if centralize {
                load(&r, &format!("optim.init.{key}"), &device)
            } else {
                load::<1>(&r, &format!("optim.init.{key}"), &device).reshape([1, 6])
            };
            let mut state: Moments = opt.init(&p);
            for i in 0..13 {
                let g: Tensor<2> = if centralize {
                    load(&r, &format!("optim.grad{i}.{key}"), &device)
                } else {
                    load::<1>(&r, &format!("optim.grad{i}.{key}"), &device).reshape([1, 6])
                };
                p = opt.step(p, g, centralize, &mut state, 0.3);
                let expected: Tensor<2> = if centralize {
                    load(&r, &format!("optim.{name}{i}.{key}"), &device)
                } else {
                    load::<1>(&r, &format!("optim.{name}{i}.{key}"), &device).reshape([1, 6])
                };
                assert_close(&format!("{name} {key} step {i}"), p.clone(), expected, 1e-6);
            }
        }
    }
}

/// The official coach (`Coach.train`, λ_ID 0) for 8 steps from `levels.pt`, fed the batches its
/// shuffled loader drew: every step's loss terms, and the mapper's output on a probe latent after
/// every step (its change from the start, so the test sees the updates themselves).
fn coach(kind: OptimizerKind, name: &str) {
    let device = Device::flex().autodiff();
    let r = reference();
    let g = Generator::load(fixture("mapper/levels.pt"), &device)
        .unwrap()
        .no_grad();
    let clip = Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        &device,
    )
    .unwrap()
    .no_grad();
    let mapper = AnyMapper::load(fixture("mapper/levels.pt"), &device).unwrap();
    let steps: usize = r.metadata()["steps"].parse().unwrap();
    let training = MapperTraining::new(r.metadata()["prompt"].clone())
        .with_optimizer(kind)
        .with_lambdas(1.0, 0.8, 0.0);
    let mut trainer = MapperTrainer::new(&training, &g, &clip, None, mapper).unwrap();

    let train: Tensor<3> = load(&r, "train", &device);
    let probe: Tensor<3> = load(&r, "probe", &device);
    let order: Vec<f32> = r.read_f32(&format!("{name}.order")).unwrap().0;
    let losses: Vec<f32> = r.read_f32(&format!("{name}.losses")).unwrap().0;
    let probes: Tensor<3> = load(&r, &format!("{name}.probe"), &device);
    let delta_of = |m: &AnyMapper| match m {
        AnyMapper::Levels(m) => m.forward(probe.clone()).inner(),
        _ => unreachable!(),
    };
    let start = delta_of(trainer.mapper());
    let mut first = None;
    for step in 0..steps {
        let idx: Vec<i64> = order[2 * step..2 * step + 2]
            .iter()
            .map(|&v| v as i64)
            .collect();
        let w = train.clone().select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(idx, [2]), &device),
        );
        let got = trainer.step(w).unwrap();
        let want = &losses[3 * step..3 * step + 3];
        for (what, a, b) in [
            ("loss", got.loss, want[0]),
            ("clip", got.clip, want[1]),
            ("l2", got.l2, want[2]),
        ] {
            let e = ((a - b as f64) / b as f64).abs();
            assert!(
                e < 1e-4,
                "{name} step {step} {what}: {a} vs {b} (rel {e:e})"
            );
        }
        // The probe's change since the start, against the official change.
        let now = delta_of(trainer.mapper());
        let expected = probes
            .clone()
            .narrow(0, step, 1)
            .reshape([1, 10, 64])
            .inner();
        let first_ref = first.get_or_insert_with(|| start.clone()).clone();
        let change = now - first_ref.clone();
        let change_ref = expected - first_ref;
        let scale: f32 = change_ref.clone().abs().max().into_scalar();
        let diff: f32 = (change - change_ref).abs().max().into_scalar();
        // The probe output is ~0.8 after four layers: float32 noise on it is ~1e-6, which is
        // the size of Ranger's first (un-rectified) updates; the final weights check those.
        assert!(
            diff <= 2e-3 * scale + 3e-6,
            "{name} step {step}: probe change differs by {diff:e} (official change {scale:e})"
        );
    }
    // Final weights: their change from the start against the official change.
    let init = AnyMapper::load(fixture("mapper/levels.pt"), &Device::flex()).unwrap();
    for ((key, data), (_, init)) in trainer
        .mapper()
        .state_dict()
        .into_iter()
        .zip(init.state_dict())
    {
        let key = key.trim_start_matches("mapper.");
        let v = data.try_into_vec_as::<f32>().unwrap();
        let v0 = init.try_into_vec_as::<f32>().unwrap();
        let (e, _) = r.read_f32(&format!("{name}.final.{key}")).unwrap();
        let (mut diff, mut scale, mut ulp) = (0f32, 0f32, 0f32);
        for ((a, b), a0) in v.iter().zip(&e).zip(&v0) {
            diff = diff.max((a - b).abs());
            scale = scale.max((b - a0).abs());
            ulp = ulp.max(a0.abs() * f32::EPSILON);
        }
        assert!(
            diff <= 1e-3 * scale + 4.0 * ulp,
            "{name} final {key}: differs by {diff:e} (official change {scale:e}, ulp {ulp:e})"
        );
    }
}

#[test]
fn coach_adam_matches_official() {
    coach(OptimizerKind::Adam, "adam");
}

#[test]
fn coach_ranger_matches_official() {
    coach(OptimizerKind::Ranger, "ranger");
}

/// The official PixelNorm mixes the W+ rows of a group (dim 1 of `[B, k, d]`); the
/// `Features` fix treats every row on its own.
#[test]
fn pixel_norm_axis() {
    use styleclip::edit::mapper::PixelNormAxis;
    let device = Device::flex();
    let r = reference();
    let w: Tensor<3> = load(&r, "w", &device);
    let m = LevelsMapper::load(fixture("mapper/levels.pt"), &device).unwrap();
    let rows = m.forward(w.clone());
    let f = m.with_pixel_norm(PixelNormAxis::Features);
    let all = f.forward(w.clone());
    assert!(
        rel_err(all.clone(), rows) > 1e-2,
        "the axis makes no difference"
    );
    // Changing the other rows of the medium group (4, 6, 7) moves row 5's output under the
    // official norm only.
    let other = Tensor::<3>::random([3, 10, 64], burn::tensor::Distribution::Default, &device);
    let w2 = Tensor::cat(
        vec![
            w.clone().narrow(1, 0, 4),
            other.clone().narrow(1, 4, 1),
            w.clone().narrow(1, 5, 1),
            other.narrow(1, 6, 2),
            w.clone().narrow(1, 8, 2),
        ],
        1,
    );
    let row5 = |m: &LevelsMapper, x: Tensor<3>| m.forward(x).narrow(1, 5, 1);
    assert_eq!(rel_err(row5(&f, w2.clone()), row5(&f, w.clone())), 0.0);
    let m = LevelsMapper::load(fixture("mapper/levels.pt"), &device).unwrap();
    assert!(rel_err(row5(&m, w2), row5(&m, w)) > 1e-3);
}
