//! A StyleCLIP mapper checkpoint (`torch.save` with `state_dict` and `opts`) opened and built.
#![no_main]

use burn::prelude::*;
use libfuzzer_sys::fuzz_target;
use styleclip::edit::mapper::MapperCheckpoint;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch(data, "pt");
    if let Ok(ckpt) = MapperCheckpoint::open(&path) {
        let _ = (ckpt.description(), ckpt.options(), ckpt.opts().len());
        let _ = ckpt.mapper(&Device::flex());
    }
});
