//! The CSV parser (`[mydumper.csv]`).
//!
//! Two paths produce identical records. The fast path takes a whole line
//! found with `memchr` and, when it holds no quote, escape or stray `\r`,
//! splits it at the separator with `memchr`. Everything else goes through
//! the general state machine, which handles multi-byte separators and
//! terminators, quoted fields spanning lines, doubled delimiters and escapes.
//! Field bytes go into one reused buffer, so scanning allocates nothing per
//! field; [`RowParser::read_row`] then copies each field into its datum.

use std::sync::Arc;

use backend_core::Datum;
use memchr::{memchr, memchr_iter, memchr2, memchr3};

use super::SourceError;
use super::compress::DataReader;
use super::input::Input;
use super::parser::{DataCharset, ParserOptions, Row, RowParser, set_bytes};

/// `[mydumper.csv]` options, defaulting as Lightning does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator, one or more bytes (`separator`, default `,`).
    pub separator: String,
    /// Quote around fields, possibly empty for none (`delimiter`, default `"`).
    pub delimiter: String,
    /// Line terminator; empty means any of `\r`, `\n`, `\r\n` (`terminator`).
    pub terminator: String,
    /// Strings meaning NULL (`null`, default `\N`).
    pub null: Vec<String>,
    /// No field is ever NULL (`not-null`).
    pub not_null: bool,
    /// The first line is a header (`header`, default true).
    pub header: bool,
    /// Map columns by the header's names (`header-schema-match`, default
    /// true); when false the header is skipped.
    pub header_schema_match: bool,
    /// Whether the escape character is active (`backslash-escape`, default
    /// true).
    pub backslash_escape: bool,
    /// The escape character (`escaped-by`, default `\`).
    pub escaped_by: String,
    /// Drop one empty field after a trailing separator
    /// (`trim-last-separator`).
    pub trim_last_separator: bool,
    /// A quoted field equal to a `null` string is text, not NULL
    /// (`quoted-null-is-text`).
    pub quoted_null_is_text: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            separator: ",".into(),
            delimiter: "\"".into(),
            terminator: String::new(),
            null: vec![r"\N".into()],
            not_null: false,
            header: true,
            header_schema_match: true,
            backslash_escape: true,
            escaped_by: r"\".into(),
            trim_last_separator: false,
            quoted_null_is_text: false,
        }
    }
}

/// The compiled syntax: byte patterns and the scanning tables.
#[derive(Debug, Clone)]
struct Syntax {
    sep: Vec<u8>,
    delim: Vec<u8>,
    term: Vec<u8>,
    esc: Option<u8>,
    nulls: Vec<Vec<u8>>,
    not_null: bool,
    trim_last_separator: bool,
    quoted_null_is_text: bool,
    /// Bytes that stop an unquoted field.
    special: [bool; 256],
    /// Whether the line fast path applies (single-byte separator, `\n`,
    /// `\r\n` or any-newline terminator).
    fast: bool,
    /// Bytes whose presence in a line sends it to the general path.
    fast_stops: Vec<u8>,
}

impl Syntax {
    fn new(o: &CsvOptions) -> Result<Self, SourceError> {
        let sep = o.separator.as_bytes().to_vec();
        let delim = o.delimiter.as_bytes().to_vec();
        let term = o.terminator.as_bytes().to_vec();
        if sep.is_empty() {
            return Err(SourceError::Config(
                "csv separator must not be empty".into(),
            ));
        }
        let esc = if o.backslash_escape && !o.escaped_by.is_empty() {
            match o.escaped_by.as_bytes() {
                [b] => Some(*b),
                _ => {
                    return Err(SourceError::Config(format!(
                        "csv escaped-by must be one byte, got {:?}",
                        o.escaped_by
                    )));
                }
            }
        } else {
            None
        };
        if !delim.is_empty() && (sep.starts_with(&delim) || delim.starts_with(&sep)) {
            return Err(SourceError::Config(
                "csv separator and delimiter must differ".into(),
            ));
        }
        if !term.is_empty() && (sep.starts_with(&term) || term.starts_with(&sep)) {
            return Err(SourceError::Config(
                "csv separator and terminator must differ".into(),
            ));
        }
        if esc.is_some_and(|e| {
            sep.first() == Some(&e) || delim.first() == Some(&e) || term.first() == Some(&e)
        }) {
            return Err(SourceError::Config(
                "csv escaped-by must differ from separator, delimiter and terminator".into(),
            ));
        }
        let mut special = [false; 256];
        special[usize::from(sep[0])] = true;
        match term.first() {
            Some(b) => special[usize::from(*b)] = true,
            None => {
                special[usize::from(b'\r')] = true;
                special[usize::from(b'\n')] = true;
            }
        }
        if let Some(e) = esc {
            special[usize::from(e)] = true;
        }
        let fast = sep.len() == 1
            && (term.is_empty() || term == b"\n" || term == b"\r\n")
            && sep[0] != b'\r'
            && sep[0] != b'\n';
        let mut fast_stops = vec![b'\r'];
        if let Some(d) = delim.first() {
            fast_stops.push(*d);
        }
        if let Some(e) = esc {
            fast_stops.push(e);
        }
        Ok(Syntax {
            sep,
            delim,
            term,
            esc,
            nulls: o.null.iter().map(|s| s.as_bytes().to_vec()).collect(),
            not_null: o.not_null,
            trim_last_separator: o.trim_last_separator,
            quoted_null_is_text: o.quoted_null_is_text,
            special,
            fast,
            fast_stops,
        })
    }

    fn is_null_text(&self, content: &[u8], quoted: bool) -> bool {
        !(self.not_null || (quoted && self.quoted_null_is_text))
            && self.nulls.iter().any(|n| n.as_slice() == content)
    }
}

/// One field of the current record: a range of [`Record::data`].
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    start: usize,
    end: usize,
    null: bool,
    quoted: bool,
}

/// The fields of one record, decoded into one reused buffer.
#[derive(Debug, Default)]
struct Record {
    data: Vec<u8>,
    fields: Vec<Field>,
}

impl Record {
    fn clear(&mut self) {
        self.data.clear();
        self.fields.clear();
    }
}

/// The outcome of parsing at the buffer's start.
enum Step {
    /// A record of `consumed` bytes.
    Record(usize),
    /// An empty line of `consumed` bytes.
    Blank(usize),
    /// The buffer ends inside a record.
    NeedMore,
    /// No more data.
    Eof,
}

/// A syntax error at a byte position relative to the record's start.
struct SynErr(usize, String);

enum Match {
    Yes,
    No,
    NeedMore,
}

#[inline]
fn match_at(data: &[u8], pos: usize, pat: &[u8], eof: bool) -> Match {
    let rest = &data[pos.min(data.len())..];
    if rest.len() >= pat.len() {
        if &rest[..pat.len()] == pat {
            Match::Yes
        } else {
            Match::No
        }
    } else if !eof && pat.starts_with(rest) {
        Match::NeedMore
    } else {
        Match::No
    }
}

fn unescape(b: u8) -> u8 {
    match b {
        b'0' => 0,
        b'b' => 8,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'Z' => 26,
        other => other,
    }
}

/// How a field ended.
enum End {
    Sep(usize),
    Term(usize),
    Eof,
}

impl Syntax {
    /// Length of the terminator at `pos`, `Ok(None)` if none is there.
    #[inline]
    fn term_at(&self, data: &[u8], pos: usize, eof: bool) -> Result<Option<usize>, ()> {
        if self.term.is_empty() {
            return match data.get(pos) {
                Some(b'\n') => Ok(Some(1)),
                Some(b'\r') => match data.get(pos + 1) {
                    Some(b'\n') => Ok(Some(2)),
                    Some(_) => Ok(Some(1)),
                    None if eof => Ok(Some(1)),
                    None => Err(()),
                },
                _ => Ok(None),
            };
        }
        match match_at(data, pos, &self.term, eof) {
            Match::Yes => Ok(Some(self.term.len())),
            Match::No => Ok(None),
            Match::NeedMore => Err(()),
        }
    }

    /// Parses one line with the fast path, `None` if it needs the general
    /// one.
    #[inline]
    fn parse_fast(&self, data: &[u8], rec: &mut Record) -> Option<Step> {
        let nl = memchr(b'\n', data)?;
        let mut line = &data[..nl];
        if self.term.is_empty() || self.term == b"\r\n" {
            match line.split_last() {
                Some((b'\r', head)) => line = head,
                _ if self.term == b"\r\n" => return None,
                _ => {}
            }
        }
        if line.is_empty() {
            return None;
        }
        let stop = match self.fast_stops.as_slice() {
            [a] => memchr(*a, line),
            [a, b] => memchr2(*a, *b, line),
            [a, b, c, ..] => memchr3(*a, *b, *c, line),
            [] => None,
        };
        if stop.is_some() {
            return None;
        }
        rec.clear();
        rec.data.extend_from_slice(line);
        let sep = self.sep[0];
        let mut start = 0;
        for i in memchr_iter(sep, line) {
            self.push_plain(rec, start, i);
            start = i + 1;
        }
        self.push_plain(rec, start, line.len());
        if self.trim_last_separator && rec.fields.len() > 1 && start == line.len() {
            rec.fields.pop();
        }
        Some(Step::Record(nl + 1))
    }

    #[inline]
    fn push_plain(&self, rec: &mut Record, start: usize, end: usize) {
        let null = self.is_null_text(&rec.data[start..end], false);
        rec.fields.push(Field {
            start,
            end,
            null,
            quoted: false,
        });
    }

    /// Parses one record with the general state machine.
    fn parse_general(&self, data: &[u8], eof: bool, rec: &mut Record) -> Result<Step, SynErr> {
        rec.clear();
        if data.is_empty() {
            return Ok(if eof { Step::Eof } else { Step::NeedMore });
        }
        let len = data.len();
        let mut pos = 0;
        loop {
            let fstart = rec.data.len();
            let raw_start = pos;
            let quoted = !self.delim.is_empty()
                && match match_at(data, pos, &self.delim, eof) {
                    Match::Yes => true,
                    Match::No => false,
                    Match::NeedMore => return Ok(Step::NeedMore),
                };
            let end;
            if quoted {
                pos += self.delim.len();
                let d0 = self.delim[0];
                loop {
                    let found = match self.esc {
                        Some(e) => memchr2(d0, e, &data[pos..]),
                        None => memchr(d0, &data[pos..]),
                    };
                    let Some(k) = found else {
                        if eof {
                            return Err(SynErr(raw_start, "unterminated quoted field".into()));
                        }
                        return Ok(Step::NeedMore);
                    };
                    let i = pos + k;
                    rec.data.extend_from_slice(&data[pos..i]);
                    if Some(data[i]) == self.esc {
                        let Some(&next) = data.get(i + 1) else {
                            if eof {
                                return Err(SynErr(i, "escape character at end of data".into()));
                            }
                            return Ok(Step::NeedMore);
                        };
                        rec.data.push(unescape(next));
                        pos = i + 2;
                        continue;
                    }
                    match match_at(data, i, &self.delim, eof) {
                        Match::NeedMore => return Ok(Step::NeedMore),
                        Match::No => {
                            rec.data.push(data[i]);
                            pos = i + 1;
                        }
                        Match::Yes => {
                            let after = i + self.delim.len();
                            match match_at(data, after, &self.delim, eof) {
                                Match::NeedMore => return Ok(Step::NeedMore),
                                Match::Yes => {
                                    rec.data.extend_from_slice(&self.delim);
                                    pos = after + self.delim.len();
                                }
                                Match::No => {
                                    pos = after;
                                    break;
                                }
                            }
                        }
                    }
                }
                // After the closing quote: a separator, a terminator or the end.
                if pos >= len {
                    if !eof {
                        return Ok(Step::NeedMore);
                    }
                    end = End::Eof;
                } else {
                    match match_at(data, pos, &self.sep, eof) {
                        Match::Yes => end = End::Sep(self.sep.len()),
                        Match::NeedMore => return Ok(Step::NeedMore),
                        Match::No => match self.term_at(data, pos, eof) {
                            Ok(Some(n)) => end = End::Term(n),
                            Ok(None) => {
                                return Err(SynErr(
                                    pos,
                                    "unexpected character after a quoted field".into(),
                                ));
                            }
                            Err(()) => return Ok(Step::NeedMore),
                        },
                    }
                }
            } else {
                loop {
                    let found = data[pos..]
                        .iter()
                        .position(|b| self.special[usize::from(*b)]);
                    let Some(k) = found else {
                        if !eof {
                            return Ok(Step::NeedMore);
                        }
                        rec.data.extend_from_slice(&data[pos..]);
                        pos = len;
                        end = End::Eof;
                        break;
                    };
                    let i = pos + k;
                    rec.data.extend_from_slice(&data[pos..i]);
                    let b = data[i];
                    if Some(b) == self.esc {
                        let Some(&next) = data.get(i + 1) else {
                            if eof {
                                return Err(SynErr(i, "escape character at end of data".into()));
                            }
                            return Ok(Step::NeedMore);
                        };
                        rec.data.push(unescape(next));
                        pos = i + 2;
                        continue;
                    }
                    if b == self.sep[0] {
                        match match_at(data, i, &self.sep, eof) {
                            Match::Yes => {
                                pos = i;
                                end = End::Sep(self.sep.len());
                                break;
                            }
                            Match::NeedMore => return Ok(Step::NeedMore),
                            Match::No => {}
                        }
                    }
                    match self.term_at(data, i, eof) {
                        Ok(Some(n)) => {
                            pos = i;
                            end = End::Term(n);
                            break;
                        }
                        Ok(None) => {
                            rec.data.push(b);
                            pos = i + 1;
                        }
                        Err(()) => return Ok(Step::NeedMore),
                    }
                }
            }
            let content = &rec.data[fstart..];
            // As Lightning: a raw `\N` (quoted or not) is NULL; a value that
            // only unescapes to `\N` (written `\\N`) is the text `\N`.
            let raw = if quoted {
                let dl = self.delim.len();
                &data[raw_start + dl..pos.saturating_sub(dl).max(raw_start + dl)]
            } else {
                &data[raw_start..pos]
            };
            let is_esc_n = |b: &[u8]| self.esc.is_some_and(|e| b == [e, b'N']);
            let null = !self.not_null
                && (is_esc_n(raw) || (!is_esc_n(content) && self.is_null_text(content, quoted)));
            rec.fields.push(Field {
                start: fstart,
                end: rec.data.len(),
                null,
                quoted,
            });
            match end {
                End::Sep(n) => pos += n,
                End::Term(n) => {
                    pos += n;
                    break;
                }
                End::Eof => break,
            }
        }
        let last_empty_plain = rec
            .fields
            .last()
            .is_some_and(|f| f.start == f.end && !f.quoted);
        if rec.fields.len() == 1 && last_empty_plain {
            return Ok(Step::Blank(pos));
        }
        if self.trim_last_separator && rec.fields.len() > 1 && last_empty_plain {
            rec.fields.pop();
        }
        Ok(Step::Record(pos))
    }
}

/// Reads rows from a CSV stream.
pub struct CsvParser {
    input: Input,
    file: Arc<str>,
    syntax: Syntax,
    options: ParserOptions,
    rec: Record,
    row_id: i64,
    columns: Option<Vec<String>>,
    header_pending: bool,
    header_schema_match: bool,
    bom_checked: bool,
}

impl std::fmt::Debug for CsvParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvParser")
            .field("file", &self.file)
            .field("offset", &self.input.offset())
            .field("row_id", &self.row_id)
            .finish()
    }
}

impl CsvParser {
    /// A parser over `reader`, whose first byte is at stream `offset` (a row
    /// boundary) and `row_id` the id of the row before. At offset 0 a UTF-8
    /// BOM is skipped and, with `header`, the first line read as the header.
    pub fn new(
        reader: DataReader,
        file: Arc<str>,
        offset: u64,
        row_id: i64,
        csv: CsvOptions,
        options: ParserOptions,
    ) -> Result<Self, SourceError> {
        let syntax = Syntax::new(&csv)?;
        Ok(CsvParser {
            input: Input::new(reader, offset, options.read_block_size),
            file,
            syntax,
            options,
            rec: Record::default(),
            row_id,
            columns: None,
            header_pending: offset == 0 && csv.header,
            header_schema_match: csv.header_schema_match,
            bom_checked: offset != 0,
        })
    }

    fn syntax_error(&self, offset: u64, line: u64, reason: String) -> SourceError {
        SourceError::Syntax {
            file: self.file.to_string(),
            offset,
            line,
            reason,
        }
    }

    fn fill(&mut self) -> Result<bool, SourceError> {
        self.input.fill().map_err(|e| {
            let (offset, line) = (self.input.offset(), self.input.line());
            self.syntax_error(offset, line, format!("reading data failed: {e}"))
        })
    }

    fn skip_bom(&mut self) -> Result<(), SourceError> {
        while self.input.data().len() < 3 && !self.input.eof() {
            self.fill()?;
        }
        if self.input.data().starts_with(b"\xEF\xBB\xBF") {
            self.input.consume(3);
        }
        self.bom_checked = true;
        Ok(())
    }

    /// Parses the next record into `self.rec`; returns its start offset, or
    /// `None` at the end.
    fn next_record(&mut self) -> Result<Option<u64>, SourceError> {
        if !self.bom_checked {
            self.skip_bom()?;
        }
        loop {
            let start = self.input.offset();
            let data = self.input.data();
            let eof = self.input.eof();
            let fast = if self.syntax.fast {
                self.syntax.parse_fast(data, &mut self.rec)
            } else {
                None
            };
            let step = match fast {
                Some(step) => step,
                None => match self.syntax.parse_general(data, eof, &mut self.rec) {
                    Ok(step) => step,
                    Err(SynErr(at, reason)) => {
                        let offset = start + u64::try_from(at).unwrap_or(0);
                        let line = self.input.line_of(offset);
                        return Err(self.syntax_error(offset, line, reason));
                    }
                },
            };
            match step {
                Step::Eof => return Ok(None),
                Step::NeedMore => {
                    if self.input.data().len() > self.options.max_row_size {
                        return Err(SourceError::RowTooLarge {
                            file: self.file.to_string(),
                            offset: start,
                            line: self.input.line_of(start),
                            limit: self.options.max_row_size,
                        });
                    }
                    self.fill()?;
                }
                Step::Blank(n) => self.input.consume(n),
                Step::Record(n) => {
                    self.input.consume(n);
                    if self.header_pending {
                        self.header_pending = false;
                        self.read_header(start)?;
                        continue;
                    }
                    return Ok(Some(start));
                }
            }
        }
    }

    fn read_header(&mut self, start: u64) -> Result<(), SourceError> {
        let line = self.input.line_of(start);
        if !self.header_schema_match {
            return Ok(());
        }
        let mut names = Vec::with_capacity(self.rec.fields.len());
        for f in &self.rec.fields {
            let bytes = &self.rec.data[f.start..f.end];
            match std::str::from_utf8(bytes) {
                Ok(s) if !s.is_empty() => names.push(s.to_string()),
                Ok(_) => {
                    return Err(self.syntax_error(
                        start,
                        line,
                        "empty column name in header".into(),
                    ));
                }
                Err(_) => {
                    return Err(self.syntax_error(start, line, "header is not valid UTF-8".into()));
                }
            }
        }
        self.columns = Some(names);
        Ok(())
    }

    fn check_count(&self, start: u64) -> Result<(), SourceError> {
        let expected = match &self.columns {
            Some(cols) => Some(cols.len()),
            None => self.options.expected_columns,
        };
        match expected {
            Some(n) if n != self.rec.fields.len() => Err(SourceError::BadRow {
                file: self.file.to_string(),
                offset: start,
                line: self.input.line_of(start),
                reason: format!(
                    "wrong column count: expected {n} fields, found {}",
                    self.rec.fields.len()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Scans the next row without building datums (row counting, benches);
    /// returns its field count. Checks the same as [`RowParser::read_row`]
    /// except character validity.
    pub fn read_raw(&mut self) -> Result<Option<usize>, SourceError> {
        let Some(start) = self.next_record()? else {
            return Ok(None);
        };
        self.row_id += 1;
        self.check_count(start)?;
        Ok(Some(self.rec.fields.len()))
    }
}

impl RowParser for CsvParser {
    fn read_row_into(&mut self, row: &mut Row) -> Result<bool, SourceError> {
        let Some(start) = self.next_record()? else {
            return Ok(false);
        };
        self.row_id += 1;
        self.check_count(start)?;
        // One validation of the whole record is enough when every field is
        // checked and no field starts with a continuation byte (so no
        // character spans a field boundary).
        let mut validate = self.options.charset == DataCharset::Utf8mb4;
        if validate
            && self.options.binary_fields.is_empty()
            && std::str::from_utf8(&self.rec.data).is_ok()
            && self.rec.fields.iter().all(|f| {
                self.rec
                    .data
                    .get(f.start)
                    .is_none_or(|b| (*b & 0xC0) != 0x80)
            })
        {
            validate = false;
        }
        let n = self.rec.fields.len();
        row.values.truncate(n);
        row.values.resize_with(n, || Datum::Null);
        for (i, (f, slot)) in self
            .rec
            .fields
            .iter()
            .zip(row.values.iter_mut())
            .enumerate()
        {
            if f.null {
                *slot = Datum::Null;
                continue;
            }
            let bytes = &self.rec.data[f.start..f.end];
            if validate && self.options.validates(i) && std::str::from_utf8(bytes).is_err() {
                return Err(SourceError::BadRow {
                    file: self.file.to_string(),
                    offset: start,
                    line: self.input.line_of(start),
                    reason: format!("field {} is not valid UTF-8", i + 1),
                });
            }
            set_bytes(slot, bytes);
        }
        row.row_id = self.row_id;
        row.start_offset = start;
        row.end_offset = self.input.offset();
        Ok(true)
    }

    fn pos(&self) -> (u64, i64) {
        (self.input.offset(), self.row_id)
    }

    fn set_pos(&mut self, offset: u64, row_id: i64) -> Result<(), SourceError> {
        let here = self.input.offset();
        if offset < here {
            return Err(self.syntax_error(
                here,
                self.input.line(),
                format!("cannot move back to offset {offset}"),
            ));
        }
        if offset > here {
            // Skipping the header/BOM position: anything before is consumed.
            self.header_pending = false;
            self.bom_checked = true;
            let reached = self.input.skip_to(offset).map_err(|e| {
                self.syntax_error(here, self.input.line(), format!("reading data failed: {e}"))
            })?;
            if !reached {
                return Err(self.syntax_error(
                    self.input.offset(),
                    self.input.line(),
                    format!("offset {offset} is past the end of the data"),
                ));
            }
        }
        self.row_id = row_id;
        Ok(())
    }

    fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    fn set_columns(&mut self, columns: Vec<String>) {
        self.columns = Some(columns);
    }

    fn line(&self) -> u64 {
        self.input.line()
    }
}
