//! Every kind of bad request gets the documented status and a JSON error body, and none of them
//! can make the node's memory grow without bound.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Node, sample};
use rudder_node::http_client::{Connection, HttpResponse, multipart_body};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A ~60-byte PNG that declares 50000x50000 RGB pixels (7.5 GB decoded).
fn png_bomb() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

fn assert_error(r: &HttpResponse, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(r.status, status, "{code}: {}", r.text());
    let json = r.json().unwrap_or_else(|e| panic!("{code}: body is not JSON ({e}): {}", r.text()));
    assert_eq!(json["error"], code, "{json}");
    assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()), "{json}");
    assert!(json["request_id"].as_str().is_some_and(|d| !d.is_empty()), "{json}");
    json
}

/// Declares an oversize body but sends only its first bytes: the node must answer 413 without
/// waiting for the rest.
async fn oversize_by_content_length(addr: SocketAddr, declared: usize) -> HttpResponse {
    let mut conn = Connection::connect(addr).await.expect("connect");
    let head = format!(
        "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: image/png\r\ncontent-length: {declared}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(&[0u8; 4096]).await.expect("first bytes");
    tokio::time::timeout(Duration::from_secs(5), conn.read_response())
        .await
        .expect("answered early")
        .expect("response")
}

/// Streams a chunked body of `total` bytes (no Content-Length); the node must stop it at the limit.
async fn oversize_chunked(addr: SocketAddr, total: usize) -> HttpResponse {
    let mut conn = Connection::connect(addr).await.expect("connect");
    let head =
        "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: image/png\r\ntransfer-encoding: chunked\r\n\r\n";
    conn.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![0x42u8; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if conn.write_all(&frame).await.is_err() {
            break; // the node stopped reading and answered: fine
        }
        sent += chunk.len();
    }
    conn.write_all(b"0\r\n\r\n").await.ok();
    tokio::time::timeout(Duration::from_secs(10), conn.read_response())
        .await
        .expect("answered")
        .expect("response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_json_errors_with_the_right_status() {
    common::models_dir();
    let node = Node::ready(&["--max-body-bytes", "1048576"]).await;
    let addr = node.addr;

    assert_error(&node.post_image("/predict", "image/png", b"").await, 400, "empty_body");

    let json = assert_error(
        &node.post_image("/predict", "application/octet-stream", b"hello world").await,
        415,
        "not_an_image",
    );
    for format in ["jpeg", "png", "gif", "bmp", "webp"] {
        assert!(json["detail"].as_str().is_some_and(|d| d.contains(format)), "{json}");
    }
    assert_error(&node.post_image("/predict", "text/plain", b"hello").await, 415, "unsupported_media_type");
    let tiff = b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00";
    assert_error(&node.post_image("/predict", "image/tiff", tiff).await, 415, "unsupported_image_format");

    let chelsea = sample("chelsea.png");
    let truncated = &chelsea[..chelsea.len() / 2];
    assert_error(&node.post_image("/predict", "image/png", truncated).await, 400, "corrupt_image");
    assert_error(&node.post_image("/predict", "image/png", &chelsea[..30]).await, 400, "corrupt_image");
    // A cut-off JPEG too: its decoder would fill the rest with grey and classify that.
    let rocket = sample("rocket.jpg");
    for cut in [rocket.len() / 10, rocket.len() / 2, rocket.len() - 2] {
        assert_error(&node.post_image("/predict", "image/jpeg", &rocket[..cut]).await, 400, "corrupt_image");
    }
    assert_eq!(node.post_image("/predict", "image/jpeg", &rocket).await.status, 200);

    assert_error(&node.post_image("/predict", "image/png", &png_bomb()).await, 413, "image_too_large");

    let started = Instant::now();
    assert_error(&oversize_by_content_length(addr, 50 << 20).await, 413, "payload_too_large");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_error(&oversize_chunked(addr, 3 << 20).await, 413, "payload_too_large");

    let (ct, body) = multipart_body("file", "big.png", "image/png", &vec![0u8; 2 << 20]);
    assert_error(&node.post_image("/predict", &ct, &body).await, 413, "payload_too_large");
    let (ct, body) = multipart_body("other", "x.png", "image/png", &chelsea);
    assert_error(&node.post_image("/predict", &ct, &body).await, 400, "bad_request");

    assert_error(&node.get("/predict").await.expect("get"), 405, "method_not_allowed");
    assert_error(&node.post_image("/health", "image/png", &chelsea).await, 405, "method_not_allowed");
    assert_error(&node.get("/nope").await.expect("get"), 404, "not_found");

    // After all that the node still answers correctly.
    let ok = node.post_image("/predict", "image/png", &chelsea).await;
    assert_eq!(ok.status, 200);
    common::assert_matches_reference("chelsea.png", &ok.json().expect("json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_under_bombs_and_oversize_bodies() {
    common::models_dir();
    let node = Node::ready(&["--cache-size", "0"]).await; // default 10 MiB body limit
    let chelsea = sample("chelsea.png");
    for _ in 0..3 {
        assert_eq!(node.post_image("/predict", "image/png", &chelsea).await.status, 200);
    }
    let baseline = node.rss_kib();
    let bomb = png_bomb();
    let mut peak = baseline;
    for round in 0..10 {
        for _ in 0..5 {
            assert_eq!(node.post_image("/predict", "image/png", &bomb).await.status, 413);
        }
        assert_eq!(oversize_by_content_length(node.addr, 1 << 30).await.status, 413);
        assert_eq!(oversize_chunked(node.addr, 12 << 20).await.status, 413);
        let truncated = &chelsea[..chelsea.len() / 3];
        assert_eq!(node.post_image("/predict", "image/png", truncated).await.status, 400);
        peak = peak.max(node.rss_kib());
        eprintln!("round {round}: rss {} KiB (baseline {baseline} KiB)", node.rss_kib());
    }
    // Bodies are capped at 10 MiB and bombs never allocate pixels; allow for allocator slack.
    assert!(peak < baseline + 100 * 1024, "RSS grew from {baseline} KiB to {peak} KiB");
    assert_eq!(node.post_image("/predict", "image/png", &chelsea).await.status, 200);
}
