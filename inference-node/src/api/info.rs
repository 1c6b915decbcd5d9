//! `GET /info`: what this node serves and how it was built.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Info {
    pub model: super::predict::ModelRef,
    pub node_id: String,
    /// `["N", 3, size, size]`: batch, channels (RGB), height, width.
    pub input_shape: (String, u32, u32, u32),
    pub layout: &'static str,
    pub resize_shorter: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Null until the model has loaded.
    pub labels: Option<usize>,
    pub ready: bool,
    pub workers: usize,
    pub max_batch: usize,
    pub batch_wait_ms: u128,
    pub queue_capacity: usize,
    pub cache_size: usize,
    pub max_body_bytes: usize,
    pub max_pixels: u64,
    pub build: Build,
}

#[derive(Debug, Serialize)]
pub struct Build {
    pub crate_version: &'static str,
    pub git_hash: Option<&'static str>,
    pub tract_version: &'static str,
}

pub const BUILD: Build = Build {
    crate_version: env!("CARGO_PKG_VERSION"),
    git_hash: option_env!("RUDDER_GIT_HASH"),
    tract_version: env!("RUDDER_TRACT_VERSION"),
};

pub async fn info(State(state): State<AppState>) -> Json<Info> {
    let config = state.config();
    let pre = &config.model.preprocessing;
    let engine = state.engine();
    Json(Info {
        model: super::predict::ModelRef {
            name: config.model.name.clone(),
            version: config.model.version.clone(),
        },
        node_id: config.node_id.clone(),
        input_shape: ("N".into(), 3, pre.input_size, pre.input_size),
        layout: "NCHW",
        resize_shorter: pre.resize_shorter,
        mean: pre.mean,
        std: pre.std,
        labels: engine.map(|e| e.classifier.labels.len()),
        ready: engine.is_some(),
        workers: config.batcher.workers,
        max_batch: config.batcher.max_batch,
        batch_wait_ms: config.batcher.batch_wait.as_millis(),
        queue_capacity: config.batcher.queue_capacity,
        cache_size: config.cache_size,
        max_body_bytes: config.max_body_bytes,
        max_pixels: config.max_pixels,
        build: BUILD,
    })
}
