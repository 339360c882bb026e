//! One big file per table: the same rows as many SQL files, as one SQL
//! file, as one zstd file and as one file split under `strict-format` give
//! the same table on both backends; with `strict-format`, a value holding a
//! line that looks like the next statement fails the table with the file
//! and the byte named instead of importing a value's middle as rows. A run
//! aborted mid-file (failpoints, `kill -9`) and resumed gives the same table,
//! for a file read by one parser feeding every slot and for a split file.
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crash_common::{RunEnd, image, run_importer, server};
use sqlx::{MySqlPool, Row};

const DB: &str = "bigfile";
const ROWS: usize = 12_000;

/// One row's tuple: quotes, backslashes, binary, NULLs, and (when asked) a
/// value holding `;\nINSERT INTO` on the row `fake_at`.
fn tuple(i: usize, fake_at: Option<usize>) -> String {
    let text = if Some(i) == fake_at {
        "'end;\nINSERT INTO `t` VALUES (1,''x'',NULL,NULL);\nstill the value'".to_string()
    } else if i.is_multiple_of(17) {
        "NULL".to_string()
    } else {
        format!("'it''s \\\\ row {i}; \\'q\\' \"d\"'")
    };
    let bin = if i.is_multiple_of(5) {
        "NULL".to_string()
    } else {
        format!("x'00{:02x}ff0a'", i % 256)
    };
    format!("({i},{text},{bin},{}.{:02})", i * 3, i % 100)
}

/// The rows as mydumper writes them: statements of about 4 KiB, each on
/// its own lines, split over `files` files (one file: the whole table).
fn statements(files: usize, fake_at: Option<usize>) -> Vec<String> {
    let per_file = ROWS.div_ceil(files);
    let mut out = Vec::new();
    for f in 0..files {
        let mut sql = String::from("/*!40101 SET NAMES binary*/;\n");
        let rows: Vec<usize> = (f * per_file..((f + 1) * per_file).min(ROWS)).collect();
        for stmt in rows.chunks(40) {
            sql.push_str("INSERT INTO `t` VALUES\n");
            let tuples: Vec<String> = stmt.iter().map(|&i| tuple(i, fake_at)).collect();
            let _ = writeln!(sql, "{};", tuples.join(",\n"));
        }
        out.push(sql);
    }
    out
}

/// A dump of table `t` with its data as `files` SQL files, or one `.zst`.
fn dump(dir: &Path, files: usize, zstd: bool, fake_at: Option<usize>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{DB}-schema-create.sql")),
        format!("CREATE DATABASE `{DB}`;\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{DB}.t-schema.sql")),
        "CREATE TABLE `t` (\n  `id` bigint NOT NULL,\n  `s` varchar(200) DEFAULT NULL,\n  \
         `b` varbinary(16) DEFAULT NULL,\n  `n` decimal(12,2) NOT NULL,\n  \
         PRIMARY KEY (`id`),\n  KEY `k_s` (`s`)\n);\n",
    )
    .unwrap();
    for (f, sql) in statements(files, fake_at).into_iter().enumerate() {
        let name = dir.join(format!("{DB}.t.{f:09}.sql"));
        if zstd {
            let packed = zstd::encode_all(sql.as_bytes(), 3).unwrap();
            std::fs::write(name.with_extension("sql.zst"), packed).unwrap();
        } else {
            std::fs::write(name, sql).unwrap();
        }
    }
    dir.to_path_buf()
}

/// Imports `src` with `backend` settings (`[tidb]` lines for the tidb
/// backend), 4 regions at once, chunks of 64 KiB under `strict-format`.
fn config(dir: &Path, src: &Path, strict: bool, target: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("importer.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[lightning]
level = "warn"
region-concurrency = 4
[mydumper]
data-source-dir = "{src}"
strict-format = {strict}
max-region-size = "64KiB"
[mydumper.csv]
terminator = "\n"
[checkpoint]
dsn = "{cp}"
{target}
"#,
            src = src.display(),
            cp = dir.join("cp.json").display(),
        ),
    )
    .unwrap();
    path
}

fn local_target(dir: &Path) -> String {
    format!(
        "[tikv-importer]\nbackend = \"local\"\nsorted-kv-dir = \"{}\"\n[store]\npath = \"{}\"\n",
        dir.join("kv").display(),
        dir.join("store").display()
    )
}

/// (dump files, zstd, strict-format) of every variant.
const VARIANTS: [(usize, bool, bool); 4] = [
    (6, false, false),
    (1, false, false),
    (1, true, false),
    (1, false, true),
];

#[test]
fn local_one_big_file_equals_many_files() {
    let root = tempfile::tempdir().unwrap();
    let mut images = Vec::new();
    for (n, (files, zstd, strict)) in VARIANTS.into_iter().enumerate() {
        let src = dump(&root.path().join(format!("dump{n}")), files, zstd, None);
        let dir = root.path().join(format!("run{n}"));
        let cfg = config(&dir, &src, strict, &local_target(&dir));
        assert!(
            matches!(run_importer(&cfg, "", None), RunEnd::Success),
            "variant {n}"
        );
        let image = image(&dir.join("store"));
        assert_eq!(image.len(), 1);
        assert_eq!(image[0].rows, u64::try_from(ROWS).unwrap(), "variant {n}");
        images.push(image);
    }
    for (n, got) in images.iter().enumerate().skip(1) {
        crash_common::assert_same(got, &images[0], &format!("variant {n}"));
    }
}

/// The first row whose fake statement line is where the first cut after
/// 64 KiB lands: the first `;` ending a line before an `INSERT` line there
/// is the one inside its value.
fn fake_row_at_first_cut() -> usize {
    // Rows take about 70 bytes: the first cut is past row 900.
    (500..ROWS)
        .find(|&row| {
            let sql = statements(1, Some(row)).swap_remove(0);
            sql[64 << 10..].find(";\nINSERT ").is_some_and(|at| {
                sql[(64 << 10) + at..].starts_with(";\nINSERT INTO `t` VALUES (1,''x''")
            })
        })
        .unwrap()
}

#[test]
fn local_statement_line_inside_a_value_fails_a_split_file_clearly() {
    let root = tempfile::tempdir().unwrap();
    let src = dump(
        &root.path().join("dump"),
        1,
        false,
        Some(fake_row_at_first_cut()),
    );
    let dir = root.path().join("strict");
    let cfg = config(&dir, &src, true, &local_target(&dir));
    let out = crash_common::run_cli(&["--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The chunk before the cut or the one after it reports first; both
    // name the file and the cut.
    assert!(
        stderr.contains(&format!("{DB}.t.000000000.sql"))
            && (stderr.contains("strict-format split the file into chunks at byte")
                || stderr.contains("where this chunk starts; a value before it")),
        "{stderr}"
    );
    // What the error tells the user to do: start the table over without
    // strict-format. The file then imports whole, value included.
    let cfg = config(&dir, &src, false, &local_target(&dir));
    let out = crash_common::run_cli(&[
        "checkpoint",
        "error-destroy",
        "all",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(run_importer(&cfg, "", None), RunEnd::Success));
    let image = image(&dir.join("store"));
    assert_eq!(image[0].rows, u64::try_from(ROWS).unwrap());
    assert!(
        String::from_utf8_lossy(&image[0].csv).contains("still the value"),
        "the value is imported whole"
    );
}

/// The test server's pool and the config lines importing into it; `None`
/// without a server outside CI.
async fn tidb_target() -> Option<(MySqlPool, String)> {
    let (host, port, user, password) = server()?;
    let pool = MySqlPool::connect(&format!("mysql://{user}:{password}@{host}:{port}"))
        .await
        .unwrap();
    let target = format!(
        "[tikv-importer]\nbackend = \"tidb\"\nlogical-import-batch-size = \"16KiB\"\n\
         [tidb]\nhost = \"{host}\"\nport = {port}\nuser = \"{user}\"\npassword = \"{password}\"\n"
    );
    Some((pool, target))
}

/// Drops the table's database and the import's metadata.
async fn empty_target(pool: &MySqlPool) {
    for db in [DB, "lightning_metadata", "lightning_task_info"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{db}`"
        )))
        .execute(pool)
        .await
        .unwrap();
    }
}

async fn table_state(pool: &MySqlPool) -> (i64, Option<i64>) {
    let count: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM `{DB}`.`t`"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0);
    let checksum = sqlx::query(sqlx::AssertSqlSafe(format!("CHECKSUM TABLE `{DB}`.`t`")))
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get::<Option<i64>, _>(1)
        .unwrap();
    (count, checksum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tidb_one_big_file_equals_many_files() {
    let Some((pool, target)) = tidb_target().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut states = Vec::new();
    for (n, (files, zstd, strict)) in VARIANTS.into_iter().enumerate() {
        empty_target(&pool).await;
        let src = dump(&root.path().join(format!("dump{n}")), files, zstd, None);
        let cfg = config(&root.path().join(format!("run{n}")), &src, strict, &target);
        let end = tokio::task::spawn_blocking(move || run_importer(&cfg, "", None))
            .await
            .unwrap();
        assert!(matches!(end, RunEnd::Success), "variant {n}: {end:?}");
        let state = table_state(&pool).await;
        assert_eq!(state.0, i64::try_from(ROWS).unwrap(), "variant {n}");
        states.push(state);
    }
    assert!(states[0].1.is_some());
    assert!(
        states.iter().all(|s| *s == states[0]),
        "every variant gives the same table: {states:?}"
    );
}

/// Aborts `config`'s import after `rows[i]` more written rows (a
/// failpoint), then kills one run with SIGKILL after `kill_after`, then
/// resumes until done.
fn crash_until_done(config: &Path, rows: &[u64], kill_after: Duration) {
    // A run that completes removes the checkpoint: nothing is left to resume.
    for n in rows {
        match run_importer(config, &format!("after-rows={n}"), None) {
            RunEnd::Crashed(_) => {}
            RunEnd::Success => return,
            other => panic!("aborted run after {n} rows: {other:?}"),
        }
    }
    match run_importer(config, "", Some(kill_after)) {
        RunEnd::Crashed(_) => {}
        RunEnd::Success => return,
        other => panic!("killed run: {other:?}"),
    }
    let mut last = None;
    for resume in 0..3 {
        match run_importer(config, "", None) {
            RunEnd::Success => return,
            // Killed after the import completed and removed its checkpoint,
            // before the process exited: the rerun is a new import into a
            // full table and says so. The caller compares the result.
            RunEnd::Failed(_, stderr) if resume == 0 && stderr.contains("already holds rows") => {
                return;
            }
            other => last = Some(other),
        }
    }
    panic!("the import did not complete after its crashes: {last:?}");
}

#[test]
fn local_big_file_resumes_after_crashes_to_the_clean_result() {
    let root = tempfile::tempdir().unwrap();
    let src = dump(&root.path().join("dump"), 1, false, None);
    let clean = root.path().join("clean");
    let cfg = config(&clean, &src, false, &local_target(&clean));
    assert!(matches!(run_importer(&cfg, "", None), RunEnd::Success));
    let want = image(&clean.join("store"));
    for strict in [false, true] {
        let dir = root.path().join(format!("crash-{strict}"));
        let cfg = config(&dir, &src, strict, &local_target(&dir));
        crash_until_done(&cfg, &[1500, 4000, 9000], Duration::from_millis(150));
        crash_common::assert_same(
            &image(&dir.join("store")),
            &want,
            &format!("strict-format = {strict}"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tidb_big_file_resumes_after_crashes_to_the_clean_result() {
    let Some((pool, target)) = tidb_target().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let src = dump(&root.path().join("dump"), 1, false, None);
    let mut states = Vec::new();
    for (n, strict) in [(0, false), (1, false), (2, true)] {
        empty_target(&pool).await;
        let cfg = config(&root.path().join(format!("run{n}")), &src, strict, &target);
        // The first run is the clean reference.
        let crashed = n > 0;
        tokio::task::spawn_blocking(move || {
            if crashed {
                crash_until_done(&cfg, &[1500, 4000, 9000], Duration::from_millis(300));
            } else {
                assert!(matches!(run_importer(&cfg, "", None), RunEnd::Success));
            }
        })
        .await
        .unwrap();
        states.push(table_state(&pool).await);
    }
    assert_eq!(states[0].0, i64::try_from(ROWS).unwrap());
    assert!(
        states.iter().all(|s| *s == states[0]),
        "crashed and resumed imports equal the clean one: {states:?}"
    );
}
