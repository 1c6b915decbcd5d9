//! Byte vectors for every action type, Ryu's all-actions list (4-2-ofp_flow_mod), constructors, text,
//! and error paths.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::codec::WireErr;
use crate::error::DecodeErrorKind;
use crate::types::MacAddr;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test vector is hex")
}

fn emit(actions: &[Action]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    Action::emit_list(actions, &mut buf);
    buf.to_vec()
}

fn wire_err<T: std::fmt::Debug>(r: PResult<'_, T>) -> (&'static str, DecodeErrorKind) {
    match r {
        Err(
            nom::Err::Error(WireErr { field, kind, .. }) | nom::Err::Failure(WireErr { field, kind, .. }),
        ) => (field, kind),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

const MAC_A: MacAddr = MacAddr([0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea]);

/// One vector per action kind (§7.2.5 structure sizes: output 16, the rest 8, set_field padded).
fn vectors() -> Vec<(Action, Vec<u8>)> {
    vec![
        (Action::Output { port: PortNo(3), max_len: 0 }, hex("0000 0010 00000003 0000 000000000000")),
        (
            Action::Output { port: PortNo::CONTROLLER, max_len: 0xffff },
            hex("0000 0010 fffffffd ffff 000000000000"),
        ),
        (Action::CopyTtlOut, hex("000b 0008 00000000")),
        (Action::CopyTtlIn, hex("000c 0008 00000000")),
        (Action::SetMplsTtl(10), hex("000f 0008 0a 000000")),
        (Action::DecMplsTtl, hex("0010 0008 00000000")),
        (Action::PushVlan(0x8100), hex("0011 0008 8100 0000")),
        (Action::PopVlan, hex("0012 0008 00000000")),
        (Action::PushMpls(0x8847), hex("0013 0008 8847 0000")),
        (Action::PopMpls(0x0800), hex("0014 0008 0800 0000")),
        (Action::SetQueue(3), hex("0015 0008 00000003")),
        (Action::Group(1), hex("0016 0008 00000001")),
        (Action::SetNwTtl(64), hex("0017 0008 40 000000")),
        (Action::DecNwTtl, hex("0018 0008 00000000")),
        (
            Action::SetField(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)),
            hex("0019 0010 80001804 0a000002 00000000"),
        ),
        (Action::SetField(Oxm::EthDst(MAC_A, None)), hex("0019 0010 80000606 f20ba47df8ea 0000")),
        (Action::SetField(Oxm::TcpDst(8080)), hex("0019 0010 80001c02 1f90 000000000000")),
        // 4 + 20 bytes: already a multiple of 8, no padding.
        (
            Action::SetField(Oxm::Ipv6Dst(Ipv6Addr::LOCALHOST, None)),
            hex("0019 0018 80003610 00000000000000000000000000000001"),
        ),
        (Action::PushPbb(0x88e7), hex("001a 0008 88e7 0000")),
        (Action::PopPbb, hex("001b 0008 00000000")),
        (
            Action::Experimenter { experimenter: 0x2320, data: Bytes::from(hex("0013001e003c0000")) },
            hex("ffff 0010 00002320 0013001e003c0000"),
        ),
        (
            Action::Unknown { action_type: 0x1c, body: Bytes::from(hex("00000000")) },
            hex("001c 0008 00000000"),
        ),
    ]
}

#[test]
fn test_parse_each_action() {
    for (expected, bytes) in vectors() {
        let (rest, action) = Action::parse(&bytes).unwrap_or_else(|e| panic!("{expected:?}: {e:?}"));
        assert!(rest.is_empty());
        assert_eq!(action, expected);
    }
}

#[test]
fn test_emit_each_action() {
    for (action, bytes) in vectors() {
        assert_eq!(emit(std::slice::from_ref(&action)), bytes, "{action:?}");
        assert_eq!(action.encoded_len(), bytes.len(), "{action:?}");
    }
}

#[test]
fn test_parse_list_of_every_kind() {
    let (actions, bytes): (Vec<_>, Vec<_>) = vectors().into_iter().unzip();
    let bytes = bytes.concat();
    let (rest, parsed) = Action::parse_list(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(parsed, actions);
    assert_eq!(emit(&parsed), bytes);
}

#[test]
fn ryu_all_actions_decode_to_ryus_values() {
    // 4-2-ofp_flow_mod.packet: the WRITE_ACTIONS instruction at offset 64 (len 176) holds one of
    // every OF1.3 action type; values below are Ryu's JSON decoding of the same bytes.
    let packet = include_bytes!("../../tests/data/ryu-of13/packet/4-2-ofp_flow_mod.packet");
    let list = &packet[72..240];
    let (rest, actions) = Action::parse_list(list).unwrap();
    assert!(rest.is_empty());
    let expected = vec![
        Action::SetField(Oxm::VlanVid(258, None)),
        Action::CopyTtlOut,
        Action::CopyTtlIn,
        Action::CopyTtlIn,
        Action::PopPbb,
        Action::PushPbb(4660),
        Action::PopMpls(39030),
        Action::PushMpls(34887),
        Action::PopVlan,
        Action::PushVlan(33024),
        Action::DecMplsTtl,
        Action::SetMplsTtl(10),
        Action::DecNwTtl,
        Action::SetNwTtl(10),
        Action::Experimenter { experimenter: 101, data: Bytes::from_static(&[0, 1, 2, 3, 4, 5, 6, 7]) },
        Action::SetQueue(3),
        Action::Group(99),
        Action::Output { port: PortNo(6), max_len: 65535 },
    ];
    assert_eq!(actions, expected);
    assert_eq!(emit(&actions), list);
    // The APPLY_ACTIONS list after it: set_field eth_src and ONF's experimenter pbb_uca OXM.
    let (_, apply) = Action::parse_list(&packet[248..280]).unwrap();
    assert_eq!(apply[0], Action::set_field(Oxm::EthSrc(MacAddr([1, 2, 3, 4, 5, 6]), None)));
    let Action::SetField(uca) = &apply[1] else { panic!("{:?}", apply[1]) };
    assert_eq!(uca.field_name(), "pbb_uca");
    assert_eq!(emit(&apply), &packet[248..280]);
}

#[test]
fn constructors() {
    assert_eq!(Action::output(PortNo(3)), Action::Output { port: PortNo(3), max_len: 0 });
    assert_eq!(
        Action::output(PortNo::CONTROLLER),
        Action::Output { port: PortNo::CONTROLLER, max_len: controller_max_len::NO_BUFFER }
    );
    assert_eq!(Action::to_controller(128), Action::Output { port: PortNo::CONTROLLER, max_len: 128 });
    assert_eq!(Action::group(7), Action::Group(7));
    assert_eq!(Action::set_queue(2), Action::SetQueue(2));
    assert_eq!(Action::push_vlan(0x8100), Action::PushVlan(0x8100));
    assert_eq!(Action::pop_vlan(), Action::PopVlan);
    assert_eq!(Action::dec_nw_ttl(), Action::DecNwTtl);
    assert_eq!(Action::set_field(Oxm::TcpDst(1)), Action::SetField(Oxm::TcpDst(1)));
    assert_eq!(Action::Group(1).action_type(), ActionType::Group);
    assert_eq!(
        Action::Unknown { action_type: 99, body: Bytes::new() }.action_type(),
        ActionType::Unknown(99)
    );
}

#[test]
fn display_is_ovs_ofctl_like() {
    assert_eq!(Action::output(PortNo(3)).to_string(), "output:3");
    assert_eq!(Action::output(PortNo::CONTROLLER).to_string(), "CONTROLLER:65535");
    assert_eq!(Action::output(PortNo::ALL).to_string(), "ALL");
    assert_eq!(
        Action::set_field(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)).to_string(),
        "set_field:10.0.0.2->ipv4_dst"
    );
    assert_eq!(
        Action::set_field(Oxm::EthDst(MAC_A, None)).to_string(),
        "set_field:f2:0b:a4:7d:f8:ea->eth_dst"
    );
    assert_eq!(Action::group(1).to_string(), "group:1");
    assert_eq!(Action::DecNwTtl.to_string(), "dec_ttl");
    assert_eq!(Action::PushVlan(0x8100).to_string(), "push_vlan:0x8100");
    assert_eq!(
        Action::Experimenter { experimenter: 0x2320, data: Bytes::from_static(&[0, 0x13]) }.to_string(),
        "experimenter(0x00002320,data=0x0013)"
    );
}

#[test]
fn caller_built_bodies_are_padded_to_8() {
    let exp = Action::Experimenter { experimenter: 0x2320, data: Bytes::from_static(&[1, 2, 3]) };
    assert_eq!(emit(std::slice::from_ref(&exp)), hex("ffff 0010 00002320 010203 0000000000"));
    assert_eq!(exp.encoded_len(), 16);
    let unknown = Action::Unknown { action_type: 0x40, body: Bytes::new() };
    assert_eq!(emit(std::slice::from_ref(&unknown)), hex("0040 0008 00000000"));
}

#[test]
fn fixed_size_action_with_wrong_len_is_bad_length() {
    assert_eq!(
        wire_err(Action::parse(&hex("0000 0008 00000003"))),
        ("output.len", DecodeErrorKind::BadLength { value: 8 })
    );
    assert_eq!(
        wire_err(Action::parse(&hex("0016 0010 00000001 00000000 00000000"))),
        ("group.len", DecodeErrorKind::BadLength { value: 16 })
    );
}

#[test]
fn zero_or_unaligned_length_is_bad_length() {
    // len 0 must not loop forever.
    assert_eq!(
        wire_err(Action::parse_list(&hex("0099 0000 00000000"))),
        ("action.len", DecodeErrorKind::BadLength { value: 0 })
    );
    assert_eq!(
        wire_err(Action::parse(&hex("ffff 000c 00002320 00000000"))),
        ("experimenter.len", DecodeErrorKind::BadLength { value: 12 })
    );
    assert_eq!(
        wire_err(Action::parse(&hex("0019 0004"))),
        ("set_field.len", DecodeErrorKind::BadLength { value: 4 })
    );
}

#[test]
fn truncated_actions() {
    assert_eq!(wire_err(Action::parse(&hex("00"))), ("action.type", DecodeErrorKind::Truncated));
    assert_eq!(wire_err(Action::parse(&hex("0000 00"))), ("action.len", DecodeErrorKind::Truncated));
    assert_eq!(
        wire_err(Action::parse(&hex("0000 0010 00000003"))),
        ("output.len", DecodeErrorKind::Truncated)
    );
    // The second action of a list is cut short.
    assert_eq!(
        wire_err(Action::parse_list(&hex("0012 0008 00000000 0016 0008 0000"))),
        ("group.len", DecodeErrorKind::Truncated)
    );
}

#[test]
fn set_field_padding_and_inner_oxm_errors() {
    // 10-byte OXM padded to 24 instead of 16: could not re-encode the same bytes.
    assert_eq!(
        wire_err(Action::parse(&hex("0019 0018 80001804 0a000002 0000000000000000 00000000"))),
        ("set_field.len", DecodeErrorKind::BadLength { value: 24 })
    );
    // A bad OXM inside names the OXM field.
    assert_eq!(
        wire_err(Action::parse(&hex("0019 0010 80001c03 005000 00000000 00"))),
        ("tcp_dst.oxm_length", DecodeErrorKind::BadLength { value: 3 })
    );
    // An OXM longer than the action is cut by the action's length.
    assert_eq!(
        wire_err(Action::parse(&hex("0019 0008 80001804 0a000002"))),
        ("oxm_length", DecodeErrorKind::Truncated)
    );
}

proptest! {
    /// Arbitrary bytes never make the decoder panic; whatever decodes re-encodes to the same length
    /// and decodes back to the same value.
    #[test]
    fn action_list_decode_encode_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((_, actions)) = Action::parse_list(&bytes) {
            let encoded = emit(&actions);
            prop_assert_eq!(encoded.len(), bytes.len());
            let (rest, again) = Action::parse_list(&encoded).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(again, actions);
        }
    }

    /// Structured input: a valid header for every type with a random body still never panics.
    #[test]
    fn typed_headers_never_panic(kind in prop::sample::select(vec![0u16, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 0xffff, 99]),
                                 body in proptest::collection::vec(any::<u8>(), 0..28)) {
        let len = u16::try_from(4 + body.len()).unwrap();
        let mut bytes = kind.to_be_bytes().to_vec();
        bytes.extend(len.to_be_bytes());
        bytes.extend(&body);
        if let Ok((rest, action)) = Action::parse(&bytes) {
            prop_assert!(rest.is_empty());
            prop_assert_eq!(action.encoded_len(), bytes.len());
        }
    }
}
