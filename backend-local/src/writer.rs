//! [`LocalWriter`]: one worker's writer into an engine.
//!
//! Batches are buffered in memory as the encoders filled them, up to
//! `local-writer-mem-cache-size`, then sorted (skipped for `is_kv_sorted`
//! writers, whose order is checked as pairs arrive) and handed to the
//! engine: as a run while the engine is small (see [`crate::run`]), else
//! written as one SST and ingested into the engine's sorting store. Once a
//! run is committed or an SST ingested its pairs are durable, so a writer
//! is synced exactly when its buffer is empty, and the status
//! [`LocalWriter::close`] returns is flushed as soon as `close` succeeds.
//!
//! The buffer sits behind a mutex the engine also holds (weakly, as the
//! writer's [`PendingWrites`]) so that `flush_engine` can hand it over too
//! (disk-quota and checkpoint flushes).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use backend_core::{AlwaysFlushed, ChunkFlushStatus, EngineWriter, KvPairs, KvRef, Result, Rows};
use rocksdb::SstFileWriter;

use crate::codec::table::hex;
use crate::engine::{Engine, PendingWrites, engine_sst_options, lock};
use crate::error::{LocalError, LocalResult};
use crate::key_adapter;
use crate::run::RunBuilder;
use crate::sort::{Batches, Loc, sorted_order};
use crate::stats::{BatchStats, SAMPLE_BYTES, SAMPLE_KEYS, Sample};

/// Pairs copied together before they are handed to the SST writer.
const GATHER: usize = 1024;

/// Heap bytes a buffered pair costs besides its key and value (its
/// place in the batch).
const PAIR_OVERHEAD: u64 = KvPairs::ENTRY_SIZE as u64;

/// Batches smaller than this are copied onto the last buffered batch
/// instead of kept apart: it bounds the batch count (and each batch's
/// own overhead) when a caller hands over a few pairs at a time.
const SMALL_BATCH: usize = 64 << 10;

/// A writer's pending pairs.
#[derive(Debug)]
struct WriterBuffer {
    /// In arrival order. Kept as handed over rather than copied into one
    /// buffer that grows to the memory limit: a TPC-H SF1 import's peak RSS
    /// is about a quarter lower than with the copy, whose CPU cost was too
    /// small to measure.
    batches: Vec<KvPairs>,
    mem: u64,
    sorted: bool,
    /// The last key appended to a sorted writer, across flushes.
    last_key: Option<Vec<u8>>,
}

impl PendingWrites for Mutex<WriterBuffer> {
    fn flush_into(&self, engine: &Engine) -> LocalResult<()> {
        flush_buffer(engine, &mut lock(self))
    }
}

/// Where a flush's sorted pairs go.
enum Sink<'a> {
    Sst(SstFileWriter<'a>),
    Run(RunBuilder),
}

impl Sink<'_> {
    fn put(&mut self, key: &[u8], value: &[u8], path: &std::path::Path) -> LocalResult<()> {
        match self {
            Sink::Sst(writer) => writer
                .put(key, value)
                .map_err(|e| LocalError::rocks("writing writer SST", path, e)),
            Sink::Run(run) => {
                run.put(key, value);
                Ok(())
            }
        }
    }
}

/// Sorts and writes the buffer, then commits it to `engine` (a run or an
/// ingested SST); the buffer is kept intact on failure so nothing is lost
/// and the caller may retry.
fn flush_buffer(engine: &Engine, buffer: &mut WriterBuffer) -> LocalResult<()> {
    if buffer.batches.is_empty() {
        return Ok(());
    }
    engine.check_open("write")?;
    let pairs = Batches(&buffer.batches);
    // Sorted writers are already in order (checked on arrival).
    let order = (!buffer.sorted).then(|| sorted_order(pairs));
    let n = buffer.batches.iter().map(|b| b.len() as u64).sum();
    let first_seq = engine.reserve_seqs(n);
    let as_run = engine.takes_run(buffer.mem);
    let path = if as_run {
        engine.scratch_path("run", "kv")
    } else {
        engine.scratch_path("w", "sst")
    };
    let opts = engine_sst_options();
    let write = || -> LocalResult<(u64, BatchStats)> {
        let mut writer = if as_run {
            Sink::Run(RunBuilder::default())
        } else {
            let writer = SstFileWriter::create(&opts);
            writer
                .open(&path)
                .map_err(|e| LocalError::rocks("creating writer SST", &path, e))?;
            Sink::Sst(writer)
        };
        let mut stats = BatchStats::default();
        let (mut since_bytes, mut since_keys) = (0u64, 0u64);
        let mut in_order: Box<dyn Iterator<Item = Loc>> = match order {
            Some(order) => Box::new(order),
            None => Box::new(pairs.locs()),
        };
        let mut last: Option<KvRef<'_>> = None;
        let mut seq = first_seq;
        let mut block: Vec<KvRef<'_>> = Vec::with_capacity(GATHER);
        // Stored key then value of each pair of the block, back to back.
        let mut gathered: Vec<u8> = Vec::new();
        // Per pair: end of its stored key, end of its value.
        let mut ends: Vec<(usize, usize)> = Vec::with_capacity(GATHER);
        loop {
            block.clear();
            block.extend(in_order.by_ref().take(GATHER).filter_map(|i| pairs.get(i)));
            if block.is_empty() {
                break;
            }
            // Sorted order visits the pairs at random: copying a block in a
            // tight loop lets the CPU overlap those cache misses, which the
            // SST writer's long per-pair calls would otherwise take one at a
            // time (bench_local: 24% of its CPU stalled in this loop).
            gathered.clear();
            ends.clear();
            for (pair, seq) in block.iter().zip(seq..) {
                key_adapter::encode_stored(pair.key, seq, pair.row_id, &mut gathered);
                let key_end = gathered.len();
                gathered.extend_from_slice(pair.value);
                ends.push((key_end, gathered.len()));
            }
            let mut start = 0;
            for (pair, &(key_end, end)) in block.iter().zip(&ends) {
                writer.put(&gathered[start..key_end], &gathered[key_end..end], &path)?;
                start = end;
                let size = pair.size() as u64;
                stats.kvs += 1;
                stats.bytes += size;
                since_bytes += size;
                since_keys += 1;
                if since_bytes >= SAMPLE_BYTES || since_keys >= SAMPLE_KEYS {
                    stats.samples.push(Sample {
                        key: pair.key.to_vec(),
                        bytes: since_bytes,
                        keys: since_keys,
                    });
                    (since_bytes, since_keys) = (0, 0);
                }
            }
            seq += block.len() as u64;
            last = block.last().copied();
        }
        if since_keys > 0
            && let Some(last) = last
        {
            stats.samples.push(Sample {
                key: last.key.to_vec(),
                bytes: since_bytes,
                keys: since_keys,
            });
        }
        let size = match &mut writer {
            Sink::Sst(writer) => {
                writer
                    .finish()
                    .map_err(|e| LocalError::rocks("finishing writer SST", &path, e))?;
                writer.file_size()
            }
            Sink::Run(run) => run.write(&path, &stats)?,
        };
        Ok((size, stats))
    };
    let (file_size, stats) = match write() {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    if as_run {
        engine.commit_run(&path, first_seq, file_size, stats)?;
    } else {
        engine.ingest_writer_sst(&path, file_size, stats)?;
    }
    buffer.batches.clear();
    engine.mem_size.fetch_sub(buffer.mem, Ordering::Relaxed);
    buffer.mem = 0;
    Ok(())
}

/// A writer into one engine of a [`crate::LocalBackend`].
#[derive(Debug)]
pub struct LocalWriter {
    engine: Arc<Engine>,
    buffer: Arc<Mutex<WriterBuffer>>,
    mem_limit: u64,
}

impl LocalWriter {
    pub(crate) fn new(engine: Arc<Engine>, sorted: bool, mem_limit: u64) -> Self {
        let buffer = Arc::new(Mutex::new(WriterBuffer {
            batches: Vec::new(),
            mem: 0,
            sorted,
            last_key: None,
        }));
        let pending: Weak<Mutex<WriterBuffer>> = Arc::downgrade(&buffer);
        engine.register_writer(pending);
        LocalWriter {
            engine,
            buffer,
            mem_limit,
        }
    }

    /// Flushes the buffer on a blocking thread.
    async fn flush(&self) -> LocalResult<()> {
        let engine = Arc::clone(&self.engine);
        let buffer = Arc::clone(&self.buffer);
        tokio::task::spawn_blocking(move || flush_buffer(&engine, &mut lock(&buffer)))
            .await
            .map_err(|e| LocalError::Task {
                uuid: self.engine.uuid,
                reason: e.to_string(),
            })?
    }

    fn append(&self, mut pairs: KvPairs) -> LocalResult<bool> {
        self.engine.check_open("write")?;
        let mut buffer = lock(&self.buffer);
        if buffer.sorted {
            // Check the whole batch first so a bad batch leaves nothing behind.
            let mut previous = buffer.last_key.as_deref();
            for pair in &pairs {
                if let Some(prev) = previous
                    && pair.key < prev
                {
                    return Err(LocalError::OutOfOrder {
                        uuid: self.engine.uuid,
                        key: hex(pair.key),
                        previous: hex(prev),
                    });
                }
                previous = Some(pair.key);
            }
            if let Some(last) = pairs.last() {
                buffer.last_key = Some(last.key.to_vec());
            }
        }
        let added = pairs.size() as u64 + pairs.len() as u64 * PAIR_OVERHEAD;
        match buffer.batches.last_mut() {
            Some(last) if pairs.size() < SMALL_BATCH => {
                last.append(&mut pairs);
            }
            _ if !pairs.is_empty() => buffer.batches.push(pairs),
            _ => {}
        }
        buffer.mem += added;
        self.engine.mem_size.fetch_add(added, Ordering::Relaxed);
        Ok(buffer.mem >= self.mem_limit)
    }
}

#[async_trait]
impl EngineWriter for LocalWriter {
    async fn append_rows(&mut self, _column_names: &[String], rows: Rows) -> Result<()> {
        let pairs = match rows {
            Rows::Kv(pairs) => pairs,
            Rows::Sql(rows) if rows.is_empty() => return Ok(()),
            Rows::Sql(_) => {
                return Err(LocalError::WrongRowShape {
                    uuid: self.engine.uuid,
                }
                .into());
            }
        };
        if self.append(pairs)? {
            self.flush().await?;
        }
        Ok(())
    }

    fn is_synced(&self) -> bool {
        lock(&self.buffer).batches.is_empty()
    }

    async fn close(self: Box<Self>) -> Result<Arc<dyn ChunkFlushStatus>> {
        self.flush().await?;
        // Everything is ingested, hence durable: the status is final.
        Ok(Arc::new(AlwaysFlushed))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // A writer dropped without close loses its buffer (as a crash would);
        // keep the engine's memory estimate honest.
        let buffer = lock(&self.buffer);
        self.engine
            .mem_size
            .fetch_sub(buffer.mem, Ordering::Relaxed);
    }
}
