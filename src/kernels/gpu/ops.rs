//! Host side of each kernel: validation, tiling, dispatches and readback.

use super::engine::{hi, lo, Engine};
use crate::kernels::{
    check_dense, check_dense_out, check_gather, check_indptr, check_interleave_values,
    check_pieces, check_transpose, check_values, kept_width, DensePiece, KernelError, Remapped,
    ValueColumn, DROPPED,
};

fn bytes(v: &[u64]) -> &[u8] {
    bytemuck::cast_slice(v)
}

fn bytes_mut(v: &mut [u64]) -> &mut [u8] {
    bytemuck::cast_slice_mut(v)
}

pub(super) fn add_offset(
    e: &Engine<'_>,
    pipeline: &super::Lazy,
    values: &[u64],
    base: u64,
) -> Result<Vec<u64>, KernelError> {
    let mut out = vec![0u64; values.len()];
    let per = e.max_items(8, 1) as usize;
    let overflow = e.output(4);
    let mut flag = [0u8; 4];
    for (src, dst) in values.chunks(per).zip(out.chunks_mut(per)) {
        let n = src.len() as u64;
        let mut enc = e.encoder();
        let input = e.input(bytes(src));
        let output = e.output(n * 8);
        let params = e.params([n as u32, lo(base), hi(base), 0, 0, 0, 0, 0]);
        e.dispatch(
            &mut enc,
            pipeline,
            &[(0, &params), (1, &input), (2, &output), (3, &overflow)],
            Engine::groups(n),
        )?;
        e.finish(
            enc,
            &mut [(&output, 0, bytes_mut(dst)), (&overflow, 0, &mut flag)],
        )?;
        if flag != [0; 4] {
            return Err(KernelError::Overflow {
                kernel: "add_offset",
                base,
            });
        }
    }
    Ok(out)
}

/// Entry ranges `[p0, p1)` of at most `max` entries: whole lines where they fit,
/// pieces of one line where a line alone is longer (refused when it must be sorted).
fn entry_tiles(
    e: &Engine<'_>,
    indptr: &[u64],
    max: u64,
    whole_lines: bool,
) -> Result<Vec<(u64, u64)>, KernelError> {
    let nnz = *indptr.last().expect("checked indptr");
    let mut tiles = Vec::new();
    let mut p = 0;
    while p < nnz {
        // Last line boundary within reach of p.
        let b = indptr.partition_point(|&x| x <= p + max) - 1;
        if indptr[b] > p {
            tiles.push((p, indptr[b]));
            p = indptr[b];
        } else {
            let line = indptr.partition_point(|&x| x <= p) - 1;
            let end = indptr[line + 1];
            if whole_lines {
                return Err(e.too_large("one line to sort", (end - indptr[line]) * 8));
            }
            let q = end.min(p + max);
            tiles.push((p, q));
            p = q;
        }
    }
    Ok(tiles)
}

/// New indices below this are sorted by `remap_sort.wgsl` (its bitmap's width).
const REMAP_SORT_WIDTH: u64 = 2048 * 32;

/// Values [`remap`] moves along on the device: one `word`-byte element per entry in
/// `src`, and room for one per entry in `out`, whose front receives the kept ones.
pub(super) struct Carried<'a> {
    pub src: &'a [u8],
    pub word: usize,
    pub out: &'a mut [u8],
}

/// Remaps each tile of entries in one submission where the table drops nothing (every
/// entry is kept, so the sizes of what comes back are known before it runs) and in two
/// otherwise (the kept count first). With `values`, the kept entries' values are
/// gathered through the source positions on the device, and those positions are not
/// read back (`keep` stays empty).
pub(super) fn remap(
    e: &Engine<'_>,
    indptr: &[u64],
    indices: &[u64],
    table: &[u64],
    sort: bool,
    mut values: Option<Carried<'_>>,
) -> Result<Remapped, KernelError> {
    check_indptr("remap", indptr, indices.len())?;
    if let Some(v) = &values {
        check_values("remap", indices.len(), v.src, v.word, v.out)?;
    }
    let n = indptr.len() - 1;
    let mut out = Remapped {
        indptr: vec![0; n + 1],
        ..Remapped::default()
    };
    if indices.is_empty() {
        return Ok(out);
    }
    let table_len = u32::try_from(table.len())
        .map_err(|_| KernelError::bad("remap", format!("table of {} entries", table.len())))?;
    let drops = table.contains(&DROPPED);
    let per_slice = (e.tiles.binding_bytes / 8) as usize;
    let slices: Vec<(u32, u32, wgpu::Buffer)> = if table.is_empty() {
        vec![(0, 0, e.output(8))]
    } else {
        table
            .chunks(per_slice)
            .enumerate()
            .map(|(i, t)| {
                let t0 = (i * per_slice) as u32;
                (t0, t0 + t.len() as u32, e.input(bytes(t)))
            })
            .collect()
    };
    // Index and output arrays hold 8 bytes per entry; lines and the scan fit within.
    let max_entries = e.max_items(8, 1);
    let max_lines = e.max_items(8, 1) - 1;
    let mut kept_before = 0u64;
    // Narrow tables sort each line by bitmap rank, one workgroup a line
    // (remap_sort.wgsl); wider ones heapsort inside remap_lines.wgsl.
    let by_rank = sort && kept_width(table) <= REMAP_SORT_WIDTH;
    let out_of_table = |p0: u64, p1: u64| {
        let bad = indices[p0 as usize..p1 as usize]
            .iter()
            .find(|&&i| i >= table.len() as u64)
            .copied()
            .unwrap_or(u64::MAX);
        KernelError::bad(
            "remap",
            format!("index {bad} outside the table of {}", table.len()),
        )
    };
    for (p0, p1) in entry_tiles(e, indptr, max_entries, sort)? {
        let m = p1 - p0;
        let mut enc = e.encoder();
        let idx = e.input(bytes(&indices[p0 as usize..p1 as usize]));
        let mapped = e.output(m * 8);
        let flags = e.output((m + 1) * 4);
        let bad = e.output(4);
        for (t0, t1, slice) in &slices {
            let params = e.params([m as u32, *t0, *t1, table_len, 0, 0, 0, 0]);
            e.dispatch(
                &mut enc,
                &e.pipelines().remap_mark,
                &[
                    (0, &params),
                    (1, &idx),
                    (2, slice),
                    (3, &mapped),
                    (4, &flags),
                    (5, &bad),
                ],
                Engine::groups(m),
            )?;
        }
        let pos = e.scan(&mut enc, &flags, m, m + 1)?;
        let out_idx = e.output(m * 8);
        let out_keep = e.output(m * 8);
        let params = e.params([m as u32, lo(p0), hi(p0), 0, 0, 0, 0, 0]);
        e.dispatch(
            &mut enc,
            &e.pipelines().remap_scatter,
            &[
                (0, &params),
                (1, &mapped),
                (2, &flags),
                (3, &pos),
                (4, &out_idx),
                (5, &out_keep),
            ],
            Engine::groups(m),
        )?;
        let mut flag = [0u8; 4];
        let kept = if drops {
            let mut kept = [0u8; 4];
            e.finish(enc, &mut [(&pos, m * 4, &mut kept), (&bad, 0, &mut flag)])?;
            if flag != [0; 4] {
                return Err(out_of_table(p0, p1));
            }
            enc = e.encoder();
            u32::from_le_bytes(kept) as u64
        } else {
            m
        };

        // Lines whose old end lies in (p0, p1]; earlier ones ending at 0 stay 0.
        let la = indptr[1..].partition_point(|&x| x <= p0);
        let lb = indptr[1..].partition_point(|&x| x <= p1);
        let mut chunks = Vec::new();
        for c0 in (la..lb).step_by(max_lines as usize) {
            let c1 = (c0 + max_lines as usize).min(lb);
            let ptr = e.input(bytes(&indptr[c0..=c1]));
            let ends = e.output((c1 - c0) as u64 * 8);
            let params = e.params([
                (c1 - c0) as u32,
                lo(p0),
                lo(kept_before),
                hi(kept_before),
                (sort && !by_rank) as u32,
                0,
                0,
                0,
            ]);
            e.dispatch(
                &mut enc,
                &e.pipelines().remap_lines,
                &[
                    (0, &params),
                    (1, &ptr),
                    (2, &pos),
                    (3, &ends),
                    (4, &out_idx),
                    (5, &out_keep),
                ],
                Engine::groups((c1 - c0) as u64),
            )?;
            chunks.push((c0, c1, ends, ptr));
        }
        let (out_idx, out_keep) = if by_rank {
            let sorted_idx = e.output(m * 8);
            let sorted_keep = e.output(m * 8);
            let g = e.tiles.groups_per_dim as usize;
            for (c0, c1, _, ptr) in &chunks {
                for first in (0..c1 - c0).step_by(g * g) {
                    let n = (c1 - c0 - first).min(g * g);
                    let params = e.params([(c1 - c0) as u32, lo(p0), first as u32, 0, 0, 0, 0, 0]);
                    e.dispatch(
                        &mut enc,
                        &e.pipelines().remap_sort,
                        &[
                            (0, &params),
                            (1, ptr),
                            (2, &pos),
                            (3, &out_idx),
                            (4, &out_keep),
                            (5, &sorted_idx),
                            (6, &sorted_keep),
                        ],
                        n as u64,
                    )?;
                }
            }
            (sorted_idx, sorted_keep)
        } else {
            (out_idx, out_keep)
        };
        let at = out.indices.len();
        let kept = kept as usize;
        out.indices.resize(at + kept, 0);
        let gathered = match &values {
            Some(v) => {
                // The tile's own values are all its positions can reach.
                let src = &v.src[p0 as usize * v.word..p1 as usize * v.word];
                let slice = [(p0, m, e.input(src))];
                let obuf = e.output(kept as u64 * v.word as u64);
                let gbad = e.output(4);
                let total = indices.len() as u64;
                record_gather(
                    e,
                    &mut enc,
                    &slice,
                    total,
                    v.word,
                    kept as u64,
                    &out_keep,
                    &obuf,
                    &gbad,
                )?;
                Some((obuf, gbad))
            }
            None => {
                out.keep.resize(at + kept, 0);
                None
            }
        };
        let mut gather_flag = [0u8; 4];
        let mut reads: Vec<(&wgpu::Buffer, u64, &mut [u8])> =
            vec![(&out_idx, 0, bytes_mut(&mut out.indices[at..]))];
        match (&gathered, &mut values) {
            (Some((obuf, gbad)), Some(v)) => {
                let w = v.word;
                reads.push((obuf, 0, &mut v.out[at * w..(at + kept) * w]));
                reads.push((gbad, 0, &mut gather_flag));
            }
            _ => reads.push((&out_keep, 0, bytes_mut(&mut out.keep[at..]))),
        }
        if !drops {
            reads.push((&bad, 0, &mut flag));
        }
        let mut rest = &mut out.indptr[la + 1..=lb];
        for (c0, c1, ends, _) in &chunks {
            let (head, tail) = rest.split_at_mut(c1 - c0);
            reads.push((ends, 0, bytes_mut(head)));
            rest = tail;
        }
        e.finish(enc, &mut reads)?;
        if flag != [0; 4] {
            return Err(out_of_table(p0, p1));
        }
        if gather_flag != [0; 4] {
            return Err(KernelError::Gpu {
                kernel: "remap",
                reason: "a kept entry's source position fell outside its tile".into(),
            });
        }
        kept_before += kept as u64;
    }
    Ok(out)
}

/// Entries are cut into tiles that fit a binding; each tile is grouped into lines on
/// the device (count, scan, scatter, then each line sorted by position), and the
/// tiles' lines are interleaved, earlier tiles first.
/// With `values`, the kept entries' values are gathered on the device through the
/// positions each tile sorts, and those positions are not read back (`keep` stays
/// empty); `values.out` holds one element per entry, and its front receives the kept
/// ones.
pub(super) fn transpose(
    e: &Engine<'_>,
    lines: &[u64],
    majors: &[u64],
    n: usize,
    values: Option<Carried<'_>>,
) -> Result<Remapped, KernelError> {
    check_transpose(lines, majors, n)?;
    if let Some(v) = &values {
        check_values("transpose", lines.len(), v.src, v.word, v.out)?;
    }
    transpose_lines(e, lines, majors, n, values)
}

/// [`transpose`] once its arguments are checked; `values.out` needs room for the kept
/// entries only.
fn transpose_lines(
    e: &Engine<'_>,
    lines: &[u64],
    majors: &[u64],
    n: usize,
    mut values: Option<Carried<'_>>,
) -> Result<Remapped, KernelError> {
    // Line pointers (8 bytes a line) must fit a binding too: more lines than that
    // take one pass each over ranges of lines, the others' entries left out.
    let max_lines = e.max_items(8, 1).saturating_sub(1).max(1) as usize;
    if n > max_lines {
        let mut out = Remapped {
            indptr: vec![0],
            ..Remapped::default()
        };
        for c0 in (0..n).step_by(max_lines) {
            let c1 = (c0 + max_lines).min(n);
            let local: Vec<u64> = lines
                .iter()
                .map(|&l| match l {
                    l if (c0 as u64..c1 as u64).contains(&l) => l - c0 as u64,
                    _ => DROPPED,
                })
                .collect();
            let base = out.indices.len();
            let carried = values.as_mut().map(|v| Carried {
                src: v.src,
                word: v.word,
                out: &mut v.out[base * v.word..],
            });
            let part = transpose_lines(e, &local, majors, c1 - c0, carried)?;
            out.indptr
                .extend(part.indptr[1..].iter().map(|p| p + base as u64));
            out.indices.extend(part.indices);
            out.keep.extend(part.keep);
        }
        return Ok(out);
    }
    let total = lines.len() as u64;
    let tile = e.max_items(8, 1).max(1) as usize;
    if lines.len() <= tile {
        // One tile (the usual case): its values are read straight into the caller's
        // block.
        return transpose_tile(e, lines, majors, n, 0, total, values);
    }
    let word = values.as_ref().map_or(0, |v| v.word);
    let mut parts: Vec<(Remapped, Vec<u8>)> = Vec::new();
    for p0 in (0..lines.len()).step_by(tile) {
        let p1 = (p0 + tile).min(lines.len());
        let kept = lines[p0..p1].iter().filter(|&&l| l != DROPPED).count();
        let mut gathered = vec![0u8; if values.is_some() { kept * word } else { 0 }];
        let carried = values.as_ref().map(|v| Carried {
            src: v.src,
            word,
            out: &mut gathered,
        });
        let part = transpose_tile(
            e,
            &lines[p0..p1],
            &majors[p0..p1],
            n,
            p0 as u64,
            total,
            carried,
        )?;
        parts.push((part, gathered));
    }
    let kept: usize = parts.iter().map(|p| p.0.indices.len()).sum();
    let carry_keep = values.is_none();
    let mut indices = vec![0u64; kept];
    let mut keep = vec![0u64; if carry_keep { kept } else { 0 }];
    let ptrs: Vec<&[u64]> = parts.iter().map(|p| p.0.indptr.as_slice()).collect();
    let mut columns = vec![ValueColumn {
        values: parts.iter().map(|p| bytes(&p.0.indices)).collect(),
        word: 8,
        out: bytes_mut(&mut indices),
        offsets: &[],
    }];
    match values {
        Some(v) => columns.push(ValueColumn {
            values: parts.iter().map(|p| p.1.as_slice()).collect(),
            word,
            out: &mut v.out[..kept * word],
            offsets: &[],
        }),
        None => columns.push(ValueColumn {
            values: parts.iter().map(|p| bytes(&p.0.keep)).collect(),
            word: 8,
            out: bytes_mut(&mut keep),
            offsets: &[],
        }),
    }
    let indptr = interleave_values(e, &ptrs, &mut columns)?;
    Ok(Remapped {
        indptr,
        indices,
        keep,
    })
}

/// One tile of [`transpose`]: entries `p0..p0 + lines.len()` of `total`. With
/// `values` (all entries' values in `src`), the tile's kept values are gathered in
/// the same submission and read, in output order, into the front of `values.out`.
fn transpose_tile(
    e: &Engine<'_>,
    lines: &[u64],
    majors: &[u64],
    n: usize,
    p0: u64,
    total: u64,
    values: Option<Carried<'_>>,
) -> Result<Remapped, KernelError> {
    let m = lines.len() as u64;
    let kept = lines.iter().filter(|&&l| l != DROPPED).count();
    let mut out = Remapped {
        indptr: vec![0; n + 1],
        indices: vec![0; kept],
        keep: vec![0; if values.is_some() { 0 } else { kept }],
    };
    if kept == 0 {
        return Ok(out);
    }
    let nl = n as u64;
    let mut enc = e.encoder();
    let line_buf = e.input(bytes(lines));
    let major_buf = e.input(bytes(majors));
    let counts = e.output(nl * 4);
    let params = e.params([m as u32, lo(p0), hi(p0), 0, 0, 0, 0, 0]);
    e.dispatch(
        &mut enc,
        &e.pipelines().transpose_count,
        &[(0, &params), (1, &line_buf), (4, &counts)],
        Engine::groups(m),
    )?;
    let starts = e.scan(&mut enc, &counts, nl, nl + 1)?;
    let cursor = e.output(nl * 4);
    let out_pos = e.output(kept as u64 * 8);
    let out_majors = e.output(kept as u64 * 8);
    e.dispatch(
        &mut enc,
        &e.pipelines().transpose_scatter,
        &[
            (0, &params),
            (1, &line_buf),
            (2, &major_buf),
            (3, &starts),
            (4, &cursor),
            (5, &out_pos),
            (6, &out_majors),
        ],
        Engine::groups(m),
    )?;
    // remap_lines sorts each line [starts[j], starts[j + 1]) by its first array (the
    // positions, unique) and writes the line ends, which are the indptr; its line
    // pointers here are the line numbers themselves.
    let identity: Vec<u64> = (0..=nl).collect();
    let ptr = e.input(bytes(&identity));
    let ends = e.output(nl * 8);
    let sort_params = e.params([nl as u32, 0, 0, 0, 1, 0, 0, 0]);
    e.dispatch(
        &mut enc,
        &e.pipelines().remap_lines,
        &[
            (0, &sort_params),
            (1, &ptr),
            (2, &starts),
            (3, &ends),
            (4, &out_pos),
            (5, &out_majors),
        ],
        Engine::groups(nl),
    )?;
    let mut gather_flag = [0u8; 4];
    let mut reads: Vec<(&wgpu::Buffer, u64, &mut [u8])> = vec![
        (&ends, 0, bytes_mut(&mut out.indptr[1..])),
        (&out_majors, 0, bytes_mut(&mut out.indices)),
    ];
    let gathers = match values {
        Some(v) => {
            let word = v.word;
            // As in remap: the tile's own values are all its positions can reach.
            let tile_values = &v.src[p0 as usize * word..(p0 + m) as usize * word];
            let slice = [(p0, m, e.input(tile_values))];
            let obuf = e.output(kept as u64 * word as u64);
            let gbad = e.output(4);
            record_gather(
                e,
                &mut enc,
                &slice,
                total,
                word,
                kept as u64,
                &out_pos,
                &obuf,
                &gbad,
            )?;
            Some((obuf, gbad, &mut v.out[..kept * word]))
        }
        None => None,
    };
    match gathers {
        Some((ref obuf, ref gbad, dst)) => {
            reads.push((obuf, 0, dst));
            reads.push((gbad, 0, &mut gather_flag));
        }
        None => reads.push((&out_pos, 0, bytes_mut(&mut out.keep))),
    }
    e.finish(enc, &mut reads)?;
    if gather_flag != [0; 4] {
        return Err(KernelError::Gpu {
            kernel: "transpose",
            reason: "a kept entry's source position fell outside its tile".into(),
        });
    }
    Ok(out)
}

/// A gather source's slices: (first element, elements, buffer).
type Slices = Vec<(u64, u64, wgpu::Buffer)>;

/// A gather source, held in pieces laid end to end (one for most sources), bound in
/// slices that each fit a binding: (first element, elements, buffer). Slices start on a
/// u32 boundary, so 1- and 2-byte slices hold a multiple of 4. Each slice's buffer is
/// written from the pieces it covers, so the pieces are never joined on the host.
fn source_slices(e: &Engine<'_>, pieces: &[&[u8]], word: usize) -> Slices {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    if total == 0 {
        return vec![(0, 0, e.output(4))];
    }
    let per_slice = ((e.tiles.binding_bytes / word as u64) & !3) as usize * word;
    (0..total)
        .step_by(per_slice)
        .map(|s| {
            let end = (s + per_slice).min(total);
            let mut parts = Vec::new();
            let mut a = 0;
            for p in pieces {
                let b = a + p.len();
                let (x, y) = (a.max(s), b.min(end));
                if x < y {
                    parts.push(((x - s) as u64, &p[x - a..y - a]));
                }
                a = b;
            }
            let buffer = e.input_at((end - s) as u64, &parts);
            ((s / word) as u64, ((end - s) / word) as u64, buffer)
        })
        .collect()
}

/// Elements of `word` bytes one gather invocation writes.
fn gather_per_invocation(word: usize) -> u64 {
    if word == 8 {
        1
    } else {
        4 / word as u64
    }
}

/// Records the gather of `n` elements whose source positions are in `ibuf` into
/// `obuf`, one pass per source slice; `bad` is set if a position is out of range.
#[allow(clippy::too_many_arguments)]
fn record_gather(
    e: &Engine<'_>,
    enc: &mut wgpu::CommandEncoder,
    slices: &[(u64, u64, wgpu::Buffer)],
    src_len: u64,
    word: usize,
    n: u64,
    ibuf: &wgpu::Buffer,
    obuf: &wgpu::Buffer,
    bad: &wgpu::Buffer,
) -> Result<(), KernelError> {
    let invocations = n.div_ceil(gather_per_invocation(word));
    for (s0, len, slice) in slices {
        let params = e.params([
            invocations as u32,
            n as u32,
            word as u32,
            *len as u32,
            lo(*s0),
            hi(*s0),
            lo(src_len),
            hi(src_len),
        ]);
        e.dispatch(
            enc,
            &e.pipelines().gather,
            &[(0, &params), (1, ibuf), (2, slice), (3, obuf), (4, bad)],
            Engine::groups(invocations),
        )?;
    }
    Ok(())
}

pub(super) fn gather(
    e: &Engine<'_>,
    src: &[u8],
    word: usize,
    idx: &[u64],
    out: &mut [u8],
) -> Result<(), KernelError> {
    check_gather(src, word, idx, out)?;
    if idx.is_empty() {
        return Ok(());
    }
    let src_len = (src.len() / word) as u64;
    let slices = source_slices(e, &[src], word);
    let per_tile = e.max_items(8, gather_per_invocation(word)) as usize;
    let bad = e.output(4);
    let mut flag = [0u8; 4];
    for (ix, dst) in idx.chunks(per_tile).zip(out.chunks_mut(per_tile * word)) {
        let n = ix.len() as u64;
        let mut enc = e.encoder();
        let ibuf = e.input(bytes(ix));
        let obuf = e.output(n * word as u64);
        record_gather(e, &mut enc, &slices, src_len, word, n, &ibuf, &obuf, &bad)?;
        e.finish(enc, &mut [(&obuf, 0, dst), (&bad, 0, &mut flag)])?;
        if flag != [0; 4] {
            let bad = ix
                .iter()
                .find(|&&i| i >= src_len)
                .copied()
                .unwrap_or(u64::MAX);
            return Err(KernelError::bad(
                "gather",
                format!("index {bad} outside the {src_len} source elements"),
            ));
        }
    }
    Ok(())
}

/// One buffer with each piece's indptr values `a..=b`, piece after piece.
fn piece_slices(e: &Engine<'_>, pieces: &[&[u64]], a: usize, b: usize) -> wgpu::Buffer {
    let stride = ((b - a + 1) * 8) as u64;
    let parts: Vec<(u64, &[u8])> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u64 * stride, bytes(&p[a..=b])))
        .collect();
    e.input_at(stride * pieces.len() as u64, &parts)
}

/// The output indptr of interleaved pieces, summed on the device.
fn interleave_indptr(e: &Engine<'_>, pieces: &[&[u64]]) -> Result<Vec<u64>, KernelError> {
    let n = check_pieces(pieces)?;
    let np = pieces.len() as u64;
    let max_values = max_indptr_values(e, np)?;
    let mut indptr = vec![0u64; n + 1];
    for v0 in (0..=n).step_by(max_values as usize) {
        let v1 = (v0 + max_values as usize).min(n + 1);
        let count = (v1 - v0) as u64;
        let mut enc = e.encoder();
        let ptrs = piece_slices(e, pieces, v0, v1 - 1);
        let sums = e.output(count * 8);
        let params = e.params([count as u32, 0, np as u32, count as u32, 0, 0, 0, 0]);
        e.dispatch(
            &mut enc,
            &e.pipelines().interleave_count,
            &[(0, &params), (1, &ptrs), (3, &sums)],
            Engine::groups(count),
        )?;
        e.finish(enc, &mut [(&sums, 0, bytes_mut(&mut indptr[v0..v1]))])?;
    }
    Ok(indptr)
}

/// Indptr values of all pieces for a run of lines share one binding.
fn max_indptr_values(e: &Engine<'_>, np: u64) -> Result<u64, KernelError> {
    let max_values = e.max_items(8 * np, 1);
    if max_values < 2 {
        return Err(e.too_large("indptr of every piece for one line", 16 * np));
    }
    Ok(max_values)
}

/// Computes the interleaving order in tiles of output entries `k0..k1`: for each,
/// records the order kernel into a fresh encoder and hands it to `each` with the
/// device buffer that will hold the tile's order (source positions, u64).
fn interleave_tiles(
    e: &Engine<'_>,
    pieces: &[&[u64]],
    indptr: &[u64],
    mut each: impl FnMut(wgpu::CommandEncoder, u64, u64, &wgpu::Buffer) -> Result<(), KernelError>,
) -> Result<(), KernelError> {
    let n = indptr.len() - 1;
    let np = pieces.len() as u64;
    if indptr[n] == 0 {
        return Ok(());
    }
    let max_values = max_indptr_values(e, np)?;
    let mut offsets = Vec::with_capacity(pieces.len());
    let mut sum = 0u64;
    for p in pieces {
        offsets.push(sum);
        sum += p[n];
    }
    let offsets = e.input(bytes(&offsets));
    let max_entries = e.max_items(8, 1);
    let mut la = 0;
    while la < n {
        // Skip empty lines, then take lines while entries and indptr values fit.
        la += indptr[la + 1..].partition_point(|&x| x <= indptr[la]);
        if la >= n {
            break;
        }
        let last = (la + max_values as usize - 1).min(n);
        let lb = la + indptr[la + 1..=last].partition_point(|&x| x <= indptr[la] + max_entries);
        let (lb, ranges) = if lb > la {
            (lb, vec![(indptr[la], indptr[lb])])
        } else {
            let (s, t) = (indptr[la], indptr[la + 1]);
            let cuts = (s..t)
                .step_by(max_entries as usize)
                .map(|k| (k, (k + max_entries).min(t)))
                .collect();
            (la + 1, cuts)
        };
        let ptrs = piece_slices(e, pieces, la, lb);
        let out_ptr = e.input(bytes(&indptr[la..=lb]));
        let stride = (lb - la + 1) as u32;
        for (k0, k1) in ranges {
            let count = k1 - k0;
            let mut enc = e.encoder();
            let dst = e.output(count * 8);
            let params = e.params([
                count as u32,
                (lb - la) as u32,
                np as u32,
                stride,
                lo(k0),
                hi(k0),
                0,
                0,
            ]);
            e.dispatch(
                &mut enc,
                &e.pipelines().interleave_order,
                &[
                    (0, &params),
                    (1, &ptrs),
                    (2, &out_ptr),
                    (4, &offsets),
                    (5, &dst),
                ],
                Engine::groups(count),
            )?;
            each(enc, k0, k1, &dst)?;
        }
        la = lb;
    }
    Ok(())
}

pub(super) fn interleave(
    e: &Engine<'_>,
    pieces: &[&[u64]],
) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
    let indptr = interleave_indptr(e, pieces)?;
    let mut order = vec![0u64; *indptr.last().unwrap_or(&0) as usize];
    interleave_tiles(e, pieces, &indptr, |enc, k0, k1, dst| {
        e.finish(
            enc,
            &mut [(dst, 0, bytes_mut(&mut order[k0 as usize..k1 as usize]))],
        )
    })?;
    Ok((indptr, order))
}

/// [`interleave`] with each column gathered on the device straight from the order
/// the interleave kernel leaves there: only the columns' values travel, not the order.
pub(super) fn interleave_values(
    e: &Engine<'_>,
    pieces: &[&[u64]],
    columns: &mut [ValueColumn<'_>],
) -> Result<Vec<u64>, KernelError> {
    check_interleave_values(pieces, columns)?;
    let indptr = interleave_indptr(e, pieces)?;
    if columns.is_empty() {
        return Ok(indptr);
    }
    let sources: Vec<(u64, Slices)> = columns
        .iter()
        .map(|c| {
            let len: usize = c.values.iter().map(|v| v.len() / c.word).sum();
            (len as u64, source_slices(e, &c.values, c.word))
        })
        .collect();
    let bad = e.output(4);
    let mut flag = [0u8; 4];
    let mut offsets_due = columns.iter().any(|c| !c.offsets.is_empty());
    interleave_tiles(e, pieces, &indptr, |mut enc, k0, k1, order| {
        // The first tile's submission shifts the sources in place before any gather
        // reads them, so the offsets cost no wait of their own.
        if std::mem::take(&mut offsets_due) {
            for (c, (_, slices)) in columns.iter().zip(&sources) {
                record_offsets(e, &mut enc, &c.values, c.offsets, slices, &bad)?;
            }
        }
        let n = k1 - k0;
        let mut outs = Vec::with_capacity(columns.len());
        for (c, (src_len, slices)) in columns.iter().zip(&sources) {
            let obuf = e.output(n * c.word as u64);
            record_gather(e, &mut enc, slices, *src_len, c.word, n, order, &obuf, &bad)?;
            outs.push(obuf);
        }
        let mut reads: Vec<(&wgpu::Buffer, u64, &mut [u8])> = outs
            .iter()
            .zip(columns.iter_mut())
            .map(|(obuf, c)| {
                let w = c.word;
                (obuf, 0, &mut c.out[k0 as usize * w..k1 as usize * w])
            })
            .collect();
        reads.push((&bad, 0, &mut flag));
        e.finish(enc, &mut reads)
    })?;
    let flag = u32::from_le_bytes(flag);
    if flag & 2 != 0 {
        let base = columns.iter().flat_map(|c| c.offsets).max().copied();
        return Err(KernelError::Overflow {
            kernel: "interleave",
            base: base.unwrap_or(0),
        });
    }
    if flag != 0 {
        return Err(KernelError::bad(
            "interleave",
            "an interleaved position fell outside its column",
        ));
    }
    Ok(indptr)
}

/// Records, for each slice of a column's source (its pieces laid end to end), the
/// in-place addition of each piece's offset to its elements. Nothing for a column
/// without offsets or pieces whose offset is 0.
fn record_offsets(
    e: &Engine<'_>,
    enc: &mut wgpu::CommandEncoder,
    values: &[&[u8]],
    offsets: &[u64],
    slices: &Slices,
    bad: &wgpu::Buffer,
) -> Result<(), KernelError> {
    if offsets.is_empty() {
        return Ok(());
    }
    // An add per element is bound by memory, so the (lo, hi) pairs cost nothing
    // measurable against native u64 (lavapipe: within noise); one variant is kept.
    let pipeline = &e.pipelines().offset_pieces;
    // (first element, end) of each piece in the column.
    let mut at = 0u64;
    let spans: Vec<(u64, u64, u64)> = values
        .iter()
        .zip(offsets)
        .map(|(v, &base)| {
            let start = at;
            at += v.len() as u64 / 8;
            (start, at, base)
        })
        .filter(|&(a, b, base)| a < b && base != 0)
        .collect();
    for (s0, len, slice) in slices {
        let s1 = s0 + len;
        // Slices hold at most a binding, so local positions fit a u32.
        let segs: Vec<u32> = spans
            .iter()
            .filter(|&&(a, b, _)| a < s1 && b > *s0)
            .flat_map(|&(a, b, base)| {
                [
                    (a.max(*s0) - s0) as u32,
                    (b.min(s1) - s0) as u32,
                    lo(base),
                    hi(base),
                ]
            })
            .collect();
        if segs.is_empty() {
            continue;
        }
        let segs_buf = e.input(bytemuck::cast_slice(&segs));
        // A slice fits a binding but maybe not one dispatch's grid.
        let step = e.max_items(8, 1).max(1);
        let segments = (segs.len() / 4) as u32;
        for first in (0..*len).step_by(step as usize) {
            let end = (first + step).min(*len);
            let params = e.params([end as u32, segments, first as u32, 0, 0, 0, 0, 0]);
            e.dispatch(
                enc,
                pipeline,
                &[(0, &params), (1, &segs_buf), (2, slice), (3, bad)],
                Engine::groups(end - first),
            )?;
        }
    }
    Ok(())
}

pub(super) fn tile_dense(
    e: &Engine<'_>,
    out: &mut [u8],
    out_rows: usize,
    out_cols: usize,
    word: usize,
    fill: u64,
    pieces: &[DensePiece<'_>],
) -> Result<(), KernelError> {
    check_dense(out_rows, out_cols, word, pieces)?;
    check_dense_out(out, out_rows, out_cols, word)?;
    let row_bytes = (out_cols * word) as u64;
    if out.is_empty() {
        return Ok(());
    }
    let limit = e.tiles.binding_bytes;
    if u32::try_from(out_cols).is_err() || pieces.iter().any(|p| u32::try_from(p.cols).is_err()) {
        return Err(KernelError::bad("tile_dense", "more than 2^32 - 1 columns"));
    }
    // Inverse column maps, the later of two piece columns landing on one output column
    // winning as it would when written in order.
    const NONE: u32 = u32::MAX;
    let inv_bytes = (pieces.len() * out_cols * 4) as u64;
    if inv_bytes > limit {
        return Err(e.too_large("inverse column maps", inv_bytes));
    }
    let mut inv = vec![NONE; pieces.len() * out_cols];
    for (p, piece) in pieces.iter().enumerate() {
        let inv = &mut inv[p * out_cols..(p + 1) * out_cols];
        for (j, &c) in piece.col_map.iter().enumerate() {
            if c != DROPPED {
                inv[c as usize] = j as u32;
            }
        }
    }
    let inv = e.input(bytemuck::cast_slice(&inv));

    let per_invocation = if word == 8 { 1 } else { 4 / word as u64 };
    // Tiles start on a u32 boundary of the output.
    let align = if row_bytes.is_multiple_of(4) { 1 } else { 4 };
    let out_limit =
        (limit / row_bytes).min(e.max_items(word as u64, per_invocation) / out_cols as u64);
    let slice_bytes = |p: &DensePiece<'_>, r0: usize, r1: usize| -> Option<(usize, usize, u64)> {
        let a = r0.max(p.row_offset);
        let b = r1.min(p.row_offset + p.rows);
        (a < b && p.cols > 0).then(|| (a, b, (((b - a) * p.cols * word) as u64).div_ceil(8) * 8))
    };
    let data_bytes = |r0: usize, r1: usize| -> u64 {
        pieces
            .iter()
            .filter_map(|p| slice_bytes(p, r0, r1))
            .map(|s| s.2)
            .sum()
    };
    let mut r0 = 0;
    while r0 < out_rows {
        let mut rows = (out_limit as usize / align * align).min(out_rows - r0);
        if rows == 0 {
            return Err(e.too_large("output rows of one tile", row_bytes * align as u64));
        }
        while data_bytes(r0, r0 + rows) > limit {
            if rows <= align {
                return Err(e.too_large("input rows of one tile", data_bytes(r0, r0 + rows)));
            }
            rows = (rows / 2).div_ceil(align) * align;
        }
        let r1 = r0 + rows;
        let mut info: Vec<u32> = Vec::new();
        let mut parts: Vec<(u64, &[u8])> = Vec::new();
        let mut at = 0u64;
        for (p, piece) in pieces.iter().enumerate() {
            let Some((a, b, size)) = slice_bytes(piece, r0, r1) else {
                continue;
            };
            let src_bytes = piece.cols * word;
            let first = (a - piece.row_offset) * src_bytes;
            parts.push((at, &piece.data[first..first + (b - a) * src_bytes]));
            info.extend([
                (a - r0) as u32,
                (b - a) as u32,
                piece.cols as u32,
                (at / 4) as u32,
                (p * out_cols) as u32,
                0,
                0,
                0,
            ]);
            at += size;
        }
        let data = e.input_at(at, &parts);
        let info_buf = e.input(bytemuck::cast_slice(&info));
        let elems = (rows * out_cols) as u64;
        let invocations = elems.div_ceil(per_invocation);
        let dst = e.output(elems * word as u64);
        let params = e.params([
            invocations as u32,
            elems as u32,
            out_cols as u32,
            word as u32,
            lo(fill),
            hi(fill),
            (info.len() / 8) as u32,
            0,
        ]);
        let mut enc = e.encoder();
        e.dispatch(
            &mut enc,
            &e.pipelines().tile_dense,
            &[
                (0, &params),
                (1, &info_buf),
                (2, &inv),
                (3, &data),
                (4, &dst),
            ],
            Engine::groups(invocations),
        )?;
        let start = r0 * row_bytes as usize;
        e.finish(
            enc,
            &mut [(&dst, 0, &mut out[start..start + rows * row_bytes as usize])],
        )?;
        r0 = r1;
    }
    Ok(())
}
