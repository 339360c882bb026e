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

use backend_core::{Datum, Decimal};
use memchr::{memchr, memchr2, memmem};

use super::SourceError;
use super::compress::DataReader;
use super::input::Input;
use super::parser::{DataCharset, ParserOptions, Row, RowParser};

/// Where in the statement grammar the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between statements.
    Top,
    /// After `VALUES` or `,`: a tuple must follow.
    ExpectTuple,
    /// After a tuple: `,`, `;` or the end. Also where a parser started at
    /// a reported row boundary (just after a tuple's `)`) begins, so a
    /// resumed parser accepts exactly what the first one would have: it
    /// used to also accept a new statement there, reading on past a
    /// missing `;` the first run had stopped at (found by fuzzing).
    AfterTuple,
}

/// Why a step stopped.
enum Stop {
    /// The buffer ends inside the item.
    NeedMore,
    /// A syntax error at a buffer position.
    Syntax(usize, String),
}

type Step<T> = Result<T, Stop>;

/// What a step produced.
enum Item {
    /// Bytes to skip (whitespace, comments, skipped statements, `;`, `,`).
    Skip,
    /// A statement head with its column list.
    Head(Option<Vec<String>>),
    /// A tuple starting at a buffer position.
    Tuple(usize),
    /// End of data.
    Eof,
}

/// A cursor over the buffered bytes.
struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
    eof: bool,
    backslash: bool,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Cur<'a> {
    fn syntax<T>(&self, reason: impl Into<String>) -> Step<T> {
        Err(Stop::Syntax(self.pos, reason.into()))
    }

    /// `NeedMore` unless at the end of data, then a syntax error.
    fn short<T>(&self, what: &str) -> Step<T> {
        if self.eof {
            self.syntax(format!("unexpected end of data {what}"))
        } else {
            Err(Stop::NeedMore)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Step<Option<u8>> {
        match self.data.get(self.pos + k) {
            Some(b) => Ok(Some(*b)),
            None if self.eof => Ok(None),
            None => Err(Stop::NeedMore),
        }
    }

    fn skip_line(&mut self) -> Step<()> {
        match memchr(b'\n', &self.data[self.pos..]) {
            Some(k) => {
                self.pos += k + 1;
                Ok(())
            }
            None if self.eof => {
                self.pos = self.data.len();
                Ok(())
            }
            None => Err(Stop::NeedMore),
        }
    }

    /// Skips whitespace and comments (`-- `, `#`, `/* */`, `/*! */`).
    #[inline]
    fn skip_ws(&mut self) -> Step<()> {
        // Most calls (around every value) have nothing to skip: decide that
        // inline from one byte.
        match self.peek() {
            Some(b) if !b.is_ascii_whitespace() && !matches!(b, b'#' | b'-' | b'/') => Ok(()),
            _ => self.skip_ws_comments(),
        }
    }

    /// [`Cur::skip_ws`] past whatever is there.
    fn skip_ws_comments(&mut self) -> Step<()> {
        loop {
            while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
                self.pos += 1;
            }
            match self.peek() {
                Some(b'#') => self.skip_line()?,
                Some(b'-') => match self.peek_at(1)? {
                    Some(b'-') => match self.peek_at(2)? {
                        None => self.pos = self.data.len(),
                        Some(c) if c.is_ascii_whitespace() => self.skip_line()?,
                        Some(_) => return Ok(()),
                    },
                    _ => return Ok(()),
                },
                Some(b'/') => match self.peek_at(1)? {
                    Some(b'*') => match memmem::find(&self.data[self.pos + 2..], b"*/") {
                        Some(k) => self.pos += 2 + k + 2,
                        None if self.eof => return self.syntax("unterminated comment"),
                        None => return Err(Stop::NeedMore),
                    },
                    _ => return Ok(()),
                },
                None if !self.eof => return Err(Stop::NeedMore),
                _ => return Ok(()),
            }
        }
    }

    /// A bare word (keyword or identifier), ASCII-uppercased is up to the
    /// caller.
    fn word(&mut self) -> Step<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_byte) {
            self.pos += 1;
        }
        if self.pos == self.data.len() && !self.eof {
            return Err(Stop::NeedMore);
        }
        Ok(&self.data[start..self.pos])
    }

    /// Consumes keyword `kw` if it is next.
    fn keyword(&mut self, kw: &str) -> Step<bool> {
        let save = self.pos;
        let w = self.word()?;
        if w.eq_ignore_ascii_case(kw.as_bytes()) {
            Ok(true)
        } else {
            self.pos = save;
            Ok(false)
        }
    }

    fn ident(&mut self) -> Step<String> {
        match self.peek() {
            Some(q @ (b'`' | b'"')) => {
                let bytes = self.quoted(q, false)?;
                String::from_utf8(bytes).or_else(|_| self.syntax("identifier is not valid UTF-8"))
            }
            Some(_) => {
                let w = self.word()?;
                if w.is_empty() {
                    return self.syntax("expected an identifier");
                }
                let w = w.to_vec();
                String::from_utf8(w).or_else(|_| self.syntax("identifier is not valid UTF-8"))
            }
            None => self.short("where an identifier was expected"),
        }
    }

    /// A quoted string or identifier starting at the quote `q`; backslash
    /// escapes apply when `escapes` (and not `NO_BACKSLASH_ESCAPES`).
    fn quoted(&mut self, q: u8, escapes: bool) -> Step<Vec<u8>> {
        let mut out = Vec::new();
        self.quoted_into(q, escapes, &mut out)?;
        Ok(out)
    }

    /// Like [`Cur::quoted`], appending the contents to `out`.
    fn quoted_into(&mut self, q: u8, escapes: bool, out: &mut Vec<u8>) -> Step<()> {
        let open = self.pos;
        self.pos += 1;
        let escapes = escapes && self.backslash;
        loop {
            let rest = &self.data[self.pos..];
            let found = if escapes {
                memchr2(q, b'\\', rest)
            } else {
                memchr(q, rest)
            };
            let Some(k) = found else {
                if self.eof {
                    self.pos = open;
                    return self.syntax("unterminated string");
                }
                return Err(Stop::NeedMore);
            };
            out.extend_from_slice(&rest[..k]);
            let i = self.pos + k;
            if self.data[i] == b'\\' {
                let Some(&next) = self.data.get(i + 1) else {
                    if self.eof {
                        self.pos = open;
                        return self.syntax("unterminated string");
                    }
                    return Err(Stop::NeedMore);
                };
                match next {
                    b'0' => out.push(0),
                    b'b' => out.push(8),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'Z' => out.push(26),
                    // MySQL keeps the backslash of \% and \_ (LIKE patterns).
                    b'%' | b'_' => out.extend_from_slice(&[b'\\', next]),
                    other => out.push(other),
                }
                self.pos = i + 2;
                continue;
            }
            // A quote: doubled means a literal quote.
            match self.data.get(i + 1) {
                Some(&b) if b == q => {
                    out.push(q);
                    self.pos = i + 2;
                }
                None if !self.eof => return Err(Stop::NeedMore),
                _ => {
                    self.pos = i + 1;
                    return Ok(());
                }
            }
        }
    }

    /// A string value into `slot`, reusing its buffer when it is `Bytes`.
    fn string_into(&mut self, q: u8, slot: &mut Datum) -> Step<()> {
        if let Datum::Bytes(buf) = slot {
            buf.clear();
            return self.quoted_into(q, true, buf);
        }
        let mut buf = Vec::new();
        let result = self.quoted_into(q, true, &mut buf);
        *slot = Datum::Bytes(buf);
        result
    }

    /// Skips a statement up to and including its `;` (or the end of data).
    fn skip_statement(&mut self) -> Step<()> {
        loop {
            let Some(b) = self.peek() else {
                return if self.eof {
                    Ok(())
                } else {
                    Err(Stop::NeedMore)
                };
            };
            match b {
                b';' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\'' | b'"' | b'`' => {
                    self.quoted(b, b != b'`')?;
                }
                b'#' | b'-' | b'/' => {
                    let before = self.pos;
                    self.skip_ws()?;
                    if self.pos == before {
                        self.pos += 1;
                    }
                }
                _ => self.pos += 1,
            }
        }
    }

    /// `(col, col, …)`.
    fn column_list(&mut self) -> Step<Vec<String>> {
        self.pos += 1;
        let mut cols = Vec::new();
        // `INSERT INTO t () VALUES ()`: no columns, every one takes its default.
        self.skip_ws()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(cols);
        }
        loop {
            self.skip_ws()?;
            cols.push(self.ident()?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(cols);
                }
                Some(_) => return self.syntax("expected ',' or ')' in the column list"),
                None => return self.short("in the column list"),
            }
        }
    }

    /// The rest of an `INSERT`/`REPLACE` head after its first keyword.
    fn insert_head(&mut self) -> Step<Option<Vec<String>>> {
        loop {
            self.skip_ws()?;
            let matched = self.keyword("LOW_PRIORITY")?
                || self.keyword("DELAYED")?
                || self.keyword("HIGH_PRIORITY")?
                || self.keyword("IGNORE")?
                || self.keyword("INTO")?;
            if !matched {
                break;
            }
        }
        self.ident()?;
        self.skip_ws()?;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.skip_ws()?;
            self.ident()?;
            self.skip_ws()?;
        }
        let mut cols = None;
        if self.peek() == Some(b'(') {
            cols = Some(self.column_list()?);
            self.skip_ws()?;
        }
        if !(self.keyword("VALUES")? || self.keyword("VALUE")?) {
            return self.syntax("expected VALUES");
        }
        Ok(cols)
    }

    fn hex_digits(&mut self, digits: &[u8]) -> Step<Vec<u8>> {
        let mut out = Vec::with_capacity(digits.len() / 2 + 1);
        let odd = digits.len() % 2;
        let mut acc: u8 = 0;
        for (i, d) in digits.iter().enumerate() {
            let v = match (*d as char).to_digit(16) {
                Some(v) => u8::try_from(v).unwrap_or(0),
                None => return self.syntax("invalid hexadecimal literal"),
            };
            if (i + odd).is_multiple_of(2) {
                acc = v;
                if i + 1 == digits.len() {
                    out.push(acc);
                }
            } else {
                out.push((acc << 4) | v);
                acc = 0;
            }
        }
        if odd == 1 && digits.len() == 1 {
            out.clear();
            out.push(acc);
        }
        Ok(out)
    }

    fn bit_digits(&mut self, digits: &[u8]) -> Step<Vec<u8>> {
        if digits.iter().any(|d| *d != b'0' && *d != b'1') {
            return self.syntax("invalid bit literal");
        }
        let nbytes = digits.len().div_ceil(8);
        let mut out = vec![0u8; nbytes];
        for (i, d) in digits.iter().rev().enumerate() {
            if *d == b'1' {
                out[nbytes - 1 - i / 8] |= 1 << (i % 8);
            }
        }
        Ok(out)
    }

    /// `x'…'`/`b'…'` after the prefix letter.
    fn quoted_literal(&mut self, bits: bool) -> Step<Vec<u8>> {
        self.pos += 1;
        let raw = self.quoted(b'\'', false)?;
        if bits {
            self.bit_digits(&raw)
        } else {
            self.hex_digits(&raw)
        }
    }

    /// One value, written into `slot` (reusing its buffer); the flag says
    /// whether it is text to validate.
    fn value(&mut self, slot: &mut Datum) -> Step<bool> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return self.short("in a row");
        };
        match b {
            b'\'' | b'"' => {
                self.string_into(b, slot)?;
                Ok(true)
            }
            b'0' if matches!(self.peek_at(1)?, Some(b'x' | b'X' | b'b' | b'B')) => {
                let bits = matches!(self.data[self.pos + 1], b'b' | b'B');
                self.pos += 2;
                let w = self.word()?;
                *slot = Datum::Bytes(if bits {
                    self.bit_digits(w)?
                } else {
                    self.hex_digits(w)?
                });
                Ok(false)
            }
            b'x' | b'X' | b'b' | b'B' if self.peek_at(1)? == Some(b'\'') => {
                *slot = Datum::Bytes(self.quoted_literal(matches!(b, b'b' | b'B'))?);
                Ok(false)
            }
            b'n' | b'N' if self.peek_at(1)? == Some(b'\'') => {
                self.pos += 1;
                self.string_into(b'\'', slot)?;
                Ok(true)
            }
            b'_' => {
                let charset = self.word()?;
                self.skip_ws()?;
                let text = self.value(slot)?;
                Ok(text && !charset.eq_ignore_ascii_case(b"_binary"))
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                self.number(slot)?;
                Ok(false)
            }
            _ if is_ident_byte(b) => {
                // Compared in place: uppercasing a copy cost an allocation
                // for every NULL.
                let w = self.word()?;
                let is = |kw: &[u8]| w.eq_ignore_ascii_case(kw);
                if is(b"NULL") {
                    *slot = Datum::Null;
                    Ok(false)
                } else if is(b"TRUE") {
                    *slot = Datum::Int(1);
                    Ok(false)
                } else if is(b"FALSE") {
                    *slot = Datum::Int(0);
                    Ok(false)
                } else if is(b"CONVERT") {
                    self.skip_ws()?;
                    if self.peek() != Some(b'(') {
                        return self.syntax("expected '(' after CONVERT");
                    }
                    self.pos += 1;
                    let text = self.value(slot)?;
                    self.skip_ws()?;
                    if !self.keyword("USING")? {
                        return self.syntax("expected USING in CONVERT");
                    }
                    self.skip_ws()?;
                    let charset = self.ident()?;
                    self.skip_ws()?;
                    if self.peek() != Some(b')') {
                        return self
                            .short("in CONVERT")
                            .and_then(|()| self.syntax("expected ')'"));
                    }
                    self.pos += 1;
                    Ok(text && !charset.eq_ignore_ascii_case("binary"))
                } else {
                    self.syntax(format!(
                        "unexpected {:?} where a value was expected",
                        String::from_utf8_lossy(&w.to_ascii_uppercase())
                    ))
                }
            }
            _ => self.syntax(format!(
                "unexpected character {:?} where a value was expected",
                char::from(b)
            )),
        }
    }

    /// A number into `slot`: a decimal (a point, no exponent) is built from
    /// its digits in place, so a reused row's decimal keeps its buffer.
    fn number(&mut self, slot: &mut Datum) -> Step<()> {
        let mut negative = false;
        loop {
            match self.peek() {
                Some(b'-') => negative = !negative,
                Some(b'+') => {}
                Some(c) if c.is_ascii_whitespace() => {}
                Some(_) => break,
                None => return self.short("in a number"),
            }
            self.pos += 1;
        }
        let start = self.pos;
        let mut point = None;
        let mut exp = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {}
                b'.' if point.is_none() && !exp => point = Some(self.pos - start),
                b'e' | b'E' if !exp => {
                    exp = true;
                    if matches!(self.peek_at(1)?, Some(b'-' | b'+')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        if self.pos == self.data.len() && !self.eof {
            return Err(Stop::NeedMore);
        }
        let digits = &self.data[start..self.pos];
        if digits.is_empty() || digits == b"." {
            return self.syntax("invalid number");
        }
        let invalid = || format!("invalid number {:?}", String::from_utf8_lossy(digits));
        if exp {
            let parsed = std::str::from_utf8(digits)
                .ok()
                .and_then(|text| text.parse::<f64>().ok());
            return match parsed {
                Some(v) => {
                    *slot = Datum::Float64(if negative { -v } else { v });
                    Ok(())
                }
                None => self.syntax(invalid()),
            };
        }
        if let Some(dot) = point {
            // The scanner passed only digits, so this cannot fail; were it
            // to, it is the syntax error the text parse gave.
            if set_decimal(slot, negative, &digits[..dot], &digits[dot + 1..]).is_err() {
                return self.syntax(invalid());
            }
            return Ok(());
        }
        // Plain integers, the common case, without text conversion.
        let parsed = digits.iter().try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        match parsed {
            Some(v) if !negative => {
                *slot = match i64::try_from(v) {
                    Ok(i) => Datum::Int(i),
                    Err(_) => Datum::Uint(v),
                };
            }
            Some(v) if v <= i64::MAX.unsigned_abs() + 1 => {
                *slot = Datum::Int(0i64.wrapping_sub_unsigned(v));
            }
            // Beyond 64 bits: exact, as a decimal.
            _ => {
                if set_decimal(slot, negative, digits, b"").is_err() {
                    return self.syntax(invalid());
                }
            }
        }
        Ok(())
    }

    /// `( value, … )` starting at `(`, straight into `values` (reusing
    /// their buffers; a step repeated after `NeedMore` overwrites them
    /// again), with `text` flagging the values to validate.
    fn tuple(&mut self, values: &mut Vec<Datum>, text: &mut Vec<bool>) -> Step<()> {
        text.clear();
        self.pos += 1;
        self.skip_ws()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            values.clear();
            return Ok(());
        }
        loop {
            let i = text.len();
            if i == values.len() {
                values.push(Datum::Null);
            }
            text.push(self.value(&mut values[i])?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    values.truncate(text.len());
                    return Ok(());
                }
                Some(_) => return self.syntax("expected ',' or ')' after a value"),
                None => return self.short("in a row"),
            }
        }
    }
}

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
    /// boundary a parser reported, or 0), `row_id` the id of the row before.
    /// `no_backslash_escapes` is the `NO_BACKSLASH_ESCAPES` SQL mode.
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
        }
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
        let result = Self::step_in(&mut cur, &mut self.state, values, &mut self.text);
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
    ) -> Step<Item> {
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
                    self.input.consume(n);
                    match item {
                        Item::Eof => return Ok(false),
                        Item::Skip => {}
                        Item::Head(cols) => self.columns = cols,
                        Item::Tuple(at) => {
                            self.row_id += 1;
                            let start = offset + u64::try_from(at).unwrap_or(0);
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

    fn line(&self) -> u64 {
        self.input.line()
    }
}

impl SqlParser {
    fn finish_row(&mut self, start: u64, row: &mut Row) -> Result<(), SourceError> {
        let bad = |reason: String| SourceError::BadRow {
            file: self.file.to_string(),
            offset: start,
            line: self.input.line_of(start),
            reason,
        };
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

/// Sets `slot` to a decimal from its digits, reusing its buffer when it is
/// one.
fn set_decimal(
    slot: &mut Datum,
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
) -> backend_core::Result<()> {
    match slot {
        Datum::Decimal(d) => d.set_digits(negative, int_digits, frac_digits),
        other => {
            *other = Datum::Decimal(Decimal::from_digits(negative, int_digits, frac_digits)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

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
