//! `adcat convert` through the library and the binary, on stores built in Rust.

mod common;

use std::path::Path;
use std::process::Command;

use adcat::store::{self, Attrs, Compression, Data, Format};
use common::*;
use serde_json::json;

fn adcat(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_adcat"))
        .args(args)
        .output()
        .expect("run adcat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn convert(input: &Path, output: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "convert".as_ref(),
        input.as_os_str(),
        output.as_os_str(),
        "--quiet".as_ref(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    adcat(&args)
}

#[test]
fn every_format_pair_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for from in FORMATS {
        let input = dir.path().join(format!(
            "in_{}.{}",
            from.name().replace(' ', ""),
            suffix(from)
        ));
        write_sample(&input, from, |_| {});
        let want = canonical(store::open(&input).unwrap().as_ref());
        for to in FORMATS {
            for extra in [
                &[][..],
                &["--chunk-size", "8", "--shard-size", "16"][..],
                &["--compression", "gzip:1"][..],
            ] {
                let output = dir.path().join(format!("out.{}", suffix(to)));
                let mut flags = extra.to_vec();
                if to == Format::ZarrV2 {
                    flags.extend(["--zarr-format", "2"]);
                }
                let (code, _, err) = convert(&input, &output, &flags);
                assert_eq!(code, 0, "{from:?} -> {to:?} {extra:?}: {err}");
                let got = store::open(&output).unwrap();
                assert_eq!(got.format(), to);
                assert_eq!(
                    canonical(got.as_ref()),
                    want,
                    "{from:?} -> {to:?} {extra:?}"
                );
                std::fs::remove_dir_all(&output)
                    .or_else(|_| std::fs::remove_file(&output))
                    .unwrap();
            }
        }
    }
}

#[test]
fn small_chunks_and_shards_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.h5ad");
    write_sample(&input, Format::H5ad, |_| {});
    let output = dir.path().join("out.zarr");
    let (code, _, err) = convert(
        &input,
        &output,
        &[
            "--chunk-size",
            "16",
            "--shard-size",
            "32",
            "--compression",
            "zstd",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s = store::open(&output).unwrap();
    let info = s.array_info("layers/dense").unwrap();
    // 16 bytes of float64 = 2 elements per chunk: one row would not fit, so 1 × 2.
    assert_eq!(info.chunks, Some(vec![1, 2]));
    let shards = info.shards.expect("sharded");
    assert_eq!(shards[1] % 2, 0);
    assert!(
        info.codecs.iter().any(|c| c.contains("zstd")),
        "{:?}",
        info.codecs
    );
}

#[test]
fn existing_output_is_kept_without_overwrite_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.zarr");
    write_sample(&input, Format::ZarrV3, |_| {});
    let output = dir.path().join("out.h5ad");
    std::fs::write(&output, b"precious").unwrap();
    let (code, _, err) = convert(&input, &output, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--overwrite") && err.contains("out.h5ad"),
        "{err}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), b"precious");
    let (code, _, err) = convert(&input, &output, &["--overwrite"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(store::open(&output).unwrap().format(), Format::H5ad);
    assert_eq!(listing(dir.path()), vec!["in.zarr", "out.h5ad"]);
}

#[test]
fn invalid_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.zarr");
    write_sample(&input, Format::ZarrV2, |_| {});
    for (out, flags) in [
        ("o.h5ad", &["--compression", "lz4"][..]),
        ("o.h5ad", &["--compression", "zstd:3"][..]),
        ("o.zarr", &["--compression", "brotli"][..]),
        ("o.zarr", &["--max-memory", "lots"][..]),
        ("o.zarr", &["--zarr-format", "4"][..]),
        ("o.txt", &[][..]),
    ] {
        let (code, _, err) = convert(&input, &dir.path().join(out), flags);
        assert_eq!(code, 2, "{out} {flags:?}: {err}");
    }
    assert_eq!(listing(dir.path()), vec!["in.zarr"]);
}

/// Each case breaks the sample in one way and names what the error must mention.
/// (case name, how the sample is damaged, what the message must name).
type BrokenCase = (
    &'static str,
    Box<dyn Fn(&dyn store::StoreWriter)>,
    &'static str,
);

fn broken_cases() -> Vec<BrokenCase> {
    vec![
        (
            "missing encoding-type",
            Box::new(|w| {
                w.create_group("obsm/bad", &Attrs::new()).unwrap();
            }),
            "obsm/bad: missing encoding-type",
        ),
        (
            "unknown encoding",
            Box::new(|w| {
                w.create_group(
                    "uns/x",
                    &attrs(json!({"encoding-type": "something-new", "encoding-version": "0.1.0"})),
                )
                .unwrap();
            }),
            "unsupported element uns/x",
        ),
        (
            "awkward array",
            Box::new(|w| {
                w.create_group(
                    "obsm/awk",
                    &attrs(json!({"encoding-type": "awkward-array", "encoding-version": "0.1.0", "length": 4})),
                )
                .unwrap();
            }),
            "unsupported element obsm/awk (encoding-type awkward-array",
        ),
        (
            "unknown version",
            Box::new(|w| {
                w.create_group(
                    "uns/v",
                    &attrs(json!({"encoding-type": "dict", "encoding-version": "9.9.9"})),
                )
                .unwrap();
            }),
            "uns/v",
        ),
        (
            "indptr too short",
            Box::new(|w| {
                w.create_group("layers/s", &attrs(json!({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": [4, 3]})))
                    .unwrap();
                put(
                    w,
                    "layers/s/data",
                    &[1],
                    Data::F32(vec![1.0]),
                    Attrs::new(),
                    1,
                );
                put(
                    w,
                    "layers/s/indices",
                    &[1],
                    Data::I32(vec![0]),
                    Attrs::new(),
                    1,
                );
                put(
                    w,
                    "layers/s/indptr",
                    &[3],
                    Data::I32(vec![0, 1, 1]),
                    Attrs::new(),
                    1,
                );
            }),
            "layers/s: invalid csr_matrix: indptr has 3 entries",
        ),
        (
            "dataframe column missing",
            Box::new(|w| {
                w.create_group(
                    "obsm/df",
                    &attrs(json!({"encoding-type": "dataframe", "encoding-version": "0.2.0", "_index": "_index", "column-order": ["a"]})),
                )
                .unwrap();
                put(
                    w,
                    "obsm/df/_index",
                    &[4],
                    Data::Str(vec!["a".into(); 4]),
                    attrs(json!({"encoding-type": "string-array", "encoding-version": "0.2.0"})),
                    4,
                );
            }),
            "obsm/df: invalid dataframe: column \"a\" is missing",
        ),
        (
            "categorical without codes",
            Box::new(|w| {
                w.create_group("obs/c2", &attrs(json!({"encoding-type": "categorical", "encoding-version": "0.2.0", "ordered": false})))
                    .unwrap();
            }),
            "obs/c2: invalid categorical: missing part \"codes\"",
        ),
    ]
}

#[test]
fn broken_inputs_fail_with_file_and_element_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        for (name, tamper, expect) in broken_cases() {
            let input = dir.path().join(format!("bad.{}", suffix(format)));
            write_sample(&input, format, |w| tamper(w));
            for out in ["out.zarr", "out.h5ad"] {
                let before = listing(dir.path());
                let (code, _, err) = convert(&input, &dir.path().join(out), &[]);
                assert_eq!(code, 1, "{name} ({format:?}): {err}");
                let line = err.trim();
                assert_eq!(line.lines().count(), 1, "{name}: {err}");
                assert!(line.starts_with("adcat: error: "), "{name}: {err}");
                assert!(line.contains(&input.display().to_string()), "{name}: {err}");
                assert!(line.contains(expect), "{name} ({format:?}): {err}");
                assert_eq!(listing(dir.path()), before, "{name}: output left behind");
            }
            std::fs::remove_dir_all(&input)
                .or_else(|_| std::fs::remove_file(&input))
                .unwrap();
        }
    }
}

#[test]
fn not_anndata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let input = dir.path().join(format!("plain.{}", suffix(format)));
        let w = store::create(&input, format).unwrap();
        w.create_group("", &Attrs::new()).unwrap();
        w.finish().unwrap();
        drop(w);
        let (code, _, err) = convert(&input, &dir.path().join("o.zarr"), &[]);
        assert_eq!(code, 1);
        assert!(
            err.contains("not an AnnData store") && err.contains("plain."),
            "{err}"
        );
        std::fs::remove_dir_all(&input)
            .or_else(|_| std::fs::remove_file(&input))
            .unwrap();
    }
    let text = dir.path().join("text.h5ad");
    std::fs::write(&text, "hello").unwrap();
    let (code, _, err) = convert(&text, &dir.path().join("o.zarr"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("text.h5ad"), "{err}");
    let (code, _, err) = convert(
        &dir.path().join("missing.zarr"),
        &dir.path().join("o.zarr"),
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("missing.zarr"), "{err}");
    assert_eq!(listing(dir.path()), vec!["text.h5ad"]);
}

#[test]
fn inspect_reports_elements_and_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.zarr");
    write_sample(&input, Format::ZarrV3, |_| {});
    let (code, out, err) = adcat(&["inspect".as_ref(), input.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["format"], "zarr v3");
    let elements = report["elements"].as_array().unwrap();
    let x = elements.iter().find(|e| e["path"] == "X").unwrap();
    assert_eq!(x["encoding_type"], "csr_matrix");
    assert_eq!(x["shape"], json!([4, 3]));
    assert_eq!(x["nnz"], 5);
    assert_eq!(x["dtype"], "float32");
    let root = elements.iter().find(|e| e["path"] == "").unwrap();
    assert_eq!(root["shape"], json!([4, 3]));
    let arrays = report["arrays"].as_array().unwrap();
    assert!(arrays
        .iter()
        .any(|a| a["path"] == "X/indptr" && a["dtype"] == "int32"));
    let (code, table, _) = adcat(&["inspect".as_ref(), input.as_os_str()]);
    assert_eq!(code, 0);
    for needle in [
        "csr_matrix",
        "categorical",
        "nullable-integer",
        "indptr",
        "(4, 3)",
    ] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }
}

#[test]
fn library_plan_is_metadata_only_and_reports_payload() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.h5ad");
    write_sample(&input, Format::H5ad, |_| {});
    let options = adcat::convert::ConvertOptions {
        input: input.clone(),
        output: dir.path().join("out.zarr"),
        layout: adcat::layout::Layout {
            format: Format::ZarrV3,
            chunk_bytes: 1 << 20,
            shard_bytes: None,
            compression: Compression::Lz4 { level: 5 },
        },
        max_memory: 64 << 20,
        overwrite: false,
        validate: true,
        progress: false,
    };
    let plan = adcat::convert::plan(options).unwrap();
    assert!(!dir.path().join("out.zarr").exists());
    // X: 5 f32 + 5 i32 + 5 i32; layer 12 f64; obs/var columns; uns scalars.
    assert!(
        plan.payload_bytes >= 5 * 4 * 3 + 12 * 8,
        "{}",
        plan.payload_bytes
    );
    adcat::convert::execute(&plan).unwrap();
    assert!(dir.path().join("out.zarr").is_dir());
}
