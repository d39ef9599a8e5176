//! The Lambda Runtime API (`/2018-06-01/runtime/...`) on a loopback port: the interface every
//! Lambda runtime speaks, so `bootstrap` binaries built with aws-lambda-rust-runtime and
//! Python handlers run by awslambdaric work unchanged.
//!
//! Each worker process gets its own server on its own port. Killing a worker (crash, timeout)
//! drops its server with it, so a long-poll on `/next` left behind by a dead process can never
//! take an invocation meant for its successor.
//!
//! The server knows nothing about HTTP clients or queues: the dispatcher hands it one
//! [`Delivery`] at a time and hears back through [`ApiEvent`]s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Lambda's limit on a buffered response (6 MB).
pub(crate) const MAX_RESPONSE: usize = 6 * 1024 * 1024;
/// Lambda's limit on a streamed response (20 MB); also the body limit of the server.
pub(crate) const MAX_STREAMED_RESPONSE: usize = 20 * 1024 * 1024;

const PREFIX: &str = "/2018-06-01/runtime";

/// One invocation handed to the runtime through `/next`.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub id: String,
    pub event: Bytes,
    pub trace_id: String,
}

/// An error a runtime reported (`/error` or `/init/error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionError {
    pub error_type: String,
    pub message: String,
    pub stack_trace: Vec<String>,
}

impl FunctionError {
    /// Parse the body runtimes post (`{"errorMessage", "errorType", "stackTrace"}`); the
    /// `Lambda-Runtime-Function-Error-Type` header fills in a missing type.
    fn parse(headers: &HeaderMap, body: &[u8]) -> FunctionError {
        let header_type = headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(String::from);
        let stack_trace = match value.get("stackTrace") {
            Some(Value::Array(lines)) => lines
                .iter()
                .map(|l| l.as_str().map_or_else(|| l.to_string(), String::from))
                .collect(),
            Some(Value::String(s)) => s.lines().map(String::from).collect(),
            _ => Vec::new(),
        };
        FunctionError {
            error_type: text("errorType")
                .or(header_type)
                .unwrap_or_else(|| "Unhandled".into()),
            message: text("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string()),
            stack_trace,
        }
    }
}

/// What happened on the API, for the dispatcher.
#[derive(Debug, Clone)]
pub(crate) enum ApiEvent {
    /// The runtime took this invocation from `/next`: its deadline runs from now.
    Picked { id: String },
    /// `/invocation/{id}/response`.
    Response {
        id: String,
        body: Bytes,
        streaming: bool,
    },
    /// `/invocation/{id}/error`.
    Error { id: String, error: FunctionError },
    /// `/init/error`: the runtime could not start (it exits next).
    InitError { error: FunctionError },
    /// A response over Lambda's size limit (the runtime got a 413).
    TooLarge { id: String, size: usize },
}

struct ApiState {
    next: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    events: mpsc::UnboundedSender<ApiEvent>,
    /// The invocation the runtime holds, between `/next` and its result.
    current: Mutex<Option<String>>,
    timeout: Duration,
    function_arn: String,
    /// The log label of the worker's output, switched to the invocation as it is handed over
    /// (before the runtime can print anything for it).
    label: Arc<Mutex<String>>,
}

/// A running Runtime API server. Dropping it stops the server.
pub(crate) struct RuntimeApi {
    pub addr: SocketAddr,
    pub deliver: mpsc::Sender<Delivery>,
    pub events: mpsc::UnboundedReceiver<ApiEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Bind a free loopback port and serve the Runtime API on it.
    pub(crate) async fn start(
        timeout: Duration,
        function_arn: String,
        label: Arc<Mutex<String>>,
    ) -> std::io::Result<RuntimeApi> {
        // An IP literal, not `localhost`: runtimes connect without a DNS lookup (a resolver
        // thread would not start under qemu-user on the test machines).
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (deliver, next) = mpsc::channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let state = Arc::new(ApiState {
            next: tokio::sync::Mutex::new(next),
            events: events_tx,
            current: Mutex::new(None),
            timeout,
            function_arn,
            label,
        });
        let app = router(state);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the Runtime API server stopped: {e}");
            }
        });
        Ok(RuntimeApi {
            addr,
            deliver,
            events,
            task,
        })
    }
}

fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(&format!("{PREFIX}/invocation/next"), get(next))
        .route(
            &format!("{PREFIX}/invocation/{{id}}/response"),
            post(response),
        )
        .route(
            &format!("{PREFIX}/invocation/{{id}}/error"),
            post(invocation_error),
        )
        .route(&format!("{PREFIX}/init/error"), post(init_error))
        .fallback(|| async {
            api_error(
                StatusCode::NOT_FOUND,
                "UnknownPath",
                "this path is not part of the Runtime API",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_STREAMED_RESPONSE))
        .with_state(state)
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"errorMessage": message, "errorType": error_type}),
    )
}

fn accepted() -> Response {
    json_response(StatusCode::ACCEPTED, &json!({"status": "OK"}))
}

/// Long-poll: wait for the next invocation and hand it over with its context headers.
async fn next(State(state): State<Arc<ApiState>>) -> Response {
    let delivery = {
        let mut rx = state.next.lock().await;
        rx.recv().await
    };
    let Some(delivery) = delivery else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the server is shutting down",
        );
    };
    let deadline = super::event::unix_millis(time::OffsetDateTime::now_utc())
        + i64::try_from(state.timeout.as_millis()).unwrap_or(i64::MAX);
    *state.current.lock().expect("current invocation lock") = Some(delivery.id.clone());
    *state.label.lock().expect("log label lock") = super::log_label(&delivery.id);
    let _ = state.events.send(ApiEvent::Picked {
        id: delivery.id.clone(),
    });
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", delivery.id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                state.function_arn.clone(),
            ),
            ("lambda-runtime-trace-id", delivery.trace_id),
        ],
        delivery.event,
    )
        .into_response()
}

/// Take `id` as the finished invocation if it is the one the runtime holds.
fn finish(state: &ApiState, id: &str) -> bool {
    let mut current = state.current.lock().expect("current invocation lock");
    if current.as_deref() == Some(id) {
        *current = None;
        true
    } else {
        false
    }
}

fn unknown_id(id: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        &format!("{id} is not the invocation in progress"),
    )
}

async fn response(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !finish(&state, &id) {
        return unknown_id(&id);
    }
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("streaming"));
    let limit = if streaming {
        MAX_STREAMED_RESPONSE
    } else {
        MAX_RESPONSE
    };
    if body.len() > limit {
        let _ = state.events.send(ApiEvent::TooLarge {
            id,
            size: body.len(),
        });
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
        );
    }
    let _ = state.events.send(ApiEvent::Response {
        id,
        body,
        streaming,
    });
    accepted()
}

async fn invocation_error(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !finish(&state, &id) {
        return unknown_id(&id);
    }
    let error = FunctionError::parse(&headers, &body);
    let _ = state.events.send(ApiEvent::Error { id, error });
    accepted()
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = FunctionError::parse(&headers, &body);
    let _ = state.events.send(ApiEvent::InitError { error });
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "lambda-runtime-function-error-type",
            "Runtime.Unhandled".parse().unwrap(),
        );
        let e = FunctionError::parse(
            &headers,
            br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":["  File \"app.py\"", "    raise"]}"#,
        );
        assert_eq!(e.error_type, "ValueError");
        assert_eq!(e.message, "boom");
        assert_eq!(e.stack_trace.len(), 2);
        let e = FunctionError::parse(&headers, b"plain text");
        assert_eq!(e.error_type, "Runtime.Unhandled");
        assert_eq!(e.message, "plain text");
    }

    async fn request(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, HeaderMap, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut headers = HeaderMap::new();
        for line in lines {
            let (k, v) = line.split_once(':').unwrap();
            headers.insert(
                http::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                v.trim().parse().unwrap(),
            );
        }
        (status, headers, body.to_string())
    }

    #[tokio::test]
    async fn next_response_and_error_round_trip() {
        let label = Arc::new(Mutex::new("init".to_string()));
        let mut api = RuntimeApi::start(
            Duration::from_secs(3),
            "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            label.clone(),
        )
        .await
        .unwrap();
        let addr = api.addr;
        let poll = tokio::spawn(async move {
            request(addr, "GET", "/2018-06-01/runtime/invocation/next", "").await
        });
        api.deliver
            .send(Delivery {
                id: "req-1".into(),
                event: Bytes::from_static(br#"{"rawPath":"/"}"#),
                trace_id: "Root=1-x".into(),
            })
            .await
            .unwrap();
        let (status, headers, body) = poll.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(headers["lambda-runtime-aws-request-id"], "req-1");
        assert_eq!(headers["lambda-runtime-trace-id"], "Root=1-x");
        assert!(
            headers["lambda-runtime-invoked-function-arn"]
                .to_str()
                .unwrap()
                .ends_with(":function:f")
        );
        let deadline: i64 = headers["lambda-runtime-deadline-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = super::super::event::unix_millis(time::OffsetDateTime::now_utc());
        assert!(
            (now + 2_000..=now + 3_000).contains(&deadline),
            "deadline {deadline} vs now {now}"
        );
        assert_eq!(body, r#"{"rawPath":"/"}"#);
        assert!(matches!(api.events.recv().await, Some(ApiEvent::Picked { id }) if id == "req-1"));
        assert_eq!(*label.lock().unwrap(), "req req-1");

        // A result for another id is refused; the right one is accepted once.
        let (status, _, _) = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/other/response",
            "{}",
        )
        .await;
        assert_eq!(status, 400);
        let (status, _, _) = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            r#"{"ok":1}"#,
        )
        .await;
        assert_eq!(status, 202);
        match api.events.recv().await {
            Some(ApiEvent::Response {
                id,
                body,
                streaming,
            }) => {
                assert_eq!(id, "req-1");
                assert_eq!(&body[..], br#"{"ok":1}"#);
                assert!(!streaming);
            }
            other => panic!("unexpected {other:?}"),
        }
        let (status, _, _) = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/error",
            "{}",
        )
        .await;
        assert_eq!(status, 400);

        let (status, _, _) = request(
            addr,
            "POST",
            "/2018-06-01/runtime/init/error",
            r#"{"errorMessage":"no module","errorType":"Runtime.ImportModuleError"}"#,
        )
        .await;
        assert_eq!(status, 202);
        match api.events.recv().await {
            Some(ApiEvent::InitError { error }) => {
                assert_eq!(error.error_type, "Runtime.ImportModuleError")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
