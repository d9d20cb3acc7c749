//! Small AnnData elements held whole in memory: `uns` entries and the annotations of
//! the alternate axis (`var` when concatenating along obs, with `varm`/`varp`). anndata's
//! merge strategies compare such values with each other, so they are read whole; they
//! grow with the number of genes or with user metadata, never with the cell count.

use crate::encoding::{Element, EncodingType};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::store::{join, Attrs, DType, Data, StoreReader, StoreWriter};
use serde_json::json;

/// A compressed sparse matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparse {
    pub csr: bool,
    pub shape: [u64; 2],
    pub data: Data,
    pub indices: Vec<i64>,
    pub indptr: Vec<i64>,
}

impl Sparse {
    /// The compressed-sparse invariants everything reading `indptr`/`indices` relies on.
    pub fn check(&self) -> std::result::Result<(), String> {
        let (major, minor) = if self.csr {
            (self.shape[0], self.shape[1])
        } else {
            (self.shape[1], self.shape[0])
        };
        let nnz = self.indices.len() as i64;
        if self.indptr.len() as u64 != major + 1 {
            return Err(format!(
                "indptr has {} entries, expected {}",
                self.indptr.len(),
                major + 1
            ));
        }
        if self.data.len() as i64 != nnz {
            return Err(format!(
                "data has {} entries but indices has {nnz}",
                self.data.len()
            ));
        }
        if self.indptr.first() != Some(&0) || self.indptr.last() != Some(&nnz) {
            return Err(format!("indptr must run from 0 to {nnz}"));
        }
        if self.indptr.windows(2).any(|w| w[1] < w[0]) {
            return Err("indptr decreases".into());
        }
        if let Some(bad) = self.indices.iter().find(|&&i| i < 0 || i as u64 >= minor) {
            return Err(format!("index {bad} out of range for {minor} positions"));
        }
        Ok(())
    }
}

/// Which pandas extension array a `values` + `mask` pair encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullableKind {
    Integer,
    Boolean,
    /// `na_nan`: pandas' `str` dtype (missing is NaN) rather than `string` (missing is NA).
    String {
        na_nan: bool,
    },
}

/// A dataframe: string index and columns in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub index_name: String,
    pub index: Vec<String>,
    pub columns: Vec<(String, Value)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Dict(Vec<(String, Value)>),
    /// `array` or, for strings, `string-array`.
    Array {
        data: Data,
        shape: Vec<u64>,
    },
    /// `numeric-scalar` or, for strings, `string`.
    Scalar(Data),
    Sparse(Sparse),
    Categorical {
        codes: Vec<i64>,
        categories: Data,
        ordered: bool,
    },
    Nullable {
        kind: NullableKind,
        values: Data,
        mask: Vec<bool>,
    },
    Frame(Frame),
    Null,
}

fn read_all(store: &dyn StoreReader, node: &str) -> Result<(Data, Vec<u64>)> {
    let info = store.array_info(node)?;
    let start = vec![0; info.shape.len()];
    let data = store.read(node, &start, &info.shape)?;
    Ok((data, info.shape))
}

fn read_1d(store: &dyn StoreReader, elem: &Element, part: &str) -> Result<Data> {
    let node = join(&elem.node, part);
    let (data, shape) = read_all(store, &node)?;
    if shape.len() != 1 {
        return Err(Error::invalid(
            store.path(),
            &node,
            elem.encoding.name(),
            format!("expected a 1-D array, found shape {shape:?}"),
        ));
    }
    Ok(data)
}

fn to_bools(store: &dyn StoreReader, node: &str, data: Data) -> Result<Vec<bool>> {
    match data {
        Data::Bool(v) => Ok(v),
        other => match other.to_i64() {
            Some(v) => Ok(v.into_iter().map(|x| x != 0).collect()),
            None => Err(Error::invalid(
                store.path(),
                node,
                "mask",
                format!("mask has dtype {}", other.dtype()),
            )),
        },
    }
}

fn to_index(store: &dyn StoreReader, elem: &Element, part: &str) -> Result<Vec<i64>> {
    let data = read_1d(store, elem, part)?;
    let dtype = data.dtype();
    data.to_i64().ok_or_else(|| {
        Error::invalid(
            store.path(),
            &elem.node,
            elem.encoding.name(),
            format!("{part} has dtype {dtype}, expected integers"),
        )
    })
}

/// Reads the strings of a `string-array` or `nullable-string-array` element (missing
/// entries of the latter come back as they are stored).
pub fn read_strings(store: &dyn StoreReader, node: &str) -> Result<Vec<String>> {
    let elem = Element::open(store, node)?;
    let data = match elem.encoding {
        EncodingType::StringArray => read_all(store, node)?.0,
        EncodingType::NullableString => read_1d(store, &elem, "values")?,
        other => {
            return Err(Error::invalid(
                store.path(),
                node,
                other.name(),
                "expected strings",
            ))
        }
    };
    match data {
        Data::Str(v) => Ok(v),
        // anndata writes numeric obs names as strings; accept numbers written raw.
        other => match other.to_i64() {
            Some(v) => Ok(v.into_iter().map(|x| x.to_string()).collect()),
            None => Err(Error::invalid(
                store.path(),
                node,
                elem.encoding.name(),
                format!("holds {} values, expected strings", other.dtype()),
            )),
        },
    }
}

/// Reads the element at `node` whole.
pub fn read_value(store: &dyn StoreReader, node: &str) -> Result<Value> {
    let elem = Element::open(store, node)?;
    let bad = |reason: String| Error::invalid(store.path(), node, elem.encoding.name(), reason);
    Ok(match elem.encoding {
        EncodingType::Dict => {
            let mut items = Vec::new();
            for name in store.children(node)? {
                items.push((name.clone(), read_value(store, &join(node, &name))?));
            }
            Value::Dict(items)
        }
        EncodingType::Array | EncodingType::StringArray => {
            let (data, shape) = read_all(store, node)?;
            Value::Array { data, shape }
        }
        EncodingType::NumericScalar | EncodingType::String => {
            Value::Scalar(read_all(store, node)?.0)
        }
        EncodingType::Csr | EncodingType::Csc => {
            let (r, c) = elem.sparse_shape(store)?;
            let s = Sparse {
                csr: elem.encoding == EncodingType::Csr,
                shape: [r, c],
                data: read_1d(store, &elem, "data")?,
                indices: to_index(store, &elem, "indices")?,
                indptr: to_index(store, &elem, "indptr")?,
            };
            s.check().map_err(bad)?;
            Value::Sparse(s)
        }
        EncodingType::Categorical => {
            let ordered = elem
                .attrs
                .get("ordered")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let codes = to_index(store, &elem, "codes")?;
            let categories = match read_value(store, &join(node, "categories"))? {
                Value::Array { data, .. } => data,
                _ => return Err(bad("categories are not an array".into())),
            };
            let n = categories.len() as i64;
            if codes.iter().any(|&c| c < -1 || c >= n) {
                return Err(bad(format!("a code is outside -1..{n}")));
            }
            Value::Categorical {
                codes,
                categories,
                ordered,
            }
        }
        EncodingType::NullableInteger
        | EncodingType::NullableBoolean
        | EncodingType::NullableString => {
            let kind = match elem.encoding {
                EncodingType::NullableInteger => NullableKind::Integer,
                EncodingType::NullableBoolean => NullableKind::Boolean,
                _ => NullableKind::String {
                    na_nan: elem.attr_str("na-value") == Some("NaN"),
                },
            };
            let values = read_1d(store, &elem, "values")?;
            let mask_node = join(node, "mask");
            let mask = to_bools(store, &mask_node, read_1d(store, &elem, "mask")?)?;
            if mask.len() != values.len() {
                return Err(bad(format!(
                    "mask has {} entries but values has {}",
                    mask.len(),
                    values.len()
                )));
            }
            Value::Nullable { kind, values, mask }
        }
        EncodingType::DataFrame => Value::Frame(read_frame(store, &elem)?),
        EncodingType::Null => Value::Null,
        EncodingType::AnnData | EncodingType::Raw => {
            return Err(bad("cannot be held as a value".into()));
        }
    })
}

/// Column names of a dataframe element, in `column-order`.
pub fn column_order(elem: &Element) -> Vec<String> {
    match elem.attrs.get("column-order") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub fn read_frame(store: &dyn StoreReader, elem: &Element) -> Result<Frame> {
    let index_name = elem.attr_str("_index").unwrap_or("_index").to_string();
    let index = read_strings(store, &join(&elem.node, &index_name))?;
    let mut columns = Vec::new();
    for name in column_order(elem) {
        let col = read_value(store, &join(&elem.node, &name))?;
        if value_len(&col) != Some(index.len() as u64) {
            return Err(Error::invalid(
                store.path(),
                &join(&elem.node, &name),
                "dataframe",
                format!(
                    "column length differs from the index length {}",
                    index.len()
                ),
            ));
        }
        columns.push((name, col));
    }
    Ok(Frame {
        index_name,
        index,
        columns,
    })
}

/// Length along the first axis, where the value has one.
pub fn value_len(v: &Value) -> Option<u64> {
    match v {
        Value::Array { shape, .. } => shape.first().copied(),
        Value::Sparse(s) => Some(s.shape[0]),
        Value::Categorical { codes, .. } => Some(codes.len() as u64),
        Value::Nullable { mask, .. } => Some(mask.len() as u64),
        Value::Frame(f) => Some(f.index.len() as u64),
        _ => None,
    }
}

/// Encoding attributes of an element.
pub fn enc(kind: &str, version: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("encoding-type".into(), json!(kind));
    a.insert("encoding-version".into(), json!(version));
    a
}

fn put(
    w: &dyn StoreWriter,
    layout: &Layout,
    node: &str,
    data: &Data,
    shape: &[u64],
    attrs: &Attrs,
) -> Result<()> {
    let spec = layout.spec(shape, data.dtype());
    w.create_array(node, &spec, attrs)?;
    if !shape.contains(&0) {
        w.write(node, &vec![0; shape.len()], shape, data)?;
    }
    Ok(())
}

/// The smallest signed integer type pandas uses for codes of `n` categories.
pub fn code_dtype(n: usize) -> DType {
    if n < i8::MAX as usize {
        DType::I8
    } else if n < i16::MAX as usize {
        DType::I16
    } else if n < i32::MAX as usize {
        DType::I32
    } else {
        DType::I64
    }
}

pub fn codes_data(codes: &[i64], n_categories: usize) -> Data {
    match code_dtype(n_categories) {
        DType::I8 => Data::I8(codes.iter().map(|&c| c as i8).collect()),
        DType::I16 => Data::I16(codes.iter().map(|&c| c as i16).collect()),
        DType::I32 => Data::I32(codes.iter().map(|&c| c as i32).collect()),
        _ => Data::I64(codes.to_vec()),
    }
}

/// Index arrays of a sparse matrix: int32 where every value fits.
pub fn index_data(v: &[i64]) -> Data {
    if v.iter().all(|&x| x <= i32::MAX as i64) {
        Data::I32(v.iter().map(|&x| x as i32).collect())
    } else {
        Data::I64(v.to_vec())
    }
}

/// Attributes of a 1-D column-like element given its encoding.
pub fn array_attrs(dtype: DType, scalar: bool) -> Attrs {
    match (dtype, scalar) {
        (DType::Str, false) => enc("string-array", "0.2.0"),
        (_, false) => enc("array", "0.2.0"),
        (DType::Str, true) => enc("string", "0.2.0"),
        (_, true) => enc("numeric-scalar", "0.2.0"),
    }
}

/// Writes `value` as a new element at `node`.
pub fn write_value(w: &dyn StoreWriter, layout: &Layout, node: &str, value: &Value) -> Result<()> {
    match value {
        Value::Dict(items) => {
            w.create_group(node, &enc("dict", "0.1.0"))?;
            for (k, v) in items {
                write_value(w, layout, &join(node, k), v)?;
            }
        }
        Value::Array { data, shape } => put(
            w,
            layout,
            node,
            data,
            shape,
            &array_attrs(data.dtype(), false),
        )?,
        Value::Scalar(data) => put(w, layout, node, data, &[], &array_attrs(data.dtype(), true))?,
        Value::Sparse(s) => {
            let mut a = enc(if s.csr { "csr_matrix" } else { "csc_matrix" }, "0.1.0");
            a.insert("shape".into(), json!(s.shape));
            w.create_group(node, &a)?;
            let idx_wide = s.indptr.last().copied().unwrap_or(0) > i32::MAX as i64
                || s.shape.iter().any(|&d| d > i32::MAX as u64);
            let (indices, indptr) = if idx_wide {
                (Data::I64(s.indices.clone()), Data::I64(s.indptr.clone()))
            } else {
                (index_data(&s.indices), index_data(&s.indptr))
            };
            put(
                w,
                layout,
                &join(node, "data"),
                &s.data,
                &[s.data.len() as u64],
                &Attrs::new(),
            )?;
            put(
                w,
                layout,
                &join(node, "indices"),
                &indices,
                &[s.indices.len() as u64],
                &Attrs::new(),
            )?;
            put(
                w,
                layout,
                &join(node, "indptr"),
                &indptr,
                &[s.indptr.len() as u64],
                &Attrs::new(),
            )?;
        }
        Value::Categorical {
            codes,
            categories,
            ordered,
        } => {
            let mut a = enc("categorical", "0.2.0");
            a.insert("ordered".into(), json!(ordered));
            w.create_group(node, &a)?;
            let codes = codes_data(codes, categories.len());
            put(
                w,
                layout,
                &join(node, "codes"),
                &codes,
                &[codes.len() as u64],
                &array_attrs(codes.dtype(), false),
            )?;
            put(
                w,
                layout,
                &join(node, "categories"),
                categories,
                &[categories.len() as u64],
                &array_attrs(categories.dtype(), false),
            )?;
        }
        Value::Nullable { kind, values, mask } => {
            let mut a = match kind {
                NullableKind::Integer => enc("nullable-integer", "0.1.0"),
                NullableKind::Boolean => enc("nullable-boolean", "0.1.0"),
                NullableKind::String { .. } => enc("nullable-string-array", "0.1.0"),
            };
            if let NullableKind::String { na_nan } = kind {
                a.insert("na-value".into(), json!(if *na_nan { "NaN" } else { "NA" }));
            }
            w.create_group(node, &a)?;
            let n = [mask.len() as u64];
            put(
                w,
                layout,
                &join(node, "values"),
                values,
                &n,
                &array_attrs(values.dtype(), false),
            )?;
            put(
                w,
                layout,
                &join(node, "mask"),
                &Data::Bool(mask.clone()),
                &n,
                &array_attrs(DType::Bool, false),
            )?;
        }
        Value::Frame(f) => write_frame(w, layout, node, f, false)?,
        Value::Null => {
            // No value to store; a 0-d placeholder carries the encoding, as anndata does.
            let spec = layout.spec(&[], DType::Bool);
            w.create_array(node, &spec, &enc("null", "0.1.0"))?;
        }
    }
    Ok(())
}

pub fn frame_attrs(index_name: &str, columns: &[String]) -> Attrs {
    let mut a = enc("dataframe", "0.2.0");
    a.insert("_index".into(), json!(index_name));
    a.insert("column-order".into(), json!(columns));
    a
}

/// Writes a dataframe as anndata writes one; `annotation`: it is obs, var or raw/var,
/// whose repetitive string columns anndata's writer turns into categoricals.
pub fn write_frame(
    w: &dyn StoreWriter,
    layout: &Layout,
    node: &str,
    f: &Frame,
    annotation: bool,
) -> Result<()> {
    let names: Vec<String> = f.columns.iter().map(|(n, _)| n.clone()).collect();
    w.create_group(node, &frame_attrs(&f.index_name, &names))?;
    // anndata 0.13 writes indexes as pandas `str` arrays: nullable, missing as NaN.
    let index = Value::Nullable {
        kind: NullableKind::String { na_nan: true },
        values: Data::Str(f.index.clone()),
        mask: vec![false; f.index.len()],
    };
    write_value(w, layout, &join(node, &f.index_name), &index)?;
    for (name, col) in &f.columns {
        match strings_as_categorical(col).filter(|_| annotation) {
            Some(cat) => write_value(w, layout, &join(node, name), &cat)?,
            None => write_value(w, layout, &join(node, name), col)?,
        }
    }
    Ok(())
}

/// Categories that anndata's writer would give a string column (`strings_to_categoricals`):
/// the distinct non-missing values in natural order, when there are fewer of them than
/// rows; `None` when the column stays strings.
pub fn categories_for<'a>(
    values: impl Iterator<Item = &'a str>,
    rows: usize,
) -> Option<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    for v in values {
        if seen.len() >= rows {
            return None;
        }
        seen.insert(v);
    }
    // All-missing columns are not strings to pandas' `infer_dtype`: left alone.
    if seen.len() >= rows || seen.is_empty() {
        return None;
    }
    let mut cats: Vec<String> = seen.into_iter().map(str::to_string).collect();
    crate::concat::index::natsort(&mut cats);
    Some(cats)
}

/// A string dataframe column as the categorical anndata writes for it, if it would.
pub fn strings_as_categorical(col: &Value) -> Option<Value> {
    let (values, mask) = match col {
        Value::Array {
            data: Data::Str(v),
            shape,
        } if shape.len() == 1 => (v, None),
        Value::Nullable {
            kind: NullableKind::String { .. },
            values: Data::Str(v),
            mask,
        } => (v, Some(mask)),
        _ => return None,
    };
    let present = |i: &usize| mask.is_none_or(|m| !m[*i]);
    let cats = categories_for(
        (0..values.len())
            .filter(present)
            .map(|i| values[i].as_str()),
        values.len(),
    )?;
    let pos: std::collections::HashMap<&str, i64> = cats
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as i64))
        .collect();
    let codes = (0..values.len())
        .map(|i| {
            if present(&i) {
                pos[values[i].as_str()]
            } else {
                -1
            }
        })
        .collect();
    Some(Value::Categorical {
        codes,
        categories: Data::Str(cats),
        ordered: false,
    })
}

// ---------------------------------------------------------------------------------
// Equality as anndata's merge strategies see it.

fn as_f64(d: &Data, i: usize) -> Option<f64> {
    Some(match d {
        Data::Bool(v) => v[i] as u8 as f64,
        Data::I8(v) => v[i] as f64,
        Data::I16(v) => v[i] as f64,
        Data::I32(v) => v[i] as f64,
        Data::I64(v) => v[i] as f64,
        Data::U8(v) => v[i] as f64,
        Data::U16(v) => v[i] as f64,
        Data::U32(v) => v[i] as f64,
        Data::U64(v) => v[i] as f64,
        Data::F32(v) => v[i] as f64,
        Data::F64(v) => v[i],
        Data::Str(_) => return None,
    })
}

/// Element-wise equality with NaN equal to NaN, for blocks of one dtype.
pub fn same_data(a: &Data, b: &Data) -> bool {
    match (a, b) {
        (Data::F32(x), Data::F32(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        }
        (Data::F64(x), Data::F64(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        }
        _ => a == b,
    }
}

fn dense_of(s: &Sparse) -> Vec<f64> {
    let [r, c] = s.shape;
    let mut out = vec![0.0; (r * c) as usize];
    let major = if s.csr { r } else { c };
    for m in 0..major as usize {
        for k in s.indptr[m] as usize..s.indptr[m + 1] as usize {
            let minor = s.indices[k] as usize;
            let (i, j) = if s.csr { (m, minor) } else { (minor, m) };
            out[i * c as usize + j] += as_f64(&s.data, k).unwrap_or(f64::NAN);
        }
    }
    out
}

/// Whether anndata's `equal` would call two values the same.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => match (x, y) {
            (Data::Str(p), Data::Str(q)) => p == q,
            (Data::Str(_), _) | (_, Data::Str(_)) => false,
            // Python compares numbers by value whatever their types: 1 == 1.0.
            _ => as_f64(x, 0) == as_f64(y, 0),
        },
        // Arrays compare through DataFrame.equals: same shape, same dtype, NaN == NaN.
        (Value::Array { data: x, shape: s }, Value::Array { data: y, shape: t }) => {
            s == t && x.dtype() == y.dtype() && same_data(x, y)
        }
        // Sparse matrices compare by value; dtype and storage do not matter.
        (Value::Sparse(x), Value::Sparse(y)) => {
            x.shape == y.shape && {
                let (p, q) = (dense_of(x), dense_of(y));
                p.iter().zip(&q).all(|(u, v)| u == v)
            }
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && equal(v, v2)))
        }
        (Value::Null, Value::Null) => true,
        _ => column_equal(a, b),
    }
}

/// `Series.equals` on dataframe columns: same dtype, same values, missing where missing.
pub fn column_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (
            Value::Categorical {
                codes: c1,
                categories: k1,
                ordered: o1,
            },
            Value::Categorical {
                codes: c2,
                categories: k2,
                ordered: o2,
            },
        ) => {
            o1 == o2
                && k1.len() == k2.len()
                && c1.len() == c2.len()
                && (if *o1 {
                    same_data(k1, k2)
                } else {
                    same_set(k1, k2)
                })
                && c1.iter().zip(c2).all(|(&x, &y)| match (x, y) {
                    (-1, -1) => true,
                    (-1, _) | (_, -1) => false,
                    (x, y) => same_data(&take1(k1, x as usize), &take1(k2, y as usize)),
                })
        }
        (
            Value::Nullable {
                kind: k1,
                values: v1,
                mask: m1,
            },
            Value::Nullable {
                kind: k2,
                values: v2,
                mask: m2,
            },
        ) => {
            k1 == k2
                && v1.dtype() == v2.dtype()
                && m1 == m2
                && (0..m1.len()).all(|i| m1[i] || same_data(&take1(v1, i), &take1(v2, i)))
        }
        (Value::Frame(x), Value::Frame(y)) => {
            x.index == y.index
                && x.columns.len() == y.columns.len()
                && x.columns
                    .iter()
                    .zip(&y.columns)
                    .all(|((n1, c1), (n2, c2))| n1 == n2 && equal(c1, c2))
        }
        _ => false,
    }
}

fn same_set(a: &Data, b: &Data) -> bool {
    (0..a.len()).all(|i| {
        let x = take1(a, i);
        (0..b.len()).any(|j| same_data(&x, &take1(b, j)))
    })
}

/// The element at `i` as a one-element block.
#[allow(clippy::clone_on_copy)] // one body for every element type, strings included
pub fn take1(d: &Data, i: usize) -> Data {
    crate::with_data!(d, v => Data::from(vec![v[i].clone()]))
}

macro_rules! data_from {
    ($($t:ty => $var:ident),*) => {$(
        impl From<Vec<$t>> for Data {
            fn from(v: Vec<$t>) -> Data { Data::$var(v) }
        }
    )*};
}
data_from!(bool => Bool, i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16,
    u32 => U32, u64 => U64, f32 => F32, f64 => F64, String => Str);

/// Whether each element is non-zero (NaN counts as non-zero, as in numpy; a string
/// when it is not empty), with the element type matched once, not per element.
pub fn nonzero_flags(d: &Data) -> Vec<bool> {
    macro_rules! ne {
        ($v:expr, $zero:expr) => {
            $v.iter().map(|&x| x != $zero).collect()
        };
    }
    match d {
        Data::Bool(v) => v.clone(),
        Data::Str(v) => v.iter().map(|s| !s.is_empty()).collect(),
        Data::I8(v) => ne!(v, 0),
        Data::I16(v) => ne!(v, 0),
        Data::I32(v) => ne!(v, 0),
        Data::I64(v) => ne!(v, 0),
        Data::U8(v) => ne!(v, 0),
        Data::U16(v) => ne!(v, 0),
        Data::U32(v) => ne!(v, 0),
        Data::U64(v) => ne!(v, 0),
        // NaN != 0.0, so NaN is kept, as numpy counts it.
        Data::F32(v) => ne!(v, 0.0),
        Data::F64(v) => ne!(v, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element at `i` is non-zero, through its value as a float.
    fn nonzero(d: &Data, i: usize) -> bool {
        match d {
            Data::Bool(v) => v[i],
            Data::Str(v) => !v[i].is_empty(),
            other => as_f64(other, i).is_none_or(|x| x != 0.0),
        }
    }

    #[test]
    fn nonzero_flags_agree_with_nonzero() {
        let blocks = [
            Data::F64(vec![0.0, -0.0, f64::NAN, 1.5, f64::INFINITY]),
            Data::F32(vec![0.0, f32::NAN, -2.0]),
            Data::I64(vec![0, i64::MIN, 1]),
            Data::U8(vec![0, 255]),
            Data::Bool(vec![false, true]),
            Data::Str(vec![String::new(), "a".into()]),
        ];
        for d in &blocks {
            let each: Vec<bool> = (0..d.len()).map(|i| nonzero(d, i)).collect();
            assert_eq!(nonzero_flags(d), each, "{d:?}");
        }
        assert_eq!(
            nonzero_flags(&Data::F64(vec![0.0, -0.0, f64::NAN, 1.5])),
            [false, false, true, true]
        );
    }

    fn arr(d: Data) -> Value {
        let n = d.len() as u64;
        Value::Array {
            data: d,
            shape: vec![n],
        }
    }

    #[test]
    fn scalars_compare_by_value_across_types() {
        assert!(equal(
            &Value::Scalar(Data::I64(vec![1])),
            &Value::Scalar(Data::F64(vec![1.0]))
        ));
        assert!(!equal(
            &Value::Scalar(Data::I64(vec![1])),
            &Value::Scalar(Data::F64(vec![1.5]))
        ));
        assert!(!equal(
            &Value::Scalar(Data::Str(vec!["1".into()])),
            &Value::Scalar(Data::I64(vec![1]))
        ));
    }

    #[test]
    fn arrays_need_the_same_dtype_and_treat_nan_as_equal() {
        assert!(equal(
            &arr(Data::F64(vec![1.0, f64::NAN])),
            &arr(Data::F64(vec![1.0, f64::NAN]))
        ));
        assert!(!equal(
            &arr(Data::F64(vec![1.0, 2.0])),
            &arr(Data::I64(vec![1, 2]))
        ));
        assert!(!equal(
            &arr(Data::F64(vec![1.0, 2.0])),
            &arr(Data::F64(vec![1.0, 3.0]))
        ));
    }

    #[test]
    fn categoricals_compare_labels_not_codes() {
        let a = Value::Categorical {
            codes: vec![0, 1, -1],
            categories: Data::Str(vec!["x".into(), "y".into()]),
            ordered: false,
        };
        let b = Value::Categorical {
            codes: vec![1, 0, -1],
            categories: Data::Str(vec!["y".into(), "x".into()]),
            ordered: false,
        };
        assert!(equal(&a, &b));
        let c = Value::Categorical {
            codes: vec![1, 0, 0],
            categories: Data::Str(vec!["y".into(), "x".into()]),
            ordered: false,
        };
        assert!(!equal(&a, &c));
    }

    #[test]
    fn sparse_compares_values() {
        let a = Sparse {
            csr: true,
            shape: [2, 2],
            data: Data::F32(vec![1.0]),
            indices: vec![1],
            indptr: vec![0, 1, 1],
        };
        let b = Sparse {
            csr: false,
            shape: [2, 2],
            data: Data::F64(vec![1.0]),
            indices: vec![0],
            indptr: vec![0, 0, 1],
        };
        assert!(equal(&Value::Sparse(a.clone()), &Value::Sparse(b)));
        let mut c = a.clone();
        c.indices = vec![0];
        assert!(!equal(&Value::Sparse(a), &Value::Sparse(c)));
    }

    #[test]
    fn broken_sparse_is_refused() {
        let good = Sparse {
            csr: true,
            shape: [2, 3],
            data: Data::F32(vec![1.0, 2.0]),
            indices: vec![0, 2],
            indptr: vec![0, 1, 2],
        };
        assert!(good.check().is_ok());
        let mut s = good.clone();
        s.indptr = vec![0, 2, 1];
        assert!(s.check().unwrap_err().contains("indptr"));
        let mut s = good.clone();
        s.indices = vec![0, 3];
        assert!(s.check().unwrap_err().contains("out of range"));
        let mut s = good.clone();
        s.indptr = vec![0, 1];
        assert!(s.check().is_err());
        let mut s = good;
        s.data = Data::F32(vec![1.0]);
        assert!(s.check().is_err());
    }

    #[test]
    fn code_dtypes_follow_pandas() {
        assert_eq!(code_dtype(3), DType::I8);
        assert_eq!(code_dtype(126), DType::I8);
        assert_eq!(code_dtype(127), DType::I16);
        assert_eq!(code_dtype(40_000), DType::I32);
    }
}
