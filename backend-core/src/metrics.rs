//! Counters a backend bumps as it works, for status pages and metrics.
//!
//! Plain atomics: a backend adds to them on its own paths (per ingested
//! SST, per SQL statement), readers load them whenever they like, and
//! nobody waits on anybody. Counters that do not apply to a backend stay 0.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a backend has done so far, in this process.
#[derive(Debug, Default)]
pub struct BackendMetrics {
    /// KV pairs ingested into the target (physical backends).
    pub kv_pairs_ingested: AtomicU64,
    /// Bytes of keys and values ingested into the target as SSTs
    /// (physical backends).
    pub sst_bytes_ingested: AtomicU64,
    /// SQL statements that wrote a batch of rows and succeeded (logical
    /// backends).
    pub sql_batches_sent: AtomicU64,
    /// Attempts of such statements that failed transiently and were retried.
    pub sql_batches_retried: AtomicU64,
    /// Such statements that failed for good (a bad row, retries exhausted).
    pub sql_batches_failed: AtomicU64,
}

impl BackendMetrics {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
