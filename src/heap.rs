//! Allocator settings for block-sized buffers.
//!
//! Blocks are a few to a few dozen MiB. By default glibc serves such requests with a
//! fresh `mmap`, returns them with `munmap` on free, and trims freed heap memory past
//! a small threshold, so every block pays a page fault and a kernel page clear per
//! 4 KiB it touches: a third of the wall time of an outer-join concatenation, measured.
//! Serving blocks from the heap and keeping some freed memory lets the next block
//! reuse those pages. Only pages already touched are kept, so the peak is not raised
//! by more than the slack.

/// Largest request glibc serves from the heap when told to (its ceiling for the
/// threshold on 64-bit systems).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HEAP_UP_TO: libc::c_int = 32 << 20;
/// Freed memory kept at the top of a heap, and the extra asked for when one grows.
/// Less (an eighth of a small `--max-memory`) brought the faults back at small
/// budgets, where blocks are small and frequent; the cost measured was under 6 MB of
/// peak RSS there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const SLACK: libc::c_int = 64 << 20;

/// Heaps (glibc arenas) threads share. Each keeps its own slack, so the default of
/// eight per core multiplied it: with 200 `.h5ad` inputs peak RSS rose from 415 to
/// 590 MB with unlimited arenas and to 495 MB with two, at the same speed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;

/// Makes freed block buffers reusable without new page faults. Call once at start-up.
pub fn reuse_freed_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters under the allocator's own
    // lock; a value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_UP_TO);
        libc::mallopt(libc::M_TRIM_THRESHOLD, SLACK);
        libc::mallopt(libc::M_TOP_PAD, SLACK);
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}
