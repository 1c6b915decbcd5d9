//! The dashboard in a real headless Chromium (Debian packages `chromium` + `chromium-driver`, driven
//! over WebDriver with fantoccini).
//!
//! Setup, self-contained on loopback: a real `rudder-node` listening on 127.0.0.100 (all of 127/8 is
//! loopback on Linux), and the controller in process with `l2switch` + `lb`, one pool whose VIP is that address
//! (its only backend, 127.0.0.101, is probed there too), a bearer token, and the dashboard merged into its REST API. The
//! classify proxy then reaches the node at the VIP directly (no switch in between: the proxy does not
//! care how the VIP is reached; the OVS path is covered by the lb and lab end-to-end tests).
//!
//! Scenario: upload `chelsea.png` with the file picker and see a cat label and the serving node; click
//! the coffee sample and see "espresso"; switch the algorithm without the token (refused, shown), paste
//! the token, switch again and confirm with `GET /lb/pools/v1/algorithm`; toggle the dark theme and
//! see it survive a reload. Screenshots go to `<target>/dashboard-screenshot.png` (and `-dark.png`).

#[path = "browser/harness.rs"]
mod harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use rudder_controller::dashboard::{self, DashboardState};
use rudder_controller::rest::{self, ApiState};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 100));
const TOKEN: &str = "dashboard-test-token";
const NODE_ID: &str = "dash-ui-n1";

/// A chromedriver process on a loopback port; killed (by its PID) when dropped.
struct ChromeDriver {
    url: String,
    child: Child,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        let port = harness::free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let log = std::fs::File::create(harness::target_dir().join("chromedriver.log")).unwrap();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}): install it with `apt-get install -y chromium chromium-driver`")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ChromeDriver { url: format!("http://127.0.0.1:{port}"), child }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                            "--window-size=1280,1250", "--force-prefers-reduced-motion"]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(caps).connect(&self.url).await.expect("WebDriver session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pool's backend: a pool's backend cannot be its VIP (the trap rules would catch its own
/// traffic), so it is named by another address and probed at the node's.
const BACKEND_IP: &str = "127.0.0.101";

/// The controller with `l2switch` + `lb` and the dashboard, serving its REST API on loopback.
async fn start_controller(node: SocketAddr, stop: &CancellationToken) -> SocketAddr {
    let text = format!(
        r#"
        apps = ["l2switch", "lb"]
        [lb]
        probe_interval_ms = 200
        [[lb.pools]]
        name = "v1"
        vip = "{ip}"
        ports = [{port}]
        algorithm = "round_robin"
        [[lb.pools.backends]]
        ip = "{backend}"
        port = {port}
        health_url = "http://{ip}:{port}/health"
        model_version = "v1"
        "#,
        ip = node.ip(),
        port = node.port(),
        backend = BACKEND_IP,
    );
    let config: rudder_controller::Config = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("a controller config with an [lb] section must parse (the lb app): {e}"));
    let openflow = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api.local_addr().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let server =
        tokio::spawn(rudder_controller::run(config, vec![openflow], stop.clone().cancelled_owned(), |c| {
            let _ = ready_tx.send(c);
        }));
    let controller = match ready_rx.await {
        Ok(c) => c,
        Err(_) => panic!("the controller did not start: {:?}", server.await),
    };
    // Exactly as `rudder serve` mounts it.
    let dashboard =
        DashboardState::for_controller(&controller, harness::samples_dir()).expect("dashboard state");
    let state = ApiState::new(controller, Some(TOKEN.to_string())).with_routes(dashboard::router(dashboard));
    tokio::spawn(rest::serve(api, state, stop.clone().cancelled_owned()));
    api_addr
}

/// Polls `script` (a JS function body returning a value) until it returns something truthy.
async fn wait_js(browser: &Client, script: &str, within: Duration, what: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let value = browser.execute(script, vec![]).await.with_context(|| format!("running {script}"))?;
        let truthy =
            !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0);
        if truthy {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn text_of(browser: &Client, css: &str) -> anyhow::Result<String> {
    Ok(browser.find(Locator::Css(css)).await.with_context(|| format!("finding {css}"))?.text().await?)
}

async fn algorithm_over_rest(api: SocketAddr) -> anyhow::Result<String> {
    let body: Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("http://{api}/lb/pools/v1/algorithm"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["algorithm"].as_str().unwrap_or_default().to_string())
}

async fn save_screenshot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    let path = harness::target_dir().join(name);
    std::fs::write(&path, png)?;
    println!("screenshot: {}", path.display());
    Ok(())
}

async fn scenario(browser: &Client, api: SocketAddr) -> anyhow::Result<()> {
    let long = Duration::from_secs(60);
    browser.goto(&format!("http://{api}/")).await?;
    ensure!(browser.current_url().await?.path() == "/dashboard/", "/ redirects to the dashboard");
    wait_js(
        browser,
        "return document.querySelector('#pool-select option[value=\"v1\"]') !== null",
        long,
        "pool v1 in the classify form",
    )
    .await?;
    wait_js(
        browser,
        "return document.querySelector('#pools .badge.healthy') !== null",
        long,
        "the backend shown healthy",
    )
    .await?;

    // Upload with the file picker.
    let chelsea = harness::samples_dir().join("chelsea.png");
    let input = browser.find(Locator::Css("#file-input")).await?;
    input.send_keys(chelsea.to_str().context("sample path is UTF-8")?).await?;
    wait_js(
        browser,
        "return document.querySelectorAll('#predictions li').length === 5",
        long,
        "5 predictions for chelsea.png",
    )
    .await?;
    let served = text_of(browser, "#served-by").await?;
    ensure!(served.contains(NODE_ID) && served.contains("v1"), "serving node and model shown: {served:?}");
    let top = text_of(browser, "#predictions li:first-child").await?;
    ensure!(
        ["tiger cat", "Egyptian cat", "tabby"].iter().any(|cat| top.contains(cat)),
        "chelsea's top label is a cat: {top:?}"
    );
    ensure!(text_of(browser, "#classify-error").await?.is_empty(), "no error shown");

    // One click on a sample.
    browser
        .find(Locator::Css("#samples button[aria-label='Classify sample coffee.png']"))
        .await?
        .click()
        .await?;
    wait_js(
        browser,
        "const s = document.getElementById('served-by').textContent; \
         return s.startsWith('coffee.png: served by') && document.querySelectorAll('#predictions li').length === 5",
        long,
        "coffee.png classified",
    )
    .await?;
    let top = text_of(browser, "#predictions li:first-child").await?;
    ensure!(top.contains("espresso"), "coffee's top label: {top:?}");

    // Switching the algorithm needs the token: refused first, with the reason shown.
    let select = browser.find(Locator::Css("select[data-pool='v1']")).await?;
    select.select_by_value("least_connections").await?;
    wait_js(browser, "return document.querySelector('.pool-msg.bad')?.textContent", long, "a refusal")
        .await?;
    let refusal = text_of(browser, ".pool-msg").await?;
    ensure!(refusal.contains("API token"), "the refusal says what to do: {refusal:?}");
    ensure!(algorithm_over_rest(api).await? == "round_robin", "a refused switch changes nothing");

    browser.find(Locator::Css("details.token summary")).await?.click().await?;
    browser.find(Locator::Css("#token-input")).await?.send_keys(TOKEN).await?;
    browser.find(Locator::Css("#token-form button[type='submit']")).await?.click().await?;
    let select = browser.find(Locator::Css("select[data-pool='v1']")).await?;
    select.select_by_value("least_connections").await?;
    wait_js(
        browser,
        "return document.querySelector('.pool-msg.ok')?.textContent",
        long,
        "the switch confirmed",
    )
    .await?;
    ensure!(
        algorithm_over_rest(api).await? == "least_connections",
        "the UI switch reached the load balancer"
    );
    // Let a stats poll land so the screenshot shows current figures.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    save_screenshot(browser, "dashboard-screenshot.png").await?;

    // Dark theme, remembered across a reload.
    browser.find(Locator::Css("#theme-toggle")).await?.click().await?;
    let theme = browser.execute("return document.documentElement.dataset.theme", vec![]).await?;
    ensure!(theme == json!("dark"), "toggle sets the dark theme, got {theme}");
    browser.refresh().await?;
    wait_js(
        browser,
        "return document.querySelector('#pools .badge') !== null",
        long,
        "the page after reload",
    )
    .await?;
    let theme = browser.execute("return document.documentElement.dataset.theme", vec![]).await?;
    ensure!(theme == json!("dark"), "theme remembered, got {theme}");
    let pressed = browser.find(Locator::Css("#theme-toggle")).await?.attr("aria-pressed").await?;
    ensure!(pressed.as_deref() == Some("true"), "the toggle reports its state: {pressed:?}");
    let algorithm =
        browser.execute("return document.querySelector(\"select[data-pool='v1']\").value", vec![]).await?;
    ensure!(algorithm == json!("least_connections"), "the page shows the live algorithm: {algorithm}");
    save_screenshot(browser, "dashboard-screenshot-dark.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    assert!(Path::new(&harness::samples_dir()).join("chelsea.png").is_file(), "run `make model` first");
    let node = harness::Node::start(VIP, "v1", NODE_ID).await;
    let stop = CancellationToken::new();
    let api = start_controller(node.addr, &stop).await;
    let driver = ChromeDriver::start().await;
    let browser = driver.browser().await;
    let outcome = scenario(&browser, api).await;
    if outcome.is_err() {
        let _ = save_screenshot(&browser, "dashboard-failure.png").await;
    }
    let _ = browser.close().await;
    stop.cancel();
    drop(driver);
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
}
