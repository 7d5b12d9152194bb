//! Hostile files and inputs (issue 12): every loader, on any bytes, returns `Ok` or a typed
//! `styleclip::Error` — never a panic, an abort, an allocation far beyond the file's size, or a
//! hang.
//!
//! A small deterministic mutator (seeded `StdRng`) derives ≥ 10 000 cases per loader family
//! from small valid seeds: fixtures from `tests/fixtures/` and tiny files written here (a
//! `torch.save`-style zip, a TorchScript archive, own-format mappers, statistics, relevance).
//! Mutations: truncations (random and at every structural boundary), bit flips, byte
//! overwrites with 0x00/0xFF/0x7F/0x80, little-endian integers with extreme values, decimal
//! numbers in text headers replaced by huge or negative ones, format-aware edits of the
//! safetensors JSON header (shapes, offsets, dtypes), the `.npy` header (shapes, dtypes), and
//! of the pickle inside a zip (integer arguments, memo indices, string lengths, opcode
//! deletion/duplication, recursive and self-referencing structures, memo "billion laughs"),
//! rebuilt with correct CRCs so the pickle walkers see them.
//!
//! Each case runs under `catch_unwind` and is timed; a counting allocator records the largest
//! single allocation of the case's thread. The test reports every panicking, slow (> 2 s) or
//! over-allocating case with its seed and mutation, then fails.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use styleclip::Error;
use styleclip::edit::global_direction::{Relevance, StyleStats};
use styleclip::edit::mapper::{
    AnyMapper, LevelsMapper, MapperCheckpoint, MapperKind, MapperOptions, OfficialOpts,
    SingleMapper,
};
use styleclip::latents::{load_w_plus, save_latent};
use styleclip::stylegan2::{LayerKind, StyleLayer};
use styleclip::tokenizer::{CONTEXT_LENGTH, Tokenizer};
use styleclip::weights::TensorFile;

use common::fixture;

/// Cases per loader family.
const CASES: usize = 10_000;
/// Slowest case allowed.
const MAX_CASE: Duration = Duration::from_secs(2);
/// Any single allocation above this aborts the process, naming the case (it stands for
/// "a size taken from the file without checking it").
const HARD_ALLOC: usize = 1 << 32;

// ---------------------------------------------------------------------------------------------
// A counting allocator: the largest single allocation request of this thread since the reset.

struct Counting;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn note(size: usize) -> bool {
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size)
        }
    });
    if size > HARD_ALLOC {
        let _ = std::io::stderr()
            .write_all(b"hostile_inputs: an allocation above 4 GiB was requested\n");
        return false;
    }
    true
}

// SAFETY: forwards to the system allocator; the bookkeeping touches only const-initialised
// thread-locals and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Panics inside a case are recorded (message and location) instead of printed.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CASE.with(Cell::get) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg} at {at}")));
            } else {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// Running cases.

/// What a family of cases found.
struct Report {
    family: &'static str,
    min_cases: usize,
    cases: usize,
    ok: usize,
    errors: usize,
    panics: Vec<String>,
    slow: Vec<String>,
    big: Vec<String>,
    slowest: (Duration, String),
    peak: usize,
    started: Instant,
    path: PathBuf,
}

impl Report {
    fn new(family: &'static str, min_cases: usize) -> Self {
        quiet_panics();
        let path = std::env::temp_dir().join(format!(
            "styleclip-hostile-{}-{}.bin",
            std::process::id(),
            family.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ));
        Self {
            family,
            min_cases,
            cases: 0,
            ok: 0,
            errors: 0,
            panics: Vec::new(),
            slow: Vec::new(),
            big: Vec::new(),
            slowest: (Duration::ZERO, String::new()),
            peak: 0,
            started: Instant::now(),
            path,
        }
    }

    /// Write `bytes` to this family's scratch file and run `load` on it.
    fn case(
        &mut self,
        what: &str,
        bytes: &[u8],
        load: &dyn Fn(&Path) -> Result<(), Error>,
    ) -> Option<Result<(), String>> {
        std::fs::write(&self.path, bytes).unwrap();
        let path = self.path.clone();
        self.run(what, bytes.len(), || load(&path).map_err(|e| e.to_string()))
    }

    /// Run one case in memory (no file).
    fn run(
        &mut self,
        what: &str,
        input_len: usize,
        f: impl FnOnce() -> Result<(), String>,
    ) -> Option<Result<(), String>> {
        // Debugging aid: HOSTILE_ONLY=<text> runs only the cases whose description has it.
        if let Some(only) = std::env::var_os("HOSTILE_ONLY")
            && !what.contains(only.to_str().unwrap_or_default())
        {
            return Some(Ok(()));
        }
        self.cases += 1;
        if std::env::var_os("HOSTILE_TRACE").is_some() {
            eprintln!("case: {what}");
        }
        PEAK.with(|p| p.set(0));
        IN_CASE.with(|c| c.set(true));
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(f));
        let dt = t.elapsed();
        IN_CASE.with(|c| c.set(false));
        if std::env::var_os("HOSTILE_TRACE").is_some() {
            eprintln!("time: {dt:?} {what}");
        }
        let peak = PEAK.with(Cell::get);
        self.peak = self.peak.max(peak);
        if dt > self.slowest.0 {
            self.slowest = (dt, what.to_string());
        }
        if dt > MAX_CASE {
            self.slow.push(format!("{what}: {dt:?}"));
        }
        // Sizes from the file must be checked against its length: no single allocation may
        // exceed a generous multiple of the input (burn and the allocator's own buffers are
        // covered by the 64 MiB floor).
        let bound = (64 * input_len).max(64 << 20);
        if peak > bound {
            self.big.push(format!(
                "{what}: {peak} bytes allocated for a {input_len}-byte input"
            ));
        }
        match result {
            Ok(r) => {
                if r.is_ok() {
                    self.ok += 1;
                } else {
                    self.errors += 1;
                }
                Some(r)
            }
            Err(_) => {
                let msg = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_default();
                self.panics.push(format!("{what}: {msg}"));
                None
            }
        }
    }

    fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
        println!(
            "{}: {} cases ({} ok, {} errors, {} panics) in {:.2?}; slowest {:.2?} ({}); \
             largest allocation {} bytes",
            self.family,
            self.cases,
            self.ok,
            self.errors,
            self.panics.len(),
            self.started.elapsed(),
            self.slowest.0,
            self.slowest.1,
            self.peak
        );
        let mut problems = Vec::new();
        // One case per panic site first, then the rest.
        let mut panics = self.panics.clone();
        let site = |p: &String| p.rsplit(" at ").next().unwrap_or_default().to_string();
        let mut seen = std::collections::HashSet::new();
        panics.sort_by_key(|p| !seen.insert(site(p)));
        for (kind, list) in [
            ("panic", &panics),
            ("slow", &self.slow),
            ("allocation", &self.big),
        ] {
            for p in list.iter().take(40) {
                problems.push(format!("  {kind}: {p}"));
            }
            if list.len() > 40 {
                problems.push(format!("  … {} more {kind} cases", list.len() - 40));
            }
        }
        assert!(
            problems.is_empty(),
            "{}: {} hostile cases misbehaved:\n{}",
            self.family,
            self.panics.len() + self.slow.len() + self.big.len(),
            problems.join("\n")
        );
        assert!(
            self.cases >= self.min_cases,
            "{}: only {} cases",
            self.family,
            self.cases
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds.

/// A valid file and what is known of its structure.
#[derive(Clone)]
struct Seed {
    name: String,
    bytes: Vec<u8>,
    kind: SeedKind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SeedKind {
    Safetensors,
    Npy,
    /// A zip archive (torch.save or TorchScript): its entries can be rewritten.
    Zip,
    /// Legacy `torch.save` (concatenated pickles, then raw storages).
    Legacy,
}

impl Seed {
    fn from_fixture(rel: &str) -> Self {
        let bytes = std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        Self::new(rel, bytes)
    }

    fn new(name: &str, bytes: Vec<u8>) -> Self {
        let kind = if bytes.starts_with(b"\x93NUMPY") {
            SeedKind::Npy
        } else if bytes.starts_with(b"PK") {
            SeedKind::Zip
        } else if bytes.starts_with(b"\x80\x02") {
            SeedKind::Legacy
        } else {
            SeedKind::Safetensors
        };
        Self {
            name: name.to_string(),
            bytes,
            kind,
        }
    }

    /// Offsets where one structure ends and another begins.
    fn boundaries(&self) -> Vec<usize> {
        let b = &self.bytes;
        let mut out = vec![0, 1, b.len().saturating_sub(1), b.len()];
        match self.kind {
            SeedKind::Safetensors => {
                let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
                out.extend([4, 7, 8, 9, 8 + n - 1, 8 + n]);
                if let Some(offsets) = st_header(b).map(|h| tensor_offsets(&h)) {
                    out.extend(offsets.into_iter().map(|o| 8 + n + o));
                }
                // JSON punctuation inside the header.
                out.extend(
                    b[8..8 + n]
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| b"{}[],:\"".contains(c))
                        .map(|(i, _)| 8 + i),
                );
            }
            SeedKind::Npy => {
                let start = if b[6] == 1 { 10 } else { 12 };
                let n = if b[6] == 1 {
                    u16::from_le_bytes([b[8], b[9]]) as usize
                } else {
                    u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize
                };
                out.extend([6, 7, 8, 9, 10, start, start + n - 1, start + n]);
                out.extend(
                    b[start..start + n]
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| b"{}(),:'".contains(c))
                        .map(|(i, _)| start + i),
                );
            }
            SeedKind::Legacy => {
                // Each pickle's STOP, where the next one (or the storages) begins.
                let mut at = 0;
                while let Some(ops) = b.get(at..).map(pickle_ops) {
                    let Some(&(stop, b'.', _)) = ops.last() else {
                        break;
                    };
                    out.extend([at, at + stop, at + stop + 1]);
                    at += stop + 1;
                }
                out.extend([at, at + 8]);
            }
            SeedKind::Zip => {
                // Local headers, central directory records and the end record.
                for sig in [
                    &b"PK\x03\x04"[..],
                    &b"PK\x01\x02"[..],
                    &b"PK\x05\x06"[..],
                    &b"PK\x06\x06"[..],
                ] {
                    out.extend(
                        b.windows(4)
                            .enumerate()
                            .filter(|(_, w)| *w == sig)
                            .flat_map(|(i, _)| [i, i + 4, i + 14, i + 18, i + 22, i + 26, i + 30]),
                    );
                }
            }
        }
        out.retain(|&o| o <= b.len());
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn st_header(b: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let n = u64::from_le_bytes(b.get(..8)?.try_into().ok()?) as usize;
    serde_json::from_slice(b.get(8..8 + n)?).ok()
}

fn tensor_offsets(h: &serde_json::Map<String, serde_json::Value>) -> Vec<usize> {
    h.values()
        .filter_map(|v| v.get("data_offsets")?.as_array().cloned())
        .flatten()
        .filter_map(|o| o.as_u64().map(|o| o as usize))
        .collect()
}

fn st_bytes(header: &serde_json::Map<String, serde_json::Value>, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

// --- A tiny pickle writer for torch.save-style and TorchScript archives. ---------------------

#[derive(Default)]
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Self {
        Self(vec![0x80, 2])
    }
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.0.push(b'X');
        self.0.extend((s.len() as u32).to_le_bytes());
        self.op(s.as_bytes())
    }
    fn int(&mut self, i: usize) -> &mut Self {
        if i < 256 {
            self.op(&[b'K', i as u8])
        } else {
            self.0.push(b'J');
            self.op(&(i as i32).to_le_bytes())
        }
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(format!("c{module}\n{name}\n").as_bytes())
    }
    fn tuple(&mut self, items: &[usize]) -> &mut Self {
        self.op(b"(");
        for &i in items {
            self.int(i);
        }
        self.op(b"t")
    }
    /// `torch._utils._rebuild_tensor_v2(storage, 0, shape, strides, False, OrderedDict())`.
    fn tensor(&mut self, storage: &str, shape: &[usize]) -> &mut Self {
        let numel: usize = shape.iter().product();
        let mut strides = vec![1; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        self.global("torch._utils", "_rebuild_tensor_v2").op(b"((");
        self.str("storage").global("torch", "FloatStorage");
        self.str(storage).str("cpu").int(numel).op(b"tQ");
        self.int(0).tuple(shape).tuple(&strides).op(&[0x89]);
        self.global("collections", "OrderedDict")
            .op(b")Rt")
            .op(b"R")
    }
}

fn zip_bytes(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (e.name().unwrap().into_owned(), data)
        })
        .collect()
}

fn f32_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .flat_map(|_| (rng.random::<f32>() - 0.5).to_le_bytes())
        .collect()
}

/// A `torch.save({"state_dict": {...}, "opts": {...}})` archive with small f32 tensors.
fn torch_zip(tensors: &[(&str, Vec<usize>)], opts: &[(&str, &str)]) -> Vec<u8> {
    let mut p = Pickle::new();
    p.op(b"}(").str("state_dict").op(b"}(");
    let mut entries = Vec::new();
    for (i, (key, shape)) in tensors.iter().enumerate() {
        p.str(key).tensor(&i.to_string(), shape);
        entries.push((
            format!("archive/data/{i}"),
            f32_bytes(shape.iter().product(), i as u64),
        ));
    }
    p.op(b"u");
    if !opts.is_empty() {
        p.str("opts").op(b"}(");
        for (k, v) in opts {
            p.str(k);
            match *v {
                "True" => p.op(&[0x88]),
                "False" => p.op(&[0x89]),
                s => p.str(s),
            };
        }
        p.op(b"u");
    }
    p.op(b"u.");
    let mut all = vec![
        ("archive/data.pkl".to_string(), p.0),
        ("archive/byteorder".to_string(), b"little".to_vec()),
    ];
    all.extend(entries);
    all.push(("archive/version".to_string(), b"3\n".to_vec()));
    zip_bytes(&all)
}

/// A legacy (pre-1.6, `_use_new_zipfile_serialization=False`) `torch.save` of a dict of f32
/// tensors: magic, protocol and system-info pickles, the data pickle, the storage keys, then
/// each storage as a little-endian `u64` element count and its bytes.
fn legacy_torch(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let mut out = Vec::new();
    // Magic number 0x1950a86a20f9469cfc6c as a 10-byte LONG1.
    out.extend(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    out.extend(b"\x80\x02M\xe9\x03.");
    let mut info = Pickle::new();
    info.op(b"}(").str("protocol_version").op(b"M\xe9\x03");
    info.str("little_endian")
        .op(&[0x88])
        .str("type_sizes")
        .op(b"}(");
    info.str("short")
        .int(2)
        .str("int")
        .int(4)
        .str("long")
        .int(4)
        .op(b"uu.");
    out.extend(info.0);
    let mut data = Pickle::new();
    data.op(b"}(");
    for (i, (key, shape)) in tensors.iter().enumerate() {
        data.str(key).tensor(&i.to_string(), shape);
    }
    data.op(b"u.");
    out.extend(data.0);
    let mut keys = Pickle::new();
    keys.op(b"](");
    for i in 0..tensors.len() {
        keys.str(&i.to_string());
    }
    keys.op(b"e.");
    out.extend(keys.0);
    for (i, (_, shape)) in tensors.iter().enumerate() {
        let n: usize = shape.iter().product();
        out.extend((n as u64).to_le_bytes());
        out.extend(f32_bytes(n, i as u64));
    }
    out
}

/// A TorchScript archive: a `__torch__` module tree with two parameters.
fn torchscript_zip() -> Vec<u8> {
    let mut p = Pickle::new();
    p.global("__torch__", "Net")
        .op(b")")
        .op(&[0x81])
        .op(b"q\x00}(");
    p.str("weight").tensor("0", &[3, 2]);
    p.str("sub")
        .global("__torch__", "Sub")
        .op(b")")
        .op(&[0x81])
        .op(b"}(");
    p.str("bias").tensor("1", &[3]);
    p.op(b"ub");
    p.str("training").op(&[0x88]);
    p.op(b"ub.");
    zip_bytes(&[
        ("archive/data.pkl".to_string(), p.0),
        ("archive/constants.pkl".to_string(), b"\x80\x02).".to_vec()),
        ("archive/version".to_string(), b"1\n".to_vec()),
        ("archive/data/0".to_string(), f32_bytes(6, 1)),
        ("archive/data/1".to_string(), f32_bytes(3, 2)),
    ])
}

fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    )
    .into_bytes();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h);
    out.extend(data);
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "styleclip-hostile-seeds-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write a seed with a crate saver and read it back.
fn saved(name: &str, save: impl FnOnce(&Path)) -> Seed {
    let dir = scratch(name);
    let path = dir.join("seed.safetensors");
    save(&path);
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Seed::new(name, bytes)
}

fn tiny_latent_seed() -> Seed {
    let device = Device::flex();
    saved("save_latent [1, 3, 4]", |p| {
        let t: Tensor<3> = Tensor::from_data(
            TensorData::new((0..12).map(|i| i as f32).collect::<Vec<_>>(), [1, 3, 4]),
            &device,
        );
        save_latent(p, t).unwrap()
    })
}

fn mapper_seeds() -> Vec<Seed> {
    let device = Device::flex();
    let single =
        SingleMapper::new_seeded(MapperOptions::with_kind(MapperKind::Single), 4, 1, &device)
            .unwrap();
    let levels =
        LevelsMapper::new_seeded(MapperOptions::levels(false, true, true), 3, 2, &device).unwrap();
    let opts: OfficialOpts = [("description".to_string(), serde_json::json!("a smile"))].into();
    let w = |i: usize| -> Vec<(String, Vec<usize>)> {
        (1..=4)
            .flat_map(|l| {
                [
                    (format!("mapper.mapping.mapping.{l}.weight"), vec![i, i]),
                    (format!("mapper.mapping.mapping.{l}.bias"), vec![i]),
                ]
            })
            .collect()
    };
    let single_keys = w(2);
    let keys: Vec<(&str, Vec<usize>)> = single_keys
        .iter()
        .map(|(k, s)| (k.as_str(), s.clone()))
        .collect();
    vec![
        saved("own SingleMapper d=4", |p| {
            AnyMapper::Single(single).save(p, &opts).unwrap()
        }),
        saved("own LevelsMapper coarse d=3", |p| {
            AnyMapper::Levels(levels).save(p, &opts).unwrap()
        }),
        Seed::new(
            "torch.save SingleMapper d=2",
            torch_zip(
                &keys,
                &[
                    ("mapper_type", "SingleMapper"),
                    ("description", "purple hair"),
                    ("work_in_stylespace", "False"),
                ],
            ),
        ),
    ]
}

fn stats_seed() -> Seed {
    let layers = [
        StyleLayer {
            kind: LayerKind::Conv,
            resolution: 4,
            channels: 3,
            w_index: 0,
        },
        StyleLayer {
            kind: LayerKind::ToRgb,
            resolution: 4,
            channels: 2,
            w_index: 1,
        },
    ];
    let stats = StyleStats::from_parts(
        &layers,
        vec![vec![0.1, 0.2, 0.3], vec![0.4, 0.5]],
        vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0]],
        7,
    )
    .unwrap();
    saved("StyleStats 2 layers", |p| stats.save(p).unwrap())
}

fn relevance_seed() -> Seed {
    let r = Relevance::from_values((0..12).map(|i| i as f32 / 12.0).collect(), 3, 4).unwrap();
    saved("Relevance [3, 4]", |p| r.save(p).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The mutator.

const SPECIAL_BYTES: [u8; 4] = [0x00, 0xFF, 0x7F, 0x80];
const SPECIAL_INTS: [u64; 10] = [
    0,
    1,
    0x7F,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];
const HUGE_DECIMALS: [&str; 8] = [
    "1099511627776",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "-1",
    "0",
    "4294967296",
    "9223372036854775807",
];

/// Position biased toward the start (where headers live) and toward boundaries.
fn pos(rng: &mut StdRng, len: usize, bounds: &[usize]) -> usize {
    if len == 0 {
        return 0;
    }
    match rng.random_range(0..4) {
        0 => rng.random_range(0..len.min(128)),
        1 => (bounds[rng.random_range(0..bounds.len())] + rng.random_range(0..3)).min(len - 1),
        _ => rng.random_range(0..len),
    }
}

/// One generic byte-level mutation.
fn mutate_bytes(rng: &mut StdRng, b: &mut Vec<u8>, bounds: &[usize]) -> String {
    let len = b.len();
    match rng.random_range(0..8) {
        0 => {
            let at = rng.random_range(0..=len);
            b.truncate(at);
            format!("truncate at {at}")
        }
        1 => {
            let at = (bounds[rng.random_range(0..bounds.len())] as i64
                + rng.random_range(-1..=1i64))
            .clamp(0, len as i64) as usize;
            b.truncate(at);
            format!("truncate at boundary {at}")
        }
        2 => {
            let n = rng.random_range(1..=8);
            let mut at = Vec::new();
            for _ in 0..n {
                let p = pos(rng, len, bounds);
                let bit = rng.random_range(0..8);
                if let Some(x) = b.get_mut(p) {
                    *x ^= 1 << bit;
                }
                at.push((p, bit));
            }
            format!("bit flips {at:?}")
        }
        3 => {
            let n = rng.random_range(1..=4);
            let mut at = Vec::new();
            for _ in 0..n {
                let p = pos(rng, len, bounds);
                let v = SPECIAL_BYTES[rng.random_range(0..4)];
                if let Some(x) = b.get_mut(p) {
                    *x = v;
                }
                at.push((p, v));
            }
            format!("bytes set {at:?}")
        }
        4 => {
            let p = pos(rng, len, bounds);
            let v = SPECIAL_INTS[rng.random_range(0..SPECIAL_INTS.len())];
            let w = [2usize, 4, 8][rng.random_range(0..3)];
            let bytes = v.to_le_bytes();
            for (i, &byte) in bytes.iter().take(w).enumerate() {
                if let Some(x) = b.get_mut(p + i) {
                    *x = byte;
                }
            }
            format!("u{} {v:#x} at {p}", w * 8)
        }
        5 => {
            // A decimal number in a text header becomes huge or negative.
            let runs: Vec<(usize, usize)> = digit_runs(b);
            if runs.is_empty() {
                b.truncate(len / 2);
                return "truncate at half (no digits)".into();
            }
            let (s, e) = runs[rng.random_range(0..runs.len())];
            let v = HUGE_DECIMALS[rng.random_range(0..HUGE_DECIMALS.len())];
            b.splice(s..e, v.bytes());
            format!("number at {s}..{e} -> {v}")
        }
        6 => {
            let s = pos(rng, len, bounds).min(len);
            let e = (s + rng.random_range(1..64)).min(len);
            if rng.random_bool(0.5) {
                b.drain(s..e);
                format!("delete {s}..{e}")
            } else {
                let chunk = b[s..e].to_vec();
                b.splice(s..s, chunk);
                format!("duplicate {s}..{e}")
            }
        }
        _ => {
            let s = pos(rng, len, bounds).min(len);
            let n = rng.random_range(1..16);
            let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b.splice(s..s, junk);
            format!("insert {n} random bytes at {s}")
        }
    }
}

fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let head = &b[..b.len().min(4096)];
    let mut runs = Vec::new();
    let mut i = 0;
    while i < head.len() {
        if head[i].is_ascii_digit() {
            let s = i;
            while i < head.len() && head[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// A mutation of the safetensors header, the file rebuilt around it.
fn mutate_safetensors(rng: &mut StdRng, b: &[u8]) -> (Vec<u8>, String) {
    let mut h = st_header(b).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let data = &b[8 + n..];
    let keys: Vec<String> = h.keys().filter(|k| *k != "__metadata__").cloned().collect();
    let key = keys[rng.random_range(0..keys.len())].clone();
    use serde_json::json;
    let what = match rng.random_range(0..9) {
        0 => {
            let shape = [
                json!([1u64 << 40, 1u64 << 40]),
                json!([u64::MAX]),
                json!([u64::MAX, 2]),
                json!([1u64 << 32, 1u64 << 32, 16]),
                json!([0]),
                json!([]),
                json!([-1, 4]),
                json!([1.5]),
                json!("big"),
            ][rng.random_range(0..9)]
            .clone();
            let what = format!("shape of {key} -> {shape}");
            h[&key]["shape"] = shape;
            what
        }
        1 => {
            let offs = [
                json!([0, u64::MAX]),
                json!([u64::MAX, u64::MAX]),
                json!([1u64 << 40, (1u64 << 40) + 8]),
                json!([8, 0]),
                json!([-8, 8]),
                json!([0]),
                json!([0, 1, 2]),
                json!(null),
            ][rng.random_range(0..8)]
            .clone();
            let what = format!("data_offsets of {key} -> {offs}");
            h[&key]["data_offsets"] = offs;
            what
        }
        2 => {
            let d =
                ["I64", "U8", "BOOL", "F8_E4M3", "C64", "BOGUS", "", "F64"][rng.random_range(0..8)];
            h[&key]["dtype"] = json!(d);
            format!("dtype of {key} -> {d}")
        }
        3 => {
            let m = [
                json!({"format": 3}),
                json!({"format": "styleclip-mapper", "options": "{", "opts": "[]"}),
                json!({"dims": "[18446744073709551615]"}),
                json!("not a map"),
                json!({"layers": "[[\"conv\", 99999999999, 99999999999, 0]]", "count": "-1"}),
            ][rng.random_range(0..5)]
            .clone();
            let what = format!("__metadata__ -> {m}");
            h.insert("__metadata__".into(), m);
            what
        }
        4 => {
            h.remove(&key);
            format!("remove {key}")
        }
        5 => {
            let v = h[&key].clone();
            h.insert(format!("{key}.copy"), v);
            format!("alias {key}")
        }
        6 => {
            // Every tensor claims the same bytes, in a large shape.
            for k in &keys {
                h[k]["shape"] = json!([data.len() as u64 * 1024]);
                h[k]["data_offsets"] = json!([0, data.len()]);
            }
            "all tensors alias one large shape".into()
        }
        7 => {
            let text = serde_json::to_vec(&h).unwrap();
            let mut out = ((text.len() as u64) + rng.random_range(1..64u64))
                .to_le_bytes()
                .to_vec();
            out.extend(text);
            out.extend(data);
            return (out, format!("header length too long ({key})"));
        }
        _ => {
            let mut out = st_bytes(&h, data);
            let m = mutate_bytes(rng, &mut out, &[0, 8]);
            return (out, format!("re-serialised header, then {m}"));
        }
    };
    (st_bytes(&h, data), what)
}

/// A mutation of the `.npy` header (the data kept).
fn mutate_npy(rng: &mut StdRng, b: &[u8]) -> (Vec<u8>, String) {
    let start = if b[6] == 1 { 10 } else { 12 };
    let n = if b[6] == 1 {
        u16::from_le_bytes([b[8], b[9]]) as usize
    } else {
        u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize
    };
    let data = b[start + n..].to_vec();
    let shape = [
        "(1099511627776, 1099511627776)",
        "(18446744073709551615,)",
        "(4294967296, 4294967296, 2)",
        "(-1, 4)",
        "()",
        "(0,)",
        "(2, 0, 99999999999999999999)",
        "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
        "(3, 2",
        "(6, 32)",
    ][rng.random_range(0..10)];
    let descr = ["<f4", ">f8", "<f2", "|u1", "<i8", "f4", "", "<c8"][rng.random_range(0..8)];
    let fortran = rng.random_bool(0.5);
    let mut out = npy_bytes(descr, fortran, shape, &data);
    let mut what = format!("npy header descr {descr:?} fortran {fortran} shape {shape}");
    match rng.random_range(0..4) {
        0 => {
            // Version 2 with a 32-bit header length, possibly lying.
            out[6] = 2;
            let hl = u16::from_le_bytes([out[8], out[9]]) as u32;
            let lie = [hl, u32::MAX, hl + 1_000_000, 0][rng.random_range(0..4)];
            out.splice(8..10, lie.to_le_bytes());
            what.push_str(&format!(", v2 header length {lie}"));
        }
        1 => {
            let m = mutate_bytes(rng, &mut out, &[0, 6, 8, 10]);
            what.push_str(&format!(", then {m}"));
        }
        _ => {}
    }
    (out, what)
}

// --- Pickle-aware mutations. -----------------------------------------------------------------

/// (offset, opcode, argument length) of every opcode the scanner knows, until an unknown one.
fn pickle_ops(p: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let op = p[i];
        let arg = match op {
            0x80 | b'K' | b'q' | b'h' => 1,
            b'M' => 2,
            b'J' | b'r' | b'j' => 4,
            0x95 | b'G' => 8,
            0x8a | 0x8c | b'U' | b'C' => 1 + *p.get(i + 1).unwrap_or(&0) as usize,
            b'X' | b'T' | b'B' => {
                let Some(n) = p.get(i + 1..i + 5) else { break };
                4 + u32::from_le_bytes(n.try_into().unwrap()) as usize
            }
            b'c' => {
                let Some(a) = p[i + 1..].iter().position(|&c| c == b'\n') else {
                    break;
                };
                let Some(b2) = p[i + 2 + a..].iter().position(|&c| c == b'\n') else {
                    break;
                };
                a + b2 + 2
            }
            b'('
            | b'N'
            | 0x88
            | 0x89
            | b'.'
            | b')'
            | b't'
            | 0x85..=0x87
            | b'}'
            | b']'
            | b'l'
            | b'a'
            | b'e'
            | b's'
            | b'u'
            | 0x94
            | b'Q'
            | 0x81
            | b'R'
            | b'b'
            | b'0'
            | b'2' => 0,
            _ => break,
        };
        out.push((i, op, arg));
        i += 1 + arg;
    }
    out
}

/// Hostile pickles built from scratch.
fn hostile_pickles() -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // Memo "billion laughs": each level is a pair of the previous one, by memo reference.
    let mut laughs = b"\x80\x02X\x01\x00\x00\x00aq\x00".to_vec();
    for i in 0..60u8 {
        laughs.extend([b'h', i, b'h', i, 0x86, b'q', i + 1]);
    }
    laughs.push(b'.');
    out.push(("memo billion laughs (tuples)", laughs.clone()));
    let mut dict_laughs = b"\x80\x02}q\x00".to_vec();
    for i in 0..60u8 {
        dict_laughs.extend([b'}', b'q', i + 1]);
        dict_laughs.extend(b"X\x01\x00\x00\x00a");
        dict_laughs.extend([b'h', i, b's']);
        dict_laughs.extend(b"X\x01\x00\x00\x00b");
        dict_laughs.extend([b'h', i, b's', b'0']);
    }
    dict_laughs.extend([b'h', 60, b'.']);
    out.push(("memo billion laughs (dicts)", dict_laughs));
    // A dict holding itself under two keys (and a tensor, so the walker recurses).
    let mut selfdict = b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00sX\x01\x00\x00\x00bh\x00s".to_vec();
    let mut t = Pickle(Vec::new());
    t.str("w").tensor("0", &[2, 2]).op(b"s.");
    selfdict.extend(t.0);
    out.push(("self-referencing dict", selfdict));
    out.push((
        "list containing itself",
        b"\x80\x02]q\x00h\x00ah\x00a.".to_vec(),
    ));
    // An object whose BUILD state is itself.
    out.push((
        "object built from itself",
        b"\x80\x02c__torch__\nM\n)\x81q\x00h\x00b.".to_vec(),
    ));
    // Deep nesting: a million TUPLE1s, a million EMPTY_LISTs appended into each other, marks.
    let mut deep_t = b"\x80\x02)".to_vec();
    deep_t.extend(std::iter::repeat_n(0x85, 1_000_000));
    deep_t.push(b'.');
    out.push(("1e6 nested tuples", deep_t));
    let mut deep_l = b"\x80\x02".to_vec();
    deep_l.extend(std::iter::repeat_n(b'(', 500_000));
    deep_l.extend(std::iter::repeat_n(b'l', 500_000));
    deep_l.push(b'.');
    out.push(("5e5 nested lists by MARK", deep_l));
    let mut deep_d = b"\x80\x02".to_vec();
    for _ in 0..200_000 {
        deep_d.extend(b"}X\x01\x00\x00\x00k");
    }
    deep_d.extend(b"}");
    deep_d.extend(std::iter::repeat_n(b's', 200_000));
    deep_d.push(b'.');
    out.push(("2e5 nested dicts", deep_d));
    let mut marks = b"\x80\x02".to_vec();
    marks.extend(std::iter::repeat_n(b'(', 1_000_000));
    marks.push(b'.');
    out.push(("1e6 marks", marks));
    // Memo abuse: a million memo slots, huge and unset indices.
    let mut memo = b"\x80\x02N".to_vec();
    for i in 0..200_000u32 {
        memo.push(b'r');
        memo.extend(i.wrapping_mul(2_654_435_761).to_le_bytes());
    }
    memo.extend(b"j\xff\xff\xff\xff.");
    out.push(("2e5 memo slots, recall unset", memo));
    out.push(("recall before memoize", b"\x80\x02h\x05.".to_vec()));
    out.push(("empty stack STOP", b"\x80\x02.".to_vec()));
    out.push(("no STOP", b"\x80\x02}".to_vec()));
    out.push(("huge string length", b"\x80\x02X\xff\xff\xff\xff.".to_vec()));
    out.push((
        "huge LONG1",
        b"\x80\x02\x8a\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00.".to_vec(),
    ));
    // Tensors with hostile sizes, strides and offsets.
    let dims64 = b"K\x01".repeat(64);
    // (what, sizes, strides, offset) as pickle opcodes.
    type TensorCase<'a> = (&'static str, &'a [u8], &'a [u8], &'a [u8]);
    let cases: [TensorCase; 9] = [
        (
            "tensor of 2^40 × 2^40",
            b"J\x00\x00\x00\x40J\x00\x00\x00\x40",
            b"K\x01K\x01",
            b"K\x00",
        ),
        (
            "tensor with zero strides 2^31",
            b"J\xff\xff\xff\x7fJ\xff\xff\xff\x7f",
            b"K\x00K\x00",
            b"K\x00",
        ),
        (
            "tensor with negative stride",
            b"K\x02K\x02",
            b"J\xff\xff\xff\xffK\x01",
            b"K\x00",
        ),
        (
            "tensor with negative size",
            b"J\xfe\xff\xff\xffK\x02",
            b"K\x02K\x01",
            b"K\x00",
        ),
        (
            "tensor with huge offset",
            b"K\x02K\x02",
            b"K\x02K\x01",
            b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
        ),
        (
            "tensor with negative offset",
            b"K\x02K\x02",
            b"K\x02K\x01",
            b"J\x00\x00\x00\x80",
        ),
        (
            "tensor with overflowing stride",
            b"K\x02K\x02",
            b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7fK\x01",
            b"K\x00",
        ),
        ("tensor with 64 dims", &dims64, &dims64, b"K\x00"),
        (
            // Legal for pytorch-reader (under its 10 GiB per tensor), 1 GiB as f32 from a file
            // of a few hundred bytes: `TensorFile` refuses it (64 × the file, 256 MiB floor).
            "tensor with zero strides expanding to 1 GiB",
            b"J\x00\x40\x00\x00J\x00\x40\x00\x00",
            b"K\x00K\x00",
            b"K\x00",
        ),
    ];
    for (what, size, stride, offset) in cases {
        let mut p = b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ".to_vec();
        p.extend(offset);
        p.push(b'(');
        p.extend(size);
        p.extend(b"t(");
        p.extend(stride);
        p.extend(b"t\x89ccollections\nOrderedDict\n)RtRs.");
        out.push((what, p));
    }
    out
}

/// One mutation of the pickle at `p`.
fn mutate_pickle(rng: &mut StdRng, p: &[u8]) -> (Vec<u8>, String) {
    let ops = pickle_ops(p);
    let mut out = p.to_vec();
    if ops.is_empty() {
        let m = mutate_bytes(rng, &mut out, &[0]);
        return (out, m);
    }
    let pick = |rng: &mut StdRng, f: &dyn Fn(u8) -> bool| {
        let c: Vec<_> = ops.iter().filter(|o| f(o.1)).copied().collect();
        (!c.is_empty()).then(|| c[rng.random_range(0..c.len())])
    };
    match rng.random_range(0..8) {
        0 => {
            // An integer argument becomes extreme.
            if let Some((at, op, _)) = pick(rng, &|o| matches!(o, b'K' | b'M' | b'J')) {
                let w = match op {
                    b'K' => 1,
                    b'M' => 2,
                    _ => 4,
                };
                let v = [0u32, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
                    [rng.random_range(0..6)];
                out[at + 1..at + 1 + w].copy_from_slice(&v.to_le_bytes()[..w]);
                return (out, format!("int op {} at {at} -> {v:#x}", op as char));
            }
        }
        1 => {
            // An integer op becomes an 8-byte LONG1 with an extreme value.
            if let Some((at, op, arg)) = pick(rng, &|o| matches!(o, b'K' | b'M' | b'J')) {
                let v = [i64::MAX, i64::MIN, -1, 1 << 40, -(1 << 40)][rng.random_range(0..5)];
                let mut long = vec![0x8a, 8];
                long.extend(v.to_le_bytes());
                out.splice(at..at + 1 + arg, long);
                return (out, format!("int op {} at {at} -> LONG1 {v}", op as char));
            }
        }
        2 => {
            // A memo index is mangled.
            if let Some((at, op, _)) = pick(rng, &|o| matches!(o, b'q' | b'h' | b'r' | b'j')) {
                let w = if matches!(op, b'q' | b'h') { 1 } else { 4 };
                let v: u32 = [0, 1, 0xFF, u32::MAX, rng.random()][rng.random_range(0..5)];
                out[at + 1..at + 1 + w].copy_from_slice(&v.to_le_bytes()[..w]);
                return (out, format!("memo op {} at {at} -> {v}", op as char));
            }
        }
        3 => {
            // A string length lies.
            if let Some((at, _, _)) = pick(rng, &|o| matches!(o, b'X' | b'T' | b'B')) {
                let v: u32 =
                    [u32::MAX, 0x7FFF_FFFF, 0, rng.random_range(0..64)][rng.random_range(0..4)];
                out[at + 1..at + 5].copy_from_slice(&v.to_le_bytes());
                return (out, format!("string length at {at} -> {v}"));
            }
        }
        4 => {
            // An opcode is deleted or duplicated.
            let (at, op, arg) = ops[rng.random_range(0..ops.len())];
            if rng.random_bool(0.5) {
                out.drain(at..at + 1 + arg);
                return (out, format!("delete op {:#04x} at {at}", op));
            }
            let chunk = out[at..at + 1 + arg].to_vec();
            let n = rng.random_range(1..4);
            for _ in 0..n {
                out.splice(at..at, chunk.clone());
            }
            return (out, format!("duplicate op {:#04x} at {at} ×{n}", op));
        }
        5 => {
            // A hostile fragment at an opcode boundary.
            let (at, _, _) = ops[rng.random_range(0..ops.len())];
            let frag: &[u8] = [
                &b"h\x00"[..],
                b"h\x00h\x00\x86",
                b"(",
                b"t",
                b"R",
                b"b",
                b"s",
                b"u",
                b".",
                b"\x94",
                b"0",
                b"2",
                b"Q",
                b"\x81",
                b"}q\x00h\x00h\x00s",
                b"ctorch._utils\n_rebuild_tensor_v2\n",
            ][rng.random_range(0..16)];
            out.splice(at..at, frag.iter().copied());
            return (out, format!("insert {frag:?} at {at}"));
        }
        6 => {
            // Truncate at an opcode boundary.
            let (at, _, _) = ops[rng.random_range(0..ops.len())];
            out.truncate(at);
            return (out, format!("truncate pickle at op {at}"));
        }
        _ => {}
    }
    let bounds: Vec<usize> = ops.iter().map(|o| o.0).collect();
    let m = mutate_bytes(rng, &mut out, &bounds);
    (out, format!("pickle bytes: {m}"))
}

/// A mutation of a zip seed: its bytes, one entry, or the pickle (the zip rebuilt with good
/// CRCs so the pickle walkers see it).
fn mutate_zip(rng: &mut StdRng, seed: &Seed, entries: &[(String, Vec<u8>)]) -> (Vec<u8>, String) {
    let pkl = entries
        .iter()
        .position(|(n, _)| n.ends_with("/data.pkl"))
        .unwrap();
    match rng.random_range(0..10) {
        0..=4 => {
            let (p, what) = mutate_pickle(rng, &entries[pkl].1);
            let mut e = entries.to_vec();
            e[pkl].1 = p;
            (zip_bytes(&e), format!("data.pkl: {what}"))
        }
        5 => {
            // The small hostile pickles; the megabyte ones run once per family
            // (`hostile_archives`).
            static SMALL: std::sync::OnceLock<Vec<(&'static str, Vec<u8>)>> =
                std::sync::OnceLock::new();
            let hostile = SMALL.get_or_init(|| {
                hostile_pickles()
                    .into_iter()
                    .filter(|(_, p)| p.len() < 1 << 16)
                    .collect()
            });
            let (what, p) = hostile[rng.random_range(0..hostile.len())].clone();
            let mut e = entries.to_vec();
            e[pkl].1 = p;
            (zip_bytes(&e), format!("data.pkl replaced: {what}"))
        }
        6 => {
            let i = rng.random_range(0..entries.len());
            let mut e = entries.to_vec();
            let what = match rng.random_range(0..4) {
                0 => {
                    e.remove(i);
                    "removed"
                }
                1 => {
                    let n = e[i].1.len();
                    e[i].1.truncate(rng.random_range(0..=n));
                    "truncated"
                }
                2 => {
                    e[i].0 = format!("{}x", e[i].0);
                    "renamed"
                }
                _ => {
                    let extra = e[i].1.clone();
                    e[i].1.extend(extra);
                    "doubled"
                }
            };
            (zip_bytes(&e), format!("entry {} {what}", entries[i].0))
        }
        _ => {
            let mut b = seed.bytes.clone();
            let what = mutate_bytes(rng, &mut b, &seed.boundaries());
            (b, what)
        }
    }
}

/// Cases for `seeds`, `per_seed` each (mutations by kind), plus the seeds themselves.
fn mutants(seeds: &[Seed], total: usize, rng_seed: u64) -> impl Iterator<Item = (String, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let seeds = seeds.to_vec();
    type Prepared = (Vec<usize>, Vec<(String, Vec<u8>)>);
    let prepared: Vec<Prepared> = seeds
        .iter()
        .map(|s| {
            let entries = if s.kind == SeedKind::Zip {
                zip_entries(&s.bytes)
            } else {
                Vec::new()
            };
            (s.boundaries(), entries)
        })
        .collect();
    (0..total).map(move |i| {
        let k = i % seeds.len();
        let seed = &seeds[k];
        let (bounds, entries) = &prepared[k];
        if i < seeds.len() {
            return (format!("{} (unmutated)", seed.name), seed.bytes.clone());
        }
        let (bytes, what) = match (seed.kind, rng.random_range(0..3)) {
            (SeedKind::Safetensors, 0) => mutate_safetensors(&mut rng, &seed.bytes),
            (SeedKind::Npy, 0) => mutate_npy(&mut rng, &seed.bytes),
            (SeedKind::Zip, 0 | 1) => mutate_zip(&mut rng, seed, entries),
            (SeedKind::Legacy, 0) => {
                // Pickle-aware mutations; the scanner stops at the first STOP's successor.
                let (p, what) = mutate_pickle(&mut rng, &seed.bytes);
                (p, format!("legacy pickle: {what}"))
            }
            _ => {
                let mut b = seed.bytes.clone();
                let n = if rng.random_bool(0.8) {
                    1
                } else {
                    rng.random_range(2..5)
                };
                let what: Vec<String> = (0..n)
                    .map(|_| mutate_bytes(&mut rng, &mut b, bounds))
                    .collect();
                (b, what.join(", "))
            }
        };
        (format!("{} #{i}: {what}", seed.name), bytes)
    })
}

// ---------------------------------------------------------------------------------------------
// Loader families.

/// Open, then read every tensor and its metadata.
fn open_and_read(path: &Path) -> Result<(), Error> {
    let file = TensorFile::open(path)?;
    let _ = file.metadata().len();
    for key in file.keys() {
        let _ = (file.shape(key), file.dtype(key));
        let _ = file.read_f32(key);
    }
    Ok(())
}

fn tensor_file_seeds() -> Vec<Seed> {
    vec![
        Seed::from_fixture("clip/tiny_f16.ref.safetensors"),
        Seed::from_fixture("latents/w_plus.safetensors"),
        Seed::from_fixture("latents/c_f32.npy"),
        Seed::from_fixture("latents/fortran_f64.npy"),
        Seed::from_fixture("latents/big_endian_f4.npy"),
        Seed::from_fixture("latents/f16.npy"),
        Seed::from_fixture("latents/dict_latents.pt"),
        Seed::from_fixture("latents/e4e_latents.pt"),
        Seed::new("tiny TorchScript", torchscript_zip()),
        Seed::new(
            "tiny torch.save dict",
            torch_zip(&[("a.weight", vec![3, 2]), ("a.bias", vec![3])], &[]),
        ),
        Seed::new(
            "tiny legacy torch.save",
            legacy_torch(&[("a.weight", vec![3, 2]), ("a.bias", vec![3])]),
        ),
        tiny_latent_seed(),
    ]
}

/// Every hostile pickle, in both a torch.save zip and a TorchScript archive.
fn hostile_archives() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (what, p) in hostile_pickles() {
        for constants in [false, true] {
            let mut e = vec![
                ("archive/data.pkl".to_string(), p.clone()),
                ("archive/version".to_string(), b"3\n".to_vec()),
                ("archive/data/0".to_string(), f32_bytes(4, 0)),
            ];
            if constants {
                e.push(("archive/constants.pkl".to_string(), b"\x80\x02).".to_vec()));
            }
            out.push((
                format!("hostile pickle: {what} (constants.pkl: {constants})"),
                zip_bytes(&e),
            ));
        }
    }
    out
}

#[test]
fn tensor_file_open_survives_hostile_files() {
    let mut report = Report::new("weights::TensorFile::open + read_f32", CASES);
    for (what, bytes) in mutants(&tensor_file_seeds(), CASES, 0x5eed_0001) {
        report.case(&what, &bytes, &open_and_read);
    }
    for (what, bytes) in hostile_archives() {
        report.case(&what, &bytes, &open_and_read);
    }
    report.finish();
}

#[test]
fn absurd_declared_sizes_error_quickly() {
    let mut report = Report::new("absurd declared sizes", 20);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let data = f32_bytes(4, 3);
    for shape in [
        serde_json::json!([1u64 << 40, 1u64 << 40]),
        serde_json::json!([u64::MAX, u64::MAX]),
        serde_json::json!([1u64 << 62]),
    ] {
        let h: serde_json::Map<String, serde_json::Value> = serde_json::from_value(
            serde_json::json!({"latent": {"dtype": "F32", "shape": shape, "data_offsets": [0, 16]}}),
        )
        .unwrap();
        cases.push((format!("safetensors shape {shape}"), st_bytes(&h, &data)));
    }
    for shape in [
        "(1099511627776, 1099511627776)",
        "(18446744073709551615, 2)",
        "(4611686018427387904,)",
    ] {
        cases.push((
            format!("npy shape {shape}"),
            npy_bytes("<f4", false, shape, &data),
        ));
        cases.push((
            format!("fortran npy shape {shape}"),
            npy_bytes("<f8", true, shape, &data),
        ));
    }
    for (what, p) in hostile_pickles()
        .into_iter()
        .filter(|(w, _)| w.starts_with("tensor"))
    {
        for constants in [false, true] {
            let mut e = vec![
                ("archive/data.pkl".to_string(), p.clone()),
                ("archive/data/0".to_string(), data.clone()),
            ];
            if constants {
                e.push(("archive/constants.pkl".to_string(), b"\x80\x02).".to_vec()));
            }
            cases.push((
                format!("{what} (constants.pkl: {constants})"),
                zip_bytes(&e),
            ));
        }
    }
    // Deflate bombs: 256 MiB of pickle opcodes (or of storage) in a ~250 KiB archive.
    for (bomb, constants) in [
        ("archive/data.pkl", true),
        ("archive/data.pkl", false),
        ("archive/data/0", true),
    ] {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let deflate = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let mut names = vec!["archive/data.pkl", "archive/data/0"];
        if constants {
            names.push("archive/constants.pkl");
        }
        for name in names {
            w.start_file(name, deflate).unwrap();
            if name == bomb {
                let chunk = vec![b'N'; 1 << 20];
                for _ in 0..256 {
                    w.write_all(&chunk).unwrap();
                }
            } else if name.ends_with("data.pkl") {
                let mut p = Pickle::new();
                p.op(b"}").str("w").tensor("0", &[4]).op(b"s.");
                w.write_all(&p.0).unwrap();
            } else {
                w.write_all(b"\x80\x02).").unwrap();
            }
        }
        let bytes = w.finish().unwrap().into_inner();
        cases.push((
            format!("deflate bomb in {bomb} (constants.pkl: {constants})"),
            bytes,
        ));
    }
    let device = Device::flex();
    for (what, bytes) in &cases {
        let r = report.case(what, bytes, &open_and_read);
        let w = report.case(what, bytes, &|p| load_w_plus(p, 2, 2, &device).map(|_| ()));
        // A file cannot hold 2^80 elements: the read must fail (or the shape be refused).
        if what.contains("1099511627776") || what.contains("18446744073709551615") {
            assert!(!matches!(w, Some(Ok(()))), "{what}: loaded");
            let _ = r;
        }
    }
    // Sizes given in code, not files: an overflowing product is an error too.
    report.run(
        "Relevance::from_values(rows = usize::MAX)",
        0,
        || match Relevance::from_values(vec![0.0; 2], usize::MAX, 2) {
            Err(Error::ShapeMismatch { .. }) => Err("refused".into()),
            other => panic!("{:?}", other.map(|r| r.rows())),
        },
    );
    let slowest = report.slowest.0;
    report.finish();
    assert!(slowest < Duration::from_millis(1500), "slowest {slowest:?}");
}

#[test]
fn load_w_plus_survives_hostile_files() {
    let device = Device::flex();
    let mut seeds: Vec<Seed> = [
        "latents/w_plus.safetensors",
        "latents/c_f32.npy",
        "latents/fortran_f64.npy",
        "latents/big_endian_f4.npy",
        "latents/f16.npy",
        "latents/dict_latents.pt",
        "latents/e4e_latents.pt",
    ]
    .into_iter()
    .map(Seed::from_fixture)
    .collect();
    seeds.push(tiny_latent_seed());
    seeds.push(Seed::new(
        "legacy latent [1, 3, 4]",
        legacy_torch(&[("latent", vec![1, 3, 4])]),
    ));
    let mut report = Report::new("latents::load_w_plus", CASES);
    for (what, bytes) in mutants(&seeds, CASES, 0x5eed_0002) {
        // The fixtures are [2, 6, 32] / [6, 32]; the tiny seed is [1, 3, 4].
        let (n, d) = if what.starts_with("save_latent") || what.starts_with("legacy latent") {
            (3, 4)
        } else {
            (6, 32)
        };
        report.case(&what, &bytes, &|p| {
            load_w_plus(p, n, d, &device).map(|_| ())
        });
    }
    for (what, bytes) in hostile_archives() {
        report.case(&what, &bytes, &|p| {
            load_w_plus(p, 2, 2, &device).map(|_| ())
        });
    }
    report.finish();
}

#[test]
fn mapper_checkpoint_survives_hostile_files() {
    let device = Device::flex();
    let mut report = Report::new("edit::mapper::MapperCheckpoint::open + mapper", CASES);
    let load = |p: &Path| -> Result<(), Error> {
        let ckpt = MapperCheckpoint::open(p)?;
        let _ = (ckpt.description(), ckpt.options(), ckpt.opts().len());
        ckpt.mapper(&device).map(|_| ())
    };
    for (what, bytes) in mutants(&mapper_seeds(), CASES, 0x5eed_0003) {
        report.case(&what, &bytes, &load);
    }
    for (what, bytes) in hostile_archives() {
        report.case(&what, &bytes, &load);
    }
    report.finish();
}

#[test]
fn global_direction_files_survive_hostile_files() {
    let mut report = Report::new("StyleStats::load + Relevance::load", CASES);
    let seeds = vec![
        stats_seed(),
        relevance_seed(),
        Seed::from_fixture("latents/c_f32.npy"),
    ];
    let load = |p: &Path| -> Result<(), Error> {
        let a = StyleStats::load(p).map(|_| ());
        let b = Relevance::load(p).map(|_| ());
        let c = Relevance::load_npy(p).map(|_| ());
        a.or(b).or(c)
    };
    for (what, bytes) in mutants(&seeds, CASES, 0x5eed_0004) {
        report.case(&what, &bytes, &load);
    }
    report.finish();
}

// ---------------------------------------------------------------------------------------------
// Prompts.

#[test]
fn tokenizer_survives_any_prompt() {
    let tok = Tokenizer::new();
    let mut report = Report::new("tokenizer", 3000);
    let mut prompts: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("10 000 a".into(), "a".repeat(10_000)),
        ("10 000 mixed".into(), "a smiling face, ".repeat(625)),
        ("10 000 chars no space".into(), "x".repeat(10_000)),
        ("NUL bytes".into(), "a\0b\0\0c".into()),
        ("all NUL".into(), "\0".repeat(1000)),
        ("emoji".into(), "😀👩‍👩‍👧‍👦🏳️‍🌈 a face with a 🙂".into()),
        (
            "RTL".into(),
            "وجه مبتسم שיער סגול \u{202e}reversed\u{202c} \u{200f}x".into(),
        ),
        (
            "combining marks".into(),
            format!("e{}", "\u{301}".repeat(5000)),
        ),
        ("zalgo".into(), "h̸̡̪̯ͨ͊̽̅̾̎Ȩ̬̩̾͛ͪ̈́̀́͘ ̶̧̨̱̹̭̯ͧ̾ͬC̷̙̲̝͖ͭ̏ͥͮ͟Oͮ͏̮̪̝͍".repeat(50)),
        (
            "special tokens".into(),
            "<|startoftext|><|endoftext|>".repeat(100),
        ),
        (
            "html".into(),
            "&amp;&lt;&#x1F600;&#0;&#99999999999;".repeat(20),
        ),
        ("control".into(), (0u8..32).map(char::from).collect()),
        (
            "surrogate-ish".into(),
            "\u{FFFD}\u{FEFF}\u{200B}\u{10FFFF}".repeat(100),
        ),
        ("whitespace".into(), " \t\n\r\u{3000}\u{a0}".repeat(500)),
        ("mojibake".into(), "Ã©Ã¨Ã¢â€™s â€œsmileâ€\u{9d}".repeat(50)),
    ];
    let mut rng = StdRng::seed_from_u64(0x5eed_0005);
    for i in 0..1500 {
        let n = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        prompts.push((
            format!("lossy random bytes #{i}"),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    for i in 0..1500 {
        let n = rng.random_range(0..100);
        let s: String = (0..n)
            .map(|_| {
                loop {
                    let c = match rng.random_range(0..4) {
                        0 => rng.random_range(0..0x80),
                        1 => rng.random_range(0x80..0x800),
                        2 => rng.random_range(0x800..0x10000),
                        _ => rng.random_range(0x10000..0x110000),
                    };
                    if let Some(c) = char::from_u32(c) {
                        break c;
                    }
                }
            })
            .collect();
        prompts.push((format!("random scalars #{i}"), s));
    }
    let device = Device::flex();
    for (what, text) in &prompts {
        let r = report.run(what, text.len(), || {
            let ids = tok.encode(text);
            let _ = tok.decode(&ids);
            let truncated = tok
                .tokenize_ids(&[text.as_str()], CONTEXT_LENGTH, true)
                .map_err(|e| e.to_string())?;
            assert_eq!(truncated[0].len(), CONTEXT_LENGTH);
            match tok.tokenize(&[text.as_str()], &device) {
                Ok(t) => assert_eq!(t.dims(), [1, CONTEXT_LENGTH]),
                Err(Error::InvalidArgument(m)) => assert!(m.contains("too long"), "{m}"),
                Err(e) => panic!("unexpected error {e}"),
            }
            Ok(())
        });
        assert!(
            !matches!(r, Some(Err(_))),
            "{what}: truncating tokenize failed: {r:?}"
        );
    }
    report.finish();
}

#[test]
fn seeds_are_valid() {
    // The mutations start from files the loaders accept.
    for s in tensor_file_seeds() {
        let dir = scratch("valid");
        let p = dir.join("f");
        std::fs::write(&p, &s.bytes).unwrap();
        open_and_read(&p).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let device = Device::flex();
    for s in mapper_seeds() {
        let dir = scratch("valid-mapper");
        let p = dir.join("f");
        std::fs::write(&p, &s.bytes).unwrap();
        MapperCheckpoint::open(&p)
            .and_then(|c| c.mapper(&device))
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Network loaders: shapes that infer configurations.

/// For each network checkpoint, files with the same keys whose shapes are hostile: every
/// tensor a scalar, every dimension 1 or 0, one more axis, and per key: that key a scalar (or
/// rank 5) while every other keeps its rank with extent 1. Configuration inference indexes
/// shapes; none of it may panic.
#[test]
fn network_loaders_survive_hostile_shapes() {
    use styleclip::arcface::ArcFace;
    use styleclip::clip::Clip;
    use styleclip::stylegan2::Generator;
    let device = Device::flex();
    let mut report = Report::new(
        "Generator/Clip/ArcFace/MapperCheckpoint::load, hostile shapes",
        900,
    );
    type Load<'a> = Box<dyn Fn(&Path) -> Result<(), Error> + 'a>;
    let loaders: Vec<(&str, Load)> = vec![
        (
            "Generator::load",
            Box::new(|p: &Path| Generator::load(p, &device).map(|_| ())),
        ),
        (
            "Clip::load",
            Box::new(|p: &Path| Clip::load(p, &device).map(|_| ())),
        ),
        (
            "ArcFace::load",
            Box::new(|p: &Path| ArcFace::load(p, &device).map(|_| ())),
        ),
        (
            "MapperCheckpoint",
            Box::new(|p: &Path| {
                let c = MapperCheckpoint::open(p)?;
                c.mapper(&device)?;
                c.generator(&device).map(|_| ())
            }),
        ),
    ];
    for (fixture_name, loader) in [
        ("stylegan2/g16_mixed.pt", 0),
        ("clip/tiny_openai.pt", 1),
        ("clip/tiny_hf.safetensors", 1),
        ("arcface/irse50.ref.safetensors", 2),
        ("mapper/stylespace.pt", 3),
        ("mapper/levels.pt", 3),
    ] {
        let file = TensorFile::open(fixture(fixture_name)).unwrap();
        let keys: Vec<(String, Vec<usize>)> = file
            .keys()
            .into_iter()
            .map(|k| (k.to_string(), file.shape(k).unwrap().to_vec()))
            .collect();
        let write = |shape_of: &dyn Fn(usize, &[usize]) -> Vec<usize>| -> Vec<u8> {
            let mut header = serde_json::Map::new();
            let mut data = Vec::new();
            for (i, (k, s)) in keys.iter().enumerate() {
                let shape = shape_of(i, s);
                let n: usize = shape.iter().product();
                header.insert(
                    k.clone(),
                    serde_json::json!({"dtype": "F32", "shape": shape,
                        "data_offsets": [data.len(), data.len() + 4 * n]}),
                );
                data.extend(std::iter::repeat_n(0x3Fu8, 4 * n));
            }
            st_bytes(&header, &data)
        };
        let mut cases: Vec<(String, Vec<u8>)> = vec![
            ("all scalars".into(), write(&|_, _| vec![])),
            ("all extents 1".into(), write(&|_, s| vec![1; s.len()])),
            ("all extents 0".into(), write(&|_, s| vec![0; s.len()])),
            (
                "one more axis".into(),
                write(&|_, s| [s, &[1][..]].concat().iter().map(|&d| d.min(2)).collect()),
            ),
        ];
        for (j, (k, _)) in keys.iter().enumerate() {
            cases.push((
                format!("{k} scalar"),
                write(&|i, s| {
                    if i == j {
                        vec![]
                    } else {
                        s.iter().map(|&d| d.min(1)).collect()
                    }
                }),
            ));
            cases.push((
                format!("{k} rank 5"),
                write(&|i, s| {
                    if i == j {
                        vec![1; 5]
                    } else {
                        s.iter().map(|&d| d.min(1)).collect()
                    }
                }),
            ));
        }
        let (name, load) = &loaders[loader];
        for (what, bytes) in cases {
            report.case(
                &format!("{name} on {fixture_name}: {what}"),
                &bytes,
                &**load,
            );
        }
    }
    report.finish();
}

// ---------------------------------------------------------------------------------------------
// Vocabularies: `Tokenizer::from_vocab_gz` reads bytes.

fn gz(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

#[test]
fn vocabulary_loader_survives_hostile_bytes() {
    let mut report = Report::new("tokenizer::Tokenizer::from_vocab_gz", CASES);
    let text = "#version: 0.2\nt h\ni n\nth e</w>\na n\nr e\nin g</w>\nth e\n".as_bytes();
    let seed = gz(text);
    let bounds = vec![
        0,
        2,
        3,
        4,
        8,
        9,
        10,
        seed.len() - 8,
        seed.len() - 4,
        seed.len(),
    ];
    let mut rng = StdRng::seed_from_u64(0x5eed_0006);
    for i in 0..CASES {
        // Half the cases mutate the gzip stream, half the text inside a valid stream.
        let (bytes, what) = if i == 0 {
            (seed.clone(), "unmutated".to_string())
        } else if i % 2 == 0 {
            let mut b = seed.clone();
            let what = mutate_bytes(&mut rng, &mut b, &bounds);
            (b, format!("gzip: {what}"))
        } else {
            let mut t = text.to_vec();
            let what = match rng.random_range(0..4) {
                0 => {
                    let n = rng.random_range(1..2000);
                    t = (0..n).map(|_| rng.random()).collect();
                    "random bytes".to_string()
                }
                1 => {
                    t.extend(std::iter::repeat_n(b'x', rng.random_range(1..100_000)));
                    "one long line".to_string()
                }
                2 => {
                    t = "a b\n".repeat(rng.random_range(1..5_000)).into_bytes();
                    "many repeated merges".to_string()
                }
                _ => {
                    let lines = [&t[..], &t[..]].concat();
                    t = lines;
                    let m = mutate_bytes(&mut rng, &mut t, &[0, 14]);
                    format!("text: {m}")
                }
            };
            (gz(&t), what)
        };
        report.run(
            &format!("#{i} {what}"),
            bytes.len(),
            || match Tokenizer::from_vocab_gz(&bytes) {
                Ok(tok) => {
                    let ids = tok.encode("the thing in a ring");
                    let _ = tok.decode(&ids);
                    let _ = tok.tokenize_ids(&["the ring"], CONTEXT_LENGTH, true);
                    Ok(())
                }
                Err(Error::InvalidArgument(_)) => Err("refused".into()),
                Err(e) => panic!("unexpected error kind {e}"),
            },
        );
    }
    // A gzip bomb: 256 MiB of merges text in ~250 KiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b'\n'; 1 << 20];
    for _ in 0..256 {
        e.write_all(&chunk).unwrap();
    }
    let bomb = e.finish().unwrap();
    let r = report.run("gzip bomb", bomb.len(), || {
        Tokenizer::from_vocab_gz(&bomb)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    assert!(matches!(r, Some(Err(_))), "gzip bomb: {r:?}");
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    report.finish();
}
