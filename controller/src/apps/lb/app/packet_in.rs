//! Packets the trap rules send up: ARP for a VIP (answered; senders located, backends' MACs learned)
//! and the first packet of a client flow to a VIP, which reactive steering answers with the flow's
//! rules and the packet itself ([`crate::apps::lb::rules::Steering`]). Conntrack steering's packets
//! go on to [`super::conntrack`].

use std::time::{Duration, Instant};

use ofproto::PortNo;
use ofproto::action::Action;
use ofproto::message::Message;
use ofproto::packet::{PacketIn, PacketOut};
use tracing::{debug, info, warn};

use super::proactive::Change;
use super::{LbApp, RULES_FRESH};
use crate::apps::lb::config::SteeringMode;
use crate::apps::lb::locate::{LocateError, Seen, path_to};
use crate::apps::lb::packet::{
    ARP_OP_REPLY, ARP_OP_REQUEST, Arp, TCP_SYN, TcpFrame, arp_reply_for_vip, parse_arp, parse_tcp,
};
use crate::apps::lb::pool::{FlowKey, PoolId};
use crate::apps::lb::rules::{LbCookie, RuleKind, Steering};
use crate::ofp::DatapathHandle;

/// During a transition, how long a new connection's SYN waits after its rules are confirmed.
///
/// Open vSwitch applies new rules to its datapath's cached flows only when its revalidators next
/// run. A cached flow of a retiring rule may cover the new connection's source port (its mask need
/// not have all port bits), and the connection's next segment, which follows the SYN-ACK by one
/// round trip, would then take the old rule to another backend, which resets it. Holding the SYN
/// gives the revalidators that time (docs/performance.md, "Transitions under load").
const TRANSITION_HOLD: Duration = Duration::from_millis(10);

impl LbApp {
    pub(super) async fn on_packet_in(&mut self, dp: &DatapathHandle, packet_in: &PacketIn) {
        let Some(in_port) = packet_in.in_port() else { return };
        let cookie = LbCookie::decode(packet_in.cookie);
        if let Some(c) = cookie.filter(|c| matches!(c.kind, RuleKind::CtEnd | RuleKind::CtLost)) {
            let Some(tcp) = parse_tcp(&packet_in.data) else { return };
            if c.kind == RuleKind::CtEnd {
                self.on_connection_end(c.pool, packet_in, &tcp);
            } else {
                self.on_lost_connection(c.pool, dp.dpid(), in_port, packet_in, &tcp);
            }
        } else if let Some(arp) = parse_arp(&packet_in.data) {
            self.on_arp(dp.dpid(), in_port, &arp, &packet_in.data).await;
        } else if let Some(tcp) = parse_tcp(&packet_in.data) {
            self.on_tcp(dp.dpid(), in_port, packet_in, &tcp);
        }
    }

    async fn on_arp(&mut self, dpid: u64, in_port: PortNo, arp: &Arp, frame: &[u8]) {
        if !self.is_vip(arp.sender_ip) {
            let moved = self.locations.learn(arp.sender_ip, arp.sender_mac, dpid, in_port);
            let mut changed: Vec<PoolId> = Vec::new();
            for entry in self.pools.values_mut() {
                let Some(id) = entry.pool.backend_by_ip(arp.sender_ip) else { continue };
                let pool_id = entry.pool.id;
                let name = entry.pool.name().to_string();
                let Ok(b) = entry.pool.backend_mut(id) else { continue };
                if b.spec.mac.is_none() && b.state.learned_mac != Some(arp.sender_mac) {
                    info!(pool = %name, backend = %arp.sender_ip, mac = %arp.sender_mac, "lb: learned backend MAC");
                    b.state.learned_mac = Some(arp.sender_mac);
                    changed.push(pool_id);
                } else if moved {
                    changed.push(pool_id);
                }
            }
            // A backend located for the first time or anew: the rules towards it change at once
            // (it carried nothing before, or its connections went to where it no longer is).
            for id in changed {
                self.sync_proactive(id, Change::Immediate).await;
            }
        }
        if arp.op == ARP_OP_REPLY {
            return;
        }
        if arp.op != ARP_OP_REQUEST {
            return;
        }
        // Pools on one VIP (other ports) share its MAC (`LbConfig::validate`).
        let Some(entry) = self.pools.values().find(|e| e.pool.vip() == arp.target_ip) else { return };
        let Some(reply) = arp_reply_for_vip(frame, entry.pool.vip(), entry.pool.vip_mac()) else { return };
        self.metrics.arp_replies.with_label_values(&[entry.pool.name()]).inc();
        let out = PacketOut::new(PortNo::CONTROLLER, vec![Action::output(in_port)], reply.into());
        self.send_now(dpid, &[Message::PacketOut(out)]);
        if !self.is_backend(arp.sender_ip) {
            let ids: Vec<PoolId> =
                self.pools.values().filter(|e| e.pool.vip() == arp.target_ip).map(|e| e.pool.id).collect();
            for id in ids {
                self.install_client_reverse(id, arp.sender_ip).await;
            }
        }
    }

    /// The first packet of a client flow to a VIP (or a retransmission that raced the rules).
    fn on_tcp(&mut self, dpid: u64, in_port: PortNo, packet_in: &PacketIn, tcp: &TcpFrame) {
        let Some(pool_id) =
            self.pools.values().find(|e| e.pool.serves(tcp.ip_dst, tcp.tcp_dst)).map(|e| e.pool.id)
        else {
            return;
        };
        self.locations.learn(tcp.ip_src, tcp.eth_src, dpid, in_port);
        let client = Seen { mac: tcp.eth_src, dpid, port: in_port, at: Instant::now() };
        let key = FlowKey { client_ip: tcp.ip_src, client_port: tcp.tcp_src, vip_port: tcp.tcp_dst };
        let topology = self.topology.clone();
        let Some(entry) = self.pools.get_mut(&pool_id) else { return };
        entry.packet_ins += 1;
        let pool_name = entry.pool.name().to_string();
        self.metrics.packet_ins.with_label_values(&[&pool_name]).inc();
        if entry.pool.config().steering == SteeringMode::Conntrack {
            return self.on_tracked_tcp(pool_id, dpid, in_port, packet_in, tcp, client);
        }
        let known = entry.pool.flow(key).is_some();
        let id = match entry.pool.assign(key) {
            Ok(id) => id,
            Err(e) => {
                warn!(cause = %e, client = %key.client_ip, "lb: cannot steer a new flow");
                return;
            }
        };
        let target = match entry.pool.target(id) {
            Ok(t) => t,
            Err(e) => {
                entry.pool.unassign(key);
                debug!(cause = %e, "lb: backend MAC unknown; asking by ARP");
                let msgs = self.arp_requests(pool_id, dpid, true);
                self.send_now(dpid, &msgs);
                return;
            }
        };
        let backend_seen = self.locations.find(target.ip, target.mac, topology.as_ref());
        let paths = backend_seen.ok_or(LocateError::Unknown(target.ip)).and_then(|b| {
            let fwd = path_to(dpid, target.ip, b, topology.as_ref())?;
            let rev = path_to(b.dpid, key.client_ip, client, topology.as_ref())?;
            Ok((fwd, rev))
        });
        let (fwd, rev) = match paths {
            Ok(p) => p,
            Err(e) => {
                entry.pool.unassign(key);
                warn!(cause = %e, "lb: no path to the chosen backend");
                let msgs = self.arp_requests(pool_id, dpid, true);
                self.send_now(dpid, &msgs);
                return;
            }
        };
        let steering = Steering {
            pool: pool_id,
            vip: entry.pool.vip(),
            vip_mac: entry.pool.vip_mac(),
            key,
            backend: target,
            idle_timeout: entry.pool.config().idle_timeout,
        };
        super::accounting::export_steered(
            &self.metrics,
            &pool_name,
            &target,
            entry.pool.backend(id).ok(),
            known,
        );
        let first_out = fwd[0].out_port;
        let hold = entry.installed.get(&dpid).and_then(|i| i.retiring.as_ref()).map(|_| TRANSITION_HOLD);
        let packet_out = Message::PacketOut(steering.first_packet_out(packet_in, in_port, first_out));
        // Open vSwitch's userspace datapath keeps sending a new flow's later packets (its ACK, its
        // request) to the controller until its revalidators replace the cached "to controller"
        // megaflow, which under a high flow rate takes milliseconds. Those packets only need
        // forwarding: installing the same rules again would trigger yet another revalidation. The
        // client sends them only after the SYN-ACK, so its SYN has reached the backend and they
        // cannot overtake it. A SYN (retransmission) or a flow whose rules are older (the switch
        // may have lost them) gets its rules again.
        let now = Instant::now();
        if self.stats_every_ticks > 0 {
            entry.flow_seen.insert(key, now);
        }
        let fresh = entry.rules_sent.get(&key).is_some_and(|t| now.duration_since(*t) < RULES_FRESH);
        if known && fresh && tcp.tcp_flags & TCP_SYN == 0 {
            self.send_now(dpid, &[packet_out]);
            return;
        }
        entry.rules_sent.insert(key, now);
        if fwd.len() == 1 && rev.len() == 1 {
            let [forward, reverse] = steering.single_switch(first_out, rev[0].out_port);
            self.send_now(dpid, &[Message::FlowMod(reverse), Message::FlowMod(forward)]);
            self.send_after_barrier(dpid, packet_out, hold);
            return;
        }
        match steering.along_paths(&fwd, &rev) {
            Ok(rules) => {
                // Downstream switches first; the ingress switch's rules go with the packet.
                let mut ingress = Vec::new();
                let mut downstream: Vec<u64> = Vec::new();
                for (rule_dpid, rule) in rules {
                    if rule_dpid == dpid {
                        ingress.push(Message::FlowMod(rule));
                    } else {
                        self.send_now(rule_dpid, &[Message::FlowMod(rule)]);
                        if !downstream.contains(&rule_dpid) {
                            downstream.push(rule_dpid);
                        }
                    }
                }
                self.send_now(dpid, &ingress);
                self.send_after_barriers(dpid, &downstream, packet_out, hold);
            }
            Err(e) => warn!(cause = %e, "lb: could not build path rules"),
        }
    }
}
