//! Forwarding decisions and the OpenFlow messages that carry them out, as pure functions of the graph
//! and one frame (unit-tested without a switch).
//!
//! - A frame to a known host goes along the shortest path: a flow matching `eth_dst` on every switch of
//!   the path (installed downstream first), then a PACKET_OUT at the switch that asked. Flows match the
//!   destination only: the paths towards one destination form a tree (see
//!   [`TopologyGraph::shortest_path`]), so one entry per switch serves every source.
//! - Broadcast, multicast and unknown destinations are flooded along the spanning tree plus edge ports,
//!   with a PACKET_OUT that lists each output port. We do not use OFPP_FLOOD with OFPPC_NO_FLOOD on the
//!   blocked ports: that would need a PORT_MOD on every switch whenever the tree changes, and OF1.3
//!   dropped OFPPC_NO_FLOOD from the spec (OF1.3.5 §7.2.1 lists only PORT_DOWN, NO_RECV, NO_FWD,
//!   NO_PACKET_IN), so switches may ignore it. Explicit outputs depend on nothing but our own graph.
//! - A flooded frame that arrives on an inter-switch port off the tree is a copy that went around a
//!   loop: dropped.

use std::net::{Ipv4Addr, Ipv6Addr};

use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::message::Message;
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketOut};
use ofproto::types::NO_BUFFER;
use ofproto::{MacAddr, PortNo};

use super::graph::{Hop, PortInfo, TopologyGraph};
use super::lldp::{ETH_TYPE_LLDP, build_probe};
use crate::apps::make_cookie;

/// Cookie tag of every topology flow ("TP").
pub const COOKIE_TAG: u16 = 0x5450;
/// Cookie (low bits) of the LLDP trap flow.
pub const COOKIE_LLDP_TRAP: u64 = 1;
/// Cookie (low bits) of shortest-path forwarding flows.
pub const COOKIE_FORWARD: u64 = 2;
/// Priority of the LLDP trap: above anything an app installs for ordinary traffic.
pub const LLDP_TRAP_PRIORITY: u16 = 65000;
/// Priority of forwarding flows (above table-miss at 0).
pub const FORWARD_PRIORITY: u16 = 10;

const ETH_TYPE_VLAN: u16 = 0x8100;
const ETH_TYPE_IPV4: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_IPV6: u16 = 0x86dd;

/// The header fields the app looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub eth_type: u16,
    /// ARP sender address or IPv4 source.
    pub ipv4_src: Option<Ipv4Addr>,
    pub ipv6_src: Option<Ipv6Addr>,
}

/// Parses the Ethernet header (after at most one 802.1Q tag) and the sender's IP address. None for a
/// frame too short to have an Ethernet header; missing IP bytes just leave the address out.
pub fn parse_frame(frame: &[u8]) -> Option<FrameInfo> {
    let dst = MacAddr(frame.get(0..6)?.try_into().ok()?);
    let src = MacAddr(frame.get(6..12)?.try_into().ok()?);
    let mut eth_type = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let mut l3 = 14;
    if eth_type == ETH_TYPE_VLAN {
        eth_type = u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?);
        l3 = 18;
    }
    let bytes = |from: usize, len: usize| frame.get(l3 + from..l3 + from + len);
    let ipv4_src = match eth_type {
        // ARP sender protocol address (RFC 826), for Ethernet/IPv4 ARP only.
        ETH_TYPE_ARP if bytes(0, 6) == Some(&[0, 1, 8, 0, 6, 4][..]) => bytes(14, 4),
        ETH_TYPE_IPV4 => bytes(12, 4),
        _ => None,
    }
    .and_then(|b| <[u8; 4]>::try_from(b).ok())
    .map(Ipv4Addr::from);
    let ipv6_src = match eth_type {
        ETH_TYPE_IPV6 => bytes(8, 16).and_then(|b| <[u8; 16]>::try_from(b).ok()).map(Ipv6Addr::from),
        _ => None,
    };
    Some(FrameInfo { dst, src, eth_type, ipv4_src, ipv6_src })
}

/// Why a frame is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The switch is not (or no longer) in the graph.
    UnknownSwitch,
    /// A flooded frame on an inter-switch port off the spanning tree: a copy from a loop.
    OffTree,
    /// The destination host is known but no path leads to its switch (the network is split).
    Unreachable,
    /// The destination is behind the port the frame came in on.
    BackToSender,
    /// LLDP is for discovery only.
    Lldp,
}

/// What to do with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Drop(DropReason),
    /// Send out of these ports (possibly none: a switch with nothing else attached).
    Flood(Vec<PortNo>),
    /// Install flows along `path` (its first hop is at this switch) and send the frame on.
    Forward(Vec<Hop>),
}

/// Decides where a frame that arrived at `in_port` of `dpid` goes.
pub fn decide(graph: &TopologyGraph, dpid: u64, in_port: PortNo, frame: &FrameInfo) -> Decision {
    if frame.eth_type == ETH_TYPE_LLDP {
        return Decision::Drop(DropReason::Lldp);
    }
    if graph.switch(dpid).is_none() {
        return Decision::Drop(DropReason::UnknownSwitch);
    }
    if !frame.dst.is_multicast() && graph.host(&frame.dst).is_some() {
        return match graph.path_to_host(dpid, &frame.dst) {
            None => Decision::Drop(DropReason::Unreachable),
            Some(path) if path.first().is_some_and(|h| h.dpid == dpid && h.out_port == in_port) => {
                Decision::Drop(DropReason::BackToSender)
            }
            Some(path) => Decision::Forward(path),
        };
    }
    match graph.flood_ports(dpid, in_port) {
        None => Decision::Drop(DropReason::OffTree),
        Some(ports) => Decision::Flood(ports),
    }
}

/// The forwarding flow for destination `dst` on one switch of a path.
pub fn forward_flow(hop: &Hop, dst: MacAddr, idle_timeout: u16) -> Message {
    let flow = FlowMod::add(Match { fields: vec![Oxm::EthDst(dst, None)] })
        .priority(FORWARD_PRIORITY)
        .cookie(make_cookie(COOKIE_TAG, COOKIE_FORWARD))
        .idle_timeout(idle_timeout)
        .apply_actions(vec![Action::output(hop.out_port)]);
    Message::FlowMod(flow)
}

/// The flows for a path, one per switch, last switch first: a packet sent on at the first switch
/// then usually finds its flows already in place downstream.
pub fn path_flows(path: &[Hop], dst: MacAddr, idle_timeout: u16) -> Vec<(u64, Message)> {
    path.iter().rev().map(|hop| (hop.dpid, forward_flow(hop, dst, idle_timeout))).collect()
}

/// Sends the frame of `packet_in` (or its switch buffer) out of `ports`.
pub fn packet_out(packet_in: &PacketIn, in_port: PortNo, ports: &[PortNo]) -> Message {
    let actions = ports.iter().map(|p| Action::output(*p)).collect();
    let out = if packet_in.buffer_id != NO_BUFFER {
        PacketOut::from_buffer(packet_in.buffer_id, in_port, actions)
    } else {
        PacketOut::new(in_port, actions, packet_in.data.clone())
    };
    Message::PacketOut(out)
}

/// The flow that sends every LLDP frame to the controller, whole (OF1.3.5 §7.2.5: max_len NO_BUFFER).
pub fn lldp_trap_flow() -> Message {
    let flow = FlowMod::add(Match { fields: vec![Oxm::EthType(ETH_TYPE_LLDP)] })
        .priority(LLDP_TRAP_PRIORITY)
        .cookie(make_cookie(COOKIE_TAG, COOKIE_LLDP_TRAP))
        .apply_actions(vec![Action::output(PortNo::CONTROLLER)]);
    Message::FlowMod(flow)
}

/// Deletes every forwarding flow of this app on a switch (not the LLDP trap): the cookie must match
/// exactly under a full mask (OF1.3.5 §6.4, cookie_mask).
pub fn delete_forward_flows() -> Message {
    Message::FlowMod(
        FlowMod::delete(Match::default())
            .cookie(make_cookie(COOKIE_TAG, COOKIE_FORWARD))
            .cookie_mask(u64::MAX),
    )
}

/// Deletes this app's forwarding flows towards one host.
pub fn delete_flows_to(mac: MacAddr) -> Message {
    Message::FlowMod(
        FlowMod::delete(Match { fields: vec![Oxm::EthDst(mac, None)] })
            .cookie(make_cookie(COOKIE_TAG, COOKIE_FORWARD))
            .cookie_mask(u64::MAX),
    )
}

/// The PACKET_OUT carrying an LLDP probe out of `port` (Ryu sends probes with in_port CONTROLLER).
pub fn probe_packet_out(dpid: u64, port: &PortInfo) -> Message {
    let frame = build_probe(dpid, port.port_no, port.hw_addr);
    Message::PacketOut(PacketOut::new(PortNo::CONTROLLER, vec![Action::output(port.port_no)], frame.into()))
}

#[cfg(test)]
#[path = "forwarding_tests.rs"]
mod tests;
