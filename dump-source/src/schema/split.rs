//! Splitting a schema file into statements, in the forms the parsers and
//! the server each need.

/// One statement of a schema file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Stmt {
    /// The statement with plain comments blanked and the bodies of
    /// executable comments (`/*!50100 … */`, `/*T![feature] … */`) kept, as
    /// a server that understands all of them reads it. Line breaks stay
    /// where they were, so lines count as in the file.
    pub(super) text: String,
    /// The statement with every comment blanked.
    pub(super) stripped: String,
    /// The statement as written, comments and all, for the server to judge;
    /// bare `CLUSTERED`/`NONCLUSTERED` (TiDB only) are wrapped in TiDB's
    /// executable comment so other servers read past them.
    pub(super) raw: String,
    /// The file line the statement starts on (1-based).
    pub(super) line: u64,
    /// `Some(true)` for `CLUSTERED`, `Some(false)` for `NONCLUSTERED`.
    pub(super) clustered: Option<bool>,
}
/// Splits SQL text into statements at `;` (see [`Stmt`] for the forms each
/// is kept in), dropping empty statements and noting the words
/// `CLUSTERED`/`NONCLUSTERED`.
pub(super) fn split_statements(src: &str) -> Vec<Stmt> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut cur = StmtBuilder::default();
    let mut in_exec = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                let end = quoted_end(b, i);
                cur.content(b, i, &b[i..end], in_exec);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if let Some(len) = executable_comment_opener(&b[i..]) {
                    cur.raw_from(b, i);
                    cur.raw.extend_from_slice(&b[i..i + len]);
                    cur.blank(&[]);
                    in_exec = true;
                    i += len;
                } else {
                    let end =
                        memchr::memmem::find(&b[i + 2..], b"*/").map_or(b.len(), |k| i + 2 + k + 2);
                    cur.comment(&b[i..end]);
                    i = end;
                }
            }
            b'*' if in_exec && b.get(i + 1) == Some(&b'/') => {
                cur.raw.extend_from_slice(b"*/");
                cur.blank(&[]);
                in_exec = false;
                i += 2;
            }
            b'#' => {
                let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |k| i + k);
                cur.comment(&b[i..end]);
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |k| i + k);
                cur.comment(&b[i..end]);
                i = end;
            }
            b';' => {
                cur.finish(&mut out);
                in_exec = false;
                i += 1;
            }
            _ if starts_word(b, i) => {
                let end = word_end(b, i);
                let word = &b[i..end];
                let nonclustered = word.eq_ignore_ascii_case(b"NONCLUSTERED");
                if nonclustered || word.eq_ignore_ascii_case(b"CLUSTERED") {
                    cur.clustered = Some(!nonclustered);
                    cur.raw_from(b, i);
                    if in_exec {
                        cur.raw.extend_from_slice(word);
                    } else {
                        cur.raw.extend_from_slice(b"/*T![clustered_index] ");
                        cur.raw.extend_from_slice(word);
                        cur.raw.extend_from_slice(b" */");
                    }
                    cur.blank(&[]);
                } else {
                    cur.content(b, i, word, in_exec);
                }
                i = end;
            }
            c if c.is_ascii_whitespace() => {
                cur.text.push(c);
                cur.stripped.push(c);
                if cur.start.is_some() {
                    cur.raw.push(c);
                }
                i += 1;
            }
            _ => {
                cur.content(b, i, &b[i..=i], in_exec);
                i += 1;
            }
        }
    }
    cur.finish(&mut out);
    out
}

/// The length of an executable comment's opener at the start of `b`:
/// MySQL's `/*!` with an optional version, or TiDB's `/*T!` with an
/// optional `[feature,…]` list. A version of 999999 or more is one no
/// server runs (MariaDB dumps open with `/*!999999\- enable the sandbox
/// mode */`): that is a plain comment.
fn executable_comment_opener(b: &[u8]) -> Option<usize> {
    if b.starts_with(b"/*!") {
        let digits = b[3..].iter().take_while(|c| c.is_ascii_digit()).count();
        let version = std::str::from_utf8(&b[3..3 + digits])
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        if digits > 6 || version.is_some_and(|v| v >= 999_999) {
            return None;
        }
        return Some(3 + digits);
    }
    if b.starts_with(b"/*T!") {
        if b.get(4) == Some(&b'[') {
            let close = memchr::memchr(b']', &b[4..])?;
            return Some(4 + close + 1);
        }
        return Some(4);
    }
    None
}

/// The statement being split: its three forms as they grow.
#[derive(Default)]
struct StmtBuilder {
    text: Vec<u8>,
    stripped: Vec<u8>,
    raw: Vec<u8>,
    /// Where the statement's first token is, and its line.
    start: Option<(usize, u64)>,
    /// Line breaks counted up to `counted`.
    counted: (usize, u64),
    clustered: Option<bool>,
}

impl StmtBuilder {
    /// Starts the raw form at `at` unless it has started.
    fn raw_from(&mut self, b: &[u8], at: usize) {
        if self.start.is_none() {
            let (from, lines) = self.counted;
            let line = lines + 1 + memchr::memchr_iter(b'\n', &b[from..at]).count() as u64;
            self.counted = (at, line - 1);
            self.start = Some((at, line));
        }
    }

    /// Statement text at `at`; inside an executable comment only the text
    /// form keeps it.
    fn content(&mut self, b: &[u8], at: usize, bytes: &[u8], in_exec: bool) {
        self.raw_from(b, at);
        self.raw.extend_from_slice(bytes);
        self.text.extend_from_slice(bytes);
        if in_exec {
            self.blank(bytes);
        } else {
            self.stripped.extend_from_slice(bytes);
        }
    }

    /// A plain comment: blank in the parsed forms, kept in the raw one.
    fn comment(&mut self, comment: &[u8]) {
        if self.start.is_some() {
            self.raw.extend_from_slice(comment);
        }
        self.text.push(b' ');
        self.stripped.push(b' ');
        for _ in memchr::memchr_iter(b'\n', comment) {
            self.text.push(b'\n');
            self.stripped.push(b'\n');
        }
    }

    /// A space in the stripped form, plus the line breaks of `bytes` (the
    /// text form has them already).
    fn blank(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            self.text.push(b' ');
        }
        self.stripped.push(b' ');
        for _ in memchr::memchr_iter(b'\n', bytes) {
            self.stripped.push(b'\n');
        }
    }

    fn finish(&mut self, out: &mut Vec<Stmt>) {
        let taken = std::mem::take(self);
        self.counted = taken.counted;
        let Some((_, line)) = taken.start else {
            return;
        };
        let text = String::from_utf8_lossy(&taken.text).trim().to_string();
        if text.is_empty() {
            return;
        }
        out.push(Stmt {
            // Blanked text before the first token: the trimmed forms start
            // on the statement's first line.
            text,
            stripped: String::from_utf8_lossy(&taken.stripped).trim().to_string(),
            raw: String::from_utf8_lossy(&taken.raw).trim_end().to_string(),
            line,
            clustered: taken.clustered,
        });
    }
}

pub(super) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Whether a bare word starts at `i`.
pub(super) fn starts_word(b: &[u8], i: usize) -> bool {
    b[i].is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1]))
}

/// The end of the word starting at `i`.
pub(super) fn word_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| !is_word(*c))
        .map_or(b.len(), |k| i + k)
}

/// Just past the quoted string or identifier whose opening quote is at
/// `start`: a doubled quote stays inside, and so does a backslash-escaped
/// one in strings (not in back-quoted names). The text's end for an
/// unterminated one.
pub(super) fn quoted_end(b: &[u8], start: usize) -> usize {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && q != b'`' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}
