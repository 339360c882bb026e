//! Ordering a writer's buffered batches by key.
//!
//! The pairs are ordered through `(head, loc)` entries, `head` being 8
//! key bytes (big endian, zero padded) at the current depth, so comparisons
//! are integer comparisons that never touch the keys' heap memory. TiDB
//! keys share long prefixes — `t{table}_i{index}`, then the high bytes of
//! small integers, which are mostly zero — so equal heads are common; each
//! run of them is refined by the next 8 bytes of its keys, down to the
//! keys' ends. Falling back to whole-key comparisons (memcmp through
//! pointers) for such ties instead costs 12% of a TPC-H import's CPU.

use backend_core::{KvPairs, KvRef};

/// Bytes of key a head holds.
const HEAD: usize = 8;

/// Where a pair sits in [`Batches`]: its batch's index in the high 32 bits,
/// its index in the batch in the low 32. Locations compare in arrival order.
pub(crate) type Loc = u64;

/// A writer's buffered batches, read as one sequence of pairs in arrival
/// order. Batches keep the buffers the encoders filled: the writer never
/// copies them into one. Each batch must hold fewer than 2^32 pairs (its
/// entries alone would take 96 GiB).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batches<'a>(pub(crate) &'a [KvPairs]);

impl<'a> Batches<'a> {
    /// The pair at `loc`, or `None` when there is none.
    pub(crate) fn get(self, loc: Loc) -> Option<KvRef<'a>> {
        let (batch, index) = split(loc)?;
        self.0.get(batch)?.get(index)
    }

    /// Every pair's location, in arrival order.
    pub(crate) fn locs(self) -> impl Iterator<Item = Loc> + 'a {
        self.0.iter().enumerate().flat_map(|(b, pairs)| {
            // Widening casts: a batch index and a pair index fit 32 bits
            // (see the type's contract).
            (0..pairs.len()).map(move |i| loc(b, i))
        })
    }

    /// The key at `loc`, empty when there is none (`loc` comes from
    /// [`Batches::locs`], so there always is). The sort's hot path: it
    /// skips working out the value's end, which [`Batches::get`] does.
    fn key(self, loc: Loc) -> &'a [u8] {
        match split(loc).and_then(|(batch, index)| Some((self.0.get(batch)?, index))) {
            Some((pairs, index)) if index < pairs.len() => pairs.key(index),
            _ => &[],
        }
    }
}

/// The location of pair `index` of batch `batch`. Widening casts: both fit
/// 32 bits (see [`Batches`]' contract).
fn loc(batch: usize, index: usize) -> Loc {
    ((batch as u64) << 32) | index as u64
}

/// The batch and pair index of `loc`, inverse of [`loc`].
fn split(loc: Loc) -> Option<(usize, usize)> {
    Some((
        usize::try_from(loc >> 32).ok()?,
        usize::try_from(loc & 0xffff_ffff).ok()?,
    ))
}

/// The order to write `batches` in: by key, equal keys in arrival order (so
/// their sequence numbers grow with it). Yields locations; the pairs
/// themselves do not move.
pub(crate) fn sorted_order(batches: Batches<'_>) -> impl Iterator<Item = Loc> + use<> {
    let key = |loc: Loc| batches.key(loc);
    let common = common_prefix_len(batches);
    let mut order: Vec<(u64, Loc)> = batches
        .locs()
        .map(|loc| (head(key(loc), common), loc))
        .collect();
    // Ranges of `order` whose heads are filled at `depth`, still to sort.
    // An explicit stack: long keys would make recursion deep.
    let mut work = vec![(0, order.len(), common)];
    while let Some((start, end, depth)) = work.pop() {
        let range = &mut order[start..end];
        // Location breaks ties: arrival order among equal heads.
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
            if run.iter().any(|&(_, loc)| key(loc).len() > next) {
                for entry in run.iter_mut() {
                    entry.0 = head(key(entry.1), next);
                }
                let abs = start + run_start - run_len;
                work.push((abs, abs + run_len, next));
            } else {
                // Every key of the run ends here and they agree on their
                // bytes, zero padding aside: each is a prefix of the
                // longer ones (or equal), so length orders them.
                run.sort_unstable_by_key(|&(_, loc)| (key(loc).len(), loc));
            }
        }
    }
    order.into_iter().map(|(_, loc)| loc)
}

/// Length of the prefix every key in `batches` shares.
fn common_prefix_len(batches: Batches<'_>) -> usize {
    let mut keys = batches
        .0
        .iter()
        .flat_map(|pairs| pairs.iter().map(|p| p.key));
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

    /// The sorted order of `keys` as indexes into `keys`, with the keys
    /// dealt into batches of at most `per_batch` pairs.
    fn order_in_batches(keys: &[Vec<u8>], per_batch: usize) -> Vec<usize> {
        let batches: Vec<KvPairs> = keys
            .chunks(per_batch.max(1))
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|k| backend_core::KvPair::new(k.clone(), Vec::new()))
                    .collect()
            })
            .collect();
        sorted_order(Batches(&batches))
            .filter_map(split)
            .map(|(batch, index)| batch * per_batch.max(1) + index)
            .collect()
    }

    fn order_of(keys: &[Vec<u8>]) -> Vec<usize> {
        order_in_batches(keys, usize::MAX)
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

        /// However the pairs are dealt into batches, the order is the same
        /// stable sort, ties in arrival order across batches too.
        #[test]
        fn batches_sort_as_one_sequence(
            tails in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..6), 0..120),
            per_batch in 1usize..20,
        ) {
            prop_assert_eq!(order_in_batches(&tails, per_batch), by_whole_key(&tails));
        }
    }
}
