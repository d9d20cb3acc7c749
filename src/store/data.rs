/// Element type of an array, as the stores and AnnData know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// Variable-length UTF-8 string.
    Str,
}

impl DType {
    /// Bytes per element in memory (strings count as a pointer-sized handle).
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
            DType::Str => 24,
        }
    }

    /// numpy's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::Str => "str",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DType::I8
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        )
    }

    pub const ALL: [DType; 12] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
        DType::Str,
    ];
}

/// Serialised under numpy's name (`int32`, `float64`, `str`).
impl serde::Serialize for DType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why [`Data::into_u64`] refused its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotU64 {
    /// Not integers at all: the data's dtype.
    NotIntegers(DType),
    Negative,
}

/// `n` elements whose bytes `write` sets, in memory that is not cleared first.
///
/// Why: blocks are tens of MiB and are filled in full right after they are made
/// (decoded into, or tiled with a fill), so clearing them first is a pass over memory
/// that buys nothing; in a dense outer join on Zarr it was a tenth of the CPU time
/// (`perf record`). If `write` fails, the memory is dropped unread.
///
/// # Safety
/// `write` must not read the slice it is given, and must set every byte of it before it
/// returns `Ok`.
pub unsafe fn written_vec<T: bytemuck::Pod, E>(
    n: usize,
    write: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<Vec<T>, E> {
    // SAFETY: the caller's `write` sets all `n` elements, which is what it reports.
    unsafe { written_prefix(n, |bytes| write(bytes).map(|()| n)) }
}

/// [`written_vec`] for a writer that may set fewer elements than it has room for (a
/// join that drops entries): `write` gets room for `n` and returns how many of the
/// first elements it set, which the vector is cut to.
///
/// # Safety
/// `write` must not read the slice it is given, and on `Ok(k)` must have set every
/// byte of the first `k` elements, with `k <= n`.
pub unsafe fn written_prefix<T: bytemuck::Pod, E>(
    n: usize,
    write: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Result<Vec<T>, E> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    let len = n * std::mem::size_of::<T>();
    // SAFETY: the capacity holds `len` bytes, aligned and owned by `v` alone; the
    // caller's `write` only stores into them.
    let bytes = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), len) };
    let set = write(bytes)?;
    assert!(
        set <= n,
        "a writer reported {set} elements set in room for {n}"
    );
    // SAFETY: `write` set every byte of the first `set` elements, and every bit
    // pattern is a valid `T` (Pod).
    unsafe { v.set_len(set) };
    Ok(v)
}

/// A flat, row-major block of elements of one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Str(Vec<String>),
}

/// Runs `$body` with `$v` bound to the vector inside a [`Data`], whatever its type.
#[macro_export]
macro_rules! with_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::store::Data::Bool($v) => $body,
            $crate::store::Data::I8($v) => $body,
            $crate::store::Data::I16($v) => $body,
            $crate::store::Data::I32($v) => $body,
            $crate::store::Data::I64($v) => $body,
            $crate::store::Data::U8($v) => $body,
            $crate::store::Data::U16($v) => $body,
            $crate::store::Data::U32($v) => $body,
            $crate::store::Data::U64($v) => $body,
            $crate::store::Data::F32($v) => $body,
            $crate::store::Data::F64($v) => $body,
            $crate::store::Data::Str($v) => $body,
        }
    };
}

impl Data {
    pub fn dtype(&self) -> DType {
        match self {
            Data::Bool(_) => DType::Bool,
            Data::I8(_) => DType::I8,
            Data::I16(_) => DType::I16,
            Data::I32(_) => DType::I32,
            Data::I64(_) => DType::I64,
            Data::U8(_) => DType::U8,
            Data::U16(_) => DType::U16,
            Data::U32(_) => DType::U32,
            Data::U64(_) => DType::U64,
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::Str(_) => DType::Str,
        }
    }

    pub fn len(&self) -> usize {
        with_data!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty block of `dtype` with room for `capacity` elements.
    pub fn with_capacity(dtype: DType, capacity: usize) -> Data {
        match dtype {
            DType::Bool => Data::Bool(Vec::with_capacity(capacity)),
            DType::I8 => Data::I8(Vec::with_capacity(capacity)),
            DType::I16 => Data::I16(Vec::with_capacity(capacity)),
            DType::I32 => Data::I32(Vec::with_capacity(capacity)),
            DType::I64 => Data::I64(Vec::with_capacity(capacity)),
            DType::U8 => Data::U8(Vec::with_capacity(capacity)),
            DType::U16 => Data::U16(Vec::with_capacity(capacity)),
            DType::U32 => Data::U32(Vec::with_capacity(capacity)),
            DType::U64 => Data::U64(Vec::with_capacity(capacity)),
            DType::F32 => Data::F32(Vec::with_capacity(capacity)),
            DType::F64 => Data::F64(Vec::with_capacity(capacity)),
            DType::Str => Data::Str(Vec::with_capacity(capacity)),
        }
    }

    /// Bytes held in memory (string payload included).
    pub fn nbytes(&self) -> usize {
        match self {
            Data::Str(v) => v.iter().map(|s| s.len() + 24).sum(),
            other => other.len() * other.dtype().size(),
        }
    }

    /// Integer contents as u64, for sparse indices and indptr. Checks then converts in
    /// one pass each, with no i64 copy in between (tens of millions of indices per
    /// block); 64-bit data is converted in place.
    pub fn into_u64(self) -> Result<Vec<u64>, NotU64> {
        fn widen<T: Copy + Into<i64>>(v: &[T]) -> Result<Vec<u64>, NotU64> {
            if v.iter().any(|&x| x.into() < 0) {
                return Err(NotU64::Negative);
            }
            Ok(v.iter().map(|&x| x.into() as u64).collect())
        }
        Ok(match self {
            Data::I8(v) => widen(&v)?,
            Data::I16(v) => widen(&v)?,
            Data::I32(v) => widen(&v)?,
            Data::I64(v) => {
                if v.iter().any(|&x| x < 0) {
                    return Err(NotU64::Negative);
                }
                v.into_iter().map(|x| x as u64).collect()
            }
            Data::U8(v) => v.iter().map(|&x| x as u64).collect(),
            Data::U16(v) => v.iter().map(|&x| x as u64).collect(),
            Data::U32(v) => v.iter().map(|&x| x as u64).collect(),
            Data::U64(v) => v,
            other => return Err(NotU64::NotIntegers(other.dtype())),
        })
    }

    /// Integer contents widened to i64, or `None` for non-integer data
    /// (u64 values above i64::MAX also give `None`).
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        Some(match self {
            Data::I8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I16(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I64(v) => v.clone(),
            Data::U8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U16(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U64(v) => v
                .iter()
                .map(|&x| i64::try_from(x).ok())
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        })
    }
}
