//! Mapper training on the CPU with a small generator and CLIP: the CLIP loss falls, a resumed
//! run continues exactly where the checkpoint stopped, observers can stop a run, and bad input
//! gives errors.

mod common;

use std::ops::ControlFlow;

use burn::prelude::*;
use common::{fixture, rel_err, scratch};
use styleclip::Error;
use styleclip::clip::Clip;
use styleclip::edit::mapper::{AnyMapper, MapperData, MapperTraining, TrainingEvent};
use styleclip::edit::optim::OptimizerKind;
use styleclip::stylegan2::Generator;

fn nets(device: &Device) -> (Generator, Clip) {
    let g = Generator::load(fixture("mapper/levels.pt"), device)
        .unwrap()
        .no_grad();
    let config = common::tiny_clip_config();
    let clip = Clip::load_with_config(fixture("optimization/clip.safetensors"), config, device)
        .unwrap()
        .no_grad();
    (g, clip)
}

#[test]
fn clip_loss_falls() {
    let device = Device::flex().autodiff();
    let (g, clip) = nets(&device);
    let data = MapperData::sample(&g, 16, 4, 0.7, 3).unwrap();
    let mut val = Vec::new();
    let mut steps = 0;
    let trained = MapperTraining::new("a face with blonde hair")
        .with_steps(40)
        .with_optimizer(OptimizerKind::Adam)
        .with_lr(0.05)
        .with_lambdas(1.0, 0.8, 0.0)
        .with_validation(2, 2)
        .with_intervals(20, 0, 0)
        .run(&g, &clip, None, &data, |e| match e {
            TrainingEvent::Step { step, .. } => steps = *step,
            TrainingEvent::Validation { losses, .. } => val.push(losses.clip),
            _ => {}
        })
        .unwrap();
    assert_eq!(steps, 40);
    assert_eq!(trained.history.len(), 40);
    // The training losses of the first and last five steps, and validation after 20 and 40.
    let first: f64 = trained.history[..5].iter().map(|l| l.clip).sum::<f64>() / 5.0;
    let last: f64 = trained.history[35..].iter().map(|l| l.clip).sum::<f64>() / 5.0;
    assert!(
        last < first - 1e-3,
        "CLIP loss did not fall: first 5 steps {first}, last 5 {last}"
    );
    assert_eq!(val.len(), 2);
    assert!(
        val[1] < val[0],
        "validation CLIP loss did not fall: {val:?}"
    );
    let w = data.test.clone().unwrap().inner();
    let edited = trained.mapper.edit(w.clone()).unwrap();
    assert!(rel_err(edited, w) > 1e-4, "the mapper does not edit");
}

#[test]
fn resume_continues_where_it_stopped() {
    let device = Device::flex().autodiff();
    let (g, clip) = nets(&device);
    let data = MapperData::sample(&g, 6, 0, 0.7, 5).unwrap();
    let dir = scratch("mapper-resume");
    // Ranger: the lookahead sync at step 6 needs the restored slow weights; 3 batches per
    // epoch, so the resumed run also starts a new shuffled epoch.
    let training = MapperTraining::new("a smiling face")
        .with_lambdas(1.0, 0.8, 0.0)
        .with_steps(7)
        .with_intervals(0, 4, 0)
        .with_checkpoint_dir(&dir);
    let mut saved = Vec::new();
    let full = training
        .run(&g, &clip, None, &data, |e| {
            if let TrainingEvent::Checkpoint { path, .. } = e {
                saved.push(path.to_path_buf());
            }
        })
        .unwrap();
    assert_eq!(
        saved,
        vec![
            dir.join("iteration_4.safetensors"),
            dir.join("iteration_7.safetensors")
        ]
    );

    let resumed = training
        .clone()
        .with_checkpoint_dir(dir.join("resumed"))
        .with_resume(dir.join("iteration_4.safetensors"))
        .run(&g, &clip, None, &data, |_| {})
        .unwrap();
    assert_eq!(resumed.steps, 7);
    assert_eq!(resumed.history.len(), 3);
    for (a, b) in resumed.history.iter().zip(&full.history[4..]) {
        assert!(
            (a.loss - b.loss).abs() < 1e-6,
            "resumed loss {} vs {}",
            a.loss,
            b.loss
        );
    }
    for ((k, a), (_, b)) in resumed
        .mapper
        .state_dict()
        .into_iter()
        .zip(full.mapper.state_dict())
    {
        let a = a.try_into_vec_as::<f32>().unwrap();
        let b = b.try_into_vec_as::<f32>().unwrap();
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert_eq!(diff, 0.0, "{k} differs after resuming (max |Δ| {diff:e})");
    }
    // The final checkpoint loads as a mapper.
    let m = AnyMapper::load(dir.join("iteration_7.safetensors"), &Device::flex()).unwrap();
    assert_eq!(m.state_dict().len(), full.mapper.state_dict().len());
}

#[test]
fn observer_stops_and_errors_are_reported() {
    let device = Device::flex().autodiff();
    let (g, clip) = nets(&device);
    let data = MapperData::sample(&g, 4, 0, 0.7, 1).unwrap();
    let t = MapperTraining::new("purple hair")
        .with_lambdas(1.0, 0.8, 0.0)
        .with_steps(10);
    let run = t
        .run(&g, &clip, None, &data, |e| match e {
            TrainingEvent::Step { step: 2, .. } => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .unwrap();
    assert_eq!(run.steps, 2);

    // NaN latents: a NaN loss, named with its step.
    let nan = MapperData::new(Tensor::<3>::full([2, 10, 64], f32::NAN, &device), None);
    match t.run(&g, &clip, None, &nan, |_| {}) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("step 0"), "{m}"),
        other => panic!("expected a NaN-loss error, got {other:?}"),
    }
    // λ_ID > 0 without ArcFace, an empty prompt, a plain device, too few latents.
    let with_id = MapperTraining::new("purple hair").with_steps(1);
    assert!(matches!(
        with_id.run(&g, &clip, None, &data, |_| {}),
        Err(Error::InvalidArgument(_))
    ));
    let empty = MapperTraining::new("  ").with_steps(1);
    assert!(matches!(
        empty.run(&g, &clip, None, &data, |_| {}),
        Err(Error::InvalidArgument(_))
    ));
    let few = MapperData::new(data.train.clone().narrow(0, 0, 1), None);
    assert!(matches!(
        t.run(&g, &clip, None, &few, |_| {}),
        Err(Error::InvalidArgument(_))
    ));
    let plain = Device::flex();
    let (gp, cp) = nets(&plain);
    let dp = MapperData::sample(&gp, 2, 0, 0.7, 1).unwrap();
    assert!(matches!(
        t.run(&gp, &cp, None, &dp, |_| {}),
        Err(Error::InvalidArgument(_))
    ));
}

/// With λ_ID > 0 the ArcFace term `mean_b(1 − ⟨R(x̂_b), R(x_b)⟩)` joins the loss with its weight.
#[test]
fn id_term_enters_the_loss() {
    use styleclip::arcface::ArcFace;
    use styleclip::edit::mapper::{MapperOptions, MapperTrainer};
    use styleclip::stylegan2::NoiseMode;

    let device = Device::flex().autodiff();
    let (g, clip) = nets(&device);
    let arcface = ArcFace::new_seeded(0, &device).unwrap().no_grad();
    let data = MapperData::sample(&g, 2, 0, 0.7, 9).unwrap();
    let mapper = AnyMapper::new_seeded(MapperOptions::default(), &g, 4).unwrap();
    let training = MapperTraining::new("a smiling face").with_lambdas(1.0, 0.8, 0.1);
    let trainer = MapperTrainer::new(&training, &g, &clip, Some(&arcface), mapper.clone()).unwrap();
    let (losses, x, x_hat) = trainer.evaluate(data.train.clone()).unwrap();
    let w_hat = mapper.edit(data.train.clone()).unwrap();
    let expected_x_hat = g.synthesis(w_hat, NoiseMode::Const);
    assert!(rel_err(x_hat.clone(), expected_x_hat) < 1e-5);
    let id: f32 = arcface.id_loss(x_hat, x).into_scalar();
    assert!(losses.id > 1e-6, "the ID term is zero");
    assert!(
        (losses.id - id as f64).abs() < 1e-6,
        "{} vs {id}",
        losses.id
    );
    let total = losses.clip + 0.8 * losses.l2 + 0.1 * losses.id;
    assert!(
        (losses.loss - total).abs() < 1e-6,
        "{} vs {total}",
        losses.loss
    );
}

#[test]
fn data_loads_from_latent_files() {
    let device = Device::flex();
    let g = Generator::load(fixture("mapper/levels.pt"), &device).unwrap();
    let dir = scratch("mapper-data");
    let train = Tensor::<3>::random([3, 10, 64], burn::tensor::Distribution::Default, &device);
    let test = Tensor::<3>::random([2, 10, 64], burn::tensor::Distribution::Default, &device);
    styleclip::latents::save_latent(dir.join("train.safetensors"), train.clone()).unwrap();
    styleclip::latents::save_latent(dir.join("test.safetensors"), test.clone()).unwrap();
    let data = MapperData::load(
        &g,
        dir.join("train.safetensors"),
        Some(dir.join("test.safetensors").as_path()),
    )
    .unwrap();
    assert_eq!(rel_err(data.train, train), 0.0);
    assert_eq!(rel_err(data.test.unwrap(), test), 0.0);
    // Latents of another generator are refused with both shapes named.
    styleclip::latents::save_latent(
        dir.join("bad.safetensors"),
        Tensor::<3>::zeros([1, 18, 512], &device),
    )
    .unwrap();
    assert!(matches!(
        MapperData::load(&g, dir.join("bad.safetensors"), None),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// Generators under 64 px have fewer than 9 W+ rows, so the fine level group (rows 8..) maps
/// nothing: it must not be built, trained nor saved (it used to stop training with "no
/// gradient reached mapper parameter Levels.fine_mapping..."). At 16 px (6 rows) the medium
/// group keeps rows 4–5.
#[test]
fn level_groups_without_rows_are_left_out() {
    use styleclip::edit::mapper::{LevelsMapper, MapperOptions};
    use styleclip::stylegan2::GeneratorConfig;
    let device = Device::flex().autodiff();
    let (_, clip) = nets(&device);
    let (size, groups) = (32usize, 2usize);
    let config = GeneratorConfig {
        size,
        style_dim: 32,
        n_mlp: 2,
        channels: vec![32; size.trailing_zeros() as usize - 1],
        lr_mlp: 0.01,
        blur_kernel: vec![1.0, 3.0, 3.0, 1.0],
    };
    let g = Generator::new_seeded(config, 1, &device).unwrap().no_grad();
    let data = MapperData::sample(&g, 4, 0, 0.7, 2).unwrap();
    let dir = scratch(&format!("mapper-rows-{size}"));
    let trained = MapperTraining::new("a smiling face")
        .with_batch_size(2)
        .with_steps(2)
        .with_lambdas(1.0, 0.8, 0.0)
        .with_intervals(0, 2, 0)
        .with_checkpoint_dir(&dir)
        .run(&g, &clip, None, &data, |_| {})
        .unwrap_or_else(|e| panic!("{size} px: {e}"));
    let AnyMapper::Levels(m) = &trained.mapper else {
        panic!("not a levels mapper")
    };
    assert!(m.fine_mapping.is_none(), "{size} px: a fine group exists");
    assert!(m.options().no_fine);
    let present = [&m.course_mapping, &m.medium_mapping]
        .iter()
        .filter(|g| g.is_some())
        .count();
    assert_eq!(present, groups, "{size} px");
    let keys: Vec<String> = trained
        .mapper
        .state_dict()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.iter().all(|k| !k.contains("fine_mapping")), "{keys:?}");
    // The checkpoint reloads with the same groups and edits.
    let back = LevelsMapper::load(dir.join("iteration_2.safetensors"), &Device::flex()).unwrap();
    assert!(back.fine_mapping.is_none() && back.medium_mapping.is_some());
    assert_eq!(back.options(), &MapperOptions::levels(false, false, true));
    let rows = |n| {
        let o = MapperOptions::default().for_rows(n);
        (o.no_coarse, o.no_medium, o.no_fine)
    };
    assert_eq!(rows(4), (false, true, true));
    assert_eq!(rows(6), (false, false, true));
    assert_eq!(rows(8), (false, false, true));
    assert_eq!(rows(9), (false, false, false));
    assert_eq!(rows(18), (false, false, false));
}
