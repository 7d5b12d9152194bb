//! The pretrained-weights catalogue: one typed list of the checkpoints this crate loads, and a
//! lookup that finds them on disk and verifies them (feature `pretrained`).
//!
//! # The catalogue
//! [`Pretrained::ALL`] lists every entry; [`Pretrained::info`] gives its [`WeightInfo`]: the
//! official file name, its size and sha256 where a published one exists, the official
//! [`Source`], where that source was read ([`WeightInfo::reference`]) and the licence.
//!
//! | short name | file | sha256 | source | licence |
//! |---|---|---|---|---|
//! | `ffhq` | `stylegan2-ffhq-config-f.pt` | none published | StyleCLIP's Google Drive link (rosinality's conversion) | MIT (conversion code); the weights are NVIDIA's, CC BY-NC 4.0 |
//! | `vit-b-32` | `ViT-B-32.pt` | from OpenAI's URL | `openaipublic.azureedge.net` | MIT (OpenAI) |
//! | `vit-b-16` | `ViT-B-16.pt` | from OpenAI's URL | `openaipublic.azureedge.net` | MIT (OpenAI) |
//! | `vit-l-14` | `ViT-L-14.pt` | from OpenAI's URL | `openaipublic.azureedge.net` | MIT (OpenAI) |
//! | `mapper:<prompt>` (14) | `<prompt>.pt` | none published | StyleCLIP's Google Drive links (`utils.py`) | MIT (StyleCLIP) |
//! | `fs3-ffhq` | `fs3.npy` | none published | StyleCLIP's repository, `global_torch/npy/ffhq/fs3.npy` | MIT (StyleCLIP) |
//! | `s-mean-std-ffhq` | `S_mean_std` | none (generated) | made by StyleCLIP's `GetCode.py`, not released | — |
//! | `ir-se50` | `model_ir_se50.pth` | none published | StyleCLIP/e4e README's Google Drive link | MIT (TreB1eN/InsightFace_Pytorch) |
//! | `e4e-ffhq` | `e4e_ffhq_encode.pt` | none published | e4e README's Google Drive link | MIT (omertov/encoder4editing) |
//! | `toyfaces` | `weights/toyfaces/` | — (shipped) | this crate | MIT OR Apache-2.0 |
//!
//! The 14 released mappers are [`ReleasedMapper::ALL`]: `afro`, `angry`, `beyonce`, `bobcut`,
//! `bowlcut`, `curly_hair`, `depp`, `hilary_clinton`, `mohawk`, `purple_hair`, `surprised`,
//! `taylor_swift`, `trump`, `zuckerberg` (the names of StyleCLIP's `utils.py`).
//!
//! # Hash policy
//! A sha256 is recorded only where the publisher states one: OpenAI's CLIP download URLs embed
//! the sha256 of each file (`_MODELS` in `clip/clip.py`, checked by `clip.load`). StyleCLIP,
//! e4e, rosinality and TreB1eN publish none, so those entries have `sha256: None` and are
//! accepted as found (after a size check where [`WeightInfo::size`] is known; no size is
//! published for any of them either). No hash here was computed by this crate's authors.
//!
//! A file with a hash is hashed once: success writes `<file>.sha256-ok` next to it (the hash,
//! the file's size and modification time), so later lookups only compare metadata. Where the
//! folder is read-only the result is remembered in memory for the [`Locator`]'s lifetime. A
//! wrong hash is an [`Error::Weights`] and no marker is written.
//!
//! # Lookup order
//! [`Pretrained::path`] uses [`Locator::from_env`]:
//! 1. the folder in `STYLECLIP_WEIGHTS` (the file by its [`WeightInfo::file_name`]);
//! 2. the Hugging Face cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//!    `~/.cache/huggingface/hub`) in its layout `models--org--name/snapshots/<rev>/<path>`,
//!    for entries whose source is a Hugging Face repository;
//! 3. with the feature `pretrained-download`, a Hugging Face source is fetched into that cache
//!    (with progress, through the `hf-hub` crate; there is no other network code).
//!
//! None of the official sources is a Hugging Face repository (they are OpenAI's CDN, Google
//! Drive and GitHub), so today the built-in entries are found in the user folder; the cache
//! lookup and the download serve any [`WeightInfo`] with a [`Source::HuggingFace`] given to
//! [`Locator::resolve`] (e.g. a mirror you trust, with its hash). When nothing is found the
//! error names the file, every place looked in and the URL to fetch it by hand.
//!
//! Only the cache layout is read by the `pretrained` feature: `hf-hub` 0.4 is built with
//! `default-features = false`, which compiles its `Cache` and no HTTP client.
//!
//! ```no_run
//! use styleclip::pretrained::{Locator, Pretrained, ReleasedMapper};
//!
//! # fn main() -> styleclip::Result<()> {
//! // STYLECLIP_WEIGHTS, then the Hugging Face cache.
//! let generator = Pretrained::FfhqConfigF.path()?;
//! let clip: Pretrained = "vit-b-32".parse()?;
//! let mapper = Pretrained::Mapper(ReleasedMapper::PurpleHair);
//! // Explicit settings, independent of the environment.
//! let locator = Locator::new().with_folder("/data/weights");
//! let clip_path = locator.path(clip)?;
//! println!("{} {} {}", generator.display(), clip_path.display(), mapper.info().file_name);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Where a file officially comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A file in a Hugging Face model repository.
    HuggingFace {
        /// `org/name`.
        repo: &'static str,
        /// A branch, tag or commit; `None` is `main`.
        revision: Option<&'static str>,
        /// The file's path inside the repository.
        path: &'static str,
    },
    /// A download URL (OpenAI's CDN, a Google Drive link, a GitHub file).
    Url(&'static str),
    /// Not released: produced locally by the command described.
    Generated(&'static str),
    /// Shipped inside this crate's package.
    Shipped,
}

impl Source {
    /// The URL to fetch the file by hand, or the instructions to produce it.
    pub fn url(&self) -> String {
        match self {
            Source::HuggingFace {
                repo,
                revision,
                path,
            } => format!(
                "https://huggingface.co/{repo}/resolve/{}/{path}",
                revision.unwrap_or("main")
            ),
            Source::Url(url) => (*url).to_string(),
            Source::Generated(how) => format!("(not released) {how}"),
            Source::Shipped => "(shipped with the crate)".to_string(),
        }
    }
}

/// One checkpoint: what it is, where it comes from, how to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightInfo {
    /// The short name [`Pretrained::from_str`] accepts.
    pub name: &'static str,
    /// The official file name (looked for under this name).
    pub file_name: &'static str,
    /// The size in bytes, where published.
    pub size: Option<u64>,
    /// The sha256 (64 lowercase hex digits), where published.
    pub sha256: Option<&'static str>,
    /// The official source.
    pub source: Source,
    /// Where the source, name and hash were read.
    pub reference: &'static str,
    /// The licence of the weights.
    pub licence: &'static str,
    /// What the file is.
    pub what: &'static str,
}

/// StyleCLIP's 14 released latent mappers (`utils.py`, `mapper/pretrained/<name>.pt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ReleasedMapper {
    Afro,
    Angry,
    Beyonce,
    Bobcut,
    Bowlcut,
    CurlyHair,
    Depp,
    HilaryClinton,
    Mohawk,
    PurpleHair,
    Surprised,
    TaylorSwift,
    Trump,
    Zuckerberg,
}

impl ReleasedMapper {
    /// All 14, in the order of StyleCLIP's `utils.py`.
    pub const ALL: [ReleasedMapper; 14] = [
        ReleasedMapper::Afro,
        ReleasedMapper::Angry,
        ReleasedMapper::Beyonce,
        ReleasedMapper::Bobcut,
        ReleasedMapper::Bowlcut,
        ReleasedMapper::CurlyHair,
        ReleasedMapper::Depp,
        ReleasedMapper::HilaryClinton,
        ReleasedMapper::Mohawk,
        ReleasedMapper::PurpleHair,
        ReleasedMapper::Surprised,
        ReleasedMapper::TaylorSwift,
        ReleasedMapper::Trump,
        ReleasedMapper::Zuckerberg,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The official name (`purple_hair`), also the file stem.
    pub fn name(self) -> &'static str {
        MAPPERS[self.index()].file_name.trim_end_matches(".pt")
    }
}

/// Every checkpoint the crate knows how to find. Short names: see [`Pretrained::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pretrained {
    /// rosinality's conversion of NVIDIA's StyleGAN2 FFHQ 1024 config-f (`ffhq`).
    FfhqConfigF,
    /// OpenAI CLIP ViT-B/32 (`vit-b-32`), the model StyleCLIP uses.
    ClipVitB32,
    /// OpenAI CLIP ViT-B/16 (`vit-b-16`).
    ClipVitB16,
    /// OpenAI CLIP ViT-L/14 (`vit-l-14`).
    ClipVitL14,
    /// A released StyleCLIP mapper (`mapper:<name>`).
    Mapper(ReleasedMapper),
    /// The channel relevance for FFHQ, `fs3.npy` (`fs3-ffhq`).
    Fs3Ffhq,
    /// StyleSpace mean and std for FFHQ, `S_mean_std` (`s-mean-std-ffhq`); generated, not
    /// released.
    SMeanStdFfhq,
    /// The IR-SE50 face-identity network, `model_ir_se50.pth` (`ir-se50`).
    IrSe50,
    /// The e4e FFHQ encoder, `e4e_ffhq_encode.pt` (`e4e-ffhq`).
    E4eFfhq,
    /// The shipped toy world, a folder (`toyfaces`).
    ToyFaces,
}

const OPENAI: &str = "openai/CLIP clip/clip.py `_MODELS` (the URL's second-last segment is the \
                      file's sha256, checked by clip.load)";
const STYLECLIP_UTILS: &str = "orpatashnik/StyleCLIP utils.py `google_drive_paths`";

const FFHQ: WeightInfo = WeightInfo {
    name: "ffhq",
    file_name: "stylegan2-ffhq-config-f.pt",
    size: None,
    sha256: None,
    source: Source::Url("https://drive.google.com/uc?id=1EM87UquaoQmk17Q8d5kYIAHqu0dkYqdT"),
    reference: "orpatashnik/StyleCLIP utils.py and README; the same link in \
                omertov/encoder4editing README (\"taken from rosinality\")",
    licence: "conversion by rosinality/stylegan2-pytorch (MIT); the weights are NVIDIA's \
              StyleGAN2 FFHQ network, CC BY-NC 4.0 (non-commercial)",
    what: "StyleGAN2 FFHQ 1024 px config-f generator, rosinality's PyTorch conversion",
};

const CLIP_B32: WeightInfo = WeightInfo {
    name: "vit-b-32",
    file_name: "ViT-B-32.pt",
    size: None,
    sha256: Some("40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"),
    source: Source::Url(
        "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    ),
    reference: OPENAI,
    licence: "MIT (OpenAI)",
    what: "OpenAI CLIP ViT-B/32 (TorchScript archive)",
};

const CLIP_B16: WeightInfo = WeightInfo {
    name: "vit-b-16",
    file_name: "ViT-B-16.pt",
    size: None,
    sha256: Some("5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f"),
    source: Source::Url(
        "https://openaipublic.azureedge.net/clip/models/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt",
    ),
    reference: OPENAI,
    licence: "MIT (OpenAI)",
    what: "OpenAI CLIP ViT-B/16 (TorchScript archive)",
};

const CLIP_L14: WeightInfo = WeightInfo {
    name: "vit-l-14",
    file_name: "ViT-L-14.pt",
    size: None,
    sha256: Some("b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"),
    source: Source::Url(
        "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
    ),
    reference: OPENAI,
    licence: "MIT (OpenAI)",
    what: "OpenAI CLIP ViT-L/14 (TorchScript archive)",
};

const FS3_FFHQ: WeightInfo = WeightInfo {
    name: "fs3-ffhq",
    file_name: "fs3.npy",
    size: None,
    sha256: None,
    source: Source::Url(
        "https://github.com/orpatashnik/StyleCLIP/raw/main/global_torch/npy/ffhq/fs3.npy",
    ),
    reference: "orpatashnik/StyleCLIP repository file global_torch/npy/ffhq/fs3.npy \
                (same blob as global_directions/npy/ffhq/fs3.npy)",
    licence: "MIT (StyleCLIP)",
    what: "global directions: channel relevance for FFHQ, float32 [6048, 512]",
};

const S_MEAN_STD_FFHQ: WeightInfo = WeightInfo {
    name: "s-mean-std-ffhq",
    file_name: "S_mean_std",
    size: None,
    sha256: None,
    source: Source::Generated(
        "run StyleCLIP's `global_directions/GetCode.py --dataset_name ffhq --code_type \
         s_mean_std` (writes npy/ffhq/S_mean_std, a pickle), or this crate's `precompute` example",
    ),
    reference: "orpatashnik/StyleCLIP README and global_directions/GetCode.py",
    licence: "derived from the FFHQ generator (NVIDIA, CC BY-NC 4.0)",
    what: "global directions: StyleSpace mean and std for FFHQ (Python pickle)",
};

const IR_SE50: WeightInfo = WeightInfo {
    name: "ir-se50",
    file_name: "model_ir_se50.pth",
    size: None,
    sha256: None,
    source: Source::Url(
        "https://drive.google.com/file/d/1KW7bjndL3QG3sxBbZxreGHigcCCpsDgn/view?usp=sharing",
    ),
    reference: "orpatashnik/StyleCLIP README (mapper setup) and omertov/encoder4editing README \
                (\"Pretrained IR-SE50 model taken from TreB1eN\")",
    licence: "MIT (TreB1eN/InsightFace_Pytorch)",
    what: "IR-SE50 face-identity network for the ID loss",
};

const E4E_FFHQ: WeightInfo = WeightInfo {
    name: "e4e-ffhq",
    file_name: "e4e_ffhq_encode.pt",
    size: None,
    sha256: None,
    source: Source::Url(
        "https://drive.google.com/file/d/1cUv_reLE6k3604or78EranS7XzuVMWeO/view?usp=sharing",
    ),
    reference: "omertov/encoder4editing README (\"FFHQ Inversion\"); file name from StyleCLIP's \
                notebooks",
    licence: "MIT (omertov/encoder4editing)",
    what: "e4e encoder for FFHQ (inverts real images to W+)",
};

const TOYFACES: WeightInfo = WeightInfo {
    name: "toyfaces",
    file_name: "toyfaces",
    size: None,
    sha256: None,
    source: Source::Shipped,
    reference: "this crate: weights/toyfaces/ (trained by examples/train_toyfaces.rs)",
    licence: "MIT OR Apache-2.0 (this crate)",
    what: "the toy world: generator, CLIP, mappers and statistics for procedural faces",
};

macro_rules! mapper {
    ($name:literal, $file:literal, $url:literal) => {
        WeightInfo {
            name: concat!("mapper:", $name),
            file_name: $file,
            size: None,
            sha256: None,
            source: Source::Url($url),
            reference: STYLECLIP_UTILS,
            licence: "MIT (StyleCLIP); trained on the FFHQ generator (NVIDIA, CC BY-NC 4.0)",
            what: concat!(
                "StyleCLIP latent mapper `",
                $name,
                "` for the FFHQ generator"
            ),
        }
    };
}

static MAPPERS: [WeightInfo; 14] = [
    mapper!(
        "afro",
        "afro.pt",
        "https://drive.google.com/uc?id=1i5vAqo4z0I-Yon3FNft_YZOq7ClWayQJ"
    ),
    mapper!(
        "angry",
        "angry.pt",
        "https://drive.google.com/uc?id=1g82HEH0jFDrcbCtn3M22gesWKfzWV_ma"
    ),
    mapper!(
        "beyonce",
        "beyonce.pt",
        "https://drive.google.com/uc?id=1KJTc-h02LXs4zqCyo7pzCp0iWeO6T9fz"
    ),
    mapper!(
        "bobcut",
        "bobcut.pt",
        "https://drive.google.com/uc?id=1IvyqjZzKS-vNdq_OhwapAcwrxgLAY8UF"
    ),
    mapper!(
        "bowlcut",
        "bowlcut.pt",
        "https://drive.google.com/uc?id=1xwdxI2YCewSt05dEHgkpmmzoauPjEnnZ"
    ),
    mapper!(
        "curly_hair",
        "curly_hair.pt",
        "https://drive.google.com/uc?id=1xZ7fFB12Ci6rUbUfaHPpo44xUFzpWQ6M"
    ),
    mapper!(
        "depp",
        "depp.pt",
        "https://drive.google.com/uc?id=1FPiJkvFPG_y-bFanxLLP91wUKuy-l3IV"
    ),
    mapper!(
        "hilary_clinton",
        "hilary_clinton.pt",
        "https://drive.google.com/uc?id=1X7U2zj2lt0KFifIsTfOOzVZXqYyCWVll"
    ),
    mapper!(
        "mohawk",
        "mohawk.pt",
        "https://drive.google.com/uc?id=1oMMPc8iQZ7dhyWavZ7VNWLwzf9aX4C09"
    ),
    mapper!(
        "purple_hair",
        "purple_hair.pt",
        "https://drive.google.com/uc?id=14H0CGXWxePrrKIYmZnDD2Ccs65EEww75"
    ),
    mapper!(
        "surprised",
        "surprised.pt",
        "https://drive.google.com/uc?id=1F-mPrhO-UeWrV1QYMZck63R43aLtPChI"
    ),
    mapper!(
        "taylor_swift",
        "taylor_swift.pt",
        "https://drive.google.com/uc?id=10jHuHsKKJxuf3N0vgQbX_SMEQgFHDrZa"
    ),
    mapper!(
        "trump",
        "trump.pt",
        "https://drive.google.com/uc?id=14v8D0uzy4tOyfBU3ca9T0AzTt3v-dNyh"
    ),
    mapper!(
        "zuckerberg",
        "zuckerberg.pt",
        "https://drive.google.com/uc?id=1NjDcMUL8G-pO3i_9N6EPpQNXeMc3Ar1r"
    ),
];

impl Pretrained {
    /// Every entry: the generator, three CLIPs, the 14 mappers, `fs3`, `S_mean_std`, IR-SE50,
    /// e4e and the toy world.
    pub const ALL: [Pretrained; 23] = [
        Pretrained::FfhqConfigF,
        Pretrained::ClipVitB32,
        Pretrained::ClipVitB16,
        Pretrained::ClipVitL14,
        Pretrained::Mapper(ReleasedMapper::Afro),
        Pretrained::Mapper(ReleasedMapper::Angry),
        Pretrained::Mapper(ReleasedMapper::Beyonce),
        Pretrained::Mapper(ReleasedMapper::Bobcut),
        Pretrained::Mapper(ReleasedMapper::Bowlcut),
        Pretrained::Mapper(ReleasedMapper::CurlyHair),
        Pretrained::Mapper(ReleasedMapper::Depp),
        Pretrained::Mapper(ReleasedMapper::HilaryClinton),
        Pretrained::Mapper(ReleasedMapper::Mohawk),
        Pretrained::Mapper(ReleasedMapper::PurpleHair),
        Pretrained::Mapper(ReleasedMapper::Surprised),
        Pretrained::Mapper(ReleasedMapper::TaylorSwift),
        Pretrained::Mapper(ReleasedMapper::Trump),
        Pretrained::Mapper(ReleasedMapper::Zuckerberg),
        Pretrained::Fs3Ffhq,
        Pretrained::SMeanStdFfhq,
        Pretrained::IrSe50,
        Pretrained::E4eFfhq,
        Pretrained::ToyFaces,
    ];

    /// The entry's description.
    pub fn info(&self) -> &'static WeightInfo {
        match self {
            Pretrained::FfhqConfigF => &FFHQ,
            Pretrained::ClipVitB32 => &CLIP_B32,
            Pretrained::ClipVitB16 => &CLIP_B16,
            Pretrained::ClipVitL14 => &CLIP_L14,
            Pretrained::Mapper(m) => &MAPPERS[m.index()],
            Pretrained::Fs3Ffhq => &FS3_FFHQ,
            Pretrained::SMeanStdFfhq => &S_MEAN_STD_FFHQ,
            Pretrained::IrSe50 => &IR_SE50,
            Pretrained::E4eFfhq => &E4E_FFHQ,
            Pretrained::ToyFaces => &TOYFACES,
        }
    }

    /// The canonical short name: `ffhq`, `vit-b-32`, `vit-b-16`, `vit-l-14`,
    /// `mapper:<name>` (e.g. `mapper:purple_hair`), `fs3-ffhq`, `s-mean-std-ffhq`, `ir-se50`,
    /// `e4e-ffhq`, `toyfaces`.
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// The local path through the default [`Locator::from_env`] (`STYLECLIP_WEIGHTS`, then
    /// the Hugging Face cache), verified by sha256 where one is published.
    pub fn path(&self) -> Result<PathBuf> {
        Locator::global().path(*self)
    }

    /// All canonical names, comma-separated (for error messages and `--help`).
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Pretrained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pretrained {
    type Err = Error;

    /// The canonical names of [`Pretrained::name`], case-insensitively, plus aliases: the
    /// official file names (`stylegan2-ffhq-config-f.pt`, `ViT-B-32.pt`, `model_ir_se50.pth`,
    /// …), OpenAI's model names (`ViT-B/32`), `fs3`, `stats`/`S_mean_std`, `e4e`,
    /// `mapper:purple-hair` and a bare mapper name (`purple_hair`).
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        let norm = key.replace('/', "-");
        if let Some(p) = Self::ALL
            .iter()
            .find(|p| p.name() == norm || p.info().file_name.to_ascii_lowercase() == key)
        {
            return Ok(*p);
        }
        let alias = match norm.as_str() {
            "stylegan2-ffhq-config-f" | "ffhq-config-f" | "stylegan2-ffhq" => {
                Some(Pretrained::FfhqConfigF)
            }
            "vit-b-32" | "vitb32" | "clip" => Some(Pretrained::ClipVitB32),
            "vitb16" => Some(Pretrained::ClipVitB16),
            "vitl14" => Some(Pretrained::ClipVitL14),
            "fs3" | "fs3.npy" => Some(Pretrained::Fs3Ffhq),
            "stats" | "s_mean_std" | "s-mean-std" => Some(Pretrained::SMeanStdFfhq),
            "ir_se50" | "irse50" | "arcface" => Some(Pretrained::IrSe50),
            "e4e" | "e4e_ffhq_encode" => Some(Pretrained::E4eFfhq),
            "toy" | "toy-faces" | "toyfaces-world" => Some(Pretrained::ToyFaces),
            _ => None,
        };
        if let Some(p) = alias {
            return Ok(p);
        }
        let stem = norm
            .strip_prefix("mapper:")
            .unwrap_or(&norm)
            .replace('-', "_");
        if let Some(m) = ReleasedMapper::ALL.iter().find(|m| m.name() == stem) {
            return Ok(Pretrained::Mapper(*m));
        }
        Err(Error::InvalidArgument(format!(
            "unknown pretrained weights `{s}`; known names: {}",
            Self::names()
        )))
    }
}

/// A download-progress callback: bytes so far and the total when known.
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Finds and verifies catalogue files with explicit settings (tests never read the
/// environment through it unless built by [`Locator::from_env`]).
#[derive(Clone)]
pub struct Locator {
    folders: Vec<PathBuf>,
    hf_cache: Option<PathBuf>,
    allow_download: bool,
    progress: Option<ProgressFn>,
    verified: Arc<Mutex<HashMap<PathBuf, Stamp>>>,
    hashes: Arc<AtomicUsize>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("folders", &self.folders)
            .field("hf_cache", &self.hf_cache)
            .field("allow_download", &self.allow_download)
            .finish_non_exhaustive()
    }
}

impl Default for Locator {
    fn default() -> Self {
        Self::new()
    }
}

/// The identity of a verified file: its hash, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    sha256: String,
    size: u64,
    mtime_ns: u128,
}

impl Stamp {
    fn of(path: &Path, sha256: &str) -> Option<Self> {
        let meta = fs::metadata(path).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(Stamp {
            sha256: sha256.to_string(),
            size: meta.len(),
            mtime_ns,
        })
    }

    fn to_text(&self) -> String {
        format!(
            "sha256 {}\nsize {}\nmtime_ns {}\n",
            self.sha256, self.size, self.mtime_ns
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let mut sha256 = None;
        let mut size = None;
        let mut mtime_ns = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("sha256", v)) => sha256 = Some(v.to_string()),
                Some(("size", v)) => size = v.parse().ok(),
                Some(("mtime_ns", v)) => mtime_ns = v.parse().ok(),
                _ => {}
            }
        }
        Some(Stamp {
            sha256: sha256?,
            size: size?,
            mtime_ns: mtime_ns?,
        })
    }
}

/// The marker file that records a successful verification of `file`.
pub fn marker_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256-ok");
    file.with_file_name(name)
}

/// The sha256 of a file, as 64 lowercase hex digits.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The Hugging Face hub cache folder from the environment: `HF_HUB_CACHE`, else
/// `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (as `huggingface_hub` resolves it); `None`
/// when no home folder is known.
pub fn hf_cache_from_env() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HF_HUB_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if var("HF_HOME").is_some() {
        return Some(hf_hub::Cache::from_env().path().clone());
    }
    // hf-hub's own default panics without a home folder: look it up here.
    let home = var("HOME").or_else(|| var("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".cache/huggingface/hub"))
}

impl Locator {
    /// No folders, no cache, no download.
    pub fn new() -> Self {
        Locator {
            folders: Vec::new(),
            hf_cache: None,
            allow_download: false,
            progress: None,
            verified: Arc::default(),
            hashes: Arc::default(),
        }
    }

    /// The default: the folder in `STYLECLIP_WEIGHTS` (if set), the Hugging Face cache
    /// ([`hf_cache_from_env`]), and downloads when the feature `pretrained-download` is on and
    /// `STYLECLIP_OFFLINE`/`HF_HUB_OFFLINE` are not set.
    pub fn from_env() -> Self {
        let mut l = Locator::new();
        if let Some(cache) = hf_cache_from_env() {
            l = l.with_hf_cache(cache);
        }
        if let Some(dir) = std::env::var_os("STYLECLIP_WEIGHTS").filter(|v| !v.is_empty()) {
            l = l.with_folder(dir);
        }
        let offline = ["STYLECLIP_OFFLINE", "HF_HUB_OFFLINE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0"));
        l.with_download(cfg!(feature = "pretrained-download") && !offline)
    }

    fn global() -> &'static Locator {
        static GLOBAL: OnceLock<Locator> = OnceLock::new();
        GLOBAL.get_or_init(Locator::from_env)
    }

    /// Add a folder searched (in the order added) for files by their official file name.
    pub fn with_folder(mut self, dir: impl Into<PathBuf>) -> Self {
        self.folders.push(dir.into());
        self
    }

    /// Search this Hugging Face hub cache (the folder holding `models--org--name`).
    pub fn with_hf_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.hf_cache = Some(dir.into());
        self
    }

    /// Allow fetching Hugging Face sources into the cache. Without the feature
    /// `pretrained-download` this has no effect (the error then says to enable it).
    pub fn with_download(mut self, allow: bool) -> Self {
        self.allow_download = allow;
        self
    }

    /// Report download progress (bytes so far, total).
    pub fn with_progress(
        mut self,
        progress: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// The folders searched.
    pub fn folders(&self) -> &[PathBuf] {
        &self.folders
    }

    /// The Hugging Face cache searched.
    pub fn hf_cache(&self) -> Option<&Path> {
        self.hf_cache.as_deref()
    }

    /// How many files this locator has hashed so far (a verified file is hashed once).
    pub fn hash_count(&self) -> usize {
        self.hashes.load(Ordering::Relaxed)
    }

    /// The local path of a catalogue entry.
    pub fn path(&self, which: Pretrained) -> Result<PathBuf> {
        if which == Pretrained::ToyFaces {
            return Ok(crate::toyfaces::ToyFaces::shipped_dir());
        }
        self.resolve(which.info())
    }

    /// Find `info`'s file (user folders, then the cache, then a download where allowed) and
    /// verify it. Any [`WeightInfo`] works, not only the catalogue's.
    pub fn resolve(&self, info: &WeightInfo) -> Result<PathBuf> {
        let mut looked_in = Vec::new();
        for dir in &self.folders {
            let candidate = dir.join(info.file_name);
            looked_in.push(candidate.clone());
            if candidate.is_file() {
                return self.verify(info, candidate, looked_in);
            }
        }
        if let Source::HuggingFace {
            repo,
            revision,
            path,
        } = info.source
            && let Some(cache) = &self.hf_cache
        {
            let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
            let candidate = hf_cache_lookup(cache, repo, revision, path);
            looked_in.push(
                repo_dir
                    .join("snapshots")
                    .join(match revision {
                        Some(r) => r.to_string(),
                        None => "<main>".to_string(),
                    })
                    .join(path),
            );
            if let Some(found) = candidate {
                return self.verify(info, found, looked_in);
            }
            if self.allow_download {
                return self.download(info, cache, looked_in);
            }
        }
        let mut reason = "not found".to_string();
        if matches!(info.source, Source::HuggingFace { .. }) && !self.allow_download {
            reason.push_str(if cfg!(feature = "pretrained-download") {
                " (downloads are off for this locator)"
            } else {
                " (build with the feature `pretrained-download` to fetch it)"
            });
        }
        Err(weights_error(info, looked_in, reason))
    }

    fn verify(&self, info: &WeightInfo, file: PathBuf, looked_in: Vec<PathBuf>) -> Result<PathBuf> {
        if let Some(size) = info.size {
            let found = fs::metadata(&file).map_err(|e| Error::io(&file, e))?.len();
            if found != size {
                return Err(weights_error(
                    info,
                    looked_in,
                    format!(
                        "{} has {found} bytes, expected {size} (incomplete or a different file)",
                        file.display()
                    ),
                ));
            }
        }
        let Some(expected) = info.sha256 else {
            return Ok(file);
        };
        let expected = expected.to_ascii_lowercase();
        let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let now = Stamp::of(&file, &expected);
        if let Some(now) = &now {
            if self
                .verified
                .lock()
                .map(|m| m.get(&key) == Some(now))
                .unwrap_or(false)
            {
                return Ok(file);
            }
            let marker = fs::read_to_string(marker_path(&file)).ok();
            if marker.as_deref().and_then(Stamp::parse).as_ref() == Some(now) {
                if let Ok(mut m) = self.verified.lock() {
                    m.insert(key, now.clone());
                }
                return Ok(file);
            }
        }
        self.hashes.fetch_add(1, Ordering::Relaxed);
        let actual = sha256_file(&file)?;
        if actual != expected {
            return Err(weights_error(
                info,
                looked_in,
                format!(
                    "{} has sha256 {actual}, expected {expected} (corrupt, incomplete or a \
                     different file; delete it and fetch it again)",
                    file.display()
                ),
            ));
        }
        if let Some(now) = Stamp::of(&file, &expected) {
            // Best effort: a read-only folder keeps the result in memory only.
            let _ = fs::write(marker_path(&file), now.to_text());
            if let Ok(mut m) = self.verified.lock() {
                m.insert(key, now);
            }
        }
        Ok(file)
    }

    #[cfg(feature = "pretrained-download")]
    fn download(
        &self,
        info: &WeightInfo,
        cache: &Path,
        looked_in: Vec<PathBuf>,
    ) -> Result<PathBuf> {
        use hf_hub::api::sync::ApiBuilder;
        let Source::HuggingFace {
            repo,
            revision,
            path,
        } = info.source
        else {
            return Err(weights_error(
                info,
                looked_in,
                "not a Hugging Face source".into(),
            ));
        };
        let api = ApiBuilder::from_cache(hf_hub::Cache::new(cache.to_path_buf()))
            .with_progress(false)
            .build()
            .map_err(|e| weights_error(info, looked_in.clone(), format!("download setup: {e}")))?;
        let repo = hf_hub::Repo::with_revision(
            repo.to_string(),
            hf_hub::RepoType::Model,
            revision.unwrap_or("main").to_string(),
        );
        let progress = Progress {
            callback: self.progress.clone(),
            done: 0,
            total: None,
        };
        let file = api
            .repo(repo)
            .download_with_progress(path, progress)
            .map_err(|e| weights_error(info, looked_in.clone(), format!("download failed: {e}")))?;
        self.verify(info, file, looked_in)
    }

    #[cfg(not(feature = "pretrained-download"))]
    fn download(
        &self,
        info: &WeightInfo,
        _cache: &Path,
        looked_in: Vec<PathBuf>,
    ) -> Result<PathBuf> {
        Err(weights_error(
            info,
            looked_in,
            "not found (build with the feature `pretrained-download` to fetch it)".into(),
        ))
    }
}

#[cfg(feature = "pretrained-download")]
struct Progress {
    callback: Option<ProgressFn>,
    done: u64,
    total: Option<u64>,
}

#[cfg(feature = "pretrained-download")]
impl hf_hub::api::Progress for Progress {
    fn init(&mut self, size: usize, _filename: &str) {
        self.total = Some(size as u64);
        if let Some(cb) = &self.callback {
            cb(0, self.total);
        }
    }
    fn update(&mut self, size: usize) {
        self.done += size as u64;
        if let Some(cb) = &self.callback {
            cb(self.done, self.total);
        }
    }
    fn finish(&mut self) {
        if let Some(cb) = &self.callback {
            cb(self.total.unwrap_or(self.done), self.total);
        }
    }
}

/// `snapshots/<rev>/<path>` in the Hugging Face cache: the revision's commit from
/// `refs/<rev>` (through `hf_hub::Cache`), or the snapshot folder itself when `rev` is a commit.
fn hf_cache_lookup(
    cache: &Path,
    repo: &str,
    revision: Option<&str>,
    path: &str,
) -> Option<PathBuf> {
    let rev = revision.unwrap_or("main");
    let hf_repo =
        hf_hub::Repo::with_revision(repo.to_string(), hf_hub::RepoType::Model, rev.to_string());
    if let Some(found) = hf_hub::Cache::new(cache.to_path_buf())
        .repo(hf_repo)
        .get(path)
        && found.is_file()
    {
        return Some(found);
    }
    let direct = cache
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots")
        .join(rev)
        .join(path);
    direct.is_file().then_some(direct)
}

fn weights_error(info: &WeightInfo, looked_in: Vec<PathBuf>, reason: String) -> Error {
    Error::Weights {
        name: format!("{} ({})", info.name, info.file_name),
        looked_in,
        url: info.source.url(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_hashes_are_lowercase_hex_and_names_parse() {
        for p in Pretrained::ALL {
            let info = p.info();
            if let Some(h) = info.sha256 {
                assert_eq!(h.len(), 64, "{}", info.name);
                assert!(
                    h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "{}",
                    info.name
                );
            }
            assert_eq!(info.name.parse::<Pretrained>().unwrap(), p);
            assert_eq!(
                info.file_name.parse::<Pretrained>().unwrap(),
                p,
                "{}",
                info.file_name
            );
            assert!(!info.licence.is_empty() && !info.reference.is_empty());
        }
        // OpenAI's URLs carry the hash: the recorded hash is the one in the URL.
        for p in [
            Pretrained::ClipVitB32,
            Pretrained::ClipVitB16,
            Pretrained::ClipVitL14,
        ] {
            let Source::Url(url) = p.info().source else {
                panic!("{p}")
            };
            assert!(url.contains(p.info().sha256.unwrap()), "{url}");
            assert!(url.ends_with(p.info().file_name));
        }
        let names: std::collections::HashSet<_> =
            Pretrained::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Pretrained::ALL.len());
    }

    #[test]
    fn mapper_names_and_aliases() {
        assert_eq!(ReleasedMapper::PurpleHair.name(), "purple_hair");
        for alias in ["purple_hair", "mapper:purple-hair", "MAPPER:PURPLE_HAIR"] {
            assert_eq!(
                alias.parse::<Pretrained>().unwrap(),
                Pretrained::Mapper(ReleasedMapper::PurpleHair)
            );
        }
        assert_eq!(
            "ViT-B/32".parse::<Pretrained>().unwrap(),
            Pretrained::ClipVitB32
        );
        assert_eq!(
            "ViT-L/14".parse::<Pretrained>().unwrap(),
            Pretrained::ClipVitL14
        );
        assert_eq!(
            "stats".parse::<Pretrained>().unwrap(),
            Pretrained::SMeanStdFfhq
        );
        let err = "nope".parse::<Pretrained>().unwrap_err().to_string();
        assert!(
            err.contains("mapper:zuckerberg") && err.contains("ffhq"),
            "{err}"
        );
        for (m, p) in ReleasedMapper::ALL.iter().zip(&Pretrained::ALL[4..18]) {
            assert_eq!(Pretrained::Mapper(*m), *p);
        }
    }

    #[test]
    fn stamp_round_trip() {
        let s = Stamp {
            sha256: "ab".repeat(32),
            size: 7,
            mtime_ns: 123,
        };
        assert_eq!(Stamp::parse(&s.to_text()), Some(s));
        assert_eq!(Stamp::parse("sha256 x\n"), None);
    }
}
