//! Wires the parts together: listeners, the connection limit, the apps and the dispatcher.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::apps::lb::{LbApp, LbHandle};
use crate::apps::topology::{TopologyApp, TopologyView};
use crate::apps::{AppSlot, Dispatcher, l2switch::L2Switch, spawn_app};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::ofp::connection::{ConnectionContext, serve_connection};
use crate::ofp::listener::OpenFlowListener;
use crate::ofp::registry::DatapathRegistry;

/// Handles to a running controller's shared state, for the REST API and tests.
#[derive(Clone)]
pub struct Controller {
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub registry: DatapathRegistry,
    /// The topology app's view of switches, links and hosts, when that app runs.
    pub topology: Option<TopologyView>,
    /// The load balancer's command handle, when the `lb` app runs.
    pub lb: Option<LbHandle>,
}

/// Errors starting the controller.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("unknown app {0:?} (known: l2switch, topology, lb)")]
    UnknownApp(String),
    #[error("app lb steers only VIP traffic; run it with l2switch or topology, which forward the rest")]
    LbAlone,
    #[error("invalid [lb] section: {0}")]
    Lb(#[from] crate::apps::lb::config::LbConfigError),
    #[error("apps {0} and {1} both forward table-miss traffic; run one of them")]
    Conflict(&'static str, &'static str),
    #[error("no apps selected")]
    NoApps,
    /// An empty token would serve the mutating routes without authorization, silently.
    #[error(
        "the API token (--api-token, RUDDER_API_TOKEN or api_token) is empty: give one, or leave it unset to serve the API without authorization"
    )]
    EmptyApiToken,
    #[error(
        "the API token (--api-token, RUDDER_API_TOKEN or api_token) starts or ends with white space, \
         which no Authorization header can carry: remove it"
    )]
    ApiTokenWhitespace,
}

/// What the started apps share with the REST API.
struct Started {
    slots: Vec<AppSlot>,
    topology: Option<TopologyView>,
    lb: Option<LbHandle>,
}

fn start_apps(
    config: &Config,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Result<Started, StartError> {
    if config.apps.is_empty() {
        return Err(StartError::NoApps);
    }
    if let Some(token) = config.api_token.as_deref() {
        if token.trim().is_empty() {
            return Err(StartError::EmptyApiToken);
        }
        if token.trim() != token {
            return Err(StartError::ApiTokenWhitespace);
        }
    }
    let has = |name: &str| config.apps.iter().any(|a| a == name);
    if has("lb") && !has("l2switch") && !has("topology") {
        return Err(StartError::LbAlone);
    }
    if has("lb") {
        config.lb.validate()?;
    }
    if config.apps.iter().any(|a| a == "l2switch") && config.apps.iter().any(|a| a == "topology") {
        return Err(StartError::Conflict("l2switch", "topology"));
    }
    let mut slots = Vec::new();
    let mut topology = None;
    // The LB starts after the others so it gets the topology view wherever "lb" is listed.
    let ordered = config.apps.iter().filter(|a| *a != "lb").chain(config.apps.iter().filter(|a| *a == "lb"));
    let mut lb = None;
    for name in ordered {
        let (slot, task) = match name.as_str() {
            "l2switch" => {
                spawn_app(L2Switch::new(config.l2switch.idle_timeout), metrics.clone(), shutdown.clone())
            }
            "topology" => {
                let (app, view) = TopologyApp::new(config.topology.clone());
                topology = Some(view);
                spawn_app(app, metrics.clone(), shutdown.clone())
            }
            "lb" => {
                let (app, handle) =
                    LbApp::new(&config.lb, topology.clone(), metrics.lb.clone(), shutdown.child_token())?;
                lb = Some(handle);
                spawn_app(app, metrics.clone(), shutdown.clone())
            }
            other => return Err(StartError::UnknownApp(other.to_string())),
        };
        tasks.spawn(async move {
            let _ = task.await;
        });
        slots.push(slot);
    }
    Ok(Started { slots, topology, lb })
}

/// Runs the controller on already-bound OpenFlow listeners (TCP or Unix, see
/// [`OpenFlowListener`]) until `shutdown` resolves.
///
/// `ready` is called once the apps run and the listeners accept, with the shared state (tests use it
/// to reach the registry; `main` starts the REST API with it).
pub async fn run<L: Into<OpenFlowListener>>(
    config: Config,
    listeners: Vec<L>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(Controller),
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let registry = DatapathRegistry::new();
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let Started { slots, topology, lb } = start_apps(&config, &metrics, &stop, &mut tasks)?;
    let dispatcher = Dispatcher::new(slots, metrics.clone());
    info!(apps = ?dispatcher.app_names(), "apps started");

    let ctx = ConnectionContext {
        config: Arc::new(config.openflow.connection_config()),
        metrics: metrics.clone(),
        registry: registry.clone(),
        dispatcher,
        shutdown: stop.clone(),
    };
    let limit = Arc::new(Semaphore::new(config.max_switches.max(1)));
    let conn_ids = Arc::new(AtomicU64::new(1));
    for listener in listeners {
        let listener: OpenFlowListener = listener.into();
        info!(listen = %listener.target(), "OpenFlow listener");
        let ctx = ctx.clone();
        let limit = limit.clone();
        let conn_ids = conn_ids.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => break,
                    a = listener.accept() => a,
                };
                let stream = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(cause = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    warn!(peer = %stream.peer, "switch limit reached; refusing connection");
                    drop(stream);
                    continue;
                };
                let id = conn_ids.fetch_add(1, Ordering::Relaxed);
                let ctx = ctx.clone();
                conns.spawn(async move {
                    serve_connection(stream, id, ctx).await;
                    drop(permit);
                });
                // Reap finished connection tasks so the set does not grow without bound.
                while conns.try_join_next().is_some() {}
            }
            conns.shutdown().await;
        });
    }

    ready(Controller { config: config.clone(), metrics, registry, topology, lb });
    shutdown.await;
    info!("shutting down");
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    Ok(())
}
