//! User-shaped tensors of the wrong rank, batch, size or device at the public entry points
//! (issue 12, see `docs/tensor-inputs.md`): the checked entries return a typed error, the
//! documented hot paths panic with their documented message.

mod common;

use burn::prelude::*;
use styleclip::Error;
use styleclip::arcface::ArcFace;
use styleclip::clip::Clip;
use styleclip::clip::preprocess::{clip_normalized, styleclip_raw};
use styleclip::edit::mapper::{AnyMapper, LevelsMapper, MapperKind, MapperOptions, SingleMapper};
use styleclip::edit::{ClipInput, clip_loss};
use styleclip::imaging::to_rgb8;
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};
use styleclip::toyfaces::Oracle;

fn tiny_generator() -> Generator {
    let cfg = GeneratorConfig {
        channels: vec![7, 5, 3],
        ..GeneratorConfig::rosinality(16, 12, 2, 1)
    };
    Generator::new_seeded(cfg, 3, &Device::flex()).unwrap()
}

fn zeros<const D: usize>(shape: [usize; D]) -> Tensor<D> {
    Tensor::zeros(shape, &Device::flex())
}

/// The error is `InvalidArgument` and its message contains `needle`.
fn invalid<T: std::fmt::Debug>(r: Result<T, Error>, needle: &str) {
    match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(needle), "message {m:?}"),
        other => panic!("expected InvalidArgument containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn generator_try_entries_reject_bad_latents() {
    let g = tiny_generator();
    let (n, d) = (g.config().n_latent(), g.config().style_dim);
    invalid(g.try_mapping(zeros([2, d + 1])), "z must be");
    invalid(g.try_mapping(zeros([0, d])), "z must be");
    invalid(g.try_styles(zeros([1, n - 1, d])), "W+ must be");
    invalid(
        g.try_synthesis(zeros([1, n, d + 2]), NoiseMode::Const),
        "W+ must be",
    );
    invalid(
        g.try_synthesis(zeros([0, n, d]), NoiseMode::Const),
        "W+ must be",
    );
    // Given noise: wrong count, wrong size, wrong batch.
    invalid(
        g.try_synthesis(zeros([1, n, d]), NoiseMode::Given(vec![])),
        "NoiseMode::Given needs",
    );
    let count = g.config().num_noises();
    let bad_size = (0..count).map(|_| zeros([1, 1, 3, 3])).collect();
    invalid(
        g.try_synthesis(zeros([1, n, d]), NoiseMode::Given(bad_size)),
        "noise 0 must be",
    );
    let bad_batch = (0..count)
        .map(|j| {
            let r = g.config().noise_size(j);
            zeros([3, 1, r, r])
        })
        .collect();
    invalid(
        g.try_synthesis(zeros([2, n, d]), NoiseMode::Given(bad_batch)),
        "noise 0 must be",
    );
    // `Device::flex()` and its autodiff view compare equal (one CPU device), so a W+ made on
    // either is accepted; the device check only fires across physical devices.
    let ad = Device::flex().autodiff();
    assert!(
        g.try_synthesis(Tensor::zeros([1, n, d], &ad), NoiseMode::Const)
            .is_ok()
    );
    // The good case still works.
    let img = g.try_synthesis(zeros([1, n, d]), NoiseMode::Const).unwrap();
    assert_eq!(img.dims(), [1, 3, 16, 16]);
}

#[test]
fn generator_try_synthesis_from_styles_rejects_foreign_codes() {
    let g = tiny_generator();
    let other = Generator::new_seeded(
        GeneratorConfig {
            channels: vec![6, 5, 3],
            ..GeneratorConfig::rosinality(16, 12, 2, 1)
        },
        4,
        &Device::flex(),
    )
    .unwrap();
    let (n, d) = (g.config().n_latent(), d_of(&g));
    let foreign = other.styles(zeros([1, n, d]));
    invalid(
        g.try_synthesis_from_styles(&foreign, NoiseMode::Const),
        "layer layout",
    );
    let own = g.styles(zeros([1, n, d]));
    assert!(g.try_synthesis_from_styles(&own, NoiseMode::Zero).is_ok());
}

fn d_of(g: &Generator) -> usize {
    g.config().style_dim
}

#[test]
#[should_panic(expected = "W+ must be [B, n_latent, style_dim]")]
fn generator_synthesis_panics_as_documented() {
    let g = tiny_generator();
    let n = g.config().n_latent();
    let _ = g.synthesis(zeros([1, n, 5]), NoiseMode::Const);
}

#[test]
#[should_panic(expected = "style code has the wrong number of layers")]
fn generator_synthesis_from_styles_panics_as_documented() {
    let g = tiny_generator();
    let other = Generator::new_seeded(GeneratorConfig::rosinality(8, 12, 1, 1), 4, &Device::flex())
        .unwrap();
    let s = other.styles(zeros([1, other.config().n_latent(), 12]));
    let _ = g.synthesis_from_styles(&s, NoiseMode::Const);
}

#[test]
fn clip_try_encoders_reject_bad_inputs() {
    let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &Device::flex()).unwrap();
    invalid(
        clip.try_encode_image(zeros([1, 3, 64, 64])),
        "CLIP images must be",
    );
    invalid(
        clip.try_encode_image(zeros([1, 1, 224, 224])),
        "CLIP images must be",
    );
    invalid(
        clip.try_encode_image(zeros([0, 3, 224, 224])),
        "CLIP images must be",
    );
    let device = Device::flex();
    let tokens = |v: Vec<i64>, l: usize| {
        let b = v.len() / l.max(1);
        Tensor::<2, Int>::from_data(TensorData::new(v, [b, l]), &device)
    };
    invalid(clip.try_encode_text(tokens(vec![1; 78], 78)), "1 ≤ L ≤ 77");
    invalid(
        clip.try_encode_text(tokens(vec![1, 49408], 2)),
        "outside the vocabulary",
    );
    invalid(
        clip.try_encode_text(tokens(vec![-1, 2], 2)),
        "outside the vocabulary",
    );
    let f = clip
        .try_encode_text(tokens(vec![49406, 320, 49407], 3))
        .unwrap();
    assert_eq!(f.dims(), [1, 32]);
}

#[test]
fn preprocessing_and_clip_loss_reject_bad_images() {
    invalid(styleclip_raw(zeros([1, 3, 40, 40])), "multiple of 32");
    invalid(styleclip_raw(zeros([1, 3, 32, 64])), "multiple of 32");
    invalid(
        clip_normalized(zeros([1, 4, 32, 32]), 224),
        "expected [B, 3, H, W]",
    );
    invalid(clip_normalized(zeros([1, 3, 32, 32]), 0), "positive size");
    let clip = Clip::new_seeded(common::tiny_clip_config(), 7, &Device::flex()).unwrap();
    invalid(
        clip_loss(&clip, ClipInput::Raw, zeros([1, 3, 32, 32]), zeros([1, 31])),
        "text feature must be [1, 32]",
    );
    invalid(
        clip_loss(&clip, ClipInput::Raw, zeros([1, 3, 33, 33]), zeros([1, 32])),
        "multiple of 32",
    );
}

#[test]
fn arcface_try_entries_reject_bad_images() {
    let arc = ArcFace::new_seeded(1, &Device::flex()).unwrap();
    invalid(arc.try_id_features(zeros([1, 1, 64, 64])), "images must be");
    invalid(arc.try_id_features(zeros([0, 3, 64, 64])), "images must be");
    invalid(
        arc.try_id_loss(zeros([2, 3, 64, 64]), zeros([1, 3, 64, 64])),
        "one batch size",
    );
    invalid(
        arc.try_id_loss(zeros([1, 3, 64, 64]), zeros([1, 4, 64, 64])),
        "y must be",
    );
}

#[test]
fn oracle_rejects_bad_images() {
    let oracle = Oracle::new_seeded(1, &Device::flex()).unwrap();
    invalid(oracle.classify(zeros([1, 3, 32, 32])), "the oracle reads");
    invalid(oracle.classify(zeros([1, 1, 64, 64])), "the oracle reads");
    let nan = zeros([1, 3, 64, 64]).add_scalar(f32::NAN);
    invalid(oracle.classify(nan), "not finite");
}

#[test]
fn to_rgb8_rejects_bad_images() {
    invalid(to_rgb8(zeros([1, 1, 4, 4])), "expected [B, 3, H, W]");
    invalid(to_rgb8(zeros([1, 3, 0, 4])), "expected [B, 3, H, W]");
    assert!(to_rgb8(zeros([0, 3, 4, 4])).unwrap().is_empty());
}

#[test]
fn mappers_reject_bad_latents() {
    let g = tiny_generator();
    let device = Device::flex();
    let (n, d) = (g.config().n_latent(), d_of(&g));
    let levels = LevelsMapper::new_seeded(MapperOptions::default(), d, 1, &device).unwrap();
    invalid(levels.try_edit(zeros([1, n, d + 1])), "W+ latent must be");
    let single = SingleMapper::new_seeded(MapperOptions::default(), d, 1, &device).unwrap();
    invalid(single.try_edit(zeros([1, n, d - 1])), "W+ latent must be");
    for kind in [MapperKind::Levels, MapperKind::StyleSpace] {
        let opts = MapperOptions {
            kind,
            ..MapperOptions::default()
        };
        let any = AnyMapper::new_seeded(opts, &g, 1).unwrap();
        // Right width, wrong row count: the generator's check catches it.
        invalid(any.edit_styles(&g, zeros([1, n + 1, d])), "W+ must be");
    }
}

#[test]
#[should_panic]
fn levels_mapper_edit_panics_as_documented() {
    let device = Device::flex();
    let levels = LevelsMapper::new_seeded(MapperOptions::default(), 12, 1, &device).unwrap();
    let _ = levels.edit(zeros([1, 6, 13]));
}
