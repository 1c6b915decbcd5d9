//! Meters (OF1.3.5 §7.3.4.4): `GET /stats/meter/<dpid>[/<meter_id>]`,
//! `/stats/meterconfig/<dpid>[/<meter_id>]`, `/stats/meterfeatures/<dpid>`, and
//! `POST /stats/meterentry/{add,modify,delete}`.

use axum::Json;
use axum::extract::State;
use ofproto::Message;
use ofproto::meter::{MeterModCommand, meter_id};
use ofproto::multipart::{MultipartReplyBody, MultipartRequestBody};
use serde_json::{Value, json};

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::flows::keyed;
use super::ofctl_json::group_meter::{
    meter_config_to_json, meter_features_to_json, meter_mod_from_json, meter_stats_to_json,
};
use super::ofctl_json::{Obj, Reserved};
use super::{ApiState, body_dpid, datapath, multipart, parse_dpid, send_confirmed, wrong_reply};

type Reply = Result<Json<Value>, ApiError>;

fn meter_segment(text: String) -> Result<u32, ApiError> {
    Reserved::Meter
        .from_user(&Value::from(text))
        .map(|n| n as u32)
        .map_err(|m| ApiError::BadRequest(format!("meter_id: {m}")))
}

async fn meter_stats(state: &ApiState, dpid: &str, meter_id: u32) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::Meter { meter_id }).await? {
        MultipartReplyBody::Meter(m) => Ok(Json(keyed(dpid, m.iter().map(meter_stats_to_json).collect()))),
        other => Err(wrong_reply("METER", &other)),
    }
}

async fn meter_config(state: &ApiState, dpid: &str, meter_id: u32) -> Reply {
    let dpid = parse_dpid(dpid)?;
    let dp = datapath(state, dpid)?;
    match multipart(&dp, MultipartRequestBody::MeterConfig { meter_id }).await? {
        MultipartReplyBody::MeterConfig(m) => {
            Ok(Json(keyed(dpid, m.iter().map(meter_config_to_json).collect())))
        }
        other => Err(wrong_reply("METER_CONFIG", &other)),
    }
}

pub async fn stats(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    meter_stats(&state, &dpid, meter_id::ALL).await
}

pub async fn stats_of(
    State(state): State<ApiState>,
    PathArgs((dpid, meter)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    meter_stats(&state, &dpid, meter_segment(meter)?).await
}

pub async fn config(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    meter_config(&state, &dpid, meter_id::ALL).await
}

pub async fn config_of(
    State(state): State<ApiState>,
    PathArgs((dpid, meter)): PathArgs<(String, String)>,
) -> Reply {
    parse_dpid(&dpid)?;
    meter_config(&state, &dpid, meter_segment(meter)?).await
}

pub async fn features(State(state): State<ApiState>, PathArgs(dpid): PathArgs<String>) -> Reply {
    let dpid = parse_dpid(&dpid)?;
    let dp = datapath(&state, dpid)?;
    match multipart(&dp, MultipartRequestBody::MeterFeatures).await? {
        MultipartReplyBody::MeterFeatures(f) => Ok(Json(keyed(dpid, json!([meter_features_to_json(&f)])))),
        other => Err(wrong_reply("METER_FEATURES", &other)),
    }
}

pub async fn modify(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(cmd): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    let command = match cmd.as_str() {
        "add" => MeterModCommand::Add,
        "modify" => MeterModCommand::Modify,
        "delete" => MeterModCommand::Delete,
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown meterentry command {other:?} (add, modify, delete)"
            )));
        }
    };
    let dpid = body_dpid(&body)?;
    let meter_mod = meter_mod_from_json(Obj::from_value("", &body)?, command)?;
    let dp = datapath(&state, dpid)?;
    send_confirmed(&state, &dp, Message::MeterMod(meter_mod)).await
}
