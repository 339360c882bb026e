//! Synchronous readers over objects, for the synchronous parsers.
//!
//! [`ObjectReader`] streams an object from an offset: a task on the I/O
//! pool issues one ranged GET and forwards the body's pieces through a
//! bounded channel, so read-ahead is at most [`READ_AHEAD`] pieces (plus
//! the socket's buffers) whatever the object's size, and a slow parser
//! slows the download instead of filling memory. A body that breaks off,
//! or a request that fails after `object_store`'s own retries (the server
//! unreachable for longer than they last), is requested again from the
//! byte it stopped at, 0.2 s to 3.2 s apart, up to [`STREAM_RETRIES`] times
//! in a row; each such resumption is counted ([`super::read_retries`]).
//! Dropping the reader stops the task.
//!
//! [`Blob`] gives the Parquet reader random access: ranged GETs for the
//! footer and column chunks.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange};
use tokio::sync::mpsc;

use super::{Objects, READ_RETRIES, io_runtime};
use crate::SourceError;
use crate::compress::DataReader;

/// Body pieces buffered ahead of the parser (each is what the transport
/// delivered, typically 8–64 KiB).
const READ_AHEAD: usize = 32;

/// Consecutive resumptions of a broken body or failed request before the
/// read fails.
const STREAM_RETRIES: u32 = 5;

/// An object streamed from an offset.
pub(crate) struct ObjectReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    piece: Bytes,
    task: tokio::task::JoinHandle<()>,
}

impl ObjectReader {
    /// Streams `rel` of `objects` from byte `offset`, requiring `etag`.
    pub(crate) fn open(
        objects: &Arc<Objects>,
        rel: &Path,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<DataReader, SourceError> {
        let path = objects.path(rel)?;
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let pump = Pump {
            objects: Arc::clone(objects),
            path,
            rel: rel.to_path_buf(),
            etag: etag.map(str::to_string),
        };
        let task = io_runtime()?.spawn(pump.run(offset, tx));
        Ok(Box::new(ObjectReader {
            rx,
            piece: Bytes::new(),
            task,
        }))
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            // `futures`' executor may block any thread, a tokio worker's
            // included (tokio's own `blocking_recv` refuses to).
            match futures::executor::block_on(self.rx.recv()) {
                None => return Ok(0),
                Some(Ok(piece)) => self.piece = piece,
                Some(Err(message)) => return Err(io::Error::other(message)),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        let _ = self.piece.split_to(n);
        Ok(n)
    }
}

struct Pump {
    objects: Arc<Objects>,
    path: ObjectPath,
    rel: PathBuf,
    etag: Option<String>,
}

impl Pump {
    async fn run(self, mut pos: u64, tx: mpsc::Sender<Result<Bytes, String>>) {
        let mut failures = 0u32;
        loop {
            let options = GetOptions {
                range: (pos > 0).then_some(GetRange::Offset(pos)),
                if_match: self.etag.clone(),
                ..GetOptions::default()
            };
            let err = match self.objects.store.get_opts(&self.path, options).await {
                Ok(result) => {
                    let mut body = result.into_stream();
                    let mut broken = None;
                    while let Some(piece) = body.next().await {
                        match piece {
                            Ok(piece) => {
                                pos += u64::try_from(piece.len()).unwrap_or(u64::MAX);
                                failures = 0;
                                if tx.send(Ok(piece)).await.is_err() {
                                    // The reader is gone.
                                    return;
                                }
                            }
                            Err(e) => {
                                broken = Some(e);
                                break;
                            }
                        }
                    }
                    match broken {
                        Some(err) => err,
                        None => return,
                    }
                }
                Err(e) => {
                    // A range starting at the end of the object: nothing
                    // left to read (S3 answers 416, which is an error).
                    if pos > 0 && self.at_end(pos).await {
                        return;
                    }
                    // What `object_store` gave up retrying (the server gone
                    // for longer than its backoff) is tried again here;
                    // an answer about the object itself is final.
                    if !matches!(e, object_store::Error::Generic { .. }) {
                        let _ = tx.send(Err(self.message(&e))).await;
                        return;
                    }
                    e
                }
            };
            failures += 1;
            if failures > STREAM_RETRIES {
                let _ = tx.send(Err(self.message(&err))).await;
                return;
            }
            READ_RETRIES.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                object = %self.rel.display(),
                offset = pos,
                attempt = failures,
                "object read failed or broke off; requesting the rest again"
            );
            tokio::time::sleep(Duration::from_millis(100u64 << failures.min(6))).await;
        }
    }

    fn message(&self, err: &object_store::Error) -> String {
        self.objects.store_error(&self.rel, "read", err).to_string()
    }

    /// Whether `pos` is at or past the end of the object.
    async fn at_end(&self, pos: u64) -> bool {
        let options = GetOptions {
            head: true,
            if_match: self.etag.clone(),
            ..GetOptions::default()
        };
        match self.objects.store.get_opts(&self.path, options).await {
            Ok(result) => result.meta.size <= pos,
            Err(_) => false,
        }
    }
}

/// Random access to a data file, for the Parquet reader.
pub(crate) enum Blob {
    /// A local file.
    Local(std::fs::File),
    /// An object, read by ranges.
    Object(ObjectBlob),
}

/// An object of known size read by ranged GETs.
pub(crate) struct ObjectBlob {
    objects: Arc<Objects>,
    rel: PathBuf,
    size: u64,
    etag: Option<String>,
}

impl Blob {
    pub(crate) fn object(
        objects: &Arc<Objects>,
        rel: &Path,
        etag: Option<&str>,
    ) -> Result<Blob, SourceError> {
        let size = objects.size(rel)?;
        Ok(Blob::Object(ObjectBlob {
            objects: Arc::clone(objects),
            rel: rel.to_path_buf(),
            size,
            etag: etag.map(str::to_string),
        }))
    }
}

impl parquet::file::reader::Length for Blob {
    fn len(&self) -> u64 {
        match self {
            Blob::Local(file) => parquet::file::reader::Length::len(file),
            Blob::Object(o) => o.size,
        }
    }
}

fn parquet_err(e: SourceError) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl parquet::file::reader::ChunkReader for Blob {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        match self {
            Blob::Local(file) => Ok(Box::new(file.get_read(start)?)),
            Blob::Object(o) => {
                let objects = &o.objects;
                ObjectReader::open(objects, &o.rel, start, o.etag.as_deref()).map_err(parquet_err)
            }
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            Blob::Local(file) => file.get_bytes(start, length),
            Blob::Object(o) => o
                .objects
                .read_range(
                    &o.rel,
                    start,
                    u64::try_from(length).unwrap_or(u64::MAX),
                    o.etag.as_deref(),
                )
                .map_err(parquet_err),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures::stream::{BoxStream, StreamExt};
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStoreExt,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;

    /// An in-memory store whose first `breaks` GET bodies end with an error
    /// after `head` bytes, as a connection reset mid-transfer does.
    #[derive(Debug)]
    struct Flaky {
        inner: InMemory,
        breaks: AtomicUsize,
        head: usize,
    }

    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Flaky")
        }
    }

    #[async_trait::async_trait]
    impl object_store::ObjectStore for Flaky {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            let mut result = self.inner.get_opts(location, options).await?;
            let left = self.breaks.load(Ordering::SeqCst);
            if left > 0 {
                self.breaks.store(left - 1, Ordering::SeqCst);
                // Without the `fs` feature a payload is always a stream.
                let GetResultPayload::Stream(body) = std::mem::replace(
                    &mut result.payload,
                    GetResultPayload::Stream(futures::stream::empty().boxed()),
                );
                let n = self.head;
                let head = body
                    .map(move |piece| piece.map(|b| b.slice(..b.len().min(n))))
                    .take(usize::from(n > 0));
                let reset = futures::stream::once(async {
                    Err(object_store::Error::Generic {
                        store: "Flaky",
                        source: "connection reset".into(),
                    })
                });
                result.payload = GetResultPayload::Stream(head.chain(reset).boxed());
            }
            Ok(result)
        }

        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
            self.inner.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }

        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    fn objects(breaks: usize, head: usize, data: &[u8]) -> Arc<Objects> {
        let store = Flaky {
            inner: InMemory::new(),
            breaks: AtomicUsize::new(breaks),
            head,
        };
        let bytes = data.to_vec();
        io_runtime()
            .unwrap()
            .block_on(store.put(&ObjectPath::from("d/f.csv"), bytes.into()))
            .unwrap();
        Arc::new(Objects {
            store: Arc::new(store),
            prefix: "d".into(),
            location: "s3://b/d".into(),
            secrets: vec!["SEKRIT".into()],
        })
    }

    #[test]
    fn a_body_that_breaks_off_is_requested_again_from_where_it_stopped() {
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let before = READ_RETRIES.load(Ordering::Relaxed);
        let objects = objects(3, 1000, &data);
        let mut reader = ObjectReader::open(&objects, Path::new("f.csv"), 5, None).unwrap();
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, &data[5..]);
        assert!(READ_RETRIES.load(Ordering::Relaxed) >= before + 3);
    }

    #[test]
    fn a_body_that_keeps_breaking_fails_naming_the_object_without_secrets() {
        // No byte gets through: the retries in a row run out.
        let objects = objects(STREAM_RETRIES as usize + 2, 0, &[7u8; 50_000]);
        let mut reader = ObjectReader::open(&objects, Path::new("f.csv"), 0, None).unwrap();
        let err = reader.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(
            err.contains("s3://b/d: f.csv: read") && err.contains("connection reset"),
            "{err}"
        );
        assert!(!err.contains("SEKRIT"));
    }

    #[test]
    fn reads_from_the_end_or_past_it_are_empty_or_fail() {
        let objects = objects(0, 0, b"abc");
        let mut got = Vec::new();
        ObjectReader::open(&objects, Path::new("f.csv"), 3, None)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert!(got.is_empty());
        let blob = Blob::object(&objects, Path::new("f.csv"), None).unwrap();
        use parquet::file::reader::{ChunkReader, Length};
        assert_eq!(blob.len(), 3);
        assert_eq!(&blob.get_bytes(1, 2).unwrap()[..], b"bc");
        let err = Blob::object(&objects, Path::new("missing"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("not found"),
            "{err}"
        );
    }
}
