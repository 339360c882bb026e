//! The byte-level lexer of the SQL data parser: a cursor over the buffered
//! bytes that recognises one item at a time (a statement head with its
//! column list, a tuple, a value, a separator) or says it needs more bytes.

use backend_core::{Datum, Decimal};
use memchr::{memchr, memchr2, memmem};

/// Where in the statement grammar the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
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
    /// Past the chunk's end: nothing more is read.
    Done,
}

/// Why a step stopped.
pub(super) enum Stop {
    /// The buffer ends inside the item.
    NeedMore,
    /// A syntax error at a buffer position.
    Syntax(usize, String),
}

pub(super) type Step<T> = Result<T, Stop>;

/// What a step produced.
pub(super) enum Item {
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
pub(super) struct Cur<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) eof: bool,
    pub(super) backslash: bool,
}

pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Cur<'a> {
    pub(super) fn syntax<T>(&self, reason: impl Into<String>) -> Step<T> {
        Err(Stop::Syntax(self.pos, reason.into()))
    }

    /// `NeedMore` unless at the end of data, then a syntax error.
    pub(super) fn short<T>(&self, what: &str) -> Step<T> {
        if self.eof {
            self.syntax(format!("unexpected end of data {what}"))
        } else {
            Err(Stop::NeedMore)
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, k: usize) -> Step<Option<u8>> {
        match self.data.get(self.pos + k) {
            Some(b) => Ok(Some(*b)),
            None if self.eof => Ok(None),
            None => Err(Stop::NeedMore),
        }
    }

    pub(super) fn skip_line(&mut self) -> Step<()> {
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
    pub(super) fn skip_ws(&mut self) -> Step<()> {
        // Most calls (around every value) have nothing to skip: decide that
        // inline from one byte.
        match self.peek() {
            Some(b) if !b.is_ascii_whitespace() && !matches!(b, b'#' | b'-' | b'/') => Ok(()),
            _ => self.skip_ws_comments(),
        }
    }

    /// [`Cur::skip_ws`] past whatever is there.
    pub(super) fn skip_ws_comments(&mut self) -> Step<()> {
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
    pub(super) fn word(&mut self) -> Step<&'a [u8]> {
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
    pub(super) fn keyword(&mut self, kw: &str) -> Step<bool> {
        let save = self.pos;
        let w = self.word()?;
        if w.eq_ignore_ascii_case(kw.as_bytes()) {
            Ok(true)
        } else {
            self.pos = save;
            Ok(false)
        }
    }

    pub(super) fn ident(&mut self) -> Step<String> {
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
    pub(super) fn quoted(&mut self, q: u8, escapes: bool) -> Step<Vec<u8>> {
        let mut out = Vec::new();
        self.quoted_into(q, escapes, &mut out)?;
        Ok(out)
    }

    /// Like [`Cur::quoted`], appending the contents to `out`.
    pub(super) fn quoted_into(&mut self, q: u8, escapes: bool, out: &mut Vec<u8>) -> Step<()> {
        self.quoted_scan(q, escapes, Some(out))
    }

    /// A quoted string, its contents appended to `out` if given: one scan
    /// for reading strings and for passing over them.
    fn quoted_scan(&mut self, q: u8, escapes: bool, mut out: Option<&mut Vec<u8>>) -> Step<()> {
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
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&rest[..k]);
            }
            let i = self.pos + k;
            if self.data[i] == b'\\' {
                let Some(&next) = self.data.get(i + 1) else {
                    if self.eof {
                        self.pos = open;
                        return self.syntax("unterminated string");
                    }
                    return Err(Stop::NeedMore);
                };
                let Some(out) = out.as_deref_mut() else {
                    self.pos = i + 2;
                    continue;
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
                    if let Some(out) = out.as_deref_mut() {
                        out.push(q);
                    }
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
    pub(super) fn string_into(&mut self, q: u8, slot: &mut Datum) -> Step<()> {
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
    pub(super) fn skip_statement(&mut self) -> Step<()> {
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
    pub(super) fn column_list(&mut self) -> Step<Vec<String>> {
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
    pub(super) fn insert_head(&mut self) -> Step<Option<Vec<String>>> {
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

    pub(super) fn hex_digits(&mut self, digits: &[u8]) -> Step<Vec<u8>> {
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

    pub(super) fn bit_digits(&mut self, digits: &[u8]) -> Step<Vec<u8>> {
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
    pub(super) fn quoted_literal(&mut self, bits: bool) -> Step<Vec<u8>> {
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
    pub(super) fn value(&mut self, slot: &mut Datum) -> Step<bool> {
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
    pub(super) fn number(&mut self, slot: &mut Datum) -> Step<()> {
        let (negative, start, point, exp) = self.number_text()?;
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
    pub(super) fn tuple(&mut self, values: &mut Vec<Datum>, text: &mut Vec<bool>) -> Step<()> {
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

impl Cur<'_> {
    /// Passes over a tuple `(…)` as [`Cur::tuple`] reads it, without
    /// converting values: the same grammar (so comments, strings and signs
    /// end where they do for a parse), several times faster. Whether it is
    /// `()`. A value the grammar admits but a parse refuses (an unknown word,
    /// bad hex digits, a number out of range) is refused when parsed.
    pub(super) fn skip_tuple(&mut self) -> Step<bool> {
        self.pos += 1;
        self.skip_ws()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(true);
        }
        loop {
            self.skip_value()?;
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(false);
                }
                Some(_) => return self.syntax("expected ',' or ')' after a value"),
                None => return self.short("in a row"),
            }
        }
    }

    /// Passes over one value as [`Cur::value`] reads it.
    fn skip_value(&mut self) -> Step<()> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return self.short("in a row");
        };
        match b {
            b'\'' | b'"' => self.quoted_scan(b, true, None),
            b'0' if matches!(self.peek_at(1)?, Some(b'x' | b'X' | b'b' | b'B')) => {
                self.pos += 2;
                self.word().map(|_| ())
            }
            b'x' | b'X' | b'b' | b'B' if self.peek_at(1)? == Some(b'\'') => {
                self.pos += 1;
                self.quoted_scan(b'\'', false, None)
            }
            b'n' | b'N' if self.peek_at(1)? == Some(b'\'') => {
                self.pos += 1;
                self.quoted_scan(b'\'', true, None)
            }
            b'_' => {
                self.word()?;
                self.skip_ws()?;
                self.skip_value()
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.skip_number(),
            _ if is_ident_byte(b) => {
                let w = self.word()?;
                if !w.eq_ignore_ascii_case(b"CONVERT") {
                    return Ok(());
                }
                self.skip_ws()?;
                if self.peek() != Some(b'(') {
                    return self.syntax("expected '(' after CONVERT");
                }
                self.pos += 1;
                self.skip_value()?;
                self.skip_ws()?;
                if !self.keyword("USING")? {
                    return self.syntax("expected USING in CONVERT");
                }
                self.skip_ws()?;
                self.ident()?;
                self.skip_ws()?;
                if self.peek() != Some(b')') {
                    return self
                        .short("in CONVERT")
                        .and_then(|()| self.syntax("expected ')'"));
                }
                self.pos += 1;
                Ok(())
            }
            _ => self.syntax(format!(
                "unexpected character {:?} where a value was expected",
                char::from(b)
            )),
        }
    }

    /// Passes over a number as [`Cur::number`] reads it.
    fn skip_number(&mut self) -> Step<()> {
        self.number_text().map(|_| ())
    }

    /// A number's text: its signs (and the blanks between them) folded,
    /// then where its digits start, where its point is among them and
    /// whether it has an exponent; the digits end at the cursor.
    fn number_text(&mut self) -> Step<(bool, usize, Option<usize>, bool)> {
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
        Ok((negative, start, point, exp))
    }
}

/// Sets `slot` to a decimal from its digits, reusing its buffer when it is
/// one.
pub(super) fn set_decimal(
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
