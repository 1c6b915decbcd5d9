//! The traffic `rudder bench` sends: which host sits on which port, the Ethernet frames each host
//! sends, and PACKET_IN templates encoded once and patched per packet (xid, MACs, sequence number).
//!
//! Every frame carries a 2-byte magic and a 32-bit per-switch sequence number at [`SEQ_OFFSET`]. A
//! controller that forwards the packet echoes the frame back in its PACKET_OUT (we never buffer, so it
//! must, OF1.3.5 §7.3.7), which lets the benchmark tell which PACKET_IN a PACKET_OUT answers without
//! decoding anything but a few fixed offsets.

use bytes::Bytes;
use ofproto::MacAddr;

use super::emulated::EmulatedSwitch;

/// Ports per emulated switch (hosts are spread over them round-robin).
pub const MAX_PORTS: u32 = 16;
/// Offset in every frame of the magic, followed by the big-endian sequence number.
pub const MAGIC_OFFSET: usize = 42;
/// Offset in every frame of the big-endian 32-bit sequence number.
pub const SEQ_OFFSET: usize = MAGIC_OFFSET + 2;
/// Marks frames the benchmark built ("RB").
pub const MAGIC: [u8; 2] = *b"RB";
/// Length of every frame (the Ethernet minimum without FCS).
pub const FRAME_LEN: usize = 60;

const ETH_TYPE_IPV4: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;

/// Where the hosts of one switch sit and whom they talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLayout {
    /// Hosts (MAC addresses) per switch, at least 2.
    pub macs: u32,
    /// Ports the hosts are spread over, 2..=[`MAX_PORTS`].
    pub ports: u32,
}

impl HostLayout {
    /// `macs` hosts per switch; `None` if fewer than 2 (a learning switch needs a peer to forward to)
    /// or more than 65536 (the MAC scheme has 16 bits for the host).
    pub fn new(macs: u32) -> Option<HostLayout> {
        (2..=65536).contains(&macs).then(|| HostLayout { macs, ports: macs.min(MAX_PORTS) })
    }

    /// The port host `host` is attached to (1-based).
    pub fn port_of(&self, host: u32) -> u32 {
        host % self.ports + 1
    }

    /// The host `src` sends to: the next host that sits on another port, so a learning switch always
    /// has somewhere to forward the packet (the same port would make it drop the packet).
    pub fn peer_of(&self, src: u32) -> u32 {
        let mut dst = (src + 1) % self.macs;
        while self.port_of(dst) == self.port_of(src) {
            dst = (dst + 1) % self.macs;
        }
        dst
    }
}

/// MAC address of host `host` of switch `switch` (0-based): locally administered unicast, unique
/// across switches so that one controller's tables never mix switches up.
pub fn host_mac(switch: u32, host: u32) -> MacAddr {
    let s = switch.to_be_bytes();
    let h = host.to_be_bytes();
    MacAddr([0x02, s[1], s[2], s[3], h[2], h[3]])
}

/// A unicast IPv4/UDP frame from `src` to `dst` (the measured traffic).
pub fn data_frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    let mut f = vec![0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    // IPv4 header (RFC 791): version 4, IHL 5, total length 46, TTL 64, UDP, 10.0.0.1 → 10.0.0.2.
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let sum = ipv4_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    // UDP header (RFC 768): ports 5000 → 5001, length 26, checksum 0 (none, allowed over IPv4).
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&5000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    f[MAGIC_OFFSET..SEQ_OFFSET].copy_from_slice(&MAGIC);
    f
}

/// A broadcast gratuitous ARP request from `src` (the learning phase: every host announces itself).
pub fn learn_frame(src: MacAddr) -> Vec<u8> {
    let mut f = vec![0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&MacAddr::BROADCAST.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&ETH_TYPE_ARP.to_be_bytes());
    // ARP (RFC 826): Ethernet/IPv4, request, sender = target = 10.0.0.1 (gratuitous).
    let arp = &mut f[14..42];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes());
    arp[2..4].copy_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&1u16.to_be_bytes());
    arp[8..14].copy_from_slice(&src.0);
    arp[14..18].copy_from_slice(&[10, 0, 0, 1]);
    arp[24..28].copy_from_slice(&[10, 0, 0, 1]);
    f[MAGIC_OFFSET..SEQ_OFFSET].copy_from_slice(&MAGIC);
    f
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What kind of frame a PACKET_IN carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Broadcast gratuitous ARP from the source host.
    Learn,
    /// Unicast IPv4/UDP from the source host to its peer.
    Data,
}

/// Pre-encoded PACKET_INs (one per port and frame kind) and the offsets to patch.
#[derive(Debug, Clone)]
pub struct PacketInTemplates {
    /// `learn[p - 1]`, `data[p - 1]`: the PACKET_IN from port `p`.
    learn: Vec<Vec<u8>>,
    data: Vec<Vec<u8>>,
    /// Offset of the Ethernet frame in the encoded PACKET_IN.
    frame_offset: usize,
    layout: HostLayout,
}

impl PacketInTemplates {
    /// Encodes the templates with the real encoder, so the wire format is the library's, not ours.
    pub fn new(layout: HostLayout) -> PacketInTemplates {
        let encode = |port: u32, frame: Vec<u8>| -> Vec<u8> {
            EmulatedSwitch::packet_in(port, Bytes::from(frame)).to_bytes(0).to_vec()
        };
        let any = host_mac(0, 0);
        let learn: Vec<Vec<u8>> = (1..=layout.ports).map(|p| encode(p, learn_frame(any))).collect();
        let data: Vec<Vec<u8>> = (1..=layout.ports).map(|p| encode(p, data_frame(any, any))).collect();
        // The frame is the PACKET_IN's last field (OF1.3.5 §7.4.1).
        let frame_offset = learn[0].len() - FRAME_LEN;
        PacketInTemplates { learn, data, frame_offset, layout }
    }

    pub fn layout(&self) -> HostLayout {
        self.layout
    }

    /// Length of every encoded PACKET_IN.
    pub fn message_len(&self) -> usize {
        self.frame_offset + FRAME_LEN
    }

    /// Appends the PACKET_IN that `host` of switch `switch` sends (to its peer, or to everyone when
    /// learning), with `xid` and sequence number `seq`.
    pub fn push(&self, out: &mut Vec<u8>, kind: FrameKind, switch: u32, host: u32, xid: u32, seq: u32) {
        let port_idx = (self.layout.port_of(host) - 1) as usize;
        let template = match kind {
            FrameKind::Learn => &self.learn[port_idx],
            FrameKind::Data => &self.data[port_idx],
        };
        let start = out.len();
        out.extend_from_slice(template);
        let msg = &mut out[start..];
        msg[4..8].copy_from_slice(&xid.to_be_bytes());
        let f = self.frame_offset;
        let src = host_mac(switch, host).0;
        msg[f + 6..f + 12].copy_from_slice(&src);
        match kind {
            FrameKind::Learn => msg[f + 22..f + 28].copy_from_slice(&src), // ARP sender hardware address
            FrameKind::Data => {
                let dst = host_mac(switch, self.layout.peer_of(host)).0;
                msg[f..f + 6].copy_from_slice(&dst);
            }
        }
        msg[f + SEQ_OFFSET..f + SEQ_OFFSET + 4].copy_from_slice(&seq.to_be_bytes());
    }
}

/// The sequence number a benchmark frame carries, if `frame` is one.
pub fn frame_seq(frame: &[u8]) -> Option<u32> {
    if frame.get(MAGIC_OFFSET..SEQ_OFFSET)? != MAGIC {
        return None;
    }
    let b = frame.get(SEQ_OFFSET..SEQ_OFFSET + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use ofproto::Message;
    use ofproto::PortNo;

    use super::*;

    #[test]
    fn hosts_spread_over_ports_and_peers_sit_elsewhere() {
        for macs in [2, 3, 10, 16, 17, 33, 1000] {
            let layout = HostLayout::new(macs).unwrap();
            for h in 0..macs {
                let p = layout.peer_of(h);
                assert!(p < macs, "peer in range");
                assert_ne!(layout.port_of(p), layout.port_of(h), "macs={macs} host={h} peer={p}");
                assert!((1..=MAX_PORTS).contains(&layout.port_of(h)));
            }
        }
        assert!(HostLayout::new(1).is_none());
        assert!(HostLayout::new(65537).is_none());
    }

    #[test]
    fn macs_are_unique_unicast_and_locally_administered() {
        let a = host_mac(3, 7);
        assert_eq!(a.0, [0x02, 0, 0, 3, 0, 7]);
        assert!(!a.is_multicast());
        assert_ne!(host_mac(1, 2), host_mac(2, 1));
    }

    #[test]
    fn data_frame_has_valid_ipv4_checksum() {
        let f = data_frame(host_mac(0, 1), host_mac(0, 2));
        assert_eq!(f.len(), FRAME_LEN);
        // Summing a header that includes its checksum gives 0xffff (RFC 1071).
        assert_eq!(ipv4_checksum(&f[14..34]), 0);
    }

    #[test]
    fn patched_packet_in_decodes_to_the_intended_packet() {
        let layout = HostLayout::new(40).unwrap();
        let t = PacketInTemplates::new(layout);
        let mut buf = Vec::new();
        t.push(&mut buf, FrameKind::Data, 5, 21, 0xdead_beef, 77);
        t.push(&mut buf, FrameKind::Learn, 5, 3, 9, 78);
        assert_eq!(buf.len(), 2 * t.message_len());

        let (h, msg) = Message::decode(&Bytes::copy_from_slice(&buf[..t.message_len()])).unwrap();
        assert_eq!(h.xid, 0xdead_beef);
        let Message::PacketIn(pi) = msg else { panic!("not a PACKET_IN: {msg:?}") };
        assert_eq!(pi.in_port(), Some(PortNo(layout.port_of(21))));
        assert_eq!(&pi.data[6..12], &host_mac(5, 21).0);
        assert_eq!(&pi.data[0..6], &host_mac(5, layout.peer_of(21)).0);
        assert_eq!(frame_seq(&pi.data), Some(77));
        assert_eq!(usize::from(pi.total_len), FRAME_LEN);

        let (h, msg) = Message::decode(&Bytes::copy_from_slice(&buf[t.message_len()..])).unwrap();
        assert_eq!(h.xid, 9);
        let Message::PacketIn(pi) = msg else { panic!("not a PACKET_IN: {msg:?}") };
        assert_eq!(pi.in_port(), Some(PortNo(layout.port_of(3))));
        assert_eq!(&pi.data[0..6], &MacAddr::BROADCAST.0);
        assert_eq!(&pi.data[6..12], &host_mac(5, 3).0);
        assert_eq!(&pi.data[22..28], &host_mac(5, 3).0, "ARP sender MAC matches the source");
        assert_eq!(frame_seq(&pi.data), Some(78));
    }

    #[test]
    fn foreign_frames_have_no_sequence() {
        assert_eq!(frame_seq(&[0u8; 60]), None);
        assert_eq!(frame_seq(&[0u8; 10]), None);
    }
}
