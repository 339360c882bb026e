//! Table contents from both targets as the same normalised rows.
//!
//! The local store is read with its own CSV export
//! ([`backend_local::store::export_table`], parsed by [`parse_export_csv`]);
//! MariaDB with a `SELECT` over the text protocol ([`mysql_table`]), whose
//! values are MySQL's own text rendering. Both then go through [`normalise`],
//! which evens out what legitimately differs in formatting: float digits
//! (compared as the column's precision), JSON spacing and key order
//! (compared as parsed documents). Rows are compared as sorted multisets, so
//! tables without an integer handle (where the store's order is not the key
//! order) compare as well.

use std::path::Path;

use anyhow::{Context as _, bail};
use backend_core::model::{ColumnType, TableInfo};
use backend_local::TargetStore;
use backend_local::catalog::Catalog;
use backend_local::store::{Format, export_table};
use sqlx::Row as _;
use sqlx::mysql::MySqlPool;

use crate::server;

/// One value: its text bytes, `None` for NULL.
pub type Cell = Option<Vec<u8>>;

/// Parses [`export_table`]'s CSV: a header line, then rows; `\N` unquoted is
/// NULL; quoted fields double `"` and escape `\` as `\\`; fields may hold
/// line breaks inside quotes. Returns the header names and the rows.
pub fn parse_export_csv(data: &[u8]) -> anyhow::Result<(Vec<String>, Vec<Vec<Cell>>)> {
    let mut rows = Vec::new();
    let mut row: Vec<Cell> = Vec::new();
    let mut i = 0;
    let mut line = 1usize;
    while i < data.len() {
        // One field.
        let cell = if data[i] == b'"' {
            i += 1;
            let mut out = Vec::new();
            loop {
                match data.get(i) {
                    None => bail!("line {line}: unterminated quoted field"),
                    Some(b'"') if data.get(i + 1) == Some(&b'"') => {
                        out.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *data
                            .get(i + 1)
                            .with_context(|| format!("line {line}: `\\` at the end"))?;
                        out.push(c);
                        i += 2;
                    }
                    Some(&c) => {
                        if c == b'\n' {
                            line += 1;
                        }
                        out.push(c);
                        i += 1;
                    }
                }
            }
            Some(out)
        } else {
            let end = data[i..]
                .iter()
                .position(|&c| c == b',' || c == b'\n')
                .map_or(data.len(), |p| i + p);
            let field = &data[i..end];
            i = end;
            if field == b"\\N" {
                None
            } else {
                Some(field.to_vec())
            }
        };
        row.push(cell);
        match data.get(i) {
            Some(b',') => i += 1,
            Some(b'\n') => {
                i += 1;
                line += 1;
                rows.push(std::mem::take(&mut row));
            }
            None => rows.push(std::mem::take(&mut row)),
            Some(&c) => bail!("line {line}: unexpected byte {c:#04x} after a field"),
        }
    }
    if rows.is_empty() {
        bail!("the export has no header line");
    }
    let header = rows
        .remove(0)
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.unwrap_or_default()).into_owned())
        .collect();
    Ok((header, rows))
}

/// Every row of `db`.`table` in the local store, with the table model the
/// catalog holds.
pub fn local_table(
    store: &TargetStore,
    db: &str,
    table: &str,
) -> anyhow::Result<(TableInfo, Vec<Vec<Cell>>)> {
    let entry = Catalog::new(store.db())
        .require_table(db, table)
        .with_context(|| format!("table {db}.{table} in the local store"))?;
    let mut csv = Vec::new();
    export_table(store.db(), db, table, Format::Csv, &mut csv)
        .with_context(|| format!("exporting {db}.{table}"))?;
    let (_, rows) = parse_export_csv(&csv).with_context(|| format!("parsing {db}.{table}"))?;
    Ok((entry.table, rows))
}

/// Opens the store at `path` (no backend may hold it) and reads a table.
pub fn local_table_at(
    path: &Path,
    db: &str,
    table: &str,
) -> anyhow::Result<(TableInfo, Vec<Vec<Cell>>)> {
    let store =
        TargetStore::open(path).with_context(|| format!("opening the store {}", path.display()))?;
    local_table(&store, db, table)
}

/// Every row of `db`.`table` on MariaDB, columns in table order, values as
/// the server renders them.
pub async fn mysql_table(
    pool: &MySqlPool,
    db: &str,
    table: &str,
    columns: &[String],
) -> anyhow::Result<Vec<Vec<Cell>>> {
    let list: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    let sql = format!("SELECT {} FROM `{db}`.`{table}`", list.join(","));
    let rows = server::query(pool, &sql).await?;
    rows.iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| Ok(r.try_get_unchecked::<Option<Vec<u8>>, _>(i)?))
                .collect()
        })
        .collect()
}

/// Evens out formatting differences column by column (see the module docs)
/// and sorts the rows.
pub fn normalise(table: &TableInfo, rows: Vec<Vec<Cell>>) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&table.columns)
                .map(|(cell, col)| cell.map(|v| normalise_value(col.field_type.tp, v)))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn normalise_value(tp: ColumnType, v: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&v);
    match tp {
        ColumnType::Float => match text.parse::<f32>() {
            // FLOAT keeps ~6 significant digits in MySQL's rendering.
            Ok(f) => format!("{:.5e}", f64::from(f)).into_bytes(),
            Err(_) => v,
        },
        ColumnType::Double => match text.parse::<f64>() {
            Ok(f) => format!("{f:.14e}").into_bytes(),
            Err(_) => v,
        },
        ColumnType::Json => match serde_json::from_slice::<serde_json::Value>(&v) {
            Ok(doc) => doc.to_string().into_bytes(),
            Err(_) => v,
        },
        _ => v,
    }
}

/// Compares two normalised row sets; the error shows the first differing
/// rows (values printed with escapes) and the counts.
pub fn assert_same_rows(
    what: &str,
    table: &TableInfo,
    left_name: &str,
    left: &[Vec<Cell>],
    right_name: &str,
    right: &[Vec<Cell>],
) -> anyhow::Result<()> {
    if left == right {
        return Ok(());
    }
    let show = |row: &[Cell]| -> String {
        row.iter()
            .zip(&table.columns)
            .map(|(c, col)| match c {
                None => format!("{}=NULL", col.name),
                Some(v) => format!("{}={:?}", col.name, String::from_utf8_lossy(v)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut diffs = Vec::new();
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        if l != r {
            diffs.push(format!(
                "row {i}:\n  {left_name}: {}\n  {right_name}: {}",
                show(l),
                show(r)
            ));
            if diffs.len() == 5 {
                break;
            }
        }
    }
    bail!(
        "{what}: {left_name} has {} rows, {right_name} has {}; first differences:\n{}",
        left.len(),
        right.len(),
        diffs.join("\n")
    )
}

/// `CHECKSUM TABLE` of `db`.`table` (`None` when the server reports NULL).
pub async fn mysql_checksum(
    pool: &MySqlPool,
    db: &str,
    table: &str,
) -> anyhow::Result<Option<i64>> {
    let rows = server::query(pool, &format!("CHECKSUM TABLE `{db}`.`{table}`")).await?;
    let row = rows
        .first()
        .with_context(|| format!("CHECKSUM TABLE {db}.{table} returned nothing"))?;
    Ok(row.try_get::<Option<i64>, _>(1)?)
}

/// Where the same data was imported, for [`check_imports`].
#[derive(Debug)]
pub struct Imported<'a> {
    /// The reference database on MariaDB (loaded by MariaDB's own tools).
    pub reference_db: &'a str,
    /// The local store and the database in it.
    pub local: Option<(&'a TargetStore, &'a str)>,
    /// The database the tidb backend imported into.
    pub tidb_db: Option<&'a str>,
}

/// Checks every table: the tidb import has the reference's row count and
/// `CHECKSUM TABLE`; the local store has the reference's rows, compared
/// value by value after [`normalise`]. Returns the reference row counts;
/// fails listing every mismatch.
pub async fn check_imports(
    pool: &MySqlPool,
    imported: &Imported<'_>,
    tables: &[&str],
) -> anyhow::Result<Vec<usize>> {
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for &table in tables {
        let ref_db = imported.reference_db;
        let count_sql = |db: &str| format!("SELECT COUNT(*) FROM `{db}`.`{table}`");
        let ref_count: i64 = server::query(pool, &count_sql(ref_db)).await?[0].try_get(0)?;
        counts.push(usize::try_from(ref_count)?);
        if let Some(db) = imported.tidb_db {
            let count: i64 = server::query(pool, &count_sql(db)).await?[0].try_get(0)?;
            let (want, got) = (
                mysql_checksum(pool, ref_db, table).await?,
                mysql_checksum(pool, db, table).await?,
            );
            if count != ref_count || want != got {
                failures.push(format!(
                    "{table} (tidb): {count} rows, checksum {got:?}; reference {ref_count} rows, checksum {want:?}"
                ));
            }
        }
        if let Some((store, db)) = imported.local {
            let (model, local_rows) = local_table(store, db, table)?;
            let columns: Vec<String> = model.columns.iter().map(|c| c.name.clone()).collect();
            let ref_rows = mysql_table(pool, ref_db, table, &columns).await?;
            let (ref_rows, local_rows) =
                (normalise(&model, ref_rows), normalise(&model, local_rows));
            if let Err(e) =
                assert_same_rows(table, &model, "reference", &ref_rows, "local", &local_rows)
            {
                failures.push(format!("{e:#}"));
            }
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n\n"));
    }
    Ok(counts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn export_csv_parses_quotes_escapes_nulls_and_line_breaks() {
        let csv = b"\"a\",\"b\",\"c\"\n1,\"x\"\"y\\\\z\",\\N\n2,\"line\nbreak\",\"\"\n";
        let (header, rows) = parse_export_csv(csv).unwrap();
        assert_eq!(header, ["a", "b", "c"]);
        assert_eq!(
            rows,
            vec![
                vec![Some(b"1".to_vec()), Some(b"x\"y\\z".to_vec()), None],
                vec![
                    Some(b"2".to_vec()),
                    Some(b"line\nbreak".to_vec()),
                    Some(Vec::new())
                ],
            ]
        );
        assert!(parse_export_csv(b"\"a\n").is_err());
    }

    #[test]
    fn floats_and_json_normalise() {
        assert_eq!(
            normalise_value(ColumnType::Float, b"3.40282e38".to_vec()),
            normalise_value(ColumnType::Float, b"3.4028235e38".to_vec())
        );
        assert_eq!(
            normalise_value(ColumnType::Json, br#"{"b": 1, "a": [1, 2]}"#.to_vec()),
            normalise_value(ColumnType::Json, br#"{"a":[1,2],"b":1}"#.to_vec())
        );
    }
}
