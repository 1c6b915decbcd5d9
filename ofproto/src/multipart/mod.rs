//! MULTIPART_REQUEST / MULTIPART_REPLY (OF1.3.5 §7.3.5): statistics and descriptions, every type.
//!
//! This module owns the multipart header that follows `ofp_header` (type, flags, 4 bytes of padding),
//! the type numbers ([`MultipartType`]) and the parse helpers shared by the bodies. The bodies live in
//! submodules: [`request`] and [`reply`] (the two message bodies and their per-type dispatch),
//! [`stats`] (switch description, flow/aggregate/table/port/queue statistics), [`group_meter`] (group
//! and meter statistics, descriptions, features), [`table_features`] (`ofp_table_features` and its
//! properties), [`feature_ids`] (the instruction, action and OXM ids those properties list) and
//! [`sequence`] (joining a `REPLY_MORE` sequence into one reply, and splitting a reply that would not
//! fit one message).
//!
//! ```
//! use ofproto::Message;
//! use ofproto::multipart::{FlowStatsRequest, MultipartRequest};
//!
//! let frame = Message::MultipartRequest(MultipartRequest::flow(FlowStatsRequest::all())).to_bytes(7);
//! assert_eq!(&frame[8..10], &[0, 1]); // OFPMP_FLOW
//! ```

use nom::number::complete::be_u16;

use crate::codec::{PResult, bad_length, fail, field, take_exact, within};
use crate::error::DecodeErrorKind;
use crate::types::{FixedStr, open_enum};

pub mod feature_ids;
pub mod group_meter;
pub mod reply;
pub mod request;
pub mod sequence;
pub mod stats;
pub mod table_features;

pub use feature_ids::{ActionId, ActionType, InstructionId, InstructionType, OxmId};
pub use group_meter::{
    BucketCounter, GroupDesc, GroupFeatures, GroupStats, MeterBandStats, MeterConfig, MeterFeatures,
    MeterStats,
};
pub use reply::{MultipartReply, MultipartReplyBody};
pub use request::{FlowStatsRequest, MultipartRequest, MultipartRequestBody};
pub use sequence::{MAX_MESSAGE_LEN, MergeError, merge_replies, split_reply};
pub use stats::{AggregateStats, Desc, FlowStats, PortStats, QueueStats, TableStats};
pub use table_features::{TableFeatureProp, TableFeaturePropType, TableFeatures};

open_enum! {
    /// `ofp_multipart_type` (OF1.3.5 §7.3.5): what a multipart request asks for / a reply carries.
    pub enum MultipartType: u16 {
        Desc = 0,
        Flow = 1,
        Aggregate = 2,
        Table = 3,
        PortStats = 4,
        Queue = 5,
        Group = 6,
        GroupDesc = 7,
        GroupFeatures = 8,
        Meter = 9,
        MeterConfig = 10,
        MeterFeatures = 11,
        TableFeatures = 12,
        PortDesc = 13,
        Experimenter = 0xffff,
    }
}

/// `ofp_multipart_request_flags` (OF1.3.5 §7.3.5).
pub mod multipart_request_flags {
    /// More requests follow (only used by TABLE_FEATURES requests split over several messages).
    pub const REQ_MORE: u16 = 1 << 0;
}

/// `ofp_multipart_reply_flags` (OF1.3.5 §7.3.5).
pub mod multipart_reply_flags {
    /// More replies follow: reassemble with [`super::merge_replies`].
    pub const REPLY_MORE: u16 = 1 << 0;
}

/// Size of the multipart header after `ofp_header`: type (2), flags (2), pad (4).
pub const MULTIPART_HEADER_LEN: usize = 8;
// `ofp_multipart_request` / `_reply` are 16 bytes including `ofp_header` (OF1.3.5 §7.3.5).
const _: () = assert!(crate::header::HEADER_LEN + MULTIPART_HEADER_LEN == 16);

/// Parses the multipart header; returns (type, flags) and the body that follows.
fn parse_multipart_header(input: &[u8]) -> PResult<'_, (u16, u16)> {
    let (i, mp_type) = field("multipart.type", be_u16)(input)?;
    let (i, flags) = field("multipart.flags", be_u16)(i)?;
    let (i, _) = take_exact(i, 4, "multipart.pad")?;
    Ok((i, (mp_type, flags)))
}

/// Reads a NUL-padded `char[N]` field.
fn fixed_str<'a, const N: usize>(input: &'a [u8], name: &'static str) -> PResult<'a, FixedStr<N>> {
    let (rest, raw) = take_exact(input, N, name)?;
    let raw: [u8; N] = raw.try_into().map_err(|_| fail(input, name, DecodeErrorKind::Truncated))?;
    Ok((rest, FixedStr(raw)))
}

/// Parses one entry that carries its own 16-bit length at byte `len_offset` (flow stats, group stats,
/// meter stats, table features, ...): checks the length against `min` and the bytes available, then
/// runs `parser` on exactly that many bytes (from the start of the entry, length field included).
fn length_prefixed<'a, T>(
    input: &'a [u8],
    len_offset: usize,
    min: usize,
    name: &'static str,
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, T> {
    let (at_len, _) = take_exact(input, len_offset, name)?;
    let (_, declared) = field(name, be_u16)(at_len)?;
    let declared = usize::from(declared);
    if declared < min {
        return Err(bad_length(at_len, name, declared));
    }
    if declared > input.len() {
        return Err(fail(at_len, name, DecodeErrorKind::Truncated));
    }
    within(input, declared, name, parser)
}

/// Parses a run of [`length_prefixed`] entries filling `input`, with the Vec sized up front.
fn length_prefixed_list<'a, T>(
    input: &'a [u8],
    len_offset: usize,
    min: usize,
    name: &'static str,
    mut parser: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let mut out = Vec::with_capacity(count_entries(input, len_offset, min));
    let mut rest = input;
    while !rest.is_empty() {
        let (next, entry) = length_prefixed(rest, len_offset, min, name, &mut parser)?;
        out.push(entry);
        rest = next;
    }
    Ok((rest, out))
}

/// Counts the well-formed length-prefixed entries in `input` by walking their length fields, so a list
/// of 1000 flow stats is one allocation. Stops at the first bad length (the parse reports it).
fn count_entries(input: &[u8], len_offset: usize, min: usize) -> usize {
    let min = min.max(1);
    let mut count = 0;
    let mut offset = 0;
    while let Some(&[hi, lo]) = input.get(offset + len_offset..offset + len_offset + 2) {
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < min || len > input.len() - offset {
            break;
        }
        count += 1;
        offset += len;
    }
    count
}

/// Parses fixed-size entries until `input` is exhausted, with the Vec sized up front.
fn fixed_size_list<'a, T>(
    input: &'a [u8],
    size: usize,
    mut parser: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let mut out = Vec::with_capacity(input.len() / size.max(1));
    let mut rest = input;
    while !rest.is_empty() {
        let before = rest.len();
        let (next, entry) = parser(rest)?;
        if next.len() >= before {
            return Err(bad_length(rest, "entry", 0));
        }
        out.push(entry);
        rest = next;
    }
    Ok((rest, out))
}

#[cfg(test)]
pub(crate) mod test_util {
    use bytes::Bytes;

    use crate::Message;

    /// Decodes a whole message given as hex (whitespace ignored), asserts it re-encodes to the same
    /// bytes, and returns it.
    pub(crate) fn round_trip(hex_text: &str) -> Message {
        let frame = frame(hex_text);
        let (header, msg) = Message::decode(&frame).unwrap_or_else(|e| panic!("decode failed: {e}"));
        assert_eq!(hex::encode(msg.to_bytes(header.xid)), hex::encode(&frame), "re-encode differs");
        msg
    }

    /// Hex text (whitespace ignored) to bytes.
    pub(crate) fn frame(hex_text: &str) -> Bytes {
        let clean: String = hex_text.split_whitespace().collect();
        Bytes::from(hex::decode(clean).expect("test vector is valid hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::WireErr;

    #[test]
    fn count_entries_walks_lengths_and_stops_at_garbage() {
        // Three entries of 8, 16 and 8 bytes, length at offset 0, then 3 stray bytes.
        let mut data = vec![0, 8, 0, 0, 0, 0, 0, 0];
        data.extend([0, 16]);
        data.extend([0; 14]);
        data.extend([0, 8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(count_entries(&data, 0, 8), 3);
        data.extend([0, 9, 1]);
        assert_eq!(count_entries(&data, 0, 8), 3);
        // A zero length never loops.
        assert_eq!(count_entries(&[0, 0, 0, 0], 0, 0), 0);
    }

    #[test]
    fn length_prefixed_rejects_short_and_overlong_lengths() {
        let short = [0u8, 4, 0, 0, 0, 0, 0, 0];
        let err = length_prefixed(&short, 0, 8, "x.length", |i| Ok((&i[i.len()..], ()))).unwrap_err();
        assert!(matches!(
            err,
            nom::Err::Error(WireErr { field: "x.length", kind: DecodeErrorKind::BadLength { value: 4 }, .. })
        ));
        let long = [0u8, 12, 0, 0, 0, 0, 0, 0];
        let err = length_prefixed(&long, 0, 8, "x.length", |i| Ok((&i[i.len()..], ()))).unwrap_err();
        assert!(matches!(
            err,
            nom::Err::Error(WireErr { field: "x.length", kind: DecodeErrorKind::Truncated, .. })
        ));
    }

    #[test]
    fn multipart_type_round_trips_unknown() {
        assert_eq!(MultipartType::from(12), MultipartType::TableFeatures);
        assert_eq!(MultipartType::from(0xffff), MultipartType::Experimenter);
        assert_eq!(MultipartType::from(77).value(), 77);
    }

    /// Multipart type numbers the generator picks from: every named one plus unknown ones.
    fn any_mp_type() -> impl proptest::strategy::Strategy<Value = u16> {
        proptest::prop_oneof![0u16..=15, Just(0xffff), any::<u16>()]
    }

    use proptest::prelude::*;

    proptest! {
        /// No body makes the decoder panic, and whatever decodes re-encodes to a frame that decodes to
        /// the same value (padding content aside, the encoding is canonical).
        #[test]
        fn arbitrary_bodies_never_panic(
            reply in any::<bool>(),
            mp_type in any_mp_type(),
            flags in any::<u16>(),
            body in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut frame = vec![4, if reply { 19 } else { 18 }, 0, 0, 0, 0, 0, 9];
            frame.extend(mp_type.to_be_bytes());
            frame.extend(flags.to_be_bytes());
            frame.extend([0; 4]);
            frame.extend(&body);
            let len = u16::try_from(frame.len()).unwrap();
            frame[2..4].copy_from_slice(&len.to_be_bytes());
            let frame = bytes::Bytes::from(frame);
            if let Ok((_, msg)) = crate::Message::decode(&frame) {
                let again = msg.to_bytes(9);
                let (_, msg_again) = crate::Message::decode(&again).expect("re-encoded message decodes");
                prop_assert_eq!(msg_again, msg);
            }
        }
    }

    /// Valid replies with nested length fields at every level.
    const NESTED_REPLIES: [&str; 5] = [
        // FLOW: two entries, the second with a match and a goto_table instruction.
        "0413 0090 00000001 0001 0000 00000000
         0038 00 00 00000166 06defcc8 ffff 0000 0000 0000 00000000
         0000000000000000 0000000000000000 ffffffffffffffff 0001 0004 00000000
         0048 00 00 00000166 06defcc8 fffe 0000 0000 0000 00000000
         0000000000000000 0000000000000000 ffffffffffffffff 0001 000a 80000a02 0800 000000000000
         0001 0008 01000000",
        // GROUP_DESC: one select group, one bucket with a group action.
        "0413 0030 00000001 0007 0000 00000000 0020 01 00 00000001
         0018 0001 ffffffff ffffffff 00000000 0016 0008 00000002",
        // METER_CONFIG and METER (length after the meter id).
        "0413 0028 00000001 000a 0000 00000000 0018 000e 00000064 0001 0010 000003e8 0000000a 00000000",
        "0413 0048 00000001 0009 0000 00000000 00000064 0038 000000000000 00000000 0000000000000000
         0000000000000000 00000000 00075300 0000000000000000 0000000000000000",
        // TABLE_FEATURES: instruction ids, next tables, OXM ids (one experimenter), experimenter prop.
        "0413 0088 00000001 000c 0000 00000000
         0078 00 0000000000 7430000000000000000000000000000000000000000000000000000000000000
         ffffffffffffffff 0000000000000000 00000000 00000010
         0000 0010 0001 0004 ffff 0008 00002320
         0002 0006 0102 0000
         0008 0010 80000004 ffff0104 4f4e4600
         fffe 0010 00000065 00000001 00000001",
    ];

    #[test]
    fn nested_vectors_round_trip() {
        for wire in NESTED_REPLIES {
            test_util::round_trip(wire);
        }
    }

    /// Every truncation and every single-byte corruption of a valid nested reply decodes to a value
    /// or to an error, never a panic; whatever decodes re-encodes to an equal value.
    #[test]
    fn corrupted_nested_replies_never_panic() {
        for wire in NESTED_REPLIES {
            let good = test_util::frame(wire).to_vec();
            let mut variants = Vec::new();
            for cut in 16..good.len() {
                let mut short = good[..cut].to_vec();
                short[2..4].copy_from_slice(&u16::try_from(cut).unwrap().to_be_bytes());
                variants.push(short);
            }
            for at in 8..good.len() {
                for value in [0x00, 0x01, 0x07, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[at] = value;
                    variants.push(bad);
                }
            }
            for frame in variants {
                let frame = bytes::Bytes::from(frame);
                if let Ok((_, msg)) = crate::Message::decode(&frame) {
                    let (_, again) = crate::Message::decode(&msg.to_bytes(1)).expect("re-encoding decodes");
                    assert_eq!(again, msg);
                }
            }
        }
    }
}
