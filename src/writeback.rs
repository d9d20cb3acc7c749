//! Gets the disk writing a single-file output while the run is still making it.
//!
//! Why: Linux starts writing dirty pages back on its own only past a share of memory
//! (`vm.dirty_background_ratio`, 10 % by default: 2.4 GB on a 24 GiB machine) or after
//! 30 s, so an `.h5ad` output of a few GB sat in the page cache until the fsync before
//! the output is moved into place, which then waited for all of it: 3.6 s of a 6.6 s
//! dense outer join to `.h5ad`. Asking for writeback as the file grows lets the disk
//! work while later blocks are still being read and assembled. The fsync at the end
//! stays; it only finds less left to do.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the file's size is looked at.
const TICK: Duration = Duration::from_millis(50);

/// How much the file grows between requests. Asking at every tick wrote a many-input
/// output back in many small pieces, which cost up to 0.5 s more system time than
/// waiting for 64 MiB (about 0.2 s of this disk's writing, left for the end at most).
const STEP: u64 = 64 << 20;

/// A thread asking the kernel to start writing `file` back whenever it has grown by
/// [`STEP`] (looked at every [`TICK`]), until dropped. The file may appear after the
/// thread starts.
pub struct Writeback {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Writeback {
    pub fn start(file: PathBuf) -> Writeback {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("adcat-writeback".into())
            .spawn(move || {
                let mut open: Option<File> = None;
                let mut flushed = 0u64;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    if open.is_none() {
                        open = File::open(&file).ok();
                    }
                    if let Some(f) = &open {
                        let size = f.metadata().map_or(0, |m| m.len());
                        if size >= flushed + STEP {
                            start_writeback(f);
                            flushed = size;
                        }
                    }
                }
            })
            // Without the thread the output is still flushed, only all at the end.
            .ok();
        Writeback {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts writeback of the file's dirty pages without waiting for it. Failure only
/// leaves the work to the final fsync, so it is ignored.
#[cfg(target_os = "linux")]
fn start_writeback(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on an open descriptor; it reads and writes no memory of
    // ours.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File) {}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::time::Instant;

    /// Dirty pages of a whole file, from cachestat(2) (Linux 6.5+); `None` where the
    /// kernel lacks it.
    fn dirty_pages(f: &File) -> Option<u64> {
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            nr_cache: u64,
            nr_dirty: u64,
            nr_writeback: u64,
            nr_evicted: u64,
            nr_recently_evicted: u64,
        }
        const SYS_CACHESTAT: libc::c_long = 451;
        let range = Range { off: 0, len: 0 };
        let mut stat = Stat::default();
        // SAFETY: both structs are laid out as the kernel's and outlive the call.
        let rc = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                f.as_raw_fd(),
                &range as *const Range,
                &mut stat as *mut Stat,
                0,
            )
        };
        (rc == 0).then_some(stat.nr_dirty)
    }

    /// A file written after the thread started is written back within seconds, where
    /// the kernel alone would wait 30 s; its contents are untouched.
    #[test]
    fn a_growing_file_is_written_back_while_the_run_goes_on() {
        // Under the project directory: /tmp may be a tmpfs, which has no writeback.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("out.h5ad");
        let writeback = Writeback::start(path.clone());
        std::thread::sleep(TICK * 2); // ticks with no file yet
        let block: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let mut f = File::create(&path).unwrap();
        // Exactly one step: the file reaches it with its last write, so one request
        // covers every page.
        let blocks = (STEP >> 20) as usize;
        for _ in 0..blocks {
            f.write_all(&block).unwrap();
        }
        let Some(dirty) = dirty_pages(&f) else {
            eprintln!("WARNING: no cachestat(2) on this kernel: writeback not observed");
            drop(writeback);
            assert_eq!(std::fs::read(&path).unwrap().len(), blocks << 20);
            return;
        };
        let start = Instant::now();
        let mut left = dirty;
        while left > 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(TICK);
            left = dirty_pages(&f).unwrap();
        }
        drop(writeback);
        assert_eq!(left, 0, "{left} of {dirty} pages still dirty after 10 s");
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len(), blocks << 20);
        assert!(back.chunks(1 << 20).all(|c| c == block.as_slice()));
    }

    #[test]
    fn dropping_it_stops_the_thread_at_once() {
        let start = Instant::now();
        drop(Writeback::start(PathBuf::from("/nonexistent/out.h5ad")));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
