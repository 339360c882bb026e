//! The backend's configuration: where the server is, how to talk to it, how
//! statements are batched and how many bad rows are tolerated.
//!
//! Key names follow `tidb-lightning.toml` (`[tidb]`, `[tikv-importer]`,
//! `[conflict]`, `[lightning] max-error`); the CLI maps its file into this
//! struct. [`TidbBackendConfig::validate`] is the one place values are
//! checked; invalid values are errors naming the key, never silently fixed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use backend_core::SqlMode;
use serde::Deserialize;

use crate::error::TidbError;

/// What a duplicate key does (`on-duplicate` / `[conflict] strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDuplicate {
    /// `REPLACE INTO`: the imported row replaces the existing one.
    #[default]
    Replace,
    /// `INSERT IGNORE INTO`: the existing row wins.
    Ignore,
    /// `INSERT INTO`: the first duplicate stops the table.
    Error,
}

impl OnDuplicate {
    /// Parses the config value (`replace`, `ignore`, `error`).
    pub fn parse(value: &str) -> Result<Self, TidbError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "replace" => Ok(OnDuplicate::Replace),
            "ignore" => Ok(OnDuplicate::Ignore),
            "error" => Ok(OnDuplicate::Error),
            _ => Err(TidbError::Config(format!(
                "on-duplicate: {value:?} is not one of \"replace\", \"ignore\", \"error\""
            ))),
        }
    }

    /// The statement head for this mode.
    pub fn statement_head(self) -> &'static str {
        match self {
            OnDuplicate::Replace => "REPLACE INTO ",
            OnDuplicate::Ignore => "INSERT IGNORE INTO ",
            OnDuplicate::Error => "INSERT INTO ",
        }
    }
}

/// `[tidb] tls`: whether and how the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// `""`: like `cluster` when a CA is configured, otherwise no TLS.
    #[default]
    Auto,
    /// `"false"`: plain connection.
    Disabled,
    /// `"skip-verify"`: encrypted, the server certificate is not verified.
    SkipVerify,
    /// `"preferred"`: encrypted when the server offers TLS, plain otherwise,
    /// without verification.
    Preferred,
    /// `"cluster"`: encrypted and verified against `ca-path` (certificate
    /// chain and host name), with the client certificate when given.
    Cluster,
}

impl TlsMode {
    /// Parses `""`, `"false"`, `"skip-verify"`, `"preferred"`, `"cluster"`.
    pub fn parse(value: &str) -> Result<Self, TidbError> {
        match value.trim() {
            "" => Ok(TlsMode::Auto),
            "false" => Ok(TlsMode::Disabled),
            "skip-verify" => Ok(TlsMode::SkipVerify),
            "preferred" => Ok(TlsMode::Preferred),
            "cluster" => Ok(TlsMode::Cluster),
            other => Err(TidbError::Config(format!(
                "tidb.tls: {other:?} is not one of \"\", \"false\", \"skip-verify\", \"preferred\", \"cluster\""
            ))),
        }
    }
}

/// Configuration of [`crate::TidbBackend`].
///
/// `Debug` never prints the password.
#[derive(Clone, PartialEq)]
pub struct TidbBackendConfig {
    /// `[tidb] host`.
    pub host: String,
    /// `[tidb] port`.
    pub port: u16,
    /// `[tidb] user`.
    pub user: String,
    /// `[tidb] password`. Never logged.
    pub password: String,
    /// `[tidb] sql-mode`, set on every session. Also decides how string
    /// literals are escaped (`NO_BACKSLASH_ESCAPES`).
    pub sql_mode: String,
    /// `[tidb.session-vars]`, set on every session after the defaults
    /// (`foreign_key_checks=0`, `unique_checks=1`…); keys are variable
    /// names, values are sent as quoted strings or bare numbers.
    pub session_vars: BTreeMap<String, String>,
    /// `[tidb] tls`.
    pub tls: TlsMode,
    /// `[security] ca-path`: PEM CA bundle that signs the server certificate.
    pub ca_path: Option<PathBuf>,
    /// `[security] cert-path`: PEM client certificate.
    pub cert_path: Option<PathBuf>,
    /// `[security] key-path`: PEM client private key.
    pub key_path: Option<PathBuf>,
    /// `[tikv-importer] on-duplicate` / `[conflict] strategy`.
    pub on_duplicate: OnDuplicate,
    /// `[tikv-importer] logical-import-batch-size`: statement payload bytes.
    pub batch_size: usize,
    /// `[tikv-importer] logical-import-batch-rows`: rows per statement.
    pub batch_rows: usize,
    /// `[lightning] max-error.type`: bad rows (type errors) that are recorded
    /// and skipped before the import stops.
    pub max_error_type: u64,
    /// `[conflict] threshold`: duplicate rows tolerated (recorded in
    /// `conflict_records` under `error` only when this is above 0; counted
    /// from affected rows under `replace`/`ignore`). `None`: unlimited.
    pub conflict_threshold: Option<u64>,
    /// `[lightning] task-info-schema-name`: where error records go; `None`
    /// disables recording (errors are still counted).
    pub task_info_schema: Option<String>,
    /// The task id written into error records.
    pub task_id: i64,
    /// `[lightning] region-concurrency`: size of the connection pool.
    pub region_concurrency: u32,
    /// `[tidb] max-allowed-packet`: the largest statement sent, in bytes,
    /// as the client limit of Lightning's driver; the server's
    /// `max_allowed_packet` caps it too. 0: the server's alone.
    pub max_allowed_packet: u64,
    /// Attempts per statement when the error is transient.
    pub max_attempts: u32,
    /// First backoff between attempts; doubles after each.
    pub retry_backoff: Duration,
}

impl fmt::Debug for TidbBackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TidbBackendConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "******"
                },
            )
            .field("sql_mode", &self.sql_mode)
            .field("session_vars", &self.session_vars)
            .field("tls", &self.tls)
            .field("ca_path", &self.ca_path)
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("on_duplicate", &self.on_duplicate)
            .field("batch_size", &self.batch_size)
            .field("batch_rows", &self.batch_rows)
            .field("max_error_type", &self.max_error_type)
            .field("conflict_threshold", &self.conflict_threshold)
            .field("task_info_schema", &self.task_info_schema)
            .field("task_id", &self.task_id)
            .field("region_concurrency", &self.region_concurrency)
            .field("max_allowed_packet", &self.max_allowed_packet)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

/// Lightning's default `logical-import-batch-size`: 96 KiB.
pub const DEFAULT_BATCH_SIZE: usize = 96 * 1024;
/// Lightning's default `logical-import-batch-rows`.
pub const DEFAULT_BATCH_ROWS: usize = 65536;
/// Lightning's default `[tidb] sql-mode`.
pub const DEFAULT_SQL_MODE: &str = "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER";
/// Lightning's default `task-info-schema-name`.
pub const DEFAULT_TASK_INFO_SCHEMA: &str = "lightning_task_info";

impl Default for TidbBackendConfig {
    fn default() -> Self {
        TidbBackendConfig {
            host: "127.0.0.1".into(),
            port: 4000,
            user: "root".into(),
            password: String::new(),
            sql_mode: DEFAULT_SQL_MODE.into(),
            session_vars: BTreeMap::new(),
            tls: TlsMode::Auto,
            ca_path: None,
            cert_path: None,
            key_path: None,
            on_duplicate: OnDuplicate::Replace,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_rows: DEFAULT_BATCH_ROWS,
            max_error_type: 0,
            conflict_threshold: None,
            task_info_schema: Some(DEFAULT_TASK_INFO_SCHEMA.into()),
            task_id: 0,
            region_concurrency: 4,
            max_allowed_packet: 0,
            max_attempts: 3,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl TidbBackendConfig {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), TidbError> {
        let bad = |key: &str, why: &str| Err(TidbError::Config(format!("{key}: {why}")));
        if self.host.trim().is_empty() {
            return bad("tidb.host", "must not be empty");
        }
        if self.port == 0 {
            return bad("tidb.port", "must be between 1 and 65535");
        }
        if self.user.is_empty() {
            return bad("tidb.user", "must not be empty");
        }
        self.parsed_sql_mode()?;
        if self.batch_size == 0 {
            return bad("tikv-importer.logical-import-batch-size", "must be above 0");
        }
        if self.batch_rows == 0 {
            return bad("tikv-importer.logical-import-batch-rows", "must be above 0");
        }
        if self.region_concurrency == 0 {
            return bad("lightning.region-concurrency", "must be above 0");
        }
        if self.max_attempts == 0 {
            return bad("tidb.max-attempts", "must be above 0");
        }
        if self.tls == TlsMode::Cluster && self.ca_path.is_none() {
            return bad("tidb.tls", "\"cluster\" needs security.ca-path");
        }
        if self.cert_path.is_some() != self.key_path.is_some() {
            return bad(
                "security.cert-path",
                "cert-path and key-path must be given together",
            );
        }
        for name in self.session_vars.keys() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return bad(
                    "tidb.session-vars",
                    &format!("{name:?} is not a variable name"),
                );
            }
        }
        if let Some(schema) = &self.task_info_schema
            && schema.is_empty()
        {
            return bad("lightning.task-info-schema-name", "must not be empty");
        }
        Ok(())
    }

    /// The parsed `sql-mode`.
    pub fn parsed_sql_mode(&self) -> Result<SqlMode, TidbError> {
        SqlMode::parse(&self.sql_mode)
            .map_err(|e| TidbError::Config(format!("tidb.sql-mode: {}", e.message())))
    }

    /// The TLS mode actually used once `Auto` is resolved.
    pub fn effective_tls(&self) -> TlsMode {
        match self.tls {
            TlsMode::Auto if self.ca_path.is_some() => TlsMode::Cluster,
            TlsMode::Auto => TlsMode::Disabled,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_password() {
        let config = TidbBackendConfig {
            password: "s3cr3t-pa55".into(),
            ..TidbBackendConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("s3cr3t-pa55"), "{text}");
        assert!(text.contains("******"));
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("s3cr3t"));
    }

    #[test]
    fn validate_names_the_key() {
        let mut config = TidbBackendConfig {
            batch_rows: 0,
            ..TidbBackendConfig::default()
        };
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("logical-import-batch-rows")));
        config.batch_rows = 10;
        config.tls = TlsMode::Cluster;
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("tidb.tls")));
        config.tls = TlsMode::Auto;
        config.sql_mode = "BOGUS".into();
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("tidb.sql-mode")));
        config.sql_mode = DEFAULT_SQL_MODE.into();
        config.session_vars.insert("x; DROP".into(), "1".into());
        assert!(config.validate().is_err());
    }

    #[test]
    fn parse_modes() {
        assert_eq!(OnDuplicate::parse("IGNORE").ok(), Some(OnDuplicate::Ignore));
        assert!(OnDuplicate::parse("merge").is_err());
        assert_eq!(TlsMode::parse("").ok(), Some(TlsMode::Auto));
        assert_eq!(
            TlsMode::parse("skip-verify").ok(),
            Some(TlsMode::SkipVerify)
        );
        assert!(TlsMode::parse("yes").is_err());
        let auto_with_ca = TidbBackendConfig {
            ca_path: Some("/ca.pem".into()),
            ..TidbBackendConfig::default()
        };
        assert_eq!(auto_with_ca.effective_tls(), TlsMode::Cluster);
    }
}
