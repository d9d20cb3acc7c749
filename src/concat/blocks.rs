//! Helpers on flat blocks: joining, splitting, and writing a stream of blocks to an
//! array in whole chunks (or shards) so no chunk is ever read back and rewritten.

use crate::error::Result;
use crate::store::{ArraySpec, Data, StoreWriter};

/// Runs `$body` with `$a` and `$b` bound to the vectors inside two [`Data`] of one
/// dtype. Blocks are cast to the output dtype before they meet, so a mismatch is a bug.
macro_rules! with_pair {
    ($what:literal, $dst:expr, $src:expr, $a:ident, $b:ident => $body:expr) => {
        match ($dst, $src) {
            (Data::Bool($a), Data::Bool($b)) => $body,
            (Data::I8($a), Data::I8($b)) => $body,
            (Data::I16($a), Data::I16($b)) => $body,
            (Data::I32($a), Data::I32($b)) => $body,
            (Data::I64($a), Data::I64($b)) => $body,
            (Data::U8($a), Data::U8($b)) => $body,
            (Data::U16($a), Data::U16($b)) => $body,
            (Data::U32($a), Data::U32($b)) => $body,
            (Data::U64($a), Data::U64($b)) => $body,
            (Data::F32($a), Data::F32($b)) => $body,
            (Data::F64($a), Data::F64($b)) => $body,
            (Data::Str($a), Data::Str($b)) => $body,
            (a, b) => panic!("{}: {} with {}", $what, a.dtype(), b.dtype()),
        }
    };
}

/// Appends `more` to `dst` (same dtype).
pub fn extend(dst: &mut Data, more: Data) {
    with_pair!("extend", dst, more, a, b => a.extend(b))
}

/// Joins blocks of one dtype end to end into a block allocated once at its full size
/// (grown piece by piece, the buffers left behind fragment the heap).
pub fn concat(dtype: crate::store::DType, parts: Vec<Data>) -> Data {
    let total = parts.iter().map(Data::len).sum();
    let mut parts = parts.into_iter();
    match parts.len() {
        0 => Data::with_capacity(dtype, 0),
        1 => parts.next().expect("one part"),
        _ => {
            let mut out = Data::with_capacity(dtype, total);
            for part in parts {
                extend(&mut out, part);
            }
            out
        }
    }
}

/// Moves the first `n` elements of `src` to the end of `dst` (same dtype); the rest of
/// `src` shifts down in place, with no new allocation.
pub fn move_front(dst: &mut Data, src: &mut Data, n: usize) {
    with_pair!("move_front", dst, src, a, b => a.extend(b.drain(..n)))
}

/// Moves the last `n` elements of `src` to the end of `dst` (same dtype), truncating
/// `src`.
pub fn move_back(dst: &mut Data, src: &mut Data, n: usize) {
    with_pair!("move_back", dst, src, a, b => {
        let at = b.len() - n;
        a.extend(b.drain(at..))
    })
}

/// Empties `d`, keeping its allocation.
pub fn clear(d: &mut Data) {
    crate::with_data!(d, v => v.clear())
}

/// Picks elements by position.
#[allow(clippy::clone_on_copy)] // one body for every element type, strings included
pub fn gather(d: &Data, idx: &[usize]) -> Data {
    crate::with_data!(d, v => Data::from(idx.iter().map(|&i| v[i].clone()).collect::<Vec<_>>()))
}

/// The elements of `d` whose flag is set, in order.
#[allow(clippy::clone_on_copy)] // one body for every element type, strings included
pub fn compact(d: &Data, keep: &[bool]) -> Data {
    crate::with_data!(d, v => Data::from(
        v.iter().zip(keep).filter(|(_, &k)| k).map(|(x, _)| x.clone()).collect::<Vec<_>>()
    ))
}

/// Writes a 1-D array front to back from a stream of blocks of any size.
pub struct Appender<'w> {
    writer: &'w dyn StoreWriter,
    node: String,
    unit: u64,
    /// The partial unit between pushes. Allocated once at a unit's size and reused:
    /// a buffer that grew and shrank with every block fragmented the heap.
    buffer: Data,
    written: u64,
    capacity: u64,
}

impl<'w> Appender<'w> {
    pub fn new(writer: &'w dyn StoreWriter, node: &str, spec: &ArraySpec) -> Appender<'w> {
        let unit = spec
            .shards
            .as_ref()
            .and_then(|s| s.first().copied())
            .or_else(|| spec.chunks.first().copied())
            .unwrap_or(1)
            .max(1);
        let capacity = spec.shape.first().copied().unwrap_or(0);
        Appender {
            writer,
            node: node.to_string(),
            unit,
            buffer: Data::with_capacity(spec.dtype, unit.min(capacity) as usize),
            written: 0,
            capacity,
        }
    }

    /// Writes every whole unit it can. Blocks are written in place: only the partial
    /// unit held from the previous push, the start of `data` that completes it, and
    /// the tail of `data` past its last whole unit are copied.
    pub fn push(&mut self, mut data: Data) -> Result<()> {
        let unit = self.unit as usize;
        if !self.buffer.is_empty() {
            let need = unit - self.buffer.len();
            let moved = need.min(data.len());
            move_front(&mut self.buffer, &mut data, moved);
            if moved < need {
                return Ok(());
            }
            self.write_buffer()?;
        }
        let tail = data.len() % unit;
        move_back(&mut self.buffer, &mut data, tail);
        self.write(&data)
    }

    fn write_buffer(&mut self) -> Result<()> {
        let buffer = std::mem::replace(&mut self.buffer, Data::Bool(Vec::new()));
        let written = self.write(&buffer);
        self.buffer = buffer;
        clear(&mut self.buffer);
        written
    }

    fn write(&mut self, block: &Data) -> Result<()> {
        let n = block.len() as u64;
        if n == 0 {
            return Ok(());
        }
        debug_assert!(
            self.written + n <= self.capacity,
            "appender overflow on {}",
            self.node
        );
        self.writer
            .write(&self.node, &[self.written], &[n], block)?;
        self.written += n;
        Ok(())
    }

    /// Writes what is left; returns the number of elements written in all.
    pub fn finish(mut self) -> Result<u64> {
        self.write_buffer()?;
        Ok(self.written)
    }

    pub fn len(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Attrs, Compression, DType, Format, Result as StoreResult};
    use std::path::Path;
    use std::sync::Mutex;

    /// Keeps every write's start and values.
    #[derive(Default)]
    struct Recorder {
        writes: Mutex<Vec<(u64, Vec<i32>)>>,
    }

    impl StoreWriter for Recorder {
        fn path(&self) -> &Path {
            Path::new("recorder")
        }
        fn format(&self) -> Format {
            Format::ZarrV3
        }
        fn create_group(&self, _: &str, _: &Attrs) -> StoreResult<()> {
            Ok(())
        }
        fn create_array(&self, _: &str, _: &ArraySpec, _: &Attrs) -> StoreResult<()> {
            Ok(())
        }
        fn write(&self, _: &str, start: &[u64], shape: &[u64], data: &Data) -> StoreResult<()> {
            let Data::I32(v) = data else {
                panic!("i32 expected")
            };
            assert_eq!(shape, [v.len() as u64]);
            self.writes.lock().unwrap().push((start[0], v.clone()));
            Ok(())
        }
        fn resize(&self, _: &str, _: &[u64]) -> StoreResult<()> {
            Ok(())
        }
        fn finish(&self) -> StoreResult<()> {
            Ok(())
        }
    }

    #[test]
    fn blocks_of_any_size_are_written_in_whole_units_in_order() {
        for sizes in [
            vec![3, 1, 6, 0, 9, 2],
            vec![4, 8],
            vec![1; 9],
            vec![17],
            vec![],
        ] {
            let total: usize = sizes.iter().sum();
            let spec = ArraySpec {
                shape: vec![total as u64],
                dtype: DType::I32,
                chunks: vec![4],
                shards: None,
                compression: Compression::None,
            };
            let rec = Recorder::default();
            let mut app = Appender::new(&rec, "a", &spec);
            let mut next = 0i32;
            for n in &sizes {
                app.push(Data::I32((next..next + *n as i32).collect()))
                    .unwrap();
                next += *n as i32;
                assert_eq!(app.len(), next as u64);
            }
            assert_eq!(app.finish().unwrap(), total as u64);
            let writes = rec.writes.into_inner().unwrap();
            let mut at = 0u64;
            let mut seen = Vec::new();
            for (i, (start, values)) in writes.iter().enumerate() {
                assert_eq!(*start, at, "writes follow each other, sizes {sizes:?}");
                let last = i + 1 == writes.len();
                assert!(
                    last || values.len() % 4 == 0,
                    "write {i} of {} elements is not whole chunks, sizes {sizes:?}",
                    values.len()
                );
                at += values.len() as u64;
                seen.extend_from_slice(values);
            }
            assert_eq!(
                seen,
                (0..total as i32).collect::<Vec<_>>(),
                "sizes {sizes:?}"
            );
        }
    }
}
