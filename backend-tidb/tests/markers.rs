//! Batch markers across processes: a statement committed by a run that
//! crashed before recording it is recognised by the resumed run (a new
//! backend instance) and not applied twice — even into a table without any
//! unique key — while a fresh start forgets the old markers.
#![allow(clippy::unwrap_used)]

mod common;

use backend_core::{Backend, Datum, EngineConfig, LocalWriterConfig, make_uuid};
use backend_tidb::TidbBackend;
use common::{encode, exec, fresh_db, identity, server_config, table_info};

async fn count(backend: &TidbBackend, db: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM `{db}`.t"
    )))
    .fetch_one(backend.pool())
    .await
    .unwrap()
}

/// Writes the same 3 rows (same source positions) through engine 0 of a new
/// backend instance opened with `keep`.
async fn run(db: &str, keep: bool) -> TidbBackend {
    let mut config = server_config().unwrap();
    config.task_info_schema = Some(format!("{db}_info"));
    let backend = TidbBackend::connect(config).await.unwrap();
    let table = table_info(&backend, db, "t").await;
    let name = table.unique_name();
    let (_, uuid) = make_uuid(&name, 0);
    let engine_config = EngineConfig {
        keep_sort_dir: keep,
        ..EngineConfig::default()
    };
    backend.open_engine(&engine_config, uuid).await.unwrap();
    let rows: Vec<Vec<Datum>> = (0..3)
        .map(|i| vec![Datum::Int(7), Datum::text(format!("v{i}"))])
        .collect();
    let (cols, rows) = encode(&backend, &table, &identity(2), &rows, "t.0.sql");
    let writer_config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: name,
    };
    let mut writer = backend.local_writer(&writer_config, uuid).await.unwrap();
    writer.append_rows(&cols, rows).await.unwrap();
    writer.close().await.unwrap();
    backend
}

#[tokio::test]
async fn statements_committed_before_a_crash_are_not_applied_twice() {
    let Some(config) = server_config() else {
        return;
    };
    let db = "tidb_markers_resume";
    let admin = TidbBackend::connect(config).await.unwrap();
    fresh_db(&admin, db).await;
    // No primary or unique key: a re-sent row would be a duplicate.
    exec(
        &admin,
        &format!("CREATE TABLE `{db}`.t (k INT, v VARCHAR(20))"),
    )
    .await;

    // The first run writes and "crashes" (never cleans up its engine).
    let first = run(db, false).await;
    assert_eq!(count(&first, db).await, 3);
    // The resumed run (keep = true) re-sends the same statement: skipped.
    let resumed = run(db, true).await;
    assert_eq!(
        count(&resumed, db).await,
        3,
        "a resumed run must not duplicate"
    );
    // A fresh start (keep = false) forgets the markers and writes again.
    let fresh = run(db, false).await;
    assert_eq!(count(&fresh, db).await, 6, "a fresh start writes its rows");
    // Cleaning the engine up retires its markers; reopening it afresh in
    // the same instance deletes them before its first statement.
    let table = table_info(&fresh, db, "t").await;
    let (_, uuid) = make_uuid(&table.unique_name(), 0);
    fresh.cleanup_engine(uuid).await.unwrap();
    assert_eq!(
        markers_of(&fresh, db, uuid).await,
        1,
        "retired, not yet deleted"
    );
    fresh
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    assert_eq!(markers_of(&fresh, db, uuid).await, 0);
    fresh.cleanup_engine(uuid).await.unwrap();
    // A new instance finds no markers of the engine: its fresh start needs
    // no statement, and writes.
    let again = run(db, false).await;
    assert_eq!(count(&again, db).await, 9);
    // Retired markers are gone when the backend closes.
    again.cleanup_engine(uuid).await.unwrap();
    assert_eq!(markers_of(&again, db, uuid).await, 1);
    let admin_pool = admin.pool().clone();
    again.close().await;
    let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM `{db}_info`.tidb_batch_markers"
    )))
    .fetch_one(&admin_pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "closing deletes retired and per-instance markers");
}

async fn markers_of(backend: &TidbBackend, db: &str, engine: uuid::Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM `{db}_info`.tidb_batch_markers WHERE batch_key LIKE '{}-%'",
        engine.simple()
    )))
    .fetch_one(backend.pool())
    .await
    .unwrap()
}
