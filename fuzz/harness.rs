#![allow(dead_code)]
//! What every fuzz target checks, shared with `tests/fuzz_corpus.rs`, which replays the
//! corpus on stable Rust so a crash once found stays fixed.
//!
//! Each target builds the 4 × 3 sample store of `tests/common`, breaks one part of it
//! with the fuzzer's bytes, and then runs `validate` and a two-input `concat` on it.
//! Neither may panic; every error must name a file; a failed concat must leave nothing
//! in the output folder; a store that `validate` accepts must concatenate, and the
//! result must validate too.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use adcat::concat::{self, merge::Strategy, ConcatOptions};
use adcat::layout::Layout;
use adcat::store::{ArraySpec, Attrs, Compression, Data, Format, StoreWriter};
use serde_json::json;

use crate::common;

const ZARR: [Format; 2] = [Format::ZarrV2, Format::ZarrV3];

/// A sample store per format, built once per thread; each case changes one file and
/// puts it back afterwards, which keeps a case to a few file writes.
struct Samples {
    dir: tempfile::TempDir,
    stores: Vec<(Format, PathBuf, Vec<PathBuf>)>,
}

/// A temporary folder, on tmpfs where there is one: each case writes and syncs dozens
/// of small files, and on a disk file system their creation and fsync dominate.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("temporary folder")
}

impl Samples {
    fn new() -> Samples {
        let dir = scratch();
        let stores = ZARR
            .iter()
            .map(|&format| {
                let path = dir.path().join(format!("sample-{format:?}.zarr"));
                common::write_sample(&path, format, |_| {});
                let mut files = Vec::new();
                metadata_files(&path, &mut files);
                files.sort();
                (format, path, files)
            })
            .collect();
        Samples { dir, stores }
    }
}

thread_local! {
    static SAMPLES: RefCell<Option<Samples>> = const { RefCell::new(None) };
}

fn metadata_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            metadata_files(&path, out);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            if matches!(name, ".zarray" | ".zgroup" | ".zattrs" | "zarr.json") {
                out.push(path);
            }
        }
    }
}

/// Runs `check` on a sample store whose file picked by `pick` holds `edit(old bytes)`.
fn with_edited_sample(
    pick: u8,
    wanted: impl Fn(&Path) -> bool,
    edit: impl FnOnce(&[u8]) -> Vec<u8>,
    check: impl FnOnce(&Path, &Path),
) {
    SAMPLES.with(|cell| {
        let mut cell = cell.borrow_mut();
        let samples = cell.get_or_insert_with(Samples::new);
        let (_, store, files) = &samples.stores[pick as usize % samples.stores.len()];
        let files: Vec<&PathBuf> = files.iter().filter(|f| wanted(f)).collect();
        if files.is_empty() {
            return;
        }
        let file = files[(pick as usize / samples.stores.len()) % files.len()];
        let old = std::fs::read(file).expect("sample file");
        std::fs::write(file, edit(&old)).expect("write sample file");
        let work = samples.dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work folder");
        check(store, &work);
        std::fs::write(file, old).expect("restore sample file");
        let _ = std::fs::remove_dir_all(&work);
    })
}

fn options(inputs: Vec<PathBuf>, output: PathBuf, axis: usize, outer: bool) -> ConcatOptions {
    ConcatOptions {
        inputs,
        output,
        axis,
        outer,
        merge: Strategy::Same,
        uns_merge: Strategy::Same,
        label: Some("batch".into()),
        keys: None,
        index_unique: Some("-".into()),
        fill_value: None,
        pairwise: true,
        wide_indices: outer,
        device: concat::device::Device::Cpu,
        layout: Layout {
            format: Format::ZarrV2,
            chunk_bytes: 64,
            shard_bytes: None,
            compression: Compression::None,
        },
        max_memory: 64 << 20,
        overwrite: false,
        // The output is validated (checksums included) before it is moved into place.
        validate: true,
        progress: false,
    }
}

fn names_a_file(message: &str, files: &[&Path]) -> bool {
    files
        .iter()
        .any(|f| message.contains(&*f.to_string_lossy()))
}

/// The checks every target ends in. Returns whether `validate` accepted the input.
fn exercise(input: &Path, work: &Path, axis: usize, outer: bool) -> bool {
    let valid = match adcat::validate::validate(input, 3) {
        Ok(_) => true,
        Err(e) => {
            let msg = e.to_string();
            assert!(names_a_file(&msg, &[input]), "validate: {msg}");
            false
        }
    };
    let output = work.join("out.zarr");
    let opts = options(
        vec![input.into(), input.into()],
        output.clone(),
        axis,
        outer,
    );
    match concat::concat(opts) {
        Ok(_) => {
            if valid {
                if let Err(e) = adcat::validate::validate(&output, 3) {
                    panic!("concat of a valid input wrote an invalid store: {e}");
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(names_a_file(&msg, &[input, &output]), "concat: {msg}");
            assert!(
                !valid,
                "a store that validates failed to concatenate: {msg}"
            );
            let left: Vec<_> = std::fs::read_dir(work)
                .expect("work folder")
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(left.is_empty(), "a failed concat left {left:?}");
        }
    }
    valid
}

fn is_metadata(f: &Path) -> bool {
    !f.ends_with(".zattrs")
}

fn holds_attrs(f: &Path) -> bool {
    f.ends_with(".zattrs") || f.ends_with("zarr.json")
}

/// Starting inputs for `target`: every sample file each target can pick, unchanged,
/// and a few sparse matrices, sound and broken.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let file_seeds = |wanted: fn(&Path) -> bool, attrs_only: bool| {
        let mut out = Vec::new();
        for pick in 0..=u8::MAX {
            let mut seed = None;
            with_edited_sample(
                pick,
                wanted,
                |old| {
                    let mut bytes = vec![pick, pick / 2];
                    let doc = serde_json::from_slice::<serde_json::Value>(old).ok();
                    match doc.as_ref().and_then(|d| d.get("zarr_format").map(|_| d)) {
                        Some(d) if attrs_only => {
                            let a = d.get("attributes").cloned().unwrap_or(json!({}));
                            bytes.extend(a.to_string().into_bytes());
                        }
                        _ => bytes.extend_from_slice(old),
                    }
                    seed = Some(bytes);
                    old.to_vec()
                },
                |_, _| {},
            );
            out.extend(seed);
        }
        out.sort_by(|a: &Vec<u8>, b: &Vec<u8>| a[2..].cmp(&b[2..]));
        out.dedup_by(|a, b| a[2..] == b[2..]);
        out
    };
    match target {
        "zarr_metadata" => file_seeds(is_metadata, false),
        "anndata_attrs" => file_seeds(holds_attrs, true),
        "sparse_block" => {
            let sound = [0u8, 0, 0, 0, 2, 1, 0, 2, 0, 2, 1, 0, 2];
            let mut out = Vec::new();
            for head in [0u8, 1, 4, 5, 8, 9, 0x20, 0x24, 0x28, 0x40, 0x80, 0xc1] {
                let mut s = sound.to_vec();
                s[0] = head;
                out.push(s);
            }
            out.push(vec![0, 0, 0x45, 0, 1, 1, 1, 1, 0, 1, 2, 0, 1]);
            out.push(vec![0x20, 0, 0, 0, 0xc1, 1, 1, 1, 0]);
            out
        }
        _ => Vec::new(),
    }
}

/// Zarr array and group metadata (`.zarray`, `.zgroup`, v3 `zarr.json`) replaced by the
/// fuzzer's bytes. The first byte picks the store and the file, the second the axis.
pub fn zarr_metadata(data: &[u8]) {
    let [pick, mode, rest @ ..] = data else {
        return;
    };
    with_edited_sample(
        *pick,
        is_metadata,
        |_| rest.to_vec(),
        |store, work| {
            exercise(store, work, (*mode & 1) as usize, *mode & 2 != 0);
        },
    );
}

/// AnnData's encoding attributes replaced by the fuzzer's bytes: a v2 `.zattrs` file
/// whole, or the `attributes` member of a v3 `zarr.json` (spliced in as text, so it
/// need not be JSON).
pub fn anndata_attrs(data: &[u8]) {
    let [pick, mode, rest @ ..] = data else {
        return;
    };
    let edit = |old: &[u8]| -> Vec<u8> {
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(old) else {
            return rest.to_vec();
        };
        if doc.get("zarr_format").is_none() {
            return rest.to_vec();
        }
        let mut doc = doc;
        if let Some(map) = doc.as_object_mut() {
            map.insert("attributes".into(), json!("\u{1}ATTRS\u{1}"));
        }
        let text = doc.to_string();
        let attrs = String::from_utf8_lossy(rest);
        text.replace("\"\\u0001ATTRS\\u0001\"", &attrs).into_bytes()
    };
    with_edited_sample(*pick, holds_attrs, edit, |store, work| {
        exercise(store, work, (*mode & 1) as usize, *mode & 2 != 0);
    });
}

/// A sparse X made of the fuzzer's numbers: its encoding, shape attribute, indptr,
/// indices and data lengths, in any of the three formats.
pub struct SparseCase {
    pub format: Format,
    pub csc: bool,
    pub shape: [i64; 2],
    pub indptr: Vec<i64>,
    pub indices: Vec<i64>,
    pub data_len: usize,
    pub index_i64: bool,
    pub axis: usize,
    pub outer: bool,
}

impl SparseCase {
    /// Small numbers most of the time, so that many cases are valid and reach the
    /// concatenation; the top bit of a byte asks for a far one.
    pub fn decode(data: &[u8]) -> Option<SparseCase> {
        let mut it = data.iter().copied();
        let head = it.next()?;
        let shape_byte = it.next()?;
        let counts = it.next()?;
        let number = |b: u8| -> i64 {
            match b {
                0..=0x7f => (b % 8) as i64,
                0x80..=0xbf => (b & 0x3f) as i64 - 32,
                _ => i64::from(b) << 40,
            }
        };
        let csc = head & 1 != 0;
        let (major, minor) = if csc { (3i64, 4i64) } else { (4, 3) };
        let shape = if shape_byte == 0 {
            [4, 3]
        } else {
            [number(shape_byte), number(shape_byte.rotate_left(3))]
        };
        let ptr_len = if counts & 0x80 == 0 {
            major as usize + 1
        } else {
            (counts & 7) as usize
        };
        let mut indptr: Vec<i64> = Vec::with_capacity(ptr_len);
        // indptr as steps, so that most of them are monotone.
        let mut at = 0i64;
        for k in 0..ptr_len {
            let b = it.next().unwrap_or(0);
            if k == 0 {
                at = if b & 0x80 == 0 { 0 } else { number(b) };
            } else if b & 0xc0 == 0xc0 {
                at = number(b);
            } else {
                at += (b % 4) as i64;
            }
            indptr.push(at);
        }
        let nnz = if counts & 0x40 == 0 {
            indptr.last().copied().unwrap_or(0).clamp(0, 64) as usize
        } else {
            (counts & 0x3f) as usize
        };
        let mut indices = Vec::with_capacity(nnz);
        for _ in 0..nnz {
            let b = it.next().unwrap_or(0);
            indices.push(if b & 0x80 == 0 {
                (b as i64) % minor
            } else {
                number(b)
            });
        }
        let data_len = if head & 2 == 0 { nnz } else { nnz + 1 };
        Some(SparseCase {
            format: common::FORMATS[(head as usize >> 2) % common::FORMATS.len()],
            csc,
            shape,
            indptr,
            indices,
            data_len,
            index_i64: head & 0x20 != 0,
            axis: (head >> 6 & 1) as usize,
            outer: head & 0x80 != 0,
        })
    }

    /// Whether X is a sound sparse matrix for the sample's 4 × 3 shape: what `validate`
    /// must decide on its own.
    pub fn is_valid(&self) -> bool {
        let (major, minor) = if self.csc { (3, 4) } else { (4, 3) };
        let p = &self.indptr;
        let nnz = self.indices.len() as i64;
        self.shape == [4, 3]
            && p.len() == major + 1
            && p[0] == 0
            && p.windows(2).all(|w| w[0] <= w[1])
            && p[major] == nnz
            && self.data_len == self.indices.len()
            && p.windows(2).all(|w| {
                let line = &self.indices[w[0] as usize..w[1] as usize];
                line.iter().all(|&i| (0..minor).contains(&i))
                    && line.windows(2).all(|x| x[0] < x[1])
            })
    }

    fn write_x(&self, w: &dyn StoreWriter) {
        let encoding = if self.csc { "csc_matrix" } else { "csr_matrix" };
        w.create_group(
            "X",
            &common::with(
                common::enc(encoding, "0.1.0"),
                json!({ "shape": self.shape }),
            ),
        )
        .expect("X");
        let ints = |v: &[i64]| -> Data {
            if self.index_i64 {
                Data::I64(v.to_vec())
            } else {
                Data::I32(v.iter().map(|&x| x as i32).collect())
            }
        };
        let data = Data::F32((0..self.data_len).map(|i| i as f32 + 0.5).collect());
        for (node, values) in [
            ("X/indptr", ints(&self.indptr)),
            ("X/indices", ints(&self.indices)),
            ("X/data", data),
        ] {
            let n = values.len() as u64;
            let spec = ArraySpec {
                shape: vec![n],
                dtype: values.dtype(),
                chunks: vec![3],
                shards: None,
                compression: Compression::None,
            };
            w.create_array(node, &spec, &Attrs::new()).expect("array");
            if n > 0 {
                w.write(node, &[0], &[n], &values).expect("write");
            }
        }
    }
}

/// Sparse-block checks on stores whose X is built from the fuzzer's numbers: `validate`
/// must accept exactly the sound ones, and the sound ones must concatenate.
pub fn sparse_block(data: &[u8]) {
    let Some(case) = SparseCase::decode(data) else {
        return;
    };
    // i32 indices cannot hold the far numbers; those cases are for i64.
    if !case.index_i64
        && case
            .indptr
            .iter()
            .chain(&case.indices)
            .any(|&x| i32::try_from(x).is_err())
    {
        return;
    }
    let dir = scratch();
    let input = dir.path().join(format!(
        "x.{}",
        if case.format == Format::H5ad {
            "h5ad"
        } else {
            "zarr"
        }
    ));
    common::write_sample_with_x(&input, case.format, |w| case.write_x(w), |_| {});
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work folder");
    let valid = exercise(&input, &work, case.axis, case.outer);
    assert_eq!(
        valid,
        case.is_valid(),
        "validate disagrees with the sparse invariants on {:?} {:?} {:?} {:?} (data {})",
        case.shape,
        case.csc,
        case.indptr,
        case.indices,
        case.data_len
    );
}
