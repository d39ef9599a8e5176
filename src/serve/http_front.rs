//! The loopback HTTP server that plays the function URL: each request becomes an event,
//! waits its turn in the queue, and the function's result becomes the response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

use super::event::{self, RequestMeta};
use super::worker::{Invocation, Outcome};

/// A function URL's limit on a request body (6 MB).
pub(crate) const MAX_REQUEST: usize = 6 * 1024 * 1024;

pub(crate) struct FrontState {
    pub queue: mpsc::Sender<Invocation>,
    /// The port clients connect to (the event's `x-forwarded-port`).
    pub port: u16,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
    /// Whose events and error answers to play: a function URL's or an HTTP API's.
    pub front_door: crate::domain::FrontDoorArg,
}

/// A failed invocation: a function URL answers 502 `Internal Server Error`; an HTTP API
/// answers 500 with `{"message":"Internal Server Error"}`
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).
fn failed(state: &FrontState) -> Response {
    match state.front_door {
        crate::domain::FrontDoorArg::Url => plain(StatusCode::BAD_GATEWAY, "Internal Server Error"),
        crate::domain::FrontDoorArg::HttpApi => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            r#"{"message":"Internal Server Error"}"#,
        )
            .into_response(),
    }
}

pub(crate) fn router(state: Arc<FrontState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        text,
    )
        .into_response()
}

async fn handle(
    State(state): State<Arc<FrontState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let id = super::new_request_id();
    let label = super::log_label(&id);
    let (parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let method = parts.method.clone();
    state.requests.fetch_add(1, Ordering::Relaxed);
    let response = invoke(&state, &id, &label, peer, parts, body).await;
    if response.status() == StatusCode::BAD_GATEWAY
        || response.extensions().get::<Failed>().is_some()
    {
        state.failures.fetch_add(1, Ordering::Relaxed);
    }
    eprintln!(
        "[{label}] {method} {target} -> {} ({} ms)",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// Marks a response as a failed invocation (a function's own 500 is not one).
#[derive(Clone, Copy)]
struct Failed;

fn marked(mut response: Response) -> Response {
    response.extensions_mut().insert(Failed);
    response
}

async fn invoke(
    state: &FrontState,
    id: &str,
    label: &str,
    peer: SocketAddr,
    parts: axum::http::request::Parts,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let trace_id = super::new_trace_id();
    let mut event = event::request_event(
        &parts,
        &body,
        &RequestMeta {
            request_id: id,
            trace_id: &trace_id,
            source_ip: peer.ip(),
            local_port: state.port,
            now: time::OffsetDateTime::now_utc(),
        },
    );
    if state.front_door == crate::domain::FrontDoorArg::HttpApi {
        event::into_http_api_event(&mut event);
    }
    let (reply, outcome) = oneshot::channel();
    let invocation = Invocation {
        id: id.to_string(),
        trace_id,
        event: Bytes::from(serde_json::to_vec(&event).unwrap_or_default()),
        reply,
    };
    match state.queue.try_send(invocation) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            // Lambda throttles when its queue for a function is full.
            return plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    }
    let converted = match outcome.await {
        Ok(Outcome::Response { body, streaming }) => {
            if streaming {
                event::response_from_stream(&body)
            } else {
                event::response_from_payload(&body)
            }
        }
        Ok(Outcome::Failed { .. }) | Err(_) => {
            return marked(failed(state));
        }
    };
    match converted {
        Ok(reply) => {
            let mut response = Response::new(Body::from(reply.body));
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            response
        }
        Err(message) => {
            eprintln!("[{label}] {message}");
            marked(failed(state))
        }
    }
}
