//! `--validate`: re-reads a written store and checks what a reader relies on: the
//! element tree and its encodings, dataframe column lengths, and every sparse matrix's
//! invariants (indptr from 0, never decreasing, ending at nnz; indices below the minor
//! dimension and strictly ascending within each line), streamed in bounded blocks.
//! Negative or non-integer indptr and indices are refused by the reader they share
//! with the concatenation.

use std::path::Path;

use crate::concat::matrix::read_index;
use crate::encoding::{walk, Element, EncodingType, Part, Visit};
use crate::error::{Error, Result};
use crate::store::{self, join, StoreReader};

/// What a validation pass looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Validated {
    pub elements: u64,
    pub sparse_matrices: u64,
    pub entries_checked: u64,
}

struct Collect {
    elements: u64,
    sparse: Vec<Element>,
    frames: Vec<Element>,
}

impl Visit for Collect {
    fn visit(&mut self, part: Part<'_>) -> Result<()> {
        if let Part::Element(e) = part {
            self.elements += 1;
            match e.encoding {
                EncodingType::Csr | EncodingType::Csc => self.sparse.push(e.clone()),
                EncodingType::DataFrame => self.frames.push(e.clone()),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Validates the store at `path`, reading at most about `block` values at a time.
pub fn validate(path: &Path, block: u64) -> Result<Validated> {
    let store = store::open(path)?;
    let store = store.as_ref();
    let mut c = Collect {
        elements: 0,
        sparse: Vec::new(),
        frames: Vec::new(),
    };
    walk(store, &mut c)?;
    for f in &c.frames {
        check_frame(store, f)?;
    }
    let mut out = Validated {
        elements: c.elements,
        ..Validated::default()
    };
    for e in &c.sparse {
        out.entries_checked += check_sparse(store, e, block.max(1024))?;
        out.sparse_matrices += 1;
    }
    Ok(out)
}

/// Validates a staged output before it is moved to `output`; a failure is an output
/// error naming `output`, so the staged store is removed and nothing appears there.
pub fn validate_staged(staged: &Path, output: &Path, max_memory: u64) -> Result<Validated> {
    validate(staged, max_memory / 32).map_err(|e| Error::Output {
        path: output.to_path_buf(),
        reason: format!("the written store failed validation: {e}"),
    })
}

fn len_of(store: &dyn StoreReader, node: &str) -> Result<u64> {
    Ok(store.array_info(node)?.shape.first().copied().unwrap_or(0))
}

fn check_frame(store: &dyn StoreReader, e: &Element) -> Result<()> {
    let (_, rows) = crate::concat::frame::frame_shape(store, &e.node)?;
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
