//! The MariaDB server the tests use.
//!
//! `scripts/test.sh` starts a throw-away server (`scripts/mariadb.sh`) and
//! exports `IMPORTER_TEST_MYSQL_URL` (`mysql://user[:password]@host:port`).
//! Without it a test that needs the server fails when `CI` is set and
//! otherwise prints a loud skip note and returns. Every test works in its own
//! database ([`db_name`]), dropped and recreated at the start, so tests run
//! in parallel and a rerun starts clean.

use anyhow::{Context as _, bail};
use backend_tidb::TidbBackendConfig;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow, MySqlSslMode};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "IMPORTER_TEST_MYSQL_URL";

/// Where the test server is.
#[derive(Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password (may be empty).
    pub password: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Parses `mysql://user[:password]@host[:port][/…]`.
    pub fn parse_url(url: &str) -> anyhow::Result<Server> {
        let rest = url
            .strip_prefix("mysql://")
            .with_context(|| format!("{URL_VAR} must start with mysql://"))?;
        let rest = rest.split('/').next().unwrap_or(rest);
        let (creds, hostport) = rest.rsplit_once('@').unwrap_or(("root", rest));
        let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        let port = port
            .parse()
            .with_context(|| format!("{URL_VAR}: port `{port}` is not a number"))?;
        if host.is_empty() {
            bail!("{URL_VAR}: no host");
        }
        Ok(Server {
            host: host.to_string(),
            port,
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// The server from the environment, or `None` after a loud skip note
    /// when it is not configured outside CI.
    ///
    /// # Panics
    /// When `CI` is set and the server is not configured (a missing server
    /// is a failure in CI), or the URL is malformed.
    pub fn from_env() -> Option<Server> {
        match std::env::var(URL_VAR) {
            Ok(url) => match Server::parse_url(&url) {
                Ok(server) => Some(server),
                Err(e) => panic!("{e:#}"),
            },
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!(
                    "{URL_VAR} not set in CI: the MariaDB tests cannot run (run scripts/test.sh)"
                )
            }
            Err(_) => {
                eprintln!("skipped: {URL_VAR} not set (run scripts/test.sh)");
                None
            }
        }
    }

    /// A tidb-backend config for this server (fast retries for tests).
    pub fn tidb_config(&self) -> TidbBackendConfig {
        TidbBackendConfig {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            retry_backoff: std::time::Duration::from_millis(20),
            ..TidbBackendConfig::default()
        }
    }

    /// Runs the `mariadb` command-line client with `input` as its standard
    /// input, in database `db`, under `sql_mode` (the reference loads of the
    /// differential and real-dump tests: the server's own parser reads the
    /// dump). `LOAD DATA LOCAL` is enabled.
    pub fn mariadb_client(&self, db: &str, sql_mode: &str, input: &[u8]) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut cmd = std::process::Command::new("mariadb");
        cmd.arg("--no-defaults")
            .arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={}", self.user))
            .arg("--local-infile=1")
            .arg("--default-character-set=utf8mb4")
            .arg(format!("--init-command=SET SESSION sql_mode='{sql_mode}'"))
            .arg(db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if !self.password.is_empty() {
            cmd.env("MYSQL_PWD", &self.password);
        }
        let mut child = cmd
            .spawn()
            .context("starting the `mariadb` client (install mariadb-client)")?;
        let mut stdin = child.stdin.take().context("the client's stdin")?;
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = child
            .wait_with_output()
            .context("waiting for the `mariadb` client")?;
        feeder
            .join()
            .map_err(|_| anyhow::anyhow!("the stdin feeder panicked"))?
            .context("feeding the `mariadb` client")?;
        if !out.status.success() {
            bail!(
                "the `mariadb` client failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// A small connection pool for checks and reference loads.
    pub async fn pool(&self) -> anyhow::Result<MySqlPool> {
        let mut options = MySqlConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .charset("utf8mb4")
            .ssl_mode(MySqlSslMode::Disabled);
        if !self.password.is_empty() {
            options = options.password(&self.password);
        }
        MySqlPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}:{}", self.host, self.port))
    }
}

/// A database name for `test` that is a plain identifier (letters, digits,
/// `_`), at most 64 characters, distinct per test name.
pub fn db_name(test: &str) -> String {
    let mut name: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > 48 {
        // Keep names unique when cut: append a hash of the whole name.
        let hash = test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        name.truncate(40);
        name.push_str(&format!("_{:08x}", hash & 0xffff_ffff));
    }
    name
}

/// Runs one statement (text protocol, so any statement works).
pub async fn exec(pool: &MySqlPool, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .with_context(|| format!("running {}", abbreviate(sql)))?;
    Ok(())
}

/// Runs a query and returns its rows.
pub async fn query(pool: &MySqlPool, sql: &str) -> anyhow::Result<Vec<MySqlRow>> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .with_context(|| format!("running {}", abbreviate(sql)))
}

/// Drops and recreates `db` (and the `{db}_info` error-record schema).
pub async fn fresh_database(pool: &MySqlPool, db: &str) -> anyhow::Result<()> {
    drop_database(pool, db).await?;
    exec(pool, &format!("CREATE DATABASE `{db}`")).await
}

/// Drops `db` and `{db}_info` if they exist.
pub async fn drop_database(pool: &MySqlPool, db: &str) -> anyhow::Result<()> {
    for name in [db.to_string(), format!("{db}_info")] {
        exec(pool, &format!("DROP DATABASE IF EXISTS `{name}`")).await?;
    }
    Ok(())
}

fn abbreviate(sql: &str) -> String {
    match sql.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &sql[..at]),
        None => sql.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn urls_parse() {
        let s = Server::parse_url("mysql://root@127.0.0.1:4000").unwrap();
        assert_eq!((s.user.as_str(), s.port), ("root", 4000));
        let s = Server::parse_url("mysql://u:p@h:1/x").unwrap();
        assert_eq!((s.password.as_str(), s.host.as_str()), ("p", "h"));
        assert!(Server::parse_url("postgres://x").is_err());
    }

    #[test]
    fn db_names_are_identifiers_and_unique_when_cut() {
        let a = db_name(&format!("{}a", "x".repeat(60)));
        let b = db_name(&format!("{}b", "x".repeat(60)));
        assert!(a.len() <= 64 && a != b);
        assert_eq!(db_name("Local::Open-Write"), "local__open_write");
    }
}
