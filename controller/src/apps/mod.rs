//! The app model (after Ryu's): each app runs in its own task, receives typed [`Event`]s through its own
//! bounded queue and acts through the [`DatapathHandle`](crate::ofp::DatapathHandle) each event carries.
//!
//! No app runs inside a socket's read loop. Lifecycle events (switch up/down, port status, flow removed)
//! are never dropped: the connection waits for room in the app's queue, which only delays that one
//! switch. PACKET_INs are dropped (and counted in `of_packet_ins_dropped{app}`) when an app's queue is
//! full, as a switch would drop them under load, so a slow app cannot stall any switch.
//!
//! PACKET_IN and FLOW_REMOVED are routed by cookie: every app that installs flows tags their cookie
//! with its 16-bit [`App::cookie_tag`] in the top bits, and messages carrying that tag go to that app
//! only. Messages from untagged flows (the table-miss flow) go to apps that return true from
//! [`App::wants_table_miss`].

pub mod l2switch;
pub mod lb;
pub mod topology;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::ofp::event::Event;

/// Capacity of each app's event queue.
pub const APP_QUEUE: usize = 4096;

/// The top-16-bit cookie tag of an app's flows.
pub fn cookie_tag_of(cookie: u64) -> u16 {
    (cookie >> 48) as u16
}

/// The cookie mask that selects every flow of one app (its tag), e.g. in a delete or a stats request.
pub const COOKIE_TAG_MASK: u64 = 0xffff_0000_0000_0000;

/// Builds a cookie for an app's flow from its tag and a 48-bit app-specific value.
pub fn make_cookie(tag: u16, low: u64) -> u64 {
    (u64::from(tag) << 48) | (low & 0x0000_ffff_ffff_ffff)
}

/// An app: reacts to events, optionally on a timer too.
pub trait App: Send + 'static {
    /// The name used on the command line, in logs and in metrics labels.
    fn name(&self) -> &'static str;

    /// The tag in the top 16 bits of the cookie of every flow this app installs (never 0).
    fn cookie_tag(&self) -> Option<u16> {
        None
    }

    /// Whether this app wants PACKET_INs and FLOW_REMOVEDs from flows no app tagged (table-miss).
    fn wants_table_miss(&self) -> bool {
        false
    }

    /// How often [`App::tick`] runs, if at all.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    fn handle(&mut self, event: &Event) -> impl Future<Output = ()> + Send;

    fn tick(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Waits for one piece of input from outside the switch event stream (REST commands, results of
    /// the app's own background tasks such as health probes) and keeps it for
    /// [`App::handle_input`]. [`spawn_app`] drops this future whenever an event or a tick comes
    /// first, so it must be cancel-safe: receive from a channel and store, nothing more. Apps without
    /// side input keep the default, which never resolves.
    fn next_input(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Handles the input [`App::next_input`] stored. Runs to completion like [`App::handle`].
    fn handle_input(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// An event on its way to one app: owned when that app is its only recipient (the usual case for a
/// PACKET_IN, routed by cookie), shared when several apps get it.
pub(crate) enum Delivered {
    Owned(Event),
    Shared(Arc<Event>),
}

impl std::ops::Deref for Delivered {
    type Target = Event;
    fn deref(&self) -> &Event {
        match self {
            Delivered::Owned(event) => event,
            Delivered::Shared(event) => event,
        }
    }
}

pub(crate) struct Envelope {
    pub event: Delivered,
    /// When the message behind the event was read off the socket.
    pub received: Instant,
}

/// The dispatcher's view of one running app.
#[derive(Clone)]
pub struct AppSlot {
    pub name: &'static str,
    cookie_tag: Option<u16>,
    wants_table_miss: bool,
    tx: mpsc::Sender<Envelope>,
}

/// Most events an app handles in a row before it looks at its timer, side input and shutdown again.
const EVENT_BATCH: usize = 64;

/// Starts `app` in its own task. The task ends when `shutdown` fires or every sender is gone.
pub fn spawn_app<A: App>(
    mut app: A,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> (AppSlot, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Envelope>(APP_QUEUE);
    let slot = AppSlot {
        name: app.name(),
        cookie_tag: app.cookie_tag(),
        wants_table_miss: app.wants_table_miss(),
        tx,
    };
    let name = app.name();
    let task = tokio::spawn(async move {
        // One histogram child per event kind, resolved on first use rather than per event (and found
        // with foldhash: SipHash on this per-event lookup showed in profiles).
        let mut latency: HashMap<&'static str, Histogram, foldhash::fast::RandomState> = HashMap::default();
        let mut ticker = app.tick_interval().map(|d| {
            let mut t = tokio::time::interval(d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                env = rx.recv() => {
                    let Some(mut env) = env else { break };
                    // Events already queued are handled in a row (up to a budget, so ticks and side
                    // input still get their turn): going back through `select!` per event costs a
                    // fresh shutdown notification each time, which showed in profiles.
                    let mut handled = 0;
                    loop {
                        app.handle(&env.event).await;
                        let kind = env.event.kind();
                        latency
                            .entry(kind)
                            .or_insert_with(|| metrics.event_latency.with_label_values(&[name, kind]))
                            .observe(env.received.elapsed().as_secs_f64());
                        handled += 1;
                        if handled == EVENT_BATCH || shutdown.is_cancelled() {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(next) => env = next,
                            Err(_) => break,
                        }
                    }
                }
                _ = async { ticker.as_mut().expect("guarded").tick().await }, if ticker.is_some() => {
                    app.tick().await;
                }
                () = app.next_input() => app.handle_input().await,
            }
        }
        tracing::debug!(app = name, "app stopped");
    });
    (slot, task)
}

/// Routes events from every connection to the apps.
#[derive(Clone)]
pub struct Dispatcher {
    apps: Arc<[AppSlot]>,
    metrics: Metrics,
}

impl Dispatcher {
    pub fn new(apps: Vec<AppSlot>, metrics: Metrics) -> Dispatcher {
        Dispatcher { apps: apps.into(), metrics }
    }

    pub fn app_names(&self) -> Vec<&'static str> {
        self.apps.iter().map(|a| a.name).collect()
    }

    /// Whether a cookie-routed message (PACKET_IN, FLOW_REMOVED) with `cookie` goes to `app`: to the
    /// app whose tag it carries, else (untagged or unknown tag) to the table-miss apps.
    fn is_routed_to(&self, cookie: u64, app: &AppSlot) -> bool {
        let tag = cookie_tag_of(cookie);
        if tag != 0 && self.apps.iter().any(|a| a.cookie_tag == Some(tag)) {
            app.cookie_tag == Some(tag)
        } else {
            app.wants_table_miss
        }
    }

    /// Delivers an event that must not be lost, waiting for queue room.
    pub(crate) async fn deliver(&self, event: Event, received: Instant) {
        let event = Arc::new(event);
        let cookie = match &*event {
            Event::FlowRemoved { flow_removed, .. } => Some(flow_removed.cookie),
            _ => None,
        };
        for app in self.apps.iter() {
            if cookie.is_none_or(|c| self.is_routed_to(c, app)) {
                let _ = app.tx.send(Envelope { event: Delivered::Shared(event.clone()), received }).await;
            }
        }
    }

    /// Delivers an event that may be dropped under overload (PACKET_IN, unsolicited errors).
    pub(crate) fn offer(&self, event: Event, received: Instant) {
        let cookie = match &event {
            Event::PacketIn { packet_in, .. } => Some(packet_in.cookie),
            _ => None,
        };
        let routed = |a: &&AppSlot| cookie.is_none_or(|c| self.is_routed_to(c, a));
        let mut recipients = self.apps.iter().filter(routed);
        let (Some(first), second) = (recipients.next(), recipients.next()) else { return };
        let is_packet_in = cookie.is_some();
        let offer_to = |app: &AppSlot, event: Delivered| {
            if app.tx.try_send(Envelope { event, received }).is_err() {
                if is_packet_in {
                    self.metrics.packet_ins_dropped.with_label_values(&[app.name]).inc();
                } else {
                    tracing::debug!(
                        app = app.name,
                        "unsolicited OFPT_ERROR dropped: the app's queue is full"
                    );
                }
            }
        };
        // One recipient (a PACKET_IN routed by its cookie): no shared allocation per packet.
        let Some(second) = second else { return offer_to(first, Delivered::Owned(event)) };
        let event = Arc::new(event);
        for app in [first, second].into_iter().chain(recipients) {
            offer_to(app, Delivered::Shared(event.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_tags() {
        let c = make_cookie(0x4c42, 0x1234);
        assert_eq!(cookie_tag_of(c), 0x4c42);
        assert_eq!(c & 0xffff, 0x1234);
        assert_eq!(cookie_tag_of(0), 0);
    }

    fn slot(
        name: &'static str,
        cookie_tag: Option<u16>,
        wants_table_miss: bool,
    ) -> (AppSlot, mpsc::Receiver<Envelope>) {
        let (tx, rx) = mpsc::channel(8);
        (AppSlot { name, cookie_tag, wants_table_miss, tx }, rx)
    }

    fn packet_in(cookie: u64) -> Event {
        let (dp, _rx) = crate::ofp::datapath::DatapathHandle::unconnected(1, 1);
        let packet_in = ofproto::packet::PacketIn {
            buffer_id: ofproto::types::NO_BUFFER,
            total_len: 0,
            reason: ofproto::packet::PacketInReason::from(0),
            table_id: 0,
            cookie,
            r#match: ofproto::oxm::Match::default(),
            data: bytes::Bytes::new(),
        };
        Event::PacketIn { dp, packet_in }
    }

    #[test]
    fn packet_ins_go_to_the_app_their_cookie_names_or_to_the_table_miss_apps() {
        let (l2, mut l2_rx) = slot("l2switch", Some(0x4c32), true);
        let (lb, mut lb_rx) = slot("lb", Some(0x4c42), false);
        let (watch, mut watch_rx) = slot("watch", None, true);
        let dispatcher = Dispatcher::new(vec![l2, lb, watch], Metrics::new());

        // Tagged: only the app with the tag, and it gets the event itself, not a shared copy.
        dispatcher.offer(packet_in(make_cookie(0x4c42, 7)), Instant::now());
        let got = lb_rx.try_recv().expect("lb gets its packet-in");
        assert!(matches!(got.event, Delivered::Owned(Event::PacketIn { .. })));
        assert!(l2_rx.try_recv().is_err() && watch_rx.try_recv().is_err());

        // Untagged (table-miss): every table-miss app, sharing one event.
        dispatcher.offer(packet_in(0), Instant::now());
        for rx in [&mut l2_rx, &mut watch_rx] {
            let got = rx.try_recv().expect("table-miss apps get it");
            assert!(matches!(got.event, Delivered::Shared(_)));
            assert!(matches!(*got.event, Event::PacketIn { .. }));
        }
        assert!(lb_rx.try_recv().is_err());
    }
}
