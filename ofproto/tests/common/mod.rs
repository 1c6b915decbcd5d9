//! Shared helpers for the ofproto integration tests: the Ryu conformance corpus kept in
//! `tests/data/ryu-of13/`, a small deterministic PRNG, and base64 for comparing with Ryu's JSON.
//!
//! Each integration test is its own crate and uses only part of this module, hence the
//! `dead_code` allowance below (the alternative, one helper crate, would need a Cargo.toml change).
#![allow(dead_code)]

pub mod ryu_json;
pub mod strategies;

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// The corpus directory, inside this crate so a fresh clone is self-contained.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ryu-of13")
}

/// The raw message that is cut short on purpose (Ryu expects a truncation error).
pub const TRUNCATED_VECTOR: &str = "libofproto-OFP13-flow_mod.truncated64";

/// One raw message of the corpus and the path of Ryu's JSON decoding of it.
pub struct Vector {
    pub name: String,
    pub frame: Bytes,
    pub json_path: PathBuf,
}

/// Every file in `packet/`, sorted by name, with the JSON file Ryu wrote for it.
pub fn corpus() -> Vec<Vector> {
    let dir = corpus_dir();
    let packet_dir = dir.join("packet");
    let mut names: Vec<String> = std::fs::read_dir(&packet_dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", packet_dir.display()))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let read = |file: &str| {
                std::fs::read(packet_dir.join(file))
                    .unwrap_or_else(|e| panic!("cannot read vector {file}: {e}"))
            };
            // As in Ryu's test_parser.py: the content of `<x>.truncated64` is irrelevant (it is
            // empty); the vector is the first 64 bytes of `<x>.packet`, and its JSON is
            // `<x>.packet.truncated64.json`.
            let (frame, json_name) = match name.strip_suffix(".truncated64") {
                Some(stem) => {
                    let mut whole = read(&format!("{stem}.packet"));
                    whole.truncate(64);
                    (whole, format!("{stem}.packet.truncated64.json"))
                }
                None => (read(&name), format!("{name}.json")),
            };
            Vector { json_path: dir.join("json").join(json_name), name, frame: Bytes::from(frame) }
        })
        .collect()
}

/// The corpus frames that are whole messages (everything except [`TRUNCATED_VECTOR`]).
pub fn whole_frames() -> Vec<(String, Bytes)> {
    corpus().into_iter().filter(|v| v.name != TRUNCATED_VECTOR).map(|v| (v.name, v.frame)).collect()
}

/// xorshift64*: deterministic, seedable, good enough to drive mutations (not for cryptography).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Standard base64 with padding (RFC 4648 §4), as Python's `base64.b64encode` writes Ryu's `data`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lowercase hex without separators (what `ovs-ofctl ofp-print` and failure messages take).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inverse of [`base64`]; `None` on any character outside the alphabet or a bad length.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}
