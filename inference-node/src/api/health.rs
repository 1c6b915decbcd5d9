//! `GET /health`: readiness and load. Reads only atomics and one short lock, never waits on the
//! worker pool, so it answers even while every worker is busy.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` once the model is loaded and warmed up, `loading` before, `failed` if loading failed.
    pub status: &'static str,
    pub model: super::predict::ModelRef,
    pub node_id: String,
    /// `/predict` requests admitted: reading their body, queued, or running.
    pub in_flight: usize,
    pub queue_depth: usize,
    pub requests_served: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub uptime_s: f64,
}

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let engine = state.engine();
    let status = match (engine, state.load_error()) {
        (Some(_), _) => "ok",
        (None, Some(_)) => "failed",
        (None, None) => "loading",
    };
    let metrics = state.metrics();
    let percentiles = metrics.recent_percentiles();
    let model = &state.config().model;
    let body = Health {
        status,
        model: super::predict::ModelRef { name: model.name.clone(), version: model.version.clone() },
        node_id: state.config().node_id.clone(),
        in_flight: state.admitted(),
        queue_depth: engine.map_or(0, |e| e.queue_depth()),
        requests_served: metrics.predictions_served.load(std::sync::atomic::Ordering::Relaxed),
        p50_ms: percentiles.map(|p| p.0),
        p95_ms: percentiles.map(|p| p.1),
        uptime_s: state.uptime().as_secs_f64(),
    };
    let code = if engine.is_some() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}
