//! Read-only statistics routes of Ryu's `ofctl_rest`: switches, desc, flows, aggregate flows, tables,
//! table features, ports, queues; and the controller role (GET and POST `/stats/role`). Every reply is
//! `{"<dpid>": ...}` keyed by the decimal dpid, as Ryu's.

use axum::Json;
use axum::extract::State;
use ofproto::Message;
use ofproto::PortNo;
use ofproto::multipart::{FlowStatsRequest, MultipartReplyBody, MultipartRequestBody};
use ofproto::queue::{QueueGetConfigReply, QueueGetConfigRequest, QueueProp};
use ofproto::role::{ControllerRole, RoleMessage};
use serde_json::{Value, json};

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::flows::{
    aggregate_to_json, desc_to_json, flow_stats_request_from_json, flow_stats_to_json, keyed,
    port_stats_to_json, queue_stats_to_json, table_features_to_json, table_stats_to_json,
};
use super::ofctl_json::{Obj, Reserved, base64_encode};
use super::{ApiState, body_dpid, datapath, multipart, parse_dpid, wrong_message, wrong_reply};

type Reply = Result<Json<Value>, ApiError>;

/// `OFPQ_ALL`: every queue.
const QUEUE_ALL: u32 = 0xffff_ffff;

/// `GET /stats/switches`: the connected dpids, ascending.
pub async fn switches(State(state): State<ApiState>) -> Json<Value> {
    Json(json!(state.controller.registry.dpids()))
}

pub async fn desc(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Desc).await? {
        MultipartReplyBody::Desc(d) => Ok(Json(keyed(dpid, desc_to_json(&d)))),
        other => Err(wrong_reply("DESC", &other)),
    }
}

async fn flow_stats(state: &ApiState, dpid: &str, filter: FlowStatsRequest) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Flow(filter)).await? {
        MultipartReplyBody::Flow(flows) => {
            Ok(Json(keyed(dpid, flows.iter().map(flow_stats_to_json).collect())))
        }
        other => Err(wrong_reply("FLOW", &other)),
    }
}

async fn aggregate_stats(state: &ApiState, dpid: &str, filter: FlowStatsRequest) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Aggregate(filter)).await? {
        MultipartReplyBody::Aggregate(a) => Ok(Json(keyed(dpid, json!([aggregate_to_json(&a)])))),
        other => Err(wrong_reply("AGGREGATE", &other)),
    }
}

/// `GET /stats/flow/<dpid>`: every flow of every table.
pub async fn flows(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    flow_stats(&state, &dpid, FlowStatsRequest::all()).await
}

/// `POST /stats/flow/<dpid>` with a filter (`table_id`, `out_port`, `out_group`, `cookie`,
/// `cookie_mask`, `match`). Reads only, so no token is needed.
pub async fn flows_filtered(
    State(state): State<ApiState>,
    PathArgs(dpid): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let dpid_n = parse_dpid(&dpid)?;
    datapath(&state, dpid_n)?;
    let filter = flow_stats_request_from_json(Obj::from_value("", &body)?)?;
    flow_stats(&state, &dpid, filter).await
}

pub async fn aggregate(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    aggregate_stats(&state, &dpid, FlowStatsRequest::all()).await
}

pub async fn aggregate_filtered(
    State(state): State<ApiState>,
    PathArgs(dpid): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let dpid_n = parse_dpid(&dpid)?;
    datapath(&state, dpid_n)?;
    let filter = flow_stats_request_from_json(Obj::from_value("", &body)?)?;
    aggregate_stats(&state, &dpid, filter).await
}

pub async fn tables(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Table).await? {
        MultipartReplyBody::Table(t) => Ok(Json(keyed(dpid, t.iter().map(table_stats_to_json).collect()))),
        other => Err(wrong_reply("TABLE", &other)),
    }
}

pub async fn table_features(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::TableFeatures(Vec::new())).await? {
        MultipartReplyBody::TableFeatures(t) => {
            Ok(Json(keyed(dpid, t.iter().map(table_features_to_json).collect())))
        }
        other => Err(wrong_reply("TABLE_FEATURES", &other)),
    }
}

/// A port number path segment: a number or a reserved name (`LOCAL`, `ANY`). `ALL` in a path means
/// every port, as in Ryu's `ofctl_rest` (`if port == "ALL": port = None`, sent as OFPP_ANY); as
/// a port number OFPP_ALL names no single port, and switches answer it with nothing or an error.
fn port_segment(text: &str) -> Result<PortNo, ApiError> {
    if text.eq_ignore_ascii_case("ALL") {
        return Ok(PortNo::ANY);
    }
    Reserved::Port
        .from_user(&Value::from(text))
        .map(|n| PortNo(n as u32))
        .map_err(|m| ApiError::BadRequest(format!("port: {m}")))
}

async fn port_stats(state: &ApiState, dpid: &str, port_no: PortNo) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::PortStats { port_no }).await? {
        MultipartReplyBody::PortStats(p) => Ok(Json(keyed(dpid, p.iter().map(port_stats_to_json).collect()))),
        other => Err(wrong_reply("PORT_STATS", &other)),
    }
}

pub async fn ports(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    port_stats(&state, &dpid, PortNo::ANY).await
}

pub async fn port(
    State(state): State<ApiState>,
    PathArgs((dpid, port)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    port_stats(&state, &dpid, port_segment(&port)?).await
}

async fn queue_stats(state: &ApiState, dpid: &str, port_no: PortNo, queue_id: u32) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Queue { port_no, queue_id }).await? {
        MultipartReplyBody::Queue(q) => Ok(Json(keyed(dpid, q.iter().map(queue_stats_to_json).collect()))),
        other => Err(wrong_reply("QUEUE", &other)),
    }
}

pub async fn queues(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    queue_stats(&state, &dpid, PortNo::ANY, QUEUE_ALL).await
}

pub async fn queues_of_port(
    State(state): State<ApiState>,
    PathArgs((dpid, port)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    queue_stats(&state, &dpid, port_segment(&port)?, QUEUE_ALL).await
}

pub async fn queue(
    State(state): State<ApiState>,
    PathArgs((dpid, port, queue_id)): PathArgs<(String, String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    let port = port_segment(&port)?;
    let queue_id = Reserved::Queue
        .from_user(&Value::from(queue_id))
        .map_err(|m| ApiError::BadRequest(format!("queue_id: {m}")))? as u32;
    queue_stats(&state, &dpid, port, queue_id).await
}

/// Ryu's `get_queue_config` entry for one QUEUE_GET_CONFIG_REPLY.
fn queue_config_to_json(reply: &QueueGetConfigReply) -> Value {
    let queues: Vec<Value> = reply
        .queues
        .iter()
        .map(|q| {
            let properties: Vec<Value> = q
                .properties
                .iter()
                .map(|p| match p {
                    QueueProp::MinRate(rate) => json!({"property": "MIN_RATE", "rate": rate}),
                    QueueProp::MaxRate(rate) => json!({"property": "MAX_RATE", "rate": rate}),
                    QueueProp::Experimenter { experimenter, data } => json!({
                        "property": "EXPERIMENTER", "experimenter": experimenter, "data": base64_encode(data),
                    }),
                    QueueProp::Unknown { .. } => json!({"property": "UNKNOWN"}),
                })
                .collect();
            json!({
                "port": Reserved::Port.to_user(u64::from(q.port.0)),
                "properties": properties,
                "queue_id": Reserved::Queue.to_user(u64::from(q.queue_id)),
            })
        })
        .collect();
    json!({"port": Reserved::Port.to_user(u64::from(reply.port.0)), "queues": queues})
}

async fn queue_config(state: &ApiState, dpid: &str, port: PortNo) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match dp.request(&Message::QueueGetConfigRequest(QueueGetConfigRequest { port })).await? {
        Message::QueueGetConfigReply(r) => Ok(Json(keyed(dpid, json!([queue_config_to_json(&r)])))),
        other => Err(wrong_message("QUEUE_GET_CONFIG_REPLY", &other)),
    }
}

/// `GET /stats/queueconfig/{dpid}`: the queues of every port (OFPP_ANY), as Ryu's `get_queue_config`.
pub async fn queue_configs(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    queue_config(&state, &dpid, PortNo::ANY).await
}

/// `GET /stats/queueconfig/{dpid}/{port}`.
pub async fn queue_config_of_port(
    State(state): State<ApiState>,
    PathArgs((dpid, port)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    queue_config(&state, &dpid, port_segment(&port)?).await
}

fn role_to_json(r: &RoleMessage) -> Value {
    json!({"generation_id": r.generation_id, "role": Reserved::Role.to_user(u64::from(u32::from(r.role)))})
}

/// `GET /stats/role/<dpid>`: asks with ROLE_REQUEST NOCHANGE (OF1.3.5 §7.3.9), which only reads.
pub async fn role(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    let request = Message::RoleRequest(RoleMessage { role: ControllerRole::NoChange, generation_id: 0 });
    match dp.request(&request).await? {
        Message::RoleReply(r) => Ok(Json(keyed(dpid, json!([role_to_json(&r)])))),
        other => Err(wrong_message("ROLE_REPLY", &other)),
    }
}

/// `POST /stats/role` `{"dpid": 1, "role": "MASTER"}` (role defaults to EQUAL, generation id 0, as
/// Ryu's `set_role`). Waits for the ROLE_REPLY, so a refused change is reported.
pub async fn set_role(
    _auth: Authorized,
    State(state): State<ApiState>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    let dpid = body_dpid(&body)?;
    let obj = Obj::from_value("", &body)?;
    let role = obj.reserved("role", 1, Reserved::Role)? as u32;
    let dp = datapath(&state, dpid)?;
    let request = Message::RoleRequest(RoleMessage { role: ControllerRole::from(role), generation_id: 0 });
    match dp.request(&request).await? {
        Message::RoleReply(_) => Ok(()),
        other => Err(wrong_message("ROLE_REPLY", &other)),
    }
}
