//! `--validate`: re-reads a written store and checks what a reader relies on: the
//! element tree and its encodings, dataframe column lengths, every sparse matrix's
//! invariants (indptr from 0, never decreasing, ending at nnz; indices below the minor
//! dimension and strictly ascending within each line), and that every other array
//! decodes, all streamed in bounded blocks.
//! Negative or non-integer indptr and indices are refused by the reader they share
//! with the concatenation.

use std::collections::HashMap;
use std::path::Path;

use crate::checksum::{self, Sum, Sums};

use crate::concat::frame::frame_shape;
use crate::concat::matrix::read_index;
use crate::encoding::{walk, Element, EncodingType, Part, Visit};
use crate::error::{Error, Result};
use crate::store::{self, join, NodeKind, StoreReader};

/// What a validation pass looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Validated {
    pub elements: u64,
    pub sparse_matrices: u64,
    pub entries_checked: u64,
    /// Values decoded from the arrays that are not sparse indices or indptr.
    pub values_read: u64,
    /// Arrays whose contents read back to the checksum taken while writing them.
    pub checksums_compared: u64,
}

struct Collect {
    elements: u64,
    sparse: Vec<Element>,
    frames: Vec<Element>,
    /// Arrays that are read whole to prove they decode (sparse index arrays are read
    /// by the sparse checks instead).
    arrays: Vec<String>,
}

impl Visit for Collect {
    fn visit(&mut self, part: Part<'_>) -> Result<()> {
        match part {
            Part::Element(e) => {
                self.elements += 1;
                match e.encoding {
                    EncodingType::Csr | EncodingType::Csc => self.sparse.push(e.clone()),
                    EncodingType::DataFrame => self.frames.push(e.clone()),
                    _ => {}
                }
                if e.kind == NodeKind::Array && e.encoding != EncodingType::Null {
                    self.arrays.push(e.node.clone());
                }
            }
            Part::RawArray { node, parent, .. } => {
                let index_part = parent.encoding.is_sparse()
                    && matches!(node.rsplit('/').next(), Some("indices" | "indptr"));
                if !index_part {
                    self.arrays.push(node.to_string());
                }
            }
        }
        Ok(())
    }
}

/// Validates the store at `path`, reading at most about `block` values at a time.
pub fn validate(path: &Path, block: u64) -> Result<Validated> {
    validate_against(path, block, None)
}

/// [`validate`], and if `written` is given, every array it has a complete sum of must
/// read back to the same sum.
pub fn validate_against(path: &Path, block: u64, written: Option<&Sums>) -> Result<Validated> {
    let store = store::open(path)?;
    let store = store.as_ref();
    let mut c = Collect {
        elements: 0,
        sparse: Vec::new(),
        frames: Vec::new(),
        arrays: Vec::new(),
    };
    walk(store, &mut c)?;
    let block = block.max(1);
    for f in &c.frames {
        check_frame(store, f)?;
    }
    check_aligned(store)?;
    let mut out = Validated {
        elements: c.elements,
        ..Validated::default()
    };
    for e in &c.sparse {
        out.entries_checked += check_sparse(store, e, block)?;
        out.sparse_matrices += 1;
    }
    let mut read_back: HashMap<String, Sum> = HashMap::new();
    for node in &c.arrays {
        let sum = read_through(store, node, block)?;
        out.values_read += sum.count;
        read_back.insert(node.clone(), sum);
    }
    if let Some(written) = written {
        for (node, shape, sum) in written.complete() {
            let stored = store.array_info(&node)?.shape;
            let back = match read_back.get(&node) {
                Some(s) => *s,
                None => read_through(store, &node, block)?,
            };
            if stored != shape || back != sum {
                return Err(Error::invalid(
                    store.path(),
                    &node,
                    "array",
                    format!(
                        "reads back as {stored:?} with checksum {:016x} over {} values, \
                         but {shape:?} with {:016x} over {} was written",
                        back.hash, back.count, sum.hash, sum.count
                    ),
                ));
            }
            out.checksums_compared += 1;
        }
    }
    Ok(out)
}

/// Decodes all of `node`, about `block` values at a time along its first axis; returns
/// the checksum and number of values.
fn read_through(store: &dyn StoreReader, node: &str, block: u64) -> Result<Sum> {
    let shape = store.array_info(node)?.shape;
    let Some((&rows, rest)) = shape.split_first() else {
        let data = store.read(node, &[], &[])?;
        return Ok(checksum::of_block(&[], &[], &[], &data));
    };
    let row_len: u64 = rest.iter().product();
    let mut sum = Sum::default();
    if row_len == 0 {
        return Ok(sum);
    }
    let step = (block / row_len).max(1);
    let mut start = vec![0; shape.len()];
    let mut region = shape.clone();
    let mut a = 0;
    while a < rows {
        start[0] = a;
        region[0] = step.min(rows - a);
        let data = store.read(node, &start, &region)?;
        sum.add(checksum::of_block(&shape, &start, &region, &data));
        a += region[0];
    }
    Ok(sum)
}

/// Validates a staged output before it is moved to `output`; a failure is an output
/// error naming `output`, so the staged store is removed and nothing appears there.
pub fn validate_staged(
    staged: &Path,
    output: &Path,
    max_memory: u64,
    written: Option<&Sums>,
) -> Result<Validated> {
    validate_against(staged, (max_memory / 32).max(1024), written).map_err(|e| Error::Output {
        path: output.to_path_buf(),
        reason: format!("the written store failed validation: {e}"),
    })
}

/// The shape of a matrix-like element (sparse, dense or dataframe rows), or `None` for
/// encodings without one.
fn shape_of(store: &dyn StoreReader, node: &str) -> Result<Option<Vec<u64>>> {
    let e = Element::open(store, node)?;
    Ok(match e.encoding {
        EncodingType::Csr | EncodingType::Csc => {
            let (r, c) = e.sparse_shape(store)?;
            Some(vec![r, c])
        }
        EncodingType::Array => Some(store.array_info(node)?.shape),
        EncodingType::DataFrame => Some(vec![frame_shape(store, node)?.1]),
        _ => None,
    })
}

/// Every element aligned to obs or var has their lengths, as anndata requires when it
/// reads the store: X and layers (n_obs, n_vars), obsm and varm rows, obsp and varp
/// squares, and raw's X against raw's var.
fn check_aligned(store: &dyn StoreReader) -> Result<()> {
    let kind = |n: &str| store.kind(n);
    if kind("obs")?.is_none() || kind("var")?.is_none() {
        return Ok(());
    }
    let n_obs = frame_shape(store, "obs")?.1;
    let n_vars = frame_shape(store, "var")?.1;
    // (node, required leading dimensions, what they are called)
    let mut wanted: Vec<(String, Vec<u64>, &str)> = Vec::new();
    let members = |group: &str| -> Result<Vec<String>> {
        Ok(match store.kind(group)? {
            Some(NodeKind::Group) => store
                .children(group)?
                .into_iter()
                .map(|c| join(group, &c))
                .collect(),
            _ => Vec::new(),
        })
    };
    if kind("X")?.is_some() {
        wanted.push(("X".into(), vec![n_obs, n_vars], "(n_obs, n_vars)"));
    }
    for (group, dims, what) in [
        ("layers", vec![n_obs, n_vars], "(n_obs, n_vars)"),
        ("obsm", vec![n_obs], "n_obs"),
        ("varm", vec![n_vars], "n_vars"),
        ("obsp", vec![n_obs, n_obs], "(n_obs, n_obs)"),
        ("varp", vec![n_vars, n_vars], "(n_vars, n_vars)"),
    ] {
        for node in members(group)? {
            wanted.push((node, dims.clone(), what));
        }
    }
    if kind("raw/X")?.is_some() && kind("raw/var")?.is_some() {
        let raw_vars = frame_shape(store, "raw/var")?.1;
        wanted.push(("raw/X".into(), vec![n_obs, raw_vars], "(n_obs, raw n_vars)"));
        for node in members("raw/varm")? {
            wanted.push((node, vec![raw_vars], "raw n_vars"));
        }
    }
    for (node, dims, what) in wanted {
        let Some(shape) = shape_of(store, &node)? else {
            continue;
        };
        if shape.len() < dims.len() || shape[..dims.len()] != dims[..] {
            let e = Element::open(store, &node)?;
            return Err(Error::invalid(
                store.path(),
                &node,
                e.encoding.name(),
                format!("shape {shape:?} does not match {what} {dims:?}"),
            ));
        }
    }
    Ok(())
}

fn len_of(store: &dyn StoreReader, node: &str) -> Result<u64> {
    Ok(store.array_info(node)?.shape.first().copied().unwrap_or(0))
}

fn check_frame(store: &dyn StoreReader, e: &Element) -> Result<()> {
    let (_, rows) = frame_shape(store, &e.node)?;
    for name in store.children(&e.node)? {
        crate::concat::frame::check_column_rows(store, &join(&e.node, &name), rows)?;
    }
    Ok(())
}

/// Returns the number of entries checked.
fn check_sparse(store: &dyn StoreReader, e: &Element, block: u64) -> Result<u64> {
    let bad = |reason: String| Error::invalid(store.path(), &e.node, e.encoding.name(), reason);
    let (rows, cols) = e.sparse_shape(store)?;
    let (major, minor) = if e.encoding == EncodingType::Csr {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let ptr_len = len_of(store, &join(&e.node, "indptr"))?;
    if ptr_len != major + 1 {
        return Err(bad(format!(
            "indptr has {ptr_len} entries for {major} lines"
        )));
    }
    let nnz = len_of(store, &join(&e.node, "indices"))?;
    let data = len_of(store, &join(&e.node, "data"))?;
    if data != nnz {
        return Err(bad(format!("{data} values for {nnz} indices")));
    }
    // Indices are read in windows of `block`, independent of line lengths.
    let read = |part: &str, a: u64, n: u64| read_index(store, &join(&e.node, part), a, n);
    let mut window: Vec<u64> = Vec::new();
    let mut window_start = 0u64;
    let mut prev_end = 0u64;
    let mut line = 0u64;
    let mut a = 0;
    while a < ptr_len {
        let n = (ptr_len - a).min(block);
        let ptr = read("indptr", a, n)?;
        for &p in &ptr {
            if line == 0 && p != 0 {
                return Err(bad(format!("indptr starts at {p}, expected 0")));
            }
            if p < prev_end || p > nnz {
                return Err(bad(format!(
                    "indptr[{line}] = {p} after {prev_end} (nnz {nnz})"
                )));
            }
            // Entries prev_end..p make up line `line - 1`.
            let mut last: Option<u64> = None;
            for k in prev_end..p {
                if k >= window_start + window.len() as u64 {
                    window_start = k;
                    window = read("indices", k, (nnz - k).min(block))?;
                }
                let i = window[(k - window_start) as usize];
                if i >= minor {
                    return Err(bad(format!(
                        "index {i} at entry {k} outside the {minor} {}",
                        if e.encoding == EncodingType::Csr {
                            "columns"
                        } else {
                            "rows"
                        }
                    )));
                }
                if last.is_some_and(|l| l >= i) {
                    return Err(bad(format!(
                        "indices of line {} are not strictly ascending at entry {k}",
                        line - 1
                    )));
                }
                last = Some(i);
            }
            prev_end = p;
            line += 1;
        }
        a += n;
    }
    if prev_end != nnz {
        return Err(bad(format!(
            "indptr ends at {prev_end}, but there are {nnz} entries"
        )));
    }
    Ok(nnz)
}
