//! # ofproto: the OpenFlow 1.3.5 wire format
//!
//! Every OpenFlow 1.3 message as a plain Rust value that can be built, encoded and decoded without a
//! connection. Parsing uses `nom` over complete input; emitting appends to `bytes::BytesMut`, with every
//! length and padding field computed by the encoder. Unknown numbers round-trip (open enums), unknown
//! message types decode to [`Message::Unknown`], and no input makes the decoder panic. Re-encoding a
//! decoded message gives the same bytes, with two exceptions: padding is always emitted as zeros (the
//! spec's value; a peer's non-zero padding is read past, not kept), and a HELLO of another version is
//! emitted as version 0x04. A message that would exceed 65535 bytes is refused by
//! [`Message::try_encode`] rather than sent with a wrong length.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use ofproto::{Framer, Message};
//!
//! let mut stream = BytesMut::from(&[0x04u8, 0x02, 0x00, 0x08, 0, 0, 0, 1][..]); // ECHO_REQUEST
//! let frame: Bytes = Framer::default().next_frame(&mut stream).unwrap().unwrap();
//! let (header, msg) = Message::decode(&frame).unwrap();
//! assert_eq!(msg, Message::EchoRequest(Bytes::new()));
//! assert_eq!(Message::EchoReply(Bytes::new()).to_bytes(header.xid)[1], 0x03);
//! ```
//!
//! Module map (one file per message family, as smoltcp's `wire`):
//! header and framing; `oxm` (match), `action`, `instruction`; `hello`, `error_msg`, `experimenter`,
//! `switch` (features, config), `packet` (packet-in/out), `flow` (flow-mod, flow-removed, builders),
//! `port`, `group`, `meter`, `table`, `queue`, `role` (role, async), `multipart`; `nicira` (Open vSwitch
//! conntrack and NAT, as experimenter actions and NXM fields).

pub(crate) mod codec;
pub mod dump;
pub mod error;
pub mod framing;
pub mod header;
pub mod message;
pub mod types;
pub mod validate;

pub mod action;
pub mod error_msg;
pub mod experimenter;
pub mod flow;
pub mod group;
pub mod hello;
pub mod instruction;
pub mod meter;
pub mod multipart;
pub mod nicira;
pub mod oxm;
pub mod packet;
pub mod port;
pub mod queue;
pub mod role;
pub mod switch;
pub mod table;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use framing::{FrameError, Framer};
pub use header::{Header, MsgType, OFP_VERSION};
pub use message::Message;
pub use types::{MacAddr, PortNo};
