//! Casts to the string types (character set and length checks, CHAR and
//! BINARY padding rules), ENUM, SET and JSON, with the fast path for ASCII
//! text that fits.

use backend_core::model::{ColumnType, FieldType};
use backend_core::{Datum, Error, Result};

use super::cast::{Cx, datum_text};

/// ASCII text within a text column's limit, as the column stores it. ASCII
/// is valid in every character set and counts one character per byte, so
/// the general path would change nothing but CHAR's trailing spaces.
fn plain_text(b: &[u8], ft: &FieldType) -> Option<Datum> {
    if ft.is_binary_string() || !b.is_ascii() {
        return None;
    }
    let (limit, _) = length_limit(ft);
    if b.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        return None;
    }
    let end = if ft.tp == ColumnType::Char {
        b.iter().rposition(|c| *c != b' ').map_or(0, |p| p + 1)
    } else {
        b.len()
    };
    Some(Datum::Bytes(b[..end].to_vec()))
}

/// How long a string column's values may be, and whether that counts
/// characters (CHAR/VARCHAR of text) rather than bytes (binary strings,
/// BLOB/TEXT).
fn length_limit(ft: &FieldType) -> (u64, bool) {
    let text = !ft.is_binary_string();
    match ft.tp {
        ColumnType::Char | ColumnType::Binary => (u64::from(ft.flen.unwrap_or(1)), text),
        ColumnType::VarChar | ColumnType::VarBinary => (u64::from(ft.flen.unwrap_or(65535)), text),
        ColumnType::TinyBlob | ColumnType::TinyText => (255, false),
        ColumnType::Blob | ColumnType::Text => (65_535, false),
        ColumnType::MediumBlob | ColumnType::MediumText => (16_777_215, false),
        _ => (4_294_967_295, false),
    }
}

impl Cx<'_> {
    pub(super) fn as_enum(&mut self, value: &Datum) -> Result<Datum> {
        let elems = &self.col.field_type.elems;
        let index = match value {
            Datum::Enum { index, .. } => Some(*index),
            Datum::Int(v) => u64::try_from(*v).ok(),
            Datum::Uint(v) => Some(*v),
            _ => {
                let text = datum_text(value);
                let text = text.trim_end_matches(' ');
                match elems
                    .iter()
                    .position(|e| e.trim_end_matches(' ').eq_ignore_ascii_case(text))
                {
                    Some(i) => Some(u64::try_from(i + 1).unwrap_or(0)),
                    None if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) => {
                        text.parse::<u64>().ok()
                    }
                    None => None,
                }
            }
        };
        match index.filter(|i| *i >= 1 && usize::try_from(*i).is_ok_and(|i| i <= elems.len())) {
            Some(i) => {
                let name = usize::try_from(i - 1)
                    .ok()
                    .and_then(|k| elems.get(k))
                    .cloned()
                    .unwrap_or_default();
                Ok(Datum::Enum { index: i, name })
            }
            None => {
                self.bad(&format!(
                    "{:?} is not a member of the ENUM",
                    datum_text(value)
                ))?;
                Ok(Datum::Enum {
                    index: 0,
                    name: String::new(),
                })
            }
        }
    }

    pub(super) fn as_set(&mut self, value: &Datum) -> Result<Datum> {
        let elems = self.col.field_type.elems.clone();
        let n = elems.len().min(64);
        let all: u64 = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let bits = match value {
            Datum::Set { bits, .. } | Datum::Uint(bits) | Datum::Bit(bits) => *bits,
            Datum::Int(v) => u64::try_from(*v).unwrap_or(u64::MAX),
            other => {
                let text = datum_text(other);
                let mut bits = 0u64;
                let mut unknown = false;
                if !text.is_empty() {
                    for part in text.split(',') {
                        let part = part.trim_end_matches(' ');
                        match elems.iter().position(|e| e.eq_ignore_ascii_case(part)) {
                            Some(i) if i < 64 => bits |= 1 << i,
                            _ => unknown = true,
                        }
                    }
                }
                if unknown && let Ok(num) = text.trim().parse::<u64>() {
                    bits = num;
                    unknown = false;
                }
                if unknown {
                    self.bad(&format!("{text:?} has members not in the SET"))?;
                }
                bits
            }
        };
        let mut bits = bits;
        if bits & !all != 0 {
            self.bad(&format!("SET value {bits} has bits beyond the {n} members"))?;
            bits &= all;
        }
        let name: Vec<&str> = elems
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
            .map(|(_, e)| e.as_str())
            .collect();
        Ok(Datum::Set {
            bits,
            name: name.join(","),
        })
    }

    pub(super) fn as_json(&mut self, value: &Datum) -> Result<Datum> {
        let text = match value {
            Datum::Json(s) => s.clone(),
            Datum::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| {
                    Error::bad_data(format!(
                        "column `{}`: JSON text is not valid UTF-8",
                        self.col.name
                    ))
                })?
                .to_string(),
            other => datum_text(other),
        };
        let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::bad_data(format!(
                "column `{}`: invalid JSON text: {e}",
                self.col.name
            ))
        })?;
        Ok(Datum::Json(parsed.to_string()))
    }

    pub(super) fn as_string(&mut self, value: &Datum, table_charset: &str) -> Result<Datum> {
        match value {
            Datum::Bytes(b) if let Some(fast) = plain_text(b, &self.col.field_type) => Ok(fast),
            _ => self.as_string_general(value, table_charset),
        }
    }

    fn as_string_general(&mut self, value: &Datum, table_charset: &str) -> Result<Datum> {
        let col = self.col;
        let ft = &col.field_type;
        let binary = ft.is_binary_string();
        let mut bytes = match value {
            Datum::Bytes(b) => b.clone(),
            Datum::Bit(v) => {
                let be = v.to_be_bytes();
                be[be.iter().position(|&x| x != 0).unwrap_or(7)..].to_vec()
            }
            other => datum_text(other).into_bytes(),
        };
        let charset = if binary {
            "binary"
        } else if ft.charset.is_empty() {
            table_charset
        } else {
            ft.charset.as_str()
        };
        let is = |name: &str| charset.eq_ignore_ascii_case(name);
        let utf8mb4 = charset.is_empty() || is("utf8mb4");
        let utf8mb3 = is("utf8") || is("utf8mb3");
        // Character validity.
        let valid_len = match () {
            () if utf8mb4 => match std::str::from_utf8(&bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            },
            () if utf8mb3 => {
                let upto = match std::str::from_utf8(&bytes) {
                    Ok(_) => bytes.len(),
                    Err(e) => e.valid_up_to(),
                };
                let s = std::str::from_utf8(&bytes[..upto]).unwrap_or("");
                s.char_indices()
                    .find(|(_, c)| c.len_utf8() == 4)
                    .map_or(upto, |(i, _)| i)
            }
            () if is("ascii") => bytes.iter().position(|b| *b >= 0x80).unwrap_or(bytes.len()),
            () => bytes.len(),
        };
        if valid_len < bytes.len() {
            self.bad(&format!(
                "invalid {charset} string (byte {} is not a valid character start)",
                valid_len
            ))?;
            bytes.truncate(valid_len);
        }
        let multibyte = utf8mb4 || utf8mb3;
        let (limit, in_chars) = length_limit(ft);
        let cut = if in_chars && multibyte {
            let s = std::str::from_utf8(&bytes).unwrap_or("");
            s.char_indices()
                .nth(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(i, _)| i)
        } else {
            usize::try_from(limit).ok().filter(|l| *l < bytes.len())
        };
        if let Some(cut) = cut {
            let tail_spaces = bytes[cut..].iter().all(|b| *b == b' ');
            if !tail_spaces || binary {
                self.bad(&format!(
                    "data too long ({} bytes; the column holds {limit} {})",
                    bytes.len(),
                    if in_chars { "characters" } else { "bytes" }
                ))?;
            }
            if in_chars && !multibyte {
                bytes.truncate(cut);
            } else {
                // `cut` is a character boundary for multibyte text; for
                // bytes-limited text keep whole characters.
                let mut c = cut;
                if multibyte {
                    while c > 0 && std::str::from_utf8(&bytes[..c]).is_err() {
                        c -= 1;
                    }
                }
                bytes.truncate(c);
            }
        }
        if ft.tp == ColumnType::Char && !binary {
            // CHAR values are stored without trailing spaces; MySQL strips
            // them on read anyway.
            let end = bytes.iter().rposition(|b| *b != b' ').map_or(0, |p| p + 1);
            bytes.truncate(end);
        }
        if ft.tp == ColumnType::Binary {
            // BINARY(n) pads with zero bytes to its full length.
            let n = usize::try_from(ft.flen.unwrap_or(1)).unwrap_or(0);
            if bytes.len() < n {
                bytes.resize(n, 0);
            }
        }
        Ok(Datum::Bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use backend_core::SqlMode;
    use backend_core::model::ColumnInfo;

    use super::*;

    proptest::proptest! {
        /// The text fast path stores what the general path stores.
        #[test]
        fn plain_text_matches_the_general_path(
            text in "[ -~]{0,12}",
            tp in proptest::sample::select(vec![
                ColumnType::Char, ColumnType::VarChar, ColumnType::TinyText,
                ColumnType::Text, ColumnType::MediumText, ColumnType::LongText,
                ColumnType::Binary, ColumnType::Blob,
            ]),
            flen in 1u32..10,
            charset in proptest::sample::select(vec!["utf8mb4", "utf8", "latin1", "ascii", "binary"]),
        ) {
            let mut col = ColumnInfo::new(1, "c", 0, FieldType::new(tp));
            col.field_type.flen = Some(flen);
            let mut warnings = 0;
            let mut cx = Cx { mode: SqlMode::STRICT_ALL_TABLES, warnings: &mut warnings, col: &col };
            let general = cx.as_string_general(&Datum::text(&text), charset).ok();
            if let Some(fast) = plain_text(text.as_bytes(), &col.field_type) {
                proptest::prop_assert_eq!(Some(fast), general);
            }
        }
    }
}
