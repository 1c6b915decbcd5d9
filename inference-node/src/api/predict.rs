//! `POST /predict`: classify one image, sent as the raw body (`image/*`) or as multipart field
//! `file`. Cheap checks (size, format, declared dimensions, cache) run here; decoding and
//! inference run on the worker pool.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::header;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::batcher::SubmitError;
use crate::cache::image_key;
use crate::engine::{InferenceJob, JobError};
use crate::error::ApiError;
use crate::model::top_k;
use crate::preprocess;
use crate::request_id;
use crate::state::AppState;

pub const DEFAULT_TOP_K: usize = 5;
pub const MAX_TOP_K: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct PredictParams {
    top_k: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prediction {
    pub class_id: usize,
    pub label: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    pub decode: f64,
    pub preprocess: f64,
    pub inference: f64,
    pub total: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PredictResponse {
    pub predictions: Vec<Prediction>,
    pub model: ModelRef,
    pub node_id: String,
    pub timings_ms: Timings,
    pub request_id: String,
    pub cached: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub async fn predict(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<PredictResponse>, ApiError> {
    let started = Instant::now();
    let engine = state.engine().ok_or(ApiError::NotReady)?;
    let k = parse_top_k(request.uri())?;
    // Held until the answer is sent; without a place the body is not read at all.
    let _admitted =
        state.admit().ok_or(ApiError::Overloaded { capacity: state.config().admission_limit() })?;
    let read_timeout = state.config().read_timeout;
    let bytes = tokio::time::timeout(read_timeout, read_image_body(&state, request))
        .await
        .map_err(|_| ApiError::RequestTimeout(read_timeout))??;
    if bytes.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    let key = image_key(&bytes);
    let cached = state.cache().get(&key);
    let (probs, decode, preprocess, inference, was_cached) = match cached {
        Some(probs) => {
            state.metrics().cache_hits.inc();
            (probs, Duration::ZERO, Duration::ZERO, Duration::ZERO, true)
        }
        None => {
            let probe = preprocess::probe(&bytes, state.config().max_pixels)?;
            let (reply, answer) = oneshot::channel();
            engine.submit(InferenceJob { bytes, probe, reply }).map_err(|e| match e {
                SubmitError::QueueFull { capacity } => ApiError::Overloaded { capacity },
                SubmitError::Closed => ApiError::ShuttingDown,
            })?;
            let classified = answer
                .await
                .map_err(|_| ApiError::Internal("worker dropped the job".into()))?
                .map_err(|e| match e {
                JobError::Image(e) => ApiError::Image(e),
                JobError::Model(e) => ApiError::Internal(e.to_string()),
            })?;
            // A miss is an image the model classified, not one refused or undecodable.
            if state.cache().enabled() {
                state.metrics().cache_misses.inc();
            }
            state.cache().insert(key, classified.probs.clone());
            (classified.probs, classified.decode, classified.preprocess, classified.inference, false)
        }
    };
    let labels = &engine.classifier.labels;
    let predictions = top_k(&probs, k)
        .into_iter()
        .map(|(class_id, confidence)| Prediction {
            class_id,
            label: labels.get(class_id).cloned().unwrap_or_default(),
            confidence,
        })
        .collect();
    let model = &state.config().model;
    Ok(Json(PredictResponse {
        predictions,
        model: ModelRef { name: model.name.clone(), version: model.version.clone() },
        node_id: state.config().node_id.clone(),
        timings_ms: Timings {
            decode: ms(decode),
            preprocess: ms(preprocess),
            inference: ms(inference),
            total: ms(started.elapsed()),
        },
        request_id: request_id::current().unwrap_or_default(),
        cached: was_cached,
    }))
}

fn parse_top_k(uri: &axum::http::Uri) -> Result<usize, ApiError> {
    let Query(params) = Query::<PredictParams>::try_from_uri(uri)
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))?;
    let k = params.top_k.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&k) {
        return Err(ApiError::BadRequest(format!("top_k must be in 1..={MAX_TOP_K}, got {k}")));
    }
    Ok(k)
}

/// Reads the image bytes, refusing an oversize body from its `Content-Length` before reading it
/// and, for chunked bodies, as soon as the running total passes the limit (`DefaultBodyLimit`).
async fn read_image_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    let limit = state.config().max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid").to_ascii_lowercase())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_owned();
    if essence == "multipart/form-data" {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| super::rejection(e.status(), e.body_text(), limit))?;
        loop {
            let field = multipart
                .next_field()
                .await
                .map_err(|e| super::rejection(e.status(), e.body_text(), limit))?;
            let Some(field) = field else {
                return Err(ApiError::BadRequest("multipart body has no `file` field".into()));
            };
            if field.name() == Some("file") {
                return field.bytes().await.map_err(|e| super::rejection(e.status(), e.body_text(), limit));
            }
        }
    }
    // Raw bodies: any image/* type, octet-stream, or no type at all (the bytes are sniffed).
    if !(essence.is_empty() || essence.starts_with("image/") || essence == "application/octet-stream") {
        return Err(ApiError::UnsupportedContentType(content_type));
    }
    Bytes::from_request(request, state).await.map_err(|e| super::rejection(e.status(), e.body_text(), limit))
}
