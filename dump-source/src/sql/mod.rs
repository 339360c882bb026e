//! The SQL data parser: rows out of `INSERT`/`REPLACE` statements, as
//! dumpling, mydumper and mysqldump write them.
//!
//! A hand-written scanner (a general SQL parser is far too slow for data):
//! the stream is a sequence of statements; `INSERT [IGNORE] [INTO] t
//! [(cols)] VALUES (…),(…);` yields one row per tuple, session statements
//! (`SET`, `USE`, `LOCK TABLES`, `/*!40101 … */`…) are skipped, anything
//! else is an error. Values become [`Datum`]s: strings and hex/bit literals
//! `Bytes`, integers `Int`/`Uint` (wider ones an exact `Decimal`), numbers
//! with a point `Decimal`, with an exponent `Float64`.
//!
//! Each step parses one item (a statement head, a tuple, a separator) from
//! the buffer and is repeated from the item's start when the buffer runs
//! out, so values never straddle reads.

use std::sync::Arc;

use backend_core::Datum;

use super::SourceError;
use super::compress::DataReader;
use super::input::Input;
use super::parser::{DataCharset, ParserOptions, ParserState, Row, RowParser};

mod lexer;

use lexer::{Cur, Item, State, Step, Stop};

/// Reads rows from a stream of SQL statements.
pub struct SqlParser {
    input: Input,
    file: Arc<str>,
    options: ParserOptions,
    backslash: bool,
    state: State,
    columns: Option<Vec<String>>,
    row_id: i64,
    /// Which of the last tuple's values are text to validate.
    text: Vec<bool>,
    /// No row starting here or beyond is returned.
    end: u64,
    /// A row or a statement ends at `end`, so a chunk may start there.
    ended_at_end: bool,
    /// Rows are found, not read (see [`SqlParser::skipping_values`]).
    skip_values: bool,
}

impl std::fmt::Debug for SqlParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlParser")
            .field("file", &self.file)
            .field("offset", &self.input.offset())
            .field("row_id", &self.row_id)
            .finish()
    }
}

impl SqlParser {
    /// A parser over `reader`, whose first byte is at stream `offset` (a row
    /// boundary a parser reported, a split file's chunk start — the `;`
    /// ending the statement before — or 0), `row_id` the id of the row
    /// before. `no_backslash_escapes` is the `NO_BACKSLASH_ESCAPES` SQL mode.
    pub fn new(
        reader: DataReader,
        file: Arc<str>,
        offset: u64,
        row_id: i64,
        no_backslash_escapes: bool,
        options: ParserOptions,
    ) -> Self {
        SqlParser {
            input: Input::new(reader, offset, options.read_block_size),
            file,
            options,
            backslash: !no_backslash_escapes,
            state: if offset == 0 {
                State::Top
            } else {
                State::AfterTuple
            },
            columns: None,
            row_id,
            text: Vec::new(),
            end: u64::MAX,
            ended_at_end: false,
            skip_values: false,
        }
    }

    /// Finds rows without reading their values: rows come back without
    /// values, with the offsets and ids a full parse gives them, several
    /// times faster. For cutting a file into chunks at row boundaries; a
    /// bad value surfaces when the chunk is parsed.
    #[must_use]
    pub fn skipping_values(mut self) -> Self {
        self.skip_values = true;
        self
    }

    /// One step from the buffer's start: the item and bytes consumed. A
    /// tuple's values go into `values`.
    fn step(&mut self, values: &mut Vec<Datum>) -> Result<(Item, usize), (usize, String, bool)> {
        let mut cur = Cur {
            data: self.input.data(),
            pos: 0,
            eof: self.input.eof(),
            backslash: self.backslash,
        };
        let result = Self::step_in(
            &mut cur,
            &mut self.state,
            values,
            &mut self.text,
            self.skip_values,
        );
        match result {
            Ok(item) => Ok((item, cur.pos)),
            Err(Stop::NeedMore) => Err((0, String::new(), true)),
            Err(Stop::Syntax(at, reason)) => Err((at, reason, false)),
        }
    }

    fn step_in(
        cur: &mut Cur<'_>,
        state: &mut State,
        values: &mut Vec<Datum>,
        text: &mut Vec<bool>,
        skip_values: bool,
    ) -> Step<Item> {
        if matches!(*state, State::Done) {
            return Ok(Item::Eof);
        }
        cur.skip_ws()?;
        let next = cur.peek();
        match *state {
            State::Top => {
                let Some(b) = next else {
                    return Ok(Item::Eof);
                };
                if b == b';' {
                    cur.pos += 1;
                    *state = State::Top;
                    return Ok(Item::Skip);
                }
                let w = cur.word()?.to_ascii_uppercase();
                match w.as_slice() {
                    b"INSERT" | b"REPLACE" => {
                        let cols = cur.insert_head()?;
                        *state = State::ExpectTuple;
                        Ok(Item::Head(cols))
                    }
                    b"SET" | b"USE" | b"LOCK" | b"UNLOCK" | b"BEGIN" | b"COMMIT" | b"START"
                    | b"ROLLBACK" | b"ALTER" | b"SAVEPOINT" | b"RELEASE" | b"FLUSH" => {
                        cur.skip_statement()?;
                        *state = State::Top;
                        Ok(Item::Skip)
                    }
                    [] => cur.syntax(format!(
                        "unexpected character {:?} where a statement was expected",
                        char::from(b)
                    )),
                    other => cur.syntax(format!(
                        "unsupported statement {:?} in a data file",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            State::ExpectTuple => match next {
                Some(b'(') if skip_values => {
                    let start = cur.pos;
                    // No values; `text` records only whether the tuple is
                    // `()`, which matters to the column list (see
                    // `finish_row`).
                    let empty = cur.skip_tuple()?;
                    values.clear();
                    text.clear();
                    if !empty {
                        text.push(false);
                    }
                    *state = State::AfterTuple;
                    Ok(Item::Tuple(start))
                }
                Some(b'(') => {
                    let start = cur.pos;
                    cur.tuple(values, text)?;
                    *state = State::AfterTuple;
                    Ok(Item::Tuple(start))
                }
                Some(_) => cur.syntax("expected '(' starting a row"),
                None => cur.short("where a row was expected"),
            },
            State::AfterTuple => match next {
                Some(b',') => {
                    cur.pos += 1;
                    *state = State::ExpectTuple;
                    Ok(Item::Skip)
                }
                Some(b';') => {
                    cur.pos += 1;
                    *state = State::Top;
                    Ok(Item::Skip)
                }
                Some(_) => cur.syntax("expected ',' or ';' after a row"),
                None => Ok(Item::Eof),
            },
            State::Done => Ok(Item::Eof),
        }
    }
}

impl RowParser for SqlParser {
    fn read_row_into(&mut self, row: &mut Row) -> Result<bool, SourceError> {
        loop {
            let offset = self.input.offset();
            match self.step(&mut row.values) {
                Err((_, _, true)) => {
                    if self.input.data().len() > self.options.max_row_size {
                        return Err(SourceError::RowTooLarge {
                            file: self.file.to_string(),
                            offset,
                            line: self.input.line_of(offset),
                            limit: self.options.max_row_size,
                        });
                    }
                    if let Err(e) = self.input.fill() {
                        return Err(SourceError::Syntax {
                            file: self.file.to_string(),
                            offset,
                            line: self.input.line(),
                            reason: format!("reading data failed: {e}"),
                        });
                    }
                }
                Err((at, reason, false)) => {
                    let at = offset + u64::try_from(at).unwrap_or(0);
                    return Err(SourceError::Syntax {
                        file: self.file.to_string(),
                        offset: at,
                        line: self.input.line_of(at),
                        reason,
                    });
                }
                Ok((item, n)) => {
                    let stop = offset + u64::try_from(n).unwrap_or(u64::MAX);
                    if !self.ended_at_end && (offset..stop).contains(&self.end) {
                        // The step covers the end, where the next chunk
                        // starts: it must be the `;` that ends a statement.
                        if matches!(self.state, State::Top)
                            && self.input.data()[n - 1] == b';'
                            && stop - 1 == self.end
                        {
                            self.ended_at_end = true;
                        } else {
                            return Err(self.misplaced_cut());
                        }
                    }
                    if matches!(item, Item::Tuple(_)) && stop == self.end {
                        // Or a row ends there.
                        self.ended_at_end = true;
                    }
                    self.input.consume(n);
                    match item {
                        Item::Eof => return Ok(false),
                        Item::Skip => {}
                        Item::Head(cols) => self.columns = cols,
                        Item::Tuple(at) => {
                            let start = offset + u64::try_from(at).unwrap_or(0);
                            if start >= self.end {
                                if !self.ended_at_end {
                                    return Err(self.misplaced_cut());
                                }
                                self.state = State::Done;
                                return Ok(false);
                            }
                            self.row_id += 1;
                            return self.finish_row(start, row).map(|()| true);
                        }
                    }
                }
            }
        }
    }

    fn pos(&self) -> (u64, i64) {
        (self.input.offset(), self.row_id)
    }

    fn set_pos(&mut self, offset: u64, row_id: i64) -> Result<(), SourceError> {
        let here = self.input.offset();
        if offset < here {
            return Err(SourceError::Syntax {
                file: self.file.to_string(),
                offset: here,
                line: self.input.line(),
                reason: format!("cannot move back to offset {offset}"),
            });
        }
        if offset > here {
            let reached = self
                .input
                .skip_to(offset)
                .map_err(|e| SourceError::Syntax {
                    file: self.file.to_string(),
                    offset: here,
                    line: self.input.line(),
                    reason: format!("reading data failed: {e}"),
                })?;
            if !reached {
                return Err(SourceError::Syntax {
                    file: self.file.to_string(),
                    offset: self.input.offset(),
                    line: self.input.line(),
                    reason: format!("offset {offset} is past the end of the data"),
                });
            }
            self.state = State::AfterTuple;
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

    fn state(&self) -> ParserState {
        ParserState {
            columns: self.columns.clone(),
            in_values: self.state != State::Top,
        }
    }

    fn restore(&mut self, state: ParserState) {
        self.columns = state.columns;
        self.state = if state.in_values {
            State::AfterTuple
        } else {
            State::Top
        };
    }

    fn line(&self) -> u64 {
        self.input.line()
    }

    fn stop_at(&mut self, end: u64) {
        self.end = end;
    }
}

impl SqlParser {
    /// The chunk's end is neither where a row ends nor the `;` of a
    /// statement end: a strict-format cut fell inside a value (one holding a
    /// line that looks like a statement start), and the next chunk reads
    /// from the middle of that value.
    fn misplaced_cut(&self) -> SourceError {
        SourceError::Syntax {
            file: self.file.to_string(),
            offset: self.end,
            line: self.input.line_of(self.end),
            reason: format!(
                "strict-format split the file into chunks at byte {}, but no statement \
                 ends there: a value holds a line that looks like a statement start; \
                 import this file with strict-format = false",
                self.end
            ),
        }
    }

    fn finish_row(&mut self, start: u64, row: &mut Row) -> Result<(), SourceError> {
        let bad = |reason: String| SourceError::BadRow {
            file: self.file.to_string(),
            offset: start,
            line: self.input.line_of(start),
            reason,
        };
        // `VALUES ()` without a column list: every column takes its
        // default, as with `() VALUES ()`. Rows after it in the statement
        // are held to the same empty list, as MySQL holds them.
        let empty = if self.skip_values {
            self.text.is_empty()
        } else {
            row.values.is_empty()
        };
        if empty && self.columns.is_none() {
            self.columns = Some(Vec::new());
        }
        if self.skip_values {
            row.values.clear();
            row.row_id = self.row_id;
            row.start_offset = start;
            row.end_offset = self.input.offset();
            return Ok(());
        }
        let expected = match &self.columns {
            Some(cols) => Some(cols.len()),
            None => self.options.expected_columns,
        };
        if let Some(n) = expected
            && n != row.values.len()
        {
            return Err(bad(format!(
                "wrong column count: expected {n} values, found {}",
                row.values.len()
            )));
        }
        if self.options.charset == DataCharset::Utf8mb4 {
            for (i, (v, t)) in row.values.iter().zip(&self.text).enumerate() {
                if let (Datum::Bytes(b), true) = (v, *t)
                    && self.options.validates(i)
                    // ASCII, most text, is checked inline a word at a time.
                    && !b.is_ascii()
                    && std::str::from_utf8(b).is_err()
                {
                    return Err(bad(format!("value {} is not valid UTF-8", i + 1)));
                }
            }
        }
        row.row_id = self.row_id;
        row.start_offset = start;
        row.end_offset = self.input.offset();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use backend_core::Decimal;

    use super::*;

    /// Every row of `data`, read into one reused row, for several read
    /// block sizes (small ones make tuples restart after `NeedMore` over
    /// half-written slots); the block sizes must agree.
    fn reused_rows(data: &[u8]) -> Vec<Vec<Datum>> {
        let mut runs = Vec::new();
        for block in [1usize, 2, 7, 64 << 10] {
            let options = ParserOptions {
                read_block_size: block,
                ..ParserOptions::default()
            };
            let reader: DataReader = Box::new(Cursor::new(data.to_vec()));
            let mut p = SqlParser::new(reader, Arc::from("t.sql"), 0, 0, false, options);
            let mut row = Row::default();
            let mut out = Vec::new();
            loop {
                match p.read_row_into(&mut row) {
                    Ok(true) => out.push(row.values.clone()),
                    Ok(false) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            runs.push(out);
        }
        for run in &runs[1..] {
            assert_eq!(run, &runs[0]);
        }
        runs.swap_remove(0)
    }

    /// The general path numbers took before the in-place fast paths: the
    /// signs folded, then the digits given to `str::parse` or, with their
    /// sign as text, to `Decimal::parse`.
    fn general_number(literal: &str) -> Datum {
        let text = literal.trim_start_matches(['-', '+', ' ', '\t', '\n']);
        let signs = &literal[..literal.len() - text.len()];
        let negative = signs.matches('-').count() % 2 == 1;
        let signed = format!("{}{text}", if negative { "-" } else { "" });
        if text.contains(['e', 'E']) {
            let v: f64 = text.parse().unwrap_or(f64::NAN);
            Datum::Float64(if negative { -v } else { v })
        } else if let (false, Ok(v)) = (text.contains('.'), signed.parse::<i64>()) {
            Datum::Int(v)
        } else if let (false, Ok(v)) = (text.contains('.') || negative, text.parse::<u64>()) {
            Datum::Uint(v)
        } else {
            Decimal::parse(&signed).map_or(Datum::Null, Datum::Decimal)
        }
    }

    #[test]
    fn numbers_match_the_general_path() {
        let literals = [
            "0.00",
            "-0.00",
            "- 0.0",
            "+12.50",
            "-12.50",
            "- 7.25",
            "+ -3.5",
            "-\t-\n4.75",
            ".5",
            "-.5",
            "5.",
            "-5.",
            "007.0100",
            "12345678901234567890123456789012345.123456789012345678901234567890",
            "-99999999999999999999999999999999999999999999999999999999999999999.5",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "-9223372036854775808",
            "18446744073709551615",
            "1e3",
            "-2.5E-1",
            "+.5e+2",
        ];
        let sql = format!("INSERT INTO t VALUES ({});", literals.join(","));
        let rows = reused_rows(sql.as_bytes());
        let want: Vec<Datum> = literals.iter().map(|l| general_number(l)).collect();
        assert_eq!(rows, vec![want]);
    }

    #[test]
    fn reused_slots_change_type() {
        // Each column changes type from row to row, so a slot's old value
        // (a string buffer, a decimal buffer) is reused or replaced.
        let sql = b"INSERT INTO t VALUES (1.50,'a',NULL,x'41'),('bb',-2.5,3,'c'),(NULL,'dd',0.000,-12345678901234567890.5),(-0.5,7,'e',99999999999999999999);";
        let dec = |s: &str| Decimal::parse(s).map_or(Datum::Null, Datum::Decimal);
        let b = |s: &str| Datum::Bytes(s.as_bytes().to_vec());
        assert_eq!(
            reused_rows(sql),
            vec![
                vec![dec("1.50"), b("a"), Datum::Null, b("A")],
                vec![b("bb"), dec("-2.5"), Datum::Int(3), b("c")],
                vec![
                    Datum::Null,
                    b("dd"),
                    dec("0.000"),
                    dec("-12345678901234567890.5")
                ],
                vec![
                    dec("-0.5"),
                    Datum::Int(7),
                    b("e"),
                    dec("99999999999999999999")
                ],
            ]
        );
    }
}
