//! Behaviour of the SQL backend on a real MariaDB (`IMPORTER_TEST_MYSQL_URL`).

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use backend_core::{Backend, CheckCtx, Datum, ErrorKind, ImportTarget as _, TargetInfoGetter};
use backend_tidb::{OnDuplicate, ServerKind, TidbBackend, TidbBackendConfig};
use common::*;
use sqlx::Row;

async fn connect(config: TidbBackendConfig) -> TidbBackend {
    TidbBackend::connect(config).await.unwrap()
}

fn row(id: i64, v: &str) -> Vec<Datum> {
    vec![Datum::Int(id), Datum::text(v)]
}

async fn duplicate_mode_case(
    mode: OnDuplicate,
    db: &str,
) -> (TidbBackend, backend_core::Result<()>) {
    let Some(mut config) = server_config() else {
        panic!("unreachable");
    };
    config.on_duplicate = mode;
    config.task_info_schema = Some(format!("{db}_info"));
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20))"),
    )
    .await;
    exec(&backend, &format!("INSERT INTO `{db}`.t VALUES (2, 'old')")).await;
    let table = table_info(&backend, db, "t").await;
    let rows = vec![row(1, "a"), row(2, "new"), row(3, "c")];
    let (cols, rows) = encode(&backend, &table, &identity(2), &rows, "db.t.000.sql");
    let result = write(&backend, &table, &cols, rows).await;
    (backend, result)
}

async fn contents(backend: &TidbBackend, db: &str) -> Vec<(i32, String)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, v FROM `{db}`.t ORDER BY id"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn on_duplicate_replace_overwrites_existing_row() {
    if server_config().is_none() {
        return;
    }
    let db = "tidb_dup_replace";
    let (backend, result) = duplicate_mode_case(OnDuplicate::Replace, db).await;
    result.unwrap();
    let want = vec![(1, "a".into()), (2, "new".into()), (3, "c".into())];
    assert_eq!(contents(&backend, db).await, want);
    assert_eq!(
        backend.conflict_count(),
        1,
        "REPLACE counts the replaced row"
    );
}

#[tokio::test]
async fn on_duplicate_ignore_keeps_existing_row() {
    if server_config().is_none() {
        return;
    }
    let db = "tidb_dup_ignore";
    let (backend, result) = duplicate_mode_case(OnDuplicate::Ignore, db).await;
    result.unwrap();
    let want = vec![(1, "a".into()), (2, "old".into()), (3, "c".into())];
    assert_eq!(contents(&backend, db).await, want);
    assert_eq!(backend.conflict_count(), 1);
}

#[tokio::test]
async fn on_duplicate_error_stops_at_first_duplicate_naming_file_and_offset() {
    if server_config().is_none() {
        return;
    }
    let db = "tidb_dup_error";
    let (backend, result) = duplicate_mode_case(OnDuplicate::Error, db).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateDetected);
    let text = err.to_string();
    assert!(text.contains("db.t.000.sql:200"), "{text}");
    assert!(text.contains("Duplicate entry '2'"), "{text}");
    // Rows before the duplicate are in, the duplicate did not overwrite.
    let got = contents(&backend, db).await;
    assert_eq!(got[..2], [(1, "a".into()), (2, "old".into())]);
    let rec = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT table_name, path, `offset`, error, row_data FROM `{db}_info`.conflict_records"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].get::<String, _>(0), format!("`{db}`.`t`"));
    assert_eq!(rec[0].get::<String, _>(1), "db.t.000.sql");
    assert_eq!(rec[0].get::<i64, _>(2), 200);
    assert_eq!(rec[0].get::<String, _>(4), "(2,'new')");
}

#[tokio::test]
async fn conflict_threshold_limits_resolved_duplicates() {
    let Some(mut config) = server_config() else {
        return;
    };
    let db = "tidb_dup_threshold";
    config.on_duplicate = OnDuplicate::Replace;
    config.conflict_threshold = Some(1);
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20))"),
    )
    .await;
    exec(
        &backend,
        &format!("INSERT INTO `{db}`.t VALUES (1, 'x'), (2, 'y')"),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    let (cols, rows) = encode(&backend, &table, &identity(2), &[row(1, "a")], "f");
    write(&backend, &table, &cols, rows).await.unwrap();
    let (cols, rows) = encode(&backend, &table, &identity(2), &[row(2, "b")], "f");
    let err = write(&backend, &table, &cols, rows).await.unwrap_err();
    assert!(err.to_string().contains("conflict.threshold"), "{err}");
}

/// Text with every character MySQL's lexer treats specially, plus random
/// Unicode.
fn random_text(rng: &mut Rng) -> String {
    const SPECIAL: &[char] = &[
        '\0', '\u{8}', '\n', '\r', '\t', '\u{1a}', '\\', '\'', '"', '%', '_', '`', '$', '?',
    ];
    let len = rng.below(40) as usize;
    (0..len)
        .map(|_| match rng.below(4) {
            0 => SPECIAL[rng.below(SPECIAL.len() as u64) as usize],
            1 => char::from_u32(0x20 + rng.below(0x5f) as u32).unwrap(),
            _ => loop {
                if let Some(c) = char::from_u32(
                    rng.below(0x1_0000) as u32 + if rng.below(8) == 0 { 0x1_0000 } else { 0 },
                ) {
                    break c;
                }
            },
        })
        .collect()
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(64) as usize;
    (0..len)
        .map(|_| match rng.below(3) {
            0 => [0u8, 0x1a, b'\\', b'\'', b'"', 0xff, 0x80, b'\n'][rng.below(8) as usize],
            _ => rng.below(256) as u8,
        })
        .collect()
}

async fn escaping_round_trip(sql_mode: &str, db: &str, seed: u64) {
    let Some(mut config) = server_config() else {
        return;
    };
    config.sql_mode = sql_mode.to_string();
    config.batch_size = 16 * 1024;
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!(
            "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, b LONGBLOB, vb VARBINARY(200), \
             t LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, j VARCHAR(200) CHARACTER SET utf8mb4)"
        ),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    let mut rng = Rng::new(seed);
    let mut expected = Vec::new();
    let mut rows = Vec::new();
    for id in 0..3000i64 {
        let b = random_bytes(&mut rng);
        let vb = random_bytes(&mut rng);
        let t = random_text(&mut rng);
        let j = random_text(&mut rng);
        expected.push((id, hex(&b), hex(&vb), hex(t.as_bytes()), hex(j.as_bytes())));
        rows.push(vec![
            Datum::Int(id),
            Datum::Bytes(b),
            Datum::Bytes(vb),
            Datum::text(t),
            Datum::text(j),
        ]);
    }
    let (cols, rows) = encode(&backend, &table, &identity(5), &rows, "f");
    write(&backend, &table, &cols, rows).await.unwrap();
    let got: Vec<(i32, String, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, LOWER(HEX(b)), LOWER(HEX(vb)), LOWER(HEX(t)), LOWER(HEX(j)) FROM `{db}`.t ORDER BY id"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(i64::from(g.0), e.0);
        assert_eq!(
            (&g.1, &g.2, &g.3, &g.4),
            (&e.1, &e.2, &e.3, &e.4),
            "row {}",
            e.0
        );
    }
}

#[tokio::test]
async fn escaping_round_trips_random_binary_and_text() {
    escaping_round_trip(
        "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER",
        "tidb_escape_default",
        7,
    )
    .await;
}

#[tokio::test]
async fn escaping_round_trips_under_no_backslash_escapes() {
    escaping_round_trip(
        "NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES",
        "tidb_escape_nobs",
        11,
    )
    .await;
}

async fn fallback_setup(
    db: &str,
    max_error: u64,
) -> Option<(TidbBackend, Arc<backend_core::model::TidbTableInfo>)> {
    let mut config = server_config()?;
    config.sql_mode = "STRICT_TRANS_TABLES".into();
    config.on_duplicate = OnDuplicate::Error;
    config.max_error_type = max_error;
    config.task_info_schema = Some(format!("{db}_info"));
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY, n TINYINT NOT NULL, s VARCHAR(5))"),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    Some((backend, table))
}

fn fallback_rows(ids: std::ops::Range<i64>, bad: &[i64]) -> Vec<Vec<Datum>> {
    ids.map(|id| {
        let n = if bad.contains(&id) && id % 2 == 0 {
            Datum::Int(1000)
        } else {
            Datum::Int(id % 100)
        };
        let s = if bad.contains(&id) && id % 2 == 1 {
            Datum::text("too long")
        } else {
            Datum::text("ok")
        };
        vec![Datum::Int(id), n, s]
    })
    .collect()
}

#[tokio::test]
async fn bad_rows_are_recorded_and_skipped_within_max_error() {
    let db = "tidb_fallback";
    let Some((backend, table)) = fallback_setup(db, 2).await else {
        return;
    };
    // Rows 3 (too long) and 6 (out of range) are bad; offsets are 400, 700.
    let (cols, rows) = encode(
        &backend,
        &table,
        &identity(3),
        &fallback_rows(0..10, &[3, 6]),
        "db.t.1.csv",
    );
    write(&backend, &table, &cols, rows).await.unwrap();
    // The batch failed on a bad row and was redone row by row: 8 rows went
    // in, the batch and the two bad rows failed.
    let metrics = backend.metrics().unwrap();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(
        (
            count(&metrics.sql_batches_sent),
            count(&metrics.sql_batches_failed),
            count(&metrics.sql_batches_retried)
        ),
        (8, 3, 0)
    );
    let ids: Vec<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM `{db}`.t ORDER BY id"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap();
    assert_eq!(ids, vec![0, 1, 2, 4, 5, 7, 8, 9]);
    let recs = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT table_name, path, `offset`, error, row_data FROM `{db}_info`.type_error_v1 ORDER BY `offset`"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].get::<String, _>(1), "db.t.1.csv");
    assert_eq!(recs[0].get::<i64, _>(2), 400);
    assert_eq!(recs[0].get::<String, _>(4), "(3,3,'too long')");
    assert_eq!(recs[1].get::<i64, _>(2), 700);
    assert_eq!(recs[1].get::<String, _>(4), "(6,1000,'ok')");
    assert_eq!(recs[0].get::<String, _>(0), format!("`{db}`.`t`"));
    // A third bad row exceeds max-error.type = 2.
    let (cols, rows) = encode(
        &backend,
        &table,
        &identity(3),
        &fallback_rows(10..15, &[12]),
        "db.t.2.csv",
    );
    let err = write(&backend, &table, &cols, rows).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadData);
    let text = err.to_string();
    assert!(text.contains("db.t.2.csv:300"), "{text}");
    assert!(text.contains("max-error.type"), "{text}");
    assert_eq!(backend.type_error_count(), 3);
}

#[tokio::test]
async fn bad_row_without_max_error_stops_with_its_position() {
    let db = "tidb_fallback_zero";
    let Some((backend, table)) = fallback_setup(db, 0).await else {
        return;
    };
    let (cols, rows) = encode(
        &backend,
        &table,
        &identity(3),
        &fallback_rows(0..5, &[4]),
        "x.csv",
    );
    let err = write(&backend, &table, &cols, rows).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadData);
    assert!(err.to_string().contains("x.csv:500"), "{err}");
    assert!(err.to_string().contains("Out of range"), "{err}");
}

#[tokio::test]
async fn killed_connections_are_retried_without_loss_or_duplicates() {
    let Some(mut config) = server_config() else {
        return;
    };
    let db = "tidb_kill";
    config.region_concurrency = 2;
    config.batch_rows = 500;
    config.max_attempts = 10;
    let backend = connect(config.clone()).await;
    fresh_db(&backend, db).await;
    // No key: a retried statement that had already committed would show up
    // as duplicate ids.
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.t (id INT NOT NULL, pad VARCHAR(200))"),
    )
    .await;
    // Slow every row down so statements are still running when killed.
    exec(
        &backend,
        &format!("CREATE TRIGGER `{db}`.slow BEFORE INSERT ON `{db}`.t FOR EACH ROW SET @x = SLEEP(0.0002)"),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    let pad = "p".repeat(150);
    let total = 10_000i64;
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU32::new(0));
    let killer = {
        let killer_backend = connect(config.clone()).await;
        let (stop, kills) = (Arc::clone(&stop), Arc::clone(&kills));
        let pattern = format!("REPLACE INTO `{db}`%");
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) && kills.load(Ordering::SeqCst) < 5 {
                let ids: Vec<u64> = sqlx::query_scalar(
                    "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
                )
                .bind(&pattern)
                .fetch_all(killer_backend.pool())
                .await
                .unwrap();
                for id in ids {
                    let sql = format!("KILL CONNECTION {id}");
                    if sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(killer_backend.pool())
                        .await
                        .is_ok()
                    {
                        kills.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    for chunk in 0..(total / 2000) {
        let rows: Vec<Vec<Datum>> = (chunk * 2000..(chunk + 1) * 2000)
            .map(|id| vec![Datum::Int(id), Datum::text(pad.clone())])
            .collect();
        let (cols, rows) = encode(&backend, &table, &identity(2), &rows, "k.sql");
        write(&backend, &table, &cols, rows).await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    killer.await.unwrap();
    assert!(
        kills.load(Ordering::SeqCst) > 0,
        "the killer never caught a running INSERT"
    );
    let (count, distinct): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(DISTINCT id) FROM `{db}`.t"
    )))
    .fetch_one(backend.pool())
    .await
    .unwrap();
    assert_eq!(
        (count, distinct),
        (total, total),
        "after {} kills",
        kills.load(Ordering::SeqCst)
    );
    // 20 statements of 500 rows, all in; a kill costs at most one retry
    // (one landing between statements costs none).
    let metrics = backend.metrics().unwrap();
    let sent = metrics.sql_batches_sent.load(Ordering::Relaxed);
    let retried = metrics.sql_batches_retried.load(Ordering::Relaxed);
    assert_eq!(sent, (total / 500) as u64);
    assert_eq!(metrics.sql_batches_failed.load(Ordering::Relaxed), 0);
    assert!(
        u64::from(kills.load(Ordering::SeqCst)) >= retried,
        "{retried} retries"
    );
}

#[tokio::test]
async fn missing_columns_take_server_defaults() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_defaults";
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!(
            "CREATE TABLE `{db}`.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(10), \
             qty INT NOT NULL DEFAULT 7, g INT AS (qty * 2) VIRTUAL)"
        ),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    assert!(table.core.columns[3].generated.is_some());
    // The data carries only `name`.
    let perm = [None, Some(0), None, None];
    let (cols, rows) = encode(
        &backend,
        &table,
        &perm,
        &[vec![Datum::text("a")], vec![Datum::text("b")]],
        "f",
    );
    assert_eq!(cols, vec!["name"]);
    write(&backend, &table, &cols, rows).await.unwrap();
    let got: Vec<(i64, String, i32, i32)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, qty, g FROM `{db}`.t ORDER BY id"
    )))
    .fetch_all(backend.pool())
    .await
    .unwrap();
    assert_eq!(got, vec![(1, "a".into(), 7, 14), (2, "b".into(), 7, 14)]);
}

#[tokio::test]
async fn typed_values_arrive_exactly() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_typed";
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!(
            "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, u BIGINT UNSIGNED, f FLOAT, d DOUBLE, \
             m DECIMAL(30,10), dt DATETIME(6), tm TIME(6), y YEAR, e ENUM('a','b''c'), bits BIT(10), dd DATE)"
        ),
    )
    .await;
    let table = table_info(&backend, db, "t").await;
    let row = vec![
        Datum::Int(1),
        Datum::Uint(u64::MAX),
        Datum::Float32(0.1),
        Datum::Float64(-1.2345678901234567e-300),
        Datum::Decimal(backend_core::Decimal::parse("-12345678901234567890.0123456789").unwrap()),
        Datum::Time(backend_core::MysqlTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 58,
            microsecond: 123_456,
        }),
        Datum::Duration(backend_core::MysqlDuration {
            micros: -(838 * 3600 + 59 * 60 + 59) * 1_000_000,
        }),
        Datum::Year(2155),
        Datum::Enum {
            index: 2,
            name: "b'c".into(),
        },
        Datum::Bit(1023),
        Datum::text("2000-01-01"),
    ];
    let (cols, rows) = encode(&backend, &table, &identity(11), &[row], "f");
    write(&backend, &table, &cols, rows).await.unwrap();
    let got: (String, f32, f64, String, String, String, String, String, String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(u AS CHAR), f, d, CAST(m AS CHAR), CAST(dt AS CHAR), CAST(tm AS CHAR), CAST(y AS CHAR), CAST(e AS CHAR), CAST(bits + 0 AS CHAR), CAST(dd AS CHAR) FROM `{db}`.t"
    )))
    .fetch_one(backend.pool())
    .await
    .unwrap();
    assert_eq!(got.0, u64::MAX.to_string());
    assert_eq!(got.1.to_bits(), 0.1f32.to_bits());
    assert_eq!(got.2.to_bits(), (-1.2345678901234567e-300f64).to_bits());
    assert_eq!(got.3, "-12345678901234567890.0123456789");
    assert_eq!(got.4, "2024-02-29 23:59:58.123456");
    assert_eq!(got.5, "-838:59:59.000000");
    assert_eq!(got.6, "2155");
    assert_eq!(got.7, "b'c");
    assert_eq!(got.8, "1023");
    assert_eq!(got.9, "2000-01-01");
}

#[tokio::test]
async fn target_info_and_requirements() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_target_info";
    let backend = connect(config).await;
    assert_eq!(backend.server_info().kind, ServerKind::Mariadb);
    assert!(backend.server_info().max_allowed_packet >= 1024 * 1024);
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!(
            "CREATE TABLE `{db}`.t (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, a VARCHAR(30) NOT NULL DEFAULT 'x''y', \
             b VARBINARY(8), c DECIMAL(10,2), UNIQUE KEY ua (a, b), KEY kc (c)) AUTO_INCREMENT = 50"
        ),
    )
    .await;
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.u (k VARCHAR(10) PRIMARY KEY)"),
    )
    .await;
    let getter = backend.target_info_getter();
    let dbs = getter.fetch_remote_db_models().await.unwrap();
    assert!(dbs.iter().any(|d| d.name == db));
    let tables = getter.fetch_remote_table_models(db).await.unwrap();
    assert_eq!(
        tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["t", "u"]
    );
    let t = &tables[0];
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["id", "a", "b", "c"]);
    assert!(t.columns.iter().enumerate().all(|(i, c)| c.offset == i));
    assert!(t.columns[0].auto_increment && t.columns[0].field_type.unsigned);
    assert!(t.pk_is_handle);
    assert_eq!(t.auto_increment_base, 50);
    assert_eq!(
        t.columns[1].default,
        Some(backend_core::model::DefaultValue::Literal("x'y".into()))
    );
    assert!(t.columns[2].field_type.is_binary_string());
    assert_eq!(t.columns[3].field_type.decimal, Some(2));
    let ua = t.indices.iter().find(|i| i.name == "ua").unwrap();
    assert!(ua.unique && !ua.primary);
    assert_eq!(
        ua.columns.iter().map(|c| c.offset).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(t.indices.iter().any(|i| i.name == "kc" && !i.unique));
    assert!(
        !tables[1].pk_is_handle,
        "a VARCHAR key is not an integer handle"
    );
    getter
        .check_requirements(&CheckCtx::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn admin_helpers_work_on_mariadb() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_admin";
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    let create = "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)";
    backend.execute_create(Some(db), create).await.unwrap();
    backend.execute_create(Some(db), create).await.unwrap();
    backend
        .execute_create(None, &format!("CREATE DATABASE `{db}`"))
        .await
        .unwrap();
    exec(
        &backend,
        &format!("INSERT INTO `{db}`.t (v) VALUES (1), (2), (3)"),
    )
    .await;
    assert_eq!(backend.row_count(db, "t").await.unwrap(), 3);
    backend.alter_auto_increment(db, "t", 1000).await.unwrap();
    exec(&backend, &format!("INSERT INTO `{db}`.t (v) VALUES (4)")).await;
    let max: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT MAX(id) FROM `{db}`.t")))
        .fetch_one(backend.pool())
        .await
        .unwrap();
    assert_eq!(max, 1000);
    let sum = backend.checksum_table(db, "t").await.unwrap();
    assert!(sum.is_some_and(|s| s != 0));
    backend.analyze_table(db, "t").await.unwrap();
    let err = backend.admin_checksum_table(db, "t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = backend.reset_engine(uuid::Uuid::nil()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

/// `add-index-by-sql`'s three statements: which indexes are deferrable (not
/// one a foreign key relies on), dropping (a gone one counts as dropped),
/// and adding back only what is missing, in one `ALTER TABLE`.
#[tokio::test]
async fn deferred_index_helpers_on_mariadb() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_deferred_index";
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    exec(
        &backend,
        &format!("CREATE TABLE `{db}`.p (id INT PRIMARY KEY)"),
    )
    .await;
    exec(
        &backend,
        &format!(
            "CREATE TABLE `{db}`.c (id INT AUTO_INCREMENT, p INT, v VARCHAR(50), w INT, \
             PRIMARY KEY (id), UNIQUE KEY u (w), KEY k_p (p), KEY `k v` (v(10), w) COMMENT 'c', \
             KEY k_id (w, id), KEY k_w (w, v), CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id))"
        ),
    )
    .await;
    exec(&backend, &format!("INSERT INTO `{db}`.p VALUES (1), (2)")).await;
    exec(
        &backend,
        &format!("INSERT INTO `{db}`.c (p, v, w) VALUES (1, 'a', 1), (2, 'b', 2)"),
    )
    .await;
    let table = backend
        .target_info_getter()
        .fetch_remote_table_models(db)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "c")
        .unwrap();
    let table = backend_core::model::TidbTableInfo {
        id: table.id,
        db: db.into(),
        name: "c".into(),
        core: table,
    };
    let defs = backend.deferrable_indexes(&table).await.unwrap();
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    // k_p serves the foreign key, k_id holds the auto-increment column.
    assert_eq!(names, vec!["k v", "k_w"], "{defs:?}");
    assert_eq!(defs[0].definition, "KEY `k v` (`v`(10),`w`) COMMENT 'c'");

    // Dropping again is fine.
    for name in ["k v", "k_w", "k v"] {
        assert!(backend.drop_index(&table, name).await.unwrap());
    }
    assert!(backend.deferrable_indexes(&table).await.unwrap().is_empty());

    // Only the missing ones are added; a second call adds nothing.
    assert_eq!(
        backend
            .add_missing_indexes(&table, &defs[..1])
            .await
            .unwrap(),
        1
    );
    assert_eq!(backend.add_missing_indexes(&table, &defs).await.unwrap(), 1);
    assert_eq!(backend.add_missing_indexes(&table, &defs).await.unwrap(), 0);
    let again = backend.deferrable_indexes(&table).await.unwrap();
    assert_eq!(again, defs);
    assert_eq!(backend.row_count(db, "c").await.unwrap(), 2);
}

#[tokio::test]
async fn wrong_password_is_an_error_without_the_password() {
    let Some(mut config) = server_config() else {
        return;
    };
    config.password = "definitely-wrong-pw-123".into();
    config.max_attempts = 1;
    let err = TidbBackend::connect(config).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("definitely-wrong-pw-123"), "{text}");
}

/// Creating a database's tables in one call gives each table exactly what
/// creating it alone and reading it back give (id, columns, indexes), in
/// the order asked, and creating them again changes nothing.
#[tokio::test]
async fn create_tables_matches_creating_each_table_alone() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_create_tables";
    let backend = connect(config).await;
    fresh_db(&backend, db).await;
    // Asked in an order that is not the server's name order.
    let names = ["t_b", "t_c", "t_a", "t_d"];
    let tables: Vec<backend_core::model::TableInfo> = names
        .iter()
        .map(|name| backend_core::model::TableInfo {
            id: 0,
            name: (*name).to_string(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns: Vec::new(),
            indices: Vec::new(),
            pk_is_handle: false,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: Some(format!(
                "CREATE TABLE `{name}` (id INT PRIMARY KEY, v VARCHAR(8), KEY k (v))"
            )),
        })
        .collect();
    let created = backend.create_tables(db, &tables).await.unwrap();
    let got: Vec<&str> = created.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(got, names);
    for table in &created {
        let alone = backend.existing_table(db, &table.name).await.unwrap();
        assert_eq!(alone.as_ref(), Some(table), "{}", table.name);
        assert_eq!(table.core.columns.len(), 2, "{}", table.name);
        assert_eq!(table.core.indices.len(), 2, "{}", table.name);
    }
    let again = backend.create_tables(db, &tables).await.unwrap();
    assert_eq!(again, created);
    let one = backend.create_table(db, &tables[2]).await.unwrap();
    assert_eq!(one, created[2]);
    assert!(backend.is_table_empty(&one).await.unwrap());
}
