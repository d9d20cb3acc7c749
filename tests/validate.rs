//! `--validate`'s checks on stores built in Rust: a sound store passes, and each broken
//! sparse invariant is named with the element it was found in.

mod common;

use adcat::store::{Data, StoreWriter};
use common::*;

fn with_x(
    dir: &std::path::Path,
    format: adcat::store::Format,
    name: &str,
    indices: Option<Vec<i32>>,
    indptr: Option<Vec<i32>>,
) -> std::path::PathBuf {
    let path = out_path(dir, &format!("{name}-{format:?}.{}", suffix(format)));
    write_sample(&path, format, |w: &dyn StoreWriter| {
        if let Some(i) = indices {
            w.write("X/indices", &[0], &[5], &Data::I32(i)).unwrap();
        }
        if let Some(p) = indptr {
            w.write("X/indptr", &[0], &[5], &Data::I32(p)).unwrap();
        }
    });
    path
}

#[test]
fn a_sound_store_passes_with_every_entry_checked() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let path = with_x(dir.path(), format, "sound", None, None);
        let v = adcat::validate::validate(&path, 2).expect("valid");
        assert_eq!(v.sparse_matrices, 1, "{format:?}");
        assert_eq!(v.entries_checked, 5, "{format:?}");
        assert!(v.elements > 10, "{format:?}: {v:?}");
    }
}

/// A case name, new X/indices, new X/indptr, and what the error must say.
type Tamper = (
    &'static str,
    Option<Vec<i32>>,
    Option<Vec<i32>>,
    &'static str,
);

#[test]
fn broken_sparse_invariants_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [Tamper; 5] = [
        (
            "out_of_range",
            Some(vec![0, 3, 1, 0, 2]),
            None,
            "outside the 3 columns",
        ),
        (
            "unsorted",
            Some(vec![2, 0, 1, 0, 2]),
            None,
            "not strictly ascending",
        ),
        (
            "repeated",
            Some(vec![0, 2, 1, 2, 2]),
            None,
            "not strictly ascending",
        ),
        (
            "decreasing",
            None,
            Some(vec![0, 2, 1, 3, 5]),
            "indptr[2] = 1 after 2",
        ),
        (
            "offset_start",
            None,
            Some(vec![1, 2, 3, 3, 5]),
            "indptr starts at 1",
        ),
    ];
    for format in FORMATS {
        for (name, indices, indptr, want) in cases.clone() {
            let path = with_x(dir.path(), format, name, indices, indptr);
            // A block of 2 values makes the windows cross line boundaries.
            let err = adcat::validate::validate(&path, 2)
                .expect_err(name)
                .to_string();
            assert!(err.contains("/X"), "{format:?} {name}: {err}");
            assert!(err.contains(want), "{format:?} {name}: {err}");
        }
    }
}

#[test]
fn an_undecodable_chunk_of_a_dense_array_is_found() {
    let dir = tempfile::tempdir().unwrap();
    for format in [adcat::store::Format::ZarrV2, adcat::store::Format::ZarrV3] {
        let path = with_x(dir.path(), format, "chunk", None, None);
        let sound = adcat::validate::validate(&path, 2).expect("valid");
        // layers/dense (4 × 3 float64) and X/data (5 float32) are read through.
        assert!(sound.values_read >= 12 + 5, "{format:?}: {sound:?}");
        let chunks: Vec<_> = files_under(&path.join("layers/dense"))
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                !name.starts_with('.') && name != "zarr.json"
            })
            .collect();
        let last = chunks.last().expect("a chunk file");
        std::fs::write(last, b"not a chunk").unwrap();
        let err = adcat::validate::validate(&path, 2)
            .expect_err("a truncated chunk")
            .to_string();
        assert!(err.contains("/layers/dense"), "{format:?}: {err}");
    }
}

#[test]
fn elements_misaligned_with_obs_or_var_are_found() {
    use adcat::store::{Compression, DType};
    let dir = tempfile::tempdir().unwrap();
    // Each one row or column off the sample's 4 × 3.
    let cases = [
        ("layers/wide", vec![4u64, 4]),
        ("obsm/short", vec![3, 2]),
        ("varm/long", vec![4, 2]),
        ("obsp/rect", vec![4, 3]),
        ("varp/rect", vec![3, 4]),
    ];
    for format in FORMATS {
        for (i, (node, shape)) in cases.iter().enumerate() {
            let path = out_path(dir.path(), &format!("m{i}-{format:?}.{}", suffix(format)));
            write_sample(&path, format, |w: &dyn StoreWriter| {
                let spec = adcat::store::ArraySpec {
                    shape: shape.clone(),
                    dtype: DType::F32,
                    chunks: shape.clone(),
                    shards: None,
                    compression: Compression::None,
                };
                let a = attrs(
                    serde_json::json!({"encoding-type": "array", "encoding-version": "0.2.0"}),
                );
                w.create_array(node, &spec, &a).unwrap();
                let n = shape.iter().product::<u64>() as usize;
                w.write(node, &[0, 0], shape, &Data::F32(vec![1.0; n]))
                    .unwrap();
            });
            let err = adcat::validate::validate(&path, 2)
                .expect_err(node)
                .to_string();
            assert!(err.contains(&format!("/{node}")), "{format:?}: {err}");
            assert!(err.contains("does not match"), "{format:?}: {err}");
        }
    }
}

/// Sums recorded while writing `values` as a 4 × 3 float64 `layers/dense`, to compare a
/// sample store against.
fn recorded_dense(
    dir: &std::path::Path,
    name: &str,
    values: Vec<f64>,
) -> std::sync::Arc<adcat::checksum::Sums> {
    use adcat::store::{ArraySpec, Compression, DType, Format};
    let sums = std::sync::Arc::new(adcat::checksum::Sums::default());
    let w = adcat::store::create(&dir.join(name), Format::ZarrV2).unwrap();
    let w = adcat::checksum::recording(w, Some(&sums));
    let spec = ArraySpec {
        shape: vec![4, 3],
        dtype: DType::F64,
        chunks: vec![2, 3],
        shards: None,
        compression: Compression::None,
    };
    w.create_group("", &attrs(serde_json::json!({}))).unwrap();
    w.create_group("layers", &attrs(serde_json::json!({})))
        .unwrap();
    w.create_array("layers/dense", &spec, &attrs(serde_json::json!({})))
        .unwrap();
    // Written bottom half first: the sum must not depend on the order.
    w.write(
        "layers/dense",
        &[2, 0],
        &[2, 3],
        &Data::F64(values[6..].to_vec()),
    )
    .unwrap();
    w.write(
        "layers/dense",
        &[0, 0],
        &[2, 3],
        &Data::F64(values[..6].to_vec()),
    )
    .unwrap();
    w.finish().unwrap();
    sums
}

#[test]
fn contents_must_read_back_to_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let path = with_x(dir.path(), format, "sums", None, None);
        let same: Vec<f64> = (0..12).map(f64::from).collect();
        let sums = recorded_dense(dir.path(), &format!("same-{format:?}.zarr"), same.clone());
        let v = adcat::validate::validate_against(&path, 2, Some(&sums)).expect("same values");
        assert_eq!(v.checksums_compared, 1, "{format:?}");
        let mut changed = same;
        changed[7] = -0.0;
        let sums = recorded_dense(dir.path(), &format!("changed-{format:?}.zarr"), changed);
        let err = adcat::validate::validate_against(&path, 2, Some(&sums))
            .expect_err("a changed value")
            .to_string();
        assert!(err.contains("/layers/dense"), "{format:?}: {err}");
        assert!(err.contains("was written"), "{format:?}: {err}");
    }
}
