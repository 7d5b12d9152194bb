//! Picking a device by name, for command-line tools and examples.
//!
//! Library code never picks a device itself: every function takes or infers one. This helper
//! maps the names the examples accept to burn devices, for the backends compiled in.

use burn::prelude::*;

use crate::error::{Error, Result};

/// Names accepted by [`device_from_name`], for help texts.
pub const DEVICE_NAMES: &str = "flex (CPU), wgpu, wgpu-cpu, vulkan, metal, cuda[:N]";

/// `flex` | `cpu` → [`Device::flex`]; `wgpu` → best wgpu adapter; `wgpu-cpu` → a CPU adapter
/// (software Vulkan); `vulkan`, `metal`; `cuda` or `cuda:N`.
///
/// A backend whose Cargo feature is off gives [`Error::InvalidArgument`] naming the feature.
pub fn device_from_name(name: &str) -> Result<Device> {
    let missing = |feature: &str| {
        Err(Error::InvalidArgument(format!(
            "device `{name}` needs styleclip's `{feature}` feature (cargo … --features {feature})"
        )))
    };
    let (base, index) = name.split_once(':').unwrap_or((name, "0"));
    #[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
    let index: usize = index
        .parse()
        .map_err(|_| Error::InvalidArgument(format!("bad device index in `{name}`")))?;
    match base {
        #[cfg(feature = "flex")]
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(not(feature = "flex"))]
        "flex" | "cpu" => missing("flex"),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "wgpu")]
        "wgpu-cpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::Cpu)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" | "wgpu-cpu" => missing("wgpu"),
        #[cfg(feature = "vulkan")]
        "vulkan" => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "vulkan"))]
        "vulkan" => missing("vulkan"),
        #[cfg(feature = "metal")]
        "metal" => Ok(Device::metal(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "metal"))]
        "metal" => missing("metal"),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(index)),
        #[cfg(not(feature = "cuda"))]
        "cuda" => missing("cuda"),
        _ => Err(Error::InvalidArgument(format!(
            "unknown device `{name}`; expected one of: {DEVICE_NAMES}"
        ))),
    }
}
