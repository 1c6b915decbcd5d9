//! Groups and meters ↔ Ryu's ofctl JSON (`mod_group_entry`, `get_group_stats`, `get_group_desc`,
//! `get_group_features`, `mod_meter_entry`, `get_meter_stats`, `get_meter_config`,
//! `get_meter_features`). Bucket actions use the same conversion as flow actions.

use bytes::Bytes;
use ofproto::PortNo;
use ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use ofproto::meter::{MeterBand, MeterMod, MeterModCommand, meter_flags};
use ofproto::multipart::{GroupDesc, GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats};
use ofproto::types::group_id;
use serde_json::{Value, json};

use super::actions::{action_list_from_json, action_to_str};
use super::{BodyError, Obj, Reserved};

const U8: u64 = u8::MAX as u64;
const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

/// Group types in Ryu's order and spelling (`FF` is fast failover).
const GROUP_TYPES: [(&str, GroupType); 4] = [
    ("ALL", GroupType::All),
    ("SELECT", GroupType::Select),
    ("INDIRECT", GroupType::Indirect),
    ("FF", GroupType::FastFailover),
];

/// Meter flags in Ryu's (sorted) order (OF1.3.5 §7.3.4.4).
const METER_FLAGS: [(&str, u16); 4] = [
    ("KBPS", meter_flags::KBPS),
    ("PKTPS", meter_flags::PKTPS),
    ("BURST", meter_flags::BURST),
    ("STATS", meter_flags::STATS),
];

/// Action type names by `ofp_action_type` number, for group features.
const ACTION_NAMES: [(u32, &str); 16] = [
    (0, "OUTPUT"),
    (11, "COPY_TTL_OUT"),
    (12, "COPY_TTL_IN"),
    (15, "SET_MPLS_TTL"),
    (16, "DEC_MPLS_TTL"),
    (17, "PUSH_VLAN"),
    (18, "POP_VLAN"),
    (19, "PUSH_MPLS"),
    (20, "POP_MPLS"),
    (21, "SET_QUEUE"),
    (22, "GROUP"),
    (23, "SET_NW_TTL"),
    (24, "DEC_NW_TTL"),
    (25, "SET_FIELD"),
    (26, "PUSH_PBB"),
    (27, "POP_PBB"),
];

fn group_type_name(t: GroupType) -> Value {
    GROUP_TYPES.iter().find(|(_, g)| *g == t).map(|(n, _)| Value::from(*n)).unwrap_or(Value::Null)
}

/// Ryu's `mod_group_entry`: `{"dpid", "type", "group_id", "buckets": [{"weight", "watch_port",
/// "watch_group", "actions"}]}`; type defaults to ALL.
pub fn group_mod_from_json(obj: Obj<'_>, command: GroupModCommand) -> Result<GroupMod, BodyError> {
    let name = obj.str("type")?.unwrap_or("ALL");
    let group_type = GROUP_TYPES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
        BodyError::new(obj.field("type"), format!("expected ALL, SELECT, INDIRECT or FF, got {name:?}"))
    })?;
    let group_id = obj.reserved("group_id", 0, Reserved::Group)? as u32;
    let mut buckets = Vec::new();
    let buckets_path = obj.field("buckets");
    for (i, item) in obj.list("buckets")?.iter().enumerate() {
        let path = format!("{buckets_path}[{i}]");
        let b = Obj::from_value(&path, item)?;
        let actions_path = b.field("actions");
        buckets.push(Bucket {
            weight: b.uint("weight", 0, U16)? as u16,
            watch_port: PortNo(b.reserved("watch_port", u64::from(PortNo::ANY.0), Reserved::Port)? as u32),
            watch_group: b.reserved("watch_group", u64::from(group_id::ANY), Reserved::Group)? as u32,
            actions: action_list_from_json(b.list("actions")?, &actions_path)?,
        });
    }
    Ok(GroupMod { command, group_type, group_id, buckets })
}

pub fn group_stats_to_json(s: &GroupStats) -> Value {
    json!({
        "length": GroupStats::FIXED_SIZE + 16 * s.bucket_stats.len(),
        "group_id": Reserved::Group.to_user(u64::from(s.group_id)),
        "ref_count": s.ref_count,
        "packet_count": s.packet_count,
        "byte_count": s.byte_count,
        "duration_sec": s.duration_sec,
        "duration_nsec": s.duration_nsec,
        "bucket_stats": s.bucket_stats.iter().map(|b| json!({"packet_count": b.packet_count, "byte_count": b.byte_count})).collect::<Vec<_>>(),
    })
}

pub fn group_desc_to_json(d: &GroupDesc) -> Value {
    json!({
        "type": group_type_name(d.group_type),
        "group_id": Reserved::Group.to_user(u64::from(d.group_id)),
        "buckets": d.buckets.iter().map(|b| json!({
            "weight": b.weight,
            "watch_port": Reserved::Port.to_user(u64::from(b.watch_port.0)),
            "watch_group": Reserved::Group.to_user(u64::from(b.watch_group)),
            "actions": b.actions.iter().map(action_to_str).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

pub fn group_features_to_json(f: &GroupFeatures) -> Value {
    let types: Vec<&str> =
        GROUP_TYPES.iter().filter(|(_, t)| f.types & (1 << u8::from(*t)) != 0).map(|(n, _)| *n).collect();
    let caps = [(1u32, "SELECT_WEIGHT"), (2, "SELECT_LIVENESS"), (4, "CHAINING"), (8, "CHAINING_CHECKS")];
    let capabilities: Vec<&str> =
        caps.iter().filter(|(bit, _)| f.capabilities & bit != 0).map(|(_, n)| *n).collect();
    let max_groups: Vec<Value> =
        GROUP_TYPES.iter().enumerate().map(|(i, (n, _))| json!({ *n: f.max_groups[i] })).collect();
    let actions: Vec<Value> = GROUP_TYPES
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            let acts: Vec<&str> = ACTION_NAMES
                .iter()
                .filter(|(bit, _)| f.actions[i] & (1 << bit) != 0)
                .map(|(_, a)| *a)
                .collect();
            json!({ *n: acts })
        })
        .collect();
    json!({"types": types, "capabilities": capabilities, "max_groups": max_groups, "actions": actions})
}

/// Ryu's `mod_meter_entry`: `{"dpid", "flags": "KBPS" | [...], "meter_id", "bands": [{"type": "DROP" |
/// "DSCP_REMARK" | "EXPERIMENTER", "rate", "burst_size", "prec_level", "experimenter"}]}`.
pub fn meter_mod_from_json(obj: Obj<'_>, command: MeterModCommand) -> Result<MeterMod, BodyError> {
    let mut flags = 0u16;
    let flag_values: Vec<&Value> = match obj.get("flags") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    for v in flag_values {
        let name = v.as_str().unwrap_or_default();
        let bit = METER_FLAGS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).ok_or_else(|| {
            BodyError::new(obj.field("flags"), format!("expected KBPS, PKTPS, BURST or STATS, got {v}"))
        })?;
        flags |= bit;
    }
    let meter_id = obj.reserved("meter_id", 0, Reserved::Meter)? as u32;
    let mut bands = Vec::new();
    let bands_path = obj.field("bands");
    for (i, item) in obj.list("bands")?.iter().enumerate() {
        let path = format!("{bands_path}[{i}]");
        let b = Obj::from_value(&path, item)?;
        let rate = b.uint("rate", 0, U32)? as u32;
        let burst_size = b.uint("burst_size", 0, U32)? as u32;
        bands.push(match b.str("type")? {
            Some("DROP") => MeterBand::Drop { rate, burst_size },
            Some("DSCP_REMARK") => {
                MeterBand::DscpRemark { rate, burst_size, prec_level: b.uint("prec_level", 0, U8)? as u8 }
            }
            Some("EXPERIMENTER") => MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter: b.uint("experimenter", 0, U32)? as u32,
                data: Bytes::new(),
            },
            other => {
                return Err(BodyError::new(
                    b.field("type"),
                    format!(
                        "expected DROP, DSCP_REMARK or EXPERIMENTER, got {}",
                        other.map_or("nothing".into(), |o| format!("{o:?}"))
                    ),
                ));
            }
        });
    }
    Ok(MeterMod { command, flags, meter_id, bands })
}

pub fn meter_stats_to_json(s: &MeterStats) -> Value {
    json!({
        "meter_id": Reserved::Meter.to_user(u64::from(s.meter_id)),
        "len": MeterStats::FIXED_SIZE + 16 * s.band_stats.len(),
        "flow_count": s.flow_count,
        "packet_in_count": s.packet_in_count,
        "byte_in_count": s.byte_in_count,
        "duration_sec": s.duration_sec,
        "duration_nsec": s.duration_nsec,
        "band_stats": s.band_stats.iter().map(|b| json!({"packet_band_count": b.packet_band_count, "byte_band_count": b.byte_band_count})).collect::<Vec<_>>(),
    })
}

fn meter_flag_names(flags: u16) -> Vec<&'static str> {
    METER_FLAGS.iter().filter(|(_, bit)| flags & bit != 0).map(|(n, _)| *n).collect()
}

pub fn meter_config_to_json(c: &MeterConfig) -> Value {
    let bands: Vec<Value> = c
        .bands
        .iter()
        .map(|band| match band {
            MeterBand::Drop { rate, burst_size } => json!({"type": "DROP", "rate": rate, "burst_size": burst_size}),
            MeterBand::DscpRemark { rate, burst_size, prec_level } => {
                json!({"type": "DSCP_REMARK", "rate": rate, "burst_size": burst_size, "prec_level": prec_level})
            }
            MeterBand::Experimenter { rate, burst_size, experimenter, .. } => {
                json!({"type": "EXPERIMENTER", "rate": rate, "burst_size": burst_size, "experimenter": experimenter})
            }
            MeterBand::Unknown { rate, burst_size, .. } => json!({"type": "", "rate": rate, "burst_size": burst_size}),
        })
        .collect();
    json!({"flags": meter_flag_names(c.flags), "meter_id": Reserved::Meter.to_user(u64::from(c.meter_id)), "bands": bands})
}

pub fn meter_features_to_json(f: &MeterFeatures) -> Value {
    let band_types: Vec<&str> = [(1u32, "DROP"), (2, "DSCP_REMARK")]
        .iter()
        .filter(|(t, _)| f.band_types & (1 << t) != 0)
        .map(|(_, n)| *n)
        .collect();
    let capabilities: Vec<&str> = METER_FLAGS
        .iter()
        .filter(|(_, bit)| f.capabilities & u32::from(*bit) != 0)
        .map(|(n, _)| *n)
        .collect();
    json!({
        "max_meter": f.max_meter,
        "band_types": band_types,
        "capabilities": capabilities,
        "max_bands": f.max_bands,
        "max_color": f.max_color,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::action::Action;

    #[test]
    fn ryu_documented_group_entry() {
        // "Add a group entry" from Ryu's ofctl_rest documentation.
        let body = json!({
            "dpid": 1, "type": "ALL", "group_id": 1,
            "buckets": [{"actions": [{"type": "OUTPUT", "port": 1}]}]
        });
        let gm = group_mod_from_json(Obj::from_value("", &body).unwrap(), GroupModCommand::Add).unwrap();
        let expected = GroupMod::add(
            GroupType::All,
            1,
            vec![Bucket::new(0, vec![Action::Output { port: PortNo(1), max_len: 0xffe5 }])],
        );
        assert_eq!(gm, expected);
        let desc =
            GroupDesc { group_type: gm.group_type, group_id: gm.group_id, buckets: gm.buckets.clone() };
        assert_eq!(
            group_desc_to_json(&desc),
            json!({"type": "ALL", "group_id": 1, "buckets": [{"weight": 0, "watch_port": "ANY", "watch_group": "ANY", "actions": ["OUTPUT:1"]}]})
        );
        let bad = json!({"type": "FAST", "group_id": 1});
        assert_eq!(
            group_mod_from_json(Obj::from_value("", &bad).unwrap(), GroupModCommand::Add).unwrap_err().path,
            "type"
        );
        let bad = json!({"buckets": [{"actions": [{"type": "OUTPUT", "port": "x"}]}]});
        assert_eq!(
            group_mod_from_json(Obj::from_value("", &bad).unwrap(), GroupModCommand::Add).unwrap_err().path,
            "buckets[0].actions[0].port"
        );
    }

    #[test]
    fn ryu_documented_meter_entry() {
        // "Add a meter entry" from Ryu's ofctl_rest documentation.
        let body =
            json!({"dpid": 1, "flags": "KBPS", "meter_id": 1, "bands": [{"type": "DROP", "rate": 1000}]});
        let mm = meter_mod_from_json(Obj::from_value("", &body).unwrap(), MeterModCommand::Add).unwrap();
        assert_eq!(
            mm,
            MeterMod::add(1, meter_flags::KBPS, vec![MeterBand::Drop { rate: 1000, burst_size: 0 }])
        );
        let config =
            MeterConfig { flags: mm.flags | meter_flags::STATS, meter_id: 1, bands: mm.bands.clone() };
        assert_eq!(
            meter_config_to_json(&config),
            json!({"flags": ["KBPS", "STATS"], "meter_id": 1, "bands": [{"type": "DROP", "rate": 1000, "burst_size": 0}]})
        );
        let bad = json!({"flags": ["KBPS", "FAST"]});
        assert_eq!(
            meter_mod_from_json(Obj::from_value("", &bad).unwrap(), MeterModCommand::Add).unwrap_err().path,
            "flags"
        );
        let bad = json!({"bands": [{"rate": 1}]});
        assert_eq!(
            meter_mod_from_json(Obj::from_value("", &bad).unwrap(), MeterModCommand::Add).unwrap_err().path,
            "bands[0].type"
        );
    }

    #[test]
    fn features_name_the_bits() {
        let f = GroupFeatures {
            types: 0b1111,
            capabilities: 0b0011,
            max_groups: [4, 3, 2, 1],
            actions: [1, 0, 0, 1 << 25],
        };
        let v = group_features_to_json(&f);
        assert_eq!(v["types"], json!(["ALL", "SELECT", "INDIRECT", "FF"]));
        assert_eq!(v["capabilities"], json!(["SELECT_WEIGHT", "SELECT_LIVENESS"]));
        assert_eq!(v["max_groups"], json!([{"ALL": 4}, {"SELECT": 3}, {"INDIRECT": 2}, {"FF": 1}]));
        assert_eq!(
            v["actions"],
            json!([{"ALL": ["OUTPUT"]}, {"SELECT": []}, {"INDIRECT": []}, {"FF": ["SET_FIELD"]}])
        );
        let m = MeterFeatures {
            max_meter: 8,
            band_types: 0b10,
            capabilities: 0b1001,
            max_bands: 1,
            max_color: 0,
        };
        let v = meter_features_to_json(&m);
        assert_eq!(v["band_types"], json!(["DROP"]));
        assert_eq!(v["capabilities"], json!(["KBPS", "STATS"]));
    }
}
