//! `add-index-by-sql` on the tidb backend against the test MariaDB: plain
//! secondary indexes are gone while rows load (recorded in the checkpoint),
//! come back exactly as defined after a crash and a rerun; unique keys,
//! `FULLTEXT` and keys over the auto-increment column stay throughout,
//! so `REPLACE` resolves conflicts as without the option. (Added back, the
//! indexes are listed after the kept ones.)
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crash_common::{RunEnd, exec, importer, pool, run_importer, server, show_create_table};
use sqlx::{MySqlPool, Row};

const SCHEMA: &str = "CREATE TABLE `t` (\n  `id` bigint NOT NULL AUTO_INCREMENT,\n  \
    `code` varchar(40) NOT NULL,\n  `name` varchar(200) DEFAULT NULL,\n  `body` text,\n  \
    `n` int NOT NULL,\n  PRIMARY KEY (`code`),\n  UNIQUE KEY `uk_n` (`n`),\n  KEY `k_id` (`id`),\n  \
    KEY `k name``s` (`name`(20),`n`) COMMENT 'prefix, multi',\n  KEY `k_n` (`n`,`code`),\n  KEY `k_n_id` (`n`,`id`),\n  \
    FULLTEXT KEY `ft_body` (`body`)\n) ENGINE=InnoDB;\n";

/// A dump of `db`.`t`: 4000 rows in two files, where every 10th row
/// repeats the one before (conflicts `REPLACE` resolves the same way
/// whatever order rows arrive in, as they do after a resume).
fn write_dump(root: &Path, db: &str) -> PathBuf {
    let dir = root.join(format!("{db}-dump"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{db}-schema-create.sql")),
        format!("CREATE DATABASE `{db}`;\n"),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{db}.t-schema.sql")), SCHEMA).unwrap();
    for f in 0..2 {
        let mut csv = String::from("id,code,name,body,n\n");
        for i in 0..2000 {
            let row = f * 2000 + i + 1;
            let src = if row % 10 == 0 { row - 1 } else { row };
            csv.push_str(&format!(
                "{src},c{src:05},\"name {} {src}\",\"body of row {src}\",{}\n",
                ["alpha", "beta", "gamma"][src % 3],
                src * 7
            ));
        }
        std::fs::write(dir.join(format!("{db}.t.00000000{f}.csv")), csv).unwrap();
    }
    dir
}

fn write_config(
    root: &Path,
    db: &str,
    srv: &(String, u16, String, String),
    add_index_by_sql: bool,
) -> PathBuf {
    let dump = write_dump(root, db);
    let path = root.join(format!("{db}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[lightning]
level = "warn"
region-concurrency = 2
task-info-schema-name = "{db}_info"

[checkpoint]
dsn = "{cp}"

[tikv-importer]
backend = "tidb"
on-duplicate = "replace"
logical-import-batch-size = "4KiB"
add-index-by-sql = {add_index_by_sql}

[mydumper]
data-source-dir = "{src}"

[tidb]
host = "{host}"
port = {port}
user = "{user}"
password = "{password}"

[post-restore]
checksum = "optional"
"#,
            cp = root.join(format!("{db}.cp.json")).display(),
            src = dump.display(),
            host = srv.0,
            port = srv.1,
            user = srv.2,
            password = srv.3,
        ),
    )
    .unwrap();
    path
}

async fn show_create(pool: &MySqlPool, db: &str) -> String {
    let create = show_create_table(pool, db, "t").await;
    // Indexes added back come after those kept: compare them as a set.
    let mut lines: Vec<&str> = create.lines().map(|l| l.trim_end_matches(',')).collect();
    lines.sort_unstable();
    lines.join("\n")
}

async fn rows(pool: &MySqlPool, db: &str) -> Vec<String> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(CONCAT_WS('|', id, code, name, body, n) AS CHAR) AS r FROM `{db}`.`t` ORDER BY r"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect()
}

fn checkpoint_list(config: &Path) -> String {
    let out = Command::new(importer())
        .args(["checkpoint", "list", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_indexes_are_missing_during_the_load_and_back_after_a_crash() {
    let Some(srv) = server() else {
        return;
    };
    let pool = pool(&srv).await;
    let root = tempfile::tempdir().unwrap();
    let (plain, deferred) = ("tidb_ai_plain", "tidb_ai_deferred");
    for db in [plain, deferred] {
        for name in [db.to_string(), format!("{db}_info")] {
            exec(&pool, format!("DROP DATABASE IF EXISTS `{name}`")).await;
        }
    }

    let reference = write_config(root.path(), plain, &srv, false);
    let end = tokio::task::spawn_blocking(move || run_importer(&reference, "", None))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    let want_definition = show_create(&pool, plain).await;
    let want_rows = rows(&pool, plain).await;
    assert_eq!(
        want_rows.len(),
        3600,
        "REPLACE merged the 400 repeated rows"
    );

    // Crash mid-load: the plain keys are gone, the rest is there, and the
    // checkpoint remembers what to add back.
    let config = write_config(root.path(), deferred, &srv, true);
    let cfg = config.clone();
    let end = tokio::task::spawn_blocking(move || run_importer(&cfg, "after-rows=1500", None))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Crashed(_)), "{end:?}");
    let during = show_create(&pool, deferred).await;
    for kept in [
        "PRIMARY KEY",
        "UNIQUE KEY `uk_n`",
        "KEY `k_id`",
        "KEY `k_n_id`",
        "FULLTEXT KEY `ft_body`",
    ] {
        assert!(
            during.contains(kept),
            "{kept} missing during the load:\n{during}"
        );
    }
    for gone in ["KEY `k name``s`", "KEY `k_n`"] {
        assert!(
            !during.contains(gone),
            "{gone} still there during the load:\n{during}"
        );
    }
    let listing = checkpoint_list(&config);
    assert!(
        listing.contains("indexes to add after the rows: k name`s, k_n"),
        "{listing}"
    );

    // A crash right before they are added, then a clean rerun.
    let cfg = config.clone();
    let end = tokio::task::spawn_blocking(move || run_importer(&cfg, "before-add-index", None))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Crashed(_)), "{end:?}");
    let cfg = config.clone();
    let end = tokio::task::spawn_blocking(move || run_importer(&cfg, "", None))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    assert_eq!(show_create(&pool, deferred).await, want_definition);
    let got_rows = rows(&pool, deferred).await;
    assert!(
        got_rows == want_rows,
        "rows differ from the import without add-index-by-sql"
    );

    for db in [plain, deferred] {
        for name in [db.to_string(), format!("{db}_info")] {
            exec(&pool, format!("DROP DATABASE IF EXISTS `{name}`")).await;
        }
    }
}
