//! Any text as `tidb-lightning.toml`: loading returns a config or an error
//! (never panics); a loaded config never shows `tidb.password` in its
//! `Debug` or `Display` forms, and is a fixed point: written back as TOML
//! and loaded again it is the same config (secrets aside, which the
//! written form redacts).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use importer_cli::config::{Config, LoadOptions, load, redact_dsn};
use libfuzzer_sys::fuzz_target;

/// One file per fuzzing process, rewritten for each input: `load` reads a
/// path, as the binary does.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("importer-fuzz-config-{}.toml", std::process::id()))
    })
}

fn load_text(text: &[u8]) -> Option<Config> {
    std::fs::write(path(), text).ok()?;
    let opts = LoadOptions {
        file: Some(path().clone()),
        ..LoadOptions::default()
    };
    load(&opts).ok().map(|l| l.config)
}

/// The config with its secrets blanked, for comparisons. The DSN keeps
/// its non-secret parts (user, address), where the password's text may
/// occur by chance without being the password.
fn without_secrets(c: &Config) -> Config {
    let mut c = c.clone();
    c.tidb.password.clear();
    c.checkpoint.dsn = redact_dsn(&c.checkpoint.dsn);
    c
}

fuzz_target!(|data: &[u8]| {
    let Some(config) = load_text(data) else {
        return;
    };
    let pw = &config.tidb.password;
    if pw.len() >= 4 {
        // Only meaningful when the password does not occur elsewhere anyway.
        let plain = without_secrets(&config);
        if !format!("{plain:?}").contains(pw.as_str()) && !plain.to_string().contains(pw.as_str()) {
            assert!(
                !format!("{config:?}").contains(pw.as_str()),
                "Debug shows the password"
            );
            assert!(
                !config.to_string().contains(pw.as_str()),
                "Display shows the password"
            );
        }
    }
    let Ok(written) = toml::to_string(&config) else {
        return;
    };
    let again = load_text(written.as_bytes())
        .unwrap_or_else(|| panic!("a loaded config written back does not load:\n{written}"));
    assert_eq!(
        without_secrets(&again),
        without_secrets(&config),
        "not a fixed point; written:\n{written}"
    );
});
