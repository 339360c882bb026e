//! The command line: flag parsing, flags as the top configuration layer,
//! subcommands, and the binary's exit codes.
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::path::PathBuf;

use clap::Parser;
use crash_common::run_cli;
use importer_cli::cli::{
    CheckpointCommand, CheckpointTarget, Cli, Command, ExportFormat, QualifiedName, StoreCommand,
};
use importer_cli::config::{Backend, EnvVars, LogLevel, PostOpLevel, load};

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("importer").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn parse_err(args: &[&str]) -> String {
    Cli::try_parse_from(std::iter::once("importer").chain(args.iter().copied()))
        .err()
        .unwrap_or_else(|| panic!("{args:?} should not parse"))
        .to_string()
}

#[test]
fn boolean_flags_take_optional_values() {
    assert_eq!(
        parse(&["--check-requirements=false"])
            .import
            .check_requirements,
        Some(false)
    );
    assert_eq!(
        parse(&["--check-requirements=0"]).import.check_requirements,
        Some(false)
    );
    assert_eq!(
        parse(&["--check-requirements=1"]).import.check_requirements,
        Some(true)
    );
    assert_eq!(
        parse(&["--check-requirements"]).import.check_requirements,
        Some(true)
    );
    assert_eq!(parse(&[]).import.check_requirements, None);
    assert_eq!(
        parse(&["--enable-checkpoint=false"])
            .import
            .enable_checkpoint,
        Some(false)
    );
    assert_eq!(
        parse(&["--enable-checkpoint=TRUE"])
            .import
            .enable_checkpoint,
        Some(true)
    );
    let err = parse_err(&["--enable-checkpoint=maybe"]);
    assert!(err.contains("true, false, 1, 0"), "{err}");
    // A bare value after the flag is not taken as its value.
    let err = parse_err(&["--check-requirements", "false"]);
    assert!(err.contains("false"), "{err}");
}

#[test]
fn lightning_style_flags_become_the_top_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[tidb]\nport = 4001\nhost = \"file-host\"\n[tikv-importer]\nbackend = \"local\"\n",
    )
    .unwrap();
    let cli = parse(&[
        "--config",
        file.to_str().unwrap(),
        "-d",
        "/data/dump",
        "--backend",
        "tidb",
        "-f",
        "shop.*",
        "-f",
        "!shop.tmp",
        "--tidb-port",
        "3306",
        "--tidb-user",
        "loader",
        "--tidb-password",
        "pw",
        "-L",
        "warning",
        "--check-requirements=false",
        "--enable-checkpoint=0",
        "--checksum",
        "optional",
        "--status-addr",
        "127.0.0.1:8289",
        "--store",
        "/var/lib/store",
    ]);
    let env = EnvVars::from_pairs([
        ("IMPORTER_TIDB__PORT", "4002"),
        ("IMPORTER_TIDB__USER", "env-user"),
    ]);
    let loaded = load(&cli.load_options(env)).unwrap();
    let c = loaded.config;
    assert_eq!(c.mydumper.data_source_dir, "/data/dump");
    assert_eq!(c.tikv_importer.backend, Backend::Tidb);
    assert_eq!(
        c.mydumper.filter,
        vec!["shop.*".to_owned(), "!shop.tmp".to_owned()]
    );
    assert_eq!(c.tidb.port, 3306, "flag beats env and file");
    assert_eq!(c.tidb.user, "loader");
    assert_eq!(
        c.tidb.host, "file-host",
        "file value kept where no flag is given"
    );
    assert_eq!(c.tidb.password, "pw");
    assert_eq!(c.lightning.level, LogLevel::Warn);
    assert!(!c.lightning.check_requirements);
    assert!(!c.checkpoint.enable);
    assert_eq!(c.post_restore.checksum, PostOpLevel::Optional);
    assert_eq!(c.lightning.status_addr, "127.0.0.1:8289");
    assert_eq!(c.store.path, PathBuf::from("/var/lib/store"));
}

#[test]
fn no_config_means_local_backend_and_default_store() {
    let cli = parse(&["-d", "./dump"]);
    let c = load(&cli.load_options(EnvVars::default())).unwrap().config;
    assert_eq!(c.tikv_importer.backend, Backend::Local);
    assert_eq!(c.store.path, PathBuf::from("./importer-store"));
    assert!(cli.command.is_none());
    assert!(!cli.import.check_only());
    assert!(parse(&["-d", "./dump", "--check-only"]).import.check_only());
}

/// An object-store URL is checked when the config loads (an unknown
/// parameter names the key, never a secret) and shown without its keys.
#[test]
fn object_store_urls_are_checked_and_shown_without_keys() {
    let url = "s3://bucket/dump?region=us-west-2&access-key=AK&secret-access-key=TOPSECRET";
    let cli = parse(&["-d", url]);
    let c = load(&cli.load_options(EnvVars::default())).unwrap().config;
    assert_eq!(c.mydumper.data_source_dir, url);
    for shown in [
        format!("{c:?}"),
        c.to_string(),
        serde_json::to_string(&c).unwrap(),
    ] {
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("=AK"),
            "{shown}"
        );
        assert!(
            shown.contains("s3://bucket/dump?region=us-west-2"),
            "{shown}"
        );
    }
    let cli = parse(&["-d", "s3://bucket/dump?secret-access-key=TOPSECRET&bogus=1"]);
    let err = load(&cli.load_options(EnvVars::default()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mydumper.data-source-dir") && err.contains("bogus"),
        "{err}"
    );
    assert!(!err.contains("TOPSECRET"), "{err}");
}

#[test]
fn invalid_flag_values_list_the_allowed_ones() {
    let err = parse_err(&["--backend", "importer"]);
    assert!(err.contains("local") && err.contains("tidb"), "{err}");
    let err = parse_err(&["--log-format", "xml"]);
    assert!(err.contains("json"), "{err}");
    let err = parse_err(&["-L", "loud"]);
    assert!(err.contains("\"info\""), "{err}");
}

#[test]
fn store_subcommands_parse() {
    let cli = parse(&["store", "tables"]);
    let Some(Command::Store(args)) = &cli.command else {
        panic!()
    };
    assert_eq!(args.command, StoreCommand::Tables);
    assert_eq!(args.store, None);

    let cli = parse(&[
        "store",
        "export",
        "shop.orders",
        "--format",
        "sql",
        "-o",
        "out.sql",
        "--store",
        "/s",
    ]);
    let Some(Command::Store(args)) = &cli.command else {
        panic!()
    };
    assert_eq!(
        args.command,
        StoreCommand::Export {
            table: QualifiedName {
                schema: "shop".into(),
                table: "orders".into()
            },
            format: ExportFormat::Sql,
            output: Some("out.sql".into()),
        }
    );
    // --store on the subcommand is the store to read.
    let c = load(&cli.load_options(EnvVars::default())).unwrap().config;
    assert_eq!(c.store.path, PathBuf::from("/s"));

    let cli = parse(&["store", "--store", "/t", "get", "`a.b`.t", "1", "x"]);
    let Some(Command::Store(args)) = &cli.command else {
        panic!()
    };
    assert_eq!(args.store, Some("/t".into()));
    let StoreCommand::Get { table, pk } = &args.command else {
        panic!()
    };
    assert_eq!(table.schema, "a.b");
    assert_eq!(pk, &["1".to_owned(), "x".to_owned()]);

    assert!(parse_err(&["store", "get", "a.t"]).contains("PK"));
    assert!(parse_err(&["store", "checksum", "notqualified"]).contains("DB.TBL"));
    let cli = parse(&["store", "checksum", "a.t"]);
    let Some(Command::Store(args)) = &cli.command else {
        panic!()
    };
    assert!(matches!(args.command, StoreCommand::Checksum { .. }));
}

#[test]
fn checkpoint_subcommands_parse() {
    let cli = parse(&["checkpoint", "remove", "all", "--config", "x.toml"]);
    let Some(Command::Checkpoint(args)) = &cli.command else {
        panic!()
    };
    assert_eq!(
        args.command,
        CheckpointCommand::Remove {
            target: CheckpointTarget::All
        }
    );
    assert_eq!(cli.global.config, Some("x.toml".into()));

    let cli = parse(&["checkpoint", "error-destroy", "`db`.`tbl`"]);
    let Some(Command::Checkpoint(args)) = &cli.command else {
        panic!()
    };
    assert_eq!(
        args.command,
        CheckpointCommand::ErrorDestroy {
            target: CheckpointTarget::Table(QualifiedName {
                schema: "db".into(),
                table: "tbl".into()
            })
        }
    );
    for (argv, expected) in [
        (vec!["checkpoint", "list"], CheckpointCommand::List),
        (
            vec!["checkpoint", "dump", "/tmp/d"],
            CheckpointCommand::Dump {
                dir: "/tmp/d".into(),
            },
        ),
        (
            vec!["checkpoint", "error-ignore", "all"],
            CheckpointCommand::ErrorIgnore {
                target: CheckpointTarget::All,
            },
        ),
    ] {
        let cli = parse(&argv);
        let Some(Command::Checkpoint(args)) = cli.command else {
            panic!()
        };
        assert_eq!(args.command, expected);
    }
    // Import flags don't mix with subcommands.
    assert!(!parse_err(&["-d", "x", "checkpoint", "list"]).is_empty());
}

#[test]
fn binary_exit_codes() {
    let help = run_cli(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--config",
        "--data-source-dir",
        "--check-requirements",
        "store",
        "checkpoint",
        "IMPORTER_",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    assert_eq!(run_cli(&["--version"]).status.code(), Some(0));
    assert_eq!(
        run_cli(&["--no-such-flag"]).status.code(),
        Some(2),
        "usage error"
    );

    // No data source: a configuration error.
    let out = run_cli(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("data-source-dir"));

    // A bad config file: exit 2 with the key and line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[mydumper]\ndata-source-dir = \"x\"\nfilterr = []\n").unwrap();
    let out = run_cli(&["--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`mydumper.filterr`") && err.contains("bad.toml:3"),
        "{err}"
    );

    // A valid configuration runs the command; its failure exits 1.
    let out = run_cli(&[
        "-d",
        dir.path().to_str().unwrap(),
        "--store",
        dir.path().join("s").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_log_file_takes_the_log_and_stderr_keeps_warnings_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[tidb]\nlog-level = \"error\"\n").unwrap();
    let log = dir.path().join("importer.log");
    let store = dir.path().join("store");
    let run = |source: &std::path::Path| {
        run_cli(&[
            "--config",
            config.to_str().unwrap(),
            "--log-file",
            log.to_str().unwrap(),
            "-d",
            source.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ])
    };

    let out = run(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sample"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    let warning = "ignoring Lightning setting `tidb.log-level`";
    assert!(
        stderr.contains(warning),
        "stderr lacks the warning:\n{stderr}"
    );
    assert!(
        log_text.contains(warning),
        "the log lacks the warning:\n{log_text}"
    );
    assert!(!stderr.contains("INFO"), "info lines on stderr:\n{stderr}");
    assert!(
        log_text.contains("INFO"),
        "no info lines in the log:\n{log_text}"
    );

    // The error that ends the run: once on stderr, and in the log.
    let out = run(&dir.path().join("no-such-dump"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no-such-dump"))
        .collect();
    assert!(
        shown.len() == 1 && shown[0].starts_with("error: "),
        "{stderr}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("no-such-dump")),
        "{log_text}"
    );
}
