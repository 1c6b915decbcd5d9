//! A converter from ofproto's decoded [`Message`] to the JSON Ryu's `to_jsondict()` produces, so
//! the corpus test can compare our decoding with Ryu's field by field.
//!
//! The converter is written from Ryu's class layouts (`ryu/ofproto/ofproto_v1_3_parser.py`) and
//! OF1.3.5, not from ofproto's serde output: it is an independent rendering of the same facts.
//! Length fields are recomputed with ofproto's encoder (see [`parts`]); nothing is copied from Ryu.

pub mod diff;
pub mod from_ryu;
mod multipart;
mod packet_library;
pub mod parts;

use ofproto::Message;
use ofproto::error_msg::ErrorType;
use ofproto::hello::HelloElement;
use serde_json::{Value, json};

use parts::{b64, class};

/// `length` of a hello element as our encoder writes it (the first element starts at byte 8,
/// OF1.3.5 §7.5.1).
fn hello_element_length(e: &HelloElement) -> u64 {
    let bytes = Message::Hello(ofproto::hello::Hello::new(vec![e.clone()])).to_bytes(0);
    match bytes.get(10..12) {
        Some(b) => u64::from(u16::from_be_bytes([b[0], b[1]])),
        None => panic!("hello element not encoded: {}", crate::common::hex(&bytes)),
    }
}

/// Versions whose bit is set in an `ofp_hello_elem_versionbitmap` (bit n of word i = version 32i+n).
fn bitmap_versions(words: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, word) in words.iter().enumerate() {
        for bit in 0..32 {
            if word & (1 << bit) != 0 {
                out.push(32 * i as u32 + bit);
            }
        }
    }
    out
}

/// Ryu's JSON for `msg` (header fields excluded, as in Ryu).
pub fn to_ryu(msg: &Message) -> Value {
    match msg {
        Message::Hello(h) => class(
            "OFPHello",
            json!({ "elements": h.elements.iter().map(|e| match e {
                HelloElement::VersionBitmap(words) => class("OFPHelloElemVersionBitmap", json!({
                    "length": hello_element_length(e), "type": 1, "versions": bitmap_versions(words),
                })),
                HelloElement::Unknown { element_type, body } => class("OFPHelloElemUnknown", json!({
                    "length": hello_element_length(e), "type": element_type, "data": b64(body),
                })),
            }).collect::<Vec<_>>() }),
        ),
        Message::Error(e) => {
            let (error_type, code) = e.error.type_code();
            match &e.error {
                // OFPET_EXPERIMENTER has no code, Ryu shows `code: null` (`ofp_error_experimenter_msg`,
                // OF1.3.5 §7.4.4).
                ErrorType::Experimenter { exp_type, experimenter } => class(
                    "OFPErrorMsg",
                    json!({ "code": null, "data": b64(&e.data), "exp_type": exp_type,
                            "experimenter": experimenter, "type": error_type }),
                ),
                _ => class("OFPErrorMsg", json!({ "code": code, "data": b64(&e.data), "type": error_type })),
            }
        }
        Message::EchoRequest(d) => class("OFPEchoRequest", json!({ "data": b64(d) })),
        Message::EchoReply(d) => class("OFPEchoReply", json!({ "data": b64(d) })),
        Message::Experimenter(x) => class(
            "OFPExperimenter",
            json!({ "data": b64(&x.data), "exp_type": x.exp_type, "experimenter": x.experimenter }),
        ),
        Message::FeaturesRequest => class("OFPFeaturesRequest", json!({})),
        // `reserved` is not part of Ryu's OFPSwitchFeatures.
        Message::FeaturesReply(f) => class(
            "OFPSwitchFeatures",
            json!({ "auxiliary_id": f.auxiliary_id, "capabilities": f.capabilities,
                    "datapath_id": f.datapath_id, "n_buffers": f.n_buffers, "n_tables": f.n_tables }),
        ),
        Message::GetConfigRequest => class("OFPGetConfigRequest", json!({})),
        Message::GetConfigReply(c) => {
            class("OFPGetConfigReply", json!({ "flags": c.flags, "miss_send_len": c.miss_send_len }))
        }
        Message::SetConfig(c) => {
            class("OFPSetConfig", json!({ "flags": c.flags, "miss_send_len": c.miss_send_len }))
        }
        Message::PacketIn(p) => class(
            "OFPPacketIn",
            json!({ "buffer_id": p.buffer_id, "cookie": p.cookie, "data": b64(&p.data),
                    "match": parts::r#match(&p.r#match), "reason": p.reason.value(),
                    "table_id": p.table_id, "total_len": p.total_len }),
        ),
        Message::FlowRemoved(f) => class(
            "OFPFlowRemoved",
            json!({ "byte_count": f.byte_count, "cookie": f.cookie, "duration_nsec": f.duration_nsec,
                    "duration_sec": f.duration_sec, "hard_timeout": f.hard_timeout,
                    "idle_timeout": f.idle_timeout, "match": parts::r#match(&f.r#match),
                    "packet_count": f.packet_count, "priority": f.priority,
                    "reason": f.reason.value(), "table_id": f.table_id }),
        ),
        Message::PortStatus(s) => {
            class("OFPPortStatus", json!({ "desc": parts::port(&s.desc), "reason": s.reason.value() }))
        }
        Message::PacketOut(p) => class(
            "OFPPacketOut",
            json!({ "actions": parts::actions(&p.actions), "actions_len": parts::packet_out_actions_len(p),
                    "buffer_id": p.buffer_id, "data": b64(&p.data), "in_port": p.in_port.0 }),
        ),
        Message::FlowMod(f) => class(
            "OFPFlowMod",
            json!({ "buffer_id": f.buffer_id, "command": f.command.value(), "cookie": f.cookie,
                    "cookie_mask": f.cookie_mask, "flags": f.flags, "hard_timeout": f.hard_timeout,
                    "idle_timeout": f.idle_timeout, "instructions": parts::instructions(&f.instructions),
                    "match": parts::r#match(&f.r#match), "out_group": f.out_group,
                    "out_port": f.out_port.0, "priority": f.priority, "table_id": f.table_id }),
        ),
        Message::GroupMod(g) => class(
            "OFPGroupMod",
            json!({ "buckets": parts::buckets(&g.buckets), "command": g.command.value(),
                    "group_id": g.group_id, "type": g.group_type.value() }),
        ),
        Message::PortMod(p) => class(
            "OFPPortMod",
            json!({ "advertise": p.advertise, "config": p.config, "hw_addr": parts::mac(&p.hw_addr),
                    "mask": p.mask, "port_no": p.port_no.0 }),
        ),
        Message::TableMod(t) => class("OFPTableMod", json!({ "config": t.config, "table_id": t.table_id })),
        Message::MultipartRequest(m) => multipart::request(m),
        Message::MultipartReply(m) => multipart::reply(m),
        Message::BarrierRequest => class("OFPBarrierRequest", json!({})),
        Message::BarrierReply => class("OFPBarrierReply", json!({})),
        Message::QueueGetConfigRequest(q) => class("OFPQueueGetConfigRequest", json!({ "port": q.port.0 })),
        Message::QueueGetConfigReply(q) => class(
            "OFPQueueGetConfigReply",
            json!({ "port": q.port.0, "queues": q.queues.iter().map(parts::packet_queue).collect::<Vec<_>>() }),
        ),
        Message::RoleRequest(r) => {
            class("OFPRoleRequest", json!({ "generation_id": r.generation_id, "role": r.role.value() }))
        }
        Message::RoleReply(r) => {
            class("OFPRoleReply", json!({ "generation_id": r.generation_id, "role": r.role.value() }))
        }
        Message::GetAsyncRequest => class("OFPGetAsyncRequest", json!({})),
        Message::GetAsyncReply(a) => class("OFPGetAsyncReply", async_config(a)),
        Message::SetAsync(a) => class("OFPSetAsync", async_config(a)),
        Message::MeterMod(m) => class(
            "OFPMeterMod",
            json!({ "bands": parts::bands(&m.bands), "command": m.command.value(), "flags": m.flags,
                    "meter_id": m.meter_id }),
        ),
        Message::Unknown { msg_type, body } => {
            class("UnknownMessage", json!({ "msg_type": msg_type, "body": b64(body) }))
        }
    }
}

fn async_config(a: &ofproto::role::AsyncConfig) -> Value {
    json!({ "flow_removed_mask": a.flow_removed_mask, "packet_in_mask": a.packet_in_mask,
            "port_status_mask": a.port_status_mask })
}
