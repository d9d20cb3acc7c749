//! Allocator settings for block-sized buffers.
//!
//! Blocks are a few to a few dozen MiB. glibc serves such requests with a fresh
//! `mmap` and returns them with `munmap` on free, so every block pays a page fault and
//! a kernel page clear per 4 KiB it touches: a third of the wall time of an outer-join
//! concatenation, measured. Serving them from the heap instead, and keeping freed
//! memory for the next block, removes those faults without raising the peak: a freed
//! block is reused by the next one of the same size.

/// Largest request glibc still serves from the heap when told to (its own ceiling for
/// the threshold on 64-bit systems).
const HEAP_UP_TO: usize = 32 << 20;
/// Free memory at the top of a heap beyond this is returned to the system.
const KEEP_FREE: usize = 64 << 20;

/// Makes freed block buffers reusable without new page faults. Call once at start-up,
/// before other threads allocate.
pub fn reuse_freed_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it takes the allocator's own
    // lock and fails (returning 0) on values it refuses, leaving the defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_UP_TO as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREE as libc::c_int);
    }
}
