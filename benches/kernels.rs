//! Throughput of each kernel in input bytes/s, CPU backend against the first GPU
//! adapter found (lavapipe on machines without a GPU: it shows the GPU path works,
//! not what a real GPU would do). Sizes stay small so the software adapter keeps the
//! run short; `ADCAT_KERNEL_BENCH_SCALE=N` multiplies the number of lines by N for a
//! real GPU, where small calls measure little but the round trip.

use std::sync::Arc;
use std::time::Duration;

use adcat::kernels::{
    CpuKernels, DensePiece, GpuContext, GpuKernels, Kernels, Preference, ValueColumn, DROPPED,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn line_count() -> usize {
    let scale: usize = std::env::var("ADCAT_KERNEL_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    4096 * scale.max(1)
}
const PER_LINE: usize = 64;
const WIDTH: u64 = 2000;

fn backends() -> Vec<Box<dyn Kernels>> {
    let mut all: Vec<Box<dyn Kernels>> = vec![Box::new(CpuKernels)];
    match GpuContext::acquire(Preference::Any) {
        Ok(ctx) => all.push(Box::new(GpuKernels::new(Arc::new(ctx)))),
        Err(e) => eprintln!("no GPU adapter, benchmarking the CPU only: {e}"),
    }
    all
}

fn label(k: &dyn Kernels) -> &'static str {
    if k.name() == "cpu" {
        "cpu"
    } else {
        "gpu"
    }
}

/// CSR-like lines: `PER_LINE` ascending indices each, spread over `WIDTH`.
fn lines() -> (Vec<u64>, Vec<u64>) {
    let n = line_count();
    let indptr = (0..=n).map(|l| (l * PER_LINE) as u64).collect();
    let indices = (0..n * PER_LINE)
        .map(|k| (k % PER_LINE) as u64 * (WIDTH / PER_LINE as u64) + (k / PER_LINE) as u64 % 7)
        .collect();
    (indptr, indices)
}

fn bench(c: &mut Criterion) {
    let backends = backends();
    let (indptr, indices) = lines();
    let nnz = indices.len();
    // Reverses the positions and drops one in five, so `sort` has work to do.
    let table: Vec<u64> = (0..WIDTH)
        .map(|i| if i % 5 == 0 { DROPPED } else { WIDTH - 1 - i })
        .collect();
    let values: Vec<u8> = (0..nnz * 4).map(|i| i as u8).collect();
    let keep: Vec<u64> = (0..nnz as u64).rev().step_by(2).collect();

    let mut g = c.benchmark_group("add_offset");
    g.throughput(Throughput::Bytes(nnz as u64 * 8));
    for k in &backends {
        g.bench_function(label(k.as_ref()), |b| {
            b.iter(|| k.add_offset(&indices, 1 << 33).unwrap())
        });
    }
    g.finish();

    for sort in [false, true] {
        let mut g = c.benchmark_group(if sort { "remap_sorted" } else { "remap" });
        g.throughput(Throughput::Bytes((nnz + indptr.len()) as u64 * 8));
        for k in &backends {
            g.bench_function(label(k.as_ref()), |b| {
                b.iter(|| k.remap(&indptr, &indices, &table, sort).unwrap())
            });
        }
        g.finish();
    }

    // A sparse block's remap as the block loop runs it, float32 values moved along:
    // remap, then a gather through the source positions ("apart"), against
    // remap_values ("fused"); the table reverses the positions and drops nothing, as
    // an outer join's does.
    let outer: Vec<u64> = (0..WIDTH).map(|i| WIDTH - 1 - i).collect();
    let mut g = c.benchmark_group("remap_gather_f32");
    g.throughput(Throughput::Bytes(
        (nnz + indptr.len()) as u64 * 8 + nnz as u64 * 4,
    ));
    for k in &backends {
        let mut out = vec![0u8; nnz * 4];
        g.bench_function(format!("{}_apart", label(k.as_ref())), |b| {
            b.iter(|| {
                let r = k.remap(&indptr, &indices, &outer, false).unwrap();
                k.gather_into(&values, 4, &r.keep, &mut out).unwrap();
            })
        });
        g.bench_function(format!("{}_fused", label(k.as_ref())), |b| {
            b.iter(|| {
                k.remap_values(&indptr, &indices, &outer, false, &values, 4, &mut out)
                    .unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gather_f32");
    g.throughput(Throughput::Bytes(keep.len() as u64 * (8 + 4)));
    for k in &backends {
        g.bench_function(label(k.as_ref()), |b| {
            b.iter(|| k.gather(&values, 4, &keep).unwrap())
        });
    }
    g.finish();

    let half: Vec<u64> = indptr.iter().map(|p| p / 2).collect();
    let pieces: Vec<&[u64]> = vec![&indptr, &half, &indptr];
    let mut g = c.benchmark_group("interleave");
    g.throughput(Throughput::Bytes((nnz * 5 / 2) as u64 * 8));
    for k in &backends {
        g.bench_function(label(k.as_ref()), |b| {
            b.iter(|| k.interleave(&pieces).unwrap())
        });
    }
    g.finish();

    // The same three pieces as inputs side by side (a block of CSR along var), their
    // indices and float32 values moved: the indices shifted by where each input starts
    // with add_offset, then interleaved ("apart"), against offsets added inside
    // interleave_values ("fused").
    let piece_nnz: Vec<usize> = pieces.iter().map(|p| p[p.len() - 1] as usize).collect();
    let total: usize = piece_nnz.iter().sum();
    let starts: Vec<u64> = (0..pieces.len() as u64).map(|i| i * WIDTH).collect();
    let piece_values: Vec<&[u8]> = piece_nnz.iter().map(|&m| &values[..m * 4]).collect();
    let mut g = c.benchmark_group("interleave_offsets_f32");
    g.throughput(Throughput::Bytes(total as u64 * (8 + 4)));
    for k in &backends {
        let (mut idx_out, mut val_out) = (vec![0u8; total * 8], vec![0u8; total * 4]);
        g.bench_function(format!("{}_apart", label(k.as_ref())), |b| {
            b.iter(|| {
                let shifted: Vec<Vec<u64>> = piece_nnz
                    .iter()
                    .zip(&starts)
                    .map(|(&m, &base)| k.add_offset(&indices[..m], base).unwrap())
                    .collect();
                let columns = &mut [
                    ValueColumn::new(
                        shifted.iter().map(|v| bytemuck::cast_slice(v)).collect(),
                        8,
                        &mut idx_out,
                    ),
                    ValueColumn::new(piece_values.clone(), 4, &mut val_out),
                ];
                k.interleave_values(&pieces, columns).unwrap()
            })
        });
        g.bench_function(format!("{}_fused", label(k.as_ref())), |b| {
            b.iter(|| {
                let mut index_column = ValueColumn::new(
                    piece_nnz
                        .iter()
                        .map(|&m| bytemuck::cast_slice(&indices[..m]))
                        .collect(),
                    8,
                    &mut idx_out,
                );
                index_column.offsets = &starts;
                let columns = &mut [
                    index_column,
                    ValueColumn::new(piece_values.clone(), 4, &mut val_out),
                ];
                k.interleave_values(&pieces, columns).unwrap()
            })
        });
    }
    g.finish();

    // The lines read as columns of a CSC input, grouped into the output's rows.
    let mut out_lines = Vec::with_capacity(nnz);
    let mut majors = Vec::with_capacity(nnz);
    for l in 0..indptr.len() - 1 {
        for &i in &indices[indptr[l] as usize..indptr[l + 1] as usize] {
            out_lines.push(i);
            majors.push(l as u64);
        }
    }
    let mut g = c.benchmark_group("transpose");
    g.throughput(Throughput::Bytes(nnz as u64 * 16));
    for k in &backends {
        g.bench_function(label(k.as_ref()), |b| {
            b.iter(|| k.transpose(&out_lines, &majors, WIDTH as usize).unwrap())
        });
    }
    g.finish();

    // Two inputs stacked as rows, float32, the second with columns reordered.
    let (rows, cols) = (line_count() / 8, 256);
    let data: Vec<u8> = (0..rows * cols * 4).map(|i| i as u8).collect();
    let same: Vec<u64> = (0..cols as u64).collect();
    let reversed: Vec<u64> = (0..cols as u64).rev().collect();
    let dense = [
        DensePiece {
            data: &data,
            rows,
            cols,
            row_offset: 0,
            col_map: &same,
        },
        DensePiece {
            data: &data,
            rows,
            cols,
            row_offset: rows,
            col_map: &reversed,
        },
    ];
    let mut g = c.benchmark_group("tile_dense_f32");
    g.throughput(Throughput::Bytes((2 * rows * cols * 4) as u64));
    for k in &backends {
        g.bench_function(label(k.as_ref()), |b| {
            b.iter(|| {
                k.tile_dense(2 * rows, cols, 4, f32::NAN.to_bits() as u64, &dense)
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
