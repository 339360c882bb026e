//! Prechecks: what can be known to fail before anything is written.
//!
//! Each check yields a line of the report; `--check-only` prints the report,
//! and an import with `check-requirements = true` runs the same checks and
//! stops on the first failure.

mod csv_header;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use backend_core::{ImportTarget, TargetInfoGetter};

use dump_source::csv::CsvOptions;
use dump_source::scan::ScanResult;
use dump_source::{ParserOptions, schema};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// What was checked.
    pub name: String,
    /// Passed?
    pub passed: bool,
    /// Details: what was found, and what to do when it failed.
    pub detail: String,
    /// The check is about individual tables: during an import a failure is
    /// a warning, and the tables concerned fail on their own (with the exact
    /// file and offset) while the others are imported.
    pub per_table: bool,
}

/// Every check's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order run.
    pub checks: Vec<CheckResult>,
}

impl Report {
    fn push(&mut self, name: impl Into<String>, result: Result<String, String>) {
        self.push_check(name, result, false);
    }

    fn push_table_check(&mut self, name: impl Into<String>, result: Result<String, String>) {
        self.push_check(name, result, true);
    }

    fn push_check(
        &mut self,
        name: impl Into<String>,
        result: Result<String, String>,
        per_table: bool,
    ) {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(CheckResult {
            name: name.into(),
            passed,
            detail,
            per_table,
        });
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// Whether every check that concerns the whole import passed.
    pub fn task_checks_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed || c.per_table)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            writeln!(f, "[{mark}] {}: {}", c.name, c.detail)?;
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        writeln!(f, "{} checks, {failed} failed", self.checks.len())
    }
}

/// What the checks look at.
#[derive(Debug)]
pub struct PrecheckInput<'a> {
    /// The scanned source.
    pub scan: &'a ScanResult,
    /// The target's requirements check (version, privileges, space).
    pub target_info: &'a dyn TargetInfoGetter,
    /// The target's tables.
    pub target: &'a Arc<dyn ImportTarget>,
    /// Where the local backend sorts (None for tidb).
    pub sorted_kv_dir: Option<&'a Path>,
    /// Allow non-empty target tables.
    pub incremental: bool,
    /// CSV dialect, for header checks.
    pub csv: &'a CsvOptions,
    /// Parser options, for header checks.
    pub parser: &'a ParserOptions,
    /// The character set of schema files.
    pub schema_charset: schema::SchemaCharset,
}

/// Runs every check.
pub async fn run(input: PrecheckInput<'_>) -> Report {
    let mut report = Report::default();
    let scan = input.scan;
    let tables: Vec<_> = scan.databases.iter().flat_map(|d| &d.tables).collect();
    let total: u64 = tables
        .iter()
        .flat_map(|t| &t.data_files)
        .map(|f| f.size)
        .sum();
    report.push(
        "data source",
        if tables.is_empty() {
            Err(format!(
                "no tables found under {} (check the file names and [mydumper] filter)",
                scan.storage.location()
            ))
        } else {
            Ok(format!(
                "{} databases, {} tables, {} data files, {} bytes in {}",
                scan.databases.len(),
                tables.len(),
                tables.iter().map(|t| t.data_files.len()).sum::<usize>(),
                total,
                scan.storage.location()
            ))
        },
    );

    let ctx = scan.check_ctx();
    report.push(
        "target requirements",
        input
            .target_info
            .check_requirements(&ctx)
            .await
            .map(|()| input.target.describe())
            .map_err(|e| format!("{e:#}")),
    );

    // Schemas: every table with data has a schema file that parses, or
    // exists on the target already.
    let mut schema_problems = Vec::new();
    for t in &tables {
        match &t.schema_file {
            Some(file) => {
                let definition = schema::read_table_definition(
                    scan.storage.file(file, None),
                    &file.display().to_string(),
                    input.schema_charset,
                );
                // A server that runs the statement is its judge.
                let judged_by_target = input.target.runs_create_statements();
                match definition {
                    Err(e) => schema_problems.push(e.to_string()),
                    Ok(d) if !judged_by_target => {
                        if let Err(e) = d.model {
                            schema_problems.push(e.to_string());
                        }
                    }
                    Ok(_) => {}
                }
            }
            None => match input.target.existing_table(&t.db, &t.name).await {
                Ok(Some(_)) => {}
                Ok(None) => schema_problems.push(format!(
                    "`{}`.`{}` has data files but no schema file and does not exist on the target",
                    t.db, t.name
                )),
                Err(e) => schema_problems.push(format!("{e:#}")),
            },
        }
    }
    report.push_table_check(
        "schemas",
        if schema_problems.is_empty() {
            Ok(format!("{} tables have a schema", tables.len()))
        } else {
            Err(listing("schemas", &schema_problems, "; "))
        },
    );

    // Target tables must be empty unless incremental.
    if !input.incremental {
        let mut non_empty = Vec::new();
        for db in &scan.databases {
            // One listing per database; only tables that exist are looked into.
            let names: Vec<String> = db.tables.iter().map(|t| t.name.clone()).collect();
            let Ok(existing) = input.target.existing_tables(&db.name, &names).await else {
                continue;
            };
            for (name, _) in names.iter().zip(existing).filter(|(_, there)| *there) {
                if let Ok(Some(info)) = input.target.existing_table(&db.name, name).await
                    && let Ok(false) = input.target.is_table_empty(&info).await
                {
                    non_empty.push(info.unique_name());
                }
            }
        }
        report.push_table_check(
            "empty target tables",
            if non_empty.is_empty() {
                Ok("no target table holds rows".into())
            } else {
                Err(format!(
                    "{} already hold rows; empty them or set [tikv-importer] incremental-import = true \
                     (a resumed import with a checkpoint is exempt)",
                    listing("empty target tables", &non_empty, ", ")
                ))
            },
        );
    }

    if let Some(dir) = input.sorted_kv_dir {
        report.push("sorted-kv-dir space", check_space(dir, total));
    }

    // CSV first lines agree with `[mydumper.csv] header`.
    let mut csv_tables = Vec::new();
    for t in &tables {
        if !t
            .data_files
            .iter()
            .any(|f| f.format == backend_core::SourceFormat::Csv)
        {
            continue;
        }
        let model = match &t.schema_file {
            Some(file) => schema::read_table_definition(
                scan.storage.file(file, None),
                &file.display().to_string(),
                input.schema_charset,
            )
            .ok()
            .and_then(|d| d.model.ok()),
            None => None,
        };
        let model = match model {
            Some(model) => Some(model),
            None => input
                .target
                .existing_table(&t.db, &t.name)
                .await
                .ok()
                .flatten()
                .map(|t| t.core),
        };
        if let Some(model) = model {
            csv_tables.push((*t, model));
        }
    }
    if !csv_tables.is_empty() {
        let found = csv_header::check(scan, &csv_tables, input.csv, input.parser);
        if !found.fatal.is_empty() {
            report.push(
                "CSV headers",
                Err(listing("CSV headers", &found.fatal, "; ")),
            );
        } else if !found.warnings.is_empty() {
            report.push_table_check(
                "CSV headers",
                Err(listing("CSV headers", &found.warnings, "; ")),
            );
        } else {
            report.push(
                "CSV headers",
                Ok(format!(
                    "the first lines of the CSV files agree with header = {}",
                    input.csv.header
                )),
            );
        }
    }
    report
}

fn check_space(dir: &Path, need: u64) -> Result<String, String> {
    let probe = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("."));
    match backend_local::free_disk_space(probe) {
        Ok(free) if free >= need => Ok(format!(
            "{free} bytes free at {}, source is {need} bytes",
            probe.display()
        )),
        Ok(free) => Err(format!(
            "only {free} bytes free at {}, but sorting needs about the source size ({need} bytes); \
             free space, point sorted-kv-dir elsewhere, or set disk-quota",
            probe.display()
        )),
        Err(e) => Err(format!(
            "cannot read free space at {}: {e}",
            probe.display()
        )),
    }
}

/// Items shown in a check's line before the rest are counted: with
/// thousands of tables the line must stay readable.
const LISTED: usize = 10;

/// `items` joined by `sep`, the first [`LISTED`] of them and a count of the
/// rest; every item is logged at debug level under `check`.
fn listing(check: &str, items: &[String], sep: &str) -> String {
    for item in items {
        tracing::debug!(check, "{item}");
    }
    let shown = items[..items.len().min(LISTED)].join(sep);
    match items.len().checked_sub(LISTED) {
        Some(rest) if rest > 0 => format!(
            "{shown}{sep}and {rest} more ({} in all; `[lightning] level = \"debug\"` logs each)",
            items.len()
        ),
        _ => shown,
    }
}

#[cfg(test)]
mod listing_tests {
    use super::*;

    #[test]
    fn long_listings_show_the_first_items_and_count_the_rest() {
        let few: Vec<String> = (0..3).map(|i| format!("t{i}")).collect();
        assert_eq!(listing("x", &few, ", "), "t0, t1, t2");
        let many: Vec<String> = (0..2_000).map(|i| format!("t{i}")).collect();
        let line = listing("x", &many, "; ");
        assert!(line.starts_with("t0; t1; "), "{line}");
        assert!(line.contains("t9; and 1990 more (2000 in all;"), "{line}");
        assert!(!line.contains("t10;"), "{line}");
    }
}
