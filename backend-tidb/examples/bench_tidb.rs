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
    Backend, Datum, Decimal, EncodingConfig, KvChecksum, LocalWriterConfig, MysqlTime, RowOrigin,
    SqlMode, TargetInfoGetter,
};
use backend_tidb::{OnDuplicate, TidbBackend, TidbBackendConfig, TidbEncoder};

const DB: &str = "bench_tidb";
const CHUNK: i64 = 10_000;

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

async fn run_backend(config: &TidbBackendConfig, target: &Target, rows: i64, threads: u32) -> f64 {
    reset_table(target);
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
    let start = Instant::now();
    let per = (rows + i64::from(threads) - 1) / i64::from(threads);
    let mut tasks = Vec::new();
    for w in 0..i64::from(threads) {
        let backend = backend.clone();
        let table = Arc::clone(&table);
        tasks.push(tokio::spawn(async move {
            let builder = backend.encoding_builder();
            let config = EncodingConfig {
                table: Arc::clone(&table),
                sql_mode: SqlMode::default(),
                timestamp: 0,
            };
            let mut encoder = builder.new_encoder(&config).unwrap();
            let perm: Vec<Option<usize>> = (0..7).map(Some).collect();
            let cols = TidbEncoder::column_names(&table, &perm);
            let wc = LocalWriterConfig {
                is_kv_sorted: false,
                table_name: table.unique_name(),
            };
            let mut writer = backend.local_writer(&wc, uuid::Uuid::nil()).await.unwrap();
            let file: Arc<str> = "bench".into();
            let (lo, hi) = (w * per, ((w + 1) * per).min(rows));
            let mut id = lo;
            while id < hi {
                let end = (id + CHUNK).min(hi);
                let mut out = builder.make_empty_rows();
                let (mut idx, mut a, mut b) = (
                    builder.make_empty_rows(),
                    KvChecksum::new(),
                    KvChecksum::new(),
                );
                for i in id..end {
                    let origin = RowOrigin {
                        file: Arc::clone(&file),
                        offset: i as u64,
                    };
                    let row = encoder.encode(&datums(i), i, &perm, &origin).unwrap();
                    row.classify_and_append(&mut out, &mut a, &mut idx, &mut b);
                }
                writer.append_rows(&cols, out).await.unwrap();
                id = end;
            }
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
    mariadb(target, &format!("DROP DATABASE IF EXISTS {DB}"));
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
    reset_table(target);
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
    let config = TidbBackendConfig {
        host: target.host.clone(),
        port: target.port,
        ..TidbBackendConfig::default()
    };

    let dir = tempfile::tempdir().unwrap();
    let bytes = write_inputs(dir.path(), rows, 16);
    let mb = bytes as f64 / 1e6;
    println!(
        "rows: {rows}, data: {mb:.1} MB (tab-separated), table: 7 columns, PK + 1 secondary index"
    );
    println!(
        "{:<28} {:>9} {:>12} {:>9} {:>14}",
        "method", "seconds", "rows/s", "MB/s", "peak RSS MB"
    );
    let report = |name: &str, secs: f64, rss: f64| {
        println!(
            "{name:<28} {secs:>9.2} {:>12.0} {:>9.2} {rss:>14.1}",
            rows as f64 / secs,
            mb / secs
        );
    };
    let mut results = Vec::new();
    for threads in [2u32, 4] {
        let secs = run_backend(&config, &target, rows, threads).await;
        report(
            &format!("backend-tidb x{threads}"),
            secs,
            peak_rss_self_mb(),
        );
        let my = run_myloader(&target, dir.path(), rows, threads);
        report(
            &format!("myloader -t {threads}"),
            my,
            peak_rss_children_mb(),
        );
        results.push((threads, secs, my));
    }
    let ld = run_load_data(&target, dir.path(), rows);
    report("LOAD DATA LOCAL INFILE", ld, peak_rss_children_mb());
    for (threads, secs, my) in results {
        println!(
            "x{threads}: backend-tidb is {:.2}x myloader's speed, {:.2}x LOAD DATA's speed",
            my / secs,
            ld / secs
        );
    }
    println!(
        "peak RSS of children is the largest of any client run so far (getrusage RUSAGE_CHILDREN)"
    );
}
