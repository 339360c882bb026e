//! Small engines: pairs kept as run files without a sorting store, their
//! durability across a crash, the move into a sorting store as they grow,
//! and the import of both shapes, on real files in temp directories.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use backend_core::{Backend, EngineConfig, ErrorKind, KvPair, LocalWriterConfig};
use backend_local::{DEFAULT_SMALL_ENGINE_SIZE, LocalBackend, OnDuplicate};
use common::*;
use uuid::Uuid;

/// Files and directories directly in an engine directory, by name.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes `pairs` through one writer, flushing the engine after every
/// `per_flush` pairs, and drops writer and backend without closing (a
/// crash after the last flush).
async fn write_and_crash(backend: LocalBackend, uuid: Uuid, pairs: &[KvPair], per_flush: usize) {
    let mut writer = open_writer(&backend, uuid).await;
    for chunk in pairs.chunks(per_flush) {
        writer.append_rows(&[], rows(chunk.to_vec())).await.unwrap();
        backend.flush_engine(uuid).await.unwrap();
        assert!(writer.is_synced());
    }
    drop(writer);
    drop(backend);
}

/// Reopens `uuid` as an earlier run left it, imports it and checks the
/// target holds exactly `want`.
async fn reopen_and_import(root: &Path, uuid: Uuid, want: &[KvPair]) -> LocalBackend {
    let backend = backend(root, OnDuplicate::Error);
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    assert_eq!(
        target_pairs(backend.target_store().unwrap()),
        expected(want)
    );
    let report = backend.last_import_report(uuid).unwrap();
    assert_eq!(report.engine_keys, want.len() as u64);
    backend
}

#[tokio::test]
async fn a_tiny_engine_is_runs_only_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(1);
    let durable = shuffled(0..50, 1, 1);
    {
        let backend = backend(dir.path(), OnDuplicate::Error);
        let engine_dir = backend.engine_dir(uuid);
        let mut writer = open_writer(&backend, uuid).await;
        writer
            .append_rows(&[], rows(durable.clone()))
            .await
            .unwrap();
        // Not synced yet: nothing but the meta file on disk.
        assert!(!writer.is_synced());
        assert_eq!(entries(&engine_dir), ["meta.json"]);
        backend.flush_engine(uuid).await.unwrap();
        assert!(writer.is_synced());
        // One run and the meta file: no sorting store, no scratch left.
        let names = entries(&engine_dir);
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(run_files(&engine_dir).len(), 1, "{names:?}");
        // Pairs written after the flush are lost with the crash.
        writer
            .append_rows(&[], rows(shuffled(50..60, 1, 2)))
            .await
            .unwrap();
        drop(writer);
    }
    let backend = reopen_and_import(dir.path(), uuid, &durable).await;
    // A closed engine takes no writers; cleanup removes the directory.
    let err = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    backend.cleanup_engine(uuid).await.unwrap();
    assert!(!backend.engine_dir(uuid).exists());
}

#[tokio::test]
async fn growing_engines_move_their_runs_into_a_sorting_store() {
    // By file count (many small flushes) and by size (the limit is below
    // one flush's worth after a few flushes).
    for (small_engine_size, per_flush) in [(DEFAULT_SMALL_ENGINE_SIZE, 40), (20 << 10, 200)] {
        let dir = tempfile::tempdir().unwrap();
        let uuid = Uuid::from_u128(2);
        let all = shuffled(0..3000, 1, 7);
        let backend = backend_sized(dir.path(), OnDuplicate::Error, small_engine_size);
        let engine_dir = backend.engine_dir(uuid);
        write_and_crash(backend, uuid, &all, per_flush).await;
        assert!(engine_dir.join("db/CURRENT").is_file());
        assert!(engine_dir.join("batches.log").is_file());
        // Runs flushed after the move are moved in at once.
        assert!(run_files(&engine_dir).is_empty(), "{small_engine_size}");
        reopen_and_import(dir.path(), uuid, &all).await;
    }
}

#[tokio::test]
async fn a_big_first_flush_goes_to_the_sorting_store() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(3);
    let all = shuffled(0..1000, 1, 3);
    let backend = backend_sized(dir.path(), OnDuplicate::Error, 1 << 10);
    let engine_dir = backend.engine_dir(uuid);
    write_and_crash(backend, uuid, &all, 1000).await;
    assert!(engine_dir.join("db/CURRENT").is_file());
    assert!(run_files(&engine_dir).is_empty());
    reopen_and_import(dir.path(), uuid, &all).await;
}

#[tokio::test]
async fn runs_left_beside_a_sorting_store_are_moved_in_on_reopen() {
    // A crash while runs were being moved into a new sorting store leaves
    // both: the reopened engine holds the pairs of both, once each.
    let dir = tempfile::tempdir().unwrap();
    let (big, small) = (Uuid::from_u128(4), Uuid::from_u128(5));
    let in_store = shuffled(0..500, 1, 1);
    let in_run = shuffled(500..600, 1, 2);
    write_and_crash(
        backend_sized(dir.path(), OnDuplicate::Error, 0),
        big,
        &in_store,
        500,
    )
    .await;
    let backend = backend(dir.path(), OnDuplicate::Error);
    let (big_dir, small_dir) = (backend.engine_dir(big), backend.engine_dir(small));
    write_and_crash(backend, small, &in_run, 100).await;
    let run = run_files(&small_dir).pop().unwrap();
    std::fs::copy(&run, big_dir.join(run.file_name().unwrap())).unwrap();
    // A scratch file a crash left is removed on reopen.
    std::fs::write(big_dir.join("scratch-w-9.sst"), b"half an SST").unwrap();

    let all: Vec<KvPair> = in_store.iter().chain(&in_run).cloned().collect();
    reopen_and_import(dir.path(), big, &all).await;
    assert!(run_files(&big_dir).is_empty());
    assert!(!big_dir.join("scratch-w-9.sst").exists());
}

#[tokio::test]
async fn duplicates_across_runs_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(6);
    let backend = backend(dir.path(), OnDuplicate::Error);
    let engine_dir = backend.engine_dir(uuid);
    let mut first = open_writer(&backend, uuid).await;
    first
        .append_rows(&[], rows(shuffled(0..20, 1, 1)))
        .await
        .unwrap();
    first.close().await.unwrap();
    let mut second = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap();
    // Row 7 again with another value, and row 3 again unchanged.
    second
        .append_rows(
            &[],
            rows(vec![
                shuffled(7..8, 2, 1).remove(0),
                shuffled(3..4, 1, 1).remove(0),
            ]),
        )
        .await
        .unwrap();
    second.close().await.unwrap();
    assert_eq!(run_files(&engine_dir).len(), 2);
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    let err = backend
        .import_engine(uuid, 1 << 20, 1000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateDetected, "{err}");
    let report = backend.last_import_report(uuid).unwrap();
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.engine_keys, 20);
    let stored = backend.target_store().unwrap().duplicates().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].key, key(7));
}

#[tokio::test]
async fn engine_sizes_count_runs() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = Uuid::from_u128(8);
    let backend = backend(dir.path(), OnDuplicate::Error);
    let mut writer = open_writer(&backend, uuid).await;
    writer
        .append_rows(&[], rows(shuffled(0..200, 1, 1)))
        .await
        .unwrap();
    backend.flush_engine(uuid).await.unwrap();
    let run = run_files(&backend.engine_dir(uuid)).pop().unwrap();
    let run_size = std::fs::metadata(run).unwrap().len();
    let sizes = backend.engine_file_sizes();
    let size = sizes.iter().find(|s| s.uuid == uuid).unwrap();
    assert!(
        size.disk_size >= run_size,
        "{} < {run_size}",
        size.disk_size
    );
    drop(writer);
}

#[tokio::test]
async fn small_regions_are_written_not_ingested_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (tiny, big) = (Uuid::from_u128(9), Uuid::from_u128(10));
    let tiny_pairs = shuffled(0..50, 1, 1);
    // Ids far from the tiny engine's, about 2 MiB in all: one region
    // bigger than a small one.
    let big_pairs: Vec<KvPair> = shuffled(100_000..160_000, 2, 2);
    {
        let backend = backend(dir.path(), OnDuplicate::Error);
        for (uuid, pairs) in [(tiny, &tiny_pairs), (big, &big_pairs)] {
            let mut writer = open_writer(&backend, uuid).await;
            writer.append_rows(&[], rows(pairs.clone())).await.unwrap();
            writer.close().await.unwrap();
            backend
                .close_engine(&EngineConfig::default(), uuid)
                .await
                .unwrap();
        }
        let store = backend.target_store().unwrap();
        backend
            .import_engine(tiny, 96 << 20, 1 << 20)
            .await
            .unwrap();
        // No file for the tiny region…
        assert!(store.db().live_files().unwrap().is_empty());
        backend.import_engine(big, 96 << 20, 1 << 20).await.unwrap();
        let report = backend.last_import_report(big).unwrap();
        assert_eq!(report.ranges.len(), 1);
        assert!(report.ranges[0].bytes > backend_local::SMALL_REGION_BYTES);
        // …an SST for the big one.
        assert_eq!(store.db().live_files().unwrap().len(), 1);
        // Dropped without a flush of the store ("kill -9" after import).
    }
    let store = backend_local::TargetStore::open(dir.path().join("target")).unwrap();
    let all: Vec<KvPair> = tiny_pairs.iter().chain(&big_pairs).cloned().collect();
    assert_eq!(target_pairs(&store), expected(&all));
}
