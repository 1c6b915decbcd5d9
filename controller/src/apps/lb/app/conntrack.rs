//! Conntrack steering on real switches ([`crate::apps::lb::conntrack`] builds the rules): keeps each
//! switch's tracking and forwarding rules in step with the pool's members and health, steers a new
//! connection with one PACKET_OUT that commits it in the switch's tracker, ends a connection's
//! accounting at its FIN or RST, and answers packets of connections that no backend takes any more
//! with a RST so their clients reconnect at once.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ofproto::action::Action;
use ofproto::flow::{FlowRemoved, FlowRemovedReason};
use ofproto::message::Message;
use ofproto::nicira::{Conntrack, CtTuple};
use ofproto::packet::{PacketIn, PacketOut};
use ofproto::{MacAddr, PortNo};
use tracing::{debug, warn};

use super::{LbApp, PoolEntry};
use crate::apps::lb::breaker::BreakerState;
use crate::apps::lb::config::SteeringMode;
use crate::apps::lb::conntrack::{CT_ZONE, CtMember, CtPool};
use crate::apps::lb::locate::{Seen, path_to};
use crate::apps::lb::packet::{TCP_ACK, TCP_SYN, TcpFrame, tcp_reset_for};
use crate::apps::lb::pool::{FlowKey, PoolId};
use crate::apps::lb::rules::resync;

/// A client's reply rules are sent again when this old (or half the idle timeout, if shorter), so
/// they are replaced before they can idle out between two of its connections.
const CLIENT_RULES_REFRESH: Duration = Duration::from_secs(60);
/// Slack between the switch's clock for a rule's age and the controller's for when it sent it.
const RESENT_MARGIN: Duration = Duration::from_millis(500);

fn ct_pool(entry: &PoolEntry) -> CtPool<'_> {
    CtPool {
        pool: entry.pool.id,
        vip: entry.pool.vip(),
        vip_mac: entry.pool.vip_mac(),
        ports: &entry.pool.config().ports,
    }
}

impl LbApp {
    /// The messages that bring switch `dpid`'s conntrack rules for pool `id` in line with its
    /// members, their health and its algorithm (nothing for a pool steered by per-flow rules).
    pub(super) fn sync_conntrack_switch(&mut self, id: PoolId, dpid: u64) -> Vec<Message> {
        let Some(entry) = self.pools.get(&id) else { return Vec::new() };
        if entry.pool.config().steering != SteeringMode::Conntrack {
            return Vec::new();
        }
        let members: Vec<CtMember> = self
            .members(entry, dpid)
            .into_iter()
            .filter_map(|port| {
                let b = entry.pool.backend(port.target.id).ok()?;
                // A draining backend's connections finish; an ejected one's are gone.
                let live = b.state.draining || b.state.breaker.state() == BreakerState::Closed;
                Some(CtMember { port, live })
            })
            .collect();
        let desired = ct_pool(entry).switch_rules(&members, !entry.pool.algorithm().is_switch_side());
        let Some(entry) = self.pools.get_mut(&id) else { return Vec::new() };
        let installed = entry.installed.entry(dpid).or_default();
        let msgs: Vec<Message> =
            resync(&installed.conntrack, &desired).into_iter().map(Message::FlowMod).collect();
        installed.conntrack = desired;
        if !msgs.is_empty() {
            // Members changed (a backend on a port the clients' reply rules do not cover yet, say):
            // each client's rules go out again with its next connection.
            entry.ct_clients.retain(|(d, _), _| *d != dpid);
        }
        msgs
    }

    /// Reply rules for the client at (`dpid`, `port`) unless sent there lately; `client_ip`'s
    /// connections to `vip_port` end when they idle out.
    fn client_rules(
        &mut self,
        id: PoolId,
        dpid: u64,
        (client, client_ip): (MacAddr, Ipv4Addr),
        port: PortNo,
        vip_port: u16,
    ) -> Vec<Message> {
        let idle = self.conntrack_idle_s;
        let refresh = CLIENT_RULES_REFRESH.min(Duration::from_secs(u64::from(idle)) / 2);
        let Some(entry) = self.pools.get_mut(&id) else { return Vec::new() };
        entry.ct_reply_ips.entry((dpid, client, vip_port)).or_default().insert(client_ip);
        let now = Instant::now();
        let fresh = entry
            .ct_clients
            .get(&(dpid, client))
            .is_some_and(|(p, at)| *p == port && now.duration_since(*at) < refresh);
        if fresh {
            return Vec::new();
        }
        entry.ct_clients.insert((dpid, client), (port, now));
        Self::client_rule_mods(entry, client, port, idle)
    }

    fn client_rule_mods(entry: &PoolEntry, client: MacAddr, port: PortNo, idle: u16) -> Vec<Message> {
        let mut backend_ports: Vec<u16> = entry.pool.backends().iter().map(|b| b.spec.port).collect();
        backend_ports.sort_unstable();
        backend_ports.dedup();
        ct_pool(entry)
            .client_rules(client, port, &backend_ports, idle)
            .into_iter()
            .map(Message::FlowMod)
            .collect()
    }

    /// A client's reply rule idled out on switch `dpid`: no reply reached the client from the VIP
    /// port for [`crate::apps::lb::config::LbConfig::conntrack_idle_s`], so every connection of its
    /// addresses there that is still counted active ended unseen (the client vanished, or its FIN
    /// never crossed this switch). Its rules go out again with its next connection.
    pub(super) fn on_client_idle(&mut self, id: PoolId, dpid: u64, removed: &FlowRemoved) {
        if !matches!(removed.reason, FlowRemovedReason::IdleTimeout | FlowRemovedReason::HardTimeout) {
            return;
        }
        let m = &removed.r#match;
        let (Some(client), Some(vip_port)) = (m.get_eth_dst(), m.get_tcp_src()) else { return };
        let Some(entry) = self.pools.get_mut(&id) else { return };
        // Rules sent again after this one went in: the switch removed it just before they arrived
        // (an ADD replaces a rule that is still there), so they stand and so does the client.
        let lived = Duration::new(u64::from(removed.duration_sec), removed.duration_nsec);
        if entry
            .ct_clients
            .get(&(dpid, client))
            .is_some_and(|(_, sent)| sent.elapsed() + RESENT_MARGIN < lived)
        {
            return;
        }
        entry.ct_clients.remove(&(dpid, client));
        let delete = ct_pool(entry).client_reset_copy_delete(client, vip_port);
        self.send_now(dpid, &[Message::FlowMod(delete)]);
        let Some(entry) = self.pools.get_mut(&id) else { return };
        let Some(ips) = entry.ct_reply_ips.remove(&(dpid, client, vip_port)) else { return };
        let stale: Vec<FlowKey> = entry
            .pool
            .active_flows()
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| key.vip_port == vip_port && ips.contains(&key.client_ip))
            .collect();
        let mut backends = Vec::new();
        for key in &stale {
            backends.extend(entry.pool.flow_removed(*key, 0, 0));
        }
        if !stale.is_empty() {
            debug!(client = %client, connections = stale.len(), "lb: a client's tracked connections idled out");
        }
        backends.sort_unstable();
        backends.dedup();
        for backend in backends {
            self.export_active(id, backend);
        }
    }

    /// Sends every conntrack pool's client rules again: after a pool's rules were deleted, since
    /// pools that share a backend port share their clients' tracking rules (the same match), and
    /// the delete may have taken the one another pool's connections use.
    pub(super) async fn resend_client_rules(&mut self) {
        let idle = self.conntrack_idle_s;
        let now = Instant::now();
        let mut per_switch: BTreeMap<u64, Vec<Message>> = BTreeMap::new();
        for entry in self.pools.values_mut() {
            let clients: Vec<((u64, MacAddr), PortNo)> =
                entry.ct_clients.iter().map(|(k, (port, _))| (*k, *port)).collect();
            for ((dpid, client), port) in clients {
                entry.ct_clients.insert((dpid, client), (port, now));
                per_switch.entry(dpid).or_default().extend(Self::client_rule_mods(entry, client, port, idle));
            }
        }
        for (dpid, msgs) in per_switch {
            // After the delete, which a switch may otherwise apply after these (OF1.3.5 §6.2).
            if let Some(sw) = self.switches.get(&dpid)
                && let Err(e) = sw.dp.barrier().await
            {
                debug!(dpid = %format_args!("{dpid:016x}"), cause = %e, "lb: no barrier reply");
            }
            self.send(dpid, &msgs).await;
        }
    }

    /// A packet to the VIP that the switch's tracker knows no connection of (the first packet of a
    /// new connection, or a stray one): a SYN gets a backend and is sent on, committed with a NAT to
    /// it; anything else gets a RST, as a server would answer a segment of no connection.
    pub(super) fn on_tracked_tcp(
        &mut self,
        id: PoolId,
        dpid: u64,
        in_port: PortNo,
        packet_in: &PacketIn,
        tcp: &TcpFrame,
        client: Seen,
    ) {
        let topology = self.topology.clone();
        let Some(entry) = self.pools.get_mut(&id) else { return };
        let key = FlowKey { client_ip: tcp.ip_src, client_port: tcp.tcp_src, vip_port: tcp.tcp_dst };
        if tcp.tcp_flags & (TCP_SYN | TCP_ACK) != TCP_SYN {
            if let Some(b) = entry.pool.flow_removed(key, 0, 0) {
                debug!(client = %key.client_ip, port = key.client_port, backend = ?b, "lb: the switch lost a tracked connection");
            }
            let reset = tcp_reset_for(&packet_in.data, entry.pool.vip_mac(), entry.pool.vip(), tcp.tcp_dst);
            self.send_reset(dpid, in_port, reset);
            return;
        }
        let known = entry.pool.flow(key).is_some();
        let backend = match entry.pool.assign(key) {
            Ok(b) => b,
            Err(e) => {
                warn!(cause = %e, client = %key.client_ip, "lb: cannot steer a new connection");
                return;
            }
        };
        let target = entry.pool.target(backend);
        let hop = target.as_ref().ok().and_then(|t| {
            let seen = self.locations.find(t.ip, t.mac, topology.as_ref())?;
            path_to(dpid, t.ip, seen, topology.as_ref()).ok()?.first().map(|h| h.out_port)
        });
        let (Ok(target), Some(out)) = (target, hop) else {
            if let Some(entry) = self.pools.get_mut(&id) {
                entry.pool.unassign(key);
            }
            debug!(client = %key.client_ip, "lb: chosen backend not located yet; asking by ARP");
            let msgs = self.arp_requests(id, dpid, true);
            self.send_now(dpid, &msgs);
            return;
        };
        if let Some(entry) = self.pools.get(&id) {
            let state = entry.pool.backend(backend).ok();
            super::accounting::export_steered(&self.metrics, entry.pool.name(), &target, state, known);
        }
        let mut msgs = self.client_rules(id, dpid, (client.mac, key.client_ip), in_port, key.vip_port);
        msgs.push(Message::PacketOut(CtPool::first_packet_out(packet_in, in_port, &target, out)));
        self.send_now(dpid, &msgs);
    }

    /// A copy of a tracked connection's FIN or RST: the connection is over for the accounting (the
    /// tracker keeps translating its last segments).
    pub(super) fn on_connection_end(&mut self, id: PoolId, packet_in: &PacketIn, tcp: &TcpFrame) {
        let Some(entry) = self.pools.get_mut(&id) else { return };
        // The connection as it began, which Open vSwitch reports with every tracked packet: the
        // segment's own headers may not name it, since the tracker can move the client's port when
        // it translates a connection whose translated tuple is taken (a client port reused while
        // the tracker still holds its last connection to that backend). Keyed by the segment, 6 %
        // of the connections of a 2000-per-second load stayed counted active.
        let original = CtTuple::from_match(&packet_in.r#match).filter(|t| t.nw_dst == entry.pool.vip());
        let ended = if let Some(t) = original {
            Some(FlowKey { client_ip: t.nw_src, client_port: t.tp_src, vip_port: t.tp_dst })
        } else if let Some(b) = entry.pool.backend_by_ip(tcp.ip_dst) {
            // Open vSwitch before 2.8 reports no original tuple: the segment as the tracker left it,
            // towards the backend (translated: to its address), or a reply translated back to the VIP.
            let ports = entry.pool.config().ports.clone();
            ports.into_iter().find_map(|vip_port| {
                let key = FlowKey { client_ip: tcp.ip_src, client_port: tcp.tcp_src, vip_port };
                (entry.pool.flow(key) == Some(b)).then_some(key)
            })
        } else {
            Some(FlowKey { client_ip: tcp.ip_dst, client_port: tcp.tcp_dst, vip_port: tcp.tcp_src })
        };
        let Some(backend) = ended.and_then(|key| entry.pool.flow_removed(key, 0, 0)) else { return };
        self.export_active(id, backend);
    }

    /// A packet of a connection whose backend was ejected: the client gets a RST at once (its
    /// connection was lost with the backend; the next one goes to a healthy node). The RST is made
    /// as the backend would send it and passes the switch's tracker, which translates it to come
    /// from the VIP and ends the connection there too: otherwise the tracker would hold it as
    /// established (for a day, Open vSwitch's default) and a SYN from the same client port, reused
    /// later, would not be answered.
    pub(super) fn on_lost_connection(
        &mut self,
        id: PoolId,
        dpid: u64,
        in_port: PortNo,
        packet_in: &PacketIn,
        tcp: &TcpFrame,
    ) {
        let Some(entry) = self.pools.get(&id) else { return };
        // The segment as the tracker translated it: to the backend's address and port.
        let Some(frame) = tcp_reset_for(&packet_in.data, entry.pool.vip_mac(), tcp.ip_dst, tcp.tcp_dst)
        else {
            return;
        };
        let actions = vec![Conntrack::track(CT_ZONE).to_action(), Action::output(in_port)];
        let out = PacketOut::new(PortNo::CONTROLLER, actions, frame.into());
        self.send_now(dpid, &[Message::PacketOut(out)]);
    }

    fn send_reset(&self, dpid: u64, in_port: PortNo, reset: Option<Vec<u8>>) {
        let Some(frame) = reset else { return };
        let out = PacketOut::new(PortNo::CONTROLLER, vec![Action::output(in_port)], frame.into());
        self.send_now(dpid, &[Message::PacketOut(out)]);
    }
}
