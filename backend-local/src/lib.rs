//! Physical import into an embedded RocksDB target: KV pairs are sorted per
//! engine on local disk, cut into region-sized SSTs and ingested.
//!
//! # Design
//!
//! **Lifecycle.** [`LocalBackend::open_engine`](backend_core::Backend::open_engine)
//! creates (or, with `keep_sort_dir`, reopens) an engine under
//! `<sorted-kv-dir>/<uuid>/`. Each worker's [`LocalWriter`] buffers pairs up
//! to `local-writer-mem-cache-size` and sorts them. While the engine is
//! small (`small_engine_size`), each flush is a run file of its own; past
//! that the engine creates a bulk-load-tuned RocksDB, moves its runs in,
//! and every later flush is an SST ingested into it — so the engine's store
//! does the merge-sort across writers. A committed run or an ingested SST
//! is durable (checkpoints can trust `close()`'s status). Closing makes the
//! engine read-only; importing walks it in key order (a small engine's runs
//! merged in memory), cuts regions of at most `region-split-size` bytes and
//! `region-split-keys` keys (in parallel, `range-concurrency`) and hands
//! each to the [`IngestTarget`]: an SST ingested, or a small region's pairs
//! written.
//!
//! **Who sorts:** the engine store (or, for a small engine, the import's
//! merge); writers only sort their own buffer.
//!
//! **Duplicates.** RocksDB keeps one value per key, so engines store
//! `escape(key) ‖ seq ‖ row_id` ([`key_adapter`](crate) module): nothing
//! collapses, equal user keys stay adjacent, and the import resolves them
//! (and conflicts with the target) per [`OnDuplicate`], recording losers in
//! the target's `duplicates` column family.
//!
//! **Encoding and reading back.** [`kv_encoder`] turns rows into TiDB's
//! record and index pairs ([`codec`]: memcomparable keys, row format v2),
//! byte for byte; [`catalog`] keeps databases and tables under the reserved
//! `m` prefix of the target store, and [`store`] reads tables back (export,
//! checksum, lookup).
//!
//! After all engines of a table are imported, [`resolve`] removes what
//! the losing *rows* left (their other index entries, or their record when
//! they lost on a unique index) and returns the checksum the caller takes
//! off its local checksum.
//!
//! **Seams.** The engine import talks to [`IngestTarget`] only
//! (`ingest.rs`); [`TargetStore`] is the embedded implementation
//! (`target_store.rs`), and a TiKV import-service client would be another.
//! The pipeline's schema and post-import seam, core's
//! [`ImportTarget`](backend_core::ImportTarget), is [`LocalTarget`]
//! (`target.rs`: the catalog, the scan checksum), and its
//! [`TargetInfoGetter`](backend_core::TargetInfoGetter) is
//! [`LocalTargetInfo`] (`target_info.rs`). What the backend supports is
//! [`LocalBackend::CAPABILITIES`].
//!
//! **Features.** `rocksdb` (default) is all of the above; without it only
//! the pure encodings ([`codec`], [`kv_encoder`]) are built, which is what
//! the fuzz targets link.

#![deny(missing_docs)]

#[cfg(feature = "rocksdb")]
mod backend;
#[cfg(feature = "rocksdb")]
pub mod catalog;
pub mod codec;
#[cfg(feature = "rocksdb")]
mod config;
#[cfg(feature = "rocksdb")]
mod engine;
#[cfg(feature = "rocksdb")]
mod error;
#[cfg(feature = "rocksdb")]
mod import;
#[cfg(feature = "rocksdb")]
mod ingest;
#[cfg(feature = "rocksdb")]
mod key_adapter;
pub mod kv_encoder;
#[cfg(feature = "rocksdb")]
pub mod resolve;
#[cfg(feature = "rocksdb")]
mod run;
#[cfg(feature = "rocksdb")]
mod sort;
#[cfg(feature = "rocksdb")]
mod stats;
#[cfg(feature = "rocksdb")]
pub mod store;
#[cfg(feature = "rocksdb")]
mod target;
#[cfg(feature = "rocksdb")]
mod target_info;
#[cfg(feature = "rocksdb")]
mod target_store;
#[cfg(feature = "rocksdb")]
mod writer;

#[cfg(feature = "rocksdb")]
pub use backend::LocalBackend;
#[cfg(feature = "rocksdb")]
pub use config::{
    DEFAULT_RANGE_CONCURRENCY, DEFAULT_REGION_SPLIT_KEYS, DEFAULT_REGION_SPLIT_SIZE,
    DEFAULT_RETRY_IMPORT_DELAY, DEFAULT_SMALL_ENGINE_SIZE, DEFAULT_WRITER_MEM_CACHE_SIZE,
    LocalBackendConfig, OnDuplicate,
};
#[cfg(feature = "rocksdb")]
pub use error::{LocalError, LocalResult};
#[cfg(feature = "rocksdb")]
pub use import::{ImportReport, RangeStats};
#[cfg(feature = "rocksdb")]
pub use ingest::{DuplicateRecord, IngestTarget, SMALL_REGION_BYTES, TargetCursor};
#[cfg(feature = "rocksdb")]
pub use target::LocalTarget;
#[cfg(feature = "rocksdb")]
pub use target_info::{DbHandle, LocalTargetInfo, free_disk_space};
#[cfg(feature = "rocksdb")]
pub use target_store::{DUPLICATES_CF, TargetStore};
#[cfg(feature = "rocksdb")]
pub use writer::LocalWriter;
