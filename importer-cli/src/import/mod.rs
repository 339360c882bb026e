//! The import pipeline: from a scanned data source to imported, checked
//! tables.
//!
//! [`prepare`] creates databases and tables on the target and plans each
//! table's chunks; [`run`] imports the tables, `table-concurrency` at a
//! time, with chunk workers bounded by `region-concurrency` across all of
//! them (see [`table`] and [`chunk`]). Everything that makes a rerun resume
//! instead of starting over is in the checkpoint.

mod chunk;
pub mod progress;
pub mod quota;
pub mod report;
pub mod table;

use std::collections::HashMap;
use std::path::PathBuf;
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
use dump_source::{ParserOptions, schema};
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
    pub source_root: PathBuf,
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
    /// Builds the shared context.
    pub fn new(
        options: ImportOptions,
        backend: Arc<dyn Backend>,
        target: Arc<dyn ImportTarget>,
        checkpoints: CheckpointManager,
        plans: &[TablePlan],
    ) -> Self {
        let session_timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let progress = Progress::new(plans.iter().map(|p| p.table.unique_name()));
        for plan in plans {
            let p = progress.table(&plan.table.unique_name());
            progress::TableProgress::store(
                &p.bytes_total,
                plan.chunks.iter().map(|c| c.end_offset - c.offset).sum(),
            );
        }
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

/// Creates every database and table of the scan on the target and plans
/// each table's chunks. Tables that hold rows already are refused unless
/// `incremental` (or their checkpoint shows this task wrote them).
///
/// `setup` counts schemas created and tables planned as it goes; the step
/// and totals are logged, so a long set-up is never silent.
pub async fn prepare(
    scan: &ScanResult,
    target: &dyn ImportTarget,
    options: &ImportOptions,
    checkpoints: &CheckpointManager,
    setup: &SetupProgress,
) -> anyhow::Result<Vec<TablePlan>> {
    let root = &scan.root;
    let charset = options.schema_charset;
    let mut plans = Vec::new();
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
                    &root.join(file),
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
            let definition = schema::read_table_definition(&root.join(file), &display, charset)?;
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
        let infos: Vec<TableInfo> = defined.iter().map(|(_, info, _)| info.clone()).collect();
        let creating = std::time::Instant::now();
        let created = match target.create_tables(&db.name, &infos).await {
            Ok(created) => created,
            // Creating is idempotent: again one by one, for an error that
            // names the table and its schema file.
            Err(_) => {
                let mut created = Vec::with_capacity(defined.len());
                for (_, info, display) in &defined {
                    created.push(target.create_table(&db.name, info).await.with_context(|| {
                        format!(
                            "creating table `{}`.`{}` from {display}",
                            db.name, info.name
                        )
                    })?);
                }
                created
            }
        };
        let mut created: HashMap<usize, TidbTableInfo> =
            defined.iter().map(|(i, _, _)| *i).zip(created).collect();
        tracing::info!(
            database = %db.name,
            tables = defined.len(),
            seconds = format_args!("{:.1}", creating.elapsed().as_secs_f64()),
            "tables created"
        );
        setup
            .tables_created
            .fetch_add(db.tables.len() as u64, Ordering::Relaxed);
        setup.set_step("checking and planning tables");
        for (i, source) in db.tables.iter().enumerate() {
            let table = match created.remove(&i) {
                Some(table) => table,
                None => target
                    .existing_table(&db.name, &source.name)
                    .await?
                    .with_context(|| {
                        format!(
                            "{}: table `{}`.`{}` has data files but no schema file \
                             (expected {}.{}-schema.sql) and does not exist on the target",
                            source
                                .data_files
                                .first()
                                .map(|f| f.path.display().to_string())
                                .unwrap_or_default(),
                            db.name,
                            source.name,
                            db.name,
                            source.name
                        )
                    })?,
            };
            let name = table.unique_name();
            let resumed = checkpoints.table(&name).is_some();
            let existed_before = existed.get(i).copied().unwrap_or(true);
            if !options.incremental
                && !resumed
                && existed_before
                && !target.is_table_empty(&table).await?
            {
                anyhow::bail!(
                    "table {name} on {} already holds rows; empty it, or set \
                     [tikv-importer] incremental-import = true to add to it",
                    target.describe()
                );
            }
            let columns = table.core.loadable_columns().count();
            let chunks = make_table_chunks(root, source, columns, &options.chunk)?;
            let schema_hash = schema_hash(&table);
            plans.push(TablePlan {
                table: Arc::new(table),
                source: source.clone(),
                chunks,
                schema_hash,
            });
            setup.tables_planned.fetch_add(1, Ordering::Relaxed);
        }
    }
    setup.set_step("starting the import");
    tracing::info!(
        tables = plans.len(),
        chunks = plans.iter().map(|p| p.chunks.len()).sum::<usize>(),
        seconds = format_args!("{:.1}", started.elapsed().as_secs_f64()),
        "schemas created and tables planned"
    );
    Ok(plans)
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
                &scan.root.join(&view.schema_file),
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

async fn run_tables(ctx: &Arc<ImportContext>, plans: Vec<TablePlan>) -> Vec<TableReport> {
    let table_slots = Arc::new(Semaphore::new(ctx.options.table_concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for plan in plans {
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
