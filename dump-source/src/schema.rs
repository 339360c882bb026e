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

use std::path::Path;
use std::sync::OnceLock;

use backend_core::model::{
    ColumnInfo, ColumnType, DefaultValue, FieldType, GeneratedColumn, IndexColumn, IndexInfo,
    TableInfo,
};
use regex::Regex;
use sqlparser::ast::{
    ColumnOption, Expr, GeneratedExpressionMode, Statement, TableConstraint, UnaryOperator, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::SourceError;

/// One statement of a schema file, comments removed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stmt {
    text: String,
    /// `Some(true)` for `CLUSTERED`, `Some(false)` for `NONCLUSTERED`.
    clustered: Option<bool>,
}

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

fn read(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::io(path, "read schema file", e))?;
    String::from_utf8(bytes).map_err(|_| SourceError::Schema {
        file: path.display().to_string(),
        reason: "schema file is not valid UTF-8".into(),
    })
}

fn schema_err(file: &str, reason: impl Into<String>) -> SourceError {
    SourceError::Schema {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// Splits SQL text into statements at `;`, dropping comments and empty
/// statements, and the words `CLUSTERED`/`NONCLUSTERED`.
fn split_statements(text: &str) -> Vec<Stmt> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut clustered = None;
    let mut i = 0;
    let note = |s: &[u8], clustered: &mut Option<bool>| {
        let up = String::from_utf8_lossy(s).to_ascii_uppercase();
        if up.contains("NONCLUSTERED") {
            *clustered = Some(false);
        } else if up.contains("CLUSTERED") {
            *clustered = Some(true);
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                let start = i;
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                cur.extend_from_slice(&b[start..i]);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end =
                    memchr::memmem::find(&b[i + 2..], b"*/").map_or(b.len(), |k| i + 2 + k + 2);
                note(&b[i..end], &mut clustered);
                cur.push(b' ');
                i = end;
            }
            b'#' => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |k| i + k);
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |k| i + k);
            }
            b';' => {
                push_stmt(&mut out, &cur, clustered.take());
                cur.clear();
                i += 1;
            }
            c if c.is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) => {
                let end = b[i..]
                    .iter()
                    .position(|c| !is_word(*c))
                    .map_or(b.len(), |k| i + k);
                let word = &b[i..end];
                if word.eq_ignore_ascii_case(b"CLUSTERED")
                    || word.eq_ignore_ascii_case(b"NONCLUSTERED")
                {
                    note(word, &mut clustered);
                } else {
                    cur.extend_from_slice(word);
                }
                i = end;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    push_stmt(&mut out, &cur, clustered);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn push_stmt(out: &mut Vec<Stmt>, cur: &[u8], clustered: Option<bool>) {
    let text = String::from_utf8_lossy(cur).trim().to_string();
    if !text.is_empty() {
        out.push(Stmt { text, clustered });
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

/// The one statement of kind `what` in the file text.
fn the_statement(
    text: &str,
    file: &str,
    what: &str,
    is_it: impl Fn(&str) -> bool,
) -> Result<Stmt, SourceError> {
    let mut found = None;
    for stmt in split_statements(text) {
        if is_noise(&stmt.text) {
            continue;
        }
        if !is_it(&stmt.text) {
            return Err(schema_err(
                file,
                format!("unexpected statement in a {what} file: {:.80}", stmt.text),
            ));
        }
        if found.is_some() {
            return Err(schema_err(file, format!("more than one {what} statement")));
        }
        found = Some(stmt);
    }
    found.ok_or_else(|| schema_err(file, format!("no {what} statement found")))
}

/// Reads a `{db}-schema-create.sql` file.
pub fn parse_database_file(path: &Path, file: &str) -> Result<DatabaseSchema, SourceError> {
    parse_create_database(&read(path)?, file)
}

/// Parses a `CREATE DATABASE`/`CREATE SCHEMA` statement (with noise).
pub fn parse_create_database(text: &str, file: &str) -> Result<DatabaseSchema, SourceError> {
    let stmt = the_statement(text, file, "CREATE DATABASE", |t| {
        let w = first_words(t, 2);
        w.len() == 2 && w[0] == "CREATE" && (w[1] == "DATABASE" || w[1] == "SCHEMA")
    })?;
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(r"(?is)^CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|[^\s;]+)").ok()
        })
        .as_ref()
        .ok_or_else(|| schema_err(file, "internal: bad pattern"))?;
    let caps = re
        .captures(&stmt.text)
        .ok_or_else(|| schema_err(file, "cannot find the database name"))?;
    let name = unquote(&caps[1]);
    if name.is_empty() {
        return Err(schema_err(file, "the database name is empty"));
    }
    Ok(DatabaseSchema {
        name,
        create_sql: stmt.text,
    })
}

fn unquote(ident: &str) -> String {
    match ident.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.replace("``", "`"),
        None => ident.to_string(),
    }
}

/// Reads a `{db}.{table}-schema-view.sql` file.
pub fn parse_view_file(path: &Path, file: &str) -> Result<ViewSchema, SourceError> {
    parse_create_view(&read(path)?, file)
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
        if is_noise(&stmt.text) {
            continue;
        }
        let w = first_words(&stmt.text, 2);
        if w.len() == 2 && w[0] == "CREATE" && w[1] == "TABLE" {
            continue;
        }
        let caps = re.captures(&stmt.text).ok_or_else(|| {
            schema_err(
                file,
                format!("not a CREATE VIEW statement: {:.80}", stmt.text),
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

/// Reads a `{db}.{table}-schema.sql` file. The table id is 0: the target
/// assigns it.
pub fn parse_table_file(path: &Path, file: &str) -> Result<TableInfo, SourceError> {
    parse_create_table(&read(path)?, file)
}

/// Parses a `CREATE TABLE` statement (with dump noise) into the table model.
pub fn parse_create_table(text: &str, file: &str) -> Result<TableInfo, SourceError> {
    let stmt = the_statement(text, file, "CREATE TABLE", |t| {
        let w = first_words(t, 3);
        w.len() >= 2
            && w[0] == "CREATE"
            && (w[1] == "TABLE" || (w[1] == "TEMPORARY" && w.get(2).is_some_and(|x| x == "TABLE")))
    })?;
    let sql = stmt.text.as_str();
    let (open, close) = column_list_span(sql)
        .ok_or_else(|| schema_err(file, "cannot find the column list of CREATE TABLE"))?;
    let head_body = &sql[..=close];
    let tail = &sql[close + 1..];
    let _ = open;
    let parsed = Parser::parse_sql(&MySqlDialect {}, head_body)
        .map_err(|e| schema_err(file, format!("cannot parse CREATE TABLE: {e}")))?;
    let Some(Statement::CreateTable(ct)) = parsed.into_iter().next() else {
        return Err(schema_err(file, "not a CREATE TABLE statement"));
    };
    let name = ct
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| schema_err(file, "CREATE TABLE without a table name"))?;
    let (charset, collation, auto_inc) = table_options(tail);

    let mut columns = Vec::with_capacity(ct.columns.len());
    // (name, columns with prefix lengths, unique, primary)
    let mut constraints: Vec<Constraint> = Vec::new();
    for (i, def) in ct.columns.iter().enumerate() {
        let cname = def.name.value.clone();
        // MySQL refuses this (`Duplicate column name`); accepting it made
        // rows map by name onto the wrong column (found by fuzzing).
        if ct.columns[..i]
            .iter()
            .any(|d| d.name.value.eq_ignore_ascii_case(&cname))
        {
            return Err(schema_err(file, format!("duplicate column name {cname:?}")));
        }
        let mut ft = parse_type(&def.data_type.to_string()).ok_or_else(|| {
            schema_err(
                file,
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
                ColumnOption::CharacterSet(cs) => ft.charset = cs.to_string(),
                ColumnOption::Collation(c) => ft.collation = c.to_string(),
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
                schema_err(
                    file,
                    format!("unsupported index key part {}", ic.column.expr),
                )
            })?);
        }
        constraints.push((name, parts, unique, primary));
    }

    let mut indices: Vec<IndexInfo> = Vec::new();
    let mut pk_is_handle = false;
    let mut is_common_handle = false;
    if constraints.iter().filter(|c| c.3).count() > 1 {
        return Err(schema_err(file, "multiple primary keys defined"));
    }
    for (name, parts, unique, primary) in constraints {
        let mut idx_cols = Vec::with_capacity(parts.len());
        for (cname, length) in &parts {
            let col = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(cname))
                .ok_or_else(|| {
                    schema_err(file, format!("index refers to unknown column {cname:?}"))
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
        create_sql: Some(stmt.text.clone()),
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
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
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

/// Parses a type's SQL text (`INT(11) UNSIGNED`, `DECIMAL(15,2)`,
/// `ENUM('a','b')`, `VARCHAR(20) CHARACTER SET latin1`…).
fn parse_type(text: &str) -> Option<FieldType> {
    let (name_part, args, rest) = match text.find('(') {
        Some(open) => {
            let close = matching_paren(text, open)?;
            (
                &text[..open],
                Some(&text[open + 1..close]),
                &text[close + 1..],
            )
        }
        None => {
            let end = text
                .to_ascii_uppercase()
                .find(" UNSIGNED")
                .or_else(|| text.to_ascii_uppercase().find(" SIGNED"))
                .or_else(|| text.to_ascii_uppercase().find(" CHARACTER SET"))
                .unwrap_or(text.len());
            (&text[..end], None, &text[end..])
        }
    };
    let name = name_part.trim().to_ascii_uppercase();
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest_up = rest.to_ascii_uppercase();
    let tp = match name.as_str() {
        "TINYINT" | "INT1" | "BOOL" | "BOOLEAN" => ColumnType::TinyInt,
        "SMALLINT" | "INT2" => ColumnType::SmallInt,
        "MEDIUMINT" | "INT3" | "MIDDLEINT" => ColumnType::MediumInt,
        "INT" | "INTEGER" | "INT4" => ColumnType::Int,
        "BIGINT" | "INT8" | "SERIAL" => ColumnType::BigInt,
        "FLOAT" | "FLOAT4" => ColumnType::Float,
        "DOUBLE" | "DOUBLE PRECISION" | "REAL" | "FLOAT8" => ColumnType::Double,
        "DECIMAL" | "NUMERIC" | "DEC" | "FIXED" => ColumnType::Decimal,
        "DATE" => ColumnType::Date,
        "DATETIME" => ColumnType::DateTime,
        "TIMESTAMP" => ColumnType::Timestamp,
        "TIME" => ColumnType::Time,
        "YEAR" => ColumnType::Year,
        "CHAR" | "CHARACTER" | "NCHAR" | "NATIONAL CHAR" => ColumnType::Char,
        "VARCHAR" | "CHARACTER VARYING" | "NVARCHAR" | "CHAR VARYING" | "NATIONAL VARCHAR" => {
            ColumnType::VarChar
        }
        "BINARY" => ColumnType::Binary,
        "VARBINARY" => ColumnType::VarBinary,
        "TINYBLOB" => ColumnType::TinyBlob,
        "BLOB" => ColumnType::Blob,
        "MEDIUMBLOB" | "LONG VARBINARY" => ColumnType::MediumBlob,
        "LONGBLOB" => ColumnType::LongBlob,
        "TINYTEXT" => ColumnType::TinyText,
        "TEXT" => ColumnType::Text,
        "MEDIUMTEXT" | "LONG" | "LONG VARCHAR" => ColumnType::MediumText,
        "LONGTEXT" => ColumnType::LongText,
        "ENUM" => ColumnType::Enum,
        "SET" => ColumnType::Set,
        "BIT" => ColumnType::Bit,
        "JSON" => ColumnType::Json,
        _ => return None,
    };
    let mut ft = FieldType::new(tp);
    if matches!(name.as_str(), "BOOL" | "BOOLEAN") {
        ft.flen = Some(1);
    }
    if name == "SERIAL" {
        ft.unsigned = true;
        ft.not_null = true;
    }
    if let Some(args) = args {
        let parts = split_args(args);
        if matches!(tp, ColumnType::Enum | ColumnType::Set) {
            ft.elems = parts.iter().map(|p| unquote_string(p)).collect();
        } else {
            let nums: Vec<u32> = parts.iter().filter_map(|p| p.trim().parse().ok()).collect();
            if nums.len() != parts.len() {
                return None;
            }
            match (tp, nums.as_slice()) {
                (ColumnType::Time | ColumnType::DateTime | ColumnType::Timestamp, [fsp]) => {
                    ft.decimal = u8::try_from(*fsp).ok();
                }
                (_, [len]) => ft.flen = Some(*len),
                (_, [len, dec]) => {
                    ft.flen = Some(*len);
                    ft.decimal = u8::try_from(*dec).ok();
                }
                _ => return None,
            }
        }
    }
    if rest_up.contains("UNSIGNED") {
        ft.unsigned = true;
    }
    if let Some(pos) = rest_up.find("CHARACTER SET") {
        ft.charset = rest[pos + "CHARACTER SET".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
    }
    Some(ft)
}

fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            break;
                        }
                    } else if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits `a, 'b,c', d` at top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if in_q && chars.peek() == Some(&'\'') => {
                cur.push_str("''");
                chars.next();
            }
            '\'' => {
                in_q = !in_q;
                cur.push(c);
            }
            '\\' if in_q => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !in_q => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn unquote_string(s: &str) -> String {
    let t = s.trim();
    match t.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        Some(inner) => inner
            .replace("''", "'")
            .replace("\\'", "'")
            .replace("\\\\", "\\"),
        None => t.to_string(),
    }
}
