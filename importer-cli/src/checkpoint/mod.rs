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

use std::collections::BTreeSet;
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

    /// Saves `cp` whole, durably.
    pub fn save(&self, cp: &Checkpoints) -> Result<(), CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.save(cp),
            CheckpointStore::Mysql(m) => m.save(cp),
        }
    }

    /// Saves the tables of `cp` named in `changed` (a name `cp` lacks is
    /// removed); costs what changed, not the whole checkpoint. Durable
    /// against a crash of this process at once, against a power cut once
    /// [`CheckpointStore::sync`] returns (the mysql driver: at once).
    pub fn save_tables<'a>(
        &self,
        cp: &Checkpoints,
        changed: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.save_tables(cp, changed),
            CheckpointStore::Mysql(m) => m.save_tables(cp, changed),
        }
    }

    /// Makes every save so far durable against a power cut.
    pub fn sync(&self) -> Result<(), CheckpointError> {
        match self {
            CheckpointStore::File(f) => f.sync(),
            // Each save is a committed transaction on the server.
            CheckpointStore::Mysql(_) => Ok(()),
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
///
/// Changes name the table they touch; a save writes only the tables changed
/// since the last successful save (see [`CheckpointStore::save_tables`]), so
/// its cost does not grow with the number of tables.
#[derive(Debug)]
pub struct CheckpointManager {
    state: Mutex<State>,
    store: Option<CheckpointStore>,
    /// Successful saves to the store, for metrics.
    saves: AtomicU64,
}

#[derive(Debug)]
struct State {
    checkpoints: Checkpoints,
    /// Tables changed since the last successful save.
    dirty: BTreeSet<String>,
    /// When the store was last written, for
    /// [`CheckpointManager::update_table_progress`].
    last_save: Option<Instant>,
}

impl State {
    /// Applies `change` to `name`'s checkpoint, if there is one, and marks
    /// it changed.
    fn change_table<T>(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut TableCheckpoint) -> T,
    ) -> Option<T> {
        let out = change(self.checkpoints.tables.get_mut(name)?);
        self.dirty.insert(name.to_string());
        Some(out)
    }
}

/// Least time between two saves caused by chunk progress alone. The tidb
/// backend publishes progress after every `logical-import-batch-size`
/// statement, and saving that often cost more wall time than the
/// statements themselves.
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
        Ok(Self::with(state, Some(store)))
    }

    /// Checkpoints kept in memory only (`[checkpoint] enable = false`).
    pub fn disabled(task: TaskCheckpoint) -> Self {
        Self::with(Checkpoints::new(task), None)
    }

    fn with(checkpoints: Checkpoints, store: Option<CheckpointStore>) -> Self {
        CheckpointManager {
            state: Mutex::new(State {
                checkpoints,
                dirty: BTreeSet::new(),
                last_save: None,
            }),
            store,
            saves: AtomicU64::new(0),
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a state that was valid before
        // the panicking change; keep using it rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `table` as `name`'s checkpoint (replacing any) and saves.
    pub fn insert_table(&self, name: &str, table: TableCheckpoint) -> Result<(), CheckpointError> {
        let mut state = self.lock();
        state.checkpoints.tables.insert(name.to_string(), table);
        state.dirty.insert(name.to_string());
        self.save_locked(&mut state)
    }

    /// Applies `change` to `name`'s checkpoint, if there is one, and saves.
    pub fn update_table<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableCheckpoint) -> T,
    ) -> Result<Option<T>, CheckpointError> {
        let mut state = self.lock();
        let out = state.change_table(name, change);
        if out.is_some() {
            self.save_locked(&mut state)?;
        }
        Ok(out)
    }

    /// Applies a change of chunk progress to `name`'s checkpoint, saving it
    /// only when the last save is [`PROGRESS_SAVE_INTERVAL`] old; otherwise
    /// the change is saved with the next save of any kind (every engine and
    /// table status change saves at once, so nothing is left unsaved once an
    /// engine is done).
    ///
    /// Progress is only ever published for rows the target already holds
    /// durably, so a crash before the delayed save only means those rows
    /// are written again on resume: the same as a crash between a write and
    /// its save, which every backend already handles (the tidb backend's
    /// batch markers skip statements that committed; the local backend's
    /// engines keep one copy of a key).
    pub fn update_table_progress(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableCheckpoint),
    ) -> Result<(), CheckpointError> {
        let mut state = self.lock();
        if state.change_table(name, change).is_some()
            && state
                .last_save
                .is_none_or(|at| at.elapsed() >= PROGRESS_SAVE_INTERVAL)
        {
            self.save_locked(&mut state)?;
        }
        Ok(())
    }

    /// Writes the changed tables of the locked state to the store, if any.
    /// They stay marked changed when the save fails, so the next save
    /// writes them again.
    fn save_locked(&self, state: &mut State) -> Result<(), CheckpointError> {
        let Some(store) = &self.store else {
            state.dirty.clear();
            return Ok(());
        };
        if state.dirty.is_empty() {
            return Ok(());
        }
        crate::failpoint::hit("before-checkpoint-save");
        store.save_tables(&state.checkpoints, &state.dirty)?;
        state.dirty.clear();
        self.saves.fetch_add(1, Ordering::Relaxed);
        state.last_save = Some(Instant::now());
        crate::failpoint::hit("after-checkpoint-save");
        Ok(())
    }

    /// How many times the checkpoint was saved by this process.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::Relaxed)
    }

    /// Saves what changed.
    pub fn save(&self) -> Result<(), CheckpointError> {
        let mut state = self.lock();
        self.save_locked(&mut state)
    }

    /// Saves what changed and makes every save durable against a power cut:
    /// the step before anything that destroys data an older checkpoint
    /// would still need.
    pub fn sync(&self) -> Result<(), CheckpointError> {
        let mut state = self.lock();
        self.save_locked(&mut state)?;
        match &self.store {
            Some(store) => store.sync(),
            None => Ok(()),
        }
    }

    /// A copy of the table's checkpoint, if any.
    pub fn table(&self, name: &str) -> Option<TableCheckpoint> {
        self.lock().checkpoints.tables.get(name).cloned()
    }
}
