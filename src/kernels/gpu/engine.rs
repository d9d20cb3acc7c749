//! Buffers, dispatches and readback shared by the kernels.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use rayon::prelude::*;

use super::staging::POOLED_FROM;
use super::{GpuContext, GpuKernels, Lazy, Pipelines, TileLimits};
use crate::kernels::KernelError;
use crate::timing::Timer;

/// Invocations per workgroup in every shader.
pub(super) const GROUP: u64 = 256;

/// One kernel call on a device: the place to create buffers and record work.
pub(super) struct Engine<'a> {
    pub ctx: &'a GpuContext,
    pub tiles: TileLimits,
    pub kernel: &'static str,
    /// Pooled upload buffers whose copies are submitted but maybe not done; they go
    /// back to the pool once a `finish` has waited for the device.
    staged: RefCell<Vec<wgpu::Buffer>>,
}

impl GpuKernels {
    /// Runs `f` with the device to itself and turns every wgpu error raised meanwhile
    /// (validation, out of memory, a lost device) into a [`KernelError`], so a bad
    /// dispatch never reaches wgpu's default handler, which panics.
    pub(super) fn scoped<T>(
        &self,
        kernel: &'static str,
        f: impl FnOnce(&Engine<'_>) -> Result<T, KernelError>,
    ) -> Result<T, KernelError> {
        let ctx = &*self.ctx;
        let _busy = ctx.busy.lock().unwrap_or_else(|e| e.into_inner());
        let lost = || ctx.lost.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(reason) = lost() {
            return Err(KernelError::DeviceLost { reason });
        }
        let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let engine = Engine {
            ctx,
            tiles: self.tiles,
            kernel,
            staged: RefCell::new(Vec::new()),
        };
        let result = f(&engine);
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        if let Some(reason) = lost() {
            return Err(KernelError::DeviceLost { reason });
        }
        if let Some(err) = errors.into_iter().flatten().next() {
            return Err(KernelError::Gpu {
                kernel,
                reason: err.to_string(),
            });
        }
        result
    }
}

fn padded(bytes: u64) -> u64 {
    bytes.div_ceil(16).max(1) * 16
}

impl Engine<'_> {
    pub fn pipelines(&self) -> &Pipelines {
        &self.ctx.pipelines
    }

    /// Most items of `item_bytes` in one binding that a dispatch of one invocation per
    /// `per_invocation` items can cover.
    pub fn max_items(&self, item_bytes: u64, per_invocation: u64) -> u64 {
        let g = self.tiles.groups_per_dim as u64;
        (self.tiles.binding_bytes / item_bytes).min(g * g * GROUP * per_invocation)
    }

    pub fn too_large(&self, what: &'static str, bytes: u64) -> KernelError {
        KernelError::TooLarge {
            kernel: self.kernel,
            what,
            bytes,
            limit: self.tiles.binding_bytes,
        }
    }

    /// A storage buffer holding `parts` laid end to end, each at the given byte offset.
    pub fn input_at(&self, size: u64, parts: &[(u64, &[u8])]) -> wgpu::Buffer {
        let bytes: usize = parts.iter().map(|(_, b)| b.len()).sum();
        self.ctx
            .clock
            .bytes_up
            .fetch_add(bytes as u64, Ordering::Relaxed);
        crate::timing::time(&self.ctx.clock.upload, || self.upload(size, parts))
    }

    fn upload(&self, size: u64, parts: &[(u64, &[u8])]) -> wgpu::Buffer {
        if size >= POOLED_FROM {
            return self.upload_staged(size, parts);
        }
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.kernel),
            size: padded(size),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: true,
        });
        write_parts(
            buffer
                .slice(..)
                .get_mapped_range_mut()
                .expect("a buffer mapped at creation has a whole mapped range"),
            parts,
        );
        buffer.unmap();
        buffer
    }

    /// [`Engine::upload`] through a pooled staging buffer, copied into a new storage
    /// buffer by a submission of its own (queue order puts it before later work).
    fn upload_staged(&self, size: u64, parts: &[(u64, &[u8])]) -> wgpu::Buffer {
        let ctx = self.ctx;
        let size = padded(size);
        let stage = ctx
            .uploads
            .take(&ctx.device, size, ctx.limits.max_buffer_size);
        {
            let mut view = stage
                .slice(..size)
                .get_mapped_range_mut()
                .expect("pooled upload buffers are kept mapped");
            // A reused buffer holds the last call's bytes: zero what no part covers,
            // as a buffer mapped at creation would be.
            let mut spans: Vec<(usize, usize)> = parts
                .iter()
                .map(|(at, bytes)| (*at as usize, *at as usize + bytes.len()))
                .collect();
            spans.sort_unstable();
            let mut covered = 0;
            for (start, end) in spans.into_iter().chain([(size as usize, size as usize)]) {
                if start > covered {
                    view.slice(covered..start).fill(0);
                }
                covered = covered.max(end);
            }
            write_parts(view, parts);
        }
        stage.unmap();
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.kernel),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.encoder();
        encoder.copy_buffer_to_buffer(&stage, 0, &buffer, 0, size);
        ctx.queue.submit([encoder.finish()]);
        self.staged.borrow_mut().push(stage);
        buffer
    }

    /// Maps the upload buffers of finished copies again and returns them to the pool.
    /// Only called once the device is idle, so the maps complete at the next poll.
    fn recycle_uploads(&self) -> Result<(), KernelError> {
        let staged = std::mem::take(&mut *self.staged.borrow_mut());
        if staged.is_empty() {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel();
        for stage in &staged {
            let tx = tx.clone();
            stage.map_async(wgpu::MapMode::Write, .., move |r| {
                let _ = tx.send(r);
            });
        }
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| self.gpu_error(e))?;
        for _ in 0..staged.len() {
            rx.recv()
                .map_err(|e| self.gpu_error(e))?
                .map_err(|e| self.gpu_error(e))?;
        }
        for stage in staged {
            self.ctx.uploads.put(stage);
        }
        Ok(())
    }

    pub fn input(&self, bytes: &[u8]) -> wgpu::Buffer {
        self.input_at(bytes.len() as u64, &[(0, bytes)])
    }

    /// A zeroed storage buffer that can be read back.
    pub fn output(&self, size: u64) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.kernel),
            size: padded(size),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    pub fn params(&self, words: [u32; 8]) -> wgpu::Buffer {
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.kernel),
            size: 32,
            usage: wgpu::BufferUsages::UNIFORM,
            mapped_at_creation: true,
        });
        buffer
            .slice(..)
            .get_mapped_range_mut()
            .expect("a buffer mapped at creation has a whole mapped range")
            .copy_from_slice(bytemuck::cast_slice(&words));
        buffer.unmap();
        buffer
    }

    pub fn encoder(&self) -> wgpu::CommandEncoder {
        self.ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(self.kernel),
            })
    }

    /// Records `groups` workgroups of `pipeline`, as a 2-D grid past the per-dimension
    /// limit; shaders rebuild the linear index from `num_workgroups`.
    pub fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &Lazy,
        bindings: &[(u32, &wgpu::Buffer)],
        groups: u64,
    ) -> Result<(), KernelError> {
        if groups == 0 {
            return Ok(());
        }
        let limit = self.tiles.groups_per_dim;
        let (x, y) = grid(groups, limit).ok_or_else(|| KernelError::Gpu {
            kernel: self.kernel,
            reason: format!("{groups} workgroups do not fit a {limit} x {limit} grid"),
        })?;
        let pipeline = pipeline.get(&self.ctx.device);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = bindings
            .iter()
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = self
            .ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(self.kernel),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.kernel),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
        self.ctx.dispatches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Workgroups for `n` invocations.
    pub fn groups(n: u64) -> u64 {
        n.div_ceil(GROUP)
    }

    /// Submits `encoder`, waits, and copies each `(buffer, byte offset)` into its
    /// destination (whose length says how many bytes to read).
    pub fn finish(
        &self,
        mut encoder: wgpu::CommandEncoder,
        reads: &mut [(&wgpu::Buffer, u64, &mut [u8])],
    ) -> Result<(), KernelError> {
        let device = &self.ctx.device;
        let mut staging = Vec::with_capacity(reads.len());
        for (buffer, offset, dst) in reads.iter() {
            if dst.is_empty() {
                staging.push(None);
                continue;
            }
            let size = (dst.len() as u64).div_ceil(4) * 4;
            let max = self.ctx.limits.max_buffer_size;
            let stage = self.ctx.readbacks.take(device, size, max);
            encoder.copy_buffer_to_buffer(buffer, *offset, &stage, 0, size);
            staging.push(Some((stage, size)));
        }
        let clock = &self.ctx.clock;
        let wanted: usize = reads.iter().map(|(_, _, dst)| dst.len()).sum();
        clock.bytes_down.fetch_add(wanted as u64, Ordering::Relaxed);
        clock.round_trips.fetch_add(1, Ordering::Relaxed);
        let computing = Timer::start(&clock.compute);
        self.ctx.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        let mut waiting = 0;
        for (i, stage) in staging.iter().enumerate() {
            if let Some((stage, size)) = stage {
                let tx = tx.clone();
                stage.map_async(wgpu::MapMode::Read, ..*size, move |r| {
                    let _ = tx.send((i, r));
                });
                waiting += 1;
            }
        }
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| self.gpu_error(e))?;
        drop(computing);
        let _readback = Timer::start(&clock.readback);
        for _ in 0..waiting {
            let (i, mapped) = rx.recv().map_err(|e| self.gpu_error(e))?;
            mapped.map_err(|e| self.gpu_error(e))?;
            let (stage, size) = staging[i].as_ref().expect("mapped buffers exist");
            {
                let view = stage
                    .get_mapped_range(..*size)
                    .map_err(|e| self.gpu_error(e))?;
                let dst = &mut reads[i].2;
                let n = dst.len();
                copy_from_mapped(dst, &view[..n]);
            }
            stage.unmap();
        }
        for (stage, _) in staging.into_iter().flatten() {
            self.ctx.readbacks.put(stage);
        }
        self.recycle_uploads()
    }

    fn gpu_error(&self, e: impl std::fmt::Display) -> KernelError {
        KernelError::Gpu {
            kernel: self.kernel,
            reason: e.to_string(),
        }
    }

    /// Exclusive prefix sum of the first `n_in` u32 of `src` into a new buffer of
    /// `count` u32 (entries past `n_in` count as 0), recorded into `encoder`.
    pub fn scan(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        n_in: u64,
        count: u64,
    ) -> Result<wgpu::Buffer, KernelError> {
        const BLOCK: u64 = 1024;
        let blocks = count.div_ceil(BLOCK);
        let params = self.params([n_in as u32, count as u32, 0, 0, 0, 0, 0, 0]);
        let dst = self.output(count * 4);
        let offsets = if blocks <= 1 {
            self.output(4)
        } else {
            let sums = self.output(blocks * 4);
            self.dispatch(
                encoder,
                &self.pipelines().scan_reduce,
                &[(0, &params), (1, src), (2, &sums)],
                blocks,
            )?;
            self.scan(encoder, &sums, blocks, blocks)?
        };
        self.dispatch(
            encoder,
            &self.pipelines().scan_downsweep,
            &[(0, &params), (1, src), (2, &offsets), (3, &dst)],
            blocks,
        )?;
        Ok(dst)
    }
}

/// Bytes a thread copies at once between host memory and a mapped buffer. A block's
/// upload and readback are each one copy of up to hundreds of MiB, which a single thread
/// does at a fraction of the host's memory bandwidth (and the pages of a freshly mapped
/// staging buffer fault in one by one), so large copies are spread over the thread pool.
const COPY_PIECE: usize = 4 << 20;

/// Copies each `(byte offset, bytes)` part into `view` at its offset.
fn write_parts(mut view: wgpu::BufferViewMut, parts: &[(u64, &[u8])]) {
    for (at, bytes) in parts {
        let at = *at as usize;
        copy_to_mapped(view.slice(at..at + bytes.len()), bytes);
    }
}

/// `dst.copy_from_slice(src)` for a mapped (write-only) range, in parallel when large.
fn copy_to_mapped(dst: wgpu::WriteOnly<'_, [u8]>, src: &[u8]) {
    /// A piece of a mapped range, handed to another thread.
    struct Piece<'a>(wgpu::WriteOnly<'a, [u8]>);
    // SAFETY: a `WriteOnly<[u8]>` is exclusive access to plain bytes, as `&mut [u8]` is
    // (which is `Send`); wgpu only implements `Send` for sized `T`. Each piece is a
    // disjoint range, and every piece is written before the view is unmapped.
    unsafe impl Send for Piece<'_> {}
    let mut dst = dst;
    if src.len() <= COPY_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    let mut pieces = Vec::with_capacity(src.len().div_ceil(COPY_PIECE));
    let mut rest = dst;
    for chunk in src.chunks(COPY_PIECE) {
        let (head, tail) = rest.split_at(chunk.len());
        pieces.push((Piece(head), chunk));
        rest = tail;
    }
    pieces
        .into_par_iter()
        .for_each(|(mut piece, chunk)| piece.0.copy_from_slice(chunk));
}

/// `dst.copy_from_slice(src)` from a mapped range, in parallel when large.
fn copy_from_mapped(dst: &mut [u8], src: &[u8]) {
    if src.len() <= COPY_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(COPY_PIECE)
        .zip(src.par_chunks(COPY_PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// A `(x, y)` grid of at least `groups` workgroups, each side at most `limit`.
pub(crate) fn grid(groups: u64, limit: u32) -> Option<(u32, u32)> {
    let limit = limit as u64;
    let (x, y) = if groups <= limit {
        (groups, 1)
    } else {
        (limit, groups.div_ceil(limit))
    };
    (y <= limit).then_some((x as u32, y as u32))
}

pub(super) fn lo(v: u64) -> u32 {
    v as u32
}

pub(super) fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}
