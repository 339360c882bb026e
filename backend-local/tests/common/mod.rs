//! Helpers shared by the local backend's tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use backend_core::testkit::MemoryEncodingBuilder;
use backend_core::{Backend, EngineConfig, EngineWriter, KvPair, LocalWriterConfig, Rows};
use backend_local::{LocalBackend, LocalBackendConfig, OnDuplicate, TargetStore};
use uuid::Uuid;

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A TiDB-like record key for row `i` of table 1.
pub fn key(i: u64) -> Vec<u8> {
    let mut k = b"t\x80\x00\x00\x00\x00\x00\x00\x01_r".to_vec();
    k.extend_from_slice(&(i ^ (1 << 63)).to_be_bytes());
    k
}

pub fn value(i: u64, tag: u8) -> Vec<u8> {
    let mut v = vec![tag; 20 + usize::try_from(i % 13).unwrap()];
    v.extend_from_slice(&i.to_le_bytes());
    v
}

/// Pairs for ids `ids`, shuffled.
pub fn shuffled(ids: std::ops::Range<u64>, tag: u8, seed: u64) -> Vec<KvPair> {
    let mut pairs: Vec<KvPair> = ids
        .map(|i| KvPair {
            key: key(i),
            value: value(i, tag),
            row_id: i64::try_from(i).unwrap(),
        })
        .collect();
    let mut rng = Rng::new(seed);
    for i in (1..pairs.len()).rev() {
        let j = usize::try_from(rng.next() % (i as u64 + 1)).unwrap();
        pairs.swap(i, j);
    }
    pairs
}

pub fn rows(pairs: Vec<KvPair>) -> Rows {
    Rows::Kv(pairs.into())
}

pub fn config(root: &Path) -> LocalBackendConfig {
    let mut config = LocalBackendConfig::new(root.join("sorted"), root.join("target"));
    config.local_writer_mem_cache_size = 64 << 10;
    config.range_concurrency = 3;
    config.retry_import_delay = std::time::Duration::from_millis(10);
    config
}

pub fn backend(root: &Path, mode: OnDuplicate) -> LocalBackend {
    backend_sized(root, mode, config(root).small_engine_size)
}

/// [`backend`] whose engines keep up to `small_engine_size` bytes as runs
/// (0: every engine gets its sorting store with its first pairs).
pub fn backend_sized(root: &Path, mode: OnDuplicate, small_engine_size: u64) -> LocalBackend {
    let mut config = config(root);
    config.on_duplicate = mode;
    config.small_engine_size = small_engine_size;
    LocalBackend::new(config, Arc::new(MemoryEncodingBuilder)).unwrap()
}

/// The run files in an engine directory.
pub fn run_files(engine_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut runs: Vec<_> = std::fs::read_dir(engine_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("run-") && name.ends_with(".kv")
        })
        .collect();
    runs.sort();
    runs
}

/// Every pair of the target's default column family, in order.
pub fn target_pairs(store: &TargetStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut iter = store.db().raw_iterator();
    iter.seek_to_first();
    let mut out = Vec::new();
    while let Some((k, v)) = iter.item() {
        out.push((k.to_vec(), v.to_vec()));
        iter.next();
    }
    iter.status().unwrap();
    out
}

/// The sorted, distinct `(key, value)` list of `pairs`.
pub fn expected(pairs: &[KvPair]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Opens engine `uuid` (default config) and a default writer into it.
pub async fn open_writer(backend: &LocalBackend, uuid: Uuid) -> Box<dyn EngineWriter> {
    backend
        .open_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend
        .local_writer(&LocalWriterConfig::default(), uuid)
        .await
        .unwrap()
}
