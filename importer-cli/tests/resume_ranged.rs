//! A chunk resumed from its checkpoint opens its read at the saved
//! position, in the parser state saved with it: an import into MariaDB
//! interrupted half-way through a CSV file (header in another column order)
//! and a SQL file (`INSERT`s with a column list in another order), whose
//! bytes before the saved position are then overwritten with garbage,
//! resumes to exactly the file's rows, each once — a resume that re-parsed
//! from the chunk's start would fail on the garbage. The file driver and
//! the mysql driver both record the state. A gzip'd file cannot seek: it
//! resumes by decompressing from its start and skipping. A checkpoint
//! without the state still resumes, by re-parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash_common;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crash_common::{RunEnd, run_importer};
use importer_cli::checkpoint::{
    Checkpoints, ChunkCheckpoint, FileCheckpointStore, MysqlCheckpointStore, MysqlLocation,
};

/// Rows of the table: many 8 KiB statements.
const ROWS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Sql,
    SqlGzip,
}

/// The `name` of row `i`.
fn name(i: u64) -> String {
    format!("name-{}", i * 7919 % 10_007)
}

/// A dump of table `db`.`t` (no key, so a row loaded twice shows) in one
/// data file of `format`; returns the file.
fn make_dump(dir: &Path, db: &str, format: Format) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{db}-schema-create.sql")),
        format!("CREATE DATABASE IF NOT EXISTS `{db}`;\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{db}.t-schema.sql")),
        "CREATE TABLE `t` (`id` int NOT NULL, `name` varchar(64) NOT NULL, \
         `note` varchar(64) DEFAULT NULL);\n",
    )
    .unwrap();
    let (file, data) = match format {
        Format::Csv => {
            let mut csv = String::from("note,id,name\n");
            for i in 1..=ROWS {
                csv.push_str(&format!("note {i},{i},{}\n", name(i)));
            }
            (format!("{db}.t.000000000.csv"), csv.into_bytes())
        }
        Format::Sql | Format::SqlGzip => {
            let mut sql = String::new();
            for i in 1..=ROWS {
                sql.push_str(if i % 500 == 1 {
                    "INSERT INTO `t` (`note`,`name`,`id`) VALUES\n"
                } else {
                    ",\n"
                });
                sql.push_str(&format!("('note {i}','{}',{i})", name(i)));
                if i % 500 == 0 || i == ROWS {
                    sql.push_str(";\n");
                }
            }
            (format!("{db}.t.000000000.sql"), sql.into_bytes())
        }
    };
    if format == Format::SqlGzip {
        let path = dir.join(format!("{file}.gz"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        path
    } else {
        let path = dir.join(file);
        std::fs::write(&path, data).unwrap();
        path
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Driver {
    File,
    Mysql,
}

type Srv = (String, u16, String, String);

/// Where the mysql driver keeps this test's checkpoint.
fn mysql_location(srv: &Srv, schema: &str) -> MysqlLocation {
    MysqlLocation {
        host: srv.0.clone(),
        port: srv.1,
        user: srv.2.clone(),
        password: srv.3.clone(),
        schema: schema.into(),
    }
}

fn write_config(dir: &Path, dump: &Path, srv: &Srv, checkpoint: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("importer.toml");
    let text = format!(
        "[lightning]\nlevel = \"warn\"\nregion-concurrency = 2\n\
         [checkpoint]\n{checkpoint}\n\
         [tikv-importer]\nbackend = \"tidb\"\nlogical-import-batch-size = \"8KiB\"\n\
         [tidb]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\npassword = \"{}\"\n\
         [mydumper]\ndata-source-dir = \"{}\"\n\
         [mydumper.csv]\nterminator = \"\\n\"\n",
        srv.0,
        srv.1,
        srv.2,
        srv.3,
        dump.display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The checkpoint's one chunk.
fn the_chunk(cp: &Checkpoints) -> ChunkCheckpoint {
    let chunks: Vec<&ChunkCheckpoint> = cp
        .tables
        .values()
        .flat_map(|t| t.engines.values())
        .flat_map(|e| &e.chunks)
        .collect();
    assert_eq!(chunks.len(), 1, "{cp:#?}");
    chunks[0].clone()
}

/// Interrupts an import of `format` into database `test` half-way (a
/// graceful stop, which saves the durable progress), checks the
/// checkpoint holds a part-done chunk with its parser state, lets `damage`
/// change the data file and the checkpoint, resumes, and checks every row
/// arrived once with its columns in place.
async fn abort_and_resume(
    test: &'static str,
    format: Format,
    driver: Driver,
    damage: impl FnOnce(&Path, &ChunkCheckpoint, &mut Checkpoints) + Send + 'static,
) {
    let Some(srv) = crash_common::server() else {
        return;
    };
    let pool = crash_common::pool(&srv).await;
    let schema = format!("{test}_cp");
    for db in [test, &schema] {
        crash_common::exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (srv2, schema2) = (srv.clone(), schema.clone());
    tokio::task::spawn_blocking(move || {
        let (srv, schema) = (srv2, schema2);
        let data = make_dump(&dir.join("dump"), test, format);
        let cp_file = dir.join("cp.json");
        let checkpoint = match driver {
            Driver::File => format!("dsn = \"{}\"", cp_file.display()),
            Driver::Mysql => format!("driver = \"mysql\"\nschema = \"{schema}\""),
        };
        let config = write_config(&dir, data.parent().unwrap(), &srv, &checkpoint);
        let end = run_importer(&config, &format!("interrupt-after-rows={}", ROWS / 2), None);
        assert!(
            matches!(&end, RunEnd::Failed(status, _) if status.code() == Some(130)),
            "{end:?}"
        );
        let load = || match driver {
            Driver::File => FileCheckpointStore::new(&cp_file).load().unwrap().unwrap(),
            Driver::Mysql => MysqlCheckpointStore::connect(mysql_location(&srv, &schema))
                .unwrap()
                .load()
                .unwrap()
                .unwrap(),
        };
        let mut cp = load();
        let chunk = the_chunk(&cp);
        assert!(
            chunk.offset < chunk.pos && chunk.pos < chunk.end_offset && chunk.rows > 0,
            "the interrupt left the chunk part-done: {chunk:#?}"
        );
        let state = chunk
            .parser_state
            .clone()
            .expect("the parser state is saved");
        assert_eq!(state.in_values, format != Format::Csv, "{state:?}");
        let columns = if format == Format::Csv {
            ["note", "id", "name"]
        } else {
            ["note", "name", "id"]
        };
        assert_eq!(state.columns, Some(columns.map(String::from).to_vec()));

        damage(&data, &chunk, &mut cp);
        match driver {
            Driver::File => FileCheckpointStore::new(&cp_file).save(&cp).unwrap(),
            Driver::Mysql => MysqlCheckpointStore::connect(mysql_location(&srv, &schema))
                .unwrap()
                .save(&cp)
                .unwrap(),
        }
        let end = run_importer(&config, "", None);
        assert!(matches!(end, RunEnd::Success), "{end:?}");
    })
    .await
    .unwrap();

    use sqlx::Row;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(DISTINCT id), CAST(MIN(id) AS SIGNED), CAST(MAX(id) AS SIGNED), \
         CAST(SUM(note = CONCAT('note ', id) AND name = CONCAT('name-', id * 7919 % 10007)) \
         AS SIGNED) FROM `{test}`.`t`"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    let got: Vec<i64> = (0..5).map(|i| row.get(i)).collect();
    let rows = i64::try_from(ROWS).unwrap();
    assert_eq!(
        got,
        [rows, rows, 1, rows, rows],
        "{test}: rows, distinct ids, id range, rows with their own columns"
    );
    for db in [test, &schema] {
        crash_common::exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    }
}

/// Overwrites the chunk's delivered bytes (its start up to the saved
/// position, CSV header included) with `garbage`, keeping every offset.
fn overwrite_delivered(file: &Path, chunk: &ChunkCheckpoint, garbage: u8) {
    let mut data = std::fs::read(file).unwrap();
    let (from, to) = (
        usize::try_from(chunk.offset).unwrap(),
        usize::try_from(chunk.pos).unwrap(),
    );
    data[from..to].fill(garbage);
    std::fs::write(file, data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_chunk_resumes_at_its_saved_offset() {
    // An unclosed quote: a re-parse from the start finds no row.
    abort_and_resume("resume_csv", Format::Csv, Driver::File, |file, chunk, _| {
        overwrite_delivered(file, chunk, b'"');
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_chunk_resumes_at_its_saved_offset_with_the_mysql_driver() {
    // Not a statement: a re-parse from the start fails on the first byte.
    abort_and_resume(
        "resume_sql",
        Format::Sql,
        Driver::Mysql,
        |file, chunk, _| {
            overwrite_delivered(file, chunk, b'#');
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_chunk_resumes_by_skipping_from_the_start() {
    abort_and_resume("resume_gzip", Format::SqlGzip, Driver::File, |_, _, _| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_without_parser_state_resumes_by_re_parsing() {
    abort_and_resume("resume_old_cp", Format::Csv, Driver::File, |_, _, cp| {
        for chunk in cp
            .tables
            .values_mut()
            .flat_map(|t| t.engines.values_mut())
            .flat_map(|e| e.chunks.iter_mut())
        {
            chunk.parser_state = None;
        }
    })
    .await;
}
