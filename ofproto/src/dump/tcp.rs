//! TCP reassembly for captures: turns the segments of one direction of a connection, in capture
//! order, into the in-order byte stream the receiving application read.
//!
//! Sequence numbers (RFC 9293 §3.4) are compared modulo 2^32 relative to the next expected byte, so
//! wrap-around is handled. Retransmitted and overlapping data is trimmed (the first copy wins, as the
//! receiver keeps what it already acknowledged); segments that arrive ahead of a hole wait in a queue
//! until the hole is filled. If the capture never fills a hole (the capture dropped the segment), the
//! stream is declared to have a gap when it ends or when too much data waits behind the hole.

use std::collections::BTreeMap;

use super::net::{TcpSegment, tcp_flags};

/// Out-of-order data held behind a hole before the hole is declared lost.
const MAX_PENDING_BYTES: usize = 4 << 20;

/// What reassembly produced for one segment, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// In-order payload bytes.
    Data(Vec<u8>),
    /// `missing` bytes were never captured; the next `Data` follows the hole.
    Gap { missing: u64 },
}

/// Reassembly state of one direction of one TCP connection.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    /// Sequence number of the next in-order byte; `None` until the first segment.
    next_seq: Option<u32>,
    /// True if the stream's start was seen (SYN); otherwise the first segment may be mid-message.
    pub(crate) saw_syn: bool,
    /// Segments beyond a hole, keyed by their distance ahead of `next_seq` at arrival time, rebased
    /// to absolute stream positions (`delivered` + distance) so keys never wrap.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Bytes delivered so far (the stream position of `next_seq`).
    delivered: u64,
}

impl Reassembler {
    /// Feeds one segment; returns the chunks it makes available, in order.
    pub(crate) fn segment(&mut self, seg: &TcpSegment<'_>) -> Vec<Chunk> {
        let mut out = Vec::new();
        if seg.flags & tcp_flags::SYN != 0 {
            // SYN consumes one sequence number (RFC 9293 §3.4); data starts after it.
            if self.next_seq.is_none() {
                self.saw_syn = true;
            }
            self.next_seq.get_or_insert(seg.seq.wrapping_add(1));
            let data_seq = seg.seq.wrapping_add(1);
            self.accept(data_seq, seg.payload, &mut out);
            return out;
        }
        if seg.payload.is_empty() {
            return out;
        }
        self.next_seq.get_or_insert(seg.seq);
        self.accept(seg.seq, seg.payload, &mut out);
        out
    }

    /// Whether a SYN with sequence number `seq` belongs to this stream (first sight, or a
    /// retransmitted SYN); otherwise the ports were reused for a new connection.
    pub(crate) fn accepts_syn(&self, seq: u32) -> bool {
        // A retransmitted SYN's data start lies at or behind the next expected byte, within what was
        // already delivered.
        self.next_seq.is_none_or(|next| u64::from(next.wrapping_sub(seq.wrapping_add(1))) <= self.delivered)
    }

    /// The capture ended: anything still waiting is behind a hole that will never be filled.
    pub(crate) fn finish(&mut self) -> Vec<Chunk> {
        let mut out = Vec::new();
        while !self.pending.is_empty() {
            self.skip_hole(&mut out);
        }
        out
    }

    fn accept(&mut self, seq: u32, data: &[u8], out: &mut Vec<Chunk>) {
        let Some(next) = self.next_seq else { return };
        // Signed distance ahead of the next expected byte (RFC 9293 §3.4 modular comparison).
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead <= 0 {
            let already = ahead.unsigned_abs() as usize;
            if already >= data.len() {
                return; // pure retransmission
            }
            self.deliver(&data[already..], out);
            self.drain_pending(out);
        } else if !data.is_empty() {
            let at = self.delivered + u64::from(ahead.unsigned_abs());
            let slot = self.pending.entry(at).or_default();
            if data.len() > slot.len() {
                self.pending_bytes += data.len() - slot.len();
                *slot = data.to_vec();
            }
            if self.pending_bytes > MAX_PENDING_BYTES {
                self.skip_hole(out);
            }
        }
    }

    fn deliver(&mut self, data: &[u8], out: &mut Vec<Chunk>) {
        if data.is_empty() {
            return;
        }
        self.delivered += data.len() as u64;
        if let Some(next) = self.next_seq.as_mut() {
            // Stream positions are u64; sequence numbers wrap at 2^32 by design.
            *next = next.wrapping_add(data.len() as u32);
        }
        match out.last_mut() {
            Some(Chunk::Data(prev)) => prev.extend_from_slice(data),
            _ => out.push(Chunk::Data(data.to_vec())),
        }
    }

    /// Delivers queued segments that have become contiguous.
    fn drain_pending(&mut self, out: &mut Vec<Chunk>) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.delivered {
                return;
            }
            let data = entry.remove();
            self.pending_bytes -= data.len();
            let already = usize::try_from(self.delivered - at).unwrap_or(usize::MAX);
            if already < data.len() {
                self.deliver(&data[already..], out);
            }
        }
    }

    /// Gives up on the hole before the first queued segment.
    fn skip_hole(&mut self, out: &mut Vec<Chunk>) {
        let Some((&at, _)) = self.pending.first_key_value() else { return };
        let missing = at.saturating_sub(self.delivered);
        out.push(Chunk::Gap { missing });
        self.delivered += missing;
        if let Some(next) = self.next_seq.as_mut() {
            *next = next.wrapping_add(missing as u32);
        }
        self.drain_pending(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn seg(seq: u32, flags: u8, payload: &[u8]) -> TcpSegment<'_> {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        TcpSegment { src: ip, dst: ip, src_port: 1, dst_port: 6653, seq, flags, payload }
    }

    fn data(chunks: &[Chunk]) -> Vec<u8> {
        chunks
            .iter()
            .flat_map(|c| match c {
                Chunk::Data(d) => d.clone(),
                Chunk::Gap { .. } => vec![],
            })
            .collect()
    }

    #[test]
    fn reorders_and_drops_retransmissions() {
        let mut r = Reassembler::default();
        assert!(r.segment(&seg(99, tcp_flags::SYN, &[])).is_empty());
        assert!(r.saw_syn);
        assert!(r.segment(&seg(104, 0, b"efg")).is_empty()); // ahead of a hole at 103
        assert_eq!(data(&r.segment(&seg(100, 0, b"abc"))), b"abc"); // the hole at 103 remains
        let next = r.segment(&seg(102, 0, b"cd")); // overlaps "c", fills 'd', releases "efg"
        assert_eq!(data(&next), b"defg");
        assert!(r.segment(&seg(100, 0, b"abcdefg")).is_empty()); // full retransmission
        assert_eq!(data(&r.segment(&seg(106, 0, b"ghij"))), b"hij"); // partial overlap
        assert!(r.finish().is_empty());
    }

    #[test]
    fn handles_sequence_wrap_around() {
        let mut r = Reassembler::default();
        r.segment(&seg(u32::MAX - 1, tcp_flags::SYN, &[]));
        assert_eq!(data(&r.segment(&seg(u32::MAX, 0, b"ab"))), b"ab");
        assert_eq!(data(&r.segment(&seg(3, 0, b"de"))), b"");
        assert_eq!(data(&r.segment(&seg(1, 0, b"xc"))), b"xcde");
    }

    #[test]
    fn reports_a_hole_the_capture_never_filled() {
        let mut r = Reassembler::default();
        assert_eq!(data(&r.segment(&seg(500, 0, b"abc"))), b"abc");
        assert!(!r.saw_syn);
        assert!(r.segment(&seg(510, 0, b"xyz")).is_empty());
        assert_eq!(r.finish(), vec![Chunk::Gap { missing: 7 }, Chunk::Data(b"xyz".to_vec())]);
    }
}
