//! Encoded rows in the two shapes backends consume.
//!
//! Physical backends take KV pairs (record and index entries in TiDB's key
//! format) that they sort themselves; logical backends take SQL value tuples
//! they batch into statements. An encoder appends each source row to an
//! [`EncodedRows`] (the data and index streams with their checksums), either
//! in place ([`crate::RowEncoder::encode_into`]) or as one [`EncodedRow`] at
//! a time; the pipeline hands the streams to writers as [`Rows`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checksum::KvChecksum;
use crate::pairs::{KvPair, KvPairs};

/// Where a row came from, for error messages and duplicate reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RowOrigin {
    /// The data file's path (relative to the data source), shared by every
    /// row of a chunk.
    pub file: Arc<str>,
    /// Byte offset of the row's start in the (decompressed) file.
    pub offset: u64,
}

/// One row as a SQL value tuple, e.g. `(1,'a',NULL)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SqlRow {
    /// The tuple's text including parentheses; always valid UTF-8 (binary
    /// values are hex literals).
    pub tuple: String,
    /// Where the row came from.
    pub origin: RowOrigin,
}

/// A batch of encoded rows for one writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// KV pairs for a physical backend, in any order unless the writer was
    /// opened with `is_kv_sorted`.
    Kv(KvPairs),
    /// SQL tuples for a logical backend.
    Sql(Vec<SqlRow>),
}

impl Rows {
    /// Number of pairs or tuples.
    pub fn len(&self) -> usize {
        match self {
            Rows::Kv(pairs) => pairs.len(),
            Rows::Sql(rows) => rows.len(),
        }
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate payload bytes (keys + values, or tuple text).
    pub fn size(&self) -> usize {
        match self {
            Rows::Kv(pairs) => pairs.size(),
            Rows::Sql(rows) => rows.iter().map(|row| row.tuple.len()).sum(),
        }
    }

    /// Makes room for `rows` more pairs or tuples and, for pairs, `bytes`
    /// more key and value bytes.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        match self {
            Rows::Kv(pairs) => pairs.reserve(rows, bytes),
            Rows::Sql(sql) => sql.reserve(rows),
        }
    }

    /// An empty batch of the same shape, for reuse after a hand-off.
    pub fn empty_like(&self) -> Rows {
        match self {
            Rows::Kv(_) => Rows::Kv(KvPairs::new()),
            Rows::Sql(_) => Rows::Sql(Vec::new()),
        }
    }

    /// Takes the contents, leaving an empty batch of the same shape.
    pub fn take(&mut self) -> Rows {
        let empty = self.empty_like();
        std::mem::replace(self, empty)
    }
}

/// One encoded source row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedRow {
    /// The record pair and the row's index pairs.
    Kv {
        /// The record pair (`t{id}_r{handle}`).
        record: KvPair,
        /// One pair per index entry (`t{id}_i{index}…`).
        indexes: Vec<KvPair>,
    },
    /// A SQL tuple.
    Sql(SqlRow),
}

impl EncodedRow {
    /// Payload bytes the row adds to a batch, as [`Rows::size`] counts them.
    pub fn size(&self) -> usize {
        match self {
            EncodedRow::Kv { record, indexes } => {
                record.size() + indexes.iter().map(KvPair::size).sum::<usize>()
            }
            EncodedRow::Sql(row) => row.tuple.len(),
        }
    }

    /// Appends the row's record data to `data` and its index entries to
    /// `index`, updating the matching checksums. A SQL row goes to `data`
    /// whole and leaves the checksums alone (they are KV checksums).
    ///
    /// A row whose shape differs from the batch's is a bug in the pipeline;
    /// it is dropped into a fresh batch of the row's shape rather than lost.
    pub fn classify_and_append(
        self,
        data: &mut Rows,
        data_checksum: &mut KvChecksum,
        index: &mut Rows,
        index_checksum: &mut KvChecksum,
    ) {
        match self {
            EncodedRow::Kv { record, indexes } => {
                data_checksum.update_one(&record.key, &record.value);
                push_kv(data, record);
                for pair in indexes {
                    index_checksum.update_one(&pair.key, &pair.value);
                    push_kv(index, pair);
                }
            }
            EncodedRow::Sql(row) => match data {
                Rows::Sql(rows) => rows.push(row),
                Rows::Kv(pairs) if pairs.is_empty() => *data = Rows::Sql(vec![row]),
                Rows::Kv(_) => {
                    debug_assert!(false, "SQL row appended to a KV batch");
                }
            },
        }
    }
}

fn push_kv(rows: &mut Rows, pair: KvPair) {
    match rows {
        Rows::Kv(pairs) => pairs.push(&pair.key, &pair.value, pair.row_id),
        Rows::Sql(sql) if sql.is_empty() => *rows = Rows::Kv(KvPairs::from(vec![pair])),
        Rows::Sql(_) => debug_assert!(false, "KV pair appended to a SQL batch"),
    }
}

/// Encoded rows on their way to the writers: the data (record) and index
/// streams of one hand-off with their KV checksums (SQL rows all go to
/// `data` and leave the checksums alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRows {
    /// Record pairs, or SQL tuples.
    pub data: Rows,
    /// Index pairs.
    pub index: Rows,
    /// Checksum of `data`'s pairs.
    pub data_checksum: KvChecksum,
    /// Checksum of `index`'s pairs.
    pub index_checksum: KvChecksum,
}

impl EncodedRows {
    /// Empty streams of `shape`'s shape (see
    /// [`crate::EncodingBuilder::make_empty_rows`]).
    pub fn new(shape: &Rows) -> Self {
        EncodedRows {
            data: shape.empty_like(),
            index: shape.empty_like(),
            data_checksum: KvChecksum::new(),
            index_checksum: KvChecksum::new(),
        }
    }

    /// Appends one row (see [`EncodedRow::classify_and_append`]) and
    /// returns the payload bytes it added.
    pub fn push(&mut self, row: EncodedRow) -> usize {
        let size = row.size();
        row.classify_and_append(
            &mut self.data,
            &mut self.data_checksum,
            &mut self.index,
            &mut self.index_checksum,
        );
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_splits_record_and_index_with_checksums() {
        let row = EncodedRow::Kv {
            record: KvPair::new(b"t1_r1".to_vec(), b"v".to_vec()),
            indexes: vec![
                KvPair::new(b"t1_i1a".to_vec(), b"0".to_vec()),
                KvPair::new(b"t1_i2b".to_vec(), b"0".to_vec()),
            ],
        };
        let (mut data, mut index) = (Rows::Kv(KvPairs::new()), Rows::Kv(KvPairs::new()));
        let (mut dck, mut ick) = (KvChecksum::new(), KvChecksum::new());
        assert_eq!(row.size(), 6 + 7 * 2);
        row.classify_and_append(&mut data, &mut dck, &mut index, &mut ick);
        assert_eq!(data.len(), 1);
        assert_eq!(index.len(), 2);
        assert_eq!(dck.kvs, 1);
        assert_eq!(ick.kvs, 2);
        assert_eq!(data.size(), 6);
        let taken = data.take();
        assert_eq!(taken.len(), 1);
        assert!(data.is_empty());
    }

    #[test]
    fn sql_rows_go_to_data() {
        let row = EncodedRow::Sql(SqlRow {
            tuple: "(1,'a')".into(),
            origin: RowOrigin::default(),
        });
        let (mut data, mut index) = (Rows::Sql(Vec::new()), Rows::Sql(Vec::new()));
        let (mut dck, mut ick) = (KvChecksum::new(), KvChecksum::new());
        row.classify_and_append(&mut data, &mut dck, &mut index, &mut ick);
        assert_eq!(data.len(), 1);
        assert!(index.is_empty());
        assert_eq!(dck, KvChecksum::new());
    }
}
