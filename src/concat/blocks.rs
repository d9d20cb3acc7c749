//! Helpers on flat blocks: joining, splitting, and writing a stream of blocks to an
//! array in whole chunks (or shards) so no chunk is ever read back and rewritten.

use crate::error::Result;
use crate::store::{ArraySpec, Data, StoreWriter};

/// Appends `more` to `dst` (same dtype).
pub fn extend(dst: &mut Data, more: Data) {
    macro_rules! ext {
        ($($v:ident),*) => {
            match (dst, more) {
                $((Data::$v(a), Data::$v(b)) => a.extend(b),)*
                (a, b) => panic!("extend: {} with {}", a.dtype(), b.dtype()),
            }
        };
    }
    ext!(Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64, Str)
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

/// Splits off the first `n` elements of `d`, leaving the rest in place.
pub fn take_front(d: &mut Data, n: usize) -> Data {
    crate::with_data!(d, v => {
        let rest = v.split_off(n);
        Data::from(std::mem::replace(v, rest))
    })
}

/// Picks elements by position.
#[allow(clippy::clone_on_copy)] // one body for every element type, strings included
pub fn gather(d: &Data, idx: &[usize]) -> Data {
    crate::with_data!(d, v => Data::from(idx.iter().map(|&i| v[i].clone()).collect::<Vec<_>>()))
}

/// Writes a 1-D array front to back from a stream of blocks of any size.
pub struct Appender<'w> {
    writer: &'w dyn StoreWriter,
    node: String,
    unit: u64,
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
        Appender {
            writer,
            node: node.to_string(),
            unit,
            buffer: Data::with_capacity(spec.dtype, 0),
            written: 0,
            capacity: spec.shape.first().copied().unwrap_or(0),
        }
    }

    pub fn push(&mut self, data: Data) -> Result<()> {
        extend(&mut self.buffer, data);
        let whole = (self.buffer.len() as u64 / self.unit) * self.unit;
        if whole > 0 {
            let block = take_front(&mut self.buffer, whole as usize);
            self.write(block)?;
        }
        Ok(())
    }

    fn write(&mut self, block: Data) -> Result<()> {
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
            .write(&self.node, &[self.written], &[n], &block)?;
        self.written += n;
        Ok(())
    }

    /// Writes what is left; returns the number of elements written in all.
    pub fn finish(mut self) -> Result<u64> {
        let rest = std::mem::replace(&mut self.buffer, Data::Bool(Vec::new()));
        self.write(rest)?;
        Ok(self.written)
    }

    pub fn len(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
