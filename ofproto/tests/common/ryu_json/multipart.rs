//! Ryu's JSON for MULTIPART_REQUEST / MULTIPART_REPLY (OF1.3.5 §7.3.5): one Ryu class per
//! multipart type, `{"flags", "type", ...}` for requests and `{"body", "flags", "type"}` for replies.

use ofproto::Message;
use ofproto::multipart::{
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody, TableFeatureProp,
    TableFeatures,
};
use serde_json::{Value, json};

use super::parts::{self, b64, class};

/// ONF's experimenter id and the flow-monitor multipart type (ONF EXT-187), which Ryu names
/// `ONFFlowMonitorStatsRequest`.
const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
const ONF_ET_FLOW_MONITOR: u32 = 1870;

/// Byte offset of a multipart body (8-byte header + type, flags, pad: OF1.3.5 §7.3.5).
const BODY_AT: usize = 16;

fn be_u16_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 2) {
        Some(b) => u64::from(u16::from_be_bytes([b[0], b[1]])),
        None => panic!("encoder output too short for a length at {at}: {}", crate::common::hex(bytes)),
    }
}

/// The length field at `offset` inside the first body entry of a reply holding only `body`.
fn entry_len(body: MultipartReplyBody, offset: usize) -> u64 {
    let bytes = Message::MultipartReply(MultipartReply { flags: 0, body }).to_bytes(0);
    be_u16_at(&bytes, BODY_AT + offset)
}

fn table_features_length(t: &TableFeatures) -> u64 {
    entry_len(MultipartReplyBody::TableFeatures(vec![t.clone()]), 0)
}

/// `ofp_table_features` is 64 bytes before its properties (§7.3.5.5.1).
const TABLE_FEATURES_PROPS_AT: usize = 64;

/// A table-features entry holding only `prop`, for measuring the property.
fn lone_prop(prop: &TableFeatureProp) -> TableFeatures {
    TableFeatures {
        table_id: 0,
        name: Default::default(),
        metadata_match: 0,
        metadata_write: 0,
        config: 0,
        max_entries: 0,
        properties: vec![prop.clone()],
    }
}

fn prop_length(prop: &TableFeatureProp) -> u64 {
    entry_len(MultipartReplyBody::TableFeatures(vec![lone_prop(prop)]), TABLE_FEATURES_PROPS_AT + 2)
}

/// The `len` of the first instruction/action id inside `prop` (ids follow the 4-byte prop header).
fn first_id_len(prop: &TableFeatureProp) -> u64 {
    entry_len(MultipartReplyBody::TableFeatures(vec![lone_prop(prop)]), TABLE_FEATURES_PROPS_AT + 4 + 2)
}

fn table_feature_prop(p: &TableFeatureProp) -> Value {
    let length = prop_length(p);
    let type_ = p.prop_type().value();
    let oxm_ids = |ids: &[ofproto::multipart::OxmId]| -> Vec<Value> {
        ids.iter()
            .map(|id| {
                let name = parts::oxm_id_name(id.class, id.field, id.experimenter);
                class(
                    "OFPOxmId",
                    json!({ "hasmask": u8::from(id.has_mask), "length": id.length, "type": name }),
                )
            })
            .collect()
    };
    match p {
        TableFeatureProp::Instructions { ids, .. } => {
            let ids: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let one = TableFeatureProp::Instructions { miss: false, ids: vec![id.clone()] };
                    class(
                        "OFPInstructionId",
                        json!({ "len": first_id_len(&one), "type": id.instruction_type.value() }),
                    )
                })
                .collect();
            class(
                "OFPTableFeaturePropInstructions",
                json!({ "instruction_ids": ids, "length": length, "type": type_ }),
            )
        }
        TableFeatureProp::NextTables { table_ids, .. } => class(
            "OFPTableFeaturePropNextTables",
            json!({ "length": length, "table_ids": table_ids, "type": type_ }),
        ),
        TableFeatureProp::WriteActions { ids, .. } | TableFeatureProp::ApplyActions { ids, .. } => {
            let ids: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let one = TableFeatureProp::WriteActions { miss: false, ids: vec![id.clone()] };
                    class("OFPActionId", json!({ "len": first_id_len(&one), "type": id.action_type.value() }))
                })
                .collect();
            class("OFPTableFeaturePropActions", json!({ "action_ids": ids, "length": length, "type": type_ }))
        }
        TableFeatureProp::Match(ids)
        | TableFeatureProp::Wildcards(ids)
        | TableFeatureProp::WriteSetfield { ids, .. }
        | TableFeatureProp::ApplySetfield { ids, .. } => class(
            "OFPTableFeaturePropOxm",
            json!({ "length": length, "oxm_ids": oxm_ids(ids), "type": type_ }),
        ),
        // Ryu decodes the experimenter data as a list of 32-bit words.
        TableFeatureProp::Experimenter { experimenter, exp_type, data, .. } => {
            let words: Vec<u32> =
                data.chunks(4).map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))).collect();
            class(
                "OFPTableFeaturePropExperimenter",
                json!({ "data": words, "exp_type": exp_type, "experimenter": experimenter,
                        "length": length, "type": type_ }),
            )
        }
        TableFeatureProp::Unknown { prop_type, body } => class(
            "OFPTableFeaturePropUnknown",
            json!({ "data": b64(body), "length": length, "type": prop_type }),
        ),
    }
}

fn table_features(t: &TableFeatures) -> Value {
    class(
        "OFPTableFeaturesStats",
        json!({
            "config": t.config,
            "length": table_features_length(t),
            "max_entries": t.max_entries,
            "metadata_match": t.metadata_match,
            "metadata_write": t.metadata_write,
            "name": t.name.as_str(),
            "properties": t.properties.iter().map(table_feature_prop).collect::<Vec<_>>(),
            "table_id": t.table_id,
        }),
    )
}

/// `{"flags", "type"}` plus the type-specific fields of a request.
fn request_fields(flags: u16, mp_type: u16, extra: Value) -> Value {
    let mut fields = json!({ "flags": flags, "type": mp_type });
    if let (Value::Object(dst), Value::Object(src)) = (&mut fields, extra) {
        dst.extend(src);
    }
    fields
}

pub fn request(m: &MultipartRequest) -> Value {
    let f = m.flags;
    // Multipart type numbers: OF1.3.5 §7.3.5 `ofp_multipart_type`.
    match &m.body {
        MultipartRequestBody::Desc => class("OFPDescStatsRequest", request_fields(f, 0, json!({}))),
        MultipartRequestBody::Flow(r) | MultipartRequestBody::Aggregate(r) => {
            let (name, t) = match &m.body {
                MultipartRequestBody::Flow(_) => ("OFPFlowStatsRequest", 1),
                _ => ("OFPAggregateStatsRequest", 2),
            };
            class(
                name,
                request_fields(
                    f,
                    t,
                    json!({ "cookie": r.cookie, "cookie_mask": r.cookie_mask, "match": parts::r#match(&r.r#match),
                            "out_group": r.out_group, "out_port": r.out_port.0, "table_id": r.table_id }),
                ),
            )
        }
        MultipartRequestBody::Table => class("OFPTableStatsRequest", request_fields(f, 3, json!({}))),
        MultipartRequestBody::PortStats { port_no } => {
            class("OFPPortStatsRequest", request_fields(f, 4, json!({ "port_no": port_no.0 })))
        }
        MultipartRequestBody::Queue { port_no, queue_id } => class(
            "OFPQueueStatsRequest",
            request_fields(f, 5, json!({ "port_no": port_no.0, "queue_id": queue_id })),
        ),
        MultipartRequestBody::Group { group_id } => {
            class("OFPGroupStatsRequest", request_fields(f, 6, json!({ "group_id": group_id })))
        }
        MultipartRequestBody::GroupDesc => class("OFPGroupDescStatsRequest", request_fields(f, 7, json!({}))),
        MultipartRequestBody::GroupFeatures => {
            class("OFPGroupFeaturesStatsRequest", request_fields(f, 8, json!({})))
        }
        MultipartRequestBody::Meter { meter_id } => {
            class("OFPMeterStatsRequest", request_fields(f, 9, json!({ "meter_id": meter_id })))
        }
        MultipartRequestBody::MeterConfig { meter_id } => {
            class("OFPMeterConfigStatsRequest", request_fields(f, 10, json!({ "meter_id": meter_id })))
        }
        MultipartRequestBody::MeterFeatures => {
            class("OFPMeterFeaturesStatsRequest", request_fields(f, 11, json!({})))
        }
        MultipartRequestBody::TableFeatures(list) => class(
            "OFPTableFeaturesStatsRequest",
            request_fields(f, 12, json!({ "body": list.iter().map(table_features).collect::<Vec<_>>() })),
        ),
        MultipartRequestBody::PortDesc => class("OFPPortDescStatsRequest", request_fields(f, 13, json!({}))),
        MultipartRequestBody::Experimenter { experimenter, exp_type, data } => {
            if *experimenter == ONF_EXPERIMENTER && *exp_type == ONF_ET_FLOW_MONITOR {
                // The body is opaque in ofproto; diff.rs lists it as not modelled.
                class(
                    "ONFFlowMonitorStatsRequest",
                    request_fields(f, 0xffff, json!({ "exp_type": exp_type, "experimenter": experimenter })),
                )
            } else {
                class(
                    "OFPExperimenterStatsRequest",
                    request_fields(
                        f,
                        0xffff,
                        json!({ "data": b64(data), "exp_type": exp_type, "experimenter": experimenter }),
                    ),
                )
            }
        }
        MultipartRequestBody::Unknown { mp_type, body } => {
            class("OFPUnknownStatsRequest", request_fields(f, *mp_type, json!({ "body": b64(body) })))
        }
    }
}

fn reply_of(name: &str, flags: u16, mp_type: u16, body: Value) -> Value {
    class(name, json!({ "body": body, "flags": flags, "type": mp_type }))
}

pub fn reply(m: &MultipartReply) -> Value {
    let f = m.flags;
    match &m.body {
        MultipartReplyBody::Desc(d) => reply_of(
            "OFPDescStatsReply",
            f,
            0,
            class(
                "OFPDescStats",
                json!({ "dp_desc": d.dp_desc.as_str(), "hw_desc": d.hw_desc.as_str(), "mfr_desc": d.mfr_desc.as_str(),
                        "serial_num": d.serial_num.as_str(), "sw_desc": d.sw_desc.as_str() }),
            ),
        ),
        MultipartReplyBody::Flow(list) => reply_of(
            "OFPFlowStatsReply",
            f,
            1,
            list.iter()
                .map(|s| {
                    class(
                        "OFPFlowStats",
                        json!({
                            "byte_count": s.byte_count, "cookie": s.cookie, "duration_nsec": s.duration_nsec,
                            "duration_sec": s.duration_sec, "flags": s.flags, "hard_timeout": s.hard_timeout,
                            "idle_timeout": s.idle_timeout, "instructions": parts::instructions(&s.instructions),
                            "length": entry_len(MultipartReplyBody::Flow(vec![s.clone()]), 0),
                            "match": parts::r#match(&s.r#match), "packet_count": s.packet_count,
                            "priority": s.priority, "table_id": s.table_id,
                        }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::Aggregate(a) => reply_of(
            "OFPAggregateStatsReply",
            f,
            2,
            class(
                "OFPAggregateStats",
                json!({ "byte_count": a.byte_count, "flow_count": a.flow_count, "packet_count": a.packet_count }),
            ),
        ),
        MultipartReplyBody::Table(list) => reply_of(
            "OFPTableStatsReply",
            f,
            3,
            list.iter()
                .map(|t| {
                    class(
                        "OFPTableStats",
                        json!({ "active_count": t.active_count, "lookup_count": t.lookup_count,
                                "matched_count": t.matched_count, "table_id": t.table_id }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::PortStats(list) => reply_of(
            "OFPPortStatsReply",
            f,
            4,
            list.iter()
                .map(|p| {
                    class(
                        "OFPPortStats",
                        json!({
                            "collisions": p.collisions, "duration_nsec": p.duration_nsec,
                            "duration_sec": p.duration_sec, "port_no": p.port_no.0, "rx_bytes": p.rx_bytes,
                            "rx_crc_err": p.rx_crc_err, "rx_dropped": p.rx_dropped, "rx_errors": p.rx_errors,
                            "rx_frame_err": p.rx_frame_err, "rx_over_err": p.rx_over_err,
                            "rx_packets": p.rx_packets, "tx_bytes": p.tx_bytes, "tx_dropped": p.tx_dropped,
                            "tx_errors": p.tx_errors, "tx_packets": p.tx_packets,
                        }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::Queue(list) => reply_of(
            "OFPQueueStatsReply",
            f,
            5,
            list.iter()
                .map(|q| {
                    class(
                        "OFPQueueStats",
                        json!({ "duration_nsec": q.duration_nsec, "duration_sec": q.duration_sec,
                                "port_no": q.port_no.0, "queue_id": q.queue_id, "tx_bytes": q.tx_bytes,
                                "tx_errors": q.tx_errors, "tx_packets": q.tx_packets }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::Group(list) => reply_of(
            "OFPGroupStatsReply",
            f,
            6,
            list.iter()
                .map(|g| {
                    let counters: Vec<Value> = g
                        .bucket_stats
                        .iter()
                        .map(|c| {
                            class(
                                "OFPBucketCounter",
                                json!({ "byte_count": c.byte_count, "packet_count": c.packet_count }),
                            )
                        })
                        .collect();
                    class(
                        "OFPGroupStats",
                        json!({
                            "bucket_stats": counters, "byte_count": g.byte_count,
                            "duration_nsec": g.duration_nsec, "duration_sec": g.duration_sec,
                            "group_id": g.group_id,
                            "length": entry_len(MultipartReplyBody::Group(vec![g.clone()]), 0),
                            "packet_count": g.packet_count, "ref_count": g.ref_count,
                        }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::GroupDesc(list) => reply_of(
            "OFPGroupDescStatsReply",
            f,
            7,
            list.iter()
                .map(|g| {
                    class(
                        "OFPGroupDescStats",
                        json!({
                            "buckets": parts::buckets(&g.buckets), "group_id": g.group_id,
                            "length": entry_len(MultipartReplyBody::GroupDesc(vec![g.clone()]), 0),
                            "type": g.group_type.value(),
                        }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::GroupFeatures(g) => reply_of(
            "OFPGroupFeaturesStatsReply",
            f,
            8,
            class(
                "OFPGroupFeaturesStats",
                json!({ "actions": g.actions, "capabilities": g.capabilities, "max_groups": g.max_groups,
                        "types": g.types }),
            ),
        ),
        MultipartReplyBody::Meter(list) => reply_of(
            "OFPMeterStatsReply",
            f,
            9,
            list.iter()
                .map(|s| {
                    let bands: Vec<Value> = s
                        .band_stats
                        .iter()
                        .map(|b| {
                            class(
                                "OFPMeterBandStats",
                                json!({ "byte_band_count": b.byte_band_count,
                                        "packet_band_count": b.packet_band_count }),
                            )
                        })
                        .collect();
                    class(
                        "OFPMeterStats",
                        json!({
                            "band_stats": bands, "byte_in_count": s.byte_in_count,
                            "duration_nsec": s.duration_nsec, "duration_sec": s.duration_sec,
                            "flow_count": s.flow_count,
                            // `ofp_meter_stats.len` follows the 4-byte meter_id (§7.3.5.12).
                            "len": entry_len(MultipartReplyBody::Meter(vec![s.clone()]), 4),
                            "meter_id": s.meter_id, "packet_in_count": s.packet_in_count,
                        }),
                    )
                })
                .collect(),
        ),
        MultipartReplyBody::MeterConfig(list) => reply_of(
            "OFPMeterConfigStatsReply",
            f,
            10,
            list.iter()
                .map(|c| {
                    class(
                        "OFPMeterConfigStats",
                        json!({
                            "bands": parts::bands(&c.bands), "flags": c.flags,
                            "length": entry_len(MultipartReplyBody::MeterConfig(vec![c.clone()]), 0),
                            "meter_id": c.meter_id,
                        }),
                    )
                })
                .collect(),
        ),
        // Ryu's meter-features reply body is a list of one entry.
        MultipartReplyBody::MeterFeatures(m) => reply_of(
            "OFPMeterFeaturesStatsReply",
            f,
            11,
            json!([class(
                "OFPMeterFeaturesStats",
                json!({ "band_types": m.band_types, "capabilities": m.capabilities, "max_bands": m.max_bands,
                        "max_color": m.max_color, "max_meter": m.max_meter }),
            )]),
        ),
        MultipartReplyBody::TableFeatures(list) => reply_of(
            "OFPTableFeaturesStatsReply",
            f,
            12,
            list.iter().map(table_features).collect(),
        ),
        MultipartReplyBody::PortDesc(list) => {
            reply_of("OFPPortDescStatsReply", f, 13, list.iter().map(parts::port).collect())
        }
        MultipartReplyBody::Experimenter { experimenter, exp_type, data } => reply_of(
            "OFPExperimenterStatsReply",
            f,
            0xffff,
            class(
                "OFPExperimenterMultipart",
                json!({ "data": b64(data), "exp_type": exp_type, "experimenter": experimenter }),
            ),
        ),
        MultipartReplyBody::Unknown { mp_type, body } => reply_of("OFPUnknownStatsReply", f, *mp_type, b64(body)),
    }
}
