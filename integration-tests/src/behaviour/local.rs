//! The local backend's harness: a temp dir per test holding the sorted-kv
//! dir and the embedded target store; the table is created in the store's
//! catalog.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use backend_core::model::TidbTableInfo;
use backend_core::{Backend, TargetInfoGetter};
use backend_local::LocalTargetInfo;
use backend_local::catalog::Catalog;
use backend_local::kv_encoder::KvEncodingBuilder;
use backend_local::store::{Format, export_table};
use backend_local::{LocalBackend, LocalBackendConfig, OnDuplicate, TargetStore};
use tempfile::TempDir;
use uuid::Uuid;

use super::{BackendHarness, Capabilities, DuplicateMode, Instance, Row, TABLE_NAME, table_model};
use crate::compare::parse_export_csv;

/// Harness of [`LocalBackend`] with TiDB's KV encoder.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalHarness;

impl LocalHarness {
    /// The harness.
    pub fn new() -> Self {
        LocalHarness
    }
}

struct LocalInstance {
    dir: TempDir,
    mode: OnDuplicate,
    db: String,
    local: Arc<LocalBackend>,
    backend: Arc<dyn Backend>,
    store: Arc<TargetStore>,
    table: Arc<TidbTableInfo>,
}

impl std::fmt::Debug for LocalInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalInstance")
            .field("dir", &self.dir.path())
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

fn config(root: &std::path::Path, mode: OnDuplicate) -> LocalBackendConfig {
    let mut config = LocalBackendConfig::new(root.join("sorted-kv"), root.join("store"));
    // Small writer buffers, so a few hundred rows make several SSTs.
    config.local_writer_mem_cache_size = 8 << 10;
    config.range_concurrency = 2;
    config.retry_import_delay = std::time::Duration::from_millis(10);
    config.on_duplicate = mode;
    config
}

impl LocalInstance {
    fn open(dir: TempDir, mode: OnDuplicate, db: String) -> anyhow::Result<LocalInstance> {
        let local = Arc::new(
            LocalBackend::new(config(dir.path(), mode), Arc::new(KvEncodingBuilder)).with_context(
                || format!("opening the local backend in {}", dir.path().display()),
            )?,
        );
        let store = local
            .target_store()
            .cloned()
            .context("the local backend opened no target store")?;
        let catalog = Catalog::new(store.db());
        catalog.init()?;
        let created = catalog.create_table(&db, &table_model()?)?;
        let table = Arc::new(TidbTableInfo {
            id: created.id,
            db: db.clone(),
            name: created.name.clone(),
            core: created,
        });
        let backend: Arc<dyn Backend> = local.clone();
        Ok(LocalInstance {
            dir,
            mode,
            db,
            local,
            backend,
            store,
            table,
        })
    }

    fn engine_dir(&self, engine: Uuid) -> PathBuf {
        self.local.engine_dir(engine)
    }
}

#[async_trait]
impl Instance for LocalInstance {
    fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn table(&self) -> &Arc<TidbTableInfo> {
        &self.table
    }

    async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let store = Arc::clone(&self.store);
        let db = self.db.clone();
        let csv = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            export_table(store.db(), &db, TABLE_NAME, Format::Csv, &mut out).map(|_| out)
        })
        .await??;
        let (_, rows) = parse_export_csv(&csv)?;
        let mut rows: Vec<Row> = crate::dump::text_cells(rows);
        // The export is in handle order, which is id order here; sort anyway
        // by the numeric id so the probe's contract does not depend on it.
        rows.sort_by_key(|r| {
            r.first()
                .and_then(|c| c.as_deref())
                .and_then(|s| s.parse::<i64>().ok())
        });
        Ok(rows)
    }

    fn target_info(&self) -> Option<Arc<dyn TargetInfoGetter>> {
        Some(Arc::new(LocalTargetInfo::new(
            Arc::clone(&self.store),
            self.store.path().to_path_buf(),
        )))
    }

    fn engine_stored(&self, engine: Uuid) -> Option<bool> {
        Some(self.engine_dir(engine).exists())
    }

    async fn restart(self: Box<Self>) -> anyhow::Result<Box<dyn Instance>> {
        let LocalInstance {
            dir,
            mode,
            db,
            local,
            backend,
            store,
            table,
        } = *self;
        // Every handle of the old process goes before the new one opens the
        // same RocksDB directories (RocksDB allows one open handle).
        drop((local, backend, store, table));
        Ok(Box::new(LocalInstance::open(dir, mode, db)?))
    }
}

#[async_trait]
impl BackendHarness for LocalHarness {
    fn name(&self) -> &str {
        "local"
    }

    fn capabilities(&self) -> Capabilities {
        LocalBackend::CAPABILITIES
    }

    async fn fresh(
        &self,
        test: &str,
        mode: DuplicateMode,
    ) -> anyhow::Result<Option<Box<dyn Instance>>> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{test}-"))
            .tempdir()
            .context("creating a temp dir")?;
        let mode = match mode {
            DuplicateMode::Error => OnDuplicate::Error,
            DuplicateMode::Replace => OnDuplicate::Replace,
            DuplicateMode::Ignore => OnDuplicate::Ignore,
        };
        let db = crate::server::db_name(test);
        Ok(Some(Box::new(LocalInstance::open(dir, mode, db)?)))
    }
}
