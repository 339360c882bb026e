//! Assembles the configuration from its layers — built-in defaults < config
//! file < `IMPORTER_…` environment variables < command-line flags — with the
//! `config` crate, then validates and resolves it.
//!
//! Environment variables: `IMPORTER_<SECTION>__<KEY>`, a double underscore
//! between levels, single underscores standing for the dashes of key names,
//! case-insensitive: `IMPORTER_TIKV_IMPORTER__BACKEND=tidb` sets
//! `tikv-importer.backend`, `IMPORTER_MYDUMPER__CSV__SEPARATOR` sets
//! `mydumper.csv.separator`. Under `tidb.session-vars` the variable name is
//! kept with its underscores. List keys (`mydumper.filter`,
//! `mydumper.csv.null`) take comma-separated values. Variables without a
//! double underscore (`IMPORTER_CONFIG`, `IMPORTER_TEST_MYSQL_URL`) are not
//! settings; a single-underscore spelling of a setting
//! (`IMPORTER_TIDB_PASSWORD`) is an error that shows the right name.

use std::fmt;
use std::path::{Path, PathBuf};

use config::{Map, Source, Value, ValueKind};

use super::Config;
use super::error::{ConfigError, Origin, Origins};
use super::file::{CheckedFile, check_file};
use super::validate::validate_and_resolve;

/// The prefix of environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "IMPORTER_";

/// Environment variables considered by [`load`].
#[derive(Clone, Default)]
pub struct EnvVars(Vec<(String, String)>);

impl EnvVars {
    /// The `IMPORTER_…` variables of this process (non-UTF-8 ones are skipped).
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| k.starts_with(ENV_PREFIX))
                .collect(),
        )
    }

    /// Explicit variables (tests; embedding programs).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Debug for EnvVars {
    // Values may be passwords: show names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Settings from command-line flags, the top layer.
#[derive(Clone, Default)]
pub struct Overrides(Vec<(String, Value, String)>);

impl Overrides {
    /// Sets `key` (dotted, e.g. `tikv-importer.backend`) from `flag`.
    pub fn set(&mut self, key: &str, value: impl Into<ValueKind>, flag: &str) {
        let origin = format!("flag {flag}");
        self.0.push((
            key.to_owned(),
            Value::new(Some(&origin), value),
            flag.to_owned(),
        ));
    }

    /// Sets a list-valued `key` from a repeatable `flag`.
    pub fn set_list(&mut self, key: &str, values: &[String], flag: &str) {
        let origin = format!("flag {flag}");
        let items: Vec<Value> = values
            .iter()
            .map(|v| Value::new(Some(&origin), v.as_str()))
            .collect();
        self.0.push((
            key.to_owned(),
            Value::new(Some(&origin), ValueKind::Array(items)),
            flag.to_owned(),
        ));
    }

    /// Whether any flag sets `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _, _)| k == key)
    }
}

impl fmt::Debug for Overrides {
    // Values may be passwords: show keys and flags only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _, flag)| format!("{k} ({flag})")))
            .finish()
    }
}

/// What to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The config file (`--config`), if any.
    pub file: Option<PathBuf>,
    /// The environment layer.
    pub env: EnvVars,
    /// The flag layer.
    pub overrides: Overrides,
}

/// A loaded, validated and resolved configuration.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration, automatic values filled in.
    pub config: Config,
    /// Problems worth a warning (ignored Lightning settings and the like),
    /// to be logged once logging is set up.
    pub warnings: Vec<String>,
    /// Where each explicitly set key came from.
    pub origins: Origins,
}

/// Loads the configuration from its layers, validates it and fills in
/// automatic values (see the module docs for the environment scheme).
///
/// # Errors
/// A [`ConfigError`] naming the key and where its value came from: an
/// unreadable or malformed file, an unknown key, an invalid value, or a
/// Lightning setting whose effect is not implemented.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut origins = Origins::default();
    let mut warnings = Vec::new();
    let mut builder = config::Config::builder();

    if let Some(path) = &opts.file {
        let CheckedFile {
            table,
            lines,
            warnings: file_warnings,
        } = check_file(path)?;
        for (key, line) in lines {
            origins.set(
                key,
                Origin::File {
                    path: path.clone(),
                    line,
                },
            );
        }
        warnings.extend(file_warnings);
        builder = builder.add_source(TableSource::new(path, table));
    }

    let env = EnvSource::new(&opts.env)?;
    for (key, _, var) in &env.entries {
        origins.set(key.clone(), Origin::Env(var.clone()));
    }
    builder = builder.add_source(env);

    for (key, value, flag) in &opts.overrides.0 {
        origins.set(key.clone(), Origin::Flag(flag.clone()));
        builder = builder
            .set_override(key, value.clone())
            .map_err(|e| ConfigError::Layer(e.to_string()))?;
    }

    let mut config: Config = builder
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| layer_error(e, &origins))?;
    warnings.extend(validate_and_resolve(&mut config, &origins)?);
    Ok(Loaded {
        config,
        warnings,
        origins,
    })
}

/// Maps a `config` crate error to ours, naming where the bad value came from.
fn layer_error(e: config::ConfigError, origins: &Origins) -> ConfigError {
    match e {
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => ConfigError::InvalidValue {
            origin: origins.of(&key),
            key,
            reason: error.to_string(),
        },
        config::ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => ConfigError::InvalidValue {
            origin: origins.of(&key),
            key,
            reason: format!("invalid type: {unexpected}, expected {expected}"),
        },
        other => ConfigError::Layer(other.to_string()),
    }
}

/// The config file as a `config` source.
#[derive(Clone, Debug)]
struct TableSource {
    origin: String,
    table: toml::Table,
}

impl TableSource {
    fn new(path: &Path, table: toml::Table) -> Self {
        Self {
            origin: path.display().to_string(),
            table,
        }
    }

    fn convert(&self, value: &toml::Value) -> Value {
        let kind = match value {
            toml::Value::String(s) => ValueKind::String(s.clone()),
            toml::Value::Integer(i) => ValueKind::I64(*i),
            toml::Value::Float(f) => ValueKind::Float(*f),
            toml::Value::Boolean(b) => ValueKind::Boolean(*b),
            toml::Value::Datetime(d) => ValueKind::String(d.to_string()),
            toml::Value::Array(items) => {
                ValueKind::Array(items.iter().map(|v| self.convert(v)).collect())
            }
            toml::Value::Table(t) => ValueKind::Table(
                t.iter()
                    .map(|(k, v)| (k.clone(), self.convert(v)))
                    .collect(),
            ),
        };
        Value::new(Some(&self.origin), kind)
    }
}

impl Source for TableSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self
            .table
            .iter()
            .map(|(k, v)| (k.clone(), self.convert(v)))
            .collect())
    }
}

/// The `IMPORTER_…` variables as a `config` source: (key, value, variable).
#[derive(Clone)]
struct EnvSource {
    entries: Vec<(String, Value, String)>,
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(_, _, var)| var))
            .finish()
    }
}

/// The shape of the configuration: every key with a placeholder value, so
/// environment keys can be checked before merging.
fn schema() -> serde_json::Value {
    let mut c = Config::default();
    c.tidb.security = Some(Default::default());
    c.conflict.threshold = Some(0);
    c.conflict.max_record_rows = Some(0);
    c.mydumper.csv.escaped_by = Some(String::new());
    c.mydumper.default_file_rules = Some(true);
    c.lightning.max_error.conflict = Some(0);
    serde_json::to_value(&c).unwrap_or_default()
}

const SECTIONS: &[&str] = &[
    "lightning",
    "checkpoint",
    "conflict",
    "tikv_importer",
    "mydumper",
    "tidb",
    "post_restore",
    "cron",
    "security",
    "store",
];

impl EnvSource {
    fn new(env: &EnvVars) -> Result<Self, ConfigError> {
        let schema = schema();
        let mut entries = Vec::new();
        let mut vars: Vec<&(String, String)> = env.0.iter().collect();
        vars.sort();
        for (var, raw) in vars {
            let Some(name) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let lower = name.to_ascii_lowercase();
            if !lower.contains("__") {
                if let Some(section) = SECTIONS
                    .iter()
                    .find(|s| lower.starts_with(&format!("{s}_")))
                {
                    let key = &lower[section.len() + 1..];
                    let hint = format!(
                        "{ENV_PREFIX}{}__{}",
                        section.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    );
                    return Err(ConfigError::UnknownKey {
                        key: lower.replace('_', "-"),
                        origin: Origin::Env(var.clone()),
                        expected: vec![format!("did you mean {hint}?")],
                    });
                }
                continue;
            }
            let mut segments: Vec<String> = Vec::new();
            for part in lower.split("__") {
                let keep_underscores =
                    segments.len() == 2 && segments[0] == "tidb" && segments[1] == "session-vars";
                segments.push(if keep_underscores {
                    part.to_owned()
                } else {
                    part.replace('_', "-")
                });
            }
            let key = segments.join(".");
            let origin = format!("environment variable {var}");
            let node = lookup(&schema, &segments).map_err(|expected| ConfigError::UnknownKey {
                key: key.clone(),
                origin: Origin::Env(var.clone()),
                expected,
            })?;
            let kind = if node.is_some_and(serde_json::Value::is_array) {
                ValueKind::Array(
                    raw.split(',')
                        .map(|item| Value::new(Some(&origin), item.trim()))
                        .collect(),
                )
            } else {
                ValueKind::String(raw.clone())
            };
            entries.push((key, Value::new(Some(&origin), kind), var.clone()));
        }
        Ok(Self { entries })
    }
}

/// Finds `segments` in the schema: `Ok(Some(node))`, `Ok(None)` for a
/// free-form map entry, or `Err(keys valid at the failing level)`.
fn lookup<'a>(
    schema: &'a serde_json::Value,
    segments: &[String],
) -> Result<Option<&'a serde_json::Value>, Vec<String>> {
    let mut node = schema;
    for (i, segment) in segments.iter().enumerate() {
        if i == 2 && segments[0] == "tidb" && segments[1] == "session-vars" {
            return if segments.len() == 3 {
                Ok(None)
            } else {
                Err(Vec::new())
            };
        }
        match node.as_object() {
            Some(map) => match map.get(segment) {
                Some(child) => node = child,
                None => return Err(map.keys().cloned().collect()),
            },
            None => return Err(Vec::new()),
        }
    }
    Ok(Some(node))
}

impl Source for EnvSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self
            .entries
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect())
    }
}
