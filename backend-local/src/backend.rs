//! [`LocalBackend`]: the engines of this process and the import target.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{
    Backend, BackendMetrics, EncodingBuilder, EngineConfig, EngineFileSize, EngineWriter,
    KvChecksum, LocalWriterConfig, Result, model::TidbTableInfo,
};
use uuid::Uuid;

use crate::config::{LocalBackendConfig, OnDuplicate};
use crate::engine::{
    CompactionSlots, Engine, EngineSettings, EngineState, lock, remove_engine_dir,
};
use crate::error::{LocalError, LocalResult};
use crate::import::{ImportLimits, ImportReport, import_engine};
use crate::ingest::IngestTarget;
use crate::resolve::resolve_table;
use crate::target_store::TargetStore;
use crate::writer::LocalWriter;

/// The physical backend: engines sorted under `sorted-kv-dir`, imported into
/// an [`IngestTarget`] (by default the embedded [`TargetStore`]).
pub struct LocalBackend {
    config: LocalBackendConfig,
    encoding_builder: Arc<dyn EncodingBuilder>,
    target: Arc<dyn IngestTarget>,
    store: Option<Arc<TargetStore>>,
    engines: Mutex<HashMap<Uuid, Arc<Engine>>>,
    reports: Mutex<HashMap<Uuid, ImportReport>>,
    slots: Mutex<Option<Arc<CompactionSlots>>>,
    metrics: Arc<BackendMetrics>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("config", &self.config)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// What the backend supports: KV pairs sorted in engines on local disk
    /// that survive a restart, every duplicate mode with detection, and a
    /// KV checksum of the target store. Indexes are written with the rows.
    pub const CAPABILITIES: backend_core::Capabilities = backend_core::Capabilities {
        encoding: backend_core::RowEncoding::Kv,
        duplicate_modes: backend_core::DuplicateModes::ALL,
        duplicate_detection: true,
        checksum: backend_core::ChecksumKind::Kv,
        deferred_indexes: false,
        persistent_engines: true,
        reset_engine: true,
        engine_states: true,
        local_engine_data: true,
        parallel_writers: false,
    };

    /// Opens the target store at `config.target_dir` and creates
    /// `config.sorted_kv_dir`. `encoding_builder` is what
    /// [`Backend::encoding_builder`] hands the pipeline.
    ///
    /// Errors: invalid config (naming the key), the target store locked by
    /// another process (naming its path), directories that cannot be made.
    pub fn new(
        config: LocalBackendConfig,
        encoding_builder: Arc<dyn EncodingBuilder>,
    ) -> LocalResult<Self> {
        config.validate()?;
        let store = TargetStore::open(&config.target_dir)?;
        let mut backend = Self::with_target(config, encoding_builder, store.clone())?;
        backend.store = Some(store);
        Ok(backend)
    }

    /// [`LocalBackend::new`] for a store opened by the caller, with imports
    /// going through `target` — a wrapper of `store`, e.g. one that
    /// observes ingests in tests — while [`LocalBackend::target_store`]
    /// still hands out `store` for the catalog and read path.
    pub fn with_store(
        config: LocalBackendConfig,
        encoding_builder: Arc<dyn EncodingBuilder>,
        store: Arc<TargetStore>,
        target: Arc<dyn IngestTarget>,
    ) -> LocalResult<Self> {
        let mut backend = Self::with_target(config, encoding_builder, target)?;
        backend.store = Some(store);
        Ok(backend)
    }

    /// A backend importing into any [`IngestTarget`] (`config.target_dir`
    /// is not opened).
    pub fn with_target(
        config: LocalBackendConfig,
        encoding_builder: Arc<dyn EncodingBuilder>,
        target: Arc<dyn IngestTarget>,
    ) -> LocalResult<Self> {
        config.validate()?;
        std::fs::create_dir_all(&config.sorted_kv_dir)
            .map_err(|e| LocalError::io("creating sorted-kv-dir", &config.sorted_kv_dir, e))?;
        Ok(LocalBackend {
            config,
            encoding_builder,
            target,
            store: None,
            engines: Mutex::new(HashMap::new()),
            reports: Mutex::new(HashMap::new()),
            slots: Mutex::new(None),
            metrics: Arc::new(BackendMetrics::default()),
        })
    }

    /// The embedded target store, when this backend opened one (share it
    /// with the catalog and read path: RocksDB allows one handle).
    pub fn target_store(&self) -> Option<&Arc<TargetStore>> {
        self.store.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &LocalBackendConfig {
        &self.config
    }

    /// What the last successful (or duplicate-detecting) import of an
    /// engine did: its regions, skipped and duplicate counts.
    pub fn last_import_report(&self, engine_uuid: Uuid) -> Option<ImportReport> {
        lock(&self.reports).get(&engine_uuid).cloned()
    }

    /// The directory of engine `uuid`.
    pub fn engine_dir(&self, engine_uuid: Uuid) -> PathBuf {
        self.config.sorted_kv_dir.join(engine_uuid.to_string())
    }

    fn engine(&self, engine_uuid: Uuid) -> Option<Arc<Engine>> {
        lock(&self.engines).get(&engine_uuid).cloned()
    }

    fn settings(&self, config: &EngineConfig) -> EngineSettings {
        let slots = lock(&self.slots)
            .get_or_insert_with(|| CompactionSlots::new(config.local.compact_concurrency))
            .clone();
        EngineSettings {
            config: config.local.clone(),
            small_size: self.config.small_engine_size,
            slots,
        }
    }

    fn not_found(&self, engine_uuid: Uuid, reason: &'static str) -> LocalError {
        LocalError::EngineNotFound {
            uuid: engine_uuid,
            path: self.engine_dir(engine_uuid),
            reason,
        }
    }

    async fn blocking<T: Send + 'static>(
        engine_uuid: Uuid,
        f: impl FnOnce() -> LocalResult<T> + Send + 'static,
    ) -> LocalResult<T> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| LocalError::Task {
                uuid: engine_uuid,
                reason: e.to_string(),
            })?
    }

    async fn import(
        &self,
        engine_uuid: Uuid,
        region_split_size: u64,
        region_split_keys: u64,
    ) -> LocalResult<()> {
        if region_split_size == 0 || region_split_keys == 0 {
            return Err(LocalError::Config {
                key: "region-split-size/region-split-keys",
                reason: "must be positive".into(),
            });
        }
        let engine = self.engine(engine_uuid).ok_or_else(|| {
            self.not_found(
                engine_uuid,
                "not opened or closed by this process (close it first to reopen what an earlier run left)",
            )
        })?;
        if engine.state() != EngineState::Closed {
            // The disk-quota path imports an open engine: its writers are
            // idle (the caller holds them back) until it resets the engine.
            let engine = Arc::clone(&engine);
            Self::blocking(engine_uuid, move || engine.prepare_open_import()).await?;
        }
        if engine.importing.swap(true, Ordering::SeqCst) {
            return Err(LocalError::EngineState {
                uuid: engine_uuid,
                state: "importing",
                op: "import concurrently",
            });
        }
        let limits = ImportLimits {
            region_split_size,
            region_split_keys,
            range_concurrency: self.config.range_concurrency,
            on_duplicate: self.config.on_duplicate,
        };
        let result = import_engine(Arc::clone(&engine), Arc::clone(&self.target), limits).await;
        engine.importing.store(false, Ordering::SeqCst);
        let report = result?;
        // Counted per engine once its regions are in: the import reports
        // them together.
        for range in &report.ranges {
            BackendMetrics::add(&self.metrics.kv_pairs_ingested, range.keys);
            BackendMetrics::add(&self.metrics.sst_bytes_ingested, range.bytes);
        }
        tracing::info!(
            engine = %engine_uuid,
            regions = report.ranges.len(),
            keys = report.engine_keys,
            already_present = report.already_present,
            duplicates = report.duplicates,
            "engine imported"
        );
        let duplicates = report.duplicates;
        let first = report.first_duplicate.clone();
        lock(&self.reports).insert(engine_uuid, report);
        if duplicates > 0 {
            if self.config.on_duplicate == OnDuplicate::Error {
                return Err(LocalError::Duplicates {
                    uuid: engine_uuid,
                    count: duplicates,
                    first: first.unwrap_or_default(),
                });
            }
            tracing::warn!(engine = %engine_uuid, duplicates, first = ?first, "duplicates resolved and recorded");
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn capabilities(&self) -> backend_core::Capabilities {
        Self::CAPABILITIES
    }

    async fn close(&self) {
        let engines: Vec<Arc<Engine>> = lock(&self.engines).drain().map(|(_, e)| e).collect();
        for engine in engines {
            if let Err(e) = engine.flush() {
                tracing::warn!(engine = %engine.uuid, error = %e, "flushing engine at backend close failed");
            }
        }
    }

    fn retry_import_delay(&self) -> Duration {
        self.config.retry_import_delay
    }

    fn should_post_process(&self) -> bool {
        true
    }

    fn encoding_builder(&self) -> Arc<dyn EncodingBuilder> {
        Arc::clone(&self.encoding_builder)
    }

    async fn open_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()> {
        if let Some(engine) = self.engine(engine_uuid) {
            engine.reopen_for_writing();
            return Ok(());
        }
        let dir = self.engine_dir(engine_uuid);
        let keep = config.keep_sort_dir;
        let settings = self.settings(config);
        let engine = Self::blocking(engine_uuid, move || {
            Engine::open(engine_uuid, dir, settings, keep)
        })
        .await?;
        lock(&self.engines)
            .entry(engine_uuid)
            .or_insert_with(|| Arc::new(engine));
        Ok(())
    }

    async fn close_engine(&self, config: &EngineConfig, engine_uuid: Uuid) -> Result<()> {
        let engine = match self.engine(engine_uuid) {
            Some(engine) => engine,
            None => {
                let dir = self.engine_dir(engine_uuid);
                let settings = self.settings(config);
                let engine = Self::blocking(engine_uuid, move || {
                    Engine::reopen_closed(engine_uuid, dir, settings)
                })
                .await?;
                let engine = Arc::new(engine);
                lock(&self.engines).insert(engine_uuid, Arc::clone(&engine));
                return Ok(());
            }
        };
        Self::blocking(engine_uuid, move || engine.close()).await?;
        Ok(())
    }

    async fn import_engine(
        &self,
        engine_uuid: Uuid,
        region_split_size: u64,
        region_split_keys: u64,
    ) -> Result<()> {
        Ok(self
            .import(engine_uuid, region_split_size, region_split_keys)
            .await?)
    }

    async fn cleanup_engine(&self, engine_uuid: Uuid) -> Result<()> {
        let engine = lock(&self.engines).remove(&engine_uuid);
        let dir = self.engine_dir(engine_uuid);
        Self::blocking(engine_uuid, move || match engine {
            Some(engine) => engine.destroy(),
            None => remove_engine_dir(&dir),
        })
        .await?;
        lock(&self.reports).remove(&engine_uuid);
        Ok(())
    }

    async fn flush_engine(&self, engine_uuid: Uuid) -> Result<()> {
        let engine = self
            .engine(engine_uuid)
            .ok_or_else(|| self.not_found(engine_uuid, "not open"))?;
        Self::blocking(engine_uuid, move || engine.flush()).await?;
        Ok(())
    }

    fn metrics(&self) -> Option<Arc<BackendMetrics>> {
        Some(Arc::clone(&self.metrics))
    }

    async fn flush_all_engines(&self) -> Result<()> {
        let engines: Vec<Arc<Engine>> = lock(&self.engines).values().cloned().collect();
        for engine in engines {
            let uuid = engine.uuid;
            Self::blocking(uuid, move || engine.flush()).await?;
        }
        Ok(())
    }

    async fn reset_engine(&self, engine_uuid: Uuid) -> Result<()> {
        let engine = self
            .engine(engine_uuid)
            .ok_or_else(|| self.not_found(engine_uuid, "not open"))?;
        Self::blocking(engine_uuid, move || engine.reset()).await?;
        lock(&self.reports).remove(&engine_uuid);
        Ok(())
    }

    async fn local_writer(
        &self,
        config: &LocalWriterConfig,
        engine_uuid: Uuid,
    ) -> Result<Box<dyn EngineWriter>> {
        let engine = self
            .engine(engine_uuid)
            .ok_or_else(|| self.not_found(engine_uuid, "not open"))?;
        engine.check_open("create a writer")?;
        Ok(Box::new(LocalWriter::new(
            engine,
            config.is_kv_sorted,
            self.config.local_writer_mem_cache_size,
        )))
    }

    async fn resolve_duplicates(&self, table: &TidbTableInfo) -> Result<KvChecksum> {
        let Some(store) = self.store.clone() else {
            // A custom target without the embedded store: nothing to read
            // duplicates from.
            return Ok(KvChecksum::new());
        };
        let table = table.clone();
        let resolution = tokio::task::spawn_blocking(move || resolve_table(&store, &table))
            .await
            .map_err(|e| {
                backend_core::Error::internal(format!("duplicate resolution task: {e}"))
            })??;
        Ok(resolution.checksum)
    }

    fn engine_file_sizes(&self) -> Vec<EngineFileSize> {
        let engines: Vec<Arc<Engine>> = lock(&self.engines).values().cloned().collect();
        engines
            .iter()
            .map(|engine| EngineFileSize {
                uuid: engine.uuid,
                disk_size: engine.disk_size(),
                mem_size: engine.mem_size.load(Ordering::Relaxed),
                is_importing: engine.importing.load(Ordering::SeqCst),
            })
            .collect()
    }
}
