//! Numeric blocks as the raw little-endian words the kernels move, and back.

use std::borrow::Cow;

use crate::error::Error;
use crate::kernels::KernelError;
use crate::store::{written_prefix, DType, Data};

/// The bytes of a numeric block (booleans as one byte each).
pub fn bytes_of(d: &Data) -> Cow<'_, [u8]> {
    match d {
        Data::Bool(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::I8(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::I16(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::I32(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::I64(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::U8(v) => Cow::Borrowed(v),
        Data::U16(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::U32(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::U64(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::F32(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        Data::F64(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        // Matrices are numeric: planning refuses string matrices before this point.
        Data::Str(_) => Cow::Owned(Vec::new()),
    }
}

pub fn typed<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    let mut v = vec![T::zeroed(); bytes.len() / std::mem::size_of::<T>()];
    bytemuck::cast_slice_mut(&mut v).copy_from_slice(bytes);
    v
}

/// A block of `dtype` from its bytes.
pub fn data_of(dtype: DType, bytes: &[u8]) -> Data {
    match dtype {
        DType::Bool => Data::Bool(bytes.iter().map(|&b| b != 0).collect()),
        DType::I8 => Data::I8(typed(bytes)),
        DType::I16 => Data::I16(typed(bytes)),
        DType::I32 => Data::I32(typed(bytes)),
        DType::I64 => Data::I64(typed(bytes)),
        DType::U8 => Data::U8(bytes.to_vec()),
        DType::U16 => Data::U16(typed(bytes)),
        DType::U32 => Data::U32(typed(bytes)),
        DType::U64 => Data::U64(typed(bytes)),
        DType::F32 => Data::F32(typed(bytes)),
        DType::F64 => Data::F64(typed(bytes)),
        DType::Str => Data::Str(Vec::new()),
    }
}

/// A zeroed block of `n` elements of a numeric `dtype`, and its bytes to fill in place;
/// `None` for booleans and strings, whose bytes cannot be written as words.
pub fn zeroed_words(dtype: DType, n: usize) -> Option<Data> {
    Some(match dtype {
        DType::I8 => Data::I8(vec![0; n]),
        DType::I16 => Data::I16(vec![0; n]),
        DType::I32 => Data::I32(vec![0; n]),
        DType::I64 => Data::I64(vec![0; n]),
        DType::U8 => Data::U8(vec![0; n]),
        DType::U16 => Data::U16(vec![0; n]),
        DType::U32 => Data::U32(vec![0; n]),
        DType::U64 => Data::U64(vec![0; n]),
        DType::F32 => Data::F32(vec![0.0; n]),
        DType::F64 => Data::F64(vec![0.0; n]),
        DType::Bool | DType::Str => return None,
    })
}

/// A block of `n` elements of a numeric `dtype` whose bytes `write` sets, in memory not
/// cleared first ([`written_vec`](crate::store::written_vec)); `None`, with `write` not called, for booleans and
/// strings, whose bytes cannot be written as words.
///
/// # Safety
/// As [`written_vec`](crate::store::written_vec): `write` must not read the slice and must set every byte of it
/// before it returns `Ok`.
pub unsafe fn written_words<E>(
    dtype: DType,
    n: usize,
    write: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Option<Result<Data, E>> {
    // SAFETY: `write` sets all `n` elements, which is what it reports.
    unsafe { written_words_prefix(dtype, n, |bytes| write(bytes).map(|()| n)) }
}

/// [`written_words`] for a writer that sets only the first elements and returns how
/// many ([`written_prefix`]).
///
/// # Safety
/// As [`written_prefix`]: `write` must not read the slice, and on `Ok(k)` must have set
/// every byte of the first `k` elements, with `k <= n`.
pub unsafe fn written_words_prefix<E>(
    dtype: DType,
    n: usize,
    write: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Option<Result<Data, E>> {
    // SAFETY (every arm): the caller's promise about `write` is passed on unchanged.
    unsafe {
        Some(match dtype {
            DType::I8 => written_prefix(n, write).map(Data::I8),
            DType::I16 => written_prefix(n, write).map(Data::I16),
            DType::I32 => written_prefix(n, write).map(Data::I32),
            DType::I64 => written_prefix(n, write).map(Data::I64),
            DType::U8 => written_prefix(n, write).map(Data::U8),
            DType::U16 => written_prefix(n, write).map(Data::U16),
            DType::U32 => written_prefix(n, write).map(Data::U32),
            DType::U64 => written_prefix(n, write).map(Data::U64),
            DType::F32 => written_prefix(n, write).map(Data::F32),
            DType::F64 => written_prefix(n, write).map(Data::F64),
            DType::Bool | DType::Str => return None,
        })
    }
}

/// The bytes of a block made by [`zeroed_words`], to be written in place.
pub fn words_mut(d: &mut Data) -> Option<&mut [u8]> {
    Some(match d {
        Data::I8(v) => bytemuck::cast_slice_mut(v),
        Data::I16(v) => bytemuck::cast_slice_mut(v),
        Data::I32(v) => bytemuck::cast_slice_mut(v),
        Data::I64(v) => bytemuck::cast_slice_mut(v),
        Data::U8(v) => v,
        Data::U16(v) => bytemuck::cast_slice_mut(v),
        Data::U32(v) => bytemuck::cast_slice_mut(v),
        Data::U64(v) => bytemuck::cast_slice_mut(v),
        Data::F32(v) => bytemuck::cast_slice_mut(v),
        Data::F64(v) => bytemuck::cast_slice_mut(v),
        Data::Bool(_) | Data::Str(_) => return None,
    })
}

/// The bit pattern of one value of `d` (its first element), zero-extended to 64 bits.
pub fn pattern_of(d: &Data) -> u64 {
    let bytes = bytes_of(d);
    let w = d.dtype().size().min(8);
    let mut word = [0u8; 8];
    word[..w].copy_from_slice(&bytes[..w]);
    u64::from_le_bytes(word)
}

/// A kernel failure as an error naming the element being written.
pub fn kernel_error(output: &std::path::Path, node: &str, e: KernelError) -> Error {
    Error::Output {
        path: output.to_path_buf(),
        reason: format!("/{node}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_bytes() {
        for d in [
            Data::Bool(vec![true, false, true]),
            Data::I16(vec![-3, 7]),
            Data::F32(vec![1.5, f32::NAN]),
            Data::F64(vec![-0.0, 2.25]),
            Data::U64(vec![u64::MAX]),
        ] {
            let back = data_of(d.dtype(), &bytes_of(&d));
            assert_eq!(bytes_of(&back), bytes_of(&d));
        }
    }

    #[test]
    fn patterns_are_little_endian_words() {
        assert_eq!(pattern_of(&Data::F64(vec![1.0])), 1.0f64.to_bits());
        assert_eq!(pattern_of(&Data::I16(vec![-1])), 0xffff);
        assert_eq!(pattern_of(&Data::Bool(vec![true])), 1);
    }
}
