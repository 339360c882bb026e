//! The traits a backend implements and the configs it receives.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::encode::EncodingBuilder;
use crate::error::Result;
use crate::model::{DbInfo, TableInfo, TidbTableInfo};
use crate::row::Rows;
use crate::source::CheckCtx;

/// Options of the local backend's engines (ignored by other backends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEngineConfig {
    /// Merge small SSTs before they enter the engine's sorted store.
    pub compact: bool,
    /// Bytes of pending small SSTs that trigger a merge.
    pub compact_threshold: u64,
    /// How many merges may run at once.
    pub compact_concurrency: usize,
}

impl Default for LocalEngineConfig {
    fn default() -> Self {
        LocalEngineConfig {
            compact: false,
            compact_threshold: 512 * 1024 * 1024,
            compact_concurrency: 4,
        }
    }
}

/// Configuration for opening an engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// The table the engine belongs to, when known.
    pub table_info: Option<Arc<TidbTableInfo>>,
    /// Local-backend options.
    pub local: LocalEngineConfig,
    /// Keep what an earlier run left in the engine's sort directory instead of
    /// starting empty (set when resuming from a checkpoint).
    pub keep_sort_dir: bool,
}

/// Configuration for a writer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalWriterConfig {
    /// The caller promises every pair arrives in ascending key order (across
    /// all `append_rows` calls of the writer). Physical backends skip their
    /// sort and reject out-of-order keys with an error.
    pub is_kv_sorted: bool,
    /// The table's unique name `` `db`.`tbl` ``; logical backends write into it.
    pub table_name: String,
}

/// The size of an engine, for disk-quota decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFileSize {
    /// The engine.
    pub uuid: Uuid,
    /// Estimated bytes on disk now.
    pub disk_size: u64,
    /// Bytes held in memory; roughly what a flush adds to `disk_size`.
    pub mem_size: u64,
    /// Whether the engine is being imported right now (and so cannot be
    /// picked for an early import).
    pub is_importing: bool,
}

/// Whether a chunk's rows are durable.
///
/// Returned by [`EngineWriter::close`]. Checkpoints record a chunk's progress
/// only once `flushed()` is true: then a crash cannot lose those rows. A
/// status may become flushed later, after the engine is flushed.
pub trait ChunkFlushStatus: Send + Sync + Debug {
    /// Whether every row written before the writer was closed is durable.
    fn flushed(&self) -> bool;
}

/// A status that is always flushed: for backends that deliver synchronously.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysFlushed;

impl ChunkFlushStatus for AlwaysFlushed {
    fn flushed(&self) -> bool {
        true
    }
}

/// Writes encoded rows into one engine. Each worker gets its own writer; a
/// writer is not shared between tasks.
#[async_trait]
pub trait EngineWriter: Send + Debug {
    /// Appends a batch. `column_names` are the target columns in tuple order
    /// for SQL rows (empty means all columns in table order); physical
    /// backends ignore them.
    ///
    /// Errors: [`crate::ErrorKind::InvalidState`] when the engine was closed,
    /// [`crate::ErrorKind::BadData`] for out-of-order keys on a sorted writer,
    /// backend errors otherwise.
    async fn append_rows(&mut self, column_names: &[String], rows: Rows) -> Result<()>;

    /// Whether everything appended so far is durable (a checkpoint saved now
    /// is safe).
    fn is_synced(&self) -> bool;

    /// Finishes the writer, handing its buffered data to the engine. The
    /// returned status tells when that data is durable.
    async fn close(self: Box<Self>) -> Result<Arc<dyn ChunkFlushStatus>>;
}

/// A backend: where engines live and where their data is imported to.
///
/// Implementations must be safe to share (`Arc<dyn Backend>`) and call from
/// any task. Usual workflow (driven by [`crate::EngineManager`]):
///
/// 1. create one backend for the whole process;
/// 2. for each table, split its data into batches of roughly equal size; for
///    each batch open an engine, write every chunk through writers, close the
///    engine, import it, clean it up;
/// 3. [`Backend::close`] at the end.
#[async_trait]
pub trait Backend: Send + Sync + Debug {
    /// Releases connections and handles. Engines are not cleaned up.
    async fn close(&self);

    /// How long to sleep before retrying a failed, retryable import.
    fn retry_import_delay(&self) -> Duration;

    /// Whether KV post-processing (checksum against the target, analyze)
    /// applies to this backend.
    fn should_post_process(&self) -> bool;

    /// What this backend supports (see [`crate::Capabilities`]).
    fn capabilities(&self) -> crate::Capabilities;

    /// The encoder factory for rows destined to this backend.
    fn encoding_builder(&self) -> Arc<dyn EncodingBuilder>;

    /// Opens (or, after a restart, reopens) the engine `engine_uuid`. Opening
    /// an engine that is already open is not an error.
    async fn open_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()>;

    /// Closes the engine for writing and makes it importable. Closing an
    /// engine this process never opened reopens it read-only from what an
    /// earlier run left (used when resuming).
    async fn close_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()>;

    /// Imports a closed engine into the target, cutting its data into ranges
    /// of at most `region_split_size` bytes and `region_split_keys` keys.
    ///
    /// Importing the same engine twice leaves the same target content. An
    /// [`crate::ErrorKind::DuplicateDetected`] error means duplicates were
    /// found *and* all of the engine's data has been imported: the engine is
    /// then safe to reset or clean up. Retryable errors may succeed on a
    /// later call.
    async fn import_engine(
        &self,
        engine_uuid: Uuid,
        region_split_size: u64,
        region_split_keys: u64,
    ) -> Result<()>;

    /// Deletes everything the engine stored locally.
    async fn cleanup_engine(&self, engine_uuid: Uuid) -> Result<()>;

    /// Makes every pair written to the open engine durable, such that a
    /// `kill -9` followed by resuming from a checkpoint rebuilds exactly the
    /// same content. No-op for backends that write through.
    async fn flush_engine(&self, engine_uuid: Uuid) -> Result<()>;

    /// [`Backend::flush_engine`] for every open engine. Expensive: meant for
    /// rare moments such as resolving a disk-quota violation.
    async fn flush_all_engines(&self) -> Result<()>;

    /// Drops all pairs written to the engine, keeping it open.
    async fn reset_engine(&self, engine_uuid: Uuid) -> Result<()>;

    /// A writer for one worker into the engine.
    async fn local_writer(
        &self,
        config: &LocalWriterConfig,
        engine_uuid: Uuid,
    ) -> Result<Box<dyn EngineWriter>>;

    /// Finishes duplicate resolution of `table` once every engine of it is
    /// imported: removes what rows that lost a key conflict left in the
    /// target (their other index entries, or their record when they lost on
    /// a unique index), so the target holds exactly the winning rows' pairs.
    /// Returns the checksum of the pairs the losing rows were encoded to,
    /// which the caller subtracts from its local checksum before comparing
    /// it with the target's. Idempotent: calling it again (after a crash)
    /// returns the same checksum. Backends that resolve nothing return an
    /// empty checksum.
    async fn resolve_duplicates(&self, table: &TidbTableInfo) -> Result<crate::KvChecksum> {
        let _ = table;
        Ok(crate::KvChecksum::new())
    }

    /// Sizes of the engines this backend holds, for disk-quota checks.
    /// Backends without local engines return nothing.
    fn engine_file_sizes(&self) -> Vec<EngineFileSize> {
        Vec::new()
    }

    /// The backend's live counters (ingested pairs, SQL batches), for
    /// metrics. Backends that keep none return `None`.
    fn metrics(&self) -> Option<Arc<crate::BackendMetrics>> {
        None
    }
}

/// Reads what already exists on the target.
#[async_trait]
pub trait TargetInfoGetter: Send + Sync + Debug {
    /// Every database on the target (only names are filled).
    async fn fetch_remote_db_models(&self) -> Result<Vec<DbInfo>>;

    /// Every table of database `schema_name`: at least names, ids, columns in
    /// order with their types, and whether the primary key is the handle.
    async fn fetch_remote_table_models(&self, schema_name: &str) -> Result<Vec<TableInfo>>;

    /// Checks that the target can take this import (version, privileges,
    /// free space…), with the data source described by `ctx`.
    async fn check_requirements(&self, ctx: &CheckCtx) -> Result<()>;
}
