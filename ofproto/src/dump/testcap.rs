//! Test support: builds Ethernet/IPv4/IPv6/TCP frames and pcap/pcapng files in memory, so capture
//! tests need no files and say exactly what is on the wire.

/// One TCP segment to put in a frame.
#[derive(Debug, Clone)]
pub(crate) struct Seg {
    pub src: [u8; 4],
    pub src_port: u16,
    pub dst: [u8; 4],
    pub dst_port: u16,
    pub seq: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

pub(crate) const ACK: u8 = 0x10;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const PSH: u8 = 0x08;

impl Seg {
    pub(crate) fn new(
        src: [u8; 4],
        src_port: u16,
        dst: [u8; 4],
        dst_port: u16,
        seq: u32,
        payload: &[u8],
    ) -> Seg {
        Seg { src, src_port, dst, dst_port, seq, flags: ACK | PSH, payload: payload.to_vec() }
    }

    pub(crate) fn syn(src: [u8; 4], src_port: u16, dst: [u8; 4], dst_port: u16, isn: u32) -> Seg {
        Seg { flags: SYN, ..Seg::new(src, src_port, dst, dst_port, isn, &[]) }
    }
}

fn tcp_header(seg: &Seg) -> Vec<u8> {
    let mut t = Vec::with_capacity(20);
    t.extend_from_slice(&seg.src_port.to_be_bytes());
    t.extend_from_slice(&seg.dst_port.to_be_bytes());
    t.extend_from_slice(&seg.seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes()); // ack
    t.push(5 << 4); // data offset: 5 words
    t.push(seg.flags);
    t.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum (unchecked), urgent
    t
}

fn ipv4_packet(seg: &Seg) -> Vec<u8> {
    let total = 20 + 20 + seg.payload.len();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]); // id, DF, ttl, proto TCP, checksum
    p.extend_from_slice(&seg.src);
    p.extend_from_slice(&seg.dst);
    p.extend(tcp_header(seg));
    p.extend_from_slice(&seg.payload);
    p
}

pub(crate) fn frame_ethernet_ipv4(seg: &Seg) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend(ipv4_packet(seg));
    f
}

/// Raw IPv6 (link type RAW) with `::ffff:a.b.c.d`-style addresses built from the IPv4 ones.
pub(crate) fn frame_ipv6_raw(seg: &Seg) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((20 + seg.payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[6, 64]);
    for addr in [seg.src, seg.dst] {
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&addr);
    }
    p.extend(tcp_header(seg));
    p.extend_from_slice(&seg.payload);
    p
}

/// A little-endian microsecond pcap of Ethernet frames; frame `i` is stamped `1700000000 + i` s
/// and `i` µs.
pub(crate) fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // thiszone, sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000 + i as u32).to_le_bytes());
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn pcapng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// A little-endian pcapng with one interface of `linktype` at nanosecond resolution
/// (`if_tsresol` = 9); frame `i` is stamped `1700000000 s + i ns`.
pub(crate) fn pcapng(linktype: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    let mut out = pcapng_block(0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&linktype.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes()); // snaplen: unlimited
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 9 (ns), padded
    idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    out.extend(pcapng_block(1, &idb));
    for (i, f) in frames.iter().enumerate() {
        let ticks = 1_700_000_000u64 * 1_000_000_000 + i as u64;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes()); // interface 0
        epb.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ticks as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        epb.resize(20 + f.len().div_ceil(4) * 4, 0);
        out.extend(pcapng_block(6, &epb));
    }
    out
}
