//! Crash safety with thousands of tables (tidb backend, the MariaDB of
//! `IMPORTER_TEST_MYSQL_URL`): a dump of 2,000 small tables in the
//! mydumper layout is imported once cleanly for reference, then into a
//! second database with `kill -9` during the set-up (schemas being created
//! in batches while the first tables import) and again during the import;
//! the same command then finishes, and every table must equal the
//! reference (`CHECKSUM TABLE`, row count). The file checkpoint driver
//! runs. A schema the server refuses in a later batch stops the run with
//! the file named, and the rerun after the fix completes every table once.
//!
//! `IMPORTER_MANY_TABLES=N` changes the table count; randomised kill times
//! are printed with their seed (`IMPORTER_CRASH_SEED=N` replays a run).
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crash_common::{Rng, RunEnd, exec, pool, run_importer, server};
use sqlx::{MySqlPool, Row};

const ROWS: i64 = 5;

fn table_count() -> usize {
    std::env::var("IMPORTER_MANY_TABLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// A mydumper-layout dump of `tables` tables of database `db` in `dir`.
fn write_dump(dir: &Path, db: &str, tables: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{db}-schema-create.sql")),
        format!("CREATE DATABASE `{db}`;\n"),
    )
    .unwrap();
    for t in 0..tables {
        let name = format!("t{t:05}");
        std::fs::write(
            dir.join(format!("{db}.{name}-schema.sql")),
            format!(
                "CREATE TABLE `{name}` (\n  `id` INT NOT NULL AUTO_INCREMENT,\n  \
                 `name` VARCHAR(64) NOT NULL,\n  `amount` DECIMAL(12,2) DEFAULT NULL,\n  \
                 PRIMARY KEY (`id`),\n  KEY `k_name` (`name`)\n);\n"
            ),
        )
        .unwrap();
        let values: Vec<String> = (1..=ROWS)
            .map(|i| format!("({i},'name-{t}-{i}',{i}.{:02})", t % 100))
            .collect();
        std::fs::write(
            dir.join(format!("{db}.{name}.000000000.sql")),
            format!("INSERT INTO `{name}` VALUES {};\n", values.join(",")),
        )
        .unwrap();
    }
}

fn write_config(dir: &Path, dump: &Path, srv: &(String, u16, String, String)) -> PathBuf {
    let path = dir.join("importer.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[lightning]
level = "info"
file = "{log}"
region-concurrency = 2

[checkpoint]
dsn = "{cp}"

[tikv-importer]
backend = "tidb"

[mydumper]
data-source-dir = "{dump}"

[tidb]
host = "{host}"
port = {port}
user = "{user}"
password = "{password}"
"#,
            log = dir.join("importer.log").display(),
            cp = dir.join("cp.json").display(),
            dump = dump.display(),
            host = srv.0,
            port = srv.1,
            user = srv.2,
            password = srv.3,
        ),
    )
    .unwrap();
    path
}

/// `CHECKSUM TABLE` and the row count of every table of `db`, by name.
async fn image(pool: &MySqlPool, db: &str) -> BTreeMap<String, (i64, i64)> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
    )
    .bind(db)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for part in names.chunks(500) {
        let list: Vec<String> = part.iter().map(|n| format!("`{db}`.`{n}`")).collect();
        let sql = format!("CHECKSUM TABLE {}", list.join(", "));
        for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let table: String = row.try_get(0).unwrap();
            let sum: Option<i64> = row.try_get(1).unwrap();
            let name = table.rsplit('.').next().unwrap().to_string();
            out.insert(name, (sum.unwrap_or(-1), 0));
        }
        let counts: Vec<String> = part
            .iter()
            .map(|n| format!("SELECT '{n}', COUNT(*) FROM `{db}`.`{n}`"))
            .collect();
        for row in sqlx::raw_sql(sqlx::AssertSqlSafe(counts.join(" UNION ALL ")))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let name: String = row.try_get(0).unwrap();
            let count: i64 = row.try_get(1).unwrap();
            if let Some(entry) = out.get_mut(&name) {
                entry.1 = count;
            }
        }
    }
    out
}

/// Seconds from the first line of the run logged in `log` (the scan's
/// end, a few milliseconds after the start) to its "schemas created and
/// tables planned" line: when the set-up ended.
fn setup_seconds(log: &Path) -> f64 {
    let text = std::fs::read_to_string(log).unwrap();
    let at = |line: &str| -> f64 {
        // `2026-01-01T10:00:00.123456Z …`: seconds of the day suffice.
        let time = line
            .split('T')
            .nth(1)
            .and_then(|t| t.split('Z').next())
            .unwrap();
        let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap());
        let (h, m, s) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        h * 3600.0 + m * 60.0 + s
    };
    let first = text.lines().next().unwrap();
    let done = text
        .lines()
        .find(|l| l.contains("schemas created and tables planned"))
        .unwrap_or_else(|| panic!("no set-up line in {}:\n{text}", log.display()));
    // Across midnight the day wraps.
    (at(done) - at(first)).rem_euclid(86_400.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tables_killed_in_set_up_and_import_resume_to_the_clean_result() {
    let Some(srv) = server() else {
        return;
    };
    let pool = pool(&srv).await;
    let tables = table_count();
    let root = tempfile::tempdir().unwrap();
    let seed = Rng::seed();
    eprintln!("seed {seed} (IMPORTER_CRASH_SEED={seed} replays it), {tables} tables");
    let mut rng = Rng::new(seed);

    // The reference: a clean import, timed.
    let (ref_db, run_db) = ("crash_many_ref", "crash_many_run");
    for db in [ref_db, run_db] {
        exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
        exec(&pool, format!("DROP DATABASE IF EXISTS `{db}_info`")).await;
    }
    let dir = root.path().join(ref_db);
    write_dump(&dir.join("dump"), ref_db, tables);
    let config = write_config(&dir, &dir.join("dump"), &srv);
    let started = Instant::now();
    let end = tokio::task::spawn_blocking(move || run_importer(&config, "", None))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Success), "clean import: {end:?}");
    let clean = started.elapsed();
    let setup = Duration::from_secs_f64(setup_seconds(&dir.join("importer.log")));
    eprintln!("clean import {clean:?}, of which set-up {setup:?}");
    let want = image(&pool, ref_db).await;
    assert_eq!(want.len(), tables);
    assert!(want.values().all(|(_, rows)| *rows == ROWS));

    // The same dump under another database name, killed twice.
    let dir = root.path().join(run_db);
    write_dump(&dir.join("dump"), run_db, tables);
    let config = write_config(&dir, &dir.join("dump"), &srv);
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(2);
    let in_setup = Duration::from_millis(rng.range(ms(setup) / 5, ms(setup)));
    let in_import = setup + Duration::from_millis(rng.range(1, ms(clean - setup.min(clean))));
    let mut history = Vec::new();
    for kill in [Some(in_setup), Some(in_import), None] {
        let cfg = config.clone();
        let end = tokio::task::spawn_blocking(move || run_importer(&cfg, "", kill))
            .await
            .unwrap();
        history.push(format!("kill after {kill:?} -> {end:?}"));
        match end {
            RunEnd::Success if kill.is_none() => {}
            // The kill came after the end (a fast machine): nothing to resume.
            RunEnd::Success => break,
            RunEnd::Crashed(_) if kill.is_some() => {}
            other => panic!("unexpected end {other:?}; history: {history:#?}"),
        }
    }
    eprintln!("{history:#?}");
    let got = image(&pool, run_db).await;
    assert_eq!(got.len(), want.len(), "{history:#?}");
    let differing: Vec<_> = want
        .iter()
        .filter(|(name, image)| got.get(*name) != Some(image))
        .map(|(name, image)| format!("{name}: want {image:?}, got {:?}", got.get(name)))
        .take(5)
        .collect();
    assert!(
        differing.is_empty(),
        "{differing:#?}\nhistory: {history:#?}"
    );
    assert!(
        !dir.join("cp.json").exists(),
        "the checkpoint is removed after success"
    );
    for db in [ref_db, run_db] {
        exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_refused_after_the_first_tables_imported_stops_and_the_fixed_rerun_completes() {
    let Some(srv) = server() else {
        return;
    };
    let pool = pool(&srv).await;
    let db = "many_bad_schema";
    exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    let root = tempfile::tempdir().unwrap();
    let dump = root.path().join("dump");
    let tables = 250;
    write_dump(&dump, db, tables);
    // Past the first creation batches: earlier tables import meanwhile.
    let bad = dump.join(format!("{db}.t00230-schema.sql"));
    let good = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(&bad, good.replace("DECIMAL(12,2)", "NO_SUCH_TYPE(12,2)")).unwrap();
    let config = write_config(root.path(), &dump, &srv);

    let end = run_importer(&config, "", None);
    let RunEnd::Failed(_, stderr) = &end else {
        panic!("expected a failed run, got {end:?}");
    };
    assert!(
        stderr.contains("t00230-schema.sql") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let first = image(&pool, db).await;
    let imported = first.values().filter(|(_, rows)| *rows == ROWS).count();
    assert!(
        imported > 0 && !first.contains_key("t00230"),
        "the first tables import while later ones are created: {imported} full tables"
    );
    assert!(root.path().join("cp.json").exists());

    std::fs::write(&bad, good).unwrap();
    let end = run_importer(&config, "", None);
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    let got = image(&pool, db).await;
    assert_eq!(got.len(), tables);
    let wrong: Vec<_> = got
        .iter()
        .filter(|(_, (_, rows))| *rows != ROWS)
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
}
