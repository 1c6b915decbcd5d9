//! The switch-side modes on real switches: keeps each switch's select groups or wildcard prefix rules
//! in step with the pool's weights, health and backend locations, and installs the per-client
//! reverse rules those modes need (the controller sees no packet of their flows, only the client's
//! ARP request for the VIP).
//!
//! Members of a pool on a switch are its backends whose MAC is known and that the switch has a path
//! to; the rules output on the first hop of that path. Switching modes installs the new mode's rules
//! before it removes the old mode's; connections established under the mode left then follow the
//! new one (the controller does not know them, so it cannot keep them on their backend).

use std::net::Ipv4Addr;

use ofproto::group::{GroupMod, GroupModCommand};
use ofproto::message::Message;

use super::{LbApp, PoolEntry};
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::locate::{Seen, path_to};
use crate::apps::lb::pool::PoolId;
use crate::apps::lb::rules::{BackendPort, RuleGeneration, RuleKind, client_reverse_rules, delete_pool_kind};
use crate::apps::lb::select_group::{forward_rules, group_id, group_mods};
use crate::apps::lb::wildcard::{WildcardAssignment, WildcardVip, transition};

/// Idle timeout of the per-client reverse rules, seconds: a client idle this long ARPs again before
/// its next connection (Linux re-validates a neighbour entry within about a minute).
pub const CLIENT_REVERSE_IDLE_TIMEOUT: u16 = 600;

/// What the switch-side modes installed on one switch for one pool.
#[derive(Debug, Default)]
pub(in crate::apps::lb) struct Installed {
    /// The pool's groups exist on the switch (they outlive the forward rules; see `sync_proactive`).
    groups: bool,
    /// The mode the rules were last synced for (its rules are in place), and the mark they carry.
    mode: Option<Algorithm>,
    generation: RuleGeneration,
    wildcard: Option<WildcardAssignment>,
}

impl LbApp {
    /// Backends of `entry` reachable from switch `dpid`, with the port towards each.
    fn members(&self, entry: &PoolEntry, dpid: u64) -> Vec<BackendPort> {
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

    /// Brings every switch's proactive rules for pool `id` in line with its mode, weights, health and
    /// member locations. Cheap when nothing changed (unchanged wildcard prefixes send nothing).
    pub(super) async fn sync_proactive(&mut self, id: PoolId) {
        let Some(entry) = self.pools.get_mut(&id) else { return };
        let algorithm = entry.pool.algorithm();
        let planned = (algorithm == Algorithm::Wildcard).then(|| entry.pool.replan_wildcard().1);
        let dpids: Vec<u64> = self.switches.keys().copied().collect();
        let mut per_switch: Vec<(u64, Vec<Message>)> = Vec::new();
        for dpid in dpids {
            let Some(entry) = self.pools.get(&id) else { return };
            let members = self.members(entry, dpid);
            let clients = if algorithm.is_switch_side() {
                self.client_reverse_msgs(entry, dpid, &self.clients_of(entry))
            } else {
                Vec::new()
            };
            let Some(entry) = self.pools.get_mut(&id) else { return };
            let n_ports = entry.pool.config().ports.len();
            let installed = entry.installed.entry(dpid).or_default();
            // Make before break: the new mode's rules go first and the old mode's are deleted after
            // them, in the same batch, so no packet falls through to the trap in between.
            let mut msgs: Vec<Message> = Vec::new();
            let previous = installed.mode.replace(algorithm);
            if previous != Some(algorithm) {
                installed.generation = installed.generation.next();
            }
            let generation = installed.generation;
            match (&planned, algorithm) {
                (_, Algorithm::SelectGroup) => {
                    // Groups stay on the switch when the pool leaves this mode (see below), so
                    // coming back modifies them; only a first install clears a group left by an
                    // earlier controller run, which would make ADD fail.
                    let command = if installed.groups {
                        GroupModCommand::Modify
                    } else {
                        for i in 0..n_ports {
                            msgs.push(Message::GroupMod(GroupMod::delete(group_id(id, i as u8))));
                        }
                        GroupModCommand::Add
                    };
                    msgs.extend(
                        group_mods(&entry.pool, &members, command).into_iter().map(Message::GroupMod),
                    );
                    installed.groups = true;
                    if previous != Some(Algorithm::SelectGroup) {
                        msgs.extend(forward_rules(&entry.pool, generation).into_iter().map(Message::FlowMod));
                    }
                }
                (Some(new), Algorithm::Wildcard) => {
                    let vip = WildcardVip {
                        pool: id,
                        vip: entry.pool.vip(),
                        ports: &entry.pool.config().ports,
                        generation,
                    };
                    let plan = transition(&vip, installed.wildcard.as_ref(), new, &members);
                    msgs.extend(plan.flow_mods.into_iter().map(Message::FlowMod));
                    installed.wildcard = Some(new.clone());
                }
                _ => {}
            }
            if previous == Some(Algorithm::SelectGroup) && algorithm != Algorithm::SelectGroup {
                // Only the rules that send traffic into the groups go. The groups themselves stay:
                // Open vSwitch's datapath may hold, for a moment, cached flows translated before
                // the change, and one that still jumps into a group then reaches a live backend
                // (SYN and the rest of the connection alike) instead of a deleted group's drop.
                msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::Group)));
            }
            if installed.wildcard.is_some() && algorithm != Algorithm::Wildcard {
                msgs.push(Message::FlowMod(delete_pool_kind(id, RuleKind::Wildcard)));
                installed.wildcard = None;
            }
            msgs.extend(clients);
            per_switch.push((dpid, msgs));
        }
        for (dpid, msgs) in per_switch {
            self.send(dpid, &msgs).await;
        }
    }
}
