//! Shared helpers of the MariaDB tests: the server from
//! `IMPORTER_TEST_MYSQL_URL`, a fresh database per test, table models.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::sync::Arc;

use backend_core::model::TidbTableInfo;
use backend_core::{
    Backend, ColumnPermutation, Datum, EncodingConfig, LocalWriterConfig, RowOrigin, Rows, SqlMode,
    TargetInfoGetter,
};
use backend_tidb::{TidbBackend, TidbBackendConfig, TidbEncoder};
use uuid::Uuid;

/// The server's config from `IMPORTER_TEST_MYSQL_URL`
/// (`mysql://user[:password]@host:port`), or `None` (after a loud note) when
/// it is unset outside CI. In CI a missing server fails the test.
pub fn server_config() -> Option<TidbBackendConfig> {
    let Ok(url) = std::env::var("IMPORTER_TEST_MYSQL_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("IMPORTER_TEST_MYSQL_URL not set in CI (run scripts/test.sh)");
        }
        eprintln!("skipped: IMPORTER_TEST_MYSQL_URL not set (run scripts/test.sh)");
        return None;
    };
    let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
    let rest = rest.split('/').next().unwrap();
    let (creds, hostport) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
    Some(TidbBackendConfig {
        host: host.to_string(),
        port: port.parse().unwrap(),
        user: user.to_string(),
        password: password.to_string(),
        retry_backoff: std::time::Duration::from_millis(20),
        ..TidbBackendConfig::default()
    })
}

/// Drops and recreates database `db` (and its error-record schema).
pub async fn fresh_db(backend: &TidbBackend, db: &str) {
    for name in [db.to_string(), format!("{db}_info")] {
        let sql = format!("DROP DATABASE IF EXISTS `{name}`");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(backend.pool())
            .await
            .unwrap();
    }
    backend.create_database(db).await.unwrap();
}

/// Runs a statement.
pub async fn exec(backend: &TidbBackend, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(backend.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The table model of `db`.`table` as the target reports it.
pub async fn table_info(backend: &TidbBackend, db: &str, table: &str) -> Arc<TidbTableInfo> {
    let tables = backend
        .target_info_getter()
        .fetch_remote_table_models(db)
        .await
        .unwrap();
    let core = tables.into_iter().find(|t| t.name == table).unwrap();
    Arc::new(TidbTableInfo {
        id: core.id,
        db: db.to_string(),
        name: table.to_string(),
        core,
    })
}

/// Encodes `rows` (values in table column order unless `permutation` says
/// otherwise), origins `file` at offsets 100, 200, ….
pub fn encode(
    backend: &TidbBackend,
    table: &Arc<TidbTableInfo>,
    permutation: &ColumnPermutation,
    rows: &[Vec<Datum>],
    file: &str,
) -> (Vec<String>, Rows) {
    let builder = backend.encoding_builder();
    let mut encoder = builder
        .new_encoder(&EncodingConfig {
            table: Arc::clone(table),
            sql_mode: SqlMode::default(),
            timestamp: 0,
        })
        .unwrap();
    let mut out = builder.make_empty_rows();
    let mut ck = backend_core::KvChecksum::new();
    let mut ick = backend_core::KvChecksum::new();
    let mut index = builder.make_empty_rows();
    let file: Arc<str> = file.into();
    for (i, row) in rows.iter().enumerate() {
        let origin = RowOrigin {
            file: Arc::clone(&file),
            offset: (i as u64 + 1) * 100,
        };
        let encoded = encoder
            .encode(row, i as i64 + 1, permutation, &origin)
            .unwrap();
        encoded.classify_and_append(&mut out, &mut ck, &mut index, &mut ick);
    }
    (TidbEncoder::column_names(table, permutation), out)
}

/// The identity permutation for `n` columns.
pub fn identity(n: usize) -> Vec<Option<usize>> {
    (0..n).map(Some).collect()
}

/// Writes `rows` through a fresh writer of `backend` into `table`.
pub async fn write(
    backend: &TidbBackend,
    table: &TidbTableInfo,
    columns: &[String],
    rows: Rows,
) -> backend_core::Result<()> {
    let config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: table.unique_name(),
    };
    let mut writer = backend.local_writer(&config, Uuid::nil()).await?;
    writer.append_rows(columns, rows).await?;
    assert!(writer.is_synced());
    let status = writer.close().await?;
    assert!(status.flushed());
    Ok(())
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Lower-case hex of `bytes`, as MySQL's `LOWER(HEX())` prints it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
