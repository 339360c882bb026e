//! The registry of every setting a Lightning user can bring: each key of
//! `tidb-lightning.toml` that Lightning's loader reads (current, deprecated
//! and legacy spellings alike) and each `tidb-lightning` flag, with what
//! this importer does with it.
//!
//! One table, read by everything that needs to know:
//! * the file check ([`super::file`]) accepts exactly these keys and lists
//!   every other key of a file in one error;
//! * the load ([`super::load`]) warns about, or refuses, each key that is
//!   set (in the file, the environment or by a flag) according to its
//!   [`Status`];
//! * the README's table of keys and flags is generated from it
//!   ([`markdown_table`]), and tests keep the two in step, check the clap
//!   definition against [`FLAGS`] and walk Lightning's reference
//!   `tidb-lightning.toml` through it.
//!
//! Key paths are dotted; `[]` stands for every element of an array of
//! tables (`routes[].schema-pattern`) and a final `*` for any name in a
//! free-form table (`tidb.session-vars.*`).

use std::fmt::Write as _;

/// What the importer does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Read and acted on.
    Works,
    /// Acted on by the tidb backend; with the local backend a start-up
    /// warning names the key and says why it has no effect there.
    TidbOnly(&'static str),
    /// Acted on by the local backend; with the tidb backend a start-up
    /// warning names the key and says why it has no effect there.
    LocalOnly(&'static str),
    /// Accepted; it has no effect here, and a start-up warning names it and
    /// says why.
    Warns(&'static str),
    /// Refused at start-up with the reason: ignoring it would change the
    /// result.
    Refused(&'static str),
}

/// A value that behaves here exactly as in Lightning whatever the status
/// (a feature switched off, an empty list): accepted without a warning.
#[derive(Clone, Copy, Debug)]
pub struct Inert {
    /// Whether a value (as JSON) is inert.
    pub test: fn(&serde_json::Value) -> bool,
    /// The inert value, as the README names it.
    pub shown: &'static str,
}

/// One key of `tidb-lightning.toml`.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The dotted path (`tikv-importer.backend`, `routes[].schema-pattern`).
    pub key: &'static str,
    /// What is done with it.
    pub status: Status,
    /// A value that is accepted silently whatever the status.
    pub inert: Option<Inert>,
    /// What the README adds: aliases, defaults that differ from Lightning's.
    pub note: &'static str,
}

const fn key(key: &'static str, status: Status) -> Key {
    Key {
        key,
        status,
        inert: None,
        note: "",
    }
}

const fn works(k: &'static str) -> Key {
    key(k, Status::Works)
}

const fn works_note(k: &'static str, note: &'static str) -> Key {
    Key {
        note,
        ..key(k, Status::Works)
    }
}

const fn warns(k: &'static str, why: &'static str) -> Key {
    key(k, Status::Warns(why))
}

const fn inert(mut k: Key, inert: Inert) -> Key {
    k.inert = Some(inert);
    k
}

fn is_false(v: &serde_json::Value) -> bool {
    v.as_bool() == Some(false)
}
fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
fn is_zero(v: &serde_json::Value) -> bool {
    v.as_u64() == Some(0) || v.as_str().is_some_and(|s| s == "0B" || s == "0")
}
const FALSE: Inert = Inert {
    test: is_false,
    shown: "false",
};
const EMPTY: Inert = Inert {
    test: is_empty,
    shown: "empty",
};
const ZERO: Inert = Inert {
    test: is_zero,
    shown: "0",
};

const SERVER_MODE: &str =
    "server mode (tasks submitted over HTTP) is not implemented; run one import per invocation";
const TIKV_SPLIT: &str = "TiKV region splitting; the local store takes whole SST files";
const TIKV_WRITE: &str = "batching of TiKV write requests; the local store ingests whole SST files";
const NO_PD: &str = "there is no PD: the targets are the embedded store or a MySQL-protocol server";
const EXTRACT: &str = "extracting route names into columns is not implemented";
const TIDB_SESSION: &str = "a TiDB session variable for checksum/ANALYZE on a TiDB cluster; \
     set it in [tidb.session-vars] when the target is TiDB";

/// Every key of `tidb-lightning.toml` that Lightning reads (its current
/// `config.Config` and `GlobalConfig`, and the deprecated and legacy keys it
/// still maps), plus ours (`[store]`, `lightning.log-format`).
pub const KEYS: &[Key] = &[
    // [lightning]
    works_note(
        "lightning.level",
        "`warning` = `warn`; `fatal` logs as `error`",
    ),
    works_note(
        "lightning.file",
        "empty or `-`: stderr (Lightning: a temp file when empty)",
    ),
    works_note("lightning.log-format", "ours: `text` or `json`"),
    works_note(
        "lightning.max-size",
        "MB before the log file is rotated (0 = 512, as Lightning)",
    ),
    works_note(
        "lightning.max-days",
        "days rotated log files are kept (0 = 7, as Lightning)",
    ),
    works_note(
        "lightning.max-backups",
        "rotated log files kept (0 = all, as Lightning)",
    ),
    inert(
        warns(
            "lightning.enable-diagnose-logs",
            "there are no diagnose logs; RUST_LOG selects the logs of other crates",
        ),
        FALSE,
    ),
    works_note(
        "lightning.status-addr",
        "serves /metrics, /progress and a live page",
    ),
    works_note(
        "lightning.pprof-port",
        "legacy alias: the status server listens on `:PORT` when `status-addr` is empty",
    ),
    inert(
        key("lightning.server-mode", Status::Refused(SERVER_MODE)),
        FALSE,
    ),
    works("lightning.check-requirements"),
    works("lightning.region-concurrency"),
    works_note(
        "lightning.table-concurrency",
        "0 = 6 (local) or `region-concurrency` (tidb), as Lightning",
    ),
    warns(
        "lightning.index-concurrency",
        "each table in flight has one index engine, so `table-concurrency` bounds both",
    ),
    warns(
        "lightning.io-concurrency",
        "files are read by the chunk workers, so `region-concurrency` bounds the reads",
    ),
    warns(
        "lightning.meta-schema-name",
        "it holds the task metadata of parallel import, which is not implemented",
    ),
    works_note(
        "lightning.max-error",
        "an integer (type errors) or a table of the kinds below",
    ),
    works("lightning.max-error.type"),
    inert(
        warns(
            "lightning.max-error.syntax",
            "a syntax error always stops its table (Lightning hard-codes 0 too)",
        ),
        ZERO,
    ),
    warns(
        "lightning.max-error.charset",
        "not counted on their own: a field that cannot be decoded makes its row bad (`max-error.type`); Lightning does not count them either",
    ),
    warns(
        "lightning.max-error.conflict",
        "deprecated in Lightning; `conflict.threshold` is used",
    ),
    warns(
        "lightning.max-error-records",
        "deprecated in Lightning; `conflict.threshold` is used",
    ),
    works_note(
        "lightning.task-info-schema-name",
        "where the tidb backend records bad rows; empty disables recording",
    ),
    // [checkpoint]
    works("checkpoint.enable"),
    works("checkpoint.schema"),
    works("checkpoint.driver"),
    works_note(
        "checkpoint.dsn",
        "empty: a file beside the store (local) or in the temp directory (tidb)",
    ),
    works_note(
        "checkpoint.keep-after-success",
        "`true` = rename, `false` = remove, as Lightning",
    ),
    // [conflict]
    works("conflict.strategy"),
    works_note(
        "conflict.threshold",
        "absent: 10000 for replace/ignore, else 0",
    ),
    warns(
        "conflict.max-record-rows",
        "as in Lightning v8.1+, `conflict.threshold` is used instead",
    ),
    inert(
        key(
            "conflict.precheck-conflict-before-import",
            Status::Refused("conflict detection before the import is not implemented"),
        ),
        FALSE,
    ),
    // [tikv-importer]
    works_note(
        "tikv-importer.backend",
        "`local` (default here) or `tidb`; the removed `importer` and `remote` are refused with the reason",
    ),
    warns(
        "tikv-importer.addr",
        "the address of tikv-importer, for the removed `importer` backend",
    ),
    warns(
        "tikv-importer.remote-addr",
        "only for Lightning's `remote` backend, which is not implemented",
    ),
    works_note(
        "tikv-importer.on-duplicate",
        "deprecated alias of `conflict.strategy`",
    ),
    works_note(
        "tikv-importer.duplicate-resolution",
        "deprecated alias of `conflict.strategy` (`remove`/`record` = `replace`)",
    ),
    warns("tikv-importer.max-kv-pairs", TIKV_WRITE),
    warns("tikv-importer.send-kv-pairs", TIKV_WRITE),
    warns("tikv-importer.send-kv-size", TIKV_WRITE),
    inert(
        warns(
            "tikv-importer.compress-kv-pairs",
            "compression of KV pairs sent to TiKV; the local store ingests files directly",
        ),
        EMPTY,
    ),
    works_note("tikv-importer.region-split-size", "size of the SSTs built"),
    works_note("tikv-importer.region-split-keys", "keys of the SSTs built"),
    warns("tikv-importer.region-split-batch-size", TIKV_SPLIT),
    warns("tikv-importer.region-split-concurrency", TIKV_SPLIT),
    warns("tikv-importer.region-check-backoff-limit", TIKV_SPLIT),
    works_note(
        "tikv-importer.sorted-kv-dir",
        "empty: `<store path>.sorted-kv`",
    ),
    works_note(
        "tikv-importer.disk-quota",
        "local backend; 0 = the disk's free space",
    ),
    works_note("tikv-importer.range-concurrency", "local backend"),
    works_note(
        "tikv-importer.incremental-import",
        "import into tables that already hold rows",
    ),
    inert(
        key(
            "tikv-importer.parallel-import",
            Status::Refused(
                "several importers writing one target at once is not implemented; \
                 use `incremental-import = true` to import into non-empty tables",
            ),
        ),
        FALSE,
    ),
    inert(
        key(
            "tikv-importer.keyspace-name",
            Status::Refused("keyspaces (which change every key's prefix) are not implemented"),
        ),
        EMPTY,
    ),
    inert(
        key(
            "tikv-importer.add-index-by-sql",
            Status::TidbOnly(
                "its index entries are written with the rows (the tidb backend builds plain \
                 secondary indexes after the rows)",
            ),
        ),
        FALSE,
    ),
    warns(
        "tikv-importer.engine-mem-cache-size",
        "engines take SST files already sorted by the writers \
         (`local-writer-mem-cache-size`); there is no per-engine write cache",
    ),
    works_note("tikv-importer.local-writer-mem-cache-size", "local backend"),
    inert(
        warns(
            "tikv-importer.store-write-bwlimit",
            "a bandwidth limit per TiKV store",
        ),
        ZERO,
    ),
    works_note("tikv-importer.logical-import-batch-size", "tidb backend"),
    works_note("tikv-importer.logical-import-batch-rows", "tidb backend"),
    warns("tikv-importer.pause-pd-scheduler-scope", NO_PD),
    warns(
        "tikv-importer.block-size",
        "the SSTs use the local store's 64 KiB blocks, chosen for its scans",
    ),
    // [mydumper]
    works("mydumper.read-block-size"),
    works_note("mydumper.batch-size", "source bytes per data engine"),
    warns("mydumper.batch-import-ratio", "engine batches are uniform"),
    warns("mydumper.source-id", "only used by DM"),
    works_note(
        "mydumper.data-source-dir",
        "a directory, a `file://` URL, or `s3://`, `gs://`/`gcs://`, `azure://`/`azblob://` URLs with Lightning's parameters (`role-arn` and `external-id` refused; write-only ones warned about)",
    ),
    works_note(
        "mydumper.character-set",
        "schema files in auto, utf8mb4, gb18030, gbk, latin1 or binary",
    ),
    works("mydumper.csv.separator"),
    works("mydumper.csv.delimiter"),
    works("mydumper.csv.terminator"),
    works_note("mydumper.csv.null", "a string or a list"),
    works("mydumper.csv.header"),
    works("mydumper.csv.header-schema-match"),
    works_note(
        "mydumper.csv.trim-last-separator",
        "deprecated in Lightning",
    ),
    works("mydumper.csv.not-null"),
    works_note(
        "mydumper.csv.backslash-escape",
        "deprecated in Lightning: same as `escaped-by = '\\'`",
    ),
    works("mydumper.csv.escaped-by"),
    works("mydumper.max-region-size"),
    works_note("mydumper.filter", "Lightning's table filter syntax"),
    works("mydumper.files[].pattern"),
    works("mydumper.files[].path"),
    works("mydumper.files[].schema"),
    works("mydumper.files[].table"),
    works("mydumper.files[].type"),
    works("mydumper.files[].key"),
    works("mydumper.files[].compression"),
    works_note(
        "mydumper.no-schema",
        "deprecated in Lightning: no tables are created; they must exist on the target",
    ),
    works("mydumper.case-sensitive"),
    works("mydumper.strict-format"),
    works_note(
        "mydumper.default-file-rules",
        "absent: on without `[[mydumper.files]]`",
    ),
    inert(
        key(
            "mydumper.ignore-data-columns",
            Status::Refused(
                "ignoring source columns is not implemented; drop them from the data or the schema",
            ),
        ),
        EMPTY,
    ),
    inert(
        key(
            "mydumper.ignore-columns",
            Status::Refused(
                "ignoring source columns is not implemented; drop them from the data or the schema",
            ),
        ),
        EMPTY,
    ),
    works("mydumper.data-character-set"),
    works("mydumper.data-invalid-char-replace"),
    // [tidb]
    works_note("tidb.host", "tidb backend, and the mysql checkpoint driver"),
    works_note("tidb.port", "tidb backend, and the mysql checkpoint driver"),
    works_note("tidb.user", "tidb backend, and the mysql checkpoint driver"),
    works_note(
        "tidb.password",
        "as Lightning: a base64-encoded password is tried decoded when the server denies it as written",
    ),
    warns(
        "tidb.status-port",
        "TiDB's status port; table schemas are read over SQL",
    ),
    warns("tidb.pd-addr", NO_PD),
    warns(
        "tidb.log-level",
        "there is no embedded TiDB library to configure",
    ),
    works_note(
        "tidb.sql-mode",
        "encodes values (both backends) and is set on SQL sessions",
    ),
    works_note("tidb.tls", "tidb backend"),
    works_note(
        "tidb.security.ca-path",
        "tidb backend; default: `[security]`",
    ),
    works_note(
        "tidb.security.cert-path",
        "tidb backend; default: `[security]`",
    ),
    works_note(
        "tidb.security.key-path",
        "tidb backend; default: `[security]`",
    ),
    inert(
        warns(
            "tidb.security.redact-info-log",
            "only `security.redact-info-log` applies",
        ),
        FALSE,
    ),
    works_note("tidb.session-vars.*", "set on every SQL session"),
    inert(
        key(
            "tidb.max-allowed-packet",
            Status::TidbOnly("the local backend sends no SQL statements"),
        ),
        ZERO,
    ),
    warns("tidb.build-stats-concurrency", TIDB_SESSION),
    warns("tidb.distsql-scan-concurrency", TIDB_SESSION),
    warns("tidb.index-serial-scan-concurrency", TIDB_SESSION),
    warns(
        "tidb.checksum-table-concurrency",
        "each table is checksummed as it finishes, so `table-concurrency` bounds the checksums",
    ),
    // [post-restore]
    works_note(
        "post-restore.checksum",
        "`off`/`optional`/`required` or `true`/`false`; the tidb backend defaults to `off` as in Lightning, and honours a value that is set",
    ),
    works_note(
        "post-restore.analyze",
        "`off`/`optional`/`required` or `true`/`false`; tidb backend, where it defaults to `off` as in Lightning and a value that is set is honoured",
    ),
    inert(
        warns(
            "post-restore.level-1-compact",
            "TiKV level-1 compaction; the local store places ingested files itself",
        ),
        FALSE,
    ),
    inert(
        key(
            "post-restore.compact",
            Status::LocalOnly(
                "a full compaction of TiKV; Lightning turns it off for the tidb backend too",
            ),
        ),
        FALSE,
    ),
    inert(
        warns(
            "post-restore.post-process-at-last",
            "checksum and analyze run as each table finishes",
        ),
        FALSE,
    ),
    inert(
        warns(
            "post-restore.checksum-via-sql",
            "the checksum method is chosen per target",
        ),
        FALSE,
    ),
    // [cron]
    warns(
        "cron.switch-mode",
        "TiKV's import mode; the local store needs none",
    ),
    works("cron.log-progress"),
    works("cron.check-disk-quota"),
    // [security]
    works_note("security.ca-path", "TLS of the SQL connections"),
    works_note("security.cert-path", "TLS of the SQL connections"),
    works_note("security.key-path", "TLS of the SQL connections"),
    works_note(
        "security.redact-info-log",
        "row data in logs, printed errors and the status page becomes `?`: literals quoted in server messages (`Duplicate entry '?'`) and hex-encoded keys",
    ),
    // [[routes]]
    works("routes[].schema-pattern"),
    works("routes[].table-pattern"),
    works("routes[].target-schema"),
    works("routes[].target-table"),
    key("routes[].extract-table", Status::Refused(EXTRACT)),
    key("routes[].extract-schema", Status::Refused(EXTRACT)),
    key("routes[].extract-source", Status::Refused(EXTRACT)),
    // [black-white-list] (Lightning before v4: the table filter)
    works_note(
        "black-white-list.do-dbs",
        "deprecated: applied as the table filter, with a warning, as Lightning; `~` starts a regex",
    ),
    works_note("black-white-list.ignore-dbs", "as `do-dbs`"),
    works_note("black-white-list.do-tables[].db-name", "as `do-dbs`"),
    works_note("black-white-list.do-tables[].tbl-name", "as `do-dbs`"),
    works_note("black-white-list.ignore-tables[].db-name", "as `do-dbs`"),
    works_note("black-white-list.ignore-tables[].tbl-name", "as `do-dbs`"),
    // [store] (ours)
    works_note(
        "store.path",
        "ours: the local backend's target store (default `./importer-store`)",
    ),
];

/// What a flag does when it has no key of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagAction {
    /// Sets this key: the key's [`Status`] applies.
    Sets(&'static str),
    /// Acts by itself.
    Own(Status),
}

/// One command-line flag of `tidb-lightning` (or ours).
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The long name without dashes (`tidb-status`), or a single letter.
    pub name: &'static str,
    /// The short form, if any.
    pub short: Option<char>,
    /// Whether `tidb-lightning` has it (else it is ours).
    pub lightning: bool,
    /// What it does.
    pub action: FlagAction,
    /// What the README adds.
    pub note: &'static str,
}

const fn flag(name: &'static str, key: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        lightning: true,
        action: FlagAction::Sets(key),
        note: "",
    }
}

const fn own(name: &'static str, status: Status, lightning: bool, note: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        lightning,
        action: FlagAction::Own(status),
        note,
    }
}

const fn short(mut f: Flag, c: char) -> Flag {
    f.short = Some(c);
    f
}

const fn ours(mut f: Flag) -> Flag {
    f.lightning = false;
    f
}

/// Every flag of `tidb-lightning` (Lightning's `LoadGlobalConfig`, with
/// `-importer` and `-check-only` of earlier versions) and ours. Go's
/// single-dash spellings (`-tidb-host`) are accepted too.
pub const FLAGS: &[Flag] = &[
    short(
        own(
            "config",
            Status::Works,
            true,
            "the configuration file; `-config` and `-c` as Lightning",
        ),
        'c',
    ),
    own(
        "version",
        Status::Works,
        true,
        "`-V` prints the version, as Lightning",
    ),
    short(flag("log-level", "lightning.level"), 'L'),
    flag("log-file", "lightning.file"),
    ours(flag("log-format", "lightning.log-format")),
    flag("tidb-host", "tidb.host"),
    flag("tidb-port", "tidb.port"),
    flag("tidb-user", "tidb.user"),
    flag("tidb-password", "tidb.password"),
    flag("tidb-status", "tidb.status-port"),
    flag("pd-urls", "tidb.pd-addr"),
    short(flag("data-source-dir", "mydumper.data-source-dir"), 'd'),
    flag("importer", "tikv-importer.addr"),
    flag("backend", "tikv-importer.backend"),
    flag("remote-addr", "tikv-importer.remote-addr"),
    flag("sorted-kv-dir", "tikv-importer.sorted-kv-dir"),
    flag("enable-checkpoint", "checkpoint.enable"),
    flag("no-schema", "mydumper.no-schema"),
    flag("checksum", "post-restore.checksum"),
    flag("analyze", "post-restore.analyze"),
    flag("check-requirements", "lightning.check-requirements"),
    flag("ca", "security.ca-path"),
    flag("cert", "security.cert-path"),
    flag("key", "security.key-path"),
    flag("redact-info-log", "security.redact-info-log"),
    flag("status-addr", "lightning.status-addr"),
    flag("server-mode", "lightning.server-mode"),
    short(flag("filter", "mydumper.filter"), 'f'),
    own(
        "check-only",
        Status::Works,
        true,
        "runs the prechecks and exits; Lightning's values `default` and `RATE,ROWS` are accepted, but sampling is not implemented (a warning says so): the prechecks run as with `default`",
    ),
    ours(flag("store", "store.path")),
];

/// The registry entry of `key`: a concrete path (`routes[0].x`,
/// `tidb.session-vars.foo`) or a pattern (`routes[].x`).
pub fn lookup(key: &str) -> Option<&'static Key> {
    let norm = normalize(key);
    KEYS.iter().find(|k| matches(k.key, &norm))
}

/// Whether some registry key lies below `prefix` (a section, a table or
/// an array of tables).
pub fn is_container(prefix: &str) -> bool {
    has_table_children(prefix) || has_array_children(prefix)
}

/// Whether `prefix` is a table of registry keys (`[lightning]`,
/// `lightning.max-error`, `[tidb.session-vars]`).
pub fn has_table_children(prefix: &str) -> bool {
    below(prefix, ".")
}

/// Whether `prefix` is an array of tables of registry keys (`[[routes]]`).
pub fn has_array_children(prefix: &str) -> bool {
    below(prefix, "[].")
}

fn below(prefix: &str, sep: &str) -> bool {
    let norm = normalize(prefix);
    KEYS.iter().any(|k| {
        k.key
            .strip_prefix(norm.as_str())
            .is_some_and(|rest| rest.starts_with(sep))
    })
}

/// The registry keys directly below `prefix`, for "did you mean".
pub fn children(prefix: &str) -> Vec<&'static str> {
    let norm = normalize(prefix);
    let mut out: Vec<&'static str> = KEYS
        .iter()
        .filter_map(|k| {
            let rest = if norm.is_empty() {
                k.key
            } else {
                k.key.strip_prefix(norm.as_str())?.strip_prefix('.')?
            };
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            Some(&rest[..end])
        })
        .filter(|s| !s.is_empty() && *s != "*")
        .collect();
    out.dedup();
    out.sort_unstable();
    out.dedup();
    out
}

/// `routes[3].x` → `routes[].x`.
pub fn normalize(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' {
            for d in chars.by_ref() {
                if d == ']' {
                    out.push(']');
                    break;
                }
            }
        }
    }
    out
}

fn matches(pattern: &str, norm: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => norm
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('.')),
        None => pattern == norm,
    }
}

/// The status and why/notes columns of the README for a key.
fn columns(status: Status, inert: Option<Inert>, note: &str) -> (String, String) {
    let (mut shown, why) = match status {
        Status::Works => ("works".to_owned(), ""),
        Status::TidbOnly(why) => ("works on tidb; warns on local".to_owned(), why),
        Status::LocalOnly(why) => ("works on local; warns on tidb".to_owned(), why),
        Status::Warns(why) => ("warns".to_owned(), why),
        Status::Refused(why) => ("refused".to_owned(), why),
    };
    if let Some(inert) = inert
        && status != Status::Works
    {
        let _ = write!(shown, " (silent when `{}`)", inert.shown);
    }
    let notes = match (why.is_empty(), note.is_empty()) {
        (true, _) => note.to_owned(),
        (false, true) => why.to_owned(),
        (false, false) => format!("{why}; {note}"),
    };
    (shown, notes)
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The README's tables of every key and flag, generated from [`KEYS`] and
/// [`FLAGS`].
pub fn markdown_table() -> String {
    let mut out = String::from("| key | status | why / notes |\n|---|---|---|\n");
    for k in KEYS {
        let (status, notes) = columns(k.status, k.inert, k.note);
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            k.key,
            cell(&status),
            cell(&notes)
        );
    }
    out.push_str("\n| flag | sets | status | why / notes |\n|---|---|---|---|\n");
    for f in FLAGS {
        let mut names = format!("`--{}`", f.name);
        if let Some(c) = f.short {
            let _ = write!(names, ", `-{c}`");
        }
        if f.name == "version" {
            names.push_str(", `-V`");
        }
        let (sets, (status, mut notes)) = match f.action {
            FlagAction::Sets(k) => (
                format!("`{k}`"),
                lookup(k).map_or_else(
                    || ("works".to_owned(), String::new()),
                    |key| columns(key.status, key.inert, ""),
                ),
            ),
            FlagAction::Own(s) => (String::new(), columns(s, None, "")),
        };
        for extra in [if f.lightning { "" } else { "ours" }, f.note] {
            if !extra.is_empty() {
                if !notes.is_empty() {
                    notes.push_str("; ");
                }
                notes.push_str(extra);
            }
        }
        let _ = writeln!(
            out,
            "| {names} | {sets} | {} | {} |",
            cell(&status),
            cell(&notes)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_concrete_paths() {
        assert_eq!(
            normalize("routes[12].target-schema"),
            "routes[].target-schema"
        );
        assert!(lookup("routes[0].schema-pattern").is_some());
        assert!(lookup("tidb.session-vars.foreign_key_checks").is_some());
        assert!(lookup("tidb.session-vars").is_none());
        assert!(is_container("tidb.session-vars"));
        assert!(is_container("routes"));
        assert!(is_container("black-white-list.do-tables"));
        assert!(!is_container("lightning.level"));
        assert!(children("tikv-importer").contains(&"sorted-kv-dir"));
        assert!(children("").contains(&"lightning"));
    }

    #[test]
    fn keys_and_flags_are_unique() {
        let mut keys: Vec<&str> = KEYS.iter().map(|k| k.key).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "a key is listed twice");
        for f in FLAGS {
            if let FlagAction::Sets(k) = f.action {
                assert!(lookup(k).is_some(), "--{} sets unknown key {k}", f.name);
            }
        }
    }
}
