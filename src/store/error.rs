use std::path::PathBuf;

/// Errors of the storage layer. Every variant names the file and, where there is one,
/// the node path inside it, so a message can be acted on without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{file}: no such file or directory")]
    NotFound { file: PathBuf },
    #[error("{file}: not a Zarr store or HDF5 file: {reason}")]
    NotAStore { file: PathBuf, reason: String },
    #[error("{file}:/{node}: no such node")]
    NoNode { file: PathBuf, node: String },
    #[error("{file}:/{node}: expected {expected}, found {found}")]
    WrongKind {
        file: PathBuf,
        node: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{file}:/{node}: unsupported data type {dtype}")]
    UnsupportedDType {
        file: PathBuf,
        node: String,
        dtype: String,
    },
    #[error("{file}:/{node}: region {start:?}+{shape:?} out of bounds for shape {array_shape:?}")]
    OutOfBounds {
        file: PathBuf,
        node: String,
        start: Vec<u64>,
        shape: Vec<u64>,
        array_shape: Vec<u64>,
    },
    #[error("{file}:/{node}: unsupported attribute {attr}: {reason}")]
    BadAttribute {
        file: PathBuf,
        node: String,
        attr: String,
        reason: String,
    },
    #[error("{file}:/{node}: {op} failed: {reason}")]
    Backend {
        file: PathBuf,
        node: String,
        op: &'static str,
        reason: String,
    },
    #[error("{file}:/{node}: {reason}")]
    Invalid {
        file: PathBuf,
        node: String,
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn backend(
        file: &std::path::Path,
        node: &str,
        op: &'static str,
        err: impl std::fmt::Display,
    ) -> Self {
        StoreError::Backend {
            file: file.to_path_buf(),
            node: node.to_string(),
            op,
            reason: err.to_string(),
        }
    }
}
