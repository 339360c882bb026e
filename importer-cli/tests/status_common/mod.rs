//! Shared by the status-server tests: a generated dump, the real `importer`
//! binary started with `--status-addr 127.0.0.1:0`, a minimal HTTP GET and
//! a Prometheus text parser.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Writes a dump of database `st` with tables `t1` (two CSV files) and `t2`
/// (one), `rows_per_file` rows each, about 100 bytes a row. Returns the
/// row count of each table.
pub fn write_dump(dir: &Path, rows_per_file: u64) -> BTreeMap<&'static str, u64> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("st-schema-create.sql"), "CREATE DATABASE st;\n").unwrap();
    let mut rows = BTreeMap::new();
    for (table, files) in [("t1", 2u64), ("t2", 1u64)] {
        std::fs::write(
            dir.join(format!("st.{table}-schema.sql")),
            format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64), \
                 amount DECIMAL(12,2), note TEXT, KEY idx_name (name));\n"
            ),
        )
        .unwrap();
        for file in 0..files {
            let mut text = String::from("id,name,amount,note\n");
            for i in file * rows_per_file..(file + 1) * rows_per_file {
                text.push_str(&format!(
                    "{i},name-{},{}.{:02},a note for row {i} of {table} padded to a typical width\n",
                    i % 9973,
                    i % 100_000,
                    i % 100
                ));
            }
            std::fs::write(dir.join(format!("st.{table}.{file:09}.csv")), text).unwrap();
        }
        rows.insert(table, files * rows_per_file);
    }
    rows
}

/// A running `importer` with its status server.
pub struct Importer {
    pub child: Child,
    pub addr: SocketAddr,
    /// stderr lines after the address line.
    pub log: mpsc::Receiver<String>,
}

impl Drop for Importer {
    /// A test that fails half way leaves no importer running.
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Importer {
    /// Starts `importer -d dump --store store --status-addr 127.0.0.1:0`
    /// plus `extra` arguments and waits for the server's address.
    pub fn start(dump: &Path, store: &Path, extra: &[&str]) -> Importer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_importer"))
            .arg("-d")
            .arg(dump)
            .arg("--store")
            .arg(store)
            .args(["--status-addr", "127.0.0.1:0", "-L", "info"])
            .args(extra)
            .env_remove("IMPORTER_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let marker = "status server listening on http://";
        loop {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
                let _ = child.kill();
                let status = child.wait();
                panic!("the importer printed no status server address ({status:?})");
            };
            if let Some(at) = line.find(marker) {
                let rest = &line[at + marker.len()..];
                let addr = rest.split('/').next().unwrap().parse().unwrap();
                return Importer {
                    child,
                    addr,
                    log: rx,
                };
            }
        }
    }

    /// Waits for the process; returns its exit status, stdout, and the
    /// rest of stderr.
    pub fn wait(mut self) -> (std::process::ExitStatus, String, String) {
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let status = self.child.wait().unwrap();
        let stderr: Vec<String> = self.log.try_iter().collect();
        (status, stdout, stderr.join("\n"))
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// GETs `path`; returns (status code, content type, body), or `None` when
/// the server is gone.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Some((status, content_type, body.to_string()))
}

/// One sample of a scrape: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// `# TYPE` of each family.
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// The value of `name` with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }
}

/// Parses the Prometheus text exposition format (0.0.4): `# HELP`/`# TYPE`
/// lines, then `name{label="value",...} value` samples. Panics with the
/// line on anything malformed.
pub fn parse_prometheus(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "bad TYPE line: {line}"
                    );
                    scrape.types.insert(name.to_string(), kind.to_string());
                }
                (Some("HELP"), Some(_), _) => {}
                _ => panic!("bad comment line: {line}"),
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let end;
            loop {
                // label name
                let mut key = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == '=' || c == '}' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                match chars.next() {
                    Some((i, '}')) if key.is_empty() => {
                        end = i;
                        break;
                    }
                    Some((_, '=')) => {}
                    _ => panic!("bad labels: {line}"),
                }
                assert_eq!(
                    chars.next().map(|(_, c)| c),
                    Some('"'),
                    "bad labels: {line}"
                );
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c)) => value.push(c),
                            None => panic!("bad escape: {line}"),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                        None => panic!("unterminated label value: {line}"),
                    }
                }
                labels.insert(key.trim().to_string(), value);
                match chars.next() {
                    Some((_, ',')) => {}
                    Some((i, '}')) => {
                        end = i;
                        break;
                    }
                    _ => panic!("bad labels: {line}"),
                }
            }
            rest = &inner[end + 1..];
        }
        let value_text = rest.trim().split(' ').next().unwrap();
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
        };
        scrape.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    scrape
}

#[test]
fn the_parser_reads_labels_with_escapes() {
    let s = parse_prometheus(
        "# HELP a_total help text\n# TYPE a_total counter\n\
         a_total{table=\"`d`.`t\\\"x`\",phase=\"importing index\"} 12\nb 1.5\n",
    );
    assert_eq!(s.types["a_total"], "counter");
    assert_eq!(
        s.value(
            "a_total",
            &[("table", "`d`.`t\"x`"), ("phase", "importing index")]
        ),
        Some(12.0)
    );
    assert_eq!(s.value("b", &[]), Some(1.5));
}
