//! The logical import backend: rows become batched `INSERT` statements on a
//! MySQL-protocol server (TiDB, MySQL or MariaDB) through `sqlx`.
//!
//! # Design
//!
//! **Lifecycle.** Engines are no-ops: [`TidbBackend`] keeps no data of its
//! own. A [`TidbWriter`]'s `append_rows` sends its rows before returning, so
//! the writer is synced after every successful call and every delivered
//! batch can be checkpointed; `import_engine` has nothing left to do and
//! `reset_engine` is unsupported (the rows are already on the server).
//!
//! **Encoding.** [`TidbEncoder`] turns each row into a SQL value tuple whose
//! literals the server's lexer reads back byte for byte: binary data and
//! invalid UTF-8 as hex, text escaped for the session's `sql_mode`. Columns
//! the data does not carry are omitted so the server fills their defaults.
//!
//! **Statements.** Tuples are cut into statements by bytes
//! (`logical-import-batch-size`), rows (`logical-import-batch-rows`) and the
//! server's `max_allowed_packet`; `on-duplicate` picks `REPLACE`,
//! `INSERT IGNORE` or `INSERT`. Each statement runs with autocommit and is
//! atomic, which makes the two recovery paths safe: a transient error
//! (classified by MySQL error number, see [`error`]) retries the same
//! statement with backoff; a data error redoes the batch row by row so the
//! bad rows can be recorded in Lightning's `lightning_task_info` tables and
//! skipped within `max-error` (see [`errors_table`]).
//!
//! **Target.** [`TidbBackend`] is also the pipeline's
//! [`backend_core::ImportTarget`]: it runs the dump's `CREATE` statements
//! (idempotently), reads tables back from `information_schema`, and does the
//! post-import SQL (row counts, `ANALYZE`, `AUTO_INCREMENT`, deferred
//! secondary indexes). What it supports is [`TidbBackend::CAPABILITIES`].
//!
//! **Why sqlx's text protocol.** Statements go through `raw_sql` (COM_QUERY):
//! each batch is a unique statement, so preparing it would cost a round
//! trip and a server-side statement for nothing.
//!
//! Crates: `sqlx` (MySQL protocol, rustls TLS, pool), `tokio` (backoff
//! sleeps, once-only table creation), `async-trait` (the core traits),
//! `thiserror` ([`TidbError`]), `tracing` (retry and skip logs).

#![deny(missing_docs)]

mod backend;
pub mod config;
pub mod encoder;
pub mod error;
pub mod errors_table;
pub mod indexes;
mod markers;
pub mod retry;
mod server;
mod target;
mod target_info;
pub mod writer;

pub use backend::TidbBackend;
pub use config::{OnDuplicate, TidbBackendConfig, TlsMode};
pub use encoder::{TidbEncoder, TidbEncodingBuilder};
pub use error::{ErrorClass, TidbError};
pub use server::{ServerInfo, ServerKind};
pub use target::RemoteChecksum;
pub use target_info::TidbTargetInfoGetter;
pub use writer::TidbWriter;
