//! Throughput of the storage layer in bytes/s: writing and reading a dense float64
//! block through each backend and codec, as `adcat convert` streams it.

use adcat::store::{self, ArraySpec, Attrs, Compression, DType, Data, Format};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: u64 = 2048;
const COLS: u64 = 2048;

fn payload() -> Data {
    // Count-like values: mostly small integers stored as float64, as in expression data.
    Data::F64(
        (0..ROWS * COLS)
            .map(|i| ((i * 2_654_435_761) % 17) as f64)
            .collect(),
    )
}

fn spec(format: Format, compression: Compression) -> ArraySpec {
    ArraySpec {
        shape: vec![ROWS, COLS],
        dtype: DType::F64,
        chunks: vec![64, COLS],
        shards: (format == Format::ZarrV3).then(|| vec![512, COLS]),
        compression,
    }
}

fn cases() -> Vec<(&'static str, Format, Compression)> {
    vec![
        ("zarr3-lz4", Format::ZarrV3, Compression::Lz4 { level: 5 }),
        ("zarr3-zstd", Format::ZarrV3, Compression::Zstd { level: 3 }),
        ("zarr2-lz4", Format::ZarrV2, Compression::Lz4 { level: 5 }),
        ("h5ad-none", Format::H5ad, Compression::None),
        ("h5ad-gzip", Format::H5ad, Compression::Gzip { level: 4 }),
    ]
}

fn bench(c: &mut Criterion) {
    let data = payload();
    let bytes = ROWS * COLS * 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    for (name, format, compression) in cases() {
        let path = dir.path().join(format!(
            "{name}.{}",
            if format == Format::H5ad {
                "h5ad"
            } else {
                "zarr"
            }
        ));
        let mut round = 0u32;
        group.bench_function(format!("write/{name}"), |b| {
            b.iter(|| {
                round += 1;
                let p = path.with_extension(format!("{round}"));
                let w = store::create(&p, format).expect("create");
                w.create_group("", &Attrs::new()).expect("group");
                w.create_array("x", &spec(format, compression), &Attrs::new())
                    .expect("array");
                w.write("x", &[0, 0], &[ROWS, COLS], &data).expect("write");
                w.finish().expect("finish");
                drop(w);
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            })
        });
        let w = store::create(&path, format).expect("create");
        w.create_group("", &Attrs::new()).expect("group");
        w.create_array("x", &spec(format, compression), &Attrs::new())
            .expect("array");
        w.write("x", &[0, 0], &[ROWS, COLS], &data).expect("write");
        w.finish().expect("finish");
        drop(w);
        let r = store::open(&path).expect("open");
        group.bench_function(format!("read/{name}"), |b| {
            b.iter(|| r.read("x", &[0, 0], &[ROWS, COLS]).expect("read"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
