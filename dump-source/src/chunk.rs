//! Splitting a table's data files into chunks (Lightning's table regions).
//!
//! One chunk per file (a Parquet file's chunk is its rows: offsets are row
//! indexes and the id range is its exact row count), except that an
//! uncompressed UTF-8 CSV or SQL file under `strict-format` larger than
//! 1.25 × `max-region-size` is cut every `max-region-size` bytes, each cut
//! moved forward: for CSV (no terminator inside quoted fields) to just
//! after the next line terminator; for SQL (statements start on their own
//! line) to the next `;` that ends a line followed by a line starting with
//! `INSERT` or `REPLACE`. A SQL chunk starts at that `;`, as a parser
//! resumed after a row does, and ends there; its parser checks that the
//! statement after its end really starts there (see
//! [`RowParser::stop_at`]), so a value holding such a line fails the chunk
//! instead of importing a value's middle as rows. Without `strict-format`,
//! such a SQL file is read through once without reading values
//! ([`SqlParser::skipping_values`]) and cut at the first row boundary past
//! every `max-region-size` bytes; a chunk then starts after a row, with the
//! statement's column list, as a resumed parser does, and its row-id range
//! is its exact row count, so the ids are those of a sequential read.
//! Otherwise every chunk gets a
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
use super::parser::{DataCharset, ParserOptions, Row, RowParser};
use super::scan::{DataFile, TableSource};
use super::sql::SqlParser;
use super::storage::{FileIn, Storage};

/// How to chunk.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// `strict-format`: the user promises that a CSV field holds no line
    /// terminator and that a SQL statement starts on its own line; large
    /// files are then split (see the module docs).
    pub strict_format: bool,
    /// `max-region-size` in bytes (default 256 MiB).
    pub max_region_size: u64,
    /// CSV options (terminator and header matter for splitting).
    pub csv: CsvOptions,
    /// The files' character set: only UTF-8/binary files are split, since
    /// offsets in converted files are not file offsets.
    pub charset: DataCharset,
    /// The `NO_BACKSLASH_ESCAPES` SQL mode: how a SQL file's strings end.
    pub no_backslash_escapes: bool,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            strict_format: false,
            max_region_size: 256 << 20,
            csv: CsvOptions::default(),
            charset: DataCharset::Utf8mb4,
            no_backslash_escapes: false,
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
        parser.stop_at(self.end_offset);
        Ok(parser)
    }
}

/// A chunk's byte range, the columns it starts with (a CSV header, a SQL
/// statement's column list) and, when known, its exact row count.
type CountedRange = (u64, u64, Option<Vec<String>>, Option<u64>);

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
        // Offsets in converted or compressed streams are not file offsets.
        let large = file.compression == Compression::None
            && matches!(opts.charset, DataCharset::Utf8mb4 | DataCharset::Binary)
            && file.size
                > opts
                    .max_region_size
                    .saturating_add(opts.max_region_size / 4);
        let splittable = matches!(file.format, SourceFormat::Csv | SourceFormat::Sql)
            && large
            && opts.strict_format;
        // With its exact row count when known, so the ids are those of a
        // sequential read: a Parquet file's footer gives it (its one chunk
        // is its rows: positions are row indexes), a SQL file read through
        // counts it.
        let ranges: Vec<CountedRange> = if file.format == SourceFormat::Parquet {
            let name = file.path.display().to_string();
            let rows = parquet::row_count(path, &name, file.compression)?;
            vec![(0, rows, None, Some(rows))]
        } else if large && !opts.strict_format && file.format == SourceFormat::Sql {
            split_sql_rows(path, file, opts)?
        } else {
            let plain: Vec<Range> = if splittable && file.format == SourceFormat::Sql {
                cut_ranges(file.size, 0, opts.max_region_size, |from| {
                    next_statement_end(path, from)
                })?
                .into_iter()
                .map(|(start, end)| (start, end, None))
                .collect()
            } else if splittable {
                split_csv(path, file, opts)?
            } else {
                let end = decompressed_size(path, file.compression)?;
                vec![(0, end, None)]
            };
            plain
                .into_iter()
                .map(|(start, end, cols)| (start, end, cols, None))
                .collect()
        };
        for (offset, end_offset, cols, exact) in ranges {
            let rows = match exact {
                Some(n) => {
                    i64::try_from(n).map_err(|_| SourceError::Config("row ids overflow".into()))?
                }
                None => estimate_rows(end_offset - offset, columns)?,
            };
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

/// Cuts a large SQL file, without `strict-format`, at the first row
/// boundary past every `max-region-size` bytes, found by reading the file
/// through once without reading values. Each piece: its range, the column
/// list of the statement it starts in, its exact row count.
fn split_sql_rows(
    path: FileIn<'_>,
    file: &DataFile,
    opts: &ChunkOptions,
) -> Result<Vec<CountedRange>, SourceError> {
    let name: Arc<str> = Arc::from(file.path.display().to_string());
    let options = ParserOptions {
        charset: DataCharset::Binary,
        read_block_size: 1 << 20,
        ..ParserOptions::default()
    };
    let reader = compress::open(path, Compression::None, 0)?;
    let mut parser =
        SqlParser::new(reader, name, 0, 0, opts.no_backslash_escapes, options).skipping_values();
    let mut out = Vec::new();
    let (mut start, mut columns, mut rows) = (0u64, None, 0u64);
    let mut row = Row::default();
    while parser.read_row_into(&mut row)? {
        rows += 1;
        if row.end_offset >= start.saturating_add(opts.max_region_size) {
            out.push((start, row.end_offset, columns, Some(rows)));
            start = row.end_offset;
            columns = parser.columns().map(<[String]>::to_vec);
            rows = 0;
        }
    }
    if rows > 0 || out.is_empty() {
        out.push((start, file.size, columns, Some(rows)));
    } else if let Some(last) = out.last_mut() {
        // What follows the last row (the final `;`) ends the last piece.
        last.1 = file.size;
    }
    Ok(out)
}

/// Cuts a large CSV file at line terminators.
fn split_csv(
    path: FileIn<'_>,
    file: &DataFile,
    opts: &ChunkOptions,
) -> Result<Vec<Range>, SourceError> {
    let name = file.path.display().to_string();
    let size = file.size;
    let (pos, header) = if opts.csv.header {
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
    let mut out: Vec<Range> = cut_ranges(size, pos, opts.max_region_size, |from| {
        next_line_end(path, from, &opts.csv.terminator)
    })?
    .into_iter()
    .map(|(start, end)| (start, end, None))
    .collect();
    for chunk in out.iter_mut().skip(1) {
        chunk.2 = header.clone();
    }
    Ok(out)
}

/// Byte ranges covering `0..size`, cut about every `region` bytes from
/// `first` (where the first row starts): each cut at what `next_cut(target)`
/// finds at or after the target; `None` or the end of the file ends the
/// last range there.
fn cut_ranges(
    size: u64,
    first: u64,
    region: u64,
    mut next_cut: impl FnMut(u64) -> Result<Option<u64>, SourceError>,
) -> Result<Vec<(u64, u64)>, SourceError> {
    let mut out = Vec::new();
    let (mut start, mut pos) = (0, first);
    loop {
        let target = pos.saturating_add(region);
        if target >= size {
            out.push((start, size));
            return Ok(out);
        }
        match next_cut(target)? {
            Some(end) if end < size && end > start => {
                out.push((start, end));
                (start, pos) = (end, end);
            }
            _ => {
                out.push((start, size));
                return Ok(out);
            }
        }
    }
}

/// What a [`search_from`] finder says about the bytes read so far.
enum Found {
    /// A match at this window position.
    At(usize),
    /// None that more data could not change: the window may slide on.
    No,
}

/// Streams `file` from `from` through `find`, which sees a window of the
/// bytes read (the last `keep` bytes of the previous window, then the new
/// ones) and whether the file ends after it. Returns the file offset of the
/// match. A finder must answer [`Found::No`] for a candidate it cannot
/// decide yet (too close to the window's end) and find it again, whole,
/// within the `keep` bytes carried into the next window.
fn search_from(
    file: FileIn<'_>,
    from: u64,
    keep: usize,
    find: impl Fn(&[u8], bool) -> Found,
) -> Result<Option<u64>, SourceError> {
    let path = file.path;
    let mut f = file.storage.open_raw(path, from, file.etag)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut window: Vec<u8> = Vec::new();
    // File offset of `window[0]`.
    let mut base = from;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| SourceError::io(path, "read", e))?;
        window.extend_from_slice(&buf[..n]);
        if let Found::At(i) = find(&window, n == 0) {
            return Ok(Some(base + u64::try_from(i).unwrap_or(u64::MAX)));
        }
        if n == 0 {
            return Ok(None);
        }
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
        base += u64::try_from(drop).unwrap_or(0);
    }
}

/// The offset just after the first line terminator at or after `from`.
fn next_line_end(
    file: FileIn<'_>,
    from: u64,
    terminator: &str,
) -> Result<Option<u64>, SourceError> {
    let term = terminator.as_bytes();
    if !term.is_empty() {
        return search_from(file, from, term.len() - 1, |window, _| {
            memmem::find(window, term).map_or(Found::No, |i| Found::At(i + term.len()))
        });
    }
    // `\n`, `\r` or `\r\n`: a `\r` at the window's end may start a `\r\n`.
    search_from(file, from, 1, |window, eof| {
        match memchr::memchr2(b'\n', b'\r', window) {
            Some(i) if window[i] == b'\n' => Found::At(i + 1),
            Some(i) => match window.get(i + 1) {
                Some(b'\n') => Found::At(i + 2),
                Some(_) => Found::At(i + 1),
                None if eof => Found::At(i + 1),
                // The window's last byte, carried: found again with more data.
                None => Found::No,
            },
            None => Found::No,
        }
    })
}

/// Bytes a SQL statement-end candidate needs around its `;`: blanks, the
/// line break, blanks and `REPLACE ` after it.
const STATEMENT_CUT_KEEP: usize = 64;

/// The offset of the first `;` at or after `from` that ends its line (only
/// blanks after it) and is followed by a line starting (after blanks) with
/// `INSERT` or `REPLACE` and a blank: under `strict-format`, where one
/// statement ends and the next starts.
fn next_statement_end(file: FileIn<'_>, from: u64) -> Result<Option<u64>, SourceError> {
    search_from(file, from, STATEMENT_CUT_KEEP, |window, eof| {
        let mut at = 0;
        while let Some(i) = memchr::memchr(b';', &window[at..]).map(|i| at + i) {
            match statement_follows(&window[i + 1..], eof) {
                Some(true) => return Found::At(i),
                // Undecided: carried into the next window, found again.
                None if window.len() - i <= STATEMENT_CUT_KEEP => return Found::No,
                _ => at = i + 1,
            }
        }
        Found::No
    })
}

/// Whether `rest` (the bytes after a `;`) is the end of a line and then a
/// line starting with `INSERT` or `REPLACE` and a blank; `None` when the
/// bytes end before that is decided and more may follow.
fn statement_follows(rest: &[u8], eof: bool) -> Option<bool> {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    let mut i = rest.iter().take_while(|b| blank(b) || **b == b'\r').count();
    match rest.get(i) {
        Some(b'\n') => i += 1,
        Some(_) => return Some(false),
        None => return if eof { Some(false) } else { None },
    }
    i += rest[i..].iter().take_while(|b| blank(b)).count();
    for word in [&b"INSERT"[..], b"REPLACE"] {
        let have = &rest[i.min(rest.len())..];
        let n = word.len().min(have.len());
        if !have[..n].eq_ignore_ascii_case(&word[..n]) {
            continue;
        }
        return match have.get(word.len()) {
            Some(b) => Some(blank(b) || matches!(b, b'\n' | b'\r')),
            None if eof => Some(false),
            None => None,
        };
    }
    Some(false)
}
