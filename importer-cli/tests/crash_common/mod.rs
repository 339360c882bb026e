//! What the CLI tests against the binary share: a generated dump, running
//! the built `importer` binary with failpoints or a real `kill -9`, a tiny
//! deterministic random source (no extra dependency), and the test MariaDB
//! of `IMPORTER_TEST_MYSQL_URL`.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use backend_local::TargetStore;
use backend_local::store::{self, Format};
use sqlx::{MySqlPool, Row};

/// xorshift64*: reproducible from the printed seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// A seed from the clock, or `IMPORTER_CRASH_SEED` to replay a failure.
    pub fn seed() -> u64 {
        if let Ok(s) = std::env::var("IMPORTER_CRASH_SEED")
            && let Ok(n) = s.parse()
        {
            return n;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos() % (1 << 63)).unwrap_or(42))
            .unwrap_or(42)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.next() % items.len() as u64).unwrap()]
    }
}

/// The database of the generated dump (unless [`generate_db`] names one).
pub const DB: &str = "crashdb";

/// Tables of the dump with their row counts.
#[derive(Debug, Clone)]
pub struct Dump {
    pub dir: PathBuf,
    pub db: String,
    pub tables: Vec<(&'static str, u64)>,
}

impl Dump {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

fn gz(path: &Path, data: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap();
}

const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "it's",
    "comma,here",
    "quote\"d",
    "ünï",
    "✓",
    "tab\there",
];

/// Writes a dumpling-style dump of four tables into `dir`: CSV with
/// headers (split into several chunks, one table without its auto-increment
/// column), SQL INSERT files (one gzip-compressed), a table without a
/// primary key that holds exact duplicate rows, unique and secondary
/// indexes. `scale` multiplies the row counts (1 ≈ 20k rows).
pub fn generate(dir: &Path, scale: u64) -> Dump {
    generate_db(dir, scale, DB)
}

/// [`generate`] with database `db`.
pub fn generate_db(dir: &Path, scale: u64, db: &str) -> Dump {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng::new(0x5eed);
    std::fs::write(
        dir.join(format!("{db}-schema-create.sql")),
        format!("CREATE DATABASE IF NOT EXISTS `{db}`;\n"),
    )
    .unwrap();

    // users: CSV, 3 files, auto-increment PK given, unique + secondary index.
    std::fs::write(
        dir.join(format!("{db}.users-schema.sql")),
        "CREATE TABLE `users` (\n  `id` bigint NOT NULL AUTO_INCREMENT,\n  \
         `name` varchar(64) NOT NULL,\n  `email` varchar(128) DEFAULT NULL,\n  \
         `score` decimal(10,2) NOT NULL,\n  `born` date DEFAULT NULL,\n  \
         PRIMARY KEY (`id`),\n  UNIQUE KEY `uk_email` (`email`),\n  KEY `idx_name` (`name`)\n\
         ) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4;\n",
    )
    .unwrap();
    let per_file = 2500 * scale;
    let mut id = 0u64;
    for f in 0..3 {
        let mut csv = String::from("id,name,email,score,born\n");
        for _ in 0..per_file {
            id += 1;
            let w = rng.pick(WORDS);
            let email = if id.is_multiple_of(97) {
                "\\N".to_string()
            } else {
                format!("u{id}@example.com")
            };
            let name = format!("{w} {}", rng.range(0, 500));
            csv.push_str(&format!(
                "{id},\"{}\",{email},{}.{:02},{}\n",
                name.replace('"', "\"\""),
                rng.range(0, 99_999),
                rng.range(0, 99),
                if id.is_multiple_of(13) {
                    "\\N".to_string()
                } else {
                    format!(
                        "19{:02}-{:02}-{:02}",
                        rng.range(50, 99),
                        rng.range(1, 12),
                        rng.range(1, 28)
                    )
                }
            ));
        }
        std::fs::write(dir.join(format!("{db}.users.{f:09}.csv")), csv).unwrap();
    }
    let users = id;

    // events: no primary key (hidden row ids), SQL, second file gzip'd,
    // exact duplicate rows included.
    std::fs::write(
        dir.join(format!("{db}.events-schema.sql")),
        "CREATE TABLE `events` (\n  `kind` varchar(16) NOT NULL,\n  \
         `payload` varchar(255) DEFAULT NULL,\n  `amount` bigint NOT NULL,\n  \
         `at` datetime NOT NULL,\n  KEY `idx_kind` (`kind`)\n) ENGINE=InnoDB;\n",
    )
    .unwrap();
    let mut events = 0u64;
    for f in 0..2 {
        let mut sql = String::new();
        let n = 3000 * scale;
        let mut i = 0;
        while i < n {
            sql.push_str("INSERT INTO `events` VALUES\n");
            let stmt = rng.range(20, 200).min(n - i);
            for j in 0..stmt {
                let kind = *rng.pick(&["click", "view", "buy", "refund"]);
                let payload = rng.pick(WORDS).replace('\\', "\\\\").replace('\'', "''");
                let amount = if (i + j).is_multiple_of(50) {
                    7
                } else {
                    rng.range(0, 1 << 40)
                };
                let at = if (i + j).is_multiple_of(50) {
                    "2024-01-01 00:00:00".to_string()
                } else {
                    format!(
                        "2024-{:02}-{:02} {:02}:{:02}:{:02}",
                        rng.range(1, 12),
                        rng.range(1, 28),
                        rng.range(0, 23),
                        rng.range(0, 59),
                        rng.range(0, 59)
                    )
                };
                // Every 50th row is the same row: duplicates a table without
                // a key must keep.
                let (kind, payload) = if (i + j).is_multiple_of(50) {
                    ("dup", "same".to_string())
                } else {
                    (kind, payload)
                };
                sql.push_str(&format!(
                    "('{kind}','{payload}',{amount},'{at}'){}\n",
                    if j + 1 == stmt { ";" } else { "," }
                ));
            }
            i += stmt;
        }
        events += n;
        let name = dir.join(format!("{db}.events.{f:09}.sql"));
        if f == 1 {
            gz(&name.with_extension("sql.gz"), sql.as_bytes());
        } else {
            std::fs::write(name, sql).unwrap();
        }
    }

    // orders: SQL with a column list in another order, explicit PK.
    std::fs::write(
        dir.join(format!("{db}.orders-schema.sql")),
        "CREATE TABLE `orders` (\n  `order_id` bigint NOT NULL,\n  \
         `user_id` bigint NOT NULL,\n  `amount` decimal(12,2) NOT NULL,\n  \
         `note` text,\n  PRIMARY KEY (`order_id`),\n  KEY `idx_user` (`user_id`,`amount`)\n\
         ) ENGINE=InnoDB;\n",
    )
    .unwrap();
    let mut sql = String::new();
    let orders = 4000 * scale;
    let mut o = 0;
    while o < orders {
        sql.push_str("INSERT INTO `orders` (`note`,`amount`,`order_id`,`user_id`) VALUES ");
        let stmt = rng.range(10, 120).min(orders - o);
        for j in 0..stmt {
            let oid = (o + j) * 3 + 1;
            let note = if oid.is_multiple_of(11) {
                "NULL".to_string()
            } else {
                format!("'line1\\nline2 {}'", rng.pick(WORDS).replace('\'', "\\'"))
            };
            sql.push_str(&format!(
                "({note},{}.{:02},{oid},{}){}",
                rng.range(0, 9999),
                rng.range(0, 99),
                rng.range(1, users),
                if j + 1 == stmt { ";\n" } else { "," }
            ));
        }
        o += stmt;
    }
    std::fs::write(dir.join(format!("{db}.orders.000000000.sql")), sql).unwrap();

    // tags: CSV without the auto-increment column (ids come from row ids
    // on the local backend, from the server on the tidb backend).
    std::fs::write(
        dir.join(format!("{db}.tags-schema.sql")),
        "CREATE TABLE `tags` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  \
         `tag` varchar(32) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n",
    )
    .unwrap();
    let tags = 2000 * scale;
    let mut csv = String::from("tag\n");
    for t in 0..tags {
        csv.push_str(&format!("tag-{t:06}-{}\n", rng.range(0, 9)));
    }
    std::fs::write(dir.join(format!("{db}.tags.000000000.csv")), csv).unwrap();

    Dump {
        dir: dir.to_path_buf(),
        db: db.to_string(),
        tables: vec![
            ("events", events),
            ("orders", orders),
            ("tags", tags),
            ("users", users),
        ],
    }
}

/// The importer binary cargo built for this test.
pub fn importer() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_importer"))
}

/// Runs the importer with `args` (no config or log filter from the
/// environment) and returns what it printed and how it exited.
pub fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(importer())
        .args(args)
        .env_remove("IMPORTER_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Imports `url` (a directory or an object-store URL) into `<dir>/store`
/// with an empty config at warn level.
pub fn import_url(url: &str, dir: &Path) -> std::process::Output {
    let config = dir.join("config.toml");
    std::fs::write(&config, "").unwrap();
    run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "-d",
        url,
        "--store",
        dir.join("store").to_str().unwrap(),
        "-L",
        "warn",
    ])
}

/// How one run of the importer ended.
#[derive(Debug)]
pub enum RunEnd {
    /// Exit status 0.
    Success,
    /// Killed by a signal (abort from a failpoint, or our kill -9).
    Crashed(String),
    /// A non-zero exit: an error the import reported.
    Failed(ExitStatus, String),
}

/// Runs the importer with `config`, arming `failpoints` (may be empty) and
/// killing it with SIGKILL after `kill_after` if given.
pub fn run_importer(config: &Path, failpoints: &str, kill_after: Option<Duration>) -> RunEnd {
    run_importer_with(config, failpoints, kill_after, None)
}

/// [`run_importer`], also killing the process with SIGKILL as soon as
/// `kill_now` is set.
pub fn run_importer_with(
    config: &Path,
    failpoints: &str,
    kill_after: Option<Duration>,
    kill_now: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> RunEnd {
    let kill_after = match (&kill_now, kill_after) {
        (Some(_), None) => Some(Duration::from_secs(3600)),
        (_, k) => k,
    };
    let mut cmd = Command::new(importer());
    cmd.arg("--config")
        .arg(config)
        .env("IMPORTER_FAILPOINTS", failpoints)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let status = match kill_after {
        None => child.wait().unwrap(),
        Some(after) => {
            let deadline = Instant::now() + after;
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                let flagged = kill_now
                    .as_ref()
                    .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst));
                if flagged || Instant::now() >= deadline {
                    // SIGKILL: no handler, no cleanup.
                    let _ = child.kill();
                    break child.wait().unwrap();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    };
    let err = reader.join().unwrap_or_default();
    if status.success() {
        return RunEnd::Success;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return RunEnd::Crashed(format!("signal {sig}"));
        }
    }
    RunEnd::Failed(status, err)
}

/// The failpoints that apply to the tidb backend (no engines to import).
pub const TIDB_POINTS: &[&str] = &[
    "after-rows={rows}",
    "after-rows={rows}",
    "after-rows={rows}",
    "after-chunks={n}",
    "after-engine-write-before-save={n}",
    "before-checkpoint-save={n}",
    "after-checkpoint-save={n}",
    "before-post-process={n}",
    "mid-checksum={n}",
    "before-analyze={n}",
    "mid-defer-index={n}",
    "before-add-index={n}",
];

/// The failpoint specs a crash test picks from; `{rows}` is replaced by a
/// random row count up to the dump's total.
pub const LOCAL_POINTS: &[&str] = &[
    "after-rows={rows}",
    "after-rows={rows}",
    "after-rows={rows}",
    "after-chunks={n}",
    "after-engine-write-before-save={n}",
    "before-checkpoint-save={n}",
    "after-checkpoint-save={n}",
    "after-engine-close={n}",
    "before-engine-import={n}",
    "mid-import={n}",
    "after-engine-import={n}",
    "before-post-process={n}",
    "mid-checksum={n}",
    "before-analyze={n}",
];

/// A random failpoint spec from `points`.
pub fn random_failpoint(rng: &mut Rng, points: &[&str], total_rows: u64) -> String {
    let spec = rng.pick(points);
    let n = if spec.contains("checkpoint-save") || spec.contains("write-before-save") {
        rng.range(1, 60)
    } else if spec.contains("mid-import") {
        rng.range(1, 12)
    } else {
        rng.range(1, 5)
    };
    spec.replace("{rows}", &rng.range(1, total_rows).to_string())
        .replace("{n}", &n.to_string())
}

/// Whether a test that needs `IMPORTER_SOAK=1` should run long.
pub fn soak() -> bool {
    std::env::var("IMPORTER_SOAK").is_ok_and(|v| v == "1")
}

// ---- the MariaDB of `IMPORTER_TEST_MYSQL_URL` ----

/// `(host, port, user, password)` from `IMPORTER_TEST_MYSQL_URL`, or `None`
/// (loudly) outside CI.
pub fn server() -> Option<(String, u16, String, String)> {
    let Ok(url) = std::env::var("IMPORTER_TEST_MYSQL_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("IMPORTER_TEST_MYSQL_URL not set in CI (run scripts/test.sh)");
        }
        eprintln!("skipped: IMPORTER_TEST_MYSQL_URL not set (run scripts/test.sh)");
        return None;
    };
    parse_url(&url)
}

/// Splits `mysql://user:password@host:port[/…]`.
pub fn parse_url(url: &str) -> Option<(String, u16, String, String)> {
    let rest = url.strip_prefix("mysql://")?;
    let rest = rest.split('/').next()?;
    let (creds, hostport) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
    Some((
        host.to_string(),
        port.parse().ok()?,
        user.to_string(),
        password.to_string(),
    ))
}

/// Whether the server of `IMPORTER_TEST_MYSQL_SOCKET` (started by
/// `scripts/mariadb.sh`, which keeps `pid` and `err.log` beside the socket)
/// still runs, and the end of its log: a failed run then says whether the
/// server died under it.
pub fn server_report() -> String {
    let Some(dir) = std::env::var_os("IMPORTER_TEST_MYSQL_SOCKET")
        .map(PathBuf::from)
        .and_then(|sock| sock.parent().map(Path::to_path_buf))
    else {
        return "server: IMPORTER_TEST_MYSQL_SOCKET not set, no report".into();
    };
    let pid = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
    let alive = !pid.trim().is_empty() && Path::new("/proc").join(pid.trim()).exists();
    let log = std::fs::read_to_string(dir.join("err.log")).unwrap_or_default();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("Aborted connection"))
        .collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    format!(
        "server in {}: {}\n{tail}",
        dir.display(),
        if alive { "running" } else { "NOT running" }
    )
}

/// A small pool to the server (no default database).
pub async fn pool(srv: &(String, u16, String, String)) -> MySqlPool {
    let url = if srv.3.is_empty() {
        format!("mysql://{}@{}:{}", srv.2, srv.0, srv.1)
    } else {
        format!("mysql://{}:{}@{}:{}", srv.2, srv.3, srv.0, srv.1)
    };
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap()
}

/// `SHOW CREATE TABLE` without its `AUTO_INCREMENT=` (which tests check on
/// its own).
pub async fn show_create_table(pool: &MySqlPool, db: &str, table: &str) -> String {
    let create: String = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SHOW CREATE TABLE `{db}`.`{table}`"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
    .get(1);
    create
        .split(' ')
        .filter(|word| !word.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `sql` (may hold several statements); panics with it on error.
pub async fn exec(pool: &MySqlPool, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One table as the store holds it.
#[derive(Debug, PartialEq, Eq)]
pub struct TableImage {
    pub name: String,
    pub rows: u64,
    pub csv: Vec<u8>,
    pub checksum: backend_core::KvChecksum,
    pub auto_increment_base: i64,
    pub id: i64,
}

pub fn image(store_dir: &Path) -> Vec<TableImage> {
    let store = TargetStore::open(store_dir).unwrap();
    let db = store.db();
    let mut out = Vec::new();
    for t in store::list_tables(db).unwrap() {
        let mut csv = Vec::new();
        let rows = store::export_table(db, &t.db, &t.table, Format::Csv, &mut csv).unwrap();
        assert_eq!(
            rows, t.rows,
            "{}.{}: exported rows vs counted rows",
            t.db, t.table
        );
        out.push(TableImage {
            name: format!("{}.{}", t.db, t.table),
            rows,
            checksum: store::checksum_table(db, &t.db, &t.table).unwrap(),
            auto_increment_base: t.auto_increment_base,
            id: t.id,
            csv,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub fn assert_same(got: &[TableImage], want: &[TableImage], context: &str) {
    assert_eq!(
        got.iter().map(|t| &t.name).collect::<Vec<_>>(),
        want.iter().map(|t| &t.name).collect::<Vec<_>>(),
        "{context}: tables"
    );
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.rows, w.rows, "{context}: rows of {}", g.name);
        if g.csv != w.csv {
            let gl: Vec<&[u8]> = g.csv.split(|b| *b == b'\n').collect();
            let wl: Vec<&[u8]> = w.csv.split(|b| *b == b'\n').collect();
            let first = gl.iter().zip(&wl).position(|(a, b)| a != b);
            panic!(
                "{context}: rows of {} differ from a clean import (first differing line {:?}: {:?} vs {:?})",
                g.name,
                first,
                first.map(|i| String::from_utf8_lossy(gl[i])),
                first.map(|i| String::from_utf8_lossy(wl[i])),
            );
        }
        // The KV checksum covers keys, which hold the table id: a table
        // dropped and recreated (error-destroy) gets a new one.
        if g.id == w.id {
            assert_eq!(g.checksum, w.checksum, "{context}: checksum of {}", g.name);
        } else {
            assert_eq!(
                g.checksum.kvs, w.checksum.kvs,
                "{context}: pairs of {}",
                g.name
            );
            assert_eq!(
                g.checksum.bytes, w.checksum.bytes,
                "{context}: bytes of {}",
                g.name
            );
        }
        assert_eq!(
            g.auto_increment_base, w.auto_increment_base,
            "{context}: auto-increment base of {}",
            g.name
        );
    }
}
