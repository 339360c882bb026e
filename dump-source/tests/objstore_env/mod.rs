//! The object-store servers of `scripts/objstore.sh` as tests see them:
//! each cloud's endpoint from the environment, a store to upload a dump
//! with, and the `data-source-dir` URL that reads it back. A test whose
//! server is not configured fails when `CI` is set and is skipped with a
//! message otherwise (as the MariaDB tests do).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

/// One configured server.
pub struct Server {
    /// The GCS emulator's endpoint: uploads go through its JSON API
    /// (fake-gcs-server takes no XML-API uploads, which `object_store`
    /// sends).
    gcs_endpoint: Option<String>,
    /// `s3`, `gcs` or `azure`.
    pub cloud: &'static str,
    /// Bucket or container.
    pub bucket: String,
    /// The URL parameters that reach the server (endpoint, credentials).
    pub params: String,
    /// A client for uploads.
    pub store: Arc<dyn ObjectStore>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `None` (skip, with a message) outside CI; a panic in CI.
fn missing<T>(what: &str, var: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{var} not set in CI: the {what} tests cannot run (run scripts/test.sh)");
    }
    eprintln!("skipped: {var} not set (start the servers with scripts/objstore.sh)");
    None
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The S3 server that accepts any key (moto).
pub fn s3() -> Option<Server> {
    let Some(endpoint) = var("IMPORTER_TEST_S3_ENDPOINT") else {
        return missing("S3", "IMPORTER_TEST_S3_ENDPOINT");
    };
    let bucket = var("IMPORTER_TEST_S3_BUCKET").unwrap_or_else(|| "importer-test".into());
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(&bucket)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    Some(Server {
        gcs_endpoint: None,
        cloud: "s3",
        bucket,
        params: format!(
            "endpoint={}&region=us-east-1&access-key=test&secret-access-key=test",
            enc(&endpoint)
        ),
        store: Arc::new(store),
    })
}

/// The S3 server that checks keys: `(endpoint, bucket, access key, secret
/// key)`; its bucket's root holds table `s`.`t` with rows 1, 2, 3.
pub fn s3_auth() -> Option<(String, String, String, String)> {
    let Some(endpoint) = var("IMPORTER_TEST_S3_AUTH_ENDPOINT") else {
        return missing("S3 credential", "IMPORTER_TEST_S3_AUTH_ENDPOINT");
    };
    Some((
        endpoint,
        var("IMPORTER_TEST_S3_AUTH_BUCKET").unwrap_or_else(|| "importer-auth".into()),
        var("IMPORTER_TEST_S3_AUTH_ACCESS_KEY").expect("IMPORTER_TEST_S3_AUTH_ACCESS_KEY"),
        var("IMPORTER_TEST_S3_AUTH_SECRET_KEY").expect("IMPORTER_TEST_S3_AUTH_SECRET_KEY"),
    ))
}

/// The GCS server (fake-gcs-server, no credentials).
pub fn gcs() -> Option<Server> {
    let Some(endpoint) = var("IMPORTER_TEST_GCS_ENDPOINT") else {
        return missing("GCS", "IMPORTER_TEST_GCS_ENDPOINT");
    };
    let bucket = var("IMPORTER_TEST_GCS_BUCKET").unwrap_or_else(|| "importer-test".into());
    let store = object_store::gcp::GoogleCloudStorageBuilder::new()
        .with_base_url(&endpoint)
        .with_bucket_name(&bucket)
        .with_credentials(Arc::new(object_store::StaticCredentialProvider::new(
            object_store::gcp::GcpCredential {
                bearer: String::new(),
            },
        )))
        .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
        .build()
        .unwrap();
    Some(Server {
        gcs_endpoint: Some(endpoint.clone()),
        cloud: "gcs",
        bucket,
        params: format!("endpoint={}", enc(&endpoint)),
        store: Arc::new(store),
    })
}

/// The Azure Blob server (Azurite, its development account).
pub fn azure() -> Option<Server> {
    let Some(endpoint) = var("IMPORTER_TEST_AZURE_ENDPOINT") else {
        return missing("Azure", "IMPORTER_TEST_AZURE_ENDPOINT");
    };
    let account = var("IMPORTER_TEST_AZURE_ACCOUNT").expect("IMPORTER_TEST_AZURE_ACCOUNT");
    let key = var("IMPORTER_TEST_AZURE_KEY").expect("IMPORTER_TEST_AZURE_KEY");
    let bucket = var("IMPORTER_TEST_AZURE_CONTAINER").unwrap_or_else(|| "importer-test".into());
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_endpoint(endpoint.clone())
        .with_allow_http(true)
        .with_account(&account)
        .with_access_key(&key)
        .with_container_name(&bucket)
        .build()
        .unwrap();
    Some(Server {
        gcs_endpoint: None,
        cloud: "azure",
        bucket,
        params: format!(
            "endpoint={}&account-name={}&account-key={}",
            enc(&endpoint),
            enc(&account),
            enc(&key)
        ),
        store: Arc::new(store),
    })
}

impl Server {
    /// The `data-source-dir` of `prefix` on this server.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}://{}/{prefix}?{}", self.cloud, self.bucket, self.params)
    }

    /// Uploads every file under `dir` to `prefix/<relative path>`.
    pub fn upload(&self, dir: &Path, prefix: &str) {
        let files = files_under(dir);
        let puts: Vec<(ObjectPath, Vec<u8>)> = files
            .iter()
            .map(|f| {
                let rel = f.strip_prefix(dir).unwrap().to_str().unwrap();
                (
                    ObjectPath::parse(format!("{prefix}/{rel}")).unwrap(),
                    std::fs::read(f).unwrap(),
                )
            })
            .collect();
        self.put_all(puts);
    }

    /// Writes each `(path, bytes)`, eight at a time.
    pub fn put_all(&self, puts: Vec<(ObjectPath, Vec<u8>)>) {
        if let Some(endpoint) = &self.gcs_endpoint {
            for (path, bytes) in puts {
                gcs_media_upload(endpoint, &self.bucket, path.as_ref(), &bytes);
            }
            return;
        }
        use futures::StreamExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let results: Vec<_> = futures::stream::iter(puts)
                .map(|(path, bytes)| {
                    let store = Arc::clone(&self.store);
                    async move { store.put(&path, bytes.into()).await }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            for r in results {
                r.unwrap();
            }
        });
    }

    /// Writes one object.
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        self.put_all(vec![(ObjectPath::parse(key).unwrap(), bytes)]);
    }
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A prefix no other test run uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{test}-{}-{nanos}", std::process::id())
}

/// One object uploaded through the GCS JSON API (`uploadType=media`), over
/// a plain HTTP/1.1 connection.
fn gcs_media_upload(endpoint: &str, bucket: &str, name: &str, bytes: &[u8]) {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name={} HTTP/1.1\r\n\
         Host: {host}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        enc(name),
        bytes.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(bytes).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "upload of {name}: {answer}"
    );
}
