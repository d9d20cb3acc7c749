//! Which backend runs the index work of a concatenation.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::{CpuKernels, GpuContext, GpuKernels, Kernels, Preference};

/// `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Gpu,
    Auto,
}

/// Below this much matrix payload, `auto` stays on the CPU: opening a device and
/// compiling its pipelines takes a few hundred milliseconds, more than the whole index
/// work of a small run costs on the CPU.
pub const GPU_MIN_PAYLOAD: u64 = 1 << 30;

/// The chosen backend and why it was chosen.
pub struct Chosen {
    pub kernels: Box<dyn Kernels>,
    pub reason: String,
}

pub fn choose(device: Device, payload_bytes: u64) -> Result<Chosen> {
    match device {
        Device::Cpu => Ok(Chosen {
            kernels: Box::new(CpuKernels),
            reason: "--device cpu".into(),
        }),
        Device::Gpu => {
            // Asked for explicitly, any adapter will do, software ones included.
            let ctx = GpuContext::acquire(Preference::Any)
                .map_err(|e| Error::Device(format!("--device gpu: {e}")))?;
            Ok(Chosen {
                kernels: Box::new(GpuKernels::new(Arc::new(ctx))),
                reason: "--device gpu".into(),
            })
        }
        Device::Auto if payload_bytes < GPU_MIN_PAYLOAD => Ok(Chosen {
            kernels: Box::new(CpuKernels),
            reason: format!(
                "auto: {payload_bytes} bytes of matrix payload, below the GPU threshold of {GPU_MIN_PAYLOAD}"
            ),
        }),
        Device::Auto => match GpuContext::acquire(Preference::Hardware) {
            Ok(ctx) => Ok(Chosen {
                kernels: Box::new(GpuKernels::new(Arc::new(ctx))),
                reason: "auto: a hardware GPU adapter was found".into(),
            }),
            Err(e) => Ok(Chosen {
                kernels: Box::new(CpuKernels),
                reason: format!("auto: {e}"),
            }),
        },
    }
}
