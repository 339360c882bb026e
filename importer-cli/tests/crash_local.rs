//! Crash tests of the local backend: the built `importer` is aborted by
//! failpoints at a spread of points (mid-batch, between write and
//! checkpoint save, between region ingests, during post-process) and killed
//! with a real SIGKILL at random times; reruns resume until success, and the
//! store must then equal a clean import of the same dump — every row,
//! checksums, auto-increment bases.
//!
//! Randomised: the seed is printed; `IMPORTER_CRASH_SEED=N` replays a run.
//! `IMPORTER_SOAK=1` runs many more cycles.
#![allow(clippy::unwrap_used)]

mod crash_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crash_common::{
    DB, Dump, LOCAL_POINTS, Rng, RunEnd, TableImage, assert_same, generate, image,
    random_failpoint, run_importer,
};

/// Writes a config importing `dump` into `<dir>/store`, with small chunks,
/// engines, regions and writer buffers so a small dump has many of each.
fn write_config(dir: &Path, dump: &Dump, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("importer.toml");
    let text = format!(
        r#"
[lightning]
level = "warn"
region-concurrency = 4
table-concurrency = 2

[tikv-importer]
backend = "local"
sorted-kv-dir = "{kv}"
region-split-size = "48KiB"
region-split-keys = 3000
local-writer-mem-cache-size = "32KiB"

[mydumper]
data-source-dir = "{src}"
batch-size = "200KiB"
max-region-size = "48KiB"
strict-format = true

[mydumper.csv]
terminator = "\n"

[store]
path = "{store}"

[post-restore]
checksum = "required"
{extra}
"#,
        kv = dir.join("kv").display(),
        src = dump.dir.display(),
        store = dir.join("store").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The largest id in an exported CSV's first column.
fn max_first_column(csv: &[u8]) -> i64 {
    String::from_utf8_lossy(csv)
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse::<i64>().ok())
        .max()
        .unwrap_or(0)
}

fn clean_import(root: &Path, dump: &Dump) -> (Vec<TableImage>, Duration) {
    let dir = root.join("reference");
    let config = write_config(&dir, dump, "");
    let started = Instant::now();
    match run_importer(&config, "", None) {
        RunEnd::Success => {}
        other => panic!("the clean import failed: {other:?}"),
    }
    let took = started.elapsed();
    let image = image(&dir.join("store"));
    for (table, rows) in &dump.tables {
        let t = image
            .iter()
            .find(|t| t.name == format!("{DB}.{table}"))
            .unwrap_or_else(|| panic!("{table} missing from the clean import"));
        assert_eq!(t.rows, *rows, "clean import of {table}");
    }
    for table in ["users", "tags"] {
        let t = image
            .iter()
            .find(|t| t.name == format!("{DB}.{table}"))
            .unwrap();
        assert!(
            t.auto_increment_base > max_first_column(&t.csv),
            "{table}: auto-increment base {} must exceed the largest id {}",
            t.auto_increment_base,
            max_first_column(&t.csv)
        );
    }
    assert!(
        !dir.join("store.checkpoint.json").exists(),
        "a completed import removes its checkpoint"
    );
    (image, took)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Crashes and resumes one target until it completes; returns the crashes.
fn crash_until_done(
    dir: &Path,
    dump: &Dump,
    rng: &mut Rng,
    clean_took: Duration,
    max_crashes: usize,
    log: &mut Vec<String>,
) -> usize {
    let config = write_config(dir, dump, "");
    let mut crashes = 0;
    for attempt in 0.. {
        assert!(attempt < 200, "no progress after 200 runs: {log:#?}");
        let (failpoints, kill) = if crashes >= max_crashes {
            (String::new(), None)
        } else if rng.range(0, 9) < 7 {
            (random_failpoint(rng, LOCAL_POINTS, dump.total_rows()), None)
        } else {
            let max = u64::try_from(clean_took.as_millis()).unwrap_or(1000) * 6 / 5;
            (
                String::new(),
                Some(Duration::from_millis(rng.range(1, max.max(2)))),
            )
        };
        let end = run_importer(&config, &failpoints, kill);
        log.push(format!(
            "{}: {failpoints:?} kill={kill:?} -> {end:?}",
            dir.display()
        ));
        match end {
            RunEnd::Success => break,
            RunEnd::Crashed(_) => {
                crashes += 1;
                #[cfg(unix)]
                {
                    let cp = dir.join("store.checkpoint.json");
                    if cp.exists() {
                        assert_eq!(mode(&cp), 0o600, "checkpoint file mode");
                    }
                    if dir.join("kv").exists() {
                        assert_eq!(mode(&dir.join("kv")), 0o700, "sorted-kv-dir mode");
                    }
                }
            }
            // Killed after the import completed and removed its checkpoint
            // (keep-after-success = "remove") but before the process exited:
            // the rerun is a new import into full tables and says so. The
            // caller compares the store with the clean import.
            RunEnd::Failed(_, stderr)
                if stderr.contains("already holds rows")
                    && log.len() >= 2
                    && log[log.len() - 2].contains("signal 9") =>
            {
                log.push("killed after completion".into());
                break;
            }
            RunEnd::Failed(status, stderr) => {
                panic!("a resumed run failed ({status}):\n{stderr}\nhistory:\n{log:#?}")
            }
        }
    }
    crashes
}

fn crash_cycles(min_crashes: usize) {
    let seed = Rng::seed();
    eprintln!("crash_local seed {seed} (IMPORTER_CRASH_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);
    let root = tempfile::tempdir().unwrap();
    let dump = generate(&root.path().join("dump"), 1);
    let (want, clean_took) = clean_import(root.path(), &dump);
    eprintln!(
        "clean import of {} rows took {clean_took:?}",
        dump.total_rows()
    );
    let mut crashes = 0;
    let mut log = Vec::new();
    let mut round = 0;
    while crashes < min_crashes {
        let dir = root.path().join(format!("run{round}"));
        let per_target = usize::try_from(rng.range(3, 8)).unwrap();
        crashes += crash_until_done(&dir, &dump, &mut rng, clean_took, per_target, &mut log);
        let got = image(&dir.join("store"));
        assert_same(&got, &want, &format!("seed {seed}, target {round}"));
        assert!(
            !dir.join("store.checkpoint.json").exists(),
            "the checkpoint is removed after success"
        );
        // The engines are gone too.
        let leftover: Vec<_> = std::fs::read_dir(dir.join("kv"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(leftover.is_empty(), "engines left behind: {leftover:?}");
        std::fs::remove_dir_all(&dir).unwrap();
        round += 1;
    }
    eprintln!("{crashes} crash/resume cycles over {round} targets, all equal to the clean import");
}

#[test]
fn crash_local_randomized_kill_and_resume_equals_clean_import() {
    crash_cycles(if crash_common::soak() { 400 } else { 24 });
}

/// Each named point at least once, deterministically.
#[test]
fn crash_local_every_named_point_resumes() {
    let root = tempfile::tempdir().unwrap();
    let dump = generate(&root.path().join("dump"), 1);
    let (want, _) = clean_import(root.path(), &dump);
    let points = [
        "after-rows=1",
        "after-rows=9000",
        // The first batch written after the resume: how many batches remain
        // after the crashes before depends on what was durable, so a later
        // batch number (it was 5, after `after-chunks`) is not always reached.
        "after-engine-write-before-save=1",
        "after-chunks=3",
        "before-checkpoint-save=2",
        "after-checkpoint-save=3",
        "after-engine-close=1",
        "before-engine-import=2",
        "mid-import=3",
        "after-engine-import=1",
        "before-post-process=1",
        "mid-checksum=1",
        "before-analyze=1",
    ];
    let dir = root.path().join("named");
    let config = write_config(&dir, &dump, "");
    for point in points {
        match run_importer(&config, point, None) {
            RunEnd::Crashed(_) => {}
            other => panic!("{point}: expected a crash, got {other:?}"),
        }
    }
    match run_importer(&config, "", None) {
        RunEnd::Success => {}
        other => panic!("final run: {other:?}"),
    }
    assert_same(&image(&dir.join("store")), &want, "named points");
}

/// A resume with a changed task is refused with a diff; the checkpoint
/// commands work from the binary on the interrupted import.
#[test]
fn crash_local_changed_config_refused_and_checkpoint_commands() {
    let root = tempfile::tempdir().unwrap();
    let dump = generate(&root.path().join("dump"), 1);
    let dir = root.path().join("t");
    let config = write_config(&dir, &dump, "");
    assert!(matches!(
        run_importer(&config, "after-rows=12000", None),
        RunEnd::Crashed(_)
    ));

    let out = std::process::Command::new(crash_common::importer())
        .args(["checkpoint", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        listing.contains("task: source") && listing.contains("`crashdb`."),
        "{listing}"
    );

    let dump_dir = dir.join("cpdump");
    let out = std::process::Command::new(crash_common::importer())
        .args(["checkpoint", "dump"])
        .arg(&dump_dir)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let chunks = std::fs::read_to_string(dump_dir.join("chunks.csv")).unwrap();
    assert!(chunks.contains("crashdb."), "{chunks}");

    // Same source and store, another sorted-kv-dir: refused, naming it.
    let moved = std::fs::read_to_string(&config).unwrap().replace(
        &dir.join("kv").display().to_string(),
        &dir.join("kv2").display().to_string(),
    );
    let moved_config = dir.join("moved.toml");
    std::fs::write(&moved_config, moved).unwrap();
    match run_importer(&moved_config, "", None) {
        RunEnd::Failed(_, stderr) => assert!(
            stderr.contains("sorted-kv-dir") && stderr.contains("different task"),
            "{stderr}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The original config resumes and completes.
    assert!(matches!(run_importer(&config, "", None), RunEnd::Success));
    assert_eq!(
        image(&dir.join("store"))
            .iter()
            .map(|t| t.rows)
            .sum::<u64>(),
        dump.total_rows()
    );
}

fn ctl(config: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(crash_common::importer())
        .arg("checkpoint")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "checkpoint {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Breaks (or restores) one `users` row: its last separator becomes `;`
/// (same length, so chunk offsets stay valid), leaving it a column short.
fn spoil_users(dump: &Dump, spoil: bool) {
    let path = dump.dir.join("crashdb.users.000000002.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = &mut lines[100];
    let at = if spoil {
        line.rfind(',')
    } else {
        line.rfind(';')
    }
    .unwrap();
    line.replace_range(at..=at, if spoil { ";" } else { "," });
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// A failed table blocks reruns until `checkpoint error-ignore` (after the
/// cause is fixed, the rerun resumes it) or `checkpoint error-destroy`
/// (its data is dropped and it starts over); both end equal to a clean
/// import.
#[test]
fn crash_local_failed_table_blocks_until_error_ignore_or_destroy() {
    let root = tempfile::tempdir().unwrap();
    let dump = generate(&root.path().join("dump"), 1);
    let (want, _) = clean_import(root.path(), &dump);
    for fix in ["error-ignore", "error-destroy"] {
        let dir = root.path().join(fix);
        let config = write_config(&dir, &dump, "");
        assert!(matches!(
            run_importer(&config, "after-rows=3000", None),
            RunEnd::Crashed(_)
        ));
        spoil_users(&dump, true);
        match run_importer(&config, "", None) {
            RunEnd::Failed(_, stderr) => assert!(stderr.contains("users"), "{stderr}"),
            other => panic!("{fix}: a bad row must fail the table: {other:?}"),
        }
        let listing = ctl(&config, &["list"]);
        assert!(listing.contains("FAILED"), "{listing}");
        spoil_users(&dump, false);
        match run_importer(&config, "", None) {
            RunEnd::Failed(_, stderr) => assert!(
                stderr.contains("failed in an earlier run") && stderr.contains("error-ignore"),
                "{stderr}"
            ),
            other => panic!("{fix}: a recorded failure must block the rerun: {other:?}"),
        }
        let out = ctl(&config, &[fix, "all"]);
        assert!(out.contains('1'), "{fix}: {out}");
        match run_importer(&config, "", None) {
            RunEnd::Success => {}
            other => panic!("{fix}: rerun after the fix: {other:?}"),
        }
        assert_same(&image(&dir.join("store")), &want, fix);
    }
}
