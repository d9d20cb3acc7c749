//! Overlaps the stages of a block loop: while one thread reads block k+1 (decoding
//! input chunks), the caller's thread encodes and writes an earlier block, and for
//! concatenation a third thread does block k's kernel work in between. Hand-overs
//! wait for the next stage, so memory stays a small multiple of a block.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::error::Result;

/// Calls `produce` on every range in order on a helper thread and `consume` on each
/// result in the same order on this one. Stops at the first error of either side.
pub fn run<T, P, C>(ranges: Vec<(u64, u64)>, produce: P, mut consume: C) -> Result<()>
where
    T: Send,
    P: Fn(u64, u64) -> Result<T> + Sync,
    C: FnMut(u64, u64, T) -> Result<()>,
{
    if ranges.len() <= 1 {
        for (a, b) in ranges {
            consume(a, b, produce(a, b)?)?;
            crate::heap::release_if_over_ceiling();
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<T>>(1);
        let producer_ranges = ranges.clone();
        let produce = &produce;
        scope.spawn(move || feed(producer_ranges.into_iter().map(|(a, b)| produce(a, b)), tx));
        drain(ranges, rx, consume)
    })
}

/// With `overlap`, three stages on three threads: `read` (decode the inputs' chunks of
/// block k+1), `assemble` (the kernel work on block k) and `consume` (encode and write
/// block k-1, on this thread). Each hand-over waits for the next stage to take the
/// block, so one read block more is alive than with two stages. Without `overlap`,
/// `assemble` follows `read` on the reader thread as in [`run`]. Stops at the first
/// error of any stage.
pub fn run_staged<R, T, P, A, C>(
    ranges: Vec<(u64, u64)>,
    overlap: bool,
    read: P,
    assemble: A,
    consume: C,
) -> Result<()>
where
    R: Send,
    T: Send,
    P: Fn(u64, u64) -> Result<R> + Sync,
    A: Fn(u64, u64, R) -> Result<T> + Sync,
    C: FnMut(u64, u64, T) -> Result<()>,
{
    if !overlap || ranges.len() <= 1 {
        return run(ranges, |a, b| assemble(a, b, read(a, b)?), consume);
    }
    std::thread::scope(|scope| {
        let (read_tx, read_rx) = sync_channel::<Result<R>>(0);
        let (done_tx, done_rx) = sync_channel::<Result<T>>(0);
        let (read, assemble) = (&read, &assemble);
        let read_ranges = ranges.clone();
        let assemble_ranges = ranges.clone();
        scope.spawn(move || feed(read_ranges.into_iter().map(|(a, b)| read(a, b)), read_tx));
        scope.spawn(move || {
            let assembled = assemble_ranges
                .into_iter()
                .zip(read_rx)
                .map(|((a, b), item)| item.and_then(|r| assemble(a, b, r)));
            feed(assembled, done_tx)
        });
        drain(ranges, done_rx, consume)
    })
}

/// Sends `items` until the first error (which is sent too) or until the receiver is
/// gone, which means a later stage stopped on an error of its own.
fn feed<T>(items: impl Iterator<Item = Result<T>>, tx: SyncSender<Result<T>>) {
    for item in items {
        let failed = item.is_err();
        if tx.send(item).is_err() || failed {
            break;
        }
    }
}

fn drain<T>(
    ranges: Vec<(u64, u64)>,
    rx: Receiver<Result<T>>,
    mut consume: impl FnMut(u64, u64, T) -> Result<()>,
) -> Result<()> {
    for ((a, b), item) in ranges.into_iter().zip(rx) {
        consume(a, b, item?)?;
        crate::heap::release_if_over_ceiling();
    }
    Ok(())
}

/// Consecutive ranges of at most `step` covering `0..n`.
pub fn ranges(n: u64, step: u64) -> Vec<(u64, u64)> {
    let step = step.max(1);
    (0..n.div_ceil(step))
        .map(|k| (k * step, ((k + 1) * step).min(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn results_arrive_in_order() {
        let mut seen = Vec::new();
        run(
            ranges(10, 3),
            |a, b| Ok((a..b).collect::<Vec<u64>>()),
            |_, _, v| {
                seen.extend(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_producer_error_stops_the_loop() {
        let mut consumed = 0;
        let r = run(
            ranges(100, 1),
            |a, _| {
                if a == 5 {
                    Err(Error::Usage("bad block".into()))
                } else {
                    Ok(a)
                }
            },
            |_, _, _| {
                consumed += 1;
                Ok(())
            },
        );
        assert!(matches!(r, Err(Error::Usage(m)) if m == "bad block"));
        assert_eq!(consumed, 5);
    }

    #[test]
    fn a_consumer_error_stops_the_producer() {
        let produced = std::sync::atomic::AtomicU64::new(0);
        let r = run(
            ranges(1000, 1),
            |a, _| {
                produced.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(a)
            },
            |a, _, _| {
                if a == 3 {
                    Err(Error::Usage("write failed".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(r.is_err());
        // The producer runs at most a couple of blocks ahead of the failure.
        assert!(produced.load(std::sync::atomic::Ordering::SeqCst) <= 7);
    }

    #[test]
    fn staged_results_arrive_in_order_through_every_stage() {
        for overlap in [true, false] {
            staged_in_order(overlap);
        }
    }

    fn staged_in_order(overlap: bool) {
        let mut seen = Vec::new();
        run_staged(
            ranges(25, 4),
            overlap,
            |a, b| Ok((a..b).collect::<Vec<u64>>()),
            |a, _, v| {
                assert_eq!(v.first(), Some(&a));
                Ok(v.into_iter().map(|x| x * 10).collect::<Vec<_>>())
            },
            |_, _, v| {
                seen.extend(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..25).map(|x| x * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_staged_error_in_any_stage_stops_the_loop() {
        for (failing, overlap) in (0..3).flat_map(|f| [(f, true), (f, false)]) {
            let read = std::sync::atomic::AtomicU64::new(0);
            let mut consumed = 0;
            let fail = |stage: usize, a: u64| {
                if stage == failing && a == 4 {
                    Err(Error::Usage(format!("stage {stage}")))
                } else {
                    Ok(a)
                }
            };
            let r = run_staged(
                ranges(1000, 1),
                overlap,
                |a, _| {
                    read.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    fail(0, a)
                },
                |a, _, _| fail(1, a),
                |a, _, _| {
                    fail(2, a)?;
                    consumed += 1;
                    Ok(())
                },
            );
            assert!(
                matches!(&r, Err(Error::Usage(m)) if *m == format!("stage {failing}")),
                "{r:?}"
            );
            assert_eq!(consumed, 4, "blocks before the failing one are all written");
            // Each stage holds at most one block past the failure.
            assert!(read.load(std::sync::atomic::Ordering::SeqCst) <= 8);
        }
    }

    #[test]
    fn ranges_cover_exactly() {
        assert_eq!(ranges(7, 3), vec![(0, 3), (3, 6), (6, 7)]);
        assert!(ranges(0, 3).is_empty());
    }
}
