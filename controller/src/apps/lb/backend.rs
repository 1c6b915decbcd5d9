//! A backend: its static spec (from config, [`BackendConfig`]) and its live state ([`BackendState`]),
//! kept apart so that a config reload can replace the one without losing the other.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ofproto::MacAddr;
use serde::Serialize;

use super::breaker::{BreakerConfig, BreakerState, CircuitBreaker, ProbeResult, Transition};
use super::config::BackendConfig;

/// A backend's index within its pool (its position in `[[lb.pools.backends]]`). Stable for the life
/// of the pool and encoded in flow cookies, so FLOW_REMOVED messages find their backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BackendId(pub u16);

/// Weight of the newest probe latency in the moving average: about the last 5 probes matter.
pub const LATENCY_EWMA_ALPHA: f64 = 0.3;

/// Latency as the LB sees it: the EWMA of probe round trips plus what the node reports of itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Exponentially weighted moving average of health-probe round trips, ms.
    pub probe_ewma_ms: Option<f64>,
    /// The node's own median inference latency, ms.
    pub reported_p50_ms: Option<f64>,
    /// Requests waiting in the node's batcher queue.
    pub queue_depth: Option<u32>,
}

impl LatencyStats {
    /// Folds one probe round trip into the EWMA (`ewma ← α·sample + (1−α)·ewma`).
    pub fn observe_probe(&mut self, rtt: Duration) {
        let sample = rtt.as_secs_f64() * 1000.0;
        self.probe_ewma_ms = Some(match self.probe_ewma_ms {
            Some(old) => LATENCY_EWMA_ALPHA * sample + (1.0 - LATENCY_EWMA_ALPHA) * old,
            None => sample,
        });
    }

    /// Expected time for one more request, ms, or `None` if nothing is known yet:
    /// `(probe_ewma + p50) × (1 + queue_depth)`. The probe RTT is the network and HTTP cost, p50 the
    /// node's service time, and each queued request ahead of ours adds roughly one more service time.
    pub fn expected_ms(&self) -> Option<f64> {
        if self.probe_ewma_ms.is_none() && self.reported_p50_ms.is_none() {
            return None;
        }
        let base = self.probe_ewma_ms.unwrap_or(0.0) + self.reported_p50_ms.unwrap_or(0.0);
        Some(base * (1.0 + f64::from(self.queue_depth.unwrap_or(0))))
    }
}

/// Everything about a backend that changes at run time.
#[derive(Debug, Clone)]
pub struct BackendState {
    pub breaker: CircuitBreaker,
    /// MAC learned by ARP when the config gave none.
    pub learned_mac: Option<MacAddr>,
    /// Steered flows not yet removed from the switch.
    pub active_flows: u64,
    /// Flows ever steered here.
    pub total_flows: u64,
    /// Counters from FLOW_REMOVED of this backend's forward flows.
    pub bytes: u64,
    pub packets: u64,
    pub latency: LatencyStats,
    /// Draining: existing flows continue, no new ones.
    pub draining: bool,
    /// Weight override set at run time (REST), else the configured weight.
    pub weight_override: Option<u16>,
}

impl BackendState {
    pub fn new(breaker: BreakerConfig) -> BackendState {
        BackendState {
            breaker: CircuitBreaker::new(breaker),
            learned_mac: None,
            active_flows: 0,
            total_flows: 0,
            bytes: 0,
            packets: 0,
            latency: LatencyStats::default(),
            draining: false,
            weight_override: None,
        }
    }
}

/// One backend of a pool.
#[derive(Debug, Clone)]
pub struct Backend {
    pub id: BackendId,
    pub spec: BackendConfig,
    pub state: BackendState,
}

impl Backend {
    pub fn new(id: BackendId, spec: BackendConfig, breaker: BreakerConfig) -> Backend {
        Backend { id, spec, state: BackendState::new(breaker) }
    }

    /// May receive new flows: breaker closed, not draining, weight above 0.
    pub fn is_eligible(&self) -> bool {
        self.state.breaker.admits_new_flows() && !self.state.draining && self.weight() > 0
    }

    pub fn weight(&self) -> u16 {
        self.state.weight_override.unwrap_or(self.spec.weight)
    }

    /// The configured MAC, else the one learned by ARP.
    pub fn mac(&self) -> Option<MacAddr> {
        self.spec.mac.or(self.state.learned_mac)
    }

    /// A stable 64-bit key for consistent hashing: independent of the backend's position in the
    /// config and of process restarts, so clients keep their backend across both.
    pub fn hash_key(&self) -> u64 {
        backend_hash_key(self.spec.ip, self.spec.port)
    }

    /// Feeds one health-probe result (with its round trip when it succeeded).
    pub fn on_probe(&mut self, result: ProbeResult, rtt: Option<Duration>, now: Instant) -> Vec<Transition> {
        if let (ProbeResult::Success, Some(rtt)) = (result, rtt) {
            self.state.latency.observe_probe(rtt);
        }
        self.state.breaker.on_probe(result, now)
    }

    /// What REST shows about the backend.
    pub fn status(&self) -> BackendStatus {
        BackendStatus {
            id: self.id,
            ip: self.spec.ip,
            port: self.spec.port,
            mac: self.mac(),
            weight: self.weight(),
            health_url: self.spec.health_url.clone(),
            model_version: self.spec.model_version.clone(),
            breaker: self.state.breaker.state(),
            eligible: self.is_eligible(),
            draining: self.state.draining,
            active_flows: self.state.active_flows,
            total_flows: self.state.total_flows,
            bytes: self.state.bytes,
            packets: self.state.packets,
            latency: self.state.latency,
        }
    }
}

/// FNV-1a over the backend's address and port, finished with SplitMix64's mixer. Written out rather
/// than `DefaultHasher` because std does not promise that hasher's output across Rust releases.
pub fn backend_hash_key(ip: Ipv4Addr, port: u16) -> u64 {
    let mut bytes = [0u8; 6];
    bytes[..4].copy_from_slice(&ip.octets());
    bytes[4..].copy_from_slice(&port.to_be_bytes());
    mix64(fnv1a(&bytes, 0xcbf2_9ce4_8422_2325))
}

/// FNV-1a 64 with a caller-chosen offset basis (different bases give independent hashes).
pub fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    bytes.iter().fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// SplitMix64's finaliser: spreads every input bit over the whole output.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A backend as REST shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendStatus {
    pub id: BackendId,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub mac: Option<MacAddr>,
    pub weight: u16,
    pub health_url: Option<String>,
    pub model_version: Option<String>,
    pub breaker: BreakerState,
    pub eligible: bool,
    pub draining: bool,
    pub active_flows: u64,
    pub total_flows: u64,
    pub bytes: u64,
    pub packets: u64,
    pub latency: LatencyStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> Backend {
        let spec = BackendConfig { ip: Ipv4Addr::new(10, 0, 0, 11), ..BackendConfig::default() };
        Backend::new(BackendId(0), spec, BreakerConfig { failure_threshold: 1, ..BreakerConfig::default() })
    }

    #[test]
    fn eligibility_follows_breaker_draining_and_weight() {
        let mut b = backend();
        assert!(b.is_eligible());
        b.state.draining = true;
        assert!(!b.is_eligible());
        b.state.draining = false;
        b.state.weight_override = Some(0);
        assert!(!b.is_eligible());
        b.state.weight_override = None;
        b.on_probe(ProbeResult::Failure, None, Instant::now());
        assert!(!b.is_eligible(), "breaker opened after K=1 failure");
        assert!(!b.status().eligible);
    }

    #[test]
    fn ewma_and_expected_latency() {
        let mut l = LatencyStats::default();
        assert_eq!(l.expected_ms(), None);
        l.observe_probe(Duration::from_millis(10));
        assert_eq!(l.probe_ewma_ms, Some(10.0));
        l.observe_probe(Duration::from_millis(20));
        assert!((l.probe_ewma_ms.unwrap_or_default() - 13.0).abs() < 1e-9);
        l.reported_p50_ms = Some(7.0);
        l.queue_depth = Some(1);
        assert!((l.expected_ms().unwrap_or_default() - 40.0).abs() < 1e-9);
    }

    #[test]
    fn hash_key_is_stable_and_distinct() {
        let a = backend_hash_key(Ipv4Addr::new(10, 0, 0, 11), 8000);
        assert_eq!(a, backend_hash_key(Ipv4Addr::new(10, 0, 0, 11), 8000));
        assert_ne!(a, backend_hash_key(Ipv4Addr::new(10, 0, 0, 12), 8000));
        assert_ne!(a, backend_hash_key(Ipv4Addr::new(10, 0, 0, 11), 8001));
    }
}
