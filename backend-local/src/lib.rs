//! placeholder
//!
//! TiDB-format KV encoding ([`codec`], [`kv_encoder`]) and the target store's
//! catalog ([`catalog`]) and read path ([`store`]).
#![deny(missing_docs)]

pub mod catalog;
pub mod codec;
pub mod kv_encoder;
pub mod store;
