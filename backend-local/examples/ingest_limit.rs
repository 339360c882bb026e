//! RocksDB's own best ingest of already-encoded KV pairs: the write-side
//! limit of a local-backend import on this machine.
//!
//! Takes a target store a local import produced, and (untimed) copies its
//! table pairs (`t…` keys; the `m…` catalog is left out) in key order into
//! segment files of at most `region-split-size` bytes / `region-split-keys`
//! keys — the pairs the import had to write, already encoded and sorted.
//! Then, timed: `THREADS` workers turn segments into SSTs with RocksDB's
//! `SstFileWriter` (the target's SST options: LZ4), and one
//! `IngestExternalFile` call moves all of them into a fresh store opened
//! like the target. No encoding, no sorting, no engine: what is left is
//! what RocksDB itself needs to take the data.
//!
//! ```text
//! cargo build --workspace --all-targets
//! $CARGO_TARGET_DIR/debug/examples/ingest_limit STORE_DIR WORK_DIR [THREADS]
//! ```
//!
//! Prints one JSON line: `{"pairs":…,"kv_bytes":…,"ssts":…,"seconds":…,
//! "cpu_seconds":…,"peak_rss_kib":…}` for the timed part (`bench/run.sh`
//! reads it). `WORK_DIR` must not exist or be empty; it is left in place.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use backend_local::{DEFAULT_REGION_SPLIT_KEYS, DEFAULT_REGION_SPLIT_SIZE, TargetStore};
use rocksdb::{
    DB, DBCompressionType, IngestExternalFileOptions, Options, ReadOptions, SstFileWriter,
};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` value 5), so the
/// peak covers the timed part only.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`,
/// clock ticks of 1/100 s as on every Linux build we run on).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u32>().ok())
            .map_or(0.0, f64::from)
    };
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

fn target_options() -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    opts
}

/// Copies the store's table pairs into segment files; returns their paths,
/// the pair count and the key+value bytes.
fn write_segments(store: &Path, dir: &Path) -> Result<(Vec<PathBuf>, u64, u64)> {
    let store = TargetStore::open(store)?;
    let mut read = ReadOptions::default();
    read.fill_cache(false);
    let mut iter = store.db().raw_iterator_opt(read);
    iter.seek(b"t");
    let (mut segments, mut pairs, mut bytes) = (Vec::new(), 0u64, 0u64);
    let (mut seg_bytes, mut seg_keys) = (0u64, 0u64);
    let mut out: Option<BufWriter<File>> = None;
    while let Some((key, value)) = iter.item() {
        if !key.starts_with(b"t") {
            break;
        }
        let size = u64::try_from(key.len() + value.len())?;
        if out.is_none()
            || seg_bytes + size > DEFAULT_REGION_SPLIT_SIZE
            || seg_keys >= DEFAULT_REGION_SPLIT_KEYS
        {
            if let Some(mut w) = out.take() {
                w.flush()?;
            }
            let path = dir.join(format!("segment-{:06}.kv", segments.len()));
            out = Some(BufWriter::with_capacity(1 << 20, File::create(&path)?));
            segments.push(path);
            (seg_bytes, seg_keys) = (0, 0);
        }
        if let Some(w) = out.as_mut() {
            w.write_all(&u32::try_from(key.len())?.to_le_bytes())?;
            w.write_all(&u32::try_from(value.len())?.to_le_bytes())?;
            w.write_all(key)?;
            w.write_all(value)?;
        }
        seg_bytes += size;
        seg_keys += 1;
        pairs += 1;
        bytes += size;
        iter.next();
    }
    iter.status()?;
    if let Some(mut w) = out.take() {
        w.flush()?;
    }
    Ok((segments, pairs, bytes))
}

/// One segment file → one SST.
fn segment_to_sst(segment: &Path, sst: &Path) -> Result<()> {
    let mut data = Vec::new();
    File::open(segment)?.read_to_end(&mut data)?;
    let opts = target_options();
    let mut writer = SstFileWriter::create(&opts);
    writer.open(sst)?;
    let mut rest = data.as_slice();
    while !rest.is_empty() {
        let (head, tail) = rest
            .split_at_checked(8)
            .ok_or_else(|| format!("{}: truncated pair header", segment.display()))?;
        let klen = usize::try_from(u32::from_le_bytes(head[..4].try_into()?))?;
        let vlen = usize::try_from(u32::from_le_bytes(head[4..].try_into()?))?;
        let (key, tail) = tail
            .split_at_checked(klen)
            .ok_or_else(|| format!("{}: truncated key", segment.display()))?;
        let (value, tail) = tail
            .split_at_checked(vlen)
            .ok_or_else(|| format!("{}: truncated value", segment.display()))?;
        writer.put(key, value)?;
        rest = tail;
    }
    writer.finish()?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(store), Some(work)) = (args.first(), args.get(1)) else {
        return Err("usage: ingest_limit STORE_DIR WORK_DIR [THREADS]".into());
    };
    let threads: usize = match args.get(2) {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let work = PathBuf::from(work);
    let seg_dir = work.join("segments");
    let sst_dir = work.join("ssts");
    std::fs::create_dir_all(&seg_dir)?;
    std::fs::create_dir_all(&sst_dir)?;
    let (segments, pairs, kv_bytes) = write_segments(Path::new(store), &seg_dir)?;
    if pairs == 0 {
        return Err(format!("no table pairs in the store at {store}").into());
    }

    reset_peak_rss();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let segments = Arc::new(segments);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (segments, next, sst_dir) =
                (Arc::clone(&segments), Arc::clone(&next), sst_dir.clone());
            std::thread::spawn(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(segment) = segments.get(i) else {
                        return Ok(());
                    };
                    segment_to_sst(segment, &sst_dir.join(format!("{i:06}.sst")))?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "an SST worker panicked")??;
    }
    let ssts: Vec<PathBuf> = (0..segments.len())
        .map(|i| sst_dir.join(format!("{i:06}.sst")))
        .collect();
    let mut opts = target_options();
    opts.create_if_missing(true);
    opts.set_max_background_jobs(2);
    let db = DB::open(&opts, work.join("db"))?;
    let mut ingest = IngestExternalFileOptions::default();
    ingest.set_move_files(true);
    db.ingest_external_file_opts(&ingest, ssts.clone())?;
    db.flush()?;
    drop(db);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"pairs\":{pairs},\"kv_bytes\":{kv_bytes},\"ssts\":{},\"threads\":{threads},\"seconds\":{seconds:.3},\"cpu_seconds\":{:.2},\"peak_rss_kib\":{}}}",
        ssts.len(),
        cpu_seconds() - cpu0,
        peak_rss_kib()
    );
    Ok(())
}
