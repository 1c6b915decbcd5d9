//! An in-process controller for integration tests: `rudder_controller::run` on a free loopback port
//! and a Unix socket (for switches in other network namespaces), with the REST API on another port,
//! stopped on drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rudder_controller::ofp::OpenFlowListener;
use rudder_controller::rest::{ApiState, serve};
use rudder_controller::{Config, Controller, run};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestController {
    pub controller: Controller,
    /// The OpenFlow port on loopback.
    pub of_port: u16,
    /// The OpenFlow Unix socket, which bridges in other namespaces connect to.
    pub of_socket: PathBuf,
    /// Where the REST API listens (`http://{api_addr}`).
    pub api_addr: SocketAddr,
    stop: Option<(oneshot::Sender<()>, oneshot::Sender<()>)>,
}

impl TestController {
    /// Starts the controller with `apps` and the REST API (requiring `token` if given).
    pub async fn start(apps: &[&str], token: Option<&str>) -> TestController {
        let config = Config { apps: apps.iter().map(|a| a.to_string()).collect(), ..Config::default() };
        TestController::start_with(config, token).await
    }

    /// Starts the controller with `config` (its `listen` is replaced by a free loopback port).
    pub async fn start_with(mut config: Config, token: Option<&str>) -> TestController {
        let of_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind OpenFlow port");
        let of_port = of_listener.local_addr().expect("local addr").port();
        config.listen = vec![SocketAddr::from(([127, 0, 0, 1], of_port))];
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let of_socket = std::env::temp_dir().join(format!("rudder-test-of-{}-{n}.sock", std::process::id()));
        let of_unix = OpenFlowListener::bind_unix(&of_socket).expect("bind the OpenFlow socket");
        config.listen_unix = vec![of_socket.clone()];
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_of, stop_of_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_of_rx.await;
            };
            if let Err(e) = run(config, vec![of_listener.into(), of_unix], shutdown, move |c| {
                let _ = ready_tx.send(c);
            })
            .await
            {
                panic!("controller failed: {e:#}");
            }
        });
        let controller = ready_rx.await.expect("controller ready");
        let api_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind API port");
        let api_addr = api_listener.local_addr().expect("local addr");
        let (stop_api, stop_api_rx) = oneshot::channel::<()>();
        let state = ApiState::new(controller.clone(), token.map(str::to_string));
        tokio::spawn(serve(api_listener, state, async {
            let _ = stop_api_rx.await;
        }));
        TestController { controller, of_port, of_socket, api_addr, stop: Some((stop_of, stop_api)) }
    }

    /// The controller target for Open vSwitch bridges (`unix:PATH`).
    pub fn of_target(&self) -> String {
        format!("unix:{}", self.of_socket.display())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api_addr)
    }

    /// Waits until the switch with `dpid` finished its handshake; panics after `timeout`.
    pub async fn wait_switch(&self, dpid: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.controller.registry.get(dpid).is_none() {
            assert!(Instant::now() < deadline, "switch {dpid:#x} did not connect within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestController {
    fn drop(&mut self) {
        if let Some((of, api)) = self.stop.take() {
            let _ = of.send(());
            let _ = api.send(());
        }
    }
}
