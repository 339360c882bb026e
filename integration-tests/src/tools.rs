//! External tools the real-dump tests run (`mydumper`, `sysbench`,
//! `mariadb-dump`, `tpchgen-cli`): found on `PATH`, or a failure under `CI`
//! (`scripts/setup.sh test` installs them) and a loud skip elsewhere.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// Whether `tool` is on `PATH`; prints a skip note when not.
///
/// # Panics
/// When `CI` is set and the tool is missing.
pub fn require(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("`{tool}` not found in CI (scripts/setup.sh test installs it)");
        }
        eprintln!("skipped: `{tool}` not found (run scripts/setup.sh test)");
    }
    found
}

/// Whether the large variants run (`IMPORTER_LARGE_TESTS=1`).
pub fn large() -> bool {
    std::env::var("IMPORTER_LARGE_TESTS").is_ok_and(|v| v == "1")
}

/// Runs `cmd`, failing with its output when it exits non-zero.
pub fn run(cmd: &mut Command) -> anyhow::Result<Vec<u8>> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("starting {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// The files of `dir`, sorted by name.
pub fn files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<anyhow::Result<_>>()?;
    names.sort();
    Ok(names)
}
