//! The file checkpoint driver: one JSON file, replaced atomically.
//!
//! A save writes a temporary file beside the target, fsyncs it, renames it
//! over the old one and fsyncs the directory, so after a crash the file holds
//! either the previous or the new checkpoint, never a torn mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::CheckpointError;
use super::model::{CHECKPOINT_VERSION, Checkpoints};

/// A checkpoint file at a path.
#[derive(Debug, Clone)]
pub struct FileCheckpointStore {
    path: PathBuf,
}

impl FileCheckpointStore {
    /// A store at `path` (created on first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCheckpointStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the checkpoint, `None` when there is no file.
    pub fn load(&self) -> Result<Option<Checkpoints>, CheckpointError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let cp: Checkpoints =
            serde_json::from_slice(&bytes).map_err(|source| CheckpointError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        if cp.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version {
                path: self.path.clone(),
                found: cp.version,
            });
        }
        Ok(Some(cp))
    }

    /// Replaces the file with `cp`, durably.
    pub fn save(&self, cp: &Checkpoints) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(cp).map_err(|source| CheckpointError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let tmp = self.tmp_path();
        {
            // A leftover (or planted: the tidb default lives in the temp
            // directory) temporary is removed and the new one created
            // exclusively, so a symlink is never followed.
            match fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(io(err)),
            }
            let mut file = open_private(&tmp).map_err(io)?;
            file.write_all(&json).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, &self.path).map_err(io)?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// The temporary a save writes before renaming it over the file.
    fn tmp_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".tmp");
        PathBuf::from(name)
    }

    /// Deletes the file (and a leftover temporary), if present.
    pub fn remove(&self) -> Result<(), CheckpointError> {
        for path in [self.path.clone(), self.tmp_path()] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(CheckpointError::Io { path, source }),
            }
        }
        Ok(())
    }

    /// Renames the file to `<name>.<suffix>` (for `keep-after-success = "rename"`).
    pub fn rename_with_suffix(&self, suffix: &str) -> Result<PathBuf, CheckpointError> {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".");
        name.push(suffix);
        let target = PathBuf::from(name);
        fs::rename(&self.path, &target).map_err(|source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(target)
    }
}

/// Creates `dir` (and parents) readable by the owner only: checkpoints name
/// tables and targets.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if dir.exists() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

fn open_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::model::TaskCheckpoint;

    fn task() -> TaskCheckpoint {
        TaskCheckpoint {
            source_dir: "/data".into(),
            backend: "local".into(),
            target: "/store".into(),
            sorted_kv_dir: "/kv".into(),
        }
    }

    #[test]
    fn save_load_round_trip_and_remove() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("sub/cp.json"));
        assert!(store.load()?.is_none());
        let cp = Checkpoints::new(task());
        store.save(&cp)?;
        assert_eq!(store.load()?, Some(cp.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path())?.permissions().mode();
            assert_eq!(mode & 0o077, 0, "checkpoint must be owner-only");
        }
        store.remove()?;
        assert!(store.load()?.is_none());
        Ok(())
    }

    #[test]
    fn corrupt_and_foreign_versions_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cp.json");
        fs::write(&path, b"{not json")?;
        let store = FileCheckpointStore::new(&path);
        let err = store
            .load()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cp.json"), "{err}");
        let mut cp = Checkpoints::new(task());
        cp.version = 99;
        fs::write(&path, serde_json::to_vec(&cp)?)?;
        assert!(matches!(
            store.load(),
            Err(CheckpointError::Version { found: 99, .. })
        ));
        Ok(())
    }
}
