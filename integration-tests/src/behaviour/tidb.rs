//! The tidb backend's harness: a database per test on the MariaDB of
//! `IMPORTER_TEST_MYSQL_URL`, the table created with `CREATE TABLE`.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::model::TidbTableInfo;
use backend_core::{Backend, TargetInfoGetter};
use backend_tidb::{OnDuplicate, TidbBackend, TidbBackendConfig};
use sqlx::Row as _;
use sqlx::mysql::MySqlPool;
use uuid::Uuid;

use super::{BackendHarness, Capabilities, DuplicateMode, Instance, Row, TABLE_NAME, TABLE_SQL};
use crate::server::{self, Server};

/// Harness of [`TidbBackend`] on MariaDB.
#[derive(Debug, Default, Clone, Copy)]
pub struct TidbHarness;

impl TidbHarness {
    /// The harness.
    pub fn new() -> Self {
        TidbHarness
    }
}

#[derive(Debug)]
struct TidbInstance {
    config: TidbBackendConfig,
    pool: MySqlPool,
    tidb: TidbBackend,
    backend: Arc<dyn Backend>,
    table: Arc<TidbTableInfo>,
}

impl TidbInstance {
    async fn open(
        config: TidbBackendConfig,
        pool: MySqlPool,
        db: &str,
    ) -> anyhow::Result<TidbInstance> {
        let tidb = TidbBackend::connect(config.clone()).await?;
        let tables = tidb
            .target_info_getter()
            .fetch_remote_table_models(db)
            .await?;
        let core = tables
            .into_iter()
            .find(|t| t.name == TABLE_NAME)
            .ok_or_else(|| anyhow::anyhow!("table {db}.{TABLE_NAME} not found after CREATE"))?;
        let table = Arc::new(TidbTableInfo {
            id: core.id,
            db: db.to_string(),
            name: TABLE_NAME.to_string(),
            core,
        });
        let backend: Arc<dyn Backend> = Arc::new(tidb.clone());
        Ok(TidbInstance {
            config,
            pool,
            tidb,
            backend,
            table,
        })
    }
}

#[async_trait]
impl Instance for TidbInstance {
    fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn table(&self) -> &Arc<TidbTableInfo> {
        &self.table
    }

    async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let sql = format!(
            "SELECT id, name, score FROM `{}`.`{TABLE_NAME}` ORDER BY id",
            self.table.db
        );
        let rows = server::query(&self.pool, &sql).await?;
        rows.iter()
            .map(|r| {
                (0..3)
                    .map(|i| {
                        let cell: Option<Vec<u8>> = r.try_get_unchecked(i)?;
                        Ok(cell.map(|b| String::from_utf8_lossy(&b).into_owned()))
                    })
                    .collect()
            })
            .collect()
    }

    fn target_info(&self) -> Option<Arc<dyn TargetInfoGetter>> {
        Some(Arc::new(self.tidb.target_info_getter()))
    }

    fn engine_stored(&self, _engine: Uuid) -> Option<bool> {
        None
    }

    async fn restart(self: Box<Self>) -> anyhow::Result<Box<dyn Instance>> {
        let TidbInstance {
            config,
            pool,
            tidb,
            backend,
            table,
        } = *self;
        // A killed process closes nothing: drop the pool without `close`.
        drop((tidb, backend));
        Ok(Box::new(TidbInstance::open(config, pool, &table.db).await?))
    }
}

#[async_trait]
impl BackendHarness for TidbHarness {
    fn name(&self) -> &str {
        "tidb"
    }

    fn capabilities(&self) -> Capabilities {
        TidbBackend::CAPABILITIES
    }

    async fn fresh(
        &self,
        test: &str,
        mode: DuplicateMode,
    ) -> anyhow::Result<Option<Box<dyn Instance>>> {
        let Some(server) = Server::from_env() else {
            return Ok(None);
        };
        let db = server::db_name(test);
        let pool = server.pool().await?;
        server::fresh_database(&pool, &db).await?;
        // Qualified: a pooled connection has no default database.
        let create = TABLE_SQL.replacen(
            &format!("CREATE TABLE `{TABLE_NAME}`"),
            &format!("CREATE TABLE `{db}`.`{TABLE_NAME}`"),
            1,
        );
        server::exec(&pool, &create).await?;
        let mut config = server.tidb_config();
        config.on_duplicate = match mode {
            DuplicateMode::Error => OnDuplicate::Error,
            DuplicateMode::Replace => OnDuplicate::Replace,
            DuplicateMode::Ignore => OnDuplicate::Ignore,
        };
        config.task_info_schema = Some(format!("{db}_info"));
        config.region_concurrency = 2;
        Ok(Some(Box::new(TidbInstance::open(config, pool, &db).await?)))
    }
}
