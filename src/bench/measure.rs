//! Runs one command as a child process and measures its wall time and peak resident
//! memory. The peak is the child's own `VmHWM`, read while it runs: `wait4`'s
//! `ru_maxrss` would do, except that Linux carries the parent's high-water mark
//! across fork and exec, so a large benchmark driver would inflate every figure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one run ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sample {
    pub seconds: f64,
    pub peak_rss_bytes: u64,
    /// `None` when the run succeeded; otherwise the last line it printed, or why it
    /// was stopped.
    pub failure: Option<String>,
    /// Where an adcat run's time went, from its `--report-json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<super::RunPhases>,
    /// What the child wrote to stdout (peers report their own timing there).
    #[serde(skip)]
    pub stdout: String,
}

/// Runs `cmd` with stdout and stderr sent to files in `scratch`, killing it after
/// `timeout`.
pub fn run(mut cmd: Command, scratch: &Path, timeout: Duration) -> std::io::Result<Sample> {
    let out_path = scratch.join("stdout.txt");
    let err_path = scratch.join("stderr.txt");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?);
    // Dirty pages of the previous run must not be flushed during this one.
    sync_disks();
    let start = Instant::now();
    let child = cmd.spawn()?;
    let (status, rss) = wait(child.id() as i32, start, timeout)?;
    let seconds = start.elapsed().as_secs_f64();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let failure = match status {
        Exit::Code(0) => None,
        Exit::Code(code) => Some(format!("exit {code}: {}", last_line(&stderr))),
        Exit::Signal(sig) => Some(format!("killed by signal {sig}: {}", last_line(&stderr))),
        Exit::TimedOut => Some(format!("stopped after {} s", timeout.as_secs())),
    };
    Ok(Sample {
        seconds,
        peak_rss_bytes: rss,
        failure,
        phases: None,
        stdout,
    })
}

fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    line.chars().take(200).collect()
}

enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

fn sync_disks() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

/// The high-water mark of a live process's resident memory, in bytes.
fn hwm(pid: i32) -> Option<u64> {
    crate::heap::status_bytes(Some(pid), "VmHWM")
}

/// Reaps `pid`, polling so the timeout can be enforced and the memory high-water mark
/// followed; returns how it ended and its peak RSS in bytes.
fn wait(pid: i32, start: Instant, timeout: Duration) -> std::io::Result<(Exit, u64)> {
    let mut killed = false;
    let mut peak: Option<u64> = None;
    loop {
        if let Some(h) = hwm(pid) {
            peak = Some(peak.map_or(h, |p| p.max(h)));
        }
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child; status and usage point to live locals.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if done == pid {
            // ru_maxrss (KiB on Linux) only for a child too short-lived to be seen.
            let rss = peak.unwrap_or(usage.ru_maxrss.max(0) as u64 * 1024);
            let exit = if killed {
                Exit::TimedOut
            } else if libc::WIFEXITED(status) {
                Exit::Code(libc::WEXITSTATUS(status))
            } else {
                Exit::Signal(libc::WTERMSIG(status))
            };
            return Ok((exit, rss));
        }
        if !killed && start.elapsed() > timeout {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_exit_status_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut ok = Command::new("sh");
        ok.args([
            "-c",
            "head -c 50000000 /dev/zero | tail -c 1 >/dev/null; echo done",
        ]);
        let s = run(ok, dir.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(s.failure, None);
        assert_eq!(s.stdout.trim(), "done");
        assert!(s.peak_rss_bytes > 0);

        let mut bad = Command::new("sh");
        bad.args(["-c", "echo oops >&2; exit 3"]);
        let s = run(bad, dir.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(s.failure.as_deref(), Some("exit 3: oops"));

        let mut slow = Command::new("sleep");
        slow.arg("30");
        let s = run(slow, dir.path(), Duration::from_millis(200)).unwrap();
        assert_eq!(s.failure.as_deref(), Some("stopped after 0 s"));
        assert!(s.seconds < 10.0);
    }
}
