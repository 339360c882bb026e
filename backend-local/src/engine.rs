//! One engine: a RocksDB instance under `<sorted-kv-dir>/<uuid>/` that sorts
//! the engine's pairs, plus what it needs to survive a crash.
//!
//! Layout of an engine directory:
//!
//! * `db/` — the sorting store. Tuned for bulk load: auto-compaction off, no
//!   compression, no WAL writes (data only ever arrives as SST files that
//!   writers build and ingest, so nothing lives in a memtable). Column family
//!   `default` holds the engine's pairs; `staging` collects small SSTs when
//!   compaction is on, merged into `default` once they pass the threshold.
//! * `tmp/` — SSTs being written by writers, and `import/` — SSTs being
//!   built for the target. Both are emptied when the engine is opened.
//! * `meta.json` — format version, UUID and the open *generation*, bumped on
//!   every open, which makes per-pair sequence numbers unique across restarts
//!   (see [`crate::key_adapter`]).
//! * `batches.log` — one checksummed record per ingested SST: pair count,
//!   bytes and key samples (every ~4 MiB), the engine's size properties. A
//!   torn last record (crash while appending) is ignored; the SST it
//!   describes is still in `db/` and imported, only the estimate lags.
//!
//! Durability: an SST is durable once its ingest returns (RocksDB syncs the
//! file and its MANIFEST), so everything a writer has handed over survives
//! `kill -9`; reopening by UUID finds it.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use backend_core::LocalEngineConfig;
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, DBCompressionType, IngestExternalFileOptions,
    Options, SstFileWriter, WriteOptions,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::max_open_files;
use crate::error::{LocalError, LocalResult};

/// Column family of small SSTs waiting to be merged.
const STAGING_CF: &str = "staging";
const META_FILE: &str = "meta.json";
const BATCH_LOG: &str = "batches.log";
const FORMAT_VERSION: u32 = 1;
/// Bits of a sequence number below the generation.
const GENERATION_SHIFT: u32 = 40;
/// A key sample is taken about every this many bytes…
pub(crate) const SAMPLE_BYTES: u64 = 4 << 20;
/// …or this many pairs.
pub(crate) const SAMPLE_KEYS: u64 = 40_960;

/// Whether an engine accepts writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineState {
    Open,
    Closed,
}

impl EngineState {
    fn name(self) -> &'static str {
        match self {
            EngineState::Open => "open",
            EngineState::Closed => "closed",
        }
    }
}

/// A key sample: `bytes`/`keys` of pair data lie in the same SST between the
/// previous sample and this user key (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    pub key: Vec<u8>,
    pub bytes: u64,
    pub keys: u64,
}

/// What one ingested SST added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BatchStats {
    pub kvs: u64,
    pub bytes: u64,
    pub samples: Vec<Sample>,
}

impl BatchStats {
    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.kvs.to_le_bytes());
        body.extend_from_slice(&self.bytes.to_le_bytes());
        body.extend_from_slice(&(self.samples.len() as u64).to_le_bytes());
        for s in &self.samples {
            body.extend_from_slice(&(s.key.len() as u64).to_le_bytes());
            body.extend_from_slice(&s.key);
            body.extend_from_slice(&s.bytes.to_le_bytes());
            body.extend_from_slice(&s.keys.to_le_bytes());
        }
        let mut record = Vec::with_capacity(body.len() + 16);
        record.extend_from_slice(&(body.len() as u64).to_le_bytes());
        record.extend_from_slice(&body);
        record.extend_from_slice(&backend_core::KvChecksum::pair_crc(&body, &[]).to_le_bytes());
        record
    }

    /// Decodes one record from the front of `data`; `None` for a torn or
    /// corrupted record.
    fn decode(data: &mut &[u8]) -> Option<BatchStats> {
        fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = data.split_at_checked(n)?;
            *data = rest;
            Some(head)
        }
        fn u64_of(data: &mut &[u8]) -> Option<u64> {
            Some(u64::from_le_bytes(take(data, 8)?.try_into().ok()?))
        }
        let len = usize::try_from(u64_of(data)?).ok()?;
        let mut body = take(data, len)?;
        let crc = u64_of(data)?;
        if backend_core::KvChecksum::pair_crc(body, &[]) != crc {
            return None;
        }
        let kvs = u64_of(&mut body)?;
        let bytes = u64_of(&mut body)?;
        let n = u64_of(&mut body)?;
        let mut samples = Vec::new();
        for _ in 0..n {
            let klen = usize::try_from(u64_of(&mut body)?).ok()?;
            let key = take(&mut body, klen)?.to_vec();
            samples.push(Sample {
                key,
                bytes: u64_of(&mut body)?,
                keys: u64_of(&mut body)?,
            });
        }
        Some(BatchStats {
            kvs,
            bytes,
            samples,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct EngineMeta {
    format: u32,
    uuid: Uuid,
    generation: u64,
}

/// Limits how many staging merges run at once across all engines.
#[derive(Debug)]
pub(crate) struct CompactionSlots {
    free: Mutex<usize>,
    cond: Condvar,
}

impl CompactionSlots {
    pub(crate) fn new(slots: usize) -> Arc<Self> {
        Arc::new(CompactionSlots {
            free: Mutex::new(slots.max(1)),
            cond: Condvar::new(),
        })
    }

    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.cond.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a CompactionSlots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.cond.notify_one();
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the
/// protected state consistent before anything that can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The opened sorting store.
#[derive(Debug)]
pub(crate) struct EngineDb {
    pub db: DB,
    pub path: PathBuf,
}

#[derive(Debug)]
struct EngineInner {
    state: EngineState,
    db: Option<Arc<EngineDb>>,
    kvs: u64,
    bytes: u64,
    samples: Vec<Sample>,
    staging_bytes: u64,
}

/// An engine known to this process.
#[derive(Debug)]
pub(crate) struct Engine {
    pub uuid: Uuid,
    pub dir: PathBuf,
    config: LocalEngineConfig,
    inner: Mutex<EngineInner>,
    next_seq: AtomicU64,
    sst_id: AtomicU64,
    /// Bytes buffered in this engine's writers.
    pub mem_size: AtomicU64,
    pub importing: AtomicBool,
    /// The pending pairs of this engine's writers (weak: a dropped writer's
    /// buffer goes with it).
    writers: Mutex<Vec<Weak<dyn PendingWrites>>>,
    slots: Arc<CompactionSlots>,
}

/// A writer's pairs that are not in the engine's store yet. The engine holds
/// a weak reference to those of each of its writers, so that the flushes it
/// drives itself (close, `flush_engine`, the disk-quota import) hand them
/// over too. The writer module implements it for its buffer.
pub(crate) trait PendingWrites: Send + Sync {
    /// Writes the pending pairs into `engine`'s store.
    fn flush_into(&self, engine: &Engine) -> LocalResult<()>;
}

fn engine_db_options() -> Options {
    let mut opts = Options::default();
    // Many engines are open at once (two per table in flight).
    opts.set_max_open_files(max_open_files(64, 16));
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_disable_auto_compactions(true);
    opts.set_compression_type(DBCompressionType::None);
    opts.set_write_buffer_size(128 << 20);
    // With auto-compaction off RocksDB does not stall on L0 file counts,
    // but keep the triggers out of reach anyway.
    opts.set_level_zero_slowdown_writes_trigger(1 << 30);
    opts.set_level_zero_stop_writes_trigger(1 << 30);
    opts.set_max_background_jobs(2);
    // No mmap reads: mapped engine files count in the process's RSS
    // (bench_local saw 1.8 GiB peak at 10 M pairs), buffered reads do not.
    opts.set_block_based_table_factory(&engine_table_options());
    opts
}

/// Block size of engine SSTs.
pub(crate) const ENGINE_BLOCK_SIZE: usize = 64 << 10;

/// Engine SSTs are written once and scanned once: big blocks (a smaller
/// index, fewer block checksums), no filters.
fn engine_table_options() -> BlockBasedOptions {
    let mut table = BlockBasedOptions::default();
    table.set_block_size(ENGINE_BLOCK_SIZE);
    table
}

/// Options of SSTs written into an engine (must match the engine DB's).
pub(crate) fn engine_sst_options() -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::None);
    opts.set_block_based_table_factory(&engine_table_options());
    opts
}

impl Engine {
    /// Opens the engine for writing: reuses what `dir` holds when
    /// `keep_sort_dir`, else starts empty.
    pub(crate) fn open(
        uuid: Uuid,
        dir: PathBuf,
        config: LocalEngineConfig,
        keep_sort_dir: bool,
        slots: Arc<CompactionSlots>,
    ) -> LocalResult<Self> {
        if !keep_sort_dir && dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| LocalError::io("removing old engine directory", &dir, e))?;
        }
        Self::load(uuid, dir, config, EngineState::Open, true, slots)
    }

    /// Reopens an engine an earlier run left, closed (read-only).
    pub(crate) fn reopen_closed(
        uuid: Uuid,
        dir: PathBuf,
        config: LocalEngineConfig,
        slots: Arc<CompactionSlots>,
    ) -> LocalResult<Self> {
        if !dir.join(META_FILE).is_file() {
            return Err(LocalError::EngineNotFound {
                uuid,
                path: dir,
                reason: "no engine directory with meta.json left by an earlier run",
            });
        }
        let engine = Self::load(uuid, dir, config, EngineState::Closed, false, slots)?;
        engine.merge_staging(&mut lock(&engine.inner))?;
        Ok(engine)
    }

    fn load(
        uuid: Uuid,
        dir: PathBuf,
        config: LocalEngineConfig,
        state: EngineState,
        create: bool,
        slots: Arc<CompactionSlots>,
    ) -> LocalResult<Self> {
        for sub in ["tmp", "import"] {
            let path = dir.join(sub);
            if path.exists() {
                fs::remove_dir_all(&path)
                    .map_err(|e| LocalError::io("clearing engine scratch directory", &path, e))?;
            }
            fs::create_dir_all(&path)
                .map_err(|e| LocalError::io("creating engine directory", &path, e))?;
        }
        let meta_path = dir.join(META_FILE);
        let generation = if meta_path.exists() {
            let text = fs::read(&meta_path)
                .map_err(|e| LocalError::io("reading engine meta", &meta_path, e))?;
            let meta: EngineMeta =
                serde_json::from_slice(&text).map_err(|e| LocalError::Corrupted {
                    uuid,
                    path: meta_path.clone(),
                    reason: e.to_string(),
                })?;
            if meta.uuid != uuid || meta.format != FORMAT_VERSION {
                return Err(LocalError::Corrupted {
                    uuid,
                    path: meta_path,
                    reason: format!(
                        "belongs to engine {} format {}, expected engine {uuid} format {FORMAT_VERSION}",
                        meta.uuid, meta.format
                    ),
                });
            }
            meta.generation + 1
        } else if create {
            1
        } else {
            return Err(LocalError::EngineNotFound {
                uuid,
                path: dir,
                reason: "meta.json is missing",
            });
        };
        if generation >= 1 << (64 - GENERATION_SHIFT) {
            return Err(LocalError::Corrupted {
                uuid,
                path: meta_path,
                reason: format!("generation {generation} out of range"),
            });
        }
        let db_path = dir.join("db");
        if !create && !db_path.join("CURRENT").is_file() {
            return Err(LocalError::Corrupted {
                uuid,
                path: db_path,
                reason: "the sorting store is missing (no CURRENT file)".into(),
            });
        }
        let opts = engine_db_options();
        let cfs = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone()),
            ColumnFamilyDescriptor::new(STAGING_CF, opts.clone()),
        ];
        let db = DB::open_cf_descriptors(&opts, &db_path, cfs).map_err(|e| match e.kind() {
            rocksdb::ErrorKind::Corruption | rocksdb::ErrorKind::InvalidArgument => {
                LocalError::Corrupted {
                    uuid,
                    path: db_path.clone(),
                    reason: e.into_string(),
                }
            }
            _ => LocalError::rocks("opening engine sorting store", &db_path, e),
        })?;
        write_atomically(
            &meta_path,
            &serde_json::to_vec_pretty(&EngineMeta {
                format: FORMAT_VERSION,
                uuid,
                generation,
            })
            .map_err(|e| LocalError::Corrupted {
                uuid,
                path: meta_path.clone(),
                reason: e.to_string(),
            })?,
        )?;
        let (kvs, bytes, samples) = read_batch_log(&dir.join(BATCH_LOG))?;
        let staging_bytes = db
            .cf_handle(STAGING_CF)
            .map_or(0, |cf| db.get_column_family_metadata_cf(&cf).size);
        Ok(Engine {
            uuid,
            config,
            inner: Mutex::new(EngineInner {
                state,
                db: Some(Arc::new(EngineDb { db, path: db_path })),
                kvs,
                bytes,
                samples,
                staging_bytes,
            }),
            next_seq: AtomicU64::new(generation << GENERATION_SHIFT),
            sst_id: AtomicU64::new(0),
            mem_size: AtomicU64::new(0),
            importing: AtomicBool::new(false),
            writers: Mutex::new(Vec::new()),
            slots,
            dir,
        })
    }

    /// The current state.
    pub(crate) fn state(&self) -> EngineState {
        lock(&self.inner).state
    }

    /// Fails with [`LocalError::EngineState`] unless the engine is open.
    pub(crate) fn check_open(&self, op: &'static str) -> LocalResult<()> {
        let inner = lock(&self.inner);
        self.check_open_locked(&inner, op)
    }

    fn check_open_locked(&self, inner: &EngineInner, op: &'static str) -> LocalResult<()> {
        if inner.state == EngineState::Open && inner.db.is_some() {
            Ok(())
        } else {
            Err(LocalError::EngineState {
                uuid: self.uuid,
                state: if inner.db.is_some() {
                    inner.state.name()
                } else {
                    "cleaned up"
                },
                op,
            })
        }
    }

    /// The sorting store, for reading.
    pub(crate) fn db(&self) -> LocalResult<Arc<EngineDb>> {
        lock(&self.inner).db.clone().ok_or(LocalError::EngineState {
            uuid: self.uuid,
            state: "cleaned up",
            op: "read",
        })
    }

    /// `(kvs, bytes, samples)` of everything ingested.
    pub(crate) fn stats(&self) -> (u64, u64, Vec<Sample>) {
        let inner = lock(&self.inner);
        (inner.kvs, inner.bytes, inner.samples.clone())
    }

    /// Reopens a closed engine for writing.
    pub(crate) fn reopen_for_writing(&self) {
        lock(&self.inner).state = EngineState::Open;
    }

    /// Reserves `n` consecutive sequence numbers.
    pub(crate) fn reserve_seqs(&self, n: u64) -> u64 {
        self.next_seq.fetch_add(n, Ordering::Relaxed)
    }

    /// A fresh path in `sub` (`tmp` or `import`).
    pub(crate) fn scratch_path(&self, sub: &str, prefix: &str) -> PathBuf {
        let id = self.sst_id.fetch_add(1, Ordering::Relaxed);
        self.dir.join(sub).join(format!("{prefix}-{id}.sst"))
    }

    /// Registers a writer's pending pairs so engine flushes reach them.
    pub(crate) fn register_writer(&self, pending: Weak<dyn PendingWrites>) {
        let mut writers = lock(&self.writers);
        writers.retain(|w| w.strong_count() > 0);
        writers.push(pending);
    }

    /// Ingests a writer's finished SST (moved, not copied) and logs its
    /// stats. Fails if the engine is no longer open; the file is then
    /// removed and nothing is ingested.
    pub(crate) fn ingest_writer_sst(
        &self,
        path: &Path,
        file_size: u64,
        stats: BatchStats,
    ) -> LocalResult<()> {
        let mut inner = lock(&self.inner);
        if let Err(e) = self.check_open_locked(&inner, "write") {
            let _ = fs::remove_file(path);
            return Err(e);
        }
        let edb = inner.db.clone().ok_or(LocalError::EngineState {
            uuid: self.uuid,
            state: "cleaned up",
            op: "write",
        })?;
        let small = self.config.compact && file_size < self.config.compact_threshold / 16;
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(true);
        let result = if small {
            let cf = staging_cf(&edb, self.uuid)?;
            edb.db.ingest_external_file_cf_opts(cf, &opts, vec![path])
        } else {
            edb.db.ingest_external_file_opts(&opts, vec![path])
        };
        if let Err(e) = result {
            let _ = fs::remove_file(path);
            return Err(LocalError::rocks("ingesting writer SST into", &edb.path, e));
        }
        append_batch_log(&self.dir.join(BATCH_LOG), &stats)?;
        inner.kvs += stats.kvs;
        inner.bytes += stats.bytes;
        inner.samples.extend(stats.samples);
        if small {
            inner.staging_bytes += file_size;
            if inner.staging_bytes >= self.config.compact_threshold {
                self.merge_staging(&mut inner)?;
            }
        }
        Ok(())
    }

    /// Merges the staging column family into `default` as one SST.
    fn merge_staging(&self, inner: &mut EngineInner) -> LocalResult<()> {
        let Some(edb) = inner.db.clone() else {
            return Ok(());
        };
        let cf = staging_cf(&edb, self.uuid)?;
        let mut iter = edb.db.raw_iterator_cf(cf);
        iter.seek_to_first();
        if !iter.valid() {
            inner.staging_bytes = 0;
            return iter
                .status()
                .map_err(|e| LocalError::rocks("reading staging data of", &edb.path, e));
        }
        let _slot = self.slots.acquire();
        let path = self.scratch_path("tmp", "merged");
        let opts = engine_sst_options();
        let mut writer = SstFileWriter::create(&opts);
        writer
            .open(&path)
            .map_err(|e| LocalError::rocks("creating merged SST", &path, e))?;
        let mut last = Vec::new();
        while let Some((key, value)) = iter.item() {
            writer
                .put(key, value)
                .map_err(|e| LocalError::rocks("writing merged SST", &path, e))?;
            last.clear();
            last.extend_from_slice(key);
            iter.next();
        }
        iter.status()
            .map_err(|e| LocalError::rocks("reading staging data of", &edb.path, e))?;
        drop(iter);
        writer
            .finish()
            .map_err(|e| LocalError::rocks("finishing merged SST", &path, e))?;
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        edb.db
            .ingest_external_file_opts(&ingest, vec![&path])
            .map_err(|e| LocalError::rocks("ingesting merged SST into", &edb.path, e))?;
        // Dropping the staged copies: if a crash comes first, the same stored
        // keys are merged again and RocksDB keeps one copy of each.
        last.push(0);
        let mut wopts = WriteOptions::default();
        wopts.disable_wal(true);
        edb.db
            .delete_range_cf_opt(cf, &[][..], &last[..], &wopts)
            .and_then(|()| edb.db.flush_cf(cf))
            .map_err(|e| LocalError::rocks("clearing staging data of", &edb.path, e))?;
        edb.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        inner.staging_bytes = 0;
        Ok(())
    }

    /// Hands every registered writer's buffer to the store.
    pub(crate) fn flush_writers(&self) -> LocalResult<()> {
        let writers: Vec<_> = lock(&self.writers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for writer in writers {
            writer.flush_into(self)?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn flush(&self) -> LocalResult<()> {
        self.flush_writers()?;
        let edb = self.db()?;
        edb.db
            .flush()
            .map_err(|e| LocalError::rocks("flushing engine", &edb.path, e))
    }

    /// Closes the engine for writing: flushes writers, merges staged SSTs.
    pub(crate) fn close(&self) -> LocalResult<()> {
        if self.state() == EngineState::Open {
            self.flush_writers()?;
        }
        let mut inner = lock(&self.inner);
        self.merge_staging(&mut inner)?;
        inner.state = EngineState::Closed;
        Ok(())
    }

    /// Makes an open engine's pairs importable without closing it: hands
    /// the writers' buffers to the store and merges staged SSTs. Pairs
    /// written after this are not part of an import that follows, so the
    /// caller keeps writers idle until it resets the engine (the disk-quota
    /// path, [`backend_core::EngineManager::unsafe_import_and_reset`]).
    pub(crate) fn prepare_open_import(&self) -> LocalResult<()> {
        self.flush_writers()?;
        let mut inner = lock(&self.inner);
        self.merge_staging(&mut inner)
    }

    /// Drops every pair, keeping the engine open (a new, empty store).
    pub(crate) fn reset(&self) -> LocalResult<()> {
        if self.importing.load(Ordering::SeqCst) {
            return Err(LocalError::EngineState {
                uuid: self.uuid,
                state: "importing",
                op: "reset",
            });
        }
        let mut inner = lock(&self.inner);
        inner.db = None;
        let db_path = self.dir.join("db");
        for path in [db_path.clone(), self.dir.join(BATCH_LOG)] {
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LocalError::io("resetting engine", &path, e)),
            }
        }
        let opts = engine_db_options();
        let cfs = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone()),
            ColumnFamilyDescriptor::new(STAGING_CF, opts.clone()),
        ];
        let db = DB::open_cf_descriptors(&opts, &db_path, cfs)
            .map_err(|e| LocalError::rocks("recreating engine sorting store", &db_path, e))?;
        inner.db = Some(Arc::new(EngineDb { db, path: db_path }));
        inner.kvs = 0;
        inner.bytes = 0;
        inner.samples.clear();
        inner.staging_bytes = 0;
        Ok(())
    }

    /// Closes the store and deletes the engine directory.
    pub(crate) fn destroy(&self) -> LocalResult<()> {
        lock(&self.inner).db = None;
        remove_engine_dir(&self.dir)
    }

    /// Bytes the engine's files take on disk.
    pub(crate) fn disk_size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

fn staging_cf(edb: &EngineDb, uuid: Uuid) -> LocalResult<&rocksdb::ColumnFamily> {
    edb.db
        .cf_handle(STAGING_CF)
        .ok_or_else(|| LocalError::Corrupted {
            uuid,
            path: edb.path.clone(),
            reason: format!("column family `{STAGING_CF}` is missing"),
        })
}

/// Deletes an engine directory; a missing one is fine.
pub(crate) fn remove_engine_dir(dir: &Path) -> LocalResult<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LocalError::io("removing engine directory", dir, e)),
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn write_atomically(path: &Path, contents: &[u8]) -> LocalResult<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| LocalError::io("writing engine meta", path, e))
}

fn append_batch_log(path: &Path, stats: &BatchStats) -> LocalResult<()> {
    let append = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(&stats.encode())?;
        file.sync_data()
    };
    append().map_err(|e| LocalError::io("appending to engine batch log", path, e))
}

fn read_batch_log(path: &Path) -> LocalResult<(u64, u64, Vec<Sample>)> {
    let mut data = Vec::new();
    match fs::File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut data)
                .map_err(|e| LocalError::io("reading engine batch log", path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LocalError::io("opening engine batch log", path, e)),
    }
    let (mut kvs, mut bytes, mut samples) = (0, 0, Vec::new());
    let mut rest = &data[..];
    while !rest.is_empty() {
        match BatchStats::decode(&mut rest) {
            Some(stats) => {
                kvs += stats.kvs;
                bytes += stats.bytes;
                samples.extend(stats.samples);
            }
            None => {
                tracing::warn!(path = %path.display(), "ignoring a torn record at the end of the engine batch log");
                break;
            }
        }
    }
    Ok((kvs, bytes, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_log_round_trip_ignores_torn_tail() {
        let stats = BatchStats {
            kvs: 3,
            bytes: 40,
            samples: vec![Sample {
                key: b"k".to_vec(),
                bytes: 40,
                keys: 3,
            }],
        };
        let mut data = stats.encode();
        data.extend_from_slice(&stats.encode()[..10]);
        let mut rest = &data[..];
        assert_eq!(BatchStats::decode(&mut rest), Some(stats));
        assert_eq!(BatchStats::decode(&mut rest), None);
    }
}
