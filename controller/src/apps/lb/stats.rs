//! What `/lb/pools` and `/lb/stats` show: a pool with its backends' health, breaker, flow counts,
//! traffic, share of new flows, probe latency and what each node reports about itself. Built from a
//! [`Pool`] plus the app's probe and flow-stats bookkeeping ([`BackendExtra`]).

use std::net::Ipv4Addr;

use ofproto::MacAddr;
use serde::Serialize;

use super::algorithm::Algorithm;
use super::backend::Backend;
use super::breaker::BreakerState;
use super::config::SteeringMode;
use super::pool::Pool;

/// `GET /lb/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LbStats {
    pub pools: Vec<PoolStats>,
}

/// One pool (also the body of `GET /lb/pools/{pool}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    pub name: String,
    pub vip: Ipv4Addr,
    pub vip_mac: MacAddr,
    pub ports: Vec<u16>,
    pub algorithm: Algorithm,
    /// How the flows the controller steers are pinned: per-flow rules or the switch's tracker.
    pub steering: SteeringMode,
    pub idle_timeout: u16,
    pub active_flows: u64,
    pub total_flows: u64,
    pub packet_ins: u64,
    /// The switch-side rules being replaced, while old connections still use them (else `null`).
    pub transition: Option<TransitionStats>,
    pub backends: Vec<BackendStats>,
}

/// A transition in progress (see `app::transition`): on `switches` switches the rules of `from` still
/// carry the connections made under them (`rules_left` rules in all) while the controller steers new
/// connections by the pool's algorithm; `to` is the algorithm whose rules go in afterwards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionStats {
    pub from: Algorithm,
    pub to: Algorithm,
    pub switches: usize,
    pub rules_left: usize,
    pub elapsed_ms: u64,
}

/// One backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendStats {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub mac: Option<MacAddr>,
    pub weight: u16,
    pub node_id: Option<String>,
    pub model_version: Option<String>,
    pub health_url: String,
    /// healthy | ejected | half_open | draining | unknown (closed but not probed yet).
    pub health: &'static str,
    pub breaker: BreakerState,
    pub eligible: bool,
    pub draining: bool,
    pub active_flows: u64,
    pub total_flows: u64,
    pub bytes: u64,
    pub packets: u64,
    /// This backend's total_flows / the pool's (0 when the pool has none).
    pub share: f64,
    pub probe_latency_ms: Option<f64>,
    pub reported_p50_ms: Option<f64>,
    pub queue_depth: Option<u32>,
    pub requests_served: Option<u64>,
    /// ok | failed: <reason> | null before the first probe.
    pub last_probe: Option<String>,
}

/// What the app knows about a backend beyond the pool's state: the last probe and the node's report,
/// and traffic counted by rules still on the switches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendExtra {
    pub last_probe: Option<String>,
    pub node_id: Option<String>,
    pub requests_served: Option<u64>,
    /// Bytes and packets of this backend's live rules, from the last flow-stats poll of every switch.
    pub live_bytes: u64,
    pub live_packets: u64,
}

/// The `health` word of a backend.
pub fn health_word(b: &Backend, probed: bool) -> &'static str {
    if b.state.draining {
        return "draining";
    }
    match b.state.breaker.state() {
        BreakerState::Open => "ejected",
        BreakerState::HalfOpen => "half_open",
        BreakerState::Closed if probed => "healthy",
        BreakerState::Closed => "unknown",
    }
}

/// The view of `pool`; `extra` gives each backend's [`BackendExtra`].
pub fn pool_stats<'a>(
    pool: &Pool,
    packet_ins: u64,
    extra: impl Fn(&Backend) -> Option<&'a BackendExtra>,
) -> PoolStats {
    let total: u64 = pool.backends().iter().map(|b| b.state.total_flows).sum();
    let empty = BackendExtra::default();
    let backends: Vec<BackendStats> = pool
        .backends()
        .iter()
        .map(|b| {
            let x = extra(b).unwrap_or(&empty);
            BackendStats {
                ip: b.spec.ip,
                port: b.spec.port,
                mac: b.mac(),
                weight: b.weight(),
                node_id: x.node_id.clone(),
                model_version: b.spec.model_version.clone(),
                health_url: b.spec.probe_url(),
                health: health_word(b, x.last_probe.is_some()),
                breaker: b.state.breaker.state(),
                eligible: b.is_eligible(),
                draining: b.state.draining,
                active_flows: b.state.active_flows,
                total_flows: b.state.total_flows,
                bytes: b.state.bytes.saturating_add(x.live_bytes),
                packets: b.state.packets.saturating_add(x.live_packets),
                share: if total == 0 { 0.0 } else { b.state.total_flows as f64 / total as f64 },
                probe_latency_ms: b.state.latency.probe_ewma_ms,
                reported_p50_ms: b.state.latency.reported_p50_ms,
                queue_depth: b.state.latency.queue_depth,
                requests_served: x.requests_served,
                last_probe: x.last_probe.clone(),
            }
        })
        .collect();
    PoolStats {
        name: pool.name().to_string(),
        vip: pool.vip(),
        vip_mac: pool.vip_mac(),
        ports: pool.config().ports.clone(),
        algorithm: pool.algorithm(),
        steering: pool.config().steering,
        idle_timeout: pool.config().idle_timeout,
        active_flows: pool.active_flows().len() as u64,
        total_flows: total,
        packet_ins,
        transition: None,
        backends,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::apps::lb::backend::BackendId;
    use crate::apps::lb::breaker::ProbeResult;
    use crate::apps::lb::pool::tests::{key, pool};

    #[test]
    fn shares_health_words_and_contract_keys() {
        let mut p = pool(Algorithm::RoundRobin, &[1, 1, 1]);
        for n in 0..4 {
            p.assign(key(n)).expect("eligible");
        }
        p.on_probe(BackendId(1), ProbeResult::Failure, None, Instant::now()).expect("exists");
        p.set_draining(BackendId(2), true).expect("exists");
        let probed = BackendExtra { last_probe: Some("ok".into()), live_bytes: 10, ..Default::default() };
        let s = pool_stats(&p, 7, |b| (b.id == BackendId(0)).then_some(&probed));
        assert_eq!((s.total_flows, s.packet_ins, s.active_flows), (4, 7, 4));
        let words: Vec<&str> = s.backends.iter().map(|b| b.health).collect();
        assert_eq!(words, vec!["healthy", "ejected", "draining"]);
        // Round robin over three: 0, 1, 2, 0.
        assert!((s.backends[0].share - 0.5).abs() < 1e-9);
        assert_eq!(s.backends[0].bytes, 10);
        let json = serde_json::to_value(&s).expect("serialises");
        for k in [
            "ip",
            "port",
            "mac",
            "weight",
            "node_id",
            "model_version",
            "health",
            "breaker",
            "eligible",
            "active_flows",
            "total_flows",
            "bytes",
            "packets",
            "share",
            "probe_latency_ms",
            "reported_p50_ms",
            "queue_depth",
            "requests_served",
            "last_probe",
        ] {
            assert!(json["backends"][0].get(k).is_some(), "missing {k}");
        }
        assert_eq!(json["backends"][1]["breaker"], "open");
        assert_eq!(json["algorithm"], "round_robin");
        assert_eq!(json["backends"][2]["last_probe"], serde_json::Value::Null);
    }
}
