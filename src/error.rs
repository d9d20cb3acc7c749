use std::path::PathBuf;

use crate::store::StoreError;

/// Every failure adcat reports. Messages are one line and start with the file (and the
/// element path inside it, where there is one) so a person can find what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}: not an AnnData store: {reason}")]
    NotAnnData { file: PathBuf, reason: String },
    #[error("{file}:/{node}: missing encoding-type attribute")]
    MissingEncoding { file: PathBuf, node: String },
    #[error("{file}:/{node}: unsupported element {node} (encoding-type {encoding}, encoding-version {version})")]
    UnsupportedElement {
        file: PathBuf,
        node: String,
        encoding: String,
        version: String,
    },
    #[error("{file}:/{node}: invalid {encoding}: {reason}")]
    InvalidElement {
        file: PathBuf,
        node: String,
        encoding: &'static str,
        reason: String,
    },
    #[error("{path}: output already exists (pass --overwrite to replace it)")]
    OutputExists { path: PathBuf },
    #[error("{path}: {reason}")]
    Output { path: PathBuf, reason: String },
    /// No usable compute device for what was asked.
    #[error("{0}")]
    Device(String),
    /// Options that are valid one by one but not together; reported like a usage error.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Process exit status: 2 for invalid arguments, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    pub(crate) fn invalid(
        file: &std::path::Path,
        node: &str,
        encoding: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidElement {
            file: file.to_path_buf(),
            node: node.to_string(),
            encoding,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
