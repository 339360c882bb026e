//! The mysql checkpoint driver: checkpoints in tables of `[checkpoint]
//! schema` on a MySQL-protocol server (by default the `[tidb]` target).
//!
//! Layout follows Lightning's (`task_v2`, `table_v9`, `engine_v5`,
//! `chunk_v5`, statuses as Lightning's numbers, a failed table's status
//! divided by ten) with our extra columns: the failure message, per-chunk
//! next row id, row count, separate index checksum, session timestamp and
//! the parser's state at the chunk's position (JSON; added to a `chunk_v5`
//! that lacks it, and NULL there, which makes such chunks resume by
//! re-parsing), and a table of our own, `chunk_etag_v1`, with the ETag of each chunk's
//! object when the source is an object store (a table beside `chunk_v5`
//! rather than a column, so checkpoint schemas written before it still
//! load).
//!
//! A save writes only the rows that changed since the last successful save,
//! in one transaction, so the stored checkpoint moves from one consistent
//! state to the next. The pipeline calls the store synchronously (as it
//! does the file driver); the store runs its own connection on a private
//! thread with a single-threaded runtime, so callers need no runtime of
//! their own and a save never waits for the pipeline's worker threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

use backend_core::KvChecksum;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySqlPool, Row};

use super::CheckpointError;
use super::model::{
    CHECKPOINT_VERSION, Checkpoints, ChunkCheckpoint, EngineCheckpoint, EngineStatus,
    TableCheckpoint, TableFailure, TableStatus, TaskCheckpoint,
};

/// Where the checkpoint tables live.
#[derive(Debug, Clone)]
pub struct MysqlLocation {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Password (never shown).
    pub password: String,
    /// The schema holding the checkpoint tables.
    pub schema: String,
}

impl MysqlLocation {
    /// How messages name the checkpoint.
    pub fn describe(&self) -> String {
        format!("schema `{}` on {}:{}", self.schema, self.host, self.port)
    }

    /// Parses a Go-style DSN `user[:password]@tcp(host:port)/` (Lightning's
    /// `[checkpoint] dsn`).
    pub fn from_dsn(dsn: &str, schema: &str) -> Result<Self, String> {
        let (creds, rest) = dsn
            .rsplit_once('@')
            .ok_or_else(|| "expected user[:password]@tcp(host:port)/".to_string())?;
        let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
        let inner = rest
            .strip_prefix("tcp(")
            .and_then(|r| r.split_once(')'))
            .map(|(hp, _)| hp)
            .ok_or_else(|| "expected tcp(host:port) after @".to_string())?;
        let (host, port) = inner.rsplit_once(':').unwrap_or((inner, "4000"));
        let port = port
            .parse()
            .map_err(|_| format!("port {port:?} is not a number"))?;
        Ok(MysqlLocation {
            host: host.to_string(),
            port,
            user: user.to_string(),
            password: password.to_string(),
            schema: schema.to_string(),
        })
    }
}

/// What a save writes: the task, and tables by name (`None`: deleted).
/// A complete save lists every table; the stored ones it lacks go.
struct Changes {
    version: u32,
    task: TaskCheckpoint,
    tables: Vec<(String, Option<TableCheckpoint>)>,
    complete: bool,
}

enum Request {
    Load(mpsc::Sender<Result<Option<Checkpoints>, CheckpointError>>),
    Save(Box<Changes>, mpsc::Sender<Result<(), CheckpointError>>),
    Remove(mpsc::Sender<Result<(), CheckpointError>>),
    Rename(String, mpsc::Sender<Result<String, CheckpointError>>),
}

/// Checkpoints in tables on a server.
#[derive(Debug)]
pub struct MysqlCheckpointStore {
    location: MysqlLocation,
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

impl MysqlCheckpointStore {
    /// Connects to the server (on the store's own thread) and creates the
    /// schema and tables if needed.
    pub fn connect(location: MysqlLocation) -> Result<Self, CheckpointError> {
        let (tx, rx) = mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let loc = location.clone();
        std::thread::Builder::new()
            .name("checkpoint-mysql".into())
            .spawn(move || serve(loc, rx, ready_tx))
            .map_err(|source| CheckpointError::Io {
                path: PathBuf::from(location.describe()),
                source,
            })?;
        ready_rx.recv().map_err(|_| gone(&location))??;
        Ok(MysqlCheckpointStore {
            location,
            requests: tx,
        })
    }

    /// How messages name the checkpoint.
    pub fn describe(&self) -> String {
        self.location.describe()
    }

    fn call<T>(
        &self,
        make: impl FnOnce(mpsc::Sender<Result<T, CheckpointError>>) -> Request,
    ) -> Result<T, CheckpointError> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| gone(&self.location))?;
        rx.recv().map_err(|_| gone(&self.location))?
    }

    /// Reads the checkpoint, `None` when the schema holds none.
    pub fn load(&self) -> Result<Option<Checkpoints>, CheckpointError> {
        self.call(Request::Load)
    }

    /// Writes what changed since the last save, in one transaction; tables
    /// `cp` lacks are deleted.
    pub fn save(&self, cp: &Checkpoints) -> Result<(), CheckpointError> {
        let changes = Changes {
            version: cp.version,
            task: cp.task.clone(),
            tables: cp
                .tables
                .iter()
                .map(|(name, table)| (name.clone(), Some(table.clone())))
                .collect(),
            complete: true,
        };
        self.call(|tx| Request::Save(Box::new(changes), tx))
    }

    /// Writes what changed in the tables named in `changed` (a name `cp`
    /// lacks is deleted), in one transaction: the cost follows the change,
    /// not the number of tables.
    pub fn save_tables<'a>(
        &self,
        cp: &Checkpoints,
        changed: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), CheckpointError> {
        let changes = Changes {
            version: cp.version,
            task: cp.task.clone(),
            tables: changed
                .into_iter()
                .map(|name| (name.clone(), cp.tables.get(name).cloned()))
                .collect(),
            complete: false,
        };
        self.call(|tx| Request::Save(Box::new(changes), tx))
    }

    /// Drops the checkpoint schema.
    pub fn remove(&self) -> Result<(), CheckpointError> {
        self.call(Request::Remove)
    }

    /// Moves the checkpoint tables to schema `<schema>_<suffix>` (for
    /// `keep-after-success = "rename"`); returns its description.
    pub fn rename_with_suffix(&self, suffix: &str) -> Result<String, CheckpointError> {
        self.call(|tx| Request::Rename(suffix.to_string(), tx))
    }
}

fn gone(location: &MysqlLocation) -> CheckpointError {
    CheckpointError::Sql {
        location: location.describe(),
        what: "talking to the checkpoint thread".into(),
        source: sqlx::Error::PoolClosed,
    }
}

fn quote(name: &str) -> String {
    backend_core::model::quote_identifier(name)
}

/// The store's thread: one runtime, one small pool, the last saved state.
fn serve(
    location: MysqlLocation,
    requests: mpsc::Receiver<Request>,
    ready: mpsc::Sender<Result<(), CheckpointError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(source) => {
            let _ = ready.send(Err(CheckpointError::Io {
                path: PathBuf::from(location.describe()),
                source,
            }));
            return;
        }
    };
    runtime.block_on(async move {
        let mut db = match Db::connect(&location).await {
            Ok(db) => db,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        while let Ok(request) = requests.recv() {
            match request {
                Request::Load(reply) => {
                    let _ = reply.send(db.load().await);
                }
                Request::Save(cp, reply) => {
                    let _ = reply.send(db.save(*cp).await);
                }
                Request::Remove(reply) => {
                    let _ = reply.send(db.remove().await);
                }
                Request::Rename(suffix, reply) => {
                    let _ = reply.send(db.rename(&suffix).await);
                }
            }
        }
        db.pool.close().await;
    });
}

struct Db {
    location: MysqlLocation,
    pool: MySqlPool,
    schema: String,
    /// What the tables hold (after the last load or successful save).
    saved: Option<Checkpoints>,
    created: bool,
}

/// Lightning's status numbers.
fn table_code(status: TableStatus) -> u8 {
    match status {
        TableStatus::Loaded => 30,
        TableStatus::AllWritten => 60,
        TableStatus::Closed => 90,
        TableStatus::Imported => 120,
        TableStatus::AlteredAutoInc => 150,
        TableStatus::Checksummed => 180,
        TableStatus::IndexAdded => 190,
        TableStatus::Analyzed => 210,
    }
}

fn table_status(code: u8) -> Option<TableStatus> {
    Some(match code {
        30 => TableStatus::Loaded,
        60 => TableStatus::AllWritten,
        90 => TableStatus::Closed,
        120 => TableStatus::Imported,
        150 => TableStatus::AlteredAutoInc,
        180 => TableStatus::Checksummed,
        190 => TableStatus::IndexAdded,
        210 => TableStatus::Analyzed,
        _ => return None,
    })
}

fn engine_code(status: EngineStatus) -> u8 {
    match status {
        EngineStatus::Loaded => 30,
        EngineStatus::Closed => 90,
        EngineStatus::Imported => 120,
    }
}

fn engine_status(code: u8) -> Option<EngineStatus> {
    Some(match code {
        30 => EngineStatus::Loaded,
        90 => EngineStatus::Closed,
        120 => EngineStatus::Imported,
        _ => return None,
    })
}

impl Db {
    async fn connect(location: &MysqlLocation) -> Result<Db, CheckpointError> {
        let mut options = MySqlConnectOptions::new()
            .host(&location.host)
            .port(location.port)
            .username(&location.user);
        if !location.password.is_empty() {
            options = options.password(&location.password);
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| CheckpointError::Sql {
                location: location.describe(),
                what: "connecting".into(),
                source,
            })?;
        Ok(Db {
            location: location.clone(),
            pool,
            schema: quote(&location.schema),
            saved: None,
            created: false,
        })
    }

    fn err(&self, what: &str) -> impl FnOnce(sqlx::Error) -> CheckpointError + '_ {
        let what = what.to_string();
        move |source| CheckpointError::Sql {
            location: self.location.describe(),
            what,
            source,
        }
    }

    async fn exec(&self, sql: String) -> Result<(), CheckpointError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&self.pool)
            .await
            .map_err(self.err(&sql))?;
        Ok(())
    }

    async fn create(&mut self) -> Result<(), CheckpointError> {
        if self.created {
            return Ok(());
        }
        let s = &self.schema;
        for sql in [
            format!("CREATE DATABASE IF NOT EXISTS {s}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {s}.task_v2 (\
                 id TINYINT UNSIGNED PRIMARY KEY, \
                 source_dir VARCHAR(2048) NOT NULL, backend VARCHAR(16) NOT NULL, \
                 target VARCHAR(2048) NOT NULL, sorted_kv_dir VARCHAR(2048) NOT NULL, \
                 format_version INT UNSIGNED NOT NULL, \
                 create_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {s}.table_v9 (\
                 table_name VARCHAR(261) NOT NULL PRIMARY KEY, \
                 hash BIGINT UNSIGNED NOT NULL, status TINYINT UNSIGNED NOT NULL, \
                 alloc_base BIGINT NOT NULL, table_id BIGINT NOT NULL, \
                 failure TEXT NULL, deferred_indexes TEXT NULL, \
                 update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {s}.engine_v5 (\
                 table_name VARCHAR(261) NOT NULL, engine_id INT NOT NULL, \
                 status TINYINT UNSIGNED NOT NULL, \
                 update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
                 PRIMARY KEY (table_name, engine_id))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {s}.chunk_v5 (\
                 table_name VARCHAR(261) NOT NULL, engine_id INT NOT NULL, \
                 chunk_index INT UNSIGNED NOT NULL, \
                 path VARCHAR(2048) NOT NULL, `offset` BIGINT UNSIGNED NOT NULL, \
                 `columns` TEXT NULL, end_offset BIGINT UNSIGNED NOT NULL, \
                 pos BIGINT UNSIGNED NOT NULL, prev_rowid_max BIGINT NOT NULL, \
                 rowid_max BIGINT NOT NULL, next_row_id BIGINT NOT NULL, \
                 `rows` BIGINT UNSIGNED NOT NULL, \
                 kvc_bytes BIGINT UNSIGNED NOT NULL, kvc_kvs BIGINT UNSIGNED NOT NULL, \
                 kvc_checksum BIGINT UNSIGNED NOT NULL, \
                 idx_kvc_bytes BIGINT UNSIGNED NOT NULL, idx_kvc_kvs BIGINT UNSIGNED NOT NULL, \
                 idx_kvc_checksum BIGINT UNSIGNED NOT NULL, \
                 session_timestamp BIGINT NOT NULL, parser_state TEXT NULL, \
                 update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
                 PRIMARY KEY (table_name, engine_id, chunk_index))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {s}.chunk_etag_v1 (\
                 table_name VARCHAR(261) NOT NULL, engine_id INT NOT NULL, \
                 chunk_index INT UNSIGNED NOT NULL, etag VARCHAR(1024) NOT NULL, \
                 PRIMARY KEY (table_name, engine_id, chunk_index))"
            ),
        ] {
            self.exec(sql).await?;
        }
        // Checkpoints written before `add-index-by-sql` and before parser
        // states lack these columns.
        self.add_missing_column("table_v9", "deferred_indexes", "TEXT NULL AFTER failure")
            .await?;
        self.add_missing_column(
            "chunk_v5",
            "parser_state",
            "TEXT NULL AFTER session_timestamp",
        )
        .await?;
        self.created = true;
        Ok(())
    }

    /// Adds `column` to `table` unless it has it.
    async fn add_missing_column(
        &self,
        table: &str,
        column: &str,
        definition: &str,
    ) -> Result<(), CheckpointError> {
        let what = format!("looking for {table}.{column}");
        let has: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        )
        .bind(&self.location.schema)
        .bind(table)
        .bind(column)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err(&what))?;
        if has == 0 {
            let s = &self.schema;
            self.exec(format!(
                "ALTER TABLE {s}.{table} ADD COLUMN {column} {definition}"
            ))
            .await?;
        }
        Ok(())
    }

    async fn load(&mut self) -> Result<Option<Checkpoints>, CheckpointError> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'task_v2'",
        )
        .bind(&self.location.schema)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("looking for the checkpoint tables"))?;
        if exists == 0 {
            self.saved = None;
            return Ok(None);
        }
        self.create().await?;
        let s = self.schema.clone();
        let task = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT source_dir, backend, target, sorted_kv_dir, format_version FROM {s}.task_v2 WHERE id = 1"
        )))
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading task_v2"))?;
        let Some(task) = task else {
            self.saved = None;
            return Ok(None);
        };
        let corrupt = |what: String| CheckpointError::Sql {
            location: self.location.describe(),
            what,
            source: sqlx::Error::Protocol("unexpected value".into()),
        };
        let version: u32 = task.try_get(4).map_err(self.err("reading task_v2"))?;
        if version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version {
                path: PathBuf::from(self.location.describe()),
                found: version,
            });
        }
        let mut cp = Checkpoints::new(TaskCheckpoint {
            source_dir: task.try_get(0).map_err(self.err("reading task_v2"))?,
            backend: task.try_get(1).map_err(self.err("reading task_v2"))?,
            target: task.try_get(2).map_err(self.err("reading task_v2"))?,
            sorted_kv_dir: task.try_get(3).map_err(self.err("reading task_v2"))?,
        });
        let tables = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT table_name, hash, status, alloc_base, table_id, failure, deferred_indexes \
             FROM {s}.table_v9"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading table_v9"))?;
        for row in tables {
            let get = self.err("reading table_v9");
            let name: String = row.try_get(0).map_err(get)?;
            let code: u8 = row.try_get(2).map_err(self.err("reading table_v9"))?;
            let failure: Option<String> = row.try_get(5).map_err(self.err("reading table_v9"))?;
            let deferred: Option<String> = row.try_get(6).map_err(self.err("reading table_v9"))?;
            let deferred_indexes = match deferred {
                Some(json) => {
                    serde_json::from_str(&json).map_err(|source| CheckpointError::Corrupt {
                        path: PathBuf::from(self.location.describe()),
                        source,
                    })?
                }
                None => Vec::new(),
            };
            // Lightning marks a failure by dividing the status by ten.
            let (status, failed) = if code < 30 {
                (table_status(code.saturating_mul(10)), true)
            } else {
                (table_status(code), false)
            };
            let status = status.ok_or_else(|| corrupt(format!("table {name}: status {code}")))?;
            cp.tables.insert(
                name,
                TableCheckpoint {
                    status,
                    failure: failed.then(|| TableFailure {
                        at: status,
                        message: failure.unwrap_or_default(),
                    }),
                    table_id: row.try_get(4).map_err(self.err("reading table_v9"))?,
                    schema_hash: row.try_get(1).map_err(self.err("reading table_v9"))?,
                    engines: BTreeMap::new(),
                    max_auto_id: row.try_get(3).map_err(self.err("reading table_v9"))?,
                    deferred_indexes,
                },
            );
        }
        let engines = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT table_name, engine_id, status FROM {s}.engine_v5"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading engine_v5"))?;
        for row in engines {
            let name: String = row.try_get(0).map_err(self.err("reading engine_v5"))?;
            let id: i32 = row.try_get(1).map_err(self.err("reading engine_v5"))?;
            let code: u8 = row.try_get(2).map_err(self.err("reading engine_v5"))?;
            let status = engine_status(code)
                .ok_or_else(|| corrupt(format!("engine {name}:{id}: status {code}")))?;
            if let Some(t) = cp.tables.get_mut(&name) {
                t.engines.insert(
                    id,
                    EngineCheckpoint {
                        status,
                        chunks: Vec::new(),
                    },
                );
            }
        }
        let chunks = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT table_name, engine_id, path, `offset`, `columns`, end_offset, pos, \
             prev_rowid_max, rowid_max, next_row_id, `rows`, kvc_bytes, kvc_kvs, kvc_checksum, \
             idx_kvc_bytes, idx_kvc_kvs, idx_kvc_checksum, session_timestamp, parser_state \
             FROM {s}.chunk_v5 ORDER BY table_name, engine_id, chunk_index"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading chunk_v5"))?;
        for row in chunks {
            let e = || self.err("reading chunk_v5");
            let name: String = row.try_get(0).map_err(e())?;
            let id: i32 = row.try_get(1).map_err(e())?;
            let path: String = row.try_get(2).map_err(e())?;
            let text = |i: usize| -> Result<Option<String>, CheckpointError> {
                row.try_get(i).map_err(e())
            };
            let columns =
                from_json(text(4)?).map_err(|t| corrupt(format!("chunk {path}: columns {t:?}")))?;
            let parser_state = from_json(text(18)?)
                .map_err(|t| corrupt(format!("chunk {path}: parser state {t:?}")))?;
            let chunk = ChunkCheckpoint {
                file: PathBuf::from(path),
                offset: row.try_get(3).map_err(e())?,
                end_offset: row.try_get(5).map_err(e())?,
                pos: row.try_get(6).map_err(e())?,
                prev_rowid_max: row.try_get(7).map_err(e())?,
                rowid_max: row.try_get(8).map_err(e())?,
                next_row_id: row.try_get(9).map_err(e())?,
                rows: row.try_get(10).map_err(e())?,
                data_checksum: KvChecksum {
                    bytes: row.try_get(11).map_err(e())?,
                    kvs: row.try_get(12).map_err(e())?,
                    checksum: row.try_get(13).map_err(e())?,
                },
                index_checksum: KvChecksum {
                    bytes: row.try_get(14).map_err(e())?,
                    kvs: row.try_get(15).map_err(e())?,
                    checksum: row.try_get(16).map_err(e())?,
                },
                columns,
                timestamp: row.try_get(17).map_err(e())?,
                etag: None,
                parser_state,
            };
            if let Some(engine) = cp
                .tables
                .get_mut(&name)
                .and_then(|t| t.engines.get_mut(&id))
            {
                engine.chunks.push(chunk);
            }
        }
        let etags = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT table_name, engine_id, chunk_index, etag FROM {s}.chunk_etag_v1"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading chunk_etag_v1"))?;
        for row in etags {
            let e = || self.err("reading chunk_etag_v1");
            let name: String = row.try_get(0).map_err(e())?;
            let id: i32 = row.try_get(1).map_err(e())?;
            let index: u32 = row.try_get(2).map_err(e())?;
            let etag: String = row.try_get(3).map_err(e())?;
            let chunk = cp
                .tables
                .get_mut(&name)
                .and_then(|t| t.engines.get_mut(&id))
                .and_then(|engine| engine.chunks.get_mut(usize::try_from(index).ok()?));
            if let Some(chunk) = chunk {
                chunk.etag = Some(etag);
            }
        }
        self.saved = Some(cp.clone());
        Ok(Some(cp))
    }

    async fn save(&mut self, changes: Changes) -> Result<(), CheckpointError> {
        self.create().await?;
        let s = self.schema.clone();
        // Taken: after a failed save nothing is known about what the
        // tables hold, and the next save diffs against nothing.
        let old = self.saved.take();
        let task_changed = old.as_ref().map(|o| &o.task) != Some(&changes.task);
        let mut saved = old.unwrap_or_else(|| Checkpoints::new(changes.task.clone()));
        let mut statements: Vec<String> = Vec::new();
        if task_changed {
            statements.push(format!(
                "REPLACE INTO {s}.task_v2 (id, source_dir, backend, target, sorted_kv_dir, format_version) \
                 VALUES (1, {}, {}, {}, {}, {})",
                lit(&changes.task.source_dir),
                lit(&changes.task.backend),
                lit(&changes.task.target),
                lit(&changes.task.sorted_kv_dir),
                changes.version
            ));
        }
        let mut tables = changes.tables;
        if changes.complete {
            let listed: std::collections::HashSet<&String> =
                tables.iter().map(|(name, _)| name).collect();
            let gone: Vec<String> = saved
                .tables
                .keys()
                .filter(|n| !listed.contains(n))
                .cloned()
                .collect();
            tables.extend(gone.into_iter().map(|name| (name, None)));
        }
        for (name, table) in &tables {
            let before = saved.tables.get(name);
            let Some(table) = table else {
                if before.is_some() {
                    for t in ["table_v9", "engine_v5", "chunk_v5", "chunk_etag_v1"] {
                        statements.push(format!(
                            "DELETE FROM {s}.{t} WHERE table_name = {}",
                            lit(name)
                        ));
                    }
                }
                continue;
            };
            let head_changed = before.is_none_or(|b| {
                b.status != table.status
                    || b.failure != table.failure
                    || b.table_id != table.table_id
                    || b.schema_hash != table.schema_hash
                    || b.max_auto_id != table.max_auto_id
                    || b.deferred_indexes != table.deferred_indexes
            });
            if head_changed {
                let code = table_code(table.status);
                let (code, failure) = match &table.failure {
                    Some(f) => (code / 10, lit(&f.message)),
                    None => (code, "NULL".to_string()),
                };
                let deferred = if table.deferred_indexes.is_empty() {
                    "NULL".to_string()
                } else {
                    let json =
                        serde_json::to_string(&table.deferred_indexes).map_err(|source| {
                            CheckpointError::Corrupt {
                                path: PathBuf::from(self.location.describe()),
                                source,
                            }
                        })?;
                    lit(&json)
                };
                statements.push(format!(
                    "REPLACE INTO {s}.table_v9 \
                     (table_name, hash, status, alloc_base, table_id, failure, deferred_indexes) \
                     VALUES ({}, {}, {code}, {}, {}, {failure}, {deferred})",
                    lit(name),
                    table.schema_hash,
                    table.max_auto_id,
                    table.table_id
                ));
            }
            for (id, engine) in &table.engines {
                let before = before.and_then(|b| b.engines.get(id));
                if before.is_none_or(|b| b.status != engine.status) {
                    statements.push(format!(
                        "REPLACE INTO {s}.engine_v5 (table_name, engine_id, status) VALUES ({}, {id}, {})",
                        lit(name),
                        engine_code(engine.status)
                    ));
                }
                for (idx, chunk) in engine.chunks.iter().enumerate() {
                    if before.and_then(|b| b.chunks.get(idx)) == Some(chunk) {
                        continue;
                    }
                    let columns = json_or_null(chunk.columns.as_ref());
                    let parser_state = json_or_null(chunk.parser_state.as_ref());
                    statements.push(format!(
                        "REPLACE INTO {s}.chunk_v5 (table_name, engine_id, chunk_index, path, `offset`, \
                         `columns`, end_offset, pos, prev_rowid_max, rowid_max, next_row_id, `rows`, \
                         kvc_bytes, kvc_kvs, kvc_checksum, idx_kvc_bytes, idx_kvc_kvs, idx_kvc_checksum, \
                         session_timestamp, parser_state) VALUES ({}, {id}, {idx}, {}, {}, {columns}, {}, \
                         {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {parser_state})",
                        lit(name),
                        lit(&chunk.file.to_string_lossy()),
                        chunk.offset,
                        chunk.end_offset,
                        chunk.pos,
                        chunk.prev_rowid_max,
                        chunk.rowid_max,
                        chunk.next_row_id,
                        chunk.rows,
                        chunk.data_checksum.bytes,
                        chunk.data_checksum.kvs,
                        chunk.data_checksum.checksum,
                        chunk.index_checksum.bytes,
                        chunk.index_checksum.kvs,
                        chunk.index_checksum.checksum,
                        chunk.timestamp
                    ));
                    if let Some(etag) = &chunk.etag {
                        statements.push(format!(
                            "REPLACE INTO {s}.chunk_etag_v1 (table_name, engine_id, chunk_index, etag) \
                             VALUES ({}, {id}, {idx}, {})",
                            lit(name),
                            lit(etag)
                        ));
                    }
                }
            }
        }
        if !statements.is_empty() {
            let sql = format!("BEGIN; {}; COMMIT", statements.join("; "));
            let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&self.pool)
                .await;
            if let Err(source) = result {
                // A half-open transaction on the connection must not absorb
                // the next save.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&self.pool).await;
                return Err(CheckpointError::Sql {
                    location: self.location.describe(),
                    what: "saving".into(),
                    source,
                });
            }
        }
        saved.version = changes.version;
        saved.task = changes.task;
        for (name, table) in tables {
            match table {
                Some(table) => {
                    saved.tables.insert(name, table);
                }
                None => {
                    saved.tables.remove(&name);
                }
            }
        }
        self.saved = Some(saved);
        Ok(())
    }

    async fn remove(&mut self) -> Result<(), CheckpointError> {
        self.exec(format!("DROP DATABASE IF EXISTS {}", self.schema))
            .await?;
        self.saved = None;
        self.created = false;
        Ok(())
    }

    async fn rename(&mut self, suffix: &str) -> Result<String, CheckpointError> {
        let new_name = format!("{}_{suffix}", self.location.schema);
        let new = quote(&new_name);
        self.exec(format!("CREATE DATABASE IF NOT EXISTS {new}"))
            .await?;
        let moves: Vec<String> = [
            "task_v2",
            "table_v9",
            "engine_v5",
            "chunk_v5",
            "chunk_etag_v1",
        ]
        .iter()
        .map(|t| format!("{}.{t} TO {new}.{t}", self.schema))
        .collect();
        self.exec(format!("RENAME TABLE {}", moves.join(", ")))
            .await?;
        self.remove().await?;
        Ok(format!(
            "schema `{new_name}` on {}:{}",
            self.location.host, self.location.port
        ))
    }
}

/// A string literal, escaped for any sql_mode (backslashes doubled would
/// break under NO_BACKSLASH_ESCAPES, so quotes are doubled and backslashes
/// avoided through hex for anything unusual).
/// The value of JSON text from a nullable column; the text on failure.
fn from_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>, String> {
    match text {
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|_| text),
        None => Ok(None),
    }
}

/// `value` as a quoted JSON literal, or `NULL`.
fn json_or_null(value: Option<&impl serde::Serialize>) -> String {
    match value.and_then(|v| serde_json::to_string(v).ok()) {
        Some(json) => lit(&json),
        None => "NULL".into(),
    }
}

fn lit(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'\'' && b != b'\\' || b == b' ')
    {
        format!("'{s}'")
    } else {
        let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        format!("CONVERT(X'{hex}' USING utf8mb4)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_parses() {
        let loc = MysqlLocation::from_dsn("root:pw@tcp(127.0.0.1:4000)/", "cp");
        let loc = loc.as_ref().map(|l| {
            (
                l.user.as_str(),
                l.password.as_str(),
                l.host.as_str(),
                l.port,
            )
        });
        assert_eq!(loc, Ok(("root", "pw", "127.0.0.1", 4000)));
        assert!(MysqlLocation::from_dsn("nonsense", "cp").is_err());
    }

    #[test]
    fn literals_are_safe() {
        assert_eq!(lit("`a`.`b`"), "'`a`.`b`'");
        assert_eq!(lit("it's"), "CONVERT(X'69742773' USING utf8mb4)");
        assert_eq!(lit(""), "''");
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            TableStatus::Loaded,
            TableStatus::AllWritten,
            TableStatus::Closed,
            TableStatus::Imported,
            TableStatus::AlteredAutoInc,
            TableStatus::Checksummed,
            TableStatus::Analyzed,
        ] {
            assert_eq!(table_status(table_code(s)), Some(s));
        }
        for s in [
            EngineStatus::Loaded,
            EngineStatus::Closed,
            EngineStatus::Imported,
        ] {
            assert_eq!(engine_status(engine_code(s)), Some(s));
        }
    }
}
