//! The switch-side modes on real switches: keeps each switch's select groups or wildcard prefix rules
//! in step with the pool's weights, health and backend locations, and installs the per-client
//! reverse rules those modes need (the controller sees no packet of their flows, only the client's
//! ARP request for the VIP).
//!
//! Members of a pool on a switch are its backends whose MAC is known and that the switch has a path
//! to; the rules output on the first hop of that path. A planned change of rules that carry traffic
//! (an algorithm switch, a weight, a backend added or healthy again) goes through a transition
//! ([`super::transition`]) so connections made under the old rules stay on their backends; a lost
//! backend (ejected, moved) and a first install change the rules at once, new before old.

use std::net::Ipv4Addr;
use std::time::Instant;

use ofproto::flow::FlowMod;
use ofproto::group::{GroupMod, GroupModCommand};
use ofproto::message::Message;

use super::transition::Retiring;
use super::{LbApp, PoolEntry};
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::backend::BackendId;
use crate::apps::lb::locate::{Seen, path_to};
use crate::apps::lb::pool::PoolId;
use crate::apps::lb::rules::{
    BackendPort, LbCookie, RuleGeneration, RuleKind, client_reverse_rules, delete_pool_kind, resync,
    retiring, syn_trap_rules,
};
use crate::apps::lb::select_group::{forward_rules, group_id, group_mods};
use crate::apps::lb::wildcard::{WildcardVip, transition};
use crate::apps::topology::TopologyView;

/// Idle timeout of the per-client reverse rules, seconds: a client idle this long ARPs again before
/// its next connection (Linux re-validates a neighbour entry within about a minute).
pub const CLIENT_REVERSE_IDLE_TIMEOUT: u16 = 600;

/// Why the proactive rules are being brought in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::apps::lb) enum Change {
    /// Asked for (REST) or a backend back in service: connections on the old rules are kept.
    Planned,
    /// A backend lost (ejected) or located anew, or nothing installed yet: its connections are gone
    /// or there are none, so the rules change at once.
    Immediate,
}

/// What the switch-side modes installed on one switch for one pool.
#[derive(Debug, Default)]
pub(in crate::apps::lb) struct Installed {
    /// The pool's groups as last sent (`Modify` form); `None` until they exist on the switch. They
    /// outlive the forward rules (see `sync_switch`).
    groups: Option<Vec<GroupMod>>,
    /// The mode the rules were last synced for (its rules are in place; during a transition, the
    /// mode being retired), and the mark they carry.
    pub(super) mode: Option<Algorithm>,
    generation: RuleGeneration,
    /// The forward rules of `mode` as installed (the group rules or the prefix rules): what the next
    /// change is computed against, and what a transition adds again with timeouts.
    rules: Vec<FlowMod>,
    /// A transition in progress on this switch.
    pub(super) retiring: Option<Retiring>,
    /// The conntrack steering rules as installed (see `super::conntrack`).
    pub(super) conntrack: Vec<FlowMod>,
}

impl Installed {
    /// Forgets the forward rules (they have left the switch); the groups stay.
    pub(super) fn forget_rules(&mut self) {
        self.mode = None;
        self.rules.clear();
    }

    /// Forgets the rules of a backend removed from the pool (deleted from the switch by cookie), so a
    /// transition does not add them again with the others.
    pub(super) fn forget_backend(&mut self, backend: BackendId) {
        self.rules.retain(|r| LbCookie::decode(r.cookie).is_none_or(|c| c.backend != Some(backend)));
    }
}

impl LbApp {
    /// Backends of `entry` reachable from switch `dpid`, with the port towards each.
    pub(super) fn members(&self, entry: &PoolEntry, dpid: u64) -> Vec<BackendPort> {
        entry
            .pool
            .backends()
            .iter()
            .filter_map(|b| {
                let target = entry.pool.target(b.id).ok()?;
                let seen = self.locations.get(target.ip)?;
                let hops = path_to(dpid, target.ip, seen, self.topology.as_ref()).ok()?;
                Some(BackendPort { target, out_port: hops.first()?.out_port })
            })
            .collect()
    }

    /// Hosts that may be clients of `entry`: seen somewhere, neither its backends nor a VIP; one
    /// entry per MAC.
    fn clients_of(&self, entry: &PoolEntry) -> Vec<(Ipv4Addr, Seen)> {
        let mut clients: Vec<(Ipv4Addr, Seen)> = self
            .locations
            .all()
            .filter(|(ip, _)| entry.pool.backend_by_ip(*ip).is_none() && !self.is_vip(*ip))
            .collect();
        clients.sort_by_key(|(ip, s)| (s.mac, *ip));
        clients.dedup_by_key(|(_, s)| s.mac);
        clients
    }

    /// Reverse rules on `dpid` for `clients`, for the members whose replies enter the network there.
    fn client_reverse_msgs(
        &self,
        entry: &PoolEntry,
        dpid: u64,
        clients: &[(Ipv4Addr, Seen)],
    ) -> Vec<Message> {
        let local: Vec<BackendPort> = self
            .members(entry, dpid)
            .into_iter()
            .filter(|m| self.locations.get(m.target.ip).is_some_and(|s| s.dpid == dpid))
            .collect();
        if local.is_empty() {
            return Vec::new();
        }
        let vip = (entry.pool.vip(), entry.pool.vip_mac());
        let ports = &entry.pool.config().ports;
        clients
            .iter()
            .filter_map(|(ip, seen)| {
                let hop = path_to(dpid, *ip, *seen, self.topology.as_ref()).ok()?;
                let out = hop.first()?.out_port;
                Some(client_reverse_rules(
                    entry.pool.id,
                    vip,
                    ports,
                    &local,
                    seen.mac,
                    out,
                    CLIENT_REVERSE_IDLE_TIMEOUT,
                ))
            })
            .flatten()
            .map(Message::FlowMod)
            .collect()
    }

    /// A client just asked for pool `id`'s VIP: in a switch-side mode, install its reverse rules.
    pub(super) async fn install_client_reverse(&mut self, id: PoolId, client: Ipv4Addr) {
        let Some(entry) = self.pools.get(&id) else { return };
        if !entry.pool.algorithm().is_switch_side() {
            return;
        }
        let Some(seen) = self.locations.get(client) else { return };
        let mut out = Vec::new();
        for &dpid in self.switches.keys() {
            out.push((dpid, self.client_reverse_msgs(entry, dpid, &[(client, seen)])));
        }
        for (dpid, msgs) in out {
            self.send(dpid, &msgs).await;
        }
    }

    /// Recomputes every pool's rules along paths (the out ports towards each backend of the
    /// switch-side modes and of conntrack steering) when the topology's links have changed since:
    /// a path found after the rules went in (switches connect before discovery has linked them), or
    /// one that moved when a link went down. Runs on the app's tick.
    pub(super) async fn follow_topology(&mut self) {
        let Some(generation) = self.topology.as_ref().map(TopologyView::link_generation) else { return };
        if generation == self.links_seen {
            return;
        }
        self.links_seen = generation;
        let ids: Vec<PoolId> = self.pools.keys().copied().collect();
        for id in ids {
            self.sync_proactive(id, Change::Immediate).await;
        }
    }

    /// Brings every switch's proactive rules for pool `id` in line with its mode, weights, health and
    /// member locations. Cheap when nothing changed (nothing is sent but the client reverse rules).
    pub(super) async fn sync_proactive(&mut self, id: PoolId, change: Change) {
        let Some(entry) = self.pools.get_mut(&id) else { return };
        if entry.pool.algorithm() == Algorithm::Wildcard {
            // The controller answers from the new partition at once (new connections of a
            // transition follow it); the switches get its rules now or after the transition.
            entry.pool.replan_wildcard();
        }
        let dpids: Vec<u64> = self.switches.keys().copied().collect();
        let mut per_switch: Vec<(u64, Vec<Message>)> = Vec::new();
        for dpid in dpids {
            let mut msgs = self.sync_switch(id, dpid, change);
            msgs.extend(self.sync_conntrack_switch(id, dpid));
            per_switch.push((dpid, msgs));
        }
        for (dpid, msgs) in per_switch {
            self.send(dpid, &msgs).await;
        }
        self.export_transition(id);
    }

    /// The messages that bring switch `dpid` in line for pool `id` (see [`Self::sync_proactive`]).
    pub(super) fn sync_switch(&mut self, id: PoolId, dpid: u64, change: Change) -> Vec<Message> {
        let Some(entry) = self.pools.get(&id) else { return Vec::new() };
        let algorithm = entry.pool.algorithm();
        let members = self.members(entry, dpid);
        let clients = if algorithm.is_switch_side() {
            self.client_reverse_msgs(entry, dpid, &self.clients_of(entry))
        } else {
            Vec::new()
        };
        let timing = self.transition;
        let Some(entry) = self.pools.get_mut(&id) else { return Vec::new() };
        let installed = entry.installed.entry(dpid).or_default();
        if installed.retiring.is_some() {
            // The pool's current mode goes in when the retiring rules have left (`finish_retiring`).
            return clients;
        }
        let vip = |generation| WildcardVip {
            pool: id,
            vip: entry.pool.vip(),
            ports: &entry.pool.config().ports,
            generation,
        };
        let groups = group_mods(&entry.pool, &members, GroupModCommand::Modify);
        // The prefix rules for the pool's partition and the members reachable now, with `generation`'s
        // mark (compared with the installed rules, not the partition they came from: a member
        // located since then gets its rules although the partition is the same).
        let prefix_rules = |generation| match (algorithm, entry.pool.wildcard_assignment()) {
            (Algorithm::Wildcard, Some(partition)) => {
                transition(&vip(generation), None, partition, &members).flow_mods
            }
            _ => Vec::new(),
        };
        let changed = installed.mode != Some(algorithm)
            || (algorithm == Algorithm::SelectGroup && installed.groups.as_ref() != Some(&groups))
            || (algorithm == Algorithm::Wildcard
                && !resync(&installed.rules, &prefix_rules(installed.generation)).is_empty());
        let carrying = installed.mode.is_some_and(Algorithm::is_switch_side) && !installed.rules.is_empty();
        if changed && carrying && change == Change::Planned && timing.enabled() {
            // Keep the old rules (and the groups as they are) for the connections made under them;
            // new connections reach the controller until the old rules have idled out.
            tracing::info!(pool = entry.pool.name(), dpid = %format_args!("{dpid:016x}"), from = ?installed.mode,
                to = %algorithm, rules = installed.rules.len(),
                "lb: transition started; old connections keep the old rules, new ones are steered by the controller");
            let mut msgs: Vec<Message> = syn_trap_rules(id, entry.pool.vip(), &entry.pool.config().ports)
                .into_iter()
                .map(Message::FlowMod)
                .collect();
            msgs.extend(
                installed.rules.iter().map(|r| Message::FlowMod(retiring(r, timing.idle_s, timing.max_s))),
            );
            installed.retiring = Some(Retiring::new(installed.rules.len(), Instant::now()));
            msgs.extend(clients);
            return msgs;
        }
        // Make before break: the new mode's rules go first and the old mode's are deleted after
        // them, in the same batch, so no packet falls through to the trap in between.
        let mut msgs: Vec<Message> = Vec::new();
        let previous = installed.mode.replace(algorithm);
        if previous != Some(algorithm) {
            installed.generation = installed.generation.next();
        }
        let generation = installed.generation;
        match algorithm {
            Algorithm::SelectGroup => {
                // Groups stay on the switch when the pool leaves this mode (see below), so coming
                // back modifies them; only a first install clears a group left by an earlier
                // controller run, which would make ADD fail.
                if installed.groups.is_none() {
                    for i in 0..entry.pool.config().ports.len() {
                        msgs.push(Message::GroupMod(GroupMod::delete(group_id(id, i as u8))));
                    }
                    let add = group_mods(&entry.pool, &members, GroupModCommand::Add);
                    msgs.extend(add.into_iter().map(Message::GroupMod));
                } else if installed.groups.as_ref() != Some(&groups) {
                    msgs.extend(groups.iter().cloned().map(Message::GroupMod));
                }
                installed.groups = Some(groups);
                if previous != Some(Algorithm::SelectGroup) {
                    installed.rules = forward_rules(&entry.pool, generation);
                    msgs.extend(installed.rules.iter().cloned().map(Message::FlowMod));
                }
            }
            Algorithm::Wildcard => {
                let desired = prefix_rules(generation);
                let on_switch: &[FlowMod] =
                    if previous == Some(Algorithm::Wildcard) { &installed.rules } else { &[] };
                msgs.extend(resync(on_switch, &desired).into_iter().map(Message::FlowMod));
                installed.rules = desired;
            }
            _ => installed.rules.clear(),
        }
        if previous == Some(Algorithm::SelectGroup) && algorithm != Algorithm::SelectGroup {
            // Only the rules that send traffic into the groups go. The groups themselves stay:
            // Open vSwitch's datapath may hold, for a moment, cached flows translated before
            // the change, and one that still jumps into a group then reaches a live backend
            // (SYN and the rest of the connection alike) instead of a deleted group's drop.
            msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::Group)));
        }
        if previous == Some(Algorithm::Wildcard) && algorithm != Algorithm::Wildcard {
            msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::Wildcard)));
        }
        if previous.is_some_and(Algorithm::is_switch_side) && !algorithm.is_switch_side() {
            // No connection of the switch-side mode is left (none was carried), so its per-client
            // reverse rules go too: they would rewrite a host's direct traffic with the backends.
            msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::ClientReverse)));
        }
        msgs.extend(clients);
        msgs
    }
}
