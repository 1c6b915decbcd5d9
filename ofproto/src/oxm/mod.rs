//! Flow match (`ofp_match`, OF1.3.5 §7.2.3) and OXM TLVs (§7.2.3.2–§7.2.3.8).
//!
//! This module owns the typed model of a match: [`Oxm`] (one TLV), [`OxmField`] (the basic-class field
//! numbers with their sizes, maskability and Ryu names) and [`Match`] (the ordered TLV list, with a
//! chainable builder and lookups). The wire codec lives in `wire` (one TLV) and `flow_match` (the
//! `ofp_match` envelope). Prerequisite checking is separate: see [`crate::validate`].
//!
//! Guarantees: every basic field (class `0x8000`, fields 0..=39) decodes to its typed variant, with a
//! mask only where OF1.3 allows one; a wrong payload length or a mask on a non-maskable field is a
//! decode error naming the field. Every other TLV (Nicira NXM classes `0x0000`/`0x0001`, experimenter
//! class `0xFFFF`, basic fields newer than OF1.3) is kept as [`Oxm::Other`] and re-encodes byte-exactly.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use serde::Serialize;

use crate::types::{MacAddr, PortNo};

mod flow_match;
mod names;
mod wire;

pub use flow_match::{MATCH_ALIGN, MATCH_HEADER_LEN, OFPMT_OXM, OFPMT_STANDARD};
pub use names::ONF_EXPERIMENTER_ID;

#[cfg(test)]
mod tests;

/// OXM classes (`ofp_oxm_class`, OF1.3.5 §7.2.3.3).
pub mod oxm_class {
    /// Backward compatibility with NXM (Nicira `NXM_OF_*`).
    pub const NXM_0: u16 = 0x0000;
    /// Backward compatibility with NXM (Nicira `NXM_NX_*`).
    pub const NXM_1: u16 = 0x0001;
    /// Basic class for OpenFlow: the fields typed by [`super::Oxm`].
    pub const OPENFLOW_BASIC: u16 = 0x8000;
    /// Experimenter class: the payload starts with a 4-byte experimenter id.
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPVID_PRESENT` (OF1.3.5 §7.2.3.8, Table 13): set in `vlan_vid` when a VLAN tag is present.
pub const OFPVID_PRESENT: u16 = 0x1000;
/// `OFPVID_NONE`: `vlan_vid` value meaning "no VLAN tag".
pub const OFPVID_NONE: u16 = 0x0000;

/// Declares [`OxmField`] and its per-field facts from one table, so numbers, names, sizes and
/// maskability cannot drift apart.
macro_rules! basic_fields {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $name:literal, $len:literal, $maskable:literal; )+) => {
        crate::types::open_enum! {
            /// Basic-class OXM field numbers (`oxm_ofb_match_fields`, OF1.3.5 §7.2.3.7): `OXM_OF_*`.
            pub enum OxmField: u8 {
                $( $(#[$doc])* $variant = $num, )+
            }
        }

        impl OxmField {
            /// Ryu's name for the field (`"in_port"`, `"ipv4_src"`, ...); `"unknown"` for other numbers.
            pub fn name(self) -> &'static str {
                match self {
                    $( OxmField::$variant => $name, )+
                    OxmField::Unknown(_) => "unknown",
                }
            }

            /// Size of the value on the wire in bytes (a mask, if present, has the same size), or
            /// `None` for a number OF1.3 does not define.
            pub fn value_len(self) -> Option<usize> {
                match self {
                    $( OxmField::$variant => Some($len), )+
                    OxmField::Unknown(_) => None,
                }
            }

            /// Whether OF1.3 allows a mask on this field (Table 12's "Maskable" column).
            pub fn maskable(self) -> bool {
                match self {
                    $( OxmField::$variant => $maskable, )+
                    OxmField::Unknown(_) => false,
                }
            }

            /// Error-location name for a bad `oxm_length` of this field, e.g. `"tcp_dst.oxm_length"`.
            pub(crate) fn length_field(self) -> &'static str {
                match self {
                    $( OxmField::$variant => concat!($name, ".oxm_length"), )+
                    OxmField::Unknown(_) => "oxm_length",
                }
            }

            /// Error-location name for a forbidden mask on this field, e.g. `"tcp_dst.oxm_hasmask"`.
            pub(crate) fn hasmask_field(self) -> &'static str {
                match self {
                    $( OxmField::$variant => concat!($name, ".oxm_hasmask"), )+
                    OxmField::Unknown(_) => "oxm_hasmask",
                }
            }
        }
    };
}

basic_fields! {
    /// Switch input port.
    InPort = 0, "in_port", 4, false;
    /// Switch physical input port.
    InPhyPort = 1, "in_phy_port", 4, false;
    /// Metadata passed between tables.
    Metadata = 2, "metadata", 8, true;
    EthDst = 3, "eth_dst", 6, true;
    EthSrc = 4, "eth_src", 6, true;
    EthType = 5, "eth_type", 2, false;
    /// VLAN id, with `OFPVID_PRESENT`.
    VlanVid = 6, "vlan_vid", 2, true;
    VlanPcp = 7, "vlan_pcp", 1, false;
    IpDscp = 8, "ip_dscp", 1, false;
    IpEcn = 9, "ip_ecn", 1, false;
    IpProto = 10, "ip_proto", 1, false;
    Ipv4Src = 11, "ipv4_src", 4, true;
    Ipv4Dst = 12, "ipv4_dst", 4, true;
    TcpSrc = 13, "tcp_src", 2, false;
    TcpDst = 14, "tcp_dst", 2, false;
    UdpSrc = 15, "udp_src", 2, false;
    UdpDst = 16, "udp_dst", 2, false;
    SctpSrc = 17, "sctp_src", 2, false;
    SctpDst = 18, "sctp_dst", 2, false;
    Icmpv4Type = 19, "icmpv4_type", 1, false;
    Icmpv4Code = 20, "icmpv4_code", 1, false;
    ArpOp = 21, "arp_op", 2, false;
    ArpSpa = 22, "arp_spa", 4, true;
    ArpTpa = 23, "arp_tpa", 4, true;
    ArpSha = 24, "arp_sha", 6, true;
    ArpTha = 25, "arp_tha", 6, true;
    Ipv6Src = 26, "ipv6_src", 16, true;
    Ipv6Dst = 27, "ipv6_dst", 16, true;
    /// 20-bit IPv6 flow label in a 4-byte field.
    Ipv6Flabel = 28, "ipv6_flabel", 4, true;
    Icmpv6Type = 29, "icmpv6_type", 1, false;
    Icmpv6Code = 30, "icmpv6_code", 1, false;
    Ipv6NdTarget = 31, "ipv6_nd_target", 16, false;
    Ipv6NdSll = 32, "ipv6_nd_sll", 6, false;
    Ipv6NdTll = 33, "ipv6_nd_tll", 6, false;
    /// 20-bit MPLS label in a 4-byte field.
    MplsLabel = 34, "mpls_label", 4, false;
    MplsTc = 35, "mpls_tc", 1, false;
    MplsBos = 36, "mpls_bos", 1, false;
    /// 24-bit PBB I-SID: a 3-byte field on the wire.
    PbbIsid = 37, "pbb_isid", 3, true;
    TunnelId = 38, "tunnel_id", 8, true;
    /// IPv6 extension header pseudo-field (9 bits in a 2-byte field).
    Ipv6Exthdr = 39, "ipv6_exthdr", 2, true;
}

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
    /// 24 bits on the wire: the encoder writes the low 24 bits of the value and the mask.
    PbbIsid(u32, Option<u32>),
    TunnelId(u64, Option<u64>),
    Ipv6Exthdr(u16, Option<u16>),
    /// Any non-basic or unknown OXM. `body` is everything after the 4-byte OXM header (for class
    /// 0xFFFF it starts with the 4-byte experimenter id), value and mask included.
    ///
    /// The header's length byte is computed from `body`; a body longer than 255 bytes cannot be
    /// represented and is cut to 255 on encode. `field` is 7 bits on the wire (higher bits dropped).
    Other {
        class: u16,
        field: u8,
        has_mask: bool,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Oxm {
    /// The basic-class field this TLV is, or `None` for [`Oxm::Other`].
    pub fn basic_field(&self) -> Option<OxmField> {
        Some(match self {
            Oxm::InPort(_) => OxmField::InPort,
            Oxm::InPhyPort(_) => OxmField::InPhyPort,
            Oxm::Metadata(..) => OxmField::Metadata,
            Oxm::EthDst(..) => OxmField::EthDst,
            Oxm::EthSrc(..) => OxmField::EthSrc,
            Oxm::EthType(_) => OxmField::EthType,
            Oxm::VlanVid(..) => OxmField::VlanVid,
            Oxm::VlanPcp(_) => OxmField::VlanPcp,
            Oxm::IpDscp(_) => OxmField::IpDscp,
            Oxm::IpEcn(_) => OxmField::IpEcn,
            Oxm::IpProto(_) => OxmField::IpProto,
            Oxm::Ipv4Src(..) => OxmField::Ipv4Src,
            Oxm::Ipv4Dst(..) => OxmField::Ipv4Dst,
            Oxm::TcpSrc(_) => OxmField::TcpSrc,
            Oxm::TcpDst(_) => OxmField::TcpDst,
            Oxm::UdpSrc(_) => OxmField::UdpSrc,
            Oxm::UdpDst(_) => OxmField::UdpDst,
            Oxm::SctpSrc(_) => OxmField::SctpSrc,
            Oxm::SctpDst(_) => OxmField::SctpDst,
            Oxm::Icmpv4Type(_) => OxmField::Icmpv4Type,
            Oxm::Icmpv4Code(_) => OxmField::Icmpv4Code,
            Oxm::ArpOp(_) => OxmField::ArpOp,
            Oxm::ArpSpa(..) => OxmField::ArpSpa,
            Oxm::ArpTpa(..) => OxmField::ArpTpa,
            Oxm::ArpSha(..) => OxmField::ArpSha,
            Oxm::ArpTha(..) => OxmField::ArpTha,
            Oxm::Ipv6Src(..) => OxmField::Ipv6Src,
            Oxm::Ipv6Dst(..) => OxmField::Ipv6Dst,
            Oxm::Ipv6Flabel(..) => OxmField::Ipv6Flabel,
            Oxm::Icmpv6Type(_) => OxmField::Icmpv6Type,
            Oxm::Icmpv6Code(_) => OxmField::Icmpv6Code,
            Oxm::Ipv6NdTarget(_) => OxmField::Ipv6NdTarget,
            Oxm::Ipv6NdSll(_) => OxmField::Ipv6NdSll,
            Oxm::Ipv6NdTll(_) => OxmField::Ipv6NdTll,
            Oxm::MplsLabel(_) => OxmField::MplsLabel,
            Oxm::MplsTc(_) => OxmField::MplsTc,
            Oxm::MplsBos(_) => OxmField::MplsBos,
            Oxm::PbbIsid(..) => OxmField::PbbIsid,
            Oxm::TunnelId(..) => OxmField::TunnelId,
            Oxm::Ipv6Exthdr(..) => OxmField::Ipv6Exthdr,
            Oxm::Other { .. } => return None,
        })
    }

    /// The OXM class on the wire.
    pub fn class(&self) -> u16 {
        match self {
            Oxm::Other { class, .. } => *class,
            _ => oxm_class::OPENFLOW_BASIC,
        }
    }

    /// The 7-bit field number on the wire.
    pub fn field_number(&self) -> u8 {
        match (self, self.basic_field()) {
            (Oxm::Other { field, .. }, _) => field & 0x7f,
            (_, Some(f)) => f.value(),
            (_, None) => 0,
        }
    }

    /// Whether the TLV carries a mask (`oxm_hasmask`).
    pub fn has_mask(&self) -> bool {
        match self {
            Oxm::Metadata(_, m) | Oxm::TunnelId(_, m) => m.is_some(),
            Oxm::EthDst(_, m) | Oxm::EthSrc(_, m) | Oxm::ArpSha(_, m) | Oxm::ArpTha(_, m) => m.is_some(),
            Oxm::VlanVid(_, m) | Oxm::Ipv6Exthdr(_, m) => m.is_some(),
            Oxm::Ipv4Src(_, m) | Oxm::Ipv4Dst(_, m) | Oxm::ArpSpa(_, m) | Oxm::ArpTpa(_, m) => m.is_some(),
            Oxm::Ipv6Src(_, m) | Oxm::Ipv6Dst(_, m) => m.is_some(),
            Oxm::Ipv6Flabel(_, m) | Oxm::PbbIsid(_, m) => m.is_some(),
            Oxm::Other { has_mask, .. } => *has_mask,
            _ => false,
        }
    }

    /// Bytes after the 4-byte OXM header (`oxm_length`).
    pub fn payload_len(&self) -> usize {
        match (self, self.basic_field().and_then(OxmField::value_len)) {
            (Oxm::Other { body, .. }, _) => body.len().min(u8::MAX as usize),
            (_, Some(len)) if self.has_mask() => 2 * len,
            (_, Some(len)) => len,
            (_, None) => 0,
        }
    }

    /// Encoded size of the TLV, header included.
    pub fn encoded_len(&self) -> usize {
        wire::OXM_HEADER_LEN + self.payload_len()
    }

    /// Ryu's name for the field: `"in_port"`, `"eth_dst"`, `"ipv4_src"`, `"vlan_vid"`, ...; for
    /// [`Oxm::Other`] the Nicira/ONF names Ryu uses (`"reg0"`, `"ct_state"`, `"conj_id"`, `"pbb_uca"`,
    /// ...), or `"unknown"` when the TLV is not one of those.
    pub fn field_name(&self) -> &'static str {
        match (self, self.basic_field()) {
            (_, Some(f)) => f.name(),
            (Oxm::Other { class, field, body, .. }, None) => names::other_name(*class, *field & 0x7f, body),
            (_, None) => "unknown",
        }
    }
}

/// ovs-ofctl-like text: `eth_dst=f2:0b:a4:7d:f8:ea`, `ipv4_src=10.0.0.0/255.0.0.0`, `tcp_dst=80`.
impl fmt::Display for Oxm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.field_name())?;
        self.fmt_value(f)
    }
}

impl Oxm {
    /// Writes the value (and `/mask` if any) without the name: `10.0.0.0/255.0.0.0`. Used by
    /// `Display` here and by `set_field:VALUE->NAME` in actions.
    pub(crate) fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn masked<T: fmt::Display>(f: &mut fmt::Formatter<'_>, v: T, m: &Option<T>) -> fmt::Result {
            match m {
                Some(m) => write!(f, "{v}/{m}"),
                None => write!(f, "{v}"),
            }
        }
        fn hex<T: fmt::LowerHex>(f: &mut fmt::Formatter<'_>, v: T, m: &Option<T>) -> fmt::Result {
            match m {
                Some(m) => write!(f, "{v:#x}/{m:#x}"),
                None => write!(f, "{v:#x}"),
            }
        }
        match self {
            Oxm::InPort(p) | Oxm::InPhyPort(p) => write!(f, "{p}"),
            Oxm::Metadata(v, m) | Oxm::TunnelId(v, m) => hex(f, *v, m),
            Oxm::EthDst(v, m) | Oxm::EthSrc(v, m) | Oxm::ArpSha(v, m) | Oxm::ArpTha(v, m) => masked(f, *v, m),
            Oxm::EthType(v) => write!(f, "{v:#06x}"),
            Oxm::VlanVid(v, m) => masked(f, *v, m),
            Oxm::Ipv4Src(v, m) | Oxm::Ipv4Dst(v, m) | Oxm::ArpSpa(v, m) | Oxm::ArpTpa(v, m) => {
                masked(f, *v, m)
            }
            Oxm::Ipv6Src(v, m) | Oxm::Ipv6Dst(v, m) => masked(f, *v, m),
            Oxm::Ipv6Flabel(v, m) => hex(f, *v, m),
            Oxm::PbbIsid(v, m) => masked(f, *v, m),
            Oxm::Ipv6Exthdr(v, m) => hex(f, *v, m),
            Oxm::VlanPcp(v)
            | Oxm::IpDscp(v)
            | Oxm::IpEcn(v)
            | Oxm::IpProto(v)
            | Oxm::Icmpv4Type(v)
            | Oxm::Icmpv4Code(v)
            | Oxm::Icmpv6Type(v)
            | Oxm::Icmpv6Code(v)
            | Oxm::MplsTc(v)
            | Oxm::MplsBos(v) => write!(f, "{v}"),
            Oxm::TcpSrc(v)
            | Oxm::TcpDst(v)
            | Oxm::UdpSrc(v)
            | Oxm::UdpDst(v)
            | Oxm::SctpSrc(v)
            | Oxm::SctpDst(v)
            | Oxm::ArpOp(v) => write!(f, "{v}"),
            Oxm::MplsLabel(v) => write!(f, "{v}"),
            Oxm::Ipv6NdTarget(v) => write!(f, "{v}"),
            Oxm::Ipv6NdSll(v) | Oxm::Ipv6NdTll(v) => write!(f, "{v}"),
            Oxm::Other { class, has_mask, body, .. } => names::fmt_other_value(f, *class, *has_mask, body),
        }
    }
}
