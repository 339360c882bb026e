//! [`LocalBackendConfig`]: where engines and the target live, memory and
//! concurrency limits, and what to do with duplicate keys; and the
//! open-file budget of the RocksDB instances (engines and the target store).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LocalError, LocalResult};

/// Default `local-writer-mem-cache-size`: 128 MiB per writer.
pub const DEFAULT_WRITER_MEM_CACHE_SIZE: u64 = 128 << 20;
/// Default `region-split-size`: 96 MiB.
pub const DEFAULT_REGION_SPLIT_SIZE: u64 = 96 << 20;
/// Default `region-split-keys`.
pub const DEFAULT_REGION_SPLIT_KEYS: u64 = 1_280_000;
/// Default `range-concurrency`.
pub const DEFAULT_RANGE_CONCURRENCY: usize = 4;
/// Default `small_engine_size`: 8 MiB of runs before an engine gets its
/// sorting store.
pub const DEFAULT_SMALL_ENGINE_SIZE: u64 = 8 << 20;
/// Default `retry-import-delay`.
pub const DEFAULT_RETRY_IMPORT_DELAY: Duration = Duration::from_secs(3);

/// What the import does when one key has two different values (inside an
/// engine, or between an engine and the target). Identical pairs are never
/// duplicates.
///
/// In every mode exactly one value per key ends up in the target and every
/// other distinct value is recorded in the target's `duplicates` column
/// family (see [`crate::TargetStore::duplicates`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    /// Keep the first value (what the target already had, else the first
    /// one written), record the others, and fail the import with a
    /// duplicate-detected error after all data is imported.
    #[default]
    Error,
    /// Keep the last value written to the engine (overwriting the
    /// target's), record the others.
    Replace,
    /// Keep the first value (what the target already had, else the first
    /// one written), record the others, succeed.
    Ignore,
}

impl OnDuplicate {
    /// Parses `error`, `replace`, `ignore` (also `record`, Lightning's
    /// `duplicate-resolution = "record"`, as `ignore`).
    pub fn parse(value: &str) -> LocalResult<Self> {
        match value {
            "error" => Ok(OnDuplicate::Error),
            "replace" => Ok(OnDuplicate::Replace),
            "ignore" | "record" => Ok(OnDuplicate::Ignore),
            other => Err(LocalError::Config {
                key: "on-duplicate",
                reason: format!("`{other}` is not one of error, replace, ignore"),
            }),
        }
    }
}

/// Configuration of [`crate::LocalBackend`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalBackendConfig {
    /// `sorted-kv-dir`: each engine lives in `<sorted_kv_dir>/<engine-uuid>/`.
    pub sorted_kv_dir: PathBuf,
    /// The target store's directory (an embedded RocksDB).
    pub target_dir: PathBuf,
    /// `local-writer-mem-cache-size`: bytes a writer buffers before it sorts
    /// them into an SST.
    pub local_writer_mem_cache_size: u64,
    /// `range-concurrency`: how many ranges of one engine are written and
    /// ingested at once, at most; the import also stays within the cores
    /// and a read-memory budget (see `import::walk_plan`).
    pub range_concurrency: usize,
    /// `on-duplicate`.
    pub on_duplicate: OnDuplicate,
    /// `retry-import-delay`.
    pub retry_import_delay: Duration,
    /// Bytes an engine keeps as run files before it creates its own
    /// sorting store (a RocksDB instance); a flush bigger than this goes
    /// to the store at once. Small engines cost a few files instead of a
    /// few dozen, which is what a dump of many small tables spends its
    /// time on. 0 gives every engine a store with its first pairs. The
    /// import reads a small engine into memory, so this also bounds that.
    pub small_engine_size: u64,
}

impl LocalBackendConfig {
    /// Defaults for everything but the two directories.
    pub fn new(sorted_kv_dir: impl Into<PathBuf>, target_dir: impl Into<PathBuf>) -> Self {
        LocalBackendConfig {
            sorted_kv_dir: sorted_kv_dir.into(),
            target_dir: target_dir.into(),
            local_writer_mem_cache_size: DEFAULT_WRITER_MEM_CACHE_SIZE,
            range_concurrency: DEFAULT_RANGE_CONCURRENCY,
            on_duplicate: OnDuplicate::default(),
            retry_import_delay: DEFAULT_RETRY_IMPORT_DELAY,
            small_engine_size: DEFAULT_SMALL_ENGINE_SIZE,
        }
    }

    /// Checks every value; errors name the key.
    pub fn validate(&self) -> LocalResult<()> {
        if self.sorted_kv_dir.as_os_str().is_empty() {
            return Err(LocalError::Config {
                key: "sorted-kv-dir",
                reason: "must not be empty".into(),
            });
        }
        if self.target_dir.as_os_str().is_empty() {
            return Err(LocalError::Config {
                key: "target-dir",
                reason: "must not be empty".into(),
            });
        }
        if self.local_writer_mem_cache_size < 4096 {
            return Err(LocalError::Config {
                key: "local-writer-mem-cache-size",
                reason: format!(
                    "{} bytes is too small (minimum 4096)",
                    self.local_writer_mem_cache_size
                ),
            });
        }
        if self.range_concurrency == 0 {
            return Err(LocalError::Config {
                key: "range-concurrency",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// How many files a RocksDB instance may keep open: `1/divisor` of the
/// process's soft `RLIMIT_NOFILE`, at least `floor`. RocksDB keeps every
/// SST open by default, and the target store gains SSTs with every import:
/// many tables would otherwise run the process out of descriptors.
/// The cores this process may use, asked once: the answer reads cgroup
/// files, and small tables would ask it once each.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

pub(crate) fn max_open_files(divisor: u64, floor: i32) -> i32 {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    i32::try_from(limit / divisor.max(1))
        .unwrap_or(i32::MAX)
        .max(floor)
}

/// How the store's data files are built, by its own flushes and by the
/// import's region SSTs alike: LZ4, and 64 KiB blocks as TiKV's column
/// families use. Scans (the post-import checksum, exports) pay a read,
/// a decompression and an allocation per block, which 4 KiB blocks made
/// several times more frequent.
pub(crate) fn target_data_options() -> rocksdb::Options {
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_size(64 << 10);
    let mut opts = rocksdb::Options::default();
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts.set_block_based_table_factory(&table);
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_the_key() {
        let mut config = LocalBackendConfig::new("/tmp/a", "/tmp/b");
        assert!(config.validate().is_ok());
        assert_eq!(config.retry_import_delay, Duration::from_secs(3));
        config.range_concurrency = 0;
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("range-concurrency")));
        assert_eq!(OnDuplicate::parse("record").ok(), Some(OnDuplicate::Ignore));
        assert!(OnDuplicate::parse("keep").is_err());
    }
}
