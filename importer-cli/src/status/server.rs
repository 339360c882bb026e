//! The HTTP side: accepting connections and answering the routes.
//!
//! Each connection runs in its own task with a cap on how many are open,
//! a header-read timeout and a maximum lifetime, so a slow, stuck or
//! misbehaving client costs one task at most and never the import.
//! Handlers only read atomics and copy small snapshots.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::status::task::TaskStatus;
use crate::status::{api, metrics, page};

/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 64;
/// A client must send a request's headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection lives longer (a keep-alive poller just reconnects).
const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(300);

/// Serves `listener` until `stop` turns true; then drops every connection.
pub(crate) async fn serve(
    listener: TcpListener,
    task: Arc<TaskStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning.
                        tracing::warn!(error = %err, "status server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    continue; // dropping the stream closes it
                };
                let task = Arc::clone(&task);
                connections.spawn(async move {
                    let _permit = permit;
                    let service = service_fn(move |req: Request<Incoming>| {
                        let response = respond(&task, &req);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    // Errors are the client's (reset, timeout): nothing to do.
                    let _ = tokio::time::timeout(MAX_CONNECTION_LIFE, connection).await;
                });
            }
        }
    }
    connections.abort_all();
}

/// Answers one request.
pub(crate) fn respond<B>(task: &TaskStatus, req: &Request<B>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let known = matches!(path, "/" | "/index.html" | "/progress" | "/metrics");
    if !known {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; try /, /progress or /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/progress" => {
            task.touch();
            match serde_json::to_vec(&api::report(task)) {
                Ok(json) => body(StatusCode::OK, "application/json", json),
                Err(err) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err}\n")),
            }
        }
        "/metrics" => match metrics::render(task) {
            Ok(text) => body(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            ),
            Err(err) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err}\n")),
        },
        _ => {
            task.touch();
            body(StatusCode::OK, "text/html; charset=utf-8", page::HTML)
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    body(status, "text/plain; charset=utf-8", text.to_string())
}

fn body(
    status: StatusCode,
    content_type: &'static str,
    content: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(content.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(task: &TaskStatus, method: Method, path: &str) -> Response<Full<Bytes>> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap_or_default();
        respond(task, &req)
    }

    #[test]
    fn routes_answer_with_their_content_types() {
        let task = TaskStatus::default();
        let cases = [
            ("/", "text/html; charset=utf-8"),
            ("/progress", "application/json"),
            ("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
        ];
        for (path, content_type) in cases {
            let response = get(&task, Method::GET, path);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
                Some(content_type.as_bytes()),
                "{path}"
            );
        }
        assert_eq!(
            get(&task, Method::GET, "/nope").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&task, Method::POST, "/progress").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
