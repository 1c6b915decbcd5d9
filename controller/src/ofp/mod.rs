//! The OpenFlow framework: switch connections, their handles, the registry of connected switches and
//! the events apps receive. Apps never touch sockets; the framework owns the switch lifecycle.

pub mod connection;
pub mod datapath;
pub mod event;
mod handshake;
pub mod listener;
pub mod registry;

pub use connection::{ConnectionConfig, ConnectionContext};
pub use datapath::{DatapathHandle, RequestError, SendError};
pub use event::{Event, SwitchInfo};
pub use listener::{OpenFlowListener, Peer};
pub use registry::DatapathRegistry;
