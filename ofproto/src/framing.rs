//! Splits a byte stream into whole OpenFlow messages, for any transport (tokio, blocking, pcap).
//!
//! The framer looks only at the header: it never decodes bodies, so a message with a bad body still
//! frames correctly and the connection can answer it with an OFPT_ERROR before deciding what to do.

use bytes::{Bytes, BytesMut};

use crate::header::{HEADER_LEN, field};

/// Default largest message accepted: the protocol maximum (the length field is 16 bits).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// Why a stream cannot be framed any further. The stream is unrecoverable after this: the connection
/// should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("header length {length} is below the 8-byte OpenFlow header")]
    LengthTooSmall { length: usize },
    #[error("header length {length} exceeds the configured maximum of {max}")]
    LengthTooLarge { length: usize, max: usize },
}

/// Cuts whole messages off the front of a read buffer.
#[derive(Debug, Clone, Copy)]
pub struct Framer {
    max_len: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer { max_len: DEFAULT_MAX_MESSAGE_LEN }
    }
}

impl Framer {
    /// A framer that rejects messages longer than `max_len` bytes (clamped to at least 8).
    pub fn new(max_len: usize) -> Self {
        Framer { max_len: max_len.max(HEADER_LEN) }
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Returns the next whole message (header included) and removes it from `buf`, or `Ok(None)` if
    /// `buf` does not yet hold a whole message. Zero-copy: the returned `Bytes` shares `buf`'s memory.
    pub fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let length = u16::from_be_bytes([buf[field::LENGTH.start], buf[field::LENGTH.start + 1]]) as usize;
        if length < HEADER_LEN {
            return Err(FrameError::LengthTooSmall { length });
        }
        if length > self.max_len {
            return Err(FrameError::LengthTooLarge { length, max: self.max_len });
        }
        if buf.len() < length {
            // Reserve once for the rest of this message so the transport reads it in as few calls as possible.
            buf.reserve(length - buf.len());
            return Ok(None);
        }
        Ok(Some(buf.split_to(length).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_back_to_back_and_partial() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[4, 2, 0, 8, 0, 0, 0, 1]); // echo request
        buf.extend_from_slice(&[4, 3, 0, 12, 0, 0, 0, 2, 1, 2]); // partial echo reply
        let f = Framer::default();
        let first = f.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(first.len(), 8);
        assert_eq!(f.next_frame(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[3, 4]);
        let second = f.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(&second[8..], &[1, 2, 3, 4]);
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_bad_lengths() {
        let f = Framer::new(100);
        let mut small = BytesMut::from(&[4u8, 0, 0, 4, 0, 0, 0, 0][..]);
        assert_eq!(f.next_frame(&mut small), Err(FrameError::LengthTooSmall { length: 4 }));
        let mut big = BytesMut::from(&[4u8, 0, 1, 0, 0, 0, 0, 0][..]);
        assert_eq!(f.next_frame(&mut big), Err(FrameError::LengthTooLarge { length: 256, max: 100 }));
    }

    #[test]
    fn need_more_for_short_header() {
        let mut buf = BytesMut::from(&[4u8, 0, 0][..]);
        assert_eq!(Framer::default().next_frame(&mut buf), Ok(None));
    }
}
