//! The status server: `/metrics` (Prometheus text), `/progress` (JSON) and
//! `/` (a live page) over HTTP on `[lightning] status-addr`.
//!
//! Design: the pipeline already keeps its counters in atomics
//! ([`crate::import::progress`], [`backend_core::BackendMetrics`], the
//! checkpoint's save count); the server only reads them when a client
//! asks, so it adds nothing to the import's hot path. [`TaskStatus`] is
//! the one thing the run updates for it: counters attached, run finished.
//! The server runs on the import's tokio runtime, one task per connection
//! (see [`server`] for the limits that keep a bad client harmless).
//!
//! When the run ends the importer exits, taking the server with it; if a
//! page was polling in the last seconds, [`StatusServer::stop`] waits
//! (briefly) for it to fetch the final summary first.

pub mod api;
pub mod memory;
pub mod metrics;
pub mod page;
mod server;
pub mod task;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

pub use task::{TaskState, TaskStatus};

/// A page polled within this time counts as watched at the end of the run.
const WATCHED: Duration = Duration::from_secs(5);
/// How long a watched run's server stays up for the final poll.
const LINGER: Duration = Duration::from_secs(3);

/// A running status server; stop it with [`StatusServer::stop`].
#[derive(Debug)]
pub struct StatusServer {
    task: Arc<TaskStatus>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl StatusServer {
    /// Binds `addr` (`HOST:PORT`, or `:PORT` for every interface) and
    /// starts serving a fresh [`TaskStatus`].
    ///
    /// Errors: the address cannot be bound (in use, not local, no
    /// permission), naming it.
    pub async fn start(addr: &str) -> anyhow::Result<Self> {
        let bind = if addr.starts_with(':') {
            format!("0.0.0.0{addr}")
        } else {
            addr.to_string()
        };
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .with_context(|| {
                format!("binding the status server to {addr} ([lightning] status-addr)")
            })?;
        let addr = listener
            .local_addr()
            .with_context(|| format!("the status server's address ({addr})"))?;
        let task = Arc::new(TaskStatus::default());
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(server::serve(listener, Arc::clone(&task), stopped));
        tracing::info!("status server listening on http://{addr}/");
        Ok(StatusServer {
            task,
            addr,
            stop,
            handle,
        })
    }

    /// The state the server shows; the run updates it.
    pub fn task(&self) -> &Arc<TaskStatus> {
        &self.task
    }

    /// The address it listens on (with the real port when bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving. If someone was watching, first gives them up to
    /// [`LINGER`] to fetch the final state.
    pub async fn stop(self) {
        if self.task.watched_within(WATCHED) {
            let deadline = tokio::time::Instant::now() + LINGER;
            while !self.task.seen_outcome() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}
