//! `/progress`: the import's state as JSON, built from the live counters
//! at request time.
//!
//! Throughput and ETA come from samples over the last few seconds (see
//! [`RATE_WINDOW`](crate::status::task::RATE_WINDOW)), so they follow the current speed rather than the
//! average since the start.

use std::sync::atomic::Ordering;

use backend_core::BackendMetrics;
use serde::Serialize;

use crate::import::progress::TableProgress;
use crate::status::memory;
use crate::status::task::{TaskState, TaskStatus};

/// The whole `/progress` document.
#[derive(Debug, Serialize)]
pub struct ProgressReport {
    /// `preparing`, `running`, `succeeded` or `failed`.
    pub state: &'static str,
    /// Seconds since the run started (frozen when it ended).
    pub elapsed_seconds: f64,
    /// Sums over all tables.
    pub totals: Totals,
    /// Source bytes processed per second over the last seconds.
    pub bytes_per_second: f64,
    /// Rows written per second over the last seconds.
    pub rows_per_second: f64,
    /// Seconds left at the current speed; `null` when unknown or done.
    pub eta_seconds: Option<f64>,
    /// Percentage of source bytes processed.
    pub percent: f64,
    /// Bad rows skipped so far (within `max-error`).
    pub errors: u64,
    /// Backend counters, when the backend keeps them.
    pub backend: Option<BackendCounters>,
    /// Memory the process uses now (VmRSS), when known.
    pub memory_rss_bytes: Option<u64>,
    /// The set-up (scan, schemas, planning), while the state is
    /// `preparing`.
    pub setup: Option<Setup>,
    /// One entry per table, by name.
    pub tables: Vec<TableEntry>,
    /// The final summary, once the run ended.
    pub summary: Option<String>,
    /// The error that stopped the run (or the first failed table's).
    pub error: Option<String>,
}

/// The set-up's step and counts.
#[derive(Debug, Serialize)]
pub struct Setup {
    /// `scanning the source`, `creating schemas`, …
    pub step: &'static str,
    /// Tables the scan found.
    pub tables: u64,
    /// Tables whose schema exists on the target.
    pub tables_created: u64,
    /// Tables checked and cut into chunks.
    pub tables_planned: u64,
}

/// Whole-import sums.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    /// Tables in the task.
    pub tables: usize,
    /// Tables finished successfully.
    pub tables_done: usize,
    /// Tables that failed.
    pub tables_failed: usize,
    /// Source bytes processed.
    pub bytes_read: u64,
    /// Source bytes in all.
    pub bytes_total: u64,
    /// Rows written.
    pub rows: u64,
    /// Chunks done.
    pub chunks_done: u64,
    /// Chunks in all.
    pub chunks_total: u64,
}

/// What the backend did.
#[derive(Debug, Serialize)]
pub struct BackendCounters {
    /// KV pairs ingested (local backend).
    pub kv_pairs_ingested: u64,
    /// SST bytes ingested (local backend).
    pub sst_bytes_ingested: u64,
    /// SQL batches that succeeded (tidb backend).
    pub sql_batches_sent: u64,
    /// SQL batch attempts retried (tidb backend).
    pub sql_batches_retried: u64,
    /// SQL batches that failed (tidb backend).
    pub sql_batches_failed: u64,
}

/// One table.
#[derive(Debug, Serialize)]
pub struct TableEntry {
    /// `` `db`.`tbl` ``.
    pub name: String,
    /// Its phase: `pending`, `preparing`, `writing`, …, `done`, `failed`.
    pub state: &'static str,
    /// Source bytes processed.
    pub bytes_read: u64,
    /// Source bytes in all.
    pub bytes_total: u64,
    /// Percentage of source bytes processed.
    pub percent: f64,
    /// Rows written.
    pub rows: u64,
    /// Chunks done.
    pub chunks_done: u64,
    /// Chunks in all.
    pub chunks_total: u64,
    /// Bad rows skipped.
    pub errors: u64,
    /// Seconds spent on the table.
    pub elapsed_seconds: f64,
    /// Source bytes per second, averaged over the table's time.
    pub bytes_per_second: f64,
    /// The table's error, once it failed.
    pub error: Option<String>,
}

fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (done as f64 * 100.0 / total as f64).min(100.0)
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The table's displayed state: its phase, or `pending` before it started.
pub fn table_state(progress: &TableProgress) -> &'static str {
    match progress.phase() {
        "" => "pending",
        phase => phase,
    }
}

/// Builds the report from the task's current state.
pub fn report(task: &TaskStatus) -> ProgressReport {
    let state = task.state();
    let ctx = task.context();
    let outcome = task.outcome();
    let elapsed = task.run_time().unwrap_or_else(|| task.elapsed());
    let mut totals = Totals::default();
    let mut tables = Vec::new();
    let mut errors = 0;
    let mut backend = None;
    if let Some(ctx) = &ctx {
        for (name, p) in ctx.progress.tables() {
            let bytes_read = load(&p.bytes_read);
            let bytes_total = load(&p.bytes_total);
            let table_state = table_state(p);
            let secs = p.elapsed().as_secs_f64();
            let error = outcome.as_ref().and_then(|o| {
                o.reports
                    .iter()
                    .find(|r| &r.name == name)
                    .and_then(|r| r.error.as_deref())
                    .map(|e| crate::redaction::redact(e).into_owned())
            });
            let entry = TableEntry {
                name: name.clone(),
                state: table_state,
                bytes_read,
                bytes_total,
                percent: if table_state == "done" {
                    100.0
                } else {
                    percent(bytes_read, bytes_total)
                },
                rows: load(&p.rows),
                chunks_done: load(&p.chunks_done),
                chunks_total: load(&p.chunks_total),
                errors: load(&p.errors),
                elapsed_seconds: secs,
                bytes_per_second: if secs > 0.0 {
                    bytes_read as f64 / secs
                } else {
                    0.0
                },
                error,
            };
            totals.tables += 1;
            match table_state {
                "done" => totals.tables_done += 1,
                "failed" => totals.tables_failed += 1,
                _ => {}
            }
            totals.bytes_read += entry.bytes_read;
            totals.bytes_total += entry.bytes_total;
            totals.rows += entry.rows;
            totals.chunks_done += entry.chunks_done;
            totals.chunks_total += entry.chunks_total;
            errors += entry.errors;
            tables.push(entry);
        }
        backend = ctx.backend.metrics().map(|m| BackendCounters {
            kv_pairs_ingested: BackendMetrics::get(&m.kv_pairs_ingested),
            sst_bytes_ingested: BackendMetrics::get(&m.sst_bytes_ingested),
            sql_batches_sent: BackendMetrics::get(&m.sql_batches_sent),
            sql_batches_retried: BackendMetrics::get(&m.sql_batches_retried),
            sql_batches_failed: BackendMetrics::get(&m.sql_batches_failed),
        });
    }
    let (oldest, newest) = task.sample(totals.bytes_read, totals.rows);
    let window = newest.at.duration_since(oldest.at).as_secs_f64();
    let (bytes_per_second, rows_per_second) = if window >= 0.2 {
        (
            newest.bytes.saturating_sub(oldest.bytes) as f64 / window,
            newest.rows.saturating_sub(oldest.rows) as f64 / window,
        )
    } else {
        // Too early for a window: the average so far.
        let secs = elapsed.as_secs_f64().max(0.001);
        (totals.bytes_read as f64 / secs, totals.rows as f64 / secs)
    };
    let running = state == TaskState::Running;
    let remaining = totals.bytes_total.saturating_sub(totals.bytes_read);
    let eta_seconds = (running && bytes_per_second > 0.0 && totals.bytes_total > 0)
        .then(|| remaining as f64 / bytes_per_second);
    ProgressReport {
        state: state.as_str(),
        elapsed_seconds: elapsed.as_secs_f64(),
        percent: if state == TaskState::Succeeded {
            100.0
        } else {
            percent(totals.bytes_read, totals.bytes_total)
        },
        totals,
        bytes_per_second: if running { bytes_per_second } else { 0.0 },
        rows_per_second: if running { rows_per_second } else { 0.0 },
        eta_seconds,
        errors,
        backend,
        memory_rss_bytes: memory::rss_bytes(),
        // Tables are still being created while the first ones import.
        setup: task
            .setup()
            .filter(|setup| state == TaskState::Preparing || setup.is_creating())
            .map(|setup| Setup {
                step: setup.step(),
                tables: load(&setup.tables_total),
                tables_created: load(&setup.tables_created),
                tables_planned: load(&setup.tables_planned),
            }),
        tables,
        summary: outcome.as_ref().and_then(|o| o.summary.clone()),
        error: outcome
            .and_then(|o| o.error)
            .map(|e| crate::redaction::redact(&e).into_owned()),
    }
}
