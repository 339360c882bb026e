//! Reads a dump — a directory in the dumpling or mydumper layout — as
//! tables, schemas and typed rows with file offsets. It is the importer's
//! data source, and a Rust program can read a dump with it alone: it
//! depends on `backend-core` for the value and table model, never on a
//! storage engine or a SQL driver.
//!
//! # Design
//!
//! [`scan`] walks the dump directory once, deterministically, and classifies
//! every file by Lightning's file rules (dumpling and mydumper names, or the
//! user's `[[mydumper.files]]`), applying the table [`filter`] and
//! [`route`]s. [`schema`] turns the dump's `CREATE` statements into the
//! core table model. [`chunk`] splits each table's data files into chunks
//! with byte ranges and pre-allocated row-id ranges that depend only on the
//! files, so a re-run allocates identical ids. A chunk is read through
//! [`compress`] (decompressing as a stream) by one of the
//! [`RowParser`]s, [`csv::CsvParser`] and [`sql::SqlParser`], which
//! [`open_parser`] picks by format ([`chunk::Chunk::open_parser`] opens one
//! at a chunk's start); both start at any row boundary and
//! report the exact byte offset after each row and the [`ParserState`]
//! there (the column names in force, inside an `INSERT` or not), which is
//! what checkpoints record: a resumed chunk opens its read at the offset
//! in that state instead of re-parsing the rows before it. [`parquet::ParquetParser`] reads Parquet files, whose positions
//! are row indexes instead (as in Lightning).
//!
//! Parsers work on one growing buffer: a row is parsed from the buffered
//! bytes, and when the bytes run out mid-row the buffer is refilled and the
//! row re-parsed from its start. So a row never needs to fit in a fixed
//! block, memory is bounded by the largest row (capped by
//! [`ParserOptions::max_row_size`]), and the hot loop never checks for
//! buffer ends byte by byte.
//!
//! Errors are [`SourceError`]s naming the file, byte offset, line and
//! reason; errors about one row that the parser has already stepped over are
//! [`SourceError::is_row_error`], which a caller may record and continue
//! past while `max-error` allows.
//!
//! # Example
//!
//! Every table of the bundled sample dump, its columns and its rows
//! (`examples/read_dump.rs` is the same as a program):
//!
//! ```
//! use dump_source::chunk::{ChunkOptions, make_table_chunks};
//! use dump_source::scan::{ScanOptions, scan};
//! use dump_source::{ParserOptions, Row, schema};
//!
//! # fn main() -> Result<(), dump_source::SourceError> {
//! let dump = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample");
//! let scanned = scan(&dump, &ScanOptions::default())?;
//! let opts = ChunkOptions::default();
//! let mut total = 0;
//! for db in &scanned.databases {
//!     for table in &db.tables {
//!         let file = table.schema_file.as_ref().expect("the sample has schema files");
//!         let info = schema::parse_table_file(scanned.storage.file(file, None), &file.display().to_string())?;
//!         let mut rows = 0;
//!         for chunk in make_table_chunks(&scanned.storage, table, info.columns.len(), &opts)? {
//!             let mut parser =
//!                 chunk.open_parser(&scanned.storage, &opts.csv, false, &ParserOptions::default())?;
//!             let mut row = Row::default();
//!             while parser.pos().0 < chunk.end_offset && parser.read_row_into(&mut row)? {
//!                 rows += 1;
//!             }
//!         }
//!         println!("{}.{}: {} columns, {rows} rows", db.name, table.name, info.columns.len());
//!         total += rows;
//!     }
//! }
//! assert_eq!(total, 140);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod chunk;
pub mod compress;
pub mod csv;
mod error;
pub mod filter;
mod input;
mod open;
pub mod parquet;
mod parser;
pub mod route;
pub mod scan;
pub mod schema;
pub mod sql;
pub mod storage;

pub use error::SourceError;
pub use open::{decode_stream, open_parser};
pub use parser::{
    DataCharset, ParserOptions, ParserState, Row, RowParser, TIDB_ROWID, column_permutation,
};
pub use storage::{FileIn, Storage};
