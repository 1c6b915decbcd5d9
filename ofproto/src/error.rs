//! The decoder's error: which message, which field, at which byte offset, and what was wrong.
//!
//! Every decode path returns [`DecodeError`]; no input makes the decoder panic.

use std::fmt;

/// What was wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before the field did.
    Truncated,
    /// A length field is inconsistent with the data around it (too small, not aligned, or past the end).
    BadLength { value: usize },
    /// A field holds a value the spec forbids here (not merely an unknown number: those round-trip).
    BadValue { value: u64 },
    /// Bytes were left over after a structure whose length says it ended.
    TrailingBytes { count: usize },
    /// The header's version is not OpenFlow 1.3 (0x04) and the message is not a HELLO.
    UnsupportedVersion { version: u8 },
}

/// A decode failure, located precisely enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// The message type being decoded, e.g. `"FLOW_MOD"` (or `"header"`).
    pub message: &'static str,
    /// The field (or structure) that failed, e.g. `"match.oxm_fields"`.
    pub field: &'static str,
    /// Byte offset from the start of the message where the failing field starts.
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: field `{}` at offset {}: ", self.message, self.field, self.offset)?;
        match &self.kind {
            DecodeErrorKind::Truncated => write!(f, "truncated"),
            DecodeErrorKind::BadLength { value } => write!(f, "bad length {value}"),
            DecodeErrorKind::BadValue { value } => write!(f, "bad value {value} (0x{value:x})"),
            DecodeErrorKind::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            DecodeErrorKind::UnsupportedVersion { version } => {
                write!(f, "unsupported OpenFlow version 0x{version:02x}")
            }
        }
    }
}

impl DecodeError {
    /// True when more bytes (not different bytes) could have made the input valid.
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Truncated)
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// OpenFlow lengths are 16-bit: the message would be `len` bytes, over 65535 (OF1.3.5 §7.1).
    #[error("{message} of {len} bytes is over OpenFlow's 65535-byte message limit")]
    TooLong { message: &'static str, len: usize },
}
