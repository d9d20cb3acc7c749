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

/// Resident memory allowed before freed heap memory is handed back (0: no ceiling).
static CEILING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A memory field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`) in bytes; `None` for this
/// process. Linux only; elsewhere, or if unreadable, `None`.
pub fn status_bytes(pid: Option<i32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Lets resident memory grow by `budget` plus the kept slack over what it is now
/// before [`release_if_over_ceiling`] hands freed memory back.
///
/// Why: blocks of varying sizes fragment glibc's heaps. Freed memory between live
/// buffers stays resident although nothing uses it, and with 200 small inputs at
/// `--max-memory 64MiB` peak RSS reached 600 MB for 40 MB of live buffers. Trimming
/// after every block bounds it but costs a page fault per reused page (2.6x slower
/// there), so trimming waits for the ceiling.
pub fn cap_resident(budget: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Some(now) = status_bytes(None, "VmRSS") {
        let ceiling = now.saturating_add(budget).saturating_add(SLACK as u64);
        CEILING.store(ceiling, std::sync::atomic::Ordering::Relaxed);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = budget;
}

/// Hands freed heap memory back to the system when resident memory is over the
/// ceiling [`cap_resident`] set; returns whether it did. Call between blocks.
pub fn release_if_over_ceiling() -> bool {
    let ceiling = CEILING.load(std::sync::atomic::Ordering::Relaxed);
    if ceiling == 0 || status_bytes(None, "VmRSS").is_none_or(|rss| rss <= ceiling) {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the allocator's locks itself and only releases
    // memory no allocation holds.
    unsafe {
        libc::malloc_trim(0);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_of_this_process_are_read() {
        let rss = status_bytes(None, "VmRSS");
        let hwm = status_bytes(None, "VmHWM");
        if cfg!(target_os = "linux") {
            let (rss, hwm) = (rss.expect("VmRSS"), hwm.expect("VmHWM"));
            assert!(rss > 0 && hwm >= rss, "rss {rss}, hwm {hwm}");
        }
        assert_eq!(status_bytes(None, "VmNoSuchField"), None);
        // A prefix of a field's name is not that field.
        assert_eq!(status_bytes(None, "VmRS"), None);
    }

    #[test]
    fn freed_memory_goes_back_only_over_the_ceiling() {
        // Without a ceiling nothing is released.
        CEILING.store(0, std::sync::atomic::Ordering::Relaxed);
        assert!(!release_if_over_ceiling());
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            CEILING.store(1, std::sync::atomic::Ordering::Relaxed);
            assert!(release_if_over_ceiling(), "1 byte of RSS allowed");
            cap_resident(1 << 40);
            assert!(!release_if_over_ceiling(), "1 TiB more allowed");
            CEILING.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
