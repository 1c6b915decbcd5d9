//! Where the classify proxy finds a pool's VIP: the running load balancer (through its [`LbHandle`],
//! or its REST view `GET /lb/stats` when the dashboard runs apart from the controller), or a fixed
//! table.
//!
//! Asking the load balancer on every request rather than keeping a copy of the config means pools
//! added or removed at run time (`POST /lb/pools`, `DELETE /lb/pools/{pool}`) are seen at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

use super::DashboardError;
use crate::apps::lb::LbHandle;

/// How long reading the pool list from the controller's own API may take.
const LB_API_TIMEOUT: Duration = Duration::from_secs(5);

/// One classify target: a pool's name and its VIP with the pool's first port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTarget {
    pub name: String,
    pub addr: SocketAddr,
}

impl PoolTarget {
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> PoolTarget {
        PoolTarget { name: name.into(), addr }
    }
}

/// How the dashboard learns the pools.
#[derive(Debug, Clone)]
pub enum PoolSource {
    /// The load balancer app of this controller.
    Lb(LbHandle),
    /// The controller runs without the `lb` app: every lookup says so.
    NoLoadBalancer,
    /// `GET {base}/lb/stats` on the controller's REST API, e.g. `base = "http://127.0.0.1:8080"`.
    LbApi { base: String },
    /// A fixed table (tests; or a controller whose pools never change).
    Fixed(Vec<PoolTarget>),
}

impl PoolSource {
    /// The load balancer of the controller whose REST API listens on `api_addr`; a wildcard listen
    /// address (`0.0.0.0`, `::`) is reached over loopback.
    pub fn own_api(api_addr: SocketAddr) -> PoolSource {
        let ip = match api_addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        PoolSource::LbApi { base: format!("http://{}", SocketAddr::new(ip, api_addr.port())) }
    }

    /// Every pool, in the load balancer's order.
    pub async fn list(&self, client: &reqwest::Client) -> Result<Vec<PoolTarget>, DashboardError> {
        match self {
            PoolSource::Fixed(pools) => Ok(pools.clone()),
            PoolSource::NoLoadBalancer => Err(lb_not_running()),
            PoolSource::Lb(handle) => {
                let pools = handle.pools().await.map_err(|e| DashboardError::LbUnavailable(e.to_string()))?;
                Ok(pools
                    .into_iter()
                    .filter_map(|p| {
                        let port = *p.ports.first()?;
                        Some(PoolTarget::new(p.name, SocketAddr::new(IpAddr::V4(p.vip), port)))
                    })
                    .collect())
            }
            PoolSource::LbApi { base } => {
                let url = format!("{base}/lb/stats");
                let unavailable = |why: String| DashboardError::LbUnavailable(format!("GET {url}: {why}"));
                let response = client
                    .get(&url)
                    .timeout(LB_API_TIMEOUT)
                    .send()
                    .await
                    .map_err(|e| unavailable(error_chain(&e)))?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Err(lb_not_running());
                }
                if !status.is_success() {
                    return Err(unavailable(format!("status {status}")));
                }
                let body: Value = response.json().await.map_err(|e| unavailable(error_chain(&e)))?;
                parse_lb_stats(&body).map_err(unavailable)
            }
        }
    }

    /// The pool named `name`, or [`DashboardError::UnknownPool`] listing the known ones.
    pub async fn resolve(&self, client: &reqwest::Client, name: &str) -> Result<PoolTarget, DashboardError> {
        let pools = self.list(client).await?;
        match pools.iter().find(|p| p.name == name) {
            Some(p) => Ok(p.clone()),
            None => Err(DashboardError::UnknownPool {
                name: name.to_string(),
                known: pools.into_iter().map(|p| p.name).collect(),
            }),
        }
    }
}

fn lb_not_running() -> DashboardError {
    DashboardError::LbUnavailable(
        "the load balancer is not running (add \"lb\" to the controller's apps)".into(),
    )
}

/// The classify targets in a `GET /lb/stats` document: `{"pools": [{"name", "vip", "ports": [..]}]}`.
/// A pool without ports cannot be reached and is left out.
pub fn parse_lb_stats(stats: &Value) -> Result<Vec<PoolTarget>, String> {
    let pools = stats
        .get("pools")
        .and_then(Value::as_array)
        .ok_or_else(|| "expected an object with a \"pools\" array".to_string())?;
    let mut targets = Vec::with_capacity(pools.len());
    for (i, pool) in pools.iter().enumerate() {
        let name = pool
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("pools[{i}].name: expected a string"))?;
        let vip: IpAddr = pool
            .get("vip")
            .and_then(Value::as_str)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("pools[{i}].vip: expected an IP address"))?;
        let ports = pool
            .get("ports")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("pools[{i}].ports: expected an array"))?;
        let first = ports.first().map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()));
        match first {
            None => continue,
            Some(None) | Some(Some(0)) => return Err(format!("pools[{i}].ports[0]: expected a TCP port")),
            Some(Some(port)) => targets.push(PoolTarget::new(name, SocketAddr::new(vip, port))),
        }
    }
    Ok(targets)
}

/// A reqwest error with its causes ("error sending request: connection refused"), which its
/// `Display` alone leaves out.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn own_api_reaches_a_wildcard_listener_over_loopback() {
        let base = |a: &str| match PoolSource::own_api(a.parse().unwrap()) {
            PoolSource::LbApi { base } => base,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(base("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(base("[::]:9000"), "http://[::1]:9000");
        assert_eq!(base("10.0.0.254:8080"), "http://10.0.0.254:8080");
    }

    #[test]
    fn reads_targets_from_the_lb_stats_contract() {
        let stats = json!({"pools": [
            {"name": "v1", "vip": "10.0.0.100", "ports": [8000, 8001], "algorithm": "round_robin", "backends": []},
            {"name": "v2", "vip": "10.0.0.200", "ports": [9000]},
            {"name": "portless", "vip": "10.0.0.201", "ports": []},
        ]});
        assert_eq!(
            parse_lb_stats(&stats).unwrap(),
            vec![
                PoolTarget::new("v1", "10.0.0.100:8000".parse().unwrap()),
                PoolTarget::new("v2", "10.0.0.200:9000".parse().unwrap()),
            ]
        );
    }

    #[test]
    fn malformed_stats_name_the_bad_key() {
        assert!(parse_lb_stats(&json!([])).unwrap_err().contains("\"pools\""));
        let bad_vip = json!({"pools": [{"name": "v1", "vip": "ten", "ports": [1]}]});
        assert_eq!(parse_lb_stats(&bad_vip).unwrap_err(), "pools[0].vip: expected an IP address");
        let bad_port = json!({"pools": [{"name": "v1", "vip": "10.0.0.1", "ports": [70000]}]});
        assert_eq!(parse_lb_stats(&bad_port).unwrap_err(), "pools[0].ports[0]: expected a TCP port");
    }

    #[tokio::test]
    async fn without_the_lb_app_lookups_say_so() {
        let err = PoolSource::NoLoadBalancer.resolve(&reqwest::Client::new(), "v1").await.unwrap_err();
        assert!(err.to_string().contains("load balancer is not running"), "{err}");
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn unknown_pool_lists_the_known_ones() {
        let source = PoolSource::Fixed(vec![PoolTarget::new("v1", "127.0.0.1:1".parse().unwrap())]);
        let client = reqwest::Client::new();
        assert_eq!(source.resolve(&client, "v1").await.unwrap().addr.port(), 1);
        assert_eq!(
            source.resolve(&client, "v2").await.unwrap_err(),
            DashboardError::UnknownPool { name: "v2".into(), known: vec!["v1".into()] }
        );
    }

    /// Serves `routes` on a loopback port and returns its pool source.
    async fn api_with(routes: axum::Router) -> PoolSource {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        PoolSource::own_api(addr)
    }

    #[tokio::test]
    async fn lb_api_source_follows_the_live_pool_list() {
        let stats = json!({"pools": [{"name": "v1", "vip": "10.0.0.100", "ports": [8000]}]});
        let routes = axum::Router::new()
            .route("/lb/stats", axum::routing::get(move || async move { axum::Json(stats.clone()) }));
        let source = api_with(routes).await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let target = source.resolve(&client, "v1").await.unwrap();
        assert_eq!(target.addr, "10.0.0.100:8000".parse().unwrap());
    }

    #[tokio::test]
    async fn lb_api_without_the_lb_app_says_so() {
        let source = api_with(axum::Router::new()).await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let err = source.list(&client).await.unwrap_err();
        assert!(matches!(&err, DashboardError::LbUnavailable(m) if m.contains("not running")), "{err}");
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn unreachable_api_is_503_naming_the_url() {
        // Bind and drop to get a port nobody listens on.
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let err = PoolSource::own_api(addr).list(&client).await.unwrap_err();
        assert!(err.to_string().contains(&format!("GET http://{addr}/lb/stats")), "{err}");
    }
}
