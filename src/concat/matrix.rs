//! Concatenation of 2-D elements (X, layers, obsm/varm arrays, pairwise obsp/varp),
//! streamed in blocks along the output's major axis: rows of a dense or CSR result,
//! columns of a CSC result. Each block gathers what every input contributes to it,
//! reindexed onto the result's alternate axis, and is written in whole chunks.

use crate::concat::blocks::{compact, extend, gather, Appender};
use crate::concat::dtype::{cast, filled};
use crate::concat::index::Reindex;
use crate::concat::spill::{Spill, SpillWriter};
use crate::concat::words::{
    bytes_of, data_of, kernel_error, pattern_of, words_mut, written_words, written_words_prefix,
    zeroed_words,
};
use crate::error::{Error, Result};
use crate::kernels::{DensePiece, KernelError, Kernels, ValueColumn, DROPPED};
use crate::layout::Layout;
use crate::store::{join, Attrs, DType, Data, NotU64, StoreReader, StoreWriter};
use crate::value::nonzero_flags;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::timing::{self, Timer};

/// How one input stores the element.
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    Dense,
    Sparse { csr: bool, nnz: u64 },
}

/// An input's copy of the element.
#[derive(Clone, Debug)]
pub struct Source {
    pub node: String,
    pub storage: Storage,
    pub dtype: DType,
    pub shape: [u64; 2],
}

/// One input's share of the result.
#[derive(Clone, Debug)]
pub struct Part {
    pub input: usize,
    /// `None`: the input lacks the element (outer joins fill it in).
    pub source: Option<Source>,
    /// Extent along the concatenation axis and where it starts in the result.
    pub len: u64,
    pub offset: u64,
    /// Positions along the alternate axis.
    pub alt: Reindex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum OutKind {
    Dense,
    Csr,
    Csc,
}

/// Everything needed to write one concatenated 2-D element.
#[derive(Clone, Debug)]
pub struct MatrixJob {
    pub node: String,
    /// 0: inputs stacked as rows; 1: side by side as columns.
    pub axis: usize,
    pub parts: Vec<Part>,
    pub shape: [u64; 2],
    pub kind: OutKind,
    pub dtype: DType,
    /// Value for positions no input provides (NaN for dense by default, 0 for sparse).
    pub fill: f64,
    /// Upper bound of stored entries for a sparse result (exact when nothing is dropped).
    pub nnz_bound: u64,
}

/// What one input holds of a sparse output block, as read: `n` lines, or `None` where
/// the input lacks the element.
struct ReadPart {
    part: usize,
    n: usize,
    lines: Option<Fetched>,
}

/// A run of lines in compressed form: `indptr` starts at 0.
#[derive(Debug)]
struct Lines {
    indptr: Vec<u64>,
    indices: Vec<u64>,
    data: Data,
}

impl Lines {
    fn empty(n: usize, dtype: DType) -> Lines {
        Lines {
            indptr: vec![0; n + 1],
            indices: Vec::new(),
            data: Data::with_capacity(dtype, 0),
        }
    }

    fn n(&self) -> usize {
        self.indptr.len() - 1
    }
}

/// Lines wanted from one input, as input positions (`None`: an empty line).
enum Select {
    Range(u64, u64),
    List(Vec<Option<u64>>),
}

impl Select {
    fn len(&self) -> usize {
        match self {
            Select::Range(a, b) => (b - a) as usize,
            Select::List(v) => v.len(),
        }
    }

    /// Every selected input line with its local line: (local line, input line).
    fn positions(&self) -> Box<dyn Iterator<Item = (usize, u64)> + '_> {
        match self {
            Select::Range(a, b) => Box::new((*a..*b).enumerate()),
            Select::List(v) => {
                Box::new(v.iter().enumerate().filter_map(|(l, m)| m.map(|m| (l, m))))
            }
        }
    }

    /// Maximal runs of consecutive input lines: (first local line, first input line, count).
    fn runs(&self) -> Vec<(usize, u64, u64)> {
        match self {
            Select::Range(a, b) if b > a => vec![(0, *a, b - a)],
            Select::Range(..) => Vec::new(),
            Select::List(v) => {
                let mut runs: Vec<(usize, u64, u64)> = Vec::new();
                for (local, line) in v.iter().enumerate() {
                    let Some(line) = *line else { continue };
                    match runs.last_mut() {
                        Some((l0, s, n)) if *l0 + *n as usize == local && *s + *n == line => {
                            *n += 1
                        }
                        _ => runs.push((local, line, 1)),
                    }
                }
                runs
            }
        }
    }
}

/// Rows `first..first + rows` of one read block, placed at output row `row_offset`
/// through the column map of `part`.
struct Cut {
    read: usize,
    first: usize,
    rows: usize,
    row_offset: usize,
    /// The part whose column map places the piece.
    part: usize,
}

/// Blocks read from the inputs for one dense output block, and the pieces cut from them.
#[derive(Default)]
struct DenseRead {
    blocks: Vec<Data>,
    cuts: Vec<Cut>,
}

/// Input rows `start..start + rows` read at once for the runs within them.
#[derive(Debug, PartialEq)]
struct Span {
    start: u64,
    rows: u64,
    runs: Vec<(usize, u64, u64)>,
}

/// Groups runs (local line, input line, count) into reads: runs are taken in input
/// order, and a run joins the read before it when it starts in the chunk (of
/// `chunk` rows) where that read ends, as long as the rows read but not wanted stay
/// at most the rows wanted. So each chunk is decoded about once per block, instead of
/// once per run when a join scatters rows, and a read holds at most twice the rows
/// it serves. Runs that follow each other directly always join.
fn spans(mut runs: Vec<(usize, u64, u64)>, chunk: u64) -> Vec<Span> {
    runs.sort_unstable_by_key(|r| r.1);
    let chunk = chunk.max(1);
    let mut out: Vec<(Span, u64)> = Vec::new();
    for run in runs {
        let (_, line, n) = run;
        if let Some((span, wanted)) = out.last_mut() {
            let end = span.start + span.rows;
            let gap = line.saturating_sub(end);
            let waste = span.rows - *wanted + gap;
            let same_chunk = (end - 1) / chunk == line / chunk;
            if line >= end && (gap == 0 || same_chunk) && waste <= *wanted + n {
                span.rows = line + n - span.start;
                span.runs.push(run);
                *wanted += n;
                continue;
            }
        }
        out.push((
            Span {
                start: line,
                rows: n,
                runs: vec![run],
            },
            n,
        ));
    }
    out.into_iter().map(|(span, _)| span).collect()
}

pub(crate) fn read_index(
    store: &dyn StoreReader,
    node: &str,
    start: u64,
    n: u64,
) -> Result<Vec<u64>> {
    let reason = match store.read(node, &[start], &[n])?.into_u64() {
        Ok(v) => return Ok(v),
        Err(NotU64::NotIntegers(dtype)) => format!("dtype {dtype}, expected integers"),
        Err(NotU64::Negative) => "negative value".to_string(),
    };
    Err(Error::invalid(store.path(), node, "sparse index", reason))
}

/// Sizes and writers shared by the block loop.
pub struct Ctx<'a> {
    pub inputs: &'a [&'a dyn StoreReader],
    pub out: &'a dyn StoreWriter,
    pub layout: &'a Layout,
    pub block_bytes: u64,
    pub progress: &'a crate::progress::Progress,
    /// Where the index work runs (CPU or GPU); both give the same bytes.
    pub kernels: &'a dyn Kernels,
    pub phases: &'a Phases,
    /// int64 indices and indptr even where int32 would do.
    pub wide_indices: bool,
}

/// Busy time of each part of the block loops, summed over matrices. The reader and
/// writer overlap, so these add up to more than the wall time.
#[derive(Debug, Default)]
pub struct Phases {
    /// Reading and decoding the inputs' chunks of each block.
    pub reading: AtomicU64,
    /// Assembling blocks from what was read: reindexing, filling, interleaving
    /// (kernel calls included).
    pub assembling: AtomicU64,
    /// Encoding and writing blocks.
    pub writing: AtomicU64,
    /// Inside kernel calls, on either side.
    pub kernels: AtomicU64,
    /// Bytes written to scratch space for inputs stored the other way round.
    pub scratch_bytes: AtomicU64,
}

/// Where scratch files go: next to the output, whose disk has room for the result.
fn scratch_dir(out: &std::path::Path) -> &std::path::Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    }
}

/// `old_to_new` as a kernel table: each input position's output position, or dropped.
fn table_of(alt: &Reindex) -> Vec<u64> {
    alt.old_to_new
        .iter()
        .map(|o| o.unwrap_or(DROPPED))
        .collect()
}

impl MatrixJob {
    pub fn write(&self, ctx: &Ctx<'_>) -> Result<()> {
        match self.kind {
            OutKind::Dense => self.write_dense(ctx),
            OutKind::Csr | OutKind::Csc => self.write_sparse(ctx),
        }
    }

    /// Runs a kernel call, timing it and naming this element in its error.
    fn k<T>(
        &self,
        ctx: &Ctx<'_>,
        call: impl FnOnce() -> std::result::Result<T, KernelError>,
    ) -> Result<T> {
        timing::time(&ctx.phases.kernels, call)
            .map_err(|e| kernel_error(ctx.out.path(), &self.node, e))
    }

    /// Whether assembling blocks gets a thread of its own between reading and writing:
    /// when a device does it, or when there is assembling to do at all. Where every
    /// input's block is the output's as read, a third stage would only hold one more
    /// block.
    fn overlap_assembly(&self, ctx: &Ctx<'_>) -> bool {
        let width = self.shape[1 - self.axis];
        let as_read = self.axis == self.major_axis()
            && self.parts.iter().all(|p| {
                p.source.as_ref().is_some_and(|src| {
                    p.alt.identity
                        && src.shape[1 - self.axis] == width
                        && !self.stored_other_way(src)
                })
            });
        ctx.kernels.on_device() || !as_read
    }

    /// The axis the result's storage runs along: rows of a dense or CSR result,
    /// columns of a CSC one.
    fn major_axis(&self) -> usize {
        if self.kind == OutKind::Csc {
            1
        } else {
            0
        }
    }

    /// Whether `src` is read across the result's lines: a sparse input of the other
    /// orientation, or a dense one (rows) into a CSC result. Its entries go through
    /// the transpose kernel.
    fn stored_other_way(&self, src: &Source) -> bool {
        match src.storage {
            Storage::Sparse { csr, .. } => csr != self.out_csr(),
            Storage::Dense => !self.out_csr(),
        }
    }

    fn part_stores<'a>(&self, ctx: &'a Ctx<'_>, part: &Part) -> &'a dyn StoreReader {
        ctx.inputs[part.input]
    }

    // ------------------------------------------------------------------ dense

    fn write_dense(&self, ctx: &Ctx<'_>) -> Result<()> {
        let [rows, cols] = self.shape;
        let spec = ctx.layout.spec(&self.shape, self.dtype);
        ctx.out.create_array(
            &self.node,
            &spec,
            &crate::value::array_attrs(self.dtype, false),
        )?;
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let block_rows = ctx.layout.block_rows(&spec, ctx.block_bytes / 2);
        let inverses: Vec<Option<Vec<Option<u64>>>> = self
            .parts
            .iter()
            .map(|p| (self.axis == 1 && p.source.is_some()).then(|| p.alt.new_to_old()))
            .collect();
        // The output column of each input column, once per matrix.
        let col_maps: Vec<Vec<u64>> = self
            .parts
            .iter()
            .map(|p| match &p.source {
                Some(_) if self.axis == 0 => table_of(&p.alt),
                Some(src) => (p.offset..p.offset + src.shape[1]).collect(),
                None => Vec::new(),
            })
            .collect();
        let chunk_rows = self
            .parts
            .iter()
            .map(|p| match &p.source {
                Some(src) if self.axis == 1 => {
                    let info = self.part_stores(ctx, p).array_info(&src.node)?;
                    Ok(info.chunks.and_then(|c| c.first().copied()).unwrap_or(1))
                }
                _ => Ok(1),
            })
            .collect::<Result<Vec<u64>>>()?;
        crate::concat::pipeline::run_staged(
            crate::concat::pipeline::ranges(rows, block_rows),
            self.overlap_assembly(ctx),
            |r0, r1| {
                timing::time(&ctx.phases.reading, || {
                    self.dense_read(ctx, r0, r1, &inverses, &chunk_rows)
                })
            },
            |r0, r1, read| {
                timing::time(&ctx.phases.assembling, || {
                    self.dense_block(ctx, r0, r1, read, &col_maps)
                })
            },
            |r0, r1, block| {
                let _writing = Timer::start(&ctx.phases.writing);
                ctx.out
                    .write(&self.node, &[r0, 0], &[r1 - r0, cols], &block)?;
                ctx.progress
                    .add((r1 - r0) * cols * self.dtype.size() as u64);
                Ok(())
            },
        )
    }

    /// What every input holds of output rows `r0..r1` of a dense result, as read.
    fn dense_read(
        &self,
        ctx: &Ctx<'_>,
        r0: u64,
        r1: u64,
        inverses: &[Option<Vec<Option<u64>>>],
        chunk_rows: &[u64],
    ) -> Result<DenseRead> {
        let mut read = DenseRead::default();
        for (((i, part), inv), &chunk) in
            self.parts.iter().enumerate().zip(inverses).zip(chunk_rows)
        {
            let Some(src) = &part.source else { continue };
            let store = self.part_stores(ctx, part);
            let width = src.shape[1];
            if self.axis == 0 {
                let (a, b) = (r0.max(part.offset), r1.min(part.offset + part.len));
                if a >= b {
                    continue;
                }
                let data = store.read(&src.node, &[a - part.offset, 0], &[b - a, width])?;
                read.cuts.push(Cut {
                    read: read.blocks.len(),
                    first: 0,
                    rows: (b - a) as usize,
                    row_offset: (a - r0) as usize,
                    part: i,
                });
                read.blocks.push(cast(data, self.dtype));
            } else {
                let inv = inv.as_ref().expect("computed for present parts");
                let sel = Select::List(inv[r0 as usize..r1 as usize].to_vec());
                for span in spans(sel.runs(), chunk) {
                    let data = store.read(&src.node, &[span.start, 0], &[span.rows, width])?;
                    for (local, line, n) in span.runs {
                        read.cuts.push(Cut {
                            read: read.blocks.len(),
                            first: (line - span.start) as usize,
                            rows: n as usize,
                            row_offset: local,
                            part: i,
                        });
                    }
                    read.blocks.push(cast(data, self.dtype));
                }
            }
        }
        Ok(read)
    }

    /// Output rows `r0..r1` of a dense result, tiled from what [`Self::dense_read`] read.
    fn dense_block(
        &self,
        ctx: &Ctx<'_>,
        r0: u64,
        r1: u64,
        read: DenseRead,
        col_maps: &[Vec<u64>],
    ) -> Result<Data> {
        let cols = self.shape[1];
        let word = self.dtype.size();
        let DenseRead { mut blocks, cuts } = read;
        // A block that one input fills in full, columns in order, is that input's block:
        // no index work, no copy (the common case of inputs sharing their variables).
        if let [cut] = cuts.as_slice() {
            let col_map = &col_maps[cut.part];
            let identity = col_map.len() as u64 == cols
                && col_map.iter().enumerate().all(|(i, &c)| c == i as u64);
            if identity
                && cut.rows as u64 == r1 - r0
                && blocks[cut.read].len() == cut.rows * cols as usize
            {
                return Ok(blocks.swap_remove(cut.read));
            }
        }
        let bytes: Vec<std::borrow::Cow<'_, [u8]>> = blocks.iter().map(bytes_of).collect();
        let tiles = cuts
            .iter()
            .map(|c| {
                let col_map = col_maps[c.part].as_slice();
                let row_bytes = col_map.len() * word;
                let data = bytes[c.read]
                    .get(c.first * row_bytes..(c.first + c.rows) * row_bytes)
                    .ok_or_else(|| Error::Output {
                        path: ctx.out.path().to_path_buf(),
                        reason: format!("{}: an input returned a short block", self.node),
                    })?;
                Ok(DensePiece {
                    data,
                    rows: c.rows,
                    cols: col_map.len(),
                    row_offset: c.row_offset,
                    col_map,
                })
            })
            .collect::<Result<Vec<DensePiece<'_>>>>()?;
        let fill = pattern_of(&filled(self.dtype, 1, self.fill));
        let (rows, cols) = ((r1 - r0) as usize, cols as usize);
        // Numeric blocks are tiled straight into their typed vector.
        let tile = |out: &mut [u8]| {
            ctx.kernels
                .tile_dense_into(out, rows, cols, word, fill, &tiles)
        };
        // SAFETY: tile_dense_into sets every byte of the block, fill or piece, and reads
        // none of it (the kernel suite checks this on every backend).
        if let Some(block) = self.k(ctx, || unsafe {
            written_words(self.dtype, rows * cols, tile).transpose()
        })? {
            return Ok(block);
        }
        let out = self.k(ctx, || {
            ctx.kernels.tile_dense(rows, cols, word, fill, &tiles)
        })?;
        Ok(data_of(self.dtype, &out))
    }

    // ----------------------------------------------------------------- sparse

    fn out_csr(&self) -> bool {
        self.kind == OutKind::Csr
    }

    fn write_sparse(&self, ctx: &Ctx<'_>) -> Result<()> {
        let major_axis = self.major_axis();
        let major = self.shape[major_axis];
        let minor = self.shape[1 - major_axis];
        let wide = ctx.wide_indices
            || self.nnz_bound > i32::MAX as u64
            || minor > i32::MAX as u64
            || major > i32::MAX as u64;
        let index_dtype = if wide { DType::I64 } else { DType::I32 };
        let mut attrs = Attrs::new();
        let name = if self.out_csr() {
            "csr_matrix"
        } else {
            "csc_matrix"
        };
        attrs.insert("encoding-type".into(), json!(name));
        attrs.insert("encoding-version".into(), json!("0.1.0"));
        attrs.insert("shape".into(), json!(self.shape));
        ctx.out.create_group(&self.node, &attrs)?;
        let (data_node, indices_node, indptr_node) = (
            join(&self.node, "data"),
            join(&self.node, "indices"),
            join(&self.node, "indptr"),
        );
        let data_spec = ctx.layout.spec(&[self.nnz_bound], self.dtype);
        let indices_spec = ctx.layout.spec(&[self.nnz_bound], index_dtype);
        let indptr_spec = ctx.layout.spec(&[major + 1], index_dtype);
        ctx.out
            .create_array(&data_node, &data_spec, &Attrs::new())?;
        ctx.out
            .create_array(&indices_node, &indices_spec, &Attrs::new())?;
        ctx.out
            .create_array(&indptr_node, &indptr_spec, &Attrs::new())?;
        let mut data_out = Appender::new(ctx.out, &data_node, &data_spec);
        let mut indices_out = Appender::new(ctx.out, &indices_node, &indices_spec);
        let mut indptr_out = Appender::new(ctx.out, &indptr_node, &indptr_spec);
        indptr_out.push(cast(Data::U64(vec![0]), index_dtype))?;

        let along_major = self.axis == major_axis;
        let entry_bytes = (self.dtype.size() + index_dtype.size()) as u64;
        let avg = (self.nnz_bound / major.max(1)).max(1);
        let lines_per_block = ((ctx.block_bytes / 4) / (avg * entry_bytes)).clamp(1, 1 << 20);
        let inverses: Vec<Option<Vec<Option<u64>>>> = self
            .parts
            .iter()
            .map(|p| (!along_major).then(|| p.alt.new_to_old()))
            .collect();
        let tables: Vec<Vec<u64>> = self.parts.iter().map(|p| table_of(&p.alt)).collect();
        let mut nnz = 0u64;
        let assembled = AtomicU64::new(0);
        let ranges = crate::concat::pipeline::ranges(major, lines_per_block);
        let spills = timing::time(&ctx.phases.reading, || {
            self.spill_transposed(ctx, &ranges, along_major, &inverses)
        })?;
        let block_of = |m0: u64| ranges.partition_point(|r| r.0 < m0);
        crate::concat::pipeline::run_staged(
            ranges.clone(),
            self.overlap_assembly(ctx),
            |m0, m1| {
                timing::time(&ctx.phases.reading, || {
                    let block = (block_of(m0), m0, m1);
                    self.sparse_read(ctx, block, along_major, &inverses, &spills)
                })
            },
            |m0, m1, read| {
                timing::time(&ctx.phases.assembling, || {
                    let block = if along_major {
                        self.block_along_major(ctx, read, minor, &tables)
                    } else {
                        self.block_along_minor(ctx, m0, m1, read, &inverses)
                    }?;
                    // Blocks are assembled one at a time and in order, so the entries
                    // before this block are known here. Offsetting its line ends here
                    // rather than in the write stage keeps the writer off the device,
                    // where it would wait behind the next block's kernels.
                    let base = assembled.fetch_add(block.indices.len() as u64, Relaxed);
                    let ends = self.k(ctx, || ctx.kernels.add_offset(&block.indptr[1..], base))?;
                    Ok((ends, block))
                })
            },
            |_, _, (ends, block)| {
                let _writing = Timer::start(&ctx.phases.writing);
                nnz += block.indices.len() as u64;
                if nnz > self.nnz_bound {
                    return Err(Error::Output {
                        path: ctx.out.path().to_path_buf(),
                        reason: format!(
                            "{}: more stored entries than planned ({})",
                            self.node, self.nnz_bound
                        ),
                    });
                }
                ctx.progress.add(block.indices.len() as u64 * entry_bytes);
                indptr_out.push(cast(Data::U64(ends), index_dtype))?;
                indices_out.push(cast(Data::U64(block.indices), index_dtype))?;
                data_out.push(block.data)?;
                Ok(())
            },
        )?;
        indptr_out.finish()?;
        let written = indices_out.finish()?;
        data_out.finish()?;
        if written != self.nnz_bound {
            ctx.out.resize(&data_node, &[written])?;
            ctx.out.resize(&indices_node, &[written])?;
        }
        Ok(())
    }

    /// Which lines of `part` output lines `m0..m1` take, and how many output lines that
    /// is; `None` when inputs follow each other along them and this one lies elsewhere.
    fn select(
        &self,
        part: &Part,
        inv: &Option<Vec<Option<u64>>>,
        m0: u64,
        m1: u64,
        along_major: bool,
    ) -> Option<(Select, usize)> {
        if along_major {
            let (a, b) = (m0.max(part.offset), m1.min(part.offset + part.len));
            (a < b).then(|| {
                (
                    Select::Range(a - part.offset, b - part.offset),
                    (b - a) as usize,
                )
            })
        } else {
            let inv = inv.as_ref().expect("computed when inputs sit side by side");
            Some((
                Select::List(inv[m0 as usize..m1 as usize].to_vec()),
                (m1 - m0) as usize,
            ))
        }
    }

    /// The output line of `part`'s first local line in the block starting at `m0`.
    fn line_base(&self, part: &Part, m0: u64, along_major: bool) -> u64 {
        if along_major {
            m0.max(part.offset)
        } else {
            m0
        }
    }

    /// What every input holds of output lines `m0..m1` (block `block`), as read: the
    /// inputs that reach into them when they follow each other along them, every input
    /// when they sit side by side across them.
    fn sparse_read(
        &self,
        ctx: &Ctx<'_>,
        (block, m0, m1): (usize, u64, u64),
        along_major: bool,
        inverses: &[Option<Vec<Option<u64>>>],
        spills: &[Option<Spill>],
    ) -> Result<Vec<ReadPart>> {
        let mut out = Vec::with_capacity(self.parts.len());
        for (i, (part, inv)) in self.parts.iter().zip(inverses).enumerate() {
            let Some((sel, n)) = self.select(part, inv, m0, m1, along_major) else {
                continue;
            };
            let lines = match (&part.source, &spills[i]) {
                (Some(_), Some(spill)) => {
                    let base = self.line_base(part, m0, along_major);
                    let e = spill.block(block, m0, m1, base)?;
                    Some(Fetched::Transposing {
                        n,
                        lines: e.lines,
                        majors: e.majors,
                        values: e.values,
                    })
                }
                (Some(src), None) => Some(self.fetch(ctx, part, src, &sel)?),
                (None, _) => None,
            };
            out.push(ReadPart { part: i, n, lines });
        }
        Ok(out)
    }

    /// Distributes the entries of every input stored the other way round that more than
    /// one block reads into scratch space by block, in one pass over that input.
    fn spill_transposed(
        &self,
        ctx: &Ctx<'_>,
        ranges: &[(u64, u64)],
        along_major: bool,
        inverses: &[Option<Vec<Option<u64>>>],
    ) -> Result<Vec<Option<Spill>>> {
        let out_csr = self.out_csr();
        let dir = scratch_dir(ctx.out.path());
        let mut spills = Vec::with_capacity(self.parts.len());
        for (part, inv) in self.parts.iter().zip(inverses) {
            // Every block would otherwise decode all of such an input again (a dense
            // one into a CSC result is read in stripes of rows).
            let Some(src) = part
                .source
                .as_ref()
                .filter(|src| self.stored_other_way(src))
            else {
                spills.push(None);
                continue;
            };
            let src_minor = if out_csr { src.shape[0] } else { src.shape[1] };
            // (block, its lines of this input, the output line of the first)
            let blocks: Vec<(usize, Select, u64)> = ranges
                .iter()
                .enumerate()
                .filter_map(|(b, &(m0, m1))| {
                    let (sel, _) = self.select(part, inv, m0, m1, along_major)?;
                    Some((b, sel, self.line_base(part, m0, along_major)))
                })
                .collect();
            if blocks.len() < 2 {
                spills.push(None);
                continue;
            }
            let mut w = SpillWriter::create(dir, ranges.len(), self.dtype, ctx.block_bytes / 4)?;
            // owner[input position along the output's major axis] = (bucket, output line).
            let mut owner: Vec<Option<(u32, u64)>> = vec![None; src_minor as usize];
            for (b, sel, base) in blocks {
                for (l, m) in sel.positions() {
                    owner[m as usize] = Some((w.bucket(b) as u32, base + l as u64));
                }
            }
            let store = self.part_stores(ctx, part);
            let size = self.dtype.size();
            let distribute = |piece: &Piece<'_>| {
                let bytes = bytes_of(&piece.data);
                for (j, k, m) in piece.entries() {
                    if let Some((bucket, line)) = owner[m as usize] {
                        w.push(bucket as usize, line, j, &bytes[k * size..(k + 1) * size])?;
                    }
                }
                Ok(())
            };
            scan_other_way(store, src, self.dtype, ctx.block_bytes, distribute)?;
            let spill = w.finish()?;
            ctx.phases
                .scratch_bytes
                .fetch_add(spill.bytes(), std::sync::atomic::Ordering::Relaxed);
            spills.push(Some(spill));
        }
        Ok(spills)
    }

    /// Output lines of one block when inputs follow each other along them.
    fn block_along_major(
        &self,
        ctx: &Ctx<'_>,
        read: Vec<ReadPart>,
        minor: u64,
        tables: &[Vec<u64>],
    ) -> Result<Lines> {
        let mut out = Vec::with_capacity(read.len());
        for ReadPart { part: i, n, lines } in read {
            let part = &self.parts[i];
            let mut lines = match lines {
                Some(fetched) => {
                    let raw = self.lines_of(ctx, fetched)?;
                    self.k(ctx, || remap(ctx.kernels, raw, &part.alt, &tables[i]))?
                }
                None => Lines::empty(n, self.dtype),
            };
            if self.fill != 0.0 {
                let missing: Vec<u64> = match &part.source {
                    Some(_) => {
                        let inv = part.alt.new_to_old();
                        (0..minor).filter(|&j| inv[j as usize].is_none()).collect()
                    }
                    None => (0..minor).collect(),
                };
                lines = add_fill(lines, &missing, self.fill, self.dtype);
            }
            out.push(lines);
        }
        Ok(concat_lines(out, self.dtype))
    }

    /// Output lines `m0..m1` when inputs sit side by side across them.
    fn block_along_minor(
        &self,
        ctx: &Ctx<'_>,
        m0: u64,
        m1: u64,
        read: Vec<ReadPart>,
        inverses: &[Option<Vec<Option<u64>>>],
    ) -> Result<Lines> {
        let n = (m1 - m0) as usize;
        let mut pieces = Vec::with_capacity(read.len());
        let mut offsets = Vec::with_capacity(read.len());
        for ReadPart { part: i, lines, .. } in read {
            let part = &self.parts[i];
            let mut lines = match lines {
                Some(fetched) => self.lines_of(ctx, fetched)?,
                None => Lines::empty(n, self.dtype),
            };
            // Indices stay the input's own until the interleave shifts them to where
            // the input starts.
            offsets.push(part.offset);
            if self.fill != 0.0 {
                let inv = inverses[i]
                    .as_ref()
                    .expect("computed when inputs sit side by side");
                let all: Vec<u64> = (0..part.len).collect();
                let mut filled_lines = Vec::with_capacity(n);
                for (l, w) in inv[m0 as usize..m1 as usize].iter().enumerate() {
                    let one = slice_lines(&lines, l, l + 1);
                    let one = if w.is_none() || part.source.is_none() {
                        add_fill(one, &all, self.fill, self.dtype)
                    } else {
                        one
                    };
                    filled_lines.push(one);
                }
                lines = concat_lines(filled_lines, self.dtype);
            }
            pieces.push(lines);
        }
        // Line by line, inputs in order: their minor ranges are disjoint and increasing.
        self.k(ctx, || {
            interleave(ctx.kernels, pieces, &offsets, n, self.dtype)
        })
    }

    /// Reads the selected lines of one input in the output's orientation, with the
    /// input's own minor positions and the output dtype.
    fn fetch(&self, ctx: &Ctx<'_>, part: &Part, src: &Source, sel: &Select) -> Result<Fetched> {
        let store = self.part_stores(ctx, part);
        let out_csr = self.out_csr();
        if self.stored_other_way(src) {
            return fetch_transposed(store, src, out_csr, sel, self.dtype, ctx.block_bytes);
        }
        Ok(Fetched::Lines(match src.storage {
            Storage::Sparse { .. } => fetch_same(store, src, sel, self.dtype)?,
            Storage::Dense => fetch_dense_rows(store, src, sel, self.dtype)?,
        }))
    }

    /// Lines from what [`Self::fetch`] read: entries of the other orientation are
    /// grouped into lines by the transpose kernel.
    fn lines_of(&self, ctx: &Ctx<'_>, fetched: Fetched) -> Result<Lines> {
        match fetched {
            Fetched::Lines(lines) => Ok(lines),
            Fetched::Transposing {
                n,
                lines,
                majors,
                values,
            } => self.k(ctx, || {
                with_values(&values, lines.len(), |bytes, word, out| {
                    ctx.kernels
                        .transpose_values(&lines, &majors, n, bytes, word, out)
                })
            }),
        }
    }
}

/// What an input holds of some output lines, as read.
enum Fetched {
    /// Already in the output's orientation.
    Lines(Lines),
    /// Entries of the other orientation, in input order, to be grouped into `n` lines:
    /// each one's output line, its position in that line's orientation, and values.
    Transposing {
        n: usize,
        lines: Vec<u64>,
        majors: Vec<u64>,
        values: Data,
    },
}

/// The lines of `parts` one after another, every array allocated once at its full size.
fn concat_lines(parts: Vec<Lines>, dtype: DType) -> Lines {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    let lines: usize = parts.iter().map(|p| p.indptr.len().saturating_sub(1)).sum();
    let entries: usize = parts.iter().map(|p| p.indices.len()).sum();
    let mut indptr = Vec::with_capacity(lines + 1);
    let mut indices = Vec::with_capacity(entries);
    let mut data = Vec::with_capacity(parts.len());
    indptr.push(0);
    for p in parts {
        let base = indices.len() as u64;
        indptr.extend(p.indptr.iter().skip(1).map(|e| e + base));
        indices.extend_from_slice(&p.indices);
        data.push(p.data);
    }
    Lines {
        indptr,
        indices,
        data: crate::concat::blocks::concat(dtype, data),
    }
}

fn slice_lines(l: &Lines, a: usize, b: usize) -> Lines {
    let (p0, p1) = (l.indptr[a] as usize, l.indptr[b] as usize);
    let idx: Vec<usize> = (p0..p1).collect();
    Lines {
        indptr: l.indptr[a..=b].iter().map(|p| p - p0 as u64).collect(),
        indices: l.indices[p0..p1].to_vec(),
        data: gather(&l.data, &idx),
    }
}

/// Moves minor positions through `alt` (as the kernel `table`), dropping unmapped
/// entries and restoring ascending order within each line when the mapping reorders.
fn remap(
    k: &dyn Kernels,
    lines: Lines,
    alt: &Reindex,
    table: &[u64],
) -> std::result::Result<Lines, KernelError> {
    if alt.identity {
        return Ok(lines);
    }
    let sort = !alt.monotone();
    with_values(&lines.data, lines.indices.len(), |values, word, out| {
        k.remap_values(
            &lines.indptr,
            &lines.indices,
            table,
            sort,
            values,
            word,
            out,
        )
    })
}

/// Lines from a kernel that moves `values` (one per entry, `n` entries) along with
/// the indices and sets the front of a typed block to the kept ones
/// ([`Kernels::remap_values`], [`Kernels::transpose_values`]).
fn with_values(
    values: &Data,
    n: usize,
    mut kernel: impl FnMut(
        &[u8],
        usize,
        &mut [u8],
    ) -> std::result::Result<(Vec<u64>, Vec<u64>), KernelError>,
) -> std::result::Result<Lines, KernelError> {
    let dtype = values.dtype();
    let word = dtype.size();
    let bytes = bytes_of(values);
    let mut moved = None;
    let mut write = |out: &mut [u8]| -> std::result::Result<usize, KernelError> {
        let (indptr, indices) = kernel(&bytes, word, out)?;
        let kept = indices.len();
        moved = Some((indptr, indices));
        Ok(kept)
    };
    // SAFETY: these kernels read none of `out` and set its first element for each
    // entry they keep, which is the count `write` returns (the kernel suite checks
    // this on every backend).
    let data = match unsafe { written_words_prefix(dtype, n, &mut write) } {
        Some(data) => data?,
        None => {
            let mut out = vec![0u8; n * word];
            let kept = write(&mut out)?;
            data_of(dtype, &out[..kept * word])
        }
    };
    let (indptr, indices) = moved.expect("the kernel returned");
    Ok(Lines {
        indptr,
        indices,
        data,
    })
}

/// Output line `l` is line `l` of every piece in turn, `offsets[i]` added to piece
/// `i`'s indices.
fn interleave(
    k: &dyn Kernels,
    pieces: Vec<Lines>,
    offsets: &[u64],
    n: usize,
    dtype: DType,
) -> std::result::Result<Lines, KernelError> {
    if pieces.is_empty() {
        return Ok(Lines::empty(n, dtype));
    }
    let ptrs: Vec<&[u64]> = pieces.iter().map(|p| p.indptr.as_slice()).collect();
    let total: usize = pieces.iter().map(|p| p.indices.len()).sum();
    let value_bytes: Vec<std::borrow::Cow<'_, [u8]>> =
        pieces.iter().map(|p| bytes_of(&p.data)).collect();
    let mut indices = vec![0u64; total];
    let mut data = zeroed_words(dtype, total);
    let mut bytes = Vec::new();
    let value_out = match data.as_mut().and_then(words_mut) {
        Some(words) => words,
        None => {
            bytes = vec![0u8; total * dtype.size()];
            bytes.as_mut_slice()
        }
    };
    // Indices and values move behind one interleaving.
    let indptr = k.interleave_values(
        &ptrs,
        &mut [
            ValueColumn {
                values: pieces
                    .iter()
                    .map(|p| bytemuck::cast_slice(p.indices.as_slice()))
                    .collect(),
                word: 8,
                out: bytemuck::cast_slice_mut(&mut indices),
                offsets,
            },
            ValueColumn::new(
                value_bytes.iter().map(|b| b.as_ref()).collect(),
                dtype.size(),
                value_out,
            ),
        ],
    )?;
    let data = match data {
        Some(block) => block,
        None => data_of(dtype, &bytes),
    };
    Ok(Lines {
        indptr,
        indices,
        data,
    })
}

/// Adds an explicit `fill` entry at each of `positions` (sorted) to every line.
fn add_fill(lines: Lines, positions: &[u64], fill: f64, dtype: DType) -> Lines {
    if positions.is_empty() {
        return lines;
    }
    let mut out = Vec::with_capacity(lines.n());
    let fill_block = filled(dtype, positions.len(), fill);
    for l in 0..lines.n() {
        let mut one = slice_lines(&lines, l, l + 1);
        one.indices.extend_from_slice(positions);
        extend(&mut one.data, fill_block.clone());
        let mut order: Vec<usize> = (0..one.indices.len()).collect();
        order.sort_by_key(|&i| one.indices[i]);
        let sorted = Lines {
            indptr: vec![0, order.len() as u64],
            indices: order.iter().map(|&i| one.indices[i]).collect(),
            data: gather(&one.data, &order),
        };
        out.push(sorted);
    }
    concat_lines(out, dtype)
}

/// Refuses a stored index at or past `minor`, naming the input and its indices array.
fn check_indices(store: &dyn StoreReader, node: &str, indices: &[u64], minor: u64) -> Result<()> {
    match indices.iter().find(|&&i| i >= minor) {
        Some(bad) => Err(Error::invalid(
            store.path(),
            node,
            "sparse index",
            format!("index {bad} out of range for {minor} positions"),
        )),
        None => Ok(()),
    }
}

fn fetch_same(store: &dyn StoreReader, src: &Source, sel: &Select, dtype: DType) -> Result<Lines> {
    let (data_node, indices_node, indptr_node) = (
        join(&src.node, "data"),
        join(&src.node, "indices"),
        join(&src.node, "indptr"),
    );
    let n = sel.len();
    let mut counts = vec![0u64; n];
    let mut placed: Vec<(usize, u64, u64)> = Vec::new();
    for (local, line, count) in sel.runs() {
        let ptr = read_index(store, &indptr_node, line, count + 1)?;
        let (p0, p1) = (ptr[0], ptr[count as usize]);
        if ptr.windows(2).any(|w| w[1] < w[0]) || p1 < p0 {
            return Err(Error::invalid(
                store.path(),
                &indptr_node,
                "sparse index",
                "indptr decreases",
            ));
        }
        for i in 0..count as usize {
            counts[local + i] = ptr[i + 1] - ptr[i];
        }
        placed.push((local, p0, p1));
    }
    // Runs come in local order, so entries join in the order they are read; a single
    // run (a range of lines) is used as read.
    let mut index_parts = Vec::with_capacity(placed.len());
    let mut data_parts = Vec::with_capacity(placed.len());
    for (_, p0, p1) in placed {
        if p1 > p0 {
            index_parts.push(read_index(store, &indices_node, p0, p1 - p0)?);
            data_parts.push(cast(store.read(&data_node, &[p0], &[p1 - p0])?, dtype));
        }
    }
    let indices = match index_parts.len() {
        1 => index_parts.pop().unwrap_or_default(),
        _ => index_parts.concat(),
    };
    let data = crate::concat::blocks::concat(dtype, data_parts);
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    for c in counts {
        indptr.push(indptr.last().copied().unwrap_or(0) + c);
    }
    let csr = matches!(src.storage, Storage::Sparse { csr: true, .. });
    let minor = if csr { src.shape[1] } else { src.shape[0] };
    check_indices(store, &indices_node, &indices, minor)?;
    Ok(Lines {
        indptr,
        indices,
        data,
    })
}

/// A run of an input's lines read in one piece, as [`scan_transposed`] hands it on.
struct Piece<'a> {
    j0: u64,
    j1: u64,
    ptr: &'a [u64],
    idx: Vec<u64>,
    data: Data,
}

impl Piece<'_> {
    /// Every entry as (its input line, its position in `idx` and `data`, its index).
    fn entries(&self) -> impl Iterator<Item = (u64, usize, u64)> + '_ {
        let p0 = self.ptr[self.j0 as usize];
        (self.j0..self.j1).flat_map(move |j| {
            let a = (self.ptr[j as usize] - p0) as usize;
            let b = (self.ptr[j as usize + 1] - p0) as usize;
            (a..b).map(move |k| (j, k, self.idx[k]))
        })
    }
}

/// One pass over an input stored the other way round, in pieces of a bounded number
/// of entries, each checked before `visit` sees it.
fn scan_transposed(
    store: &dyn StoreReader,
    src: &Source,
    src_csr: bool,
    dtype: DType,
    block_bytes: u64,
    mut visit: impl FnMut(&Piece<'_>) -> Result<()>,
) -> Result<()> {
    let (data_node, indices_node, indptr_node) = (
        join(&src.node, "data"),
        join(&src.node, "indices"),
        join(&src.node, "indptr"),
    );
    let src_major = if src_csr { src.shape[0] } else { src.shape[1] };
    let src_minor = if src_csr { src.shape[1] } else { src.shape[0] };
    let step = (block_bytes / 64).max(1024);
    let ptr = read_index(store, &indptr_node, 0, src_major + 1)?;
    if ptr.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::invalid(
            store.path(),
            &indptr_node,
            "sparse index",
            "indptr decreases",
        ));
    }
    let mut j0 = 0u64;
    while j0 < src_major {
        // A run of input lines holding at most `step` entries (at least one line).
        let mut j1 = j0 + 1;
        while j1 < src_major && ptr[j1 as usize + 1] - ptr[j0 as usize] <= step {
            j1 += 1;
        }
        let (p0, p1) = (ptr[j0 as usize], ptr[j1 as usize]);
        if p1 > p0 {
            let idx = read_index(store, &indices_node, p0, p1 - p0)?;
            check_indices(store, &indices_node, &idx, src_minor)?;
            let data = cast(store.read(&data_node, &[p0], &[p1 - p0])?, dtype);
            visit(&Piece {
                j0,
                j1,
                ptr: &ptr,
                idx,
                data,
            })?;
        }
        j0 = j1;
    }
    Ok(())
}

/// One pass over a dense input in stripes of whole rows, each stripe's non-zero
/// entries handed on as a [`Piece`] with rows as its lines, as a CSR input's would be.
fn scan_dense_rows(
    store: &dyn StoreReader,
    src: &Source,
    dtype: DType,
    block_bytes: u64,
    mut visit: impl FnMut(&Piece<'_>) -> Result<()>,
) -> Result<()> {
    let [rows, cols] = src.shape;
    let row_step = (block_bytes / 4 / (cols.max(1) * dtype.size() as u64)).max(1);
    let mut ptr = vec![0u64; rows as usize + 1];
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + row_step).min(rows);
        let d = cast(store.read(&src.node, &[r0, 0], &[r1 - r0, cols])?, dtype);
        let (ends, idx, data) = nonzero_by_row(&d, (r1 - r0) as usize, cols);
        let base = ptr[r0 as usize];
        for (r, end) in ends.into_iter().enumerate() {
            ptr[r0 as usize + r + 1] = base + end;
        }
        visit(&Piece {
            j0: r0,
            j1: r1,
            ptr: &ptr,
            idx,
            data,
        })?;
        r0 = r1;
    }
    Ok(())
}

/// One pass over an input stored the other way round from the result, in pieces of
/// its own lines: a sparse input's, or a dense input's rows.
fn scan_other_way(
    store: &dyn StoreReader,
    src: &Source,
    dtype: DType,
    block_bytes: u64,
    visit: impl FnMut(&Piece<'_>) -> Result<()>,
) -> Result<()> {
    match src.storage {
        Storage::Sparse { csr, .. } => scan_transposed(store, src, csr, dtype, block_bytes, visit),
        Storage::Dense => scan_dense_rows(store, src, dtype, block_bytes, visit),
    }
}

/// The non-zero entries of `rows` × `cols` row-major values: where each row's entries
/// end, their columns, and their values, row by row.
fn nonzero_by_row(d: &Data, rows: usize, cols: u64) -> (Vec<u64>, Vec<u64>, Data) {
    let nz = nonzero_flags(d);
    let width = cols as usize;
    let mut columns = Vec::with_capacity(nz.iter().filter(|&&x| x).count());
    let mut ends = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &nz[r * width..(r + 1) * width];
        columns.extend((0..cols).filter(|&c| row[c as usize]));
        ends.push(columns.len() as u64);
    }
    (ends, columns, compact(d, &nz))
}

/// Lines of the output orientation from an input stored the other way round: one pass
/// over the input in bounded pieces, keeping the entries of the selected lines.
fn fetch_transposed(
    store: &dyn StoreReader,
    src: &Source,
    out_csr: bool,
    sel: &Select,
    dtype: DType,
    block_bytes: u64,
) -> Result<Fetched> {
    // The input's extent along the result's lines.
    let src_minor = if out_csr { src.shape[0] } else { src.shape[1] };
    // wanted[input minor position] = local output line.
    let mut wanted: Vec<Option<usize>> = vec![None; src_minor as usize];
    for (l, m) in sel.positions() {
        wanted[m as usize] = Some(l);
    }
    // Each kept entry's output line and its input line (the output's minor position),
    // in input order; its value is at the same position in `vals`.
    let (mut lines, mut majors) = (Vec::new(), Vec::new());
    let mut vals = Data::with_capacity(dtype, 0);
    scan_other_way(store, src, dtype, block_bytes, |piece| {
        let mut keep = Vec::new();
        for (j, k, m) in piece.entries() {
            if let Some(l) = wanted[m as usize] {
                lines.push(l as u64);
                majors.push(j);
                keep.push(k);
            }
        }
        extend(&mut vals, gather(&piece.data, &keep));
        Ok(())
    })?;
    Ok(Fetched::Transposing {
        n: sel.len(),
        lines,
        majors,
        values: vals,
    })
}

/// Non-zero entries of a dense input's selected rows as the lines of a CSR result.
/// Runs come in local order, so entries are found in their final order: no grouping
/// by line.
fn fetch_dense_rows(
    store: &dyn StoreReader,
    src: &Source,
    sel: &Select,
    dtype: DType,
) -> Result<Lines> {
    let cols = src.shape[1];
    let n = sel.len();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut indices = Vec::new();
    let mut vals = Data::with_capacity(dtype, 0);
    for (local, line, count) in sel.runs() {
        // Lines of the block this input does not hold stay empty.
        indptr.resize(local + 1, indices.len() as u64);
        let d = cast(store.read(&src.node, &[line, 0], &[count, cols])?, dtype);
        let (ends, columns, data) = nonzero_by_row(&d, count as usize, cols);
        let base = indices.len() as u64;
        indptr.extend(ends.into_iter().map(|e| base + e));
        indices.extend(columns);
        extend(&mut vals, data);
    }
    indptr.resize(n + 1, indices.len() as u64);
    Ok(Lines {
        indptr,
        indices,
        data: vals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(spans: &[Span]) -> Vec<(u64, u64)> {
        spans.iter().map(|s| (s.start, s.rows)).collect()
    }

    #[test]
    fn spans_group_runs_of_one_chunk_in_input_order() {
        // Scattered single rows, as an outer join's name order gives: rows 3 and 1 of
        // chunk 0 (of 16 rows) share a read; row 40 (chunk 2) starts another.
        let runs = vec![(0, 3, 1), (1, 40, 1), (2, 1, 1)];
        let got = spans(runs, 16);
        assert_eq!(rows_of(&got), vec![(1, 3), (40, 1)]);
        assert_eq!(got[0].runs, vec![(2, 1, 1), (0, 3, 1)]);
    }

    #[test]
    fn spans_read_at_most_twice_the_rows_they_serve() {
        // Rows 0 and 15 of one chunk: reading 16 rows for 2 would waste 14.
        assert_eq!(
            rows_of(&spans(vec![(0, 0, 1), (1, 15, 1)], 16)),
            vec![(0, 1), (15, 1)]
        );
        // Rows 0..4 and 6..8: 2 rows wasted for 6 served.
        assert_eq!(
            rows_of(&spans(vec![(0, 0, 4), (4, 6, 2)], 16)),
            vec![(0, 8)]
        );
    }

    #[test]
    fn spans_join_adjacent_runs_across_chunks_and_keep_distant_ones_apart() {
        assert_eq!(
            rows_of(&spans(vec![(5, 16, 4), (0, 12, 4)], 16)),
            vec![(12, 8)]
        );
        assert_eq!(
            rows_of(&spans(vec![(0, 12, 2), (2, 17, 2)], 16)),
            vec![(12, 2), (17, 2)]
        );
        // Contiguous HDF5 datasets report no chunks (1 row): only adjacent runs join.
        assert_eq!(
            rows_of(&spans(vec![(0, 0, 1), (1, 2, 1), (2, 3, 1)], 1)),
            vec![(0, 1), (2, 2)]
        );
        assert!(spans(Vec::new(), 16).is_empty());
    }
}
