//! The target store's catalog: databases and tables kept in the target
//! RocksDB itself, under keys starting with `m` (TiDB's meta prefix), which
//! sort before and never collide with table data (`t…`).
//!
//! Keys: `mFormatVersion` (u32 big-endian), `mNextTableID` (i64
//! big-endian), `mDB\0{db}` (JSON [`DbInfo`]), `mTable\0{db}\0{table}` (JSON
//! [`TableEntry`]), `mView\0{db}\0{view}` (JSON [`ViewEntry`]); names in
//! keys are lower-cased, as TiDB compares them case-insensitively, while
//! entries keep the declared spelling. Table ids are allocated here, from
//! [`FIRST_TABLE_ID`] up, never reused.
//!
//! Creating a table that exists with the same definition returns the
//! existing entry (re-running an import is fine); a different definition is
//! a [`ErrorKind::SchemaMismatch`] error naming both.

use std::fmt;
use std::sync::Mutex;

use backend_core::model::{DbInfo, TableInfo, quote_identifier, unique_table_name};
use backend_core::{Error, ErrorKind, Result};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};

/// The catalog's key prefix.
pub const CATALOG_PREFIX: u8 = b'm';
/// The store format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The first table id the catalog hands out.
pub const FIRST_TABLE_ID: i64 = 100;

pub(crate) const KEY_FORMAT_VERSION: &[u8] = b"mFormatVersion";
const KEY_NEXT_TABLE_ID: &[u8] = b"mNextTableID";
const DB_PREFIX: &[u8] = b"mDB\0";
const TABLE_PREFIX: &[u8] = b"mTable\0";
const VIEW_PREFIX: &[u8] = b"mView\0";

/// Serialises id allocation and create-if-absent within the process.
static CATALOG_LOCK: Mutex<()> = Mutex::new(());

/// A table as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// The database, as declared.
    pub db: String,
    /// The table; `table.id` is the id the catalog allocated and
    /// `table.auto_increment_base` the next auto-increment value.
    pub table: TableInfo,
    /// Rows recorded by the last import ([`Catalog::set_row_count`]).
    pub row_count: u64,
}

/// A view as the catalog stores it: the store keeps its definition (rows
/// are read through the tables it selects from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewEntry {
    /// The database, as declared.
    pub db: String,
    /// The view, as declared.
    pub name: String,
    /// Its `CREATE VIEW` statement.
    pub create_sql: String,
}

fn store_err(what: impl fmt::Display, e: rocksdb::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {e}")).with_source(e)
}

fn corrupt(what: impl fmt::Display, e: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("corrupt catalog entry {what}: {e}"),
    )
}

fn db_key(db: &str) -> Vec<u8> {
    let mut k = DB_PREFIX.to_vec();
    k.extend_from_slice(db.to_lowercase().as_bytes());
    k
}

fn table_key(db: &str, table: &str) -> Vec<u8> {
    object_key(TABLE_PREFIX, db, table)
}

fn object_key(prefix: &[u8], db: &str, table: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(db.to_lowercase().as_bytes());
    k.push(0);
    k.extend_from_slice(table.to_lowercase().as_bytes());
    k
}

/// A raw key-value pair read from the store.
type RawPair = (Box<[u8]>, Box<[u8]>);

/// The catalog of one target store.
#[derive(Clone, Copy)]
pub struct Catalog<'a> {
    db: &'a DB,
}

impl fmt::Debug for Catalog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("path", &self.db.path())
            .finish()
    }
}

impl<'a> Catalog<'a> {
    /// The catalog in `db`.
    pub fn new(db: &'a DB) -> Self {
        Catalog { db }
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<RawPair>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(prefix, Direction::Forward))
        {
            let (k, v) = item.map_err(|e| store_err("scanning the catalog", e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    /// The store's format version, `None` for a store never initialised.
    pub fn format_version(&self) -> Result<Option<u32>> {
        let Some(v) = self
            .db
            .get(KEY_FORMAT_VERSION)
            .map_err(|e| store_err("reading the format version", e))?
        else {
            return Ok(None);
        };
        let bytes: [u8; 4] = v
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("mFormatVersion", "not 4 bytes"))?;
        Ok(Some(u32::from_be_bytes(bytes)))
    }

    /// Writes the format version into a new store; checks it in an existing
    /// one ([`ErrorKind::Unsupported`] when it differs).
    pub fn init(&self) -> Result<()> {
        match self.format_version()? {
            Some(FORMAT_VERSION) => Ok(()),
            Some(other) => Err(Error::unsupported(format!(
                "target store {} has format version {other}; this importer reads version {FORMAT_VERSION}",
                self.db.path().display()
            ))),
            None => self
                .db
                .put(KEY_FORMAT_VERSION, FORMAT_VERSION.to_be_bytes())
                .map_err(|e| store_err("writing the format version", e)),
        }
    }

    /// Creates database `name` unless it exists.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let _guard = CATALOG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        self.init()?;
        let key = db_key(name);
        if self
            .db
            .get(&key)
            .map_err(|e| store_err("reading the catalog", e))?
            .is_some()
        {
            return Ok(());
        }
        let value = serde_json::to_vec(&DbInfo {
            name: name.to_string(),
        })
        .map_err(|e| Error::internal(format!("serialising database {name}: {e}")))?;
        self.db
            .put(key, value)
            .map_err(|e| store_err(format!("creating database {}", quote_identifier(name)), e))
    }

    /// Every database.
    pub fn databases(&self) -> Result<Vec<DbInfo>> {
        self.scan_prefix(DB_PREFIX)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| corrupt(String::from_utf8_lossy(&k), e))
            })
            .collect()
    }

    /// Creates table `table` in database `db` (creating the database too)
    /// and returns it with its allocated id. When the table exists with the
    /// same definition, returns the existing entry; with a different one,
    /// fails with [`ErrorKind::SchemaMismatch`] showing both.
    pub fn create_table(&self, db: &str, table: &TableInfo) -> Result<TableInfo> {
        self.create_database(db)?;
        let _guard = CATALOG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.table(db, &table.name)? {
            if same_definition(&existing.table, table) {
                return Ok(existing.table);
            }
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "table {} already exists in the target store with a different definition:\n  existing: {}\n  new:      {}",
                    unique_table_name(db, &table.name),
                    describe(&existing.table),
                    describe(table)
                ),
            ));
        }
        let next = match self
            .db
            .get(KEY_NEXT_TABLE_ID)
            .map_err(|e| store_err("reading the next table id", e))?
        {
            Some(v) => i64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("mNextTableID", "not 8 bytes"))?,
            ),
            None => FIRST_TABLE_ID,
        };
        let mut created = table.clone();
        created.id = next;
        let entry = TableEntry {
            db: db.to_string(),
            table: created.clone(),
            row_count: 0,
        };
        let mut batch = WriteBatch::default();
        batch.put(KEY_NEXT_TABLE_ID, (next + 1).to_be_bytes());
        batch.put(table_key(db, &table.name), encode_entry(&entry)?);
        self.db.write(batch).map_err(|e| {
            store_err(
                format!("creating table {}", unique_table_name(db, &table.name)),
                e,
            )
        })?;
        Ok(created)
    }

    /// The table `db`.`name`, if it exists.
    pub fn table(&self, db: &str, name: &str) -> Result<Option<TableEntry>> {
        let key = table_key(db, name);
        match self
            .db
            .get(&key)
            .map_err(|e| store_err("reading the catalog", e))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| corrupt(unique_table_name(db, name), e)),
        }
    }

    /// The table `db`.`name`, or [`ErrorKind::NotFound`].
    pub fn require_table(&self, db: &str, name: &str) -> Result<TableEntry> {
        self.table(db, name)?.ok_or_else(|| {
            Error::not_found(format!(
                "table {} does not exist in the target store {}",
                unique_table_name(db, name),
                self.db.path().display()
            ))
        })
    }

    /// Every table of database `db` (all databases when `None`), sorted by
    /// database and table name.
    pub fn tables(&self, db: Option<&str>) -> Result<Vec<TableEntry>> {
        let prefix = match db {
            Some(db) => {
                let mut p = TABLE_PREFIX.to_vec();
                p.extend_from_slice(db.to_lowercase().as_bytes());
                p.push(0);
                p
            }
            None => TABLE_PREFIX.to_vec(),
        };
        self.scan_prefix(&prefix)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| corrupt(String::from_utf8_lossy(&k), e))
            })
            .collect()
    }

    fn update(&self, db: &str, name: &str, f: impl FnOnce(&mut TableEntry)) -> Result<()> {
        let _guard = CATALOG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut entry = self.require_table(db, name)?;
        f(&mut entry);
        self.db
            .put(table_key(db, name), encode_entry(&entry)?)
            .map_err(|e| store_err(format!("updating {}", unique_table_name(db, name)), e))
    }

    /// Raises the table's auto-increment base past `max_id` (never lowers it).
    pub fn rebase_auto_increment(&self, db: &str, name: &str, max_id: i64) -> Result<()> {
        self.update(db, name, |e| {
            let next = max_id.saturating_add(1);
            if next > e.table.auto_increment_base {
                e.table.auto_increment_base = next;
            }
        })
    }

    /// Deletes the table: its data (record and index keys) and its catalog
    /// entry. Returns whether it existed. The next create allocates a new id.
    pub fn drop_table(&self, db: &str, name: &str) -> Result<bool> {
        let _guard = CATALOG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = self.table(db, name)? else {
            return Ok(false);
        };
        let what = unique_table_name(db, name);
        let (start, end) = crate::codec::table::table_range(entry.table.id);
        let mut batch = WriteBatch::default();
        batch.delete_range(start, end);
        batch.delete(table_key(db, name));
        self.db
            .write(batch)
            .map_err(|e| store_err(format!("dropping {what}"), e))?;
        Ok(true)
    }

    /// Records view `name` of database `db` (creating the database too). A
    /// view that exists keeps its definition when it is the same; a
    /// different one is a [`ErrorKind::SchemaMismatch`] error, as for tables.
    pub fn create_view(&self, db: &str, name: &str, create_sql: &str) -> Result<()> {
        self.create_database(db)?;
        let _guard = CATALOG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let key = object_key(VIEW_PREFIX, db, name);
        let what = unique_table_name(db, name);
        if let Some(v) = self
            .db
            .get(&key)
            .map_err(|e| store_err("reading the catalog", e))?
        {
            let existing: ViewEntry = serde_json::from_slice(&v).map_err(|e| corrupt(&what, e))?;
            if existing.create_sql == create_sql {
                return Ok(());
            }
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "view {what} already exists in the target store with a different definition:\n  existing: {}\n  new:      {create_sql}",
                    existing.create_sql
                ),
            ));
        }
        let entry = ViewEntry {
            db: db.to_string(),
            name: name.to_string(),
            create_sql: create_sql.to_string(),
        };
        let value = serde_json::to_vec(&entry)
            .map_err(|e| Error::internal(format!("serialising view {what}: {e}")))?;
        self.db
            .put(key, value)
            .map_err(|e| store_err(format!("creating view {what}"), e))
    }

    /// Every view, sorted by database and name.
    pub fn views(&self) -> Result<Vec<ViewEntry>> {
        self.scan_prefix(VIEW_PREFIX)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| corrupt(String::from_utf8_lossy(&k), e))
            })
            .collect()
    }

    /// Records the table's row count after an import.
    pub fn set_row_count(&self, db: &str, name: &str, rows: u64) -> Result<()> {
        self.update(db, name, |e| e.row_count = rows)
    }
}

fn encode_entry(entry: &TableEntry) -> Result<Vec<u8>> {
    serde_json::to_vec(entry).map_err(|e| Error::internal(format!("serialising table entry: {e}")))
}

/// Whether two definitions describe the same table (ids, auto-increment
/// bases and the original SQL text are not part of the definition).
pub fn same_definition(a: &TableInfo, b: &TableInfo) -> bool {
    let norm = |t: &TableInfo| {
        let mut t = t.clone();
        t.id = 0;
        t.auto_increment_base = 0;
        t.create_sql = None;
        t.name = t.name.to_lowercase();
        t
    };
    norm(a) == norm(b)
}

/// A one-line description of a table definition for messages.
pub fn describe(t: &TableInfo) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let ft = &c.field_type;
            let mut s = format!("{} {}", quote_identifier(&c.name), ft.tp.sql_name());
            match (ft.flen, ft.decimal) {
                (Some(l), Some(d)) => s.push_str(&format!("({l},{d})")),
                (Some(l), None) => s.push_str(&format!("({l})")),
                _ => {}
            }
            if ft.unsigned {
                s.push_str(" UNSIGNED");
            }
            if ft.not_null {
                s.push_str(" NOT NULL");
            }
            s
        })
        .collect();
    let keys: Vec<String> = t
        .indices
        .iter()
        .map(|i| {
            let cols: Vec<String> = i
                .columns
                .iter()
                .map(|c| quote_identifier(&c.name))
                .collect();
            let kind = if i.primary {
                "PRIMARY KEY"
            } else if i.unique {
                "UNIQUE KEY"
            } else {
                "KEY"
            };
            format!("{kind} {}({})", quote_identifier(&i.name), cols.join(","))
        })
        .collect();
    let mut parts = cols;
    parts.extend(keys);
    if t.pk_is_handle {
        parts.push("/* integer handle */".into());
    }
    format!("{} ({})", quote_identifier(&t.name), parts.join(", "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use backend_core::model::{ColumnInfo, ColumnType, FieldType};

    /// A one-column table.
    pub(crate) fn t(name: &str, tp: ColumnType) -> TableInfo {
        TableInfo {
            id: 0,
            name: name.into(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns: vec![ColumnInfo::new(1, "a", 0, FieldType::new(tp))],
            indices: vec![],
            pk_is_handle: false,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: None,
        }
    }

    #[test]
    fn create_same_is_fine_different_is_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let db = DB::open_default(dir.path()).unwrap();
        let cat = Catalog::new(&db);
        let a = cat
            .create_table("Shop", &t("Items", ColumnType::Int))
            .unwrap();
        assert_eq!(a.id, FIRST_TABLE_ID);
        let b = cat
            .create_table("shop", &t("other", ColumnType::Int))
            .unwrap();
        assert_eq!(b.id, FIRST_TABLE_ID + 1);
        let again = cat
            .create_table("shop", &t("items", ColumnType::Int))
            .unwrap();
        assert_eq!(again.id, a.id);
        let err = cat
            .create_table("shop", &t("items", ColumnType::BigInt))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
        let msg = err.to_string();
        assert!(
            msg.contains("`a` INT") && msg.contains("`a` BIGINT"),
            "{msg}"
        );
        assert_eq!(cat.databases().unwrap().len(), 1);
        assert_eq!(cat.tables(Some("SHOP")).unwrap().len(), 2);
        cat.rebase_auto_increment("shop", "items", 41).unwrap();
        cat.rebase_auto_increment("shop", "items", 3).unwrap();
        cat.set_row_count("shop", "items", 9).unwrap();
        let e = cat.require_table("shop", "items").unwrap();
        assert_eq!((e.table.auto_increment_base, e.row_count), (42, 9));
        assert_eq!(cat.format_version().unwrap(), Some(FORMAT_VERSION));
        assert_eq!(
            cat.require_table("shop", "nope").unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
