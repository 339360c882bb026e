//! The pipeline's orchestration and checkpoint logic against the in-memory
//! reference backend and an in-memory target (pure logic; the real backends
//! are covered end to end by the integration tests).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use backend_core::model::{TableInfo, TidbTableInfo};
use backend_core::testkit::MemoryBackend;
use backend_core::{
    Error, ImportTarget, KvChecksum, LocalEngineConfig, Result, SqlMode, TargetChecksum,
};
use dump_source::chunk::ChunkOptions;
use dump_source::csv::CsvOptions;
use dump_source::scan::{self, ScanOptions};
use importer_cli::checkpoint::{
    CheckpointManager, FileCheckpointStore, TableStatus, TaskCheckpoint,
};
use importer_cli::import::{self, ImportContext, ImportOptions, PostOp};

#[derive(Debug)]
struct MemTarget {
    backend: MemoryBackend,
    tables: Mutex<HashMap<String, TidbTableInfo>>,
    next_id: Mutex<i64>,
}

impl MemTarget {
    fn new(backend: MemoryBackend) -> Self {
        MemTarget {
            backend,
            tables: Mutex::new(HashMap::new()),
            next_id: Mutex::new(100),
        }
    }

    fn pairs_of(&self, table_id: i64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let prefix = table_id.to_be_bytes();
        self.backend
            .target_pairs()
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect()
    }
}

#[async_trait]
impl ImportTarget for MemTarget {
    fn describe(&self) -> String {
        "memory".into()
    }
    async fn create_database(&self, _db: &str, _sql: Option<&str>) -> Result<()> {
        Ok(())
    }
    async fn create_table(&self, db: &str, table: &TableInfo) -> Result<TidbTableInfo> {
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        let key = format!("{db}.{}", table.name);
        if let Some(existing) = tables.get(&key) {
            return Ok(existing.clone());
        }
        let mut next = self
            .next_id
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        *next += 1;
        let mut core = table.clone();
        core.id = *next;
        let info = TidbTableInfo {
            id: *next,
            db: db.into(),
            name: table.name.clone(),
            core,
        };
        tables.insert(key, info.clone());
        Ok(info)
    }
    async fn existing_table(&self, db: &str, name: &str) -> Result<Option<TidbTableInfo>> {
        let tables = self
            .tables
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        Ok(tables.get(&format!("{db}.{name}")).cloned())
    }
    async fn is_table_empty(&self, table: &TidbTableInfo) -> Result<bool> {
        Ok(self.pairs_of(table.id).is_empty())
    }
    async fn rebase_auto_increment(&self, _t: &TidbTableInfo, _next: i64) -> Result<()> {
        Ok(())
    }
    async fn checksum(&self, table: &TidbTableInfo) -> Result<TargetChecksum> {
        let mut ck = KvChecksum::new();
        for (k, v) in self.pairs_of(table.id) {
            ck.update_one(&k, &v);
        }
        Ok(TargetChecksum::Kv(ck))
    }
    async fn drop_table(&self, db: &str, name: &str) -> Result<()> {
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        tables.remove(&format!("{db}.{name}"));
        Ok(())
    }
    async fn analyze(&self, _t: &TidbTableInfo) -> Result<()> {
        Ok(())
    }
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample")
}

fn options(source: &dump_source::Storage) -> ImportOptions {
    ImportOptions {
        source: source.clone(),
        region_concurrency: 3,
        table_concurrency: 2,
        batch_size: 1500,
        region_split_size: 96 << 20,
        region_split_keys: 1_280_000,
        deliver_bytes: 256,
        csv: CsvOptions::default(),
        parser: Default::default(),
        chunk: ChunkOptions::default(),
        schema_charset: Default::default(),
        no_backslash_escapes: false,
        sql_mode: SqlMode::default(),
        max_error: 0,
        checksum: PostOp::Required,
        analyze: PostOp::Optional,
        incremental: false,
        add_index_by_sql: false,
        local_engine: LocalEngineConfig::default(),
        disk_quota: None,
    }
}

fn task() -> TaskCheckpoint {
    TaskCheckpoint {
        source_dir: "sample".into(),
        backend: "memory".into(),
        target: "memory".into(),
        sorted_kv_dir: String::new(),
    }
}

/// Runs one import "process" over shared backend/target state.
async fn run_once(
    backend: &MemoryBackend,
    target: &Arc<MemTarget>,
    checkpoint: &Path,
) -> anyhow::Result<Vec<import::TableReport>> {
    let root = sample_dir();
    let scanned = scan::scan(&root, &ScanOptions::default())?;
    let checkpoints = CheckpointManager::open(FileCheckpointStore::new(checkpoint), task())?;
    let opts = options(&scanned.storage);
    let setup = importer_cli::import::progress::SetupProgress::default();
    let plans = import::prepare(&scanned, target.as_ref(), &opts, &checkpoints, &setup).await?;
    let ctx = Arc::new(ImportContext::new(
        opts,
        Arc::new(backend.clone()),
        Arc::clone(target) as Arc<dyn ImportTarget>,
        checkpoints,
        plans.iter().map(|p| p.table.unique_name()),
    ));
    Ok(import::run(ctx, plans).await)
}

#[tokio::test]
async fn imports_the_sample_and_records_every_table_done() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = MemoryBackend::new();
    let target = Arc::new(MemTarget::new(backend.clone()));
    let cp_path = dir.path().join("cp.json");
    let reports = run_once(&backend, &target, &cp_path).await?;
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert!(r.error.is_none(), "{r:?}");
        assert!(r.checksum.starts_with("ok"), "{r:?}");
    }
    let rows: HashMap<&str, u64> = reports.iter().map(|r| (r.name.as_str(), r.rows)).collect();
    assert_eq!(rows["`shop`.`customers`"], 30);
    assert_eq!(rows["`shop`.`orders`"], 60);
    assert_eq!(rows["`shop`.`events`"], 50);
    assert_eq!(backend.target_pairs().len(), 140);
    let saved = FileCheckpointStore::new(&cp_path)
        .load()?
        .ok_or_else(|| anyhow::anyhow!("no checkpoint"))?;
    assert!(
        saved
            .tables
            .values()
            .all(|t| t.status == TableStatus::Analyzed)
    );
    // Orders has three files of ~2 KiB and batch-size 1500: several engines.
    assert!(saved.tables["`shop`.`orders`"].engines.len() > 2);
    Ok(())
}

#[tokio::test]
async fn failed_import_blocks_until_cleared_then_resumes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = MemoryBackend::new();
    let target = Arc::new(MemTarget::new(backend.clone()));
    let cp_path = dir.path().join("cp.json");

    backend.fail_next_imports(1, false);
    let reports = run_once(&backend, &target, &cp_path).await?;
    let failed: Vec<_> = reports.iter().filter(|r| r.error.is_some()).collect();
    assert_eq!(failed.len(), 1, "{reports:?}");
    let failed_name = failed[0].name.clone();

    // A restart: open engines and unflushed data are gone.
    backend.simulate_crash();
    let reports = run_once(&backend, &target, &cp_path).await?;
    let blocked = reports
        .iter()
        .find(|r| r.name == failed_name)
        .and_then(|r| r.error.clone())
        .unwrap_or_default();
    assert!(blocked.contains("error-ignore"), "{blocked}");

    // `importer checkpoint error-ignore`: clear the failure and rerun.
    let store = FileCheckpointStore::new(&cp_path);
    let mut saved = store
        .load()?
        .ok_or_else(|| anyhow::anyhow!("no checkpoint"))?;
    if let Some(t) = saved.tables.get_mut(&failed_name) {
        t.failure = None;
    }
    store.save(&saved)?;
    backend.simulate_crash();
    let reports = run_once(&backend, &target, &cp_path).await?;
    for r in &reports {
        assert!(r.error.is_none(), "{r:?}");
        assert!(
            r.checksum.starts_with("ok") || r.checksum == "done earlier",
            "{r:?}"
        );
    }
    assert_eq!(
        backend.target_pairs().len(),
        140,
        "nothing lost, nothing duplicated"
    );
    Ok(())
}
