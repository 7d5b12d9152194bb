//! Prompts of any bytes (lossily decoded, as user input is) through the official tokenizer.
#![no_main]

use burn::prelude::*;
use libfuzzer_sys::fuzz_target;
use styleclip::tokenizer::Tokenizer;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static TOKENIZER: Tokenizer = Tokenizer::new();
    }
    let text = String::from_utf8_lossy(data);
    TOKENIZER.with(|t| {
        let _ = t.encode(&text);
        let _ = t.tokenize(&[text.as_ref()], &Device::flex());
    });
});
