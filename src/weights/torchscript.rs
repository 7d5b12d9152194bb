//! A reader for TorchScript archives (`torch.jit.save`), such as OpenAI's released `ViT-B-32.pt`.
//!
//! `pytorch-reader` reads `torch.save` files but not these: in a TorchScript archive `data.pkl`
//! is a tree of `__torch__.*` objects whose `BUILD` states are attribute dictionaries, with
//! parameters stored directly as attributes. This module walks that pickle as **data**: a small
//! pickle machine that knows the opcodes `torch.jit.save` emits, builds no Python objects,
//! imports nothing and calls nothing. `GLOBAL`s are kept as names; the only "call" it
//! interprets is `torch._utils._rebuild_tensor_v2` (a tensor view of a storage), and
//! `collections.OrderedDict()` (an empty dict). Tensors are named by their attribute path
//! (`visual.conv1.weight`), exactly the module's `state_dict` keys; their bytes come from the
//! archive's `data/<key>` entries.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use super::StoredDtype;
use crate::error::{Error, Result};
use zip::ZipArchive;

/// A pickled value. Containers live in an arena so `BUILD`/`SETITEMS` after memoisation are seen
/// by every reference, as in Python.
#[derive(Debug, Clone)]
enum Value {
    /// `None`, booleans and floats: kept only as placeholders, never read.
    Scalar,
    Int(i64),
    Str(String),
    /// Shared, so a memo recall is a reference count, not a deep copy (a pickle that pairs a
    /// memoised tuple with itself 60 times would otherwise ask for 2^60 values).
    Tuple(Rc<Tuple>),
    /// `(module, name)`. The large variants are boxed so a `Value` stays 32 bytes: a pickle
    /// of a million `MARK`s then costs 32 MB of stack, not 100.
    Global(Box<(String, String)>),
    Storage(Box<(StoredDtype, String)>),
    Tensor(Box<TensorRef>),
    /// Index into the arena (dict, list or object).
    Ref(usize),
    Mark,
}

#[derive(Debug)]
struct Tuple {
    items: Vec<Value>,
    /// Nesting depth (1 for a tuple of scalars), bounded by [`MAX_DEPTH`].
    depth: usize,
}

/// Deepest tuple nesting accepted. Real files nest a few levels; a hostile one could nest a
/// million `TUPLE1`s, whose drop would then overflow the stack.
const MAX_DEPTH: usize = 256;

/// Most arena nodes (and their references) the module-tree walk visits: a real tree visits
/// each node about once, while a dict holding itself twice, 64 levels deep, would be 2^64.
const VISITS_PER_NODE: usize = 4;

/// How far a compressed archive entry may inflate, relative to the archive's size.
const MAX_INFLATION: u64 = 8;

/// Largest contiguous copy of a broadcast (zero-stride) view.
const MAX_BROADCAST_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
struct TensorRef {
    dtype: StoredDtype,
    key: String,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

#[derive(Debug)]
enum Node {
    Dict(Vec<(Value, Value)>),
    List(Vec<Value>),
    /// An instance of some class (never constructed), with its `BUILD` state.
    Object {
        state: Option<Value>,
    },
}

/// A tensor found in the archive: dtype, shape and contiguous little-endian bytes.
pub(crate) struct ScriptTensor {
    pub dtype: StoredDtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// The file as a zip archive if it is one with TorchScript's `constants.pkl` (the handle is
/// rewound first; anything else gives `None`).
pub(crate) fn archive_of(mut file: File) -> Option<ZipArchive<File>> {
    file.seek(SeekFrom::Start(0)).ok()?;
    let zip = ZipArchive::new(file).ok()?;
    let script = zip
        .file_names()
        .any(|n| n.ok().is_some_and(|n| n.ends_with("/constants.pkl")));
    script.then_some(zip)
}

/// Every tensor attribute of the archive's module tree, by dotted path.
pub(crate) fn read(path: &Path) -> Result<HashMap<String, ScriptTensor>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let zip = ZipArchive::new(file).map_err(|e| Error::NotACheckpoint {
        path: path.to_path_buf(),
        reason: format!("bad zip archive: {e}"),
    })?;
    read_archive(zip, file_len, path)
}

/// [`read`] of an archive already open (`file_len` bytes on disk; `path` names it in errors).
pub(crate) fn read_archive(
    mut zip: ZipArchive<File>,
    file_len: u64,
    path: &Path,
) -> Result<HashMap<String, ScriptTensor>> {
    let bad = |reason: String| Error::NotACheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    // `torch.jit.save` stores its entries uncompressed; a deflated entry may inflate a little
    // past the archive, never far (a deflate bomb would allocate ~1000× the file).
    let entry_limit = file_len
        .saturating_mul(MAX_INFLATION)
        .saturating_add(1 << 20);
    let read_entry = |e: zip::read::ZipFile<'_, File>, out: &mut Vec<u8>| {
        let n = e.take(entry_limit + 1).read_to_end(out)?;
        if n as u64 > entry_limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("it inflates past {entry_limit} bytes, {MAX_INFLATION}× the archive"),
            ));
        }
        Ok(())
    };
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let data_pkl = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| bad("no data.pkl in the archive".into()))?
        .clone();
    let root = data_pkl.trim_end_matches("data.pkl").to_string();
    let mut pickle = Vec::new();
    zip.by_name(&data_pkl)
        .map_err(std::io::Error::from)
        .and_then(|e| read_entry(e, &mut pickle))
        .map_err(|e| bad(format!("cannot read {data_pkl}: {e}")))?;

    let mut machine = Machine::default();
    let top = machine
        .run(&pickle)
        .map_err(|e| bad(format!("data.pkl: {e}")))?;
    let mut found = Vec::new();
    let mut budget = VISITS_PER_NODE * (machine.arena.len() + pickle.len()) + 1024;
    machine
        .collect(&top, String::new(), &mut found, 0, &mut budget)
        .map_err(|e| bad(format!("data.pkl: {e}")))?;
    if found.is_empty() {
        return Err(bad("no tensors in the TorchScript module tree".into()));
    }

    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = HashMap::new();
    for (name, t) in found {
        if !storages.contains_key(&t.key) {
            let entry = format!("{root}data/{}", t.key);
            let mut bytes = Vec::new();
            zip.by_name(&entry)
                .map_err(std::io::Error::from)
                .and_then(|e| read_entry(e, &mut bytes))
                .map_err(|e| bad(format!("storage {entry} of `{name}`: {e}")))?;
            storages.insert(t.key.clone(), bytes);
        }
        let storage = &storages[&t.key];
        let bytes = gather(storage, &t).ok_or_else(|| {
            bad(format!(
                "tensor `{name}` (size {:?}, stride {:?}, offset {}) does not fit its storage",
                t.size, t.stride, t.offset
            ))
        })?;
        out.insert(
            name,
            ScriptTensor {
                dtype: t.dtype,
                shape: t.size.clone(),
                bytes,
            },
        );
    }
    Ok(out)
}

/// Copy a strided view of a storage into contiguous row-major bytes.
fn gather(storage: &[u8], t: &TensorRef) -> Option<Vec<u8>> {
    let elem = match t.dtype {
        StoredDtype::F32 => 4,
        StoredDtype::F64 => 8,
        StoredDtype::F16 | StoredDtype::BF16 => 2,
        StoredDtype::Other(_) => 8,
    };
    // Sizes come from the file: check every product instead of trusting them.
    let n = t
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    // A view can only be larger than its storage when it broadcasts (a zero stride); bound
    // the allocation by the storage otherwise, so a hostile header cannot request gigabytes.
    // A broadcast view is capped at 64 MiB: a few bytes of storage must not expand into a
    // 2 GiB buffer filled element by element.
    let broadcast = t.stride.iter().zip(&t.size).any(|(&s, &d)| s == 0 && d > 1);
    let limit = if broadcast {
        storage.len().max(MAX_BROADCAST_BYTES)
    } else {
        storage.len()
    };
    if n.checked_mul(elem)? > limit {
        return None;
    }
    let mut out = Vec::with_capacity(n * elem);
    let mut index = vec![0usize; t.size.len()];
    for _ in 0..n {
        let mut off = t.offset;
        for (i, s) in index.iter().zip(&t.stride) {
            off = off.checked_add(i.checked_mul(*s)?)?;
        }
        let start = off.checked_mul(elem)?;
        out.extend_from_slice(storage.get(start..start.checked_add(elem)?)?);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.size[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}

fn storage_dtype(class: &str) -> StoredDtype {
    match class {
        "FloatStorage" => StoredDtype::F32,
        "HalfStorage" => StoredDtype::F16,
        "BFloat16Storage" => StoredDtype::BF16,
        "DoubleStorage" => StoredDtype::F64,
        "LongStorage" => StoredDtype::Other("int64"),
        "IntStorage" => StoredDtype::Other("int32"),
        "BoolStorage" => StoredDtype::Other("bool"),
        _ => StoredDtype::Other("unknown storage"),
    }
}

#[derive(Default)]
struct Machine {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    arena: Vec<Node>,
}

impl Machine {
    fn alloc(&mut self, node: Node) -> Value {
        self.arena.push(node);
        Value::Ref(self.arena.len() - 1)
    }

    fn pop(&mut self) -> std::result::Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "stack underflow".to_string())
    }

    fn pop_mark(&mut self) -> std::result::Result<Vec<Value>, String> {
        let pos = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or("MARK not found")?;
        let items = self.stack.split_off(pos + 1);
        self.stack.pop();
        Ok(items)
    }

    fn run(&mut self, data: &[u8]) -> std::result::Result<Value, String> {
        let mut r = Cursor { data, pos: 0 };
        loop {
            let op = r.u8()?;
            match op {
                0x80 => {
                    r.u8()?; // PROTO
                }
                0x95 => {
                    r.take(8)?; // FRAME
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(Value::Mark),
                b'N' | 0x88 | 0x89 => self.stack.push(Value::Scalar),
                b'K' => self.stack.push(Value::Int(r.u8()? as i64)),
                b'M' => self
                    .stack
                    .push(Value::Int(u16::from_le_bytes(r.array()?) as i64)),
                b'J' => self
                    .stack
                    .push(Value::Int(i32::from_le_bytes(r.array()?) as i64)),
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let n = r.u8()? as usize;
                    let b = r.take(n)?;
                    if n > 8 {
                        return Err("integer too large".into());
                    }
                    let mut v: i64 = 0;
                    for (i, byte) in b.iter().enumerate() {
                        v |= (*byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    r.take(8)?; // BINFLOAT
                    self.stack.push(Value::Scalar);
                }
                b'X' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    self.stack.push(Value::Str(r.string(n)?));
                }
                0x8c => {
                    let n = r.u8()? as usize;
                    self.stack.push(Value::Str(r.string(n)?));
                }
                b'U' => {
                    let n = r.u8()? as usize;
                    self.stack.push(Value::Str(r.string(n)?));
                }
                b'T' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    self.stack.push(Value::Str(r.string(n)?));
                }
                b')' => self.stack.push(tuple(Vec::new())?),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(tuple(items)?);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err("stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(tuple(items)?);
                }
                b'}' => {
                    let v = self.alloc(Node::Dict(Vec::new()));
                    self.stack.push(v);
                }
                b']' => {
                    let v = self.alloc(Node::List(Vec::new()));
                    self.stack.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Node::List(items));
                    self.stack.push(v);
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'c' => {
                    let module = r.line()?;
                    let name = r.line()?;
                    self.stack.push(Value::Global(Box::new((module, name))));
                }
                b'q' => {
                    let i = r.u8()? as u32;
                    self.memoize(i)?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(r.array()?);
                    self.memoize(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    self.memoize(i)?;
                }
                b'h' => {
                    let i = r.u8()? as u32;
                    self.recall(i)?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(r.array()?);
                    self.recall(i)?;
                }
                b'Q' => {
                    // BINPERSID: ('storage', torch.<Type>Storage, key, location, numel)
                    let pid = self.pop()?;
                    let Value::Tuple(items) = pid else {
                        return Err("persistent id is not a tuple".into());
                    };
                    match items.items.as_slice() {
                        [Value::Str(kind), Value::Global(class), Value::Str(key), ..]
                            if kind == "storage" =>
                        {
                            self.stack.push(Value::Storage(Box::new((
                                storage_dtype(&class.1),
                                key.clone(),
                            ))))
                        }
                        _ => return Err("unsupported persistent id".into()),
                    }
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args) → an empty object of that class.
                    self.pop()?; // args
                    self.pop()?; // class
                    let v = self.alloc(Node::Object { state: None });
                    self.stack.push(v);
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.reduce(func, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.stack.last().cloned().ok_or("BUILD on empty stack")?;
                    if let Value::Ref(i) = target
                        && let Node::Object { state: s, .. } = &mut self.arena[i]
                    {
                        *s = Some(state);
                    }
                }
                other => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{other:02x} at byte {}",
                        r.pos - 1
                    ));
                }
            }
        }
    }

    fn memoize(&mut self, i: u32) -> std::result::Result<(), String> {
        let top = self.stack.last().cloned().ok_or("memoize on empty stack")?;
        self.memo.insert(i, top);
        Ok(())
    }

    fn recall(&mut self, i: u32) -> std::result::Result<(), String> {
        let v = self
            .memo
            .get(&i)
            .cloned()
            .ok_or(format!("memo {i} not set"))?;
        self.stack.push(v);
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>) -> std::result::Result<(), String> {
        match self.stack.last() {
            Some(Value::Ref(i)) => {
                if let Node::List(l) = &mut self.arena[*i] {
                    l.extend(items);
                }
                Ok(())
            }
            _ => Err("APPEND target is not a list".into()),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> std::result::Result<(), String> {
        match self.stack.last() {
            Some(Value::Ref(i)) => {
                if let Node::Dict(d) = &mut self.arena[*i] {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        d.push((k, v));
                    }
                }
                Ok(())
            }
            _ => Err("SETITEMS target is not a dict".into()),
        }
    }

    /// The only calls interpreted; everything else becomes an inert object.
    fn reduce(&mut self, func: Value, args: Value) -> std::result::Result<Value, String> {
        let Value::Global(global) = &func else {
            return Ok(self.alloc(Node::Object { state: None }));
        };
        let (module, name) = &**global;
        match (module.as_str(), name.as_str()) {
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
                let Value::Tuple(a) = args else {
                    return Err("tensor arguments are not a tuple".into());
                };
                let ints = |v: &Value| -> std::result::Result<Vec<usize>, String> {
                    match v {
                        Value::Tuple(t) => t
                            .items
                            .iter()
                            .map(|x| match x {
                                Value::Int(i) if *i >= 0 => Ok(*i as usize),
                                _ => Err("bad tensor size/stride".to_string()),
                            })
                            .collect(),
                        _ => Err("tensor size/stride is not a tuple".into()),
                    }
                };
                match a.items.as_slice() {
                    [
                        Value::Storage(storage),
                        Value::Int(offset),
                        size,
                        stride,
                        ..,
                    ] => Ok(Value::Tensor(Box::new(TensorRef {
                        dtype: storage.0,
                        key: storage.1.clone(),
                        offset: usize::try_from(*offset)
                            .map_err(|_| format!("negative storage offset {offset}"))?,
                        size: ints(size)?,
                        stride: ints(stride)?,
                    }))),
                    _ => Err("unexpected _rebuild_tensor_v2 arguments".into()),
                }
            }
            ("collections", "OrderedDict") => Ok(self.alloc(Node::Dict(Vec::new()))),
            _ => Ok(self.alloc(Node::Object { state: None })),
        }
    }

    /// Tensors under `v`, named by attribute path. `budget` counts the visits left: a module
    /// tree that references itself, or shares one node along many paths, runs out of it.
    fn collect(
        &self,
        v: &Value,
        path: String,
        out: &mut Vec<(String, TensorRef)>,
        depth: usize,
        budget: &mut usize,
    ) -> std::result::Result<(), String> {
        if depth > 64 {
            return Ok(());
        }
        *budget = budget
            .checked_sub(1)
            .ok_or("the module tree references itself or shares nodes along too many paths")?;
        match v {
            Value::Tensor(t) => out.push((path, (**t).clone())),
            Value::Ref(i) => match &self.arena[*i] {
                Node::Object {
                    state: Some(state), ..
                } => self.collect(state, path, out, depth + 1, budget)?,
                Node::Dict(items) => {
                    for (k, v) in items {
                        if let Value::Str(k) = k {
                            let p = if path.is_empty() {
                                k.clone()
                            } else {
                                format!("{path}.{k}")
                            };
                            self.collect(v, p, out, depth + 1, budget)?;
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }
}

/// A tuple value, refusing nesting deeper than [`MAX_DEPTH`].
fn tuple(items: Vec<Value>) -> std::result::Result<Value, String> {
    let depth = 1 + items
        .iter()
        .map(|v| match v {
            Value::Tuple(t) => t.depth,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(format!("tuples nested deeper than {MAX_DEPTH}"));
    }
    Ok(Value::Tuple(Rc::new(Tuple { items, depth })))
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("truncated pickle")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn string(&mut self, n: usize) -> std::result::Result<String, String> {
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn line(&mut self) -> std::result::Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("unterminated GLOBAL")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_stay_small() {
        assert!(std::mem::size_of::<super::Value>() <= 32);
    }
}
