//! `importer checkpoint …`: inspect and repair a checkpoint (Lightning's
//! `tidb-lightning-ctl --checkpoint-*`).
//!
//! Table arguments are `all` or a table's unique name `` `db`.`tbl` ``
//! (plain `db.tbl` is accepted too).

use std::fmt::Write as _;
use std::path::Path;

use backend_core::DeferredIndex;

use super::{CheckpointError, CheckpointStore, Checkpoints, TableCheckpoint, TableStatus};

/// Which tables a command applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSelector {
    /// Every table.
    All,
    /// One table, by unique name.
    One(String),
}

impl TableSelector {
    /// Parses `all`, `` `db`.`tbl` `` or `db.tbl`.
    pub fn parse(arg: &str) -> Result<Self, String> {
        let arg = arg.trim();
        if arg.eq_ignore_ascii_case("all") {
            return Ok(TableSelector::All);
        }
        if arg.starts_with('`') {
            return Ok(TableSelector::One(arg.to_string()));
        }
        match arg.split_once('.') {
            Some((db, tbl)) if !db.is_empty() && !tbl.is_empty() => Ok(TableSelector::One(
                backend_core::model::unique_table_name(db, tbl),
            )),
            _ => Err(format!(
                "{arg:?} is not a table: use `all`, `db`.`tbl` or db.tbl"
            )),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            TableSelector::All => true,
            TableSelector::One(one) => one == name,
        }
    }
}

/// A human-readable listing of every table's progress.
pub fn list(cp: &Checkpoints) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "task: source {} → {} target {}",
        cp.task.source_dir, cp.task.backend, cp.task.target
    );
    for (name, table) in &cp.tables {
        let chunks: Vec<_> = table.engines.values().flat_map(|e| &e.chunks).collect();
        let done = chunks.iter().filter(|c| c.is_finished()).count();
        let failure = table
            .failure
            .as_ref()
            .map(|f| {
                format!(
                    " FAILED at {}: {}",
                    f.at.as_str(),
                    f.message.lines().next().unwrap_or("")
                )
            })
            .unwrap_or_default();
        let deferred =
            if table.status < TableStatus::IndexAdded && !table.deferred_indexes.is_empty() {
                let names: Vec<&str> = table
                    .deferred_indexes
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect();
                format!(", indexes to add after the rows: {}", names.join(", "))
            } else {
                String::new()
            };
        let _ = writeln!(
            out,
            "{name}: {} ({} rows, chunks {done}/{}, engines {}{deferred}){failure}",
            table.status.as_str(),
            table.rows(),
            chunks.len(),
            table.engines.len()
        );
    }
    out
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Removed {
    /// Table checkpoints forgotten.
    pub tables: usize,
    /// `ALTER TABLE … ADD …` statements for secondary indexes that
    /// `add-index-by-sql` dropped and no run has added back yet: with the
    /// checkpoint gone, nothing else remembers them.
    pub pending_indexes: Vec<String>,
}

/// Forgets the selected tables (their next run starts over). With `All`,
/// the whole checkpoint is deleted.
pub fn remove(store: &CheckpointStore, which: &TableSelector) -> Result<Removed, CheckpointError> {
    let Some(mut cp) = store.load()? else {
        return Ok(Removed::default());
    };
    let pending_indexes = cp
        .tables
        .iter()
        .filter(|(name, _)| which.matches(name))
        .filter_map(|(name, table)| pending_index_sql(name, table))
        .collect();
    let tables = cp.tables.keys().filter(|name| which.matches(name)).count();
    if *which == TableSelector::All {
        store.remove()?;
    } else {
        cp.tables.retain(|name, _| !which.matches(name));
        store.save(&cp)?;
    }
    Ok(Removed {
        tables,
        pending_indexes,
    })
}

/// The statement adding back what `add-index-by-sql` deferred, while the
/// table has not reached [`TableStatus::IndexAdded`].
fn pending_index_sql(name: &str, table: &TableCheckpoint) -> Option<String> {
    if table.status >= TableStatus::IndexAdded || table.deferred_indexes.is_empty() {
        return None;
    }
    Some(format!(
        "{};",
        DeferredIndex::alter_sql(name, &table.deferred_indexes)
    ))
}

/// Clears recorded failures so the next run retries the selected tables
/// from where they stopped. Returns how many were cleared.
pub fn error_ignore(
    store: &CheckpointStore,
    which: &TableSelector,
) -> Result<usize, CheckpointError> {
    let Some(mut cp) = store.load()? else {
        return Ok(0);
    };
    let mut cleared = 0;
    for (name, table) in cp.tables.iter_mut() {
        if which.matches(name) && table.failure.take().is_some() {
            cleared += 1;
        }
    }
    store.save(&cp)?;
    Ok(cleared)
}

/// The failed tables among the selected ones (for `error-destroy`, which
/// drops their data on the target and then forgets them).
pub fn failed_tables(cp: &Checkpoints, which: &TableSelector) -> Vec<String> {
    cp.tables
        .iter()
        .filter(|(name, t)| which.matches(name) && t.failure.is_some())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Writes the checkpoint as CSV files into `dir`: `tables.csv`,
/// `engines.csv` and `chunks.csv` (Lightning's `checkpoint-dump`).
pub fn dump(cp: &Checkpoints, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tables = String::from("table_name,status,failure,table_id,max_auto_id,rows\n");
    let mut engines = String::from("table_name,engine_id,status,chunks\n");
    let mut chunks = String::from(
        "table_name,engine_id,path,offset,end_offset,pos,prev_rowid_max,rowid_max,rows,kvc_kvs,kvc_bytes,kvc_checksum\n",
    );
    for (name, t) in &cp.tables {
        let failure = t.failure.as_ref().map(|f| f.message.as_str()).unwrap_or("");
        let _ = writeln!(
            tables,
            "{},{},{},{},{},{}",
            csv_field(name),
            t.status.as_str(),
            csv_field(failure),
            t.table_id,
            t.max_auto_id,
            t.rows()
        );
        for (id, e) in &t.engines {
            let status = match e.status {
                super::EngineStatus::Loaded => "loaded",
                super::EngineStatus::Closed => "closed",
                super::EngineStatus::Imported => "imported",
            };
            let _ = writeln!(
                engines,
                "{},{id},{status},{}",
                csv_field(name),
                e.chunks.len()
            );
            for c in &e.chunks {
                let mut ck = c.data_checksum;
                ck.add(&c.index_checksum);
                let _ = writeln!(
                    chunks,
                    "{},{id},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(name),
                    csv_field(&c.file.display().to_string()),
                    c.offset,
                    c.end_offset,
                    c.pos,
                    c.prev_rowid_max,
                    c.rowid_max,
                    c.rows,
                    ck.kvs,
                    ck.bytes,
                    ck.checksum
                );
            }
        }
    }
    std::fs::write(dir.join("tables.csv"), tables)?;
    std::fs::write(dir.join("engines.csv"), engines)?;
    std::fs::write(dir.join("chunks.csv"), chunks)?;
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Whether every table reached the final status (the import is complete).
pub fn is_complete(cp: &Checkpoints) -> bool {
    cp.tables
        .values()
        .all(|t| t.status == TableStatus::Analyzed && t.failure.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{TableCheckpoint, TableFailure, TaskCheckpoint};

    fn sample() -> Checkpoints {
        let mut cp = Checkpoints::new(TaskCheckpoint {
            source_dir: "/d".into(),
            backend: "local".into(),
            target: "/s".into(),
            sorted_kv_dir: "/k".into(),
        });
        for (name, failed) in [("`a`.`t`", true), ("`a`.`u`", false)] {
            cp.tables.insert(
                name.into(),
                TableCheckpoint {
                    status: TableStatus::Loaded,
                    failure: failed.then(|| TableFailure {
                        at: TableStatus::Loaded,
                        message: "boom, \"quoted\"".into(),
                    }),
                    table_id: 1,
                    schema_hash: 0,
                    engines: Default::default(),
                    max_auto_id: 0,
                    deferred_indexes: if failed {
                        Vec::new()
                    } else {
                        vec![DeferredIndex {
                            name: "k1".into(),
                            definition: "KEY `k1` (`c`)".into(),
                        }]
                    },
                },
            );
        }
        cp
    }

    #[test]
    fn selector_parses_forms() {
        assert_eq!(TableSelector::parse("ALL"), Ok(TableSelector::All));
        assert_eq!(
            TableSelector::parse("a.t"),
            Ok(TableSelector::One("`a`.`t`".into()))
        );
        assert_eq!(
            TableSelector::parse("`a`.`t`"),
            Ok(TableSelector::One("`a`.`t`".into()))
        );
        assert!(TableSelector::parse("nodot").is_err());
    }

    #[test]
    fn ignore_remove_and_dump() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = CheckpointStore::from(crate::checkpoint::FileCheckpointStore::new(
            dir.path().join("cp.json"),
        ));
        store.save(&sample())?;
        let listing = list(&sample());
        assert!(
            listing.contains("`a`.`t`: loaded") && listing.contains("FAILED"),
            "{listing}"
        );
        assert!(
            listing.contains(
                "`a`.`u`: loaded (0 rows, chunks 0/0, engines 0, indexes to add after the rows: k1)"
            ),
            "{listing}"
        );
        assert_eq!(
            failed_tables(&sample(), &TableSelector::All),
            vec!["`a`.`t`"]
        );
        assert_eq!(error_ignore(&store, &TableSelector::All)?, 1);
        assert!(
            store
                .load()?
                .is_some_and(|cp| cp.tables.values().all(|t| t.failure.is_none()))
        );
        // Forgetting a table whose indexes are still deferred hands back
        // the statement that restores them.
        assert_eq!(
            remove(&store, &TableSelector::parse("a.u")?)?,
            Removed {
                tables: 1,
                pending_indexes: vec!["ALTER TABLE `a`.`u` ADD KEY `k1` (`c`);".into()],
            }
        );
        assert_eq!(store.load()?.map(|cp| cp.tables.len()), Some(1));
        dump(&sample(), &dir.path().join("dump"))?;
        let tables = std::fs::read_to_string(dir.path().join("dump/tables.csv"))?;
        assert!(tables.contains("\"boom, \"\"quoted\"\"\""), "{tables}");
        assert_eq!(
            remove(&store, &TableSelector::All)?,
            Removed {
                tables: 1,
                pending_indexes: Vec::new(),
            }
        );
        assert!(store.load()?.is_none());
        Ok(())
    }
}
