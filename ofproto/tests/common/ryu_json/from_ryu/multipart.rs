//! Builders for MULTIPART_REQUEST / MULTIPART_REPLY bodies.

use bytes::Bytes;
use ofproto::Message;
use ofproto::group::GroupType;
use ofproto::multipart::{
    self as mp, MultipartReply, MultipartReplyBody as R, MultipartRequest, MultipartRequestBody as Q,
};
use ofproto::types::{FixedStr, PortNo};
use serde_json::Value;

use super::parts::{bands, buckets, instructions, r#match, port};
use super::{Built, Fields, data, field, int_of, list, quad, split, text, uint};
use crate::common::ryu_json::parts::BASIC_FIELD_NAMES;

pub(super) fn flow_stats_request(f: &Fields) -> Built<mp::FlowStatsRequest> {
    Ok(mp::FlowStatsRequest {
        table_id: num!(f, "table_id", u8),
        out_port: PortNo(num!(f, "out_port", u32)),
        out_group: num!(f, "out_group", u32),
        cookie: uint(f, "cookie")?,
        cookie_mask: uint(f, "cookie_mask")?,
        r#match: r#match(field(f, "match")?)?,
    })
}

pub(super) fn oxm_id(v: &Value) -> Built<mp::OxmId> {
    let (_, f) = split(v)?;
    let name = text(f, "type")?;
    let number = BASIC_FIELD_NAMES
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| format!("OXM id {name} has no builder"))?;
    Ok(mp::OxmId::basic(number as u8, uint(f, "hasmask")? != 0, num!(f, "length", u8)))
}

pub(super) fn table_features(v: &Value) -> Built<mp::TableFeatures> {
    use mp::TableFeatureProp as P;
    let (_, f) = split(v)?;
    let properties = list(f, "properties")?
        .iter()
        .map(|p| {
            let (class, f) = split(p)?;
            let t = uint(f, "type")?;
            let miss = t % 2 == 1;
            let ids = |key: &str| -> Built<Vec<u16>> {
                list(f, key)?.iter().map(|i| split(i).and_then(|(_, i)| Ok(num!(i, "type", u16)))).collect()
            };
            let oxm_ids = || -> Built<Vec<mp::OxmId>> { list(f, "oxm_ids")?.iter().map(oxm_id).collect() };
            Ok(match (class, t) {
                ("OFPTableFeaturePropInstructions", _) => P::Instructions {
                    miss,
                    ids: ids("instruction_ids")?
                        .into_iter()
                        .map(|t| mp::InstructionId::new(t.into()))
                        .collect(),
                },
                ("OFPTableFeaturePropNextTables", _) => P::NextTables {
                    miss,
                    table_ids: list(f, "table_ids")?.iter().map(int_of).collect::<Built<_>>()?,
                },
                ("OFPTableFeaturePropActions", 4 | 5) => P::WriteActions {
                    miss,
                    ids: ids("action_ids")?.into_iter().map(|t| mp::ActionId::new(t.into())).collect(),
                },
                ("OFPTableFeaturePropActions", _) => P::ApplyActions {
                    miss,
                    ids: ids("action_ids")?.into_iter().map(|t| mp::ActionId::new(t.into())).collect(),
                },
                ("OFPTableFeaturePropOxm", 8) => P::Match(oxm_ids()?),
                ("OFPTableFeaturePropOxm", 10) => P::Wildcards(oxm_ids()?),
                ("OFPTableFeaturePropOxm", 12 | 13) => P::WriteSetfield { miss: t == 13, ids: oxm_ids()? },
                ("OFPTableFeaturePropOxm", _) => P::ApplySetfield { miss: t == 15, ids: oxm_ids()? },
                // Ryu shows experimenter data as 32-bit words.
                ("OFPTableFeaturePropExperimenter", _) => P::Experimenter {
                    miss: t == 0xffff,
                    experimenter: num!(f, "experimenter", u32),
                    exp_type: num!(f, "exp_type", u32),
                    data: Bytes::from(
                        list(f, "data")?
                            .iter()
                            .map(|w| int_of::<u32>(w).map(u32::to_be_bytes))
                            .collect::<Built<Vec<_>>>()?
                            .concat(),
                    ),
                },
                (other, t) => return Err(format!("table feature property {other} type {t} has no builder")),
            })
        })
        .collect::<Built<_>>()?;
    Ok(mp::TableFeatures {
        table_id: num!(f, "table_id", u8),
        name: FixedStr::new(text(f, "name")?),
        metadata_match: uint(f, "metadata_match")?,
        metadata_write: uint(f, "metadata_write")?,
        config: num!(f, "config", u32),
        max_entries: num!(f, "max_entries", u32),
        properties,
    })
}

pub(super) fn body_list<T>(f: &Fields, each: impl Fn(&Value) -> Built<T>) -> Built<Vec<T>> {
    list(f, "body")?.iter().map(each).collect()
}

pub(super) fn inner(f: &Fields) -> Built<&Fields> {
    split(field(f, "body")?).map(|(_, b)| b)
}

pub(super) fn request(class: &str, f: &Fields) -> Built<Message> {
    let body = match class {
        "OFPDescStatsRequest" => Q::Desc,
        "OFPFlowStatsRequest" => Q::Flow(flow_stats_request(f)?),
        "OFPAggregateStatsRequest" => Q::Aggregate(flow_stats_request(f)?),
        "OFPTableStatsRequest" => Q::Table,
        "OFPPortStatsRequest" => Q::PortStats { port_no: PortNo(num!(f, "port_no", u32)) },
        "OFPQueueStatsRequest" => {
            Q::Queue { port_no: PortNo(num!(f, "port_no", u32)), queue_id: num!(f, "queue_id", u32) }
        }
        "OFPGroupStatsRequest" => Q::Group { group_id: num!(f, "group_id", u32) },
        "OFPGroupDescStatsRequest" => Q::GroupDesc,
        "OFPGroupFeaturesStatsRequest" => Q::GroupFeatures,
        "OFPMeterStatsRequest" => Q::Meter { meter_id: num!(f, "meter_id", u32) },
        "OFPMeterConfigStatsRequest" => Q::MeterConfig { meter_id: num!(f, "meter_id", u32) },
        "OFPMeterFeaturesStatsRequest" => Q::MeterFeatures,
        "OFPTableFeaturesStatsRequest" => Q::TableFeatures(body_list(f, table_features)?),
        "OFPPortDescStatsRequest" => Q::PortDesc,
        "OFPExperimenterStatsRequest" => Q::Experimenter {
            experimenter: num!(f, "experimenter", u32),
            exp_type: num!(f, "exp_type", u32),
            data: data(f, "data")?,
        },
        other => return Err(format!("{other}: body is opaque in ofproto")),
    };
    Ok(Message::MultipartRequest(MultipartRequest { flags: num!(f, "flags", u16), body }))
}

pub(super) fn reply(class: &str, f: &Fields) -> Built<Message> {
    let body = match class {
        "OFPDescStatsReply" => {
            let d = inner(f)?;
            R::Desc(Box::new(mp::Desc {
                mfr_desc: FixedStr::new(text(d, "mfr_desc")?),
                hw_desc: FixedStr::new(text(d, "hw_desc")?),
                sw_desc: FixedStr::new(text(d, "sw_desc")?),
                serial_num: FixedStr::new(text(d, "serial_num")?),
                dp_desc: FixedStr::new(text(d, "dp_desc")?),
            }))
        }
        "OFPFlowStatsReply" => R::Flow(body_list(f, |v| {
            let (_, s) = split(v)?;
            Ok(mp::FlowStats {
                table_id: num!(s, "table_id", u8),
                duration_sec: num!(s, "duration_sec", u32),
                duration_nsec: num!(s, "duration_nsec", u32),
                priority: num!(s, "priority", u16),
                idle_timeout: num!(s, "idle_timeout", u16),
                hard_timeout: num!(s, "hard_timeout", u16),
                flags: num!(s, "flags", u16),
                cookie: uint(s, "cookie")?,
                packet_count: uint(s, "packet_count")?,
                byte_count: uint(s, "byte_count")?,
                r#match: r#match(field(s, "match")?)?,
                instructions: instructions(s)?,
            })
        })?),
        "OFPAggregateStatsReply" => {
            let a = inner(f)?;
            R::Aggregate(mp::AggregateStats {
                packet_count: uint(a, "packet_count")?,
                byte_count: uint(a, "byte_count")?,
                flow_count: num!(a, "flow_count", u32),
            })
        }
        "OFPTableStatsReply" => R::Table(body_list(f, |v| {
            let (_, t) = split(v)?;
            Ok(mp::TableStats {
                table_id: num!(t, "table_id", u8),
                active_count: num!(t, "active_count", u32),
                lookup_count: uint(t, "lookup_count")?,
                matched_count: uint(t, "matched_count")?,
            })
        })?),
        "OFPPortStatsReply" => R::PortStats(body_list(f, |v| {
            let (_, p) = split(v)?;
            Ok(mp::PortStats {
                port_no: PortNo(num!(p, "port_no", u32)),
                rx_packets: uint(p, "rx_packets")?,
                tx_packets: uint(p, "tx_packets")?,
                rx_bytes: uint(p, "rx_bytes")?,
                tx_bytes: uint(p, "tx_bytes")?,
                rx_dropped: uint(p, "rx_dropped")?,
                tx_dropped: uint(p, "tx_dropped")?,
                rx_errors: uint(p, "rx_errors")?,
                tx_errors: uint(p, "tx_errors")?,
                rx_frame_err: uint(p, "rx_frame_err")?,
                rx_over_err: uint(p, "rx_over_err")?,
                rx_crc_err: uint(p, "rx_crc_err")?,
                collisions: uint(p, "collisions")?,
                duration_sec: num!(p, "duration_sec", u32),
                duration_nsec: num!(p, "duration_nsec", u32),
            })
        })?),
        "OFPQueueStatsReply" => R::Queue(body_list(f, |v| {
            let (_, q) = split(v)?;
            Ok(mp::QueueStats {
                port_no: PortNo(num!(q, "port_no", u32)),
                queue_id: num!(q, "queue_id", u32),
                tx_bytes: uint(q, "tx_bytes")?,
                tx_packets: uint(q, "tx_packets")?,
                tx_errors: uint(q, "tx_errors")?,
                duration_sec: num!(q, "duration_sec", u32),
                duration_nsec: num!(q, "duration_nsec", u32),
            })
        })?),
        "OFPGroupStatsReply" => R::Group(body_list(f, |v| {
            let (_, g) = split(v)?;
            let bucket_stats = list(g, "bucket_stats")?
                .iter()
                .map(|c| {
                    let (_, c) = split(c)?;
                    Ok(mp::BucketCounter {
                        packet_count: uint(c, "packet_count")?,
                        byte_count: uint(c, "byte_count")?,
                    })
                })
                .collect::<Built<_>>()?;
            Ok(mp::GroupStats {
                group_id: num!(g, "group_id", u32),
                ref_count: num!(g, "ref_count", u32),
                packet_count: uint(g, "packet_count")?,
                byte_count: uint(g, "byte_count")?,
                duration_sec: num!(g, "duration_sec", u32),
                duration_nsec: num!(g, "duration_nsec", u32),
                bucket_stats,
            })
        })?),
        "OFPGroupDescStatsReply" => R::GroupDesc(body_list(f, |v| {
            let (_, g) = split(v)?;
            Ok(mp::GroupDesc {
                group_type: GroupType::from(num!(g, "type", u8)),
                group_id: num!(g, "group_id", u32),
                buckets: buckets(g)?,
            })
        })?),
        "OFPGroupFeaturesStatsReply" => {
            let g = inner(f)?;
            R::GroupFeatures(mp::GroupFeatures {
                types: num!(g, "types", u32),
                capabilities: num!(g, "capabilities", u32),
                max_groups: quad(g, "max_groups")?,
                actions: quad(g, "actions")?,
            })
        }
        "OFPMeterStatsReply" => R::Meter(body_list(f, |v| {
            let (_, m) = split(v)?;
            let band_stats = list(m, "band_stats")?
                .iter()
                .map(|b| {
                    let (_, b) = split(b)?;
                    Ok(mp::MeterBandStats {
                        packet_band_count: uint(b, "packet_band_count")?,
                        byte_band_count: uint(b, "byte_band_count")?,
                    })
                })
                .collect::<Built<_>>()?;
            Ok(mp::MeterStats {
                meter_id: num!(m, "meter_id", u32),
                flow_count: num!(m, "flow_count", u32),
                packet_in_count: uint(m, "packet_in_count")?,
                byte_in_count: uint(m, "byte_in_count")?,
                duration_sec: num!(m, "duration_sec", u32),
                duration_nsec: num!(m, "duration_nsec", u32),
                band_stats,
            })
        })?),
        "OFPMeterConfigStatsReply" => R::MeterConfig(body_list(f, |v| {
            let (_, c) = split(v)?;
            Ok(mp::MeterConfig {
                flags: num!(c, "flags", u16),
                meter_id: num!(c, "meter_id", u32),
                bands: bands(c)?,
            })
        })?),
        "OFPMeterFeaturesStatsReply" => {
            let all = body_list(f, |v| {
                let (_, m) = split(v)?;
                Ok(mp::MeterFeatures {
                    max_meter: num!(m, "max_meter", u32),
                    band_types: num!(m, "band_types", u32),
                    capabilities: num!(m, "capabilities", u32),
                    max_bands: num!(m, "max_bands", u8),
                    max_color: num!(m, "max_color", u8),
                })
            })?;
            R::MeterFeatures(all.into_iter().next().ok_or("empty meter features body")?)
        }
        "OFPTableFeaturesStatsReply" => R::TableFeatures(body_list(f, table_features)?),
        "OFPPortDescStatsReply" => R::PortDesc(body_list(f, port)?),
        "OFPExperimenterStatsReply" => {
            let e = inner(f)?;
            R::Experimenter {
                experimenter: num!(e, "experimenter", u32),
                exp_type: num!(e, "exp_type", u32),
                data: data(e, "data")?,
            }
        }
        other => return Err(format!("{other} has no builder")),
    };
    Ok(Message::MultipartReply(MultipartReply { flags: num!(f, "flags", u16), body }))
}
