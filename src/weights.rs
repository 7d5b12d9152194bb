//! Reading tensors out of checkpoint files, and building modules from them.
//!
//! Two on-disk families are read here, neither by executing anything:
//! - `torch.save` files (zip, legacy and plain pickles) through `pytorch-reader`, which walks the
//!   pickle as data and never imports or calls Python objects. Nested dictionaries become dotted
//!   keys: `{"g_ema": {"style.1.weight": ..}}` is `g_ema.style.1.weight`.
//! - safetensors files, with their string metadata.
//! - TorchScript archives (`torch.jit.save`, e.g. OpenAI's `ViT-B-32.pt`), walked by the
//!   data-only pickle reader in `torchscript`; tensors are named by attribute path.
//!
//! Every float dtype the files can hold (f32, f16, bf16, f64) is converted to `f32` on load.
//!
//! Modules are built through `ParamSource` (crate-private): each layer asks for its tensors by
//! their official checkpoint key and shape. One source draws the official random
//! initialisation, the other reads a checkpoint and checks every shape, so a network has a
//! single constructor for both.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};

mod npy;
mod torchscript;

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDtype {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit float.
    F64,
    /// Anything else (integers, bool): not loadable as weights.
    Other(&'static str),
}

enum RawData {
    Torch(pytorch_reader::Tensor),
    Bytes(Vec<u8>),
}

struct RawTensor {
    dtype: StoredDtype,
    shape: Vec<usize>,
    data: RawData,
}

/// The tensors of one checkpoint file, read lazily where the format allows.
pub struct TensorFile {
    path: PathBuf,
    tensors: HashMap<String, RawTensor>,
    metadata: BTreeMap<String, String>,
    /// Most bytes one lazily read tensor may become as f32 ([`materialise_limit`]).
    limit: usize,
}

/// A `torch.save` view can expand a small storage (stride 0): `pytorch-reader` lets one tensor
/// materialise up to 10 GiB whatever the file's size, so a 1 KiB file could make a loader
/// allocate gigabytes. A tensor read as f32 may take at most 64 × the file's size, with a
/// 256 MiB floor (legitimate expanded views in small files, such as test fixtures); a real
/// checkpoint's tensors are never larger than the file.
fn materialise_limit(file_len: u64) -> usize {
    usize::try_from(file_len.saturating_mul(64))
        .unwrap_or(usize::MAX)
        .max(256 << 20)
}

/// Which container a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// safetensors (8-byte little-endian header length, then a JSON header).
    Safetensors,
    /// A TorchScript archive (`torch.jit.save`), read by `torchscript`.
    TorchScript,
    /// A NumPy `.npy` array (one tensor, named `array`).
    Npy,
    /// Anything else is handed to the `torch.save` reader.
    Torch,
}

impl TensorFile {
    /// Open a `torch.save`, TorchScript, safetensors or `.npy` file. Tensor bytes of `.pt` files
    /// are read on demand.
    ///
    /// The file is opened once: the format is sniffed from its first bytes and the same handle
    /// is read to the end (safetensors, `.npy`) or walked as a zip archive (TorchScript). A
    /// `torch.save` file is handed to `pytorch-reader`, whose API takes a path and opens it
    /// again (it reads tensor bytes lazily from the file); only if that reader refuses it is
    /// the file read a third time, by the data-only pickle walker (`torch.save(tensor)`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::FileNotFound(path.to_path_buf()),
            _ => Error::io(path, e),
        })?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut head = [0u8; 9];
        let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        match sniff(&head[..n], len) {
            Some(FileKind::Safetensors) => {
                Self::from_safetensors_bytes(path, read_rest(file, &head[..n], len, path)?)
            }
            Some(FileKind::Npy) => {
                Self::from_npy_bytes(path, read_rest(file, &head[..n], len, path)?)
            }
            _ => match torchscript::archive_of(file) {
                Some(zip) => {
                    Self::from_torchscript(path, torchscript::read_archive(zip, len, path)?)
                }
                None => Self::open_torch(path, len),
            },
        }
    }

    /// Sniff the container kind from the first bytes.
    pub fn kind(path: &Path) -> Result<FileKind> {
        let mut head = [0u8; 9];
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        let n = read_up_to(&mut f, &mut head).map_err(|e| Error::io(path, e))?;
        let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        if let Some(kind) = sniff(&head[..n], len) {
            return Ok(kind);
        }
        Ok(match torchscript::archive_of(f) {
            Some(_) => FileKind::TorchScript,
            None => FileKind::Torch,
        })
    }

    fn from_npy_bytes(path: &Path, data: Vec<u8>) -> Result<Self> {
        let a = npy::parse(&data).map_err(|reason| Error::NotACheckpoint {
            path: path.to_path_buf(),
            reason: format!("bad .npy file: {reason}"),
        })?;
        let raw = RawTensor {
            dtype: a.dtype,
            shape: a.shape,
            data: RawData::Bytes(a.bytes),
        };
        Self::checked(
            path,
            HashMap::from([("array".to_string(), raw)]),
            BTreeMap::new(),
        )
    }

    fn open_torchscript(path: &Path) -> Result<Self> {
        Self::from_torchscript(path, torchscript::read(path)?)
    }

    fn from_torchscript(
        path: &Path,
        found: HashMap<String, torchscript::ScriptTensor>,
    ) -> Result<Self> {
        let tensors = found
            .into_iter()
            .map(|(name, t)| {
                let name = if name.is_empty() {
                    "tensor".to_string()
                } else {
                    name
                };
                let raw = RawTensor {
                    dtype: t.dtype,
                    shape: t.shape,
                    data: RawData::Bytes(t.bytes),
                };
                (name, raw)
            })
            .collect();
        Self::checked(path, tensors, BTreeMap::new())
    }

    fn open_torch(path: &Path, file_len: u64) -> Result<Self> {
        let reader = match pytorch_reader::PytorchReader::new(path) {
            Ok(r) => r,
            // `torch.save(tensor)` (e4e's `latents.pt`): a zip whose root is one tensor, which the
            // data-only pickle walker reads (named `tensor`).
            Err(e) => {
                return Self::open_torchscript(path).map_err(|_| Error::NotACheckpoint {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        let tensors = reader
            .into_tensors()
            .into_iter()
            .map(|(name, t)| {
                let dtype = match t.dtype() {
                    pytorch_reader::DType::F32 => StoredDtype::F32,
                    pytorch_reader::DType::F16 => StoredDtype::F16,
                    pytorch_reader::DType::BF16 => StoredDtype::BF16,
                    pytorch_reader::DType::F64 => StoredDtype::F64,
                    other => StoredDtype::Other(torch_dtype_name(other)),
                };
                let shape = t.shape().to_vec();
                (
                    name,
                    RawTensor {
                        dtype,
                        shape,
                        data: RawData::Torch(t),
                    },
                )
            })
            .collect();
        let mut file = Self::checked(path, tensors, BTreeMap::new())?;
        file.limit = materialise_limit(file_len);
        Ok(file)
    }

    fn from_safetensors_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let not_ckpt = |reason: String| Error::NotACheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| not_ckpt(format!("bad safetensors header: {e}")))?;
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| not_ckpt(format!("bad safetensors file: {e}")))?;
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                use safetensors::Dtype as S;
                let dtype = match view.dtype() {
                    S::F32 => StoredDtype::F32,
                    S::F16 => StoredDtype::F16,
                    S::BF16 => StoredDtype::BF16,
                    S::F64 => StoredDtype::F64,
                    _ => StoredDtype::Other("non-float"),
                };
                (
                    name,
                    RawTensor {
                        dtype,
                        shape: view.shape().to_vec(),
                        data: RawData::Bytes(view.data().to_vec()),
                    },
                )
            })
            .collect();
        Self::checked(path, tensors, metadata)
    }

    fn checked(
        path: &Path,
        tensors: HashMap<String, RawTensor>,
        metadata: BTreeMap<String, String>,
    ) -> Result<Self> {
        if tensors.is_empty() {
            return Err(Error::NotACheckpoint {
                path: path.to_path_buf(),
                reason: "it holds no tensors".into(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
            metadata,
            limit: usize::MAX,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All tensor keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// Whether a key is present.
    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// Shape of a tensor, if present.
    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.tensors.get(key).map(|t| t.shape.as_slice())
    }

    /// Stored element type of a tensor, if present.
    pub fn dtype(&self, key: &str) -> Option<StoredDtype> {
        self.tensors.get(key).map(|t| t.dtype)
    }

    /// safetensors string metadata (empty for `.pt` files).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Read one tensor as `f32` values (row-major) with its shape.
    pub fn read_f32(&self, key: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let t = self.tensors.get(key).ok_or_else(|| Error::MissingKey {
            key: key.to_string(),
            source_name: self.path.display().to_string(),
        })?;
        let bytes = match &t.data {
            RawData::Torch(r) => {
                let elements = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                let width = if matches!(t.dtype, StoredDtype::F64) {
                    8
                } else {
                    4
                };
                if elements
                    .and_then(|n| n.checked_mul(width))
                    .is_none_or(|b| b > self.limit)
                {
                    return Err(Error::NotACheckpoint {
                        path: self.path.clone(),
                        reason: format!(
                            "tensor `{key}` of shape {:?} would take more than {} bytes as \
                             f32, far more than the file holds (a view expanding its storage)",
                            t.shape, self.limit
                        ),
                    });
                }
                r.read().map_err(|e| Error::io(&self.path, e))?
            }
            RawData::Bytes(b) => b.clone(),
        };
        let values = bytes_to_f32(&bytes, t.dtype).ok_or_else(|| Error::UnsupportedDtype {
            key: key.to_string(),
            dtype: format!("{:?}", t.dtype),
        })?;
        if values.len() != t.shape.iter().product::<usize>() {
            return Err(Error::NotACheckpoint {
                path: self.path.clone(),
                reason: format!("tensor `{key}` has fewer bytes than its shape needs"),
            });
        }
        Ok((values, t.shape.clone()))
    }

    /// Read one tensor onto a device, checking its shape.
    pub fn tensor<const D: usize>(
        &self,
        key: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let found = self.shape(key).ok_or_else(|| Error::MissingKey {
            key: key.to_string(),
            source_name: self.path.display().to_string(),
        })?;
        check_shape(key, &shape, found)?;
        let (values, _) = self.read_f32(key)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }
}

/// `found` must be `expected`; a 0-d scalar (e.g. CLIP's `logit_scale`) stands for any
/// one-element shape.
pub(crate) fn check_shape(key: &str, expected: &[usize], found: &[usize]) -> Result<()> {
    let scalar = found.iter().product::<usize>() == 1 && expected.iter().product::<usize>() == 1;
    if found != expected && !scalar {
        return Err(Error::ShapeMismatch {
            key: key.to_string(),
            expected: expected.to_vec(),
            found: found.to_vec(),
        });
    }
    Ok(())
}

/// The kind the first bytes settle (safetensors, `.npy`); `None` for zip archives and pickles,
/// which need the archive's directory to tell apart.
fn sniff(head: &[u8], len: u64) -> Option<FileKind> {
    if head.len() == 9 && head[8] == b'{' {
        let header = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if header.saturating_add(8) <= len {
            return Some(FileKind::Safetensors);
        }
    }
    if head.len() >= 6 && head.starts_with(npy::MAGIC) {
        return Some(FileKind::Npy);
    }
    None
}

/// The whole file: the `head` already read, then the rest of the handle.
fn read_rest(mut file: File, head: &[u8], len: u64, path: &Path) -> Result<Vec<u8>> {
    // The length is the file's own, so the capacity never exceeds what is there.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    bytes.extend_from_slice(head);
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn torch_dtype_name(d: pytorch_reader::DType) -> &'static str {
    use pytorch_reader::DType as T;
    match d {
        T::I64 => "int64",
        T::I32 => "int32",
        T::I16 => "int16",
        T::I8 => "int8",
        T::U64 => "uint64",
        T::U32 => "uint32",
        T::U16 => "uint16",
        T::U8 => "uint8",
        T::Bool => "bool",
        T::F64 => "float64",
        T::F32 => "float32",
        T::F16 => "float16",
        T::BF16 => "bfloat16",
    }
}

/// Little-endian bytes to `f32`; `None` for non-float dtypes.
fn bytes_to_f32(bytes: &[u8], dtype: StoredDtype) -> Option<Vec<f32>> {
    Some(match dtype {
        StoredDtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        StoredDtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        StoredDtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        StoredDtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        StoredDtype::Other(_) => return None,
    })
}

/// How a parameter is drawn when it is not loaded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// `N(0, std²)`.
    Normal(f64),
    /// Every element equal.
    Constant(f64),
}

/// Where a module's tensors come from: the official random initialisation or a checkpoint.
pub(crate) trait ParamSource {
    /// The device tensors are created on.
    fn device(&self) -> &Device;
    /// The tensor under `key` (official checkpoint naming) with exactly `shape`.
    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>>;
}

/// A PyTorch `[out, in]` linear weight from `src`, returned as a contiguous `[in, out]` tensor
/// (burn's layout): `x · W` then reads contiguous rows, which flex's GEMM runs about 1.75×
/// faster than a transposed view at batch 1 (CLIP ViT-B/32 shapes).
pub(crate) fn linear_weight<S: ParamSource>(
    src: &mut S,
    key: &str,
    out_in: [usize; 2],
    init: Init,
) -> Result<Tensor<2>> {
    let t = src.tensor(key, out_in, init)?;
    let device = src.device().clone();
    Ok(Tensor::from_data(t.transpose().into_data(), &device))
}

/// Official initialisation from an explicit seed (no global RNG).
pub(crate) struct RandomInit {
    rng: StdRng,
    device: Device,
}

impl RandomInit {
    pub(crate) fn new(seed: u64, device: &Device) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            device: device.clone(),
        }
    }
}

impl ParamSource for RandomInit {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        _key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::Normal(std) => (0..n)
                .map(|_| {
                    let v: f64 = StandardNormal.sample(&mut self.rng);
                    (v * std) as f32
                })
                .collect(),
            Init::Constant(c) => vec![c as f32; n],
        };
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            &self.device,
        ))
    }
}

/// Values from a function of (key, PyTorch shape): deterministic test weights, custom inits.
pub(crate) struct FnSource<F> {
    f: F,
    device: Device,
}

impl<F: FnMut(&str, &[usize]) -> Vec<f32>> FnSource<F> {
    pub(crate) fn new(f: F, device: &Device) -> Self {
        Self {
            f,
            device: device.clone(),
        }
    }
}

impl<F: FnMut(&str, &[usize]) -> Vec<f32>> ParamSource for FnSource<F> {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<D>> {
        let values = (self.f)(key, &shape);
        if values.len() != shape.iter().product::<usize>() {
            return Err(Error::InvalidArgument(format!(
                "{} values given for `{key}` of shape {shape:?}",
                values.len()
            )));
        }
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            &self.device,
        ))
    }
}

/// Tensors read from a checkpoint under a key prefix (`"g_ema."`, or `""` for a bare state dict).
pub(crate) struct CheckpointSource<'a> {
    file: &'a TensorFile,
    prefix: String,
    device: Device,
}

impl<'a> CheckpointSource<'a> {
    pub(crate) fn new(file: &'a TensorFile, prefix: &str, device: &Device) -> Self {
        Self {
            file,
            prefix: prefix.to_string(),
            device: device.clone(),
        }
    }
}

impl ParamSource for CheckpointSource<'_> {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<D>> {
        let full = format!("{}{key}", self.prefix);
        self.file.tensor(&full, shape, &self.device)
    }
}

/// Write `(key, data)` pairs as an f32 safetensors file with `metadata` (see
/// [`write_f32_safetensors`]).
pub(crate) fn save_safetensors(
    path: &Path,
    tensors: Vec<(String, TensorData)>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    save_safetensors_as(path, tensors, metadata, Precision::F32)
}

/// Float precision of a written safetensors file. Every loader of this crate reads both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats (exact).
    #[default]
    F32,
    /// IEEE half (round to nearest even): half the bytes, for shipped weights.
    F16,
}

/// [`save_safetensors`] at a chosen precision.
pub(crate) fn save_safetensors_as(
    path: &Path,
    tensors: Vec<(String, TensorData)>,
    metadata: HashMap<String, String>,
    precision: Precision,
) -> Result<()> {
    let values = tensors
        .into_iter()
        .map(|(key, data)| {
            let shape = data.shape().to_vec();
            data.try_into_vec_as::<f32>()
                .map(|v| (key.clone(), shape, v))
                .map_err(|e| Error::InvalidArgument(format!("cannot read tensor {key}: {e:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let views: Vec<(String, Vec<usize>, &[f32])> = values
        .iter()
        .map(|(k, s, v)| (k.clone(), s.clone(), v.as_slice()))
        .collect();
    write_safetensors(path, &views, metadata, precision)
}

/// Write f32 tensors `(key, shape, values)` as safetensors with `metadata`, through a temporary
/// `<path>.partial` and a rename, so an interrupted write never leaves a truncated file.
pub(crate) fn write_f32_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: HashMap<String, String>,
) -> Result<()> {
    write_safetensors(path, tensors, metadata, Precision::F32)
}

fn write_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: HashMap<String, String>,
    precision: Precision,
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| match precision {
            Precision::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Precision::F16 => v
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect(),
        })
        .collect();
    let dtype = match precision {
        Precision::F32 => safetensors::Dtype::F32,
        Precision::F16 => safetensors::Dtype::F16,
    };
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((k, s, _), b)| {
            safetensors::tensor::TensorView::new(dtype, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::InvalidArgument(format!("tensor {k}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let metadata = (!metadata.is_empty()).then_some(metadata);
    safetensors::serialize_to_file(views, metadata, &tmp).map_err(|e| match e {
        safetensors::SafeTensorError::IoError(io) => Error::io(&tmp, io),
        other => Error::InvalidArgument(other.to_string()),
    })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Every float parameter of a module as `(path, data)`, the path joining field names and vector
/// indices with dots (`convs.0.conv.weight`).
pub fn named_params<M: Module>(module: &M) -> Vec<(String, TensorData)> {
    let mut collector = Collector::default();
    module.visit(&mut collector);
    collector.tensors
}

#[derive(Default)]
struct Collector {
    path: Vec<String>,
    tensors: Vec<(String, TensorData)>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.tensors
            .push((self.path.join("."), param.val().into_data()));
    }
}
