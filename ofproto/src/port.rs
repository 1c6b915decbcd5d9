//! Ports: the `ofp_port` description (OF1.3.5 §7.2.1), the PORT_STATUS event (§7.4.3) and the
//! PORT_MOD request (§7.3.4.3), with the port config, state and feature bit names.
//!
//! `Port` is also the element type of the PORT_DESC multipart reply (§7.3.5.7), which is why its
//! codec is `pub(crate)`.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u32};
use serde::Serialize;

use crate::codec::{Body, PResult, field, pad, put_zeros, take_exact};
use crate::types::{FixedStr, MacAddr, PortNo, open_enum};

/// `OFP_MAX_PORT_NAME_LEN` (OF1.3.5 §7.2.1).
pub const MAX_PORT_NAME_LEN: usize = 16;

/// `ofp_port_config` bits (OF1.3.5 §7.2.1): administrative settings the controller may change.
pub mod port_config {
    /// Port is administratively down.
    pub const PORT_DOWN: u32 = 1 << 0;
    /// Drop all packets received by the port.
    pub const NO_RECV: u32 = 1 << 2;
    /// Drop packets forwarded to the port.
    pub const NO_FWD: u32 = 1 << 5;
    /// Do not send packet-in messages for the port.
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `ofp_port_state` bits (OF1.3.5 §7.2.1): physical state, read-only for the controller.
pub mod port_state {
    /// No physical link present.
    pub const LINK_DOWN: u32 = 1 << 0;
    /// Port is blocked (e.g. by spanning tree).
    pub const BLOCKED: u32 = 1 << 1;
    /// Live for fast-failover groups.
    pub const LIVE: u32 = 1 << 2;
}

/// `ofp_port_features` bits (OF1.3.5 §7.2.1): link modes in `curr`, `advertised`, `supported`, `peer`.
pub mod port_features {
    pub const _10MB_HD: u32 = 1 << 0;
    pub const _10MB_FD: u32 = 1 << 1;
    pub const _100MB_HD: u32 = 1 << 2;
    pub const _100MB_FD: u32 = 1 << 3;
    pub const _1GB_HD: u32 = 1 << 4;
    pub const _1GB_FD: u32 = 1 << 5;
    pub const _10GB_FD: u32 = 1 << 6;
    pub const _40GB_FD: u32 = 1 << 7;
    pub const _100GB_FD: u32 = 1 << 8;
    pub const _1TB_FD: u32 = 1 << 9;
    /// Other rate, not in the list.
    pub const OTHER: u32 = 1 << 10;
    pub const COPPER: u32 = 1 << 11;
    pub const FIBER: u32 = 1 << 12;
    pub const AUTONEG: u32 = 1 << 13;
    pub const PAUSE: u32 = 1 << 14;
    pub const PAUSE_ASYM: u32 = 1 << 15;
}

/// `ofp_port`: 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub port_no: PortNo,
    pub hw_addr: MacAddr,
    pub name: FixedStr<16>,
    /// `ofp_port_config` bits.
    pub config: u32,
    /// `ofp_port_state` bits.
    pub state: u32,
    /// `ofp_port_features` bits.
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// Current and maximum bitrate in kbps.
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl Port {
    /// `sizeof(struct ofp_port)` (OF1.3.5 §7.2.1).
    pub const SIZE: usize = 64;

    /// True when the port can carry traffic: not administratively down (`PORT_DOWN` config) and with
    /// a physical link (no `LINK_DOWN` state).
    pub fn is_up(&self) -> bool {
        self.config & port_config::PORT_DOWN == 0 && self.state & port_state::LINK_DOWN == 0
    }

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Port> {
        let (i, port_no) = field("port.port_no", be_u32)(input)?;
        let (i, ()) = pad(i, 4)?;
        let (i, hw_addr) = mac_addr(i, "port.hw_addr")?;
        let (i, ()) = pad(i, 2)?;
        let (i, name) = fixed_str::<MAX_PORT_NAME_LEN>(i, "port.name")?;
        let (i, config) = field("port.config", be_u32)(i)?;
        let (i, state) = field("port.state", be_u32)(i)?;
        let (i, curr) = field("port.curr", be_u32)(i)?;
        let (i, advertised) = field("port.advertised", be_u32)(i)?;
        let (i, supported) = field("port.supported", be_u32)(i)?;
        let (i, peer) = field("port.peer", be_u32)(i)?;
        let (i, curr_speed) = field("port.curr_speed", be_u32)(i)?;
        let (i, max_speed) = field("port.max_speed", be_u32)(i)?;
        let port = Port {
            port_no: PortNo(port_no),
            hw_addr,
            name,
            config,
            state,
            curr,
            advertised,
            supported,
            peer,
            curr_speed,
            max_speed,
        };
        Ok((i, port))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port_no.0);
        put_zeros(buf, 4);
        buf.put_slice(&self.hw_addr.0);
        put_zeros(buf, 2);
        buf.put_slice(&self.name.0);
        buf.put_u32(self.config);
        buf.put_u32(self.state);
        buf.put_u32(self.curr);
        buf.put_u32(self.advertised);
        buf.put_u32(self.supported);
        buf.put_u32(self.peer);
        buf.put_u32(self.curr_speed);
        buf.put_u32(self.max_speed);
    }
}

/// Reads a 6-byte MAC address.
fn mac_addr<'a>(input: &'a [u8], name: &'static str) -> PResult<'a, MacAddr> {
    let (i, raw) = take_exact(input, 6, name)?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(raw);
    Ok((i, MacAddr(mac)))
}

/// Reads an `N`-byte NUL-padded text field, keeping the raw bytes.
fn fixed_str<'a, const N: usize>(input: &'a [u8], name: &'static str) -> PResult<'a, FixedStr<N>> {
    let (i, raw) = take_exact(input, N, name)?;
    let mut text = [0u8; N];
    text.copy_from_slice(raw);
    Ok((i, FixedStr(text)))
}

open_enum! {
    /// `ofp_port_reason` (OF1.3.5 §7.4.3): why a PORT_STATUS was sent.
    pub enum PortReason: u8 {
        Add = 0,
        Delete = 1,
        Modify = 2,
    }
}

/// PORT_STATUS (OF1.3.5 §7.4.3): the switch reports a port added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    pub reason: PortReason,
    pub desc: Port,
}

impl PortStatus {
    /// Body size: reason, 7 bytes of padding, `ofp_port`.
    pub const BODY_SIZE: usize = 8 + Port::SIZE;
}

// `sizeof(struct ofp_port_status)` is 80 including the 8-byte header (OF1.3.5 §7.4.3).
const _: () = assert!(PortStatus::BODY_SIZE + 8 == 80);

impl Body for PortStatus {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, reason) = field("reason", be_u8)(input)?;
        let (i, ()) = pad(i, 7)?;
        let (i, desc) = Port::parse(i)?;
        Ok((i, PortStatus { reason: PortReason::from(reason), desc }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u8(self.reason.value());
        put_zeros(buf, 7);
        self.desc.emit(buf);
    }
}

/// PORT_MOD (OF1.3.5 §7.3.4.3): change the administrative config of a port.
///
/// Only the `config` bits selected by `mask` change. `hw_addr` must match the port's address (the
/// switch uses it as a sanity check); `advertise` is the set of `port_features` to advertise, or 0 to
/// leave advertisement unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMod {
    pub port_no: PortNo,
    pub hw_addr: MacAddr,
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

impl PortMod {
    /// Body size: `sizeof(struct ofp_port_mod)` (40) minus the header.
    pub const BODY_SIZE: usize = 32;

    /// A PORT_MOD that sets the config bits in `mask` to their values in `config` on `port`, leaving
    /// the other bits and the advertised features unchanged.
    pub fn set_config(port: &Port, config: u32, mask: u32) -> PortMod {
        PortMod { port_no: port.port_no, hw_addr: port.hw_addr, config: config & mask, mask, advertise: 0 }
    }
}

impl Body for PortMod {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, port_no) = field("port_no", be_u32)(input)?;
        let (i, ()) = pad(i, 4)?;
        let (i, hw_addr) = mac_addr(i, "hw_addr")?;
        let (i, ()) = pad(i, 2)?;
        let (i, config) = field("config", be_u32)(i)?;
        let (i, mask) = field("mask", be_u32)(i)?;
        let (i, advertise) = field("advertise", be_u32)(i)?;
        let (i, ()) = pad(i, 4)?;
        Ok((i, PortMod { port_no: PortNo(port_no), hw_addr, config, mask, advertise }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port_no.0);
        put_zeros(buf, 4);
        buf.put_slice(&self.hw_addr.0);
        put_zeros(buf, 2);
        buf.put_u32(self.config);
        buf.put_u32(self.mask);
        buf.put_u32(self.advertise);
        put_zeros(buf, 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// PORT_STATUS (reason ADD) for port 1 "eth0", ff:ff:ff:ff:ff:ff, 10G copper, 50/100 Mbps.
    static PORT_STATUS: [u8; 80] = [
        0x04, 0x0c, 0x00, 0x50, 0x00, 0x00, 0x00, 0x09, // header, xid 9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reason ADD, pad
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // port_no 1, pad
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, // hw_addr, pad
        b'e', b't', b'h', b'0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // name
        0x00, 0x00, 0x00, 0x01, // config PORT_DOWN
        0x00, 0x00, 0x00, 0x04, // state LIVE
        0x00, 0x00, 0x28, 0x40, // curr 10GB_FD | COPPER | AUTONEG
        0x00, 0x00, 0x28, 0x40, // advertised
        0x00, 0x00, 0x28, 0x40, // supported
        0x00, 0x00, 0x00, 0x00, // peer
        0x00, 0x00, 0xc3, 0x50, // curr_speed 50000
        0x00, 0x01, 0x86, 0xa0, // max_speed 100000
    ];

    fn eth0() -> Port {
        let features = port_features::_10GB_FD | port_features::COPPER | port_features::AUTONEG;
        Port {
            port_no: PortNo(1),
            hw_addr: MacAddr::BROADCAST,
            name: FixedStr::new("eth0"),
            config: port_config::PORT_DOWN,
            state: port_state::LIVE,
            curr: features,
            advertised: features,
            supported: features,
            peer: 0,
            curr_speed: 50_000,
            max_speed: 100_000,
        }
    }

    /// PORT_MOD: port 3, 02:00:00:00:00:03, set NO_FWD (mask NO_FWD|PORT_DOWN), advertise 1GB_FD.
    static PORT_MOD: [u8; 40] = [
        0x04, 0x10, 0x00, 0x28, 0x00, 0x00, 0x00, 0x02, // header, xid 2
        0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, // port_no, pad
        0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, // hw_addr, pad
        0x00, 0x00, 0x00, 0x20, // config
        0x00, 0x00, 0x00, 0x21, // mask
        0x00, 0x00, 0x00, 0x20, // advertise
        0x00, 0x00, 0x00, 0x00, // pad
    ];

    fn port_mod() -> PortMod {
        PortMod {
            port_no: PortNo(3),
            hw_addr: MacAddr([2, 0, 0, 0, 0, 3]),
            config: port_config::NO_FWD,
            mask: port_config::NO_FWD | port_config::PORT_DOWN,
            advertise: port_features::_1GB_FD,
        }
    }

    #[test]
    fn test_parse_port_status() {
        let (header, msg) = Message::decode(&Bytes::from_static(&PORT_STATUS)).unwrap();
        assert_eq!(header.xid, 9);
        assert_eq!(msg, Message::PortStatus(PortStatus { reason: PortReason::Add, desc: eth0() }));
    }

    #[test]
    fn test_emit_port_status() {
        let msg = Message::PortStatus(PortStatus { reason: PortReason::Add, desc: eth0() });
        assert_eq!(&msg.to_bytes(9)[..], &PORT_STATUS[..]);
    }

    #[test]
    fn test_parse_port_mod() {
        let (_, msg) = Message::decode(&Bytes::from_static(&PORT_MOD)).unwrap();
        assert_eq!(msg, Message::PortMod(port_mod()));
    }

    #[test]
    fn test_emit_port_mod() {
        assert_eq!(&Message::PortMod(port_mod()).to_bytes(2)[..], &PORT_MOD[..]);
    }

    /// Decodes a Ryu corpus message and checks that it re-encodes byte for byte.
    fn ryu(raw: &'static [u8]) -> Message {
        let frame = Bytes::from_static(raw);
        let (header, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg.to_bytes(header.xid), frame);
        msg
    }

    #[test]
    fn ryu_port_status() {
        // Values from Ryu's 4-39-ofp_port_status.packet.json; the name is UTF-8 ("my port" in Japanese).
        let raw = include_bytes!("../tests/data/ryu-of13/packet/4-39-ofp_port_status.packet");
        let Message::PortStatus(status) = ryu(raw) else { panic!("not a PORT_STATUS") };
        assert_eq!(status.reason, PortReason::Add);
        let port = &status.desc;
        assert_eq!((port.port_no, port.hw_addr.to_string()), (PortNo(7), "f2:0b:a4:d0:3f:70".to_string()));
        assert_eq!(port.name.as_str(), "\u{79c1}\u{306e}\u{30dd}\u{30fc}\u{30c8}");
        assert_eq!((port.config, port.state), (0, 4));
        assert_eq!((port.curr, port.advertised, port.supported, port.peer), (10248, 10240, 10248, 10248));
        assert_eq!((port.curr_speed, port.max_speed), (5000, 5000));

        let raw = include_bytes!("../tests/data/ryu-of13/packet/libofproto-OFP13-port_status.packet");
        let Message::PortStatus(status) = ryu(raw) else { panic!("not a PORT_STATUS") };
        assert_eq!(status.reason, PortReason::Modify);
        assert_eq!((status.desc.port_no, status.desc.name.as_str().as_ref()), (PortNo(1), "eth0"));
        assert_eq!((status.desc.curr_speed, status.desc.max_speed), (50_000, 100_000));
        assert!(status.desc.is_up());
    }

    #[test]
    fn ryu_port_mod() {
        let raw = include_bytes!("../tests/data/ryu-of13/packet/4-22-ofp_port_mod.packet");
        let expected = PortMod {
            port_no: PortNo(1),
            hw_addr: "00:11:00:00:11:11".parse().unwrap(),
            config: 0,
            mask: 0,
            advertise: 4096,
        };
        assert_eq!(ryu(raw), Message::PortMod(expected));
        let raw = include_bytes!("../tests/data/ryu-of13/packet/libofproto-OFP13-port_mod.packet");
        let expected = PortMod {
            port_no: PortNo(1),
            hw_addr: "aa:bb:cc:99:88:77".parse().unwrap(),
            config: 1,
            mask: 1,
            advertise: 10248,
        };
        assert_eq!(ryu(raw), Message::PortMod(expected));
    }

    #[test]
    fn port_emit_is_exactly_size() {
        let mut buf = BytesMut::new();
        eth0().emit(&mut buf);
        assert_eq!(buf.len(), Port::SIZE);
        let (rest, port) = Port::parse(&buf).unwrap();
        assert!(rest.is_empty());
        assert_eq!(port, eth0());
    }

    #[test]
    fn unknown_reason_round_trips() {
        let mut frame = PORT_STATUS;
        frame[8] = 7;
        let (_, msg) = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap();
        let Message::PortStatus(status) = &msg else { panic!("{msg:?}") };
        assert_eq!(status.reason, PortReason::Unknown(7));
        assert_eq!(&msg.to_bytes(9)[..], &frame[..]);
    }

    #[test]
    fn name_with_bytes_after_nul_round_trips() {
        let mut frame = PORT_STATUS;
        frame[32 + 10] = b'x'; // garbage after "eth0\0" in the name field (offset 32)
        let (_, msg) = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap();
        let Message::PortStatus(status) = &msg else { panic!("{msg:?}") };
        assert_eq!(status.desc.name.as_str(), "eth0");
        assert_eq!(&msg.to_bytes(9)[..], &frame[..]);
    }

    #[test]
    fn is_up_needs_admin_up_and_link() {
        let mut port = eth0();
        assert!(!port.is_up(), "PORT_DOWN config");
        port.config = 0;
        assert!(port.is_up());
        port.state |= port_state::LINK_DOWN;
        assert!(!port.is_up(), "LINK_DOWN state");
        port.state = port_state::BLOCKED;
        port.config = port_config::NO_FWD;
        assert!(port.is_up(), "blocked / no-fwd ports still have a link and are admin up");
    }

    #[test]
    fn set_config_keeps_other_bits() {
        let pm = PortMod::set_config(&eth0(), 0, port_config::PORT_DOWN);
        assert_eq!(pm.port_no, PortNo(1));
        assert_eq!(pm.hw_addr, MacAddr::BROADCAST);
        assert_eq!((pm.config, pm.mask, pm.advertise), (0, port_config::PORT_DOWN, 0));
        let pm = PortMod::set_config(&eth0(), u32::MAX, port_config::NO_PACKET_IN);
        assert_eq!(pm.config, port_config::NO_PACKET_IN, "bits outside the mask are not sent");
    }

    #[test]
    fn truncated_port_status_names_the_field() {
        // Declared and actual length agree, but the body stops inside ofp_port.config.
        let mut frame = PORT_STATUS[..50].to_vec();
        frame[3] = 50;
        let err = Message::decode(&Bytes::from(frame)).unwrap_err();
        assert_eq!(err.message, "PORT_STATUS");
        assert_eq!(err.field, "port.config");
        assert_eq!(err.offset, 48);
        assert!(err.is_truncation());
    }

    #[test]
    fn port_mod_with_trailing_bytes_is_rejected() {
        let mut frame = PORT_MOD.to_vec();
        frame.extend_from_slice(&[0; 8]);
        frame[3] = 48;
        let err = Message::decode(&Bytes::from(frame)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 8 });
        assert_eq!(err.offset, 40);
    }

    #[test]
    fn truncated_port_mod_is_an_error() {
        for len in 8..PORT_MOD.len() {
            let mut frame = PORT_MOD[..len].to_vec();
            frame[3] = len as u8;
            let err = Message::decode(&Bytes::from(frame)).unwrap_err();
            assert!(err.is_truncation(), "len {len}: {err}");
        }
    }
}
