//! The commands behind the binary: turning a validated [`Config`] into the
//! pipeline's settings, opening the chosen backend and target, and running
//! an import, the store reader or the checkpoint tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use backend_core::{Backend, ImportTarget, LocalEngineConfig, SqlMode};
use backend_local::kv_encoder::KvEncodingBuilder;
use backend_local::{LocalBackend, LocalBackendConfig, OnDuplicate};
use backend_tidb::{OnDuplicate as TidbOnDuplicate, TidbBackend, TidbBackendConfig, TlsMode};

use crate::checkpoint::commands::{self as cp_commands, TableSelector};
use crate::checkpoint::file::create_private_dir;
use crate::checkpoint::{
    CheckpointManager, CheckpointStore, FileCheckpointStore, MysqlCheckpointStore, MysqlLocation,
    TaskCheckpoint,
};
use crate::config::{self, Config, ConflictStrategy, KeepAfterSuccess, PostOpLevel};
use crate::failpoint;
use crate::import::report::{
    ProgressSource, Reporter, read_retries_line, scan_warnings_line, summary,
};
use crate::import::{self, ImportContext, ImportOptions, PostOp};
use crate::interrupt::{Interrupt, Interrupted};
use crate::status::{StatusServer, TaskStatus};
use dump_source::chunk::ChunkOptions;
use dump_source::csv::CsvOptions;
use dump_source::filter::TableFilter;
use dump_source::route::RouteRule;
use dump_source::scan::{self, FileRule, ScanOptions, ScanResult};
use dump_source::schema::SchemaCharset;
use dump_source::{DataCharset, ParserOptions, Storage};

/// What the import commands return; the pipeline owns it.
pub use crate::import::ImportOutcome;

/// The data source of the config: a local directory or an object store.
/// Warnings about URL parameters that have no effect are logged.
pub fn source_storage(cfg: &Config) -> anyhow::Result<Storage> {
    let (storage, warnings) = Storage::open(&cfg.mydumper.data_source_dir)?;
    if storage.local_root().is_none() {
        let scrubber = storage.clone();
        crate::redaction::set_secret_scrubber(move |text| scrubber.scrub(text));
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(storage)
}

/// Scan options from `[mydumper]`, `[[routes]]` and the filter.
pub fn scan_options(cfg: &Config) -> anyhow::Result<ScanOptions> {
    let md = &cfg.mydumper;
    let bw = &cfg.black_white_list;
    let filter = if bw.is_set() {
        // Lightning's deprecated `[black-white-list]` replaces the filter
        // (the config check refuses the two together).
        let pairs = |tables: &[config::BwTable]| -> Vec<(String, String)> {
            tables
                .iter()
                .map(|t| (t.db_name.clone(), t.tbl_name.clone()))
                .collect()
        };
        TableFilter::from_replication_rules(
            &bw.do_dbs,
            &bw.ignore_dbs,
            &pairs(&bw.do_tables),
            &pairs(&bw.ignore_tables),
            md.case_sensitive,
        )?
    } else {
        TableFilter::parse(&md.filter, md.case_sensitive)?
    };
    let file_rules = md
        .files
        .iter()
        .map(|r| FileRule {
            pattern: r.pattern.clone(),
            schema: r.schema.clone(),
            table: r.table.clone(),
            file_type: r.type_.clone(),
            key: r.key.clone(),
            compression: r.compression.clone(),
        })
        .collect();
    let routes = cfg
        .routes
        .iter()
        .map(|r| RouteRule {
            schema_pattern: r.schema_pattern.clone(),
            table_pattern: r.table_pattern.clone(),
            target_schema: r.target_schema.clone(),
            target_table: r.target_table.clone(),
        })
        .collect();
    Ok(ScanOptions {
        file_rules,
        default_file_rules: md.default_file_rules.unwrap_or(md.files.is_empty()),
        filter,
        routes,
        case_sensitive: md.case_sensitive,
        no_schema: md.no_schema,
    })
}

fn csv_options(cfg: &Config) -> CsvOptions {
    let c = &cfg.mydumper.csv;
    CsvOptions {
        separator: c.separator.clone(),
        delimiter: c.delimiter.clone(),
        terminator: c.terminator.clone(),
        null: c.null.clone(),
        not_null: c.not_null,
        header: c.header,
        header_schema_match: c.header_schema_match,
        backslash_escape: c.backslash_escape,
        escaped_by: c.effective_escaped_by(),
        trim_last_separator: c.trim_last_separator,
        ..CsvOptions::default()
    }
}

fn data_charset(cfg: &Config) -> DataCharset {
    match cfg.mydumper.data_character_set {
        config::DataCharset::Binary => DataCharset::Binary,
        config::DataCharset::Gb18030 => DataCharset::Gb18030,
        config::DataCharset::Gbk => DataCharset::Gbk,
        config::DataCharset::Latin1 => DataCharset::Latin1,
        // ASCII is a subset of UTF-8.
        _ => DataCharset::Utf8mb4,
    }
}

fn schema_charset(cfg: &Config) -> SchemaCharset {
    match cfg.mydumper.character_set {
        config::SchemaCharset::Auto => SchemaCharset::Auto,
        config::SchemaCharset::Utf8mb4 => SchemaCharset::Utf8mb4,
        config::SchemaCharset::Gb18030 => SchemaCharset::Gb18030,
        config::SchemaCharset::Gbk => SchemaCharset::Gbk,
        config::SchemaCharset::Latin1 => SchemaCharset::Latin1,
        config::SchemaCharset::Binary => SchemaCharset::Binary,
    }
}

fn post_op(level: PostOpLevel) -> PostOp {
    match level {
        PostOpLevel::Off => PostOp::Off,
        PostOpLevel::Optional => PostOp::Optional,
        PostOpLevel::Required => PostOp::Required,
    }
}

fn to_usize(n: u64, key: &str) -> anyhow::Result<usize> {
    usize::try_from(n).with_context(|| format!("{key} = {n} is too large for this machine"))
}

/// The pipeline's settings from the config.
pub fn import_options(cfg: &Config, source: &Storage) -> anyhow::Result<ImportOptions> {
    let sql_mode = SqlMode::parse(&cfg.tidb.sql_mode)
        .with_context(|| format!("tidb.sql-mode = {:?}", cfg.tidb.sql_mode))?;
    let csv = csv_options(cfg);
    let charset = data_charset(cfg);
    let local = cfg.tikv_importer.backend == config::Backend::Local;
    let deliver_bytes = if local {
        1 << 20
    } else {
        to_usize(
            cfg.tikv_importer.logical_import_batch_size.0,
            "tikv-importer.logical-import-batch-size",
        )?
    };
    Ok(ImportOptions {
        source: source.clone(),
        region_concurrency: cfg.lightning.region_concurrency.max(1),
        table_concurrency: cfg.lightning.table_concurrency.max(1),
        batch_size: cfg.mydumper.batch_size.0.max(1),
        region_split_size: cfg.tikv_importer.region_split_size.0,
        region_split_keys: cfg.tikv_importer.region_split_keys,
        deliver_bytes,
        parser: ParserOptions {
            charset,
            read_block_size: to_usize(cfg.mydumper.read_block_size.0, "mydumper.read-block-size")?
                .max(4096),
            invalid_char_replace: Some(cfg.mydumper.data_invalid_char_replace.clone()),
            ..ParserOptions::default()
        },
        chunk: ChunkOptions {
            strict_format: cfg.mydumper.strict_format,
            max_region_size: cfg.mydumper.max_region_size.0,
            csv: csv.clone(),
            charset,
            no_backslash_escapes: sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES),
        },
        csv,
        schema_charset: schema_charset(cfg),
        no_backslash_escapes: sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES),
        sql_mode,
        max_error: cfg.lightning.max_error.type_,
        checksum: post_op(cfg.post_restore.checksum),
        analyze: post_op(cfg.post_restore.analyze),
        incremental: cfg.tikv_importer.incremental_import,
        add_index_by_sql: cfg.tikv_importer.add_index_by_sql,
        local_engine: LocalEngineConfig::default(),
        disk_quota: local.then(|| crate::import::quota::DiskQuota {
            bytes: cfg.tikv_importer.disk_quota.0,
            interval: cfg.cron.check_disk_quota.0,
            dir: cfg.tikv_importer.sorted_kv_dir.clone(),
        }),
    })
}

/// The effective conflict strategy (`[conflict] strategy`, or the older
/// `tikv-importer` keys).
fn conflict_strategy(cfg: &Config) -> ConflictStrategy {
    [
        cfg.conflict.strategy,
        cfg.tikv_importer.duplicate_resolution,
        cfg.tikv_importer.on_duplicate,
    ]
    .into_iter()
    .find(|s| *s != ConflictStrategy::None)
    .unwrap_or(ConflictStrategy::None)
}

/// The backend and target of the config.
#[derive(Debug)]
pub struct Opened {
    /// The backend rows go through.
    pub backend: Arc<dyn Backend>,
    /// Schema and post-process operations.
    pub target: Arc<dyn ImportTarget>,
    /// Requirements and remote models.
    pub target_info: Arc<dyn backend_core::TargetInfoGetter>,
    /// What identifies the target in the checkpoint.
    pub target_id: String,
    /// The local backend's target store (`post-restore.compact`).
    pub local_store: Option<Arc<backend_local::TargetStore>>,
    /// `tidb.password` decoded from base64, when the server accepted only
    /// that (as Lightning); later connections use it.
    pub decoded_password: Option<String>,
}

/// Opens the local backend and its store.
fn open_local(cfg: &Config) -> anyhow::Result<Opened> {
    // Sorted KV pairs are the table data in the clear: owner-only, made
    // before the backend creates it with the default mode.
    owner_only_dir(&cfg.tikv_importer.sorted_kv_dir)?;
    let mut config = LocalBackendConfig::new(&cfg.tikv_importer.sorted_kv_dir, &cfg.store.path);
    config.local_writer_mem_cache_size = cfg.tikv_importer.local_writer_mem_cache_size.0;
    config.range_concurrency = cfg.tikv_importer.range_concurrency.max(1);
    // Without a strategy, duplicates are an error: silently keeping one of
    // two different rows would lose data.
    config.on_duplicate = match conflict_strategy(cfg) {
        ConflictStrategy::Replace => OnDuplicate::Replace,
        ConflictStrategy::Ignore => OnDuplicate::Ignore,
        ConflictStrategy::Error | ConflictStrategy::None => OnDuplicate::Error,
    };
    // Engines hold table data: owner-only, like the checkpoint.
    let kv_dir = &cfg.tikv_importer.sorted_kv_dir;
    if !kv_dir.as_os_str().is_empty() {
        create_private_dir(kv_dir)
            .with_context(|| format!("creating sorted-kv-dir {}", kv_dir.display()))?;
    }
    let opening = || {
        format!(
            "opening the local target store {}",
            cfg.store.path.display()
        )
    };
    let backend = if failpoint::is_armed("mid-import") {
        let store = backend_local::TargetStore::open(&cfg.store.path).with_context(opening)?;
        let target = Arc::new(failpoint::IngestFailpoint {
            inner: Arc::clone(&store),
        });
        LocalBackend::with_store(config, Arc::new(KvEncodingBuilder), store, target)
            .with_context(opening)?
    } else {
        LocalBackend::new(config, Arc::new(KvEncodingBuilder)).with_context(opening)?
    };
    let store = backend
        .target_store()
        .cloned()
        .context("the local backend has no target store")?;
    let target = backend_local::LocalTarget::new(Arc::clone(&store))?;
    Ok(Opened {
        backend: Arc::new(backend),
        target: Arc::new(target),
        target_info: Arc::new(backend_local::LocalTargetInfo::new(
            Arc::clone(&store),
            cfg.store.path.clone(),
        )),
        target_id: absolute(&cfg.store.path).display().to_string(),
        local_store: Some(store),
        decoded_password: None,
    })
}

/// Connects the tidb backend to the server of `[tidb]`.
async fn open_tidb(cfg: &Config) -> anyhow::Result<Opened> {
    let t = &cfg.tidb;
    let security = t.security.as_ref().unwrap_or(&cfg.security);
    let path = |p: &str| (!p.is_empty()).then(|| PathBuf::from(p));
    let on_duplicate = match conflict_strategy(cfg) {
        // Lightning's tidb backend replaces by default.
        ConflictStrategy::Replace | ConflictStrategy::None => TidbOnDuplicate::Replace,
        ConflictStrategy::Ignore => TidbOnDuplicate::Ignore,
        ConflictStrategy::Error => TidbOnDuplicate::Error,
    };
    let config = TidbBackendConfig {
        host: t.host.clone(),
        port: t.port,
        user: t.user.clone(),
        password: t.password.clone(),
        sql_mode: t.sql_mode.clone(),
        session_vars: t.session_vars.clone(),
        tls: TlsMode::parse(&t.tls.to_string())?,
        ca_path: path(&security.ca_path),
        cert_path: path(&security.cert_path),
        key_path: path(&security.key_path),
        on_duplicate,
        batch_size: to_usize(
            cfg.tikv_importer.logical_import_batch_size.0,
            "tikv-importer.logical-import-batch-size",
        )?,
        batch_rows: to_usize(
            cfg.tikv_importer.logical_import_batch_rows,
            "tikv-importer.logical-import-batch-rows",
        )?,
        max_error_type: cfg.lightning.max_error.type_,
        conflict_threshold: cfg.conflict.threshold,
        task_info_schema: (!cfg.lightning.task_info_schema_name.is_empty())
            .then(|| cfg.lightning.task_info_schema_name.clone()),
        region_concurrency: u32::try_from(cfg.lightning.region_concurrency.max(1))
            .unwrap_or(u32::MAX),
        max_allowed_packet: t.max_allowed_packet.bytes(),
        ..TidbBackendConfig::default()
    };
    let (backend, decoded_password) = connect_tidb(config)
        .await
        .with_context(|| format!("connecting to {}:{}", t.host, t.port))?;
    let backend = Arc::new(backend);
    Ok(Opened {
        target: Arc::clone(&backend) as Arc<dyn ImportTarget>,
        target_info: Arc::new(backend.target_info_getter()),
        backend,
        target_id: format!("{}:{}", t.host, t.port),
        local_store: None,
        decoded_password,
    })
}

/// Connects with `tidb.password` as written; when the server denies access
/// (1045) and the password is valid base64 of something else, tries that
/// too, as Lightning does. Returns the decoded password when it was the one
/// accepted.
async fn connect_tidb(
    config: TidbBackendConfig,
) -> Result<(TidbBackend, Option<String>), backend_core::Error> {
    let decoded = decode_base64_password(&config.password);
    let first = match TidbBackend::connect(config.clone()).await {
        Ok(backend) => return Ok((backend, None)),
        Err(e) => e,
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&first);
    let mut denied = false;
    while let Some(err) = cause {
        if let Some(sql) = err.downcast_ref::<sqlx::Error>() {
            denied = backend_tidb::error::server_number(sql) == Some(ACCESS_DENIED);
            break;
        }
        cause = err.source();
    }
    let Some(decoded) = decoded.filter(|_| denied) else {
        return Err(first);
    };
    match TidbBackend::connect(TidbBackendConfig {
        password: decoded.clone(),
        ..config
    })
    .await
    {
        Ok(backend) => {
            tracing::info!("connected with the base64-decoded tidb.password");
            Ok((backend, Some(decoded)))
        }
        // The error of the password as written, as Lightning reports.
        Err(_) => Err(first),
    }
}

/// MySQL's `ER_ACCESS_DENIED_ERROR`.
const ACCESS_DENIED: u16 = 1045;

/// The password decoded from standard base64, when it is valid base64 of
/// UTF-8 text different from itself.
pub fn decode_base64_password(password: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(password)
        .ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|d| !password.is_empty() && d != password)
}

/// Creates `dir` (and missing parents) with mode 0700; an existing one is
/// left as the user set it.
fn owner_only_dir(dir: &Path) -> anyhow::Result<()> {
    crate::checkpoint::file::create_private_dir(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Opens the backend and target the config names.
pub async fn open(cfg: &Config) -> anyhow::Result<Opened> {
    match cfg.tikv_importer.backend {
        config::Backend::Local => open_local(cfg),
        config::Backend::Tidb => open_tidb(cfg).await,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The task identity recorded in checkpoints.
fn task_checkpoint(cfg: &Config, source: &Storage, target_id: &str) -> TaskCheckpoint {
    let local = cfg.tikv_importer.backend == config::Backend::Local;
    TaskCheckpoint {
        source_dir: source_identity(source),
        backend: cfg.tikv_importer.backend.to_string(),
        target: target_id.to_string(),
        sorted_kv_dir: if local {
            absolute(&cfg.tikv_importer.sorted_kv_dir)
                .display()
                .to_string()
        } else {
            String::new()
        },
    }
}

/// The source as checkpoints record it: the absolute directory, or the
/// URL without credentials (so a resume with rotated keys is the same task).
fn source_identity(source: &Storage) -> String {
    match source.local_root() {
        Some(root) => absolute(root).display().to_string(),
        None => source.location().to_string(),
    }
}

/// Where the file checkpoint lives: `checkpoint.dsn`, or by default beside
/// the local store (`<store>.checkpoint.json`) or, for a server target, in
/// the temp directory under a name derived from the target and source — so
/// two unrelated imports never share one.
pub fn checkpoint_path(cfg: &Config, source: &Storage) -> PathBuf {
    if !cfg.checkpoint.dsn.is_empty() {
        return PathBuf::from(&cfg.checkpoint.dsn);
    }
    match cfg.tikv_importer.backend {
        config::Backend::Local => {
            let mut name = absolute(&cfg.store.path).into_os_string();
            name.push(".checkpoint.json");
            PathBuf::from(name)
        }
        config::Backend::Tidb => {
            let key = format!(
                "{}:{}|{}",
                cfg.tidb.host,
                cfg.tidb.port,
                source_identity(source)
            );
            let hash = crate::checkpoint::stable_hash(key.as_bytes());
            std::env::temp_dir().join(format!("importer-checkpoint-{hash:016x}.json"))
        }
    }
}

/// Runs a whole import, serving its status on `[lightning] status-addr`
/// when set.
pub async fn import(cfg: &Config) -> anyhow::Result<ImportOutcome> {
    import_until(cfg, &Interrupt::new()).await
}

/// Runs a whole import, stopping early when `interrupt` is triggered: no new
/// chunks start, what is durable is saved in the checkpoint, and the result
/// is an [`Interrupted`] error (the next run resumes). Serves its status on
/// `[lightning] status-addr` when set.
pub async fn import_until(cfg: &Config, interrupt: &Interrupt) -> anyhow::Result<ImportOutcome> {
    let server = match cfg.lightning.status_addr.as_str() {
        "" => None,
        addr => Some(StatusServer::start(addr).await?),
    };
    let result = run_import(cfg, interrupt, server.as_ref().map(StatusServer::task)).await;
    if let Some(server) = server {
        server.task().finish(&result);
        server.stop().await;
    }
    result
}

async fn run_import(
    cfg: &Config,
    interrupt: &Interrupt,
    status: Option<&Arc<TaskStatus>>,
) -> anyhow::Result<ImportOutcome> {
    let source = Arc::new(ProgressSource::default());
    if let Some(status) = status {
        status.attach_setup(Arc::clone(&source.setup));
    }
    let interval = cfg.cron.log_progress.0.max(Duration::from_secs(1));
    let reporter = Reporter::start(Arc::clone(&source), true, interval);
    let result = import_with(cfg, interrupt, status, &source).await;
    reporter.finish().await;
    result
}

/// [`run_import`] once the progress reporter runs.
async fn import_with(
    cfg: &Config,
    interrupt: &Interrupt,
    status: Option<&Arc<TaskStatus>>,
    source: &Arc<ProgressSource>,
) -> anyhow::Result<ImportOutcome> {
    let storage = source_storage(cfg)?;
    source.setup.set_step("scanning the source");
    let scanned: ScanResult =
        scan::scan(&storage, &scan_options(cfg)?).context("scanning the data source")?;
    tracing::info!(
        databases = scanned.databases.len(),
        tables = scanned
            .databases
            .iter()
            .map(|db| db.tables.len())
            .sum::<usize>(),
        "data source scanned"
    );
    for warning in &scanned.warnings {
        tracing::warn!("{warning}");
    }
    let options = import_options(cfg, &scanned.storage)?;
    source.setup.set_step("connecting to the target");
    let opened = open(cfg).await?;
    // Later connections (the mysql checkpoint driver) use the password the
    // server accepted.
    let decoded;
    let cfg = match &opened.decoded_password {
        Some(password) => {
            let mut c = cfg.clone();
            c.tidb.password.clone_from(password);
            decoded = c;
            &decoded
        }
        None => cfg,
    };
    if cfg.lightning.check_requirements {
        source.setup.set_step("running prechecks");
        // Table emptiness is checked per table by `prepare`, which knows
        // which tables this task is resuming.
        let report = run_prechecks(cfg, &scanned, &opened, &options, true).await;
        for check in report.checks.iter().filter(|c| !c.passed && c.per_table) {
            tracing::warn!("precheck {}: {}", check.name, check.detail);
        }
        if !report.task_checks_passed() {
            opened.backend.close().await;
            bail!(
                "prechecks failed (set [lightning] check-requirements = false to skip them):\n{report}"
            );
        }
    }
    let task = task_checkpoint(cfg, &scanned.storage, &opened.target_id);
    let checkpoints = if cfg.checkpoint.enable {
        CheckpointManager::open(open_checkpoint_store(cfg, &scanned.storage)?, task)?
    } else {
        CheckpointManager::disabled(task)
    };
    let result = async {
        let tables = scanned.databases.iter().flat_map(|db| {
            db.tables
                .iter()
                .map(|t| backend_core::model::unique_table_name(&db.name, &t.name))
        });
        let ctx = Arc::new(ImportContext::new(
            options,
            Arc::clone(&opened.backend),
            Arc::clone(&opened.target),
            checkpoints,
            tables,
        ));
        source.set(Arc::clone(&ctx.progress));
        if let Some(status) = status {
            status.attach(&ctx);
        }
        if interrupt.reason().is_some() {
            ctx.cancel();
        }
        let watcher = {
            let ctx = Arc::clone(&ctx);
            let interrupt = interrupt.clone();
            tokio::spawn(async move {
                let reason = interrupt.triggered().await;
                tracing::warn!("{reason}: stopping after the chunks in flight");
                ctx.cancel();
            })
        };
        // Tables import as soon as they exist, while the next are created.
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let setup = async {
            let prepared = import::prepare_each(
                &scanned,
                opened.target.as_ref(),
                &ctx.options,
                &ctx.checkpoints,
                &source.setup,
                &mut |plan| {
                    // The receiver lives until the sender is dropped.
                    let _ = sender.send(plan);
                },
            )
            .await;
            drop(sender);
            let created = match prepared {
                Ok(_) => import::create_views(&scanned, opened.target.as_ref(), &ctx.options).await,
                Err(err) => Err(err),
            };
            if created.is_err() {
                // The set-up failed: the tables under way stop at their
                // next row, with what is durable recorded.
                ctx.cancel();
            }
            created
        };
        let (created, reports) =
            tokio::join!(setup, import::run_stream(Arc::clone(&ctx), receiver));
        watcher.abort();
        created?;
        anyhow::Ok((ctx, reports))
    }
    .await;
    opened.backend.close().await;
    let (ctx, reports) = result?;
    if let Some(reason) = interrupt.reason() {
        let where_ = ctx
            .checkpoints
            .store()
            .map(|s| format!(" in {}", s.describe()))
            .unwrap_or_default();
        return Err(Interrupted { reason, where_ }.into());
    }
    let mut summary = summary(&reports, Some(&ctx.progress));
    summary.push_str(&scan_warnings_line(&scanned.warnings));
    summary.push_str(&read_retries_line(dump_source::storage::read_retries()));
    let outcome = ImportOutcome { summary, reports };
    if outcome.succeeded() {
        if cfg.post_restore.compact
            && let Some(store) = &opened.local_store
        {
            compact_store(store).await?;
        }
        finish_checkpoint(cfg, &ctx.checkpoints)?;
    }
    Ok(outcome)
}

/// `post-restore.compact`: a full compaction of the local target store
/// once every table is imported, as Lightning compacts TiKV.
async fn compact_store(store: &Arc<backend_local::TargetStore>) -> anyhow::Result<()> {
    let store = Arc::clone(store);
    let started = std::time::Instant::now();
    tracing::info!(store = %store.path().display(), "compacting the target store (post-restore.compact)");
    tokio::task::spawn_blocking(move || {
        store.db().compact_range(None::<&[u8]>, None::<&[u8]>);
    })
    .await
    .context("compacting the target store")?;
    tracing::info!(elapsed = ?started.elapsed(), "target store compacted");
    Ok(())
}

/// Applies `keep-after-success` once every table is done.
fn finish_checkpoint(cfg: &Config, checkpoints: &CheckpointManager) -> anyhow::Result<()> {
    let Some(store) = checkpoints.store() else {
        return Ok(());
    };
    match cfg.checkpoint.keep_after_success {
        KeepAfterSuccess::Remove => store.remove()?,
        KeepAfterSuccess::Rename => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let renamed = store.rename_with_suffix(&secs.to_string())?;
            tracing::info!(at = %renamed, "checkpoint kept");
        }
        KeepAfterSuccess::Origin => {}
    }
    Ok(())
}

/// The checkpoint store of the config: the file driver's file, or the
/// mysql driver's schema on `[checkpoint] dsn` (by default the `[tidb]`
/// server), connected.
fn open_checkpoint_store(cfg: &Config, source: &Storage) -> anyhow::Result<CheckpointStore> {
    match cfg.checkpoint.driver {
        config::CheckpointDriver::File => {
            Ok(FileCheckpointStore::new(checkpoint_path(cfg, source)).into())
        }
        config::CheckpointDriver::Mysql => {
            let schema = &cfg.checkpoint.schema;
            let location = if cfg.checkpoint.dsn.is_empty() {
                MysqlLocation {
                    host: cfg.tidb.host.clone(),
                    port: cfg.tidb.port,
                    user: cfg.tidb.user.clone(),
                    password: cfg.tidb.password.clone(),
                    schema: schema.clone(),
                }
            } else {
                MysqlLocation::from_dsn(&cfg.checkpoint.dsn, schema)
                    .map_err(|e| anyhow::anyhow!("checkpoint.dsn: {e}"))?
            };
            Ok(MysqlCheckpointStore::connect(location)?.into())
        }
    }
}

/// `importer checkpoint …` against the config's checkpoint store.
pub fn checkpoint_store(cfg: &Config) -> anyhow::Result<CheckpointStore> {
    let source = if cfg.mydumper.data_source_dir.is_empty() {
        Storage::local("")
    } else {
        source_storage(cfg)?
    };
    open_checkpoint_store(cfg, &source)
}

/// Lists the checkpoint (`importer checkpoint list`).
pub fn checkpoint_list(cfg: &Config) -> anyhow::Result<String> {
    let store = checkpoint_store(cfg)?;
    match store.load()? {
        Some(cp) => Ok(cp_commands::list(&cp)),
        None => Ok(format!("no checkpoint at {}\n", store.describe())),
    }
}

/// Parses a table argument of the checkpoint commands.
pub fn table_selector(arg: &str) -> anyhow::Result<TableSelector> {
    TableSelector::parse(arg).map_err(anyhow::Error::msg)
}

/// `importer checkpoint error-destroy`: for each selected failed table,
/// drops the table and its imported data on the target, removes its
/// engines, and forgets its checkpoint so the next run starts it over.
/// Returns how many tables were destroyed.
pub async fn error_destroy(
    cfg: &Config,
    store: &CheckpointStore,
    which: &TableSelector,
) -> anyhow::Result<usize> {
    let Some(cp) = store.load()? else {
        return Ok(0);
    };
    let failed = cp_commands::failed_tables(&cp, which);
    if failed.is_empty() {
        return Ok(0);
    }
    let opened = open(cfg).await?;
    for name in &failed {
        let table = &cp.tables[name];
        for engine_id in table.engines.keys() {
            let (_, uuid) = backend_core::make_uuid(name, *engine_id);
            opened
                .backend
                .cleanup_engine(uuid)
                .await
                .with_context(|| format!("removing engine {name}:{engine_id}"))?;
        }
        let (db, tbl) =
            split_unique_name(name).with_context(|| format!("{name} is not a `db`.`tbl` name"))?;
        opened.target.drop_table(&db, &tbl).await?;
        tracing::info!(table = %name, "destroyed");
    }
    opened.backend.close().await;
    let remaining = store.load()?;
    if let Some(mut cp) = remaining {
        cp.tables.retain(|name, _| !failed.contains(name));
        store.save(&cp)?;
    }
    Ok(failed.len())
}

/// Splits `` `db`.`tbl` `` (back-quotes doubled inside) into its parts.
fn split_unique_name(name: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '`' {
            return None;
        }
        let mut part = String::new();
        loop {
            match chars.next()? {
                '`' if chars.peek() == Some(&'`') => {
                    chars.next();
                    part.push('`');
                }
                '`' => break,
                other => part.push(other),
            }
        }
        parts.push(part);
        match chars.next() {
            Some('.') => {}
            None => break,
            Some(_) => return None,
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([db, tbl]) => Some((db, tbl)),
        Err(_) => None,
    }
}

async fn run_prechecks(
    cfg: &Config,
    scanned: &ScanResult,
    opened: &Opened,
    options: &ImportOptions,
    skip_emptiness: bool,
) -> crate::precheck::Report {
    // Engines on local disk need room in sorted-kv-dir.
    let local_engines = opened.backend.capabilities().local_engine_data;
    crate::precheck::run(crate::precheck::PrecheckInput {
        scan: scanned,
        target_info: opened.target_info.as_ref(),
        target: &opened.target,
        sorted_kv_dir: local_engines.then_some(cfg.tikv_importer.sorted_kv_dir.as_path()),
        incremental: skip_emptiness || options.incremental,
        csv: &options.csv,
        parser: &options.parser,
        schema_charset: options.schema_charset,
    })
    .await
}

/// `importer --check-only`: scans the source, connects to the target and
/// runs every precheck without writing data. Returns the report.
pub async fn precheck(cfg: &Config) -> anyhow::Result<crate::precheck::Report> {
    let storage = source_storage(cfg)?;
    let scanned = scan::scan(&storage, &scan_options(cfg)?).context("scanning the data source")?;
    let options = import_options(cfg, &scanned.storage)?;
    let opened = open(cfg).await?;
    let report = run_prechecks(cfg, &scanned, &opened, &options, false).await;
    opened.backend.close().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_split_back() {
        assert_eq!(
            split_unique_name("`a``b`.`c.d`"),
            Some(("a`b".into(), "c.d".into()))
        );
        assert_eq!(split_unique_name("a.b"), None);
        assert_eq!(split_unique_name("`a`"), None);
    }
}
