//! The original-direction tuple of a tracked packet's connection, as Open vSwitch (2.8 and later)
//! reports it in a PACKET_IN's match: `NXM_NX_CT_NW_PROTO` (field 119), `NXM_NX_CT_NW_SRC` (120),
//! `NXM_NX_CT_NW_DST` (121), `NXM_NX_CT_TP_SRC` (124) and `NXM_NX_CT_TP_DST` (125), all class
//! `0x0001`, unmasked.
//!
//! Why a controller wants it: after a NAT the packet's own headers need not name the connection as
//! it began. Open vSwitch's tracker may also move the *source* port of a destination-NAT connection
//! when the translated tuple is already taken (a client port reused while the tracker still holds its
//! previous connection to the same backend), so a FIN seen after the tracker can carry a port the
//! client never sent from. These fields carry the tuple of the connection's first packet.

use std::net::Ipv4Addr;

use crate::oxm::{Match, Oxm, oxm_class};

// NXM field numbers (Open vSwitch `meta-flow.h`).
const CT_NW_PROTO: u8 = 119;
const CT_NW_SRC: u8 = 120;
const CT_NW_DST: u8 = 121;
const CT_TP_SRC: u8 = 124;
const CT_TP_DST: u8 = 125;

/// An IPv4 connection's tuple in its original direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtTuple {
    pub nw_proto: u8,
    pub nw_src: Ipv4Addr,
    pub nw_dst: Ipv4Addr,
    pub tp_src: u16,
    pub tp_dst: u16,
}

impl CtTuple {
    /// The tuple from a PACKET_IN's match, if the switch put all of it there (a tracked IPv4
    /// packet of a committed connection on Open vSwitch).
    pub fn from_match(m: &Match) -> Option<CtTuple> {
        let field = |number: u8| {
            m.fields.iter().find_map(|oxm| match oxm {
                Oxm::Other { class: oxm_class::NXM_1, field, has_mask: false, body } if *field == number => {
                    Some(body.as_ref())
                }
                _ => None,
            })
        };
        let ipv4 = |number| -> Option<Ipv4Addr> { Some(<[u8; 4]>::try_from(field(number)?).ok()?.into()) };
        let port = |number| -> Option<u16> { Some(u16::from_be_bytes(field(number)?.try_into().ok()?)) };
        Some(CtTuple {
            nw_proto: *field(CT_NW_PROTO).filter(|b| b.len() == 1)?.first()?,
            nw_src: ipv4(CT_NW_SRC)?,
            nw_dst: ipv4(CT_NW_DST)?,
            tp_src: port(CT_TP_SRC)?,
            tp_dst: port(CT_TP_DST)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The match of a PACKET_IN that Open vSwitch 3.1 (userspace datapath) sent for a client's FIN
    /// copied after the tracker: in_port 1, IPv4, `ct_state=+trk+est+dnat`, `ct_zone=0x5244`, and the
    /// connection 10.212.1.1:52650 → 10.212.1.100:8000 (TCP) as it began.
    const OVS_PACKET_IN_MATCH: [u8; 72] = [
        0x00, 0x01, 0x00, 0x45, // ofp_match: OXM, length 69
        0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, // in_port 1
        0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, // eth_type IPv4
        0x00, 0x01, 0xd3, 0x08, 0x00, 0x00, 0x00, 0xa2, 0x00, 0x00, 0x00, 0xff, // ct_state/mask
        0x00, 0x01, 0xd4, 0x02, 0x52, 0x44, // ct_zone
        0x00, 0x01, 0xf0, 0x04, 10, 212, 1, 1, // ct_nw_src
        0x00, 0x01, 0xf2, 0x04, 10, 212, 1, 100, // ct_nw_dst
        0x00, 0x01, 0xee, 0x01, 0x06, // ct_nw_proto
        0x00, 0x01, 0xf8, 0x02, 0xcd, 0xaa, // ct_tp_src 52650
        0x00, 0x01, 0xfa, 0x02, 0x1f, 0x40, // ct_tp_dst 8000
        0x00, 0x00, 0x00, // pad to 8
    ];

    #[test]
    fn reads_the_original_tuple_from_an_ovs_packet_in_match() {
        let (rest, m) = Match::parse(&OVS_PACKET_IN_MATCH).expect("the match parses");
        assert!(rest.is_empty());
        assert_eq!(
            CtTuple::from_match(&m),
            Some(CtTuple {
                nw_proto: 6,
                nw_src: Ipv4Addr::new(10, 212, 1, 1),
                nw_dst: Ipv4Addr::new(10, 212, 1, 100),
                tp_src: 52650,
                tp_dst: 8000,
            })
        );
    }

    #[test]
    fn an_untracked_or_partial_match_has_no_tuple() {
        assert_eq!(CtTuple::from_match(&Match::new().in_port(crate::PortNo(1))), None);
        let (_, mut m) = Match::parse(&OVS_PACKET_IN_MATCH).expect("the match parses");
        m.fields.retain(|f| !matches!(f, Oxm::Other { field: CT_TP_SRC, .. }));
        assert_eq!(CtTuple::from_match(&m), None, "no source port");
        let wrong_width = Oxm::Other {
            class: oxm_class::NXM_1,
            field: CT_TP_SRC,
            has_mask: false,
            body: vec![1, 2, 3].into(),
        };
        m.fields.push(wrong_width);
        assert_eq!(CtTuple::from_match(&m), None, "a 3-byte port");
    }
}
