//! Throughput of the local backend against a naive RocksDB loader.
//!
//! Generates N random-order pairs (keys 20–40 B shaped like TiDB record keys,
//! values ~100 B), pushes them through `LocalWriter`s → close → import into a
//! fresh target store, then writes the same pairs into a fresh RocksDB with
//! plain `WriteBatch` puts (the naive peer) from the same number of threads,
//! and prints pairs/s, MB/s, peak RSS of each and the ratio.
//!
//! ```text
//! cargo build --workspace --all-targets
//! $CARGO_TARGET_DIR/debug/examples/bench_local [PAIRS] [WRITERS] [DIR]
//! ```
//! Defaults: 2,000,000 pairs, 2 writers, a temp dir. With
//! `BENCH_LOCAL_ONLY=1` only the local path runs (for profiling).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use backend_core::testkit::MemoryEncodingBuilder;
use backend_core::{Backend, EngineConfig, KvPairs, LocalWriterConfig, Rows};
use backend_local::{
    DEFAULT_REGION_SPLIT_KEYS, DEFAULT_REGION_SPLIT_SIZE, LocalBackend, LocalBackendConfig,
};
use rocksdb::{DB, Options, WriteBatch};
use uuid::Uuid;

const BATCH: usize = 1024;

/// xorshift64*: fast, deterministic, good enough to scatter keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The `count` pairs of stream `stream`, in random key order, in batches
/// (the pipeline's shape: one contiguous batch of pairs per hand-off).
fn batches(stream: u64, count: u64) -> impl Iterator<Item = KvPairs> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (stream + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut left = count;
    let (mut key, mut value) = (Vec::with_capacity(40), Vec::with_capacity(110));
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(BATCH as u64);
        left -= n;
        let mut batch = KvPairs::with_capacity(BATCH, BATCH * 140);
        for _ in 0..n {
            let r = rng.next();
            // `t` + table id + `_r` + random handle bytes: 20..=40 bytes.
            let extra = usize::try_from(r % 21).unwrap();
            key.clear();
            key.push(b't');
            key.extend_from_slice(&(0x8000_0000_0000_0001u64).to_be_bytes());
            key.extend_from_slice(b"_r");
            key.extend_from_slice(&rng.next().to_be_bytes());
            for _ in 0..extra {
                key.push(u8::try_from(rng.next() & 0xFF).unwrap());
            }
            let len = 90 + usize::try_from(r % 21).unwrap();
            let seed = rng.next().to_le_bytes();
            value.clear();
            value.extend(seed.iter().cycle().take(len).copied());
            batch.push(&key, &value, 0);
        }
        Some(batch)
    })
}

fn bytes_of(writers: u64, per_writer: u64) -> u64 {
    (0..writers)
        .flat_map(|w| batches(w, per_writer))
        .map(|b| b.size() as u64)
        .sum()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn run_local(dir: &Path, writers: u64, per_writer: u64) -> f64 {
    let config = LocalBackendConfig::new(dir.join("sorted"), dir.join("target"));
    let backend = Arc::new(LocalBackend::new(config, Arc::new(MemoryEncodingBuilder)).unwrap());
    let uuid = Uuid::from_u128(1);
    let start = Instant::now();
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let backend = Arc::clone(&backend);
        tasks.push(tokio::spawn(async move {
            let mut writer = backend
                .local_writer(&LocalWriterConfig::default(), uuid)
                .await
                .unwrap();
            for batch in batches(w, per_writer) {
                writer.append_rows(&[], Rows::Kv(batch)).await.unwrap();
            }
            writer.close().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let written = start.elapsed();
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend
        .import_engine(uuid, DEFAULT_REGION_SPLIT_SIZE, DEFAULT_REGION_SPLIT_KEYS)
        .await
        .unwrap();
    let total = start.elapsed();
    let report = backend.last_import_report(uuid).unwrap();
    println!(
        "local: write+sort {:.1}s, close+import {:.1}s, {} regions, {} keys",
        written.as_secs_f64(),
        (total - written).as_secs_f64(),
        report.ranges.len(),
        report.engine_keys
    );
    backend.cleanup_engine(uuid).await.unwrap();
    total.as_secs_f64()
}

fn run_naive(dir: &Path, writers: u64, per_writer: u64) -> f64 {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    let db = Arc::new(DB::open(&opts, dir.join("naive")).unwrap());
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for batch in batches(w, per_writer) {
                    let mut wb = WriteBatch::default();
                    for pair in &batch {
                        wb.put(pair.key, pair.value);
                    }
                    db.write(wb).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    db.flush().unwrap();
    start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pairs: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let writers: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let temp = tempfile::tempdir().unwrap();
    let dir = args
        .get(3)
        .map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let per_writer = pairs / writers;
    let total_pairs = per_writer * writers;
    let mb = bytes_of(writers, per_writer) as f64 / 1e6;
    println!(
        "{total_pairs} pairs, {mb:.0} MB of keys+values, {writers} writers, dir {}",
        dir.display()
    );

    reset_peak_rss();
    let local = run_local(&dir, writers, per_writer).await;
    let local_rss = peak_rss_kib();
    if std::env::var_os("BENCH_LOCAL_ONLY").is_some() {
        // For profiling the local path alone.
        println!("local: {local:.1}s, peak RSS {} MiB", local_rss / 1024);
        return;
    }
    reset_peak_rss();
    let naive = run_naive(&dir, writers, per_writer);
    let naive_rss = peak_rss_kib();

    let report = |name: &str, secs: f64, rss: u64| {
        println!(
            "{name:>6}: {secs:7.1}s {:>10.0} pairs/s {:7.1} MB/s  peak RSS {} MiB",
            total_pairs as f64 / secs,
            mb / secs,
            rss / 1024
        );
    };
    report("local", local, local_rss);
    report("naive", naive, naive_rss);
    println!("ratio local/naive throughput: {:.2}x", naive / local);
}
