//! `POST /dashboard/api/classify?pool=NAME&top_k=5`: the page's upload, forwarded to the pool's VIP.
//!
//! The controller posts the image to `http://<VIP>:<first port>/predict` like any client would. When
//! the controller runs on a host attached to the bridge (the host-access internal port of `rudder up`),
//! that connection is a new TCP flow through the switch: the load balancer traps its first packet,
//! picks a backend and installs the steering rules, so the answer names whichever node the algorithm
//! chose. The node's JSON comes back unchanged plus `via` (the VIP:port asked), `pool` and
//! `elapsed_ms` (the whole round trip as the controller saw it).
//!
//! Input is checked before anything is sent: a pool name, an optional `top_k`, and a body that is a
//! raw image (`image/*`, `application/octet-stream` or no type) or `multipart/form-data` with a `file`
//! field, whose first bytes are a PNG, JPEG, GIF, WebP or BMP signature. A node's own error answer
//! (e.g. 503 while its model loads) is passed through with its status.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pools::error_chain;
use super::{DashboardError, DashboardState};

/// Largest `top_k` (the node's own limit).
const MAX_TOP_K: u32 = 1000;

#[derive(Debug, Deserialize)]
pub struct ClassifyParams {
    pool: Option<String>,
    top_k: Option<String>,
}

/// The image types the node decodes, by signature: the type to send it as, or `None`.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        Some("image/bmp")
    } else {
        None
    }
}

/// `top_k` as the node accepts it.
pub fn parse_top_k(text: Option<&str>) -> Result<u32, DashboardError> {
    match text {
        None => Ok(5),
        Some(t) => match t.trim().parse::<u32>() {
            Ok(k) if (1..=MAX_TOP_K).contains(&k) => Ok(k),
            _ => Err(DashboardError::BadTopK(t.to_string())),
        },
    }
}

/// The handler.
pub async fn classify(
    State(state): State<DashboardState>,
    query: Result<Query<ClassifyParams>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<Response, DashboardError> {
    let Query(params) = query.map_err(|e| DashboardError::BadQuery(e.body_text()))?;
    let pool_name = params.pool.filter(|p| !p.is_empty()).ok_or(DashboardError::MissingPool)?;
    let top_k = parse_top_k(params.top_k.as_deref())?;
    let image = read_image(request).await?;
    let content_type =
        sniff_image(&image).ok_or_else(|| DashboardError::NotAnImage(describe_start(&image)))?;

    let target = state.pools().resolve(state.client(), &pool_name).await?;
    let via = target.addr.to_string();
    let url = format!("http://{via}/predict?top_k={top_k}");
    let started = Instant::now();
    let sent = state
        .client()
        .post(&url)
        .header(header::CONTENT_TYPE, content_type)
        .timeout(state.classify_timeout())
        .body(image)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Err(DashboardError::NodeTimeout { via, after: state.classify_timeout() });
        }
        Err(e) => return Err(DashboardError::NodeUnreachable { via, reason: error_chain(&e) }),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => {
            return Err(DashboardError::NodeTimeout { via, after: state.classify_timeout() });
        }
        Err(e) => return Err(DashboardError::BadNodeReply { via, reason: error_chain(&e) }),
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut answer)) => {
            answer.insert("via".into(), json!(via));
            answer.insert("pool".into(), json!(pool_name));
            answer.insert("elapsed_ms".into(), json!((elapsed_ms * 1000.0).round() / 1000.0));
            Ok((status, Json(Value::Object(answer))).into_response())
        }
        _ if status.is_success() => Err(DashboardError::BadNodeReply {
            via,
            reason: format!("status {status} with a body that is not a JSON object ({} bytes)", body.len()),
        }),
        // A failing node that does not speak JSON: keep its status, say what it said.
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
            let error = format!("the node behind {via} answered {status}: {text}");
            Ok((status, Json(json!({"error": error, "via": via, "pool": pool_name}))).into_response())
        }
    }
}

/// The image bytes of a raw or multipart body.
async fn read_image(request: Request) -> Result<Bytes, DashboardError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_string();
    let bytes = if essence == "multipart/form-data" {
        let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                DashboardError::TooLarge(super::CLASSIFY_BODY_LIMIT)
            } else {
                DashboardError::BadMultipart(e.body_text())
            }
        })?;
        loop {
            let field = multipart.next_field().await.map_err(multipart_error)?;
            let Some(field) = field else { return Err(DashboardError::NoFileField) };
            if field.name() == Some("file") {
                break field.bytes().await.map_err(multipart_error)?;
            }
        }
    } else if essence.is_empty() || essence.starts_with("image/") || essence == "application/octet-stream" {
        Bytes::from_request(request, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                DashboardError::TooLarge(super::CLASSIFY_BODY_LIMIT)
            } else {
                DashboardError::BadBody(e.body_text())
            }
        })?
    } else {
        return Err(DashboardError::UnsupportedContentType(content_type));
    };
    if bytes.is_empty() {
        return Err(DashboardError::EmptyBody);
    }
    Ok(bytes)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> DashboardError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        DashboardError::TooLarge(super::CLASSIFY_BODY_LIMIT)
    } else {
        DashboardError::BadMultipart(e.body_text())
    }
}

/// The first bytes of a body, for an error message: `"<!DOCTYPE" (3c 21 44 4f ...)`.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect();
    format!("{text:?} ({})", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_formats_the_node_decodes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(&[b"BM".as_slice(), &[0; 40]].concat()), Some("image/bmp"));
        assert_eq!(sniff_image(b"BM"), None, "too short for a BMP header");
        assert_eq!(sniff_image(b"<!DOCTYPE html>"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn top_k_defaults_to_five_and_is_bounded() {
        assert_eq!(parse_top_k(None).unwrap(), 5);
        assert_eq!(parse_top_k(Some("3")).unwrap(), 3);
        assert_eq!(parse_top_k(Some("0")).unwrap_err(), DashboardError::BadTopK("0".into()));
        assert!(parse_top_k(Some("1001")).is_err());
        assert!(parse_top_k(Some("five")).is_err());
    }

    #[test]
    fn describes_what_a_non_image_starts_with() {
        assert_eq!(describe_start(b"hello\x00world"), "\"hello.wo\" (68 65 6c 6c 6f 00 77 6f)");
    }
}
