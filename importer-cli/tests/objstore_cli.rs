//! The `importer` binary reading its dump straight from object storage
//! (`scripts/objstore.sh` starts the servers): imports from S3 into the
//! local store and into MariaDB equal the same imports from disk; an import
//! aborted mid-object resumes to exact row counts; an object replaced
//! between the aborted run and the resume stops its table by name; wrong
//! keys, a missing bucket and an unsupported parameter fail with clear
//! errors; and no secret reaches stdout, stderr, the log or the checkpoint.
//! GCS and Azure import the same dump as S3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash_common;

#[path = "../../dump-source/tests/objstore_env/mod.rs"]
mod objstore_env;

#[path = "../../dump-source/tests/parquet_fixture/mod.rs"]
mod parquet_fixture;

use std::path::{Path, PathBuf};

use crash_common::{RunEnd, assert_same, generate_db, image, import_url, run_importer};
use importer_cli::checkpoint::FileCheckpointStore;
use objstore_env::{Server, unique_prefix};

/// A secret that must never be printed or stored (the open S3 server takes
/// any key).
const SECRET: &str = "SeCrEt+Key/never-print-me-0042";

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The S3 URL of `prefix` with [`SECRET`] as its secret key.
fn s3_url(server: &Server, prefix: &str) -> String {
    server.url(prefix).replace(
        "secret-access-key=test",
        &format!("secret-access-key={}", enc(SECRET)),
    )
}

/// The generated dump plus a zstd-compressed SQL file and Parquet files.
fn make_dump(dir: &Path, db: &str, parquet: bool) -> u64 {
    let dump = generate_db(dir, 1, db);
    let sql = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.ends_with(".sql") && !name.contains("-schema")
        })
        .expect("the generated dump has a plain SQL data file");
    let data = std::fs::read(&sql).unwrap();
    let mut zst = sql.clone().into_os_string();
    zst.push(".zst");
    std::fs::write(&zst, zstd::encode_all(data.as_slice(), 3).unwrap()).unwrap();
    std::fs::remove_file(&sql).unwrap();
    if parquet {
        parquet_fixture::make_dump(dir);
    }
    dump.total_rows()
}

enum Target<'a> {
    Local(&'a Path),
    Tidb(&'a (String, u16, String, String)),
}

/// A config importing `source` with small chunks and engines, a debug log
/// in `dir`, and the checkpoint kept after success.
fn write_config(dir: &Path, source: &str, target: Target<'_>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let backend = match target {
        Target::Local(store) => format!(
            "[tikv-importer]\nbackend = \"local\"\nsorted-kv-dir = \"{}\"\n\
             region-split-size = \"48KiB\"\nlocal-writer-mem-cache-size = \"32KiB\"\n\
             [store]\npath = \"{}\"\n",
            dir.join("kv").display(),
            store.display()
        ),
        Target::Tidb(srv) => format!(
            "[tikv-importer]\nbackend = \"tidb\"\nlogical-import-batch-size = \"8KiB\"\n\
             [tidb]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\npassword = \"{}\"\n",
            srv.0, srv.1, srv.2, srv.3
        ),
    };
    let text = format!(
        "[lightning]\nlevel = \"debug\"\nfile = \"{log}\"\nregion-concurrency = 4\n\
         table-concurrency = 2\n\
         [checkpoint]\ndsn = \"{cp}\"\nkeep-after-success = \"origin\"\n\
         {backend}\
         [mydumper]\ndata-source-dir = \"{source}\"\nbatch-size = \"200KiB\"\n\
         max-region-size = \"48KiB\"\nstrict-format = true\n\
         [mydumper.csv]\nterminator = \"\\n\"\n\
         [post-restore]\nchecksum = \"required\"\n",
        log = dir.join("importer.log").display(),
        cp = dir.join("checkpoint.json").display(),
    );
    let path = dir.join("importer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &Path, failpoints: &str) -> RunEnd {
    run_importer(config, failpoints, None)
}

fn assert_no_secret(what: &str, bytes: &[u8], secret: &str) {
    let text = String::from_utf8_lossy(bytes);
    for needle in [secret.to_string(), enc(secret)] {
        assert!(!text.contains(&needle), "{what} holds the secret key");
    }
}

/// Imports from S3 into the local store, aborted mid-object (after a
/// third of the rows) and resumed, equal a clean import from disk; the
/// checkpoint records the source without credentials and each object's
/// ETag; no file the runs wrote holds the secret.
#[test]
fn s3_import_aborted_mid_object_resumes_to_the_local_disk_result() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let rows = make_dump(&dump, crash_common::DB, true);
    let prefix = unique_prefix("cli-s3-resume");
    server.upload(&dump, &prefix);

    let local_dir = tmp.path().join("from-disk");
    let config = write_config(
        &local_dir,
        dump.to_str().unwrap(),
        Target::Local(&local_dir.join("store")),
    );
    assert!(matches!(run(&config, ""), RunEnd::Success));
    let want = image(&local_dir.join("store"));

    let s3_dir = tmp.path().join("from-s3");
    let config = write_config(
        &s3_dir,
        &s3_url(&server, &prefix),
        Target::Local(&s3_dir.join("store")),
    );
    let end = run(&config, &format!("after-rows={}", rows / 3));
    assert!(matches!(end, RunEnd::Crashed(_)), "{end:?}");
    let checkpoint = std::fs::read_to_string(s3_dir.join("checkpoint.json")).unwrap();
    assert!(
        checkpoint.contains(&format!("\"s3://{}/{prefix}?endpoint=", server.bucket)),
        "{checkpoint}"
    );
    assert!(checkpoint.contains("\"etag\""), "{checkpoint}");
    assert_no_secret("the checkpoint", checkpoint.as_bytes(), SECRET);

    // The resume runs with rotated credentials for the same location.
    let rotated = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&enc(SECRET), &enc(&format!("{SECRET}-rotated")));
    std::fs::write(&config, rotated).unwrap();
    let end = run(&config, "");
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    assert_same(&image(&s3_dir.join("store")), &want, "resumed from S3");

    for file in objstore_env::files_under(&s3_dir) {
        if file.ends_with("importer.toml") {
            continue;
        }
        assert_no_secret(
            &file.display().to_string(),
            &std::fs::read(&file).unwrap(),
            SECRET,
        );
    }
    let log = std::fs::read_to_string(s3_dir.join("importer.log")).unwrap();
    assert!(log.contains("configuration loaded"), "debug log expected");
}

/// An object replaced between an aborted run and its resume: the table
/// whose checkpoint read it stops, naming the object; nothing is mixed.
#[test]
fn s3_object_replaced_before_the_resume_stops_its_table() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let rows = make_dump(&dump, crash_common::DB, false);
    let prefix = unique_prefix("cli-s3-replaced");
    server.upload(&dump, &prefix);
    let dir = tmp.path().join("run");
    let config = write_config(
        &dir,
        &s3_url(&server, &prefix),
        Target::Local(&dir.join("store")),
    );
    let end = run(&config, &format!("after-rows={}", rows / 3));
    assert!(matches!(end, RunEnd::Crashed(_)), "{end:?}");
    // Every data object of a chunk the aborted run left unfinished is
    // rewritten with other bytes (a new ETag): plain files get one more
    // line, compressed ones are compressed again at another level.
    // The snapshot with its journal replayed, as a resume reads it.
    let checkpoint = FileCheckpointStore::new(dir.join("checkpoint.json"))
        .load()
        .unwrap()
        .unwrap();
    let mut unfinished: Vec<String> = checkpoint
        .tables
        .values()
        .flat_map(|t| t.engines.values())
        .flat_map(|e| &e.chunks)
        .filter(|c| c.pos < c.end_offset)
        .map(|c| c.file.display().to_string())
        .collect();
    unfinished.sort();
    unfinished.dedup();
    assert!(
        !unfinished.is_empty(),
        "the aborted run left a chunk unfinished: {checkpoint:#?}"
    );
    for name in &unfinished {
        let data = std::fs::read(dump.join(name)).unwrap();
        let data = if name.ends_with(".gz") {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(data.as_slice()),
                &mut plain,
            )
            .unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut gz, &plain).unwrap();
            gz.finish().unwrap()
        } else if name.ends_with(".zst") {
            let plain = zstd::decode_all(data.as_slice()).unwrap();
            zstd::encode_all(plain.as_slice(), 19).unwrap()
        } else {
            let mut data = data;
            data.push(b'\n');
            data
        };
        server.put(&format!("{prefix}/{name}"), data);
    }
    let replaced = unfinished;
    match run(&config, "") {
        RunEnd::Failed(_, stderr) => {
            assert!(
                stderr.contains("changed since the import listed it")
                    && replaced.iter().any(|n| stderr.contains(n.as_str())),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_no_secret("stderr", stderr.as_bytes(), SECRET);
        }
        other => panic!("the resume should fail, got {other:?}"),
    }
}

/// The tidb backend: an import from S3 into MariaDB equals the same dump
/// imported from disk (row counts and `CHECKSUM TABLE` of every table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tidb_import_equals_the_local_disk_import() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let Some(srv) = crash_common::server() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pool = crash_common::pool(&srv).await;
    let (disk_db, s3_db) = ("objstore_disk", "objstore_s3");
    for db in [disk_db, s3_db] {
        crash_common::exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    }
    let disk_dump = tmp.path().join("disk-dump");
    make_dump(&disk_dump, disk_db, false);
    let s3_dump = tmp.path().join("s3-dump");
    make_dump(&s3_dump, s3_db, false);
    let prefix = unique_prefix("cli-s3-tidb");
    let server = {
        let (dump, prefix) = (s3_dump.clone(), prefix.clone());
        tokio::task::spawn_blocking(move || {
            server.upload(&dump, &prefix);
            server
        })
        .await
        .unwrap()
    };

    let config = write_config(
        &tmp.path().join("disk"),
        disk_dump.to_str().unwrap(),
        Target::Tidb(&srv),
    );
    let end = tokio::task::spawn_blocking(move || run(&config, ""))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    let config = write_config(
        &tmp.path().join("s3"),
        &s3_url(&server, &prefix),
        Target::Tidb(&srv),
    );
    let end = tokio::task::spawn_blocking(move || run(&config, ""))
        .await
        .unwrap();
    assert!(matches!(end, RunEnd::Success), "{end:?}");

    use sqlx::Row;
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
    )
    .bind(disk_db)
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.len() >= 3, "{tables:?}");
    for table in &tables {
        let mut seen = Vec::new();
        for db in [disk_db, s3_db] {
            let count: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM `{db}`.`{table}`"
            )))
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
            let sum: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "CHECKSUM TABLE `{db}`.`{table}`"
            )))
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get(1)
            .unwrap();
            seen.push((count, sum));
        }
        assert!(seen[0].0 > 0, "{table}: no rows");
        assert_eq!(seen[0], seen[1], "{table}: disk vs S3");
    }
    for db in [disk_db, s3_db] {
        crash_common::exec(&pool, format!("DROP DATABASE IF EXISTS `{db}`")).await;
    }
}

/// Wrong keys, a missing bucket and a role to assume fail with errors that
/// say so and name the URL without its secrets; the right keys import.
#[test]
fn s3_credential_errors_are_clear_and_secret_free() {
    let Some((endpoint, bucket, key, secret)) = objstore_env::s3_auth() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = |bucket: &str, key: &str, secret: &str, extra: &str| {
        format!(
            "s3://{bucket}?endpoint={}&access-key={}&secret-access-key={}{extra}",
            enc(&endpoint),
            enc(key),
            enc(secret)
        )
    };
    let cases = [
        (url(&bucket, &key, SECRET, ""), "access denied", 1),
        (
            url("no-such-bucket-here", &key, &secret, ""),
            "no-such-bucket-here",
            1,
        ),
        (
            url(
                &bucket,
                &key,
                &secret,
                "&role-arn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx",
            ),
            "cannot assume an IAM role",
            1,
        ),
    ];
    for (i, (url, expect, code)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = import_url(url, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{url}: {stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("s3://"),
            "the error names the location: {stderr}"
        );
        for s in [SECRET, secret.as_str()] {
            assert_no_secret("stderr", &out.stderr, s);
            assert_no_secret("stdout", &out.stdout, s);
        }
    }
    let dir = tmp.path().join("good");
    std::fs::create_dir_all(&dir).unwrap();
    let out = import_url(&url(&bucket, &key, &secret, ""), &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret("stdout", &out.stdout, &secret);
    assert_no_secret("stderr", &out.stderr, &secret);
    let tables = image(&dir.join("store"));
    assert_eq!(tables.len(), 1);
    assert_eq!((tables[0].name.as_str(), tables[0].rows), ("s.t", 3));
}

/// GCS and Azure: the same dump imported into the local store equals the
/// import from disk.
fn cloud_import_equals_disk(server: &Server, test: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    make_dump(&dump, crash_common::DB, true);
    let prefix = unique_prefix(test);
    server.upload(&dump, &prefix);
    let disk = tmp.path().join("disk");
    let config = write_config(
        &disk,
        dump.to_str().unwrap(),
        Target::Local(&disk.join("store")),
    );
    assert!(matches!(run(&config, ""), RunEnd::Success));
    let cloud = tmp.path().join("cloud");
    let config = write_config(
        &cloud,
        &server.url(&prefix),
        Target::Local(&cloud.join("store")),
    );
    let end = run(&config, "");
    assert!(matches!(end, RunEnd::Success), "{end:?}");
    assert_same(
        &image(&cloud.join("store")),
        &image(&disk.join("store")),
        test,
    );
}

#[test]
fn gcs_import_equals_the_local_disk_import() {
    if let Some(server) = objstore_env::gcs() {
        cloud_import_equals_disk(&server, "cli-gcs");
    }
}

#[test]
fn azure_import_equals_the_local_disk_import() {
    if let Some(server) = objstore_env::azure() {
        cloud_import_equals_disk(&server, "cli-azure");
    }
}

/// The bundled sample from S3 equals the sample from disk.
#[test]
fn s3_sample_dump_equals_the_local_disk_import() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample");
    let prefix = unique_prefix("cli-s3-sample");
    server.upload(&sample, &prefix);
    let disk = tmp.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let out = import_url(sample.to_str().unwrap(), &disk);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cloud = tmp.path().join("cloud");
    std::fs::create_dir_all(&cloud).unwrap();
    let out = import_url(&s3_url(&server, &prefix), &cloud);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same(
        &image(&cloud.join("store")),
        &image(&disk.join("store")),
        "sample",
    );
}
