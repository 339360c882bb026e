//! Progress counters the pipeline bumps and reporters read.
//!
//! Counters are atomics so workers never wait on a reporter; per-table
//! entries are created once, before workers start, so the hot path takes no
//! lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One table's counters.
#[derive(Debug, Default)]
pub struct TableProgress {
    /// Source bytes consumed (parser positions; decompressed bytes for
    /// compressed files).
    pub bytes_read: AtomicU64,
    /// Source bytes in total (file sizes).
    pub bytes_total: AtomicU64,
    /// Rows delivered to the backend.
    pub rows: AtomicU64,
    /// Chunks finished.
    pub chunks_done: AtomicU64,
    /// Chunks in total.
    pub chunks_total: AtomicU64,
    /// Rows skipped as errors (within `max-error`).
    pub errors: AtomicU64,
    /// Rows the parser produced (encoded or skipped as errors).
    pub rows_read: AtomicU64,
    /// Rows encoded into KV pairs or SQL tuples.
    pub rows_encoded: AtomicU64,
    /// Bytes the encoder produced (KV pairs or SQL text).
    pub bytes_encoded: AtomicU64,
    /// Encoded bytes handed to the backend's writers.
    pub bytes_written: AtomicU64,
    /// Nanoseconds spent parsing and encoding (blocking threads, summed).
    pub encode_nanos: AtomicU64,
    /// Nanoseconds spent handing batches to the writers (summed).
    pub deliver_nanos: AtomicU64,
    /// The table's phase, for display.
    pub phase: Mutex<&'static str>,
    started: Mutex<Option<Instant>>,
    finished: Mutex<Option<Duration>>,
    /// Time spent in each phase so far, and when the current one began.
    phases: Mutex<PhaseClock>,
}

/// Time spent per phase; touched only on phase changes and scrapes.
#[derive(Debug, Default)]
struct PhaseClock {
    spent: Vec<(&'static str, Duration)>,
    current: Option<(&'static str, Instant)>,
}

impl PhaseClock {
    fn close_current(&mut self, now: Instant) {
        if let Some((phase, since)) = self.current.take() {
            let spent = now.saturating_duration_since(since);
            match self.spent.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, total)) => *total += spent,
                None => self.spent.push((phase, spent)),
            }
        }
    }
}

impl TableProgress {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a counter (when resuming from a checkpoint).
    pub fn store(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }

    /// Sets the displayed phase.
    pub fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        started.get_or_insert_with(Instant::now);
        let now = Instant::now();
        let mut clock = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        clock.close_current(now);
        // "done" and "failed" are end states, not work that takes time.
        if phase != "done" && phase != "failed" {
            clock.current = Some((phase, now));
        }
    }

    /// Marks the table finished.
    pub fn finish(&self) {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(elapsed);
        self.phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close_current(Instant::now());
    }

    /// Time spent in each phase so far (the current one up to now), in the
    /// order the phases were entered.
    pub fn phase_durations(&self) -> Vec<(&'static str, Duration)> {
        let clock = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        let mut spent = clock.spent.clone();
        if let Some((phase, since)) = clock.current {
            let now = since.elapsed();
            match spent.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, total)) => *total += now,
                None => spent.push((phase, now)),
            }
        }
        spent
    }

    /// Whether the table has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Time spent on the table (so far, or in total once finished).
    pub fn elapsed(&self) -> Duration {
        if let Some(done) = *self.finished.lock().unwrap_or_else(|e| e.into_inner()) {
            return done;
        }
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|s| s.elapsed())
            .unwrap_or_default()
    }

    /// The displayed phase.
    pub fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Engines that reached each state, counted once per transition.
#[derive(Debug, Default)]
pub struct EngineCounters {
    /// Engines opened for writing.
    pub opened: AtomicU64,
    /// Engines closed (all their rows written).
    pub closed: AtomicU64,
    /// Engines imported into the target.
    pub imported: AtomicU64,
}

/// The set-up: scanning the source, connecting, prechecks, then creating
/// schemas and planning each table, which goes on while the first tables
/// import. With thousands of tables it takes a while, and the user must
/// see it move.
#[derive(Debug)]
pub struct SetupProgress {
    step: Mutex<&'static str>,
    /// Tables the scan found.
    pub tables_total: AtomicU64,
    /// Tables whose schema exists on the target (created or found).
    pub tables_created: AtomicU64,
    /// Tables checked (emptiness) and cut into chunks.
    pub tables_planned: AtomicU64,
    started: Instant,
}

impl Default for SetupProgress {
    fn default() -> Self {
        SetupProgress {
            step: Mutex::new("starting"),
            tables_total: AtomicU64::new(0),
            tables_created: AtomicU64::new(0),
            tables_planned: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl SetupProgress {
    /// Enters `step` (`scanning the source`, `creating schemas`, …).
    pub fn set_step(&self, step: &'static str) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    /// The current step.
    pub fn step(&self) -> &'static str {
        *self.step.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One line for the terminal and the progress log: the step and the
    /// counts so far.
    pub fn describe(&self) -> String {
        let total = self.tables_total.load(Ordering::Relaxed);
        let created = self.tables_created.load(Ordering::Relaxed);
        let planned = self.tables_planned.load(Ordering::Relaxed);
        match self.step() {
            step @ "creating schemas" => format!(
                "preparing: {step}, schemas {created}/{total}, tables planned {planned}/{total}"
            ),
            step => format!("preparing: {step}"),
        }
    }

    /// Whether tables are still being created (and planned).
    pub fn is_creating(&self) -> bool {
        self.step() == "creating schemas"
    }
}

/// Counters for the whole import.
#[derive(Debug)]
pub struct Progress {
    tables: BTreeMap<String, Arc<TableProgress>>,
    started: Instant,
    /// Engine state transitions.
    pub engines: EngineCounters,
}

impl Progress {
    /// Counters for `tables` (unique names).
    pub fn new(tables: impl IntoIterator<Item = String>) -> Self {
        Progress {
            tables: tables
                .into_iter()
                .map(|name| (name, Arc::new(TableProgress::default())))
                .collect(),
            started: Instant::now(),
            engines: EngineCounters::default(),
        }
    }

    /// The counters of table `name`.
    pub fn table(&self, name: &str) -> Arc<TableProgress> {
        self.tables.get(name).cloned().unwrap_or_default()
    }

    /// Every table's counters, by name.
    pub fn tables(&self) -> &BTreeMap<String, Arc<TableProgress>> {
        &self.tables
    }

    /// Time since the import started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sums of bytes read, bytes total, rows, chunks done and chunks total.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for p in self.tables.values() {
            t.bytes_read += p.bytes_read.load(Ordering::Relaxed);
            t.bytes_total += p.bytes_total.load(Ordering::Relaxed);
            t.rows += p.rows.load(Ordering::Relaxed);
            t.chunks_done += p.chunks_done.load(Ordering::Relaxed);
            t.chunks_total += p.chunks_total.load(Ordering::Relaxed);
        }
        t
    }
}

/// Whole-import totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Source bytes consumed.
    pub bytes_read: u64,
    /// Source bytes in all.
    pub bytes_total: u64,
    /// Rows delivered.
    pub rows: u64,
    /// Chunks finished.
    pub chunks_done: u64,
    /// Chunks in all.
    pub chunks_total: u64,
}

/// `amount` per second over `elapsed`, rounded down; 0 for no time.
pub fn per_second(amount: u64, elapsed: Duration) -> u64 {
    let micros = elapsed.as_micros();
    if micros == 0 {
        return 0;
    }
    u64::try_from(u128::from(amount) * 1_000_000 / micros).unwrap_or(u64::MAX)
}

/// Formats a byte count with a binary unit (`1.5 MiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_picks_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(96 << 20), "96.0 MiB");
    }

    #[test]
    fn phase_durations_accumulate_per_phase() {
        let t = TableProgress::default();
        t.set_phase("writing");
        std::thread::sleep(Duration::from_millis(20));
        t.set_phase("importing");
        t.set_phase("writing");
        std::thread::sleep(Duration::from_millis(20));
        t.set_phase("done");
        t.finish();
        let spent = t.phase_durations();
        let names: Vec<_> = spent.iter().map(|(p, _)| *p).collect();
        assert_eq!(names, ["writing", "importing"]);
        assert!(spent[0].1 >= Duration::from_millis(40), "{spent:?}");
        assert!(t.is_finished());
        // Finished phases stop counting.
        let before = t.phase_durations();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(before, t.phase_durations());
    }

    #[test]
    fn totals_sum_tables() {
        let p = Progress::new(["a".to_string(), "b".to_string()]);
        TableProgress::add(&p.table("a").rows, 3);
        TableProgress::add(&p.table("b").rows, 4);
        assert_eq!(p.totals().rows, 7);
    }
}
