//! TiDB's binary JSON (`pkg/types/json_binary.go`), for `JSON` columns.
//!
//! A value is a type code plus a payload. Objects and arrays start with an
//! element count and their total size (u32 little-endian), then entries:
//! objects have key entries (u32 offset, u16 length) sorted by key bytes;
//! both have value entries (type code, u32 offset relative to the container
//! start, or the literal byte inlined). Strings are a uvarint length plus
//! bytes; numbers are 8 bytes little-endian (`INT64`, `UINT64`, `DOUBLE`).
//! Text output follows MySQL: `{"a": 1, "b": [true, null]}`.

use backend_core::{Error, Result};
use serde_json::Value;

/// Type code of an object.
pub const TYPE_OBJECT: u8 = 0x01;
/// Type code of an array.
pub const TYPE_ARRAY: u8 = 0x03;
/// Type code of `true`/`false`/`null`.
pub const TYPE_LITERAL: u8 = 0x04;
/// Type code of a signed 64-bit integer.
pub const TYPE_INT64: u8 = 0x09;
/// Type code of an unsigned 64-bit integer.
pub const TYPE_UINT64: u8 = 0x0a;
/// Type code of a double.
pub const TYPE_FLOAT64: u8 = 0x0b;
/// Type code of a string.
pub const TYPE_STRING: u8 = 0x0c;

const LITERAL_NULL: u8 = 0x00;
const LITERAL_TRUE: u8 = 0x01;
const LITERAL_FALSE: u8 = 0x02;

const HEADER_SIZE: usize = 8;
const KEY_ENTRY_SIZE: usize = 6;
const VALUE_ENTRY_SIZE: usize = 5;

fn too_big() -> Error {
    Error::bad_data("JSON document too large")
}

fn u32_of(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| too_big())
}

/// Parses JSON text into TiDB's binary form: `(type code, payload)`.
pub fn parse_text(text: &str) -> Result<(u8, Vec<u8>)> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::bad_data(format!("invalid JSON text: {e}")))?;
    let mut buf = Vec::new();
    let code = append_value(&mut buf, &value)?;
    Ok((code, buf))
}

fn append_value(buf: &mut Vec<u8>, value: &Value) -> Result<u8> {
    Ok(match value {
        Value::Null => {
            buf.push(LITERAL_NULL);
            TYPE_LITERAL
        }
        Value::Bool(b) => {
            buf.push(if *b { LITERAL_TRUE } else { LITERAL_FALSE });
            TYPE_LITERAL
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                buf.extend_from_slice(&i.to_le_bytes());
                TYPE_INT64
            } else if let Some(u) = n.as_u64() {
                buf.extend_from_slice(&u.to_le_bytes());
                TYPE_UINT64
            } else {
                let f = n
                    .as_f64()
                    .ok_or_else(|| Error::bad_data("invalid JSON number"))?;
                buf.extend_from_slice(&f.to_bits().to_le_bytes());
                TYPE_FLOAT64
            }
        }
        Value::String(s) => {
            append_uvarint(buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
            TYPE_STRING
        }
        Value::Array(items) => {
            let doc = buf.len();
            let count = items.len();
            buf.extend_from_slice(&u32_of(count)?.to_le_bytes());
            buf.extend_from_slice(&[0; 4]);
            let entries = buf.len();
            buf.resize(entries + count * VALUE_ENTRY_SIZE, 0);
            for (i, item) in items.iter().enumerate() {
                append_entry(buf, doc, entries + i * VALUE_ENTRY_SIZE, item)?;
            }
            let size = u32_of(buf.len() - doc)?;
            buf[doc + 4..doc + 8].copy_from_slice(&size.to_le_bytes());
            TYPE_ARRAY
        }
        Value::Object(map) => {
            let doc = buf.len();
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let count = fields.len();
            buf.extend_from_slice(&u32_of(count)?.to_le_bytes());
            buf.extend_from_slice(&[0; 4]);
            let key_entries = buf.len();
            let value_entries = key_entries + count * KEY_ENTRY_SIZE;
            buf.resize(value_entries + count * VALUE_ENTRY_SIZE, 0);
            for (i, (key, _)) in fields.iter().enumerate() {
                let off = u32_of(buf.len() - doc)?;
                let len = u16::try_from(key.len())
                    .map_err(|_| Error::bad_data("JSON object key longer than 65535 bytes"))?;
                let at = key_entries + i * KEY_ENTRY_SIZE;
                buf[at..at + 4].copy_from_slice(&off.to_le_bytes());
                buf[at + 4..at + 6].copy_from_slice(&len.to_le_bytes());
                buf.extend_from_slice(key.as_bytes());
            }
            for (i, (_, value)) in fields.iter().enumerate() {
                append_entry(buf, doc, value_entries + i * VALUE_ENTRY_SIZE, value)?;
            }
            let size = u32_of(buf.len() - doc)?;
            buf[doc + 4..doc + 8].copy_from_slice(&size.to_le_bytes());
            TYPE_OBJECT
        }
    })
}

fn append_entry(buf: &mut Vec<u8>, doc: usize, entry: usize, value: &Value) -> Result<()> {
    let at = buf.len();
    let code = append_value(buf, value)?;
    if code == TYPE_LITERAL {
        // Literals live inside the entry itself.
        let lit = buf[at];
        buf.truncate(at);
        buf[entry] = TYPE_LITERAL;
        buf[entry + 1] = lit;
        return Ok(());
    }
    buf[entry] = code;
    let off = u32_of(at - doc)?;
    buf[entry + 1..entry + 5].copy_from_slice(&off.to_le_bytes());
    Ok(())
}

fn append_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(u8::try_from(v & 0x7F).unwrap_or(0) | 0x80);
        v >>= 7;
    }
    buf.push(u8::try_from(v).unwrap_or(0));
}

fn read_uvarint(b: &[u8]) -> Result<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(corrupt())
}

fn corrupt() -> Error {
    Error::bad_data("corrupt binary JSON")
}

fn slice(b: &[u8], start: usize, len: usize) -> Result<&[u8]> {
    b.get(start..start.checked_add(len).ok_or_else(corrupt)?)
        .ok_or_else(corrupt)
}

fn read_u32(b: &[u8], at: usize) -> Result<usize> {
    let s = slice(b, at, 4)?;
    usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).map_err(|_| corrupt())
}

fn read_u64(b: &[u8]) -> Result<[u8; 8]> {
    slice(b, 0, 8)?.try_into().map_err(|_| corrupt())
}

/// Formats a binary JSON value as MySQL prints it.
pub fn to_text(code: u8, payload: &[u8]) -> Result<String> {
    let mut out = String::new();
    write_value(&mut out, code, payload, 0)?;
    Ok(out)
}

fn write_value(out: &mut String, code: u8, b: &[u8], depth: usize) -> Result<()> {
    if depth > 200 {
        return Err(corrupt());
    }
    match code {
        TYPE_LITERAL => match b.first() {
            Some(&LITERAL_NULL) => out.push_str("null"),
            Some(&LITERAL_TRUE) => out.push_str("true"),
            Some(&LITERAL_FALSE) => out.push_str("false"),
            _ => return Err(corrupt()),
        },
        TYPE_INT64 => out.push_str(&i64::from_le_bytes(read_u64(b)?).to_string()),
        TYPE_UINT64 => out.push_str(&u64::from_le_bytes(read_u64(b)?).to_string()),
        TYPE_FLOAT64 => {
            let f = f64::from_bits(u64::from_le_bytes(read_u64(b)?));
            let n = serde_json::Number::from_f64(f).ok_or_else(corrupt)?;
            out.push_str(&n.to_string());
        }
        TYPE_STRING => {
            let (len, n) = read_uvarint(b)?;
            let len = usize::try_from(len).map_err(|_| corrupt())?;
            let s = std::str::from_utf8(slice(b, n, len)?).map_err(|_| corrupt())?;
            write_string(out, s);
        }
        TYPE_ARRAY | TYPE_OBJECT => {
            let count = read_u32(b, 0)?;
            let size = read_u32(b, 4)?;
            let b = slice(b, 0, size)?;
            let object = code == TYPE_OBJECT;
            let values_at = HEADER_SIZE + if object { count * KEY_ENTRY_SIZE } else { 0 };
            out.push(if object { '{' } else { '[' });
            for i in 0..count {
                if i > 0 {
                    out.push_str(", ");
                }
                if object {
                    let at = HEADER_SIZE + i * KEY_ENTRY_SIZE;
                    let off = read_u32(b, at)?;
                    let len_bytes = slice(b, at + 4, 2)?;
                    let len = usize::from(u16::from_le_bytes([len_bytes[0], len_bytes[1]]));
                    let key = std::str::from_utf8(slice(b, off, len)?).map_err(|_| corrupt())?;
                    write_string(out, key);
                    out.push_str(": ");
                }
                let entry = slice(b, values_at + i * VALUE_ENTRY_SIZE, VALUE_ENTRY_SIZE)?;
                let vcode = entry[0];
                if vcode == TYPE_LITERAL {
                    write_value(out, vcode, &entry[1..2], depth + 1)?;
                } else {
                    let off = read_u32(entry, 1)?;
                    write_value(out, vcode, b.get(off..).ok_or_else(corrupt)?, depth + 1)?;
                }
            }
            out.push(if object { '}' } else { ']' });
        }
        other => {
            return Err(Error::bad_data(format!(
                "unsupported binary JSON type code {other:#x}"
            )));
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_small_object() {
        // {"a": 1}: count 1, size, key entry (off 19, len 1), value entry
        // (INT64 at 20), key "a", int 1.
        let (code, bin) = parse_text(r#"{"a":1}"#).unwrap();
        assert_eq!(code, TYPE_OBJECT);
        assert_eq!(
            bin,
            [
                1, 0, 0, 0, 28, 0, 0, 0, 19, 0, 0, 0, 1, 0, 9, 20, 0, 0, 0, b'a', 1, 0, 0, 0, 0, 0,
                0, 0
            ]
        );
        let (code, bin) = parse_text("[true,null]").unwrap();
        assert_eq!(code, TYPE_ARRAY);
        assert_eq!(bin, [2, 0, 0, 0, 18, 0, 0, 0, 4, 1, 0, 0, 0, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn text_round_trip_is_mysql_formatted() {
        for (input, want) in [
            (
                r#"{"b":1,"a":[true,null,"x\"y"],"c":{"d":-2.5}}"#,
                r#"{"a": [true, null, "x\"y"], "b": 1, "c": {"d": -2.5}}"#,
            ),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1.0", "1.0"),
            (r#""é\u0001""#, "\"é\\u0001\""),
            ("[]", "[]"),
            ("{}", "{}"),
        ] {
            let (code, bin) = parse_text(input).unwrap();
            assert_eq!(to_text(code, &bin).unwrap(), want, "{input}");
        }
        assert!(parse_text("{bad").is_err());
        assert!(to_text(TYPE_OBJECT, &[5, 0, 0, 0]).is_err());
    }
}
