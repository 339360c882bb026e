//! Validation in one place: rules that span keys (Lightning's `adjust`
//! checks) and the filling-in of automatic values ("0 = auto", derived
//! paths, deprecated aliases). Nothing invalid is silently changed: a value
//! is either accepted as written, resolved by a documented rule, or refused.

use super::Config;
use super::error::{ConfigError, Origins};
use super::types::{Backend, ByteSize, CheckpointDriver, ConflictStrategy, PostOpLevel, TlsMode};

/// Conflicts tolerated by default with `replace`/`ignore` (Lightning's).
pub const DEFAULT_CONFLICT_THRESHOLD: u64 = 10_000;

/// Checks `cfg` and fills in its automatic values; returns warnings.
pub(crate) fn validate_and_resolve(
    cfg: &mut Config,
    origins: &Origins,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    let invalid = |key: &str, reason: String| ConfigError::InvalidValue {
        key: key.to_owned(),
        origin: origins.of(key),
        reason,
    };
    let backend = cfg.tikv_importer.backend;

    // Counts that must be positive.
    let positive: [(&str, u64); 6] = [
        (
            "lightning.region-concurrency",
            as_u64(cfg.lightning.region_concurrency),
        ),
        (
            "lightning.io-concurrency",
            as_u64(cfg.lightning.io_concurrency),
        ),
        (
            "tikv-importer.range-concurrency",
            as_u64(cfg.tikv_importer.range_concurrency),
        ),
        (
            "tikv-importer.logical-import-batch-size",
            cfg.tikv_importer.logical_import_batch_size.bytes(),
        ),
        (
            "tikv-importer.logical-import-batch-rows",
            cfg.tikv_importer.logical_import_batch_rows,
        ),
        (
            "tidb.checksum-table-concurrency",
            as_u64(cfg.tidb.checksum_table_concurrency),
        ),
    ];
    for (key, value) in positive {
        if value == 0 {
            return Err(invalid(key, "must be at least 1".into()));
        }
    }
    for (key, value) in [
        ("mydumper.batch-size", cfg.mydumper.batch_size),
        ("mydumper.max-region-size", cfg.mydumper.max_region_size),
        ("mydumper.read-block-size", cfg.mydumper.read_block_size),
    ] {
        if value == ByteSize(0) {
            return Err(invalid(key, "must be larger than 0 bytes".into()));
        }
    }
    for (key, value) in [
        ("cron.log-progress", cfg.cron.log_progress),
        ("cron.check-disk-quota", cfg.cron.check_disk_quota),
        ("cron.switch-mode", cfg.cron.switch_mode),
    ] {
        if value.get().is_zero() {
            return Err(invalid(key, "must be longer than 0, e.g. \"5m\"".into()));
        }
    }

    if !cfg.lightning.status_addr.is_empty() && !valid_listen_addr(&cfg.lightning.status_addr) {
        return Err(invalid(
            "lightning.status-addr",
            format!(
                "\"{}\" is not a listen address; expected HOST:PORT or :PORT, e.g. \"127.0.0.1:8289\"",
                cfg.lightning.status_addr
            ),
        ));
    }

    // Import mode (`parallel-import` and `add-index-by-sql` by the registry).
    let importer = &cfg.tikv_importer;

    // Conflicts, as Lightning's `Conflict.adjust`.
    let mut strategy_key = "conflict.strategy";
    let mut strategy = cfg.conflict.strategy;
    if strategy == ConflictStrategy::None {
        if importer.on_duplicate != ConflictStrategy::None {
            strategy = importer.on_duplicate;
            strategy_key = "tikv-importer.on-duplicate";
        } else if backend == Backend::Tidb {
            strategy = ConflictStrategy::Error;
        }
    }
    if importer.duplicate_resolution != ConflictStrategy::None {
        if strategy != ConflictStrategy::None && origins.is_set(strategy_key) {
            return Err(invalid(
                strategy_key,
                "cannot be used together with `tikv-importer.duplicate-resolution`; keep only `conflict.strategy`".into(),
            ));
        }
        strategy = importer.duplicate_resolution;
        strategy_key = "tikv-importer.duplicate-resolution";
    }
    if strategy == ConflictStrategy::Ignore && backend == Backend::Local {
        return Err(invalid(
            strategy_key,
            "\"ignore\" needs `tikv-importer.backend = \"tidb\"`; allowed with local: \"\", \"replace\", \"error\"".into(),
        ));
    }
    let threshold = match (cfg.conflict.threshold, strategy) {
        (Some(t), ConflictStrategy::Error) if t > 0 => {
            return Err(invalid(
                "conflict.threshold",
                "cannot be set with `conflict.strategy = \"error\"`".into(),
            ));
        }
        (Some(t), _) => t,
        (None, ConflictStrategy::Replace | ConflictStrategy::Ignore) => DEFAULT_CONFLICT_THRESHOLD,
        (None, _) => 0,
    };
    cfg.conflict.strategy = strategy;
    cfg.conflict.threshold = Some(threshold);
    cfg.conflict.max_record_rows = Some(
        if strategy == ConflictStrategy::Replace && backend == Backend::Tidb {
            0
        } else {
            threshold
        },
    );

    // CSV dialect, as Lightning's `CSVConfig.adjust`.
    let csv = &cfg.mydumper.csv;
    if csv.separator.is_empty() {
        return Err(invalid(
            "mydumper.csv.separator",
            "must not be empty".into(),
        ));
    }
    if !csv.delimiter.is_empty()
        && (csv.separator.starts_with(&csv.delimiter) || csv.delimiter.starts_with(&csv.separator))
    {
        return Err(invalid(
            "mydumper.csv.delimiter",
            "`separator` and `delimiter` must not be prefixes of each other".into(),
        ));
    }
    let escaped_by = csv.effective_escaped_by();
    if escaped_by.chars().count() > 1 {
        return Err(invalid(
            "mydumper.csv.escaped-by",
            format!("\"{escaped_by}\" must be empty or one character"),
        ));
    }
    if !escaped_by.is_empty() {
        for (what, value) in [
            ("separator", &csv.separator),
            ("delimiter", &csv.delimiter),
            ("terminator", &csv.terminator),
        ] {
            if *value == escaped_by {
                return Err(invalid(
                    "mydumper.csv.escaped-by",
                    format!("\"{escaped_by}\" is also the CSV {what}"),
                ));
            }
        }
    }
    if cfg.mydumper.strict_format && csv.terminator.is_empty() {
        return Err(invalid(
            "mydumper.strict-format",
            "needs a non-empty `mydumper.csv.terminator` such as \"\\r\\n\"".into(),
        ));
    }
    cfg.mydumper.csv.escaped_by = Some(escaped_by);

    // Data source and file rules.
    if super::source_url::is_object_url(&cfg.mydumper.data_source_dir) {
        // Parameters are checked here, with the key named; credentials are
        // looked for when the import opens the store.
        super::source_url::check(&cfg.mydumper.data_source_dir)
            .map_err(|e| invalid("mydumper.data-source-dir", e))?;
    } else if let Some((scheme, rest)) = cfg.mydumper.data_source_dir.split_once("://") {
        if scheme != "file" {
            return Err(invalid(
                "mydumper.data-source-dir",
                format!(
                    "storage \"{scheme}://\" is not supported; allowed: a local directory, a \
                     file:// URL, or s3://, gs://, gcs://, azure://, azblob://"
                ),
            ));
        }
        cfg.mydumper.data_source_dir = rest.to_owned().into();
    }
    for (i, rule) in cfg.mydumper.files.iter().enumerate() {
        let key = format!("mydumper.files[{i}]");
        if rule.pattern.is_empty() == rule.path.is_empty() {
            return Err(invalid(
                &key,
                "set exactly one of `pattern` and `path`".into(),
            ));
        }
        if !rule.pattern.is_empty() {
            regex::Regex::new(&rule.pattern).map_err(|e| {
                invalid(&format!("{key}.pattern"), format!("not a valid regex: {e}"))
            })?;
        }
        const TYPES: &[&str] = &[
            "schema-schema",
            "table-schema",
            "view-schema",
            "sql",
            "csv",
            "parquet",
            "ignore",
        ];
        if !rule.type_.contains('$') && !TYPES.contains(&rule.type_.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                &format!("{key}.type"),
                format!(
                    "invalid value \"{}\"; allowed values: {}",
                    rule.type_,
                    TYPES.join(", ")
                ),
            ));
        }
        const COMPRESSIONS: &[&str] = &["", "gz", "gzip", "zstd", "zst", "snappy", "snz"];
        if !rule.compression.contains('$')
            && !COMPRESSIONS.contains(&rule.compression.to_ascii_lowercase().as_str())
        {
            return Err(invalid(
                &format!("{key}.compression"),
                format!(
                    "invalid value \"{}\"; allowed values: \"\", gzip, zstd, snappy",
                    rule.compression
                ),
            ));
        }
    }
    if cfg.mydumper.default_file_rules.is_none() {
        cfg.mydumper.default_file_rules = Some(cfg.mydumper.files.is_empty());
    }
    // The deprecated `[black-white-list]`, as Lightning: a warning, and
    // never together with a `mydumper.filter` of one's own.
    let bw = &cfg.black_white_list;
    if bw.is_set() {
        let first = ["do-dbs", "ignore-dbs", "do-tables", "ignore-tables"]
            .iter()
            .map(|k| format!("black-white-list.{k}"))
            .find(|k| origins.is_set(k))
            .unwrap_or_else(|| "black-white-list".into());
        if cfg.mydumper.filter != super::DEFAULT_FILTER {
            return Err(invalid(
                &first,
                "`mydumper.filter` and `black-white-list` cannot both be set; keep `mydumper.filter`".into(),
            ));
        }
        warnings.push(format!(
            "`black-white-list` ({}) is deprecated; applied as the table filter, replace it with `mydumper.filter`",
            origins.of(&first)
        ));
        let patterns =
            bw.do_dbs
                .iter()
                .chain(&bw.ignore_dbs)
                .map(|p| (first.as_str(), p))
                .chain(
                    bw.do_tables.iter().chain(&bw.ignore_tables).flat_map(|t| {
                        [(first.as_str(), &t.db_name), (first.as_str(), &t.tbl_name)]
                    }),
                );
        for (key, pattern) in patterns {
            if pattern.is_empty() {
                return Err(invalid(key, "a name or pattern must not be empty".into()));
            }
            if let Some(re) = pattern.strip_prefix('~') {
                regex::Regex::new(re)
                    .map_err(|e| invalid(key, format!("`{pattern}` is not a valid regex: {e}")))?;
            }
        }
    }
    for (i, route) in cfg.routes.iter().enumerate() {
        if route.schema_pattern.is_empty() || route.target_schema.is_empty() {
            return Err(invalid(
                &format!("routes[{i}]"),
                "`schema-pattern` and `target-schema` are required".into(),
            ));
        }
    }

    // TLS and checkpoints.
    if cfg.tidb.security.is_none() {
        cfg.tidb.security = Some(cfg.security.clone());
    }
    let has_ca = cfg
        .tidb
        .security
        .as_ref()
        .is_some_and(|s| !s.ca_path.is_empty());
    if cfg.tidb.tls == TlsMode::Cluster && !has_ca {
        return Err(invalid(
            "tidb.tls",
            "\"cluster\" needs `ca-path` in [tidb.security] or [security]".into(),
        ));
    }
    if cfg.checkpoint.enable
        && cfg.checkpoint.driver == CheckpointDriver::Mysql
        && backend == Backend::Local
        && cfg.checkpoint.dsn.is_empty()
    {
        return Err(invalid(
            "checkpoint.driver",
            "\"mysql\" with the local backend needs `checkpoint.dsn` (there is no [tidb] server); or use driver = \"file\"".into(),
        ));
    }

    // Lightning turns checksum and analyze off for the tidb backend: the
    // server counted every row it took, and a row count or `ANALYZE` per
    // table costs more than a small table's import. A value the user set
    // is honoured (Lightning ignores it).
    if backend == Backend::Tidb {
        if !origins.is_set("post-restore.checksum") {
            cfg.post_restore.checksum = PostOpLevel::Off;
        }
        if !origins.is_set("post-restore.analyze") {
            cfg.post_restore.analyze = PostOpLevel::Off;
        }
    }

    // Automatic values.
    let lightning = &mut cfg.lightning;
    let (tables, indexes) = match backend {
        Backend::Local => (6, 2),
        Backend::Tidb => (lightning.region_concurrency, lightning.region_concurrency),
    };
    if lightning.table_concurrency == 0 {
        lightning.table_concurrency = tables;
    }
    if lightning.index_concurrency == 0 {
        lightning.index_concurrency = indexes;
    }
    let importer = &mut cfg.tikv_importer;
    if importer.region_split_size == ByteSize(0) {
        importer.region_split_size = ByteSize::mib(96);
    }
    if importer.region_split_keys == 0 {
        importer.region_split_keys = 1_280_000;
    }
    if importer.sorted_kv_dir.as_os_str().is_empty() {
        let mut dir = cfg.store.path.clone().into_os_string();
        dir.push(".sorted-kv");
        importer.sorted_kv_dir = dir.into();
    }
    Ok(warnings)
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `HOST:PORT`, `:PORT` or `[IPv6]:PORT`.
fn valid_listen_addr(addr: &str) -> bool {
    addr.rsplit_once(':')
        .is_some_and(|(host, port)| port.parse::<u16>().is_ok() && !host.contains(' '))
}
