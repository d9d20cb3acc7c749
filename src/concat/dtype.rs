//! numpy's type promotion for the dtypes AnnData stores, and casts between them.

use crate::store::{DType, Data};

fn rank_signed(d: DType) -> Option<u32> {
    Some(match d {
        DType::I8 => 1,
        DType::I16 => 2,
        DType::I32 => 4,
        DType::I64 => 8,
        _ => return None,
    })
}

fn rank_unsigned(d: DType) -> Option<u32> {
    Some(match d {
        DType::U8 => 1,
        DType::U16 => 2,
        DType::U32 => 4,
        DType::U64 => 8,
        _ => return None,
    })
}

fn signed_of(bytes: u32) -> DType {
    match bytes {
        1 => DType::I8,
        2 => DType::I16,
        4 => DType::I32,
        _ => DType::I64,
    }
}

fn unsigned_of(bytes: u32) -> DType {
    match bytes {
        1 => DType::U8,
        2 => DType::U16,
        4 => DType::U32,
        _ => DType::U64,
    }
}

/// `numpy.result_type(a, b)`, or `None` when numpy would give an object or string type.
pub fn promote(a: DType, b: DType) -> Option<DType> {
    use DType::*;
    if a == b {
        return Some(a);
    }
    if a == Str || b == Str {
        return None;
    }
    if a == Bool {
        return Some(b);
    }
    if b == Bool {
        return Some(a);
    }
    let float = |d: DType| matches!(d, F32 | F64);
    if float(a) || float(b) {
        let (f, other) = if float(a) { (a, b) } else { (b, a) };
        if f == F64 || other == F64 {
            return Some(F64);
        }
        // float32 holds 8- and 16-bit integers exactly; wider ones need float64.
        return Some(match other {
            I8 | I16 | U8 | U16 | F32 => F32,
            _ => F64,
        });
    }
    match (
        rank_signed(a),
        rank_signed(b),
        rank_unsigned(a),
        rank_unsigned(b),
    ) {
        (Some(x), Some(y), _, _) => Some(signed_of(x.max(y))),
        (_, _, Some(x), Some(y)) => Some(unsigned_of(x.max(y))),
        (Some(s), None, None, Some(u)) | (None, Some(s), Some(u), None) => {
            if u == 8 {
                Some(F64)
            } else if s > u {
                Some(signed_of(s))
            } else {
                Some(signed_of(u * 2))
            }
        }
        _ => None,
    }
}

/// Promotes a whole list; `None` for an empty list or an impossible mix.
pub fn promote_all(dtypes: impl IntoIterator<Item = DType>) -> Option<DType> {
    let mut it = dtypes.into_iter();
    let first = it.next()?;
    it.try_fold(first, promote)
}

macro_rules! cast_to {
    ($data:expr, $t:ty, $variant:ident) => {
        match $data {
            Data::Bool(v) => Data::$variant(v.into_iter().map(|x| x as u8 as $t).collect()),
            Data::I8(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::I16(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::I32(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::I64(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::U8(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::U16(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::U32(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::U64(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::F32(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::F64(v) => Data::$variant(v.into_iter().map(|x| x as $t).collect()),
            Data::Str(v) => Data::Str(v),
        }
    };
}

/// Converts numeric or boolean data to `dtype` as numpy's `astype` does for values
/// that fit (the promotions above never narrow). Strings pass through unchanged.
pub fn cast(data: Data, dtype: DType) -> Data {
    if data.dtype() == dtype {
        return data;
    }
    match dtype {
        DType::Bool => match data {
            Data::Str(v) => Data::Str(v),
            other => Data::Bool(crate::value::nonzero_flags(&other)),
        },
        DType::I8 => cast_to!(data, i8, I8),
        DType::I16 => cast_to!(data, i16, I16),
        DType::I32 => cast_to!(data, i32, I32),
        DType::I64 => cast_to!(data, i64, I64),
        DType::U8 => cast_to!(data, u8, U8),
        DType::U16 => cast_to!(data, u16, U16),
        DType::U32 => cast_to!(data, u32, U32),
        DType::U64 => cast_to!(data, u64, U64),
        DType::F32 => cast_to!(data, f32, F32),
        DType::F64 => cast_to!(data, f64, F64),
        DType::Str => data,
    }
}

/// A block of `n` copies of `value` (a number) as `dtype`.
pub fn filled(dtype: DType, n: usize, value: f64) -> Data {
    cast(Data::F64(vec![value; n]), dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_matches_numpy() {
        let cases = [
            (I32, I64, I64),
            (U8, I8, I16),
            (U16, I16, I32),
            (U32, I8, I64),
            (U64, I64, F64),
            (I16, F32, F32),
            (I32, F32, F64),
            (F32, F64, F64),
            (Bool, I8, I8),
            (Bool, F32, F32),
            (U8, U32, U32),
        ];
        for (a, b, want) in cases {
            assert_eq!(promote(a, b), Some(want), "{a} + {b}");
            assert_eq!(promote(b, a), Some(want), "{b} + {a}");
        }
        assert_eq!(promote(Str, I8), None);
        assert_eq!(promote_all([I8, U8, F32]), Some(F32));
    }

    #[test]
    fn casts_keep_values() {
        assert_eq!(
            cast(Data::I32(vec![1, -2]), F64),
            Data::F64(vec![1.0, -2.0])
        );
        assert_eq!(
            cast(Data::Bool(vec![true, false]), I64),
            Data::I64(vec![1, 0])
        );
        assert_eq!(
            cast(Data::F64(vec![0.0, 2.5]), Bool),
            Data::Bool(vec![false, true])
        );
        assert!(matches!(filled(F32, 2, f64::NAN), Data::F32(v) if v.iter().all(|x| x.is_nan())));
    }
}
