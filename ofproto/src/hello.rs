//! HELLO (OF1.3.5 §7.5.1): hello elements, the version bitmap, and version negotiation (§6.3.1).
//!
//! A HELLO body is a list of TLV elements (`ofp_hello_elem_header`: type, length). Each element's
//! length excludes the zero padding that rounds it up to a multiple of 8 bytes. The only element type
//! OF1.3 defines is `OFPHET_VERSIONBITMAP`; any other type is kept as [`HelloElement::Unknown`] so it
//! round-trips.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u32};
use serde::Serialize;

use crate::codec::{
    Body, LenPatch, PResult, bad_length, check_tlv_len, field, many_until_empty, pad_to, take_exact,
};
use crate::header::OFP_VERSION;

/// `OFPHET_VERSIONBITMAP`: the element type of a version bitmap.
pub const HELLO_ELEM_VERSION_BITMAP: u16 = 1;

/// Size of `ofp_hello_elem_header` (type + length).
pub const HELLO_ELEM_HEADER_LEN: usize = 4;

/// Elements are padded to this alignment (OF1.3.5 §7.5.1: "padded to 64 bits").
const HELLO_ELEM_ALIGN: usize = 8;

/// Width of one version bitmap word in bits: bit `v % 32` of word `v / 32` means version `v`.
const BITMAP_WORD_BITS: u8 = 32;

/// OFPT_HELLO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
    /// How many of the last element's padding bytes were missing on the wire (0 for a conforming
    /// HELLO). Kept so such a HELLO re-encodes to the bytes it came from.
    #[serde(skip_serializing_if = "is_zero")]
    pub last_padding_missing: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// One hello element (`ofp_hello_elem_header` and what follows it, padding excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HelloElement {
    /// `ofp_hello_elem_versionbitmap`: the bitmaps as on the wire; bit `v % 32` of `bitmaps[v / 32]`
    /// set means the sender supports version `v` (OF1.3 = 4, so `[1 << 4]` = "only 1.3").
    VersionBitmap(Vec<u32>),
    /// An element type this library has no name for. `body` excludes the header and the padding.
    Unknown {
        element_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Hello {
    /// A HELLO carrying `elements`, each padded as the spec asks.
    pub fn new(elements: Vec<HelloElement>) -> Hello {
        Hello { elements, last_padding_missing: 0 }
    }

    /// A HELLO that offers exactly OpenFlow 1.3 (version bitmap with only bit 4 set).
    pub fn new_v13() -> Hello {
        Hello::with_versions(&[OFP_VERSION])
    }

    /// A HELLO whose version bitmap offers exactly `versions` (wire version numbers, e.g. 4 = 1.3).
    pub fn with_versions(versions: &[u8]) -> Hello {
        let words = versions.iter().map(|&v| usize::from(v / BITMAP_WORD_BITS) + 1).max().unwrap_or(1);
        let mut bitmaps = vec![0u32; words];
        for &v in versions {
            if let Some(word) = bitmaps.get_mut(usize::from(v / BITMAP_WORD_BITS)) {
                *word |= 1 << (v % BITMAP_WORD_BITS);
            }
        }
        Hello::new(vec![HelloElement::VersionBitmap(bitmaps)])
    }

    /// The bitmaps of the first version-bitmap element, if the sender included one.
    pub fn version_bitmap(&self) -> Option<&[u32]> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(bitmaps) => Some(bitmaps.as_slice()),
            HelloElement::Unknown { .. } => None,
        })
    }

    /// Whether the sender of this HELLO (whose header carried `header_version`) supports version `v`.
    ///
    /// With a version bitmap, the bitmap decides; without one, the sender supports every version up to
    /// its header version (OF1.3.5 §6.3.1).
    pub fn supports(&self, header_version: u8, v: u8) -> bool {
        match self.version_bitmap() {
            Some(bitmaps) => bitmaps
                .get(usize::from(v / BITMAP_WORD_BITS))
                .is_some_and(|word| (word >> (v % BITMAP_WORD_BITS)) & 1 == 1),
            None => header_version >= v,
        }
    }

    /// The highest version in `ours` that the sender also supports: the negotiated version, or `None`
    /// if there is none and the connection must fail with `OFPHFC_INCOMPATIBLE` (OF1.3.5 §6.3.1).
    pub fn highest_common(&self, header_version: u8, ours: &[u8]) -> Option<u8> {
        ours.iter().copied().filter(|&v| self.supports(header_version, v)).max()
    }
}

impl HelloElement {
    fn element_type(&self) -> u16 {
        match self {
            HelloElement::VersionBitmap(_) => HELLO_ELEM_VERSION_BITMAP,
            HelloElement::Unknown { element_type, .. } => *element_type,
        }
    }

    /// One element and the number of its padding bytes that were missing (non-zero only at the end
    /// of the message).
    fn parse(input: &[u8]) -> PResult<'_, (HelloElement, u8)> {
        let (rest, element_type) = field("elements.type", be_u16)(input)?;
        let (rest, declared) = field("elements.length", be_u16)(rest)?;
        let length = check_tlv_len(input, usize::from(declared), HELLO_ELEM_HEADER_LEN, "elements.length")?;
        let (rest, body) = take_exact(rest, length - HELLO_ELEM_HEADER_LEN, "elements.body")?;
        let element = match element_type {
            HELLO_ELEM_VERSION_BITMAP => {
                if body.len() % 4 != 0 {
                    return Err(bad_length(input, "elements.length", length));
                }
                let (_, bitmaps) = many_until_empty(body, field("elements.bitmaps", be_u32))?;
                HelloElement::VersionBitmap(bitmaps)
            }
            _ => HelloElement::Unknown { element_type, body: Bytes::copy_from_slice(body) },
        };
        // Skip the padding to 8 bytes. A last element whose padding is missing is accepted: refusing a
        // peer's HELLO over absent trailing zeros would only break version negotiation.
        let padding = length.next_multiple_of(HELLO_ELEM_ALIGN) - length;
        let present = padding.min(rest.len());
        let (rest, _) = take_exact(rest, present, "elements.pad")?;
        // Under 8 by construction (`padding` < HELLO_ELEM_ALIGN).
        Ok((rest, (element, (padding - present) as u8)))
    }

    /// Appends the element and its padding; returns how many padding bytes it wrote.
    fn emit(&self, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        buf.put_u16(self.element_type());
        let len = LenPatch::u16(buf, start);
        match self {
            HelloElement::VersionBitmap(bitmaps) => bitmaps.iter().for_each(|&word| buf.put_u32(word)),
            HelloElement::Unknown { body, .. } => buf.put_slice(body),
        }
        // The length field excludes the padding that follows.
        len.finish(buf);
        let unpadded = buf.len();
        pad_to(buf, start, HELLO_ELEM_ALIGN);
        buf.len() - unpadded
    }
}

impl Body for Hello {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let mut hello = Hello::new(Vec::new());
        let mut rest = input;
        while !rest.is_empty() {
            let (next, (element, missing)) = HelloElement::parse(rest)?;
            hello.elements.push(element);
            hello.last_padding_missing = missing;
            rest = next;
        }
        Ok((rest, hello))
    }

    fn emit(&self, buf: &mut BytesMut) {
        let last_padding = self.elements.iter().map(|e| e.emit(buf)).last().unwrap_or(0);
        // Only padding is dropped, never an element's own bytes.
        let missing = usize::from(self.last_padding_missing).min(last_padding);
        buf.truncate(buf.len() - missing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// HELLO offering only OF1.3: header, then element type 1, length 8, bitmap 0x00000010.
    static HELLO_V13: [u8; 16] = [
        0x04, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, // header, xid 1
        0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10, // VERSIONBITMAP, len 8, bit 4
    ];

    /// Version bitmap over two words (versions 1, 4 and 33) plus an unknown element type 7 with 3 body
    /// bytes; both padded to 8.
    static HELLO_TWO_ELEMENTS: [u8; 32] = [
        0x04, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02, // header, xid 2
        0x00, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x12, // VERSIONBITMAP, len 12, bits 1 and 4
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // bit 33 (word 1, bit 1), 4 bytes padding
        0x00, 0x07, 0x00, 0x07, 0xaa, 0xbb, 0xcc, 0x00, // type 7, len 7, body, 1 byte padding
    ];

    fn decode(bytes: &[u8]) -> Result<(crate::Header, Message), crate::DecodeError> {
        Message::decode(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn test_parse() {
        let (header, msg) = decode(&HELLO_V13).unwrap();
        assert_eq!(header.xid, 1);
        assert_eq!(msg, Message::Hello(Hello::new(vec![HelloElement::VersionBitmap(vec![0x10])])));

        let (_, msg) = decode(&HELLO_TWO_ELEMENTS).unwrap();
        let expected = Hello::new(vec![
            HelloElement::VersionBitmap(vec![0x12, 0x02]),
            HelloElement::Unknown { element_type: 7, body: Bytes::from_static(&[0xaa, 0xbb, 0xcc]) },
        ]);
        assert_eq!(msg, Message::Hello(expected));
    }

    #[test]
    fn test_emit() {
        assert_eq!(&Message::Hello(Hello::new_v13()).to_bytes(1)[..], &HELLO_V13);
        let (_, msg) = decode(&HELLO_TWO_ELEMENTS).unwrap();
        assert_eq!(&msg.to_bytes(2)[..], &HELLO_TWO_ELEMENTS);
    }

    #[test]
    fn empty_hello_and_old_version_header() {
        // An OF1.0 switch's HELLO: version 1, no body. Decodes (negotiation needs it).
        let (header, msg) = decode(&[0x01, 0x00, 0x00, 0x08, 0, 0, 0, 9]).unwrap();
        assert_eq!(header.version, 1);
        let Message::Hello(hello) = msg else { panic!("{msg:?}") };
        assert!(hello.elements.is_empty());
        assert!(hello.supports(1, 1));
        assert!(!hello.supports(1, 4));
        assert_eq!(hello.highest_common(1, &[4]), None);
        assert_eq!(hello.highest_common(5, &[1, 4]), Some(4));
    }

    #[test]
    fn negotiation_with_bitmap() {
        let (_, msg) = decode(&HELLO_TWO_ELEMENTS).unwrap();
        let Message::Hello(hello) = msg else { panic!("{msg:?}") };
        // The bitmap decides, not the header version.
        assert!(hello.supports(4, 1));
        assert!(!hello.supports(4, 2));
        assert!(hello.supports(4, 33));
        assert!(!hello.supports(4, 200)); // beyond the bitmap words
        assert_eq!(hello.highest_common(4, &[2, 3, 4, 5]), Some(4));
        assert_eq!(hello.highest_common(4, &[2, 3]), None);
        assert_eq!(Hello::with_versions(&[1, 4, 33]).version_bitmap(), Some(&[0x12, 0x02][..]));
    }

    #[test]
    fn ryu_corpus_hello_bitmap() {
        // Ryu's 4-10-ofp_hello: versions 1, 2, 3, 9, 10, 30.
        let bytes = [0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x08, 0x40, 0x00, 0x06, 0x0e];
        let (_, msg) = decode(&bytes).unwrap();
        let Message::Hello(hello) = &msg else { panic!("{msg:?}") };
        let versions: Vec<u8> = (0..64).filter(|&v| hello.supports(4, v)).collect();
        assert_eq!(versions, [1, 2, 3, 9, 10, 30]);
        assert_eq!(&msg.to_bytes(0)[..], &bytes);
    }

    #[test]
    fn missing_padding_on_last_element_is_tolerated_and_round_trips() {
        let bytes = [0x04, 0x00, 0x00, 0x0f, 0, 0, 0, 0, 0x00, 0x07, 0x00, 0x07, 0xaa, 0xbb, 0xcc];
        let (_, msg) = decode(&bytes).unwrap();
        let Message::Hello(hello) = &msg else { panic!("{msg:?}") };
        assert_eq!(
            hello.elements,
            [HelloElement::Unknown { element_type: 7, body: Bytes::from_static(&[0xaa, 0xbb, 0xcc]) }]
        );
        assert_eq!(hello.last_padding_missing, 1);
        assert_eq!(&msg.to_bytes(0)[..], &bytes);

        // Part of the padding present: 12-byte bitmap element followed by 2 of its 4 padding bytes.
        let bytes = [4, 0, 0, 0x16, 0, 0, 0, 0, 0, 1, 0, 0x0c, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0];
        let (_, msg) = decode(&bytes).unwrap();
        assert_eq!(&msg.to_bytes(0)[..], &bytes);
    }

    #[test]
    fn missing_padding_never_cuts_an_element() {
        // The bitmap element is 8 bytes long and has no padding to drop.
        let hello = Hello { last_padding_missing: 3, ..Hello::new_v13() };
        assert_eq!(&Message::Hello(hello).to_bytes(1)[..], &HELLO_V13);
    }

    #[test]
    fn largest_hello_without_final_padding_re_encodes_to_its_own_length() {
        // One unknown element filling a 65535-byte message: element length 65527 needs 1 byte of
        // padding that cannot fit under the header's 16-bit length.
        let mut bytes = vec![0x04, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0x00, 0x07, 0xff, 0xf7];
        bytes.resize(65535, 0xab);
        let (_, msg) = decode(&bytes).unwrap();
        let out = msg.to_bytes(0);
        assert_eq!(out.len(), 65535);
        assert_eq!(&out[..], &bytes[..]);
    }

    #[test]
    fn bad_lengths_are_errors() {
        // Element length 3 < header size.
        let err =
            decode(&[0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x03, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            (err.field, err.offset, err.kind),
            ("elements.length", 8, DecodeErrorKind::BadLength { value: 3 })
        );
        // Element length 16 runs past the message.
        let err =
            decode(&[0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x10, 0, 0, 0, 0]).unwrap_err();
        assert_eq!((err.field, err.kind), ("elements.length", DecodeErrorKind::Truncated));
        // Bitmap of 3 bytes is not a whole number of 32-bit words.
        let err =
            decode(&[0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x07, 0, 0, 0x10, 0]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 7 });
        // Two bytes: not even an element header.
        let err = decode(&[0x04, 0x00, 0x00, 0x0a, 0, 0, 0, 0, 0x00, 0x01]).unwrap_err();
        assert_eq!((err.field, err.kind), ("elements.length", DecodeErrorKind::Truncated));
    }
}
