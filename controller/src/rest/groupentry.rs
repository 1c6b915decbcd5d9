//! Groups (OF1.3.5 §7.3.4.2): `GET /stats/group/<dpid>[/<group_id>]`, `/stats/groupdesc/<dpid>`,
//! `/stats/groupfeatures/<dpid>`, and `POST /stats/groupentry/{add,modify,delete}`.

use axum::Json;
use axum::extract::State;
use ofproto::Message;
use ofproto::group::GroupModCommand;
use ofproto::multipart::{MultipartReplyBody, MultipartRequestBody};
use ofproto::types::group_id;
use serde_json::{Value, json};

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::flows::keyed;
use super::ofctl_json::group_meter::{
    group_desc_to_json, group_features_to_json, group_mod_from_json, group_stats_to_json,
};
use super::ofctl_json::{Obj, Reserved};
use super::{ApiState, body_dpid, datapath, multipart, parse_dpid, send_confirmed, wrong_reply};

type Reply = Result<Json<Value>, ApiError>;

async fn group_stats(state: &ApiState, dpid: &str, group_id: u32) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Group { group_id }).await? {
        MultipartReplyBody::Group(g) => Ok(Json(keyed(dpid, g.iter().map(group_stats_to_json).collect()))),
        other => Err(wrong_reply("GROUP", &other)),
    }
}

pub async fn stats(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    group_stats(&state, &dpid, group_id::ALL).await
}

pub async fn stats_of(
    State(state): State<ApiState>,
    PathArgs((dpid, group)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    let group = Reserved::Group
        .from_user(&Value::from(group))
        .map_err(|m| ApiError::BadRequest(format!("group_id: {m}")))?;
    group_stats(&state, &dpid, group as u32).await
}

pub async fn desc(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::GroupDesc).await? {
        MultipartReplyBody::GroupDesc(g) => Ok(Json(keyed(dpid, g.iter().map(group_desc_to_json).collect()))),
        other => Err(wrong_reply("GROUP_DESC", &other)),
    }
}

pub async fn features(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::GroupFeatures).await? {
        MultipartReplyBody::GroupFeatures(f) => Ok(Json(keyed(dpid, json!([group_features_to_json(&f)])))),
        other => Err(wrong_reply("GROUP_FEATURES", &other)),
    }
}

pub async fn modify(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(cmd): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    let command = match cmd.as_str() {
        "add" => GroupModCommand::Add,
        "modify" => GroupModCommand::Modify,
        "delete" => GroupModCommand::Delete,
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown groupentry command {other:?} (add, modify, delete)"
            )));
        }
    };
    let dpid = body_dpid(&body)?;
    let group_mod = group_mod_from_json(Obj::from_value("", &body)?, command)?;
    let dp = datapath(&state, dpid)?;
    send_confirmed(&state, &dp, Message::GroupMod(group_mod)).await
}
