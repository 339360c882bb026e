//! Reads and checks the config file: parses it once with spans so every
//! problem names its line, checks every key against the registry of
//! Lightning's keys ([`super::keys`]) — all unknown keys of the file are
//! reported in one error — sets aside the Lightning keys that have no field
//! here (the load applies their status), and checks the rest strictly
//! against the typed [`Config`](super::Config).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::Config;
use super::error::{ConfigError, Origin, UnknownKey};
use super::keys;

/// A config file that passed the strict check.
#[derive(Debug)]
pub(crate) struct CheckedFile {
    /// The settings with a field here, as a plain table (the `config`
    /// crate's file layer).
    pub table: toml::Table,
    /// Dotted key path (`routes[0].target-schema`) → its line.
    pub lines: HashMap<String, usize>,
    /// Registry keys without a field here, with their values (as JSON).
    pub untyped: Vec<(String, serde_json::Value)>,
}

/// Whether the registry key `key` (a pattern) has a field in the typed
/// [`Config`] (whose shape `schema` is), i.e. its value is merged and
/// deserialized like any setting.
pub(crate) fn typed(schema: &serde_json::Value, key: &str) -> bool {
    let norm = keys::normalize(key);
    let segments: Vec<&str> = norm.split('.').collect();
    let mut node = schema;
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "*" && i + 1 == segments.len() {
            return node.is_object();
        }
        let (name, array) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (*segment, false),
        };
        let Some(child) = node.as_object().and_then(|m| m.get(name)) else {
            return false;
        };
        node = child;
        if array {
            match node.as_array().and_then(|a| a.first()) {
                Some(first) => node = first,
                None => return false,
            }
        }
    }
    true
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Reads and checks `path`.
pub(crate) fn check_file(path: &Path) -> Result<CheckedFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    check_text(path, &text)
}

/// Checks the text of the config file `path`.
pub(crate) fn check_text(path: &Path, text: &str) -> Result<CheckedFile, ConfigError> {
    let origin = |offset: usize| Origin::File {
        path: path.to_owned(),
        line: line_col(text, offset).0,
    };
    let mut root = DeTable::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;

    let mut lines = HashMap::new();
    record_lines(root.get_ref(), "", text, &mut lines);

    // Every key against the registry: unknown ones are collected, those
    // without a field set aside.
    let plain =
        toml::Table::deserialize(toml::de::Deserializer::from(root.clone())).map_err(|e| {
            ConfigError::InvalidValue {
                key: "(document)".into(),
                origin: origin(e.span().map_or(0, |s| s.start)),
                reason: e.message().to_owned(),
            }
        })?;
    let schema = super::load::schema();
    let mut walk = Walk::default();
    walk.table(&plain, "", &schema);
    if !walk.unknown.is_empty() {
        let mut unknown: Vec<UnknownKey> = walk
            .unknown
            .iter()
            .map(|key| UnknownKey {
                key: key.clone(),
                origin: Origin::File {
                    path: path.to_owned(),
                    line: lines.get(key).copied().unwrap_or(0),
                },
                hint: hint(key),
            })
            .collect();
        unknown.sort_by_key(|k| match k.origin {
            Origin::File { line, .. } => line,
            _ => 0,
        });
        return Err(ConfigError::UnknownKeys { keys: unknown });
    }
    let mut untyped = Vec::new();
    for (key, value) in walk.untyped {
        remove_path(root.get_mut(), &key);
        untyped.push((key, serde_json::to_value(&value).unwrap_or_default()));
    }

    // The strict check: invalid values, with their spans.
    if let Err(e) = Config::deserialize(toml::de::Deserializer::from(root.clone())) {
        let offset = e.span().map_or(0, |s| s.start);
        let key = key_at(root.get_ref(), "", offset).unwrap_or_else(|| "(document)".into());
        let message = e.message().trim().to_owned();
        return Err(match message.strip_prefix("unknown field ") {
            // The registry and the typed structs disagree: still name the key.
            Some(rest) => ConfigError::UnknownKey {
                key,
                origin: origin(offset),
                expected: expected_fields(rest),
            },
            None => ConfigError::InvalidValue {
                key,
                origin: origin(offset),
                reason: message,
            },
        });
    }

    let table = toml::Table::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
        ConfigError::InvalidValue {
            key: "(document)".into(),
            origin: origin(e.span().map_or(0, |s| s.start)),
            reason: e.message().to_owned(),
        }
    })?;
    Ok(CheckedFile {
        table,
        lines,
        untyped,
    })
}

/// The keys of a file, sorted out by the registry.
#[derive(Default)]
struct Walk {
    /// Keys the registry does not know.
    unknown: Vec<String>,
    /// Registry keys without a typed field, with their values.
    untyped: Vec<(String, toml::Value)>,
}

impl Walk {
    fn table(&mut self, table: &toml::Table, prefix: &str, schema: &serde_json::Value) {
        for (name, value) in table {
            let path = join(prefix, name);
            if let Some(entry) = keys::lookup(&path) {
                if let toml::Value::Table(t) = value
                    && keys::has_table_children(&path)
                {
                    // A key that is also a table of keys (`max-error`).
                    self.table(t, &path, schema);
                } else if !typed(schema, entry.key) {
                    self.untyped.push((path, value.clone()));
                }
                continue;
            }
            match value {
                toml::Value::Table(t) if keys::has_table_children(&path) => {
                    self.table(t, &path, schema);
                }
                toml::Value::Array(items) if keys::has_array_children(&path) => {
                    for (i, item) in items.iter().enumerate() {
                        if let toml::Value::Table(t) = item {
                            self.table(t, &format!("{path}[{i}]"), schema);
                        }
                    }
                }
                // A known section written with the wrong shape: the strict
                // check reports its type.
                _ if keys::is_container(&path) => {}
                _ => self.unknown.push(path),
            }
        }
    }
}

/// "did you mean `lightning.level`?", or the keys valid beside `key`.
fn hint(key: &str) -> String {
    let (parent, name) = key.rsplit_once('.').unwrap_or(("", key));
    let siblings = keys::children(parent);
    let close = siblings
        .iter()
        .map(|s| (edit_distance(s, name), *s))
        .filter(|(d, s)| *d <= (s.len() / 3).max(2))
        .min();
    match close {
        Some((_, best)) => format!("did you mean `{}`?", join(parent, best)),
        None if siblings.is_empty() => String::new(),
        None => format!("expected one of: {}", siblings.join(", ")),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Removes the key at a concrete path (`routes[0].extract-table`).
fn remove_path(table: &mut DeTable<'_>, path: &str) {
    let Some((first, rest)) = path.split_once('.') else {
        table.remove(path);
        return;
    };
    if let Some((name, index)) = first.strip_suffix(']').and_then(|f| f.split_once('[')) {
        if let Ok(index) = index.parse::<usize>()
            && let Some(value) = table.get_mut(name)
            && let DeValue::Array(items) = value.get_mut()
            && let Some(item) = items.get_mut(index)
            && let DeValue::Table(t) = item.get_mut()
        {
            remove_path(t, rest);
        }
        return;
    }
    if let Some(value) = table.get_mut(first)
        && let DeValue::Table(t) = value.get_mut()
    {
        remove_path(t, rest);
    }
}

/// Parses serde's "`foo`, expected one of `a`, `b`" into `[a, b]`.
fn expected_fields(rest: &str) -> Vec<String> {
    let Some((_, list)) = rest.split_once("expected ") else {
        return Vec::new();
    };
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .map(|s| s.trim().trim_matches('`').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Records the line of every key, arrays of tables as `name[i]`.
fn record_lines(table: &DeTable<'_>, prefix: &str, text: &str, out: &mut HashMap<String, usize>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        out.insert(path.clone(), line_col(text, key.span().start).0);
        match value.get_ref() {
            DeValue::Table(t) => record_lines(t, &path, text, out),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let elem = format!("{path}[{i}]");
                        out.insert(elem.clone(), line_col(text, item.span().start).0);
                        record_lines(t, &elem, text, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The dotted path of the key whose name or value covers `offset`.
fn key_at(table: &DeTable<'_>, prefix: &str, offset: usize) -> Option<String> {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        if key.span().contains(&offset) {
            return Some(path);
        }
        let span = value.span();
        let inside = span.contains(&offset) || (span.start == offset && span.is_empty());
        match value.get_ref() {
            DeValue::Table(t) => {
                if let Some(found) = key_at(t, &path, offset) {
                    return Some(found);
                }
                if inside {
                    return Some(path);
                }
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref()
                        && let Some(found) = key_at(t, &format!("{path}[{i}]"), offset)
                    {
                        return Some(found);
                    }
                }
                if inside {
                    return Some(path);
                }
            }
            _ if inside => return Some(path),
            _ => {}
        }
    }
    None
}
