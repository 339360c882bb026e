//! Duplicate detection inside an engine and against the target, per mode.
#![allow(clippy::unwrap_used)]

mod common;

use backend_core::{Backend, EngineConfig, ErrorKind, KvPair, LocalWriterConfig};
use backend_local::{LocalBackend, OnDuplicate};
use common::*;
use uuid::Uuid;

fn pair(i: u64, value: &[u8], row_id: i64) -> KvPair {
    KvPair {
        key: key(i),
        value: value.to_vec(),
        row_id,
    }
}

/// Writes each batch through its own writer into engine `uuid`, closes it.
async fn write_engine(backend: &LocalBackend, uuid: Uuid, batches: Vec<Vec<KvPair>>) {
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    for batch in batches {
        let mut writer = backend
            .local_writer(&LocalWriterConfig::default(), uuid)
            .await
            .unwrap();
        writer.append_rows(&[], rows(batch)).await.unwrap();
        writer.close().await.unwrap();
    }
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
}

fn value_of(backend: &LocalBackend, i: u64) -> Option<Vec<u8>> {
    backend.target_store().unwrap().db().get(key(i)).unwrap()
}

#[tokio::test]
async fn duplicate_inside_engine_fails_after_importing_everything() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path(), OnDuplicate::Error);
    let uuid = Uuid::from_u128(1);
    let mut first = shuffled(0..1000, 1, 1);
    first.push(pair(5000, b"A", 11));
    // An identical pair written twice is not a duplicate.
    first.push(pair(6000, b"same", 12));
    let second = vec![pair(5000, b"B", 21), pair(6000, b"same", 12)];
    write_engine(&backend, uuid, vec![first, second]).await;

    let err = backend
        .import_engine(uuid, 1 << 20, 1000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateDetected);
    let message = err.to_string();
    assert!(
        message.contains(&backend_local_hex(&key(5000))),
        "{message}"
    );
    assert!(message.contains("row ids 11, 21"), "{message}");
    // Everything is imported; the first value is kept, the other recorded.
    assert_eq!(target_pairs(backend.target_store().unwrap()).len(), 1002);
    assert_eq!(value_of(&backend, 5000).unwrap(), b"A");
    let dups = backend.target_store().unwrap().duplicates().unwrap();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].key, key(5000));
    assert_eq!(dups[0].value, b"B");
    assert_eq!(dups[0].row_id, 21);
    assert_eq!(dups[0].engine, uuid);
    assert_eq!(backend.last_import_report(uuid).unwrap().duplicates, 1);

    // A retried import finds the same duplicate and records nothing new.
    let err = backend
        .import_engine(uuid, 1 << 20, 1000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateDetected);
    assert_eq!(
        backend.target_store().unwrap().duplicates().unwrap().len(),
        1
    );
}

fn backend_local_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn duplicate_against_target_per_mode() {
    for mode in [
        OnDuplicate::Error,
        OnDuplicate::Replace,
        OnDuplicate::Ignore,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(dir.path(), mode);
        let a = Uuid::from_u128(10);
        let b = Uuid::from_u128(11);
        write_engine(
            &backend,
            a,
            vec![vec![pair(1, b"old", 1), pair(2, b"x", 2)]],
        )
        .await;
        backend.import_engine(a, 1 << 20, 1000).await.unwrap();
        // Engine b: key 1 conflicts with the target, key 2 is identical.
        write_engine(
            &backend,
            b,
            vec![vec![pair(1, b"new", 7), pair(2, b"x", 2), pair(3, b"y", 3)]],
        )
        .await;
        let result = backend.import_engine(b, 1 << 20, 1000).await;
        let dups = backend.target_store().unwrap().duplicates().unwrap();
        assert_eq!(dups.len(), 1, "{mode:?}: {dups:?}");
        assert_eq!(value_of(&backend, 3).unwrap(), b"y", "{mode:?}");
        assert_eq!(value_of(&backend, 2).unwrap(), b"x", "{mode:?}");
        match mode {
            OnDuplicate::Error => {
                assert_eq!(result.unwrap_err().kind(), ErrorKind::DuplicateDetected);
                assert_eq!(value_of(&backend, 1).unwrap(), b"old");
                assert_eq!(dups[0].value, b"new");
                assert_eq!(dups[0].row_id, 7);
            }
            OnDuplicate::Ignore => {
                result.unwrap();
                assert_eq!(value_of(&backend, 1).unwrap(), b"old");
                assert_eq!(dups[0].value, b"new");
            }
            OnDuplicate::Replace => {
                result.unwrap();
                assert_eq!(value_of(&backend, 1).unwrap(), b"new");
                assert_eq!(dups[0].value, b"old");
                assert_eq!(dups[0].engine, Uuid::nil(), "the target's old value");
                // Idempotent: importing b again changes nothing.
                backend.import_engine(b, 1 << 20, 1000).await.unwrap();
                assert_eq!(value_of(&backend, 1).unwrap(), b"new");
                assert_eq!(
                    backend.target_store().unwrap().duplicates().unwrap().len(),
                    1
                );
            }
        }
    }
}

#[tokio::test]
async fn replace_keeps_the_last_written_value_inside_an_engine() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path(), OnDuplicate::Replace);
    let uuid = Uuid::from_u128(3);
    write_engine(
        &backend,
        uuid,
        vec![
            vec![pair(1, b"v1", 1)],
            vec![pair(1, b"v2", 2)],
            vec![pair(1, b"v3", 3)],
        ],
    )
    .await;
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    assert_eq!(value_of(&backend, 1).unwrap(), b"v3");
    let mut lost: Vec<Vec<u8>> = backend
        .target_store()
        .unwrap()
        .duplicates()
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect();
    lost.sort();
    assert_eq!(lost, vec![b"v1".to_vec(), b"v2".to_vec()]);
}
