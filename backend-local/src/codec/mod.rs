//! TiDB's storage encodings, byte for byte.
//!
//! - [`number`]: memcomparable ints, uints, floats and bytes (ascending and
//!   descending) and row v2's compact integers;
//! - [`decimal`]: MySQL's binary `DECIMAL(p, f)`;
//! - [`time`]: packed date-times and `TIME` nanoseconds;
//! - [`json`]: binary JSON;
//! - [`key`]: flagged datums as index keys hold them;
//! - [`table`]: record and index keys, index values;
//! - [`row`]: row format v2 (record values).
//!
//! Everything here is pure and checked against vectors from TiDB's own
//! tests; decoders reject truncated or corrupt input with
//! [`backend_core::ErrorKind::BadData`] instead of panicking.

pub mod decimal;
pub mod json;
pub mod key;
pub mod number;
pub mod row;
pub mod table;
pub mod time;
