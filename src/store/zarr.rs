//! Zarr v2 and v3 stores through `zarrs`.
//!
//! Metadata documents (`.zgroup`, `.zarray`, `.zattrs`, `zarr.json`) are small JSON
//! files that we read and write ourselves: what lands on disk is then exactly what
//! zarr-python writes and reads, and errors can name the offending file. `zarrs` does
//! everything below: the chunk grid, the codecs and the chunk I/O, in parallel.

use super::*;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex, RwLock};
use zarrs::array::{
    Array, ArrayBytesFixedDisjointView, ArrayError, ArrayMetadata, ArrayMetadataV2,
    ArrayMetadataV3, ArraySubset, Element,
};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{Bytes, StoreKey, WritableStorageTraits};

type ZArray = Array<FilesystemStore>;

const V2_GROUP: &str = ".zgroup";
const V2_ARRAY: &str = ".zarray";
const V2_ATTRS: &str = ".zattrs";
const V3_META: &str = "zarr.json";

/// Where an error happened: the store and the node inside it.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a Path,
    node: &'a str,
}

impl At<'_> {
    fn invalid(self, reason: impl Display) -> StoreError {
        StoreError::Invalid {
            file: pathbuf(self.file),
            node: self.node.to_string(),
            reason: reason.to_string(),
        }
    }

    fn backend(self, op: &'static str, err: impl Display) -> StoreError {
        StoreError::backend(self.file, self.node, op, err)
    }

    fn no_node(self) -> StoreError {
        StoreError::NoNode {
            file: pathbuf(self.file),
            node: self.node.to_string(),
        }
    }

    fn wrong_kind(self, expected: NodeKind, found: NodeKind) -> StoreError {
        StoreError::WrongKind {
            file: pathbuf(self.file),
            node: self.node.to_string(),
            expected: kind_name(expected),
            found: kind_name(found),
        }
    }

    fn unsupported(self, dtype: impl Display) -> StoreError {
        StoreError::UnsupportedDType {
            file: pathbuf(self.file),
            node: self.node.to_string(),
            dtype: dtype.to_string(),
        }
    }

    fn out_of_bounds(self, start: &[u64], shape: &[u64], array_shape: &[u64]) -> StoreError {
        StoreError::OutOfBounds {
            file: pathbuf(self.file),
            node: self.node.to_string(),
            start: start.to_vec(),
            shape: shape.to_vec(),
            array_shape: array_shape.to_vec(),
        }
    }
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Group => "group",
        NodeKind::Array => "array",
    }
}

/// Rejects node paths that could escape the store or name nothing (`a//b`, `../x`).
fn check_node(at: At) -> Result<()> {
    if at.node.is_empty() {
        return Ok(());
    }
    let bad = at
        .node
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(at.invalid("malformed node path"));
    }
    Ok(())
}

/// The key of a file inside a node's directory, relative to the store root.
fn node_key(node: &str, file: &str) -> String {
    join(node, file)
}

/// The node path as `zarrs` spells it (absolute, `/` for the root).
fn zarrs_path(node: &str) -> String {
    format!("/{node}")
}

/// Reads a metadata document; `None` when the file does not exist.
fn read_json(at: At, name: &str) -> Result<Option<Value>> {
    let file = at.file.join(node_key(at.node, name));
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| at.invalid(format!("{name}: invalid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(None),
        Err(e) => Err(at.backend("reading metadata", format!("{name}: {e}"))),
    }
}

/// Detects the Zarr version of the store rooted at `path` from its root metadata.
fn detect_format(path: &Path) -> Result<Format> {
    if !path.exists() {
        return Err(StoreError::NotFound {
            file: pathbuf(path),
        });
    }
    let not_a_store = |reason: &str| StoreError::NotAStore {
        file: pathbuf(path),
        reason: reason.to_string(),
    };
    if !path.is_dir() {
        return Err(not_a_store("not a directory"));
    }
    if path.join(V3_META).is_file() {
        Ok(Format::ZarrV3)
    } else if path.join(V2_GROUP).is_file() || path.join(V2_ARRAY).is_file() {
        Ok(Format::ZarrV2)
    } else {
        Err(not_a_store("no zarr.json, .zgroup or .zarray at the root"))
    }
}

/// The kind of a node, from its metadata file(s).
fn node_kind(at: At, format: Format) -> Result<Option<NodeKind>> {
    check_node(at)?;
    if format == Format::ZarrV2 {
        let dir = at.file.join(at.node);
        return Ok(if dir.join(V2_ARRAY).is_file() {
            Some(NodeKind::Array)
        } else if dir.join(V2_GROUP).is_file() {
            Some(NodeKind::Group)
        } else {
            None
        });
    }
    let Some(meta) = read_json(at, V3_META)? else {
        return Ok(None);
    };
    match meta.get("node_type").and_then(Value::as_str) {
        Some("array") => Ok(Some(NodeKind::Array)),
        Some("group") => Ok(Some(NodeKind::Group)),
        other => Err(at.invalid(format!("zarr.json: bad node_type {other:?}"))),
    }
}

/// Fails unless the node exists and is of kind `expected`.
fn expect_kind(at: At, format: Format, expected: NodeKind) -> Result<()> {
    match node_kind(at, format)? {
        None => Err(at.no_node()),
        Some(found) if found != expected => Err(at.wrong_kind(expected, found)),
        Some(_) => Ok(()),
    }
}

/// Checks that `start .. start + shape` lies inside `array_shape`; returns the
/// number of elements in the region.
fn check_region(at: At, start: &[u64], shape: &[u64], array_shape: &[u64]) -> Result<usize> {
    if start.len() != array_shape.len() || shape.len() != array_shape.len() {
        return Err(at.invalid(format!(
            "region {start:?}+{shape:?} has the wrong rank for shape {array_shape:?}"
        )));
    }
    let inside = start
        .iter()
        .zip(shape)
        .zip(array_shape)
        .all(|((&s, &n), &len)| s.checked_add(n).is_some_and(|end| end <= len));
    if !inside {
        return Err(at.out_of_bounds(start, shape, array_shape));
    }
    shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(usize::try_from(n).ok()?))
        .ok_or_else(|| at.invalid(format!("region {shape:?} is too large")))
}

// ---------------------------------------------------------------------------------
// Reading metadata: data types, shapes and codec names
// ---------------------------------------------------------------------------------

/// The element type of a Zarr v2 `dtype` (numpy type string).
fn dtype_v2(dtype: &Value, filters: &Value) -> Result<DType, String> {
    let Some(name) = dtype.as_str() else {
        // Structured (record) dtypes are lists of fields.
        return Err(dtype.to_string());
    };
    // Drop the byte order: zarrs takes care of it.
    let code = name.trim_start_matches(['<', '>', '|', '=']);
    Ok(match code {
        "b1" => DType::Bool,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "f4" => DType::F32,
        "f8" => DType::F64,
        // Object arrays hold strings only when encoded with `vlen-utf8`.
        "O" if codec_ids_v2(filters).iter().any(|id| id == "vlen-utf8") => DType::Str,
        "O" => return Err(format!("{name} without a vlen-utf8 filter")),
        _ => return Err(name.to_string()),
    })
}

/// The element type of a Zarr v3 `data_type`.
fn dtype_v3(data_type: &Value) -> Result<DType, String> {
    let Some(name) = data_type.as_str() else {
        return Err(data_type.to_string());
    };
    Ok(match name {
        "bool" => DType::Bool,
        "int8" => DType::I8,
        "int16" => DType::I16,
        "int32" => DType::I32,
        "int64" => DType::I64,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "float32" => DType::F32,
        "float64" => DType::F64,
        "string" => DType::Str,
        _ => return Err(name.to_string()),
    })
}

fn codec_ids_v2(filters: &Value) -> Vec<String> {
    filters
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f.get("id").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A codec as `inspect` shows it: its name, with the settings that matter for size.
fn codec_label(name: &str, conf: &Value) -> String {
    let level = conf.get("level").or_else(|| conf.get("clevel"));
    match (name, level) {
        ("blosc", Some(level)) => {
            let cname = conf.get("cname").and_then(Value::as_str).unwrap_or("?");
            format!(
                "blosc({cname},{level},{})",
                shuffle_name(conf.get("shuffle"))
            )
        }
        ("zstd" | "gzip" | "zlib", Some(level)) => format!("{name}({level})"),
        _ => name.to_string(),
    }
}

/// Blosc shuffle modes are numbers in numcodecs (v2) and names in v3.
fn shuffle_name(shuffle: Option<&Value>) -> String {
    match shuffle {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => "noshuffle".into(),
            Some(1) => "shuffle".into(),
            Some(2) => "bitshuffle".into(),
            Some(-1) => "autoshuffle".into(),
            _ => n.to_string(),
        },
        _ => "?".into(),
    }
}

fn u64_list(value: Option<&Value>) -> Option<Vec<u64>> {
    value?.as_array()?.iter().map(Value::as_u64).collect()
}

/// Shape, type, chunking and codecs of an array, from its v2 `.zarray`.
fn describe_v2(at: At, meta: &Value) -> Result<ArrayInfo> {
    let field = |key: &str| meta.get(key).unwrap_or(&Value::Null);
    let shape = u64_list(meta.get("shape")).ok_or_else(|| at.invalid(".zarray: bad shape"))?;
    let chunks = u64_list(meta.get("chunks")).ok_or_else(|| at.invalid(".zarray: bad chunks"))?;
    let dtype = dtype_v2(field("dtype"), field("filters")).map_err(|d| at.unsupported(d))?;
    let mut codecs = codec_ids_v2(field("filters"));
    if let Some(id) = field("compressor").get("id").and_then(Value::as_str) {
        codecs.push(codec_label(id, field("compressor")));
    }
    Ok(ArrayInfo {
        shape,
        dtype,
        chunks: Some(chunks),
        shards: None,
        codecs,
    })
}

/// Name and configuration of a v3 extension point (`"name"` or `{"name", "configuration"}`).
fn name_and_conf(entry: &Value) -> (&str, &Value) {
    match entry {
        Value::String(name) => (name, &Value::Null),
        _ => (
            entry.get("name").and_then(Value::as_str).unwrap_or("?"),
            entry.get("configuration").unwrap_or(&Value::Null),
        ),
    }
}

/// Shape, type, chunking and codecs of an array, from its v3 `zarr.json`. For a
/// sharded array the chunks are the inner chunks and the codecs those applied to them.
fn describe_v3(at: At, meta: &Value) -> Result<ArrayInfo> {
    let shape = u64_list(meta.get("shape")).ok_or_else(|| at.invalid("zarr.json: bad shape"))?;
    let data_type = meta.get("data_type").unwrap_or(&Value::Null);
    let dtype = dtype_v3(data_type).map_err(|d| at.unsupported(d))?;
    let (grid, grid_conf) = name_and_conf(meta.get("chunk_grid").unwrap_or(&Value::Null));
    let grid_shape = u64_list(grid_conf.get("chunk_shape"))
        .filter(|_| grid == "regular")
        .ok_or_else(|| at.invalid(format!("zarr.json: unsupported chunk grid {grid}")))?;
    let codecs = meta
        .get("codecs")
        .and_then(Value::as_array)
        .ok_or_else(|| at.invalid("zarr.json: no codecs"))?;
    let sharding = codecs
        .iter()
        .map(name_and_conf)
        .find(|(name, _)| *name == "sharding_indexed");
    let (chunks, shards, pipeline) = match sharding {
        Some((_, conf)) => (
            u64_list(conf.get("chunk_shape"))
                .ok_or_else(|| at.invalid("zarr.json: bad sharding chunk_shape"))?,
            Some(grid_shape),
            conf.get("codecs")
                .and_then(Value::as_array)
                .unwrap_or(codecs),
        ),
        None => (grid_shape, None, codecs),
    };
    let codecs = pipeline
        .iter()
        .map(|c| {
            let (name, conf) = name_and_conf(c);
            codec_label(name, conf)
        })
        .collect();
    Ok(ArrayInfo {
        shape,
        dtype,
        chunks: Some(chunks),
        shards,
        codecs,
    })
}

/// Bytes taken by the chunk (or shard) files of an array: everything in its
/// directory tree but the metadata documents.
fn stored_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += stored_bytes(&entry.path())?;
        } else if kind.is_file() {
            let name = entry.file_name();
            if ![V2_ARRAY, V2_ATTRS, V3_META, ".zmetadata"].contains(&name.to_str().unwrap_or("")) {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}

/// Builds the `zarrs` array for a metadata document (without touching the store).
fn zarrs_array(
    at: At,
    storage: &Arc<FilesystemStore>,
    format: Format,
    meta: Value,
) -> Result<ZArray> {
    let metadata = match format {
        Format::ZarrV2 => serde_json::from_value::<ArrayMetadataV2>(meta).map(ArrayMetadata::V2),
        _ => serde_json::from_value::<ArrayMetadataV3>(meta).map(ArrayMetadata::V3),
    }
    .map_err(|e| at.invalid(format!("array metadata: {e}")))?;
    let array = Array::new_with_metadata(storage.clone(), &zarrs_path(at.node), metadata)
        .map_err(|e| at.backend("opening the array", e))?;
    // Inner chunks in C order, not in the order parallel encoders finish: the same
    // data then always gives the same shard bytes.
    let opts = zarrs::array::codec::api::CodecSpecificOptions::default().with_option(
        zarrs::array::codec::ShardingCodecOptions::default()
            .with_subchunk_write_order(zarrs::array::codec::SubchunkWriteOrder::C),
    );
    Ok(array.with_codec_specific_options(&opts))
}

// ---------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------

/// An array opened for reading, with its description.
struct OpenArray {
    array: ZArray,
    info: ArrayInfo,
}

pub struct ZarrReader {
    path: PathBuf,
    format: Format,
    storage: Arc<FilesystemStore>,
    /// Arrays opened so far: reads come block by block, and metadata is parsed once.
    arrays: RwLock<HashMap<String, Arc<OpenArray>>>,
}

impl ZarrReader {
    pub fn open(path: &Path) -> Result<Self> {
        let format = detect_format(path)?;
        let storage = FilesystemStore::new(path).map_err(|e| StoreError::NotAStore {
            file: pathbuf(path),
            reason: e.to_string(),
        })?;
        Ok(ZarrReader {
            path: pathbuf(path),
            format,
            storage: Arc::new(storage),
            arrays: RwLock::default(),
        })
    }

    fn at<'a>(&'a self, node: &'a str) -> At<'a> {
        At {
            file: &self.path,
            node,
        }
    }

    fn open_array(&self, node: &str) -> Result<Arc<OpenArray>> {
        if let Some(open) = self.arrays.read().ok().and_then(|m| m.get(node).cloned()) {
            return Ok(open);
        }
        let at = self.at(node);
        expect_kind(at, self.format, NodeKind::Array)?;
        let (file, describe): (_, fn(At, &Value) -> Result<ArrayInfo>) = match self.format {
            Format::ZarrV2 => (V2_ARRAY, describe_v2),
            _ => (V3_META, describe_v3),
        };
        let meta = read_json(at, file)?.ok_or_else(|| at.no_node())?;
        let info = describe(at, &meta)?;
        let array = zarrs_array(at, &self.storage, self.format, meta)?;
        let open = Arc::new(OpenArray { array, info });
        if let Ok(mut arrays) = self.arrays.write() {
            arrays.insert(node.to_string(), open.clone());
        }
        Ok(open)
    }
}

/// Decodes `subset` of `array` as elements of `dtype`.
fn retrieve(array: &ZArray, dtype: DType, subset: &ArraySubset) -> Result<Data, ArrayError> {
    Ok(match dtype {
        // Not every byte is a bool, and strings are not fixed-width: decoded as zarrs does.
        DType::Bool => Data::Bool(array.retrieve_array_subset(subset)?),
        DType::Str => Data::Str(array.retrieve_array_subset(subset)?),
        DType::I8 => Data::I8(retrieve_into(array, subset)?),
        DType::I16 => Data::I16(retrieve_into(array, subset)?),
        DType::I32 => Data::I32(retrieve_into(array, subset)?),
        DType::I64 => Data::I64(retrieve_into(array, subset)?),
        DType::U8 => Data::U8(retrieve_into(array, subset)?),
        DType::U16 => Data::U16(retrieve_into(array, subset)?),
        DType::U32 => Data::U32(retrieve_into(array, subset)?),
        DType::U64 => Data::U64(retrieve_into(array, subset)?),
        DType::F32 => Data::F32(retrieve_into(array, subset)?),
        DType::F64 => Data::F64(retrieve_into(array, subset)?),
    })
}

/// Decodes `subset` straight into a typed buffer. Asked for a `Vec<T>`, zarrs decodes
/// into bytes of its own and then copies them into a zeroed `Vec<T>`: an extra copy and
/// allocation of every block read, a tenth of the CPU time of a dense outer join on Zarr
/// (`perf record`).
fn retrieve_into<T: bytemuck::Pod>(
    array: &ZArray,
    subset: &ArraySubset,
) -> Result<Vec<T>, ArrayError> {
    let width = std::mem::size_of::<T>();
    if array.data_type().fixed_size() != Some(width) {
        return Err(ArrayError::CodecError(zarrs::array::CodecError::Other(
            format!(
                "{}-byte elements read as {width}-byte ones",
                array.data_type().fixed_size().unwrap_or(0)
            ),
        )));
    }
    let shape = subset.shape();
    let decode = |out: &mut [u8]| {
        let bytes = unsafe_cell_slice::UnsafeCellSlice::new(out);
        // SAFETY: the only view of `out`, covering all of it.
        let mut view = unsafe {
            ArrayBytesFixedDisjointView::new(
                bytes,
                width,
                shape,
                ArraySubset::new_with_shape(shape.to_vec()),
            )
        }
        .map_err(zarrs::array::CodecError::from)?;
        array.retrieve_array_subset_into(subset, (&mut view).into())
    };
    // SAFETY: zarrs writes every element of the view, chunks that are not stored
    // included (as their fill value), and reads none: its own reads decode into
    // uncleared memory the same way.
    unsafe { crate::store::written_vec(subset.num_elements_usize(), decode) }
}

impl StoreReader for ZarrReader {
    fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> Format {
        self.format
    }

    fn kind(&self, node: &str) -> Result<Option<NodeKind>> {
        node_kind(self.at(node), self.format)
    }

    fn children(&self, group: &str) -> Result<Vec<String>> {
        let at = self.at(group);
        expect_kind(at, self.format, NodeKind::Group)?;
        let entries =
            std::fs::read_dir(self.path.join(group)).map_err(|e| at.backend("listing", e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| at.backend("listing", e))?;
            // Names that are not UTF-8 cannot be Zarr nodes.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            let child = join(group, &name);
            if node_kind(self.at(&child), self.format)?.is_some() {
                names.push(name);
            }
        }
        // String order is byte order, which for UTF-8 is code point order.
        names.sort();
        Ok(names)
    }

    fn attrs(&self, node: &str) -> Result<Attrs> {
        let at = self.at(node);
        if node_kind(at, self.format)?.is_none() {
            return Err(at.no_node());
        }
        let attrs = match self.format {
            Format::ZarrV2 => read_json(at, V2_ATTRS)?,
            _ => read_json(at, V3_META)?.and_then(|mut m| m.get_mut("attributes").map(Value::take)),
        };
        match attrs {
            None | Some(Value::Null) => Ok(Attrs::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(at.invalid("attributes are not a JSON object")),
        }
    }

    fn array_info(&self, node: &str) -> Result<ArrayInfo> {
        Ok(self.open_array(node)?.info.clone())
    }

    fn stored_bytes(&self, node: &str) -> Option<u64> {
        // Sizes are a convenience: an unreadable directory just leaves them unknown.
        self.open_array(node).ok()?;
        stored_bytes(&self.path.join(node)).ok()
    }

    fn read(&self, node: &str, start: &[u64], shape: &[u64]) -> Result<Data> {
        let at = self.at(node);
        let open = self.open_array(node)?;
        let dtype = open.info.dtype;
        if check_region(at, start, shape, &open.info.shape)? == 0 {
            return Ok(Data::with_capacity(dtype, 0));
        }
        let subset = ArraySubset::new_with_start_shape(start.to_vec(), shape.to_vec())
            .map_err(|e| at.invalid(e))?;
        retrieve(&open.array, dtype, &subset).map_err(|e| at.backend("read", e))
    }
}

// ---------------------------------------------------------------------------------
// Writing metadata
// ---------------------------------------------------------------------------------

/// numpy's type string for a v2 `dtype` (little-endian, as numpy writes on x86/ARM).
fn dtype_name_v2(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::Str => "|O",
    }
}

fn dtype_name_v3(dtype: DType) -> &'static str {
    match dtype {
        DType::Str => "string",
        other => other.name(),
    }
}

/// The fill value: what zarr-python uses for arrays created from numpy data.
fn fill_value(dtype: DType) -> Value {
    match dtype {
        DType::Bool => json!(false),
        DType::F32 | DType::F64 => json!(0.0),
        DType::Str => json!(""),
        _ => json!(0),
    }
}

/// Bytes per element as blosc sees them (vlen-utf8 output is a byte stream).
fn typesize(dtype: DType) -> usize {
    match dtype {
        DType::Str => 1,
        other => other.size(),
    }
}

fn check_level(at: At, level: i64, range: std::ops::RangeInclusive<i64>, what: &str) -> Result<()> {
    if range.contains(&level) {
        Ok(())
    } else {
        Err(at.invalid(format!("{what} level {level} is outside {range:?}")))
    }
}

/// The numcodecs compressor of a v2 array. Zstd goes through Blosc there, as
/// anndata's default compressor does, so its levels are Blosc's (0 to 9).
fn compressor_v2(at: At, compression: Compression) -> Result<Value> {
    let blosc = |cname: &str, level: i64| -> Result<Value> {
        check_level(at, level, 0..=9, &format!("blosc-{cname}"))?;
        Ok(json!({"id": "blosc", "cname": cname, "clevel": level, "shuffle": 1, "blocksize": 0}))
    };
    match compression {
        Compression::None => Ok(Value::Null),
        Compression::Lz4 { level } => blosc("lz4", level.into()),
        Compression::Zstd { level } => blosc("zstd", level.into()),
        Compression::Gzip { level } => {
            check_level(at, level.into(), 0..=9, "zlib")?;
            Ok(json!({"id": "zlib", "level": level}))
        }
    }
}

/// A v3 codec entry. The configuration is always written, even when empty: some
/// zarr-python 3 releases reject codecs (e.g. `vlen-utf8`, `crc32c`) without one.
fn codec(name: &str, configuration: Value) -> Value {
    json!({"name": name, "configuration": configuration})
}

/// The codecs that turn one (inner) chunk into bytes, in pipeline order.
fn chunk_codecs_v3(at: At, dtype: DType, compression: Compression) -> Result<Vec<Value>> {
    let serializer = match dtype {
        DType::Str => codec("vlen-utf8", json!({})),
        d if d.size() == 1 => codec("bytes", json!({})),
        _ => codec("bytes", json!({"endian": "little"})),
    };
    let blosc = |cname: &str, level: i64| -> Result<Value> {
        check_level(at, level, 0..=9, &format!("blosc-{cname}"))?;
        let conf = json!({"cname": cname, "clevel": level, "shuffle": "shuffle",
                          "typesize": typesize(dtype), "blocksize": 0});
        Ok(codec("blosc", conf))
    };
    let compressor = match compression {
        Compression::None => None,
        Compression::Lz4 { level } => Some(blosc("lz4", level.into())?),
        Compression::Zstd { level } => {
            check_level(at, level.into(), -131_072..=22, "zstd")?;
            Some(codec("zstd", json!({"level": level, "checksum": false})))
        }
        Compression::Gzip { level } => {
            check_level(at, level.into(), 0..=9, "gzip")?;
            Some(codec("gzip", json!({"level": level})))
        }
    };
    Ok(std::iter::once(serializer).chain(compressor).collect())
}

/// The chunk grid cell of an array: the shard when sharded, else the chunk.
fn grid_shape(spec: &ArraySpec) -> Vec<u64> {
    if spec.shape.is_empty() {
        return Vec::new();
    }
    spec.shards.clone().unwrap_or_else(|| spec.chunks.clone())
}

fn check_spec(at: At, format: Format, spec: &ArraySpec) -> Result<()> {
    let rank = spec.shape.len();
    if rank == 0 {
        return Ok(());
    }
    if spec.chunks.len() != rank || spec.chunks.contains(&0) {
        return Err(at.invalid(format!(
            "chunks {:?} do not fit shape {:?}",
            spec.chunks, spec.shape
        )));
    }
    let Some(shards) = &spec.shards else {
        return Ok(());
    };
    if format != Format::ZarrV3 {
        return Err(at.invalid("shards need Zarr v3"));
    }
    let whole_chunks = shards.len() == rank
        && shards
            .iter()
            .zip(&spec.chunks)
            .all(|(&s, &c)| s > 0 && s % c == 0);
    if !whole_chunks {
        return Err(at.invalid(format!(
            "shards {shards:?} are not whole multiples of chunks {:?}",
            spec.chunks
        )));
    }
    Ok(())
}

/// The `.zarray` document of a new v2 array.
fn zarray(at: At, spec: &ArraySpec) -> Result<Value> {
    let filters = match spec.dtype {
        DType::Str => json!([{"id": "vlen-utf8"}]),
        _ => Value::Null,
    };
    Ok(json!({
        "shape": spec.shape,
        "chunks": grid_shape(spec),
        "dtype": dtype_name_v2(spec.dtype),
        "fill_value": fill_value(spec.dtype),
        "order": "C",
        "filters": filters,
        "dimension_separator": ".",
        "compressor": compressor_v2(at, spec.compression)?,
        "zarr_format": 2,
    }))
}

/// The `zarr.json` document of a new v3 array, sharded with a crc32c-checked index
/// when the spec asks for shards.
fn zarr_json_array(at: At, spec: &ArraySpec, attrs: &Attrs) -> Result<Value> {
    let inner = chunk_codecs_v3(at, spec.dtype, spec.compression)?;
    let codecs = match &spec.shards {
        Some(_) if !spec.shape.is_empty() => vec![codec(
            "sharding_indexed",
            json!({
                "chunk_shape": spec.chunks,
                "codecs": inner,
                "index_codecs": [
                    codec("bytes", json!({"endian": "little"})),
                    codec("crc32c", json!({})),
                ],
                "index_location": "end",
            }),
        )],
        _ => inner,
    };
    Ok(json!({
        "shape": spec.shape,
        "data_type": dtype_name_v3(spec.dtype),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid_shape(spec)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value(spec.dtype),
        "codecs": codecs,
        "attributes": attrs,
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }))
}

// ---------------------------------------------------------------------------------
// Writing chunks
// ---------------------------------------------------------------------------------

/// An array created by this writer.
struct WriteArray {
    array: ZArray,
    dtype: DType,
    /// The chunk grid cell: the shard shape when sharded, else the chunk shape.
    grid: Vec<u64>,
    /// Held while updating chunks that a block covers only in part: two such blocks
    /// may share a chunk, and each reads, merges and rewrites it.
    partial: Mutex<()>,
    /// What the array was created from, to rewrite its metadata on resize.
    spec: ArraySpec,
    attrs: Attrs,
}

impl WriteArray {
    /// Stores a block: as whole grid cells, encoded without reading anything back,
    /// when it is aligned to the grid (its end may be the end of the array, where the
    /// edge cells are padded with the fill value); otherwise by read-modify-write.
    fn store<T: Element + Clone + Default + Sync>(
        &self,
        start: &[u64],
        shape: &[u64],
        values: &[T],
    ) -> Result<(), ArrayError> {
        let array_shape = self.array.shape();
        let aligned = (0..start.len()).all(|d| {
            let (g, end) = (self.grid[d], start[d] + shape[d]);
            start[d].is_multiple_of(g) && (end.is_multiple_of(g) || end == array_shape[d])
        });
        if !aligned {
            let _lock = self.partial.lock().unwrap_or_else(|e| e.into_inner());
            let subset = ArraySubset::new_with_start_shape(start.to_vec(), shape.to_vec())?;
            return self.array.store_array_subset(&subset, values);
        }
        let cells: Vec<_> = (0..start.len())
            .map(|d| start[d] / self.grid[d]..(start[d] + shape[d]).div_ceil(self.grid[d]))
            .collect();
        let padded: Vec<u64> = cells
            .iter()
            .zip(&self.grid)
            .map(|(c, g)| (c.end - c.start) * g)
            .collect();
        let values: std::borrow::Cow<'_, [T]> = if padded == shape {
            values.into()
        } else {
            pad(values, shape, &padded).into()
        };
        if !cells.is_empty() && cells[1..].iter().all(|c| c.end - c.start == 1) {
            // A block one cell wide holds each cell as one run of its elements, so each
            // cell is encoded from its own slice of the block rather than from a copy
            // (a tenth of the CPU time of a dense Zarr concatenation went to that copy).
            let cell_len = (padded[1..].iter().product::<u64>() * self.grid[0]) as usize;
            let (first, rest): (u64, Vec<u64>) =
                (cells[0].start, cells[1..].iter().map(|c| c.start).collect());
            return cells[0].clone().into_par_iter().try_for_each(|k| {
                let index: Vec<u64> = std::iter::once(k).chain(rest.iter().copied()).collect();
                let at = (k - first) as usize * cell_len;
                self.array.store_chunk(&index, &values[at..at + cell_len])
            });
        }
        let cells = ArraySubset::new_with_ranges(&cells);
        self.array.store_chunks(&cells, &values[..])
    }
}

/// Copies a row-major block of `shape` into the top corner of a row-major block of
/// `padded` (same rank, no smaller anywhere), filling the rest with `T::default()`.
fn pad<T: Clone + Default>(values: &[T], shape: &[u64], padded: &[u64]) -> Vec<T> {
    let total = padded.iter().product::<u64>() as usize;
    let mut out = vec![T::default(); total];
    let Some((&row_len, outer)) = shape.split_last() else {
        out.clone_from_slice(values);
        return out;
    };
    let row_len = row_len as usize;
    if row_len == 0 {
        return out;
    }
    for (r, row) in values.chunks_exact(row_len).enumerate() {
        // Unravel the row number over the outer dimensions, ravel it over `padded`.
        let (mut rest, mut offset, mut stride) = (r as u64, 0u64, padded[outer.len()]);
        for d in (0..outer.len()).rev() {
            offset += rest % outer[d] * stride;
            rest /= outer[d];
            stride *= padded[d];
        }
        let offset = offset as usize;
        out[offset..offset + row_len].clone_from_slice(row);
    }
    out
}

pub struct ZarrWriter {
    path: PathBuf,
    format: Format,
    storage: Arc<FilesystemStore>,
    arrays: RwLock<HashMap<String, Arc<WriteArray>>>,
}

impl ZarrWriter {
    pub fn create(path: &Path, format: Format) -> Result<Self> {
        let at = At {
            file: path,
            node: "",
        };
        if !format.is_zarr() {
            return Err(at.invalid(format!("{} is not a Zarr format", format.name())));
        }
        let empty_dir = std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
        if path.exists() && !empty_dir {
            return Err(at.invalid("already exists"));
        }
        std::fs::create_dir_all(path).map_err(|e| at.backend("creating the store", e))?;
        let storage =
            FilesystemStore::new(path).map_err(|e| at.backend("creating the store", e))?;
        // We write metadata ourselves, but should zarrs ever write some, it must not
        // add its `_zarrs` attribute to what AnnData reads back.
        zarrs::config::global_config_mut().set_include_zarrs_metadata(false);
        Ok(ZarrWriter {
            path: pathbuf(path),
            format,
            storage: Arc::new(storage),
            arrays: RwLock::default(),
        })
    }

    fn at<'a>(&'a self, node: &'a str) -> At<'a> {
        At {
            file: &self.path,
            node,
        }
    }

    /// Writes a metadata document into a node's directory, pretty-printed like zarr-python.
    fn put_json(&self, at: At, name: &str, doc: &Value) -> Result<()> {
        let key = StoreKey::new(node_key(at.node, name)).map_err(|e| at.invalid(e))?;
        let bytes = serde_json::to_vec_pretty(doc).map_err(|e| at.invalid(e))?;
        self.storage
            .set(&key, Bytes::from(bytes))
            .map_err(|e| at.backend("writing metadata", format!("{name}: {e}")))
    }

    fn target(&self, at: At) -> Result<Arc<WriteArray>> {
        self.arrays
            .read()
            .ok()
            .and_then(|m| m.get(at.node).cloned())
            .ok_or_else(|| at.no_node())
    }
}

impl StoreWriter for ZarrWriter {
    fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> Format {
        self.format
    }

    fn create_group(&self, node: &str, attrs: &Attrs) -> Result<()> {
        let at = self.at(node);
        check_node(at)?;
        match self.format {
            Format::ZarrV2 => {
                self.put_json(at, V2_GROUP, &json!({"zarr_format": 2}))?;
                if !attrs.is_empty() {
                    self.put_json(at, V2_ATTRS, &Value::Object(attrs.clone()))?;
                }
                Ok(())
            }
            _ => {
                let doc = json!({"attributes": attrs, "zarr_format": 3, "node_type": "group"});
                self.put_json(at, V3_META, &doc)
            }
        }
    }

    fn create_array(&self, node: &str, spec: &ArraySpec, attrs: &Attrs) -> Result<()> {
        let at = self.at(node);
        check_node(at)?;
        check_spec(at, self.format, spec)?;
        let (file, meta) = match self.format {
            Format::ZarrV2 => (V2_ARRAY, zarray(at, spec)?),
            _ => (V3_META, zarr_json_array(at, spec, attrs)?),
        };
        // Let zarrs vet the document before it is written.
        let array = zarrs_array(at, &self.storage, self.format, meta.clone())?;
        self.put_json(at, file, &meta)?;
        if self.format == Format::ZarrV2 && !attrs.is_empty() {
            self.put_json(at, V2_ATTRS, &Value::Object(attrs.clone()))?;
        }
        let target = WriteArray {
            array,
            dtype: spec.dtype,
            grid: grid_shape(spec),
            partial: Mutex::new(()),
            spec: spec.clone(),
            attrs: attrs.clone(),
        };
        self.arrays
            .write()
            .map_err(|e| at.backend("create_array", e))?
            .insert(node.to_string(), Arc::new(target));
        Ok(())
    }

    fn write(&self, node: &str, start: &[u64], shape: &[u64], data: &Data) -> Result<()> {
        let at = self.at(node);
        let target = self.target(at)?;
        let len = check_region(at, start, shape, target.array.shape())?;
        if data.dtype() != target.dtype {
            return Err(at.invalid(format!(
                "cannot write {} data to a {} array",
                data.dtype(),
                target.dtype
            )));
        }
        if data.len() != len {
            return Err(at.invalid(format!(
                "block {shape:?} needs {len} elements, got {}",
                data.len()
            )));
        }
        if len == 0 {
            return Ok(());
        }
        crate::with_data!(data, v => target.store(start, shape, v))
            .map_err(|e| at.backend("write", e))
    }

    fn resize(&self, node: &str, shape: &[u64]) -> Result<()> {
        let at = self.at(node);
        let old = self.target(at)?;
        if shape.len() != old.spec.shape.len() {
            return Err(at.invalid(format!("cannot resize to rank {}", shape.len())));
        }
        let spec = ArraySpec {
            shape: shape.to_vec(),
            ..old.spec.clone()
        };
        let (file, meta) = match self.format {
            Format::ZarrV2 => (V2_ARRAY, zarray(at, &spec)?),
            _ => (V3_META, zarr_json_array(at, &spec, &old.attrs)?),
        };
        let array = zarrs_array(at, &self.storage, self.format, meta.clone())?;
        // Storage units wholly past the new end would never be read again: remove them.
        let units = |len: u64| len.div_ceil(old.grid[0].max(1));
        let (keep, had) = (units(shape[0]), units(old.spec.shape[0]));
        for unit in keep..had {
            let mut index = vec![0u64; shape.len()];
            index[0] = unit;
            old.array
                .erase_chunk(&index)
                .map_err(|e| at.backend("resize", e))?;
        }
        self.put_json(at, file, &meta)?;
        let target = WriteArray {
            array,
            dtype: spec.dtype,
            grid: grid_shape(&spec),
            partial: Mutex::new(()),
            attrs: old.attrs.clone(),
            spec,
        };
        self.arrays
            .write()
            .map_err(|e| at.backend("resize", e))?
            .insert(node.to_string(), Arc::new(target));
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        // Every chunk and document is written (and synced) by the time its call
        // returns: there is nothing left to flush.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Zarr-specific behaviour beyond the shared conformance suite: damaged stores,
    //! the metadata zarr-python needs, and the write paths.
    use super::*;

    fn spec(shape: &[u64], dtype: DType, chunks: &[u64], shards: Option<&[u64]>) -> ArraySpec {
        ArraySpec {
            shape: shape.to_vec(),
            dtype,
            chunks: chunks.to_vec(),
            shards: shards.map(<[u64]>::to_vec),
            compression: Compression::Lz4 { level: 5 },
        }
    }

    /// A store with one `a` array of 0..n as f64 in chunks of 4 (shards of 8 in v3).
    fn store_with_array(format: Format, compression: Compression) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.zarr");
        let w = ZarrWriter::create(&path, format).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        let shards = (format == Format::ZarrV3).then_some(&[8u64][..]);
        let spec = ArraySpec {
            compression,
            ..spec(&[16], DType::F64, &[4], shards)
        };
        w.create_array("a", &spec, &Attrs::new()).unwrap();
        let values = Data::F64((0..16).map(f64::from).collect());
        w.write("a", &[0], &[16], &values).unwrap();
        w.finish().unwrap();
        (dir, path)
    }

    fn first_chunk(path: &Path, format: Format) -> PathBuf {
        match format {
            Format::ZarrV2 => path.join("a/0"),
            _ => path.join("a/c/0"),
        }
    }

    #[test]
    fn shards_of_the_same_data_are_the_same_bytes() {
        // Many inner chunks per shard, encoded in parallel: their order in the shard
        // must not depend on which encoder finishes first.
        let shard = |dir: &Path| {
            let path = dir.join("s.zarr");
            let w = ZarrWriter::create(&path, Format::ZarrV3).unwrap();
            w.create_group("", &Attrs::new()).unwrap();
            w.create_array(
                "a",
                &spec(&[1 << 16], DType::F64, &[256], Some(&[1 << 16])),
                &Attrs::new(),
            )
            .unwrap();
            let values = Data::F64((0..1 << 16).map(|i| f64::from(i % 977)).collect());
            w.write("a", &[0], &[1 << 16], &values).unwrap();
            w.finish().unwrap();
            std::fs::read(path.join("a/c/0")).unwrap()
        };
        let first = shard(tempfile::tempdir().unwrap().path());
        for _ in 0..4 {
            assert!(shard(tempfile::tempdir().unwrap().path()) == first);
        }
    }

    #[test]
    fn damaged_chunks_are_errors_naming_the_node() {
        for format in [Format::ZarrV2, Format::ZarrV3] {
            for compression in [Compression::None, Compression::Lz4 { level: 5 }] {
                for garbage in [&b""[..], b"xyz", &[0xff; 100], &[0u8; 4096]] {
                    let (_dir, path) = store_with_array(format, compression);
                    std::fs::write(first_chunk(&path, format), garbage).unwrap();
                    let r = ZarrReader::open(&path).unwrap();
                    match r.read("a", &[0], &[16]) {
                        Err(e @ StoreError::Backend { .. }) => {
                            assert!(e.to_string().contains("s.zarr:/a"), "{e}")
                        }
                        other => panic!("{format:?} {compression:?} {garbage:?}: {other:?}"),
                    }
                    // Chunks that are intact still read.
                    let tail = r.read("a", &[12], &[4]).unwrap();
                    assert_eq!(tail, Data::F64(vec![12.0, 13.0, 14.0, 15.0]));
                }
            }
        }
    }

    #[test]
    fn bad_metadata_and_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.zarr");
        std::fs::create_dir(&empty).unwrap();
        assert!(matches!(
            ZarrReader::open(&empty),
            Err(StoreError::NotAStore { .. })
        ));
        let file = dir.path().join("file.zarr");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            ZarrReader::open(&file),
            Err(StoreError::NotAStore { .. })
        ));

        let (_dir, path) = store_with_array(Format::ZarrV3, Compression::None);
        let r = ZarrReader::open(&path).unwrap();
        assert!(matches!(
            r.kind("../s.zarr"),
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(r.kind("a//b"), Err(StoreError::Invalid { .. })));
        assert!(matches!(r.children("a"), Err(StoreError::WrongKind { .. })));
        std::fs::write(path.join("a/zarr.json"), "{not json").unwrap();
        let err = r.array_info("a").unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("zarr.json"), "{err}");
    }

    /// Reads decode into the typed block directly; big-endian chunks must come out in
    /// native order whether a read covers whole chunks, parts of several, or part of one.
    #[test]
    fn big_endian_v2_chunks_read_in_native_order() {
        let (_dir, path) = store_with_array(Format::ZarrV2, Compression::None);
        let meta_file = path.join("a").join(V2_ARRAY);
        let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_file).unwrap()).unwrap();
        assert_eq!(meta["compressor"], Value::Null);
        meta["dtype"] = json!(">f8");
        std::fs::write(&meta_file, meta.to_string()).unwrap();
        for chunk in 0..4 {
            let file = path.join("a").join(chunk.to_string());
            let mut bytes = std::fs::read(&file).unwrap();
            bytes.chunks_mut(8).for_each(|word| word.reverse());
            std::fs::write(&file, bytes).unwrap();
        }
        let r = ZarrReader::open(&path).unwrap();
        for (start, len) in [(0u64, 16u64), (2, 9), (5, 2), (12, 4)] {
            let want: Vec<f64> = (start..start + len).map(|v| v as f64).collect();
            assert_eq!(
                r.read("a", &[start], &[len]).unwrap(),
                Data::F64(want),
                "{start}+{len}"
            );
        }
    }

    /// Blocks are decoded into memory that is not cleared first, so the fill value of
    /// chunks (v2) or shards (v3) that were never stored must come from the decoder.
    #[test]
    fn chunks_not_stored_read_as_the_fill_value() {
        for (format, file, removed) in [
            (Format::ZarrV2, V2_ARRAY, &["a/1", "a/3"][..]),
            (Format::ZarrV3, V3_META, &["a/c/1"][..]),
        ] {
            let (_dir, path) = store_with_array(format, Compression::None);
            let meta_file = path.join("a").join(file);
            let mut meta: Value =
                serde_json::from_slice(&std::fs::read(&meta_file).unwrap()).unwrap();
            meta["fill_value"] = json!(-2.5);
            std::fs::write(&meta_file, meta.to_string()).unwrap();
            for key in removed {
                std::fs::remove_file(path.join(key)).unwrap();
            }
            let missing = |i: u64| match format {
                Format::ZarrV2 => (4..8).contains(&i) || (12..16).contains(&i),
                _ => i >= 8,
            };
            let r = ZarrReader::open(&path).unwrap();
            for (start, len) in [(0u64, 16u64), (3, 6), (13, 2)] {
                let want: Vec<f64> = (start..start + len)
                    .map(|i| if missing(i) { -2.5 } else { i as f64 })
                    .collect();
                assert_eq!(
                    r.read("a", &[start], &[len]).unwrap(),
                    Data::F64(want),
                    "{format:?} {start}+{len}"
                );
            }
        }
    }

    #[test]
    fn unsupported_dtypes_are_reported_as_such() {
        for (format, file, key, dtype) in [
            (Format::ZarrV2, V2_ARRAY, "dtype", "<c8"),
            (Format::ZarrV2, V2_ARRAY, "dtype", "<M8[ns]"),
            (Format::ZarrV3, V3_META, "data_type", "complex64"),
        ] {
            let (_dir, path) = store_with_array(format, Compression::None);
            let meta_file = path.join("a").join(file);
            let mut meta: Value =
                serde_json::from_slice(&std::fs::read(&meta_file).unwrap()).unwrap();
            meta[key] = json!(dtype);
            std::fs::write(&meta_file, meta.to_string()).unwrap();
            let r = ZarrReader::open(&path).unwrap();
            match r.read("a", &[0], &[1]) {
                Err(StoreError::UnsupportedDType { dtype: d, node, .. }) => {
                    assert_eq!((d.as_str(), node.as_str()), (dtype, "a"))
                }
                other => panic!("{dtype}: {other:?}"),
            }
        }
    }

    /// Every v3 codec entry, nested ones included, carries a configuration (zarr-python
    /// 3.0 rejects `vlen-utf8` and `crc32c` without one) and no `_zarrs` attribute is added.
    #[test]
    fn v3_metadata_suits_zarr_python() {
        fn codecs_have_configuration(codecs: &Value) -> bool {
            codecs.as_array().unwrap().iter().all(|c| {
                let conf = &c["configuration"];
                conf.is_object()
                    && ["codecs", "index_codecs"]
                        .iter()
                        .all(|k| conf.get(k).is_none_or(codecs_have_configuration))
            })
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.zarr");
        let w = ZarrWriter::create(&path, Format::ZarrV3).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        for dtype in [DType::Str, DType::U8, DType::F32] {
            let node = dtype.name();
            w.create_array(node, &spec(&[10], dtype, &[2], Some(&[4])), &Attrs::new())
                .unwrap();
            let doc: Value =
                serde_json::from_slice(&std::fs::read(path.join(node).join(V3_META)).unwrap())
                    .unwrap();
            assert!(codecs_have_configuration(&doc["codecs"]), "{doc}");
            assert_eq!(doc["attributes"], json!({}));
        }
        let r = ZarrReader::open(&path).unwrap();
        let info = r.array_info("str").unwrap();
        assert_eq!(info.codecs, vec!["vlen-utf8", "blosc(lz4,5,shuffle)"]);
        assert_eq!((info.chunks, info.shards), (Some(vec![2]), Some(vec![4])));
    }

    /// A block aligned to the grid is encoded straight away, edge cells padded: a stale,
    /// undecodable file at its chunk key is overwritten, never read.
    #[test]
    fn aligned_blocks_are_written_without_reading_back() {
        for format in [Format::ZarrV2, Format::ZarrV3] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("w.zarr");
            let w = ZarrWriter::create(&path, format).unwrap();
            w.create_group("", &Attrs::new()).unwrap();
            let shards = (format == Format::ZarrV3).then_some(&[4u64, 6][..]);
            w.create_array(
                "m",
                &spec(&[5, 7], DType::I32, &[2, 3], shards),
                &Attrs::new(),
            )
            .unwrap();
            let last_chunk = match format {
                Format::ZarrV2 => "m/2.2",
                _ => "m/c/1/1",
            };
            let stale = path.join(last_chunk);
            std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
            std::fs::write(&stale, b"stale").unwrap();
            let all: Vec<i32> = (0..35).collect();
            w.write("m", &[0, 0], &[5, 7], &Data::I32(all.clone()))
                .unwrap();
            w.finish().unwrap();
            let r = ZarrReader::open(&path).unwrap();
            assert_eq!(r.read("m", &[0, 0], &[5, 7]).unwrap(), Data::I32(all));
        }
    }

    /// Unaligned blocks written from many threads at once share edge chunks.
    #[test]
    fn concurrent_unaligned_blocks() {
        for format in [Format::ZarrV2, Format::ZarrV3] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.zarr");
            let w = ZarrWriter::create(&path, format).unwrap();
            w.create_group("", &Attrs::new()).unwrap();
            let shards = (format == Format::ZarrV3).then_some(&[10u64][..]);
            w.create_array("v", &spec(&[300], DType::U16, &[5], shards), &Attrs::new())
                .unwrap();
            std::thread::scope(|s| {
                for t in 0..100u16 {
                    let w = &w;
                    s.spawn(move || {
                        let block = Data::U16((3 * t..3 * t + 3).collect());
                        w.write("v", &[3 * u64::from(t)], &[3], &block).unwrap();
                    });
                }
            });
            w.finish().unwrap();
            let r = ZarrReader::open(&path).unwrap();
            assert_eq!(
                r.read("v", &[0], &[300]).unwrap(),
                Data::U16((0..300).collect())
            );
        }
    }

    #[test]
    fn pad_places_rows_in_the_corner() {
        let padded = pad(&[1, 2, 3, 4, 5, 6], &[2, 3], &[3, 4]);
        assert_eq!(padded, vec![1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
        let padded = pad(&[1, 2, 3, 4], &[2, 1, 2], &[2, 2, 3]);
        assert_eq!(padded, vec![1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0]);
    }
}
