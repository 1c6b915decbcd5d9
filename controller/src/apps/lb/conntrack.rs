//! Conntrack steering ([`SteeringMode::Conntrack`](super::config::SteeringMode)): the controller
//! still picks the backend of every new connection, but pins it in Open vSwitch's connection tracker
//! instead of installing two rules per flow. Pure functions from a pool and its members to rules.
//!
//! Why: on Open vSwitch's userspace datapath every FLOW_MOD costs a classifier update and a
//! revalidation pass over every cached datapath flow, and the flow's later packets race its rules
//! into that cache; per-flow rules top out near 900 new connections/s (docs/performance.md). Here a
//! new connection costs one PACKET_IN and one PACKET_OUT and no FLOW_MOD: the PACKET_OUT commits the
//! connection with a destination NAT to the backend (`ct(commit,nat(dst=backend))`), and from then on
//! the tracker translates each packet and a handful of rules per backend and per client forward it.
//!
//! Rules on every switch, all in table 0 (the tracker resubmits there, with `ct_state` known); the
//! rules marked "per client" are on the switch the client is attached to, sent with its first
//! connection and idling out after it:
//!
//! | priority | match | actions | kind |
//! |---|---|---|---|
//! | 280 | tracked, not reply, to backend:port, FIN or RST | forward + copy to controller | `CtEnd` |
//! | 280 | tracked, reply, a RST to the client (per client; goes with `CtReply`) | as `CtReply` + copy to controller | `CtEnd` |
//! | 270 | tracked, not reply, to backend:port (translated) | eth_dst := backend, out | `CtForward` |
//! | 270 | same, backend ejected | controller (it answers with a RST) | `CtLost` |
//! | 270 | tracked, new, a SYN to VIP:port (not translated: no connection yet) | controller | `CtTrap` |
//! | 270 | tracked, reply, VIP:port → client (translated back; per client) | eth_src := VIP, out | `CtReply` |
//! | 260 | untracked, to VIP:port | `ct(zone, nat, table=0)` | `CtTrack` |
//! | 260 | untracked, from a backend's port to a client of the pool (per client) | same | `CtTrack` |
//!
//! They sit above a transition's SYN trap and the switch-side modes' rules (their per-client reverse
//! rules included: the tracker must see both directions of a connection to follow it to its end)
//! and below the per-flow rules, so connections the tracker pins keep their backend when the pool
//! switches to a switch-side mode (the trap of new connections is then left out and they fall
//! through to that mode's rules), and replies the tracker does not know (a backend answering a
//! client of the pool directly too) fall through to the rules under them. Replies to other hosts,
//! and on switches the client is not attached to, do not pass the tracker at all.

use std::net::Ipv4Addr;

use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::nicira::{Conntrack, Nat, ct_state, ct_zone};
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketOut};
use ofproto::{MacAddr, PortNo};

use super::backend::BackendId;
use super::pool::{BackendTarget, PoolId};
use super::rules::{
    BackendPort, CLIENT_REVERSE_PRIORITY, ETH_TYPE_IPV4, IP_PROTO_TCP, LbCookie, RuleKind, STEER_PRIORITY,
    TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TRANSITION_PRIORITY, reinject, tcp_flags,
    vip_match,
};

/// The tracker zone of every pool's connections (one zone: a backend may serve several pools).
pub const CT_ZONE: u16 = 0x5244;
pub const CT_TRACK_PRIORITY: u16 = 260;
pub const CT_STEER_PRIORITY: u16 = 270;
pub const CT_END_PRIORITY: u16 = 280;
/// How much of a FIN or RST the switch copies to the controller: its headers are all it needs.
const END_COPY_LEN: u16 = 128;

const _: () = assert!(
    CLIENT_REVERSE_PRIORITY < CT_TRACK_PRIORITY
        && TRANSITION_PRIORITY < CT_TRACK_PRIORITY
        && CT_TRACK_PRIORITY < CT_STEER_PRIORITY
        && CT_STEER_PRIORITY < CT_END_PRIORITY
        && CT_END_PRIORITY < STEER_PRIORITY
);

/// `ct_state` of a packet the tracker saw: tracked, valid, in the direction given.
fn tracked(reply: bool) -> Oxm {
    let mask = ct_state::TRACKED | ct_state::REPLY | ct_state::INVALID;
    ct_state(ct_state::TRACKED | if reply { ct_state::REPLY } else { 0 }, mask)
}

/// Through the tracker (zone, NAT of a known connection applied) and back to table 0.
fn through_tracker() -> Vec<Action> {
    vec![Conntrack::lookup(CT_ZONE, 0).to_action()]
}

fn untracked() -> Oxm {
    ct_state(0, ct_state::TRACKED)
}

/// A backend as the rules of one switch see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtMember {
    pub port: BackendPort,
    /// Its connections are carried (false: ejected; their packets go to the controller).
    pub live: bool,
}

/// One pool, as its conntrack rules need it.
#[derive(Debug, Clone, Copy)]
pub struct CtPool<'a> {
    pub pool: PoolId,
    pub vip: Ipv4Addr,
    pub vip_mac: MacAddr,
    pub ports: &'a [u16],
}

impl CtPool<'_> {
    fn rule(&self, m: Match, priority: u16, backend: Option<BackendId>, kind: RuleKind) -> FlowMod {
        FlowMod::add(m).priority(priority).cookie(LbCookie::new(self.pool, backend, kind).encode())
    }

    /// A tracked, translated packet of a connection to `t`, as the switch sees it after the tracker.
    fn tracked_to_backend(t: &BackendTarget) -> Match {
        Match::new()
            .with(Oxm::EthType(ETH_TYPE_IPV4))
            .with(Oxm::IpProto(IP_PROTO_TCP))
            .with(tracked(false))
            .with(ct_zone(CT_ZONE))
            .with(Oxm::Ipv4Dst(t.ip, None))
            .with(Oxm::TcpDst(t.port))
    }

    /// A reply translated back to come from `vip_port`, to `client`.
    fn reply_to_client(&self, client: MacAddr, vip_port: u16) -> Match {
        Match::new()
            .with(Oxm::EthDst(client, None))
            .with(Oxm::EthType(ETH_TYPE_IPV4))
            .with(Oxm::IpProto(IP_PROTO_TCP))
            .with(tracked(true))
            .with(ct_zone(CT_ZONE))
            .with(Oxm::Ipv4Src(self.vip, None))
            .with(Oxm::TcpSrc(vip_port))
    }

    /// The rules of one switch for `members` (see the module table); with `trap_new`, new
    /// connections to the VIP go to the controller (the pool's algorithm is one the controller runs).
    pub fn switch_rules(&self, members: &[CtMember], trap_new: bool) -> Vec<FlowMod> {
        let mut rules = Vec::new();
        for &port in self.ports {
            let m = vip_match(self.vip, port).with(untracked());
            rules.push(
                self.rule(m, CT_TRACK_PRIORITY, None, RuleKind::CtTrack).apply_actions(through_tracker()),
            );
            if trap_new {
                // Only a SYN: Open vSwitch's tracker also calls a mid-stream segment of a connection
                // it never saw `+new` (it picks connections up liberally); those belong to the rules
                // under these (a transition's retiring rules), or get a RST at the plain trap.
                let new = ct_state(
                    ct_state::TRACKED | ct_state::NEW,
                    ct_state::TRACKED | ct_state::NEW | ct_state::INVALID,
                );
                let m = vip_match(self.vip, port)
                    .with(new)
                    .with(ct_zone(CT_ZONE))
                    .with(tcp_flags(TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK));
                rules.push(
                    self.rule(m, CT_STEER_PRIORITY, None, RuleKind::CtTrap)
                        .apply_actions(vec![Action::output(PortNo::CONTROLLER)]),
                );
            }
        }
        for member in members {
            let t = &member.port.target;
            if !member.live {
                rules.push(
                    self.rule(Self::tracked_to_backend(t), CT_STEER_PRIORITY, Some(t.id), RuleKind::CtLost)
                        .apply_actions(vec![Action::to_controller(END_COPY_LEN)]),
                );
                continue;
            }
            let forward =
                vec![Action::SetField(Oxm::EthDst(t.mac, None)), Action::output(member.port.out_port)];
            rules.push(
                self.rule(Self::tracked_to_backend(t), CT_STEER_PRIORITY, Some(t.id), RuleKind::CtForward)
                    .apply_actions(forward.clone()),
            );
            for flag in [TCP_FLAG_FIN, TCP_FLAG_RST] {
                let m = Self::tracked_to_backend(t).with(tcp_flags(flag, flag));
                let mut copy = forward.clone();
                copy.push(Action::to_controller(END_COPY_LEN));
                rules.push(self.rule(m, CT_END_PRIORITY, Some(t.id), RuleKind::CtEnd).apply_actions(copy));
            }
        }
        rules
    }

    /// Reply rules for one client on the switch it is attached to (where its connections are
    /// tracked), out `to_client`: TCP from any of `backend_ports` to the client passes the tracker;
    /// replies translated back get the VIP's MAC (reported when idle for `idle_timeout`); a
    /// backend's RST is also copied to the controller, which ends the connection's accounting.
    ///
    /// Replies pass the tracker only on their way to a client of the pool: a rule per backend for
    /// every destination would send all the backends' traffic through it (the switch-side modes'
    /// and direct clients' too), and a tracker holding a busy pool's finished connections made
    /// those cost 5-15 % more (docs/performance.md).
    pub fn client_rules(
        &self,
        client: MacAddr,
        to_client: PortNo,
        backend_ports: &[u16],
        idle_timeout: u16,
    ) -> Vec<FlowMod> {
        let actions = vec![Action::SetField(Oxm::EthSrc(self.vip_mac, None)), Action::output(to_client)];
        let mut rules = Vec::new();
        for &port in backend_ports {
            let from_backend = Match::new()
                .with(Oxm::EthDst(client, None))
                .with(Oxm::EthType(ETH_TYPE_IPV4))
                .with(Oxm::IpProto(IP_PROTO_TCP))
                .with(untracked())
                .with(Oxm::TcpSrc(port));
            rules.push(
                self.rule(from_backend, CT_TRACK_PRIORITY, None, RuleKind::CtTrack)
                    .idle_timeout(idle_timeout)
                    .apply_actions(through_tracker()),
            );
        }
        for &port in self.ports {
            // Its FLOW_REMOVED at the idle timeout tells the controller that the client's
            // connections to this VIP port are over, however they ended.
            rules.push(
                self.rule(self.reply_to_client(client, port), CT_STEER_PRIORITY, None, RuleKind::CtReply)
                    .idle_timeout(idle_timeout)
                    .send_flow_rem()
                    .apply_actions(actions.clone()),
            );
            // No idle timeout of its own (RSTs are rare, it would lapse while the connections
            // live): it goes when the reply rule above idles out ([`Self::client_reset_copy_delete`]).
            let mut copy = actions.clone();
            copy.push(Action::to_controller(END_COPY_LEN));
            rules.push(
                self.rule(self.reset_to_client(client, port), CT_END_PRIORITY, None, RuleKind::CtEnd)
                    .apply_actions(copy),
            );
        }
        rules
    }

    /// Deletes the client's RST-copy rule for `vip_port` (its reply rule idled out).
    pub fn client_reset_copy_delete(&self, client: MacAddr, vip_port: u16) -> FlowMod {
        FlowMod::delete_strict(self.reset_to_client(client, vip_port)).priority(CT_END_PRIORITY).table(0)
    }

    fn reset_to_client(&self, client: MacAddr, vip_port: u16) -> Match {
        self.reply_to_client(client, vip_port).with(tcp_flags(TCP_FLAG_RST, TCP_FLAG_RST))
    }

    /// Sends a new connection's first packet on to `target` through `out`, committing the
    /// connection with a destination NAT to it: the tracker translates every later packet of the
    /// connection, both ways, with no rule of its own. Checksums are completed first, as for
    /// per-flow steering ([`reinject`]): the tracker drops a segment whose checksum is wrong.
    pub fn first_packet_out(
        packet_in: &PacketIn,
        in_port: PortNo,
        target: &BackendTarget,
        out: PortNo,
    ) -> PacketOut {
        let actions = vec![
            Conntrack::commit(CT_ZONE, Nat::to_destination(target.ip, target.port)).to_action(),
            Action::SetField(Oxm::EthDst(target.mac, None)),
            Action::output(out),
        ];
        reinject(packet_in, in_port, actions)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ofproto::instruction::Instruction;
    use ofproto::message::Message;
    use ofproto::types::NO_BUFFER;

    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
    const VIP_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 0]);
    const CLIENT: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    fn member(n: u8, live: bool) -> CtMember {
        let target = BackendTarget {
            id: BackendId(u16::from(n)),
            ip: Ipv4Addr::new(10, 0, 0, 10 + n),
            mac: MacAddr([2, 0, 0, 0, 0, 10 + n]),
            port: 8000,
            weight: 1,
        };
        CtMember { port: BackendPort { target, out_port: PortNo(u32::from(n) + 1) }, live }
    }

    fn pool(ports: &[u16]) -> CtPool<'_> {
        CtPool { pool: PoolId(3), vip: VIP, vip_mac: VIP_MAC, ports }
    }

    fn kinds(rules: &[FlowMod]) -> Vec<(RuleKind, u16)> {
        rules.iter().map(|r| (LbCookie::decode(r.cookie).unwrap().kind, r.priority)).collect()
    }

    fn actions(rule: &FlowMod) -> &[Action] {
        match &rule.instructions[..] {
            [Instruction::ApplyActions(a)] => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_controller_run_pool_tracks_traps_forwards_and_copies_connection_ends() {
        let rules = pool(&[8000]).switch_rules(&[member(1, true), member(2, true)], true);
        let k = kinds(&rules);
        assert_eq!(k.iter().filter(|(k, _)| *k == RuleKind::CtTrack).count(), 1, "the VIP's port only");
        assert_eq!(k.iter().filter(|(k, _)| *k == RuleKind::CtTrap).count(), 1);
        assert_eq!(k.iter().filter(|(k, _)| *k == RuleKind::CtForward).count(), 2);
        assert_eq!(k.iter().filter(|(k, _)| *k == RuleKind::CtEnd).count(), 4, "FIN and RST per backend");
        // The VIP's tracking rule resubmits through the tracker with NAT; nothing else is in it.
        let track = &rules[0];
        assert!(track.r#match.fields.contains(&untracked()));
        assert_eq!(
            Conntrack::from_action(&actions(track)[0]).unwrap().unwrap(),
            Conntrack::lookup(CT_ZONE, 0)
        );
        // Forwarding rewrites only the MAC: the tracker did the address and port.
        let fwd =
            rules.iter().find(|r| LbCookie::decode(r.cookie).unwrap().kind == RuleKind::CtForward).unwrap();
        assert_eq!(
            actions(fwd),
            &[Action::SetField(Oxm::EthDst(MacAddr([2, 0, 0, 0, 0, 11]), None)), Action::output(PortNo(2))]
        );
        // Every rule encodes (the OXMs and experimenter actions are well formed).
        for r in &rules {
            let bytes = Message::FlowMod(r.clone()).to_bytes(1);
            assert_eq!(Message::decode(&bytes).unwrap().1, Message::FlowMod(r.clone()));
        }
    }

    #[test]
    fn a_switch_side_mode_keeps_tracked_connections_but_traps_no_new_ones() {
        let rules = pool(&[8000, 8080]).switch_rules(&[member(1, true)], false);
        assert!(!kinds(&rules).iter().any(|(k, _)| *k == RuleKind::CtTrap));
        assert_eq!(kinds(&rules).iter().filter(|(k, _)| *k == RuleKind::CtTrack).count(), 2, "per VIP port");
        assert!(kinds(&rules).iter().any(|(k, _)| *k == RuleKind::CtForward));
    }

    #[test]
    fn an_ejected_backends_connections_go_to_the_controller() {
        let rules = pool(&[8000]).switch_rules(&[member(1, true), member(2, false)], true);
        let of_2: Vec<_> = rules
            .iter()
            .filter(|r| LbCookie::decode(r.cookie).unwrap().backend == Some(BackendId(2)))
            .map(|r| LbCookie::decode(r.cookie).unwrap().kind)
            .collect();
        assert_eq!(of_2, vec![RuleKind::CtLost]);
    }

    #[test]
    fn client_rules_track_replies_to_the_client_restore_the_vip_mac_and_copy_resets() {
        let rules = pool(&[8000]).client_rules(CLIENT, PortNo(7), &[8000, 9000], 600);
        assert_eq!(
            kinds(&rules),
            vec![
                (RuleKind::CtTrack, CT_TRACK_PRIORITY),
                (RuleKind::CtTrack, CT_TRACK_PRIORITY),
                (RuleKind::CtReply, CT_STEER_PRIORITY),
                (RuleKind::CtEnd, CT_END_PRIORITY)
            ]
        );
        assert!(rules.iter().all(|r| r.r#match.get_eth_dst() == Some(CLIENT)));
        let idle: Vec<u16> = rules.iter().map(|r| r.idle_timeout).collect();
        assert_eq!(idle, [600, 600, 600, 0], "the RST copy goes with the reply rule, not on its own");
        let delete = pool(&[8000]).client_reset_copy_delete(CLIENT, 8000);
        assert_eq!((&delete.r#match, delete.priority), (&rules[3].r#match, rules[3].priority));
        // Untracked TCP from each backend port to this client goes through the tracker (which
        // translates a reply back to come from the VIP).
        for (rule, port) in rules[..2].iter().zip([8000, 9000]) {
            assert!(rule.r#match.fields.contains(&untracked()));
            assert!(rule.r#match.fields.contains(&Oxm::TcpSrc(port)));
            assert_eq!(
                Conntrack::from_action(&actions(rule)[0]).unwrap().unwrap(),
                Conntrack::lookup(CT_ZONE, 0)
            );
        }
        assert_eq!(
            actions(&rules[2]),
            &[Action::SetField(Oxm::EthSrc(VIP_MAC, None)), Action::output(PortNo(7))]
        );
        // Only the reply rule reports its end: it idles out when the client's connections to the
        // VIP port have all gone silent.
        let reporting: Vec<_> =
            rules.iter().map(|r| r.flags & ofproto::flow::flow_mod_flags::SEND_FLOW_REM != 0).collect();
        assert_eq!(reporting, [false, false, true, false]);
        for r in &rules {
            let bytes = Message::FlowMod(r.clone()).to_bytes(1);
            assert_eq!(Message::decode(&bytes).unwrap().1, Message::FlowMod(r.clone()));
        }
    }

    #[test]
    fn the_first_packet_commits_its_connection_with_nat_to_the_backend() {
        let t = member(2, true).port.target;
        let pi = PacketIn {
            buffer_id: NO_BUFFER,
            total_len: 60,
            reason: ofproto::packet::PacketInReason::from(1),
            table_id: 0,
            cookie: LbCookie::new(PoolId(3), None, RuleKind::CtTrap).encode(),
            r#match: Match::new().with(Oxm::InPort(PortNo(5))),
            data: Bytes::from_static(&[0u8; 60]),
        };
        let out = CtPool::first_packet_out(&pi, PortNo(5), &t, PortNo(3));
        assert_eq!(out.in_port, PortNo(5));
        let ct = Conntrack::from_action(&out.actions[0]).unwrap().unwrap();
        assert_eq!(ct, Conntrack::commit(CT_ZONE, Nat::to_destination(t.ip, 8000)));
        assert_eq!(out.actions[1..], [Action::SetField(Oxm::EthDst(t.mac, None)), Action::output(PortNo(3))]);
    }
}
