//! Tests of forwarding decisions and of the messages they produce.

use std::time::Instant;

use bytes::Bytes;
use ofproto::flow::FlowModCommand;
use ofproto::packet::PacketInReason;

use super::*;
use crate::apps::topology::graph::Endpoint;
use crate::apps::topology::lldp::parse_probe;

const H1: MacAddr = MacAddr([0, 0, 0, 0, 0, 1]);
const H3: MacAddr = MacAddr([0, 0, 0, 0, 0, 3]);

fn port(n: u32) -> PortInfo {
    PortInfo {
        port_no: PortNo(n),
        hw_addr: MacAddr([2, 0, 0, 0, 0, n as u8]),
        name: format!("eth{n}"),
        up: true,
    }
}

fn eth(dst: MacAddr, src: MacAddr, eth_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = dst.0.to_vec();
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&eth_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn arp_request(src: MacAddr, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&src.0);
    arp.extend_from_slice(&spa);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&tpa);
    eth(MacAddr::BROADCAST, src, 0x0806, &arp)
}

/// A ring of three switches (port 1 → next, port 2 → previous, port 3 → a host), with H1 on switch 1
/// and H3 on switch 3.
fn triangle() -> TopologyGraph {
    let now = Instant::now();
    let mut g = TopologyGraph::new();
    for s in 1..=3 {
        g.add_switch(s, (1..=3).map(port), now);
    }
    for s in 1..=3u64 {
        let (a, b) = (Endpoint::new(s, PortNo(1)), Endpoint::new(s % 3 + 1, PortNo(2)));
        g.learn_link(a, b, now);
        g.learn_link(b, a, now);
    }
    g.learn_host(H1, Endpoint::new(1, PortNo(3)), None, None);
    g.learn_host(H3, Endpoint::new(3, PortNo(3)), None, None);
    g
}

fn info(frame: &[u8]) -> FrameInfo {
    parse_frame(frame).unwrap()
}

#[test]
fn parses_sender_addresses() {
    let arp = info(&arp_request(H1, [10, 0, 0, 1], [10, 0, 0, 2]));
    assert_eq!((arp.dst, arp.src, arp.eth_type), (MacAddr::BROADCAST, H1, 0x0806));
    assert_eq!(arp.ipv4_src, Some(Ipv4Addr::new(10, 0, 0, 1)));

    let mut ip = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0];
    ip.extend_from_slice(&[10, 0, 0, 7, 10, 0, 0, 8]);
    assert_eq!(info(&eth(H3, H1, 0x0800, &ip)).ipv4_src, Some(Ipv4Addr::new(10, 0, 0, 7)));

    let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 58, 255];
    v6.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&[0; 16]);
    assert_eq!(info(&eth(H3, H1, 0x86dd, &v6)).ipv6_src, Some("fe80::1".parse().unwrap()));

    // 802.1Q-tagged ARP: the address is read after the tag.
    let tagged_arp = arp_request(H1, [10, 0, 0, 9], [10, 0, 0, 2]);
    let mut tagged = tagged_arp[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    tagged.extend_from_slice(&tagged_arp[12..]);
    let t = info(&tagged);
    assert_eq!((t.eth_type, t.ipv4_src), (0x0806, Some(Ipv4Addr::new(10, 0, 0, 9))));

    // Truncated IP header: no address, but still a frame. Shorter than Ethernet: not a frame.
    assert_eq!(info(&eth(H3, H1, 0x0800, &[0x45, 0])).ipv4_src, None);
    assert_eq!(parse_frame(&[0; 13]), None);
}

#[test]
fn known_host_gets_the_shortest_path() {
    let g = triangle();
    // From H1's switch to H3: 1 → 3 directly (switch 1's port 2 faces switch 3), then H3's port.
    let d = decide(&g, 1, PortNo(3), &info(&eth(H3, H1, 0x0800, &[])));
    assert_eq!(
        d,
        Decision::Forward(vec![Hop { dpid: 1, out_port: PortNo(2) }, Hop { dpid: 3, out_port: PortNo(3) }])
    );
    // Already at the destination switch.
    let d = decide(&g, 3, PortNo(1), &info(&eth(H3, H1, 0x0800, &[])));
    assert_eq!(d, Decision::Forward(vec![Hop { dpid: 3, out_port: PortNo(3) }]));
    // The destination is behind the input port.
    let d = decide(&g, 3, PortNo(3), &info(&eth(H3, H1, 0x0800, &[])));
    assert_eq!(d, Decision::Drop(DropReason::BackToSender));
}

#[test]
fn broadcast_and_unknown_unicast_follow_the_tree() {
    let g = triangle();
    let tree = g.spanning_tree();
    // Tree rooted at 1: 1-2 (1's port 1) and 1-3 (1's port 2); the 2-3 link is blocked.
    assert!(!tree.contains(&Endpoint::new(2, PortNo(1))));
    let arp = info(&arp_request(H1, [10, 0, 0, 1], [10, 0, 0, 3]));
    assert_eq!(decide(&g, 1, PortNo(3), &arp), Decision::Flood(vec![PortNo(1), PortNo(2)]));
    // At switch 2 the copy from switch 1 goes to its host only, not on to switch 3.
    assert_eq!(decide(&g, 2, PortNo(2), &arp), Decision::Flood(vec![PortNo(3)]));
    // A copy that came across the blocked link is dropped.
    assert_eq!(decide(&g, 3, PortNo(2), &arp), Decision::Drop(DropReason::OffTree));
    assert_eq!(decide(&g, 2, PortNo(1), &arp), Decision::Drop(DropReason::OffTree));
    // Unknown unicast destination: same as broadcast.
    let unknown = info(&eth(MacAddr([0, 0, 0, 0, 0, 0x42]), H1, 0x0800, &[]));
    assert_eq!(decide(&g, 1, PortNo(3), &unknown), Decision::Flood(vec![PortNo(1), PortNo(2)]));
}

#[test]
fn lldp_and_unknown_switches_are_not_forwarded() {
    let g = triangle();
    let probe = info(&crate::apps::topology::lldp::build_probe(2, PortNo(1), MacAddr([2, 0, 0, 0, 0, 1])));
    assert_eq!(decide(&g, 1, PortNo(1), &probe), Decision::Drop(DropReason::Lldp));
    assert_eq!(
        decide(&g, 9, PortNo(1), &info(&eth(H3, H1, 0x0800, &[]))),
        Decision::Drop(DropReason::UnknownSwitch)
    );
}

#[test]
fn unreachable_host_is_dropped() {
    let mut g = triangle();
    g.remove_switch(2);
    // Cut 1-3 too: switch 1's port 2 goes down.
    let mut down = port(2);
    down.up = false;
    g.update_port(1, PortNo(2), Some(down));
    let d = decide(&g, 1, PortNo(3), &info(&eth(H3, H1, 0x0800, &[])));
    assert_eq!(d, Decision::Drop(DropReason::Unreachable));
}

#[test]
fn path_flows_match_destination_and_go_downstream_first() {
    let path = [Hop { dpid: 1, out_port: PortNo(2) }, Hop { dpid: 3, out_port: PortNo(3) }];
    let flows = path_flows(&path, H3, 30);
    assert_eq!(flows.iter().map(|(d, _)| *d).collect::<Vec<_>>(), vec![3, 1]);
    let Message::FlowMod(fm) = &flows[1].1 else { panic!("not a flow: {:?}", flows[1]) };
    assert_eq!(fm.command, FlowModCommand::Add);
    assert_eq!(fm.r#match.fields, vec![Oxm::EthDst(H3, None)]);
    assert_eq!(fm.priority, FORWARD_PRIORITY);
    assert_eq!(fm.idle_timeout, 30);
    assert_eq!(fm.cookie, make_cookie(COOKIE_TAG, COOKIE_FORWARD));
    assert_eq!(
        fm.instructions,
        vec![ofproto::instruction::Instruction::ApplyActions(vec![Action::output(PortNo(2))])]
    );
}

#[test]
fn packet_out_lists_every_flood_port_and_keeps_the_frame() {
    let data = Bytes::from(arp_request(H1, [10, 0, 0, 1], [10, 0, 0, 3]));
    let pi = PacketIn {
        buffer_id: NO_BUFFER,
        total_len: data.len() as u16,
        reason: PacketInReason::from(0),
        table_id: 0,
        cookie: 0,
        r#match: Match { fields: vec![Oxm::InPort(PortNo(3))] },
        data: data.clone(),
    };
    let Message::PacketOut(po) = packet_out(&pi, PortNo(3), &[PortNo(1), PortNo(2)]) else { panic!() };
    assert_eq!(po.in_port, PortNo(3));
    assert_eq!(po.actions, vec![Action::output(PortNo(1)), Action::output(PortNo(2))]);
    assert_eq!(po.data, data);
    let buffered = PacketIn { buffer_id: 77, ..pi };
    let Message::PacketOut(po) = packet_out(&buffered, PortNo(3), &[PortNo(1)]) else { panic!() };
    assert_eq!((po.buffer_id, po.data.len()), (77, 0));
}

#[test]
fn control_flows_use_distinct_cookies() {
    let Message::FlowMod(trap) = lldp_trap_flow() else { panic!() };
    assert_eq!(trap.r#match.fields, vec![Oxm::EthType(ETH_TYPE_LLDP)]);
    assert_eq!(trap.cookie, make_cookie(COOKIE_TAG, COOKIE_LLDP_TRAP));
    let Message::FlowMod(flush) = delete_forward_flows() else { panic!() };
    assert_eq!(flush.command, FlowModCommand::Delete);
    assert_eq!((flush.cookie, flush.cookie_mask), (make_cookie(COOKIE_TAG, COOKIE_FORWARD), u64::MAX));
    assert_ne!(flush.cookie, trap.cookie, "flushing forwarding flows must keep the LLDP trap");
    let Message::FlowMod(one) = delete_flows_to(H3) else { panic!() };
    assert_eq!(one.r#match.fields, vec![Oxm::EthDst(H3, None)]);

    let Message::PacketOut(probe) = probe_packet_out(7, &port(4)) else { panic!() };
    assert_eq!(probe.actions, vec![Action::output(PortNo(4))]);
    let origin = parse_probe(&probe.data).unwrap();
    assert_eq!((origin.dpid, origin.port), (7, PortNo(4)));
}
