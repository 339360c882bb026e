//! Ordering a writer's buffer by key.
//!
//! The buffer is ordered through `(head, index)` entries, `head` being 8
//! key bytes (big endian, zero padded) at the current depth, so comparisons
//! are integer comparisons that never touch the keys' heap memory. TiDB
//! keys share long prefixes — `t{table}_i{index}`, then the high bytes of
//! small integers, which are mostly zero — so equal heads are common; each
//! run of them is refined by the next 8 bytes of its keys, down to the
//! keys' ends. Falling back to whole-key comparisons for such ties instead
//! was 12% of an import's CPU (memcmp through pointers, issue 10 profile).

use backend_core::KvPairs;

/// Bytes of key a head holds.
const HEAD: usize = 8;

/// The order to write `pairs` in: by key, equal keys in arrival order (so
/// their sequence numbers grow with it). Yields indexes into `pairs`; the
/// pairs themselves do not move.
pub(crate) fn sorted_order(pairs: &KvPairs) -> impl Iterator<Item = usize> + use<> {
    let key = |i: usize| pairs.key(i);
    let common = common_prefix_len(pairs);
    let mut order: Vec<(u64, usize)> = (0..pairs.len())
        .map(|i| (head(key(i), common), i))
        .collect();
    // Ranges of `order` whose heads are filled at `depth`, still to sort.
    // An explicit stack: long keys would make recursion deep.
    let mut work = vec![(0, order.len(), common)];
    while let Some((start, end, depth)) = work.pop() {
        let range = &mut order[start..end];
        // Index breaks ties: arrival order among equal heads.
        range.sort_unstable();
        let mut run_start = 0;
        while run_start < range.len() {
            let run_head = range[run_start].0;
            let run_len = range[run_start..]
                .iter()
                .take_while(|(h, _)| *h == run_head)
                .count();
            let run = &mut range[run_start..run_start + run_len];
            run_start += run_len;
            if run.len() < 2 {
                continue;
            }
            let next = depth + HEAD;
            if run.iter().any(|&(_, i)| key(i).len() > next) {
                for entry in run.iter_mut() {
                    entry.0 = head(key(entry.1), next);
                }
                let abs = start + run_start - run_len;
                work.push((abs, abs + run_len, next));
            } else {
                // Every key of the run ends here and they agree on their
                // bytes, zero padding aside: each is a prefix of the
                // longer ones (or equal), so length orders them.
                run.sort_unstable_by_key(|&(_, i)| (key(i).len(), i));
            }
        }
    }
    order.into_iter().map(|(_, i)| i)
}

/// Length of the prefix every key in `pairs` shares.
fn common_prefix_len(pairs: &KvPairs) -> usize {
    let mut keys = pairs.iter().map(|p| p.key);
    match keys.next() {
        Some(first) => keys.fold(first.len(), |lcp, key| {
            first[..lcp]
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        }),
        None => 0,
    }
}

/// The `HEAD` bytes of `key` at `depth`, zero padded past its end.
fn head(key: &[u8], depth: usize) -> u64 {
    let mut bytes = [0u8; HEAD];
    let tail = key.get(depth..).unwrap_or_default();
    let take = tail.len().min(HEAD);
    bytes[..take].copy_from_slice(&tail[..take]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order_of(keys: &[Vec<u8>]) -> Vec<usize> {
        let pairs: KvPairs = keys
            .iter()
            .map(|k| backend_core::KvPair::new(k.clone(), Vec::new()))
            .collect();
        sorted_order(&pairs).collect()
    }

    /// What `sorted_order` must equal: a stable sort by the whole key.
    fn by_whole_key(keys: &[Vec<u8>]) -> Vec<usize> {
        let mut want: Vec<usize> = (0..keys.len()).collect();
        want.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        want
    }

    #[test]
    fn orders_by_key_then_arrival() {
        let keys: Vec<Vec<u8>> = [
            &b"t1_rb"[..],
            b"t1_ra",
            b"t1_r",
            b"t1_ra\0",
            b"t1_ra",
            b"t1_rabcdefghij",
            b"t1_rabcdefghi",
            b"t1_rabcdefghij",
            b"t0",
        ]
        .iter()
        .map(|k| k.to_vec())
        .collect();
        assert_eq!(order_of(&keys), by_whole_key(&keys));
        assert!(order_of(&[]).is_empty());
    }

    #[test]
    fn zero_bytes_and_key_ends_past_the_first_head() {
        // Keys equal up to zero padding at several depths: only the length
        // (a prefix sorts first) or a late byte tells them apart.
        let base = b"t\x80\0\0\0\0\0\0\x05_i\x80\0\0\0\0\0\0\x01\x03\x80\0\0\0".to_vec();
        let mut keys = Vec::new();
        for extra in [
            &b""[..],
            b"\0",
            b"\0\0\0\0\0\0\0\0",
            b"\0\0\0\0\0\0\0\0\0",
            b"\0\0\0\0\0\0\0\0\x01",
            b"\0\0\0\0\0\0\0\x01",
            b"\x01",
            b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02",
        ] {
            let mut k = base.clone();
            k.extend_from_slice(extra);
            keys.push(k.clone());
            keys.push(k);
        }
        keys.reverse();
        assert_eq!(order_of(&keys), by_whole_key(&keys));
    }

    proptest! {
        /// Short keys over a tiny alphabet with a shared prefix: many ties,
        /// prefixes and zero bytes at every depth.
        #[test]
        fn equals_a_stable_sort_by_whole_key(
            prefix in proptest::collection::vec(0u8..3, 0..12),
            tails in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..30), 0..200),
        ) {
            let keys: Vec<Vec<u8>> = tails
                .into_iter()
                .map(|t| prefix.iter().copied().chain(t).collect())
                .collect();
            prop_assert_eq!(order_of(&keys), by_whole_key(&keys));
        }
    }
}
