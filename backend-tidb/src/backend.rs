//! [`TidbBackend`]: the connection pool, the server's identity, the no-op
//! engines, and the administrative statements the pipeline needs.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::model::{TidbTableInfo, unique_table_name};
use backend_core::{
    Backend, BackendMetrics, EncodingBuilder, EngineConfig, EngineWriter, Error, LocalWriterConfig,
    Result,
};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::{Connection, MySqlConnection, MySqlPool, Row};
use uuid::Uuid;

use crate::config::{TidbBackendConfig, TlsMode};
use crate::encoder::{TidbEncodingBuilder, quoted};
use crate::error::TidbError;
use crate::errors_table::ErrorRecorder;
use crate::indexes::IndexDefinition;
use crate::retry::{RetryPolicy, with_retry};
use crate::target_info::TidbTargetInfoGetter;
use crate::writer::{MARKER_TABLE, Markers, TidbWriter, WriteContext};

/// "Duplicate key name": the index exists.
const ER_DUP_KEYNAME: u16 = 1061;
/// "Can't DROP …; check that it exists".
const ER_CANT_DROP_FIELD_OR_KEY: u16 = 1091;
/// "Cannot drop index …: needed in a foreign key constraint".
const ER_DROP_INDEX_FK: u16 = 1553;

/// The server's error number of a failed statement.
fn sql_number(err: &TidbError) -> Option<u16> {
    match err {
        TidbError::Sql { source, .. } => crate::error::server_number(source),
        _ => None,
    }
}

/// Which server the backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// TiDB (its version is TiDB's, not the MySQL one it reports).
    Tidb,
    /// Oracle MySQL (and compatible servers that do not say otherwise).
    Mysql,
    /// MariaDB.
    Mariadb,
}

/// What the server said about itself when the backend connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The flavour.
    pub kind: ServerKind,
    /// `(major, minor, patch)` of the flavour's own version.
    pub version: (u32, u32, u32),
    /// `SELECT VERSION()` as returned.
    pub version_string: String,
    /// `@@max_allowed_packet` in bytes.
    pub max_allowed_packet: u64,
}

impl ServerInfo {
    /// Parses a `VERSION()` string: `10.11.6-MariaDB-0+deb12u1`,
    /// `5.5.5-10.11.6-MariaDB`, `8.0.11-TiDB-v7.5.0`, `8.0.35`.
    pub fn parse_version(text: &str) -> Result<(ServerKind, (u32, u32, u32)), TidbError> {
        let bad = || TidbError::Requirement(format!("cannot parse the server version {text:?}"));
        let (kind, numbers) = if let Some(pos) = text.find("-TiDB-") {
            let rest = &text[pos + "-TiDB-".len()..];
            (ServerKind::Tidb, rest.trim_start_matches('v'))
        } else if text.contains("MariaDB") {
            (
                ServerKind::Mariadb,
                text.strip_prefix("5.5.5-").unwrap_or(text),
            )
        } else {
            (ServerKind::Mysql, text)
        };
        let mut parts = numbers
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>());
        let major = parts.next().and_then(|p| p.ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.ok()).ok_or_else(bad)?;
        let patch = parts.next().and_then(|p| p.ok()).unwrap_or(0);
        Ok((kind, (major, minor, patch)))
    }

    /// Whether the server is TiDB.
    pub fn is_tidb(&self) -> bool {
        self.kind == ServerKind::Tidb
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

/// The logical backend: rows become batched statements on a MySQL-protocol
/// server (TiDB, MySQL or MariaDB). Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct TidbBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: TidbBackendConfig,
    pool: MySqlPool,
    server: ServerInfo,
    builder: TidbEncodingBuilder,
    write: Arc<WriteContext>,
}

/// A key prefix no other backend instance uses: random per process and
/// instance (std's `RandomState` is randomly seeded), plus the time.
fn instance_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let a = RandomState::new().hash_one(nanos);
    let b = RandomState::new().hash_one(std::process::id());
    format!("{a:016x}{b:016x}")
}

/// Session variables every connection gets before the user's.
fn default_session_vars() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    // Rows may arrive before the rows they reference.
    vars.insert("foreign_key_checks".to_string(), "0".to_string());
    vars
}

/// `SET SESSION …` for `sql_mode` and the session variables.
fn session_statement(sql_mode: &str, vars: &BTreeMap<String, String>) -> String {
    let mut sql = String::from("SET SESSION sql_mode = ");
    sql.push_str(&quoted(sql_mode, false));
    for (name, value) in vars {
        sql.push_str(", ");
        // Names were checked to be plain identifiers by validate().
        sql.push_str(name);
        sql.push_str(" = ");
        let numeric = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if numeric {
            sql.push_str(value);
        } else {
            sql.push_str(&quoted(value, false));
        }
    }
    sql
}

/// Drops `NO_AUTO_CREATE_USER` for servers that no longer know it
/// (MySQL 8.0+, TiDB accepts it).
fn sql_mode_for(server_kind: ServerKind, version: (u32, u32, u32), sql_mode: &str) -> String {
    if server_kind == ServerKind::Mysql && version.0 >= 8 {
        sql_mode
            .split(',')
            .map(str::trim)
            .filter(|m| !m.eq_ignore_ascii_case("NO_AUTO_CREATE_USER"))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        sql_mode.to_string()
    }
}

fn connect_options(config: &TidbBackendConfig) -> MySqlConnectOptions {
    let mut options = MySqlConnectOptions::new()
        .host(&config.host)
        .port(config.port)
        .username(&config.user)
        .charset("utf8mb4")
        // We set the whole sql_mode ourselves; sqlx's additions would change
        // how `||` parses and which engines are allowed.
        .pipes_as_concat(false)
        .no_engine_substitution(false);
    if !config.password.is_empty() {
        options = options.password(&config.password);
    }
    let mode = match config.effective_tls() {
        TlsMode::Disabled | TlsMode::Auto => MySqlSslMode::Disabled,
        TlsMode::SkipVerify => MySqlSslMode::Required,
        TlsMode::Preferred => MySqlSslMode::Preferred,
        TlsMode::Cluster => MySqlSslMode::VerifyIdentity,
    };
    options = options.ssl_mode(mode);
    if let Some(ca) = &config.ca_path {
        options = options.ssl_ca(ca);
    }
    if let (Some(cert), Some(key)) = (&config.cert_path, &config.key_path) {
        options = options.ssl_client_cert(cert).ssl_client_key(key);
    }
    options
}

impl TidbBackend {
    /// Validates `config`, connects once to learn the server's version and
    /// `max_allowed_packet`, and opens a pool of `region-concurrency`
    /// connections (plus one for error records and admin statements).
    ///
    /// Errors: `Config` for invalid values or unreadable certificates,
    /// `TargetUnavailable` when the server cannot be reached.
    pub async fn connect(config: TidbBackendConfig) -> Result<Self> {
        config.validate()?;
        for path in [&config.ca_path, &config.cert_path, &config.key_path]
            .into_iter()
            .flatten()
        {
            std::fs::metadata(path).map_err(|source| TidbError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?;
        }
        let options = connect_options(&config);
        let retry = RetryPolicy {
            max_attempts: config.max_attempts,
            backoff: config.retry_backoff,
        };
        let endpoint = format!("{}:{}", config.host, config.port);
        let mut conn = with_retry(retry, &format!("connecting to {endpoint}"), || {
            MySqlConnection::connect_with(&options)
        })
        .await?;
        let row = sqlx::query("SELECT VERSION(), CAST(@@max_allowed_packet AS UNSIGNED)")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| TidbError::sql(format!("reading the version of {endpoint}"), e))?;
        let version_string: String = row
            .try_get(0)
            .map_err(|e| TidbError::sql("decoding VERSION()", e))?;
        let max_allowed_packet: u64 = row
            .try_get(1)
            .map_err(|e| TidbError::sql("decoding @@max_allowed_packet", e))?;
        let _ = conn.close().await;
        let (kind, version) = ServerInfo::parse_version(&version_string)?;
        let server = ServerInfo {
            kind,
            version,
            version_string,
            max_allowed_packet,
        };

        let mut vars = default_session_vars();
        vars.extend(config.session_vars.clone());
        let sql_mode = sql_mode_for(kind, version, &config.sql_mode);
        let init: Arc<str> = session_statement(&sql_mode, &vars).into();
        let pool = MySqlPoolOptions::new()
            .max_connections(config.region_concurrency.saturating_add(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(60))
            .test_before_acquire(true)
            .after_connect(move |conn, _meta| {
                let init = Arc::clone(&init);
                Box::pin(async move {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(init))
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect_lazy_with(options);
        // Fail now, with the server's message, if the session settings are
        // rejected (an sql_mode the server does not know, say).
        with_retry(retry, &format!("opening a session on {endpoint}"), || {
            pool.acquire()
        })
        .await?;

        let markers = match &config.task_info_schema {
            Some(schema) => {
                let schema_q = backend_core::model::quote_identifier(schema);
                Some(Markers {
                    table: format!("{schema_q}.{MARKER_TABLE}"),
                    prefix: instance_prefix(),
                    next: AtomicU64::new(0),
                    schema: schema_q,
                    ready: tokio::sync::OnceCell::new(),
                    engines: Default::default(),
                })
            }
            None => None,
        };
        let recorder = Arc::new(ErrorRecorder::new(pool.clone(), &config));
        let write = Arc::new(WriteContext {
            pool: pool.clone(),
            on_duplicate: config.on_duplicate,
            batch_size: config.batch_size,
            batch_rows: config.batch_rows,
            max_allowed_packet: usize::try_from(server.max_allowed_packet).unwrap_or(usize::MAX),
            retry,
            recorder,
            markers,
            metrics: Arc::new(BackendMetrics::default()),
        });
        let builder = TidbEncodingBuilder::new(config.parsed_sql_mode()?);
        Ok(TidbBackend {
            inner: Arc::new(Inner {
                config,
                pool,
                server,
                builder,
                write,
            }),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.inner.pool
    }

    /// The server's identity, read at connect time.
    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.server
    }

    /// The configuration the backend runs with.
    pub fn config(&self) -> &TidbBackendConfig {
        &self.inner.config
    }

    /// Type errors counted so far (skipped rows plus the fatal one, if any).
    pub fn type_error_count(&self) -> u64 {
        self.inner.write.recorder.type_error_count()
    }

    /// Duplicates counted so far.
    pub fn conflict_count(&self) -> u64 {
        self.inner.write.recorder.conflict_count()
    }

    /// A [`backend_core::TargetInfoGetter`] on the same pool.
    pub fn target_info_getter(&self) -> TidbTargetInfoGetter {
        TidbTargetInfoGetter::new(self.inner.pool.clone(), self.inner.server.clone())
    }

    fn retry(&self) -> RetryPolicy {
        self.inner.write.retry
    }

    async fn exec(&self, what: &str, sql: String) -> Result<u64, TidbError> {
        let sql: Arc<str> = sql.into();
        let pool = &self.inner.pool;
        with_retry(self.retry(), what, || async {
            sqlx::raw_sql(sqlx::AssertSqlSafe(Arc::clone(&sql)))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .await
    }

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
            let mut conn = self.inner.pool.acquire().await?;
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
            Err(TidbError::Sql { ref source, .. })
                if matches!(crate::error::server_number(source), Some(1007 | 1050)) =>
            {
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// `ALTER TABLE … AUTO_INCREMENT = next`: the next value the table
    /// allocates (never lowered by the server below existing rows).
    pub async fn alter_auto_increment(&self, db: &str, table: &str, next: u64) -> Result<()> {
        let name = unique_table_name(db, table);
        let force = if self.inner.server.is_tidb() {
            "FORCE "
        } else {
            ""
        };
        let sql = format!("ALTER TABLE {name} {force}AUTO_INCREMENT = {next}");
        self.exec(&format!("rebasing the auto-increment of {name}"), sql)
            .await?;
        Ok(())
    }

    /// `SELECT COUNT(*)`.
    pub async fn row_count(&self, db: &str, table: &str) -> Result<u64> {
        let name = unique_table_name(db, table);
        let sql = format!("SELECT CAST(COUNT(*) AS UNSIGNED) FROM {name}");
        let pool = &self.inner.pool;
        let count: u64 = with_retry(self.retry(), &format!("counting rows of {name}"), || {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool)
        })
        .await?;
        Ok(count)
    }

    /// `CHECKSUM TABLE` (MySQL/MariaDB); `None` when the server returns
    /// NULL (no such table).
    pub async fn checksum_table(&self, db: &str, table: &str) -> Result<Option<u64>> {
        let name = unique_table_name(db, table);
        let sql = format!("CHECKSUM TABLE {name}");
        let pool = &self.inner.pool;
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
        let pool = &self.inner.pool;
        with_retry(self.retry(), &format!("analyzing {name}"), || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool)
        })
        .await?;
        Ok(())
    }

    /// The secondary indexes of `table` that may be built after the rows
    /// are in (`add-index-by-sql`, see [`crate::indexes`]), as the server
    /// defines them now.
    pub async fn deferrable_indexes(&self, table: &TidbTableInfo) -> Result<Vec<IndexDefinition>> {
        let name = unique_table_name(&table.db, &table.name);
        let sql = format!("SHOW CREATE TABLE {name}");
        let pool = &self.inner.pool;
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

    /// Drops index `index` of the table. `Ok(false)` when the server keeps
    /// it because a foreign key needs it; an index already gone counts as
    /// dropped (a retried statement, or a resumed run).
    pub async fn drop_index(&self, db: &str, table: &str, index: &str) -> Result<bool> {
        let name = unique_table_name(db, table);
        let sql = format!(
            "ALTER TABLE {name} DROP INDEX {}",
            backend_core::model::quote_identifier(index)
        );
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

    /// Adds those of `indexes` the table lacks, in one `ALTER TABLE` so the
    /// server reads the rows once; returns how many it added.
    pub async fn add_missing_indexes(
        &self,
        db: &str,
        table: &str,
        indexes: &[IndexDefinition],
    ) -> Result<usize> {
        let name = unique_table_name(db, table);
        let what = format!("adding indexes to {name}");
        // A statement retried after a lost connection may find its indexes
        // built: read what exists again and add the rest.
        for _ in 0..3 {
            let present = self.index_names(db, table).await?;
            let missing: Vec<&IndexDefinition> = indexes
                .iter()
                .filter(|i| !present.contains(&i.name.to_lowercase()))
                .collect();
            if missing.is_empty() {
                return Ok(0);
            }
            let adds: Vec<String> = missing
                .iter()
                .map(|i| format!("ADD {}", i.definition))
                .collect();
            let sql = format!("ALTER TABLE {name} {}", adds.join(", "));
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

    /// Names of the table's indexes, lowercased (index names are
    /// case-insensitive).
    async fn index_names(&self, db: &str, table: &str) -> Result<HashSet<String>> {
        let pool = &self.inner.pool;
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
        if !self.inner.server.is_tidb() {
            return Err(TidbError::Unsupported(format!(
                "ADMIN CHECKSUM TABLE needs TiDB; the server is {}",
                self.inner.server.version_string
            ))
            .into());
        }
        let name = unique_table_name(db, table);
        let sql = format!("ADMIN CHECKSUM TABLE {name}");
        let pool = &self.inner.pool;
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

#[async_trait]
impl Backend for TidbBackend {
    async fn close(&self) {
        if let Some(markers) = &self.inner.write.markers {
            // Per-instance markers (rows without a source position) only
            // matter while this instance retries statements.
            let sql = format!(
                "DELETE FROM {} WHERE batch_key LIKE '{}-%'",
                markers.table, markers.prefix
            );
            if let Err(err) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&self.inner.pool)
                .await
            {
                tracing::warn!(error = %err, "could not delete batch markers");
            }
        }
        self.inner.pool.close().await;
    }

    fn retry_import_delay(&self) -> Duration {
        // Nothing is imported after the writers: importing never fails.
        Duration::ZERO
    }

    fn should_post_process(&self) -> bool {
        true
    }

    fn encoding_builder(&self) -> Arc<dyn EncodingBuilder> {
        Arc::new(self.inner.builder)
    }

    async fn open_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()> {
        // A fresh start must not take an abandoned run's statements for
        // its own (see `Markers`).
        if let Some(markers) = &self.inner.write.markers {
            if !config.keep_sort_dir {
                markers
                    .forget_engine(&self.inner.pool, self.retry(), engine_uuid)
                    .await?;
            }
            markers.manage(engine_uuid);
        }
        Ok(())
    }

    async fn close_engine(&self, _config: &EngineConfig, _engine_uuid: Uuid) -> Result<()> {
        Ok(())
    }

    async fn import_engine(&self, _uuid: Uuid, _split_size: u64, _split_keys: u64) -> Result<()> {
        // Rows were written by the writers already.
        Ok(())
    }

    async fn cleanup_engine(&self, engine_uuid: Uuid) -> Result<()> {
        if let Some(markers) = &self.inner.write.markers {
            markers
                .forget_engine(&self.inner.pool, self.retry(), engine_uuid)
                .await?;
        }
        Ok(())
    }

    async fn flush_engine(&self, _engine_uuid: Uuid) -> Result<()> {
        Ok(())
    }

    fn metrics(&self) -> Option<Arc<BackendMetrics>> {
        Some(Arc::clone(&self.inner.write.metrics))
    }

    async fn flush_all_engines(&self) -> Result<()> {
        Ok(())
    }

    async fn reset_engine(&self, engine_uuid: Uuid) -> Result<()> {
        Err(Error::unsupported(format!(
            "cannot reset engine {engine_uuid}: the tidb backend writes rows straight to the server and keeps no engine data"
        )))
    }

    async fn local_writer(
        &self,
        config: &LocalWriterConfig,
        engine_uuid: Uuid,
    ) -> Result<Box<dyn EngineWriter>> {
        if config.table_name.is_empty() {
            return Err(Error::config(
                "the tidb backend needs LocalWriterConfig::table_name (`db`.`tbl`)",
            ));
        }
        Ok(Box::new(TidbWriter::new(
            Arc::clone(&self.inner.write),
            config.table_name.clone(),
            self.inner
                .write
                .markers
                .as_ref()
                .filter(|m| m.manages(engine_uuid))
                .map(|_| engine_uuid),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let cases = [
            (
                "10.11.6-MariaDB-0+deb12u1",
                ServerKind::Mariadb,
                (10, 11, 6),
            ),
            (
                "5.5.5-10.4.32-MariaDB-log",
                ServerKind::Mariadb,
                (10, 4, 32),
            ),
            ("8.0.11-TiDB-v7.5.1", ServerKind::Tidb, (7, 5, 1)),
            ("5.7.25-TiDB-v6.5.0-alpha", ServerKind::Tidb, (6, 5, 0)),
            ("8.0.35-0ubuntu0.22.04.1", ServerKind::Mysql, (8, 0, 35)),
            ("5.7.44", ServerKind::Mysql, (5, 7, 44)),
        ];
        for (text, kind, version) in cases {
            let parsed = ServerInfo::parse_version(text).ok();
            assert_eq!(parsed, Some((kind, version)), "{text}");
        }
        assert!(ServerInfo::parse_version("garbage").is_err());
    }

    #[test]
    fn session_statement_quotes_values() {
        let mut vars = default_session_vars();
        vars.insert("time_zone".into(), "+08:00".into());
        vars.insert("tidb_txn_mode".into(), "pe'ss".into());
        let sql = session_statement("STRICT_TRANS_TABLES", &vars);
        assert_eq!(
            sql,
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES', foreign_key_checks = 0, tidb_txn_mode = 'pe\\'ss', time_zone = '+08:00'"
        );
        assert_eq!(
            sql_mode_for(
                ServerKind::Mysql,
                (8, 0, 35),
                "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
            ),
            "ONLY_FULL_GROUP_BY"
        );
        assert_eq!(
            sql_mode_for(ServerKind::Mariadb, (10, 11, 6), "A,NO_AUTO_CREATE_USER"),
            "A,NO_AUTO_CREATE_USER"
        );
    }
}
