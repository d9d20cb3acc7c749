//! A checked, pre-order walk over every element of an AnnData store.

use super::{kind_name, Element, EncodingType};
use crate::error::{Error, Result};
use crate::store::{join, ArrayInfo, DType, NodeKind, StoreReader};

/// One node met on the walk.
pub enum Part<'a> {
    /// A node with its own encoding attributes.
    Element(&'a Element),
    /// A plain array inside an element (`data`, `indices`, `indptr` of a sparse matrix).
    RawArray {
        node: &'a str,
        parent: &'a Element,
        info: &'a ArrayInfo,
    },
}

pub trait Visit {
    fn visit(&mut self, part: Part<'_>) -> Result<()>;
}

/// Visits the root element and everything below it, parents before children and
/// siblings in code-point order, after checking each element's structure. Nothing is
/// read beyond attributes and array metadata.
pub fn walk(store: &dyn StoreReader, visitor: &mut dyn Visit) -> Result<()> {
    let root = super::open_root(store)?;
    walk_element(store, &root, visitor)
}

fn walk_element(store: &dyn StoreReader, elem: &Element, visitor: &mut dyn Visit) -> Result<()> {
    check_structure(store, elem)?;
    visitor.visit(Part::Element(elem))?;
    if elem.kind != NodeKind::Group {
        // Parsing the metadata now means a broken array fails the walk, not a later read.
        // A null element is an empty dataset with no shape (h5py's `Empty`).
        if elem.encoding != EncodingType::Null {
            store.array_info(&elem.node)?;
        }
        return Ok(());
    }
    for name in store.children(&elem.node)? {
        let node = join(&elem.node, &name);
        if elem.encoding.raw_parts().contains(&name.as_str()) {
            let info = store.array_info(&node)?;
            visitor.visit(Part::RawArray {
                node: &node,
                parent: elem,
                info: &info,
            })?;
        } else {
            let child = Element::open(store, &node)?;
            walk_element(store, &child, visitor)?;
        }
    }
    Ok(())
}

fn check_structure(store: &dyn StoreReader, elem: &Element) -> Result<()> {
    let file = store.path();
    let bad = |reason: String| Error::invalid(file, &elem.node, elem.encoding.name(), reason);
    if elem.kind == NodeKind::Group {
        for part in elem.encoding.required_parts() {
            if store.kind(&join(&elem.node, part))?.is_none() {
                return Err(bad(format!("missing part {part:?}")));
            }
        }
    }
    match elem.encoding {
        EncodingType::DataFrame => {
            let index = elem
                .attr_str("_index")
                .ok_or_else(|| bad("missing _index attribute".into()))?;
            if store.kind(&join(&elem.node, index))?.is_none() {
                return Err(bad(format!("index column {index:?} is missing")));
            }
            match elem.attrs.get("column-order") {
                Some(serde_json::Value::Array(cols)) => {
                    for col in cols {
                        let name = col
                            .as_str()
                            .ok_or_else(|| bad("column-order holds a non-string".into()))?;
                        if store.kind(&join(&elem.node, name))?.is_none() {
                            return Err(bad(format!("column {name:?} is missing")));
                        }
                    }
                }
                Some(serde_json::Value::String(name)) => {
                    // h5py stores a one-element list as a scalar string in some files.
                    if store.kind(&join(&elem.node, name))?.is_none() {
                        return Err(bad(format!("column {name:?} is missing")));
                    }
                }
                _ => return Err(bad("missing column-order attribute".into())),
            }
        }
        EncodingType::Csr | EncodingType::Csc => check_sparse(store, elem)?,
        EncodingType::Categorical if !elem.attrs.get("ordered").is_some_and(|v| v.is_boolean()) => {
            return Err(bad("missing boolean ordered attribute".into()));
        }
        _ => {}
    }
    Ok(())
}

fn check_sparse(store: &dyn StoreReader, elem: &Element) -> Result<()> {
    let file = store.path();
    let bad = |reason: String| Error::invalid(file, &elem.node, elem.encoding.name(), reason);
    let (rows, cols) = elem.sparse_shape(store)?;
    let mut lens = [0u64; 3];
    for (i, part) in ["data", "indices", "indptr"].iter().enumerate() {
        let node = join(&elem.node, part);
        match store.kind(&node)? {
            Some(NodeKind::Array) => {}
            Some(kind) => return Err(bad(format!("{part} is a {}", kind_name(kind)))),
            None => return Err(bad(format!("missing part {part:?}"))),
        }
        let info = store.array_info(&node)?;
        if info.shape.len() != 1 {
            return Err(bad(format!(
                "{part} has shape {:?}, expected 1-D",
                info.shape
            )));
        }
        if *part != "data" && !info.dtype.is_integer() {
            return Err(bad(format!(
                "{part} has dtype {}, expected integers",
                info.dtype
            )));
        }
        if *part == "data" && info.dtype == DType::Str {
            return Err(bad("data holds strings".into()));
        }
        lens[i] = info.shape[0];
    }
    let major = if elem.encoding == EncodingType::Csr {
        rows
    } else {
        cols
    };
    if lens[2] != major + 1 {
        return Err(bad(format!(
            "indptr has {} entries, expected {} for shape ({rows}, {cols})",
            lens[2],
            major + 1
        )));
    }
    if lens[0] != lens[1] {
        return Err(bad(format!(
            "data has {} entries but indices has {}",
            lens[0], lens[1]
        )));
    }
    Ok(())
}
