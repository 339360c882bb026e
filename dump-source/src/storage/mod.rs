//! Where the dump's files live: a local directory or an object store
//! (S3, GCS, Azure Blob) behind one interface, [`Storage`].
//!
//! Every reader of the crate (scan, schema files, chunking, the CSV, SQL
//! and Parquet parsers) names a file by its path relative to the dump's
//! root and asks the storage for its bytes: a listing, a whole small file,
//! a stream from an offset, or byte ranges (Parquet). The local directory
//! keeps its file-system fast path (a seek and plain reads); an object
//! store is read through `object_store`, with ranged GETs that stream with
//! bounded read-ahead (see [`reader`]) and, when the scan saw an ETag,
//! `If-Match` on every request, so an object replaced after the scan fails
//! its reads instead of mixing two versions.
//!
//! Secrets never leave a [`Storage`]: its `Debug`, its
//! [`Storage::location`] and every error it returns show the URL without
//! the parameters that hold keys, and error text from the network is
//! scrubbed of every secret value the storage knows.

mod cloud;
mod local;
pub(crate) mod reader;
pub mod url;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::SourceError;
use crate::compress::DataReader;
pub use url::{Cloud, ObjectUrl, is_object_url, redact_spec};

/// One file of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Path relative to the root, `/`-separated for objects.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The object's ETag (objects only): reads of the file require it.
    pub etag: Option<String>,
}

/// A file of a storage: where it is and the ETag its reads require (the
/// one the scan listed; `None` for local files).
#[derive(Debug, Clone, Copy)]
pub struct FileIn<'a> {
    /// The storage.
    pub storage: &'a Storage,
    /// The file's path in it.
    pub path: &'a Path,
    /// The object's ETag from the scan, if any.
    pub etag: Option<&'a str>,
}

/// The current directory's file system, for [`FileIn`]s made from paths.
static LOCAL: LazyLock<Storage> = LazyLock::new(|| Storage::local(""));

impl<'a> FileIn<'a> {
    /// The local file at `path` (absolute, or relative to the current
    /// directory).
    pub fn local(path: &'a Path) -> FileIn<'a> {
        FileIn {
            storage: &LOCAL,
            path,
            etag: None,
        }
    }
}

impl<'a> From<&'a Path> for FileIn<'a> {
    fn from(path: &'a Path) -> Self {
        FileIn::local(path)
    }
}

impl<'a> From<&'a PathBuf> for FileIn<'a> {
    fn from(path: &'a PathBuf) -> Self {
        FileIn::local(path)
    }
}

/// The dump's location. Cheap to clone (shared).
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    /// What errors, logs and checkpoints show: the path, or the URL
    /// without secrets.
    location: String,
    backing: Backing,
}

enum Backing {
    Local(PathBuf),
    Object(Arc<Objects>),
}

/// An object store and the dump's prefix in it.
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    location: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Storage")
            .field(&self.inner.location)
            .finish()
    }
}

impl From<&Path> for Storage {
    fn from(root: &Path) -> Self {
        Storage::local(root)
    }
}

impl From<&PathBuf> for Storage {
    fn from(root: &PathBuf) -> Self {
        Storage::local(root.clone())
    }
}

impl From<PathBuf> for Storage {
    fn from(root: PathBuf) -> Self {
        Storage::local(root)
    }
}

impl From<&Storage> for Storage {
    fn from(storage: &Storage) -> Self {
        storage.clone()
    }
}

impl PartialEq for Storage {
    fn eq(&self, other: &Self) -> bool {
        self.inner.location == other.inner.location
    }
}

impl Eq for Storage {}

/// Transient failures retried, for the process.
static READ_RETRIES: AtomicU64 = AtomicU64::new(0);

/// How many object-store requests failed transiently since the process
/// started: each HTTP attempt `object_store` retries (no connection, a
/// timeout, a 5xx, 408 or 429 answer; the last attempt of a request that
/// runs out of retries counts too), and each object read that broke off or
/// failed and was requested again from where it stopped.
pub fn read_retries() -> u64 {
    READ_RETRIES.load(Ordering::Relaxed)
}

/// The runtime object-store requests run on: its own small pool, so the
/// synchronous parsers can wait on it from any thread (a tokio worker
/// included) and the caller's runtime never blocks on network I/O.
static IO: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("source-io")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

fn io_runtime() -> Result<&'static tokio::runtime::Runtime, SourceError> {
    IO.as_ref()
        .map_err(|e| SourceError::Config(format!("cannot start the object-store I/O pool: {e}")))
}

/// Runs `fut` on the I/O pool and waits for it.
fn block<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, SourceError> {
    let handle = io_runtime()?.spawn(fut);
    futures::executor::block_on(handle)
        .map_err(|e| SourceError::Config(format!("object-store request task failed: {e}")))
}

impl Storage {
    /// The local directory `root`.
    pub fn local(root: impl Into<PathBuf>) -> Storage {
        let root = root.into();
        Storage {
            inner: Arc::new(Inner {
                location: root.display().to_string(),
                backing: Backing::Local(root),
            }),
        }
    }

    /// Opens `data-source-dir`: a path, a `file://` URL, or an object-store
    /// URL. Returns the storage and warnings about URL parameters that
    /// have no effect. No request is made yet.
    ///
    /// Errors: an unknown scheme or parameter, a parameter that cannot be
    /// honoured, a bad option value. Their text never holds a secret.
    pub fn open(spec: &str) -> Result<(Storage, Vec<String>), SourceError> {
        if !is_object_url(spec) {
            return Ok((
                Storage::local(crate::scan::data_source_path(spec)?),
                Vec::new(),
            ));
        }
        let url = ObjectUrl::parse(spec)?;
        let built = cloud::build(&url)?;
        let location = url.location();
        Ok((
            Storage {
                inner: Arc::new(Inner {
                    location: location.clone(),
                    backing: Backing::Object(Arc::new(Objects {
                        store: built.store,
                        prefix: url.prefix.clone(),
                        location,
                        secrets: built.secrets,
                    })),
                }),
            },
            built.warnings,
        ))
    }

    /// Where the dump is, safe to show: the path, or the URL without
    /// credentials. Two URLs that differ only in credentials have the same
    /// location.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The directory, for a local dump.
    pub fn local_root(&self) -> Option<&Path> {
        match &self.inner.backing {
            Backing::Local(root) => Some(root),
            Backing::Object(_) => None,
        }
    }

    /// `text` without any secret this storage knows (for error text that
    /// came from elsewhere).
    pub fn scrub(&self, text: &str) -> String {
        match &self.inner.backing {
            Backing::Local(_) => text.to_string(),
            Backing::Object(o) => o.scrub(text),
        }
    }

    /// Every regular file under the root, sorted by path, with warnings
    /// (skipped links) pushed to `warnings`. Object listings are paginated
    /// by the store; a prefix with no object is an error (most likely a
    /// wrong URL).
    pub fn list(&self, warnings: &mut Vec<String>) -> Result<Vec<Listed>, SourceError> {
        match &self.inner.backing {
            Backing::Local(root) => local::walk(root, warnings),
            Backing::Object(o) => o.list(),
        }
    }

    /// The whole file `rel` (schema files; small).
    pub fn read(&self, rel: &Path) -> Result<Vec<u8>, SourceError> {
        match &self.inner.backing {
            Backing::Local(root) => {
                let path = root.join(rel);
                std::fs::read(&path).map_err(|e| SourceError::io(&path, "read", e))
            }
            Backing::Object(o) => o.read_all(rel),
        }
    }

    /// The size of `rel`.
    pub fn size(&self, rel: &Path) -> Result<u64, SourceError> {
        match &self.inner.backing {
            Backing::Local(root) => {
                let path = root.join(rel);
                std::fs::metadata(&path)
                    .map(|m| m.len())
                    .map_err(|e| SourceError::io(&path, "stat", e))
            }
            Backing::Object(o) => o.size(rel),
        }
    }

    /// The raw bytes of `rel` from byte `offset` on, streamed. `etag`, when
    /// given, must still be the object's (see [`SourceError::Changed`]).
    pub fn open_raw(
        &self,
        rel: &Path,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<DataReader, SourceError> {
        match &self.inner.backing {
            Backing::Local(root) => local::open(&root.join(rel), offset),
            Backing::Object(o) => reader::ObjectReader::open(o, rel, offset, etag),
        }
    }

    /// `rel` of this storage, requiring `etag`.
    pub fn file<'a>(&'a self, rel: &'a Path, etag: Option<&'a str>) -> FileIn<'a> {
        FileIn {
            storage: self,
            path: rel,
            etag,
        }
    }

    /// Random access to `rel` for the Parquet reader.
    pub(crate) fn blob(&self, rel: &Path, etag: Option<&str>) -> Result<reader::Blob, SourceError> {
        match &self.inner.backing {
            Backing::Local(root) => {
                let path = root.join(rel);
                let file =
                    std::fs::File::open(&path).map_err(|e| SourceError::io(&path, "open", e))?;
                Ok(reader::Blob::Local(file))
            }
            Backing::Object(o) => reader::Blob::object(o, rel, etag),
        }
    }
}

impl Objects {
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            let encoded =
                percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            out = out.replace(secret.as_str(), "******");
            out = out.replace(&encoded, "******");
        }
        // Signed request URLs (Azure SAS, presigned S3) in transport errors.
        static SIGNATURE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
            regex::Regex::new(
                r"(?i)\b(sig|x-amz-signature|x-amz-credential|x-amz-security-token)=[^&\s)]+",
            )
            .ok()
        });
        if let Some(re) = SIGNATURE.as_ref() {
            out = re.replace_all(&out, "$1=******").into_owned();
        }
        out
    }

    /// The object path of `rel`.
    fn path(&self, rel: &Path) -> Result<ObjectPath, SourceError> {
        let rel_text = rel
            .to_str()
            .ok_or_else(|| self.error(rel, "name", "is not valid UTF-8".into()))?;
        let full = if self.prefix.is_empty() {
            rel_text.to_string()
        } else {
            format!("{}/{rel_text}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|e| self.error(rel, "name", e.to_string()))
    }

    fn error(&self, rel: &Path, what: &'static str, reason: String) -> SourceError {
        SourceError::Storage {
            location: self.location.clone(),
            object: rel.display().to_string(),
            what,
            reason: self.scrub(&reason),
        }
    }

    /// Turns an `object_store` error into one the user can act on.
    pub(crate) fn store_error(
        &self,
        rel: &Path,
        what: &'static str,
        err: &object_store::Error,
    ) -> SourceError {
        use object_store::Error as E;
        let text = err.to_string();
        let reason = match err {
            E::Precondition { .. } => {
                return SourceError::Changed {
                    location: self.location.clone(),
                    object: rel.display().to_string(),
                };
            }
            E::NotFound { .. } => format!("not found (no such object or bucket): {text}"),
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                format!("access denied: check the credentials and their permissions: {text}")
            }
            // Some stores' listings report a refusal as a generic error
            // with the HTTP status in its text.
            _ if text.contains("403 Forbidden") || text.contains("401 Unauthorized") => {
                format!("access denied: check the credentials and their permissions: {text}")
            }
            _ => text,
        };
        self.error(rel, what, reason)
    }

    fn list(&self) -> Result<Vec<Listed>, SourceError> {
        let store = Arc::clone(&self.store);
        let prefix =
            if self.prefix.is_empty() {
                None
            } else {
                Some(ObjectPath::parse(&self.prefix).map_err(|e| {
                    self.error(Path::new(""), "list", format!("invalid prefix: {e}"))
                })?)
            };
        let listed = block(async move {
            store
                .list(prefix.as_ref())
                .try_collect::<Vec<object_store::ObjectMeta>>()
                .await
        })?
        .map_err(|e| self.store_error(Path::new(""), "list", &e))?;
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut out: Vec<Listed> = listed
            .into_iter()
            .filter_map(|meta| {
                let key = meta.location.as_ref();
                let rel = key.get(skip..)?;
                // Directory markers some tools write.
                if rel.is_empty() || rel.ends_with('/') {
                    return None;
                }
                Some(Listed {
                    path: PathBuf::from(rel),
                    size: meta.size,
                    etag: meta.e_tag,
                })
            })
            .collect();
        if out.is_empty() {
            return Err(SourceError::Storage {
                location: self.location.clone(),
                object: String::new(),
                what: "list",
                reason: "no objects under this prefix".into(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read_all(&self, rel: &Path) -> Result<Vec<u8>, SourceError> {
        let store = Arc::clone(&self.store);
        let path = self.path(rel)?;
        let bytes = block(async move { store.get(&path).await?.bytes().await })?
            .map_err(|e| self.store_error(rel, "read", &e))?;
        Ok(bytes.to_vec())
    }

    fn size(&self, rel: &Path) -> Result<u64, SourceError> {
        let store = Arc::clone(&self.store);
        let path = self.path(rel)?;
        let meta = block(async move { store.head(&path).await })?
            .map_err(|e| self.store_error(rel, "stat", &e))?;
        Ok(meta.size)
    }

    /// `length` bytes of `rel` from `start`, in one request.
    pub(crate) fn read_range(
        &self,
        rel: &Path,
        start: u64,
        length: u64,
        etag: Option<&str>,
    ) -> Result<bytes::Bytes, SourceError> {
        if length == 0 {
            return Ok(bytes::Bytes::new());
        }
        let store = Arc::clone(&self.store);
        let path = self.path(rel)?;
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start.saturating_add(length))),
            if_match: etag.map(str::to_string),
            ..GetOptions::default()
        };
        block(async move { store.get_opts(&path, options).await?.bytes().await })?
            .map_err(|e| self.store_error(rel, "read", &e))
    }
}
