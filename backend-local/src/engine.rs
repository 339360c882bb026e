//! One engine: the sorted pairs of one table's data or indexes under
//! `<sorted-kv-dir>/<uuid>/`, plus what it needs to survive a crash.
//!
//! An engine starts small: its writers' flushes are *runs*, sorted files of
//! their own (see [`crate::run`]), and nothing else is created besides
//! `meta.json` — a dump of many small tables would otherwise spend its time
//! creating and deleting a RocksDB instance per engine. Once the runs pass
//! `small_engine_size` bytes or [`run::MAX_RUNS`] files, or a flush is
//! bigger than that, the engine creates its sorting store and moves the
//! runs into it.
//!
//! Layout of an engine directory:
//!
//! * `run-<seq>.kv` — a small engine's runs.
//! * `db/` — the sorting store, once the engine has one. Tuned for bulk
//!   load: auto-compaction off, no compression, no WAL writes (data only
//!   ever arrives as SST files that writers build and ingest, so nothing
//!   lives in a memtable). Column family `default` holds the engine's
//!   pairs; `staging` collects small SSTs when compaction is on, merged
//!   into `default` once they pass the threshold.
//! * `scratch-*` — SSTs and runs being written (by writers, for the store,
//!   for the target). Removed whenever the engine is loaded.
//! * `meta.json` — format version, UUID and the open *generation*, bumped on
//!   every open, which makes per-pair sequence numbers unique across restarts
//!   (see [`crate::key_adapter`]).
//! * `batches.log` — next to the sorting store, one checksummed record per
//!   SST ingested into it (see [`crate::stats`]): pair count, bytes and key
//!   samples (every ~4 MiB), the engine's size properties. A small engine's
//!   runs carry their own record.
//!
//! Durability: a run is durable once it is committed (synced, renamed into
//! place, directory synced), an SST once its ingest returns (RocksDB syncs
//! the file and its MANIFEST), so everything a writer has handed over
//! survives `kill -9`; reopening by UUID finds it.

use std::fs;
use std::io::Write;
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
use crate::run::{self, Run};
use crate::stats::{BatchStats, Sample, append_batch_log, read_batch_log};

/// Column family of small SSTs waiting to be merged.
const STAGING_CF: &str = "staging";
const META_FILE: &str = "meta.json";
const BATCH_LOG: &str = "batches.log";
/// Names of scratch files: SSTs and runs being written. Removed whenever
/// an engine is loaded.
const SCRATCH_PREFIX: &str = "scratch-";
const FORMAT_VERSION: u32 = 1;
/// Bits of a sequence number below the generation.
const GENERATION_SHIFT: u32 = 40;

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

/// Where an engine's pairs are.
#[derive(Debug)]
enum Store {
    /// A small engine: run files in the engine directory, no sorting store
    /// (see [`crate::run`]).
    Runs(Vec<PathBuf>),
    /// The sorting store.
    Db(Arc<EngineDb>),
    /// Cleaned up.
    Gone,
}

/// An engine's pairs, for the import to read.
#[derive(Debug)]
pub(crate) enum EngineData {
    /// The sorting store.
    Db(Arc<EngineDb>),
    /// A small engine's runs.
    Runs(Vec<PathBuf>),
}

#[derive(Debug)]
struct EngineInner {
    state: EngineState,
    store: Store,
    kvs: u64,
    bytes: u64,
    samples: Vec<Sample>,
    staging_bytes: u64,
    /// File bytes of the runs in [`Store::Runs`].
    run_bytes: u64,
}

/// An engine known to this process.
#[derive(Debug)]
pub(crate) struct Engine {
    pub uuid: Uuid,
    pub dir: PathBuf,
    config: LocalEngineConfig,
    /// Bytes of runs past which the engine creates its sorting store.
    small_size: u64,
    inner: Mutex<EngineInner>,
    next_seq: AtomicU64,
    sst_id: AtomicU64,
    /// Bytes buffered in this engine's writers.
    pub mem_size: AtomicU64,
    pub importing: AtomicBool,
    /// Whether the directory entry of this open's `meta.json` is durable.
    /// Its sync waits for the first run commit (which syncs the directory
    /// anyway), an SST ingest, a flush or the close: an engine costs one
    /// directory sync fewer.
    meta_durable: AtomicBool,
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

/// What [`Engine::open`] and [`Engine::reopen_closed`] need besides the
/// engine's identity.
#[derive(Debug, Clone)]
pub(crate) struct EngineSettings {
    pub config: LocalEngineConfig,
    /// Run bytes past which an engine creates its sorting store (0: every
    /// engine gets one with its first pairs).
    pub small_size: u64,
    pub slots: Arc<CompactionSlots>,
}

impl Engine {
    /// Opens the engine for writing: reuses what `dir` holds when
    /// `keep_sort_dir`, else starts empty.
    pub(crate) fn open(
        uuid: Uuid,
        dir: PathBuf,
        settings: EngineSettings,
        keep_sort_dir: bool,
    ) -> LocalResult<Self> {
        if !keep_sort_dir && dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| LocalError::io("removing old engine directory", &dir, e))?;
        }
        Self::load(uuid, dir, settings, EngineState::Open, true)
    }

    /// Reopens an engine an earlier run left, closed (read-only).
    pub(crate) fn reopen_closed(
        uuid: Uuid,
        dir: PathBuf,
        settings: EngineSettings,
    ) -> LocalResult<Self> {
        if !dir.join(META_FILE).is_file() {
            return Err(LocalError::EngineNotFound {
                uuid,
                path: dir,
                reason: "no engine directory with meta.json left by an earlier run",
            });
        }
        let engine = Self::load(uuid, dir, settings, EngineState::Closed, false)?;
        engine.merge_staging(&mut lock(&engine.inner))?;
        Ok(engine)
    }

    fn load(
        uuid: Uuid,
        dir: PathBuf,
        settings: EngineSettings,
        state: EngineState,
        create: bool,
    ) -> LocalResult<Self> {
        if create {
            fs::create_dir_all(&dir)
                .map_err(|e| LocalError::io("creating engine directory", &dir, e))?;
        }
        clear_scratch(&dir)?;
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
        // The batch log is written only once the sorting store holds an
        // SST: a log without a store means the store went missing.
        let db_path = dir.join("db");
        let batch_log = dir.join(BATCH_LOG);
        let has_db = db_path.exists();
        if (has_db || batch_log.exists()) && !db_path.join("CURRENT").is_file() {
            return Err(LocalError::Corrupted {
                uuid,
                path: db_path,
                reason: "the sorting store is missing (no CURRENT file)".into(),
            });
        }
        let db = if has_db {
            Some(open_db(uuid, &db_path)?)
        } else {
            None
        };
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
        let mut stats = match &db {
            Some(_) => read_batch_log(&batch_log)?,
            None => BatchStats::default(),
        };
        let runs = run::list_runs(&dir)?;
        let mut run_bytes = 0;
        for path in &runs {
            stats.add(Run::read(path, uuid)?.stats);
            run_bytes += fs::metadata(path).map_or(0, |m| m.len());
        }
        let staging_bytes = db.as_ref().map_or(0, |db| {
            db.cf_handle(STAGING_CF)
                .map_or(0, |cf| db.get_column_family_metadata_cf(&cf).size)
        });
        let engine = Engine {
            uuid,
            config: settings.config,
            small_size: settings.small_size,
            inner: Mutex::new(EngineInner {
                state,
                store: match db {
                    Some(db) => Store::Db(Arc::new(EngineDb { db, path: db_path })),
                    None => Store::Runs(runs.clone()),
                },
                kvs: stats.kvs,
                bytes: stats.bytes,
                samples: stats.samples,
                staging_bytes,
                run_bytes,
            }),
            next_seq: AtomicU64::new(generation << GENERATION_SHIFT),
            sst_id: AtomicU64::new(0),
            mem_size: AtomicU64::new(0),
            importing: AtomicBool::new(false),
            meta_durable: AtomicBool::new(false),
            writers: Mutex::new(Vec::new()),
            slots: settings.slots,
            dir,
        };
        {
            // Runs beside a sorting store: a crash came while they were
            // being moved in. Moving them again is harmless (same stored
            // keys); only the batch log may count them twice.
            let inner = lock(&engine.inner);
            if let Store::Db(edb) = &inner.store
                && !runs.is_empty()
            {
                let edb = Arc::clone(edb);
                engine.move_runs_into(&edb, &runs)?;
            }
        }
        Ok(engine)
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
        let gone = matches!(inner.store, Store::Gone);
        if inner.state == EngineState::Open && !gone {
            Ok(())
        } else {
            Err(LocalError::EngineState {
                uuid: self.uuid,
                state: if gone {
                    "cleaned up"
                } else {
                    inner.state.name()
                },
                op,
            })
        }
    }

    fn cleaned_up(&self, op: &'static str) -> LocalError {
        LocalError::EngineState {
            uuid: self.uuid,
            state: "cleaned up",
            op,
        }
    }

    /// The engine's pairs, for reading.
    pub(crate) fn data(&self) -> LocalResult<EngineData> {
        match &lock(&self.inner).store {
            Store::Db(edb) => Ok(EngineData::Db(Arc::clone(edb))),
            Store::Runs(runs) => Ok(EngineData::Runs(runs.clone())),
            Store::Gone => Err(self.cleaned_up("read")),
        }
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

    /// A fresh scratch path in the engine directory, `scratch-<prefix>-<n>.<ext>`
    /// (scratch files are removed whenever the engine is loaded).
    pub(crate) fn scratch_path(&self, prefix: &str, ext: &str) -> PathBuf {
        let id = self.sst_id.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!("{SCRATCH_PREFIX}{prefix}-{id}.{ext}"))
    }

    /// Whether a writer flush of about `bytes` should become a run rather
    /// than an SST: the engine has no sorting store and the flush is small.
    pub(crate) fn takes_run(&self, bytes: u64) -> bool {
        matches!(lock(&self.inner).store, Store::Runs(_)) && bytes <= self.small_size
    }

    /// Registers a writer's pending pairs so engine flushes reach them.
    pub(crate) fn register_writer(&self, pending: Weak<dyn PendingWrites>) {
        let mut writers = lock(&self.writers);
        writers.retain(|w| w.strong_count() > 0);
        writers.push(pending);
    }

    /// The sorting store, created (and the runs moved into it) if the
    /// engine has none yet.
    fn ensure_db(&self, inner: &mut EngineInner) -> LocalResult<Arc<EngineDb>> {
        let runs = match &inner.store {
            Store::Db(edb) => return Ok(Arc::clone(edb)),
            Store::Gone => return Err(self.cleaned_up("write")),
            Store::Runs(runs) => runs.clone(),
        };
        let db_path = self.dir.join("db");
        let edb = Arc::new(EngineDb {
            db: open_db(self.uuid, &db_path)?,
            path: db_path,
        });
        // The engine keeps its runs until they are in the store: after a
        // failure here the next flush tries again, after a crash the load.
        self.move_runs_into(&edb, &runs)?;
        inner.store = Store::Db(Arc::clone(&edb));
        inner.run_bytes = 0;
        Ok(edb)
    }

    /// Moves runs into the sorting store as one merged SST, logs their
    /// stats and deletes them. Their pairs are counted in `inner` already.
    fn move_runs_into(&self, edb: &EngineDb, runs: &[PathBuf]) -> LocalResult<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut stats = BatchStats::default();
        for path in runs {
            stats.add(Run::read(path, self.uuid)?.stats);
        }
        let pairs = run::read_merged(runs, self.uuid)?;
        let path = self.scratch_path("runs", "sst");
        let opts = engine_sst_options();
        let write = || -> LocalResult<()> {
            let mut writer = SstFileWriter::create(&opts);
            writer
                .open(&path)
                .map_err(|e| LocalError::rocks("creating SST of engine runs", &path, e))?;
            for (key, value) in &pairs {
                writer
                    .put(key, value)
                    .map_err(|e| LocalError::rocks("writing SST of engine runs", &path, e))?;
            }
            writer
                .finish()
                .map_err(|e| LocalError::rocks("finishing SST of engine runs", &path, e))
        };
        if !pairs.is_empty() {
            write()
                .and_then(|()| self.ingest_sst(edb, &path, false))
                .inspect_err(|_| {
                    let _ = fs::remove_file(&path);
                })?;
        }
        append_batch_log(&self.dir.join(BATCH_LOG), &stats)?;
        for path in runs {
            fs::remove_file(path).map_err(|e| LocalError::io("removing engine run", path, e))?;
        }
        Ok(())
    }

    /// Ingests (moves) one SST into the store's `default` or `staging`
    /// column family; the file is gone either way.
    fn ingest_sst(&self, edb: &EngineDb, path: &Path, staging: bool) -> LocalResult<()> {
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(true);
        let result = if staging {
            let cf = staging_cf(edb, self.uuid)?;
            edb.db.ingest_external_file_cf_opts(cf, &opts, vec![path])
        } else {
            edb.db.ingest_external_file_opts(&opts, vec![path])
        };
        result.map_err(|e| {
            let _ = fs::remove_file(path);
            LocalError::rocks("ingesting SST into", &edb.path, e)
        })
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
        let edb = self
            .check_open_locked(&inner, "write")
            .and_then(|()| self.ensure_db(&mut inner))
            .inspect_err(|_| {
                let _ = fs::remove_file(path);
            })?;
        let small = self.config.compact && file_size < self.config.compact_threshold / 16;
        self.make_meta_durable()?;
        self.ingest_sst(&edb, path, small)?;
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

    /// Commits a writer's synced run written at `scratch` (pairs from
    /// sequence number `first_seq` on): renames it into place and syncs
    /// the directory, so it is durable on return. Past the small-engine
    /// limits the engine then creates its sorting store and moves its runs
    /// in. Fails if the engine is no longer open; the file is then removed.
    pub(crate) fn commit_run(
        &self,
        scratch: &Path,
        first_seq: u64,
        file_size: u64,
        stats: BatchStats,
    ) -> LocalResult<()> {
        let mut inner = lock(&self.inner);
        let path = self.dir.join(run::run_name(first_seq));
        self.check_open_locked(&inner, "write")
            .and_then(|()| {
                fs::rename(scratch, &path)
                    .and_then(|()| sync_dir(&self.dir))
                    .map_err(|e| LocalError::io("committing engine run", &path, e))
                    .map(|()| self.meta_durable.store(true, Ordering::SeqCst))
            })
            .inspect_err(|_| {
                let _ = fs::remove_file(scratch);
            })?;
        inner.kvs += stats.kvs;
        inner.bytes += stats.bytes;
        inner.samples.extend(stats.samples);
        let inner = &mut *inner;
        match &mut inner.store {
            Store::Runs(runs) => {
                runs.push(path);
                inner.run_bytes += file_size;
                let full = runs.len() > run::MAX_RUNS;
                if (full || inner.run_bytes > self.small_size)
                    && let Err(e) = self.ensure_db(inner)
                {
                    // The run is durable: the next flush tries again.
                    tracing::warn!(engine = %self.uuid, error = %e, "creating the engine's sorting store failed");
                }
                Ok(())
            }
            Store::Db(edb) => {
                // Another writer created the store meanwhile.
                let edb = Arc::clone(edb);
                self.move_runs_into(&edb, &[path])
            }
            Store::Gone => Err(self.cleaned_up("write")),
        }
    }

    /// Merges the staging column family into `default` as one SST.
    fn merge_staging(&self, inner: &mut EngineInner) -> LocalResult<()> {
        let Store::Db(edb) = &inner.store else {
            return Ok(());
        };
        let edb = Arc::clone(edb);
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
        let path = self.scratch_path("merged", "sst");
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
        self.ingest_sst(&edb, &path, false)?;
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

    /// Syncs the engine directory unless this open's `meta.json` is durable
    /// already: before the first durable pairs, as a reopen numbers its
    /// pairs from the generation it finds there.
    fn make_meta_durable(&self) -> LocalResult<()> {
        if !self.meta_durable.load(Ordering::SeqCst) {
            sync_dir(&self.dir)
                .map_err(|e| LocalError::io("syncing engine directory", &self.dir, e))?;
            self.meta_durable.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn flush(&self) -> LocalResult<()> {
        self.flush_writers()?;
        self.make_meta_durable()?;
        match self.data()? {
            EngineData::Db(edb) => edb
                .db
                .flush()
                .map_err(|e| LocalError::rocks("flushing engine", &edb.path, e)),
            // Runs are synced when they are committed.
            EngineData::Runs(_) => Ok(()),
        }
    }

    /// Closes the engine for writing: flushes writers, merges staged SSTs.
    pub(crate) fn close(&self) -> LocalResult<()> {
        if self.state() == EngineState::Open {
            self.flush_writers()?;
        }
        self.make_meta_durable()?;
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

    /// Drops every pair, keeping the engine open (empty, without a sorting
    /// store until it grows again).
    pub(crate) fn reset(&self) -> LocalResult<()> {
        if self.importing.load(Ordering::SeqCst) {
            return Err(LocalError::EngineState {
                uuid: self.uuid,
                state: "importing",
                op: "reset",
            });
        }
        let mut inner = lock(&self.inner);
        let runs = match std::mem::replace(&mut inner.store, Store::Gone) {
            Store::Runs(runs) => runs,
            _ => Vec::new(),
        };
        // The log goes first: a store without a log is an engine whose
        // stats lag, a log without a store a damaged one.
        let mut paths = vec![self.dir.join(BATCH_LOG), self.dir.join("db")];
        paths.extend(runs);
        for path in paths {
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
        inner.store = Store::Runs(Vec::new());
        inner.kvs = 0;
        inner.bytes = 0;
        inner.samples.clear();
        inner.staging_bytes = 0;
        inner.run_bytes = 0;
        Ok(())
    }

    /// Closes the store and deletes the engine directory.
    pub(crate) fn destroy(&self) -> LocalResult<()> {
        lock(&self.inner).store = Store::Gone;
        remove_engine_dir(&self.dir)
    }

    /// Bytes the engine's files take on disk.
    pub(crate) fn disk_size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// Opens (creating if missing) the sorting store at `path`.
fn open_db(uuid: Uuid, path: &Path) -> LocalResult<DB> {
    let opts = engine_db_options();
    let cfs = [
        ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone()),
        ColumnFamilyDescriptor::new(STAGING_CF, opts.clone()),
    ];
    DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| match e.kind() {
        rocksdb::ErrorKind::Corruption | rocksdb::ErrorKind::InvalidArgument => {
            LocalError::Corrupted {
                uuid,
                path: path.to_path_buf(),
                reason: e.into_string(),
            }
        }
        _ => LocalError::rocks("opening engine sorting store", path, e),
    })
}

/// Removes what an earlier process left half-written in an engine
/// directory: scratch files, and the `tmp/` and `import/` directories
/// engines used to keep them in.
fn clear_scratch(dir: &Path) -> LocalResult<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LocalError::io("listing engine directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| LocalError::io("listing engine directory", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        let removed = if name.starts_with(SCRATCH_PREFIX) || name.ends_with(".tmp") {
            fs::remove_file(&path)
        } else if name == "tmp" || name == "import" {
            fs::remove_dir_all(&path)
        } else {
            continue;
        };
        removed.map_err(|e| LocalError::io("clearing engine scratch files", &path, e))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
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

/// Writes `path` through a synced temporary file renamed into place; the
/// rename is durable once the directory is synced (the caller's part).
fn write_atomically(path: &Path, contents: &[u8]) -> LocalResult<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| LocalError::io("writing engine meta", path, e))
}
