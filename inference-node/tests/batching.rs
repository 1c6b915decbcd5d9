//! Micro-batching must not change results: the same image gives the same logits alone or in a
//! batch (within 1e-4), for both plan strategies and through the HTTP API.

mod common;

use common::{Node, sample};
use rudder_node::model::{BatchPlans, Classifier, ModelSpec};
use rudder_node::preprocess::{decode, probe};

fn inputs(spec: &ModelSpec) -> Vec<Vec<f32>> {
    ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]
        .iter()
        .map(|name| {
            let bytes = sample(name);
            let image = decode(&bytes, probe(&bytes, 1 << 26).expect("probe")).expect("decode");
            let mut values = Vec::new();
            spec.preprocessing.apply(&image, &mut values);
            values
        })
        .collect()
}

fn assert_batched_equals_unbatched(plans: BatchPlans) {
    let spec = ModelSpec::from_dir(&common::models_dir().join("v1")).expect("spec");
    let images = inputs(&spec);
    let classifier = Classifier::load(spec, plans, images.len()).expect("load");
    let mut state = classifier.new_state().expect("state");
    let alone: Vec<Vec<f32>> =
        images.iter().map(|img| classifier.run(&mut state, img.clone(), 1).expect("run")).collect();
    let batched = classifier.run(&mut state, images.concat(), images.len()).expect("run batch");
    let classes = alone[0].len();
    assert_eq!(batched.len(), classes * images.len());
    for (i, (single, row)) in alone.iter().zip(batched.chunks_exact(classes)).enumerate() {
        let worst = single.iter().zip(row).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{plans:?} image {i}: logits differ by {worst}");
    }
    // And the images really are different (the comparison is not trivially true).
    assert!(alone[0].iter().zip(&alone[1]).any(|(a, b)| (a - b).abs() > 0.1));
}

#[test]
fn symbolic_batch_equals_unbatched() {
    assert_batched_equals_unbatched(BatchPlans::Symbolic);
}

#[test]
fn per_size_plans_equal_unbatched() {
    assert_batched_equals_unbatched(BatchPlans::PerSize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_with_identical_results() {
    common::models_dir();
    let node =
        Node::ready(&["--workers", "1", "--max-batch", "8", "--batch-wait-ms", "50", "--cache-size", "0"])
            .await;
    let names = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"];
    let mut sequential = Vec::new();
    for name in names {
        let ct = if name.ends_with(".jpg") { "image/jpeg" } else { "image/png" };
        let r = node.post_image("/predict?top_k=10", ct, &sample(name)).await;
        assert_eq!(r.status, 200);
        sequential.push(common::labels_of(&r.json().expect("json")));
    }
    let handles: Vec<_> = names
        .iter()
        .map(|name| {
            let (addr, bytes) = (node.addr, sample(name));
            tokio::spawn(async move {
                rudder_node::http_client::request(addr, "POST", "/predict?top_k=10", &[], &bytes)
                    .await
                    .expect("post")
            })
        })
        .collect();
    for (handle, want) in handles.into_iter().zip(&sequential) {
        let got = common::labels_of(&handle.await.expect("task").json().expect("json"));
        for ((gl, gc), (wl, wc)) in got.iter().zip(want) {
            assert_eq!(gl, wl);
            assert!((gc - wc).abs() < 1e-4, "{gl}: {gc} vs {wc}");
        }
    }
    let metrics = node.get("/metrics").await.expect("metrics").text();
    let count = |le: &str| -> u64 {
        let prefix = format!("rudder_node_batch_size_bucket{{le=\"{le}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).expect("bucket")
    };
    // Warm-up runs outside the metrics; 4 sequential batches of 1, then the concurrent ones.
    assert!(count("1") < count("+Inf"), "some batch held more than one image:\n{metrics}");
}

/// The node's own depthwise op (the default) replaces all 16 depthwise layers of
/// EfficientNet-Lite0 and gives tract's logits up to float summation order, alone and batched.
#[test]
fn rudder_depthwise_matches_tract_depthwise() {
    use rudder_node::depthwise::DepthwiseKernel;
    let base = ModelSpec::from_dir(&common::models_dir().join("v1")).expect("spec");
    let images = inputs(&base);
    let load = |depthwise| {
        Classifier::load(ModelSpec { depthwise, ..base.clone() }, BatchPlans::PerSize, 2).expect("load")
    };
    let (tract, ours) = (load(DepthwiseKernel::Tract), load(DepthwiseKernel::Rudder));
    let count = |c: &Classifier, batch| {
        let plan = c.plan_for(batch).expect("plan");
        plan.model().nodes().iter().filter(|n| n.op().name() == "RudderDepthwise").count()
    };
    assert_eq!((count(&tract, 1), count(&ours, 1), count(&ours, 2)), (0, 16, 16));
    let (mut tract_state, mut our_state) =
        (tract.new_state().expect("state"), ours.new_state().expect("state"));
    for batch in [1, 2] {
        for group in images.chunks_exact(batch) {
            let want = tract.run(&mut tract_state, group.concat(), batch).expect("run");
            let got = ours.run(&mut our_state, group.concat(), batch).expect("run");
            let worst =
                want.iter().zip(&got).map(|(a, b)| (a - b).abs() / a.abs().max(1.0)).fold(0.0f32, f32::max);
            assert!(worst <= 1e-3, "batch {batch}: logits differ by {worst}");
        }
    }
}
