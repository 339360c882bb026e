//! TiDB Lightning's integration-test behaviours, recreated on our own small
//! dumps (written by each test into a temp dir) and imported through the CLI
//! library. Most run on the local backend (read back from its store); the
//! ones whose outcome is decided by the target (defaults, duplicates,
//! auto-increment) run on the tidb backend too.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;

use backend_local::TargetStore;
use backend_local::store::list_tables;
use integration_tests::cli::Sections;
use integration_tests::dump::{Dump, dump_of, mysql_rows, r, schema};
use integration_tests::server::{self, Server};

#[tokio::test]
async fn csv_escapes_nulls_and_doubled_quotes() {
    let data = b"id,v\n\
        1,\\N\n\
        3,\"a\\tb\\nc\\0d\\Ze\"\n\
        4,\"say \"\"hi\"\"\"\n\
        5,\"\"\n\
        6,NULL\n\
        7,\"back\\\\slash\"\n";
    let dump = dump_of(vec![
        schema("c", "t", "id INT PRIMARY KEY, v VARCHAR(20)"),
        ("c.t.000000000.csv".into(), data.to_vec()),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(
        dump.rows("c", "t"),
        vec![
            r(&[Some("1"), None]),
            r(&[Some("3"), Some("a\tb\nc\0d\u{1a}e")]),
            r(&[Some("4"), Some("say \"hi\"")]),
            r(&[Some("5"), Some("")]),
            // Only `\N` is NULL: the word NULL is text (Lightning).
            r(&[Some("6"), Some("NULL")]),
            r(&[Some("7"), Some("back\\slash")]),
        ]
    );
}

#[tokio::test]
async fn csv_quoted_escaped_null_is_null() {
    let dump = dump_of(vec![
        schema("c", "t", "id INT PRIMARY KEY, v VARCHAR(20)"),
        ("c.t.000000000.csv".into(), b"id,v\n1,\"\\N\"\n".to_vec()),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(dump.rows("c", "t"), vec![r(&[Some("1"), None])]);
}

#[tokio::test]
async fn csv_escaped_backslash_n_is_text() {
    let dump = dump_of(vec![
        schema("c", "t", "id INT PRIMARY KEY, v VARCHAR(20)"),
        (
            "c.t.000000000.csv".into(),
            b"id,v\n1,\"\\\\N\"\n2,\\\\N\n".to_vec(),
        ),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(
        dump.rows("c", "t"),
        vec![r(&[Some("1"), Some("\\N")]), r(&[Some("2"), Some("\\N")])]
    );
}

#[tokio::test]
async fn csv_single_quote_delimiter() {
    let dump = dump_of(vec![
        schema("c", "t", "id INT PRIMARY KEY, v VARCHAR(20)"),
        (
            "c.t.000000000.csv".into(),
            b"id,v\n1,'it''s'\n2,'a,b'\n3,\"x\"\n".to_vec(),
        ),
    ]);
    let sections = Sections {
        extra: "[mydumper.csv]\ndelimiter = \"'\"\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    assert_eq!(
        dump.rows("c", "t"),
        vec![
            r(&[Some("1"), Some("it's")]),
            r(&[Some("2"), Some("a,b")]),
            r(&[Some("3"), Some("\"x\"")]),
        ]
    );
}

#[tokio::test]
async fn sql_string_escapes_including_ctrl_z() {
    let dump = dump_of(vec![
        schema("s", "t", "id INT PRIMARY KEY, v VARBINARY(20)"),
        (
            "s.t.000000000.sql".into(),
            b"INSERT INTO t VALUES (1,'a\\Zb'),(2,'\\0\\'\\\"\\b\\n\\r\\t\\\\'),(3,'%\\%_\\_'),(4,'x\\q');\n"
                .to_vec(),
        ),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(
        dump.rows("s", "t"),
        vec![
            r(&[Some("1"), Some("a\u{1a}b")]),
            r(&[Some("2"), Some("\0'\"\u{8}\n\r\t\\")]),
            // MySQL keeps the backslash of `\%` and `\_`.
            r(&[Some("3"), Some("%\\%_\\_")]),
            r(&[Some("4"), Some("xq")]),
        ]
    );
}

#[tokio::test]
async fn table_with_256_columns() {
    let columns: Vec<String> = (0..256).map(|i| format!("c{i} INT")).collect();
    let header: Vec<String> = (0..256).map(|i| format!("c{i}")).collect();
    let row1: Vec<String> = (0..256).map(|i| (i * 3).to_string()).collect();
    let row2: Vec<String> = (0..256)
        .map(|i| {
            if i % 2 == 0 {
                "\\N".into()
            } else {
                i.to_string()
            }
        })
        .collect();
    let csv = format!(
        "{}\n{}\n{}\n",
        header.join(","),
        row1.join(","),
        row2.join(",")
    );
    let dump = dump_of(vec![
        schema("w", "wide", &columns.join(", ")),
        ("w.wide.000000000.csv".into(), csv.into_bytes()),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    let rows = dump.rows("w", "wide");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.len() == 256));
    let full = rows.iter().find(|r| r[0].as_deref() == Some("0")).unwrap();
    assert_eq!(full[255].as_deref(), Some("765"));
    let sparse = rows.iter().find(|r| r[0].is_none()).unwrap();
    assert_eq!(
        (sparse[254].as_deref(), sparse[255].as_deref()),
        (None, Some("255"))
    );
}

fn defaults_dump() -> Dump {
    dump_of(vec![
        (
            "d-schema-create.sql".into(),
            b"CREATE DATABASE d;\n".to_vec(),
        ),
        schema(
            "d",
            "t",
            "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT DEFAULT 42, b VARCHAR(10) NOT NULL DEFAULT 'def', c VARCHAR(10)",
        ),
        // Header in another order, column `a` missing.
        (
            "d.t.000000000.csv".into(),
            b"c,b,id\nx,bee,100\n\\N,,200\n".to_vec(),
        ),
        // Rows without an id take one from auto-increment.
        (
            "d.t.000000001.sql".into(),
            b"INSERT INTO t (b) VALUES ('def'),('def');\n".to_vec(),
        ),
    ])
}

#[tokio::test]
async fn insert_with_empty_column_list_takes_defaults() {
    let dump = dump_of(vec![
        schema(
            "d",
            "t",
            "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT DEFAULT 42",
        ),
        (
            "d.t.000000000.sql".into(),
            b"INSERT INTO t () VALUES (),();\n".to_vec(),
        ),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    let rows = dump.rows("d", "t");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r[1].as_deref() == Some("42")),
        "{rows:?}"
    );
}

fn defaults_expected(generated: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut want = vec![
        r(&[Some("100"), Some("42"), Some("bee"), Some("x")]),
        r(&[Some("200"), Some("42"), Some(""), None]),
    ];
    for id in generated {
        want.push(r(&[Some(id), Some("42"), Some("def"), None]));
    }
    want.sort();
    want
}

#[tokio::test]
async fn header_permutation_missing_columns_and_empty_insert_take_defaults() {
    let dump = defaults_dump();
    dump.local(&Sections::default()).await.unwrap();
    let rows = dump.rows("d", "t");
    assert_eq!(rows.len(), 4, "{rows:?}");
    // The two generated ids are new, distinct and above the explicit ones.
    let generated: Vec<&str> = rows
        .iter()
        .filter(|r| r[2].as_deref() == Some("def"))
        .map(|r| r[0].as_deref().unwrap())
        .collect();
    assert_eq!(generated.len(), 2, "{rows:?}");
    assert_eq!(rows, defaults_expected(&generated));
}

#[tokio::test]
async fn tidb_header_permutation_missing_columns_and_empty_insert_take_defaults() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let dump = defaults_dump();
    let db = "it_compat_defaults";
    dump.tidb(&server, "d", db, &Sections::default())
        .await
        .unwrap();
    let rows = mysql_rows(&server, db, "t", &["id", "a", "b", "c"]).await;
    let generated: Vec<&str> = rows
        .iter()
        .filter(|r| r[2].as_deref() == Some("def"))
        .map(|r| r[0].as_deref().unwrap())
        .collect();
    assert_eq!(rows, defaults_expected(&generated));
}

fn auto_increment_dump() -> Dump {
    dump_of(vec![
        schema(
            "ai",
            "t",
            "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)",
        ),
        (
            "ai.t.000000000.sql".into(),
            b"INSERT INTO t VALUES (5,'a'),(1000,'b'),(17,'c');\n".to_vec(),
        ),
    ])
}

#[tokio::test]
async fn auto_increment_continues_after_import_local() {
    let dump = auto_increment_dump();
    dump.local(&Sections::default()).await.unwrap();
    let store = TargetStore::open(dump.store()).unwrap();
    let t = list_tables(store.db())
        .unwrap()
        .into_iter()
        .find(|t| t.db == "ai" && t.table == "t")
        .unwrap();
    assert_eq!(t.rows, 3);
    assert!(
        t.auto_increment_base > 1000,
        "the next auto-increment value must follow the largest imported id, got {}",
        t.auto_increment_base
    );
}

#[tokio::test]
async fn auto_increment_continues_after_import_tidb() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let dump = auto_increment_dump();
    let db = "it_compat_autoinc";
    dump.tidb(&server, "ai", db, &Sections::default())
        .await
        .unwrap();
    let pool = server.pool().await.unwrap();
    server::exec(&pool, &format!("INSERT INTO `{db}`.t (v) VALUES ('next')"))
        .await
        .unwrap();
    let rows = mysql_rows(&server, db, "t", &["id", "v"]).await;
    let next: i64 = rows
        .iter()
        .find(|r| r[1].as_deref() == Some("next"))
        .and_then(|r| r[0].as_deref())
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > 1000, "new row got id {next}");
}

#[tokio::test]
async fn routes_rename_schema_and_table() {
    let dump = dump_of(vec![
        schema("up1", "orders_2023", "id INT PRIMARY KEY"),
        schema("up2", "orders_2024", "id INT PRIMARY KEY"),
        (
            "up1.orders_2023.000000000.sql".into(),
            b"INSERT INTO orders_2023 VALUES (1),(2);\n".to_vec(),
        ),
        (
            "up2.orders_2024.000000000.sql".into(),
            b"INSERT INTO orders_2024 VALUES (3);\n".to_vec(),
        ),
    ]);
    let sections = Sections {
        extra: "[[routes]]\nschema-pattern = \"up*\"\ntable-pattern = \"orders_*\"\ntarget-schema = \"merged\"\ntarget-table = \"orders\"\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    assert_eq!(
        dump.rows("merged", "orders"),
        vec![r(&[Some("1")]), r(&[Some("2")]), r(&[Some("3")])]
    );
    let store = TargetStore::open(dump.store()).unwrap();
    let names: Vec<(String, String)> = list_tables(store.db())
        .unwrap()
        .into_iter()
        .map(|t| (t.db, t.table))
        .collect();
    assert_eq!(names, [("merged".to_string(), "orders".to_string())]);
}

#[tokio::test]
async fn filter_selects_tables() {
    let dump = dump_of(vec![
        schema("f", "keep_a", "id INT PRIMARY KEY"),
        schema("f", "keep_b", "id INT PRIMARY KEY"),
        schema("f", "drop_c", "id INT PRIMARY KEY"),
        (
            "f.keep_a.000000000.sql".into(),
            b"INSERT INTO keep_a VALUES (1);\n".to_vec(),
        ),
        (
            "f.keep_b.000000000.sql".into(),
            b"INSERT INTO keep_b VALUES (2);\n".to_vec(),
        ),
        (
            "f.drop_c.000000000.sql".into(),
            b"INSERT INTO drop_c VALUES (3);\n".to_vec(),
        ),
    ]);
    let sections = Sections {
        mydumper: "filter = [\"f.keep_*\", \"!f.keep_b\"]\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    let store = TargetStore::open(dump.store()).unwrap();
    let names: Vec<String> = list_tables(store.db())
        .unwrap()
        .into_iter()
        .map(|t| t.table)
        .collect();
    assert_eq!(names, ["keep_a"]);
}

#[tokio::test]
async fn custom_file_rules() {
    let dump = dump_of(vec![
        schema("cf", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        ("export-cf-t-part1.dat".into(), b"id,v\n1,one\n".to_vec()),
        ("export-cf-t-part2.dat".into(), b"id,v\n2,two\n".to_vec()),
        ("readme.txt".into(), b"not data\n".to_vec()),
    ]);
    let sections = Sections {
        mydumper: "default-file-rules = true\n".into(),
        extra: "[[mydumper.files]]\npattern = '^export-([a-z]+)-([a-z]+)-part(\\d+)\\.dat$'\nschema = '$1'\ntable = '$2'\ntype = 'csv'\nkey = '$3'\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    assert_eq!(
        dump.rows("cf", "t"),
        vec![r(&[Some("1"), Some("one")]), r(&[Some("2"), Some("two")])]
    );
}

#[tokio::test]
async fn csv_with_utf8_bom() {
    let mut data = b"\xEF\xBB\xBF".to_vec();
    data.extend_from_slice("v,id\nüñí,1\n".as_bytes());
    let dump = dump_of(vec![
        schema("b", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        ("b.t.000000000.csv".into(), data),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(dump.rows("b", "t"), vec![r(&[Some("1"), Some("üñí")])]);
}

#[tokio::test]
async fn gbk_and_latin1_data_files() {
    // "中文" in GBK, "café" in latin1.
    let gbk = b"INSERT INTO t VALUES (1,'\xD6\xD0\xCE\xC4');\n".to_vec();
    let dump = dump_of(vec![
        schema("cs", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        ("cs.t.000000000.sql".into(), gbk),
    ]);
    let sections = Sections {
        mydumper: "data-character-set = \"gbk\"\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    assert_eq!(dump.rows("cs", "t"), vec![r(&[Some("1"), Some("中文")])]);

    let latin1 = b"id,v\n1,caf\xE9\n".to_vec();
    let dump = dump_of(vec![
        schema("cs", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        ("cs.t.000000000.csv".into(), latin1),
    ]);
    let sections = Sections {
        mydumper: "data-character-set = \"latin1\"\n".into(),
        ..Sections::default()
    };
    dump.local(&sections).await.unwrap();
    assert_eq!(dump.rows("cs", "t"), vec![r(&[Some("1"), Some("café")])]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn compressed_data_files() {
    let sql1 = b"INSERT INTO t VALUES (1,'gz');\n";
    let sql2 = b"INSERT INTO t VALUES (2,'zst');\n";
    let sql3 = b"INSERT INTO t VALUES (3,'snappy');\n";
    let csv = b"id,v\n4,csvgz\n";
    let mut snappy = Vec::new();
    {
        let mut w = snap::write::FrameEncoder::new(&mut snappy);
        w.write_all(sql3).unwrap();
    }
    let dump = dump_of(vec![
        schema("z", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        ("z.t.000000000.sql.gz".into(), gzip(sql1)),
        (
            "z.t.000000001.sql.zst".into(),
            zstd::encode_all(&sql2[..], 3).unwrap(),
        ),
        ("z.t.000000002.sql.snappy".into(), snappy),
        ("z.t.000000003.csv.gz".into(), gzip(csv)),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(
        dump.rows("z", "t"),
        vec![
            r(&[Some("1"), Some("gz")]),
            r(&[Some("2"), Some("zst")]),
            r(&[Some("3"), Some("snappy")]),
            r(&[Some("4"), Some("csvgz")]),
        ]
    );
}

#[tokio::test]
async fn empty_files_import_nothing() {
    let dump = dump_of(vec![
        schema("e", "t", "id INT PRIMARY KEY"),
        schema("e", "u", "id INT PRIMARY KEY"),
        ("e.t.000000000.sql".into(), Vec::new()),
        ("e.t.000000001.csv".into(), b"id\n".to_vec()),
        (
            "e.u.000000000.sql".into(),
            b"INSERT INTO u VALUES (1);\n".to_vec(),
        ),
        ("e.u.000000001.sql".into(), b"\n\n".to_vec()),
    ]);
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(dump.rows("e", "t"), Vec::<Vec<Option<String>>>::new());
    assert_eq!(dump.rows("e", "u"), vec![r(&[Some("1")])]);
}

fn duplicates_dump() -> Dump {
    dump_of(vec![
        schema("dup", "t", "id INT PRIMARY KEY, v VARCHAR(10)"),
        (
            "dup.t.000000000.sql".into(),
            b"INSERT INTO t VALUES (1,'first'),(2,'only');\n".to_vec(),
        ),
        (
            "dup.t.000000001.sql".into(),
            b"INSERT INTO t VALUES (1,'second'),(3,'only');\n".to_vec(),
        ),
    ])
}

fn strategy(s: &str) -> Sections {
    Sections {
        // One chunk at a time, in file order, so "first" is well defined.
        lightning: "region-concurrency = 1\n".into(),
        extra: format!("[conflict]\nstrategy = \"{s}\"\n"),
        ..Sections::default()
    }
}

#[tokio::test]
async fn duplicate_mode_replace_local() {
    // replace: the later file's row wins.
    let dump = duplicates_dump();
    dump.local(&strategy("replace")).await.unwrap();
    let rows = dump.rows("dup", "t");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], r(&[Some("1"), Some("second")]));
}

/// The store's KV checksum of `db`.`t`.
fn store_checksum(dump: &Dump, db: &str) -> backend_core::KvChecksum {
    let store = TargetStore::open(dump.store()).unwrap();
    backend_local::store::checksum_table(store.db(), db, "t").unwrap()
}

#[tokio::test]
async fn duplicate_mode_replace_local_unique_key() {
    // replace with collisions on the primary key and on a unique secondary
    // key: the later row wins and the losers leave nothing behind (record,
    // unique and non-unique entries), so the table's pairs equal a clean
    // import of the winners, and the post-import checksum (required by
    // default) passes.
    let columns = "id INT PRIMARY KEY, u VARCHAR(10), k INT, UNIQUE KEY uu (u), KEY kk (k)";
    let dump = dump_of(vec![
        schema("dupu", "t", columns),
        (
            "dupu.t.000000000.sql".into(),
            b"INSERT INTO t VALUES (1,'a',1),(2,'b',2),(3,'c',3);\n".to_vec(),
        ),
        (
            "dupu.t.000000001.sql".into(),
            b"INSERT INTO t VALUES (4,'a',4),(2,'b2',5);\n".to_vec(),
        ),
    ]);
    dump.local(&strategy("replace")).await.unwrap();
    let want = vec![
        r(&[Some("2"), Some("b2"), Some("5")]),
        r(&[Some("3"), Some("c"), Some("3")]),
        r(&[Some("4"), Some("a"), Some("4")]),
    ];
    assert_eq!(dump.rows("dupu", "t"), want);

    let clean = dump_of(vec![
        schema("dupu", "t", columns),
        (
            "dupu.t.000000000.sql".into(),
            b"INSERT INTO t VALUES (3,'c',3),(4,'a',4),(2,'b2',5);\n".to_vec(),
        ),
    ]);
    clean.local(&Sections::default()).await.unwrap();
    assert_eq!(
        store_checksum(&dump, "dupu"),
        store_checksum(&clean, "dupu")
    );
}

#[tokio::test]
async fn duplicate_mode_error_local() {
    // `ignore` is a tidb-backend strategy (refused with local, as in
    // Lightning); error (the default): the import fails naming the duplicate.
    let dump = duplicates_dump();
    let err = dump.local(&strategy("error")).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.to_lowercase().contains("duplicate"), "{text}");
}

#[tokio::test]
async fn duplicate_modes_tidb() {
    let Some(server) = Server::from_env() else {
        return;
    };
    for (mode, kept) in [("replace", "second"), ("ignore", "first")] {
        let dump = duplicates_dump();
        let db = format!("it_compat_dup_{mode}");
        dump.tidb(&server, "dup", &db, &strategy(mode))
            .await
            .unwrap();
        let rows = mysql_rows(&server, &db, "t", &["id", "v"]).await;
        assert_eq!(rows.len(), 3, "{mode}: {rows:?}");
        assert_eq!(rows[0], r(&[Some("1"), Some(kept)]), "{mode}");
    }
    let dump = duplicates_dump();
    let err = dump
        .tidb(&server, "dup", "it_compat_dup_error", &strategy("error"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").to_lowercase().contains("duplicate"),
        "{err:#}"
    );
}

/// The built binary imports the bundled sample end to end (exit status and
/// the store's tables), when it has been built.
#[test]
fn binary_imports_the_sample() {
    let Some(bin) = integration_tests::cli::importer_binary() else {
        eprintln!("skipped: the `importer` binary is not built (cargo build --workspace)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample");
    let out = std::process::Command::new(&bin)
        .arg("-d")
        .arg(&sample)
        .arg("--store")
        .arg(&store)
        .args(["-L", "warn"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = TargetStore::open(&store).unwrap();
    let tables: Vec<(String, u64)> = list_tables(store.db())
        .unwrap()
        .into_iter()
        .map(|t| (t.table, t.rows))
        .collect();
    assert_eq!(tables.len(), 3, "{tables:?}");
    assert!(tables.iter().all(|(_, rows)| *rows > 0), "{tables:?}");
}
