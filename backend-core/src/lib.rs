//! The importer's backend API: what every backend implements and what the
//! pipeline drives. It is TiDB Lightning's `backend` package in Rust.
//!
//! # Design
//!
//! A table's rows flow into **engines**. The pipeline opens an engine through
//! [`EngineManager`] (getting an [`OpenedEngine`]), gives each worker its own
//! [`EngineWriter`], and appends encoded [`Rows`]. Closing consumes the
//! opened engine and yields a [`ClosedEngine`], which can only be imported
//! into the target (with retries) and cleaned up — the type system rules out
//! writing into a closed engine.
//!
//! **Who sorts:** physical backends receive KV pairs in any order and sort
//! them per engine themselves; logical backends receive SQL tuples and write
//! them through as they come. A backend says which shape it consumes through
//! the [`EncodingBuilder`] it returns.
//!
//! **Why engines have deterministic UUIDs:** [`make_uuid`] derives an engine's
//! identity from its table and engine id, and row ids are pre-allocated per
//! chunk, so a run that resumes after a crash reaches the same engines and
//! re-encodes the same keys; importing is idempotent.
//!
//! **Batches, not pairs:** KV pairs travel in [`KvPairs`], every key and
//! value of a hand-off in one buffer; encoders write them in place through
//! [`RowEncoder::encode_into`]. An import moves tens of millions of small
//! pairs, and two heap blocks per pair cost more than the sort did.
//!
//! **Durability:** [`EngineWriter::close`] returns a [`ChunkFlushStatus`];
//! checkpoints record a chunk only once it reports `flushed()`.
//!
//! **Beyond engines:** [`ImportTarget`] is the schema and post-import seam
//! (create databases and tables, check emptiness, rebase auto-increment,
//! checksum, analyze, deferred indexes), and [`Capabilities`] is what a
//! backend declares it can do, as data the pipeline reads. Backends map
//! their own errors into [`Error`]'s kinds at both seams.
//!
//! This crate depends on nothing heavy (no RocksDB, no SQL driver): programs
//! that drive or implement backends depend on it alone. The `testkit`
//! feature adds [`testkit::MemoryBackend`], an in-memory reference backend.
//!
//! Crates used and why: `async-trait` for object-safe async traits
//! (`Arc<dyn Backend>`); `uuid` for v5 UUIDs; `crc64fast` for the SIMD
//! CRC-64/XZ TiKV also uses; `thiserror` for the error type; `serde` so
//! models and checksums can be persisted in checkpoints; `tokio` only for the
//! retry sleep; `tracing` for spans.

#![deny(missing_docs)]

mod backend;
mod capability;
mod checksum;
mod datum;
mod encode;
mod engine;
mod engine_uuid;
mod error;
mod metrics;
pub mod model;
mod pairs;
mod row;
mod source;
mod target;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use backend::{
    AlwaysFlushed, Backend, ChunkFlushStatus, EngineConfig, EngineFileSize, EngineWriter,
    LocalEngineConfig, LocalWriterConfig, TargetInfoGetter,
};
pub use capability::{Capabilities, ChecksumKind, DuplicateModes, RowEncoding};
pub use checksum::KvChecksum;
pub use datum::{Datum, Decimal, MysqlDuration, MysqlTime, SqlMode, TimeKind};
pub use encode::{ColumnPermutation, EncodingBuilder, EncodingConfig, RowEncoder};
pub use engine::{ClosedEngine, EngineManager, IMPORT_MAX_ATTEMPTS, OpenedEngine};
pub use engine_uuid::{ENGINE_NAMESPACE, INDEX_ENGINE_ID, make_uuid};
pub use error::{Error, ErrorKind, Result};
pub use metrics::BackendMetrics;
pub use pairs::{KvIter, KvPair, KvPairs, KvRef};
pub use row::{EncodedRow, EncodedRows, RowOrigin, Rows, SqlRow};
pub use source::{
    CheckCtx, Compression, SourceDatabaseMeta, SourceFileMeta, SourceFormat, SourceTableMeta,
};
pub use target::{DeferredIndex, ImportTarget, TargetChecksum};
