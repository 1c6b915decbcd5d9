//! Strategies for MULTIPART_REQUEST / MULTIPART_REPLY bodies of every type (OF1.3.5 §7.3.5).

use ofproto::group::GroupType;
use ofproto::multipart as mp;
use ofproto::types::FixedStr;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use super::parts::{KNOWN_ACTION_TYPES, band, bucket, bytes_of, instructions, r#match, port, port_no};

fn flow_stats_request() -> BoxedStrategy<mp::FlowStatsRequest> {
    (any::<u8>(), port_no(), any::<u32>(), any::<[u64; 2]>(), r#match())
        .prop_map(|(table_id, out_port, out_group, c, r#match)| mp::FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: c[0],
            cookie_mask: c[1],
            r#match,
        })
        .boxed()
}

fn oxm_ids() -> BoxedStrategy<Vec<mp::OxmId>> {
    vec(
        prop_oneof![
            (0u8..40, any::<bool>(), any::<u8>()).prop_map(|(f, m, l)| mp::OxmId::basic(f, m, l)),
            (0u8..128, any::<bool>(), any::<u8>(), any::<u32>()).prop_map(|(field, has_mask, length, e)| {
                mp::OxmId { class: 0xffff, field, has_mask, length, experimenter: Some(e) }
            }),
        ],
        0..5,
    )
    .boxed()
}

fn table_feature_prop() -> BoxedStrategy<mp::TableFeatureProp> {
    use mp::TableFeatureProp as P;
    let instruction_ids =
        vec((1u16..7).prop_map(|t| mp::InstructionId::new(mp::InstructionType::from(t))), 0..6);
    let action_ids = vec(
        proptest::sample::select(&KNOWN_ACTION_TYPES[..16])
            .prop_map(|t| mp::ActionId::new(mp::ActionType::from(t))),
        0..6,
    );
    prop_oneof![
        (any::<bool>(), instruction_ids).prop_map(|(miss, ids)| P::Instructions { miss, ids }),
        (any::<bool>(), vec(any::<u8>(), 0..20))
            .prop_map(|(miss, table_ids)| P::NextTables { miss, table_ids }),
        (any::<bool>(), action_ids.clone()).prop_map(|(miss, ids)| P::WriteActions { miss, ids }),
        (any::<bool>(), action_ids).prop_map(|(miss, ids)| P::ApplyActions { miss, ids }),
        oxm_ids().prop_map(P::Match),
        oxm_ids().prop_map(P::Wildcards),
        (any::<bool>(), oxm_ids()).prop_map(|(miss, ids)| P::WriteSetfield { miss, ids }),
        (any::<bool>(), oxm_ids()).prop_map(|(miss, ids)| P::ApplySetfield { miss, ids }),
        (any::<bool>(), any::<u32>(), any::<u32>(), bytes_of(0..12)).prop_map(
            |(miss, experimenter, exp_type, data)| { P::Experimenter { miss, experimenter, exp_type, data } }
        ),
    ]
    .boxed()
}

fn table_features() -> BoxedStrategy<Vec<mp::TableFeatures>> {
    vec(
        (any::<u8>(), "[a-z ]{0,31}", any::<[u64; 2]>(), any::<[u32; 2]>(), vec(table_feature_prop(), 0..4))
            .prop_map(|(table_id, name, m, c, properties)| mp::TableFeatures {
                table_id,
                name: FixedStr::new(&name),
                metadata_match: m[0],
                metadata_write: m[1],
                config: c[0],
                max_entries: c[1],
                properties,
            }),
        0..3,
    )
    .boxed()
}

/// Multipart type numbers OF1.3.5 §7.3.5 names (an `Unknown` body must use another one).
fn unnamed_multipart_type() -> BoxedStrategy<u16> {
    (14u16..0xffff).boxed()
}

pub fn multipart_request() -> BoxedStrategy<mp::MultipartRequest> {
    use mp::MultipartRequestBody as B;
    let body = prop_oneof![
        Just(B::Desc),
        flow_stats_request().prop_map(B::Flow),
        flow_stats_request().prop_map(B::Aggregate),
        Just(B::Table),
        port_no().prop_map(|port_no| B::PortStats { port_no }),
        (port_no(), any::<u32>()).prop_map(|(port_no, queue_id)| B::Queue { port_no, queue_id }),
        any::<u32>().prop_map(|group_id| B::Group { group_id }),
        Just(B::GroupDesc),
        Just(B::GroupFeatures),
        any::<u32>().prop_map(|meter_id| B::Meter { meter_id }),
        any::<u32>().prop_map(|meter_id| B::MeterConfig { meter_id }),
        Just(B::MeterFeatures),
        table_features().prop_map(B::TableFeatures),
        Just(B::PortDesc),
        (any::<u32>(), any::<u32>(), bytes_of(0..24))
            .prop_map(|(experimenter, exp_type, data)| B::Experimenter { experimenter, exp_type, data }),
        (unnamed_multipart_type(), bytes_of(0..24)).prop_map(|(mp_type, body)| B::Unknown { mp_type, body }),
    ];
    (0u16..2, body).prop_map(|(flags, body)| mp::MultipartRequest { flags, body }).boxed()
}

pub fn multipart_reply() -> BoxedStrategy<mp::MultipartReply> {
    use mp::MultipartReplyBody as B;
    let fixed = |n: usize| -> BoxedStrategy<Vec<u64>> { vec(any::<u64>(), n).boxed() };
    let flow_stats = (fixed(4), any::<[u16; 4]>(), any::<[u32; 2]>(), any::<u8>(), r#match(), instructions())
        .prop_map(|(c, s, d, table_id, r#match, instructions)| mp::FlowStats {
            table_id,
            duration_sec: d[0],
            duration_nsec: d[1],
            priority: s[0],
            idle_timeout: s[1],
            hard_timeout: s[2],
            flags: s[3],
            cookie: c[0],
            packet_count: c[1],
            byte_count: c[2],
            r#match,
            instructions,
        });
    let port_stats = (port_no(), fixed(12), any::<[u32; 2]>()).prop_map(|(port_no, c, d)| mp::PortStats {
        port_no,
        rx_packets: c[0],
        tx_packets: c[1],
        rx_bytes: c[2],
        tx_bytes: c[3],
        rx_dropped: c[4],
        tx_dropped: c[5],
        rx_errors: c[6],
        tx_errors: c[7],
        rx_frame_err: c[8],
        rx_over_err: c[9],
        rx_crc_err: c[10],
        collisions: c[11],
        duration_sec: d[0],
        duration_nsec: d[1],
    });
    let group_stats =
        (any::<[u32; 4]>(), any::<[u64; 2]>(), vec(any::<[u64; 2]>(), 0..4)).prop_map(|(w, c, b)| {
            mp::GroupStats {
                group_id: w[0],
                ref_count: w[1],
                packet_count: c[0],
                byte_count: c[1],
                duration_sec: w[2],
                duration_nsec: w[3],
                bucket_stats: b
                    .into_iter()
                    .map(|[packet_count, byte_count]| mp::BucketCounter { packet_count, byte_count })
                    .collect(),
            }
        });
    let meter_stats =
        (any::<[u32; 4]>(), any::<[u64; 2]>(), vec(any::<[u64; 2]>(), 0..4)).prop_map(|(w, c, b)| {
            mp::MeterStats {
                meter_id: w[0],
                flow_count: w[1],
                packet_in_count: c[0],
                byte_in_count: c[1],
                duration_sec: w[2],
                duration_nsec: w[3],
                band_stats: b
                    .into_iter()
                    .map(|[packet_band_count, byte_band_count]| mp::MeterBandStats {
                        packet_band_count,
                        byte_band_count,
                    })
                    .collect(),
            }
        });
    let body = prop_oneof![
        ("[ -~]{0,40}", "[ -~]{0,31}").prop_map(|(text, serial)| B::Desc(Box::new(mp::Desc {
            mfr_desc: FixedStr::new(&text),
            hw_desc: FixedStr::new("hw"),
            sw_desc: FixedStr::new(&text),
            serial_num: FixedStr::new(&serial),
            dp_desc: FixedStr::new("dp"),
        }))),
        vec(flow_stats, 0..3).prop_map(B::Flow),
        (any::<[u64; 2]>(), any::<u32>()).prop_map(|(c, flow_count)| B::Aggregate(mp::AggregateStats {
            packet_count: c[0],
            byte_count: c[1],
            flow_count
        })),
        vec((any::<u8>(), any::<u32>(), any::<[u64; 2]>()), 0..4).prop_map(|v| B::Table(
            v.into_iter()
                .map(|(table_id, active_count, c)| mp::TableStats {
                    table_id,
                    active_count,
                    lookup_count: c[0],
                    matched_count: c[1]
                })
                .collect()
        )),
        vec(port_stats, 0..3).prop_map(B::PortStats),
        vec((port_no(), any::<u32>(), any::<[u64; 3]>(), any::<[u32; 2]>()), 0..3).prop_map(|v| B::Queue(
            v.into_iter()
                .map(|(port_no, queue_id, c, d)| mp::QueueStats {
                    port_no,
                    queue_id,
                    tx_bytes: c[0],
                    tx_packets: c[1],
                    tx_errors: c[2],
                    duration_sec: d[0],
                    duration_nsec: d[1]
                })
                .collect()
        )),
        vec(group_stats, 0..3).prop_map(B::Group),
        vec((any::<u8>(), any::<u32>(), vec(bucket(), 0..3)), 0..3).prop_map(|v| B::GroupDesc(
            v.into_iter()
                .map(|(t, group_id, buckets)| mp::GroupDesc {
                    group_type: GroupType::from(t),
                    group_id,
                    buckets
                })
                .collect()
        )),
        (any::<[u32; 2]>(), any::<[u32; 4]>(), any::<[u32; 4]>()).prop_map(|(tc, max_groups, actions)| {
            B::GroupFeatures(mp::GroupFeatures { types: tc[0], capabilities: tc[1], max_groups, actions })
        }),
        vec(meter_stats, 0..3).prop_map(B::Meter),
        vec((any::<u16>(), any::<u32>(), vec(band(), 0..3)), 0..3).prop_map(|v| B::MeterConfig(
            v.into_iter()
                .map(|(flags, meter_id, bands)| mp::MeterConfig { flags, meter_id, bands })
                .collect()
        )),
        (any::<[u32; 3]>(), any::<[u8; 2]>()).prop_map(|(w, b)| B::MeterFeatures(mp::MeterFeatures {
            max_meter: w[0],
            band_types: w[1],
            capabilities: w[2],
            max_bands: b[0],
            max_color: b[1]
        })),
        table_features().prop_map(B::TableFeatures),
        vec(port(), 0..3).prop_map(B::PortDesc),
        (any::<u32>(), any::<u32>(), bytes_of(0..24))
            .prop_map(|(experimenter, exp_type, data)| B::Experimenter { experimenter, exp_type, data }),
        (unnamed_multipart_type(), bytes_of(0..24)).prop_map(|(mp_type, body)| B::Unknown { mp_type, body }),
    ];
    (0u16..2, body).prop_map(|(flags, body)| mp::MultipartReply { flags, body }).boxed()
}
