//! Checkpoints: what lets an import of hours survive `kill -9` and resume
//! with nothing lost and nothing duplicated.
//!
//! The pipeline mutates one in-memory [`Checkpoints`] through
//! [`CheckpointManager`] and saves it at the points where the data it
//! describes is durable: a chunk's progress only once the backend reports
//! its rows flushed, an engine's status once the engine is closed or
//! imported. Saving replaces the whole file atomically (see [`file`]).

pub mod commands;
pub mod file;
pub mod model;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

pub use file::FileCheckpointStore;
pub use model::{
    CHECKPOINT_VERSION, Checkpoints, ChunkCheckpoint, EngineCheckpoint, EngineStatus, INDEX_ENGINE,
    TableCheckpoint, TableFailure, TableStatus, TaskCheckpoint,
};

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
        "checkpoint {} was written by a different task:\n  {}\nuse the same config, or run `importer checkpoint remove all` to start over",
        path.display(),
        diff.join("\n  ")
    )]
    TaskMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// One line per differing setting.
        diff: Vec<String>,
    },
}

/// The pipeline's handle on the checkpoint: the state plus where it is saved.
#[derive(Debug)]
pub struct CheckpointManager {
    state: Mutex<Checkpoints>,
    store: Option<FileCheckpointStore>,
    /// Successful saves to the store, for metrics.
    saves: AtomicU64,
}

impl CheckpointManager {
    /// Opens the checkpoint at `store` for `task`: resumes what it holds, or
    /// starts empty. A checkpoint of another task is an error.
    pub fn open(store: FileCheckpointStore, task: TaskCheckpoint) -> Result<Self, CheckpointError> {
        let state = match store.load()? {
            Some(saved) => {
                let diff = saved.task.diff(&task);
                if !diff.is_empty() {
                    return Err(CheckpointError::TaskMismatch {
                        path: store.path().to_path_buf(),
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
        })
    }

    /// Checkpoints kept in memory only (`[checkpoint] enable = false`).
    pub fn disabled(task: TaskCheckpoint) -> Self {
        CheckpointManager {
            state: Mutex::new(Checkpoints::new(task)),
            store: None,
            saves: AtomicU64::new(0),
        }
    }

    /// Whether progress is persisted.
    pub fn is_enabled(&self) -> bool {
        self.store.is_some()
    }

    /// The checkpoint file, when enabled.
    pub fn store(&self) -> Option<&FileCheckpointStore> {
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
        if let Some(store) = &self.store {
            store.save(&state)?;
            self.saves.fetch_add(1, Ordering::Relaxed);
        }
        Ok(out)
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
