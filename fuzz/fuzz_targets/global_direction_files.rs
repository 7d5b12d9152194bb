//! Method 3's files: StyleSpace statistics and channel relevance (safetensors or `fs3.npy`),
//! and a saved W+ latent.
#![no_main]

use burn::prelude::*;
use libfuzzer_sys::fuzz_target;
use styleclip::edit::global_direction::{Relevance, StyleStats};
use styleclip::latents::load_w_plus;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch(data, "bin");
    let _ = StyleStats::load(&path);
    let _ = Relevance::load(&path);
    let _ = Relevance::load_npy(&path);
    let _ = load_w_plus(&path, 18, 512, &Device::flex());
});
