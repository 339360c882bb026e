//! The engine lifecycle as types: [`EngineManager`] opens an
//! [`OpenedEngine`], whose [`OpenedEngine::close`] consumes it and yields a
//! [`ClosedEngine`] that can only be imported and cleaned up.
//!
//! Retrying imports lives here, once, rather than in every backend.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use crate::backend::{Backend, EngineConfig, EngineWriter, LocalWriterConfig};
use crate::engine_uuid::make_uuid;
use crate::error::{ErrorKind, Result};

/// How many times [`ClosedEngine::import`] tries before giving up.
pub const IMPORT_MAX_ATTEMPTS: u32 = 3;

/// A stateless wrapper of a backend that opens and closes engines by table
/// name and engine id. Cheap to clone and create on demand.
#[derive(Clone)]
pub struct EngineManager {
    backend: Arc<dyn Backend>,
}

impl fmt::Debug for EngineManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineManager")
            .field("backend", &self.backend)
            .finish()
    }
}

impl EngineManager {
    /// Wraps `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        EngineManager { backend }
    }

    /// The wrapped backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Opens engine `engine_id` of `table_name` (the unique name
    /// `` `db`.`tbl` ``). The engine's UUID is [`make_uuid`] of both, so the
    /// same table and id always reach the same engine.
    pub async fn open_engine(
        &self,
        config: &EngineConfig,
        table_name: &str,
        engine_id: i32,
    ) -> Result<OpenedEngine> {
        let (tag, uuid) = make_uuid(table_name, engine_id);
        let span = tracing::info_span!("engine", %tag, %uuid);
        self.backend
            .open_engine(config, uuid)
            .await
            .map_err(|e| e.context(format!("opening engine {tag}")))?;
        tracing::debug!(parent: &span, "engine opened");
        Ok(OpenedEngine {
            inner: EngineHandle {
                backend: Arc::clone(&self.backend),
                tag,
                uuid,
                id: engine_id,
                span,
            },
            config: config.clone(),
        })
    }

    /// Imports what an open engine holds so far, then empties it: how a
    /// disk-quota violation frees `sorted-kv-dir` (Lightning's
    /// `UnsafeImportAndReset`).
    ///
    /// "Unsafe" because pairs written while this runs may be imported or
    /// dropped: the caller must hold every writer of the engine back, after
    /// a [`Backend::flush_all_engines`], until it returns. Backends whose
    /// engines cannot be imported while open return an error.
    pub async fn unsafe_import_and_reset(
        &self,
        engine_uuid: Uuid,
        region_split_size: u64,
        region_split_keys: u64,
    ) -> Result<()> {
        self.backend
            .import_engine(engine_uuid, region_split_size, region_split_keys)
            .await
            .map_err(|e| e.context(format!("importing engine {engine_uuid} early (disk quota)")))?;
        self.backend
            .reset_engine(engine_uuid)
            .await
            .map_err(|e| e.context(format!("resetting engine {engine_uuid} (disk quota)")))
    }

    /// Closes engine `engine_id` of `table_name` without opening it first.
    ///
    /// "Unsafe" because it skips the open → write → close sequence: use it
    /// only when something else (a checkpoint) proves the engine was opened
    /// and written by an earlier run.
    pub async fn unsafe_close_engine(
        &self,
        config: &EngineConfig,
        table_name: &str,
        engine_id: i32,
    ) -> Result<ClosedEngine> {
        let (tag, uuid) = make_uuid(table_name, engine_id);
        self.unsafe_close_engine_with_uuid(config, &tag, uuid, engine_id)
            .await
    }

    /// [`EngineManager::unsafe_close_engine`] for an engine known by tag and
    /// UUID.
    pub async fn unsafe_close_engine_with_uuid(
        &self,
        config: &EngineConfig,
        tag: &str,
        engine_uuid: Uuid,
        engine_id: i32,
    ) -> Result<ClosedEngine> {
        let span = tracing::info_span!("engine", %tag, uuid = %engine_uuid);
        self.backend
            .close_engine(config, engine_uuid)
            .await
            .map_err(|e| e.context(format!("closing engine {tag}")))?;
        Ok(ClosedEngine {
            inner: EngineHandle {
                backend: Arc::clone(&self.backend),
                tag: tag.to_string(),
                uuid: engine_uuid,
                id: engine_id,
                span,
            },
        })
    }
}

/// What opened and closed engines share: the backend, identity and span.
#[derive(Clone)]
struct EngineHandle {
    backend: Arc<dyn Backend>,
    tag: String,
    uuid: Uuid,
    id: i32,
    span: tracing::Span,
}

impl fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("tag", &self.tag)
            .field("uuid", &self.uuid)
            .field("id", &self.id)
            .finish()
    }
}

/// An engine open for writing. Share it by reference (or `Arc`) among
/// workers; each worker takes its own writer.
#[derive(Debug)]
pub struct OpenedEngine {
    inner: EngineHandle,
    config: EngineConfig,
}

impl OpenedEngine {
    /// A writer into this engine.
    pub async fn local_writer(&self, config: &LocalWriterConfig) -> Result<Box<dyn EngineWriter>> {
        self.inner
            .backend
            .local_writer(config, self.inner.uuid)
            .await
            .map_err(|e| e.context(format!("engine {}", self.inner.tag)))
    }

    /// Makes everything written so far durable (local backend; a no-op for
    /// others).
    pub async fn flush(&self) -> Result<()> {
        self.inner
            .backend
            .flush_engine(self.inner.uuid)
            .await
            .map_err(|e| e.context(format!("flushing engine {}", self.inner.tag)))
    }

    /// Closes the engine for writing. Writers still open on it fail from now
    /// on; the returned engine can be imported.
    pub async fn close(self) -> Result<ClosedEngine> {
        self.inner
            .backend
            .close_engine(&self.config, self.inner.uuid)
            .await
            .map_err(|e| e.context(format!("closing engine {}", self.inner.tag)))?;
        tracing::debug!(parent: &self.inner.span, "engine closed");
        Ok(ClosedEngine { inner: self.inner })
    }

    /// The engine's UUID.
    pub fn engine_uuid(&self) -> Uuid {
        self.inner.uuid
    }

    /// The engine id (0.. for data engines, −1 for the index engine).
    pub fn id(&self) -> i32 {
        self.inner.id
    }

    /// The engine's tag `` `db`.`tbl`:ID ``.
    pub fn tag(&self) -> &str {
        &self.inner.tag
    }
}

/// A closed engine: it can be imported (repeatedly) and cleaned up.
#[derive(Debug, Clone)]
pub struct ClosedEngine {
    inner: EngineHandle,
}

impl ClosedEngine {
    /// Imports the engine's data into the target, trying up to
    /// [`IMPORT_MAX_ATTEMPTS`] times and sleeping
    /// [`Backend::retry_import_delay`] after each retryable failure.
    /// Non-retryable errors (including duplicate detection) return at once.
    pub async fn import(&self, region_split_size: u64, region_split_keys: u64) -> Result<()> {
        let backend = &self.inner.backend;
        let mut attempt = 1;
        loop {
            let result = backend
                .import_engine(self.inner.uuid, region_split_size, region_split_keys)
                .await;
            match result {
                Ok(()) => {
                    tracing::info!(parent: &self.inner.span, attempt, "engine imported");
                    return Ok(());
                }
                Err(err) if err.is_retryable() && attempt < IMPORT_MAX_ATTEMPTS => {
                    let delay = backend.retry_import_delay();
                    tracing::warn!(
                        parent: &self.inner.span,
                        attempt,
                        ?delay,
                        error = %err,
                        "import failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(err) => {
                    let context = if err.kind() == ErrorKind::DuplicateDetected {
                        format!("importing engine {}", self.inner.tag)
                    } else {
                        format!("importing engine {} (attempt {attempt})", self.inner.tag)
                    };
                    return Err(err.context(context));
                }
            }
        }
    }

    /// Deletes the engine's intermediate data.
    pub async fn cleanup(self) -> Result<()> {
        self.inner
            .backend
            .cleanup_engine(self.inner.uuid)
            .await
            .map_err(|e| e.context(format!("cleaning up engine {}", self.inner.tag)))?;
        tracing::debug!(parent: &self.inner.span, "engine cleaned up");
        Ok(())
    }

    /// The span every log line about this engine belongs to (the seed's
    /// `Logger()`).
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// The engine's UUID.
    pub fn engine_uuid(&self) -> Uuid {
        self.inner.uuid
    }

    /// The engine id.
    pub fn id(&self) -> i32 {
        self.inner.id
    }

    /// The engine's tag `` `db`.`tbl`:ID ``.
    pub fn tag(&self) -> &str {
        &self.inner.tag
    }
}
