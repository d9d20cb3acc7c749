//! Busy-time counters shared by threads: a phase is an `AtomicU64` of nanoseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Adds the time until it is dropped (early returns included) to a counter.
pub struct Timer<'a> {
    into: &'a AtomicU64,
    start: Instant,
}

impl<'a> Timer<'a> {
    pub fn start(into: &'a AtomicU64) -> Timer<'a> {
        Timer {
            into,
            start: Instant::now(),
        }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        let nanos = self.start.elapsed().as_nanos() as u64;
        self.into.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Runs `f`, adding its time to `into`.
pub fn time<T>(into: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let _t = Timer::start(into);
    f()
}

pub fn seconds(counter: &AtomicU64) -> f64 {
    counter.load(Ordering::Relaxed) as f64 / 1e9
}
