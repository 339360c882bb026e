//! What a checkpoint records: the task, and per table its status, engines and
//! chunks with parser positions, row ids and running KV checksums.
//!
//! Statuses only move forward; a failure is recorded beside the status
//! reached, so `error-ignore` can clear it and a rerun resumes from there.

use std::collections::BTreeMap;
use std::path::PathBuf;

use backend_core::{DeferredIndex, KvChecksum};
use serde::{Deserialize, Serialize};

/// The on-disk format version; a different version is refused, not guessed.
pub const CHECKPOINT_VERSION: u32 = 1;

/// The settings a resumed run must share with the run that wrote the
/// checkpoint: resuming with a different source or target would mix data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCheckpoint {
    /// The data source directory.
    pub source_dir: String,
    /// `local` or `tidb`.
    pub backend: String,
    /// Where data goes: the store path (local) or `host:port` (tidb).
    pub target: String,
    /// The local backend's sort directory (empty for tidb).
    pub sorted_kv_dir: String,
}

impl TaskCheckpoint {
    /// Lines naming each setting that differs from `current`, empty when the
    /// task may resume.
    pub fn diff(&self, current: &TaskCheckpoint) -> Vec<String> {
        let mut out = Vec::new();
        let fields = [
            ("data-source-dir", &self.source_dir, &current.source_dir),
            ("backend", &self.backend, &current.backend),
            ("target", &self.target, &current.target),
            ("sorted-kv-dir", &self.sorted_kv_dir, &current.sorted_kv_dir),
        ];
        for (name, saved, now) in fields {
            if saved != now {
                out.push(format!(
                    "{name}: checkpoint has {saved:?}, config has {now:?}"
                ));
            }
        }
        out
    }
}

/// How far a table has come. Ordered: later stages compare greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableStatus {
    /// Chunks are listed; nothing imported yet.
    Loaded,
    /// Every chunk has been written to its engine.
    AllWritten,
    /// Every engine is closed.
    Closed,
    /// Every engine is imported into the target.
    Imported,
    /// The target's auto-increment base has been rebased.
    AlteredAutoInc,
    /// The checksum was compared (or skipped by config).
    Checksummed,
    /// Secondary indexes deferred by `add-index-by-sql` are back.
    IndexAdded,
    /// Statistics were collected (or skipped); the table is done.
    Analyzed,
}

impl TableStatus {
    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Loaded => "loaded",
            TableStatus::AllWritten => "all-written",
            TableStatus::Closed => "closed",
            TableStatus::Imported => "imported",
            TableStatus::AlteredAutoInc => "altered-auto-inc",
            TableStatus::Checksummed => "checksummed",
            TableStatus::IndexAdded => "index-added",
            TableStatus::Analyzed => "analyzed",
        }
    }
}

/// An engine's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineStatus {
    /// Open or being written.
    Loaded,
    /// Closed: its data is complete in the sort store.
    Closed,
    /// Imported into the target.
    Imported,
}

/// One chunk's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkCheckpoint {
    /// Data file, relative to the source directory.
    pub file: PathBuf,
    /// Where the chunk starts in the (decompressed) file.
    pub offset: u64,
    /// Where it ends (exclusive); `u64::MAX` for "to the end of the file".
    pub end_offset: u64,
    /// The parser position up to which rows are durable in the engine.
    pub pos: u64,
    /// Row ids of this chunk are in `(prev_rowid_max, rowid_max]`.
    pub prev_rowid_max: i64,
    /// The last row id allocated to this chunk.
    pub rowid_max: i64,
    /// The row id the next row gets.
    pub next_row_id: i64,
    /// Rows delivered so far.
    pub rows: u64,
    /// Running checksum of the data (record) pairs delivered so far.
    pub data_checksum: KvChecksum,
    /// Running checksum of the index pairs delivered so far.
    pub index_checksum: KvChecksum,
    /// The CSV header's column names for chunks that start after a file's
    /// header (split files); the parser gets them instead of reading them.
    pub columns: Option<Vec<String>>,
    /// The session time (Unix seconds) for `CURRENT_TIMESTAMP` defaults.
    pub timestamp: i64,
    /// The object's ETag when the chunk was planned (object stores): a
    /// resume reads only that version of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The parser's state at `pos` (the column names in force; for SQL,
    /// inside an `INSERT`'s `VALUES` or between statements), so a resume
    /// opens its read at `pos`. Absent at the chunk's start, once it is
    /// finished, and in checkpoints written without it: such a chunk
    /// re-parses its rows from `offset` up to `pos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parser_state: Option<dump_source::ParserState>,
}

impl ChunkCheckpoint {
    /// Whether every row of the chunk is delivered.
    pub fn is_finished(&self) -> bool {
        self.pos >= self.end_offset
    }
}

/// One engine of a table with its chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineCheckpoint {
    /// Progress.
    pub status: EngineStatus,
    /// Chunks written into this engine, in file order.
    pub chunks: Vec<ChunkCheckpoint>,
}

/// A recorded failure: what stage failed and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFailure {
    /// The status the table had reached when it failed.
    pub at: TableStatus,
    /// The error, as shown to the user.
    pub message: String,
}

/// One table's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCheckpoint {
    /// Progress.
    pub status: TableStatus,
    /// Set when the table failed; a rerun refuses until it is cleared.
    pub failure: Option<TableFailure>,
    /// The table id on the target.
    pub table_id: i64,
    /// Hash of the table definition, to notice a changed schema file.
    pub schema_hash: u64,
    /// Data engines by id (0..N); the index engine is [`INDEX_ENGINE`].
    pub engines: BTreeMap<i32, EngineCheckpoint>,
    /// The largest auto-increment / handle value encoded.
    pub max_auto_id: i64,
    /// Secondary indexes dropped for the load (`add-index-by-sql`), to add
    /// back after the rows: recorded before they are dropped, so a crash in
    /// between loses no definition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred_indexes: Vec<DeferredIndex>,
}

/// The index engine's id.
pub const INDEX_ENGINE: i32 = backend_core::INDEX_ENGINE_ID;

impl TableCheckpoint {
    /// Data and index checksums summed over every chunk.
    pub fn local_checksum(&self) -> KvChecksum {
        let mut sum = KvChecksum::new();
        for chunk in self.engines.values().flat_map(|e| &e.chunks) {
            sum.add(&chunk.data_checksum);
            sum.add(&chunk.index_checksum);
        }
        sum
    }

    /// Rows delivered over every chunk.
    pub fn rows(&self) -> u64 {
        self.engines
            .values()
            .flat_map(|e| &e.chunks)
            .map(|c| c.rows)
            .sum()
    }
}

/// Everything a checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// Format version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// The task's identity.
    pub task: TaskCheckpoint,
    /// Tables by unique name `` `db`.`tbl` ``.
    pub tables: BTreeMap<String, TableCheckpoint>,
}

impl Checkpoints {
    /// An empty checkpoint for `task`.
    pub fn new(task: TaskCheckpoint) -> Self {
        Checkpoints {
            version: CHECKPOINT_VERSION,
            task,
            tables: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_ordered() {
        assert!(TableStatus::Loaded < TableStatus::AllWritten);
        assert!(TableStatus::Imported < TableStatus::Analyzed);
        assert!(TableStatus::Checksummed < TableStatus::IndexAdded);
        assert!(TableStatus::IndexAdded < TableStatus::Analyzed);
        assert!(EngineStatus::Closed < EngineStatus::Imported);
    }

    #[test]
    fn task_diff_names_changed_settings() {
        let a = TaskCheckpoint {
            source_dir: "/d".into(),
            backend: "local".into(),
            target: "/s".into(),
            sorted_kv_dir: "/k".into(),
        };
        let mut b = a.clone();
        assert!(a.diff(&b).is_empty());
        b.backend = "tidb".into();
        let diff = a.diff(&b);
        assert_eq!(diff.len(), 1);
        assert!(diff[0].starts_with("backend:"));
    }
}
