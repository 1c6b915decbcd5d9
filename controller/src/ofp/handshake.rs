//! The connection handshake (OF1.3.5 §6.3): HELLO and version negotiation, FEATURES_REQUEST,
//! SET_CONFIG, the optional flow reset and table-miss flow, PORT_DESC, and a closing barrier.
//!
//! The switch is not up yet, so nothing here reaches the apps. Input is held to the same rules as
//! after the handshake: a message that cannot be framed or decoded gets its OFPT_ERROR before the
//! connection closes, and an unknown message type gets BAD_TYPE while the handshake goes on.

use bytes::Bytes;
use ofproto::error_msg::{ErrorMsg, ErrorType, HelloFailedCode};
use ofproto::flow::FlowMod;
use ofproto::hello::Hello;
use ofproto::multipart::{MultipartReplyBody, MultipartRequest};
use ofproto::oxm::Match;
use ofproto::switch::SwitchConfig;
use ofproto::{Header, Message, OFP_VERSION};
use tokio::io::AsyncWriteExt;
use tracing::debug;

use super::connection::{
    ConnectionConfig, ConnectionError, FrameReader, reply_to_undecodable, reply_to_unframeable,
    reply_to_unknown_type,
};
use super::event::SwitchInfo;
use super::listener::SwitchWriter;
use crate::metrics::Metrics;

/// Most ports a switch may describe at the handshake (Open vSwitch allows 65280 per bridge).
const MAX_PORTS: usize = 65_536;

/// The xids of the handshake's requests, in the order they are sent; the connection's own requests
/// start after them.
mod xid {
    pub const HELLO: u32 = 1;
    pub const FEATURES: u32 = 2;
    pub const SET_CONFIG: u32 = 3;
    pub const FLOW_RESET: u32 = 4;
    pub const TABLE_MISS: u32 = 5;
    pub const PORT_DESC: u32 = 6;
    pub const BARRIER: u32 = 7;
    pub const FIRST_FREE: u32 = 8;
}

/// Runs the handshake; on success, what the switch told about itself and the first free xid.
pub(super) async fn handshake(
    reader: &mut FrameReader,
    wr: &mut SwitchWriter,
    config: &ConnectionConfig,
    metrics: &Metrics,
) -> Result<(SwitchInfo, u32), ConnectionError> {
    send_now(wr, &Message::Hello(Hello::new_v13()), xid::HELLO).await?;

    // The switch's HELLO: any version may arrive; negotiate (OF1.3.5 §6.3.1).
    let (header, msg, _) = next_message(reader, wr, metrics).await?;
    let Message::Hello(hello) = msg else {
        return Err(ConnectionError::Handshake(format!(
            "expected HELLO, got {}",
            header.msg_type.spec_name()
        )));
    };
    if hello.highest_common(header.version, &[OFP_VERSION]) != Some(OFP_VERSION) {
        let text = format!(
            "this controller supports only OpenFlow 1.3 (0x04); switch offered 0x{:02x}",
            header.version
        );
        let err = ErrorMsg {
            error: ErrorType::HelloFailed(HelloFailedCode::Incompatible),
            data: Bytes::from(text),
        };
        let _ = send_now(wr, &Message::Error(err), header.xid).await;
        return Err(ConnectionError::IncompatibleVersion);
    }

    send_now(wr, &Message::FeaturesRequest, xid::FEATURES).await?;
    let Message::FeaturesReply(features) =
        await_reply(reader, wr, metrics, xid::FEATURES, "FEATURES_REQUEST").await?
    else {
        return Err(ConnectionError::Handshake("FEATURES_REQUEST got a reply of another type".into()));
    };

    let set_config = Message::SetConfig(SwitchConfig { flags: 0, miss_send_len: config.miss_send_len });
    send_now(wr, &set_config, xid::SET_CONFIG).await?;
    if config.clear_flows_on_connect {
        send_now(wr, &Message::FlowMod(FlowMod::delete(Match::default())), xid::FLOW_RESET).await?;
    }
    if config.install_table_miss {
        send_now(wr, &Message::FlowMod(FlowMod::table_miss()), xid::TABLE_MISS).await?;
    }

    // PORT_DESC, reassembling REPLY_MORE parts.
    send_now(wr, &Message::MultipartRequest(MultipartRequest::port_desc()), xid::PORT_DESC).await?;
    let mut ports = Vec::new();
    loop {
        match await_reply(reader, wr, metrics, xid::PORT_DESC, "PORT_DESC").await? {
            Message::MultipartReply(reply) => {
                let more = reply.is_more();
                if let MultipartReplyBody::PortDesc(mut p) = reply.body {
                    ports.append(&mut p);
                }
                // A peer that sends REPLY_MORE parts for ever must not take the memory with it.
                if ports.len() > MAX_PORTS {
                    return Err(ConnectionError::Handshake(format!(
                        "PORT_DESC lists over {MAX_PORTS} ports"
                    )));
                }
                if !more {
                    break;
                }
            }
            other => {
                return Err(ConnectionError::Handshake(format!(
                    "PORT_DESC got {}",
                    other.msg_type().spec_name()
                )));
            }
        }
    }

    send_now(wr, &Message::BarrierRequest, xid::BARRIER).await?;
    await_reply(reader, wr, metrics, xid::BARRIER, "BARRIER").await?;
    Ok((SwitchInfo { features, ports }, xid::FIRST_FREE))
}

async fn send_now(wr: &mut SwitchWriter, msg: &Message, xid: u32) -> Result<(), ConnectionError> {
    wr.write_all(&msg.to_bytes(xid)).await?;
    Ok(())
}

/// The next message, with its bytes. Input that cannot be framed or decoded is answered with its OFPT_ERROR, written
/// before the error is returned (and the connection closed).
async fn next_message(
    reader: &mut FrameReader,
    wr: &mut SwitchWriter,
    metrics: &Metrics,
) -> Result<(Header, Message, Bytes), ConnectionError> {
    let frame = match reader.next().await {
        Ok(frame) => frame,
        Err(err @ ConnectionError::Frame(_)) => {
            metrics.malformed.with_label_values(&["framing"]).inc();
            let _ = wr.write_all(&reply_to_unframeable(reader)).await;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    match Message::decode(&frame) {
        Ok((header, msg)) => Ok((header, msg, frame)),
        Err(err) => {
            metrics.malformed.with_label_values(&["decode"]).inc();
            let _ = wr.write_all(&reply_to_undecodable(&err, &frame)).await;
            Err(err.into())
        }
    }
}

/// Waits for the reply with `xid`, answering echo requests meanwhile. Other messages during the
/// handshake (e.g. an early PORT_STATUS) are not dispatched: the switch is not up yet.
async fn await_reply(
    reader: &mut FrameReader,
    wr: &mut SwitchWriter,
    metrics: &Metrics,
    xid: u32,
    what: &str,
) -> Result<Message, ConnectionError> {
    loop {
        let (header, msg, frame) = next_message(reader, wr, metrics).await?;
        match msg {
            Message::EchoRequest(data) => send_now(wr, &Message::EchoReply(data), header.xid).await?,
            Message::Error(err) if header.xid == xid => {
                return Err(ConnectionError::Handshake(format!("{what} failed: {:?}", err.error)));
            }
            Message::Unknown { .. } => wr.write_all(&reply_to_unknown_type(header.xid, &frame)).await?,
            msg if header.xid == xid => return Ok(msg),
            other => debug!(msg = ?other.msg_type(), "ignored during handshake"),
        }
    }
}
