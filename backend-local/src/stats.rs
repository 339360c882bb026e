//! What an engine's flushes added: key samples and per-flush stats, the
//! engine's batch log of them, and the checksummed framing that log and
//! run files (see [`crate::run`]) share.
//!
//! `batches.log` holds one framed [`BatchStats`] record per SST ingested
//! into an engine's sorting store. A torn last record (crash while
//! appending) is ignored: the SST it describes is still in the store and
//! imported, only the estimate lags.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{LocalError, LocalResult};

/// A key sample is taken about every this many bytes…
pub(crate) const SAMPLE_BYTES: u64 = 4 << 20;
/// …or this many pairs.
pub(crate) const SAMPLE_KEYS: u64 = 40_960;

/// A key sample: `bytes`/`keys` of pair data lie in the same SST between the
/// previous sample and this user key (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    pub key: Vec<u8>,
    pub bytes: u64,
    pub keys: u64,
}

/// What one ingested SST added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BatchStats {
    pub kvs: u64,
    pub bytes: u64,
    pub samples: Vec<Sample>,
}

impl BatchStats {
    /// The record's body, unframed (see [`crate::frame_into`]).
    pub(crate) fn encode_body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.kvs.to_le_bytes());
        body.extend_from_slice(&self.bytes.to_le_bytes());
        body.extend_from_slice(&(self.samples.len() as u64).to_le_bytes());
        for s in &self.samples {
            body.extend_from_slice(&(s.key.len() as u64).to_le_bytes());
            body.extend_from_slice(&s.key);
            body.extend_from_slice(&s.bytes.to_le_bytes());
            body.extend_from_slice(&s.keys.to_le_bytes());
        }
        body
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut record = Vec::new();
        frame_into(&mut record, &self.encode_body());
        record
    }

    /// Decodes a record's body; `None` when it is malformed.
    pub(crate) fn decode_body(mut body: &[u8]) -> Option<BatchStats> {
        let body = &mut body;
        let kvs = take_u64(body)?;
        let bytes = take_u64(body)?;
        let n = take_u64(body)?;
        let mut samples = Vec::new();
        for _ in 0..n {
            let klen = usize::try_from(take_u64(body)?).ok()?;
            let key = take(body, klen)?.to_vec();
            samples.push(Sample {
                key,
                bytes: take_u64(body)?,
                keys: take_u64(body)?,
            });
        }
        Some(BatchStats {
            kvs,
            bytes,
            samples,
        })
    }

    /// Decodes one record from the front of `data`; `None` for a torn or
    /// corrupted record.
    pub(crate) fn decode(data: &mut &[u8]) -> Option<BatchStats> {
        Self::decode_body(unframe(data)?)
    }

    pub(crate) fn add(&mut self, other: BatchStats) {
        self.kvs += other.kvs;
        self.bytes += other.bytes;
        self.samples.extend(other.samples);
    }
}

/// Appends `body` framed (length, body, CRC-64) to `out`.
pub(crate) fn frame_into(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&backend_core::KvChecksum::pair_crc(body, &[]).to_le_bytes());
}

/// Takes `n` bytes off the front of `data`.
pub(crate) fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n)?;
    *data = rest;
    Some(head)
}

/// Takes a little-endian `u64` off the front of `data`.
pub(crate) fn take_u64(data: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(data, 8)?.try_into().ok()?))
}

/// Takes one framed body off the front of `data`; `None` when it is torn
/// or its checksum does not match.
pub(crate) fn unframe<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_u64(data)?).ok()?;
    let body = take(data, len)?;
    let crc = take_u64(data)?;
    (backend_core::KvChecksum::pair_crc(body, &[]) == crc).then_some(body)
}

pub(crate) fn append_batch_log(path: &Path, stats: &BatchStats) -> LocalResult<()> {
    let append = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(&stats.encode())?;
        file.sync_data()
    };
    append().map_err(|e| LocalError::io("appending to engine batch log", path, e))
}

pub(crate) fn read_batch_log(path: &Path) -> LocalResult<BatchStats> {
    let mut data = Vec::new();
    match fs::File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut data)
                .map_err(|e| LocalError::io("reading engine batch log", path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LocalError::io("opening engine batch log", path, e)),
    }
    let mut total = BatchStats::default();
    let mut rest = &data[..];
    while !rest.is_empty() {
        match BatchStats::decode(&mut rest) {
            Some(stats) => total.add(stats),
            None => {
                tracing::warn!(path = %path.display(), "ignoring a torn record at the end of the engine batch log");
                break;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_log_round_trip_ignores_torn_tail() {
        let stats = BatchStats {
            kvs: 3,
            bytes: 40,
            samples: vec![Sample {
                key: b"k".to_vec(),
                bytes: 40,
                keys: 3,
            }],
        };
        let mut data = stats.encode();
        data.extend_from_slice(&stats.encode()[..10]);
        let mut rest = &data[..];
        assert_eq!(BatchStats::decode(&mut rest), Some(stats));
        assert_eq!(BatchStats::decode(&mut rest), None);
    }
}
