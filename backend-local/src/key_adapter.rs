//! How user keys are stored inside an engine so that duplicates survive.
//!
//! RocksDB keeps one value per key, so writing `k → a` and later `k → b`
//! into an engine would silently drop `a`. Each pair is therefore stored
//! under `escape(key) ‖ seq ‖ row_id`:
//!
//! * `escape` is the memcomparable byte-group encoding (8-byte groups, each
//!   followed by a marker `0xFF − padding`). It preserves order and is
//!   prefix-free, so all entries of one user key are adjacent and sort
//!   exactly as the user keys do, whatever suffix follows;
//! * `seq` (u64, big endian) is unique per pair within the engine and grows
//!   in write order, so the first-written value of a key comes first;
//! * `row_id` (i64, big endian) names the row the pair came from, for
//!   duplicate reports.
//!
//! The import decodes keys back and resolves groups of equal user keys.

/// Bytes after the escaped key.
pub(crate) const SUFFIX_LEN: usize = 16;
const GROUP: usize = 8;
const MARKER_FULL: u8 = 0xFF;

/// Appends the escaped form of `key` to `out`.
pub(crate) fn escape_into(key: &[u8], out: &mut Vec<u8>) {
    // Sized once and filled by slices: this runs for every pair a writer
    // stores, and per-byte pushes showed up in bench_local's profile.
    let start = out.len();
    out.resize(start + escaped_len(key.len()), 0);
    let full = key.len() / GROUP;
    let (groups, last) = out[start..].split_at_mut(full * (GROUP + 1));
    for (src, dst) in key
        .chunks_exact(GROUP)
        .zip(groups.chunks_exact_mut(GROUP + 1))
    {
        dst[..GROUP].copy_from_slice(src);
        dst[GROUP] = MARKER_FULL;
    }
    let rest = &key[full * GROUP..];
    last[..rest.len()].copy_from_slice(rest);
    // The padding is already zero; `pad` is 1..=8, so the marker stays
    // within 0xF7..=0xFE.
    let pad = GROUP - rest.len();
    last[GROUP] = MARKER_FULL - u8::try_from(pad).unwrap_or(8);
}

/// Length of the escaped form of a key of `len` bytes.
pub(crate) fn escaped_len(len: usize) -> usize {
    (len / GROUP + 1) * (GROUP + 1)
}

/// The escaped form of `key`, alone: a seek/bound key that sorts before every
/// stored entry of `key` and after every entry of smaller keys.
pub(crate) fn escape(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped_len(key.len()));
    escape_into(key, &mut out);
    out
}

/// Appends the stored key of a pair to `out`.
pub(crate) fn encode_stored(key: &[u8], seq: u64, row_id: i64, out: &mut Vec<u8>) {
    escape_into(key, out);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&row_id.to_be_bytes());
}

/// The escaped user-key part of a stored key (what equal user keys share).
pub(crate) fn stored_prefix(stored: &[u8]) -> Option<&[u8]> {
    stored
        .len()
        .checked_sub(SUFFIX_LEN)
        .map(|end| &stored[..end])
}

/// `(seq, row_id)` of a stored key.
pub(crate) fn stored_suffix(stored: &[u8]) -> Option<(u64, i64)> {
    let start = stored.len().checked_sub(SUFFIX_LEN)?;
    let seq = u64::from_be_bytes(stored.get(start..start + 8)?.try_into().ok()?);
    let row = i64::from_be_bytes(stored.get(start + 8..)?.try_into().ok()?);
    Some((seq, row))
}

/// Decodes an escaped key (exactly, nothing may follow) into `out`.
/// `None` means the bytes are not an escaped key (a corrupted engine).
pub(crate) fn unescape_into(escaped: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let mut groups = escaped.chunks(GROUP + 1).peekable();
    while let Some(group) = groups.next() {
        let (&marker, data) = group.split_last()?;
        if data.len() != GROUP {
            return None;
        }
        if marker == MARKER_FULL {
            out.extend_from_slice(data);
            continue;
        }
        let pad = usize::from(MARKER_FULL.checked_sub(marker)?);
        if pad == 0 || pad > GROUP || groups.peek().is_some() {
            return None;
        }
        let (real, padding) = data.split_at(GROUP - pad);
        if padding.iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(real);
        return Some(());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_tidb_encode_bytes_vectors() {
        assert_eq!(escape(&[1, 2, 3]), [1, 2, 3, 0, 0, 0, 0, 0, 0xFA]);
        assert_eq!(escape(&[]), [0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        assert_eq!(escape(&[1; 8]).len(), 18);
    }

    #[test]
    fn round_trip_and_order_with_suffixes() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            b"a".to_vec(),
            b"a\x00".to_vec(),
            b"a\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            b"a\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            b"ab".to_vec(),
            vec![0xFF; 9],
        ];
        let mut stored = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let mut buf = Vec::new();
            encode_stored(key, u64::MAX - u64::try_from(i).unwrap_or(0), -1, &mut buf);
            let mut back = Vec::new();
            assert!(unescape_into(stored_prefix(&buf).unwrap_or_default(), &mut back).is_some());
            assert_eq!(&back, key);
            assert_eq!(
                stored_suffix(&buf),
                Some((u64::MAX - u64::try_from(i).unwrap_or(0), -1))
            );
            stored.push(buf);
        }
        // Stored keys sort as the user keys do, despite decreasing suffixes.
        let mut sorted = stored.clone();
        sorted.sort();
        assert_eq!(sorted, stored);
        let mut bad = Vec::new();
        assert!(unescape_into(&[1, 2, 3], &mut bad).is_none());
        assert!(unescape_into(&[1, 0, 0, 0, 0, 0, 0, 5, 0xF8], &mut bad).is_none());
    }
}
