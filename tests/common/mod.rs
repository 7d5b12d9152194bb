//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::prelude::*;
use styleclip::clip::ClipConfig;
use styleclip::weights::TensorFile;

/// `hash_uniform` of `scripts/gen_arcface_fixtures.py`: an integer hash of (k, i) mapped to
/// [-1, 1), exact in both languages, for weights too many to commit.
pub fn hash_uniform(k: u64, n: usize) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let mut h = (i.wrapping_mul(2654435761) ^ (k * 97531 + 12345)) & 0xFFFF_FFFF;
            h = ((h ^ (h >> 15)) * 73244475) & 0xFFFF_FFFF;
            h ^= h >> 13;
            (h as f64 / 4294967296.0 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("styleclip-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Read a float tensor of rank `D` from a reference file.
pub fn load<const D: usize>(file: &TensorFile, key: &str, device: &Device) -> Tensor<D> {
    let (values, shape) = file.read_f32(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    let shape: [usize; D] = shape
        .try_into()
        .unwrap_or_else(|s| panic!("{key}: rank {} expected, shape {s:?}", D));
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// `max |a − b| / max |b|`: the error relative to the reference's scale.
pub fn rel_err<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let diff: f32 = (a - b.clone()).abs().max().into_scalar();
    let scale: f32 = b.abs().max().into_scalar();
    diff / scale.max(1e-12)
}

/// Assert `rel_err(a, b) ≤ tol`, naming what was compared.
pub fn assert_close<const D: usize>(what: &str, a: Tensor<D>, b: Tensor<D>, tol: f32) {
    let e = rel_err(a, b);
    assert!(e <= tol, "{what}: relative error {e:e} > {tol:e}");
}

/// Write f16 tensors (`key`, shape, f16 little-endian bytes) as a safetensors file.
pub fn write_f16_safetensors(path: &std::path::Path, tensors: &[(String, Vec<usize>, Vec<u8>)]) {
    let views: Vec<_> = tensors
        .iter()
        .map(|(k, s, b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, s.clone(), b)
                .unwrap();
            (k.clone(), v)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// The configuration of the tiny 224 px CLIP in `tests/fixtures/optimization/clip.safetensors`
/// (2 text heads of width 16, so it cannot be inferred from shapes), shared by the method tests.
pub fn tiny_clip_config() -> ClipConfig {
    ClipConfig {
        embed_dim: 32,
        image_resolution: 224,
        vision_layers: 2,
        vision_width: 128,
        vision_heads: 2,
        vision_patch_size: 32,
        context_length: 77,
        vocab_size: 49408,
        text_width: 32,
        text_heads: 2,
        text_layers: 2,
    }
}

/// The LPIPS formula weights of `scripts/gen_lpips_fixtures.py` (`formula_weights`), by
/// torchvision / release key: convolution `i` (in order) weight `hash_uniform(2i)·√(6/fan_in)`,
/// bias `0.05·hash_uniform(2i + 1)`; head `k` `0.05 + 0.5·|hash_uniform(26 + k)|`.
pub fn lpips_formula(key: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    if let Some(k) = key
        .strip_prefix("lin")
        .and_then(|r| r.strip_suffix(".model.1.weight"))
    {
        let k: u64 = k.parse().unwrap();
        return hash_uniform(26 + k, n)
            .into_iter()
            .map(|u| 0.05 + 0.5 * u.abs())
            .collect();
    }
    let parts: Vec<&str> = key.split('.').collect();
    assert_eq!(parts[0], "features", "unexpected key {key}");
    let conv = styleclip::lpips::SLICES
        .iter()
        .flat_map(|s| s.iter().copied())
        .position(|f| f.to_string() == parts[1])
        .unwrap() as u64;
    if parts[2] == "weight" {
        let fan_in: usize = shape[1..].iter().product();
        let s = (6.0 / fan_in as f64).sqrt() as f32;
        hash_uniform(2 * conv, n)
            .into_iter()
            .map(|u| u * s)
            .collect()
    } else {
        hash_uniform(2 * conv + 1, n)
            .into_iter()
            .map(|u| 0.05 * u)
            .collect()
    }
}
