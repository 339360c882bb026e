//! Reads and checks the config file: parses it once with spans so every
//! problem names its line, sets aside Lightning settings we don't use
//! (warning, or refusing where ignoring them would change the result), and
//! checks the rest strictly against the typed [`Config`](super::Config).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::Config;
use super::error::{ConfigError, Origin};

/// A config file that passed the strict check.
#[derive(Debug)]
pub(crate) struct CheckedFile {
    /// The settings we use, as a plain table (the `config` crate's file layer).
    pub table: toml::Table,
    /// Dotted key path (`routes[0].target-schema`) → its line.
    pub lines: HashMap<String, usize>,
    /// Lightning settings that were ignored, one message each.
    pub warnings: Vec<String>,
}

/// What to do with a Lightning key this importer has no field for.
enum Treatment {
    /// Ignore it, with a warning saying why.
    Ignore(&'static str),
    /// Refuse it unless its value is harmless (Lightning's default).
    RejectUnless(fn(&DeValue<'_>) -> bool, &'static str),
}

fn is_false(v: &DeValue<'_>) -> bool {
    v.as_bool() == Some(false)
}
fn is_empty(v: &DeValue<'_>) -> bool {
    v.as_str().is_some_and(str::is_empty) || v.as_array().is_some_and(|a| a.is_empty())
}
fn never(_: &DeValue<'_>) -> bool {
    false
}

/// Lightning settings (pkg/lightning/config) without a field here.
/// `routes[]` applies to every element of the `[[routes]]` array.
const LIGHTNING_ONLY: &[(&str, Treatment)] = &[
    (
        "lightning.server-mode",
        Treatment::RejectUnless(
            is_false,
            "server mode (tasks submitted over HTTP) is not implemented; run one import per invocation",
        ),
    ),
    (
        "lightning.pprof-port",
        Treatment::Ignore("use `lightning.status-addr`"),
    ),
    (
        "lightning.enable-diagnose-logs",
        Treatment::Ignore("no diagnose logs"),
    ),
    (
        "lightning.max-error-records",
        Treatment::Ignore("deprecated in Lightning; `conflict.threshold` is used"),
    ),
    (
        "tidb.log-level",
        Treatment::Ignore("no embedded TiDB library to configure"),
    ),
    (
        "tikv-importer.addr",
        Treatment::Ignore("only for the removed `importer` backend"),
    ),
    (
        "tikv-importer.max-kv-pairs",
        Treatment::Ignore("TiKV write tuning"),
    ),
    (
        "tikv-importer.send-kv-size",
        Treatment::Ignore("TiKV write tuning"),
    ),
    (
        "tikv-importer.region-split-batch-size",
        Treatment::Ignore("TiKV region splitting"),
    ),
    (
        "tikv-importer.region-split-concurrency",
        Treatment::Ignore("TiKV region splitting"),
    ),
    (
        "tikv-importer.region-check-backoff-limit",
        Treatment::Ignore("TiKV region splitting"),
    ),
    (
        "tikv-importer.pause-pd-scheduler-scope",
        Treatment::Ignore("no PD to pause"),
    ),
    (
        "tikv-importer.keyspace-name",
        Treatment::RejectUnless(
            is_empty,
            "keyspaces (which change every key's prefix) are not implemented",
        ),
    ),
    (
        "mydumper.batch-import-ratio",
        Treatment::Ignore("engine batches are uniform"),
    ),
    ("mydumper.source-id", Treatment::Ignore("only for DM")),
    (
        "mydumper.ignore-data-columns",
        Treatment::RejectUnless(
            is_empty,
            "ignoring source columns is not implemented; drop them from the data or the schema",
        ),
    ),
    (
        "post-restore.checksum-via-sql",
        Treatment::Ignore("the checksum method is chosen per target"),
    ),
    (
        "conflict.precheck-conflict-before-import",
        Treatment::RejectUnless(
            is_false,
            "conflict detection before import is not implemented",
        ),
    ),
    (
        "routes[].extract-table",
        Treatment::RejectUnless(
            never,
            "extracting route names into columns is not implemented",
        ),
    ),
    (
        "routes[].extract-schema",
        Treatment::RejectUnless(
            never,
            "extracting route names into columns is not implemented",
        ),
    ),
    (
        "routes[].extract-source",
        Treatment::RejectUnless(
            never,
            "extracting route names into columns is not implemented",
        ),
    ),
];

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

    let mut warnings = Vec::new();
    for (key, treatment) in LIGHTNING_ONLY {
        for (found, span, value) in take_key(root.get_mut(), key) {
            match treatment {
                Treatment::Ignore(why) => warnings.push(format!(
                    "ignoring Lightning setting `{found}` ({}): {why}",
                    origin(span.start)
                )),
                Treatment::RejectUnless(harmless, why) => {
                    if harmless(&value) {
                        warnings.push(format!(
                            "ignoring Lightning setting `{found}` ({}): {why}",
                            origin(span.start)
                        ));
                    } else {
                        return Err(ConfigError::Unsupported {
                            key: found,
                            origin: origin(span.start),
                            reason: (*why).to_owned(),
                        });
                    }
                }
            }
        }
    }

    // The strict check: unknown keys and invalid values, with their spans.
    if let Err(e) = Config::deserialize(toml::de::Deserializer::from(root.clone())) {
        let offset = e.span().map_or(0, |s| s.start);
        let key = key_at(root.get_ref(), "", offset).unwrap_or_else(|| "(document)".into());
        let message = e.message().trim().to_owned();
        return Err(match message.strip_prefix("unknown field ") {
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
        warnings,
    })
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

/// Removes every occurrence of `pattern` (`a.b`, or `routes[].x` for each
/// element) and returns `(path, span, value)` of each.
fn take_key<'i>(
    root: &mut DeTable<'i>,
    pattern: &str,
) -> Vec<(String, std::ops::Range<usize>, DeValue<'i>)> {
    let mut out = Vec::new();
    let segments: Vec<&str> = pattern.split('.').collect();
    take_in(root, &segments, String::new(), &mut out);
    out
}

fn take_in<'i>(
    table: &mut DeTable<'i>,
    segments: &[&str],
    prefix: String,
    out: &mut Vec<(String, std::ops::Range<usize>, DeValue<'i>)>,
) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Some((key, value)) = table.remove_entry(*first) {
            out.push((join(&prefix, first), key.span(), value.into_inner()));
        }
        return;
    }
    if let Some(name) = first.strip_suffix("[]") {
        if let Some(value) = table.get_mut(name)
            && let DeValue::Array(items) = value.get_mut()
        {
            for (i, item) in items.iter_mut().enumerate() {
                if let DeValue::Table(t) = item.get_mut() {
                    take_in(t, rest, format!("{}[{i}]", join(&prefix, name)), out);
                }
            }
        }
        return;
    }
    if let Some(value) = table.get_mut(*first)
        && let DeValue::Table(t) = value.get_mut()
    {
        take_in(t, rest, join(&prefix, first), out);
    }
}
