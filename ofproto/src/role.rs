//! ROLE_REQUEST / ROLE_REPLY (OF1.3.5 §7.3.9) and GET_ASYNC_REPLY / SET_ASYNC (§7.3.10): a
//! controller's role among several, and which asynchronous messages it receives.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u32, be_u64};
use serde::Serialize;

use crate::codec::{Body, PResult, field, pad, put_zeros};
use crate::types::open_enum;

/// Size of `ofp_role_request` after `ofp_header`: role, pad[4], generation_id.
pub const ROLE_BODY_LEN: usize = 16;
const ROLE_PAD: usize = 4;
const _: () = assert!(4 + ROLE_PAD + 8 == ROLE_BODY_LEN);

/// Size of `ofp_async_config` after `ofp_header`: three pairs of 32-bit masks.
pub const ASYNC_CONFIG_BODY_LEN: usize = 24;

open_enum! {
    /// `ofp_controller_role`.
    pub enum ControllerRole: u32 {
        /// Don't change the current role (a query).
        NoChange = 0,
        /// Default role, full access.
        Equal = 1,
        /// Full access, at most one master.
        Master = 2,
        /// Read-only access.
        Slave = 3,
    }
}

/// OFPT_ROLE_REQUEST and OFPT_ROLE_REPLY (`ofp_role_request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleMessage {
    pub role: ControllerRole,
    /// Master election generation id; the switch rejects a MASTER/SLAVE request whose id is older
    /// than the last one it saw (`OFPRRFC_STALE`), compared as a wrapping 64-bit distance.
    pub generation_id: u64,
}

/// OFPT_GET_ASYNC_REPLY and OFPT_SET_ASYNC (`ofp_async_config`).
///
/// Index 0 of each pair applies when the controller's role is MASTER or EQUAL, index 1 when it is
/// SLAVE. Bit `n` of a mask enables reason `n` (e.g. `1 << OFPR_NO_MATCH` in `packet_in_mask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

impl Body for RoleMessage {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, role) = field("role", be_u32)(input)?;
        let (rest, ()) = pad(rest, ROLE_PAD)?;
        let (rest, generation_id) = field("generation_id", be_u64)(rest)?;
        Ok((rest, RoleMessage { role: ControllerRole::from(role), generation_id }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.role.value());
        put_zeros(buf, ROLE_PAD);
        buf.put_u64(self.generation_id);
    }
}

/// Reads one `uint32_t mask[2]` pair.
fn mask_pair<'a>(input: &'a [u8], name: &'static str) -> PResult<'a, [u32; 2]> {
    let (rest, master_equal) = field(name, be_u32)(input)?;
    let (rest, slave) = field(name, be_u32)(rest)?;
    Ok((rest, [master_equal, slave]))
}

impl Body for AsyncConfig {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, packet_in_mask) = mask_pair(input, "packet_in_mask")?;
        let (rest, port_status_mask) = mask_pair(rest, "port_status_mask")?;
        let (rest, flow_removed_mask) = mask_pair(rest, "flow_removed_mask")?;
        Ok((rest, AsyncConfig { packet_in_mask, port_status_mask, flow_removed_mask }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        for mask in [self.packet_in_mask, self.port_status_mask, self.flow_removed_mask].iter().flatten() {
            buf.put_u32(*mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// Ryu's 4-19-ofp_role_request: MASTER, generation 0xf000f000f000f000.
    static ROLE_REQUEST: [u8; 24] = [
        0x04, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, // header
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // role MASTER, pad
        0xf0, 0x00, 0xf0, 0x00, 0xf0, 0x00, 0xf0, 0x00, // generation_id
    ];

    /// Ryu's 4-44-ofp_set_async: packet-in [5, 1], port-status [7, 3], flow-removed [15, 3].
    static SET_ASYNC: [u8; 32] = [
        0x04, 0x1c, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, // header
        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, // packet_in_mask
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, // port_status_mask
        0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x03, // flow_removed_mask
    ];

    fn async_config() -> AsyncConfig {
        AsyncConfig { packet_in_mask: [5, 1], port_status_mask: [7, 3], flow_removed_mask: [15, 3] }
    }

    /// `bytes` cut to `len`, with the header length patched so the body parser sees the cut.
    fn cut(bytes: &[u8], len: usize) -> Bytes {
        let mut v = bytes[..len].to_vec();
        v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        Bytes::from(v)
    }

    #[test]
    fn test_parse() {
        let (_, msg) = Message::decode(&Bytes::from_static(&ROLE_REQUEST)).unwrap();
        let role = RoleMessage { role: ControllerRole::Master, generation_id: 0xf000_f000_f000_f000 };
        assert_eq!(msg, Message::RoleRequest(role));
        let (_, msg) = Message::decode(&Bytes::from_static(&SET_ASYNC)).unwrap();
        assert_eq!(msg, Message::SetAsync(async_config()));
    }

    #[test]
    fn test_emit() {
        let role = RoleMessage { role: ControllerRole::Master, generation_id: 0xf000_f000_f000_f000 };
        assert_eq!(&Message::RoleRequest(role.clone()).to_bytes(0)[..], &ROLE_REQUEST);
        let reply = Message::RoleReply(role).to_bytes(0);
        assert_eq!((reply[1], &reply[8..]), (25, &ROLE_REQUEST[8..]));
        assert_eq!(&Message::SetAsync(async_config()).to_bytes(0)[..], &SET_ASYNC);
        let get_reply = Message::GetAsyncReply(async_config()).to_bytes(0);
        assert_eq!((get_reply[1], &get_reply[8..]), (27, &SET_ASYNC[8..]));
    }

    #[test]
    fn unknown_role_round_trips() {
        let mut bytes = ROLE_REQUEST;
        bytes[11] = 9;
        let (_, msg) = Message::decode(&Bytes::copy_from_slice(&bytes)).unwrap();
        let Message::RoleRequest(role) = &msg else { panic!("{msg:?}") };
        assert_eq!(role.role, ControllerRole::Unknown(9));
        assert_eq!(&msg.to_bytes(0)[..], &bytes);
    }

    #[test]
    fn wrong_lengths() {
        for len in 8..ROLE_REQUEST.len() {
            let err = Message::decode(&cut(&ROLE_REQUEST, len)).unwrap_err();
            assert_eq!(err.kind, DecodeErrorKind::Truncated, "cut at {len}");
        }
        let err = Message::decode(&cut(&SET_ASYNC, 28)).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("flow_removed_mask", 28, DecodeErrorKind::Truncated));
        let err = Message::decode(&cut(&ROLE_REQUEST, 20)).unwrap_err();
        assert_eq!((err.field, err.offset), ("generation_id", 16));
    }
}
