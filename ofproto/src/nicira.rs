//! Nicira extensions (Open vSwitch) that OpenFlow 1.3 carries as experimenter actions and NXM-class
//! OXMs: the connection-tracking action `NXAST_CT` with its nested `NXAST_NAT`, the match fields
//! `ct_state` and `ct_zone`, and a connection's original tuple in a PACKET_IN ([`CtTuple`]). Open
//! vSwitch's userspace datapath runs them without a kernel module.
//!
//! The actions travel inside [`Action::Experimenter`] (vendor [`NX_VENDOR_ID`]), so every message
//! that carries them still decodes and re-encodes byte-exactly without this module; [`Conntrack`] is
//! the typed view that builds and reads them. Layouts follow Open vSwitch's `nx-match.h` /
//! `ofp-actions.c` (`struct nx_action_conntrack`, `struct nx_action_nat`); the test vectors below are
//! the bytes `ovs-ofctl -O OpenFlow13 add-flow` (Open vSwitch 3.1) sent for the flows they name.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u128};

use crate::action::Action;
use crate::codec::{PResult, WireErr, bad_length, bad_value, field, pad, put_zeros};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::oxm::{Oxm, oxm_class};

mod ct_tuple;
pub use ct_tuple::CtTuple;

/// Nicira's experimenter (vendor) id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
/// `NXAST_CT`.
pub const NXAST_CT: u16 = 35;
/// `NXAST_NAT`.
pub const NXAST_NAT: u16 = 36;

// Field offsets from the start of the action (the experimenter action's `data` starts at 8):
// `nx_action_conntrack`: subtype 8, flags 10, zone_src 12, zone_ofs_nbits (the zone itself when
// zone_src is 0) 16, recirc_table 18, pad 19..22, alg 22, nested actions from 24.
// `nx_action_nat`: subtype 8, pad 10..12, flags 12, range_present 14, ranges from 16.
const ACTION_ALIGN: usize = 8;

/// `NX_CT_F_COMMIT`: commit the connection to the connection tracker.
pub const CT_COMMIT: u16 = 1 << 0;
/// `NX_CT_F_FORCE`: commit, ending a connection tracked in the other direction first.
pub const CT_FORCE: u16 = 1 << 1;
/// `NX_CT_RECIRC_NONE`: do not resubmit the packet after the tracker.
const RECIRC_NONE: u8 = 0xff;

/// `NX_NAT_F_*`.
pub const NAT_SRC: u16 = 1 << 0;
pub const NAT_DST: u16 = 1 << 1;
pub const NAT_PERSISTENT: u16 = 1 << 2;
pub const NAT_PROTO_HASH: u16 = 1 << 3;
pub const NAT_PROTO_RANDOM: u16 = 1 << 4;
// `NX_NAT_RANGE_*`: which range fields follow, in this order.
const RANGE_IPV4_MIN: u16 = 1 << 0;
const RANGE_IPV4_MAX: u16 = 1 << 1;
const RANGE_IPV6_MIN: u16 = 1 << 2;
const RANGE_IPV6_MAX: u16 = 1 << 3;
const RANGE_PROTO_MIN: u16 = 1 << 4;
const RANGE_PROTO_MAX: u16 = 1 << 5;

/// `ct_state` bits (`CS_*`).
pub mod ct_state {
    pub const NEW: u32 = 0x01;
    pub const ESTABLISHED: u32 = 0x02;
    pub const RELATED: u32 = 0x04;
    /// The packet goes in the reply direction of its connection.
    pub const REPLY: u32 = 0x08;
    pub const INVALID: u32 = 0x10;
    /// The packet went through the connection tracker.
    pub const TRACKED: u32 = 0x20;
}

/// `NXM_NX_CT_STATE` (class `0x0001`, field 105): `ct_state & mask == value`.
pub fn ct_state(value: u32, mask: u32) -> Oxm {
    let mut body = Vec::with_capacity(8);
    body.extend_from_slice(&value.to_be_bytes());
    body.extend_from_slice(&mask.to_be_bytes());
    Oxm::Other { class: oxm_class::NXM_1, field: 105, has_mask: true, body: body.into() }
}

/// `NXM_NX_CT_ZONE` (class `0x0001`, field 106): the packet was tracked in `zone`.
pub fn ct_zone(zone: u16) -> Oxm {
    Oxm::Other {
        class: oxm_class::NXM_1,
        field: 106,
        has_mask: false,
        body: Bytes::copy_from_slice(&zone.to_be_bytes()),
    }
}

/// `NXAST_NAT`: the address (and port) translation of a connection, inside [`Conntrack`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nat {
    /// `NAT_SRC`, `NAT_DST`, `NAT_PERSISTENT`, ... (none: apply the connection's existing translation).
    pub flags: u16,
    pub ipv4: Option<(Ipv4Addr, Option<Ipv4Addr>)>,
    pub ipv6: Option<(Ipv6Addr, Option<Ipv6Addr>)>,
    pub ports: Option<(u16, Option<u16>)>,
}

impl Nat {
    /// Destination NAT to `ip:port` (a committed connection's replies are translated back).
    pub fn to_destination(ip: Ipv4Addr, port: u16) -> Nat {
        Nat { flags: NAT_DST, ipv4: Some((ip, None)), ports: Some((port, None)), ..Nat::default() }
    }

    fn range_present(&self) -> u16 {
        let mut r = 0;
        if let Some((_, max)) = self.ipv4 {
            r |= RANGE_IPV4_MIN | if max.is_some() { RANGE_IPV4_MAX } else { 0 };
        }
        if let Some((_, max)) = self.ipv6 {
            r |= RANGE_IPV6_MIN | if max.is_some() { RANGE_IPV6_MAX } else { 0 };
        }
        if let Some((_, max)) = self.ports {
            r |= RANGE_PROTO_MIN | if max.is_some() { RANGE_PROTO_MAX } else { 0 };
        }
        r
    }

    fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u16(0xffff);
        buf.put_u16(0); // length, patched below
        buf.put_u32(NX_VENDOR_ID);
        buf.put_u16(NXAST_NAT);
        put_zeros(buf, 2);
        buf.put_u16(self.flags);
        buf.put_u16(self.range_present());
        if let Some((min, max)) = self.ipv4 {
            buf.put_slice(&min.octets());
            if let Some(max) = max {
                buf.put_slice(&max.octets());
            }
        }
        if let Some((min, max)) = self.ipv6 {
            buf.put_slice(&min.octets());
            if let Some(max) = max {
                buf.put_slice(&max.octets());
            }
        }
        if let Some((min, max)) = self.ports {
            buf.put_u16(min);
            if let Some(max) = max {
                buf.put_u16(max);
            }
        }
        let len = (buf.len() - start).next_multiple_of(ACTION_ALIGN);
        put_zeros(buf, start + len - buf.len());
        buf[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
    }

    /// Parses the body after the vendor id (`data` of the experimenter action, subtype included).
    fn parse(data: &[u8]) -> PResult<'_, Nat> {
        let (i, _subtype) = field("nat.subtype", be_u16)(data)?;
        let (i, ()) = pad(i, 2)?;
        let (i, flags) = field("nat.flags", be_u16)(i)?;
        let (mut i, present) = field("nat.range_present", be_u16)(i)?;
        if present & !0x3f != 0 {
            return Err(bad_value(i, "nat.range_present", u64::from(present)));
        }
        let mut nat = Nat { flags, ..Nat::default() };
        let v4 = |i| field("nat.range_ipv4", be_u32)(i).map(|(i, v)| (i, Ipv4Addr::from(v)));
        let v6 = |i| field("nat.range_ipv6", be_u128)(i).map(|(i, v)| (i, Ipv6Addr::from(v)));
        let port = |i| field("nat.range_proto", be_u16)(i);
        if present & RANGE_IPV4_MIN != 0 {
            let (rest, min) = v4(i)?;
            let (rest, max) = if present & RANGE_IPV4_MAX != 0 {
                v4(rest).map(|(r, v)| (r, Some(v)))?
            } else {
                (rest, None)
            };
            nat.ipv4 = Some((min, max));
            i = rest;
        }
        if present & RANGE_IPV6_MIN != 0 {
            let (rest, min) = v6(i)?;
            let (rest, max) = if present & RANGE_IPV6_MAX != 0 {
                v6(rest).map(|(r, v)| (r, Some(v)))?
            } else {
                (rest, None)
            };
            nat.ipv6 = Some((min, max));
            i = rest;
        }
        if present & RANGE_PROTO_MIN != 0 {
            let (rest, min) = port(i)?;
            let (rest, max) = if present & RANGE_PROTO_MAX != 0 {
                port(rest).map(|(r, v)| (r, Some(v)))?
            } else {
                (rest, None)
            };
            nat.ports = Some((min, max));
            i = rest;
        }
        // A max without its min cannot be re-encoded (the range bits say which fields follow).
        if nat.range_present() != present {
            return Err(bad_value(i, "nat.range_present", u64::from(present)));
        }
        // Whatever is left is the padding to 8 bytes, which must be zeros and shorter than 8.
        if i.len() >= ACTION_ALIGN || i.iter().any(|&b| b != 0) {
            return Err(bad_length(i, "nat.len", data.len() + 8));
        }
        Ok((&i[i.len()..], nat))
    }
}

/// What runs inside a [`Conntrack`] action: a NAT, or any other action (Open vSwitch accepts
/// set_field of `ct_mark`/`ct_label` there), kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtNested {
    Nat(Nat),
    Action(Action),
}

/// `NXAST_CT`: send the packet through the connection tracker in `zone`, optionally committing the
/// connection and translating its addresses, then optionally resubmit it to `recirc_table` with
/// the `ct_state` fields set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conntrack {
    /// [`CT_COMMIT`], [`CT_FORCE`].
    pub flags: u16,
    pub zone: u16,
    /// Table the packet continues in after the tracker (`None`: it does not continue there; the
    /// actions after this one apply to it as translated).
    pub recirc_table: Option<u8>,
    /// Application-layer gateway (0: none; 21: FTP; 69: TFTP).
    pub alg: u16,
    pub nested: Vec<CtNested>,
}

impl Conntrack {
    /// `ct(zone=Z,nat,table=T)`: look the packet up (translating it as its connection says) and
    /// continue in table `table` with `ct_state` known.
    pub fn lookup(zone: u16, table: u8) -> Conntrack {
        Conntrack {
            zone,
            recirc_table: Some(table),
            nested: vec![CtNested::Nat(Nat::default())],
            ..Conntrack::default()
        }
    }

    /// `ct(zone=Z,nat)`: pass the packet through the tracker (which updates its connection's state)
    /// and nothing more; with no action after it, the packet ends there.
    pub fn track(zone: u16) -> Conntrack {
        Conntrack { zone, nested: vec![CtNested::Nat(Nat::default())], ..Conntrack::default() }
    }

    /// `ct(commit,zone=Z,nat(...))`: commit the packet's connection with translation `nat`.
    pub fn commit(zone: u16, nat: Nat) -> Conntrack {
        Conntrack { flags: CT_COMMIT, zone, nested: vec![CtNested::Nat(nat)], ..Conntrack::default() }
    }

    /// The experimenter action carrying this.
    pub fn to_action(&self) -> Action {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_u16(NXAST_CT);
        buf.put_u16(self.flags);
        buf.put_u32(0); // zone_src: 0 = the zone is an immediate value
        buf.put_u16(self.zone);
        buf.put_u8(self.recirc_table.unwrap_or(RECIRC_NONE));
        put_zeros(&mut buf, 3);
        buf.put_u16(self.alg);
        for n in &self.nested {
            match n {
                CtNested::Nat(nat) => nat.emit(&mut buf),
                CtNested::Action(a) => a.emit(&mut buf),
            }
        }
        Action::Experimenter { experimenter: NX_VENDOR_ID, data: buf.freeze() }
    }

    /// The conntrack action in `action`: `None` if it is not one, an error if it is one but malformed.
    pub fn from_action(action: &Action) -> Option<Result<Conntrack, DecodeError>> {
        let Action::Experimenter { experimenter: NX_VENDOR_ID, data } = action else { return None };
        if data.get(..2) != Some(&NXAST_CT.to_be_bytes()[..]) {
            return None;
        }
        Some(match Conntrack::parse(data) {
            Ok((_, ct)) => Ok(ct),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(located(e, data.len())),
            Err(nom::Err::Incomplete(_)) => Err(located(
                WireErr { field: "ct", remaining: 0, kind: DecodeErrorKind::Truncated },
                data.len(),
            )),
        })
    }

    fn parse(data: &[u8]) -> PResult<'_, Conntrack> {
        let (i, _subtype) = field("ct.subtype", be_u16)(data)?;
        let (i, flags) = field("ct.flags", be_u16)(i)?;
        let (i, zone_src) = field("ct.zone_src", be_u32)(i)?;
        if zone_src != 0 {
            // The zone is read from a register: not what this view describes.
            return Err(bad_value(i, "ct.zone_src", u64::from(zone_src)));
        }
        let (i, zone) = field("ct.zone", be_u16)(i)?;
        let (i, table) = field("ct.recirc_table", be_u8)(i)?;
        let (i, ()) = pad(i, 3)?;
        let (mut i, alg) = field("ct.alg", be_u16)(i)?;
        let mut nested = Vec::new();
        while !i.is_empty() {
            let (rest, action) = Action::parse(i)?;
            let is_nat = matches!(&action, Action::Experimenter { experimenter: NX_VENDOR_ID, data }
                if data.get(..2) == Some(&NXAST_NAT.to_be_bytes()[..]));
            match action {
                Action::Experimenter { data, .. } if is_nat => {
                    let (_, nat) = Nat::parse(&data).map_err(|e| {
                        e.map(|mut w| {
                            w.remaining += rest.len();
                            w
                        })
                    })?;
                    nested.push(CtNested::Nat(nat));
                }
                other => nested.push(CtNested::Action(other)),
            }
            i = rest;
        }
        let recirc_table = (table != RECIRC_NONE).then_some(table);
        Ok((i, Conntrack { flags, zone, recirc_table, alg, nested }))
    }
}

/// A parse failure inside an experimenter action's data of `len` bytes, located from its start.
fn located(e: WireErr, len: usize) -> DecodeError {
    DecodeError { message: "NXAST_CT", field: e.field, offset: len.saturating_sub(e.remaining), kind: e.kind }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruction::Instruction;
    use crate::message::Message;

    /// The fixed part of `nx_action_conntrack` after the vendor id, and `range_present`'s offset in
    /// `nx_action_nat`.
    const CT_DATA_LEN: usize = 16;
    const NAT_RANGE_PRESENT: usize = 14;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// `ovs-ofctl -O OpenFlow13 add-flow br "tcp,ct_state=-trk,nw_dst=10.0.0.100,tp_dst=8000,
    /// actions=ct(zone=7,nat,table=0)"`.
    const LOOKUP_FLOW: &str = "040e009000000006000000000000000000000000000000000000000000008000ffffffffffffffffffffffff\
        000000000001002980000a020800800018040a000064800014010680001c021f400001d3080000000000000020000000000000\
        000004003000000000ffff00280000232000230000000000000007000000000000ffff0010000023200024000000000000";
    /// `"tcp,ct_state=+trk+est-rpl,ct_zone=7,actions=ct(commit,zone=7,nat(dst=10.0.0.11:8000)),output:2"`.
    const COMMIT_FLOW: &str = "040e00a000000006000000000000000000000000000000000000000000008000ffffffffffffffffffffffff\
        000000000001002180000a02080080001401060001d308000000220000002a0001d4020007000000000000000004004800000000\
        ffff00300000232000230001000000000007ff0000000000ffff00180000232000240000000200110a00000b1f40000000000010\
        000000020000000000000000";
    /// `"ip,actions=ct(commit,zone=7,nat(dst=10.0.0.11))"`: an address without a port.
    const ADDRESS_ONLY_FLOW: &str = "040e007800000006000000000000000000000000000000000000000000008000ffffffffffffffffffff\
        ffff000000000001000a80000a0208000000000000000004003800000000ffff00300000232000230001000000000007ff00000000\
        00ffff00180000232000240000000200010a00000b00000000";

    fn decode(vector: &str) -> (crate::flow::FlowMod, Vec<u8>) {
        let frame = Bytes::from(hex(vector));
        let (_, msg) = Message::decode(&frame).unwrap();
        let Message::FlowMod(fm) = msg else { panic!("{msg:?}") };
        (fm, frame.to_vec())
    }

    fn actions(fm: &crate::flow::FlowMod) -> &[Action] {
        match &fm.instructions[..] {
            [Instruction::ApplyActions(a)] => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lookup_action_reads_and_rebuilds_byte_exact() {
        let (fm, _) = decode(LOOKUP_FLOW);
        let ct = Conntrack::from_action(&actions(&fm)[0]).unwrap().unwrap();
        assert_eq!(ct, Conntrack::lookup(7, 0));
        assert_eq!(ct.to_action(), actions(&fm)[0]);
        assert!(fm.r#match.fields.contains(&ct_state(0, ct_state::TRACKED)));
    }

    #[test]
    fn commit_with_destination_nat_reads_and_rebuilds_byte_exact() {
        let (fm, frame) = decode(COMMIT_FLOW);
        let a = actions(&fm);
        let ct = Conntrack::from_action(&a[0]).unwrap().unwrap();
        assert_eq!(ct, Conntrack::commit(7, Nat::to_destination(Ipv4Addr::new(10, 0, 0, 11), 8000)));
        assert_eq!(a[1], Action::output(crate::PortNo(2)));
        let fields = &fm.r#match.fields;
        let est = ct_state::TRACKED | ct_state::ESTABLISHED;
        assert!(fields.contains(&ct_state(est, est | ct_state::REPLY)));
        assert!(fields.contains(&ct_zone(7)));
        // The whole FLOW_MOD, rebuilt from the typed view, is the same bytes.
        let mut rebuilt = fm.clone();
        rebuilt.instructions = vec![Instruction::ApplyActions(vec![ct.to_action(), a[1].clone()])];
        assert_eq!(Message::FlowMod(rebuilt).to_bytes(6).to_vec(), frame);
    }

    #[test]
    fn nat_without_port_is_padded_to_eight_bytes() {
        let (fm, _) = decode(ADDRESS_ONLY_FLOW);
        let ct = Conntrack::from_action(&actions(&fm)[0]).unwrap().unwrap();
        let nat = Nat { flags: NAT_DST, ipv4: Some((Ipv4Addr::new(10, 0, 0, 11), None)), ..Nat::default() };
        assert_eq!(ct, Conntrack::commit(7, nat));
        assert_eq!(ct.to_action(), actions(&fm)[0]);
    }

    #[test]
    fn ranges_round_trip() {
        let nat = Nat {
            flags: NAT_SRC | NAT_PERSISTENT,
            ipv4: Some((Ipv4Addr::new(10, 0, 0, 1), Some(Ipv4Addr::new(10, 0, 0, 9)))),
            ipv6: Some((Ipv6Addr::LOCALHOST, None)),
            ports: Some((1000, Some(2000))),
        };
        let ct = Conntrack {
            flags: CT_COMMIT | CT_FORCE,
            zone: 9,
            recirc_table: Some(3),
            alg: 21,
            nested: vec![CtNested::Nat(nat), CtNested::Action(Action::output(crate::PortNo(1)))],
        };
        let action = ct.to_action();
        assert_eq!(action.encoded_len() % 8, 0);
        assert_eq!(Conntrack::from_action(&action).unwrap().unwrap(), ct);
    }

    #[test]
    fn other_actions_are_not_conntrack_and_malformed_ones_say_where() {
        assert!(Conntrack::from_action(&Action::output(crate::PortNo(1))).is_none());
        let resubmit = Action::Experimenter {
            experimenter: NX_VENDOR_ID,
            data: Bytes::from_static(&[0, 1, 0, 0, 0, 0]),
        };
        assert!(Conntrack::from_action(&resubmit).is_none());
        // A register-sourced zone is refused by name, and a cut-off action is truncated.
        let mut data = BytesMut::new();
        data.put_slice(&hex("0023000000010004"));
        let e =
            Conntrack::from_action(&Action::Experimenter { experimenter: NX_VENDOR_ID, data: data.freeze() })
                .unwrap()
                .unwrap_err();
        assert_eq!(e.field, "ct.zone_src");
        let short =
            Action::Experimenter { experimenter: NX_VENDOR_ID, data: Bytes::from_static(&[0, 35, 0]) };
        assert_eq!(Conntrack::from_action(&short).unwrap().unwrap_err().kind, DecodeErrorKind::Truncated);
        // A NAT naming a max without its min.
        let mut bad = Conntrack::commit(1, Nat::default()).to_action();
        if let Action::Experimenter { data, .. } = &mut bad {
            let mut d = data.to_vec();
            d[CT_DATA_LEN + NAT_RANGE_PRESENT..CT_DATA_LEN + NAT_RANGE_PRESENT + 2]
                .copy_from_slice(&RANGE_IPV4_MAX.to_be_bytes());
            *data = d.into();
        }
        assert!(Conntrack::from_action(&bad).unwrap().is_err());
    }
}
