//! Counting, recording and limiting bad rows.
//!
//! Rows the server rejects for their data go to
//! `lightning_task_info.type_error_v1`; duplicates that stop an `error`-mode
//! import go to `conflict_records`. Both tables have TiDB Lightning's names
//! and columns (its `errormanager`), so tools that read Lightning's error
//! records read ours. Counters are shared by every writer of the backend:
//! `max-error.type` and `[conflict] threshold` are limits for the whole
//! import, as in Lightning.

use std::sync::atomic::{AtomicU64, Ordering};

use backend_core::RowOrigin;
use backend_core::model::quote_identifier;
use sqlx::MySqlPool;
use tokio::sync::OnceCell;

use crate::config::TidbBackendConfig;
use crate::error::{ErrorClass, TidbError};
use crate::retry::{RetryPolicy, with_retry};

/// Lightning's table of rows with bad values.
pub const TYPE_ERROR_TABLE: &str = "type_error_v1";
/// Lightning's table of duplicate rows found by the logical backend.
pub const CONFLICT_RECORDS_TABLE: &str = "conflict_records";

/// Records and limits bad rows for one import.
#[derive(Debug)]
pub struct ErrorRecorder {
    pool: MySqlPool,
    schema: Option<String>,
    task_id: i64,
    max_type_errors: u64,
    type_errors: AtomicU64,
    conflict_threshold: Option<u64>,
    conflicts: AtomicU64,
    tables_ready: OnceCell<()>,
    retry: RetryPolicy,
}

impl ErrorRecorder {
    /// A recorder writing through `pool` as `config` says.
    pub fn new(pool: MySqlPool, config: &TidbBackendConfig) -> Self {
        ErrorRecorder {
            pool,
            schema: config.task_info_schema.clone(),
            task_id: config.task_id,
            max_type_errors: config.max_error_type,
            type_errors: AtomicU64::new(0),
            conflict_threshold: config.conflict_threshold,
            conflicts: AtomicU64::new(0),
            tables_ready: OnceCell::new(),
            retry: RetryPolicy {
                max_attempts: config.max_attempts,
                backoff: config.retry_backoff,
            },
        }
    }

    /// Whether a further type error could still be skipped.
    pub fn type_errors_remain(&self) -> bool {
        self.type_errors.load(Ordering::SeqCst) < self.max_type_errors
    }

    /// Type errors seen so far (recorded and skipped, or fatal).
    pub fn type_error_count(&self) -> u64 {
        self.type_errors.load(Ordering::SeqCst)
    }

    /// Duplicates counted so far.
    pub fn conflict_count(&self) -> u64 {
        self.conflicts.load(Ordering::SeqCst)
    }

    async fn ensure_tables(&self, schema: &str) -> Result<(), TidbError> {
        self.tables_ready
            .get_or_try_init(|| async {
                let schema_q = quote_identifier(schema);
                let statements = [
                    format!("CREATE DATABASE IF NOT EXISTS {schema_q}"),
                    format!(
                        "CREATE TABLE IF NOT EXISTS {schema_q}.{TYPE_ERROR_TABLE} (\
                         task_id bigint NOT NULL, \
                         create_time datetime(6) NOT NULL DEFAULT now(6), \
                         table_name varchar(261) NOT NULL, \
                         path varchar(2048) NOT NULL, \
                         `offset` bigint NOT NULL, \
                         error text NOT NULL, \
                         row_data text NOT NULL)"
                    ),
                    format!(
                        "CREATE TABLE IF NOT EXISTS {schema_q}.{CONFLICT_RECORDS_TABLE} (\
                         task_id bigint NOT NULL, \
                         create_time datetime(6) NOT NULL DEFAULT now(6), \
                         table_name varchar(261) NOT NULL, \
                         path varchar(2048) NOT NULL, \
                         `offset` bigint NOT NULL, \
                         error text NOT NULL, \
                         row_id bigint NOT NULL COMMENT 'the row id of the conflicted row', \
                         row_data text NOT NULL COMMENT 'the row data of the conflicted row', \
                         KEY (task_id, table_name))"
                    ),
                ];
                for sql in statements {
                    let sql: std::sync::Arc<str> = sql.into();
                    with_retry(self.retry, "creating the error record tables", || {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&self.pool)
                    })
                    .await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    async fn insert(
        &self,
        record_table: &str,
        table: &str,
        origin: &RowOrigin,
        message: &str,
        row_data: &str,
        with_row_id: bool,
    ) -> Result<(), TidbError> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        self.ensure_tables(schema).await?;
        let offset = i64::try_from(origin.offset).unwrap_or(i64::MAX);
        let sql: std::sync::Arc<str> = if with_row_id {
            format!(
                "INSERT INTO {}.{record_table} (task_id, table_name, path, `offset`, error, row_id, row_data) VALUES (?, ?, ?, ?, ?, 0, ?)",
                quote_identifier(schema)
            )
        } else {
            format!(
                "INSERT INTO {}.{record_table} (task_id, table_name, path, `offset`, error, row_data) VALUES (?, ?, ?, ?, ?, ?)",
                quote_identifier(schema)
            )
        }
        .into();
        with_retry(self.retry, "recording a bad row", || {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.task_id)
                .bind(table)
                .bind(&*origin.file)
                .bind(offset)
                .bind(message)
                .bind(row_data)
                .execute(&self.pool)
        })
        .await
        .map(|_| ())
    }

    /// Counts a row the server rejected for its data. Within `max-error.type`
    /// the row is recorded and `Ok` means "skip it and go on"; beyond, the
    /// error names the row and the threshold.
    pub async fn record_type_error(
        &self,
        table: &str,
        origin: &RowOrigin,
        row_data: &str,
        message: &str,
    ) -> Result<(), TidbError> {
        let seen = self.type_errors.fetch_add(1, Ordering::SeqCst) + 1;
        if seen > self.max_type_errors {
            let message = if self.max_type_errors > 0 {
                format!(
                    "{message}; the number of type errors exceeds the threshold configured by `max-error.type`: '{}'",
                    self.max_type_errors
                )
            } else {
                message.to_string()
            };
            return Err(row_error(table, origin, message, ErrorClass::BadData));
        }
        tracing::warn!(table, file = %origin.file, offset = origin.offset, error = message, "row skipped");
        self.insert(TYPE_ERROR_TABLE, table, origin, message, row_data, false)
            .await
    }

    /// Records the duplicate that stops an `error`-mode import (once per
    /// failing writer) and returns the error that stops it.
    pub async fn record_duplicate_and_stop(
        &self,
        table: &str,
        origin: &RowOrigin,
        row_data: &str,
        message: &str,
    ) -> TidbError {
        self.conflicts.fetch_add(1, Ordering::SeqCst);
        if let Err(err) = self
            .insert(
                CONFLICT_RECORDS_TABLE,
                table,
                origin,
                message,
                row_data,
                true,
            )
            .await
        {
            tracing::warn!(table, error = %err, "could not record the duplicate row");
        }
        row_error(table, origin, message.to_string(), ErrorClass::Duplicate)
    }

    /// Counts duplicates the server resolved (`REPLACE` / `INSERT IGNORE`)
    /// against `[conflict] threshold`.
    pub fn count_resolved_duplicates(&self, table: &str, count: u64) -> Result<(), TidbError> {
        if count == 0 {
            return Ok(());
        }
        let total = self.conflicts.fetch_add(count, Ordering::SeqCst) + count;
        match self.conflict_threshold {
            Some(threshold) if total > threshold => Err(TidbError::Row {
                table: table.to_string(),
                file: String::new(),
                offset: 0,
                message: format!(
                    "the number of conflict errors ({total}) exceeds the threshold configured by `conflict.threshold`: '{threshold}'"
                ),
                class: ErrorClass::Duplicate,
            }),
            _ => Ok(()),
        }
    }
}

fn row_error(table: &str, origin: &RowOrigin, message: String, class: ErrorClass) -> TidbError {
    TidbError::Row {
        table: table.to_string(),
        file: origin.file.to_string(),
        offset: origin.offset,
        message,
        class,
    }
}
