//! Typed events the framework delivers to apps (Ryu's `EventOFP*`, as one exhaustive enum).

use std::sync::Arc;

use ofproto::error_msg::ErrorMsg;
use ofproto::flow::FlowRemoved;
use ofproto::packet::PacketIn;
use ofproto::port::{Port, PortStatus};
use ofproto::switch::SwitchFeatures;

use super::datapath::DatapathHandle;

/// What a switch looked like when its handshake finished.
#[derive(Debug, Clone)]
pub struct SwitchInfo {
    pub features: SwitchFeatures,
    pub ports: Vec<Port>,
}

/// One event from one switch. Every event carries the handle of the switch it came from, so an app can
/// act on it directly. Delivered as `Arc<Event>` so one event can go to several apps without copying.
#[derive(Debug, Clone)]
pub enum Event {
    /// Handshake finished: features, port descriptions, config and table-miss flow are in place.
    SwitchUp {
        dp: DatapathHandle,
        info: Arc<SwitchInfo>,
    },
    /// The connection closed (or was closed). Any state kept for this `dp` is stale; if the switch
    /// reconnects it comes back as a new `SwitchUp` with a new connection id.
    SwitchDown {
        dp: DatapathHandle,
    },
    PortStatus {
        dp: DatapathHandle,
        status: PortStatus,
    },
    PacketIn {
        dp: DatapathHandle,
        packet_in: PacketIn,
    },
    FlowRemoved {
        dp: DatapathHandle,
        flow_removed: FlowRemoved,
    },
    /// An OFPT_ERROR the switch sent for a message that nobody is awaiting a reply to.
    Error {
        dp: DatapathHandle,
        xid: u32,
        error: ErrorMsg,
    },
}

impl Event {
    pub fn datapath(&self) -> &DatapathHandle {
        match self {
            Event::SwitchUp { dp, .. }
            | Event::SwitchDown { dp }
            | Event::PortStatus { dp, .. }
            | Event::PacketIn { dp, .. }
            | Event::FlowRemoved { dp, .. }
            | Event::Error { dp, .. } => dp,
        }
    }

    /// Short name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SwitchUp { .. } => "switch_up",
            Event::SwitchDown { .. } => "switch_down",
            Event::PortStatus { .. } => "port_status",
            Event::PacketIn { .. } => "packet_in",
            Event::FlowRemoved { .. } => "flow_removed",
            Event::Error { .. } => "error",
        }
    }
}
