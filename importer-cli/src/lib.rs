//! The importer's library: everything the `importer` binary does, so tests
//! and other programs can drive it.

pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod failpoint;
pub mod import;
pub mod interrupt;
pub mod precheck;
pub mod source;
pub mod status;
