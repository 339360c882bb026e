//! One behaviour suite for every backend.
//!
//! A [`BackendHarness`] creates, per test, an [`Instance`]: a backend, the
//! table [`TABLE_SQL`] created on its target in a database of the test's
//! own, a probe that reads the table back, and [`Instance::restart`], which
//! drops the backend without closing anything (as a killed process would)
//! and opens a new one over the same directories or server. The
//! [`scenarios`] are generic async functions over a harness; each declares
//! the backend [`Capabilities`] it needs (as the backend declares them) and,
//! when the backend lacks one, prints
//! `skipped: …` with the reason and returns.
//!
//! Rows are encoded with each backend's own
//! [`Backend::encoding_builder`] from [`Datum`]s, so the suite also checks
//! that a backend's encoder and writer agree with its target.
//!
//! A third-party backend implements [`BackendHarness`] and runs every
//! scenario with [`behaviour_suite!`](crate::behaviour_suite).

mod local;
mod memory;
pub mod scenarios;
mod tidb;

use std::fmt::Debug;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use backend_core::model::{TableInfo, TidbTableInfo};
use backend_core::{
    Backend, Capabilities, ChunkFlushStatus, Datum, EncodedRows, EncodingConfig, EngineConfig,
    LocalWriterConfig, RowOrigin, Rows, SqlMode, TargetInfoGetter,
};
use uuid::Uuid;

pub use local::LocalHarness;
pub use memory::MemoryHarness;
pub use tidb::TidbHarness;

/// The suite's table, created on every target.
pub const TABLE_SQL: &str = "CREATE TABLE `t` (\n  `id` BIGINT NOT NULL,\n  `name` VARCHAR(64) NOT NULL,\n  `score` INT NULL,\n  PRIMARY KEY (`id`),\n  KEY `idx_score` (`score`)\n)";

/// The suite table's name.
pub const TABLE_NAME: &str = "t";

/// Region limits the scenarios import with: small, so even the suite's few
/// rows are cut into several ranges on physical backends.
pub const REGION_SPLIT_SIZE: u64 = 16 << 10;
/// See [`REGION_SPLIT_SIZE`].
pub const REGION_SPLIT_KEYS: u64 = 200;

/// What a backend does with a key written twice with different values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateMode {
    /// Keep the first value and report `DuplicateDetected`.
    Error,
    /// Keep the last value written.
    Replace,
    /// Keep the first value silently.
    Ignore,
}

/// One table row in the suite's table: `(id, name, score)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRow {
    /// Primary key (also the row id the encoder gets).
    pub id: i64,
    /// `name`.
    pub name: String,
    /// `score` (nullable).
    pub score: Option<i32>,
}

impl TestRow {
    /// A row.
    pub fn new(id: i64, name: impl Into<String>, score: Option<i32>) -> Self {
        TestRow {
            id,
            name: name.into(),
            score,
        }
    }

    /// The row as the probe reads it back.
    pub fn text(&self) -> Row {
        vec![
            Some(self.id.to_string()),
            Some(self.name.clone()),
            self.score.map(|s| s.to_string()),
        ]
    }

    fn datums(&self) -> Vec<Datum> {
        vec![
            Datum::Int(self.id),
            Datum::text(self.name.clone()),
            self.score.map_or(Datum::Null, |s| Datum::Int(i64::from(s))),
        ]
    }
}

/// A row read back: each column's text, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// `count` rows with ids `first..first+count`, names `{tag}-{id}` and some
/// NULL scores.
pub fn make_rows(first: i64, count: i64, tag: &str) -> Vec<TestRow> {
    (first..first + count)
        .map(|id| {
            TestRow::new(
                id,
                format!("{tag}-{id}"),
                (id % 7 != 0).then(|| i32::try_from(id % 1000).unwrap_or(0)),
            )
        })
        .collect()
}

/// The rows as the probe must read them: by id, last write of an id wins.
pub fn expected(rows: &[TestRow]) -> Vec<Row> {
    let mut by_id = std::collections::BTreeMap::new();
    for row in rows {
        by_id.insert(row.id, row.text());
    }
    by_id.into_values().collect()
}

/// Makes backends for tests.
#[async_trait]
pub trait BackendHarness: Send + Sync + Debug {
    /// A short name (`local`, `tidb`, `memory`).
    fn name(&self) -> &str;

    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// A fresh backend with [`TABLE_SQL`] created on its target, in a
    /// database (or directory) of `test`'s own, resolving duplicates by
    /// `mode`. `None` when the backend's server is not configured outside CI
    /// (the harness has printed why).
    async fn fresh(
        &self,
        test: &str,
        mode: DuplicateMode,
    ) -> anyhow::Result<Option<Box<dyn Instance>>>;
}

/// One test's backend, table and probe.
#[async_trait]
pub trait Instance: Send + Sync + Debug {
    /// The backend under test.
    fn backend(&self) -> &Arc<dyn Backend>;

    /// The suite's table as created on the target (with its id).
    fn table(&self) -> &Arc<TidbTableInfo>;

    /// Every row of the table on the target, ordered by `id`.
    async fn rows(&self) -> anyhow::Result<Vec<Row>>;

    /// The target's info getter, if the backend has one.
    fn target_info(&self) -> Option<Arc<dyn TargetInfoGetter>>;

    /// Whether anything of the engine is still stored locally; `None` for
    /// backends that keep no engine data.
    fn engine_stored(&self, engine: Uuid) -> Option<bool>;

    /// Drops the backend without closing engines (a `kill -9` of the
    /// process, as far as unflushed data goes) and opens a new one over the
    /// same directories or server. Callers must have dropped every clone of
    /// [`Instance::backend`] they made.
    async fn restart(self: Box<Self>) -> anyhow::Result<Box<dyn Instance>>;
}

/// Parses [`TABLE_SQL`] into a table model (id 0).
pub fn table_model() -> anyhow::Result<TableInfo> {
    dump_source::schema::parse_create_table(TABLE_SQL, "behaviour")
        .context("parsing the suite's CREATE TABLE")
}

/// Engine config for the suite's table.
pub fn engine_config(instance: &dyn Instance, keep_sort_dir: bool) -> EngineConfig {
    EngineConfig {
        table_info: Some(Arc::clone(instance.table())),
        keep_sort_dir,
        ..EngineConfig::default()
    }
}

/// The engine uuid of the suite's table and `engine_id`.
pub fn engine_uuid(instance: &dyn Instance, engine_id: i32) -> Uuid {
    backend_core::make_uuid(&instance.table().unique_name(), engine_id).1
}

/// Encodes `rows` with the backend's own encoder: record and index pairs
/// (or SQL tuples) in one batch, plus the column names for SQL writers.
pub fn encode(instance: &dyn Instance, rows: &[TestRow]) -> anyhow::Result<(Vec<String>, Rows)> {
    let table = instance.table();
    let builder = instance.backend().encoding_builder();
    let mut encoder = builder.new_encoder(&EncodingConfig {
        table: Arc::clone(table),
        sql_mode: SqlMode::default(),
        timestamp: 0,
    })?;
    let permutation: Vec<Option<usize>> = (0..table.core.columns.len()).map(Some).collect();
    let file: Arc<str> = Arc::from("behaviour.csv");
    // The pipeline's path: rows appended in place.
    let mut out = EncodedRows::new(&builder.make_empty_rows());
    for (i, row) in rows.iter().enumerate() {
        let origin = RowOrigin {
            file: Arc::clone(&file),
            offset: u64::try_from(i)? * 100,
        };
        encoder
            .encode_into(&row.datums(), row.id, &permutation, &origin, &mut out)
            .with_context(|| format!("encoding row {}", row.id))?;
    }
    let mut data = out.data;
    if let (Rows::Kv(pairs), Rows::Kv(mut more)) = (&mut data, out.index) {
        pairs.append(&mut more);
    }
    let columns = table.core.columns.iter().map(|c| c.name.clone()).collect();
    Ok((columns, data))
}

/// Writes `rows` into engine `engine` through one new writer, in batches of
/// `batch` rows, and closes the writer.
pub async fn write(
    instance: &dyn Instance,
    engine: Uuid,
    rows: &[TestRow],
    batch: usize,
) -> backend_core::Result<Arc<dyn ChunkFlushStatus>> {
    let config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: instance.table().unique_name(),
    };
    let mut writer = instance.backend().local_writer(&config, engine).await?;
    for chunk in rows.chunks(batch.max(1)) {
        let (columns, encoded) =
            encode(instance, chunk).map_err(|e| backend_core::Error::internal(format!("{e:#}")))?;
        writer.append_rows(&columns, encoded).await?;
    }
    writer.close().await
}

/// Prints why a scenario does not run on this backend.
pub fn skip(harness: &dyn BackendHarness, scenario: &str, reason: &str) {
    eprintln!(
        "skipped: scenario `{scenario}` on backend `{}`: {reason}",
        harness.name()
    );
}

/// Runs every scenario of the suite as one `#[tokio::test]` each, in a
/// module per harness.
///
/// ```ignore
/// integration_tests::behaviour_suite!(my_backend, MyHarness::new());
/// ```
#[macro_export]
macro_rules! behaviour_suite {
    ($module:ident, $harness:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::behaviour_suite!(@tests $harness;
                open_write_close_import_cleanup,
                many_writers_in_parallel,
                empty_engine,
                flush_then_reopen_by_uuid,
                unsafe_close_on_resume,
                duplicates_error,
                duplicates_replace,
                duplicates_ignore,
                import_twice_is_idempotent,
                reset_engine,
                cleanup_removes_everything,
                cleanup_after_restart,
                target_info_returns_created,
                write_after_close_is_an_error
            );
        }
    };
    (@tests $harness:expr; $($scenario:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() -> anyhow::Result<()> {
                let harness = $harness;
                $crate::behaviour::scenarios::$scenario(&harness).await
            }
        )*
    };
}
