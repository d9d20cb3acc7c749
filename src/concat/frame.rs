//! The concatenation-axis dataframe (`obs` when joining along obs): columns are
//! unified across inputs as `pandas.concat` after anndata's `unify_dtypes` does it,
//! then streamed input by input in blocks of rows.

use crate::concat::blocks::Appender;
use crate::concat::dtype::{cast, filled, promote_all};
use crate::concat::index::natsort;
use crate::encoding::{Element, EncodingType};
use crate::error::{Error, Result};
use crate::store::{join, Attrs, DType, Data, NodeKind, StoreReader, StoreWriter};
use crate::value::{array_attrs, code_dtype, enc, frame_attrs, read_strings, read_value, Value};
use serde_json::json;

/// The three ways pandas holds strings: `object` (read from `string-array`), `str`
/// (missing is NaN) and `string` (missing is NA); concatenation keeps the most specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StrKind {
    Object,
    Str,
    String,
}

/// What one input's column holds, as far as unifying types is concerned.
#[derive(Clone, Debug, PartialEq)]
pub enum ColType {
    Num(DType),
    Bool,
    Str(StrKind),
    Cat { categories: Data, ordered: bool },
    NullInt(DType),
    NullBool,
}

/// The column as it will be written.
#[derive(Clone, Debug, PartialEq)]
pub enum OutCol {
    /// A plain array; `nan` fills missing rows (floats only).
    Num(DType),
    Bool,
    NullBool,
    NullInt(DType),
    /// Strings: `object` ones as `string-array` unless something is missing, the others
    /// as `nullable-string-array`, as anndata writes them.
    Str(StrKind),
    Cat {
        categories: Data,
        ordered: bool,
    },
}

/// One output column and, per input, the node it comes from (`None`: missing).
#[derive(Clone, Debug)]
pub struct ColumnPlan {
    pub name: String,
    pub out: OutCol,
    pub sources: Vec<Option<(String, ColType)>>,
}

pub fn col_type(store: &dyn StoreReader, node: &str) -> Result<ColType> {
    let e = Element::open(store, node)?;
    let unsupported = |what: &str| Error::UnsupportedElement {
        file: store.path().to_path_buf(),
        node: node.to_string(),
        encoding: format!("{} ({what})", e.encoding.name()),
        version: e.version.clone(),
    };
    Ok(match e.encoding {
        EncodingType::Array => {
            let info = store.array_info(node)?;
            if info.shape.len() != 1 {
                return Err(unsupported("not 1-D"));
            }
            match info.dtype {
                DType::Bool => ColType::Bool,
                DType::Str => ColType::Str(StrKind::Object),
                d => ColType::Num(d),
            }
        }
        EncodingType::StringArray => ColType::Str(StrKind::Object),
        EncodingType::NullableString => ColType::Str(if e.attr_str("na-value") == Some("NaN") {
            StrKind::Str
        } else {
            StrKind::String
        }),
        EncodingType::NullableInteger => {
            ColType::NullInt(store.array_info(&join(node, "values"))?.dtype)
        }
        EncodingType::NullableBoolean => ColType::NullBool,
        EncodingType::Categorical => {
            let ordered = e
                .attrs
                .get("ordered")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            match read_value(store, &join(node, "categories"))? {
                Value::Array { data, .. } => ColType::Cat {
                    categories: data,
                    ordered,
                },
                _ => return Err(unsupported("categories are not an array")),
            }
        }
        _ => return Err(unsupported("not a dataframe column")),
    })
}

fn sort_categories(mut d: Data) -> Data {
    match &mut d {
        Data::Str(v) => natsort(v),
        Data::F32(v) => v.sort_by(|a, b| a.total_cmp(b)),
        Data::F64(v) => v.sort_by(|a, b| a.total_cmp(b)),
        other => {
            crate::with_data!(other, v => v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)))
        }
    }
    d
}

fn same_set(a: &Data, b: &Data) -> bool {
    positions_in(a, b).iter().all(Option::is_some)
}

/// Where each value of `needles` (cast to `haystack`'s dtype) first appears in
/// `haystack`, by the equality of [`category_key`].
fn positions_in(haystack: &Data, needles: &Data) -> Vec<Option<usize>> {
    let mut at = std::collections::HashMap::with_capacity(haystack.len());
    for j in (0..haystack.len()).rev() {
        at.insert(category_key(haystack, j), j);
    }
    let needles = cast(needles.clone(), haystack.dtype());
    (0..needles.len())
        .map(|i| at.get(&category_key(&needles, i)).copied())
        .collect()
}

fn union_categories(list: &[&Data]) -> Option<Data> {
    let dtype = promote_all(list.iter().map(|d| d.dtype())).or_else(|| {
        list.iter()
            .all(|d| d.dtype() == DType::Str)
            .then_some(DType::Str)
    })?;
    let cast: Vec<Data> = list.iter().map(|d| cast((*d).clone(), dtype)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Data::with_capacity(dtype, 0);
    for d in &cast {
        for i in 0..d.len() {
            if seen.insert(category_key(d, i)) {
                crate::concat::blocks::extend(&mut out, crate::value::take1(d, i));
            }
        }
    }
    Some(out)
}

/// A category as a hashable key: equal keys exactly when `value::same_data` calls the
/// values equal (every NaN alike, `-0.0 == 0.0`).
#[derive(Hash, PartialEq, Eq)]
enum CategoryKey<'a> {
    Int(i128),
    Float(u64),
    Str(&'a str),
}

fn category_key(d: &Data, i: usize) -> CategoryKey<'_> {
    let float = |x: f64| {
        CategoryKey::Float(if x.is_nan() {
            f64::NAN.to_bits()
        } else if x == 0.0 {
            0
        } else {
            x.to_bits()
        })
    };
    match d {
        Data::Bool(v) => CategoryKey::Int(v[i] as i128),
        Data::I8(v) => CategoryKey::Int(v[i] as i128),
        Data::I16(v) => CategoryKey::Int(v[i] as i128),
        Data::I32(v) => CategoryKey::Int(v[i] as i128),
        Data::I64(v) => CategoryKey::Int(v[i] as i128),
        Data::U8(v) => CategoryKey::Int(v[i] as i128),
        Data::U16(v) => CategoryKey::Int(v[i] as i128),
        Data::U32(v) => CategoryKey::Int(v[i] as i128),
        Data::U64(v) => CategoryKey::Int(v[i] as i128),
        Data::F32(v) => float(v[i] as f64),
        Data::F64(v) => float(v[i]),
        Data::Str(v) => CategoryKey::Str(&v[i]),
    }
}

/// The most specific string kind among the inputs (`object` only if all are).
fn str_kind(types: &[&ColType]) -> StrKind {
    types
        .iter()
        .filter_map(|t| match t {
            ColType::Str(k) => Some(*k),
            _ => None,
        })
        .max()
        .unwrap_or(StrKind::Object)
}

/// The unified output column for the types present, as pandas and anndata decide it.
/// `has_missing`: some input lacks the column (outer join).
pub fn unify(types: &[&ColType], has_missing: bool) -> std::result::Result<OutCol, String> {
    unify_with(types, has_missing, has_missing)
}

/// [`unify`] where anndata and pandas disagree on what is missing: anndata's
/// `unify_dtypes` counts every input lacking the column (`listed`), while
/// `pandas.concat` first drops inputs with no rows and no columns, so only the others
/// leave holes that widen integers to float (`rows`).
pub fn unify_with(
    types: &[&ColType],
    listed: bool,
    rows: bool,
) -> std::result::Result<OutCol, String> {
    let has_missing = listed;
    let all = |f: fn(&ColType) -> bool| types.iter().all(|t| f(t));
    let any = |f: fn(&ColType) -> bool| types.iter().any(|t| f(t));
    if any(|t| matches!(t, ColType::Cat { .. })) {
        if all(|t| matches!(t, ColType::Cat { .. })) {
            let cats: Vec<(&Data, bool)> = types
                .iter()
                .map(|t| match t {
                    ColType::Cat {
                        categories,
                        ordered,
                    } => (categories, *ordered),
                    _ => unreachable!(),
                })
                .collect();
            let union = union_categories(&cats.iter().map(|c| c.0).collect::<Vec<_>>())
                .ok_or("categories of incompatible types")?;
            if !cats.iter().any(|c| c.1) {
                // pandas' astype to an unordered dtype with the same set is a no-op, so
                // the first input keeps its order when it already has every category.
                let first = cats[0].0;
                let categories = if first.len() == union.len() && same_set(first, &union) {
                    first.clone()
                } else {
                    sort_categories(union)
                };
                return Ok(OutCol::Cat {
                    categories,
                    ordered: false,
                });
            }
            let non_empty: Vec<&(&Data, bool)> = cats.iter().filter(|c| !c.0.is_empty()).collect();
            let same = non_empty.iter().all(|c| {
                c.1 && c.0.len() == union.len()
                    && crate::value::same_data(&cast((*c.0).clone(), union.dtype()), &union)
            });
            if !non_empty.is_empty() && same {
                return Ok(OutCol::Cat {
                    categories: non_empty[0].0.clone(),
                    ordered: true,
                });
            }
            // pandas then falls back to `object`, which anndata writes as strings.
            if cats.iter().all(|c| c.0.dtype() == DType::Str) {
                return Ok(OutCol::Str(StrKind::Object));
            }
            return Err("ordered categoricals with different non-string categories".into());
        }
        // pandas turns a categorical of strings next to strings into strings.
        let strings_only = types.iter().all(|t| match t {
            ColType::Cat { categories, .. } => categories.dtype() == DType::Str,
            ColType::Str { .. } => true,
            _ => false,
        });
        if strings_only {
            return Ok(OutCol::Str(str_kind(types)));
        }
        return Err("categorical mixed with non-string values".into());
    }
    if all(|t| matches!(t, ColType::Str { .. })) {
        return Ok(OutCol::Str(str_kind(types)));
    }
    if any(|t| matches!(t, ColType::Str { .. })) {
        return Err("strings mixed with other values".into());
    }
    if all(|t| matches!(t, ColType::Bool | ColType::NullBool)) {
        return Ok(if has_missing || any(|t| matches!(t, ColType::NullBool)) {
            OutCol::NullBool
        } else {
            OutCol::Bool
        });
    }
    if any(|t| matches!(t, ColType::NullBool)) {
        return Err("nullable booleans mixed with numbers".into());
    }
    let num = |t: &&ColType| match t {
        ColType::Num(d) | ColType::NullInt(d) => Some(*d),
        ColType::Bool => Some(DType::Bool),
        _ => None,
    };
    let dtype = promote_all(types.iter().filter_map(num)).ok_or("numbers of incompatible types")?;
    if any(|t| matches!(t, ColType::NullInt(_))) {
        if !dtype.is_integer() {
            return Err("nullable integers mixed with floats".into());
        }
        return Ok(OutCol::NullInt(dtype));
    }
    if rows && (dtype.is_integer() || dtype == DType::Bool) {
        return Ok(OutCol::Num(DType::F64));
    }
    Ok(OutCol::Num(dtype))
}

/// Output rows of one column from one input, in the column's representation.
struct Chunk {
    values: Data,
    mask: Option<Vec<bool>>,
}

fn read_col_block(
    store: &dyn StoreReader,
    node: &str,
    ty: &ColType,
    a: u64,
    n: u64,
) -> Result<(Data, Option<Vec<bool>>)> {
    Ok(match ty {
        ColType::Num(_) | ColType::Bool => (store.read(node, &[a], &[n])?, None),
        ColType::Str { .. } => match Element::open(store, node)?.encoding {
            EncodingType::NullableString => {
                let v = store.read(&join(node, "values"), &[a], &[n])?;
                let m = store.read(&join(node, "mask"), &[a], &[n])?;
                (v, Some(cast(m, DType::Bool).into_bools()))
            }
            _ => (store.read(node, &[a], &[n])?, None),
        },
        ColType::NullInt(_) | ColType::NullBool => {
            let v = store.read(&join(node, "values"), &[a], &[n])?;
            let m = store.read(&join(node, "mask"), &[a], &[n])?;
            (v, Some(cast(m, DType::Bool).into_bools()))
        }
        ColType::Cat { .. } => (store.read(&join(node, "codes"), &[a], &[n])?, None),
    })
}

trait IntoBools {
    fn into_bools(self) -> Vec<bool>;
}

impl IntoBools for Data {
    fn into_bools(self) -> Vec<bool> {
        match self {
            Data::Bool(v) => v,
            _ => Vec::new(),
        }
    }
}

fn codes_of(store: &dyn StoreReader, node: &str, d: Data, n_categories: usize) -> Result<Vec<i64>> {
    let codes = d.to_i64().ok_or_else(|| {
        Error::invalid(store.path(), node, "categorical", "codes are not integers")
    })?;
    if let Some(c) = codes.iter().find(|&&c| c < -1 || c >= n_categories as i64) {
        return Err(Error::invalid(
            store.path(),
            node,
            "categorical",
            format!("code {c} outside -1..{n_categories}"),
        ));
    }
    Ok(codes)
}

impl ColumnPlan {
    /// Converts `n` rows starting at `a` of input `i` (or fill rows when it lacks the
    /// column).
    fn chunk(&self, store: &dyn StoreReader, i: usize, a: u64, n: u64) -> Result<Chunk> {
        let n_us = n as usize;
        let Some((node, ty)) = &self.sources[i] else {
            return Ok(match &self.out {
                OutCol::Num(d) => Chunk {
                    values: filled(*d, n_us, f64::NAN),
                    mask: None,
                },
                OutCol::Bool => Chunk {
                    values: Data::Bool(vec![false; n_us]),
                    mask: None,
                },
                OutCol::NullBool => Chunk {
                    values: Data::Bool(vec![false; n_us]),
                    mask: Some(vec![true; n_us]),
                },
                OutCol::NullInt(d) => Chunk {
                    values: filled(*d, n_us, 0.0),
                    mask: Some(vec![true; n_us]),
                },
                OutCol::Str { .. } => Chunk {
                    values: Data::Str(vec![String::new(); n_us]),
                    mask: Some(vec![true; n_us]),
                },
                OutCol::Cat { .. } => Chunk {
                    values: Data::I64(vec![-1; n_us]),
                    mask: None,
                },
            });
        };
        let (values, mask) = read_col_block(store, node, ty, a, n)?;
        Ok(match (&self.out, ty) {
            (
                OutCol::Cat { categories, .. },
                ColType::Cat {
                    categories: own, ..
                },
            ) => {
                let table: Vec<i64> = positions_in(categories, own)
                    .into_iter()
                    .map(|p| p.map_or(-1, |p| p as i64))
                    .collect();
                let codes = codes_of(store, node, values, own.len())?;
                Chunk {
                    values: Data::I64(
                        codes
                            .iter()
                            .map(|&c| if c < 0 { -1 } else { table[c as usize] })
                            .collect(),
                    ),
                    mask: None,
                }
            }
            (
                OutCol::Str { .. },
                ColType::Cat {
                    categories: own, ..
                },
            ) => {
                let codes = codes_of(store, node, values, own.len())?;
                let labels = match own {
                    Data::Str(v) => v,
                    _ => {
                        return Err(Error::invalid(
                            store.path(),
                            node,
                            "categorical",
                            "categories are not strings",
                        ))
                    }
                };
                Chunk {
                    values: Data::Str(
                        codes
                            .iter()
                            .map(|&c| {
                                if c < 0 {
                                    String::new()
                                } else {
                                    labels[c as usize].clone()
                                }
                            })
                            .collect(),
                    ),
                    mask: Some(codes.iter().map(|&c| c < 0).collect()),
                }
            }
            (OutCol::Str { .. }, _) => Chunk {
                mask: Some(mask.unwrap_or_else(|| vec![false; n_us])),
                values,
            },
            (OutCol::NullBool, _) | (OutCol::NullInt(_), _) => {
                let dtype = match &self.out {
                    OutCol::NullInt(d) => *d,
                    _ => DType::Bool,
                };
                Chunk {
                    values: cast(values, dtype),
                    mask: Some(mask.unwrap_or_else(|| vec![false; n_us])),
                }
            }
            (OutCol::Num(d), _) => Chunk {
                values: cast(values, *d),
                mask: None,
            },
            (OutCol::Bool, _) => Chunk {
                values: cast(values, DType::Bool),
                mask: None,
            },
            (OutCol::Cat { .. }, _) => {
                unreachable!("categorical output only from categorical inputs")
            }
        })
    }
}

/// The concatenation-axis dataframe to write.
#[derive(Clone, Debug)]
pub struct FrameJob {
    pub node: String,
    /// Per input: the dataframe node and its row count.
    pub frames: Vec<(String, u64)>,
    pub columns: Vec<ColumnPlan>,
    /// Label column: name and the keys (its categories).
    pub label: Option<String>,
    pub keys: Vec<String>,
    pub index_unique: Option<String>,
    /// anndata's writer turns repetitive string columns of obs, var and raw/var (not
    /// of dataframes elsewhere) into categoricals.
    pub strings_to_categoricals: bool,
}

impl FrameJob {
    pub fn write(
        &self,
        inputs: &[&dyn StoreReader],
        out: &dyn StoreWriter,
        layout: &crate::layout::Layout,
        block_rows: u64,
    ) -> Result<()> {
        let total: u64 = self.frames.iter().map(|f| f.1).sum();
        let mut names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        if let Some(label) = &self.label {
            if !names.contains(label) {
                names.push(label.clone());
            }
        }
        out.create_group(&self.node, &frame_attrs("_index", &names))?;
        self.write_index(inputs, out, layout, total, block_rows)?;
        for col in &self.columns {
            if self.label.as_deref() == Some(col.name.as_str()) {
                continue;
            }
            self.write_column(col, inputs, out, layout, total, block_rows)?;
        }
        if let Some(label) = &self.label {
            let cats = Data::Str(self.keys.clone());
            let node = join(&self.node, label);
            let mut a = enc("categorical", "0.2.0");
            a.insert("ordered".into(), json!(false));
            out.create_group(&node, &a)?;
            let code_t = code_dtype(self.keys.len());
            let spec = layout.spec(&[total], code_t);
            out.create_array(&join(&node, "codes"), &spec, &array_attrs(code_t, false))?;
            let mut codes = Appender::new(out, &join(&node, "codes"), &spec);
            for (i, (_, n)) in self.frames.iter().enumerate() {
                let mut left = *n;
                while left > 0 {
                    let k = left.min(block_rows);
                    codes.push(cast(Data::I64(vec![i as i64; k as usize]), code_t))?;
                    left -= k;
                }
            }
            codes.finish()?;
            write_whole(out, layout, &join(&node, "categories"), &cats)?;
        }
        Ok(())
    }

    fn write_index(
        &self,
        inputs: &[&dyn StoreReader],
        out: &dyn StoreWriter,
        layout: &crate::layout::Layout,
        total: u64,
        block_rows: u64,
    ) -> Result<()> {
        // anndata 0.13 writes indexes as pandas `str` arrays: nullable, missing as NaN.
        let node = join(&self.node, "_index");
        let mut a = enc("nullable-string-array", "0.1.0");
        a.insert("na-value".into(), json!("NaN"));
        let (values_node, mask_node, _) =
            self.nullable_group(out, layout, &node, a, DType::Str, total)?;
        let mask_node = mask_node.unwrap_or_default();
        let spec = layout.spec(&[total], DType::Str);
        let mut app = Appender::new(out, &values_node, &spec);
        let mspec = layout.spec(&[total], DType::Bool);
        let mut mask = Appender::new(out, &mask_node, &mspec);
        for (i, (frame, n)) in self.frames.iter().enumerate() {
            let store = inputs[i];
            let e = Element::open(store, frame)?;
            let index_node = join(frame, e.attr_str("_index").unwrap_or("_index"));
            let index_elem = Element::open(store, &index_node)?;
            let values_node = match index_elem.encoding {
                EncodingType::NullableString => join(&index_node, "values"),
                _ => index_node.clone(),
            };
            let mut a = 0;
            while a < *n {
                let k = (*n - a).min(block_rows);
                let block = match store.read(&values_node, &[a], &[k])? {
                    Data::Str(v) => v,
                    other => match other.to_i64() {
                        Some(v) => v.into_iter().map(|x| x.to_string()).collect(),
                        None => {
                            return Err(Error::invalid(
                                store.path(),
                                &index_node,
                                "dataframe",
                                "index is not strings",
                            ))
                        }
                    },
                };
                let block = match &self.index_unique {
                    Some(sep) => block
                        .into_iter()
                        .map(|s| format!("{s}{sep}{}", self.keys[i]))
                        .collect(),
                    None => block,
                };
                mask.push(Data::Bool(vec![false; block.len()]))?;
                app.push(Data::Str(block))?;
                a += k;
            }
        }
        app.finish()?;
        mask.finish()?;
        Ok(())
    }

    fn write_column(
        &self,
        col: &ColumnPlan,
        inputs: &[&dyn StoreReader],
        out: &dyn StoreWriter,
        layout: &crate::layout::Layout,
        total: u64,
        block_rows: u64,
    ) -> Result<()> {
        let node = join(&self.node, &col.name);
        if self.strings_to_categoricals && matches!(col.out, OutCol::Str(_)) {
            if let Some(cats) = self.string_categories(col, inputs, total, block_rows)? {
                return self
                    .write_as_categorical(col, &cats, inputs, out, layout, total, block_rows);
            }
        }
        // `object` strings stay a plain `string-array` unless an entry is missing.
        let plain_strings = col.out == OutCol::Str(StrKind::Object)
            && !self.any_missing_string(col, inputs, block_rows)?;
        let (values_node, mask_node, value_dtype) = match &col.out {
            OutCol::Num(d) => {
                let spec = layout.spec(&[total], *d);
                out.create_array(&node, &spec, &array_attrs(*d, false))?;
                (node.clone(), None, *d)
            }
            OutCol::Bool => {
                let spec = layout.spec(&[total], DType::Bool);
                out.create_array(&node, &spec, &array_attrs(DType::Bool, false))?;
                (node.clone(), None, DType::Bool)
            }
            OutCol::Str(_) if plain_strings => {
                let spec = layout.spec(&[total], DType::Str);
                out.create_array(&node, &spec, &array_attrs(DType::Str, false))?;
                (node.clone(), None, DType::Str)
            }
            OutCol::Str(kind) => {
                let mut a = enc("nullable-string-array", "0.1.0");
                let na = if *kind == StrKind::String {
                    "NA"
                } else {
                    "NaN"
                };
                a.insert("na-value".into(), json!(na));
                self.nullable_group(out, layout, &node, a, DType::Str, total)?
            }
            OutCol::NullInt(d) => self.nullable_group(
                out,
                layout,
                &node,
                enc("nullable-integer", "0.1.0"),
                *d,
                total,
            )?,
            OutCol::NullBool => self.nullable_group(
                out,
                layout,
                &node,
                enc("nullable-boolean", "0.1.0"),
                DType::Bool,
                total,
            )?,
            OutCol::Cat {
                categories,
                ordered,
            } => {
                let mut a = enc("categorical", "0.2.0");
                a.insert("ordered".into(), json!(ordered));
                out.create_group(&node, &a)?;
                let code_t = code_dtype(categories.len());
                let spec = layout.spec(&[total], code_t);
                out.create_array(&join(&node, "codes"), &spec, &array_attrs(code_t, false))?;
                write_whole(out, layout, &join(&node, "categories"), categories)?;
                (join(&node, "codes"), None, code_t)
            }
        };
        let vspec = layout.spec(&[total], value_dtype);
        let mut values = Appender::new(out, &values_node, &vspec);
        let mspec = layout.spec(&[total], DType::Bool);
        let mut mask = mask_node.as_ref().map(|m| Appender::new(out, m, &mspec));
        for (i, (_, n)) in self.frames.iter().enumerate() {
            let mut a = 0;
            while a < *n {
                let k = (*n - a).min(block_rows);
                let chunk = col.chunk(inputs[i], i, a, k)?;
                values.push(cast(chunk.values, value_dtype))?;
                if let Some(m) = mask.as_mut() {
                    m.push(Data::Bool(
                        chunk.mask.unwrap_or_else(|| vec![false; k as usize]),
                    ))?;
                }
                a += k;
            }
        }
        values.finish()?;
        if let Some(m) = mask {
            m.finish()?;
        }
        Ok(())
    }

    fn nullable_group(
        &self,
        out: &dyn StoreWriter,
        layout: &crate::layout::Layout,
        node: &str,
        attrs: Attrs,
        dtype: DType,
        total: u64,
    ) -> Result<(String, Option<String>, DType)> {
        out.create_group(node, &attrs)?;
        let (v, m) = (join(node, "values"), join(node, "mask"));
        out.create_array(
            &v,
            &layout.spec(&[total], dtype),
            &array_attrs(dtype, false),
        )?;
        out.create_array(
            &m,
            &layout.spec(&[total], DType::Bool),
            &array_attrs(DType::Bool, false),
        )?;
        Ok((v, Some(m), dtype))
    }

    /// The categories anndata's writer would turn this string column into, if any
    /// (a pass over the column keeping its distinct values).
    fn string_categories(
        &self,
        col: &ColumnPlan,
        inputs: &[&dyn StoreReader],
        total: u64,
        block_rows: u64,
    ) -> Result<Option<Vec<String>>> {
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (i, (_, n)) in self.frames.iter().enumerate() {
            let mut a = 0;
            while a < *n {
                let k = (*n - a).min(block_rows);
                let chunk = col.chunk(inputs[i], i, a, k)?;
                if let Data::Str(v) = chunk.values {
                    for (j, s) in v.into_iter().enumerate() {
                        if chunk.mask.as_ref().is_none_or(|m| !m[j]) {
                            seen.insert(s);
                        }
                    }
                }
                if seen.len() as u64 >= total {
                    return Ok(None);
                }
                a += k;
            }
        }
        Ok(crate::value::categories_for(
            seen.iter().map(|s| s.as_str()),
            total as usize,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_as_categorical(
        &self,
        col: &ColumnPlan,
        cats: &[String],
        inputs: &[&dyn StoreReader],
        out: &dyn StoreWriter,
        layout: &crate::layout::Layout,
        total: u64,
        block_rows: u64,
    ) -> Result<()> {
        let node = join(&self.node, &col.name);
        let mut a = enc("categorical", "0.2.0");
        a.insert("ordered".into(), json!(false));
        out.create_group(&node, &a)?;
        let code_t = code_dtype(cats.len());
        let spec = layout.spec(&[total], code_t);
        out.create_array(&join(&node, "codes"), &spec, &array_attrs(code_t, false))?;
        write_whole(
            out,
            layout,
            &join(&node, "categories"),
            &Data::Str(cats.to_vec()),
        )?;
        let pos: std::collections::HashMap<&str, i64> = cats
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as i64))
            .collect();
        let mut codes = Appender::new(out, &join(&node, "codes"), &spec);
        for (i, (_, n)) in self.frames.iter().enumerate() {
            let mut r = 0;
            while r < *n {
                let k = (*n - r).min(block_rows);
                let chunk = col.chunk(inputs[i], i, r, k)?;
                let Data::Str(v) = chunk.values else {
                    return Err(Error::invalid(
                        inputs[i].path(),
                        &node,
                        "dataframe",
                        "expected strings",
                    ));
                };
                let block: Vec<i64> = v
                    .iter()
                    .enumerate()
                    .map(|(j, s)| match &chunk.mask {
                        Some(m) if m[j] => -1,
                        _ => pos.get(s.as_str()).copied().unwrap_or(-1),
                    })
                    .collect();
                codes.push(cast(Data::I64(block), code_t))?;
                r += k;
            }
        }
        codes.finish()?;
        Ok(())
    }

    /// Whether the string column will hold a missing entry (a pre-pass over masks and
    /// categorical codes only).
    fn any_missing_string(
        &self,
        col: &ColumnPlan,
        inputs: &[&dyn StoreReader],
        block_rows: u64,
    ) -> Result<bool> {
        for (i, (_, n)) in self.frames.iter().enumerate() {
            let Some((_, ty)) = &col.sources[i] else {
                if *n > 0 {
                    return Ok(true);
                }
                continue;
            };
            if !matches!(ty, ColType::Cat { .. } | ColType::Str { .. }) {
                continue;
            }
            let mut a = 0;
            while a < *n {
                let k = (*n - a).min(block_rows);
                let chunk = col.chunk(inputs[i], i, a, k)?;
                if chunk.mask.is_some_and(|m| m.iter().any(|&x| x)) {
                    return Ok(true);
                }
                a += k;
            }
        }
        Ok(false)
    }
}

fn write_whole(
    out: &dyn StoreWriter,
    layout: &crate::layout::Layout,
    node: &str,
    data: &Data,
) -> Result<()> {
    let n = data.len() as u64;
    out.create_array(
        node,
        &layout.spec(&[n], data.dtype()),
        &array_attrs(data.dtype(), false),
    )?;
    if n > 0 {
        out.write(node, &[0], &[n], data)?;
    }
    Ok(())
}

/// Checks that every row-aligned array of the dataframe column at `node` (the array
/// itself, a categorical's codes, a nullable array's values and mask) has `rows`
/// entries. Reads metadata only.
pub fn check_column_rows(store: &dyn StoreReader, node: &str, rows: u64) -> Result<()> {
    let e = Element::open(store, node)?;
    let parts: &[&str] = match e.encoding {
        EncodingType::Categorical => &["codes"],
        EncodingType::NullableString
        | EncodingType::NullableInteger
        | EncodingType::NullableBoolean => &["values", "mask"],
        _ if e.kind == NodeKind::Array => &[""],
        _ => &[],
    };
    for part in parts {
        let array = if part.is_empty() {
            node.to_string()
        } else {
            join(node, part)
        };
        let len = store
            .array_info(&array)?
            .shape
            .first()
            .copied()
            .unwrap_or(0);
        if len != rows {
            let what = if part.is_empty() { "column" } else { part };
            return Err(Error::invalid(
                store.path(),
                node,
                e.encoding.name(),
                format!("{what} has {len} rows, expected {rows} (the dataframe's length)"),
            ));
        }
    }
    Ok(())
}

/// Reads the column names of a dataframe element and its row count.
pub fn frame_shape(store: &dyn StoreReader, node: &str) -> Result<(Vec<String>, u64)> {
    let e = Element::open(store, node)?;
    if e.encoding != EncodingType::DataFrame {
        return Err(Error::invalid(
            store.path(),
            node,
            "dataframe",
            format!("is a {}", e.encoding),
        ));
    }
    let index = join(node, e.attr_str("_index").unwrap_or("_index"));
    let ie = Element::open(store, &index)?;
    let len_node = match ie.encoding {
        EncodingType::NullableString => join(&index, "values"),
        _ => index.clone(),
    };
    let n = store
        .array_info(&len_node)?
        .shape
        .first()
        .copied()
        .unwrap_or(0);
    Ok((crate::value::column_order(&e), n))
}

/// The names in a dataframe's index.
pub fn frame_index(store: &dyn StoreReader, node: &str) -> Result<Vec<String>> {
    let e = Element::open(store, node)?;
    read_strings(store, &join(node, e.attr_str("_index").unwrap_or("_index")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_union_keeps_first_appearance_and_treats_nan_and_zero_alike() {
        let u = union_categories(&[&strs(&["b", "a"]), &strs(&["a", "c", "b"])]).unwrap();
        assert_eq!(u, strs(&["b", "a", "c"]));
        let f = union_categories(&[
            &Data::F64(vec![f64::NAN, -0.0, 1.5]),
            &Data::F32(vec![0.0, f32::NAN, 2.0]),
        ])
        .unwrap();
        assert!(crate::value::same_data(
            &f,
            &Data::F64(vec![f64::NAN, -0.0, 1.5, 2.0])
        ));
        let ints = union_categories(&[&Data::I8(vec![3, 1]), &Data::I64(vec![1, 7])]).unwrap();
        assert_eq!(ints, Data::I64(vec![3, 1, 7]));
    }

    #[test]
    fn positions_of_categories_in_a_large_union() {
        let big: Vec<String> = (0..50_000).map(|i| format!("c{i}")).collect();
        let hay = Data::Str(big.clone());
        let needles = strs(&["c49999", "nope", "c0", "c0"]);
        assert_eq!(
            positions_in(&hay, &needles),
            vec![Some(49_999), None, Some(0), Some(0)]
        );
        assert!(same_set(&hay, &Data::Str(big.into_iter().rev().collect())));
    }

    fn strs(v: &[&str]) -> Data {
        Data::Str(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn unordered_categoricals_union_in_natural_order() {
        let a = ColType::Cat {
            categories: strs(&["c10", "a"]),
            ordered: false,
        };
        let b = ColType::Cat {
            categories: strs(&["c2", "a"]),
            ordered: false,
        };
        let out = unify(&[&a, &b], false).unwrap();
        assert_eq!(
            out,
            OutCol::Cat {
                categories: strs(&["a", "c2", "c10"]),
                ordered: false
            }
        );
    }

    #[test]
    fn ordered_categoricals_keep_identical_categories() {
        let a = ColType::Cat {
            categories: strs(&["lo", "hi"]),
            ordered: true,
        };
        let out = unify(&[&a, &a.clone()], true).unwrap();
        assert_eq!(
            out,
            OutCol::Cat {
                categories: strs(&["lo", "hi"]),
                ordered: true
            }
        );
        let b = ColType::Cat {
            categories: strs(&["hi", "lo"]),
            ordered: true,
        };
        // Differing order: pandas falls back to object strings.
        assert_eq!(unify(&[&a, &b], false), Ok(OutCol::Str(StrKind::Object)));
        let n = ColType::Cat {
            categories: Data::I64(vec![1, 2]),
            ordered: true,
        };
        let m = ColType::Cat {
            categories: Data::I64(vec![2, 1]),
            ordered: true,
        };
        assert!(unify(&[&n, &m], false).is_err());
    }

    #[test]
    fn missing_columns_widen_like_pandas() {
        assert_eq!(
            unify(&[&ColType::Num(DType::I32)], true).unwrap(),
            OutCol::Num(DType::F64)
        );
        assert_eq!(
            unify(&[&ColType::Num(DType::F32)], true).unwrap(),
            OutCol::Num(DType::F32)
        );
        assert_eq!(unify(&[&ColType::Bool], true).unwrap(), OutCol::NullBool);
        assert_eq!(
            unify(&[&ColType::Bool, &ColType::Bool], false).unwrap(),
            OutCol::Bool
        );
        assert_eq!(
            unify(
                &[&ColType::NullInt(DType::I32), &ColType::Num(DType::I64)],
                false
            )
            .unwrap(),
            OutCol::NullInt(DType::I64)
        );
        assert!(unify(
            &[&ColType::Num(DType::I32), &ColType::Str(StrKind::Object)],
            false
        )
        .is_err());
    }
}
