//! Checkpoints: what lets an import of hours survive `kill -9` and resume
//! with nothing lost and nothing duplicated.
//!
//! The pipeline mutates one in-memory [`Checkpoints`] through
//! [`CheckpointManager`] and saves it at the points where the data it
//! describes is durable: a chunk's progress only once the backend reports
//! its rows flushed, an engine's status once the engine is closed or
//! imported. The store is a file replaced atomically ([`file`], the
//! default) or tables on a MySQL-protocol server ([`mysql`], for the tidb
//! backend); [`CheckpointStore`] hides which.

pub mod commands;
pub mod file;
pub mod model;
pub mod mysql;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use file::FileCheckpointStore;
pub use model::{
    CHECKPOINT_VERSION, Checkpoints, ChunkCheckpoint, EngineCheckpoint, EngineStatus, INDEX_ENGINE,
    TableCheckpoint, TableFailure, TableStatus, TaskCheckpoint,
};
pub use mysql::{MysqlCheckpointStore, MysqlLocation};

/// FNV-1a, 64 bit: a hash that stays the same across runs and builds, for
/// the identities checkpoints record (schema hashes, default file names).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Errors reading or writing checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("checkpoint {}: {source}", path.display())]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this program wrote.
    #[error(
        "checkpoint {} is corrupt ({source}); remove it to start over, or restore a good copy",
        path.display()
    )]
    Corrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file has another format version.
    #[error(
        "checkpoint {} has format version {found}, this importer reads version {}",
        path.display(),
        CHECKPOINT_VERSION
    )]
    Version {
        /// The checkpoint file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The checkpoint belongs to another task.
    #[error(
        "checkpoint {location} was written by a different task:\n  {}\nuse the same config, or run `importer checkpoint remove all` to start over",
        diff.join("\n  ")
    )]
    TaskMismatch {
        /// The checkpoint file or schema.
        location: String,
        /// One line per differing setting.
        diff: Vec<String>,
    },
    /// A statement of the mysql driver failed.
    #[error("checkpoint {location}: {what}: {source}")]
    Sql {
        /// The checkpoint schema and server.
        location: String,
        /// What was being done.
        what: String,
        /// The cause.
        source: sqlx::Error,
    },
}

/// Where checkpoints are kept (`[checkpoint] driver`).
#[derive(Debug)]
pub enum CheckpointStore {
    /// One JSON file, replaced atomically.
    File(FileCheckpointStore),
    /// Tables in a schema on a server.
    Mysql(MysqlCheckpointStore),
}

impl From<FileCheckpointStore> for CheckpointStore {
    fn from(store: FileCheckpointStore) -> Self {
        CheckpointStore::File(store)
    }
}

impl From<MysqlCheckpointStore> for CheckpointStore {
    fn from(store: MysqlCheckpointStore) -> Self {
        CheckpointStore::Mysql(store)
    }
}

impl CheckpointStore {
    /// The file path or the schema and server, for messages.
    pub fn describe(&self) -> String {
        match self {
            CheckpointStore::File(f) => f.path().display().to_string(),
            CheckpointStore::Mysql(m) => m.describe(),
        }
    }

    /// Reads the checkpoint, `None` when there is none.
    pub fn load(&self) -> Result<Option<Checkpoints>, CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.load(),
            CheckpointStore::Mysql(m) => m.load(),
        }
    }

    /// Saves `cp` durably.
    pub fn save(&self, cp: &Checkpoints) -> Result<(), CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.save(cp),
            CheckpointStore::Mysql(m) => m.save(cp),
        }
    }

    /// Deletes the checkpoint.
    pub fn remove(&self) -> Result<(), CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.remove(),
            CheckpointStore::Mysql(m) => m.remove(),
        }
    }

    /// Keeps the checkpoint under a new name with `suffix`
    /// (`keep-after-success = "rename"`); returns where it went.
    pub fn rename_with_suffix(&self, suffix: &str) -> Result<String, CheckpointError> {
        match self {
            CheckpointStore::File(f) => f
                .rename_with_suffix(suffix)
                .map(|p| p.display().to_string()),
            CheckpointStore::Mysql(m) => m.rename_with_suffix(suffix),
        }
    }
}

/// The pipeline's handle on the checkpoint: the state plus where it is saved.
#[derive(Debug)]
pub struct CheckpointManager {
    state: Mutex<Checkpoints>,
    store: Option<CheckpointStore>,
    /// Successful saves to the store, for metrics.
    saves: AtomicU64,
    /// When the store was last written (read and written under `state`'s
    /// lock), for [`CheckpointManager::update_progress`].
    last_save: Mutex<Option<Instant>>,
}

/// Least time between two saves caused by chunk progress alone. A save
/// rewrites and syncs the whole checkpoint (or a transaction on the
/// checkpoint server); the tidb backend publishes progress after every
/// `logical-import-batch-size` statement, and syncing that often cost more
/// wall time than the statements themselves.
pub const PROGRESS_SAVE_INTERVAL: Duration = Duration::from_millis(500);

impl CheckpointManager {
    /// Opens the checkpoint at `store` for `task`: resumes what it holds, or
    /// starts empty. A checkpoint of another task is an error.
    pub fn open(
        store: impl Into<CheckpointStore>,
        task: TaskCheckpoint,
    ) -> Result<Self, CheckpointError> {
        let store = store.into();
        let state = match store.load()? {
            Some(saved) => {
                let diff = saved.task.diff(&task);
                if !diff.is_empty() {
                    return Err(CheckpointError::TaskMismatch {
                        location: store.describe(),
                        diff,
                    });
                }
                saved
            }
            None => Checkpoints::new(task),
        };
        Ok(CheckpointManager {
            state: Mutex::new(state),
            store: Some(store),
            saves: AtomicU64::new(0),
            last_save: Mutex::new(None),
        })
    }

    /// Checkpoints kept in memory only (`[checkpoint] enable = false`).
    pub fn disabled(task: TaskCheckpoint) -> Self {
        CheckpointManager {
            state: Mutex::new(Checkpoints::new(task)),
            store: None,
            saves: AtomicU64::new(0),
            last_save: Mutex::new(None),
        }
    }

    /// Whether progress is persisted.
    pub fn is_enabled(&self) -> bool {
        self.store.is_some()
    }

    /// Where progress is saved, when enabled.
    pub fn store(&self) -> Option<&CheckpointStore> {
        self.store.as_ref()
    }

    /// Locks the state for reading or changing it. Changes are saved by the
    /// next [`CheckpointManager::save`].
    pub fn lock(&self) -> MutexGuard<'_, Checkpoints> {
        // A panic while holding the lock leaves a state that was valid before
        // the panicking change; keep using it rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` and saves at once.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Checkpoints) -> T,
    ) -> Result<T, CheckpointError> {
        let mut state = self.lock();
        let out = change(&mut state);
        self.save_locked(&state)?;
        Ok(out)
    }

    /// Applies a change of chunk progress, saving it only when the last
    /// save is [`PROGRESS_SAVE_INTERVAL`] old; otherwise the change is saved
    /// with the next save of any kind (every engine and table status change
    /// saves at once, so nothing is left unsaved once an engine is done).
    ///
    /// Progress is only ever published for rows the target already holds
    /// durably, so a crash before the delayed save only means those rows
    /// are written again on resume: the same as a crash between a write and
    /// its save, which every backend already handles (the tidb backend's
    /// batch markers skip statements that committed; the local backend's
    /// engines keep one copy of a key).
    pub fn update_progress<T>(
        &self,
        change: impl FnOnce(&mut Checkpoints) -> T,
    ) -> Result<T, CheckpointError> {
        let mut state = self.lock();
        let out = change(&mut state);
        let due = self
            .last_save
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|at| at.elapsed() >= PROGRESS_SAVE_INTERVAL);
        if due {
            self.save_locked(&state)?;
        }
        Ok(out)
    }

    /// Writes `state` (the locked state) to the store, if any.
    fn save_locked(&self, state: &Checkpoints) -> Result<(), CheckpointError> {
        if let Some(store) = &self.store {
            crate::failpoint::hit("before-checkpoint-save");
            store.save(state)?;
            self.saves.fetch_add(1, Ordering::Relaxed);
            *self.last_save.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            crate::failpoint::hit("after-checkpoint-save");
        }
        Ok(())
    }

    /// How many times the checkpoint was saved by this process.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::Relaxed)
    }

    /// Saves the current state.
    pub fn save(&self) -> Result<(), CheckpointError> {
        self.update(|_| ())
    }

    /// A copy of the table's checkpoint, if any.
    pub fn table(&self, name: &str) -> Option<TableCheckpoint> {
        self.lock().tables.get(name).cloned()
    }
}
