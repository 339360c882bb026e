//! The engine lifecycle against the in-memory reference backend.
#![cfg(feature = "testkit")]

use std::sync::Arc;
use std::time::Duration;

use backend_core::testkit::MemoryBackend;
use backend_core::{
    Backend, EngineConfig, EngineManager, ErrorKind, IMPORT_MAX_ATTEMPTS, KvPair,
    LocalWriterConfig, Rows, make_uuid,
};

const TABLE: &str = "`db`.`t`";

fn pairs(range: std::ops::Range<u8>, tag: u8) -> Rows {
    Rows::Kv(range.map(|i| KvPair::new(vec![i], vec![tag, i])).collect())
}

fn setup() -> (MemoryBackend, EngineManager) {
    let backend = MemoryBackend::new();
    let manager = EngineManager::new(Arc::new(backend.clone()));
    (backend, manager)
}

#[tokio::test]
async fn open_write_flush_close_import_cleanup() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let config = EngineConfig::default();
    let engine = manager.open_engine(&config, TABLE, 0).await?;
    assert_eq!(engine.engine_uuid(), make_uuid(TABLE, 0).1);
    assert_eq!(engine.id(), 0);

    let writer_config = LocalWriterConfig::default();
    let mut first = engine.local_writer(&writer_config).await?;
    let mut second = engine.local_writer(&writer_config).await?;
    first.append_rows(&[], pairs(0..10, 1)).await?;
    second.append_rows(&[], pairs(10..20, 1)).await?;
    assert!(!first.is_synced(), "nothing is durable before a flush");
    let status = first.close().await?;
    assert!(!status.flushed());
    engine.flush().await?;
    assert!(status.flushed(), "a flush makes closed chunks durable");
    assert!(second.is_synced());
    second.close().await?;

    let closed = engine.close().await?;
    closed.import(96 << 20, 1_280_000).await?;
    assert_eq!(backend.target_pairs().len(), 20);
    let uuid = closed.engine_uuid();
    closed.cleanup().await?;
    assert!(!backend.has_engine(uuid));
    Ok(())
}

#[tokio::test]
async fn writing_after_close_is_an_error() -> backend_core::Result<()> {
    let (_backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    let _closed = engine.close().await?;
    let err = writer
        .append_rows(&[], pairs(0..1, 0))
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::InvalidState));
    Ok(())
}

#[tokio::test]
async fn import_retries_retryable_failures() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(0..3, 0)).await?;
    writer.close().await?;
    let closed = engine.close().await?;

    backend.fail_next_imports(IMPORT_MAX_ATTEMPTS - 1, true);
    closed.import(1 << 20, 1000).await?;
    assert_eq!(backend.import_calls(), IMPORT_MAX_ATTEMPTS);

    backend.fail_next_imports(IMPORT_MAX_ATTEMPTS, true);
    let err = closed.import(1 << 20, 1000).await.err();
    assert!(err.as_ref().is_some_and(|e| e.is_retryable()));
    assert!(err.is_some_and(|e| e.to_string().contains("attempt 3")));
    assert_eq!(backend.import_calls(), 2 * IMPORT_MAX_ATTEMPTS);
    Ok(())
}

#[tokio::test]
async fn fatal_import_failure_returns_at_once() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 1)
        .await?;
    let closed = engine.close().await?;
    backend.fail_next_imports(1, false);
    let err = closed.import(1 << 20, 1000).await.err().map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::Internal));
    assert_eq!(backend.import_calls(), 1);
    Ok(())
}

#[tokio::test]
async fn duplicate_detected_after_full_import() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(0..5, 1)).await?;
    writer.append_rows(&[], pairs(4..6, 2)).await?;
    writer.close().await?;
    let closed = engine.close().await?;
    let err = closed.import(1 << 20, 1000).await.err().map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::DuplicateDetected));
    assert_eq!(backend.import_calls(), 1, "duplicates are not retried");
    assert_eq!(backend.target_pairs().len(), 6, "all keys imported anyway");
    closed.cleanup().await?;
    Ok(())
}

#[tokio::test]
async fn unsafe_close_resumes_flushed_engine_after_crash() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let config = EngineConfig::default();
    let engine = manager.open_engine(&config, TABLE, 0).await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(0..8, 0)).await?;
    writer.close().await?;
    engine.flush().await?;
    let mut late = engine.local_writer(&LocalWriterConfig::default()).await?;
    late.append_rows(&[], pairs(8..10, 0)).await?;
    // The process dies: the open engine and unflushed rows are gone.
    backend.simulate_crash();
    drop(late);

    let resumed = manager.unsafe_close_engine(&config, TABLE, 0).await?;
    assert_eq!(resumed.engine_uuid(), engine.engine_uuid());
    resumed.import(1 << 20, 1000).await?;
    assert_eq!(backend.target_pairs().len(), 8, "flushed rows survive");

    let unknown = manager.unsafe_close_engine(&config, TABLE, 7).await;
    assert_eq!(unknown.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    Ok(())
}

#[tokio::test]
async fn reopen_with_keep_sort_dir_keeps_flushed_data() -> backend_core::Result<()> {
    let (backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(0..4, 0)).await?;
    writer.close().await?;
    engine.flush().await?;
    backend.simulate_crash();

    let keep = EngineConfig {
        keep_sort_dir: true,
        ..EngineConfig::default()
    };
    let engine = manager.open_engine(&keep, TABLE, 0).await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(4..6, 0)).await?;
    writer.close().await?;
    engine.close().await?.import(1 << 20, 1000).await?;
    assert_eq!(backend.target_pairs().len(), 6);
    Ok(())
}

#[tokio::test]
async fn reset_drops_written_pairs() -> backend_core::Result<()> {
    let backend = MemoryBackend::new();
    let manager = EngineManager::new(Arc::new(backend.clone()));
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    writer.append_rows(&[], pairs(0..4, 0)).await?;
    engine.flush().await?;
    backend.reset_engine(engine.engine_uuid()).await?;
    engine.close().await?.import(1 << 20, 1000).await?;
    assert!(backend.target_pairs().is_empty());
    Ok(())
}

#[tokio::test]
async fn sorted_writer_rejects_out_of_order_keys() -> backend_core::Result<()> {
    let (_backend, manager) = setup();
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await?;
    let sorted = LocalWriterConfig {
        is_kv_sorted: true,
        table_name: TABLE.into(),
    };
    let mut writer = engine.local_writer(&sorted).await?;
    writer.append_rows(&[], pairs(5..7, 0)).await?;
    let err = writer.append_rows(&[], pairs(1..2, 0)).await.err();
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::BadData));
    Ok(())
}

#[tokio::test]
async fn retry_delay_comes_from_backend() {
    let backend = MemoryBackend::new();
    assert_eq!(backend.retry_import_delay(), Duration::ZERO);
}
