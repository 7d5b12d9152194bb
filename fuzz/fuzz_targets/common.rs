//! Shared by the targets: each input is written to one scratch file per process (the loaders
//! take paths, as users call them) and the loader must return `Ok` or a typed error.

use std::path::PathBuf;

/// `bytes` in this process's scratch file, whose path is returned.
pub fn scratch(bytes: &[u8], ext: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("styleclip-fuzz");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(format!("input-{}.{ext}", std::process::id()));
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
