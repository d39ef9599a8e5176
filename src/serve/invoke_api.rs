//! The direct-invocation side of `serve` (issue 22): the Lambda Invoke API
//! (`POST /2015-03-31/functions/{name}/invocations`) on a second loopback port, separate from
//! the function URL port, so that what reaches the app over HTTP is never a direct invocation
//! (as with the real function URL). The body is the raw event, handed to the same worker queue
//! as HTTP requests; the answer is Invoke's: the function's result, or
//! `X-Amz-Function-Error: Unhandled` with an `errorMessage`. `deploy-action invoke --local URL`
//! and any AWS SDK with this endpoint (`aws lambda invoke --endpoint-url URL`) speak it; the
//! request's signature is not checked (loopback only).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::{mpsc, oneshot};

use super::worker::{Invocation, Outcome};

/// Invoke's payload limit for a synchronous call (6 MB).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

pub(crate) fn router(queue: mpsc::Sender<Invocation>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::new(queue))
}

fn answer(function_error: Option<&'static str>, body: Vec<u8>) -> Response {
    let mut resp = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("x-amz-executed-version"),
                HeaderValue::from_static("$LATEST"),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(kind) = function_error {
        resp.headers_mut().insert(
            header::HeaderName::from_static("x-amz-function-error"),
            HeaderValue::from_static(kind),
        );
    }
    resp
}

async fn invoke(State(queue): State<Arc<mpsc::Sender<Invocation>>>, body: Bytes) -> Response {
    if body.len() > MAX_PAYLOAD {
        return (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException").into_response();
    }
    let event = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let id = super::new_request_id();
    let label = super::log_label(&id);
    let (reply, outcome) = oneshot::channel();
    let invocation = Invocation {
        id,
        trace_id: super::new_trace_id(),
        event,
        reply,
    };
    if queue.send(invocation).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "ServiceException").into_response();
    }
    let response = match outcome.await {
        Ok(Outcome::Response { body, .. }) => answer(None, body.to_vec()),
        Ok(Outcome::Failed { reason }) => answer(
            Some("Unhandled"),
            serde_json::to_vec(
                &serde_json::json!({"errorMessage": reason, "errorType": "Runtime.Error"}),
            )
            .unwrap_or_default(),
        ),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceException").into_response(),
    };
    eprintln!(
        "[{label}] direct invocation -> {}",
        response.status().as_u16()
    );
    response
}
