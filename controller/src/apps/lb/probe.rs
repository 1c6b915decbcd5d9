//! `HealthProbe`: one task per backend that GETs its health URL every probe interval, with a timeout,
//! and reports each outcome to the LB app over its input channel. The app feeds the result to the
//! backend's circuit breaker; the node's own report (`rudder-node`'s `/health` JSON: `status`,
//! `node_id`, `p50_ms`, `queue_depth`, `requests_served`) feeds the latency-aware algorithms.
//!
//! A probe succeeds on HTTP 200 (a node answers 200 only when its model is ready). Anything else,
//! a connect error or the timeout is a failure with its reason.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backend::BackendId;
use super::handle::LbInput;
use super::pool::PoolId;

/// Which backend a report is about. `probe` tells a report of the current probe task from a late
/// one of a task already stopped (pool ids are reused after a pool is deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeId {
    pub pool: PoolId,
    pub backend: BackendId,
    pub probe: u64,
}

/// What a node says about itself in its `/health` body (every field optional: any JSON is accepted).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NodeHealth {
    pub status: Option<String>,
    pub node_id: Option<String>,
    pub p50_ms: Option<f64>,
    pub queue_depth: Option<u32>,
    pub requests_served: Option<u64>,
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeOutcome {
    Healthy { rtt: Duration, report: NodeHealth },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    pub id: ProbeId,
    pub outcome: ProbeOutcome,
    pub at: Instant,
}

/// Timing of the probes.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTiming {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Probes `url` once.
pub async fn probe_once(client: &reqwest::Client, url: &str, timeout: Duration) -> ProbeOutcome {
    let started = Instant::now();
    let response = match client.get(url).timeout(timeout).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return ProbeOutcome::Failed { reason: format!("no answer within {} ms", timeout.as_millis()) };
        }
        Err(e) if e.is_connect() => return ProbeOutcome::Failed { reason: "connection refused".into() },
        Err(e) => return ProbeOutcome::Failed { reason: e.to_string() },
    };
    let status = response.status();
    let body = match tokio::time::timeout(timeout.saturating_sub(started.elapsed()), response.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return ProbeOutcome::Failed { reason: format!("reading the body: {e}") },
        Err(_) => {
            return ProbeOutcome::Failed { reason: format!("no answer within {} ms", timeout.as_millis()) };
        }
    };
    let rtt = started.elapsed();
    if status != reqwest::StatusCode::OK {
        return ProbeOutcome::Failed { reason: format!("HTTP {}", status.as_u16()) };
    }
    // A body that is not the node's JSON still counts as healthy: the URL may be any health check.
    let report = serde_json::from_slice::<NodeHealth>(&body).unwrap_or_default();
    ProbeOutcome::Healthy { rtt, report }
}

/// Starts the probe task of one backend; it stops when `stop` fires or the app is gone.
pub fn spawn_probe(
    id: ProbeId,
    url: String,
    timing: ProbeTiming,
    client: reqwest::Client,
    tx: mpsc::Sender<LbInput>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(timing.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                o = probe_once(&client, &url, timing.timeout) => o,
            };
            let report = ProbeReport { id, outcome, at: Instant::now() };
            if tx.send(LbInput::Probe(report)).await.is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    use super::*;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}/health")
    }

    #[tokio::test]
    async fn healthy_node_reports_itself_and_failures_say_why() {
        let ok = serve(Router::new().route(
            "/health",
            get(|| async {
                r#"{"status":"ok","node_id":"n1","p50_ms":31.5,"queue_depth":2,"requests_served":77}"#
            }),
        ))
        .await;
        let client = reqwest::Client::new();
        let ProbeOutcome::Healthy { report, .. } = probe_once(&client, &ok, Duration::from_secs(2)).await
        else {
            panic!("expected healthy");
        };
        assert_eq!(report.node_id.as_deref(), Some("n1"));
        assert_eq!(
            (report.p50_ms, report.queue_depth, report.requests_served),
            (Some(31.5), Some(2), Some(77))
        );

        let loading =
            serve(Router::new().route("/health", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))).await;
        assert_eq!(
            probe_once(&client, &loading, Duration::from_secs(2)).await,
            ProbeOutcome::Failed { reason: "HTTP 503".into() }
        );

        let slow = serve(Router::new().route(
            "/health",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        ))
        .await;
        let ProbeOutcome::Failed { reason } = probe_once(&client, &slow, Duration::from_millis(100)).await
        else {
            panic!("expected a timeout");
        };
        assert!(reason.contains("100 ms"), "{reason}");

        // Nothing listens on port 1 of loopback.
        let refused = probe_once(&client, "http://127.0.0.1:1/health", Duration::from_secs(2)).await;
        assert!(matches!(refused, ProbeOutcome::Failed { .. }), "{refused:?}");
    }
}
