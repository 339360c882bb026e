//! Proof on real parts that the backends honour one contract and that the
//! whole tool imports real dump files correctly.
//!
//! # Design
//!
//! - [`behaviour`]: scenarios written once as generic async functions over a
//!   [`behaviour::BackendHarness`], which hands each test a fresh backend, a
//!   table created on its target, a way to read rows back and a way to
//!   "restart the process". Harnesses exist for the local backend, the tidb
//!   backend on MariaDB and the in-memory reference backend; a third-party
//!   backend implements the trait and instantiates
//!   [`behaviour_suite!`](crate::behaviour_suite). A scenario whose
//!   capability a backend does not declare prints why it is skipped.
//! - [`server`]: the MariaDB the tests use, from `IMPORTER_TEST_MYSQL_URL`
//!   (exported by `scripts/test.sh` / `scripts/mariadb.sh`); missing under
//!   `CI` is a failure, elsewhere a loud skip. Every test works in its own
//!   database, so tests run in parallel.
//! - [`compare`]: turns table contents from both targets (the local store's
//!   CSV export, a MariaDB `SELECT`) into the same normalised rows, so the
//!   differential and real-dump tests compare content, not formatting.
//! - [`cli`]: builds CLI configs in tests and runs imports through the
//!   library entry point (`importer_cli::app::import`).
//!
//! The test files under `tests/` use these: `behaviour.rs` (the suite per
//! backend), `differential.rs` (one dump through both backends),
//! `real_dumps.rs` (mydumper, mariadb-dump, TPC-H) and `compat.rs`
//! (Lightning's integration-test behaviours on our own data).

#![deny(missing_docs)]

pub mod behaviour;
pub mod cli;
pub mod compare;
pub mod dump;
pub mod server;
pub mod tools;

/// The test data directory `integration-tests/data/<name>`.
pub fn data_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}
