//! Run files: how a small engine keeps its pairs without a sorting store.
//!
//! A dump of many small tables makes many engines of a few hundred pairs
//! each. A RocksDB instance per engine costs far more file-system work than
//! such pairs (a dozen files and two dozen syncs, created and deleted
//! again), so an engine starts without one: each writer flush becomes one
//! *run*, `run-<first seq>.kv` in the engine directory, holding the flush's
//! stored pairs (see [`crate::key_adapter`]) in key order. A run is written
//! under a scratch name, synced, renamed into place and the directory
//! synced before the writer's buffer is let go, so a flushed run survives
//! `kill -9` exactly as an SST ingested into a sorting store does.
//!
//! Once an engine's runs pass `small_engine_size` bytes or [`MAX_RUNS`]
//! files, the engine creates its sorting store and moves the runs into it
//! as one merged SST (see [`crate::engine`]). Importing a small engine
//! reads its runs into memory and merges them.
//!
//! Format: [`MAGIC`], the flush's [`BatchStats`] record, then one record of
//! pairs (`u64` key length, `u64` value length, key, value, …). Each record
//! is framed as `u64` body length, body, `u64` CRC-64 of the body, so a
//! torn or damaged run is found when it is read.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{LocalError, LocalResult};
use crate::stats::{BatchStats, frame_into, take, take_u64, unframe};

/// First bytes of every run file (format 1).
const MAGIC: &[u8; 8] = b"KVRUN\x00\x00\x01";
/// Runs an engine keeps before it creates its sorting store: each run is
/// read at import, so their number stays small.
pub(crate) const MAX_RUNS: usize = 16;
/// File names of runs: `run-<first seq, hex>.kv`.
const RUN_PREFIX: &str = "run-";
const RUN_SUFFIX: &str = ".kv";

/// The final name of the run whose first pair has sequence number `seq`
/// (sequence numbers are unique across restarts, so are run names).
pub(crate) fn run_name(seq: u64) -> String {
    format!("{RUN_PREFIX}{seq:016x}{RUN_SUFFIX}")
}

/// Whether `name` is a run's file name.
pub(crate) fn is_run_name(name: &str) -> bool {
    name.starts_with(RUN_PREFIX) && name.ends_with(RUN_SUFFIX)
}

/// The pairs of one run being built, in memory until [`RunBuilder::write`]
/// (a run is at most `small_engine_size` bytes).
#[derive(Debug, Default)]
pub(crate) struct RunBuilder {
    pairs: Vec<u8>,
}

impl RunBuilder {
    /// Appends a stored pair; keys must arrive in ascending order.
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) {
        self.pairs
            .extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.pairs
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.pairs.extend_from_slice(key);
        self.pairs.extend_from_slice(value);
    }

    /// Writes the run to `path` and syncs it; returns its size in bytes.
    /// The caller renames it into place (see [`run_name`]).
    pub(crate) fn write(&self, path: &Path, stats: &BatchStats) -> LocalResult<u64> {
        let mut out = Vec::with_capacity(self.pairs.len() + 256);
        out.extend_from_slice(MAGIC);
        frame_into(&mut out, &stats.encode_body());
        frame_into(&mut out, &self.pairs);
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(path)?;
            file.write_all(&out)?;
            file.sync_data()
        };
        write().map_err(|e| LocalError::io("writing engine run", path, e))?;
        Ok(out.len() as u64)
    }
}

/// A run read back and checked.
#[derive(Debug)]
pub(crate) struct Run {
    /// What the flush that wrote it added.
    pub stats: BatchStats,
    /// The pairs record's body.
    pairs: Vec<u8>,
}

impl Run {
    /// Reads and checks the run at `path` of engine `uuid`: a torn or
    /// damaged file is [`LocalError::Corrupted`], naming it.
    pub(crate) fn read(path: &Path, uuid: Uuid) -> LocalResult<Run> {
        let data = fs::read(path).map_err(|e| LocalError::io("reading engine run", path, e))?;
        let corrupted = |reason: &str| LocalError::Corrupted {
            uuid,
            path: path.to_path_buf(),
            reason: format!("engine run: {reason}"),
        };
        let mut rest = &data[..];
        if take(&mut rest, MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(corrupted("not a run file (bad magic)"));
        }
        let stats = unframe(&mut rest)
            .and_then(BatchStats::decode_body)
            .ok_or_else(|| corrupted("torn or damaged stats record"))?;
        let pairs = unframe(&mut rest).ok_or_else(|| corrupted("torn or damaged pairs record"))?;
        if !rest.is_empty() {
            return Err(corrupted("trailing bytes after the pairs record"));
        }
        let run = Run {
            stats,
            pairs: pairs.to_vec(),
        };
        let mut iter = run.pairs();
        let count = iter.by_ref().count() as u64;
        if !iter.rest.is_empty() || count != run.stats.kvs {
            return Err(corrupted(&format!(
                "holds {count} well-formed pairs, its stats say {}",
                run.stats.kvs
            )));
        }
        Ok(run)
    }

    /// The run's stored pairs, in order.
    pub(crate) fn pairs(&self) -> RunPairs<'_> {
        RunPairs { rest: &self.pairs }
    }
}

/// Iterator over a run's stored pairs.
pub(crate) struct RunPairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RunPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.rest;
        let klen = usize::try_from(take_u64(&mut rest)?).ok()?;
        let vlen = usize::try_from(take_u64(&mut rest)?).ok()?;
        let key = take(&mut rest, klen)?;
        let value = take(&mut rest, vlen)?;
        self.rest = rest;
        Some((key, value))
    }
}

/// Reads the runs at `paths` and merges their pairs into one list in
/// stored-key order (stored keys are unique: they carry a sequence number).
pub(crate) fn read_merged(paths: &[PathBuf], uuid: Uuid) -> LocalResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut pairs = Vec::new();
    for path in paths {
        let run = Run::read(path, uuid)?;
        pairs.extend(run.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())));
    }
    // Each run is sorted already; one is the common case.
    if paths.len() > 1 {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(pairs)
}

/// The runs in engine directory `dir`, in name order.
pub(crate) fn list_runs(dir: &Path) -> LocalResult<Vec<PathBuf>> {
    let mut runs = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(LocalError::io("listing engine directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| LocalError::io("listing engine directory", dir, e))?;
        if entry.file_name().to_str().is_some_and(is_run_name) {
            runs.push(entry.path());
        }
    }
    runs.sort();
    Ok(runs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::Sample;

    fn written(dir: &Path) -> (PathBuf, BatchStats) {
        let stats = BatchStats {
            kvs: 2,
            bytes: 6,
            samples: vec![Sample {
                key: b"b".to_vec(),
                bytes: 6,
                keys: 2,
            }],
        };
        let mut run = RunBuilder::default();
        run.put(b"a", b"1");
        run.put(b"bb", b"");
        let path = dir.join(run_name(7));
        let size = run.write(&path, &stats).unwrap();
        assert_eq!(size, fs::metadata(&path).unwrap().len());
        (path, stats)
    }

    #[test]
    fn run_round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (path, stats) = written(dir.path());
        assert_eq!(list_runs(dir.path()).unwrap(), vec![path.clone()]);
        let run = Run::read(&path, Uuid::nil()).unwrap();
        assert_eq!(run.stats, stats);
        let pairs: Vec<_> = run.pairs().collect();
        assert_eq!(pairs, vec![(&b"a"[..], &b"1"[..]), (&b"bb"[..], &b""[..])]);

        // A torn tail and a flipped byte are both reported, naming the file.
        let data = fs::read(&path).unwrap();
        for damaged in [data[..data.len() - 3].to_vec(), {
            let mut d = data.clone();
            let at = d.len() - 12;
            d[at] ^= 0x40;
            d
        }] {
            fs::write(&path, damaged).unwrap();
            let err = Run::read(&path, Uuid::nil()).unwrap_err();
            assert!(matches!(err, LocalError::Corrupted { .. }), "{err}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
    }

    #[test]
    fn merged_runs_are_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (seq, keys) in [(1, [b"a", b"c"]), (2, [b"b", b"d"])] {
            let mut run = RunBuilder::default();
            for key in keys {
                run.put(key, b"v");
            }
            let stats = BatchStats {
                kvs: 2,
                ..BatchStats::default()
            };
            let path = dir.path().join(run_name(seq));
            run.write(&path, &stats).unwrap();
            paths.push(path);
        }
        let keys: Vec<Vec<u8>> = read_merged(&paths, Uuid::nil())
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"a", b"b", b"c", b"d"].map(|k| k.to_vec()));
    }
}
