//! What every data parser shares: the [`RowParser`] trait, the row type,
//! character-set options and the mapping of table columns to row fields.

use backend_core::Datum;
use backend_core::model::TableInfo;

use super::SourceError;

/// One parsed row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// The row's pre-allocated id: one more than the previous row's.
    pub row_id: i64,
    /// The values, in file order.
    pub values: Vec<Datum>,
    /// Stream offset of the row's first byte.
    pub start_offset: u64,
    /// Stream offset just after the row; a parser started here reads on
    /// from the next row.
    pub end_offset: u64,
}

/// What a parser needs, besides a row boundary's offset and row id, to read
/// on from there exactly as the parser that reported the boundary would: a
/// checkpoint records it so a resumed chunk opens its read at the offset
/// instead of re-parsing the rows before it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ParserState {
    /// The column names in force (a CSV header, the current `INSERT`'s
    /// column list); `None` when the data names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// SQL: the offset is inside an `INSERT`'s `VALUES` list, after a row
    /// (a `,` or `;` comes next); false: between statements.
    #[serde(default)]
    pub in_values: bool,
}

/// Reads rows out of one data file (a CSV file or a file of `INSERT`
/// statements).
pub trait RowParser: Send + std::fmt::Debug {
    /// The next row, or `None` at the end of the data. A
    /// [`SourceError::is_row_error`] error skips one row; any other error
    /// ends the file.
    fn read_row(&mut self) -> Result<Option<Row>, SourceError> {
        let mut row = Row::default();
        Ok(self.read_row_into(&mut row)?.then_some(row))
    }

    /// Like [`RowParser::read_row`], reading into `row` and reusing its
    /// allocations (the string buffers of its `Bytes` values): the fast way
    /// to read a file row by row. Returns false at the end of the data, when
    /// `row` is left unspecified.
    fn read_row_into(&mut self, row: &mut Row) -> Result<bool, SourceError>;

    /// The stream offset after the last row read and that row's id.
    fn pos(&self) -> (u64, i64);

    /// Moves forward to `offset` (a row boundary the parser reported
    /// earlier), with `row_id` the id of the row before it. Moving backward
    /// is an error: open a new parser instead.
    fn set_pos(&mut self, offset: u64, row_id: i64) -> Result<(), SourceError>;

    /// Column names the data gives (a CSV header, an `INSERT`'s column
    /// list), if any.
    fn columns(&self) -> Option<&[String]>;

    /// Sets the column names, e.g. a CSV header read by the first chunk of a
    /// split file.
    fn set_columns(&mut self, columns: Vec<String>);

    /// The state at [`RowParser::pos`] after a row was read (see
    /// [`ParserState`]).
    fn state(&self) -> ParserState {
        ParserState {
            columns: self.columns().map(<[String]>::to_vec),
            in_values: false,
        }
    }

    /// Puts a parser just opened at a row boundary into the state another
    /// parser reported there with [`RowParser::state`].
    fn restore(&mut self, state: ParserState) {
        if let Some(columns) = state.columns {
            self.set_columns(columns);
        }
    }

    /// Line number (1-based, counted from where the parser started) of the
    /// next byte to read.
    fn line(&self) -> u64;

    /// Ends the data at stream offset `end`, a chunk's end: no row starting
    /// at or beyond it is returned. Rows of a CSV file follow each other
    /// without gaps, so its readers stop once [`RowParser::pos`] reaches
    /// `end` and it needs nothing more; a SQL file has statement syntax
    /// between rows, so its parser stops itself, and checks that a
    /// statement ends with the `;` at `end`, where the next chunk starts
    /// (see [`crate::chunk`]).
    fn stop_at(&mut self, _end: u64) {}
}

/// Sets `slot` to `Bytes(bytes)`, reusing its buffer when it is one.
#[inline]
pub(crate) fn set_bytes(slot: &mut Datum, bytes: &[u8]) {
    match slot {
        Datum::Bytes(buf) => {
            buf.clear();
            buf.extend_from_slice(bytes);
        }
        other => *other = Datum::Bytes(bytes.to_vec()),
    }
}

/// The character set data files are written in (`data-character-set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataCharset {
    /// UTF-8; text fields are validated.
    #[default]
    Utf8mb4,
    /// GB18030, converted to UTF-8.
    Gb18030,
    /// GBK, converted to UTF-8 (decoded as GB18030, its superset).
    Gbk,
    /// MySQL's `latin1`, which is Windows-1252, converted to UTF-8.
    Latin1,
    /// Raw bytes: no validation, no conversion.
    Binary,
}

impl DataCharset {
    /// Parses a `data-character-set` name (case-insensitive; `utf8` is
    /// `utf8mb4`).
    pub fn parse(name: &str) -> Result<Self, SourceError> {
        match name.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8" | "utf-8" | "" => Ok(DataCharset::Utf8mb4),
            "gb18030" => Ok(DataCharset::Gb18030),
            "gbk" => Ok(DataCharset::Gbk),
            "latin1" => Ok(DataCharset::Latin1),
            "binary" => Ok(DataCharset::Binary),
            other => Err(SourceError::Config(format!(
                "unsupported data-character-set {other:?} (expected utf8mb4, gb18030, gbk, latin1 or binary)"
            ))),
        }
    }

    /// Whether the files are converted to UTF-8, so that parser offsets
    /// are positions in the converted stream rather than in the file.
    pub fn converts(self) -> bool {
        self.encoding().is_some()
    }

    pub(crate) fn encoding(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            DataCharset::Gb18030 | DataCharset::Gbk => Some(encoding_rs::GB18030),
            DataCharset::Latin1 => Some(encoding_rs::WINDOWS_1252),
            DataCharset::Utf8mb4 | DataCharset::Binary => None,
        }
    }
}

/// Options both parsers take.
#[derive(Debug, Clone, PartialEq)]
pub struct ParserOptions {
    /// The character set of the files.
    pub charset: DataCharset,
    /// Field positions exempt from UTF-8 validation (binary columns).
    pub binary_fields: Vec<usize>,
    /// Number of values each row must have, when known (the table's
    /// loadable column count); a CSV header or an `INSERT` column list takes
    /// precedence.
    pub expected_columns: Option<usize>,
    /// The largest row accepted, in bytes (Lightning's limit on a
    /// transaction entry, 120 MiB).
    pub max_row_size: usize,
    /// How many bytes to read at a time.
    pub read_block_size: usize,
    /// What a byte sequence invalid in a converted character set (GB18030,
    /// GBK) becomes (`data-invalid-char-replace`); `None` makes it an error.
    pub invalid_char_replace: Option<String>,
}

impl Default for ParserOptions {
    fn default() -> Self {
        ParserOptions {
            charset: DataCharset::Utf8mb4,
            binary_fields: Vec::new(),
            expected_columns: None,
            max_row_size: 120 << 20,
            read_block_size: 64 << 10,
            invalid_char_replace: None,
        }
    }
}

impl ParserOptions {
    /// Whether field `i` must be valid UTF-8.
    pub(crate) fn validates(&self, i: usize) -> bool {
        self.charset != DataCharset::Binary && !self.binary_fields.contains(&i)
    }
}

/// The hidden row id column of TiDB tables without an integer or clustered
/// primary key; TiDB dumps name it in `INSERT` column lists.
pub const TIDB_ROWID: &str = "_tidb_rowid";

/// Maps table columns to positions in the parsed rows (see
/// [`backend_core::ColumnPermutation`]): by name when the data names its
/// columns, else in table order over the loadable (non-generated) columns.
/// A data column named [`TIDB_ROWID`] that the table does not declare gets
/// the extra entry after the table's columns (Lightning's layout); any other
/// data column the table lacks is an error naming it and `file`.
pub fn column_permutation(
    table: &TableInfo,
    columns: Option<&[String]>,
    file: &str,
) -> Result<Vec<Option<usize>>, SourceError> {
    let mut perm = vec![None; table.columns.len()];
    match columns {
        Some(names) => {
            for (pos, name) in names.iter().enumerate() {
                let rowid_slot = table.columns.len();
                if name.eq_ignore_ascii_case(TIDB_ROWID) && table.column(name).is_none() {
                    if perm.len() > rowid_slot {
                        return Err(SourceError::Layout {
                            path: file.to_string(),
                            reason: format!("column {name:?} appears twice"),
                        });
                    }
                    perm.push(Some(pos));
                    continue;
                }
                let Some(col) = table.column(name) else {
                    return Err(SourceError::Layout {
                        path: file.to_string(),
                        reason: format!("unknown column {name:?} in table {:?}", table.name),
                    });
                };
                if col.generated.is_some() {
                    return Err(SourceError::Layout {
                        path: file.to_string(),
                        reason: format!("column {name:?} is generated and cannot be loaded"),
                    });
                }
                if perm[col.offset].is_some() {
                    return Err(SourceError::Layout {
                        path: file.to_string(),
                        reason: format!("column {name:?} appears twice"),
                    });
                }
                perm[col.offset] = Some(pos);
            }
        }
        None => {
            for (pos, col) in table.loadable_columns().enumerate() {
                perm[col.offset] = Some(pos);
            }
        }
    }
    Ok(perm)
}
