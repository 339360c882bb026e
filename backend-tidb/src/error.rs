//! The backend's errors and how server errors are classified.
//!
//! Classification uses the MySQL error *number* (and the driver's error
//! variant for I/O), never message text: message wording differs between
//! TiDB, MySQL and MariaDB versions and languages, numbers do not.

use backend_core::{Error, ErrorKind};

/// What the writer does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (lost connection, deadlock, lock wait…): try the same
    /// statement again after a backoff.
    Retryable,
    /// A duplicate key (1062, 1586): the row conflicts with an existing one.
    Duplicate,
    /// The row's data is bad (out of range, wrong value, too long, NULL into
    /// NOT NULL…): the row can be recorded and skipped.
    BadData,
    /// The table or a column does not exist or differs from what we expect.
    Schema,
    /// Anything else: stop.
    Fatal,
}

/// MySQL/MariaDB/TiDB error numbers that are transient.
const RETRYABLE: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR: too many connections
    1053, // ER_SERVER_SHUTDOWN
    1158, // ER_NET_READ_ERROR
    1159, // ER_NET_READ_INTERRUPTED
    1160, // ER_NET_ERROR_ON_WRITE
    1161, // ER_NET_WRITE_INTERRUPTED
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1317, // ER_QUERY_INTERRUPTED (KILL QUERY)
    1927, // ER_CONNECTION_KILLED (MariaDB, KILL CONNECTION)
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
    8027, // TiDB: schema outdated
    8028, // TiDB: information schema changed
    9001, // TiDB: PD server timeout
    9002, // TiDB: TiKV server timeout
    9003, // TiDB: TiKV server busy
    9005, // TiDB: region unavailable
    9007, // TiDB: write conflict
];

/// Error numbers that mean the row is bad.
const BAD_DATA: &[u16] = &[
    1048, // ER_BAD_NULL_ERROR: column cannot be null
    1101, // ER_BLOB_CANT_HAVE_DEFAULT
    1264, // ER_WARN_DATA_OUT_OF_RANGE
    1265, // WARN_DATA_TRUNCATED
    1292, // ER_TRUNCATED_WRONG_VALUE (dates, numbers)
    1364, // ER_NO_DEFAULT_FOR_FIELD
    1365, // ER_DIVISION_BY_ZERO
    1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (incorrect value)
    1367, // ER_ILLEGAL_VALUE_FOR_TYPE
    1406, // ER_DATA_TOO_LONG
    1411, // ER_WRONG_VALUE_FOR_TYPE
    1451, // ER_ROW_IS_REFERENCED_2
    1452, // ER_NO_REFERENCED_ROW_2
    1526, // ER_NO_PARTITION_FOR_GIVEN_VALUE
    1690, // ER_DATA_OUT_OF_RANGE
    1748, // ER_ROW_DOES_NOT_MATCH_GIVEN_PARTITION_SET
    3140, // ER_INVALID_JSON_TEXT
    3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    4025, // ER_CONSTRAINT_FAILED (MariaDB CHECK)
];

/// Error numbers of duplicate keys.
const DUPLICATE: &[u16] = &[
    1062, // ER_DUP_ENTRY
    1586, // ER_DUP_ENTRY_WITH_KEY_NAME
];

/// Error numbers about the schema.
const SCHEMA: &[u16] = &[
    1049, // ER_BAD_DB_ERROR
    1054, // ER_BAD_FIELD_ERROR
    1136, // ER_WRONG_VALUE_COUNT_ON_ROW
    1146, // ER_NO_SUCH_TABLE
];

/// Classifies a server error number.
pub fn classify_number(number: u16) -> ErrorClass {
    if RETRYABLE.contains(&number) {
        ErrorClass::Retryable
    } else if DUPLICATE.contains(&number) {
        ErrorClass::Duplicate
    } else if BAD_DATA.contains(&number) {
        ErrorClass::BadData
    } else if SCHEMA.contains(&number) {
        ErrorClass::Schema
    } else {
        ErrorClass::Fatal
    }
}

/// Classifies a driver error.
pub fn classify(err: &sqlx::Error) -> ErrorClass {
    match err {
        sqlx::Error::Database(db) => match server_number(err) {
            Some(number) => classify_number(number),
            // Not a MySQL error (cannot happen with this driver): inspect
            // the driver's own kind.
            None => match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => ErrorClass::Duplicate,
                sqlx::error::ErrorKind::NotNullViolation
                | sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation => ErrorClass::BadData,
                _ => ErrorClass::Fatal,
            },
        },
        // rustls reports a rejected certificate as invalid data: retrying
        // cannot help.
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => ErrorClass::Fatal,
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => ErrorClass::Retryable,
        _ => ErrorClass::Fatal,
    }
}

/// The MySQL error number of a server error.
pub fn server_number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(sqlx::mysql::MySqlDatabaseError::number),
        _ => None,
    }
}

/// Errors of the SQL backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TidbError {
    /// A configuration value is invalid.
    #[error("{0}")]
    Config(String),

    /// A statement failed; `what` says which and where.
    #[error("{what}: {source}")]
    Sql {
        /// What was being done (`inserting into `db`.`t``, …).
        what: String,
        /// How the error was classified.
        class: ErrorClass,
        /// The driver's error, with the server's number and message.
        #[source]
        source: sqlx::Error,
    },

    /// A statement kept failing with transient errors.
    #[error("{what}: still failing after {attempts} attempts: {source}")]
    RetriesExhausted {
        /// What was being done.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: sqlx::Error,
    },

    /// A row failed and the error threshold does not allow skipping it.
    #[error("{table}: row at {file}:{offset} failed: {message}")]
    Row {
        /// The table's unique name.
        table: String,
        /// The data file the row came from.
        file: String,
        /// The row's byte offset in the file.
        offset: u64,
        /// The server's message (and threshold note).
        message: String,
        /// Duplicate or bad data.
        class: ErrorClass,
    },

    /// A value cannot be written as a SQL literal.
    #[error("column {column}: {reason}")]
    BadValue {
        /// The column's name.
        column: String,
        /// Why.
        reason: String,
    },

    /// The server cannot take this import (version, privileges…).
    #[error("{0}")]
    Requirement(String),

    /// The operation is not supported by this backend or server.
    #[error("{0}")]
    Unsupported(String),

    /// Reading a local file (certificate, key) failed.
    #[error("{what}: {source}")]
    Io {
        /// Which file.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl TidbError {
    /// A statement error, classified.
    pub fn sql(what: impl Into<String>, source: sqlx::Error) -> Self {
        TidbError::Sql {
            what: what.into(),
            class: classify(&source),
            source,
        }
    }
}

impl From<TidbError> for Error {
    fn from(err: TidbError) -> Self {
        let (kind, retryable) = match &err {
            TidbError::Config(_) => (ErrorKind::Config, false),
            TidbError::Sql { class, source, .. } => match class {
                ErrorClass::Retryable => (ErrorKind::TargetUnavailable, true),
                ErrorClass::Duplicate => (ErrorKind::DuplicateDetected, false),
                ErrorClass::BadData => (ErrorKind::BadData, false),
                ErrorClass::Schema => (ErrorKind::SchemaMismatch, false),
                ErrorClass::Fatal => match source {
                    sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) | sqlx::Error::Io(_) => {
                        (ErrorKind::Config, false)
                    }
                    _ => (ErrorKind::TargetUnavailable, false),
                },
            },
            // Retrying again right away is what just failed; let the caller
            // decide (checkpoints make a later resume safe).
            TidbError::RetriesExhausted { .. } => (ErrorKind::TargetUnavailable, false),
            TidbError::Row { class, .. } => match class {
                ErrorClass::Duplicate => (ErrorKind::DuplicateDetected, false),
                _ => (ErrorKind::BadData, false),
            },
            TidbError::BadValue { .. } => (ErrorKind::BadData, false),
            TidbError::Requirement(_) => (ErrorKind::TargetUnavailable, false),
            TidbError::Unsupported(_) => (ErrorKind::Unsupported, false),
            TidbError::Io { .. } => (ErrorKind::Io, false),
        };
        let mut core = Error::new(kind, err.to_string());
        if retryable {
            core = core.retryable();
        }
        core.with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_classify() {
        for n in [1040, 1205, 1213, 1927, 2006, 2013] {
            assert_eq!(classify_number(n), ErrorClass::Retryable, "{n}");
        }
        assert_eq!(classify_number(1062), ErrorClass::Duplicate);
        for n in [1048, 1264, 1265, 1292, 1366, 1406] {
            assert_eq!(classify_number(n), ErrorClass::BadData, "{n}");
        }
        assert_eq!(classify_number(1146), ErrorClass::Schema);
        assert_eq!(classify_number(1045), ErrorClass::Fatal);
    }

    #[test]
    fn io_errors_are_retryable_and_map_to_core() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert_eq!(classify(&io), ErrorClass::Retryable);
        let core: Error = TidbError::sql("inserting into `a`.`b`", io).into();
        assert_eq!(core.kind(), ErrorKind::TargetUnavailable);
        assert!(core.is_retryable());
        assert!(core.to_string().starts_with("inserting into `a`.`b`: "));
        let row: Error = TidbError::Row {
            table: "`a`.`b`".into(),
            file: "a.b.sql".into(),
            offset: 17,
            message: "Duplicate entry '1' for key 'PRIMARY'".into(),
            class: ErrorClass::Duplicate,
        }
        .into();
        assert_eq!(row.kind(), ErrorKind::DuplicateDetected);
        assert!(row.to_string().contains("a.b.sql:17"));
    }
}
