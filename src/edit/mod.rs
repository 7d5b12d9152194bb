//! StyleCLIP's editing methods, one file each, each reading like its equation.
//!
//! - [`optimization`]: method 1, text-driven latent optimisation (W+ or StyleSpace).
//! - [`global_direction`]: method 3, text-driven global directions in StyleSpace.

pub mod global_direction;
pub mod optimization;
