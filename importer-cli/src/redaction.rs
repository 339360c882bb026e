//! `security.redact-info-log`: keeps row data out of logs and error
//! messages, as Lightning's switch of the same name does.
//!
//! Row data reaches the output in two shapes: literals quoted by the
//! server's messages (`Duplicate entry '42-abc' for key 'PRIMARY'`,
//! `Incorrect integer value: 'x'`) and encoded keys in hex (the local
//! backend's duplicate reports). When the switch is on, every log line and
//! every printed error passes through [`redact`], which replaces each
//! single-quoted literal with `'?'` and each run of 16 or more hex digits
//! with `?`. Identifiers in back-quotes, file names, offsets and counts
//! stay, so a redacted message still says where the problem is.
//!
//! Secrets of the data source (the keys an object-store URL or the
//! environment gives) are removed always, whatever the switch says: the
//! data source registers its scrubber ([`set_secret_scrubber`]) and every
//! log line, printed error and status answer passes through
//! [`scrub_secrets`].

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

static ENABLED: AtomicBool = AtomicBool::new(false);

static HEX: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"\b(?:0x)?[0-9A-Fa-f]{16,}\b").unwrap_or_else(|_| unreachable!())
});

/// Removes known secrets from a text.
type Scrubber = Box<dyn Fn(&str) -> String + Send + Sync>;

static SCRUBBER: OnceLock<Scrubber> = OnceLock::new();

/// Registers what removes the data source's secrets from text, for the
/// process (the first registration stays: one import, one source).
pub fn set_secret_scrubber(scrub: impl Fn(&str) -> String + Send + Sync + 'static) {
    let _ = SCRUBBER.set(Box::new(scrub));
}

/// `text` without the data source's secrets (unchanged when none is
/// registered).
pub fn scrub_secrets(text: &str) -> Cow<'_, str> {
    match SCRUBBER.get() {
        Some(scrub) => Cow::Owned(scrub(text)),
        None => Cow::Borrowed(text),
    }
}

/// Turns redaction on or off for the process (`security.redact-info-log`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether redaction is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `text` without secrets, and with row data replaced by `?` when
/// redaction is on.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !enabled() {
        return scrub_secrets(text);
    }
    Cow::Owned(scrub_secrets(&redact_always(text)).into_owned())
}

/// `text` with row data replaced by `?`.
pub fn redact_always(text: &str) -> Cow<'_, str> {
    match redact_quoted(text) {
        Some(s) => Cow::Owned(HEX.replace_all(&s, "?").into_owned()),
        None => HEX.replace_all(text, "?"),
    }
}

/// Replaces each single-quoted literal with `'?'`: a quote that follows a
/// non-word character (or the start) up to the quote that is followed by
/// one (or the end), `''` and `\'` inside. An apostrophe in prose
/// ("the engine's data") opens nothing. `None` when there is none.
fn redact_quoted(text: &str) -> Option<String> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = c == '\'' && !word(i.checked_sub(1).map(|p| chars[p]));
        if opens && let Some(end) = closing_quote(&chars, i + 1) {
            out.push_str("'?'");
            changed = true;
            i = end + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// The index of the quote closing a literal that starts at `from`.
fn closing_quote(chars: &[char], from: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '\'' if chars.get(j + 1) == Some(&'\'') => j += 2,
            '\'' => {
                let after = chars.get(j + 1);
                if after.is_none_or(|c| !(c.is_alphanumeric() || *c == '_')) {
                    return Some(j);
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    None
}

/// A log writer that redacts each line it is given (tracing writes one
/// whole event per call).
#[derive(Debug)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        RedactingWriter(self.0.make_writer_for(meta))
    }
}

/// The writer of [`Redacting`].
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(scrub_secrets(&redact_always(&text)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A log writer that removes the data source's secrets from each line
/// (what every log gets when [`Redacting`] is off).
#[derive(Debug)]
pub struct Scrubbing<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbing<M> {
    type Writer = ScrubbingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        ScrubbingWriter(self.0.make_writer_for(meta))
    }
}

/// The writer of [`Scrubbing`].
#[derive(Debug)]
pub struct ScrubbingWriter<W>(W);

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if SCRUBBER.get().is_none() {
            return self.0.write(buf);
        }
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(scrub_secrets(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_literals_and_hex_keys_are_replaced() {
        assert_eq!(
            redact_always("Duplicate entry '42-it''s' for key 'PRIMARY' in `shop`.`t`"),
            "Duplicate entry '?' for key '?' in `shop`.`t`"
        );
        assert_eq!(
            redact_always("key 7480000000000000685f728000000000000001 (row ids 3, 9)"),
            "key ? (row ids 3, 9)"
        );
        assert_eq!(
            redact_always("table 12 at offset 4096"),
            "table 12 at offset 4096"
        );
        assert_eq!(
            redact_always("the engine's data is in the target's store"),
            "the engine's data is in the target's store"
        );
        assert_eq!(
            redact_always("Incorrect integer value: 'a\\'b' for column `c`"),
            "Incorrect integer value: '?' for column `c`"
        );
        set_enabled(false);
        assert_eq!(redact("'x'"), "'x'");
    }
}
