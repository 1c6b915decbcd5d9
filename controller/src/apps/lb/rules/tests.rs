use ofproto::flow::{FlowModCommand, flow_mod_flags};
use ofproto::instruction::Instruction;

use super::*;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const VIP_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 0]);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const BACKEND_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 12);
const BACKEND_MAC: MacAddr = MacAddr([0, 0, 0, 0, 0, 0x12]);

fn steering(backend_port: u16) -> Steering {
    Steering {
        pool: PoolId(3),
        vip: VIP,
        vip_mac: VIP_MAC,
        key: FlowKey { client_ip: CLIENT, client_port: 40_001, vip_port: 8000 },
        backend: BackendTarget {
            id: BackendId(1),
            ip: BACKEND_IP,
            mac: BACKEND_MAC,
            port: backend_port,
            weight: 1,
        },
        idle_timeout: 30,
    }
}

fn actions(fm: &FlowMod) -> &[Action] {
    match fm.instructions.as_slice() {
        [Instruction::ApplyActions(a)] => a,
        other => panic!("expected one apply-actions instruction, got {other:?}"),
    }
}

#[test]
fn cookie_round_trips_and_masks_select_backend_then_pool() {
    let c = LbCookie::new(PoolId(3), Some(BackendId(1)), RuleKind::Forward);
    let raw = c.encode();
    assert_eq!(raw >> 48, 0x4c42);
    assert_eq!(LbCookie::decode(raw), Some(c));
    assert_eq!(LbCookie::decode(crate::apps::make_cookie(0x4c32, 5)), None, "l2switch cookie");
    let trap = LbCookie::new(PoolId(3), None, RuleKind::Trap).encode();
    assert_eq!(LbCookie::decode(trap).and_then(|c| c.backend), None);
    let del = delete_backend_rules(PoolId(3), BackendId(1));
    assert_eq!(del.command, FlowModCommand::Delete);
    assert_eq!(del.table_id, ofproto::types::TABLE_ALL);
    assert_eq!(raw & del.cookie_mask, del.cookie & del.cookie_mask, "deletes the backend's forward rule");
    assert_ne!(trap & del.cookie_mask, del.cookie & del.cookie_mask, "keeps the pool's traps");
    let other = LbCookie::new(PoolId(3), Some(BackendId(2)), RuleKind::Forward).encode();
    assert_ne!(other & del.cookie_mask, del.cookie & del.cookie_mask, "keeps other backends' rules");
    let pool_del = delete_pool_rules(PoolId(3));
    for c in [raw, trap, other] {
        assert_eq!(c & pool_del.cookie_mask, pool_del.cookie & pool_del.cookie_mask);
    }
    let next_pool = LbCookie::new(PoolId(4), Some(BackendId(1)), RuleKind::Forward).encode();
    assert_ne!(next_pool & pool_del.cookie_mask, pool_del.cookie & pool_del.cookie_mask);
}

#[test]
fn single_switch_rules_match_rewrite_and_time_out() {
    let s = steering(8000);
    let [fwd, rev] = s.single_switch(PortNo(2), PortNo(1));
    assert_eq!(
        fwd.r#match.fields,
        vec![
            Oxm::EthType(0x0800),
            Oxm::IpProto(6),
            Oxm::Ipv4Src(CLIENT, None),
            Oxm::Ipv4Dst(VIP, None),
            Oxm::TcpSrc(40_001),
            Oxm::TcpDst(8000),
        ]
    );
    assert_eq!(
        actions(&fwd),
        [
            Action::SetField(Oxm::EthDst(BACKEND_MAC, None)),
            Action::SetField(Oxm::Ipv4Dst(BACKEND_IP, None)),
            Action::Output { port: PortNo(2), max_len: 0 },
        ]
    );
    assert_eq!(
        rev.r#match.fields,
        vec![
            Oxm::EthType(0x0800),
            Oxm::IpProto(6),
            Oxm::Ipv4Src(BACKEND_IP, None),
            Oxm::Ipv4Dst(CLIENT, None),
            Oxm::TcpSrc(8000),
            Oxm::TcpDst(40_001),
        ]
    );
    assert_eq!(
        actions(&rev),
        [
            Action::SetField(Oxm::EthSrc(VIP_MAC, None)),
            Action::SetField(Oxm::Ipv4Src(VIP, None)),
            Action::Output { port: PortNo(1), max_len: 0 },
        ]
    );
    for (fm, kind) in [(&fwd, RuleKind::Forward), (&rev, RuleKind::Reverse)] {
        assert_eq!(fm.command, FlowModCommand::Add);
        assert_eq!(fm.priority, STEER_PRIORITY);
        assert_eq!(fm.idle_timeout, 30);
        assert_eq!(fm.hard_timeout, 0);
        assert_eq!(fm.flags & flow_mod_flags::SEND_FLOW_REM, flow_mod_flags::SEND_FLOW_REM);
        assert_eq!(LbCookie::decode(fm.cookie), Some(LbCookie::new(PoolId(3), Some(BackendId(1)), kind)));
    }
}

#[test]
fn a_backend_on_another_port_gets_the_port_rewritten_both_ways() {
    let s = steering(9000);
    let [fwd, rev] = s.single_switch(PortNo(2), PortNo(1));
    assert!(actions(&fwd).contains(&Action::SetField(Oxm::TcpDst(9000))));
    assert!(actions(&rev).contains(&Action::SetField(Oxm::TcpSrc(8000))));
    assert!(rev.r#match.fields.contains(&Oxm::TcpSrc(9000)));
}

#[test]
fn path_rules_rewrite_at_ingress_and_forward_elsewhere() {
    let s = steering(8000);
    // Client on switch 1; backend behind switch 3 via 2.
    let fwd = [
        Hop { dpid: 1, out_port: PortNo(5) },
        Hop { dpid: 2, out_port: PortNo(6) },
        Hop { dpid: 3, out_port: PortNo(7) },
    ];
    let rev = [
        Hop { dpid: 3, out_port: PortNo(1) },
        Hop { dpid: 2, out_port: PortNo(2) },
        Hop { dpid: 1, out_port: PortNo(3) },
    ];
    let rules = s.along_paths(&fwd, &rev).expect("non-empty paths");
    let order: Vec<(u64, RuleKind)> = rules
        .iter()
        .map(|(d, fm)| (*d, LbCookie::decode(fm.cookie).map_or(RuleKind::Other(0), |c| c.kind)))
        .collect();
    assert_eq!(
        order,
        vec![
            (3, RuleKind::Transit),
            (2, RuleKind::Transit),
            (1, RuleKind::Forward),
            (1, RuleKind::Transit),
            (2, RuleKind::Transit),
            (3, RuleKind::Reverse),
        ],
        "downstream first, rewrite at each direction's first switch"
    );
    let (_, at3) = &rules[0];
    assert_eq!(at3.r#match, s.rewritten_forward_match());
    assert_eq!(actions(at3), [Action::Output { port: PortNo(7), max_len: 0 }]);
    let (_, ingress) = &rules[2];
    assert_eq!(ingress.r#match, s.forward_match());
    assert_eq!(actions(ingress).last(), Some(&Action::Output { port: PortNo(5), max_len: 0 }));
    let (_, rev_at1) = &rules[3];
    assert_eq!(rev_at1.r#match, s.rewritten_reverse_match());
    assert_eq!(actions(rev_at1), [Action::Output { port: PortNo(3), max_len: 0 }]);
    let (_, rev_ingress) = &rules[5];
    assert_eq!(actions(rev_ingress).last(), Some(&Action::Output { port: PortNo(1), max_len: 0 }));
    assert_eq!(s.along_paths(&[], &rev), Err(RuleError::EmptyPath("forward")));
}

#[test]
fn first_packet_carries_the_rewrite_or_releases_the_buffer() {
    let s = steering(8000);
    let data = bytes::Bytes::from_static(&[0u8; 60]);
    let mut pi = PacketIn {
        buffer_id: NO_BUFFER,
        total_len: 60,
        reason: ofproto::packet::PacketInReason::from(1),
        table_id: 0,
        cookie: LbCookie::new(PoolId(3), None, RuleKind::Trap).encode(),
        r#match: Match::new().with(Oxm::InPort(PortNo(1))),
        data: data.clone(),
    };
    let po = s.first_packet_out(&pi, PortNo(1), PortNo(2));
    assert_eq!(po.data, data);
    assert_eq!(po.in_port, PortNo(1));
    assert_eq!(po.actions, s.forward_actions(PortNo(2)));
    pi.buffer_id = 77;
    let po = s.first_packet_out(&pi, PortNo(1), PortNo(2));
    assert_eq!((po.buffer_id, po.data.len()), (77, 0));
}

#[test]
fn traps_send_arp_and_tcp_for_the_vip_to_the_controller() {
    let rules = trap_rules(PoolId(3), VIP, &[8000, 8001]);
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].r#match.fields, vec![Oxm::EthType(0x0806), Oxm::ArpTpa(VIP, None)]);
    assert_eq!(rules[2].r#match.get(ofproto::oxm::OxmField::TcpDst), Some(&Oxm::TcpDst(8001)));
    for r in &rules {
        assert_eq!(r.priority, TRAP_PRIORITY);
        assert_eq!(actions(r), [Action::output(PortNo::CONTROLLER)]);
        assert_eq!(LbCookie::decode(r.cookie).map(|c| c.kind), Some(RuleKind::Trap));
    }
}

#[test]
fn generation_marks_are_onf_tcp_flags_reserved_bits_in_turn() {
    // ONFOXM_ET_TCP_FLAGS with a mask: class 0xffff, field 42 with the mask bit, length 8, "ONF\0",
    // value 0, mask one reserved bit.
    let oxm = |bit: u8| [0xff, 0xff, 0x55, 0x08, 0x4f, 0x4e, 0x46, 0x00, 0x00, 0x00, bit, 0x00];
    let mut generation = RuleGeneration::default();
    for bit in [0x04, 0x08, 0x02, 0x04] {
        generation = generation.next();
        let m = generation.mark(tcp_match(CLIENT, 1, VIP, 8000));
        let mut buf = bytes::BytesMut::new();
        ofproto::message::Message::FlowMod(FlowMod::add(m)).encode(1, &mut buf);
        assert!(buf.windows(12).any(|w| w == oxm(bit)), "mark {bit:#04x}00 in {buf:02x?}");
    }
}

#[test]
fn the_transition_trap_takes_only_syns_between_proactive_and_per_flow_rules() {
    let rules = syn_trap_rules(PoolId(3), VIP, &[8000, 8001]);
    assert_eq!(rules.len(), 2);
    // ONFOXM_ET_TCP_FLAGS, value SYN, mask SYN|ACK: a first segment, not the SYN-ACK or later ones.
    let syn_only = [0xff, 0xff, 0x55, 0x08, 0x4f, 0x4e, 0x46, 0x00, 0x00, 0x02, 0x00, 0x12];
    for (r, port) in rules.iter().zip([8000, 8001]) {
        assert_eq!(r.r#match.get(ofproto::oxm::OxmField::TcpDst), Some(&Oxm::TcpDst(port)));
        assert_eq!(r.r#match.get(ofproto::oxm::OxmField::Ipv4Dst), Some(&Oxm::Ipv4Dst(VIP, None)));
        assert!(r.priority > PROACTIVE_PRIORITY + 32 && r.priority < STEER_PRIORITY);
        assert_eq!(actions(r), [Action::output(PortNo::CONTROLLER)]);
        assert_eq!(LbCookie::decode(r.cookie).map(|c| c.kind), Some(RuleKind::SynTrap));
        let mut buf = bytes::BytesMut::new();
        ofproto::message::Message::FlowMod(r.clone()).encode(1, &mut buf);
        assert!(buf.windows(12).any(|w| w == syn_only), "{buf:02x?}");
    }
}

#[test]
fn a_retiring_rule_is_the_same_rule_with_timeouts_and_a_removal_report() {
    let rule = FlowMod::add(tcp_match(CLIENT, 1, VIP, 8000))
        .priority(PROACTIVE_PRIORITY + 4)
        .cookie(LbCookie::new(PoolId(3), Some(BackendId(1)), RuleKind::Wildcard).encode())
        .apply_actions(vec![Action::output(PortNo(2))]);
    let old = retiring(&rule, 2, 60);
    assert_eq!(old.command, FlowModCommand::Add, "an ADD of the same match and priority replaces it");
    assert_eq!((old.idle_timeout, old.hard_timeout), (2, 60));
    assert_ne!(old.flags & flow_mod_flags::SEND_FLOW_REM, 0);
    assert_eq!((&old.r#match, old.priority, old.cookie), (&rule.r#match, rule.priority, rule.cookie));
    assert_eq!(old.instructions, rule.instructions);
}

#[test]
fn resync_adds_what_is_missing_or_different_and_deletes_what_is_gone() {
    let rule = |port: u16, out: u32| {
        FlowMod::add(vip_match(VIP, port))
            .priority(PROACTIVE_PRIORITY)
            .cookie(LbCookie::new(PoolId(3), Some(BackendId(out as u16)), RuleKind::Wildcard).encode())
            .apply_actions(vec![Action::output(PortNo(out))])
    };
    let installed = [rule(8000, 1), rule(8001, 1), rule(8002, 1)];
    assert!(resync(&installed, &installed).is_empty(), "nothing changed, nothing sent");
    // 8000 unchanged, 8001 to another backend, 8002 gone, 8003 new (e.g. a backend whose MAC was
    // unknown when the others' rules went in).
    let desired = [rule(8000, 1), rule(8001, 2), rule(8003, 2)];
    let out = resync(&installed, &desired);
    assert_eq!(out[..2], [rule(8001, 2), rule(8003, 2)], "adds first, the changed one replacing");
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].command, FlowModCommand::DeleteStrict);
    assert_eq!((&out[2].r#match, out[2].priority), (&installed[2].r#match, PROACTIVE_PRIORITY));
}
