//! The one error type every backend maps its own errors into.
//!
//! Backends keep precise `thiserror` enums of their own and convert at the
//! boundary with `From`. The core error carries a [`ErrorKind`] that callers
//! branch on and a retryable flag that drives [`crate::ClosedEngine::import`]'s
//! retry loop, so no caller ever has to inspect message text.

use std::fmt;

/// What went wrong, coarsely, so callers can decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration value is missing, unknown or invalid.
    Config,
    /// The backend does not support the requested operation.
    Unsupported,
    /// The same key was written with different values. The engine's data has
    /// still been imported completely; it is safe to reset or clean it up.
    DuplicateDetected,
    /// The target (server or store) cannot be reached or refused the request.
    TargetUnavailable,
    /// A value or row cannot be encoded or stored (out of range, bad format…).
    BadData,
    /// A schema (database or table definition) conflicts with what exists.
    SchemaMismatch,
    /// An engine, table or file that was asked for does not exist.
    NotFound,
    /// The operation is not valid in the object's current state (for example
    /// writing into an engine that has been closed).
    InvalidState,
    /// Reading or writing local files failed.
    Io,
    /// The operation was cancelled before it finished.
    Cancelled,
    /// A broken invariant inside the importer itself.
    Internal,
}

impl ErrorKind {
    /// A short lower-case name, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::DuplicateDetected => "duplicate detected",
            ErrorKind::TargetUnavailable => "target unavailable",
            ErrorKind::BadData => "bad data",
            ErrorKind::SchemaMismatch => "schema mismatch",
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidState => "invalid state",
            ErrorKind::Io => "i/o",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every `backend-core` API.
///
/// `Display` prints the message only; the source chain is reachable through
/// [`std::error::Error::source`], so `anyhow`'s `{:#}` prints all of it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    retryable: bool,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A non-retryable error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            retryable: false,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Marks the error as transient: the same operation may succeed if tried
    /// again after a delay.
    #[must_use]
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The message, without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with where it happened (an engine, a table, a
    /// file), keeping kind, retryability and source.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Shorthand for [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for [`ErrorKind::DuplicateDetected`].
    pub fn duplicate_detected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::DuplicateDetected, message)
    }

    /// Shorthand for a retryable [`ErrorKind::TargetUnavailable`].
    pub fn target_unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TargetUnavailable, message).retryable()
    }

    /// Shorthand for [`ErrorKind::BadData`].
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::InvalidState`].
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidState, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An [`ErrorKind::Io`] error about `path`.
    pub fn io(what: impl fmt::Display, source: std::io::Error) -> Self {
        let retryable = matches!(
            source.kind(),
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
        );
        let mut err = Self::new(ErrorKind::Io, format!("{what}: {source}")).with_source(source);
        err.retryable = retryable;
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_kind_and_retryability() {
        let err = Error::target_unavailable("connection reset").context("engine `db`.`t`:0");
        assert_eq!(err.kind(), ErrorKind::TargetUnavailable);
        assert!(err.is_retryable());
        assert_eq!(err.to_string(), "engine `db`.`t`:0: connection reset");
    }

    #[test]
    fn io_error_names_what_and_keeps_source() {
        let err = Error::io(
            "reading /tmp/x",
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        );
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(!err.is_retryable());
        assert!(err.to_string().starts_with("reading /tmp/x: "));
        assert!(std::error::Error::source(&err).is_some());
    }
}
