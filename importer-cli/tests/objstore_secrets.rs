//! Object-store credentials stay out of every output, and wrong ones fail
//! clearly. For S3 (a secret key), Azure (an account key) and GCS (a
//! service-account file), an import at debug level with its status server
//! scraped while it runs: stdout, stderr, every `/`, `/progress` and
//! `/metrics` answer and every file the run wrote (log, checkpoint, store,
//! sort directory) are searched for the secret. Azurite refuses a wrong
//! account key and a wrong SAS token; fake-gcs-server accepts any
//! credential, so for GCS a missing and an unusable credentials file are
//! what fail. Every error names the URL without its secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash_common;
mod status_common;

#[path = "../../dump-source/tests/objstore_env/mod.rs"]
mod objstore_env;

use std::path::{Path, PathBuf};

use std::process::{Command, Stdio};

use objstore_env::{Server, files_under, unique_prefix};
use status_common::get;

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Everything one run printed, served and wrote.
struct Outputs {
    success: bool,
    stderr: String,
    /// stdout, the status answers and the files, each with its name.
    texts: Vec<(String, Vec<u8>)>,
}

/// Imports `url` into `<dir>/store` at debug level with a status server,
/// scraping it until the process ends; the checkpoint is kept. A run that
/// succeeds must have answered `/progress` at least once.
fn import_scraped(url: &str, dir: &Path) -> Outputs {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[checkpoint]\nkeep-after-success = \"origin\"\n[mydumper]\nmax-region-size = \"48KiB\"\n",
    )
    .unwrap();
    let log = dir.join("importer.log");
    // A port chosen here: the log file, not stderr, gets the line that
    // names the one the server picks.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(crash_common::importer())
        .args(["--config", config.to_str().unwrap(), "-d", url])
        .args(["--store", dir.join("store").to_str().unwrap()])
        .args(["--log-file", log.to_str().unwrap(), "-L", "debug"])
        .args(["--status-addr", &addr.to_string()])
        .env_remove("IMPORTER_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut texts = Vec::new();
    while child.try_wait().unwrap().is_none() {
        for path in ["/", "/progress", "/metrics"] {
            if let Some((_, _, body)) = get(addr, path) {
                texts.push((format!("status {path}"), body.into_bytes()));
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    // A run that fails while reading its options ends before the server
    // starts.
    assert!(
        !out.status.success() || texts.iter().any(|(what, _)| what == "status /progress"),
        "the status server answered while the import ran"
    );
    texts.push(("stdout".into(), stdout.into_bytes()));
    for file in files_under(dir) {
        texts.push((file.display().to_string(), std::fs::read(&file).unwrap()));
    }
    Outputs {
        success: out.status.success(),
        stderr,
        texts,
    }
}

/// No output holds `secret` (plain or percent-encoded).
fn assert_clean(outputs: &Outputs, secret: &str) {
    let mut all = outputs.texts.clone();
    all.push(("stderr".into(), outputs.stderr.clone().into_bytes()));
    for (what, bytes) in &all {
        let text = String::from_utf8_lossy(bytes);
        for needle in [secret.to_string(), enc(secret)] {
            assert!(!text.contains(&needle), "{what} holds a secret");
        }
    }
}

/// A dump uploaded to `server` under a new prefix.
fn uploaded(server: &Server, test: &str, tmp: &Path) -> String {
    let dump = tmp.join("dump");
    crash_common::generate_db(&dump, 1, crash_common::DB);
    let prefix = unique_prefix(test);
    server.upload(&dump, &prefix);
    prefix
}

#[test]
fn s3_secret_key_reaches_no_output() {
    let Some(server) = objstore_env::s3() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = uploaded(&server, "secrets-s3", tmp.path());
    let secret = "S3-SeCrEt+Key/never-print-0042";
    let url = server.url(&prefix).replace(
        "secret-access-key=test",
        &format!("secret-access-key={}", enc(secret)),
    );
    let out = import_scraped(&url, &tmp.path().join("run"));
    assert!(out.success, "{}", out.stderr);
    assert_clean(&out, secret);
}

#[test]
fn azure_account_key_reaches_no_output() {
    let Some(server) = objstore_env::azure() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = uploaded(&server, "secrets-azure", tmp.path());
    let key = std::env::var("IMPORTER_TEST_AZURE_KEY").unwrap();
    let out = import_scraped(&server.url(&prefix), &tmp.path().join("run"));
    assert!(out.success, "{}", out.stderr);
    assert_clean(&out, &key);
}

/// A service-account file whose key material is `secret`.
fn service_account(dir: &Path, secret: &str) -> PathBuf {
    let path = dir.join("service-account.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"service_account","project_id":"p","private_key_id":"{secret}-id",
"private_key":"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n",
"client_email":"loader@p.iam.gserviceaccount.com","token_uri":"http://127.0.0.1:9/token"}}"#
        ),
    )
    .unwrap();
    path
}

/// The GCS URL of `prefix` with `credentials-file`.
fn gcs_url(server: &Server, prefix: &str, file: &Path) -> String {
    format!(
        "{}&credentials-file={}",
        server.url(prefix),
        enc(file.to_str().unwrap())
    )
}

#[test]
fn gcs_service_account_key_reaches_no_output() {
    let Some(server) = objstore_env::gcs() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = uploaded(&server, "secrets-gcs", tmp.path());
    // Anonymous: fake-gcs-server needs no credential.
    let out = import_scraped(&server.url(&prefix), &tmp.path().join("anonymous"));
    assert!(out.success, "{}", out.stderr);
    // With a key the emulator cannot check, the run fails; its outputs
    // still hold no key material.
    let secret = "GCS0SeCrEtPrivateKeyMaterial0never0print";
    let file = service_account(tmp.path(), secret);
    let out = import_scraped(
        &gcs_url(&server, &prefix, &file),
        &tmp.path().join("with-key"),
    );
    assert!(!out.success);
    assert_clean(&out, secret);
}

/// Imports `url` in a fresh directory; returns (exit code, stdout,
/// stderr).
fn import_sample(url: &str, dir: &Path) -> (Option<i32>, String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let out = crash_common::import_url(url, dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fails with exit code 1, an error that contains `expect` and the URL's
/// scheme, no panic and no `secrets`.
fn assert_clear_failure(url: &str, dir: &Path, expect: &[&str], secrets: &[&str]) {
    let (code, stdout, stderr) = import_sample(url, dir);
    assert_eq!(code, Some(1), "{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    for s in secrets {
        for needle in [s.to_string(), enc(s)] {
            assert!(!stderr.contains(&needle), "stderr holds a secret: {stderr}");
            assert!(!stdout.contains(&needle), "stdout holds a secret: {stdout}");
        }
    }
}

#[test]
fn azure_credential_errors_are_clear_and_secret_free() {
    let Some(server) = objstore_env::azure() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample");
    let prefix = unique_prefix("azure-creds");
    server.upload(&sample, &prefix);
    let key = std::env::var("IMPORTER_TEST_AZURE_KEY").unwrap();
    let wrong_key = "V3JvbmdBY2NvdW50S2V5U2VDckV0";
    let url = server.url(&prefix);
    let location = format!("azure://{}/{prefix}", server.bucket);
    let with_wrong_key = url.replace(&enc(&key), &enc(wrong_key));
    assert_ne!(with_wrong_key, url);
    assert_clear_failure(
        &with_wrong_key,
        &tmp.path().join("key"),
        &["access denied", &location],
        &[wrong_key, &key],
    );
    let sas = "sv=2021-08-06&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=WrOnGsAsSiG%3D";
    let sig = "WrOnGsAsSiG";
    let with_sas = format!(
        "{}&sas-token={}",
        url.split("&account-key=").next().unwrap(),
        enc(sas)
    );
    assert_clear_failure(
        &with_sas,
        &tmp.path().join("sas"),
        &["access denied", &location],
        &[sig, &key],
    );
    // The right key imports.
    let (code, _, stderr) = import_sample(&url, &tmp.path().join("good"));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn gcs_credential_file_errors_are_clear_and_secret_free() {
    let Some(server) = objstore_env::gcs() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("gcs-creds");
    let location = format!("gcs://{}/{prefix}", server.bucket);
    let missing = tmp.path().join("no-such-key.json");
    assert_clear_failure(
        &gcs_url(&server, &prefix, &missing),
        &tmp.path().join("missing"),
        &[&location, "no-such-key.json", "service account file"],
        &[],
    );
    let secret = "GCS0SeCrEtUnusableKey0never0print";
    let file = service_account(tmp.path(), secret);
    assert_clear_failure(
        &gcs_url(&server, &prefix, &file),
        &tmp.path().join("unusable"),
        &[&location, "pem"],
        &[secret],
    );
}
