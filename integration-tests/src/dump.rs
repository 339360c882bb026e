//! Dumps that tests write into a temp dir, imported through the CLI
//! library with either backend, and their rows read back as text.
//! Setting up or reading back panics on failure: these are test fixtures.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use backend_local::TargetStore;
use tempfile::TempDir;

use crate::cli::{Sections, Target, import_ok, load_config};
use crate::compare::{Cell, local_table, mysql_table};
use crate::server::{self, Server};

/// A dump written into a temp dir, plus the work dir of the imports.
#[derive(Debug)]
pub struct Dump {
    /// The temp dir: the dump under `src`, the imports' work dirs beside it.
    pub dir: TempDir,
}

impl Dump {
    /// Writes `files` (name relative to `src`, contents).
    pub fn new(files: &[(&str, &[u8])]) -> Dump {
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in files {
            let path = dir.path().join("src").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        Dump { dir }
    }

    /// The dump directory.
    pub fn source(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// The local store of [`Dump::local`].
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Imports with the local backend; `Err` when the import fails.
    pub async fn local(&self, sections: &Sections) -> anyhow::Result<()> {
        let work = self.dir.path().join("local");
        std::fs::create_dir_all(&work)?;
        let cfg = load_config(
            &Target::Local(self.store()),
            &self.source(),
            &work,
            sections,
        )?;
        import_ok(&cfg).await.map(|_| ())
    }

    /// Imports with the tidb backend, `schema` routed to `db`.
    pub async fn tidb(
        &self,
        server: &Server,
        schema: &str,
        db: &str,
        sections: &Sections,
    ) -> anyhow::Result<()> {
        let pool = server.pool().await?;
        server::drop_database(&pool, db).await?;
        let work = self.dir.path().join("tidb");
        std::fs::create_dir_all(&work)?;
        let mut sections = sections.clone();
        sections.extra.push_str(&format!(
            "\n[[routes]]\nschema-pattern = \"{schema}\"\ntarget-schema = \"{db}\"\n"
        ));
        let cfg = load_config(
            &Target::Tidb(server.clone()),
            &self.source(),
            &work,
            &sections,
        )?;
        import_ok(&cfg).await.map(|_| ())
    }

    /// The local store's rows of `db`.`table` as text, sorted.
    pub fn rows(&self, db: &str, table: &str) -> Vec<Vec<Option<String>>> {
        let store = TargetStore::open(self.store()).unwrap();
        let (_, rows) = local_table(&store, db, table).unwrap();
        text_rows(rows)
    }
}

/// Table rows as text cells, in the order given.
pub fn text_cells(rows: Vec<Vec<Cell>>) -> Vec<Vec<Option<String>>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.map(|b| String::from_utf8_lossy(&b).into_owned()))
                .collect()
        })
        .collect()
}

/// Table rows as sorted text cells.
pub fn text_rows(rows: Vec<Vec<Cell>>) -> Vec<Vec<Option<String>>> {
    let mut rows = text_cells(rows);
    rows.sort();
    rows
}

/// The rows of `db`.`table` on the server, columns `cols`, as sorted text.
pub async fn mysql_rows(
    server: &Server,
    db: &str,
    table: &str,
    cols: &[&str],
) -> Vec<Vec<Option<String>>> {
    let pool = server.pool().await.unwrap();
    let cols: Vec<String> = cols.iter().map(|c| (*c).to_string()).collect();
    text_rows(mysql_table(&pool, db, table, &cols).await.unwrap())
}

/// One expected row.
pub fn r(cells: &[Option<&str>]) -> Vec<Option<String>> {
    cells.iter().map(|c| c.map(str::to_string)).collect()
}

/// A `{db}.{table}-schema.sql` file with `columns`.
pub fn schema(db: &str, table: &str, columns: &str) -> (String, Vec<u8>) {
    (
        format!("{db}.{table}-schema.sql"),
        format!("CREATE TABLE `{table}` ({columns});\n").into_bytes(),
    )
}

/// A [`Dump`] of owned files.
pub fn dump_of(files: Vec<(String, Vec<u8>)>) -> Dump {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    Dump::new(&refs)
}
