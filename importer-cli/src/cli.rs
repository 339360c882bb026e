//! The command line: `importer [--config FILE] [flags]` imports, with flags
//! named as Lightning's; `importer store …` reads a local target store back;
//! `importer checkpoint …` manages checkpoints (`tidb-lightning-ctl`).
//!
//! Parsing only: flags become the top configuration layer through
//! [`Cli::load_options`]; what each command does lives in the binary.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{
    Backend, EnvVars, Keyword, LoadOptions, LogFormat, LogLevel, Overrides, PostOpLevel,
};

const AFTER_HELP: &str = "\
Examples:
  importer -d ./dump                          import into the embedded store ./importer-store
  importer --config tidb-lightning.toml       import as configured (Lightning's file format)
  importer -d ./dump --backend tidb --tidb-host db1 --tidb-port 3306 --tidb-user loader
  importer --config tidb-lightning.toml --check-only
  importer store tables                       list what a store holds
  importer checkpoint list --config tidb-lightning.toml

Settings come from, lowest first: built-in defaults, the --config file,
IMPORTER_<SECTION>__<KEY> environment variables (IMPORTER_TIDB__PASSWORD,
IMPORTER_TIKV_IMPORTER__BACKEND…), then these flags.

Exit status: 0 success, 1 the import or command failed, 2 usage or configuration error.";

/// Bulk-load a dumpling/mydumper dump into the embedded store or a MySQL-protocol server.
#[derive(Debug, Parser)]
#[command(
    name = "importer",
    version,
    about,
    long_about = "Bulk-load a dumpling/mydumper dump directory (SQL and CSV files, schemas \
                  included) into the embedded RocksDB target store (local backend) or any \
                  MySQL-protocol server (tidb backend). Reads tidb-lightning.toml files unchanged.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Flags of the import (no subcommand).
    #[command(flatten)]
    pub import: ImportArgs,
    /// A command other than importing.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file, in tidb-lightning.toml format.
    #[arg(
        short = 'c',
        long,
        global = true,
        env = "IMPORTER_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Log level: trace, debug, info, warn (or warning), error, fatal [default: info].
    #[arg(short = 'L', long, global = true, value_name = "LEVEL", value_parser = LogLevel::from_str)]
    pub log_level: Option<LogLevel>,
    /// Log to this file instead of stderr ("-" = stderr).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<String>,
    /// Log line format [default: text].
    #[arg(long, global = true, value_name = "FORMAT", value_parser = keyword::<LogFormat>())]
    pub log_format: Option<LogFormat>,
}

/// Flags of the import, mirroring Lightning's.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dump directory to import ([mydumper] data-source-dir).
    #[arg(short = 'd', long, value_name = "DIR")]
    pub data_source_dir: Option<String>,
    /// Where rows go ([tikv-importer] backend) [default: local].
    #[arg(long, value_name = "BACKEND", value_parser = keyword::<Backend>())]
    pub backend: Option<Backend>,
    /// Local backend: directory for sorting KV pairs ([tikv-importer] sorted-kv-dir).
    #[arg(long, value_name = "DIR")]
    pub sorted_kv_dir: Option<PathBuf>,
    /// Table filter rule, e.g. 'shop.*' or '!shop.tmp'; repeatable ([mydumper] filter).
    #[arg(short = 'f', long = "filter", value_name = "RULE")]
    pub filters: Vec<String>,
    /// Local backend: the target store directory ([store] path) [default: ./importer-store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// tidb backend: server host ([tidb] host).
    #[arg(long, value_name = "HOST")]
    pub tidb_host: Option<String>,
    /// tidb backend: server port ([tidb] port).
    #[arg(long, value_name = "PORT")]
    pub tidb_port: Option<u16>,
    /// tidb backend: user name ([tidb] user).
    #[arg(long, value_name = "USER")]
    pub tidb_user: Option<String>,
    /// tidb backend: password ([tidb] password; prefer IMPORTER_TIDB__PASSWORD, flags are visible in ps).
    #[arg(long, value_name = "PASSWORD")]
    pub tidb_password: Option<String>,
    /// Check the target's version and settings first ([lightning] check-requirements).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pub check_requirements: Option<bool>,
    /// Record progress to resume after a crash ([checkpoint] enable).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pub enable_checkpoint: Option<bool>,
    /// Compare checksums after importing ([post-restore] checksum).
    #[arg(long, value_name = "LEVEL", value_parser = keyword::<PostOpLevel>())]
    pub checksum: Option<PostOpLevel>,
    /// ANALYZE tables after importing ([post-restore] analyze).
    #[arg(long, value_name = "LEVEL", value_parser = keyword::<PostOpLevel>())]
    pub analyze: Option<PostOpLevel>,
    /// Serve /metrics, /progress and a live page on ADDR, e.g. 127.0.0.1:8289 ([lightning] status-addr).
    #[arg(long, value_name = "ADDR")]
    pub status_addr: Option<String>,
    /// Run the prechecks only, print the report and exit.
    #[arg(long)]
    pub check_only: bool,
}

/// Commands other than importing.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a local target store back: list tables, checksum, export or look up rows.
    Store(StoreArgs),
    /// Manage checkpoints of an interrupted import (uses --config).
    Checkpoint(CheckpointArgs),
}

/// `importer store …`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store directory [default: [store] path of --config, else ./importer-store].
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// What `importer store` does.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum StoreCommand {
    /// List the tables with their row counts.
    Tables,
    /// Print a table's KV checksum (checksum, KV pairs, bytes), as ADMIN CHECKSUM TABLE.
    Checksum {
        /// The table, as DB.TBL or `db`.`tbl`.
        table: QualifiedName,
    },
    /// Write a table's rows out.
    Export {
        /// The table, as DB.TBL or `db`.`tbl`.
        table: QualifiedName,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Output file [default: stdout].
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the rows with these primary-key values.
    Get {
        /// The table, as DB.TBL or `db`.`tbl`.
        table: QualifiedName,
        /// Primary-key values (one per key column for a composite key: give them in order).
        #[arg(required = true, num_args = 1.., value_name = "PK")]
        pk: Vec<String>,
    },
}

/// Row output format of `importer store export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// CSV with a header line, NULL as \N.
    Csv,
    /// INSERT statements.
    Sql,
}

/// `importer checkpoint …`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CheckpointCommand,
}

/// What `importer checkpoint` does (Lightning's `tidb-lightning-ctl`).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum CheckpointCommand {
    /// List the tables in the checkpoints with their status.
    List,
    /// Forget the checkpoints of a table or all, so the next run starts it over.
    Remove {
        /// `all` or a table as DB.TBL or `db`.`tbl`.
        target: CheckpointTarget,
    },
    /// Clear a failed status so the next run resumes (data already imported stays).
    ErrorIgnore {
        /// `all` or a table as DB.TBL or `db`.`tbl`.
        target: CheckpointTarget,
    },
    /// Drop a failed table's imported data and engines, then forget its checkpoint.
    ErrorDestroy {
        /// `all` or a table as DB.TBL or `db`.`tbl`.
        target: CheckpointTarget,
    },
    /// Write the checkpoints as CSV files into DIR.
    Dump {
        /// Output directory.
        dir: PathBuf,
    },
}

/// `all`, or one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointTarget {
    /// Every table.
    All,
    /// One table.
    Table(QualifiedName),
}

impl FromStr for CheckpointTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("all") {
            Ok(Self::All)
        } else {
            s.parse().map(Self::Table)
        }
    }
}

/// A table name qualified by its schema: `db.tbl` or `` `db`.`tbl` ``
/// (backquotes allow dots in names; a doubled backquote is a literal one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// The schema (database).
    pub schema: String,
    /// The table.
    pub table: String,
}

impl FromStr for QualifiedName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("invalid table name `{s}`: {why}; expected DB.TBL or `db`.`tbl`");
        let mut parts = Vec::new();
        let mut rest = s;
        loop {
            let (part, after) = if let Some(quoted) = rest.strip_prefix('`') {
                let mut name = String::new();
                let mut chars = quoted.char_indices().peekable();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    if c == '`' {
                        if chars.peek().is_some_and(|&(_, n)| n == '`') {
                            name.push('`');
                            chars.next();
                        } else {
                            end = Some(i + 1);
                            break;
                        }
                    } else {
                        name.push(c);
                    }
                }
                let end = end.ok_or_else(|| bad("unclosed backquote"))?;
                (name, &quoted[end..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            };
            if part.is_empty() {
                return Err(bad("empty name"));
            }
            parts.push(part);
            if after.is_empty() {
                break;
            }
            rest = after
                .strip_prefix('.')
                .ok_or_else(|| bad("expected '.' after a quoted name"))?;
        }
        match <[String; 2]>::try_from(parts) {
            Ok([schema, table]) => Ok(Self { schema, table }),
            Err(_) => Err(bad("need exactly a schema and a table")),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`.`{}`",
            self.schema.replace('`', "``"),
            self.table.replace('`', "``")
        )
    }
}

/// Lightning's boolean flag values.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!(
            "invalid value \"{s}\"; allowed values: true, false, 1, 0"
        )),
    }
}

/// A parser that lists a keyword's values in `--help` and in errors.
fn keyword<K: Keyword + Send + Sync + Clone>() -> impl TypedValueParser<Value = K> {
    PossibleValuesParser::new(K::ALLOWED.iter().copied().filter(|s| !s.is_empty()))
        .try_map(|s| K::from_keyword(&s).ok_or_else(|| format!("invalid value \"{s}\"")))
}

impl Cli {
    /// The flag layer of the configuration.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        let g = &self.global;
        if let Some(level) = g.log_level {
            o.set("lightning.level", level.as_str(), "-L/--log-level");
        }
        if let Some(file) = &g.log_file {
            o.set("lightning.file", file.as_str(), "--log-file");
        }
        if let Some(format) = g.log_format {
            o.set("lightning.log-format", format.as_str(), "--log-format");
        }
        let store = match &self.command {
            Some(Command::Store(args)) => args.store.as_ref(),
            _ => self.import.store.as_ref(),
        };
        if let Some(store) = store {
            o.set("store.path", store.display().to_string(), "--store");
        }
        let i = &self.import;
        if let Some(dir) = &i.data_source_dir {
            o.set(
                "mydumper.data-source-dir",
                dir.as_str(),
                "-d/--data-source-dir",
            );
        }
        if let Some(backend) = i.backend {
            o.set("tikv-importer.backend", backend.as_str(), "--backend");
        }
        if let Some(dir) = &i.sorted_kv_dir {
            o.set(
                "tikv-importer.sorted-kv-dir",
                dir.display().to_string(),
                "--sorted-kv-dir",
            );
        }
        if !i.filters.is_empty() {
            o.set_list("mydumper.filter", &i.filters, "-f/--filter");
        }
        if let Some(host) = &i.tidb_host {
            o.set("tidb.host", host.as_str(), "--tidb-host");
        }
        if let Some(port) = i.tidb_port {
            o.set("tidb.port", i64::from(port), "--tidb-port");
        }
        if let Some(user) = &i.tidb_user {
            o.set("tidb.user", user.as_str(), "--tidb-user");
        }
        if let Some(password) = &i.tidb_password {
            o.set("tidb.password", password.as_str(), "--tidb-password");
        }
        if let Some(check) = i.check_requirements {
            o.set(
                "lightning.check-requirements",
                check,
                "--check-requirements",
            );
        }
        if let Some(enable) = i.enable_checkpoint {
            o.set("checkpoint.enable", enable, "--enable-checkpoint");
        }
        if let Some(level) = i.checksum {
            o.set("post-restore.checksum", level.as_str(), "--checksum");
        }
        if let Some(level) = i.analyze {
            o.set("post-restore.analyze", level.as_str(), "--analyze");
        }
        if let Some(addr) = &i.status_addr {
            o.set("lightning.status-addr", addr.as_str(), "--status-addr");
        }
        o
    }

    /// What to load: `--config`, the given environment, and the flags.
    pub fn load_options(&self, env: EnvVars) -> LoadOptions {
        LoadOptions {
            file: self.global.config.clone(),
            env,
            overrides: self.overrides(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn qualified_names_parse_plain_and_quoted() {
        let n: QualifiedName = "shop.orders".parse().unwrap();
        assert_eq!((n.schema.as_str(), n.table.as_str()), ("shop", "orders"));
        let n: QualifiedName = "`my.db`.`a``b`".parse().unwrap();
        assert_eq!((n.schema.as_str(), n.table.as_str()), ("my.db", "a`b"));
        assert_eq!(n.to_string(), "`my.db`.`a``b`");
        for bad in ["shop", "a.b.c", "`a.b", ".t", "a.", "`a`b.c"] {
            assert!(bad.parse::<QualifiedName>().is_err(), "{bad}");
        }
    }
}
