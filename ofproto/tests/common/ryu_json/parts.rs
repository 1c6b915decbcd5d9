//! Ryu's JSON shape for the structures nested in messages: match and OXM TLVs, actions,
//! instructions, buckets, meter bands, ports, queues.
//!
//! Length fields (`len`, `length`) are not stored in ofproto's values; they are recomputed here by
//! encoding the structure alone with ofproto's own encoder (wrapped in the smallest message that
//! carries it) and reading the length field back from those bytes. So a match between these and
//! Ryu's recorded lengths shows the encoder computes every length itself.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ofproto::Message;
use ofproto::action::Action;
use ofproto::flow::{FlowMod, FlowModCommand};
use ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use ofproto::instruction::Instruction;
use ofproto::meter::{MeterBand, MeterMod, MeterModCommand};
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::PacketOut;
use ofproto::port::Port;
use ofproto::queue::{PacketQueue, QueueGetConfigReply, QueueProp};
use ofproto::types::{MacAddr, PortNo};
use serde_json::{Value, json};

use crate::common::base64;

/// `{"Class": {fields}}`, Ryu's `to_jsondict()` shape.
pub fn class(name: &str, fields: Value) -> Value {
    json!({ name: fields })
}

fn be_u16(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 2) {
        Some(b) => u64::from(u16::from_be_bytes([b[0], b[1]])),
        None => panic!("encoder output too short to hold a length at {at}: {}", crate::common::hex(bytes)),
    }
}

// ---------------------------------------------------------------------------------------------
// Lengths as our encoder computes them.

/// An empty ADD flow-mod, the carrier for a match or instructions.
fn carrier_flow_mod(r#match: Match, instructions: Vec<Instruction>) -> FlowMod {
    FlowMod {
        cookie: 0,
        cookie_mask: 0,
        table_id: 0,
        command: FlowModCommand::Add,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 0,
        buffer_id: 0,
        out_port: PortNo::ANY,
        out_group: 0,
        flags: 0,
        r#match,
        instructions,
    }
}

/// `ofp_flow_mod` puts the match at byte 48 (OF1.3.5 §7.3.4.1).
const FLOW_MOD_MATCH_AT: usize = 48;

/// `ofp_match.length` (excludes padding, OF1.3.5 §7.2.3.1) as our encoder writes it.
pub fn match_length(m: &Match) -> u64 {
    let bytes = Message::FlowMod(carrier_flow_mod(m.clone(), Vec::new())).to_bytes(0);
    be_u16(&bytes, FLOW_MOD_MATCH_AT + 2)
}

/// `len` of one action: its offset in a PACKET_OUT is fixed (byte 24, OF1.3.5 §7.3.7).
pub fn action_len(a: &Action) -> u64 {
    let out = PacketOut { buffer_id: 0, in_port: PortNo::ANY, actions: vec![a.clone()], data: Bytes::new() };
    be_u16(&Message::PacketOut(out).to_bytes(0), 24 + 2)
}

/// `actions_len` of a PACKET_OUT (byte 16).
pub fn packet_out_actions_len(out: &PacketOut) -> u64 {
    be_u16(&Message::PacketOut(out.clone()).to_bytes(0), 16)
}

/// `len` of one instruction: it follows an empty match (8 bytes) in a flow-mod.
pub fn instruction_len(i: &Instruction) -> u64 {
    let bytes = Message::FlowMod(carrier_flow_mod(Match::default(), vec![i.clone()])).to_bytes(0);
    be_u16(&bytes, FLOW_MOD_MATCH_AT + 8 + 2)
}

/// `len` of one bucket: buckets start at byte 16 of a GROUP_MOD (OF1.3.5 §7.3.4.2).
pub fn bucket_len(b: &Bucket) -> u64 {
    let m = GroupMod {
        command: GroupModCommand::Add,
        group_type: GroupType::All,
        group_id: 0,
        buckets: vec![b.clone()],
    };
    be_u16(&Message::GroupMod(m).to_bytes(0), 16)
}

/// `len` of one band: bands start at byte 16 of a METER_MOD (OF1.3.5 §7.3.4.4).
pub fn band_len(b: &MeterBand) -> u64 {
    let m = MeterMod { command: MeterModCommand::Add, flags: 0, meter_id: 0, bands: vec![b.clone()] };
    be_u16(&Message::MeterMod(m).to_bytes(0), 16 + 2)
}

/// `len` of one queue: queues start at byte 16 of QUEUE_GET_CONFIG_REPLY, length at +8 (§7.3.6).
pub fn queue_len(q: &PacketQueue) -> u64 {
    let r = QueueGetConfigReply { port: PortNo::ANY, queues: vec![q.clone()] };
    be_u16(&Message::QueueGetConfigReply(r).to_bytes(0), 16 + 8)
}

/// `len` of one queue property: the first property starts at byte 16 of its queue (§7.3.6).
pub fn queue_prop_len(p: &QueueProp) -> u64 {
    let q = PacketQueue { queue_id: 0, port: PortNo::ANY, properties: vec![p.clone()] };
    let r = QueueGetConfigReply { port: PortNo::ANY, queues: vec![q] };
    be_u16(&Message::QueueGetConfigReply(r).to_bytes(0), 16 + 16 + 2)
}

// ---------------------------------------------------------------------------------------------
// Values.

pub fn mac(m: &MacAddr) -> Value {
    Value::String(m.to_string())
}

pub fn ipv4(a: &Ipv4Addr) -> Value {
    Value::String(a.to_string())
}

pub fn ipv6(a: &Ipv6Addr) -> Value {
    Value::String(a.to_string())
}

pub fn port_no(p: PortNo) -> Value {
    json!(p.0)
}

pub fn b64(bytes: &[u8]) -> Value {
    Value::String(base64(bytes))
}

/// Big-endian unsigned integer of up to 8 bytes (Ryu's `Int*` type descriptors).
fn be_uint(bytes: &[u8]) -> Value {
    assert!(bytes.len() <= 8, "integer field of {} bytes", bytes.len());
    json!(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> Value) -> Value {
    v.as_ref().map(f).unwrap_or(Value::Null)
}

/// The value decoder Ryu uses for a non-basic OXM.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Ipv4,
}

/// Ryu's name for a Nicira (class 0x0000/0x0001) OXM, from `ryu/ofproto/nicira_ext.py`.
fn nicira_oxm(class: u16, field: u8) -> Option<(String, Kind)> {
    Some(match (class, field) {
        (0x0001, n @ 0..=15) => (format!("reg{n}"), Kind::Int),
        (0x0001, 16) => ("tunnel_id_nxm".into(), Kind::Int),
        (0x0001, 31) => ("tun_ipv4_src".into(), Kind::Ipv4),
        (0x0001, 32) => ("tun_ipv4_dst".into(), Kind::Ipv4),
        (0x0001, 33) => ("pkt_mark".into(), Kind::Int),
        (0x0001, 37) => ("conj_id".into(), Kind::Int),
        (0x0001, 105) => ("ct_state".into(), Kind::Int),
        (0x0001, 106) => ("ct_zone".into(), Kind::Int),
        (0x0001, 107) => ("ct_mark".into(), Kind::Int),
        _ => return None,
    })
}

/// ONF's experimenter id (`ONF_EXPERIMENTER_ID`), used for `pbb_uca` in OF1.3 (ONF EXT-256).
const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
const ONF_ET_PBB_UCA: u16 = 2560;
const NICIRA_EXPERIMENTER: u32 = 0x0000_2320;

/// `{"OXMTlv": {"field", "mask", "value"}}`.
pub fn oxm(o: &Oxm) -> Value {
    let (field, value, mask): (String, Value, Value) = match o {
        Oxm::InPort(p) => ("in_port".into(), port_no(*p), Value::Null),
        Oxm::InPhyPort(p) => ("in_phy_port".into(), port_no(*p), Value::Null),
        Oxm::Metadata(v, m) => ("metadata".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::EthDst(v, m) => ("eth_dst".into(), mac(v), opt(m, mac)),
        Oxm::EthSrc(v, m) => ("eth_src".into(), mac(v), opt(m, mac)),
        Oxm::EthType(v) => ("eth_type".into(), json!(v), Value::Null),
        Oxm::VlanVid(v, m) => ("vlan_vid".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::VlanPcp(v) => ("vlan_pcp".into(), json!(v), Value::Null),
        Oxm::IpDscp(v) => ("ip_dscp".into(), json!(v), Value::Null),
        Oxm::IpEcn(v) => ("ip_ecn".into(), json!(v), Value::Null),
        Oxm::IpProto(v) => ("ip_proto".into(), json!(v), Value::Null),
        Oxm::Ipv4Src(v, m) => ("ipv4_src".into(), ipv4(v), opt(m, ipv4)),
        Oxm::Ipv4Dst(v, m) => ("ipv4_dst".into(), ipv4(v), opt(m, ipv4)),
        Oxm::TcpSrc(v) => ("tcp_src".into(), json!(v), Value::Null),
        Oxm::TcpDst(v) => ("tcp_dst".into(), json!(v), Value::Null),
        Oxm::UdpSrc(v) => ("udp_src".into(), json!(v), Value::Null),
        Oxm::UdpDst(v) => ("udp_dst".into(), json!(v), Value::Null),
        Oxm::SctpSrc(v) => ("sctp_src".into(), json!(v), Value::Null),
        Oxm::SctpDst(v) => ("sctp_dst".into(), json!(v), Value::Null),
        Oxm::Icmpv4Type(v) => ("icmpv4_type".into(), json!(v), Value::Null),
        Oxm::Icmpv4Code(v) => ("icmpv4_code".into(), json!(v), Value::Null),
        Oxm::ArpOp(v) => ("arp_op".into(), json!(v), Value::Null),
        Oxm::ArpSpa(v, m) => ("arp_spa".into(), ipv4(v), opt(m, ipv4)),
        Oxm::ArpTpa(v, m) => ("arp_tpa".into(), ipv4(v), opt(m, ipv4)),
        Oxm::ArpSha(v, m) => ("arp_sha".into(), mac(v), opt(m, mac)),
        Oxm::ArpTha(v, m) => ("arp_tha".into(), mac(v), opt(m, mac)),
        Oxm::Ipv6Src(v, m) => ("ipv6_src".into(), ipv6(v), opt(m, ipv6)),
        Oxm::Ipv6Dst(v, m) => ("ipv6_dst".into(), ipv6(v), opt(m, ipv6)),
        Oxm::Ipv6Flabel(v, m) => ("ipv6_flabel".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::Icmpv6Type(v) => ("icmpv6_type".into(), json!(v), Value::Null),
        Oxm::Icmpv6Code(v) => ("icmpv6_code".into(), json!(v), Value::Null),
        Oxm::Ipv6NdTarget(v) => ("ipv6_nd_target".into(), ipv6(v), Value::Null),
        Oxm::Ipv6NdSll(v) => ("ipv6_nd_sll".into(), mac(v), Value::Null),
        Oxm::Ipv6NdTll(v) => ("ipv6_nd_tll".into(), mac(v), Value::Null),
        Oxm::MplsLabel(v) => ("mpls_label".into(), json!(v), Value::Null),
        Oxm::MplsTc(v) => ("mpls_tc".into(), json!(v), Value::Null),
        Oxm::MplsBos(v) => ("mpls_bos".into(), json!(v), Value::Null),
        Oxm::PbbIsid(v, m) => ("pbb_isid".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::TunnelId(v, m) => ("tunnel_id".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::Ipv6Exthdr(v, m) => ("ipv6_exthdr".into(), json!(v), opt(m, |m| json!(m))),
        Oxm::Other { class, field, has_mask, body } => other_oxm(*class, *field, *has_mask, body),
    };
    class("OXMTlv", json!({ "field": field, "mask": mask, "value": value }))
}

/// A non-basic OXM: Ryu names the Nicira and ONF fields it knows; anything else has no Ryu name and
/// is shown as `class:field` with the raw payload so a mismatch is readable.
fn other_oxm(class: u16, field: u8, has_mask: bool, body: &[u8]) -> (String, Value, Value) {
    let split = |payload: &[u8], kind: Kind| -> (Value, Value) {
        let (value, mask) =
            if has_mask { payload.split_at(payload.len() / 2) } else { (payload, &payload[..0]) };
        let render = |b: &[u8]| match (kind, <[u8; 4]>::try_from(b)) {
            (Kind::Ipv4, Ok(octets)) => ipv4(&Ipv4Addr::from(octets)),
            _ => be_uint(b),
        };
        (render(value), if has_mask { render(mask) } else { Value::Null })
    };
    if let Some((name, kind)) = nicira_oxm(class, field) {
        let (v, m) = split(body, kind);
        return (name, v, m);
    }
    // ONF experimenter OXM: experimenter id (4), exp_type (2), value (ONF EXT-256 layout).
    if class == 0xffff && body.len() >= 6 {
        let experimenter = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let exp_type = u16::from_be_bytes([body[4], body[5]]);
        if experimenter == ONF_EXPERIMENTER && exp_type == ONF_ET_PBB_UCA {
            let (v, m) = split(&body[6..], Kind::Int);
            return ("pbb_uca".into(), v, m);
        }
    }
    (format!("unnamed_oxm_{class:#06x}:{field}"), b64(body), json!(has_mask))
}

pub fn r#match(m: &Match) -> Value {
    class(
        "OFPMatch",
        json!({
            "length": match_length(m),
            "oxm_fields": m.fields.iter().map(oxm).collect::<Vec<_>>(),
            "type": 1, // OFPMT_OXM, the only type OF1.3 defines (§7.2.3.1)
        }),
    )
}

/// Ryu's class for a Nicira action subtype (`ryu/ofproto/nicira_ext.py`, `NXAST_*`).
pub fn nicira_action_class(subtype: u16) -> &'static str {
    match subtype {
        6 => "NXActionRegMove",
        7 => "NXActionRegLoad",
        8 => "NXActionNote",
        14 => "NXActionResubmitTable",
        16 => "NXActionLearn",
        19 => "NXActionFinTimeout",
        20 => "NXActionController",
        21 => "NXActionDecTtlCntIds",
        27 => "NXActionStackPush",
        28 => "NXActionStackPop",
        29 => "NXActionSample",
        34 => "NXActionConjunction",
        35 => "NXActionCT",
        36 => "NXActionNAT",
        37 => "NXActionController2",
        38 => "NXActionSample2",
        39 => "NXActionOutputTrunc",
        43 => "NXActionCTClear",
        _ => "NXActionUnknown",
    }
}

pub fn action(a: &Action) -> Value {
    let len = action_len(a);
    let simple = |name: &str, type_: u16| class(name, json!({ "len": len, "type": type_ }));
    let with = |name: &str, type_: u16, key: &str, v: Value| {
        class(name, json!({ "len": len, "type": type_, key: v }))
    };
    // Type numbers: OF1.3.5 §7.2.5 `ofp_action_type`.
    match a {
        Action::Output { port, max_len } => {
            class("OFPActionOutput", json!({ "len": len, "max_len": max_len, "port": port.0, "type": 0 }))
        }
        Action::CopyTtlOut => simple("OFPActionCopyTtlOut", 11),
        Action::CopyTtlIn => simple("OFPActionCopyTtlIn", 12),
        Action::SetMplsTtl(t) => with("OFPActionSetMplsTtl", 15, "mpls_ttl", json!(t)),
        Action::DecMplsTtl => simple("OFPActionDecMplsTtl", 16),
        Action::PushVlan(e) => with("OFPActionPushVlan", 17, "ethertype", json!(e)),
        Action::PopVlan => simple("OFPActionPopVlan", 18),
        Action::PushMpls(e) => with("OFPActionPushMpls", 19, "ethertype", json!(e)),
        Action::PopMpls(e) => with("OFPActionPopMpls", 20, "ethertype", json!(e)),
        Action::SetQueue(q) => with("OFPActionSetQueue", 21, "queue_id", json!(q)),
        Action::Group(g) => with("OFPActionGroup", 22, "group_id", json!(g)),
        Action::SetNwTtl(t) => with("OFPActionSetNwTtl", 23, "nw_ttl", json!(t)),
        Action::DecNwTtl => simple("OFPActionDecNwTtl", 24),
        Action::SetField(o) => with("OFPActionSetField", 25, "field", oxm(o)),
        Action::PushPbb(e) => with("OFPActionPushPbb", 26, "ethertype", json!(e)),
        Action::PopPbb => simple("OFPActionPopPbb", 27),
        Action::Experimenter { experimenter, data } if *experimenter == NICIRA_EXPERIMENTER => {
            // Nicira actions: ofproto keeps the payload after the experimenter id opaque (the lead's
            // data model); the subtype is its first two bytes (`nx_action_header`).
            let subtype = if data.len() >= 2 { u16::from_be_bytes([data[0], data[1]]) } else { 0 };
            let name = nicira_action_class(subtype);
            let mut fields = json!({
                "experimenter": experimenter, "len": len, "subtype": subtype, "type": 0xffff,
            });
            if name == "NXActionUnknown" {
                fields["data"] = b64(data.get(2..).unwrap_or_default());
            }
            class(name, fields)
        }
        Action::Experimenter { experimenter, data } => class(
            "OFPActionExperimenterUnknown",
            json!({ "data": b64(data), "experimenter": experimenter, "len": len, "type": 0xffff }),
        ),
        Action::Unknown { action_type, body } => {
            class("OFPActionUnknown", json!({ "buf": b64(body), "len": len, "type": action_type }))
        }
    }
}

pub fn actions(list: &[Action]) -> Value {
    Value::Array(list.iter().map(action).collect())
}

pub fn instruction(i: &Instruction) -> Value {
    let len = instruction_len(i);
    // Type numbers: OF1.3.5 §7.2.4 `ofp_instruction_type`.
    match i {
        Instruction::GotoTable(t) => {
            class("OFPInstructionGotoTable", json!({ "len": len, "table_id": t, "type": 1 }))
        }
        Instruction::WriteMetadata { metadata, mask } => class(
            "OFPInstructionWriteMetadata",
            json!({ "len": len, "metadata": metadata, "metadata_mask": mask, "type": 2 }),
        ),
        Instruction::WriteActions(a) => {
            class("OFPInstructionActions", json!({ "actions": actions(a), "len": len, "type": 3 }))
        }
        Instruction::ApplyActions(a) => {
            class("OFPInstructionActions", json!({ "actions": actions(a), "len": len, "type": 4 }))
        }
        Instruction::ClearActions => {
            class("OFPInstructionActions", json!({ "actions": [], "len": len, "type": 5 }))
        }
        Instruction::Meter(m) => {
            class("OFPInstructionMeter", json!({ "len": len, "meter_id": m, "type": 6 }))
        }
        Instruction::Experimenter { experimenter, data } => class(
            "OFPInstructionExperimenter",
            json!({ "data": b64(data), "experimenter": experimenter, "len": len, "type": 0xffff }),
        ),
        Instruction::Unknown { instruction_type, body } => {
            class("OFPInstructionUnknown", json!({ "buf": b64(body), "len": len, "type": instruction_type }))
        }
    }
}

pub fn instructions(list: &[Instruction]) -> Value {
    Value::Array(list.iter().map(instruction).collect())
}

pub fn bucket(b: &Bucket) -> Value {
    class(
        "OFPBucket",
        json!({
            "actions": actions(&b.actions),
            "len": bucket_len(b),
            "watch_group": b.watch_group,
            "watch_port": b.watch_port.0,
            "weight": b.weight,
        }),
    )
}

pub fn buckets(list: &[Bucket]) -> Value {
    Value::Array(list.iter().map(bucket).collect())
}

pub fn band(b: &MeterBand) -> Value {
    let len = band_len(b);
    // Band types: OF1.3.5 §7.3.4.4 `ofp_meter_band_type`.
    match b {
        MeterBand::Drop { rate, burst_size } => class(
            "OFPMeterBandDrop",
            json!({ "burst_size": burst_size, "len": len, "rate": rate, "type": 1 }),
        ),
        MeterBand::DscpRemark { rate, burst_size, prec_level } => class(
            "OFPMeterBandDscpRemark",
            json!({ "burst_size": burst_size, "len": len, "prec_level": prec_level, "rate": rate, "type": 2 }),
        ),
        // Ryu's OFPMeterBandExperimenter has no field for the bytes after the experimenter id, so
        // `data` cannot be compared here; the byte-exact round trip covers it.
        MeterBand::Experimenter { rate, burst_size, experimenter, data: _ } => class(
            "OFPMeterBandExperimenter",
            json!({ "burst_size": burst_size, "experimenter": experimenter, "len": len, "rate": rate, "type": 0xffff }),
        ),
        MeterBand::Unknown { band_type, rate, burst_size, body } => class(
            "OFPMeterBandUnknown",
            json!({ "buf": b64(body), "burst_size": burst_size, "len": len, "rate": rate, "type": band_type }),
        ),
    }
}

pub fn bands(list: &[MeterBand]) -> Value {
    Value::Array(list.iter().map(band).collect())
}

pub fn port(p: &Port) -> Value {
    class(
        "OFPPort",
        json!({
            "advertised": p.advertised,
            "config": p.config,
            "curr": p.curr,
            "curr_speed": p.curr_speed,
            "hw_addr": mac(&p.hw_addr),
            "max_speed": p.max_speed,
            "name": p.name.as_str(),
            "peer": p.peer,
            "port_no": p.port_no.0,
            "state": p.state,
            "supported": p.supported,
        }),
    )
}

pub fn queue_prop(p: &QueueProp) -> Value {
    let len = queue_prop_len(p);
    // Property numbers: OF1.3.5 §7.3.6 `ofp_queue_properties`.
    match p {
        QueueProp::MinRate(rate) => {
            class("OFPQueuePropMinRate", json!({ "len": len, "property": 1, "rate": rate }))
        }
        QueueProp::MaxRate(rate) => {
            class("OFPQueuePropMaxRate", json!({ "len": len, "property": 2, "rate": rate }))
        }
        // Ryu shows this `data` as a list of byte values, not base64.
        QueueProp::Experimenter { experimenter, data } => class(
            "OFPQueuePropExperimenter",
            json!({ "data": data.to_vec(), "experimenter": experimenter, "len": len, "property": 0xffff }),
        ),
        QueueProp::Unknown { property, body } => {
            class("OFPQueuePropUnknown", json!({ "buf": b64(body), "len": len, "property": property }))
        }
    }
}

pub fn packet_queue(q: &PacketQueue) -> Value {
    class(
        "OFPPacketQueue",
        json!({
            "len": queue_len(q),
            "port": q.port.0,
            "properties": q.properties.iter().map(queue_prop).collect::<Vec<_>>(),
            "queue_id": q.queue_id,
        }),
    )
}

/// Ryu's names of the OpenFlow-basic OXM fields, indexed by `OXM_OF_*` number (OF1.3.5 §7.2.3.7).
pub const BASIC_FIELD_NAMES: [&str; 40] = [
    "in_port",
    "in_phy_port",
    "metadata",
    "eth_dst",
    "eth_src",
    "eth_type",
    "vlan_vid",
    "vlan_pcp",
    "ip_dscp",
    "ip_ecn",
    "ip_proto",
    "ipv4_src",
    "ipv4_dst",
    "tcp_src",
    "tcp_dst",
    "udp_src",
    "udp_dst",
    "sctp_src",
    "sctp_dst",
    "icmpv4_type",
    "icmpv4_code",
    "arp_op",
    "arp_spa",
    "arp_tpa",
    "arp_sha",
    "arp_tha",
    "ipv6_src",
    "ipv6_dst",
    "ipv6_flabel",
    "icmpv6_type",
    "icmpv6_code",
    "ipv6_nd_target",
    "ipv6_nd_sll",
    "ipv6_nd_tll",
    "mpls_label",
    "mpls_tc",
    "mpls_bos",
    "pbb_isid",
    "tunnel_id",
    "ipv6_exthdr",
];

/// Ryu's name for the field an OXM id (table-features property) refers to.
pub fn oxm_id_name(class: u16, field: u8, experimenter: Option<u32>) -> String {
    match (class, experimenter) {
        (0x8000, _) if usize::from(field) < BASIC_FIELD_NAMES.len() => {
            BASIC_FIELD_NAMES[usize::from(field)].into()
        }
        (0xffff, Some(ONF_EXPERIMENTER)) => format!("onf_experimenter_field_{field}"),
        _ => nicira_oxm(class, field)
            .map(|(name, _)| name)
            .unwrap_or_else(|| format!("unnamed_oxm_{class:#06x}:{field}")),
    }
}
