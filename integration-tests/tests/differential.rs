//! One dump, three ways: imported through the CLI library with the local
//! backend (into its store) and with the tidb backend (into MariaDB), and
//! loaded by MariaDB itself (`mariadb` client for the SQL files, `LOAD DATA`
//! for the CSV) as the reference. Every row of every table must agree.
//!
//! The dataset (`data/differential`, made by `data/gen/differential.py`)
//! covers every supported column type with NULLs, empty strings, binary
//! bytes 0x00/0xFF, unicode, minimum and maximum values, rounding cases,
//! composite and unique indexes, and a table without primary key.

use anyhow::Context as _;
use backend_local::TargetStore;
use integration_tests::cli::{Sections, Target, import_ok, load_config};
use integration_tests::compare::{assert_same_rows, local_table, mysql_table, normalise};
use integration_tests::data_dir;
use integration_tests::server::{self, Server};

/// The tables and their row counts.
const TABLES: [(&str, usize); 4] = [
    ("alltypes", 156),
    ("csvtypes", 155),
    ("composite", 150),
    ("nopk", 122),
];

/// The session `sql_mode` of all three loads (the importer's default).
const SQL_MODE: &str = "ONLY_FULL_GROUP_BY";

fn load_reference(server: &Server, db: &str) -> anyhow::Result<()> {
    let dir = data_dir("differential");
    let mut sql = Vec::new();
    for table in ["alltypes", "csvtypes", "composite", "nopk"] {
        sql.extend(std::fs::read(
            dir.join(format!("difftypes.{table}-schema.sql")),
        )?);
        sql.push(b'\n');
    }
    for file in [
        "difftypes.alltypes.000000000.sql",
        "difftypes.alltypes.000000001.sql",
        "difftypes.composite.000000000.sql",
        "difftypes.nopk.000000000.sql",
    ] {
        sql.extend(std::fs::read(dir.join(file))?);
        sql.push(b'\n');
    }
    let csv = dir.join("difftypes.csvtypes.000000000.csv");
    sql.extend(
        format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE csvtypes CHARACTER SET binary \
             FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' \
             LINES TERMINATED BY '\\n' IGNORE 1 LINES;\n",
            csv.display()
        )
        .into_bytes(),
    );
    server.mariadb_client(db, SQL_MODE, &sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_tidb_and_mariadb_agree_on_every_row() -> anyhow::Result<()> {
    let Some(server) = Server::from_env() else {
        return Ok(());
    };
    let pool = server.pool().await?;
    let work = tempfile::tempdir()?;
    let source = data_dir("differential");
    let sections = Sections {
        tidb: format!("sql-mode = \"{SQL_MODE}\"\n"),
        ..Sections::default()
    };

    // Local backend.
    let store_path = work.path().join("store");
    std::fs::create_dir_all(work.path().join("local"))?;
    let cfg = load_config(
        &Target::Local(store_path.clone()),
        &source,
        &work.path().join("local"),
        &sections,
    )?;
    import_ok(&cfg).await.context("local import")?;

    // Tidb backend into MariaDB, the database routed to one of the test's own.
    let tidb_db = "it_diff_tidb";
    server::drop_database(&pool, tidb_db).await?;
    std::fs::create_dir_all(work.path().join("tidb"))?;
    let tidb_sections = Sections {
        extra: format!(
            "[[routes]]\nschema-pattern = \"difftypes\"\ntarget-schema = \"{tidb_db}\"\n"
        ),
        ..sections.clone()
    };
    let cfg = load_config(
        &Target::Tidb(server.clone()),
        &source,
        &work.path().join("tidb"),
        &tidb_sections,
    )?;
    import_ok(&cfg).await.context("tidb import")?;

    // MariaDB's own load.
    let ref_db = "it_diff_reference";
    server::fresh_database(&pool, ref_db).await?;
    load_reference(&server, ref_db)?;

    let store = TargetStore::open(&store_path)?;
    let mut failures = Vec::new();
    for (table, count) in TABLES {
        let (model, local_rows) = local_table(&store, "difftypes", table)?;
        let columns: Vec<String> = model.columns.iter().map(|c| c.name.clone()).collect();
        let tidb_rows = mysql_table(&pool, tidb_db, table, &columns).await?;
        let ref_rows = mysql_table(&pool, ref_db, table, &columns).await?;
        let (local_rows, tidb_rows, ref_rows) = (
            normalise(&model, local_rows),
            normalise(&model, tidb_rows),
            normalise(&model, ref_rows),
        );
        if ref_rows.len() != count {
            failures.push(format!(
                "{table}: the reference has {} rows, the dataset {count}",
                ref_rows.len()
            ));
        }
        for (name, rows) in [("local", &local_rows), ("tidb", &tidb_rows)] {
            if let Err(e) = assert_same_rows(table, &model, "mariadb", &ref_rows, name, rows) {
                failures.push(format!("{e:#}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}
