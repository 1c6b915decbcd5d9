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
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
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

/// Accepts connections until `stop` resolves, then lets open requests finish for up to `drain`.
///
/// This is `axum::serve` with two limits it does not offer: a client must send its first byte, and
/// then each request's headers, within `read_timeout` (a silent, stalled or half-sent request would
/// otherwise hold its connection for ever), and shutdown does not wait for ever on a client that
/// never finishes its request.
async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
    read_timeout: Duration,
    drain: Duration,
) {
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(read_timeout);
    let graceful = GracefulShutdown::new();
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, watcher) = (builder.clone(), router.clone(), graceful.watcher());
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            // hyper-util reads the first bytes (to tell HTTP/1 from HTTP/2) with no timer of its own,
            // so a client that connects and sends nothing would hold its connection for ever. The
            // first byte must come within the read timeout; shutdown stops the wait at once.
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(read_timeout, stream.peek(&mut first)) => {
                    if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                }
                _ = stopping.wait_for(|stopping| *stopping) => return,
            }
            let service = TowerToHyperService::new(router);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(drain_s = drain.as_secs(), "requests still open after the drain timeout; closing them");
        }
    }
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
    serve(listener, app(state.clone()), stop, config.read_timeout, config.drain_timeout).await;
    let drain = state.clone();
    tokio::task::spawn_blocking(move || drain.shutdown()).await?;
    let failure = load_failure.lock().ok().and_then(|mut f| f.take());
    match failure {
        Some(e) => Err(anyhow::anyhow!("model failed to load: {e}")),
        None => Ok(()),
    }
}
