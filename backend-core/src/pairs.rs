//! KV pairs: the owned [`KvPair`], and [`KvPairs`], a batch of pairs stored
//! back to back in one buffer.
//!
//! An import moves tens of millions of small pairs (keys of 20–40 bytes,
//! values of 1–200). Owning each key and value in its own heap block costs two
//! allocations per pair on the encoding threads and two frees on the flushing
//! ones, and scatters the pairs a writer sorts across the heap (a TPC-H
//! import built that way spends 11% of its CPU in the allocator). A batch
//! holds all its key and value bytes in one buffer and a small fixed-size
//! entry per pair.

/// One key-value pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KvPair {
    /// The key, in TiDB's encoding for table data.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// The row id the pair was encoded from (the handle or `_tidb_rowid`);
    /// 0 when unknown. Used to name both rows of a duplicate.
    pub row_id: i64,
}

impl KvPair {
    /// A pair without row id.
    pub fn new(key: Vec<u8>, value: Vec<u8>) -> Self {
        KvPair {
            key,
            value,
            row_id: 0,
        }
    }

    /// Bytes of key and value.
    pub fn size(&self) -> usize {
        self.key.len() + self.value.len()
    }
}

/// One pair's place in [`KvPairs::bytes`]: its key spans
/// `start..key_end`, its value runs from `key_end` to the next pair's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: usize,
    key_end: usize,
    row_id: i64,
}

/// A batch of KV pairs in arrival order, stored contiguously.
///
/// Pairs are appended whole ([`KvPairs::push`]) or written in place
/// ([`KvPairs::push_with`]) and read back as borrowed [`KvRef`]s. Two
/// batches are equal when they hold the same pairs in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPairs {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

/// A pair borrowed from a [`KvPairs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KvRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The row id the pair was encoded from; 0 when unknown (see
    /// [`KvPair::row_id`]).
    pub row_id: i64,
}

impl KvRef<'_> {
    /// Bytes of key and value.
    pub fn size(&self) -> usize {
        self.key.len() + self.value.len()
    }

    /// An owned copy.
    pub fn to_pair(&self) -> KvPair {
        KvPair {
            key: self.key.to_vec(),
            value: self.value.to_vec(),
            row_id: self.row_id,
        }
    }
}

impl KvPairs {
    /// Heap bytes each pair costs besides its key and value bytes.
    pub const ENTRY_SIZE: usize = std::mem::size_of::<Entry>();

    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `pairs` pairs of `bytes` key and value
    /// bytes in total.
    pub fn with_capacity(pairs: usize, bytes: usize) -> Self {
        KvPairs {
            bytes: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(pairs),
        }
    }

    /// Makes room for `pairs` more pairs of `bytes` more key and value
    /// bytes, so filling the batch up to there does not reallocate.
    pub fn reserve(&mut self, pairs: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.entries.reserve(pairs);
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no pair.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of all keys and values.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Appends a pair.
    pub fn push(&mut self, key: &[u8], value: &[u8], row_id: i64) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.entries.push(Entry {
            start,
            key_end,
            row_id,
        });
    }

    /// Appends a pair that `key` and then `value` write in place, each by
    /// appending to the buffer they are given. If either fails, the batch
    /// is left as it was and the error returned.
    ///
    /// # Panics
    /// If a closure removes bytes from the buffer: it holds the earlier
    /// pairs, and the closures may only append.
    pub fn push_with<E>(
        &mut self,
        row_id: i64,
        key: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
        value: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<KvRef<'_>, E> {
        let start = self.bytes.len();
        let written = key(&mut self.bytes).and_then(|()| {
            let key_end = self.bytes.len();
            value(&mut self.bytes).map(|()| key_end)
        });
        // A closure that shrank the buffer took earlier pairs' bytes: a bug
        // in the caller, not bad input.
        let kept = match written {
            Ok(key_end) => key_end,
            Err(_) => start,
        };
        assert!(
            self.bytes.len() >= kept,
            "KvPairs::push_with: a closure removed bytes it did not write"
        );
        match written {
            Ok(key_end) => {
                self.entries.push(Entry {
                    start,
                    key_end,
                    row_id,
                });
                Ok(KvRef {
                    key: &self.bytes[start..key_end],
                    value: &self.bytes[key_end..],
                    row_id,
                })
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// The `i`-th pair, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<KvRef<'_>> {
        let e = self.entries.get(i)?;
        let end = self
            .entries
            .get(i + 1)
            .map_or(self.bytes.len(), |next| next.start);
        Some(KvRef {
            key: &self.bytes[e.start..e.key_end],
            value: &self.bytes[e.key_end..end],
            row_id: e.row_id,
        })
    }

    /// The `i`-th pair's key.
    ///
    /// # Panics
    /// If `i >= self.len()`, as slice indexing does.
    pub fn key(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        &self.bytes[e.start..e.key_end]
    }

    /// The last pair.
    pub fn last(&self) -> Option<KvRef<'_>> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The pairs in order.
    pub fn iter(&self) -> KvIter<'_> {
        KvIter {
            pairs: self,
            next: 0,
        }
    }

    /// Moves every pair of `other` to the end of this batch, leaving
    /// `other` empty (its buffers are kept when this batch was empty and
    /// simply takes them over).
    pub fn append(&mut self, other: &mut KvPairs) {
        if self.is_empty() && self.bytes.capacity() < other.bytes.capacity() {
            std::mem::swap(self, other);
            other.clear();
            return;
        }
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.entries.extend(other.entries.iter().map(|e| Entry {
            start: e.start + base,
            key_end: e.key_end + base,
            row_id: e.row_id,
        }));
        other.clear();
    }

    /// Keeps the first `len` pairs.
    pub fn truncate(&mut self, len: usize) {
        if let Some(e) = self.entries.get(len) {
            self.bytes.truncate(e.start);
            self.entries.truncate(len);
        }
    }

    /// Removes every pair, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    /// Owned copies of the pairs.
    pub fn to_vec(&self) -> Vec<KvPair> {
        self.iter().map(|p| p.to_pair()).collect()
    }
}

/// The pairs of a [`KvPairs`] in order ([`KvPairs::iter`]).
#[derive(Debug, Clone)]
pub struct KvIter<'a> {
    pairs: &'a KvPairs,
    next: usize,
}

impl<'a> Iterator for KvIter<'a> {
    type Item = KvRef<'a>;

    fn next(&mut self) -> Option<KvRef<'a>> {
        let pair = self.pairs.get(self.next)?;
        self.next += 1;
        Some(pair)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.pairs.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for KvIter<'_> {}

impl<'a> IntoIterator for &'a KvPairs {
    type Item = KvRef<'a>;
    type IntoIter = KvIter<'a>;

    fn into_iter(self) -> KvIter<'a> {
        self.iter()
    }
}

impl Extend<KvPair> for KvPairs {
    fn extend<I: IntoIterator<Item = KvPair>>(&mut self, pairs: I) {
        for pair in pairs {
            self.push(&pair.key, &pair.value, pair.row_id);
        }
    }
}

impl FromIterator<KvPair> for KvPairs {
    fn from_iter<I: IntoIterator<Item = KvPair>>(pairs: I) -> Self {
        let mut out = KvPairs::new();
        out.extend(pairs);
        out
    }
}

impl From<Vec<KvPair>> for KvPairs {
    fn from(pairs: Vec<KvPair>) -> Self {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Vec<KvPair> {
        vec![
            KvPair {
                key: b"t1_r1".to_vec(),
                value: b"one".to_vec(),
                row_id: 1,
            },
            KvPair::new(Vec::new(), b"empty key".to_vec()),
            KvPair::new(b"no value".to_vec(), Vec::new()),
            KvPair::new(Vec::new(), Vec::new()),
            KvPair {
                key: b"t1_r2".to_vec(),
                value: vec![0; 300],
                row_id: -5,
            },
        ]
    }

    #[test]
    fn round_trips_pairs_in_order() {
        let pairs = sample();
        let batch = KvPairs::from(pairs.clone());
        assert_eq!(batch.len(), 5);
        assert_eq!(batch.size(), pairs.iter().map(KvPair::size).sum::<usize>());
        assert_eq!(batch.to_vec(), pairs);
        for (i, p) in pairs.iter().enumerate() {
            let got = batch.get(i).unwrap();
            assert_eq!(got.to_pair(), *p);
            assert_eq!(batch.key(i), p.key.as_slice());
            assert_eq!(got.size(), p.size());
        }
        assert!(batch.get(5).is_none());
        assert_eq!(batch.last().unwrap().to_pair(), pairs[4]);
        assert_eq!((&batch).into_iter().len(), 5);
        assert!(KvPairs::new().last().is_none());
    }

    #[test]
    fn push_with_writes_in_place_and_rolls_back_on_error() {
        let mut batch = KvPairs::from(sample());
        let before = batch.clone();
        let got = batch
            .push_with::<()>(
                7,
                |b| {
                    b.extend_from_slice(b"k");
                    Ok(())
                },
                |b| {
                    b.extend_from_slice(b"vv");
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!((got.key, got.value, got.row_id), (&b"k"[..], &b"vv"[..], 7));
        assert_eq!(batch.len(), 6);
        // A value that fails after writing part of itself leaves nothing.
        let err = batch.push_with(
            8,
            |b| {
                b.extend_from_slice(b"key");
                Ok(())
            },
            |b| {
                b.extend_from_slice(b"partial");
                Err("bad value")
            },
        );
        assert_eq!(err.unwrap_err(), "bad value");
        assert_eq!(batch.len(), 6);
        batch.truncate(5);
        assert_eq!(batch, before);
        batch.truncate(9);
        assert_eq!(batch, before);
    }

    #[test]
    fn append_moves_pairs_and_keeps_their_bytes() {
        let pairs = sample();
        let mut a = KvPairs::from(pairs[..2].to_vec());
        let mut b = KvPairs::from(pairs[2..].to_vec());
        a.append(&mut b);
        assert!(b.is_empty());
        assert_eq!(a.to_vec(), pairs);
        // Appending into an empty batch takes the other's buffers over.
        let mut empty = KvPairs::new();
        empty.append(&mut a);
        assert!(a.is_empty());
        assert_eq!(empty.to_vec(), pairs);
        empty.clear();
        assert!(empty.is_empty());
        assert_eq!(empty.size(), 0);
    }
}
