//! Parity with OpenAI's `clip.model.CLIP` (and, through the fixture script, `transformers`'
//! `CLIPModel`) on a tiny random CLIP in both formats. Fixtures: `scripts/gen_clip_fixtures.py`.
//! Error measure: `max |ours − official| / max |official|`, ≤ 1e-5 in f32.

mod common;

use std::collections::BTreeMap;

use burn::prelude::*;
use common::{assert_close, fixture, load};
use styleclip::Error;
use styleclip::clip::{Clip, ClipConfig};
use styleclip::weights::TensorFile;

const TOL: f32 = 1e-5;

/// The fixture's config: text heads (3 at width 96) cannot be inferred with OpenAI's width/64.
fn tiny_config() -> ClipConfig {
    ClipConfig {
        embed_dim: 24,
        image_resolution: 32,
        vision_layers: 2,
        vision_width: 128,
        vision_heads: 2,
        vision_patch_size: 8,
        context_length: 77,
        vocab_size: 1000,
        text_width: 96,
        text_heads: 3,
        text_layers: 2,
    }
}

struct Ref {
    r: TensorFile,
    device: Device,
}

impl Ref {
    fn new(name: &str) -> Self {
        Self {
            r: TensorFile::open(fixture(&format!("clip/{name}"))).unwrap(),
            device: Device::flex(),
        }
    }
    fn t<const D: usize>(&self, key: &str) -> Tensor<D> {
        load(&self.r, key, &self.device)
    }
    fn tokens(&self) -> Tensor<2, Int> {
        self.t::<2>("tokens").int()
    }
}

fn check_features(clip: &Clip, r: &Ref, what: &str) {
    let img = clip.encode_image(r.t("pixels"));
    assert_close(
        &format!("{what}: image features"),
        img,
        r.t("image_features"),
        TOL,
    );
    let txt = clip.encode_text(r.tokens());
    assert_close(
        &format!("{what}: text features"),
        txt,
        r.t("text_features"),
        TOL,
    );
    let (per_image, per_text) = clip.logits(r.t("pixels"), r.tokens());
    assert_close(
        &format!("{what}: logits per image"),
        per_image,
        r.t("logits_per_image"),
        TOL,
    );
    assert_close(
        &format!("{what}: logits per text"),
        per_text,
        r.t("logits_per_text"),
        TOL,
    );
}

#[test]
fn openai_state_dict_matches_official() {
    let r = Ref::new("tiny.ref.safetensors");
    let clip =
        Clip::load_with_config(fixture("clip/tiny_openai.pt"), tiny_config(), &r.device).unwrap();
    check_features(&clip, &r, "OpenAI .pt");

    // Intermediate activations.
    let x = clip.visual.embed(r.t("pixels"));
    assert_close("visual embed (ln_pre)", x.clone(), r.t("visual_embed"), TOL);
    let x = clip.visual.transformer.resblocks[0].forward(x, None);
    assert_close("visual block 0", x, r.t("visual_block0"), TOL);
    let t = clip.embed_text(r.tokens());
    assert_close("text embedding", t.clone(), r.t("text_embed"), TOL);
    let t = clip.transformer.resblocks[0].forward(t, Some(clip.causal_mask(77)));
    assert_close("text block 0 (causal)", t, r.t("text_block0"), TOL);
}

#[test]
fn hugging_face_safetensors_match_official() {
    let r = Ref::new("tiny.ref.safetensors");
    let clip = Clip::load_with_config(
        fixture("clip/tiny_hf.safetensors"),
        tiny_config(),
        &r.device,
    )
    .unwrap();
    check_features(&clip, &r, "Hugging Face");
}

#[test]
fn f16_weights_load_as_f32() {
    let r = Ref::new("tiny.ref.safetensors");
    let f16 = Ref::new("tiny_f16.ref.safetensors");
    let clip = Clip::load_with_config(
        fixture("clip/tiny_openai_f16.safetensors"),
        tiny_config(),
        &r.device,
    )
    .unwrap();
    let img = clip.encode_image(r.t("pixels"));
    assert_close("f16 image features", img, f16.t("image_features"), TOL);
    let txt = clip.encode_text(r.tokens());
    assert_close("f16 text features", txt, f16.t("text_features"), TOL);
}

/// OpenAI's release format: a traced TorchScript archive with f16 and f32 tensors, read without
/// executing anything.
#[test]
fn torchscript_archive_matches_official() {
    let r = Ref::new("tiny.ref.safetensors");
    let jit = Ref::new("tiny_jit.ref.safetensors");
    let path = fixture("clip/tiny_openai_jit.pt");
    let file = TensorFile::open(&path).unwrap();
    assert_eq!(
        file.dtype("visual.conv1.weight"),
        Some(styleclip::weights::StoredDtype::F16)
    );
    assert_eq!(
        file.dtype("visual.ln_pre.weight"),
        Some(styleclip::weights::StoredDtype::F32)
    );
    let clip = Clip::load_with_config(&path, tiny_config(), &r.device).unwrap();
    let img = clip.encode_image(r.t("pixels"));
    assert_close(
        "TorchScript image features",
        img,
        jit.t("image_features"),
        TOL,
    );
    let txt = clip.encode_text(r.tokens());
    assert_close(
        "TorchScript text features",
        txt,
        jit.t("text_features"),
        TOL,
    );
}

#[test]
fn config_inference_follows_build_model() {
    let device = Device::flex();
    // OpenAI's rule infers heads = width / 64: right for vision (2), wrong for this text tower.
    for file in [
        "clip/tiny_openai.pt",
        "clip/tiny_hf.safetensors",
        "clip/tiny_openai_jit.pt",
    ] {
        let clip = Clip::load(fixture(file), &device).unwrap();
        let inferred = clip.config().clone();
        assert_eq!(
            inferred,
            ClipConfig {
                text_heads: 1,
                ..tiny_config()
            },
            "{file}"
        );
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    let device = Device::flex();
    let err = Clip::load(fixture("stylegan2/g4_min.pt"), &device).unwrap_err();
    assert!(matches!(err, Error::NotACheckpoint { .. }), "{err}");
    let wrong = ClipConfig {
        vision_layers: 3,
        ..tiny_config()
    };
    let err = Clip::load_with_config(fixture("clip/tiny_openai.pt"), wrong, &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "visual.transformer.resblocks.2.attn.in_proj_weight"),
        "{err}"
    );
    let wrong = ClipConfig {
        embed_dim: 32,
        ..tiny_config()
    };
    let err =
        Clip::load_with_config(fixture("clip/tiny_hf.safetensors"), wrong, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, .. } if key == "visual.proj"),
        "{err}"
    );
}

/// The real ViT-B/32 key set and shapes (listed from OpenAI's model by the fixture script):
/// inference gives the `ViT-B/32` preset and the model owns exactly those keys.
#[test]
fn vit_b_32_key_set_and_inference() {
    let device = Device::flex();
    let json = std::fs::read_to_string(fixture("clip/vit_b_32_keys.json")).unwrap();
    let keys: BTreeMap<String, Vec<usize>> = serde_json::from_str(&json).unwrap();
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .map(|(k, s)| {
            let n: usize = s.iter().product::<usize>().max(1);
            (k.clone(), s.clone(), vec![0u8; 2 * n])
        })
        .collect();
    let path = common::scratch("vitb32").join("ViT-B-32.safetensors");
    common::write_f16_safetensors(&path, &data);
    let clip = Clip::load(&path, &device).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(clip.config(), &ClipConfig::vit_b_32());
    let ours: BTreeMap<String, Vec<usize>> = styleclip::weights::named_params(&clip)
        .into_iter()
        .map(|(k, d)| (k, d.shape().to_vec()))
        .collect();
    let mut official = keys;
    official.insert("logit_scale".into(), vec![1]); // a 0-d tensor in OpenAI's file
    // Linear weights are held [in, out]: transposed at load.
    for (k, shape) in official.iter_mut() {
        let linear = [
            "in_proj_weight",
            "out_proj.weight",
            "c_fc.weight",
            "c_proj.weight",
        ];
        if linear.iter().any(|s| k.ends_with(s)) {
            shape.reverse();
        }
    }
    assert_eq!(ours, official);
}

/// The box-matrix form of StyleCLIP's ×7-nearest + avg-pool equals the literal two-step op.
#[test]
fn styleclip_raw_preprocessing_matches_upsample_then_pool() {
    use burn::tensor::module::{avg_pool2d, interpolate};
    use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};
    use styleclip::clip::preprocess::styleclip_raw;
    let device = Device::flex();
    for size in [32usize, 64, 96] {
        let n = 2 * 3 * size * size;
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let img = Tensor::<4>::from_data(TensorData::new(v, [2, 3, size, size]), &device);
        let up = interpolate(
            img.clone(),
            InterpolateOptions::new(InterpolateMode::Nearest)
                .with_output_size([7 * size, 7 * size]),
        );
        let k = size / 32;
        let want = avg_pool2d(up, AvgPoolOptions::new([k, k]));
        let got = styleclip_raw(img).unwrap();
        assert_eq!(got.dims(), [2, 3, 224, 224]);
        assert_close(&format!("styleclip_raw at {size}"), got, want, 1e-6);
    }
    let bad = Tensor::<4>::zeros([1, 3, 48, 48], &device);
    assert!(matches!(styleclip_raw(bad), Err(Error::InvalidArgument(_))));
}

/// OpenAI's `clip.load` transform (PIL bicubic on uint8, centre crop, mean/std), bit-exact in
/// the resampled pixels: `scripts/gen_clip_preprocess_fixtures.py`.
#[test]
fn clip_load_preprocessing_matches_pil_and_torchvision() {
    use styleclip::clip::preprocess::clip_preprocess;
    use styleclip::imaging::Rgb8;
    let r = Ref::new("preprocess.ref.safetensors");
    let cases: Vec<[usize; 3]> = serde_json::from_str(&r.r.metadata()["cases"]).unwrap();
    for (i, [w, h, n]) in cases.into_iter().enumerate() {
        let (values, _) = r.r.read_f32(&format!("image_{i}")).unwrap();
        let img = Rgb8 {
            width: w,
            height: h,
            data: values.iter().map(|v| *v as u8).collect(),
        };
        let got = clip_preprocess(&[img], n, &r.device).unwrap();
        let want: Tensor<3> = r.t(&format!("pixels_{i}"));
        // One uint8 step is 1/255/std ≈ 0.015 after normalisation: 1e-5 means identical pixels.
        let diff: f32 = (got.reshape([3, n, n]) - want).abs().max().into_scalar();
        assert!(
            diff < 1e-5,
            "case {i} ({w}×{h} → {n}): max difference {diff}"
        );
    }
    let bad = Rgb8 {
        width: 4,
        height: 4,
        data: vec![0; 5],
    };
    assert!(clip_preprocess(&[bad], 8, &r.device).is_err());
}

/// The differentiable path equals torchvision's tensor transforms (antialiased bicubic resize,
/// centre crop, mean/std) as StyleGAN-NADA composes them, and passes gradients to the image.
#[test]
fn normalized_path_matches_torchvision_tensor_transforms() {
    use styleclip::clip::preprocess::clip_normalized;
    let r = Ref::new("preprocess.ref.safetensors");
    let cases: Vec<[usize; 3]> = serde_json::from_str(&r.r.metadata()["generator_cases"]).unwrap();
    for (i, [h, w, n]) in cases.into_iter().enumerate() {
        let got = clip_normalized(r.t(&format!("gen_{i}")), n).unwrap();
        assert_close(
            &format!("normalized path {h}×{w} → {n}"),
            got,
            r.t(&format!("gen_pixels_{i}")),
            TOL,
        );
    }
    let device = Device::flex().autodiff();
    let img = Tensor::<4>::ones([1, 3, 40, 40], &device).require_grad();
    let loss = clip_normalized(img.clone(), 16).unwrap().sum();
    let grad = img.grad(&loss.backward()).unwrap();
    let g: f32 = grad.abs().sum().into_scalar();
    assert!(g > 0.0, "no gradient reached the image");
}
