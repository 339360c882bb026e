//! [`TidbBackend`]: the connection pool, the server's identity, the no-op
//! engines, and the administrative statements the pipeline needs.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{
    Backend, BackendMetrics, Capabilities, ChecksumKind, DuplicateModes, EncodingBuilder,
    EngineConfig, EngineWriter, Error, LocalWriterConfig, Result, RowEncoding,
};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::{Connection, MySqlConnection, MySqlPool, Row};
use uuid::Uuid;

use crate::config::{TidbBackendConfig, TlsMode};
use crate::encoder::{TidbEncodingBuilder, quoted};
use crate::error::TidbError;
use crate::errors_table::ErrorRecorder;
use crate::markers::{Forget, Markers};
use crate::retry::{RetryPolicy, with_retry};
use crate::server::{ServerInfo, ServerKind};
use crate::target::SCHEMA_SESSIONS;
use crate::target_info::TidbTargetInfoGetter;
use crate::writer::{TidbWriter, WriteContext};

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
    /// What the backend supports: SQL tuples written through, every
    /// duplicate mode (`REPLACE`, `INSERT IGNORE`, `INSERT` reporting the
    /// conflict), row-count checks and indexes deferred by SQL; no engine
    /// data of its own.
    pub const CAPABILITIES: Capabilities = Capabilities {
        encoding: RowEncoding::Sql,
        duplicate_modes: DuplicateModes::ALL,
        duplicate_detection: true,
        checksum: ChecksumKind::Rows,
        deferred_indexes: true,
        persistent_engines: false,
        reset_engine: false,
        engine_states: false,
        local_engine_data: false,
        parallel_writers: true,
    };

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
            // A session per writer, one for the rest, and the sessions
            // that create schema objects beside the writers.
            .max_connections(
                config
                    .region_concurrency
                    .saturating_add(1)
                    .saturating_add(SCHEMA_SESSIONS),
            )
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

        let markers = config.task_info_schema.as_ref().map(|schema| {
            Markers::new(
                backend_core::model::quote_identifier(schema),
                instance_prefix(),
            )
        });
        let recorder = Arc::new(ErrorRecorder::new(pool.clone(), &config));
        let write = Arc::new(WriteContext {
            pool: pool.clone(),
            on_duplicate: config.on_duplicate,
            batch_size: config.batch_size,
            batch_rows: config.batch_rows,
            max_allowed_packet: usize::try_from(effective_packet_limit(
                config.max_allowed_packet,
                server.max_allowed_packet,
            ))
            .unwrap_or(usize::MAX),
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

    pub(crate) fn retry(&self) -> RetryPolicy {
        self.inner.write.retry
    }

    pub(crate) async fn exec(&self, what: &str, sql: String) -> Result<u64, TidbError> {
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
}

#[async_trait]
impl Backend for TidbBackend {
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn close(&self) {
        if let Some(markers) = &self.inner.write.markers
            && let Err(err) = markers.close(&self.inner.pool, self.retry()).await
        {
            tracing::warn!(error = %err, "could not delete batch markers");
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
                    .forget_engine(&self.inner.pool, self.retry(), engine_uuid, Forget::Now)
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
                .forget_engine(&self.inner.pool, self.retry(), engine_uuid, Forget::Later)
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

/// The largest statement to send: the server's `max_allowed_packet`, and
/// `[tidb] max-allowed-packet` when set (not 0), whichever is smaller.
fn effective_packet_limit(configured: u64, server: u64) -> u64 {
    if configured == 0 {
        server
    } else {
        configured.min(server)
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

    #[test]
    fn packet_limit_is_the_smaller_of_config_and_server() {
        assert_eq!(effective_packet_limit(0, 1 << 30), 1 << 30);
        assert_eq!(effective_packet_limit(64 << 20, 1 << 30), 64 << 20);
        assert_eq!(effective_packet_limit(1 << 30, 16 << 20), 16 << 20);
    }
}
