//! The same generator code on a CubeCL backend: the official outputs reproduced on wgpu.
//!
//! Runs with `cargo test --features wgpu --test wgpu_smoke`. CI provides a software Vulkan
//! adapter (Mesa lavapipe), so this checks correctness on wgpu, not speed.
#![cfg(feature = "wgpu")]

mod common;

use burn::prelude::*;
use common::{assert_close, fixture, load};
use styleclip::device::device_from_name;
use styleclip::stylegan2::{Generator, ModConvMode, NoiseMode};
use styleclip::weights::TensorFile;

#[test]
fn generator_on_wgpu_matches_official() {
    let device = device_from_name("wgpu").unwrap();
    let r = TensorFile::open(fixture("stylegan2/g16_mixed.ref.safetensors")).unwrap();
    let mut g = Generator::load(fixture("stylegan2/g16_mixed.pt"), &device).unwrap();
    let wp: Tensor<3> = load(&r, "wp", &device);

    assert_close(
        "mapping",
        g.mapping(load(&r, "z", &device)),
        load(&r, "w", &device),
        1e-4,
    );
    let s = g.styles(wp.clone());
    for (j, layer) in s.layers().iter().enumerate() {
        let want: Tensor<2> = load(&r, &format!("style_{j}"), &device);
        assert_close(&format!("style {j}"), layer.clone(), want, 1e-4);
    }
    for mode in [ModConvMode::Auto, ModConvMode::Fused] {
        g = g.with_modconv_mode(mode);
        let img = g.synthesis(wp.clone(), NoiseMode::Const);
        assert_close(
            &format!("W+ image ({mode:?})"),
            img,
            load(&r, "image_wp", &device),
            1e-4,
        );
    }
    device.sync().unwrap();
}

#[test]
fn mapper_on_wgpu_matches_official() {
    use styleclip::edit::mapper::LevelsMapper;
    let device = device_from_name("wgpu").unwrap();
    let r = TensorFile::open(fixture("mapper/mapper.ref.safetensors")).unwrap();
    let m = LevelsMapper::load(fixture("mapper/levels.pt"), &device).unwrap();
    let w: Tensor<3> = load(&r, "w", &device);
    assert_close(
        "levels mapper delta",
        m.forward(w),
        load(&r, "levels.delta", &device),
        1e-4,
    );
    device.sync().unwrap();
}
