//! `DashboardError`: every way a dashboard route can fail, with its HTTP status and a JSON body in the
//! load balancer's error shape, `{"error": "<what failed>", "field": "<which input>"}` (`field` only when
//! one input is to blame), so the page can show the message as is.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed dashboard request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DashboardError {
    #[error("query: the pool to classify with is missing (add ?pool=NAME)")]
    MissingPool,
    #[error("unknown pool {name:?} (known: {})", list_or_none(.known))]
    UnknownPool { name: String, known: Vec<String> },
    #[error("query: {0}")]
    BadQuery(String),
    #[error("top_k must be an integer in 1..=1000, got {0:?}")]
    BadTopK(String),
    #[error("the body is empty: send an image (raw image/* body or multipart field \"file\")")]
    EmptyBody,
    #[error(
        "content type {0:?} is not accepted: send image/*, application/octet-stream or multipart/form-data"
    )]
    UnsupportedContentType(String),
    #[error("the body is not a PNG, JPEG, GIF, WebP or BMP image (it starts with {0})")]
    NotAnImage(String),
    #[error("body: {0}")]
    BadBody(String),
    #[error("the multipart body has no \"file\" field")]
    NoFileField,
    #[error("multipart body: {0}")]
    BadMultipart(String),
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    /// The load balancer's pool list could not be read (the app does not run, or the API is down).
    #[error("{0}")]
    LbUnavailable(String),
    #[error("could not reach the pool at {via}: {reason}")]
    NodeUnreachable { via: String, reason: String },
    #[error("the pool at {via} did not answer within {after:?}")]
    NodeTimeout { via: String, after: Duration },
    #[error("the node behind {via} sent an unusable answer: {reason}")]
    BadNodeReply { via: String, reason: String },
    #[error("samples directory {dir}: {reason}")]
    SamplesUnavailable { dir: String, reason: String },
    #[error("no sample named {0:?}")]
    UnknownSample(String),
    #[error("no dashboard asset named {0:?}")]
    UnknownAsset(String),
    /// The HTTP client could not be built (only at start-up).
    #[error("building the HTTP client: {0}")]
    Client(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

impl DashboardError {
    pub fn status(&self) -> StatusCode {
        use DashboardError::*;
        match self {
            MissingPool | BadQuery(_) | BadTopK(_) | EmptyBody | BadBody(_) | NoFileField
            | BadMultipart(_) => StatusCode::BAD_REQUEST,
            UnsupportedContentType(_) | NotAnImage(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownPool { .. } | UnknownSample(_) | UnknownAsset(_) | SamplesUnavailable { .. } => {
                StatusCode::NOT_FOUND
            }
            LbUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            NodeUnreachable { .. } | BadNodeReply { .. } => StatusCode::BAD_GATEWAY,
            NodeTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The input to blame, if one is.
    pub fn field(&self) -> Option<&'static str> {
        use DashboardError::*;
        match self {
            MissingPool | UnknownPool { .. } => Some("pool"),
            BadTopK(_) => Some("top_k"),
            EmptyBody | BadBody(_) | NotAnImage(_) | TooLarge(_) => Some("body"),
            UnsupportedContentType(_) => Some("content-type"),
            NoFileField | BadMultipart(_) => Some("file"),
            UnknownSample(_) => Some("name"),
            _ => None,
        }
    }

    /// The JSON body of the error response.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": self.to_string()});
        if let Some(field) = self.field() {
            body["field"] = json!(field);
        }
        match self {
            DashboardError::NodeUnreachable { via, .. }
            | DashboardError::NodeTimeout { via, .. }
            | DashboardError::BadNodeReply { via, .. } => body["via"] = json!(via),
            _ => {}
        }
        body
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pool_names_the_field_and_the_known_pools() {
        let e = DashboardError::UnknownPool { name: "v9".into(), known: vec!["v1".into(), "v2".into()] };
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.body(), json!({"error": "unknown pool \"v9\" (known: v1, v2)", "field": "pool"}),);
        let none = DashboardError::UnknownPool { name: "x".into(), known: vec![] };
        assert!(none.to_string().ends_with("(known: none)"));
    }

    #[test]
    fn node_failures_carry_the_address_they_went_to() {
        let e = DashboardError::NodeTimeout { via: "10.0.0.100:8000".into(), after: Duration::from_secs(2) };
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.body()["via"], "10.0.0.100:8000");
        assert!(e.body().get("field").is_none());
    }
}
