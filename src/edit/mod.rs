//! StyleCLIP's editing methods, one file each, each reading like its equation.
//!
//! - [`optimization`]: method 1, text-driven latent optimisation (W+ or StyleSpace).

pub mod optimization;
