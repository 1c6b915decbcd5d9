//! Decoding OpenFlow streams for inspection: hex strings, raw binary message streams and pcap/pcapng
//! captures, turned into a list of [`Record`]s and printed as text or JSON lines.
//!
//! Everything here works on bytes already in memory (no I/O), so the `rudder-ofdump` binary and the
//! controller's `rudder ofdump` subcommand share the same code: read the input, call [`run`] (or
//! [`parse_hex`] then [`run`]), print each record with [`format_text`] or [`format_json`].
//!
//! Layers, bottom up: `pcapfile` walks pcap/pcapng files, `net` parses link/IP/TCP headers, `tcp`
//! reassembles each TCP direction, `capture` tracks connections, `stream` frames a byte stream into
//! messages (resynchronising after gaps), `format` and `summary` print.

mod format;
mod hex;
mod stream;
mod summary;

#[cfg(feature = "pcap")]
mod capture;
#[cfg(feature = "pcap")]
mod net;
#[cfg(feature = "pcap")]
mod pcapfile;
#[cfg(feature = "pcap")]
mod tcp;
#[cfg(all(test, feature = "pcap"))]
mod testcap;

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;
use serde::Serialize;

use crate::framing::FrameError;
use crate::{DecodeError, Header, Message};

pub use format::{format_json, format_text, timestamp_text};
pub use hex::{HexError, parse_hex};
pub use stream::decode_stream;

/// TCP ports OpenFlow controllers listen on: 6653 (IANA) and 6633 (pre-IANA, still common).
pub const DEFAULT_PORTS: [u16; 2] = [6653, 6633];

/// How to read the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpOptions {
    /// TCP ports that carry OpenFlow in captures (the controller's side of the connection).
    pub ports: Vec<u16>,
    /// Largest message accepted before a length field counts as corrupt.
    pub max_message_len: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            ports: DEFAULT_PORTS.to_vec(),
            max_message_len: crate::framing::DEFAULT_MAX_MESSAGE_LEN,
        }
    }
}

/// What the input was recognised as (by its magic number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InputFormat {
    /// libpcap, any byte order, micro- or nanosecond timestamps.
    Pcap,
    /// pcapng (starts with a Section Header Block).
    PcapNg,
    /// Back-to-back OpenFlow messages with no framing around them.
    Binary,
}

impl InputFormat {
    /// Recognises pcap (`a1b2c3d4`/`a1b23c4d` either byte order, `a1b2cd34`) and pcapng (`0a0d0d0a`);
    /// anything else is a raw message stream.
    pub fn detect(input: &[u8]) -> InputFormat {
        match input.get(..4) {
            Some([0x0a, 0x0d, 0x0d, 0x0a]) => InputFormat::PcapNg,
            Some(
                [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x34, 0xcd, 0xb2, 0xa1],
            ) => InputFormat::Pcap,
            _ => InputFormat::Binary,
        }
    }
}

/// A capture timestamp (seconds since the Unix epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: u64,
    pub nanos: u32,
}

impl Timestamp {
    /// Seconds as a float, for JSON (microsecond precision survives in an f64 for any real date).
    pub fn as_secs_f64(&self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }
}

/// Which way a message travelled, judged by which end uses an OpenFlow port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Towards the OpenFlow port (the controller listens there).
    #[serde(rename = "switch->controller")]
    SwitchToController,
    /// From the OpenFlow port.
    #[serde(rename = "controller->switch")]
    ControllerToSwitch,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::SwitchToController => "switch->controller",
            Direction::ControllerToSwitch => "controller->switch",
        })
    }
}

/// The TCP connection direction a message was carried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub direction: Direction,
}

/// Why some bytes could not be cut into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unframed {
    /// The capture began in the middle of a connection; bytes before the first recognisable
    /// header were skipped.
    StreamStartedMidway,
    /// TCP bytes are missing from the capture (`missing` of them); bytes up to the next recognisable
    /// header were skipped.
    CaptureGap { missing: u64 },
    /// A header's length field is impossible (below 8 or above the maximum); bytes up to the next
    /// recognisable header were skipped.
    BadFrame(FrameError),
    /// The input (or TCP stream) ended inside a message: `expected` bytes announced, `raw` holds the rest.
    EndOfStream { expected: usize },
}

impl fmt::Display for Unframed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unframed::StreamStartedMidway => {
                write!(f, "capture started mid-stream: skipped bytes before the first OpenFlow header")
            }
            Unframed::CaptureGap { missing } => {
                write!(f, "{missing} TCP bytes missing from the capture: skipped to the next OpenFlow header")
            }
            Unframed::BadFrame(e) => write!(f, "unframeable: {e}; skipped to the next OpenFlow header"),
            Unframed::EndOfStream { expected } => {
                write!(f, "stream ended inside a message of {expected} bytes")
            }
        }
    }
}

/// What became of one framed message (or of bytes that could not be framed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Decoded(Message),
    /// The frame has a valid header but the body does not decode; `Record::raw` holds it.
    DecodeFailed(DecodeError),
    /// Bytes that are not a whole message; `Record::raw` holds them.
    Unframed(Unframed),
}

/// One item of a dump: a message (or undecodable bytes) with where and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Capture time of the packet that completed the message (`None` for hex/binary input).
    pub ts: Option<Timestamp>,
    /// The TCP direction (`None` for hex/binary input).
    pub endpoints: Option<Endpoints>,
    /// Byte offset of `raw` in its stream (the TCP direction's payload, or the binary input).
    pub offset: u64,
    /// The header, when the bytes start with one.
    pub header: Option<Header>,
    /// The message bytes exactly as framed (zero-copy where the input allowed).
    pub raw: Bytes,
    pub outcome: Outcome,
}

impl Record {
    /// The spec name of the message type (`"FLOW_MOD"`), or `"UNFRAMED"` for bytes without a message.
    pub fn type_name(&self) -> &'static str {
        match (&self.outcome, &self.header) {
            (Outcome::Unframed(Unframed::EndOfStream { .. }), Some(h)) => h.msg_type.spec_name(),
            (Outcome::Unframed(_), _) => "UNFRAMED",
            (_, Some(h)) => h.msg_type.spec_name(),
            (Outcome::Decoded(m), None) => m.msg_type().spec_name(),
            (Outcome::DecodeFailed(e), None) => e.message,
        }
    }

    /// True when the record is a successfully decoded message.
    pub fn is_decoded(&self) -> bool {
        matches!(self.outcome, Outcome::Decoded(_))
    }
}

/// The result of [`run`]: every record, plus notes about input that was skipped as a whole
/// (unsupported link types, a truncated last capture block, non-TCP traffic is not noted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    pub format: InputFormat,
    pub records: Vec<Record>,
    pub warnings: Vec<String>,
}

/// Why the input as a whole cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    #[error("the input is empty")]
    Empty,
    #[error("{format:?} capture header is unreadable: {detail}")]
    BadCaptureHeader { format: InputFormat, detail: String },
    #[error("pcap/pcapng input needs ofproto's `pcap` feature")]
    PcapUnsupported,
}

/// Dumps `input`, auto-detecting pcap / pcapng / raw binary messages by magic number.
///
/// Decode errors never stop the dump: they become records. Only an empty input or an unreadable
/// capture header is an error.
pub fn run(input: Bytes, options: &DumpOptions) -> Result<Dump, DumpError> {
    if input.is_empty() {
        return Err(DumpError::Empty);
    }
    let format = InputFormat::detect(&input);
    match format {
        InputFormat::Binary => {
            Ok(Dump { format, records: decode_stream(input, options.max_message_len), warnings: Vec::new() })
        }
        #[cfg(feature = "pcap")]
        InputFormat::Pcap | InputFormat::PcapNg => {
            let (records, warnings) = capture::dump_capture(&input, format, options)?;
            Ok(Dump { format, records, warnings })
        }
        #[cfg(not(feature = "pcap"))]
        InputFormat::Pcap | InputFormat::PcapNg => Err(DumpError::PcapUnsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_magic() {
        assert_eq!(InputFormat::detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), InputFormat::Pcap);
        assert_eq!(InputFormat::detect(&[0xa1, 0xb2, 0x3c, 0x4d]), InputFormat::Pcap);
        assert_eq!(InputFormat::detect(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]), InputFormat::PcapNg);
        assert_eq!(InputFormat::detect(&[4, 2, 0, 8, 0, 0, 0, 1]), InputFormat::Binary);
        assert_eq!(InputFormat::detect(&[4]), InputFormat::Binary);
    }

    #[test]
    fn run_binary_input_frames_every_message() {
        let input = Bytes::from_static(&[4, 2, 0, 8, 0, 0, 0, 1, 4, 20, 0, 8, 0, 0, 0, 2]);
        let dump = run(input, &DumpOptions::default()).unwrap();
        assert_eq!(dump.format, InputFormat::Binary);
        let names: Vec<_> = dump.records.iter().map(Record::type_name).collect();
        assert_eq!(names, ["ECHO_REQUEST", "BARRIER_REQUEST"]);
        assert_eq!(dump.records[1].offset, 8);
        assert_eq!(dump.records[1].outcome, Outcome::Decoded(Message::BarrierRequest));
    }

    #[test]
    fn run_rejects_empty_and_bad_capture_header() {
        assert_eq!(run(Bytes::new(), &DumpOptions::default()), Err(DumpError::Empty));
        // A pcap magic number followed by nothing: the global header is unreadable.
        let err = run(Bytes::from_static(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), &DumpOptions::default());
        assert!(matches!(err, Err(DumpError::BadCaptureHeader { format: InputFormat::Pcap, .. })), "{err:?}");
    }
}
