//! The seam between engines and where their data goes.
//!
//! [`IngestTarget`] is all the import step needs: ingest finished SST files,
//! read existing pairs of a key range (to find duplicates against the
//! target), and record the losers of duplicate resolution.
//! [`TargetStore`](crate::TargetStore), the embedded RocksDB target,
//! implements it; a TiKV import-service target would implement the same
//! trait (ingest = upload + ingest per region).

use std::fmt;
use std::path::{Path, PathBuf};

use rocksdb::{Options, SstFileWriter};
use uuid::Uuid;

use crate::config::target_data_options;
use crate::error::{LocalError, LocalResult};

/// Regions of at most this many bytes go through
/// [`IngestTarget::write_pairs`]: for the embedded store an SST per tiny
/// region costs more (a file, its sync, a MANIFEST write, one more file in
/// every later version of the store) than writing its pairs.
pub const SMALL_REGION_BYTES: u64 = 1 << 20;

/// One value that lost duplicate resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRecord {
    /// The user key.
    pub key: Vec<u8>,
    /// The losing value.
    pub value: Vec<u8>,
    /// The row id it was encoded from (0 when unknown, e.g. the target's
    /// previous value).
    pub row_id: i64,
    /// The engine it came from; the nil UUID for a value that was already in
    /// the target and was replaced.
    pub engine: Uuid,
}

/// A forward cursor over the target's existing pairs in one key range.
pub trait TargetCursor {
    /// Positions at the first pair with key ≥ `key`.
    fn seek(&mut self, key: &[u8]);
    /// Moves to the next pair.
    fn next(&mut self);
    /// The current pair, `None` past the range's end.
    fn current(&self) -> Option<(&[u8], &[u8])>;
    /// The error that ended iteration early, if any.
    fn status(&self) -> LocalResult<()>;
}

/// Where imports go. Implementations must be shareable between the range
/// tasks of an import.
pub trait IngestTarget: Send + Sync + fmt::Debug {
    /// Where the target is, for messages.
    fn location(&self) -> &Path;

    /// Options SST files for this target are written with: by default the
    /// target store's own table format (block size, compression), so an SST
    /// is ingested as it was written.
    fn sst_options(&self) -> Options {
        target_data_options()
    }

    /// Ingests finished SST files (non-overlapping among themselves) whole:
    /// after success their pairs are durable in the target and newer than
    /// what it held; after failure none of them is visible. Files may be
    /// moved (hard-linked) rather than copied.
    fn ingest_ssts(&self, files: &[PathBuf]) -> LocalResult<()>;

    /// Writes one small region: `pairs` in ascending key order, as
    /// [`IngestTarget::ingest_ssts`] would one SST of them (durable, newer,
    /// all or nothing). The import hands regions of up to
    /// [`SMALL_REGION_BYTES`] here, so a target may take them a cheaper way
    /// than a file each. By default they are written as an SST at
    /// `scratch` (a free path beside the engine) and ingested.
    fn write_pairs(&self, pairs: &[(Vec<u8>, Vec<u8>)], scratch: &Path) -> LocalResult<()> {
        let opts = self.sst_options();
        let mut writer = SstFileWriter::create(&opts);
        let result = writer
            .open(scratch)
            .and_then(|()| pairs.iter().try_for_each(|(k, v)| writer.put(k, v)))
            .and_then(|()| writer.finish())
            .map_err(|e| LocalError::rocks("writing region SST", scratch, e))
            .and_then(|()| self.ingest_ssts(&[scratch.to_path_buf()]));
        // After a move the file is gone; after a failure it must go.
        let _ = std::fs::remove_file(scratch);
        result
    }

    /// A cursor over the target's existing pairs in `[lower, upper)`.
    fn cursor(&self, lower: &[u8], upper: Option<&[u8]>) -> Box<dyn TargetCursor + '_>;

    /// Durably records values that lost duplicate resolution. Recording the
    /// same record twice keeps one copy.
    fn record_duplicates(&self, records: &[DuplicateRecord]) -> LocalResult<()>;
}
