//! The server as the target of an import: creating schema objects from the
//! dump's statements and the post-import SQL (row counts, checksums,
//! `ANALYZE`, auto-increment, deferred secondary indexes), and
//! [`ImportTarget`] over them, which is what the pipeline calls.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use backend_core::model::{TableInfo, TidbTableInfo, quote_identifier, unique_table_name};
use backend_core::{
    DeferredIndex, Error, ImportTarget, Result, TargetChecksum, TargetInfoGetter as _,
};
use sqlx::Row as _;

use crate::backend::TidbBackend;
use crate::error::TidbError;
use crate::retry::with_retry;

/// "Duplicate key name": the index exists.
const ER_DUP_KEYNAME: u16 = 1061;
/// "Can't DROP …; check that it exists".
const ER_CANT_DROP_FIELD_OR_KEY: u16 = 1091;
/// "Cannot drop index …: needed in a foreign key constraint".
const ER_DROP_INDEX_FK: u16 = 1553;

/// "Can't create database …; database exists" and "Table … already
/// exists": a schema statement that finds its object there already.
fn already_exists(err: &sqlx::Error) -> bool {
    matches!(crate::error::server_number(err), Some(1007 | 1050))
}

/// The server's error number of a failed statement.
fn sql_number(err: &TidbError) -> Option<u16> {
    match err {
        TidbError::Sql { source, .. } => crate::error::server_number(source),
        _ => None,
    }
}

/// The totals of TiDB's `ADMIN CHECKSUM TABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteChecksum {
    /// XOR of the CRC-64 of every KV pair.
    pub checksum: u64,
    /// Number of KV pairs.
    pub total_kvs: u64,
    /// Bytes of keys and values.
    pub total_bytes: u64,
}

/// Sessions that run a batch of schema statements at once.
pub(crate) const SCHEMA_SESSIONS: u32 = 4;

impl TidbBackend {
    /// `CREATE DATABASE IF NOT EXISTS`.
    pub async fn create_database(&self, db: &str) -> Result<()> {
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            backend_core::model::quote_identifier(db)
        );
        self.exec(&format!("creating database `{db}`"), sql).await?;
        Ok(())
    }

    /// Runs a `CREATE DATABASE`/`CREATE TABLE`/`CREATE VIEW` statement from
    /// a dump, in database `db` when given. Idempotent: "already exists"
    /// (1007, 1050) counts as success.
    pub async fn execute_create(&self, db: Option<&str>, create_sql: &str) -> Result<()> {
        let what = match db {
            Some(db) => format!("creating a schema object in `{db}`"),
            None => "creating a database".to_string(),
        };
        let retry = self.retry();
        let result = with_retry(retry, &what, || async {
            let mut conn = self.pool().acquire().await?;
            if let Some(db) = db {
                let use_db = format!("USE {}", backend_core::model::quote_identifier(db));
                sqlx::raw_sql(sqlx::AssertSqlSafe(use_db))
                    .execute(&mut *conn)
                    .await?;
            }
            let result = sqlx::raw_sql(sqlx::AssertSqlSafe(create_sql.to_string()))
                .execute(&mut *conn)
                .await;
            // Pooled sessions must not keep a default database.
            if db.is_some() {
                let _ = conn.close().await;
            }
            result.map(|_| ())
        })
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(TidbError::Sql { ref source, .. }) if already_exists(source) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Runs dump statements that create schema objects in database `db`,
    /// over [`SCHEMA_SESSIONS`] sessions at once: DDL on a server that
    /// syncs each statement to disk mostly waits for that sync, and
    /// concurrent statements may share it (2,000 `CREATE TABLE`s on MariaDB
    /// from the `mariadb` client: 5.4 s over one session, 4.6 s over four).
    /// The pool keeps a session per writer besides these, so the rows of
    /// the tables created before keep flowing. Each session
    /// switches to `db` once and is closed afterwards (a pooled session
    /// must not keep a default database). "Already exists" counts as
    /// success; the first other failure stops all and is returned, without
    /// retries: the caller runs the statements again one at a time with
    /// [`TidbBackend::execute_create`] for an error that names the table.
    pub async fn execute_creates(&self, db: &str, statements: Vec<String>) -> Result<()> {
        let total = statements.len();
        if total == 0 {
            return Ok(());
        }
        let sessions = usize::try_from(SCHEMA_SESSIONS)
            .unwrap_or(1)
            .clamp(1, total);
        let statements = std::sync::Arc::new(statements);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let use_db = format!("USE {}", quote_identifier(db));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..sessions {
            let (this, statements, next) = (self.clone(), statements.clone(), next.clone());
            let use_db = use_db.clone();
            workers.spawn(async move {
                let what = "creating schema objects";
                let mut conn = this
                    .pool()
                    .acquire()
                    .await
                    .map_err(|e| TidbError::sql(what, e))?;
                let mut result = sqlx::raw_sql(sqlx::AssertSqlSafe(use_db))
                    .execute(&mut *conn)
                    .await
                    .map(|_| ());
                while result.is_ok() {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(sql) = statements.get(i) else {
                        break;
                    };
                    result = match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
                        .execute(&mut *conn)
                        .await
                    {
                        Err(e) if already_exists(&e) => Ok(()),
                        other => other.map(|_| ()),
                    };
                }
                if result.is_err() {
                    // The others stop at their next statement.
                    next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                }
                let _ = conn.close().await;
                result.map_err(|e| TidbError::sql(what, e))
            });
        }
        let mut first_error = None;
        while let Some(joined) = workers.join_next().await {
            let outcome = joined
                .map_err(|e| Error::internal(format!("a schema-creating task failed: {e}")))
                .and_then(|r| r.map_err(Error::from));
            if let Err(err) = outcome {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `ALTER TABLE … AUTO_INCREMENT = next`: the next value the table
    /// allocates (never lowered by the server below existing rows).
    pub async fn alter_auto_increment(&self, db: &str, table: &str, next: u64) -> Result<()> {
        let name = unique_table_name(db, table);
        let force = if self.server_info().is_tidb() {
            "FORCE "
        } else {
            ""
        };
        let sql = format!("ALTER TABLE {name} {force}AUTO_INCREMENT = {next}");
        self.exec(&format!("rebasing the auto-increment of {name}"), sql)
            .await?;
        Ok(())
    }

    /// `SELECT COUNT(*)`, as a text-protocol query: a prepared statement
    /// per table would fill the driver's statement cache, and each eviction
    /// sends a reply-less close ahead of the next prepare, which stalled
    /// every count on a delayed ACK (about 40 ms a table).
    pub async fn row_count(&self, db: &str, table: &str) -> Result<u64> {
        let name = unique_table_name(db, table);
        let sql = format!("SELECT CAST(COUNT(*) AS UNSIGNED) FROM {name}");
        let pool = self.pool();
        let row = with_retry(self.retry(), &format!("counting rows of {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool)
        })
        .await?;
        row.try_get::<u64, _>(0)
            .map_err(|e| TidbError::sql(format!("decoding the row count of {name}"), e).into())
    }

    /// `CHECKSUM TABLE` (MySQL/MariaDB); `None` when the server returns
    /// NULL (no such table).
    pub async fn checksum_table(&self, db: &str, table: &str) -> Result<Option<u64>> {
        let name = unique_table_name(db, table);
        let sql = format!("CHECKSUM TABLE {name}");
        let pool = self.pool();
        let row = with_retry(self.retry(), &format!("checksumming {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool)
        })
        .await?;
        let value: Option<u64> = row
            .try_get::<Option<u64>, _>(1)
            .or_else(|_| {
                row.try_get::<Option<i64>, _>(1)
                    .map(|v| v.and_then(|v| u64::try_from(v).ok()))
            })
            .map_err(|e| TidbError::sql(format!("decoding the checksum of {name}"), e))?;
        Ok(value)
    }

    /// `ANALYZE TABLE`.
    pub async fn analyze_table(&self, db: &str, table: &str) -> Result<()> {
        let name = unique_table_name(db, table);
        let sql = format!("ANALYZE TABLE {name}");
        let pool = self.pool();
        with_retry(self.retry(), &format!("analyzing {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool)
        })
        .await?;
        Ok(())
    }

    /// The lowercased names of the base tables of database `db` (none
    /// when it does not exist), or of those among `only`: names compare
    /// case-insensitively, as in `remote_table`. The server reads each
    /// listed table's definition, so a batch asks about its own tables,
    /// not the whole database again.
    async fn table_names(&self, db: &str, only: Option<&[String]>) -> Result<HashSet<String>> {
        if only.is_some_and(<[String]>::is_empty) {
            return Ok(HashSet::new());
        }
        let pool = self.pool();
        let what = format!("listing the tables of database {}", quote_identifier(db));
        let filter = crate::target_info::name_filter(only);
        let sql = format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ?{filter} AND TABLE_TYPE = 'BASE TABLE'"
        );
        let names: Vec<String> = with_retry(self.retry(), &what, || {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(db);
            for name in only.unwrap_or_default() {
                query = query.bind(name);
            }
            query.fetch_all(pool)
        })
        .await?;
        Ok(names.into_iter().map(|n| n.to_ascii_lowercase()).collect())
    }

    /// Names of the table's indexes, lowercased (index names are
    /// case-insensitive).
    async fn index_names(&self, db: &str, table: &str) -> Result<HashSet<String>> {
        let pool = self.pool();
        let what = format!("listing the indexes of {}", unique_table_name(db, table));
        let names: Vec<String> = with_retry(self.retry(), &what, || {
            sqlx::query_scalar(
                "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            )
            .bind(db)
            .bind(table)
            .fetch_all(pool)
        })
        .await?;
        Ok(names.into_iter().map(|n| n.to_lowercase()).collect())
    }

    /// TiDB's `ADMIN CHECKSUM TABLE`: the KV checksum the local backend
    /// computes too. `Unsupported` on MySQL and MariaDB.
    pub async fn admin_checksum_table(&self, db: &str, table: &str) -> Result<RemoteChecksum> {
        if !self.server_info().is_tidb() {
            return Err(TidbError::Unsupported(format!(
                "ADMIN CHECKSUM TABLE needs TiDB; the server is {}",
                self.server_info().version_string
            ))
            .into());
        }
        let name = unique_table_name(db, table);
        let sql = format!("ADMIN CHECKSUM TABLE {name}");
        let pool = self.pool();
        let row = with_retry(self.retry(), &format!("checksumming {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool)
        })
        .await?;
        let get = |i: usize| -> Result<u64> {
            row.try_get::<u64, _>(i)
                .map_err(|e| TidbError::sql(format!("decoding the checksum of {name}"), e).into())
        };
        Ok(RemoteChecksum {
            checksum: get(2)?,
            total_kvs: get(3)?,
            total_bytes: get(4)?,
        })
    }
}

impl TidbBackend {
    /// The table as `information_schema` describes it, when it exists.
    async fn remote_table(&self, db: &str, name: &str) -> Result<Option<TidbTableInfo>> {
        Ok(self
            .remote_tables(db)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(name)))
    }

    /// Every base table of database `db` as `information_schema` describes
    /// it; none when the database does not exist.
    async fn remote_tables(&self, db: &str) -> Result<Vec<TidbTableInfo>> {
        let getter = self.target_info_getter();
        let dbs = getter.fetch_remote_db_models().await?;
        if !dbs.iter().any(|d| d.name.eq_ignore_ascii_case(db)) {
            return Ok(Vec::new());
        }
        let tables = getter.fetch_remote_table_models(db).await?;
        Ok(tables
            .into_iter()
            .map(|core| TidbTableInfo::new(db, core))
            .collect())
    }
}

#[async_trait]
impl ImportTarget for TidbBackend {
    fn describe(&self) -> String {
        let cfg = self.config();
        let server = self.server_info();
        format!(
            "{:?} {} at {}:{}",
            server.kind, server.version_string, cfg.host, cfg.port
        )
    }

    async fn create_database(&self, db: &str, create_sql: Option<&str>) -> Result<()> {
        match create_sql {
            Some(sql) => self.execute_create(None, sql).await,
            None => TidbBackend::create_database(self, db).await,
        }
    }

    async fn create_table(&self, db: &str, table: &TableInfo) -> Result<TidbTableInfo> {
        let mut created = self.create_tables(db, std::slice::from_ref(table)).await?;
        created
            .pop()
            .ok_or_else(|| Error::internal("creating one table returned none"))
    }

    /// Runs every table's `CREATE TABLE`, then reads the database's tables
    /// back from `information_schema` once: a read per table would cost
    /// time proportional to the tables already there, quadratic in all.
    async fn create_tables(&self, db: &str, tables: &[TableInfo]) -> Result<Vec<TidbTableInfo>> {
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        TidbBackend::create_database(self, db).await?;
        // A resumed set-up finds most tables there: sending their CREATEs
        // again would cost a refused statement each.
        let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
        let existing = self.table_names(db, Some(&names)).await?;
        let mut statements = Vec::with_capacity(tables.len());
        for table in tables {
            if existing.contains(&table.name.to_ascii_lowercase()) {
                continue;
            }
            let sql = table.create_sql.clone().ok_or_else(|| {
                Error::config(format!(
                    "no CREATE TABLE statement for {}",
                    unique_table_name(db, &table.name)
                ))
            })?;
            statements.push(sql);
        }
        self.execute_creates(db, statements).await?;
        // Names compare case-insensitively, as the server's do; the first
        // in the server's order wins, as in `remote_table`.
        let mut remote: HashMap<String, TidbTableInfo> = HashMap::new();
        for core in self
            .target_info_getter()
            .fetch_table_models(db, Some(&names))
            .await?
        {
            let t = TidbTableInfo::new(db, core);
            remote.entry(t.name.to_ascii_lowercase()).or_insert(t);
        }
        tables
            .iter()
            .map(|table| {
                remote
                    .remove(&table.name.to_ascii_lowercase())
                    .ok_or_else(|| {
                        Error::internal(format!(
                            "{} was created but is not visible in information_schema",
                            unique_table_name(db, &table.name)
                        ))
                    })
            })
            .collect()
    }

    fn runs_create_statements(&self) -> bool {
        true
    }

    async fn create_view(&self, db: &str, _name: &str, create_sql: &str) -> Result<()> {
        TidbBackend::create_database(self, db).await?;
        self.execute_create(Some(db), create_sql).await
    }

    /// TiDB keeps `_tidb_rowid`; MySQL and MariaDB have no such column.
    fn keeps_tidb_rowid(&self) -> bool {
        self.server_info().is_tidb()
    }

    async fn existing_table(&self, db: &str, name: &str) -> Result<Option<TidbTableInfo>> {
        self.remote_table(db, name).await
    }

    async fn existing_tables(&self, db: &str, names: &[String]) -> Result<Vec<bool>> {
        let existing = self.table_names(db, None).await?;
        Ok(names
            .iter()
            .map(|n| existing.contains(&n.to_ascii_lowercase()))
            .collect())
    }

    async fn is_table_empty(&self, table: &TidbTableInfo) -> Result<bool> {
        // One row answers it; `COUNT(*)` would scan a large table.
        let name = unique_table_name(&table.db, &table.name);
        let sql = format!("SELECT 1 FROM {name} LIMIT 1");
        let pool = self.pool();
        let rows = with_retry(self.retry(), &format!("looking for rows in {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool)
        })
        .await?;
        Ok(rows.is_empty())
    }

    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> Result<()> {
        let next = u64::try_from(next).unwrap_or(1).max(1);
        self.alter_auto_increment(&table.db, &table.name, next)
            .await
    }

    async fn checksum(&self, table: &TidbTableInfo) -> Result<TargetChecksum> {
        // Rows arrive as SQL, so there is no local KV checksum to compare a
        // server-side one with: compare row counts.
        Ok(TargetChecksum::Rows(
            self.row_count(&table.db, &table.name).await?,
        ))
    }

    async fn drop_table(&self, db: &str, name: &str) -> Result<()> {
        let sql = format!(
            "DROP TABLE IF EXISTS {}.{}",
            quote_identifier(db),
            quote_identifier(name)
        );
        self.exec(&format!("dropping {}", unique_table_name(db, name)), sql)
            .await?;
        Ok(())
    }

    async fn analyze(&self, table: &TidbTableInfo) -> Result<()> {
        self.analyze_table(&table.db, &table.name).await
    }

    /// Secondary keys that no foreign key, auto-increment column or
    /// primary/unique constraint needs (see [`crate::indexes`]), as
    /// `SHOW CREATE TABLE` prints them now.
    async fn deferrable_indexes(&self, table: &TidbTableInfo) -> Result<Vec<DeferredIndex>> {
        let name = unique_table_name(&table.db, &table.name);
        let sql = format!("SHOW CREATE TABLE {name}");
        let pool = self.pool();
        let row = with_retry(
            self.retry(),
            &format!("reading the definition of {name}"),
            || sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool),
        )
        .await?;
        let create: String = row
            .try_get::<String, _>(1)
            .or_else(|_| {
                row.try_get::<Vec<u8>, _>(1)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .map_err(|e| TidbError::sql(format!("decoding the definition of {name}"), e))?;
        let what = format!("reading the foreign keys of {name}");
        let fk_columns: Vec<String> = with_retry(self.retry(), &what, || {
            sqlx::query_scalar(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL \
                 UNION SELECT REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?",
            )
            .bind(&table.db)
            .bind(&table.name)
            .bind(&table.db)
            .bind(&table.name)
            .fetch_all(pool)
        })
        .await?;
        Ok(crate::indexes::deferrable_indexes(
            &create,
            &table.core,
            &fk_columns,
        ))
    }

    /// `ALTER TABLE … DROP INDEX`; the server's "needed in a foreign key
    /// constraint" answer is `false`, "check that it exists" counts as
    /// dropped (a retried statement, or a resumed run).
    async fn drop_index(&self, table: &TidbTableInfo, name: &str) -> Result<bool> {
        let (db, index) = (&table.db, name);
        let name = unique_table_name(db, &table.name);
        let sql = format!("ALTER TABLE {name} DROP INDEX {}", quote_identifier(index));
        let result = self
            .exec(&format!("dropping index `{index}` of {name}"), sql)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match sql_number(&err) {
                Some(ER_CANT_DROP_FIELD_OR_KEY) => Ok(true),
                Some(ER_DROP_INDEX_FK) => Ok(false),
                _ => Err(err.into()),
            },
        }
    }

    async fn add_missing_indexes(
        &self,
        table: &TidbTableInfo,
        indexes: &[DeferredIndex],
    ) -> Result<usize> {
        // One `ALTER TABLE` for all of them, so the server reads the rows once.
        let (db, table) = (&table.db, &table.name);
        let name = unique_table_name(db, table);
        let what = format!("adding indexes to {name}");
        // A statement retried after a lost connection may find its indexes
        // built: read what exists again and add the rest.
        for _ in 0..3 {
            let present = self.index_names(db, table).await?;
            let missing: Vec<DeferredIndex> = indexes
                .iter()
                .filter(|i| !present.contains(&i.name.to_lowercase()))
                .cloned()
                .collect();
            if missing.is_empty() {
                return Ok(0);
            }
            let sql = DeferredIndex::alter_sql(&name, &missing);
            match self.exec(&what, sql).await {
                Ok(_) => return Ok(missing.len()),
                Err(err) if sql_number(&err) == Some(ER_DUP_KEYNAME) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(TidbError::Requirement(format!(
            "{what}: the server kept reporting an index as existing that information_schema does not list"
        ))
        .into())
    }
}
