//! A cap on how many `.h5ad` inputs are open at once.
//!
//! An atlas run may read thousands of `.h5ad` files, and each open HDF5 file holds a
//! descriptor. Readers open their file when first used and keep it open, but once the
//! cap is reached another file is closed (the one used most recently, see
//! [`make_room`]), to be reopened when its reader is next used. The cap is 128, or half the soft open-file limit (after
//! [`raise_open_file_limit`](super::raise_open_file_limit) lifted it as far as allowed)
//! where that is lower, leaving the other half to Zarr chunk files and the output.
//! Each open HDF5 file keeps its own metadata cache, about 1 MB: concatenating 1,000
//! tiny `.h5ad` files peaked at 1,060 MB with all of them open and at 58–91 MB with
//! 32–64, in about the same time (reopening is cheap next to the work per file).
//! Closing is safe while a dataset of that file is still in use: HDF5 closes a file
//! opened with the default ("weak") close degree only after its last object closes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use hdf5::{Dataset, File, Group};

/// Files opened through [`LazyFile`] (entries for closed ones are pruned when next
/// scanned). Each holds its own `last_used` tick; the oldest is found by a scan of at
/// most the cap.
static OPEN: Mutex<Vec<Weak<LazyFile>>> = Mutex::new(Vec::new());
static CLOCK: AtomicU64 = AtomicU64::new(0);
/// 0 until first needed, then the cap.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

const MIN_LIMIT: usize = 8;
const MAX_LIMIT: usize = 128;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the cap on open `.h5ad` inputs (at least 1).
pub fn set_open_limit(n: usize) {
    LIMIT.store(n.max(1), Ordering::Relaxed);
}

/// The cap on open `.h5ad` inputs.
pub fn open_limit() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        0 => {
            let n = (soft_file_limit() / 2).clamp(MIN_LIMIT, MAX_LIMIT);
            LIMIT.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// How many files opened through [`LazyFile`] are open now.
pub fn open_count() -> usize {
    let mut open = lock(&OPEN);
    prune(&mut open);
    open.len()
}

fn soft_file_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// A group or dataset of an open file.
#[derive(Clone)]
pub enum Node {
    Group(Group),
    Array(Dataset),
}

/// How many nodes an open file keeps open after a metadata query. A dataframe's walk
/// asks for its own group, then each column, then the group again; opening a node
/// costs more than the queries on it, and each node was opened two or three times.
const RECENT_NODES: usize = 8;

/// An open file and the dataset last read from it.
struct Open {
    file: File,
    /// The nodes metadata was last asked of, newest first. None is `dataset` (see
    /// [`LazyFile::node`]) and none is read through, so they hold no chunk cache.
    recent: Vec<(String, Node)>,
    /// Kept open so that HDF5's chunk cache (1 MiB per dataset) survives between the
    /// reads of one block: block reads pick rows of a chunked dataset one run at a
    /// time, and a dataset opened afresh for each read fetched its whole chunk each
    /// time (3.3 times the input bytes on a dense outer join along var, measured).
    /// Closing the file drops it, so the cap on open files still holds.
    dataset: Option<(String, Dataset)>,
}

/// One reader's file: open, or closed until next needed.
#[derive(Default)]
pub struct LazyFile {
    slot: Mutex<Option<Open>>,
    last_used: AtomicU64,
}

impl LazyFile {
    pub fn new() -> Arc<LazyFile> {
        Arc::new(LazyFile::default())
    }

    /// The open file, opened by `open` if it is closed, after closing others if the cap
    /// is reached.
    pub fn get(self: &Arc<Self>, open: impl FnOnce() -> hdf5::Result<File>) -> hdf5::Result<File> {
        self.with_open(open, |o| Ok(o.file.clone()))
    }

    /// The dataset at `node`, opened by `open_dataset` unless it is the one last read.
    pub fn dataset<E>(
        self: &Arc<Self>,
        node: &str,
        open: impl FnOnce() -> Result<File, E>,
        open_dataset: impl FnOnce(&File) -> Result<Dataset, E>,
    ) -> Result<Dataset, E> {
        self.with_open(open, |o| {
            if let Some((name, ds)) = &o.dataset {
                if name == node {
                    return Ok(ds.clone());
                }
            }
            // A handle data is read through leaves the recent list, so that only the
            // one dataset here holds a chunk cache.
            let recent = o
                .recent
                .iter()
                .position(|(name, n)| name == node && matches!(n, Node::Array(_)));
            let ds = match recent.map(|k| o.recent.remove(k).1) {
                Some(Node::Array(ds)) => ds,
                _ => open_dataset(&o.file)?,
            };
            o.dataset = Some((node.to_string(), ds.clone()));
            Ok(ds)
        })
    }

    /// The node at `node`, one of the last few asked for or else opened by `open_node`
    /// (`None`: there is no such node).
    pub fn node<E>(
        self: &Arc<Self>,
        node: &str,
        open: impl FnOnce() -> Result<File, E>,
        open_node: impl FnOnce(&File) -> Result<Option<Node>, E>,
    ) -> Result<Option<Node>, E> {
        self.with_open(open, |o| {
            // The dataset data is read through is handed out as it is: a second handle
            // kept here would keep its chunk cache alive after `dataset` moves on.
            if let Some((name, ds)) = &o.dataset {
                if name == node {
                    return Ok(Some(Node::Array(ds.clone())));
                }
            }
            if let Some(k) = o.recent.iter().position(|(name, _)| name == node) {
                let entry = o.recent.remove(k);
                let found = entry.1.clone();
                o.recent.insert(0, entry);
                return Ok(Some(found));
            }
            let found = open_node(&o.file)?;
            if let Some(n) = &found {
                o.recent.insert(0, (node.to_string(), n.clone()));
                o.recent.truncate(RECENT_NODES);
            }
            Ok(found)
        })
    }

    /// Runs `f` on the open file, opening it by `open` if it is closed, after closing
    /// others if the cap is reached (see [`make_room`]).
    fn with_open<T, E>(
        self: &Arc<Self>,
        open: impl FnOnce() -> Result<File, E>,
        f: impl FnOnce(&mut Open) -> Result<T, E>,
    ) -> Result<T, E> {
        self.last_used
            .store(CLOCK.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Relaxed);
        {
            let mut slot = lock(&self.slot);
            if let Some(o) = slot.as_mut() {
                return f(o);
            }
        }
        make_room(self);
        let mut slot = lock(&self.slot);
        if slot.is_none() {
            *slot = Some(Open {
                file: open()?,
                recent: Vec::new(),
                dataset: None,
            });
            lock(&OPEN).push(Arc::downgrade(self));
        }
        f(slot.as_mut().expect("opened above"))
    }

    /// Whether the file is open; a slot busy in another thread counts as open.
    fn is_open(&self) -> bool {
        self.slot.try_lock().map_or(true, |s| s.is_some())
    }
}

/// Drops entries of readers that are gone or whose file is closed.
fn prune(open: &mut Vec<Weak<LazyFile>>) {
    open.retain(|w| w.upgrade().is_some_and(|f| f.is_open()));
}

/// Closes the most recently used other files until one more may open. Passes over the
/// inputs in turn (a dataframe column, a block of lines side by side) visit more files
/// than stay open, and under least-recently-used every visit of such a pass would
/// reopen its file; closing the file visited last keeps the rest for the next pass.
/// Slots busy in another thread are skipped rather than waited for, so two readers
/// making room at once never wait on each other.
fn make_room(me: &Arc<LazyFile>) {
    let limit = open_limit();
    let mut open = lock(&OPEN);
    prune(&mut open);
    while open.len() >= limit {
        let mut by_age: Vec<(u64, usize)> = open
            .iter()
            .enumerate()
            .filter_map(|(k, w)| {
                w.upgrade()
                    .map(|f| (f.last_used.load(Ordering::Relaxed), k))
            })
            .collect();
        by_age.sort_unstable_by(|a, b| b.cmp(a));
        let closed = by_age.into_iter().find_map(|(_, k)| {
            let f = open[k].upgrade()?;
            if Arc::ptr_eq(&f, me) {
                return None;
            }
            let mut slot = f.slot.try_lock().ok()?;
            *slot = None;
            Some(k)
        });
        match closed {
            Some(k) => {
                open.swap_remove(k);
            }
            // Every other open file is in use right now: go over the cap for a moment
            // rather than wait.
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dataset_last_read_stays_open_and_another_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.h5");
        {
            let f = File::create(&path).unwrap();
            f.new_dataset::<i32>().shape(4).create("a").unwrap();
            f.new_dataset::<i32>().shape(4).create("b").unwrap();
        }
        let lazy = LazyFile::new();
        let open = || File::open(&path);
        let get = |node: &str| {
            lazy.dataset(node, open, |f: &File| f.dataset(node))
                .unwrap()
                .id()
        };
        let a = get("a");
        assert_eq!(get("a"), a, "the same handle while it is the last read");
        let b = get("b");
        assert_ne!(b, a);
        assert_ne!(get("a"), a, "reopened once another dataset took its place");
        assert!(lazy.dataset("c", open, |f: &File| f.dataset("c")).is_err());
    }
}
