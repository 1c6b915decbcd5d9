//! FEATURES_REPLY (OF1.3.5 §7.3.1) and GET_CONFIG_REPLY / SET_CONFIG (§7.3.2): who the switch is and
//! how it handles IP fragments and table-miss packet-ins.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use crate::codec::{Body, PResult, field, pad, put_zeros};

/// Size of `ofp_switch_features` after `ofp_header`.
pub const SWITCH_FEATURES_BODY_LEN: usize = 24;
const SWITCH_FEATURES_PAD: usize = 2;
const _: () = assert!(8 + 4 + 1 + 1 + SWITCH_FEATURES_PAD + 4 + 4 == SWITCH_FEATURES_BODY_LEN);

/// Size of `ofp_switch_config` after `ofp_header`.
pub const SWITCH_CONFIG_BODY_LEN: usize = 4;

/// `OFPCML_MAX`: the largest `miss_send_len` / `max_len` that asks for a buffered, truncated packet
/// (same value as [`crate::action::controller_max_len::MAX`]).
pub const OFPCML_MAX: u16 = crate::action::controller_max_len::MAX;
/// `OFPCML_NO_BUFFER`: send the whole packet to the controller, do not buffer it (as `miss_send_len`
/// or as `max_len` of an output-to-controller action).
pub const OFPCML_NO_BUFFER: u16 = crate::action::controller_max_len::NO_BUFFER;
const _: () = assert!(OFPCML_MAX == 0xffe5 && OFPCML_NO_BUFFER == 0xffff);

/// `ofp_capabilities` bits of [`SwitchFeatures::capabilities`].
pub mod capabilities {
    /// Flow statistics.
    pub const FLOW_STATS: u32 = 1 << 0;
    /// Table statistics.
    pub const TABLE_STATS: u32 = 1 << 1;
    /// Port statistics.
    pub const PORT_STATS: u32 = 1 << 2;
    /// Group statistics.
    pub const GROUP_STATS: u32 = 1 << 3;
    /// Can reassemble IP fragments.
    pub const IP_REASM: u32 = 1 << 5;
    /// Queue statistics.
    pub const QUEUE_STATS: u32 = 1 << 6;
    /// Switch will block looping ports.
    pub const PORT_BLOCKED: u32 = 1 << 8;
}

/// `ofp_config_flags` of [`SwitchConfig::flags`]: handling of IP fragments (a 2-bit value, not
/// independent bits).
pub mod config_flags {
    /// No special handling for fragments.
    pub const FRAG_NORMAL: u16 = 0;
    /// Drop fragments.
    pub const FRAG_DROP: u16 = 1 << 0;
    /// Reassemble (only if `capabilities::IP_REASM` is set).
    pub const FRAG_REASM: u16 = 1 << 1;
    /// The bits that hold the fragment mode.
    pub const FRAG_MASK: u16 = 3;
}

/// OFPT_FEATURES_REPLY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchFeatures {
    /// Datapath unique id: the low 48 bits are a MAC address, the top 16 are implementer-defined.
    pub datapath_id: u64,
    /// Max packets buffered at once.
    pub n_buffers: u32,
    /// Number of tables supported by the datapath.
    pub n_tables: u8,
    /// 0 for the main connection, otherwise the auxiliary connection's id (OF1.3.5 §6.3.6).
    pub auxiliary_id: u8,
    /// [`capabilities`] bits.
    pub capabilities: u32,
    /// Reserved; kept so it round-trips.
    pub reserved: u32,
}

impl SwitchFeatures {
    /// The datapath id as OVS and Ryu print it: 16 lowercase hex digits.
    pub fn dpid_string(&self) -> String {
        format!("{:016x}", self.datapath_id)
    }
}

impl Body for SwitchFeatures {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, datapath_id) = field("datapath_id", be_u64)(input)?;
        let (rest, n_buffers) = field("n_buffers", be_u32)(rest)?;
        let (rest, n_tables) = field("n_tables", be_u8)(rest)?;
        let (rest, auxiliary_id) = field("auxiliary_id", be_u8)(rest)?;
        let (rest, ()) = pad(rest, SWITCH_FEATURES_PAD)?;
        let (rest, capabilities) = field("capabilities", be_u32)(rest)?;
        let (rest, reserved) = field("reserved", be_u32)(rest)?;
        Ok((rest, SwitchFeatures { datapath_id, n_buffers, n_tables, auxiliary_id, capabilities, reserved }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u64(self.datapath_id);
        buf.put_u32(self.n_buffers);
        buf.put_u8(self.n_tables);
        buf.put_u8(self.auxiliary_id);
        put_zeros(buf, SWITCH_FEATURES_PAD);
        buf.put_u32(self.capabilities);
        buf.put_u32(self.reserved);
    }
}

/// OFPT_GET_CONFIG_REPLY and OFPT_SET_CONFIG (`ofp_switch_config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchConfig {
    /// [`config_flags`] value.
    pub flags: u16,
    /// Bytes of a table-miss packet to send to the controller; [`OFPCML_NO_BUFFER`] sends it whole.
    pub miss_send_len: u16,
}

impl Body for SwitchConfig {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, flags) = field("flags", be_u16)(input)?;
        let (rest, miss_send_len) = field("miss_send_len", be_u16)(rest)?;
        Ok((rest, SwitchConfig { flags, miss_send_len }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u16(self.flags);
        buf.put_u16(self.miss_send_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// Ryu's 4-6-ofp_features_reply: dpid 0x0000_0860_6e7f_74e7, 0 buffers, 255 tables, auxiliary 99,
    /// capabilities 0x4f.
    static FEATURES_REPLY: [u8; 32] = [
        0x04, 0x06, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, // header
        0x00, 0x00, 0x08, 0x60, 0x6e, 0x7f, 0x74, 0xe7, // datapath_id
        0x00, 0x00, 0x00, 0x00, 0xff, 0x63, 0x00, 0x00, // n_buffers, n_tables, auxiliary_id, pad
        0x00, 0x00, 0x00, 0x4f, 0x00, 0x00, 0x00, 0x00, // capabilities, reserved
    ];

    /// SET_CONFIG: reassemble fragments, send whole packets on table miss.
    static SET_CONFIG: [u8; 12] = [0x04, 0x09, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0xff, 0xff];

    fn features() -> SwitchFeatures {
        SwitchFeatures {
            datapath_id: 0x0860_6e7f_74e7,
            n_buffers: 0,
            n_tables: 255,
            auxiliary_id: 99,
            capabilities: capabilities::FLOW_STATS
                | capabilities::TABLE_STATS
                | capabilities::PORT_STATS
                | capabilities::GROUP_STATS
                | capabilities::QUEUE_STATS,
            reserved: 0,
        }
    }

    /// `bytes` cut to `len`, with the header length patched so the body parser sees the cut.
    fn cut(bytes: &[u8], len: usize) -> Bytes {
        let mut v = bytes[..len].to_vec();
        v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        Bytes::from(v)
    }

    #[test]
    fn test_parse() {
        let (_, msg) = Message::decode(&Bytes::from_static(&FEATURES_REPLY)).unwrap();
        assert_eq!(msg, Message::FeaturesReply(features()));
        let (_, msg) = Message::decode(&Bytes::from_static(&SET_CONFIG)).unwrap();
        let expected = SwitchConfig { flags: config_flags::FRAG_REASM, miss_send_len: OFPCML_NO_BUFFER };
        assert_eq!(msg, Message::SetConfig(expected.clone()));
        // GET_CONFIG_REPLY has the same body.
        let mut reply = SET_CONFIG;
        reply[1] = 8;
        assert_eq!(
            Message::decode(&Bytes::copy_from_slice(&reply)).unwrap().1,
            Message::GetConfigReply(expected)
        );
    }

    #[test]
    fn test_emit() {
        assert_eq!(&Message::FeaturesReply(features()).to_bytes(0)[..], &FEATURES_REPLY);
        let config = SwitchConfig { flags: config_flags::FRAG_REASM, miss_send_len: OFPCML_NO_BUFFER };
        assert_eq!(&Message::SetConfig(config).to_bytes(3)[..], &SET_CONFIG);
        assert_eq!(features().dpid_string(), "000008606e7f74e7");
    }

    #[test]
    fn wrong_lengths() {
        for len in 8..FEATURES_REPLY.len() {
            let err = Message::decode(&cut(&FEATURES_REPLY, len)).unwrap_err();
            assert_eq!(
                (err.message, err.kind),
                ("FEATURES_REPLY", DecodeErrorKind::Truncated),
                "cut at {len}"
            );
        }
        let err = Message::decode(&cut(&SET_CONFIG, 11)).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("miss_send_len", 10, DecodeErrorKind::Truncated));
        let mut long = SET_CONFIG.to_vec();
        long.extend_from_slice(&[0, 0]);
        long[3] = 14;
        let err = Message::decode(&Bytes::from(long)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 2 });
    }
}
