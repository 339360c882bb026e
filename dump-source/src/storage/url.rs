//! `data-source-dir` URLs of object stores, in Lightning's form:
//! `s3://bucket/prefix?region=…&endpoint=…`, `gs://` / `gcs://`,
//! `azure://` / `azblob://`, with Lightning's query parameters.
//!
//! Parsing is pure: it yields the cloud, bucket, prefix and parameters, the
//! location without secrets (what logs, errors and checkpoints show) and the
//! secret values (which error text is scrubbed of). Building a store from it
//! is [`super::cloud`]'s job.

use std::collections::BTreeMap;

use crate::SourceError;

/// The object store a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Amazon S3 and S3-compatible stores (`s3://`).
    S3,
    /// Google Cloud Storage (`gs://`, `gcs://`).
    Gcs,
    /// Azure Blob Storage (`azure://`, `azblob://`).
    Azure,
}

impl Cloud {
    /// The scheme written in the location (one per cloud).
    pub fn scheme(self) -> &'static str {
        match self {
            Cloud::S3 => "s3",
            Cloud::Gcs => "gcs",
            Cloud::Azure => "azure",
        }
    }

    /// Query parameters whose values are secrets: never shown, never in a
    /// checkpoint.
    fn secret_keys(self) -> &'static [&'static str] {
        match self {
            Cloud::S3 => &["access-key", "secret-access-key", "session-token"],
            Cloud::Gcs => &[],
            Cloud::Azure => &["account-key", "sas-token"],
        }
    }

    /// Every query parameter the cloud accepts.
    fn known_keys(self) -> &'static [&'static str] {
        match self {
            Cloud::S3 => &[
                "access-key",
                "secret-access-key",
                "session-token",
                "region",
                "endpoint",
                "force-path-style",
                "provider",
                "role-arn",
                "external-id",
                "sse",
                "sse-kms-key-id",
                "acl",
                "storage-class",
            ],
            Cloud::Gcs => &[
                "credentials-file",
                "endpoint",
                "storage-class",
                "predefined-acl",
            ],
            Cloud::Azure => &[
                "account-name",
                "account-key",
                "sas-token",
                "endpoint",
                "access-tier",
            ],
        }
    }
}

/// A parsed object-store URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    /// Which cloud.
    pub cloud: Cloud,
    /// Bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// The dump's key prefix inside the bucket, without surrounding `/`.
    pub prefix: String,
    /// Query parameters, names normalised to Lightning's dashed form
    /// (`access_key` and `access-key` are the same).
    pub params: BTreeMap<String, String>,
}

impl std::fmt::Debug for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location())
    }
}

/// Whether `spec` names an object store (as opposed to a path or `file://`).
pub fn is_object_url(spec: &str) -> bool {
    spec.split_once("://")
        .is_some_and(|(scheme, _)| cloud_of(scheme).is_some())
}

fn cloud_of(scheme: &str) -> Option<Cloud> {
    match scheme.to_ascii_lowercase().as_str() {
        "s3" => Some(Cloud::S3),
        "gs" | "gcs" => Some(Cloud::Gcs),
        "azure" | "azblob" => Some(Cloud::Azure),
        _ => None,
    }
}

/// Percent-decodes `text`. A `+` stays a `+` (not a space, as HTML forms
/// have it): secret keys hold `+` and never spaces.
fn decode(text: &str, what: &str) -> Result<String, SourceError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SourceError::Config(format!("data-source-dir: {what} is not valid UTF-8")))
}

impl ObjectUrl {
    /// Parses `scheme://bucket/prefix?key=value&…`. Errors (which never
    /// repeat a parameter's value): an unknown scheme or parameter, a
    /// missing bucket, a parameter given twice.
    pub fn parse(spec: &str) -> Result<ObjectUrl, SourceError> {
        let (scheme, rest) = spec.split_once("://").ok_or_else(|| {
            SourceError::Config("data-source-dir: not a URL (scheme://bucket/prefix)".into())
        })?;
        let cloud = cloud_of(scheme).ok_or_else(|| {
            SourceError::Config(format!(
                "data-source-dir: storage scheme {scheme:?} is not supported (use a path, \
                 file://, s3://, gs://, gcs://, azure:// or azblob://)"
            ))
        })?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let bucket = decode(bucket, "the bucket")?;
        if bucket.is_empty() {
            return Err(SourceError::Config(format!(
                "data-source-dir: {}:// URL without a bucket",
                cloud.scheme()
            )));
        }
        let prefix = decode(prefix, "the prefix")?.trim_matches('/').to_string();
        let mut params = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, "a parameter name")?
                .to_ascii_lowercase()
                .replace('_', "-");
            if !cloud.known_keys().contains(&key.as_str()) {
                return Err(SourceError::Config(format!(
                    "data-source-dir: unknown {}:// parameter {key:?} (known: {})",
                    cloud.scheme(),
                    cloud.known_keys().join(", ")
                )));
            }
            let value = decode(value, &format!("parameter {key:?}"))?;
            if params.insert(key.clone(), value).is_some() {
                return Err(SourceError::Config(format!(
                    "data-source-dir: parameter {key:?} is given twice"
                )));
            }
        }
        Ok(ObjectUrl {
            cloud,
            bucket,
            prefix,
            params,
        })
    }

    /// A parameter's value, `None` when absent or empty.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The URL without the parameters that hold secrets: what logs, errors,
    /// the status page and checkpoints show. Two URLs that differ only in
    /// credentials have the same location.
    pub fn location(&self) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
        let mut out = format!("{}://{}", self.cloud.scheme(), enc(&self.bucket));
        if !self.prefix.is_empty() {
            out.push('/');
            out.push_str(&percent_encoding::utf8_percent_encode(&self.prefix, PATH).to_string());
        }
        let shown: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !self.cloud.secret_keys().contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        if !shown.is_empty() {
            out.push('?');
            out.push_str(&shown.join("&"));
        }
        out
    }

    /// The values of the secret parameters (non-empty ones).
    pub fn secrets(&self) -> Vec<String> {
        self.cloud
            .secret_keys()
            .iter()
            .filter_map(|k| self.param(k))
            .map(str::to_string)
            .collect()
    }
}

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'?')
    .add(b'#')
    .add(b'%')
    .add(b'&');

/// Removes the data-source-dir's secrets from `spec` if it is an object
/// URL (any other text is returned as it is): for showing a configuration
/// whose URL may carry keys. A URL that does not parse is shown as its
/// scheme and bucket only.
pub fn redact_spec(spec: &str) -> String {
    if !is_object_url(spec) {
        return spec.to_string();
    }
    match ObjectUrl::parse(spec) {
        Ok(url) => url.location(),
        Err(_) => {
            let head = spec.split('?').next().unwrap_or_default();
            if head.len() == spec.len() {
                head.to_string()
            } else {
                format!("{head}?…")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_lightning_s3_urls_and_hides_secrets() {
        let url = ObjectUrl::parse(
            "s3://bucket/dump/2024/?access_key=AK&secret-access-key=S%2FK+x&region=us-west-2\
             &endpoint=http%3A%2F%2F127.0.0.1%3A9000&force-path-style=true",
        )
        .unwrap();
        assert_eq!(url.cloud, Cloud::S3);
        assert_eq!(url.bucket, "bucket");
        assert_eq!(url.prefix, "dump/2024");
        assert_eq!(url.param("secret-access-key"), Some("S/K+x"));
        assert_eq!(url.param("access-key"), Some("AK"));
        let location = url.location();
        assert_eq!(
            location,
            "s3://bucket/dump/2024?endpoint=http://127.0.0.1:9000&force-path-style=true&region=us-west-2"
        );
        assert!(!location.contains("S/K") && !location.contains("AK"));
        assert_eq!(url.secrets(), vec!["AK".to_string(), "S/K+x".to_string()]);
        assert_eq!(format!("{url:?}"), location);
    }

    #[test]
    fn same_location_whatever_the_credentials() {
        let a = ObjectUrl::parse("s3://b/p?access-key=1&secret-access-key=2").unwrap();
        let b = ObjectUrl::parse("s3://b/p?access-key=3&secret-access-key=4").unwrap();
        assert_eq!(a.location(), b.location());
        let c = ObjectUrl::parse("s3://b/q?access-key=1&secret-access-key=2").unwrap();
        assert_ne!(a.location(), c.location());
    }

    #[test]
    fn schemes_and_errors() {
        assert_eq!(ObjectUrl::parse("gs://b").unwrap().cloud, Cloud::Gcs);
        assert_eq!(
            ObjectUrl::parse("GCS://b/x").unwrap().location(),
            "gcs://b/x"
        );
        assert_eq!(
            ObjectUrl::parse("azblob://c/d?account-name=n&account-key=k")
                .unwrap()
                .location(),
            "azure://c/d?account-name=n"
        );
        assert!(ObjectUrl::parse("s3:///p").is_err());
        assert!(ObjectUrl::parse("hdfs://b/p").is_err());
        let err = ObjectUrl::parse("s3://b/p?secret-access-key=TOPSECRET&bogus=1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus") && !err.contains("TOPSECRET"), "{err}");
        let err = ObjectUrl::parse("s3://b/p?region=a&region=b").unwrap_err();
        assert!(err.to_string().contains("twice"));
        assert!(is_object_url("s3://b") && !is_object_url("/tmp/x") && !is_object_url("file:///x"));
    }

    #[test]
    fn redacts_specs_that_do_not_parse() {
        assert_eq!(
            redact_spec("s3://b/p?secret-access-key=TOPSECRET&bogus=1"),
            "s3://b/p?…"
        );
        assert_eq!(redact_spec("/data/dump"), "/data/dump");
    }
}
