//! The log file, rotated as Lightning rotates its own (lumberjack through
//! `pingcap/log`): once it passes `lightning.max-size` MB it is renamed
//! with a timestamp suffix (`importer.log.20240131T120000`) and a new file
//! is started; of the rotated files at most `max-backups` are kept (0 =
//! all) and none older than `max-days`.
//!
//! The rotation itself is the `file-rotate` crate's; this module adds
//! lumberjack's rule of keeping by count *and* by age.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use file_rotate::suffix::{
    AppendTimestamp, FileLimit, Representation, SuffixScheme, TimestampSuffix,
};
use file_rotate::{ContentLimit, FileRotate, compression::Compression};

/// Lightning's `max-size` when 0: 512 MB.
pub const DEFAULT_MAX_SIZE_MB: u64 = 512;
/// Lightning's `max-days` when 0: 7.
pub const DEFAULT_MAX_DAYS: u64 = 7;

/// How the log file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes after which the file is rotated.
    pub max_bytes: u64,
    /// Rotated files older than this are deleted.
    pub max_age: Duration,
    /// Rotated files kept at most (0 = all).
    pub max_backups: usize,
}

impl Rotation {
    /// Lightning's meaning of `max-size` (MB), `max-days` and `max-backups`,
    /// 0 taking Lightning's defaults.
    pub fn from_config(max_size_mb: u64, max_days: u64, max_backups: u64) -> Self {
        let mb = if max_size_mb == 0 {
            DEFAULT_MAX_SIZE_MB
        } else {
            max_size_mb
        };
        let days = if max_days == 0 {
            DEFAULT_MAX_DAYS
        } else {
            max_days
        };
        Rotation {
            max_bytes: mb.saturating_mul(1 << 20),
            max_age: Duration::from_secs(days.saturating_mul(86_400)),
            max_backups: usize::try_from(max_backups).unwrap_or(usize::MAX),
        }
    }
}

/// Keeps rotated files by count and by age, as lumberjack does; names them
/// as `file-rotate`'s [`AppendTimestamp`].
struct KeepByCountAndAge {
    inner: AppendTimestamp,
    basepath: PathBuf,
    max_age: Duration,
    max_backups: usize,
}

impl SuffixScheme for KeepByCountAndAge {
    type Repr = TimestampSuffix;

    fn rotate_file(
        &mut self,
        basepath: &Path,
        newest_suffix: Option<&TimestampSuffix>,
        suffix: &Option<TimestampSuffix>,
    ) -> io::Result<TimestampSuffix> {
        self.inner.rotate_file(basepath, newest_suffix, suffix)
    }

    fn parse(&self, suffix: &str) -> Option<TimestampSuffix> {
        self.inner.parse(suffix)
    }

    fn too_old(&self, suffix: &TimestampSuffix, file_number: usize) -> bool {
        if self.max_backups > 0 && file_number >= self.max_backups {
            return true;
        }
        // The age of a rotated file is the time of its last line.
        std::fs::metadata(suffix.to_path(&self.basepath))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > self.max_age)
    }
}

/// An open log file that rotates itself.
pub struct RotatingFile(FileRotate<KeepByCountAndAge>);

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile").finish_non_exhaustive()
    }
}

impl RotatingFile {
    /// Opens (appending to) the log file at `path`.
    ///
    /// # Errors
    /// The file cannot be created or opened for appending.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        // file-rotate opens lazily and panics on a missing directory: open
        // the file once here so errors are reported, with an absolute path.
        let path = std::path::absolute(path)?;
        OpenOptions::new().create(true).append(true).open(&path)?;
        let scheme = KeepByCountAndAge {
            inner: AppendTimestamp::default(FileLimit::Unlimited),
            basepath: path.clone(),
            max_age: rotation.max_age,
            max_backups: rotation.max_backups,
        };
        let limit = usize::try_from(rotation.max_bytes.max(1)).unwrap_or(usize::MAX);
        Ok(RotatingFile(FileRotate::new(
            &path,
            scheme,
            ContentLimit::BytesSurpassed(limit),
            Compression::None,
            None,
        )))
    }

    /// The rotated files, oldest first.
    pub fn rotated(&mut self) -> Vec<PathBuf> {
        self.0.log_paths()
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rotates_past_the_size_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("importer.log");
        let rotation = Rotation {
            max_bytes: 100,
            max_age: Duration::from_secs(3600),
            max_backups: 2,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        for i in 0..5 {
            log.write_all(format!("{i}: {}\n", "x".repeat(120)).as_bytes())
                .unwrap();
            // Timestamps have one-second resolution; equal ones get a
            // counter, so no sleep is needed.
        }
        let rotated = log.rotated();
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        assert!(rotated.iter().all(|p| p.exists()));
        // Each rotated file holds one complete write.
        for p in &rotated {
            let text = std::fs::read_to_string(p).unwrap();
            assert_eq!(text.lines().count(), 1, "{text}");
        }
    }

    #[test]
    fn zero_takes_lightnings_defaults() {
        let r = Rotation::from_config(0, 0, 0);
        assert_eq!(r.max_bytes, 512 << 20);
        assert_eq!(r.max_age, Duration::from_secs(7 * 86_400));
        assert_eq!(r.max_backups, 0);
    }
}
