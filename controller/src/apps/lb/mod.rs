//! `lb`: the pure core of flow-level load balancing of inference traffic (issue 5).
//!
//! Nothing here touches a socket or spawns a task; the LB app, its health prober and the REST routes
//! are built on top of it. The pieces, kept apart as in pingora-load-balancing:
//! - [`config`]: the `[lb]` / `[[lb.pools]]` TOML section (service pools, backends, breaker settings);
//! - [`backend`]: a backend's static spec ([`backend::BackendSpec`]) and its live state
//!   ([`backend::BackendState`]: breaker, flow and byte counters, latency, draining);
//! - [`breaker`]: the per-backend circuit breaker driven by health-probe results;
//! - [`algorithm`]: the [`algorithm::Selector`] trait and every selection algorithm, chosen at run time
//!   by [`algorithm::Algorithm`]; [`maglev`] is the consistent-hash lookup table;
//! - [`pool`]: a service pool = VIP + backends + selector + the table of flows it steered;
//! - [`rules`]: FlowMods and PACKET_OUTs that carry out one decision (single switch or along a path),
//!   trap rules, and deletes for a drained or ejected backend; [`packet`]: frame parsing and ARP
//!   replies for the VIP;
//! - [`select_group`] and [`wildcard`]: the two switch-side modes (an OpenFlow SELECT group, and
//!   proactive wildcard rules on client-prefix ranges after Wang, Butnariu & Rexford, Hot-ICE 2011).
//!
//! On top of the core, the running app: [`app::LbApp`] (events, steering, accounting, failover),
//! [`probe`] (one health-probe task per backend), [`locate`] (where hosts are), [`handle`] (the
//! [`handle::LbHandle`] REST uses), [`stats`] (what `/lb/stats` shows).

pub mod algorithm;
pub mod app;
pub mod backend;
pub mod breaker;
pub mod config;
pub mod conntrack;
pub mod handle;
pub mod locate;
pub mod maglev;
pub mod packet;
pub mod pool;
pub mod probe;
pub mod rules;
pub mod select_group;
pub mod stats;
pub mod wildcard;

pub use app::LbApp;
pub use handle::LbHandle;

/// Cookie tag of every flow the load balancer installs ("LB").
pub const COOKIE_TAG: u16 = 0x4c42;
