//! What a backend can do, as data: the pipeline, config checks and the
//! behaviour suite read one [`Capabilities`] value instead of keeping lists
//! of backends.

/// The shape of rows a backend consumes (see [`crate::Rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowEncoding {
    /// KV pairs in TiDB's key format, sorted by the backend.
    Kv,
    /// SQL value tuples, written through as they come.
    Sql,
}

/// What the target's checksum of an imported table can be compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    /// A KV checksum of the table's pairs, compared with the one computed
    /// while encoding.
    Kv,
    /// A row count only.
    Rows,
}

/// Which handling of a key written twice with different values a backend
/// offers (Lightning's `on-duplicate` / `conflict.strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DuplicateModes {
    /// Keep one value and report the conflict as an error.
    pub error: bool,
    /// Keep the last value written.
    pub replace: bool,
    /// Keep the first value silently.
    pub ignore: bool,
}

impl DuplicateModes {
    /// Every mode.
    pub const ALL: DuplicateModes = DuplicateModes {
        error: true,
        replace: true,
        ignore: true,
    };
}

/// What a backend supports, declared once by the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The rows its encoder produces and its writers take.
    pub encoding: RowEncoding,
    /// The duplicate modes it can be configured with.
    pub duplicate_modes: DuplicateModes,
    /// The import reports [`ErrorKind::DuplicateDetected`](crate::ErrorKind::DuplicateDetected)
    /// for a key written twice with different values.
    pub duplicate_detection: bool,
    /// What its target's [`ImportTarget::checksum`](crate::ImportTarget::checksum) returns.
    pub checksum: ChecksumKind,
    /// Its target can drop secondary indexes before the rows and add them
    /// back after ([`ImportTarget::deferrable_indexes`](crate::ImportTarget::deferrable_indexes)).
    pub deferred_indexes: bool,
    /// Engine data survives a restart: a flushed engine can be reopened, or
    /// closed by a new process and imported.
    pub persistent_engines: bool,
    /// [`Backend::reset_engine`](crate::Backend::reset_engine) drops what an
    /// open engine holds.
    pub reset_engine: bool,
    /// Engines track their state: writing into a closed engine fails.
    pub engine_states: bool,
    /// Engines keep data on local disk until cleaned up (disk quota applies).
    pub local_engine_data: bool,
    /// Writers apply their rows to the target as they come (each holds its
    /// own session), so several writers of one chunk write in parallel: a
    /// chunk given several slots then delivers over one writer per slot.
    /// Writers that buffer for a later import gain nothing from it.
    pub parallel_writers: bool,
}
