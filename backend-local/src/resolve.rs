//! Table-level duplicate resolution, after every engine of a table is
//! imported (Lightning's `ResolveDuplicateRows`).
//!
//! The import keeps one value per *key* (see [`crate::import`]); that is not
//! enough for rows: when two rows collide on the primary key, the loser's
//! index entries are still in the index engine (they have other keys), and
//! when two rows collide on a unique index, the loser's record and other
//! index entries are still there. This pass makes the target hold exactly
//! the winners' pairs:
//!
//! 1. **Losing rows.** Every recorded loser of the table (the `duplicates`
//!    column family, key range of the table) names a row: a record-key loser
//!    *is* a row value (handle from the key); a unique-index loser points at
//!    handle `h` — its row is the recorded record loser at `h` whose pairs
//!    contain it, else the row now stored at `h` (then recorded too, so a
//!    rerun finds the same set after that record is gone).
//! 2. **Pairs.** Each losing row is decoded and re-encoded with the table's
//!    encoder (the same code that produced it), giving its record and index
//!    pairs.
//! 3. **Deletes.** A losing pair is deleted when the target holds exactly it
//!    and the row now at its handle (if that row is not a loser) does not
//!    produce it (identical entries of winner and loser stay).
//! 4. **Checksum.** Every losing row's pairs were counted in the caller's
//!    local checksum and none is in the target any more (a pair shared with
//!    the winner was written once for two encoded copies), so the sum of
//!    their checksums is what the caller subtracts. It depends only on the
//!    recorded losers, so rerunning after a crash returns the same value.

use std::collections::{BTreeMap, HashSet};

use backend_core::model::TidbTableInfo;
use backend_core::{
    ColumnPermutation, Datum, EncodedRow, EncodingConfig, Error, KvChecksum, KvPair, Result,
    RowEncoder, RowOrigin, SqlMode,
};
use rocksdb::WriteBatch;
use uuid::Uuid;

use crate::codec::table;
use crate::ingest::{DuplicateRecord, IngestTarget};
use crate::kv_encoder::KvEncoder;
use crate::store::decode_record;
use crate::target_store::TargetStore;

/// What [`resolve_table`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Rows that lost.
    pub losing_rows: u64,
    /// Pairs deleted from the target by this call (0 on a rerun).
    pub deleted: u64,
    /// Checksum of the losing rows' pairs: subtract it from the local
    /// checksum of the encoded rows to get the target's.
    pub checksum: KvChecksum,
}

/// A losing row: its handle, record value and encoded pairs.
struct LosingRow {
    handle: i64,
    record: Vec<u8>,
    pairs: Vec<KvPair>,
}

/// Re-encodes decoded rows of one table.
struct Reencoder<'a> {
    info: &'a TidbTableInfo,
    encoder: KvEncoder,
    permutation: Vec<Option<usize>>,
}

impl Reencoder<'_> {
    /// The record and index pairs of the row stored as `value` at `handle`.
    fn pairs(&mut self, handle: i64, value: &[u8]) -> Result<Vec<KvPair>> {
        let values: Vec<Datum> = decode_record(&self.info.core, handle, value)?;
        let permutation: &ColumnPermutation = &self.permutation;
        match self
            .encoder
            .encode(&values, handle, permutation, &RowOrigin::default())?
        {
            EncodedRow::Kv { record, indexes } => {
                let mut pairs = Vec::with_capacity(indexes.len() + 1);
                pairs.push(record);
                pairs.extend(indexes);
                Ok(pairs)
            }
            EncodedRow::Sql(_) => Err(Error::internal(format!(
                "table {}: the KV encoder returned an SQL row",
                self.info.unique_name()
            ))),
        }
    }
}

/// Resolves the recorded duplicates of `info`'s table in `store`; see the
/// module docs. Idempotent.
pub fn resolve_table(store: &TargetStore, info: &TidbTableInfo) -> Result<Resolution> {
    let name = info.unique_name();
    let (start, end) = table::table_range(info.id);
    let records = store
        .duplicates_in(&start, &end)
        .map_err(|e| Error::from(e).context(format!("reading the duplicates of {name}")))?;
    if records.is_empty() {
        return Ok(Resolution::default());
    }
    let config = EncodingConfig {
        table: std::sync::Arc::new(info.clone()),
        sql_mode: SqlMode::STRICT_ALL_TABLES,
        timestamp: 0,
    };
    let mut enc = Reencoder {
        info,
        encoder: KvEncoder::new(&config)?,
        permutation: (0..info.core.columns.len()).map(Some).collect(),
    };
    let db = store.db();
    let read = |key: &[u8]| -> Result<Option<Vec<u8>>> {
        db.get(key).map_err(|e| {
            Error::new(
                backend_core::ErrorKind::Io,
                format!("reading {name} in {}: {e}", store.path().display()),
            )
        })
    };
    let record_prefix = table::record_prefix(info.id);
    let index_prefix = {
        let mut p = table::table_prefix(info.id);
        p.extend_from_slice(table::INDEX_SEP);
        p
    };

    // 1. Losing rows, by handle.
    let mut losers: BTreeMap<i64, Vec<LosingRow>> = BTreeMap::new();
    let mut seen: HashSet<(i64, Vec<u8>)> = HashSet::new();
    for rec in records.iter().filter(|r| r.key.starts_with(&record_prefix)) {
        let (_, handle) = table::decode_record_key(&rec.key).map_err(|e| e.context(&name))?;
        if seen.insert((handle, rec.value.clone())) {
            let pairs = enc.pairs(handle, &rec.value).map_err(|e| {
                e.context(format!(
                    "decoding the losing row at handle {handle} of {name}"
                ))
            })?;
            losers.entry(handle).or_default().push(LosingRow {
                handle,
                record: rec.value.clone(),
                pairs,
            });
        }
    }
    let mut discovered: Vec<DuplicateRecord> = Vec::new();
    for rec in records.iter().filter(|r| r.key.starts_with(&index_prefix)) {
        // Only distinct unique entries can collide (others carry the
        // handle in the key); their value is the handle.
        let Ok(handle) = table::decode_unique_index_value(&rec.value) else {
            continue;
        };
        let covered = losers.get(&handle).is_some_and(|rows| {
            rows.iter().any(|r| {
                r.pairs
                    .iter()
                    .any(|p| p.key == rec.key && p.value == rec.value)
            })
        });
        if covered {
            continue;
        }
        let record_key = table::record_key(info.id, handle);
        let Some(value) = read(&record_key)? else {
            tracing::warn!(table = %name, handle, key = %table::hex(&rec.key), "a losing unique index entry points at a handle with no row; nothing to resolve");
            continue;
        };
        let pairs = enc
            .pairs(handle, &value)
            .map_err(|e| e.context(format!("decoding the row at handle {handle} of {name}")))?;
        if !pairs
            .iter()
            .any(|p| p.key == rec.key && p.value == rec.value)
        {
            tracing::warn!(table = %name, handle, key = %table::hex(&rec.key), "the row at the handle of a losing unique index entry does not produce it; left alone");
            continue;
        }
        seen.insert((handle, value.clone()));
        discovered.push(DuplicateRecord {
            key: record_key,
            value: value.clone(),
            row_id: handle,
            engine: Uuid::nil(),
        });
        losers.entry(handle).or_default().push(LosingRow {
            handle,
            record: value,
            pairs,
        });
    }
    // Record the newly found losing rows before deleting them, so a rerun
    // (after a crash) finds the same set.
    store
        .record_duplicates(&discovered)
        .map_err(|e| Error::from(e).context(format!("recording losing rows of {name}")))?;

    // 2–4. Deletes and checksum.
    let mut out = Resolution::default();
    let mut batch = WriteBatch::default();
    for (&handle, rows) in &losers {
        let record_key = table::record_key(info.id, handle);
        let current = read(&record_key)?;
        let winner: Vec<KvPair> = match &current {
            Some(v) if rows.iter().any(|r| r.record == *v) => {
                batch.delete(&record_key);
                out.deleted += 1;
                Vec::new()
            }
            Some(v) => enc
                .pairs(handle, v)
                .map_err(|e| e.context(format!("decoding the row at handle {handle} of {name}")))?,
            None => Vec::new(),
        };
        for row in rows {
            debug_assert_eq!(row.handle, handle);
            out.losing_rows += 1;
            for pair in &row.pairs {
                out.checksum.update_one(&pair.key, &pair.value);
                if pair.key == record_key || winner.contains(pair) {
                    continue;
                }
                if read(&pair.key)?.as_deref() == Some(&pair.value[..]) {
                    batch.delete(&pair.key);
                    out.deleted += 1;
                }
            }
        }
    }
    if !batch.is_empty() {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        db.write_opt(batch, &opts).map_err(|e| {
            Error::new(
                backend_core::ErrorKind::Io,
                format!(
                    "deleting losing rows of {name} in {}: {e}",
                    store.location().display()
                ),
            )
        })?;
    }
    tracing::info!(table = %name, losing_rows = out.losing_rows, deleted = out.deleted, "duplicate rows resolved");
    Ok(out)
}
