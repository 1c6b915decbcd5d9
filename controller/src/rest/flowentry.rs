//! `POST /stats/flowentry/{add,modify,modify_strict,delete,delete_strict}` and
//! `DELETE /stats/flowentry/clear/<dpid>`: FLOW_MODs (OF1.3.5 §7.3.4.1) from Ryu's flow JSON, each
//! confirmed with a barrier. 200 with an empty body on success, as Ryu.

use axum::extract::State;
use ofproto::Message;
use ofproto::flow::{FlowMod, FlowModCommand};

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::Obj;
use super::ofctl_json::flows::flow_mod_from_json;
use super::{ApiState, body_dpid, datapath, parse_dpid, send_confirmed};

fn command(cmd: &str) -> Result<FlowModCommand, ApiError> {
    Ok(match cmd {
        "add" => FlowModCommand::Add,
        "modify" => FlowModCommand::Modify,
        "modify_strict" => FlowModCommand::ModifyStrict,
        "delete" => FlowModCommand::Delete,
        "delete_strict" => FlowModCommand::DeleteStrict,
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown flowentry command {other:?} (add, modify, modify_strict, delete, delete_strict)"
            )));
        }
    })
}

pub async fn modify(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(cmd): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    let command = command(&cmd)?;
    let dpid = body_dpid(&body)?;
    let flow_mod = flow_mod_from_json(Obj::from_value("", &body)?, command)?;
    let dp = datapath(&state, dpid)?;
    send_confirmed(&state, &dp, Message::FlowMod(flow_mod)).await
}

/// Deletes every flow in every table (the table-miss flow too, as Ryu's clear does).
pub async fn clear(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(dpid): PathArgs<String>,
) -> Result<(), ApiError> {
    let dp = datapath(&state, parse_dpid(&dpid)?)?;
    send_confirmed(&state, &dp, Message::FlowMod(FlowMod::delete_all())).await
}
