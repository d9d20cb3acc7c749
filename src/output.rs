//! Output paths are only ever replaced whole: a run writes into a temporary sibling
//! and renames it onto the output path once everything is flushed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::checksum::{self, Sums};
use crate::error::{Error, Result};
use crate::store::{self, Format, StoreWriter};
use crate::validate::{self, Validated};
use crate::writeback::Writeback;

/// Temporary outputs of this process that exist (or may appear) on disk. The signal
/// handler removes them; `Staged::commit` holds the lock while it moves files, so an
/// interruption never lands between setting the old output aside and putting the
/// new one in place.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether an output of this process has been moved into place.
static COMMITTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    // A poisoned lock still holds a usable list.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(path: &Path) {
    pending().retain(|p| p != path);
}

/// Makes SIGINT and SIGTERM remove this process's temporary outputs and exit with
/// 128 + the signal number (130, 143), leaving any existing output as it was.
/// Call once, before other threads start.
pub fn install_signal_cleanup() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // without a handler the default action still stops the run
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let list = pending();
            for tmp in list.iter() {
                remove_for_good(tmp);
            }
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            // A signal after a commit cannot undo it: say the output is the new one.
            let note = if !list.is_empty() {
                "; temporary output removed"
            } else if COMMITTED.load(std::sync::atomic::Ordering::SeqCst) {
                "; the output was already complete"
            } else {
                ""
            };
            eprintln!("adcat: error: interrupted by {name}{note}");
            // _exit: no atexit handlers (HDF5's would flush files other threads are
            // writing), and the lock stays held so nothing is committed meanwhile.
            unsafe { libc::_exit(128 + sig) };
        }
    });
}

/// Removes `tmp` while other threads may still be writing below it: a file put in
/// its place first makes their attempts to recreate directories there fail.
fn remove_for_good(tmp: &Path) {
    let mut aside = tmp.as_os_str().to_owned();
    aside.push(".dead");
    let aside = PathBuf::from(aside);
    let target = match std::fs::rename(tmp, &aside) {
        Ok(()) => aside,
        Err(_) => tmp.to_path_buf(),
    };
    let _ = std::fs::File::create(tmp);
    let _ = remove_any(&target);
    let _ = remove_any(tmp);
}

const TMP_MARK: &str = ".adcat-tmp-";
const OLD_MARK: &str = ".adcat-old-";

/// A temporary sibling of the output path. Dropping it without [`Staged::commit`]
/// removes whatever was written.
pub struct Staged {
    target: PathBuf,
    tmp: PathBuf,
    overwrite: bool,
    committed: bool,
}

fn io_err(path: &Path, what: &str, err: std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        reason: format!("{what}: {err}"),
    }
}

fn sibling(target: &Path, mark: &str) -> Result<PathBuf> {
    let name = target.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "{}: output path has no file name",
            target.display()
        ))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!("{mark}{}", std::process::id()));
    Ok(target.with_file_name(tmp_name))
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes temporary siblings of `target` left by runs that no longer exist (a run
/// killed with SIGKILL cannot clean up after itself). Siblings of live processes stay.
pub fn remove_stale(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{}", name.to_string_lossy());
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest
            .strip_prefix(TMP_MARK)
            .or_else(|| rest.strip_prefix(OLD_MARK))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = remove_any(&entry.path());
            }
        }
    }
}

/// An output's whole life, shared by `concat` and `convert`: a staged sibling of
/// `target`, the store `write` fills in it, with `validate` (the run's `--max-memory`)
/// the written store read back against the sums of what was written, then the move
/// into place. On any error the sibling is removed and `target` is left as it was.
pub fn write_staged(
    target: &Path,
    overwrite: bool,
    format: Format,
    validate: Option<u64>,
    write: impl FnOnce(&dyn StoreWriter) -> Result<()>,
) -> Result<Option<Validated>> {
    let staged = Staged::new(target, overwrite)?;
    let sums = validate.map(|_| Arc::new(Sums::default()));
    // One file: its writeback can start as it grows. Zarr's many small files are
    // flushed at the end (measured: no gain from writing them back early).
    let writeback = (format == Format::H5ad).then(|| Writeback::start(staged.path().to_path_buf()));
    let written = (|| -> Result<()> {
        let out = store::create(staged.path(), format)?;
        let out = checksum::recording(out, sums.as_ref());
        write(out.as_ref())?;
        Ok(out.finish()?)
    })();
    drop(writeback);
    written.map_err(|e| staged.blame(e))?;
    let validated = match validate {
        Some(max_memory) => Some(validate::validate_staged(
            staged.path(),
            target,
            max_memory,
            sums.as_deref(),
        )?),
        None => None,
    };
    staged.commit()?;
    Ok(validated)
}

/// Whether a run may write `target`: fails when it exists and `overwrite` is off, or
/// its directory does not exist. Plans check it before opening any input, so a run
/// over many inputs fails at once; staging checks it again before writing.
pub fn check_target(target: &Path, overwrite: bool) -> Result<()> {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent {
        if !dir.is_dir() {
            return Err(Error::Output {
                path: target.to_path_buf(),
                reason: format!("output directory {} does not exist", dir.display()),
            });
        }
    }
    if target.symlink_metadata().is_ok() && !overwrite {
        return Err(Error::OutputExists {
            path: target.to_path_buf(),
        });
    }
    Ok(())
}

impl Staged {
    /// Checks the output path ([`check_target`]) and reserves a temporary sibling for
    /// it.
    pub fn new(target: &Path, overwrite: bool) -> Result<Staged> {
        check_target(target, overwrite)?;
        remove_stale(target);
        let tmp = sibling(target, TMP_MARK)?;
        remove_any(&tmp).map_err(|e| io_err(&tmp, "removing an old temporary output", e))?;
        pending().push(tmp.clone());
        Ok(Staged {
            target: target.to_path_buf(),
            tmp,
            overwrite,
            committed: false,
        })
    }

    /// Where the run writes.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Rewrites an error about the temporary sibling (a write that failed, say for a
    /// full disk) to name the output path the user gave.
    pub fn blame(&self, err: Error) -> Error {
        let tmp = self.tmp.display().to_string();
        let text = err.to_string();
        let Some(rest) = text.strip_prefix(&tmp) else {
            return err;
        };
        // "TMP:/node: reason" -> path "OUT:/node", reason; "TMP: reason" -> OUT, reason.
        let (node, reason) = match rest.split_once(": ") {
            Some((node, reason)) => (node, reason),
            None => ("", rest.trim_start_matches(':')),
        };
        let mut path = self.target.clone().into_os_string();
        path.push(node);
        Error::Output {
            path: PathBuf::from(path),
            reason: reason.to_string(),
        }
    }

    /// Moves the finished output into place. An existing output (with `--overwrite`)
    /// is set aside first and removed only after the new one is in place.
    pub fn commit(mut self) -> Result<()> {
        let exists = self.target.symlink_metadata().is_ok();
        if exists && !self.overwrite {
            return Err(Error::OutputExists {
                path: self.target.clone(),
            });
        }
        sync_tree(&self.tmp).map_err(|e| io_err(&self.tmp, "flushing output", e))?;
        // Held until the output is in place: a signal now waits for the commit.
        let mut guard = pending();
        let old = if exists {
            let old = sibling(&self.target, OLD_MARK)?;
            remove_any(&old).map_err(|e| io_err(&old, "removing", e))?;
            std::fs::rename(&self.target, &old)
                .map_err(|e| io_err(&self.target, "setting the old output aside", e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.target);
            }
            return Err(io_err(&self.target, "moving the output into place", e));
        }
        self.committed = true;
        COMMITTED.store(true, std::sync::atomic::Ordering::SeqCst);
        guard.retain(|p| p != &self.tmp);
        if let Some(parent) = self.target.parent() {
            let dir = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        if let Some(old) = old {
            remove_any(&old).map_err(|e| io_err(&old, "removing the replaced output", e))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_any(&self.tmp);
            forget(&self.tmp);
        }
    }
}

/// fsyncs every file below `path` (or the file itself), so a rename publishes data
/// that is on disk.
fn sync_tree(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            sync_tree(&entry?.path())?;
        }
        std::fs::File::open(path)?.sync_all()
    } else {
        std::fs::File::open(path)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.zarr");
        let staged = Staged::new(&target, false).unwrap();
        std::fs::create_dir(staged.path()).unwrap();
        std::fs::write(staged.path().join("x"), b"1").unwrap();
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn existing_output_needs_overwrite_and_survives_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.h5ad");
        std::fs::write(&target, b"old").unwrap();
        assert!(matches!(
            Staged::new(&target, false),
            Err(Error::OutputExists { .. })
        ));
        let staged = Staged::new(&target, true).unwrap();
        std::fs::write(staged.path(), b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn directory_output_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.zarr");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("stale"), b"1").unwrap();
        let staged = Staged::new(&target, true).unwrap();
        std::fs::create_dir(staged.path()).unwrap();
        std::fs::write(staged.path().join("fresh"), b"2").unwrap();
        staged.commit().unwrap();
        assert!(target.join("fresh").exists());
        assert!(!target.join("stale").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no/such/out.zarr");
        let err = Staged::new(&target, false).err().expect("error");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn errors_about_the_temporary_output_name_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.zarr");
        let staged = Staged::new(&target, false).unwrap();
        let err = Error::Store(crate::store::StoreError::backend(
            staged.path(),
            "X",
            "write",
            "No space left on device",
        ));
        let text = staged.blame(err).to_string();
        assert_eq!(
            text,
            format!(
                "{}:/X: write failed: No space left on device",
                target.display()
            )
        );
        let other = Error::Usage("unrelated".into());
        assert_eq!(staged.blame(other).to_string(), "unrelated");
    }

    #[test]
    fn stale_siblings_of_dead_runs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.zarr");
        // PIDs above the kernel's pid_max (4194304) never belong to a live process.
        let stale = dir.path().join(".out.zarr.adcat-tmp-4999999");
        std::fs::create_dir(&stale).unwrap();
        let live = dir
            .path()
            .join(format!(".out.zarr.adcat-tmp-{}", std::process::id()));
        std::fs::create_dir(&live).unwrap();
        remove_stale(&target);
        assert!(!stale.exists());
        assert!(live.exists());
    }
}
