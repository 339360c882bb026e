//! The import pipeline: from a scanned data source to imported, checked
//! tables.
//!
//! [`prepare`] creates databases and tables on the target and plans each
//! table's chunks; [`run`] imports the tables, `table-concurrency` at a
//! time, with chunk workers bounded by `region-concurrency` across all of
//! them (see [`table`] and [`chunk`]). Everything that makes a rerun resume
//! instead of starting over is in the checkpoint.

mod chunk;
mod open_chunk;
pub mod progress;
pub mod quota;
pub mod report;
pub mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use backend_core::model::{TableInfo, TidbTableInfo};
use backend_core::{Backend, EngineManager, ImportTarget, LocalEngineConfig, SqlMode};
use tokio::sync::Semaphore;

use crate::checkpoint::CheckpointManager;
use dump_source::chunk::{Chunk, ChunkOptions, make_table_chunks};
use dump_source::csv::CsvOptions;
use dump_source::scan::{ScanResult, TableSource};
use dump_source::{ParserOptions, Storage, schema};
use progress::{Progress, SetupProgress};
pub use table::TableReport;

/// `off`, `optional` or `required`, as `[post-restore]` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PostOp {
    /// Skip the step.
    Off,
    /// Run it; a failure or mismatch is a warning.
    #[default]
    Optional,
    /// Run it; a failure or mismatch fails the table.
    Required,
}

/// Settings the pipeline runs with (resolved from the config).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The data source directory.
    pub source: Storage,
    /// Chunk workers across all tables.
    pub region_concurrency: usize,
    /// Tables imported at once.
    pub table_concurrency: usize,
    /// Bytes of source data per data engine.
    pub batch_size: u64,
    /// Region split size for imports.
    pub region_split_size: u64,
    /// Region split keys for imports.
    pub region_split_keys: u64,
    /// Bytes of encoded rows per hand-off from encoder to writer.
    pub deliver_bytes: usize,
    /// CSV dialect.
    pub csv: CsvOptions,
    /// Parser options.
    pub parser: ParserOptions,
    /// Chunking options.
    pub chunk: ChunkOptions,
    /// The character set of schema files (`mydumper.character-set`).
    pub schema_charset: schema::SchemaCharset,
    /// SQL data files use `NO_BACKSLASH_ESCAPES`.
    pub no_backslash_escapes: bool,
    /// How strictly values convert.
    pub sql_mode: SqlMode,
    /// Bad rows skipped before the import fails.
    pub max_error: u64,
    /// Post-import checksum.
    pub checksum: PostOp,
    /// Post-import analyze.
    pub analyze: PostOp,
    /// Allow importing into tables that already hold rows.
    pub incremental: bool,
    /// Drop plain secondary indexes before the rows and add them back after
    /// (`add-index-by-sql`; targets that build indexes with SQL only).
    pub add_index_by_sql: bool,
    /// Local-backend engine options.
    pub local_engine: LocalEngineConfig,
    /// Local backend: the `sorted-kv-dir` budget (`None` for backends
    /// without local engines).
    pub disk_quota: Option<quota::DiskQuota>,
}

/// One table, ready to import.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// The table on the target.
    pub table: Arc<TidbTableInfo>,
    /// Its source files.
    pub source: TableSource,
    /// Its chunks, in order.
    pub chunks: Vec<Chunk>,
    /// Hash of the schema the table was created from.
    pub schema_hash: u64,
}

/// Everything the pipeline's tasks share.
#[derive(Debug)]
pub struct ImportContext {
    /// Settings.
    pub options: ImportOptions,
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// Engines of the backend.
    pub engines: EngineManager,
    /// Schema and post-process operations.
    pub target: Arc<dyn ImportTarget>,
    /// Progress saved for resuming.
    pub checkpoints: CheckpointManager,
    /// Live counters.
    pub progress: Arc<Progress>,
    /// Permits for chunk workers (`region-concurrency`).
    pub region_slots: Arc<Semaphore>,
    /// Held shared while writing into or importing an engine, exclusively
    /// while the disk quota imports engines early ([`quota`]).
    pub write_gate: tokio::sync::RwLock<()>,
    /// Bad rows skipped so far, across tables.
    pub error_count: AtomicU64,
    /// The session time for `CURRENT_TIMESTAMP` defaults of new chunks.
    pub session_timestamp: i64,
    /// (table, warning) pairs already logged ([`ImportContext::warn_once`]).
    warned: std::sync::Mutex<std::collections::HashSet<(String, &'static str)>>,
}

impl ImportContext {
    /// Builds the shared context for importing `tables` (unique names; a
    /// table's byte total is counted when its plan reaches [`run_stream`]).
    pub fn new(
        options: ImportOptions,
        backend: Arc<dyn Backend>,
        target: Arc<dyn ImportTarget>,
        checkpoints: CheckpointManager,
        tables: impl IntoIterator<Item = String>,
    ) -> Self {
        let session_timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let progress = Progress::new(tables);
        ImportContext {
            region_slots: Arc::new(Semaphore::new(options.region_concurrency.max(1))),
            write_gate: tokio::sync::RwLock::new(()),
            options,
            engines: EngineManager::new(Arc::clone(&backend)),
            backend,
            target,
            checkpoints,
            progress: Arc::new(progress),
            error_count: AtomicU64::new(0),
            session_timestamp,
            warned: std::sync::Mutex::default(),
        }
    }

    /// True the first time it is asked about `warning` for `table`: a
    /// warning about a table's data is logged once, not once per chunk.
    pub fn warn_once(&self, table: &str, warning: &'static str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((table.to_string(), warning))
    }
}

impl ImportContext {
    /// Stops handing out chunks: workers waiting for a slot give up, chunks
    /// in flight stop at their next row, and what is durable stays
    /// recorded. Tables stopped this way are not marked failed.
    pub fn cancel(&self) {
        self.region_slots.close();
    }

    /// Whether [`ImportContext::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.region_slots.is_closed()
    }
}

/// Tables created per call to the target: the first tables import while
/// the next are created, and each call reads back only its own tables.
const CREATE_BATCH: usize = 100;

/// [`prepare_each`], collecting the plans.
pub async fn prepare(
    scan: &ScanResult,
    target: &dyn ImportTarget,
    options: &ImportOptions,
    checkpoints: &CheckpointManager,
    setup: &SetupProgress,
) -> anyhow::Result<Vec<TablePlan>> {
    let mut plans = Vec::new();
    prepare_each(scan, target, options, checkpoints, setup, &mut |plan| {
        plans.push(plan)
    })
    .await?;
    Ok(plans)
}

/// Creates every database and table of the scan on the target and plans
/// each table's chunks, handing each plan to `each` as soon as its table
/// exists (tables are created [`CREATE_BATCH`] at a time), so an import
/// can start while the rest are created. Tables that hold rows already are
/// refused unless `incremental` (or their checkpoint shows this task wrote
/// them). Returns the number of tables planned.
///
/// `setup` counts schemas created and tables planned as it goes; the step
/// and totals are logged, so a long set-up is never silent.
pub async fn prepare_each(
    scan: &ScanResult,
    target: &dyn ImportTarget,
    options: &ImportOptions,
    checkpoints: &CheckpointManager,
    setup: &SetupProgress,
    each: &mut (dyn FnMut(TablePlan) + Send),
) -> anyhow::Result<usize> {
    let storage = &scan.storage;
    let charset = options.schema_charset;
    let (mut planned, mut chunks) = (0usize, 0usize);
    let total: usize = scan.databases.iter().map(|db| db.tables.len()).sum();
    setup.tables_total.store(total as u64, Ordering::Relaxed);
    tracing::info!(
        databases = scan.databases.len(),
        tables = total,
        target = %target.describe(),
        "creating schemas"
    );
    let started = std::time::Instant::now();
    for db in &scan.databases {
        setup.set_step("creating schemas");
        let db_sql = match &db.schema_file {
            Some(file) => {
                let parsed = schema::parse_database_file(
                    storage.file(file, None),
                    &file.display().to_string(),
                    charset,
                )?;
                // A routed database is created under its target name, with
                // the options of the dump's statement.
                if parsed.name.eq_ignore_ascii_case(&db.name) {
                    Some(parsed.create_sql)
                } else {
                    ["DATABASE", "SCHEMA"]
                        .iter()
                        .map(|kw| rename_created(&parsed.create_sql, kw, &db.name))
                        .find(|sql| *sql != parsed.create_sql)
                }
            }
            None => None,
        };
        target
            .create_database(&db.name, db_sql.as_deref())
            .await
            .with_context(|| format!("creating database `{}` on {}", db.name, target.describe()))?;
        // Every schema file of the database first, then one call creates
        // them all: a target may read its tables back once per database.
        let mut defined = Vec::new();
        for (i, source) in db.tables.iter().enumerate() {
            let Some(file) = &source.schema_file else {
                continue;
            };
            let display = file.display().to_string();
            let definition =
                schema::read_table_definition(storage.file(file, None), &display, charset)?;
            // A server that runs the statement itself judges what it
            // means; the model is read back from it.
            let mut info = if target.runs_create_statements() {
                definition.into_model_or_statement()
            } else {
                definition.into_model()?
            };
            // Routes may rename the table; the dump's name is not the target's.
            if info.name != source.name {
                info.create_sql = info
                    .create_sql
                    .as_deref()
                    .map(|sql| rename_created(sql, "TABLE", &source.name));
                info.name = source.name.clone();
            }
            defined.push((i, info, display));
        }
        // Tables this task creates are empty: only those there before
        // need a look for rows.
        let names: Vec<String> = db.tables.iter().map(|t| t.name.clone()).collect();
        let existed = target
            .existing_tables(&db.name, &names)
            .await
            .with_context(|| {
                format!(
                    "listing the tables of `{}` on {}",
                    db.name,
                    target.describe()
                )
            })?;
        let creating = std::time::Instant::now();
        let mut defined = defined.into_iter().peekable();
        for batch_start in (0..db.tables.len()).step_by(CREATE_BATCH) {
            let batch_end = (batch_start + CREATE_BATCH).min(db.tables.len());
            let mut batch = Vec::new();
            while let Some((i, _, _)) = defined.peek()
                && *i < batch_end
            {
                batch.extend(defined.next());
            }
            let mut created = create_batch(target, &db.name, &batch).await?;
            setup
                .tables_created
                .fetch_add((batch_end - batch_start) as u64, Ordering::Relaxed);
            for (i, source) in db
                .tables
                .iter()
                .enumerate()
                .take(batch_end)
                .skip(batch_start)
            {
                let created = created.remove(&i);
                let existed_before = existed.get(i).copied().unwrap_or(true);
                let plan = plan_table(
                    storage,
                    &db.name,
                    source,
                    created,
                    existed_before,
                    target,
                    options,
                    checkpoints,
                )
                .await?;
                planned += 1;
                chunks += plan.chunks.len();
                setup.tables_planned.fetch_add(1, Ordering::Relaxed);
                each(plan);
            }
        }
        tracing::info!(
            database = %db.name,
            tables = db.tables.len(),
            seconds = format_args!("{:.1}", creating.elapsed().as_secs_f64()),
            "tables created"
        );
    }
    setup.set_step("schemas created");
    tracing::info!(
        tables = planned,
        chunks,
        seconds = format_args!("{:.1}", started.elapsed().as_secs_f64()),
        "schemas created and tables planned"
    );
    Ok(planned)
}

/// Creates the tables of one batch (`(index in the database, model, schema
/// file)`), by index.
async fn create_batch(
    target: &dyn ImportTarget,
    db: &str,
    batch: &[(usize, TableInfo, String)],
) -> anyhow::Result<HashMap<usize, TidbTableInfo>> {
    if batch.is_empty() {
        return Ok(HashMap::new());
    }
    let infos: Vec<TableInfo> = batch.iter().map(|(_, info, _)| info.clone()).collect();
    let created = match target.create_tables(db, &infos).await {
        Ok(created) => created,
        // Creating is idempotent: again one by one, for an error that
        // names the table and its schema file.
        Err(_) => {
            let mut created = Vec::with_capacity(batch.len());
            for (_, info, display) in batch {
                created.push(target.create_table(db, info).await.with_context(|| {
                    format!("creating table `{db}`.`{}` from {display}", info.name)
                })?);
            }
            created
        }
    };
    Ok(batch.iter().map(|(i, _, _)| *i).zip(created).collect())
}

/// Plans one table: `created` is the table as this set-up created it, or
/// `None` for a table without a schema file, which must exist already.
/// Refuses a table that held rows before (`existed_before`) unless the
/// import is incremental or resumed.
#[allow(clippy::too_many_arguments)]
async fn plan_table(
    storage: &Storage,
    db: &str,
    source: &TableSource,
    created: Option<TidbTableInfo>,
    existed_before: bool,
    target: &dyn ImportTarget,
    options: &ImportOptions,
    checkpoints: &CheckpointManager,
) -> anyhow::Result<TablePlan> {
    let table = match created {
        Some(table) => table,
        None => target
            .existing_table(db, &source.name)
            .await?
            .with_context(|| {
                format!(
                    "{}: table `{db}`.`{}` has data files but no schema file \
                     (expected {db}.{}-schema.sql) and does not exist on the target",
                    source
                        .data_files
                        .first()
                        .map(|f| f.path.display().to_string())
                        .unwrap_or_default(),
                    source.name,
                    source.name
                )
            })?,
    };
    let name = table.unique_name();
    let resumed = checkpoints.table(&name).is_some();
    if !options.incremental && !resumed && existed_before && !target.is_table_empty(&table).await? {
        anyhow::bail!(
            "table {name} on {} already holds rows; empty it, or set \
             [tikv-importer] incremental-import = true to add to it",
            target.describe()
        );
    }
    let columns = table.core.loadable_columns().count();
    let chunks = make_table_chunks(storage, source, columns, &options.chunk)?;
    let schema_hash = schema_hash(&table);
    Ok(TablePlan {
        table: Arc::new(table),
        source: source.clone(),
        chunks,
        schema_hash,
    })
}

/// Creates every view of the scan, after all tables (a view may select
/// from any of them), as Lightning does.
pub async fn create_views(
    scan: &ScanResult,
    target: &dyn ImportTarget,
    options: &ImportOptions,
) -> anyhow::Result<()> {
    for db in &scan.databases {
        for view in &db.views {
            let display = view.schema_file.display().to_string();
            let parsed = schema::parse_view_file(
                scan.storage.file(&view.schema_file, None),
                &display,
                options.schema_charset,
            )?;
            let sql = if parsed.name == view.name {
                parsed.create_sql
            } else {
                rename_created(&parsed.create_sql, "VIEW", &view.name)
            };
            target
                .create_view(&db.name, &view.name, &sql)
                .await
                .with_context(|| {
                    format!(
                        "creating view `{}`.`{}` from {display} on {}",
                        db.name,
                        view.name,
                        target.describe()
                    )
                })?;
        }
    }
    Ok(())
}

/// Rewrites the name of a `CREATE DATABASE`/`TABLE`/`VIEW` statement
/// (routes): the name after `keyword` (and `IF NOT EXISTS`), quoted or bare,
/// qualified or not, becomes `new` (unqualified: the statement runs in the
/// target database). A statement where no name follows `keyword` is
/// returned as it is.
fn rename_created(sql: &str, keyword: &str, new: &str) -> String {
    const NAME: &str = r"(?:`(?:[^`]|``)*`|[^\s(.`;]+)";
    let pattern = format!(
        r"(?is)^(\s*CREATE\b.*?\b{keyword}\s+(?:IF\s+NOT\s+EXISTS\s+)?){NAME}(?:\s*\.\s*{NAME})?"
    );
    let Ok(re) = regex::Regex::new(&pattern) else {
        return sql.to_string();
    };
    let quoted_new = backend_core::model::quote_identifier(new);
    re.replacen(sql, 1, |caps: &regex::Captures<'_>| {
        format!("{}{quoted_new}", &caps[1])
    })
    .into_owned()
}

/// A stable hash of the table definition (FNV-1a over its JSON form), to
/// notice a schema that changed between runs.
fn schema_hash(table: &TidbTableInfo) -> u64 {
    let text = serde_json::to_string(&table.core).unwrap_or_default();
    crate::checkpoint::stable_hash(text.as_bytes())
}

/// The outcome of an import: one report per table.
#[derive(Debug)]
pub struct ImportOutcome {
    /// Per-table results, sorted by name.
    pub reports: Vec<TableReport>,
    /// The printed summary.
    pub summary: String,
}

impl ImportOutcome {
    /// Whether every table succeeded.
    pub fn succeeded(&self) -> bool {
        self.reports.iter().all(|r| r.error.is_none())
    }
}

/// Imports every planned table and returns one report per table.
pub async fn run(ctx: Arc<ImportContext>, plans: Vec<TablePlan>) -> Vec<TableReport> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    for plan in plans {
        // The receiver is alive: it is in scope.
        let _ = sender.send(plan);
    }
    drop(sender);
    run_stream(ctx, receiver).await
}

/// Imports each table whose plan arrives on `plans`, as it arrives, until
/// the sender is dropped; returns one report per table.
pub async fn run_stream(
    ctx: Arc<ImportContext>,
    plans: tokio::sync::mpsc::UnboundedReceiver<TablePlan>,
) -> Vec<TableReport> {
    let quota_task = ctx
        .options
        .disk_quota
        .clone()
        .map(|q| tokio::spawn(quota::enforce(Arc::clone(&ctx), q)));
    let mut reports = run_tables(&ctx, plans).await;
    if let Some(task) = quota_task {
        task.abort();
    }
    // What the tables saved last is durable before the run reports.
    if let Err(err) = ctx.checkpoints.sync() {
        reports.push(TableReport {
            name: "(checkpoint)".into(),
            rows: 0,
            checksum: "-".into(),
            error: Some(format!("{err}; rerun the same command to resume")),
        });
    }
    reports
}

async fn run_tables(
    ctx: &Arc<ImportContext>,
    mut plans: tokio::sync::mpsc::UnboundedReceiver<TablePlan>,
) -> Vec<TableReport> {
    let table_slots = Arc::new(Semaphore::new(ctx.options.table_concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(plan) = plans.recv().await {
        progress::TableProgress::store(
            &ctx.progress.table(&plan.table.unique_name()).bytes_total,
            plan.chunks.iter().map(|c| c.end_offset - c.offset).sum(),
        );
        let ctx = Arc::clone(ctx);
        let slots = Arc::clone(&table_slots);
        tasks.spawn(async move {
            let _permit = slots.acquire_owned().await;
            if ctx.is_cancelled() {
                return TableReport {
                    name: plan.table.unique_name(),
                    rows: 0,
                    checksum: "-".into(),
                    error: Some("interrupted before it started".into()),
                };
            }
            table::import_table(ctx, plan).await
        });
    }
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(err) => reports.push(TableReport {
                name: "?".into(),
                rows: 0,
                checksum: "-".into(),
                error: Some(format!("a table task panicked: {err}")),
            }),
        }
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_rename_create_table() {
        assert_eq!(
            rename_created("CREATE TABLE `t1` (`t1` int)", "TABLE", "all"),
            "CREATE TABLE `all` (`t1` int)"
        );
        assert_eq!(
            rename_created("create table IF NOT EXISTS t1 (a int)", "TABLE", "x`y"),
            "create table IF NOT EXISTS `x``y` (a int)"
        );
        assert_eq!(
            rename_created("CREATE TABLE `src`.`t` (a int)", "TABLE", "t2"),
            "CREATE TABLE `t2` (a int)"
        );
        assert_eq!(
            rename_created(
                "CREATE DATABASE IF NOT EXISTS s /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
                "DATABASE",
                "d"
            ),
            "CREATE DATABASE IF NOT EXISTS `d` /*!40100 DEFAULT CHARACTER SET utf8mb4 */"
        );
        assert_eq!(
            rename_created("CREATE SCHEMA s", "DATABASE", "d"),
            "CREATE SCHEMA s"
        );
    }
}
