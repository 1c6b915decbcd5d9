//! The monitoring stack (`deploy/monitoring/`): the real Prometheus (Debian package `prometheus`),
//! configured by `rudder topology prometheus`, scrapes a running topology (controller + two
//! inference nodes behind one pool); every target is up, per-backend queries return data for both
//! nodes after photos went through the VIP, and every metric the Grafana dashboard queries exists
//! in what Prometheus scraped (and every panel's expression is valid PromQL).

mod lab;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab::{Lab, require_root_and_ovs};
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
/// The datasource uid the provisioning file declares and every panel uses.
const DATASOURCE_UID: &str = "rudder-prometheus";

const TOPOLOGY: &str = r#"
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

[[hosts]]
name = "n2"
role = "inference"
switch = "s1"
ip = "{net}.12"
model = "v1"

[[pools]]
name = "v1"
vip = "{net}.100"
ports = [8000]
algorithm = "round_robin"
backends = [{ host = "n1" }, { host = "n2" }]

[host_access]
switch = "s1"
ip = "{net}.254"
"#;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn monitoring_file(rel: &str) -> PathBuf {
    repo().join("deploy/monitoring").join(rel)
}

fn require_prometheus() {
    for tool in [PROMETHEUS, PROMTOOL] {
        assert!(
            Path::new(tool).is_file(),
            "{tool} not found: install the Debian package prometheus (`make deps`)"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The dashboard JSON, parsed.
fn dashboard() -> Value {
    let path = monitoring_file("grafana/dashboards/rudder.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every PromQL expression of every panel.
fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("panels");
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("every target has an expr").to_string())
        .collect()
}

/// The metric names an expression reads: identifiers outside label matchers and strings that
/// start with one of this project's prefixes (`rudder_`, `of_`), plus `up`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut outside = String::new();
    let (mut braces, mut quoted) = (0u32, false);
    for c in expr.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => braces += 1,
            '}' if !quoted => braces = braces.saturating_sub(1),
            c if !quoted && braces == 0 => outside.push(c),
            _ => {}
        }
        if quoted || braces > 0 {
            outside.push(' ');
        }
    }
    outside
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("rudder_") || w.starts_with("of_") || *w == "up")
        .map(str::to_string)
        .collect()
}

#[test]
fn the_dashboard_and_the_provisioning_files_fit_together() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "schemaVersion");
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()), "a stable uid");
    let datasources =
        std::fs::read_to_string(monitoring_file("grafana/provisioning/datasources/prometheus.yml"))
            .expect("ds");
    assert!(datasources.contains(&format!("uid: {DATASOURCE_UID}")), "{datasources}");
    assert!(datasources.contains("type: prometheus"), "{datasources}");
    let providers = std::fs::read_to_string(monitoring_file("grafana/provisioning/dashboards/rudder.yml"))
        .expect("provider");
    assert!(providers.contains("type: file") && providers.contains("path:"), "{providers}");

    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(ids.insert(panel["id"].as_u64().expect("panel id")), "duplicate id at {title}");
        assert_eq!(panel["datasource"]["uid"], DATASOURCE_UID, "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], DATASOURCE_UID, "{title}");
        }
    }
    // The panels the monitoring section asks for read these metrics.
    let used: BTreeSet<String> = dashboard_exprs(&dashboard).iter().flat_map(|e| metric_names(e)).collect();
    for wanted in [
        "up",
        "rudder_node_requests_total",
        "rudder_node_request_duration_seconds_bucket",
        "rudder_lb_flows_total",
        "rudder_lb_backend_healthy",
        "rudder_lb_active_flows",
        "rudder_lb_packet_ins_total",
        "of_packet_ins",
        "of_flowmsgs_sent",
    ] {
        assert!(used.contains(wanted), "no panel reads {wanted}; used: {used:?}");
    }
}

#[test]
fn metric_names_are_read_outside_matchers_only() {
    let names = metric_names(
        r#"sum by (pool, backend) (rate(rudder_lb_flows_total{pool="of_x"}[1m])) / ignoring(backend) group_left sum(up{job=~"rudder_y"})"#,
    );
    let want: BTreeSet<String> = ["rudder_lb_flows_total", "up"].iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
}

#[test]
fn promtool_accepts_the_committed_prometheus_config() {
    require_prometheus();
    let out = Command::new(PROMTOOL)
        .args(["check", "config"])
        .arg(monitoring_file("prometheus.yml"))
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check config failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus server this test started; killed (by its PID) and reaped on drop.
struct PrometheusServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl PrometheusServer {
    fn start(config: &Path, data: &Path, log: PathBuf) -> PrometheusServer {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log_file = std::fs::File::create(&log).expect("prometheus log");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log fd"))
            .stderr(log_file)
            .spawn()
            .expect("start prometheus");
        PrometheusServer { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path?params` on the HTTP API, as JSON (`status` must be `success`).
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = reqwest::Url::parse_with_params(&format!("http://{}{path}", self.addr), params)
            .map_err(|e| e.to_string())?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let body = http10_get(self.addr, &target).map_err(|e| format!("GET {target}: {e}"))?;
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("GET {target}: {e}: {body}"))?;
        if json["status"] != "success" {
            return Err(format!("GET {target}: {json}"));
        }
        Ok(json)
    }

    /// An instant query's result vector.
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let json = self.api("/api/v1/query", &[("query", promql)])?;
        Ok(json["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTTP/1.0 GET (never chunked): the body, or an error naming the status.
fn http10_get(addr: SocketAddr, target: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.split_whitespace().nth(1).unwrap_or("");
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    if status != "200" {
        return Err(std::io::Error::other(format!("status {status}: {body}")));
    }
    Ok(body)
}

/// `label -> value` of one instant-vector sample.
fn sample(v: &Value, label: &str) -> (String, f64) {
    let name = v["metric"][label].as_str().unwrap_or("").to_string();
    let value = v["value"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
    (name, value)
}

#[test]
fn prometheus_scrapes_every_target_of_a_running_topology_and_sees_each_backend() {
    require_root_and_ovs();
    require_prometheus();
    let lab = Lab::new(&["l2switch", "lb"], TOPOLOGY);

    // The configuration comes from the subcommand a user runs.
    let file = lab.file.display().to_string();
    let out = lab.rudder(&["topology", "prometheus", &file, "--scrape-interval", "1"]);
    assert!(out.status.success(), "rudder topology prometheus failed");
    let config = lab.dir.join("prometheus.yml");
    std::fs::write(&config, &out.stdout).expect("write prometheus.yml");
    let check = Command::new(PROMTOOL).args(["check", "config"]).arg(&config).output().expect("promtool");
    assert!(check.status.success(), "promtool: {}", String::from_utf8_lossy(&check.stderr));

    lab.up(&[]);
    lab.wait_lb_healthy(Duration::from_secs(60));
    let prometheus = PrometheusServer::start(&config, &lab.dir.join("tsdb"), lab.dir.join("prometheus.log"));
    let deadline = Instant::now() + Duration::from_secs(60);

    // Four new connections to the VIP from the machine: round robin gives each node two.
    let photo = lab::models_dir().join("samples/chelsea.png");
    let data = format!("@{}", photo.display());
    let url = format!("http://{}:8000/predict", lab.ip(100));
    let mut served = BTreeSet::new();
    for _ in 0..4 {
        let out = Command::new("curl")
            .args(["-s", "-m", "20", "-H", "Content-Type: image/png", "--data-binary", &data, &url])
            .output()
            .expect("curl");
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        served.insert(json["node_id"].as_str().unwrap_or("?").to_string());
    }
    assert_eq!(served, BTreeSet::from(["n1".to_string(), "n2".to_string()]), "nodes that served");

    let backends = BTreeSet::from([lab.ip(11).to_string(), lab.ip(12).to_string()]);
    let nodes = BTreeSet::from(["n1".to_string(), "n2".to_string()]);
    let used: BTreeSet<String> = dashboard_exprs(&dashboard()).iter().flat_map(|e| metric_names(e)).collect();
    let mut last = String::new();
    let all_seen = loop {
        let check = || -> Result<(), String> {
            // Every target: the controller and both nodes, with their labels, up.
            let up = prometheus.query("up")?;
            let mut up_targets = BTreeSet::new();
            for v in &up {
                let (job, value) = sample(v, "job");
                let node = v["metric"]["node"].as_str().unwrap_or("-");
                if value != 1.0 {
                    return Err(format!("target {job} {node} is not up: {v}"));
                }
                up_targets.insert(format!("{job}/{node}"));
            }
            let want: BTreeSet<String> = ["rudder-controller/-", "rudder-node/n1", "rudder-node/n2"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            if up_targets != want {
                return Err(format!("up targets {up_targets:?}, want {want:?}"));
            }
            // Per backend, as the controller counts it: flows steered to each node's IP.
            let flows = prometheus.query(r#"sum by (backend) (rudder_lb_flows_total{pool="v1"})"#)?;
            let steered: BTreeSet<String> = flows
                .iter()
                .map(|v| sample(v, "backend"))
                .filter(|(_, n)| *n >= 1.0)
                .map(|(b, _)| b)
                .collect();
            if steered != backends {
                return Err(format!("rudder_lb_flows_total by backend: {flows:?}"));
            }
            // Per node, as the nodes count it: classifications answered.
            let answered = prometheus.query(
                r#"sum by (node) (rudder_node_requests_total{job="rudder-node",route="/predict",status="200"})"#,
            )?;
            let answered: BTreeSet<String> = answered
                .iter()
                .map(|v| sample(v, "node"))
                .filter(|(_, n)| *n >= 1.0)
                .map(|(b, _)| b)
                .collect();
            if answered != nodes {
                return Err(format!("rudder_node_requests_total by node: {answered:?}"));
            }
            // Every metric the dashboard reads was scraped.
            let names = prometheus.api("/api/v1/label/__name__/values", &[])?;
            let scraped: BTreeSet<String> = names["data"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let missing: Vec<&String> = used.difference(&scraped).collect();
            if !missing.is_empty() {
                return Err(format!("dashboard metrics not scraped (yet): {missing:?}"));
            }
            Ok(())
        };
        match check() {
            Ok(()) => break true,
            Err(e) => last = e,
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(all_seen, "within 60 s: {last}\nprometheus log:\n{}", prometheus.log());

    // Every panel's expression is valid PromQL (Grafana's $__rate_interval stands for a range).
    for expr in dashboard_exprs(&dashboard()) {
        let promql = expr.replace("$__rate_interval", "1m");
        if let Err(e) = prometheus.query(&promql) {
            panic!("dashboard expression rejected by Prometheus: {promql}: {e}");
        }
    }

    let pids = lab.all_pids();
    drop(prometheus);
    lab.down();
    lab.assert_nothing_left(&pids);
}
