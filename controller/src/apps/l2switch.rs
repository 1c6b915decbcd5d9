//! `l2switch`: a MAC-learning switch that behaves like Ryu's `simple_switch_13`.
//!
//! Per switch it learns which port each source MAC arrived on; a packet to a known destination gets a
//! flow (match in_port, eth_src, eth_dst → output) and is sent on with a PACKET_OUT; an unknown or
//! broadcast destination is flooded. Unlike simple_switch_13 it forgets MACs behind a port that goes
//! down (and deletes the flows that output there), and flows can carry an idle timeout so stale
//! entries age out of the switch as well.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use bytes::{Bytes, BytesMut};
use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::instruction::Instruction;
use ofproto::message::Message;
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketOut};
use ofproto::port::{PortReason, port_config, port_state};
use ofproto::{MacAddr, PortNo};
use tracing::debug;

use super::{App, COOKIE_TAG_MASK, make_cookie};
use crate::ofp::{DatapathHandle, Event};

/// Cookie tag of l2switch flows ("L2").
pub const COOKIE_TAG: u16 = 0x4c32;
/// Priority of learned flows (above table-miss at 0).
pub const FLOW_PRIORITY: u16 = 1;
const ETH_TYPE_LLDP: u16 = 0x88cc;

/// What to do with one packet-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// Ignore it (LLDP, runts).
    Drop,
    /// Flood it; nothing is installed.
    Flood,
    /// Send it out `port` and install a flow for this (in_port, src, dst).
    Unicast { port: PortNo },
}

/// MAC tables of every switch. Kept apart from the app so decisions are unit-testable without a switch.
///
/// Hashing uses foldhash (randomly seeded, so crafted MACs cannot force collisions predictably), which
/// is several times cheaper than SipHash on these 6- and 8-byte keys; this lookup runs per PACKET_IN.
#[derive(Debug, Default)]
pub struct MacTables {
    tables: HashMap<u64, HashMap<MacAddr, PortNo, RandomState>, RandomState>,
}

/// Most MACs one switch's table holds (Open vSwitch's own MAC learning defaults to 2048). A new MAC
/// beyond it evicts an arbitrary one (the hash is randomly seeded), so a flood of made-up source
/// addresses cannot grow the controller without bound; an evicted host is flooded to, and learned
/// again, at its next frame.
pub const MAX_MACS_PER_SWITCH: usize = 8192;

impl MacTables {
    pub fn reset(&mut self, dpid: u64) {
        self.tables.insert(dpid, HashMap::default());
    }

    pub fn remove(&mut self, dpid: u64) {
        self.tables.remove(&dpid);
    }

    /// Forgets every MAC learned on `port`.
    pub fn forget_port(&mut self, dpid: u64, port: PortNo) {
        if let Some(t) = self.tables.get_mut(&dpid) {
            t.retain(|_, p| *p != port);
        }
    }

    pub fn lookup(&self, dpid: u64, mac: &MacAddr) -> Option<PortNo> {
        self.tables.get(&dpid)?.get(mac).copied()
    }

    /// Learns from one frame and decides where it goes. Also returns the source MAC when it was known
    /// behind another port: the host moved, and the flows towards it still point at the old port.
    pub fn learn_and_decide(
        &mut self,
        dpid: u64,
        in_port: PortNo,
        frame: &[u8],
    ) -> (Forwarding, Option<MacAddr>) {
        let Some((dst, src, eth_type)) = parse_ethernet(frame) else { return (Forwarding::Drop, None) };
        if eth_type == ETH_TYPE_LLDP {
            return (Forwarding::Drop, None);
        }
        let table = self.tables.entry(dpid).or_default();
        let mut moved = None;
        if !src.is_multicast() {
            match table.get(&src) {
                Some(&port) if port == in_port => {}
                Some(_) => {
                    moved = Some(src);
                    table.insert(src, in_port);
                }
                None => {
                    if table.len() >= MAX_MACS_PER_SWITCH
                        && let Some(evicted) = table.keys().next().copied()
                    {
                        table.remove(&evicted);
                    }
                    table.insert(src, in_port);
                }
            }
        }
        let forwarding = match table.get(&dst) {
            Some(&port) if !dst.is_multicast() && port != in_port => Forwarding::Unicast { port },
            Some(_) if !dst.is_multicast() => Forwarding::Drop, // destination is behind the input port
            _ => Forwarding::Flood,
        };
        (forwarding, moved)
    }
}

/// Destination MAC, source MAC and EtherType (after at most one VLAN tag) of an Ethernet frame.
pub fn parse_ethernet(frame: &[u8]) -> Option<(MacAddr, MacAddr, u16)> {
    let dst: [u8; 6] = frame.get(0..6)?.try_into().ok()?;
    let src: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    let mut eth_type = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if eth_type == 0x8100 {
        eth_type = u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?);
    }
    Some((MacAddr(dst), MacAddr(src), eth_type))
}

/// The messages that carry out a decision (an optional flow, then the packet-out), kept from one
/// PACKET_IN to the next and updated in place. Building them afresh took five small allocations per
/// packet (the message list, the match, the instruction and the two action lists), which with their
/// frees were the largest single cost of the controller under `rudder bench`.
#[derive(Debug)]
pub struct ForwardingMessages {
    /// `[FlowMod, PacketOut]`, always in that shape.
    msgs: [Message; 2],
}

impl ForwardingMessages {
    /// `idle_timeout` of the installed flows, seconds (0: never expire).
    pub fn new(idle_timeout: u16) -> ForwardingMessages {
        let any = MacAddr([0; 6]);
        let m =
            Match { fields: vec![Oxm::InPort(PortNo(0)), Oxm::EthSrc(any, None), Oxm::EthDst(any, None)] };
        let flow = FlowMod::add(m)
            .priority(FLOW_PRIORITY)
            .cookie(make_cookie(COOKIE_TAG, 0))
            .idle_timeout(idle_timeout)
            .apply_actions(vec![Action::Output { port: PortNo(0), max_len: 0 }]);
        let out =
            PacketOut::new(PortNo(0), vec![Action::Output { port: PortNo(0), max_len: 0 }], Bytes::new());
        ForwardingMessages { msgs: [Message::FlowMod(flow), Message::PacketOut(out)] }
    }

    /// Fills in the messages for `decision` on `packet_in` and returns the ones to send: none (drop),
    /// the packet-out (flood), or the flow and the packet-out (unicast).
    pub fn prepare(&mut self, decision: &Forwarding, packet_in: &PacketIn, in_port: PortNo) -> &[Message] {
        let out_port = match decision {
            Forwarding::Drop => return &[],
            Forwarding::Flood => PortNo::FLOOD,
            Forwarding::Unicast { port } => *port,
        };
        let [Message::FlowMod(flow), Message::PacketOut(out)] = &mut self.msgs else {
            unreachable!("ForwardingMessages holds a FlowMod and a PacketOut")
        };
        out.in_port = in_port;
        out.actions[0] = Action::Output { port: out_port, max_len: 0 };
        out.buffer_id = packet_in.buffer_id;
        out.data = if packet_in.buffer_id == ofproto::types::NO_BUFFER {
            packet_in.data.clone()
        } else {
            Bytes::new()
        };
        if let Forwarding::Unicast { port } = decision
            && let Some((dst, src, _)) = parse_ethernet(&packet_in.data)
        {
            let fields = &mut flow.r#match.fields;
            fields[0] = Oxm::InPort(in_port);
            fields[1] = Oxm::EthSrc(src, None);
            fields[2] = Oxm::EthDst(dst, None);
            if let Some(Instruction::ApplyActions(actions)) = flow.instructions.first_mut() {
                actions[0] = Action::Output { port: *port, max_len: 0 };
            }
            &self.msgs
        } else {
            &self.msgs[1..]
        }
    }

    /// Drops the reference to the last packet's bytes, so the connection's read buffer can be reused.
    pub fn release(&mut self) {
        if let Message::PacketOut(out) = &mut self.msgs[1] {
            out.data = Bytes::new();
        }
    }
}

/// The messages that carry out a decision, freshly built (see [`ForwardingMessages`]).
pub fn messages_for(
    decision: &Forwarding,
    packet_in: &PacketIn,
    in_port: PortNo,
    idle_timeout: u16,
) -> Vec<Message> {
    ForwardingMessages::new(idle_timeout).prepare(decision, packet_in, in_port).to_vec()
}

/// The app.
pub struct L2Switch {
    macs: MacTables,
    messages: ForwardingMessages,
    /// Encoding space for the messages, shared by every switch (see `DatapathHandle::send_all_in`).
    arena: BytesMut,
}

impl L2Switch {
    /// `idle_timeout` 0 means flows never expire (simple_switch_13's behaviour).
    pub fn new(idle_timeout: u16) -> L2Switch {
        L2Switch {
            macs: MacTables::default(),
            messages: ForwardingMessages::new(idle_timeout),
            arena: BytesMut::new(),
        }
    }

    /// Queues `flow` for `dp` if its queue has room; a switch that does not read must not hold up
    /// the app, which serves every switch.
    fn send_without_waiting(&mut self, dp: &DatapathHandle, flow: FlowMod) {
        if let Err(e) = dp.try_send_all_in(&mut self.arena, &[Message::FlowMod(flow)]) {
            debug!(dpid = dp.dpid(), cause = %e, "flow delete dropped");
        }
    }
}

impl App for L2Switch {
    fn name(&self) -> &'static str {
        "l2switch"
    }

    fn cookie_tag(&self) -> Option<u16> {
        Some(COOKIE_TAG)
    }

    fn wants_table_miss(&self) -> bool {
        true
    }

    async fn handle(&mut self, event: &Event) {
        match event {
            Event::SwitchUp { dp, .. } => self.macs.reset(dp.dpid()),
            Event::SwitchDown { dp } => self.macs.remove(dp.dpid()),
            Event::PacketIn { dp, packet_in } => {
                let Some(in_port) = packet_in.in_port() else { return };
                let (decision, moved) = self.macs.learn_and_decide(dp.dpid(), in_port, &packet_in.data);
                if let Some(mac) = moved {
                    // Flows to the host still send it out its old port (with no idle timeout, for
                    // ever); they go before the new ones come.
                    let to_mac = Match::new().with(Oxm::EthDst(mac, None));
                    let del = FlowMod::delete(to_mac)
                        .cookie(make_cookie(COOKIE_TAG, 0))
                        .cookie_mask(COOKIE_TAG_MASK);
                    self.send_without_waiting(dp, del);
                }
                let msgs = self.messages.prepare(&decision, packet_in, in_port);
                // Never wait for one switch's queue: the app serves them all.
                if !msgs.is_empty()
                    && let Err(e) = dp.try_send_all_in(&mut self.arena, msgs)
                {
                    debug!(dpid = dp.dpid(), cause = %e, "forwarding decision dropped");
                }
                self.messages.release();
            }
            Event::PortStatus { dp, status } => {
                let down = status.reason == PortReason::Delete
                    || status.desc.config & port_config::PORT_DOWN != 0
                    || status.desc.state & port_state::LINK_DOWN != 0;
                if down {
                    let port = status.desc.port_no;
                    self.macs.forget_port(dp.dpid(), port);
                    let del = FlowMod::delete(Match::default())
                        .cookie(make_cookie(COOKIE_TAG, 0))
                        .cookie_mask(COOKIE_TAG_MASK)
                        .out_port(port);
                    self.send_without_waiting(dp, del);
                }
            }
            Event::FlowRemoved { .. } | Event::Error { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::types::NO_BUFFER;

    fn frame(dst: [u8; 6], src: [u8; 6], eth_type: u16) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&eth_type.to_be_bytes());
        f.extend_from_slice(&[0u8; 46]);
        f
    }

    const A: [u8; 6] = [0, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [0, 0, 0, 0, 0, 2];
    const BCAST: [u8; 6] = [0xff; 6];

    #[test]
    fn floods_unknown_then_unicasts_learned() {
        let mut t = MacTables::default();
        // A → broadcast on port 1: learn A, flood.
        assert_eq!(t.learn_and_decide(1, PortNo(1), &frame(BCAST, A, 0x0806)).0, Forwarding::Flood);
        // B → A on port 2: A is known on port 1.
        assert_eq!(
            t.learn_and_decide(1, PortNo(2), &frame(A, B, 0x0806)),
            (Forwarding::Unicast { port: PortNo(1) }, None)
        );
        // A → B now known on port 2.
        assert_eq!(
            t.learn_and_decide(1, PortNo(1), &frame(B, A, 0x0800)),
            (Forwarding::Unicast { port: PortNo(2) }, None)
        );
        // Tables are per switch.
        assert_eq!(t.learn_and_decide(2, PortNo(7), &frame(B, A, 0x0800)).0, Forwarding::Flood);
    }

    #[test]
    fn a_host_that_moves_is_reported_once_and_followed() {
        let mut t = MacTables::default();
        t.learn_and_decide(1, PortNo(1), &frame(BCAST, A, 0x0806));
        t.learn_and_decide(1, PortNo(2), &frame(BCAST, B, 0x0806));
        // A now sends from port 3: its flows towards port 1 are stale.
        assert_eq!(t.learn_and_decide(1, PortNo(3), &frame(B, A, 0x0800)).1, Some(MacAddr(A)));
        assert_eq!(t.learn_and_decide(1, PortNo(3), &frame(B, A, 0x0800)).1, None);
        assert_eq!(
            t.learn_and_decide(1, PortNo(2), &frame(A, B, 0x0800)),
            (Forwarding::Unicast { port: PortNo(3) }, None)
        );
    }

    #[test]
    fn a_switch_s_table_stays_bounded_and_keeps_learning() {
        let mut t = MacTables::default();
        for n in 0..(MAX_MACS_PER_SWITCH as u32 + 100) {
            let [a, b, c, d] = n.to_be_bytes();
            t.learn_and_decide(1, PortNo(1), &frame(BCAST, [0x02, 0, a, b, c, d], 0x0800));
        }
        assert_eq!(t.tables[&1].len(), MAX_MACS_PER_SWITCH);
        t.learn_and_decide(1, PortNo(2), &frame(BCAST, B, 0x0800));
        assert_eq!(t.lookup(1, &MacAddr(B)), Some(PortNo(2)), "the newest MAC is learned");
    }

    #[test]
    fn ignores_lldp_and_runts() {
        let mut t = MacTables::default();
        assert_eq!(t.learn_and_decide(1, PortNo(1), &frame(BCAST, A, ETH_TYPE_LLDP)).0, Forwarding::Drop);
        assert_eq!(t.lookup(1, &MacAddr(A)), None, "LLDP must not teach MACs");
        assert_eq!(t.learn_and_decide(1, PortNo(1), &[0u8; 10]).0, Forwarding::Drop);
    }

    #[test]
    fn forgets_port_that_went_down() {
        let mut t = MacTables::default();
        t.learn_and_decide(1, PortNo(3), &frame(BCAST, A, 0x0800));
        assert_eq!(t.lookup(1, &MacAddr(A)), Some(PortNo(3)));
        t.forget_port(1, PortNo(3));
        assert_eq!(t.lookup(1, &MacAddr(A)), None);
    }

    #[test]
    fn unicast_installs_flow_then_packet_out() {
        let data = bytes::Bytes::from(frame(B, A, 0x0800));
        let pi = PacketIn {
            buffer_id: ofproto::types::NO_BUFFER,
            total_len: data.len() as u16,
            reason: ofproto::packet::PacketInReason::from(0),
            table_id: 0,
            cookie: 0,
            r#match: Match { fields: vec![Oxm::InPort(PortNo(1))] },
            data: data.clone(),
        };
        let msgs = messages_for(&Forwarding::Unicast { port: PortNo(2) }, &pi, PortNo(1), 30);
        assert_eq!(msgs.len(), 2);
        let Message::FlowMod(fm) = &msgs[0] else { panic!("expected a flow first: {msgs:?}") };
        assert_eq!(fm.priority, FLOW_PRIORITY);
        assert_eq!(fm.idle_timeout, 30);
        assert_eq!(fm.r#match.fields[0], Oxm::InPort(PortNo(1)));
        let Message::PacketOut(po) = &msgs[1] else { panic!() };
        assert_eq!(po.data, data);
        assert_eq!(po.actions, vec![Action::Output { port: PortNo(2), max_len: 0 }]);
        let flood = messages_for(&Forwarding::Flood, &pi, PortNo(1), 30);
        assert_eq!(flood.len(), 1, "flooding installs no flow");
    }

    /// What simple_switch_13 sends, built from scratch for each packet.
    fn fresh(decision: &Forwarding, pi: &PacketIn, in_port: PortNo, idle: u16) -> Vec<Message> {
        let out_port = match decision {
            Forwarding::Drop => return Vec::new(),
            Forwarding::Flood => PortNo::FLOOD,
            Forwarding::Unicast { port } => *port,
        };
        let mut msgs = Vec::new();
        if let Forwarding::Unicast { port } = decision {
            let (dst, src, _) = parse_ethernet(&pi.data).unwrap();
            let m =
                Match { fields: vec![Oxm::InPort(in_port), Oxm::EthSrc(src, None), Oxm::EthDst(dst, None)] };
            msgs.push(Message::FlowMod(
                FlowMod::add(m)
                    .priority(FLOW_PRIORITY)
                    .cookie(make_cookie(COOKIE_TAG, 0))
                    .idle_timeout(idle)
                    .apply_actions(vec![Action::output(*port)]),
            ));
        }
        let actions = vec![Action::output(out_port)];
        msgs.push(Message::PacketOut(if pi.buffer_id == ofproto::types::NO_BUFFER {
            PacketOut::new(in_port, actions, pi.data.clone())
        } else {
            PacketOut::from_buffer(pi.buffer_id, in_port, actions)
        }));
        msgs
    }

    #[test]
    fn reused_messages_encode_exactly_like_fresh_ones() {
        let packet = |dst, src, buffer_id| {
            let data = bytes::Bytes::from(frame(dst, src, 0x0800));
            PacketIn {
                buffer_id,
                total_len: data.len() as u16,
                reason: ofproto::packet::PacketInReason::from(0),
                table_id: 0,
                cookie: 0,
                r#match: Match { fields: vec![] },
                data,
            }
        };
        let mut reused = ForwardingMessages::new(10);
        let cases = [
            (Forwarding::Unicast { port: PortNo(2) }, packet(B, A, NO_BUFFER), PortNo(1)),
            (Forwarding::Flood, packet(BCAST, B, NO_BUFFER), PortNo(2)),
            (Forwarding::Drop, packet(A, B, NO_BUFFER), PortNo(3)),
            (Forwarding::Unicast { port: PortNo(7) }, packet(A, B, NO_BUFFER), PortNo(3)),
            (Forwarding::Unicast { port: PortNo(1) }, packet(A, [0x02, 0, 0, 0, 0, 9], 42), PortNo(4)),
            (Forwarding::Flood, packet(B, A, 43), PortNo(1)),
        ];
        for (decision, pi, in_port) in &cases {
            let got: Vec<u8> =
                reused.prepare(decision, pi, *in_port).iter().flat_map(|m| m.to_bytes(9).to_vec()).collect();
            let want: Vec<u8> =
                fresh(decision, pi, *in_port, 10).iter().flat_map(|m| m.to_bytes(9).to_vec()).collect();
            assert_eq!(got, want, "{decision:?} from port {in_port:?}");
            reused.release();
        }
    }
}
