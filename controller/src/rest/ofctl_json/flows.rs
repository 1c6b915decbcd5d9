//! Flow entries and switch/flow/table/port/queue statistics ↔ Ryu's ofctl JSON (`mod_flow_entry`,
//! `get_flow_stats`, `get_aggregate_flow_stats`, `get_table_stats`, `get_table_features`,
//! `get_port_stats`, `get_port_desc`, `get_queue_stats`, `get_desc_stats`, `mod_port_behavior`).
//! Field names and defaults are Ryu's; counts are plain JSON numbers.

use ofproto::flow::{FlowMod, FlowModCommand};
use ofproto::multipart::{
    AggregateStats, Desc, FlowStats, FlowStatsRequest, PortStats, QueueStats, TableFeatureProp,
    TableFeatures, TableStats,
};
use ofproto::oxm::OxmField;
use ofproto::port::{Port, PortMod};
use ofproto::types::{NO_BUFFER, TABLE_ALL, group_id};
use ofproto::{MacAddr, PortNo};
use serde_json::{Map, Value, json};

use super::actions::instructions_to_json;
use super::matching::{match_from_json, match_to_json};
use super::{BodyError, Obj, Reserved, empty_map, kind};

const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

fn match_obj<'a>(obj: Obj<'a>, path: &'a str) -> Result<Obj<'a>, BodyError> {
    match obj.get("match") {
        None => Ok(Obj { path, map: empty_map() }),
        Some(v) => Obj::from_value(path, v),
    }
}

/// Ryu's `mod_flow_entry`: a flow-entry body (`/stats/flowentry/<cmd>`) to a FLOW_MOD.
/// Defaults are Ryu's: table 0, priority 0, no timeouts, `NO_BUFFER`, out_port/out_group ANY.
pub fn flow_mod_from_json(obj: Obj<'_>, command: FlowModCommand) -> Result<FlowMod, BodyError> {
    let match_path = obj.field("match");
    let r#match = match_from_json(match_obj(obj, &match_path)?)?;
    let actions_path = obj.field("actions");
    let instructions = super::actions::instructions_from_json(obj.list("actions")?, &actions_path)?;
    Ok(FlowMod {
        cookie: obj.uint("cookie", 0, u64::MAX)?,
        cookie_mask: obj.uint("cookie_mask", 0, u64::MAX)?,
        table_id: obj.reserved("table_id", 0, Reserved::Table)? as u8,
        command,
        idle_timeout: obj.uint("idle_timeout", 0, U16)? as u16,
        hard_timeout: obj.uint("hard_timeout", 0, U16)? as u16,
        priority: obj.uint("priority", 0, U16)? as u16,
        buffer_id: obj.reserved("buffer_id", u64::from(NO_BUFFER), Reserved::Buffer)? as u32,
        out_port: PortNo(obj.reserved("out_port", u64::from(PortNo::ANY.0), Reserved::Port)? as u32),
        out_group: obj.reserved("out_group", u64::from(group_id::ANY), Reserved::Group)? as u32,
        flags: obj.uint("flags", 0, U16)? as u16,
        r#match,
        instructions,
    })
}

/// The filter of `POST /stats/flow/<dpid>` and `/stats/aggregateflow/<dpid>` (`get_flow_stats`):
/// table ALL, out_port/out_group ANY and any cookie unless given.
pub fn flow_stats_request_from_json(obj: Obj<'_>) -> Result<FlowStatsRequest, BodyError> {
    let match_path = obj.field("match");
    // `flags` is accepted as Ryu does, but only REQ_MORE is defined and it means nothing here.
    obj.uint("flags", 0, U16)?;
    Ok(FlowStatsRequest {
        table_id: obj.reserved("table_id", u64::from(TABLE_ALL), Reserved::Table)? as u8,
        out_port: PortNo(obj.reserved("out_port", u64::from(PortNo::ANY.0), Reserved::Port)? as u32),
        out_group: obj.reserved("out_group", u64::from(group_id::ANY), Reserved::Group)? as u32,
        cookie: obj.uint("cookie", 0, u64::MAX)?,
        cookie_mask: obj.uint("cookie_mask", 0, u64::MAX)?,
        r#match: match_from_json(match_obj(obj, &match_path)?)?,
    })
}

/// One flow-stats entry as `get_flow_stats` prints it (`length` is the entry's size on the wire).
pub fn flow_stats_to_json(s: &FlowStats) -> Value {
    let length = FlowStats::FIXED_SIZE
        + s.r#match.encoded_len()
        + s.instructions.iter().map(|i| i.encoded_len()).sum::<usize>();
    json!({
        "priority": s.priority,
        "cookie": s.cookie,
        "idle_timeout": s.idle_timeout,
        "hard_timeout": s.hard_timeout,
        "actions": instructions_to_json(&s.instructions),
        "match": match_to_json(&s.r#match),
        "byte_count": s.byte_count,
        "duration_sec": s.duration_sec,
        "duration_nsec": s.duration_nsec,
        "packet_count": s.packet_count,
        "table_id": Reserved::Table.to_user(u64::from(s.table_id)),
        "length": length,
        "flags": s.flags,
    })
}

pub fn aggregate_to_json(s: &AggregateStats) -> Value {
    json!({"packet_count": s.packet_count, "byte_count": s.byte_count, "flow_count": s.flow_count})
}

pub fn desc_to_json(d: &Desc) -> Value {
    json!({
        "mfr_desc": d.mfr_desc.as_str(),
        "hw_desc": d.hw_desc.as_str(),
        "sw_desc": d.sw_desc.as_str(),
        "serial_num": d.serial_num.as_str(),
        "dp_desc": d.dp_desc.as_str(),
    })
}

pub fn table_stats_to_json(s: &TableStats) -> Value {
    json!({
        "table_id": Reserved::Table.to_user(u64::from(s.table_id)),
        "active_count": s.active_count,
        "lookup_count": s.lookup_count,
        "matched_count": s.matched_count,
    })
}

fn prop_to_json(prop: &TableFeatureProp) -> Value {
    use TableFeatureProp as P;
    let type_name = |hit: &str, miss: bool| if miss { format!("{hit}_MISS") } else { hit.to_string() };
    let oxm_ids = |ids: &[ofproto::multipart::OxmId]| -> Vec<Value> {
        ids.iter()
            .map(|id| {
                let name = if id.class == ofproto::multipart::OxmId::CLASS_BASIC {
                    OxmField::from(id.field).name().to_string()
                } else {
                    format!("{:#06x}:{}", id.class, id.field)
                };
                json!({"hasmask": id.has_mask, "length": id.length, "type": name})
            })
            .collect()
    };
    match prop {
        P::Instructions { miss, ids } => json!({
            "type": type_name("INSTRUCTIONS", *miss),
            "instruction_ids": ids.iter().map(|i| json!({"len": 4 + i.exp_data.len(), "type": u16::from(i.instruction_type)})).collect::<Vec<_>>(),
        }),
        P::NextTables { miss, table_ids } => {
            json!({"type": type_name("NEXT_TABLES", *miss), "table_ids": table_ids})
        }
        P::WriteActions { miss, ids } | P::ApplyActions { miss, ids } => {
            let hit = if matches!(prop, P::WriteActions { .. }) { "WRITE_ACTIONS" } else { "APPLY_ACTIONS" };
            json!({
                "type": type_name(hit, *miss),
                "action_ids": ids.iter().map(|a| json!({"len": 4 + a.exp_data.len(), "type": u16::from(a.action_type)})).collect::<Vec<_>>(),
            })
        }
        P::Match(ids) => json!({"type": "MATCH", "oxm_ids": oxm_ids(ids)}),
        P::Wildcards(ids) => json!({"type": "WILDCARDS", "oxm_ids": oxm_ids(ids)}),
        P::WriteSetfield { miss, ids } => {
            json!({"type": type_name("WRITE_SETFIELD", *miss), "oxm_ids": oxm_ids(ids)})
        }
        P::ApplySetfield { miss, ids } => {
            json!({"type": type_name("APPLY_SETFIELD", *miss), "oxm_ids": oxm_ids(ids)})
        }
        P::Experimenter { miss, .. } => json!({"type": type_name("EXPERIMENTER", *miss)}),
        P::Unknown { .. } => json!({"type": "UNKNOWN"}),
    }
}

pub fn table_features_to_json(t: &TableFeatures) -> Value {
    json!({
        "table_id": Reserved::Table.to_user(u64::from(t.table_id)),
        "name": t.name.as_str(),
        "metadata_match": t.metadata_match,
        "metadata_write": t.metadata_write,
        "config": t.config,
        "max_entries": t.max_entries,
        "properties": t.properties.iter().map(prop_to_json).collect::<Vec<_>>(),
    })
}

pub fn port_stats_to_json(s: &PortStats) -> Value {
    json!({
        "port_no": Reserved::Port.to_user(u64::from(s.port_no.0)),
        "rx_packets": s.rx_packets,
        "tx_packets": s.tx_packets,
        "rx_bytes": s.rx_bytes,
        "tx_bytes": s.tx_bytes,
        "rx_dropped": s.rx_dropped,
        "tx_dropped": s.tx_dropped,
        "rx_errors": s.rx_errors,
        "tx_errors": s.tx_errors,
        "rx_frame_err": s.rx_frame_err,
        "rx_over_err": s.rx_over_err,
        "rx_crc_err": s.rx_crc_err,
        "collisions": s.collisions,
        "duration_sec": s.duration_sec,
        "duration_nsec": s.duration_nsec,
    })
}

pub fn port_desc_to_json(p: &Port) -> Value {
    json!({
        "port_no": Reserved::Port.to_user(u64::from(p.port_no.0)),
        "hw_addr": p.hw_addr.to_string(),
        "name": p.name.as_str(),
        "config": p.config,
        "state": p.state,
        "curr": p.curr,
        "advertised": p.advertised,
        "supported": p.supported,
        "peer": p.peer,
        "curr_speed": p.curr_speed,
        "max_speed": p.max_speed,
    })
}

pub fn queue_stats_to_json(s: &QueueStats) -> Value {
    json!({
        "port_no": Reserved::Port.to_user(u64::from(s.port_no.0)),
        "queue_id": Reserved::Queue.to_user(u64::from(s.queue_id)),
        "tx_bytes": s.tx_bytes,
        "tx_packets": s.tx_packets,
        "tx_errors": s.tx_errors,
        "duration_sec": s.duration_sec,
        "duration_nsec": s.duration_nsec,
    })
}

/// The port number of a `/stats/portdesc/modify` body (Ryu looks the port up before building the
/// PORT_MOD, answering 404 for a port the switch does not have).
pub fn port_mod_port_no(obj: Obj<'_>) -> Result<PortNo, BodyError> {
    let v = obj.get("port_no").ok_or_else(|| BodyError::new(obj.field("port_no"), "missing"))?;
    Reserved::Port.from_user(v).map(|n| PortNo(n as u32)).map_err(|m| BodyError::new(obj.field("port_no"), m))
}

/// Ryu's `mod_port_behavior`: `hw_addr` and `advertise` default to the port's current ones.
pub fn port_mod_from_json(obj: Obj<'_>, port: &Port) -> Result<PortMod, BodyError> {
    let hw_addr = match obj.get("hw_addr") {
        None => port.hw_addr,
        Some(Value::String(s)) => s
            .parse::<MacAddr>()
            .map_err(|_| BodyError::new(obj.field("hw_addr"), format!("invalid MAC address {s:?}")))?,
        Some(other) => {
            return Err(BodyError::new(
                obj.field("hw_addr"),
                format!("expected a string, got {}", kind(other)),
            ));
        }
    };
    Ok(PortMod {
        port_no: port_mod_port_no(obj)?,
        hw_addr,
        config: obj.uint("config", 0, U32)? as u32,
        mask: obj.uint("mask", 0, U32)? as u32,
        advertise: obj.uint("advertise", u64::from(port.advertised), U32)? as u32,
    })
}

/// `{"<dpid>": value}`, the envelope of every Ryu stats reply.
pub fn keyed(dpid: u64, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(dpid.to_string(), value);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::action::Action;
    use ofproto::instruction::Instruction;
    use ofproto::oxm::Match;
    use std::net::Ipv4Addr;

    #[test]
    fn ryu_documented_flow_entry_add() {
        // The "Add a flow entry" example of Ryu's ofctl_rest documentation.
        let body = json!({
            "dpid": 1, "cookie": 1, "cookie_mask": 1, "table_id": 0, "idle_timeout": 30,
            "hard_timeout": 30, "priority": 11111, "flags": 1,
            "match": {"in_port": 1},
            "actions": [{"type": "OUTPUT", "port": 2}]
        });
        let fm = flow_mod_from_json(Obj::from_value("", &body).unwrap(), FlowModCommand::Add).unwrap();
        let expected = FlowMod::add(Match::default().in_port(PortNo(1)))
            .cookie(1)
            .cookie_mask(1)
            .idle_timeout(30)
            .hard_timeout(30)
            .priority(11111)
            .flags(1)
            .apply_actions(vec![Action::Output { port: PortNo(2), max_len: 0xffe5 }]);
        assert_eq!(fm, expected);
    }

    #[test]
    fn flow_mod_defaults_are_ryus() {
        let body = json!({"dpid": 1});
        let fm = flow_mod_from_json(Obj::from_value("", &body).unwrap(), FlowModCommand::Delete).unwrap();
        assert_eq!((fm.table_id, fm.priority, fm.buffer_id), (0, 0, NO_BUFFER));
        assert_eq!((fm.out_port, fm.out_group), (PortNo::ANY, group_id::ANY));
        assert!(fm.r#match.is_empty() && fm.instructions.is_empty());
        let bad = json!({"match": {"ipv4_dst": "10.0.0.x"}});
        let err = flow_mod_from_json(Obj::from_value("", &bad).unwrap(), FlowModCommand::Add).unwrap_err();
        assert_eq!(err.to_string(), "match.ipv4_dst: invalid IPv4 address \"10.0.0.x\"");
        let bad = json!({"match": [1]});
        assert_eq!(
            flow_mod_from_json(Obj::from_value("", &bad).unwrap(), FlowModCommand::Add).unwrap_err().path,
            "match"
        );
    }

    #[test]
    fn flow_stats_print_like_ryu() {
        let stats = FlowStats {
            table_id: 0,
            duration_sec: 3,
            duration_nsec: 9,
            priority: 100,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: 7,
            packet_count: 1,
            byte_count: 60,
            r#match: Match::default()
                .in_port(PortNo(1))
                .eth_type(0x0800)
                .ipv4_dst(Ipv4Addr::new(10, 0, 0, 1)),
            instructions: vec![Instruction::ApplyActions(vec![Action::output(PortNo(2))])],
        };
        let v = flow_stats_to_json(&stats);
        assert_eq!(v["match"], json!({"in_port": 1, "eth_type": 2048, "ipv4_dst": "10.0.0.1"}));
        assert_eq!(v["actions"], json!(["OUTPUT:2"]));
        assert_eq!(v["priority"], json!(100));
        assert_eq!(v["cookie"], json!(7));
        // 48 fixed + match (4 + 8 + 6 + 8 = 26, padded to 32) + apply-actions (8 + 16).
        assert_eq!(v["length"], json!(48 + 32 + 24));
    }

    #[test]
    fn stats_filter_defaults_to_everything() {
        let req = flow_stats_request_from_json(Obj::from_value("", &json!({})).unwrap()).unwrap();
        assert_eq!(req, FlowStatsRequest::all());
        let req = flow_stats_request_from_json(
            Obj::from_value("", &json!({"table_id": 0, "out_port": 2, "match": {"in_port": 1}})).unwrap(),
        )
        .unwrap();
        assert_eq!((req.table_id, req.out_port), (0, PortNo(2)));
        assert_eq!(req.r#match.get_in_port(), Some(PortNo(1)));
    }

    #[test]
    fn port_mod_defaults_to_the_port() {
        let port = Port {
            port_no: PortNo(1),
            hw_addr: "02:00:00:00:00:01".parse().unwrap(),
            name: "p1".into(),
            config: 0,
            state: 0,
            curr: 0,
            advertised: 0x2840,
            supported: 0,
            peer: 0,
            curr_speed: 0,
            max_speed: 0,
        };
        let body = json!({"dpid": 1, "port_no": 1, "config": 1, "mask": 101});
        let pm = port_mod_from_json(Obj::from_value("", &body).unwrap(), &port).unwrap();
        assert_eq!(
            pm,
            PortMod { port_no: PortNo(1), hw_addr: port.hw_addr, config: 1, mask: 101, advertise: 0x2840 }
        );
        assert_eq!(
            port_mod_port_no(Obj::from_value("", &json!({})).unwrap()).unwrap_err().to_string(),
            "port_no: missing"
        );
    }
}
