//! The limits `rudder_http::serve` adds to axum, seen from a client's socket.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const READ_TIMEOUT: Duration = Duration::from_millis(500);

/// Serves a router with a fast route and one that takes `slow` to answer; returns its address and
/// the stop switch.
async fn start(
    slow: Duration,
    drain: Duration,
) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let router = Router::new().route("/fast", get(|| async { "ok" })).route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(slow).await;
            "slow"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(rudder_http::serve(
        listener,
        router,
        async {
            let _ = stop_rx.await;
        },
        READ_TIMEOUT,
        drain,
    ));
    (addr, stop_tx, server)
}

/// Reads until the server closes the connection; returns what it sent and how long that took.
async fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server kept the connection open for 10 s");
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

#[tokio::test]
async fn silent_and_stalled_clients_are_closed_after_the_read_timeout() {
    let (addr, _stop, _server) = start(Duration::ZERO, Duration::from_secs(1)).await;
    // Connects and sends nothing.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    // Sends half a request's headers.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    // Starts the HTTP/2 preface, or sends all of it, and stops (HTTP/2 is not served).
    let mut preface_start = TcpStream::connect(addr).await.expect("connect");
    preface_start.write_all(b"P").await.expect("write");
    let mut preface = TcpStream::connect(addr).await.expect("connect");
    preface.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("write");
    for stream in [&mut silent, &mut stalled, &mut preface_start, &mut preface] {
        let (_, after) = read_to_close(stream).await;
        assert!(after < READ_TIMEOUT * 4, "closed after {after:?}");
    }
    // A whole request is still answered.
    let body = reqwest::get(format!("http://{addr}/fast")).await.expect("GET").text().await.expect("body");
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn shutdown_lets_open_requests_finish_but_waits_only_for_the_drain() {
    let (addr, stop, server) = start(Duration::from_millis(300), Duration::from_secs(5)).await;
    let request = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("server running");
    let answer = request.await.expect("task").expect("the open request is answered");
    assert_eq!(answer.text().await.expect("body"), "slow");
    tokio::time::timeout(Duration::from_secs(2), server).await.expect("server stopped").expect("task");

    let (addr, stop, server) = start(Duration::from_secs(60), Duration::from_millis(300)).await;
    let _request = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("server stopped").expect("task");
    assert!(started.elapsed() < Duration::from_secs(2), "stopped after {:?}", started.elapsed());
}
