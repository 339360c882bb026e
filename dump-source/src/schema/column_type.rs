//! Column types from their SQL text.

use backend_core::model::{ColumnType, FieldType};

/// Parses a type's SQL text (`INT(11) UNSIGNED`, `DECIMAL(15,2)`,
/// `ENUM('a','b')`, `VARCHAR(20) CHARACTER SET latin1`…).
pub(super) fn parse_type(text: &str) -> Option<FieldType> {
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
