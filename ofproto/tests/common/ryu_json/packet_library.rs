//! Ryu's `ryu.lib.packet` rendering of a frame (`{"Packet": {"protocols": [...]}}`), which one corpus
//! vector uses for PACKET_OUT data instead of base64. Only what that vector holds is supported:
//! Ethernet II, IPv4 without options, ICMP echo. Anything else renders as `None` (a test failure).

use serde_json::{Value, json};

use crate::common::base64;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn mac_at(b: &[u8], at: usize) -> Option<String> {
    let m = b.get(at..at + 6)?;
    Some(format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]))
}

fn ipv4_at(b: &[u8], at: usize) -> Option<String> {
    let a = b.get(at..at + 4)?;
    Some(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const IPPROTO_ICMP: u8 = 1;
const ETH_HEADER_LEN: usize = 14;

pub fn render(frame: &[u8]) -> Option<Value> {
    let ethertype = u16_at(frame, 12)?;
    let ethernet =
        json!({ "ethernet": { "dst": mac_at(frame, 0)?, "ethertype": ethertype, "src": mac_at(frame, 6)? } });
    if ethertype != ETHERTYPE_IPV4 {
        return None;
    }
    // IPv4 header (RFC 791 §3.1).
    let ip = frame.get(ETH_HEADER_LEN..)?;
    let header_length = usize::from(*ip.first()? & 0x0f);
    if header_length != 5 {
        return None; // options: not needed by the corpus
    }
    let total_length = usize::from(u16_at(ip, 2)?);
    let flags_offset = u16_at(ip, 6)?;
    let proto = *ip.get(9)?;
    let ipv4 = json!({ "ipv4": {
        "csum": u16_at(ip, 10)?, "dst": ipv4_at(ip, 16)?, "flags": flags_offset >> 13,
        "header_length": header_length, "identification": u16_at(ip, 4)?, "offset": flags_offset & 0x1fff,
        "option": null, "proto": proto, "src": ipv4_at(ip, 12)?, "tos": *ip.get(1)?,
        "total_length": total_length, "ttl": *ip.get(8)?, "version": *ip.first()? >> 4,
    } });
    if proto != IPPROTO_ICMP {
        return None;
    }
    // ICMP echo (RFC 792): type, code, checksum, identifier, sequence, data.
    let icmp = ip.get(4 * header_length..total_length)?;
    let icmp_type = *icmp.first()?;
    if icmp_type != 0 && icmp_type != 8 {
        return None;
    }
    let icmp = json!({ "icmp": {
        "code": *icmp.get(1)?, "csum": u16_at(icmp, 2)?, "type": icmp_type,
        "data": { "echo": { "data": base64(icmp.get(8..)?), "id": u16_at(icmp, 4)?, "seq": u16_at(icmp, 6)? } },
    } });
    Some(json!({ "Packet": { "protocols": [ethernet, ipv4, icmp] } }))
}
