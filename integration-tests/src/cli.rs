//! Imports through the CLI library, with configs built in the test.
//!
//! A config is written as `tidb-lightning.toml` text and loaded with
//! [`importer_cli::config::load`], so tests go through the same parsing,
//! validation and defaults as the binary (and the config shape under test
//! is exactly what a user writes).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use importer_cli::app::{self, ImportOutcome};
use importer_cli::config::{self, Config, LoadOptions};

use crate::server::Server;

/// A TOML string literal (basic string, escaped).
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where an import goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The local backend into the store at this path.
    Local(PathBuf),
    /// The tidb backend into this server.
    Tidb(Server),
}

/// Loads a config: `[tikv-importer]`/`[tidb]`/`[store]` for `target`, the
/// data source `source`, a file checkpoint in `work_dir`, then `extra`
/// (more TOML; its sections must not repeat the ones written here:
/// `[tikv-importer]`, `[mydumper]`, `[tidb]`, `[store]`, `[checkpoint]`
/// — pass their keys in `importer`, `mydumper`, `tidb` instead).
pub fn load_config(
    target: &Target,
    source: &Path,
    work_dir: &Path,
    sections: &Sections,
) -> anyhow::Result<Config> {
    let mut toml = String::new();
    toml.push_str("[lightning]\nlevel = \"warn\"\n");
    if !sections.lightning.contains("region-concurrency") {
        toml.push_str("region-concurrency = 4\n");
    }
    toml.push_str(&sections.lightning);
    toml.push_str("\n[checkpoint]\nenable = true\n");
    toml.push_str(&format!(
        "dsn = {}\n",
        toml_str(&work_dir.join("checkpoint.json").display().to_string())
    ));
    toml.push_str("\n[tikv-importer]\n");
    match target {
        Target::Local(store) => {
            toml.push_str("backend = \"local\"\n");
            toml.push_str(&format!(
                "sorted-kv-dir = {}\n",
                toml_str(&work_dir.join("sorted-kv").display().to_string())
            ));
            toml.push_str(&sections.importer);
            toml.push_str(&format!(
                "\n[store]\npath = {}\n",
                toml_str(&store.display().to_string())
            ));
            toml.push_str("\n[tidb]\n");
            toml.push_str(&sections.tidb);
        }
        Target::Tidb(server) => {
            toml.push_str("backend = \"tidb\"\n");
            toml.push_str(&sections.importer);
            toml.push_str("\n[tidb]\n");
            toml.push_str(&format!(
                "host = {}\nport = {}\nuser = {}\npassword = {}\n",
                toml_str(&server.host),
                server.port,
                toml_str(&server.user),
                toml_str(&server.password)
            ));
            toml.push_str(&sections.tidb);
        }
    }
    toml.push_str("\n[mydumper]\n");
    toml.push_str(&format!(
        "data-source-dir = {}\n",
        toml_str(&source.display().to_string())
    ));
    toml.push_str(&sections.mydumper);
    toml.push('\n');
    toml.push_str(&sections.extra);
    let path = work_dir.join("importer.toml");
    std::fs::write(&path, &toml).with_context(|| format!("writing {}", path.display()))?;
    let loaded = config::load(&LoadOptions {
        file: Some(path.clone()),
        ..LoadOptions::default()
    })
    .with_context(|| format!("loading the config\n{toml}"))?;
    Ok(loaded.config)
}

/// Extra keys for [`load_config`], as TOML lines per section.
#[derive(Debug, Clone, Default)]
pub struct Sections {
    /// Lines under `[lightning]`.
    pub lightning: String,
    /// Lines under `[tikv-importer]`.
    pub importer: String,
    /// Lines under `[tidb]`.
    pub tidb: String,
    /// Lines under `[mydumper]` (sub-tables such as `[mydumper.csv]` go in
    /// `extra`).
    pub mydumper: String,
    /// Whole further sections (`[mydumper.csv]`, `[[routes]]`,
    /// `[[mydumper.files]]`, `[conflict]`, `[post-restore]`).
    pub extra: String,
}

/// Runs an import and fails unless every table succeeded.
pub async fn import_ok(cfg: &Config) -> anyhow::Result<ImportOutcome> {
    let outcome = app::import(cfg).await?;
    if !outcome.succeeded() {
        let errors: Vec<String> = outcome
            .reports
            .iter()
            .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.name)))
            .collect();
        bail!("import failed:\n{}\n{}", errors.join("\n"), outcome.summary);
    }
    Ok(outcome)
}

/// The built `importer` binary, when it exists
/// (`$CARGO_TARGET_DIR/debug/importer`, or `target/debug/importer`).
pub fn importer_binary() -> Option<PathBuf> {
    if let Some(p) = option_env!("CARGO_BIN_EXE_importer") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug").join("importer");
    bin.exists().then_some(bin)
}
