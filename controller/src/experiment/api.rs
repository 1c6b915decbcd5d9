//! The controller's REST API as the experiment uses it: the load balancer's `/lb/*` routes (reset a
//! pool, set its algorithm, a weight, read `/lb/stats`), flow-table sizes from the Ryu-style
//! `/stats/*` routes, and counters from `/metrics`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// A client of one controller's REST API.
#[derive(Debug, Clone)]
pub struct ControllerApi {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

/// One backend as `/lb/stats` reports it (only the fields the experiment reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BackendStats {
    pub ip: Ipv4Addr,
    #[serde(default)]
    pub node_id: Option<String>,
    #[serde(default)]
    pub health: String,
    #[serde(default)]
    pub total_flows: u64,
    #[serde(default)]
    pub active_flows: u64,
}

/// One pool as `/lb/stats` reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PoolStats {
    pub name: String,
    #[serde(default)]
    pub algorithm: String,
    #[serde(default)]
    pub backends: Vec<BackendStats>,
}

#[derive(Debug, Clone, Deserialize)]
struct LbStats {
    pools: Vec<PoolStats>,
}

impl ControllerApi {
    pub fn new(addr: SocketAddr, token: Option<String>) -> anyhow::Result<ControllerApi> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the REST client")?;
        Ok(ControllerApi { base: format!("http://{addr}"), token, client })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends, and turns a non-2xx reply into an error quoting the controller's JSON error.
    async fn call(&self, what: &str, r: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response =
            r.send().await.with_context(|| format!("{what}: the controller's REST API did not answer"))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("{what}: {status}: {}", body.trim());
        }
        Ok(response)
    }

    /// Whether the API answers at all.
    pub async fn is_reachable(&self) -> bool {
        self.request(reqwest::Method::GET, "/stats/switches")
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    pub async fn metrics(&self) -> anyhow::Result<String> {
        let r = self.call("GET /metrics", self.request(reqwest::Method::GET, "/metrics")).await?;
        Ok(r.text().await?)
    }

    /// Replaces a pool by `config` (DELETE, then POST): its flows leave every switch and its
    /// counters start from zero, so runs do not see each other's state.
    pub async fn recreate_pool(&self, name: &str, config: &serde_json::Value) -> anyhow::Result<()> {
        let path = format!("/lb/pools/{name}");
        let response = self.request(reqwest::Method::DELETE, &path).send().await.context("DELETE pool")?;
        if !(response.status().is_success() || response.status() == reqwest::StatusCode::NOT_FOUND) {
            let status = response.status();
            bail!("DELETE {path}: {status}: {}", response.text().await.unwrap_or_default().trim());
        }
        self.call("POST /lb/pools", self.request(reqwest::Method::POST, "/lb/pools").json(config)).await?;
        Ok(())
    }

    pub async fn set_algorithm(&self, pool: &str, algorithm: &str) -> anyhow::Result<()> {
        let path = format!("/lb/pools/{pool}/algorithm");
        let body = serde_json::json!({ "algorithm": algorithm });
        self.call(&format!("PUT {path}"), self.request(reqwest::Method::PUT, &path).json(&body)).await?;
        Ok(())
    }

    pub async fn set_weight(&self, pool: &str, ip: Ipv4Addr, weight: u16) -> anyhow::Result<()> {
        let path = format!("/lb/pools/{pool}/backends/{ip}");
        let body = serde_json::json!({ "weight": weight });
        self.call(&format!("PATCH {path}"), self.request(reqwest::Method::PATCH, &path).json(&body)).await?;
        Ok(())
    }

    pub async fn pool_stats(&self, pool: &str) -> anyhow::Result<PoolStats> {
        let r = self.call("GET /lb/stats", self.request(reqwest::Method::GET, "/lb/stats")).await?;
        let stats: LbStats = r.json().await.context("GET /lb/stats: unexpected JSON")?;
        stats
            .pools
            .into_iter()
            .find(|p| p.name == pool)
            .with_context(|| format!("/lb/stats has no pool {pool:?}"))
    }

    /// The connected switches' datapath ids.
    pub async fn switches(&self) -> anyhow::Result<Vec<u64>> {
        let r =
            self.call("GET /stats/switches", self.request(reqwest::Method::GET, "/stats/switches")).await?;
        r.json().await.context("GET /stats/switches: unexpected JSON")
    }

    /// Flow entries in one switch (`/stats/aggregateflow/{dpid}`, Ryu format).
    pub async fn flow_count(&self, dpid: u64) -> anyhow::Result<u64> {
        let path = format!("/stats/aggregateflow/{dpid}");
        let r = self.call(&format!("GET {path}"), self.request(reqwest::Method::GET, &path)).await?;
        let json: serde_json::Value = r.json().await?;
        aggregate_flow_count(&json).with_context(|| format!("GET {path}: no flow_count in {json}"))
    }
}

/// `flow_count` of a Ryu `/stats/aggregateflow` reply: `{"1": [{"flow_count": N, ...}]}`.
pub fn aggregate_flow_count(json: &serde_json::Value) -> Option<u64> {
    let (_, list) = json.as_object()?.iter().next()?;
    list.get(0)?.get("flow_count")?.as_u64()
}

/// The sum of every series of the counter or gauge `name` in Prometheus text, restricted to
/// series whose labels include all of `labels` (`key="value"`). 0 when there is none.
pub fn prometheus_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_part, value) = match rest.strip_prefix('{') {
                Some(r) => {
                    let (inside, after) = r.split_once('}')?;
                    (inside, after)
                }
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let parsed: BTreeMap<&str, &str> = label_part
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
                .collect();
            if !labels.iter().all(|(k, v)| parsed.get(k) == Some(v)) {
                return None;
            }
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_sums_matching_series_only() {
        let text = "# HELP of_packet_ins PACKET_IN messages received\n\
                    # TYPE of_packet_ins counter\n\
                    of_packet_ins{dpid=\"1\"} 10\n\
                    of_packet_ins{dpid=\"2\"} 5\n\
                    of_packet_ins_dropped{app=\"lb\"} 99\n\
                    rudder_lb_packet_ins_total{pool=\"v1\"} 7\n\
                    rudder_lb_packet_ins_total{pool=\"v2\"} 3\n\
                    plain 4.5\n";
        assert_eq!(prometheus_sum(text, "of_packet_ins", &[]), 15.0);
        assert_eq!(prometheus_sum(text, "rudder_lb_packet_ins_total", &[("pool", "v1")]), 7.0);
        assert_eq!(prometheus_sum(text, "plain", &[]), 4.5);
        assert_eq!(prometheus_sum(text, "missing", &[]), 0.0);
    }

    #[test]
    fn aggregate_flow_count_reads_ryu_format() {
        let json = serde_json::json!({"1": [{"packet_count": 3, "byte_count": 100, "flow_count": 12}]});
        assert_eq!(aggregate_flow_count(&json), Some(12));
        assert_eq!(aggregate_flow_count(&serde_json::json!({})), None);
    }

    #[test]
    fn lb_stats_parse_from_the_contract_example() {
        let body = serde_json::json!({"pools": [{"name": "v1", "vip": "10.0.0.100", "ports": [8000],
            "algorithm": "round_robin", "active_flows": 3, "total_flows": 120, "packet_ins": 130,
            "backends": [{"ip": "10.0.0.11", "port": 8000, "mac": "02:00:00:00:00:0b", "weight": 1,
                "node_id": "n1", "model_version": "v1", "health": "healthy", "breaker": "closed",
                "eligible": true, "active_flows": 1, "total_flows": 40, "bytes": 123456, "packets": 321,
                "share": 0.333, "probe_latency_ms": null, "reported_p50_ms": 31.0, "queue_depth": 0,
                "requests_served": 77, "last_probe": "ok"}]}]});
        let stats: LbStats = serde_json::from_value(body).unwrap();
        let b = &stats.pools[0].backends[0];
        assert_eq!((b.ip, b.health.as_str(), b.total_flows), (Ipv4Addr::new(10, 0, 0, 11), "healthy", 40));
    }
}
