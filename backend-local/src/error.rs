//! The local backend's own errors, and how they map into
//! [`backend_core::Error`] (kind + retryable flag) at the API boundary.
//!
//! Every variant names the engine and/or the path involved, so a message is
//! actionable without a debugger.

use std::path::PathBuf;

use backend_core::{Error, ErrorKind};
use uuid::Uuid;

/// `Result` with [`LocalError`].
pub type LocalResult<T> = std::result::Result<T, LocalError>;

/// What can go wrong in the local backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A configuration value is invalid.
    #[error("invalid local backend config `{key}`: {reason}")]
    Config {
        /// The config key.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The engine is neither open nor closed in this process, or its
    /// directory does not exist.
    #[error("engine {uuid} not found ({reason}; directory {path})")]
    EngineNotFound {
        /// The engine.
        uuid: Uuid,
        /// Its sort directory.
        path: PathBuf,
        /// What is missing.
        reason: &'static str,
    },
    /// The operation needs another engine state (e.g. writing into a closed
    /// engine, importing an open one).
    #[error("engine {uuid} is {state}: cannot {op}")]
    EngineState {
        /// The engine.
        uuid: Uuid,
        /// Its current state.
        state: &'static str,
        /// What was attempted.
        op: &'static str,
    },
    /// A sorted writer received a key lower than the previous one.
    #[error(
        "engine {uuid}: key {key} arrived after {previous} on a writer opened with is_kv_sorted"
    )]
    OutOfOrder {
        /// The engine.
        uuid: Uuid,
        /// The offending key (hex).
        key: String,
        /// The key before it (hex).
        previous: String,
    },
    /// The local backend consumes KV pairs only.
    #[error("engine {uuid}: the local backend takes KV pairs, got SQL rows")]
    WrongRowShape {
        /// The engine.
        uuid: Uuid,
    },
    /// An engine's files exist but cannot be read back.
    #[error("engine {uuid}: corrupted sort directory {path}: {reason}")]
    Corrupted {
        /// The engine.
        uuid: Uuid,
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The target store is locked by another process (or another handle in
    /// this process).
    #[error("target store {path} is locked by another process or handle: {source}")]
    TargetLocked {
        /// The target directory.
        path: PathBuf,
        /// RocksDB's message.
        source: rocksdb::Error,
    },
    /// The disk holding `path` is full.
    #[error("no space left on device while {op} {path}: {message}")]
    DiskFull {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying message.
        message: String,
    },
    /// A RocksDB call failed.
    #[error("rocksdb error while {op} {path}: {source}")]
    Rocks {
        /// What was being done.
        op: &'static str,
        /// The database directory or file.
        path: PathBuf,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// A file system call failed.
    #[error("i/o error while {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Duplicates were found; all of the engine's data has been imported.
    #[error(
        "engine {uuid}: {count} duplicate key(s) detected, first {first}; the engine's data is imported, losers are recorded in the target's `duplicates` column family"
    )]
    Duplicates {
        /// The engine.
        uuid: Uuid,
        /// How many conflicting pairs were found.
        count: u64,
        /// The first conflicting key (hex) with the row ids involved.
        first: String,
    },
    /// A background task failed to run to completion.
    #[error("engine {uuid}: background task failed: {reason}")]
    Task {
        /// The engine.
        uuid: Uuid,
        /// The join error.
        reason: String,
    },
}

impl LocalError {
    /// Wraps a RocksDB error, recognising a full disk.
    pub(crate) fn rocks(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: rocksdb::Error,
    ) -> Self {
        let path = path.into();
        // RocksDB exposes no errno; its IOError message carries strerror's text.
        if source.kind() == rocksdb::ErrorKind::IOError
            && source.as_ref().contains("No space left on device")
        {
            return LocalError::DiskFull {
                op,
                path,
                message: source.into_string(),
            };
        }
        LocalError::Rocks { op, path, source }
    }

    /// Wraps an I/O error, recognising a full disk.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::StorageFull {
            return LocalError::DiskFull {
                op,
                path,
                message: source.to_string(),
            };
        }
        LocalError::Io { op, path, source }
    }

    /// The core error kind this maps to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LocalError::Config { .. } => ErrorKind::Config,
            LocalError::EngineNotFound { .. } => ErrorKind::NotFound,
            LocalError::EngineState { .. } => ErrorKind::InvalidState,
            LocalError::OutOfOrder { .. } | LocalError::WrongRowShape { .. } => ErrorKind::BadData,
            LocalError::Corrupted { .. }
            | LocalError::DiskFull { .. }
            | LocalError::Rocks { .. }
            | LocalError::Io { .. } => ErrorKind::Io,
            LocalError::TargetLocked { .. } => ErrorKind::TargetUnavailable,
            LocalError::Duplicates { .. } => ErrorKind::DuplicateDetected,
            LocalError::Task { .. } => ErrorKind::Internal,
        }
    }

    /// Whether the same operation may succeed when retried after a delay:
    /// transient RocksDB states (busy, try-again, timed out) and interrupted
    /// I/O. A full disk, corruption, bad data and duplicates are fatal.
    pub fn is_retryable(&self) -> bool {
        match self {
            LocalError::Rocks { source, .. } => matches!(
                source.kind(),
                rocksdb::ErrorKind::Busy
                    | rocksdb::ErrorKind::TryAgain
                    | rocksdb::ErrorKind::TimedOut
                    | rocksdb::ErrorKind::Incomplete
            ),
            LocalError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}

impl From<LocalError> for Error {
    fn from(err: LocalError) -> Self {
        let mut core = Error::new(err.kind(), err.to_string());
        if err.is_retryable() {
            core = core.retryable();
        }
        core.with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retryability() {
        let uuid = Uuid::nil();
        let state = LocalError::EngineState {
            uuid,
            state: "closed",
            op: "write",
        };
        assert_eq!(Error::from(state).kind(), ErrorKind::InvalidState);
        let full = LocalError::io(
            "writing",
            "/x",
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        );
        assert!(matches!(full, LocalError::DiskFull { .. }));
        assert!(!full.is_retryable());
        let interrupted = LocalError::io(
            "writing",
            "/x",
            std::io::Error::from(std::io::ErrorKind::Interrupted),
        );
        let core = Error::from(interrupted);
        assert!(core.is_retryable());
        assert_eq!(core.kind(), ErrorKind::Io);
        assert!(core.to_string().contains("/x"));
    }
}
