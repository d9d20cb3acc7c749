//! Synthetic AnnData inputs for the benchmark matrix, written by adcat's own store
//! layer so the benchmark needs no Python. Values come from a fixed-algorithm
//! generator (splitmix64) seeded per line, so the same `--size` gives the same bytes
//! on every machine and every build, and lines can be generated in parallel.

use std::path::Path;

use rayon::prelude::*;
use serde_json::json;

use crate::error::Result;
use crate::layout::Layout;
use crate::output::Staged;
use crate::store::{self, Attrs, Compression, DType, Data, Format, StoreWriter};
use crate::value::{enc, write_frame, Frame, Value};

/// How X is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Csr,
    Csc,
    Dense,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Csr => "csr",
            Encoding::Csc => "csc",
            Encoding::Dense => "dense",
        }
    }
}

/// One generated input: its shape, where its names start, and how X is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    pub encoding: Encoding,
    pub rows: u64,
    pub cols: u64,
    /// Offsets of the `cell{i}` and `gene{j}` names; shifted inputs overlap the
    /// others only partly, which makes joins reindex.
    pub row_offset: u64,
    pub col_offset: u64,
    /// Fraction of stored entries (1 for dense).
    pub density: f64,
    pub seed: u64,
}

/// A value stream that depends only on its seed.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0); the slight modulo bias does not matter here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Count-like values (1..=20, stored as float64): what expression matrices hold, and
/// they compress as real ones do.
fn count(rng: &mut SplitMix) -> f64 {
    (1 + rng.below(20)) as f64
}

fn line_rng(seed: u64, line: u64) -> SplitMix {
    let mut r = SplitMix::new(seed ^ line.wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64();
    r
}

/// Exactly `k` distinct sorted positions out of `0..n` (Knuth's selection sampling),
/// so nnz is known before anything is generated.
fn select(rng: &mut SplitMix, n: u64, k: u64, out: &mut Vec<i32>) {
    let mut needed = k;
    for i in 0..n {
        if needed == 0 {
            break;
        }
        if rng.below(n - i) < needed {
            out.push(i as i32);
            needed -= 1;
        }
    }
}

impl InputSpec {
    fn lines(&self) -> (u64, u64) {
        match self.encoding {
            Encoding::Csc => (self.cols, self.rows),
            _ => (self.rows, self.cols),
        }
    }

    /// Stored entries per major line.
    pub fn per_line(&self) -> u64 {
        let (_, minor) = self.lines();
        ((self.density * minor as f64).round() as u64).min(minor)
    }

    /// Uncompressed bytes of X as stored.
    pub fn x_bytes(&self) -> u64 {
        match self.encoding {
            Encoding::Dense => self.rows * self.cols * 8,
            _ => {
                let (major, _) = self.lines();
                let nnz = major * self.per_line();
                nnz * (8 + index_size(nnz)) + (major + 1) * index_size(nnz)
            }
        }
    }
}

fn index_size(nnz: u64) -> u64 {
    if nnz > i32::MAX as u64 {
        8
    } else {
        4
    }
}

/// The layout anndata gives its own writes: Zarr v2 with Blosc-LZ4 (level 5, shuffle),
/// uncompressed HDF5.
pub fn input_layout(format: Format) -> Layout {
    Layout {
        format,
        chunk_bytes: 1 << 20,
        shard_bytes: None,
        compression: if format == Format::H5ad {
            Compression::None
        } else {
            Compression::Lz4 { level: 5 }
        },
    }
}

/// Appends to a 1-D array in whole chunks, so no chunk is written twice.
struct Appender<'a> {
    w: &'a dyn StoreWriter,
    node: String,
    chunk: usize,
    at: u64,
    pending: Data,
}

impl<'a> Appender<'a> {
    fn new(
        w: &'a dyn StoreWriter,
        layout: &Layout,
        node: &str,
        len: u64,
        dtype: DType,
    ) -> Result<Self> {
        let spec = layout.spec(&[len], dtype);
        let chunk = spec.chunks.first().copied().unwrap_or(1).max(1) as usize;
        w.create_array(node, &spec, &Attrs::new())?;
        Ok(Appender {
            w,
            node: node.to_string(),
            chunk,
            at: 0,
            pending: Data::with_capacity(dtype, 0),
        })
    }

    fn push(&mut self, data: Data) -> Result<()> {
        append(&mut self.pending, data);
        let whole = self.pending.len() / self.chunk * self.chunk;
        if whole >= self.chunk * 8 {
            let rest = split_off(&mut self.pending, whole);
            let head = std::mem::replace(&mut self.pending, rest);
            self.flush_data(head)?;
        }
        Ok(())
    }

    fn flush_data(&mut self, data: Data) -> Result<()> {
        let n = data.len() as u64;
        self.w.write(&self.node, &[self.at], &[n], &data)?;
        self.at += n;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        let rest = std::mem::replace(&mut self.pending, Data::Bool(Vec::new()));
        if !rest.is_empty() {
            self.flush_data(rest)?;
        }
        Ok(())
    }
}

fn append(to: &mut Data, from: Data) {
    match (to, from) {
        (Data::F64(a), Data::F64(b)) => a.extend(b),
        (Data::I32(a), Data::I32(b)) => a.extend(b),
        (Data::I64(a), Data::I64(b)) => a.extend(b),
        (to, from) => unreachable!("generator mixes {} and {}", to.dtype(), from.dtype()),
    }
}

fn split_off(d: &mut Data, at: usize) -> Data {
    match d {
        Data::F64(v) => Data::F64(v.split_off(at)),
        Data::I32(v) => Data::I32(v.split_off(at)),
        Data::I64(v) => Data::I64(v.split_off(at)),
        other => unreachable!("generator has no {} arrays", other.dtype()),
    }
}

/// Lines generated per parallel batch: about 16 MiB of output.
fn batch_lines(bytes_per_line: u64) -> u64 {
    ((16u64 << 20) / bytes_per_line.max(1)).max(1)
}

fn write_sparse(w: &dyn StoreWriter, layout: &Layout, spec: &InputSpec) -> Result<()> {
    let (major, minor) = spec.lines();
    let k = spec.per_line();
    let nnz = major * k;
    let mut attrs = enc(
        if spec.encoding == Encoding::Csr {
            "csr_matrix"
        } else {
            "csc_matrix"
        },
        "0.1.0",
    );
    attrs.insert("shape".into(), json!([spec.rows, spec.cols]));
    w.create_group("X", &attrs)?;
    let wide = index_size(nnz) == 8;
    let index_dtype = if wide { DType::I64 } else { DType::I32 };
    let mut data = Appender::new(w, layout, "X/data", nnz, DType::F64)?;
    let mut indices = Appender::new(w, layout, "X/indices", nnz, index_dtype)?;
    let step = batch_lines(k * 12);
    for start in (0..major).step_by(step as usize) {
        let end = (start + step).min(major);
        let lines: Vec<(Vec<i32>, Vec<f64>)> = (start..end)
            .into_par_iter()
            .map(|line| {
                let mut rng = line_rng(spec.seed, line);
                let mut idx = Vec::with_capacity(k as usize);
                select(&mut rng, minor, k, &mut idx);
                let vals = (0..k).map(|_| count(&mut rng)).collect();
                (idx, vals)
            })
            .collect();
        let mut idx = Vec::with_capacity(((end - start) * k) as usize);
        let mut vals = Vec::with_capacity(idx.capacity());
        for (i, v) in lines {
            idx.extend(i);
            vals.extend(v);
        }
        indices.push(if wide {
            Data::I64(idx.into_iter().map(i64::from).collect())
        } else {
            Data::I32(idx)
        })?;
        data.push(Data::F64(vals))?;
    }
    data.finish()?;
    indices.finish()?;
    let indptr: Vec<i64> = (0..=major).map(|i| (i * k) as i64).collect();
    let indptr = if wide {
        Data::I64(indptr)
    } else {
        Data::I32(indptr.into_iter().map(|v| v as i32).collect())
    };
    let spec_ip = layout.spec(&[major + 1], indptr.dtype());
    w.create_array("X/indptr", &spec_ip, &Attrs::new())?;
    w.write("X/indptr", &[0], &[major + 1], &indptr)?;
    Ok(())
}

fn write_dense(w: &dyn StoreWriter, layout: &Layout, spec: &InputSpec) -> Result<()> {
    let shape = [spec.rows, spec.cols];
    let array = layout.spec(&shape, DType::F64);
    w.create_array("X", &array, &enc("array", "0.2.0"))?;
    // Blocks of whole chunk rows, so every chunk is written once.
    let chunk_rows = array.chunks.first().copied().unwrap_or(1).max(1);
    let rows_per_batch = batch_lines(spec.cols * 8).div_ceil(chunk_rows) * chunk_rows;
    for start in (0..spec.rows).step_by(rows_per_batch as usize) {
        let end = (start + rows_per_batch).min(spec.rows);
        let values: Vec<f64> = (start..end)
            .into_par_iter()
            .flat_map_iter(|row| {
                let mut rng = line_rng(spec.seed, row);
                (0..spec.cols).map(move |_| count(&mut rng))
            })
            .collect();
        w.write(
            "X",
            &[start, 0],
            &[end - start, spec.cols],
            &Data::F64(values),
        )?;
    }
    Ok(())
}

/// obs or var with one column of each kind anndata users keep there.
fn annotation(prefix: &str, n: u64, offset: u64, seed: u64) -> Frame {
    let mut rng = SplitMix::new(seed);
    let ids: Vec<u64> = (offset..offset + n).collect();
    let ints: Vec<i64> = ids.iter().map(|_| rng.below(10_000) as i64).collect();
    let floats: Vec<f64> = ids.iter().map(|_| rng.unit()).collect();
    let flags: Vec<bool> = ids.iter().map(|_| rng.below(2) == 1).collect();
    let codes: Vec<i64> = ids.iter().map(|_| rng.below(8) as i64).collect();
    let categories = Data::Str((0..8).map(|c| format!("type{c}")).collect());
    // Derived from the name, so inputs that share a name share the label.
    let labels: Vec<String> = ids.iter().map(|i| format!("{prefix}-{i:x}")).collect();
    let array = |data: Data| Value::Array {
        shape: vec![n],
        data,
    };
    Frame {
        index_name: "_index".into(),
        index: ids.iter().map(|i| format!("{prefix}{i}")).collect(),
        columns: vec![
            ("count".into(), array(Data::I64(ints))),
            ("score".into(), array(Data::F64(floats))),
            ("flag".into(), array(Data::Bool(flags))),
            (
                "kind".into(),
                Value::Categorical {
                    codes,
                    categories,
                    ordered: false,
                },
            ),
            ("label".into(), array(Data::Str(labels))),
        ],
    }
}

/// Writes `spec` as an AnnData store at `path` (into a temporary sibling first, so a
/// store that exists is complete).
pub fn write_input(path: &Path, format: Format, spec: &InputSpec) -> Result<()> {
    let layout = input_layout(format);
    let staged = Staged::new(path, false)?;
    {
        let w = store::create(staged.path(), format)?;
        w.create_group("", &enc("anndata", "0.1.0"))?;
        match spec.encoding {
            Encoding::Dense => write_dense(w.as_ref(), &layout, spec)?,
            _ => write_sparse(w.as_ref(), &layout, spec)?,
        }
        let obs = annotation("cell", spec.rows, spec.row_offset, spec.seed ^ 1);
        let var = annotation("gene", spec.cols, spec.col_offset, spec.seed ^ 2);
        write_frame(w.as_ref(), &layout, "obs", &obs, true)?;
        write_frame(w.as_ref(), &layout, "var", &var, true)?;
        for group in ["layers", "obsm", "varm", "obsp", "varp", "uns"] {
            w.create_group(group, &enc("dict", "0.1.0"))?;
        }
        w.finish()?;
    }
    staged.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_exact_sorted_and_distinct() {
        let mut rng = SplitMix::new(7);
        for (n, k) in [(10, 0), (10, 10), (1000, 100), (37, 5)] {
            let mut out = Vec::new();
            select(&mut rng, n, k, &mut out);
            assert_eq!(out.len() as u64, k);
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            assert!(out.iter().all(|&i| (i as u64) < n));
        }
    }

    #[test]
    fn lines_depend_only_on_seed_and_line() {
        let a: Vec<u64> = (0..4).map(|_| line_rng(3, 9).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(line_rng(3, 9).next_u64(), line_rng(3, 10).next_u64());
    }

    #[test]
    fn generated_store_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        for (encoding, format) in [
            (Encoding::Csr, Format::ZarrV2),
            (Encoding::Csc, Format::H5ad),
            (Encoding::Dense, Format::ZarrV2),
        ] {
            let spec = InputSpec {
                encoding,
                rows: 50,
                cols: 40,
                row_offset: 5,
                col_offset: 0,
                density: if encoding == Encoding::Dense {
                    1.0
                } else {
                    0.1
                },
                seed: 1,
            };
            let path = dir.path().join(format!(
                "{}.{}",
                encoding.name(),
                if format == Format::H5ad {
                    "h5ad"
                } else {
                    "zarr"
                }
            ));
            write_input(&path, format, &spec).unwrap();
            let r = store::open(&path).unwrap();
            let names = crate::value::read_strings(r.as_ref(), "obs/_index").unwrap();
            assert_eq!(names.first().map(String::as_str), Some("cell5"));
            assert_eq!(names.len(), 50);
            if encoding == Encoding::Dense {
                assert_eq!(r.array_info("X").unwrap().shape, vec![50, 40]);
            } else {
                let indptr = r
                    .read(
                        "X/indptr",
                        &[0],
                        &[r.array_info("X/indptr").unwrap().shape[0]],
                    )
                    .unwrap();
                let indptr = indptr.to_i64().unwrap();
                let major = if encoding == Encoding::Csr { 50 } else { 40 };
                assert_eq!(indptr.len(), major + 1);
                assert_eq!(
                    *indptr.last().unwrap() as u64,
                    major as u64 * spec.per_line()
                );
                let data = r.array_info("X/data").unwrap();
                assert_eq!(data.shape[0] as i64, *indptr.last().unwrap());
            }
        }
    }
}
