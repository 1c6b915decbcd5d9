//! Rudder inference node: an HTTP image-classification service on tract-onnx.
//!
//! [`app`] builds the router from explicit [`AppState`]; [`run`] serves it on a listener, loads
//! the model in the background (`/health` answers `loading` until a warm-up batch has run), and
//! shuts down gracefully, finishing in-flight requests, when `shutdown` resolves.

pub mod api;
pub mod batcher;
pub mod cache;
pub mod config;
pub mod depthwise;
pub mod engine;
pub mod error;
pub mod http_client;
pub mod metrics;
pub mod model;
pub mod preprocess;
pub mod request_id;
pub mod resample;
pub mod state;

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use config::NodeConfig;
pub use state::AppState;

/// The node's router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config().max_body_bytes;
    Router::new()
        .route("/predict", post(api::predict::predict))
        .route("/health", get(api::health::health))
        .route("/info", get(api::info::info))
        .route("/metrics", get(api::metrics::metrics))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::observe))
        .with_state(state)
}

/// Serves the node on `listener` until `shutdown` resolves (or the model fails to load), then
/// waits for in-flight requests and queued inference jobs to finish.
pub async fn run(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::new(config);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let loader = state.clone();
    std::thread::Builder::new().name("model-loader".into()).spawn(move || {
        if let Err(e) = loader.load_model() {
            tracing::error!(error = %e, "model failed to load");
            failed_tx.send(e.to_string()).ok();
        }
    })?;
    let load_failure = Arc::new(Mutex::new(None));
    let record = Arc::clone(&load_failure);
    let stop = async move {
        let failed = async {
            match failed_rx.await {
                Ok(e) => e,
                // The loader succeeded (and dropped the sender): serve until asked to stop.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown => tracing::info!("shutdown requested; finishing in-flight requests"),
            e = failed => {
                if let Ok(mut slot) = record.lock() {
                    *slot = Some(e);
                }
            }
        }
    };
    tracing::info!(listen = %listener.local_addr()?, "serving");
    let config = state.config();
    rudder_http::serve(listener, app(state.clone()), stop, config.read_timeout, config.drain_timeout).await;
    let drain = state.clone();
    tokio::task::spawn_blocking(move || drain.shutdown()).await?;
    let failure = load_failure.lock().ok().and_then(|mut f| f.take());
    match failure {
        Some(e) => Err(anyhow::anyhow!("model failed to load: {e}")),
        None => Ok(()),
    }
}
