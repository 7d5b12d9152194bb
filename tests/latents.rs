//! Latent files in every format users bring, against the array NumPy wrote; `.npy` header
//! errors. Fixtures: `scripts/gen_latent_fixtures.py`.

mod common;

use burn::prelude::*;
use common::{assert_close, fixture, load, scratch};
use styleclip::Error;
use styleclip::latents::{load_w_plus, save_latent};
use styleclip::weights::TensorFile;

#[test]
fn every_format_gives_the_same_latents() {
    let device = Device::flex();
    let expected: Tensor<3> = load(
        &TensorFile::open(fixture("latents/expected.safetensors")).unwrap(),
        "expected",
        &device,
    );
    for (file, tol) in [
        ("e4e_latents.pt", 0.0),
        ("dict_latents.pt", 0.0),
        ("c_f32.npy", 0.0),
        ("fortran_f64.npy", 1e-7),
        ("w_plus.safetensors", 0.0),
        ("f16.npy", 1e-3),
    ] {
        let got = load_w_plus(fixture(&format!("latents/{file}")), 6, 32, &device).unwrap();
        assert_close(file, got, expected.clone(), tol);
    }
    let one = load_w_plus(fixture("latents/big_endian_f4.npy"), 6, 32, &device).unwrap();
    assert_close(
        "big-endian [6, 32]",
        one,
        expected.clone().narrow(0, 0, 1),
        0.0,
    );

    let path = scratch("latents").join("roundtrip.safetensors");
    save_latent(&path, expected.clone()).unwrap();
    assert_close(
        "save/load",
        load_w_plus(&path, 6, 32, &device).unwrap(),
        expected,
        0.0,
    );

    let err = load_w_plus(fixture("latents/c_f32.npy"), 18, 512, &device).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { found, .. } if found == &vec![2, 6, 32]),
        "{err}"
    );
}

#[test]
fn bad_npy_headers_are_errors() {
    let device = Device::flex();
    let dir = scratch("npy");
    let header = |dict: &str| {
        let mut h = dict.as_bytes().to_vec();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h);
        out
    };
    let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "int dtype",
            [header(&good.replace("<f4", "<i8")), vec![0; 48]].concat(),
        ),
        ("truncated data", [header(good), vec![0; 20]].concat()),
        (
            "no shape",
            [
                header("{'descr': '<f4', 'fortran_order': False, }"),
                vec![0; 24],
            ]
            .concat(),
        ),
        ("bad version", b"\x93NUMPY\x07\x00\x10\x00{}".to_vec()),
        (
            "truncated header",
            b"\x93NUMPY\x01\x00\xff\x00{'descr'".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let p = dir.join(format!("{}.npy", what.replace(' ', "_")));
        std::fs::write(&p, bytes).unwrap();
        let err = load_w_plus(&p, 2, 3, &device).unwrap_err();
        assert!(matches!(err, Error::NotACheckpoint { .. }), "{what}: {err}");
    }
}
