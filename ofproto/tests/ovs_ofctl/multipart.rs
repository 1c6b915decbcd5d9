//! Every multipart request and reply type (OF1.3.5 §7.3.5).

use ofproto::Message;
use ofproto::action::Action;
use ofproto::group::{Bucket, GroupType};
use ofproto::meter::MeterBand;
use ofproto::multipart::{
    self as mp, MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use ofproto::oxm::{Match, Oxm};
use ofproto::types::{FixedStr, PortNo};

use crate::flows::apply;
use crate::messages::sample_port;
use crate::{Case, case};

fn request(body: MultipartRequestBody) -> Message {
    Message::MultipartRequest(MultipartRequest { flags: 0, body })
}

fn reply(body: MultipartReplyBody) -> Message {
    Message::MultipartReply(MultipartReply { flags: 0, body })
}

pub fn multipart_cases() -> Vec<Case> {
    use MultipartReplyBody as R;
    use MultipartRequestBody as Q;
    let flow_req = mp::FlowStatsRequest {
        table_id: 0xff,
        out_port: PortNo::ANY,
        out_group: 0xffff_ffff,
        cookie: 0,
        cookie_mask: 0,
        r#match: Match { fields: vec![Oxm::InPort(PortNo(1))] },
    };
    vec![
        case("mp desc request", request(Q::Desc), &["OFPST_DESC request"]),
        case("mp flow request", request(Q::Flow(flow_req.clone())), &["OFPST_FLOW request", "in_port=1"]),
        case(
            "mp aggregate request",
            request(Q::Aggregate(flow_req)),
            &["OFPST_AGGREGATE request", "in_port=1"],
        ),
        case("mp table request", request(Q::Table), &["OFPST_TABLE request"]),
        case(
            "mp port stats request",
            request(Q::PortStats { port_no: PortNo(2) }),
            &["OFPST_PORT request", "port_no=2"],
        ),
        case(
            "mp queue request",
            request(Q::Queue { port_no: PortNo(2), queue_id: 5 }),
            &["OFPST_QUEUE request", "port=2", "queue=5"],
        ),
        case("mp group request", request(Q::Group { group_id: 4 }), &["OFPST_GROUP request", "group_id=4"]),
        case("mp group desc request", request(Q::GroupDesc), &["OFPST_GROUP_DESC request"]),
        case("mp group features request", request(Q::GroupFeatures), &["OFPST_GROUP_FEATURES request"]),
        case("mp meter request", request(Q::Meter { meter_id: 3 }), &["OFPST_METER request", "meter=3"]),
        case(
            "mp meter config request",
            request(Q::MeterConfig { meter_id: 3 }),
            &["OFPST_METER_CONFIG request", "meter=3"],
        ),
        case("mp meter features request", request(Q::MeterFeatures), &["OFPST_METER_FEATURES request"]),
        case(
            "mp table features request",
            request(Q::TableFeatures(Vec::new())),
            &["OFPST_TABLE_FEATURES request"],
        ),
        case("mp port desc request", request(Q::PortDesc), &["OFPST_PORT_DESC request"]),
        case(
            "mp desc reply",
            reply(R::Desc(Box::new(mp::Desc {
                mfr_desc: FixedStr::new("Rudder Inc"),
                hw_desc: FixedStr::new("hw 1"),
                sw_desc: FixedStr::new("sw 2"),
                serial_num: FixedStr::new("SN42"),
                dp_desc: FixedStr::new("dp 3"),
            }))),
            &[
                "OFPST_DESC reply",
                "Manufacturer: Rudder Inc",
                "Hardware: hw 1",
                "Software: sw 2",
                "Serial Num: SN42",
                "DP Description: dp 3",
            ],
        ),
        case(
            "mp flow reply",
            reply(R::Flow(vec![mp::FlowStats {
                table_id: 0,
                duration_sec: 12,
                duration_nsec: 0,
                priority: 100,
                idle_timeout: 0,
                hard_timeout: 0,
                flags: 0,
                cookie: 0x5,
                packet_count: 77,
                byte_count: 7700,
                r#match: Match { fields: vec![Oxm::InPort(PortNo(1))] },
                instructions: apply(vec![Action::output(PortNo(2))]),
            }])),
            &[
                "OFPST_FLOW reply",
                "cookie=0x5",
                "n_packets=77",
                "n_bytes=7700",
                "priority=100",
                "in_port=1",
                "actions=output:2",
            ],
        ),
        case(
            "mp aggregate reply",
            reply(R::Aggregate(mp::AggregateStats { packet_count: 7, byte_count: 574, flow_count: 6 })),
            &["OFPST_AGGREGATE reply", "packet_count=7", "byte_count=574", "flow_count=6"],
        ),
        case(
            "mp table reply",
            reply(R::Table(vec![mp::TableStats {
                table_id: 0,
                active_count: 4,
                lookup_count: 40,
                matched_count: 30,
            }])),
            &["OFPST_TABLE reply", "active=4", "lookup=40", "matched=30"],
        ),
        case(
            "mp port stats reply",
            reply(R::PortStats(vec![mp::PortStats {
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
                duration_sec: 1,
                duration_nsec: 0,
            }])),
            &[
                "OFPST_PORT reply",
                "port  7",
                "rx pkts=1, bytes=3, drop=5, errs=7, frame=9, over=10, crc=11",
                "tx pkts=2, bytes=4, drop=6, errs=8, coll=12",
            ],
        ),
        case(
            "mp queue reply",
            reply(R::Queue(vec![mp::QueueStats {
                port_no: PortNo(7),
                queue_id: 1,
                tx_bytes: 100,
                tx_packets: 2,
                tx_errors: 0,
                duration_sec: 3,
                duration_nsec: 0,
            }])),
            &["OFPST_QUEUE reply", "port 7 queue 1", "bytes=100, pkts=2, errors=0"],
        ),
        case(
            "mp group reply",
            reply(R::Group(vec![mp::GroupStats {
                group_id: 1,
                ref_count: 2,
                packet_count: 123,
                byte_count: 12345,
                duration_sec: 9,
                duration_nsec: 0,
                bucket_stats: vec![mp::BucketCounter { packet_count: 234, byte_count: 2345 }],
            }])),
            &[
                "OFPST_GROUP reply",
                "group_id=1",
                "ref_count=2",
                "packet_count=123",
                "byte_count=12345",
                "bucket0:packet_count=234,byte_count=2345",
            ],
        ),
        case(
            "mp group desc reply",
            reply(R::GroupDesc(vec![mp::GroupDesc {
                group_type: GroupType::All,
                group_id: 1,
                buckets: vec![Bucket::new(0, vec![Action::output(PortNo(2))])],
            }])),
            &["OFPST_GROUP_DESC reply", "group_id=1", "type=all", "bucket=actions=output:2"],
        ),
        case(
            "mp group features reply",
            reply(R::GroupFeatures(mp::GroupFeatures {
                types: 0xf,
                capabilities: 0x5,
                max_groups: [16, 8, 4, 2],
                actions: [1, 1, 1, 1],
            })),
            &["OFPST_GROUP_FEATURES reply", "all group", "max_groups=0x10"],
        ),
        case(
            "mp meter reply",
            reply(R::Meter(vec![mp::MeterStats {
                meter_id: 100,
                flow_count: 3,
                packet_in_count: 40,
                byte_in_count: 4000,
                duration_sec: 5,
                duration_nsec: 0,
                band_stats: vec![mp::MeterBandStats { packet_band_count: 1, byte_band_count: 100 }],
            }])),
            &[
                "OFPST_METER reply",
                "meter:100",
                "flow_count:3",
                "packet_in_count:40",
                "byte_in_count:4000",
                "0: packet_count:1 byte_count:100",
            ],
        ),
        case(
            "mp meter config reply",
            reply(R::MeterConfig(vec![mp::MeterConfig {
                flags: 0b1001, // KBPS | STATS
                meter_id: 100,
                bands: vec![MeterBand::Drop { rate: 1000, burst_size: 0 }],
            }])),
            &["OFPST_METER_CONFIG reply", "meter=100", "kbps", "stats", "type=drop rate=1000"],
        ),
        case(
            "mp meter features reply",
            reply(R::MeterFeatures(mp::MeterFeatures {
                max_meter: 16,
                band_types: 0b110,
                capabilities: 0xf,
                max_bands: 8,
                max_color: 0,
            })),
            &["OFPST_METER_FEATURES reply", "max_meter:16", "max_bands:8", "band_types: drop dscp_remark"],
        ),
        case(
            "mp table features reply",
            reply(R::TableFeatures(vec![mp::TableFeatures {
                table_id: 0,
                name: FixedStr::new("main"),
                metadata_match: u64::MAX,
                metadata_write: u64::MAX,
                config: 0,
                max_entries: 1000,
                properties: vec![
                    mp::TableFeatureProp::Instructions {
                        miss: false,
                        ids: vec![mp::InstructionId::new(mp::InstructionType::ApplyActions)],
                    },
                    mp::TableFeatureProp::NextTables { miss: false, table_ids: vec![1, 2] },
                    mp::TableFeatureProp::ApplyActions {
                        miss: false,
                        ids: vec![mp::ActionId::new(mp::ActionType::Output)],
                    },
                    mp::TableFeatureProp::Match(vec![
                        mp::OxmId::basic(0, false, 4),
                        mp::OxmId::basic(5, false, 2),
                    ]),
                    // OVS insists on every property OF1.3.5 §7.3.5.5.2 calls required.
                    mp::TableFeatureProp::WriteActions {
                        miss: false,
                        ids: vec![mp::ActionId::new(mp::ActionType::Group)],
                    },
                    mp::TableFeatureProp::Wildcards(vec![mp::OxmId::basic(0, false, 4)]),
                    mp::TableFeatureProp::WriteSetfield {
                        miss: false,
                        ids: vec![mp::OxmId::basic(3, false, 6)],
                    },
                    mp::TableFeatureProp::ApplySetfield {
                        miss: false,
                        ids: vec![mp::OxmId::basic(12, false, 4)],
                    },
                ],
            }])),
            &[
                "OFPST_TABLE_FEATURES reply",
                "table 0 (\"main\")",
                "max_entries=1000",
                "apply_actions",
                "output",
                "in_port",
                "eth_type",
            ],
        ),
        case(
            "mp port desc reply",
            reply(R::PortDesc(vec![sample_port(1, "eth1"), sample_port(2, "eth2")])),
            &["OFPST_PORT_DESC reply", "1(eth1)", "2(eth2)", "speed: 10000 Mbps now, 10000 Mbps max"],
        ),
    ]
}
