//! The seam between engines and where their data goes.
//!
//! [`ImportTarget`] is all the import step needs: ingest finished SST files,
//! read existing pairs of a key range (to find duplicates against the target),
//! and record the losers of duplicate resolution. [`TargetStore`], the
//! embedded RocksDB target, implements it; a TiKV import-service target would
//! implement the same trait (ingest = upload + ingest per region).
//!
//! The target store keeps table data in the default column family under
//! TiDB's keys (`t…`), the catalog under the reserved prefix `m` (owned by
//! the catalog module), and duplicate records in the `duplicates` column
//! family.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, DBCompressionType, DBRawIterator,
    IngestExternalFileOptions, Options, ReadOptions, WriteBatch,
};
use uuid::Uuid;

use crate::codec::table::hex;
use crate::config::max_open_files;
use crate::error::{LocalError, LocalResult};
use crate::key_adapter;

/// The column family holding duplicate records.
pub const DUPLICATES_CF: &str = "duplicates";

/// One value that lost duplicate resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRecord {
    /// The user key.
    pub key: Vec<u8>,
    /// The losing value.
    pub value: Vec<u8>,
    /// The row id it was encoded from (0 when unknown, e.g. the target's
    /// previous value).
    pub row_id: i64,
    /// The engine it came from; the nil UUID for a value that was already in
    /// the target and was replaced.
    pub engine: Uuid,
}

/// A forward cursor over the target's existing pairs in one key range.
pub trait TargetCursor {
    /// Positions at the first pair with key ≥ `key`.
    fn seek(&mut self, key: &[u8]);
    /// Moves to the next pair.
    fn next(&mut self);
    /// The current pair, `None` past the range's end.
    fn current(&self) -> Option<(&[u8], &[u8])>;
    /// The error that ended iteration early, if any.
    fn status(&self) -> LocalResult<()>;
}

/// Where imports go. Implementations must be shareable between the range
/// tasks of an import.
pub trait ImportTarget: Send + Sync + fmt::Debug {
    /// Where the target is, for messages.
    fn location(&self) -> &Path;

    /// Options SST files for this target are written with: by default the
    /// target store's own table format (block size, compression), so an SST
    /// is ingested as it was written.
    fn sst_options(&self) -> Options {
        data_options()
    }

    /// Ingests finished SST files (non-overlapping among themselves) whole:
    /// after success their pairs are durable in the target and newer than
    /// what it held; after failure none of them is visible. Files may be
    /// moved (hard-linked) rather than copied.
    fn ingest_ssts(&self, files: &[PathBuf]) -> LocalResult<()>;

    /// A cursor over the target's existing pairs in `[lower, upper)`.
    fn cursor(&self, lower: &[u8], upper: Option<&[u8]>) -> Box<dyn TargetCursor + '_>;

    /// Durably records values that lost duplicate resolution. Recording the
    /// same record twice keeps one copy.
    fn record_duplicates(&self, records: &[DuplicateRecord]) -> LocalResult<()>;
}

/// The embedded RocksDB target store.
pub struct TargetStore {
    path: PathBuf,
    db: DB,
}

impl fmt::Debug for TargetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TargetStore {
    /// Opens (creating if needed) the target store at `path`.
    ///
    /// Errors: [`LocalError::TargetLocked`] naming the path when another
    /// process (or another handle in this process) has it open.
    pub fn open(path: impl AsRef<Path>) -> LocalResult<Arc<Self>> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)
            .map_err(|e| LocalError::io("creating target store", &path, e))?;
        let mut opts = data_options();
        opts.set_max_open_files(max_open_files(4, 64));
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        let cfs = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone()),
            ColumnFamilyDescriptor::new(DUPLICATES_CF, Options::default()),
        ];
        let db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(|source| {
            // RocksDB reports a held lock as an IOError on the LOCK file.
            if source.as_ref().contains("LOCK") && source.as_ref().contains("lock") {
                LocalError::TargetLocked {
                    path: path.clone(),
                    source,
                }
            } else {
                LocalError::rocks("opening target store", &path, source)
            }
        })?;
        Ok(Arc::new(TargetStore { path, db }))
    }

    /// The target's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The RocksDB handle, for the catalog and the read path. Table data is
    /// in the default column family.
    pub fn db(&self) -> &DB {
        &self.db
    }

    /// Every recorded duplicate, ordered by key.
    pub fn duplicates(&self) -> LocalResult<Vec<DuplicateRecord>> {
        let cf = self.duplicates_cf()?;
        let mut iter = self.db.raw_iterator_cf(cf);
        iter.seek_to_first();
        let mut out = Vec::new();
        while let Some((key, value)) = iter.item() {
            out.push(
                decode_duplicate(key, value).ok_or_else(|| LocalError::Corrupted {
                    uuid: Uuid::nil(),
                    path: self.path.clone(),
                    reason: format!("undecodable duplicate record {}", hex(key)),
                })?,
            );
            iter.next();
        }
        iter.status()
            .map_err(|e| LocalError::rocks("reading duplicates of", &self.path, e))?;
        Ok(out)
    }

    /// The recorded duplicates of user keys in `[start, end)`, ordered by
    /// key.
    pub fn duplicates_in(&self, start: &[u8], end: &[u8]) -> LocalResult<Vec<DuplicateRecord>> {
        let cf = self.duplicates_cf()?;
        let mut opts = ReadOptions::default();
        // Escaping preserves order and is prefix-free, so the escaped bounds
        // enclose exactly the records of keys in the range.
        opts.set_iterate_upper_bound(key_adapter::escape(end));
        let mut iter = self.db.raw_iterator_cf_opt(cf, opts);
        iter.seek(key_adapter::escape(start));
        let mut out = Vec::new();
        while let Some((key, value)) = iter.item() {
            out.push(
                decode_duplicate(key, value).ok_or_else(|| LocalError::Corrupted {
                    uuid: Uuid::nil(),
                    path: self.path.clone(),
                    reason: format!("undecodable duplicate record {}", hex(key)),
                })?,
            );
            iter.next();
        }
        iter.status()
            .map_err(|e| LocalError::rocks("reading duplicates of", &self.path, e))?;
        Ok(out)
    }

    fn duplicates_cf(&self) -> LocalResult<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(DUPLICATES_CF)
            .ok_or_else(|| LocalError::Corrupted {
                uuid: Uuid::nil(),
                path: self.path.clone(),
                reason: format!("column family `{DUPLICATES_CF}` is missing"),
            })
    }
}

/// Record key: `escape(key) ‖ engine ‖ row_id ‖ crc64(value)`, so the same
/// record written twice (a retried import) lands on the same key.
fn encode_duplicate_key(record: &DuplicateRecord) -> Vec<u8> {
    let mut out = key_adapter::escape(&record.key);
    out.extend_from_slice(record.engine.as_bytes());
    out.extend_from_slice(&record.row_id.to_be_bytes());
    out.extend_from_slice(&backend_core::KvChecksum::pair_crc(&[], &record.value).to_be_bytes());
    out
}

fn decode_duplicate(key: &[u8], value: &[u8]) -> Option<DuplicateRecord> {
    let prefix_len = key.len().checked_sub(32)?;
    let mut user_key = Vec::new();
    key_adapter::unescape_into(&key[..prefix_len], &mut user_key)?;
    let engine = Uuid::from_slice(key.get(prefix_len..prefix_len + 16)?).ok()?;
    let row_id = i64::from_be_bytes(key.get(prefix_len + 16..prefix_len + 24)?.try_into().ok()?);
    Some(DuplicateRecord {
        key: user_key,
        value: value.to_vec(),
        row_id,
        engine,
    })
}

struct RocksCursor<'a> {
    iter: DBRawIterator<'a>,
    path: &'a Path,
}

impl TargetCursor for RocksCursor<'_> {
    fn seek(&mut self, key: &[u8]) {
        self.iter.seek(key);
    }
    fn next(&mut self) {
        if self.iter.valid() {
            self.iter.next();
        }
    }
    fn current(&self) -> Option<(&[u8], &[u8])> {
        self.iter.item()
    }
    fn status(&self) -> LocalResult<()> {
        self.iter
            .status()
            .map_err(|e| LocalError::rocks("reading target store", self.path, e))
    }
}

/// How the store's data files are built, by its own flushes and by the
/// import's region SSTs alike: LZ4, and 64 KiB blocks as TiKV's column
/// families use. Scans (the post-import checksum, exports) pay a read,
/// a decompression and an allocation per block, which 4 KiB blocks made
/// several times more frequent.
fn data_options() -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_size(64 << 10);
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_block_based_table_factory(&table);
    opts
}

impl ImportTarget for TargetStore {
    fn location(&self) -> &Path {
        &self.path
    }

    fn ingest_ssts(&self, files: &[PathBuf]) -> LocalResult<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(true);
        self.db
            .ingest_external_file_opts(&opts, files.to_vec())
            .map_err(|e| LocalError::rocks("ingesting SSTs into target store", &self.path, e))
    }

    fn cursor(&self, lower: &[u8], upper: Option<&[u8]>) -> Box<dyn TargetCursor + '_> {
        let mut opts = ReadOptions::default();
        opts.fill_cache(false);
        if let Some(upper) = upper {
            opts.set_iterate_upper_bound(upper.to_vec());
        }
        let mut iter = self.db.raw_iterator_opt(opts);
        iter.seek(lower);
        Box::new(RocksCursor {
            iter,
            path: &self.path,
        })
    }

    fn record_duplicates(&self, records: &[DuplicateRecord]) -> LocalResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let cf = self.duplicates_cf()?;
        let mut batch = WriteBatch::default();
        for record in records {
            batch.put_cf(cf, encode_duplicate_key(record), &record.value);
        }
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db
            .write_opt(batch, &opts)
            .map_err(|e| LocalError::rocks("recording duplicates in target store", &self.path, e))
    }
}
