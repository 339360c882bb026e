//! Building an [`ObjectStore`] from a parsed URL and the environment.
//!
//! Credentials: URL parameters first, then each cloud's usual environment
//! (`AWS_*`, `GOOGLE_APPLICATION_CREDENTIALS` / `GOOGLE_*`,
//! `AZURE_STORAGE_*`), then the cloud's default chain as `object_store`
//! implements it (web identity, instance metadata, …). Parameters that
//! cannot be honoured are refused or produce a warning saying why; none is
//! dropped silently.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::gcp::{GcpCredential, GoogleCloudStorageBuilder};
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, RetryConfig, StaticCredentialProvider,
};

use super::url::{Cloud, ObjectUrl};
use crate::SourceError;

/// A store ready to use, what the user should hear about the parameters,
/// and every secret value error text must be scrubbed of.
pub(crate) struct Built {
    pub store: Arc<dyn ObjectStore>,
    pub warnings: Vec<String>,
    pub secrets: Vec<String>,
}

/// Environment variables whose values are secrets.
const SECRET_ENV: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_CLIENT_SECRET",
];

/// Retries of one request: transient errors (connection refused or reset,
/// 5xx, throttling) back off from 100 ms up to 5 s (randomised, each wait
/// between 100 ms and twice the last), for at most 8 retries or two
/// minutes, so a wrong endpoint fails in seconds rather than minutes. Reads
/// add their own retries on top (see [`super::reader`]).
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 8,
        retry_timeout: Duration::from_secs(120),
    }
}

/// The HTTP client of every store: `object_store`'s own, with each request
/// that fails in a way `object_store` retries (no connection, a broken
/// request, a timeout, a 5xx, 408 or 429 answer) counted in
/// [`super::read_retries`] and logged without its URL (which may carry a
/// SAS token).
#[derive(Debug, Default)]
struct CountingConnector(ReqwestConnector);

impl HttpConnector for CountingConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(CountingService(self.0.connect(options)?)))
    }
}

#[derive(Debug)]
struct CountingService(HttpClient);

#[async_trait::async_trait]
impl HttpService for CountingService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method = req.method().clone();
        let result = self.0.execute(req).await;
        let failure = match &result {
            Ok(r) => {
                let status = r.status();
                (status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429)
                    .then(|| format!("answer {status}"))
            }
            Err(e) => matches!(
                e.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            )
            .then(|| format!("{:?} error", e.kind())),
        };
        if let Some(failure) = failure {
            super::READ_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(%method, %failure, "object-store request failed; retrying with backoff");
        }
        result
    }
}

fn client_options(url: &ObjectUrl) -> ClientOptions {
    let http = url
        .param("endpoint")
        .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
    ClientOptions::new()
        .with_allow_http(http)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(300))
}

fn config_err(url: &ObjectUrl, e: impl std::fmt::Display) -> SourceError {
    SourceError::Config(format!("data-source-dir {}: {e}", url.location()))
}

/// Builds the store `url` names.
pub(crate) fn build(url: &ObjectUrl) -> Result<Built, SourceError> {
    let mut warnings = Vec::new();
    let mut secrets = url.secrets();
    secrets.extend(
        SECRET_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .filter(|v| !v.is_empty()),
    );
    let store: Arc<dyn ObjectStore> = match url.cloud {
        Cloud::S3 => Arc::new(
            s3(url, &mut warnings)?
                .build()
                .map_err(|e| config_err(url, e))?,
        ),
        Cloud::Gcs => Arc::new(
            gcs(url, &mut warnings)
                .build()
                .map_err(|e| config_err(url, e))?,
        ),
        Cloud::Azure => Arc::new(
            azure(url, &mut warnings)?
                .build()
                .map_err(|e| config_err(url, e))?,
        ),
    };
    Ok(Built {
        store,
        warnings,
        secrets,
    })
}

fn s3(url: &ObjectUrl, warnings: &mut Vec<String>) -> Result<AmazonS3Builder, SourceError> {
    for key in ["role-arn", "external-id"] {
        if url.param(key).is_some() {
            return Err(config_err(
                url,
                format!(
                    "parameter {key:?} is not supported: the importer cannot assume an IAM role \
                     from a URL parameter; pass the role's temporary credentials (access-key, \
                     secret-access-key, session-token, or AWS_ACCESS_KEY_ID, \
                     AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), or use a web identity \
                     (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE)"
                ),
            ));
        }
    }
    for key in ["sse", "sse-kms-key-id", "acl", "storage-class"] {
        if url.param(key).is_some() {
            warnings.push(format!(
                "data-source-dir: parameter {key:?} has no effect: it applies to writing \
                 objects, and the importer only reads (S3 decrypts SSE-S3 and SSE-KMS \
                 objects on read for a caller allowed to use the key)"
            ));
        }
    }
    if let Some(provider) = url.param("provider")
        && !provider.eq_ignore_ascii_case("aws")
    {
        warnings.push(format!(
            "data-source-dir: provider {provider:?} has no effect: requests are plain S3 \
             (set endpoint and force-path-style for S3-compatible stores)"
        ));
    }
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&url.bucket)
        .with_retry(retry_config())
        .with_http_connector(CountingConnector::default())
        .with_client_options(client_options(url));
    match (url.param("access-key"), url.param("secret-access-key")) {
        (Some(id), Some(secret)) => {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
            if let Some(token) = url.param("session-token") {
                b = b.with_token(token);
            }
        }
        (None, None) => {
            if url.param("session-token").is_some() {
                return Err(config_err(
                    url,
                    "session-token needs access-key and secret-access-key",
                ));
            }
        }
        _ => {
            return Err(config_err(
                url,
                "give both access-key and secret-access-key, or neither",
            ));
        }
    }
    if let Some(region) = url.param("region") {
        b = b.with_region(region);
    }
    if let Some(endpoint) = url.param("endpoint") {
        b = b.with_endpoint(endpoint).with_allow_http(true);
    }
    // Lightning's default is path-style requests (which S3-compatible
    // stores need); `force-path-style=false` asks for virtual hosts.
    let path_style = match url.param("force-path-style") {
        None => true,
        Some(v) => parse_bool(v).ok_or_else(|| {
            config_err(url, format!("force-path-style={v:?} is not true or false"))
        })?,
    };
    Ok(b.with_virtual_hosted_style_request(!path_style))
}

fn gcs(url: &ObjectUrl, warnings: &mut Vec<String>) -> GoogleCloudStorageBuilder {
    for key in ["storage-class", "predefined-acl"] {
        if url.param(key).is_some() {
            warnings.push(format!(
                "data-source-dir: parameter {key:?} has no effect: it applies to writing \
                 objects, and the importer only reads"
            ));
        }
    }
    let mut b = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&url.bucket)
        .with_retry(retry_config())
        .with_http_connector(CountingConnector::default())
        .with_client_options(client_options(url));
    if let Some(file) = url.param("credentials-file") {
        b = b.with_service_account_path(file);
    }
    if let Some(endpoint) = url.param("endpoint") {
        b = b.with_base_url(endpoint.trim_end_matches('/'));
        // A custom endpoint without credentials is an emulator or a
        // public bucket: anonymous requests, instead of asking Google's
        // metadata server for a token.
        let has_credentials = url.param("credentials-file").is_some()
            || [
                "GOOGLE_APPLICATION_CREDENTIALS",
                "GOOGLE_SERVICE_ACCOUNT",
                "GOOGLE_SERVICE_ACCOUNT_PATH",
                "GOOGLE_SERVICE_ACCOUNT_KEY",
            ]
            .iter()
            .any(|k| std::env::var_os(k).is_some());
        if !has_credentials {
            b = b.with_credentials(Arc::new(StaticCredentialProvider::new(GcpCredential {
                bearer: String::new(),
            })));
        }
    }
    b
}

fn azure(
    url: &ObjectUrl,
    warnings: &mut Vec<String>,
) -> Result<MicrosoftAzureBuilder, SourceError> {
    if url.param("access-tier").is_some() {
        warnings.push(
            "data-source-dir: parameter \"access-tier\" has no effect: it applies to writing \
             blobs, and the importer only reads"
                .into(),
        );
    }
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_container_name(&url.bucket)
        .with_retry(retry_config())
        .with_http_connector(CountingConnector::default())
        .with_client_options(client_options(url));
    if let Some(account) = url.param("account-name") {
        b = b.with_account(account);
    }
    if let Some(key) = url.param("account-key") {
        b = b.with_access_key(key);
    }
    if let Some(sas) = url.param("sas-token") {
        let pairs = sas
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let dec = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                (dec(k), dec(v))
            })
            .collect::<Vec<_>>();
        b = b.with_sas_authorization(pairs);
    }
    if let Some(endpoint) = url.param("endpoint") {
        b = b
            .with_endpoint(endpoint.trim_end_matches('/').to_string())
            .with_allow_http(true);
    }
    Ok(b)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_roles_and_half_credentials() {
        let built = |spec: &str| build(&ObjectUrl::parse(spec).unwrap());
        let err = built("s3://b/p?role-arn=arn:aws:iam::1:role/x")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("role-arn") && err.contains("cannot assume"),
            "{err}"
        );
        let err = built("s3://b/p?access-key=AK").err().unwrap().to_string();
        assert!(
            err.contains("both access-key and secret-access-key"),
            "{err}"
        );
        let err = built("s3://b/p?force-path-style=maybe&access-key=a&secret-access-key=SEKRIT")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("force-path-style") && !err.contains("SEKRIT"),
            "{err}"
        );
    }

    #[test]
    fn warns_about_write_only_parameters() {
        let url = ObjectUrl::parse(
            "s3://b/p?access-key=a&secret-access-key=s&sse=aws:kms&provider=minio\
             &endpoint=http://127.0.0.1:1",
        )
        .unwrap();
        let built = build(&url).unwrap();
        assert_eq!(built.warnings.len(), 2, "{:?}", built.warnings);
        assert!(built.secrets.contains(&"s".to_string()));
    }
}
