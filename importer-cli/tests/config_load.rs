//! Loading the configuration: layers, shipped examples, errors that name
//! the key and line, redaction.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use importer_cli::config::{
    Backend, ByteSize, ConfigError, ConflictStrategy, EnvVars, GoDuration, LoadOptions, Loaded,
    Origin, Overrides, PostOpLevel, load,
};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("tidb-lightning.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load_text(text: &str) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    load(&LoadOptions {
        file: Some(path),
        ..LoadOptions::default()
    })
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn every_shipped_example_loads() {
    let mut count = 0;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let loaded = load(&LoadOptions {
                file: Some(path.clone()),
                ..LoadOptions::default()
            })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                !loaded.config.mydumper.data_source_dir.is_empty(),
                "{}",
                path.display()
            );
            count += 1;
        }
    }
    assert!(
        count >= 3,
        "expected the local, tidb and defaults examples, found {count}"
    );
}

#[test]
fn lightning_local_example_keeps_lightning_meaning() {
    let loaded = load(&LoadOptions {
        file: Some(examples_dir().join("tidb-lightning-local.toml")),
        ..LoadOptions::default()
    })
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.tikv_importer.backend, Backend::Local);
    assert_eq!(c.tikv_importer.region_split_size, ByteSize::mib(96));
    assert_eq!(c.tikv_importer.region_split_keys, 1_280_000);
    assert_eq!(c.mydumper.read_block_size, ByteSize::kib(64));
    assert_eq!(c.mydumper.csv.null, vec![r"\N".to_owned()]);
    assert_eq!(c.mydumper.csv.escaped_by.as_deref(), Some("\\"));
    assert_eq!(c.cron.check_disk_quota, GoDuration::secs(60));
    assert_eq!(c.lightning.table_concurrency, 6);
    // Settings without an effect here are named in warnings, with their line.
    let all = loaded.warnings.join("\n");
    assert!(all.contains("`tidb.log-level`"), "{all}");
    assert!(all.contains("`mydumper.batch-import-ratio`"), "{all}");
    assert!(all.contains("tidb-lightning-local.toml:"), "{all}");
}

#[test]
fn lightning_tidb_example_resolves_like_lightning() {
    let loaded = load(&LoadOptions {
        file: Some(examples_dir().join("tidb-lightning-tidb.toml")),
        ..LoadOptions::default()
    })
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.tikv_importer.backend, Backend::Tidb);
    assert_eq!(c.lightning.max_error.type_, 10);
    assert_eq!(c.conflict.strategy, ConflictStrategy::Replace);
    assert_eq!(c.conflict.threshold, Some(10_000));
    // Lightning: replace on the tidb backend cannot record conflicts.
    assert_eq!(c.conflict.max_record_rows, Some(0));
    assert_eq!(c.post_restore.checksum, PostOpLevel::Required);
    assert_eq!(c.post_restore.analyze, PostOpLevel::Off);
    assert_eq!(
        c.tidb
            .session_vars
            .get("foreign_key_checks")
            .map(String::as_str),
        Some("0")
    );
    assert_eq!(
        c.lightning.table_concurrency,
        c.lightning.region_concurrency
    );
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.mydumper.files[0].type_, "csv");
    assert_eq!(c.mydumper.default_file_rules, Some(false));
}

#[test]
fn tidb_backend_post_restore_defaults_to_off_like_lightning() {
    let base = "[mydumper]\ndata-source-dir = \"/d\"\n[tikv-importer]\nbackend = ";
    let tidb = load_text(&format!("{base}\"tidb\"\n")).unwrap().config;
    assert_eq!(tidb.post_restore.checksum, PostOpLevel::Off);
    assert_eq!(tidb.post_restore.analyze, PostOpLevel::Off);
    let local = load_text(&format!("{base}\"local\"\n")).unwrap().config;
    assert_eq!(local.post_restore.checksum, PostOpLevel::Required);
    assert_eq!(local.post_restore.analyze, PostOpLevel::Optional);
    // A value that is set is kept (Lightning would ignore it).
    let set = load_text(&format!(
        "{base}\"tidb\"\n[post-restore]\nchecksum = \"optional\"\nanalyze = true\n"
    ))
    .unwrap()
    .config;
    assert_eq!(set.post_restore.checksum, PostOpLevel::Optional);
    assert_eq!(set.post_restore.analyze, PostOpLevel::Required);
}

#[test]
fn precedence_is_defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "[tidb]\nport = 4001\nuser = \"from-file\"\n[lightning]\nlevel = \"warn\"\n",
    );
    let env = EnvVars::from_pairs([
        ("IMPORTER_TIDB__PORT", "4002"),
        ("IMPORTER_LIGHTNING__LEVEL", "debug"),
    ]);
    let mut flags = Overrides::default();
    flags.set("tidb.port", 4003_i64, "--tidb-port");

    let defaults = load(&LoadOptions::default()).unwrap().config;
    assert_eq!(defaults.tidb.port, 4000);
    assert_eq!(defaults.tidb.user, "root");

    let file_only = load(&LoadOptions {
        file: Some(file.clone()),
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(file_only.config.tidb.port, 4001);
    assert_eq!(
        file_only.origins.of("tidb.port"),
        Origin::File {
            path: file.clone(),
            line: 2
        }
    );

    let with_env = load(&LoadOptions {
        file: Some(file.clone()),
        env: env.clone(),
        overrides: Overrides::default(),
    })
    .unwrap();
    assert_eq!(with_env.config.tidb.port, 4002);
    assert_eq!(
        with_env.config.tidb.user, "from-file",
        "env leaves other file keys alone"
    );
    assert_eq!(with_env.config.lightning.level.to_string(), "debug");

    let with_flags = load(&LoadOptions {
        file: Some(file),
        env,
        overrides: flags,
    })
    .unwrap();
    assert_eq!(with_flags.config.tidb.port, 4003);
    assert_eq!(with_flags.config.lightning.level.to_string(), "debug");
    assert_eq!(
        with_flags.origins.of("tidb.port"),
        Origin::Flag("--tidb-port".into())
    );
}

#[test]
fn env_names_map_underscores_to_dashes_and_lists_to_commas() {
    let loaded = load(&LoadOptions {
        env: EnvVars::from_pairs([
            ("IMPORTER_TIKV_IMPORTER__BACKEND", "tidb"),
            ("IMPORTER_TIKV_IMPORTER__REGION_SPLIT_SIZE", "1GB"),
            ("IMPORTER_MYDUMPER__FILTER", "shop.*,!shop.tmp"),
            ("IMPORTER_MYDUMPER__CSV__SEPARATOR", "|"),
            (
                "IMPORTER_TIDB__SESSION_VARS__TIDB_MEM_QUOTA_QUERY",
                "1073741824",
            ),
            ("IMPORTER_CHECKPOINT__ENABLE", "false"),
            ("IMPORTER_CRON__LOG_PROGRESS", "30s"),
            // Not settings: no double underscore.
            ("IMPORTER_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:1"),
            ("IMPORTER_CONFIG", "/nonexistent.toml"),
        ]),
        ..LoadOptions::default()
    })
    .unwrap();
    let c = loaded.config;
    assert_eq!(c.tikv_importer.backend, Backend::Tidb);
    assert_eq!(c.tikv_importer.region_split_size, ByteSize::gib(1));
    assert_eq!(
        c.mydumper.filter,
        vec!["shop.*".to_owned(), "!shop.tmp".to_owned()]
    );
    assert_eq!(c.mydumper.csv.separator, "|");
    assert_eq!(
        c.tidb
            .session_vars
            .get("tidb_mem_quota_query")
            .map(String::as_str),
        Some("1073741824")
    );
    assert!(!c.checkpoint.enable);
    assert_eq!(c.cron.log_progress, GoDuration::secs(30));
}

#[test]
fn unknown_key_error_names_key_and_line() {
    let err = load_text("[lightning]\nlevel = \"info\"\n\n[tikv-importer]\nbackend = \"local\"\nsorted-kv-dri = \"/tmp/x\"\n")
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::UnknownKeys { .. }), "{text}");
    assert!(text.contains("`tikv-importer.sorted-kv-dri`"), "{text}");
    assert!(text.contains("tidb-lightning.toml:6"), "{text}");
    assert!(
        text.contains("sorted-kv-dir"),
        "lists the valid keys: {text}"
    );

    let err = load_text("[lightnin]\nlevel = \"info\"\n").unwrap_err();
    assert!(
        err.to_string().contains("`lightnin`") && err.to_string().contains(":1"),
        "{err}"
    );

    let err = load_text(
        "[[routes]]\nschema-pattern = \"a\"\ntarget-schema = \"b\"\ntarget-tabel = \"c\"\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("`routes[0].target-tabel`") && err.to_string().contains(":4"),
        "{err}"
    );
}

#[test]
fn unknown_env_key_names_the_variable() {
    let err = load(&LoadOptions {
        env: EnvVars::from_pairs([("IMPORTER_TIDB__PASSWROD", "x")]),
        ..LoadOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("IMPORTER_TIDB__PASSWROD") && err.contains("tidb.passwrod"),
        "{err}"
    );

    let err = load(&LoadOptions {
        env: EnvVars::from_pairs([("IMPORTER_TIDB_PASSWORD", "x")]),
        ..LoadOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("IMPORTER_TIDB__PASSWORD"),
        "suggests the right name: {err}"
    );
}

#[test]
fn invalid_value_names_key_and_allowed_values() {
    let err = load_text("[tikv-importer]\nbackend = \"mysql\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`tikv-importer.backend`"), "{err}");
    assert!(err.contains(":2"), "{err}");
    assert!(err.contains("\"local\", \"tidb\""), "{err}");
    // Lightning's removed backend: refused with the reason.
    let err = load_text("[tikv-importer]\nbackend = \"importer\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`tikv-importer.backend`") && err.contains("removed from Lightning"),
        "{err}"
    );

    let err = load_text("[post-restore]\nchecksum = \"sometimes\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`post-restore.checksum`")
            && err.contains("\"off\", \"optional\", \"required\""),
        "{err}"
    );

    let err = load_text("[tikv-importer]\nregion-split-size = \"96MB-ish\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`tikv-importer.region-split-size`") && err.contains("MiB"),
        "{err}"
    );

    let err = load_text("[cron]\nlog-progress = \"5 minutes\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`cron.log-progress`") && err.contains(":2"),
        "{err}"
    );

    let err = load(&LoadOptions {
        env: EnvVars::from_pairs([("IMPORTER_CONFLICT__STRATEGY", "overwrite")]),
        ..LoadOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("IMPORTER_CONFLICT__STRATEGY") && err.contains("\"replace\""),
        "{err}"
    );

    // Cross-key rules name the key and where it was set.
    let err = load_text("[mydumper.csv]\nseparator = \"\\\\\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`mydumper.csv.escaped-by`"), "{err}");
    let err = load_text("[conflict]\nstrategy = \"ignore\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`conflict.strategy`") && err.contains(":2") && err.contains("tidb"),
        "{err}"
    );
}

#[test]
fn lightning_settings_that_would_change_the_result_are_refused() {
    let err =
        load_text("[tikv-importer]\nbackend = \"local\"\nparallel-import = true\n").unwrap_err();
    assert!(matches!(err, ConfigError::Unsupported { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("`tikv-importer.parallel-import` (")
            && err.to_string().contains(":3"),
        "{err}"
    );

    let err = load_text("[lightning]\nserver-mode = true\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`lightning.server-mode`") && err.contains(":2"),
        "{err}"
    );

    let err = load_text("[[routes]]\nschema-pattern = \"a\"\ntarget-schema = \"b\"\n[routes.extract-table]\ntable-regexp = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`routes[0].extract-table`"), "{err}");

    // Lightning's default (off) is what the importer does: accepted silently.
    let ok = load_text("[lightning]\nserver-mode = false\n").unwrap();
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

#[test]
fn syntax_errors_name_line() {
    let err = load_text("[tidb]\nport = \n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
}

#[test]
fn passwords_are_redacted_in_debug_display_and_serialization() {
    let loaded = load_text(
        "[tidb]\npassword = \"s3cr3t-pw\"\n[checkpoint]\ndriver = \"mysql\"\ndsn = \"root:dsn-s3cr3t@tcp(127.0.0.1:4000)/\"\n[tikv-importer]\nbackend = \"tidb\"\n",
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.tidb.password, "s3cr3t-pw", "the value itself is kept");
    for shown in [
        format!("{c:?}"),
        format!("{c:#?}"),
        c.to_string(),
        serde_json::to_string(c).unwrap(),
        format!("{:?}", c.tidb),
        format!("{:?}", c.checkpoint),
    ] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
    assert!(c.to_string().contains("root:******@tcp(127.0.0.1:4000)/"));

    let mut flags = Overrides::default();
    flags.set("tidb.password", "flag-s3cr3t", "--tidb-password");
    assert!(!format!("{flags:?}").contains("s3cr3t"));
    let env = EnvVars::from_pairs([("IMPORTER_TIDB__PASSWORD", "env-s3cr3t")]);
    assert!(!format!("{env:?}").contains("s3cr3t"));
}

#[test]
fn automatic_values_are_filled_in() {
    let loaded = load(&LoadOptions::default()).unwrap();
    let c = loaded.config;
    assert_eq!(c.tikv_importer.backend, Backend::Local);
    assert_eq!(c.store.path, PathBuf::from("./importer-store"));
    assert_eq!(
        c.tikv_importer.sorted_kv_dir,
        PathBuf::from("./importer-store.sorted-kv")
    );
    assert_eq!(c.lightning.index_concurrency, 2);
    assert_eq!(c.conflict.threshold, Some(0));
    assert!(c.lightning.region_concurrency >= 1);
    assert_eq!(c.mydumper.default_file_rules, Some(true));
    let err = c
        .require_data_source(&loaded.origins)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mydumper.data-source-dir") && err.contains("-d DIR"),
        "{err}"
    );
}

#[test]
fn max_error_accepts_integer_and_table() {
    let c = load_text("[lightning]\nmax-error = 5\n").unwrap().config;
    assert_eq!(c.lightning.max_error.type_, 5);
    let c = load_text("[lightning.max-error]\ntype = 7\ncharset = 3\n")
        .unwrap()
        .config;
    assert_eq!(
        (c.lightning.max_error.type_, c.lightning.max_error.charset),
        (7, 3)
    );
    let err = load_text("[lightning]\nmax-error = -1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("lightning.max-error"), "{err}");
}

#[test]
fn add_index_by_sql_warns_only_where_it_has_no_effect() {
    let local =
        load_text("[tikv-importer]\nbackend = \"local\"\nadd-index-by-sql = true\n").unwrap();
    assert!(
        local
            .warnings
            .iter()
            .any(|w| w.contains("add-index-by-sql") && w.contains("no effect on the local backend")),
        "{:?}",
        local.warnings
    );
    let tidb = load_text("[tikv-importer]\nbackend = \"tidb\"\nadd-index-by-sql = true\n").unwrap();
    assert!(tidb.config.tikv_importer.add_index_by_sql);
    assert!(
        !tidb.warnings.iter().any(|w| w.contains("add-index-by-sql")),
        "{:?}",
        tidb.warnings
    );
}
