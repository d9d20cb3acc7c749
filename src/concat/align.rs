//! Reindexing of in-memory values onto the result's alternate axis, with the fills
//! and dtype changes anndata's `Reindexer` and pandas' `reindex` make.

use crate::concat::blocks::gather;
use crate::concat::dtype::{cast, filled, promote};
use crate::concat::index::Reindex;
use crate::store::{DType, Data};
use crate::value::{NullableKind, Sparse, Value};

/// Takes elements by optional position; `None` positions get `fill` (already of the
/// block's dtype).
fn take_or(d: &Data, idx: &[Option<usize>], fill: &Data) -> Data {
    let mut picks = Vec::with_capacity(idx.len());
    let n = d.len();
    let joined = {
        let mut j = d.clone();
        crate::concat::blocks::extend(&mut j, fill.clone());
        j
    };
    for i in idx {
        picks.push(i.unwrap_or(n));
    }
    gather(&joined, &picks)
}

/// A dataframe column reindexed as `DataFrame.reindex` does (after anndata turns numpy
/// booleans into pandas' nullable booleans when rows go missing).
pub fn reindex_column(col: &Value, r: &Reindex) -> Value {
    if r.identity {
        return col.clone();
    }
    let inv: Vec<Option<usize>> = r
        .new_to_old()
        .into_iter()
        .map(|o| o.map(|x| x as usize))
        .collect();
    let missing = inv.iter().any(|o| o.is_none());
    let mask: Vec<bool> = inv.iter().map(|o| o.is_none()).collect();
    match col {
        Value::Array { data, .. } => {
            let n = inv.len() as u64;
            if !missing {
                let idx: Vec<usize> = inv.iter().map(|o| o.unwrap_or(0)).collect();
                return Value::Array {
                    data: gather(data, &idx),
                    shape: vec![n],
                };
            }
            match data.dtype() {
                DType::Bool => Value::Nullable {
                    kind: NullableKind::Boolean,
                    values: take_or(data, &inv, &Data::Bool(vec![false])),
                    mask,
                },
                DType::Str => Value::Nullable {
                    kind: NullableKind::String { na_nan: true },
                    values: take_or(data, &inv, &Data::Str(vec![String::new()])),
                    mask,
                },
                d => {
                    let target = if d.is_integer() { DType::F64 } else { d };
                    let data = cast(data.clone(), target);
                    Value::Array {
                        data: take_or(&data, &inv, &filled(target, 1, f64::NAN)),
                        shape: vec![n],
                    }
                }
            }
        }
        Value::Categorical {
            codes,
            categories,
            ordered,
        } => Value::Categorical {
            codes: inv.iter().map(|o| o.map_or(-1, |i| codes[i])).collect(),
            categories: categories.clone(),
            ordered: *ordered,
        },
        Value::Nullable {
            kind,
            values,
            mask: m,
        } => {
            let fill = filled(values.dtype(), 1, 0.0);
            let fill = if values.dtype() == DType::Str {
                Data::Str(vec![String::new()])
            } else {
                fill
            };
            Value::Nullable {
                kind: *kind,
                values: take_or(values, &inv, &fill),
                mask: inv.iter().map(|o| o.is_none_or(|i| m[i])).collect(),
            }
        }
        other => other.clone(),
    }
}

/// An array reindexed along `axis` as anndata's `Reindexer` does: dense arrays take
/// NaN (as a float64 array, so they widen to float64) where rows go missing; sparse
/// ones take nothing.
pub fn reindex_array(v: &Value, r: &Reindex, axis: usize) -> Value {
    if r.identity {
        return v.clone();
    }
    let inv: Vec<Option<usize>> = r
        .new_to_old()
        .into_iter()
        .map(|o| o.map(|x| x as usize))
        .collect();
    match v {
        Value::Array { data, shape } if shape.len() == 2 || (shape.len() == 1 && axis == 0) => {
            let rows = shape[0] as usize;
            let cols = shape.get(1).copied().unwrap_or(1) as usize;
            let missing = r.has_missing();
            let dtype = if missing {
                promote(data.dtype(), DType::F64).unwrap_or(DType::F64)
            } else {
                data.dtype()
            };
            let data = cast(data.clone(), dtype);
            let fill = filled(dtype, 1, f64::NAN);
            let n = inv.len();
            let mut idx = Vec::new();
            let mut new_shape = shape.clone();
            if axis == 0 {
                new_shape[0] = n as u64;
                for o in &inv {
                    for c in 0..cols {
                        idx.push(o.map(|r| r * cols + c));
                    }
                }
            } else {
                new_shape[1] = n as u64;
                for r0 in 0..rows {
                    for o in &inv {
                        idx.push(o.map(|c| r0 * cols + c));
                    }
                }
            }
            Value::Array {
                data: take_or(&data, &idx, &fill),
                shape: new_shape,
            }
        }
        Value::Sparse(s) => Value::Sparse(reindex_sparse(s, r, axis)),
        other => other.clone(),
    }
}

fn reindex_sparse(s: &Sparse, r: &Reindex, axis: usize) -> Sparse {
    // Work on (row, col, position) triples; matrices here are alternate-axis sized.
    let major_is_rows = s.csr;
    let mut triples = Vec::with_capacity(s.indices.len());
    let major = s.indptr.len().saturating_sub(1);
    for m in 0..major {
        for k in s.indptr[m] as usize..s.indptr[m + 1] as usize {
            let minor = s.indices[k] as u64;
            let (i, j) = if major_is_rows {
                (m as u64, minor)
            } else {
                (minor, m as u64)
            };
            triples.push((i, j, k));
        }
    }
    let mut shape = s.shape;
    shape[axis] = r.new_len;
    let mut kept: Vec<(u64, u64, usize)> = triples
        .into_iter()
        .filter_map(|(i, j, k)| {
            let (i, j) = if axis == 0 {
                (r.old_to_new.get(i as usize).copied().flatten()?, j)
            } else {
                (i, r.old_to_new.get(j as usize).copied().flatten()?)
            };
            Some((i, j, k))
        })
        .collect();
    if major_is_rows {
        kept.sort_unstable_by_key(|t| (t.0, t.1));
    } else {
        kept.sort_unstable_by_key(|t| (t.1, t.0));
    }
    let n_major = if major_is_rows { shape[0] } else { shape[1] } as usize;
    let mut indptr = vec![0i64; n_major + 1];
    for t in &kept {
        let m = if major_is_rows { t.0 } else { t.1 } as usize;
        indptr[m + 1] += 1;
    }
    for i in 0..n_major {
        indptr[i + 1] += indptr[i];
    }
    let order: Vec<usize> = kept.iter().map(|t| t.2).collect();
    Sparse {
        csr: s.csr,
        shape,
        data: gather(&s.data, &order),
        indices: kept
            .iter()
            .map(|t| if major_is_rows { t.1 } else { t.0 } as i64)
            .collect(),
        indptr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn integer_columns_widen_when_rows_go_missing() {
        let r = Reindex::by_name(&names(&["a", "b"]), &names(&["b", "c", "a"]));
        let col = Value::Array {
            data: Data::I32(vec![1, 2]),
            shape: vec![2],
        };
        match reindex_column(&col, &r) {
            Value::Array {
                data: Data::F64(v), ..
            } => {
                assert_eq!(v[0], 2.0);
                assert!(v[1].is_nan());
                assert_eq!(v[2], 1.0);
            }
            other => panic!("{other:?}"),
        }
        let b = Value::Array {
            data: Data::Bool(vec![true, false]),
            shape: vec![2],
        };
        assert!(
            matches!(reindex_column(&b, &r), Value::Nullable { kind: NullableKind::Boolean, ref mask, .. } if mask == &vec![false, true, false])
        );
    }

    #[test]
    fn sparse_rows_move_and_drop() {
        let s = Sparse {
            csr: true,
            shape: [3, 2],
            data: Data::F32(vec![1.0, 2.0, 3.0]),
            indices: vec![0, 1, 0],
            indptr: vec![0, 1, 2, 3],
        };
        let r = Reindex::by_name(&names(&["a", "b", "c"]), &names(&["c", "a"]));
        let out = reindex_sparse(&s, &r, 0);
        assert_eq!(out.shape, [2, 2]);
        assert_eq!(out.indptr, vec![0, 1, 2]);
        assert_eq!(out.indices, vec![0, 0]);
        assert_eq!(out.data, Data::F32(vec![3.0, 1.0]));
    }
}
