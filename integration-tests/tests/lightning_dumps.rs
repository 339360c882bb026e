//! Dumps as TiDB Lightning users bring them, written by each test and
//! imported through the CLI library with both backends (the tidb one into
//! MariaDB): the DDL real MySQL, MariaDB and TiDB dumps contain, data-file
//! forms Lightning reads (`VALUES ()`, `_tidb_rowid`, invalid characters),
//! views, routes, schema-file character sets and the CSV header check.

#![allow(clippy::unwrap_used)]

use backend_local::TargetStore;
use integration_tests::cli::{Sections, Target, import_ok, load_config};
use integration_tests::compare::local_table;
use integration_tests::dump::{Dump, dump_of, mysql_rows, r, text_rows};
use integration_tests::server::{self, Server};

/// As MySQL 8's `mysqldump` writes a table (MariaDB runs every construct:
/// it skips `/*!80000 … */`, runs `/*!50100 … */`).
const MYSQL8_ITEMS: &str = include_str!("../../dump-source/tests/data/real-ddl/mysql8-items.sql");

/// As `mariadb-dump` writes a table.
const MARIADB_M: &str = include_str!("../../dump-source/tests/data/real-ddl/mariadb-m.sql");

/// As dumpling writes a TiDB table.
const TIDB_R: &str = include_str!("../../dump-source/tests/data/real-ddl/tidb-r.sql");

/// The three tables and their rows; `stored` keeps `items.doubled` a
/// stored generated column (the local backend cannot compute those).
fn ddl_files(stored: bool) -> Vec<(String, Vec<u8>)> {
    let items = if stored {
        MYSQL8_ITEMS.to_string()
    } else {
        MYSQL8_ITEMS.replace(") STORED,", ") VIRTUAL,")
    };
    vec![
        ("ddl-schema-create.sql".into(), b"CREATE DATABASE `ddl` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n".to_vec()),
        ("ddl.items-schema.sql".into(), items.into_bytes()),
        (
            "ddl.items.000000000.sql".into(),
            b"INSERT INTO `items` (`id`,`name`,`code`,`price`,`hidden`) VALUES (1,'apple','AP01',1.50,7),(200,'pear','PE02',2.25,NULL);\n".to_vec(),
        ),
        ("ddl.m-schema.sql".into(), MARIADB_M.as_bytes().to_vec()),
        (
            "ddl.m.000000000.sql".into(),
            b"INSERT INTO `m` (`id`,`a`,`c`,`d`) VALUES (1,'x',5,10),(2,NULL,NULL,NULL);\n".to_vec(),
        ),
        ("ddl.r-schema.sql".into(), TIDB_R.as_bytes().to_vec()),
        (
            "ddl.r.000000000.sql".into(),
            b"INSERT INTO `r` VALUES (1,'a',10),(200,'b',20);\n".to_vec(),
        ),
    ]
}

fn rows_of(cells: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    let mut rows: Vec<_> = cells.iter().map(|c| r(c)).collect();
    rows.sort();
    rows
}

/// The local store's rows of `db`.`table`, only the columns `cols`.
fn local_rows(dump: &Dump, db: &str, table: &str, cols: &[&str]) -> Vec<Vec<Option<String>>> {
    let store = TargetStore::open(dump.store()).unwrap();
    let (info, rows) = local_table(&store, db, table).unwrap();
    let picks: Vec<usize> = cols
        .iter()
        .map(|c| info.column(c).unwrap().offset)
        .collect();
    text_rows(
        rows.into_iter()
            .map(|row| picks.iter().map(|&i| row[i].clone()).collect())
            .collect(),
    )
}

fn items_rows() -> Vec<Vec<Option<String>>> {
    rows_of(&[
        &[
            Some("1"),
            Some("apple"),
            Some("AP01"),
            Some("1.50"),
            Some("7"),
        ],
        &[Some("200"), Some("pear"), Some("PE02"), Some("2.25"), None],
    ])
}

const ITEMS_COLS: [&str; 5] = ["id", "name", "code", "price", "hidden"];

/// The server runs each statement as written: partitions, checks and
/// generated columns exist on MariaDB, and a construct the local parser
/// does not model (`SERIAL DEFAULT VALUE`) does not stop the import.
#[tokio::test]
async fn tidb_backend_runs_real_dump_ddl_as_written() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let mut files = ddl_files(true);
    files.push((
        "ddl.g-schema.sql".into(),
        b"CREATE TABLE `g` (\n  `id` bigint SERIAL DEFAULT VALUE,\n  `v` varchar(10)\n);\n"
            .to_vec(),
    ));
    files.push((
        "ddl.g.000000000.sql".into(),
        b"INSERT INTO `g` (`id`,`v`) VALUES (1,'one'),(2,'two');\n".to_vec(),
    ));
    let dump = dump_of(files);
    let db = "it_ld_ddl";
    dump.tidb(&server, "ddl", db, &Sections::default())
        .await
        .unwrap();
    assert_eq!(
        mysql_rows(&server, db, "items", &ITEMS_COLS).await,
        items_rows()
    );
    assert_eq!(
        mysql_rows(&server, db, "items", &["doubled", "label"]).await,
        rows_of(&[
            &[Some("3.00"), Some("AP01-apple")],
            &[Some("4.50"), Some("PE02-pear")]
        ])
    );
    assert_eq!(
        mysql_rows(&server, db, "m", &["id", "a", "b", "c", "d"]).await,
        rows_of(&[
            &[Some("1"), Some("x"), Some("2"), Some("5"), Some("10")],
            &[Some("2"), None, Some("3"), None, None],
        ])
    );
    assert_eq!(
        mysql_rows(&server, db, "r", &["id", "a", "b"]).await,
        rows_of(&[
            &[Some("1"), Some("a"), Some("10")],
            &[Some("200"), Some("b"), Some("20")]
        ])
    );
    assert_eq!(
        mysql_rows(&server, db, "g", &["id", "v"]).await,
        rows_of(&[&[Some("1"), Some("one")], &[Some("2"), Some("two")]])
    );
    let pool = server.pool().await.unwrap();
    let partitions = server::query(
        &pool,
        &format!(
            "SELECT TABLE_NAME, COUNT(*) FROM information_schema.PARTITIONS \
             WHERE TABLE_SCHEMA = '{db}' AND PARTITION_NAME IS NOT NULL \
             GROUP BY TABLE_NAME ORDER BY TABLE_NAME"
        ),
    )
    .await
    .unwrap();
    let partitions: Vec<(String, i64)> = partitions
        .iter()
        .map(|row| {
            use sqlx::Row as _;
            (row.get::<String, _>(0), row.get::<i64, _>(1))
        })
        .collect();
    assert_eq!(
        partitions,
        [
            ("items".to_string(), 2),
            ("m".to_string(), 2),
            ("r".to_string(), 2)
        ]
    );
    let checks = server::query(
        &pool,
        &format!(
            "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = '{db}' AND CONSTRAINT_NAME = 'chk_price'"
        ),
    )
    .await
    .unwrap();
    assert_eq!(checks.len(), 1);
}

/// The local backend models the same constructs and loads the rows; what
/// it cannot model is refused naming the file, the line and the construct.
#[tokio::test]
async fn local_backend_models_real_dump_ddl() {
    let dump = dump_of(ddl_files(false));
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(local_rows(&dump, "ddl", "items", &ITEMS_COLS), items_rows());
    assert_eq!(
        local_rows(&dump, "ddl", "m", &["id", "a", "c", "d"]),
        rows_of(&[
            &[Some("1"), Some("x"), Some("5"), Some("10")],
            &[Some("2"), None, None, None],
        ])
    );
    assert_eq!(
        local_rows(&dump, "ddl", "r", &["id", "a", "b"]),
        rows_of(&[
            &[Some("1"), Some("a"), Some("10")],
            &[Some("200"), Some("b"), Some("20")]
        ])
    );

    let refused = dump_of(vec![(
        "ddl.g-schema.sql".into(),
        b"CREATE TABLE `g` (\n  `id` bigint SERIAL DEFAULT VALUE,\n  `v` varchar(10)\n);\n"
            .to_vec(),
    )]);
    let err = format!(
        "{:#}",
        refused.local(&Sections::default()).await.unwrap_err()
    );
    assert!(
        err.contains("ddl.g-schema.sql: line 2: cannot parse CREATE TABLE")
            && err.contains("SERIAL"),
        "{err}"
    );
}

/// `VALUES ()` without a column list: every column takes its default.
#[tokio::test]
async fn empty_tuples_take_every_default() {
    let files = || {
        vec![
            (
                "e.t-schema.sql".into(),
                b"CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT DEFAULT 42, b VARCHAR(5) DEFAULT 'x');".to_vec(),
            ),
            (
                "e.t.000000000.sql".into(),
                b"INSERT INTO t VALUES (),(),();\nINSERT INTO t VALUES (10,1,'y');\n".to_vec(),
            ),
        ]
    };
    let check = |rows: Vec<Vec<Option<String>>>| {
        assert_eq!(rows.len(), 4, "{rows:?}");
        let defaults: Vec<_> = rows
            .iter()
            .filter(|r| r[1].as_deref() == Some("42") && r[2].as_deref() == Some("x"))
            .collect();
        assert_eq!(defaults.len(), 3, "{rows:?}");
        assert!(rows.contains(&r(&[Some("10"), Some("1"), Some("y")])));
    };
    let dump = dump_of(files());
    dump.local(&Sections::default()).await.unwrap();
    check(dump.rows("e", "t"));
    if let Some(server) = Server::from_env() {
        let dump = dump_of(files());
        dump.tidb(&server, "e", "it_ld_empty", &Sections::default())
            .await
            .unwrap();
        check(mysql_rows(&server, "it_ld_empty", "t", &["id", "a", "b"]).await);
    }
}

/// Column lists naming `_tidb_rowid` (TiDB dumps of tables without a
/// clustered key): the local store takes it as the row handle; MariaDB has
/// no such column, so it is dropped from the statements.
#[tokio::test]
async fn tidb_rowid_column_lists() {
    let files = || {
        vec![
            (
                "w.t-schema.sql".into(),
                b"CREATE TABLE `t` (`a` varchar(10), `b` int);".to_vec(),
            ),
            (
                "w.t.000000000.sql".into(),
                b"INSERT INTO `t` (`a`,`b`,`_tidb_rowid`) VALUES ('x',1,5),('y',2,9);\n".to_vec(),
            ),
        ]
    };
    let dump = dump_of(files());
    dump.local(&Sections::default()).await.unwrap();
    assert_eq!(
        dump.rows("w", "t"),
        rows_of(&[&[Some("x"), Some("1")], &[Some("y"), Some("2")]])
    );
    // The handles are the dump's row ids: records `t{id}_r5` and `t{id}_r9`.
    let store = TargetStore::open(dump.store()).unwrap();
    let id = store.table("w", "t").unwrap().table.id;
    for handle in [5, 9] {
        let mut key = Vec::new();
        backend_local::codec::table::append_record_key(&mut key, id, handle);
        assert!(
            store.db().get(&key).unwrap().is_some(),
            "no record with handle {handle}"
        );
    }
    if let Some(server) = Server::from_env() {
        let dump = dump_of(files());
        dump.tidb(&server, "w", "it_ld_rowid", &Sections::default())
            .await
            .unwrap();
        assert_eq!(
            mysql_rows(&server, "it_ld_rowid", "t", &["a", "b"]).await,
            rows_of(&[&[Some("x"), Some("1")], &[Some("y"), Some("2")]])
        );
    }
}

/// Views: a dumpling `-schema-view.sql` (with its placeholder table) and a
/// `type = "view-schema"` file rule; views are created after the tables
/// they select from, on MariaDB and in the local catalog.
#[tokio::test]
async fn views_are_created_after_tables() {
    let files = || {
        vec![
            ("v.t-schema.sql".into(), b"CREATE TABLE `t` (`a` int PRIMARY KEY, `b` int);".to_vec()),
            ("v.t.000000000.sql".into(), b"INSERT INTO `t` VALUES (1,10),(2,20);".to_vec()),
            // Dumpling's placeholder table for the view, then the view.
            ("v.big-schema.sql".into(), b"CREATE TABLE `big`(\n`a` int\n)ENGINE=MyISAM;\n".to_vec()),
            (
                "v.big-schema-view.sql".into(),
                b"/*!40101 SET NAMES binary*/;\nDROP TABLE IF EXISTS `big`;\nDROP VIEW IF EXISTS `big`;\nSET character_set_client = utf8;\nCREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `big` (`a`) AS SELECT `t`.`a` AS `a` FROM `t` WHERE `t`.`b` > 15;\n".to_vec(),
            ),
            (
                "views/v.small.view".into(),
                b"CREATE VIEW `small` AS SELECT a FROM t WHERE b < 15;".to_vec(),
            ),
        ]
    };
    let sections = Sections {
        mydumper: "default-file-rules = true\n".into(),
        extra: "[[mydumper.files]]\npattern = '^views/(\\w+)\\.(\\w+)\\.view$'\nschema = '$1'\ntable = '$2'\ntype = 'view-schema'\n".into(),
        ..Sections::default()
    };
    let dump = dump_of(files());
    dump.local(&sections).await.unwrap();
    let store = TargetStore::open(dump.store()).unwrap();
    let views: Vec<(String, String)> = store
        .views()
        .unwrap()
        .into_iter()
        .map(|v| (v.db, v.name))
        .collect();
    assert_eq!(
        views,
        [
            ("v".to_string(), "big".to_string()),
            ("v".into(), "small".into())
        ]
    );
    let tables: Vec<String> = store
        .tables()
        .unwrap()
        .into_iter()
        .map(|t| t.table)
        .collect();
    assert_eq!(tables, ["t"], "the placeholder table is not created");
    drop(store);
    if let Some(bin) = integration_tests::cli::importer_binary() {
        let out = std::process::Command::new(bin)
            .args(["store", "tables", "--store"])
            .arg(dump.store())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("v.big ") && l.contains("view")),
            "{text}"
        );
    }
    if let Some(server) = Server::from_env() {
        let dump = dump_of(files());
        dump.tidb(&server, "v", "it_ld_views", &sections)
            .await
            .unwrap();
        assert_eq!(
            mysql_rows(&server, "it_ld_views", "big", &["a"]).await,
            rows_of(&[&[Some("2")]])
        );
        assert_eq!(
            mysql_rows(&server, "it_ld_views", "small", &["a"]).await,
            rows_of(&[&[Some("1")]])
        );
    }
}

/// A source database whose tables are all routed elsewhere is not created
/// on the target, and the routed database is created under its own name.
#[tokio::test]
async fn routed_away_database_is_not_created() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let dump = dump_of(vec![
        (
            "it_ld_src-schema-create.sql".into(),
            b"CREATE DATABASE `it_ld_src`;".to_vec(),
        ),
        (
            "it_ld_src.t1-schema.sql".into(),
            b"CREATE TABLE `t1` (a int);".to_vec(),
        ),
        (
            "it_ld_src.t1.000000000.sql".into(),
            b"INSERT INTO t1 VALUES (1);".to_vec(),
        ),
    ]);
    let pool = server.pool().await.unwrap();
    server::drop_database(&pool, "it_ld_src").await.unwrap();
    server::drop_database(&pool, "it_ld_dst").await.unwrap();
    let work = dump.dir.path().join("tidb");
    std::fs::create_dir_all(&work).unwrap();
    let sections = Sections {
        extra: "[[routes]]\nschema-pattern = 'it_ld_src'\ntable-pattern = 't*'\ntarget-schema = 'it_ld_dst'\n".into(),
        ..Sections::default()
    };
    let cfg = load_config(
        &Target::Tidb(server.clone()),
        &dump.source(),
        &work,
        &sections,
    )
    .unwrap();
    import_ok(&cfg).await.unwrap();
    assert_eq!(
        mysql_rows(&server, "it_ld_dst", "t1", &["a"]).await,
        rows_of(&[&[Some("1")]])
    );
    let dbs = server::query(
        &pool,
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'it_ld_src'",
    )
    .await
    .unwrap();
    assert!(
        dbs.is_empty(),
        "the routed-away source database was created"
    );
}

/// `mydumper.character-set`: GB18030 schema files (with GB18030 data) load
/// under `auto` and `gb18030`; `utf8mb4` refuses them naming the file.
/// `data-invalid-char-replace` stands in for bytes invalid in GB18030.
#[tokio::test]
async fn gb18030_schema_files_and_invalid_data_bytes() {
    let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
    let files = || {
        let mut data = gb("1,中文\n2,");
        data.extend_from_slice(b"\xFF\n");
        vec![
            (
                "cs-schema-create.sql".into(),
                b"CREATE DATABASE cs;".to_vec(),
            ),
            (
                "cs.t-schema.sql".into(),
                gb(
                    "CREATE TABLE `t` (`id` int PRIMARY KEY, `名字` varchar(10) COMMENT '中文') DEFAULT CHARSET=utf8mb4;",
                ),
            ),
            ("cs.t.000000000.csv".into(), data),
        ]
    };
    let sections = |charset: &str| Sections {
        mydumper: format!(
            "character-set = '{charset}'\ndata-character-set = 'gb18030'\ndata-invalid-char-replace = '?'\n"
        ),
        extra: "[mydumper.csv]\nheader = false\n".into(),
        ..Sections::default()
    };
    let want = rows_of(&[&[Some("1"), Some("中文")], &[Some("2"), Some("?")]]);
    for charset in ["auto", "gb18030"] {
        let dump = dump_of(files());
        dump.local(&sections(charset)).await.unwrap();
        assert_eq!(
            local_rows(&dump, "cs", "t", &["id", "名字"]),
            want,
            "{charset}"
        );
    }
    let dump = dump_of(files());
    let err = format!("{:#}", dump.local(&sections("utf8mb4")).await.unwrap_err());
    assert!(
        err.contains("cs.t-schema.sql: line 1: byte") && err.contains("not valid UTF-8"),
        "{err}"
    );
    if let Some(server) = Server::from_env() {
        let dump = dump_of(files());
        dump.tidb(&server, "cs", "it_ld_gb", &sections("auto"))
            .await
            .unwrap();
        assert_eq!(
            mysql_rows(&server, "it_ld_gb", "t", &["id", "名字"]).await,
            want
        );
    }
}

/// The CSV header check: a first line that names the columns while
/// `header = false`, and a first line of data while `header = true`, stop
/// the import before any row is written.
#[tokio::test]
async fn csv_header_mismatch_is_reported_before_import() {
    let files = |first: &[u8]| {
        let mut data = first.to_vec();
        data.extend_from_slice(b"1,a\n2,b\n");
        vec![
            (
                "h.t-schema.sql".into(),
                b"CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10));".to_vec(),
            ),
            ("h.t.000000000.csv".into(), data),
        ]
    };
    let header = |on: bool| Sections {
        extra: format!("[mydumper.csv]\nheader = {on}\n"),
        ..Sections::default()
    };
    let dump = dump_of(files(b"id,name\n"));
    let err = format!("{:#}", dump.local(&header(false)).await.unwrap_err());
    assert!(
        err.contains("h.t.000000000.csv: the first line (id, name) names columns of `h`.`t` but [mydumper.csv] header = false"),
        "{err}"
    );
    assert!(
        !dump.store().join("CURRENT").exists() || {
            let store = TargetStore::open(dump.store()).unwrap();
            store.tables().unwrap().iter().all(|t| t.rows == 0)
        }
    );
    // The reverse is a precheck warning; the table then fails on its first
    // row without writing it.
    let dump = dump_of(files(b""));
    let work = dump.dir.path().join("check");
    std::fs::create_dir_all(&work).unwrap();
    let cfg = load_config(
        &Target::Local(dump.store()),
        &dump.source(),
        &work,
        &header(true),
    )
    .unwrap();
    let report = importer_cli::app::precheck(&cfg).await.unwrap().to_string();
    assert!(
        report.contains("[FAIL] CSV headers: h.t.000000000.csv: unknown column \"1\"")
            && report.contains("header = true"),
        "{report}"
    );
    let err = format!("{:#}", dump.local(&header(true)).await.unwrap_err());
    assert!(err.contains("unknown column \"1\""), "{err}");
    if let Some(server) = Server::from_env() {
        let dump = dump_of(files(b"id,name\n"));
        let err = format!(
            "{:#}",
            dump.tidb(&server, "h", "it_ld_header", &header(false))
                .await
                .unwrap_err()
        );
        assert!(err.contains("names columns of `it_ld_header`.`t`"), "{err}");
        let pool = server.pool().await.unwrap();
        let exists = server::query(
            &pool,
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'it_ld_header'",
        )
        .await
        .unwrap();
        if !exists.is_empty() {
            assert!(
                mysql_rows(&server, "it_ld_header", "t", &["id"])
                    .await
                    .is_empty()
            );
        }
    }
}
