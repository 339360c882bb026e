//! What the pipeline asks of a target beyond engines: creating the schema
//! before the rows and the post-import work after them.
//!
//! [`Backend`](crate::Backend) moves rows; [`TargetInfoGetter`](crate::TargetInfoGetter)
//! reads what the target already holds; [`ImportTarget`] changes the
//! target's schema and checks the result. Each backend crate implements it
//! for its own target (an embedded store's catalog, a MySQL-protocol
//! server's DDL) and maps its own errors into the core [`Error`](crate::Error)
//! kinds, so the pipeline branches on [`ErrorKind`](crate::ErrorKind) and
//! never on a driver's error type.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{TableInfo, TidbTableInfo};
use crate::{Error, KvChecksum, Result};

/// A checksum the target computed over an imported table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetChecksum {
    /// A KV checksum (TiDB's `ADMIN CHECKSUM TABLE`, the local store's scan).
    Kv(KvChecksum),
    /// Only a row count (MySQL, MariaDB).
    Rows(u64),
}

/// A secondary index that a load builds after the rows are in
/// (`add-index-by-sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredIndex {
    /// The index name.
    pub name: String,
    /// Its definition as `ALTER TABLE … ADD` takes it, as the server
    /// printed it: ``KEY `k` (`a`,`b`(10))``.
    pub definition: String,
}

impl DeferredIndex {
    /// The statement adding `indexes` to `table` (a unique name) by hand:
    /// what error messages and `checkpoint remove` show the user.
    pub fn alter_sql(table: &str, indexes: &[DeferredIndex]) -> String {
        let adds: Vec<String> = indexes
            .iter()
            .map(|i| format!("ADD {}", i.definition))
            .collect();
        format!("ALTER TABLE {table} {}", adds.join(", "))
    }
}

/// Schema and post-import operations on the target of an import.
///
/// Every method is idempotent, because a resumed import repeats the step
/// that a crash interrupted: creating what exists (identically) succeeds,
/// rebasing below the current base keeps it, dropping what is gone succeeds.
#[async_trait]
pub trait ImportTarget: Send + Sync + Debug {
    /// A short description for messages (`store ./importer-store`,
    /// `MariaDB 10.11 at 127.0.0.1:3306`).
    fn describe(&self) -> String;

    /// Creates the database if it does not exist. `create_sql` is the dump's
    /// statement, when there is one.
    async fn create_database(&self, db: &str, create_sql: Option<&str>) -> Result<()>;

    /// Creates the table (and its database) unless an identical one exists,
    /// and returns it as the target knows it, with its id.
    ///
    /// Errors: [`ErrorKind::SchemaMismatch`](crate::ErrorKind::SchemaMismatch)
    /// when a different definition exists, naming both.
    async fn create_table(&self, db: &str, table: &TableInfo) -> Result<TidbTableInfo>;

    /// [`ImportTarget::create_table`] for several tables of one database,
    /// returned in the same order. A target that reads its tables back in
    /// one query per database overrides it, so setting up thousands of
    /// tables costs one read instead of one per table.
    async fn create_tables(&self, db: &str, tables: &[TableInfo]) -> Result<Vec<TidbTableInfo>> {
        let mut created = Vec::with_capacity(tables.len());
        for table in tables {
            created.push(self.create_table(db, table).await?);
        }
        Ok(created)
    }

    /// Whether the target runs a dump's `CREATE TABLE` statement as written
    /// and reads the table back from itself: then the server is the judge
    /// of the statement, and [`ImportTarget::create_table`] needs only the
    /// table's name and `create_sql` (a model the dump parser could not
    /// build is not needed). False by default: the target builds the table
    /// from the model.
    fn runs_create_statements(&self) -> bool {
        false
    }

    /// Creates view `name` in database `db` from the dump's `CREATE VIEW`
    /// statement unless it exists. Called after every table is created, as
    /// a view may read any of them.
    ///
    /// Errors: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) by
    /// default.
    async fn create_view(&self, db: &str, name: &str, _create_sql: &str) -> Result<()> {
        Err(Error::unsupported(format!(
            "{} cannot create views (`{db}`.`{name}`)",
            self.describe()
        )))
    }

    /// Whether rows may set TiDB's hidden row id `_tidb_rowid` of a table
    /// that has no integer or clustered primary key: the target keeps it as
    /// the row's handle. False by default; the pipeline then drops the
    /// column from the rows.
    fn keeps_tidb_rowid(&self) -> bool {
        false
    }

    /// The table as the target has it, when it exists (for `no-schema`).
    async fn existing_table(&self, db: &str, name: &str) -> Result<Option<TidbTableInfo>>;

    /// Whether each of `names`, tables of database `db`, exists on the
    /// target now: one answer per name, in order. The default asks
    /// [`ImportTarget::existing_table`] per name; a server target answers
    /// in one query, so checking thousands of tables is not thousands of
    /// reads.
    async fn existing_tables(&self, db: &str, names: &[String]) -> Result<Vec<bool>> {
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            found.push(self.existing_table(db, name).await?.is_some());
        }
        Ok(found)
    }

    /// Whether the table holds no rows.
    async fn is_table_empty(&self, table: &TidbTableInfo) -> Result<bool>;

    /// Makes the next auto-increment value at least `next`.
    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> Result<()>;

    /// Checksums the table on the target.
    async fn checksum(&self, table: &TidbTableInfo) -> Result<TargetChecksum>;

    /// Drops the table and everything imported into it (for
    /// `importer checkpoint error-destroy`); the next import recreates it.
    async fn drop_table(&self, db: &str, name: &str) -> Result<()>;

    /// Collects statistics (`ANALYZE TABLE`); a no-op where meaningless.
    async fn analyze(&self, table: &TidbTableInfo) -> Result<()>;

    /// The secondary indexes a load may build after the rows are in, as the
    /// target defines them now. None by default: a target that writes index
    /// entries with the rows ([`Capabilities::deferred_indexes`](crate::Capabilities::deferred_indexes)
    /// is false).
    async fn deferrable_indexes(&self, _table: &TidbTableInfo) -> Result<Vec<DeferredIndex>> {
        Ok(Vec::new())
    }

    /// Drops one of [`ImportTarget::deferrable_indexes`]; `false` when the
    /// target keeps it (a foreign key needs it). Gone already counts as
    /// dropped.
    async fn drop_index(&self, _table: &TidbTableInfo, _name: &str) -> Result<bool> {
        Ok(false)
    }

    /// Adds those of `indexes` the table lacks, returning how many.
    ///
    /// Errors: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)
    /// by default, when there is anything to add.
    async fn add_missing_indexes(
        &self,
        _table: &TidbTableInfo,
        indexes: &[DeferredIndex],
    ) -> Result<usize> {
        if indexes.is_empty() {
            return Ok(0);
        }
        Err(Error::unsupported(format!(
            "{} cannot add indexes after the rows",
            self.describe()
        )))
    }
}
