//! The parse-only limit of an import: every data file of a dump directory
//! read, decompressed and parsed into rows by the importer's own parsers —
//! no encoding, no sorting, no writing. An import cannot be faster than
//! this on the same machine with the same threads.
//!
//! The dump is scanned and chunked exactly as the importer does (default
//! file rules, `ChunkOptions` from the arguments), and `THREADS` workers
//! take chunks from one queue, largest first, each parsing its chunk from
//! its start offset to its end offset with `read_row_into` (a reused row,
//! as the import does).
//!
//! ```text
//! cargo build --workspace --all-targets
//! $CARGO_TARGET_DIR/debug/examples/parse_limit DUMP_DIR [THREADS] [--strict-format MAX_REGION_BYTES]
//! ```
//!
//! Prints one JSON line: `{"rows":…,"bytes":…,"chunks":…,"seconds":…,"peak_rss_kib":…}`
//! (`bench/run.sh` reads it; wall time, CPU and RSS are also measured
//! around the process by the harness).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};
use dump_source::chunk::{Chunk, ChunkOptions, make_table_chunks};
use dump_source::csv::CsvOptions;
use dump_source::scan::{ScanOptions, scan};
use dump_source::{ParserOptions, Row};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Parses one chunk to its end; returns the rows read.
fn parse_chunk(
    root: &dump_source::Storage,
    chunk: &Chunk,
    csv: &CsvOptions,
) -> anyhow::Result<u64> {
    let name = chunk.file.path.display().to_string();
    let mut parser = chunk
        .open_parser(root, csv, false, &ParserOptions::default())
        .with_context(|| format!("opening {name}"))?;
    let mut row = Row::default();
    let mut rows = 0u64;
    while parser.pos().0 < chunk.end_offset {
        if !parser
            .read_row_into(&mut row)
            .with_context(|| format!("parsing {name}"))?
        {
            break;
        }
        rows += 1;
    }
    Ok(rows)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        bail!("usage: parse_limit DUMP_DIR [THREADS] [--strict-format MAX_REGION_BYTES]");
    };
    let root = PathBuf::from(dir);
    let threads: usize = match args.get(1) {
        Some(t) => t.parse().with_context(|| format!("THREADS {t:?}"))?,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let mut chunk_opts = ChunkOptions::default();
    if args.get(2).map(String::as_str) == Some("--strict-format") {
        let size = args
            .get(3)
            .context("--strict-format needs MAX_REGION_BYTES")?;
        chunk_opts.strict_format = true;
        chunk_opts.max_region_size = size.parse().with_context(|| format!("size {size:?}"))?;
        chunk_opts.csv.terminator = "\n".into();
    }
    let csv = chunk_opts.csv.clone();

    let start = Instant::now();
    let scanned = scan(&root, &ScanOptions::default())
        .with_context(|| format!("scanning {}", root.display()))?;
    let mut chunks = Vec::new();
    for db in &scanned.databases {
        for table in &db.tables {
            chunks.extend(
                make_table_chunks(&scanned.storage, table, 1, &chunk_opts)
                    .with_context(|| format!("chunking {}.{}", db.name, table.name))?,
            );
        }
    }
    if chunks.is_empty() {
        bail!("no data files in {}", root.display());
    }
    let bytes: u64 = chunks.iter().map(|c| c.end_offset - c.offset).sum();
    let count = chunks.len();
    // Largest last, so `pop` hands out the largest first.
    chunks.sort_by_key(|c| c.end_offset - c.offset);
    let queue = Arc::new(Mutex::new(chunks));
    let root = Arc::new(scanned.storage.clone());
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let queue = Arc::clone(&queue);
            let root = Arc::clone(&root);
            let csv = csv.clone();
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut rows = 0;
                loop {
                    let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                    let Some(chunk) = next else {
                        return Ok(rows);
                    };
                    rows += parse_chunk(&root, &chunk, &csv)?;
                }
            })
        })
        .collect();
    let mut rows = 0;
    for worker in workers {
        rows += worker
            .join()
            .map_err(|_| anyhow::anyhow!("a parse worker panicked"))??;
    }
    println!(
        "{{\"rows\":{rows},\"bytes\":{bytes},\"chunks\":{count},\"threads\":{threads},\"seconds\":{:.3},\"peak_rss_kib\":{}}}",
        start.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
    Ok(())
}
