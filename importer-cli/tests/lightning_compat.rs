//! A Lightning user's config and flags work unchanged: every key of
//! Lightning's reference `tidb-lightning.toml` is honoured or warned about
//! (never silently dropped), the legacy keys Lightning still maps are
//! applied, every `tidb-lightning` flag parses, the README's table is the
//! registry's, and the behaviours behind the keys are real (log rotation,
//! compaction, redaction, `[black-white-list]`, base64 passwords,
//! `max-allowed-packet`), run through the built `importer`.
//!
//! `tests/fixtures/lightning-reference.toml` is Lightning's reference file
//! as published (pingcap/tidb `lightning/tidb-lightning.toml`, commit
//! 040950e116c246dd3ce9ca03ae2e76d9ed90793f), unchanged.
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use clap::CommandFactory;
use crash_common::run_cli;
use importer_cli::cli::Cli;
use importer_cli::config::keys::{self, FLAGS, FlagAction, KEYS, Status};
use importer_cli::config::{
    Backend, ConfigError, ConflictStrategy, KeepAfterSuccess, LoadOptions, Loaded, PostOpLevel,
    load,
};

fn fixture() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lightning-reference.toml"),
    )
    .unwrap()
}

/// A `# key = value` or `#[section]` line of the reference file.
fn commented(line: &str) -> Option<&str> {
    let body = line.strip_prefix('#')?.trim_start();
    let is_header = body.starts_with('[') && body.trim_end().ends_with(']');
    let is_key = body.split_once('=').is_some_and(|(k, _)| {
        let k = k.trim();
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    (is_header || is_key).then_some(body)
}

/// Every key the reference file names, set or commented out (with or
/// without a value), as `section.key` (`mydumper.files[].pattern`).
fn reference_keys(text: &str) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let body = commented(line).unwrap_or(line).trim();
        if body.starts_with('#') || body.is_empty() {
            continue;
        }
        if let Some(name) = body.strip_prefix("[[").and_then(|b| b.strip_suffix("]]")) {
            section = format!("{name}[]");
        } else if let Some(name) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = body.split_once('=') {
            out.push(format!("{section}.{}", key.trim()));
        }
    }
    out
}

/// The reference file with every commented-out setting and section
/// switched on (settings without a value stay off).
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match commented(line) {
            Some(body) if !body.trim_end().ends_with('=') => body,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn load_text(text: &str) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidb-lightning.toml");
    std::fs::write(&path, text).unwrap();
    load(&LoadOptions {
        file: Some(path),
        ..LoadOptions::default()
    })
}

#[test]
fn every_key_of_lightnings_reference_file_is_in_the_registry() {
    let keys = reference_keys(&fixture());
    assert!(keys.len() > 90, "the walk found only {} keys", keys.len());
    let unknown: Vec<&String> = keys.iter().filter(|k| keys::lookup(k).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "keys Lightning documents but the registry lacks: {unknown:?}"
    );
}

#[test]
fn lightnings_reference_file_loads_with_every_key_honoured_or_warned() {
    let text = uncommented(&fixture());
    // As in Lightning today, the removed `importer` backend is refused,
    // with the reason.
    let err = load_text(&text).unwrap_err().to_string();
    assert!(
        err.contains("`tikv-importer.backend`") && err.contains("removed"),
        "{err}"
    );

    // `[[mydumper.files]]` documents `pattern` and `path` together, which
    // Lightning refuses too: keep `pattern`.
    let text = text.replace(
        "path = \"schema_name.table_name.00001.sql\"",
        "#path = \"schema_name.table_name.00001.sql\"",
    );
    for backend in [Backend::Local, Backend::Tidb] {
        let mut text = text.replace(
            "backend = \"importer\"",
            &format!("backend = \"{backend}\""),
        );
        if backend == Backend::Tidb {
            // With tidb, Lightning's "" strategy becomes "error", which
            // refuses a threshold (Lightning's `Conflict.adjust` too).
            text = text.replace("threshold = 10000", "#threshold = 10000");
        }
        let loaded = load_text(&text).unwrap_or_else(|e| panic!("{backend}: {e}"));
        let file: toml::Table = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(&loaded.config).unwrap();
        let mut checked = 0;
        for (key, value) in leaves(&file) {
            let entry = keys::lookup(&key).unwrap_or_else(|| panic!("{key}: unknown"));
            let value = serde_json::to_value(&value).unwrap();
            let inert = entry.inert.is_some_and(|i| (i.test)(&value));
            let warned = loaded
                .warnings
                .iter()
                .filter(|w| w.contains(&format!("`{key}` (")))
                .count();
            let expect_warning = !inert
                && match entry.status {
                    Status::Works => false,
                    Status::TidbOnly(_) => backend == Backend::Local,
                    Status::LocalOnly(_) => backend == Backend::Tidb,
                    Status::Warns(_) => true,
                    Status::Refused(why) => {
                        panic!("{key} is refused ({why}) in the reference file")
                    }
                };
            if expect_warning {
                assert_eq!(
                    warned, 1,
                    "{backend}: `{key}` is not warned about once: {:#?}",
                    loaded.warnings
                );
            } else {
                assert_eq!(
                    warned, 0,
                    "{backend}: `{key}` is honoured, yet warned: {:#?}",
                    loaded.warnings
                );
                // Honoured: the value is in the configuration the import reads.
                // (An untyped key passes only with its inert value.)
                assert!(
                    json_at(&json, &key).is_some() || inert || key == "lightning.pprof-port",
                    "{backend}: `{key}` works, but the configuration has no such field"
                );
            }
            checked += 1;
        }
        assert!(checked > 85, "{backend}: only {checked} keys checked");
    }
}

/// Every leaf key of a TOML table, arrays of tables as `name[i]`.
fn leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(table: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) if keys::lookup(&path).is_none() => walk(t, &path, out),
                toml::Value::Array(items)
                    if items.iter().all(toml::Value::is_table) && !items.is_empty() =>
                {
                    for (i, item) in items.iter().enumerate() {
                        if let toml::Value::Table(t) = item {
                            walk(t, &format!("{path}[{i}]"), out);
                        }
                    }
                }
                _ => out.push((path, v.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk(table, "", &mut out);
    out
}

fn json_at<'a>(json: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    let mut node = json;
    for segment in key.split('.') {
        node = match segment.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((name, i)) => node.get(name)?.get(i.parse::<usize>().ok()?)?,
            None => node.get(segment)?,
        };
    }
    Some(node)
}

#[test]
fn readme_table_is_generated_from_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- keys:start -->\n", "<!-- keys:end -->");
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        panic!("README.md lacks the {start:?}…{end:?} markers");
    };
    let table = keys::markdown_table();
    let current = &readme[a + start.len()..b];
    if current != table {
        if std::env::var_os("IMPORTER_UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..a + start.len()], &readme[b..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "README.md's table of keys and flags differs from the registry \
                 (importer-cli/src/config/keys.rs); regenerate it with \
                 IMPORTER_UPDATE_README=1 cargo test -p importer-cli --test lightning_compat"
            );
        }
    }
}

#[test]
fn the_flag_registry_is_the_clap_definition() {
    let command = Cli::command();
    let mut clap_flags: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .filter(|l| l != "help")
        .collect();
    clap_flags.sort();
    // clap's own `-V/--version`.
    assert!(command.get_version().is_some());
    let mut registry: Vec<String> = FLAGS
        .iter()
        .map(|f| f.name.to_owned())
        .filter(|n| n != "version")
        .collect();
    registry.sort();
    assert_eq!(clap_flags, registry);
    for f in FLAGS.iter().filter(|f| f.name != "version") {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(f.name))
            .unwrap();
        assert_eq!(arg.get_short(), f.short, "--{}", f.name);
    }
    // Each flag that sets a key sets the registry's key.
    let keys: BTreeMap<&str, &str> = FLAGS
        .iter()
        .filter_map(|f| match f.action {
            FlagAction::Sets(k) => Some((f.name, k)),
            FlagAction::Own(_) => None,
        })
        .collect();
    assert_eq!(keys.get("tidb-status"), Some(&"tidb.status-port"));
    assert_eq!(keys.get("pd-urls"), Some(&"tidb.pd-addr"));
    assert!(KEYS.len() > FLAGS.len());
}

#[test]
fn legacy_and_deprecated_keys_are_applied_as_lightning() {
    let loaded = load_text(
        "[lightning]\npprof-port = 8288\n\
         [black-white-list]\ndo-dbs = [\"shop\", \"~^log_\"]\n\
         [[black-white-list.ignore-tables]]\ndb-name = \"shop\"\ntbl-name = \"tmp_*\"\n\
         [post-restore]\nchecksum = false\nanalyze = true\n\
         [checkpoint]\nkeep-after-success = true\n\
         [tikv-importer]\non-duplicate = \"ignore\"\nbackend = \"tidb\"\n\
         [mydumper]\nno-schema = true\n",
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(
        c.lightning.status_addr, ":8288",
        "pprof-port is status-addr's legacy alias"
    );
    assert_eq!(c.post_restore.checksum, PostOpLevel::Off);
    assert_eq!(c.post_restore.analyze, PostOpLevel::Required);
    assert_eq!(c.checkpoint.keep_after_success, KeepAfterSuccess::Rename);
    assert_eq!(c.conflict.strategy, ConflictStrategy::Ignore);
    assert!(c.mydumper.no_schema);
    assert_eq!(c.black_white_list.do_dbs, ["shop", "~^log_"]);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("`black-white-list`") && w.contains("deprecated")),
        "{:?}",
        loaded.warnings
    );
    // A status-addr of one's own wins over pprof-port, as in Lightning.
    let c = load_text("[lightning]\npprof-port = 8288\nstatus-addr = \"127.0.0.1:9000\"\n")
        .unwrap()
        .config;
    assert_eq!(c.lightning.status_addr, "127.0.0.1:9000");
    // `[black-white-list]` and a filter of one's own cannot be combined.
    let err = load_text("[black-white-list]\ndo-dbs = [\"a\"]\n[mydumper]\nfilter = [\"b.*\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("black-white-list") && err.contains("mydumper.filter"),
        "{err}"
    );
    let err = load_text("[black-white-list]\ndo-dbs = [\"~(\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("regex"), "{err}");
}

#[test]
fn lightning_keys_without_a_field_behave_alike_from_the_environment() {
    let env = |pairs: &[(&str, &str)]| {
        load(&LoadOptions {
            env: importer_cli::config::EnvVars::from_pairs(pairs.iter().copied()),
            ..LoadOptions::default()
        })
    };
    let loaded = env(&[
        ("IMPORTER_LIGHTNING__PPROF_PORT", "8288"),
        ("IMPORTER_TIKV_IMPORTER__ADDR", "127.0.0.1:8287"),
    ])
    .unwrap();
    assert_eq!(loaded.config.lightning.status_addr, ":8288");
    assert!(
        loaded.warnings.iter().any(|w| w
            .contains("`tikv-importer.addr` (environment variable IMPORTER_TIKV_IMPORTER__ADDR)")),
        "{:?}",
        loaded.warnings
    );
    let err = env(&[("IMPORTER_LIGHTNING__SERVER_MODE", "true")]).unwrap_err();
    assert!(matches!(err, ConfigError::Unsupported { .. }), "{err}");
    assert!(
        env(&[("IMPORTER_LIGHTNING__SERVER_MODE", "false")])
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn refused_keys_say_why_and_inert_values_pass() {
    for (text, key) in [
        ("[lightning]\nserver-mode = true\n", "lightning.server-mode"),
        (
            "[tikv-importer]\nkeyspace-name = \"ks\"\n",
            "tikv-importer.keyspace-name",
        ),
        (
            "[mydumper]\nignore-columns = [{ db = \"a\", columns = [\"x\"] }]\n",
            "mydumper.ignore-columns",
        ),
        (
            "[conflict]\nprecheck-conflict-before-import = true\n",
            "conflict.precheck-conflict-before-import",
        ),
    ] {
        let err = load_text(text).unwrap_err();
        assert!(matches!(err, ConfigError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
    }
    let ok = load_text(
        "[lightning]\nserver-mode = false\n[post-restore]\nlevel-1-compact = false\ncompact = false\n",
    )
    .unwrap();
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

// ---- through the binary ----

/// Imports the bundled sample with `config` into the local store `store`.
fn import_sample(config: &Path, store: &Path) -> Output {
    run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        sample().to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ])
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn all_unknown_keys_are_one_error_on_stderr_and_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("importer.log");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[lightning]\nfile = {:?}\nlevle = \"info\"\n[tikv-importer]\nsorted-kv-dri = \"/x\"\n\
             [wat]\nx = 1\n[[routes]]\nschema-pattern = \"a\"\ntarget-schema = \"b\"\ntarget-tabel = \"c\"\n",
            log.display().to_string()
        ),
    )
    .unwrap();
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        sample().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged = std::fs::read_to_string(&log).unwrap();
    for (key, line) in [
        ("lightning.levle", 3),
        ("tikv-importer.sorted-kv-dri", 5),
        ("wat", 6),
        ("routes[0].target-tabel", 11),
    ] {
        let needle = format!("`{key}` ({}:{line})", config.display());
        assert!(stderr.contains(&needle), "stderr lacks {needle}:\n{stderr}");
        assert!(
            logged.contains(&needle),
            "the log lacks {needle}:\n{logged}"
        );
    }
    assert!(
        stderr.contains("4 unknown keys") && stderr.contains("did you mean `lightning.level`?"),
        "{stderr}"
    );
}

#[test]
fn every_tidb_lightning_flag_parses_in_gos_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kv = dir.path().join("kv");
    let log = dir.path().join("i.log");
    let out = run_cli(&[
        "-d",
        sample().to_str().unwrap(),
        "-store",
        store.to_str().unwrap(),
        "-sorted-kv-dir",
        kv.to_str().unwrap(),
        "-log-file",
        log.to_str().unwrap(),
        "-L",
        "info",
        "-backend",
        "local",
        "-tidb-host",
        "127.0.0.1",
        "-tidb-port",
        "4000",
        "-tidb-user",
        "root",
        "-tidb-password",
        "-pw-with-dash",
        "-tidb-status",
        "10080",
        "-pd-urls",
        "127.0.0.1:2379",
        "-importer",
        "127.0.0.1:8287",
        "-remote-addr",
        "127.0.0.1:1",
        "-enable-checkpoint=false",
        "-no-schema=false",
        "-checksum=true",
        "-analyze=false",
        "-check-requirements=true",
        "-ca",
        "/nonexistent/ca.pem",
        "-cert",
        "/nonexistent/c.pem",
        "-key",
        "/nonexistent/c.key",
        "-redact-info-log=false",
        "-server-mode=false",
        "-f",
        "shop.*",
    ]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for (key, flag) in [
        ("tidb.status-port", "--tidb-status"),
        ("tidb.pd-addr", "--pd-urls"),
        ("tikv-importer.addr", "--importer"),
        ("tikv-importer.remote-addr", "--remote-addr"),
    ] {
        let warning = format!("`{key}` (flag {flag})");
        let n = all.matches(&warning).count();
        assert_eq!(n, 1, "one warning for {flag} expected:\n{all}");
    }
    assert!(all.contains("3 tables, 0 failed"), "{all}");

    // Refused, with the reason.
    let out = run_cli(&["-d", sample().to_str().unwrap(), "-server-mode"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("server mode"), "{}", text(&out));
    let out = run_cli(&["-d", sample().to_str().unwrap(), "-backend", "importer"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("removed from Lightning"),
        "{}",
        text(&out)
    );
    // -V prints the version.
    let out = run_cli(&["-V"]);
    assert!(out.status.success() && text(&out).contains(env!("CARGO_PKG_VERSION")));
    // -config is --config; --check-only takes Lightning's values.
    let out = run_cli(&["-config", "/nonexistent/x.toml"]);
    assert!(text(&out).contains("/nonexistent/x.toml"), "{}", text(&out));
    let out = run_cli(&["-d", "x", "--check-only=0.5,x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn black_white_list_selects_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[black-white-list]\ndo-dbs = [\"~^sh\"]\n\
         [[black-white-list.do-tables]]\ndb-name = \"shop\"\ntbl-name = \"orders\"\n\
         [[black-white-list.do-tables]]\ndb-name = \"shop\"\ntbl-name = \"ev*\"\n",
    )
    .unwrap();
    let out = import_sample(&config, &store);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("`black-white-list`") && all.contains("deprecated"),
        "{all}"
    );
    let out = run_cli(&["store", "tables", "--store", store.to_str().unwrap()]);
    let tables = String::from_utf8_lossy(&out.stdout);
    assert!(
        tables.contains("shop.orders") && tables.contains("shop.events"),
        "{tables}"
    );
    assert!(!tables.contains("shop.customers"), "{tables}");
}

#[test]
fn post_restore_compact_compacts_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[post-restore]\ncompact = true\n").unwrap();
    let out = import_sample(&config, &store);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("target store compacted"), "{all}");
    // After a full compaction the data sits below level 0.
    let out = run_cli(&[
        "store",
        "checksum",
        "shop.orders",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_log_file_rotates_as_lightnings() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("importer.log");
    // An old log past max-size, and two rotated files of which max-backups
    // keeps the newest.
    let old = "old line\n".repeat(130_000);
    std::fs::write(&log, &old).unwrap();
    for stamp in ["20200101T000000", "20200102T000000"] {
        std::fs::write(dir.path().join(format!("importer.log.{stamp}")), "older\n").unwrap();
    }
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[lightning]\nfile = {:?}\nmax-size = 1\nmax-backups = 1\nmax-days = 28\n",
            log.display().to_string()
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = import_sample(&config, &store);
    assert!(out.status.success(), "{}", text(&out));
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("importer.log."))
        })
        .collect();
    rotated.sort();
    assert_eq!(rotated.len(), 1, "max-backups = 1 keeps one: {rotated:?}");
    let kept = std::fs::read_to_string(&rotated[0]).unwrap();
    assert!(
        kept.starts_with("old line"),
        "the rotated file is the old log"
    );
    let current = std::fs::read_to_string(&log).unwrap();
    assert!(
        !current.contains("old line") && current.contains("INFO"),
        "{}",
        &current[..current.len().min(500)]
    );
}

/// A dump of one table whose primary key repeats: `dup.t` (id, secret).
fn duplicate_dump(dir: &Path) -> PathBuf {
    let dump = dir.join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    std::fs::write(dump.join("dup-schema-create.sql"), "CREATE DATABASE dup;\n").unwrap();
    std::fs::write(
        dump.join("dup.t-schema.sql"),
        "CREATE TABLE t (id INT PRIMARY KEY, secret VARCHAR(40));\n",
    )
    .unwrap();
    std::fs::write(
        dump.join("dup.t.000000000.csv"),
        "id,secret\n7,top-secret-a\n7,top-secret-b\n",
    )
    .unwrap();
    dump
}

#[test]
fn redact_info_log_hides_row_data_of_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let dump = duplicate_dump(dir.path());
    let run = |redact: bool| {
        let store = dir.path().join(format!("store-{redact}"));
        let mut args = vec![
            "-d".to_owned(),
            dump.display().to_string(),
            "--store".to_owned(),
            store.display().to_string(),
            "--enable-checkpoint=false".to_owned(),
        ];
        if redact {
            args.push("--redact-info-log".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args)
    };
    let plain = run(false);
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain));
    let hex_key = regex::Regex::new(r"[0-9a-f]{16,}").unwrap();
    assert!(
        hex_key.is_match(&text(&plain)),
        "the duplicate key is shown:\n{}",
        text(&plain)
    );
    let redacted = run(true);
    assert_eq!(redacted.status.code(), Some(1), "{}", text(&redacted));
    assert!(!hex_key.is_match(&text(&redacted)), "{}", text(&redacted));
    assert!(text(&redacted).contains("dup"), "the table is still named");
}

// ---- against the MariaDB of IMPORTER_TEST_MYSQL_URL ----

fn tidb_config(dir: &Path, srv: &(String, u16, String, String), extra: &str) -> PathBuf {
    let config = dir.join("tidb.toml");
    std::fs::write(
        &config,
        format!(
            "[tikv-importer]\nbackend = \"tidb\"\n[checkpoint]\nenable = false\n\
             [tidb]\nhost = {:?}\nport = {}\nuser = {:?}\npassword = {:?}\n{extra}",
            srv.0, srv.1, srv.2, srv.3
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base64_password_is_tried_decoded_as_lightning() {
    let Some(srv) = crash_common::server() else {
        return;
    };
    let pool = crash_common::pool(&srv).await;
    let user = "lightning_b64";
    crash_common::exec(
        &pool,
        format!(
            "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 's3cret-pw'; \
             GRANT ALL ON *.* TO '{user}'@'%'; DROP DATABASE IF EXISTS shop;"
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let as_user = (
        srv.0.clone(),
        srv.1,
        user.to_owned(),
        "czNjcmV0LXB3".to_owned(),
    );
    let config = tidb_config(dir.path(), &as_user, "");
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        sample().to_str().unwrap(),
    ]);
    let all = text(&out);
    crash_common::exec(
        &pool,
        format!("DROP USER IF EXISTS '{user}'@'%'; DROP DATABASE IF EXISTS shop;"),
    )
    .await;
    assert!(
        out.status.success(),
        "base64 of the password is accepted:\n{all}"
    );
    assert!(all.contains("3 tables, 0 failed"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tidb_backend_honours_max_allowed_packet_and_redaction() {
    let Some(srv) = crash_common::server() else {
        return;
    };
    let pool = crash_common::pool(&srv).await;
    crash_common::exec(&pool, "DROP DATABASE IF EXISTS dup".into()).await;
    let dir = tempfile::tempdir().unwrap();
    let dump = duplicate_dump(dir.path());

    // A duplicate key under strategy "error": the server's message quotes the row.
    let config = tidb_config(dir.path(), &srv, "[conflict]\nstrategy = \"error\"\n");
    let plain = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        dump.to_str().unwrap(),
    ]);
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain));
    assert!(
        text(&plain).contains("Duplicate entry '7'"),
        "{}",
        text(&plain)
    );
    crash_common::exec(&pool, "DROP DATABASE IF EXISTS dup".into()).await;
    let config = tidb_config(
        dir.path(),
        &srv,
        "[conflict]\nstrategy = \"error\"\n[security]\nredact-info-log = true\n",
    );
    let redacted = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        dump.to_str().unwrap(),
    ]);
    assert_eq!(redacted.status.code(), Some(1), "{}", text(&redacted));
    let all = text(&redacted);
    assert!(
        all.contains("Duplicate entry '?'") && !all.contains("'7'"),
        "{all}"
    );
    crash_common::exec(&pool, "DROP DATABASE IF EXISTS dup".into()).await;

    // A statement larger than max-allowed-packet is refused by the client.
    let big = dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("dup-schema-create.sql"), "CREATE DATABASE dup;\n").unwrap();
    std::fs::write(
        big.join("dup.t-schema.sql"),
        "CREATE TABLE t (id INT PRIMARY KEY, v TEXT);\n",
    )
    .unwrap();
    std::fs::write(
        big.join("dup.t.000000000.csv"),
        format!("id,v\n1,{}\n", "x".repeat(40_000)),
    )
    .unwrap();
    let config = tidb_config(dir.path(), &srv, "max-allowed-packet = 20000\n");
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        big.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("max_allowed_packet"), "{}", text(&out));
    crash_common::exec(&pool, "DROP DATABASE IF EXISTS dup".into()).await;
    let config = tidb_config(dir.path(), &srv, "max-allowed-packet = 0\n");
    let out = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        big.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    crash_common::exec(&pool, "DROP DATABASE IF EXISTS dup".into()).await;
}
