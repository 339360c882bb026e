//! A test-only fault hook: abort the process at chosen points, so crash
//! tests can prove that a rerun resumes from the checkpoint with nothing
//! lost and nothing duplicated.
//!
//! **Off by default, not for production use.** It is driven by the
//! environment variable `IMPORTER_FAILPOINTS`, read once: a comma-separated
//! list of `name` or `name=N` entries. A named point aborts the N-th time it
//! is reached (N defaults to 1); the two counters abort once their total
//! reaches N:
//!
//! * `after-rows=N` — rows delivered to the backend (checked after each
//!   batch is written and before its progress is saved);
//! * `after-chunks=N` — chunks finished and recorded;
//! * `interrupt-after-rows=N` — rows delivered, like `after-rows`, but the
//!   process sends itself SIGINT instead of aborting: the graceful stop a
//!   user's Ctrl-C makes, which saves every chunk's durable progress (tests
//!   use it to get a checkpoint with chunks part-done).
//!
//! Named points (see [`POINTS`]): `after-engine-write-before-save`,
//! `before-checkpoint-save`, `after-checkpoint-save`, `after-engine-close`,
//! `before-engine-import`, `mid-import` (between region ingests of the
//! local backend), `after-engine-import`, `before-post-process`,
//! `mid-checksum`, `before-analyze`, and for `add-index-by-sql`
//! `mid-defer-index` (indexes recorded, not yet dropped) and
//! `before-add-index`.
//!
//! "Abort" is [`std::process::abort`]: no destructors, no flushing, no
//! cleanup — the same as `kill -9` at that instant. When the variable is
//! unset every check is one relaxed atomic load.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms failpoints.
pub const ENV_VAR: &str = "IMPORTER_FAILPOINTS";

/// Every named point the program checks.
pub const POINTS: &[&str] = &[
    "after-engine-write-before-save",
    "before-checkpoint-save",
    "after-checkpoint-save",
    "after-engine-close",
    "before-engine-import",
    "mid-import",
    "after-engine-import",
    "before-post-process",
    "mid-checksum",
    "before-analyze",
    "mid-defer-index",
    "before-add-index",
];

const ROWS: &str = "after-rows";
const CHUNKS: &str = "after-chunks";
const INTERRUPT_ROWS: &str = "interrupt-after-rows";

/// One armed point: fires when its counter reaches `at`.
#[derive(Debug)]
struct Armed {
    at: u64,
    count: AtomicU64,
}

/// The parsed variable; `None` when unset or empty (the common case).
fn armed() -> Option<&'static HashMap<String, Armed>> {
    static ARMED: OnceLock<Option<HashMap<String, Armed>>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(ENV_VAR).ok()?;
            match parse(&spec) {
                Ok(points) if points.is_empty() => None,
                Ok(points) => {
                    eprintln!("{ENV_VAR}={spec}: test failpoints armed");
                    Some(
                        points
                            .into_iter()
                            .map(|(name, at)| {
                                (
                                    name,
                                    Armed {
                                        at,
                                        count: AtomicU64::new(0),
                                    },
                                )
                            })
                            .collect(),
                    )
                }
                Err(err) => {
                    // A typo must not silently disarm a crash test.
                    eprintln!("{ENV_VAR}={spec}: {err}");
                    std::process::exit(2);
                }
            }
        })
        .as_ref()
}

/// Parses `name[=N],…`.
pub fn parse(spec: &str) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, at) = match entry.split_once('=') {
            Some((name, n)) => {
                let n: u64 = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{entry}`: expected name=N with N a positive integer"))?;
                (name.trim(), n)
            }
            None => (entry, 1),
        };
        if at == 0 {
            return Err(format!("`{entry}`: N must be at least 1"));
        }
        if ![ROWS, CHUNKS, INTERRUPT_ROWS].contains(&name) && !POINTS.contains(&name) {
            return Err(format!(
                "unknown failpoint `{name}` (known: {ROWS}, {CHUNKS}, {INTERRUPT_ROWS}, {})",
                POINTS.join(", ")
            ));
        }
        out.push((name.to_string(), at));
    }
    Ok(out)
}

/// Whether any failpoint is armed (cheap).
pub fn any_armed() -> bool {
    armed().is_some()
}

/// Whether point `name` is armed.
pub fn is_armed(name: &str) -> bool {
    armed().is_some_and(|a| a.contains_key(name))
}

fn bump(name: &str, by: u64) {
    let Some(point) = armed().and_then(|a| a.get(name)) else {
        return;
    };
    let reached = point.count.fetch_add(by, Ordering::SeqCst) + by;
    if name == INTERRUPT_ROWS {
        // Once, when the count first reaches N.
        if reached >= point.at && reached - by < point.at {
            eprintln!(
                "failpoint {name} reached ({reached} >= {}): SIGINT",
                point.at
            );
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::INT,
            );
        }
        return;
    }
    if reached >= point.at {
        eprintln!(
            "failpoint {name} reached ({reached} >= {}): aborting",
            point.at
        );
        std::process::abort();
    }
}

/// Reaches the named point: aborts the process if it is armed and this is
/// its N-th hit.
pub fn hit(name: &'static str) {
    if armed().is_some() {
        bump(name, 1);
    }
}

/// Counts delivered rows for `after-rows`.
pub fn rows(n: u64) {
    if armed().is_some() {
        bump(ROWS, n);
        bump(INTERRUPT_ROWS, n);
    }
}

/// Counts a finished chunk for `after-chunks`.
pub fn chunk_done() {
    if armed().is_some() {
        bump(CHUNKS, 1);
    }
}

/// The local store as an ingest target that reaches `mid-import` before
/// each region's SSTs are ingested, so a crash falls between region ingests
/// of one engine import. Used only when `mid-import` is armed.
#[derive(Debug)]
pub struct IngestFailpoint {
    /// The real target.
    pub inner: std::sync::Arc<backend_local::TargetStore>,
}

impl backend_local::IngestTarget for IngestFailpoint {
    fn location(&self) -> &std::path::Path {
        self.inner.location()
    }

    fn ingest_ssts(&self, files: &[std::path::PathBuf]) -> backend_local::LocalResult<()> {
        hit("mid-import");
        self.inner.ingest_ssts(files)
    }

    fn cursor(
        &self,
        lower: &[u8],
        upper: Option<&[u8]>,
    ) -> Box<dyn backend_local::TargetCursor + '_> {
        self.inner.cursor(lower, upper)
    }

    fn record_duplicates(
        &self,
        records: &[backend_local::DuplicateRecord],
    ) -> backend_local::LocalResult<()> {
        self.inner.record_duplicates(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_counts() {
        assert_eq!(
            parse("after-rows=5000, mid-import ,before-checkpoint-save=3"),
            Ok(vec![
                ("after-rows".into(), 5000),
                ("mid-import".into(), 1),
                ("before-checkpoint-save".into(), 3)
            ])
        );
        assert_eq!(parse(""), Ok(vec![]));
        assert!(parse("after-rows=x").is_err());
        assert!(parse("after-rows=0").is_err());
        assert!(parse("no-such-point").is_err_and(|e| e.contains("mid-import")));
    }
}
