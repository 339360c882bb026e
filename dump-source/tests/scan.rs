//! Discovery, filters, routes, compression and chunking on real directories.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use backend_core::{Compression, Datum, SourceFormat};
use dump_source::chunk::{ChunkOptions, make_table_chunks};
use dump_source::csv::CsvOptions;
use dump_source::filter::TableFilter;
use dump_source::route::RouteRule;
use dump_source::scan::{FileRule, ScanOptions, data_source_path, scan};
use dump_source::{ParserOptions, open_parser};

fn write(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn names(r: &dump_source::scan::ScanResult) -> Vec<String> {
    r.databases
        .iter()
        .flat_map(|d| {
            d.tables
                .iter()
                .map(move |t| format!("{}.{}:{}", d.name, t.name, t.data_files.len()))
        })
        .collect()
}

#[test]
fn dumpling_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "metadata", b"Started dump at: x");
    write(d, "shop-schema-create.sql", b"CREATE DATABASE `shop`;");
    write(
        d,
        "shop.orders-schema.sql",
        b"CREATE TABLE orders (id INT PRIMARY KEY);",
    );
    write(d, "shop.orders.000000002.csv", b"id\n3\n");
    write(d, "shop.orders.000000001.csv", b"id\n1\n2\n");
    write(d, "shop.orders.000000010.csv", b"id\n4\n");
    write(d, "shop.v-schema.sql", b"CREATE TABLE v (a INT);");
    write(d, "shop.v-schema-view.sql", b"CREATE VIEW v AS SELECT 1;");
    write(d, "shop.orders-schema-trigger.sql", b"CREATE TRIGGER ...");
    write(d, "shop.orders-schema-post.sql", b"ALTER ...");
    write(
        d,
        "mysql.user.000000001.sql",
        b"INSERT INTO user VALUES (1);",
    );
    write(
        d,
        "my%2Edb.t%2D1-schema.sql",
        b"CREATE TABLE `t-1` (a INT);",
    );
    write(
        d,
        "my%2Edb.t%2D1.000000001.SQL",
        b"INSERT INTO `t-1` VALUES (1);",
    );
    let r = scan(d, &ScanOptions::default()).unwrap();
    assert_eq!(names(&r), vec!["my.db.t-1:1", "shop.orders:3"]);
    let orders = r.table("shop", "ORDERS").unwrap();
    let files: Vec<_> = orders
        .data_files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(
        files,
        [
            "shop.orders.000000001.csv",
            "shop.orders.000000002.csv",
            "shop.orders.000000010.csv"
        ]
    );
    assert_eq!(
        orders.schema_file.as_deref(),
        Some(Path::new("shop.orders-schema.sql"))
    );
    let shop = r.databases.iter().find(|d| d.name == "shop").unwrap();
    assert_eq!(shop.views.len(), 1);
    let unmatched: Vec<_> = r
        .unmatched
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        unmatched,
        [
            "metadata",
            "shop.orders-schema-post.sql",
            "shop.orders-schema-trigger.sql"
        ]
    );
    let ctx = r.check_ctx();
    assert_eq!(ctx.total_source_size(), 7 + 5 + 5 + 29);
    r.check_schemas(|_, _| false).unwrap();
}

#[test]
fn mydumper_layout_compression_and_subdirs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "db-schema-create.sql", b"CREATE DATABASE db;");
    write(
        d,
        "db.t-schema.sql",
        b"CREATE TABLE t (a INT, b VARCHAR(10));",
    );
    let sql = b"INSERT INTO `t` VALUES (1,'x'),(2,'y');\n";
    // Each compression, written with its crate.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(sql).unwrap();
    write(d, "sub/db.t.00001.sql.gz", &gz.finish().unwrap());
    write(
        d,
        "sub/db.t.00002.sql.zst",
        &zstd::encode_all(&sql[..], 3).unwrap(),
    );
    let mut sn = snap::write::FrameEncoder::new(Vec::new());
    sn.write_all(sql).unwrap();
    write(d, "sub/db.t.00003.sql.snappy", &sn.into_inner().unwrap());
    write(d, "db.t.00004.sql", sql);
    let r = scan(d, &ScanOptions::default()).unwrap();
    let t = r.table("db", "t").unwrap();
    let comps: Vec<_> = t.data_files.iter().map(|f| f.compression).collect();
    assert_eq!(
        comps,
        [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Snappy,
            Compression::None
        ]
    );
    let chunks = make_table_chunks(&r.storage, t, 2, &ChunkOptions::default()).unwrap();
    assert_eq!(chunks.len(), 4);
    let len = u64::try_from(sql.len()).unwrap();
    let mut prev = 0;
    for c in &chunks {
        assert_eq!((c.offset, c.end_offset), (0, len));
        assert_eq!(c.prev_rowid_max, prev);
        assert!(c.rowid_max - c.prev_rowid_max >= 2);
        prev = c.rowid_max;
        let mut p = open_parser(
            r.storage.file(&c.file.path, None),
            "f",
            c.file.format,
            c.file.compression,
            0,
            c.prev_rowid_max,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        )
        .unwrap();
        let mut got = Vec::new();
        while let Some(row) = p.read_row().unwrap() {
            got.push((row.row_id, row.values));
        }
        assert_eq!(
            got,
            vec![
                (c.prev_rowid_max + 1, vec![Datum::Int(1), Datum::text("x")]),
                (c.prev_rowid_max + 2, vec![Datum::Int(2), Datum::text("y")])
            ]
        );
        // Starting mid-stream in a compressed file skips through the decoder.
        let mut q = open_parser(
            r.storage.file(&c.file.path, None),
            "f",
            c.file.format,
            c.file.compression,
            30,
            7,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        )
        .unwrap();
        let row = q.read_row().unwrap().unwrap();
        assert_eq!((row.row_id, row.start_offset), (8, 31));
    }
    // Re-chunking allocates the same ids.
    assert_eq!(
        make_table_chunks(&r.storage, t, 2, &ChunkOptions::default()).unwrap(),
        chunks
    );
}

#[test]
fn truncated_gzip_is_an_error_with_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    for i in 0..2000 {
        data.extend_from_slice(format!("{i},row number {i}\n").as_bytes());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap();
    let full = gz.finish().unwrap();
    write(dir.path(), "d.t.csv.gz", &full[..full.len() / 2]);
    let opts = CsvOptions {
        header: false,
        ..CsvOptions::default()
    };
    let mut p = open_parser(
        &dir.path().join("d.t.csv.gz"),
        "d.t.csv.gz",
        SourceFormat::Csv,
        Compression::Gzip,
        0,
        0,
        &opts,
        false,
        &ParserOptions::default(),
    )
    .unwrap();
    let mut n = 0;
    let e = loop {
        match p.read_row() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("truncated gzip read to the end after {n} rows"),
            Err(e) => break e,
        }
    };
    let msg = e.to_string();
    assert!(
        msg.starts_with("d.t.csv.gz: offset ") && msg.contains("reading data failed"),
        "{msg}"
    );
}

#[test]
fn strict_format_split_on_line_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"a,b\n".to_vec();
    for i in 0..100 {
        data.extend_from_slice(format!("{i},\"v{i}\"\r\n").as_bytes());
    }
    write(dir.path(), "d.t.000000001.csv", &data);
    write(
        dir.path(),
        "d.t-schema.sql",
        b"CREATE TABLE t (a INT, b TEXT);",
    );
    let r = scan(dir.path(), &ScanOptions::default()).unwrap();
    let t = r.table("d", "t").unwrap();
    let opts = ChunkOptions {
        strict_format: true,
        max_region_size: 100,
        ..ChunkOptions::default()
    };
    let chunks = make_table_chunks(&r.storage, t, 2, &opts).unwrap();
    assert!(chunks.len() > 5);
    assert_eq!(chunks[0].offset, 0);
    assert_eq!(
        chunks.last().unwrap().end_offset,
        u64::try_from(data.len()).unwrap()
    );
    let mut all = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            assert_eq!(c.offset, chunks[i - 1].end_offset);
            assert_eq!(c.prev_rowid_max, chunks[i - 1].rowid_max);
            assert_eq!(
                &data[usize::try_from(c.offset).unwrap() - 2..usize::try_from(c.offset).unwrap()],
                b"\r\n"
            );
            assert_eq!(
                c.columns.as_deref(),
                Some(&["a".to_string(), "b".to_string()][..])
            );
        }
        let mut p = open_parser(
            r.storage.file(&c.file.path, None),
            "f",
            SourceFormat::Csv,
            Compression::None,
            c.offset,
            c.prev_rowid_max,
            &CsvOptions::default(),
            false,
            &ParserOptions::default(),
        )
        .unwrap();
        loop {
            let (pos, _) = p.pos();
            if pos >= c.end_offset {
                break;
            }
            let Some(row) = p.read_row().unwrap() else {
                break;
            };
            assert!(row.row_id <= c.rowid_max);
            all.push(row.values[0].clone());
        }
    }
    let want: Vec<Datum> = (0..100).map(|i| Datum::text(i.to_string())).collect();
    assert_eq!(all, want);
    // Not strict: one chunk.
    assert_eq!(
        make_table_chunks(
            &r.storage,
            t,
            2,
            &ChunkOptions {
                max_region_size: 100,
                ..ChunkOptions::default()
            }
        )
        .unwrap()
        .len(),
        1
    );
}

#[test]
fn filters_routes_rules_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (db, t) in [
        ("shard_01", "orders_01"),
        ("shard_02", "orders_02"),
        ("Other", "Keep"),
        ("other", "skip"),
    ] {
        write(
            d,
            &format!("{db}.{t}.000000001.sql"),
            b"INSERT INTO x VALUES (1);",
        );
    }
    let opts = ScanOptions {
        filter: TableFilter::parse(&["*.*", "!other.skip"], false).unwrap(),
        routes: vec![RouteRule {
            schema_pattern: "shard_*".into(),
            table_pattern: "orders_*".into(),
            target_schema: "shard".into(),
            target_table: "orders".into(),
        }],
        ..ScanOptions::default()
    };
    let r = scan(d, &opts).unwrap();
    assert_eq!(names(&r), vec!["Other.Keep:1", "shard.orders:2"]);
    // No schema files: an error naming the data file unless the target has the table.
    let e = r.check_schemas(|db, _| db == "shard").unwrap_err();
    assert!(
        e.to_string().starts_with(
            "Other.Keep.000000001.sql: table `Other`.`Keep` has data but no schema file"
        ),
        "{e}"
    );
    r.check_schemas(|_, _| true).unwrap();

    // A user rule: files like `data/<db>__<table>__<n>.dat` are CSV.
    write(d, "data/app__users__7.dat", b"1\n");
    let user = ScanOptions {
        file_rules: vec![FileRule {
            pattern: r"^data/(\w+)__(\w+)__(\d+)\.dat$".into(),
            schema: "$1".into(),
            table: "$2".into(),
            file_type: "csv".into(),
            key: "$3".into(),
            compression: String::new(),
        }],
        default_file_rules: false,
        ..ScanOptions::default()
    };
    let r = scan(d, &user).unwrap();
    assert_eq!(names(&r), vec!["app.users:1"]);
    assert_eq!(r.table("app", "users").unwrap().data_files[0].key, "7");

    // Default filter excludes system schemas, case-insensitively.
    let f = TableFilter::default();
    assert!(
        !f.matches_table("MySQL", "user")
            && !f.matches_table("information_schema", "x")
            && f.matches_table("app", "t")
    );
    let cs = TableFilter::parse(&["App.*"], true).unwrap();
    assert!(cs.matches_table("App", "t") && !cs.matches_table("app", "t"));
    assert!(TableFilter::parse(&["nodot"], false).is_err());

    // Unknown compression is an error naming the file.
    write(d, "z.t.000000001.sql.rar", b"");
    let e = scan(d, &ScanOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("z.t.000000001.sql.rar: unknown compression \"rar\""),
        "{e}"
    );

    assert_eq!(
        data_source_path("file:///tmp/a%20b").unwrap(),
        Path::new("/tmp/a b")
    );
    assert!(data_source_path("s3://bucket/x").is_err());
}

#[test]
fn empty_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.t.000000001.csv", b"");
    let r = scan(dir.path(), &ScanOptions::default()).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w == "d.t.000000001.csv: empty data file"),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w == "table `d`.`t` has no data"),
        "{:?}",
        r.warnings
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_escapes_do_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "x.y.000000001.sql", b"");
    let d = dir.path();
    write(d, "a/d.t.000000001.sql", b"INSERT INTO t VALUES (1);");
    std::os::unix::fs::symlink(d.join("a"), d.join("a/loop")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("out")).unwrap();
    let r = scan(d, &ScanOptions::default()).unwrap();
    assert_eq!(names(&r), vec!["d.t:1"]);
    assert!(
        r.warnings.iter().any(|w| w.contains("link loop")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("out of the data directory")),
        "{:?}",
        r.warnings
    );
}

/// A source database whose tables are all routed to another database is
/// not a database of the scan (it would be created empty on the target);
/// one that keeps a table, or has nothing routed, stays.
#[test]
fn database_whose_tables_are_all_routed_away_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (db, t) in [
        ("src", "t1"),
        ("src", "t2"),
        ("half", "t1"),
        ("half", "keep"),
    ] {
        write(d, &format!("{db}-schema-create.sql"), b"CREATE DATABASE x;");
        write(
            d,
            &format!("{db}.{t}-schema.sql"),
            b"CREATE TABLE x (a int);",
        );
    }
    write(d, "empty-schema-create.sql", b"CREATE DATABASE empty;");
    let opts = ScanOptions {
        routes: vec![
            RouteRule {
                schema_pattern: "*".into(),
                table_pattern: "t1".into(),
                target_schema: "dst".into(),
                target_table: String::new(),
            },
            RouteRule {
                schema_pattern: "src".into(),
                table_pattern: "t2".into(),
                target_schema: "dst".into(),
                target_table: String::new(),
            },
        ],
        ..ScanOptions::default()
    };
    let r = scan(d, &opts).unwrap();
    let dbs: Vec<&str> = r.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(dbs, ["dst", "empty", "half"]);
}
