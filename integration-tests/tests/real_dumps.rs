//! Dumps made by tools nobody here wrote, imported through the CLI library
//! with both backends and compared with a reference copy in MariaDB:
//!
//! - `mydumper` of a database filled by `sysbench oltp_common prepare`
//!   (reference: the dumped database itself);
//! - `mariadb-dump` of the differential dataset (loaded by MariaDB's own
//!   client), split per table into dumpling file names;
//! - TPC-H from `tpchgen-cli` as CSV with our MySQL DDL (reference:
//!   `LOAD DATA` of the same files).
//!
//! The tidb import must match the reference's row counts and
//! `CHECKSUM TABLE`; the local store must match it row by row. Sizes are
//! small by default; `IMPORTER_LARGE_TESTS=1` runs bigger ones.

use std::path::Path;
use std::process::Command;

use anyhow::Context as _;
use backend_local::TargetStore;
use integration_tests::cli::{Sections, Target, import_ok, load_config};
use integration_tests::compare::{Imported, check_imports};
use integration_tests::server::{self, Server};
use integration_tests::{data_dir, tools};
use sqlx::mysql::MySqlPool;

/// Imports `source` into a local store under `work` (database names as in
/// the dump) and through the tidb backend with `schema` routed to
/// `tidb_db`; returns the store path.
async fn import_both(
    server: &Server,
    pool: &MySqlPool,
    source: &Path,
    work: &Path,
    schema: &str,
    tidb_db: &str,
    sections: &Sections,
) -> anyhow::Result<std::path::PathBuf> {
    let store = work.join("store");
    let local_work = work.join("local");
    std::fs::create_dir_all(&local_work)?;
    let cfg = load_config(&Target::Local(store.clone()), source, &local_work, sections)?;
    import_ok(&cfg).await.context("local import")?;

    server::drop_database(pool, tidb_db).await?;
    let tidb_work = work.join("tidb");
    std::fs::create_dir_all(&tidb_work)?;
    let mut tidb_sections = sections.clone();
    tidb_sections.extra.push_str(&format!(
        "\n[[routes]]\nschema-pattern = \"{schema}\"\ntarget-schema = \"{tidb_db}\"\n"
    ));
    let cfg = load_config(
        &Target::Tidb(server.clone()),
        source,
        &tidb_work,
        &tidb_sections,
    )?;
    import_ok(&cfg).await.context("tidb import")?;
    Ok(store)
}

fn mysql_args(server: &Server) -> Vec<String> {
    vec![
        format!("--host={}", server.host),
        format!("--port={}", server.port),
        format!("--user={}", server.user),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mydumper_dump_of_sysbench_tables() -> anyhow::Result<()> {
    let Some(server) = Server::from_env() else {
        return Ok(());
    };
    if !tools::require("sysbench") || !tools::require("mydumper") {
        return Ok(());
    }
    let pool = server.pool().await?;
    let src = "it_rd_sysbench_src";
    server::fresh_database(&pool, src).await?;
    let (tables, rows) = if tools::large() {
        (4, 200_000)
    } else {
        (3, 4_000)
    };
    let mut prepare = Command::new("sysbench");
    prepare
        .arg("oltp_common")
        .arg("--db-driver=mysql")
        .arg(format!("--mysql-host={}", server.host))
        .arg(format!("--mysql-port={}", server.port))
        .arg(format!("--mysql-user={}", server.user))
        .arg(format!("--mysql-db={src}"))
        .arg(format!("--tables={tables}"))
        .arg(format!("--table-size={rows}"))
        .arg("prepare");
    if !server.password.is_empty() {
        prepare.arg(format!("--mysql-password={}", server.password));
    }
    tools::run(&mut prepare)?;

    let work = tempfile::tempdir()?;
    let dump = work.path().join("dump");
    let mut mydumper = Command::new("mydumper");
    mydumper
        .args([
            "-h",
            &server.host,
            "-P",
            &server.port.to_string(),
            "-u",
            &server.user,
        ])
        .args(["-B", src, "-o"])
        .arg(&dump)
        // Several chunk files per table, and compressed ones for half the run.
        .args(["-r", &(rows / 3).to_string(), "-t", "2"]);
    if !server.password.is_empty() {
        mydumper.args(["-p", &server.password]);
    }
    tools::run(&mut mydumper)?;
    let names = tools::files(&dump)?;
    assert!(
        names.iter().any(|n| n.ends_with(".00001.sql")),
        "mydumper made one chunk per table only: {names:?}"
    );

    let tidb_db = "it_rd_sysbench_tidb";
    let store = import_both(
        &server,
        &pool,
        &dump,
        work.path(),
        src,
        tidb_db,
        &Sections::default(),
    )
    .await?;
    let store = TargetStore::open(&store)?;
    let names: Vec<String> = (1..=tables).map(|i| format!("sbtest{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let counts = check_imports(
        &pool,
        &Imported {
            reference_db: src,
            local: Some((&store, src)),
            tidb_db: Some(tidb_db),
        },
        &names,
    )
    .await?;
    assert!(counts.iter().all(|&c| c == rows), "{counts:?}");
    Ok(())
}

/// Writes `mariadb-dump`'s output for each table of `db` as dumpling files
/// (`{schema}.{table}-schema.sql`, `{schema}.{table}.000000000.sql`) plus
/// the schema-create file.
fn mariadb_dump_split(
    server: &Server,
    db: &str,
    schema: &str,
    tables: &[&str],
    out: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join(format!("{schema}-schema-create.sql")),
        format!("CREATE DATABASE `{schema}`;\n"),
    )?;
    for table in tables {
        let dump = |extra: &[&str]| -> anyhow::Result<Vec<u8>> {
            let mut cmd = Command::new("mariadb-dump");
            cmd.arg("--no-defaults")
                .args(mysql_args(server))
                .args(extra)
                .args([db, table]);
            if !server.password.is_empty() {
                cmd.env("MYSQL_PWD", &server.password);
            }
            tools::run(&mut cmd)
        };
        // The schema dump carries mariadb-dump's comments, SET statements and
        // DROP TABLE; the data dump LOCK TABLES, DISABLE KEYS and
        // extended INSERTs with hex binary: all as the tool writes them.
        let schema_sql = dump(&["--no-data", "--skip-add-drop-table"])?;
        std::fs::write(out.join(format!("{schema}.{table}-schema.sql")), schema_sql)?;
        let data_sql = dump(&[
            "--no-create-info",
            "--hex-blob",
            "--net-buffer-length=16384",
        ])?;
        std::fs::write(
            out.join(format!("{schema}.{table}.000000000.sql")),
            data_sql,
        )?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_dump_of_the_all_types_dataset() -> anyhow::Result<()> {
    let Some(server) = Server::from_env() else {
        return Ok(());
    };
    if !tools::require("mariadb-dump") || !tools::require("mariadb") {
        return Ok(());
    }
    let pool = server.pool().await?;
    // The reference: the differential dataset loaded by MariaDB's client.
    let src = "it_rd_mdump_src";
    server::fresh_database(&pool, src).await?;
    let dir = data_dir("differential");
    let mut sql = Vec::new();
    let tables = ["alltypes", "composite", "nopk"];
    for table in tables {
        sql.extend(std::fs::read(
            dir.join(format!("difftypes.{table}-schema.sql")),
        )?);
    }
    for file in [
        "difftypes.alltypes.000000000.sql",
        "difftypes.alltypes.000000001.sql",
        "difftypes.composite.000000000.sql",
        "difftypes.nopk.000000000.sql",
    ] {
        sql.extend(std::fs::read(dir.join(file))?);
    }
    server.mariadb_client(src, "ONLY_FULL_GROUP_BY", &sql)?;

    let work = tempfile::tempdir()?;
    let dump = work.path().join("dump");
    mariadb_dump_split(&server, src, "mdump", &tables, &dump)?;
    let tidb_db = "it_rd_mdump_tidb";
    let store = import_both(
        &server,
        &pool,
        &dump,
        work.path(),
        "mdump",
        tidb_db,
        &Sections::default(),
    )
    .await?;
    let store = TargetStore::open(&store)?;
    let counts = check_imports(
        &pool,
        &Imported {
            reference_db: src,
            local: Some((&store, "mdump")),
            tidb_db: Some(tidb_db),
        },
        &tables,
    )
    .await?;
    assert_eq!(counts, [156, 150, 122]);
    Ok(())
}

/// TPC-H tables in MySQL DDL (TPC-H specification types).
const TPCH_TABLES: [(&str, &str); 8] = [
    (
        "region",
        "r_regionkey INT NOT NULL, r_name CHAR(25) NOT NULL, r_comment VARCHAR(152), PRIMARY KEY (r_regionkey)",
    ),
    (
        "nation",
        "n_nationkey INT NOT NULL, n_name CHAR(25) NOT NULL, n_regionkey INT NOT NULL, n_comment VARCHAR(152), PRIMARY KEY (n_nationkey), KEY (n_regionkey)",
    ),
    (
        "part",
        "p_partkey INT NOT NULL, p_name VARCHAR(55) NOT NULL, p_mfgr CHAR(25) NOT NULL, p_brand CHAR(10) NOT NULL, p_type VARCHAR(25) NOT NULL, p_size INT NOT NULL, p_container CHAR(10) NOT NULL, p_retailprice DECIMAL(15,2) NOT NULL, p_comment VARCHAR(23) NOT NULL, PRIMARY KEY (p_partkey)",
    ),
    (
        "supplier",
        "s_suppkey INT NOT NULL, s_name CHAR(25) NOT NULL, s_address VARCHAR(40) NOT NULL, s_nationkey INT NOT NULL, s_phone CHAR(15) NOT NULL, s_acctbal DECIMAL(15,2) NOT NULL, s_comment VARCHAR(101) NOT NULL, PRIMARY KEY (s_suppkey), KEY (s_nationkey)",
    ),
    (
        "partsupp",
        "ps_partkey INT NOT NULL, ps_suppkey INT NOT NULL, ps_availqty INT NOT NULL, ps_supplycost DECIMAL(15,2) NOT NULL, ps_comment VARCHAR(199) NOT NULL, PRIMARY KEY (ps_partkey, ps_suppkey)",
    ),
    (
        "customer",
        "c_custkey INT NOT NULL, c_name VARCHAR(25) NOT NULL, c_address VARCHAR(40) NOT NULL, c_nationkey INT NOT NULL, c_phone CHAR(15) NOT NULL, c_acctbal DECIMAL(15,2) NOT NULL, c_mktsegment CHAR(10) NOT NULL, c_comment VARCHAR(117) NOT NULL, PRIMARY KEY (c_custkey)",
    ),
    (
        "orders",
        "o_orderkey BIGINT NOT NULL, o_custkey INT NOT NULL, o_orderstatus CHAR(1) NOT NULL, o_totalprice DECIMAL(15,2) NOT NULL, o_orderdate DATE NOT NULL, o_orderpriority CHAR(15) NOT NULL, o_clerk CHAR(15) NOT NULL, o_shippriority INT NOT NULL, o_comment VARCHAR(79) NOT NULL, PRIMARY KEY (o_orderkey), KEY (o_custkey, o_orderdate)",
    ),
    (
        "lineitem",
        "l_orderkey BIGINT NOT NULL, l_partkey INT NOT NULL, l_suppkey INT NOT NULL, l_linenumber INT NOT NULL, l_quantity DECIMAL(15,2) NOT NULL, l_extendedprice DECIMAL(15,2) NOT NULL, l_discount DECIMAL(15,2) NOT NULL, l_tax DECIMAL(15,2) NOT NULL, l_returnflag CHAR(1) NOT NULL, l_linestatus CHAR(1) NOT NULL, l_shipdate DATE NOT NULL, l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL, l_shipinstruct CHAR(25) NOT NULL, l_shipmode CHAR(10) NOT NULL, l_comment VARCHAR(44) NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber), KEY (l_shipdate)",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_csv_from_tpchgen() -> anyhow::Result<()> {
    let Some(server) = Server::from_env() else {
        return Ok(());
    };
    if !tools::require("tpchgen-cli") {
        return Ok(());
    }
    let pool = server.pool().await?;
    let work = tempfile::tempdir()?;
    let generated = work.path().join("generated");
    let scale = if tools::large() { "0.1" } else { "0.01" };
    tools::run(
        Command::new("tpchgen-cli")
            .args(["csv", "-s", scale, "--output-dir"])
            .arg(&generated),
    )?;

    // Dumpling layout: schema files we write, data files renamed.
    let dump = work.path().join("dump");
    std::fs::create_dir_all(&dump)?;
    std::fs::write(
        dump.join("tpch-schema-create.sql"),
        "CREATE DATABASE `tpch`;\n",
    )?;
    let reference = "it_rd_tpch_ref";
    server::fresh_database(&pool, reference).await?;
    let mut load = String::new();
    for (table, columns) in TPCH_TABLES {
        let create = format!("CREATE TABLE `{table}` ({columns});\n");
        std::fs::write(dump.join(format!("tpch.{table}-schema.sql")), &create)?;
        let data = dump.join(format!("tpch.{table}.000000000.csv"));
        std::fs::rename(generated.join(format!("{table}.csv")), &data)
            .with_context(|| format!("tpchgen-cli made no {table}.csv"))?;
        load.push_str(&create);
        load.push_str(&format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE `{table}` FIELDS TERMINATED BY ',' \
             OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES;\n",
            data.display()
        ));
    }
    server.mariadb_client(reference, "ONLY_FULL_GROUP_BY", load.as_bytes())?;

    let tidb_db = "it_rd_tpch_tidb";
    let store = import_both(
        &server,
        &pool,
        &dump,
        work.path(),
        "tpch",
        tidb_db,
        &Sections::default(),
    )
    .await?;
    let store = TargetStore::open(&store)?;
    let names: Vec<&str> = TPCH_TABLES.iter().map(|(t, _)| *t).collect();
    let counts = check_imports(
        &pool,
        &Imported {
            reference_db: reference,
            local: Some((&store, "tpch")),
            tidb_db: Some(tidb_db),
        },
        &names,
    )
    .await?;
    // TPC-H's fixed tables.
    assert_eq!((counts[0], counts[1]), (5, 25));
    if scale == "0.01" {
        assert_eq!(counts[7], 60_175, "lineitem rows at scale 0.01");
    }
    Ok(())
}
