//! Configuration errors: each names the key, where its value came from
//! (file and line, environment variable, or flag) and what is allowed; and
//! the record of where each key came from, that loading fills in and
//! validation reads.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line of the config file.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// Where each explicitly set key came from.
#[derive(Clone, Debug, Default)]
pub struct Origins(HashMap<String, Origin>);

impl Origins {
    /// The origin of `key` (dotted path), or [`Origin::Default`].
    pub fn of(&self, key: &str) -> Origin {
        self.0.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// Whether `key` was set by the file, environment or a flag.
    pub fn is_set(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Every explicitly set key with its origin.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Origin)> {
        self.0.iter()
    }

    /// Records that `key` was set by `origin` (a later layer wins).
    pub(super) fn set(&mut self, key: String, origin: Origin) {
        self.0.insert(key, origin);
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key that is neither ours nor Lightning's.
    #[error("unknown key `{key}` ({origin}){}", expected_list(expected))]
    UnknownKey {
        /// Dotted key path, e.g. `lightning.levle`.
        key: String,
        /// Where it was written.
        origin: Origin,
        /// The keys valid at that place.
        expected: Vec<String>,
    },
    /// Keys of the config file that are neither ours nor Lightning's: every
    /// one of them, each with its line and a hint.
    #[error("{}", unknown_keys(keys))]
    UnknownKeys {
        /// The unknown keys, in file order.
        keys: Vec<UnknownKey>,
    },
    /// A value that is not allowed for its key.
    #[error("invalid value for `{key}` ({origin}): {reason}")]
    InvalidValue {
        /// Dotted key path.
        key: String,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A Lightning setting whose effect this importer does not implement,
    /// where ignoring it would change the result.
    #[error("`{key}` ({origin}) is not supported: {reason}")]
    Unsupported {
        /// Dotted key path.
        key: String,
        /// Where it was written.
        origin: Origin,
        /// What to do instead.
        reason: String,
    },
    /// The layered configuration could not be assembled (reported by the
    /// `config` crate; names the key and source).
    #[error("configuration: {0}")]
    Layer(String),
}

/// One unknown key of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted key path, e.g. `lightning.levle`.
    pub key: String,
    /// Where it was written.
    pub origin: Origin,
    /// "did you mean `level`?" or the keys valid at that place.
    pub hint: String,
}

fn unknown_keys(keys: &[UnknownKey]) -> String {
    let mut out = match keys {
        [one] => format!("unknown key `{}` ({})", one.key, one.origin),
        _ => format!("{} unknown keys:", keys.len()),
    };
    if let [one] = keys {
        if !one.hint.is_empty() {
            out.push_str("; ");
            out.push_str(&one.hint);
        }
        return out;
    }
    for k in keys {
        out.push_str(&format!("\n  `{}` ({})", k.key, k.origin));
        if !k.hint.is_empty() {
            out.push_str(": ");
            out.push_str(&k.hint);
        }
    }
    out
}

fn expected_list(expected: &[String]) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!("; expected one of: {}", expected.join(", "))
    }
}
