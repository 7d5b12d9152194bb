//! LPIPS v0.1 (VGG16) against PyPI `lpips` 0.1.4 (`LPIPS(net='vgg', version='0.1')`) on CPU,
//! on deterministic weights and inputs given by a formula both sides evaluate (the 14.7 M
//! trunk parameters are too many to commit), plus the weight loaders. Fixtures:
//! `scripts/gen_lpips_fixtures.py`.
//!
//! Tolerances: distances and per-layer terms are compared element by element, relative to
//! each value (`|a − b| / |b| ≤ 1e-5`); the taps and the input gradient relative to the
//! largest reference magnitude (`max |a − b| / max |b|`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use common::{fixture, hash_uniform, load, lpips_formula, rel_err};
use styleclip::Error;
use styleclip::lpips::{CHANNELS, Lpips, SLICES};
use styleclip::weights::TensorFile;

const TOL: f32 = 1e-5;

/// The network the fixture was computed with, and the keys and shapes `from_fn` asked for.
fn network(device: &Device) -> (Lpips, Vec<(String, Vec<usize>)>) {
    let mut asked = Vec::new();
    let net = Lpips::from_fn(device, |key, shape| {
        asked.push((key.to_string(), shape.to_vec()));
        lpips_formula(key, shape)
    })
    .unwrap();
    (net, asked)
}

fn image(seed: u64, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(hash_uniform(seed, n), shape), device)
}

/// `clamp(a + s · u(seed), -1, 1)`, computed in f32 on the host as the script does.
fn near(a: &Tensor<4>, seed: u64, s: f32) -> Tensor<4> {
    let shape = a.dims();
    let values: Vec<f32> = a.to_data().try_to_vec::<f32>().unwrap();
    let u = hash_uniform(seed, values.len());
    let v = values
        .iter()
        .zip(&u)
        .map(|(&x, &u)| (x + s * u).clamp(-1.0, 1.0))
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &a.device())
}

/// The 64 px pairs: independent, near (s = 0.1), nearer (s = 0.3).
fn pairs64(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let a = image(100, [3, 3, 64, 64], device);
    let b = Tensor::cat(
        vec![
            image(101, [1, 3, 64, 64], device),
            near(&a.clone().narrow(0, 1, 1), 102, 0.1),
            near(&a.clone().narrow(0, 2, 1), 103, 0.3),
        ],
        0,
    );
    (a, b)
}

/// The 50×76 pair (odd sizes after the pools).
fn pair_odd(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let a = image(104, [1, 3, 50, 76], device);
    let b = near(&a, 105, 0.2);
    (a, b)
}

/// Largest `|a − b| / |b|` over the elements.
fn max_rel_each<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a: Vec<f32> = a.into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f32> = b.into_data().try_to_vec::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-30))
        .fold(0.0, f32::max)
}

fn per_layer_matrix(per: [Tensor<1>; 5]) -> Tensor<2> {
    Tensor::stack(per.to_vec(), 0)
}

#[test]
fn distances_match_official() {
    let device = Device::flex();
    let (net, asked) = network(&device);

    // Every weight of PyPI's state dict (trunk under torchvision's names, one copy of each
    // head, the scaling buffers aside) and nothing else, with the same shapes, in order.
    let official: BTreeMap<String, Vec<usize>> = serde_json::from_str(
        &std::fs::read_to_string(fixture("lpips/state_dict_keys.json")).unwrap(),
    )
    .unwrap();
    let mut expected = Vec::new();
    for (s, indices) in SLICES.iter().enumerate() {
        for n in *indices {
            for what in ["weight", "bias"] {
                let key = format!("net.slice{}.{n}.{what}", s + 1);
                expected.push((format!("features.{n}.{what}"), official[&key].clone()));
            }
        }
    }
    for k in 0..5 {
        let key = format!("lin{k}.model.1.weight");
        expected.push((key.clone(), official[&key].clone()));
    }
    assert_eq!(asked, expected);

    let r = TensorFile::open(fixture("lpips/lpips.ref.safetensors")).unwrap();
    let mut report = Vec::new();
    for (name, (a, b)) in [("p64", pairs64(&device)), ("odd", pair_odd(&device))] {
        let per = net.distance_per_layer(a.clone(), b.clone());
        let d = net.distance(a, b);
        let e_d = max_rel_each(d, load(&r, &format!("{name}_distance"), &device));
        let e_l = max_rel_each(
            per_layer_matrix(per),
            load(&r, &format!("{name}_per_layer"), &device),
        );
        report.push(format!("{name}: distance {e_d:e}, per-layer {e_l:e}"));
        assert!(e_d <= TOL, "{name} distances: relative error {e_d:e}");
        assert!(e_l <= TOL, "{name} per-layer terms: relative error {e_l:e}");
    }

    // The trunk alone (`pretrained_networks.vgg16.forward` after the scaling layer), first
    // four channels of each tap.
    let (a, _) = pair_odd(&device);
    for (k, tap) in net.taps(a).into_iter().enumerate() {
        let [n, _, h, w] = tap.dims();
        assert_eq!([h, w], [50 >> k, 76 >> k], "tap {k} size (floor pooling)");
        let e = rel_err(
            tap.narrow(1, 0, 4),
            load::<4>(&r, &format!("odd_tap{k}"), &device),
        );
        report.push(format!("tap{k}: {e:e}"));
        assert!(e <= TOL, "tap {k}: relative error {e:e} ({n} images)");
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn gradient_matches_official() {
    let device = Device::flex().autodiff();
    let (net, _) = network(&device);
    let (a, b) = pairs64(&device);
    let a1 = a.narrow(0, 1, 1).require_grad();
    let d = net.distance(a1.clone(), b.narrow(0, 1, 1));
    let grad = a1.grad(&d.sum().backward()).unwrap();
    let r = TensorFile::open(fixture("lpips/lpips.ref.safetensors")).unwrap();
    let want: Tensor<4> = load(&r, "p64_grad_a1", &Device::flex());
    let e = rel_err(grad, want);
    eprintln!("gradient: relative error {e:e}");
    assert!(e <= 1e-4, "gradient: relative error {e:e}");
}

#[test]
fn symmetric_and_zero_on_identical_images() {
    let device = Device::flex();
    let net = Lpips::new_seeded(7, &device).unwrap();
    let (a, b) = pairs64(&device);
    let ab: Vec<f32> = net
        .distance(a.clone(), b.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let ba: Vec<f32> = net
        .distance(b, a.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(ab, ba, "d(a, b) and d(b, a)");
    assert!(ab.iter().all(|&d| d > 0.0), "{ab:?}");
    let aa: Vec<f32> = net
        .distance(a.clone(), a)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(aa, vec![0.0; 3], "d(a, a)");
}

#[test]
fn cached_target_features_give_the_same_distance() {
    let device = Device::flex();
    let (net, _) = network(&device);
    let (a, b) = pair_odd(&device);
    let fa = net.features(a.clone());
    let fb = net.features(b.clone());
    let cached = net.distance_from_features(&fa, &fb);
    let e = max_rel_each(cached, net.distance(a, b));
    assert!(e <= 1e-6, "{e:e}");
    // A single target broadcasts over a batch.
    let (a64, b64) = pairs64(&device);
    let target = b64.narrow(0, 1, 1);
    let many =
        net.distance_from_features(&net.features(a64.clone()), &net.features(target.clone()));
    let each = net.distance(a64, target.repeat_dim(0, 3));
    assert!(max_rel_each(many, each) <= 1e-6);
}

#[test]
fn try_distance_checks_shapes() {
    let device = Device::flex();
    let net = Lpips::new_seeded(0, &device).unwrap();
    let img = |shape: [usize; 4]| Tensor::<4>::zeros(shape, &device);
    let bad = [
        (img([1, 4, 32, 32]), img([1, 4, 32, 32]), "[1, 4, 32, 32]"),
        (img([1, 3, 32, 32]), img([1, 1, 32, 32]), "[1, 1, 32, 32]"),
        (img([1, 3, 8, 32]), img([1, 3, 8, 32]), "[1, 3, 8, 32]"),
        (img([0, 3, 32, 32]), img([0, 3, 32, 32]), "[0, 3, 32, 32]"),
        (img([1, 3, 32, 32]), img([2, 3, 32, 32]), "[2, 3, 32, 32]"),
        (img([1, 3, 32, 32]), img([1, 3, 32, 48]), "[1, 3, 32, 48]"),
    ];
    for (a, b, named) in bad {
        let err = net.try_distance(a, b).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains(named)),
            "{err}"
        );
    }
    let d = net
        .try_distance(img([2, 3, 16, 16]), img([2, 3, 16, 16]))
        .unwrap();
    assert_eq!(d.dims(), [2]);
    let per = net
        .try_distance_per_layer(img([1, 3, 16, 20]), img([1, 3, 16, 20]))
        .unwrap();
    assert!(per.iter().all(|t| t.dims() == [1]));
}

/// Write f32 tensors as safetensors.
fn write_f32(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<_> = tensors
        .iter()
        .zip(&bytes)
        .map(|((k, s, _), b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .unwrap();
            (k.clone(), v)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// The formula trunk under torchvision's keys, `vgg16-397923af.pth`'s layout.
fn torchvision_trunk() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut cin = 3;
    for (s, indices) in SLICES.iter().enumerate() {
        for n in *indices {
            let c = CHANNELS[s];
            for (what, shape) in [("weight", vec![c, cin, 3, 3]), ("bias", vec![c])] {
                let key = format!("features.{n}.{what}");
                out.push((key.clone(), shape.clone(), lpips_formula(&key, &shape)));
            }
            cin = c;
        }
    }
    out
}

fn heads_with(name: impl Fn(usize) -> String) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    CHANNELS
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let shape = vec![1, c, 1, 1];
            (
                name(k),
                shape.clone(),
                lpips_formula(&format!("lin{k}.model.1.weight"), &shape),
            )
        })
        .collect()
}

fn assert_same_net(what: &str, net: &Lpips, reference: &Lpips, device: &Device) {
    let (a, b) = pair_odd(device);
    let got = net.distance_per_layer(a.clone(), b.clone());
    let want = reference.distance_per_layer(a, b);
    let e = max_rel_each(per_layer_matrix(got), per_layer_matrix(want));
    assert!(e <= 1e-6, "{what}: relative error {e:e}");
}

#[test]
fn loaders_read_every_layout_and_name_what_is_wrong() {
    let device = Device::flex();
    let (reference, _) = network(&device);
    let dir = common::scratch("lpips");
    let legacy_heads = fixture("lpips/heads_v0.1_legacy.pth");

    // torchvision trunk (+ an ignored classifier) and the release's legacy-pickle heads.
    let mut trunk = torchvision_trunk();
    trunk.push(("classifier.6.bias".into(), vec![1000], vec![0.0; 1000]));
    let trunk_path = dir.join("vgg16.safetensors");
    write_f32(&trunk_path, &trunk);
    let net = Lpips::load(&trunk_path, &legacy_heads, &device).unwrap();
    assert_same_net(
        "torchvision trunk + legacy heads",
        &net,
        &reference,
        &device,
    );

    // A PyPI `LPIPS(net='vgg').state_dict()`: `net.slice{s}.{N}`, `lin{k}` and `lins.{k}`,
    // the scaling buffers, every key as the official module names it.
    let official: BTreeMap<String, Vec<usize>> = serde_json::from_str(
        &std::fs::read_to_string(fixture("lpips/state_dict_keys.json")).unwrap(),
    )
    .unwrap();
    let full: Vec<_> = official
        .iter()
        .map(|(key, shape)| {
            let values = if let Some(rest) = key.strip_prefix("net.slice") {
                let (_, tail) = rest.split_once('.').unwrap();
                lpips_formula(&format!("features.{tail}"), shape)
            } else if let Some(rest) = key.strip_prefix("lins.") {
                let (k, _) = rest.split_once('.').unwrap();
                lpips_formula(&format!("lin{k}.model.1.weight"), shape)
            } else if key == "scaling_layer.shift" {
                styleclip::lpips::SHIFT.to_vec()
            } else if key == "scaling_layer.scale" {
                styleclip::lpips::SCALE.to_vec()
            } else {
                lpips_formula(key, shape)
            };
            (key.clone(), shape.clone(), values)
        })
        .collect();
    let full_path = dir.join("lpips_state_dict.safetensors");
    write_f32(&full_path, &full);
    let net = Lpips::load_file(&full_path, &device).unwrap();
    assert_same_net("PyPI state dict", &net, &reference, &device);
    // Its trunk half with lpips' `net.slice*` names, heads only under PyPI's `lins.{k}` alias.
    let only_lins: Vec<_> = full
        .iter()
        .filter(|(k, _, _)| k.starts_with("lins."))
        .cloned()
        .collect();
    let lins_path = dir.join("lins.safetensors");
    write_f32(&lins_path, &only_lins);
    let net = Lpips::load(&full_path, &lins_path, &device).unwrap();
    assert_same_net("lpips trunk + `lins.{k}` heads", &net, &reference, &device);
    // e4e's renamed heads `{k}.1.weight`.
    let e4e_path = dir.join("e4e_heads.safetensors");
    write_f32(&e4e_path, &heads_with(|k| format!("{k}.1.weight")));
    let net = Lpips::load(&trunk_path, &e4e_path, &device).unwrap();
    assert_same_net("e4e heads", &net, &reference, &device);

    // save → load_file.
    let saved = dir.join("saved.safetensors");
    reference.save(&saved).unwrap();
    let net = Lpips::load_file(&saved, &device).unwrap();
    assert_same_net("saved and reloaded", &net, &reference, &device);
    let keys = TensorFile::open(&saved).unwrap();
    assert!(keys.contains("features.28.bias") && keys.contains("lin4.model.1.weight"));

    // Errors name the file, the key, the shapes.
    let err = Lpips::load(dir.join("absent.pth"), &legacy_heads, &device).unwrap_err();
    assert!(
        matches!(&err, Error::FileNotFound(p) if p.ends_with("absent.pth")),
        "{err}"
    );
    let err = Lpips::load(&legacy_heads, &legacy_heads, &device).unwrap_err();
    assert!(
        matches!(&err, Error::NotACheckpoint { reason, .. } if reason.contains("features.0.weight")),
        "{err}"
    );
    let err = Lpips::load(&trunk_path, &trunk_path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::NotACheckpoint { reason, .. } if reason.contains("lin0.model.1.weight")),
        "{err}"
    );
    let missing: Vec<_> = trunk
        .iter()
        .filter(|(k, _, _)| k != "features.28.bias")
        .cloned()
        .collect();
    let missing_path = dir.join("missing.safetensors");
    write_f32(&missing_path, &missing);
    let err = Lpips::load(&missing_path, &legacy_heads, &device).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, source_name } if key == "features.28.bias" && source_name.contains("missing.safetensors")),
        "{err}"
    );
    let mut reshaped = trunk.clone();
    reshaped[4].1 = vec![128, 64, 1, 9]; // features.5.weight
    let reshaped_path = dir.join("reshaped.safetensors");
    write_f32(&reshaped_path, &reshaped);
    let err = Lpips::load(&reshaped_path, &legacy_heads, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, expected, found } if key == "features.5.weight" && expected == &[128, 64, 3, 3] && found == &[128, 64, 1, 9]),
        "{err}"
    );
    let mut bad_heads = heads_with(|k| format!("lin{k}.model.1.weight"));
    bad_heads[2].1 = vec![256];
    let bad_heads_path = dir.join("bad_heads.safetensors");
    write_f32(&bad_heads_path, &bad_heads);
    let err = Lpips::load(&trunk_path, &bad_heads_path, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { key, .. } if key == "lin2.model.1.weight"),
        "{err}"
    );

    // The released `weights/v0.1/vgg.pth` (legacy pickle, CUDA storages), when given.
    if let Ok(real) = std::env::var("LPIPS_VGG_PTH") {
        let net = Lpips::load(&trunk_path, &real, &device).unwrap();
        let r = TensorFile::open(fixture("lpips/lpips.ref.safetensors")).unwrap();
        let want: Vec<f32> = load::<1>(&r, "real_vgg_head_sums", &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (k, lin) in net.lins.iter().enumerate() {
            let sum: f32 = lin.weight.val().sum().into_scalar();
            assert!(
                (sum - want[k]).abs() <= 1e-5 * want[k],
                "head {k}: {sum} vs {}",
                want[k]
            );
        }
        eprintln!("released vgg.pth loads: head sums {want:?}");
    } else {
        eprintln!("LPIPS_VGG_PTH unset: the released vgg.pth was not checked");
    }
    std::fs::remove_dir_all(&dir).ok();
}
