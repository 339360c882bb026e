//! The behaviour suite on every backend: the local backend (RocksDB engines
//! and target store), the tidb backend (MariaDB from
//! `IMPORTER_TEST_MYSQL_URL`) and the in-memory reference backend.

use integration_tests::behaviour::{LocalHarness, MemoryHarness, TidbHarness};

integration_tests::behaviour_suite!(local, LocalHarness::new());
integration_tests::behaviour_suite!(tidb, TidbHarness::new());
integration_tests::behaviour_suite!(memory, MemoryHarness::new());
