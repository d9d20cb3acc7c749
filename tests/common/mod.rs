//! Small AnnData stores built through adcat's own storage layer, for tests that must
//! run without Python.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use adcat::store::{self, ArraySpec, Attrs, Compression, DType, Data, Format, StoreReader};
use serde_json::json;

pub const FORMATS: [Format; 3] = [Format::H5ad, Format::ZarrV2, Format::ZarrV3];

pub fn suffix(format: Format) -> &'static str {
    match format {
        Format::H5ad => "h5ad",
        _ => "zarr",
    }
}

pub fn attrs(v: serde_json::Value) -> Attrs {
    v.as_object().cloned().unwrap_or_default()
}

pub fn enc(kind: &str, version: &str) -> Attrs {
    attrs(json!({"encoding-type": kind, "encoding-version": version}))
}

pub fn with(mut a: Attrs, extra: serde_json::Value) -> Attrs {
    if let Some(m) = extra.as_object() {
        for (k, v) in m {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

/// Writes a whole array in one block, chunked in `chunk` rows.
pub fn put(
    w: &dyn store::StoreWriter,
    node: &str,
    shape: &[u64],
    data: Data,
    a: Attrs,
    chunk: u64,
) {
    let chunks = if shape.is_empty() {
        vec![]
    } else {
        let mut c = shape.iter().map(|&s| s.max(1)).collect::<Vec<_>>();
        c[0] = chunk.min(shape[0]).max(1);
        c
    };
    let spec = ArraySpec {
        shape: shape.to_vec(),
        dtype: data.dtype(),
        chunks,
        shards: None,
        compression: Compression::None,
    };
    w.create_array(node, &spec, &a).expect("create array");
    if !shape.contains(&0) {
        let start = vec![0; shape.len()];
        w.write(node, &start, shape, &data).expect("write");
    }
}

fn strings(v: &[&str]) -> Data {
    Data::Str(v.iter().map(|s| s.to_string()).collect())
}

/// A 4 × 3 AnnData object with a CSR X, a dense layer, typed obs/var columns and a
/// nested uns. `tamper` may change the tree before it is closed.
pub fn write_sample(path: &Path, format: Format, tamper: impl FnOnce(&dyn store::StoreWriter)) {
    write_sample_with_x(path, format, write_sample_x, tamper)
}

/// The sample's X: CSR 4 × 3 with 5 entries.
pub fn write_sample_x(w: &dyn store::StoreWriter) {
    w.create_group(
        "X",
        &with(enc("csr_matrix", "0.1.0"), json!({"shape": [4, 3]})),
    )
    .unwrap();
    put(
        w,
        "X/data",
        &[5],
        Data::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0]),
        Attrs::new(),
        2,
    );
    put(
        w,
        "X/indices",
        &[5],
        Data::I32(vec![0, 2, 1, 0, 2]),
        Attrs::new(),
        2,
    );
    put(
        w,
        "X/indptr",
        &[5],
        Data::I32(vec![0, 2, 3, 3, 5]),
        Attrs::new(),
        2,
    );
}

/// The sample with X written by `write_x` instead.
pub fn write_sample_with_x(
    path: &Path,
    format: Format,
    write_x: impl FnOnce(&dyn store::StoreWriter),
    tamper: impl FnOnce(&dyn store::StoreWriter),
) {
    let w = store::create(path, format).expect("create store");
    let w = w.as_ref();
    w.create_group("", &enc("anndata", "0.1.0")).unwrap();
    // obs
    w.create_group(
        "obs",
        &with(
            enc("dataframe", "0.2.0"),
            json!({"_index": "_index", "column-order": ["kind", "count", "flag"]}),
        ),
    )
    .unwrap();
    put(
        w,
        "obs/_index",
        &[4],
        strings(&["c0", "c1", "细胞2", "c3é"]),
        enc("string-array", "0.2.0"),
        2,
    );
    w.create_group(
        "obs/kind",
        &with(enc("categorical", "0.2.0"), json!({"ordered": false})),
    )
    .unwrap();
    put(
        w,
        "obs/kind/codes",
        &[4],
        Data::I8(vec![0, 1, -1, 0]),
        enc("array", "0.2.0"),
        4,
    );
    put(
        w,
        "obs/kind/categories",
        &[2],
        strings(&["B", "T"]),
        enc("string-array", "0.2.0"),
        2,
    );
    w.create_group("obs/count", &enc("nullable-integer", "0.1.0"))
        .unwrap();
    put(
        w,
        "obs/count/values",
        &[4],
        Data::I64(vec![1, 0, 3, 4]),
        enc("array", "0.2.0"),
        4,
    );
    put(
        w,
        "obs/count/mask",
        &[4],
        Data::Bool(vec![false, true, false, false]),
        enc("array", "0.2.0"),
        4,
    );
    put(
        w,
        "obs/flag",
        &[4],
        Data::Bool(vec![true, false, true, true]),
        enc("array", "0.2.0"),
        4,
    );
    // var
    w.create_group(
        "var",
        &with(
            enc("dataframe", "0.2.0"),
            json!({"_index": "_index", "column-order": ["mean"]}),
        ),
    )
    .unwrap();
    put(
        w,
        "var/_index",
        &[3],
        strings(&["g0", "g1", "g2"]),
        enc("string-array", "0.2.0"),
        3,
    );
    put(
        w,
        "var/mean",
        &[3],
        Data::F64(vec![0.5, f64::NAN, 2.0]),
        enc("array", "0.2.0"),
        3,
    );
    write_x(w);
    // layers
    w.create_group("layers", &enc("dict", "0.1.0")).unwrap();
    put(
        w,
        "layers/dense",
        &[4, 3],
        Data::F64((0..12).map(|i| i as f64).collect()),
        enc("array", "0.2.0"),
        3,
    );
    for g in ["obsm", "varm", "obsp", "varp"] {
        w.create_group(g, &enc("dict", "0.1.0")).unwrap();
    }
    // uns
    w.create_group("uns", &enc("dict", "0.1.0")).unwrap();
    w.create_group("uns/nested", &enc("dict", "0.1.0")).unwrap();
    put(
        w,
        "uns/nested/pi",
        &[],
        Data::F64(vec![3.25]),
        enc("numeric-scalar", "0.2.0"),
        1,
    );
    put(
        w,
        "uns/nested/name",
        &[],
        strings(&["ünïcode"]),
        enc("string", "0.2.0"),
        1,
    );
    put(
        w,
        "uns/empty_list",
        &[0],
        Data::I64(vec![]),
        enc("array", "0.2.0"),
        1,
    );
    tamper(w);
    w.finish().unwrap();
}

/// Every node below `node`, with its attributes and (for arrays) its full contents.
/// A node's path, attributes and, for arrays, shape and contents.
pub type DumpedNode = (String, Attrs, Option<(Vec<u64>, Data)>);

pub fn dump(s: &dyn StoreReader, node: &str, out: &mut Vec<DumpedNode>) {
    // Attribute order carries no meaning (and backends differ in it): sort the keys.
    let mut sorted: Vec<_> = s.attrs(node).expect("attrs").into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let attrs: Attrs = sorted.into_iter().collect();
    match s.kind(node).expect("kind") {
        Some(store::NodeKind::Group) => {
            out.push((node.to_string(), attrs, None));
            for child in s.children(node).expect("children") {
                dump(s, &store::join(node, &child), out);
            }
        }
        Some(store::NodeKind::Array) => {
            let info = s.array_info(node).expect("info");
            let start = vec![0; info.shape.len()];
            let data = s.read(node, &start, &info.shape).expect("read");
            out.push((node.to_string(), attrs, Some((info.shape, data))));
        }
        None => panic!("{node} vanished"),
    }
}

/// Debug text of a dump with NaN written as a token, so NaN compares equal.
pub fn canonical(s: &dyn StoreReader) -> String {
    let mut nodes = Vec::new();
    dump(s, "", &mut nodes);
    format!("{nodes:?}")
}

pub fn out_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Every file in the directory tree under `root`, sorted by path.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub fn dtype_of(s: &dyn StoreReader, node: &str) -> DType {
    s.array_info(node).unwrap().dtype
}
