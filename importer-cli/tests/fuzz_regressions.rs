//! Inputs the fuzz targets (`fuzz`) found wrong, kept as
//! tests of the fix. Each names the target and what was wrong.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::sync::Arc;

use dump_source::sql::SqlParser;
use dump_source::{ParserOptions, RowParser};
use importer_cli::config::{LoadOptions, load};

fn sql_rows(data: &[u8], offset: u64, row_id: i64) -> (Vec<(i64, u64, u64)>, Option<String>) {
    let start = usize::try_from(offset).unwrap();
    let mut p = SqlParser::new(
        Box::new(Cursor::new(data[start..].to_vec())),
        Arc::from("fuzz.sql"),
        offset,
        row_id,
        false,
        ParserOptions::default(),
    );
    let mut rows = Vec::new();
    loop {
        match p.read_row() {
            Ok(Some(r)) => rows.push((r.row_id, r.start_offset, r.end_offset)),
            Ok(None) => return (rows, None),
            Err(e) => return (rows, Some(e.to_string())),
        }
    }
}

/// `sql`: after a tuple with no `;` before the next `INSERT`, the first run
/// stops with a syntax error, but a parser resumed right after that tuple
/// (a checkpoint's position) accepted the `INSERT` and imported on.
#[test]
fn sql_resumed_after_a_tuple_accepts_what_the_first_run_did() {
    let data = b"INSERT INTO t VALUES (0,'one')INSERT INTO t VALUES (1,'two');\n";
    let (rows, err) = sql_rows(data, 0, 0);
    assert_eq!(rows, [(1, 21, 30)]);
    let err = err.unwrap();
    assert!(
        err.contains("fuzz.sql") && err.contains("offset 30"),
        "{err}"
    );
    let (rows, err) = sql_rows(data, 30, 1);
    assert_eq!(rows, []);
    assert_eq!(
        err.unwrap(),
        "fuzz.sql: offset 30, line 1: expected ',' or ';' after a row"
    );
    // Still resumes where a tuple is followed by `,` or `;`.
    let data = b"INSERT INTO t VALUES (0,'one'),(1,'two');INSERT INTO t VALUES (2,'x');";
    assert_eq!(
        sql_rows(data, 30, 1),
        (vec![(2, 31, 40), (3, 62, 69)], None)
    );
    assert_eq!(sql_rows(data, 40, 2), (vec![(3, 62, 69)], None));
}

/// `config`: a loaded config, written back as TOML, loads again to the same
/// config (here: an empty file, all defaults).
#[test]
fn config_written_back_loads_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "").unwrap();
    let opts = LoadOptions {
        file: Some(path.clone()),
        ..LoadOptions::default()
    };
    let config = load(&opts).unwrap().config;
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let again = load(&opts).unwrap_or_else(|e| panic!("{e}")).config;
    assert_eq!(again, config);
}

/// `schema`: a `CREATE TABLE` naming one column twice was accepted (two
/// columns of the same name); MySQL refuses it, and so do we now.
#[test]
fn schema_with_a_duplicate_column_is_refused() {
    let err = dump_source::schema::parse_create_table(
        "CREATE TABLE `t` (\n `e` enum('a','b') NOT NULL,\n `j` json,\n `E` int GENERATED ALWAYS AS (1) VIRTUAL\n);\n",
        "db.t-schema.sql",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("db.t-schema.sql") && err.contains("duplicate column name \"E\""),
        "{err}"
    );
}

/// `schema`: `CREATE DATABASE `` …` and `CREATE TABLE `` (…)` (empty
/// quoted names) parsed as a database or table with no name.
#[test]
fn schemas_with_empty_names_are_refused() {
    let text = "/*nary*/;\nCREATE DATABASE /*!2 I@F NOT\u{1}CREATE ALGORITHM=UNDEF `a`W `v` AR SELECT EXISTS*/ `` ` */ FaRO;\nM `t`;\n";
    let err = dump_source::schema::parse_create_database(text, "db-schema-create.sql")
        .map(|db| format!("parsed as database {:?}", db.name))
        .unwrap_or_else(|e| e.to_string());
    assert!(
        err.contains("db-schema-create.sql") && !err.starts_with("parsed as"),
        "{err}"
    );
    let err = dump_source::schema::parse_create_database("CREATE DATABASE ``;", "x.sql")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.sql") && err.contains("empty"), "{err}");
    // The same for a table.
    let err = dump_source::schema::parse_create_table(
        "CREATE TABLE `` (\n  `id` int NOT NULL\n);\n",
        "db.t-schema.sql",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("db.t-schema.sql") && err.contains("without a table name"),
        "{err}"
    );
}

/// `kv`: a JSON double printed and parsed back was one ulp off (serde_json's
/// default float parser is not exact; `float_roundtrip` is on now).
#[test]
fn json_double_text_round_trips_exactly() {
    use backend_local::codec::json;
    let (code, payload) = json::parse_text("2.3347824476185785e+241").unwrap();
    let text = json::to_text(code, &payload).unwrap();
    assert_eq!(json::parse_text(&text).unwrap(), (code, payload.clone()));
    let v: f64 = "2.3347824476185785e+241".parse().unwrap();
    assert_eq!(payload, v.to_le_bytes());
}

/// `sql`: finding rows without reading their values took `--` followed by
/// a carriage return inside a run of signs for a comment, as a parse does
/// only between values, and skipped past the row's end.
#[test]
fn sql_rows_found_without_values_end_where_parsed_rows_do() {
    let data = b"INSERT INTO t VALUES (1,0b1),(3,5e3,_bicccb-----------\r-21),(4,-- c\n5);";
    let (parsed, err) = sql_rows(data, 0, 0);
    assert_eq!(err, None);
    let mut p = SqlParser::new(
        Box::new(Cursor::new(data.to_vec())),
        Arc::from("fuzz.sql"),
        0,
        0,
        false,
        ParserOptions::default(),
    )
    .skipping_values();
    let mut found = Vec::new();
    while let Some(r) = p.read_row().unwrap() {
        assert!(r.values.is_empty());
        found.push((r.row_id, r.start_offset, r.end_offset));
    }
    assert_eq!(found, parsed);
}
