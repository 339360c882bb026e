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

use super::error::{ConfigError, Origin, Origins};
use super::file::{CheckedFile, check_file, typed};
use super::keys::{self, Status};
use super::validate::validate_and_resolve;
use super::{Backend, BwTable, Config, FileRule, RouteRule};

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

    /// The value a flag gives `key`, as text (for the log file of an
    /// error that stops the load).
    pub fn text_of(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .and_then(|(_, v, _)| v.clone().into_string().ok())
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

/// Where the log would go for `opts`, read leniently: the flag, then the
/// environment, then the file's `[lightning] file`. Used to log an error
/// that stops the load itself (an unknown key) to the log file too.
pub fn log_file_hint(opts: &LoadOptions) -> Option<String> {
    if let Some(file) = opts.overrides.text_of("lightning.file") {
        return Some(file);
    }
    if let Some((_, v)) = opts
        .env
        .0
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&format!("{ENV_PREFIX}LIGHTNING__FILE")))
    {
        return Some(v.clone());
    }
    let text = std::fs::read_to_string(opts.file.as_ref()?).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table
        .get("lightning")?
        .get("file")?
        .as_str()
        .map(str::to_owned)
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
    let mut builder = config::Config::builder();
    // Registry keys without a field here (`lightning.pprof-port`,
    // `tikv-importer.addr`…): their values, for the registry pass.
    let mut untyped: Vec<(String, serde_json::Value)> = Vec::new();

    if let Some(path) = &opts.file {
        let CheckedFile {
            table,
            lines,
            untyped: file_untyped,
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
        untyped.extend(file_untyped);
        builder = builder.add_source(TableSource::new(path, table));
    }

    let env = EnvSource::new(&opts.env)?;
    for (key, _, var) in &env.entries {
        origins.set(key.clone(), Origin::Env(var.clone()));
    }
    for (key, value, var) in &env.untyped {
        origins.set(key.clone(), Origin::Env(var.clone()));
        untyped.retain(|(k, _)| k != key);
        untyped.push((key.clone(), value.clone()));
    }
    builder = builder.add_source(env);

    let shape = schema();
    for (key, value, flag) in &opts.overrides.0 {
        origins.set(key.clone(), Origin::Flag(flag.clone()));
        if keys::lookup(key).is_some_and(|k| !typed(&shape, k.key)) {
            let json = value
                .clone()
                .try_deserialize::<serde_json::Value>()
                .unwrap_or_default();
            untyped.retain(|(k, _)| k != key);
            untyped.push((key.clone(), json));
            continue;
        }
        builder = builder
            .set_override(key, value.clone())
            .map_err(|e| ConfigError::Layer(e.to_string()))?;
    }

    let mut config: Config = builder
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| layer_error(e, &origins))?;
    let mut warnings = apply_registry(&config, &origins, &untyped)?;
    apply_legacy(&mut config, &untyped);
    warnings.extend(validate_and_resolve(&mut config, &origins)?);
    Ok(Loaded {
        config,
        warnings,
        origins,
    })
}

/// Applies the [`Status`] of every key that was set (in the file, the
/// environment or by a flag), in file order: a warning for each that has no
/// effect here, an error for the first that is refused. A key holding its
/// inert value (a feature left off) passes silently.
fn apply_registry(
    cfg: &Config,
    origins: &Origins,
    untyped: &[(String, serde_json::Value)],
) -> Result<Vec<String>, ConfigError> {
    let json = serde_json::to_value(cfg).unwrap_or_default();
    let mut set: Vec<(&String, &Origin)> = origins.iter().collect();
    set.sort_by_key(|(key, origin)| {
        let rank = match origin {
            Origin::File { line, .. } => (0, *line),
            Origin::Env(_) => (1, 0),
            Origin::Flag(_) => (2, 0),
            Origin::Default => (3, 0),
        };
        (rank, (*key).clone())
    });
    let mut warnings = Vec::new();
    for (key, origin) in set {
        let Some(entry) = keys::lookup(key) else {
            continue;
        };
        let value = untyped
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| json_at(&json, key));
        if let (Some(inert), Some(value)) = (entry.inert, &value)
            && (inert.test)(value)
        {
            continue;
        }
        let backend = cfg.tikv_importer.backend;
        match entry.status {
            Status::Works => {}
            Status::TidbOnly(why) if backend == Backend::Local => warnings.push(format!(
                "`{key}` ({origin}) has no effect on the local backend: {why}"
            )),
            Status::LocalOnly(why) if backend == Backend::Tidb => warnings.push(format!(
                "`{key}` ({origin}) has no effect on the tidb backend: {why}"
            )),
            Status::TidbOnly(_) | Status::LocalOnly(_) => {}
            Status::Warns(why) => warnings.push(format!(
                "ignoring Lightning setting `{key}` ({origin}): {why}"
            )),
            Status::Refused(why) => {
                return Err(ConfigError::Unsupported {
                    key: key.clone(),
                    origin: origin.clone(),
                    reason: why.to_owned(),
                });
            }
        }
    }
    Ok(warnings)
}

/// The value at a concrete key path (`routes[0].target-schema`) of the
/// configuration as JSON.
fn json_at(json: &serde_json::Value, key: &str) -> Option<serde_json::Value> {
    let mut node = json;
    for segment in key.split('.') {
        match segment.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((name, index)) => {
                node = node.get(name)?.get(index.parse::<usize>().ok()?)?;
            }
            None => node = node.get(segment)?,
        }
    }
    Some(node.clone())
}

/// Legacy keys that Lightning maps onto current ones.
fn apply_legacy(cfg: &mut Config, untyped: &[(String, serde_json::Value)]) {
    // `pprof-port`: the status server's port when `status-addr` is empty.
    if let Some((_, port)) = untyped.iter().find(|(k, _)| k == "lightning.pprof-port")
        && let Some(port) = port.as_u64().filter(|p| *p > 0)
        && cfg.lightning.status_addr.is_empty()
    {
        cfg.lightning.status_addr = format!(":{port}");
    }
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
    /// Registry keys without a field here: (key, value, variable).
    untyped: Vec<(String, serde_json::Value, String)>,
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(_, _, var)| var))
            .finish()
    }
}

/// The shape of the configuration: every key with a placeholder value (an
/// array of tables has one element), so keys can be checked before merging.
pub(crate) fn schema() -> serde_json::Value {
    let mut c = Config {
        routes: vec![RouteRule::default()],
        ..Config::default()
    };
    c.mydumper.files = vec![FileRule::default()];
    c.black_white_list.do_tables = vec![BwTable::default()];
    c.black_white_list.ignore_tables = vec![BwTable::default()];
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
    "black_white_list",
];

impl EnvSource {
    fn new(env: &EnvVars) -> Result<Self, ConfigError> {
        let schema = schema();
        let mut entries = Vec::new();
        let mut untyped = Vec::new();
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
            if keys::lookup(&key).is_some_and(|k| !typed(&schema, k.key)) {
                untyped.push((key, env_json(raw), var.clone()));
                continue;
            }
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
        Ok(Self { entries, untyped })
    }
}

/// An environment value as the JSON a file would give: a boolean or a
/// number when it reads as one, else the string.
fn env_json(raw: &str) -> serde_json::Value {
    match raw.trim() {
        "true" => true.into(),
        "false" => false.into(),
        t => t
            .parse::<u64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| raw.into()),
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
