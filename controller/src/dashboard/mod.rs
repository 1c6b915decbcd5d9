//! The web dashboard served by the controller's REST listener: a static page (embedded in the binary,
//! see [`assets`]) and the few JSON routes it needs besides the controller's own API.
//!
//! Routes (merged into the REST router with [`crate::rest::ApiState::with_routes`]):
//! - `GET /` and `GET /dashboard` redirect to `/dashboard/`; `GET /dashboard/` is the page and
//!   `GET /dashboard/assets/{file}` its CSS, JS and icon (ETag + `Cache-Control: no-cache`).
//! - `GET /dashboard/api/info`: the algorithm names the page offers and the asset version.
//! - `GET /dashboard/api/pools`: the pools the classify form can target (name, VIP, port).
//! - `POST /dashboard/api/classify?pool=NAME&top_k=5`: forwards an image to the pool's VIP
//!   ([`classify`]), so the request takes the same path as any client's (through the switch and the
//!   load balancer's flow steering when the controller reaches the VIP over the bridge).
//! - `GET /dashboard/api/samples` and `GET /dashboard/api/samples/{name}`: the sample photos
//!   ([`samples`]).
//!
//! Every response of these routes carries a strict Content-Security-Policy: the page loads only its
//! own scripts and styles and talks only to this origin.
//!
//! The page itself reads `/lb/stats`, `/lb/pools/{pool}/algorithm`, `/v1.0/topology/*` and
//! `/stats/switches` from the same listener.

pub mod assets;
pub mod classify;
pub mod error;
pub mod pools;
pub mod samples;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, middleware};
use serde_json::json;

pub use error::DashboardError;
pub use pools::{PoolSource, PoolTarget};

use crate::apps::lb::algorithm::Algorithm;

/// Largest image the classify route accepts (the inference node's default `--max-body-bytes`).
pub const CLASSIFY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// How long the classify proxy waits for the node by default.
pub const DEFAULT_CLASSIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// The policy on every dashboard response: only this origin's scripts, styles and API; images may also
/// be `blob:` (the preview of a picked file) or `data:`; no framing, no plugins, no inline script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// What the dashboard routes share. Cheap to clone.
#[derive(Clone)]
pub struct DashboardState {
    inner: Arc<Inner>,
}

struct Inner {
    pools: PoolSource,
    samples_dir: PathBuf,
    client: reqwest::Client,
    classify_timeout: Duration,
}

impl DashboardState {
    /// A dashboard that finds pools through `pools` and sample photos in `samples_dir` (typically
    /// `models/samples`; a missing directory only makes the samples routes answer 404).
    pub fn new(pools: PoolSource, samples_dir: impl Into<PathBuf>) -> Result<DashboardState, DashboardError> {
        DashboardState::with_timeout(pools, samples_dir, DEFAULT_CLASSIFY_TIMEOUT)
    }

    /// As [`DashboardState::new`], waiting at most `classify_timeout` for the node.
    pub fn with_timeout(
        pools: PoolSource,
        samples_dir: impl Into<PathBuf>,
        classify_timeout: Duration,
    ) -> Result<DashboardState, DashboardError> {
        // No proxy: VIPs and the controller's own API are local addresses that an HTTP_PROXY set for
        // package downloads must not see.
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| DashboardError::Client(e.to_string()))?;
        Ok(DashboardState {
            inner: Arc::new(Inner { pools, samples_dir: samples_dir.into(), client, classify_timeout }),
        })
    }

    /// The dashboard of a running controller: pools from its load balancer (when the `lb` app runs).
    pub fn for_controller(
        controller: &crate::Controller,
        samples_dir: impl Into<PathBuf>,
    ) -> Result<DashboardState, DashboardError> {
        let pools = match &controller.lb {
            Some(handle) => PoolSource::Lb(handle.clone()),
            None => PoolSource::NoLoadBalancer,
        };
        DashboardState::new(pools, samples_dir)
    }

    pub fn samples_dir(&self) -> &std::path::Path {
        &self.inner.samples_dir
    }

    pub fn pools(&self) -> &PoolSource {
        &self.inner.pools
    }

    fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    fn classify_timeout(&self) -> Duration {
        self.inner.classify_timeout
    }
}

/// The dashboard's routes, ready to merge into the REST router.
pub fn router(state: DashboardState) -> Router {
    let classify_route = post(classify::classify).layer(DefaultBodyLimit::max(CLASSIFY_BODY_LIMIT));
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::temporary("/dashboard/") }))
        .route("/dashboard/", get(assets::index))
        .route("/dashboard/assets/{file}", get(assets::asset))
        .route("/dashboard/api/info", get(info))
        .route("/dashboard/api/pools", get(list_pools))
        .route("/dashboard/api/classify", classify_route)
        .route("/dashboard/api/samples", get(samples::list))
        .route("/dashboard/api/samples/{name}", get(samples::get))
        .with_state(state)
        .layer(middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /dashboard/api/info`: what the page needs to know about this build.
async fn info() -> Response {
    let algorithms: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    Json(json!({
        "algorithms": algorithms,
        "asset_version": assets::version(),
        "controller_version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// `GET /dashboard/api/pools`: `[{"name", "vip", "port", "via"}]`, the classify targets.
async fn list_pools(State(state): State<DashboardState>) -> Result<Response, DashboardError> {
    let pools = state.pools().list(state.client()).await?;
    let body: Vec<_> = pools
        .iter()
        .map(|p| json!({"name": p.name, "vip": p.addr.ip().to_string(), "port": p.addr.port(), "via": p.addr.to_string()}))
        .collect();
    Ok(Json(body).into_response())
}
