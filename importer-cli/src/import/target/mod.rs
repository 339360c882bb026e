//! What the pipeline needs from a target beyond the backend: creating
//! schemas and the post-import steps. The local store and a MySQL-protocol
//! server each implement it.

pub mod local;
pub mod tidb;

use async_trait::async_trait;
use backend_core::KvChecksum;
use backend_core::model::{TableInfo, TidbTableInfo};

use crate::checkpoint::DeferredIndex;

/// A checksum the target computed over an imported table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetChecksum {
    /// A KV checksum (TiDB's `ADMIN CHECKSUM TABLE`, the local store's scan).
    Kv(KvChecksum),
    /// Only a row count (MySQL, MariaDB).
    Rows(u64),
}

/// Schema and post-process operations on the target.
#[async_trait]
pub trait ImportTarget: Send + Sync + std::fmt::Debug {
    /// A short description for messages (`store ./importer-store`,
    /// `MariaDB 10.11 at 127.0.0.1:3306`).
    fn describe(&self) -> String;

    /// Creates the database if it does not exist. `create_sql` is the dump's
    /// statement, when there is one.
    async fn create_database(&self, db: &str, create_sql: Option<&str>) -> anyhow::Result<()>;

    /// Creates the table unless an identical one exists, and returns it as
    /// the target knows it (with its id). A different existing definition is
    /// an error naming both.
    async fn create_table(&self, db: &str, table: &TableInfo) -> anyhow::Result<TidbTableInfo>;

    /// The table as the target has it, when it exists (for `no-schema`).
    async fn existing_table(&self, db: &str, name: &str) -> anyhow::Result<Option<TidbTableInfo>>;

    /// Whether the table holds no rows.
    async fn is_table_empty(&self, table: &TidbTableInfo) -> anyhow::Result<bool>;

    /// Makes the next auto-increment value at least `next`.
    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> anyhow::Result<()>;

    /// Checksums the table on the target.
    async fn checksum(&self, table: &TidbTableInfo) -> anyhow::Result<TargetChecksum>;

    /// Drops the table and everything imported into it (for
    /// `importer checkpoint error-destroy`); the next import recreates it.
    async fn drop_table(&self, db: &str, name: &str) -> anyhow::Result<()>;

    /// Collects statistics (`ANALYZE TABLE`); a no-op where meaningless.
    async fn analyze(&self, table: &TidbTableInfo) -> anyhow::Result<()>;

    /// The secondary indexes a load may build after the rows are in
    /// (`add-index-by-sql`), as the target defines them now. None by
    /// default: a target that writes index entries with the rows.
    async fn deferrable_indexes(
        &self,
        _table: &TidbTableInfo,
    ) -> anyhow::Result<Vec<DeferredIndex>> {
        Ok(Vec::new())
    }

    /// Drops one of [`ImportTarget::deferrable_indexes`]; `false` when the
    /// target keeps it (a foreign key needs it). Gone already counts as
    /// dropped.
    async fn drop_index(&self, _table: &TidbTableInfo, _name: &str) -> anyhow::Result<bool> {
        Ok(false)
    }

    /// Adds those of `indexes` the table lacks, returning how many.
    async fn add_missing_indexes(
        &self,
        _table: &TidbTableInfo,
        indexes: &[DeferredIndex],
    ) -> anyhow::Result<usize> {
        anyhow::ensure!(
            indexes.is_empty(),
            "{} cannot add indexes after the rows",
            self.describe()
        );
        Ok(0)
    }
}
