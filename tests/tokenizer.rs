//! The native CLIP tokenizer against goldens from the official Python tokenizer
//! (`scripts/gen_tokenizer_fixtures.py`, clip-anytorch + ftfy).

mod common;

use burn::prelude::*;
use serde::Deserialize;
use styleclip::Error;
use styleclip::tokenizer::{CONTEXT_LENGTH, EOT, SOT, Tokenizer, clean_text};

#[derive(Deserialize)]
struct Goldens {
    context_length: usize,
    vocab_size: usize,
    cases: Vec<Case>,
    decode: Vec<DecodeCase>,
    batch: Batch,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    cleaned: String,
    encode: Vec<u32>,
    decode: String,
    tokenize_truncate: Vec<u32>,
    raises: bool,
}

#[derive(Deserialize)]
struct DecodeCase {
    ids: Vec<u32>,
    text: String,
}

#[derive(Deserialize)]
struct Batch {
    texts: Vec<String>,
    tokenize: Vec<Vec<u32>>,
}

fn goldens() -> Goldens {
    let path = common::fixture("tokenizer/goldens.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("goldens.json parses")
}

#[test]
fn golden_cases() {
    let g = goldens();
    assert_eq!(g.context_length, CONTEXT_LENGTH);
    assert!(g.cases.len() >= 60, "only {} golden strings", g.cases.len());
    let tok = Tokenizer::new();
    assert_eq!(tok.vocab_size(), g.vocab_size);
    let mut failures = Vec::new();
    for case in &g.cases {
        let t = case.text.as_str();
        let cleaned = clean_text(t);
        if cleaned != case.cleaned {
            failures.push(format!(
                "{t:?}: cleaned {cleaned:?}, expected {:?}",
                case.cleaned
            ));
        }
        let ids = tok.encode(t);
        if ids != case.encode {
            failures.push(format!("{t:?}: encode {ids:?}, expected {:?}", case.encode));
        }
        let decoded = tok.decode(&case.encode);
        if decoded != case.decode {
            failures.push(format!(
                "{t:?}: decode {decoded:?}, expected {:?}",
                case.decode
            ));
        }
        let row = tok.tokenize_ids(&[t], CONTEXT_LENGTH, true).unwrap();
        if row[0] != case.tokenize_truncate {
            failures.push(format!(
                "{t:?}: truncated row {:?}, expected {:?}",
                row[0], case.tokenize_truncate
            ));
        }
        match (tok.tokenize_ids(&[t], CONTEXT_LENGTH, false), case.raises) {
            (Ok(rows), false) => {
                if rows[0] != case.tokenize_truncate {
                    failures.push(format!("{t:?}: untruncated row differs"));
                }
            }
            (Err(Error::InvalidArgument(msg)), true) => {
                let n = case.encode.len() + 2;
                if !msg.contains(&format!("{t:?}")) || !msg.contains(&n.to_string()) {
                    failures.push(format!(
                        "{t:?}: error should name the text and its {n} tokens: {msg}"
                    ));
                }
            }
            (other, raises) => failures.push(format!(
                "{t:?}: truncate=false gave {:?}, official raises: {raises}",
                other.map(|_| ())
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn golden_decodes() {
    let g = goldens();
    let tok = Tokenizer::new();
    for case in &g.decode {
        assert_eq!(tok.decode(&case.ids), case.text, "ids {:?}", case.ids);
    }
}

#[test]
fn batch_tensor() {
    let g = goldens();
    let tok = Tokenizer::new();
    let texts: Vec<&str> = g.batch.texts.iter().map(String::as_str).collect();
    let device = Device::flex();
    let t = tok.tokenize(&texts, &device).unwrap();
    assert_eq!(t.dims(), [texts.len(), CONTEXT_LENGTH]);
    let values: Vec<i64> = t.into_data().try_into_vec_as::<i64>().unwrap();
    let expected: Vec<i64> = g
        .batch
        .tokenize
        .iter()
        .flatten()
        .map(|&v| v.into())
        .collect();
    assert_eq!(values, expected);
    assert_eq!(values[0], i64::from(SOT));
    assert_eq!(values[6], i64::from(EOT));
}

#[test]
fn tokenize_rejects_long_text() {
    let tok = Tokenizer::new();
    let long = "a ".repeat(76);
    let err = tok
        .tokenize(&["short", &long], &Device::flex())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("78 tokens"), "{err}");
}

#[test]
fn empty_batch() {
    let tok = Tokenizer::new();
    assert!(
        tok.tokenize_ids(&[], CONTEXT_LENGTH, false)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn custom_vocabulary_round_trip() {
    // A tiny vocabulary in the official format: header, then merges.
    use std::io::Write;
    let mut gz = flate2_free_gzip(b"#version: 0.2\nc a\nca t</w>\n");
    gz.flush().unwrap();
    let tok = Tokenizer::from_vocab_gz(gz.get_ref()).unwrap();
    // 512 byte tokens, 3 "merges" (the trailing empty line counts, as officially), 2 special.
    assert_eq!(tok.vocab_size(), 517);
    assert_eq!((tok.sot(), tok.eot()), (515, 516));
    assert_eq!(tok.encode("cat"), [513]);
    assert_eq!(tok.decode(&tok.encode("cat cab")), "cat cab ");
}

/// A stored (uncompressed) gzip member, so the test needs no compressor.
fn flate2_free_gzip(data: &[u8]) -> std::io::Cursor<Vec<u8>> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    // One final stored deflate block.
    let len = u16::try_from(data.len()).unwrap();
    out.push(1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    std::io::Cursor::new(out)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
