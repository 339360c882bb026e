//! The sections of `tidb-lightning.toml`, one struct each, with Lightning's
//! key names and defaults (ours where noted).
//!
//! Every struct rejects unknown keys (`deny_unknown_fields`) and fills
//! missing keys from its `Default`, so the built-in defaults are the bottom
//! layer. Passwords are redacted in `Debug` and `Serialize`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::redact::{REDACTED, redact_dsn};
use super::types::{
    Backend, ByteSize, CheckpointDriver, ConflictStrategy, DataCharset, GoDuration,
    KeepAfterSuccess, KvCompression, LogFormat, LogLevel, MaxError, PostOpLevel, SchemaCharset,
    TlsMode, scalar_map, string_or_list,
};

/// The default `[store] path`: where the local backend's target store lives.
pub const DEFAULT_STORE_PATH: &str = "./importer-store";

/// Lightning's default table filter: everything except system schemas.
pub const DEFAULT_FILTER: &[&str] = &[
    "*.*",
    "!mysql.*",
    "!sys.*",
    "!INFORMATION_SCHEMA.*",
    "!PERFORMANCE_SCHEMA.*",
    "!METRICS_SCHEMA.*",
    "!INSPECTION_SCHEMA.*",
];

/// The number of CPUs, Lightning's default `region-concurrency`.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `[lightning]`: logging, concurrency, error tolerance, status server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LightningConfig {
    /// Log level (`-L`).
    pub level: LogLevel,
    /// Log file (`--log-file`); empty or `-` logs to stderr.
    pub file: String,
    /// Ours: log line format (`--log-format`).
    pub log_format: LogFormat,
    /// Log file size in MB at which it is rotated (0 = 512).
    pub max_size: u64,
    /// Days rotated log files are kept (0 = 7).
    pub max_days: u64,
    /// Rotated log files kept (0 = all).
    pub max_backups: u64,
    /// Address of the HTTP status server (`/metrics`, `/progress`, `/`);
    /// empty disables it. Lightning's sample uses `":8289"`.
    pub status_addr: String,
    /// Check the target's version and settings before importing.
    pub check_requirements: bool,
    /// Workers that parse and encode chunks. Default: number of CPUs.
    pub region_concurrency: usize,
    /// Tables open at once. 0 = auto (6 for local; `region-concurrency` for tidb).
    pub table_concurrency: usize,
    /// Index engines open at once. 0 = auto (2 for local; `region-concurrency` for tidb).
    pub index_concurrency: usize,
    /// Concurrent file reads.
    pub io_concurrency: usize,
    /// Tolerated bad rows per kind.
    pub max_error: MaxError,
    /// Schema on the target that records errors and conflicts; empty disables recording.
    pub task_info_schema_name: String,
    /// Schema on the target for task metadata.
    pub meta_schema_name: String,
}

impl Default for LightningConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            file: String::new(),
            log_format: LogFormat::Text,
            max_size: 512,
            max_days: 7,
            max_backups: 0,
            status_addr: String::new(),
            check_requirements: true,
            region_concurrency: cpu_count(),
            table_concurrency: 0,
            index_concurrency: 0,
            io_concurrency: 5,
            max_error: MaxError::default(),
            task_info_schema_name: "lightning_task_info".into(),
            meta_schema_name: "lightning_metadata".into(),
        }
    }
}

/// `[checkpoint]`: crash-safe resume.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Record progress so an interrupted import resumes (`--enable-checkpoint`).
    pub enable: bool,
    /// Schema (mysql driver) or name stem (file driver) of the checkpoints.
    pub schema: String,
    /// Where checkpoints are kept.
    pub driver: CheckpointDriver,
    /// File path (file driver) or `user:pass@tcp(host:port)/` (mysql driver).
    /// Empty: the checkpoint module picks a location beside the target, so
    /// two unrelated imports never share one. May hold a password: redacted
    /// in logs.
    pub dsn: String,
    /// What to do with checkpoints after success.
    pub keep_after_success: KeepAfterSuccess,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            enable: true,
            schema: "tidb_lightning_checkpoint".into(),
            driver: CheckpointDriver::File,
            dsn: String::new(),
            keep_after_success: KeepAfterSuccess::Remove,
        }
    }
}

/// The DSN as it may be shown in logs.
struct RedactedDsn<'a>(&'a str);

impl fmt::Debug for RedactedDsn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_dsn(self.0), f)
    }
}

impl fmt::Debug for CheckpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointConfig")
            .field("enable", &self.enable)
            .field("schema", &self.schema)
            .field("driver", &self.driver)
            .field("dsn", &RedactedDsn(&self.dsn))
            .field("keep_after_success", &self.keep_after_success)
            .finish()
    }
}

impl Serialize for CheckpointConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "kebab-case")]
        struct Shown<'a> {
            enable: bool,
            schema: &'a str,
            driver: CheckpointDriver,
            dsn: String,
            keep_after_success: KeepAfterSuccess,
        }
        Shown {
            enable: self.enable,
            schema: &self.schema,
            driver: self.driver,
            dsn: redact_dsn(&self.dsn),
            keep_after_success: self.keep_after_success,
        }
        .serialize(s)
    }
}

/// `[conflict]`: rows whose primary/unique key is already taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ConflictConfig {
    /// What to do with conflicting rows.
    pub strategy: ConflictStrategy,
    /// Conflicts tolerated (replace/ignore) before the import stops.
    /// Absent: 10000 for replace/ignore, 0 otherwise.
    pub threshold: Option<u64>,
    /// Conflicting rows recorded in the task-info schema. Lightning (since
    /// v8.1) always uses `threshold`; so do we.
    pub max_record_rows: Option<u64>,
}

impl Default for ConflictConfig {
    fn default() -> Self {
        Self {
            strategy: ConflictStrategy::None,
            threshold: None,
            max_record_rows: None,
        }
    }
}

/// `[tikv-importer]`: the backend and its tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TikvImporterConfig {
    /// `local` (embedded RocksDB target store) or `tidb` (SQL). Ours
    /// defaults to `local` so `importer -d DIR` works without a config.
    pub backend: Backend,
    /// Deprecated alias of `conflict.strategy`.
    pub on_duplicate: ConflictStrategy,
    /// Deprecated alias of `conflict.strategy`.
    pub duplicate_resolution: ConflictStrategy,
    /// Local backend: where engines sort KV pairs. Empty: `<store path>.sorted-kv`
    /// (a sibling of the target store), filled in when the config is loaded.
    pub sorted_kv_dir: PathBuf,
    /// Maximum bytes of one generated SST / region (0 = 96MiB).
    pub region_split_size: ByteSize,
    /// Maximum keys of one generated SST / region (0 = 1280000).
    pub region_split_keys: u64,
    /// Local backend: disk budget of `sorted-kv-dir`; beyond it the largest
    /// engines are imported early. 0 = free space of the disk.
    pub disk_quota: ByteSize,
    /// Local backend: ranges ingested concurrently, at most (also capped by
    /// the cores and the import's read-memory budget).
    pub range_concurrency: usize,
    /// Local backend: memory per engine for buffering.
    pub engine_mem_cache_size: ByteSize,
    /// Local backend: memory per writer for sorting before a flush.
    pub local_writer_mem_cache_size: ByteSize,
    /// Local backend: KV pairs per write batch.
    pub send_kv_pairs: u64,
    /// Local backend: compression of KV pairs in flight (TiKV targets only).
    pub compress_kv_pairs: KvCompression,
    /// Local backend: SST block size.
    pub block_size: ByteSize,
    /// Local backend: write bandwidth limit per store in bytes/s (0 = none).
    pub store_write_bwlimit: ByteSize,
    /// tidb backend: target size of the VALUES of one INSERT.
    pub logical_import_batch_size: ByteSize,
    /// tidb backend: maximum rows per INSERT.
    pub logical_import_batch_rows: u64,
    /// Allow importing into tables that already hold rows.
    pub incremental_import: bool,
    /// Several importers into one target at once: not supported (an error).
    pub parallel_import: bool,
    /// tidb backend: drop plain secondary indexes before the rows and add
    /// them back with one `ALTER TABLE` per table after (a sorted build is
    /// far cheaper than row-by-row index maintenance). No effect on the
    /// local backend (a warning).
    pub add_index_by_sql: bool,
}

impl Default for TikvImporterConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Local,
            on_duplicate: ConflictStrategy::None,
            duplicate_resolution: ConflictStrategy::None,
            sorted_kv_dir: PathBuf::new(),
            region_split_size: ByteSize::mib(96),
            region_split_keys: 1_280_000,
            disk_quota: ByteSize(0),
            range_concurrency: 16,
            engine_mem_cache_size: ByteSize::mib(512),
            local_writer_mem_cache_size: ByteSize::mib(128),
            send_kv_pairs: 32768,
            compress_kv_pairs: KvCompression::None,
            block_size: ByteSize::kib(16),
            store_write_bwlimit: ByteSize(0),
            logical_import_batch_size: ByteSize::kib(96),
            logical_import_batch_rows: 65536,
            incremental_import: false,
            parallel_import: false,
            add_index_by_sql: false,
        }
    }
}

/// `mydumper.data-source-dir`, shown (`Debug`, `Serialize`) without the
/// URL parameters that hold credentials.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SourceDir(pub String);

impl std::ops::Deref for SourceDir {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl From<String> for SourceDir {
    fn from(s: String) -> Self {
        SourceDir(s)
    }
}

impl PartialEq<&str> for SourceDir {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for SourceDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&super::source_url::redact(&self.0), f)
    }
}

impl Serialize for SourceDir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::source_url::redact(&self.0))
    }
}

/// `[mydumper]`: the data source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MydumperConfig {
    /// The dump (`-d`): a path, a `file://` URL, or an object-store URL
    /// (`s3://`, `gs://`/`gcs://`, `azure://`/`azblob://`) that may carry
    /// credentials: redacted in `Debug` and `Serialize`.
    pub data_source_dir: SourceDir,
    /// Table filter rules (`-f`), Lightning's syntax (`db.tbl`, `!db.*`).
    pub filter: Vec<String>,
    /// File routing rules.
    pub files: Vec<FileRule>,
    /// Deprecated: take schemas from the target instead of schema files.
    pub no_schema: bool,
    /// Table names in rules and routes are case-sensitive.
    pub case_sensitive: bool,
    /// Promise that CSV fields hold no unescaped line breaks and that SQL
    /// statements start on their own line, so large uncompressed files can
    /// be split at `max-region-size`.
    pub strict_format: bool,
    /// Apply the default dumpling/mydumper file-name rules too. Absent: on
    /// when `[[mydumper.files]]` is empty.
    pub default_file_rules: Option<bool>,
    /// Chunk size when splitting large files (`strict-format`).
    pub max_region_size: ByteSize,
    /// Source bytes per data engine.
    pub batch_size: ByteSize,
    /// Read buffer size.
    pub read_block_size: ByteSize,
    /// Encoding of schema files.
    pub character_set: SchemaCharset,
    /// Encoding of data files.
    pub data_character_set: DataCharset,
    /// Replacement for bytes invalid in `data-character-set`.
    pub data_invalid_char_replace: String,
    /// CSV dialect.
    pub csv: CsvConfig,
}

impl Default for MydumperConfig {
    fn default() -> Self {
        Self {
            data_source_dir: SourceDir::default(),
            filter: DEFAULT_FILTER.iter().map(|s| (*s).to_owned()).collect(),
            files: Vec::new(),
            no_schema: false,
            case_sensitive: false,
            strict_format: false,
            default_file_rules: None,
            max_region_size: ByteSize::mib(256),
            batch_size: ByteSize::gib(100),
            read_block_size: ByteSize::kib(64),
            character_set: SchemaCharset::Auto,
            data_character_set: DataCharset::Binary,
            data_invalid_char_replace: "\u{FFFD}".into(),
            csv: CsvConfig::default(),
        }
    }
}

/// `[mydumper.csv]`: the CSV dialect, as MySQL's `LOAD DATA` rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CsvConfig {
    /// Field separator (non-empty).
    pub separator: String,
    /// Quote around fields; may be empty.
    pub delimiter: String,
    /// Line terminator; empty means `\r`, `\n` or `\r\n`.
    pub terminator: String,
    /// Field values meaning NULL (a string or a list).
    #[serde(deserialize_with = "string_or_list")]
    pub null: Vec<String>,
    /// The first line is a header.
    pub header: bool,
    /// Header names are column names (else the header is only skipped).
    pub header_schema_match: bool,
    /// No field is NULL.
    pub not_null: bool,
    /// Deprecated: `\` escapes (same as `escaped-by = '\'`).
    pub backslash_escape: bool,
    /// Escape character (empty or one character). Absent: `\` when
    /// `backslash-escape` is on. Resolved when the config is loaded.
    pub escaped_by: Option<String>,
    /// Deprecated: drop a trailing separator at the end of each line.
    pub trim_last_separator: bool,
}

impl Default for CsvConfig {
    fn default() -> Self {
        Self {
            separator: ",".into(),
            delimiter: "\"".into(),
            terminator: String::new(),
            null: vec![r"\N".into()],
            header: true,
            header_schema_match: true,
            not_null: false,
            backslash_escape: true,
            escaped_by: None,
            trim_last_separator: false,
        }
    }
}

impl CsvConfig {
    /// The escape character after Lightning's rules for the deprecated
    /// `backslash-escape`: `\` when it is on and `escaped-by` is empty; none
    /// when it is off and `escaped-by` is `\`.
    pub fn effective_escaped_by(&self) -> String {
        match self.escaped_by.as_deref() {
            Some("") | None if self.backslash_escape => "\\".into(),
            Some("\\") if !self.backslash_escape => String::new(),
            Some(e) => e.to_owned(),
            None => String::new(),
        }
    }
}

/// `[[mydumper.files]]`: maps file paths to schema, table and type. Values
/// may be regex templates (`$schema`, `$2`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct FileRule {
    /// Regex over the path relative to the source dir (or use `path`).
    pub pattern: String,
    /// One exact path (absolute or relative to the source dir).
    pub path: String,
    /// Target schema.
    pub schema: String,
    /// Target table.
    pub table: String,
    /// `schema-schema`, `table-schema`, `sql`, `csv`, `parquet` or `ignore`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Sort key among a table's files.
    pub key: String,
    /// `gzip`, `zstd`, `snappy` or empty.
    pub compression: String,
}

/// `[tidb]`: the SQL target (tidb backend) and SQL settings.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TidbConfig {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password (`--tidb-password`; redacted in logs).
    pub password: String,
    /// TiDB status port (TiDB targets only).
    pub status_port: u16,
    /// PD address (TiDB clusters only; unused here).
    pub pd_addr: String,
    /// `sql_mode` used to encode values and for the SQL sessions.
    pub sql_mode: String,
    /// TLS mode for SQL connections.
    pub tls: TlsMode,
    /// TLS files for SQL connections (default: `[security]`).
    pub security: Option<SecurityConfig>,
    /// Session variables set on every connection.
    #[serde(deserialize_with = "scalar_map")]
    pub session_vars: BTreeMap<String, String>,
    /// Largest packet sent to the server.
    pub max_allowed_packet: ByteSize,
    /// TiDB `tidb_build_stats_concurrency` for ANALYZE.
    pub build_stats_concurrency: usize,
    /// TiDB `tidb_distsql_scan_concurrency` for checksum/ANALYZE.
    pub distsql_scan_concurrency: usize,
    /// TiDB `tidb_index_serial_scan_concurrency` for ANALYZE.
    pub index_serial_scan_concurrency: usize,
    /// Tables checksummed at once.
    pub checksum_table_concurrency: usize,
}

impl Default for TidbConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 4000,
            user: "root".into(),
            password: String::new(),
            status_port: 10080,
            pd_addr: String::new(),
            sql_mode: "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER".into(),
            tls: TlsMode::Auto,
            security: None,
            session_vars: BTreeMap::new(),
            max_allowed_packet: ByteSize::mib(64),
            build_stats_concurrency: 20,
            distsql_scan_concurrency: 15,
            index_serial_scan_concurrency: 20,
            checksum_table_concurrency: 2,
        }
    }
}

impl TidbConfig {
    /// The password as shown in logs: `******` when set.
    fn shown_password(&self) -> &str {
        if self.password.is_empty() {
            ""
        } else {
            REDACTED
        }
    }
}

impl fmt::Debug for TidbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TidbConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.shown_password())
            .field("status_port", &self.status_port)
            .field("pd_addr", &self.pd_addr)
            .field("sql_mode", &self.sql_mode)
            .field("tls", &self.tls)
            .field("security", &self.security)
            .field("session_vars", &self.session_vars)
            .field("max_allowed_packet", &self.max_allowed_packet)
            .field("build_stats_concurrency", &self.build_stats_concurrency)
            .field("distsql_scan_concurrency", &self.distsql_scan_concurrency)
            .field(
                "index_serial_scan_concurrency",
                &self.index_serial_scan_concurrency,
            )
            .field(
                "checksum_table_concurrency",
                &self.checksum_table_concurrency,
            )
            .finish()
    }
}

impl Serialize for TidbConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "kebab-case")]
        struct Shown<'a> {
            host: &'a str,
            port: u16,
            user: &'a str,
            password: &'a str,
            status_port: u16,
            pd_addr: &'a str,
            sql_mode: &'a str,
            tls: TlsMode,
            #[serde(skip_serializing_if = "Option::is_none")]
            security: &'a Option<SecurityConfig>,
            session_vars: &'a BTreeMap<String, String>,
            max_allowed_packet: ByteSize,
            build_stats_concurrency: usize,
            distsql_scan_concurrency: usize,
            index_serial_scan_concurrency: usize,
            checksum_table_concurrency: usize,
        }
        Shown {
            host: &self.host,
            port: self.port,
            user: &self.user,
            password: self.shown_password(),
            status_port: self.status_port,
            pd_addr: &self.pd_addr,
            sql_mode: &self.sql_mode,
            tls: self.tls,
            security: &self.security,
            session_vars: &self.session_vars,
            max_allowed_packet: self.max_allowed_packet,
            build_stats_concurrency: self.build_stats_concurrency,
            distsql_scan_concurrency: self.distsql_scan_concurrency,
            index_serial_scan_concurrency: self.index_serial_scan_concurrency,
            checksum_table_concurrency: self.checksum_table_concurrency,
        }
        .serialize(s)
    }
}

/// `[post-restore]`: steps after each table's data is imported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PostRestoreConfig {
    /// Compare the checksum of what was read with the target's.
    pub checksum: PostOpLevel,
    /// `ANALYZE TABLE` on the target (tidb backend).
    pub analyze: PostOpLevel,
    /// Level-1 compaction of the target (TiKV only; no effect here).
    pub level_1_compact: bool,
    /// Full compaction of the target after import (local store: compacts RocksDB).
    pub compact: bool,
    /// Run checksum/analyze for all tables at the end rather than per table.
    pub post_process_at_last: bool,
}

impl Default for PostRestoreConfig {
    fn default() -> Self {
        Self {
            checksum: PostOpLevel::Required,
            analyze: PostOpLevel::Optional,
            level_1_compact: false,
            compact: false,
            post_process_at_last: true,
        }
    }
}

/// `[cron]`: periodic background actions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CronConfig {
    /// TiKV import-mode refresh interval (TiKV only; no effect here).
    pub switch_mode: GoDuration,
    /// Interval of the one-line progress log when not on a terminal.
    pub log_progress: GoDuration,
    /// Interval of the `disk-quota` check.
    pub check_disk_quota: GoDuration,
}

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            switch_mode: GoDuration::secs(300),
            log_progress: GoDuration::secs(300),
            check_disk_quota: GoDuration::secs(60),
        }
    }
}

/// `[[routes]]`: rename source schemas/tables on the target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RouteRule {
    /// Wildcard over source schema names (`*`, `?`).
    pub schema_pattern: String,
    /// Wildcard over source table names; empty routes the whole schema.
    pub table_pattern: String,
    /// Target schema.
    pub target_schema: String,
    /// Target table; empty keeps the source name.
    pub target_table: String,
}

/// `[security]` and `[tidb.security]`: TLS files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// CA certificate (PEM).
    pub ca_path: String,
    /// Client certificate (PEM).
    pub cert_path: String,
    /// Client private key (PEM).
    pub key_path: String,
    /// Also keep row values and keys out of logs.
    pub redact_info_log: bool,
}

/// `[black-white-list]`: Lightning's table filter before `mydumper.filter`
/// (MySQL replication rules). Deprecated; applied as the table filter when
/// any list is set, as Lightning does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BlackWhiteList {
    /// Only these schemas (names; `~` starts a regex, `*`/`?` are wildcards).
    pub do_dbs: Vec<String>,
    /// Not these schemas (ignored when `do-dbs` is set).
    pub ignore_dbs: Vec<String>,
    /// Only these tables.
    pub do_tables: Vec<BwTable>,
    /// Not these tables (ignored when `do-tables` is set).
    pub ignore_tables: Vec<BwTable>,
}

impl BlackWhiteList {
    /// Whether any rule is set (Lightning's `HasLegacyBlackWhiteList`).
    pub fn is_set(&self) -> bool {
        !(self.do_dbs.is_empty()
            && self.ignore_dbs.is_empty()
            && self.do_tables.is_empty()
            && self.ignore_tables.is_empty())
    }
}

/// A table of `[black-white-list]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BwTable {
    /// Schema name or pattern.
    pub db_name: String,
    /// Table name or pattern.
    pub tbl_name: String,
}

/// `[store]` (ours): the local backend's target store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory of the embedded RocksDB target store (`--store`).
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_STORE_PATH),
        }
    }
}
