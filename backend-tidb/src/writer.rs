//! Batched statements: SQL tuples to `INSERT`/`REPLACE`/`INSERT IGNORE`.
//!
//! `append_rows` cuts its rows into statements of at most
//! `logical-import-batch-size` bytes and `logical-import-batch-rows` rows,
//! never longer than the server's `max_allowed_packet`, and runs each with
//! autocommit: a statement is atomic, so a failed one left nothing behind
//! and can be retried or redone row by row. When a statement fails for its
//! data, the batch is redone one row per statement to find the bad rows,
//! which are recorded and skipped while the error limits allow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use backend_core::model::quote_identifier;
use backend_core::{
    AlwaysFlushed, BackendMetrics, ChunkFlushStatus, EngineWriter, Error, Result, Rows, SqlRow,
};
use sqlx::MySqlPool;
use uuid::Uuid;

use crate::config::OnDuplicate;
use crate::error::{ErrorClass, TidbError, classify};
use crate::errors_table::ErrorRecorder;
use crate::markers::Markers;
use crate::retry::{RetryPolicy, with_retry};

/// Room left in a packet for the protocol header and command byte.
const PACKET_SLACK: usize = 1024;

/// What every writer of a backend shares.
#[derive(Debug)]
pub(crate) struct WriteContext {
    pub(crate) pool: MySqlPool,
    pub(crate) on_duplicate: OnDuplicate,
    pub(crate) batch_size: usize,
    pub(crate) batch_rows: usize,
    pub(crate) max_allowed_packet: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) recorder: Arc<ErrorRecorder>,
    pub(crate) markers: Option<Markers>,
    /// Statement counters, shared with [`Backend::metrics`](backend_core::Backend::metrics).
    pub(crate) metrics: Arc<BackendMetrics>,
}

/// Writes one table's rows. Engines of this backend hold nothing: rows go
/// straight to the server, so the writer is synced after every successful
/// `append_rows`.
#[derive(Debug)]
pub struct TidbWriter {
    ctx: Arc<WriteContext>,
    table_name: String,
    /// The engine, when it was opened through this backend (only then are
    /// its markers' lifetimes managed, so only then are keys deterministic).
    engine: Option<Uuid>,
    synced: bool,
}

impl TidbWriter {
    pub(crate) fn new(ctx: Arc<WriteContext>, table_name: String, engine: Option<Uuid>) -> Self {
        TidbWriter {
            ctx,
            table_name,
            engine,
            synced: true,
        }
    }
}

#[async_trait]
impl EngineWriter for TidbWriter {
    /// Inserts `rows` into the writer's table. `column_names` are the
    /// tuple's columns (empty: all columns in table order).
    ///
    /// Errors: `InvalidState` for KV rows; `DuplicateDetected` for the first
    /// duplicate under `error`, or once the conflict threshold is exceeded;
    /// `BadData` for a bad row beyond `max-error.type` (naming its file and
    /// offset); `TargetUnavailable` when the server stays unreachable.
    async fn append_rows(&mut self, column_names: &[String], rows: Rows) -> Result<()> {
        let Rows::Sql(rows) = rows else {
            return Err(Error::invalid_state(format!(
                "{}: the tidb backend takes SQL rows, got KV pairs",
                self.table_name
            )));
        };
        self.synced = false;
        write_rows(
            &self.ctx,
            &self.table_name,
            self.engine,
            column_names,
            &rows,
        )
        .await
        .map_err(Error::from)?;
        self.synced = true;
        Ok(())
    }

    fn is_synced(&self) -> bool {
        self.synced
    }

    async fn close(self: Box<Self>) -> Result<Arc<dyn ChunkFlushStatus>> {
        Ok(Arc::new(AlwaysFlushed))
    }
}

/// The statement head: `REPLACE INTO `db`.`t` (`a`,`b`) VALUES`.
pub fn statement_head(on_duplicate: OnDuplicate, table: &str, column_names: &[String]) -> String {
    let mut head = String::with_capacity(64 + column_names.len() * 16);
    head.push_str(on_duplicate.statement_head());
    head.push_str(table);
    if !column_names.is_empty() {
        head.push_str(" (");
        for (i, name) in column_names.iter().enumerate() {
            if i > 0 {
                head.push(',');
            }
            head.push_str(&quote_identifier(name));
        }
        head.push(')');
    }
    head.push_str(" VALUES ");
    head
}

/// Cuts `rows` into runs whose statement (head + tuples + commas) stays
/// within `max_bytes` and `max_rows`. A row that alone exceeds `max_bytes`
/// gets a run of its own.
pub fn split_batches(
    rows: &[SqlRow],
    head_len: usize,
    max_bytes: usize,
    max_rows: usize,
) -> Vec<&[SqlRow]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut size = head_len;
    for (i, row) in rows.iter().enumerate() {
        let add = row.tuple.len() + usize::from(i > start);
        if i > start && (size + add > max_bytes || i - start >= max_rows) {
            batches.push(&rows[start..i]);
            start = i;
            size = head_len + row.tuple.len();
        } else {
            size += add;
        }
    }
    if start < rows.len() {
        batches.push(&rows[start..]);
    }
    batches
}

fn build_statement(head: &str, rows: &[SqlRow]) -> Arc<str> {
    let len = head.len() + rows.iter().map(|r| r.tuple.len() + 1).sum::<usize>();
    let mut sql = String::with_capacity(len);
    sql.push_str(head);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row.tuple);
    }
    sql.into()
}

/// Runs `sql`, retrying transient errors; returns the affected rows, or
/// `None` when a retry found the statement had committed already (its
/// count was lost with the reply). Counts the statement in the metrics.
async fn execute(
    ctx: &WriteContext,
    what: &str,
    sql: Arc<str>,
    engine: Option<Uuid>,
    rows: &[SqlRow],
) -> Result<Option<u64>, TidbError> {
    let attempts = AtomicU64::new(0);
    let result = execute_with_retry(ctx, what, sql, engine, rows, &attempts).await;
    let metrics = &ctx.metrics;
    BackendMetrics::add(
        &metrics.sql_batches_retried,
        attempts.load(Ordering::Relaxed).saturating_sub(1),
    );
    let outcome = if result.is_ok() {
        &metrics.sql_batches_sent
    } else {
        &metrics.sql_batches_failed
    };
    BackendMetrics::add(outcome, 1);
    result
}

/// [`execute`] without the counting; `attempts` counts the tries.
async fn execute_with_retry(
    ctx: &WriteContext,
    what: &str,
    sql: Arc<str>,
    engine: Option<Uuid>,
    rows: &[SqlRow],
    attempts: &AtomicU64,
) -> Result<Option<u64>, TidbError> {
    let Some(markers) = &ctx.markers else {
        return with_retry(ctx.retry, what, || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            sqlx::raw_sql(sqlx::AssertSqlSafe(Arc::clone(&sql)))
                .execute(&ctx.pool)
                .await
                .map(|r| Some(r.rows_affected()))
        })
        .await;
    };
    markers.ensure_table(&ctx.pool, ctx.retry).await?;
    let key = markers.key(engine, rows, &sql);
    markers.marking(engine);
    let wrapped: Arc<str> = format!(
        "BEGIN; {sql}; INSERT INTO {} (batch_key) VALUES ('{key}'); COMMIT",
        markers.table
    )
    .into();
    let lookup: Arc<str> = format!(
        "SELECT COUNT(*) FROM {} WHERE batch_key = '{key}'",
        markers.table
    )
    .into();
    let ambiguous = AtomicBool::new(false);
    with_retry(ctx.retry, what, || async {
        attempts.fetch_add(1, Ordering::Relaxed);
        let mut conn = ctx.pool.acquire().await?;
        if ambiguous.load(Ordering::SeqCst) {
            let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&lookup)))
                .fetch_one(&mut *conn)
                .await?;
            if found > 0 {
                return Ok(None);
            }
        }
        match sqlx::raw_sql(sqlx::AssertSqlSafe(Arc::clone(&wrapped)))
            .execute(&mut *conn)
            .await
        {
            // BEGIN and COMMIT affect nothing, the marker one row.
            Ok(result) => Ok(Some(result.rows_affected().saturating_sub(1))),
            Err(err) => {
                let class = classify(&err);
                if class == ErrorClass::Retryable {
                    ambiguous.store(true, Ordering::SeqCst);
                    return Err(err);
                }
                // The session is alive with the transaction open.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                if class == ErrorClass::Duplicate {
                    // The rows or the marker clash: a run before a crash may
                    // have committed this very statement.
                    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&lookup)))
                        .fetch_one(&mut *conn)
                        .await?;
                    if found > 0 {
                        tracing::debug!(key, "statement committed by an earlier run; skipped");
                        return Ok(None);
                    }
                }
                Err(err)
            }
        }
    })
    .await
}

/// Duplicates the server resolved, from the affected-row count: `REPLACE`
/// counts a replaced row twice (delete + insert), `INSERT IGNORE` does not
/// count an ignored one.
fn resolved_duplicates(on_duplicate: OnDuplicate, rows: usize, affected: u64) -> u64 {
    let rows = u64::try_from(rows).unwrap_or(u64::MAX);
    match on_duplicate {
        OnDuplicate::Replace => affected.saturating_sub(rows),
        OnDuplicate::Ignore => rows.saturating_sub(affected),
        OnDuplicate::Error => 0,
    }
}

async fn write_rows(
    ctx: &WriteContext,
    table: &str,
    engine: Option<Uuid>,
    column_names: &[String],
    rows: &[SqlRow],
) -> Result<(), TidbError> {
    if rows.is_empty() {
        return Ok(());
    }
    if table.is_empty() {
        return Err(TidbError::Config(
            "the writer was opened without a table name".into(),
        ));
    }
    let head = statement_head(ctx.on_duplicate, table, column_names);
    let max_statement = ctx.max_allowed_packet.saturating_sub(PACKET_SLACK);
    let max_bytes = ctx.batch_size.min(max_statement);
    let what = format!("inserting into {table}");
    for batch in split_batches(rows, head.len(), max_bytes, ctx.batch_rows) {
        let sql = build_statement(&head, batch);
        if sql.len() > max_statement {
            // Only single rows exceed the limit (see split_batches).
            write_one_by_one(ctx, table, engine, &head, batch, max_statement).await?;
            continue;
        }
        match execute(ctx, &what, sql, engine, batch).await {
            Ok(affected) => {
                let dups =
                    affected.map_or(0, |a| resolved_duplicates(ctx.on_duplicate, batch.len(), a));
                ctx.recorder.count_resolved_duplicates(table, dups)?;
            }
            Err(TidbError::Sql {
                class: ErrorClass::Duplicate | ErrorClass::BadData,
                source,
                ..
            }) => {
                tracing::info!(table, rows = batch.len(), error = %source, "batch failed, redoing it row by row");
                write_one_by_one(ctx, table, engine, &head, batch, max_statement).await?;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// The server's own message for a statement error.
fn server_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

async fn write_one_by_one(
    ctx: &WriteContext,
    table: &str,
    engine: Option<Uuid>,
    head: &str,
    rows: &[SqlRow],
    max_statement: usize,
) -> Result<(), TidbError> {
    for row in rows {
        let what = format!(
            "inserting into {table} the row at {}:{}",
            row.origin.file, row.origin.offset
        );
        if head.len() + row.tuple.len() > max_statement {
            let message = format!(
                "the row's statement of {} bytes exceeds the server's max_allowed_packet ({} bytes)",
                head.len() + row.tuple.len(),
                ctx.max_allowed_packet
            );
            ctx.recorder
                .record_type_error(table, &row.origin, &row.tuple, &message)
                .await?;
            continue;
        }
        let sql = build_statement(head, std::slice::from_ref(row));
        match execute(ctx, &what, sql, engine, std::slice::from_ref(row)).await {
            Ok(affected) => {
                let dups = affected.map_or(0, |a| resolved_duplicates(ctx.on_duplicate, 1, a));
                ctx.recorder.count_resolved_duplicates(table, dups)?;
            }
            Err(TidbError::Sql {
                class: ErrorClass::Duplicate,
                source,
                ..
            }) => {
                let message = server_message(&source);
                return Err(ctx
                    .recorder
                    .record_duplicate_and_stop(table, &row.origin, &row.tuple, &message)
                    .await);
            }
            Err(TidbError::Sql {
                class: ErrorClass::BadData,
                source,
                ..
            }) => {
                let message = server_message(&source);
                ctx.recorder
                    .record_type_error(table, &row.origin, &row.tuple, &message)
                    .await?;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use backend_core::RowOrigin;

    fn row(tuple: &str) -> SqlRow {
        SqlRow {
            tuple: tuple.to_string(),
            origin: RowOrigin::default(),
        }
    }

    #[test]
    fn head_quotes_columns() {
        let cols = vec!["a".to_string(), "b`c".to_string()];
        assert_eq!(
            statement_head(OnDuplicate::Ignore, "`d`.`t`", &cols),
            "INSERT IGNORE INTO `d`.`t` (`a`,`b``c`) VALUES "
        );
        assert_eq!(
            statement_head(OnDuplicate::Replace, "`d`.`t`", &[]),
            "REPLACE INTO `d`.`t` VALUES "
        );
    }

    #[test]
    fn batches_cut_by_bytes_and_rows() {
        let rows: Vec<SqlRow> = (0..10).map(|i| row(&format!("({i})"))).collect();
        // head 10 + "(0)" 3 + ",(1)" 4 = 17 <= 17; next would be 21.
        let batches = split_batches(&rows, 10, 17, 100);
        assert!(batches.iter().all(|b| b.len() == 2));
        assert_eq!(batches.len(), 5);
        let batches = split_batches(&rows, 10, 10_000, 3);
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        for batch in split_batches(&rows, 10, 17, 100) {
            assert!(build_statement(&"x".repeat(10), batch).len() <= 17);
        }
        // A row bigger than the limit stands alone.
        let big = vec![
            row("(1)"),
            row(&format!("('{}')", "x".repeat(50))),
            row("(2)"),
        ];
        let batches = split_batches(&big, 10, 20, 100);
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert!(split_batches(&[], 10, 20, 100).is_empty());
    }

    #[test]
    fn duplicates_from_affected_rows() {
        assert_eq!(resolved_duplicates(OnDuplicate::Replace, 10, 12), 2);
        assert_eq!(resolved_duplicates(OnDuplicate::Ignore, 10, 7), 3);
        assert_eq!(resolved_duplicates(OnDuplicate::Error, 10, 7), 0);
    }
}
