//! The table model the backends share: databases, tables, columns, indexes.
//!
//! It carries what encoding needs (ids, column order and types, which key is
//! the row handle) and what creating the table on a target needs (the
//! original `CREATE TABLE` text). It mirrors the parts of TiDB's
//! `model.TableInfo` that an importer uses.

use serde::{Deserialize, Serialize};

/// A database (schema) on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    /// The database name, as created.
    pub name: String,
}

/// MySQL column types, one variant per SQL type name family.
///
/// `TEXT`/`BLOB` variants keep their size class because it bounds the value's
/// length; whether a text type is binary follows from its charset.
#[allow(missing_docs)] // The variant names are the SQL type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    TinyInt,
    SmallInt,
    MediumInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal,
    Date,
    DateTime,
    Timestamp,
    Time,
    Year,
    Char,
    VarChar,
    Binary,
    VarBinary,
    TinyBlob,
    Blob,
    MediumBlob,
    LongBlob,
    TinyText,
    Text,
    MediumText,
    LongText,
    Enum,
    Set,
    Bit,
    Json,
}

impl ColumnType {
    /// Whether values are integers (including `YEAR` and `BIT`, which TiDB
    /// stores as integers).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ColumnType::TinyInt
                | ColumnType::SmallInt
                | ColumnType::MediumInt
                | ColumnType::Int
                | ColumnType::BigInt
        )
    }

    /// Whether values are byte strings (text or binary).
    pub fn is_string(self) -> bool {
        matches!(
            self,
            ColumnType::Char
                | ColumnType::VarChar
                | ColumnType::Binary
                | ColumnType::VarBinary
                | ColumnType::TinyBlob
                | ColumnType::Blob
                | ColumnType::MediumBlob
                | ColumnType::LongBlob
                | ColumnType::TinyText
                | ColumnType::Text
                | ColumnType::MediumText
                | ColumnType::LongText
        )
    }

    /// Whether values are dates or date-times (`DATE`, `DATETIME`, `TIMESTAMP`).
    pub fn is_time(self) -> bool {
        matches!(
            self,
            ColumnType::Date | ColumnType::DateTime | ColumnType::Timestamp
        )
    }

    /// MySQL's protocol type code (`mysql.TypeXxx` in TiDB), which TiDB's
    /// encodings and catalogs use.
    pub fn mysql_type_code(self) -> u8 {
        match self {
            ColumnType::TinyInt => 1,
            ColumnType::SmallInt => 2,
            ColumnType::Int => 3,
            ColumnType::Float => 4,
            ColumnType::Double => 5,
            ColumnType::Timestamp => 7,
            ColumnType::BigInt => 8,
            ColumnType::MediumInt => 9,
            ColumnType::Date => 10,
            ColumnType::Time => 11,
            ColumnType::DateTime => 12,
            ColumnType::Year => 13,
            ColumnType::VarChar | ColumnType::VarBinary => 15,
            ColumnType::Bit => 16,
            ColumnType::Json => 0xf5,
            ColumnType::Decimal => 0xf6,
            ColumnType::Enum => 0xf7,
            ColumnType::Set => 0xf8,
            ColumnType::TinyBlob | ColumnType::TinyText => 0xf9,
            ColumnType::MediumBlob | ColumnType::MediumText => 0xfa,
            ColumnType::LongBlob | ColumnType::LongText => 0xfb,
            ColumnType::Blob | ColumnType::Text => 0xfc,
            ColumnType::Char | ColumnType::Binary => 0xfe,
        }
    }

    /// The SQL name of the type, upper case (`BIGINT`, `VARCHAR`…).
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::TinyInt => "TINYINT",
            ColumnType::SmallInt => "SMALLINT",
            ColumnType::MediumInt => "MEDIUMINT",
            ColumnType::Int => "INT",
            ColumnType::BigInt => "BIGINT",
            ColumnType::Float => "FLOAT",
            ColumnType::Double => "DOUBLE",
            ColumnType::Decimal => "DECIMAL",
            ColumnType::Date => "DATE",
            ColumnType::DateTime => "DATETIME",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Time => "TIME",
            ColumnType::Year => "YEAR",
            ColumnType::Char => "CHAR",
            ColumnType::VarChar => "VARCHAR",
            ColumnType::Binary => "BINARY",
            ColumnType::VarBinary => "VARBINARY",
            ColumnType::TinyBlob => "TINYBLOB",
            ColumnType::Blob => "BLOB",
            ColumnType::MediumBlob => "MEDIUMBLOB",
            ColumnType::LongBlob => "LONGBLOB",
            ColumnType::TinyText => "TINYTEXT",
            ColumnType::Text => "TEXT",
            ColumnType::MediumText => "MEDIUMTEXT",
            ColumnType::LongText => "LONGTEXT",
            ColumnType::Enum => "ENUM",
            ColumnType::Set => "SET",
            ColumnType::Bit => "BIT",
            ColumnType::Json => "JSON",
        }
    }
}

/// A column's type with its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldType {
    /// The base type.
    pub tp: ColumnType,
    /// Display width or maximum length: characters for strings, digits for
    /// decimals (precision), bits for `BIT`. `None` when not given.
    pub flen: Option<u32>,
    /// Digits after the point for `DECIMAL`/`FLOAT`/`DOUBLE`, or fractional
    /// seconds precision (0–6) for `TIME`/`DATETIME`/`TIMESTAMP`.
    pub decimal: Option<u8>,
    /// `UNSIGNED` for numeric types.
    pub unsigned: bool,
    /// `NOT NULL` (primary key columns are always not null).
    pub not_null: bool,
    /// Character set of string types (`binary` for binary strings); empty when
    /// it follows the table's.
    pub charset: String,
    /// Collation of string types; empty when it follows the charset's default.
    pub collation: String,
    /// Members of `ENUM`/`SET`, in declaration order.
    pub elems: Vec<String>,
}

impl FieldType {
    /// A nullable field of type `tp` with no modifiers.
    pub fn new(tp: ColumnType) -> Self {
        FieldType {
            tp,
            flen: None,
            decimal: None,
            unsigned: false,
            not_null: false,
            charset: String::new(),
            collation: String::new(),
            elems: Vec::new(),
        }
    }

    /// Whether string values are raw bytes rather than text.
    pub fn is_binary_string(&self) -> bool {
        matches!(
            self.tp,
            ColumnType::Binary
                | ColumnType::VarBinary
                | ColumnType::TinyBlob
                | ColumnType::Blob
                | ColumnType::MediumBlob
                | ColumnType::LongBlob
        ) || self.charset.eq_ignore_ascii_case("binary")
    }
}

/// A column's default, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultValue {
    /// `DEFAULT NULL`.
    Null,
    /// A literal default, as the text the value is converted from
    /// (`DEFAULT 'abc'`, `DEFAULT 3`, `DEFAULT b'101'` as its integer value).
    Literal(String),
    /// `DEFAULT CURRENT_TIMESTAMP[(fsp)]`: the import session's timestamp.
    CurrentTimestamp,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column id, unique in the table, never reused; TiDB's encodings use it.
    pub id: i64,
    /// Column name as declared.
    pub name: String,
    /// Position in the table, 0-based.
    pub offset: usize,
    /// Type and modifiers.
    pub field_type: FieldType,
    /// The declared default, if any.
    pub default: Option<DefaultValue>,
    /// `AUTO_INCREMENT`.
    pub auto_increment: bool,
    /// `ON UPDATE CURRENT_TIMESTAMP`.
    pub on_update_now: bool,
    /// The expression of a generated column (`AS (…)`); such columns are
    /// computed by the target, never loaded from data.
    pub generated: Option<GeneratedColumn>,
}

/// A generated column's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedColumn {
    /// The expression text.
    pub expr: String,
    /// `STORED` (true) or `VIRTUAL` (false).
    pub stored: bool,
}

impl ColumnInfo {
    /// A nullable column without default.
    pub fn new(id: i64, name: impl Into<String>, offset: usize, field_type: FieldType) -> Self {
        ColumnInfo {
            id,
            name: name.into(),
            offset,
            field_type,
            default: None,
            auto_increment: false,
            on_update_now: false,
            generated: None,
        }
    }
}

/// One column of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexColumn {
    /// The column's name.
    pub name: String,
    /// The column's offset in the table.
    pub offset: usize,
    /// Prefix length in characters (`KEY (c(10))`), if any.
    pub length: Option<u32>,
}

/// An index of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// Index id, unique in the table; TiDB's index keys carry it.
    pub id: i64,
    /// Index name (`PRIMARY` for the primary key).
    pub name: String,
    /// Indexed columns, in index order.
    pub columns: Vec<IndexColumn>,
    /// `UNIQUE` (true for the primary key too).
    pub unique: bool,
    /// Whether this is the primary key.
    pub primary: bool,
}

/// A table: what encoding and creating it need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Table id on the target; TiDB's keys carry it.
    pub id: i64,
    /// Table name as declared.
    pub name: String,
    /// Default charset of the table (`utf8mb4` when not declared).
    pub charset: String,
    /// Default collation of the table; empty for the charset's default.
    pub collation: String,
    /// Columns in table order; `columns[i].offset == i`.
    pub columns: Vec<ColumnInfo>,
    /// Indexes, including the primary key (flagged `primary`). When the key
    /// is the integer handle ([`TableInfo::pk_is_handle`]) it is listed with
    /// id 0 — TiDB gives it no index id, so the other indexes keep TiDB's
    /// ids — and encoders write no index entries for it: the record key is
    /// the index.
    pub indices: Vec<IndexInfo>,
    /// The primary key is a single integer column that serves as the row
    /// handle (TiDB's `PKIsHandle`): no `_tidb_rowid` is generated and the
    /// column's value is the record key.
    pub pk_is_handle: bool,
    /// The primary key is a clustered non-integer key (TiDB's common handle).
    pub is_common_handle: bool,
    /// `AUTO_INCREMENT=` of the definition, the next value to allocate; 0 when
    /// unset.
    pub auto_increment_base: i64,
    /// The `CREATE TABLE` statement the table was defined by, if known.
    pub create_sql: Option<String>,
}

impl TableInfo {
    /// The column named `name`, compared case-insensitively as MySQL does.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns
            .iter()
            .find(|col| col.name.eq_ignore_ascii_case(name))
    }

    /// The integer handle column when [`TableInfo::pk_is_handle`] holds.
    pub fn handle_column(&self) -> Option<&ColumnInfo> {
        if !self.pk_is_handle {
            return None;
        }
        let pk = self.primary_key_columns();
        match pk.as_slice() {
            [single] => self.columns.get(single.offset),
            _ => None,
        }
    }

    /// Columns of the primary key, from the primary index when there is one,
    /// otherwise the column flagged as handle.
    pub fn primary_key_columns(&self) -> Vec<IndexColumn> {
        if let Some(index) = self.indices.iter().find(|idx| idx.primary) {
            return index.columns.clone();
        }
        Vec::new()
    }

    /// The auto-increment column, if any.
    pub fn auto_increment_column(&self) -> Option<&ColumnInfo> {
        self.columns.iter().find(|col| col.auto_increment)
    }

    /// Columns loaded from data files: every column but generated ones.
    pub fn loadable_columns(&self) -> impl Iterator<Item = &ColumnInfo> {
        self.columns.iter().filter(|col| col.generated.is_none())
    }
}

/// A table together with the database it belongs to, as engines and
/// checkpoints refer to it (Lightning's `TidbTableInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TidbTableInfo {
    /// Table id on the target.
    pub id: i64,
    /// Database name.
    pub db: String,
    /// Table name.
    pub name: String,
    /// The table model.
    pub core: TableInfo,
}

impl TidbTableInfo {
    /// `core` as a table of database `db`, with the id and name it carries.
    pub fn new(db: impl Into<String>, core: TableInfo) -> Self {
        TidbTableInfo {
            id: core.id,
            db: db.into(),
            name: core.name.clone(),
            core,
        }
    }

    /// The table's unique name `` `db`.`tbl` `` (see [`unique_table_name`]).
    pub fn unique_name(&self) -> String {
        unique_table_name(&self.db, &self.name)
    }
}

/// Quotes `name` as a MySQL identifier: back-quoted, inner back-quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for ch in name.chars() {
        if ch == '`' {
            out.push('`');
        }
        out.push(ch);
    }
    out.push('`');
    out
}

/// The unique name of a table, `` `db`.`tbl` ``, with identifiers quoted as
/// MySQL does; engine tags and checkpoints key tables by it.
pub fn unique_table_name(db: &str, table: &str) -> String {
    format!("{}.{}", quote_identifier(db), quote_identifier(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_quote_back_quotes() {
        assert_eq!(unique_table_name("test", "t"), "`test`.`t`");
        assert_eq!(unique_table_name("a`b", "c.d"), "`a``b`.`c.d`");
    }

    #[test]
    fn handle_column_requires_single_integer_pk() {
        let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::BigInt));
        id.field_type.not_null = true;
        let name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
        let table = TableInfo {
            id: 42,
            name: "t".into(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns: vec![id, name],
            indices: vec![IndexInfo {
                id: 1,
                name: "PRIMARY".into(),
                columns: vec![IndexColumn {
                    name: "id".into(),
                    offset: 0,
                    length: None,
                }],
                unique: true,
                primary: true,
            }],
            pk_is_handle: true,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: None,
        };
        assert_eq!(table.handle_column().map(|c| c.name.as_str()), Some("id"));
        assert_eq!(table.column("NAME").map(|c| c.offset), Some(1));
        let mut no_handle = table.clone();
        no_handle.pk_is_handle = false;
        assert!(no_handle.handle_column().is_none());
    }
}
