//! EXPERIMENTER (OF1.3.5 §7.5.4): vendor extension messages, kept as an experimenter id, a type and
//! opaque data.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::be_u32;
use serde::Serialize;

use crate::codec::{Body, PResult, field, share, take_exact};

/// Size of the fixed part of `ofp_experimenter_header` after `ofp_header` (experimenter + exp_type).
pub const EXPERIMENTER_FIXED_LEN: usize = 8;

/// OFPT_EXPERIMENTER.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Experimenter {
    /// Experimenter id: an IEEE OUI in the low 24 bits, or an ONF-assigned id.
    pub experimenter: u32,
    /// Experimenter-defined message type.
    pub exp_type: u32,
    /// Experimenter-defined payload; shares the received frame's memory.
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub data: Bytes,
}

impl Body for Experimenter {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        let (rest, experimenter) = field("experimenter", be_u32)(input)?;
        let (rest, exp_type) = field("exp_type", be_u32)(rest)?;
        let (rest, data) = take_exact(rest, rest.len(), "data")?;
        Ok((rest, Experimenter { experimenter, exp_type, data: share(src, data) }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.experimenter);
        buf.put_u32(self.exp_type);
        buf.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// Ryu's 4-16-ofp_experimenter: experimenter 98765432, exp_type 123456789, data "nazo".
    static EXPERIMENTER: [u8; 20] = [
        0x04, 0x04, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, // header
        0x05, 0xe3, 0x0a, 0x78, 0x07, 0x5b, 0xcd, 0x15, // experimenter, exp_type
        b'n', b'a', b'z', b'o',
    ];

    #[test]
    fn test_parse() {
        let frame = Bytes::from_static(&EXPERIMENTER);
        let (_, msg) = Message::decode(&frame).unwrap();
        let Message::Experimenter(exp) = &msg else { panic!("{msg:?}") };
        assert_eq!((exp.experimenter, exp.exp_type), (98_765_432, 123_456_789));
        assert_eq!(&exp.data[..], b"nazo");
        assert_eq!(exp.data.as_ptr(), frame[16..].as_ptr(), "data must share the frame");
    }

    #[test]
    fn test_emit() {
        let msg = Message::Experimenter(Experimenter {
            experimenter: 98_765_432,
            exp_type: 123_456_789,
            data: Bytes::from_static(b"nazo"),
        });
        assert_eq!(&msg.to_bytes(0)[..], &EXPERIMENTER);
        assert_eq!(msg.to_bytes(0).len(), crate::header::HEADER_LEN + EXPERIMENTER_FIXED_LEN + 4);
    }

    #[test]
    fn truncated() {
        let err =
            Message::decode(&Bytes::copy_from_slice(&[4, 4, 0, 14, 0, 0, 0, 0, 0, 0, 0x23, 0x20, 0, 0]))
                .unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("exp_type", 12, DecodeErrorKind::Truncated));
    }
}
