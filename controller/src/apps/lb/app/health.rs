//! Health: probe reports drive each backend's circuit breaker; transitions are logged and counted,
//! an ejected backend's connections are deleted from every switch (unless it drains), and the
//! switch-side modes are replanned. The app's timer also moves breakers out of their cool-down, asks
//! again for backends not located yet, and starts the flow-stats polls.

use std::time::Instant;

use ofproto::message::Message;
use tracing::{info, warn};

use super::proactive::Change;
use super::{LbApp, label};
use crate::apps::lb::backend::BackendId;
use crate::apps::lb::breaker::{BreakerState, ProbeResult, Transition};
use crate::apps::lb::pool::PoolId;
use crate::apps::lb::probe::{ProbeId, ProbeOutcome, ProbeReport};
use crate::apps::lb::rules::delete_backend_connections;

impl LbApp {
    pub(super) async fn on_probe(&mut self, report: ProbeReport) {
        let ProbeId { pool: pool_id, backend, probe } = report.id;
        let Some(entry) = self.pools.get_mut(&pool_id) else { return };
        if entry.probes.get(&backend).map(|(p, _)| *p) != Some(probe) {
            return;
        }
        let Ok(b) = entry.pool.backend(backend) else { return };
        let ip = b.spec.ip;
        let draining = b.state.draining;
        let name = entry.pool.name().to_string();
        let extra = entry.extra.entry(backend).or_default();
        let (result, rtt) = match &report.outcome {
            ProbeOutcome::Healthy { rtt, report: node } => {
                extra.last_probe = Some("ok".into());
                extra.node_id = node.node_id.clone().or(extra.node_id.take());
                extra.requests_served = node.requests_served.or(extra.requests_served);
                let _ = entry.pool.set_reported(backend, node.p50_ms, node.queue_depth);
                self.metrics.probe_latency.with_label_values(&[&name, &label(ip)]).observe(rtt.as_secs_f64());
                (ProbeResult::Success, Some(*rtt))
            }
            ProbeOutcome::Failed { reason } => {
                extra.last_probe = Some(format!("failed: {reason}"));
                (ProbeResult::Failure, None)
            }
        };
        let transitions = entry.pool.on_probe(backend, result, rtt, report.at).unwrap_or_default();
        if transitions.is_empty() {
            return;
        }
        self.on_transitions(pool_id, backend, &transitions, draining, &report.outcome).await;
    }

    /// Logs and counts breaker transitions; ejects on Open, replans on any change.
    pub(super) async fn on_transitions(
        &mut self,
        pool_id: PoolId,
        backend: BackendId,
        transitions: &[Transition],
        draining: bool,
        outcome: &ProbeOutcome,
    ) {
        let Some(entry) = self.pools.get_mut(&pool_id) else { return };
        let Ok(ip) = entry.pool.backend(backend).map(|b| b.spec.ip) else { return };
        let name = entry.pool.name().to_string();
        for t in transitions {
            let to = match t.to {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            };
            self.metrics.breaker_transitions.with_label_values(&[&name, &label(ip), to]).inc();
            self.metrics
                .backend_healthy
                .with_label_values(&[&name, &label(ip)])
                .set(i64::from(t.to == BreakerState::Closed));
            match (t.to, outcome) {
                (BreakerState::Open, ProbeOutcome::Failed { reason }) => {
                    warn!(pool = %name, backend = %ip, %reason, "lb: backend ejected (breaker open)")
                }
                (BreakerState::Open, _) => {
                    warn!(pool = %name, backend = %ip, "lb: backend ejected (breaker open)")
                }
                (BreakerState::HalfOpen, _) => {
                    info!(pool = %name, backend = %ip, "lb: breaker half-open; probing")
                }
                (BreakerState::Closed, _) => {
                    info!(pool = %name, backend = %ip, "lb: backend healthy again (breaker closed)")
                }
            }
        }
        if transitions.iter().any(|t| t.to == BreakerState::Open) && !draining {
            let gone = entry.pool.forget_flows_of(backend);
            self.metrics.active_flows.with_label_values(&[&name, &label(ip)]).set(0);
            info!(pool = %name, backend = %ip, flows = gone.len(), "lb: deleting the ejected backend's connections");
            let mut msgs: Vec<Message> =
                delete_backend_connections(pool_id, backend).into_iter().map(Message::FlowMod).collect();
            msgs.extend(self.retire_lost_backend(pool_id, backend));
            self.broadcast(&msgs).await;
        }
        // Losing a backend changes the rules at once (its connections are gone); one coming back
        // gets traffic through a transition, so connections on the others stay where they are.
        let change = if transitions.iter().any(|t| t.to == BreakerState::Open) {
            Change::Immediate
        } else {
            Change::Planned
        };
        self.sync_proactive(pool_id, change).await;
    }

    pub(super) fn on_tick(&mut self) {
        self.ticks += 1;
        let now = Instant::now();
        let mut transitions: Vec<(PoolId, BackendId, Transition)> = Vec::new();
        let ct_idle = std::time::Duration::from_secs(u64::from(self.conntrack_idle_s));
        for entry in self.pools.values_mut() {
            entry.rules_sent.retain(|_, sent| now.duration_since(*sent) < super::RULES_FRESH);
            // A client's reply rules have idled out on the switch by then (if their FLOW_REMOVED
            // was lost); its next connection sends them again.
            entry.ct_clients.retain(|_, (_, sent)| now.duration_since(*sent) < ct_idle);
            let ids: Vec<BackendId> = entry.pool.backends().iter().map(|b| b.id).collect();
            for id in ids {
                if let Ok(b) = entry.pool.backend_mut(id)
                    && let Some(t) = b.state.breaker.poll(now)
                {
                    transitions.push((entry.pool.id, id, t));
                }
            }
        }
        for (pool, backend, t) in transitions {
            if let Some(entry) = self.pools.get(&pool)
                && let Ok(b) = entry.pool.backend(backend)
            {
                let name = entry.pool.name();
                self.metrics
                    .breaker_transitions
                    .with_label_values(&[name, &label(b.spec.ip), "half_open"])
                    .inc();
                info!(pool = name, backend = %b.spec.ip, from = ?t.from, "lb: breaker half-open after its cool-down; probing");
            }
        }
        // Backends not located yet: ask again.
        let ids: Vec<PoolId> = self.pools.keys().copied().collect();
        let dpids: Vec<u64> = self.switches.keys().copied().collect();
        for &id in &ids {
            for &dpid in &dpids {
                let msgs = self.arp_requests(id, dpid, true);
                if !msgs.is_empty() {
                    self.send_now(dpid, &msgs);
                }
            }
        }
        if self.stats_every_ticks > 0 && self.ticks.is_multiple_of(self.stats_every_ticks) {
            self.end_vanished_flows(now);
            self.poll_flow_stats();
        }
    }
}
