//! The wgpu backend. [`GpuContext`] owns a device, its queue and the compiled
//! pipelines; [`GpuKernels`] runs the kernels on it, cutting every input into tiles
//! that fit the adapter's binding and dispatch limits.
//!
//! 64-bit values travel as (lo, hi) `u32` pairs with explicit carries, so every
//! adapter runs every kernel, with or without `SHADER_INT64`. Where the device has
//! `SHADER_INT64`, indptr offsetting uses native `u64` arithmetic instead
//! (`add_offset_int64.wgsl`); [`GpuKernels::without_int64`] forces the emulation.

mod engine;
mod ops;
mod staging;

#[cfg(test)]
pub(super) use engine::grid as grid_for_tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use super::{DensePiece, DevicePhases, KernelError, Kernels, Remapped, ValueColumn};

#[cfg(target_endian = "big")]
compile_error!("GPU buffers are read and written as little-endian words");

/// Which adapters [`GpuContext::acquire`] may pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// Only real GPUs: a software rasteriser such as lavapipe is slower than the CPU
    /// backend, so it is never worth picking for speed.
    Hardware,
    /// Any adapter, software ones included (tests, checking a machine).
    Any,
}

/// What `adcat devices` shows about one adapter.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub shader_int64: bool,
}

fn instance() -> wgpu::Instance {
    // WGPU_BACKEND and friends still narrow the choice.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn adapters() -> Vec<wgpu::Adapter> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
}

fn device_type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Cpu => "CPU (software)",
        wgpu::DeviceType::Other => "other",
    }
}

/// Every adapter this build can use; empty when none is found (never panics).
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters()
        .iter()
        .map(|a| {
            let info = a.get_info();
            let limits = a.limits();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: device_type_name(info.device_type).into(),
                driver: [info.driver, info.driver_info]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                shader_int64: a.features().contains(wgpu::Features::SHADER_INT64),
            }
        })
        .collect()
}

/// `adcat devices` as a table; says so plainly when there is no adapter.
pub fn adapters_table(adapters: &[AdapterSummary]) -> String {
    if adapters.is_empty() {
        return "No GPU adapter found. adcat's GPU kernels need a Vulkan driver \
                (on Debian, mesa-vulkan-drivers provides a software one).\n"
            .into();
    }
    let mib = |b: u64| format!("{} MiB", b >> 20);
    let mut out = String::new();
    for (i, a) in adapters.iter().enumerate() {
        out += &format!("{i}: {}\n", a.name);
        out += &format!("   backend                          {}\n", a.backend);
        out += &format!("   type                             {}\n", a.device_type);
        if !a.driver.is_empty() {
            out += &format!("   driver                           {}\n", a.driver);
        }
        out += &format!(
            "   max_storage_buffer_binding_size  {}\n",
            mib(a.max_storage_buffer_binding_size)
        );
        out += &format!(
            "   max_buffer_size                  {}\n",
            mib(a.max_buffer_size)
        );
        out += &format!(
            "   workgroups per dimension         {}\n",
            a.max_compute_workgroups_per_dimension
        );
        out += &format!(
            "   SHADER_INT64                     {}\n",
            if a.shader_int64 { "yes" } else { "no" }
        );
    }
    out
}

/// Sizes every dispatch is cut to. The defaults come from the device; tests shrink
/// them to force many tiles and 2-D grids on small inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLimits {
    /// Most bytes bound to one storage binding.
    pub binding_bytes: u64,
    /// Most workgroups along one dispatch dimension.
    pub groups_per_dim: u32,
}

impl TileLimits {
    fn of_device(limits: &wgpu::Limits) -> TileLimits {
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(1 << 31);
        TileLimits {
            binding_bytes: binding & !255,
            groups_per_dim: limits.max_compute_workgroups_per_dimension,
        }
    }
}

/// One kernel's compute pipeline, compiled the first time a kernel call needs it. A run
/// uses a few of the kernels (an inner join of CSR inputs: one or two), and compiling
/// each costs the driver a shader compile, so none is compiled at start-up.
pub(super) struct Lazy {
    shader: fn() -> wgpu::ShaderModuleDescriptor<'static>,
    entry: &'static str,
    compiled: OnceLock<wgpu::ComputePipeline>,
}

impl Lazy {
    fn new(shader: fn() -> wgpu::ShaderModuleDescriptor<'static>, entry: &'static str) -> Lazy {
        Lazy {
            shader,
            entry,
            compiled: OnceLock::new(),
        }
    }

    /// The pipeline, compiled now if it was not yet. Called inside a kernel call's
    /// error scopes, so a shader the device refuses fails that call.
    pub(super) fn get(&self, device: &wgpu::Device) -> &wgpu::ComputePipeline {
        self.compiled.get_or_init(|| {
            let module = device.create_shader_module((self.shader)());
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(self.entry),
                layout: None,
                module: &module,
                entry_point: Some(self.entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })
    }
}

pub(super) struct Pipelines {
    add_offset: Lazy,
    /// Present when the device was opened with `SHADER_INT64`.
    add_offset_int64: Option<Lazy>,
    scan_reduce: Lazy,
    scan_downsweep: Lazy,
    remap_mark: Lazy,
    remap_scatter: Lazy,
    remap_lines: Lazy,
    remap_sort: Lazy,
    transpose_count: Lazy,
    transpose_scatter: Lazy,
    gather: Lazy,
    interleave_count: Lazy,
    interleave_order: Lazy,
    offset_pieces: Lazy,
    tile_dense: Lazy,
}

impl Pipelines {
    fn new(int64: bool) -> Pipelines {
        macro_rules! wgsl {
            ($file:literal, $entry:literal) => {
                Lazy::new(
                    || wgpu::include_wgsl!(concat!("../../../shaders/", $file)),
                    $entry,
                )
            };
        }
        Pipelines {
            add_offset: wgsl!("add_offset.wgsl", "main"),
            add_offset_int64: int64.then(|| wgsl!("add_offset_int64.wgsl", "main")),
            scan_reduce: wgsl!("scan.wgsl", "reduce"),
            scan_downsweep: wgsl!("scan.wgsl", "downsweep"),
            remap_mark: wgsl!("remap_mark.wgsl", "main"),
            remap_scatter: wgsl!("remap_scatter.wgsl", "main"),
            remap_lines: wgsl!("remap_lines.wgsl", "main"),
            remap_sort: wgsl!("remap_sort.wgsl", "main"),
            transpose_count: wgsl!("transpose.wgsl", "count"),
            transpose_scatter: wgsl!("transpose.wgsl", "scatter"),
            gather: wgsl!("gather.wgsl", "main"),
            interleave_count: wgsl!("interleave.wgsl", "count"),
            interleave_order: wgsl!("interleave.wgsl", "order_entries"),
            offset_pieces: wgsl!("offset_pieces.wgsl", "main"),
            tile_dense: wgsl!("tile_dense.wgsl", "main"),
        }
    }
}

/// A device with its queue and pipelines (compiled as kernels need them), created once
/// and shared.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pipelines: Pipelines,
    lost: Arc<Mutex<Option<String>>>,
    /// Kernels run one at a time: error scopes and `poll` are per device.
    busy: Mutex<()>,
    dispatches: AtomicU64,
    pub(crate) clock: PhaseClock,
    uploads: staging::Pool,
    readbacks: staging::Pool,
}

/// Nanoseconds spent in each part of kernel calls on one context.
#[derive(Debug, Default)]
pub(crate) struct PhaseClock {
    pub upload: AtomicU64,
    pub compute: AtomicU64,
    pub readback: AtomicU64,
    pub round_trips: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

impl PhaseClock {
    fn seconds(&self) -> DevicePhases {
        let s = crate::timing::seconds;
        DevicePhases {
            seconds_upload: s(&self.upload),
            seconds_compute: s(&self.compute),
            seconds_readback: s(&self.readback),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            bytes_uploaded: self.bytes_up.load(Ordering::Relaxed),
            bytes_read_back: self.bytes_down.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish()
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl GpuContext {
    /// Wraps a device the caller already has (tests, an embedding application).
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
    ) -> Result<GpuContext, KernelError> {
        let lost = Arc::new(Mutex::new(None));
        let flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *flag.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{reason:?}: {message}"));
        });
        let pipelines = Pipelines::new(device.features().contains(wgpu::Features::SHADER_INT64));
        Ok(GpuContext {
            limits: device.limits(),
            device,
            queue,
            info,
            pipelines,
            lost,
            busy: Mutex::new(()),
            dispatches: AtomicU64::new(0),
            clock: PhaseClock::default(),
            uploads: staging::Pool::uploads(),
            readbacks: staging::Pool::readbacks(),
        })
    }

    /// Bounds the staging buffers kept between kernel calls by a memory budget: each
    /// direction keeps at most a quarter of it (and at most 512 MiB). A block is a
    /// sixteenth of the budget, and a call stages a block or two each way (rounded up
    /// to a power of two), so the buffers of the last few calls stay.
    pub fn bound_staging(&self, max_memory: u64) {
        let keep = (max_memory / 4).min(staging::KEEP_BYTES);
        self.uploads.keep_at_most(keep);
        self.readbacks.keep_at_most(keep);
    }

    /// Opens the best adapter allowed by `pref` (discrete, then integrated, virtual,
    /// other, then software) with that adapter's own limits.
    pub fn acquire(pref: Preference) -> Result<GpuContext, KernelError> {
        let mut found = adapters();
        if found.is_empty() {
            return Err(KernelError::NoAdapter {
                reason:
                    "no Vulkan adapter (is a Vulkan driver such as mesa-vulkan-drivers installed?)"
                        .into(),
            });
        }
        found.sort_by_key(|a| rank(a.get_info().device_type));
        let adapter = found
            .into_iter()
            .find(|a| pref == Preference::Any || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .ok_or_else(|| KernelError::NoAdapter {
                reason: "only software adapters found".into(),
            })?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("adcat"),
            // Native 64-bit integers where the adapter has them; never required.
            required_features: adapter.features() & wgpu::Features::SHADER_INT64,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| KernelError::DeviceRequest {
            adapter: info.name.clone(),
            reason: e.to_string(),
        })?;
        GpuContext::from_device(device, queue, info)
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn tile_limits(&self) -> TileLimits {
        TileLimits::of_device(&self.limits)
    }

    /// Compute dispatches recorded so far on this context, for seeing how finely
    /// inputs were tiled.
    pub fn dispatches(&self) -> u64 {
        self.dispatches.load(Ordering::Relaxed)
    }

    /// What kernel calls on this context have moved and waited for so far.
    pub fn phases(&self) -> DevicePhases {
        self.clock.seconds()
    }
}

/// The kernels on one [`GpuContext`].
#[derive(Clone, Debug)]
pub struct GpuKernels {
    ctx: Arc<GpuContext>,
    tiles: TileLimits,
    int64: bool,
}

impl GpuKernels {
    pub fn new(ctx: Arc<GpuContext>) -> GpuKernels {
        let tiles = ctx.tile_limits();
        let int64 = ctx.pipelines.add_offset_int64.is_some();
        GpuKernels { ctx, tiles, int64 }
    }

    /// Uses the `u32`-pair kernels even where the device has native 64-bit integers,
    /// so both variants can be checked on one adapter.
    pub fn without_int64(mut self) -> GpuKernels {
        self.int64 = false;
        self
    }

    /// Whether 64-bit kernels run on native `u64` (`SHADER_INT64`).
    pub fn native_int64(&self) -> bool {
        self.int64
    }

    /// Cuts dispatches smaller than the device allows (never larger).
    pub fn with_tile_limits(mut self, tiles: TileLimits) -> GpuKernels {
        let device = self.ctx.tile_limits();
        self.tiles = TileLimits {
            binding_bytes: (tiles.binding_bytes.min(device.binding_bytes) & !15).max(64),
            groups_per_dim: tiles.groups_per_dim.clamp(1, device.groups_per_dim),
        };
        self
    }

    pub fn tile_limits(&self) -> TileLimits {
        self.tiles
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }
}

impl Kernels for GpuKernels {
    fn name(&self) -> String {
        let emulated = if self.int64 { "" } else { ", u64 emulated" };
        format!(
            "gpu: {} ({:?}{emulated})",
            self.ctx.info.name, self.ctx.info.backend
        )
    }

    fn device_phases(&self) -> Option<DevicePhases> {
        Some(self.ctx.clock.seconds())
    }

    fn on_device(&self) -> bool {
        true
    }

    fn add_offset(&self, values: &[u64], base: u64) -> Result<Vec<u64>, KernelError> {
        let pipeline = match &self.ctx.pipelines.add_offset_int64 {
            Some(native) if self.int64 => native,
            _ => &self.ctx.pipelines.add_offset,
        };
        self.scoped("add_offset", |e| ops::add_offset(e, pipeline, values, base))
    }

    fn remap(
        &self,
        indptr: &[u64],
        indices: &[u64],
        table: &[u64],
        sort: bool,
    ) -> Result<Remapped, KernelError> {
        self.scoped("remap", |e| {
            ops::remap(e, indptr, indices, table, sort, None)
        })
    }

    fn remap_values(
        &self,
        indptr: &[u64],
        indices: &[u64],
        table: &[u64],
        sort: bool,
        values: &[u8],
        word: usize,
        out: &mut [u8],
    ) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        let carried = ops::Carried {
            src: values,
            word,
            out,
        };
        self.scoped("remap", |e| {
            ops::remap(e, indptr, indices, table, sort, Some(carried))
        })
        .map(|r| (r.indptr, r.indices))
    }

    fn transpose(&self, lines: &[u64], majors: &[u64], n: usize) -> Result<Remapped, KernelError> {
        self.scoped("transpose", |e| ops::transpose(e, lines, majors, n, None))
    }

    fn transpose_values(
        &self,
        lines: &[u64],
        majors: &[u64],
        n: usize,
        values: &[u8],
        word: usize,
        out: &mut [u8],
    ) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        let carried = ops::Carried {
            src: values,
            word,
            out,
        };
        self.scoped("transpose", |e| {
            ops::transpose(e, lines, majors, n, Some(carried))
        })
        .map(|r| (r.indptr, r.indices))
    }

    fn gather_into(
        &self,
        src: &[u8],
        word: usize,
        idx: &[u64],
        out: &mut [u8],
    ) -> Result<(), KernelError> {
        self.scoped("gather", |e| ops::gather(e, src, word, idx, out))
    }

    fn interleave(&self, pieces: &[&[u64]]) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        self.scoped("interleave", |e| ops::interleave(e, pieces))
    }

    fn interleave_values(
        &self,
        pieces: &[&[u64]],
        columns: &mut [ValueColumn<'_>],
    ) -> Result<Vec<u64>, KernelError> {
        self.scoped("interleave", |e| ops::interleave_values(e, pieces, columns))
    }

    fn tile_dense_into(
        &self,
        out: &mut [u8],
        out_rows: usize,
        out_cols: usize,
        word: usize,
        fill: u64,
        pieces: &[DensePiece<'_>],
    ) -> Result<(), KernelError> {
        self.scoped("tile_dense", |e| {
            ops::tile_dense(e, out, out_rows, out_cols, word, fill, pieces)
        })
    }
}
