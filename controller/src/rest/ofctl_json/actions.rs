//! Actions and instructions ↔ Ryu's ofctl JSON (`to_actions` / `actions_to_str`).
//!
//! Input is Ryu's flat list of dicts: plain actions (`{"type": "OUTPUT", "port": 2}`) are collected, in
//! order, into one APPLY_ACTIONS instruction; `WRITE_ACTIONS`, `CLEAR_ACTIONS`, `GOTO_TABLE`,
//! `WRITE_METADATA` and `METER` entries become their own instructions (OF1.3.5 §7.2.4). Output is
//! Ryu's list of strings (`"OUTPUT:2"`, `"SET_FIELD: {ipv4_dst:10.0.0.2}"`, `"GOTO_TABLE:1"`,
//! `{"WRITE_ACTIONS": [...]}`), byte for byte as `action_to_str` prints them.

use bytes::Bytes;
use ofproto::PortNo;
use ofproto::action::Action;
use ofproto::instruction::Instruction;
use serde_json::Value;

use super::matching::{oxm_from_json, set_field_str};
use super::{BodyError, Obj, Reserved, base64_encode, experimenter_data};

const U8: u64 = u8::MAX as u64;
const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

/// One plain action (`to_action`), or `None` if `type` names an instruction instead.
pub fn action_from_json(obj: Obj<'_>) -> Result<Option<Action>, BodyError> {
    let action_type = obj.str("type")?.ok_or_else(|| BodyError::new(obj.field("type"), "missing"))?;
    let ethertype = || obj.required_uint("ethertype", U16).map(|e| e as u16);
    let action = match action_type {
        "OUTPUT" => {
            let port = obj.reserved("port", u64::from(PortNo::ANY.0), Reserved::Port)? as u32;
            // Ryu's default max_len is OFPCML_MAX (0xffe5).
            let max_len = obj.reserved("max_len", 0xffe5, Reserved::MaxLen)? as u16;
            Action::Output { port: PortNo(port), max_len }
        }
        "COPY_TTL_OUT" => Action::CopyTtlOut,
        "COPY_TTL_IN" => Action::CopyTtlIn,
        "SET_MPLS_TTL" => Action::SetMplsTtl(obj.required_uint("mpls_ttl", U8)? as u8),
        "DEC_MPLS_TTL" => Action::DecMplsTtl,
        "PUSH_VLAN" => Action::PushVlan(ethertype()?),
        "POP_VLAN" => Action::PopVlan,
        "PUSH_MPLS" => Action::PushMpls(ethertype()?),
        "POP_MPLS" => Action::PopMpls(ethertype()?),
        "SET_QUEUE" => Action::SetQueue(required_reserved(obj, "queue_id", Reserved::Queue)? as u32),
        "GROUP" => Action::Group(required_reserved(obj, "group_id", Reserved::Group)? as u32),
        "SET_NW_TTL" => Action::SetNwTtl(obj.required_uint("nw_ttl", U8)? as u8),
        "DEC_NW_TTL" => Action::DecNwTtl,
        "SET_FIELD" => {
            let field = obj.str("field")?.ok_or_else(|| BodyError::new(obj.field("field"), "missing"))?;
            let value = obj.get("value").ok_or_else(|| BodyError::new(obj.field("value"), "missing"))?;
            Action::SetField(oxm_from_json(field, value, (&obj.field("field"), &obj.field("value")), true)?)
        }
        "PUSH_PBB" => Action::PushPbb(ethertype()?),
        "POP_PBB" => Action::PopPbb,
        "EXPERIMENTER" => {
            let experimenter = obj.required_uint("experimenter", U32)? as u32;
            Action::Experimenter { experimenter, data: Bytes::from(experimenter_data(obj)?) }
        }
        "WRITE_ACTIONS" | "CLEAR_ACTIONS" | "GOTO_TABLE" | "WRITE_METADATA" | "METER" => return Ok(None),
        other => return Err(BodyError::new(obj.field("type"), format!("unknown action type {other:?}"))),
    };
    Ok(Some(action))
}

fn required_reserved(obj: Obj<'_>, key: &str, reserved: Reserved) -> Result<u64, BodyError> {
    let v = obj.get(key).ok_or_else(|| BodyError::new(obj.field(key), "missing"))?;
    reserved.from_user(v).map_err(|m| BodyError::new(obj.field(key), m))
}

/// A list of plain actions (group buckets, WRITE_ACTIONS); instruction types are an error here.
pub fn action_list_from_json(items: &[Value], path: &str) -> Result<Vec<Action>, BodyError> {
    let mut actions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let obj = Obj::from_value(&p, item)?;
        match action_from_json(obj)? {
            Some(a) => actions.push(a),
            None => {
                return Err(BodyError::new(
                    obj.field("type"),
                    "an instruction is not allowed in an action list",
                ));
            }
        }
    }
    Ok(actions)
}

/// Ryu's `to_actions`: the flow's `actions` list to instructions.
pub fn instructions_from_json(items: &[Value], path: &str) -> Result<Vec<Instruction>, BodyError> {
    let mut instructions = Vec::new();
    let mut apply = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let obj = Obj::from_value(&p, item)?;
        if let Some(action) = action_from_json(obj)? {
            apply.push(action);
            continue;
        }
        let instruction = match obj.str("type")?.unwrap_or_default() {
            "WRITE_ACTIONS" => {
                let list = obj.list("actions")?;
                let actions = action_list_from_json(list, &obj.field("actions"))?;
                if actions.is_empty() {
                    // Ryu leaves out an empty WRITE_ACTIONS.
                    continue;
                }
                Instruction::WriteActions(actions)
            }
            "CLEAR_ACTIONS" => Instruction::ClearActions,
            "GOTO_TABLE" => {
                Instruction::GotoTable(required_reserved(obj, "table_id", Reserved::Table)? as u8)
            }
            "WRITE_METADATA" => {
                let metadata = obj.required_uint("metadata", u64::MAX)?;
                let mask = obj.uint("metadata_mask", u64::MAX, u64::MAX)?;
                Instruction::WriteMetadata { metadata, mask }
            }
            "METER" => Instruction::Meter(required_reserved(obj, "meter_id", Reserved::Meter)? as u32),
            // action_from_json returned None only for the five types above.
            other => return Err(BodyError::new(obj.field("type"), format!("unknown action type {other:?}"))),
        };
        instructions.push(instruction);
    }
    if !apply.is_empty() {
        instructions.push(Instruction::ApplyActions(apply));
    }
    Ok(instructions)
}

/// Ryu's `action_to_str`.
pub fn action_to_str(action: &Action) -> String {
    match action {
        Action::Output { port, .. } => format!("OUTPUT:{}", Reserved::Port.to_user_str(u64::from(port.0))),
        Action::CopyTtlOut => "COPY_TTL_OUT".into(),
        Action::CopyTtlIn => "COPY_TTL_IN".into(),
        Action::SetMplsTtl(ttl) => format!("SET_MPLS_TTL:{ttl}"),
        Action::DecMplsTtl => "DEC_MPLS_TTL".into(),
        Action::PushVlan(e) => format!("PUSH_VLAN:{e}"),
        Action::PopVlan => "POP_VLAN".into(),
        Action::PushMpls(e) => format!("PUSH_MPLS:{e}"),
        Action::PopMpls(e) => format!("POP_MPLS:{e}"),
        Action::SetQueue(q) => format!("SET_QUEUE:{}", Reserved::Queue.to_user_str(u64::from(*q))),
        Action::Group(g) => format!("GROUP:{}", Reserved::Group.to_user_str(u64::from(*g))),
        Action::SetNwTtl(ttl) => format!("SET_NW_TTL:{ttl}"),
        Action::DecNwTtl => "DEC_NW_TTL".into(),
        Action::SetField(oxm) => set_field_str(oxm),
        Action::PushPbb(e) => format!("PUSH_PBB:{e}"),
        Action::PopPbb => "POP_PBB".into(),
        Action::Experimenter { experimenter, data } => {
            format!("EXPERIMENTER: {{experimenter:{experimenter}, data:{}}}", base64_encode(data))
        }
        Action::Unknown { .. } => "UNKNOWN".into(),
    }
}

/// Ryu's `actions_to_str`: a flow's instructions as the `actions` list of a flow-stats entry.
pub fn instructions_to_json(instructions: &[Instruction]) -> Vec<Value> {
    let mut out = Vec::new();
    for instruction in instructions {
        match instruction {
            Instruction::ApplyActions(actions) => {
                out.extend(actions.iter().map(|a| Value::from(action_to_str(a))))
            }
            Instruction::WriteActions(actions) if !actions.is_empty() => {
                let list: Vec<Value> = actions.iter().map(|a| Value::from(action_to_str(a))).collect();
                out.push(serde_json::json!({ "WRITE_ACTIONS": list }));
            }
            Instruction::WriteActions(_) => {}
            Instruction::ClearActions => out.push(Value::from("CLEAR_ACTIONS")),
            Instruction::GotoTable(t) => {
                out.push(Value::from(format!("GOTO_TABLE:{}", Reserved::Table.to_user_str(u64::from(*t)))))
            }
            Instruction::WriteMetadata { metadata, mask } if *mask != 0 => {
                out.push(Value::from(format!("WRITE_METADATA:{metadata:#x}/{mask:#x}")))
            }
            Instruction::WriteMetadata { metadata, .. } => {
                out.push(Value::from(format!("WRITE_METADATA:{metadata:#x}")))
            }
            Instruction::Meter(m) => {
                out.push(Value::from(format!("METER:{}", Reserved::Meter.to_user_str(u64::from(*m)))))
            }
            // Ryu skips instructions it has no text for.
            Instruction::Experimenter { .. } | Instruction::Unknown { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::oxm::Oxm;
    use serde_json::json;
    use std::net::Ipv4Addr;

    fn parse(v: Value) -> Result<Vec<Instruction>, BodyError> {
        instructions_from_json(v.as_array().unwrap(), "actions")
    }

    #[test]
    fn ryu_documented_actions_become_instructions() {
        let inst = parse(json!([
            {"type": "SET_FIELD", "field": "ipv4_dst", "value": "10.0.0.2"},
            {"type": "GOTO_TABLE", "table_id": 1},
            {"type": "OUTPUT", "port": 2},
            {"type": "WRITE_METADATA", "metadata": 1, "metadata_mask": 1},
            {"type": "METER", "meter_id": 3},
            {"type": "CLEAR_ACTIONS"},
            {"type": "WRITE_ACTIONS", "actions": [{"type": "GROUP", "group_id": 7}]},
        ]))
        .unwrap();
        assert_eq!(
            inst,
            vec![
                Instruction::GotoTable(1),
                Instruction::WriteMetadata { metadata: 1, mask: 1 },
                Instruction::Meter(3),
                Instruction::ClearActions,
                Instruction::WriteActions(vec![Action::Group(7)]),
                Instruction::ApplyActions(vec![
                    Action::SetField(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)),
                    Action::Output { port: PortNo(2), max_len: 0xffe5 },
                ]),
            ]
        );
        let text = instructions_to_json(&inst);
        assert_eq!(
            Value::from(text),
            json!([
                "GOTO_TABLE:1", "WRITE_METADATA:0x1/0x1", "METER:3", "CLEAR_ACTIONS",
                {"WRITE_ACTIONS": ["GROUP:7"]},
                "SET_FIELD: {ipv4_dst:10.0.0.2}", "OUTPUT:2"
            ])
        );
    }

    #[test]
    fn every_plain_action_prints_like_ryu() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"type": "OUTPUT", "port": "CONTROLLER", "max_len": 65535}), "OUTPUT:CONTROLLER"),
            (json!({"type": "COPY_TTL_OUT"}), "COPY_TTL_OUT"),
            (json!({"type": "COPY_TTL_IN"}), "COPY_TTL_IN"),
            (json!({"type": "SET_MPLS_TTL", "mpls_ttl": 64}), "SET_MPLS_TTL:64"),
            (json!({"type": "DEC_MPLS_TTL"}), "DEC_MPLS_TTL"),
            (json!({"type": "PUSH_VLAN", "ethertype": 33024}), "PUSH_VLAN:33024"),
            (json!({"type": "POP_VLAN"}), "POP_VLAN"),
            (json!({"type": "PUSH_MPLS", "ethertype": 34887}), "PUSH_MPLS:34887"),
            (json!({"type": "POP_MPLS", "ethertype": 2054}), "POP_MPLS:2054"),
            (json!({"type": "SET_QUEUE", "queue_id": 7}), "SET_QUEUE:7"),
            (json!({"type": "GROUP", "group_id": "ALL"}), "GROUP:ALL"),
            (json!({"type": "SET_NW_TTL", "nw_ttl": 64}), "SET_NW_TTL:64"),
            (json!({"type": "DEC_NW_TTL"}), "DEC_NW_TTL"),
            (json!({"type": "SET_FIELD", "field": "vlan_vid", "value": 5}), "SET_FIELD: {vlan_vid:4101}"),
            (json!({"type": "PUSH_PBB", "ethertype": 35047}), "PUSH_PBB:35047"),
            (json!({"type": "POP_PBB"}), "POP_PBB"),
            (
                json!({"type": "EXPERIMENTER", "experimenter": 101, "data": "AAECAwQFBgc=", "data_type": "base64"}),
                "EXPERIMENTER: {experimenter:101, data:AAECAwQFBgc=}",
            ),
        ];
        for (input, text) in cases {
            let action = action_from_json(Obj::from_value("a", &input).unwrap()).unwrap().unwrap();
            assert_eq!(action_to_str(&action), text, "{input}");
        }
    }

    #[test]
    fn bad_actions_name_the_field() {
        assert_eq!(
            parse(json!([{"type": "OUTPUT", "port": "nowhere"}])).unwrap_err().path,
            "actions[0].port"
        );
        assert_eq!(parse(json!([{"type": "OUTPT"}])).unwrap_err().path, "actions[0].type");
        assert_eq!(parse(json!([{"port": 1}])).unwrap_err().to_string(), "actions[0].type: missing");
        assert_eq!(
            parse(json!([{"type": "SET_FIELD", "field": "ipv4_dst", "value": "10.0.0.x"}]))
                .unwrap_err()
                .to_string(),
            "actions[0].value: invalid IPv4 address \"10.0.0.x\""
        );
        assert_eq!(parse(json!([{"type": "GOTO_TABLE"}])).unwrap_err().path, "actions[0].table_id");
        assert_eq!(parse(json!([1])).unwrap_err().path, "actions[0]");
        assert!(
            action_list_from_json(
                json!([{"type": "METER", "meter_id": 1}]).as_array().unwrap(),
                "buckets[0].actions"
            )
            .is_err()
        );
    }

    #[test]
    fn write_metadata_without_mask_prints_plain() {
        assert_eq!(
            instructions_to_json(&[Instruction::WriteMetadata { metadata: 0x10, mask: 0 }]),
            vec![json!("WRITE_METADATA:0x10")]
        );
        assert_eq!(
            parse(json!([{"type": "WRITE_METADATA", "metadata": "0x10"}])).unwrap(),
            vec![Instruction::WriteMetadata { metadata: 0x10, mask: u64::MAX }]
        );
    }
}
