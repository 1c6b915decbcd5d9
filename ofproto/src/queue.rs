//! Queue configuration: QUEUE_GET_CONFIG_REQUEST / REPLY, `ofp_packet_queue` and the queue properties
//! (OF1.3.5 §7.3.6 for the messages, §7.2.2 for the queue structures).
//!
//! Property lengths are taken as sent, without rounding to 8: experimenter properties in the wild (and
//! in Ryu's test corpus) carry unpadded data, and re-encoding must reproduce them byte for byte.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u32};
use serde::Serialize;

use crate::codec::{Body, LenPatch, PResult, check_tlv_len, field, many_until_empty, pad, put_zeros, within};
use crate::types::PortNo;

/// `ofp_queue_properties` numbers (OF1.3.5 §7.2.2).
pub mod queue_prop_type {
    /// Minimum datarate guaranteed.
    pub const MIN_RATE: u16 = 1;
    /// Maximum datarate.
    pub const MAX_RATE: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// A queue rate above this (in 1/10 of a percent of the port speed) means "disabled" (`OFPQ_*_RATE`
/// values > 1000, OF1.3.5 §7.2.2).
pub const RATE_DISABLED_ABOVE: u16 = 1000;

/// A queue property (`ofp_queue_prop_*`, OF1.3.5 §7.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum QueueProp {
    /// Guaranteed rate in 1/10 of a percent of the port speed; > 1000 means disabled.
    MinRate(u16),
    /// Maximum rate in 1/10 of a percent of the port speed; > 1000 means disabled.
    MaxRate(u16),
    /// `data` is everything after the 16-byte header (property, len, pad, experimenter, pad).
    Experimenter {
        experimenter: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// A property this library has no name for; `body` is everything after the 8-byte
    /// `ofp_queue_prop_header`.
    Unknown {
        property: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl QueueProp {
    /// `sizeof(struct ofp_queue_prop_header)`.
    pub const HEADER_SIZE: usize = 8;
    /// Size of the min-rate, max-rate and (data-less) experimenter properties.
    pub const SIZE: usize = 16;

    /// The property's type number (see [`queue_prop_type`]).
    pub fn property(&self) -> u16 {
        match self {
            QueueProp::MinRate(_) => queue_prop_type::MIN_RATE,
            QueueProp::MaxRate(_) => queue_prop_type::MAX_RATE,
            QueueProp::Experimenter { .. } => queue_prop_type::EXPERIMENTER,
            QueueProp::Unknown { property, .. } => *property,
        }
    }

    fn parse(input: &[u8]) -> PResult<'_, QueueProp> {
        let (i, property) = field("queue_prop.property", be_u16)(input)?;
        let (_, len) = field("queue_prop.len", be_u16)(i)?;
        let min = match property {
            queue_prop_type::MIN_RATE | queue_prop_type::MAX_RATE | queue_prop_type::EXPERIMENTER => {
                Self::SIZE
            }
            _ => Self::HEADER_SIZE,
        };
        let len = check_tlv_len(input, usize::from(len), min, "queue_prop.len")?;
        within(input, len, "queue_prop", |i| {
            // property and len (read above) and 4 bytes of header padding.
            let (i, ()) = pad(i, Self::HEADER_SIZE)?;
            match property {
                queue_prop_type::MIN_RATE | queue_prop_type::MAX_RATE => {
                    let (i, rate) = field("queue_prop.rate", be_u16)(i)?;
                    let (i, ()) = pad(i, 6)?;
                    let prop = if property == queue_prop_type::MIN_RATE {
                        QueueProp::MinRate(rate)
                    } else {
                        QueueProp::MaxRate(rate)
                    };
                    Ok((i, prop))
                }
                queue_prop_type::EXPERIMENTER => {
                    let (i, experimenter) = field("queue_prop.experimenter", be_u32)(i)?;
                    let (i, ()) = pad(i, 4)?;
                    let data = Bytes::copy_from_slice(i);
                    Ok((&i[i.len()..], QueueProp::Experimenter { experimenter, data }))
                }
                _ => {
                    let body = Bytes::copy_from_slice(i);
                    Ok((&i[i.len()..], QueueProp::Unknown { property, body }))
                }
            }
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u16(self.property());
        let len = LenPatch::u16(buf, start);
        put_zeros(buf, 4);
        match self {
            QueueProp::MinRate(rate) | QueueProp::MaxRate(rate) => {
                buf.put_u16(*rate);
                put_zeros(buf, 6);
            }
            QueueProp::Experimenter { experimenter, data } => {
                buf.put_u32(*experimenter);
                put_zeros(buf, 4);
                buf.put_slice(data);
            }
            QueueProp::Unknown { body, .. } => buf.put_slice(body),
        }
        len.finish(buf);
    }
}

/// `ofp_packet_queue` (OF1.3.5 §7.2.2): one queue of a port and its properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketQueue {
    pub queue_id: u32,
    /// The port this queue is attached to.
    pub port: PortNo,
    pub properties: Vec<QueueProp>,
}

impl PacketQueue {
    /// Size of the fixed part (queue_id, port, len, pad).
    pub const HEADER_SIZE: usize = 16;

    /// The guaranteed rate, if the queue has an enabled min-rate property.
    pub fn min_rate(&self) -> Option<u16> {
        self.properties.iter().find_map(|p| match p {
            QueueProp::MinRate(rate) if *rate <= RATE_DISABLED_ABOVE => Some(*rate),
            _ => None,
        })
    }

    /// The rate cap, if the queue has an enabled max-rate property.
    pub fn max_rate(&self) -> Option<u16> {
        self.properties.iter().find_map(|p| match p {
            QueueProp::MaxRate(rate) if *rate <= RATE_DISABLED_ABOVE => Some(*rate),
            _ => None,
        })
    }

    fn parse(input: &[u8]) -> PResult<'_, PacketQueue> {
        let (i, queue_id) = field("packet_queue.queue_id", be_u32)(input)?;
        let (i, port) = field("packet_queue.port", be_u32)(i)?;
        let (_, len) = field("packet_queue.len", be_u16)(i)?;
        let len = check_tlv_len(input, usize::from(len), Self::HEADER_SIZE, "packet_queue.len")?;
        within(input, len, "packet_queue", |i| {
            // queue_id, port and len (read above) and 6 bytes of padding.
            let (i, ()) = pad(i, Self::HEADER_SIZE)?;
            let (i, properties) = many_until_empty(i, QueueProp::parse)?;
            Ok((i, PacketQueue { queue_id, port: PortNo(port), properties }))
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u32(self.queue_id);
        buf.put_u32(self.port.0);
        let len = LenPatch::u16(buf, start);
        put_zeros(buf, 6);
        for prop in &self.properties {
            prop.emit(buf);
        }
        len.finish(buf);
    }
}

/// QUEUE_GET_CONFIG_REQUEST (OF1.3.5 §7.3.6): ask for the queues of `port` (`PortNo::ANY` for all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueGetConfigRequest {
    pub port: PortNo,
}

impl Body for QueueGetConfigRequest {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, port) = field("port", be_u32)(input)?;
        let (i, ()) = pad(i, 4)?;
        Ok((i, QueueGetConfigRequest { port: PortNo(port) }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port.0);
        put_zeros(buf, 4);
    }
}

/// QUEUE_GET_CONFIG_REPLY (OF1.3.5 §7.3.6): the queues configured on the requested port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueGetConfigReply {
    /// The port that was asked about.
    pub port: PortNo,
    pub queues: Vec<PacketQueue>,
}

impl Body for QueueGetConfigReply {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, port) = field("port", be_u32)(input)?;
        let (i, ()) = pad(i, 4)?;
        let (i, queues) = many_until_empty(i, PacketQueue::parse)?;
        Ok((i, QueueGetConfigReply { port: PortNo(port), queues }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port.0);
        put_zeros(buf, 4);
        for queue in &self.queues {
            queue.emit(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    static REQUEST: [u8; 16] = [
        0x04, 0x16, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, // header, xid 4
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // port 2, pad
    ];

    /// Reply for port 2: queue 1 (min 100, max 500), queue 7 (max 1001 = disabled, an experimenter
    /// property with 3 unpadded data bytes, an unknown property 9 with a 4-byte body).
    static REPLY: [u8; 127] = [
        0x04, 0x17, 0x00, 0x7f, 0x00, 0x00, 0x00, 0x04, // header, xid 4
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // port 2, pad
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // queue 1, port 2
        0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // len 48, pad
        0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, // MIN_RATE len 16
        0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rate 100
        0x00, 0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, // MAX_RATE len 16
        0x01, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rate 500
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02, // queue 7, port 2
        0x00, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // len 63 (not a multiple of 8), pad
        0x00, 0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, // MAX_RATE len 16
        0x03, 0xe9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rate 1001
        0xff, 0xff, 0x00, 0x13, 0x00, 0x00, 0x00, 0x00, // EXPERIMENTER len 19
        0x00, 0x00, 0x23, 0x20, 0x00, 0x00, 0x00, 0x00, // experimenter 0x2320, pad
        0xaa, 0xbb, 0xcc, // data
        0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, // property 9 len 12
        0x01, 0x02, 0x03, 0x04, // body
    ];

    fn reply() -> QueueGetConfigReply {
        QueueGetConfigReply {
            port: PortNo(2),
            queues: vec![
                PacketQueue {
                    queue_id: 1,
                    port: PortNo(2),
                    properties: vec![QueueProp::MinRate(100), QueueProp::MaxRate(500)],
                },
                PacketQueue {
                    queue_id: 7,
                    port: PortNo(2),
                    properties: vec![
                        QueueProp::MaxRate(1001),
                        QueueProp::Experimenter {
                            experimenter: 0x2320,
                            data: Bytes::from_static(&[0xaa, 0xbb, 0xcc]),
                        },
                        QueueProp::Unknown { property: 9, body: Bytes::from_static(&[1, 2, 3, 4]) },
                    ],
                },
            ],
        }
    }

    #[test]
    fn test_parse_request() {
        let (_, msg) = Message::decode(&Bytes::from_static(&REQUEST)).unwrap();
        assert_eq!(msg, Message::QueueGetConfigRequest(QueueGetConfigRequest { port: PortNo(2) }));
    }

    #[test]
    fn test_emit_request() {
        let msg = Message::QueueGetConfigRequest(QueueGetConfigRequest { port: PortNo(2) });
        assert_eq!(&msg.to_bytes(4)[..], &REQUEST[..]);
    }

    #[test]
    fn test_parse_reply() {
        let (_, msg) = Message::decode(&Bytes::from_static(&REPLY)).unwrap();
        assert_eq!(msg, Message::QueueGetConfigReply(reply()));
    }

    #[test]
    fn test_emit_reply() {
        assert_eq!(&Message::QueueGetConfigReply(reply()).to_bytes(4)[..], &REPLY[..]);
    }

    #[test]
    fn ryu_queue_get_config() {
        let raw = include_bytes!("../tests/data/ryu-of13/packet/4-35-ofp_queue_get_config_request.packet");
        let frame = Bytes::from_static(raw);
        let (header, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg, Message::QueueGetConfigRequest(QueueGetConfigRequest { port: PortNo::ANY }));
        assert_eq!(msg.to_bytes(header.xid), frame);

        // Ryu's reply has experimenter properties of 16, 17 and 18 bytes (queues of 64, 65, 66 bytes):
        // unpadded lengths must survive the round trip.
        let raw = include_bytes!("../tests/data/ryu-of13/packet/4-36-ofp_queue_get_config_reply.packet");
        let frame = Bytes::from_static(raw);
        let (header, msg) = Message::decode(&frame).unwrap();
        let queue = |queue_id, min, max, data: &'static [u8]| PacketQueue {
            queue_id,
            port: PortNo(77),
            properties: vec![
                QueueProp::MinRate(min),
                QueueProp::MaxRate(max),
                QueueProp::Experimenter { experimenter: 999, data: Bytes::from_static(data) },
            ],
        };
        let expected = QueueGetConfigReply {
            port: PortNo::ANY,
            queues: vec![queue(99, 10, 900, &[]), queue(88, 100, 200, &[1]), queue(77, 200, 400, &[1, 2])],
        };
        assert_eq!(msg, Message::QueueGetConfigReply(expected));
        assert_eq!(msg.to_bytes(header.xid), frame);
    }

    #[test]
    fn rates_ignore_disabled_values() {
        let r = reply();
        assert_eq!((r.queues[0].min_rate(), r.queues[0].max_rate()), (Some(100), Some(500)));
        assert_eq!((r.queues[1].min_rate(), r.queues[1].max_rate()), (None, None), "1001 means disabled");
    }

    #[test]
    fn queue_shorter_than_its_header_is_rejected() {
        let mut frame = REPLY;
        frame[25] = 8; // first queue len 8
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!((err.field, err.offset), ("packet_queue.len", 16));
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 8 });
    }

    #[test]
    fn min_rate_with_short_length_is_rejected() {
        let mut frame = REPLY;
        frame[35] = 8; // MIN_RATE len 8: a bare header has no room for the rate
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!((err.field, err.offset), ("queue_prop.len", 32));
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 8 });
    }

    #[test]
    fn property_past_its_queue_is_truncated() {
        let mut frame = REPLY;
        frame[51] = 0x18; // MAX_RATE len 24 runs past the end of queue 1
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!(err.field, "queue_prop.len");
        assert!(err.is_truncation());
    }

    #[test]
    fn request_with_missing_padding_is_truncated() {
        let mut frame = REQUEST[..12].to_vec();
        frame[3] = 12;
        let err = Message::decode(&Bytes::from(frame)).unwrap_err();
        assert_eq!((err.field, err.offset), ("pad", 12));
        assert!(err.is_truncation());
    }
}
