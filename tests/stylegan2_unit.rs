//! Generator behaviour that needs no official outputs: op references, fused vs unfused, the own
//! format's round trip, typed errors, seeded noise, and the FFHQ config-f key set.

mod common;

use std::collections::BTreeMap;

use burn::prelude::*;
use common::{assert_close, fixture, scratch};
use styleclip::Error;
use styleclip::ops::{ModConvMode, make_kernel, modulated_conv2d, upfirdn2d, upfirdn2d_ref};
use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};
use styleclip::weights::TensorFile;

/// A resampling case: kernel taps, up, down, pad.
type UpFirDnCase<'a> = (&'a [f32], usize, usize, (isize, isize));
/// A safetensors entry being edited: key, dtype, shape, bytes.
type Entry = (String, safetensors::Dtype, Vec<usize>, Vec<u8>);

fn det_values(n: usize, seed: u32) -> Vec<f32> {
    // Small deterministic pseudo-random values in [-1, 1] (xorshift), no RNG crate needed.
    let mut x = seed.wrapping_mul(2654435761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u32, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(det_values(n, seed), shape), device)
}

#[test]
fn upfirdn2d_matches_its_reference() {
    let device = Device::flex();
    let shape = [2, 3, 5, 7];
    let x = det_values(shape.iter().product(), 1);
    // (kernel taps, up, down, pad): the generator's cases plus crops and odd kernels.
    let cases: [UpFirDnCase; 6] = [
        (&[1., 3., 3., 1.], 2, 1, (2, 1)),
        (&[1., 3., 3., 1.], 1, 1, (1, 1)),
        (&[1., 3., 3., 1.], 1, 2, (1, 1)),
        (&[1., 2., 1.], 3, 1, (-1, 2)),
        (&[1., 3., 3., 1.], 2, 2, (0, -1)),
        (&[2., 1., 5., 1., 3.], 1, 1, (2, 2)),
    ];
    for (taps, up, down, pad) in cases {
        let k = make_kernel(taps, 1.5);
        let n = taps.len();
        // Make the kernel asymmetric so a missing flip shows.
        let mut k = k;
        k[1] += 0.25;
        let (want, oshape) = upfirdn2d_ref(&x, shape, &k, [n, n], up, down, pad);
        let xt = Tensor::from_data(TensorData::new(x.clone(), shape), &device);
        let kt = Tensor::from_data(TensorData::new(k.clone(), [n, n]), &device);
        let got = upfirdn2d(xt, kt, up, down, pad);
        let want = Tensor::from_data(TensorData::new(want, oshape), &device);
        assert_close(
            &format!("upfirdn2d up={up} down={down} pad={pad:?}"),
            got,
            want,
            1e-6,
        );
    }
}

#[test]
fn fused_and_unfused_modulated_conv_agree() {
    let device = Device::flex();
    for (up, k, demod) in [
        (false, 3, true),
        (true, 3, true),
        (false, 1, false),
        (true, 3, false),
    ] {
        let (b, i, o) = (3, 5, 4);
        let x = tensor([b, i, 6, 6], 2, &device);
        let w = tensor([o, i, k, k], 3, &device);
        let s = tensor([b, i], 4, &device).add_scalar(1.5);
        let blur = up.then(|| {
            Tensor::from_data(
                TensorData::new(make_kernel(&[1., 3., 3., 1.], 4.0), [4, 4]),
                &device,
            )
        });
        let run =
            |mode| modulated_conv2d(x.clone(), w.clone(), s.clone(), demod, blur.clone(), mode);
        let fused = run(ModConvMode::Fused);
        let unfused = run(ModConvMode::Unfused);
        assert_eq!(fused.dims()[2], if up { 12 } else { 6 });
        assert_close(
            &format!("fused vs unfused (up={up}, k={k}, demod={demod})"),
            unfused,
            fused,
            1e-5,
        );
    }
}

#[test]
fn own_format_round_trip() {
    let device = Device::flex();
    let g = Generator::load(fixture("stylegan2/g16_mixed.pt"), &device).unwrap();
    let path = scratch("roundtrip").join("g.safetensors");
    g.save(&path).unwrap();
    let h = Generator::load(&path, &device).unwrap();
    assert_eq!(g.config(), h.config());
    let wp = g.broadcast(g.mapping(g.sample_z(2, 5)));
    let a = g.synthesis(wp.clone(), NoiseMode::Const);
    let b = h.synthesis(wp, NoiseMode::Const);
    assert_close("round trip image", b, a, 0.0);
    assert_close(
        "round trip latent_avg",
        h.latent_avg().unwrap(),
        g.latent_avg().unwrap(),
        0.0,
    );
    // The own format keeps the official key names.
    let f = TensorFile::open(&path).unwrap();
    assert!(
        f.contains("style.1.weight") && f.contains("noises.noise_0") && f.contains("latent_avg")
    );
}

#[test]
fn random_init_is_seeded_and_follows_the_config() {
    let device = Device::flex();
    let cfg = GeneratorConfig {
        channels: vec![7, 5, 3],
        ..GeneratorConfig::rosinality(16, 12, 2, 1)
    };
    let a = Generator::new_seeded(cfg.clone(), 3, &device).unwrap();
    let b = Generator::new_seeded(cfg.clone(), 3, &device).unwrap();
    let wp = a.broadcast(a.mapping(a.sample_z(2, 1)));
    let img = a.synthesis(wp.clone(), NoiseMode::Const);
    assert_eq!(img.dims(), [2, 3, 16, 16]);
    assert_close(
        "same seed",
        b.synthesis(wp.clone(), NoiseMode::Const),
        img.clone(),
        0.0,
    );
    // Official init: noise strengths are zero, so the noise mode cannot matter yet.
    assert_close(
        "noise weight 0",
        a.synthesis(wp, NoiseMode::Random(9)),
        img,
        1e-6,
    );
    let err = Generator::new(GeneratorConfig { size: 12, ..cfg }, &device).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
}

#[test]
fn random_noise_is_reproducible_from_its_seed() {
    let device = Device::flex();
    let g = Generator::load(fixture("stylegan2/g16_mixed.pt"), &device).unwrap();
    let wp = g.broadcast(g.mapping(g.sample_z(2, 5)));
    let a = g.synthesis(wp.clone(), NoiseMode::Random(1));
    let b = g.synthesis(wp.clone(), NoiseMode::Random(1));
    let c = g.synthesis(wp, NoiseMode::Random(2));
    assert_close("same noise seed", b, a.clone(), 0.0);
    assert!(
        common::rel_err(c, a) > 1e-3,
        "different noise seeds gave the same image"
    );
}

#[test]
fn typed_errors_name_the_problem() {
    let device = Device::flex();
    let dir = scratch("errors");

    let missing = dir.join("nope.pt");
    assert!(
        matches!(Generator::load(&missing, &device), Err(Error::FileNotFound(p)) if p == missing)
    );

    let text = dir.join("notes.pt");
    std::fs::write(&text, "this is not a checkpoint").unwrap();
    let err = Generator::load(&text, &device).unwrap_err();
    assert!(matches!(err, Error::NotACheckpoint { .. }), "{err}");

    // Start from a valid own-format file and break it in one place at a time.
    let g = Generator::load(fixture("stylegan2/g8_bare_f16.pt"), &device).unwrap();
    let good = dir.join("good.safetensors");
    g.save(&good).unwrap();
    let edit = |name: &str, f: &dyn Fn(&mut Vec<Entry>)| {
        let bytes = std::fs::read(&good).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut t: Vec<_> = st
            .tensors()
            .into_iter()
            .map(|(k, v)| (k, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
            .collect();
        f(&mut t);
        let views: Vec<_> = t
            .iter()
            .map(|(k, d, s, b)| {
                (
                    k.clone(),
                    safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let path = dir.join(name);
        safetensors::serialize_to_file(views, meta.metadata().clone(), &path).unwrap();
        Generator::load(&path, &device).unwrap_err()
    };

    let err = edit("missing.safetensors", &|t| {
        t.retain(|(k, ..)| k != "convs.1.conv.weight")
    });
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "convs.1.conv.weight"),
        "{err}"
    );

    let err = edit("shape.safetensors", &|t| {
        let e = t.iter_mut().find(|(k, ..)| k == "to_rgbs.0.bias").unwrap();
        e.2 = vec![3, 1, 1, 1];
    });
    match &err {
        Error::ShapeMismatch {
            key,
            expected,
            found,
        } => {
            assert_eq!(key, "to_rgbs.0.bias");
            assert_eq!(
                (expected.as_slice(), found.as_slice()),
                (&[1, 3, 1, 1][..], &[3, 1, 1, 1][..])
            );
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    assert!(err.to_string().contains("to_rgbs.0.bias") && err.to_string().contains("[3, 1, 1, 1]"));

    let err = edit("dtype.safetensors", &|t| {
        let e = t.iter_mut().find(|(k, ..)| k == "input.input").unwrap();
        e.1 = safetensors::Dtype::I32;
    });
    assert!(
        matches!(&err, Error::UnsupportedDtype { key, .. } if key == "input.input"),
        "{err}"
    );

    // A config that disagrees with the tensors (official layout: inferred; here: claimed).
    let bytes = std::fs::read(&good).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut m = meta.metadata().clone().unwrap();
    m.insert(
        "config".into(),
        m["config"].replace("\"size\":8", "\"size\":16"),
    );
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let path = dir.join("config.safetensors");
    safetensors::serialize_to_file(st.tensors(), Some(m), &path).unwrap();
    let err = Generator::load(&path, &device).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
}

/// The real FFHQ config-f key set (listed by the fixture script from the official model), as
/// an official `g_ema.*` checkpoint with f16 values: loads, infers config-f, and every key the
/// generator owns is one of the official keys and vice versa (the FIR kernel buffers aside).
#[test]
fn ffhq_config_f_key_set_and_inference() {
    let device = Device::flex();
    let json = std::fs::read_to_string(fixture("stylegan2/ffhq_config_f_keys.json")).unwrap();
    let keys: BTreeMap<String, Vec<usize>> = serde_json::from_str(&json).unwrap();
    let kernel = make_kernel(&[1., 3., 3., 1.], 4.0);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .map(|(k, shape)| {
            let n: usize = shape.iter().product();
            let bytes = if k.ends_with("kernel") {
                kernel
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect()
            } else {
                det_values(n.min(4096), n as u32)
                    .into_iter()
                    .cycle()
                    .take(n)
                    .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                    .collect()
            };
            (format!("g_ema.{k}"), shape.clone(), bytes)
        })
        .chain(std::iter::once((
            "latent_avg".to_string(),
            vec![512],
            vec![0u8; 1024],
        )))
        .collect();
    let path = scratch("ffhq").join("stylegan2-ffhq-config-f.safetensors");
    common::write_f16_safetensors(&path, &data);

    let g = Generator::load(&path, &device).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(g.config(), &GeneratorConfig::ffhq_config_f());
    assert_eq!(g.config().n_latent(), 18);
    assert_eq!(g.style_layers().len(), 26);
    let total: usize = g.style_layers().iter().map(|l| l.channels).sum();
    assert_eq!(total, 9088);

    let ours: BTreeMap<String, Vec<usize>> = g
        .state_dict()
        .into_iter()
        .filter(|(k, _)| k != "latent_avg")
        .map(|(k, d)| (k, d.shape().to_vec()))
        .collect();
    let official: BTreeMap<String, Vec<usize>> = keys
        .into_iter()
        .filter(|(k, _)| !k.ends_with("kernel"))
        .collect();
    assert_eq!(ours, official);
}
