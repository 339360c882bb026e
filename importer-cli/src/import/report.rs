//! Showing progress while the import runs, and the summary at the end.
//!
//! On a terminal, `indicatif` draws an overall bar (bytes, throughput, ETA)
//! and one line per table in flight, on the shared [`Terminal`] so log lines
//! appear above them; elsewhere (CI, pipes, log files) a one-line progress
//! log is written every `log-progress` interval.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::import::TableReport;
use crate::import::progress::{Progress, SetupProgress, human_bytes, per_second};
use crate::terminal::Terminal;

/// A running reporter; stop it with [`Reporter::finish`].
#[derive(Debug)]
pub struct Reporter {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Reporter {
    /// Starts reporting `progress`: bars when stderr is a terminal and
    /// `bars` is allowed, else a log line every `interval`.
    pub fn start(progress: Arc<ProgressSource>, bars: bool, interval: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let use_bars = bars && std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let mut view = if use_bars { Some(BarView::new()) } else { None };
            let tick = if use_bars {
                Duration::from_millis(200)
            } else {
                interval
            };
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = stopped.changed() => break,
                }
                let p = progress.get();
                match view.as_mut() {
                    Some(view) => view.update(&p),
                    None => log_line(&p),
                }
            }
            if let Some(mut view) = view {
                view.update(&progress.get());
                view.finish();
            }
        });
        Reporter { stop, task }
    }

    /// Stops reporting and clears the bars.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Where the reporter reads counters from: the set-up's, until the
/// pipeline has its plans and sets its own.
#[derive(Debug, Default)]
pub struct ProgressSource {
    inner: std::sync::Mutex<Option<Arc<Progress>>>,
    /// The set-up's counters, shown while there is no pipeline.
    pub setup: Arc<SetupProgress>,
}

impl ProgressSource {
    /// Points the reporter at `progress`.
    pub fn set(&self, progress: Arc<Progress>) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Some(progress);
    }

    fn get(&self) -> Shown {
        match self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(progress) => Shown::Import(progress, Arc::clone(&self.setup)),
            None => Shown::Setup(Arc::clone(&self.setup)),
        }
    }
}

/// What the reporter shows at a tick.
enum Shown {
    Setup(Arc<SetupProgress>),
    /// The import, with the set-up that may still be creating tables.
    Import(Arc<Progress>, Arc<SetupProgress>),
}

/// `, preparing: …` while tables are still being created beside the import.
fn setup_suffix(setup: &SetupProgress) -> String {
    if setup.is_creating() {
        format!(", {}", setup.describe())
    } else {
        String::new()
    }
}

fn log_line(shown: &Shown) {
    let (p, setup) = match shown {
        Shown::Setup(setup) => {
            tracing::info!("[progress] {}", setup.describe());
            return;
        }
        Shown::Import(p, setup) => (p, setup),
    };
    let t = p.totals();
    let pct = if t.bytes_total == 0 {
        100.0
    } else {
        t.bytes_read as f64 * 100.0 / t.bytes_total as f64
    };
    tracing::info!(
        "[progress] {pct:.1}% {} / {}, {} rows, {}/s, chunks {}/{}{}",
        human_bytes(t.bytes_read),
        human_bytes(t.bytes_total),
        t.rows,
        human_bytes(per_second(t.bytes_read, p.elapsed())),
        t.chunks_done,
        t.chunks_total,
        setup_suffix(setup)
    );
}

struct BarView {
    multi: MultiProgress,
    overall: ProgressBar,
    tables: Vec<(String, ProgressBar)>,
}

impl BarView {
    fn new() -> Self {
        let multi = Terminal::stderr().bars().clone();
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{spinner} total [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        BarView {
            multi,
            overall,
            tables: Vec::new(),
        }
    }

    fn update(&mut self, shown: &Shown) {
        let (p, setup) = match shown {
            Shown::Setup(setup) => {
                self.overall.set_message(setup.describe());
                self.overall.tick();
                return;
            }
            Shown::Import(p, setup) => (p, setup),
        };
        let t = p.totals();
        self.overall.set_length(t.bytes_total);
        self.overall.set_position(t.bytes_read);
        self.overall.set_message(format!(
            "{} rows, chunks {}/{}{}",
            t.rows,
            t.chunks_done,
            t.chunks_total,
            setup_suffix(setup)
        ));
        for (name, table) in p.tables() {
            let phase = table.phase();
            let in_flight = !phase.is_empty() && phase != "done";
            let existing = self.tables.iter().position(|(n, _)| n == name);
            match (existing, in_flight) {
                (None, true) => {
                    let bar = self.multi.add(ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  {prefix:30} [{bar:20}] {bytes}/{total_bytes} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(name.clone());
                    self.tables.push((name.clone(), bar));
                }
                (Some(i), false) => {
                    let (_, bar) = self.tables.remove(i);
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                    continue;
                }
                _ => {}
            }
            if let Some((_, bar)) = self.tables.iter().find(|(n, _)| n == name) {
                bar.set_length(table.bytes_total.load(Ordering::Relaxed));
                bar.set_position(table.bytes_read.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} rows, {phase}",
                    table.rows.load(Ordering::Relaxed)
                ));
            }
        }
    }

    /// Clears the bars and takes them off the terminal, so later text is
    /// written without redrawing them.
    fn finish(self) {
        let bars = self.tables.into_iter().map(|(_, bar)| bar);
        for bar in bars.chain([self.overall]) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

/// The summary's reminder of what the data-source scan warned about (files
/// it skipped, such as links out of the directory): the warnings scrolled
/// by before the import started, and a log file holds them all; empty
/// without warnings.
pub fn scan_warnings_line(warnings: &[String]) -> String {
    match warnings {
        [] => String::new(),
        [only] => format!("1 data-source warning: {only}\n"),
        [first, rest @ ..] => format!(
            "{} data-source warnings, the first: {first} ({} more in the log)\n",
            rest.len() + 1,
            rest.len()
        ),
    }
}

/// The summary's count of object-store requests retried after transient
/// failures ([`dump_source::storage::read_retries`]); empty without any.
pub fn read_retries_line(retries: u64) -> String {
    match retries {
        0 => String::new(),
        n => format!(
            "{n} object-store request{} failed transiently and {} retried\n",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" }
        ),
    }
}

/// The final summary: one line per table and the totals.
pub fn summary(reports: &[TableReport], progress: Option<&Progress>) -> String {
    let mut out = String::new();
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "{:<width$}  {:>10}  {:>10}  {:>9}  {:>12}  result\n",
        "table", "rows", "bytes", "seconds", "throughput"
    ));
    for r in reports {
        let (bytes, elapsed) = progress
            .map(|p| {
                let t = p.table(&r.name);
                (t.bytes_read.load(Ordering::Relaxed), t.elapsed())
            })
            .unwrap_or_default();
        let secs = elapsed.as_secs_f64();
        let rate = if elapsed.is_zero() {
            "-".into()
        } else {
            format!("{}/s", human_bytes(per_second(bytes, elapsed)))
        };
        let result = match &r.error {
            None => format!("ok, checksum {}", r.checksum),
            Some(err) => format!("FAILED: {}", err.lines().next().unwrap_or_default()),
        };
        out.push_str(&format!(
            "{:<width$}  {:>10}  {:>10}  {:>9.2}  {:>12}  {result}\n",
            r.name,
            r.rows,
            human_bytes(bytes),
            secs,
            rate
        ));
    }
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    let rows: u64 = reports.iter().map(|r| r.rows).sum();
    let elapsed = progress.map(|p| p.elapsed().as_secs_f64()).unwrap_or(0.0);
    out.push_str(&format!(
        "{} tables, {} failed, {rows} rows in {elapsed:.2} s\n",
        reports.len(),
        failed
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::{read_retries_line, scan_warnings_line};

    #[test]
    fn retries_are_counted_in_the_summary() {
        assert_eq!(read_retries_line(0), "");
        assert_eq!(
            read_retries_line(1),
            "1 object-store request failed transiently and was retried\n"
        );
        assert_eq!(
            read_retries_line(7),
            "7 object-store requests failed transiently and were retried\n"
        );
    }

    #[test]
    fn scan_warnings_are_counted_in_the_summary() {
        assert_eq!(scan_warnings_line(&[]), "");
        let one = vec!["a.csv: broken symbolic link skipped".to_string()];
        assert_eq!(
            scan_warnings_line(&one),
            "1 data-source warning: a.csv: broken symbolic link skipped\n"
        );
        let three = vec!["x".to_string(), "y".into(), "z".into()];
        assert_eq!(
            scan_warnings_line(&three),
            "3 data-source warnings, the first: x (2 more in the log)\n"
        );
    }
}
