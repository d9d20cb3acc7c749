//! Which backend runs the index work of a concatenation.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::{CpuKernels, GpuContext, GpuKernels, KernelError, Kernels, Preference};

/// `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Gpu,
    Auto,
}

/// The chosen backend and why it was chosen.
pub struct Chosen {
    pub kernels: Box<dyn Kernels>,
    pub reason: String,
}

/// A backend being made ready on a thread of its own while the run is planned: opening
/// a GPU device (0.2 s on an H200, on top of the driver's start-up) takes as long as
/// planning dozens of inputs, and neither needs the other.
pub enum Opening {
    Cpu,
    Gpu(std::thread::JoinHandle<std::result::Result<GpuContext, KernelError>>),
    Auto,
}

impl Opening {
    /// Starts opening what `device` needs: a thread for a GPU, nothing otherwise.
    pub fn start(device: Device) -> Opening {
        match device {
            Device::Cpu => Opening::Cpu,
            // Asked for explicitly, any adapter will do, software ones included.
            Device::Gpu => {
                Opening::Gpu(std::thread::spawn(|| GpuContext::acquire(Preference::Any)))
            }
            Device::Auto => Opening::Auto,
        }
    }

    /// Waits for the device, if one is being opened, and returns the backend;
    /// `max_memory` bounds what a GPU backend keeps between kernel calls.
    pub fn finish(self, payload_bytes: u64, max_memory: u64) -> Result<Chosen> {
        match self {
            Opening::Cpu => Ok(Chosen {
                kernels: Box::new(CpuKernels),
                reason: "--device cpu".into(),
            }),
            Opening::Gpu(thread) => {
                let opened = thread.join().unwrap_or_else(|_| {
                    Err(KernelError::NoAdapter {
                        reason: "opening the device panicked".into(),
                    })
                });
                let ctx = opened.map_err(|e| Error::Device(format!("--device gpu: {e}")))?;
                ctx.bound_staging(max_memory);
                Ok(Chosen {
                    kernels: Box::new(GpuKernels::new(Arc::new(ctx))),
                    reason: "--device gpu".into(),
                })
            }
            // Measured with `adcat bench` on an NVIDIA H200 against 16 CPU cores, with the
            // three-stage block loop and pooled staging buffers, the GPU backend took 0.98-1.47x
            // the CPU's time end to end on every case up to 3.7 GB of payload, slower on all
            // but one: the index work is a few passes over each byte, so moving blocks to the
            // device and back (and opening it, 0.2 s) costs more than the CPU spends on them.
            // `auto` therefore stays on the CPU; `--device gpu` runs the GPU backend where a
            // machine shows otherwise.
            Opening::Auto => Ok(Chosen {
                kernels: Box::new(CpuKernels),
                reason: format!(
                    "auto: CPU ({payload_bytes} bytes of matrix payload; the GPU backend is only used with --device gpu, as it measured slower than the CPU end to end)"
                ),
            }),
        }
    }
}
