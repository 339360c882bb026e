//! One table from chunks to a checksummed target table.
//!
//! Order of work, each step recorded in the checkpoint so a rerun skips what
//! is done: write every data engine (chunks in parallel), closing each as it
//! completes and importing it while the next one is written; then close and
//! import the index engine; then post-process (auto-increment rebase,
//! checksum, analyze).

use std::sync::Arc;

use anyhow::{Context as _, bail};
use backend_core::{
    ClosedEngine, DeferredIndex, EngineConfig, KvChecksum, OpenedEngine, RowEncoding,
    TargetChecksum,
};
use tokio::task::JoinSet;

use crate::checkpoint::{
    ChunkCheckpoint, EngineCheckpoint, EngineStatus, INDEX_ENGINE, TableCheckpoint, TableFailure,
    TableStatus,
};
use crate::failpoint;
use crate::import::chunk::{ChunkOutcome, ChunkSource, PendingChunk, process_chunk};
use crate::import::progress::TableProgress;
use crate::import::{ImportContext, PostOp, TablePlan};

/// What happened to a table, for the summary.
#[derive(Debug, Clone)]
pub struct TableReport {
    /// `` `db`.`tbl` ``.
    pub name: String,
    /// Rows delivered.
    pub rows: u64,
    /// Checksum outcome, in words.
    pub checksum: String,
    /// The error that stopped the table, if any.
    pub error: Option<String>,
}

/// Imports one table, recording a failure in the checkpoint.
pub(crate) async fn import_table(ctx: Arc<ImportContext>, plan: TablePlan) -> TableReport {
    let name = plan.table.unique_name();
    let progress = ctx.progress.table(&name);
    let result = run_table(&ctx, &plan).await;
    progress.finish();
    let rows = ctx.checkpoints.table(&name).map(|t| t.rows()).unwrap_or(0);
    match result {
        Ok(checksum) => {
            progress.set_phase("done");
            TableReport {
                name,
                rows,
                checksum,
                error: None,
            }
        }
        Err(err) if is_environmental(&err) => {
            // The target went away (restart, network) or local I/O failed
            // (a full disk): not the table's fault, so no failure is
            // recorded and a plain rerun resumes once the cause is fixed.
            progress.set_phase("interrupted");
            TableReport {
                name,
                rows,
                checksum: "-".into(),
                error: Some(format!(
                    "{err:#}\n(the target was unreachable or local I/O failed; fix that, then \
                     rerun the same command to resume)"
                )),
            }
        }
        Err(err) => {
            progress.set_phase("failed");
            let message = crate::errors::error_text(&err);
            if ctx.is_cancelled() {
                // Stopped on request: resumable as is, not a failure to
                // clear by hand.
                return TableReport {
                    name,
                    rows,
                    checksum: "-".into(),
                    error: Some(format!("interrupted ({message})")),
                };
            }
            let saved = ctx.checkpoints.update_table(&name, |table| {
                // A table blocked by an earlier failure keeps that failure's
                // message rather than one wrapping it.
                if table.failure.is_none() {
                    table.failure = Some(TableFailure {
                        at: table.status,
                        message: message.clone(),
                    });
                }
            });
            if let Err(save_err) = saved {
                tracing::error!(table = %name, error = %save_err, "could not record the failure in the checkpoint");
            }
            TableReport {
                name,
                rows,
                checksum: "-".into(),
                error: Some(message),
            }
        }
    }
}

/// Whether `err` says the target was unreachable or the machine's I/O
/// failed (a full `sorted-kv-dir`), rather than that the table's data or
/// schema is wrong.
fn is_environmental(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<backend_core::Error>()
            .is_some_and(|e| {
                matches!(
                    e.kind(),
                    backend_core::ErrorKind::TargetUnavailable | backend_core::ErrorKind::Io
                )
            })
            || matches!(
                cause.downcast_ref::<crate::checkpoint::CheckpointError>(),
                Some(crate::checkpoint::CheckpointError::Sql { .. })
            )
    })
}

async fn run_table(ctx: &Arc<ImportContext>, plan: &TablePlan) -> anyhow::Result<String> {
    let name = plan.table.unique_name();
    let progress = ctx.progress.table(&name);
    progress.set_phase("preparing");
    let mut fresh = false;
    let cp = match ctx.checkpoints.table(&name) {
        Some(cp) => {
            if let Some(failure) = &cp.failure {
                bail!(
                    "table {name} failed in an earlier run (at status {}): {}\n\
                     fix the cause, then run `importer checkpoint error-ignore '{name}'` to retry it, \
                     or `importer checkpoint error-destroy '{name}'` to drop its imported data and start it over",
                    failure.at.as_str(),
                    failure.message
                );
            }
            if cp.table_id != plan.table.id {
                bail!(
                    "table {name} has id {} on the target but {} in the checkpoint; \
                     run `importer checkpoint remove '{name}'` to start it over",
                    plan.table.id,
                    cp.table_id
                );
            }
            if cp.status < TableStatus::AllWritten {
                check_files_unchanged(ctx, &name, plan, &cp)?;
            }
            cp
        }
        None => {
            fresh = true;
            let cp = new_table_checkpoint(ctx, plan)?;
            ctx.checkpoints.insert_table(&name, cp.clone())?;
            cp
        }
    };
    let chunks: Vec<&ChunkCheckpoint> = cp.engines.values().flat_map(|e| &e.chunks).collect();
    TableProgress::store(&progress.chunks_total, chunks.len() as u64);
    TableProgress::store(
        &progress.chunks_done,
        chunks.iter().filter(|c| c.is_finished()).count() as u64,
    );
    TableProgress::store(
        &progress.bytes_read,
        chunks
            .iter()
            .map(|c| c.pos.saturating_sub(c.offset).min(c.end_offset))
            .sum(),
    );
    TableProgress::store(&progress.rows, cp.rows());

    let engine_config = EngineConfig {
        table_info: Some(Arc::clone(&plan.table)),
        local: ctx.options.local_engine.clone(),
        // A table that starts now must not pick up what an abandoned run
        // left in its engines; a resumed one must keep it.
        keep_sort_dir: !fresh,
    };

    if cp.status < TableStatus::AllWritten
        && ctx.options.add_index_by_sql
        && ctx.backend.capabilities().deferred_indexes
    {
        progress.set_phase("dropping secondary indexes");
        defer_indexes(ctx, plan).await?;
    }
    if cp.status < TableStatus::AllWritten {
        progress.set_phase("writing");
        // SQL rows carry their index entries (the server maintains the
        // indexes): only KV rows need an index engine, and a small table's
        // share its data engine (see `new_table_checkpoint`).
        let own_index_engine = cp
            .engines
            .get(&INDEX_ENGINE)
            .is_some_and(|e| e.status != EngineStatus::Imported);
        let index_engine =
            if ctx.backend.capabilities().encoding == RowEncoding::Kv && own_index_engine {
                let engine = ctx
                    .engines
                    .open_engine(&engine_config, &name, INDEX_ENGINE)
                    .await?;
                TableProgress::add(&ctx.progress.engines.opened, 1);
                Some(Arc::new(engine))
            } else {
                None
            };
        // A closed data engine is imported while the next one is written;
        // one import per table at a time.
        let mut importing: Option<tokio::task::JoinHandle<anyhow::Result<()>>> = None;
        for (&engine_id, engine) in cp.engines.iter().filter(|(id, _)| **id != INDEX_ENGINE) {
            let closed = match engine.status {
                EngineStatus::Loaded => {
                    write_engine(
                        ctx,
                        plan,
                        &engine_config,
                        engine_id,
                        engine,
                        index_engine.as_ref(),
                    )
                    .await
                }
                EngineStatus::Closed => ctx
                    .engines
                    .unsafe_close_engine(&engine_config, &name, engine_id)
                    .await
                    .map_err(anyhow::Error::from),
                EngineStatus::Imported => continue,
            };
            let previous = finish_import(importing.take()).await;
            let closed = match (closed, previous) {
                (Ok(closed), Ok(())) => closed,
                (Err(err), _) | (Ok(_), Err(err)) => return Err(err),
            };
            let (ctx, name) = (Arc::clone(ctx), name.clone());
            importing = Some(tokio::spawn(async move {
                import_engine(&ctx, &name, engine_id, closed).await
            }));
        }
        finish_import(importing).await?;
        set_status(ctx, &name, TableStatus::AllWritten)?;
        match index_engine {
            Some(index_engine) => {
                let index_engine = Arc::try_unwrap(index_engine)
                    .map_err(|_| anyhow::anyhow!("the index engine of {name} is still in use"))?;
                let closed = {
                    let _gate = ctx.write_gate.read().await;
                    index_engine.close().await?
                };
                set_engine_status(ctx, &name, INDEX_ENGINE, EngineStatus::Closed)?;
                set_status(ctx, &name, TableStatus::Closed)?;
                progress.set_phase("importing index");
                import_engine(ctx, &name, INDEX_ENGINE, closed).await?;
            }
            None => {
                // Nothing was opened: the checkpoint's index engine is done.
                ctx.checkpoints.update_table(&name, |table| {
                    if let Some(engine) = table.engines.get_mut(&INDEX_ENGINE) {
                        engine.status = EngineStatus::Imported;
                    }
                    table.status = table.status.max(TableStatus::Closed);
                })?;
            }
        }
        set_status(ctx, &name, TableStatus::Imported)?;
    } else if cp.status < TableStatus::Imported {
        // Resumed after every data engine was written: finish the engines
        // the checkpoint says are not imported yet.
        progress.set_phase("importing");
        let pending: Vec<(i32, EngineStatus)> = cp
            .engines
            .iter()
            .map(|(id, e)| (*id, e.status))
            .filter(|(_, s)| *s != EngineStatus::Imported)
            .collect();
        for (engine_id, _) in pending {
            let closed = ctx
                .engines
                .unsafe_close_engine(&engine_config, &name, engine_id)
                .await?;
            import_engine(ctx, &name, engine_id, closed).await?;
        }
        set_status(ctx, &name, TableStatus::Imported)?;
    }
    if !fresh && cp.status < TableStatus::AlteredAutoInc {
        // A crash between an engine's import and its cleanup leaves the
        // engine behind; every engine is imported now, so remove them all
        // (removing a removed engine is a no-op). A table started in this
        // run cleaned up each engine after importing it.
        for &engine_id in cp.engines.keys() {
            let (tag, uuid) = backend_core::make_uuid(&name, engine_id);
            ctx.backend
                .cleanup_engine(uuid)
                .await
                .with_context(|| format!("cleaning up engine {tag}"))?;
        }
    }
    post_process(ctx, plan).await
}

/// `add-index-by-sql`: records the table's plain secondary indexes in its
/// checkpoint, then drops them, so rows go in without index maintenance and
/// post-processing builds each index once from sorted data. Recording
/// first means a crash in between loses no definition; a resumed run
/// records and drops whatever is still there the same way.
async fn defer_indexes(ctx: &ImportContext, plan: &TablePlan) -> anyhow::Result<()> {
    let name = plan.table.unique_name();
    let found = ctx
        .target
        .deferrable_indexes(&plan.table)
        .await
        .with_context(|| format!("reading the secondary indexes of {name}"))?;
    if found.is_empty() {
        return Ok(());
    }
    ctx.checkpoints.update_table(&name, |table| {
        for index in &found {
            // What the target has now wins over an older record.
            table
                .deferred_indexes
                .retain(|d| !d.name.eq_ignore_ascii_case(&index.name));
            table.deferred_indexes.push(index.clone());
        }
    })?;
    // The definitions must survive a power cut before the indexes go.
    ctx.checkpoints.sync()?;
    failpoint::hit("mid-defer-index");
    let mut dropped = Vec::new();
    for index in &found {
        let gone = ctx
            .target
            .drop_index(&plan.table, &index.name)
            .await
            .with_context(|| format!("dropping index `{}` of {name}", index.name))?;
        if gone {
            dropped.push(index.name.as_str());
        } else {
            tracing::info!(table = %name, index = %index.name, "index kept during the load: the target will not drop it (a foreign key needs it)");
        }
    }
    tracing::info!(table = %name, indexes = ?dropped, "secondary indexes dropped; they are added back after the rows");
    Ok(())
}

/// Waits for a background engine import, if any.
async fn finish_import(
    import: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Result<()> {
    match import {
        Some(handle) => handle
            .await
            .map_err(|join| anyhow::anyhow!("an engine import task panicked: {join}"))?,
        None => Ok(()),
    }
}

/// A resumed table reads the chunks its checkpoint lists, which end where
/// the files ended then: a file that grew since, or a new file, would have
/// rows silently left out. (A file that shrank just ends early.) An object
/// whose ETag differs from the checkpoint's was replaced: reading on would
/// mix two versions of it.
fn check_files_unchanged(
    ctx: &ImportContext,
    name: &str,
    plan: &TablePlan,
    cp: &TableCheckpoint,
) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    use std::path::Path;
    for c in cp.engines.values().flat_map(|e| &e.chunks) {
        let Some(recorded) = &c.etag else { continue };
        let now = plan.chunks.iter().find(|p| p.file.path == c.file);
        if now.is_some_and(|p| p.file.etag.as_ref() != Some(recorded)) {
            bail!(
                "{}",
                dump_source::SourceError::Changed {
                    location: ctx.options.source.location().to_string(),
                    object: c.file.display().to_string(),
                }
            );
        }
    }
    let mut recorded: BTreeMap<&Path, u64> = BTreeMap::new();
    for c in cp.engines.values().flat_map(|e| &e.chunks) {
        let end = recorded.entry(c.file.as_path()).or_insert(0);
        *end = (*end).max(c.end_offset);
    }
    let mut now: BTreeMap<&Path, u64> = BTreeMap::new();
    for c in &plan.chunks {
        let end = now.entry(c.file.path.as_path()).or_insert(0);
        *end = (*end).max(c.end_offset);
    }
    let start_over = format!(
        "run `importer checkpoint error-destroy '{name}'` to drop what was imported of it and \
         start it over, or restore the file"
    );
    for (file, new) in &now {
        match recorded.get(file) {
            Some(old) if new > old => bail!(
                "{}: grew from {old} to {new} bytes since the checkpoint of {name} was written, \
                 and rows past byte {old} would be left out; {start_over}",
                file.display()
            ),
            Some(_) => {}
            None => bail!(
                "{}: is a new data file of {name} since its checkpoint was written; {start_over}",
                file.display()
            ),
        }
    }
    Ok(())
}

/// Source bytes up to which a table's index entries go into its data
/// engine rather than an index engine of their own.
const SHARED_ENGINE_MAX_BYTES: u64 = 16 << 20;

/// Lists the table's chunks and groups them into data engines of about
/// `batch-size` bytes each.
fn new_table_checkpoint(ctx: &ImportContext, plan: &TablePlan) -> anyhow::Result<TableCheckpoint> {
    let mut engines = std::collections::BTreeMap::new();
    let mut engine_id = 0i32;
    let mut engine_bytes = 0u64;
    let mut current: Vec<ChunkCheckpoint> = Vec::new();
    for chunk in &plan.chunks {
        let size = chunk.end_offset.saturating_sub(chunk.offset);
        if !current.is_empty() && engine_bytes + size > ctx.options.batch_size {
            engines.insert(
                engine_id,
                EngineCheckpoint {
                    status: EngineStatus::Loaded,
                    chunks: std::mem::take(&mut current),
                },
            );
            engine_id += 1;
            engine_bytes = 0;
        }
        engine_bytes += size;
        current.push(ChunkCheckpoint {
            file: chunk.file.path.clone(),
            offset: chunk.offset,
            end_offset: chunk.end_offset,
            pos: chunk.offset,
            prev_rowid_max: chunk.prev_rowid_max,
            rowid_max: chunk.rowid_max,
            next_row_id: chunk.prev_rowid_max + 1,
            rows: 0,
            data_checksum: KvChecksum::new(),
            index_checksum: KvChecksum::new(),
            columns: chunk.columns.clone(),
            timestamp: ctx.session_timestamp,
            etag: chunk.file.etag.clone(),
            parser_state: None,
        });
    }
    engines.insert(
        engine_id,
        EngineCheckpoint {
            status: EngineStatus::Loaded,
            chunks: current,
        },
    );
    // A small table's index entries share its one data engine: a second
    // engine would double the table's fixed cost (engine files, syncs, an
    // ingest) for a few KiB. The index engine is then born imported, which
    // a resumed run reads as this choice.
    let shares_engine = ctx.backend.capabilities().encoding == RowEncoding::Kv
        && engine_id == 0
        && plan
            .chunks
            .iter()
            .map(|c| c.end_offset.saturating_sub(c.offset))
            .sum::<u64>()
            <= SHARED_ENGINE_MAX_BYTES;
    engines.insert(
        INDEX_ENGINE,
        EngineCheckpoint {
            status: if shares_engine {
                EngineStatus::Imported
            } else {
                EngineStatus::Loaded
            },
            chunks: Vec::new(),
        },
    );
    Ok(TableCheckpoint {
        status: TableStatus::Loaded,
        failure: None,
        table_id: plan.table.id,
        schema_hash: plan.schema_hash,
        engines,
        max_auto_id: 0,
        deferred_indexes: Vec::new(),
    })
}

/// Writes every unfinished chunk of one data engine and closes it, ready to
/// import. Chunks run in parallel, bounded by `region-concurrency` across
/// all tables.
async fn write_engine(
    ctx: &Arc<ImportContext>,
    plan: &TablePlan,
    config: &EngineConfig,
    engine_id: i32,
    engine: &EngineCheckpoint,
    index_engine: Option<&Arc<OpenedEngine>>,
) -> anyhow::Result<ClosedEngine> {
    let name = plan.table.unique_name();
    let data_engine = Arc::new(ctx.engines.open_engine(config, &name, engine_id).await?);
    TableProgress::add(&ctx.progress.engines.opened, 1);
    let mut tasks = JoinSet::new();
    for (idx, chunk) in engine.chunks.iter().enumerate() {
        if chunk.is_finished() {
            continue;
        }
        let file_meta = plan
            .source
            .data_files
            .iter()
            .find(|f| f.path == chunk.file)
            .with_context(|| {
                format!(
                    "data file {} is in the checkpoint but no longer in the source",
                    chunk.file.display()
                )
            })?;
        let source = ChunkSource {
            storage: ctx.options.source.clone(),
            file: chunk.file.clone(),
            etag: chunk.etag.clone(),
            name: Arc::from(chunk.file.display().to_string()),
            format: file_meta.format,
            compression: file_meta.compression,
        };
        let ctx = Arc::clone(ctx);
        let table = Arc::clone(&plan.table);
        let chunk = chunk.clone();
        let data_engine = Arc::clone(&data_engine);
        let index_engine = index_engine.map(Arc::clone);
        let name = name.clone();
        tasks.spawn(async move {
            let _permit = Arc::clone(&ctx.region_slots)
                .acquire_owned()
                .await
                .context("import cancelled")?;
            let progress = ctx.progress.table(&name);
            let publish = |cp: &ChunkCheckpoint, max_auto_id: i64| -> anyhow::Result<()> {
                publish_chunk(&ctx, &name, engine_id, idx, cp, max_auto_id)
            };
            process_chunk(
                &ctx,
                &table,
                source,
                chunk,
                &data_engine,
                index_engine.as_deref(),
                &progress,
                &publish,
            )
            .await
            .map(|outcome| (idx, outcome))
        });
    }
    let mut pending: Vec<(usize, PendingChunk)> = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((_, ChunkOutcome::Durable))) => {}
            Ok(Ok((idx, ChunkOutcome::Pending(p)))) => pending.push((idx, *p)),
            Ok(Err(err)) => {
                first_error.get_or_insert(err);
                tasks.abort_all();
            }
            Err(join) if join.is_cancelled() => {}
            Err(join) => {
                first_error.get_or_insert(anyhow::anyhow!("a chunk task panicked: {join}"));
                tasks.abort_all();
            }
        }
    }
    if let Some(err) = first_error {
        // Keep what is durable: flush, then record the chunks that finished.
        let index_flushed = match index_engine {
            Some(engine) => engine.flush().await.is_ok(),
            None => true,
        };
        if data_engine.flush().await.is_ok() && index_flushed {
            record_pending(ctx, &name, engine_id, pending)?;
        }
        return Err(err);
    }
    let data_engine = Arc::try_unwrap(data_engine)
        .map_err(|_| anyhow::anyhow!("data engine {engine_id} of {name} is still in use"))?;
    let closed = {
        // Not while the disk quota imports this engine early.
        let _gate = ctx.write_gate.read().await;
        data_engine.close().await?
    };
    failpoint::hit("after-engine-close");
    // The index engine stays open for the next data engine; flushing it makes
    // this engine's index entries durable before its chunks are recorded.
    if let Some(index_engine) = index_engine {
        index_engine.flush().await?;
    }
    record_pending(ctx, &name, engine_id, pending)?;
    set_engine_status(ctx, &name, engine_id, EngineStatus::Closed)?;
    Ok(closed)
}

/// Records the progress of chunks whose rows became durable.
fn record_pending(
    ctx: &ImportContext,
    name: &str,
    engine_id: i32,
    pending: Vec<(usize, PendingChunk)>,
) -> anyhow::Result<()> {
    for (idx, chunk) in pending {
        if chunk.flushed() {
            publish_chunk(
                ctx,
                name,
                engine_id,
                idx,
                &chunk.progress,
                chunk.max_auto_id,
            )?;
        } else {
            tracing::warn!(table = %name, engine_id, chunk = idx, "chunk not durable after flush; it will be redone on resume");
        }
    }
    // Also the progress publish_chunk held back (see update_progress).
    ctx.checkpoints.save()?;
    Ok(())
}

/// Saves one chunk's durable progress.
fn publish_chunk(
    ctx: &ImportContext,
    name: &str,
    engine_id: i32,
    idx: usize,
    progress: &ChunkCheckpoint,
    max_auto_id: i64,
) -> anyhow::Result<()> {
    ctx.checkpoints.update_table_progress(name, |table| {
        table.max_auto_id = table.max_auto_id.max(max_auto_id);
        if let Some(slot) = table
            .engines
            .get_mut(&engine_id)
            .and_then(|e| e.chunks.get_mut(idx))
        {
            *slot = progress.clone();
        }
    })?;
    Ok(())
}

/// Imports a closed engine, records it, and cleans it up.
async fn import_engine(
    ctx: &ImportContext,
    name: &str,
    engine_id: i32,
    closed: ClosedEngine,
) -> anyhow::Result<()> {
    failpoint::hit("before-engine-import");
    {
        // Not while the disk quota imports engines early.
        let _gate = ctx.write_gate.read().await;
        closed
            .import(ctx.options.region_split_size, ctx.options.region_split_keys)
            .await?;
    }
    failpoint::hit("after-engine-import");
    set_engine_status(ctx, name, engine_id, EngineStatus::Imported)?;
    // Cleaning up destroys what a checkpoint older than this one would
    // import again.
    ctx.checkpoints.sync()?;
    closed.cleanup().await?;
    Ok(())
}

fn set_status(ctx: &ImportContext, name: &str, status: TableStatus) -> anyhow::Result<()> {
    ctx.checkpoints.update_table(name, |table| {
        table.status = table.status.max(status);
    })?;
    Ok(())
}

fn set_engine_status(
    ctx: &ImportContext,
    name: &str,
    engine_id: i32,
    status: EngineStatus,
) -> anyhow::Result<()> {
    let counter = match status {
        EngineStatus::Loaded => None,
        EngineStatus::Closed => Some(&ctx.progress.engines.closed),
        EngineStatus::Imported => Some(&ctx.progress.engines.imported),
    };
    if let Some(counter) = counter {
        TableProgress::add(counter, 1);
    }
    ctx.checkpoints.update_table(name, |table| {
        if let Some(engine) = table.engines.get_mut(&engine_id) {
            engine.status = engine.status.max(status);
        }
    })?;
    Ok(())
}

/// Auto-increment rebase, checksum, deferred indexes and analyze, each
/// skipped when the checkpoint says it is done. Returns the checksum outcome in words.
async fn post_process(ctx: &Arc<ImportContext>, plan: &TablePlan) -> anyhow::Result<String> {
    let name = plan.table.unique_name();
    let progress = ctx.progress.table(&name);
    let cp = ctx
        .checkpoints
        .table(&name)
        .with_context(|| format!("checkpoint of {name} vanished"))?;
    failpoint::hit("before-post-process");
    if cp.status < TableStatus::AlteredAutoInc {
        progress.set_phase("rebasing auto-increment");
        let next = cp
            .max_auto_id
            .saturating_add(1)
            .max(plan.table.core.auto_increment_base);
        // Lightning's rule: an auto-increment column, or row ids this
        // import allocated itself (KV rows of a table without a clustered
        // key) that later inserts must not reuse. Other tables have no
        // allocator to move: nothing to send.
        let core = &plan.table.core;
        let own_row_ids = ctx.backend.capabilities().encoding == RowEncoding::Kv
            && !core.pk_is_handle
            && !core.is_common_handle;
        if core.auto_increment_column().is_some() || own_row_ids {
            ctx.target
                .rebase_auto_increment(&plan.table, next)
                .await
                .with_context(|| format!("rebasing the auto-increment of {name}"))?;
        }
        set_status(ctx, &name, TableStatus::AlteredAutoInc)?;
    }
    let mut checksum_words = "skipped".to_string();
    if cp.status < TableStatus::Checksummed {
        // Rows that lost a key conflict: their leftovers leave the target,
        // their pairs leave the local checksum (idempotent, so rerun on
        // resume).
        progress.set_phase("resolving duplicates");
        let resolved = ctx
            .backend
            .resolve_duplicates(&plan.table)
            .await
            .with_context(|| format!("resolving duplicate rows of {name}"))?;
        if ctx.options.checksum != PostOp::Off {
            progress.set_phase("checksum");
            checksum_words = compare_checksum(ctx, plan, &cp, &resolved).await?;
        }
        set_status(ctx, &name, TableStatus::Checksummed)?;
    } else {
        checksum_words = "done earlier".into();
    }
    if cp.status < TableStatus::IndexAdded {
        if !cp.deferred_indexes.is_empty() {
            progress.set_phase("adding indexes");
            failpoint::hit("before-add-index");
            let added = ctx
                .target
                .add_missing_indexes(&plan.table, &cp.deferred_indexes)
                .await
                .with_context(|| {
                    format!(
                        "adding the secondary indexes of {name} back (by hand: {})",
                        DeferredIndex::alter_sql(&name, &cp.deferred_indexes)
                    )
                })?;
            tracing::info!(table = %name, added, "secondary indexes added after the rows");
        }
        set_status(ctx, &name, TableStatus::IndexAdded)?;
    }
    if cp.status < TableStatus::Analyzed {
        if ctx.options.analyze != PostOp::Off {
            progress.set_phase("analyze");
            failpoint::hit("before-analyze");
            let analyzed = ctx.target.analyze(&plan.table).await;
            match (analyzed, ctx.options.analyze) {
                (Ok(()), _) => {}
                (Err(err), PostOp::Required) => {
                    return Err(anyhow::Error::from(err).context(format!("analyzing {name}")));
                }
                (Err(err), _) => {
                    tracing::warn!(table = %name, error = %format!("{err:#}"), "analyze failed (optional)")
                }
            }
        }
        set_status(ctx, &name, TableStatus::Analyzed)?;
    }
    Ok(checksum_words)
}

async fn compare_checksum(
    ctx: &ImportContext,
    plan: &TablePlan,
    cp: &TableCheckpoint,
    resolved: &KvChecksum,
) -> anyhow::Result<String> {
    let name = plan.table.unique_name();
    let mut local = cp.local_checksum();
    local.sub(resolved);
    let remote = ctx
        .target
        .checksum(&plan.table)
        .await
        .with_context(|| format!("checksumming {name} on the target"))?;
    failpoint::hit("mid-checksum");
    let (matched, words) = match remote {
        TargetChecksum::Kv(remote) => (
            remote == local,
            format!(
                "kv checksum {:#018x}, {} pairs, {} bytes (local {:#018x}, {} pairs, {} bytes{})",
                remote.checksum,
                remote.kvs,
                remote.bytes,
                local.checksum,
                local.kvs,
                local.bytes,
                if resolved.kvs > 0 {
                    format!(
                        ", after taking out {} pairs of losing duplicate rows",
                        resolved.kvs
                    )
                } else {
                    String::new()
                }
            ),
        ),
        TargetChecksum::Rows(rows) if rows < cp.rows() && !ctx.options.incremental => {
            // Rows the server merged by REPLACE / INSERT IGNORE are not lost
            // data; say so rather than fail.
            let words = format!(
                "{rows} rows on the target, {} rows sent (the difference was resolved as duplicate keys)",
                cp.rows()
            );
            tracing::warn!(table = %name, "{words}");
            (true, words)
        }
        TargetChecksum::Rows(rows) => (
            rows == cp.rows() || (ctx.options.incremental && rows >= cp.rows()),
            format!("{rows} rows on the target, {} rows sent", cp.rows()),
        ),
    };
    if matched {
        return Ok(format!("ok ({words})"));
    }
    let message = format!("checksum mismatch for {name}: {words}");
    if ctx.options.checksum == PostOp::Required {
        bail!("{message}");
    }
    tracing::warn!("{message}");
    Ok(format!("MISMATCH ({words})"))
}
