//! adcat: out-of-core concatenation and conversion of AnnData stores.

pub mod store;
