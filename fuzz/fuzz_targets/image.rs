//! Image files (PNG, JPEG, WebP) read and fitted to a generator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styleclip::imaging::{fit_square, read_rgb8};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch(data, "img");
    if let Ok(img) = read_rgb8(&path) {
        let _ = fit_square(&img, 32);
    }
});
