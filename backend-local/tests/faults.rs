//! Bad input and faults: unknown engines, missing or corrupted engine
//! directories, a locked target, a full disk, and a failing target that is
//! retried.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use backend_core::testkit::MemoryEncodingBuilder;
use backend_core::{Backend, EngineConfig, EngineManager, ErrorKind, LocalWriterConfig};
use backend_local::{
    DuplicateRecord, IngestTarget, LocalBackend, LocalError, LocalResult, OnDuplicate,
    TargetCursor, TargetStore,
};
use common::*;
use uuid::Uuid;

#[tokio::test]
async fn unknown_engines_are_not_found_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path(), OnDuplicate::Error);
    let uuid = Uuid::from_u128(99);
    let err = backend.import_engine(uuid, 1 << 20, 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(&uuid.to_string()), "{err}");
    // Unsafe close of an engine no earlier run left.
    let err = backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let path = backend.engine_dir(uuid);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    // An open engine can be imported and reset (the disk-quota path) and
    // stays open for writing.
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend.import_engine(uuid, 1 << 20, 10).await.unwrap();
    backend.reset_engine(uuid).await.unwrap();
    let mut writer = backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap();
    writer
        .append_rows(&[], rows(shuffled(0..10, 1, 1)))
        .await
        .unwrap();
    assert_eq!(
        backend
            .flush_engine(Uuid::from_u128(98))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

async fn write_and_drop(root: &Path, uuid: Uuid, small_engine_size: u64) {
    let backend = backend_sized(root, OnDuplicate::Error, small_engine_size);
    let mut writer = open_writer(&backend, uuid).await;
    writer
        .append_rows(&[], rows(shuffled(0..100, 1, 1)))
        .await
        .unwrap();
    writer.close().await.unwrap();
}

#[tokio::test]
async fn corrupted_or_missing_engine_files_are_reported() {
    type Damage = fn(&Path);
    const WITH_STORE: u64 = 0;
    const SMALL: u64 = 1 << 20;
    let cases: [(u64, Damage, &str); 5] = [
        // Garbage in RocksDB's CURRENT file.
        (
            WITH_STORE,
            |dir| std::fs::write(dir.join("db/CURRENT"), b"garbage\n").unwrap(),
            "corrupted",
        ),
        // A garbled meta file.
        (
            WITH_STORE,
            |dir| std::fs::write(dir.join("meta.json"), b"{").unwrap(),
            "meta.json",
        ),
        // The sorting store deleted under the engine.
        (
            WITH_STORE,
            |dir| std::fs::remove_dir_all(dir.join("db")).unwrap(),
            "sorting store is missing",
        ),
        // A small engine's run cut short.
        (
            SMALL,
            |dir| {
                let run = run_files(dir).pop().unwrap();
                let data = std::fs::read(&run).unwrap();
                std::fs::write(&run, &data[..data.len() / 2]).unwrap();
            },
            "engine run",
        ),
        // A small engine's garbled meta file.
        (
            SMALL,
            |dir| std::fs::write(dir.join("meta.json"), b"{").unwrap(),
            "meta.json",
        ),
    ];
    for (small_engine_size, damage, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let uuid = Uuid::from_u128(1);
        write_and_drop(dir.path(), uuid, small_engine_size).await;
        let backend = backend(dir.path(), OnDuplicate::Error);
        let engine_dir = backend.engine_dir(uuid);
        assert_eq!(
            engine_dir.join("db").exists(),
            small_engine_size == WITH_STORE,
            "{expect}"
        );
        damage(&engine_dir);
        let err = backend
            .close_engine(&EngineConfig::default(), uuid)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        let message = err.to_string();
        assert!(message.contains(expect), "{message}");
        assert!(
            message.contains(&engine_dir.display().to_string()),
            "{message}"
        );
        assert!(message.contains(&uuid.to_string()), "{message}");
    }
}

const HOLD_ENV: &str = "BACKEND_LOCAL_TEST_HOLD_TARGET";

/// Not a test on its own: the child process of
/// `target_locked_by_another_process_names_the_path`, which holds the
/// target store open until its stdin closes.
#[test]
fn hold_target_child() {
    let Ok(path) = std::env::var(HOLD_ENV) else {
        return;
    };
    let _store = TargetStore::open(&path).unwrap();
    println!("HOLDING");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

#[tokio::test]
async fn target_locked_by_another_process_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hold_target_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, &target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("HOLDING"));
    assert!(held, "the child did not open the target store");

    let err =
        LocalBackend::new(common::config(dir.path()), Arc::new(MemoryEncodingBuilder)).unwrap_err();
    assert!(matches!(err, LocalError::TargetLocked { .. }), "{err}");
    assert!(
        err.to_string().contains(&target.display().to_string()),
        "{err}"
    );
    assert_eq!(
        backend_core::Error::from(err).kind(),
        ErrorKind::TargetUnavailable
    );
    drop(child.stdin.take());
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
    // Released: opening works now.
    LocalBackend::new(common::config(dir.path()), Arc::new(MemoryEncodingBuilder)).unwrap();
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn full_disk_is_a_clear_fatal_error() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&small)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _mount = Mount(small.clone());
    let mut config = common::config(dir.path());
    config.sorted_kv_dir = small.join("sorted");
    let backend = LocalBackend::new(config, Arc::new(MemoryEncodingBuilder)).unwrap();
    let uuid = Uuid::from_u128(5);
    let mut writer = open_writer(&backend, uuid).await;
    let mut failure = None;
    for chunk in shuffled(0..60_000, 1, 2).chunks(1000) {
        if let Err(e) = writer.append_rows(&[], rows(chunk.to_vec())).await {
            failure = Some(e);
            break;
        }
    }
    let err = failure.expect("2 MiB cannot hold 8 MB of pairs");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(message.contains("no space left"), "{message}");
    assert!(message.contains(&small.display().to_string()), "{message}");
    assert!(
        !writer.is_synced(),
        "the failed buffer is kept, not dropped"
    );
    drop(writer);
    backend.cleanup_engine(uuid).await.unwrap();
}

/// A target whose ingest number `fail_at` (counting from 1) fails with a
/// retryable error.
#[derive(Debug)]
struct FlakyTarget {
    inner: Arc<TargetStore>,
    fail_at: AtomicU32,
    ingests: AtomicU32,
}

impl IngestTarget for FlakyTarget {
    fn location(&self) -> &Path {
        self.inner.location()
    }
    fn ingest_ssts(&self, files: &[PathBuf]) -> LocalResult<()> {
        let n = self.ingests.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(LocalError::Io {
                op: "ingesting (injected)",
                path: self.inner.location().to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::Interrupted),
            });
        }
        self.inner.ingest_ssts(files)
    }
    fn cursor(&self, lower: &[u8], upper: Option<&[u8]>) -> Box<dyn TargetCursor + '_> {
        self.inner.cursor(lower, upper)
    }
    fn record_duplicates(&self, records: &[DuplicateRecord]) -> LocalResult<()> {
        self.inner.record_duplicates(records)
    }
}

#[tokio::test]
async fn failed_import_is_retried_without_losing_or_doubling_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = TargetStore::open(dir.path().join("target")).unwrap();
    let flaky = Arc::new(FlakyTarget {
        inner: Arc::clone(&store),
        fail_at: AtomicU32::new(0),
        ingests: AtomicU32::new(0),
    });
    let mut config = common::config(dir.path());
    config.range_concurrency = 1;
    let backend = Arc::new(
        LocalBackend::with_target(config, Arc::new(MemoryEncodingBuilder), flaky.clone()).unwrap(),
    );
    let manager = EngineManager::new(backend.clone());
    let engine = manager
        .open_engine(&EngineConfig::default(), "`db`.`t`", 0)
        .await
        .unwrap();
    let all = shuffled(0..3000, 1, 9);
    let mut writer = engine
        .local_writer(&LocalWriterConfig::default())
        .await
        .unwrap();
    writer.append_rows(&[], rows(all.clone())).await.unwrap();
    writer.close().await.unwrap();
    let closed = engine.close().await.unwrap();

    // A direct import fails after some regions went in: retryable.
    flaky.fail_at.store(3, Ordering::SeqCst);
    let err = backend
        .import_engine(closed.engine_uuid(), 8 << 10, 1_000_000)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let partial = target_pairs(&store).len();
    assert!(
        partial > 0 && partial < all.len(),
        "{partial} pairs went in"
    );
    // ClosedEngine::import retries; the result is complete and exact.
    let done = flaky.ingests.load(Ordering::SeqCst);
    flaky.fail_at.store(done + 5, Ordering::SeqCst);
    closed.import(8 << 10, 1_000_000).await.unwrap();
    assert_eq!(target_pairs(&store), expected(&all));
    assert!(flaky.ingests.load(Ordering::SeqCst) > 10);
}
