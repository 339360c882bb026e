//! What already exists on the server: databases, tables and their columns
//! and keys (from `information_schema`), and whether the server can take the
//! import at all.

use std::collections::BTreeMap;

use async_trait::async_trait;
use backend_core::model::{
    ColumnInfo, ColumnType, DbInfo, DefaultValue, FieldType, GeneratedColumn, IndexColumn,
    IndexInfo, TableInfo,
};
use backend_core::{CheckCtx, Result, TargetInfoGetter};
use sqlx::{MySqlPool, Row};

use crate::error::TidbError;
use crate::server::{ServerInfo, ServerKind};

/// Reads the target's catalog through `information_schema`.
#[derive(Debug, Clone)]
pub struct TidbTargetInfoGetter {
    pool: MySqlPool,
    server: ServerInfo,
}

impl TidbTargetInfoGetter {
    /// A getter on `pool` for a server described by `server`.
    pub fn new(pool: MySqlPool, server: ServerInfo) -> Self {
        TidbTargetInfoGetter { pool, server }
    }
}

/// Maps `information_schema.columns.DATA_TYPE` to our type.
fn column_type(data_type: &str) -> Option<ColumnType> {
    Some(match data_type.to_ascii_lowercase().as_str() {
        "tinyint" | "bool" | "boolean" => ColumnType::TinyInt,
        "smallint" => ColumnType::SmallInt,
        "mediumint" => ColumnType::MediumInt,
        "int" | "integer" => ColumnType::Int,
        "bigint" => ColumnType::BigInt,
        "float" => ColumnType::Float,
        "double" | "real" => ColumnType::Double,
        "decimal" | "numeric" => ColumnType::Decimal,
        "date" => ColumnType::Date,
        "datetime" => ColumnType::DateTime,
        "timestamp" => ColumnType::Timestamp,
        "time" => ColumnType::Time,
        "year" => ColumnType::Year,
        "char" => ColumnType::Char,
        "varchar" => ColumnType::VarChar,
        "binary" => ColumnType::Binary,
        "varbinary" => ColumnType::VarBinary,
        "tinyblob" => ColumnType::TinyBlob,
        "blob" => ColumnType::Blob,
        "mediumblob" => ColumnType::MediumBlob,
        "longblob" => ColumnType::LongBlob,
        "tinytext" => ColumnType::TinyText,
        "text" => ColumnType::Text,
        "mediumtext" => ColumnType::MediumText,
        "longtext" => ColumnType::LongText,
        "enum" => ColumnType::Enum,
        "set" => ColumnType::Set,
        "bit" => ColumnType::Bit,
        "json" => ColumnType::Json,
        _ => return None,
    })
}

/// Members of `enum('a','b''c')` / `set(…)` from `COLUMN_TYPE`.
fn enum_members(column_type: &str) -> Vec<String> {
    let Some(open) = column_type.find('(') else {
        return Vec::new();
    };
    let body = &column_type[open + 1..];
    let mut members = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\'' {
            continue;
        }
        let mut member = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    member.push('\'');
                } else {
                    break;
                }
            } else if c == '\\' {
                if let Some(n) = chars.next() {
                    member.push(n);
                }
            } else {
                member.push(c);
            }
        }
        members.push(member);
    }
    members
}

/// `COLUMN_DEFAULT` as MariaDB ≥ 10.2.7 reports it (quoted literals, `NULL`,
/// expressions) or as MySQL/TiDB do (bare text, SQL NULL).
fn default_value(raw: Option<String>, server: ServerKind) -> Option<DefaultValue> {
    let raw = raw?;
    let upper = raw.to_ascii_uppercase();
    if upper.starts_with("CURRENT_TIMESTAMP") || upper.starts_with("NOW(") {
        return Some(DefaultValue::CurrentTimestamp);
    }
    if server == ServerKind::Mariadb {
        if upper == "NULL" {
            return Some(DefaultValue::Null);
        }
        if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Some(DefaultValue::Literal(inner.replace("''", "'")));
        }
    }
    Some(DefaultValue::Literal(raw))
}

fn text(row: &sqlx::mysql::MySqlRow, index: usize) -> Result<Option<String>, TidbError> {
    // information_schema strings may come back as binary on some servers.
    if let Ok(value) = row.try_get::<Option<String>, _>(index) {
        return Ok(value);
    }
    row.try_get::<Option<Vec<u8>>, _>(index)
        .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| TidbError::sql("decoding information_schema", e))
}

fn number(row: &sqlx::mysql::MySqlRow, index: usize) -> Result<Option<u64>, TidbError> {
    row.try_get::<Option<u64>, _>(index)
        .map_err(|e| TidbError::sql("decoding information_schema", e))
}

#[async_trait]
impl TargetInfoGetter for TidbTargetInfoGetter {
    async fn fetch_remote_db_models(&self) -> Result<Vec<DbInfo>> {
        let rows = sqlx::raw_sql("SHOW DATABASES")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| TidbError::sql("listing databases", e))?;
        let mut dbs = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(name) = text(row, 0)? {
                dbs.push(DbInfo { name });
            }
        }
        Ok(dbs)
    }

    async fn fetch_remote_table_models(&self, schema_name: &str) -> Result<Vec<TableInfo>> {
        self.fetch_table_models(schema_name, None).await
    }

    async fn check_requirements(&self, ctx: &CheckCtx) -> Result<()> {
        self.check_server(ctx).await
    }
}

/// `AND TABLE_NAME IN (?, …)` for `names` (nothing without a filter).
pub(crate) fn name_filter(names: Option<&[String]>) -> String {
    match names {
        Some(names) => format!(" AND TABLE_NAME IN ({})", vec!["?"; names.len()].join(", ")),
        None => String::new(),
    }
}

/// A table's id on a server that has none to show (MySQL, MariaDB; TiDB's
/// are not in `information_schema.TABLES` everywhere): a stable hash of
/// the lowercased name, so a table keeps its id whichever tables a read
/// covers and whatever else the database holds.
fn stable_table_id(name: &str) -> i64 {
    // FNV-1a: stable across builds and platforms.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.to_ascii_lowercase().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(h >> 1).unwrap_or(i64::MAX).max(1)
}

impl TidbTargetInfoGetter {
    /// The base tables of `schema_name`, or only those named in `names`:
    /// thousands of tables created in batches are read back a batch at a
    /// time, not the whole database per batch.
    pub async fn fetch_table_models(
        &self,
        schema_name: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<TableInfo>> {
        if names.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let what = format!("reading the columns of database `{schema_name}`");
        let filter = name_filter(names);
        let bind = |sql: String| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(schema_name.to_string());
            for name in names.unwrap_or_default() {
                query = query.bind(name.clone());
            }
            query
        };
        // Numbers are cast so every server returns the same types.
        let columns = bind(format!(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
             CHARACTER_SET_NAME, COLLATION_NAME, \
             CAST(CHARACTER_MAXIMUM_LENGTH AS UNSIGNED), CAST(NUMERIC_PRECISION AS UNSIGNED), \
             CAST(NUMERIC_SCALE AS UNSIGNED), CAST(DATETIME_PRECISION AS UNSIGNED), GENERATION_EXPRESSION \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?{filter} \
             ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| TidbError::sql(what.clone(), e))?;
        let tables = bind(format!(
            "SELECT TABLE_NAME, TABLE_COLLATION, CAST(AUTO_INCREMENT AS UNSIGNED) \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?{filter} AND TABLE_TYPE = 'BASE TABLE' \
             ORDER BY TABLE_NAME"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| TidbError::sql(what.clone(), e))?;
        let stats = bind(format!(
            "SELECT TABLE_NAME, INDEX_NAME, CAST(NON_UNIQUE AS UNSIGNED), COLUMN_NAME, CAST(SUB_PART AS UNSIGNED) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?{filter} \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| TidbError::sql(what.clone(), e))?;

        let mut models: BTreeMap<String, TableInfo> = BTreeMap::new();
        for row in &tables {
            let name = text(row, 0)?.unwrap_or_default();
            let collation = text(row, 1)?.unwrap_or_default();
            let charset = collation.split('_').next().unwrap_or("utf8mb4").to_string();
            let auto_increment_base = number(row, 2)?
                .and_then(|v| i64::try_from(v).ok())
                .unwrap_or(0);
            models.insert(
                name.clone(),
                TableInfo {
                    id: stable_table_id(&name),
                    name,
                    charset,
                    collation,
                    columns: Vec::new(),
                    indices: Vec::new(),
                    pk_is_handle: false,
                    is_common_handle: false,
                    auto_increment_base,
                    create_sql: None,
                },
            );
        }
        for row in &columns {
            let table = text(row, 0)?.unwrap_or_default();
            let Some(model) = models.get_mut(&table) else {
                continue; // a view
            };
            let name = text(row, 1)?.unwrap_or_default();
            let data_type = text(row, 2)?.unwrap_or_default();
            let full_type = text(row, 3)?.unwrap_or_default();
            let tp = column_type(&data_type).ok_or_else(|| {
                TidbError::Unsupported(format!(
                    "`{schema_name}`.`{table}`.`{name}`: unsupported column type {full_type}"
                ))
            })?;
            let extra = text(row, 6)?.unwrap_or_default().to_ascii_lowercase();
            let mut field_type = FieldType::new(tp);
            field_type.unsigned = full_type.to_ascii_lowercase().contains("unsigned");
            field_type.not_null = text(row, 4)?.as_deref() == Some("NO");
            field_type.charset = text(row, 7)?.unwrap_or_default();
            field_type.collation = text(row, 8)?.unwrap_or_default();
            if tp.is_string() && field_type.charset.is_empty() {
                field_type.charset = "binary".into();
            }
            let char_len = number(row, 9)?;
            let precision = number(row, 10)?;
            let scale = number(row, 11)?;
            let fsp = number(row, 12)?;
            field_type.flen = if tp.is_string() { char_len } else { precision }
                .and_then(|v| u32::try_from(v).ok());
            field_type.decimal = if tp.is_time() || tp == ColumnType::Time {
                fsp
            } else {
                scale
            }
            .and_then(|v| u8::try_from(v).ok());
            if matches!(tp, ColumnType::Enum | ColumnType::Set) {
                field_type.elems = enum_members(&full_type);
            }
            let generated = text(row, 13)?
                .filter(|expr| {
                    !expr.is_empty()
                        && (extra.contains("generated")
                            || extra.contains("virtual")
                            || extra.contains("persistent")
                            || extra.contains("stored"))
                })
                .map(|expr| GeneratedColumn {
                    expr,
                    stored: extra.contains("stored") || extra.contains("persistent"),
                });
            let offset = model.columns.len();
            let mut column = ColumnInfo::new(
                i64::try_from(offset + 1).unwrap_or(i64::MAX),
                name,
                offset,
                field_type,
            );
            column.default = if generated.is_some() {
                None
            } else {
                default_value(text(row, 5)?, self.server.kind)
            };
            column.auto_increment = extra.contains("auto_increment");
            column.on_update_now = extra.contains("on update");
            column.generated = generated;
            model.columns.push(column);
        }
        // Indexes, in name order; PRIMARY first.
        let mut indexes: BTreeMap<(String, bool, String), IndexInfo> = BTreeMap::new();
        for row in &stats {
            let table = text(row, 0)?.unwrap_or_default();
            let Some(model) = models.get(&table) else {
                continue;
            };
            let index_name = text(row, 1)?.unwrap_or_default();
            let unique = number(row, 2)? == Some(0);
            let column = text(row, 3)?.unwrap_or_default();
            let length = number(row, 4)?.and_then(|v| u32::try_from(v).ok());
            let Some(offset) = model.column(&column).map(|c| c.offset) else {
                continue; // functional index part
            };
            let primary = index_name == "PRIMARY";
            let entry = indexes
                .entry((table, !primary, index_name.clone()))
                .or_insert_with(|| IndexInfo {
                    id: 0,
                    name: index_name,
                    columns: Vec::new(),
                    unique,
                    primary,
                });
            entry.columns.push(IndexColumn {
                name: column,
                offset,
                length,
            });
        }
        for ((table, _, _), mut index) in indexes {
            if let Some(model) = models.get_mut(&table) {
                index.id = i64::try_from(model.indices.len() + 1).unwrap_or(i64::MAX);
                if index.primary && index.columns.len() == 1 {
                    let pk = &model.columns[index.columns[0].offset];
                    model.pk_is_handle = pk.field_type.tp.is_integer();
                }
                if index.primary {
                    for col in &index.columns {
                        model.columns[col.offset].field_type.not_null = true;
                    }
                }
                model.indices.push(index);
            }
        }
        Ok(models.into_values().collect())
    }

    async fn check_server(&self, ctx: &CheckCtx) -> Result<()> {
        let server = &self.server;
        let (major, minor, _) = server.version;
        let too_old = match server.kind {
            ServerKind::Tidb => major < 4,
            ServerKind::Mysql => (major, minor) < (5, 7),
            ServerKind::Mariadb => (major, minor) < (10, 2),
        };
        if too_old {
            return Err(TidbError::Requirement(format!(
                "the server version {} is too old (need TiDB 4.0, MySQL 5.7 or MariaDB 10.2 or newer)",
                server.version_string
            ))
            .into());
        }
        if server.max_allowed_packet < 1024 * 1024 {
            return Err(TidbError::Requirement(format!(
                "max_allowed_packet is {} bytes; need at least 1 MiB",
                server.max_allowed_packet
            ))
            .into());
        }
        // Privileges: global ones, or schema ones for every target database.
        let needed = [
            "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX",
        ];
        let grantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
        let global: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee}"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| TidbError::sql("reading the user's privileges", e))?;
        let has = |set: &[String], p: &str| set.iter().any(|g| g.eq_ignore_ascii_case(p));
        let mut missing = Vec::new();
        for db in &ctx.db_metas {
            let schema: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES \
                 WHERE GRANTEE = {grantee} AND ? LIKE TABLE_SCHEMA"
            )))
            .bind(&db.name)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| TidbError::sql("reading the user's privileges", e))?;
            for p in needed {
                if !has(&global, p) && !has(&schema, p) {
                    missing.push(format!("{p} on `{}`", db.name));
                }
            }
        }
        if ctx.db_metas.is_empty() {
            for p in needed {
                if !has(&global, p) {
                    missing.push(p.to_string());
                }
            }
        }
        if !missing.is_empty() {
            return Err(TidbError::Requirement(format!(
                "the user lacks privileges needed to import: {}",
                missing.join(", ")
            ))
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_members_unquote() {
        assert_eq!(
            enum_members("enum('a','b''c','d,e')"),
            vec!["a", "b'c", "d,e"]
        );
        assert!(enum_members("int(11)").is_empty());
    }

    #[test]
    fn defaults_per_server() {
        assert_eq!(
            default_value(Some("'it''s'".into()), ServerKind::Mariadb),
            Some(DefaultValue::Literal("it's".into()))
        );
        assert_eq!(
            default_value(Some("NULL".into()), ServerKind::Mariadb),
            Some(DefaultValue::Null)
        );
        assert_eq!(
            default_value(Some("current_timestamp()".into()), ServerKind::Mariadb),
            Some(DefaultValue::CurrentTimestamp)
        );
        assert_eq!(default_value(None, ServerKind::Mysql), None);
        assert_eq!(column_type("BIGINT"), Some(ColumnType::BigInt));
        assert_eq!(column_type("geometry"), None);
    }
}
