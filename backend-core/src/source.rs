//! What the data source holds, as prechecks see it.
//!
//! The CLI's scanner builds these from a dump directory; backends read them
//! in [`crate::TargetInfoGetter::check_requirements`] (for example to compare
//! the source size with free disk space).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The format of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceFormat {
    /// Comma- (or otherwise) separated values.
    Csv,
    /// `INSERT`/`REPLACE` statements.
    Sql,
    /// Apache Parquet.
    Parquet,
}

/// The compression of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Compression {
    /// Plain.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// Snappy, framed.
    Snappy,
}

/// One data file of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFileMeta {
    /// Path relative to the data source directory.
    pub path: PathBuf,
    /// Size on disk in bytes (compressed size for compressed files).
    pub size: u64,
    /// Data format.
    pub format: SourceFormat,
    /// Compression.
    pub compression: Compression,
}

/// One table of the data source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTableMeta {
    /// Database name on the target (after routes).
    pub db: String,
    /// Table name on the target (after routes).
    pub name: String,
    /// The schema file (`db.tbl-schema.sql`), if any.
    pub schema_file: Option<PathBuf>,
    /// Data files, in load order.
    pub data_files: Vec<SourceFileMeta>,
}

impl SourceTableMeta {
    /// Total bytes of the table's data files.
    pub fn total_size(&self) -> u64 {
        self.data_files.iter().map(|f| f.size).sum()
    }
}

/// One database of the data source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDatabaseMeta {
    /// Database name on the target.
    pub name: String,
    /// The schema-create file (`db-schema-create.sql`), if any.
    pub schema_file: Option<PathBuf>,
    /// Tables, sorted by name.
    pub tables: Vec<SourceTableMeta>,
}

/// What [`crate::TargetInfoGetter::check_requirements`] is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCtx {
    /// Databases of the data source.
    pub db_metas: Vec<SourceDatabaseMeta>,
}

impl CheckCtx {
    /// Total bytes of all data files.
    pub fn total_source_size(&self) -> u64 {
        self.db_metas
            .iter()
            .flat_map(|db| &db.tables)
            .map(SourceTableMeta::total_size)
            .sum()
    }
}
