//! Flow-mod cases: every OXM field, every action, every instruction, and the OF1.3 features OVS
//! does not implement.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ofproto::Message;
use ofproto::action::Action;
use ofproto::flow::{FlowMod, FlowModCommand};
use ofproto::instruction::Instruction;
use ofproto::oxm::{Match, Oxm};
use ofproto::types::{MacAddr, PortNo};

use crate::{Case, case};

pub const MAC_A: MacAddr = MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
pub const MAC_B: MacAddr = MacAddr([0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea]);
pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86dd;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_MPLS: u16 = 0x8847;
pub const ETH_PBB: u16 = 0x88e7;
pub const OFPVID_PRESENT: u16 = 0x1000;

pub fn flow_mod(fields: Vec<Oxm>, instructions: Vec<Instruction>) -> FlowMod {
    FlowMod {
        cookie: 0x1234,
        cookie_mask: 0,
        table_id: 1,
        command: FlowModCommand::Add,
        idle_timeout: 10,
        hard_timeout: 30,
        priority: 100,
        buffer_id: ofproto::types::NO_BUFFER,
        out_port: PortNo::ANY,
        out_group: ofproto::types::group_id::ANY,
        flags: 0,
        r#match: Match { fields },
        instructions,
    }
}

pub fn apply(actions: Vec<Action>) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(actions)]
}

/// A flow-mod matching `fields` (prerequisites first) whose OVS text must contain `expect`.
pub fn match_case(name: &str, fields: Vec<Oxm>, expect: &[&str]) -> Case {
    case(
        &format!("match {name}"),
        Message::FlowMod(flow_mod(fields, apply(vec![Action::output(PortNo(3))]))),
        expect,
    )
}

/// A flow-mod applying `action` after the prerequisites in `fields`.
pub fn action_case(name: &str, fields: Vec<Oxm>, action: Action, expect: &[&str]) -> Case {
    case(&format!("action {name}"), Message::FlowMod(flow_mod(fields, apply(vec![action]))), expect)
}

pub fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

pub fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap_or_else(|e| panic!("bad IPv6 literal {s}: {e}"))
}

/// Every OXM basic field OVS implements, with and without mask where OF1.3 allows one (the rest are
/// in [`ovs_gap_cases`]). Prerequisites (OF1.3.5 §7.2.3.8) come first: OVS enforces them.
pub fn match_cases() -> Vec<Case> {
    use Oxm::*;
    let ipv4 = || EthType(ETH_IPV4);
    let ipv6 = || EthType(ETH_IPV6);
    vec![
        match_case("in_port", vec![InPort(PortNo(7))], &["in_port=7"]),
        match_case("metadata", vec![Metadata(0xabcd, None)], &["metadata=0xabcd"]),
        match_case("metadata/mask", vec![Metadata(0xab00, Some(0xff00))], &["metadata=0xab00/0xff00"]),
        match_case("eth_dst", vec![EthDst(MAC_A, None)], &["dl_dst=00:11:22:33:44:55"]),
        match_case(
            "eth_dst/mask",
            vec![EthDst(MacAddr([1, 0, 0, 0, 0, 0]), Some(MacAddr([1, 0, 0, 0, 0, 0])))],
            &["dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"],
        ),
        match_case("eth_src", vec![EthSrc(MAC_B, None)], &["dl_src=f2:0b:a4:7d:f8:ea"]),
        match_case(
            "eth_src/mask",
            vec![EthSrc(MacAddr([0xf2, 0x0b, 0xa4, 0, 0, 0]), Some(MacAddr([0xff, 0xff, 0xff, 0, 0, 0])))],
            &["dl_src=f2:0b:a4:00:00:00/ff:ff:ff:00:00:00"],
        ),
        match_case("eth_type", vec![EthType(0x88cc)], &["dl_type=0x88cc"]),
        match_case("vlan_vid", vec![VlanVid(OFPVID_PRESENT | 10, None)], &["dl_vlan=10"]),
        match_case(
            "vlan_vid/mask",
            vec![VlanVid(OFPVID_PRESENT, Some(OFPVID_PRESENT))],
            &["vlan_tci=0x1000/0x1000"],
        ),
        match_case("vlan_pcp", vec![VlanVid(OFPVID_PRESENT | 10, None), VlanPcp(5)], &["dl_vlan_pcp=5"]),
        match_case("ip_dscp", vec![ipv4(), IpDscp(46)], &["nw_tos=184"]),
        match_case("ip_ecn", vec![ipv4(), IpEcn(3)], &["nw_ecn=3"]),
        match_case("ip_proto", vec![ipv4(), IpProto(47)], &["nw_proto=47"]),
        match_case("ipv4_src", vec![ipv4(), Ipv4Src(ip(10, 0, 0, 1), None)], &["nw_src=10.0.0.1"]),
        match_case(
            "ipv4_src/mask",
            vec![ipv4(), Ipv4Src(ip(10, 0, 0, 0), Some(ip(255, 0, 0, 0)))],
            &["nw_src=10.0.0.0/8"],
        ),
        match_case("ipv4_dst", vec![ipv4(), Ipv4Dst(ip(10, 0, 0, 100), None)], &["nw_dst=10.0.0.100"]),
        match_case(
            "ipv4_dst/mask",
            vec![ipv4(), Ipv4Dst(ip(192, 168, 1, 0), Some(ip(255, 255, 255, 0)))],
            &["nw_dst=192.168.1.0/24"],
        ),
        match_case("tcp_src", vec![ipv4(), IpProto(6), TcpSrc(1234)], &["tcp", "tp_src=1234"]),
        match_case("tcp_dst", vec![ipv4(), IpProto(6), TcpDst(80)], &["tcp", "tp_dst=80"]),
        match_case("udp_src", vec![ipv4(), IpProto(17), UdpSrc(5353)], &["udp", "tp_src=5353"]),
        match_case("udp_dst", vec![ipv4(), IpProto(17), UdpDst(53)], &["udp", "tp_dst=53"]),
        match_case("sctp_src", vec![ipv4(), IpProto(132), SctpSrc(2905)], &["sctp", "tp_src=2905"]),
        match_case("sctp_dst", vec![ipv4(), IpProto(132), SctpDst(2906)], &["sctp", "tp_dst=2906"]),
        match_case("icmpv4_type", vec![ipv4(), IpProto(1), Icmpv4Type(8)], &["icmp", "icmp_type=8"]),
        match_case("icmpv4_code", vec![ipv4(), IpProto(1), Icmpv4Code(3)], &["icmp", "icmp_code=3"]),
        match_case("arp_op", vec![EthType(ETH_ARP), ArpOp(2)], &["arp", "arp_op=2"]),
        match_case("arp_spa", vec![EthType(ETH_ARP), ArpSpa(ip(10, 0, 0, 1), None)], &["arp_spa=10.0.0.1"]),
        match_case(
            "arp_spa/mask",
            vec![EthType(ETH_ARP), ArpSpa(ip(10, 0, 0, 0), Some(ip(255, 255, 0, 0)))],
            &["arp_spa=10.0.0.0/16"],
        ),
        match_case("arp_tpa", vec![EthType(ETH_ARP), ArpTpa(ip(10, 0, 0, 2), None)], &["arp_tpa=10.0.0.2"]),
        match_case(
            "arp_tpa/mask",
            vec![EthType(ETH_ARP), ArpTpa(ip(10, 1, 0, 0), Some(ip(255, 255, 0, 0)))],
            &["arp_tpa=10.1.0.0/16"],
        ),
        match_case("arp_sha", vec![EthType(ETH_ARP), ArpSha(MAC_A, None)], &["arp_sha=00:11:22:33:44:55"]),
        match_case(
            "arp_sha/mask",
            vec![
                EthType(ETH_ARP),
                ArpSha(MacAddr([0, 0x11, 0x22, 0x33, 0, 0]), Some(MacAddr([0xff, 0xff, 0xff, 0xff, 0, 0]))),
            ],
            &["arp_sha=00:11:22:33:00:00/ff:ff:ff:ff:00:00"],
        ),
        match_case("arp_tha", vec![EthType(ETH_ARP), ArpTha(MAC_B, None)], &["arp_tha=f2:0b:a4:7d:f8:ea"]),
        match_case(
            "arp_tha/mask",
            vec![
                EthType(ETH_ARP),
                ArpTha(MacAddr([0xf2, 0x0b, 0, 0, 0, 0]), Some(MacAddr([0xff, 0xff, 0, 0, 0, 0]))),
            ],
            &["arp_tha=f2:0b:00:00:00:00/ff:ff:00:00:00:00"],
        ),
        match_case("ipv6_src", vec![ipv6(), Ipv6Src(v6("2001:db8::1"), None)], &["ipv6_src=2001:db8::1"]),
        match_case(
            "ipv6_src/mask",
            vec![ipv6(), Ipv6Src(v6("2001:db8::"), Some(v6("ffff:ffff::")))],
            &["ipv6_src=2001:db8::/32"],
        ),
        match_case("ipv6_dst", vec![ipv6(), Ipv6Dst(v6("fe80::2"), None)], &["ipv6_dst=fe80::2"]),
        match_case(
            "ipv6_dst/mask",
            vec![ipv6(), Ipv6Dst(v6("fe80::"), Some(v6("ffff:ffff:ffff:ffff::")))],
            &["ipv6_dst=fe80::/64"],
        ),
        match_case("ipv6_flabel", vec![ipv6(), Ipv6Flabel(0x12345, None)], &["ipv6_label=0x12345"]),
        match_case(
            "ipv6_flabel/mask",
            vec![ipv6(), Ipv6Flabel(0x12300, Some(0xfff00))],
            &["ipv6_label=0x12300/0xfff00"],
        ),
        match_case("icmpv6_type", vec![ipv6(), IpProto(58), Icmpv6Type(128)], &["icmp6", "icmp_type=128"]),
        match_case("icmpv6_code", vec![ipv6(), IpProto(58), Icmpv6Code(4)], &["icmp6", "icmp_code=4"]),
        match_case(
            "ipv6_nd_target",
            vec![ipv6(), IpProto(58), Icmpv6Type(135), Ipv6NdTarget(v6("fe80::a"))],
            &["nd_target=fe80::a"],
        ),
        match_case(
            "ipv6_nd_sll",
            vec![ipv6(), IpProto(58), Icmpv6Type(135), Ipv6NdSll(MAC_A)],
            &["nd_sll=00:11:22:33:44:55"],
        ),
        match_case(
            "ipv6_nd_tll",
            vec![ipv6(), IpProto(58), Icmpv6Type(136), Ipv6NdTll(MAC_B)],
            &["nd_tll=f2:0b:a4:7d:f8:ea"],
        ),
        match_case("mpls_label", vec![EthType(ETH_MPLS), MplsLabel(0x12345)], &["mpls_label=74565"]),
        match_case("mpls_tc", vec![EthType(ETH_MPLS), MplsTc(5)], &["mpls_tc=5"]),
        match_case("mpls_bos", vec![EthType(ETH_MPLS), MplsBos(1)], &["mpls_bos=1"]),
        match_case("tunnel_id", vec![TunnelId(0xdead_beef, None)], &["tun_id=0xdeadbeef"]),
        match_case("tunnel_id/mask", vec![TunnelId(0xbe00, Some(0xff00))], &["tun_id=0xbe00/0xff00"]),
        // A Nicira NXM register, which ofproto keeps as an opaque TLV.
        match_case(
            "nxm reg3",
            vec![Other {
                class: 0x0001,
                field: 3,
                has_mask: false,
                body: Bytes::from_static(&[0, 0, 0x12, 0x34]),
            }],
            &["reg3=0x1234"],
        ),
    ]
}

/// Every OF1.3 action type OVS implements (the rest are in [`ovs_gap_cases`]).
pub fn action_cases() -> Vec<Case> {
    use Oxm::*;
    let ipv4 = || EthType(ETH_IPV4);
    let mpls = || EthType(ETH_MPLS);
    vec![
        action_case("output", vec![], Action::output(PortNo(3)), &["actions=output:3"]),
        action_case(
            "output controller",
            vec![],
            Action::Output { port: PortNo::CONTROLLER, max_len: 128 },
            &["actions=CONTROLLER:128"],
        ),
        action_case("set_mpls_ttl", vec![mpls()], Action::SetMplsTtl(9), &["set_mpls_ttl(9)"]),
        action_case("dec_mpls_ttl", vec![mpls()], Action::DecMplsTtl, &["dec_mpls_ttl"]),
        action_case("push_vlan", vec![], Action::PushVlan(0x8100), &["push_vlan:0x8100"]),
        action_case("pop_vlan", vec![VlanVid(OFPVID_PRESENT | 5, None)], Action::PopVlan, &["pop_vlan"]),
        action_case("push_mpls", vec![ipv4()], Action::PushMpls(ETH_MPLS), &["push_mpls:0x8847"]),
        action_case("pop_mpls", vec![mpls()], Action::PopMpls(ETH_IPV4), &["pop_mpls:0x0800"]),
        action_case("set_queue", vec![], Action::SetQueue(4), &["set_queue:4"]),
        action_case("group", vec![], Action::group(9), &["group:9"]),
        action_case("set_nw_ttl", vec![ipv4()], Action::SetNwTtl(33), &["mod_nw_ttl:33"]),
        action_case("dec_nw_ttl", vec![ipv4()], Action::DecNwTtl, &["dec_ttl"]),
        action_case(
            "set_field eth_dst",
            vec![],
            Action::set_field(EthDst(MAC_A, None)),
            &["set_field:00:11:22:33:44:55->eth_dst"],
        ),
        action_case(
            "set_field ipv4_dst",
            vec![ipv4()],
            Action::set_field(Ipv4Dst(ip(10, 0, 0, 2), None)),
            &["set_field:10.0.0.2->ip_dst"],
        ),
        action_case(
            "set_field tcp_dst",
            vec![ipv4(), IpProto(6)],
            Action::set_field(TcpDst(8080)),
            &["set_field:8080->tcp_dst"],
        ),
        action_case(
            "set_field vlan_vid",
            vec![VlanVid(OFPVID_PRESENT | 5, None)],
            Action::set_field(VlanVid(OFPVID_PRESENT | 7, None)),
            &["set_field:4103->vlan_vid"],
        ),
        action_case(
            "set_field ipv6_src",
            vec![EthType(ETH_IPV6)],
            Action::set_field(Ipv6Src(v6("2001:db8::9"), None)),
            &["set_field:2001:db8::9->ipv6_src"],
        ),
        // Nicira resubmit(,5): subtype 14 (NXAST_RESUBMIT_TABLE), in_port 0xfff8 (IN_PORT), table 5.
        action_case(
            "experimenter nicira resubmit",
            vec![],
            Action::Experimenter {
                experimenter: 0x2320,
                data: Bytes::from_static(&[0x00, 0x0e, 0xff, 0xf8, 0x05, 0, 0, 0]),
            },
            &["resubmit(,5)"],
        ),
    ]
}

pub fn instruction_cases() -> Vec<Case> {
    let fm = |i: Vec<Instruction>| Message::FlowMod(flow_mod(vec![], i));
    vec![
        case("instruction goto_table", fm(vec![Instruction::GotoTable(4)]), &["goto_table:4"]),
        case(
            "instruction write_metadata",
            fm(vec![Instruction::WriteMetadata { metadata: 0x1200, mask: 0xff00 }]),
            &["write_metadata:0x1200/0xff00"],
        ),
        case(
            "instruction write_actions",
            fm(vec![Instruction::WriteActions(vec![Action::output(PortNo(2))])]),
            &["write_actions(output:2)"],
        ),
        case("instruction clear_actions", fm(vec![Instruction::ClearActions]), &["clear_actions"]),
        case("instruction meter", fm(vec![Instruction::Meter(5)]), &["meter:5"]),
        case(
            "instruction all kinds",
            fm(vec![
                Instruction::Meter(1),
                Instruction::ApplyActions(vec![Action::output(PortNo(1))]),
                Instruction::ClearActions,
                Instruction::WriteActions(vec![Action::group(2)]),
                Instruction::WriteMetadata { metadata: 1, mask: 1 },
                Instruction::GotoTable(3),
            ]),
            &["meter:1", "output:1", "clear_actions", "write_actions(group:2)", "goto_table:3"],
        ),
    ]
}

pub fn ovs_gap_cases() -> Vec<Case> {
    use Oxm::*;
    let ipv6 = || EthType(ETH_IPV6);
    let mpls = || EthType(ETH_MPLS);
    let bad_field = ["OFPBMC_BAD_FIELD"];
    vec![
        match_case(
            "in_phy_port (OVS: no such field)",
            vec![InPort(PortNo(7)), InPhyPort(PortNo(8))],
            &bad_field,
        ),
        match_case("ipv6_exthdr (OVS: no such field)", vec![ipv6(), Ipv6Exthdr(0x4, None)], &bad_field),
        match_case(
            "ipv6_exthdr/mask (OVS: no such field)",
            vec![ipv6(), Ipv6Exthdr(0x4, Some(0x4))],
            &bad_field,
        ),
        match_case(
            "pbb_isid (OVS: no such field)",
            vec![EthType(ETH_PBB), PbbIsid(0x123456, None)],
            &bad_field,
        ),
        match_case(
            "pbb_isid/mask (OVS: no such field)",
            vec![EthType(ETH_PBB), PbbIsid(0x123400, Some(0xffff00))],
            &bad_field,
        ),
        action_case(
            "copy_ttl_out (OVS: no such action)",
            vec![mpls()],
            Action::CopyTtlOut,
            &["OFPBAC_BAD_TYPE", "vendor 0 and type 11"],
        ),
        action_case(
            "copy_ttl_in (OVS: no such action)",
            vec![mpls()],
            Action::CopyTtlIn,
            &["OFPBAC_BAD_TYPE", "vendor 0 and type 12"],
        ),
        action_case(
            "push_pbb (OVS: no such action)",
            vec![],
            Action::PushPbb(ETH_PBB),
            &["OFPBAC_BAD_TYPE", "vendor 0 and type 26"],
        ),
        action_case(
            "pop_pbb (OVS: no such action)",
            vec![EthType(ETH_PBB)],
            Action::PopPbb,
            &["OFPBAC_BAD_TYPE", "vendor 0 and type 27"],
        ),
    ]
}
