//! Router tests without a switch: dpid parsing, auth, body errors naming fields, 404s, 413, /metrics.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::metrics::Metrics;
use crate::ofp::registry::DatapathRegistry;

fn state(token: Option<&str>) -> ApiState {
    let controller = Controller {
        config: std::sync::Arc::new(crate::Config::default()),
        metrics: Metrics::new(),
        registry: DatapathRegistry::new(),
        topology: None,
        lb: None,
    };
    ApiState::new(controller, token.map(str::to_string))
}

async fn call(
    state: ApiState,
    method: Method,
    uri: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
    let response = router(state).oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

#[test]
fn dpid_parsing_is_ryus() {
    assert_eq!(parse_dpid("1"), Ok(1));
    assert_eq!(parse_dpid("0x1a"), Ok(26));
    assert_eq!(parse_dpid("0X00000000000000FF"), Ok(255));
    assert_eq!(parse_dpid("18446744073709551615"), Ok(u64::MAX));
    assert!(parse_dpid("0001").is_err());
    assert!(parse_dpid("abc").is_err());
    assert!(parse_dpid("18446744073709551616").is_err());
    assert_eq!(body_dpid(&json!({"dpid": "0x10"})), Ok(16));
    assert_eq!(body_dpid(&json!({"dpid": 7})), Ok(7));
    assert_eq!(body_dpid(&json!({})), Err(ApiError::BadRequest("dpid: missing".into())));
    assert!(body_dpid(&json!({"dpid": -1})).is_err());
}

#[tokio::test]
async fn switches_is_an_empty_list_without_switches() {
    let (status, body) = call(state(None), Method::GET, "/stats/switches", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn unknown_switch_is_404_bad_dpid_is_400() {
    for uri in [
        "/stats/flow/1",
        "/stats/desc/0x1",
        "/stats/portdesc/5",
        "/stats/port/1/2",
        "/stats/meter/1/ALL",
        "/stats/role/1",
    ] {
        let (status, body) = call(state(None), Method::GET, uri, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["error"], "not found", "{uri}");
        assert!(body["detail"].as_str().unwrap().contains("no switch with dpid"), "{uri}: {body}");
    }
    let (status, body) = call(state(None), Method::GET, "/stats/flow/zz", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().starts_with("dpid:"), "{body}");
    let (status, _) = call(state(None), Method::GET, "/stats/port/1/nowhere", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(state(None), Method::GET, "/stats/flow/%FF", None, None).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::BAD_REQUEST, json!("bad request")), "{body}");
}

#[tokio::test]
async fn bad_body_names_the_field() {
    let body = r#"{"dpid": 1, "match": {"ipv4_dst": "10.0.0.x"}, "actions": []}"#;
    let (status, v) = call(state(None), Method::POST, "/stats/flowentry/add", Some(body), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        v,
        json!({"error": "bad request", "detail": "match.ipv4_dst: invalid IPv4 address \"10.0.0.x\""})
    );

    let body = r#"{"dpid": 1, "actions": [{"type": "OUTPUT", "port": "sideways"}]}"#;
    let (_, v) = call(state(None), Method::POST, "/stats/flowentry/add", Some(body), None).await;
    assert!(v["detail"].as_str().unwrap().starts_with("actions[0].port:"), "{v}");

    let (status, v) =
        call(state(None), Method::POST, "/stats/flowentry/add", Some("{\"dpid\": 1,"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["detail"].as_str().unwrap().starts_with("body: invalid JSON"), "{v}");

    let (status, v) =
        call(state(None), Method::POST, "/stats/meterentry/add", Some(r#"{"meter_id": 1}"#), None).await;
    assert_eq!((status, v["detail"].clone()), (StatusCode::BAD_REQUEST, json!("dpid: missing")));
}

#[tokio::test]
async fn valid_body_for_unknown_switch_is_404() {
    let body =
        r#"{"dpid": 1, "priority": 10, "match": {"in_port": 1}, "actions": [{"type": "OUTPUT", "port": 2}]}"#;
    let (status, _) = call(state(None), Method::POST, "/stats/flowentry/add", Some(body), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(state(None), Method::POST, "/stats/flowentry/frobnicate", Some(body), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown sub-command, as Ryu");
}

#[tokio::test]
async fn mutating_routes_need_the_token() {
    let body = r#"{"dpid": 1, "match": {}, "actions": []}"#;
    let (status, v) =
        call(state(Some("s3cret")), Method::POST, "/stats/flowentry/add", Some(body), None).await;
    assert_eq!((status, v["error"].clone()), (StatusCode::UNAUTHORIZED, json!("unauthorized")));
    let (status, _) =
        call(state(Some("s3cret")), Method::POST, "/stats/flowentry/add", Some(body), Some("guess")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        call(state(Some("s3cret")), Method::DELETE, "/stats/flowentry/clear/1", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        call(state(Some("s3cret")), Method::POST, "/stats/role", Some(r#"{"dpid": 1}"#), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // With the token the request gets past auth (and fails on the absent switch instead).
    let (status, _) =
        call(state(Some("s3cret")), Method::POST, "/stats/flowentry/add", Some(body), Some("s3cret")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Reads need no token, the filtered flow POST included.
    let (status, _) = call(state(Some("s3cret")), Method::GET, "/stats/switches", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(state(Some("s3cret")), Method::POST, "/stats/flow/1", Some("{}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let big = format!("{{\"dpid\": 1, \"pad\": \"{}\"}}", "x".repeat(BODY_LIMIT + 10));
    let (status, v) = call(state(None), Method::POST, "/stats/flowentry/add", Some(&big), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"], "payload too large");
}

#[tokio::test]
async fn unknown_route_and_method_are_json() {
    let (status, v) = call(state(None), Method::GET, "/stats/nothing/1", None, None).await;
    assert_eq!((status, v["error"].clone()), (StatusCode::NOT_FOUND, json!("not found")));
    let (status, v) = call(state(None), Method::PUT, "/stats/switches", None, None).await;
    assert_eq!((status, v["error"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!("method not allowed")));
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let s = state(None);
    s.controller.metrics.dp_connected.set(3);
    let req = Request::builder().uri("/metrics").body(Body::empty()).unwrap();
    let response = router(s).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = String::from_utf8(to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("of_dp_connected 3"), "{text}");
}

#[tokio::test]
async fn extra_routes_are_merged() {
    let extra = Router::new().route("/v1.0/topology/switches", get(|| async { axum::Json(json!(["topo"])) }));
    let s = state(None).with_routes(extra);
    let (status, v) = call(s, Method::GET, "/v1.0/topology/switches", None, None).await;
    assert_eq!((status, v), (StatusCode::OK, json!(["topo"])));
}

#[test]
fn switch_errors_are_named() {
    use ofproto::error_msg::{ErrorMsg, ErrorType, FlowModFailedCode};
    let e = ApiError::Switch(Box::new(ErrorMsg::new(
        ErrorType::FlowModFailed(FlowModFailedCode::TableFull),
        &[],
    )));
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    let body = e.body();
    assert_eq!(body["error"], "rejected by switch");
    assert_eq!(body["of_error"]["type"], 5);
    assert!(body["detail"].as_str().unwrap().contains("TableFull"), "{body}");
}
