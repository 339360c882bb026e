//! The data source's error type.

use std::path::PathBuf;

use backend_core::ErrorKind;

/// An error reading the data source. Every variant names the file; those
/// about data also name the byte offset (in the decompressed stream) and the
/// line (1-based, counted from where the parser started).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Reading a file or directory failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Data that cannot be parsed: the parser cannot continue in this file.
    #[error("{file}: offset {offset}, line {line}: {reason}")]
    Syntax {
        /// The data file.
        file: String,
        /// Byte offset where the problem starts.
        offset: u64,
        /// Line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// One row is bad (wrong column count, invalid characters…). The parser
    /// has stepped past it and can continue.
    #[error("{file}: offset {offset}, line {line}: {reason}")]
    BadRow {
        /// The data file.
        file: String,
        /// Byte offset of the row's start.
        offset: u64,
        /// Line number of the row's start.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A row is larger than the parser's limit.
    #[error("{file}: offset {offset}, line {line}: row is longer than {limit} bytes")]
    RowTooLarge {
        /// The data file.
        file: String,
        /// Byte offset of the row's start.
        offset: u64,
        /// Line number of the row's start.
        line: u64,
        /// The limit ([`dump_source::ParserOptions::max_row_size`]).
        limit: usize,
    },
    /// A schema file cannot be understood.
    #[error("{file}: {reason}")]
    Schema {
        /// The schema file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A statement of a schema file cannot be understood, at a known line.
    #[error("{file}: line {line}: {reason}")]
    SchemaAt {
        /// The schema file.
        file: String,
        /// The line (1-based) of the statement or of the construct.
        line: u64,
        /// What is wrong, naming the construct.
        reason: String,
    },
    /// The directory layout or a file name is invalid, or a table's data has
    /// no schema.
    #[error("{path}: {reason}")]
    Layout {
        /// The file or directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An object store request failed: no such bucket or object, access
    /// denied, an unreachable endpoint, missing credentials… The location
    /// is the URL without credentials; the reason is scrubbed of secrets.
    #[error("{location}{}: {what}: {reason}", object_part(object))]
    Storage {
        /// The data source URL, without credentials.
        location: String,
        /// The object, relative to the URL's prefix (empty for the listing).
        object: String,
        /// What was being done.
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// An object differs from the one the scan listed (its ETag changed):
    /// it was replaced during the import, and reading on would mix two
    /// versions of the data.
    #[error(
        "{location}: {object}: the object changed since the import listed it (its ETag differs); \
         its table stops rather than mix two versions of the data"
    )]
    Changed {
        /// The data source URL, without credentials.
        location: String,
        /// The object, relative to the URL's prefix.
        object: String,
    },
    /// An option is invalid.
    #[error("invalid data source option: {0}")]
    Config(String),
}

/// `": object"`, or nothing for an empty name (the listing).
fn object_part(object: &str) -> String {
    if object.is_empty() {
        String::new()
    } else {
        format!(": {object}")
    }
}

impl SourceError {
    /// Whether the error concerns one row the parser has already stepped
    /// over, so the caller may record it and read on.
    pub fn is_row_error(&self) -> bool {
        matches!(self, SourceError::BadRow { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        SourceError::Io {
            path: path.into(),
            what,
            source,
        }
    }
}

impl From<SourceError> for backend_core::Error {
    fn from(err: SourceError) -> Self {
        let kind = match &err {
            SourceError::Io { .. } | SourceError::Storage { .. } => ErrorKind::Io,
            SourceError::Changed { .. } => ErrorKind::InvalidState,
            SourceError::Syntax { .. }
            | SourceError::BadRow { .. }
            | SourceError::RowTooLarge { .. } => ErrorKind::BadData,
            SourceError::Schema { .. } | SourceError::SchemaAt { .. } => ErrorKind::SchemaMismatch,
            SourceError::Layout { .. } => ErrorKind::NotFound,
            SourceError::Config(_) => ErrorKind::Config,
        };
        backend_core::Error::new(kind, err.to_string()).with_source(err)
    }
}
