//! A MySQL-protocol server (TiDB, MySQL, MariaDB) as an [`ImportTarget`]:
//! schemas are created by running the dump's statements, tables are read
//! back from `information_schema`, post-processing is SQL.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use backend_core::TargetInfoGetter as _;
use backend_core::model::{TableInfo, TidbTableInfo, quote_identifier, unique_table_name};
use backend_tidb::{IndexDefinition, TidbBackend};

use super::{ImportTarget, TargetChecksum};
use crate::checkpoint::DeferredIndex;

/// The server behind a [`TidbBackend`], sharing its connection pool.
#[derive(Debug, Clone)]
pub struct TidbTarget {
    backend: Arc<TidbBackend>,
}

impl TidbTarget {
    /// Wraps the backend's server.
    pub fn new(backend: Arc<TidbBackend>) -> Self {
        TidbTarget { backend }
    }

    async fn remote_table(&self, db: &str, name: &str) -> anyhow::Result<Option<TidbTableInfo>> {
        let dbs = self
            .backend
            .target_info_getter()
            .fetch_remote_db_models()
            .await?;
        if !dbs.iter().any(|d| d.name.eq_ignore_ascii_case(db)) {
            return Ok(None);
        }
        let tables = self
            .backend
            .target_info_getter()
            .fetch_remote_table_models(db)
            .await?;
        Ok(tables
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .map(|core| TidbTableInfo {
                id: core.id,
                db: db.to_string(),
                name: core.name.clone(),
                core,
            }))
    }
}

#[async_trait]
impl ImportTarget for TidbTarget {
    fn describe(&self) -> String {
        let cfg = self.backend.config();
        let server = self.backend.server_info();
        format!(
            "{:?} {} at {}:{}",
            server.kind, server.version_string, cfg.host, cfg.port
        )
    }

    async fn create_database(&self, db: &str, create_sql: Option<&str>) -> anyhow::Result<()> {
        match create_sql {
            Some(sql) => self.backend.execute_create(None, sql).await?,
            None => self.backend.create_database(db).await?,
        }
        Ok(())
    }

    async fn create_table(&self, db: &str, table: &TableInfo) -> anyhow::Result<TidbTableInfo> {
        let sql = table.create_sql.as_deref().with_context(|| {
            format!(
                "no CREATE TABLE statement for {}",
                unique_table_name(db, &table.name)
            )
        })?;
        self.backend.create_database(db).await?;
        self.backend.execute_create(Some(db), sql).await?;
        self.remote_table(db, &table.name).await?.with_context(|| {
            format!(
                "{} was created but is not visible in information_schema",
                unique_table_name(db, &table.name)
            )
        })
    }

    async fn existing_table(&self, db: &str, name: &str) -> anyhow::Result<Option<TidbTableInfo>> {
        self.remote_table(db, name).await
    }

    async fn is_table_empty(&self, table: &TidbTableInfo) -> anyhow::Result<bool> {
        Ok(self.backend.row_count(&table.db, &table.name).await? == 0)
    }

    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> anyhow::Result<()> {
        let next = u64::try_from(next).unwrap_or(1).max(1);
        self.backend
            .alter_auto_increment(&table.db, &table.name, next)
            .await?;
        Ok(())
    }

    async fn checksum(&self, table: &TidbTableInfo) -> anyhow::Result<TargetChecksum> {
        // Rows arrive as SQL, so there is no local KV checksum to compare a
        // server-side one with: compare row counts.
        Ok(TargetChecksum::Rows(
            self.backend.row_count(&table.db, &table.name).await?,
        ))
    }

    async fn drop_table(&self, db: &str, name: &str) -> anyhow::Result<()> {
        let sql = format!(
            "DROP TABLE IF EXISTS {}.{}",
            quote_identifier(db),
            quote_identifier(name)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(self.backend.pool())
            .await
            .with_context(|| format!("dropping {}", unique_table_name(db, name)))?;
        Ok(())
    }

    async fn analyze(&self, table: &TidbTableInfo) -> anyhow::Result<()> {
        self.backend.analyze_table(&table.db, &table.name).await?;
        Ok(())
    }

    async fn deferrable_indexes(
        &self,
        table: &TidbTableInfo,
    ) -> anyhow::Result<Vec<DeferredIndex>> {
        Ok(self
            .backend
            .deferrable_indexes(table)
            .await?
            .into_iter()
            .map(|i| DeferredIndex {
                name: i.name,
                definition: i.definition,
            })
            .collect())
    }

    async fn drop_index(&self, table: &TidbTableInfo, name: &str) -> anyhow::Result<bool> {
        Ok(self
            .backend
            .drop_index(&table.db, &table.name, name)
            .await?)
    }

    async fn add_missing_indexes(
        &self,
        table: &TidbTableInfo,
        indexes: &[DeferredIndex],
    ) -> anyhow::Result<usize> {
        let indexes: Vec<IndexDefinition> = indexes
            .iter()
            .map(|i| IndexDefinition {
                name: i.name.clone(),
                definition: i.definition.clone(),
            })
            .collect();
        Ok(self
            .backend
            .add_missing_indexes(&table.db, &table.name, &indexes)
            .await?)
    }
}
