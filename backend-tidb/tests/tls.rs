//! TLS against a MariaDB started by this test with a certificate signed by
//! a throw-away CA (rustls rejects a self-signed certificate that is its own
//! CA, so the test makes a CA and a server certificate).
//!
//! Follows the env-var contract: runs when `IMPORTER_TEST_MYSQL_URL` is set
//! (the harness has MariaDB installed), skips loudly otherwise.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backend_core::ErrorKind;
use backend_tidb::{TidbBackend, TidbBackendConfig, TlsMode};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certs(dir: &Path, name: &str) {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={name} test CA"))
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start_tls_server(dir: &Path) -> Server {
    let data = dir.join("data");
    run(Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
        ])
        .arg(format!("--datadir={}", data.display()))
        .stdout(Stdio::null()));
    let port = free_port();
    let child = Command::new("mariadbd")
        .args([
            "--no-defaults",
            "--user=root",
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-log-file-size=8M",
        ])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--port={port}"))
        .arg(format!("--log-error={}", dir.join("err.log").display()))
        .arg(format!("--ssl-ca={}", dir.join("a-ca.pem").display()))
        .arg(format!("--ssl-cert={}", dir.join("a-server.pem").display()))
        .arg(format!("--ssl-key={}", dir.join("a-server.key").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "MariaDB with TLS did not start: {}",
        std::fs::read_to_string(dir.join("err.log")).unwrap_or_default()
    );
}

async fn cipher(backend: &TidbBackend) -> String {
    let row: (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(backend.pool())
        .await
        .unwrap();
    row.1
}

#[tokio::test]
async fn tls_modes_against_a_ca_signed_server_certificate() {
    if std::env::var_os("IMPORTER_TEST_MYSQL_URL").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "IMPORTER_TEST_MYSQL_URL not set in CI"
        );
        eprintln!("skipped: IMPORTER_TEST_MYSQL_URL not set (run scripts/test.sh)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path(), "a");
    make_certs(dir.path(), "b");
    let server = start_tls_server(dir.path());
    let base = TidbBackendConfig {
        host: "127.0.0.1".into(),
        port: server.port,
        user: "root".into(),
        retry_backoff: Duration::from_millis(200),
        max_attempts: 5,
        task_info_schema: None,
        ..TidbBackendConfig::default()
    };

    // Verified against the right CA, host name checked (SAN IP:127.0.0.1).
    let cluster = TidbBackend::connect(TidbBackendConfig {
        tls: TlsMode::Cluster,
        ca_path: Some(dir.path().join("a-ca.pem")),
        ..base.clone()
    })
    .await
    .unwrap();
    assert!(
        !cipher(&cluster).await.is_empty(),
        "cluster mode must encrypt"
    );
    cluster.create_database("tls_db").await.unwrap();

    // The wrong CA is refused.
    let err = TidbBackend::connect(TidbBackendConfig {
        tls: TlsMode::Cluster,
        ca_path: Some(dir.path().join("b-ca.pem")),
        max_attempts: 1,
        ..base.clone()
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // skip-verify encrypts without a CA; "false" does not encrypt.
    let skip = TidbBackend::connect(TidbBackendConfig {
        tls: TlsMode::SkipVerify,
        ..base.clone()
    })
    .await
    .unwrap();
    assert!(!cipher(&skip).await.is_empty());
    let plain = TidbBackend::connect(TidbBackendConfig {
        tls: TlsMode::Disabled,
        ..base.clone()
    })
    .await
    .unwrap();
    assert!(cipher(&plain).await.is_empty());
}
