//! Walking pcap and pcapng files (with `pcap-parser`): every captured frame with its link type and
//! timestamp. Byte order, timestamp precision and pcapng sections/interfaces are handled here so the
//! layers above see only frames.

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, PcapNGSlice, traits::PcapNGPacketBlock};

use super::{DumpError, InputFormat, Timestamp};

/// One captured frame.
pub(crate) struct Packet<'a> {
    pub ts: Option<Timestamp>,
    pub linktype: i32,
    pub data: &'a [u8],
}

fn capture_error(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::Incomplete(n) => format!("truncated ({n} more bytes needed)"),
        PcapError::HeaderNotRecognized => "header not recognised".to_string(),
        PcapError::NomError(_, kind) => format!("malformed ({kind:?})"),
        other => format!("{other:?}"),
    }
}

fn nom_error(e: nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "truncated".to_string(),
        nom::Err::Error(e) | nom::Err::Failure(e) => capture_error(&e),
    }
}

/// libpcap format: a 24-byte global header then (16-byte header, frame) records, in the byte order
/// and timestamp precision the magic number says.
pub(crate) fn walk_pcap(
    input: &[u8],
    visit: &mut dyn FnMut(Packet<'_>),
    warnings: &mut Vec<String>,
) -> Result<(), DumpError> {
    let (mut rest, header) = pcap_parser::pcap::parse_pcap_header(input)
        .map_err(|e| DumpError::BadCaptureHeader { format: InputFormat::Pcap, detail: nom_error(e) })?;
    let linktype = header.network.0;
    let nanos = header.is_nanosecond_precision();
    let parse_record = if header.is_modified_format() {
        pcap_parser::pcap::parse_pcap_frame_modified
    } else if header.is_bigendian() {
        pcap_parser::pcap::parse_pcap_frame_be
    } else {
        pcap_parser::pcap::parse_pcap_frame
    };
    while !rest.is_empty() {
        match parse_record(rest) {
            Ok((next, record)) => {
                let frac = if nanos { record.ts_usec } else { record.ts_usec.saturating_mul(1000) };
                let ts = Timestamp { secs: u64::from(record.ts_sec), nanos: frac.min(999_999_999) };
                visit(Packet { ts: Some(ts), linktype, data: record.data });
                rest = next;
            }
            Err(e) => {
                let at = input.len() - rest.len();
                warnings.push(format!(
                    "pcap record at byte {at} unreadable ({}): rest of capture ignored",
                    nom_error(e)
                ));
                break;
            }
        }
    }
    Ok(())
}

/// One pcapng interface (Interface Description Block), for its link type and clock.
struct Interface {
    linktype: i32,
    tsresol: u8,
    tsoffset: i64,
}

/// pcapng: sections of blocks; packets refer to interfaces of their section by index.
pub(crate) fn walk_pcapng(
    input: &[u8],
    visit: &mut dyn FnMut(Packet<'_>),
    warnings: &mut Vec<String>,
) -> Result<(), DumpError> {
    let blocks = PcapNGSlice::from_slice(input)
        .map_err(|e| DumpError::BadCaptureHeader { format: InputFormat::PcapNg, detail: nom_error(e) })?;
    let mut interfaces: Vec<Interface> = Vec::new();
    for (index, block) in blocks.enumerate() {
        let block = match block {
            Ok(PcapBlockOwned::NG(block)) => block,
            Ok(_) => continue,
            Err(e) => {
                warnings.push(format!(
                    "pcapng block #{index} unreadable ({}): rest of capture ignored",
                    nom_error(e)
                ));
                break;
            }
        };
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype.0,
                tsresol: idb.if_tsresol,
                tsoffset: idb.if_tsoffset,
            }),
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.if_id as usize) else {
                    warnings
                        .push(format!("pcapng block #{index}: packet on undeclared interface {}", epb.if_id));
                    continue;
                };
                let ts = pcapng_timestamp(epb.ts_high, epb.ts_low, iface.tsresol, iface.tsoffset);
                visit(Packet { ts, linktype: iface.linktype, data: epb.packet_data() });
            }
            Block::SimplePacket(spb) => {
                // Simple Packet Blocks belong to interface 0 and carry no timestamp (pcapng §4.4).
                if let Some(iface) = interfaces.first() {
                    visit(Packet { ts: None, linktype: iface.linktype, data: spb.packet_data() });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A pcapng timestamp: a 64-bit count of units of `10^-tsresol` s (or `2^-(tsresol & 0x7f)` s when
/// the top bit is set), plus `if_tsoffset` seconds (pcapng §4.2, if_tsresol / if_tsoffset).
fn pcapng_timestamp(high: u32, low: u32, tsresol: u8, tsoffset: i64) -> Option<Timestamp> {
    // Units per second must fit the 64-bit tick counter: 10^19 and 2^63 at most.
    let units_per_sec = u128::from(if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))?
    } else {
        let shift = u32::from(tsresol & 0x7f);
        if shift > 63 {
            return None;
        }
        1u64 << shift
    });
    let ticks = u128::from((u64::from(high) << 32) | u64::from(low));
    let secs = u64::try_from(ticks / units_per_sec).ok()?;
    let nanos = u32::try_from((ticks % units_per_sec) * 1_000_000_000 / units_per_sec).ok()?;
    let secs = secs.checked_add_signed(tsoffset)?;
    Some(Timestamp { secs, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_timestamp_resolutions() {
        assert_eq!(pcapng_timestamp(0, 1_500_000, 6, 0), Some(Timestamp { secs: 1, nanos: 500_000_000 }));
        assert_eq!(pcapng_timestamp(0, 3, 0x81, 10), Some(Timestamp { secs: 11, nanos: 500_000_000 }));
        assert_eq!(pcapng_timestamp(0, 1, 100, 0), None); // 10^100 units per second
        assert_eq!(pcapng_timestamp(0, 1, 0xc0, 0), None); // 2^64
        assert_eq!(pcapng_timestamp(0, 1, 6, -5), None);
    }
}
