//! What every command receives from `main`: the compute device, chosen once
//! from `--device` (so nothing below `main` picks one itself).

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};
use burn::tensor::{Device, DeviceKind, DeviceType};

/// `--device`: `cpu` (burn's flex backend) or `wgpu` (Vulkan, Metal or DX12;
/// `wgpu:N` picks the N-th adapter wgpu lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Wgpu(Option<usize>),
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu(None)),
            other => match other.strip_prefix("wgpu:").map(str::parse) {
                Some(Ok(index)) => Ok(Self::Wgpu(Some(index))),
                _ => Err(format!(
                    "'{s}' is not a device: expected cpu, wgpu or wgpu:N (N = adapter index)"
                )),
            },
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Wgpu(None) => f.write_str("wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
        }
    }
}

pub struct Context {
    pub device: Device,
    /// The choice as given, e.g. `wgpu:1`.
    pub choice: DeviceChoice,
    /// What actually runs, for logs and `run.json`, e.g. `wgpu (llvmpipe (LLVM 15.0.6, 256 bits))`.
    pub description: String,
}

impl Context {
    pub fn new(choice: DeviceChoice) -> Result<Self> {
        let device = match choice {
            DeviceChoice::Cpu => Device::flex(),
            DeviceChoice::Wgpu(None) => Device::wgpu(DeviceKind::DefaultDevice),
            DeviceChoice::Wgpu(Some(index)) => {
                let adapters: Vec<Device> =
                    Device::enumerate(DeviceType::Wgpu).into_iter().collect();
                match adapters.get(index) {
                    Some(device) => device.clone(),
                    None => bail!(
                        "--device wgpu:{index}: wgpu lists {} adapter(s) on this machine",
                        adapters.len()
                    ),
                }
            }
        };
        let description = match &choice {
            DeviceChoice::Cpu => "cpu (burn flex)".to_string(),
            DeviceChoice::Wgpu(_) => match device.identity() {
                Some(identity) => format!("{choice} ({})", identity.name),
                None => choice.to_string(),
            },
        };
        Ok(Self { device, choice, description })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choices_parse() {
        assert_eq!("cpu".parse::<DeviceChoice>(), Ok(DeviceChoice::Cpu));
        assert_eq!("WGPU".parse::<DeviceChoice>(), Ok(DeviceChoice::Wgpu(None)));
        assert_eq!("wgpu:2".parse::<DeviceChoice>(), Ok(DeviceChoice::Wgpu(Some(2))));
        assert!("cuda".parse::<DeviceChoice>().is_err());
        assert!("wgpu:x".parse::<DeviceChoice>().is_err());
        assert_eq!(DeviceChoice::Wgpu(Some(1)).to_string(), "wgpu:1");
    }
}
