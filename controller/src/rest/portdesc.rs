//! Ports: `GET /stats/portdesc/<dpid>` (PORT_DESC multipart, OF1.3.5 §7.3.5.7) and
//! `POST /stats/portdesc/modify` (PORT_MOD, §7.3.4.3). The route shares its path pattern, so the
//! POST handler receives `modify` where the GET receives the dpid.

use axum::Json;
use axum::extract::State;
use ofproto::Message;
use ofproto::multipart::{MultipartReplyBody, MultipartRequestBody};
use serde_json::Value;

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::Obj;
use super::ofctl_json::flows::{keyed, port_desc_to_json, port_mod_from_json, port_mod_port_no};
use super::{ApiState, body_dpid, datapath, multipart, parse_dpid, send_confirmed, wrong_reply};

pub async fn port_desc(
    State(state): State<ApiState>,
    PathArgs(dpid): PathArgs<String>,
) -> Result<Json<Value>, ApiError> {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::PortDesc).await? {
        MultipartReplyBody::PortDesc(p) => Ok(Json(keyed(dpid, p.iter().map(port_desc_to_json).collect()))),
        other => Err(wrong_reply("PORT_DESC", &other)),
    }
}

/// `{"dpid", "port_no", "config", "mask", "hw_addr"?, "advertise"?}`: 404 if the switch has no such
/// port (as Ryu); `hw_addr`/`advertise` default to the port's current values.
pub async fn modify(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(cmd): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    if cmd != "modify" {
        return Err(ApiError::NotFound(format!("unknown portdesc command {cmd:?} (modify)")));
    }
    let dpid = body_dpid(&body)?;
    let obj = Obj::from_value("", &body)?;
    let port_no = port_mod_port_no(obj)?;
    let dp = datapath(&state, dpid)?;
    let ports = state.controller.registry.ports(dpid).ok_or(ApiError::UnknownSwitch(dpid))?;
    let port = ports
        .iter()
        .find(|p| p.port_no == port_no)
        .ok_or_else(|| ApiError::NotFound(format!("switch {dpid} has no port {}", port_no.0)))?;
    let port_mod = port_mod_from_json(obj, port)?;
    send_confirmed(&state, &dp, Message::PortMod(port_mod)).await
}
