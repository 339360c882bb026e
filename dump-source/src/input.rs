//! The growing read buffer both parsers share.

use std::io::{self, Read};

use super::compress::DataReader;

/// Bytes of a stream, buffered so that a whole row is contiguous.
pub(crate) struct Input {
    reader: DataReader,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    block: usize,
    /// Newlines in the stream before `buf[0]` (since the parser started).
    lines_before: u64,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("offset", &self.offset())
            .field("buffered", &(self.end - self.start))
            .field("eof", &self.eof)
            .finish()
    }
}

impl Input {
    /// Reads `reader`, whose first byte is at stream offset `offset`.
    pub(crate) fn new(reader: DataReader, offset: u64, block: usize) -> Self {
        let block = block.max(64);
        Input {
            reader,
            buf: vec![0; block],
            start: 0,
            end: 0,
            base: offset,
            eof: false,
            block,
            lines_before: 0,
        }
    }

    /// The unconsumed buffered bytes.
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether the stream has ended (no more bytes beyond [`Input::data`]).
    #[inline]
    pub(crate) fn eof(&self) -> bool {
        self.eof
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + u64::try_from(self.start).unwrap_or(u64::MAX)
    }

    /// The 1-based line of stream offset `offset`, which must not be before
    /// the buffer (any offset at or after the last row read is fine).
    /// Counted on demand, so only errors pay for it.
    pub(crate) fn line_of(&self, offset: u64) -> u64 {
        let rel = usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX);
        1 + self.lines_before + count_lines(&self.buf[..rel.min(self.end)])
    }

    /// The line of the next unconsumed byte.
    pub(crate) fn line(&self) -> u64 {
        self.line_of(self.offset())
    }

    /// Marks `n` bytes of [`Input::data`] consumed.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Reads more bytes after the unconsumed ones (moving them to the front
    /// and growing the buffer when it is full). Returns false at the end of
    /// the stream.
    pub(crate) fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.lines_before += count_lines(&self.buf[..self.start]);
            self.buf.copy_within(self.start..self.end, 0);
            self.base += u64::try_from(self.start).unwrap_or(u64::MAX);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < self.block / 2 {
            let new_len = (self.buf.len() * 2).max(self.end + self.block);
            self.buf.resize(new_len, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Skips forward to stream offset `target` (which must not be before the
    /// current offset). Returns false if the stream ends first.
    pub(crate) fn skip_to(&mut self, target: u64) -> io::Result<bool> {
        loop {
            let here = self.offset();
            let avail = u64::try_from(self.end - self.start).unwrap_or(u64::MAX);
            if target <= here + avail {
                let n = usize::try_from(target - here).unwrap_or(usize::MAX);
                self.consume(n);
                return Ok(true);
            }
            self.start = self.end;
            if !self.fill()? {
                return Ok(false);
            }
        }
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    u64::try_from(memchr::memchr_iter(b'\n', bytes).count()).unwrap_or(u64::MAX)
}
