//! Checksums of array contents, taken while a store is written and compared when
//! `--validate` reads it back, so that what is on disk is known to decode to exactly
//! the values that were meant to be written (not just to something well formed).
//!
//! A sum is order-independent (a wrapping sum of per-element hashes of position and
//! value), so it does not matter in which blocks, threads or chunk order the array was
//! written or is read back.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::store::{ArraySpec, Attrs, Data, Format, Result, StoreWriter};

/// The hash and element count of some elements of one array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    pub hash: u64,
    pub count: u64,
}

impl Sum {
    pub fn add(&mut self, other: Sum) {
        self.hash = self.hash.wrapping_add(other.hash);
        self.count += other.count;
    }
}

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The sum of the block `data` (row-major, `shape`) at `start` of an array of
/// `array_shape`.
pub fn of_block(array_shape: &[u64], start: &[u64], shape: &[u64], data: &Data) -> Sum {
    let at = |words| sum_words(array_shape, start, shape, words);
    // Each value by its bit pattern; strings by a hash of their bytes.
    match data {
        Data::Bool(v) => at(&mut v.iter().map(|&x| u64::from(x))),
        Data::I8(v) => at(&mut v.iter().map(|&x| x as u8 as u64)),
        Data::I16(v) => at(&mut v.iter().map(|&x| x as u16 as u64)),
        Data::I32(v) => at(&mut v.iter().map(|&x| x as u32 as u64)),
        Data::I64(v) => at(&mut v.iter().map(|&x| x as u64)),
        Data::U8(v) => at(&mut v.iter().map(|&x| u64::from(x))),
        Data::U16(v) => at(&mut v.iter().map(|&x| u64::from(x))),
        Data::U32(v) => at(&mut v.iter().map(|&x| u64::from(x))),
        Data::U64(v) => at(&mut v.iter().copied()),
        Data::F32(v) => at(&mut v.iter().map(|&x| u64::from(x.to_bits()))),
        Data::F64(v) => at(&mut v.iter().map(|&x| x.to_bits())),
        Data::Str(v) => at(&mut v.iter().map(|s| fnv1a(s.as_bytes()))),
    }
}

fn sum_words(
    array_shape: &[u64],
    start: &[u64],
    shape: &[u64],
    words: &mut dyn Iterator<Item = u64>,
) -> Sum {
    let Some((&inner, outer)) = shape.split_last() else {
        let w: Vec<u64> = words.collect();
        return Sum {
            hash: w.first().map_or(0, |&w| mix(w)),
            count: w.len() as u64,
        };
    };
    let rows: u64 = outer.iter().product();
    let mut at = vec![0u64; outer.len()];
    let mut hash = 0u64;
    let mut count = 0u64;
    for _ in 0..rows {
        // Flat position of the row's first element in the whole array.
        let mut base = 0u64;
        for (d, &extent) in array_shape.iter().enumerate() {
            let i = if d < outer.len() {
                start[d] + at[d]
            } else {
                start[d]
            };
            base = base * extent + i;
        }
        for (j, w) in words.take(inner as usize).enumerate() {
            hash = hash.wrapping_add(mix(mix(base + j as u64) ^ w));
            count += 1;
        }
        for d in (0..outer.len()).rev() {
            at[d] += 1;
            if at[d] < outer[d] {
                break;
            }
            at[d] = 0;
        }
    }
    Sum { hash, count }
}

/// Sums of every array written through a [`Recording`] writer, with each array's final
/// shape.
#[derive(Debug, Default)]
pub struct Sums {
    arrays: Mutex<HashMap<String, (Vec<u64>, Sum)>>,
}

impl Sums {
    /// `(node, shape, sum)` of each array whose every element was written once; arrays
    /// partly left to their fill value have no complete sum and are not listed.
    pub fn complete(&self) -> Vec<(String, Vec<u64>, Sum)> {
        let arrays = self.arrays.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = arrays
            .iter()
            .filter(|(_, (shape, sum))| sum.count == shape.iter().product::<u64>())
            .map(|(node, (shape, sum))| (node.clone(), shape.clone(), *sum))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// A writer that passes everything to `inner` and sums what is written.
pub struct Recording {
    inner: Box<dyn StoreWriter>,
    sums: Arc<Sums>,
}

/// `inner`, summing what is written into `sums` if given.
pub fn recording(inner: Box<dyn StoreWriter>, sums: Option<&Arc<Sums>>) -> Box<dyn StoreWriter> {
    match sums {
        Some(sums) => Box::new(Recording {
            inner,
            sums: sums.clone(),
        }),
        None => inner,
    }
}

impl Recording {
    fn arrays(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u64>, Sum)>> {
        self.sums.arrays.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StoreWriter for Recording {
    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn format(&self) -> Format {
        self.inner.format()
    }

    fn create_group(&self, node: &str, attrs: &Attrs) -> Result<()> {
        self.inner.create_group(node, attrs)
    }

    fn create_array(&self, node: &str, spec: &ArraySpec, attrs: &Attrs) -> Result<()> {
        self.inner.create_array(node, spec, attrs)?;
        self.arrays()
            .insert(node.to_string(), (spec.shape.clone(), Sum::default()));
        Ok(())
    }

    fn write(&self, node: &str, start: &[u64], shape: &[u64], data: &Data) -> Result<()> {
        self.inner.write(node, start, shape, data)?;
        let array_shape = self.arrays().get(node).map(|(s, _)| s.clone());
        if let Some(array_shape) = array_shape {
            let sum = of_block(&array_shape, start, shape, data);
            if let Some((_, total)) = self.arrays().get_mut(node) {
                total.add(sum);
            }
        }
        Ok(())
    }

    fn resize(&self, node: &str, shape: &[u64]) -> Result<()> {
        self.inner.resize(node, shape)?;
        if let Some((s, _)) = self.arrays().get_mut(node) {
            // Only 1-D arrays are resized, so positions written so far keep their meaning.
            *s = shape.to_vec();
        }
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_does_not_depend_on_the_blocks() {
        let shape = [3u64, 4];
        let all: Vec<f64> = (0..12).map(f64::from).collect();
        let whole = of_block(&shape, &[0, 0], &shape, &Data::F64(all.clone()));
        // Two column halves, written in the other order.
        let half = |c0: usize| -> Data {
            Data::F64(
                (0..3)
                    .flat_map(|r| all[r * 4 + c0..r * 4 + c0 + 2].to_vec())
                    .collect(),
            )
        };
        let mut parts = of_block(&shape, &[0, 2], &[3, 2], &half(2));
        parts.add(of_block(&shape, &[0, 0], &[3, 2], &half(0)));
        assert_eq!(parts, whole);
        assert_eq!(whole.count, 12);
    }

    #[test]
    fn a_moved_or_changed_value_changes_the_sum() {
        let base = of_block(&[4], &[0], &[4], &Data::I32(vec![1, 2, 3, 4]));
        let swapped = of_block(&[4], &[0], &[4], &Data::I32(vec![2, 1, 3, 4]));
        let changed = of_block(&[4], &[0], &[4], &Data::I32(vec![1, 2, 3, 5]));
        let text = |s: &str| of_block(&[1], &[0], &[1], &Data::Str(vec![s.into()]));
        assert_ne!(base, swapped);
        assert_ne!(base, changed);
        assert_ne!(text("ab"), text("ba"));
        assert_eq!(of_block(&[], &[], &[], &Data::F64(vec![2.5])).count, 1);
    }
}
