//! The reference backend: plain loops, parallel with rayon where the work is large
//! enough to pay for the split.

use rayon::prelude::*;

use super::{
    check_dense, check_dense_out, check_gather, check_indptr, check_interleave_values,
    check_pieces, summed_indptr, DensePiece, KernelError, Kernels, Remapped, ValueColumn, DROPPED,
};

/// Below this many elements a rayon split costs more than it saves.
const MIN_SPLIT: usize = 1 << 15;

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuKernels;

/// A value column's pieces, word size, per-piece offsets (maybe none), and the part
/// of its output one worker fills.
type ColumnPart<'a> = (&'a [&'a [u8]], usize, &'a [u64], &'a mut [u8]);

/// Consecutive lines holding about `target` entries each (a longer line stays whole).
fn line_chunks(indptr: &[u64], target: u64) -> Vec<(usize, usize)> {
    let n = indptr.len() - 1;
    let mut chunks = Vec::new();
    let mut a = 0;
    while a < n {
        let limit = indptr[a] + target;
        let mut b = a + indptr[a + 1..].partition_point(|&p| p <= limit);
        b = b.clamp(a + 1, n.min(a + MIN_SPLIT));
        chunks.push((a, b));
        a = b;
    }
    chunks
}

fn gather_words<const W: usize>(
    src: &[u8],
    idx: &[u64],
    out: &mut [u8],
) -> Result<(), KernelError> {
    let n = (src.len() / W) as u64;
    out.par_chunks_mut(W * MIN_SPLIT)
        .zip(idx.par_chunks(MIN_SPLIT))
        .try_for_each(|(out, idx)| {
            for (dst, &i) in out.chunks_exact_mut(W).zip(idx) {
                if i >= n {
                    return Err(KernelError::bad(
                        "gather",
                        format!("index {i} outside the {n} source elements"),
                    ));
                }
                let s = i as usize * W;
                let word: [u8; W] = src[s..s + W].try_into().expect("W bytes");
                dst.copy_from_slice(&word);
            }
            Ok(())
        })
}

/// `dst[i] = src[i] + base` over little-endian u64 words.
fn offset_words(src: &[u8], base: u64, dst: &mut [u8]) -> Result<(), KernelError> {
    let mut wrapped = false;
    for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(8)) {
        let v = u64::from_le_bytes(s.try_into().expect("8 bytes"));
        let sum = v.wrapping_add(base);
        wrapped |= sum < v;
        d.copy_from_slice(&sum.to_le_bytes());
    }
    if wrapped {
        return Err(KernelError::Overflow {
            kernel: "interleave",
            base,
        });
    }
    Ok(())
}

impl Kernels for CpuKernels {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn add_offset(&self, values: &[u64], base: u64) -> Result<Vec<u64>, KernelError> {
        // Wrapping adds with one overflow flag a chunk vectorise; a checked add per
        // element collected into a Result does not (about 1 GiB/s).
        let mut out = vec![0u64; values.len()];
        let wrapped = out
            .par_chunks_mut(MIN_SPLIT)
            .zip(values.par_chunks(MIN_SPLIT))
            .map(|(out, values)| {
                let mut wrapped = false;
                for (o, &v) in out.iter_mut().zip(values) {
                    *o = v.wrapping_add(base);
                    wrapped |= *o < v;
                }
                wrapped
            })
            .reduce(|| false, |a, b| a | b);
        if wrapped {
            return Err(KernelError::Overflow {
                kernel: "add_offset",
                base,
            });
        }
        Ok(out)
    }

    fn transpose(&self, lines: &[u64], majors: &[u64], n: usize) -> Result<Remapped, KernelError> {
        let kept = super::check_transpose(lines, majors, n)? as usize;
        // A counting sort: one pass counts, one places, each entry after those of
        // its line that came before it.
        let mut indptr = vec![0u64; n + 1];
        for &l in lines.iter().filter(|&&l| l != DROPPED) {
            indptr[l as usize + 1] += 1;
        }
        for i in 0..n {
            indptr[i + 1] += indptr[i];
        }
        let mut cursor = indptr[..n].to_vec();
        let (mut indices, mut keep) = (vec![0u64; kept], vec![0u64; kept]);
        for (k, (&l, &m)) in lines.iter().zip(majors).enumerate() {
            if l == DROPPED {
                continue;
            }
            let at = &mut cursor[l as usize];
            indices[*at as usize] = m;
            keep[*at as usize] = k as u64;
            *at += 1;
        }
        Ok(Remapped {
            indptr,
            indices,
            keep,
        })
    }

    fn remap(
        &self,
        indptr: &[u64],
        indices: &[u64],
        table: &[u64],
        sort: bool,
    ) -> Result<Remapped, KernelError> {
        check_indptr("remap", indptr, indices.len())?;
        let width = table.len() as u64;
        let out_width = if sort { super::kept_width(table) } else { 0 };
        // Each run of lines fills the span its entries take in the input, as a join
        // keeps no more than that; spans are closed up afterwards only after entries
        // were dropped, so where none are (an outer join) nothing is copied again.
        let chunks = line_chunks(indptr, MIN_SPLIT as u64);
        let mut indices_out = vec![0u64; indices.len()];
        let mut keep_out = vec![0u64; indices.len()];
        let mut spans = Vec::with_capacity(chunks.len());
        let (mut rest_idx, mut rest_keep) = (indices_out.as_mut_slice(), keep_out.as_mut_slice());
        for &(a, b) in &chunks {
            let len = (indptr[b] - indptr[a]) as usize;
            let (idx, tail_idx) = std::mem::take(&mut rest_idx).split_at_mut(len);
            let (keep, tail_keep) = std::mem::take(&mut rest_keep).split_at_mut(len);
            (rest_idx, rest_keep) = (tail_idx, tail_keep);
            spans.push((a, b, idx, keep));
        }
        let ends = spans
            .into_par_iter()
            .map(|(a, b, idx, keep)| {
                let mut ends = Vec::with_capacity(b - a);
                let mut sorter = super::line_sort::LineSorter::new(out_width);
                let mut n = 0;
                for l in a..b {
                    let start = n;
                    for k in indptr[l]..indptr[l + 1] {
                        let old = indices[k as usize];
                        if old >= width {
                            return Err(KernelError::bad(
                                "remap",
                                format!("index {old} outside the table of {width}"),
                            ));
                        }
                        let new = table[old as usize];
                        if new != DROPPED {
                            idx[n] = new;
                            keep[n] = k;
                            n += 1;
                        }
                    }
                    if sort {
                        sorter.sort(&mut idx[start..n], &mut keep[start..n]);
                    }
                    ends.push(n as u64);
                }
                Ok(ends)
            })
            .collect::<Result<Vec<_>, KernelError>>()?;
        let mut out_indptr = Vec::with_capacity(indptr.len());
        out_indptr.push(0);
        let mut at = 0;
        for (&(a, _), ends) in chunks.iter().zip(&ends) {
            let from = indptr[a] as usize;
            let kept = ends.last().map_or(0, |&e| e as usize);
            if from != at {
                indices_out.copy_within(from..from + kept, at);
                keep_out.copy_within(from..from + kept, at);
            }
            out_indptr.extend(ends.iter().map(|&e| e + at as u64));
            at += kept;
        }
        indices_out.truncate(at);
        keep_out.truncate(at);
        Ok(Remapped {
            indptr: out_indptr,
            indices: indices_out,
            keep: keep_out,
        })
    }

    fn gather_into(
        &self,
        src: &[u8],
        word: usize,
        idx: &[u64],
        out: &mut [u8],
    ) -> Result<(), KernelError> {
        check_gather(src, word, idx, out)?;
        match word {
            1 => gather_words::<1>(src, idx, out),
            2 => gather_words::<2>(src, idx, out),
            4 => gather_words::<4>(src, idx, out),
            _ => gather_words::<8>(src, idx, out),
        }
    }

    fn interleave(&self, pieces: &[&[u64]]) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
        let n = check_pieces(pieces)?;
        let mut offsets = Vec::with_capacity(pieces.len());
        let mut total = 0u64;
        for p in pieces {
            offsets.push(total);
            total += p[n];
        }
        let indptr = summed_indptr(pieces, n);
        let mut order = Vec::with_capacity(total as usize);
        for l in 0..n {
            for (p, off) in pieces.iter().zip(&offsets) {
                order.extend((p[l]..p[l + 1]).map(|k| off + k));
            }
        }
        Ok((indptr, order))
    }

    fn interleave_values(
        &self,
        pieces: &[&[u64]],
        columns: &mut [ValueColumn<'_>],
    ) -> Result<Vec<u64>, KernelError> {
        check_interleave_values(pieces, columns)?;
        let n = pieces[0].len() - 1;
        let indptr = summed_indptr(pieces, n);
        // Each line's entries are one run per piece: copied whole, lines split
        // between workers at about MIN_SPLIT entries, every column in the same pass.
        let chunks = line_chunks(&indptr, MIN_SPLIT as u64);
        let mut rests: Vec<ColumnPart<'_>> = columns
            .iter_mut()
            .map(|c| (c.values.as_slice(), c.word, c.offsets, &mut *c.out))
            .collect();
        let mut work = Vec::with_capacity(chunks.len());
        for &(a, b) in &chunks {
            let entries = (indptr[b] - indptr[a]) as usize;
            let outs: Vec<ColumnPart<'_>> = rests
                .iter_mut()
                .map(|(values, word, offsets, rest)| {
                    let (head, tail) = std::mem::take(rest).split_at_mut(entries * *word);
                    *rest = tail;
                    (*values, *word, *offsets, head)
                })
                .collect();
            work.push(((a, b), outs));
        }
        work.into_par_iter().try_for_each(|((a, b), outs)| {
            for (values, word, offsets, out) in outs {
                let mut at = 0;
                for l in a..b {
                    for (i, (p, v)) in pieces.iter().zip(values).enumerate() {
                        let run = &v[p[l] as usize * word..p[l + 1] as usize * word];
                        let dst = &mut out[at..at + run.len()];
                        match offsets.get(i) {
                            Some(&base) if base != 0 => offset_words(run, base, dst)?,
                            _ => dst.copy_from_slice(run),
                        }
                        at += run.len();
                    }
                }
            }
            Ok(())
        })?;
        Ok(indptr)
    }

    fn tile_dense_into(
        &self,
        out: &mut [u8],
        out_rows: usize,
        out_cols: usize,
        word: usize,
        fill: u64,
        pieces: &[DensePiece<'_>],
    ) -> Result<(), KernelError> {
        check_dense(out_rows, out_cols, word, pieces)?;
        check_dense_out(out, out_rows, out_cols, word)?;
        let row_bytes = out_cols * word;
        if row_bytes == 0 {
            return Ok(());
        }
        // A piece whose columns land side by side is copied a row at a time.
        let runs: Vec<Option<usize>> = pieces.iter().map(|p| contiguous(p.col_map)).collect();
        let tiled = tiled_bands(out_cols, pieces, &runs);
        out.par_chunks_mut(row_bytes)
            .enumerate()
            .for_each(|(r, row)| {
                let band = tiled.partition_point(|b| b.1 <= r);
                if tiled.get(band).is_none_or(|b| b.0 > r) {
                    match word {
                        1 => fill_words::<1>(row, fill),
                        2 => fill_words::<2>(row, fill),
                        4 => fill_words::<4>(row, fill),
                        _ => fill_words::<8>(row, fill),
                    }
                }
                for (p, run) in pieces.iter().zip(&runs) {
                    if r < p.row_offset || r >= p.row_offset + p.rows {
                        continue;
                    }
                    let src_bytes = p.cols * word;
                    let src = &p.data[(r - p.row_offset) * src_bytes..][..src_bytes];
                    match (run, word) {
                        (Some(c0), _) => {
                            row[c0 * word..][..src_bytes].copy_from_slice(src);
                        }
                        (None, 1) => place::<1>(row, src, p.col_map),
                        (None, 2) => place::<2>(row, src, p.col_map),
                        (None, 4) => place::<4>(row, src, p.col_map),
                        (None, _) => place::<8>(row, src, p.col_map),
                    }
                }
            });
        Ok(())
    }
}

/// The row bands `[start, end)`, ascending, whose rows side-by-side pieces cover in
/// full. Pieces start and end only at band edges, so one row speaks for its band.
fn tiled_bands(
    cols: usize,
    pieces: &[DensePiece<'_>],
    runs: &[Option<usize>],
) -> Vec<(usize, usize)> {
    let mut cuts: Vec<usize> = pieces
        .iter()
        .flat_map(|p| [p.row_offset, p.row_offset + p.rows])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter(|w| tiled_by_runs(w[0], cols, pieces, runs))
        .map(|w| (w[0], w[1]))
        .collect()
}

/// Whether the side-by-side pieces covering row `r` fill its `cols` columns exactly,
/// so the fill value would be overwritten everywhere.
fn tiled_by_runs(r: usize, cols: usize, pieces: &[DensePiece<'_>], runs: &[Option<usize>]) -> bool {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (p, run) in pieces.iter().zip(runs) {
        if r < p.row_offset || r >= p.row_offset + p.rows {
            continue;
        }
        match run {
            Some(c0) => spans.push((*c0, c0 + p.cols)),
            // Scattered columns may leave gaps.
            None => return false,
        }
    }
    spans.sort_unstable();
    let mut end = 0;
    for (a, b) in spans {
        if a != end {
            return false;
        }
        end = b;
    }
    end == cols
}

/// Every `W`-byte word of `row` set to the low bytes of `fill` (a fixed `W` lets the
/// loop compile to wide stores rather than a copy call per word).
fn fill_words<const W: usize>(row: &mut [u8], fill: u64) {
    let word: [u8; W] = fill.to_le_bytes()[..W].try_into().expect("W <= 8");
    for dst in row.chunks_exact_mut(W) {
        dst.copy_from_slice(&word);
    }
}

/// The first output column when `col_map` sends column `j` to `first + j` for every `j`.
fn contiguous(col_map: &[u64]) -> Option<usize> {
    let first = *col_map.first()?;
    if first == DROPPED {
        return None;
    }
    col_map
        .iter()
        .enumerate()
        .all(|(j, &c)| c == first + j as u64)
        .then_some(first as usize)
}

/// Copies `W`-byte words of one source row to their output columns (a fixed `W` lets
/// each copy compile to a single move).
fn place<const W: usize>(row: &mut [u8], src: &[u8], col_map: &[u64]) {
    for (word, &c) in src.chunks_exact(W).zip(col_map) {
        if c != DROPPED {
            let c = c as usize * W;
            row[c..c + W].copy_from_slice(word);
        }
    }
}
