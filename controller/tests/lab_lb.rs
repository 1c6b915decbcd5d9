//! `rudder up` with the load balancer: the controller config the topology implies carries the
//! pool, and a photo POSTed to the VIP from a client namespace is classified by a node behind it
//! (and so is one sent from the machine through the host-access port, as the dashboard does).

mod lab;

use lab::{Lab, require_root_and_ovs};

const POOL: &str = r#"
[[hosts]]
name = "c1"
role = "client"
switch = "s1"
ip = "{net}.1"

[[hosts]]
name = "n1"
role = "inference"
switch = "s1"
ip = "{net}.11"
model = "v1"

[[pools]]
name = "v1"
vip = "{net}.100"
ports = [8000]
algorithm = "round_robin"
backends = [{ host = "n1" }]

[host_access]
switch = "s1"
ip = "{net}.254"
"#;

/// The top label `expected.json` gives for `sample`.
fn expected_top_label(sample: &str) -> String {
    let text =
        std::fs::read_to_string(lab::models_dir().join("samples/expected.json")).expect("expected.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
    json[sample][0][0].as_str().expect("a top label").to_string()
}

fn classify(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_photo_sent_to_the_vip_is_classified_by_a_backend() {
    require_root_and_ovs();
    let lab = Lab::new(&["l2switch", "lb"], POOL);
    let config = lab.rudder(&["up", &lab.file.display().to_string(), "--print-config"]);
    let config = String::from_utf8_lossy(&config.stdout).to_string();
    assert!(config.contains("[[lb.pools]]") && config.contains(&lab.ip(100).to_string()), "{config}");

    lab.up(&[]);
    lab.wait_lb_healthy(std::time::Duration::from_secs(60));
    let photo = lab::models_dir().join("samples/chelsea.png");
    let data = format!("@{}", photo.display());
    let url = format!("http://{}:8000/predict", lab.ip(100));
    let args =
        ["-s", "-m", "20", "-H", "Content-Type: image/png", "--data-binary", data.as_str(), url.as_str()];
    let want = expected_top_label("chelsea.png");

    let from_client = classify(&lab.exec("c1", "curl", &args));
    assert_eq!(from_client["predictions"][0]["label"], want.as_str(), "{from_client}");
    assert_eq!(from_client["node_id"], "n1", "{from_client}");

    let from_machine = classify(&std::process::Command::new("curl").args(args).output().expect("curl"));
    assert_eq!(from_machine["predictions"][0]["label"], want.as_str(), "{from_machine}");

    let pids = lab.all_pids();
    lab.down();
    lab.assert_nothing_left(&pids);
}
