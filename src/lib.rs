//! adcat: out-of-core concatenation and conversion of AnnData stores.
//!
//! Layers, each knowing only the one below: [`store`] (groups, arrays, attributes of
//! Zarr and HDF5), [`encoding`] (AnnData elements on top of a store), [`layout`]
//! (output chunking), and the commands [`convert`] and [`inspect`].

pub mod bench;
pub mod checksum;
pub mod cli;
pub mod concat;
pub mod convert;
pub mod encoding;
pub mod error;
pub mod heap;
pub mod inspect;
pub mod kernels;
pub mod layout;
pub mod output;
pub mod progress;
pub mod size;
pub mod store;
pub mod timing;
pub mod validate;
pub mod value;
pub mod writeback;

pub use error::{Error, Result};
