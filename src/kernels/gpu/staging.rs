//! Staging buffers kept from one kernel call to the next.
//!
//! A host-visible buffer made for each upload or readback costs more than the copy
//! through it: the driver pins fresh pages, and wgpu zeroes a buffer mapped at
//! creation, one thread writing every byte before the caller writes them again. Dense
//! blocks move hundreds of MiB per call, so the buffers are kept and reused instead.

use std::sync::Mutex;

/// Uploads and readbacks below this many bytes use a buffer of their own: for them
/// a pooled buffer saves nothing and would round up to `SMALLEST`.
pub(super) const POOLED_FROM: u64 = 256 << 10;

/// Pooled buffers are rounded up to a power of two, at least this, so blocks of
/// slightly different sizes reuse the same buffers.
const SMALLEST: u64 = 1 << 20;

/// Most bytes a pool keeps between calls (host memory the driver has pinned); a
/// buffer returned past this is freed.
const KEEP_BYTES: u64 = 512 << 20;

/// Buffers of one usage, kept between calls.
pub(super) struct Pool {
    usage: wgpu::BufferUsages,
    /// Upload buffers are kept mapped, so a call writes into them at once.
    mapped: bool,
    kept: Mutex<Vec<wgpu::Buffer>>,
}

impl Pool {
    pub fn uploads() -> Pool {
        Pool {
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped: true,
            kept: Mutex::new(Vec::new()),
        }
    }

    pub fn readbacks() -> Pool {
        Pool {
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped: false,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// The smallest kept buffer of at least `size` bytes, or a new one. Upload buffers
    /// come mapped (new ones mapped at creation, so zeroed).
    pub fn take(&self, device: &wgpu::Device, size: u64, max_buffer: u64) -> wgpu::Buffer {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let best = kept
            .iter()
            .enumerate()
            .filter(|(_, b)| b.size() >= size)
            .min_by_key(|(_, b)| b.size())
            .map(|(i, _)| i);
        if let Some(i) = best {
            return kept.swap_remove(i);
        }
        drop(kept);
        let rounded = size.next_power_of_two().max(SMALLEST);
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: if rounded <= max_buffer { rounded } else { size },
            usage: self.usage,
            mapped_at_creation: self.mapped,
        })
    }

    /// Keeps `buffer` for a later call (mapped again first for uploads, by the caller).
    pub fn put(&self, buffer: wgpu::Buffer) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let held: u64 = kept.iter().map(|b| b.size()).sum();
        if held + buffer.size() <= KEEP_BYTES {
            kept.push(buffer);
        }
    }
}
