//! `/metrics`: the pipeline's counters in the Prometheus text format.
//!
//! The pipeline keeps its own atomics (see [`crate::import::progress`]);
//! a scrape copies them into a fresh registry of the `prometheus` crate and
//! encodes it. Nothing is registered globally and the hot path never sees
//! the registry, so a scrape costs the importer a few atomic loads.

use std::sync::atomic::{AtomicU64, Ordering};

use backend_core::BackendMetrics;
use prometheus::{CounterVec, Encoder as _, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::status::api::table_state;
use crate::status::memory;
use crate::status::task::{TaskState, TaskStatus};

/// Phases a table shows in `importer_table_state` (one of them is 1).
const TABLE_STATES: [&str; 10] = [
    "pending",
    "preparing",
    "writing",
    "importing",
    "importing index",
    "rebasing auto-increment",
    "checksum",
    "analyze",
    "done",
    "failed",
];

/// The metrics as Prometheus text.
pub fn render(task: &TaskStatus) -> Result<String, prometheus::Error> {
    let m = Families::default();
    let state = task.state();
    let task_state = m.int_gauge(
        "importer_task_state",
        "1 for the state the import is in",
        &["state"],
    )?;
    for s in TaskState::ALL {
        task_state
            .with_label_values(&[s.as_str()])
            .set(i64::from(s == state));
    }
    let elapsed = task.run_time().unwrap_or_else(|| task.elapsed());
    m.gauge(
        "importer_elapsed_seconds",
        "Seconds since the import started",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(elapsed.as_secs_f64());
    if let Some(rss) = memory::rss_bytes() {
        m.int_gauge(
            "importer_memory_rss_bytes",
            "Resident memory of the importer (VmRSS)",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set(to_i64(rss));
    }
    if let Some(peak) = memory::peak_rss_bytes() {
        m.int_gauge(
            "importer_memory_peak_rss_bytes",
            "Peak resident memory of the importer (VmHWM)",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set(to_i64(peak));
    }
    let Some(ctx) = task.context() else {
        return m.encode();
    };

    let t = &["table"];
    let source_total = m.int_gauge(
        "importer_source_bytes",
        "Source bytes of the table's chunks",
        t,
    )?;
    let source_done = m.counter(
        "importer_source_bytes_processed_total",
        "Source bytes whose rows were written",
        t,
    )?;
    let rows_read = m.counter(
        "importer_rows_read_total",
        "Rows parsed from the source (encoded or skipped)",
        t,
    )?;
    let rows_encoded = m.counter(
        "importer_rows_encoded_total",
        "Rows encoded into KV pairs or SQL",
        t,
    )?;
    let rows_written = m.counter(
        "importer_rows_written_total",
        "Rows handed to the backend",
        t,
    )?;
    let bytes_encoded = m.counter(
        "importer_encoded_bytes_total",
        "Bytes of KV pairs or SQL the encoder produced",
        t,
    )?;
    let bytes_written = m.counter(
        "importer_written_bytes_total",
        "Encoded bytes handed to the backend",
        t,
    )?;
    let chunks_done = m.counter("importer_chunks_done_total", "Chunks finished", t)?;
    let chunks_total = m.int_gauge("importer_chunks", "Chunks of the table", t)?;
    let errors = m.counter(
        "importer_row_errors_total",
        "Bad rows skipped (within max-error)",
        t,
    )?;
    let encode_secs = m.float_counter(
        "importer_encode_seconds_total",
        "Time spent parsing and encoding, summed over workers",
        t,
    )?;
    let deliver_secs = m.float_counter(
        "importer_deliver_seconds_total",
        "Time spent handing rows to the backend, summed over workers",
        t,
    )?;
    let phase_secs = m.float_counter(
        "importer_table_phase_seconds_total",
        "Time the table spent in each phase",
        &["table", "phase"],
    )?;
    let table_state_g = m.int_gauge(
        "importer_table_state",
        "1 for the phase the table is in",
        &["table", "state"],
    )?;

    for (name, p) in ctx.progress.tables() {
        let l = &[name.as_str()];
        source_total
            .with_label_values(l)
            .set(to_i64(load(&p.bytes_total)));
        source_done.with_label_values(l).inc_by(load(&p.bytes_read));
        rows_read.with_label_values(l).inc_by(load(&p.rows_read));
        rows_encoded
            .with_label_values(l)
            .inc_by(load(&p.rows_encoded));
        rows_written.with_label_values(l).inc_by(load(&p.rows));
        bytes_encoded
            .with_label_values(l)
            .inc_by(load(&p.bytes_encoded));
        bytes_written
            .with_label_values(l)
            .inc_by(load(&p.bytes_written));
        chunks_done
            .with_label_values(l)
            .inc_by(load(&p.chunks_done));
        chunks_total
            .with_label_values(l)
            .set(to_i64(load(&p.chunks_total)));
        errors.with_label_values(l).inc_by(load(&p.errors));
        encode_secs
            .with_label_values(l)
            .inc_by(nanos_to_secs(load(&p.encode_nanos)));
        deliver_secs
            .with_label_values(l)
            .inc_by(nanos_to_secs(load(&p.deliver_nanos)));
        for (phase, spent) in p.phase_durations() {
            phase_secs
                .with_label_values(&[name.as_str(), phase])
                .inc_by(spent.as_secs_f64());
        }
        let current = table_state(p);
        for s in TABLE_STATES {
            table_state_g
                .with_label_values(&[name.as_str(), s])
                .set(i64::from(s == current));
        }
    }

    let engines = m.counter(
        "importer_engines_total",
        "Engines that reached each state",
        &["state"],
    )?;
    let e = &ctx.progress.engines;
    for (state, counter) in [
        ("opened", &e.opened),
        ("closed", &e.closed),
        ("imported", &e.imported),
    ] {
        engines.with_label_values(&[state]).inc_by(load(counter));
    }
    m.counter(
        "importer_checkpoint_saves_total",
        "Times the checkpoint was saved",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(ctx.checkpoints.saves());
    m.counter(
        "importer_source_read_retries_total",
        "Object-store requests that failed transiently and were retried with backoff, \
         and reads that broke off and were resumed from where they stopped",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(dump_source::storage::read_retries());

    if let Some(b) = ctx.backend.metrics() {
        m.counter(
            "importer_kv_pairs_ingested_total",
            "KV pairs ingested into the target (local backend)",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(BackendMetrics::get(&b.kv_pairs_ingested));
        m.counter(
            "importer_sst_bytes_ingested_total",
            "Bytes of keys and values ingested as SSTs (local backend)",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(BackendMetrics::get(&b.sst_bytes_ingested));
        let batches = m.counter(
            "importer_sql_batches_total",
            "SQL batch statements by result (tidb backend)",
            &["result"],
        )?;
        for (result, counter) in [
            ("sent", &b.sql_batches_sent),
            ("retried", &b.sql_batches_retried),
            ("failed", &b.sql_batches_failed),
        ] {
            batches
                .with_label_values(&[result])
                .inc_by(BackendMetrics::get(counter));
        }
    }
    m.encode()
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn nanos_to_secs(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// A registry being filled for one scrape.
#[derive(Default)]
struct Families {
    registry: Registry,
}

impl Families {
    fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        let v = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(v.clone()))?;
        Ok(v)
    }

    fn float_counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<CounterVec> {
        let v = CounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(v.clone()))?;
        Ok(v)
    }

    fn int_gauge(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntGaugeVec> {
        let v = IntGaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(v.clone()))?;
        Ok(v)
    }

    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
        let v = GaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(v.clone()))?;
        Ok(v)
    }

    fn encode(&self) -> prometheus::Result<String> {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_pipeline_starts_the_task_state_is_exported() {
        let task = TaskStatus::default();
        let text = render(&task).unwrap_or_default();
        assert!(
            text.contains("importer_task_state{state=\"preparing\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("importer_task_state{state=\"running\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE importer_elapsed_seconds gauge"),
            "{text}"
        );
    }
}
