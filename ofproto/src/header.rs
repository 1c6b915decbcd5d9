//! The common OpenFlow header (`ofp_header`, OF1.3.5 §7.1) and the message type numbers.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::types::open_enum;

/// The only protocol version this library speaks (OpenFlow 1.3 = 0x04).
pub const OFP_VERSION: u8 = 0x04;

/// Size of `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// Byte offsets of the header fields.
pub mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const XID: Range<usize> = 4..8;
}

open_enum! {
    /// `ofp_type` (OF1.3.5 §7.1).
    pub enum MsgType: u8 {
        Hello = 0,
        Error = 1,
        EchoRequest = 2,
        EchoReply = 3,
        Experimenter = 4,
        FeaturesRequest = 5,
        FeaturesReply = 6,
        GetConfigRequest = 7,
        GetConfigReply = 8,
        SetConfig = 9,
        PacketIn = 10,
        FlowRemoved = 11,
        PortStatus = 12,
        PacketOut = 13,
        FlowMod = 14,
        GroupMod = 15,
        PortMod = 16,
        TableMod = 17,
        MultipartRequest = 18,
        MultipartReply = 19,
        BarrierRequest = 20,
        BarrierReply = 21,
        QueueGetConfigRequest = 22,
        QueueGetConfigReply = 23,
        RoleRequest = 24,
        RoleReply = 25,
        GetAsyncRequest = 26,
        GetAsyncReply = 27,
        SetAsync = 28,
        MeterMod = 29,
    }
}

impl MsgType {
    /// The spec's name without the `OFPT_` prefix, e.g. `"FLOW_MOD"`; used in errors and dumps.
    pub fn spec_name(self) -> &'static str {
        match self {
            MsgType::Hello => "HELLO",
            MsgType::Error => "ERROR",
            MsgType::EchoRequest => "ECHO_REQUEST",
            MsgType::EchoReply => "ECHO_REPLY",
            MsgType::Experimenter => "EXPERIMENTER",
            MsgType::FeaturesRequest => "FEATURES_REQUEST",
            MsgType::FeaturesReply => "FEATURES_REPLY",
            MsgType::GetConfigRequest => "GET_CONFIG_REQUEST",
            MsgType::GetConfigReply => "GET_CONFIG_REPLY",
            MsgType::SetConfig => "SET_CONFIG",
            MsgType::PacketIn => "PACKET_IN",
            MsgType::FlowRemoved => "FLOW_REMOVED",
            MsgType::PortStatus => "PORT_STATUS",
            MsgType::PacketOut => "PACKET_OUT",
            MsgType::FlowMod => "FLOW_MOD",
            MsgType::GroupMod => "GROUP_MOD",
            MsgType::PortMod => "PORT_MOD",
            MsgType::TableMod => "TABLE_MOD",
            MsgType::MultipartRequest => "MULTIPART_REQUEST",
            MsgType::MultipartReply => "MULTIPART_REPLY",
            MsgType::BarrierRequest => "BARRIER_REQUEST",
            MsgType::BarrierReply => "BARRIER_REPLY",
            MsgType::QueueGetConfigRequest => "QUEUE_GET_CONFIG_REQUEST",
            MsgType::QueueGetConfigReply => "QUEUE_GET_CONFIG_REPLY",
            MsgType::RoleRequest => "ROLE_REQUEST",
            MsgType::RoleReply => "ROLE_REPLY",
            MsgType::GetAsyncRequest => "GET_ASYNC_REQUEST",
            MsgType::GetAsyncReply => "GET_ASYNC_REPLY",
            MsgType::SetAsync => "SET_ASYNC",
            MsgType::MeterMod => "METER_MOD",
            MsgType::Unknown(_) => "UNKNOWN",
        }
    }
}

/// A decoded `ofp_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    pub version: u8,
    pub msg_type: MsgType,
    /// Total message length including this header.
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Reads the header from the first 8 bytes of `buf`. Checks only that 8 bytes exist and that the
    /// length field is at least 8; [`crate::framing`] and [`crate::message::Message::decode`] check it
    /// against the bytes available.
    pub fn parse(buf: &[u8]) -> Result<Header, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError {
                message: "header",
                field: "header",
                offset: 0,
                kind: DecodeErrorKind::Truncated,
            });
        }
        let length = u16::from_be_bytes([buf[field::LENGTH.start], buf[field::LENGTH.start + 1]]);
        if (length as usize) < HEADER_LEN {
            return Err(DecodeError {
                message: "header",
                field: "length",
                offset: field::LENGTH.start,
                kind: DecodeErrorKind::BadLength { value: length as usize },
            });
        }
        let xid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        Ok(Header { version: buf[field::VERSION], msg_type: MsgType::from(buf[field::TYPE]), length, xid })
    }

    /// Appends the header. The caller back-patches `length` (see [`crate::message::Message::encode`]).
    pub fn emit(&self, buf: &mut BytesMut) {
        buf.put_u8(self.version);
        buf.put_u8(self.msg_type.value());
        buf.put_u16(self.length);
        buf.put_u32(self.xid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ECHO_REQUEST: [u8; 8] = [0x04, 0x02, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78];

    #[test]
    fn test_parse() {
        let h = Header::parse(&ECHO_REQUEST).unwrap();
        assert_eq!(h, Header { version: 4, msg_type: MsgType::EchoRequest, length: 8, xid: 0x1234_5678 });
    }

    #[test]
    fn test_emit() {
        let mut buf = BytesMut::new();
        Header { version: 4, msg_type: MsgType::EchoRequest, length: 8, xid: 0x1234_5678 }.emit(&mut buf);
        assert_eq!(&buf[..], &ECHO_REQUEST);
    }

    #[test]
    fn rejects_short_length_field() {
        let err = Header::parse(&[4, 0, 0, 7, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err.field, "length");
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 7 });
    }

    #[test]
    fn unknown_type_is_kept() {
        let h = Header::parse(&[4, 200, 0, 8, 0, 0, 0, 1]).unwrap();
        assert_eq!(h.msg_type, MsgType::Unknown(200));
    }
}
