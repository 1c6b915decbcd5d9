//! The `ofp_match` envelope (OF1.3.5 §7.2.3.1) and the ergonomic side of [`Match`]: a chainable builder
//! for the fields a controller writes and lookups for the fields it reads.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::{Match, OFPVID_NONE, OFPVID_PRESENT, Oxm, OxmField, oxm_class};
use crate::codec::{PResult, bad_length, bad_value, pad_to, rebase, take_exact};
use crate::types::{MacAddr, PortNo};

/// `OFPMT_OXM`: the only match type OF1.3 defines for use (`ofp_match_type`, §7.2.3.1).
pub const OFPMT_OXM: u16 = 1;
/// `OFPMT_STANDARD`: the OF1.1 fixed match, deprecated and rejected by the decoder.
pub const OFPMT_STANDARD: u16 = 0;
/// Size of `ofp_match` without OXMs (type + length); the empty match is this plus 4 bytes padding.
pub const MATCH_HEADER_LEN: usize = 4;
/// `ofp_match` is padded to a multiple of this (§7.2.3.1).
pub const MATCH_ALIGN: usize = 8;

impl Match {
    /// Parses an `ofp_match` including its trailing padding to 8 bytes.
    ///
    /// Every PACKET_IN carries a match, so this is on the per-packet path: the 4-byte header is read
    /// with one bounds check, and the OXMs are parsed straight off the length-bounded slice.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Match> {
        let Some((&[t0, t1, l0, l1], after_header)) = input.split_first_chunk::<MATCH_HEADER_LEN>() else {
            return Err(match_header_error(input));
        };
        let match_type = u16::from_be_bytes([t0, t1]);
        if match_type != OFPMT_OXM {
            return Err(bad_value(input, "match.type", u64::from(match_type)));
        }
        // `length` counts the 4-byte header and the OXMs but not the padding (§7.2.3.1).
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(oxm_len) = length.checked_sub(MATCH_HEADER_LEN) else {
            return Err(bad_length(after_type(input), "match.length", length));
        };
        // The OXMs are bounded by `length` (what `codec::within` does, written out: the loop runs
        // until the bounded part is used up, so it cannot leave trailing bytes).
        let (mut oxms, rest) = take_exact(after_header, oxm_len, "match.oxm_fields").map(|(r, o)| (o, r))?;
        // An OXM is at least 5 bytes, typical ones 6–12: this avoids regrowth for common matches.
        let mut fields = Vec::with_capacity(oxm_len / 6);
        while !oxms.is_empty() {
            let (next, oxm) = Oxm::parse(oxms).map_err(|e| rebase(e, rest.len()))?;
            fields.push(oxm);
            oxms = next;
        }
        let padding = length.next_multiple_of(MATCH_ALIGN) - length;
        let (rest, _) = take_exact(rest, padding, "match.pad")?;
        Ok((rest, Match { fields }))
    }

    /// Appends the `ofp_match` with its length and padding computed.
    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        // Type and a placeholder length in one write; the length (without padding) is patched after.
        let [t0, t1] = OFPMT_OXM.to_be_bytes();
        buf.put_slice(&[t0, t1, 0, 0]);
        for oxm in &self.fields {
            oxm.emit(buf);
        }
        let len = u16::try_from(buf.len() - start).unwrap_or(u16::MAX);
        if let Some(field) = buf.get_mut(start + 2..start + MATCH_HEADER_LEN) {
            field.copy_from_slice(&len.to_be_bytes());
        }
        pad_to(buf, start, MATCH_ALIGN);
    }

    /// Encoded size including padding.
    pub fn encoded_len(&self) -> usize {
        let len = MATCH_HEADER_LEN + self.fields.iter().map(Oxm::encoded_len).sum::<usize>();
        len.next_multiple_of(MATCH_ALIGN)
    }

    /// An empty match (matches every packet).
    pub fn new() -> Match {
        Match::default()
    }

    /// Same as [`Match::new`], for readers who expect a builder.
    pub fn builder() -> Match {
        Match::default()
    }

    /// Adds `oxm`, replacing a basic field of the same kind if there is one. New basic fields are kept
    /// in field-number order, which always puts a prerequisite before the fields that need it, as
    /// OF1.3.5 §7.2.3.6 requires (`eth_type` 5 < `ip_proto` 10 < `tcp_dst` 14, ...).
    /// [`Oxm::Other`] TLVs are appended as given.
    pub fn with(mut self, oxm: Oxm) -> Match {
        self.insert(oxm);
        self
    }

    /// In-place form of [`Match::with`].
    pub fn insert(&mut self, oxm: Oxm) {
        let Some(kind) = oxm.basic_field() else {
            self.fields.push(oxm);
            return;
        };
        if let Some(slot) = self.fields.iter_mut().find(|f| f.basic_field() == Some(kind)) {
            *slot = oxm;
            return;
        }
        let number = kind.value();
        let at = self
            .fields
            .iter()
            .position(|f| f.basic_field().is_some_and(|k| k.value() > number))
            .unwrap_or(self.fields.len());
        self.fields.insert(at, oxm);
    }

    /// The first TLV for basic field `kind`, if present.
    pub fn get(&self, kind: OxmField) -> Option<&Oxm> {
        self.fields.iter().find(|f| f.basic_field() == Some(kind))
    }

    /// Removes every TLV for basic field `kind`; returns whether one was there.
    pub fn remove(&mut self, kind: OxmField) -> bool {
        let before = self.fields.len();
        self.fields.retain(|f| f.basic_field() != Some(kind));
        self.fields.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }
}

/// What follows the 2-byte match type (all of `input` if it is shorter): errors in the length field
/// are reported from there.
fn after_type(input: &[u8]) -> &[u8] {
    input.get(2..).unwrap_or(input)
}

/// The error for an input too short for the match header, naming the first field that is cut.
#[cold]
fn match_header_error(input: &[u8]) -> nom::Err<crate::codec::WireErr> {
    // Same order as the full-length path: the type is checked before the length is read.
    match input.first_chunk::<2>().map(|t| u16::from_be_bytes(*t)) {
        None => crate::codec::fail(input, "match.type", crate::error::DecodeErrorKind::Truncated),
        Some(match_type) if match_type != OFPMT_OXM => bad_value(input, "match.type", u64::from(match_type)),
        Some(_) => {
            crate::codec::fail(after_type(input), "match.length", crate::error::DecodeErrorKind::Truncated)
        }
    }
}

/// Chainable setters, one per common field. Each replaces an earlier value of the same field.
impl Match {
    pub fn in_port(self, port: PortNo) -> Match {
        self.with(Oxm::InPort(port))
    }
    pub fn in_phy_port(self, port: PortNo) -> Match {
        self.with(Oxm::InPhyPort(port))
    }
    pub fn metadata(self, value: u64) -> Match {
        self.with(Oxm::Metadata(value, None))
    }
    pub fn metadata_masked(self, value: u64, mask: u64) -> Match {
        self.with(Oxm::Metadata(value, Some(mask)))
    }
    pub fn eth_dst(self, mac: MacAddr) -> Match {
        self.with(Oxm::EthDst(mac, None))
    }
    pub fn eth_dst_masked(self, mac: MacAddr, mask: MacAddr) -> Match {
        self.with(Oxm::EthDst(mac, Some(mask)))
    }
    pub fn eth_src(self, mac: MacAddr) -> Match {
        self.with(Oxm::EthSrc(mac, None))
    }
    pub fn eth_src_masked(self, mac: MacAddr, mask: MacAddr) -> Match {
        self.with(Oxm::EthSrc(mac, Some(mask)))
    }
    pub fn eth_type(self, eth_type: u16) -> Match {
        self.with(Oxm::EthType(eth_type))
    }
    /// Packets tagged with VLAN `vid` (the `OFPVID_PRESENT` bit is added here).
    pub fn vlan_vid(self, vid: u16) -> Match {
        self.with(Oxm::VlanVid(OFPVID_PRESENT | (vid & 0x0fff), None))
    }
    /// Packets without a VLAN tag (`OFPVID_NONE`).
    pub fn vlan_untagged(self) -> Match {
        self.with(Oxm::VlanVid(OFPVID_NONE, None))
    }
    /// Packets with any VLAN tag (`OFPVID_PRESENT/OFPVID_PRESENT`, §7.2.3.8 Table 13).
    pub fn vlan_tagged(self) -> Match {
        self.with(Oxm::VlanVid(OFPVID_PRESENT, Some(OFPVID_PRESENT)))
    }
    pub fn vlan_pcp(self, pcp: u8) -> Match {
        self.with(Oxm::VlanPcp(pcp))
    }
    pub fn ip_dscp(self, dscp: u8) -> Match {
        self.with(Oxm::IpDscp(dscp))
    }
    pub fn ip_ecn(self, ecn: u8) -> Match {
        self.with(Oxm::IpEcn(ecn))
    }
    pub fn ip_proto(self, proto: u8) -> Match {
        self.with(Oxm::IpProto(proto))
    }
    pub fn ipv4_src(self, addr: Ipv4Addr) -> Match {
        self.with(Oxm::Ipv4Src(addr, None))
    }
    pub fn ipv4_src_masked(self, addr: Ipv4Addr, mask: Ipv4Addr) -> Match {
        self.with(Oxm::Ipv4Src(addr, Some(mask)))
    }
    pub fn ipv4_dst(self, addr: Ipv4Addr) -> Match {
        self.with(Oxm::Ipv4Dst(addr, None))
    }
    pub fn ipv4_dst_masked(self, addr: Ipv4Addr, mask: Ipv4Addr) -> Match {
        self.with(Oxm::Ipv4Dst(addr, Some(mask)))
    }
    pub fn tcp_src(self, port: u16) -> Match {
        self.with(Oxm::TcpSrc(port))
    }
    pub fn tcp_dst(self, port: u16) -> Match {
        self.with(Oxm::TcpDst(port))
    }
    pub fn udp_src(self, port: u16) -> Match {
        self.with(Oxm::UdpSrc(port))
    }
    pub fn udp_dst(self, port: u16) -> Match {
        self.with(Oxm::UdpDst(port))
    }
    pub fn sctp_src(self, port: u16) -> Match {
        self.with(Oxm::SctpSrc(port))
    }
    pub fn sctp_dst(self, port: u16) -> Match {
        self.with(Oxm::SctpDst(port))
    }
    pub fn icmpv4_type(self, icmp_type: u8) -> Match {
        self.with(Oxm::Icmpv4Type(icmp_type))
    }
    pub fn icmpv4_code(self, code: u8) -> Match {
        self.with(Oxm::Icmpv4Code(code))
    }
    pub fn arp_op(self, op: u16) -> Match {
        self.with(Oxm::ArpOp(op))
    }
    pub fn arp_spa(self, addr: Ipv4Addr) -> Match {
        self.with(Oxm::ArpSpa(addr, None))
    }
    pub fn arp_tpa(self, addr: Ipv4Addr) -> Match {
        self.with(Oxm::ArpTpa(addr, None))
    }
    pub fn arp_sha(self, mac: MacAddr) -> Match {
        self.with(Oxm::ArpSha(mac, None))
    }
    pub fn arp_tha(self, mac: MacAddr) -> Match {
        self.with(Oxm::ArpTha(mac, None))
    }
    pub fn ipv6_src(self, addr: Ipv6Addr) -> Match {
        self.with(Oxm::Ipv6Src(addr, None))
    }
    pub fn ipv6_src_masked(self, addr: Ipv6Addr, mask: Ipv6Addr) -> Match {
        self.with(Oxm::Ipv6Src(addr, Some(mask)))
    }
    pub fn ipv6_dst(self, addr: Ipv6Addr) -> Match {
        self.with(Oxm::Ipv6Dst(addr, None))
    }
    pub fn ipv6_dst_masked(self, addr: Ipv6Addr, mask: Ipv6Addr) -> Match {
        self.with(Oxm::Ipv6Dst(addr, Some(mask)))
    }
    pub fn icmpv6_type(self, icmp_type: u8) -> Match {
        self.with(Oxm::Icmpv6Type(icmp_type))
    }
    pub fn icmpv6_code(self, code: u8) -> Match {
        self.with(Oxm::Icmpv6Code(code))
    }
    pub fn mpls_label(self, label: u32) -> Match {
        self.with(Oxm::MplsLabel(label))
    }
    pub fn tunnel_id(self, id: u64) -> Match {
        self.with(Oxm::TunnelId(id, None))
    }
}

/// Lookups for what a controller reads from PACKET_IN and FLOW_REMOVED matches. Each returns the
/// value of the first TLV for the field, ignoring any mask.
impl Match {
    pub fn get_in_port(&self) -> Option<PortNo> {
        self.fields.iter().find_map(|f| if let Oxm::InPort(p) = f { Some(*p) } else { None })
    }
    pub fn get_in_phy_port(&self) -> Option<PortNo> {
        self.fields.iter().find_map(|f| if let Oxm::InPhyPort(p) = f { Some(*p) } else { None })
    }
    pub fn get_metadata(&self) -> Option<u64> {
        self.fields.iter().find_map(|f| if let Oxm::Metadata(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_eth_dst(&self) -> Option<MacAddr> {
        self.fields.iter().find_map(|f| if let Oxm::EthDst(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_eth_src(&self) -> Option<MacAddr> {
        self.fields.iter().find_map(|f| if let Oxm::EthSrc(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_eth_type(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::EthType(v) = f { Some(*v) } else { None })
    }
    /// The raw `vlan_vid` value, `OFPVID_PRESENT` bit included.
    pub fn get_vlan_vid(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::VlanVid(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_ip_proto(&self) -> Option<u8> {
        self.fields.iter().find_map(|f| if let Oxm::IpProto(v) = f { Some(*v) } else { None })
    }
    pub fn get_ipv4_src(&self) -> Option<Ipv4Addr> {
        self.fields.iter().find_map(|f| if let Oxm::Ipv4Src(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_ipv4_dst(&self) -> Option<Ipv4Addr> {
        self.fields.iter().find_map(|f| if let Oxm::Ipv4Dst(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_tcp_src(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::TcpSrc(v) = f { Some(*v) } else { None })
    }
    pub fn get_tcp_dst(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::TcpDst(v) = f { Some(*v) } else { None })
    }
    pub fn get_udp_src(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::UdpSrc(v) = f { Some(*v) } else { None })
    }
    pub fn get_udp_dst(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::UdpDst(v) = f { Some(*v) } else { None })
    }
    pub fn get_ipv6_src(&self) -> Option<Ipv6Addr> {
        self.fields.iter().find_map(|f| if let Oxm::Ipv6Src(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_ipv6_dst(&self) -> Option<Ipv6Addr> {
        self.fields.iter().find_map(|f| if let Oxm::Ipv6Dst(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_arp_op(&self) -> Option<u16> {
        self.fields.iter().find_map(|f| if let Oxm::ArpOp(v) = f { Some(*v) } else { None })
    }
    pub fn get_arp_spa(&self) -> Option<Ipv4Addr> {
        self.fields.iter().find_map(|f| if let Oxm::ArpSpa(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_arp_tpa(&self) -> Option<Ipv4Addr> {
        self.fields.iter().find_map(|f| if let Oxm::ArpTpa(v, _) = f { Some(*v) } else { None })
    }
    pub fn get_tunnel_id(&self) -> Option<u64> {
        self.fields.iter().find_map(|f| if let Oxm::TunnelId(v, _) = f { Some(*v) } else { None })
    }
    /// Whether every TLV is a basic-class field (no Nicira or experimenter OXMs).
    pub fn is_basic_only(&self) -> bool {
        self.fields.iter().all(|f| f.class() == oxm_class::OPENFLOW_BASIC && f.basic_field().is_some())
    }
}

/// ovs-ofctl-like: `eth_type=0x0800,ipv4_dst=10.0.0.100,ip_proto=6,tcp_dst=80`; an empty match prints
/// nothing (as ovs-ofctl omits it).
impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, oxm) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{oxm}")?;
        }
        Ok(())
    }
}
