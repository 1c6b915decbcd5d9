//! `POST /stats/experimenter/{dpid}`: sends an OFPT_EXPERIMENTER message, as Ryu's
//! `ofctl_v1_3.send_experimenter`. Body: `{"experimenter": 8992, "exp_type": 0, "data_type":
//! "ascii" | "base64", "data": "..."}` (every key optional, as in Ryu). 200 with an empty body once
//! the switch has answered a barrier sent after it; 400 with the OpenFlow error if it refused the
//! message (Open vSwitch answers an experimenter id it does not know with BAD_EXPERIMENTER).

use axum::extract::State;
use ofproto::Message;
use ofproto::experimenter::Experimenter;

use super::auth::Authorized;
use super::error::{ApiError, JsonBody, PathArgs};
use super::ofctl_json::{Obj, experimenter_data};
use super::{ApiState, datapath, parse_dpid, send_confirmed};

const U32: u64 = u32::MAX as u64;

/// The message a Ryu-style body describes.
pub fn experimenter_from_json(body: &serde_json::Value) -> Result<Experimenter, ApiError> {
    let obj = Obj::from_value("", body)?;
    Ok(Experimenter {
        experimenter: obj.uint("experimenter", 0, U32)? as u32,
        exp_type: obj.uint("exp_type", 0, U32)? as u32,
        data: experimenter_data(obj)?.into(),
    })
}

pub async fn send(
    _auth: Authorized,
    State(state): State<ApiState>,
    PathArgs(dpid): PathArgs<String>,
    JsonBody(body): JsonBody,
) -> Result<(), ApiError> {
    let dpid = parse_dpid(&dpid)?;
    let message = experimenter_from_json(&body)?;
    let dp = datapath(&state, dpid)?;
    send_confirmed(&state, &dp, Message::Experimenter(message)).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bodies_as_ryu_reads_them() {
        let m = experimenter_from_json(&json!({"experimenter": 8992, "exp_type": 7, "data": "hi"})).unwrap();
        assert_eq!((m.experimenter, m.exp_type, &m.data[..]), (8992, 7, &b"hi"[..]));
        let m = experimenter_from_json(&json!({"data_type": "base64", "data": "AAEC"})).unwrap();
        assert_eq!((m.experimenter, &m.data[..]), (0, &[0u8, 1, 2][..]));
        let err = experimenter_from_json(&json!({"experimenter": -1})).unwrap_err().to_string();
        assert!(err.starts_with("experimenter:"), "{err}");
        let err = experimenter_from_json(&json!({"data": "é"})).unwrap_err().to_string();
        assert!(err.starts_with("data:"), "{err}");
        let err = experimenter_from_json(&json!({"data_type": "hex"})).unwrap_err().to_string();
        assert!(err.starts_with("data_type:"), "{err}");
    }
}
