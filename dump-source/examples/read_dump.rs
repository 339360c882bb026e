//! Reads a dumpling or mydumper dump with `dump-source` alone — no target,
//! no importer — and prints each table's columns, row count and first row.
//!
//! ```text
//! cargo run --example read_dump -- DUMP_DIR
//! ```

use std::error::Error;
use std::path::PathBuf;

use dump_source::chunk::{ChunkOptions, make_table_chunks};
use dump_source::scan::{ScanOptions, scan};
use dump_source::{ParserOptions, Row, schema};

fn main() -> Result<(), Box<dyn Error>> {
    let Some(dir) = std::env::args().nth(1) else {
        return Err("usage: read_dump DUMP_DIR".into());
    };
    let scanned = scan(PathBuf::from(dir), &ScanOptions::default())?;
    for warning in &scanned.warnings {
        eprintln!("warning: {warning}");
    }
    let opts = ChunkOptions::default();
    for db in &scanned.databases {
        for table in &db.tables {
            let columns = match &table.schema_file {
                Some(file) => {
                    let info = schema::parse_table_file(
                        scanned.storage.file(file, None),
                        &file.display().to_string(),
                    )?;
                    info.columns.iter().map(|c| c.name.clone()).collect()
                }
                None => Vec::new(),
            };
            let mut rows = 0u64;
            let mut first = None;
            for chunk in make_table_chunks(&scanned.storage, table, columns.len().max(1), &opts)? {
                let mut parser = chunk.open_parser(
                    &scanned.storage,
                    &opts.csv,
                    false,
                    &ParserOptions::default(),
                )?;
                let mut row = Row::default();
                while parser.pos().0 < chunk.end_offset && parser.read_row_into(&mut row)? {
                    rows += 1;
                    if first.is_none() {
                        first = Some(format!("{:?}", row.values));
                    }
                }
            }
            println!(
                "{}.{} ({}): {rows} rows",
                db.name,
                table.name,
                columns.join(", ")
            );
            if let Some(first) = first {
                println!("  first row: {first}");
            }
        }
    }
    Ok(())
}
