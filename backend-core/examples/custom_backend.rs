//! A minimal custom backend built on `backend-core` alone, driven through
//! `EngineManager` the way the importer's pipeline drives every backend.
//!
//! `PrintBackend` takes SQL tuples, keeps each engine's rows in memory while
//! it is open, and "imports" a closed engine by printing one `INSERT` per
//! engine to standard output. Run it with
//! `cargo run --example custom_backend` (inside the workspace:
//! `cargo build --workspace --all-targets` then run
//! `$CARGO_TARGET_DIR/debug/examples/custom_backend`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backend_core::model::{ColumnInfo, ColumnType, FieldType, TableInfo, TidbTableInfo};
use backend_core::{
    AlwaysFlushed, Backend, Capabilities, ChecksumKind, ChunkFlushStatus, ColumnPermutation, Datum,
    DuplicateModes, EncodedRow, EncodingBuilder, EncodingConfig, EngineConfig, EngineManager,
    EngineWriter, Error, LocalWriterConfig, RowEncoder, RowEncoding, RowOrigin, Rows, SqlMode,
    SqlRow,
};
use uuid::Uuid;

#[derive(Debug, Default)]
struct Engine {
    table: String,
    rows: Vec<SqlRow>,
    closed: bool,
}

/// Engines keyed by UUID; shared with writers.
#[derive(Debug, Default, Clone)]
struct PrintBackend {
    engines: Arc<Mutex<HashMap<Uuid, Engine>>>,
}

impl PrintBackend {
    fn with_engine<T>(
        &self,
        uuid: Uuid,
        f: impl FnOnce(&mut Engine) -> backend_core::Result<T>,
    ) -> backend_core::Result<T> {
        let mut engines = self
            .engines
            .lock()
            .map_err(|_| Error::internal("engine map poisoned"))?;
        let engine = engines
            .get_mut(&uuid)
            .ok_or_else(|| Error::not_found(format!("engine {uuid} is not open")))?;
        f(engine)
    }
}

#[async_trait]
impl Backend for PrintBackend {
    async fn close(&self) {}

    fn retry_import_delay(&self) -> Duration {
        Duration::from_millis(100)
    }

    fn should_post_process(&self) -> bool {
        false
    }

    fn capabilities(&self) -> Capabilities {
        // SQL tuples printed as they are imported; nothing survives the
        // process, duplicates are the reader's problem.
        Capabilities {
            encoding: RowEncoding::Sql,
            duplicate_modes: DuplicateModes::default(),
            duplicate_detection: false,
            checksum: ChecksumKind::Rows,
            deferred_indexes: false,
            persistent_engines: false,
            reset_engine: true,
            engine_states: true,
            local_engine_data: false,
            parallel_writers: false,
        }
    }

    fn encoding_builder(&self) -> Arc<dyn EncodingBuilder> {
        Arc::new(TupleEncoding)
    }

    async fn open_engine(&self, config: &EngineConfig, uuid: Uuid) -> backend_core::Result<()> {
        let table = config
            .table_info
            .as_ref()
            .map(|t| t.unique_name())
            .unwrap_or_default();
        let mut engines = self
            .engines
            .lock()
            .map_err(|_| Error::internal("engine map poisoned"))?;
        engines.entry(uuid).or_insert_with(|| Engine {
            table,
            ..Engine::default()
        });
        Ok(())
    }

    async fn close_engine(&self, _config: &EngineConfig, uuid: Uuid) -> backend_core::Result<()> {
        self.with_engine(uuid, |engine| {
            engine.closed = true;
            Ok(())
        })
    }

    async fn import_engine(&self, uuid: Uuid, _size: u64, _keys: u64) -> backend_core::Result<()> {
        self.with_engine(uuid, |engine| {
            if engine.rows.is_empty() {
                return Ok(());
            }
            let tuples: Vec<&str> = engine.rows.iter().map(|r| r.tuple.as_str()).collect();
            println!("INSERT INTO {} VALUES {};", engine.table, tuples.join(","));
            Ok(())
        })
    }

    async fn cleanup_engine(&self, uuid: Uuid) -> backend_core::Result<()> {
        let mut engines = self
            .engines
            .lock()
            .map_err(|_| Error::internal("engine map poisoned"))?;
        engines.remove(&uuid);
        Ok(())
    }

    async fn flush_engine(&self, _uuid: Uuid) -> backend_core::Result<()> {
        Ok(())
    }

    async fn flush_all_engines(&self) -> backend_core::Result<()> {
        Ok(())
    }

    async fn reset_engine(&self, uuid: Uuid) -> backend_core::Result<()> {
        self.with_engine(uuid, |engine| {
            engine.rows.clear();
            Ok(())
        })
    }

    async fn local_writer(
        &self,
        _config: &LocalWriterConfig,
        uuid: Uuid,
    ) -> backend_core::Result<Box<dyn EngineWriter>> {
        Ok(Box::new(PrintWriter {
            backend: self.clone(),
            uuid,
        }))
    }
}

#[derive(Debug)]
struct PrintWriter {
    backend: PrintBackend,
    uuid: Uuid,
}

#[async_trait]
impl EngineWriter for PrintWriter {
    async fn append_rows(&mut self, _columns: &[String], rows: Rows) -> backend_core::Result<()> {
        let Rows::Sql(rows) = rows else {
            return Err(Error::unsupported("PrintBackend takes SQL rows only"));
        };
        self.backend.with_engine(self.uuid, |engine| {
            if engine.closed {
                return Err(Error::invalid_state("engine is closed"));
            }
            engine.rows.extend(rows);
            Ok(())
        })
    }

    fn is_synced(&self) -> bool {
        true
    }

    async fn close(self: Box<Self>) -> backend_core::Result<Arc<dyn ChunkFlushStatus>> {
        Ok(Arc::new(AlwaysFlushed))
    }
}

/// Encodes values as SQL literals (integers and quoted text only, enough for
/// the example).
#[derive(Debug)]
struct TupleEncoding;

impl EncodingBuilder for TupleEncoding {
    fn new_encoder(&self, _config: &EncodingConfig) -> backend_core::Result<Box<dyn RowEncoder>> {
        Ok(Box::new(TupleEncoder))
    }

    fn make_empty_rows(&self) -> Rows {
        Rows::Sql(Vec::new())
    }
}

#[derive(Debug)]
struct TupleEncoder;

impl RowEncoder for TupleEncoder {
    fn encode(
        &mut self,
        row: &[Datum],
        _row_id: i64,
        permutation: &ColumnPermutation,
        origin: &RowOrigin,
    ) -> backend_core::Result<EncodedRow> {
        let literals: Vec<String> = permutation
            .iter()
            .map(|slot| match slot.and_then(|i| row.get(i)) {
                None | Some(Datum::Null) => "NULL".to_string(),
                Some(Datum::Int(v)) => v.to_string(),
                Some(Datum::Bytes(b)) => {
                    format!("'{}'", String::from_utf8_lossy(b).replace('\'', "''"))
                }
                Some(other) => format!("'{other:?}'"),
            })
            .collect();
        Ok(EncodedRow::Sql(SqlRow {
            tuple: format!("({})", literals.join(",")),
            origin: origin.clone(),
        }))
    }
}

fn demo_table() -> TidbTableInfo {
    let columns = vec![
        ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::BigInt)),
        ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar)),
    ];
    TidbTableInfo {
        id: 1,
        db: "demo".into(),
        name: "people".into(),
        core: TableInfo {
            id: 1,
            name: "people".into(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns,
            indices: Vec::new(),
            pk_is_handle: false,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: None,
        },
    }
}

#[tokio::main]
async fn main() -> backend_core::Result<()> {
    let backend: Arc<dyn Backend> = Arc::new(PrintBackend::default());
    let manager = EngineManager::new(Arc::clone(&backend));
    let table = Arc::new(demo_table());
    let config = EngineConfig {
        table_info: Some(Arc::clone(&table)),
        ..EngineConfig::default()
    };

    let engine = manager
        .open_engine(&config, &table.unique_name(), 0)
        .await?;
    let mut encoder = backend.encoding_builder().new_encoder(&EncodingConfig {
        table: Arc::clone(&table),
        sql_mode: SqlMode::default(),
        timestamp: 0,
    })?;
    let mut writer = engine.local_writer(&LocalWriterConfig::default()).await?;
    let mut batch = backend.encoding_builder().make_empty_rows();
    let (mut data_ck, mut index_ck) = Default::default();
    let mut index_rows = backend.encoding_builder().make_empty_rows();
    for (id, name) in [(1, "Ada"), (2, "O'Brien")] {
        let row = [Datum::Int(id), Datum::text(name)];
        let origin = RowOrigin {
            file: Arc::from("inline"),
            offset: 0,
        };
        encoder
            .encode(&row, id, &[Some(0), Some(1)], &origin)?
            .classify_and_append(&mut batch, &mut data_ck, &mut index_rows, &mut index_ck);
    }
    writer.append_rows(&[], batch).await?;
    let status = writer.close().await?;
    assert!(status.flushed());

    let closed = engine.close().await?;
    closed.import(96 << 20, 1_280_000).await?;
    closed.cleanup().await?;
    backend.close().await;
    Ok(())
}
