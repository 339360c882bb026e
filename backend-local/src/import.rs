//! Importing a closed engine: range planning, SST generation, duplicate
//! resolution and ingest into an [`IngestTarget`].
//!
//! 1. **Plan.** The engine's key samples (taken by writers every ~4 MiB, see
//!    [`crate::engine`]) estimate how its data is distributed without a scan;
//!    they cut the key space into *units* of work, about
//!    `max(region size, total / (2 × range-concurrency))` each.
//! 2. **Write.** Up to `range-concurrency` blocking tasks each walk one unit
//!    of the engine in key order. Entries of one user key are adjacent (see
//!    [`crate::key_adapter`]); each group is resolved against the target's
//!    existing value for the key (a merge-join with a target cursor, so a
//!    fresh key range costs one seek). The winner is appended to the unit's
//!    current SST, which is cut *exactly* before it would exceed
//!    `region_split_size` bytes or `region_split_keys` keys — the estimates
//!    only decide parallelism, never region sizes.
//! 3. **Ingest.** Each finished region goes into the target at once — its
//!    SST ingested (moved), or a region of at most [`SMALL_REGION_BYTES`]
//!    as pairs ([`IngestTarget::write_pairs`]) — so disk use stays bounded
//!    and a failure leaves whole regions in the target. Re-importing is idempotent: pairs already in the
//!    target with the same value are skipped, so a retry after a failure
//!    completes the target without changing what was there.
//!
//! Duplicates are resolved per [`OnDuplicate`]; losers are recorded through
//! [`IngestTarget::record_duplicates`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rocksdb::{Options, ReadOptions, SstFileWriter};
use uuid::Uuid;

use crate::codec::table::hex;
use crate::config::OnDuplicate;
use crate::engine::{ENGINE_BLOCK_SIZE, Engine, EngineData, EngineDb, lock};
use crate::error::{LocalError, LocalResult};
use crate::ingest::{DuplicateRecord, IngestTarget, SMALL_REGION_BYTES, TargetCursor};
use crate::key_adapter;
use crate::run;
use crate::stats::Sample;

/// One region written to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeStats {
    /// Its first key.
    pub first_key: Vec<u8>,
    /// Its last key (inclusive).
    pub last_key: Vec<u8>,
    /// Pairs in it.
    pub keys: u64,
    /// Bytes of keys and values in it.
    pub bytes: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The regions ingested, in key order.
    pub ranges: Vec<RangeStats>,
    /// Distinct user keys in the engine.
    pub engine_keys: u64,
    /// Keys skipped because the target already had the same value.
    pub already_present: u64,
    /// Values that lost duplicate resolution.
    pub duplicates: u64,
    /// The first duplicate found, for messages.
    pub first_duplicate: Option<String>,
}

/// Region limits and duplicate handling of one import.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImportLimits {
    pub region_split_size: u64,
    pub region_split_keys: u64,
    pub range_concurrency: usize,
    pub on_duplicate: OnDuplicate,
}

/// Cuts the key space into units from samples. Returns the boundaries; unit
/// `i` is `[b[i-1], b[i])`, with open ends first and last.
pub(crate) fn plan_units(
    mut samples: Vec<Sample>,
    total_bytes: u64,
    total_keys: u64,
    limits: &ImportLimits,
) -> Vec<Vec<u8>> {
    let parts = u64::try_from(limits.range_concurrency.max(1) * 2).unwrap_or(u64::MAX);
    let unit_bytes = limits
        .region_split_size
        .max(total_bytes.div_ceil(parts))
        .max(1);
    let unit_keys = limits
        .region_split_keys
        .max(total_keys.div_ceil(parts))
        .max(1);
    samples.sort_by(|a, b| a.key.cmp(&b.key));
    let mut boundaries: Vec<Vec<u8>> = Vec::new();
    let (mut bytes, mut keys) = (0u64, 0u64);
    for sample in &samples {
        bytes += sample.bytes;
        keys += sample.keys;
        if bytes >= unit_bytes || keys >= unit_keys {
            // The smallest key after the sample's (inclusive) key.
            let mut boundary = sample.key.clone();
            boundary.push(0);
            if boundaries.last().is_none_or(|last| *last < boundary) {
                boundaries.push(boundary);
            }
            (bytes, keys) = (0, 0);
        }
    }
    boundaries
}

/// A unit of work: user keys in `[lower, upper)`, open where `None`.
type Unit = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Engine read memory one import aims to hold in all, across its workers.
const READ_BUDGET: usize = 64 << 20;
/// Read-ahead per engine file and worker, at least and at most.
const MIN_READAHEAD: usize = 64 << 10;
const MAX_READAHEAD: usize = 4 << 20;
/// What an open engine file costs a worker besides its read-ahead: the
/// block being read and the copy its iterator holds.
const PER_FILE: usize = 2 * ENGINE_BLOCK_SIZE;

/// How an import walks an engine of `files` overlapping files in `units`
/// units: `(workers, read-ahead per file and worker)`.
///
/// Every worker's iterator reads all files at once, so read memory is
/// `workers × files × (read-ahead + PER_FILE)`. Workers are capped by the
/// cores (the walk is CPU work on this machine; more only cost memory) and
/// by [`READ_BUDGET`] at the minimum read-ahead. Uncapped, an SF10 import
/// ran 16 workers over ~150 files each and held ~400 MiB of RocksDB read
/// buffers (heaptrack), a cost that grew with the data.
fn walk_plan(files: usize, units: usize, range_concurrency: usize, cores: usize) -> (usize, usize) {
    let files = files.max(1);
    let by_memory = READ_BUDGET / (files * (MIN_READAHEAD + PER_FILE));
    let workers = range_concurrency
        .min(cores)
        .min(by_memory)
        .min(units)
        .max(1);
    let readahead = (READ_BUDGET / (files * workers))
        .saturating_sub(PER_FILE)
        .clamp(MIN_READAHEAD, MAX_READAHEAD);
    (workers, readahead)
}

/// What an import reads the engine's pairs from.
enum Source {
    /// The sorting store.
    Db(Arc<EngineDb>),
    /// A small engine's runs, merged in memory (stored key, value).
    Pairs {
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        dir: PathBuf,
    },
}

impl Source {
    /// Where the pairs are, for messages.
    fn path(&self) -> &Path {
        match self {
            Source::Db(edb) => &edb.path,
            Source::Pairs { dir, .. } => dir,
        }
    }
}

/// A forward walk over stored pairs in key order.
trait PairCursor {
    fn item(&self) -> Option<(&[u8], &[u8])>;
    fn next(&mut self);
    /// The error that ended the walk early, if any.
    fn status(&self) -> Result<(), rocksdb::Error>;
}

impl PairCursor for rocksdb::DBRawIterator<'_> {
    fn item(&self) -> Option<(&[u8], &[u8])> {
        rocksdb::DBRawIterator::item(self)
    }
    fn next(&mut self) {
        rocksdb::DBRawIterator::next(self);
    }
    fn status(&self) -> Result<(), rocksdb::Error> {
        rocksdb::DBRawIterator::status(self)
    }
}

/// A walk over pairs held in memory.
struct SliceCursor<'a> {
    pairs: &'a [(Vec<u8>, Vec<u8>)],
}

impl PairCursor for SliceCursor<'_> {
    fn item(&self) -> Option<(&[u8], &[u8])> {
        self.pairs.first().map(|(k, v)| (&k[..], &v[..]))
    }
    fn next(&mut self) {
        self.pairs = self.pairs.get(1..).unwrap_or_default();
    }
    fn status(&self) -> Result<(), rocksdb::Error> {
        Ok(())
    }
}

/// Per-import shared state.
struct ImportCtx {
    uuid: Uuid,
    source: Source,
    /// Read-ahead per engine file and worker.
    readahead: usize,
    target: Arc<dyn IngestTarget>,
    limits: ImportLimits,
    engine: Arc<Engine>,
    abort: AtomicBool,
}

#[derive(Default)]
struct UnitOutcome {
    ranges: Vec<RangeStats>,
    engine_keys: u64,
    already_present: u64,
    duplicates: u64,
    first_duplicate: Option<String>,
}

/// Imports `engine` into `target`. Errors leave whole regions in the target;
/// retrying is safe.
pub(crate) async fn import_engine(
    engine: Arc<Engine>,
    target: Arc<dyn IngestTarget>,
    limits: ImportLimits,
) -> LocalResult<ImportReport> {
    let (kvs, bytes, samples) = engine.stats();
    let boundaries = plan_units(samples, bytes, kvs, &limits);
    let mut units: VecDeque<Unit> = VecDeque::new();
    let mut lower = None;
    for boundary in boundaries {
        units.push_back((lower, Some(boundary.clone())));
        lower = Some(boundary);
    }
    units.push_back((lower, None));
    let source = match engine.data()? {
        EngineData::Db(edb) => Source::Db(edb),
        EngineData::Runs(runs) => {
            let uuid = engine.uuid;
            let dir = engine.dir.clone();
            let pairs = tokio::task::spawn_blocking(move || run::read_merged(&runs, uuid))
                .await
                .map_err(|e| LocalError::Task {
                    uuid,
                    reason: e.to_string(),
                })??;
            Source::Pairs { pairs, dir }
        }
    };
    let files = match &source {
        Source::Db(edb) => edb.db.live_files().map_or(1, |f| f.len()),
        Source::Pairs { .. } => 1,
    };
    let cores = crate::config::cores();
    let (workers, readahead) = walk_plan(files, units.len(), limits.range_concurrency, cores);
    let ctx = Arc::new(ImportCtx {
        uuid: engine.uuid,
        source,
        readahead,
        target,
        limits,
        engine,
        abort: AtomicBool::new(false),
    });
    let queue = Arc::new(Mutex::new(units));
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let ctx = Arc::clone(&ctx);
        let queue = Arc::clone(&queue);
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut outcomes = Vec::new();
            loop {
                if ctx.abort.load(Ordering::SeqCst) {
                    break;
                }
                let Some((lower, upper)) = lock(&queue).pop_front() else {
                    break;
                };
                match run_unit(&ctx, lower.as_deref(), upper.as_deref()) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(e) => {
                        ctx.abort.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
            Ok(outcomes)
        }));
    }
    let mut report = ImportReport::default();
    let mut first_error = None;
    for task in tasks {
        let result = task.await.map_err(|e| LocalError::Task {
            uuid: ctx.uuid,
            reason: e.to_string(),
        });
        match result.and_then(|r| r) {
            Ok(outcomes) => {
                for outcome in outcomes {
                    report.ranges.extend(outcome.ranges);
                    report.engine_keys += outcome.engine_keys;
                    report.already_present += outcome.already_present;
                    report.duplicates += outcome.duplicates;
                    if report.first_duplicate.is_none() {
                        report.first_duplicate = outcome.first_duplicate;
                    }
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    report.ranges.sort_by(|a, b| a.first_key.cmp(&b.first_key));
    Ok(report)
}

/// One region being built: its pairs in memory while it is small (see
/// [`SMALL_REGION_BYTES`]), else an SST.
struct Region<'a> {
    body: RegionBody<'a>,
    path: PathBuf,
    stats: RangeStats,
}

enum RegionBody<'a> {
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Sst(SstFileWriter<'a>),
}

struct UnitRun<'a> {
    ctx: &'a ImportCtx,
    sst_opts: &'a Options,
    current: Option<Region<'a>>,
    cursor: Box<dyn TargetCursor + 'a>,
    records: Vec<DuplicateRecord>,
    out: UnitOutcome,
}

/// A stored entry of the current key group.
struct Entry {
    row_id: i64,
    value: Vec<u8>,
}

fn run_unit(
    ctx: &ImportCtx,
    lower: Option<&[u8]>,
    upper: Option<&[u8]>,
) -> LocalResult<UnitOutcome> {
    let lower_stored = lower.map(key_adapter::escape);
    let upper_stored = upper.map(key_adapter::escape);
    let mut iter: Box<dyn PairCursor + '_> = match &ctx.source {
        Source::Db(edb) => {
            let mut opts = ReadOptions::default();
            opts.fill_cache(false);
            opts.set_readahead_size(ctx.readahead);
            if let Some(lower) = lower_stored {
                opts.set_iterate_lower_bound(lower);
            }
            if let Some(upper) = upper_stored {
                opts.set_iterate_upper_bound(upper);
            }
            let mut iter = edb.db.raw_iterator_opt(opts);
            iter.seek_to_first();
            Box::new(iter)
        }
        Source::Pairs { pairs, .. } => {
            // The same bounds the store's iterator applies.
            let start = lower_stored.map_or(0, |l| pairs.partition_point(|(k, _)| *k < l));
            let end = upper_stored.map_or(pairs.len(), |u| pairs.partition_point(|(k, _)| *k < u));
            Box::new(SliceCursor {
                pairs: pairs.get(start..end.max(start)).unwrap_or_default(),
            })
        }
    };
    let sst_opts = ctx.target.sst_options();
    let mut run = UnitRun {
        ctx,
        sst_opts: &sst_opts,
        current: None,
        cursor: ctx.target.cursor(lower.unwrap_or(&[]), upper),
        records: Vec::new(),
        out: UnitOutcome::default(),
    };
    let mut prefix: Vec<u8> = Vec::new();
    let mut group: Vec<Entry> = Vec::new();
    let mut used = 0usize;
    let mut user_key = Vec::new();
    while let Some((key, value)) = iter.item() {
        let (Some(key_prefix), Some((_seq, row_id))) = (
            key_adapter::stored_prefix(key),
            key_adapter::stored_suffix(key),
        ) else {
            return Err(corrupted(ctx, key));
        };
        if used > 0 && key_prefix != prefix.as_slice() {
            if key_adapter::unescape_into(&prefix, &mut user_key).is_none() {
                return Err(corrupted(ctx, &prefix));
            }
            run.resolve(&user_key, &group[..used])?;
            used = 0;
        }
        if used == 0 {
            prefix.clear();
            prefix.extend_from_slice(key_prefix);
        }
        // Reuse the group's buffers: most groups hold one entry.
        if let Some(entry) = group.get_mut(used) {
            entry.row_id = row_id;
            entry.value.clear();
            entry.value.extend_from_slice(value);
        } else {
            group.push(Entry {
                row_id,
                value: value.to_vec(),
            });
        }
        used += 1;
        iter.next();
    }
    iter.status()
        .map_err(|e| LocalError::rocks("reading engine", ctx.source.path(), e))?;
    if used > 0 {
        if key_adapter::unescape_into(&prefix, &mut user_key).is_none() {
            return Err(corrupted(ctx, &prefix));
        }
        run.resolve(&user_key, &group[..used])?;
    }
    run.finish_region()?;
    run.flush_records()?;
    run.cursor.status()?;
    Ok(run.out)
}

fn corrupted(ctx: &ImportCtx, key: &[u8]) -> LocalError {
    LocalError::Corrupted {
        uuid: ctx.uuid,
        path: ctx.source.path().to_path_buf(),
        reason: format!("undecodable stored key {}", hex(key)),
    }
}

impl<'a> UnitRun<'a> {
    /// The target's current value of `key`, advancing the cursor (keys come
    /// in ascending order).
    fn existing(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let mut steps = 0;
        loop {
            match self.cursor.current() {
                Some((k, v)) if k == key => return Some(v.to_vec()),
                Some((k, _)) if k < key => {
                    if steps < 8 {
                        self.cursor.next();
                        steps += 1;
                    } else {
                        self.cursor.seek(key);
                        steps = 0;
                    }
                }
                _ => return None,
            }
        }
    }

    /// Resolves one user key's entries (in write order) against the target
    /// and writes the winner.
    fn resolve(&mut self, key: &[u8], entries: &[Entry]) -> LocalResult<()> {
        self.out.engine_keys += 1;
        let existing = self.existing(key);
        let (winner, losers) = match entries {
            [only] => match &existing {
                None => (&only.value[..], false),
                Some(old) if *old == only.value => (&only.value[..], false),
                Some(_) => (&[][..], true),
            },
            _ => (&[][..], true),
        };
        if !losers {
            if existing.is_some() {
                self.out.already_present += 1;
                return Ok(());
            }
            return self.write(key, winner);
        }
        // Slow path: at least two distinct candidates, or a conflict with
        // the target.
        let first = entries.first().map(|e| &e.value[..]).unwrap_or_default();
        let last = entries.last().map(|e| &e.value[..]).unwrap_or_default();
        let winner: Vec<u8> = match (self.ctx.limits.on_duplicate, &existing) {
            (OnDuplicate::Replace, _) => last.to_vec(),
            (_, Some(old)) => old.clone(),
            (_, None) => first.to_vec(),
        };
        let mut lost: Vec<DuplicateRecord> = Vec::new();
        if let Some(old) = &existing
            && *old != winner
        {
            lost.push(DuplicateRecord {
                key: key.to_vec(),
                value: old.clone(),
                row_id: 0,
                engine: Uuid::nil(),
            });
        }
        for entry in entries {
            let record = DuplicateRecord {
                key: key.to_vec(),
                value: entry.value.clone(),
                row_id: entry.row_id,
                engine: self.ctx.uuid,
            };
            if entry.value != winner && !lost.contains(&record) {
                lost.push(record);
            }
        }
        if !lost.is_empty() {
            self.out.duplicates += lost.len() as u64;
            if self.out.first_duplicate.is_none() {
                let rows: Vec<String> = entries.iter().map(|e| e.row_id.to_string()).collect();
                self.out.first_duplicate = Some(format!(
                    "key {} (row ids {}{})",
                    hex(key),
                    rows.join(", "),
                    if existing.is_some() {
                        ", and a different value already in the target"
                    } else {
                        ""
                    }
                ));
            }
            self.records.extend(lost);
            if self.records.len() >= 1024 {
                self.flush_records()?;
            }
        }
        if existing.as_ref() == Some(&winner) {
            self.out.already_present += 1;
            Ok(())
        } else {
            self.write(key, &winner)
        }
    }

    /// Appends a pair to the current region, cutting a new region first if
    /// the pair would push it past either limit.
    fn write(&mut self, key: &[u8], value: &[u8]) -> LocalResult<()> {
        let size = (key.len() + value.len()) as u64;
        let limits = self.ctx.limits;
        if let Some(current) = &self.current
            && (current.stats.keys + 1 > limits.region_split_keys
                || current.stats.bytes + size > limits.region_split_size)
        {
            self.finish_region()?;
        }
        let current = self.current.get_or_insert_with(|| Region {
            body: RegionBody::Pairs(Vec::new()),
            path: self.ctx.engine.scratch_path("region", "sst"),
            stats: RangeStats {
                first_key: key.to_vec(),
                last_key: Vec::new(),
                keys: 0,
                bytes: 0,
            },
        });
        if let RegionBody::Pairs(pairs) = &mut current.body
            && current.stats.bytes + size > SMALL_REGION_BYTES
        {
            // Too big to write as pairs: an SST from here on.
            let mut sst = SstFileWriter::create(self.sst_opts);
            sst.open(&current.path)
                .map_err(|e| LocalError::rocks("creating region SST", &current.path, e))?;
            for (k, v) in pairs.drain(..) {
                sst.put(&k, &v)
                    .map_err(|e| LocalError::rocks("writing region SST", &current.path, e))?;
            }
            current.body = RegionBody::Sst(sst);
        }
        match &mut current.body {
            RegionBody::Pairs(pairs) => pairs.push((key.to_vec(), value.to_vec())),
            RegionBody::Sst(writer) => writer
                .put(key, value)
                .map_err(|e| LocalError::rocks("writing region SST", &current.path, e))?,
        }
        current.stats.keys += 1;
        current.stats.bytes += size;
        current.stats.last_key.clear();
        current.stats.last_key.extend_from_slice(key);
        Ok(())
    }

    /// Finishes the current region and hands it to the target: a small one
    /// as pairs, else as its SST.
    fn finish_region(&mut self) -> LocalResult<()> {
        let Some(region) = self.current.take() else {
            return Ok(());
        };
        let path = region.path;
        let result = match region.body {
            RegionBody::Pairs(pairs) => self.ctx.target.write_pairs(&pairs, &path),
            RegionBody::Sst(mut writer) => writer
                .finish()
                .map_err(|e| LocalError::rocks("finishing region SST", &path, e))
                .and_then(|()| self.ctx.target.ingest_ssts(std::slice::from_ref(&path))),
        };
        // After a move the file is gone; after a failure it must go.
        let _ = std::fs::remove_file(&path);
        result?;
        self.out.ranges.push(region.stats);
        Ok(())
    }

    fn flush_records(&mut self) -> LocalResult<()> {
        self.ctx.target.record_duplicates(&self.records)?;
        self.records.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &[u8], bytes: u64, keys: u64) -> Sample {
        Sample {
            key: key.to_vec(),
            bytes,
            keys,
        }
    }

    #[test]
    fn walk_plan_caps_workers_by_cores_units_and_read_memory() {
        // A small engine: workers are the cores, read-ahead is generous.
        let (workers, readahead) = walk_plan(12, 7, 16, 2);
        assert_eq!(workers, 2);
        assert_eq!(readahead, READ_BUDGET / 24 - PER_FILE);
        // Range concurrency and units cap too.
        assert_eq!(walk_plan(12, 7, 3, 64).0, 3);
        assert_eq!(walk_plan(12, 1, 16, 64).0, 1);
        assert_eq!(walk_plan(0, 0, 0, 0).0, 1);
        // Many files: one worker at the minimum read-ahead, over budget
        // only because a walk needs every file open.
        assert_eq!(walk_plan(1000, 40, 16, 8), (1, MIN_READAHEAD));
        // Whenever more than one worker runs, read memory is in budget.
        for files in [1, 2, 10, 100, 150, 300, 400, 1000] {
            for cores in [1, 2, 4, 16, 64] {
                let (workers, readahead) = walk_plan(files, 64, 16, cores);
                assert!((1..=cores.min(16)).contains(&workers), "{files} {cores}");
                assert!((MIN_READAHEAD..=MAX_READAHEAD).contains(&readahead));
                if workers > 1 {
                    let memory = workers * files * (readahead + PER_FILE);
                    assert!(
                        memory <= READ_BUDGET,
                        "{files} files, {cores} cores: {memory}"
                    );
                }
            }
        }
    }

    #[test]
    fn plan_cuts_by_bytes_and_keys_after_sample_keys() {
        let limits = ImportLimits {
            region_split_size: 100,
            region_split_keys: 10,
            range_concurrency: 1,
            on_duplicate: OnDuplicate::Error,
        };
        let samples = vec![
            sample(b"c", 60, 2),
            sample(b"a", 60, 2),
            sample(b"e", 10, 10),
            sample(b"f", 1, 1),
        ];
        let plan = plan_units(samples, 131, 15, &limits);
        assert_eq!(plan, vec![b"c\0".to_vec(), b"e\0".to_vec()]);
        assert!(plan_units(Vec::new(), 0, 0, &limits).is_empty());
    }
}
