#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::anndata_attrs(data));
