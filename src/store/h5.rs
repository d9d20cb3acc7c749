//! HDF5 files through `hdf5-metno`.
//!
//! Files are laid out the way h5py writes them, because anndata reads .h5ad through
//! h5py: strings are variable-length UTF-8, bools are the int8 enum {FALSE, TRUE}
//! that h5py maps to numpy `bool`, and attributes use the types h5py gives to the
//! Python values anndata stores. The HDF5 library is not thread-safe; `hdf5-metno`
//! serialises every call behind one global lock, so both handles here are shareable.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::raw::{c_char, c_uint, c_void};
use std::sync::{Arc, Mutex};

use hdf5::plist::link_create::CharEncoding;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor as TD, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, Dataspace, Extents, File, Group, H5Type, Hyperslab, Location, Selection};
use hdf5::{LocationType, SliceOrIndex};
use hdf5_sys::h5i::hid_t;
use serde_json::Value;

use super::h5_files::{LazyFile, Node};
use super::*;

/// The first bytes of every HDF5 superblock.
const SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// Guard against attribute headers (possibly corrupted) that claim more elements than
/// any real attribute holds, before memory is allocated for them.
const MAX_ATTR_ELEMENTS: usize = 1 << 24;

/// Attaches the file, node and operation to an `hdf5` error.
trait Context<T> {
    fn ctx(self, file: &Path, node: &str, op: &'static str) -> Result<T>;
}

impl<T> Context<T> for hdf5::Result<T> {
    fn ctx(self, file: &Path, node: &str, op: &'static str) -> Result<T> {
        self.map_err(|e| StoreError::backend(file, node, op, e))
    }
}

fn invalid(file: &Path, node: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        file: pathbuf(file),
        node: node.to_string(),
        reason: reason.into(),
    }
}

/// Opens `node` (a `/`-separated path from the root); a missing link anywhere on the
/// path gives `None` instead of an HDF5 error.
///
/// The whole path is tried in one `H5Oopen` first: the walk below costs about three
/// library calls per link, and planning 200 small `.h5ad` inputs spent 40% of its time
/// opening nodes that way. Only a path that does not open directly takes the walk,
/// which tells a missing link from a failure.
fn open_node(file: &File, node: &str) -> hdf5::Result<Option<Node>> {
    if node.is_empty() {
        return Ok(Some(Node::Group(file.group("/")?)));
    }
    if let Some(found) = open_whole_path(file, node) {
        return Ok(Some(found));
    }
    let mut group = file.group("/")?;
    let mut parts = node.split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if part.is_empty() || !group.link_exists(part) {
            return Ok(None);
        }
        match group.loc_type_by_name(part)? {
            LocationType::Group if last => return Ok(Some(Node::Group(group.group(part)?))),
            LocationType::Group => group = group.group(part)?,
            LocationType::Dataset if last => return Ok(Some(Node::Array(group.dataset(part)?))),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

fn open_group(file: &File, path: &Path, node: &str) -> Result<Group> {
    as_group(open_node(file, node).ctx(path, node, "open")?, path, node)
}

/// The group `node` opened as, or why it is not one.
fn as_group(found: Option<Node>, path: &Path, node: &str) -> Result<Group> {
    match found {
        Some(Node::Group(g)) => Ok(g),
        Some(Node::Array(_)) => Err(StoreError::WrongKind {
            file: pathbuf(path),
            node: node.to_string(),
            expected: "group",
            found: "array",
        }),
        None => Err(StoreError::NoNode {
            file: pathbuf(path),
            node: node.to_string(),
        }),
    }
}

fn open_dataset(file: &File, path: &Path, node: &str) -> Result<Dataset> {
    match open_node(file, node).ctx(path, node, "open")? {
        Some(Node::Array(d)) => Ok(d),
        Some(Node::Group(_)) => Err(StoreError::WrongKind {
            file: pathbuf(path),
            node: node.to_string(),
            expected: "array",
            found: "group",
        }),
        None => Err(StoreError::NoNode {
            file: pathbuf(path),
            node: node.to_string(),
        }),
    }
}

/// `node` opened by its full path, if it opens and is a group or a dataset. Paths HDF5
/// would read differently from the walk (empty or `.` links) are left to the walk.
fn open_whole_path(file: &File, node: &str) -> Option<Node> {
    use hdf5_sys::h5i::{H5I_type_t, H5Iget_type};
    use hdf5_sys::h5o::{H5Oclose, H5Oopen};
    use hdf5_sys::h5p::H5P_DEFAULT;
    if node.split('/').any(|part| part.is_empty() || part == ".") {
        return None;
    }
    let name = std::ffi::CString::new(node).ok()?;
    hdf5::sync::sync(|| {
        // SAFETY: `file` is an open file and `name` a NUL-terminated path; a failed
        // open returns a negative id and leaves nothing to close.
        let id = unsafe { H5Oopen(file.id(), name.as_ptr(), H5P_DEFAULT) };
        if id < 0 {
            return None;
        }
        // SAFETY: `id` was just opened; `from_id` takes over its one reference, and
        // an object of another type is closed here.
        unsafe {
            match H5Iget_type(id) {
                H5I_type_t::H5I_GROUP => hdf5::from_id::<Group>(id).ok().map(Node::Group),
                H5I_type_t::H5I_DATASET => hdf5::from_id::<Dataset>(id).ok().map(Node::Array),
                _ => {
                    H5Oclose(id);
                    None
                }
            }
        }
    })
}

/// Splits `a/b/c` into (`a/b`, `c`).
fn split_parent(node: &str) -> (&str, &str) {
    node.rsplit_once('/').unwrap_or(("", node))
}

// ---------------------------------------------------------------------------
// Types

/// An HDF5 bool read as its raw byte: the file may hold values other than 0 and 1,
/// which must not end up in a Rust `bool`.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct BoolByte(u8);

// SAFETY: `BoolByte` is one byte, the size of h5py's int8 FALSE/TRUE enum it is
// declared as; any byte value is a valid `BoolByte`.
unsafe impl H5Type for BoolByte {
    fn type_descriptor() -> TD {
        TD::Boolean
    }
}

/// The element type of a dataset as adcat knows it.
fn dtype_of(desc: &TD) -> Option<DType> {
    Some(match desc {
        TD::Boolean => DType::Bool,
        TD::Integer(IntSize::U1) => DType::I8,
        TD::Integer(IntSize::U2) => DType::I16,
        TD::Integer(IntSize::U4) => DType::I32,
        TD::Integer(IntSize::U8) => DType::I64,
        TD::Unsigned(IntSize::U1) => DType::U8,
        TD::Unsigned(IntSize::U2) => DType::U16,
        TD::Unsigned(IntSize::U4) => DType::U32,
        TD::Unsigned(IntSize::U8) => DType::U64,
        TD::Float(FloatSize::U4) => DType::F32,
        TD::Float(FloatSize::U8) => DType::F64,
        TD::VarLenUnicode | TD::VarLenAscii | TD::FixedAscii(_) | TD::FixedUnicode(_) => DType::Str,
        _ => return None,
    })
}

/// The in-file type adcat writes for `dtype`.
fn descriptor_of(dtype: DType) -> TD {
    match dtype {
        DType::Bool => TD::Boolean,
        DType::I8 => TD::Integer(IntSize::U1),
        DType::I16 => TD::Integer(IntSize::U2),
        DType::I32 => TD::Integer(IntSize::U4),
        DType::I64 => TD::Integer(IntSize::U8),
        DType::U8 => TD::Unsigned(IntSize::U1),
        DType::U16 => TD::Unsigned(IntSize::U2),
        DType::U32 => TD::Unsigned(IntSize::U4),
        DType::U64 => TD::Unsigned(IntSize::U8),
        DType::F32 => TD::Float(FloatSize::U4),
        DType::F64 => TD::Float(FloatSize::U8),
        DType::Str => TD::VarLenUnicode,
    }
}

/// Shape and element type of a dataset, checked to be something adcat can read.
struct Meta {
    desc: TD,
    dtype: DType,
    shape: Vec<u64>,
}

fn meta(ds: &Dataset, path: &Path, node: &str) -> Result<Meta> {
    let space = ds.space().ctx(path, node, "read dataspace")?;
    if space.is_null() {
        // h5py's `Empty`: anndata wrote `None` this way in some versions.
        return Err(invalid(
            path,
            node,
            "dataset has a null dataspace (no value stored)",
        ));
    }
    let unsupported = |dtype: String| StoreError::UnsupportedDType {
        file: pathbuf(path),
        node: node.to_string(),
        dtype,
    };
    let datatype = ds.dtype().ctx(path, node, "read datatype")?;
    let desc = datatype
        .to_descriptor()
        .map_err(|e| unsupported(e.to_string()))?;
    let dtype = dtype_of(&desc).ok_or_else(|| unsupported(desc.to_string()))?;
    let shape = space.shape().into_iter().map(|d| d as u64).collect();
    Ok(Meta { desc, dtype, shape })
}

// ---------------------------------------------------------------------------
// Reading data

fn hyperslab(start: &[u64], shape: &[u64]) -> Selection {
    let dims: Vec<SliceOrIndex> = start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceOrIndex::from(s as usize..(s + n) as usize))
        .collect();
    Selection::from(Hyperslab::from(dims))
}

/// Reads the selection (the whole dataset for `None`) converted to `T`.
fn read_vec<T: H5Type>(ds: &Dataset, sel: Option<&Selection>) -> hdf5::Result<Vec<T>> {
    match sel {
        None => ds.read_raw::<T>(),
        Some(sel) => {
            let array = ds.read_slice::<T, _, ndarray::IxDyn>(sel)?;
            Ok(array.into_raw_vec_and_offset().0)
        }
    }
}

fn utf8(bytes: &[u8]) -> hdf5::Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("string is not valid UTF-8: {e}").into())
}

/// Decodes `count` fixed-length strings of `size` bytes each. NUL-padded and
/// NUL-terminated strings end at the first NUL; space-padded ones lose trailing spaces.
fn decode_fixed(buf: &[u8], size: usize, space_padded: bool) -> hdf5::Result<Vec<String>> {
    buf.chunks(size.max(1))
        .map(|raw| {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let mut s = &raw[..end];
            if space_padded {
                while let [rest @ .., b' '] = s {
                    s = rest;
                }
            }
            utf8(s)
        })
        .collect()
}

fn is_space_padded(type_id: hid_t) -> bool {
    use hdf5_sys::h5t::{H5T_str_t, H5Tget_strpad};
    // SAFETY: plain query of a valid datatype id, under the library lock.
    hdf5::sync::sync(|| unsafe { H5Tget_strpad(type_id) == H5T_str_t::H5T_STR_SPACEPAD })
}

/// Reads fixed-length strings with the object's own type, so HDF5 converts nothing;
/// `read` does the raw `H5Dread`/`H5Aread` into the buffer it is given.
fn read_fixed(
    type_id: hid_t,
    size: usize,
    count: usize,
    read: impl FnOnce(*mut c_void) -> hdf5_sys::h5::herr_t,
) -> hdf5::Result<Vec<String>> {
    let bytes = size
        .checked_mul(count)
        .ok_or_else(|| hdf5::Error::from("fixed-length strings too large"))?;
    let mut buf = vec![0u8; bytes];
    hdf5::sync::sync(|| hdf5::h5check(read(buf.as_mut_ptr().cast())))?;
    decode_fixed(&buf, size, is_space_padded(type_id))
}

fn read_fixed_dataset(
    ds: &Dataset,
    size: usize,
    start: &[u64],
    shape: &[u64],
) -> hdf5::Result<Vec<String>> {
    use hdf5_sys::h5d::H5Dread;
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::H5S_ALL;
    let dtype = ds.dtype()?;
    let count = shape.iter().product::<u64>() as usize;
    let spaces = if shape.is_empty() {
        None
    } else {
        let file_space = ds.space()?.select(hyperslab(start, shape))?;
        let mem_dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        Some((file_space, Dataspace::try_new(mem_dims)?))
    };
    let (fid, mid) = spaces
        .as_ref()
        .map_or((H5S_ALL, H5S_ALL), |(f, m)| (f.id(), m.id()));
    read_fixed(dtype.id(), size, count, |buf| {
        // SAFETY: `buf` holds `count` elements of the dataset's own type, which is
        // also the memory type; the spaces select exactly `count` elements.
        unsafe { H5Dread(ds.id(), dtype.id(), mid, fid, H5P_DEFAULT, buf) }
    })
}

fn read_strings(
    ds: &Dataset,
    desc: &TD,
    start: &[u64],
    shape: &[u64],
    sel: Option<&Selection>,
) -> hdf5::Result<Vec<String>> {
    // Strings are read in the file's character set: HDF5 may refuse to convert
    // between ASCII and UTF-8 strings.
    match desc {
        TD::VarLenUnicode => read_vec::<VarLenUnicode>(ds, sel)?
            .iter()
            .map(|s| utf8(s.as_bytes()))
            .collect(),
        TD::VarLenAscii => read_vec::<VarLenAscii>(ds, sel)?
            .iter()
            .map(|s| utf8(s.as_bytes()))
            .collect(),
        TD::FixedAscii(size) | TD::FixedUnicode(size) => {
            read_fixed_dataset(ds, *size, start, shape)
        }
        other => Err(format!("not a string type: {other}").into()),
    }
}

fn read_data(ds: &Dataset, meta: &Meta, start: &[u64], shape: &[u64]) -> hdf5::Result<Data> {
    // A 0-d dataset is read whole: there is nothing to select in a scalar dataspace.
    let sel = (!shape.is_empty()).then(|| hyperslab(start, shape));
    let sel = sel.as_ref();
    Ok(match meta.dtype {
        DType::Bool => Data::Bool(
            read_vec::<BoolByte>(ds, sel)?
                .into_iter()
                .map(|b| b.0 != 0)
                .collect(),
        ),
        DType::I8 => Data::I8(read_vec(ds, sel)?),
        DType::I16 => Data::I16(read_vec(ds, sel)?),
        DType::I32 => Data::I32(read_vec(ds, sel)?),
        DType::I64 => Data::I64(read_vec(ds, sel)?),
        DType::U8 => Data::U8(read_vec(ds, sel)?),
        DType::U16 => Data::U16(read_vec(ds, sel)?),
        DType::U32 => Data::U32(read_vec(ds, sel)?),
        DType::U64 => Data::U64(read_vec(ds, sel)?),
        DType::F32 => Data::F32(read_vec(ds, sel)?),
        DType::F64 => Data::F64(read_vec(ds, sel)?),
        DType::Str => Data::Str(read_strings(ds, &meta.desc, start, shape, sel)?),
    })
}

/// Checks that `start .. start + shape` lies inside `array_shape`.
fn check_region(
    path: &Path,
    node: &str,
    start: &[u64],
    shape: &[u64],
    array_shape: &[u64],
) -> Result<()> {
    if start.len() != array_shape.len() || shape.len() != array_shape.len() {
        return Err(invalid(
            path,
            node,
            format!("region {start:?}+{shape:?} has the wrong rank for shape {array_shape:?}"),
        ));
    }
    let inside = start
        .iter()
        .zip(shape)
        .zip(array_shape)
        .all(|((&s, &n), &d)| s.checked_add(n).is_some_and(|end| end <= d));
    if inside {
        Ok(())
    } else {
        Err(StoreError::OutOfBounds {
            file: pathbuf(path),
            node: node.to_string(),
            start: start.to_vec(),
            shape: shape.to_vec(),
            array_shape: array_shape.to_vec(),
        })
    }
}

// ---------------------------------------------------------------------------
// Filters

/// Names of the filters of a dataset creation property list, in pipeline order.
fn codec_names(dcpl_id: hid_t) -> hdf5::Result<Vec<String>> {
    use hdf5_sys::h5p::{H5Pget_filter2, H5Pget_nfilters};
    hdf5::sync::sync(|| {
        // SAFETY: plain query of a valid property list id, under the library lock.
        let n = hdf5::h5check(unsafe { H5Pget_nfilters(dcpl_id) })?;
        (0..n as c_uint)
            .map(|idx| {
                let mut flags: c_uint = 0;
                let mut cd = [0 as c_uint; 8];
                let mut cd_len = cd.len();
                let mut name = [0 as c_char; 64];
                // SAFETY: every buffer is passed with its real length.
                let id = hdf5::h5check(unsafe {
                    H5Pget_filter2(
                        dcpl_id,
                        idx,
                        &mut flags,
                        &mut cd_len,
                        cd.as_mut_ptr(),
                        name.len(),
                        name.as_mut_ptr(),
                        std::ptr::null_mut(),
                    )
                })?;
                // HDF5 reports how many values the filter has, even past our buffer.
                Ok(filter_name(id, &cd[..cd_len.min(cd.len())]))
            })
            .collect()
    })
}

fn filter_name(id: hdf5_sys::h5z::H5Z_filter_t, cd: &[c_uint]) -> String {
    use hdf5_sys::h5z::*;
    match id {
        H5Z_FILTER_DEFLATE => match cd.first() {
            Some(level) => format!("gzip({level})"),
            None => "gzip".into(),
        },
        H5Z_FILTER_SHUFFLE => "shuffle".into(),
        H5Z_FILTER_FLETCHER32 => "fletcher32".into(),
        H5Z_FILTER_SZIP => "szip".into(),
        H5Z_FILTER_NBIT => "nbit".into(),
        H5Z_FILTER_SCALEOFFSET => "scaleoffset".into(),
        // Registered ids of common third-party filters (h5py's lzf, hdf5plugin's).
        32000 => "lzf".into(),
        32001 => "blosc".into(),
        32004 => "lz4".into(),
        32008 => "bitshuffle".into(),
        32015 => "zstd".into(),
        307 => "bzip2".into(),
        other => format!("filter({other})"),
    }
}

// ---------------------------------------------------------------------------
// Attributes

/// Turns a flat row-major list into nested JSON arrays of `shape`.
fn nest(values: Vec<Value>, shape: &[usize]) -> Value {
    match shape {
        [] => values.into_iter().next().unwrap_or(Value::Null),
        [_] => Value::Array(values),
        [_, inner @ ..] => {
            let step = inner.iter().product::<usize>().max(1);
            let mut rest = values.into_iter();
            let rows = (0..shape[0])
                .map(|_| nest(rest.by_ref().take(step).collect(), inner))
                .collect();
            Value::Array(rows)
        }
    }
}

fn attr_strings(attr: &hdf5::Attribute, desc: &TD, count: usize) -> hdf5::Result<Vec<String>> {
    use hdf5_sys::h5a::H5Aread;
    match desc {
        TD::VarLenUnicode => attr
            .read_raw::<VarLenUnicode>()?
            .iter()
            .map(|s| utf8(s.as_bytes()))
            .collect(),
        TD::VarLenAscii => attr
            .read_raw::<VarLenAscii>()?
            .iter()
            .map(|s| utf8(s.as_bytes()))
            .collect(),
        TD::FixedAscii(size) | TD::FixedUnicode(size) => {
            let dtype = attr.dtype()?;
            read_fixed(dtype.id(), *size, count, |buf| {
                // SAFETY: `buf` holds `count` elements of the attribute's own type.
                unsafe { H5Aread(attr.id(), dtype.id(), buf) }
            })
        }
        other => Err(format!("not a string type: {other}").into()),
    }
}

/// Elements of an attribute as JSON values, flat in row-major order.
fn attr_values(attr: &hdf5::Attribute, desc: &TD, count: usize) -> hdf5::Result<Vec<Value>> {
    let values = match desc {
        TD::Boolean => attr
            .read_raw::<BoolByte>()?
            .into_iter()
            .map(|b| Value::Bool(b.0 != 0))
            .collect(),
        TD::Integer(_) => attr
            .read_raw::<i64>()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TD::Unsigned(_) => attr
            .read_raw::<u64>()?
            .into_iter()
            .map(Value::from)
            .collect(),
        // Non-finite floats have no JSON form and become null.
        TD::Float(_) => attr
            .read_raw::<f64>()?
            .into_iter()
            .map(Value::from)
            .collect(),
        _ => attr_strings(attr, desc, count)?
            .into_iter()
            .map(Value::String)
            .collect(),
    };
    Ok(values)
}

fn read_attr(attr: &hdf5::Attribute) -> hdf5::Result<Value> {
    let space = attr.space()?;
    if space.is_null() {
        // h5py's `Empty`: an attribute without a value.
        return Ok(Value::Null);
    }
    let desc = attr.dtype()?.to_descriptor()?;
    if dtype_of(&desc).is_none() {
        return Err(format!("unsupported type {desc}").into());
    }
    let shape = space.shape();
    let count = shape.iter().product::<usize>();
    if count > MAX_ATTR_ELEMENTS {
        return Err(format!("{count} elements is too many for an attribute").into());
    }
    if count == 0 {
        // anndata stores an empty `column-order` as an empty float64 array.
        return Ok(nest(Vec::new(), &shape));
    }
    Ok(nest(attr_values(attr, &desc, count)?, &shape))
}

fn read_attrs(loc: &Location, path: &Path, node: &str) -> Result<Attrs> {
    let names = loc.attr_names().ctx(path, node, "list attributes")?;
    let mut attrs = Attrs::new();
    for name in names {
        let value = loc
            .attr(&name)
            .and_then(|attr| read_attr(&attr))
            .map_err(|e| StoreError::BadAttribute {
                file: pathbuf(path),
                node: node.to_string(),
                attr: name.clone(),
                reason: e.to_string(),
            })?;
        attrs.insert(name, value);
    }
    Ok(attrs)
}

/// The element type a JSON list is stored as, the way h5py stores the numpy array
/// that `np.asarray(list)` makes of it.
enum ListKind {
    Str,
    Bool,
    I64,
    U64,
    F64,
}

fn list_kind(items: &[Value]) -> std::result::Result<ListKind, String> {
    let all = |f: fn(&Value) -> bool| items.iter().all(f);
    if items.is_empty() {
        // np.asarray([]) is float64, which is what anndata writes for no columns.
        Ok(ListKind::F64)
    } else if all(Value::is_string) {
        Ok(ListKind::Str)
    } else if all(Value::is_boolean) {
        Ok(ListKind::Bool)
    } else if all(Value::is_i64) {
        Ok(ListKind::I64)
    } else if all(Value::is_u64) {
        Ok(ListKind::U64)
    } else if all(Value::is_number) {
        Ok(ListKind::F64)
    } else {
        Err("lists must hold only strings, only bools or only numbers".into())
    }
}

fn vlen_str(s: &str) -> hdf5::Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|_| "strings in HDF5 cannot contain NUL characters".into())
}

fn write_list_attr(loc: &Location, name: &str, items: &[Value]) -> hdf5::Result<()> {
    let builder = loc.new_attr_builder();
    match list_kind(items)? {
        ListKind::Str => {
            let v = items
                .iter()
                .map(|x| vlen_str(x.as_str().unwrap_or_default()))
                .collect::<hdf5::Result<Vec<_>>>()?;
            builder.with_data(v.as_slice()).create(name)?;
        }
        ListKind::Bool => {
            let v: Vec<bool> = items.iter().filter_map(Value::as_bool).collect();
            builder.with_data(v.as_slice()).create(name)?;
        }
        ListKind::I64 => {
            let v: Vec<i64> = items.iter().filter_map(Value::as_i64).collect();
            builder.with_data(v.as_slice()).create(name)?;
        }
        ListKind::U64 => {
            let v: Vec<u64> = items.iter().filter_map(Value::as_u64).collect();
            builder.with_data(v.as_slice()).create(name)?;
        }
        ListKind::F64 => {
            let v: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
            builder.with_data(v.as_slice()).create(name)?;
        }
    }
    Ok(())
}

fn write_scalar_attr<T: H5Type>(loc: &Location, name: &str, value: &T) -> hdf5::Result<()> {
    loc.new_attr::<T>()
        .shape(())
        .create(name)?
        .write_scalar(value)
}

/// Writes one attribute with the type h5py would give the Python value: str as a
/// scalar vlen UTF-8 string, int as int64, float as float64, bool as numpy bool.
fn write_attr(loc: &Location, name: &str, value: &Value) -> hdf5::Result<()> {
    match value {
        Value::String(s) => write_scalar_attr(loc, name, &vlen_str(s)?),
        Value::Bool(b) => write_scalar_attr(loc, name, b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => write_scalar_attr(loc, name, &i),
            (None, Some(u), _) => write_scalar_attr(loc, name, &u),
            (None, None, Some(f)) => write_scalar_attr(loc, name, &f),
            _ => Err("number out of range".into()),
        },
        Value::Array(items) => write_list_attr(loc, name, items),
        Value::Null => Err("null values are not supported".into()),
        Value::Object(_) => Err("nested objects are not supported".into()),
    }
}

fn write_attrs(loc: &Location, path: &Path, node: &str, attrs: &Attrs) -> Result<()> {
    for (name, value) in attrs {
        write_attr(loc, name, value).map_err(|e| StoreError::BadAttribute {
            file: pathbuf(path),
            node: node.to_string(),
            attr: name.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reader

/// Looks for the HDF5 signature where the format allows it: at offset 0 and, after
/// a user block, at 512, 1024, 2048, ... bytes.
fn has_signature(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut offset = 0u64;
    while offset + SIGNATURE.len() as u64 <= len {
        let mut buf = [0u8; 8];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        if buf == SIGNATURE {
            return Ok(true);
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Ok(false)
}

pub struct H5Reader {
    path: PathBuf,
    file: Arc<LazyFile>,
}

impl H5Reader {
    pub fn open(path: &Path) -> Result<Self> {
        match has_signature(path) {
            Ok(true) => {}
            Ok(false) => {
                return Err(StoreError::NotAStore {
                    file: pathbuf(path),
                    reason: "no HDF5 signature".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    file: pathbuf(path),
                })
            }
            Err(e) => return Err(StoreError::backend(path, "", "open", e)),
        }
        let reader = H5Reader {
            path: pathbuf(path),
            file: LazyFile::new(),
        };
        // Opened now so that an unreadable file fails here, not at first use.
        reader.file("")?;
        Ok(reader)
    }

    /// The file, reopened if the cap on open inputs closed it since last use.
    fn file(&self, node: &str) -> Result<File> {
        self.file
            .get(|| File::open(&self.path))
            .ctx(&self.path, node, "open")
    }

    fn node(&self, node: &str) -> Result<Option<Node>> {
        self.file.node(
            node,
            || File::open(&self.path).ctx(&self.path, node, "open"),
            |file| open_node(file, node).ctx(&self.path, node, "open"),
        )
    }

    fn dataset_meta(&self, node: &str) -> Result<(Dataset, Meta)> {
        let ds = self.file.dataset(
            node,
            || File::open(&self.path).ctx(&self.path, node, "open"),
            |file| open_dataset(file, &self.path, node),
        )?;
        let meta = meta(&ds, &self.path, node)?;
        Ok((ds, meta))
    }
}

impl StoreReader for H5Reader {
    fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> Format {
        Format::H5ad
    }

    fn kind(&self, node: &str) -> Result<Option<NodeKind>> {
        Ok(match self.node(node)? {
            Some(Node::Group(_)) => Some(NodeKind::Group),
            Some(Node::Array(_)) => Some(NodeKind::Array),
            None => None,
        })
    }

    fn children(&self, group: &str) -> Result<Vec<String>> {
        let g = as_group(self.node(group)?, &self.path, group)?;
        let mut names = g.member_names().ctx(&self.path, group, "list members")?;
        // Byte order of UTF-8 is code point order.
        names.sort_unstable();
        Ok(names)
    }

    fn attrs(&self, node: &str) -> Result<Attrs> {
        match self.node(node)? {
            Some(Node::Group(g)) => read_attrs(&g, &self.path, node),
            Some(Node::Array(d)) => read_attrs(&d, &self.path, node),
            None => Err(StoreError::NoNode {
                file: pathbuf(&self.path),
                node: node.to_string(),
            }),
        }
    }

    fn array_info(&self, node: &str) -> Result<ArrayInfo> {
        let (ds, meta) = self.dataset_meta(node)?;
        let dcpl = ds
            .dcpl()
            .ctx(&self.path, node, "read creation properties")?;
        let codecs = codec_names(dcpl.id()).ctx(&self.path, node, "read filters")?;
        Ok(ArrayInfo {
            shape: meta.shape,
            dtype: meta.dtype,
            chunks: dcpl
                .chunk()
                .map(|c| c.into_iter().map(|d| d as u64).collect()),
            shards: None,
            codecs,
        })
    }

    fn stored_bytes(&self, node: &str) -> Option<u64> {
        self.dataset_meta(node)
            .ok()
            .map(|(ds, _)| ds.storage_size())
    }

    fn read(&self, node: &str, start: &[u64], shape: &[u64]) -> Result<Data> {
        let (ds, meta) = self.dataset_meta(node)?;
        check_region(&self.path, node, start, shape, &meta.shape)?;
        if shape.contains(&0) {
            return Ok(Data::with_capacity(meta.dtype, 0));
        }
        read_data(&ds, &meta, start, shape).ctx(&self.path, node, "read")
    }
}

// ---------------------------------------------------------------------------
// Writer

pub struct H5Writer {
    path: PathBuf,
    /// `None` once `finish` has closed the file.
    file: Mutex<Option<File>>,
    /// Arrays created by this writer, kept open so a chunk written in several blocks
    /// can stay in the dataset's chunk cache between `write` calls.
    arrays: Mutex<HashMap<String, (Dataset, DType)>>,
}

impl H5Writer {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::with_options()
            .with_fapl(|fapl| {
                // Closing the file closes every object in it, so `finish` leaves a
                // complete file even if a handle were still open somewhere.
                fapl.fclose_degree(hdf5::file::FileCloseDegree::Strong);
                // HDF5 opens files without O_CLOEXEC, so a process spawned meanwhile
                // inherits the descriptor and with it the exclusive flock, which then
                // outlives `finish` and makes opening the finished file fail with
                // EAGAIN. The file is a staged sibling nobody else opens, so the lock
                // protects nothing.
                fapl.file_locking(false)
            })
            .create_excl(path)
            .ctx(path, "", "create")?;
        Ok(H5Writer {
            path: pathbuf(path),
            file: Mutex::new(Some(file)),
            arrays: Mutex::new(HashMap::new()),
        })
    }

    fn file(&self, node: &str) -> Result<File> {
        let guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .clone()
            .ok_or_else(|| invalid(&self.path, node, "the file is already finished"))
    }

    fn array(&self, node: &str) -> Result<(Dataset, DType)> {
        let arrays = self.arrays.lock().unwrap_or_else(|e| e.into_inner());
        arrays
            .get(node)
            .cloned()
            .ok_or_else(|| invalid(&self.path, node, "no array was created here by this writer"))
    }

    /// Checks a spec against what HDF5 can store.
    fn check_spec(&self, node: &str, spec: &ArraySpec) -> Result<()> {
        if spec.shards.is_some() {
            return Err(invalid(&self.path, node, "HDF5 has no shards"));
        }
        match spec.compression {
            Compression::None => {}
            Compression::Gzip { level } if level <= 9 => {}
            Compression::Gzip { level } => {
                return Err(invalid(
                    &self.path,
                    node,
                    format!("gzip level {level} is not 0..=9"),
                ))
            }
            Compression::Lz4 { .. } | Compression::Zstd { .. } => {
                return Err(invalid(
                    &self.path,
                    node,
                    "HDF5 output supports only gzip compression",
                ))
            }
        }
        if !spec.shape.is_empty() && spec.chunks.len() != spec.shape.len() {
            return Err(invalid(
                &self.path,
                node,
                format!(
                    "chunks {:?} do not match shape {:?}",
                    spec.chunks, spec.shape
                ),
            ));
        }
        Ok(())
    }
}

/// Builds a dataset for `spec`. 0-d arrays and arrays with a 0-length dimension are
/// contiguous and unfiltered, as h5py makes them: HDF5 allows no chunks in a scalar
/// dataspace, nor chunk dimensions larger than a fixed dimension.
fn create_dataset(parent: &Group, name: &str, spec: &ArraySpec) -> hdf5::Result<Dataset> {
    let mut builder = parent
        .new_dataset_builder()
        .char_encoding(CharEncoding::Utf8)
        .empty_as(descriptor_of(spec.dtype));
    let dims: Vec<usize> = spec.shape.iter().map(|&d| d as usize).collect();
    if dims.is_empty() {
        return builder.no_chunk().shape(Extents::Scalar).create(name);
    }
    if dims.contains(&0) {
        return builder.no_chunk().shape(dims).create(name);
    }
    let chunks: Vec<usize> = spec
        .chunks
        .iter()
        .zip(&dims)
        .map(|(&c, &d)| (c as usize).clamp(1, d))
        .collect();
    builder = builder.chunk(chunks);
    if let Compression::Gzip { level } = spec.compression {
        // Shuffling bytes helps deflate only for elements wider than one byte.
        if spec.dtype != DType::Str && spec.dtype.size() > 1 {
            builder = builder.shuffle();
        }
        builder = builder.deflate(level);
    }
    if dims.len() == 1 {
        // 1-D arrays may be trimmed once their final length is known (sparse parts).
        return builder
            .shape(hdf5::SimpleExtents::resizable(dims))
            .create(name);
    }
    builder.shape(dims).create(name)
}

/// Writes `v` (row-major, `shape`) at `start`; a 0-d dataset is written whole.
fn write_slice<T: H5Type>(ds: &Dataset, start: &[u64], shape: &[u64], v: &[T]) -> hdf5::Result<()> {
    if shape.is_empty() {
        return ds.write_raw(v);
    }
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let view = ndarray::ArrayView::from_shape(dims, v).map_err(|e| e.to_string())?;
    ds.write_slice(view, hyperslab(start, shape))
}

fn write_data(ds: &Dataset, start: &[u64], shape: &[u64], data: &Data) -> hdf5::Result<()> {
    match data {
        Data::Bool(v) => write_slice(ds, start, shape, v),
        Data::I8(v) => write_slice(ds, start, shape, v),
        Data::I16(v) => write_slice(ds, start, shape, v),
        Data::I32(v) => write_slice(ds, start, shape, v),
        Data::I64(v) => write_slice(ds, start, shape, v),
        Data::U8(v) => write_slice(ds, start, shape, v),
        Data::U16(v) => write_slice(ds, start, shape, v),
        Data::U32(v) => write_slice(ds, start, shape, v),
        Data::U64(v) => write_slice(ds, start, shape, v),
        Data::F32(v) => write_slice(ds, start, shape, v),
        Data::F64(v) => write_slice(ds, start, shape, v),
        Data::Str(v) => {
            let v = v
                .iter()
                .map(|s| vlen_str(s))
                .collect::<hdf5::Result<Vec<_>>>()?;
            write_slice(ds, start, shape, &v)
        }
    }
}

impl Drop for H5Writer {
    /// A writer dropped without `finish` is one whose run failed, often because a
    /// write failed (a full disk). HDF5 1.10 can crash in `H5D_close` on a dataset
    /// whose chunk writes failed, so the handles are leaked instead: the file is a
    /// staged sibling that is about to be removed, and the process about to exit.
    fn drop(&mut self) {
        let file = self
            .file
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if file.is_some() {
            let arrays = std::mem::take(self.arrays.get_mut().unwrap_or_else(|e| e.into_inner()));
            std::mem::forget(arrays);
            std::mem::forget(file);
        }
    }
}

impl StoreWriter for H5Writer {
    fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> Format {
        Format::H5ad
    }

    fn create_group(&self, node: &str, attrs: &Attrs) -> Result<()> {
        let file = self.file(node)?;
        let group = if node.is_empty() {
            file.group("/").ctx(&self.path, node, "open root")?
        } else {
            let (parent, name) = split_parent(node);
            open_group(&file, &self.path, parent)?
                .create_group_builder()
                .char_encoding(CharEncoding::Utf8)
                .create(name)
                .ctx(&self.path, node, "create group")?
        };
        write_attrs(&group, &self.path, node, attrs)
    }

    fn create_array(&self, node: &str, spec: &ArraySpec, attrs: &Attrs) -> Result<()> {
        self.check_spec(node, spec)?;
        let file = self.file(node)?;
        let (parent, name) = split_parent(node);
        let parent = open_group(&file, &self.path, parent)?;
        let ds = create_dataset(&parent, name, spec).ctx(&self.path, node, "create array")?;
        write_attrs(&ds, &self.path, node, attrs)?;
        let mut arrays = self.arrays.lock().unwrap_or_else(|e| e.into_inner());
        arrays.insert(node.to_string(), (ds, spec.dtype));
        Ok(())
    }

    fn write(&self, node: &str, start: &[u64], shape: &[u64], data: &Data) -> Result<()> {
        let (ds, dtype) = self.array(node)?;
        if data.dtype() != dtype {
            return Err(invalid(
                &self.path,
                node,
                format!("cannot write {} data into a {dtype} array", data.dtype()),
            ));
        }
        let space = ds.space().ctx(&self.path, node, "read dataspace")?;
        let array_shape: Vec<u64> = space.shape().into_iter().map(|d| d as u64).collect();
        check_region(&self.path, node, start, shape, &array_shape)?;
        let count: u64 = shape.iter().product();
        if count != data.len() as u64 {
            return Err(invalid(
                &self.path,
                node,
                format!("{} elements given for a {shape:?} block", data.len()),
            ));
        }
        if count == 0 {
            return Ok(());
        }
        write_data(&ds, start, shape, data).ctx(&self.path, node, "write")
    }

    fn resize(&self, node: &str, shape: &[u64]) -> Result<()> {
        let (ds, _) = self.array(node)?;
        if !ds.is_resizable() {
            return Err(invalid(&self.path, node, "array was not created resizable"));
        }
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        ds.resize(dims).ctx(&self.path, node, "resize")
    }

    fn finish(&self) -> Result<()> {
        // Datasets are closed first so their cached chunks are written out.
        self.arrays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).take();
        match file {
            Some(file) => {
                if let Err(e) = file.flush() {
                    // See `Drop`: closing a file whose writes failed can crash HDF5.
                    std::mem::forget(file);
                    return Err(e).ctx(&self.path, "", "flush");
                }
                file.close().ctx(&self.path, "", "close")
            }
            None => Ok(()),
        }
    }
}

/// HDF5-specific cases the shared conformance suite cannot make: files written by
/// other tools, types adcat does not write, and damaged files.
#[cfg(test)]
mod tests {
    use super::*;
    use hdf5::types::{CompoundField, CompoundType, EnumMember, EnumType, FixedAscii};

    fn temp(name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        (dir, path)
    }

    /// Writes a file with `hdf5` directly, as another tool would.
    fn foreign_file(path: &Path) {
        let f = File::create(path).unwrap();
        f.new_dataset::<f64>()
            .shape(Extents::Null)
            .create("null")
            .unwrap();
        let fixed: Vec<FixedAscii<4>> = ["ab", "", "wxyz"]
            .iter()
            .map(|s| FixedAscii::from_ascii(s).unwrap())
            .collect();
        f.new_dataset_builder()
            .with_data(fixed.as_slice())
            .create("fixed")
            .unwrap();
        let ascii: Vec<VarLenAscii> = ["x", "yz"]
            .iter()
            .map(|s| VarLenAscii::from_ascii(s).unwrap())
            .collect();
        f.new_dataset_builder()
            .with_data(ascii.as_slice())
            .create("ascii")
            .unwrap();
        let rgb = TD::Enum(EnumType {
            size: IntSize::U1,
            signed: true,
            members: ["R", "G", "B"]
                .iter()
                .zip(0..)
                .map(|(n, v)| EnumMember {
                    name: n.to_string(),
                    value: v,
                })
                .collect(),
        });
        f.new_dataset_builder()
            .empty_as(&rgb)
            .shape(2)
            .create("enum")
            .unwrap();
        let field = |name: &str, offset| CompoundField {
            name: name.into(),
            ty: TD::Float(FloatSize::U8),
            offset,
            index: offset / 8,
        };
        let complex = TD::Compound(CompoundType {
            fields: vec![field("r", 0), field("i", 8)],
            size: 16,
        });
        f.new_dataset_builder()
            .empty_as(&complex)
            .shape(2)
            .create("complex")
            .unwrap();
        let data: Vec<f64> = (0..100).map(f64::from).collect();
        f.new_dataset_builder()
            .chunk(30)
            .shuffle()
            .lzf()
            .with_data(data.as_slice())
            .create("lzf")
            .unwrap();
        f.new_dataset_builder()
            .with_data(data.as_slice())
            .create("contiguous")
            .unwrap();
    }

    #[test]
    fn foreign_types_and_layouts() {
        let (_dir, path) = temp("foreign.h5");
        foreign_file(&path);
        let r = H5Reader::open(&path).unwrap();
        let err = r.array_info("null").unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("null"), "{err}");
        assert!(matches!(
            r.read("null", &[], &[]),
            Err(StoreError::Invalid { .. })
        ));
        for node in ["enum", "complex"] {
            let err = r.array_info(node).unwrap_err();
            assert!(matches!(err, StoreError::UnsupportedDType { .. }), "{err}");
            assert!(matches!(
                r.read(node, &[0], &[1]),
                Err(StoreError::UnsupportedDType { .. })
            ));
        }
        assert_eq!(r.array_info("fixed").unwrap().dtype, DType::Str);
        let fixed = r.read("fixed", &[1], &[2]).unwrap();
        assert_eq!(fixed, Data::Str(vec!["".into(), "wxyz".into()]));
        let ascii = r.read("ascii", &[0], &[2]).unwrap();
        assert_eq!(ascii, Data::Str(vec!["x".into(), "yz".into()]));
        let lzf = r.array_info("lzf").unwrap();
        assert_eq!(lzf.codecs, vec!["shuffle", "lzf"]);
        assert_eq!(lzf.chunks, Some(vec![30]));
        let got = r.read("lzf", &[25], &[10]).unwrap();
        assert_eq!(got, Data::F64((25..35).map(f64::from).collect()));
        let contiguous = r.array_info("contiguous").unwrap();
        assert_eq!(contiguous.chunks, None);
        assert!(contiguous.codecs.is_empty());
        assert_eq!(r.stored_bytes("contiguous"), Some(800));
        assert!(r.stored_bytes("lzf").is_some_and(|n| n > 0));
        assert_eq!(r.stored_bytes("no such dataset"), None);
    }

    #[test]
    fn not_an_hdf5_file() {
        let (_dir, path) = temp("plain.h5ad");
        std::fs::write(&path, b"just some text, long enough to look at").unwrap();
        assert!(matches!(
            H5Reader::open(&path),
            Err(StoreError::NotAStore { .. })
        ));
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(
            H5Reader::open(&path),
            Err(StoreError::NotAStore { .. })
        ));
    }

    fn gzip_spec(len: u64) -> ArraySpec {
        ArraySpec {
            shape: vec![len],
            dtype: DType::I64,
            chunks: vec![len],
            shards: None,
            compression: Compression::Gzip { level: 9 },
        }
    }

    #[test]
    fn corrupted_chunk_is_an_error() {
        let (_dir, path) = temp("bad.h5ad");
        let w = H5Writer::create(&path).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        let data: Vec<i64> = (0..5000).map(|i| i * i % 7919).collect();
        w.create_array("a", &gzip_spec(5000), &Attrs::new())
            .unwrap();
        w.write("a", &[0], &[5000], &Data::I64(data)).unwrap();
        w.finish().unwrap();
        let chunk = {
            let f = File::open(&path).unwrap();
            f.dataset("a").unwrap().chunk_info(0).unwrap()
        };
        let mut bytes = std::fs::read(&path).unwrap();
        let start = chunk.addr as usize + 8;
        bytes[start..start + 64].fill(0xA5);
        std::fs::write(&path, bytes).unwrap();
        let r = H5Reader::open(&path).unwrap();
        let err = r.read("a", &[0], &[5000]).unwrap_err();
        assert!(err.to_string().contains(":/a"), "{err}");
    }

    /// `write` may be called from several threads at once for disjoint blocks, also
    /// blocks that share a chunk.
    #[test]
    fn concurrent_disjoint_writes() {
        let (_dir, path) = temp("mt.h5ad");
        let w = H5Writer::create(&path).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        let spec = ArraySpec {
            shape: vec![1000, 3],
            dtype: DType::F32,
            chunks: vec![64, 2],
            shards: None,
            compression: Compression::Gzip { level: 1 },
        };
        w.create_array("m", &spec, &Attrs::new()).unwrap();
        let value = |i: u64| i as f32 * 0.5;
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let w = &w;
                s.spawn(move || {
                    for start in (t * 10..1000).step_by(40) {
                        let rows = 10.min(1000 - start);
                        let block = (start * 3..(start + rows) * 3).map(value).collect();
                        w.write("m", &[start, 0], &[rows, 3], &Data::F32(block))
                            .unwrap();
                    }
                });
            }
        });
        w.finish().unwrap();
        let r = H5Reader::open(&path).unwrap();
        let all = r.read("m", &[0, 0], &[1000, 3]).unwrap();
        assert_eq!(all, Data::F32((0..3000).map(value).collect()));
    }

    #[test]
    fn writer_rejects_what_hdf5_cannot_store() {
        let (_dir, path) = temp("w.h5ad");
        let w = H5Writer::create(&path).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        for compression in [
            Compression::Lz4 { level: 5 },
            Compression::Zstd { level: 3 },
        ] {
            let spec = ArraySpec {
                compression,
                ..gzip_spec(4)
            };
            assert!(w.create_array("x", &spec, &Attrs::new()).is_err());
        }
        let sharded = ArraySpec {
            shards: Some(vec![4]),
            ..gzip_spec(4)
        };
        assert!(w.create_array("x", &sharded, &Attrs::new()).is_err());
        let nested: Attrs = serde_json::from_str(r#"{"d": {"x": 1}}"#).unwrap();
        let err = w.create_group("g", &nested).unwrap_err();
        assert!(matches!(err, StoreError::BadAttribute { .. }), "{err}");
        w.create_array("a", &gzip_spec(4), &Attrs::new()).unwrap();
        assert!(w.write("a", &[0], &[4], &Data::F64(vec![0.0; 4])).is_err());
        assert!(w.write("a", &[2], &[4], &Data::I64(vec![0; 4])).is_err());
        assert!(w.write("a", &[0], &[4], &Data::I64(vec![0; 3])).is_err());
        w.finish().unwrap();
        assert!(w.create_group("late", &Attrs::new()).is_err());
    }

    /// h5py reads HDF5 bools as numpy bool only in this exact form.
    #[test]
    fn bools_are_the_h5py_enum() {
        let (_dir, path) = temp("b.h5ad");
        let w = H5Writer::create(&path).unwrap();
        let attrs: Attrs = serde_json::from_str(r#"{"ordered": true}"#).unwrap();
        w.create_group("", &attrs).unwrap();
        let spec = ArraySpec {
            dtype: DType::Bool,
            ..gzip_spec(3)
        };
        w.create_array("b", &spec, &Attrs::new()).unwrap();
        w.write("b", &[0], &[3], &Data::Bool(vec![true, false, true]))
            .unwrap();
        w.finish().unwrap();
        let f = File::open(&path).unwrap();
        let expected = TD::Enum(EnumType {
            size: IntSize::U1,
            signed: true,
            members: vec![
                EnumMember {
                    name: "FALSE".into(),
                    value: 0,
                },
                EnumMember {
                    name: "TRUE".into(),
                    value: 1,
                },
            ],
        });
        let expected = hdf5::Datatype::from_descriptor(&expected).unwrap();
        assert_eq!(f.dataset("b").unwrap().dtype().unwrap(), expected);
        assert_eq!(f.attr("ordered").unwrap().dtype().unwrap(), expected);
        // Gzip on one-byte elements goes without shuffle.
        let r = H5Reader::open(&path).unwrap();
        assert_eq!(r.array_info("b").unwrap().codecs, vec!["gzip(9)"]);
    }

    /// Paths opened whole and paths left to the link-by-link walk give the same
    /// answers, also after the nodes are held open between queries.
    #[test]
    fn node_paths_resolve_like_the_walk() {
        let (_dir, path) = temp("paths.h5ad");
        let f = File::create(&path).unwrap();
        let g = f.create_group("g").unwrap();
        g.create_group("h").unwrap();
        g.new_dataset_builder()
            .with_data(&[1i64, 2, 3])
            .create("d")
            .unwrap();
        drop((g, f));
        let r = H5Reader::open(&path).unwrap();
        for _ in 0..2 {
            assert_eq!(r.kind("").unwrap(), Some(NodeKind::Group));
            assert_eq!(r.kind("g").unwrap(), Some(NodeKind::Group));
            assert_eq!(r.kind("g/h").unwrap(), Some(NodeKind::Group));
            assert_eq!(r.kind("g/d").unwrap(), Some(NodeKind::Array));
            for missing in ["x", "g/x", "g/x/d", "g/d/x", "g//d", "g/./d", "g/", "/g"] {
                assert_eq!(r.kind(missing).unwrap(), None, "{missing}");
            }
            assert_eq!(r.children("g").unwrap(), vec!["d", "h"]);
            assert!(matches!(
                r.children("g/d"),
                Err(StoreError::WrongKind { .. })
            ));
            assert!(matches!(r.children("g/x"), Err(StoreError::NoNode { .. })));
            assert_eq!(r.array_info("g/d").unwrap().shape, vec![3]);
            assert_eq!(r.read("g/d", &[1], &[2]).unwrap(), Data::I64(vec![2, 3]));
        }
    }

    /// A metadata query on the dataset last read gets that dataset's handle, not a
    /// second one that would keep its chunk cache alive.
    #[test]
    fn node_of_the_dataset_read_is_its_handle() {
        let (_dir, path) = temp("handle.h5ad");
        let f = File::create(&path).unwrap();
        f.new_dataset_builder()
            .with_data(&[1i64, 2, 3])
            .create("d")
            .unwrap();
        drop(f);
        let r = H5Reader::open(&path).unwrap();
        assert_eq!(r.read("d", &[0], &[3]).unwrap(), Data::I64(vec![1, 2, 3]));
        let (read, _) = r.dataset_meta("d").unwrap();
        match r.node("d").unwrap() {
            Some(Node::Array(ds)) => assert_eq!(ds.id(), read.id()),
            _ => panic!("d is a dataset"),
        }
    }
}
