//! Splitting a table's data files into chunks (Lightning's table regions).
//!
//! One chunk per file (a Parquet file's chunk is its rows: offsets are row
//! indexes and the id range is its exact row count), except that an uncompressed UTF-8 CSV file under
//! `strict-format` (no terminator inside quoted fields) larger than
//! 1.25 × `max-region-size` is cut every `max-region-size` bytes, each cut
//! moved forward to just after the next line terminator. Every chunk gets a
//! pre-allocated row-id range `prev_rowid_max..rowid_max` large enough for
//! any content of its byte length (a row of `n` values takes at least `n`
//! bytes), computed only from file sizes, so a re-run allocates the same
//! ids.

use std::io::Read;
use std::sync::Arc;

use backend_core::{Compression, SourceFormat};
use memchr::memmem;

use super::SourceError;
use super::compress::{self, decompressed_size};
use super::csv::{CsvOptions, CsvParser};
use super::parquet;
use super::parser::{DataCharset, ParserOptions, RowParser};
use super::scan::{DataFile, TableSource};
use super::storage::{FileIn, Storage};

/// How to chunk.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// `strict-format`.
    pub strict_format: bool,
    /// `max-region-size` in bytes (default 256 MiB).
    pub max_region_size: u64,
    /// CSV options (terminator and header matter for splitting).
    pub csv: CsvOptions,
    /// The files' character set: only UTF-8/binary files are split, since
    /// offsets in converted files are not file offsets.
    pub charset: DataCharset,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            strict_format: false,
            max_region_size: 256 << 20,
            csv: CsvOptions::default(),
            charset: DataCharset::Utf8mb4,
        }
    }
}

/// A piece of one data file to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The file.
    pub file: DataFile,
    /// Position among the table's chunks, from 0.
    pub index: usize,
    /// Stream offset where the chunk starts (a row boundary).
    pub offset: u64,
    /// Stream offset where the chunk ends; a parser stops at the first row
    /// starting at or beyond it.
    pub end_offset: u64,
    /// Row ids of the chunk are `prev_rowid_max + 1 ..= rowid_max`.
    pub prev_rowid_max: i64,
    /// The last row id the chunk may use.
    pub rowid_max: i64,
    /// The CSV header's columns, for chunks after a file's first (which
    /// reads the header itself).
    pub columns: Option<Vec<String>>,
}

impl Chunk {
    /// A parser positioned at the chunk's start: the file in `storage`
    /// (named in errors by its path in the dump, read only while its ETag
    /// is the scan's), the row id before the
    /// chunk's first, and the header columns a later chunk of a CSV file
    /// needs. The caller reads while `parser.pos().0 < self.end_offset`.
    ///
    /// Errors: the file cannot be opened or its start cannot be read.
    pub fn open_parser(
        &self,
        storage: &Storage,
        csv: &CsvOptions,
        no_backslash_escapes: bool,
        options: &ParserOptions,
    ) -> Result<Box<dyn RowParser>, SourceError> {
        let mut parser = crate::open_parser(
            storage.file(&self.file.path, self.file.etag.as_deref()),
            &self.file.path.display().to_string(),
            self.file.format,
            self.file.compression,
            self.offset,
            self.prev_rowid_max,
            csv,
            no_backslash_escapes,
            options,
        )?;
        if let Some(columns) = &self.columns {
            parser.set_columns(columns.clone());
        }
        Ok(parser)
    }
}

/// A chunk's byte range and, after a file's first chunk, the header.
type Range = (u64, u64, Option<Vec<String>>);

/// Upper bound of rows in `len` bytes of rows with `columns` values.
fn estimate_rows(len: u64, columns: usize) -> Result<i64, SourceError> {
    let n = u64::try_from(columns.max(1)).unwrap_or(u64::MAX);
    i64::try_from(len / n + 2)
        .map_err(|_| SourceError::Config(format!("file of {len} bytes is too large")))
}

/// Chunks of all of `table`'s data files, in file order. `storage` holds
/// the dump; `columns` is the number of values a row carries (the table's
/// loadable columns). Compressed files are read through once for their
/// decompressed size.
pub fn make_table_chunks(
    storage: &Storage,
    table: &TableSource,
    columns: usize,
    opts: &ChunkOptions,
) -> Result<Vec<Chunk>, SourceError> {
    let mut chunks = Vec::new();
    let mut rowid: i64 = 0;
    for file in &table.data_files {
        let path = storage.file(&file.path, file.etag.as_deref());
        let splittable = file.format == SourceFormat::Csv
            && file.compression == Compression::None
            && opts.strict_format
            && matches!(opts.charset, DataCharset::Utf8mb4 | DataCharset::Binary)
            && file.size
                > opts
                    .max_region_size
                    .saturating_add(opts.max_region_size / 4);
        if file.format == SourceFormat::Parquet {
            // One chunk of rows: positions are row indexes, and the footer
            // gives the exact row count, so the id range is exact too.
            let name = file.path.display().to_string();
            let rows = parquet::row_count(path, &name, file.compression)?;
            let rowid_max = i64::try_from(rows)
                .ok()
                .and_then(|n| rowid.checked_add(n))
                .ok_or_else(|| SourceError::Config("row ids overflow".into()))?;
            chunks.push(Chunk {
                file: file.clone(),
                index: chunks.len(),
                offset: 0,
                end_offset: rows,
                prev_rowid_max: rowid,
                rowid_max,
                columns: None,
            });
            rowid = rowid_max;
            continue;
        }
        let ranges: Vec<Range> = if splittable {
            split_csv(path, file, opts)?
        } else {
            let end = decompressed_size(path, file.compression)?;
            vec![(0, end, None)]
        };
        for (offset, end_offset, cols) in ranges {
            let rows = estimate_rows(end_offset - offset, columns)?;
            let rowid_max = rowid
                .checked_add(rows)
                .ok_or_else(|| SourceError::Config("row ids overflow".into()))?;
            chunks.push(Chunk {
                file: file.clone(),
                index: chunks.len(),
                offset,
                end_offset,
                prev_rowid_max: rowid,
                rowid_max,
                columns: cols,
            });
            rowid = rowid_max;
        }
    }
    Ok(chunks)
}

/// Cuts a large CSV file at line terminators.
fn split_csv(
    path: FileIn<'_>,
    file: &DataFile,
    opts: &ChunkOptions,
) -> Result<Vec<Range>, SourceError> {
    let name = file.path.display().to_string();
    let size = file.size;
    let (mut pos, header) = if opts.csv.header {
        // The first row starts where the header ends.
        let reader = compress::open(path, Compression::None, 0)?;
        let options = ParserOptions {
            charset: DataCharset::Binary,
            ..ParserOptions::default()
        };
        let mut parser = CsvParser::new(
            reader,
            Arc::from(name.as_str()),
            0,
            0,
            opts.csv.clone(),
            options,
        )?;
        let first = match parser.read_row() {
            Ok(Some(row)) => row.start_offset,
            Ok(None) => size,
            Err(e) if e.is_row_error() => parser.pos().0,
            Err(e) => return Err(e),
        };
        (first, parser.columns().map(<[String]>::to_vec))
    } else {
        (0, None)
    };
    let mut out = Vec::new();
    let first_start = 0;
    let mut start = first_start;
    loop {
        let target = pos.saturating_add(opts.max_region_size);
        if target >= size {
            out.push((start, size, None));
            break;
        }
        let cut = next_line_end(path, target, &opts.csv.terminator)?;
        match cut {
            Some(end) if end < size => {
                out.push((start, end, None));
                start = end;
                pos = end;
            }
            _ => {
                out.push((start, size, None));
                break;
            }
        }
    }
    for chunk in out.iter_mut().skip(1) {
        chunk.2 = header.clone();
    }
    Ok(out)
}

/// The offset just after the first line terminator at or after `from`.
fn next_line_end(
    file: FileIn<'_>,
    from: u64,
    terminator: &str,
) -> Result<Option<u64>, SourceError> {
    let path = file.path;
    let mut f = file.storage.open_raw(path, from, file.etag)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut base = from;
    let term = terminator.as_bytes();
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| SourceError::io(path, "read", e))?;
        if n == 0 {
            return Ok(None);
        }
        let mut window = std::mem::take(&mut carry);
        let window_base = base - u64::try_from(window.len()).unwrap_or(0);
        window.extend_from_slice(&buf[..n]);
        let found = if term.is_empty() {
            window
                .iter()
                .position(|b| *b == b'\n' || *b == b'\r')
                .map(|i| {
                    if window[i] == b'\r' && window.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    }
                })
        } else {
            memmem::find(&window, term).map(|i| i + term.len())
        };
        if let Some(end) = found {
            // A `\r` at the window's end may start a `\r\n`; read on once.
            if term.is_empty() && end == window.len() && window[end - 1] == b'\r' {
                let mut one = [0u8; 1];
                let m = f
                    .read(&mut one)
                    .map_err(|e| SourceError::io(path, "read", e))?;
                let extra = u64::from(m == 1 && one[0] == b'\n');
                return Ok(Some(window_base + u64::try_from(end).unwrap_or(0) + extra));
            }
            return Ok(Some(window_base + u64::try_from(end).unwrap_or(0)));
        }
        base += u64::try_from(n).unwrap_or(0);
        let keep = term.len().saturating_sub(1).min(window.len());
        carry = window[window.len() - keep..].to_vec();
    }
}
