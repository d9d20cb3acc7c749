//! Staging buffers kept from one kernel call to the next.
//!
//! A host-visible buffer made for each upload or readback costs more than the copy
//! through it: the driver pins fresh pages, and wgpu zeroes a buffer mapped at
//! creation, one thread writing every byte before the caller writes them again. Dense
//! blocks move hundreds of MiB per call, so the buffers are kept and reused instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Uploads and readbacks below this many bytes use a buffer of their own: for them
/// a pooled buffer saves nothing and would round up to `SMALLEST`.
pub(super) const POOLED_FROM: u64 = 256 << 10;

/// Pooled buffers are rounded up to a power of two, at least this, so blocks of
/// slightly different sizes reuse the same buffers.
const SMALLEST: u64 = 1 << 20;

/// Most bytes a pool keeps between calls (host memory the driver has pinned) unless
/// a memory budget lowers it; a buffer returned past this is freed.
pub(super) const KEEP_BYTES: u64 = 512 << 20;

/// Buffers of one usage, kept between calls.
pub(super) struct Pool {
    usage: wgpu::BufferUsages,
    /// Upload buffers are kept mapped, so a call writes into them at once.
    mapped: bool,
    kept: Mutex<Vec<wgpu::Buffer>>,
    keep_bytes: AtomicU64,
}

impl Pool {
    pub fn uploads() -> Pool {
        Pool {
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped: true,
            kept: Mutex::new(Vec::new()),
            keep_bytes: AtomicU64::new(KEEP_BYTES),
        }
    }

    pub fn readbacks() -> Pool {
        Pool {
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped: false,
            kept: Mutex::new(Vec::new()),
            keep_bytes: AtomicU64::new(KEEP_BYTES),
        }
    }

    /// Keeps at most `bytes` from now on, freeing what is kept past it.
    pub fn keep_at_most(&self, bytes: u64) {
        self.keep_bytes.store(bytes, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.sort_unstable_by_key(|b| b.size());
        while held(&kept) > bytes {
            kept.pop();
        }
    }

    /// A buffer of at least `size` bytes: below [`POOLED_FROM`] a new one of its own,
    /// else the smallest kept one that fits, or a new one. Upload buffers come mapped
    /// (new ones mapped at creation, so zeroed).
    pub fn take(&self, device: &wgpu::Device, size: u64, max_buffer: u64) -> wgpu::Buffer {
        if size < POOLED_FROM {
            return self.create(device, size);
        }
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
        self.create(device, if rounded <= max_buffer { rounded } else { size })
    }

    fn create(&self, device: &wgpu::Device, size: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size,
            usage: self.usage,
            mapped_at_creation: self.mapped,
        })
    }

    /// Keeps a buffer that [`Pool::take`] gave for a later call (mapped again first for
    /// uploads, by the caller); one it made for a small size is freed.
    pub fn put(&self, buffer: wgpu::Buffer) {
        if buffer.size() < POOLED_FROM {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if held(&kept) + buffer.size() <= self.keep_bytes.load(Ordering::Relaxed) {
            kept.push(buffer);
        }
    }
}

fn held(kept: &[wgpu::Buffer]) -> u64 {
    kept.iter().map(|b| b.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(pool: &Pool) -> u64 {
        held(&pool.kept.lock().unwrap())
    }

    #[test]
    fn reuses_the_smallest_fit_and_keeps_within_its_limit() {
        let Some(ctx) = crate::kernels::tests::gpu_context() else {
            return;
        };
        let (device, max) = (&ctx.device, ctx.limits.max_buffer_size);
        let pool = Pool::readbacks();
        let small = pool.take(device, 1000, max);
        assert_eq!(small.size(), 1000);
        pool.put(small);
        assert_eq!(held_by(&pool), 0, "small buffers are not kept");

        let a = pool.take(device, 300 << 10, max);
        let b = pool.take(device, 3 << 20, max);
        assert_eq!((a.size(), b.size()), (SMALLEST, 4 << 20));
        pool.put(a);
        pool.put(b);
        assert_eq!(held_by(&pool), 5 << 20);
        let c = pool.take(device, 2 << 20, max);
        assert_eq!(c.size(), 4 << 20, "the smallest kept buffer that fits");
        assert_eq!(held_by(&pool), SMALLEST);
        pool.put(c);

        pool.keep_at_most(2 << 20);
        assert_eq!(held_by(&pool), SMALLEST, "the larger buffer is freed");
        let d = pool.take(device, 3 << 20, max);
        pool.put(d);
        assert_eq!(held_by(&pool), SMALLEST, "past the limit a buffer is freed");
    }
}
