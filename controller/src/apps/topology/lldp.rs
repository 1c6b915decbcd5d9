//! LLDP frames for link discovery, in the format Ryu's `topology/switches.py` uses, so a Rudder
//! controller and Ryu recognise each other's probes.
//!
//! IEEE 802.1AB-2016 §8.5: an LLDPDU is a sequence of TLVs, each with a 7-bit type and a 9-bit length,
//! starting with the mandatory Chassis ID, Port ID and Time To Live TLVs in that order and ending with
//! an End Of LLDPDU TLV. Our probes carry:
//! - Chassis ID, subtype 7 (locally assigned), the text `dpid:%016x`;
//! - Port ID, subtype 2 (port component), the OpenFlow port number as 4 big-endian bytes;
//! - TTL 120 seconds.
//!
//! They are sent to the nearest-bridge group address 01:80:c2:00:00:0e, which 802.1D bridges never
//! forward, from the MAC address of the port they leave.

use ofproto::{MacAddr, PortNo};

/// EtherType of LLDP (IEEE 802.1AB §8.1).
pub const ETH_TYPE_LLDP: u16 = 0x88cc;
/// The nearest-bridge group address (IEEE 802.1AB §7.1).
pub const LLDP_DST: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e]);
/// TTL advertised in our probes, in seconds (Ryu's `DEFAULT_TTL`).
pub const PROBE_TTL: u16 = 120;

const TLV_END: u8 = 0;
const TLV_CHASSIS_ID: u8 = 1;
const TLV_PORT_ID: u8 = 2;
const TLV_TTL: u8 = 3;
/// Chassis ID subtype "locally assigned" (802.1AB Table 8-2).
const CHASSIS_ID_LOCALLY_ASSIGNED: u8 = 7;
/// Port ID subtype "port component" (802.1AB Table 8-3).
const PORT_ID_PORT_COMPONENT: u8 = 2;
const CHASSIS_PREFIX: &str = "dpid:";
const ETH_HEADER_LEN: usize = 14;

/// What a received probe says about where it was sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOrigin {
    pub dpid: u64,
    pub port: PortNo,
    /// Time To Live from the frame, in seconds.
    pub ttl: u16,
}

/// Why a frame is not one of our LLDP probes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LldpError {
    #[error("frame of {0} bytes is shorter than an Ethernet header")]
    ShortFrame(usize),
    #[error("EtherType {0:#06x} is not LLDP")]
    NotLldp(u16),
    #[error("TLV at offset {offset} runs past the end of the frame")]
    TruncatedTlv { offset: usize },
    #[error("expected TLV type {expected} at offset {offset}, found {found}")]
    UnexpectedTlv { expected: u8, found: u8, offset: usize },
    #[error("chassis id is not a locally assigned \"dpid:<16 hex digits>\"")]
    BadChassisId,
    #[error("port id is not a 4-byte port component")]
    BadPortId,
    #[error("TTL TLV is not 2 bytes long")]
    BadTtl,
}

fn put_tlv(frame: &mut Vec<u8>, tlv_type: u8, value: &[u8]) {
    // 7-bit type, 9-bit length (802.1AB §8.4.1); our values are all far below 512 bytes.
    let header = (u16::from(tlv_type) << 9) | (value.len() as u16 & 0x01ff);
    frame.extend_from_slice(&header.to_be_bytes());
    frame.extend_from_slice(value);
}

/// Builds the probe sent out of `port` of switch `dpid`, whose MAC address is `port_mac`.
pub fn build_probe(dpid: u64, port: PortNo, port_mac: MacAddr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&LLDP_DST.0);
    frame.extend_from_slice(&port_mac.0);
    frame.extend_from_slice(&ETH_TYPE_LLDP.to_be_bytes());

    let mut chassis = vec![CHASSIS_ID_LOCALLY_ASSIGNED];
    chassis.extend_from_slice(format!("{CHASSIS_PREFIX}{dpid:016x}").as_bytes());
    put_tlv(&mut frame, TLV_CHASSIS_ID, &chassis);

    let mut port_id = vec![PORT_ID_PORT_COMPONENT];
    port_id.extend_from_slice(&port.0.to_be_bytes());
    put_tlv(&mut frame, TLV_PORT_ID, &port_id);

    put_tlv(&mut frame, TLV_TTL, &PROBE_TTL.to_be_bytes());
    put_tlv(&mut frame, TLV_END, &[]);
    frame
}

/// Reads one TLV at `offset`: (type, value, offset of the next TLV).
fn read_tlv(frame: &[u8], offset: usize) -> Result<(u8, &[u8], usize), LldpError> {
    let header = frame.get(offset..offset + 2).ok_or(LldpError::TruncatedTlv { offset })?;
    let header = u16::from_be_bytes([header[0], header[1]]);
    let tlv_type = (header >> 9) as u8;
    let len = usize::from(header & 0x01ff);
    let value = frame.get(offset + 2..offset + 2 + len).ok_or(LldpError::TruncatedTlv { offset })?;
    Ok((tlv_type, value, offset + 2 + len))
}

fn expect_tlv(frame: &[u8], offset: usize, expected: u8) -> Result<(&[u8], usize), LldpError> {
    let (found, value, next) = read_tlv(frame, offset)?;
    if found != expected {
        return Err(LldpError::UnexpectedTlv { expected, found, offset });
    }
    Ok((value, next))
}

/// Parses a probe: the switch and port it left from. Anything else that is LLDP (a host's or a
/// bridge's own LLDPDU) is an error, so it never becomes a link.
pub fn parse_probe(frame: &[u8]) -> Result<ProbeOrigin, LldpError> {
    if frame.len() < ETH_HEADER_LEN {
        return Err(LldpError::ShortFrame(frame.len()));
    }
    let eth_type = u16::from_be_bytes([frame[12], frame[13]]);
    if eth_type != ETH_TYPE_LLDP {
        return Err(LldpError::NotLldp(eth_type));
    }

    let (chassis, next) = expect_tlv(frame, ETH_HEADER_LEN, TLV_CHASSIS_ID)?;
    let dpid = match chassis.split_first() {
        Some((&CHASSIS_ID_LOCALLY_ASSIGNED, text)) => std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.strip_prefix(CHASSIS_PREFIX))
            .filter(|hex| !hex.is_empty() && hex.len() <= 16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or(LldpError::BadChassisId)?,
        _ => return Err(LldpError::BadChassisId),
    };

    let (port_id, next) = expect_tlv(frame, next, TLV_PORT_ID)?;
    let port = match port_id {
        [PORT_ID_PORT_COMPONENT, a, b, c, d] => PortNo(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => return Err(LldpError::BadPortId),
    };

    let (ttl, _) = expect_tlv(frame, next, TLV_TTL)?;
    let ttl = match ttl {
        [a, b] => u16::from_be_bytes([*a, *b]),
        _ => return Err(LldpError::BadTtl),
    };
    Ok(ProbeOrigin { dpid, port, ttl })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe Ryu's `LLDPPacket.lldp_packet(dpid=1, port_no=2, dl_addr=00:00:00:00:00:02, ttl=120)`
    /// produces, byte for byte.
    const RYU_PROBE: [u8; 51] = [
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, // dst
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // src
        0x88, 0xcc, // EtherType
        0x02, 0x16, 0x07, b'd', b'p', b'i', b'd', b':', // Chassis ID: type 1, len 22, subtype 7
        b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'1', 0x04,
        0x05, 0x02, 0x00, 0x00, 0x00, 0x02, // Port ID: type 2, len 5, subtype 2, port 2
        0x06, 0x02, 0x00, 0x78, // TTL: type 3, len 2, 120
        0x00, 0x00, // End
    ];

    #[test]
    fn builds_ryus_probe_bytes() {
        let frame = build_probe(1, PortNo(2), MacAddr([0, 0, 0, 0, 0, 2]));
        assert_eq!(frame, RYU_PROBE);
    }

    #[test]
    fn round_trips_large_dpid_and_port() {
        let frame = build_probe(0xfedc_ba98_7654_3210, PortNo(0xffff_ff00), MacAddr([2, 0, 0, 0, 0, 9]));
        let origin = parse_probe(&frame).unwrap();
        assert_eq!(
            origin,
            ProbeOrigin { dpid: 0xfedc_ba98_7654_3210, port: PortNo(0xffff_ff00), ttl: PROBE_TTL }
        );
    }

    #[test]
    fn parses_with_trailing_padding() {
        // Switches may pad the frame to the 60-byte Ethernet minimum.
        let mut frame = RYU_PROBE.to_vec();
        frame.resize(60, 0);
        assert_eq!(parse_probe(&frame).unwrap().port, PortNo(2));
    }

    #[test]
    fn rejects_non_probes_with_the_reason() {
        assert_eq!(parse_probe(&[0u8; 5]), Err(LldpError::ShortFrame(5)));
        let mut ipv4 = RYU_PROBE.to_vec();
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parse_probe(&ipv4), Err(LldpError::NotLldp(0x0800)));

        // A bridge's LLDPDU with a MAC-address chassis id (subtype 4).
        let mut mac_chassis = RYU_PROBE.to_vec();
        mac_chassis[16] = 4;
        assert_eq!(parse_probe(&mac_chassis), Err(LldpError::BadChassisId));

        let mut not_hex = RYU_PROBE.to_vec();
        not_hex[37] = b'g';
        assert_eq!(parse_probe(&not_hex), Err(LldpError::BadChassisId));

        // Port ID as an interface name (subtype 5).
        let mut named_port = RYU_PROBE.to_vec();
        named_port[40] = 5;
        assert_eq!(parse_probe(&named_port), Err(LldpError::BadPortId));

        // Cut inside the Port ID TLV.
        assert_eq!(parse_probe(&RYU_PROBE[..42]), Err(LldpError::TruncatedTlv { offset: 38 }));

        // TLVs out of order: TTL where the chassis id belongs.
        let mut swapped = RYU_PROBE[..14].to_vec();
        swapped.extend_from_slice(&[0x06, 0x02, 0x00, 0x78]);
        assert_eq!(
            parse_probe(&swapped),
            Err(LldpError::UnexpectedTlv { expected: 1, found: 3, offset: 14 })
        );
    }

    #[test]
    fn never_panics_on_any_prefix_or_byte_flip() {
        for len in 0..RYU_PROBE.len() {
            let _ = parse_probe(&RYU_PROBE[..len]);
        }
        for i in 0..RYU_PROBE.len() {
            for v in [0x00, 0x01, 0x7f, 0xff] {
                let mut f = RYU_PROBE.to_vec();
                f[i] = v;
                let _ = parse_probe(&f);
            }
        }
    }
}
