//! Engine lifecycle, crash recovery, region splitting and bad input, on real
//! RocksDB files in temp directories.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use backend_core::{
    Backend, EngineConfig, EngineManager, ErrorKind, KvPair, LocalEngineConfig, LocalWriterConfig,
    Rows, SqlRow,
};
use backend_local::OnDuplicate;
use common::*;
use uuid::Uuid;

const TABLE: &str = "`db`.`t`";

#[tokio::test]
async fn open_write_close_import_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(backend(dir.path(), OnDuplicate::Error));
    let manager = EngineManager::new(backend.clone());
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await
        .unwrap();
    let uuid = engine.engine_uuid();
    let all = shuffled(0..6000, 1, 7);
    let writer_config = LocalWriterConfig::default();
    let mut first = engine.local_writer(&writer_config).await.unwrap();
    let mut second = engine.local_writer(&writer_config).await.unwrap();
    // Every second chunk of 250 pairs fills the 64 KiB buffer; the last 10
    // pairs stay buffered.
    for chunk in all[..3010].chunks(250) {
        first.append_rows(&[], rows(chunk.to_vec())).await.unwrap();
    }
    second
        .append_rows(&[], rows(all[3010..].to_vec()))
        .await
        .unwrap();
    assert!(
        !first.is_synced(),
        "the tail of the buffer is not durable yet"
    );
    let status = first.close().await.unwrap();
    assert!(status.flushed(), "close ingests the buffer");
    assert!(
        second.is_synced(),
        "6000 pairs exceed the 64 KiB buffer: flushed on append"
    );
    second.close().await.unwrap();

    let sizes = backend.engine_file_sizes();
    assert_eq!(sizes.len(), 1);
    assert_eq!(sizes[0].uuid, uuid);
    assert!(sizes[0].disk_size > 200_000, "{sizes:?}");
    assert_eq!(sizes[0].mem_size, 0);

    let closed = engine.close().await.unwrap();
    closed.import(96 << 20, 1_280_000).await.unwrap();
    let store = backend.target_store().unwrap();
    assert_eq!(target_pairs(store), expected(&all));
    // Idempotent: a second import changes nothing and finds everything there.
    closed.import(96 << 20, 1_280_000).await.unwrap();
    assert_eq!(target_pairs(store), expected(&all));
    let report = backend.last_import_report(uuid).unwrap();
    assert_eq!(report.already_present, 6000);
    assert!(report.ranges.is_empty());

    closed.cleanup().await.unwrap();
    assert!(!backend.engine_dir(uuid).exists());
    assert!(backend.engine_file_sizes().is_empty());
}

#[tokio::test]
async fn writing_after_close_and_sql_rows_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(backend(dir.path(), OnDuplicate::Error));
    let manager = EngineManager::new(backend.clone());
    let engine = manager
        .open_engine(&EngineConfig::default(), TABLE, 0)
        .await
        .unwrap();
    let mut writer = engine
        .local_writer(&LocalWriterConfig::default())
        .await
        .unwrap();
    let sql = Rows::Sql(vec![SqlRow {
        tuple: "(1)".into(),
        origin: Default::default(),
    }]);
    let err = writer.append_rows(&[], sql).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadData);
    writer
        .append_rows(&[], rows(shuffled(0..10, 1, 1)))
        .await
        .unwrap();
    let uuid = engine.engine_uuid();
    let closed = engine.close().await.unwrap();
    // Close handed the writer's buffer over: nothing is lost.
    assert!(writer.is_synced());
    let err = writer
        .append_rows(&[], rows(shuffled(10..20, 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains(&uuid.to_string()), "{err}");
    let err = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    closed.import(1 << 20, 1000).await.unwrap();
    assert_eq!(target_pairs(backend.target_store().unwrap()).len(), 10);
}

#[tokio::test]
async fn sorted_writer_rejects_out_of_order_keys() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(backend(dir.path(), OnDuplicate::Error));
    let uuid = Uuid::from_u128(5);
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    let sorted = LocalWriterConfig {
        is_kv_sorted: true,
        table_name: TABLE.into(),
    };
    let mut writer = backend.local_writer(&sorted, uuid).await.unwrap();
    let pair = |i| KvPair::new(key(i), value(i, 1));
    writer
        .append_rows(&[], rows(vec![pair(1), pair(2), pair(2)]))
        .await
        .unwrap();
    writer
        .append_rows(&[], rows(vec![pair(3), pair(4)]))
        .await
        .unwrap();
    let err = writer
        .append_rows(&[], rows(vec![pair(5), pair(0)]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadData);
    assert!(err.to_string().contains(&uuid.to_string()), "{err}");
    assert!(err.to_string().contains("is_kv_sorted"), "{err}");
    // The bad batch was rejected whole; later in-order pairs are fine.
    writer.append_rows(&[], rows(vec![pair(6)])).await.unwrap();
    writer.close().await.unwrap();
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    let keys: Vec<Vec<u8>> = target_pairs(backend.target_store().unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![key(1), key(2), key(3), key(4), key(6)]);
}

#[tokio::test]
async fn resume_after_crash_finds_flushed_data() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(42);
    let durable = shuffled(0..2000, 1, 3);
    let lost = shuffled(2000..2100, 1, 4);
    {
        let backend = backend(dir.path(), OnDuplicate::Error);
        let mut writer = open_writer(&backend, uuid).await;
        writer
            .append_rows(&[], rows(durable.clone()))
            .await
            .unwrap();
        // The engine flush reaches the writer's buffer.
        backend.flush_engine(uuid).await.unwrap();
        assert!(writer.is_synced());
        writer.append_rows(&[], rows(lost)).await.unwrap();
        assert!(!writer.is_synced());
        // "kill -9": drop everything without closing.
        drop(writer);
        drop(backend);
    }
    let backend = backend(dir.path(), OnDuplicate::Error);
    // Unsafe close: the engine is not in memory, reopen it read-only.
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    let err = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    assert_eq!(
        target_pairs(backend.target_store().unwrap()),
        expected(&durable)
    );
}

#[tokio::test]
async fn keep_sort_dir_reopens_and_rewrites_are_not_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(43);
    let first = shuffled(0..500, 1, 3);
    let all = shuffled(0..1000, 1, 5);
    {
        let backend = backend(dir.path(), OnDuplicate::Error);
        let mut writer = open_writer(&backend, uuid).await;
        writer.append_rows(&[], rows(first)).await.unwrap();
        writer.close().await.unwrap();
    }
    let backend = backend(dir.path(), OnDuplicate::Error);
    let keep = EngineConfig {
        keep_sort_dir: true,
        ..EngineConfig::default()
    };
    backend.open_engine(&keep, uuid).await.unwrap();
    // A resumed run re-writes chunks whose checkpoint was not saved: the
    // same pairs again, which are not duplicates.
    let mut writer = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap();
    writer.append_rows(&[], rows(all.clone())).await.unwrap();
    writer.close().await.unwrap();
    backend.close_engine(&keep, uuid).await.unwrap();
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    assert_eq!(
        target_pairs(backend.target_store().unwrap()),
        expected(&all)
    );
    assert_eq!(backend.last_import_report(uuid).unwrap().engine_keys, 1000);

    // Without keep_sort_dir an engine starts empty.
    backend
        .open_engine(&EngineConfig::default(), Uuid::from_u128(44))
        .await
        .unwrap();
    backend.cleanup_engine(uuid).await.unwrap();
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    assert_eq!(backend.last_import_report(uuid).unwrap().engine_keys, 0);
}

#[tokio::test]
async fn regions_respect_both_limits_and_every_key_lands_once() {
    for (size, keys, concurrency) in [(8 << 10, 300, 3), (1 << 20, 97, 2), (4000, 1_000_000, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::config(dir.path());
        config.range_concurrency = concurrency;
        let backend = backend_local::LocalBackend::new(
            config,
            Arc::new(backend_core::testkit::MemoryEncodingBuilder),
        )
        .unwrap();
        let uuid = Uuid::from_u128(7);
        backend
            .open_engine(&EngineConfig::default(), uuid)
            .await
            .unwrap();
        let all = shuffled(0..20_000, 2, 11);
        let mut writer = backend
            .local_writer(&LocalWriterConfig::default(), uuid)
            .await
            .unwrap();
        for chunk in all.chunks(3000) {
            writer.append_rows(&[], rows(chunk.to_vec())).await.unwrap();
        }
        writer.close().await.unwrap();
        backend
            .close_engine(&EngineConfig::default(), uuid)
            .await
            .unwrap();
        backend.import_engine(uuid, size, keys).await.unwrap();
        let report = backend.last_import_report(uuid).unwrap();
        assert!(report.ranges.len() > 3, "{}", report.ranges.len());
        let mut total = 0;
        for pair in report.ranges.windows(2) {
            assert!(pair[0].last_key < pair[1].first_key, "ranges overlap");
        }
        for range in &report.ranges {
            assert!(range.keys <= keys, "{range:?}");
            assert!(range.bytes <= size, "{range:?}");
            assert!(range.keys > 0);
            total += range.keys;
        }
        assert_eq!(total, 20_000);
        assert_eq!(
            target_pairs(backend.target_store().unwrap()),
            expected(&all)
        );
    }
}

#[tokio::test]
async fn compaction_merges_small_ssts_and_reset_drops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path(), OnDuplicate::Error);
    let uuid = Uuid::from_u128(8);
    let config = EngineConfig {
        local: LocalEngineConfig {
            compact: true,
            compact_threshold: 256 << 10,
            compact_concurrency: 1,
        },
        ..EngineConfig::default()
    };
    backend.open_engine(&config, uuid).await.unwrap();
    let all = shuffled(0..8000, 3, 13);
    // Many small chunks, one writer each: small SSTs.
    for chunk in all.chunks(100) {
        let mut writer = backend
            .local_writer(&LocalWriterConfig::default(), uuid)
            .await
            .unwrap();
        writer.append_rows(&[], rows(chunk.to_vec())).await.unwrap();
        writer.close().await.unwrap();
    }
    backend.close_engine(&config, uuid).await.unwrap();
    backend.import_engine(uuid, 64 << 10, 500).await.unwrap();
    assert_eq!(
        target_pairs(backend.target_store().unwrap()),
        expected(&all)
    );

    // Reset empties the engine; a re-import of it is a no-op.
    backend.open_engine(&config, uuid).await.unwrap();
    backend.reset_engine(uuid).await.unwrap();
    backend.close_engine(&config, uuid).await.unwrap();
    backend.import_engine(uuid, 64 << 10, 500).await.unwrap();
    let report = backend.last_import_report(uuid).unwrap();
    assert_eq!(report.engine_keys, 0);
    assert_eq!(target_pairs(backend.target_store().unwrap()).len(), 8000);
}
