//! Where computations run: the CPU (Burn's pure-Rust `flex` backend) or, in a build with the
//! `cuda` feature, the first NVIDIA GPU. Front ends choose with [`DeviceChoice`] (the CLI's
//! `--device`); a build offers the devices it was compiled with ([`DeviceChoice::available`]).

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
    /// The first CUDA GPU (builds with the `cuda` feature).
    Cuda,
}

impl DeviceChoice {
    /// The devices this build can use, the preferred one first.
    pub fn available() -> Vec<DeviceChoice> {
        let mut out = Vec::new();
        if cfg!(feature = "cuda") {
            out.push(DeviceChoice::Cuda);
        }
        out.push(DeviceChoice::Cpu);
        out
    }

    /// The preferred device of this build: a GPU when the build has one, else the CPU.
    pub fn preferred() -> DeviceChoice {
        Self::available()[0]
    }

    /// The Burn device; an error when this build was compiled without it.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda => Err(Error::config(
                "device",
                "device cuda is not in this build: rebuild with `--features cuda` (its build downloads LLVM, see the README), or use device cpu",
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

/// A short human name for `device`, for logs: `cpu (flex)` or `cuda (GPU)`.
pub fn device_name(device: &Device) -> String {
    let debug = format!("{device:?}").to_ascii_lowercase();
    if debug.contains("cuda") {
        "cuda (GPU)".into()
    } else if debug.contains("flex") {
        "cpu (flex)".into()
    } else {
        debug
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

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_device_this_build_lacks_is_an_error_that_says_how_to_get_it() {
        let e = DeviceChoice::Cuda.device().unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
        assert_eq!(DeviceChoice::preferred(), DeviceChoice::Cpu);
    }
}
