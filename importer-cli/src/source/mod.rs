//! The data source: everything between a dump directory and typed rows with
//! file offsets.
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
//! [`RowParser`]s, [`csv::CsvParser`] and [`sql::SqlParser`]; both start at
//! any row boundary and report the exact byte offset after each row, which
//! is what checkpoints record. [`parquet::ParquetParser`] reads Parquet
//! files, whose positions are row indexes instead (as in Lightning).
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

pub mod chunk;
pub mod compress;
pub mod csv;
mod error;
pub mod filter;
mod input;
pub mod parquet;
mod parser;
pub mod route;
pub mod scan;
pub mod schema;
pub mod sql;

pub use error::SourceError;
pub use parser::{
    DataCharset, ParserOptions, Row, RowParser, column_permutation, decode_stream, open_parser,
};
