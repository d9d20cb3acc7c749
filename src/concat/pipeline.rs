//! Overlaps the two halves of a block loop: while one thread reads and assembles
//! block k+1 (decoding input chunks), the caller's thread encodes and writes block k.
//! At most two blocks wait between them, so memory stays a small multiple of a block.

use std::sync::mpsc::sync_channel;

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
        scope.spawn(move || {
            for (a, b) in producer_ranges {
                let item = produce(a, b);
                let failed = item.is_err();
                // A closed channel means the consumer stopped on an error of its own.
                if tx.send(item).is_err() || failed {
                    break;
                }
            }
        });
        for ((a, b), item) in ranges.into_iter().zip(rx) {
            consume(a, b, item?)?;
            crate::heap::release_if_over_ceiling();
        }
        Ok(())
    })
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
    fn ranges_cover_exactly() {
        assert_eq!(ranges(7, 3), vec![(0, 3), (3, 6), (6, 7)]);
        assert!(ranges(0, 3).is_empty());
    }
}
