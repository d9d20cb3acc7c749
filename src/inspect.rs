//! `adcat inspect`: the element tree of an AnnData store with encodings, shapes,
//! dtypes, sparse nnz and the on-disk layout of every array.

use std::path::Path;

use serde::Serialize;

use crate::encoding::{walk, Element, EncodingType, Part, Visit};
use crate::error::Result;
use crate::store::{self, join, ArrayInfo, StoreReader};

#[derive(Debug, Serialize)]
pub struct Report {
    pub path: String,
    pub format: &'static str,
    pub elements: Vec<ElementRow>,
    pub arrays: Vec<ArrayRow>,
}

#[derive(Debug, Serialize)]
pub struct ElementRow {
    pub path: String,
    pub encoding_type: &'static str,
    pub encoding_version: String,
    pub shape: Option<Vec<u64>>,
    pub dtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nnz: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ArrayRow {
    pub path: String,
    #[serde(flatten)]
    pub info: ArrayInfo,
    /// Bytes on disk, where the store can tell.
    pub stored_bytes: Option<u64>,
}

struct Collector<'a> {
    store: &'a dyn StoreReader,
    elements: Vec<ElementRow>,
    arrays: Vec<ArrayRow>,
}

impl Collector<'_> {
    /// Sizes on disk are asked for here only: for every array of every input they
    /// would cost planning a listing or an index walk each.
    fn push_array(&mut self, node: &str, info: ArrayInfo) {
        self.arrays.push(ArrayRow {
            path: node.to_string(),
            info,
            stored_bytes: self.store.stored_bytes(node),
        });
    }

    fn len_of(&self, node: &str) -> Result<Option<u64>> {
        Ok(self.store.array_info(node)?.shape.first().copied())
    }

    fn describe(&mut self, e: &Element) -> Result<ElementRow> {
        let s = self.store;
        let mut row = ElementRow {
            path: e.node.clone(),
            encoding_type: e.encoding.name(),
            encoding_version: e.version.clone(),
            shape: None,
            dtype: None,
            nnz: None,
        };
        match e.encoding {
            EncodingType::Array
            | EncodingType::StringArray
            | EncodingType::NumericScalar
            | EncodingType::String => {
                let info = s.array_info(&e.node)?;
                row.shape = Some(info.shape.clone());
                row.dtype = Some(info.dtype.name().to_string());
                self.push_array(&e.node, info);
            }
            EncodingType::Csr | EncodingType::Csc => {
                let (r, c) = e.sparse_shape(s)?;
                let data = s.array_info(&join(&e.node, "data"))?;
                row.shape = Some(vec![r, c]);
                row.dtype = Some(data.dtype.name().to_string());
                row.nnz = data.shape.first().copied();
            }
            EncodingType::DataFrame => {
                let rows = self.frame_len(&e.node)?.unwrap_or(0);
                let cols = match e.attrs.get("column-order") {
                    Some(serde_json::Value::Array(a)) => a.len() as u64,
                    Some(serde_json::Value::String(_)) => 1,
                    _ => 0,
                };
                row.shape = Some(vec![rows, cols]);
            }
            EncodingType::Categorical => {
                row.shape = self.len_of(&join(&e.node, "codes"))?.map(|n| vec![n]);
                row.dtype = Some("category".into());
            }
            EncodingType::NullableInteger
            | EncodingType::NullableBoolean
            | EncodingType::NullableString => {
                let info = s.array_info(&join(&e.node, "values"))?;
                row.shape = Some(info.shape);
                row.dtype = Some(info.dtype.name().to_string());
            }
            EncodingType::AnnData => {
                let obs = self.frame_len("obs")?;
                let var = self.frame_len("var")?;
                if let (Some(o), Some(v)) = (obs, var) {
                    row.shape = Some(vec![o, v]);
                }
            }
            EncodingType::Raw | EncodingType::Dict | EncodingType::Null => {}
        }
        Ok(row)
    }

    /// Rows of the dataframe at `node`, when it is one.
    fn frame_len(&self, node: &str) -> Result<Option<u64>> {
        if self.store.kind(node)?.is_none() {
            return Ok(None);
        }
        Ok(Some(crate::concat::frame::frame_shape(self.store, node)?.1))
    }
}

impl Visit for Collector<'_> {
    fn visit(&mut self, part: Part<'_>) -> Result<()> {
        match part {
            Part::Element(e) => {
                let row = self.describe(e)?;
                self.elements.push(row);
            }
            Part::RawArray { node, info, .. } => self.push_array(node, info.clone()),
        }
        Ok(())
    }
}

pub fn inspect(path: &Path) -> Result<Report> {
    let store = store::open(path)?;
    let mut c = Collector {
        store: store.as_ref(),
        elements: Vec::new(),
        arrays: Vec::new(),
    };
    walk(store.as_ref(), &mut c)?;
    Ok(Report {
        path: path.display().to_string(),
        format: store.format().name(),
        elements: c.elements,
        arrays: c.arrays,
    })
}

fn fmt_dims(dims: &[u64]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("({})", parts.join(", "))
}

/// Human-readable bytes: 1536 → "1.5 KiB".
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Report {
    /// The report as an aligned table, one line per element or array.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 8]> = vec![[
            "PATH".into(),
            "ENCODING".into(),
            "SHAPE".into(),
            "DTYPE".into(),
            "NNZ".into(),
            "CHUNKS / SHARDS".into(),
            "CODECS".into(),
            "STORED".into(),
        ]];
        let array_of = |path: &str| self.arrays.iter().find(|a| a.path == path);
        let push_array = |rows: &mut Vec<[String; 8]>, label: String, enc: String, a: &ArrayRow| {
            let chunks = match (&a.info.chunks, &a.info.shards) {
                (Some(c), Some(s)) => format!("{} / {}", fmt_dims(c), fmt_dims(s)),
                (Some(c), None) => fmt_dims(c),
                _ => "contiguous".into(),
            };
            rows.push([
                label,
                enc,
                fmt_dims(&a.info.shape),
                a.info.dtype.name().into(),
                String::new(),
                chunks,
                a.info.codecs.join(","),
                a.stored_bytes.map(fmt_bytes).unwrap_or_default(),
            ]);
        };
        let label = |path: &str| {
            if path.is_empty() {
                "/".to_string()
            } else {
                let depth = path.matches('/').count();
                format!(
                    "{}{}",
                    "  ".repeat(depth),
                    path.rsplit('/').next().unwrap_or(path)
                )
            }
        };
        for e in &self.elements {
            let enc = format!("{} {}", e.encoding_type, e.encoding_version);
            if let Some(a) = array_of(&e.path) {
                push_array(&mut rows, label(&e.path), enc, a);
                continue;
            }
            rows.push([
                label(&e.path),
                enc,
                e.shape.as_deref().map(fmt_dims).unwrap_or_default(),
                e.dtype.clone().unwrap_or_default(),
                e.nnz.map(|n| n.to_string()).unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            if e.encoding_type == "csr_matrix" || e.encoding_type == "csc_matrix" {
                for part in ["data", "indices", "indptr"] {
                    let p = join(&e.path, part);
                    if let Some(a) = array_of(&p) {
                        push_array(&mut rows, label(&p), "-".into(), a);
                    }
                }
            }
        }
        let mut widths = [0usize; 8];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!("{} ({})\n", self.path, self.format);
        for r in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let total: u64 = self.arrays.iter().filter_map(|a| a.stored_bytes).sum();
        out.push_str(&format!(
            "{} elements, {} arrays, {} on disk\n",
            self.elements.len(),
            self.arrays.len(),
            fmt_bytes(total)
        ));
        out
    }
}
