//! The MULTIPART_REPLY body (`ofp_multipart_reply`, OF1.3.5 §7.3.5): what the switch answers, one
//! variant per `ofp_multipart_type`.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::be_u32;
use serde::Serialize;

use super::group_meter::{GroupDesc, GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats};
use super::stats::{AggregateStats, Desc, FlowStats, PortStats, QueueStats, TableStats};
use super::table_features::TableFeatures;
use super::{MultipartType, fixed_size_list, multipart_reply_flags, parse_multipart_header};
use crate::codec::{Body, PResult, field, put_zeros, share, take_exact, within};
use crate::port::Port;

/// A MULTIPART_REPLY: `flags` holds [`multipart_reply_flags`] bits. A reply with `REPLY_MORE` is one
/// part of a longer answer; [`super::merge_replies`] joins the parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartReply {
    pub flags: u16,
    pub body: MultipartReplyBody,
}

/// The reply body, one variant per `ofp_multipart_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MultipartReplyBody {
    /// Boxed: `ofp_desc` is 1056 bytes and would make every `Message` that large.
    Desc(Box<Desc>),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<Port>),
    /// Experimenter reply (§7.3.5.16); `data` shares the frame's memory.
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// A multipart type this library has no name for; the body is kept as is.
    Unknown {
        mp_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl MultipartReplyBody {
    /// The `ofp_multipart_type` this body is sent as.
    pub fn mp_type(&self) -> MultipartType {
        match self {
            Self::Desc(_) => MultipartType::Desc,
            Self::Flow(_) => MultipartType::Flow,
            Self::Aggregate(_) => MultipartType::Aggregate,
            Self::Table(_) => MultipartType::Table,
            Self::PortStats(_) => MultipartType::PortStats,
            Self::Queue(_) => MultipartType::Queue,
            Self::Group(_) => MultipartType::Group,
            Self::GroupDesc(_) => MultipartType::GroupDesc,
            Self::GroupFeatures(_) => MultipartType::GroupFeatures,
            Self::Meter(_) => MultipartType::Meter,
            Self::MeterConfig(_) => MultipartType::MeterConfig,
            Self::MeterFeatures(_) => MultipartType::MeterFeatures,
            Self::TableFeatures(_) => MultipartType::TableFeatures,
            Self::PortDesc(_) => MultipartType::PortDesc,
            Self::Experimenter { .. } => MultipartType::Experimenter,
            Self::Unknown { mp_type, .. } => MultipartType::from(*mp_type),
        }
    }

    /// Parses the body of type `mp_type`; `input` is exactly the body.
    fn parse<'a>(mp_type: MultipartType, input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        use MultipartType as T;
        Ok(match mp_type {
            T::Desc => {
                let (i, desc) = Desc::parse(input)?;
                (i, Self::Desc(Box::new(desc)))
            }
            T::Flow => {
                let (i, flows) = FlowStats::parse_list(input)?;
                (i, Self::Flow(flows))
            }
            T::Aggregate => {
                let (i, stats) = AggregateStats::parse(input)?;
                (i, Self::Aggregate(stats))
            }
            T::Table => {
                let (i, tables) = fixed_size_list(input, TableStats::SIZE, TableStats::parse)?;
                (i, Self::Table(tables))
            }
            T::PortStats => {
                let (i, ports) = fixed_size_list(input, PortStats::SIZE, PortStats::parse)?;
                (i, Self::PortStats(ports))
            }
            T::Queue => {
                let (i, queues) = fixed_size_list(input, QueueStats::SIZE, QueueStats::parse)?;
                (i, Self::Queue(queues))
            }
            T::Group => {
                let (i, groups) = GroupStats::parse_list(input)?;
                (i, Self::Group(groups))
            }
            T::GroupDesc => {
                let (i, groups) = GroupDesc::parse_list(input)?;
                (i, Self::GroupDesc(groups))
            }
            T::GroupFeatures => {
                let (i, features) = GroupFeatures::parse(input)?;
                (i, Self::GroupFeatures(features))
            }
            T::Meter => {
                let (i, meters) = MeterStats::parse_list(input)?;
                (i, Self::Meter(meters))
            }
            T::MeterConfig => {
                let (i, meters) = MeterConfig::parse_list(input)?;
                (i, Self::MeterConfig(meters))
            }
            T::MeterFeatures => {
                let (i, features) = MeterFeatures::parse(input)?;
                (i, Self::MeterFeatures(features))
            }
            T::TableFeatures => {
                let (i, features) = TableFeatures::parse_list(input)?;
                (i, Self::TableFeatures(features))
            }
            T::PortDesc => {
                let (i, ports) = fixed_size_list(input, Port::SIZE, Port::parse)?;
                (i, Self::PortDesc(ports))
            }
            T::Experimenter => {
                let (i, experimenter) = field("experimenter_multipart.experimenter", be_u32)(input)?;
                let (i, exp_type) = field("experimenter_multipart.exp_type", be_u32)(i)?;
                let (rest, data) = take_exact(i, i.len(), "experimenter_multipart.data")?;
                (rest, Self::Experimenter { experimenter, exp_type, data: share(src, data) })
            }
            T::Unknown(mp_type) => {
                let (rest, body) = take_exact(input, input.len(), "multipart_reply.body")?;
                (rest, Self::Unknown { mp_type, body: share(src, body) })
            }
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        match self {
            Self::Desc(desc) => desc.emit(buf),
            Self::Flow(flows) => flows.iter().for_each(|f| f.emit(buf)),
            Self::Aggregate(stats) => stats.emit(buf),
            Self::Table(tables) => tables.iter().for_each(|t| t.emit(buf)),
            Self::PortStats(ports) => ports.iter().for_each(|p| p.emit(buf)),
            Self::Queue(queues) => queues.iter().for_each(|q| q.emit(buf)),
            Self::Group(groups) => groups.iter().for_each(|g| g.emit(buf)),
            Self::GroupDesc(groups) => groups.iter().for_each(|g| g.emit(buf)),
            Self::GroupFeatures(features) => features.emit(buf),
            Self::Meter(meters) => meters.iter().for_each(|m| m.emit(buf)),
            Self::MeterConfig(meters) => meters.iter().for_each(|m| m.emit(buf)),
            Self::MeterFeatures(features) => features.emit(buf),
            Self::TableFeatures(features) => features.iter().for_each(|f| f.emit(buf)),
            Self::PortDesc(ports) => ports.iter().for_each(|p| p.emit(buf)),
            Self::Experimenter { experimenter, exp_type, data } => {
                buf.put_u32(*experimenter);
                buf.put_u32(*exp_type);
                buf.put_slice(data);
            }
            Self::Unknown { body, .. } => buf.put_slice(body),
        }
    }
}

impl MultipartReply {
    /// A single-part reply (no `REPLY_MORE`).
    pub fn new(body: MultipartReplyBody) -> Self {
        MultipartReply { flags: 0, body }
    }

    /// True when `REPLY_MORE` is set: more parts of this answer follow.
    pub fn is_more(&self) -> bool {
        self.flags & multipart_reply_flags::REPLY_MORE != 0
    }
}

impl Body for MultipartReply {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        let (body, (mp_type, flags)) = parse_multipart_header(input)?;
        let mp_type = MultipartType::from(mp_type);
        let (rest, body) =
            within(body, body.len(), "multipart_reply.body", |i| MultipartReplyBody::parse(mp_type, i, src))?;
        Ok((rest, MultipartReply { flags, body }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u16(self.body.mp_type().value());
        buf.put_u16(self.flags);
        put_zeros(buf, 4);
        self.body.emit(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::group::{Bucket, GroupType};
    use crate::meter::MeterBand;
    use crate::multipart::group_meter::{BucketCounter, MeterBandStats};
    use crate::multipart::test_util::{frame, round_trip};
    use crate::multipart::{ActionId, ActionType, TableFeatureProp};
    use crate::oxm::{Match, Oxm};
    use crate::types::{FixedStr, MacAddr, PortNo};
    use crate::{Message, Message::MultipartReply as Rep, instruction::Instruction};

    fn check(wire: &str, expected: MultipartReplyBody) {
        let expected = MultipartReply::new(expected);
        assert_eq!(round_trip(wire), Rep(expected.clone()));
        assert_eq!(hex::encode(Rep(expected).to_bytes(1)), hex::encode(frame(wire)));
    }

    #[test]
    fn desc_reply() {
        let text = |s: &str, n: usize| format!("{}{}", hex::encode(s), "00".repeat(n - s.len()));
        let wire = format!(
            "0413 0430 00000001 0000 0000 00000000 {} {} {} {} {}",
            text("mfr", 256),
            text("hw", 256),
            text("sw", 256),
            text("serial", 32),
            text("dp", 256)
        );
        let desc = Desc {
            mfr_desc: FixedStr::new("mfr"),
            hw_desc: FixedStr::new("hw"),
            sw_desc: FixedStr::new("sw"),
            serial_num: FixedStr::new("serial"),
            dp_desc: FixedStr::new("dp"),
        };
        check(&wire, MultipartReplyBody::Desc(Box::new(desc)));
        // One byte short of `ofp_desc`.
        let short = format!("0413 042f 00000001 0000 0000 00000000 {}", "00".repeat(1055));
        let err = Message::decode(&frame(&short)).unwrap_err();
        assert_eq!((err.field, err.kind), ("desc.dp_desc", DecodeErrorKind::Truncated));
    }

    #[test]
    fn flow_reply_with_match_and_instructions() {
        let flow = |priority, r#match, instructions| FlowStats {
            table_id: 0,
            duration_sec: 358,
            duration_nsec: 115_277_000,
            priority,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: 0,
            packet_count: 0,
            byte_count: u64::MAX,
            r#match,
            instructions,
        };
        check(
            "0413 0090 00000001 0001 0000 00000000
             0038 00 00 00000166 06deFcc8 ffff 0000 0000 0000 00000000
             0000000000000000 0000000000000000 ffffffffffffffff 0001 0004 00000000
             0048 00 00 00000166 06deFcc8 fffe 0000 0000 0000 00000000
             0000000000000000 0000000000000000 ffffffffffffffff 0001 000a 80000a02 0800 000000000000
             0001 0008 01000000",
            MultipartReplyBody::Flow(vec![
                flow(0xffff, Match::default(), vec![]),
                flow(0xfffe, Match { fields: vec![Oxm::EthType(0x0800)] }, vec![Instruction::GotoTable(1)]),
            ]),
        );
    }

    #[test]
    fn thousand_flow_entries_decode_into_one_allocation() {
        let entry = "0038 00 00 00000001 00000002 0001 0000 0000 0000 00000000
                     0000000000000003 0000000000000004 0000000000000005 0001 0004 00000000";
        let body: String = entry.split_whitespace().collect::<String>().repeat(1000);
        let (_, flows) = FlowStats::parse_list(&hex::decode(body).unwrap()).unwrap();
        assert_eq!(flows.len(), 1000);
        assert_eq!(flows.capacity(), 1000);
        assert!(flows.iter().all(|f| f.packet_count == 4 && f.byte_count == 5));
    }

    #[test]
    fn flow_entry_length_past_body_is_reported_at_its_offset() {
        // The entry claims 0x40 bytes but the body holds 0x38.
        let wire = "0413 0048 00000001 0001 0000 00000000
                    0040 00 00 00000001 00000002 0001 0000 0000 0000 00000000
                    0000000000000003 0000000000000004 0000000000000005 0001 0004 00000000";
        let err = Message::decode(&frame(wire)).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("flow_stats.length", 16, DecodeErrorKind::Truncated));
    }

    #[test]
    fn aggregate_table_port_queue_replies() {
        check(
            "0413 0028 00000001 0002 0000 00000000 0000000000000007 000000000000023e 00000006 00000000",
            MultipartReplyBody::Aggregate(AggregateStats { packet_count: 7, byte_count: 574, flow_count: 6 }),
        );
        check(
            "0413 0040 00000001 0003 0000 00000000
             00 000000 00000004 0000000000000004 0000000000000004
             01 000000 00000000 0000000000000004 ffffffffffffffff",
            MultipartReplyBody::Table(vec![
                TableStats { table_id: 0, active_count: 4, lookup_count: 4, matched_count: 4 },
                TableStats { table_id: 1, active_count: 0, lookup_count: 4, matched_count: u64::MAX },
            ]),
        );
        let counters: String = (1..=12u64).map(|n| format!("{n:016x}")).collect();
        check(
            &format!("0413 0080 00000001 0004 0000 00000000 00000007 00000000 {counters} 0000000a 0000000b"),
            MultipartReplyBody::PortStats(vec![PortStats {
                port_no: PortNo(7),
                rx_packets: 1,
                tx_packets: 2,
                rx_bytes: 3,
                tx_bytes: 4,
                rx_dropped: 5,
                tx_dropped: 6,
                rx_errors: 7,
                tx_errors: 8,
                rx_frame_err: 9,
                rx_over_err: 10,
                rx_crc_err: 11,
                collisions: 12,
                duration_sec: 10,
                duration_nsec: 11,
            }]),
        );
        check(
            "0413 0038 00000001 0005 0000 00000000
             00000007 00000001 0000000000000100 0000000000000002 ffffffffffffffff 00000003 00000004",
            MultipartReplyBody::Queue(vec![QueueStats {
                port_no: PortNo(7),
                queue_id: 1,
                tx_bytes: 256,
                tx_packets: 2,
                tx_errors: u64::MAX,
                duration_sec: 3,
                duration_nsec: 4,
            }]),
        );
        // Half a table-stats entry.
        let err =
            Message::decode(&frame("0413 001c 00000001 0003 0000 00000000 00 000000 00000004 00000000"))
                .unwrap_err();
        assert_eq!((err.field, err.kind), ("table_stats.lookup_count", DecodeErrorKind::Truncated));
    }

    #[test]
    fn group_replies() {
        check(
            "0413 0048 00000001 0006 0000 00000000
             0038 0000 00000001 00000002 00000000 000000000000007b 0000000000003039
             00000009 244d26e0 00000000000000ea 0000000000000929",
            MultipartReplyBody::Group(vec![GroupStats {
                group_id: 1,
                ref_count: 2,
                packet_count: 123,
                byte_count: 12345,
                duration_sec: 9,
                duration_nsec: 609_036_000,
                bucket_stats: vec![BucketCounter { packet_count: 234, byte_count: 2345 }],
            }]),
        );
        check(
            "0413 0030 00000001 0007 0000 00000000
             0020 01 00 00000001
             0018 0001 ffffffff ffffffff 00000000 0016 0008 00000002",
            MultipartReplyBody::GroupDesc(vec![GroupDesc {
                group_type: GroupType::Select,
                group_id: 1,
                buckets: vec![Bucket::new(1, vec![crate::action::Action::Group(2)])],
            }]),
        );
        check(
            "0413 0038 00000001 0008 0000 00000000
             0000000f 00000005 00000010 00000020 00000030 00000040 00000001 00000003 00000007 0000000f",
            MultipartReplyBody::GroupFeatures(GroupFeatures {
                types: 0xf,
                capabilities: 5,
                max_groups: [16, 32, 48, 64],
                actions: [1, 3, 7, 15],
            }),
        );
    }

    #[test]
    fn meter_replies() {
        check(
            "0413 0048 00000001 0009 0000 00000000
             00000064 0038 000000000000 00000000 0000000000000000 0000000000000000 00000000 00075300
             0000000000000000 0000000000000000",
            MultipartReplyBody::Meter(vec![MeterStats {
                meter_id: 100,
                flow_count: 0,
                packet_in_count: 0,
                byte_in_count: 0,
                duration_sec: 0,
                duration_nsec: 480_000,
                band_stats: vec![MeterBandStats { packet_band_count: 0, byte_band_count: 0 }],
            }]),
        );
        check(
            "0413 0028 00000001 000a 0000 00000000
             0018 000e 00000064 0001 0010 000003e8 0000000a 00000000",
            MultipartReplyBody::MeterConfig(vec![MeterConfig {
                flags: 0xe,
                meter_id: 100,
                bands: vec![MeterBand::Drop { rate: 1000, burst_size: 10 }],
            }]),
        );
        check(
            "0413 0020 00000001 000b 0000 00000000 01000000 00000006 0000000f ff00 0000",
            MultipartReplyBody::MeterFeatures(MeterFeatures {
                max_meter: 16_777_216,
                band_types: 6,
                capabilities: 15,
                max_bands: 255,
                max_color: 0,
            }),
        );
    }

    #[test]
    fn table_features_and_port_desc_replies() {
        check(
            "0413 0058 00000001 000c 0000 00000000
             0048 05 0000000000 6d61696e00000000000000000000000000000000000000000000000000000000
             ffffffffffffffff ffffffffffffffff 00000000 01000000
             0007 0008 000b 0004",
            MultipartReplyBody::TableFeatures(vec![TableFeatures {
                table_id: 5,
                name: FixedStr::new("main"),
                metadata_match: u64::MAX,
                metadata_write: u64::MAX,
                config: 0,
                max_entries: 16_777_216,
                properties: vec![TableFeatureProp::ApplyActions {
                    miss: true,
                    ids: vec![ActionId::new(ActionType::CopyTtlOut)],
                }],
            }]),
        );
        check(
            "0413 0050 00000001 000d 0000 00000000
             00000007 00000000 f20ba4d03f70 0000 506f7274370000000000000000000000
             00000000 00000004 00002808 00002800 00002808 00002808 00001388 00001388",
            MultipartReplyBody::PortDesc(vec![Port {
                port_no: PortNo(7),
                hw_addr: MacAddr([0xf2, 0x0b, 0xa4, 0xd0, 0x3f, 0x70]),
                name: FixedStr::new("Port7"),
                config: 0,
                state: 4,
                curr: 0x2808,
                advertised: 0x2800,
                supported: 0x2808,
                peer: 0x2808,
                curr_speed: 5000,
                max_speed: 5000,
            }]),
        );
    }

    #[test]
    fn experimenter_and_unknown_replies() {
        check(
            "0413 0028 00000001 ffff 0000 00000000 deadbeaf cafe7777 7465737464617461 3939393939393939",
            MultipartReplyBody::Experimenter {
                experimenter: 0xdead_beaf,
                exp_type: 0xcafe_7777,
                data: Bytes::from_static(b"testdata99999999"),
            },
        );
        check(
            "0413 0014 00000001 0010 0000 00000000 01020304",
            MultipartReplyBody::Unknown { mp_type: 16, body: Bytes::from_static(&[1, 2, 3, 4]) },
        );
        let more = round_trip("0413 0010 00000001 0003 0001 00000000");
        assert!(matches!(more, Rep(ref r) if r.is_more() && r.body == MultipartReplyBody::Table(vec![])));
    }
}
