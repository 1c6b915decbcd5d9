//! ERROR (OF1.3.5 §7.4.4): every error type with its typed code, experimenter errors, and the data
//! that tells which request failed.
//!
//! Layout: `type` (u16), `code` (u16), `data`. For `OFPET_EXPERIMENTER` (0xffff) the second field is
//! `exp_type` and a 32-bit `experimenter` id follows before the data (`ofp_error_experimenter_msg`).
//! For `OFPET_HELLO_FAILED` the data is ASCII text; for every other type it is (the start of) the
//! message that failed.

mod codes;

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u32};
use serde::Serialize;

pub use self::codes::*;
use crate::codec::{Body, PResult, field, share, take_exact};
use crate::header::Header;

/// `OFPET_EXPERIMENTER`: the error type whose layout carries an experimenter id.
pub const OFPET_EXPERIMENTER: u16 = 0xffff;

/// How many bytes of the offending message [`ErrorMsg::new`] keeps: the spec asks for "at least 64
/// bytes of the failed request" (OF1.3.5 §7.4.4), enough for the header and the fixed part of any
/// request.
pub const ERROR_DATA_LEN: usize = 64;

/// Declares [`ErrorType`] with one variant per `OFPET_*` type number, and the number <-> variant maps.
macro_rules! error_types {
    ($( $(#[$meta:meta])* $variant:ident($code:ty) = $number:literal ),+ $(,)?) => {
        /// The error's type and typed code (`ofp_error_type` and its `ofp_*_code` enum).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum ErrorType {
            $( $(#[$meta])* $variant($code), )+
            /// `OFPET_EXPERIMENTER`: `exp_type` is the experimenter-defined code.
            Experimenter { exp_type: u16, experimenter: u32 },
            /// An error type this library has no name for; kept so it round-trips.
            Unknown { error_type: u16, code: u16 },
        }

        impl ErrorType {
            /// The wire `(type, code)` pair; for experimenter errors the code is `exp_type`.
            pub fn type_code(&self) -> (u16, u16) {
                match self {
                    $( ErrorType::$variant(code) => ($number, code.value()), )+
                    ErrorType::Experimenter { exp_type, .. } => (OFPET_EXPERIMENTER, *exp_type),
                    ErrorType::Unknown { error_type, code } => (*error_type, *code),
                }
            }

            /// The typed error for a non-experimenter `(type, code)` pair.
            fn from_type_code(error_type: u16, code: u16) -> ErrorType {
                match error_type {
                    $( $number => ErrorType::$variant(<$code>::from(code)), )+
                    _ => ErrorType::Unknown { error_type, code },
                }
            }
        }
    };
}

error_types! {
    /// `OFPET_HELLO_FAILED`: version negotiation failed; the data is ASCII text.
    HelloFailed(HelloFailedCode) = 0,
    /// `OFPET_BAD_REQUEST`: the request was not understood.
    BadRequest(BadRequestCode) = 1,
    /// `OFPET_BAD_ACTION`: error in an action.
    BadAction(BadActionCode) = 2,
    /// `OFPET_BAD_INSTRUCTION`: error in an instruction list.
    BadInstruction(BadInstructionCode) = 3,
    /// `OFPET_BAD_MATCH`: error in a match.
    BadMatch(BadMatchCode) = 4,
    /// `OFPET_FLOW_MOD_FAILED`: problem modifying a flow entry.
    FlowModFailed(FlowModFailedCode) = 5,
    /// `OFPET_GROUP_MOD_FAILED`: problem modifying a group entry.
    GroupModFailed(GroupModFailedCode) = 6,
    /// `OFPET_PORT_MOD_FAILED`: PORT_MOD failed.
    PortModFailed(PortModFailedCode) = 7,
    /// `OFPET_TABLE_MOD_FAILED`: TABLE_MOD failed.
    TableModFailed(TableModFailedCode) = 8,
    /// `OFPET_QUEUE_OP_FAILED`: queue operation failed.
    QueueOpFailed(QueueOpFailedCode) = 9,
    /// `OFPET_SWITCH_CONFIG_FAILED`: SET_CONFIG failed.
    SwitchConfigFailed(SwitchConfigFailedCode) = 10,
    /// `OFPET_ROLE_REQUEST_FAILED`: ROLE_REQUEST failed.
    RoleRequestFailed(RoleRequestFailedCode) = 11,
    /// `OFPET_METER_MOD_FAILED`: error in a meter.
    MeterModFailed(MeterModFailedCode) = 12,
    /// `OFPET_TABLE_FEATURES_FAILED`: setting table features failed.
    TableFeaturesFailed(TableFeaturesFailedCode) = 13,
}

/// OFPT_ERROR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorMsg {
    pub error: ErrorType,
    /// ASCII text for `HelloFailed`; otherwise the first bytes of the message that failed.
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub data: Bytes,
}

impl ErrorMsg {
    /// An error about `offending` (the whole failed message as received), keeping its first
    /// [`ERROR_DATA_LEN`] bytes as the spec recommends.
    pub fn new(error: ErrorType, offending: &[u8]) -> ErrorMsg {
        let kept = offending.get(..ERROR_DATA_LEN).unwrap_or(offending);
        ErrorMsg { error, data: Bytes::copy_from_slice(kept) }
    }

    /// An `OFPET_HELLO_FAILED` error carrying a human-readable explanation (OF1.3.5 §6.3.1).
    pub fn hello_failed(code: HelloFailedCode, text: &str) -> ErrorMsg {
        ErrorMsg { error: ErrorType::HelloFailed(code), data: Bytes::copy_from_slice(text.as_bytes()) }
    }

    /// The explanation text of a `HelloFailed` error (invalid UTF-8 replaced); `None` for other types,
    /// whose data is binary.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self.error {
            ErrorType::HelloFailed(_) => Some(String::from_utf8_lossy(&self.data)),
            _ => None,
        }
    }

    /// The header of the failed request echoed in the data (its xid tells which request failed), when
    /// the data holds one.
    pub fn offending_header(&self) -> Option<Header> {
        match self.error {
            ErrorType::HelloFailed(_) => None,
            _ => Header::parse(&self.data).ok(),
        }
    }
}

impl Body for ErrorMsg {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        let (rest, error_type) = field("type", be_u16)(input)?;
        let (rest, code) = field("code", be_u16)(rest)?;
        let (rest, error) = if error_type == OFPET_EXPERIMENTER {
            let (rest, experimenter) = field("experimenter", be_u32)(rest)?;
            (rest, ErrorType::Experimenter { exp_type: code, experimenter })
        } else {
            (rest, ErrorType::from_type_code(error_type, code))
        };
        let (rest, data) = take_exact(rest, rest.len(), "data")?;
        Ok((rest, ErrorMsg { error, data: share(src, data) }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        let (error_type, code) = self.error.type_code();
        buf.put_u16(error_type);
        buf.put_u16(code);
        if let ErrorType::Experimenter { experimenter, .. } = self.error {
            buf.put_u32(experimenter);
        }
        buf.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// BAD_REQUEST / BAD_LEN about an 8-byte BARRIER_REQUEST with xid 0x11223344.
    static ERROR_BAD_LEN: [u8; 20] = [
        0x04, 0x01, 0x00, 0x14, 0x00, 0x00, 0x00, 0x05, // header, xid 5
        0x00, 0x01, 0x00, 0x06, // type BAD_REQUEST, code BAD_LEN
        0x04, 0x14, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44, // the offending header
    ];

    /// Ryu's 4-41-ofp_error_msg_experimenter: exp_type 60000, experimenter 999999, "jikken data".
    static ERROR_EXPERIMENTER: [u8; 27] = [
        0x04, 0x01, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x00, // header
        0xff, 0xff, 0xea, 0x60, 0x00, 0x0f, 0x42, 0x3f, // OFPET_EXPERIMENTER, exp_type, experimenter
        b'j', b'i', b'k', b'k', b'e', b'n', b' ', b'd', b'a', b't', b'a',
    ];

    fn decode_error(bytes: &[u8]) -> (Bytes, ErrorMsg) {
        let frame = Bytes::copy_from_slice(bytes);
        match Message::decode(&frame) {
            Ok((_, Message::Error(e))) => (frame, e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_parse() {
        let (frame, err) = decode_error(&ERROR_BAD_LEN);
        assert_eq!(err.error, ErrorType::BadRequest(BadRequestCode::BadLen));
        assert_eq!(err.data.as_ptr(), frame[12..].as_ptr(), "data must share the frame");
        assert_eq!(err.offending_header().map(|h| h.xid), Some(0x1122_3344));
        assert_eq!(err.text(), None);

        let (_, err) = decode_error(&ERROR_EXPERIMENTER);
        assert_eq!(err.error, ErrorType::Experimenter { exp_type: 60000, experimenter: 999_999 });
        assert_eq!(&err.data[..], b"jikken data");
    }

    #[test]
    fn test_emit() {
        let barrier = [0x04, 0x14, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44];
        let msg = Message::Error(ErrorMsg::new(ErrorType::BadRequest(BadRequestCode::BadLen), &barrier));
        assert_eq!(&msg.to_bytes(5)[..], &ERROR_BAD_LEN);
        let (_, err) = decode_error(&ERROR_EXPERIMENTER);
        assert_eq!(&Message::Error(err).to_bytes(0)[..], &ERROR_EXPERIMENTER);
    }

    #[test]
    fn hello_failed_carries_text() {
        let err = ErrorMsg::hello_failed(HelloFailedCode::Incompatible, "only OF1.3 (0x04) supported");
        let bytes = Message::Error(err.clone()).to_bytes(0);
        assert_eq!(&bytes[8..12], &[0, 0, 0, 0]);
        let (_, decoded) = decode_error(&bytes);
        assert_eq!(decoded, err);
        assert_eq!(decoded.text().as_deref(), Some("only OF1.3 (0x04) supported"));
        assert_eq!(decoded.offending_header(), None);
    }

    #[test]
    fn new_keeps_at_most_64_bytes() {
        let big = [0xabu8; 200];
        let err = ErrorMsg::new(ErrorType::BadMatch(BadMatchCode::BadPrereq), &big);
        assert_eq!(err.data.len(), ERROR_DATA_LEN);
        let small = ErrorMsg::new(ErrorType::BadMatch(BadMatchCode::BadPrereq), &big[..10]);
        assert_eq!(small.data.len(), 10);
    }

    #[test]
    fn every_type_and_code_round_trips() {
        // Each known type number, a known code and an unknown code, and an unknown type.
        for error_type in (0u16..=13).chain([14, 0x1234]) {
            for code in [0u16, 2, 0x7fff] {
                let mut bytes = vec![0x04, 0x01, 0x00, 0x0c, 0, 0, 0, 0];
                bytes.extend_from_slice(&error_type.to_be_bytes());
                bytes.extend_from_slice(&code.to_be_bytes());
                let (_, err) = decode_error(&bytes);
                assert_eq!(err.error.type_code(), (error_type, code));
                assert_eq!(matches!(err.error, ErrorType::Unknown { .. }), error_type > 13);
                assert_eq!(&Message::Error(err).to_bytes(0)[..], &bytes[..]);
            }
        }
        assert_eq!(ErrorType::FlowModFailed(FlowModFailedCode::Overlap).type_code(), (5, 3));
        assert_eq!(ErrorType::TableFeaturesFailed(TableFeaturesFailedCode::Eperm).type_code(), (13, 5));
        assert_eq!(ErrorType::MeterModFailed(MeterModFailedCode::OutOfBands).type_code(), (12, 11));
        assert_eq!(ErrorType::BadAction(BadActionCode::BadSetArgument).type_code(), (2, 15));
        assert_eq!(ErrorType::GroupModFailed(GroupModFailedCode::Eperm).type_code(), (6, 14));
        assert_eq!(FlowModFailedCode::from(0), FlowModFailedCode::Unspecified);
    }

    #[test]
    fn truncated_errors() {
        let err = Message::decode(&Bytes::from_static(&[4, 1, 0, 11, 0, 0, 0, 0, 0, 1, 0])).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("code", 10, DecodeErrorKind::Truncated));
        // Experimenter error without its 4-byte experimenter id.
        let err = Message::decode(&Bytes::from_static(&[4, 1, 0, 14, 0, 0, 0, 0, 0xff, 0xff, 0, 1, 0, 0]))
            .unwrap_err();
        assert_eq!((err.field, err.kind), ("experimenter", DecodeErrorKind::Truncated));
    }
}
