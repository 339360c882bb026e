//! The embedded RocksDB target store, the local backend's
//! [`IngestTarget`]. The target store keeps table data in the default column family under
//! TiDB's keys (`t…`), the catalog under the reserved prefix `m` (owned by
//! the catalog module), and duplicate records in the `duplicates` column
//! family.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    ColumnFamilyDescriptor, DB, DBRawIterator, IngestExternalFileOptions, Options, ReadOptions,
    WriteBatch,
};
use uuid::Uuid;

use crate::codec::table::hex;
use crate::config::{max_open_files, target_data_options};
use crate::error::{LocalError, LocalResult};
use crate::ingest::{DuplicateRecord, IngestTarget, TargetCursor};
use crate::key_adapter;

/// The column family holding duplicate records.
pub const DUPLICATES_CF: &str = "duplicates";

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
        let mut opts = target_data_options();
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
        self.collect_duplicates(iter)
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
        self.collect_duplicates(iter)
    }

    /// Decodes the duplicate records from `iter`'s position to its end.
    fn collect_duplicates(&self, mut iter: DBRawIterator<'_>) -> LocalResult<Vec<DuplicateRecord>> {
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

impl IngestTarget for TargetStore {
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

    /// One synced write batch: no file, and concurrent imports share the
    /// log sync. The store's flushes and compactions fold the pairs into
    /// its data files later.
    fn write_pairs(&self, pairs: &[(Vec<u8>, Vec<u8>)], _scratch: &Path) -> LocalResult<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (key, value) in pairs {
            batch.put(key, value);
        }
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db
            .write_opt(batch, &opts)
            .map_err(|e| LocalError::rocks("writing a region into target store", &self.path, e))
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
