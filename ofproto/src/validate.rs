//! Match validation: OXM prerequisites (OF1.3.5 §7.2.3.6 and the prerequisite column of Table 12,
//! §7.2.3.8), duplicate fields, and values with bits outside their mask (§7.2.3.5).
//!
//! The decoder never calls this: a switch's or a capture's match decodes as sent, valid or not.
//! A controller calls [`check_prerequisites`] before sending a FLOW_MOD, so a mistake shows up as a
//! typed error naming the field instead of an OFPET_BAD_MATCH from the switch; the error maps to the
//! (type, code) the switch would have sent ([`MatchError::ofp_error`]).
//!
//! Only basic-class fields are checked; Nicira and experimenter OXMs ([`Oxm::Other`]) have their own
//! rules, which this library does not model.

use serde::Serialize;

use crate::oxm::{Match, OFPVID_PRESENT, Oxm, OxmField};

/// `OFPET_BAD_MATCH` (`ofp_error_type`, OF1.3.5 §7.4.4).
pub const OFPET_BAD_MATCH: u16 = 4;

/// `ofp_bad_match_code` (OF1.3.5 §7.4.4): codes for errors of type [`OFPET_BAD_MATCH`].
pub mod bad_match_code {
    pub const BAD_TYPE: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const BAD_TAG: u16 = 2;
    pub const BAD_DL_ADDR_MASK: u16 = 3;
    pub const BAD_NW_ADDR_MASK: u16 = 4;
    pub const BAD_WILDCARDS: u16 = 5;
    pub const BAD_FIELD: u16 = 6;
    pub const BAD_VALUE: u16 = 7;
    pub const BAD_MASK: u16 = 8;
    pub const BAD_PREREQ: u16 = 9;
    pub const DUP_FIELD: u16 = 10;
    pub const EPERM: u16 = 11;
}

/// Why a match would be rejected by a conforming switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum MatchError {
    /// The field's prerequisite is absent or has another value.
    #[error("match field `{field}` requires {prerequisite}")]
    MissingPrerequisite { field: &'static str, prerequisite: &'static str },
    /// The prerequisite is present but after the field; §7.2.3.6 requires it to come first.
    #[error("match field `{field}` appears before its prerequisite {prerequisite}")]
    PrerequisiteAfterField { field: &'static str, prerequisite: &'static str },
    /// The same basic field appears twice.
    #[error("match field `{field}` appears more than once")]
    DuplicateField { field: &'static str },
    /// A masked field's value has 1-bits where its mask has 0-bits (§7.2.3.5).
    #[error("match field `{field}` has value bits set outside its mask")]
    ValueOutsideMask { field: &'static str },
}

impl MatchError {
    /// The offending field's name (Ryu's naming, e.g. `"tcp_dst"`).
    pub fn field(&self) -> &'static str {
        match self {
            MatchError::MissingPrerequisite { field, .. }
            | MatchError::PrerequisiteAfterField { field, .. }
            | MatchError::DuplicateField { field }
            | MatchError::ValueOutsideMask { field } => field,
        }
    }

    /// The OpenFlow error a switch reports for this problem: `(OFPET_BAD_MATCH, code)`, e.g.
    /// `(4, 9)` for OFPBMC_BAD_PREREQ and `(4, 10)` for OFPBMC_DUP_FIELD.
    pub fn ofp_error(&self) -> (u16, u16) {
        let code = match self {
            MatchError::MissingPrerequisite { .. } | MatchError::PrerequisiteAfterField { .. } => {
                bad_match_code::BAD_PREREQ
            }
            MatchError::DuplicateField { .. } => bad_match_code::DUP_FIELD,
            MatchError::ValueOutsideMask { .. } => bad_match_code::BAD_WILDCARDS,
        };
        (OFPET_BAD_MATCH, code)
    }
}

/// What a field needs from an earlier field (Table 12's prerequisite column).
#[derive(Debug, Clone, Copy)]
enum Requirement {
    /// The other field must be present, with any value.
    Present(OxmField),
    EthType(&'static [u16]),
    IpProto(u8),
    Icmpv6Type(&'static [u8]),
    /// `vlan_vid` must be present and match only tagged packets (VLAN_VID != NONE).
    VlanTagged,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS_UNICAST: u16 = 0x8847;
const ETH_MPLS_MULTICAST: u16 = 0x8848;
const ETH_PBB: u16 = 0x88e7;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;
const ND_SOLICIT: u8 = 135;
const ND_ADVERT: u8 = 136;

/// The prerequisite of `field` and its text for errors, or `None` if it has none.
fn requirement(field: OxmField) -> Option<(Requirement, &'static str)> {
    use OxmField as F;
    use Requirement as R;
    const IP: &[u16] = &[ETH_IPV4, ETH_IPV6];
    const IP_TEXT: &str = "eth_type=0x0800 or eth_type=0x86dd";
    Some(match field {
        F::InPhyPort => (R::Present(F::InPort), "in_port"),
        F::VlanPcp => (R::VlanTagged, "vlan_vid!=NONE"),
        F::IpDscp | F::IpEcn | F::IpProto => (R::EthType(IP), IP_TEXT),
        F::Ipv4Src | F::Ipv4Dst => (R::EthType(&[ETH_IPV4]), "eth_type=0x0800"),
        F::TcpSrc | F::TcpDst => (R::IpProto(IPPROTO_TCP), "ip_proto=6"),
        F::UdpSrc | F::UdpDst => (R::IpProto(IPPROTO_UDP), "ip_proto=17"),
        F::SctpSrc | F::SctpDst => (R::IpProto(IPPROTO_SCTP), "ip_proto=132"),
        F::Icmpv4Type | F::Icmpv4Code => (R::IpProto(IPPROTO_ICMP), "ip_proto=1"),
        F::ArpOp | F::ArpSpa | F::ArpTpa | F::ArpSha | F::ArpTha => {
            (R::EthType(&[ETH_ARP]), "eth_type=0x0806")
        }
        F::Ipv6Src | F::Ipv6Dst | F::Ipv6Flabel | F::Ipv6Exthdr => {
            (R::EthType(&[ETH_IPV6]), "eth_type=0x86dd")
        }
        F::Icmpv6Type | F::Icmpv6Code => (R::IpProto(IPPROTO_ICMPV6), "ip_proto=58"),
        F::Ipv6NdTarget => (R::Icmpv6Type(&[ND_SOLICIT, ND_ADVERT]), "icmpv6_type=135 or icmpv6_type=136"),
        F::Ipv6NdSll => (R::Icmpv6Type(&[ND_SOLICIT]), "icmpv6_type=135"),
        F::Ipv6NdTll => (R::Icmpv6Type(&[ND_ADVERT]), "icmpv6_type=136"),
        F::MplsLabel | F::MplsTc | F::MplsBos => {
            (R::EthType(&[ETH_MPLS_UNICAST, ETH_MPLS_MULTICAST]), "eth_type=0x8847 or eth_type=0x8848")
        }
        F::PbbIsid => (R::EthType(&[ETH_PBB]), "eth_type=0x88e7"),
        _ => return None,
    })
}

impl Requirement {
    /// The field that carries the prerequisite.
    fn field(self) -> OxmField {
        match self {
            Requirement::Present(f) => f,
            Requirement::EthType(_) => OxmField::EthType,
            Requirement::IpProto(_) => OxmField::IpProto,
            Requirement::Icmpv6Type(_) => OxmField::Icmpv6Type,
            Requirement::VlanTagged => OxmField::VlanVid,
        }
    }

    fn satisfied_by(self, oxm: &Oxm) -> bool {
        match (self, oxm) {
            (Requirement::Present(f), o) => o.basic_field() == Some(f),
            (Requirement::EthType(allowed), Oxm::EthType(t)) => allowed.contains(t),
            (Requirement::IpProto(p), Oxm::IpProto(v)) => p == *v,
            (Requirement::Icmpv6Type(allowed), Oxm::Icmpv6Type(t)) => allowed.contains(t),
            (Requirement::VlanTagged, Oxm::VlanVid(value, mask)) => {
                value & mask.unwrap_or(u16::MAX) & OFPVID_PRESENT != 0
            }
            _ => false,
        }
    }
}

/// Whether a masked value has 1-bits under 0-bits of its mask.
fn value_outside_mask(oxm: &Oxm) -> bool {
    fn bytes_outside(value: &[u8], mask: &[u8]) -> bool {
        value.iter().zip(mask).any(|(v, m)| v & !m != 0)
    }
    match oxm {
        Oxm::Metadata(v, Some(m)) | Oxm::TunnelId(v, Some(m)) => v & !m != 0,
        Oxm::EthDst(v, Some(m))
        | Oxm::EthSrc(v, Some(m))
        | Oxm::ArpSha(v, Some(m))
        | Oxm::ArpTha(v, Some(m)) => bytes_outside(&v.0, &m.0),
        Oxm::VlanVid(v, Some(m)) | Oxm::Ipv6Exthdr(v, Some(m)) => v & !m != 0,
        Oxm::Ipv4Src(v, Some(m))
        | Oxm::Ipv4Dst(v, Some(m))
        | Oxm::ArpSpa(v, Some(m))
        | Oxm::ArpTpa(v, Some(m)) => bytes_outside(&v.octets(), &m.octets()),
        Oxm::Ipv6Src(v, Some(m)) | Oxm::Ipv6Dst(v, Some(m)) => bytes_outside(&v.octets(), &m.octets()),
        Oxm::Ipv6Flabel(v, Some(m)) | Oxm::PbbIsid(v, Some(m)) => v & !m != 0,
        _ => false,
    }
}

/// Checks `m` the way a conforming OF1.3 switch would before accepting it: no basic field twice,
/// no masked value with bits outside its mask, and every field's prerequisite present, satisfied
/// and earlier in the list. Returns the first problem in field order.
pub fn check_prerequisites(m: &Match) -> Result<(), MatchError> {
    // Basic field numbers are 0..=39, so one bit each in a u64.
    let mut seen: u64 = 0;
    for (index, oxm) in m.fields.iter().enumerate() {
        let Some(kind) = oxm.basic_field() else { continue };
        let name = kind.name();
        let bit = 1u64 << (kind.value() & 63);
        if seen & bit != 0 {
            return Err(MatchError::DuplicateField { field: name });
        }
        seen |= bit;
        if value_outside_mask(oxm) {
            return Err(MatchError::ValueOutsideMask { field: name });
        }
        let Some((requirement, prerequisite)) = requirement(kind) else { continue };
        let needed = requirement.field();
        let found = m.fields.iter().enumerate().find(|(_, f)| f.basic_field() == Some(needed));
        match found {
            Some((at, prereq)) if requirement.satisfied_by(prereq) => {
                if at > index {
                    return Err(MatchError::PrerequisiteAfterField { field: name, prerequisite });
                }
            }
            _ => return Err(MatchError::MissingPrerequisite { field: name, prerequisite }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::types::{MacAddr, PortNo};

    fn check(fields: Vec<Oxm>) -> Result<(), MatchError> {
        check_prerequisites(&Match { fields })
    }

    #[test]
    fn load_balancer_match_is_valid() {
        let m = Match::new().eth_type(0x0800).ipv4_dst(Ipv4Addr::new(10, 0, 0, 100)).ip_proto(6).tcp_dst(80);
        assert_eq!(check_prerequisites(&m), Ok(()));
        // The builder orders fields by number, so prerequisites come first whatever the call order.
        let m = Match::new().tcp_dst(80).ip_proto(6).ipv4_dst(Ipv4Addr::new(10, 0, 0, 100)).eth_type(0x0800);
        assert_eq!(check_prerequisites(&m), Ok(()));
    }

    #[test]
    fn fields_without_prerequisites_are_valid() {
        let m = Match::new()
            .in_port(PortNo(1))
            .eth_src(MacAddr([2, 0, 0, 0, 0, 1]))
            .eth_dst_masked(MacAddr([1, 0, 0, 0, 0, 0]), MacAddr([1, 0, 0, 0, 0, 0]))
            .metadata_masked(0x10, 0xf0)
            .tunnel_id(7);
        assert_eq!(check_prerequisites(&m), Ok(()));
        assert_eq!(check_prerequisites(&Match::new()), Ok(()));
    }

    #[test]
    fn tcp_without_ip_proto_is_bad_prereq() {
        let err = check(vec![Oxm::EthType(0x0800), Oxm::TcpDst(80)]).unwrap_err();
        assert_eq!(err, MatchError::MissingPrerequisite { field: "tcp_dst", prerequisite: "ip_proto=6" });
        assert_eq!(err.ofp_error(), (4, 9));
        assert_eq!(err.to_string(), "match field `tcp_dst` requires ip_proto=6");
    }

    #[test]
    fn tcp_with_udp_proto_is_bad_prereq() {
        let err = check(vec![Oxm::EthType(0x86dd), Oxm::IpProto(17), Oxm::TcpSrc(1)]).unwrap_err();
        assert_eq!(err.field(), "tcp_src");
        // ip_proto itself needs an IP eth_type: ARP is not one.
        let err = check(vec![Oxm::EthType(0x0806), Oxm::IpProto(6), Oxm::TcpSrc(1)]).unwrap_err();
        assert_eq!(err.field(), "ip_proto");
    }

    #[test]
    fn ipv4_needs_ipv4_eth_type() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::Ipv4Src(a, None)]).is_ok());
        let err = check(vec![Oxm::EthType(0x86dd), Oxm::Ipv4Src(a, None)]).unwrap_err();
        assert_eq!(
            err,
            MatchError::MissingPrerequisite { field: "ipv4_src", prerequisite: "eth_type=0x0800" }
        );
        assert!(check(vec![Oxm::Ipv4Dst(a, None)]).is_err());
    }

    #[test]
    fn prerequisite_after_field_is_bad_prereq() {
        let err = check(vec![Oxm::IpProto(6), Oxm::EthType(0x0800)]).unwrap_err();
        assert_eq!(
            err,
            MatchError::PrerequisiteAfterField {
                field: "ip_proto",
                prerequisite: "eth_type=0x0800 or eth_type=0x86dd"
            }
        );
        assert_eq!(err.ofp_error(), (OFPET_BAD_MATCH, bad_match_code::BAD_PREREQ));
    }

    #[test]
    fn duplicate_field_is_dup_field() {
        let err = check(vec![Oxm::EthType(0x0800), Oxm::EthType(0x0800)]).unwrap_err();
        assert_eq!(err, MatchError::DuplicateField { field: "eth_type" });
        assert_eq!(err.ofp_error(), (4, 10));
    }

    #[test]
    fn arp_fields_need_arp_eth_type() {
        let ok = vec![
            Oxm::EthType(0x0806),
            Oxm::ArpOp(1),
            Oxm::ArpSpa(Ipv4Addr::new(10, 0, 0, 1), None),
            Oxm::ArpTha(MacAddr::ZERO, None),
        ];
        assert!(check(ok).is_ok());
        assert_eq!(check(vec![Oxm::EthType(0x0800), Oxm::ArpOp(1)]).unwrap_err().field(), "arp_op");
    }

    #[test]
    fn vlan_pcp_needs_a_tagged_vlan_vid() {
        assert!(check(vec![Oxm::VlanVid(0x1005, None), Oxm::VlanPcp(3)]).is_ok());
        assert!(check(vec![Oxm::VlanVid(0x1000, Some(0x1000)), Oxm::VlanPcp(3)]).is_ok());
        let none = check(vec![Oxm::VlanVid(0x0000, None), Oxm::VlanPcp(3)]).unwrap_err();
        assert_eq!(
            none,
            MatchError::MissingPrerequisite { field: "vlan_pcp", prerequisite: "vlan_vid!=NONE" }
        );
        assert!(check(vec![Oxm::VlanPcp(3)]).is_err());
    }

    #[test]
    fn nd_fields_need_the_right_icmpv6_type() {
        let base = |t: u8, last: Oxm| vec![Oxm::EthType(0x86dd), Oxm::IpProto(58), Oxm::Icmpv6Type(t), last];
        let target = || Oxm::Ipv6NdTarget(Ipv6Addr::LOCALHOST);
        assert!(check(base(135, target())).is_ok());
        assert!(check(base(136, target())).is_ok());
        assert!(check(base(128, target())).is_err());
        assert!(check(base(135, Oxm::Ipv6NdSll(MacAddr::ZERO))).is_ok());
        assert_eq!(check(base(136, Oxm::Ipv6NdSll(MacAddr::ZERO))).unwrap_err().field(), "ipv6_nd_sll");
        assert!(check(base(136, Oxm::Ipv6NdTll(MacAddr::ZERO))).is_ok());
        assert!(check(base(135, Oxm::Ipv6NdTll(MacAddr::ZERO))).is_err());
        // icmpv6_type itself needs ip_proto=58.
        let err = check(vec![Oxm::EthType(0x86dd), Oxm::IpProto(6), Oxm::Icmpv6Type(135)]).unwrap_err();
        assert_eq!(err.field(), "icmpv6_type");
    }

    #[test]
    fn mpls_and_pbb_need_their_eth_types() {
        assert!(check(vec![Oxm::EthType(0x8847), Oxm::MplsLabel(5), Oxm::MplsBos(1)]).is_ok());
        assert!(check(vec![Oxm::EthType(0x8848), Oxm::MplsTc(2)]).is_ok());
        assert_eq!(check(vec![Oxm::EthType(0x0800), Oxm::MplsLabel(5)]).unwrap_err().field(), "mpls_label");
        assert!(check(vec![Oxm::EthType(0x88e7), Oxm::PbbIsid(0xabcdef, None)]).is_ok());
        assert_eq!(check(vec![Oxm::EthType(0x8847), Oxm::PbbIsid(1, None)]).unwrap_err().field(), "pbb_isid");
    }

    #[test]
    fn udp_sctp_icmp_and_ipv6_prerequisites() {
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::IpProto(17), Oxm::UdpDst(53)]).is_ok());
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::IpProto(6), Oxm::UdpDst(53)]).is_err());
        assert!(check(vec![Oxm::EthType(0x86dd), Oxm::IpProto(132), Oxm::SctpSrc(9)]).is_ok());
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::IpProto(1), Oxm::Icmpv4Type(8)]).is_ok());
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::IpProto(58), Oxm::Icmpv4Type(8)]).is_err());
        assert!(
            check(vec![Oxm::EthType(0x86dd), Oxm::Ipv6Flabel(1, None), Oxm::Ipv6Exthdr(1, None)]).is_ok()
        );
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::Ipv6Src(Ipv6Addr::LOCALHOST, None)]).is_err());
        assert!(check(vec![Oxm::InPhyPort(PortNo(1))]).is_err());
        assert!(check(vec![Oxm::InPort(PortNo(1)), Oxm::InPhyPort(PortNo(1))]).is_ok());
    }

    #[test]
    fn value_outside_mask_is_bad_wildcards() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let m = Ipv4Addr::new(255, 255, 255, 0);
        let err = check(vec![Oxm::EthType(0x0800), Oxm::Ipv4Src(a, Some(m))]).unwrap_err();
        assert_eq!(err, MatchError::ValueOutsideMask { field: "ipv4_src" });
        assert_eq!(err.ofp_error(), (4, 5));
        assert!(check(vec![Oxm::EthType(0x0800), Oxm::Ipv4Src(Ipv4Addr::new(10, 0, 0, 0), Some(m))]).is_ok());
        assert!(check(vec![Oxm::Metadata(0x1ff, Some(0xff))]).is_err());
        assert!(
            check(vec![Oxm::EthDst(MacAddr([3, 0, 0, 0, 0, 0]), Some(MacAddr([1, 0, 0, 0, 0, 0])))]).is_err()
        );
    }

    #[test]
    fn nicira_fields_are_not_checked() {
        let reg0 =
            Oxm::Other { class: 1, field: 0, has_mask: false, body: bytes::Bytes::from_static(&[0; 4]) };
        assert!(check(vec![reg0.clone(), reg0]).is_ok());
    }
}
