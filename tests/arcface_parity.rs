//! IR-SE50 and the ID loss against StyleCLIP's `model_irse.py` / `criteria/id_loss.py`, on
//! deterministic weights given by a formula both sides evaluate (43.8 M parameters are too many
//! to commit). Fixtures: `scripts/gen_arcface_fixtures.py`.

mod common;

use std::collections::BTreeMap;

use burn::prelude::*;
use common::{assert_close, fixture, hash_uniform, load};
use styleclip::arcface::ArcFace;
use styleclip::weights::TensorFile;

const TOL: f32 = 1e-4;

/// The fixture script's `formula`.
fn formula(key: &str, k: u64, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let u = hash_uniform(k, n);
    let last = key.rsplit('.').next().unwrap();
    let map = |f: &dyn Fn(f32) -> f32| u.iter().map(|&v| f(v)).collect::<Vec<f32>>();
    if last == "running_var" {
        map(&|v| 1.0 + 0.5 * v.abs())
    } else if last == "running_mean" {
        map(&|v| 0.1 * v)
    } else if shape.len() >= 2 {
        let fan_in: usize = shape[1..].iter().product();
        let s = (3.0 / fan_in as f64).sqrt() as f32;
        map(&|v| v * s)
    } else if (last == "weight" && key.contains("res_layer.2")) || key == "input_layer.2.weight" {
        map(&|v| 0.25 + 0.05 * v)
    } else if last == "weight" {
        map(&|v| 1.0 + 0.1 * v)
    } else {
        map(&|v| 0.1 * v)
    }
}

fn official_keys() -> BTreeMap<String, Vec<usize>> {
    let json = std::fs::read_to_string(fixture("arcface/keys.json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn network(device: &Device) -> (ArcFace, BTreeMap<String, Vec<usize>>) {
    let keys = official_keys();
    let index: BTreeMap<String, u64> = keys
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as u64))
        .collect();
    let mut asked = BTreeMap::new();
    let net = ArcFace::from_fn(device, |key, shape| {
        asked.insert(key.to_string(), shape.to_vec());
        formula(key, index.get(key).copied().unwrap_or(u64::MAX / 2), shape)
    })
    .unwrap();
    (net, asked)
}

#[test]
fn irse50_matches_official() {
    let device = Device::flex();
    let (net, asked) = network(&device);
    // Every official key (BatchNorm's `num_batches_tracked` aside) and nothing else, same shapes.
    assert_eq!(asked, official_keys());

    let r = TensorFile::open(fixture("arcface/irse50.ref.safetensors")).unwrap();
    let t4 = |k: &str| -> Tensor<4> { load(&r, k, &device) };
    let t2 = |k: &str| -> Tensor<2> { load(&r, k, &device) };

    let faces = t4("faces");
    let x = net.input_prelu.forward(
        net.input_bn
            .forward(net.input_conv.forward(faces.clone().narrow(0, 0, 1))),
    );
    // The fixture keeps the first 8 channels of body.0's output.
    let body0 = net.body[0].forward(x).narrow(1, 0, 8);
    assert_close("body.0 output", body0, t4("body0"), TOL);
    assert_close(
        "embeddings (112 px)",
        net.forward(faces),
        t2("faces_features"),
        TOL,
    );
    assert_close(
        "id features (256 px)",
        net.id_features(t4("y")),
        t2("y_features"),
        TOL,
    );
    assert_close(
        "id features (320 px, pooled)",
        net.id_features(t4("big")),
        t2("big_features"),
        TOL,
    );
    let loss = net.id_loss(t4("y_hat"), t4("y"));
    let want: Tensor<1> = load(&r, "id_loss", &device);
    // The loss is a small difference of near-one dot products: compare absolutely.
    let diff: f32 = (loss - want).abs().max().into_scalar();
    assert!(diff < 1e-5, "id loss differs by {diff}");
}

#[test]
fn id_loss_is_zero_for_the_same_image_and_differentiable() {
    let device = Device::flex().autodiff();
    let (net, _) = network(&device);
    let net = net.no_grad();
    let y = Tensor::<4>::random(
        [1, 3, 256, 256],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let same: f32 = net.id_loss(y.clone(), y.clone()).into_scalar();
    assert!(same.abs() < 1e-5, "loss of an image against itself: {same}");
    let y_hat = y.clone().add_scalar(0.1).require_grad();
    let loss = net.id_loss(y_hat.clone(), y);
    let grad = y_hat.grad(&loss.backward()).unwrap();
    let g: f32 = grad.abs().sum().into_scalar();
    assert!(g > 0.0);
}

/// `model_ir_se50.pth`'s full key set and shapes in a file (f16, written here: too large to
/// commit) loads, and gives the same embeddings as the same values built directly.
#[test]
fn key_complete_checkpoint_loads() {
    let device = Device::flex();
    let keys = official_keys();
    let rounded = |key: &str, k: u64, shape: &[usize]| -> Vec<f32> {
        formula(key, k, shape)
            .into_iter()
            .map(|v| half::f16::from_f32(v).to_f32())
            .collect()
    };
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(k, (key, shape))| {
            let bytes = rounded(key, k as u64, shape)
                .into_iter()
                .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                .collect();
            (key.clone(), shape.clone(), bytes)
        })
        .collect();
    let path = common::scratch("arcface").join("model_ir_se50.safetensors");
    common::write_f16_safetensors(&path, &data);
    let loaded = ArcFace::load(&path, &device).unwrap();
    std::fs::remove_file(&path).ok();

    let index: BTreeMap<String, u64> = keys
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as u64))
        .collect();
    let direct = ArcFace::from_fn(&device, |key, shape| rounded(key, index[key], shape)).unwrap();
    let faces = Tensor::<4>::random(
        [1, 3, 112, 112],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    assert_close(
        "loaded vs direct",
        loaded.forward(faces.clone()),
        direct.forward(faces),
        1e-6,
    );

    let err = ArcFace::load(fixture("stylegan2/g4_min.pt"), &device).unwrap_err();
    assert!(
        matches!(&err, styleclip::Error::MissingKey { key, .. } if key.starts_with("body.0.")),
        "{err}"
    );
}
