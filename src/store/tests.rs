//! One conformance suite, run by every backend: whatever a writer stores, its reader
//! must give back unchanged.

use super::*;
use serde_json::json;

fn sample(dtype: DType, n: usize) -> Data {
    let mut d = Data::with_capacity(dtype, n);
    for i in 0..n {
        match &mut d {
            Data::Bool(v) => v.push(i % 3 == 0),
            Data::I8(v) => v.push((i as i64 % 200 - 100) as i8),
            Data::I16(v) => v.push((i as i64 * 7 - 3000) as i16),
            Data::I32(v) => v.push(i as i32 * 1_000_003 - 7),
            Data::I64(v) => v.push(i as i64 * 3_000_000_019 - 1),
            Data::U8(v) => v.push((i % 256) as u8),
            Data::U16(v) => v.push((i * 13 % 65536) as u16),
            Data::U32(v) => v.push((i as u32).wrapping_mul(2_654_435_761u32 / 7)),
            Data::U64(v) => v.push(i as u64 * 0x1_0000_0001),
            Data::F32(v) => v.push(i as f32 * 0.5 - 1.25),
            Data::F64(v) => v.push(if i == 1 { f64::NAN } else { i as f64 / 3.0 }),
            Data::Str(v) => v.push(match i % 4 {
                0 => format!("cell{i}"),
                1 => String::new(),
                2 => format!("zellé-{i}-ß"),
                _ => format!("細胞{i}"),
            }),
        }
    }
    d
}

/// Compares two blocks, treating NaN as equal to NaN.
fn same(a: &Data, b: &Data) -> bool {
    match (a, b) {
        (Data::F64(x), Data::F64(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        }
        (Data::F32(x), Data::F32(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        }
        _ => a == b,
    }
}

fn slice_rows(d: &Data, cols: usize, rows: std::ops::Range<usize>) -> Data {
    let r = rows.start * cols..rows.end * cols;
    match d {
        Data::Bool(v) => Data::Bool(v[r].to_vec()),
        Data::I8(v) => Data::I8(v[r].to_vec()),
        Data::I16(v) => Data::I16(v[r].to_vec()),
        Data::I32(v) => Data::I32(v[r].to_vec()),
        Data::I64(v) => Data::I64(v[r].to_vec()),
        Data::U8(v) => Data::U8(v[r].to_vec()),
        Data::U16(v) => Data::U16(v[r].to_vec()),
        Data::U32(v) => Data::U32(v[r].to_vec()),
        Data::U64(v) => Data::U64(v[r].to_vec()),
        Data::F32(v) => Data::F32(v[r].to_vec()),
        Data::F64(v) => Data::F64(v[r].to_vec()),
        Data::Str(v) => Data::Str(v[r].to_vec()),
    }
}

fn attrs(v: serde_json::Value) -> Attrs {
    v.as_object().cloned().unwrap_or_default()
}

fn new_store(format: Format) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = if format.is_zarr() { "t.zarr" } else { "t.h5ad" };
    let path = dir.path().join(name);
    (dir, path)
}

fn compressions(format: Format) -> Vec<Compression> {
    match format {
        Format::H5ad => vec![Compression::None, Compression::Gzip { level: 4 }],
        _ => vec![
            Compression::None,
            Compression::Lz4 { level: 5 },
            Compression::Zstd { level: 3 },
            Compression::Gzip { level: 4 },
        ],
    }
}

fn groups_and_attributes(format: Format) {
    let (_dir, path) = new_store(format);
    let w = create(&path, format).expect("create");
    let root = attrs(json!({"encoding-type": "anndata", "encoding-version": "0.1.0"}));
    w.create_group("", &root).expect("root");
    let a = attrs(json!({
        "encoding-type": "dataframe",
        "_index": "_index",
        "column-order": ["b", "a", "ü"],
        "shape": [3, 4],
        "ordered": true,
        "pi": 3.5,
        "neg": -2,
        "empty": [],
    }));
    w.create_group("obs", &a).expect("obs");
    w.create_group("obs/nested", &Attrs::new()).expect("nested");
    w.create_group("uns", &Attrs::new()).expect("uns");
    let spec = ArraySpec {
        shape: vec![3],
        dtype: DType::I64,
        chunks: vec![2],
        shards: None,
        compression: Compression::None,
    };
    w.create_array("obs/b", &spec, &attrs(json!({"k": "v"})))
        .expect("array");
    w.write("obs/b", &[0], &[3], &Data::I64(vec![1, 2, 3]))
        .expect("write");
    w.finish().expect("finish");
    drop(w);

    let r = open(&path).expect("open");
    assert_eq!(r.format(), format);
    assert_eq!(r.kind("").unwrap(), Some(NodeKind::Group));
    assert_eq!(r.kind("obs").unwrap(), Some(NodeKind::Group));
    assert_eq!(r.kind("obs/b").unwrap(), Some(NodeKind::Array));
    assert_eq!(r.kind("nope").unwrap(), None);
    assert_eq!(r.kind("obs/nope").unwrap(), None);
    assert_eq!(r.children("").unwrap(), vec!["obs", "uns"]);
    assert_eq!(r.children("obs").unwrap(), vec!["b", "nested"]);
    assert!(r.children("uns").unwrap().is_empty());
    assert_eq!(r.attrs("").unwrap(), root);
    let got = r.attrs("obs").unwrap();
    for key in [
        "encoding-type",
        "_index",
        "column-order",
        "shape",
        "ordered",
        "pi",
        "neg",
    ] {
        assert_eq!(got.get(key), a.get(key), "attribute {key}");
    }
    // An empty list may come back as an empty array of any type, but as a list.
    assert_eq!(got.get("empty"), Some(&json!([])));
    assert_eq!(r.attrs("obs/b").unwrap(), attrs(json!({"k": "v"})));
    assert!(matches!(r.attrs("missing"), Err(StoreError::NoNode { .. })));
}

fn round_trip_1d(format: Format) {
    for compression in compressions(format) {
        let (_dir, path) = new_store(format);
        let w = create(&path, format).expect("create");
        w.create_group("", &Attrs::new()).unwrap();
        for dtype in DType::ALL {
            let n = 23;
            let node = format!("a_{}", dtype.name());
            let spec = ArraySpec {
                shape: vec![n],
                dtype,
                chunks: vec![5],
                shards: None,
                compression,
            };
            w.create_array(&node, &spec, &Attrs::new()).unwrap();
            let all = sample(dtype, n as usize);
            // Written in uneven blocks that straddle chunk boundaries.
            for (s, e) in [(0usize, 7usize), (7, 10), (10, 23)] {
                let block = slice_rows(&all, 1, s..e);
                w.write(&node, &[s as u64], &[(e - s) as u64], &block)
                    .unwrap_or_else(|err| panic!("{dtype} {compression:?}: {err}"));
            }
        }
        w.finish().unwrap();
        drop(w);
        let r = open(&path).unwrap();
        for dtype in DType::ALL {
            let node = format!("a_{}", dtype.name());
            let info = r.array_info(&node).unwrap();
            assert_eq!(info.shape, vec![23]);
            assert_eq!(info.dtype, dtype);
            assert_eq!(info.chunks, Some(vec![5]), "{dtype}");
            let all = sample(dtype, 23);
            let got = r.read(&node, &[0], &[23]).unwrap();
            assert!(
                same(&got, &all),
                "{dtype} {compression:?}: {got:?} vs {all:?}"
            );
            let part = r.read(&node, &[4], &[9]).unwrap();
            assert!(same(&part, &slice_rows(&all, 1, 4..13)), "{dtype} part");
            let none = r.read(&node, &[23], &[0]).unwrap();
            assert_eq!(none.len(), 0);
            assert_eq!(none.dtype(), dtype);
        }
        assert!(matches!(
            r.read("a_int32", &[20], &[5]),
            Err(StoreError::OutOfBounds { .. })
        ));
    }
}

fn round_trip_2d(format: Format, shards: bool) {
    let (_dir, path) = new_store(format);
    let w = create(&path, format).expect("create");
    w.create_group("", &Attrs::new()).unwrap();
    let (rows, cols) = (17u64, 6u64);
    for dtype in [
        DType::F64,
        DType::F32,
        DType::I32,
        DType::U8,
        DType::Bool,
        DType::Str,
    ] {
        let node = format!("m_{}", dtype.name());
        let spec = ArraySpec {
            shape: vec![rows, cols],
            dtype,
            chunks: vec![4, 3],
            shards: shards.then(|| vec![8, 6]),
            compression: Compression::Lz4 { level: 5 },
        };
        let spec = if format == Format::H5ad {
            ArraySpec {
                shards: None,
                compression: Compression::Gzip { level: 1 },
                ..spec
            }
        } else {
            spec
        };
        w.create_array(&node, &spec, &Attrs::new()).unwrap();
        let all = sample(dtype, (rows * cols) as usize);
        for (s, e) in [(0u64, 8u64), (8, 16), (16, 17)] {
            let block = slice_rows(&all, cols as usize, s as usize..e as usize);
            w.write(&node, &[s, 0], &[e - s, cols], &block).unwrap();
        }
    }
    w.finish().unwrap();
    drop(w);
    let r = open(&path).unwrap();
    for dtype in [
        DType::F64,
        DType::F32,
        DType::I32,
        DType::U8,
        DType::Bool,
        DType::Str,
    ] {
        let node = format!("m_{}", dtype.name());
        let info = r.array_info(&node).unwrap();
        assert_eq!(info.shape, vec![rows, cols]);
        assert_eq!(info.chunks, Some(vec![4, 3]));
        if shards && format == Format::ZarrV3 {
            assert_eq!(info.shards, Some(vec![8, 6]));
        }
        let all = sample(dtype, (rows * cols) as usize);
        let got = r.read(&node, &[0, 0], &[rows, cols]).unwrap();
        assert!(same(&got, &all), "{dtype}");
        // An interior block: rows 3..10, cols 2..5.
        let got = r.read(&node, &[3, 2], &[7, 3]).unwrap();
        let mut want = Data::with_capacity(dtype, 21);
        for i in 3..10 {
            let row = slice_rows(&all, 1, i * 6 + 2..i * 6 + 5);
            match (&mut want, row) {
                (Data::F64(w), Data::F64(r)) => w.extend(r),
                (Data::F32(w), Data::F32(r)) => w.extend(r),
                (Data::I32(w), Data::I32(r)) => w.extend(r),
                (Data::U8(w), Data::U8(r)) => w.extend(r),
                (Data::Bool(w), Data::Bool(r)) => w.extend(r),
                (Data::Str(w), Data::Str(r)) => w.extend(r),
                _ => unreachable!(),
            }
        }
        assert!(same(&got, &want), "{dtype} block");
    }
}

fn scalars_and_empty(format: Format) {
    let (_dir, path) = new_store(format);
    let w = create(&path, format).expect("create");
    w.create_group("", &Attrs::new()).unwrap();
    for (node, data) in [
        ("s_f64", Data::F64(vec![2.5])),
        ("s_i64", Data::I64(vec![-7])),
        ("s_bool", Data::Bool(vec![true])),
        ("s_str", Data::Str(vec!["héllo".into()])),
    ] {
        let spec = ArraySpec {
            shape: vec![],
            dtype: data.dtype(),
            chunks: vec![],
            shards: None,
            compression: Compression::None,
        };
        w.create_array(node, &spec, &Attrs::new()).unwrap();
        w.write(node, &[], &[], &data).unwrap();
    }
    for (node, dtype, shape) in [
        ("e_1d", DType::F32, vec![0u64]),
        ("e_str", DType::Str, vec![0]),
        ("e_2d", DType::I64, vec![0, 5]),
        ("e_2d_b", DType::F64, vec![4, 0]),
    ] {
        let spec = ArraySpec {
            chunks: shape.iter().map(|&s| s.max(1)).collect(),
            shape: shape.clone(),
            dtype,
            shards: None,
            compression: Compression::None,
        };
        w.create_array(node, &spec, &Attrs::new()).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    let r = open(&path).unwrap();
    assert_eq!(r.read("s_f64", &[], &[]).unwrap(), Data::F64(vec![2.5]));
    assert_eq!(r.read("s_i64", &[], &[]).unwrap(), Data::I64(vec![-7]));
    assert_eq!(r.read("s_bool", &[], &[]).unwrap(), Data::Bool(vec![true]));
    assert_eq!(
        r.read("s_str", &[], &[]).unwrap(),
        Data::Str(vec!["héllo".into()])
    );
    assert_eq!(r.array_info("s_str").unwrap().shape, Vec::<u64>::new());
    assert_eq!(r.array_info("e_2d").unwrap().shape, vec![0, 5]);
    assert_eq!(r.array_info("e_2d_b").unwrap().shape, vec![4, 0]);
    assert_eq!(r.read("e_1d", &[0], &[0]).unwrap(), Data::F32(vec![]));
    assert_eq!(r.read("e_str", &[0], &[0]).unwrap(), Data::Str(vec![]));
    assert_eq!(
        r.read("e_2d_b", &[0, 0], &[4, 0]).unwrap(),
        Data::F64(vec![])
    );
}

fn missing_and_wrong(format: Format) {
    let (_dir, path) = new_store(format);
    assert!(matches!(open(&path), Err(StoreError::NotFound { .. })));
    let w = create(&path, format).unwrap();
    w.create_group("", &Attrs::new()).unwrap();
    w.create_group("g", &Attrs::new()).unwrap();
    w.finish().unwrap();
    drop(w);
    let r = open(&path).unwrap();
    assert!(r.array_info("g").is_err());
    assert!(r.array_info("nothing").is_err());
    assert!(r.read("nothing", &[0], &[1]).is_err());
    let err = r.children("nothing").unwrap_err().to_string();
    assert!(err.contains("nothing"), "{err}");
}

fn resize_trims(format: Format) {
    let (_dir, path) = new_store(format);
    let w = create(&path, format).expect("create");
    w.create_group("", &Attrs::new()).unwrap();
    let spec = ArraySpec {
        shape: vec![23],
        dtype: DType::F64,
        chunks: vec![5],
        shards: (format == Format::ZarrV3).then(|| vec![10]),
        compression: Compression::None,
    };
    w.create_array("a", &spec, &Attrs::new()).unwrap();
    let all = sample(DType::F64, 12);
    w.write("a", &[0], &[12], &all).unwrap();
    w.resize("a", &[12]).unwrap();
    w.finish().unwrap();
    drop(w);
    let r = open(&path).unwrap();
    assert_eq!(r.array_info("a").unwrap().shape, vec![12]);
    assert!(same(&r.read("a", &[0], &[12]).unwrap(), &all));
    assert!(r.read("a", &[10], &[5]).is_err());
}

/// What a reader said of a node stays its answer: inputs do not change during a run,
/// so planning's repeated questions are answered without going back to the store.
fn answers_are_kept(format: Format) {
    let (dir, path) = new_store(format);
    let w = create(&path, format).unwrap();
    w.create_group("", &Attrs::new()).unwrap();
    w.create_group("g", &attrs(json!({"encoding-type": "dict"})))
        .unwrap();
    let spec = ArraySpec {
        shape: vec![4],
        dtype: DType::I32,
        chunks: vec![4],
        shards: None,
        compression: Compression::None,
    };
    w.create_array("g/a", &spec, &attrs(json!({"k": 1})))
        .unwrap();
    w.finish().unwrap();
    drop(w);
    let r = open(&path).unwrap();
    let asked = (
        r.kind("g").unwrap(),
        r.kind("none").unwrap(),
        r.children("g").unwrap(),
        r.attrs("g/a").unwrap(),
        r.array_info("g/a").unwrap(),
    );
    assert_eq!(asked.0, Some(NodeKind::Group));
    assert_eq!(asked.1, None);
    assert_eq!(asked.2, vec!["a".to_string()]);
    drop(dir);
    assert!(!path.exists());
    let again = (
        r.kind("g").unwrap(),
        r.kind("none").unwrap(),
        r.children("g").unwrap(),
        r.attrs("g/a").unwrap(),
        r.array_info("g/a").unwrap(),
    );
    assert_eq!(asked, again);
}

macro_rules! conformance {
    ($name:ident, $format:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn groups_and_attributes() {
                super::groups_and_attributes($format)
            }
            #[test]
            fn round_trip_1d() {
                super::round_trip_1d($format)
            }
            #[test]
            fn round_trip_2d() {
                super::round_trip_2d($format, false)
            }
            #[test]
            fn round_trip_2d_sharded() {
                super::round_trip_2d($format, $format == Format::ZarrV3)
            }
            #[test]
            fn scalars_and_empty() {
                super::scalars_and_empty($format)
            }
            #[test]
            fn resize_trims() {
                super::resize_trims($format)
            }
            #[test]
            fn missing_and_wrong() {
                super::missing_and_wrong($format)
            }
            #[test]
            fn answers_are_kept() {
                super::answers_are_kept($format)
            }
        }
    };
}

conformance!(zarr_v2, Format::ZarrV2);
conformance!(zarr_v3, Format::ZarrV3);
conformance!(hdf5, Format::H5ad);
