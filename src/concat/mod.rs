//! `adcat concat`: out-of-core concatenation with the semantics of `anndata.concat`.
//!
//! A metadata pass ([`plan`]) opens and checks every input, builds the result's
//! alternate-axis index, the reindexing of each input onto it, the unified type of
//! every dataframe column and the dtype, storage and size bound of every matrix. Only
//! values that anndata compares whole (alternate-axis annotations, `uns`) are read
//! then. [`execute`] streams the rest into a temporary sibling of the output.

pub mod align;
pub mod blocks;
pub mod device;
pub mod dtype;
pub mod frame;
pub mod index;
pub mod matrix;
pub mod merge;
pub mod pipeline;
pub mod spill;
pub mod words;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use crate::encoding::{walk, Element, EncodingType, Part as WalkPart, Visit};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::output::write_staged;
use crate::progress::Progress;
use crate::store::{self, join, DType, NodeKind, StoreReader};
use crate::value::{enc, read_value, write_frame, write_value, Frame, Value};
use frame::{
    check_column_rows, col_type, frame_index, frame_shape, unify_with, ColumnPlan, FrameJob,
};
use index::{first_duplicate, merge_indices, Reindex};
use matrix::{MatrixJob, OutKind, Part, Source, Storage};
use merge::{merge_values, Strategy};

/// A number given with `--fill-value`; numpy sees an integer or a float.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Fill {
    Int(i64),
    Float(f64),
}

impl Fill {
    fn value(self) -> f64 {
        match self {
            Fill::Int(i) => i as f64,
            Fill::Float(f) => f,
        }
    }

    /// numpy's dtype for `asarray(fill)`.
    fn dtype(self) -> DType {
        match self {
            Fill::Int(_) => DType::I64,
            Fill::Float(_) => DType::F64,
        }
    }
}

/// What the user asked for, already validated.
#[derive(Clone, Debug)]
pub struct ConcatOptions {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    /// 0: along obs; 1: along var.
    pub axis: usize,
    pub outer: bool,
    pub merge: Strategy,
    pub uns_merge: Strategy,
    pub label: Option<String>,
    pub keys: Option<Vec<String>>,
    pub index_unique: Option<String>,
    pub fill_value: Option<Fill>,
    pub pairwise: bool,
    /// int64 indices and indptr for every sparse result, even where int32 would do.
    pub wide_indices: bool,
    pub device: device::Device,
    pub layout: Layout,
    pub max_memory: u64,
    pub overwrite: bool,
    /// Check the written store before moving it into place (`--validate`).
    pub validate: bool,
    pub progress: bool,
}

/// The result, fully decided before anything is written.
pub struct ConcatPlan {
    pub options: ConcatOptions,
    /// (n_obs, n_vars) of the result.
    pub shape: [u64; 2],
    pub frame: FrameJob,
    pub alt_frame: Frame,
    /// Dataframes inside `{axis}m`, concatenated like the axis dataframe.
    pub axis_m_frames: Vec<FrameJob>,
    pub matrices: Vec<MatrixJob>,
    /// Whole values: `{alt}m`, `{alt}p` entries and `uns`.
    pub values: Vec<(String, Value)>,
    pub raw: Option<RawPlan>,
    pub payload_bytes: u64,
}

const AXES: [&str; 2] = ["obs", "var"];

struct Input {
    store: Box<dyn StoreReader>,
    /// Rows of obs and var.
    shape: [u64; 2],
    alt_names: Vec<String>,
}

struct NoOp;

impl Visit for NoOp {
    fn visit(&mut self, _part: WalkPart<'_>) -> Result<()> {
        Ok(())
    }
}

fn open_input(path: &Path, axis: usize) -> Result<Input> {
    let store = store::open(path)?;
    // Every element is checked now, so a broken input fails before any output exists.
    walk(store.as_ref(), &mut NoOp)?;
    for name in AXES {
        if store.kind(name)? != Some(NodeKind::Group) {
            return Err(Error::invalid(
                store.path(),
                name,
                "anndata",
                format!("missing {name} dataframe"),
            ));
        }
    }
    let (obs_cols, n_obs) = frame_shape(store.as_ref(), "obs")?;
    let (var_cols, n_var) = frame_shape(store.as_ref(), "var")?;
    for (frame, cols, n) in [("obs", obs_cols, n_obs), ("var", var_cols, n_var)] {
        let index = Element::open(store.as_ref(), frame)?
            .attr_str("_index")
            .unwrap_or("_index")
            .to_string();
        for col in std::iter::once(index).chain(cols) {
            check_column_rows(store.as_ref(), &join(frame, &col), n)?;
        }
    }
    let alt_names = frame_index(store.as_ref(), AXES[1 - axis])?;
    Ok(Input {
        store,
        shape: [n_obs, n_var],
        alt_names,
    })
}

/// Whether `node` holds a value: anndata writes absent elements (`raw`, `X`) as `null`.
fn present(store: &dyn StoreReader, node: &str) -> Result<bool> {
    if store.kind(node)?.is_none() {
        return Ok(false);
    }
    let attrs = store.attrs(node)?;
    Ok(attrs.get("encoding-type").and_then(|v| v.as_str()) != Some("null"))
}

fn children_of(store: &dyn StoreReader, group: &str) -> Result<Vec<String>> {
    Ok(match store.kind(group)? {
        Some(NodeKind::Group) => store.children(group)?,
        _ => Vec::new(),
    })
}

/// Each input's entries of `group`, and the entries the result has under the join.
fn group_keys(
    inputs: &[Input],
    group: &str,
    outer: bool,
) -> Result<(Vec<Vec<String>>, Vec<String>)> {
    let lists: Vec<Vec<String>> = inputs
        .iter()
        .map(|i| children_of(i.store.as_ref(), group))
        .collect::<Result<_>>()?;
    let keys = join_keys(&lists, outer);
    Ok((lists, keys))
}

fn join_keys(lists: &[Vec<String>], outer: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if outer {
        for l in lists {
            for k in l {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    } else if let Some(first) = lists.first() {
        for k in first {
            if lists.iter().all(|l| l.contains(k)) && !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

/// The storage, dtype and shape of a 2-D element.
fn source(store: &dyn StoreReader, node: &str) -> Result<Source> {
    let e = Element::open(store, node)?;
    match e.encoding {
        EncodingType::Csr | EncodingType::Csc => {
            let (r, c) = e.sparse_shape(store)?;
            let info = store.array_info(&join(node, "data"))?;
            check_indptr_ends(store, &e, info.shape.first().copied().unwrap_or(0))?;
            Ok(Source {
                node: node.to_string(),
                storage: Storage::Sparse {
                    csr: e.encoding == EncodingType::Csr,
                    nnz: info.shape.first().copied().unwrap_or(0),
                },
                dtype: info.dtype,
                shape: [r, c],
            })
        }
        EncodingType::Array => {
            let info = store.array_info(node)?;
            if info.shape.len() != 2 || info.dtype == DType::Str {
                return Err(Error::UnsupportedElement {
                    file: store.path().to_path_buf(),
                    node: node.to_string(),
                    encoding: format!(
                        "array of shape {:?} and dtype {} (concat needs a 2-D numeric array)",
                        info.shape, info.dtype
                    ),
                    version: e.version,
                });
            }
            Ok(Source {
                node: node.to_string(),
                storage: Storage::Dense,
                dtype: info.dtype,
                shape: [info.shape[0], info.shape[1]],
            })
        }
        other => Err(Error::UnsupportedElement {
            file: store.path().to_path_buf(),
            node: node.to_string(),
            encoding: format!("{other} (as a matrix to concatenate)"),
            version: e.version,
        }),
    }
}

/// Checks that `indptr` of a sparse element starts at 0 and ends at the number of
/// stored entries: two reads, so the plan catches what would otherwise be found (or
/// missed) halfway through writing. Entries in between are checked while streaming.
fn check_indptr_ends(store: &dyn StoreReader, e: &Element, nnz: u64) -> Result<()> {
    let node = join(&e.node, "indptr");
    let bad = |reason: String| Error::invalid(store.path(), &e.node, e.encoding.name(), reason);
    let len = store.array_info(&node)?.shape.first().copied().unwrap_or(0);
    if len == 0 {
        return Err(bad("indptr is empty".into()));
    }
    let at = |i: u64| -> Result<i64> {
        store
            .read(&node, &[i], &[1])?
            .to_i64()
            .and_then(|v| v.first().copied())
            .ok_or_else(|| bad("indptr does not hold integers".into()))
    };
    let first = at(0)?;
    if first != 0 {
        return Err(bad(format!("indptr starts at {first}, expected 0")));
    }
    let last = at(len - 1)?;
    if u64::try_from(last).ok() != Some(nnz) {
        return Err(bad(format!(
            "indptr ends at {last}, but data and indices have {nnz} entries"
        )));
    }
    Ok(())
}

/// Decides storage, dtype and size bound of a concatenated matrix as anndata would.
fn matrix_job(
    node: String,
    axis: usize,
    parts: Vec<Part>,
    shape: [u64; 2],
    fill: Option<Fill>,
) -> Option<MatrixJob> {
    let present: Vec<&Source> = parts.iter().filter_map(|p| p.source.as_ref()).collect();
    let sparse: Vec<bool> = present
        .iter()
        .filter_map(|s| match s.storage {
            Storage::Sparse { csr, .. } => Some(csr),
            Storage::Dense => None,
        })
        .collect();
    let kind = if sparse.is_empty() {
        OutKind::Dense
    } else if sparse.iter().all(|c| !c) {
        OutKind::Csc
    } else {
        OutKind::Csr
    };
    let fill_value = fill.map_or(
        if kind == OutKind::Dense {
            f64::NAN
        } else {
            0.0
        },
        Fill::value,
    );
    let fill_dtype = fill.map_or(DType::F64, Fill::dtype);
    let mut dtypes = Vec::new();
    for p in &parts {
        match &p.source {
            Some(s) => {
                let alt_len = s.shape[1 - axis];
                let needs_fill =
                    p.alt.has_missing() && (kind == OutKind::Dense || fill_value != 0.0);
                if alt_len == 0
                    && p.alt.new_len > 0
                    && (kind == OutKind::Dense || fill_value != 0.0)
                {
                    dtypes.push(fill_dtype);
                } else if needs_fill {
                    dtypes.push(dtype::promote(s.dtype, fill_dtype)?);
                } else {
                    dtypes.push(s.dtype);
                }
            }
            None if kind == OutKind::Dense || fill_value != 0.0 => dtypes.push(fill_dtype),
            // anndata pads a missing sparse element with an empty float64 matrix.
            None => dtypes.push(DType::F64),
        }
    }
    let dtype = dtype::promote_all(dtypes)?;
    let mut nnz_bound = 0u64;
    if kind != OutKind::Dense {
        for p in &parts {
            nnz_bound += match &p.source {
                Some(Source {
                    storage: Storage::Sparse { nnz, .. },
                    ..
                }) => *nnz,
                Some(s) => s.shape[0] * s.shape[1],
                None => 0,
            };
            if fill_value != 0.0 {
                let missing = match &p.source {
                    Some(_) => p.alt.new_len - p.alt.old_to_new.iter().flatten().count() as u64,
                    None => p.alt.new_len,
                };
                nnz_bound += missing * p.len;
            }
        }
    }
    Some(MatrixJob {
        node,
        axis,
        parts,
        shape,
        kind,
        dtype,
        fill: fill_value,
        nnz_bound,
    })
}

fn no_common_dtype(node: &str, inputs: &[PathBuf]) -> Error {
    Error::Usage(format!(
        "{}: /{node}: the inputs' dtypes cannot be promoted to a common numeric type",
        inputs
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ))
}

/// Builds the plan from metadata (and the small values anndata compares whole).
pub fn plan(options: ConcatOptions) -> Result<ConcatPlan> {
    if options.inputs.is_empty() {
        return Err(Error::Usage("concat needs at least one input".into()));
    }
    crate::output::check_target(&options.output, options.overwrite)?;
    let axis = options.axis;
    let alt = 1 - axis;
    let (axis_name, alt_name) = (AXES[axis], AXES[alt]);
    let inputs: Vec<Input> = options
        .inputs
        .iter()
        .map(|p| open_input(p, axis))
        .collect::<Result<_>>()?;
    let n = inputs.len();
    let keys: Vec<String> = match &options.keys {
        Some(k) if k.len() != n => {
            return Err(Error::Usage(format!(
                "--keys has {} names for {n} inputs",
                k.len()
            )));
        }
        Some(k) => k.clone(),
        None => (0..n).map(|i| i.to_string()).collect(),
    };

    // The alternate axis: names, and where each input's names go.
    let alt_lists: Vec<&[String]> = inputs.iter().map(|i| i.alt_names.as_slice()).collect();
    let alt_names = merge_indices(&alt_lists, options.outer);
    let reindex: Vec<Reindex> = inputs
        .iter()
        .map(|i| Reindex::by_name(&i.alt_names, &alt_names))
        .collect();
    // anndata refuses duplicated names on the alternate axis even when no input needs
    // reindexing ("Reindexing only valid with uniquely valued Index objects").
    for input in &inputs {
        if let Some(dup) = first_duplicate(&input.alt_names) {
            return Err(Error::invalid(
                input.store.path(),
                alt_name,
                "dataframe",
                format!("name {dup:?} occurs twice; inputs with duplicated {alt_name} names cannot be aligned"),
            ));
        }
    }
    let lens: Vec<u64> = inputs.iter().map(|i| i.shape[axis]).collect();
    let offsets: Vec<u64> = lens
        .iter()
        .scan(0, |acc, &l| {
            let o = *acc;
            *acc += l;
            Some(o)
        })
        .collect();
    let total: u64 = lens.iter().sum();
    let mut shape = [0u64; 2];
    shape[axis] = total;
    shape[alt] = alt_names.len() as u64;

    let frame = plan_frame(
        &inputs,
        &options,
        FrameSources {
            out: axis_name.to_string(),
            frames: vec![Some(axis_name.to_string()); n],
            index: axis_name.to_string(),
            label: options.label.clone(),
            strings_to_categoricals: true,
        },
        &keys,
    )?;
    let alt_frame = plan_alt_frame(&inputs, &options, alt_name, &alt_names, &reindex)?;

    let mut matrices = Vec::new();
    // X and layers: X is the layer without a key.
    let mut layer_lists = Vec::new();
    for input in &inputs {
        let mut l: Vec<String> = children_of(input.store.as_ref(), "layers")?
            .into_iter()
            .map(|k| format!("layers/{k}"))
            .collect();
        if present(input.store.as_ref(), "X")? {
            l.insert(0, "X".to_string());
        }
        layer_lists.push(l);
    }
    for key in join_keys(&layer_lists, options.outer) {
        let mut parts = Vec::with_capacity(n);
        for (i, input) in inputs.iter().enumerate() {
            let src = if layer_lists[i].contains(&key) {
                let s = source(input.store.as_ref(), &key)?;
                if s.shape != input.shape {
                    return Err(Error::invalid(
                        input.store.path(),
                        &key,
                        "matrix",
                        format!(
                            "shape {:?} differs from (n_obs, n_vars) {:?}",
                            s.shape, input.shape
                        ),
                    ));
                }
                Some(s)
            } else {
                None
            };
            parts.push(Part {
                input: i,
                source: src,
                len: lens[i],
                offset: offsets[i],
                alt: reindex[i].clone(),
            });
        }
        let job = matrix_job(key.clone(), axis, parts, shape, options.fill_value)
            .ok_or_else(|| no_common_dtype(&key, &options.inputs))?;
        matrices.push(job);
    }

    // {axis}m: stacked along the axis; widths reconciled by position.
    let (axis_m, axis_m_frames) = plan_axis_mapping(
        &inputs,
        &options,
        &format!("{axis_name}m"),
        axis_name,
        &keys,
    )?;
    matrices.extend(axis_m);

    // {axis}p: block diagonal, only when asked for.
    if options.pairwise {
        let group = format!("{axis_name}p");
        let (lists, keys) = group_keys(&inputs, &group, options.outer)?;
        for key in keys {
            let node = join(&group, &key);
            let mut parts = Vec::with_capacity(n);
            let mut dtypes = Vec::new();
            for (i, input) in inputs.iter().enumerate() {
                let src = if lists[i].contains(&key) {
                    Some(source(input.store.as_ref(), &node)?)
                } else {
                    None
                };
                dtypes.push(src.as_ref().map_or(DType::Bool, |s| s.dtype));
                parts.push(Part {
                    input: i,
                    source: src,
                    len: lens[i],
                    offset: offsets[i],
                    alt: Reindex::shifted(lens[i], offsets[i], total),
                });
            }
            let dtype = dtype::promote_all(dtypes)
                .ok_or_else(|| no_common_dtype(&node, &options.inputs))?;
            let nnz_bound = parts
                .iter()
                .filter_map(|p| p.source.as_ref())
                .map(|s| match s.storage {
                    Storage::Sparse { nnz, .. } => nnz,
                    Storage::Dense => s.shape[0] * s.shape[1],
                })
                .sum();
            matrices.push(MatrixJob {
                node,
                axis: 0,
                parts,
                shape: [total, total],
                kind: OutKind::Csr,
                dtype,
                fill: 0.0,
                nnz_bound,
            });
        }
    }

    let mut values = Vec::new();
    // {alt}m and {alt}p: reindexed whole, then merged.
    for (suffix, both) in [("m", false), ("p", true)] {
        let group = format!("{alt_name}{suffix}");
        let mut maps = Vec::with_capacity(n);
        for (i, input) in inputs.iter().enumerate() {
            let mut m = Vec::new();
            for key in children_of(input.store.as_ref(), &group)? {
                let v = read_value(input.store.as_ref(), &join(&group, &key))?;
                let mut v = match v {
                    // Rows follow the names of the result, as `DataFrame.reindex` gives them.
                    Value::Frame(f) => Value::Frame(Frame {
                        index_name: f.index_name,
                        index: alt_names.clone(),
                        columns: f
                            .columns
                            .iter()
                            .map(|(k, c)| (k.clone(), align::reindex_column(c, &reindex[i])))
                            .collect(),
                    }),
                    v => align::reindex_array(&v, &reindex[i], 0),
                };
                if both {
                    v = align::reindex_array(&v, &reindex[i], 1);
                }
                m.push((key, v));
            }
            maps.push(m);
        }
        values.push((group, Value::Dict(merge_values(&maps, options.merge))));
    }
    let mut uns = Vec::with_capacity(n);
    for input in &inputs {
        uns.push(match input.store.kind("uns")? {
            Some(_) => match read_value(input.store.as_ref(), "uns")? {
                Value::Dict(items) => items,
                _ => Vec::new(),
            },
            None => Vec::new(),
        });
    }
    values.push((
        "uns".to_string(),
        Value::Dict(merge_values(&uns, options.uns_merge)),
    ));

    let raw = plan_raw(&inputs, &options, &reindex, &alt_names, &keys)?;
    let payload_bytes = matrices
        .iter()
        .map(|m| match m.kind {
            OutKind::Dense => m.shape[0] * m.shape[1] * m.dtype.size() as u64,
            _ => m.nnz_bound * (m.dtype.size() as u64 + 4),
        })
        .sum();
    Ok(ConcatPlan {
        options,
        shape,
        frame,
        alt_frame,
        axis_m_frames,
        matrices,
        values,
        raw,
        payload_bytes,
    })
}

fn aligned_source(input: &Input, node: &str, rows: u64) -> Result<Source> {
    let s = source(input.store.as_ref(), node)?;
    if s.shape[0] != rows {
        return Err(Error::invalid(
            input.store.path(),
            node,
            "matrix",
            format!("has {} rows, expected {rows}", s.shape[0]),
        ));
    }
    Ok(s)
}

/// One dataframe to concatenate: where each input keeps its columns and its row names.
struct FrameSources {
    out: String,
    /// Per input, the dataframe holding its columns (`None`: the input lacks it).
    frames: Vec<Option<String>>,
    /// The dataframe whose index names the rows, the same node in every input.
    index: String,
    label: Option<String>,
    strings_to_categoricals: bool,
}

fn plan_frame(
    inputs: &[Input],
    options: &ConcatOptions,
    src: FrameSources,
    keys: &[String],
) -> Result<FrameJob> {
    let mut col_lists = Vec::with_capacity(inputs.len());
    let mut frames = Vec::with_capacity(inputs.len());
    for (input, node) in inputs.iter().zip(&src.frames) {
        let (_, n) = frame_shape(input.store.as_ref(), &src.index)?;
        let cols = match node {
            Some(node) => {
                let (cols, rows) = frame_shape(input.store.as_ref(), node)?;
                if rows != n {
                    return Err(Error::invalid(
                        input.store.path(),
                        node,
                        "dataframe",
                        format!("has {rows} rows, expected {n}"),
                    ));
                }
                if let Some(dup) = first_duplicate(&cols) {
                    return Err(Error::invalid(
                        input.store.path(),
                        node,
                        "dataframe",
                        format!("column {dup:?} occurs twice"),
                    ));
                }
                cols
            }
            None => Vec::new(),
        };
        col_lists.push(cols);
        frames.push((src.index.clone(), n));
    }
    let names = join_keys(&col_lists, options.outer);
    // Input by input, each input's columns at once: going column by column across many
    // `.h5ad` inputs would cycle through more files than stay open.
    let mut typed: Vec<std::collections::HashMap<&str, frame::ColType>> =
        Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let mut types = std::collections::HashMap::new();
        if let Some(frame) = &src.frames[i] {
            for name in names.iter().filter(|n| col_lists[i].contains(n)) {
                let t = col_type(input.store.as_ref(), &join(frame, name))?;
                types.insert(name.as_str(), t);
            }
        }
        typed.push(types);
    }
    let mut columns = Vec::new();
    for name in &names {
        let mut sources = Vec::with_capacity(inputs.len());
        for (i, types) in typed.iter_mut().enumerate() {
            sources.push(match (&src.frames[i], types.remove(name.as_str())) {
                (Some(frame), Some(t)) => Some((join(frame, name), t)),
                _ => None,
            });
        }
        let name = name.clone();
        let types: Vec<&frame::ColType> = sources.iter().flatten().map(|s| &s.1).collect();
        let listed = sources.iter().any(|s| s.is_none());
        let rows = sources
            .iter()
            .enumerate()
            .any(|(i, s)| s.is_none() && (frames[i].1 > 0 || !col_lists[i].is_empty()));
        let out = unify_with(&types, listed, rows).map_err(|why| {
            Error::Usage(format!(
                "{}:/{}/{name}: cannot combine this column across inputs: {why}",
                options.inputs[sources.iter().position(|s| s.is_some()).unwrap_or(0)].display(),
                src.out
            ))
        })?;
        columns.push(ColumnPlan { name, out, sources });
    }
    Ok(FrameJob {
        node: src.out,
        frames,
        columns,
        label: src.label,
        keys: keys.to_vec(),
        index_unique: options.index_unique.clone(),
        strings_to_categoricals: src.strings_to_categoricals,
    })
}

/// Entries of a mapping aligned with the concatenation axis (`obsm` along obs,
/// `raw/varm` along var): arrays stacked with widths reconciled by position,
/// dataframes concatenated as the axis dataframe is.
fn plan_axis_mapping(
    inputs: &[Input],
    options: &ConcatOptions,
    group: &str,
    index_frame: &str,
    keys: &[String],
) -> Result<(Vec<MatrixJob>, Vec<FrameJob>)> {
    let n = inputs.len();
    let lens: Vec<u64> = inputs
        .iter()
        .map(|i| frame_shape(i.store.as_ref(), index_frame).map(|f| f.1))
        .collect::<Result<_>>()?;
    let offsets: Vec<u64> = lens
        .iter()
        .scan(0, |acc, &l| {
            let o = *acc;
            *acc += l;
            Some(o)
        })
        .collect();
    let total: u64 = lens.iter().sum();
    let (lists, entries) = group_keys(inputs, group, options.outer)?;
    let (mut matrices, mut frames) = (Vec::new(), Vec::new());
    for key in entries {
        let node = join(group, &key);
        let mut is_frame = Vec::with_capacity(n);
        for (i, input) in inputs.iter().enumerate() {
            is_frame.push(if lists[i].contains(&key) {
                Some(
                    Element::open(input.store.as_ref(), &node)?.encoding == EncodingType::DataFrame,
                )
            } else {
                None
            });
        }
        if is_frame.contains(&Some(true)) {
            if let Some(i) = is_frame.iter().position(|f| *f == Some(false)) {
                return Err(Error::invalid(
                    inputs[i].store.path(),
                    &node,
                    "dataframe",
                    "is an array where another input has a dataframe; they cannot be concatenated",
                ));
            }
            let sources = FrameSources {
                out: node.clone(),
                frames: is_frame.iter().map(|f| f.map(|_| node.clone())).collect(),
                index: index_frame.to_string(),
                label: None,
                strings_to_categoricals: false,
            };
            frames.push(plan_frame(inputs, options, sources, keys)?);
            continue;
        }
        let mut srcs = Vec::with_capacity(n);
        for (i, input) in inputs.iter().enumerate() {
            srcs.push(if lists[i].contains(&key) {
                Some(aligned_source(input, &node, lens[i])?)
            } else {
                None
            });
        }
        let widths: Vec<u64> = srcs.iter().flatten().map(|s: &Source| s.shape[1]).collect();
        let width = if options.outer {
            widths.iter().max()
        } else {
            widths.iter().min()
        }
        .copied()
        .unwrap_or(0);
        let parts: Vec<Part> = srcs
            .into_iter()
            .enumerate()
            .map(|(i, s)| Part {
                input: i,
                alt: Reindex::by_position(s.as_ref().map_or(0, |s| s.shape[1]), width),
                source: s,
                len: lens[i],
                offset: offsets[i],
            })
            .collect();
        let job = matrix_job(node.clone(), 0, parts, [total, width], options.fill_value)
            .ok_or_else(|| no_common_dtype(&node, &options.inputs))?;
        matrices.push(job);
    }
    Ok((matrices, frames))
}

fn plan_alt_frame(
    inputs: &[Input],
    options: &ConcatOptions,
    alt_name: &str,
    alt_names: &[String],
    reindex: &[Reindex],
) -> Result<Frame> {
    let mut maps = Vec::with_capacity(inputs.len());
    if options.merge != Strategy::None {
        for (i, input) in inputs.iter().enumerate() {
            let frame = match read_value(input.store.as_ref(), alt_name)? {
                Value::Frame(f) => f,
                _ => {
                    return Err(Error::invalid(
                        input.store.path(),
                        alt_name,
                        "dataframe",
                        "not a dataframe",
                    ))
                }
            };
            let cols: Vec<(String, Value)> = frame
                .columns
                .iter()
                .map(|(k, v)| (k.clone(), align::reindex_column(v, &reindex[i])))
                .collect();
            maps.push(cols);
        }
    }
    Ok(Frame {
        index_name: "_index".into(),
        index: alt_names.to_vec(),
        columns: merge_values(&maps, options.merge),
    })
}

/// `raw`, concatenated as anndata does: as an AnnData of raw's X, var and varm, with
/// the same join, label, keys and index suffix, but no merge of the other axis.
pub struct RawPlan {
    pub x: MatrixJob,
    pub var: RawVar,
    /// `raw/varm`: along var it is concatenated; along obs nothing of it survives.
    pub varm: (Vec<MatrixJob>, Vec<FrameJob>),
}

pub enum RawVar {
    /// Along obs: the joined var names, without columns.
    Names(Vec<String>),
    /// Along var: raw's var dataframes concatenated.
    Concat(FrameJob),
}

fn plan_raw(
    inputs: &[Input],
    options: &ConcatOptions,
    reindex: &[Reindex],
    alt_names: &[String],
    keys: &[String],
) -> Result<Option<RawPlan>> {
    // anndata reads a raw with no rows as no raw at all (an empty AnnData is falsy).
    let has: Vec<bool> = inputs
        .iter()
        .map(|i| Ok(i.shape[0] > 0 && present(i.store.as_ref(), "raw")?))
        .collect::<Result<_>>()?;
    if !has.iter().all(|&h| h) {
        if has.iter().any(|&h| h) {
            eprintln!("adcat: warning: only some inputs have raw; raw is not concatenated (as anndata does)");
        }
        return Ok(None);
    }
    let names: Vec<Vec<String>> = inputs
        .iter()
        .map(|i| frame_index(i.store.as_ref(), "raw/var"))
        .collect::<Result<_>>()?;
    let mut sources = Vec::with_capacity(inputs.len());
    for (input, raw_vars) in inputs.iter().zip(&names) {
        let src = source(input.store.as_ref(), "raw/X")?;
        let expected = [input.shape[0], raw_vars.len() as u64];
        if src.shape != expected {
            return Err(Error::invalid(
                input.store.path(),
                "raw/X",
                "matrix",
                format!(
                    "shape {:?} differs from (n_obs, raw n_vars) {expected:?}",
                    src.shape
                ),
            ));
        }
        sources.push(src);
    }
    let axis = options.axis;
    let lens: Vec<u64> = sources.iter().map(|s| s.shape[axis]).collect();
    let total: u64 = lens.iter().sum();
    let mut offset = 0;
    let mut parts = Vec::with_capacity(inputs.len());
    let raw_names = (axis == 0).then(|| {
        let lists: Vec<&[String]> = names.iter().map(|v| v.as_slice()).collect();
        merge_indices(&lists, options.outer)
    });
    for (i, src) in sources.into_iter().enumerate() {
        let alt = match &raw_names {
            Some(raw_names) => Reindex::by_name(&names[i], raw_names),
            None => reindex[i].clone(),
        };
        parts.push(Part {
            input: i,
            source: Some(src),
            len: lens[i],
            offset,
            alt,
        });
        offset += lens[i];
    }
    let mut shape = [0u64; 2];
    shape[axis] = total;
    shape[1 - axis] = match &raw_names {
        Some(r) => r.len() as u64,
        None => alt_names.len() as u64,
    };
    let x = matrix_job("raw/X".into(), axis, parts, shape, options.fill_value)
        .ok_or_else(|| no_common_dtype("raw/X", &options.inputs))?;
    let plan = match raw_names {
        Some(raw_names) => RawPlan {
            x,
            var: RawVar::Names(raw_names),
            varm: (Vec::new(), Vec::new()),
        },
        None => {
            let var = plan_frame(
                inputs,
                options,
                FrameSources {
                    out: "raw/var".into(),
                    frames: vec![Some("raw/var".into()); inputs.len()],
                    index: "raw/var".into(),
                    label: options.label.clone(),
                    strings_to_categoricals: true,
                },
                keys,
            )?;
            let varm = plan_axis_mapping(inputs, options, "raw/varm", "raw/var", keys)?;
            RawPlan {
                x,
                var: RawVar::Concat(var),
                varm,
            }
        }
    };
    Ok(Some(plan))
}

/// Summary of a finished run, for `--report-json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub inputs: Vec<String>,
    pub output: String,
    pub shape: [u64; 2],
    pub elements: Vec<serde_json::Value>,
    pub payload_bytes: u64,
    /// The backend that ran the index work (`cpu`, `gpu: NAME (BACKEND)`) and why.
    pub device: String,
    pub device_reason: String,
    pub seconds_plan: f64,
    pub seconds_write: f64,
    /// Busy time of the block loops' three threads: reading (read, decode), assembling
    /// (reindex, fill, interleave; kernel calls included) and writing (encode, write),
    /// and of the kernel calls alone; the threads overlap, so they can sum past the wall.
    pub seconds_reading: f64,
    pub seconds_assembling: f64,
    pub seconds_writing: f64,
    pub seconds_kernels: f64,
    /// Bytes of scratch space written next to the output for inputs stored the other
    /// way round (CSC into a CSR result); freed when the run ends.
    pub scratch_bytes: u64,
    /// For a GPU backend, how its kernel time splits into upload, compute and
    /// readback; `null` on the CPU.
    pub device_phases: Option<crate::kernels::DevicePhases>,
    /// What `--validate` checked; `null` without it.
    pub validated: Option<crate::validate::Validated>,
    pub peak_rss_bytes: Option<u64>,
}

/// What [`execute`] hands back about how the run went.
pub struct Executed {
    pub device: String,
    pub device_reason: String,
    pub device_phases: Option<crate::kernels::DevicePhases>,
    pub phases: matrix::Phases,
    pub validated: Option<crate::validate::Validated>,
}

/// Peak resident memory of this process so far (Linux).
pub fn peak_rss() -> Option<u64> {
    crate::heap::status_bytes(None, "VmHWM")
}

/// Runs a plan: writes everything into a temporary sibling and renames it into place.
/// Returns the backend that did the index work and why it was chosen.
pub fn execute(plan: &ConcatPlan) -> Result<Executed> {
    execute_on(plan, device::Opening::start(plan.options.device))
}

/// [`execute`] on a backend opened meanwhile (see [`concat`]).
fn execute_on(plan: &ConcatPlan, opening: device::Opening) -> Result<Executed> {
    let opts = &plan.options;
    // Set once the frames are written: the device opens meanwhile.
    let mut chosen: Option<device::Chosen> = None;
    let phases = matrix::Phases::default();
    let stores: Vec<Box<dyn StoreReader>> = opts
        .inputs
        .iter()
        .map(|p| store::open(p))
        .collect::<std::result::Result<_, _>>()?;
    let inputs: Vec<&dyn StoreReader> = stores.iter().map(|s| s.as_ref()).collect();
    let progress = Progress::new(opts.progress, plan.payload_bytes, "concatenating");
    let block_bytes = crate::convert::block_bytes(opts.max_memory, opts.layout.format);
    crate::heap::cap_resident(opts.max_memory);
    let validate = opts.validate.then_some(opts.max_memory);
    let format = opts.layout.format;
    let validated = write_staged(&opts.output, opts.overwrite, format, validate, |out| {
        out.create_group("", &enc("anndata", "0.1.0"))?;
        let rows_per_block = (block_bytes / 64).max(1024);
        plan.frame
            .write(&inputs, out, &opts.layout, rows_per_block)?;
        write_frame(
            out,
            &opts.layout,
            AXES[1 - opts.axis],
            &plan.alt_frame,
            true,
        )?;
        for group in ["layers", "obsm", "obsp"] {
            let group = if group == "layers" {
                group.to_string()
            } else {
                format!("{}{}", AXES[opts.axis], &group[3..])
            };
            out.create_group(&group, &enc("dict", "0.1.0"))?;
        }
        let kernels = &chosen
            .insert(opening.finish(plan.payload_bytes, opts.max_memory)?)
            .kernels;
        let ctx = matrix::Ctx {
            inputs: &inputs,
            out,
            layout: &opts.layout,
            block_bytes,
            progress: &progress,
            kernels: kernels.as_ref(),
            phases: &phases,
            wide_indices: opts.wide_indices,
        };
        for f in &plan.axis_m_frames {
            f.write(&inputs, out, &opts.layout, rows_per_block)?;
        }
        for m in &plan.matrices {
            m.write(&ctx)?;
        }
        for (node, value) in &plan.values {
            write_value(out, &opts.layout, node, value)?;
        }
        if let Some(raw) = &plan.raw {
            out.create_group("raw", &enc("raw", "0.1.0"))?;
            raw.x.write(&ctx)?;
            match &raw.var {
                RawVar::Names(names) => {
                    let var = Frame {
                        index_name: "_index".into(),
                        index: names.clone(),
                        columns: Vec::new(),
                    };
                    write_frame(out, &opts.layout, "raw/var", &var, true)?;
                }
                RawVar::Concat(job) => job.write(&inputs, out, &opts.layout, rows_per_block)?,
            }
            out.create_group("raw/varm", &enc("dict", "0.1.0"))?;
            for f in &raw.varm.1 {
                f.write(&inputs, out, &opts.layout, rows_per_block)?;
            }
            for m in &raw.varm.0 {
                m.write(&ctx)?;
            }
        }
        progress.finish();
        Ok(())
    })?;
    let chosen = chosen.expect("a finished write has reached the matrices");
    Ok(Executed {
        device: chosen.kernels.name(),
        device_reason: chosen.reason,
        device_phases: chosen.kernels.device_phases(),
        phases,
        validated,
    })
}

/// Plans and executes; returns the run's report.
pub fn concat(options: ConcatOptions) -> Result<Report> {
    let t0 = Instant::now();
    // The device opens while the inputs are planned and the frames written.
    let opening = device::Opening::start(options.device);
    let plan = plan(options)?;
    let t1 = Instant::now();
    let Executed {
        device,
        device_reason,
        device_phases,
        phases,
        validated,
    } = execute_on(&plan, opening)?;
    let t2 = Instant::now();
    Ok(Report {
        inputs: plan.options.inputs.iter().map(|p| p.display().to_string()).collect(),
        output: plan.options.output.display().to_string(),
        shape: plan.shape,
        elements: plan
            .matrices
            .iter()
            .map(|m| json!({"path": m.node, "kind": m.kind, "dtype": m.dtype.name(), "shape": m.shape, "nnz_bound": m.nnz_bound}))
            .collect(),
        payload_bytes: plan.payload_bytes,
        device,
        device_reason,
        seconds_plan: (t1 - t0).as_secs_f64(),
        seconds_write: (t2 - t1).as_secs_f64(),
        seconds_reading: crate::timing::seconds(&phases.reading),
        seconds_assembling: crate::timing::seconds(&phases.assembling),
        seconds_writing: crate::timing::seconds(&phases.writing),
        seconds_kernels: crate::timing::seconds(&phases.kernels),
        scratch_bytes: phases
            .scratch_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        device_phases,
        validated,
        peak_rss_bytes: peak_rss(),
    })
}
