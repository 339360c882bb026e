//! Opening a parser for one data file: the format, compression and
//! charset decide which [`RowParser`] reads it and through which readers.

use std::sync::Arc;

use backend_core::{Compression, SourceFormat};

use super::SourceError;
use super::compress::{self, DataReader, DecodingReader};
use super::csv::{CsvOptions, CsvParser};
use super::parquet::ParquetParser;
use super::parser::{DataCharset, ParserOptions, RowParser};
use super::sql::SqlParser;
use super::storage::FileIn;

/// Wraps `reader` in a converter to UTF-8 when `charset` needs one.
pub fn decode_stream(reader: DataReader, charset: DataCharset) -> DataReader {
    match charset.encoding() {
        Some(encoding) => Box::new(DecodingReader::new(reader, encoding)),
        None => reader,
    }
}

/// Opens a parser over `file` (a local path, or a file of a [`Storage`]
/// with the ETag its reads require), starting at stream `offset` (a row
/// boundary; 0 for the whole file) with `row_id` the id before the first
/// row read. `name` is how errors name the file. An uncompressed file is
/// read from `offset` (a seek, or a ranged request of an object); a
/// compressed one from its start, skipping up to `offset`.
///
/// For legacy charsets the offsets are in the converted UTF-8 stream, so
/// such files are only started at offset 0 or at offsets a parser reported.
///
/// [`Storage`]: crate::Storage
#[allow(clippy::too_many_arguments)]
pub fn open_parser<'a>(
    file: impl Into<FileIn<'a>>,
    name: &str,
    format: SourceFormat,
    compression: Compression,
    offset: u64,
    row_id: i64,
    csv: &CsvOptions,
    no_backslash_escapes: bool,
    options: &ParserOptions,
) -> Result<Box<dyn RowParser>, SourceError> {
    let file = file.into();
    let name: Arc<str> = Arc::from(name);
    if format == SourceFormat::Parquet {
        // Positions in a Parquet file are row indexes.
        let mut parser = ParquetParser::open(file, name, compression, row_id, options)?;
        if offset > 0 {
            parser.set_pos(offset, row_id)?;
        }
        return Ok(Box::new(parser));
    }
    let raw_offset = if options.charset.encoding().is_some() {
        0
    } else {
        offset
    };
    let reader = compress::open(file, compression, raw_offset)?;
    let reader = match (options.charset.encoding(), &options.invalid_char_replace) {
        (Some(encoding), Some(replacement)) => {
            Box::new(DecodingReader::new(reader, encoding).replacing(replacement))
        }
        _ => decode_stream(reader, options.charset),
    };
    let mut parser: Box<dyn RowParser> = match format {
        SourceFormat::Csv => Box::new(CsvParser::new(
            reader,
            name.clone(),
            raw_offset,
            row_id,
            csv.clone(),
            options.clone(),
        )?),
        SourceFormat::Sql => Box::new(SqlParser::new(
            reader,
            name.clone(),
            raw_offset,
            row_id,
            no_backslash_escapes,
            options.clone(),
        )),
        // Opened above; never read as a byte stream.
        SourceFormat::Parquet => {
            return Err(SourceError::Config(format!(
                "{name}: a parquet file cannot be read as a stream"
            )));
        }
    };
    if raw_offset != offset {
        parser.set_pos(offset, row_id)?;
    }
    Ok(parser)
}
