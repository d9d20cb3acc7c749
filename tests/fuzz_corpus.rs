//! Replays the fuzz targets' stored inputs (`fuzz/corpus/<target>/`) through the same
//! checks `cargo fuzz` runs, on stable Rust: every input once found interesting, and
//! every crash once fixed, stays covered by the ordinary test run.

mod common;
#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

/// Runs every seed and every stored corpus input of `target`. With
/// `ADCAT_WRITE_FUZZ_SEEDS=1` the seeds are first written to the corpus folder, which is
/// how `cargo fuzz` gets its starting inputs.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let seeds = harness::seeds(target);
    assert!(seeds.len() >= 10, "{target}: only {} seeds", seeds.len());
    if std::env::var_os("ADCAT_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).expect("corpus folder");
        for (k, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{k:03}")), seed).expect("seed");
        }
    }
    for seed in &seeds {
        let caught = std::panic::catch_unwind(|| run(seed));
        assert!(caught.is_ok(), "{target}: seed {seed:?} failed");
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no corpus", dir.display());
    for file in &files {
        let bytes = std::fs::read(file).expect("corpus file");
        let caught = std::panic::catch_unwind(|| run(&bytes));
        assert!(caught.is_ok(), "{} failed", file.display());
    }
}

#[test]
fn zarr_metadata_corpus() {
    replay("zarr_metadata", harness::zarr_metadata);
}

#[test]
fn anndata_attrs_corpus() {
    replay("anndata_attrs", harness::anndata_attrs);
}

#[test]
fn sparse_block_corpus() {
    replay("sparse_block", harness::sparse_block);
}

/// The sparse decoder's reference check must tell sound from broken, or the target's
/// agreement check could never fail.
#[test]
fn sparse_reference_check_tells_sound_from_broken() {
    let sound = harness::SparseCase::decode(&[0, 0, 0, 0, 2, 1, 0, 2, 0, 2, 1, 0, 2]).unwrap();
    assert_eq!(sound.indptr, vec![0, 2, 3, 3, 5]);
    assert_eq!(sound.indices, vec![0, 2, 1, 0, 2]);
    assert!(sound.is_valid());
    let unsorted = harness::SparseCase::decode(&[0, 0, 0, 0, 2, 1, 0, 2, 2, 0, 1, 0, 2]).unwrap();
    assert!(!unsorted.is_valid());
    harness::sparse_block(&[0, 0, 0, 0, 2, 1, 0, 2, 0, 2, 1, 0, 2]);
    harness::sparse_block(&[0, 0, 0, 0, 2, 1, 0, 2, 2, 0, 1, 0, 2]);
}
