//! The storage layer: groups, arrays and attributes of a hierarchical store, with
//! chunked range reads and writes. Two backends share one trait: Zarr (v2 and v3,
//! through `zarrs`) and HDF5 (through `hdf5-metno`). Nothing here knows about AnnData.
//!
//! Node paths are `/`-separated and relative to the store root: `""` is the root,
//! `"obs/cell_type/codes"` a nested array.

mod data;
mod error;
pub mod h5;
pub mod h5_files;
pub mod zarr;

pub use data::{written_prefix, written_vec, DType, Data, NotU64};
pub use error::StoreError;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Attributes of a node, as JSON. Integers stay integers and floats stay floats.
pub type Attrs = serde_json::Map<String, serde_json::Value>;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// On-disk container format of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Format {
    H5ad,
    ZarrV2,
    ZarrV3,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::H5ad => "h5ad",
            Format::ZarrV2 => "zarr v2",
            Format::ZarrV3 => "zarr v3",
        }
    }
    pub fn is_zarr(self) -> bool {
        !matches!(self, Format::H5ad)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Group,
    Array,
}

/// Compression applied to every chunk of an array written by adcat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Compression {
    None,
    /// Blosc with LZ4 and byte shuffle (Zarr only).
    Lz4 {
        level: u8,
    },
    /// Zstandard: Blosc-Zstd in Zarr v2, the `zstd` codec in Zarr v3 (Zarr only).
    Zstd {
        level: i32,
    },
    /// Deflate: `zlib` in Zarr v2, `gzip` in Zarr v3 and HDF5.
    Gzip {
        level: u8,
    },
}

/// Description of the arrays stored on disk, as `adcat inspect` shows them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ArrayInfo {
    pub shape: Vec<u64>,
    pub dtype: DType,
    /// Chunk shape (the inner chunk when sharded); `None` for contiguous HDF5 datasets.
    pub chunks: Option<Vec<u64>>,
    /// Shard shape for sharded Zarr v3 arrays.
    pub shards: Option<Vec<u64>>,
    /// Codec or filter names in pipeline order, e.g. `["bytes", "blosc(lz4,5,shuffle)"]`.
    pub codecs: Vec<String>,
}

/// How a new array is laid out on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct ArraySpec {
    pub shape: Vec<u64>,
    pub dtype: DType,
    /// Chunk shape; same rank as `shape`, every entry ≥ 1. Ignored for 0-d arrays.
    pub chunks: Vec<u64>,
    /// Shard shape (Zarr v3 only): a multiple of `chunks` in every dimension.
    pub shards: Option<Vec<u64>>,
    pub compression: Compression,
}

/// Read access to one store. Implementations are cheap to share between threads.
pub trait StoreReader: Send + Sync {
    /// The file or directory this store was opened from (used in error messages).
    fn path(&self) -> &Path;
    fn format(&self) -> Format;
    /// Kind of the node at `node`, or `None` when nothing is there.
    fn kind(&self, node: &str) -> Result<Option<NodeKind>>;
    /// Names (not paths) of the direct children of a group, sorted by code point.
    fn children(&self, group: &str) -> Result<Vec<String>>;
    fn attrs(&self, node: &str) -> Result<Attrs>;
    fn array_info(&self, node: &str) -> Result<ArrayInfo>;
    /// Bytes the array at `node` occupies on disk, or `None` where that cannot be
    /// told. Apart from [`Self::array_info`], which planning calls for every array of
    /// every input, because it means listing every chunk file (Zarr) or walking the
    /// chunk index (chunked HDF5 datasets).
    fn stored_bytes(&self, node: &str) -> Option<u64>;
    /// Reads the hyper-rectangle `start .. start + shape` in row-major order, touching
    /// only the chunks it overlaps. For a 0-d array both slices are empty.
    fn read(&self, node: &str, start: &[u64], shape: &[u64]) -> Result<Data>;
}

type Memo<T> = RwLock<HashMap<String, T>>;

/// A reader that keeps what its store has said of each node: kind, children,
/// attributes and array description. Inputs do not change during a run, and planning
/// asks about the same nodes many times, each time a file lookup and a parse (Zarr) or
/// a visit to a file that may have been closed meanwhile (`.h5ad`, see [`h5_files`]).
/// Errors are not kept, so a failing node fails again with the same error.
pub struct Cached<R> {
    inner: R,
    kinds: Memo<Option<NodeKind>>,
    children: Memo<Vec<String>>,
    attrs: Memo<Attrs>,
    infos: Memo<ArrayInfo>,
}

impl<R: StoreReader> Cached<R> {
    pub fn new(inner: R) -> Self {
        Cached {
            inner,
            kinds: Memo::default(),
            children: Memo::default(),
            attrs: Memo::default(),
            infos: Memo::default(),
        }
    }
}

fn memo<T: Clone>(memo: &Memo<T>, node: &str, find: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Some(found) = memo.read().ok().and_then(|m| m.get(node).cloned()) {
        return Ok(found);
    }
    let found = find()?;
    if let Ok(mut m) = memo.write() {
        m.insert(node.to_string(), found.clone());
    }
    Ok(found)
}

impl<R: StoreReader> StoreReader for Cached<R> {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn format(&self) -> Format {
        self.inner.format()
    }
    fn kind(&self, node: &str) -> Result<Option<NodeKind>> {
        memo(&self.kinds, node, || self.inner.kind(node))
    }
    fn children(&self, group: &str) -> Result<Vec<String>> {
        memo(&self.children, group, || self.inner.children(group))
    }
    fn attrs(&self, node: &str) -> Result<Attrs> {
        memo(&self.attrs, node, || self.inner.attrs(node))
    }
    fn array_info(&self, node: &str) -> Result<ArrayInfo> {
        memo(&self.infos, node, || self.inner.array_info(node))
    }
    fn stored_bytes(&self, node: &str) -> Option<u64> {
        self.inner.stored_bytes(node)
    }
    fn read(&self, node: &str, start: &[u64], shape: &[u64]) -> Result<Data> {
        self.inner.read(node, start, shape)
    }
}

/// Write access to a new store. Nodes are created parent-first.
pub trait StoreWriter: Send + Sync {
    fn path(&self) -> &Path;
    fn format(&self) -> Format;
    fn create_group(&self, node: &str, attrs: &Attrs) -> Result<()>;
    fn create_array(&self, node: &str, spec: &ArraySpec, attrs: &Attrs) -> Result<()>;
    /// Writes `data` (row-major, `shape` elements) at `start`. Blocks that cover whole
    /// chunks (or whole shards) are encoded without reading anything back.
    fn write(&self, node: &str, start: &[u64], shape: &[u64], data: &Data) -> Result<()>;
    /// Changes the shape of a 1-D array written so far, e.g. to trim sparse `data` and
    /// `indices` created with an upper bound once the exact count is known.
    fn resize(&self, node: &str, shape: &[u64]) -> Result<()>;
    /// Flushes everything to disk. After this returns the store is complete.
    fn finish(&self) -> Result<()>;
}

/// Joins a parent node path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}/{child}")
    }
}

/// Opens an existing store, detecting its format from what is on disk.
pub fn open(path: &Path) -> Result<Box<dyn StoreReader>> {
    if path.is_dir() {
        Ok(Box::new(Cached::new(zarr::ZarrReader::open(path)?)))
    } else if path.is_file() {
        Ok(Box::new(Cached::new(h5::H5Reader::open(path)?)))
    } else {
        Err(StoreError::NotFound {
            file: path.to_path_buf(),
        })
    }
}

/// Creates a new, empty store of `format` at `path` (which must not exist yet).
pub fn create(path: &Path, format: Format) -> Result<Box<dyn StoreWriter>> {
    match format {
        Format::H5ad => Ok(Box::new(h5::H5Writer::create(path)?)),
        Format::ZarrV2 | Format::ZarrV3 => Ok(Box::new(zarr::ZarrWriter::create(path, format)?)),
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that as many
/// `.h5ad` inputs as possible stay open for the run (a soft limit of 1024 is common
/// where the hard one is far higher); beyond half the limit, inputs are closed and
/// reopened as needed ([`h5_files`]).
pub fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Location of a node, for error messages: `file.h5ad:/obs/cell_type`.
pub fn location(file: &Path, node: &str) -> String {
    format!("{}:/{}", file.display(), node)
}

pub(crate) fn pathbuf(p: &Path) -> PathBuf {
    p.to_path_buf()
}

#[cfg(test)]
mod tests;
