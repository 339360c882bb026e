//! An in-memory reference backend, for tests of code built on this crate.
//!
//! [`MemoryBackend`] keeps engines and the target in process memory but
//! models what matters for the lifecycle: data written to an engine is
//! durable only after a flush, a simulated crash forgets open engines and
//! unflushed data, closing an engine this "process" never opened reopens it
//! from durable data, imports can be made to fail, and duplicates (the same
//! key with different values) are detected at import.
//!
//! Its encoder is *not* TiDB's format: keys are the table id and row id,
//! values the row's debug text. Enable with the `testkit` feature.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::backend::{
    Backend, ChunkFlushStatus, EngineConfig, EngineFileSize, EngineWriter, LocalWriterConfig,
};
use crate::datum::Datum;
use crate::encode::{ColumnPermutation, EncodingBuilder, EncodingConfig, RowEncoder};
use crate::error::{Error, Result};
use crate::pairs::KvPair;
use crate::row::{EncodedRow, RowOrigin, Rows, SqlRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EngineState {
    Open,
    Closed,
}

/// An engine's data as it would be on disk: survives simulated crashes.
#[derive(Debug, Default, Clone)]
struct DurableEngine {
    pairs: Vec<KvPair>,
    sql: Vec<SqlRow>,
}

#[derive(Debug)]
struct LiveEngine {
    state: EngineState,
    unflushed: Vec<KvPair>,
    unflushed_sql: Vec<SqlRow>,
    /// Incremented by each flush; writers compare against it.
    flush_seq: Arc<AtomicU64>,
    /// Sequence number a write gets; flushed when `flush_seq` reaches it.
    write_seq: u64,
}

#[derive(Debug, Default)]
struct State {
    live: HashMap<Uuid, LiveEngine>,
    durable: HashMap<Uuid, DurableEngine>,
    target: BTreeMap<Vec<u8>, Vec<u8>>,
    target_sql: Vec<SqlRow>,
    /// Import failures still to inject: (count, retryable).
    fail_imports: (u32, bool),
}

/// The in-memory reference backend. Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
    import_calls: Arc<AtomicU32>,
    retry_delay: Duration,
}

impl MemoryBackend {
    /// What the reference backend supports: KV pairs kept in memory per
    /// engine, durable once flushed; duplicates are always an error.
    pub const CAPABILITIES: crate::Capabilities = crate::Capabilities {
        encoding: crate::RowEncoding::Kv,
        duplicate_modes: crate::DuplicateModes {
            error: true,
            replace: false,
            ignore: false,
        },
        duplicate_detection: true,
        checksum: crate::ChecksumKind::Kv,
        deferred_indexes: false,
        persistent_engines: true,
        reset_engine: true,
        engine_states: true,
        local_engine_data: true,
        parallel_writers: false,
    };

    /// A backend whose import retries do not sleep.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a test already panicked; keep going so the
        // panic, not a second one, is reported.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `count` imports fail, with retryable or fatal errors.
    pub fn fail_next_imports(&self, count: u32, retryable: bool) {
        self.state().fail_imports = (count, retryable);
    }

    /// How many times `import_engine` was called.
    pub fn import_calls(&self) -> u32 {
        self.import_calls.load(Ordering::SeqCst)
    }

    /// Forgets open engines and unflushed data, as a `kill -9` would. Durable
    /// engine data and the target stay.
    pub fn simulate_crash(&self) {
        self.state().live.clear();
    }

    /// The target's KV content, sorted.
    pub fn target_pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.state()
            .target
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The SQL tuples imported into the target, in import order.
    pub fn target_sql_rows(&self) -> Vec<SqlRow> {
        self.state().target_sql.clone()
    }

    /// Whether anything of the engine is still stored.
    pub fn has_engine(&self, uuid: Uuid) -> bool {
        let state = self.state();
        state.live.contains_key(&uuid) || state.durable.contains_key(&uuid)
    }

    fn flush_locked(state: &mut State, uuid: Uuid) -> Result<()> {
        let live = state
            .live
            .get_mut(&uuid)
            .ok_or_else(|| Error::not_found(format!("engine {uuid} is not open")))?;
        let durable = state.durable.entry(uuid).or_default();
        durable.pairs.append(&mut live.unflushed);
        durable.sql.append(&mut live.unflushed_sql);
        live.flush_seq.store(live.write_seq, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn close(&self) {}

    fn retry_import_delay(&self) -> Duration {
        self.retry_delay
    }

    fn should_post_process(&self) -> bool {
        true
    }

    fn capabilities(&self) -> crate::Capabilities {
        Self::CAPABILITIES
    }

    fn encoding_builder(&self) -> Arc<dyn EncodingBuilder> {
        Arc::new(MemoryEncodingBuilder)
    }

    async fn open_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()> {
        let mut state = self.state();
        if state.live.contains_key(&engine_uuid) {
            return Ok(());
        }
        if !config.keep_sort_dir {
            state.durable.remove(&engine_uuid);
        }
        state.live.insert(
            engine_uuid,
            LiveEngine {
                state: EngineState::Open,
                unflushed: Vec::new(),
                unflushed_sql: Vec::new(),
                flush_seq: Arc::new(AtomicU64::new(0)),
                write_seq: 0,
            },
        );
        Ok(())
    }

    async fn close_engine(&self, _config: &EngineConfig, engine_uuid: Uuid) -> Result<()> {
        let mut state = self.state();
        if state.live.contains_key(&engine_uuid) {
            Self::flush_locked(&mut state, engine_uuid)?;
        } else if state.durable.contains_key(&engine_uuid) {
            state.live.insert(
                engine_uuid,
                LiveEngine {
                    state: EngineState::Closed,
                    unflushed: Vec::new(),
                    unflushed_sql: Vec::new(),
                    flush_seq: Arc::new(AtomicU64::new(0)),
                    write_seq: 0,
                },
            );
        } else {
            return Err(Error::not_found(format!(
                "engine {engine_uuid} was never opened"
            )));
        }
        if let Some(live) = state.live.get_mut(&engine_uuid) {
            live.state = EngineState::Closed;
        }
        Ok(())
    }

    async fn import_engine(&self, engine_uuid: Uuid, _size: u64, _keys: u64) -> Result<()> {
        self.import_calls.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state();
        let (remaining, retryable) = state.fail_imports;
        if remaining > 0 {
            state.fail_imports.0 = remaining - 1;
            let err = Error::target_unavailable("injected import failure");
            return Err(if retryable {
                err
            } else {
                Error::internal("injected fatal import failure")
            });
        }
        match state.live.get(&engine_uuid).map(|e| e.state) {
            Some(EngineState::Closed) => {}
            Some(EngineState::Open) => {
                return Err(Error::invalid_state(format!(
                    "engine {engine_uuid} must be closed before import"
                )));
            }
            None => return Err(Error::not_found(format!("engine {engine_uuid} is unknown"))),
        }
        let durable = state.durable.get(&engine_uuid).cloned().unwrap_or_default();
        let mut duplicate = None;
        let mut pairs = durable.pairs;
        pairs.sort_by(|a, b| a.key.cmp(&b.key));
        for pair in &pairs {
            match state.target.get(&pair.key) {
                Some(existing) if *existing != pair.value => {
                    duplicate.get_or_insert_with(|| pair.key.clone());
                }
                _ => {}
            }
            state.target.insert(pair.key.clone(), pair.value.clone());
        }
        for window in pairs.windows(2) {
            if window[0].key == window[1].key && window[0].value != window[1].value {
                duplicate.get_or_insert_with(|| window[0].key.clone());
            }
        }
        state.target_sql.extend(durable.sql);
        match duplicate {
            Some(key) => Err(Error::duplicate_detected(format!(
                "duplicate key {key:02x?} in engine {engine_uuid}"
            ))),
            None => Ok(()),
        }
    }

    async fn cleanup_engine(&self, engine_uuid: Uuid) -> Result<()> {
        let mut state = self.state();
        state.live.remove(&engine_uuid);
        state.durable.remove(&engine_uuid);
        Ok(())
    }

    async fn flush_engine(&self, engine_uuid: Uuid) -> Result<()> {
        Self::flush_locked(&mut self.state(), engine_uuid)
    }

    async fn flush_all_engines(&self) -> Result<()> {
        let mut state = self.state();
        let open: Vec<Uuid> = state.live.keys().copied().collect();
        for uuid in open {
            Self::flush_locked(&mut state, uuid)?;
        }
        Ok(())
    }

    async fn reset_engine(&self, engine_uuid: Uuid) -> Result<()> {
        let mut state = self.state();
        let live = state
            .live
            .get_mut(&engine_uuid)
            .ok_or_else(|| Error::not_found(format!("engine {engine_uuid} is not open")))?;
        live.unflushed.clear();
        live.unflushed_sql.clear();
        state.durable.remove(&engine_uuid);
        Ok(())
    }

    async fn local_writer(
        &self,
        config: &LocalWriterConfig,
        engine_uuid: Uuid,
    ) -> Result<Box<dyn EngineWriter>> {
        let state = self.state();
        match state.live.get(&engine_uuid) {
            Some(live) if live.state == EngineState::Open => Ok(Box::new(MemoryWriter {
                backend: self.clone(),
                engine: engine_uuid,
                sorted: config.is_kv_sorted,
                last_key: None,
                written_seq: 0,
            })),
            Some(_) => Err(Error::invalid_state(format!(
                "engine {engine_uuid} is closed"
            ))),
            None => Err(Error::not_found(format!(
                "engine {engine_uuid} is not open"
            ))),
        }
    }

    fn engine_file_sizes(&self) -> Vec<EngineFileSize> {
        let state = self.state();
        state
            .durable
            .iter()
            .map(|(uuid, data)| {
                let mem: usize = state
                    .live
                    .get(uuid)
                    .map_or(0, |l| l.unflushed.iter().map(KvPair::size).sum());
                EngineFileSize {
                    uuid: *uuid,
                    disk_size: data.pairs.iter().map(|p| p.size() as u64).sum(),
                    mem_size: mem as u64,
                    is_importing: false,
                }
            })
            .collect()
    }
}

/// A writer of [`MemoryBackend`].
#[derive(Debug)]
pub struct MemoryWriter {
    backend: MemoryBackend,
    engine: Uuid,
    sorted: bool,
    last_key: Option<Vec<u8>>,
    written_seq: u64,
}

#[derive(Debug)]
struct MemoryFlushStatus {
    flush_seq: Arc<AtomicU64>,
    needed: u64,
}

impl ChunkFlushStatus for MemoryFlushStatus {
    fn flushed(&self) -> bool {
        self.flush_seq.load(Ordering::SeqCst) >= self.needed
    }
}

#[async_trait]
impl EngineWriter for MemoryWriter {
    async fn append_rows(&mut self, _columns: &[String], rows: Rows) -> Result<()> {
        let mut state = self.backend.state();
        let live = state
            .live
            .get_mut(&self.engine)
            .filter(|l| l.state == EngineState::Open)
            .ok_or_else(|| {
                Error::invalid_state(format!("engine {} is closed or unknown", self.engine))
            })?;
        match rows {
            Rows::Kv(pairs) => {
                if self.sorted {
                    for pair in &pairs {
                        if self.last_key.as_deref().is_some_and(|last| last > pair.key) {
                            return Err(Error::bad_data(format!(
                                "key {:02x?} out of order in a sorted writer",
                                pair.key
                            )));
                        }
                        self.last_key = Some(pair.key.to_vec());
                    }
                }
                live.unflushed.extend(pairs.iter().map(|p| p.to_pair()));
            }
            Rows::Sql(rows) => live.unflushed_sql.extend(rows),
        }
        live.write_seq += 1;
        self.written_seq = live.write_seq;
        Ok(())
    }

    fn is_synced(&self) -> bool {
        let state = self.backend.state();
        state
            .live
            .get(&self.engine)
            .is_none_or(|live| live.flush_seq.load(Ordering::SeqCst) >= self.written_seq)
    }

    async fn close(self: Box<Self>) -> Result<Arc<dyn ChunkFlushStatus>> {
        let state = self.backend.state();
        let flush_seq = state
            .live
            .get(&self.engine)
            .map(|live| Arc::clone(&live.flush_seq))
            .ok_or_else(|| Error::invalid_state(format!("engine {} is gone", self.engine)))?;
        Ok(Arc::new(MemoryFlushStatus {
            flush_seq,
            needed: self.written_seq,
        }))
    }
}

/// The encoder of [`MemoryBackend`]: key = `table id ‖ row id` (big endian),
/// value = the row's debug text. Not TiDB's format.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryEncodingBuilder;

impl EncodingBuilder for MemoryEncodingBuilder {
    fn new_encoder(&self, config: &EncodingConfig) -> Result<Box<dyn RowEncoder>> {
        Ok(Box::new(MemoryEncoder {
            table_id: config.table.id,
        }))
    }

    fn make_empty_rows(&self) -> Rows {
        Rows::Kv(crate::KvPairs::new())
    }
}

#[derive(Debug)]
struct MemoryEncoder {
    table_id: i64,
}

impl RowEncoder for MemoryEncoder {
    fn encode(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        _origin: &RowOrigin,
    ) -> Result<EncodedRow> {
        let values: Vec<&Datum> = permutation
            .iter()
            .map(|slot| slot.and_then(|i| row.get(i)).unwrap_or(&Datum::Null))
            .collect();
        let mut key = self.table_id.to_be_bytes().to_vec();
        key.extend_from_slice(&row_id.to_be_bytes());
        Ok(EncodedRow::Kv {
            record: KvPair {
                key,
                value: format!("{values:?}").into_bytes(),
                row_id,
            },
            indexes: Vec::new(),
        })
    }
}
