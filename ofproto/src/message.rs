//! `Message`: every OpenFlow 1.3.5 message as one typed value, and the decode/encode entry points.
//!
//! `Message::decode` takes exactly one framed message (see [`crate::framing`]) and returns its xid and
//! typed body; `Message::encode` appends a complete message with the header length computed. A type
//! number this library does not know decodes to [`Message::Unknown`] and re-encodes unchanged.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, WireErr};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::header::{HEADER_LEN, Header, MsgType, OFP_VERSION};
use crate::{
    error_msg, experimenter, flow, group, hello, meter, multipart, packet, port, queue, role, switch, table,
};

/// One OpenFlow 1.3 message (the header's version, type and length are implied; the xid travels
/// alongside, see [`Message::decode`] and [`Message::encode`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Message {
    Hello(hello::Hello),
    Error(error_msg::ErrorMsg),
    EchoRequest(#[serde(serialize_with = "crate::types::serialize_hex")] Bytes),
    EchoReply(#[serde(serialize_with = "crate::types::serialize_hex")] Bytes),
    Experimenter(experimenter::Experimenter),
    FeaturesRequest,
    FeaturesReply(switch::SwitchFeatures),
    GetConfigRequest,
    GetConfigReply(switch::SwitchConfig),
    SetConfig(switch::SwitchConfig),
    PacketIn(packet::PacketIn),
    FlowRemoved(flow::FlowRemoved),
    PortStatus(port::PortStatus),
    PacketOut(packet::PacketOut),
    FlowMod(flow::FlowMod),
    GroupMod(group::GroupMod),
    PortMod(port::PortMod),
    TableMod(table::TableMod),
    MultipartRequest(multipart::MultipartRequest),
    MultipartReply(multipart::MultipartReply),
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest(queue::QueueGetConfigRequest),
    QueueGetConfigReply(queue::QueueGetConfigReply),
    RoleRequest(role::RoleMessage),
    RoleReply(role::RoleMessage),
    GetAsyncRequest,
    GetAsyncReply(role::AsyncConfig),
    SetAsync(role::AsyncConfig),
    MeterMod(meter::MeterMod),
    /// A message type this library has no name for; the body is kept as is.
    Unknown {
        msg_type: u8,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Message {
    /// The header type of this message.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::Error(_) => MsgType::Error,
            Message::EchoRequest(_) => MsgType::EchoRequest,
            Message::EchoReply(_) => MsgType::EchoReply,
            Message::Experimenter(_) => MsgType::Experimenter,
            Message::FeaturesRequest => MsgType::FeaturesRequest,
            Message::FeaturesReply(_) => MsgType::FeaturesReply,
            Message::GetConfigRequest => MsgType::GetConfigRequest,
            Message::GetConfigReply(_) => MsgType::GetConfigReply,
            Message::SetConfig(_) => MsgType::SetConfig,
            Message::PacketIn(_) => MsgType::PacketIn,
            Message::FlowRemoved(_) => MsgType::FlowRemoved,
            Message::PortStatus(_) => MsgType::PortStatus,
            Message::PacketOut(_) => MsgType::PacketOut,
            Message::FlowMod(_) => MsgType::FlowMod,
            Message::GroupMod(_) => MsgType::GroupMod,
            Message::PortMod(_) => MsgType::PortMod,
            Message::TableMod(_) => MsgType::TableMod,
            Message::MultipartRequest(_) => MsgType::MultipartRequest,
            Message::MultipartReply(_) => MsgType::MultipartReply,
            Message::BarrierRequest => MsgType::BarrierRequest,
            Message::BarrierReply => MsgType::BarrierReply,
            Message::QueueGetConfigRequest(_) => MsgType::QueueGetConfigRequest,
            Message::QueueGetConfigReply(_) => MsgType::QueueGetConfigReply,
            Message::RoleRequest(_) => MsgType::RoleRequest,
            Message::RoleReply(_) => MsgType::RoleReply,
            Message::GetAsyncRequest => MsgType::GetAsyncRequest,
            Message::GetAsyncReply(_) => MsgType::GetAsyncReply,
            Message::SetAsync(_) => MsgType::SetAsync,
            Message::MeterMod(_) => MsgType::MeterMod,
            Message::Unknown { msg_type, .. } => MsgType::Unknown(*msg_type),
        }
    }

    /// Decodes exactly one message. `frame` must hold the whole message and nothing else (as
    /// [`crate::framing::Framer`] yields). Payloads (PACKET_IN data, echo data, ...) share `frame`'s
    /// memory; nothing is copied.
    ///
    /// A HELLO of any version decodes (version negotiation needs it); any other message must be
    /// version 0x04.
    pub fn decode(frame: &Bytes) -> Result<(Header, Message), DecodeError> {
        let header = Header::parse(frame)?;
        let length = usize::from(header.length);
        if length != frame.len() || (header.version != OFP_VERSION && header.msg_type != MsgType::Hello) {
            return Err(header_error(&header, frame.len()));
        }
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        match Self::decode_body(header.msg_type, body, frame) {
            Ok(msg) => Ok((header, msg)),
            Err(err) => Err(body_error(&header, err)),
        }
    }

    fn decode_body(msg_type: MsgType, body: &[u8], src: &Bytes) -> Result<Message, WireErr> {
        fn run<T: Body>(body: &[u8], src: &Bytes) -> Result<T, WireErr> {
            match T::parse(body, src) {
                Ok(([], value)) => Ok(value),
                Ok((rest, _)) => Err(WireErr {
                    field: "body",
                    remaining: rest.len(),
                    kind: DecodeErrorKind::TrailingBytes { count: rest.len() },
                }),
                Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
                // Parsers work on complete input and never return Incomplete; treat it as truncation.
                Err(nom::Err::Incomplete(_)) => {
                    Err(WireErr { field: "body", remaining: 0, kind: DecodeErrorKind::Truncated })
                }
            }
        }
        fn empty(body: &[u8], msg: Message) -> Result<Message, WireErr> {
            if body.is_empty() {
                Ok(msg)
            } else {
                Err(WireErr {
                    field: "body",
                    remaining: body.len(),
                    kind: DecodeErrorKind::TrailingBytes { count: body.len() },
                })
            }
        }
        let data = || crate::codec::share(src, body);
        Ok(match msg_type {
            MsgType::Hello => Message::Hello(run(body, src)?),
            MsgType::Error => Message::Error(run(body, src)?),
            MsgType::EchoRequest => Message::EchoRequest(data()),
            MsgType::EchoReply => Message::EchoReply(data()),
            MsgType::Experimenter => Message::Experimenter(run(body, src)?),
            MsgType::FeaturesRequest => empty(body, Message::FeaturesRequest)?,
            MsgType::FeaturesReply => Message::FeaturesReply(run(body, src)?),
            MsgType::GetConfigRequest => empty(body, Message::GetConfigRequest)?,
            MsgType::GetConfigReply => Message::GetConfigReply(run(body, src)?),
            MsgType::SetConfig => Message::SetConfig(run(body, src)?),
            MsgType::PacketIn => Message::PacketIn(run(body, src)?),
            MsgType::FlowRemoved => Message::FlowRemoved(run(body, src)?),
            MsgType::PortStatus => Message::PortStatus(run(body, src)?),
            MsgType::PacketOut => Message::PacketOut(run(body, src)?),
            MsgType::FlowMod => Message::FlowMod(run(body, src)?),
            MsgType::GroupMod => Message::GroupMod(run(body, src)?),
            MsgType::PortMod => Message::PortMod(run(body, src)?),
            MsgType::TableMod => Message::TableMod(run(body, src)?),
            MsgType::MultipartRequest => Message::MultipartRequest(run(body, src)?),
            MsgType::MultipartReply => Message::MultipartReply(run(body, src)?),
            MsgType::BarrierRequest => empty(body, Message::BarrierRequest)?,
            MsgType::BarrierReply => empty(body, Message::BarrierReply)?,
            MsgType::QueueGetConfigRequest => Message::QueueGetConfigRequest(run(body, src)?),
            MsgType::QueueGetConfigReply => Message::QueueGetConfigReply(run(body, src)?),
            MsgType::RoleRequest => Message::RoleRequest(run(body, src)?),
            MsgType::RoleReply => Message::RoleReply(run(body, src)?),
            MsgType::GetAsyncRequest => empty(body, Message::GetAsyncRequest)?,
            MsgType::GetAsyncReply => Message::GetAsyncReply(run(body, src)?),
            MsgType::SetAsync => Message::SetAsync(run(body, src)?),
            MsgType::MeterMod => Message::MeterMod(run(body, src)?),
            MsgType::Unknown(t) => Message::Unknown { msg_type: t, body: data() },
        })
    }

    /// Appends the whole message (header included, length computed) with transaction id `xid`.
    ///
    /// # Panics
    /// If the message is over 65535 bytes (see [`try_encode`](Self::try_encode), for messages whose
    /// size depends on input: data, action lists, experimenter bodies). Sending such a message with a
    /// capped length would make the peer read its tail as further messages.
    pub fn encode(&self, xid: u32, buf: &mut BytesMut) {
        if let Err(e) = self.try_encode(xid, buf) {
            panic!("{e}");
        }
    }

    /// Appends the whole message with transaction id `xid`, or nothing if it would be over 65535
    /// bytes: OpenFlow lengths are 16-bit. A multipart reply that large must be split first
    /// (`multipart::split_reply`).
    pub fn try_encode(&self, xid: u32, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = buf.len();
        // `ofp_header` (OF1.3.5 §7.1) in one 8-byte write; the length is patched once the body is
        // written (computing it up front would walk the body twice, which costs more than the patch).
        let [x0, x1, x2, x3] = xid.to_be_bytes();
        buf.put_slice(&[OFP_VERSION, self.msg_type().value(), 0, 0, x0, x1, x2, x3]);
        match self {
            Message::Hello(m) => m.emit(buf),
            Message::Error(m) => m.emit(buf),
            Message::EchoRequest(d) | Message::EchoReply(d) => buf.put_slice(d),
            Message::Experimenter(m) => m.emit(buf),
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(m) => m.emit(buf),
            Message::GetConfigReply(m) | Message::SetConfig(m) => m.emit(buf),
            Message::PacketIn(m) => m.emit(buf),
            Message::FlowRemoved(m) => m.emit(buf),
            Message::PortStatus(m) => m.emit(buf),
            Message::PacketOut(m) => m.emit(buf),
            Message::FlowMod(m) => m.emit(buf),
            Message::GroupMod(m) => m.emit(buf),
            Message::PortMod(m) => m.emit(buf),
            Message::TableMod(m) => m.emit(buf),
            Message::MultipartRequest(m) => m.emit(buf),
            Message::MultipartReply(m) => m.emit(buf),
            Message::QueueGetConfigRequest(m) => m.emit(buf),
            Message::QueueGetConfigReply(m) => m.emit(buf),
            Message::RoleRequest(m) | Message::RoleReply(m) => m.emit(buf),
            Message::GetAsyncReply(m) | Message::SetAsync(m) => m.emit(buf),
            Message::MeterMod(m) => m.emit(buf),
            Message::Unknown { body, .. } => buf.put_slice(body),
        }
        let Ok(len) = u16::try_from(buf.len() - start) else {
            let len = buf.len() - start;
            buf.truncate(start);
            return Err(EncodeError::TooLong { message: self.msg_type().spec_name(), len });
        };
        buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Encodes into a fresh buffer.
    ///
    /// # Panics
    /// If the message is over 65535 bytes, as [`encode`](Self::encode).
    pub fn to_bytes(&self, xid: u32) -> Bytes {
        match self.try_to_bytes(xid) {
            Ok(bytes) => bytes,
            Err(e) => panic!("{e}"),
        }
    }

    /// Encodes into a fresh buffer, or fails if the message would be over 65535 bytes.
    pub fn try_to_bytes(&self, xid: u32) -> Result<Bytes, EncodeError> {
        // 256 bytes holds a typical FLOW_MOD or PACKET_OUT without reallocating.
        let mut buf = BytesMut::with_capacity(256);
        self.try_encode(xid, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// The error for a frame whose header does not fit it: length not the frame's size, or a version
/// other than 1.3 on anything but HELLO. Kept out of line so the success path of
/// [`Message::decode`] stays short (PACKET_IN decode is on the per-packet path).
#[cold]
fn header_error(header: &Header, frame_len: usize) -> DecodeError {
    let message = header.msg_type.spec_name();
    let length = usize::from(header.length);
    let (field, offset, kind) = if length > frame_len {
        ("length", 2, DecodeErrorKind::Truncated)
    } else if length < frame_len {
        ("length", length, DecodeErrorKind::TrailingBytes { count: frame_len - length })
    } else {
        ("version", 0, DecodeErrorKind::UnsupportedVersion { version: header.version })
    };
    DecodeError { message, field, offset, kind }
}

/// Turns a body parser's error (bytes remaining at the failure) into an absolute-offset
/// [`DecodeError`].
#[cold]
fn body_error(header: &Header, err: WireErr) -> DecodeError {
    DecodeError {
        message: header.msg_type.spec_name(),
        field: if err.field.is_empty() { "body" } else { err.field },
        offset: usize::from(header.length).saturating_sub(err.remaining),
        kind: err.kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_over_65535_bytes_is_refused_and_nothing_is_written() {
        let mut buf = BytesMut::from(&b"kept"[..]);
        let at_limit = Message::EchoRequest(Bytes::from(vec![0xaa; 65535 - 8]));
        at_limit.try_encode(1, &mut buf).expect("65535 bytes fit");
        assert_eq!(&buf[4 + 2..4 + 4], &[0xff, 0xff]);
        let over = Message::EchoRequest(Bytes::from(vec![0xaa; 65535 - 7]));
        let before = buf.len();
        assert_eq!(
            over.try_encode(2, &mut buf),
            Err(EncodeError::TooLong { message: "ECHO_REQUEST", len: 65536 })
        );
        assert_eq!(buf.len(), before, "nothing of the refused message is left in the buffer");
        assert!(over.try_to_bytes(3).is_err());
    }

    #[test]
    fn echo_round_trip_zero_copy() {
        let frame = Bytes::from_static(&[4, 2, 0, 12, 0, 0, 0, 7, 0xde, 0xad, 0xbe, 0xef]);
        let (h, msg) = Message::decode(&frame).unwrap();
        assert_eq!(h.xid, 7);
        let Message::EchoRequest(data) = &msg else { panic!("{msg:?}") };
        assert_eq!(data.as_ptr(), frame[8..].as_ptr());
        assert_eq!(msg.to_bytes(7), frame);
    }

    #[test]
    fn unknown_type_round_trips() {
        let frame = Bytes::from_static(&[4, 99, 0, 10, 0, 0, 0, 1, 5, 6]);
        let (_, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg, Message::Unknown { msg_type: 99, body: Bytes::from_static(&[5, 6]) });
        assert_eq!(msg.to_bytes(1), frame);
    }

    #[test]
    fn wrong_version_is_an_error() {
        let frame = Bytes::from_static(&[1, 2, 0, 8, 0, 0, 0, 1]);
        let err = Message::decode(&frame).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnsupportedVersion { version: 1 });
        assert_eq!(err.message, "ECHO_REQUEST");
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let short = Bytes::from_static(&[4, 2, 0, 16, 0, 0, 0, 1]);
        assert!(Message::decode(&short).unwrap_err().is_truncation());
        let long = Bytes::from_static(&[4, 20, 0, 8, 0, 0, 0, 1, 0]);
        assert!(matches!(
            Message::decode(&long).unwrap_err().kind,
            DecodeErrorKind::TrailingBytes { count: 1 }
        ));
    }

    #[test]
    fn barrier_with_body_is_an_error() {
        let frame = Bytes::from_static(&[4, 20, 0, 9, 0, 0, 0, 1, 0]);
        let err = Message::decode(&frame).unwrap_err();
        assert_eq!(err.offset, 8);
    }
}
