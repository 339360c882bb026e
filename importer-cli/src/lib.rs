//! The importer's library: everything the `importer` binary does, so tests
//! and other programs can drive it.
//!
//! `config` (the Lightning-compatible config file) depends on nothing else
//! here; the rest needs the backends and is behind the default `cli`
//! feature, so the config fuzz target builds without RocksDB. The dump
//! itself is read by the `dump-source` crate.

#[cfg(feature = "cli")]
pub mod app;
#[cfg(feature = "cli")]
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[cfg(feature = "cli")]
pub mod errors;
#[cfg(feature = "cli")]
pub mod failpoint;
#[cfg(feature = "cli")]
pub mod import;
#[cfg(feature = "cli")]
pub mod interrupt;
#[cfg(feature = "cli")]
pub mod logfile;
#[cfg(feature = "cli")]
pub mod precheck;
#[cfg(feature = "cli")]
pub mod redaction;
#[cfg(feature = "cli")]
pub mod status;
#[cfg(feature = "cli")]
pub mod terminal;
