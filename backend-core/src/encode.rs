//! Encoders: from parsed values to a backend's row shape.
//!
//! Each backend supplies an [`EncodingBuilder`]; the pipeline creates one
//! [`RowEncoder`] per worker and table. Encoders convert values to the column
//! types (under the SQL mode), fill defaults and auto-increment values, and
//! produce [`EncodedRow`]s.

use std::fmt::Debug;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::datum::{Datum, SqlMode};
use crate::error::Result;
use crate::model::TidbTableInfo;
use crate::row::{EncodedRow, EncodedRows, RowOrigin, Rows};

/// What an encoder needs to know besides the values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodingConfig {
    /// The target table.
    pub table: Arc<TidbTableInfo>,
    /// How strictly values convert.
    pub sql_mode: SqlMode,
    /// The session time, seconds since the Unix epoch (UTC), used for
    /// `CURRENT_TIMESTAMP` defaults. Recorded in checkpoints so a resumed
    /// import encodes the same values.
    pub timestamp: i64,
}

/// Maps parsed values to table columns.
///
/// Entry `i` is, for table column `i`, the index into the parsed row of its
/// value, or `None` when the data does not carry the column (it takes its
/// default). An optional extra trailing entry maps `_tidb_rowid`.
pub type ColumnPermutation = [Option<usize>];

/// Encodes one table's rows. Not shared between workers.
pub trait RowEncoder: Send + Debug {
    /// Encodes one row.
    ///
    /// `row_id` is the row's pre-allocated id (the record handle when the
    /// table has no integer primary key, and the auto-increment value for
    /// missing/NULL auto-increment columns). Errors are
    /// [`crate::ErrorKind::BadData`] naming the column and the reason;
    /// callers add the origin.
    fn encode(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        origin: &RowOrigin,
    ) -> Result<EncodedRow>;

    /// Encodes one row and appends it to `out`, returning the payload bytes
    /// added ([`EncodedRow::size`]). On error `out` is left as it was.
    ///
    /// The default goes through [`RowEncoder::encode`]; encoders of KV pairs
    /// override it to write the pairs into `out`'s [`crate::KvPairs`] in
    /// place, with no allocation per pair. Both must produce the same rows.
    fn encode_into(
        &mut self,
        row: &[Datum],
        row_id: i64,
        permutation: &ColumnPermutation,
        origin: &RowOrigin,
        out: &mut EncodedRows,
    ) -> Result<usize> {
        let encoded = self.encode(row, row_id, permutation, origin)?;
        Ok(out.push(encoded))
    }

    /// Warnings (values clamped or truncated in non-strict mode) since the
    /// last call, which resets the count.
    fn take_warnings(&mut self) -> u64 {
        0
    }

    /// The largest auto-increment (or integer handle) value encoded so far,
    /// so the table's auto-increment base can be rebased after the import.
    fn max_auto_id(&self) -> i64 {
        0
    }
}

/// Creates encoders of one backend's row shape.
pub trait EncodingBuilder: Send + Sync + Debug {
    /// A new encoder for `config.table`.
    fn new_encoder(&self, config: &EncodingConfig) -> Result<Box<dyn RowEncoder>>;

    /// An empty batch of this backend's shape.
    fn make_empty_rows(&self) -> Rows;
}
