//! The importer's configuration: `tidb-lightning.toml`'s sections and keys,
//! typed, layered and validated in one place.
//!
//! # Design
//!
//! [`Config`] mirrors Lightning's `config.Config` section by section with
//! the same key names, so a `tidb-lightning.toml` written for Lightning's
//! local or tidb backend loads unchanged. Ours are added in the same style:
//! `[store] path` (the local target store) and `lightning.log-format`.
//!
//! Layers, lowest first: built-in defaults (each section's `Default`) <
//! the TOML file < `IMPORTER_<SECTION>__<KEY>` environment variables (see
//! [`load`](mod@load)) < command-line flags ([`Overrides`]).
//!
//! Loading ([`load()`]) goes:
//! 1. the file is parsed once with spans ([`file`]): Lightning settings we
//!    have no use for are set aside with a warning (or refused where
//!    ignoring them would change the result), then the rest is checked
//!    strictly against the typed structs, so an unknown key or a bad value
//!    is reported with its file line;
//! 2. the layers are merged by the `config` crate. We use it for what it
//!    does well: merging nested tables by key path and coercing the string
//!    values of environment variables and flags into the target types
//!    (`"4000"` → `u16`, `"false"` → `bool`), with the source named in its
//!    errors. Parsing the file ourselves first is what gives line numbers,
//!    which the crate does not keep;
//! 3. [`validate`] applies the cross-key rules and fills in automatic
//!    values, so the rest of the program reads effective settings.
//!
//! `Debug`, `Display` and `Serialize` redact `tidb.password` and passwords
//! inside `checkpoint.dsn`.

mod error;
mod file;
pub mod keys;
mod load;
mod redact;
mod sections;
mod source_url;
mod types;
mod validate;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Origin, Origins, UnknownKey};
pub use load::{ENV_PREFIX, EnvVars, LoadOptions, Loaded, Overrides, load, log_file_hint};
pub use redact::{REDACTED, redact_dsn};
pub use sections::{
    BlackWhiteList, BwTable, CheckpointConfig, ConflictConfig, CronConfig, CsvConfig,
    DEFAULT_FILTER, DEFAULT_STORE_PATH, FileRule, LightningConfig, MydumperConfig,
    PostRestoreConfig, RouteRule, SecurityConfig, SourceDir, StoreConfig, TidbConfig,
    TikvImporterConfig, cpu_count,
};
pub use types::{
    Backend, ByteSize, CheckpointDriver, ConflictStrategy, DataCharset, GoDuration,
    KeepAfterSuccess, Keyword, KvCompression, LogFormat, LogLevel, MaxError, PostOpLevel,
    SchemaCharset, TlsMode, keyword_error, parse_keyword,
};
pub use validate::DEFAULT_CONFLICT_THRESHOLD;

/// The whole configuration, one field per `tidb-lightning.toml` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// `[lightning]`: logging, concurrency, error tolerance, status server.
    pub lightning: LightningConfig,
    /// `[checkpoint]`: crash-safe resume.
    pub checkpoint: CheckpointConfig,
    /// `[conflict]`: duplicate-key handling.
    pub conflict: ConflictConfig,
    /// `[tikv-importer]`: backend and tuning.
    pub tikv_importer: TikvImporterConfig,
    /// `[mydumper]`: the data source.
    pub mydumper: MydumperConfig,
    /// `[tidb]`: the SQL target and SQL settings.
    pub tidb: TidbConfig,
    /// `[post-restore]`: checksum, analyze.
    pub post_restore: PostRestoreConfig,
    /// `[cron]`: periodic actions.
    pub cron: CronConfig,
    /// `[[routes]]`: schema/table renaming.
    pub routes: Vec<RouteRule>,
    /// `[security]`: TLS files.
    pub security: SecurityConfig,
    /// `[store]` (ours): the local target store.
    pub store: StoreConfig,
    /// `[black-white-list]`: the deprecated table filter.
    pub black_white_list: BlackWhiteList,
}

impl Config {
    /// Checks what an import needs beyond a valid config: a data source.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] when `mydumper.data-source-dir` is empty.
    pub fn require_data_source(&self, origins: &Origins) -> Result<(), ConfigError> {
        if self.mydumper.data_source_dir.is_empty() {
            return Err(ConfigError::InvalidValue {
                key: "mydumper.data-source-dir".into(),
                origin: origins.of("mydumper.data-source-dir"),
                reason: "not set; pass -d DIR or set it in [mydumper]".into(),
            });
        }
        Ok(())
    }
}

/// One line of JSON with secrets redacted, for logs.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}
