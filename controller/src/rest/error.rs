//! `ApiError`: every way a REST request can fail, with its HTTP status and JSON body
//! (`{"error": "<kind>", "detail": "<what failed>"}`), and the body extractor that maps axum's
//! rejections through it.
//!
//! Status codes: 400 for a bad dpid, path segment or body (the detail names the JSON field), 401 for
//! a missing or wrong bearer token, 404 for an unknown switch, route or sub-command (as Ryu), 405 for
//! a wrong method, 413 for a body over the limit. When the switch itself refuses a request (an
//! OFPT_ERROR, OF1.3.5 §7.4.4) the answer is **400** with `"error": "rejected by switch"` and the
//! OpenFlow error type and code named and numbered: the request reached the switch and was refused,
//! so it is the request that must change. A switch that disconnects mid-request or whose queue is
//! full gives 503, one that does not answer in time 504, and a reply that makes no sense 502.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ofproto::error_msg::ErrorMsg;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::ofctl_json::BodyError;
use crate::ofp::datapath::{RequestError, SendError};

/// A failed REST request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body, a path segment or the dpid is malformed; the text names the field.
    #[error("{0}")]
    BadRequest(String),
    /// No switch with this datapath id is connected.
    #[error("no switch with dpid {0} is connected")]
    UnknownSwitch(u64),
    /// No such route or sub-command.
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A mutating route without the configured bearer token.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The switch answered with OFPT_ERROR.
    #[error("the switch refused the request: {}", describe_switch_error(.0))]
    Switch(Box<ErrorMsg>),
    /// The switch disconnected or its outgoing queue is full.
    #[error("{0}")]
    SwitchUnavailable(String),
    #[error("the switch did not answer within {0:?}")]
    SwitchTimeout(Duration),
    /// The switch's reply was not what the request asks for.
    #[error("unexpected reply from the switch: {0}")]
    BadReply(String),
}

/// `FlowModFailed(TableFull) (type 5, code 1)`.
fn describe_switch_error(e: &ErrorMsg) -> String {
    let (t, c) = e.error.type_code();
    format!("{:?} (type {t}, code {c})", e.error)
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Closed => ApiError::SwitchUnavailable("the switch disconnected".into()),
            RequestError::Timeout(d) => ApiError::SwitchTimeout(d),
            RequestError::Switch(msg) => ApiError::Switch(msg),
            RequestError::Multipart(m) => ApiError::BadReply(m),
            RequestError::Encode(e) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Encode(e) => ApiError::BadRequest(e.to_string()),
            SendError::Closed | SendError::Full => ApiError::SwitchUnavailable(e.to_string()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(super::BODY_LIMIT)
        } else {
            ApiError::BadRequest(format!("body: {}", r.body_text()))
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(super::BODY_LIMIT)
        } else {
            ApiError::BadRequest(format!("body: {}", r.body_text()))
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(format!("path: {}", r.body_text()))
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Switch(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownSwitch(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::SwitchUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SwitchTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::BadReply(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad request",
            ApiError::UnknownSwitch(_) | ApiError::NotFound(_) => "not found",
            ApiError::MethodNotAllowed => "method not allowed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::PayloadTooLarge(_) => "payload too large",
            ApiError::Switch(_) => "rejected by switch",
            ApiError::SwitchUnavailable(_) => "switch unavailable",
            ApiError::SwitchTimeout(_) => "switch timeout",
            ApiError::BadReply(_) => "bad reply from switch",
        }
    }

    /// The JSON body of the error response.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.kind(), "detail": self.to_string()});
        if let ApiError::Switch(msg) = self {
            let (t, c) = msg.error.type_code();
            body["of_error"] = json!({"name": format!("{:?}", msg.error), "type": t, "code": c});
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = (self.status(), Json(self.body())).into_response();
        if self == ApiError::Unauthorized { super::auth::with_challenge(response) } else { response }
    }
}

/// A JSON request body, whatever its Content-Type (Ryu clients often send `curl -d` bodies as
/// form-encoded). An empty body is `{}`; a body that is not JSON is a 400 naming the position.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(ApiError::from)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("body: invalid JSON: {e}")))
    }
}

/// Path parameters, with a malformed segment (e.g. percent-encoded bytes that are not UTF-8) answered
/// by the same JSON 400 as every other bad input rather than axum's plain-text rejection.
pub struct PathArgs<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(t)| PathArgs(t)).map_err(ApiError::from)
    }
}
