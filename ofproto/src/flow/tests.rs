//! Byte vectors for FLOW_MOD and FLOW_REMOVED, the builders' defaults, and malformed inputs.

use std::net::Ipv4Addr;

use super::*;
use crate::action::Action;
use crate::error::DecodeErrorKind;
use crate::message::Message;
use crate::oxm::Oxm;
use crate::switch::OFPCML_NO_BUFFER;
use crate::types::{MacAddr, NO_BUFFER, TABLE_ALL, group_id};

/// The load-balancer flow: `eth_type=0x0800, ip_proto=6, ipv4_dst=10.0.0.100, tcp_dst=80`, priority
/// 100, idle 10 s, SEND_FLOW_REM, apply-actions set eth_dst=02:00:00:00:00:03, set ipv4_dst=10.0.0.3,
/// output 3.
static FLOW_MOD_LB: [u8; 136] = [
    0x04, 0x0e, 0x00, 0x88, 0x00, 0x00, 0x00, 0x0a, // header, xid 10
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cookie
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cookie_mask
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x64, // table 0, ADD, idle 10, hard 0, priority 100
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // NO_BUFFER, out_port ANY
    0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00, // out_group ANY, SEND_FLOW_REM, pad
    0x00, 0x01, 0x00, 0x1d, // match OXM, length 29
    0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, // eth_type 0x0800
    0x80, 0x00, 0x14, 0x01, 0x06, // ip_proto 6
    0x80, 0x00, 0x18, 0x04, 0x0a, 0x00, 0x00, 0x64, // ipv4_dst 10.0.0.100
    0x80, 0x00, 0x1c, 0x02, 0x00, 0x50, // tcp_dst 80
    0x00, 0x00, 0x00, // match padding to 32
    0x00, 0x04, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, // APPLY_ACTIONS, len 56, pad
    0x00, 0x19, 0x00, 0x10, 0x80, 0x00, 0x06, 0x06, // SET_FIELD len 16: eth_dst
    0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, //   02:00:00:00:00:03, pad
    0x00, 0x19, 0x00, 0x10, 0x80, 0x00, 0x18, 0x04, // SET_FIELD len 16: ipv4_dst
    0x0a, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, //   10.0.0.3, pad
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x03, // OUTPUT len 16, port 3
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   max_len 0, pad
];

/// `FlowMod::delete_all()`: DELETE in TABLE_ALL, empty match, no instructions.
static FLOW_MOD_DELETE_ALL: [u8; 56] = [
    0x04, 0x0e, 0x00, 0x38, 0x00, 0x00, 0x00, 0x01, // header, xid 1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cookie
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cookie_mask
    0xff, 0x03, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, // table ALL, DELETE, no timeouts, priority 0x8000
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // NO_BUFFER, out_port ANY
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // out_group ANY, no flags, pad
    0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, // empty match, padding
];

/// Ryu's 4-40-ofp_flow_removed: idle timeout after 3.048825 s, 1 packet, 86 bytes, eth_dst match.
static FLOW_REMOVED: [u8; 64] = [
    0x04, 0x0b, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, // header
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cookie
    0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, // priority 65535, IDLE_TIMEOUT, table 0, 3 s
    0x02, 0xe9, 0x02, 0xa8, 0x00, 0x03, 0x00, 0x00, // 48825000 ns, idle 3, hard 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // packet_count
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x56, // byte_count
    0x00, 0x01, 0x00, 0x0e, 0x80, 0x00, 0x06, 0x06, // match OXM, len 14: eth_dst
    0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea, 0x00, 0x00, //   f2:0b:a4:7d:f8:ea, padding
];

fn lb_match() -> Match {
    Match {
        fields: vec![
            Oxm::EthType(0x0800),
            Oxm::IpProto(6),
            Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 100), None),
            Oxm::TcpDst(80),
        ],
    }
}

/// The same flow as the controller writes it, with the match and action builders.
fn lb_flow() -> FlowMod {
    let (vip, backend_ip, backend_mac) =
        (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 3), MacAddr([2, 0, 0, 0, 0, 3]));
    FlowMod::add(Match::new().eth_type(0x0800).ipv4_dst(vip).ip_proto(6).tcp_dst(80))
        .priority(100)
        .idle_timeout(10)
        .send_flow_rem()
        .apply_actions(vec![
            Action::set_field(Oxm::EthDst(backend_mac, None)),
            Action::set_field(Oxm::Ipv4Dst(backend_ip, None)),
            Action::output(PortNo(3)),
        ])
}

fn flow_removed() -> FlowRemoved {
    FlowRemoved {
        cookie: 0,
        priority: 0xffff,
        reason: FlowRemovedReason::IdleTimeout,
        table_id: 0,
        duration_sec: 3,
        duration_nsec: 48_825_000,
        idle_timeout: 3,
        hard_timeout: 0,
        packet_count: 1,
        byte_count: 86,
        r#match: Match { fields: vec![Oxm::EthDst(MacAddr([0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea]), None)] },
    }
}

/// `bytes` cut to `len`, with the header length patched so the body parser sees the cut.
fn cut(bytes: &[u8], len: usize) -> Bytes {
    let mut v = bytes[..len].to_vec();
    v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    Bytes::from(v)
}

#[test]
fn test_parse_flow_mod() {
    let (header, msg) = Message::decode(&Bytes::from_static(&FLOW_MOD_LB)).unwrap();
    assert_eq!(header.xid, 10);
    assert_eq!(msg, Message::FlowMod(lb_flow()));
    let Message::FlowMod(flow) = msg else { unreachable!() };
    assert_eq!(flow.r#match, lb_match(), "fields in OXM field-number order, as Match::new() sorts them");
    let (_, msg) = Message::decode(&Bytes::from_static(&FLOW_MOD_DELETE_ALL)).unwrap();
    assert_eq!(msg, Message::FlowMod(FlowMod::delete_all()));
}

#[test]
fn test_emit_flow_mod() {
    assert_eq!(&Message::FlowMod(lb_flow()).to_bytes(10)[..], &FLOW_MOD_LB);
    assert_eq!(&Message::FlowMod(FlowMod::delete_all()).to_bytes(1)[..], &FLOW_MOD_DELETE_ALL);
}

#[test]
fn test_parse_flow_removed() {
    let (_, msg) = Message::decode(&Bytes::from_static(&FLOW_REMOVED)).unwrap();
    let Message::FlowRemoved(removed) = &msg else { panic!("{msg:?}") };
    assert_eq!(removed, &flow_removed());
    assert_eq!(removed.duration(), Duration::from_micros(3_048_825));
}

#[test]
fn test_emit_flow_removed() {
    assert_eq!(&Message::FlowRemoved(flow_removed()).to_bytes(0)[..], &FLOW_REMOVED);
}

#[test]
fn add_defaults_follow_the_spec() {
    let flow = FlowMod::add(lb_match());
    assert_eq!(flow.command, FlowModCommand::Add);
    assert_eq!((flow.table_id, flow.priority), (0, OFP_DEFAULT_PRIORITY));
    assert_eq!((flow.idle_timeout, flow.hard_timeout, flow.flags), (0, 0, 0));
    assert_eq!((flow.cookie, flow.cookie_mask), (0, 0));
    assert_eq!((flow.buffer_id, flow.out_port, flow.out_group), (NO_BUFFER, PortNo::ANY, group_id::ANY));
    assert!(flow.instructions.is_empty());
}

#[test]
fn delete_builders_cover_every_table() {
    let strict = FlowMod::delete_strict(lb_match()).priority(100);
    assert_eq!(
        (strict.command, strict.table_id, strict.priority),
        (FlowModCommand::DeleteStrict, TABLE_ALL, 100)
    );
    let narrowed =
        FlowMod::delete(lb_match()).table(2).out_port(PortNo(3)).cookie(0xab).cookie_mask(u64::MAX);
    assert_eq!((narrowed.table_id, narrowed.out_port), (2, PortNo(3)));
    assert_eq!((narrowed.cookie, narrowed.cookie_mask), (0xab, u64::MAX));
    assert_eq!(FlowMod::modify(lb_match()).command, FlowModCommand::Modify);
    assert_eq!(FlowMod::modify_strict(lb_match()).table_id, 0, "modify cannot target TABLE_ALL");
}

#[test]
fn table_miss_sends_whole_packets_to_the_controller() {
    let flow = FlowMod::table_miss();
    assert_eq!((flow.priority, flow.table_id, flow.command), (0, 0, FlowModCommand::Add));
    assert!(flow.r#match.fields.is_empty());
    let output = Action::Output { port: PortNo::CONTROLLER, max_len: OFPCML_NO_BUFFER };
    assert_eq!(flow.instructions, vec![Instruction::ApplyActions(vec![output])]);
    let bytes = Message::FlowMod(flow).to_bytes(0);
    // After the empty match: APPLY_ACTIONS len 24, then OUTPUT CONTROLLER max_len 0xffff.
    assert_eq!(
        &bytes[56..],
        &[0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn instruction_setters_keep_one_of_each_type() {
    let out = |p| vec![Action::Output { port: PortNo(p), max_len: 0 }];
    let flow = FlowMod::add(Match::default())
        .apply_actions(out(1))
        .goto_table(2)
        .apply_actions(out(5))
        .meter(7)
        .write_actions(out(6))
        .goto_table(3)
        .flags(flow_mod_flags::CHECK_OVERLAP)
        .send_flow_rem()
        .hard_timeout(30)
        .buffer_id(9)
        .out_group(4);
    assert_eq!(
        flow.instructions,
        vec![
            Instruction::ApplyActions(out(5)),
            Instruction::GotoTable(3),
            Instruction::Meter(7),
            Instruction::WriteActions(out(6)),
        ]
    );
    assert_eq!(flow.flags, flow_mod_flags::CHECK_OVERLAP | flow_mod_flags::SEND_FLOW_REM);
    assert_eq!((flow.hard_timeout, flow.buffer_id, flow.out_group), (30, 9, 4));
    assert!(flow.clone().instructions(vec![]).instructions.is_empty());
    // Whatever the builder made encodes and decodes back to itself.
    let bytes = Message::FlowMod(flow.clone()).to_bytes(0);
    assert_eq!(Message::decode(&bytes).unwrap().1, Message::FlowMod(flow));
}

#[test]
fn unknown_command_and_reason_round_trip() {
    let mut bytes = FLOW_MOD_DELETE_ALL;
    bytes[25] = 9;
    let (_, msg) = Message::decode(&Bytes::copy_from_slice(&bytes)).unwrap();
    let Message::FlowMod(flow) = &msg else { panic!("{msg:?}") };
    assert_eq!(flow.command, FlowModCommand::Unknown(9));
    assert_eq!(&msg.to_bytes(1)[..], &bytes);

    let mut bytes = FLOW_REMOVED;
    bytes[18] = 5; // OF1.4's OFPRR_EVICTION, unknown to OF1.3
    let (_, msg) = Message::decode(&Bytes::copy_from_slice(&bytes)).unwrap();
    let Message::FlowRemoved(removed) = &msg else { panic!("{msg:?}") };
    assert_eq!(removed.reason, FlowRemovedReason::Unknown(5));
    assert_eq!(&msg.to_bytes(0)[..], &bytes);
}

#[test]
fn truncations_name_the_field() {
    let err = Message::decode(&cut(&FLOW_MOD_LB, 27)).unwrap_err();
    assert_eq!((err.message, err.field, err.offset), ("FLOW_MOD", "idle_timeout", 26));
    assert_eq!(err.kind, DecodeErrorKind::Truncated);
    let err = Message::decode(&cut(&FLOW_MOD_LB, 47)).unwrap_err();
    assert_eq!((err.field, err.offset, err.kind), ("pad", 46, DecodeErrorKind::Truncated));
    let err = Message::decode(&cut(&FLOW_REMOVED, 36)).unwrap_err();
    assert_eq!((err.message, err.field, err.offset), ("FLOW_REMOVED", "packet_count", 32));
    // No cut panics; every cut fails except the one right after the match (no instructions: a drop).
    for len in (8..80).chain(81..FLOW_MOD_LB.len()) {
        assert!(Message::decode(&cut(&FLOW_MOD_LB, len)).is_err(), "FLOW_MOD cut at {len}");
    }
    for len in 8..FLOW_REMOVED.len() {
        assert!(Message::decode(&cut(&FLOW_REMOVED, len)).is_err(), "FLOW_REMOVED cut at {len}");
    }
    // A FLOW_REMOVED has nothing after its match.
    let mut long = FLOW_REMOVED.to_vec();
    long.extend_from_slice(&[0; 8]);
    long[3] = 72;
    assert!(Message::decode(&Bytes::from(long)).is_err());
}
