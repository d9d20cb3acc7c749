//! AnnData element encodings (anndata's `docs/fileformat-prose.md`) on top of the
//! storage layer: which node is which element, what its parts are, and whether it
//! is well formed. Readers of typed values (dataframe columns, sparse blocks) build
//! on [`Element`].

mod kind;
mod tree;

pub use kind::EncodingType;
pub use tree::{walk, Part, Visit};

use crate::error::{Error, Result};
use crate::store::{Attrs, NodeKind, StoreReader};

/// One AnnData element: a node carrying `encoding-type` and `encoding-version`.
#[derive(Clone, Debug)]
pub struct Element {
    pub node: String,
    pub encoding: EncodingType,
    pub version: String,
    pub attrs: Attrs,
    pub kind: NodeKind,
}

fn attr_str<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(|v| v.as_str())
}

impl Element {
    /// Reads and checks the element at `node`: present, encoded, supported, and of the
    /// node kind its encoding calls for.
    pub fn open(store: &dyn StoreReader, node: &str) -> Result<Element> {
        let file = store.path();
        let kind = store.kind(node)?.ok_or_else(|| {
            Error::Store(crate::store::StoreError::NoNode {
                file: file.to_path_buf(),
                node: node.to_string(),
            })
        })?;
        let attrs = store.attrs(node)?;
        let Some(name) = attr_str(&attrs, "encoding-type") else {
            return Err(Error::MissingEncoding {
                file: file.to_path_buf(),
                node: node.to_string(),
            });
        };
        let version = attr_str(&attrs, "encoding-version")
            .unwrap_or("")
            .to_string();
        let unsupported = || Error::UnsupportedElement {
            file: file.to_path_buf(),
            node: node.to_string(),
            encoding: name.to_string(),
            version: version.clone(),
        };
        let encoding = EncodingType::parse(name).ok_or_else(unsupported)?;
        if !encoding.versions().contains(&version.as_str()) {
            return Err(unsupported());
        }
        let want = if encoding.is_group() {
            NodeKind::Group
        } else {
            NodeKind::Array
        };
        if kind != want {
            return Err(Error::invalid(
                file,
                node,
                encoding.name(),
                format!(
                    "stored as {}, expected {}",
                    kind_name(kind),
                    kind_name(want)
                ),
            ));
        }
        Ok(Element {
            node: node.to_string(),
            encoding,
            version,
            attrs,
            kind,
        })
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.attrs, key)
    }

    /// The `shape` attribute of a sparse matrix, as (rows, cols).
    pub fn sparse_shape(&self, store: &dyn StoreReader) -> Result<(u64, u64)> {
        let bad =
            |reason: &str| Error::invalid(store.path(), &self.node, self.encoding.name(), reason);
        let shape = self
            .attrs
            .get("shape")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("missing shape attribute"))?;
        let dims: Vec<u64> = shape.iter().filter_map(|v| v.as_u64()).collect();
        match dims.as_slice() {
            [r, c] if shape.len() == 2 => Ok((*r, *c)),
            _ => Err(bad(
                "shape attribute is not a pair of non-negative integers",
            )),
        }
    }
}

pub(crate) fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Group => "group",
        NodeKind::Array => "array",
    }
}

/// Checks that `store` holds an AnnData object at its root.
pub fn open_root(store: &dyn StoreReader) -> Result<Element> {
    let attrs = store.attrs("")?;
    match attr_str(&attrs, "encoding-type") {
        Some("anndata") => Element::open(store, ""),
        Some(other) => Err(Error::NotAnnData {
            file: store.path().to_path_buf(),
            reason: format!("root encoding-type is {other:?}, expected \"anndata\""),
        }),
        None => Err(Error::NotAnnData {
            file: store.path().to_path_buf(),
            reason: "root has no encoding-type attribute".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
