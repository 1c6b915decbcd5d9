//! The dashboard's routes, in process: the page and its assets, the sample photos, and the classify
//! proxy against a real `rudder-node` on loopback (the pool's "VIP" is the node's own address: the
//! proxy only needs something that answers `/predict` there), plus every 4xx reason for bad input.

#[path = "browser/harness.rs"]
mod harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode, header};
use rudder_controller::dashboard::{self, DashboardState, PoolSource, PoolTarget};
use serde_json::Value;
use tower::ServiceExt;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The dashboard as the REST API serves it: merged under the API's 1 MiB default body limit.
fn app(pools: Vec<PoolTarget>) -> Router {
    let state = DashboardState::with_timeout(
        PoolSource::Fixed(pools),
        harness::samples_dir(),
        Duration::from_secs(20),
    )
    .expect("dashboard state");
    Router::new()
        .merge(dashboard::router(state))
        .layer(DefaultBodyLimit::max(rudder_controller::rest::BODY_LIMIT))
}

/// A pool whose VIP nobody listens on.
fn dead_pool() -> PoolTarget {
    PoolTarget::new("dead", SocketAddr::new(LOOPBACK, harness::free_port(LOOPBACK)))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(&name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 64 << 20).await.unwrap().to_vec();
    Reply { status, headers, body }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
    send(app, Request::post(uri).header(header::CONTENT_TYPE, content_type).body(body.into()).unwrap()).await
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(harness::samples_dir().join(name)).unwrap()
}

fn multipart(field: &str, filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "rudder-dashboard-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn root_redirects_to_the_page_and_assets_have_types_and_etags() {
    let app = app(vec![]);
    let root = get(&app, "/").await;
    assert_eq!(root.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(root.header(header::LOCATION), "/dashboard/");

    let page = get(&app, "/dashboard/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
    let csp = page.header(header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("id=\"file-input\"") && html.contains("id=\"pools\""));

    let version =
        get(&app, "/dashboard/api/info").await.json()["asset_version"].as_str().unwrap().to_string();
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        assert!(html.contains(&format!("/dashboard/assets/{file}?v={version}")), "page links {file}");
        let asset = get(&app, &format!("/dashboard/assets/{file}")).await;
        assert_eq!(asset.status, StatusCode::OK, "{file}");
        assert_eq!(asset.header(header::CONTENT_TYPE), content_type, "{file}");
        assert!(!asset.body.is_empty());
        let etag = asset.header(header::ETAG).to_string();
        let again = send(
            &app,
            Request::get(format!("/dashboard/assets/{file}"))
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{file} revalidates with its ETag");
        assert!(again.body.is_empty());
    }
    let missing = get(&app, "/dashboard/assets/../../Cargo.toml").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = get(&app, "/dashboard/assets/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no dashboard asset named \"nope.js\"");
}

#[tokio::test]
async fn info_offers_every_algorithm() {
    let info = get(&app(vec![]), "/dashboard/api/info").await.json();
    let names: Vec<&str> =
        info["algorithms"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"round_robin") && names.contains(&"least_connections"));
}

#[tokio::test]
async fn samples_are_listed_with_expected_labels_and_served() {
    let app = app(vec![]);
    let list = get(&app, "/dashboard/api/samples").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    let chelsea =
        list.as_array().unwrap().iter().find(|s| s["name"] == "chelsea.png").expect("chelsea listed");
    assert_eq!(chelsea["content_type"], "image/png");
    assert_eq!(chelsea["expected"][0], "tiger cat");
    assert!(list.as_array().unwrap().iter().all(|s| s["name"] != "expected.json"), "only images");

    let photo = get(&app, chelsea["url"].as_str().unwrap()).await;
    assert_eq!(photo.status, StatusCode::OK);
    assert_eq!(photo.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(photo.body, sample("chelsea.png"));

    for bad in ["/dashboard/api/samples/expected.json", "/dashboard/api/samples/..%2F..%2FCargo.toml"] {
        let reply = get(&app, bad).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(reply.json()["field"], "name");
    }
}

#[tokio::test]
async fn bad_classify_input_gets_a_4xx_naming_the_reason() {
    let app = app(vec![dead_pool()]);
    let png = sample("chelsea.png");

    /// (query, content type, body, expected status, field blamed, words in the message)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, StatusCode, &'a str, &'a str);
    let c = "/dashboard/api/classify";
    let cases: Vec<Case> = vec![
        ("", "image/png", png.clone(), StatusCode::BAD_REQUEST, "pool", "pool"),
        ("?pool=v9", "image/png", png.clone(), StatusCode::NOT_FOUND, "pool", "known: dead"),
        ("?pool=dead&top_k=0", "image/png", png.clone(), StatusCode::BAD_REQUEST, "top_k", "top_k"),
        ("?pool=dead", "image/png", vec![], StatusCode::BAD_REQUEST, "body", "empty"),
        (
            "?pool=dead",
            "text/plain",
            b"hi".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            "text/plain",
        ),
        (
            "?pool=dead",
            "image/png",
            b"<!DOCTYPE html>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body",
            "not a PNG",
        ),
    ];
    for (query, content_type, body, status, field, says) in cases {
        let uri = format!("{c}{query}");
        let reply = post(&app, &uri, content_type, body).await;
        let json = reply.json();
        assert_eq!(reply.status, status, "{uri} {content_type}: {json}");
        assert_eq!(json["field"], field, "{uri}: {json}");
        assert!(json["error"].as_str().unwrap().contains(says), "{uri}: {json}");
    }

    let (content_type, body) = multipart("photo", "chelsea.png", &png);
    let reply = post(&app, "/dashboard/api/classify?pool=dead", &content_type, body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["field"], "file");

    let huge = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0u8; dashboard::CLASSIFY_BODY_LIMIT + 1]].concat();
    let reply = post(&app, "/dashboard/api/classify?pool=dead", "image/png", huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unreachable_pool_is_502_and_large_images_pass_the_api_body_limit() {
    let dead = dead_pool();
    let app = app(vec![dead.clone()]);
    // 2 MiB: over the REST API's 1 MiB default, under the classify limit, so it reaches the proxy.
    let big = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![7u8; 2 << 20]].concat();
    let reply = post(&app, "/dashboard/api/classify?pool=dead", "image/png", big).await;
    let json = reply.json();
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{json}");
    assert_eq!(json["via"], dead.addr.to_string());
    assert!(
        json["error"].as_str().unwrap().starts_with(&format!("could not reach the pool at {}", dead.addr))
    );
}

#[tokio::test]
async fn classify_goes_through_the_pool_to_a_real_node() {
    let node = harness::Node::start(LOOPBACK, "v1", "dash-api-n1").await;
    let app = app(vec![PoolTarget::new("v1", node.addr), dead_pool()]);

    let pools = get(&app, "/dashboard/api/pools").await.json();
    assert_eq!(pools[0]["name"], "v1");
    assert_eq!(pools[0]["via"], node.addr.to_string());

    // Raw body: the cat photo.
    let reply =
        post(&app, "/dashboard/api/classify?pool=v1&top_k=3", "image/png", sample("chelsea.png")).await;
    let json = reply.json();
    assert_eq!(reply.status, StatusCode::OK, "{json}");
    assert_eq!(json["node_id"], "dash-api-n1");
    assert_eq!(json["via"], node.addr.to_string());
    assert_eq!(json["pool"], "v1");
    assert!(json["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(json["model"]["version"], "v1", "{json}");
    let labels: Vec<&str> =
        json["predictions"].as_array().unwrap().iter().map(|p| p["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 3);
    assert!(["tiger cat", "Egyptian cat", "tabby"].contains(&labels[0]), "chelsea is a cat: {labels:?}");

    // Multipart with a `file` field, as a browser form sends it.
    let (content_type, body) = multipart("file", "coffee.png", &sample("coffee.png"));
    let reply = post(&app, "/dashboard/api/classify?pool=v1", &content_type, body).await;
    let json = reply.json();
    assert_eq!(reply.status, StatusCode::OK, "{json}");
    assert_eq!(json["predictions"][0]["label"], "espresso");
    assert_eq!(json["predictions"].as_array().unwrap().len(), 5, "top_k defaults to 5");

    // A PNG signature over garbage: the node refuses it, and its status and message come back.
    let broken = [b"\x89PNG\r\n\x1a\n".as_slice(), &[1u8; 64]].concat();
    let direct = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{}/predict", node.addr))
        .header("content-type", "image/png")
        .body(broken.clone())
        .send()
        .await
        .unwrap();
    let direct_status = direct.status().as_u16();
    let direct_json: Value = direct.json().await.unwrap();
    let reply = post(&app, "/dashboard/api/classify?pool=v1", "image/png", broken).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    assert_eq!(reply.status.as_u16(), direct_status, "the node's status is passed through");
    let json = reply.json();
    assert_eq!(json["error"], direct_json["error"], "the node's message is passed through");
    assert_eq!(json["via"], node.addr.to_string());
}
