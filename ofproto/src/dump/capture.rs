//! OpenFlow out of captures: pick the TCP segments to or from the OpenFlow ports, reassemble each
//! direction of each connection and decode the messages in capture order.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;

use bytes::Bytes;

use super::net::{self, TcpSegment};
use super::pcapfile::{Packet, walk_pcap, walk_pcapng};
use super::stream::StreamDecoder;
use super::tcp::{Chunk, Reassembler};
use super::{Direction, DumpError, DumpOptions, Endpoints, InputFormat, Record, Timestamp};

/// Decodes every OpenFlow message in a pcap or pcapng capture. Returns the records and warnings
/// about input skipped as a whole.
pub(crate) fn dump_capture(
    input: &Bytes,
    format: InputFormat,
    options: &DumpOptions,
) -> Result<(Vec<Record>, Vec<String>), DumpError> {
    let mut connections = Connections::new(options);
    let mut warnings = Vec::new();
    let mut visit = |p: Packet<'_>| connections.packet(p);
    match format {
        InputFormat::PcapNg => walk_pcapng(input, &mut visit, &mut warnings)?,
        _ => walk_pcap(input, &mut visit, &mut warnings)?,
    }
    connections.finish();
    warnings.extend(
        connections.unsupported.iter().map(|(linktype, count)| {
            format!("{count} packets with unsupported link type {linktype} skipped")
        }),
    );
    Ok((connections.records, warnings))
}

/// One direction of one TCP connection.
struct HalfConnection {
    reassembler: Reassembler,
    decoder: StreamDecoder,
    last_ts: Option<Timestamp>,
}

/// Every OpenFlow TCP direction seen so far, in order of first appearance.
struct Connections<'o> {
    options: &'o DumpOptions,
    index: HashMap<(SocketAddr, SocketAddr), usize>,
    halves: Vec<HalfConnection>,
    records: Vec<Record>,
    unsupported: Vec<(i32, usize)>,
}

impl<'o> Connections<'o> {
    fn new(options: &'o DumpOptions) -> Self {
        Connections {
            options,
            index: HashMap::new(),
            halves: Vec::new(),
            records: Vec::new(),
            unsupported: Vec::new(),
        }
    }

    fn packet(&mut self, packet: Packet<'_>) {
        if !net::supported(packet.linktype) {
            match self.unsupported.iter_mut().find(|(l, _)| *l == packet.linktype) {
                Some((_, count)) => *count += 1,
                None => self.unsupported.push((packet.linktype, 1)),
            }
            return;
        }
        let Some(seg) = net::tcp_segment(packet.linktype, packet.data) else { return };
        let direction = if self.options.ports.contains(&seg.dst_port) {
            Direction::SwitchToController
        } else if self.options.ports.contains(&seg.src_port) {
            Direction::ControllerToSwitch
        } else {
            return;
        };
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let at = self.half((src, dst), direction, &seg);
        let half = &mut self.halves[at];
        half.last_ts = packet.ts.or(half.last_ts);
        let chunks = half.reassembler.segment(&seg);
        feed(half, chunks, packet.ts, &mut self.records);
    }

    /// The index of the state for `key`, created on first sight, or restarted when a new SYN reuses
    /// the ports.
    fn half(&mut self, key: (SocketAddr, SocketAddr), direction: Direction, seg: &TcpSegment<'_>) -> usize {
        let endpoints = Endpoints { src: key.0, dst: key.1, direction };
        let max = self.options.max_message_len;
        let fresh = || HalfConnection {
            reassembler: Reassembler::default(),
            // The decoder learns whether the stream start was seen from the first segment.
            decoder: StreamDecoder::new(Some(endpoints), max, !seg.is_syn()),
            last_ts: None,
        };
        let at = match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                self.halves.push(fresh());
                *e.insert(self.halves.len() - 1)
            }
        };
        let restart = seg.is_syn() && !self.halves[at].reassembler.accepts_syn(seg.seq);
        if restart {
            let old = std::mem::replace(&mut self.halves[at], fresh());
            close(old, &mut self.records);
        }
        at
    }

    fn finish(&mut self) {
        for half in std::mem::take(&mut self.halves) {
            close(half, &mut self.records);
        }
    }
}

fn feed(half: &mut HalfConnection, chunks: Vec<Chunk>, ts: Option<Timestamp>, out: &mut Vec<Record>) {
    for chunk in chunks {
        match chunk {
            Chunk::Data(data) => half.decoder.push(&data, ts, out),
            Chunk::Gap { missing } => half.decoder.gap(missing, out),
        }
    }
}

fn close(mut half: HalfConnection, out: &mut Vec<Record>) {
    let chunks = half.reassembler.finish();
    let ts = half.last_ts;
    feed(&mut half, chunks, ts, out);
    half.decoder.finish(ts, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;
    use crate::dump::testcap::{Seg, frame_ethernet_ipv4, frame_ipv6_raw, pcap, pcapng};
    use crate::dump::{Outcome, Unframed, run};

    const SWITCH: [u8; 4] = [10, 0, 0, 1];
    const CONTROLLER: [u8; 4] = [127, 0, 0, 1];
    const SPORT: u16 = 45678;

    fn echo_request(xid: u32, payload_len: usize) -> Vec<u8> {
        let mut m = vec![4, 2];
        m.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
        m.extend_from_slice(&xid.to_be_bytes());
        m.extend((0..payload_len).map(|i| i as u8));
        m
    }

    fn simple(msg_type: u8, xid: u32) -> Vec<u8> {
        let mut m = vec![4, msg_type, 0, 8];
        m.extend_from_slice(&xid.to_be_bytes());
        m
    }

    fn to_controller(seq: u32, payload: &[u8]) -> Vec<u8> {
        frame_ethernet_ipv4(&Seg::new(SWITCH, SPORT, CONTROLLER, 6653, seq, payload))
    }

    fn to_switch(seq: u32, payload: &[u8]) -> Vec<u8> {
        frame_ethernet_ipv4(&Seg::new(CONTROLLER, 6653, SWITCH, SPORT, seq, payload))
    }

    fn dump(capture: Vec<u8>) -> crate::dump::Dump {
        run(Bytes::from(capture), &DumpOptions::default()).unwrap()
    }

    fn summary(records: &[Record]) -> Vec<(&'static str, Option<u32>, Option<Direction>)> {
        records
            .iter()
            .map(|r| (r.type_name(), r.header.map(|h| h.xid), r.endpoints.map(|e| e.direction)))
            .collect()
    }

    /// A handshake, then the controller's HELLO + FEATURES_REQUEST + a 40-byte ECHO_REQUEST split over
    /// three segments sent out of order with a retransmission; the switch answers in one segment.
    fn conversation() -> Vec<Vec<u8>> {
        let mut c2s = simple(0, 1); // HELLO
        c2s.extend(simple(5, 2)); // FEATURES_REQUEST
        c2s.extend(echo_request(3, 32));
        let mut s2c = simple(0, 11);
        s2c.extend(simple(21, 12)); // BARRIER_REPLY
        let (a, b, c) = (&c2s[..26], &c2s[26..46], &c2s[46..]);
        vec![
            frame_ethernet_ipv4(&Seg::syn(SWITCH, SPORT, CONTROLLER, 6653, 999)),
            frame_ethernet_ipv4(&Seg::syn(CONTROLLER, 6653, SWITCH, SPORT, 4999)),
            to_switch(5000, a),
            to_switch(5046, c), // #3 ahead of a hole
            to_controller(1000, &s2c),
            to_switch(5026, b), // #5 fills the hole: completes the ECHO_REQUEST
            to_switch(5026, b), // retransmission
        ]
    }

    #[test]
    fn reassembles_out_of_order_segments_from_pcap() {
        let d = dump(pcap(&conversation()));
        assert_eq!(d.format, InputFormat::Pcap);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        use Direction::*;
        assert_eq!(
            summary(&d.records),
            [
                ("HELLO", Some(1), Some(ControllerToSwitch)),
                ("FEATURES_REQUEST", Some(2), Some(ControllerToSwitch)),
                ("HELLO", Some(11), Some(SwitchToController)),
                ("BARRIER_REPLY", Some(12), Some(SwitchToController)),
                ("ECHO_REQUEST", Some(3), Some(ControllerToSwitch)),
            ]
        );
        let echo = &d.records[4];
        assert_eq!(
            echo.outcome,
            Outcome::Decoded(Message::EchoRequest((0..32u8).collect::<Vec<_>>().into()))
        );
        assert_eq!(echo.offset, 16);
        // Stamped with the packet that completed it (#5: 1700000005 s + 5 µs).
        assert_eq!(echo.ts, Some(Timestamp { secs: 1_700_000_005, nanos: 5_000 }));
        let ep = echo.endpoints.unwrap();
        assert_eq!(ep.src.to_string(), "127.0.0.1:6653");
        assert_eq!(ep.dst.to_string(), "10.0.0.1:45678");
        let v: serde_json::Value = serde_json::from_str(&crate::dump::format_json(echo)).unwrap();
        assert_eq!(v["direction"], "controller->switch");
        assert_eq!(v["src"], "127.0.0.1:6653");
        assert!((v["ts"].as_f64().unwrap() - 1_700_000_005.000_005).abs() < 1e-6, "{v}");
        let text = crate::dump::format_text(echo);
        assert!(
            text.starts_with(
                "[2023-11-14T22:13:25.000005Z] 127.0.0.1:6653 -> 10.0.0.1:45678 ECHO_REQUEST xid=0x3 len=40\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn pcapng_gives_the_same_records_with_nanosecond_times() {
        let frames = conversation();
        let a = dump(pcap(&frames));
        let b = dump(pcapng(1, &frames));
        assert_eq!(b.format, InputFormat::PcapNg);
        assert_eq!(summary(&a.records), summary(&b.records));
        assert_eq!(b.records[4].ts, Some(Timestamp { secs: 1_700_000_000, nanos: 5 }));
        assert_eq!(
            a.records.iter().map(|r| &r.raw).collect::<Vec<_>>(),
            b.records.iter().map(|r| &r.raw).collect::<Vec<_>>()
        );
    }

    #[test]
    fn stream_starting_midway_resynchronises() {
        let mut data = echo_request(7, 12); // the capture misses its first 5 bytes
        data.extend(simple(20, 8));
        data.extend(simple(2, 9)); // ECHO_REQUEST without payload
        let frames = vec![to_controller(100, &data[5..14]), to_controller(109, &data[14..])];
        let d = dump(pcap(&frames));
        assert_eq!(d.records.len(), 3, "{:#?}", d.records);
        assert_eq!(d.records[0].outcome, Outcome::Unframed(Unframed::StreamStartedMidway));
        assert_eq!(&d.records[0].raw[..], &data[5..20]);
        assert_eq!(d.records[1].outcome, Outcome::Decoded(Message::BarrierRequest));
        assert_eq!(d.records[1].offset, 15);
        assert_eq!(d.records[2].type_name(), "ECHO_REQUEST");
    }

    #[test]
    fn lost_segment_is_reported_and_skipped() {
        let mut data = simple(20, 1);
        data.extend(echo_request(2, 24)); // 32 bytes, the middle 16 are never captured
        data.extend(simple(21, 3));
        let frames = vec![
            frame_ethernet_ipv4(&Seg::syn(SWITCH, SPORT, CONTROLLER, 6653, 0)),
            to_controller(1, &data[..16]),
            to_controller(33, &data[32..]),
        ];
        let d = dump(pcap(&frames));
        let kinds: Vec<_> = d.records.iter().map(|r| (r.type_name(), r.outcome.clone())).collect();
        assert_eq!(kinds[0], ("BARRIER_REQUEST", Outcome::Decoded(Message::BarrierRequest)));
        assert_eq!(kinds[1], ("UNFRAMED", Outcome::Unframed(Unframed::CaptureGap { missing: 16 })));
        // The echo's captured start and end, with the hole between them.
        assert_eq!(&d.records[1].raw[..], [&data[8..16], &data[32..40]].concat());
        assert_eq!(kinds[2], ("BARRIER_REPLY", Outcome::Decoded(Message::BarrierReply)));
        assert_eq!(d.records[2].offset, 40);
        assert_eq!(d.records.len(), 3);
    }

    #[test]
    fn only_openflow_ports_unless_told_otherwise() {
        let seg = Seg::new(SWITCH, SPORT, CONTROLLER, 9999, 1, &simple(20, 5));
        let capture = Bytes::from(pcap(&[frame_ethernet_ipv4(&seg)]));
        assert!(run(capture.clone(), &DumpOptions::default()).unwrap().records.is_empty());
        let options = DumpOptions { ports: vec![9999], ..DumpOptions::default() };
        let d = run(capture, &options).unwrap();
        assert_eq!(summary(&d.records), [("BARRIER_REQUEST", Some(5), Some(Direction::SwitchToController))]);
    }

    #[test]
    fn ipv6_raw_link_type_in_pcapng() {
        let seg = Seg::new(SWITCH, SPORT, CONTROLLER, 6633, 1, &simple(20, 5));
        let d = dump(pcapng(101, &[frame_ipv6_raw(&seg)]));
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.records[0].endpoints.unwrap().src.to_string(), "[fd00::a00:1]:45678");
    }

    #[test]
    fn truncated_capture_keeps_what_was_read_and_warns() {
        let mut capture = pcap(&[to_controller(1, &simple(20, 1)), to_controller(9, &simple(20, 2))]);
        capture.truncate(capture.len() - 3);
        let d = dump(capture);
        assert_eq!(summary(&d.records), [("BARRIER_REQUEST", Some(1), Some(Direction::SwitchToController))]);
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].contains("rest of capture ignored"), "{:?}", d.warnings);
    }

    #[test]
    fn message_cut_by_end_of_capture_is_reported() {
        let d = dump(pcap(&[to_controller(1, &echo_request(4, 10)[..12])]));
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.records[0].outcome, Outcome::Unframed(Unframed::EndOfStream { expected: 18 }));
        assert_eq!(d.records[0].type_name(), "ECHO_REQUEST");
    }

    #[test]
    fn unsupported_link_type_is_a_warning() {
        let d = dump(pcapng(147, &[vec![1, 2, 3]]));
        assert!(d.records.is_empty());
        assert_eq!(d.warnings, ["1 packets with unsupported link type 147 skipped"]);
    }

    #[test]
    fn every_truncation_of_a_capture_is_handled() {
        let capture = pcap(&conversation());
        for cut in 0..capture.len() {
            // Must not panic; an unreadable header is an error, anything else gives records.
            let _ = run(Bytes::copy_from_slice(&capture[..cut]), &DumpOptions::default());
        }
        let capture = pcapng(1, &conversation());
        for cut in 0..capture.len() {
            let _ = run(Bytes::copy_from_slice(&capture[..cut]), &DumpOptions::default());
        }
    }
}
