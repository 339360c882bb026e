//! The status server on a real import: `/metrics` and `/progress` scraped
//! while the `importer` binary imports a generated dump of ~20 MB into a
//! local store, checked for monotone counters and against the final
//! summary.

#![allow(clippy::unwrap_used)]

mod status_common;

use std::time::{Duration, Instant};

use serde_json::Value;
use status_common::{Importer, Scrape, get, parse_prometheus, write_dump};

/// Counters whose every labelled series must never go down.
fn counters(scrape: &Scrape) -> Vec<(String, f64)> {
    scrape
        .samples
        .iter()
        .filter(|s| scrape.types.get(&s.name).map(String::as_str) == Some("counter"))
        .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
        .collect()
}

#[test]
fn metrics_and_progress_follow_a_running_import() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let rows = write_dump(&dump, 100_000);
    let total_rows: u64 = rows.values().sum();
    let importer = Importer::start(&dump, &dir.path().join("store"), &[]);
    let addr = importer.addr;
    let mut importer = importer;
    // Clients that connect and stall (no request, half a request) must not
    // hold up the import or the other clients.
    let mut stalled: Vec<std::net::TcpStream> = (0..3)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::io::Write::write_all(&mut stalled[0], b"GET /metr").unwrap();

    let mut scrapes: Vec<Scrape> = Vec::new();
    let mut progresses: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let progress = get(addr, "/progress");
        let metrics = get(addr, "/metrics");
        let (Some(progress), Some(metrics)) = (progress, metrics) else {
            break; // the server is gone: the importer exited
        };
        assert_eq!(progress.0, 200);
        assert_eq!(progress.1, "application/json");
        assert_eq!(metrics.0, 200);
        assert!(
            metrics.1.starts_with("text/plain; version=0.0.4"),
            "{}",
            metrics.1
        );
        let p: Value = serde_json::from_str(&progress.2).unwrap();
        let state = p["state"].as_str().unwrap().to_string();
        progresses.push(p);
        scrapes.push(parse_prometheus(&metrics.2));
        if state == "succeeded" || state == "failed" || !importer.running() {
            break;
        }
        assert!(Instant::now() < deadline, "the import did not finish");
        // Often enough to catch a small import several times mid-run.
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stdout, stderr) = importer.wait();
    assert!(status.success(), "importer failed: {stdout}\n{stderr}");
    drop(stalled);

    // It was watched while it ran, part way through.
    let mid_run = progresses
        .iter()
        .filter(|p| {
            let t = &p["totals"];
            p["state"] == "running"
                && t["bytes_read"].as_u64().unwrap() > 0
                && t["bytes_read"].as_u64().unwrap() < t["bytes_total"].as_u64().unwrap()
        })
        .count();
    assert!(
        mid_run >= 2,
        "only {mid_run} samples mid-run: {progresses:#?}"
    );
    assert!(
        progresses.iter().any(|p| p["state"] == "running"
            && p["bytes_per_second"].as_f64().unwrap() > 0.0
            && p["eta_seconds"].as_f64().is_some()),
        "no throughput or ETA while running"
    );

    // Monotone: every counter series, rows and bytes in /progress.
    for pair in scrapes.windows(2) {
        let before: std::collections::HashMap<_, _> = counters(&pair[0]).into_iter().collect();
        for (series, value) in counters(&pair[1]) {
            if let Some(old) = before.get(&series) {
                assert!(value >= *old, "{series} went from {old} to {value}");
            }
        }
    }
    for pair in progresses.windows(2) {
        for key in ["bytes_read", "rows", "chunks_done"] {
            let (a, b) = (
                pair[0]["totals"][key].as_u64().unwrap(),
                pair[1]["totals"][key].as_u64().unwrap(),
            );
            assert!(b >= a, "totals.{key} went from {a} to {b}");
        }
    }

    // The final state agrees with the summary the importer printed.
    let last = progresses.last().unwrap();
    assert_eq!(last["state"], "succeeded", "{last:#}");
    assert_eq!(last["percent"].as_f64(), Some(100.0));
    assert_eq!(last["totals"]["rows"].as_u64(), Some(total_rows));
    assert_eq!(last["totals"]["tables_done"].as_u64(), Some(2));
    assert!(last["error"].is_null());
    let summary = last["summary"].as_str().unwrap();
    assert!(
        stdout.contains(summary.lines().last().unwrap()),
        "{stdout}\n{summary}"
    );
    assert!(
        summary.contains(&format!("2 tables, 0 failed, {total_rows} rows")),
        "{summary}"
    );

    let m = scrapes.last().unwrap();
    assert_eq!(
        m.value("importer_task_state", &[("state", "succeeded")]),
        Some(1.0)
    );
    for (table, count) in &rows {
        let name = format!("`st`.`{table}`");
        let l = [("table", name.as_str())];
        let n = *count as f64;
        assert_eq!(m.value("importer_rows_read_total", &l), Some(n), "{name}");
        assert_eq!(
            m.value("importer_rows_encoded_total", &l),
            Some(n),
            "{name}"
        );
        assert_eq!(
            m.value("importer_rows_written_total", &l),
            Some(n),
            "{name}"
        );
        assert_eq!(m.value("importer_row_errors_total", &l), Some(0.0));
        let source = m.value("importer_source_bytes", &l).unwrap();
        assert!(source > 0.0);
        assert_eq!(
            m.value("importer_source_bytes_processed_total", &l),
            Some(source)
        );
        assert_eq!(
            m.value("importer_chunks_done_total", &l),
            m.value("importer_chunks", &l)
        );
        let encoded = m.value("importer_encoded_bytes_total", &l).unwrap();
        assert!(encoded > 0.0);
        assert_eq!(m.value("importer_written_bytes_total", &l), Some(encoded));
        assert_eq!(
            m.value(
                "importer_table_state",
                &[("table", &name), ("state", "done")]
            ),
            Some(1.0)
        );
        assert!(
            m.value(
                "importer_table_phase_seconds_total",
                &[("table", &name), ("phase", "writing")]
            )
            .unwrap()
                > 0.0
        );
        assert!(m.value("importer_encode_seconds_total", &l).unwrap() > 0.0);
        // The per-table row count of /progress and the summary agree.
        let entry = last["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name.as_str())
            .unwrap();
        assert_eq!(entry["rows"].as_f64(), Some(n));
        assert_eq!(entry["state"], "done");
        let summary_line = summary.lines().find(|l| l.starts_with(&name)).unwrap();
        assert!(
            summary_line.split_whitespace().nth(1) == Some(count.to_string().as_str()),
            "{summary_line}"
        );
    }
    // Engines: each table here is small, so its index entries share its one
    // data engine; every engine was closed and imported.
    let opened = m
        .value("importer_engines_total", &[("state", "opened")])
        .unwrap();
    assert_eq!(opened, 2.0);
    assert_eq!(
        m.value("importer_engines_total", &[("state", "closed")]),
        Some(opened)
    );
    assert_eq!(
        m.value("importer_engines_total", &[("state", "imported")]),
        Some(opened)
    );
    // One record and one index entry per row went into the store.
    assert_eq!(
        m.value("importer_kv_pairs_ingested_total", &[]),
        Some(2.0 * total_rows as f64)
    );
    assert!(m.value("importer_sst_bytes_ingested_total", &[]).unwrap() > 0.0);
    assert_eq!(
        m.value("importer_sql_batches_total", &[("result", "sent")]),
        Some(0.0)
    );
    assert!(m.value("importer_checkpoint_saves_total", &[]).unwrap() > 0.0);
    assert_eq!(
        m.value("importer_source_read_retries_total", &[]),
        Some(0.0)
    );
    assert!(m.value("importer_memory_rss_bytes", &[]).unwrap() > 0.0);
    for (name, kind) in &m.types {
        if name.ends_with("_total") {
            assert_eq!(kind, "counter", "{name}");
        }
    }
}

#[test]
fn progress_reports_the_error_that_stopped_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    write_dump(&dump, 40_000);
    // A second row with primary key 0 at the end of t2: without a
    // conflict strategy the duplicate fails the table.
    let file = dump.join("st.t2.000000000.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("0,dup,1.00,a second row 0\n");
    std::fs::write(&file, text).unwrap();

    let mut importer = Importer::start(&dump, &dir.path().join("store"), &[]);
    let addr = importer.addr;
    let mut last = None;
    while let Some((_, _, body)) = get(addr, "/progress") {
        let p: Value = serde_json::from_str(&body).unwrap();
        let done = p["state"] == "failed" || p["state"] == "succeeded";
        last = Some(p);
        if done || !importer.running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, stdout, stderr) = importer.wait();
    assert!(!status.success(), "{stdout}\n{stderr}");
    let last = last.unwrap();
    assert_eq!(last["state"], "failed", "{last:#}");
    let error = last["error"].as_str().unwrap();
    assert!(
        error.contains("`st`.`t2`") && error.contains("duplicate"),
        "{error}"
    );
    let t2 = last["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "`st`.`t2`")
        .unwrap();
    assert_eq!(t2["state"], "failed");
    assert!(
        t2["error"].as_str().unwrap().contains("duplicate"),
        "{t2:#}"
    );
    assert!(last["summary"].as_str().unwrap().contains("1 failed"));
}
