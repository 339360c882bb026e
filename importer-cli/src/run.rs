//! What each command does: the pipeline's entry points, called by `main`
//! once the configuration is loaded and logging is set up.
//!
//! Placeholders until the pipeline, the store reader and the checkpoint
//! commands land; each returns an error so nothing pretends to work.

use importer_cli::cli::{CheckpointCommand, StoreCommand};
use importer_cli::config::Config;

/// Imports the whole data source (`importer [--config FILE] [flags]`).
pub async fn import(_cfg: Config) -> anyhow::Result<()> {
    anyhow::bail!("import is not implemented yet")
}

/// Runs the prechecks only and prints the report (`--check-only`).
pub async fn precheck(_cfg: Config) -> anyhow::Result<()> {
    anyhow::bail!("--check-only is not implemented yet")
}

/// Reads a local target store back (`importer store …`); the store is
/// `cfg.store.path`.
pub async fn store_command(_cfg: Config, _cmd: StoreCommand) -> anyhow::Result<()> {
    anyhow::bail!("`importer store` is not implemented yet")
}

/// Manages checkpoints (`importer checkpoint …`).
pub async fn checkpoint_command(_cfg: Config, _cmd: CheckpointCommand) -> anyhow::Result<()> {
    anyhow::bail!("`importer checkpoint` is not implemented yet")
}
