//! End-to-end predictions with the real models: reference results, both upload styles, top_k,
//! the result cache, v2, /info and /metrics.

mod common;

use common::{Node, assert_matches_reference, labels_of, sample};
use rudder_node::http_client::{self, multipart_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_matches_reference_predictions_raw_and_multipart() {
    let models = common::models_dir();
    let node =
        Node::ready(&["--model-dir", models.join("v1").to_str().expect("utf8"), "--cache-size", "0"]).await;

    let chelsea = sample("chelsea.png");
    let raw = node.post_image("/predict?top_k=3", "image/png", &chelsea).await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    let json = raw.json().expect("json");
    assert_matches_reference("chelsea.png", &json);
    assert_eq!(json["predictions"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["model"]["name"], "efficientnet-lite0");
    assert_eq!(json["model"]["version"], "v1");
    assert_eq!(json["node_id"], "test-node");
    assert_eq!(json["cached"], false);
    for t in ["decode", "preprocess", "inference", "total"] {
        assert!(json["timings_ms"][t].as_f64().is_some_and(|v| v >= 0.0), "timing {t}");
    }
    assert!(json["predictions"][0]["class_id"].as_u64().is_some_and(|id| id < 1000));

    let (content_type, body) = multipart_body("file", "coffee.png", "image/png", &sample("coffee.png"));
    let multipart = node.post_image("/predict", &content_type, &body).await;
    assert_eq!(multipart.status, 200, "{}", multipart.text());
    let json = multipart.json().expect("json");
    assert_matches_reference("coffee.png", &json);
    assert_eq!(json["predictions"].as_array().map(Vec::len), Some(5), "default top_k is 5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_model_dir_request_id_top_k_and_cache() {
    common::models_dir();
    // No model flags: the node finds models/v1 next to the workspace it was built from.
    let node = Node::ready(&[]).await;
    let chelsea = sample("chelsea.png");
    let first = http_client::request(
        node.addr,
        "POST",
        "/predict?top_k=1000",
        &[("content-type", "image/png"), ("x-request-id", "req-42")],
        &chelsea,
    )
    .await
    .expect("post");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-request-id"), Some("req-42"));
    let first_json = first.json().expect("json");
    assert_eq!(first_json["request_id"], "req-42");
    assert_eq!(first_json["cached"], false);
    let all = labels_of(&first_json);
    assert_eq!(all.len(), 1000);
    let sum: f64 = all.iter().map(|(_, c)| c).sum();
    assert!((sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}");
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1), "sorted by confidence");

    let second = node.post_image("/predict?top_k=3", "image/png", &chelsea).await.json().expect("json");
    assert_eq!(second["cached"], true);
    assert_eq!(second["timings_ms"]["inference"], 0.0);
    assert_eq!(labels_of(&second), all[..3].to_vec(), "cache returns the same result");
    assert_ne!(second["request_id"], "req-42");

    for bad in ["0", "1001", "abc"] {
        let r = node.post_image(&format!("/predict?top_k={bad}"), "image/png", &chelsea).await;
        assert_eq!(r.status, 400, "top_k={bad}");
        assert_eq!(r.json().expect("json")["error"], "bad_request");
    }

    let metrics = node.get("/metrics").await.expect("metrics").text();
    assert!(metrics.contains("rudder_node_cache_hits_total 1"), "{metrics}");
    assert!(metrics.contains("rudder_node_cache_misses_total 1"), "{metrics}");
    assert!(metrics.contains("rudder_node_requests_total{route=\"/predict\",status=\"200\"} 2"), "{metrics}");
    assert!(metrics.contains("rudder_node_requests_total{route=\"/predict\",status=\"400\"} 3"), "{metrics}");
    assert!(metrics.contains("rudder_node_batch_size_bucket"));

    let info = node.get("/info").await.expect("info").json().expect("json");
    assert_eq!(info["model"]["version"], "v1");
    assert_eq!(info["input_shape"], serde_json::json!(["N", 3, 224, 224]));
    assert_eq!(info["labels"], 1000);
    assert_eq!(info["build"]["crate_version"], env!("CARGO_PKG_VERSION"));
    assert!(info["build"]["tract_version"].as_str().is_some_and(|v| v.starts_with("0.23")));

    let health = node.get("/health").await.expect("health").json().expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["requests_served"], 2);
    assert!(health["p50_ms"].as_f64().is_some() && health["p95_ms"].as_f64().is_some());
    assert!(health["uptime_s"].as_f64().is_some_and(|u| u > 0.0));

    // Logs are JSON and carry the request id.
    let logs = node.drain_logs();
    assert!(logs.iter().any(|l| l.contains("req-42") && l.contains("\"status\":200")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_serves_with_its_own_preprocessing() {
    let models = common::models_dir();
    let node = Node::ready(&["--model-dir", models.join("v2").to_str().expect("utf8")]).await;
    let info = node.get("/info").await.expect("info").json().expect("json");
    assert_eq!(info["model"]["version"], "v2");
    assert_eq!(info["input_shape"][2], 240);
    let coffee = node.post_image("/predict", "image/png", &sample("coffee.png")).await;
    assert_eq!(coffee.status, 200, "{}", coffee.text());
    let json = coffee.json().expect("json");
    assert_eq!(json["model"]["version"], "v2");
    assert_eq!(labels_of(&json)[0].0, "espresso");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_model_flags_serve_any_classifier() {
    let models = common::models_dir();
    let node = Node::ready(&[
        "--model",
        models.join("v1/model.onnx").to_str().expect("utf8"),
        "--labels",
        models.join("labels/imagenet1k.json").to_str().expect("utf8"),
        "--input-size",
        "224",
        "--resize-shorter",
        "256",
        "--mean",
        "127.5,127.5,127.5",
        "--std",
        "127.5,127.5,127.5",
        "--model-name",
        "custom",
        "--model-version",
        "c1",
    ])
    .await;
    let json = node.post_image("/predict", "image/png", &sample("chelsea.png")).await.json().expect("json");
    assert_eq!(json["model"], serde_json::json!({"name": "custom", "version": "c1"}));
    assert_matches_reference("chelsea.png", &json);
}
