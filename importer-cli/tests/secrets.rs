//! Secrets stay out of every output: an import with a password in the
//! config (and a DSN with one in `checkpoint.dsn`'s neighbour keys) at
//! debug level, then every byte it wrote — stdout, stderr, the log file,
//! the checkpoint kept after success — is searched for the password. Also:
//! the checkpoint file and the sorted-kv directory are owner-only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const PASSWORD: &str = "pw-Zq81-never-print-me";

#[test]
fn passwords_never_reach_outputs_and_private_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    std::fs::write(
        dump.join("s.t-schema.sql"),
        "CREATE TABLE `t` (`id` int NOT NULL, PRIMARY KEY (`id`));\n",
    )
    .unwrap();
    std::fs::write(dump.join("s.t.000000000.csv"), "id\n1\n2\n").unwrap();
    let log = dir.path().join("importer.log");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[lightning]\nlevel = \"debug\"\nfile = \"{}\"\n\
             [checkpoint]\nkeep-after-success = \"origin\"\n\
             [tidb]\nuser = \"loader\"\npassword = \"{PASSWORD}\"\n",
            log.display()
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_importer"))
        .args(["--config", config.to_str().unwrap()])
        .args(["-d", dump.to_str().unwrap()])
        .args(["--store", store.to_str().unwrap()])
        .env_remove("IMPORTER_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let checkpoint = dir.path().join("store.checkpoint.json");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("configuration loaded"),
        "the debug log should print the configuration:\n{log_text}"
    );
    for (what, bytes) in [
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
        ("the log file", log_text.clone().into_bytes()),
        ("the checkpoint", std::fs::read(&checkpoint).unwrap()),
    ] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(PASSWORD),
            "{what} shows the password:\n{text}"
        );
    }

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&checkpoint), 0o600, "checkpoint file mode");
    assert_eq!(
        mode(&dir.path().join("store.sorted-kv")),
        0o700,
        "sorted-kv directory mode"
    );
}
