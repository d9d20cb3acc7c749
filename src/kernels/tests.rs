//! One suite, run against every backend and against the GPU backend with tiles cut
//! small, each compared with the plain loops below.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------- references

fn ref_add_offset(values: &[u64], base: u64) -> Option<Vec<u64>> {
    values.iter().map(|v| v.checked_add(base)).collect()
}

fn ref_remap(indptr: &[u64], indices: &[u64], table: &[u64], sort: bool) -> Remapped {
    let mut out = Remapped {
        indptr: vec![0],
        ..Remapped::default()
    };
    for l in 0..indptr.len() - 1 {
        let mut line: Vec<(u64, u64)> = Vec::new();
        for k in indptr[l]..indptr[l + 1] {
            let new = table[indices[k as usize] as usize];
            if new != DROPPED {
                line.push((new, k));
            }
        }
        if sort {
            line.sort();
        }
        for (new, k) in line {
            out.indices.push(new);
            out.keep.push(k);
        }
        out.indptr.push(out.indices.len() as u64);
    }
    out
}

fn ref_transpose(lines: &[u64], majors: &[u64], n: usize) -> Remapped {
    let mut out = Remapped {
        indptr: vec![0],
        ..Remapped::default()
    };
    for l in 0..n as u64 {
        for (k, _) in lines.iter().enumerate().filter(|(_, &x)| x == l) {
            out.indices.push(majors[k]);
            out.keep.push(k as u64);
        }
        out.indptr.push(out.indices.len() as u64);
    }
    out
}

/// The entries of compressed lines as `transpose` takes them: each entry's output line
/// (its index through `table`, which may drop it) and its input line as the index.
fn transpose_input(indptr: &[u64], indices: &[u64], table: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let mut lines = Vec::new();
    let mut majors = Vec::new();
    for j in 0..indptr.len() - 1 {
        for &i in &indices[indptr[j] as usize..indptr[j + 1] as usize] {
            lines.push(table[i as usize]);
            majors.push(j as u64 + (1 << 33));
        }
    }
    (lines, majors)
}

fn ref_gather(src: &[u8], word: usize, idx: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &i in idx {
        out.extend_from_slice(&src[i as usize * word..(i as usize + 1) * word]);
    }
    out
}

fn ref_interleave(pieces: &[&[u64]]) -> (Vec<u64>, Vec<u64>) {
    let n = pieces[0].len() - 1;
    let mut indptr = vec![0];
    let mut order = Vec::new();
    for l in 0..n {
        let mut before = 0;
        for p in pieces {
            for k in p[l]..p[l + 1] {
                order.push(before + k);
            }
            before += p[n];
        }
        indptr.push(order.len() as u64);
    }
    (indptr, order)
}

/// `interleave_values` against the reference order applied to the pieces' values
/// laid end to end: one column of `word`-byte values and one of 8-byte values with an
/// offset added to each piece's, moved in the same call.
fn check_interleave_values(k: &impl Kernels, pieces: &[&[u64]], word: usize) {
    let n = pieces[0].len() - 1;
    let column = |word: usize, seed: u8| -> Vec<Vec<u8>> {
        pieces
            .iter()
            .enumerate()
            .map(|(i, p)| words(p[n] as usize, word, seed.wrapping_add(i as u8)))
            .collect()
    };
    let first = column(word, 7);
    // Values below 2^48 and offsets whose low halves carry into the high ones, the
    // first piece's 0; the sums stay below 2^64.
    let offsets: Vec<u64> = (0..pieces.len() as u64)
        .map(|i| i * 0x7fff_ffff_ffff + (i % 2) * 0xffff_ffff)
        .collect();
    let second: Vec<Vec<u8>> = column(8, 91)
        .into_iter()
        .map(|v| {
            let mut v: Vec<u64> = bytemuck::pod_collect_to_vec(&v);
            v.iter_mut().for_each(|x| *x >>= 16);
            bytemuck::cast_slice(&v).to_vec()
        })
        .collect();
    let shifted: Vec<u8> = second
        .iter()
        .zip(&offsets)
        .flat_map(|(v, &base)| {
            bytemuck::pod_collect_to_vec::<u8, u64>(v)
                .into_iter()
                .flat_map(move |x| (x + base).to_le_bytes())
        })
        .collect();
    let (indptr, order) = ref_interleave(pieces);
    let mut out_first = vec![0u8; order.len() * word];
    let mut out_second = vec![0u8; order.len() * 8];
    let got = k
        .interleave_values(
            pieces,
            &mut [
                ValueColumn {
                    values: first.iter().map(|v| v.as_slice()).collect(),
                    word,
                    out: &mut out_first,
                    offsets: &[],
                },
                ValueColumn {
                    values: second.iter().map(|v| v.as_slice()).collect(),
                    word: 8,
                    out: &mut out_second,
                    offsets: &offsets,
                },
            ],
        )
        .unwrap();
    assert_eq!(got, indptr, "indptr, word {word}");
    assert_eq!(
        out_first,
        ref_gather(&first.concat(), word, &order),
        "first column, word {word}"
    );
    assert_eq!(
        out_second,
        ref_gather(&shifted, 8, &order),
        "second column, offsets added"
    );
    // With no columns only the indptr comes back.
    assert_eq!(k.interleave_values(pieces, &mut []).unwrap(), indptr);
}

/// One column of a single piece's values with offsets, for the offset error cases.
fn offset<'a>(
    values: &'a [u8],
    word: usize,
    out: &'a mut [u8],
    offsets: &'a [u64],
) -> [ValueColumn<'a>; 1] {
    [ValueColumn {
        values: vec![values],
        word,
        out,
        offsets,
    }]
}

/// `interleave_values` with a single column, for the error cases.
fn one_column<'a>(values: Vec<&'a [u8]>, word: usize, out: &'a mut [u8]) -> [ValueColumn<'a>; 1] {
    [ValueColumn::new(values, word, out)]
}

fn ref_tile_dense(
    rows: usize,
    cols: usize,
    word: usize,
    fill: u64,
    pieces: &[DensePiece<'_>],
) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rows * cols {
        out.extend_from_slice(&fill.to_le_bytes()[..word]);
    }
    for p in pieces {
        for r in 0..p.rows {
            for j in 0..p.cols {
                let c = p.col_map[j];
                if c == DROPPED {
                    continue;
                }
                let to = ((p.row_offset + r) * cols + c as usize) * word;
                let from = (r * p.cols + j) * word;
                out[to..to + word].copy_from_slice(&p.data[from..from + word]);
            }
        }
    }
    out
}

/// `tile_dense_into` over two buffers holding different garbage: a byte the kernel
/// leaves unset keeps what was there, so the two results differ (callers hand the
/// kernel memory that was never cleared).
fn tile(
    k: &impl Kernels,
    rows: usize,
    cols: usize,
    word: usize,
    fill: u64,
    pieces: &[DensePiece<'_>],
) -> Result<Vec<u8>, KernelError> {
    let mut a = vec![0xa5u8; rows * cols * word];
    let mut b = vec![0x5au8; rows * cols * word];
    k.tile_dense_into(&mut a, rows, cols, word, fill, pieces)?;
    k.tile_dense_into(&mut b, rows, cols, word, fill, pieces)?;
    assert!(a == b, "tile_dense_into left bytes of its output unset");
    Ok(a)
}

/// `gather_into` over two buffers holding different garbage, as [`tile`] does.
fn gather(k: &impl Kernels, src: &[u8], word: usize, idx: &[u64]) -> Result<Vec<u8>, KernelError> {
    let mut a = vec![0xa5u8; idx.len() * word];
    let mut b = vec![0x5au8; idx.len() * word];
    k.gather_into(src, word, idx, &mut a)?;
    k.gather_into(src, word, idx, &mut b)?;
    assert!(a == b, "gather_into left bytes of its output unset");
    Ok(a)
}

/// A kernel that moves values along with its entries (`remap_values`,
/// `transpose_values`) against the reference's lines and source positions, gathered.
/// `run` is called with `entries` values of `word` bytes and an output buffer holding
/// garbage, twice with different garbage as [`tile`] does: the kept values must be
/// set, and the bytes past them left as they were.
fn check_moved_values(
    name: &str,
    want: &Remapped,
    entries: usize,
    word: usize,
    run: impl Fn(&[u8], &mut [u8]) -> Result<(Vec<u64>, Vec<u64>), KernelError>,
) {
    let values = words(entries, word, 17);
    let kept = want.keep.len() * word;
    for garbage in [0xa5u8, 0x5a] {
        let mut out = vec![garbage; entries * word];
        let (indptr, indices) = run(&values, &mut out).expect("moving values");
        assert_eq!(indptr, want.indptr, "{name}, word {word}");
        assert_eq!(indices, want.indices, "{name}, word {word}");
        assert!(
            out[..kept] == ref_gather(&values, word, &want.keep)[..],
            "{name}: kept values, word {word}"
        );
        assert!(
            out[kept..].iter().all(|&b| b == garbage),
            "{name}: bytes past the kept values changed, word {word}"
        );
    }
}

fn check_remap_values(
    k: &impl Kernels,
    indptr: &[u64],
    indices: &[u64],
    table: &[u64],
    sort: bool,
    word: usize,
) {
    let want = ref_remap(indptr, indices, table, sort);
    check_moved_values(&k.name(), &want, indices.len(), word, |values, out| {
        k.remap_values(indptr, indices, table, sort, values, word, out)
    });
}

fn check_transpose_values(k: &impl Kernels, lines: &[u64], majors: &[u64], n: usize, word: usize) {
    let want = ref_transpose(lines, majors, n);
    check_moved_values(&k.name(), &want, lines.len(), word, |values, out| {
        k.transpose_values(lines, majors, n, values, word, out)
    });
}

// ---------------------------------------------------------------- inputs

/// Lines of the given lengths with ascending unique indices below `width`, spread by
/// a simple deterministic generator.
fn lines(lengths: &[usize], width: u64, seed: u64) -> (Vec<u64>, Vec<u64>) {
    let mut indptr = vec![0u64];
    let mut indices = Vec::new();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for &len in lengths {
        let len = len.min(width as usize);
        let mut picked: Vec<u64> = Vec::with_capacity(len);
        let mut j = 0u64;
        while picked.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let left = (len - picked.len()) as u64;
            let room = width - j;
            if room == left || (x >> 33) % room < left * 2 {
                picked.push(j);
            }
            j += 1;
        }
        indices.extend(picked);
        indptr.push(indices.len() as u64);
    }
    (indptr, indices)
}

/// A reversing table dropping every `drop_every`-th position (0: none), its targets
/// shifted by `shift`.
fn table(width: u64, drop_every: u64, shift: u64) -> Vec<u64> {
    (0..width)
        .map(|i| {
            if drop_every > 0 && i % drop_every == 0 {
                DROPPED
            } else {
                width - 1 - i + shift
            }
        })
        .collect()
}

fn words(n: usize, word: usize, seed: u8) -> Vec<u8> {
    (0..n * word)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---------------------------------------------------------------- backends

/// The GPU context shared by all GPU tests (lavapipe takes a while to compile the
/// pipelines). `None` when no adapter exists, unless ADCAT_REQUIRE_GPU=1.
pub(super) fn gpu_context() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();
    CTX.get_or_init(|| match GpuContext::acquire(Preference::Any) {
        Ok(ctx) => Some(Arc::new(ctx)),
        Err(e) => {
            if std::env::var("ADCAT_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("ADCAT_REQUIRE_GPU=1 but no GPU adapter: {e}");
            }
            // Straight to stderr: the test harness swallows eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "WARNING: no GPU adapter: GPU kernel tests SKIPPED ({e})"
            );
            None
        }
    })
    .clone()
}

fn gpu() -> Option<GpuKernels> {
    gpu_context().map(GpuKernels::new)
}

fn gpu_limited(binding_bytes: u64, groups_per_dim: u32) -> Option<GpuKernels> {
    gpu().map(|k| {
        k.with_tile_limits(TileLimits {
            binding_bytes,
            groups_per_dim,
        })
    })
}

fn cpu() -> Option<CpuKernels> {
    Some(CpuKernels)
}

// ---------------------------------------------------------------- the suite

macro_rules! kernel_suite {
    ($backend:expr, large: $large:expr) => {
        use super::*;

        fn backend() -> Option<impl Kernels> {
            $backend
        }

        fn check_remap(k: &impl Kernels, indptr: &[u64], indices: &[u64], table: &[u64], sort: bool) {
            let got = k.remap(indptr, indices, table, sort).expect("remap");
            assert_eq!(got, ref_remap(indptr, indices, table, sort), "{}", k.name());
            for word in [1, 2, 4, 8] {
                check_remap_values(k, indptr, indices, table, sort, word);
            }
        }

        #[test]
        fn add_offset_fixed() {
            let Some(k) = backend() else { return };
            assert_eq!(k.add_offset(&[], 5).unwrap(), Vec::<u64>::new());
            let values: Vec<u64> = (0..3000u64).map(|i| i * 0x1_0000_0001 + 0xffff_ff00).collect();
            for base in [0, 1, 0xff, 0xffff_ffff, 0x1_0000_0000, 0x7fff_ffff_ffff] {
                assert_eq!(k.add_offset(&values, base).unwrap(), ref_add_offset(&values, base).unwrap());
            }
            assert!(matches!(
                k.add_offset(&[1, u64::MAX - 2, 3], 3),
                Err(KernelError::Overflow { .. })
            ));
            assert_eq!(k.add_offset(&[u64::MAX - 3], 3).unwrap(), vec![u64::MAX]);
        }

        #[test]
        fn remap_edges() {
            let Some(k) = backend() else { return };
            // No lines, empty lines, no entries.
            check_remap(&k, &[0], &[], &[], false);
            check_remap(&k, &[0, 0, 0], &[], &[DROPPED, 1], true);
            // All kept in order, all dropped, one kept.
            let (ptr, idx) = lines(&[3, 0, 5, 1], 8, 1);
            check_remap(&k, &ptr, &idx, &(10..18).collect::<Vec<_>>(), false);
            check_remap(&k, &ptr, &idx, &[DROPPED; 8], false);
            check_remap(&k, &ptr, &idx, &[DROPPED; 8], true);
            let mut one = vec![DROPPED; 8];
            one[idx[0] as usize] = 0;
            check_remap(&k, &ptr, &idx, &one, true);
            // Reordering with and without sort, targets past 2^32.
            for shift in [0, 1 << 32, (1 << 33) + 7] {
                for sort in [false, true] {
                    check_remap(&k, &ptr, &idx, &table(8, 3, shift), sort);
                }
            }
        }

        #[test]
        fn remap_crosses_tiles() {
            let Some(k) = backend() else { return };
            // Many short lines, some empty, over several tiles and workgroups.
            let lengths: Vec<usize> = (0..700).map(|i| (i * 7) % 13).collect();
            let (ptr, idx) = lines(&lengths, 50, 2);
            for (drop_every, sort) in [(0, false), (4, false), (4, true), (1, true), (7, true)] {
                check_remap(&k, &ptr, &idx, &table(50, drop_every, 3), sort);
            }
            // Long lines, leading and trailing empty lines.
            let mut lengths = vec![0, 0, 200, 180];
            lengths.extend(vec![0; 5]);
            let (ptr, idx) = lines(&lengths, 400, 3);
            check_remap(&k, &ptr, &idx, &table(400, 5, 0), true);
            check_remap(&k, &ptr, &idx, &table(400, 0, 0), false);
            // One line longer than a small tile (allowed unsorted).
            let (ptr, idx) = lines(&[0, 3000, 2], 5000, 4);
            check_remap(&k, &ptr, &idx, &table(5000, 3, 1), false);
        }

        fn check_transpose(k: &impl Kernels, lines: &[u64], majors: &[u64], n: usize) {
            let got = k.transpose(lines, majors, n).expect("transpose");
            assert_eq!(got, ref_transpose(lines, majors, n), "{}", k.name());
            for word in [1, 2, 4, 8] {
                check_transpose_values(k, lines, majors, n, word);
            }
        }

        #[test]
        fn transpose_cases() {
            let Some(k) = backend() else { return };
            // Nothing, no lines, everything dropped.
            check_transpose(&k, &[], &[], 0);
            check_transpose(&k, &[], &[], 3);
            check_transpose(&k, &[DROPPED; 4], &[1, 2, 3, 4], 2);
            // Short and long lines of a CSC block read column by column, some rows
            // dropped, over several tiles of the small-binding backends.
            for (lengths, width, drop_every) in [
                (vec![3usize, 0, 5, 1], 8u64, 0u64),
                ((0..300).map(|i| (i * 7) % 13).collect(), 40, 3),
                (vec![0, 900, 2, 0, 700], 1000, 5),
            ] {
                let (ptr, idx) = lines(&lengths, width, 11);
                let table: Vec<u64> = (0..width)
                    .map(|i| if drop_every > 0 && i % drop_every == 0 { DROPPED } else { i })
                    .collect();
                let (l, m) = transpose_input(&ptr, &idx, &table);
                check_transpose(&k, &l, &m, width as usize);
            }
            // Lines out of range and lengths that differ are errors, as on every backend.
            assert!(matches!(k.transpose(&[0, 3], &[0, 0], 3), Err(KernelError::BadArgument { .. })));
            assert!(matches!(k.transpose(&[0], &[0, 0], 3), Err(KernelError::BadArgument { .. })));
            let mut out = [0u8; 4];
            assert!(k.transpose_values(&[0, 1], &[0, 0], 3, &[0; 3], 2, &mut out).is_err(), "short values");
            assert!(k.transpose_values(&[0, 1], &[0, 0], 3, &[0; 4], 2, &mut out[1..]).is_err(), "short output");
            assert!(k.transpose_values(&[0, 3], &[0, 0], 3, &[0; 4], 2, &mut out).is_err(), "line out of range");
            assert!(k.transpose_values(&[0, 1], &[0, 0], 3, &[0; 4], 2, &mut out).is_ok(), "the same call, fixed");
        }

        #[test]
        fn remap_large() {
            let Some(k) = backend() else { return };
            if !$large {
                return;
            }
            // Past 1024^2 entries: the scan needs three levels.
            let lengths: Vec<usize> = (0..11_000).map(|i| 60 + (i * 37) % 81).collect();
            let (ptr, idx) = lines(&lengths, 2000, 5);
            assert!(idx.len() > 1 << 20);
            check_remap(&k, &ptr, &idx, &table(2000, 6, 9), true);
        }

        #[test]
        fn remap_drops_whole_runs_of_lines() {
            let Some(k) = backend() else { return };
            // Lines holding only dropped positions (below 1000), then only kept ones,
            // then dropped again, each stretch well past one worker's share of entries:
            // results land ahead of where their entries were, past runs that keep none.
            let lengths: Vec<usize> = (0..900).map(|i| 60 + (i * 13) % 41).collect();
            let (mut ptr, mut idx) = (vec![0u64], Vec::new());
            for (stretch, offset) in [(0u64, 0u64), (1, 1000), (2, 0)] {
                let (p, i) = lines(&lengths, 1000, 7 + stretch);
                let base = idx.len() as u64;
                ptr.extend(p[1..].iter().map(|x| x + base));
                idx.extend(i.iter().map(|x| x + offset));
            }
            let table: Vec<u64> = (0..2000u64)
                .map(|i| if i < 1000 { DROPPED } else { 1999 - i })
                .collect();
            for sort in [false, true] {
                check_remap(&k, &ptr, &idx, &table, sort);
            }
        }

        #[test]
        fn remap_sorts_lines_of_tables_wider_than_the_rank_bitmap() {
            let Some(k) = backend() else { return };
            // New indices up to 70,000 + 40: past the GPU's 65,536-wide bitmap, so the
            // lines are heapsorted; the narrow case next to it takes the bitmap.
            let lengths: Vec<usize> = (0..40).map(|i| (i * 53) % 200).collect();
            let (ptr, idx) = lines(&lengths, 70_000, 8);
            check_remap(&k, &ptr, &idx, &table(70_000, 9, 40), true);
            let (ptr, idx) = lines(&lengths, 65_000, 8);
            check_remap(&k, &ptr, &idx, &table(65_000, 9, 500), true);
        }

        #[test]
        fn remap_rejects() {
            let Some(k) = backend() else { return };
            let (ptr, idx) = lines(&[2, 3], 6, 1);
            assert!(k.remap(&ptr, &idx, &[0, 1, 2], false).is_err(), "index outside table");
            assert!(k.remap(&[1, 2], &[0], &[0, 1], false).is_err(), "indptr from 1");
            assert!(k.remap(&[0, 2, 1], &[0, 1], &[0, 1], false).is_err(), "decreasing");
            assert!(k.remap(&[0, 1], &[0, 1], &[0, 1], false).is_err(), "short indptr");
            assert!(k.remap(&[], &[], &[], false).is_err(), "empty indptr");
            // Tables that drop nothing are checked in the same submission as the work.
            assert!(k.remap(&ptr, &idx, &[DROPPED, 1, 2], false).is_err(), "outside, with drops");
            let n = idx.len();
            let values = words(n, 4, 1);
            let mut out = vec![0u8; n * 4];
            let values_with = |table: &[u64], values: &[u8], word: usize, out: &mut [u8]| {
                k.remap_values(&ptr, &idx, table, false, values, word, out)
            };
            let full: Vec<u64> = (0..6).collect();
            assert!(values_with(&[0, 1, 2], &values, 4, &mut out).is_err(), "values: outside");
            assert!(values_with(&[DROPPED, 1, 2], &values, 4, &mut out).is_err(), "values: outside, drops");
            assert!(values_with(&full, &values[4..], 4, &mut out).is_err(), "values: short source");
            assert!(values_with(&full, &values, 4, &mut out[4..]).is_err(), "values: short output");
            assert!(values_with(&full, &values, 3, &mut out).is_err(), "values: word 3");
            assert!(values_with(&full, &values, 4, &mut out).is_ok(), "values: the same call, fixed");
        }

        #[test]
        fn gather_fixed() {
            let Some(k) = backend() else { return };
            for word in [1, 2, 4, 8] {
                assert_eq!(gather(&k, &[], word, &[]).unwrap(), Vec::<u8>::new());
                let src = words(3001, word, word as u8);
                // Odd counts leave partial u32 words at the end of tiles.
                for n in [1, 3, 5, 1027, 4099] {
                    let idx: Vec<u64> = (0..n as u64).map(|i| (i * 7919) % 3001).collect();
                    assert_eq!(gather(&k, &src, word, &idx).unwrap(), ref_gather(&src, word, &idx), "word {word} n {n}");
                }
                assert!(gather(&k, &src, word, &[3001]).is_err());
                assert!(gather(&k, &[], word, &[0]).is_err());
            }
            // Bit patterns survive: NaN payloads, high words.
            let f: Vec<u8> = [f64::NAN, -0.0, f64::INFINITY, 1e300]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            assert_eq!(gather(&k, &f, 8, &[3, 0, 1, 2, 0]).unwrap(), ref_gather(&f, 8, &[3, 0, 1, 2, 0]));
            assert!(gather(&k, &[0; 6], 4, &[0]).is_err(), "ragged source");
            assert!(gather(&k, &[0; 6], 3, &[0]).is_err(), "word 3");
            let mut into = [0u8; 16];
            k.gather_into(&f, 8, &[2, 3], &mut into).unwrap();
            assert_eq!(into.to_vec(), ref_gather(&f, 8, &[2, 3]));
            assert!(k.gather_into(&f, 8, &[2], &mut into).is_err(), "output of the wrong size");
        }

        #[test]
        fn interleave_fixed() {
            let Some(k) = backend() else { return };
            let cases: Vec<Vec<Vec<u64>>> = vec![
                vec![vec![0]],
                vec![vec![0], vec![0]],
                vec![vec![0, 0, 0], vec![0, 0, 0]],
                vec![vec![0, 2, 2, 5], vec![0, 0, 3, 4], vec![0, 1, 1, 1]],
                // Many lines over tiles; a long line alone.
                (0..3)
                    .map(|p| {
                        let mut v = vec![0u64];
                        for l in 0..900u64 {
                            v.push(v[v.len() - 1] + (l * (p + 3)) % 7);
                        }
                        v
                    })
                    .collect(),
                vec![vec![0, 0, 2500, 2501], vec![0, 3, 3, 2003]],
            ];
            for case in &cases {
                let pieces: Vec<&[u64]> = case.iter().map(|v| v.as_slice()).collect();
                assert_eq!(k.interleave(&pieces).unwrap(), ref_interleave(&pieces));
                for word in [1, 8] {
                    check_interleave_values(&k, &pieces, word);
                }
            }
            // Enough entries (about 150,000) that the CPU splits lines between workers.
            let big: Vec<Vec<u64>> = (0..3u64)
                .map(|p| {
                    let mut v = vec![0u64];
                    for l in 0..5000u64 {
                        v.push(v[v.len() - 1] + (l * (p + 5)) % 19);
                    }
                    v
                })
                .collect();
            let big: Vec<&[u64]> = big.iter().map(|v| v.as_slice()).collect();
            check_interleave_values(&k, &big, 4);
            let mut out = [0u8; 8];
            assert!(k.interleave_values(&[&[0, 1]], &mut one_column(vec![&[1, 2]], 8, &mut out)).is_err(), "values short of the entries");
            assert!(k.interleave_values(&[&[0, 1]], &mut one_column(vec![&[0; 8]], 8, &mut out[..4])).is_err(), "output short");
            assert!(k.interleave_values(&[&[0, 1]], &mut one_column(vec![], 8, &mut out)).is_err(), "no value arrays");
            assert!(k.interleave_values(&[&[0, 1]], &mut one_column(vec![&[0; 8]], 3, &mut out[..3])).is_err(), "word of 3 bytes");
            let top = (u64::MAX - 1).to_le_bytes();
            let r = k.interleave_values(&[&[0, 1]], &mut offset(&[0; 8], 8, &mut out, &[3, 4]));
            assert!(r.is_err(), "an offset for a piece that is not there");
            let r = k.interleave_values(&[&[0, 2]], &mut offset(&[0; 8], 4, &mut out, &[3]));
            assert!(r.is_err(), "offsets on 4-byte elements");
            let mut big = [0u8; 8];
            let r = k.interleave_values(&[&[0, 1]], &mut offset(&top, 8, &mut big, &[2]));
            assert!(matches!(r, Err(KernelError::Overflow { .. })), "a sum past u64: {r:?}");
            let r = k.interleave_values(&[&[0, 1]], &mut offset(&top, 8, &mut big, &[1]));
            assert!(r.is_ok() && big == [0xff; 8], "u64::MAX itself: {r:?}");
            assert!(k.interleave(&[]).is_err());
            assert!(k.interleave(&[&[0, 1], &[0, 1, 2]]).is_err());
            assert!(k.interleave(&[&[0, 2, 1]]).is_err());
        }

        #[test]
        fn tile_dense_fixed() {
            let Some(k) = backend() else { return };
            for word in [1, 2, 4, 8] {
                let fill = 0xfedc_ba98_7654_3210u64;
                assert_eq!(tile(&k, 0, 5, word, fill, &[]).unwrap(), Vec::<u8>::new());
                assert_eq!(tile(&k, 3, 0, word, fill, &[]).unwrap(), Vec::<u8>::new());
                assert_eq!(tile(&k, 3, 5, word, fill, &[]).unwrap(), ref_tile_dense(3, 5, word, fill, &[]));
                // Stacked rows with reordered and dropped columns (axis 0), then side by
                // side (axis 1), odd widths so rows straddle u32 words.
                let a = words(40 * 7, word, 1);
                let b = words(33 * 4, word, 2);
                let map_a: Vec<u64> = vec![6, DROPPED, 0, 2, 1, 5, 3];
                let map_b: Vec<u64> = vec![4, 2, DROPPED, 0];
                let stacked = [
                    DensePiece { data: &a, rows: 40, cols: 7, row_offset: 0, col_map: &map_a },
                    DensePiece { data: &b, rows: 33, cols: 4, row_offset: 40, col_map: &map_b },
                ];
                assert_eq!(
                    tile(&k, 75, 7, word, fill, &stacked).unwrap(),
                    ref_tile_dense(75, 7, word, fill, &stacked),
                    "stacked, word {word}"
                );
                let c = words(75 * 3, word, 3);
                let left: Vec<u64> = vec![0, 1, 2];
                let right: Vec<u64> = vec![3, 4, 5];
                let side = [
                    DensePiece { data: &c, rows: 75, cols: 3, row_offset: 0, col_map: &left },
                    DensePiece { data: &c, rows: 75, cols: 3, row_offset: 0, col_map: &right },
                    // Overlapping a later piece: it wins.
                    DensePiece { data: &b, rows: 33, cols: 4, row_offset: 20, col_map: &map_b },
                ];
                assert_eq!(
                    tile(&k, 75, 7, word, fill, &side).unwrap(),
                    ref_tile_dense(75, 7, word, fill, &side),
                    "side by side, word {word}"
                );
                // Side by side pieces that cover every column of rows 10..50 only: those
                // rows need no fill, the others keep it in columns 3..7.
                let d = words(40 * 4, word, 4);
                let rest: Vec<u64> = vec![3, 4, 5, 6];
                let tiled = [
                    DensePiece { data: &d, rows: 40, cols: 4, row_offset: 10, col_map: &rest },
                    DensePiece { data: &c, rows: 75, cols: 3, row_offset: 0, col_map: &left },
                ];
                assert_eq!(
                    tile(&k, 75, 7, word, fill, &tiled).unwrap(),
                    ref_tile_dense(75, 7, word, fill, &tiled),
                    "rows tiled in full, word {word}"
                );
                assert!(tile(&k, 39, 7, word, fill, &stacked).is_err(), "rows past the end");
                let bad_col = [DensePiece { data: &b, rows: 33, cols: 4, row_offset: 0, col_map: &map_b }];
                assert!(tile(&k, 33, 4, word, fill, &bad_col).is_err(), "column past the end");
            }
        }

        /// A tile of several MiB: the GPU backend uploads and reads it back in pieces
        /// copied by several threads, which must land every byte where it belongs.
        #[test]
        fn tile_dense_large() {
            let Some(k) = backend() else { return };
            if !$large {
                return;
            }
            let (rows, cols, word) = (2_100, 1_000, 4);
            // Each element its own index, so a piece copied to the wrong place shows.
            let data: Vec<u8> = (0..(rows * cols) as u32).flat_map(u32::to_le_bytes).collect();
            let reversed: Vec<u64> = (0..cols as u64).rev().collect();
            let piece = [DensePiece { data: &data, rows, cols, row_offset: 3, col_map: &reversed }];
            let out = tile(&k, rows + 5, cols, word, u64::MAX, &piece).unwrap();
            assert!(out == ref_tile_dense(rows + 5, cols, word, u64::MAX, &piece));
        }

        fn remap_input() -> impl Strategy<Value = (Vec<u64>, Vec<u64>, Vec<u64>, bool)> {
            (0u64..40, prop::collection::vec(0usize..12, 0..20), any::<u64>(), 0u64..5, any::<bool>())
                .prop_flat_map(|(width, lengths, seed, drop_every, sort)| {
                    let (ptr, idx) = lines(&lengths, width, seed);
                    let perm = Just((0..width).collect::<Vec<u64>>()).prop_shuffle();
                    (Just(ptr), Just(idx), perm, Just(drop_every), Just(sort))
                })
                .prop_map(|(ptr, idx, perm, drop_every, sort)| {
                    let table = perm
                        .iter()
                        .enumerate()
                        .map(|(i, &t)| if drop_every > 0 && i as u64 % drop_every == 0 { DROPPED } else { t * 3 })
                        .collect();
                    (ptr, idx, table, sort)
                })
        }

        fn pieces_input() -> impl Strategy<Value = Vec<Vec<u64>>> {
            (1usize..5, 0usize..30).prop_flat_map(|(np, n)| {
                prop::collection::vec(prop::collection::vec(0u64..6, n), np).prop_map(|pieces| {
                    pieces
                        .into_iter()
                        .map(|lens| {
                            let mut v = vec![0];
                            for len in lens {
                                v.push(v[v.len() - 1] + len);
                            }
                            v
                        })
                        .collect()
                })
            })
        }

        type DenseCase = (usize, usize, usize, u64, Vec<(Vec<u8>, usize, usize, usize, Vec<u64>)>);

        fn dense_input() -> impl Strategy<Value = DenseCase> {
            (0usize..40, 0usize..10, prop::sample::select(vec![1usize, 2, 4, 8]), any::<u64>())
                .prop_flat_map(|(rows, cols, word, fill)| {
                    let piece = (0..=rows, 0usize..6).prop_flat_map(move |(prows, pcols)| {
                        (
                            prop::collection::vec(any::<u8>(), prows * pcols * word),
                            Just(prows),
                            Just(pcols),
                            0..=rows - prows,
                            prop::collection::vec(
                                prop_oneof![Just(DROPPED), (0..cols.max(1) as u64)],
                                pcols,
                            ),
                        )
                    });
                    let pieces = if cols == 0 {
                        Just(Vec::new()).boxed()
                    } else {
                        prop::collection::vec(piece, 0..4).boxed()
                    };
                    (Just(rows), Just(cols), Just(word), Just(fill), pieces)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            #[test]
            fn prop_add_offset(values in prop::collection::vec(any::<u64>(), 0..300), base in any::<u64>(), small in any::<bool>()) {
                let Some(k) = backend() else { return Ok(()) };
                let base = if small { base >> 40 } else { base };
                let values: Vec<u64> = if small { values.iter().map(|v| v >> 1).collect() } else { values };
                match (k.add_offset(&values, base), ref_add_offset(&values, base)) {
                    (Ok(got), Some(want)) => prop_assert_eq!(got, want),
                    (Err(_), None) => {}
                    (got, want) => prop_assert!(false, "{:?} vs {:?}", got.map(|v| v.len()), want.map(|v| v.len())),
                }
            }

            #[test]
            fn prop_remap((ptr, idx, table, sort) in remap_input(), word in prop::sample::select(vec![1usize, 2, 4, 8])) {
                let Some(k) = backend() else { return Ok(()) };
                prop_assert_eq!(k.remap(&ptr, &idx, &table, sort).unwrap(), ref_remap(&ptr, &idx, &table, sort));
                check_remap_values(&k, &ptr, &idx, &table, sort, word);
            }

            #[test]
            fn prop_transpose(lines in prop::collection::vec(prop::option::weighted(0.8, 0u64..12), 0..400), seed in any::<u64>()) {
                let Some(k) = backend() else { return Ok(()) };
                let n = 12;
                let lines: Vec<u64> = lines.into_iter().map(|l| l.unwrap_or(DROPPED)).collect();
                let majors: Vec<u64> = (0..lines.len() as u64).map(|i| i.wrapping_mul(seed | 1)).collect();
                prop_assert_eq!(k.transpose(&lines, &majors, n).unwrap(), ref_transpose(&lines, &majors, n));
                check_transpose_values(&k, &lines, &majors, n, 1 << (seed % 4));
            }

            #[test]
            fn prop_gather(word in prop::sample::select(vec![1usize, 2, 4, 8]), n in 0usize..200, picks in prop::collection::vec(any::<u64>(), 0..300), seed in any::<u8>()) {
                let Some(k) = backend() else { return Ok(()) };
                let src = words(n, word, seed);
                let idx: Vec<u64> = if n == 0 { Vec::new() } else { picks.iter().map(|p| p % n as u64).collect() };
                prop_assert_eq!(gather(&k, &src, word, &idx).unwrap(), ref_gather(&src, word, &idx));
            }

            #[test]
            fn prop_interleave(pieces in pieces_input()) {
                let Some(k) = backend() else { return Ok(()) };
                let pieces: Vec<&[u64]> = pieces.iter().map(|v| v.as_slice()).collect();
                prop_assert_eq!(k.interleave(&pieces).unwrap(), ref_interleave(&pieces));
                for word in [2, 4] {
                    check_interleave_values(&k, &pieces, word);
                }
            }

            #[test]
            fn prop_tile_dense((rows, cols, word, fill, pieces) in dense_input()) {
                let Some(k) = backend() else { return Ok(()) };
                let pieces: Vec<DensePiece<'_>> = pieces
                    .iter()
                    .map(|(data, prows, pcols, row_offset, col_map)| DensePiece {
                        data,
                        rows: *prows,
                        cols: *pcols,
                        row_offset: *row_offset,
                        col_map,
                    })
                    .collect();
                prop_assert_eq!(
                    tile(&k, rows, cols, word, fill, &pieces).unwrap(),
                    ref_tile_dense(rows, cols, word, fill, &pieces)
                );
            }
        }
    };
}

mod cpu {
    kernel_suite!(cpu(), large: true);
}

mod gpu {
    kernel_suite!(gpu(), large: true);
}

/// Small bindings: many tiles, table and source slices, lines split across tiles.
mod gpu_small_tiles {
    kernel_suite!(gpu_limited(2048, 65535), large: false);
}

/// Two workgroups per dimension: 2-D grids and many dispatches; 64-bit arithmetic on
/// `u32` pairs.
mod gpu_small_grid {
    kernel_suite!(gpu_limited(16384, 2).map(|k| k.without_int64()), large: false);
}

/// 64-bit arithmetic on `u32` pairs even where the adapter has `SHADER_INT64`.
mod gpu_emulated_u64 {
    kernel_suite!(gpu().map(|k| k.without_int64()), large: false);
}

#[test]
fn gpu_uses_native_u64_where_the_adapter_has_it() {
    let Some(k) = gpu() else { return };
    let adapter = list_adapters()
        .into_iter()
        .find(|a| a.name == k.context().adapter_info().name)
        .expect("the adapter in use is listed");
    assert_eq!(k.native_int64(), adapter.shader_int64, "{}", k.name());
    let emulated = k.clone().without_int64();
    assert!(!emulated.native_int64());
    assert!(
        emulated.name().ends_with(", u64 emulated)"),
        "{}",
        emulated.name()
    );
    let near = [u32::MAX as u64, 1 << 40, u64::MAX - 7];
    assert_eq!(
        k.add_offset(&near, 7).unwrap(),
        emulated.add_offset(&near, 7).unwrap()
    );
    assert!(matches!(
        k.add_offset(&near, 8),
        Err(KernelError::Overflow { .. })
    ));
}

#[test]
fn gpu_refuses_sorting_a_line_over_a_tile() {
    let Some(k) = gpu_limited(2048, 65535) else {
        return;
    };
    let (ptr, idx) = lines(&[300], 400, 1);
    let err = k.remap(&ptr, &idx, &table(400, 0, 0), true).unwrap_err();
    assert!(matches!(err, KernelError::TooLarge { .. }), "{err}");
}

#[test]
fn gpu_name_and_limits() {
    let Some(k) = gpu() else { return };
    assert!(k.name().starts_with("gpu: "), "{}", k.name());
    let limits = k.tile_limits();
    assert!(limits.binding_bytes >= 1 << 20 && limits.binding_bytes <= 1 << 31);
    assert!(!list_adapters().is_empty());
}

#[test]
fn dispatch_grids() {
    use super::gpu::grid_for_tests as grid;
    assert_eq!(grid(1, 65535), Some((1, 1)));
    assert_eq!(grid(65535, 65535), Some((65535, 1)));
    assert_eq!(grid(65536, 65535), Some((65535, 2)));
    assert_eq!(grid(5, 2), None);
    assert_eq!(grid(4, 2), Some((2, 2)));
    assert_eq!(grid(3, 2), Some((2, 2)));
}

#[test]
fn gpu_small_tiles_mean_many_dispatches() {
    let Some(k) = gpu_limited(2048, 2) else {
        return;
    };
    let lengths: Vec<usize> = (0..700).map(|i| (i * 7) % 13).collect();
    let (ptr, idx) = lines(&lengths, 50, 2);
    let before = k.context().dispatches();
    let got = k.remap(&ptr, &idx, &table(50, 4, 3), true).unwrap();
    assert_eq!(got, ref_remap(&ptr, &idx, &table(50, 4, 3), true));
    // 256 entries a tile. each at least mark, scan, scatter and lines.
    let tiles = idx.len() as u64 / 256;
    assert!(tiles >= 16);
    assert!(k.context().dispatches() - before >= 4 * tiles);
}

/// Round trips of `f` on a context of its own (the shared one counts other tests' work
/// too), with tiles of at most 256 entries.
fn round_trips_of(f: impl FnOnce(&GpuKernels)) -> Option<u64> {
    gpu_context()?;
    let ctx = Arc::new(GpuContext::acquire(Preference::Any).expect("a second context"));
    let k = GpuKernels::new(ctx.clone()).with_tile_limits(TileLimits {
        binding_bytes: 2048,
        groups_per_dim: 65535,
    });
    f(&k);
    Some(ctx.phases().round_trips)
}

#[test]
fn gpu_remap_values_waits_once_a_tile_unless_entries_are_dropped() {
    let lengths: Vec<usize> = (0..700).map(|i| (i * 7) % 13).collect();
    let (ptr, idx) = lines(&lengths, 50, 2);
    let values = words(idx.len(), 4, 3);
    let run = |table: Vec<u64>, fused: bool| {
        round_trips_of(|k| {
            let mut out = vec![0u8; idx.len() * 4];
            if fused {
                k.remap_values(&ptr, &idx, &table, true, &values, 4, &mut out)
                    .unwrap();
            } else {
                let r = k.remap(&ptr, &idx, &table, true).unwrap();
                k.gather_into(&values, 4, &r.keep, &mut out[..r.keep.len() * 4])
                    .unwrap();
            }
        })
    };
    let Some(outer) = run(table(50, 0, 3), true) else {
        return;
    };
    let inner = run(table(50, 4, 3), true).unwrap();
    let apart = run(table(50, 4, 3), false).unwrap();
    // 256 entries a tile.
    assert!(outer >= idx.len() as u64 / 256, "{outer} round trips");
    assert_eq!(
        inner,
        2 * outer,
        "a kept count first where entries are dropped"
    );
    assert!(apart > inner, "remap then gather: {apart}, fused: {inner}");
}
