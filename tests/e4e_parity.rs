//! e4e against the official `omertov/encoder4editing` code run on CPU
//! (`scripts/gen_e4e_fixtures.py`):
//! - `Encoder4Editing(50, 'ir_se', stylegan_size=64)` (10 heads) on weights from a formula both
//!   sides evaluate (its 142 M parameters are too many to commit): taps, pyramid, every head,
//!   the W+ codes and `+ latent_avg`;
//! - a checkpoint in the released `e4e_ffhq_encode.pt` layout (torch zip, `{"state_dict":
//!   {encoder.*, decoder.*}, "opts", "latent_avg"}`, 14 heads, a narrow decoder) against the
//!   official `load_e4e_standalone` and `pSp.forward(randomize_noise=False)`;
//! - the loader's and the input check's errors.

mod common;

use std::collections::{BTreeMap, HashMap};

use burn::prelude::*;
use common::{fixture, hash_uniform, load, rel_err};
use styleclip::Error;
use styleclip::e4e::{E4eConfig, Encoder4Editing, load_decoder, load_with_decoder};
use styleclip::stylegan2::{Generator, NoiseMode};
use styleclip::weights::TensorFile;

/// Hash key of the input images (`IMAGE_K` in the script).
const IMAGE_K: u64 = 10_000_000;
/// Hash key of fixture 1's `[512]` latent_avg.
const AVG_K: u64 = 10_000_001;
/// W+ tolerance (absolute), the brief's bar.
const W_TOL: f32 = 1e-4;

/// The script's `formula`: `hash_uniform` scaled by the kind of tensor.
fn formula(key: &str, k: u64, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let u = hash_uniform(k, n);
    let last = key.rsplit('.').next().unwrap();
    let map = |f: &dyn Fn(f32) -> f32| u.iter().map(|&v| f(v)).collect::<Vec<f32>>();
    let fan_in = || shape[1..].iter().product::<usize>() as f64;
    if last == "running_var" {
        map(&|v| 1.0 + 0.5 * v.abs())
    } else if last == "running_mean" {
        map(&|v| 0.1 * v)
    } else if key.ends_with("linear.weight") {
        let s = 3f64.sqrt() as f32;
        map(&|v| v * s)
    } else if key.starts_with("styles.") && shape.len() == 4 {
        let s = (6.0 / fan_in()).sqrt() as f32;
        map(&|v| v * s)
    } else if shape.len() >= 2 {
        let s = (3.0 / fan_in()).sqrt() as f32;
        map(&|v| v * s)
    } else if last == "weight" && (key.contains("res_layer.2") || key == "input_layer.2.weight") {
        map(&|v| 0.25 + 0.05 * v)
    } else if last == "weight" {
        map(&|v| 1.0 + 0.1 * v)
    } else {
        map(&|v| 0.1 * v)
    }
}

/// The script's `images(n)`: `[n, 3, 256, 256]` in [-1, 1).
fn images(n: usize, device: &Device) -> Tensor<4> {
    let v = hash_uniform(IMAGE_K, n * 3 * 256 * 256);
    Tensor::from_data(TensorData::new(v, [n, 3, 256, 256]), device)
}

fn max_abs<const D: usize>(what: &str, a: Tensor<D>, b: Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let e: f32 = (a - b).abs().max().into_scalar();
    eprintln!("{what}: max |Δ| = {e:e}");
    e
}

/// `x[:, :, ::s, ::s]` of an `[B, C, H, W]` tensor whose sides `s` divides.
fn every<const S: usize>(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / S, S, w / S, S])
        .narrow(3, 0, 1)
        .narrow(5, 0, 1)
        .reshape([b, c, h / S, w / S])
}

/// Channels `0, step, 2·step, …` of an `[B, C, H, W]` tensor.
fn channels(x: Tensor<4>, step: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c / step, step, h, w])
        .narrow(2, 0, 1)
        .reshape([b, c / step, h, w])
}

fn spatial_mean(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}

#[test]
fn formula_weights_match_official() {
    let device = Device::flex();
    let json = std::fs::read_to_string(fixture("e4e/keys64.json")).unwrap();
    let official: BTreeMap<String, Vec<usize>> = serde_json::from_str(&json).unwrap();
    let index: HashMap<&str, u64> = official
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u64))
        .collect();
    let mut asked = BTreeMap::new();
    let config = E4eConfig::official(64).unwrap();
    assert_eq!(config.n_styles, 10);
    let net = Encoder4Editing::from_fn(config, &device, |key, shape| {
        asked.insert(key.to_string(), shape.to_vec());
        formula(key, index.get(key).copied().unwrap_or(u64::MAX / 2), shape)
    })
    .unwrap();
    // Every official key (BatchNorm's `num_batches_tracked` aside) and nothing else, same shapes.
    assert_eq!(asked, official);

    let r = TensorFile::open(fixture("e4e/e4e64.ref.safetensors")).unwrap();
    let t4 = |k: &str| -> Tensor<4> { load(&r, k, &device) };
    let t2 = |k: &str| -> Tensor<2> { load(&r, k, &device) };
    let x = images(2, &device);

    let f = net.features(x.clone());
    let p2 = net.p2(&f);
    let p1 = net.p1(&f, p2.clone());
    let mut worst_tap = 0f32;
    for (name, t, pick) in [
        ("c1", &f.c1, channels(every::<2>(f.c1.clone()), 32)),
        ("c2", &f.c2, channels(f.c2.clone(), 64)),
        ("c3", &f.c3, channels(f.c3.clone(), 128)),
        ("p2", &p2, channels(p2.clone(), 128)),
        ("p1", &p1, channels(every::<2>(p1.clone()), 128)),
    ] {
        let e = rel_err(pick, t4(name));
        let m = rel_err(spatial_mean(t.clone()), t2(&format!("{name}_mean")));
        eprintln!("{name}: relative error {e:e} (slice), {m:e} (channel means)");
        worst_tap = worst_tap.max(e).max(m);
    }
    assert!(worst_tap < 1e-4, "taps differ: {worst_tap:e}");

    let levels = [&f.c3, &f.c3, &f.c3, &p2, &p2, &p2, &p2, &p1, &p1, &p1];
    for (i, level) in levels.iter().enumerate() {
        let head = net.styles[i].forward((*level).clone());
        let e = max_abs(&format!("head {i}"), head, t2(&format!("head{i}")));
        assert!(e < W_TOL, "head {i} differs by {e:e}");
    }

    // The forward from the taps (the heads run again here: `codes` = this on `features`).
    let codes = net.codes_from_features(&f);
    let want: Tensor<3> = load(&r, "codes", &device);
    assert!(max_abs("codes (official forward)", codes, want) < W_TOL);

    // A `[512]` latent_avg, as rosinality checkpoints hold it, broadcast over rows and batch.
    let avg: Tensor<1> = load(&r, "latent_avg", &device);
    assert_eq!(
        avg.clone().into_data(),
        TensorData::new(hash_uniform(AVG_K, 512), [512])
    );
    let net = net.with_latent_avg(Some(avg.unsqueeze())).unwrap();
    assert_eq!(net.latent_avg().unwrap().dims(), [10, 512]);
    // The whole entry point on the first image (one more pass; both images take twice as long).
    let w_plus = net.try_encode(x.narrow(0, 0, 1)).unwrap();
    let want: Tensor<3> = load(&r, "w_plus", &device);
    assert!(max_abs("W+ (codes + latent_avg)", w_plus, want.narrow(0, 0, 1)) < W_TOL);

    // The official forward only works at 256 × 256 RGB (`view(-1, 512)` in the heads).
    for dims in [
        [1, 3, 128, 128],
        [1, 3, 256, 512],
        [1, 1, 256, 256],
        [0, 3, 256, 256],
    ] {
        let err = net
            .try_encode(Tensor::zeros(dims, &device))
            .map(|w| w.dims())
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("[B, 3, 256, 256]")),
            "{dims:?}: {err}"
        );
    }
    let err = net
        .with_latent_avg(Some(Tensor::zeros([3, 512], &device)))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, expected, found }
            if key == "latent_avg" && expected == &[10, 512] && found == &[3, 512]),
        "{err}"
    );
}

#[test]
fn genuine_layout_checkpoint_matches_official() {
    let device = Device::flex();
    let path = fixture("e4e/e4e256_genuine.pt");
    let (net, decoder) = load_with_decoder(&path, &device).unwrap();
    assert_eq!((net.n_styles(), net.style_dim()), (14, 512));
    let r = TensorFile::open(fixture("e4e/e4e256_genuine.ref.safetensors")).unwrap();

    // `[14, 512]` latent_avg (the mean w repeated per style, as training stores it).
    let file = TensorFile::open(&path).unwrap();
    assert_eq!(file.shape("latent_avg"), Some(&[14usize, 512][..]));
    let (avg, _) = file.read_f32("latent_avg").unwrap();
    assert_eq!(
        net.latent_avg().unwrap().into_data(),
        TensorData::new(avg.clone(), [14, 512])
    );

    let x = images(1, &device);
    let w_plus = net.try_encode(x).unwrap();
    let want: Tensor<3> = load(&r, "w_plus", &device);
    assert!(max_abs("W+ (load_e4e_standalone)", w_plus.clone(), want.clone()) < W_TOL);

    // The decoder: pSp renders the official W+ with the stored noise buffers at 256 px.
    assert_eq!(decoder.config().size, 256);
    assert_eq!(
        decoder.latent_avg().unwrap().into_data(),
        TensorData::new(avg[..512].to_vec(), [512])
    );
    let image = decoder.synthesis(want, NoiseMode::Const);
    let sub = every::<8>(image.clone());
    let e = rel_err(sub, load(&r, "image_sub", &device));
    let m = rel_err(spatial_mean(image), load(&r, "image_mean", &device));
    eprintln!("decoder image: relative error {e:e} (every 8th pixel), {m:e} (channel means)");
    assert!(e < 1e-4 && m < 1e-4);

    // The rosinality loader reads the same decoder from the e4e layout.
    let g = Generator::load(&path, &device).unwrap();
    assert_eq!(g.config(), decoder.config());
}

#[test]
fn loader_errors_name_the_problem() {
    let device = Device::flex();
    let dir = common::scratch("e4e");
    let write = |name: &str, tensors: &[(&str, Vec<usize>)]| {
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(k, s)| {
                let n: usize = s.iter().product();
                let bytes = vec![half::f16::from_f32(0.01).to_le_bytes(); n].concat();
                (k.to_string(), s.clone(), bytes)
            })
            .collect();
        let path = dir.join(name);
        common::write_f16_safetensors(&path, &data);
        path
    };
    let input = ("state_dict.encoder.input_layer.0.weight", vec![64, 3, 3, 3]);
    let head = ("state_dict.encoder.styles.0.linear.weight", vec![512, 512]);

    // A key the official strict load needs is absent: named with its full prefix.
    let path = write("missing.safetensors", &[input.clone(), head.clone()]);
    let err = Encoder4Editing::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "state_dict.encoder.input_layer.1.weight"),
        "{err}"
    );

    // A tensor of the wrong shape.
    let bad = ("state_dict.encoder.input_layer.0.weight", vec![64, 3, 5, 5]);
    let path = write("shape.safetensors", &[bad, head.clone()]);
    let err = Encoder4Editing::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, found, .. }
            if key == "state_dict.encoder.input_layer.0.weight" && found == &[64, 3, 5, 5]),
        "{err}"
    );

    // A latent_avg that broadcasts over neither one nor every style row (checked before the
    // weights are read).
    let path = write(
        "avg.safetensors",
        &[input.clone(), head.clone(), ("latent_avg", vec![3, 512])],
    );
    let err = Encoder4Editing::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, expected, found }
            if key == "latent_avg" && expected == &[1, 512] && found == &[3, 512]),
        "{err}"
    );

    // No encoder at all (a StyleGAN2 checkpoint), or an IR-SE50 without heads (ArcFace).
    let err = Encoder4Editing::load(fixture("stylegan2/g4_min.pt"), &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "state_dict.encoder.input_layer.0.weight"),
        "{err}"
    );
    let path = write(
        "arcface.safetensors",
        &[("input_layer.0.weight", vec![64, 3, 3, 3])],
    );
    let err = Encoder4Editing::load(&path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "styles.0.linear.weight"),
        "{err}"
    );

    // The genuine layout with pSp's encoder type in `opts` (torch zip written by torch.save).
    let psp = fixture("e4e/e4e_psp_opts.pt");
    let err = Encoder4Editing::load(&psp, &device).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("GradualStyleEncoder")),
        "{err}"
    );
    let err = load_decoder(&psp, &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "state_dict.decoder.input.input"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
