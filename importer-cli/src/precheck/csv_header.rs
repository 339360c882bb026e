//! Whether the CSV files' first lines agree with `[mydumper.csv] header`,
//! checked before any row is imported (Lightning's CSV header check).
//!
//! With `header = true` the first line of each CSV file must name columns
//! of its table; one that does not is a warning (the table then fails on
//! its first row, writing nothing wrong). With `header = false` a first line whose every field names
//! a column of the table looks like a header that would be imported as a
//! row: that is a failure that stops the import when the line cannot be a
//! row — it is the same in two files of the table, or a field falls on a
//! column that is not a string (an `INT` column cannot hold `id`) — and a
//! warning otherwise, as in Lightning.

use backend_core::model::TableInfo;
use backend_core::{Datum, SourceFormat};
use dump_source::csv::CsvOptions;
use dump_source::scan::{DataFile, ScanResult, TableSource};
use dump_source::{self as source, ParserOptions, Row, RowParser};

/// What the check found.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Problems that stop the import.
    pub(super) fatal: Vec<String>,
    /// Problems reported as warnings.
    pub(super) warnings: Vec<String>,
}

/// Checks the CSV files of `tables` (with their models) against `csv`.
pub(super) fn check(
    scan: &ScanResult,
    tables: &[(&TableSource, TableInfo)],
    csv: &CsvOptions,
    parser: &ParserOptions,
) -> Findings {
    let mut found = Findings::default();
    for (source, info) in tables {
        if csv.header {
            // The table fails on its first row anyway, without writing a
            // wrong row: a warning, and the other tables are imported.
            if let Some(problem) = header_names_columns(scan, source, info, csv, parser) {
                found.warnings.push(problem);
            }
        } else {
            header_looks_like_data(scan, source, info, csv, parser, &mut found);
        }
    }
    found
}

/// `header = true`: the first CSV file's header must name the table's
/// columns.
fn header_names_columns(
    scan: &ScanResult,
    source: &TableSource,
    info: &TableInfo,
    csv: &CsvOptions,
    parser: &ParserOptions,
) -> Option<String> {
    let file = csv_files(source).next()?;
    let name = file.path.display().to_string();
    let (p, _) = first_row(scan, file, csv, parser)?;
    let columns = p.columns().map(<[String]>::to_vec);
    source::column_permutation(info, columns.as_deref(), &name)
        .err()
        .map(|e| {
            format!(
                "{e} (with [mydumper.csv] header = true the first line must name the columns; \
                 set header = false if the files have no header line)"
            )
        })
}

/// `header = false`: reads the first line of up to two CSV files of the
/// table as data and reports one that names the table's columns.
fn header_looks_like_data(
    scan: &ScanResult,
    source: &TableSource,
    info: &TableInfo,
    csv: &CsvOptions,
    parser: &ParserOptions,
    found: &mut Findings,
) {
    let mut firsts: Vec<(String, Vec<String>)> = Vec::new();
    for file in csv_files(source).take(2) {
        if let Some((_, row)) = first_row(scan, file, csv, parser) {
            let name = file.path.display().to_string();
            firsts.push((name, row.values.iter().map(field_text).collect()));
        }
    }
    let Some((file, fields)) = firsts.first() else {
        return;
    };
    let names_columns = !fields.is_empty()
        && fields.iter().all(|f| {
            info.column(f).is_some()
                || (f.eq_ignore_ascii_case(source::TIDB_ROWID) && !info.pk_is_handle)
        });
    if !names_columns {
        return;
    }
    let same_in_two_files = firsts.len() == 2 && firsts[0].1 == firsts[1].1;
    let not_a_row = fields.iter().zip(&info.columns).any(|(f, col)| {
        !col.field_type.tp.is_string() && !col.field_type.elems.iter().any(|e| e == f)
    });
    let problem = format!(
        "{file}: the first line ({}) names columns of `{}`.`{}` but [mydumper.csv] header = false, \
         so it would be imported as a row; set header = true",
        fields.join(", "),
        source.db,
        source.name
    );
    if same_in_two_files || not_a_row {
        found.fatal.push(problem);
    } else {
        found.warnings.push(problem);
    }
}

/// The parser of `file` after its first row, and that row; `None` when the
/// file cannot be read or has no row (the import reports those).
fn first_row(
    scan: &ScanResult,
    file: &DataFile,
    csv: &CsvOptions,
    parser: &ParserOptions,
) -> Option<(Box<dyn RowParser>, Row)> {
    let mut p = source::open_parser(
        scan.storage.file(&file.path, file.etag.as_deref()),
        &file.path.display().to_string(),
        file.format,
        file.compression,
        0,
        0,
        csv,
        false,
        parser,
    )
    .ok()?;
    let row = p.read_row().ok()??;
    Some((p, row))
}

fn csv_files(source: &TableSource) -> impl Iterator<Item = &DataFile> {
    source
        .data_files
        .iter()
        .filter(|f| f.format == SourceFormat::Csv && f.size > 0)
}

fn field_text(value: &Datum) -> String {
    match value {
        Datum::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Datum::Null => "NULL".into(),
        other => format!("{other:?}"),
    }
}
