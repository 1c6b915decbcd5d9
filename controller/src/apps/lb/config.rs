//! The `[lb]` section of the controller's TOML configuration: service pools and their backends.
//!
//! ```toml
//! [lb]
//! [[lb.pools]]
//! name = "resnet"
//! vip = "10.0.0.100"
//! vip_mac = "02:00:00:00:01:00"
//! ports = [8000]
//! algorithm = "least_connections"
//! [[lb.pools.backends]]
//! ip = "10.0.0.11"
//! port = 8000
//! weight = 2
//! health_url = "http://10.0.0.11:8000/healthz"
//! ```
//!
//! Every struct has defaults and rejects unknown keys; [`LbConfig::validate`] checks what serde cannot
//! (unique names and VIPs, non-empty pools, weights ≥ 1). The same structs serialise for REST.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ofproto::MacAddr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::algorithm::Algorithm;
use super::breaker::BreakerConfig;
use super::wildcard::WildcardSplit;

/// `[lb]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbConfig {
    /// Milliseconds between two health probes of one backend (default 5000, at least 100).
    pub probe_interval_ms: u64,
    /// Milliseconds a probe may take before it counts as failed (default 1000, at least 10).
    pub probe_timeout_ms: u64,
    /// Milliseconds between two flow-stats polls of every switch, which count the bytes and packets
    /// of live flows per backend (default 2000; 0 turns polling off, and traffic is then counted
    /// only when flows end). Rounded up to the app's 500 ms tick.
    pub stats_interval_ms: u64,
    /// Seconds without a packet after which a retired switch-side rule leaves the switch during a
    /// transition (default 2): when a pool in `select_group` or `wildcard` mode changes its rules
    /// (algorithm switch, weights, a backend added or back), the old rules keep carrying the
    /// connections made under them until they have been idle this long, while new connections are
    /// steered by the controller; then the new rules go in. 0 switches at once (connections made under
    /// the old rules then follow the new ones).
    pub transition_idle_s: u16,
    /// Seconds after which a transition ends even if old connections are still busy (default 60): the
    /// retired rules' hard timeout.
    pub transition_max_s: u16,
    /// Conntrack steering: seconds without a reply from the VIP to a client after which its
    /// connections are over (default 600, at least 2). The client's reply rules on its switch idle
    /// out then, and every connection of that client still counted active stops counting: one whose
    /// end the switch never saw (a client that vanished) would otherwise count forever. As the pool's
    /// `idle_timeout` for per-flow rules, a connection silent this long loses its steering.
    pub conntrack_idle_s: u16,
    pub pools: Vec<PoolConfig>,
}

/// The seed system probed every 5 s.
pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 5_000;
pub const DEFAULT_PROBE_TIMEOUT_MS: u64 = 1_000;
/// Probing faster than this would mostly measure the prober.
pub const MIN_PROBE_INTERVAL_MS: u64 = 100;
pub const MIN_PROBE_TIMEOUT_MS: u64 = 10;
pub const DEFAULT_STATS_INTERVAL_MS: u64 = 2_000;
/// Long enough for a client's request/response gap, short enough that the controller steers new
/// flows itself for only a few seconds.
pub const DEFAULT_TRANSITION_IDLE_S: u16 = 2;
/// As in Wang, Butnariu & Rexford's prototype: a minute bounds how long a transition holds.
pub const DEFAULT_TRANSITION_MAX_S: u16 = 60;
/// Ten minutes: the tracker's connections outlive any request, and a gone client is forgotten in
/// bounded time.
pub const DEFAULT_CONNTRACK_IDLE_S: u16 = 600;
/// A client's rules are sent again after half this (at least a second), before they can idle out.
pub const MIN_CONNTRACK_IDLE_S: u16 = 2;

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig {
            probe_interval_ms: DEFAULT_PROBE_INTERVAL_MS,
            probe_timeout_ms: DEFAULT_PROBE_TIMEOUT_MS,
            stats_interval_ms: DEFAULT_STATS_INTERVAL_MS,
            transition_idle_s: DEFAULT_TRANSITION_IDLE_S,
            transition_max_s: DEFAULT_TRANSITION_MAX_S,
            conntrack_idle_s: DEFAULT_CONNTRACK_IDLE_S,
            pools: Vec::new(),
        }
    }
}

/// How a flow the controller steered stays on its backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SteeringMode {
    /// Per-flow OpenFlow 1.3 rules (forward and reverse, with an idle timeout and SEND_FLOW_REM):
    /// any OpenFlow 1.3 switch.
    #[default]
    FlowRules,
    /// Open vSwitch's connection tracker (Nicira `ct` and `nat` actions): the first packet commits
    /// the connection with a destination NAT to the backend, and a few rules per backend and client
    /// carry every connection; no FLOW_MOD per flow. Open vSwitch only.
    Conntrack,
}

/// `[[lb.pools]]`: one service reachable at a virtual IP.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Unique name, used in REST paths and metric labels.
    pub name: String,
    /// The virtual IP clients connect to.
    pub vip: Ipv4Addr,
    /// The MAC the controller answers ARP for the VIP with (locally administered by default).
    #[serde(serialize_with = "ser_mac", deserialize_with = "de_mac")]
    pub vip_mac: MacAddr,
    /// TCP ports served at the VIP.
    pub ports: Vec<u16>,
    pub algorithm: Algorithm,
    /// Idle timeout in seconds of per-flow steering rules.
    pub idle_timeout: u16,
    /// Seed of the random algorithms (random, power_of_two_choices, latency_weighted).
    pub seed: u64,
    /// Prefix length of the smallest client range the wildcard mode splits by (2^bits leaves).
    pub wildcard_bits: u8,
    /// Whether the wildcard mode splits clients by the low bits of their address (default: hosts of
    /// one subnet) or by prefixes (`high_bits`, clients from the Internet).
    pub wildcard_split: WildcardSplit,
    /// How the controller pins a flow it steers to its backend (the algorithms where the switch
    /// picks are not affected).
    pub steering: SteeringMode,
    pub breaker: BreakerConfig,
    pub backends: Vec<BackendConfig>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            name: String::new(),
            vip: Ipv4Addr::UNSPECIFIED,
            vip_mac: MacAddr([0x02, 0x00, 0x00, 0x00, 0x01, 0x00]),
            ports: vec![8000],
            algorithm: Algorithm::RoundRobin,
            idle_timeout: 30,
            seed: 0x5eed,
            wildcard_bits: 4,
            wildcard_split: WildcardSplit::LowBits,
            steering: SteeringMode::FlowRules,
            breaker: BreakerConfig::default(),
            backends: Vec::new(),
        }
    }
}

/// `[[lb.pools.backends]]`: one inference node.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    pub ip: Ipv4Addr,
    /// Its MAC if known; otherwise the LB app learns it by ARP.
    #[serde(
        serialize_with = "ser_opt_mac",
        deserialize_with = "de_opt_mac",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<MacAddr>,
    /// The TCP port the backend serves on (the VIP port is rewritten only in IP, so usually the same).
    pub port: u16,
    /// Relative share of new flows (1..=65535; 0 is refused: drain a backend instead).
    pub weight: u16,
    /// URL of the node's health endpoint, probed by the LB app.
    pub health_url: Option<String>,
    /// Model version the node serves, reported over REST.
    pub model_version: Option<String>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            ip: Ipv4Addr::UNSPECIFIED,
            mac: None,
            port: 8000,
            weight: 1,
            health_url: None,
            model_version: None,
        }
    }
}

/// What is wrong with an `[lb]` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LbConfigError {
    #[error("lb.pools[{index}]: name must not be empty")]
    EmptyName { index: usize },
    #[error("lb.pools: two pools are named {0:?}")]
    DuplicateName(String),
    #[error("lb.pools: pools {first:?} and {second:?} share VIP {vip} and port {port}")]
    DuplicateVip { first: String, second: String, vip: Ipv4Addr, port: u16 },
    #[error("lb pool {pool:?}: vip must be a unicast address, got {vip}")]
    BadVip { pool: String, vip: Ipv4Addr },
    #[error("lb pool {pool:?}: vip_mac {mac} must be unicast")]
    BadVipMac { pool: String, mac: MacAddr },
    #[error("lb pool {pool:?}: at least one TCP port is needed (0 is not a port)")]
    NoPorts { pool: String },
    #[error("lb pool {pool:?}: port {port} is listed twice")]
    DuplicatePort { pool: String, port: u16 },
    #[error("lb pool {pool:?}: more than {max} ports")]
    TooManyPorts { pool: String, max: usize },
    #[error("lb pool {pool:?}: no backends")]
    NoBackends { pool: String },
    #[error("lb pool {pool:?}: backend {ip}:{port} has weight 0 (drain it instead)")]
    ZeroWeight { pool: String, ip: Ipv4Addr, port: u16 },
    #[error("lb pool {pool:?}: backend {ip} is listed twice (a pool's backends are named by address)")]
    DuplicateBackend { pool: String, ip: Ipv4Addr },
    #[error("lb pool {pool:?}: more than {max} backends")]
    TooManyBackends { pool: String, max: usize },
    #[error("lb pool {pool:?}: wildcard_bits must be 1..=16, got {bits}")]
    BadWildcardBits { pool: String, bits: u8 },
    #[error("lb pool {pool:?}: breaker: {reason}")]
    BadBreaker { pool: String, reason: &'static str },
    #[error("lb: more than {max} pools")]
    TooManyPools { max: usize },
    #[error("lb.probe_interval_ms must be at least {MIN_PROBE_INTERVAL_MS}, got {0}")]
    ProbeInterval(u64),
    #[error("lb.transition_max_s ({max}) must be at least transition_idle_s ({idle})")]
    TransitionMax { idle: u16, max: u16 },
    #[error("lb.probe_timeout_ms must be at least {MIN_PROBE_TIMEOUT_MS}, got {0}")]
    ProbeTimeout(u64),
    #[error("lb.conntrack_idle_s must be at least {MIN_CONNTRACK_IDLE_S}, got {0}")]
    ConntrackIdle(u16),
    #[error("lb pool {pool:?}: backend {ip} needs a unicast address other than the pool's VIP")]
    BadBackendAddress { pool: String, ip: Ipv4Addr },
    #[error("lb pool {pool:?}: backend {ip}: port 0 is not a port")]
    BadBackendPort { pool: String, ip: Ipv4Addr },
    #[error("lb pool {pool:?}: backend {ip}: mac {mac} must be unicast")]
    BadBackendMac { pool: String, ip: Ipv4Addr, mac: MacAddr },
    #[error("lb pool {pool:?}: backend {ip}: health_url {url:?} is not an http:// URL with a host")]
    BadHealthUrl { pool: String, ip: Ipv4Addr, url: String },
    /// An error in one backend of a pool's `backends` list, which `field` names by position.
    #[error("{inner}")]
    InBackend { index: usize, inner: Box<LbConfigError> },
    #[error(
        "lb pool {pool:?}: idle_timeout must be at least 1 s (a steered flow ends when its rules idle out)"
    )]
    ZeroIdleTimeout { pool: String },
    /// The controller would answer ARP for a backend's own address.
    #[error("lb: pool {vip_pool:?}'s VIP {ip} is a backend of pool {backend_pool:?}")]
    VipIsBackend { vip_pool: String, backend_pool: String, ip: Ipv4Addr },
    /// One VIP answers ARP with one MAC.
    #[error(
        "lb: pools {first:?} and {second:?} share VIP {vip} but not its vip_mac ({first_mac} and {second_mac})"
    )]
    VipMacDiffers { first: String, second: String, vip: Ipv4Addr, first_mac: MacAddr, second_mac: MacAddr },
    /// The switch-side modes rewrite every reply from a member's address and port to their pool's
    /// VIP, so two such pools on one backend would each take the other's replies.
    #[error(
        "lb: pools {first:?} and {second:?} both spread in the switch ({first_algorithm} and {second_algorithm}) \
         over backend {ip}:{port}; a backend can serve one switch-side pool (use a reactive algorithm for the other)"
    )]
    SharedSwitchSideBackend {
        first: String,
        second: String,
        first_algorithm: Algorithm,
        second_algorithm: Algorithm,
        ip: Ipv4Addr,
        port: u16,
    },
}

impl LbConfigError {
    /// Whether this is about how two pools get along (REST answers it with 409 Conflict) rather
    /// than about one value.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            LbConfigError::DuplicateVip { .. }
                | LbConfigError::VipIsBackend { .. }
                | LbConfigError::VipMacDiffers { .. }
                | LbConfigError::SharedSwitchSideBackend { .. }
        )
    }

    /// The config/JSON key the error is about, for REST errors (`{"error", "field"}`), e.g.
    /// `backends[1].weight` for a pool's second backend.
    pub fn field(&self) -> String {
        let key = match self {
            LbConfigError::InBackend { index, inner } => {
                return format!("backends[{index}].{}", inner.field());
            }
            LbConfigError::EmptyName { .. } | LbConfigError::DuplicateName(_) => "name",
            LbConfigError::DuplicateVip { .. } | LbConfigError::BadVip { .. } => "vip",
            LbConfigError::BadVipMac { .. } => "vip_mac",
            LbConfigError::NoPorts { .. }
            | LbConfigError::DuplicatePort { .. }
            | LbConfigError::TooManyPorts { .. } => "ports",
            LbConfigError::NoBackends { .. } | LbConfigError::TooManyBackends { .. } => "backends",
            LbConfigError::DuplicateBackend { .. } => "ip",
            LbConfigError::ZeroWeight { .. } => "weight",
            LbConfigError::BadWildcardBits { .. } => "wildcard_bits",
            LbConfigError::BadBreaker { .. } => "breaker",
            LbConfigError::TooManyPools { .. } => "pools",
            LbConfigError::ProbeInterval(_) => "probe_interval_ms",
            LbConfigError::TransitionMax { .. } => "transition_max_s",
            LbConfigError::ProbeTimeout(_) => "probe_timeout_ms",
            LbConfigError::ConntrackIdle(_) => "conntrack_idle_s",
            LbConfigError::BadHealthUrl { .. } => "health_url",
            LbConfigError::BadBackendAddress { .. } => "ip",
            LbConfigError::BadBackendPort { .. } => "port",
            LbConfigError::BadBackendMac { .. } => "mac",
            LbConfigError::ZeroIdleTimeout { .. } => "idle_timeout",
            LbConfigError::VipIsBackend { .. } => "vip",
            LbConfigError::VipMacDiffers { .. } => "vip_mac",
            LbConfigError::SharedSwitchSideBackend { .. } => "algorithm",
        };
        key.to_string()
    }
}

/// Pools and backends are numbered in 16 bits of the flow cookie (see [`super::rules::LbCookie`]);
/// the all-ones value is reserved for "no backend" (trap rules).
pub const MAX_POOLS: usize = 0xffff;
pub const MAX_BACKENDS: usize = 0xffff;
/// A pool's ports are numbered in 8 bits of its select groups' ids (see [`super::select_group`]).
pub const MAX_PORTS: usize = 256;

impl LbConfig {
    /// Checks what the types cannot: names, VIPs and backends unique, weights positive.
    pub fn validate(&self) -> Result<(), LbConfigError> {
        if self.probe_interval_ms < MIN_PROBE_INTERVAL_MS {
            return Err(LbConfigError::ProbeInterval(self.probe_interval_ms));
        }
        if self.probe_timeout_ms < MIN_PROBE_TIMEOUT_MS {
            return Err(LbConfigError::ProbeTimeout(self.probe_timeout_ms));
        }
        if self.transition_idle_s > 0 && self.transition_max_s < self.transition_idle_s {
            return Err(LbConfigError::TransitionMax {
                idle: self.transition_idle_s,
                max: self.transition_max_s,
            });
        }
        if self.conntrack_idle_s < MIN_CONNTRACK_IDLE_S {
            return Err(LbConfigError::ConntrackIdle(self.conntrack_idle_s));
        }
        if self.pools.len() > MAX_POOLS {
            return Err(LbConfigError::TooManyPools { max: MAX_POOLS });
        }
        let mut names = HashSet::new();
        let mut vips: Vec<(Ipv4Addr, u16, &str)> = Vec::new();
        for (index, pool) in self.pools.iter().enumerate() {
            if pool.name.is_empty() {
                return Err(LbConfigError::EmptyName { index });
            }
            if !names.insert(pool.name.as_str()) {
                return Err(LbConfigError::DuplicateName(pool.name.clone()));
            }
            pool.validate()?;
            for &port in &pool.ports {
                if let Some((_, _, first)) = vips.iter().find(|(v, p, _)| *v == pool.vip && *p == port) {
                    return Err(LbConfigError::DuplicateVip {
                        first: first.to_string(),
                        second: pool.name.clone(),
                        vip: pool.vip,
                        port,
                    });
                }
                vips.push((pool.vip, port, &pool.name));
            }
        }
        check_across_pools(&self.pools)
    }
}

/// What no single pool shows: a VIP that is another pool's backend, one VIP with two MACs, and two
/// switch-side pools on one backend address and port.
fn check_across_pools(pools: &[PoolConfig]) -> Result<(), LbConfigError> {
    for (i, a) in pools.iter().enumerate() {
        for b in pools {
            if let Some(backend) = b.backends.iter().find(|x| x.ip == a.vip) {
                return Err(LbConfigError::VipIsBackend {
                    vip_pool: a.name.clone(),
                    backend_pool: b.name.clone(),
                    ip: backend.ip,
                });
            }
        }
        for b in &pools[i + 1..] {
            if a.vip == b.vip && a.vip_mac != b.vip_mac {
                return Err(LbConfigError::VipMacDiffers {
                    first: a.name.clone(),
                    second: b.name.clone(),
                    vip: a.vip,
                    first_mac: a.vip_mac,
                    second_mac: b.vip_mac,
                });
            }
            if !(a.algorithm.is_switch_side() && b.algorithm.is_switch_side()) {
                continue;
            }
            let shared =
                a.backends.iter().find(|x| b.backends.iter().any(|y| y.ip == x.ip && y.port == x.port));
            if let Some(x) = shared {
                return Err(LbConfigError::SharedSwitchSideBackend {
                    first: a.name.clone(),
                    second: b.name.clone(),
                    first_algorithm: a.algorithm,
                    second_algorithm: b.algorithm,
                    ip: x.ip,
                    port: x.port,
                });
            }
        }
    }
    Ok(())
}

impl PoolConfig {
    /// Checks one pool (see [`LbConfig::validate`]).
    pub fn validate(&self) -> Result<(), LbConfigError> {
        let pool = || self.name.clone();
        if self.vip.is_unspecified() || self.vip.is_broadcast() || self.vip.is_multicast() {
            return Err(LbConfigError::BadVip { pool: pool(), vip: self.vip });
        }
        if self.vip_mac.is_multicast() || self.vip_mac == MacAddr::ZERO {
            return Err(LbConfigError::BadVipMac { pool: pool(), mac: self.vip_mac });
        }
        if self.ports.is_empty() || self.ports.contains(&0) {
            return Err(LbConfigError::NoPorts { pool: pool() });
        }
        if self.ports.len() > MAX_PORTS {
            return Err(LbConfigError::TooManyPorts { pool: pool(), max: MAX_PORTS });
        }
        let mut ports = HashSet::new();
        if let Some(&port) = self.ports.iter().find(|p| !ports.insert(**p)) {
            return Err(LbConfigError::DuplicatePort { pool: pool(), port });
        }
        if self.idle_timeout == 0 {
            return Err(LbConfigError::ZeroIdleTimeout { pool: pool() });
        }
        if self.backends.is_empty() {
            return Err(LbConfigError::NoBackends { pool: pool() });
        }
        if self.backends.len() > MAX_BACKENDS {
            return Err(LbConfigError::TooManyBackends { pool: pool(), max: MAX_BACKENDS });
        }
        if !(1..=16).contains(&self.wildcard_bits) {
            return Err(LbConfigError::BadWildcardBits { pool: pool(), bits: self.wildcard_bits });
        }
        self.breaker.validate().map_err(|reason| LbConfigError::BadBreaker { pool: pool(), reason })?;
        let mut seen = HashSet::new();
        for (index, b) in self.backends.iter().enumerate() {
            let checked = if seen.insert(b.ip) {
                b.validate(&self.name, self.vip)
            } else {
                Err(LbConfigError::DuplicateBackend { pool: pool(), ip: b.ip })
            };
            checked.map_err(|inner| LbConfigError::InBackend { index, inner: Box::new(inner) })?;
        }
        Ok(())
    }
}

impl BackendConfig {
    /// Checks one backend of pool `pool`, whose VIP is `vip`: a unicast address other than the VIP,
    /// a port, weight ≥ 1, a unicast MAC if one is given, an http:// health URL with a host.
    pub fn validate(&self, pool: &str, vip: Ipv4Addr) -> Result<(), LbConfigError> {
        if self.weight == 0 {
            return Err(LbConfigError::ZeroWeight { pool: pool.to_string(), ip: self.ip, port: self.port });
        }
        if self.ip.is_unspecified() || self.ip.is_broadcast() || self.ip.is_multicast() || self.ip == vip {
            return Err(LbConfigError::BadBackendAddress { pool: pool.to_string(), ip: self.ip });
        }
        if self.port == 0 {
            return Err(LbConfigError::BadBackendPort { pool: pool.to_string(), ip: self.ip });
        }
        if let Some(mac) = self.mac
            && (mac.is_multicast() || mac == MacAddr::ZERO)
        {
            return Err(LbConfigError::BadBackendMac { pool: pool.to_string(), ip: self.ip, mac });
        }
        if let Some(url) = &self.health_url
            && !is_http_url(url)
        {
            return Err(LbConfigError::BadHealthUrl {
                pool: pool.to_string(),
                ip: self.ip,
                url: url.clone(),
            });
        }
        Ok(())
    }

    /// The URL probed: `health_url`, else `http://<ip>:<port>/health`.
    pub fn probe_url(&self) -> String {
        self.health_url.clone().unwrap_or_else(|| format!("http://{}:{}/health", self.ip, self.port))
    }
}

/// An `http://` URL that names a host (`http://` alone parses but cannot be probed).
fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .is_ok_and(|u| u.scheme() == "http" && u.host_str().is_some_and(|h| !h.is_empty()))
}

fn ser_mac<S: Serializer>(mac: &MacAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(mac)
}

fn de_mac<'de, D: Deserializer<'de>>(d: D) -> Result<MacAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn ser_opt_mac<S: Serializer>(mac: &Option<MacAddr>, s: S) -> Result<S::Ok, S::Error> {
    match mac {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

fn de_opt_mac<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MacAddr>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| t.parse().map_err(serde::de::Error::custom)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
        [[pools]]
        name = "resnet"
        vip = "10.0.0.100"
        vip_mac = "02:00:00:00:01:00"
        ports = [8000, 8001]
        algorithm = "weighted_round_robin"
        breaker = { failure_threshold = 2, success_threshold = 3, cooldown_ms = 500 }
        [[pools.backends]]
        ip = "10.0.0.11"
        mac = "00:00:00:00:00:0b"
        weight = 2
        health_url = "http://10.0.0.11:8000/healthz"
        model_version = "resnet18-v1"
        [[pools.backends]]
        ip = "10.0.0.12"
    "#;

    #[test]
    fn parses_pools_with_defaults() {
        let cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        cfg.validate().expect("sample is valid");
        let pool = &cfg.pools[0];
        assert_eq!(pool.vip, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(pool.ports, vec![8000, 8001]);
        assert_eq!(pool.algorithm, Algorithm::WeightedRoundRobin);
        assert_eq!(pool.breaker.failure_threshold, 2);
        assert_eq!(pool.idle_timeout, 30, "default idle timeout");
        assert_eq!((cfg.transition_idle_s, cfg.transition_max_s), (2, 60), "default transition");
        assert_eq!(cfg.conntrack_idle_s, 600, "default conntrack idle");
        assert_eq!(pool.backends[0].mac, Some(MacAddr([0, 0, 0, 0, 0, 0x0b])));
        assert_eq!(pool.backends[1].mac, None, "MAC left to ARP");
        assert_eq!(pool.backends[1].weight, 1);
        assert_eq!(pool.backends[1].port, 8000);
        let json = serde_json::to_value(pool).expect("serialises");
        assert_eq!(json["vip_mac"], "02:00:00:00:01:00");
        assert_eq!(json["algorithm"], "weighted_round_robin");
    }

    #[test]
    fn backend_values_are_checked_and_named_by_position() {
        let base: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        let vip = base.pools[0].vip;
        type Spoil = fn(&mut BackendConfig, Ipv4Addr);
        let cases: [(&str, Spoil); 6] = [
            ("backends[0].ip", |b, vip| b.ip = vip),
            ("backends[0].port", |b, _| b.port = 0),
            ("backends[0].mac", |b, _| b.mac = Some(MacAddr([0xff; 6]))),
            ("backends[0].mac", |b, _| b.mac = Some(MacAddr::ZERO)),
            ("backends[0].health_url", |b, _| b.health_url = Some("http://".into())),
            ("backends[0].health_url", |b, _| b.health_url = Some("https://10.0.0.11/health".into())),
        ];
        for (field, spoil) in cases {
            let mut cfg = base.clone();
            spoil(&mut cfg.pools[0].backends[0], vip);
            let err = cfg.validate().expect_err(field);
            assert_eq!(err.field(), field, "{err}");
        }
        let mut cfg = base.clone();
        cfg.pools[0].backends[0].health_url = Some("http://10.0.0.11:8000/health".into());
        cfg.validate().expect("a full http:// URL is fine");
    }

    #[test]
    fn ports_are_unique_and_fit_the_group_ids() {
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        cfg.pools[0].ports = vec![8000, 8001, 8000];
        let err = cfg.validate().expect_err("duplicate port");
        assert_eq!(
            (err.field().as_str(), err.to_string().contains("port 8000 is listed twice")),
            ("ports", true)
        );
        cfg.pools[0].ports = (1..=MAX_PORTS as u16).collect();
        cfg.validate().expect("256 ports");
        cfg.pools[0].ports.push(9999);
        assert_eq!(cfg.validate().expect_err("257 ports").field(), "ports");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<LbConfig>("[[pools]]\nname = \"a\"\nvipp = \"10.0.0.1\"").is_err());
        assert!(toml::from_str::<LbConfig>("[[pools]]\nname = \"a\"\nalgorithm = \"fastest\"").is_err());
        assert!(toml::from_str::<LbConfig>("[[pools]]\nname = \"a\"\nvip_mac = \"zz\"").is_err());
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        cfg.pools[0].backends[1].weight = 0;
        let err = cfg.validate().expect_err("weight 0");
        assert_eq!(err.field(), "backends[1].weight", "{err}");
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        cfg.pools.push(cfg.pools[0].clone());
        assert_eq!(cfg.validate(), Err(LbConfigError::DuplicateName("resnet".into())));
        cfg.pools[1].name = "other".into();
        assert!(matches!(cfg.validate(), Err(LbConfigError::DuplicateVip { port: 8000, .. })));
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        // Backends are named by address in REST paths and metrics: one address, one backend, even
        // on another port.
        cfg.pools[0].backends[1].ip = Ipv4Addr::new(10, 0, 0, 11);
        cfg.pools[0].backends[1].port = 9000;
        let err = cfg.validate().expect_err("duplicate address");
        assert_eq!(err.field(), "backends[1].ip", "{err}");
        assert!(err.to_string().contains("10.0.0.11 is listed twice"), "{err}");
        // A transition that could end before its rules idle out is a typo; 0 turns transitions off.
        let cfg: LbConfig = toml::from_str("transition_idle_s = 5\ntransition_max_s = 3").expect("parses");
        let err = cfg.validate().expect_err("max below idle");
        assert_eq!(err.field(), "transition_max_s");
        let cfg: LbConfig = toml::from_str("transition_idle_s = 0\ntransition_max_s = 0").expect("parses");
        cfg.validate().expect("transitions off");
        // A client's reply rules are refreshed at half the idle time: under 2 s they could lapse.
        let cfg: LbConfig = toml::from_str("conntrack_idle_s = 1").expect("parses");
        let err = cfg.validate().expect_err("idle too short");
        assert_eq!(
            (err.field().as_str(), err.to_string().as_str()),
            ("conntrack_idle_s", "lb.conntrack_idle_s must be at least 2, got 1")
        );
        // Per-flow rules that never idle out would never end their flows.
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        cfg.pools[0].idle_timeout = 0;
        assert_eq!(cfg.validate().expect_err("idle 0").field(), "idle_timeout");
    }

    /// The sample's pool and a second one, "other", on the same backends at another VIP.
    fn two_pools() -> LbConfig {
        let mut cfg: LbConfig = toml::from_str(SAMPLE).expect("sample parses");
        let mut other = cfg.pools[0].clone();
        other.name = "other".into();
        other.vip = Ipv4Addr::new(10, 0, 0, 200);
        other.vip_mac = MacAddr([2, 0, 0, 0, 2, 0]);
        cfg.pools.push(other);
        cfg
    }

    #[test]
    fn pools_may_share_backends_but_not_a_switch_side_mode_on_them() {
        let mut cfg = two_pools();
        cfg.validate().expect("two reactive pools on the same backends");
        cfg.pools[0].algorithm = Algorithm::SelectGroup;
        cfg.validate().expect("one switch-side pool");
        cfg.pools[1].algorithm = Algorithm::Wildcard;
        let err = cfg.validate().expect_err("both rewrite the backends' replies");
        assert!(err.is_conflict());
        assert_eq!(err.field(), "algorithm");
        assert!(err.to_string().contains("backend 10.0.0.11:8000"), "{err}");
        // The same address on another port is another reply stream.
        for b in &mut cfg.pools[1].backends {
            b.port = 9000;
        }
        cfg.validate().expect("different backend ports");
    }

    #[test]
    fn a_vip_is_nobody_s_backend_and_has_one_mac() {
        let mut cfg = two_pools();
        cfg.pools[1].vip = Ipv4Addr::new(10, 0, 0, 12);
        cfg.pools[1].backends.retain(|b| b.ip != Ipv4Addr::new(10, 0, 0, 12));
        let err = cfg.validate().expect_err("VIP of one pool is a backend of another");
        assert_eq!((err.field().as_str(), err.is_conflict()), ("vip", true));
        assert!(
            err.to_string().contains("pool \"other\"'s VIP 10.0.0.12 is a backend of pool \"resnet\""),
            "{err}"
        );
        let mut cfg = two_pools();
        cfg.pools[1].vip = cfg.pools[0].vip;
        cfg.pools[1].ports = vec![9000];
        let err = cfg.validate().expect_err("one VIP, two MACs");
        assert_eq!(err.field(), "vip_mac");
        cfg.pools[1].vip_mac = cfg.pools[0].vip_mac;
        cfg.validate().expect("one VIP on other ports with its MAC");
    }
}
