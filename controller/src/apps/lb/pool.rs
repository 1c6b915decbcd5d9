//! A service pool: the VIP, its backends (spec + live state), the selector in use, and the table of
//! flows it has steered. All decisions the LB app makes about a pool go through here.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ofproto::MacAddr;
use serde::Serialize;

use super::algorithm::{Algorithm, Candidate, ClientKey, SelectionContext, Selector};
use super::backend::{Backend, BackendId, BackendStatus};
use super::breaker::BreakerState;
use super::breaker::{ProbeResult, Transition};
use super::config::{BackendConfig, LbConfigError, PoolConfig};
use super::rules::{BackendPort, RuleGeneration};
use super::wildcard::{WildcardAssignment, WildcardTransition, WildcardVip, transition};

/// A pool's index in `[[lb.pools]]`; encoded in flow cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PoolId(pub u16);

/// One client connection to the VIP (the VIP address itself is the pool's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FlowKey {
    pub client_ip: Ipv4Addr,
    pub client_port: u16,
    pub vip_port: u16,
}

impl FlowKey {
    pub fn client(&self) -> ClientKey {
        ClientKey { ip: self.client_ip, port: self.client_port }
    }
}

/// Where a chosen backend is, as flow rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendTarget {
    pub id: BackendId,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    pub port: u16,
    pub weight: u16,
}

/// What went wrong with a pool operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("pool {pool:?}: no eligible backend (all ejected, draining or weight 0)")]
    NoEligibleBackend { pool: String },
    #[error("pool {pool:?}: no backend {id}")]
    UnknownBackend { pool: String, id: u16 },
    #[error("pool {pool:?}: MAC of backend {ip} not known yet (no ARP reply)")]
    MacUnknown { pool: String, ip: Ipv4Addr },
    #[error("pool {pool:?}: selector {selector} chose backend {id}, which is not eligible")]
    IneligibleChoice { pool: String, selector: &'static str, id: u16 },
    #[error("pool {pool:?}: port {port} is not served at the VIP")]
    NotServed { pool: String, port: u16 },
}

/// A service pool.
#[derive(Debug)]
pub struct Pool {
    pub id: PoolId,
    /// Its config as it runs: backends and algorithm follow the changes made over REST.
    config: PoolConfig,
    backends: Vec<Backend>,
    selector: Box<dyn Selector>,
    flows: HashMap<FlowKey, BackendId>,
    /// The wildcard partition installed on the switch, once the wildcard mode has planned one.
    wildcard: Option<WildcardAssignment>,
    /// The id the next backend added gets: ids only grow.
    next_backend: u16,
}

impl Pool {
    /// A pool from validated config; backends are numbered in config order.
    pub fn new(id: PoolId, config: PoolConfig) -> Result<Pool, LbConfigError> {
        config.validate()?;
        let backends = config
            .backends
            .iter()
            .enumerate()
            .map(|(i, spec)| Backend::new(BackendId(i as u16), spec.clone(), config.breaker))
            .collect();
        let selector = config.algorithm.build(config.seed, config.wildcard_bits);
        let next_backend = config.backends.len() as u16;
        Ok(Pool { id, config, backends, selector, flows: HashMap::new(), wildcard: None, next_backend })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn vip(&self) -> Ipv4Addr {
        self.config.vip
    }

    pub fn vip_mac(&self) -> MacAddr {
        self.config.vip_mac
    }

    pub fn serves(&self, ip: Ipv4Addr, port: u16) -> bool {
        ip == self.config.vip && self.config.ports.contains(&port)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.config.algorithm
    }

    /// Switches algorithm. Established flows keep their backend (their rules stay on the switch and
    /// in the flow table); only new flows follow the new selector.
    pub fn set_algorithm(&mut self, algorithm: Algorithm) {
        self.config.algorithm = algorithm;
        self.selector = algorithm.build(self.config.seed, self.config.wildcard_bits);
    }

    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }

    pub fn backend(&self, id: BackendId) -> Result<&Backend, PoolError> {
        self.backends.iter().find(|b| b.id == id).ok_or_else(|| self.unknown(id))
    }

    pub fn backend_mut(&mut self, id: BackendId) -> Result<&mut Backend, PoolError> {
        let err = self.unknown(id);
        self.backends.iter_mut().find(|b| b.id == id).ok_or(err)
    }

    /// The backend with this address, e.g. to learn its MAC from an ARP reply.
    pub fn backend_by_ip(&self, ip: Ipv4Addr) -> Option<BackendId> {
        self.backends.iter().find(|b| b.spec.ip == ip).map(|b| b.id)
    }

    fn unknown(&self, id: BackendId) -> PoolError {
        PoolError::UnknownBackend { pool: self.config.name.clone(), id: id.0 }
    }

    /// Eligible backends as the selectors see them, in id order.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.backends
            .iter()
            .filter(|b| b.is_eligible())
            .map(|b| Candidate {
                id: b.id,
                key: b.hash_key(),
                weight: b.weight(),
                active_flows: b.state.active_flows,
                latency: b.state.latency,
            })
            .collect()
    }

    /// Asks the selector for a backend for a new flow from `client`, without recording anything.
    /// Errors if nothing is eligible, and refuses a selector's choice that is not eligible.
    ///
    /// In wildcard mode the installed partition answers first, so a packet that reaches the
    /// controller goes where the switch's rules would have sent it.
    pub fn select(&mut self, client: ClientKey) -> Result<BackendId, PoolError> {
        let candidates = self.candidates();
        let pool = || self.config.name.clone();
        if self.config.algorithm == Algorithm::Wildcard
            && let Some(owner) = self.wildcard.as_ref().and_then(|w| w.owner(client.ip))
            && candidates.iter().any(|c| c.id == owner)
        {
            return Ok(owner);
        }
        let id = self
            .selector
            .select(&SelectionContext { client, candidates: &candidates })
            .ok_or_else(|| PoolError::NoEligibleBackend { pool: pool() })?;
        if !candidates.iter().any(|c| c.id == id) {
            return Err(PoolError::IneligibleChoice {
                pool: pool(),
                selector: self.selector.name(),
                id: id.0,
            });
        }
        Ok(id)
    }

    /// The backend of flow `key`: the one already recorded (a retransmitted SYN, or a packet that raced
    /// the rule install), or a newly selected one, which is recorded and counted.
    pub fn assign(&mut self, key: FlowKey) -> Result<BackendId, PoolError> {
        if !self.config.ports.contains(&key.vip_port) {
            return Err(PoolError::NotServed { pool: self.config.name.clone(), port: key.vip_port });
        }
        if let Some(&id) = self.flows.get(&key) {
            return Ok(id);
        }
        let id = self.select(key.client())?;
        self.flows.insert(key, id);
        let b = self.backend_mut(id)?;
        b.state.active_flows += 1;
        b.state.total_flows += 1;
        Ok(id)
    }

    /// The backend flow `key` is steered to, if the pool knows the flow.
    pub fn flow(&self, key: FlowKey) -> Option<BackendId> {
        self.flows.get(&key).copied()
    }

    /// Undoes [`Pool::assign`] for a flow that could not be steered after all (its backend's MAC or
    /// location is not known yet): the client's retransmission gets a fresh decision.
    pub fn unassign(&mut self, key: FlowKey) {
        let Some(id) = self.flows.remove(&key) else { return };
        if let Some(b) = self.backends.iter_mut().find(|b| b.id == id) {
            b.state.active_flows = b.state.active_flows.saturating_sub(1);
            b.state.total_flows = b.state.total_flows.saturating_sub(1);
        }
    }

    /// Adds a backend at run time. Ids are never reused while the pool lives, so cookies of a removed
    /// backend's rules cannot be mistaken for the new one's.
    pub fn add_backend(&mut self, spec: BackendConfig) -> Result<BackendId, PoolAddError> {
        spec.validate(&self.config.name, self.config.vip).map_err(PoolAddError::Invalid)?;
        if self.backends.iter().any(|b| b.spec.ip == spec.ip) {
            return Err(PoolAddError::Duplicate(spec.ip));
        }
        let id = match self.next_backend {
            n if usize::from(n) < super::config::MAX_BACKENDS => BackendId(n),
            _ => {
                return Err(PoolAddError::Invalid(LbConfigError::TooManyBackends {
                    pool: self.config.name.clone(),
                    max: super::config::MAX_BACKENDS,
                }));
            }
        };
        self.next_backend += 1;
        self.config.backends.push(spec.clone());
        self.backends.push(Backend::new(id, spec, self.config.breaker));
        Ok(id)
    }

    /// Removes a backend (its rules must be deleted from the switches by the caller); returns the
    /// flows it had.
    pub fn remove_backend(&mut self, id: BackendId) -> Result<Vec<FlowKey>, PoolError> {
        let ip = self.backend(id)?.spec.ip;
        let flows = self.forget_flows_of(id);
        self.backends.retain(|b| b.id != id);
        self.config.backends.retain(|b| b.ip != ip);
        Ok(flows)
    }

    /// Records that flow `key` ended (its forward rule's FLOW_REMOVED), adding the rule's counters to
    /// its backend. Returns the backend, or `None` for a flow this pool did not know.
    pub fn flow_removed(&mut self, key: FlowKey, bytes: u64, packets: u64) -> Option<BackendId> {
        let id = self.flows.remove(&key)?;
        if let Some(b) = self.backends.iter_mut().find(|b| b.id == id) {
            b.state.active_flows = b.state.active_flows.saturating_sub(1);
            b.state.bytes = b.state.bytes.saturating_add(bytes);
            b.state.packets = b.state.packets.saturating_add(packets);
        }
        Some(id)
    }

    /// Forgets every flow of backend `id` (after its rules were deleted); returns their keys.
    pub fn forget_flows_of(&mut self, id: BackendId) -> Vec<FlowKey> {
        let mut gone: Vec<FlowKey> = self.flows.iter().filter(|(_, b)| **b == id).map(|(k, _)| *k).collect();
        gone.sort();
        self.flows.retain(|_, b| *b != id);
        if let Some(b) = self.backends.iter_mut().find(|b| b.id == id) {
            b.state.active_flows = 0;
        }
        gone
    }

    /// The steered flows that are still active, sorted.
    pub fn active_flows(&self) -> Vec<(FlowKey, BackendId)> {
        let mut v: Vec<(FlowKey, BackendId)> = self.flows.iter().map(|(k, b)| (*k, *b)).collect();
        v.sort();
        v
    }

    /// Starts or stops draining: a draining backend keeps its flows but gets no new ones.
    pub fn set_draining(&mut self, id: BackendId, draining: bool) -> Result<(), PoolError> {
        self.backend_mut(id)?.state.draining = draining;
        Ok(())
    }

    /// Overrides a backend's weight at run time (0 stops new flows, like draining).
    pub fn set_weight(&mut self, id: BackendId, weight: u16) -> Result<(), PoolError> {
        self.backend_mut(id)?.state.weight_override = Some(weight);
        Ok(())
    }

    /// Feeds a health-probe result to backend `id`'s breaker.
    pub fn on_probe(
        &mut self,
        id: BackendId,
        result: ProbeResult,
        rtt: Option<Duration>,
        now: Instant,
    ) -> Result<Vec<Transition>, PoolError> {
        Ok(self.backend_mut(id)?.on_probe(result, rtt, now))
    }

    /// Records what the node reported about itself (from its health or metrics endpoint).
    pub fn set_reported(
        &mut self,
        id: BackendId,
        p50_ms: Option<f64>,
        queue_depth: Option<u32>,
    ) -> Result<(), PoolError> {
        let latency = &mut self.backend_mut(id)?.state.latency;
        latency.reported_p50_ms = p50_ms.filter(|v| v.is_finite() && *v >= 0.0);
        latency.queue_depth = queue_depth;
        Ok(())
    }

    /// Where backend `id` is, for building rules; fails while its MAC is unknown.
    pub fn target(&self, id: BackendId) -> Result<BackendTarget, PoolError> {
        let b = self.backend(id)?;
        let mac =
            b.mac().ok_or_else(|| PoolError::MacUnknown { pool: self.config.name.clone(), ip: b.spec.ip })?;
        Ok(BackendTarget { id, ip: b.spec.ip, mac, port: b.spec.port, weight: b.weight() })
    }

    /// Targets of every eligible backend whose MAC is known, in id order (for the switch-side modes).
    pub fn eligible_targets(&self) -> Vec<BackendTarget> {
        self.backends.iter().filter(|b| b.is_eligible()).filter_map(|b| self.target(b.id).ok()).collect()
    }

    /// Plans the wildcard partition for the current weights and health (a minimal rebalance of the
    /// last one, or a fresh one) and records it as the one the controller answers from. Returns the
    /// previous and the new partition; [`super::wildcard::transition`] turns them into FlowMods for
    /// each switch.
    pub fn replan_wildcard(&mut self) -> (Option<WildcardAssignment>, WildcardAssignment) {
        let weights: Vec<(BackendId, u16)> = self.candidates().iter().map(|c| (c.id, c.weight)).collect();
        let bits = self.config.wildcard_bits;
        let new = match &self.wildcard {
            Some(old) => old.rebalance(&weights, bits),
            None => WildcardAssignment::partition(&weights, bits).with_split(self.config.wildcard_split),
        };
        (self.wildcard.replace(new.clone()), new)
    }

    /// The wildcard partition last planned by [`Pool::plan_wildcard`].
    pub fn wildcard_assignment(&self) -> Option<&WildcardAssignment> {
        self.wildcard.as_ref()
    }

    /// Plans the wildcard rules for the current weights and health: a minimal rebalance of the
    /// installed partition (or a fresh one), and the FlowMods to get there. `members` are the
    /// backends with their ports on the switch; ejected ones are dropped from it here. The plan is recorded as installed: send all its FlowMods.
    pub fn plan_wildcard(&mut self, members: &[BackendPort]) -> WildcardTransition {
        let weights: Vec<(BackendId, u16)> = self.candidates().iter().map(|c| (c.id, c.weight)).collect();
        let bits = self.config.wildcard_bits;
        let new = match &self.wildcard {
            Some(old) => old.rebalance(&weights, bits),
            None => WildcardAssignment::partition(&weights, bits).with_split(self.config.wildcard_split),
        };
        let reachable: Vec<BackendPort> = members
            .iter()
            .filter(|m| {
                self.backend(m.target.id).is_ok_and(|b| b.state.breaker.state() != BreakerState::Open)
            })
            .copied()
            .collect();
        let vip = WildcardVip {
            pool: self.id,
            vip: self.config.vip,
            ports: &self.config.ports,
            generation: RuleGeneration::default(),
        };
        let plan = transition(&vip, self.wildcard.as_ref(), &new, &reachable);
        self.wildcard = Some(new);
        plan
    }

    /// What REST shows about the pool.
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            id: self.id,
            name: self.config.name.clone(),
            vip: self.config.vip,
            vip_mac: self.config.vip_mac,
            ports: self.config.ports.clone(),
            algorithm: self.config.algorithm,
            active_flows: self.flows.len(),
            backends: self.backends.iter().map(Backend::status).collect(),
        }
    }
}

/// Why a backend could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolAddError {
    #[error(transparent)]
    Invalid(LbConfigError),
    #[error("backend {0} is already in the pool")]
    Duplicate(Ipv4Addr),
}

/// A pool as REST shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStatus {
    pub id: PoolId,
    pub name: String,
    pub vip: Ipv4Addr,
    pub vip_mac: MacAddr,
    pub ports: Vec<u16>,
    pub algorithm: Algorithm,
    pub active_flows: usize,
    pub backends: Vec<BackendStatus>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::apps::lb::breaker::BreakerConfig;
    use crate::apps::lb::config::BackendConfig;

    pub fn pool(algorithm: Algorithm, weights: &[u16]) -> Pool {
        let backends = weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| BackendConfig {
                ip: Ipv4Addr::new(10, 0, 0, 11 + i as u8),
                mac: Some(MacAddr([0, 0, 0, 0, 0, 0x11 + i as u8])),
                weight,
                ..BackendConfig::default()
            })
            .collect();
        let config = PoolConfig {
            name: "inference".into(),
            vip: Ipv4Addr::new(10, 0, 0, 100),
            algorithm,
            breaker: BreakerConfig { failure_threshold: 1, success_threshold: 1, cooldown_ms: 1000 },
            backends,
            ..PoolConfig::default()
        };
        Pool::new(PoolId(0), config).expect("valid pool")
    }

    pub fn key(n: u32) -> FlowKey {
        FlowKey {
            client_ip: Ipv4Addr::from(0x0a01_0000 | n),
            client_port: 40000 + (n % 1000) as u16,
            vip_port: 8000,
        }
    }

    #[test]
    fn a_removed_backend_s_id_is_not_given_to_the_next_one() {
        let mut p = pool(Algorithm::RoundRobin, &[1, 1, 1]);
        p.remove_backend(BackendId(2)).expect("backend 2 exists");
        let spec = BackendConfig { ip: Ipv4Addr::new(10, 0, 0, 50), ..BackendConfig::default() };
        // Rules and counters of the old backend 2 may still be reported under its id.
        assert_eq!(p.add_backend(spec).ok(), Some(BackendId(3)));
    }

    #[test]
    fn ejected_and_draining_backends_are_never_selected() {
        for alg in Algorithm::ALL {
            let mut p = pool(alg, &[1, 2, 3, 1]);
            p.on_probe(BackendId(1), ProbeResult::Failure, None, Instant::now()).expect("backend 1 exists");
            p.set_draining(BackendId(2), true).expect("backend 2 exists");
            for n in 0..300 {
                let id = p.assign(key(n)).expect("two backends left");
                assert!(id == BackendId(0) || id == BackendId(3), "{alg} chose {id:?}");
            }
            p.set_draining(BackendId(0), true).expect("exists");
            p.set_weight(BackendId(3), 0).expect("exists");
            assert!(matches!(p.assign(key(10_000)), Err(PoolError::NoEligibleBackend { .. })), "{alg}");
        }
    }

    #[test]
    fn flows_are_sticky_counted_and_survive_an_algorithm_switch() {
        let mut p = pool(Algorithm::RoundRobin, &[1, 1]);
        let a = p.assign(key(1)).expect("eligible");
        assert_eq!(p.assign(key(1)), Ok(a), "same flow, same backend");
        let b = p.assign(key(2)).expect("eligible");
        assert_ne!(a, b);
        p.set_algorithm(Algorithm::LeastConnections);
        assert_eq!(p.algorithm(), Algorithm::LeastConnections);
        assert_eq!(p.assign(key(1)), Ok(a), "existing flows keep their backend");
        assert_eq!(p.active_flows().len(), 2);
        assert_eq!(p.flow_removed(key(1), 1500, 3), Some(a));
        assert_eq!(p.flow_removed(key(1), 1500, 3), None, "counted once");
        let status = p.backend(a).expect("exists").status();
        assert_eq!((status.active_flows, status.total_flows, status.bytes, status.packets), (0, 1, 1500, 3));
        // Least connections now sends the next flow to the idle backend `a`.
        assert_eq!(p.assign(key(3)), Ok(a));
        assert!(matches!(p.assign(FlowKey { vip_port: 9, ..key(4) }), Err(PoolError::NotServed { .. })));
    }

    #[test]
    fn wildcard_plan_is_what_the_controller_answers_and_survives_changes() {
        let mut p = pool(Algorithm::Wildcard, &[1, 1, 1, 1]);
        let members: Vec<BackendPort> = (0..4)
            .map(|i| BackendPort {
                target: p.target(BackendId(i)).expect("MAC configured"),
                out_port: ofproto::PortNo(2 + u32::from(i)),
            })
            .collect();
        let first = p.plan_wildcard(&members);
        assert_eq!(first.unchanged, 0);
        assert!(!first.flow_mods.is_empty());
        let installed = p.wildcard_assignment().cloned().expect("recorded");
        for n in 0..50u32 {
            let k = FlowKey {
                client_ip: Ipv4Addr::from(n.wrapping_mul(0x0519_3a7b)),
                client_port: 1,
                vip_port: 8000,
            };
            assert_eq!(p.assign(k).ok(), installed.owner(k.client_ip), "controller agrees with the rules");
        }
        p.on_probe(BackendId(3), ProbeResult::Failure, None, Instant::now()).expect("exists");
        let second = p.plan_wildcard(&members);
        assert!(second.unchanged > 0, "unchanged prefixes are left alone");
        assert_eq!(p.wildcard_assignment().map(|w| w.leaves_of(BackendId(3))), Some(0));
    }

    #[test]
    fn targets_need_a_mac_and_forgetting_flows_resets_counts() {
        let mut p = pool(Algorithm::RoundRobin, &[1, 1]);
        p.backends[1].spec.mac = None;
        assert!(matches!(p.target(BackendId(1)), Err(PoolError::MacUnknown { .. })));
        assert_eq!(p.eligible_targets().len(), 1);
        p.backends[1].state.learned_mac = Some(MacAddr([2, 0, 0, 0, 0, 9]));
        assert_eq!(p.target(BackendId(1)).map(|t| t.mac), Ok(MacAddr([2, 0, 0, 0, 0, 9])));
        assert!(p.backend(BackendId(7)).is_err());
        for n in 0..4 {
            p.assign(key(n)).expect("eligible");
        }
        assert_eq!(p.forget_flows_of(BackendId(0)).len(), 2);
        assert_eq!(p.backend(BackendId(0)).map(|b| b.state.active_flows), Ok(0));
        assert_eq!(p.active_flows().len(), 2);
        let json = serde_json::to_value(p.status()).expect("serialises");
        assert_eq!(json["algorithm"], "round_robin");
        assert_eq!(json["backends"][0]["breaker"], "closed");
    }
}
