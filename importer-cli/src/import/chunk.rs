//! One chunk: parse on one blocking thread, encode on one or more, deliver
//! batches to the engine writers on the async side, record progress once
//! it is durable.
//!
//! Parsing is several times cheaper than encoding, so a chunk that gets
//! more than one `region-concurrency` slot encodes its rows on several
//! threads: the parser deals raw batches round-robin to the encoders and
//! the deliver side reads their outputs in the same order, so batches are
//! delivered (and checkpointed) in file order. Bounded channels at every
//! hop keep memory flat: the parser runs at most a few batches ahead.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use anyhow::Context as _;
use backend_core::model::TidbTableInfo;
use backend_core::{
    ChunkFlushStatus, EncodedRows, EncodingBuilder, EncodingConfig, LocalWriterConfig,
    OpenedEngine, RowOrigin, Rows,
};
use tokio::sync::mpsc;

use crate::checkpoint::ChunkCheckpoint;
use crate::failpoint;
use crate::import::ImportContext;
use crate::import::progress::TableProgress;
use dump_source as source;
use dump_source::{ParserState, Row};

/// Where a chunk's data comes from.
#[derive(Debug, Clone)]
pub(crate) struct ChunkSource {
    /// Where the dump is.
    pub storage: dump_source::Storage,
    /// The data file, relative to the dump.
    pub file: PathBuf,
    /// The object's ETag its reads require (object stores).
    pub etag: Option<String>,
    /// How errors name the file (relative path).
    pub name: Arc<str>,
    /// Format of the file.
    pub format: backend_core::SourceFormat,
    /// Compression of the file.
    pub compression: backend_core::Compression,
}

/// What the encode side hands the deliver side.
#[derive(Debug)]
struct Batch {
    /// The data and index streams with their checksums.
    encoded: EncodedRows,
    /// Payload bytes of `data` and `index`, counted as rows are added
    /// (summing the batch on every row would be quadratic).
    bytes: usize,
    rows: u64,
    /// Parser position after the batch's last row.
    end_pos: u64,
    /// Source bytes (Parquet: rows) from the previous batch's end to this
    /// one's.
    source_bytes: u64,
    /// Row id of the batch's last row.
    last_row_id: i64,
    /// Target columns of the SQL tuples, in tuple order.
    column_names: Arc<Vec<String>>,
    /// The parser's state at `end_pos`.
    end_state: Arc<ParserState>,
    /// The chunk is exhausted after this batch.
    finished: bool,
    max_auto_id: i64,
    errors: u64,
}

/// A chunk whose rows are written but not yet durable: its progress is
/// recorded once every status reports flushed.
#[derive(Debug)]
pub(crate) struct PendingChunk {
    pub progress: ChunkCheckpoint,
    pub max_auto_id: i64,
    pub statuses: Vec<Arc<dyn ChunkFlushStatus>>,
}

impl PendingChunk {
    /// Whether the chunk's rows are durable.
    pub fn flushed(&self) -> bool {
        self.statuses.iter().all(|s| s.flushed())
    }
}

/// Result of delivering a chunk.
#[derive(Debug)]
pub(crate) enum ChunkOutcome {
    /// Progress is recorded.
    Durable,
    /// Written; progress to record once flushed.
    Pending(Box<PendingChunk>),
}

/// Parses, encodes and delivers one chunk from its recorded position.
///
/// `publish` is called with the chunk's progress whenever the writers report
/// it durable; it saves the checkpoint. Without `index_engine`, index
/// entries (KV rows) go into `data_engine`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn process_chunk(
    ctx: &Arc<ImportContext>,
    table: &Arc<TidbTableInfo>,
    source: ChunkSource,
    start: ChunkCheckpoint,
    data_engine: &OpenedEngine,
    index_engine: Option<&OpenedEngine>,
    progress: &Arc<TableProgress>,
    publish: &(dyn Fn(&ChunkCheckpoint, i64) -> anyhow::Result<()> + Sync),
) -> anyhow::Result<ChunkOutcome> {
    // Extra slots, when free, become extra encoder threads for this chunk
    // and, for backends whose writers apply rows as they come, extra
    // writers: lane `i` encodes and writes the batches `i`, `i + lanes`, ….
    let mut extra_slots = Vec::new();
    while extra_slots.len() + 1 < ctx.options.region_concurrency {
        match Arc::clone(&ctx.region_slots).try_acquire_owned() {
            Ok(permit) => extra_slots.push(permit),
            Err(_) => break,
        }
    }
    let encoders = extra_slots.len() + 1;
    // A target numbers auto-increment values the rows leave to it in the
    // order they arrive: such a table keeps one writer, so the numbers follow
    // the file as a sequential read gives them.
    let lanes = if ctx.backend.capabilities().parallel_writers
        && table.core.auto_increment_column().is_none()
    {
        encoders
    } else {
        1
    };
    let writer_config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: table.unique_name(),
    };
    let mut writers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        writers.push(LaneWriters {
            data: data_engine.local_writer(&writer_config).await?,
            index: match index_engine {
                Some(engine) => Some(engine.local_writer(&writer_config).await?),
                None => None,
            },
        });
    }

    let builder = ctx.backend.encoding_builder();
    let (recycle_tx, recycle_rx) = std_mpsc::sync_channel::<Vec<Row>>(encoders * 2 + 2);
    let mut raw_senders = Vec::with_capacity(encoders);
    let mut outputs = Vec::with_capacity(encoders);
    let mut threads = Vec::with_capacity(encoders + 1);
    for _ in 0..encoders {
        let (raw_tx, raw_rx) = std_mpsc::sync_channel::<anyhow::Result<RawBatch>>(1);
        let (out_tx, out_rx) = mpsc::channel::<anyhow::Result<Batch>>(2);
        raw_senders.push(raw_tx);
        outputs.push(out_rx);
        let ctx = Arc::clone(ctx);
        let table = Arc::clone(table);
        let builder = Arc::clone(&builder);
        let name = Arc::clone(&source.name);
        let timestamp = start.timestamp;
        let recycle = recycle_tx.clone();
        threads.push(tokio::task::spawn_blocking(move || {
            encode_batches(
                &ctx, &table, &name, timestamp, &*builder, &raw_rx, &out_tx, &recycle,
            );
        }));
    }
    drop(recycle_tx);
    {
        let ctx = Arc::clone(ctx);
        let table = Arc::clone(table);
        let source = source.clone();
        let start = start.clone();
        threads.push(tokio::task::spawn_blocking(move || {
            parse_chunk(&ctx, &table, &source, &start, raw_senders, &recycle_rx);
        }));
    }

    let (reports_tx, reports_rx) = mpsc::unbounded_channel::<Delivered>();
    let mut lane_futures = Vec::with_capacity(lanes);
    let mut lane_outputs: Vec<Vec<mpsc::Receiver<anyhow::Result<Batch>>>> =
        (0..lanes).map(|_| Vec::new()).collect();
    for (i, output) in outputs.into_iter().enumerate() {
        // With one lane it reads every encoder's output in dealing order.
        lane_outputs[i % lanes].push(output);
    }
    for ((lane, outputs), writers) in lane_outputs.into_iter().enumerate().zip(&mut writers) {
        lane_futures.push(deliver_lane(
            ctx,
            Lane {
                index: lane,
                count: lanes,
                outputs,
            },
            writers,
            &source,
            progress,
            reports_tx.clone(),
        ));
    }
    drop(reports_tx);
    let (lane_results, ordered) = tokio::join!(
        futures::future::join_all(lane_futures),
        apply_in_order(reports_rx, lanes, start, publish),
    );
    for thread in threads {
        thread
            .await
            .context("a parsing or encoding thread panicked")?;
    }
    drop(extra_slots);
    // The first failure in dealing order is the cause; later lanes stopped
    // because of it.
    if let Some(err) = lane_results
        .into_iter()
        .filter_map(Result::err)
        .min_by_key(|(seq, _)| *seq)
    {
        return Err(err.1);
    }
    let Ordered {
        current,
        max_auto_id,
        finished,
    } = ordered?;
    if !finished {
        // Only a bug can end the stream without its last batch; never
        // record such a chunk as complete.
        anyhow::bail!(
            "{}: the parser stopped before the end of the chunk",
            source.name
        );
    }

    let mut statuses = Vec::with_capacity(lanes * 2);
    for lane in writers {
        statuses.push(lane.data.close().await?);
        if let Some(index) = lane.index {
            statuses.push(index.close().await?);
        }
    }
    TableProgress::add(&progress.chunks_done, 1);
    let pending = PendingChunk {
        progress: current,
        max_auto_id,
        statuses,
    };
    if pending.flushed() {
        publish(&pending.progress, pending.max_auto_id)?;
        failpoint::chunk_done();
        Ok(ChunkOutcome::Durable)
    } else {
        Ok(ChunkOutcome::Pending(Box::new(pending)))
    }
}

/// One lane's writers: data, and index unless index entries share the data
/// engine.
struct LaneWriters {
    data: Box<dyn backend_core::EngineWriter>,
    index: Option<Box<dyn backend_core::EngineWriter>>,
}

impl LaneWriters {
    /// Whether everything appended so far is durable.
    fn is_synced(&self) -> bool {
        self.data.is_synced() && self.index.as_ref().is_none_or(|w| w.is_synced())
    }
}

/// Which batches a lane delivers: `index`, `index + count`, … in dealing
/// order, read from `outputs` in turn (one output per encoder it serves).
struct Lane {
    index: usize,
    count: usize,
    outputs: Vec<mpsc::Receiver<anyhow::Result<Batch>>>,
}

/// What a lane reports after writing one batch.
#[derive(Debug)]
struct Delivered {
    /// The batch's place in dealing order.
    seq: usize,
    lane: usize,
    /// Every batch the lane wrote so far is durable.
    synced: bool,
    step: Step,
}

/// What one written batch adds to the chunk's checkpoint.
#[derive(Debug)]
struct Step {
    rows: u64,
    end_pos: u64,
    /// The parser's state at `end_pos`.
    end_state: Arc<ParserState>,
    last_row_id: i64,
    data_checksum: backend_core::KvChecksum,
    index_checksum: backend_core::KvChecksum,
    max_auto_id: i64,
    finished: bool,
}

/// Writes the lane's batches until its outputs end or the chunk's last
/// batch. An error carries the failed batch's place in dealing order;
/// dropping the lane's outputs then stops the encoders and the parser.
async fn deliver_lane(
    ctx: &ImportContext,
    mut lane: Lane,
    writers: &mut LaneWriters,
    source: &ChunkSource,
    progress: &TableProgress,
    reports: mpsc::UnboundedSender<Delivered>,
) -> Result<(), (usize, anyhow::Error)> {
    let encoders = lane.outputs.len();
    for (n, seq) in (lane.index..).step_by(lane.count).enumerate() {
        let Some(received) = lane.outputs[n % encoders].recv().await else {
            return Ok(());
        };
        let step = match received {
            Ok(batch) => deliver_batch(ctx, batch, source, writers, progress)
                .await
                .map_err(|err| (seq, err))?,
            Err(err) => return Err((seq, err)),
        };
        let finished = step.finished;
        let report = Delivered {
            seq,
            lane: lane.index,
            synced: writers.is_synced(),
            step,
        };
        if reports.send(report).is_err() || finished {
            return Ok(());
        }
    }
    Ok(())
}

/// The chunk's checkpoint after the batches applied in dealing order.
#[derive(Debug)]
struct Ordered {
    current: ChunkCheckpoint,
    max_auto_id: i64,
    finished: bool,
}

/// Applies the lanes' reports to the chunk's checkpoint in dealing order
/// (lanes finish out of order) and publishes it whenever every batch it
/// covers is durable: each lane is synced, or wrote nothing unsynced up to
/// there. So a recorded position is always one a sequential read reaches.
async fn apply_in_order(
    mut reports: mpsc::UnboundedReceiver<Delivered>,
    lanes: usize,
    start: ChunkCheckpoint,
    publish: &(dyn Fn(&ChunkCheckpoint, i64) -> anyhow::Result<()> + Sync),
) -> anyhow::Result<Ordered> {
    let mut ordered = Ordered {
        current: start,
        max_auto_id: 0,
        finished: false,
    };
    let mut waiting: std::collections::BTreeMap<usize, Step> = std::collections::BTreeMap::new();
    // Per lane, the first batch written since the lane was last synced.
    let mut unsynced_from: Vec<Option<usize>> = vec![None; lanes];
    let mut next = 0usize;
    while let Some(report) = reports.recv().await {
        if let Some(slot) = unsynced_from.get_mut(report.lane) {
            *slot = if report.synced {
                None
            } else {
                Some(slot.unwrap_or(report.seq))
            };
        }
        waiting.insert(report.seq, report.step);
        let before = next;
        while let Some(step) = waiting.remove(&next) {
            apply_step(&mut ordered, step);
            next += 1;
        }
        let durable = unsynced_from
            .iter()
            .all(|from| from.is_none_or(|s| s >= next));
        if next > before && durable {
            publish(&ordered.current, ordered.max_auto_id)?;
        }
    }
    Ok(ordered)
}

/// Advances the checkpoint past one batch.
fn apply_step(ordered: &mut Ordered, step: Step) {
    let current = &mut ordered.current;
    current.pos = if step.finished {
        current.end_offset
    } else {
        step.end_pos
    };
    current.parser_state = (!step.finished).then(|| ParserState::clone(&step.end_state));
    current.next_row_id = step.last_row_id.saturating_add(1).max(current.next_row_id);
    current.rows += step.rows;
    current.data_checksum.add(&step.data_checksum);
    current.index_checksum.add(&step.index_checksum);
    ordered.max_auto_id = ordered.max_auto_id.max(step.max_auto_id);
    ordered.finished |= step.finished;
}

/// Writes one batch; returns what it adds to the chunk's checkpoint.
async fn deliver_batch(
    ctx: &ImportContext,
    batch: Batch,
    source: &ChunkSource,
    writers: &mut LaneWriters,
    progress: &TableProgress,
) -> anyhow::Result<Step> {
    let deliver_start = std::time::Instant::now();
    let batch_bytes = batch.bytes;
    // Held while appending: the disk quota pauses writers by taking it.
    let gate = ctx.write_gate.read().await;
    let EncodedRows {
        data,
        index,
        data_checksum,
        index_checksum,
    } = batch.encoded;
    if !data.is_empty() {
        writers
            .data
            .append_rows(&batch.column_names, data)
            .await
            .with_context(|| format!("writing rows of {}", source.name))?;
    }
    if !index.is_empty() {
        // Without an index engine the entries share the data engine.
        let written = match writers.index.as_mut() {
            Some(writer) => writer.append_rows(&[], index).await,
            None => writers.data.append_rows(&[], index).await,
        };
        written.with_context(|| format!("writing index entries of {}", source.name))?;
    }
    drop(gate);
    TableProgress::add(&progress.deliver_nanos, nanos_since(deliver_start));
    TableProgress::add(&progress.bytes_written, batch_bytes as u64);
    // Test-only: a crash here leaves rows written but not recorded.
    failpoint::rows(batch.rows);
    failpoint::hit("after-engine-write-before-save");
    TableProgress::add(&progress.bytes_read, batch.source_bytes);
    TableProgress::add(&progress.rows, batch.rows);
    TableProgress::add(&progress.errors, batch.errors);
    Ok(Step {
        rows: batch.rows,
        end_pos: batch.end_pos,
        end_state: batch.end_state,
        last_row_id: batch.last_row_id,
        data_checksum,
        index_checksum,
        max_auto_id: batch.max_auto_id,
        finished: batch.finished,
    })
}

/// Parsed rows on their way from the parser to an encoder.
#[derive(Debug)]
struct RawBatch {
    rows: Vec<Row>,
    /// How the rows' fields map to the table's columns.
    permutation: Arc<Vec<Option<usize>>>,
    /// Target columns of those fields, for SQL tuples.
    column_names: Arc<Vec<String>>,
    /// The parser's state at `end_pos`: rows of one batch share one column
    /// list, and every row ends in the same state.
    end_state: Arc<ParserState>,
    /// Rows the parser skipped as bad (within `max-error`).
    errors: u64,
    /// Parser position where the batch starts (the previous one's end).
    start_pos: u64,
    /// Parser position after the batch.
    end_pos: u64,
    /// Row id of the batch's last row (or of the row before it).
    last_row_id: i64,
    /// The chunk is exhausted after this batch.
    finished: bool,
}

impl RawBatch {
    /// An empty batch of `rows`' buffers that continues where this one
    /// ends, with the same column mapping.
    fn following(&self, rows: Vec<Row>) -> RawBatch {
        RawBatch {
            rows,
            permutation: Arc::clone(&self.permutation),
            column_names: Arc::clone(&self.column_names),
            end_state: Arc::clone(&self.end_state),
            errors: 0,
            start_pos: self.end_pos,
            end_pos: self.end_pos,
            last_row_id: self.last_row_id,
            finished: false,
        }
    }
}

/// The parsing thread: reads rows from the chunk's position and deals them
/// in raw batches ([`raw_batch_bytes`] of source) round-robin to the
/// encoders. Ends after the batch that finishes the chunk, on an error
/// (sent in place of the next batch), or when the encoders are gone.
fn parse_chunk(
    ctx: &ImportContext,
    table: &Arc<TidbTableInfo>,
    source: &ChunkSource,
    start: &ChunkCheckpoint,
    encoders: Vec<std_mpsc::SyncSender<anyhow::Result<RawBatch>>>,
    recycled: &std_mpsc::Receiver<Vec<Row>>,
) {
    let mut seq = 0usize;
    let mut send = |batch: anyhow::Result<RawBatch>| -> bool {
        let sent = encoders[seq % encoders.len()].send(batch).is_ok();
        seq += 1;
        sent
    };
    let mut parsed = || -> anyhow::Result<()> {
        let mut parser = super::open_chunk::open_chunk_parser(ctx, table, source, start)?;
        let mut permutation: Arc<Vec<Option<usize>>> = Arc::new(Vec::new());
        let mut perm_columns: Option<Option<Vec<String>>> = None;
        let mut column_names: Arc<Vec<String>> = Arc::new(Vec::new());
        let mut batch = RawBatch {
            rows: Vec::new(),
            permutation: Arc::clone(&permutation),
            column_names: Arc::clone(&column_names),
            end_state: Arc::new(ParserState::default()),
            errors: 0,
            start_pos: start.pos,
            end_pos: 0,
            last_row_id: 0,
            finished: false,
        };
        let mut batch_start = start.pos;
        // Parquet positions are row indexes: its batches are sized by their
        // values instead.
        let by_values = source.format == backend_core::SourceFormat::Parquet;
        let mut value_bytes = 0usize;
        // Rows the encoders handed back: their value buffers are reused.
        let mut spare: Vec<Row> = Vec::new();
        let mut row = Row::default();
        loop {
            if ctx.is_cancelled() {
                // What was delivered and flushed is recorded; the rest of
                // the chunk is redone from there on resume.
                anyhow::bail!("import cancelled");
            }
            if parser.pos().0 >= start.end_offset {
                break;
            }
            match parser.read_row_into(&mut row) {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) if err.is_row_error() => {
                    record_error(ctx, &err.to_string())?;
                    batch.errors += 1;
                    continue;
                }
                Err(err) => return Err(err.into()),
            }
            let columns = parser.columns();
            if perm_columns.as_ref().map(Option::as_deref) != Some(columns) {
                let perm = source::column_permutation(&table.core, columns, &source.name).map_err(
                    |e| {
                        anyhow::anyhow!(
                            "{e} (in the column names given before the row at byte offset {})",
                            row.start_offset
                        )
                    },
                )?;
                let perm = keep_row_id_if_target_has_it(ctx, table, perm);
                perm_columns = Some(columns.map(<[String]>::to_vec));
                column_names = Arc::new(
                    table
                        .core
                        .columns
                        .iter()
                        .filter(|c| perm.get(c.offset).copied().flatten().is_some())
                        .map(|c| c.name.clone())
                        .chain(
                            (perm.len() > table.core.columns.len())
                                .then(|| source::TIDB_ROWID.to_string()),
                        )
                        .collect(),
                );
                permutation = Arc::new(perm);
                if !batch.rows.is_empty() {
                    // Rows of one batch share one column list.
                    let next = batch.following(recycled_rows(recycled, &mut spare));
                    (batch_start, value_bytes) = (batch.end_pos, 0);
                    if !send(Ok(std::mem::replace(&mut batch, next))) {
                        return Ok(());
                    }
                }
                batch.permutation = Arc::clone(&permutation);
                batch.column_names = Arc::clone(&column_names);
                // Right after this group's first row: the state every row
                // of the group ends in.
                batch.end_state = Arc::new(parser.state());
            }
            batch.end_pos = row.end_offset;
            batch.last_row_id = row.row_id;
            if by_values {
                value_bytes = value_bytes.saturating_add(values_size(&row));
            }
            let next = spare.pop().unwrap_or_default();
            batch.rows.push(std::mem::replace(&mut row, next));
            let size = if by_values {
                value_bytes
            } else {
                row_bytes_since(batch_start, batch.end_pos)
            };
            if size >= raw_batch_bytes(ctx) {
                let next = batch.following(recycled_rows(recycled, &mut spare));
                (batch_start, value_bytes) = (batch.end_pos, 0);
                if !send(Ok(std::mem::replace(&mut batch, next))) {
                    return Ok(());
                }
            }
        }
        let (pos, _) = parser.pos();
        batch.end_pos = batch.end_pos.max(pos);
        batch.last_row_id = batch.last_row_id.max(start.next_row_id - 1);
        batch.finished = true;
        send(Ok(batch));
        Ok(())
    };
    if let Err(err) = parsed() {
        // In place of the next batch, so everything before it is delivered.
        send(Err(explain_cut(err, source, start)));
    }
}

/// A syntax error in a chunk that starts where `strict-format` cut a SQL
/// file may mean the cut fell inside a value, and this chunk read from its
/// middle (the chunk before the cut fails too, saying so): the error says
/// that as well, whichever of the two is reported.
fn explain_cut(err: anyhow::Error, source: &ChunkSource, start: &ChunkCheckpoint) -> anyhow::Error {
    let cut = source.format == backend_core::SourceFormat::Sql && start.offset > 0;
    if cut
        && matches!(
            err.downcast_ref::<source::SourceError>(),
            Some(source::SourceError::Syntax { .. })
        )
    {
        return err.context(format!(
            "strict-format split {} at byte {}, where this chunk starts; a value before it may \
             hold a line that looks like a statement start (import the file with \
             strict-format = false)",
            source.name, start.offset
        ));
    }
    err
}

/// The permutation with its `_tidb_rowid` entry (see
/// [`source::column_permutation`]) when the target keeps that column for
/// this table (TiDB, or the local store, for a table without an integer or
/// clustered primary key); otherwise without it, and the table's first such
/// file logs one warning.
fn keep_row_id_if_target_has_it(
    ctx: &ImportContext,
    table: &TidbTableInfo,
    mut perm: Vec<Option<usize>>,
) -> Vec<Option<usize>> {
    let columns = table.core.columns.len();
    if perm.len() <= columns {
        return perm;
    }
    let has_handle = table.core.pk_is_handle || table.core.is_common_handle;
    if has_handle || !ctx.target.keeps_tidb_rowid() {
        perm.truncate(columns);
        if ctx.warn_once(&table.unique_name(), "tidb_rowid") {
            tracing::warn!(
                table = %table.unique_name(),
                "the data sets `{}`, which {} does not have for this table: the column is \
                 dropped from the rows and row ids are assigned by the target",
                source::TIDB_ROWID,
                ctx.target.describe()
            );
        }
    }
    perm
}

/// An empty row vector for the next batch, from the encoders' hand-backs
/// when there is one; its rows go to `spare` for reuse.
fn recycled_rows(recycled: &std_mpsc::Receiver<Vec<Row>>, spare: &mut Vec<Row>) -> Vec<Row> {
    let mut rows = recycled.try_recv().unwrap_or_default();
    // Bounded: never more spare rows than a few batches hold.
    if spare.len() < 4 * rows.len().max(1024) {
        spare.append(&mut rows);
    }
    rows.clear();
    rows
}

/// Source bytes per raw batch. The cut depends only on the rows since the
/// last cut, so a chunk resumed at any batch boundary cuts as before. Three
/// quarters of `deliver-bytes`: a row's encoding is usually a little larger
/// than its source (SQL tuples add quotes), and a batch the tidb writer has
/// to split into a full and a tiny statement costs a round trip.
fn raw_batch_bytes(ctx: &ImportContext) -> usize {
    (ctx.options.deliver_bytes / 4 * 3).max(1)
}

/// Source bytes between two parser positions.
fn row_bytes_since(start: u64, end: u64) -> usize {
    usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX)
}

/// About how many bytes a row's values take (strings by length, other
/// values 8).
fn values_size(row: &Row) -> usize {
    row.values
        .iter()
        .map(|v| match v {
            backend_core::Datum::Bytes(b) => b.len().max(8),
            _ => 8,
        })
        .sum()
}

/// An encoding thread: turns each raw batch it is dealt into one batch of
/// encoded rows for the deliver side. Ends when the parser or the deliver
/// side is gone.
#[allow(clippy::too_many_arguments)]
fn encode_batches(
    ctx: &ImportContext,
    table: &Arc<TidbTableInfo>,
    file: &Arc<str>,
    timestamp: i64,
    builder: &dyn EncodingBuilder,
    raw: &std_mpsc::Receiver<anyhow::Result<RawBatch>>,
    out: &mpsc::Sender<anyhow::Result<Batch>>,
    recycle: &std_mpsc::SyncSender<Vec<Row>>,
) {
    let encoder = builder.new_encoder(&EncodingConfig {
        table: Arc::clone(table),
        sql_mode: ctx.options.sql_mode,
        timestamp,
    });
    let mut encoder = match encoder {
        Ok(encoder) => encoder,
        Err(err) => {
            let _ = out.blocking_send(Err(err.into()));
            return;
        }
    };
    let progress = ctx.progress.table(&table.unique_name());
    let mut sizes = BatchSizes::default();
    while let Ok(received) = raw.recv() {
        let started = std::time::Instant::now();
        let encoded = received.and_then(|raw| {
            let batch = encode_raw(ctx, file, builder, &mut *encoder, &raw, &mut sizes);
            // Hand the row buffers back for reuse; dropped if none is needed.
            let _ = recycle.try_send(raw.rows);
            batch
        });
        if let Ok(batch) = &encoded {
            count_encoded(&progress, batch);
        }
        TableProgress::add(&progress.encode_nanos, nanos_since(started));
        let failed = encoded.is_err();
        if out.blocking_send(encoded).is_err() || failed {
            return;
        }
    }
}

/// Encodes one raw batch into one batch. One for one, so every position a
/// checkpoint can record is a raw-batch boundary: a resumed chunk cuts the
/// rest of its rows exactly as the first run did, which the tidb backend's
/// statement markers rely on.
fn encode_raw(
    ctx: &ImportContext,
    file: &Arc<str>,
    builder: &dyn EncodingBuilder,
    encoder: &mut dyn backend_core::RowEncoder,
    raw: &RawBatch,
    sizes: &mut BatchSizes,
) -> anyhow::Result<Batch> {
    let mut batch = new_batch(builder, &raw.column_names);
    sizes.reserve(&mut batch.encoded);
    for row in &raw.rows {
        let origin = RowOrigin {
            file: Arc::clone(file),
            offset: row.start_offset,
        };
        match encoder.encode_into(
            &row.values,
            row.row_id,
            &raw.permutation,
            &origin,
            &mut batch.encoded,
        ) {
            Ok(size) => {
                batch.bytes += size;
                batch.rows += 1;
            }
            Err(err) => {
                let message = format!(
                    "{file}: row at byte offset {} (row id {}): {err}",
                    row.start_offset, row.row_id
                );
                record_error(ctx, &message)?;
                batch.errors += 1;
            }
        }
    }
    *sizes = BatchSizes::of(&batch.encoded);
    batch.end_pos = raw.end_pos;
    batch.source_bytes = raw.end_pos.saturating_sub(raw.start_pos);
    batch.end_state = Arc::clone(&raw.end_state);
    batch.last_row_id = raw.last_row_id;
    batch.finished = raw.finished;
    batch.errors += raw.errors;
    batch.max_auto_id = encoder.max_auto_id();
    Ok(batch)
}

/// The sizes of an encoder's last batch: raw batches hold about the same
/// source bytes, so the next batch reserves as much up front. Grown pair by
/// pair instead, a batch reallocates and copies itself about ten times, and
/// the slack of those doublings counts in peak RSS.
#[derive(Debug, Default, Clone, Copy)]
struct BatchSizes {
    /// Rows and bytes of the data stream.
    data: (usize, usize),
    /// Rows and bytes of the index stream.
    index: (usize, usize),
}

impl BatchSizes {
    fn of(encoded: &EncodedRows) -> Self {
        // Only pairs reserve bytes; summing SQL tuples would be wasted work.
        let sizes = |rows: &Rows| match rows {
            Rows::Kv(pairs) => (pairs.len(), pairs.size()),
            Rows::Sql(tuples) => (tuples.len(), 0),
        };
        BatchSizes {
            data: sizes(&encoded.data),
            index: sizes(&encoded.index),
        }
    }

    /// Reserves the last batch's sizes and an eighth more in `encoded`.
    fn reserve(&self, encoded: &mut EncodedRows) {
        let more = |n: usize| n.saturating_add(n / 8);
        encoded.data.reserve(more(self.data.0), more(self.data.1));
        encoded
            .index
            .reserve(more(self.index.0), more(self.index.1));
    }
}

/// Adds a batch about to be handed over to the table's encode counters.
fn count_encoded(progress: &TableProgress, batch: &Batch) {
    TableProgress::add(&progress.rows_read, batch.rows + batch.errors);
    TableProgress::add(&progress.rows_encoded, batch.rows);
    TableProgress::add(&progress.bytes_encoded, batch.bytes as u64);
}

/// Nanoseconds since `start`, saturating (u64 nanoseconds last 584 years).
fn nanos_since(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn new_batch(builder: &dyn EncodingBuilder, column_names: &Arc<Vec<String>>) -> Batch {
    Batch {
        encoded: EncodedRows::new(&builder.make_empty_rows()),
        bytes: 0,
        rows: 0,
        end_pos: 0,
        source_bytes: 0,
        last_row_id: 0,
        column_names: Arc::clone(column_names),
        end_state: Arc::new(ParserState::default()),
        finished: false,
        max_auto_id: 0,
        errors: 0,
    }
}

/// Counts a skipped row against `max-error`, failing once it is exceeded.
fn record_error(ctx: &ImportContext, message: &str) -> anyhow::Result<()> {
    let total = ctx
        .error_count
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    if total > ctx.options.max_error {
        anyhow::bail!(
            "{message}\n(more than max-error = {} bad rows; raise [lightning] max-error to skip them)",
            ctx.options.max_error
        );
    }
    tracing::warn!(error = %message, "skipped a bad row (within max-error)");
    Ok(())
}
