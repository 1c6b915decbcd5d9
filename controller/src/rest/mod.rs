//! The REST API: Ryu `ofctl_rest`-compatible routes (`/stats/...`) and Prometheus `/metrics`.
//!
//! This module owns the router, the shared [`ApiState`], and the helpers every resource module uses to
//! reach a switch: look it up by dpid, run a multipart request, and send a modification followed by a
//! barrier so that an OFPT_ERROR for it is reported to the caller (OF1.3.5 §6.2: a switch answers a
//! barrier only after every earlier message, errors included). Resource modules: [`stats`] (switches,
//! desc, flows, aggregate, tables, ports, queues, queue configs, role), [`experimenter`], [`flowentry`], [`groupentry`],
//! [`meterentry`], [`portdesc`]; the topology app's routes in [`topology`] (merged by
//! [`ApiState::new`] when that app runs); the load balancer's `/lb/*` in [`lb`] (served by [`router`]
//! when that app runs); JSON conversion in [`ofctl_json`]; errors in [`error`]; the
//! bearer token in [`auth`]; the poller behind the `of_port_*` gauges in [`port_stats_poller`].

pub mod auth;
pub mod error;
pub mod experimenter;
pub mod flowentry;
pub mod groupentry;
// The load balancer's /lb/* routes, served when the lb app runs.
pub mod lb;
pub mod meterentry;
pub mod ofctl_json;
pub mod port_stats_poller;
pub mod portdesc;
pub mod stats;
// Ryu topology REST (/v1.0/topology/*), owned by the topology app.
pub mod topology;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use ofproto::Message;
use ofproto::multipart::{MultipartReplyBody, MultipartRequest, MultipartRequestBody};
use serde_json::Value;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use error::ApiError;
pub use port_stats_poller::spawn_port_stats_poller;

use crate::Controller;
use crate::ofp::datapath::DatapathHandle;
use ofctl_json::parse_int_text;

/// Largest request body accepted; larger ones get 413.
pub const BODY_LIMIT: usize = 1 << 20;

/// What the handlers share: the controller, the token mutating routes require, and routers of other
/// components (e.g. the topology app's `/v1.0/topology/*`) served alongside.
#[derive(Clone)]
pub struct ApiState {
    pub controller: Controller,
    /// Bearer token for mutating routes; `None` leaves them open (the API binds to loopback by default).
    pub token: Option<String>,
    /// Extra routes merged into [`router`], under the same body limit and 404 handling.
    pub extra: Router,
}

impl ApiState {
    /// The API of `controller`; when the topology app runs, its `/v1.0/topology/*` routes are included.
    pub fn new(controller: Controller, token: Option<String>) -> ApiState {
        let extra = match &controller.topology {
            Some(view) => topology::router(view.clone()),
            None => Router::new(),
        };
        ApiState { controller, token, extra }
    }

    /// Serves `routes` too (e.g. `rest::topology::router(view)`); paths must not collide with `/stats`.
    pub fn with_routes(mut self, routes: Router) -> ApiState {
        self.extra = self.extra.merge(routes);
        self
    }

    /// How long a request to a switch may take (the controller's configured request timeout).
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.controller.config.openflow.request_timeout_ms.max(10))
    }
}

/// The complete API: `/stats/*`, `/metrics`, the extra routes, JSON 404/405, the body limit.
pub fn router(state: ApiState) -> Router {
    let extra = state.extra.clone();
    let api = Router::new()
        .route("/stats/switches", get(stats::switches))
        .route("/stats/desc/{dpid}", get(stats::desc))
        .route("/stats/flow/{dpid}", get(stats::flows).post(stats::flows_filtered))
        .route("/stats/aggregateflow/{dpid}", get(stats::aggregate).post(stats::aggregate_filtered))
        .route("/stats/table/{dpid}", get(stats::tables))
        .route("/stats/tablefeatures/{dpid}", get(stats::table_features))
        .route("/stats/port/{dpid}", get(stats::ports))
        .route("/stats/port/{dpid}/{port}", get(stats::port))
        .route("/stats/queue/{dpid}", get(stats::queues))
        .route("/stats/queue/{dpid}/{port}", get(stats::queues_of_port))
        .route("/stats/queue/{dpid}/{port}/{queue_id}", get(stats::queue))
        .route("/stats/queueconfig/{dpid}", get(stats::queue_configs))
        .route("/stats/queueconfig/{dpid}/{port}", get(stats::queue_config_of_port))
        .route("/stats/experimenter/{dpid}", post(experimenter::send))
        .route("/stats/role/{dpid}", get(stats::role))
        .route("/stats/role", post(stats::set_role))
        .route("/stats/portdesc/{dpid}", get(portdesc::port_desc).post(portdesc::modify))
        .route("/stats/group/{dpid}", get(groupentry::stats))
        .route("/stats/group/{dpid}/{group_id}", get(groupentry::stats_of))
        .route("/stats/groupdesc/{dpid}", get(groupentry::desc))
        .route("/stats/groupfeatures/{dpid}", get(groupentry::features))
        .route("/stats/groupentry/{cmd}", post(groupentry::modify))
        .route("/stats/meter/{dpid}", get(meterentry::stats))
        .route("/stats/meter/{dpid}/{meter_id}", get(meterentry::stats_of))
        .route("/stats/meterconfig/{dpid}", get(meterentry::config))
        .route("/stats/meterconfig/{dpid}/{meter_id}", get(meterentry::config_of))
        .route("/stats/meterfeatures/{dpid}", get(meterentry::features))
        .route("/stats/meterentry/{cmd}", post(meterentry::modify))
        .route("/stats/flowentry/{cmd}", post(flowentry::modify))
        .route("/stats/flowentry/clear/{dpid}", delete(flowentry::clear))
        .route("/metrics", get(metrics));
    let api = if state.controller.lb.is_some() { api.merge(lb::routes()) } else { api };
    let api = api.with_state(state);
    api.merge(extra)
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// How long a client has for its first byte, then for each request's headers, and for its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for open requests (a REST call waits at most a few seconds for a switch).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves [`router`] on `listener` until `shutdown` resolves; in-flight requests then get
/// [`DRAIN_TIMEOUT`] to finish. A connection that sends nothing, or stalls in its headers or body,
/// is closed after [`READ_TIMEOUT`] (`axum::serve` would hold it, and its file descriptor, for ever).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "REST API listening");
    let router = router(state).layer(RequestBodyTimeoutLayer::new(READ_TIMEOUT));
    rudder_http::serve(listener, router, shutdown, READ_TIMEOUT, DRAIN_TIMEOUT).await;
    Ok(())
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn metrics(axum::extract::State(state): axum::extract::State<ApiState>) -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.controller.metrics.render())
}

/// Ryu's dpid parsing (`int(str(dpid), 0)`): decimal, or hex with `0x` (also `0o`, `0b`).
pub fn parse_dpid(text: &str) -> Result<u64, ApiError> {
    parse_int_text(text).ok_or_else(|| {
        ApiError::BadRequest(format!("dpid: expected a decimal or 0x-hex datapath id, got {text:?}"))
    })
}

/// The `dpid` of a mutating body (a number or a numeric string, as Ryu accepts).
pub fn body_dpid(body: &Value) -> Result<u64, ApiError> {
    match body.get("dpid") {
        None | Some(Value::Null) => Err(ApiError::BadRequest("dpid: missing".into())),
        Some(Value::String(s)) => parse_dpid(s),
        Some(Value::Number(n)) => {
            n.as_u64().ok_or_else(|| ApiError::BadRequest(format!("dpid: expected a datapath id, got {n}")))
        }
        Some(other) => {
            Err(ApiError::BadRequest(format!("dpid: expected a number, got {}", ofctl_json::kind(other))))
        }
    }
}

/// The connected switch with this dpid, or 404.
pub fn datapath(state: &ApiState, dpid: u64) -> Result<DatapathHandle, ApiError> {
    state.controller.registry.get(dpid).ok_or(ApiError::UnknownSwitch(dpid))
}

/// Runs one multipart request (REPLY_MORE parts already reassembled by the connection).
pub async fn multipart(
    dp: &DatapathHandle,
    body: MultipartRequestBody,
) -> Result<MultipartReplyBody, ApiError> {
    match dp.request(&Message::MultipartRequest(MultipartRequest::new(body))).await? {
        Message::MultipartReply(reply) => Ok(reply.body),
        other => Err(wrong_message("MULTIPART_REPLY", &other)),
    }
}

/// The reply body did not have the type the request asked for.
pub fn wrong_reply(expected: &str, got: &MultipartReplyBody) -> ApiError {
    ApiError::BadReply(format!("expected a {expected} reply, got {:?}", got.mp_type()))
}

/// A reply of another message type than the request calls for (`expected` is the spec's name).
pub fn wrong_message(expected: &str, got: &Message) -> ApiError {
    ApiError::BadReply(format!("expected {expected}, got {:?}", got.msg_type()))
}

/// Sends a modification and a barrier; Ok once the switch has applied it, `ApiError::Switch` if it
/// answered the modification with OFPT_ERROR.
///
/// The modification is sent as a request (so its xid is awaited) and polled before the barrier, so it
/// is queued first. The switch processes messages in order and answers the barrier last (OF1.3.5 §6.2),
/// and the connection's reader completes waiters in arrival order, so when the barrier completes any
/// error for the modification has already been delivered. A successful modification has no reply, so
/// its waiter is left to expire in the background, which also removes its xid from the pending table.
pub async fn send_confirmed(state: &ApiState, dp: &DatapathHandle, msg: Message) -> Result<(), ApiError> {
    let watch_for = state.request_timeout() + Duration::from_secs(1);
    let watcher = dp.clone();
    let mut outcome = Box::pin(async move { watcher.request_with_timeout(&msg, watch_for).await });
    let barrier = dp.barrier();
    tokio::pin!(barrier);
    tokio::select! {
        biased;
        answer = &mut outcome => match answer {
            Err(e) => Err(e.into()),
            Ok(reply) => Err(ApiError::BadReply(format!("unexpected {:?} in answer to a modification", reply.msg_type()))),
        },
        done = &mut barrier => {
            done?;
            tokio::spawn(async move {
                let _ = outcome.await;
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
