//! What each command does, called by `main` once the configuration is
//! loaded and logging is set up. The work itself lives in the library
//! ([`importer_cli::app`]); this module prints.

use std::io::Write as _;

use anyhow::{Context as _, bail};
use backend_local::TargetStore;
use backend_local::store::{self, Format};
use importer_cli::app;
use importer_cli::checkpoint::commands::{self as cp_commands, TableSelector};
use importer_cli::cli::{CheckpointCommand, CheckpointTarget, ExportFormat, StoreCommand};
use importer_cli::config::Config;
use importer_cli::interrupt::Interrupt;

/// Imports the whole data source (`importer [--config FILE] [flags]`).
pub async fn import(cfg: Config, interrupt: &Interrupt) -> anyhow::Result<()> {
    let outcome = app::import_until(&cfg, interrupt).await?;
    println!("{}", importer_cli::redaction::redact(&outcome.summary));
    if !outcome.succeeded() {
        let failed: Vec<&str> = outcome
            .reports
            .iter()
            .filter(|r| r.error.is_some())
            .map(|r| r.name.as_str())
            .collect();
        for r in outcome.reports.iter().filter(|r| r.error.is_some()) {
            let error = importer_cli::redaction::redact(r.error.as_deref().unwrap_or_default());
            eprintln!("{}: {error}", r.name);
        }
        bail!(
            "{} of {} tables failed ({}); fix the cause and rerun the same command to resume \
             (`importer checkpoint list` shows progress)",
            failed.len(),
            outcome.reports.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Runs the prechecks only and prints the report (`--check-only`).
pub async fn precheck(cfg: Config) -> anyhow::Result<()> {
    let report = app::precheck(&cfg).await?;
    print!("{report}");
    if !report.passed() {
        bail!("prechecks failed");
    }
    Ok(())
}

fn open_store(cfg: &Config) -> anyhow::Result<std::sync::Arc<TargetStore>> {
    let path = &cfg.store.path;
    if !path.join("CURRENT").exists() {
        bail!(
            "no target store at {} (import into it first, or pass --store DIR)",
            path.display()
        );
    }
    TargetStore::open(path).with_context(|| format!("opening the store {}", path.display()))
}

/// Reads a local target store back (`importer store …`). Output closed
/// early by the reader (`| head`) is not an error.
pub async fn store_command(cfg: Config, cmd: StoreCommand) -> anyhow::Result<()> {
    match store_output(cfg, cmd).await {
        Err(err) if is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn store_output(cfg: Config, cmd: StoreCommand) -> anyhow::Result<()> {
    let store = open_store(&cfg)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        StoreCommand::Tables => {
            let tables = store.tables()?;
            writeln!(
                out,
                "{:<40} {:>12} {:>8} {:>16}",
                "table", "rows", "id", "auto_increment"
            )?;
            for t in tables {
                let name = format!("{}.{}", t.db, t.table);
                writeln!(
                    out,
                    "{name:<40} {:>12} {:>8} {:>16}",
                    t.rows, t.id, t.auto_increment_base
                )?;
            }
            // Views hold no rows of their own: listed by name, marked.
            for v in store.views()? {
                let name = format!("{}.{}", v.db, v.name);
                writeln!(out, "{name:<40} {:>12} {:>8} {:>16}", "view", "-", "-")?;
            }
        }
        StoreCommand::Checksum { table } => {
            let ck = store.checksum_table(&table.schema, &table.table)?;
            writeln!(
                out,
                "`{}`.`{}`\tchecksum {:#018x}\tkvs {}\tbytes {}",
                table.schema, table.table, ck.checksum, ck.kvs, ck.bytes
            )?;
        }
        StoreCommand::Export {
            table,
            format,
            output,
        } => {
            let format = match format {
                ExportFormat::Csv => Format::Csv,
                ExportFormat::Sql => Format::Sql,
            };
            let rows = match output {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut writer = std::io::BufWriter::new(file);
                    let rows =
                        store.export_table(&table.schema, &table.table, format, &mut writer)?;
                    writer
                        .flush()
                        .with_context(|| format!("writing {}", path.display()))?;
                    rows
                }
                None => store.export_table(&table.schema, &table.table, format, &mut out)?,
            };
            tracing::info!(rows, "exported");
        }
        StoreCommand::Get { table, pk } => {
            let keys: Vec<&str> = pk.iter().map(String::as_str).collect();
            let entry = store.table(&table.schema, &table.table)?;
            match store.get_row(&table.schema, &table.table, &keys)? {
                Some(values) => {
                    out.write_all(&store::csv_header(&entry.table))?;
                    out.write_all(&store::csv_line(&entry.table, &values))?;
                }
                None => bail!(
                    "no row with primary key ({}) in `{}`.`{}`",
                    pk.join(", "),
                    table.schema,
                    table.table
                ),
            }
        }
    }
    Ok(())
}

fn selector(target: &CheckpointTarget) -> TableSelector {
    match target {
        CheckpointTarget::All => TableSelector::All,
        CheckpointTarget::Table(name) => TableSelector::One(
            backend_core::model::unique_table_name(&name.schema, &name.table),
        ),
    }
}

/// Manages checkpoints (`importer checkpoint …`).
pub async fn checkpoint_command(cfg: Config, cmd: CheckpointCommand) -> anyhow::Result<()> {
    let store = app::checkpoint_store(&cfg)?;
    match cmd {
        CheckpointCommand::List => print!("{}", app::checkpoint_list(&cfg)?),
        CheckpointCommand::Remove { target } => {
            let removed = cp_commands::remove(&store, &selector(&target))?;
            println!(
                "removed {} table checkpoint(s) from {}",
                removed.tables,
                store.describe()
            );
            if !removed.pending_indexes.is_empty() {
                eprintln!(
                    "warning: secondary indexes dropped by add-index-by-sql were not added back yet; \
                     nothing remembers them now. Once the tables are complete, run:"
                );
                for sql in &removed.pending_indexes {
                    eprintln!("  {sql}");
                }
            }
        }
        CheckpointCommand::ErrorIgnore { target } => {
            let n = cp_commands::error_ignore(&store, &selector(&target))?;
            println!("cleared {n} failure(s); rerun the import to retry");
        }
        CheckpointCommand::ErrorDestroy { target } => {
            let n = app::error_destroy(&cfg, &store, &selector(&target)).await?;
            println!(
                "destroyed the imported data of {n} failed table(s); rerun the import to start them over"
            );
        }
        CheckpointCommand::Dump { dir } => {
            let cp = store
                .load()?
                .with_context(|| format!("no checkpoint at {}", store.describe()))?;
            cp_commands::dump(&cp, &dir).with_context(|| format!("writing {}", dir.display()))?;
            println!(
                "wrote tables.csv, engines.csv and chunks.csv to {}",
                dir.display()
            );
        }
    }
    Ok(())
}
