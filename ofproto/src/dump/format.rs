//! Printing records: readable text (a header line, then an indented body) and JSON lines.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use super::summary::summarize;
use super::{Direction, Outcome, Record, Timestamp};
use crate::Message;
use crate::error::DecodeErrorKind;

/// `2026-11-23T03:57:17.123456Z` (UTC, microseconds: what capture tools record).
pub fn timestamp_text(ts: Timestamp) -> String {
    let days = ts.secs / 86_400;
    let rem = ts.secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ts.nanos / 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Readable text: `[time] src -> dst TYPE xid=0x.. len=..` (or `[@offset]` for non-capture input),
/// then the body indented by four spaces; a decode error shows the error and a hex dump.
pub fn format_text(record: &Record) -> String {
    let mut out = String::new();
    out.push('[');
    match record.ts {
        Some(ts) => out.push_str(&timestamp_text(ts)),
        None => {
            let _ = write!(out, "@{}", record.offset);
        }
    }
    out.push(']');
    if let Some(ep) = &record.endpoints {
        let _ = write!(out, " {} -> {}", ep.src, ep.dst);
    }
    let _ = write!(out, " {}", record.type_name());
    if let Some(h) = &record.header {
        let _ = write!(out, " xid=0x{:x} len={}", h.xid, h.length);
        if h.version != crate::OFP_VERSION {
            let _ = write!(out, " version=0x{:02x}", h.version);
        }
    } else {
        let _ = write!(out, " len={}", record.raw.len());
    }
    out.push('\n');
    let body = match &record.outcome {
        Outcome::Decoded(message) => summarize(message),
        Outcome::DecodeFailed(error) => format!("decode error: {error}\n{}", hexdump(&record.raw)),
        Outcome::Unframed(why) => format!("{why}\n{}", hexdump(&record.raw)),
    };
    for line in body.lines() {
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// `0000  04 0e 00 50 ...` lines of 16 bytes.
fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:04x} ", i * 16);
        for b in chunk {
            let _ = write!(out, " {b:02x}");
        }
        out.push('\n');
    }
    out
}

fn hex_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The JSON line's fields, in print order (a struct, not a map, so the order is stable).
#[derive(Serialize)]
struct JsonRecord<'a> {
    ts: Option<f64>,
    direction: Option<Direction>,
    src: Option<String>,
    dst: Option<String>,
    offset: u64,
    xid: Option<u32>,
    #[serde(rename = "type")]
    msg_type: &'static str,
    length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<JsonMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum JsonMessage<'a> {
    Message(&'a Message),
    /// Unit variants (`BarrierRequest`) would serialise as a bare string: keep the object shape.
    Unit(Value),
}

/// One JSON object (no newline): `ts` (seconds, float), `direction`, `src`, `dst` (null outside
/// captures), `offset`, `xid`, `type`, `length`, then `message` (the serde form of [`Message`],
/// always an object `{"Variant": ...}`) or `error` plus `raw` (hex of the undecodable bytes).
pub fn format_json(record: &Record) -> String {
    let ep = record.endpoints.as_ref();
    let mut line = JsonRecord {
        ts: record.ts.map(|t| t.as_secs_f64()),
        direction: ep.map(|e| e.direction),
        src: ep.map(|e| e.src.to_string()),
        dst: ep.map(|e| e.dst.to_string()),
        offset: record.offset,
        xid: record.header.map(|h| h.xid),
        msg_type: record.type_name(),
        length: record.header.map_or(record.raw.len(), |h| usize::from(h.length)),
        message: None,
        error: None,
        raw: None,
    };
    match &record.outcome {
        Outcome::Decoded(message) => {
            line.message = Some(match serde_json::to_value(message) {
                Ok(Value::String(name)) => JsonMessage::Unit(json!({ name: {} })),
                _ => JsonMessage::Message(message),
            });
        }
        Outcome::DecodeFailed(error) => {
            line.error = Some(json!({
                "message": error.message,
                "field": error.field,
                "offset": error.offset,
                "kind": kind_name(&error.kind),
                "text": error.to_string(),
            }));
            line.raw = Some(hex_string(&record.raw));
        }
        Outcome::Unframed(why) => {
            line.error = Some(json!({ "kind": "unframed", "text": why.to_string() }));
            line.raw = Some(hex_string(&record.raw));
        }
    }
    serde_json::to_string(&line)
        .unwrap_or_else(|e| json!({ "serialization_error": e.to_string() }).to_string())
}

fn kind_name(kind: &DecodeErrorKind) -> &'static str {
    match kind {
        DecodeErrorKind::Truncated => "truncated",
        DecodeErrorKind::BadLength { .. } => "bad_length",
        DecodeErrorKind::BadValue { .. } => "bad_value",
        DecodeErrorKind::TrailingBytes { .. } => "trailing_bytes",
        DecodeErrorKind::UnsupportedVersion { .. } => "unsupported_version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::decode_stream;
    use bytes::Bytes;

    #[test]
    fn timestamps_print_as_utc() {
        assert_eq!(timestamp_text(Timestamp { secs: 0, nanos: 0 }), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29 12:34:56.789012 UTC (a leap day).
        let ts = Timestamp { secs: 1_709_210_096, nanos: 789_012_345 };
        assert_eq!(timestamp_text(ts), "2024-02-29T12:34:56.789012Z");
    }

    #[test]
    fn text_and_json_for_a_decoded_message() {
        let records = decode_stream(Bytes::from_static(&[4, 2, 0, 10, 0, 0, 0, 0x12, 0xab, 0xcd]), 65535);
        let text = format_text(&records[0]);
        assert!(text.starts_with("[@0] ECHO_REQUEST xid=0x12 len=10\n    "), "{text}");
        assert!(text.contains("abcd"), "{text}");
        let v: Value = serde_json::from_str(&format_json(&records[0])).unwrap();
        assert_eq!(v["type"], "ECHO_REQUEST");
        assert_eq!(v["xid"], 0x12);
        assert_eq!(v["length"], 10);
        assert_eq!(v["message"], json!({"EchoRequest": "abcd"}));
        assert_eq!(v["ts"], Value::Null);
        let line = format_json(&records[0]);
        assert!(line.starts_with(r#"{"ts":null,"direction":null,"src":null,"dst":null,"offset":0,"xid":18,"type":"ECHO_REQUEST","length":10,"message":"#), "{line}");

        let barrier = decode_stream(Bytes::from_static(&[4, 20, 0, 8, 0, 0, 0, 1]), 65535);
        let v: Value = serde_json::from_str(&format_json(&barrier[0])).unwrap();
        assert_eq!(v["message"], json!({"BarrierRequest": {}}));
    }

    #[test]
    fn decode_errors_show_the_error_and_the_bytes() {
        // BARRIER_REQUEST with a body byte: the header frames, the body is wrong.
        let records = decode_stream(Bytes::from_static(&[4, 20, 0, 9, 0, 0, 0, 7, 0xee]), 65535);
        let text = format_text(&records[0]);
        assert!(text.contains("BARRIER_REQUEST xid=0x7 len=9"), "{text}");
        assert!(text.contains("decode error: BARRIER_REQUEST"), "{text}");
        assert!(text.contains("0000  04 14 00 09 00 00 00 07 ee"), "{text}");
        let v: Value = serde_json::from_str(&format_json(&records[0])).unwrap();
        assert_eq!(v["error"]["kind"], "trailing_bytes");
        assert_eq!(v["error"]["offset"], 8);
        assert_eq!(v["raw"], "04140009000000 07ee".replace(' ', ""));
        assert!(v.get("message").is_none());
    }
}
