//! The `/lb/*` REST API on a running controller (no switch needed): pools and backends created,
//! changed and deleted, the error contract (`{"error", "field"}` with 400/401/404/409), and the
//! `rudder_lb_*` metrics appearing for a new pool.

mod support;

use reqwest::{Method, StatusCode};
use rudder_controller::Config;
use rudder_controller::apps::lb::config::LbConfig;
use serde_json::{Value, json};
use support::controller::TestController;

const TOKEN: &str = "lb-token";

async fn controller() -> TestController {
    let lb: LbConfig = toml::from_str(
        r#"
        probe_interval_ms = 60000
        [[pools]]
        name = "v1"
        vip = "10.9.0.100"
        [[pools.backends]]
        ip = "10.9.0.11"
        [[pools.backends]]
        ip = "10.9.0.12"
        weight = 2
        "#,
    )
    .expect("valid [lb]");
    let config = Config { apps: vec!["l2switch".into(), "lb".into()], lb, ..Config::default() };
    TestController::start_with(config, Some(TOKEN)).await
}

async fn call(
    ctl: &TestController,
    method: Method,
    path: &str,
    body: Option<Value>,
    token: bool,
) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method, ctl.url(path));
    if token {
        req = req.bearer_auth(TOKEN);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn pools_and_backends_over_rest_with_the_error_contract() {
    let ctl = controller().await;

    let (s, pools) = call(&ctl, Method::GET, "/lb/pools", None, false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pools[0]["name"], "v1");
    assert_eq!(pools[0]["backends"][1]["weight"], 2);
    assert_eq!(pools[0]["backends"][0]["health"], "unknown", "not probed yet");
    assert_eq!(pools[0]["backends"][0]["health_url"], "http://10.9.0.11:8000/health");

    // Mutating routes need the token.
    let pool = json!({"name": "v2", "vip": "10.9.0.101", "algorithm": "least_connections",
                      "backends": [{"ip": "10.9.0.21", "model_version": "v2"}]});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(pool.clone()), false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(pool.clone()), true).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["algorithm"], "least_connections");
    assert_eq!(body["backends"][0]["model_version"], "v2");
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(pool), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("name")), "{body}");
    let clash = json!({"name": "v3", "vip": "10.9.0.101", "backends": [{"ip": "10.9.0.31"}]});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(clash), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("vip")), "{body}");
    let typo =
        json!({"name": "v3", "vip": "10.9.0.102", "algoritm": "random", "backends": [{"ip": "10.9.0.31"}]});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(typo), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("algoritm")), "{body}");
    let steering =
        json!({"name": "v3", "vip": "10.9.0.102", "steering": "ebpf", "backends": [{"ip": "10.9.0.31"}]});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(steering), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("steering")), "{body}");
    let tracked = json!({"name": "ct", "vip": "10.9.0.103", "steering": "conntrack", "backends": [{"ip": "10.9.0.31"}]});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(tracked), true).await;
    assert_eq!((s, body["steering"].as_str()), (StatusCode::CREATED, Some("conntrack")), "{body}");
    let (s, _) = call(&ctl, Method::DELETE, "/lb/pools/ct", None, true).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = call(&ctl, Method::GET, "/lb/pools/v2", None, false).await;
    assert_eq!((s, body["steering"].as_str()), (StatusCode::OK, Some("flow_rules")), "the default: {body}");
    let empty = json!({"name": "v3", "vip": "10.9.0.102"});
    let (s, body) = call(&ctl, Method::POST, "/lb/pools", Some(empty), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("backends")), "{body}");

    // The algorithm.
    let (s, body) = call(&ctl, Method::GET, "/lb/pools/v1/algorithm", None, false).await;
    assert_eq!((s, body.clone()), (StatusCode::OK, json!({"algorithm": "round_robin"})));
    let (s, body) =
        call(&ctl, Method::PUT, "/lb/pools/v1/algorithm", Some(json!({"algorithm": "foo"})), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("algorithm")));
    assert!(
        body["error"].as_str().unwrap_or("").starts_with("unknown algorithm \"foo\" (known: round_robin"),
        "{body}"
    );
    let (s, _) = call(
        &ctl,
        Method::PUT,
        "/lb/pools/v1/algorithm",
        Some(json!({"algorithm": "consistent_hash"})),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, body) = call(&ctl, Method::GET, "/lb/pools/v1/algorithm", None, false).await;
    assert_eq!(body["algorithm"], "consistent_hash");
    let (s, _) = call(&ctl, Method::GET, "/lb/pools/nope/algorithm", None, false).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Backends: add, duplicate, patch, remove.
    let (s, body) = call(
        &ctl,
        Method::POST,
        "/lb/pools/v1/backends",
        Some(json!({"ip": "10.9.0.13", "weight": 3})),
        true,
    )
    .await;
    assert_eq!((s, body["weight"].as_u64()), (StatusCode::CREATED, Some(3)), "{body}");
    let (s, _) =
        call(&ctl, Method::POST, "/lb/pools/v1/backends", Some(json!({"ip": "10.9.0.13"})), true).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, body) = call(
        &ctl,
        Method::POST,
        "/lb/pools/v1/backends",
        Some(json!({"ip": "10.9.0.14", "weight": 0})),
        true,
    )
    .await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("weight")), "{body}");
    let (s, body) = call(
        &ctl,
        Method::PATCH,
        "/lb/pools/v1/backends/10.9.0.13",
        Some(json!({"weight": 5, "draining": true})),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["weight"].as_u64(), body["health"].as_str(), body["eligible"].as_bool()),
        (Some(5), Some("draining"), Some(false))
    );
    let (s, body) =
        call(&ctl, Method::PATCH, "/lb/pools/v1/backends/10.9.0.13", Some(json!({"weight": "x"})), true)
            .await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("weight")), "{body}");
    let (s, _) =
        call(&ctl, Method::PATCH, "/lb/pools/v1/backends/10.9.0.99", Some(json!({"weight": 2})), true).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = call(&ctl, Method::DELETE, "/lb/pools/v1/backends/not-an-ip", None, true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ip")));
    let (s, _) = call(&ctl, Method::DELETE, "/lb/pools/v1/backends/10.9.0.13", None, true).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, backends) = call(&ctl, Method::GET, "/lb/pools/v1/backends", None, false).await;
    assert_eq!(backends.as_array().map(Vec::len), Some(2));

    // Metrics follow the pools.
    let metrics = reqwest::get(ctl.url("/metrics")).await.expect("GET /metrics").text().await.expect("text");
    assert!(metrics.contains(r#"rudder_lb_backend_healthy{backend="10.9.0.21",pool="v2"} 1"#), "{metrics}");

    // Deleting a pool.
    let (s, _) = call(&ctl, Method::DELETE, "/lb/pools/v2", None, true).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = call(&ctl, Method::GET, "/lb/pools/v2", None, false).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (_, stats) = call(&ctl, Method::GET, "/lb/stats", None, false).await;
    assert_eq!(stats["pools"].as_array().map(Vec::len), Some(1));
    let metrics = reqwest::get(ctl.url("/metrics")).await.expect("GET /metrics").text().await.expect("text");
    assert!(!metrics.contains(r#"pool="v2""#), "series of a deleted pool are dropped");
}

#[tokio::test]
async fn lb_alone_or_with_a_bad_section_refuses_to_start() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = Config { apps: vec!["lb".into()], ..Config::default() };
    let err = rudder_controller::run(config, vec![listener], async {}, |_| {}).await.expect_err("lb alone");
    assert!(err.to_string().contains("run it with l2switch or topology"), "{err}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut config = Config { apps: vec!["l2switch".into(), "lb".into()], ..Config::default() };
    config.lb.probe_interval_ms = 10;
    let err =
        rudder_controller::run(config, vec![listener], async {}, |_| {}).await.expect_err("bad interval");
    assert!(err.to_string().contains("lb.probe_interval_ms must be at least 100"), "{err}");

    // `--api-token ""` (or an empty RUDDER_API_TOKEN) would turn authorization off without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = Config { api_token: Some(" ".into()), ..Config::default() };
    let err =
        rudder_controller::run(config, vec![listener], async {}, |_| {}).await.expect_err("empty token");
    assert!(err.to_string().contains("API token"), "{err}");
    // Presented tokens are trimmed, so one configured with a space could never match.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = Config { api_token: Some(" s3cret".into()), ..Config::default() };
    let err =
        rudder_controller::run(config, vec![listener], async {}, |_| {}).await.expect_err("spaced token");
    assert!(err.to_string().contains("white space"), "{err}");
}

/// What a REST user trips on at the edges (found by review): each must be a JSON 4xx naming the
/// field, and none may leave the app in a state that refuses later requests.
#[tokio::test]
async fn edge_cases_are_json_errors_naming_the_field() {
    let ctl = controller().await;
    let post = |body: Value| call(&ctl, Method::POST, "/lb/pools", Some(body), true);

    // A pool's last backend stays: deleting it would leave a pool that no validation accepts (every
    // later POST /lb/pools failed, blaming that pool).
    let solo = json!({"name": "solo", "vip": "10.9.0.121", "backends": [{"ip": "10.9.0.52"}]});
    assert_eq!(post(solo).await.0, StatusCode::CREATED);
    let (s, body) = call(&ctl, Method::DELETE, "/lb/pools/solo/backends/10.9.0.52", None, true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("ip")), "{body}");
    let next = json!({"name": "next", "vip": "10.9.0.122", "backends": [{"ip": "10.9.0.53"}]});
    assert_eq!(post(next).await.0, StatusCode::CREATED);

    // Backend errors inside a pool name the backend by position.
    let cases = [
        (json!([{"ip": "10.9.0.61"}, {"ip": "10.9.0.61", "port": 9000}]), "backends[1].ip"),
        (json!([{"ip": "10.9.0.131"}]), "backends[0].ip"),
        (json!([{"ip": "10.9.0.61", "port": 0}]), "backends[0].port"),
        (json!([{"ip": "10.9.0.61", "mac": "ff:ff:ff:ff:ff:ff"}]), "backends[0].mac"),
        (json!([{"ip": "10.9.0.61", "health_url": "http://"}]), "backends[0].health_url"),
        (json!([{"ip": "10.9.0.61"}, {"ip": "10.9.0.62", "weight": 0}]), "backends[1].weight"),
    ];
    for (backends, field) in cases {
        let pool = json!({"name": "bad", "vip": "10.9.0.131", "backends": backends});
        let (s, body) = post(pool).await;
        assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let (s, body) = post(json!({})).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("name")), "{body}");
    assert_eq!(body["error"], "name must not be empty");
    let ports =
        json!({"name": "p", "vip": "10.9.0.132", "ports": [8000, 8000], "backends": [{"ip": "10.9.0.63"}]});
    let (s, body) = post(ports).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ports")), "{body}");
    let many: Vec<u16> = (1000..1257).collect();
    let ports = json!({"name": "p", "vip": "10.9.0.132", "ports": many, "backends": [{"ip": "10.9.0.63"}]});
    let (s, body) = post(ports).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ports")), "{body}");
    // The same checks for a backend added on its own (the VIP of v1 is 10.9.0.100).
    let (s, body) =
        call(&ctl, Method::POST, "/lb/pools/v1/backends", Some(json!({"ip": "10.9.0.100"})), true).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ip")), "{body}");
    let (s, body) =
        call(&ctl, Method::POST, "/lb/pools/v1/backends", Some(json!({"ip": "10.9.0.64", "port": 0})), true)
            .await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("port")), "{body}");
    let (s, body) =
        call(&ctl, Method::PUT, "/lb/pools/v1/algorithm", Some(json!({"algorithm": "random", "x": 1})), true)
            .await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("x")), "{body}");

    // A path that is not UTF-8 and a body over the limit get the same JSON shape.
    let client = reqwest::Client::new();
    let r = client.get(ctl.url("/lb/pools/%FF")).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(body["field"], "path", "{body}");
    let big = vec![b' '; 2 << 20];
    let r = client.post(ctl.url("/lb/pools")).body(big.clone()).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the token is checked before the body is read");
    assert_eq!(r.headers().get("www-authenticate").map(|v| v.to_str().ok()), Some(Some("Bearer")));
    let r = client.post(ctl.url("/lb/pools")).bearer_auth(TOKEN).body(big).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(body["field"], "body", "{body}");
    // The scheme of the Authorization header is case-insensitive (RFC 7235).
    let r = client
        .put(ctl.url("/lb/pools/v1/algorithm"))
        .header("Authorization", format!("bearer {TOKEN}"))
        .body(r#"{"algorithm": "random"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn pools_that_would_take_each_other_s_traffic_are_refused_with_409() {
    let ctl = controller().await;
    let send = |method: Method, path: &'static str, body: Value| call(&ctl, method, path, Some(body), true);

    // A VIP that is another pool's backend: the controller would answer ARP for that node.
    let (s, body) = send(
        Method::POST,
        "/lb/pools",
        json!({"name": "x", "vip": "10.9.0.11", "backends": [{"ip": "10.9.0.70"}]}),
    )
    .await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("vip")), "{body}");
    let (s, body) = send(Method::POST, "/lb/pools/v1/backends", json!({"ip": "10.9.0.100"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "its own VIP: {body}");
    let w = json!({"name": "w", "vip": "10.9.0.150", "backends": [{"ip": "10.9.0.12"}, {"ip": "10.9.0.71"}]});
    assert_eq!(send(Method::POST, "/lb/pools", w).await.0, StatusCode::CREATED);
    let (s, body) = send(Method::POST, "/lb/pools/w/backends", json!({"ip": "10.9.0.100"})).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("ip")), "v1's VIP: {body}");

    // One VIP, one MAC: a second pool on v1's VIP (another port) must use it.
    let same_vip = json!({"name": "y", "vip": "10.9.0.100", "vip_mac": "02:00:00:00:09:09", "ports": [9000],
        "backends": [{"ip": "10.9.0.72"}]});
    let (s, body) = send(Method::POST, "/lb/pools", same_vip).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("vip_mac")), "{body}");

    // v1 and w share backend 10.9.0.12:8000: one of them may spread in the switch, not both.
    let put =
        |pool: &'static str, algorithm: &str| send(Method::PUT, pool, json!({ "algorithm": algorithm }));
    assert_eq!(put("/lb/pools/v1/algorithm", "select_group").await.0, StatusCode::OK);
    let (s, body) = put("/lb/pools/w/algorithm", "wildcard").await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("algorithm")), "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("10.9.0.12:8000")), "{body}");
    let (_, algorithm) = call(&ctl, Method::GET, "/lb/pools/w/algorithm", None, false).await;
    assert_eq!(algorithm["algorithm"], "round_robin", "a refused switch changes nothing: {algorithm}");
    assert_eq!(put("/lb/pools/w/algorithm", "least_connections").await.0, StatusCode::OK);
    // Nor may a backend join a switch-side pool while another switch-side pool has it.
    assert_eq!(put("/lb/pools/v1/algorithm", "round_robin").await.0, StatusCode::OK);
    assert_eq!(put("/lb/pools/w/algorithm", "wildcard").await.0, StatusCode::OK);
    assert_eq!(put("/lb/pools/v1/algorithm", "select_group").await.0, StatusCode::CONFLICT);
    let (s, _) = call(&ctl, Method::DELETE, "/lb/pools/w/backends/10.9.0.12", None, true).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(put("/lb/pools/v1/algorithm", "select_group").await.0, StatusCode::OK);
    let (s, body) = send(Method::POST, "/lb/pools/w/backends", json!({"ip": "10.9.0.11"})).await;
    assert_eq!((s, body["field"].as_str()), (StatusCode::CONFLICT, Some("ip")), "{body}");
    let other_port = json!({"ip": "10.9.0.11", "port": 9000});
    assert_eq!(send(Method::POST, "/lb/pools/w/backends", other_port).await.0, StatusCode::CREATED);
}
