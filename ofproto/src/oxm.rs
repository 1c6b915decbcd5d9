//! Flow match (`ofp_match`, OF1.3.5 §7.2.3) and OXM TLVs.
//!
//! SCAFFOLD: data model fixed by the lead; codec to be written by the owner of this file.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::PResult;
use crate::types::{MacAddr, PortNo};

/// `ofp_match` of type `OFPMT_OXM`: an ordered list of OXM TLVs. Order is kept so bytes round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Match {
    pub fields: Vec<Oxm>,
}

/// One OXM TLV. Basic-class (0x8000) fields are typed, with a mask where OF1.3 allows one; anything
/// else (experimenter class 0xFFFF, Nicira NXM classes 0x0000/0x0001, unknown classes or fields) is kept
/// as [`Oxm::Other`] and round-trips byte-for-byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Oxm {
    InPort(PortNo),
    InPhyPort(PortNo),
    Metadata(u64, Option<u64>),
    EthDst(MacAddr, Option<MacAddr>),
    EthSrc(MacAddr, Option<MacAddr>),
    EthType(u16),
    /// Includes the `OFPVID_PRESENT` (0x1000) bit as on the wire.
    VlanVid(u16, Option<u16>),
    VlanPcp(u8),
    IpDscp(u8),
    IpEcn(u8),
    IpProto(u8),
    Ipv4Src(Ipv4Addr, Option<Ipv4Addr>),
    Ipv4Dst(Ipv4Addr, Option<Ipv4Addr>),
    TcpSrc(u16),
    TcpDst(u16),
    UdpSrc(u16),
    UdpDst(u16),
    SctpSrc(u16),
    SctpDst(u16),
    Icmpv4Type(u8),
    Icmpv4Code(u8),
    ArpOp(u16),
    ArpSpa(Ipv4Addr, Option<Ipv4Addr>),
    ArpTpa(Ipv4Addr, Option<Ipv4Addr>),
    ArpSha(MacAddr, Option<MacAddr>),
    ArpTha(MacAddr, Option<MacAddr>),
    Ipv6Src(Ipv6Addr, Option<Ipv6Addr>),
    Ipv6Dst(Ipv6Addr, Option<Ipv6Addr>),
    Ipv6Flabel(u32, Option<u32>),
    Icmpv6Type(u8),
    Icmpv6Code(u8),
    Ipv6NdTarget(Ipv6Addr),
    Ipv6NdSll(MacAddr),
    Ipv6NdTll(MacAddr),
    MplsLabel(u32),
    MplsTc(u8),
    MplsBos(u8),
    PbbIsid(u32, Option<u32>),
    TunnelId(u64, Option<u64>),
    Ipv6Exthdr(u16, Option<u16>),
    /// Any non-basic or unknown OXM. `body` is everything after the 4-byte OXM header (for class
    /// 0xFFFF it starts with the 4-byte experimenter id), value and mask included.
    Other {
        class: u16,
        field: u8,
        has_mask: bool,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Match {
    /// Parses an `ofp_match` including its trailing padding to 8 bytes.
    pub(crate) fn parse(_input: &[u8]) -> PResult<'_, Match> {
        todo!("oxm owner")
    }

    /// Appends the `ofp_match` with its length and padding computed.
    pub(crate) fn emit(&self, _buf: &mut BytesMut) {
        todo!("oxm owner")
    }
}

impl Oxm {
    /// Parses one OXM TLV (used by `set_field` and table-features properties).
    pub(crate) fn parse(_input: &[u8]) -> PResult<'_, Oxm> {
        todo!("oxm owner")
    }

    /// Appends one OXM TLV.
    pub(crate) fn emit(&self, _buf: &mut BytesMut) {
        todo!("oxm owner")
    }
}
