//! Discovering a dump directory: which files are schemas, which are data of
//! which table, after file rules, filters and routes.
//!
//! The walk is deterministic (entries sorted by name), follows symbolic
//! links but never out of the data directory nor into a directory it has
//! already visited (so link loops end), and matches each file's path
//! relative to the directory, with `/` separators, against the file rules:
//! the user's `[[mydumper.files]]` first, then Lightning's defaults.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use backend_core::{
    CheckCtx, Compression, SourceDatabaseMeta, SourceFileMeta, SourceFormat, SourceTableMeta,
};
use regex::Regex;

use super::SourceError;
use super::compress::compression_from_ext;
use super::filter::TableFilter;
use super::route::{RouteRule, Router};
use super::storage::{Listed, Storage};

/// One `[[mydumper.files]]` rule. Templates use `$1`/`${name}` to refer to
/// the pattern's groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileRule {
    /// Regular expression matched against the path relative to the data
    /// directory.
    pub pattern: String,
    /// Database name template.
    pub schema: String,
    /// Table name template.
    pub table: String,
    /// File type template: `schema-schema`, `table-schema`, `view-schema`,
    /// `sql`, `csv`, `parquet` or `ignore`.
    pub file_type: String,
    /// Sort key template (the chunk number).
    pub key: String,
    /// Compression template: empty, `gz`/`gzip`, `zst`/`zstd`, `snappy`.
    pub compression: String,
}

/// Lightning's default file rules.
pub fn default_file_rules() -> Vec<FileRule> {
    let rule = |pattern: &str,
                schema: &str,
                table: &str,
                file_type: &str,
                key: &str,
                compression: &str| FileRule {
        pattern: pattern.into(),
        schema: schema.into(),
        table: table.into(),
        file_type: file_type.into(),
        key: key.into(),
        compression: compression.into(),
    };
    vec![
        rule(
            r"(?i)^(?:[^/]*/)*([^/.]+)-schema-create\.sql$",
            "$1",
            "",
            "schema-schema",
            "",
            "",
        ),
        rule(
            r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)-schema\.sql$",
            "$1",
            "$2",
            "table-schema",
            "",
            "",
        ),
        rule(
            r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)-schema-view\.sql$",
            "$1",
            "$2",
            "view-schema",
            "",
            "",
        ),
        rule(
            r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)(?:\.([0-9]+))?\.(sql|csv|parquet)(?:\.(\w+))?$",
            "$1",
            "$2",
            "$4",
            "$3",
            "$5",
        ),
    ]
}

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// `[[mydumper.files]]`.
    pub file_rules: Vec<FileRule>,
    /// Also apply the default rules when user rules are given
    /// (`default-file-rules`).
    pub default_file_rules: bool,
    /// The table filter.
    pub filter: TableFilter,
    /// `[[routes]]`.
    pub routes: Vec<RouteRule>,
    /// Whether names compare case-sensitively (`case-sensitive`).
    pub case_sensitive: bool,
    /// Ignore schema files: the tables exist on the target (`no-schema`).
    pub no_schema: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            file_rules: Vec::new(),
            default_file_rules: true,
            filter: TableFilter::default(),
            routes: Vec::new(),
            case_sensitive: false,
            no_schema: false,
        }
    }
}

/// One data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Path relative to the data directory.
    pub path: PathBuf,
    /// Size in bytes (stored, so compressed for a compressed file).
    pub size: u64,
    /// The object's ETag when the scan listed it (object stores only):
    /// every read of the file requires it, so a replaced object is
    /// noticed.
    pub etag: Option<String>,
    /// Format.
    pub format: SourceFormat,
    /// Compression.
    pub compression: Compression,
    /// Sort key (the dumper's chunk number), empty if none.
    pub key: String,
    /// Database name in the dump (before routes).
    pub source_db: String,
    /// Table name in the dump (before routes).
    pub source_table: String,
}

/// A table of the data source, under its target name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSource {
    /// Target database.
    pub db: String,
    /// Target table.
    pub name: String,
    /// The schema file (first in path order when routes merge several).
    pub schema_file: Option<PathBuf>,
    /// Data files, sorted by key then path.
    pub data_files: Vec<DataFile>,
}

/// A view of the data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSource {
    /// Target database.
    pub db: String,
    /// View name.
    pub name: String,
    /// The `-schema-view.sql` file.
    pub schema_file: PathBuf,
}

/// A database of the data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSource {
    /// Target database name.
    pub name: String,
    /// The `-schema-create.sql` file.
    pub schema_file: Option<PathBuf>,
    /// Tables sorted by name.
    pub tables: Vec<TableSource>,
    /// Views sorted by name.
    pub views: Vec<ViewSource>,
}

/// The scan's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// Where the dump is (a local directory, made absolute, or an object
    /// store); file paths of the result are relative to it.
    pub storage: Storage,
    /// Databases sorted by name.
    pub databases: Vec<DatabaseSource>,
    /// Files no rule matched (mydumper `metadata`, notes…), relative.
    pub unmatched: Vec<PathBuf>,
    /// Things worth telling the user: empty data files, tables without
    /// data, links skipped.
    pub warnings: Vec<String>,
}

impl ScanResult {
    /// The metas prechecks get.
    pub fn check_ctx(&self) -> CheckCtx {
        CheckCtx {
            db_metas: self
                .databases
                .iter()
                .map(|db| SourceDatabaseMeta {
                    name: db.name.clone(),
                    schema_file: db.schema_file.clone(),
                    tables: db
                        .tables
                        .iter()
                        .map(|t| SourceTableMeta {
                            db: t.db.clone(),
                            name: t.name.clone(),
                            schema_file: t.schema_file.clone(),
                            data_files: t
                                .data_files
                                .iter()
                                .map(|f| SourceFileMeta {
                                    path: f.path.clone(),
                                    size: f.size,
                                    format: f.format,
                                    compression: f.compression,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Fails, naming the first data file, for a table that has data but no
    /// schema file unless `exists_on_target(db, table)` says the target
    /// already has it.
    pub fn check_schemas(
        &self,
        exists_on_target: impl Fn(&str, &str) -> bool,
    ) -> Result<(), SourceError> {
        for db in &self.databases {
            for t in &db.tables {
                if t.schema_file.is_none() && !exists_on_target(&t.db, &t.name) {
                    let file = t
                        .data_files
                        .first()
                        .map(|f| f.path.display().to_string())
                        .unwrap_or_default();
                    return Err(SourceError::Layout {
                        path: file,
                        reason: format!(
                            "table `{}`.`{}` has data but no schema file, and does not exist on the target",
                            t.db, t.name
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The table `db`.`name` (target names, compared as MySQL does).
    pub fn table(&self, db: &str, name: &str) -> Option<&TableSource> {
        self.databases
            .iter()
            .filter(|d| d.name.eq_ignore_ascii_case(db))
            .flat_map(|d| &d.tables)
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// Turns `data-source-dir` (a path or a `file://` URL) into a path.
pub fn data_source_path(spec: &str) -> Result<PathBuf, SourceError> {
    if let Some(rest) = spec.strip_prefix("file://") {
        let decoded = percent_encoding::percent_decode_str(rest)
            .decode_utf8()
            .map_err(|_| {
                SourceError::Config(format!("data-source-dir {spec:?} is not valid UTF-8"))
            })?;
        return Ok(PathBuf::from(decoded.as_ref()));
    }
    if let Some((scheme, _)) = spec.split_once("://") {
        // Not the whole text: a URL may carry credentials.
        return Err(SourceError::Config(format!(
            "data-source-dir: storage scheme {scheme:?} is not supported (use a path, file://, \
             s3://, gs://, gcs://, azure:// or azblob://)"
        )));
    }
    Ok(PathBuf::from(spec))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SchemaSchema,
    TableSchema,
    ViewSchema,
    Data(SourceFormat),
    Ignore,
}

struct CompiledRule {
    regex: Regex,
    rule: FileRule,
}

fn compile_rules(opts: &ScanOptions) -> Result<Vec<CompiledRule>, SourceError> {
    let mut rules = opts.file_rules.clone();
    if rules.is_empty() || opts.default_file_rules {
        rules.extend(default_file_rules());
    }
    rules
        .into_iter()
        .map(|rule| {
            let regex = Regex::new(&rule.pattern).map_err(|e| {
                SourceError::Config(format!("mydumper.files pattern {:?}: {e}", rule.pattern))
            })?;
            Ok(CompiledRule { regex, rule })
        })
        .collect()
}

fn unescape_name(name: &str, path: &Path) -> Result<String, SourceError> {
    percent_encoding::percent_decode_str(name)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SourceError::Layout {
            path: path.display().to_string(),
            reason: format!("name {name:?} is not valid UTF-8 after %-unescaping"),
        })
}

struct Classified {
    kind: Kind,
    db: String,
    table: String,
    key: String,
    compression: Compression,
}

fn classify(rules: &[CompiledRule], rel: &Path) -> Result<Option<Classified>, SourceError> {
    let Some(text) = rel.to_str() else {
        return Err(SourceError::Layout {
            path: rel.display().to_string(),
            reason: "file name is not valid UTF-8".into(),
        });
    };
    let text = text.replace(std::path::MAIN_SEPARATOR, "/");
    let lower = text.to_ascii_lowercase();
    if lower.ends_with("-schema-trigger.sql") || lower.ends_with("-schema-post.sql") {
        return Ok(None);
    }
    for r in rules {
        let Some(caps) = r.regex.captures(&text) else {
            continue;
        };
        let expand = |tpl: &str| {
            let mut s = String::new();
            caps.expand(tpl, &mut s);
            s
        };
        let kind = match expand(&r.rule.file_type).to_ascii_lowercase().as_str() {
            "schema-schema" => Kind::SchemaSchema,
            "table-schema" => Kind::TableSchema,
            "view-schema" => Kind::ViewSchema,
            "sql" => Kind::Data(SourceFormat::Sql),
            "csv" => Kind::Data(SourceFormat::Csv),
            "parquet" => Kind::Data(SourceFormat::Parquet),
            "ignore" => Kind::Ignore,
            other => {
                return Err(SourceError::Layout {
                    path: text,
                    reason: format!("file rule gives unknown type {other:?}"),
                });
            }
        };
        let comp_text = expand(&r.rule.compression);
        let compression = compression_from_ext(&comp_text).ok_or_else(|| SourceError::Layout {
            path: text.clone(),
            reason: format!("unknown compression {comp_text:?}"),
        })?;
        let db = unescape_name(&expand(&r.rule.schema), rel)?;
        let table = unescape_name(&expand(&r.rule.table), rel)?;
        if db.is_empty() && kind != Kind::Ignore {
            return Err(SourceError::Layout {
                path: text,
                reason: "file rule gives an empty database name".into(),
            });
        }
        if table.is_empty() && !matches!(kind, Kind::SchemaSchema | Kind::Ignore) {
            return Err(SourceError::Layout {
                path: text,
                reason: "file rule gives an empty table name".into(),
            });
        }
        return Ok(Some(Classified {
            kind,
            db,
            table,
            key: expand(&r.rule.key),
            compression,
        }));
    }
    Ok(None)
}

/// Scans the dump in `storage` (a [`Storage`], or a local directory's
/// path).
pub fn scan(storage: impl Into<Storage>, opts: &ScanOptions) -> Result<ScanResult, SourceError> {
    let storage = storage.into();
    let rules = compile_rules(opts)?;
    let router = Router::new(&opts.routes, opts.case_sensitive)?;
    let mut warnings = Vec::new();
    let files = storage.list(&mut warnings)?;
    let fold = |s: &str| {
        if opts.case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };

    // Keyed by folded target names so routes merge and case does not split
    // tables; the first spelling seen is kept.
    let mut dbs: BTreeMap<String, DatabaseSource> = BTreeMap::new();
    let mut tables: BTreeMap<(String, String), TableSource> = BTreeMap::new();
    let mut views: BTreeMap<(String, String), ViewSource> = BTreeMap::new();
    let mut unmatched = Vec::new();
    // Schema files by the source table they define: two for one table is
    // an ambiguous dump, not something to resolve by picking one.
    let mut schema_files: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    // Source databases some of whose tables or views routes send to another
    // database: such a database is created only if something stays in it.
    let mut routed_away: HashSet<String> = HashSet::new();

    let db_entry = |dbs: &mut BTreeMap<String, DatabaseSource>, name: &str| {
        dbs.entry(fold(name)).or_insert_with(|| DatabaseSource {
            name: name.to_string(),
            schema_file: None,
            tables: Vec::new(),
            views: Vec::new(),
        });
    };

    for Listed {
        path: rel,
        size,
        etag,
    } in files
    {
        let Some(c) = classify(&rules, &rel)? else {
            unmatched.push(rel);
            continue;
        };
        match c.kind {
            Kind::Ignore => {}
            Kind::SchemaSchema => {
                if !opts.filter.matches_schema(&c.db) {
                    continue;
                }
                let (tdb, _) = router.route(&c.db, "");
                db_entry(&mut dbs, &tdb);
                if let (false, Some(db)) = (opts.no_schema, dbs.get_mut(&fold(&tdb))) {
                    db.schema_file.get_or_insert(rel);
                }
            }
            Kind::TableSchema | Kind::ViewSchema | Kind::Data(_) => {
                if !opts.filter.matches_table(&c.db, &c.table) {
                    continue;
                }
                let (tdb, ttable) = router.route(&c.db, &c.table);
                if fold(&tdb) != fold(&c.db) {
                    routed_away.insert(fold(&c.db));
                }
                db_entry(&mut dbs, &tdb);
                let key = (fold(&tdb), fold(&ttable));
                if c.kind == Kind::ViewSchema {
                    if !opts.no_schema {
                        views.entry(key).or_insert(ViewSource {
                            db: tdb,
                            name: ttable,
                            schema_file: rel,
                        });
                    }
                    continue;
                }
                let entry = tables.entry(key).or_insert_with(|| TableSource {
                    db: tdb.clone(),
                    name: ttable.clone(),
                    schema_file: None,
                    data_files: Vec::new(),
                });
                match c.kind {
                    Kind::TableSchema if !opts.no_schema => {
                        let source_key = (fold(&c.db), fold(&c.table));
                        if let Some(first) = schema_files.get(&source_key) {
                            return Err(SourceError::Layout {
                                path: rel.display().to_string(),
                                reason: format!(
                                    "table `{}`.`{}` is defined twice: also by {}; remove one of the schema files",
                                    c.db,
                                    c.table,
                                    first.display()
                                ),
                            });
                        }
                        schema_files.insert(source_key, rel.clone());
                        entry.schema_file.get_or_insert(rel);
                    }
                    Kind::Data(format) => {
                        if size == 0 {
                            warnings.push(format!("{}: empty data file", rel.display()));
                        }
                        entry.data_files.push(DataFile {
                            path: rel,
                            size,
                            etag,
                            format,
                            compression: c.compression,
                            key: c.key,
                            source_db: c.db,
                            source_table: c.table,
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    for ((db_key, _), mut table) in tables {
        // Dumpling writes a placeholder table schema for every view.
        if views.contains_key(&(db_key.clone(), fold(&table.name))) && table.data_files.is_empty() {
            continue;
        }
        table.data_files.sort_by(|a, b| {
            let ka = a.key.parse::<u64>().ok();
            let kb = b.key.parse::<u64>().ok();
            (ka, &a.key, &a.path).cmp(&(kb, &b.key, &b.path))
        });
        if table.data_files.iter().all(|f| f.size == 0) {
            warnings.push(format!("table `{}`.`{}` has no data", table.db, table.name));
        }
        if let Some(db) = dbs.get_mut(&db_key) {
            db.tables.push(table);
        }
    }
    for ((db_key, _), view) in views {
        if let Some(db) = dbs.get_mut(&db_key) {
            db.views.push(view);
        }
    }
    dbs.retain(|key, db| {
        !(routed_away.contains(key) && db.tables.is_empty() && db.views.is_empty())
    });
    let storage = match storage.local_root() {
        Some(root) => Storage::local(
            root.canonicalize()
                .map_err(|e| SourceError::io(root, "open data-source-dir", e))?,
        ),
        None => storage,
    };
    Ok(ScanResult {
        storage,
        databases: dbs.into_values().collect(),
        unmatched,
        warnings,
    })
}
