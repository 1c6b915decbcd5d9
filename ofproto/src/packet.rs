//! PACKET_IN (OF1.3.5 §7.4.1) and PACKET_OUT (§7.3.7): packets travelling between the datapath and
//! the controller.
//!
//! Both carry the Ethernet frame as [`Bytes`] sharing the received message's memory: decoding a
//! PACKET_IN copies nothing and allocates only the match's field list.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use crate::action::Action;
use crate::codec::{
    Body, LenPatch, PResult, WireErr, fail, field, pad, put_zeros, share, take_exact, within,
};
use crate::error::DecodeErrorKind;
use crate::oxm::{Match, Oxm};
use crate::types::{NO_BUFFER, PortNo, open_enum};

/// Size of the fixed part of `ofp_packet_in` after `ofp_header` and before the match: buffer_id,
/// total_len, reason, table_id, cookie.
pub const PACKET_IN_FIXED_LEN: usize = 16;
const _: () = assert!(4 + 2 + 1 + 1 + 8 == PACKET_IN_FIXED_LEN);
/// Padding between the match and the frame (`uint8_t pad[2]`), which aligns the frame's IP header.
const PACKET_IN_PAD: usize = 2;

/// Size of the fixed part of `ofp_packet_out` after `ofp_header`: buffer_id, in_port, actions_len,
/// pad[6].
pub const PACKET_OUT_FIXED_LEN: usize = 16;
const PACKET_OUT_PAD: usize = 6;
const _: () = assert!(4 + 4 + 2 + PACKET_OUT_PAD == PACKET_OUT_FIXED_LEN);

open_enum! {
    /// `ofp_packet_in_reason`.
    pub enum PacketInReason: u8 {
        /// No matching flow (table-miss flow entry).
        NoMatch = 0,
        /// Action explicitly output to controller.
        Action = 1,
        /// Packet has invalid TTL.
        InvalidTtl = 2,
    }
}

/// OFPT_PACKET_IN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketIn {
    /// Id of the buffered packet on the datapath, or `NO_BUFFER`.
    pub buffer_id: u32,
    /// Full length of the frame; `data` may be shorter when the switch truncated it.
    pub total_len: u16,
    pub reason: PacketInReason,
    /// The table that was looked up.
    pub table_id: u8,
    /// Cookie of the flow entry that was looked up.
    pub cookie: u64,
    /// Packet metadata: at least `in_port`, plus whatever pipeline fields the switch reports.
    pub r#match: Match,
    /// The Ethernet frame (or its first bytes); shares the received message's memory.
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub data: Bytes,
}

impl PacketIn {
    /// The ingress port, from the `OXM_OF_IN_PORT` field of the match (OF1.3.5 §7.4.1 requires it).
    pub fn in_port(&self) -> Option<PortNo> {
        self.r#match.fields.iter().find_map(|f| match f {
            Oxm::InPort(port) => Some(*port),
            _ => None,
        })
    }

    /// Whether the switch kept the packet in a buffer (so a PACKET_OUT or FLOW_MOD may refer to it).
    pub fn is_buffered(&self) -> bool {
        self.buffer_id != NO_BUFFER
    }

    /// Whether `data` holds less than the whole frame.
    pub fn is_truncated(&self) -> bool {
        self.data.len() < usize::from(self.total_len)
    }
}

impl Body for PacketIn {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        // PACKET_IN is the hot message: read the fixed part as one array. Only when it is cut short
        // does the field-by-field reader run, to name the missing field in the error.
        let Some((fixed, rest)) = input.split_first_chunk::<PACKET_IN_FIXED_LEN>() else {
            return Err(packet_in_fixed_part_error(input));
        };
        // buffer_id (4), total_len (2), reason, table_id, cookie (8): OF1.3.5 §7.4.1 `ofp_packet_in`.
        let [b0, b1, b2, b3, l0, l1, reason, table_id, c0, c1, c2, c3, c4, c5, c6, c7] = *fixed;
        let buffer_id = u32::from_be_bytes([b0, b1, b2, b3]);
        let total_len = u16::from_be_bytes([l0, l1]);
        let cookie = u64::from_be_bytes([c0, c1, c2, c3, c4, c5, c6, c7]);
        let (rest, r#match) = Match::parse(rest)?;
        let (rest, ()) = pad(rest, PACKET_IN_PAD)?;
        let (rest, data) = take_exact(rest, rest.len(), "data")?;
        let reason = PacketInReason::from(reason);
        Ok((
            rest,
            PacketIn { buffer_id, total_len, reason, table_id, cookie, r#match, data: share(src, data) },
        ))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.buffer_id);
        buf.put_u16(self.total_len);
        buf.put_u8(self.reason.value());
        buf.put_u8(self.table_id);
        buf.put_u64(self.cookie);
        self.r#match.emit(buf);
        put_zeros(buf, PACKET_IN_PAD);
        buf.put_slice(&self.data);
    }
}

/// The error for a PACKET_IN body shorter than its fixed part, naming the first field that is cut.
#[cold]
fn packet_in_fixed_part_error(input: &[u8]) -> nom::Err<WireErr> {
    fn read_fields(i: &[u8]) -> PResult<'_, ()> {
        let (i, _) = field("buffer_id", be_u32)(i)?;
        let (i, _) = field("total_len", be_u16)(i)?;
        let (i, _) = field("reason", be_u8)(i)?;
        let (i, _) = field("table_id", be_u8)(i)?;
        let (i, _) = field("cookie", be_u64)(i)?;
        Ok((i, ()))
    }
    match read_fields(input) {
        Err(err) => err,
        // Unreachable when called with fewer than PACKET_IN_FIXED_LEN bytes; still an error, not a panic.
        Ok(_) => fail(input, "buffer_id", DecodeErrorKind::Truncated),
    }
}

/// OFPT_PACKET_OUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketOut {
    /// A packet buffered on the datapath, or `NO_BUFFER` to send `data`.
    pub buffer_id: u32,
    /// The port the packet is treated as arriving on (`CONTROLLER` if none): matters for
    /// `OUTPUT:IN_PORT` and for `OUTPUT:TABLE` lookups.
    pub in_port: PortNo,
    pub actions: Vec<Action>,
    /// The frame to send when `buffer_id` is `NO_BUFFER`; shares the received message's memory.
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub data: Bytes,
}

impl PacketOut {
    /// Sends `data` (a whole Ethernet frame) through `actions`, with no switch buffer involved.
    pub fn new(in_port: PortNo, actions: Vec<Action>, data: Bytes) -> PacketOut {
        PacketOut { buffer_id: NO_BUFFER, in_port, actions, data }
    }

    /// Releases the packet the switch buffered as `buffer_id` (from a PACKET_IN) through `actions`.
    pub fn from_buffer(buffer_id: u32, in_port: PortNo, actions: Vec<Action>) -> PacketOut {
        PacketOut { buffer_id, in_port, actions, data: Bytes::new() }
    }
}

impl Body for PacketOut {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        let (rest, buffer_id) = field("buffer_id", be_u32)(input)?;
        let (rest, in_port) = field("in_port", be_u32)(rest)?;
        let (rest, actions_len) = field("actions_len", be_u16)(rest)?;
        let (rest, ()) = pad(rest, PACKET_OUT_PAD)?;
        let (rest, actions) = within(rest, usize::from(actions_len), "actions_len", Action::parse_list)?;
        let (rest, data) = take_exact(rest, rest.len(), "data")?;
        Ok((rest, PacketOut { buffer_id, in_port: PortNo(in_port), actions, data: share(src, data) }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.buffer_id);
        buf.put_u32(self.in_port.0);
        // actions_len counts the action list, which starts after this field and the padding.
        let actions_start = buf.len() + 2 + PACKET_OUT_PAD;
        let actions_len = LenPatch::u16(buf, actions_start);
        put_zeros(buf, PACKET_OUT_PAD);
        Action::emit_list(&self.actions, buf);
        actions_len.finish(buf);
        buf.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests;
