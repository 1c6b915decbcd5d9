//! Transitions of the switch-side modes: replacing proactive rules without moving the connections
//! made under them, after Wang, Butnariu & Rexford ("OpenFlow-Based Server Load Balancing Gone
//! Wild", Hot-ICE 2011, §4).
//!
//! The controller never sees the connections of `select_group` and `wildcard` (the switch spreads
//! them), so it cannot pin them; the switch's own rule timeouts tell when they are over. A planned
//! change on a switch whose proactive rules carry traffic (an algorithm switch, a weight, a backend
//! added or healthy again) therefore:
//!
//! 1. adds a SYN-only trap above the proactive rules ([`syn_trap_rules`]): every new connection's
//!    first segment reaches the controller, which steers it by the pool's (new) algorithm with
//!    per-flow rules, as the reactive algorithms do;
//! 2. adds the installed proactive rules again, unchanged but with an idle timeout
//!    (`[lb] transition_idle_s`), a hard timeout (`transition_max_s`) and SEND_FLOW_REM
//!    ([`retiring`]); the later segments of old connections still meet them (the trap only takes
//!    SYNs), and the select groups are left as they are;
//! 3. when the switch has reported every one of those rules removed (idle: their connections have
//!    gone quiet; hard: the transition took too long), installs the pool's current mode, new
//!    generation mark and all, and deletes the trap.
//!
//! Connections the controller steered during the transition keep their per-flow rules after it. An
//! old connection silent for longer than the idle timeout and then active again meets the new rules,
//! as in Wang et al.'s scheme. A backend lost during a transition loses its retiring wildcard rules at
//! once (its connections are gone); changes asked for during a transition are folded into the state
//! installed at its end.

use std::time::{Duration, Instant};

use ofproto::flow::FlowRemoved;
use ofproto::message::Message;
use tracing::info;

use super::LbApp;
use super::proactive::Change;
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::backend::BackendId;
use crate::apps::lb::config::LbConfig;
use crate::apps::lb::pool::PoolId;
use crate::apps::lb::rules::{LbCookie, RuleKind, delete_backend_kind, delete_pool_kind};
use crate::apps::lb::stats::TransitionStats;

/// `[lb] transition_idle_s` and `transition_max_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::apps::lb) struct TransitionTiming {
    pub idle_s: u16,
    pub max_s: u16,
}

impl TransitionTiming {
    pub fn from_config(config: &LbConfig) -> TransitionTiming {
        TransitionTiming { idle_s: config.transition_idle_s, max_s: config.transition_max_s }
    }

    pub fn enabled(self) -> bool {
        self.idle_s > 0
    }

    /// When the controller ends a transition whose rules the switch has not all reported removed
    /// (their hard timeout has passed by then; a report may have been lost with a connection).
    fn deadline(self) -> Duration {
        Duration::from_secs(u64::from(self.max_s) + 5)
    }
}

/// A transition on one switch: how many rules of the mode being retired (`Installed::mode`) have not
/// left yet.
#[derive(Debug, Clone)]
pub(in crate::apps::lb) struct Retiring {
    rules_left: usize,
    since: Instant,
    /// Packets the retired rules carried, from their FLOW_REMOVEDs.
    packets: u64,
}

impl Retiring {
    pub fn new(rules: usize, since: Instant) -> Retiring {
        Retiring { rules_left: rules, since, packets: 0 }
    }
}

impl LbApp {
    /// A FLOW_REMOVED from switch `dpid`: counts a retiring rule out and ends the switch's
    /// transition with the last one.
    pub(super) async fn on_retired_rule(&mut self, dpid: u64, removed: &FlowRemoved) {
        let Some(cookie) = LbCookie::decode(removed.cookie) else { return };
        if !matches!(cookie.kind, RuleKind::Group | RuleKind::Wildcard) {
            return;
        }
        let Some(entry) = self.pools.get_mut(&cookie.pool) else { return };
        let Some(retiring) = entry.installed.get_mut(&dpid).and_then(|i| i.retiring.as_mut()) else { return };
        retiring.rules_left = retiring.rules_left.saturating_sub(1);
        retiring.packets = retiring.packets.saturating_add(removed.packet_count);
        if retiring.rules_left == 0 {
            self.finish_retiring(cookie.pool, dpid, false).await;
        }
    }

    /// Ends transitions the switch has not finished by their deadline (timer).
    pub(super) async fn expire_transitions(&mut self) {
        let deadline = self.transition.deadline();
        let now = Instant::now();
        let late: Vec<(PoolId, u64)> = self
            .pools
            .iter()
            .flat_map(|(&id, entry)| {
                entry.installed.iter().filter_map(move |(&dpid, i)| {
                    let r = i.retiring.as_ref()?;
                    (now.duration_since(r.since) >= deadline).then_some((id, dpid))
                })
            })
            .collect();
        for (id, dpid) in late {
            self.finish_retiring(id, dpid, true).await;
        }
    }

    /// Installs pool `id`'s current mode on `dpid` now that the retiring rules are gone, and removes
    /// the SYN trap. `late`: the controller gave up waiting, so whatever is left of the old mode's
    /// rules is deleted first.
    async fn finish_retiring(&mut self, id: PoolId, dpid: u64, late: bool) {
        let Some(entry) = self.pools.get_mut(&id) else { return };
        let name = entry.pool.name().to_string();
        let to = entry.pool.algorithm();
        let Some(installed) = entry.installed.get_mut(&dpid) else { return };
        let Some(retiring) = installed.retiring.take() else { return };
        let from = installed.mode;
        installed.forget_rules();
        let mut msgs = Vec::new();
        if late {
            for kind in [RuleKind::Group, RuleKind::Wildcard] {
                msgs.push(Message::FlowMod(delete_pool_kind(id, kind)));
            }
        }
        msgs.extend(self.sync_switch(id, dpid, Change::Immediate));
        msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::SynTrap)));
        if from.is_some_and(Algorithm::is_switch_side) && !to.is_switch_side() {
            // The old mode's connections are over: their per-client reverse rules go with them.
            msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::ClientReverse)));
        }
        self.send(dpid, &msgs).await;
        self.export_transition(id);
        info!(
            pool = %name,
            dpid = %format_args!("{dpid:016x}"),
            from = ?from,
            %to,
            elapsed_ms = retiring.since.elapsed().as_millis() as u64,
            old_rule_packets = retiring.packets,
            gave_up = late,
            "lb: transition done; the new rules are in"
        );
    }

    /// A backend of pool `id` was lost: its retiring wildcard rules go at once, so the transition
    /// does not wait for its dead connections (their clients' retransmissions reach the controller and
    /// are steered elsewhere).
    pub(super) fn retire_lost_backend(&self, id: PoolId, backend: BackendId) -> Vec<Message> {
        let in_transition =
            self.pools.get(&id).is_some_and(|e| e.installed.values().any(|i| i.retiring.is_some()));
        if !in_transition {
            return Vec::new();
        }
        vec![Message::FlowMod(delete_backend_kind(id, backend, RuleKind::Wildcard))]
    }

    /// Sets `rudder_lb_transition_active` for pool `id`.
    pub(super) fn export_transition(&self, id: PoolId) {
        let Some(entry) = self.pools.get(&id) else { return };
        let active = entry.installed.values().any(|i| i.retiring.is_some());
        self.metrics.transition_active.with_label_values(&[entry.pool.name()]).set(i64::from(active));
    }
}

impl super::PoolEntry {
    /// The pool's transition as `/lb/stats` shows it, if one runs on any switch.
    pub(super) fn transition_stats(&self) -> Option<TransitionStats> {
        let retiring: Vec<(Option<Algorithm>, &Retiring)> =
            self.installed.values().filter_map(|i| Some((i.mode, i.retiring.as_ref()?))).collect();
        let oldest = retiring.iter().map(|(_, r)| r.since).min()?;
        Some(TransitionStats {
            from: retiring.iter().find_map(|(mode, _)| *mode)?,
            to: self.pool.algorithm(),
            switches: retiring.len(),
            rules_left: retiring.iter().map(|(_, r)| r.rules_left).sum(),
            elapsed_ms: oldest.elapsed().as_millis() as u64,
        })
    }
}
