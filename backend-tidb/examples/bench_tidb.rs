//! Loads the same generated table into MariaDB three ways and compares:
//! this backend with 2 and 4 connections, `myloader` with the same thread
//! counts (the rows in mydumper's SQL dump layout), and `LOAD DATA LOCAL
//! INFILE` through the `mariadb` client.
//!
//! Usage: `bench_tidb [ROWS]` with `IMPORTER_TEST_MYSQL_URL`
//! (`mysql://root@127.0.0.1:PORT`) pointing at a throw-away server.
//! Prints rows/s, MB/s (of the tab-separated data), peak RSS and ratios.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use backend_core::model::TidbTableInfo;
use backend_core::{
    Backend, Datum, Decimal, EncodingBuilder as _, EncodingConfig, KvChecksum, LocalWriterConfig,
    MysqlTime, RowOrigin, Rows, SqlMode, TargetInfoGetter,
};
use backend_tidb::{OnDuplicate, TidbBackend, TidbBackendConfig, TidbEncoder};

const DB: &str = "bench_tidb";

fn create_table_sql() -> &'static str {
    "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(120) NOT NULL, \
     pad VARCHAR(60) NOT NULL, price DECIMAL(12,2) NOT NULL, ts DATETIME NOT NULL, f DOUBLE NOT NULL, \
     KEY k_idx (k)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
}

/// Row `id` as its field texts (deterministic, sysbench-like).
fn fields(id: i64) -> [String; 7] {
    let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let c: String = (0..10)
        .map(|i| format!("{:011}-", (h >> (i * 3)) % 99_999_999_999))
        .collect();
    let c = c[..119].to_string();
    let pad = format!("{:0>59}", h % 1_000_000_007);
    [
        id.to_string(),
        ((h >> 7) % 1_000_000).to_string(),
        c,
        pad,
        format!("{}.{:02}", (h >> 11) % 1_000_000, h % 100),
        format!(
            "20{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
            h % 30,
            h % 12 + 1,
            h % 28 + 1,
            h % 24,
            h % 60,
            (h >> 3) % 60
        ),
        format!("{:?}", (h % 1_000_000) as f64 / 7.0),
    ]
}

fn datums(id: i64) -> Vec<Datum> {
    let f = fields(id);
    let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    vec![
        Datum::Int(id),
        Datum::Int(((h >> 7) % 1_000_000) as i64),
        Datum::text(f[2].clone()),
        Datum::text(f[3].clone()),
        Datum::Decimal(Decimal::parse(&f[4]).unwrap()),
        Datum::Time(MysqlTime {
            year: 2000 + (h % 30) as u16,
            month: (h % 12 + 1) as u8,
            day: (h % 28 + 1) as u8,
            hour: (h % 24) as u8,
            minute: (h % 60) as u8,
            second: ((h >> 3) % 60) as u8,
            microsecond: 0,
        }),
        Datum::Float64((h % 1_000_000) as f64 / 7.0),
    ]
}

fn peak_rss_self_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn peak_rss_children_mb() -> f64 {
    let mut usage: libc::rusage = zeroed_rusage();
    let rc = getrusage_children(&mut usage);
    if rc != 0 {
        0.0
    } else {
        usage.ru_maxrss as f64 / 1024.0
    }
}

/// Waits (up to 20 s) until the server is idle: InnoDB flushes pages and
/// purges a dropped table in the background after a run, and that work must
/// not be billed to the next method.
fn settle_server() {
    let Some(mut last) = server_cpu_secs() else {
        return;
    };
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let Some(now) = server_cpu_secs() else {
            return;
        };
        let busy = now - last;
        last = now;
        if busy < 0.03 {
            return;
        }
    }
}

/// CPU seconds (user + system) of this process, or of its waited-for
/// children.
fn cpu_secs(who: i32) -> f64 {
    let mut usage: libc::rusage = zeroed_rusage();
    if getrusage(who, &mut usage) != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU seconds the MariaDB server has used so far, from /proc (its pid file
/// sits next to the socket `scripts/mariadb.sh` exports); `None` when the
/// server is not local.
fn server_cpu_secs() -> Option<f64> {
    let socket = std::env::var("IMPORTER_TEST_MYSQL_SOCKET").ok()?;
    let pid_file = Path::new(&socket).parent()?.join("pid");
    let pid = std::fs::read_to_string(pid_file).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    // Fields after the command name (which may hold spaces): state is #3,
    // utime #14, stime #15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

#[allow(unsafe_code)]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

#[allow(unsafe_code)]
fn getrusage(who: i32, usage: &mut libc::rusage) -> i32 {
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(who, usage) }
}

#[allow(unsafe_code)]
fn getrusage_children(usage: &mut libc::rusage) -> i32 {
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage) }
}

#[allow(unsafe_code)]
fn zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

struct Target {
    host: String,
    port: u16,
}

fn mariadb(target: &Target, sql: &str) {
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-uroot", "--local-infile=1", "-h"])
        .arg(&target.host)
        .arg("-P")
        .arg(target.port.to_string())
        .arg("-e")
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariadb -e {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn reset_table(target: &Target) {
    mariadb(
        target,
        &format!(
            "DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB}; USE {DB}; {}",
            create_table_sql()
        ),
    );
}

fn drop_database(target: &Target) {
    mariadb(target, &format!("DROP DATABASE IF EXISTS {DB}"));
}

fn count(target: &Target) -> i64 {
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-uroot", "-N", "-h"])
        .arg(&target.host)
        .arg("-P")
        .arg(target.port.to_string())
        .arg("-e")
        .arg(format!("SELECT COUNT(*) FROM {DB}.t"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(-1)
}

/// Loads the rows through the backend the way the importer's chunk workers
/// do: per connection, a blocking thread generates and encodes rows into
/// `logical-import-batch-size` deliveries, a bounded channel hands them to
/// the async side, which calls `append_rows`.
async fn run_backend(config: &TidbBackendConfig, target: &Target, rows: i64, threads: u32) -> f64 {
    let backend = TidbBackend::connect(TidbBackendConfig {
        region_concurrency: threads,
        on_duplicate: OnDuplicate::Error,
        ..config.clone()
    })
    .await
    .unwrap();
    let core = backend
        .target_info_getter()
        .fetch_remote_table_models(DB)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "t")
        .unwrap();
    let table = Arc::new(TidbTableInfo {
        id: core.id,
        db: DB.into(),
        name: "t".into(),
        core,
    });
    let deliver_bytes = config.batch_size;
    let start = Instant::now();
    let per = (rows + i64::from(threads) - 1) / i64::from(threads);
    let mut tasks = Vec::new();
    for w in 0..i64::from(threads) {
        let backend = backend.clone();
        let table = Arc::clone(&table);
        tasks.push(tokio::spawn(async move {
            let builder = backend.encoding_builder();
            let perm: Vec<Option<usize>> = (0..7).map(Some).collect();
            let cols = TidbEncoder::column_names(&table, &perm);
            let wc = LocalWriterConfig {
                is_kv_sorted: false,
                table_name: table.unique_name(),
            };
            let mut writer = backend.local_writer(&wc, uuid::Uuid::nil()).await.unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Rows>(4);
            let encode = tokio::task::spawn_blocking(move || {
                let config = EncodingConfig {
                    table: Arc::clone(&table),
                    sql_mode: SqlMode::default(),
                    timestamp: 0,
                };
                let mut encoder = builder.new_encoder(&config).unwrap();
                let file: Arc<str> = "bench".into();
                let (lo, hi) = (w * per, ((w + 1) * per).min(rows));
                let mut out = builder.make_empty_rows();
                let (mut idx, mut a, mut b) = (
                    builder.make_empty_rows(),
                    KvChecksum::new(),
                    KvChecksum::new(),
                );
                for i in lo..hi {
                    let origin = RowOrigin {
                        file: Arc::clone(&file),
                        offset: i as u64,
                    };
                    let row = encoder.encode(&datums(i), i, &perm, &origin).unwrap();
                    row.classify_and_append(&mut out, &mut a, &mut idx, &mut b);
                    if out.size() >= deliver_bytes {
                        let full = std::mem::replace(&mut out, builder.make_empty_rows());
                        tx.blocking_send(full).unwrap();
                    }
                }
                if !out.is_empty() {
                    tx.blocking_send(out).unwrap();
                }
            });
            while let Some(batch) = rx.recv().await {
                writer.append_rows(&cols, batch).await.unwrap();
            }
            encode.await.unwrap();
            writer.close().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    backend.close().await;
    assert_eq!(count(target), rows, "backend run lost rows");
    secs
}

/// Generates and encodes every row on one thread without sending anything:
/// the client-side CPU cost of the backend runs (generation included).
fn run_encode_only(table: &Arc<TidbTableInfo>, rows: i64) -> f64 {
    let builder = backend_tidb::TidbEncodingBuilder::new(SqlMode::default());
    let config = EncodingConfig {
        table: Arc::clone(table),
        sql_mode: SqlMode::default(),
        timestamp: 0,
    };
    let mut encoder = builder.new_encoder(&config).unwrap();
    let perm: Vec<Option<usize>> = (0..7).map(Some).collect();
    let file: Arc<str> = "bench".into();
    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..rows {
        let origin = RowOrigin {
            file: Arc::clone(&file),
            offset: i as u64,
        };
        if let backend_core::EncodedRow::Sql(row) =
            encoder.encode(&datums(i), i, &perm, &origin).unwrap()
        {
            bytes += row.tuple.len();
        }
    }
    std::hint::black_box(bytes);
    start.elapsed().as_secs_f64()
}

fn write_inputs(dir: &Path, rows: i64, files: i64) -> u64 {
    // Tab-separated file for LOAD DATA (also the MB/s basis).
    let mut tsv = std::io::BufWriter::new(std::fs::File::create(dir.join("t.tsv")).unwrap());
    let mut bytes = 0u64;
    for id in 0..rows {
        let line = fields(id).join("\t") + "\n";
        bytes += line.len() as u64;
        tsv.write_all(line.as_bytes()).unwrap();
    }
    tsv.flush().unwrap();
    // mydumper 0.10 layout.
    let dump = dir.join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    std::fs::write(
        dump.join("metadata"),
        "Started dump at: 2024-01-01 00:00:00\nFinished dump at: 2024-01-01 00:00:01\n",
    )
    .unwrap();
    std::fs::write(
        dump.join(format!("{DB}-schema-create.sql")),
        format!("CREATE DATABASE `{DB}`;\n"),
    )
    .unwrap();
    std::fs::write(
        dump.join(format!("{DB}.t-schema.sql")),
        format!("/*!40101 SET NAMES binary*/;\n{};\n", create_table_sql()),
    )
    .unwrap();
    let per = (rows + files - 1) / files;
    for f in 0..files {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(dump.join(format!("{DB}.t.{f:05}.sql"))).unwrap(),
        );
        out.write_all(b"/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n")
            .unwrap();
        let mut stmt = String::new();
        for id in (f * per)..((f + 1) * per).min(rows) {
            if stmt.is_empty() {
                stmt.push_str("INSERT INTO `t` VALUES\n");
            } else {
                stmt.push_str(",\n");
            }
            let v = fields(id);
            let _ = write!(
                stmt,
                "({},{},\"{}\",\"{}\",{},\"{}\",{})",
                v[0], v[1], v[2], v[3], v[4], v[5], v[6]
            );
            if stmt.len() > 1_000_000 {
                stmt.push_str(";\n");
                out.write_all(stmt.as_bytes()).unwrap();
                stmt.clear();
            }
        }
        if !stmt.is_empty() {
            stmt.push_str(";\n");
            out.write_all(stmt.as_bytes()).unwrap();
        }
        out.flush().unwrap();
    }
    bytes
}

fn run_myloader(target: &Target, dir: &Path, rows: i64, threads: u32) -> f64 {
    let start = Instant::now();
    let out = Command::new("myloader")
        .arg("-d")
        .arg(dir.join("dump"))
        .arg("-t")
        .arg(threads.to_string())
        .arg("-h")
        .arg(&target.host)
        .arg("-P")
        .arg(target.port.to_string())
        .args(["-u", "root", "-B", DB, "-o"])
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "myloader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(target), rows, "myloader lost rows");
    secs
}

fn run_load_data(target: &Target, dir: &Path, rows: i64) -> f64 {
    let start = Instant::now();
    mariadb(
        target,
        &format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE {DB}.t",
            dir.join("t.tsv").display()
        ),
    );
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(count(target), rows, "LOAD DATA lost rows");
    secs
}

/// Loads the mydumper dump with the `importer` binary built next to this
/// example (tidb backend, `region-concurrency = threads`, default settings
/// otherwise: checkpoints on, post-restore row count and ANALYZE); `None`
/// when the binary is not built.
fn run_cli(target: &Target, dir: &Path, rows: i64, threads: u32) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let importer = exe.parent()?.parent()?.join("importer");
    if !importer.exists() {
        return None;
    }
    let work = dir.join(format!("cli-{threads}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("tidb-lightning.toml");
    std::fs::write(
        &config,
        format!(
            "[lightning]\nregion-concurrency = {threads}\nfile = \"{log}\"\n\
             [checkpoint]\ndriver = \"file\"\ndsn = \"{cp}\"\n\
             [tikv-importer]\nbackend = \"tidb\"\n\
             [mydumper]\ndata-source-dir = \"{dump}\"\n\
             [tidb]\nhost = \"{host}\"\nport = {port}\nuser = \"root\"\n",
            log = work.join("importer.log").display(),
            cp = work.join("checkpoint.pb").display(),
            dump = dir.join("dump").display(),
            host = target.host,
            port = target.port,
        ),
    )
    .unwrap();
    let start = Instant::now();
    let out = Command::new(&importer)
        .arg("--config")
        .arg(&config)
        .current_dir(&work)
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "importer: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(target), rows, "importer lost rows");
    Some(secs)
}

/// CPU seconds of the client (this process or its children) and of the
/// server, around one run.
struct CpuMeter {
    client: f64,
    children: f64,
    server: Option<f64>,
}

impl CpuMeter {
    fn start() -> Self {
        CpuMeter {
            client: cpu_secs(libc::RUSAGE_SELF),
            children: cpu_secs(libc::RUSAGE_CHILDREN),
            server: server_cpu_secs(),
        }
    }

    /// `(client CPU s, server CPU s)`; the client is this process when
    /// `own`, else the children run meanwhile.
    fn stop(&self, own: bool) -> (f64, Option<f64>) {
        let client = if own {
            cpu_secs(libc::RUSAGE_SELF) - self.client
        } else {
            cpu_secs(libc::RUSAGE_CHILDREN) - self.children
        };
        let server = match (self.server, server_cpu_secs()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        (client, server)
    }
}

#[tokio::main]
async fn main() {
    let rows: i64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().unwrap());
    let url = std::env::var("IMPORTER_TEST_MYSQL_URL")
        .expect("IMPORTER_TEST_MYSQL_URL=mysql://root@127.0.0.1:PORT");
    let hostport = url
        .trim_start_matches("mysql://")
        .rsplit('@')
        .next()
        .unwrap()
        .trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':').unwrap();
    let target = Target {
        host: host.into(),
        port: port.parse().unwrap(),
    };
    let mut config = TidbBackendConfig {
        host: target.host.clone(),
        port: target.port,
        ..TidbBackendConfig::default()
    };
    if let Ok(size) = std::env::var("BENCH_TIDB_BATCH_SIZE") {
        config.batch_size = size.parse().unwrap();
    }
    if std::env::var("BENCH_TIDB_NO_MARKERS").is_ok() {
        // Diagnostic only: no task-info schema means no batch markers.
        config.task_info_schema = None;
    }
    let threads_list: Vec<u32> = std::env::var("BENCH_TIDB_THREADS")
        .map(|t| t.split(',').map(|n| n.parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![2, 4]);

    let temp = tempfile::tempdir_in(std::env::var("BENCH_TIDB_TMP").unwrap_or_else(|_| ".".into()))
        .unwrap();
    let dir = temp.path();
    if std::env::var("BENCH_TIDB_KEEP").is_ok() {
        println!("inputs and importer logs kept in {}", dir.display());
    }
    let bytes = write_inputs(dir, rows, 16);
    let mb = bytes as f64 / 1e6;
    println!(
        "rows: {rows}, data: {mb:.1} MB (tab-separated), table: 7 columns, PK + 1 secondary index, \
         batch size {} bytes, markers {}",
        config.batch_size,
        if config.task_info_schema.is_some() {
            "on"
        } else {
            "off"
        }
    );
    println!(
        "{:<28} {:>8} {:>10} {:>7} {:>11} {:>10} {:>10}",
        "method", "seconds", "rows/s", "MB/s", "peak RSS MB", "client CPU", "server CPU"
    );
    let report = |name: &str, secs: f64, rss: f64, (client, server): (f64, Option<f64>)| {
        println!(
            "{name:<28} {secs:>8.2} {:>10.0} {:>7.2} {rss:>11.1} {client:>9.2}s {:>10}",
            rows as f64 / secs,
            mb / secs,
            server.map_or("-".to_string(), |s| format!("{s:.2}s"))
        );
    };

    reset_table(&target);
    let probe = TidbBackend::connect(config.clone()).await.unwrap();
    let core = probe
        .target_info_getter()
        .fetch_remote_table_models(DB)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "t")
        .unwrap();
    probe.close().await;
    let table = Arc::new(TidbTableInfo {
        id: core.id,
        db: DB.into(),
        name: "t".into(),
        core,
    });
    let meter = CpuMeter::start();
    let enc = run_encode_only(&table, rows);
    report(
        "generate+encode only x1",
        enc,
        peak_rss_self_mb(),
        meter.stop(true),
    );

    let mut results = Vec::new();
    for &threads in &threads_list {
        reset_table(&target);
        settle_server();
        let meter = CpuMeter::start();
        let secs = run_backend(&config, &target, rows, threads).await;
        report(
            &format!("backend-tidb x{threads}"),
            secs,
            peak_rss_self_mb(),
            meter.stop(true),
        );
        drop_database(&target);
        settle_server();
        let meter = CpuMeter::start();
        let my = run_myloader(&target, dir, rows, threads);
        report(
            &format!("myloader -t {threads}"),
            my,
            peak_rss_children_mb(),
            meter.stop(false),
        );
        drop_database(&target);
        settle_server();
        let meter = CpuMeter::start();
        let cli = run_cli(&target, dir, rows, threads);
        if let Some(cli) = cli {
            report(
                &format!("importer (tidb) rc={threads}"),
                cli,
                peak_rss_children_mb(),
                meter.stop(false),
            );
        }
        results.push((threads, secs, my, cli));
    }
    reset_table(&target);
    settle_server();
    let meter = CpuMeter::start();
    let ld = run_load_data(&target, dir, rows);
    report(
        "LOAD DATA LOCAL INFILE",
        ld,
        peak_rss_children_mb(),
        meter.stop(false),
    );
    for (threads, secs, my, cli) in results {
        println!(
            "x{threads}: backend-tidb is {:.2}x myloader's speed, {:.2}x LOAD DATA's speed",
            my / secs,
            ld / secs
        );
        if let Some(cli) = cli {
            println!(
                "x{threads}: importer (tidb backend, end to end) is {:.2}x myloader's speed, {:.2}x LOAD DATA's speed",
                my / cli,
                ld / cli
            );
        }
    }
    if std::env::var("BENCH_TIDB_KEEP").is_ok() {
        let _ = temp.keep();
    }
    println!(
        "peak RSS of children is the largest of any child run so far (getrusage RUSAGE_CHILDREN); \
         CPU is user+system seconds; server CPU is mariadbd's, from /proc"
    );
}
