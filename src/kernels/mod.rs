//! Index and layout work of concatenation as data-parallel kernels, with a CPU
//! reference backend ([`CpuKernels`]) and a wgpu backend ([`GpuKernels`]).
//!
//! Kernels never compute on values: values move as 1-, 2-, 4- or 8-byte words by bit
//! pattern, so one kernel serves every dtype (and WGSL, which has no f64, can move
//! f64 data untouched). Positions and offsets are `u64` throughout.

mod cpu;
pub mod gpu;
mod line_sort;
#[cfg(test)]
mod tests;

pub use cpu::CpuKernels;
pub use gpu::{list_adapters, AdapterSummary, GpuContext, GpuKernels, Preference, TileLimits};

/// Table entry of [`Kernels::remap`] and column-map entry of [`DensePiece`] that drops
/// the position.
pub const DROPPED: u64 = u64::MAX;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("no GPU adapter found: {reason}")]
    NoAdapter { reason: String },
    #[error("GPU adapter {adapter}: device request failed: {reason}")]
    DeviceRequest { adapter: String, reason: String },
    #[error("GPU device lost: {reason}")]
    DeviceLost { reason: String },
    #[error("{kernel}: {what} needs {bytes} bytes in one binding, over the limit of {limit}")]
    TooLarge {
        kernel: &'static str,
        what: &'static str,
        bytes: u64,
        limit: u64,
    },
    #[error("{kernel}: {reason}")]
    BadArgument {
        kernel: &'static str,
        reason: String,
    },
    #[error("{kernel}: adding {base} overflows u64")]
    Overflow { kernel: &'static str, base: u64 },
    #[error("{kernel}: GPU error: {reason}")]
    Gpu {
        kernel: &'static str,
        reason: String,
    },
}

impl KernelError {
    pub(crate) fn bad(kernel: &'static str, reason: impl Into<String>) -> KernelError {
        KernelError::BadArgument {
            kernel,
            reason: reason.into(),
        }
    }
}

/// Result of [`Kernels::remap`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remapped {
    /// Starts at 0, one more entry than there are lines.
    pub indptr: Vec<u64>,
    pub indices: Vec<u64>,
    /// Source entry position of each output entry: feed it to [`Kernels::gather`] to
    /// move the values along.
    pub keep: Vec<u64>,
}

/// One input block of [`Kernels::tile_dense`].
#[derive(Clone, Copy, Debug)]
pub struct DensePiece<'a> {
    /// `rows * cols` row-major elements of the tile's word size.
    pub data: &'a [u8],
    pub rows: usize,
    pub cols: usize,
    /// Output row of the piece's first row.
    pub row_offset: usize,
    /// Output column of each piece column, or [`DROPPED`].
    pub col_map: &'a [u64],
}

/// Where a device backend's kernel time went, summed over calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DevicePhases {
    /// Creating input buffers and copying host data into them.
    pub seconds_upload: f64,
    /// From submitting the work until the device has finished it, kernels and the
    /// copies into readable buffers included.
    pub seconds_compute: f64,
    /// Copying results out of mapped buffers into host memory.
    pub seconds_readback: f64,
    /// Submissions the host waited on: each is a round trip to the device.
    #[serde(default)]
    pub round_trips: u64,
    /// Bytes copied into device buffers.
    #[serde(default)]
    pub bytes_uploaded: u64,
    /// Bytes copied back out of device buffers.
    #[serde(default)]
    pub bytes_read_back: u64,
}

/// The index and layout work of concatenation. Implementations must agree bit for bit.
pub trait Kernels: Send + Sync {
    /// Names the backend, e.g. `cpu` or `gpu: llvmpipe (Vulkan)`.
    fn name(&self) -> String;

    /// Time split of a device backend; `None` for the CPU, whose kernel time is all
    /// compute.
    fn device_phases(&self) -> Option<DevicePhases> {
        None
    }

    /// Whether calls wait on a device rather than keep this machine's cores busy: the
    /// block loop then gives the kernel calls a thread of their own, so decoding the
    /// next block and encoding the last go on while the device works.
    fn on_device(&self) -> bool {
        false
    }

    /// `out[i] = values[i] + base`; an error if any sum overflows.
    fn add_offset(&self, values: &[u64], base: u64) -> Result<Vec<u64>, KernelError>;

    /// Moves the minor positions of compressed lines through `table`, dropping entries
    /// whose position maps to [`DROPPED`]. `indptr` starts at 0 and ends at
    /// `indices.len()`; every index must be below `table.len()`. With `sort`, entries
    /// of each line are ordered by their new index (input indices are ascending and
    /// unique within a line, and the table is injective on kept positions).
    fn remap(
        &self,
        indptr: &[u64],
        indices: &[u64],
        table: &[u64],
        sort: bool,
    ) -> Result<Remapped, KernelError>;

    /// [`Kernels::remap`] with values moved along: `values` holds one `word`-byte
    /// element per entry, and the kept entries' values, in output order, go to the
    /// front of `out` (room for one element per entry). Returns the indptr and the
    /// indices; the indptr's last entry says how many elements of `out` were set. No
    /// byte of `out` is read and those past the kept ones are left as they were, so
    /// `out` need not be cleared first. A device backend keeps the source positions on
    /// the device instead of sending them back and forth between the two steps.
    #[allow(clippy::too_many_arguments)]
    fn remap_values(
        &self,
        indptr: &[u64],
        indices: &[u64],
        table: &[u64],
        sort: bool,
        values: &[u8],
        word: usize,
        out: &mut [u8],
    ) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        check_values("remap", indices.len(), values, word, out)?;
        let r = self.remap(indptr, indices, table, sort)?;
        self.gather_into(values, word, &r.keep, &mut out[..r.keep.len() * word])?;
        Ok((r.indptr, r.indices))
    }

    /// Groups entries into `n` output lines, keeping their order within each line:
    /// entry `k` goes to line `lines[k]` (below `n`, or [`DROPPED`] to leave it out)
    /// with index `majors[k]`. Returns the lines' indptr, the indices, and each output
    /// entry's position `k` in `keep`. Entries read line by line from compressed
    /// lines of the other orientation come out transposed.
    fn transpose(&self, lines: &[u64], majors: &[u64], n: usize) -> Result<Remapped, KernelError>;

    /// [`Kernels::transpose`] with values moved along, as [`Kernels::remap_values`]
    /// moves them: the kept entries' values, in output order, go to the front of `out`
    /// (room for one element per entry), none of it is read and the rest is left as
    /// it was. Returns the indptr and the indices.
    fn transpose_values(
        &self,
        lines: &[u64],
        majors: &[u64],
        n: usize,
        values: &[u8],
        word: usize,
        out: &mut [u8],
    ) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        check_values("transpose", lines.len(), values, word, out)?;
        let t = self.transpose(lines, majors, n)?;
        self.gather_into(values, word, &t.keep, &mut out[..t.keep.len() * word])?;
        Ok((t.indptr, t.indices))
    }

    /// `out[k] = src[idx[k]]` over elements of `word` bytes (1, 2, 4 or 8).
    fn gather(&self, src: &[u8], word: usize, idx: &[u64]) -> Result<Vec<u8>, KernelError> {
        let mut out = vec![0u8; idx.len() * word];
        self.gather_into(src, word, idx, &mut out)?;
        Ok(out)
    }

    /// [`Kernels::gather`] into a buffer the caller owns (of exactly `idx.len() * word`
    /// bytes), so the result can already be typed. On success every byte of `out` is
    /// set and none was read, so `out` need not be cleared first.
    fn gather_into(
        &self,
        src: &[u8],
        word: usize,
        idx: &[u64],
        out: &mut [u8],
    ) -> Result<(), KernelError>;

    /// Interleaves the lines of pieces that share `n` lines: output line `l` is line
    /// `l` of piece 0, then of piece 1, and so on. Returns the output indptr and, for
    /// each output entry, its position in the pieces' entries laid end to end.
    fn interleave(&self, pieces: &[&[u64]]) -> Result<(Vec<u64>, Vec<u64>), KernelError>;

    /// [`Kernels::interleave`] with value columns moved along, all behind one
    /// interleaving: each column receives its pieces' values in output order, as a
    /// gather through the interleave order would, with the column's per-piece offsets
    /// (if any) added. Returns the output indptr.
    fn interleave_values(
        &self,
        pieces: &[&[u64]],
        columns: &mut [ValueColumn<'_>],
    ) -> Result<Vec<u64>, KernelError>;

    /// An `out_rows` x `out_cols` row-major block of `word`-byte elements, first all
    /// `fill` (its low `word` bytes, little-endian), then each piece written over it in
    /// order: piece row `r`, column `j` lands at row `row_offset + r`, column
    /// `col_map[j]` (skipped when [`DROPPED`]).
    fn tile_dense(
        &self,
        out_rows: usize,
        out_cols: usize,
        word: usize,
        fill: u64,
        pieces: &[DensePiece<'_>],
    ) -> Result<Vec<u8>, KernelError> {
        let mut out = vec![0u8; out_rows * out_cols * word];
        self.tile_dense_into(&mut out, out_rows, out_cols, word, fill, pieces)?;
        Ok(out)
    }

    /// [`Kernels::tile_dense`] into a buffer the caller owns (of exactly
    /// `out_rows * out_cols * word` bytes), so the block can already be typed. On
    /// success every byte of `out` is set (fill or piece) and none was read, so `out`
    /// need not be cleared first.
    fn tile_dense_into(
        &self,
        out: &mut [u8],
        out_rows: usize,
        out_cols: usize,
        word: usize,
        fill: u64,
        pieces: &[DensePiece<'_>],
    ) -> Result<(), KernelError>;
}

/// One past the largest position a [`Kernels::remap`] table maps to (0 when it drops
/// everything): the width of the remapped lines, which decides how backends sort them.
pub(crate) fn kept_width(table: &[u64]) -> u64 {
    table
        .iter()
        .filter(|&&t| t != DROPPED)
        .max()
        .map_or(0, |&t| t.saturating_add(1))
}

/// The output buffer of `tile_dense_into` holds exactly the block.
pub(crate) fn check_dense_out(
    out: &[u8],
    rows: usize,
    cols: usize,
    word: usize,
) -> Result<(), KernelError> {
    if out.len() != rows * cols * word {
        return Err(KernelError::bad(
            "tile_dense",
            format!(
                "output buffer of {} bytes for {rows} x {cols} words of {word}",
                out.len()
            ),
        ));
    }
    Ok(())
}

/// One value column of [`Kernels::interleave_values`]: `values[i]` holds piece `i`'s
/// entries as `word`-byte elements (1, 2, 4 or 8), and `out`, one element per entry
/// of all pieces, receives them in output order.
pub struct ValueColumn<'a> {
    pub values: Vec<&'a [u8]>,
    pub word: usize,
    pub out: &'a mut [u8],
    /// Empty, or one number per piece added to each of its elements on the way, which
    /// are then unsigned 64-bit (`word` 8): inputs side by side shift their minor
    /// indices by where they start, in the same pass as the interleave.
    pub offsets: &'a [u64],
}

impl<'a> ValueColumn<'a> {
    /// A column moved as it is.
    pub fn new(values: Vec<&'a [u8]>, word: usize, out: &'a mut [u8]) -> ValueColumn<'a> {
        ValueColumn {
            values,
            word,
            out,
            offsets: &[],
        }
    }
}

/// The indptr of interleaved pieces: line `l` holds the entries of line `l` of each.
pub(crate) fn summed_indptr(pieces: &[&[u64]], lines: usize) -> Vec<u64> {
    (0..=lines)
        .map(|l| pieces.iter().map(|p| p[l]).sum())
        .collect()
}

/// Values of [`Kernels::interleave_values`]: one element per entry of each piece, and
/// an output of their total.
pub(crate) fn check_interleave_values(
    pieces: &[&[u64]],
    columns: &[ValueColumn<'_>],
) -> Result<(), KernelError> {
    const K: &str = "interleave";
    let lines = check_pieces(pieces)?;
    let total: usize = pieces.iter().map(|p| p[lines] as usize).sum();
    for (c, column) in columns.iter().enumerate() {
        let word = column.word;
        check_word(K, word)?;
        if column.values.len() != pieces.len() {
            return Err(KernelError::bad(
                K,
                format!(
                    "column {c}: {} value arrays for {} pieces",
                    column.values.len(),
                    pieces.len()
                ),
            ));
        }
        if !column.offsets.is_empty() && (column.offsets.len() != pieces.len() || word != 8) {
            return Err(KernelError::bad(
                K,
                format!(
                    "column {c}: {} offsets for {} pieces of {word}-byte elements",
                    column.offsets.len(),
                    pieces.len()
                ),
            ));
        }
        for (i, (p, v)) in pieces.iter().zip(&column.values).enumerate() {
            let entries = p[lines] as usize;
            if v.len() != entries * word {
                return Err(KernelError::bad(
                    K,
                    format!(
                        "column {c}, piece {i}: {} value bytes for {entries} entries",
                        v.len()
                    ),
                ));
            }
        }
        if column.out.len() != total * word {
            return Err(KernelError::bad(
                K,
                format!(
                    "column {c}: output buffer of {} bytes for {total} entries",
                    column.out.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks shared by every backend: the word size, whole source words, and an output
/// of exactly one word per index.
pub(crate) fn check_gather(
    src: &[u8],
    word: usize,
    idx: &[u64],
    out: &[u8],
) -> Result<(), KernelError> {
    check_word("gather", word)?;
    if !src.len().is_multiple_of(word) {
        return Err(KernelError::bad(
            "gather",
            format!("{} source bytes are not whole {word}-byte words", src.len()),
        ));
    }
    if out.len() != idx.len() * word {
        return Err(KernelError::bad(
            "gather",
            format!(
                "output buffer of {} bytes for {} words of {word}",
                out.len(),
                idx.len()
            ),
        ));
    }
    Ok(())
}

/// Values of [`Kernels::remap_values`] and [`Kernels::transpose_values`]: one element
/// per entry, and room for as many.
pub(crate) fn check_values(
    kernel: &'static str,
    entries: usize,
    values: &[u8],
    word: usize,
    out: &[u8],
) -> Result<(), KernelError> {
    check_word(kernel, word)?;
    for (what, len) in [("values", values.len()), ("output buffer", out.len())] {
        if len != entries * word {
            return Err(KernelError::bad(
                kernel,
                format!("{what} of {len} bytes for {entries} entries of {word}"),
            ));
        }
    }
    Ok(())
}

/// Checks of [`Kernels::transpose`]'s arguments; returns how many entries are kept.
pub(crate) fn check_transpose(lines: &[u64], majors: &[u64], n: usize) -> Result<u64, KernelError> {
    if lines.len() != majors.len() {
        return Err(KernelError::bad(
            "transpose",
            format!("{} lines for {} indices", lines.len(), majors.len()),
        ));
    }
    let mut kept = 0u64;
    for &l in lines {
        if l == DROPPED {
            continue;
        }
        if l >= n as u64 {
            return Err(KernelError::bad("transpose", format!("line {l} of {n}")));
        }
        kept += 1;
    }
    Ok(kept)
}

/// Checks shared by every backend, so both reject the same inputs with the same error.
pub(crate) fn check_indptr(
    kernel: &'static str,
    indptr: &[u64],
    nnz: usize,
) -> Result<(), KernelError> {
    let Some((&first, rest)) = indptr.split_first() else {
        return Err(KernelError::bad(kernel, "indptr is empty"));
    };
    if first != 0 {
        return Err(KernelError::bad(
            kernel,
            format!("indptr starts at {first}"),
        ));
    }
    let mut prev = first;
    for &p in rest {
        if p < prev {
            return Err(KernelError::bad(kernel, "indptr decreases"));
        }
        prev = p;
    }
    if prev != nnz as u64 {
        return Err(KernelError::bad(
            kernel,
            format!("indptr ends at {prev}, but there are {nnz} entries"),
        ));
    }
    Ok(())
}

pub(crate) fn check_word(kernel: &'static str, word: usize) -> Result<(), KernelError> {
    if matches!(word, 1 | 2 | 4 | 8) {
        Ok(())
    } else {
        Err(KernelError::bad(
            kernel,
            format!("word size {word}, expected 1, 2, 4 or 8"),
        ))
    }
}

pub(crate) fn check_pieces(pieces: &[&[u64]]) -> Result<usize, KernelError> {
    let Some(first) = pieces.first() else {
        return Err(KernelError::bad("interleave", "no pieces"));
    };
    let lines = first.len().saturating_sub(1);
    for p in pieces {
        if p.len() != lines + 1 {
            return Err(KernelError::bad(
                "interleave",
                format!(
                    "pieces have {} and {} lines",
                    lines,
                    p.len().saturating_sub(1)
                ),
            ));
        }
        check_indptr("interleave", p, *p.last().unwrap_or(&0) as usize)?;
    }
    Ok(lines)
}

pub(crate) fn check_dense(
    out_rows: usize,
    out_cols: usize,
    word: usize,
    pieces: &[DensePiece<'_>],
) -> Result<(), KernelError> {
    const K: &str = "tile_dense";
    check_word(K, word)?;
    out_rows
        .checked_mul(out_cols)
        .and_then(|n| n.checked_mul(word))
        .ok_or_else(|| KernelError::bad(K, "output size overflows"))?;
    for (i, p) in pieces.iter().enumerate() {
        if p.rows.checked_mul(p.cols).and_then(|n| n.checked_mul(word)) != Some(p.data.len()) {
            return Err(KernelError::bad(
                K,
                format!(
                    "piece {i}: {} bytes for {} x {} words of {word} bytes",
                    p.data.len(),
                    p.rows,
                    p.cols
                ),
            ));
        }
        if p.col_map.len() != p.cols {
            return Err(KernelError::bad(
                K,
                format!(
                    "piece {i}: {} column targets for {} columns",
                    p.col_map.len(),
                    p.cols
                ),
            ));
        }
        if p.row_offset
            .checked_add(p.rows)
            .is_none_or(|end| end > out_rows)
        {
            return Err(KernelError::bad(
                K,
                format!(
                    "piece {i}: rows {}..{}+{} outside the {out_rows} output rows",
                    p.row_offset, p.row_offset, p.rows
                ),
            ));
        }
        if let Some(c) = p
            .col_map
            .iter()
            .find(|&&c| c != DROPPED && c >= out_cols as u64)
        {
            return Err(KernelError::bad(
                K,
                format!("piece {i}: column target {c} outside the {out_cols} output columns"),
            ));
        }
    }
    Ok(())
}
