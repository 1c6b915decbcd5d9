//! Node lifecycle: readiness before and after warm-up, back-pressure when the queue is full,
//! and graceful shutdown on SIGTERM.

mod common;

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use clap::Parser;
use common::{Node, sample};
use rudder_node::config::{Cli, Command};
use rudder_node::{AppState, app};
use tower::ServiceExt;

fn config(extra: &[&str]) -> rudder_node::NodeConfig {
    let models = common::models_dir();
    let mut args = vec!["rudder-node", "serve", "--model-dir"];
    let dir = models.join("v1");
    args.push(dir.to_str().expect("utf8"));
    args.extend_from_slice(extra);
    let Command::Serve(serve) = Cli::parse_from(args).command;
    serve.into_config().expect("config")
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, serde_json::Value, Option<String>) {
    let response = app(state.clone()).oneshot(request).await.expect("infallible");
    let status = response.status();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("json"), retry)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_loading_until_warm_up_then_ok() {
    let state = AppState::new(config(&["--workers", "1"]));
    let (status, json, retry) = call(&state, get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["status"], "loading");
    assert_eq!(json["model"]["version"], "v1");
    assert!(retry.is_none());

    let post = || {
        Request::post("/predict").header("content-type", "image/png").body(Body::from(sample("chelsea.png")))
    };
    let (status, json, retry) = call(&state, post().expect("request")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["error"], "loading");
    assert_eq!(retry.as_deref(), Some("1"));

    let loader = state.clone();
    tokio::task::spawn_blocking(move || loader.load_model()).await.expect("join").expect("load");
    let (status, json, _) = call(&state, get("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "ok");
    assert_eq!(json["in_flight"], 0, "predictions admitted (not the health request itself)");
    assert_eq!(json["queue_depth"], 0);

    let (status, json, _) = call(&state, post().expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    common::assert_matches_reference("chelsea.png", &json);
    state.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_with_retry_after() {
    common::models_dir();
    let node =
        Node::ready(&["--workers", "1", "--queue-capacity", "1", "--max-batch", "1", "--cache-size", "0"])
            .await;
    let image = sample("astronaut.png");
    let requests = (0..16).map(|_| {
        let image = image.clone();
        let addr = node.addr;
        tokio::spawn(async move {
            rudder_node::http_client::request(
                addr,
                "POST",
                "/predict",
                &[("content-type", "image/png")],
                &image,
            )
            .await
            .expect("post")
        })
    });
    let mut ok = 0;
    let mut overloaded = 0;
    for r in futures_join(requests.collect()).await {
        match r.status {
            200 => ok += 1,
            503 => {
                overloaded += 1;
                assert_eq!(r.header("retry-after"), Some("1"));
                assert_eq!(r.json().expect("json")["error"], "overloaded");
            }
            other => panic!("unexpected status {other}: {}", r.text()),
        }
    }
    assert!(ok >= 1 && overloaded >= 1, "ok {ok}, overloaded {overloaded}");
    let metrics = node.get("/metrics").await.expect("metrics").text();
    assert!(
        metrics.contains(&format!(
            "rudder_node_requests_total{{route=\"/predict\",status=\"503\"}} {overloaded}"
        ))
    );
}

async fn futures_join(
    handles: Vec<tokio::task::JoinHandle<rudder_node::http_client::HttpResponse>>,
) -> Vec<rudder_node::http_client::HttpResponse> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    common::models_dir();
    // A long batch wait keeps the request in flight while the signal arrives.
    let mut node = Node::ready(&["--max-batch", "8", "--batch-wait-ms", "600", "--workers", "1"]).await;
    let addr = node.addr;
    let image = sample("coffee.png");
    let in_flight = tokio::spawn(async move {
        rudder_node::http_client::request(addr, "POST", "/predict", &[("content-type", "image/png")], &image)
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.signal("TERM");
    let response = in_flight.await.expect("task").expect("response despite shutdown");
    assert_eq!(response.status, 200, "{}", response.text());
    common::assert_matches_reference("coffee.png", &response.json().expect("json"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = node.child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "node did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    assert!(
        rudder_node::http_client::request(addr, "GET", "/health", &[], &[]).await.is_err(),
        "no longer listening"
    );
}

/// A request whose body never arrives: the headers, then 3 bytes of a declared 100 000.
async fn stalled_upload(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head =
        "POST /predict HTTP/1.1\r\nHost: node\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(&[0x89, b'P', b'N']).await.expect("write");
    stream
}

/// The status line of the response `stream` gets within `within`, or `None` if the connection
/// was closed without one.
async fn status_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("an answer or a close in time")
        .ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_refused_timed_out_and_cut_at_shutdown() {
    common::models_dir();
    // One worker, one queue slot, batches of one: two /predict requests are admitted at once.
    let limits = ["--workers", "1", "--queue-capacity", "1", "--max-batch", "1", "--read-timeout", "2"];
    let node = Node::ready(&limits).await;
    let mut first = stalled_upload(node.addr).await;
    let mut second = stalled_upload(node.addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = node.get("/health").await.expect("health").json().expect("json");
    assert_eq!(health["in_flight"], 2, "{health}");
    // A third is refused before its body is read: memory stays bounded by the admitted ones.
    let mut third = stalled_upload(node.addr).await;
    let status = status_within(&mut third, Duration::from_millis(1500)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 503 Service Unavailable"));
    // The two stalled bodies time out with 408, and free their places.
    for stream in [&mut first, &mut second] {
        let status = status_within(stream, Duration::from_secs(5)).await;
        assert_eq!(status.as_deref(), Some("HTTP/1.1 408 Request Timeout"));
    }
    let health = node.get("/health").await.expect("health").json().expect("json");
    assert_eq!(health["in_flight"], 0, "{health}");
    // Half-sent headers: the connection is closed after the read timeout.
    let mut half = tokio::net::TcpStream::connect(node.addr).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut half, b"POST /predict HTTP/1.1\r\nHost:").await.expect("write");
    let started = std::time::Instant::now();
    let _ = status_within(&mut half, Duration::from_secs(6)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());
    // A client that connects and sends nothing at all: closed after the read timeout too.
    let mut silent = tokio::net::TcpStream::connect(node.addr).await.expect("connect");
    let started = std::time::Instant::now();
    assert_eq!(status_within(&mut silent, Duration::from_secs(6)).await, None, "closed without an answer");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());

    // Shutdown waits for a stalled client only up to the drain timeout.
    let mut node = Node::ready(&["--read-timeout", "120", "--drain-timeout", "1"]).await;
    let _stalled = stalled_upload(node.addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    let status = loop {
        if let Some(status) = node.child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "node did not exit after the drain timeout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}
