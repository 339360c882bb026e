//! Schema files: `CREATE DATABASE`, `CREATE TABLE` and `CREATE VIEW` dumps
//! to the core table model.
//!
//! Dump files carry noise a SQL parser should not see: `SET` statements,
//! `/*!40101 … */` version comments, TiDB's `/*T![clustered_index] … */`,
//! `DEFINER=` clauses, table options and partition clauses. The file is
//! first split into statements with comments removed (noting any
//! `CLUSTERED`/`NONCLUSTERED` marker); a `CREATE TABLE` is then cut after its
//! column list, whose text goes to `sqlparser` (MySQL dialect), while the
//! table options behind it are read with simple patterns. Column and index
//! ids are assigned 1..n in declaration order; a single integer primary key
//! is the row handle unless declared `NONCLUSTERED` (TiDB's rule).

use std::sync::OnceLock;

use backend_core::model::{
    ColumnInfo, DefaultValue, GeneratedColumn, IndexColumn, IndexInfo, TableInfo,
};
use regex::Regex;
use sqlparser::ast::{
    ColumnOption, Expr, GeneratedExpressionMode, Statement, TableConstraint, UnaryOperator, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::SourceError;
use super::storage::FileIn;

mod column_type;
mod rewrite;
mod split;

use column_type::parse_type;
use split::{Stmt, split_statements};

/// A database definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSchema {
    /// The database name.
    pub name: String,
    /// The `CREATE DATABASE` statement.
    pub create_sql: String,
}

/// A view definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSchema {
    /// The view name.
    pub name: String,
    /// The `CREATE VIEW` statement without `DEFINER`/`ALGORITHM`/`SQL
    /// SECURITY`, so it runs as the importing user.
    pub create_sql: String,
}

/// The character set schema files are written in (`mydumper.character-set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaCharset {
    /// UTF-8 when the file is valid UTF-8, else GB18030 (Lightning's
    /// default).
    #[default]
    Auto,
    /// UTF-8.
    Utf8mb4,
    /// GB18030.
    Gb18030,
    /// GBK, read as GB18030, its superset.
    Gbk,
    /// MySQL's `latin1`, which is Windows-1252.
    Latin1,
    /// Taken as it is: the file must be valid UTF-8 to be sent as text.
    Binary,
}

impl SchemaCharset {
    /// Parses a `character-set` name (case-insensitive; `utf8` is `utf8mb4`).
    pub fn parse(name: &str) -> Result<Self, SourceError> {
        match name.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(SchemaCharset::Auto),
            "utf8mb4" | "utf8" => Ok(SchemaCharset::Utf8mb4),
            "gb18030" => Ok(SchemaCharset::Gb18030),
            "gbk" => Ok(SchemaCharset::Gbk),
            "latin1" => Ok(SchemaCharset::Latin1),
            "binary" => Ok(SchemaCharset::Binary),
            other => Err(SourceError::Config(format!(
                "unsupported character-set {other:?} (expected auto, utf8mb4, gb18030, gbk, latin1 or binary)"
            ))),
        }
    }

    /// The file's text, converted to UTF-8.
    pub fn decode(self, bytes: Vec<u8>, file: &str) -> Result<String, SourceError> {
        let gb18030 = |bytes: &[u8]| {
            encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|text| text.into_owned())
        };
        match self {
            SchemaCharset::Utf8mb4 | SchemaCharset::Binary => String::from_utf8(bytes)
                .map_err(|e| {
                    let at = e.utf8_error().valid_up_to();
                    let line = 1 + memchr::memchr_iter(b'\n', &e.as_bytes()[..at]).count();
                    schema_err_at(
                        file,
                        line as u64,
                        format!(
                            "byte {at} is not valid UTF-8 (set mydumper.character-set to the file's character set)"
                        ),
                    )
                }),
            SchemaCharset::Auto => match String::from_utf8(bytes) {
                Ok(text) => Ok(text),
                Err(e) => gb18030(e.as_bytes()).ok_or_else(|| {
                    schema_err(
                        file,
                        "schema file is neither valid UTF-8 nor valid GB18030 (set mydumper.character-set)",
                    )
                }),
            },
            SchemaCharset::Gb18030 | SchemaCharset::Gbk => gb18030(&bytes)
                .ok_or_else(|| schema_err(file, "schema file is not valid GB18030/GBK")),
            SchemaCharset::Latin1 => Ok(encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(&bytes)
                .0
                .into_owned()),
        }
    }
}

fn read(path: FileIn<'_>, file: &str, charset: SchemaCharset) -> Result<String, SourceError> {
    let bytes = path.storage.read(path.path)?;
    charset.decode(bytes, file)
}

fn schema_err(file: &str, reason: impl Into<String>) -> SourceError {
    SourceError::Schema {
        file: file.to_string(),
        reason: reason.into(),
    }
}

fn schema_err_at(file: &str, line: u64, reason: impl Into<String>) -> SourceError {
    SourceError::SchemaAt {
        file: file.to_string(),
        line,
        reason: reason.into(),
    }
}

fn first_words(text: &str, n: usize) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == '`')
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Whether a statement is session noise dumps carry (`SET`, `USE`, `DROP …
/// IF EXISTS`, `LOCK`…).
fn is_noise(text: &str) -> bool {
    let w = first_words(text, 1);
    matches!(
        w.first().map(String::as_str),
        Some("SET" | "USE" | "DROP" | "LOCK" | "UNLOCK" | "DELIMITER")
    )
}

/// The one statement of kind `what` in the file text, recognised in the
/// form `form` selects; statements that are blank in that form are skipped.
fn the_statement(
    text: &str,
    file: &str,
    what: &str,
    form: fn(&Stmt) -> &str,
    is_it: impl Fn(&str) -> bool,
) -> Result<Stmt, SourceError> {
    let mut found = None;
    for stmt in split_statements(text) {
        let seen = form(&stmt);
        if seen.is_empty() || is_noise(seen) {
            continue;
        }
        if !is_it(seen) {
            return Err(schema_err_at(
                file,
                stmt.line,
                format!("unexpected statement in a {what} file: {seen:.80}"),
            ));
        }
        if found.is_some() {
            return Err(schema_err_at(
                file,
                stmt.line,
                format!("more than one {what} statement"),
            ));
        }
        found = Some(stmt);
    }
    found.ok_or_else(|| schema_err(file, format!("no {what} statement found")))
}

/// Reads a `{db}-schema-create.sql` file.
pub fn parse_database_file<'a>(
    path: impl Into<FileIn<'a>>,
    file: &str,
    charset: SchemaCharset,
) -> Result<DatabaseSchema, SourceError> {
    parse_create_database(&read(path.into(), file, charset)?, file)
}

/// Parses a `CREATE DATABASE`/`CREATE SCHEMA` statement (with noise).
pub fn parse_create_database(text: &str, file: &str) -> Result<DatabaseSchema, SourceError> {
    let stmt = the_statement(
        text,
        file,
        "CREATE DATABASE",
        |s| &s.stripped,
        |t| {
            let w = first_words(t, 2);
            w.len() == 2 && w[0] == "CREATE" && (w[1] == "DATABASE" || w[1] == "SCHEMA")
        },
    )?;
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(r"(?is)^CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|[^\s;]+)").ok()
        })
        .as_ref()
        .ok_or_else(|| schema_err(file, "internal: bad pattern"))?;
    let caps = re
        .captures(&stmt.stripped)
        .ok_or_else(|| schema_err(file, "cannot find the database name"))?;
    let name = unquote(&caps[1]);
    if name.is_empty() {
        return Err(schema_err(file, "the database name is empty"));
    }
    Ok(DatabaseSchema {
        name,
        create_sql: stmt.raw,
    })
}

/// A charset or collation name as written (`utf8mb4`, `'utf8mb4'`,
/// `` `utf8mb4` ``), lower-cased and unquoted.
fn unquote_name(name: &str) -> String {
    name.trim_matches(|c| matches!(c, '\'' | '"' | '`'))
        .to_ascii_lowercase()
}

fn unquote(ident: &str) -> String {
    match ident.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.replace("``", "`"),
        None => ident.to_string(),
    }
}

/// Reads a `{db}.{table}-schema-view.sql` file.
pub fn parse_view_file<'a>(
    path: impl Into<FileIn<'a>>,
    file: &str,
    charset: SchemaCharset,
) -> Result<ViewSchema, SourceError> {
    parse_create_view(&read(path.into(), file, charset)?, file)
}

/// Parses a `CREATE VIEW` statement (the file may also hold dumpling's
/// placeholder `CREATE TABLE` and `DROP` statements, which are skipped).
pub fn parse_create_view(text: &str, file: &str) -> Result<ViewSchema, SourceError> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(concat!(
                r"(?is)^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?",
                r"(?:DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s@]+)(?:\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\S+))?\s+)?",
                r"(?:SQL\s+SECURITY\s+\w+\s+)?VIEW\s+(`(?:[^`]|``)+`|[^\s(]+)(.*)$"
            ))
            .ok()
        })
        .as_ref()
        .ok_or_else(|| schema_err(file, "internal: bad pattern"))?;
    let mut found = None;
    for stmt in split_statements(text) {
        let text = stmt.stripped.as_str();
        if text.is_empty() || is_noise(text) {
            continue;
        }
        let w = first_words(text, 2);
        if w.len() == 2 && w[0] == "CREATE" && w[1] == "TABLE" {
            continue;
        }
        let caps = re.captures(text).ok_or_else(|| {
            schema_err_at(
                file,
                stmt.line,
                format!("not a CREATE VIEW statement: {text:.80}"),
            )
        })?;
        if found.is_some() {
            return Err(schema_err(file, "more than one CREATE VIEW statement"));
        }
        let name = unquote(&caps[1]);
        found = Some(ViewSchema {
            create_sql: format!("CREATE VIEW {}{}", &caps[1], &caps[2]),
            name,
        });
    }
    found.ok_or_else(|| schema_err(file, "no CREATE VIEW statement found"))
}

/// A `CREATE TABLE` of a dump: the statement for the server and, as far
/// as this parser understands it, the table model.
#[derive(Debug)]
pub struct TableDefinition {
    /// The table name the statement gives.
    pub name: String,
    /// The statement as written (comments kept, see [`Stmt::raw`]): a
    /// server runs it and is the judge of what it means.
    pub create_sql: String,
    /// The table model, or why this parser cannot build it (naming the
    /// file, line and construct). A target that runs `create_sql` and reads
    /// the table back does not need it.
    pub model: Result<TableInfo, SourceError>,
}

impl TableDefinition {
    /// The table model, or the error that says why there is none.
    pub fn into_model(self) -> Result<TableInfo, SourceError> {
        self.model
    }

    /// The model, or one that has only the name and `create_sql`, for a
    /// target that runs the statement and reads the table back.
    pub fn into_model_or_statement(self) -> TableInfo {
        match self.model {
            Ok(model) => model,
            Err(_) => TableInfo {
                id: 0,
                name: self.name,
                charset: String::new(),
                collation: String::new(),
                columns: Vec::new(),
                indices: Vec::new(),
                pk_is_handle: false,
                is_common_handle: false,
                auto_increment_base: 0,
                create_sql: Some(self.create_sql),
            },
        }
    }
}

/// Reads a `{db}.{table}-schema.sql` file. The table id is 0: the target
/// assigns it.
pub fn parse_table_file<'a>(
    path: impl Into<FileIn<'a>>,
    file: &str,
) -> Result<TableInfo, SourceError> {
    read_table_definition(path, file, SchemaCharset::Auto)?.into_model()
}

/// Reads a `{db}.{table}-schema.sql` file written in `charset`.
pub fn read_table_definition<'a>(
    path: impl Into<FileIn<'a>>,
    file: &str,
    charset: SchemaCharset,
) -> Result<TableDefinition, SourceError> {
    parse_table_definition(&read(path.into(), file, charset)?, file)
}

/// Parses a `CREATE TABLE` statement (with dump noise) into the table model.
pub fn parse_create_table(text: &str, file: &str) -> Result<TableInfo, SourceError> {
    parse_table_definition(text, file)?.into_model()
}

/// Finds the one `CREATE TABLE` statement of a schema file and parses it.
/// Errors: no such statement, another statement, or no table name; what
/// the model lacks is in [`TableDefinition::model`].
pub fn parse_table_definition(text: &str, file: &str) -> Result<TableDefinition, SourceError> {
    let stmt = the_statement(
        text,
        file,
        "CREATE TABLE",
        |s| &s.text,
        |t| {
            let w = first_words(t, 3);
            w.len() >= 2
                && w[0] == "CREATE"
                && (w[1] == "TABLE"
                    || (w[1] == "TEMPORARY" && w.get(2).is_some_and(|x| x == "TABLE")))
        },
    )?;
    let model = table_model(&stmt, file);
    let name = match &model {
        Ok(model) => model.name.clone(),
        Err(_) => statement_table_name(&stmt.text)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| schema_err_at(file, stmt.line, "CREATE TABLE without a table name"))?,
    };
    Ok(TableDefinition {
        name,
        create_sql: stmt.raw.clone(),
        model,
    })
}

/// The table name after `CREATE [TEMPORARY] TABLE [IF NOT EXISTS]`, the
/// last part of a qualified name.
fn statement_table_name(text: &str) -> Option<String> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(concat!(
                r"(?is)^CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?",
                r"(?:(?:`(?:[^`]|``)*`|[^\s(.`]+)\s*\.\s*)?(`(?:[^`]|``)*`|[^\s(.`]+)"
            ))
            .ok()
        })
        .as_ref()?;
    re.captures(text).map(|c| unquote(&c[1]))
}

/// The file line of a position sqlparser reports (1-based in the parsed
/// text, which starts on the statement's line).
fn file_line(stmt: &Stmt, parsed_line: u64) -> u64 {
    stmt.line + parsed_line.saturating_sub(1)
}

/// A sqlparser error as a schema error at its file line, without the
/// parser's own (statement-relative) position.
fn parse_error(stmt: &Stmt, file: &str, err: &sqlparser::parser::ParserError) -> SourceError {
    let text = err.to_string();
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let at = RE
        .get_or_init(|| Regex::new(r" at Line: (\d+), Column: (\d+)").ok())
        .as_ref()
        .and_then(|re| {
            re.captures(&text).map(|c| {
                (
                    c.get(0).map(|m| m.range()),
                    c[1].parse().ok(),
                    c[2].to_string(),
                )
            })
        });
    match at {
        Some((Some(range), Some(line), column)) => {
            // The parser's line counts from the statement; the column is
            // the file's (the statement starts a line, or its first line's
            // column is off by what comes before it).
            let mut reason = text.clone();
            reason.replace_range(range, "");
            schema_err_at(
                file,
                file_line(stmt, line),
                format!("cannot parse CREATE TABLE: {reason} (column {column})"),
            )
        }
        _ => schema_err_at(
            file,
            stmt.line,
            format!("cannot parse CREATE TABLE: {text}"),
        ),
    }
}

/// The table model of a `CREATE TABLE` statement.
fn table_model(stmt: &Stmt, file: &str) -> Result<TableInfo, SourceError> {
    let sql = stmt.text.as_str();
    let (_, close) = column_list_span(sql).ok_or_else(|| {
        schema_err_at(
            file,
            stmt.line,
            "cannot find the column list of CREATE TABLE",
        )
    })?;
    let head_body = rewrite::for_local_parser(&sql[..=close]);
    let tail = &sql[close + 1..];
    let parsed =
        Parser::parse_sql(&MySqlDialect {}, &head_body).map_err(|e| parse_error(stmt, file, &e))?;
    let Some(Statement::CreateTable(ct)) = parsed.into_iter().next() else {
        return Err(schema_err_at(
            file,
            stmt.line,
            "not a CREATE TABLE statement",
        ));
    };
    let name = ct
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| schema_err_at(file, stmt.line, "CREATE TABLE without a table name"))?;
    let (charset, collation, auto_inc) = table_options(tail);

    let mut columns = Vec::with_capacity(ct.columns.len());
    // (name, columns with prefix lengths, unique, primary)
    let mut constraints: Vec<Constraint> = Vec::new();
    for (i, def) in ct.columns.iter().enumerate() {
        let cname = def.name.value.clone();
        let line = file_line(stmt, def.name.span.start.line);
        // MySQL refuses this (`Duplicate column name`); accepting it made
        // rows map by name onto the wrong column (found by fuzzing).
        if ct.columns[..i]
            .iter()
            .any(|d| d.name.value.eq_ignore_ascii_case(&cname))
        {
            return Err(schema_err_at(
                file,
                line,
                format!("duplicate column name {cname:?}"),
            ));
        }
        let mut ft = parse_type(&def.data_type.to_string()).ok_or_else(|| {
            schema_err_at(
                file,
                line,
                format!("column {cname:?}: unsupported type {}", def.data_type),
            )
        })?;
        let id = i64::try_from(i + 1).map_err(|_| schema_err(file, "too many columns"))?;
        let mut col = ColumnInfo::new(id, cname.clone(), i, ft.clone());
        for opt in &def.options {
            match &opt.option {
                ColumnOption::NotNull => ft.not_null = true,
                ColumnOption::Null => ft.not_null = false,
                ColumnOption::Default(expr) => col.default = Some(default_value(expr)),
                ColumnOption::PrimaryKey(_) => {
                    constraints.push((
                        Some("PRIMARY".into()),
                        vec![(cname.clone(), None)],
                        true,
                        true,
                    ));
                }
                ColumnOption::Unique(_) => {
                    constraints.push((None, vec![(cname.clone(), None)], true, false));
                }
                ColumnOption::CharacterSet(cs) => ft.charset = unquote_name(&cs.to_string()),
                ColumnOption::Collation(c) => ft.collation = unquote_name(&c.to_string()),
                ColumnOption::OnUpdate(_) => col.on_update_now = true,
                ColumnOption::Generated {
                    generation_expr: Some(expr),
                    generation_expr_mode,
                    ..
                } => {
                    col.generated = Some(GeneratedColumn {
                        expr: expr.to_string(),
                        stored: matches!(
                            generation_expr_mode,
                            Some(GeneratedExpressionMode::Stored)
                        ),
                    });
                }
                other => {
                    let text = other.to_string().to_ascii_uppercase();
                    if text.contains("AUTO_INCREMENT") {
                        col.auto_increment = true;
                    }
                }
            }
        }
        if ft.is_binary_string() && ft.charset.is_empty() {
            ft.charset = "binary".into();
        }
        col.field_type = ft;
        columns.push(col);
    }
    for c in &ct.constraints {
        let (name, cols, unique, primary) = match c {
            TableConstraint::PrimaryKey(pk) => {
                (Some("PRIMARY".to_string()), &pk.columns, true, true)
            }
            TableConstraint::Unique(u) => (
                u.name
                    .as_ref()
                    .or(u.index_name.as_ref())
                    .map(|n| n.value.clone()),
                &u.columns,
                true,
                false,
            ),
            TableConstraint::Index(ix) => (
                ix.name.as_ref().map(|n| n.value.clone()),
                &ix.columns,
                false,
                false,
            ),
            TableConstraint::FulltextOrSpatial(fs) => (
                fs.opt_index_name.as_ref().map(|n| n.value.clone()),
                &fs.columns,
                false,
                false,
            ),
            _ => continue,
        };
        let mut parts = Vec::with_capacity(cols.len());
        for ic in cols {
            parts.push(key_part(&ic.column.expr).ok_or_else(|| {
                schema_err_at(
                    file,
                    stmt.line,
                    format!(
                        "unsupported index key part {} (expression indexes are not supported)",
                        ic.column.expr
                    ),
                )
            })?);
        }
        constraints.push((name, parts, unique, primary));
    }

    let mut indices: Vec<IndexInfo> = Vec::new();
    let mut pk_is_handle = false;
    let mut is_common_handle = false;
    if constraints.iter().filter(|c| c.3).count() > 1 {
        return Err(schema_err_at(
            file,
            stmt.line,
            "multiple primary keys defined",
        ));
    }
    for (name, parts, unique, primary) in constraints {
        let mut idx_cols = Vec::with_capacity(parts.len());
        for (cname, length) in &parts {
            let col = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(cname))
                .ok_or_else(|| {
                    schema_err_at(
                        file,
                        stmt.line,
                        format!("index refers to unknown column {cname:?}"),
                    )
                })?;
            if primary {
                col.field_type.not_null = true;
            }
            idx_cols.push(IndexColumn {
                name: col.name.clone(),
                offset: col.offset,
                length: *length,
            });
        }
        if primary {
            let single_int = idx_cols.len() == 1
                && idx_cols[0].length.is_none()
                && columns[idx_cols[0].offset].field_type.tp.is_integer();
            if single_int && stmt.clustered != Some(false) {
                // The record key is this index: TiDB gives it no index id,
                // so it is listed (to find the handle column) with id 0 and
                // the other indexes keep TiDB's ids.
                pk_is_handle = true;
                indices.push(IndexInfo {
                    id: 0,
                    name: "PRIMARY".into(),
                    columns: idx_cols,
                    unique: true,
                    primary: true,
                });
                continue;
            }
            is_common_handle = stmt.clustered == Some(true);
        }
        let name = match name {
            Some(n) => n,
            None => unique_index_name(&indices, &idx_cols[0].name),
        };
        let real_indexes = indices.iter().filter(|i| i.id != 0).count();
        let id =
            i64::try_from(real_indexes + 1).map_err(|_| schema_err(file, "too many indexes"))?;
        indices.push(IndexInfo {
            id,
            name,
            columns: idx_cols,
            unique,
            primary,
        });
    }
    Ok(TableInfo {
        id: 0,
        name,
        charset: charset.unwrap_or_else(|| "utf8mb4".into()),
        collation: collation.unwrap_or_default(),
        columns,
        indices,
        pk_is_handle,
        is_common_handle,
        auto_increment_base: auto_inc,
        create_sql: Some(stmt.raw.clone()),
    })
}

/// An index as declared: name, key parts (column, prefix length), unique,
/// primary.
type Constraint = (Option<String>, Vec<(String, Option<u32>)>, bool, bool);

/// MySQL names an unnamed index after its first column, adding `_2`, `_3`…
fn unique_index_name(indices: &[IndexInfo], base: &str) -> String {
    let taken = |n: &str| indices.iter().any(|i| i.name.eq_ignore_ascii_case(n));
    if !taken(base) && !base.eq_ignore_ascii_case("PRIMARY") {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}_{k}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_string())
}

/// `col` or `col(10)` to name and prefix length. The name comes from the
/// parsed identifier: sqlparser prints a back-quoted name without
/// doubling its inner back-quotes, so unquoting the printed text turned
/// `` `k````` `` (column ``k`` ``) into ``k` `` (found by the SQL escaping
/// test).
fn key_part(expr: &Expr) -> Option<(String, Option<u32>)> {
    match expr {
        Expr::Identifier(ident) => Some((ident.value.clone(), None)),
        // A prefix length parses as a call: `col(10)`.
        Expr::Function(f) => {
            let [part] = f.name.0.as_slice() else {
                return None;
            };
            let name = part.as_ident()?.value.clone();
            let text = expr.to_string();
            let open = text.rfind('(')?;
            let len: u32 = text[open + 1..].strip_suffix(')')?.trim().parse().ok()?;
            Some((name, Some(len)))
        }
        _ => None,
    }
}

/// Byte positions of the `(` and `)` around the column list.
fn column_list_span(sql: &str) -> Option<(usize, usize)> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => {
                i = split::quoted_end(b, i);
                continue;
            }
            b'(' => {
                if depth == 0 && open.is_none() {
                    open = Some(i);
                }
                depth += 1;
            }
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return open.map(|o| (o, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `DEFAULT CHARSET=`, `COLLATE=`, `AUTO_INCREMENT=` from the table options.
fn table_options(tail: &str) -> (Option<String>, Option<String>, i64) {
    static RES: OnceLock<Option<[Regex; 3]>> = OnceLock::new();
    let Some([cs, coll, ai]) = RES
        .get_or_init(|| {
            Some([
                Regex::new(r"(?i)\b(?:CHARSET|CHARACTER\s+SET)\s*=?\s*`?(\w+)").ok()?,
                Regex::new(r"(?i)\bCOLLATE\s*=?\s*`?(\w+)").ok()?,
                Regex::new(r"(?i)\bAUTO_INCREMENT\s*=?\s*(\d+)").ok()?,
            ])
        })
        .as_ref()
    else {
        return (None, None, 0);
    };
    let get = |re: &Regex| re.captures(tail).map(|c| c[1].to_ascii_lowercase());
    let auto_inc = ai
        .captures(tail)
        .and_then(|c| c[1].parse::<i64>().ok())
        .unwrap_or(0);
    (get(cs), get(coll), auto_inc)
}

fn default_value(expr: &Expr) -> DefaultValue {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Null => DefaultValue::Null,
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                DefaultValue::Literal(s.clone())
            }
            Value::Number(n, _) => DefaultValue::Literal(n.to_string()),
            Value::Boolean(b) => DefaultValue::Literal(if *b { "1" } else { "0" }.into()),
            other => DefaultValue::Literal(other.to_string()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match default_value(expr) {
            DefaultValue::Literal(s) => DefaultValue::Literal(format!("-{s}")),
            other => other,
        },
        Expr::Nested(inner) => default_value(inner),
        other => {
            let text = other.to_string();
            let up = text.to_ascii_uppercase();
            if ["CURRENT_TIMESTAMP", "NOW(", "LOCALTIME", "LOCALTIMESTAMP"]
                .iter()
                .any(|p| up.starts_with(p))
            {
                DefaultValue::CurrentTimestamp
            } else {
                DefaultValue::Literal(text)
            }
        }
    }
}
