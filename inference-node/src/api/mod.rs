//! HTTP routes (one module each) and the middleware every request passes through: request id,
//! in-flight gauge, per-route metrics and a JSON access log line.

pub mod health;
pub mod info;
pub mod metrics;
pub mod predict;

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::request_id;
use crate::state::AppState;

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Decrements the in-flight gauge even if the client disconnects and the request is dropped.
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request_id::from_headers(request.headers());
    let route = Metrics::route_label(request.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), route);
    let metrics = state.metrics();
    metrics.in_flight.inc();
    let _in_flight = InFlight(metrics);
    let started = Instant::now();
    let mut response = request_id::scope(id.clone(), next.run(request)).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.observe_request(route, status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1e3, "served"));
    response
}

/// Extractor rejections (bad query string, body limit) re-expressed as the node's JSON errors.
pub fn rejection(status: axum::http::StatusCode, text: String, limit: usize) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(text)
    }
}
