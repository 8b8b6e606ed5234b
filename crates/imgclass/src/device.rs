//! Where computations run: the CPU (Burn's pure-Rust `flex` backend), or, in a build with the
//! `wgpu` feature, a GPU through Vulkan, Metal or DirectX 12, or, with the `cuda` feature, the
//! first NVIDIA GPU. Front ends choose with [`DeviceChoice`] (the CLI's `--device`); a build
//! offers the devices it was compiled with ([`DeviceChoice::available`]) and prefers a real GPU
//! ([`DeviceChoice::preferred`]): a software Vulkan driver (Mesa's lavapipe) runs, but slower
//! than the CPU backend, so it is used only when asked for.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A device to compute on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceChoice {
    /// The CPU, all cores (Burn's `flex` backend).
    Cpu,
    /// The best GPU that Vulkan, Metal or DirectX 12 offers (builds with the `wgpu` feature).
    Wgpu,
    /// The first CUDA GPU (builds with the `cuda` feature).
    Cuda,
}

impl DeviceChoice {
    /// The devices this build was compiled with, the preferred one first.
    pub fn available() -> Vec<DeviceChoice> {
        let mut out = vec![Self::preferred()];
        for choice in [DeviceChoice::Cuda, DeviceChoice::Wgpu, DeviceChoice::Cpu] {
            if choice.compiled() && !out.contains(&choice) {
                out.push(choice);
            }
        }
        out
    }

    /// The preferred device of this build: CUDA when built with it, else a hardware GPU found
    /// through wgpu, else the CPU.
    pub fn preferred() -> DeviceChoice {
        if DeviceChoice::Cuda.compiled() {
            DeviceChoice::Cuda
        } else if wgpu::adapter().is_some_and(|a| a.hardware) {
            DeviceChoice::Wgpu
        } else {
            DeviceChoice::Cpu
        }
    }

    /// Whether this build has the backend of this device.
    fn compiled(self) -> bool {
        match self {
            DeviceChoice::Cpu => true,
            DeviceChoice::Wgpu => cfg!(feature = "wgpu"),
            DeviceChoice::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The Burn device; an error when this build was compiled without it, or (wgpu) when the
    /// machine has no adapter.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Wgpu => wgpu::device(),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda => Err(Error::config(
                "device",
                "cuda is not in this build: rebuild with `--features cuda` (its build downloads LLVM, see the README), or use cpu",
            )),
        }
    }
}

impl Default for DeviceChoice {
    fn default() -> Self {
        Self::preferred()
    }
}

/// The preferred device of this build ([`DeviceChoice::preferred`]).
pub fn default_device() -> Device {
    match DeviceChoice::preferred().device() {
        Ok(device) => device,
        Err(_) => Device::flex(),
    }
}

/// A short human name for `device`, for logs: `cpu (flex)`, `cuda (GPU)`, or
/// `wgpu (NVIDIA GeForce RTX 4070, Vulkan)`.
pub fn device_name(device: &Device) -> String {
    let debug = format!("{device:?}").to_ascii_lowercase();
    if debug.contains("cuda") {
        "cuda (GPU)".into()
    } else if debug.contains("wgpu") {
        match wgpu::adapter() {
            Some(a) => format!("wgpu ({}, {})", a.name, a.api),
            None => "wgpu".into(),
        }
    } else if debug.contains("flex") {
        "cpu (flex)".into()
    } else {
        debug
    }
}

/// What wgpu found on this machine.
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
struct Adapter {
    device: Device,
    /// The adapter's name (`llvmpipe (LLVM 15.0.6, 256 bits)` for lavapipe).
    name: String,
    /// The graphics API: Vulkan, Metal, Dx12, …
    api: String,
    /// A discrete, integrated or virtual GPU, not a software rasterizer on the CPU.
    hardware: bool,
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use std::sync::OnceLock;

    use burn::prelude::Device;
    use burn::tensor::wgpu::wgpu::DeviceType;

    use super::Adapter;
    use crate::error::{Error, Result};

    /// The runtime can be initialised once per process: the outcome is kept.
    static ADAPTER: OnceLock<std::result::Result<Adapter, String>> = OnceLock::new();

    fn init() -> &'static std::result::Result<Adapter, String> {
        ADAPTER.get_or_init(|| {
            let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| e.to_string())?;
            let info = setup.adapter.get_info();
            Ok(Adapter {
                device,
                name: info.name,
                api: format!("{:?}", setup.backend),
                hardware: !matches!(info.device_type, DeviceType::Cpu | DeviceType::Other),
            })
        })
    }

    pub(super) fn adapter() -> Option<&'static Adapter> {
        init().as_ref().ok()
    }

    pub(super) fn device() -> Result<Device> {
        match init() {
            Ok(adapter) => Ok(adapter.device.clone()),
            Err(e) => Err(Error::config(
                "device",
                format!(
                    "wgpu found no adapter ({e}): install the GPU's Vulkan driver (on Debian or Ubuntu without a GPU, `mesa-vulkan-drivers` gives a software one), or use cpu"
                ),
            )),
        }
    }
}

#[cfg(not(feature = "wgpu"))]
mod wgpu {
    use burn::prelude::Device;

    use super::Adapter;
    use crate::error::{Error, Result};

    pub(super) fn adapter() -> Option<&'static Adapter> {
        None
    }

    pub(super) fn device() -> Result<Device> {
        Err(Error::config(
            "device",
            "wgpu is not in this build: rebuild with `--features wgpu` (Vulkan, Metal or DirectX 12; builds from crates.io alone), or use cpu",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_available_and_named_for_logs() {
        assert!(DeviceChoice::available().contains(&DeviceChoice::Cpu));
        assert_eq!(device_name(&DeviceChoice::Cpu.device().unwrap()), "cpu (flex)");
    }

    #[test]
    fn the_preferred_device_comes_first_and_no_device_is_listed_twice() {
        let all = DeviceChoice::available();
        assert_eq!(all[0], DeviceChoice::preferred());
        for (i, d) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(d), "{all:?}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_device_this_build_lacks_is_an_error_that_says_how_to_get_it() {
        let e = DeviceChoice::Cuda.device().unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
        assert!(!DeviceChoice::available().contains(&DeviceChoice::Cuda));
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn a_build_without_wgpu_says_which_feature_adds_it() {
        let e = DeviceChoice::Wgpu.device().unwrap_err().to_string();
        assert!(e.contains("--features wgpu"), "{e}");
        assert_eq!(DeviceChoice::available(), vec![DeviceChoice::Cpu]);
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn a_software_vulkan_driver_is_offered_but_not_preferred() {
        if let Some(a) = wgpu::adapter() {
            assert!(DeviceChoice::available().contains(&DeviceChoice::Wgpu));
            if !cfg!(feature = "cuda") {
                assert_eq!(DeviceChoice::preferred() == DeviceChoice::Wgpu, a.hardware);
            }
            assert!(device_name(&DeviceChoice::Wgpu.device().unwrap()).starts_with("wgpu ("));
        }
    }
}
