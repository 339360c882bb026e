//! The tidb backend's SQL cannot be escaped by data or identifiers: a
//! property test through the built `importer` against the MariaDB of
//! `IMPORTER_TEST_MYSQL_URL`.
//!
//! Each case is a database, a table and three columns named from hostile
//! fragments (back-quotes, quotes, backslashes, spaces, `%`, dots, `;`,
//! `--`, `/*`, control characters, unicode), and rows of an INT
//! AUTO_INCREMENT key (so the auto-increment rebase runs on the names), a
//! VARBINARY of random bytes (NUL, 0x1A, `\`, quotes, CR/LF, invalid UTF-8)
//! and a TEXT of random characters with the same specials. The case is
//! written as a real dump — schema files with the names quoted as MySQL
//! does, half the rows as an SQL INSERT file (hex and quoted binary
//! literals), half as a CSV with a header of the hostile column names —
//! and imported twice with `backend = "tidb"`: once with the default
//! `sql-mode` and a backslash-escaping CSV dialect, once with
//! `NO_BACKSLASH_ESCAPES` (the dump and the importer's SQL quote
//! differently there) and `backslash-escape = false`. Then every name
//! (from `information_schema`) and every value (`HEX()`) must be what the
//! case holds, byte for byte; the server must hold no database beyond the
//! case's own and the ones it had before; and a canary table in another
//! database must be unchanged.
//!
//! Names in dump file names use the scanner's `%XX` unescaping for `%`,
//! `.`, `/` and control characters (`source::scan`). Generated names stay
//! within what MariaDB accepts: no NUL, no trailing white space, no characters
//! outside the BMP, short enough that MariaDB's `@XXXX` file-name encoding
//! of a table fits a file name.
//!
//! Deterministic: a fixed proptest seed and case count (CI stays fast);
//! `IMPORTER_SQLESC_CASES=N` runs more. Fixed regression cases run first.
//! The test expects no other test to create databases on the server while
//! it runs (cargo runs test binaries one after another).
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use backend_core::model::quote_identifier as q;
use crash_common::{RunEnd, exec, pool, run_importer, server};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sqlx::{MySqlPool, Row};

/// The proptest seed: fixed so CI runs the same cases every time.
const SEED: [u8; 32] = *b"importer-sql-escaping-cli-seed-1";
/// Generated cases per run (each imports twice).
const CASES: u32 = 12;
/// The database holding the canary table.
const CANARY_DB: &str = "sqlesc_canary";
/// `[lightning] task-info-schema-name` of every run.
const INFO_DB: &str = "sqlesc_info";

/// Fragments names are built from.
const NAME_FRAGMENTS: &[&str] = &[
    "`", "``", "'", "\"", "\\", " ", "%", "%2E", "%%", ".", "..", ";", "--", "-- ", "/*", "*/",
    "#", "/", "?", ",", "(", ")", "=", "@", "$", "\t", "\n", "\r", "é", "€", "字", "ß", "\u{feff}",
    "a", "Z", "0", "_", "-schema", ".sql",
];

/// Bytes the binary column favours.
const SPECIAL_BYTES: &[u8] = &[
    0, 0x1a, b'\\', b'\'', b'"', b'`', b'\n', b'\r', b'\t', 0x08, b'%', b'_', b',', b';', b'N',
    0x80, 0xc3, 0xff, 0xfe,
];

/// Characters the text column favours.
const SPECIAL_CHARS: &[char] = &[
    '\0',
    '\u{1a}',
    '\\',
    '\'',
    '"',
    '`',
    '\n',
    '\r',
    '\t',
    '\u{8}',
    'N',
    ',',
    ';',
    '-',
    '/',
    '*',
    'é',
    '€',
    '字',
    '😀',
    '\u{feff}',
    '\u{10ffff}',
];

/// One generated dump.
#[derive(Clone)]
struct Case {
    /// The database name before the per-run suffix.
    db: String,
    table: String,
    /// Key (INT), binary (VARBINARY) and text (TEXT) columns.
    cols: [String; 3],
    rows: Vec<(Vec<u8>, String)>,
}

/// Readable when a case fails: bytes in hex.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|(bin, text)| format!("(0x{}, {text:?})", hex(bin)))
            .collect();
        f.debug_struct("Case")
            .field("db", &self.db)
            .field("table", &self.table)
            .field("cols", &self.cols)
            .field("rows", &rows)
            .finish()
    }
}

/// How one import of a case quotes.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// `NO_BACKSLASH_ESCAPES` in `[tidb] sql-mode`, `backslash-escape = false`.
    no_backslash: bool,
}

const MODES: [Mode; 2] = [
    Mode {
        no_backslash: false,
    },
    Mode { no_backslash: true },
];

/// A name MariaDB accepts: at most `max` characters, no trailing white
/// space (`Incorrect column name 'b\t'`), not empty.
fn name_from(fragments: &[&str], max: usize) -> String {
    let mut s: String = fragments.concat().chars().take(max).collect();
    while s.ends_with(|c: char| c.is_ascii_whitespace()) {
        s.pop();
    }
    if s.is_empty() { "x".to_string() } else { s }
}

fn name(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(NAME_FRAGMENTS), 1..10)
        .prop_map(move |v| name_from(&v, max))
}

fn case() -> impl Strategy<Value = Case> {
    let blob = prop::collection::vec(
        prop_oneof![3 => prop::sample::select(SPECIAL_BYTES), 1 => any::<u8>()],
        0..40,
    );
    let text = prop::collection::vec(
        prop_oneof![3 => prop::sample::select(SPECIAL_CHARS), 1 => any::<char>()],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect::<String>());
    (
        name(20),
        name(20),
        [name(40), name(40), name(40)],
        prop::collection::vec((blob, text), 1..7),
    )
        .prop_map(|(db, table, cols, rows)| Case {
            db,
            table,
            // Distinct prefixes: column names compare case-insensitively.
            cols: [
                format!("k{}", cols[0]),
                format!("b{}", cols[1]),
                format!("t{}", cols[2]),
            ],
            rows,
        })
}

/// Cases that run before the generated ones: failures found, and names at
/// MariaDB's length limit.
fn regression_cases() -> Vec<Case> {
    let all_bytes: Vec<u8> = (0..=255).collect();
    vec![
        Case {
            db: name_from(&["`; DROP DATABASE ", CANARY_DB, "; -- ", "%2E.\\'\""], 40),
            table: name_from(&["t`", "'); DELETE FROM x; /*", "€"], 40),
            cols: [
                name_from(&["k` int, `z", "\\", &"é".repeat(64)], 64),
                name_from(&["b'", "\"", ")", &"`".repeat(64)], 64),
                name_from(&["t\\", "\n", "%", &"字".repeat(64)], 64),
            ],
            rows: vec![
                (all_bytes[..128].to_vec(), "\\N".into()),
                (all_bytes[128..].to_vec(), "\0\u{1a}\\'\"`\n\r\t😀".into()),
                (b"\\".to_vec(), "\\".into()),
                (b"'".to_vec(), "''".into()),
                (Vec::new(), String::new()),
                (b"\\N".to_vec(), "NULL".into()),
                (b"', 0x00); DROP TABLE x; -- ".to_vec(), "\\'; --".into()),
            ],
        },
        // Found: the primary key part `k`````  was unquoted twice to "k`", an
        // unknown column (fixed in `source::schema::key_part`).
        Case {
            db: "`".into(),
            table: "`".into(),
            cols: ["k``".into(), "b`".into(), "t`".into()],
            rows: vec![(b"__n".to_vec(), "*M".into())],
        },
    ]
}

/// `name` as a dump file-name component: `%`, `.`, `/` and control
/// characters `%XX`-escaped, the rest as is.
fn file_component(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        if matches!(ch, '%' | '.' | '/') || ch.is_control() {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                write!(out, "%{b:02X}").unwrap();
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// `bytes` as a quoted SQL string literal of a dump: mysqldump's escapes,
/// or only `''` under `NO_BACKSLASH_ESCAPES`.
fn sql_string(out: &mut Vec<u8>, bytes: &[u8], mode: Mode) {
    out.push(b'\'');
    for &b in bytes {
        match b {
            b'\'' if mode.no_backslash => out.extend_from_slice(b"''"),
            _ if mode.no_backslash => out.push(b),
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            b'\\' | b'\'' | b'"' => out.extend_from_slice(&[b'\\', b]),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
}

/// `bytes` as a quoted CSV field: `"` doubled, `\` escaped when the dialect
/// has `backslash-escape`.
fn csv_field(out: &mut Vec<u8>, bytes: &[u8], mode: Mode) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\"\""),
            b'\\' if !mode.no_backslash => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Writes `case` as a dump of database `db` into `dir`.
fn write_dump(dir: &Path, case: &Case, db: &str, mode: Mode) {
    std::fs::create_dir_all(dir).unwrap();
    let (fdb, ft) = (file_component(db), file_component(&case.table));
    let [k, b, t] = &case.cols;
    std::fs::write(
        dir.join(format!("{fdb}-schema-create.sql")),
        format!("CREATE DATABASE IF NOT EXISTS {};\n", q(db)),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{fdb}.{ft}-schema.sql")),
        format!(
            "CREATE TABLE {} (\n  {} int NOT NULL AUTO_INCREMENT,\n  {} varbinary(255) NOT NULL,\n  \
             {} text NOT NULL,\n  PRIMARY KEY ({})\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
            q(&case.table),
            q(k),
            q(b),
            q(t),
            q(k)
        ),
    )
    .unwrap();

    // The first half as SQL, the rest as CSV; except that a CSV without an
    // escape character cannot hold the text `\N` (it is the NULL marker,
    // quoted or not, as in Lightning), so such rows go to the SQL file.
    let half = case.rows.len().div_ceil(2);
    let in_csv = |i: usize, (bin, text): &(Vec<u8>, String)| {
        i >= half && !(mode.no_backslash && (bin == b"\\N" || text == "\\N"))
    };
    let mut sql = format!(
        "INSERT INTO {} ({},{},{}) VALUES\n",
        q(&case.table),
        q(k),
        q(b),
        q(t)
    )
    .into_bytes();
    let mut csv = Vec::new();
    for (i, col) in case.cols.iter().enumerate() {
        if i > 0 {
            csv.push(b',');
        }
        csv_field(&mut csv, col.as_bytes(), mode);
    }
    csv.push(b'\n');
    let mut first = true;
    for (i, row) in case.rows.iter().enumerate() {
        let (bin, text) = row;
        if in_csv(i, row) {
            csv.extend_from_slice(format!("{},", i + 1).as_bytes());
            csv_field(&mut csv, bin, mode);
            csv.push(b',');
            csv_field(&mut csv, text.as_bytes(), mode);
            csv.push(b'\n');
            continue;
        }
        if !first {
            sql.extend_from_slice(b",\n");
        }
        first = false;
        sql.extend_from_slice(format!("({},", i + 1).as_bytes());
        if i % 2 == 0 && !bin.is_empty() {
            sql.extend_from_slice(format!("0x{}", hex(bin)).as_bytes());
        } else {
            sql_string(&mut sql, bin, mode);
        }
        sql.push(b',');
        sql_string(&mut sql, text.as_bytes(), mode);
        sql.push(b')');
    }
    sql.extend_from_slice(b";\n");
    std::fs::write(dir.join(format!("{fdb}.{ft}.000000000.sql")), sql).unwrap();
    std::fs::write(dir.join(format!("{fdb}.{ft}.000000001.csv")), csv).unwrap();
}

fn write_config(
    dir: &Path,
    dump: &Path,
    srv: &(String, u16, String, String),
    mode: Mode,
) -> PathBuf {
    let path = dir.join("importer.toml");
    let sql_mode = if mode.no_backslash {
        "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER,NO_BACKSLASH_ESCAPES"
    } else {
        "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
    };
    let text = format!(
        r#"
[lightning]
level = "warn"
task-info-schema-name = "{INFO_DB}"

[checkpoint]
dsn = "{cp}"

[tikv-importer]
backend = "tidb"

[mydumper]
data-source-dir = "{src}"

[mydumper.csv]
header = true
backslash-escape = {escape}

[tidb]
host = "{host}"
port = {port}
user = "{user}"
password = "{password}"
sql-mode = "{sql_mode}"

[post-restore]
checksum = "required"
"#,
        cp = dir.join("cp.json").display(),
        src = dump.display(),
        escape = !mode.no_backslash,
        host = srv.0,
        port = srv.1,
        user = srv.2,
        password = srv.3,
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn strings(pool: &MySqlPool, sql: &str, bind: &[&str]) -> Vec<String> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in bind {
        query = query.bind(*b);
    }
    query
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

async fn databases(pool: &MySqlPool) -> BTreeSet<String> {
    strings(
        pool,
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA",
        &[],
    )
    .await
    .into_iter()
    .collect()
}

/// Everything the canary database holds, as text.
async fn canary_image(pool: &MySqlPool) -> Vec<String> {
    let mut image = strings(
        pool,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
        &[CANARY_DB],
    )
    .await;
    image.extend(
        strings(
            pool,
            &format!(
                "SELECT CONCAT(id, ':', HEX(v)) FROM {}.`canary` ORDER BY id",
                q(CANARY_DB)
            ),
            &[],
        )
        .await,
    );
    image
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Imports `case` in every mode and checks the server; `Err` says what
/// differs.
async fn check(
    pool: &MySqlPool,
    srv: &(String, u16, String, String),
    root: &Path,
    case: &Case,
    run: usize,
) -> Result<(), String> {
    for (m, mode) in MODES.iter().enumerate() {
        // A unique, still hostile, database name per import.
        let db = format!("{}_{run}{m}", case.db);
        let dir = root.join(format!("case-{run}-{m}"));
        let dump = dir.join("dump");
        write_dump(&dump, case, &db, *mode);
        let config = write_config(&dir, &dump, srv, *mode);
        let canary = canary_image(pool).await;
        let before = databases(pool).await;

        let end = run_importer(&config, "", None);
        let result = verify(pool, case, &db, end, &before, &canary).await;
        exec(pool, format!("DROP DATABASE IF EXISTS {}", q(&db))).await;
        exec(pool, format!("DROP DATABASE IF EXISTS {}", q(INFO_DB))).await;
        result.map_err(|e| format!("{mode:?}, database {db:?}: {e}"))?;
        std::fs::remove_dir_all(&dir).unwrap();
    }
    Ok(())
}

async fn verify(
    pool: &MySqlPool,
    case: &Case,
    db: &str,
    end: RunEnd,
    before: &BTreeSet<String>,
    canary: &[String],
) -> Result<(), String> {
    if !matches!(end, RunEnd::Success) {
        return Err(format!("import did not succeed: {end:?}"));
    }
    let after = databases(pool).await;
    let unexpected: Vec<&String> = after
        .difference(before)
        .filter(|d| *d != db && *d != INFO_DB)
        .collect();
    if !unexpected.is_empty() {
        return Err(format!("unexpected databases appeared: {unexpected:?}"));
    }
    let lost: Vec<&String> = before.difference(&after).collect();
    if !lost.is_empty() {
        return Err(format!("databases disappeared: {lost:?}"));
    }
    if !after.contains(db) {
        return Err(format!("database not created; the server has {after:?}"));
    }
    let now = canary_image(pool).await;
    if now != canary {
        return Err(format!("the canary changed: {canary:?} -> {now:?}"));
    }
    let tables = strings(
        pool,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
        &[db],
    )
    .await;
    if tables != [case.table.clone()] {
        return Err(format!("tables {tables:?}, expected [{:?}]", case.table));
    }
    let cols = strings(
        pool,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        &[db, &case.table],
    )
    .await;
    if cols != case.cols {
        return Err(format!("columns {cols:?}, expected {:?}", case.cols));
    }
    let [k, b, t] = &case.cols;
    let got: Vec<String> = strings(
        pool,
        &format!(
            "SELECT CONCAT({k}, ':', HEX({b}), ':', HEX({t})) FROM {}.{} ORDER BY {k}",
            q(db),
            q(&case.table),
            k = q(k),
            b = q(b),
            t = q(t),
        ),
        &[],
    )
    .await;
    let want: Vec<String> = case
        .rows
        .iter()
        .enumerate()
        .map(|(i, (bin, text))| format!("{}:{}:{}", i + 1, hex(bin), hex(text.as_bytes())))
        .collect();
    if got != want {
        return Err(format!("rows differ:\n got  {got:?}\n want {want:?}"));
    }
    Ok(())
}

#[test]
fn hostile_names_and_values_land_byte_for_byte_through_the_tidb_backend() {
    let Some(srv) = server() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt.block_on(pool(&srv));
    let tmp = tempfile::tempdir().unwrap();
    rt.block_on(async {
        exec(&pool, format!("DROP DATABASE IF EXISTS {}", q(CANARY_DB))).await;
        exec(&pool, format!("DROP DATABASE IF EXISTS {}", q(INFO_DB))).await;
        exec(&pool, format!("CREATE DATABASE {}", q(CANARY_DB))).await;
        exec(
            &pool,
            format!(
                "CREATE TABLE {}.`canary` (id int PRIMARY KEY, v varbinary(64)); \
                 INSERT INTO {}.`canary` VALUES (1, 'keep'), (2, 0x00FF27)",
                q(CANARY_DB),
                q(CANARY_DB)
            ),
        )
        .await;
    });
    let run = AtomicUsize::new(0);
    let check_case = |case: &Case| {
        let n = run.fetch_add(1, Ordering::SeqCst);
        rt.block_on(check(&pool, &srv, tmp.path(), case, n))
    };

    for (i, case) in regression_cases().iter().enumerate() {
        if let Err(e) = check_case(case) {
            panic!("regression case {i} failed: {e}\n{case:#?}");
        }
    }

    let cases = std::env::var("IMPORTER_SQLESC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let result = runner.run(&case(), |case| {
        check_case(&case).map_err(TestCaseError::fail)
    });
    rt.block_on(exec(
        &pool,
        format!("DROP DATABASE IF EXISTS {}", q(CANARY_DB)),
    ));
    if let Err(e) = result {
        panic!("{e}");
    }
}
