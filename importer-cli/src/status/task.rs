//! The import as the status server sees it: which state the task is in,
//! the pipeline's counters once it has them, and the final outcome.
//!
//! The pipeline touches this only at a few moments (counters attached,
//! run finished); everything live is read from the pipeline's own atomics
//! when a client asks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::import::progress::SetupProgress;
use crate::import::{ImportContext, ImportOutcome, TableReport};

/// Where the import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Scanning the source, creating tables, planning chunks.
    Preparing,
    /// Tables are being imported.
    Running,
    /// Every table was imported.
    Succeeded,
    /// The run stopped with an error, or some table failed.
    Failed,
}

impl TaskState {
    /// The state's name in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Preparing => "preparing",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
        }
    }

    /// Every state, for metrics that show one of them as 1.
    pub const ALL: [TaskState; 4] = [
        TaskState::Preparing,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
    ];
}

/// What the run ended with.
#[derive(Debug, Clone, Default)]
pub struct FinalOutcome {
    /// The printed summary (when the run got as far as importing).
    pub summary: Option<String>,
    /// Per-table results.
    pub reports: Vec<TableReport>,
    /// The error that stopped the run, or the first table failure.
    pub error: Option<String>,
}

/// The shared view of one import, read by the status server.
#[derive(Debug)]
pub struct TaskStatus {
    inner: Mutex<Inner>,
    started: Instant,
    /// Microseconds since `started` of the last page or API request, plus
    /// one (0: none yet).
    last_request_us: AtomicU64,
    /// Recent (time, bytes read, rows) samples for throughput.
    samples: Mutex<VecDeque<Sample>>,
}

#[derive(Debug)]
struct Inner {
    state: TaskState,
    ctx: Option<Arc<ImportContext>>,
    setup: Option<Arc<SetupProgress>>,
    outcome: Option<FinalOutcome>,
    /// Microseconds since `started` when the run ended.
    finished_us: Option<u64>,
}

/// One throughput sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// Source bytes processed then.
    pub bytes: u64,
    /// Rows written then.
    pub rows: u64,
}

/// Throughput over the recent window: samples at least this far apart are
/// kept, and those older than [`RATE_WINDOW`] dropped.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// The window throughput and ETA are computed over.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

impl Default for TaskStatus {
    fn default() -> Self {
        TaskStatus {
            inner: Mutex::new(Inner {
                state: TaskState::Preparing,
                ctx: None,
                setup: None,
                outcome: None,
                finished_us: None,
            }),
            started: Instant::now(),
            last_request_us: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
        }
    }
}

impl TaskStatus {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The set-up's counters, shown while the task is preparing.
    pub fn attach_setup(&self, setup: Arc<SetupProgress>) {
        self.lock().setup = Some(setup);
    }

    /// The set-up's counters, when attached.
    pub fn setup(&self) -> Option<Arc<SetupProgress>> {
        self.lock().setup.clone()
    }

    /// The pipeline is set up: its counters become visible and the task is
    /// running.
    pub fn attach(&self, ctx: &Arc<ImportContext>) {
        let mut inner = self.lock();
        inner.ctx = Some(Arc::clone(ctx));
        if inner.state == TaskState::Preparing {
            inner.state = TaskState::Running;
        }
    }

    /// Records how the run ended.
    pub fn finish(&self, result: &anyhow::Result<ImportOutcome>) {
        let outcome = match result {
            Ok(outcome) => FinalOutcome {
                summary: Some(outcome.summary.clone()),
                reports: outcome.reports.clone(),
                error: outcome
                    .reports
                    .iter()
                    .find_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.name))),
            },
            Err(err) => FinalOutcome {
                summary: None,
                reports: Vec::new(),
                error: Some(format!("{err:#}")),
            },
        };
        let mut inner = self.lock();
        inner.state = if outcome.error.is_none() {
            TaskState::Succeeded
        } else {
            TaskState::Failed
        };
        inner.outcome = Some(outcome);
        inner.finished_us = Some(self.elapsed_us());
    }

    /// The task's state.
    pub fn state(&self) -> TaskState {
        self.lock().state
    }

    /// The pipeline's context, once attached.
    pub fn context(&self) -> Option<Arc<ImportContext>> {
        self.lock().ctx.clone()
    }

    /// The final outcome, once the run ended.
    pub fn outcome(&self) -> Option<FinalOutcome> {
        self.lock().outcome.clone()
    }

    /// Time since the status server started watching (the run's start).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time from the start to the end of the run, once it ended.
    pub fn run_time(&self) -> Option<Duration> {
        self.lock().finished_us.map(Duration::from_micros)
    }

    fn elapsed_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Notes that a client asked for the page or the progress.
    pub fn touch(&self) {
        self.last_request_us
            .store(self.elapsed_us().saturating_add(1), Ordering::Relaxed);
    }

    /// The time of the last request, if any.
    fn last_request_us(&self) -> Option<u64> {
        match self.last_request_us.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// Whether a client asked within `recent`.
    pub fn watched_within(&self, recent: Duration) -> bool {
        self.last_request_us().is_some_and(|last| {
            self.elapsed_us().saturating_sub(last)
                <= u64::try_from(recent.as_micros()).unwrap_or(u64::MAX)
        })
    }

    /// Whether a client asked after the run ended (so it saw the outcome).
    pub fn seen_outcome(&self) -> bool {
        let finished = self.lock().finished_us;
        finished.is_some_and(|f| self.last_request_us().is_some_and(|last| last > f))
    }

    /// Adds a sample of (bytes, rows) now, and returns the oldest sample in
    /// the window together with the newest (the one just added, or the last
    /// one if it was too soon for a new one).
    pub fn sample(&self, bytes: u64, rows: u64) -> (Sample, Sample) {
        let now = Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let due = samples
            .back()
            .is_none_or(|last| now.duration_since(last.at) >= SAMPLE_EVERY);
        if due {
            samples.push_back(Sample {
                at: now,
                bytes,
                rows,
            });
        }
        while samples.len() > 2
            && samples
                .front()
                .is_some_and(|s| now.duration_since(s.at) > RATE_WINDOW)
        {
            samples.pop_front();
        }
        let newest = Sample {
            at: now,
            bytes,
            rows,
        };
        let oldest = samples.front().copied().unwrap_or(newest);
        (oldest, newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fail_the_task_with_their_message() {
        let task = TaskStatus::default();
        assert_eq!(task.state(), TaskState::Preparing);
        task.finish(&Err(
            anyhow::anyhow!("disk full").context("writing engine 3")
        ));
        assert_eq!(task.state(), TaskState::Failed);
        let outcome = task.outcome().unwrap_or_default();
        assert_eq!(
            outcome.error.as_deref(),
            Some("writing engine 3: disk full")
        );
        assert!(task.run_time().is_some());
    }

    #[test]
    fn a_failed_table_fails_the_task() {
        let task = TaskStatus::default();
        let outcome = ImportOutcome {
            reports: vec![TableReport {
                name: "`a`.`b`".into(),
                rows: 1,
                checksum: "-".into(),
                error: Some("bad".into()),
            }],
            summary: "summary".into(),
        };
        task.finish(&Ok(outcome));
        assert_eq!(task.state(), TaskState::Failed);
        let outcome = task.outcome().unwrap_or_default();
        assert_eq!(outcome.error.as_deref(), Some("`a`.`b`: bad"));
        assert_eq!(outcome.summary.as_deref(), Some("summary"));
    }

    #[test]
    fn samples_span_the_window() {
        let task = TaskStatus::default();
        let (old, new) = task.sample(10, 1);
        assert_eq!((old.bytes, new.bytes), (10, 10));
        std::thread::sleep(SAMPLE_EVERY);
        let (old, new) = task.sample(30, 3);
        assert_eq!((old.bytes, new.bytes), (10, 30));
        assert!(new.at > old.at);
    }

    #[test]
    fn requests_after_the_end_count_as_seen() {
        let task = TaskStatus::default();
        assert!(!task.watched_within(Duration::from_secs(5)));
        task.touch();
        assert!(task.watched_within(Duration::from_secs(5)));
        task.finish(&Err(anyhow::anyhow!("x")));
        assert!(!task.seen_outcome());
        std::thread::sleep(Duration::from_millis(5));
        task.touch();
        assert!(task.seen_outcome());
    }
}
