//! Batch markers: which statements committed, so a statement whose outcome
//! a lost connection or a crash hid is neither lost nor applied twice.
//!
//! Each statement runs as `BEGIN; …; INSERT INTO markers VALUES (key);
//! COMMIT` in one round trip. After a transient error the writer looks the
//! key up: present means the transaction committed (the reply was lost),
//! absent means it rolled back with the session and is safe to redo.
//!
//! Keys are deterministic when the rows carry their source position:
//! `<engine uuid>-<hash of file, first and last row offset, row count and
//! the statement text's CRC-64 and length>`. A run resumed from a
//! checkpoint re-sends the statements committed after the last checkpoint
//! save with the same keys; the marker insert then fails as a duplicate,
//! the transaction is rolled back and the statement counts as done — so
//! even a table without a unique key gets no duplicate rows. Rows without a
//! position, and writers of engines this backend did not open (whose
//! markers nobody would ever delete), get per-instance keys that only
//! protect in-process retries.
//!
//! An engine opened afresh (`keep_sort_dir = false`) loses its old markers
//! before its first statement; a cleaned-up engine's markers are garbage
//! and go in batches. Both cost a statement only for engines that may have
//! markers: those found in the table when this instance first used it,
//! and those it marked statements for since. A table of fifty rows then
//! costs no marker statement beyond its own insert.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use backend_core::SqlRow;
use sqlx::MySqlPool;
use uuid::Uuid;

use crate::error::TidbError;
use crate::retry::{RetryPolicy, with_retry};

/// The table that holds [`Markers`] (our addition to Lightning's schema).
pub const MARKER_TABLE: &str = "tidb_batch_markers";

/// Cleaned-up engines whose markers one `DELETE` removes.
const RETIRE_BATCH: usize = 64;

/// How [`Markers::forget_engine`] treats an engine's markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forget {
    /// Before the engine's first statement: gone before returning.
    Now,
    /// After the engine is done: gone with the next batch, or at
    /// [`Markers::close`].
    Later,
}

/// The markers of one backend instance (see the module docs).
#[derive(Debug)]
pub(crate) struct Markers {
    /// `` `schema`.`tidb_batch_markers` ``.
    pub(crate) table: String,
    /// Unique to this backend instance.
    prefix: String,
    next: AtomicU64,
    /// The quoted schema the table lives in.
    schema: String,
    /// Set once the table exists and `present` holds what it held.
    ready: tokio::sync::OnceCell<()>,
    /// Engines opened through this backend: their writers use
    /// deterministic keys.
    engines: Mutex<HashSet<Uuid>>,
    /// Engines whose markers may be in the table.
    present: Mutex<HashSet<Uuid>>,
    /// Cleaned-up engines whose markers are still to be deleted.
    retired: Mutex<Vec<Uuid>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Markers {
    /// Markers in `` `schema_q`.tidb_batch_markers `` (`schema_q` quoted),
    /// with per-instance keys starting with `prefix`.
    pub(crate) fn new(schema_q: String, prefix: String) -> Self {
        Markers {
            table: format!("{schema_q}.{MARKER_TABLE}"),
            prefix,
            next: AtomicU64::new(0),
            schema: schema_q,
            ready: tokio::sync::OnceCell::new(),
            engines: Mutex::default(),
            present: Mutex::default(),
            retired: Mutex::default(),
        }
    }

    /// Creates the table on first use and reads which engines have
    /// markers in it.
    pub(crate) async fn ensure_table(
        &self,
        pool: &MySqlPool,
        retry: RetryPolicy,
    ) -> Result<(), TidbError> {
        self.ready
            .get_or_try_init(|| async {
                for sql in [
                    format!("CREATE DATABASE IF NOT EXISTS {}", self.schema),
                    Self::create_statement(&self.schema),
                ] {
                    let sql: Arc<str> = sql.into();
                    with_retry(retry, "creating the batch marker table", || {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(Arc::clone(&sql))).execute(pool)
                    })
                    .await?;
                }
                // Keys start with the engine's 32 hex digits (or an
                // instance prefix, which parses as no engine of ours).
                let sql: Arc<str> =
                    format!("SELECT DISTINCT LEFT(batch_key, 32) FROM {}", self.table).into();
                let found: Vec<String> = with_retry(retry, "reading the batch markers", || {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&sql))).fetch_all(pool)
                })
                .await?;
                lock(&self.present).extend(found.iter().filter_map(|k| Uuid::try_parse(k).ok()));
                Ok(())
            })
            .await
            .map(|_| ())
    }

    fn create_statement(schema_q: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {schema_q}.{MARKER_TABLE} (\
             batch_key VARCHAR(64) NOT NULL PRIMARY KEY, \
             create_time DATETIME(6) NOT NULL DEFAULT NOW(6))"
        )
    }

    /// The marker key of a statement of `rows` into `engine`.
    pub(crate) fn key(&self, engine: Option<Uuid>, rows: &[SqlRow], sql: &str) -> String {
        match (engine, rows.first(), rows.last()) {
            (Some(engine), Some(first), Some(last)) if !first.origin.file.is_empty() => {
                // FNV-1a: stable across builds, unlike std's hasher.
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                let mut eat = |bytes: &[u8]| {
                    for b in bytes {
                        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
                    }
                };
                eat(first.origin.file.as_bytes());
                eat(&[0]);
                eat(&first.origin.offset.to_le_bytes());
                eat(last.origin.file.as_bytes());
                eat(&[0]);
                eat(&last.origin.offset.to_le_bytes());
                eat(&(rows.len() as u64).to_le_bytes());
                // The statement itself too: positions reused by a caller for
                // other rows must not make their statement look done. Its
                // CRC-64 (SIMD, stable across builds) rather than FNV over
                // every byte: byte-serial FNV of each statement was the
                // largest client-side cost of an import.
                let mut digest = crc64fast::Digest::new();
                digest.write(sql.as_bytes());
                eat(&digest.sum64().to_le_bytes());
                eat(&(sql.len() as u64).to_le_bytes());
                format!("{}-{h:016x}", engine.simple())
            }
            _ => format!(
                "{}-{}",
                self.prefix,
                self.next.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// Whether writers of `engine` use deterministic keys.
    pub(crate) fn manages(&self, engine: Uuid) -> bool {
        lock(&self.engines).contains(&engine)
    }

    /// Starts managing `engine`'s markers.
    pub(crate) fn manage(&self, engine: Uuid) {
        lock(&self.engines).insert(engine);
    }

    /// Notes that a statement with a marker of `engine` is about to run.
    pub(crate) fn marking(&self, engine: Option<Uuid>) {
        if let Some(engine) = engine {
            lock(&self.present).insert(engine);
        }
    }

    /// Deletes the markers of `engine` (it starts over: [`Forget::Now`]),
    /// or retires them (its statements are all accounted for:
    /// [`Forget::Later`]). An engine with no markers costs nothing.
    pub(crate) async fn forget_engine(
        &self,
        pool: &MySqlPool,
        retry: RetryPolicy,
        engine: Uuid,
        when: Forget,
    ) -> Result<(), TidbError> {
        self.ensure_table(pool, retry).await?;
        if !lock(&self.present).contains(&engine) {
            return Ok(());
        }
        let batch = match when {
            Forget::Now => {
                lock(&self.retired).retain(|e| *e != engine);
                vec![engine]
            }
            Forget::Later => {
                let mut retired = lock(&self.retired);
                if !retired.contains(&engine) {
                    retired.push(engine);
                }
                if retired.len() < RETIRE_BATCH {
                    return Ok(());
                }
                std::mem::take(&mut *retired)
            }
        };
        self.delete(pool, retry, &batch, false).await
    }

    /// Deletes the retired engines' markers and this instance's own keys,
    /// which only mattered while it retried statements.
    pub(crate) async fn close(
        &self,
        pool: &MySqlPool,
        retry: RetryPolicy,
    ) -> Result<(), TidbError> {
        if self.ready.get().is_none() {
            return Ok(()); // never used
        }
        let batch = std::mem::take(&mut *lock(&self.retired));
        self.delete(pool, retry, &batch, true).await
    }

    /// One `DELETE` of the markers of `engines` (and of the instance keys
    /// with `own`): key prefixes, so each is a range of the primary key.
    async fn delete(
        &self,
        pool: &MySqlPool,
        retry: RetryPolicy,
        engines: &[Uuid],
        own: bool,
    ) -> Result<(), TidbError> {
        let mut prefixes: Vec<String> = engines.iter().map(|e| e.simple().to_string()).collect();
        if own {
            prefixes.push(self.prefix.clone());
        }
        if prefixes.is_empty() {
            return Ok(());
        }
        let condition = prefixes
            .iter()
            .map(|p| format!("batch_key LIKE '{p}-%'"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql: Arc<str> = format!("DELETE FROM {} WHERE {condition}", self.table).into();
        // Taken out first: an engine marked again meanwhile stays present.
        {
            let mut present = lock(&self.present);
            for engine in engines {
                present.remove(engine);
            }
        }
        let deleted = with_retry(retry, "deleting batch markers", || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(Arc::clone(&sql))).execute(pool)
        })
        .await;
        if deleted.is_err() {
            lock(&self.present).extend(engines.iter().copied());
        }
        deleted.map(|_| ())
    }
}
