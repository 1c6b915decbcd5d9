//! Byte vectors for PACKET_IN and PACKET_OUT, their builders, and malformed inputs.

use super::*;
use crate::error::DecodeErrorKind;
use crate::message::Message;

/// A 14-byte frame: broadcast ARP Ethernet header.
const FRAME: [u8; 14] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06];

/// PACKET_IN, table miss on table 0, unbuffered, match `in_port=1`, carrying [`FRAME`].
static PACKET_IN: [u8; 56] = [
    0x04, 0x0a, 0x00, 0x38, 0x00, 0x00, 0x00, 0x01, // header, xid 1
    0xff, 0xff, 0xff, 0xff, 0x00, 0x0e, 0x00, 0x00, // NO_BUFFER, total_len 14, NO_MATCH, table 0
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // cookie
    0x00, 0x01, 0x00, 0x0c, 0x80, 0x00, 0x00, 0x04, // match OXM, len 12: IN_PORT
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //   = 1, match padding
    0x00, 0x00, // pad
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, // FRAME
];
/// Where the frame starts in [`PACKET_IN`].
const PACKET_IN_DATA_OFFSET: usize = 42;

/// PACKET_OUT of [`FRAME`] from CONTROLLER, unbuffered, one action: output FLOOD.
static PACKET_OUT: [u8; 54] = [
    0x04, 0x0d, 0x00, 0x36, 0x00, 0x00, 0x00, 0x02, // header, xid 2
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd, // NO_BUFFER, in_port CONTROLLER
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // actions_len 16, pad
    0x00, 0x00, 0x00, 0x10, 0xff, 0xff, 0xff, 0xfb, // OUTPUT, len 16, port FLOOD
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   max_len 0, pad
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, // FRAME
];

fn packet_in() -> PacketIn {
    PacketIn {
        buffer_id: NO_BUFFER,
        total_len: 14,
        reason: PacketInReason::NoMatch,
        table_id: 0,
        cookie: 0x0102_0304_0506_0708,
        r#match: Match { fields: vec![Oxm::InPort(PortNo(1))] },
        data: Bytes::from_static(&FRAME),
    }
}

fn flood() -> Vec<Action> {
    vec![Action::Output { port: PortNo::FLOOD, max_len: 0 }]
}

/// `bytes` cut to `len`, with the header length patched so the body parser sees the cut.
fn cut(bytes: &[u8], len: usize) -> Bytes {
    let mut v = bytes[..len].to_vec();
    v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    Bytes::from(v)
}

#[test]
fn test_parse_packet_in() {
    let frame = Bytes::from_static(&PACKET_IN);
    let (header, msg) = Message::decode(&frame).unwrap();
    assert_eq!(header.xid, 1);
    let Message::PacketIn(pi) = &msg else { panic!("{msg:?}") };
    assert_eq!(pi, &packet_in());
    assert_eq!(pi.data.as_ptr(), frame[PACKET_IN_DATA_OFFSET..].as_ptr(), "frame must not be copied");
    assert_eq!(pi.in_port(), Some(PortNo(1)));
    assert!(!pi.is_buffered());
    assert!(!pi.is_truncated());
}

#[test]
fn test_emit_packet_in() {
    assert_eq!(&Message::PacketIn(packet_in()).to_bytes(1)[..], &PACKET_IN);
}

#[test]
fn test_parse_packet_out() {
    let frame = Bytes::from_static(&PACKET_OUT);
    let (_, msg) = Message::decode(&frame).unwrap();
    let Message::PacketOut(po) = &msg else { panic!("{msg:?}") };
    assert_eq!(po, &PacketOut::new(PortNo::CONTROLLER, flood(), Bytes::from_static(&FRAME)));
    assert_eq!(po.data.as_ptr(), frame[40..].as_ptr(), "frame must not be copied");
}

#[test]
fn test_emit_packet_out() {
    let po = PacketOut::new(PortNo::CONTROLLER, flood(), Bytes::from_static(&FRAME));
    assert_eq!(&Message::PacketOut(po).to_bytes(2)[..], &PACKET_OUT);
}

#[test]
fn packet_out_from_buffer_has_no_data() {
    let po = PacketOut::from_buffer(0x42, PortNo(7), flood());
    let bytes = Message::PacketOut(po.clone()).to_bytes(3);
    // 8 header + 16 fixed + 16 action, no data; actions_len computed.
    assert_eq!(bytes.len(), 40);
    assert_eq!(&bytes[8..18], &[0, 0, 0, 0x42, 0, 0, 0, 7, 0, 16]);
    assert_eq!(Message::decode(&bytes).unwrap().1, Message::PacketOut(po));
}

#[test]
fn packet_out_without_actions_drops() {
    let po = PacketOut::new(PortNo::CONTROLLER, vec![], Bytes::from_static(&FRAME));
    let bytes = Message::PacketOut(po.clone()).to_bytes(0);
    assert_eq!(&bytes[16..18], &[0, 0], "actions_len 0");
    assert_eq!(Message::decode(&bytes).unwrap().1, Message::PacketOut(po));
}

#[test]
fn packet_in_reason_and_buffer_helpers() {
    let mut pi = packet_in();
    pi.buffer_id = 7;
    pi.total_len = 1500;
    pi.reason = PacketInReason::Unknown(9);
    pi.r#match = Match::default();
    assert!(pi.is_buffered());
    assert!(pi.is_truncated());
    assert_eq!(pi.in_port(), None);
    let bytes = Message::PacketIn(pi.clone()).to_bytes(0);
    assert_eq!(bytes[14], 9, "unknown reason is emitted as is");
    assert_eq!(Message::decode(&bytes).unwrap().1, Message::PacketIn(pi));
}

#[test]
fn packet_in_truncations() {
    // Inside the fixed part: the field that is cut short is named, at its offset.
    for (len, name, offset) in [
        (8, "buffer_id", 8),
        (11, "buffer_id", 8),
        (13, "total_len", 12),
        (14, "reason", 14),
        (15, "table_id", 15),
    ]
    .into_iter()
    .chain([(16, "cookie", 16), (23, "cookie", 16)])
    {
        let err = Message::decode(&cut(&PACKET_IN, len)).unwrap_err();
        assert_eq!((err.message, err.field, err.offset), ("PACKET_IN", name, offset), "cut at {len}");
        assert_eq!(err.kind, DecodeErrorKind::Truncated);
    }
    // Match complete but the 2-byte pad missing.
    let err = Message::decode(&cut(&PACKET_IN, 41)).unwrap_err();
    assert_eq!((err.field, err.offset, err.kind), ("pad", 40, DecodeErrorKind::Truncated));
    // Every shorter cut fails; none panics.
    for len in 8..PACKET_IN_DATA_OFFSET {
        assert!(Message::decode(&cut(&PACKET_IN, len)).is_err(), "cut at {len}");
    }
    // An empty frame is fine (a buffered packet-in with max_len 0).
    let (_, msg) = Message::decode(&cut(&PACKET_IN, PACKET_IN_DATA_OFFSET)).unwrap();
    let Message::PacketIn(pi) = msg else { panic!() };
    assert!(pi.data.is_empty());
}

#[test]
fn packet_out_bad_actions_len() {
    // actions_len 0x40 runs past the end of the message.
    let mut bytes = PACKET_OUT;
    bytes[17] = 0x40;
    let err = Message::decode(&Bytes::copy_from_slice(&bytes)).unwrap_err();
    assert_eq!((err.field, err.offset, err.kind), ("actions_len", 24, DecodeErrorKind::Truncated));
    // actions_len 8 cuts the 16-byte output action in half.
    bytes[17] = 0x08;
    let err = Message::decode(&Bytes::copy_from_slice(&bytes)).unwrap_err();
    assert_eq!(err.message, "PACKET_OUT");
    // Cut inside the fixed part.
    let err = Message::decode(&cut(&PACKET_OUT, 14)).unwrap_err();
    assert_eq!((err.field, err.kind), ("in_port", DecodeErrorKind::Truncated));
}
