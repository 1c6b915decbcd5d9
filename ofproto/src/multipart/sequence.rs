//! Multipart sequences (OF1.3.5 §7.3.5): an answer too long for one message (at most 65535 bytes)
//! travels as several replies, all but the last flagged `REPLY_MORE`. [`merge_replies`] joins such a
//! sequence into one value for the controller; [`split_reply`] cuts a long reply into messages that
//! fit, for whoever plays the switch.

use bytes::BytesMut;

use super::group_meter::{GroupDesc, GroupStats, MeterConfig, MeterStats};
use super::multipart_reply_flags::REPLY_MORE;
use super::reply::{MultipartReply, MultipartReplyBody};
use super::stats::{FlowStats, PortStats, QueueStats, TableStats};
use super::table_features::TableFeatures;
use super::{MULTIPART_HEADER_LEN, MultipartType};
use crate::header::HEADER_LEN;
use crate::port::Port;

/// The largest OpenFlow message: the header's length field is 16 bits.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// Why a sequence of reply parts could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no multipart reply parts to merge")]
    Empty,
    #[error("part {index} is a {found:?} reply but the sequence started with {expected:?}")]
    TypeMismatch { index: usize, expected: MultipartType, found: MultipartType },
    #[error(
        "part {index} is for experimenter {found:#x}/type {found_type} but the sequence is for {expected:#x}/type {expected_type}"
    )]
    ExperimenterMismatch { index: usize, expected: u32, expected_type: u32, found: u32, found_type: u32 },
    #[error("a {mp_type:?} reply is a single structure and cannot arrive in {parts} parts")]
    NotSplittable { mp_type: MultipartType, parts: usize },
    #[error("part {index} of {parts} lacks REPLY_MORE: the sequence ended before its last part")]
    EndedEarly { index: usize, parts: usize },
    #[error("the last part has REPLY_MORE set: the sequence is incomplete")]
    Incomplete,
}

/// Joins the parts of one multipart answer, in order, into a single reply: list bodies are
/// concatenated, experimenter and unknown bodies have their bytes concatenated. Every part but the
/// last must carry `REPLY_MORE` and the last must not; the result has the last part's flags.
///
/// ```
/// use ofproto::multipart::{MultipartReply, MultipartReplyBody, TableStats, merge_replies};
///
/// let table = |table_id| TableStats { table_id, active_count: 0, lookup_count: 0, matched_count: 0 };
/// let first = MultipartReply { flags: 1, body: MultipartReplyBody::Table(vec![table(0)]) };
/// let last = MultipartReply { flags: 0, body: MultipartReplyBody::Table(vec![table(1)]) };
/// let merged = merge_replies(vec![first, last]).unwrap();
/// assert_eq!(merged.body, MultipartReplyBody::Table(vec![table(0), table(1)]));
/// assert!(!merged.is_more());
/// ```
pub fn merge_replies(parts: Vec<MultipartReply>) -> Result<MultipartReply, MergeError> {
    let count = parts.len();
    let mut parts = parts.into_iter().enumerate();
    let Some((_, mut merged)) = parts.next() else {
        return Err(MergeError::Empty);
    };
    if count > 1 && !merged.is_more() {
        return Err(MergeError::EndedEarly { index: 0, parts: count });
    }
    for (index, part) in parts {
        if index + 1 < count && !part.is_more() {
            return Err(MergeError::EndedEarly { index, parts: count });
        }
        append(&mut merged.body, part.body, index, count)?;
        merged.flags = part.flags;
    }
    if merged.is_more() {
        return Err(MergeError::Incomplete);
    }
    Ok(merged)
}

/// Appends `next` (part `index` of `count`) to `into`.
fn append(
    into: &mut MultipartReplyBody,
    next: MultipartReplyBody,
    index: usize,
    count: usize,
) -> Result<(), MergeError> {
    use MultipartReplyBody as B;
    let concat = |a: &mut bytes::Bytes, b: bytes::Bytes| {
        let mut joined = BytesMut::with_capacity(a.len() + b.len());
        joined.extend_from_slice(a);
        joined.extend_from_slice(&b);
        *a = joined.freeze();
    };
    match (into, next) {
        (B::Flow(a), B::Flow(b)) => a.extend(b),
        (B::Table(a), B::Table(b)) => a.extend(b),
        (B::PortStats(a), B::PortStats(b)) => a.extend(b),
        (B::Queue(a), B::Queue(b)) => a.extend(b),
        (B::Group(a), B::Group(b)) => a.extend(b),
        (B::GroupDesc(a), B::GroupDesc(b)) => a.extend(b),
        (B::Meter(a), B::Meter(b)) => a.extend(b),
        (B::MeterConfig(a), B::MeterConfig(b)) => a.extend(b),
        (B::TableFeatures(a), B::TableFeatures(b)) => a.extend(b),
        (B::PortDesc(a), B::PortDesc(b)) => a.extend(b),
        (
            B::Experimenter { experimenter, exp_type, data },
            B::Experimenter { experimenter: found, exp_type: found_type, data: more },
        ) => {
            if (*experimenter, *exp_type) != (found, found_type) {
                return Err(MergeError::ExperimenterMismatch {
                    index,
                    expected: *experimenter,
                    expected_type: *exp_type,
                    found,
                    found_type,
                });
            }
            concat(data, more);
        }
        (B::Unknown { mp_type, body }, B::Unknown { mp_type: found, body: more }) if *mp_type == found => {
            concat(body, more);
        }
        (into, next) => {
            let (expected, found) = (into.mp_type(), next.mp_type());
            return Err(if expected == found {
                MergeError::NotSplittable { mp_type: expected, parts: count }
            } else {
                MergeError::TypeMismatch { index, expected, found }
            });
        }
    }
    Ok(())
}

/// Splits `reply` into replies whose encoded messages are at most `max_message_len` bytes (header
/// included; use [`MAX_MESSAGE_LEN`] unless a peer needs less), all but the last flagged
/// `REPLY_MORE`; entries are never cut, and `merge_replies` of the result gives `reply` back.
///
/// Only list bodies are split. A body that is one structure (DESC, AGGREGATE, features),
/// experimenter or unknown is returned as a single part, as is a single entry larger than the limit:
/// no valid split exists for those.
pub fn split_reply(reply: MultipartReply, max_message_len: usize) -> Vec<MultipartReply> {
    use MultipartReplyBody as B;
    let budget = max_message_len.saturating_sub(HEADER_LEN + MULTIPART_HEADER_LEN);
    let bodies: Vec<MultipartReplyBody> = match reply.body {
        B::Flow(list) => chunks(list, budget, FlowStats::emit).into_iter().map(B::Flow).collect(),
        B::Table(list) => chunks(list, budget, TableStats::emit).into_iter().map(B::Table).collect(),
        B::PortStats(list) => chunks(list, budget, PortStats::emit).into_iter().map(B::PortStats).collect(),
        B::Queue(list) => chunks(list, budget, QueueStats::emit).into_iter().map(B::Queue).collect(),
        B::Group(list) => chunks(list, budget, GroupStats::emit).into_iter().map(B::Group).collect(),
        B::GroupDesc(list) => chunks(list, budget, GroupDesc::emit).into_iter().map(B::GroupDesc).collect(),
        B::Meter(list) => chunks(list, budget, MeterStats::emit).into_iter().map(B::Meter).collect(),
        B::MeterConfig(list) => {
            chunks(list, budget, MeterConfig::emit).into_iter().map(B::MeterConfig).collect()
        }
        B::TableFeatures(list) => {
            chunks(list, budget, TableFeatures::emit).into_iter().map(B::TableFeatures).collect()
        }
        B::PortDesc(list) => chunks(list, budget, Port::emit).into_iter().map(B::PortDesc).collect(),
        single => vec![single],
    };
    let last = bodies.len().saturating_sub(1);
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            let flags = if index == last { reply.flags } else { reply.flags | REPLY_MORE };
            MultipartReply { flags, body }
        })
        .collect()
}

/// Groups `items` in order into runs whose encodings fit `budget` bytes (an oversized item gets a
/// run of its own). Always returns at least one run, possibly empty.
fn chunks<T>(items: Vec<T>, budget: usize, emit: impl Fn(&T, &mut BytesMut)) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    let mut scratch = BytesMut::new();
    for item in items {
        scratch.clear();
        emit(&item, &mut scratch);
        if !current.is_empty() && used + scratch.len() > budget {
            runs.push(std::mem::take(&mut current));
            used = 0;
        }
        used += scratch.len();
        current.push(item);
    }
    runs.push(current);
    runs
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::multipart::{AggregateStats, QueueStats};
    use crate::types::PortNo;

    fn queue(queue_id: u32) -> QueueStats {
        QueueStats {
            port_no: PortNo(1),
            queue_id,
            tx_bytes: 0,
            tx_packets: 0,
            tx_errors: 0,
            duration_sec: 0,
            duration_nsec: 0,
        }
    }

    fn part(more: bool, body: MultipartReplyBody) -> MultipartReply {
        MultipartReply { flags: if more { REPLY_MORE } else { 0 }, body }
    }

    #[test]
    fn concatenates_lists_in_order() {
        let merged = merge_replies(vec![
            part(true, MultipartReplyBody::Queue(vec![queue(1), queue(2)])),
            part(true, MultipartReplyBody::Queue(vec![])),
            part(false, MultipartReplyBody::Queue(vec![queue(3)])),
        ])
        .unwrap();
        assert_eq!(merged, part(false, MultipartReplyBody::Queue(vec![queue(1), queue(2), queue(3)])));
    }

    #[test]
    fn single_complete_part_is_returned_unchanged() {
        let only = part(false, MultipartReplyBody::Queue(vec![queue(9)]));
        assert_eq!(merge_replies(vec![only.clone()]).unwrap(), only);
    }

    #[test]
    fn concatenates_experimenter_bytes() {
        let exp = |more, data: &'static [u8]| {
            part(
                more,
                MultipartReplyBody::Experimenter {
                    experimenter: 0x2320,
                    exp_type: 1,
                    data: Bytes::from_static(data),
                },
            )
        };
        let merged = merge_replies(vec![exp(true, b"ab"), exp(false, b"cd")]).unwrap();
        assert_eq!(merged, exp(false, b"abcd"));
        let other = part(
            false,
            MultipartReplyBody::Experimenter { experimenter: 1, exp_type: 1, data: Bytes::new() },
        );
        assert!(matches!(
            merge_replies(vec![exp(true, b"ab"), other]),
            Err(MergeError::ExperimenterMismatch { index: 1, expected: 0x2320, found: 1, .. })
        ));
    }

    #[test]
    fn split_fits_messages_and_merges_back() {
        let queues: Vec<QueueStats> = (0..4000).map(queue).collect();
        let reply = MultipartReply { flags: 0, body: MultipartReplyBody::Queue(queues) };
        let parts = split_reply(reply.clone(), MAX_MESSAGE_LEN);
        // 4000 x 40 bytes = 160000: 65519 bytes of body per message holds 1637 entries.
        assert_eq!(parts.len(), 3);
        for (index, part) in parts.iter().enumerate() {
            let frame = crate::Message::MultipartReply(part.clone()).to_bytes(1);
            assert!(frame.len() <= MAX_MESSAGE_LEN, "part {index} is {} bytes", frame.len());
            let (_, decoded) = crate::Message::decode(&frame).unwrap();
            assert_eq!(decoded, crate::Message::MultipartReply(part.clone()));
            assert_eq!(part.is_more(), index < 2);
        }
        assert_eq!(merge_replies(parts).unwrap(), reply);
    }

    #[test]
    fn split_keeps_small_and_single_structure_replies_whole() {
        let small = MultipartReply { flags: 0, body: MultipartReplyBody::Queue(vec![queue(1)]) };
        assert_eq!(split_reply(small.clone(), MAX_MESSAGE_LEN), vec![small]);
        let empty = MultipartReply { flags: 0, body: MultipartReplyBody::Table(vec![]) };
        assert_eq!(split_reply(empty.clone(), MAX_MESSAGE_LEN), vec![empty]);
        let agg = MultipartReply {
            flags: 0,
            body: MultipartReplyBody::Aggregate(AggregateStats {
                packet_count: 1,
                byte_count: 2,
                flow_count: 3,
            }),
        };
        assert_eq!(split_reply(agg.clone(), 20), vec![agg]);
        // A limit below one entry still makes progress: one entry per part.
        let three =
            MultipartReply { flags: 0, body: MultipartReplyBody::Queue(vec![queue(1), queue(2), queue(3)]) };
        let parts = split_reply(three.clone(), 30);
        assert_eq!(parts.len(), 3);
        assert_eq!(merge_replies(parts).unwrap(), three);
    }

    #[test]
    fn rejects_bad_sequences() {
        assert_eq!(merge_replies(vec![]), Err(MergeError::Empty));
        let q = |more| part(more, MultipartReplyBody::Queue(vec![queue(1)]));
        let t = |more| part(more, MultipartReplyBody::Table(vec![]));
        assert_eq!(
            merge_replies(vec![q(true), t(false)]),
            Err(MergeError::TypeMismatch {
                index: 1,
                expected: MultipartType::Queue,
                found: MultipartType::Table
            })
        );
        assert_eq!(
            merge_replies(vec![q(false), q(false)]),
            Err(MergeError::EndedEarly { index: 0, parts: 2 })
        );
        assert_eq!(
            merge_replies(vec![q(true), q(false), q(false)]),
            Err(MergeError::EndedEarly { index: 1, parts: 3 })
        );
        assert_eq!(merge_replies(vec![q(true), q(true)]), Err(MergeError::Incomplete));
        assert_eq!(merge_replies(vec![q(true)]), Err(MergeError::Incomplete));
        let agg = |more| {
            part(
                more,
                MultipartReplyBody::Aggregate(AggregateStats {
                    packet_count: 1,
                    byte_count: 1,
                    flow_count: 1,
                }),
            )
        };
        assert_eq!(
            merge_replies(vec![agg(true), agg(false)]),
            Err(MergeError::NotSplittable { mp_type: MultipartType::Aggregate, parts: 2 })
        );
    }
}
