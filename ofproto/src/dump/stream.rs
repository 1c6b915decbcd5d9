//! Cutting one byte stream (a binary file, or one reassembled TCP direction) into records.
//!
//! Framing uses [`Framer`] exactly as a live connection would. Unlike a live connection a dump does
//! not give up on a stream that cannot be framed (a capture that starts mid-connection, bytes lost by
//! the capture, a corrupt length field): it skips to the next offset that looks like an OpenFlow 1.3
//! header *followed by another one* (or by the end of the data), reports the skipped bytes as one
//! [`Unframed`] record, and carries on.

use bytes::{Bytes, BytesMut};

use super::{Endpoints, Outcome, Record, Timestamp, Unframed};
use crate::framing::Framer;
use crate::header::{HEADER_LEN, Header, MsgType};
use crate::{Message, OFP_VERSION};

/// Frames and decodes a complete binary message stream (hex or file input).
pub fn decode_stream(input: Bytes, max_message_len: usize) -> Vec<Record> {
    let mut decoder = StreamDecoder::new(None, max_message_len, false);
    let mut records = Vec::new();
    decoder.push(&input, None, &mut records);
    decoder.finish(None, &mut records);
    records
}

/// Incremental framing of one stream with resynchronisation. Feed bytes in order with [`push`];
/// call [`finish`] at the end of the stream.
///
/// [`push`]: StreamDecoder::push
/// [`finish`]: StreamDecoder::finish
#[derive(Debug)]
pub(crate) struct StreamDecoder {
    endpoints: Option<Endpoints>,
    framer: Framer,
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// `Some(reason)` while looking for the next header; `skipped` collects the bytes passed over.
    resync: Option<Unframed>,
    /// Why `skipped` was skipped, once the search has ended.
    skipped_reason: Option<Unframed>,
    skipped: BytesMut,
    skipped_offset: u64,
    /// Time of the last data seen, for the records `finish` emits.
    last_ts: Option<Timestamp>,
}

impl StreamDecoder {
    /// `started_midway`: the stream's first bytes may be the middle of a message (a capture that did
    /// not see the TCP handshake).
    pub(crate) fn new(endpoints: Option<Endpoints>, max_message_len: usize, started_midway: bool) -> Self {
        StreamDecoder {
            endpoints,
            framer: Framer::new(max_message_len),
            buf: BytesMut::new(),
            offset: 0,
            resync: started_midway.then_some(Unframed::StreamStartedMidway),
            skipped_reason: None,
            skipped: BytesMut::new(),
            skipped_offset: 0,
            last_ts: None,
        }
    }

    /// Bytes `missing` were lost before the next `push`: whatever is buffered can no longer be
    /// completed, so it is skipped and the decoder looks for the next header.
    #[cfg_attr(not(feature = "pcap"), allow(dead_code))] // only TCP reassembly sees gaps
    pub(crate) fn gap(&mut self, missing: u64, out: &mut Vec<Record>) {
        if self.resync.is_none() {
            self.flush_skipped(out);
        }
        let pending = self.buf.split();
        if self.skipped.is_empty() {
            self.skipped_offset = self.offset;
        }
        self.skipped.extend_from_slice(&pending);
        self.offset += pending.len() as u64 + missing;
        let missing = match self.resync {
            Some(Unframed::CaptureGap { missing: before }) => before + missing,
            _ => missing,
        };
        self.resync = Some(Unframed::CaptureGap { missing });
    }

    /// Appends stream bytes seen at `ts` and emits every record they complete.
    pub(crate) fn push(&mut self, data: &[u8], ts: Option<Timestamp>, out: &mut Vec<Record>) {
        self.last_ts = ts.or(self.last_ts);
        self.buf.extend_from_slice(data);
        self.drain(false, out);
    }

    /// The stream ended: emits what is left (an incomplete message, unresolved skipped bytes).
    pub(crate) fn finish(&mut self, ts: Option<Timestamp>, out: &mut Vec<Record>) {
        self.last_ts = ts.or(self.last_ts);
        self.drain(true, out);
        if self.resync.is_some() {
            // Never found a header: everything left is skipped.
            let rest = self.buf.len();
            self.skip(rest);
            self.skipped_reason = self.resync.take();
        }
        self.flush_skipped(out);
        if !self.buf.is_empty() {
            let raw = self.buf.split().freeze();
            let header = Header::parse(&raw).ok();
            let expected = header.map_or(HEADER_LEN, |h| usize::from(h.length));
            out.push(self.record(
                self.offset,
                header,
                raw,
                Outcome::Unframed(Unframed::EndOfStream { expected }),
            ));
        }
    }

    fn drain(&mut self, at_end: bool, out: &mut Vec<Record>) {
        loop {
            if self.resync.is_some() && !self.resynchronise(at_end) {
                return;
            }
            self.flush_skipped(out);
            match self.framer.next_frame(&mut self.buf) {
                Ok(Some(frame)) => {
                    let offset = self.offset;
                    self.offset += frame.len() as u64;
                    out.push(self.decode(offset, frame));
                }
                Ok(None) => return,
                Err(e) => {
                    self.resync = Some(Unframed::BadFrame(e));
                    // Skip at least the bad header's first byte so the search moves on.
                    self.skip(1);
                }
            }
        }
    }

    fn decode(&self, offset: u64, frame: Bytes) -> Record {
        let header = Header::parse(&frame).ok();
        let outcome = match Message::decode(&frame) {
            Ok((_, message)) => Outcome::Decoded(message),
            Err(e) => Outcome::DecodeFailed(e),
        };
        self.record(offset, header, frame, outcome)
    }

    fn record(&self, offset: u64, header: Option<Header>, raw: Bytes, outcome: Outcome) -> Record {
        Record { ts: self.last_ts, endpoints: self.endpoints, offset, header, raw, outcome }
    }

    fn skip(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        if self.skipped.is_empty() {
            self.skipped_offset = self.offset;
        }
        let dropped = self.buf.split_to(n);
        self.skipped.extend_from_slice(&dropped);
        self.offset += n as u64;
    }

    fn flush_skipped(&mut self, out: &mut Vec<Record>) {
        if self.resync.is_some() {
            return;
        }
        let Some(reason) = self.skipped_reason.take() else { return };
        // A gap is worth reporting even when it fell exactly between two messages.
        if self.skipped.is_empty() && !matches!(reason, Unframed::CaptureGap { .. }) {
            return;
        }
        let raw = self.skipped.split().freeze();
        out.push(self.record(self.skipped_offset, None, raw, Outcome::Unframed(reason)));
    }

    /// Looks for the next plausible header. Returns true once the buffer starts at one (the skipped
    /// bytes and reason are kept for [`Self::flush_skipped`]), false if more data is needed.
    ///
    /// A header confirmed by the one after it wins over an earlier one whose message runs past the
    /// data so far: payload bytes easily look like one header, rarely like two in a row.
    fn resynchronise(&mut self, at_end: bool) -> bool {
        let mut first_unconfirmed = None;
        for at in 0..=self.buf.len().saturating_sub(HEADER_LEN) {
            if self.buf.len() < at + HEADER_LEN {
                break;
            }
            match self.candidate(at) {
                Candidate::Confirmed => {
                    self.skip(at);
                    self.skipped_reason = self.resync.take();
                    return true;
                }
                Candidate::NeedMore => {
                    first_unconfirmed.get_or_insert(at);
                }
                Candidate::No => {}
            }
        }
        match first_unconfirmed {
            Some(at) if at_end => {
                self.skip(at);
                self.skipped_reason = self.resync.take();
                true
            }
            Some(at) => {
                self.skip(at);
                false
            }
            // Keep the last 7 bytes: they may be the start of a header split across pushes.
            None => {
                self.skip(self.buf.len().saturating_sub(HEADER_LEN - 1));
                false
            }
        }
    }

    /// Whether an OpenFlow 1.3 header at `buf[at..]` is believable: known type, sane length, and the
    /// next message (if the data reaches it) starts with a believable header too.
    fn candidate(&self, at: usize) -> Candidate {
        let Some(len) = self.plausible_len(at) else { return Candidate::No };
        let next = at + len;
        if next == self.buf.len() {
            return Candidate::Confirmed;
        }
        if next + HEADER_LEN <= self.buf.len() {
            return if self.plausible_len(next).is_some() { Candidate::Confirmed } else { Candidate::No };
        }
        Candidate::NeedMore
    }

    fn plausible_len(&self, at: usize) -> Option<usize> {
        let h = self.buf.get(at..at + HEADER_LEN)?;
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let known_type = !matches!(MsgType::from(h[1]), MsgType::Unknown(_));
        (h[0] == OFP_VERSION && known_type && len >= HEADER_LEN && len <= self.framer.max_len())
            .then_some(len)
    }
}

enum Candidate {
    Confirmed,
    NeedMore,
    No,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::FrameError;

    const BARRIER: [u8; 8] = [4, 20, 0, 8, 0, 0, 0, 1];
    const ECHO: [u8; 10] = [4, 2, 0, 10, 0, 0, 0, 2, 0xaa, 0xbb];

    fn types(records: &[Record]) -> Vec<&'static str> {
        records.iter().map(Record::type_name).collect()
    }

    #[test]
    fn bad_length_field_skips_to_the_next_header() {
        let mut input = BARRIER.to_vec();
        input.extend_from_slice(&[4, 0, 0, 3, 9, 9]); // header claims 3 bytes
        input.extend_from_slice(&ECHO);
        input.extend_from_slice(&BARRIER);
        let records = decode_stream(Bytes::from(input), 65535);
        assert_eq!(types(&records), ["BARRIER_REQUEST", "UNFRAMED", "ECHO_REQUEST", "BARRIER_REQUEST"]);
        assert_eq!(
            records[1].outcome,
            Outcome::Unframed(Unframed::BadFrame(FrameError::LengthTooSmall { length: 3 }))
        );
        assert_eq!(&records[1].raw[..], &[4, 0, 0, 3, 9, 9]);
        assert_eq!((records[1].offset, records[2].offset, records[3].offset), (8, 14, 24));
    }

    #[test]
    fn message_over_the_maximum_is_unframeable() {
        let mut input = vec![4, 10, 0x10, 0, 0, 0, 0, 1]; // a 4096-byte PACKET_IN header
        input.extend_from_slice(&BARRIER);
        let records = decode_stream(Bytes::from(input), 1024);
        assert_eq!(
            records[0].outcome,
            Outcome::Unframed(Unframed::BadFrame(FrameError::LengthTooLarge { length: 4096, max: 1024 }))
        );
        assert_eq!(records[1].outcome, Outcome::Decoded(Message::BarrierRequest));
    }

    #[test]
    fn garbage_only_is_one_unframed_record() {
        let records = decode_stream(Bytes::from_static(&[4, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]), 65535);
        assert_eq!(types(&records), ["UNFRAMED"]);
        assert_eq!(records[0].raw.len(), 11);
    }

    #[test]
    fn gap_between_messages_is_still_reported() {
        let mut decoder = StreamDecoder::new(None, 65535, false);
        let mut out = Vec::new();
        decoder.push(&BARRIER, None, &mut out);
        decoder.gap(100, &mut out);
        decoder.push(&ECHO, None, &mut out);
        decoder.finish(None, &mut out);
        assert_eq!(types(&out), ["BARRIER_REQUEST", "UNFRAMED", "ECHO_REQUEST"]);
        assert_eq!(out[1].outcome, Outcome::Unframed(Unframed::CaptureGap { missing: 100 }));
        assert!(out[1].raw.is_empty());
        assert_eq!(out[2].offset, 108);
    }

    #[test]
    fn header_split_across_pushes_is_found() {
        let mut decoder = StreamDecoder::new(None, 65535, true);
        let mut out = Vec::new();
        decoder.push(&[0xde, 0xad, 4, 20, 0], None, &mut out);
        decoder.push(&[8, 0, 0, 0, 1], None, &mut out);
        decoder.push(&BARRIER, None, &mut out);
        decoder.finish(None, &mut out);
        assert_eq!(types(&out), ["UNFRAMED", "BARRIER_REQUEST", "BARRIER_REQUEST"]);
        assert_eq!(&out[0].raw[..], &[0xde, 0xad]);
        assert_eq!(out[1].offset, 2);
    }
}
