//! The crate's one error type.
//!
//! Every fallible public function returns [`Result`]. Errors name what was wrong (the file, the
//! key, both shapes), so a user can fix the input without reading the source.

use std::path::PathBuf;

/// Everything that can go wrong in `styleclip`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path does not exist.
    #[error("file not found: {0}")]
    FileNotFound(PathBuf),

    /// The file exists but could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a checkpoint this crate can read (bad magic, corrupt archive, no tensors).
    #[error("{path} is not a readable checkpoint: {reason}")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// A tensor the network needs is absent from the checkpoint.
    #[error("missing key `{key}` in {source_name}")]
    MissingKey {
        /// The checkpoint key (official naming).
        key: String,
        /// Which file or tensor collection was searched.
        source_name: String,
    },

    /// A tensor has a shape that does not fit the network.
    #[error("wrong shape for `{key}`: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The checkpoint key (official naming).
        key: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        found: Vec<usize>,
    },

    /// A tensor is stored in an element type that cannot become `f32` weights.
    #[error("unsupported dtype {dtype} for `{key}` (expected f32, f16, bf16 or f64)")]
    UnsupportedDtype {
        /// The checkpoint key.
        key: String,
        /// The dtype found.
        dtype: String,
    },

    /// A configuration that no network can have, or a checkpoint whose pieces disagree.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A pretrained-weights file (see `styleclip::pretrained`, feature `pretrained`) is missing
    /// or fails its check.
    #[error(
        "pretrained weights {name}: {reason}; looked in: {}; fetch it by hand from {url}",
        display_paths(looked_in)
    )]
    Weights {
        /// The catalogue name and the file name.
        name: String,
        /// Every path tried, in order.
        looked_in: Vec<PathBuf>,
        /// Where to fetch it by hand (or how to produce it).
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// An image file that cannot be decoded (unknown format, truncated, corrupt).
    #[error("{path} is not a readable image (PNG, JPEG or WebP): {reason}")]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An argument outside its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// `Result` with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nowhere (no folder or cache configured)".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
