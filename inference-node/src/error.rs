//! The node's one HTTP error type: every failure a client can see maps to a status code and a
//! JSON body `{"error", "detail", "request_id"}`. Server-side (5xx) details are logged, never
//! returned, so internals do not leak to clients.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::preprocess::{ImageInputError, SUPPORTED_FORMATS_TEXT};
use crate::request_id;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is empty; send an image as the body or as multipart field `file`")]
    EmptyBody,
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "content type `{0}` is not accepted; send image/* or multipart/form-data ({formats})",
        formats = SUPPORTED_FORMATS_TEXT
    )]
    UnsupportedContentType(String),
    #[error(transparent)]
    Image(#[from] ImageInputError),
    #[error("the request body is over the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(std::time::Duration),
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("no such route")]
    NotFound,
    #[error("the model is still loading; retry shortly")]
    NotReady,
    #[error("the node is full ({capacity} requests queued or admitted); retry shortly")]
    Overloaded { capacity: usize },
    #[error("the node is shutting down")]
    ShuttingDown,
    /// Internal failure; the string is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::EmptyBody | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Image(e) => match e {
                ImageInputError::NotAnImage | ImageInputError::UnsupportedFormat(_) => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                ImageInputError::TooManyPixels { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                ImageInputError::Corrupt(_) => StatusCode::BAD_REQUEST,
            },
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::NotReady | ApiError::Overloaded { .. } | ApiError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short machine-readable code for the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::EmptyBody => "empty_body",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedContentType(_) => "unsupported_media_type",
            ApiError::Image(ImageInputError::NotAnImage) => "not_an_image",
            ApiError::Image(ImageInputError::UnsupportedFormat(_)) => "unsupported_image_format",
            ApiError::Image(ImageInputError::TooManyPixels { .. }) => "image_too_large",
            ApiError::Image(ImageInputError::Corrupt(_)) => "corrupt_image",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::NotReady => "loading",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub detail: String,
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = request_id::current().unwrap_or_default();
        let detail = if status.is_server_error() && !matches!(status, StatusCode::SERVICE_UNAVAILABLE) {
            tracing::error!(error = %self, "request failed");
            "internal error; see the node's logs for this request id".to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody { error: self.code(), detail, request_id };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // RFC 9110 §10.2.3: tell well-behaved clients when to come back.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body_json(err: ApiError) -> (StatusCode, Option<HeaderValue>, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).cloned();
        let bytes = to_bytes(response.into_body(), 1 << 16).await.expect("body");
        (status, retry, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn each_error_maps_to_its_status_and_code() {
        let cases = [
            (ApiError::EmptyBody, 400, "empty_body"),
            (ApiError::Image(ImageInputError::NotAnImage), 415, "not_an_image"),
            (ApiError::Image(ImageInputError::Corrupt("eof".into())), 400, "corrupt_image"),
            (
                ApiError::Image(ImageInputError::TooManyPixels { width: 50_000, height: 50_000, limit: 10 }),
                413,
                "image_too_large",
            ),
            (ApiError::PayloadTooLarge { limit: 10 }, 413, "payload_too_large"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::Overloaded { capacity: 4 }, 503, "overloaded"),
            (ApiError::NotReady, 503, "loading"),
        ];
        for (err, status, code) in cases {
            let (got_status, _, json) = body_json(err).await;
            assert_eq!(got_status.as_u16(), status, "{code}");
            assert_eq!(json["error"], code);
            assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()));
            assert!(json.get("request_id").is_some());
        }
    }

    #[tokio::test]
    async fn unsupported_format_lists_supported_formats() {
        let (_, _, json) = body_json(ApiError::Image(ImageInputError::NotAnImage)).await;
        let detail = json["detail"].as_str().expect("detail");
        for format in ["jpeg", "png", "gif", "bmp", "webp"] {
            assert!(detail.contains(format), "{detail}");
        }
    }

    #[tokio::test]
    async fn overload_sets_retry_after() {
        let (_, retry, _) = body_json(ApiError::Overloaded { capacity: 1 }).await;
        assert_eq!(retry.as_ref().and_then(|v| v.to_str().ok()), Some("1"));
    }

    #[tokio::test]
    async fn internal_details_are_not_returned() {
        let (status, _, json) = body_json(ApiError::Internal("secret path /etc/x".into())).await;
        assert_eq!(status, 500);
        assert!(!json["detail"].as_str().unwrap_or_default().contains("secret"));
    }
}
