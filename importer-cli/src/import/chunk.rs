//! One chunk: parse and encode on a blocking thread, deliver batches to the
//! engine writers on the async side, record progress once it is durable.
//!
//! A bounded channel between the two halves keeps memory flat: the parser
//! runs at most a few batches ahead of the writers.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use backend_core::model::TidbTableInfo;
use backend_core::{
    ChunkFlushStatus, EncodingBuilder, EncodingConfig, KvChecksum, LocalWriterConfig, OpenedEngine,
    RowOrigin, Rows,
};
use tokio::sync::mpsc;

use crate::checkpoint::ChunkCheckpoint;
use crate::failpoint;
use crate::import::ImportContext;
use crate::import::progress::TableProgress;
use crate::source;

/// Where a chunk's data comes from.
#[derive(Debug, Clone)]
pub(crate) struct ChunkSource {
    /// Absolute path of the data file.
    pub path: PathBuf,
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
    data: Rows,
    index: Rows,
    data_checksum: KvChecksum,
    index_checksum: KvChecksum,
    /// Payload bytes of `data` and `index`, counted as rows are added
    /// (summing the batch on every row would be quadratic).
    bytes: usize,
    rows: u64,
    /// Parser position after the batch's last row.
    end_pos: u64,
    /// Row id of the batch's last row.
    last_row_id: i64,
    /// Target columns of the SQL tuples, in tuple order.
    column_names: Arc<Vec<String>>,
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
    Pending(PendingChunk),
}

/// Parses, encodes and delivers one chunk from its recorded position.
///
/// `publish` is called with the chunk's progress whenever the writers report
/// it durable; it saves the checkpoint.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn process_chunk(
    ctx: &Arc<ImportContext>,
    table: &Arc<TidbTableInfo>,
    source: ChunkSource,
    start: ChunkCheckpoint,
    data_engine: &OpenedEngine,
    index_engine: &OpenedEngine,
    progress: &Arc<TableProgress>,
    publish: &(dyn Fn(&ChunkCheckpoint, i64) -> anyhow::Result<()> + Sync),
) -> anyhow::Result<ChunkOutcome> {
    let writer_config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: table.unique_name(),
    };
    let mut data_writer = data_engine.local_writer(&writer_config).await?;
    let mut index_writer = index_engine.local_writer(&writer_config).await?;

    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let encode = {
        let ctx = Arc::clone(ctx);
        let table = Arc::clone(table);
        let source = source.clone();
        let start = start.clone();
        let builder = ctx.backend.encoding_builder();
        tokio::task::spawn_blocking(move || {
            encode_chunk(&ctx, &table, &source, &start, builder, tx)
        })
    };

    let mut current = start;
    let mut max_auto_id = 0;
    let mut deliver_result = Ok(());
    while let Some(batch) = rx.recv().await {
        let deliver_start = std::time::Instant::now();
        let batch_bytes = batch.bytes;
        let delivered: anyhow::Result<()> = async {
            if !batch.data.is_empty() {
                data_writer
                    .append_rows(&batch.column_names, batch.data)
                    .await
                    .with_context(|| format!("writing rows of {}", source.name))?;
            }
            if !batch.index.is_empty() {
                index_writer
                    .append_rows(&[], batch.index)
                    .await
                    .with_context(|| format!("writing index entries of {}", source.name))?;
            }
            Ok(())
        }
        .await;
        TableProgress::add(&progress.deliver_nanos, nanos_since(deliver_start));
        if let Err(err) = delivered {
            deliver_result = Err(err);
            break;
        }
        TableProgress::add(&progress.bytes_written, batch_bytes as u64);
        // Test-only: a crash here leaves rows written but not recorded.
        failpoint::rows(batch.rows);
        failpoint::hit("after-engine-write-before-save");
        let advanced = batch.end_pos.saturating_sub(current.pos);
        current.pos = if batch.finished {
            current.end_offset
        } else {
            batch.end_pos
        };
        current.next_row_id = batch.last_row_id.saturating_add(1).max(current.next_row_id);
        current.rows += batch.rows;
        current.data_checksum.add(&batch.data_checksum);
        current.index_checksum.add(&batch.index_checksum);
        max_auto_id = max_auto_id.max(batch.max_auto_id);
        TableProgress::add(&progress.bytes_read, advanced);
        TableProgress::add(&progress.rows, batch.rows);
        TableProgress::add(&progress.errors, batch.errors);
        if data_writer.is_synced() && index_writer.is_synced() {
            publish(&current, max_auto_id)?;
        }
    }
    // Dropping the receiver stops the encoder if delivery failed.
    drop(rx);
    let encoded = encode.await.context("the encoding task panicked")?;
    deliver_result?;
    encoded?;

    let data_status = data_writer.close().await?;
    let index_status = index_writer.close().await?;
    TableProgress::add(&progress.chunks_done, 1);
    let pending = PendingChunk {
        progress: current,
        max_auto_id,
        statuses: vec![data_status, index_status],
    };
    if pending.flushed() {
        publish(&pending.progress, pending.max_auto_id)?;
        failpoint::chunk_done();
        Ok(ChunkOutcome::Durable)
    } else {
        Ok(ChunkOutcome::Pending(pending))
    }
}

/// The blocking half: parse rows from the chunk's position, encode them and
/// send batches. Returns when the chunk is exhausted, on the first error
/// beyond `max-error`, or when the receiver is gone.
fn encode_chunk(
    ctx: &ImportContext,
    table: &Arc<TidbTableInfo>,
    source: &ChunkSource,
    start: &ChunkCheckpoint,
    builder: Arc<dyn EncodingBuilder>,
    tx: mpsc::Sender<Batch>,
) -> anyhow::Result<()> {
    let opts = &ctx.options;
    // Rows without a header or column list must carry exactly the table's
    // loadable columns: extra values would otherwise be dropped silently.
    let parser_options = source::ParserOptions {
        expected_columns: Some(table.core.loadable_columns().count()),
        ..opts.parser.clone()
    };
    let mut parser = source::open_parser(
        &source.path,
        &source.name,
        source.format,
        source.compression,
        start.offset,
        start.prev_rowid_max,
        &opts.csv,
        opts.no_backslash_escapes,
        &parser_options,
    )?;
    if let Some(columns) = &start.columns {
        parser.set_columns(columns.clone());
    }
    // Resume by re-parsing (not re-encoding) up to the recorded position, so
    // the parser's state (CSV header, the current INSERT's column list) is
    // exactly what it was.
    while parser.pos().0 < start.pos {
        match parser.read_row() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(err) if err.is_row_error() => {}
            Err(err) => return Err(err.into()),
        }
    }
    let mut encoder = builder.new_encoder(&EncodingConfig {
        table: Arc::clone(table),
        sql_mode: opts.sql_mode,
        timestamp: start.timestamp,
    })?;

    let mut permutation: Vec<Option<usize>> = Vec::new();
    let mut perm_columns: Option<Option<Vec<String>>> = None;
    let mut column_names: Arc<Vec<String>> = Arc::new(Vec::new());
    let mut batch = new_batch(&*builder, &column_names);
    let mut errors = 0u64;
    let progress = ctx.progress.table(&table.unique_name());
    let mut batch_start = std::time::Instant::now();
    // Counts the batch as encoded and hands it over; false when the
    // receiver is gone. Time blocked on a full channel is not encode time.
    let mut send = |batch: Batch| -> bool {
        count_encoded(&progress, &batch, batch_start);
        let sent = tx.blocking_send(batch).is_ok();
        batch_start = std::time::Instant::now();
        sent
    };
    loop {
        if ctx.is_cancelled() {
            // What was delivered and flushed is recorded; the rest of the
            // chunk is redone from there on resume.
            anyhow::bail!("import cancelled");
        }
        if parser.pos().0 >= start.end_offset {
            batch.finished = true;
            break;
        }
        let row = match parser.read_row() {
            Ok(Some(row)) => row,
            Ok(None) => {
                batch.finished = true;
                break;
            }
            Err(err) if err.is_row_error() => {
                record_error(ctx, &mut errors, &err.to_string())?;
                batch.errors += 1;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let columns = parser.columns();
        if perm_columns.as_ref().map(Option::as_deref) != Some(columns) {
            permutation =
                source::column_permutation(&table.core, columns, &source.name).map_err(|e| {
                    anyhow::anyhow!(
                        "{e} (in the column names given before the row at byte offset {})",
                        row.start_offset
                    )
                })?;
            perm_columns = Some(columns.map(<[String]>::to_vec));
            column_names = Arc::new(
                table
                    .core
                    .columns
                    .iter()
                    .filter(|c| permutation.get(c.offset).copied().flatten().is_some())
                    .map(|c| c.name.clone())
                    .collect(),
            );
            if !batch.data.is_empty() && *batch.column_names != *column_names {
                let full = std::mem::replace(&mut batch, new_batch(&*builder, &column_names));
                if !send(full) {
                    return Ok(());
                }
            }
            batch.column_names = Arc::clone(&column_names);
        }
        let origin = RowOrigin {
            file: Arc::clone(&source.name),
            offset: row.start_offset,
        };
        match encoder.encode(&row.values, row.row_id, &permutation, &origin) {
            Ok(encoded) => {
                batch.bytes += encoded.size();
                encoded.classify_and_append(
                    &mut batch.data,
                    &mut batch.data_checksum,
                    &mut batch.index,
                    &mut batch.index_checksum,
                );
                batch.rows += 1;
            }
            Err(err) => {
                let message = format!(
                    "{}: row at byte offset {} (row id {}): {err}",
                    source.name, row.start_offset, row.row_id
                );
                record_error(ctx, &mut errors, &message)?;
                batch.errors += 1;
            }
        }
        batch.end_pos = row.end_offset;
        batch.last_row_id = row.row_id;
        if batch.bytes >= opts.deliver_bytes {
            batch.max_auto_id = encoder.max_auto_id();
            let full = std::mem::replace(&mut batch, new_batch(&*builder, &column_names));
            if !send(full) {
                return Ok(());
            }
        }
    }
    let (pos, _) = parser.pos();
    batch.end_pos = batch.end_pos.max(pos);
    batch.last_row_id = batch.last_row_id.max(start.next_row_id - 1);
    batch.max_auto_id = encoder.max_auto_id();
    // A receiver that is gone means delivery failed; that error wins.
    let _ = send(batch);
    Ok(())
}

/// Adds a batch about to be handed over to the table's encode counters.
fn count_encoded(progress: &TableProgress, batch: &Batch, started: std::time::Instant) {
    TableProgress::add(&progress.rows_read, batch.rows + batch.errors);
    TableProgress::add(&progress.rows_encoded, batch.rows);
    TableProgress::add(&progress.bytes_encoded, batch.bytes as u64);
    TableProgress::add(&progress.encode_nanos, nanos_since(started));
}

/// Nanoseconds since `start`, saturating (u64 nanoseconds last 584 years).
fn nanos_since(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn new_batch(builder: &dyn EncodingBuilder, column_names: &Arc<Vec<String>>) -> Batch {
    Batch {
        data: builder.make_empty_rows(),
        index: builder.make_empty_rows(),
        data_checksum: KvChecksum::new(),
        index_checksum: KvChecksum::new(),
        bytes: 0,
        rows: 0,
        end_pos: 0,
        last_row_id: 0,
        column_names: Arc::clone(column_names),
        finished: false,
        max_auto_id: 0,
        errors: 0,
    }
}

/// Counts a skipped row against `max-error`, failing once it is exceeded.
fn record_error(ctx: &ImportContext, errors: &mut u64, message: &str) -> anyhow::Result<()> {
    *errors += 1;
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
