//! Just enough link, IP and TCP header parsing to find TCP payloads in a capture.
//!
//! Hand-written with nom rather than taken from a packet crate (etherparse, pnet): we need six fields
//! (addresses, ports, sequence number, flags, payload), the parsing is ~150 lines, it follows the same
//! nom style as the rest of the crate, and it adds no dependency to a wire-format library. Anything
//! this does not understand (fragments, non-TCP, unknown link types, malformed headers) yields `None`
//! and the packet is skipped: a dump tool must not fail on unrelated traffic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::IResult;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32, le_u32};

/// Link types we can unwrap (tcpdump.org/linktypes.html).
pub(crate) mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
}

const IPPROTO_TCP: u8 = 6;

/// TCP flag bits (RFC 9293 §3.1). Only SYN matters for reassembly: FIN and RST end a stream that
/// the end of the capture ends anyway.
pub(crate) mod tcp_flags {
    pub const SYN: u8 = 0x02;
}

/// A TCP segment found in a captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

impl TcpSegment<'_> {
    pub(crate) fn is_syn(&self) -> bool {
        self.flags & tcp_flags::SYN != 0
    }
}

type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// Finds the TCP segment in a frame of link type `linktype`, if there is one.
pub(crate) fn tcp_segment(linktype: i32, frame: &[u8]) -> Option<TcpSegment<'_>> {
    let (ethertype, ip) = match linktype {
        linktype::ETHERNET => ethernet(frame).ok()?.1,
        linktype::LINUX_SLL => linux_sll(frame).ok()?.1,
        linktype::LINUX_SLL2 => linux_sll2(frame).ok()?.1,
        linktype::NULL | linktype::LOOP => bsd_loopback(linktype, frame).ok()?.1,
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => (ip_version_ethertype(frame)?, frame),
        _ => return None,
    };
    match ethertype {
        ethertype::IPV4 => ipv4(ip),
        ethertype::IPV6 => ipv6(ip),
        _ => None,
    }
}

/// Whether frames of `linktype` can be searched for TCP.
pub(crate) fn supported(linktype: i32) -> bool {
    use linktype::*;
    matches!(linktype, NULL | ETHERNET | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2)
}

fn ip_version_ethertype(ip: &[u8]) -> Option<u16> {
    match ip.first()? >> 4 {
        4 => Some(ethertype::IPV4),
        6 => Some(ethertype::IPV6),
        _ => None,
    }
}

/// Ethernet II with any number of 802.1Q / 802.1ad tags (IEEE 802.3 §3.2, 802.1Q §9).
fn ethernet(i: &[u8]) -> Res<'_, (u16, &[u8])> {
    let (mut i, _macs) = take(12usize)(i)?;
    loop {
        let (rest, ethertype) = be_u16(i)?;
        if ethertype == ethertype::VLAN || ethertype == ethertype::QINQ {
            let (rest, _tci) = be_u16(rest)?;
            i = rest;
            continue;
        }
        return Ok((&[], (ethertype, rest)));
    }
}

/// Linux cooked capture v1: 16-byte header, protocol in the last two bytes.
fn linux_sll(i: &[u8]) -> Res<'_, (u16, &[u8])> {
    let (i, _) = take(14usize)(i)?;
    let (i, protocol) = be_u16(i)?;
    Ok((&[], (protocol, i)))
}

/// Linux cooked capture v2: 20-byte header, protocol first.
fn linux_sll2(i: &[u8]) -> Res<'_, (u16, &[u8])> {
    let (i, protocol) = be_u16(i)?;
    let (i, _) = take(18usize)(i)?;
    Ok((&[], (protocol, i)))
}

/// BSD loopback: a 4-byte address family, host byte order for NULL, network order for LOOP.
fn bsd_loopback(linktype: i32, i: &[u8]) -> Res<'_, (u16, &[u8])> {
    let (rest, family) = if linktype == linktype::LOOP { be_u32(i)? } else { le_u32(i)? };
    // Written by the capturing host in its own byte order: accept either.
    let family = if family > 0xffff { family.swap_bytes() } else { family };
    let ethertype = match family {
        2 => ethertype::IPV4,
        // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
        10 | 24 | 28 | 30 => ethertype::IPV6,
        _ => 0,
    };
    Ok((&[], (ethertype, rest)))
}

/// The IPv4 header fields we use (RFC 791 §3.1).
struct Ipv4Header {
    ver_ihl: u8,
    total_len: u16,
    flags_fragment: u16,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

fn ipv4_header(i: &[u8]) -> Res<'_, Ipv4Header> {
    let (i, ver_ihl) = be_u8(i)?;
    let (i, _tos) = be_u8(i)?;
    let (i, total_len) = be_u16(i)?;
    let (i, _id) = be_u16(i)?;
    let (i, flags_fragment) = be_u16(i)?;
    let (i, _ttl) = be_u8(i)?;
    let (i, protocol) = be_u8(i)?;
    let (i, _checksum) = be_u16(i)?;
    let (i, src) = be_u32(i)?;
    let (i, dst) = be_u32(i)?;
    let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
    Ok((i, Ipv4Header { ver_ihl, total_len, flags_fragment, protocol, src, dst }))
}

/// IPv4. Fragments are skipped: OpenFlow over TCP is not fragmented in practice.
fn ipv4(i: &[u8]) -> Option<TcpSegment<'_>> {
    let (_, h) = ipv4_header(i).ok()?;
    let header_len = usize::from(h.ver_ihl & 0x0f) * 4;
    let more_fragments = h.flags_fragment & 0x2000 != 0;
    let fragment_offset = h.flags_fragment & 0x1fff;
    if h.ver_ihl >> 4 != 4
        || header_len < 20
        || h.protocol != IPPROTO_TCP
        || more_fragments
        || fragment_offset != 0
    {
        return None;
    }
    // total_len bounds the datagram: Ethernet pads short frames, and that padding is not TCP data.
    // A capture with TSO offload may record total_len 0; then take what was captured.
    let end = if h.total_len == 0 { i.len() } else { usize::from(h.total_len).min(i.len()) };
    let body = i.get(header_len..end)?;
    tcp(IpAddr::V4(h.src), IpAddr::V4(h.dst), body)
}

/// The fixed IPv6 header fields we use (RFC 8200 §3).
struct Ipv6Header {
    version: u8,
    payload_len: u16,
    next_header: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
}

fn ipv6_header(i: &[u8]) -> Res<'_, Ipv6Header> {
    let (i, ver_class_flow) = be_u32(i)?;
    let (i, payload_len) = be_u16(i)?;
    let (i, next_header) = be_u8(i)?;
    let (i, _hop_limit) = be_u8(i)?;
    let (i, src) = nom::number::complete::be_u128(i)?;
    let (i, dst) = nom::number::complete::be_u128(i)?;
    let version = (ver_class_flow >> 28) as u8;
    Ok((
        i,
        Ipv6Header { version, payload_len, next_header, src: Ipv6Addr::from(src), dst: Ipv6Addr::from(dst) },
    ))
}

/// IPv6, skipping hop-by-hop, routing and destination-options extension headers.
fn ipv6(i: &[u8]) -> Option<TcpSegment<'_>> {
    let (rest, h) = ipv6_header(i).ok()?;
    if h.version != 6 {
        return None;
    }
    let end = if h.payload_len == 0 { rest.len() } else { usize::from(h.payload_len).min(rest.len()) };
    let mut body = rest.get(..end)?;
    let mut next_header = h.next_header;
    // Hop-by-hop (0), routing (43), destination options (60): length in 8-octet units, not counting
    // the first 8 (RFC 8200 §4.3-4.6). Anything else (fragment 44, ESP, ...) ends the search.
    while matches!(next_header, 0 | 43 | 60) {
        let (&nh, &len) = (body.first()?, body.get(1)?);
        let ext_len = (usize::from(len) + 1) * 8;
        body = body.get(ext_len..)?;
        next_header = nh;
    }
    if next_header != IPPROTO_TCP {
        return None;
    }
    tcp(IpAddr::V6(h.src), IpAddr::V6(h.dst), body)
}

/// TCP (RFC 9293 §3.1).
fn tcp(src: IpAddr, dst: IpAddr, i: &[u8]) -> Option<TcpSegment<'_>> {
    let parse = |i| -> Res<'_, (u16, u16, u32, u8, u8)> {
        let (i, src_port) = be_u16(i)?;
        let (i, dst_port) = be_u16(i)?;
        let (i, seq) = be_u32(i)?;
        let (i, _ack) = be_u32(i)?;
        let (i, data_offset) = be_u8(i)?;
        let (i, flags) = be_u8(i)?;
        Ok((i, (src_port, dst_port, seq, data_offset, flags)))
    };
    let (_, (src_port, dst_port, seq, data_offset, flags)) = parse(i).ok()?;
    let header_len = usize::from(data_offset >> 4) * 4;
    if header_len < 20 {
        return None;
    }
    let payload = i.get(header_len..)?;
    Some(TcpSegment { src, dst, src_port, dst_port, seq, flags, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::testcap::{Seg, frame_ethernet_ipv4, frame_ipv6_raw};

    #[test]
    fn finds_tcp_in_ethernet_ipv4_with_padding() {
        let seg = Seg::new([10, 0, 0, 1], 45678, [10, 0, 0, 2], 6653, 1000, &[1, 2, 3]);
        let mut frame = frame_ethernet_ipv4(&seg);
        frame.extend_from_slice(&[0; 20]); // Ethernet padding beyond the IP total length
        let found = tcp_segment(linktype::ETHERNET, &frame).unwrap();
        assert_eq!(found.payload, &[1, 2, 3]);
        assert_eq!((found.src_port, found.dst_port, found.seq), (45678, 6653, 1000));
        assert_eq!(found.src, IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn finds_tcp_in_raw_ipv6_and_vlan_and_sll() {
        let seg = Seg::new([10, 0, 0, 1], 45678, [10, 0, 0, 2], 6653, 7, b"hi");
        let v6 = frame_ipv6_raw(&seg);
        let found = tcp_segment(linktype::RAW, &v6).unwrap();
        assert_eq!(found.payload, b"hi");
        assert!(found.src.is_ipv6());

        let eth = frame_ethernet_ipv4(&seg);
        let mut tagged = eth[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&eth[12..]);
        assert_eq!(tcp_segment(linktype::ETHERNET, &tagged).unwrap().payload, b"hi");

        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&eth[14..]);
        assert_eq!(tcp_segment(linktype::LINUX_SLL, &sll).unwrap().payload, b"hi");
    }

    #[test]
    fn skips_what_it_cannot_read() {
        let seg = Seg::new([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, 0, b"x");
        let frame = frame_ethernet_ipv4(&seg);
        for cut in 0..frame.len() - 1 {
            // Every truncation either fails cleanly or yields a shorter payload; never panics.
            if let Some(s) = tcp_segment(linktype::ETHERNET, &frame[..cut]) {
                assert!(s.payload.is_empty());
            }
        }
        let mut udp = frame.clone();
        udp[14 + 9] = 17; // IPv4 protocol = UDP
        assert_eq!(tcp_segment(linktype::ETHERNET, &udp), None);
        let mut fragment = frame.clone();
        fragment[14 + 6] = 0x20; // more fragments
        assert_eq!(tcp_segment(linktype::ETHERNET, &fragment), None);
        assert_eq!(tcp_segment(147, &frame), None);
    }
}
