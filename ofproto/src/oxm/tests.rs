//! Byte vectors for every OXM basic field (masked where allowed), the `ofp_match` envelope, the
//! builder and lookups, text output, error paths, and Ryu's all-fields match (4-60-ofp_flow_mod).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::codec::WireErr;
use crate::error::DecodeErrorKind;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test vector is hex")
}

fn emit_oxm(oxm: &Oxm) -> Vec<u8> {
    let mut buf = BytesMut::new();
    oxm.emit(&mut buf);
    buf.to_vec()
}

fn emit_match(m: &Match) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.emit(&mut buf);
    buf.to_vec()
}

/// The decode error (field, kind) of a failed parse.
fn wire_err<T: fmt::Debug>(r: crate::codec::PResult<'_, T>) -> (&'static str, DecodeErrorKind) {
    match r {
        Err(
            nom::Err::Error(WireErr { field, kind, .. }) | nom::Err::Failure(WireErr { field, kind, .. }),
        ) => (field, kind),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

const MAC_A: MacAddr = MacAddr([0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea]);
const MAC_MASK: MacAddr = MacAddr([0xff, 0xff, 0xff, 0, 0, 0]);
const V6_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const V6_MASK: Ipv6Addr = Ipv6Addr::new(0xffff, 0xffff, 0, 0, 0, 0, 0, 0);

/// One vector per basic field, plus a masked vector for every maskable one. The header bytes follow
/// the §7.2.3.2 layout: class 0x8000, then `field << 1 | hasmask`, then the payload length.
fn basic_vectors() -> Vec<(Oxm, Vec<u8>)> {
    let ip = Ipv4Addr::new(10, 0, 0, 1);
    let ip_mask = Ipv4Addr::new(255, 255, 255, 0);
    let v6 = "20010db8000000000000000000000001";
    let v6_mask = "ffffffff000000000000000000000000";
    vec![
        (Oxm::InPort(PortNo(3)), hex("80000004 00000003")),
        (Oxm::InPhyPort(PortNo(0xfffffffe)), hex("80000204 fffffffe")),
        (Oxm::Metadata(0x0102030405060708, None), hex("80000408 0102030405060708")),
        (Oxm::Metadata(0x10, Some(0xf0)), hex("80000510 0000000000000010 00000000000000f0")),
        (Oxm::EthDst(MAC_A, None), hex("80000606 f20ba47df8ea")),
        (Oxm::EthDst(MAC_A, Some(MAC_MASK)), hex("8000070c f20ba47df8ea ffffff000000")),
        (Oxm::EthSrc(MAC_A, None), hex("80000806 f20ba47df8ea")),
        (Oxm::EthSrc(MAC_A, Some(MAC_MASK)), hex("8000090c f20ba47df8ea ffffff000000")),
        (Oxm::EthType(0x0800), hex("80000a02 0800")),
        (Oxm::VlanVid(0x1005, None), hex("80000c02 1005")),
        (Oxm::VlanVid(0x1000, Some(0x1000)), hex("80000d04 1000 1000")),
        (Oxm::VlanPcp(5), hex("80000e01 05")),
        (Oxm::IpDscp(46), hex("80001001 2e")),
        (Oxm::IpEcn(3), hex("80001201 03")),
        (Oxm::IpProto(6), hex("80001401 06")),
        (Oxm::Ipv4Src(ip, None), hex("80001604 0a000001")),
        (Oxm::Ipv4Src(ip, Some(ip_mask)), hex("80001708 0a000001 ffffff00")),
        (Oxm::Ipv4Dst(ip, None), hex("80001804 0a000001")),
        (Oxm::Ipv4Dst(ip, Some(ip_mask)), hex("80001908 0a000001 ffffff00")),
        (Oxm::TcpSrc(8080), hex("80001a02 1f90")),
        (Oxm::TcpDst(80), hex("80001c02 0050")),
        (Oxm::UdpSrc(53), hex("80001e02 0035")),
        (Oxm::UdpDst(67), hex("80002002 0043")),
        (Oxm::SctpSrc(2905), hex("80002202 0b59")),
        (Oxm::SctpDst(2906), hex("80002402 0b5a")),
        (Oxm::Icmpv4Type(8), hex("80002601 08")),
        (Oxm::Icmpv4Code(0), hex("80002801 00")),
        (Oxm::ArpOp(1), hex("80002a02 0001")),
        (Oxm::ArpSpa(ip, None), hex("80002c04 0a000001")),
        (Oxm::ArpSpa(ip, Some(ip_mask)), hex("80002d08 0a000001 ffffff00")),
        (Oxm::ArpTpa(ip, None), hex("80002e04 0a000001")),
        (Oxm::ArpTpa(ip, Some(ip_mask)), hex("80002f08 0a000001 ffffff00")),
        (Oxm::ArpSha(MAC_A, None), hex("80003006 f20ba47df8ea")),
        (Oxm::ArpSha(MAC_A, Some(MAC_MASK)), hex("8000310c f20ba47df8ea ffffff000000")),
        (Oxm::ArpTha(MAC_A, None), hex("80003206 f20ba47df8ea")),
        (Oxm::ArpTha(MAC_A, Some(MAC_MASK)), hex("8000330c f20ba47df8ea ffffff000000")),
        (Oxm::Ipv6Src(V6_A, None), hex(&format!("80003410 {v6}"))),
        (Oxm::Ipv6Src(V6_A, Some(V6_MASK)), hex(&format!("80003520 {v6} {v6_mask}"))),
        (Oxm::Ipv6Dst(V6_A, None), hex(&format!("80003610 {v6}"))),
        (Oxm::Ipv6Dst(V6_A, Some(V6_MASK)), hex(&format!("80003720 {v6} {v6_mask}"))),
        (Oxm::Ipv6Flabel(0x12345, None), hex("80003804 00012345")),
        (Oxm::Ipv6Flabel(0x12345, Some(0xfffff)), hex("80003908 00012345 000fffff")),
        (Oxm::Icmpv6Type(135), hex("80003a01 87")),
        (Oxm::Icmpv6Code(0), hex("80003c01 00")),
        (Oxm::Ipv6NdTarget(V6_A), hex(&format!("80003e10 {v6}"))),
        (Oxm::Ipv6NdSll(MAC_A), hex("80004006 f20ba47df8ea")),
        (Oxm::Ipv6NdTll(MAC_A), hex("80004206 f20ba47df8ea")),
        (Oxm::MplsLabel(0x98765), hex("80004404 00098765")),
        (Oxm::MplsTc(5), hex("80004601 05")),
        (Oxm::MplsBos(1), hex("80004801 01")),
        (Oxm::PbbIsid(0xabcdef, None), hex("80004a03 abcdef")),
        (Oxm::PbbIsid(0xabcdef, Some(0xffff00)), hex("80004b06 abcdef ffff00")),
        (Oxm::TunnelId(0x0909090909090909, None), hex("80004c08 0909090909090909")),
        (Oxm::TunnelId(0x50, Some(0xff)), hex("80004d10 0000000000000050 00000000000000ff")),
        (Oxm::Ipv6Exthdr(0x1f4, None), hex("80004e02 01f4")),
        (Oxm::Ipv6Exthdr(0x4, Some(0x4)), hex("80004f04 0004 0004")),
    ]
}

#[test]
fn test_parse_every_basic_field() {
    for (expected, bytes) in basic_vectors() {
        let (rest, oxm) = Oxm::parse(&bytes).unwrap_or_else(|e| panic!("{expected:?}: {e:?}"));
        assert!(rest.is_empty(), "{expected:?} left {} bytes", rest.len());
        assert_eq!(oxm, expected);
        assert_eq!(oxm.encoded_len(), bytes.len(), "{expected:?}");
    }
}

#[test]
fn test_emit_every_basic_field() {
    for (oxm, bytes) in basic_vectors() {
        assert_eq!(emit_oxm(&oxm), bytes, "{oxm:?}");
    }
}

#[test]
fn vectors_cover_all_40_fields_and_every_mask() {
    let vectors = basic_vectors();
    for number in 0..=39u8 {
        let field = OxmField::from(number);
        assert!(!matches!(field, OxmField::Unknown(_)), "field {number} has no name");
        let for_field: Vec<_> = vectors.iter().filter(|(o, _)| o.basic_field() == Some(field)).collect();
        assert!(!for_field.is_empty(), "no vector for {}", field.name());
        assert_eq!(for_field.iter().any(|(o, _)| o.has_mask()), field.maskable(), "{}", field.name());
    }
    assert_eq!(OxmField::from(40), OxmField::Unknown(40));
}

#[test]
fn field_table_matches_the_spec() {
    // Spot checks against OF1.3.5 Table 12 / openflow.h.
    assert_eq!(OxmField::EthType.value(), 5);
    assert_eq!(OxmField::Ipv4Dst.value(), 12);
    assert_eq!(OxmField::Ipv6Exthdr.value(), 39);
    assert_eq!(OxmField::PbbIsid.value_len(), Some(3));
    assert_eq!(OxmField::VlanVid.value_len(), Some(2));
    assert!(!OxmField::TcpDst.maskable());
    assert!(OxmField::Ipv6Flabel.maskable());
    assert!(!OxmField::Ipv6NdTarget.maskable());
    assert_eq!(OxmField::Unknown(77).value_len(), None);
}

#[test]
fn field_names_follow_ryu() {
    let names: Vec<_> = basic_vectors().iter().map(|(o, _)| o.field_name()).collect();
    for name in ["in_port", "eth_dst", "ipv4_src", "tcp_dst", "vlan_vid", "ipv6_nd_target", "pbb_isid"] {
        assert!(names.contains(&name), "{name}");
    }
    let other = |class, field, body: &'static [u8]| Oxm::Other {
        class,
        field,
        has_mask: false,
        body: Bytes::from_static(body),
    };
    assert_eq!(other(1, 0, &[0; 4]).field_name(), "reg0");
    assert_eq!(other(1, 5, &[0; 4]).field_name(), "reg5");
    assert_eq!(other(1, 105, &[0; 4]).field_name(), "ct_state");
    assert_eq!(other(1, 37, &[0; 4]).field_name(), "conj_id");
    assert_eq!(other(1, 33, &[0; 4]).field_name(), "pkt_mark");
    assert_eq!(other(0, 4, &[0; 2]).field_name(), "vlan_tci");
    assert_eq!(other(0xffff, 0, &[0x4f, 0x4e, 0x46, 0x00, 0x0a, 0x00, 0x01]).field_name(), "pbb_uca");
    assert_eq!(other(0xffff, 0, &[0, 0, 0x23, 0x20, 1]).field_name(), "experimenter");
    assert_eq!(other(0x8000, 41, &[1]).field_name(), "pbb_uca");
    assert_eq!(other(0x1234, 1, &[1]).field_name(), "unknown");
}

#[test]
fn display_is_ovs_ofctl_like() {
    let ip = |a, b, c, d| Ipv4Addr::new(a, b, c, d);
    assert_eq!(Oxm::EthDst(MAC_A, None).to_string(), "eth_dst=f2:0b:a4:7d:f8:ea");
    assert_eq!(
        Oxm::Ipv4Src(ip(10, 0, 0, 0), Some(ip(255, 0, 0, 0))).to_string(),
        "ipv4_src=10.0.0.0/255.0.0.0"
    );
    assert_eq!(Oxm::TcpDst(80).to_string(), "tcp_dst=80");
    assert_eq!(Oxm::EthType(0x0800).to_string(), "eth_type=0x0800");
    assert_eq!(Oxm::InPort(PortNo::LOCAL).to_string(), "in_port=LOCAL");
    assert_eq!(Oxm::Metadata(0x10, Some(0xf0)).to_string(), "metadata=0x10/0xf0");
    assert_eq!(Oxm::Ipv6Dst(V6_A, Some(V6_MASK)).to_string(), "ipv6_dst=2001:db8::1/ffff:ffff::");
    let reg5 = Oxm::parse(&hex("00010b08 0000abcd 0000ffff")).unwrap().1;
    assert_eq!(reg5.to_string(), "reg5=0x0000abcd/0x0000ffff");
    let m = Match::new().eth_type(0x0800).ipv4_dst(ip(10, 0, 0, 100)).ip_proto(6).tcp_dst(80);
    assert_eq!(m.to_string(), "eth_type=0x0800,ip_proto=6,ipv4_dst=10.0.0.100,tcp_dst=80");
    assert_eq!(Match::new().to_string(), "");
}

#[test]
fn nicira_and_experimenter_oxms_round_trip_as_other() {
    for vector in [
        "00010b08 0000abcd 0000ffff", // NXM_NX_REG5, masked
        "00014a04 00abcdef",          // NXM_NX_CONJ_ID
        "00000c02 1234",              // NXM_OF_VLAN_TCI
        "ffff0007 4f4e4600 0a00 01",  // ONF EXT-256 pbb_uca
        "80005001 01",                // basic field 40 (unassigned in OF1.3)
        "80005201 01",                // basic field 41 (OF1.4 pbb_uca)
    ] {
        let bytes = hex(vector);
        let (rest, oxm) = Oxm::parse(&bytes).unwrap();
        assert!(rest.is_empty());
        assert!(matches!(oxm, Oxm::Other { .. }), "{vector}: {oxm:?}");
        assert_eq!(emit_oxm(&oxm), bytes, "{vector}");
    }
    let (_, reg5) = Oxm::parse(&hex("00010b08 0000abcd 0000ffff")).unwrap();
    assert_eq!(
        reg5,
        Oxm::Other { class: 1, field: 5, has_mask: true, body: Bytes::from(hex("0000abcd 0000ffff")) }
    );
}

#[test]
fn other_body_longer_than_255_is_cut_on_encode() {
    let oxm = Oxm::Other { class: 1, field: 3, has_mask: false, body: Bytes::from(vec![7u8; 300]) };
    let bytes = emit_oxm(&oxm);
    assert_eq!(bytes.len(), 4 + 255);
    assert_eq!(&bytes[..4], &[0x00, 0x01, 0x06, 0xff]);
    assert_eq!(oxm.encoded_len(), bytes.len());
}

#[test]
fn truncated_oxm_header_and_payload() {
    assert_eq!(wire_err(Oxm::parse(&hex("800000"))), ("oxm_header", DecodeErrorKind::Truncated));
    assert_eq!(wire_err(Oxm::parse(&hex("80000004 0000"))), ("oxm_length", DecodeErrorKind::Truncated));
    assert_eq!(wire_err(Oxm::parse(&hex("00010b08 0000abcd"))), ("oxm_length", DecodeErrorKind::Truncated));
}

#[test]
fn wrong_payload_length_names_the_field() {
    assert_eq!(
        wire_err(Oxm::parse(&hex("80001c03 005000"))),
        ("tcp_dst.oxm_length", DecodeErrorKind::BadLength { value: 3 })
    );
    // A masked ipv4_src needs 8 bytes.
    assert_eq!(
        wire_err(Oxm::parse(&hex("80001704 0a000001"))),
        ("ipv4_src.oxm_length", DecodeErrorKind::BadLength { value: 4 })
    );
    // pbb_isid is 3 bytes, not 4.
    assert_eq!(
        wire_err(Oxm::parse(&hex("80004a04 00abcdef"))),
        ("pbb_isid.oxm_length", DecodeErrorKind::BadLength { value: 4 })
    );
}

#[test]
fn mask_on_non_maskable_field_names_the_field() {
    assert_eq!(
        wire_err(Oxm::parse(&hex("80001d04 0050 ffff"))),
        ("tcp_dst.oxm_hasmask", DecodeErrorKind::BadValue { value: 1 })
    );
    assert_eq!(
        wire_err(Oxm::parse(&hex("80000108 00000001 ffffffff"))),
        ("in_port.oxm_hasmask", DecodeErrorKind::BadValue { value: 1 })
    );
}

#[test]
fn test_parse_match_with_padding() {
    // From Ryu's 4-2-ofp_flow_mod.packet: length 14, two bytes of padding.
    let bytes = hex("0001000e 80000606 f20ba47df8ea 0000");
    let (rest, m) = Match::parse(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(m.fields, vec![Oxm::EthDst(MAC_A, None)]);
}

#[test]
fn test_emit_match_computes_length_and_padding() {
    assert_eq!(emit_match(&Match::new()), hex("00010004 00000000"));
    assert_eq!(emit_match(&Match::new().eth_dst(MAC_A)), hex("0001000e 80000606 f20ba47df8ea 0000"));
    let lb = Match::new().eth_type(0x0800).ipv4_dst(Ipv4Addr::new(10, 0, 0, 100)).ip_proto(6).tcp_dst(80);
    let expected = hex("0001001d 80000a02 0800 80001401 06 80001804 0a000064 80001c02 0050 000000");
    assert_eq!(emit_match(&lb), expected);
    assert_eq!(lb.encoded_len(), expected.len());
    // A match that is already a multiple of 8 gets no padding.
    let exact = Match::new().in_port(PortNo(1));
    assert_eq!(emit_match(&exact), hex("0001000c 80000004 00000001 00000000"));
    let aligned = Match::new().with(Oxm::Other { class: 1, field: 0, has_mask: false, body: Bytes::new() });
    assert_eq!(emit_match(&aligned), hex("00010008 00010000"));
}

#[test]
fn match_of_another_type_is_bad_value() {
    let standard = hex("00000058").into_iter().chain([0u8; 84]).collect::<Vec<_>>();
    assert_eq!(wire_err(Match::parse(&standard)), ("match.type", DecodeErrorKind::BadValue { value: 0 }));
}

#[test]
fn match_length_errors() {
    assert_eq!(
        wire_err(Match::parse(&hex("00010002 00000000"))),
        ("match.length", DecodeErrorKind::BadLength { value: 2 })
    );
    assert_eq!(wire_err(Match::parse(&hex("0001"))), ("match.length", DecodeErrorKind::Truncated));
    // Length says 14 but only 8 bytes follow the header.
    assert_eq!(
        wire_err(Match::parse(&hex("0001000e 80000606 f20b"))),
        ("match.oxm_fields", DecodeErrorKind::Truncated)
    );
    // Padding missing.
    assert_eq!(
        wire_err(Match::parse(&hex("0001000e 80000606 f20ba47df8ea"))),
        ("match.pad", DecodeErrorKind::Truncated)
    );
    // An OXM that runs past the match length is cut by it.
    assert_eq!(
        wire_err(Match::parse(&hex("0001000a 80000606 f20ba47df8ea 0000"))),
        ("oxm_length", DecodeErrorKind::Truncated)
    );
}

#[test]
fn match_cut_inside_its_header_names_the_cut_field() {
    // Fewer than 2 bytes: the type itself is cut.
    assert_eq!(wire_err(Match::parse(&hex("00"))), ("match.type", DecodeErrorKind::Truncated));
    assert_eq!(wire_err(Match::parse(&[])), ("match.type", DecodeErrorKind::Truncated));
    // The type is checked before the (missing) length is read, as on a whole header.
    assert_eq!(
        wire_err(Match::parse(&hex("0000 00"))),
        ("match.type", DecodeErrorKind::BadValue { value: 0 })
    );
    assert_eq!(wire_err(Match::parse(&hex("0001 00"))), ("match.length", DecodeErrorKind::Truncated));
    // The error points at the length field: 1 byte of it is left at the failure.
    let Err(nom::Err::Error(err)) = Match::parse(&hex("0001 00")) else { panic!("a cut header must fail") };
    assert_eq!(err.remaining, 1);
}

#[test]
fn error_inside_an_oxm_counts_the_bytes_after_the_match() {
    // An OXM cut by the match length, with 4 more bytes after the match: the failure point is
    // reported relative to the whole input (remaining counts the bytes after the match too).
    let bytes = hex("0001000a 80000606 f20b 0000 deadbeef");
    let Err(nom::Err::Error(err)) = Match::parse(&bytes) else { panic!("a cut OXM must fail") };
    assert_eq!((err.field, err.kind.clone()), ("oxm_length", DecodeErrorKind::Truncated));
    assert_eq!(bytes.len() - err.remaining, 8, "the OXM payload starts at offset 8");
}

#[test]
fn ryu_all_fields_match_decodes_to_ryus_values() {
    // 4-60-ofp_flow_mod.packet (Erlang of_protocol, via Ryu): every basic field plus ONF pbb_uca and
    // Nicira tun_ipv4_src/dst. Expected values are Ryu's JSON decoding of the same bytes.
    let packet = include_bytes!("../../tests/data/ryu-of13/packet/4-60-ofp_flow_mod.packet");
    let (rest, m) = Match::parse(&packet[48..]).unwrap();
    let used = packet.len() - 48 - rest.len();
    assert_eq!(emit_match(&m), &packet[48..48 + used]);
    let mac = |s: &str| s.parse::<MacAddr>().unwrap();
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let expected_basic = vec![
        Oxm::InPort(PortNo(84281096)),
        Oxm::InPhyPort(PortNo(16909060)),
        Oxm::Metadata(283686952306183, None),
        Oxm::EthType(2054),
        Oxm::EthDst(mac("ff:ff:ff:ff:ff:ff"), None),
        Oxm::EthSrc(mac("f2:0b:a4:7d:f8:ea"), None),
        Oxm::VlanVid(999, None),
        Oxm::IpDscp(9),
        Oxm::IpEcn(3),
        Oxm::IpProto(99),
        Oxm::Ipv4Src(Ipv4Addr::new(1, 2, 3, 4), None),
        Oxm::Ipv4Dst(Ipv4Addr::new(1, 2, 3, 4), None),
        Oxm::TcpSrc(8080),
        Oxm::TcpDst(18080),
        Oxm::UdpSrc(28080),
        Oxm::UdpDst(55936),
        Oxm::SctpSrc(48080),
        Oxm::SctpDst(59328),
        Oxm::Icmpv4Type(100),
        Oxm::Icmpv4Code(101),
        Oxm::ArpOp(1),
        Oxm::ArpSpa(Ipv4Addr::new(10, 0, 0, 1), None),
        Oxm::ArpTpa(Ipv4Addr::new(10, 0, 0, 3), None),
        Oxm::ArpSha(mac("f2:0b:a4:7d:f8:ea"), None),
        Oxm::ArpTha(MacAddr::ZERO, None),
        Oxm::Ipv6Src(v6("fe80::f00b:a4ff:fe48:28a5"), None),
        Oxm::Ipv6Dst(v6("fe80::f00b:a4ff:fe05:b7dc"), None),
        Oxm::Ipv6Flabel(541473, None),
        Oxm::Icmpv6Type(200),
        Oxm::Icmpv6Code(201),
        Oxm::Ipv6NdTarget(v6("fe80::a60:6eff:fe7f:74e7")),
        Oxm::Ipv6NdSll(mac("00:00:00:00:02:9a")),
        Oxm::Ipv6NdTll(mac("00:00:00:00:02:2b")),
        Oxm::MplsLabel(624485),
        Oxm::MplsTc(5),
        Oxm::MplsBos(1),
        Oxm::PbbIsid(11259375, None),
        Oxm::TunnelId(651061555542690057, None),
        Oxm::Ipv6Exthdr(500, None),
    ];
    assert_eq!(&m.fields[..expected_basic.len()], &expected_basic[..]);
    let names: Vec<_> = m.fields[expected_basic.len()..].iter().map(Oxm::field_name).collect();
    assert_eq!(names, ["pbb_uca", "tun_ipv4_src", "tun_ipv4_dst"]);
    assert_eq!(m.fields[expected_basic.len() + 1].to_string(), "tun_ipv4_src=0x01020304");
}

#[test]
fn builder_replaces_and_orders_fields() {
    let m = Match::new().tcp_dst(80).eth_type(0x0800).ip_proto(6).tcp_dst(443).in_port(PortNo(2));
    let numbers: Vec<_> = m.fields.iter().map(Oxm::field_number).collect();
    assert_eq!(numbers, [0, 5, 10, 14]);
    assert_eq!(m.get_tcp_dst(), Some(443));
    assert_eq!(m.len(), 4);
    let mut m = m;
    assert!(m.remove(OxmField::TcpDst));
    assert!(!m.remove(OxmField::TcpDst));
    assert_eq!(m.get(OxmField::TcpDst), None);
    assert_eq!(m.get(OxmField::IpProto), Some(&Oxm::IpProto(6)));
    assert_eq!(Match::builder(), Match::new());
    assert!(Match::new().is_empty());
}

#[test]
fn builder_vlan_helpers_set_the_present_bit() {
    assert_eq!(Match::new().vlan_vid(5).fields, [Oxm::VlanVid(0x1005, None)]);
    assert_eq!(Match::new().vlan_untagged().fields, [Oxm::VlanVid(0, None)]);
    assert_eq!(Match::new().vlan_tagged().fields, [Oxm::VlanVid(0x1000, Some(0x1000))]);
}

#[test]
fn lookups_read_what_a_controller_needs() {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let m = Match::new()
        .in_port(PortNo(7))
        .eth_src(MAC_A)
        .eth_type(0x0800)
        .ipv4_src_masked(src, Ipv4Addr::new(255, 255, 255, 255))
        .ip_proto(17)
        .udp_dst(53);
    assert_eq!(m.get_in_port(), Some(PortNo(7)));
    assert_eq!(m.get_eth_src(), Some(MAC_A));
    assert_eq!(m.get_eth_dst(), None);
    assert_eq!(m.get_eth_type(), Some(0x0800));
    assert_eq!(m.get_ipv4_src(), Some(src));
    assert_eq!(m.get_ip_proto(), Some(17));
    assert_eq!(m.get_udp_dst(), Some(53));
    assert_eq!(m.get_tcp_dst(), None);
    assert!(m.is_basic_only());
}

proptest! {
    /// Decoding arbitrary bytes never panics, and whatever decodes re-encodes to the bytes consumed
    /// (OXM TLVs have no padding, so this is exact).
    #[test]
    fn oxm_decode_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok((rest, oxm)) = Oxm::parse(&bytes) {
            let used = bytes.len() - rest.len();
            prop_assert_eq!(emit_oxm(&oxm), &bytes[..used]);
        }
    }

    /// Basic-class headers with random field numbers and lengths: decode never panics and accepted
    /// input round-trips.
    #[test]
    fn basic_class_tlvs_round_trip(field in 0u8..50, has_mask: bool, len in 0u8..40, fill: u8) {
        let mut bytes = vec![0x80, 0x00, (field << 1) | u8::from(has_mask), len];
        bytes.extend(std::iter::repeat_n(fill, usize::from(len)));
        if let Ok((rest, oxm)) = Oxm::parse(&bytes) {
            prop_assert!(rest.is_empty());
            prop_assert_eq!(emit_oxm(&oxm), bytes);
        }
    }

    /// A match re-encodes to the same bytes as its canonical (zero-padded) form.
    #[test]
    fn match_decode_encode_is_stable(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((_, m)) = Match::parse(&bytes) {
            let encoded = emit_match(&m);
            let (rest, again) = Match::parse(&encoded).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(again, m);
        }
    }
}
