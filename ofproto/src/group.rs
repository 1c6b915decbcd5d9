//! Groups: the `ofp_bucket` structure and the GROUP_MOD request (OF1.3.5 §7.3.4.2).
//!
//! `Bucket` is shared with the GROUP_DESC multipart reply (§7.3.5.10), which reads and writes bucket
//! lists through [`Bucket::parse_list`] and [`Bucket::emit_list`].

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};
use serde::Serialize;

use crate::action::Action;
use crate::codec::{Body, LenPatch, PResult, check_tlv_len, field, many_until_empty, pad, put_zeros, within};
use crate::types::{PortNo, group_id, open_enum};

open_enum! {
    /// `ofp_group_mod_command` (OF1.3.5 §7.3.4.2).
    pub enum GroupModCommand: u16 {
        Add = 0,
        Modify = 1,
        Delete = 2,
    }
}

open_enum! {
    /// `ofp_group_type` (OF1.3.5 §7.3.4.2): how the group uses its buckets.
    pub enum GroupType: u8 {
        /// Every bucket is executed (multicast / broadcast).
        All = 0,
        /// One bucket is executed, chosen by the switch (weighted, e.g. by flow hash).
        Select = 1,
        /// The single bucket is executed.
        Indirect = 2,
        /// The first live bucket is executed.
        FastFailover = 3,
    }
}

/// `ofp_bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: PortNo,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    /// Size of the fixed part of `ofp_bucket` (len, weight, watch_port, watch_group, pad).
    pub const HEADER_SIZE: usize = 16;

    /// A bucket with the given weight and actions that watches no port and no group (the values a
    /// non-fast-failover group must use).
    pub fn new(weight: u16, actions: Vec<Action>) -> Bucket {
        Bucket { weight, watch_port: PortNo::ANY, watch_group: group_id::ANY, actions }
    }

    /// Parses one bucket, bounded by its own `len` field.
    fn parse(input: &[u8]) -> PResult<'_, Bucket> {
        let (_, len) = field("bucket.len", be_u16)(input)?;
        let len = check_tlv_len(input, usize::from(len), Self::HEADER_SIZE, "bucket.len")?;
        within(input, len, "bucket", |i| {
            let (i, _len) = field("bucket.len", be_u16)(i)?;
            let (i, weight) = field("bucket.weight", be_u16)(i)?;
            let (i, watch_port) = field("bucket.watch_port", be_u32)(i)?;
            let (i, watch_group) = field("bucket.watch_group", be_u32)(i)?;
            let (i, ()) = pad(i, 4)?;
            let (i, actions) = Action::parse_list(i)?;
            Ok((i, Bucket { weight, watch_port: PortNo(watch_port), watch_group, actions }))
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let len = LenPatch::u16(buf, start);
        buf.put_u16(self.weight);
        buf.put_u32(self.watch_port.0);
        buf.put_u32(self.watch_group);
        put_zeros(buf, 4);
        Action::emit_list(&self.actions, buf);
        len.finish(buf);
    }

    /// Parses buckets until `input` is exhausted.
    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<Bucket>> {
        many_until_empty(input, Bucket::parse)
    }

    pub(crate) fn emit_list(buckets: &[Bucket], buf: &mut BytesMut) {
        for bucket in buckets {
            bucket.emit(buf);
        }
    }
}

/// GROUP_MOD (OF1.3.5 §7.3.4.2): add, modify or delete a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMod {
    pub command: GroupModCommand,
    pub group_type: GroupType,
    /// The group; `group_id::ALL` with `Delete` removes every group.
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// Size of the fixed part of the body (command, type, pad, group_id).
    pub const BODY_HEADER_SIZE: usize = 8;

    /// A GROUP_MOD that adds group `group_id`.
    pub fn add(group_type: GroupType, group_id: u32, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod { command: GroupModCommand::Add, group_type, group_id, buckets }
    }

    /// A GROUP_MOD that replaces the type and buckets of group `group_id`.
    pub fn modify(group_type: GroupType, group_id: u32, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod { command: GroupModCommand::Modify, group_type, group_id, buckets }
    }

    /// A GROUP_MOD that deletes group `group_id` (`group_id::ALL` for every group), and with it every
    /// flow entry that forwards to it.
    pub fn delete(group_id: u32) -> GroupMod {
        GroupMod {
            command: GroupModCommand::Delete,
            group_type: GroupType::All,
            group_id,
            buckets: Vec::new(),
        }
    }
}

impl Body for GroupMod {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, command) = field("command", be_u16)(input)?;
        let (i, group_type) = field("type", be_u8)(i)?;
        let (i, ()) = pad(i, 1)?;
        let (i, group_id) = field("group_id", be_u32)(i)?;
        let (i, buckets) = Bucket::parse_list(i)?;
        let group_mod = GroupMod {
            command: GroupModCommand::from(command),
            group_type: GroupType::from(group_type),
            group_id,
            buckets,
        };
        Ok((i, group_mod))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u16(self.command.value());
        buf.put_u8(self.group_type.value());
        put_zeros(buf, 1);
        buf.put_u32(self.group_id);
        Bucket::emit_list(&self.buckets, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// GROUP_MOD MODIFY, FAST_FAILOVER group 5, two buckets without actions watching ports 1 and 2.
    static GROUP_MOD_NO_ACTIONS: [u8; 48] = [
        0x04, 0x0f, 0x00, 0x30, 0x00, 0x00, 0x00, 0x05, // header, xid 5
        0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x05, // MODIFY, FF, pad, group 5
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // bucket len 16, weight 0, watch_port 1
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // watch_group ANY, pad
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // bucket len 16, weight 0, watch_port 2
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // watch_group ANY, pad
    ];

    fn failover_group() -> GroupMod {
        let watch = |port| Bucket {
            weight: 0,
            watch_port: PortNo(port),
            watch_group: group_id::ANY,
            actions: vec![],
        };
        GroupMod::modify(GroupType::FastFailover, 5, vec![watch(1), watch(2)])
    }

    /// GROUP_MOD ADD, ALL group 1, one bucket (weight 1, watch port 1, watch group 1) with
    /// OUTPUT:2 max_len 0xffff (the Ryu `4-21-ofp_group_mod` vector).
    static GROUP_MOD_OUTPUT: [u8; 48] = [
        0x04, 0x0f, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, // header
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // ADD, ALL, pad, group 1
        0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // bucket len 32, weight 1, watch_port 1
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // watch_group 1, pad
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, // OUTPUT len 16 port 2
        0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // max_len, pad
    ];

    fn output_group() -> GroupMod {
        let bucket = Bucket {
            weight: 1,
            watch_port: PortNo(1),
            watch_group: 1,
            actions: vec![Action::Output { port: PortNo(2), max_len: 0xffff }],
        };
        GroupMod::add(GroupType::All, 1, vec![bucket])
    }

    #[test]
    fn test_parse() {
        let (header, msg) = Message::decode(&Bytes::from_static(&GROUP_MOD_NO_ACTIONS)).unwrap();
        assert_eq!(header.xid, 5);
        assert_eq!(msg, Message::GroupMod(failover_group()));
    }

    #[test]
    fn test_emit() {
        assert_eq!(&Message::GroupMod(failover_group()).to_bytes(5)[..], &GROUP_MOD_NO_ACTIONS[..]);
    }

    #[test]
    fn test_parse_with_actions() {
        let (_, msg) = Message::decode(&Bytes::from_static(&GROUP_MOD_OUTPUT)).unwrap();
        assert_eq!(msg, Message::GroupMod(output_group()));
    }

    #[test]
    fn test_emit_with_actions() {
        assert_eq!(&Message::GroupMod(output_group()).to_bytes(0)[..], &GROUP_MOD_OUTPUT[..]);
    }

    #[test]
    fn ryu_group_mod() {
        // The same message as GROUP_MOD_OUTPUT, as Ryu encodes it (4-21-ofp_group_mod.packet{,.json}).
        let raw = include_bytes!("../tests/data/ryu-of13/packet/4-21-ofp_group_mod.packet");
        let frame = Bytes::from_static(raw);
        let (header, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg, Message::GroupMod(output_group()));
        assert_eq!(msg.to_bytes(header.xid), frame);
    }

    #[test]
    fn delete_all_has_no_buckets() {
        let frame = Message::GroupMod(GroupMod::delete(group_id::ALL)).to_bytes(1);
        assert_eq!(&frame[..], &[4, 0x0f, 0, 16, 0, 0, 0, 1, 0, 2, 0, 0, 0xff, 0xff, 0xff, 0xfc]);
        let (_, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg, Message::GroupMod(GroupMod::delete(group_id::ALL)));
    }

    #[test]
    fn new_bucket_watches_nothing() {
        let bucket = Bucket::new(3, vec![]);
        assert_eq!((bucket.weight, bucket.watch_port, bucket.watch_group), (3, PortNo::ANY, group_id::ANY));
    }

    #[test]
    fn unknown_command_and_type_round_trip() {
        let mut frame = GROUP_MOD_NO_ACTIONS;
        frame[9] = 9; // command 9
        frame[10] = 0x80; // type 0x80
        let (_, msg) = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap();
        let Message::GroupMod(gm) = &msg else { panic!("{msg:?}") };
        assert_eq!((gm.command, gm.group_type), (GroupModCommand::Unknown(9), GroupType::Unknown(0x80)));
        assert_eq!(&msg.to_bytes(5)[..], &frame[..]);
    }

    #[test]
    fn bucket_shorter_than_its_header_is_rejected() {
        let mut frame = GROUP_MOD_NO_ACTIONS;
        frame[17] = 8; // first bucket len 8 < 16
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!(err.field, "bucket.len");
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 8 });
        assert_eq!(err.offset, 16);
    }

    #[test]
    fn bucket_past_the_end_is_truncated() {
        let mut frame = GROUP_MOD_NO_ACTIONS;
        frame[33] = 0x18; // second bucket claims 24 bytes, 16 remain
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!(err.field, "bucket.len");
        assert!(err.is_truncation());
        assert_eq!(err.offset, 32);
    }

    #[test]
    fn partial_bucket_header_is_truncated() {
        let mut frame = GROUP_MOD_NO_ACTIONS[..20].to_vec();
        frame[3] = 20;
        let err = Message::decode(&Bytes::from(frame)).unwrap_err();
        assert!(err.is_truncation(), "{err}");
    }

    #[test]
    fn bucket_list_round_trips_through_list_codec() {
        let buckets = failover_group().buckets;
        let mut buf = BytesMut::new();
        Bucket::emit_list(&buckets, &mut buf);
        assert_eq!(buf.len(), 2 * Bucket::HEADER_SIZE);
        let (rest, parsed) = Bucket::parse_list(&buf).unwrap();
        assert!(rest.is_empty());
        assert_eq!(parsed, buckets);
    }
}
