//! `TensorFile::open` (torch zip + pickle, legacy `torch.save`, TorchScript, safetensors,
//! `.npy`), then every tensor read as f32.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styleclip::weights::TensorFile;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch(data, "bin");
    if let Ok(file) = TensorFile::open(&path) {
        let _ = file.metadata().len();
        for key in file.keys() {
            let _ = (file.shape(key), file.dtype(key));
            let _ = file.read_f32(key);
        }
    }
});
