//! Frames the LB app reads and writes: the TCP flow key of a PACKET_IN, ARP for the VIP (answer
//! clients asking for it; ask for backends' MACs and learn from their replies), and the RST for a
//! connection no backend takes any more. Hand-written over
//! byte slices: every read is bounds-checked and a malformed frame is `None`, never a panic.

use std::net::Ipv4Addr;

use ofproto::MacAddr;

use super::rules::{ETH_TYPE_ARP, ETH_TYPE_IPV4, IP_PROTO_TCP};

const ETH_HEADER_LEN: usize = 14;
const ARP_LEN: usize = 28;
pub const ARP_OP_REQUEST: u16 = 1;
pub const ARP_OP_REPLY: u16 = 2;
/// TCP header flags (`TcpFrame::tcp_flags`).
pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;

/// The addresses of a TCP segment over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFrame {
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    pub ip_src: Ipv4Addr,
    pub ip_dst: Ipv4Addr,
    pub tcp_src: u16,
    pub tcp_dst: u16,
    /// TCP flags byte (SYN = 0x02, RST = 0x04, ...).
    pub tcp_flags: u8,
}

fn u16_at(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?))
}

fn mac_at(frame: &[u8], at: usize) -> Option<MacAddr> {
    Some(MacAddr(frame.get(at..at + 6)?.try_into().ok()?))
}

fn ip_at(frame: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b: [u8; 4] = frame.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// The TCP addresses of an untagged Ethernet/IPv4 frame, or `None` for anything else (other
/// protocols, fragments after the first, truncated or malformed headers).
pub fn parse_tcp(frame: &[u8]) -> Option<TcpFrame> {
    if u16_at(frame, 12)? != ETH_TYPE_IPV4 {
        return None;
    }
    let ip = frame.get(ETH_HEADER_LEN..)?;
    let version_ihl = *ip.first()?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl < 20 || *ip.get(9)? != IP_PROTO_TCP {
        return None;
    }
    // A non-zero fragment offset means no TCP header here (RFC 791 §3.1).
    if u16_at(ip, 6)? & 0x1fff != 0 {
        return None;
    }
    let tcp = ip.get(ihl..)?;
    Some(TcpFrame {
        eth_dst: mac_at(frame, 0)?,
        eth_src: mac_at(frame, 6)?,
        ip_src: ip_at(ip, 12)?,
        ip_dst: ip_at(ip, 16)?,
        tcp_src: u16_at(tcp, 0)?,
        tcp_dst: u16_at(tcp, 2)?,
        tcp_flags: *tcp.get(13)?,
    })
}

/// An Ethernet/IPv4 ARP packet (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

/// The ARP packet in an untagged Ethernet frame, if it is Ethernet/IPv4 ARP.
pub fn parse_arp(frame: &[u8]) -> Option<Arp> {
    if u16_at(frame, 12)? != ETH_TYPE_ARP {
        return None;
    }
    let arp = frame.get(ETH_HEADER_LEN..ETH_HEADER_LEN + ARP_LEN)?;
    // htype Ethernet (1), ptype IPv4, hlen 6, plen 4.
    if u16_at(arp, 0)? != 1 || u16_at(arp, 2)? != ETH_TYPE_IPV4 || arp[4] != 6 || arp[5] != 4 {
        return None;
    }
    Some(Arp {
        op: u16_at(arp, 6)?,
        sender_mac: mac_at(arp, 8)?,
        sender_ip: ip_at(arp, 14)?,
        target_mac: mac_at(arp, 18)?,
        target_ip: ip_at(arp, 24)?,
    })
}

/// Builds an Ethernet frame carrying `arp`, padded to the 60-byte minimum.
pub fn arp_frame(eth_dst: MacAddr, eth_src: MacAddr, arp: &Arp) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&eth_dst.0);
    f.extend_from_slice(&eth_src.0);
    f.extend_from_slice(&ETH_TYPE_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes());
    f.extend_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    f.extend_from_slice(&[6, 4]);
    f.extend_from_slice(&arp.op.to_be_bytes());
    f.extend_from_slice(&arp.sender_mac.0);
    f.extend_from_slice(&arp.sender_ip.octets());
    f.extend_from_slice(&arp.target_mac.0);
    f.extend_from_slice(&arp.target_ip.octets());
    f.resize(60, 0);
    f
}

/// The reply to an ARP request for `vip`: "vip is at vip_mac", sent back to the asker. `None` if the
/// frame is not an ARP request for `vip` (replies, other targets, gratuitous ARP from the VIP itself).
pub fn arp_reply_for_vip(request: &[u8], vip: Ipv4Addr, vip_mac: MacAddr) -> Option<Vec<u8>> {
    let req = parse_arp(request)?;
    if req.op != ARP_OP_REQUEST || req.target_ip != vip || req.sender_ip == vip {
        return None;
    }
    let reply = Arp {
        op: ARP_OP_REPLY,
        sender_mac: vip_mac,
        sender_ip: vip,
        target_mac: req.sender_mac,
        target_ip: req.sender_ip,
    };
    Some(arp_frame(req.sender_mac, vip_mac, &reply))
}

/// A broadcast ARP request from the VIP asking for `target` (a backend whose MAC is not configured);
/// the reply is addressed to the VIP and so hits the VIP's ARP trap rule.
pub fn arp_request_from_vip(vip: Ipv4Addr, vip_mac: MacAddr, target: Ipv4Addr) -> Vec<u8> {
    let req = Arp {
        op: ARP_OP_REQUEST,
        sender_mac: vip_mac,
        sender_ip: vip,
        target_mac: MacAddr::ZERO,
        target_ip: target,
    };
    arp_frame(MacAddr::BROADCAST, vip_mac, &req)
}

/// Ones'-complement sum of `bytes` as big-endian 16-bit words (RFC 1071), added to `sum`.
fn ones_complement_sum(bytes: &[u8], mut sum: u32) -> u32 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A copy of an Ethernet/IPv4/TCP frame with both checksums computed afresh: the IPv4 header's
/// (RFC 791 §3.1) and the TCP segment's over the pseudo-header (RFC 9293 §3.1). `None` when the
/// frame is not unfragmented TCP over IPv4 or does not hold the whole datagram (a truncated
/// PACKET_IN), in which case nothing can be recomputed.
///
/// Why: a sender with checksum offload (every veth, unless `ethtool -K tx off`) hands the switch a
/// TCP segment whose checksum field holds only the pseudo-header sum, to be completed by "the NIC".
/// Open vSwitch's userspace datapath with `userspace-tso-enable` carries that "checksum partial" mark
/// along when it forwards the packet itself, but a PACKET_IN loses it: the frame the controller sends
/// back in a PACKET_OUT reaches the receiver with a wrong checksum and is dropped (`TcpInCsumErrors`).
/// For a flow's first SYN that costs the client a 1 s retransmission timeout.
pub fn with_checksums_completed(frame: &[u8]) -> Option<Vec<u8>> {
    if u16_at(frame, 12)? != ETH_TYPE_IPV4 {
        return None;
    }
    let ip = frame.get(ETH_HEADER_LEN..)?;
    let version_ihl = *ip.first()?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl < 20 || *ip.get(9)? != IP_PROTO_TCP {
        return None;
    }
    // Fragments (MF set or a non-zero offset) cannot be summed alone.
    if u16_at(ip, 6)? & 0x3fff != 0 {
        return None;
    }
    let total_len = usize::from(u16_at(ip, 2)?);
    if total_len < ihl + 20 || ip.len() < total_len {
        return None;
    }
    let mut out = frame.to_vec();
    let ip_start = ETH_HEADER_LEN;
    let tcp_start = ip_start + ihl;
    let tcp_end = ip_start + total_len;
    // IPv4 header checksum.
    out[ip_start + 10..ip_start + 12].fill(0);
    let ip_sum = fold(ones_complement_sum(&out[ip_start..tcp_start], 0));
    out[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    // TCP checksum: pseudo-header (source, destination, zero + protocol, TCP length), then segment.
    out[tcp_start + 16..tcp_start + 18].fill(0);
    let tcp_len = (total_len - ihl) as u32;
    let mut sum = ones_complement_sum(&out[ip_start + 12..ip_start + 20], 0);
    sum += u32::from(IP_PROTO_TCP) + tcp_len;
    let tcp_sum = fold(ones_complement_sum(&out[tcp_start..tcp_end], sum));
    out[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    Some(out)
}

/// The RST a server would send for `segment` (a client's TCP segment that no connection takes any
/// more), from `(from_mac, from_ip, from_port)` back to the segment's sender, with both checksums
/// (RFC 9293 §3.10.7.1: a segment with ACK gets `SEQ = SEG.ACK`; one without gets `SEQ = 0` and
/// `ACK = SEG.SEQ + SEG.LEN`). `None` for a segment that is itself a RST (never answered) or not
/// whole TCP over IPv4.
pub fn tcp_reset_for(
    segment: &[u8],
    from_mac: MacAddr,
    from_ip: Ipv4Addr,
    from_port: u16,
) -> Option<Vec<u8>> {
    let s = Segment::parse(segment)?;
    let (seq, ack, flags) = if s.tcp.tcp_flags & 0x10 != 0 {
        (s.ack, 0, 0x04)
    } else {
        // SYN and FIN each take one sequence number.
        let len =
            s.payload_len + u32::from(s.tcp.tcp_flags & 0x02 != 0) + u32::from(s.tcp.tcp_flags & 0x01 != 0);
        (0, s.seq.wrapping_add(len), 0x14)
    };
    let from = (from_mac, from_ip, from_port);
    Some(reset_frame(from, (s.tcp.eth_src, s.tcp.ip_src, s.tcp.tcp_src), seq, ack, flags))
}

/// A TCP segment's addresses and sequence space; `None` for a RST or anything but whole TCP/IPv4.
struct Segment {
    tcp: TcpFrame,
    seq: u32,
    ack: u32,
    payload_len: u32,
}

impl Segment {
    fn parse(frame: &[u8]) -> Option<Segment> {
        let tcp = parse_tcp(frame)?;
        if tcp.tcp_flags & 0x04 != 0 {
            return None;
        }
        let ip = frame.get(ETH_HEADER_LEN..)?;
        let ihl = usize::from(ip.first()? & 0x0f) * 4;
        let total_len = usize::from(u16_at(ip, 2)?);
        let seg = ip.get(ihl..)?;
        let data_offset = usize::from(seg.get(12)? >> 4) * 4;
        Some(Segment {
            tcp,
            seq: u32::from_be_bytes(seg.get(4..8)?.try_into().ok()?),
            ack: u32::from_be_bytes(seg.get(8..12)?.try_into().ok()?),
            payload_len: total_len.saturating_sub(ihl + data_offset) as u32,
        })
    }
}

/// An Ethernet/IPv4/TCP segment with no payload from `from` to `to` (MAC, address, port), checksums
/// complete.
fn reset_frame(
    from: (MacAddr, Ipv4Addr, u16),
    to: (MacAddr, Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_HEADER_LEN + 40);
    f.extend_from_slice(&to.0.0);
    f.extend_from_slice(&from.0.0);
    f.extend_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    // IPv4: version/IHL, DSCP, total length 40, id, DF, TTL 64, TCP, checksum (completed below).
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, IP_PROTO_TCP, 0, 0]);
    f.extend_from_slice(&from.1.octets());
    f.extend_from_slice(&to.1.octets());
    f.extend_from_slice(&from.2.to_be_bytes());
    f.extend_from_slice(&to.2.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0, 0, 0, 0, 0, 0]);
    with_checksums_completed(&f).unwrap_or(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
    const VIP_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 0]);
    const H1: MacAddr = MacAddr([0, 0, 0, 0, 0, 1]);
    const H1_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn request(target: Ipv4Addr) -> Vec<u8> {
        let arp = Arp {
            op: ARP_OP_REQUEST,
            sender_mac: H1,
            sender_ip: H1_IP,
            target_mac: MacAddr::ZERO,
            target_ip: target,
        };
        arp_frame(MacAddr::BROADCAST, H1, &arp)
    }

    #[test]
    fn answers_arp_for_the_vip_only() {
        let reply = arp_reply_for_vip(&request(VIP), VIP, VIP_MAC).expect("a request for the VIP");
        assert_eq!(reply.len(), 60);
        assert_eq!(&reply[0..6], &H1.0, "unicast back to the asker");
        assert_eq!(&reply[6..12], &VIP_MAC.0);
        assert_eq!(
            parse_arp(&reply),
            Some(Arp {
                op: ARP_OP_REPLY,
                sender_mac: VIP_MAC,
                sender_ip: VIP,
                target_mac: H1,
                target_ip: H1_IP
            })
        );
        assert_eq!(arp_reply_for_vip(&request(Ipv4Addr::new(10, 0, 0, 7)), VIP, VIP_MAC), None);
        assert_eq!(arp_reply_for_vip(&reply, VIP, VIP_MAC), None, "replies are not answered");
    }

    #[test]
    fn arp_request_from_vip_round_trips() {
        let f = arp_request_from_vip(VIP, VIP_MAC, Ipv4Addr::new(10, 0, 0, 11));
        let arp = parse_arp(&f).expect("valid ARP");
        assert_eq!(
            (arp.op, arp.sender_ip, arp.target_ip),
            (ARP_OP_REQUEST, VIP, Ipv4Addr::new(10, 0, 0, 11))
        );
        assert_eq!(&f[0..6], &[0xff; 6]);
    }

    fn tcp_syn() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&VIP_MAC.0);
        f.extend_from_slice(&H1.0);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&H1_IP.octets());
        ip.extend_from_slice(&VIP.octets());
        f.extend_from_slice(&ip);
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40_001u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&8000u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x02;
        f.extend_from_slice(&tcp);
        f
    }

    #[test]
    fn parses_a_tcp_syn_and_rejects_malformed_frames() {
        let f = tcp_syn();
        let t = parse_tcp(&f).expect("a TCP frame");
        assert_eq!((t.ip_src, t.ip_dst, t.tcp_src, t.tcp_dst, t.tcp_flags), (H1_IP, VIP, 40_001, 8000, 0x02));
        assert_eq!(t.eth_dst, VIP_MAC);
        for cut in 0..f.len() {
            assert_eq!(parse_tcp(&f[..cut]).is_some(), cut >= 14 + 20 + 14, "cut at {cut}");
            let _ = parse_arp(&f[..cut]);
        }
        let mut udp = f.clone();
        udp[14 + 9] = 17;
        assert_eq!(parse_tcp(&udp), None);
        let mut frag = f.clone();
        frag[14 + 7] = 8;
        assert_eq!(parse_tcp(&frag), None);
        let mut bad_ihl = f;
        bad_ihl[14] = 0x43;
        assert_eq!(parse_tcp(&bad_ihl), None);
        assert_eq!(parse_arp(&request(VIP)[..40]), None);
    }

    /// The checksum of `bytes` including their checksum field: 0 when that field is right.
    fn verify(bytes: &[u8], pseudo: u32) -> u16 {
        fold(ones_complement_sum(bytes, pseudo))
    }

    #[test]
    fn completes_a_partial_tcp_checksum_and_the_ip_checksum() {
        let mut f = tcp_syn();
        f.extend_from_slice(&[0; 6]); // Ethernet padding after the 40-byte datagram
        // What an offloading sender leaves: the pseudo-header sum only.
        f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&0x1234u16.to_be_bytes());
        let fixed = with_checksums_completed(&f).expect("a whole TCP datagram");
        assert_eq!(fixed.len(), f.len());
        assert_ne!(fixed[14 + 10..14 + 12], [0, 0], "IP checksum filled in");
        assert_eq!(verify(&fixed[14..34], 0), 0, "IPv4 header checksum verifies");
        let pseudo = ones_complement_sum(&fixed[26..34], 0) + u32::from(IP_PROTO_TCP) + 20;
        assert_eq!(verify(&fixed[34..54], pseudo), 0, "TCP checksum verifies");
        assert_eq!(&fixed[54..], &[0; 6], "padding kept, not summed");
        assert_eq!(with_checksums_completed(&fixed), Some(fixed.clone()), "idempotent");
        // Odd-length payload: the last byte is padded with zero in the sum.
        let mut odd = tcp_syn();
        odd.push(0xab);
        odd[14 + 3] = 41;
        let fixed = with_checksums_completed(&odd).expect("whole");
        let pseudo = ones_complement_sum(&fixed[26..34], 0) + u32::from(IP_PROTO_TCP) + 21;
        assert_eq!(verify(&fixed[34..55], pseudo), 0);
    }

    #[test]
    fn leaves_truncated_fragmented_and_non_tcp_frames_alone() {
        let f = tcp_syn();
        assert_eq!(with_checksums_completed(&f[..f.len() - 1]), None, "datagram cut short");
        let mut frag = f.clone();
        frag[14 + 6] = 0x20; // more fragments
        assert_eq!(with_checksums_completed(&frag), None);
        let mut udp = f.clone();
        udp[14 + 9] = 17;
        assert_eq!(with_checksums_completed(&udp), None);
        assert_eq!(with_checksums_completed(&request(VIP)), None);
        for cut in 0..f.len() {
            let _ = with_checksums_completed(&f[..cut]);
        }
    }

    fn segment(flags: u8, seq: u32, ack: u32, payload: usize) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&VIP_MAC.0);
        f.extend_from_slice(&H1.0);
        f.extend_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
        let total = (40 + payload) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 64, IP_PROTO_TCP, 0, 0]);
        f.extend_from_slice(&H1_IP.octets());
        f.extend_from_slice(&[10, 0, 0, 11]);
        f.extend_from_slice(&40_000u16.to_be_bytes());
        f.extend_from_slice(&8000u16.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.resize(f.len() + payload, 7);
        f
    }

    #[test]
    fn a_reset_answers_the_sender_from_the_vip_with_the_sequence_rfc_9293_gives() {
        let rst = tcp_reset_for(&segment(0x18, 1000, 5000, 30), VIP_MAC, VIP, 8000).unwrap();
        let t = parse_tcp(&rst).unwrap();
        assert_eq!((t.eth_src, t.eth_dst, t.ip_src, t.ip_dst), (VIP_MAC, H1, VIP, H1_IP));
        assert_eq!((t.tcp_src, t.tcp_dst, t.tcp_flags), (8000, 40_000, 0x04));
        assert_eq!(&rst[38..42], &5000u32.to_be_bytes(), "SEQ = SEG.ACK");
        assert_eq!(with_checksums_completed(&rst).unwrap(), rst, "checksums are complete");
        // Without ACK: SEQ 0, ACK = SEG.SEQ + SEG.LEN (+1 for the SYN).
        let rst = tcp_reset_for(&segment(0x02, 1000, 0, 0), VIP_MAC, VIP, 8000).unwrap();
        assert_eq!(parse_tcp(&rst).unwrap().tcp_flags, 0x14);
        assert_eq!(&rst[42..46], &1001u32.to_be_bytes());
        // A RST is never answered; a truncated segment is no segment.
        assert!(tcp_reset_for(&segment(0x04, 1, 1, 0), VIP_MAC, VIP, 8000).is_none());
        assert!(tcp_reset_for(&segment(0x10, 1, 1, 0)[..40], VIP_MAC, VIP, 8000).is_none());
    }
}
