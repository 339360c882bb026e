//! Opening data files as byte streams: decompression (gzip, zstd, framed
//! snappy) and conversion of legacy character sets to UTF-8.
//!
//! Everything streams; nothing is read into memory whole. Offsets the
//! parsers report are offsets in the stream these readers produce (the
//! decompressed, UTF-8 bytes).

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

use backend_core::Compression;
use encoding_rs::{Decoder, DecoderResult, Encoding};

use super::SourceError;
use super::storage::FileIn;

/// A data file's stream.
pub type DataReader = Box<dyn Read + Send>;

/// Opens `file` (a local path, or a file of a [`Storage`] with the ETag its
/// reads require) decompressed, positioned at decompressed byte `offset`.
/// Plain files start at the offset (a seek, or a ranged request of an
/// object); compressed ones are read from their start, decompressed and
/// skipped up to it.
pub fn open<'a>(
    file: impl Into<FileIn<'a>>,
    compression: Compression,
    offset: u64,
) -> Result<DataReader, SourceError> {
    let FileIn {
        storage,
        path: rel,
        etag,
    } = file.into();
    if compression == Compression::None {
        return storage.open_raw(rel, offset, etag);
    }
    // zstd's recommended input block; gzip and snappy read less at a time.
    let mut raw = BufReader::with_capacity(128 << 10, storage.open_raw(rel, 0, etag)?);
    let empty = raw
        .fill_buf()
        .map_err(|e| SourceError::io(rel, "read", e))?
        .is_empty();
    let mut reader: DataReader = match compression {
        // A 0-byte file is an empty data file whatever its name says (the
        // scan warns about it); a decompressor would call it truncated.
        _ if empty => Box::new(io::empty()),
        Compression::None | Compression::Gzip => {
            Box::new(Located::new("gzip", flate2::read::MultiGzDecoder::new(raw)))
        }
        Compression::Zstd => Box::new(Located::new(
            "zstd",
            zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| SourceError::io(rel, "open zstd stream", e))?,
        )),
        Compression::Snappy => Box::new(Located::new("snappy", snap::read::FrameDecoder::new(raw))),
    };
    if !empty {
        reader = ReadAhead::spawn(reader);
    }
    if offset > 0 {
        let skipped = io::copy(&mut (&mut reader).take(offset), &mut io::sink())
            .map_err(|e| SourceError::io(rel, "decompress", e))?;
        if skipped < offset {
            return Err(SourceError::Layout {
                path: rel.display().to_string(),
                reason: format!("offset {offset} is past the end of the data ({skipped} bytes)"),
            });
        }
    }
    Ok(reader)
}

/// The decompressed size of `file`, by reading it through (plain files:
/// their size).
pub fn decompressed_size<'a>(
    file: impl Into<FileIn<'a>>,
    compression: Compression,
) -> Result<u64, SourceError> {
    let file = file.into();
    if compression == Compression::None {
        return file.storage.size(file.path);
    }
    let mut reader = open(file, compression, 0)?;
    io::copy(&mut reader, &mut io::sink()).map_err(|e| SourceError::io(file.path, "decompress", e))
}

/// Blocks a [`ReadAhead`] thread decompresses at a time.
const AHEAD_BLOCK: usize = 256 << 10;
/// Blocks it may hold ready beyond the one being read.
const AHEAD_BLOCKS: usize = 4;

/// Decompresses on a thread of its own, up to [`AHEAD_BLOCKS`] blocks ahead
/// of the reader: one compressed file is one parser's stream, and the
/// parser's thread then only parses. Memory stays at a few blocks; dropping
/// the reader stops the thread at its next block.
struct ReadAhead {
    blocks: mpsc::Receiver<io::Result<Vec<u8>>>,
    /// Emptied blocks, back to the thread for reuse.
    spare: mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl ReadAhead {
    /// `inner` read on a new thread; `inner` itself if no thread can start.
    fn spawn(inner: DataReader) -> DataReader {
        let (block_tx, blocks) = mpsc::sync_channel(AHEAD_BLOCKS);
        let (spare, spare_rx) = mpsc::sync_channel::<Vec<u8>>(AHEAD_BLOCKS + 2);
        let inner = std::sync::Arc::new(std::sync::Mutex::new(Some(inner)));
        let theirs = std::sync::Arc::clone(&inner);
        let started = std::thread::Builder::new()
            .name("decompress".into())
            .spawn(move || {
                let Some(mut inner) = theirs.lock().ok().and_then(|mut r| r.take()) else {
                    return;
                };
                loop {
                    let mut block = spare_rx.try_recv().unwrap_or_default();
                    block.resize(AHEAD_BLOCK, 0);
                    let read = fill(&mut *inner, &mut block);
                    let last = !matches!(read, Ok(n) if n > 0);
                    let sent = read.map(|n| {
                        block.truncate(n);
                        block
                    });
                    if block_tx.send(sent).is_err() || last {
                        return;
                    }
                }
            });
        if started.is_err()
            && let Some(inner) = inner.lock().ok().and_then(|mut r| r.take())
        {
            return inner;
        }
        Box::new(ReadAhead {
            blocks,
            spare,
            current: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

/// Reads into `buf` until it is full or the stream ends; the bytes read.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            let next = match self.blocks.recv() {
                Ok(Ok(block)) => block,
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // It ends only after the last block or an error: this one
                // died, and its stream must not pass for complete.
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the decompressing thread stopped"));
                }
            };
            if next.is_empty() {
                self.done = true;
            }
            let used = std::mem::replace(&mut self.current, next);
            let _ = self.spare.try_send(used);
            self.at = 0;
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A decompressing reader that says where the compressed data went bad:
/// a truncated or corrupt file fails with the decompressed offset reached,
/// so the message points into the file instead of just "unexpected end".
struct Located<R> {
    format: &'static str,
    inner: R,
    pos: u64,
}

impl<R> Located<R> {
    fn new(format: &'static str, inner: R) -> Self {
        Located {
            format,
            inner,
            pos: 0,
        }
    }
}

impl<R: Read> Read for Located<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.pos += u64::try_from(n).unwrap_or(u64::MAX);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!(
                    "corrupt or truncated {} data after {} decompressed bytes ({e})",
                    self.format, self.pos
                ),
            )),
        }
    }
}

/// Guesses a compression from a file name's last extension.
pub fn compression_from_ext(ext: &str) -> Option<Compression> {
    match ext.to_ascii_lowercase().as_str() {
        "" => Some(Compression::None),
        "gz" | "gzip" => Some(Compression::Gzip),
        "zst" | "zstd" => Some(Compression::Zstd),
        "snappy" => Some(Compression::Snappy),
        _ => None,
    }
}

/// Converts a stream in a legacy encoding (`gb18030`, `gbk`, `latin1`…) to
/// UTF-8. Malformed input is an `InvalidData` error giving the input offset,
/// or, with [`DecodingReader::replacing`], becomes the replacement text.
pub struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    encoding: &'static Encoding,
    /// What a malformed sequence becomes (`data-invalid-char-replace`).
    replacement: Option<Vec<u8>>,
    /// Output not yet handed out: replacement text, or decoded bytes that
    /// did not fit a small read.
    pending: Vec<u8>,
    in_buf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    in_offset: u64,
    eof: bool,
    finished: bool,
}

impl<R> std::fmt::Debug for DecodingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodingReader")
            .field("encoding", &self.encoding.name())
            .field("in_offset", &self.in_offset)
            .finish()
    }
}

impl<R: Read> DecodingReader<R> {
    /// Decodes `inner` from `encoding`.
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            encoding,
            replacement: None,
            pending: Vec::new(),
            in_buf: vec![0; 64 * 1024],
            in_start: 0,
            in_end: 0,
            in_offset: 0,
            eof: false,
            finished: false,
        }
    }
}

impl<R> DecodingReader<R> {
    /// Writes `replacement` (UTF-8) for each malformed sequence instead of
    /// failing (Lightning's `data-invalid-char-replace`).
    pub fn replacing(mut self, replacement: &str) -> Self {
        self.replacement = Some(replacement.as_bytes().to_vec());
        self
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // encoding_rs may need up to 4 bytes of room to make progress.
        if out.len() < 8 {
            let mut tmp = [0u8; 8];
            let n = self.read(&mut tmp)?;
            let k = n.min(out.len());
            out[..k].copy_from_slice(&tmp[..k]);
            // What does not fit comes first in the next read.
            self.pending.splice(0..0, tmp[k..n].iter().copied());
            return Ok(k);
        }
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                self.in_start = 0;
                self.in_end = 0;
                let n = loop {
                    match self.inner.read(&mut self.in_buf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.in_end = n;
                self.eof = n == 0;
            }
            let input = &self.in_buf[self.in_start..self.in_end];
            let (result, read, written) = self
                .decoder
                .decode_to_utf8_without_replacement(input, out, self.eof);
            self.in_start += read;
            self.in_offset += u64::try_from(read).unwrap_or(u64::MAX);
            match result {
                DecoderResult::Malformed(..) if self.replacement.is_some() => {
                    self.pending
                        .extend_from_slice(self.replacement.as_deref().unwrap_or_default());
                }
                DecoderResult::Malformed(bad, _) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "invalid {} character near input byte {}",
                            self.encoding.name(),
                            self.in_offset.saturating_sub(u64::from(bad))
                        ),
                    ));
                }
                DecoderResult::InputEmpty if self.eof => self.finished = true,
                _ => {}
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}
