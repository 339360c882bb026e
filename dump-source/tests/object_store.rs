//! The data source read from object stores on real protocol servers
//! (moto for S3, fake-gcs-server for GCS, Azurite for Azure; see
//! `scripts/objstore.sh`): a dump of CSV (split by `strict-format`), SQL,
//! gzip, zstd, snappy and Parquet files is uploaded, scanned and read back
//! chunk by chunk, and must equal the same dump read from the local disk —
//! files, sizes, every row and every offset. Also: reads from the middle of
//! a file (plain: a ranged request; compressed: from the start, skipping),
//! an object replaced after the scan refused by name, listings longer than
//! one page, and the errors a user can act on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "parquet_fixture/mod.rs"]
mod parquet_fixture;

#[path = "objstore_env/mod.rs"]
mod objstore_env;

use std::io::Write;
use std::path::Path;

use dump_source::chunk::{Chunk, ChunkOptions, make_table_chunks};
use dump_source::csv::CsvOptions;
use dump_source::scan::{ScanOptions, ScanResult, scan};
use dump_source::{ParserOptions, Row, SourceError, Storage};
use objstore_env::{Server, unique_prefix};

/// The bundled sample, the Parquet fixture, and files of every other form.
fn make_dump(dir: &Path) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample");
    for entry in std::fs::read_dir(&sample).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    parquet_fixture::make_dump(dir);
    std::fs::write(
        dir.join("mix-schema-create.sql"),
        "CREATE DATABASE `mix`;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mix.big-schema.sql"),
        "CREATE TABLE `big` (`id` int NOT NULL, `s` varchar(64), PRIMARY KEY (`id`));\n",
    )
    .unwrap();
    let mut csv = String::from("id,s\n");
    for i in 0..6000 {
        csv.push_str(&format!("{i},\"row {i}, of the big table\"\n"));
    }
    std::fs::write(dir.join("mix.big.000000000.csv"), &csv).unwrap();
    std::fs::write(
        dir.join("mix.z-schema.sql"),
        "CREATE TABLE `z` (`id` int NOT NULL, `s` text, PRIMARY KEY (`id`));\n",
    )
    .unwrap();
    let mut sql = String::new();
    for i in 0..3000 {
        sql.push_str(&format!("INSERT INTO `z` VALUES ({i},'zstd {i}');\n"));
    }
    std::fs::write(
        dir.join("mix.z.000000000.sql.zst"),
        zstd::encode_all(sql.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(sql.replace("zstd", "gzip").replace("`z`", "`g`").as_bytes())
        .unwrap();
    std::fs::write(
        dir.join("mix.g-schema.sql"),
        "CREATE TABLE `g` (`id` int NOT NULL, `s` text, PRIMARY KEY (`id`));\n",
    )
    .unwrap();
    std::fs::write(dir.join("mix.g.000000000.sql.gz"), gz.finish().unwrap()).unwrap();
    let mut snappy = snap::write::FrameEncoder::new(Vec::new());
    snappy
        .write_all(csv.replace("big table", "snappy table").as_bytes())
        .unwrap();
    std::fs::write(
        dir.join("mix.sn-schema.sql"),
        "CREATE TABLE `sn` (`id` int NOT NULL, `s` varchar(64), PRIMARY KEY (`id`));\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mix.sn.000000000.csv.snappy"),
        snappy.into_inner().unwrap(),
    )
    .unwrap();
}

fn chunk_options() -> ChunkOptions {
    let csv = CsvOptions {
        terminator: "\n".into(),
        ..CsvOptions::default()
    };
    ChunkOptions {
        strict_format: true,
        max_region_size: 32 << 10,
        csv,
        ..ChunkOptions::default()
    }
}

/// Every chunk of every table, with every row (values, ids, offsets).
fn read_all(scanned: &ScanResult) -> Vec<(String, Vec<String>)> {
    let opts = chunk_options();
    let mut out = Vec::new();
    for db in &scanned.databases {
        for table in &db.tables {
            let columns = if db.name == "db" { 14 } else { 2 };
            let columns = if db.name == "shop" { 1 } else { columns };
            for chunk in make_table_chunks(&scanned.storage, table, columns, &opts).unwrap() {
                let rows = read_chunk(&scanned.storage, &chunk, chunk.offset);
                out.push((
                    format!(
                        "{} {}..{}",
                        chunk.file.path.display(),
                        chunk.offset,
                        chunk.end_offset
                    ),
                    rows,
                ));
            }
        }
    }
    out
}

/// The rows of `chunk` from stream offset `from` (a row boundary).
fn read_chunk(storage: &Storage, chunk: &Chunk, from: u64) -> Vec<String> {
    let mut start = chunk.clone();
    start.offset = from;
    let mut parser = start
        .open_parser(
            storage,
            &chunk_options().csv,
            false,
            &ParserOptions::default(),
        )
        .unwrap();
    let mut rows = Vec::new();
    let mut row = Row::default();
    while parser.pos().0 < chunk.end_offset && parser.read_row_into(&mut row).unwrap() {
        rows.push(format!(
            "{} {}..{} {:?}",
            row.row_id, row.start_offset, row.end_offset, row.values
        ));
    }
    rows
}

/// Uploads the dump to a fresh prefix; returns the local and remote scans.
fn scans(server: &Server, test: &str) -> (tempfile::TempDir, ScanResult, ScanResult, String) {
    let dir = tempfile::tempdir().unwrap();
    make_dump(dir.path());
    let prefix = unique_prefix(test);
    server.upload(dir.path(), &prefix);
    let local = scan(dir.path(), &ScanOptions::default()).unwrap();
    let (storage, warnings) = Storage::open(&server.url(&prefix)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let remote = scan(&storage, &ScanOptions::default()).unwrap();
    (dir, local, remote, prefix)
}

fn same_as_local(server: &Server, test: &str) {
    let (_dir, local, remote, _) = scans(server, test);
    assert_eq!(local.databases.len(), 3);
    // Same tables, files and sizes; objects carry their ETag.
    let files = |s: &ScanResult| {
        s.databases
            .iter()
            .flat_map(|d| &d.tables)
            .flat_map(|t| &t.data_files)
            .map(|f| (f.path.clone(), f.size, f.format, f.compression))
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&local), files(&remote));
    assert!(
        remote
            .databases
            .iter()
            .flat_map(|d| &d.tables)
            .flat_map(|t| &t.data_files)
            .all(|f| f.etag.is_some())
    );
    let want = read_all(&local);
    let got = read_all(&remote);
    assert!(
        want.iter()
            .any(|(name, _)| name.contains(".csv ") && !name.contains(" 0..")),
        "the big CSV file should be split into chunks that start mid-file: {:?}",
        want.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(want.iter().any(|(name, _)| name.contains(".parquet")));
    assert_eq!(want.len(), got.len());
    for ((wn, wr), (gn, gr)) in want.iter().zip(&got) {
        assert_eq!(wn, gn);
        assert_eq!(wr.len(), gr.len(), "{wn}: row count");
        assert_eq!(wr, gr, "{wn}: rows");
    }
    // Schema files read through the store too.
    let t = remote.table("mix", "big").unwrap();
    let info = dump_source::schema::parse_table_file(
        remote.storage.file(t.schema_file.as_ref().unwrap(), None),
        "mix.big-schema.sql",
    )
    .unwrap();
    assert_eq!(info.columns.len(), 2);
}

#[test]
fn s3_dump_reads_as_from_local_disk() {
    if let Some(server) = objstore_env::s3() {
        same_as_local(&server, "s3-same");
    }
}

#[test]
fn gcs_dump_reads_as_from_local_disk() {
    if let Some(server) = objstore_env::gcs() {
        same_as_local(&server, "gcs-same");
    }
}

#[test]
fn azure_dump_reads_as_from_local_disk() {
    if let Some(server) = objstore_env::azure() {
        same_as_local(&server, "azure-same");
    }
}

/// A chunk resumed mid-file reads on exactly as one read from the start:
/// plain objects by a ranged request from the offset, compressed ones
/// (gzip, zstd, snappy) from their start, decompressing and skipping.
#[test]
fn s3_reads_resume_mid_object() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let (_dir, _local, remote, _) = scans(&server, "s3-resume");
    let opts = chunk_options();
    let mut checked = Vec::new();
    for (db, table) in [("mix", "big"), ("mix", "z"), ("mix", "g"), ("mix", "sn")] {
        let t = remote.table(db, table).unwrap();
        let columns = 2;
        let chunks = make_table_chunks(&remote.storage, t, columns, &opts).unwrap();
        let chunk = &chunks[0];
        let all = read_chunk(&remote.storage, chunk, chunk.offset);
        // The offset just after the 100th row, as a checkpoint records it.
        let cut: u64 = all[99]
            .split(' ')
            .nth(1)
            .and_then(|r| r.split("..").nth(1))
            .unwrap()
            .parse()
            .unwrap();
        let mut resumed_chunk = chunk.clone();
        resumed_chunk.prev_rowid_max += 100;
        let resumed = read_chunk(&remote.storage, &resumed_chunk, cut);
        assert_eq!(
            resumed.as_slice(),
            &all[100..],
            "{db}.{table} resumed at {cut}"
        );
        checked.push(chunk.file.compression);
    }
    assert_eq!(checked.len(), 4);
}

/// An object replaced after the scan: its reads fail (If-Match with the
/// scanned ETag), naming the object, for streams and for Parquet.
#[test]
fn s3_object_replaced_after_scan_is_refused() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let (dir, _local, remote, prefix) = scans(&server, "s3-replaced");
    let opts = chunk_options();
    let big = remote.table("mix", "big").unwrap();
    let chunks = make_table_chunks(&remote.storage, big, 2, &opts).unwrap();
    let parquet = remote.table("db", "t").unwrap();
    let pchunks = make_table_chunks(&remote.storage, parquet, 14, &opts).unwrap();
    server.put(
        &format!("{prefix}/mix.big.000000000.csv"),
        b"id,s\n1,replaced\n".to_vec(),
    );
    let pq = std::fs::read(dir.path().join("db.t.000000001.parquet")).unwrap();
    server.put(&format!("{prefix}/db.t.000000000.parquet"), pq);
    for chunk in [&chunks[1], &pchunks[0]] {
        let err =
            match chunk.open_parser(&remote.storage, &opts.csv, false, &ParserOptions::default()) {
                Err(e) => e,
                Ok(mut parser) => {
                    let mut row = Row::default();
                    let mut err = None;
                    for _ in 0..10_000 {
                        match parser.read_row_into(&mut row) {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    err.expect("reading a replaced object must fail")
                }
            };
        let text = err.to_string();
        assert!(
            text.contains("changed since the import listed it")
                && text.contains(&chunk.file.path.display().to_string()),
            "{text}"
        );
    }
}

/// Listings longer than one page (S3 returns at most 1,000 keys per
/// request) are followed to the end.
#[test]
fn s3_listing_follows_every_page() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let prefix = unique_prefix("s3-pages");
    let puts = (0..1_234)
        .map(|i| {
            (
                object_store::path::Path::parse(format!("{prefix}/p.t{i:04}.000000000.csv"))
                    .unwrap(),
                format!("{i}\n").into_bytes(),
            )
        })
        .collect();
    server.put_all(puts);
    let (storage, _) = Storage::open(&server.url(&prefix)).unwrap();
    let scanned = scan(
        &storage,
        &ScanOptions {
            no_schema: true,
            ..ScanOptions::default()
        },
    )
    .unwrap();
    let tables: usize = scanned.databases.iter().map(|d| d.tables.len()).sum();
    assert_eq!(tables, 1_234);
}

fn scan_error(url: &str) -> String {
    let (storage, _) = Storage::open(url).unwrap();
    match scan(&storage, &ScanOptions::default()) {
        Err(e @ SourceError::Storage { .. }) => e.to_string(),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// Errors name the URL without its secrets and say what is wrong.
#[test]
fn s3_errors_name_the_location_without_secrets() {
    let Some((endpoint, bucket, key, secret)) = objstore_env::s3_auth() else {
        return;
    };
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    // The right keys read the bucket.
    let good = format!(
        "s3://{bucket}?endpoint={}&access-key={}&secret-access-key={}",
        enc(&endpoint),
        enc(&key),
        enc(&secret)
    );
    let (storage, _) = Storage::open(&good).unwrap();
    let scanned = scan(&storage, &ScanOptions::default()).unwrap();
    assert!(scanned.table("s", "t").is_some());
    assert!(!format!("{scanned:?}").contains(&secret));

    let wrong_secret = "Wr0ng+Secret/Key-never-print-me";
    let text = scan_error(&format!(
        "s3://{bucket}?endpoint={}&access-key={}&secret-access-key={}",
        enc(&endpoint),
        enc(&key),
        enc(wrong_secret)
    ));
    assert!(text.contains(&format!("s3://{bucket}?endpoint=")), "{text}");
    assert!(text.contains("access denied"), "{text}");
    assert!(
        !text.contains(wrong_secret) && !text.contains(&key),
        "{text}"
    );

    let text = scan_error(&format!(
        "s3://no-such-bucket-here?endpoint={}&access-key={}&secret-access-key={}",
        enc(&endpoint),
        enc(&key),
        enc(&secret)
    ));
    assert!(text.contains("s3://no-such-bucket-here"), "{text}");
    assert!(
        text.contains("NoSuchBucket") || text.contains("not found"),
        "{text}"
    );
    assert!(!text.contains(&secret), "{text}");

    // Nothing listens on port 9 of the loopback: connection refused.
    let start = std::time::Instant::now();
    let text = scan_error(&format!(
        "s3://{bucket}?endpoint=http%3A%2F%2F127.0.0.1%3A9&access-key=a&secret-access-key={}",
        enc(wrong_secret)
    ));
    assert!(text.contains("127.0.0.1:9"), "{text}");
    assert!(!text.contains(wrong_secret), "{text}");
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
}
