//! The command line: `importer [--config FILE] [flags]` imports, with flags
//! named as Lightning's; `importer store …` reads a local target store back;
//! `importer checkpoint …` manages checkpoints (`tidb-lightning-ctl`).
//!
//! Parsing only: flags become the top configuration layer through
//! [`Cli::load_options`]; what each command does lives in the binary.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{
    Backend, EnvVars, Keyword, LoadOptions, LogFormat, LogLevel, Overrides, PostOpLevel,
    parse_keyword,
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
IMPORTER_TIKV_IMPORTER__BACKEND…), then these flags. Every tidb-lightning flag
is accepted, also in Go's single-dash spelling (-config, -tidb-host); one
without an effect here is named in a warning, one that cannot be honoured
(-server-mode) is refused with the reason.

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
    /// Where rows go: local or tidb ([tikv-importer] backend) [default: local].
    #[arg(long, value_name = "BACKEND", value_parser = parse_backend)]
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
    /// TiDB's status port ([tidb] status-port; no effect here, warns).
    #[arg(long, value_name = "PORT")]
    pub tidb_status: Option<u16>,
    /// PD address ([tidb] pd-addr; no effect here, warns).
    #[arg(long, value_name = "ADDR")]
    pub pd_urls: Option<String>,
    /// tikv-importer address of the removed importer backend ([tikv-importer] addr; warns).
    #[arg(long, value_name = "ADDR")]
    pub importer: Option<String>,
    /// Address of Lightning's remote backend ([tikv-importer] remote-addr; warns).
    #[arg(long, value_name = "ADDR")]
    pub remote_addr: Option<String>,
    /// CA certificate for TLS to the SQL server ([security] ca-path).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<String>,
    /// Client certificate for TLS ([security] cert-path).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<String>,
    /// Client private key for TLS ([security] key-path).
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// Replace row values and keys in logs and errors with `?` ([security] redact-info-log).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pub redact_info_log: Option<bool>,
    /// Lightning's server mode: not implemented, refused ([lightning] server-mode).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pub server_mode: Option<bool>,
    /// Take the tables from the target instead of schema files ([mydumper] no-schema).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pub no_schema: Option<bool>,
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
    /// Run the prechecks only, print the report and exit (Lightning's
    /// `default` or `RATE,ROWS` sampling values are accepted).
    #[arg(long, value_name = "SAMPLE", num_args = 0..=1, require_equals = true,
          default_missing_value = "default", value_parser = parse_check_only)]
    pub check_only: Option<CheckOnly>,
}

/// The value of `--check-only`: Lightning's sampling of data rows.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOnly {
    /// `--check-only` or `--check-only=default`.
    Default,
    /// `--check-only=RATE,ROWS`: sample RATE of the files, ROWS rows each
    /// (-1: all). Sampling is not implemented; the prechecks run as with
    /// `default`.
    Sample(f64, i64),
}

fn parse_check_only(s: &str) -> Result<CheckOnly, String> {
    if s == "default" {
        return Ok(CheckOnly::Default);
    }
    let bad = || format!("invalid value \"{s}\"; expected `default` or RATE,ROWS such as 0.1,1000");
    let (rate, rows) = s.split_once(',').ok_or_else(bad)?;
    let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
    let rows: i64 = rows.trim().parse().map_err(|_| bad())?;
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(format!("invalid value \"{s}\": the rate must be in (0, 1]"));
    }
    if rows != -1 && rows <= 0 {
        return Err(format!(
            "invalid value \"{s}\": the rows must be positive, or -1 for all"
        ));
    }
    Ok(CheckOnly::Sample(rate, rows))
}

impl ImportArgs {
    /// Whether `--check-only` was given.
    pub fn check_only(&self) -> bool {
        self.check_only.is_some()
    }
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

/// Lightning's boolean flag values (Go's `strconv.ParseBool`, less the
/// mixed-case spellings).
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Ok(true),
        "false" | "0" | "f" => Ok(false),
        _ => Err(format!(
            "invalid value \"{s}\"; allowed values: true, false, 1, 0"
        )),
    }
}

/// `--backend`: `local` or `tidb`; Lightning's other backends are refused
/// with the reason.
fn parse_backend(s: &str) -> Result<Backend, String> {
    parse_keyword::<Backend>(s)
}

/// A parser that lists a keyword's values in `--help` and in errors, and
/// also takes the aliases Lightning accepts (`--checksum=true`).
fn keyword<K: Keyword + Send + Sync + Clone>() -> impl TypedValueParser<Value = K> {
    let canonical: HashSet<&str> = K::ALLOWED.iter().copied().collect();
    let values: Vec<PossibleValue> = K::ALLOWED
        .iter()
        .copied()
        .chain(K::ALIASES.iter().copied())
        .filter(|s| !s.is_empty())
        .map(|s| PossibleValue::new(s).hide(!canonical.contains(s)))
        .collect();
    PossibleValuesParser::new(values).try_map(|s| {
        K::from_keyword(&s.to_ascii_lowercase()).ok_or_else(|| format!("invalid value \"{s}\""))
    })
}

/// Rewrites the command line as Go's `flag` package reads it, the way
/// `tidb-lightning` users write it: single-dash long flags (`-config`,
/// `-tidb-host`) become `--config`, `--tidb-host`; a flag that takes a
/// value takes the next argument whatever it looks like (a password may
/// start with `-`), so the two are joined as `--name=value`. Only names of
/// our flags are rewritten.
pub fn lightning_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let command = Cli::command();
    // Long name → whether it takes the next argument as its value.
    let mut takes_value: HashMap<String, bool> = HashMap::new();
    let mut short_to_long: HashMap<char, String> = HashMap::new();
    let mut stack = vec![&command];
    while let Some(cmd) = stack.pop() {
        for arg in cmd.get_arguments() {
            let takes = arg.get_action().takes_values()
                && !arg.is_require_equals_set()
                && arg.get_num_args().is_none_or(|n| n.min_values() > 0);
            if let Some(long) = arg.get_long() {
                takes_value.insert(long.to_owned(), takes);
                if let Some(c) = arg.get_short()
                    && takes
                {
                    short_to_long.insert(c, long.to_owned());
                }
            }
        }
        stack.extend(cmd.get_subcommands());
    }
    let mut out: Vec<OsString> = Vec::new();
    let mut pending: Option<String> = None;
    let mut rest = false;
    for (i, arg) in args.into_iter().enumerate() {
        if let Some(long) = pending.take() {
            let mut joined = OsString::from(format!("--{long}="));
            joined.push(&arg);
            out.push(joined);
            continue;
        }
        let text = match arg.to_str() {
            Some(text) if i > 0 && !rest => text,
            _ => {
                out.push(arg);
                continue;
            }
        };
        if text == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, _)) => (name, true),
            None => (text, false),
        };
        let long = name.strip_prefix("--").or_else(|| {
            name.strip_prefix('-')
                .filter(|n| n.len() > 1 && takes_value.contains_key(*n))
        });
        if let Some(long) = long {
            if !inline && takes_value.get(long).copied().unwrap_or(false) {
                pending = Some(long.to_owned());
            } else {
                out.push(OsString::from(format!(
                    "--{}",
                    text.trim_start_matches('-')
                )));
            }
            continue;
        }
        // `-d DIR`: a short flag whose value is the next argument.
        let mut chars = name.strip_prefix('-').unwrap_or_default().chars();
        if !inline
            && let (Some(c), None) = (chars.next(), chars.next())
            && let Some(long) = short_to_long.get(&c)
        {
            pending = Some(long.clone());
            continue;
        }
        out.push(arg);
    }
    // A value flag at the end: let clap report the missing value.
    if let Some(long) = pending {
        out.push(OsString::from(format!("--{long}")));
    }
    out
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
        if let Some(port) = i.tidb_status {
            o.set("tidb.status-port", i64::from(port), "--tidb-status");
        }
        for (value, key, flag) in [
            (&i.pd_urls, "tidb.pd-addr", "--pd-urls"),
            (&i.importer, "tikv-importer.addr", "--importer"),
            (&i.remote_addr, "tikv-importer.remote-addr", "--remote-addr"),
            (&i.ca, "security.ca-path", "--ca"),
            (&i.cert, "security.cert-path", "--cert"),
            (&i.key, "security.key-path", "--key"),
        ] {
            if let Some(value) = value {
                o.set(key, value.as_str(), flag);
            }
        }
        for (value, key, flag) in [
            (
                i.redact_info_log,
                "security.redact-info-log",
                "--redact-info-log",
            ),
            (i.server_mode, "lightning.server-mode", "--server-mode"),
            (i.no_schema, "mydumper.no-schema", "--no-schema"),
        ] {
            if let Some(value) = value {
                o.set(key, value, flag);
            }
        }
        o
    }

    /// Warnings about flags that are accepted but do less than Lightning's.
    pub fn warnings(&self) -> Vec<String> {
        match self.import.check_only {
            Some(CheckOnly::Sample(..)) => vec![
                "`--check-only` sampling (RATE,ROWS) is not implemented; the prechecks run as with `--check-only=default`".into(),
            ],
            _ => Vec::new(),
        }
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
