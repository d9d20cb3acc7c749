//! `adcat concat` on stores built by adcat itself, so these run without Python: shapes,
//! values through every storage path, labels, and refusals. The anndata oracle
//! (`tests/oracle/test_concat.py`) checks full semantics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use adcat::concat::index::Reindex;
use adcat::concat::merge::Strategy;
use adcat::concat::{self, ConcatOptions};
use adcat::layout::Layout;
use adcat::store::{self, Compression, Data, Format, StoreReader};
use adcat::value::{read_value, Value};
use common::{write_sample, FORMATS};

fn options(inputs: Vec<PathBuf>, output: PathBuf, format: Format) -> ConcatOptions {
    ConcatOptions {
        inputs,
        output,
        axis: 0,
        outer: false,
        merge: Strategy::None,
        uns_merge: Strategy::None,
        label: None,
        keys: None,
        index_unique: None,
        fill_value: None,
        pairwise: false,
        wide_indices: false,
        device: concat::device::Device::Cpu,
        layout: Layout {
            format,
            chunk_bytes: 1 << 20,
            shard_bytes: Some(32 << 20),
            compression: if format == Format::H5ad {
                Compression::None
            } else {
                Compression::Lz4 { level: 5 }
            },
        },
        max_memory: 512 << 20,
        overwrite: false,
        validate: true,
        progress: false,
    }
}

fn dense_of(v: &Value) -> (Vec<u64>, Vec<f64>) {
    let to_f64 = |d: &Data| -> Vec<f64> {
        match adcat::concat::dtype::cast(d.clone(), adcat::store::DType::F64) {
            Data::F64(v) => v,
            _ => unreachable!(),
        }
    };
    match v {
        Value::Array { data, shape } => (shape.clone(), to_f64(data)),
        Value::Sparse(s) => {
            let [r, c] = s.shape;
            let mut out = vec![0.0; (r * c) as usize];
            let vals = to_f64(&s.data);
            let major = if s.csr { r } else { c } as usize;
            for m in 0..major {
                let run = s.indptr[m] as usize..s.indptr[m + 1] as usize;
                for (&n, &v) in s.indices[run.clone()].iter().zip(&vals[run]) {
                    let (i, j) = if s.csr {
                        (m, n as usize)
                    } else {
                        (n as usize, m)
                    };
                    out[i * c as usize + j] = v;
                }
            }
            (vec![r, c], out)
        }
        other => panic!("not a matrix: {other:?}"),
    }
}

fn open(p: &Path) -> Box<dyn StoreReader> {
    store::open(p).expect("open output")
}

#[test]
fn two_samples_stack_in_every_format_pair() {
    for fin in FORMATS {
        for fout in FORMATS {
            let dir = tempfile::tempdir().unwrap();
            let a = dir.path().join(format!("a.{}", common::suffix(fin)));
            let b = dir.path().join(format!("b.{}", common::suffix(fin)));
            write_sample(&a, fin, |_| {});
            write_sample(&b, fin, |_| {});
            let out = dir.path().join(format!("o.{}", common::suffix(fout)));
            let mut opts = options(vec![a.clone(), b], out.clone(), fout);
            opts.label = Some("batch".into());
            opts.index_unique = Some("-".into());
            concat::concat(opts).unwrap_or_else(|e| panic!("{fin:?} -> {fout:?}: {e}"));
            let (ra, ro) = (open(&a), open(&out));
            let (shape_a, xa) = dense_of(&read_value(ra.as_ref(), "X").unwrap());
            let (shape_o, xo) = dense_of(&read_value(ro.as_ref(), "X").unwrap());
            assert_eq!(shape_o, vec![shape_a[0] * 2, shape_a[1]]);
            assert_eq!(&xo[..xa.len()], &xa[..]);
            assert_eq!(&xo[xa.len()..], &xa[..]);
            let names = adcat::concat::frame::frame_index(ro.as_ref(), "obs").unwrap();
            assert_eq!(names.len() as u64, shape_o[0]);
            assert!(
                names[0].ends_with("-0") && names.last().unwrap().ends_with("-1"),
                "{names:?}"
            );
            match read_value(ro.as_ref(), "obs/batch").unwrap() {
                Value::Categorical { codes, .. } => {
                    assert_eq!(codes.iter().filter(|&&c| c == 1).count() as u64, shape_a[0]);
                }
                other => panic!("label column: {other:?}"),
            }
        }
    }
}

/// Every file of the store at `root`, by path relative to it, with its bytes.
fn tree_bytes(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    common::files_under(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(root).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// Zarr outputs are reproducible byte for byte (`.h5ad` ones hold the same data, but
/// HDF5 leaves some unused bytes of its metadata blocks as they were in memory).
#[test]
fn the_same_run_gives_the_same_zarr_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.h5ad");
    let b = dir.path().join("b.zarr");
    write_sample(&a, Format::H5ad, |_| {});
    write_sample(&b, Format::ZarrV2, |_| {});
    for fout in [Format::ZarrV2, Format::ZarrV3] {
        let run = |name: &str| {
            let out = dir.path().join(format!("{name}-{fout:?}.zarr"));
            let mut opts = options(vec![a.clone(), b.clone()], out.clone(), fout);
            opts.label = Some("batch".into());
            concat::concat(opts).unwrap_or_else(|e| panic!("{fout:?}: {e}"));
            tree_bytes(&out)
        };
        let (first, second) = (run("first"), run("second"));
        assert!(!first.is_empty());
        assert_eq!(
            first.iter().map(|f| &f.0).collect::<Vec<_>>(),
            second.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "{fout:?}: different files"
        );
        for ((name, x), (_, y)) in first.iter().zip(&second) {
            assert!(
                x == y,
                "{fout:?}: {} differs between two runs",
                name.display()
            );
        }
    }
}

#[test]
fn tiny_memory_budget_gives_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.zarr");
    write_sample(&a, Format::ZarrV3, |_| {});
    let mut outs = Vec::new();
    for (i, budget) in [1u64 << 16, 512 << 20].into_iter().enumerate() {
        let out = dir.path().join(format!("o{i}.h5ad"));
        let mut opts = options(
            vec![a.clone(), a.clone(), a.clone()],
            out.clone(),
            Format::H5ad,
        );
        opts.max_memory = budget;
        concat::concat(opts).unwrap();
        outs.push(dense_of(&read_value(open(&out).as_ref(), "X").unwrap()));
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn refusals_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.h5ad");
    write_sample(&a, Format::H5ad, |_| {});
    let out = dir.path().join("o.zarr");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_adcat"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let a_s = a.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    // No inputs: a usage error.
    assert_eq!(run(&["concat", "-o", out_s]).0, 2);
    // Wrong number of keys.
    let (code, err) = run(&["concat", a_s, a_s, "-o", out_s, "--keys", "x"]);
    assert_eq!(code, 2, "{err}");
    // A fill value that is not a number.
    let (code, _) = run(&["concat", a_s, "-o", out_s, "--fill-value", "lots"]);
    assert_eq!(code, 2);
    // A missing input: names the file.
    let (code, err) = run(&["concat", a_s, "/nonexistent/x.zarr", "-o", out_s]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.zarr"), "{err}");
    // An output that cannot be written is refused before any input is opened: the
    // missing input is not what the error names.
    let nowhere = dir.path().join("nope").join("o.zarr");
    let (code, err) = run(&[
        "concat",
        "/nonexistent/x.zarr",
        "-o",
        nowhere.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("output directory") && !err.contains("/nonexistent/x.zarr"),
        "{err}"
    );
    std::fs::create_dir(&out).unwrap();
    let (code, err) = run(&["concat", "/nonexistent/x.zarr", "-o", out_s]);
    assert_eq!(code, 1);
    assert!(!err.contains("/nonexistent/x.zarr"), "{err}");
    std::fs::remove_dir(&out).unwrap();
    assert_eq!(common::listing(dir.path()), vec!["a.h5ad"]);
}

#[test]
fn gpu_asked_for_without_an_adapter_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.h5ad");
    write_sample(&a, Format::H5ad, |_| {});
    let out = dir.path().join("o.zarr");
    // Vulkan only, with a driver list that names no driver: no adapter at all. The
    // device opens while the run is planned and its frames written, so this also
    // checks that a failure there leaves no output behind.
    let none = dir.path().join("no-driver.json");
    let o = Command::new(env!("CARGO_BIN_EXE_adcat"))
        .args(["concat", "--device", "gpu", "--quiet", "-o"])
        .arg(&out)
        .args([&a, &a])
        .env("WGPU_BACKEND", "vulkan")
        .env("VK_ICD_FILENAMES", &none)
        .env("VK_DRIVER_FILES", &none)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--device gpu") && err.contains("adapter"),
        "{err}"
    );
    assert_eq!(common::listing(dir.path()), vec!["a.h5ad"]);
}

#[test]
fn reindex_by_name_is_used_for_outer_joins() {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r = Reindex::by_name(&names(&["g2", "g1"]), &names(&["g1", "g2", "g3"]));
    assert_eq!(r.old_to_new, vec![Some(1), Some(0)]);
    assert!(r.has_missing());
}

/// Descriptors this process holds open on files under `dir`.
fn open_descriptors_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

#[test]
fn h5ad_inputs_beyond_the_open_file_cap_are_closed_and_reopened() {
    const CAP: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..12)
        .map(|i| {
            let p = dir.path().join(format!("in{i:02}.h5ad"));
            write_sample(&p, Format::H5ad, |_| {});
            p
        })
        .collect();
    // The cap is process-wide; the other tests here only reopen files more often.
    store::h5_files::set_open_limit(CAP);
    let readers: Vec<_> = inputs.iter().map(|p| open(p)).collect();
    let first: Vec<Data> = (0..2)
        .flat_map(|_| &readers)
        .map(|r| {
            let d = r.read("X/data", &[0], &[5]).unwrap();
            let open_now = open_descriptors_under(dir.path());
            assert!((1..=CAP).contains(&open_now), "{open_now} files open");
            d
        })
        .collect();
    assert!(first.iter().all(|d| d == &first[0]));
    drop(readers);

    let out = dir.path().join("out.zarr");
    concat::concat(options(inputs.clone(), out.clone(), Format::ZarrV3)).unwrap();
    let (shape_a, xa) = dense_of(&read_value(open(&inputs[0]).as_ref(), "X").unwrap());
    let (shape_o, xo) = dense_of(&read_value(open(&out).as_ref(), "X").unwrap());
    assert_eq!(shape_o, vec![shape_a[0] * 12, shape_a[1]]);
    for part in xo.chunks(xa.len()) {
        assert_eq!(part, &xa[..]);
    }
}
