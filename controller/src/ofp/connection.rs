//! One switch connection: handshake, then a read loop that answers echoes, matches replies to requests
//! and turns everything else into events; a separate writer task owns the socket's write half.
//!
//! Lifecycle (OF1.3.5 §6.3): the handshake (`handshake.rs`: HELLO and version negotiation,
//! FEATURES_REQUEST, SET_CONFIG, the table-miss flow, PORT_DESC, and a barrier so that `SwitchUp`
//! means "the switch is in the state the controller set"), then the read loop until either side ends.
//!
//! A message that does not decode closes this connection only: the switch gets an OFPT_ERROR naming the
//! problem (with the first 64 bytes of the message, as the spec recommends), the bytes are logged, and
//! every other switch carries on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ofproto::error_msg::{BadRequestCode, ERROR_DATA_LEN, ErrorMsg, ErrorType};
use ofproto::{DecodeError, DecodeErrorKind, Framer, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::datapath::{DatapathHandle, DatapathWiring, OUTGOING_QUEUE};
use super::event::Event;
use super::handshake::handshake;
use super::listener::{SwitchReader, SwitchStream, SwitchWriter};
use super::registry::DatapathRegistry;
use crate::apps::Dispatcher;
use crate::metrics::{Metrics, dpid_label};

/// Settings of the switch-facing side.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Send ECHO_REQUEST after this long without hearing from the switch.
    pub echo_interval: Duration,
    /// Disconnect after this many unanswered echo requests in a row.
    pub echo_missed_limit: u32,
    /// Time allowed for the whole handshake.
    pub handshake_timeout: Duration,
    /// Default time a request waits for its reply.
    pub request_timeout: Duration,
    /// `miss_send_len` set with SET_CONFIG (0xffff: send whole packets, no buffering).
    pub miss_send_len: u16,
    /// Install the table-miss flow (priority 0, output to controller, no buffering) in table 0.
    pub install_table_miss: bool,
    /// Delete every flow when a switch connects, so apps start from a known state.
    pub clear_flows_on_connect: bool,
    /// Largest message accepted from a switch.
    pub max_message_len: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            echo_interval: Duration::from_secs(5),
            echo_missed_limit: 3,
            handshake_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            miss_send_len: 0xffff,
            install_table_miss: true,
            clear_flows_on_connect: true,
            max_message_len: ofproto::framing::DEFAULT_MAX_MESSAGE_LEN,
        }
    }
}

/// What a connection task needs from the rest of the controller.
#[derive(Clone)]
pub struct ConnectionContext {
    pub config: Arc<ConnectionConfig>,
    pub metrics: Metrics,
    pub registry: DatapathRegistry,
    pub dispatcher: Dispatcher,
    pub shutdown: CancellationToken,
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the switch closed the connection")]
    Eof,
    #[error("framing: {0}")]
    Frame(#[from] ofproto::FrameError),
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    #[error("the switch does not speak OpenFlow 1.3")]
    IncompatibleVersion,
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("no answer to {0} echo requests")]
    EchoTimeout(u32),
    #[error("closed by the controller")]
    Closed,
}

/// Reads whole frames off the read half.
pub(super) struct FrameReader {
    rd: SwitchReader,
    buf: BytesMut,
    framer: Framer,
    /// When the last read from the socket returned. Every frame of one read arrived together, so
    /// they share this time (one clock read per read, not per frame: the clock showed in profiles).
    read_at: Instant,
}

impl FrameReader {
    /// A whole frame already in the buffer, without reading the socket.
    pub(super) fn buffered(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        Ok(self.framer.next_frame(&mut self.buf)?)
    }

    pub(super) async fn next(&mut self) -> Result<Bytes, ConnectionError> {
        loop {
            if let Some(frame) = self.framer.next_frame(&mut self.buf)? {
                return Ok(frame);
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(ConnectionError::Eof);
            }
            self.read_at = Instant::now();
        }
    }
}

/// Maps a decode failure to the OFPT_ERROR the spec calls for (OF1.3.5 §7.4.4).
pub fn error_for_decode_failure(err: &DecodeError) -> ErrorType {
    match err.kind {
        DecodeErrorKind::UnsupportedVersion { .. } => ErrorType::BadRequest(BadRequestCode::BadVersion),
        _ => ErrorType::BadRequest(BadRequestCode::BadLen),
    }
}

/// The encoded OFPT_ERROR answering a message that did not decode: the spec's code, the offending
/// xid, and the message's first bytes.
pub(super) fn reply_to_undecodable(err: &DecodeError, frame: &[u8]) -> Bytes {
    Message::Error(ErrorMsg::new(error_for_decode_failure(err), frame)).to_bytes(xid_of(frame))
}

/// The encoded OFPT_ERROR answering input that cannot be framed (a length under the header's size or
/// over the limit): BAD_REQUEST/BAD_LEN with the bytes where the frame should have started.
pub(super) fn reply_to_unframeable(reader: &FrameReader) -> Bytes {
    let bytes = &reader.buf[..reader.buf.len().min(ERROR_DATA_LEN)];
    warn!(bytes = %hex_prefix(bytes, ERROR_DATA_LEN), "unframeable input");
    Message::Error(ErrorMsg::new(ErrorType::BadRequest(BadRequestCode::BadLen), bytes))
        .to_bytes(xid_of(bytes))
}

/// The encoded BAD_REQUEST/BAD_TYPE error for a message type this controller does not know; unlike a
/// malformed message, it leaves the connection up (OF1.3.5 §7.4.4).
pub(super) fn reply_to_unknown_type(xid: u32, frame: &[u8]) -> Bytes {
    Message::Error(ErrorMsg::new(ErrorType::BadRequest(BadRequestCode::BadType), frame)).to_bytes(xid)
}

fn hex_prefix(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for b in &bytes[..bytes.len().min(max)] {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// Serves one switch until it disconnects, misbehaves, or the controller shuts down.
pub async fn serve_connection(stream: SwitchStream, conn_id: u64, ctx: ConnectionContext) {
    let SwitchStream { reader: rd, writer: mut wr, peer } = stream;
    let mut reader = FrameReader {
        rd,
        buf: BytesMut::with_capacity(16 * 1024),
        framer: Framer::new(ctx.config.max_message_len),
        read_at: Instant::now(),
    };

    let handshake = tokio::time::timeout(
        ctx.config.handshake_timeout,
        handshake(&mut reader, &mut wr, &ctx.config, &ctx.metrics),
    );
    let (info, next_xid) = match handshake.await {
        Ok(Ok(done)) => done,
        Ok(Err(err)) => {
            warn!(%peer, cause = %err, "switch handshake failed");
            let _ = wr.shutdown().await;
            return;
        }
        Err(_) => {
            warn!(%peer, "switch handshake timed out");
            return;
        }
    };

    let dpid = info.features.datapath_id;
    let closed = ctx.shutdown.child_token();
    let (tx, rx) = mpsc::channel::<Bytes>(OUTGOING_QUEUE);
    let dp = DatapathHandle::new(DatapathWiring {
        dpid,
        conn_id,
        peer: peer.clone(),
        n_tables: info.features.n_tables,
        tx: tx.clone(),
        closed: closed.clone(),
        request_timeout: ctx.config.request_timeout,
        metrics: ctx.metrics.clone(),
        first_xid: next_xid,
    });
    let writer = tokio::spawn(write_loop(wr, rx, closed.clone()));

    let label = dpid_label(dpid);
    ctx.metrics.dp_connections.with_label_values(&[&label]).inc();
    ctx.metrics.dp_connected.inc();
    info!(dpid = %format!("{dpid:016x}"), %peer, conn_id, ports = info.ports.len(), "switch up");
    ctx.registry.insert(dp.clone(), info.clone());
    ctx.dispatcher.deliver(Event::SwitchUp { dp: dp.clone(), info: Arc::new(info) }, Instant::now()).await;

    let result = read_loop(&mut reader, &dp, &tx, &ctx, &label).await;
    match &result {
        Err(ConnectionError::Decode(e)) => {
            warn!(dpid = %format!("{dpid:016x}"), %peer, cause = %e, "malformed message; closing the connection")
        }
        Err(ConnectionError::Frame(e)) => {
            warn!(dpid = %format!("{dpid:016x}"), %peer, cause = %e, "unframeable stream; closing the connection")
        }
        Err(e) => info!(dpid = %format!("{dpid:016x}"), %peer, cause = %e, "switch down"),
        Ok(()) => info!(dpid = %format!("{dpid:016x}"), %peer, "switch down"),
    }

    // The writer flushes what is queued (e.g. a final OFPT_ERROR) and stops.
    drop(tx);
    closed.cancel();
    let _ = writer.await;
    dp.fail_all();
    ctx.metrics.dp_disconnections.with_label_values(&[&label]).inc();
    ctx.metrics.dp_connected.dec();
    if ctx.registry.remove(&dp) || !ctx.shutdown.is_cancelled() {
        ctx.dispatcher.deliver(Event::SwitchDown { dp }, Instant::now()).await;
    }
}

/// The xid of a raw message, if it has a header (0 otherwise), for answering what failed to decode.
fn xid_of(bytes: &[u8]) -> u32 {
    match bytes.get(4..8) {
        Some(x) => u32::from_be_bytes([x[0], x[1], x[2], x[3]]),
        None => 0,
    }
}

/// How long one write to a switch may wait for the socket to drain before the switch is taken for
/// one that stopped reading.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// Writes queued bytes, coalescing whatever is already queued into one write. When the connection is
/// closed it flushes what is still queued (bounded by a timeout) before shutting the socket.
async fn write_loop(mut wr: SwitchWriter, mut rx: mpsc::Receiver<Bytes>, closed: CancellationToken) {
    let mut batch = BytesMut::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            biased;
            msg = rx.recv() => msg,
            _ = closed.cancelled() => {
                while let Ok(more) = rx.try_recv() {
                    batch.extend_from_slice(&more);
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), wr.write_all(&batch)).await;
                None
            }
        };
        let Some(first) = first else { break };
        batch.extend_from_slice(&first);
        while batch.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        // A peer that stops reading must not hold this task (and its connection) for ever: the
        // write gives way when the connection closes (the read side's echo timeout), or when it
        // makes no progress for WRITE_STALL.
        // Biased: a write that can go through at once (the usual case, and a final OFPT_ERROR queued
        // just before the close) is done before the close is looked at.
        let written = tokio::select! {
            biased;
            written = tokio::time::timeout(WRITE_STALL, wr.write_all(&batch)) => written,
            () = closed.cancelled() => break,
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                debug!(cause = %e, "write failed");
                break;
            }
            Err(_) => {
                warn!(stalled_s = WRITE_STALL.as_secs(), "the switch does not read; closing the connection");
                break;
            }
        }
        batch.clear();
    }
    let _ = wr.shutdown().await;
    closed.cancel();
}

async fn read_loop(
    reader: &mut FrameReader,
    dp: &DatapathHandle,
    tx: &mpsc::Sender<Bytes>,
    ctx: &ConnectionContext,
    label: &str,
) -> Result<(), ConnectionError> {
    let config = &ctx.config;
    let mut echo = tokio::time::interval(config.echo_interval);
    echo.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    echo.tick().await; // the first tick fires at once
    let mut last_heard = Instant::now();
    let mut unanswered: u32 = 0;
    let mut echo_xid: u32 = 0x8000_0000;
    // Labelled children resolved once: `with_label_values` hashes labels and locks on every call.
    let packet_ins = ctx.metrics.packet_ins.with_label_values(&[label]);

    loop {
        let buffered = reader.buffered();
        let frame = match buffered {
            // Frames left over from the last read are taken without a `select!`, which would set up
            // a fresh close notification per frame (it showed in profiles); a close is still
            // noticed between frames.
            Ok(Some(_)) if dp.is_closed() => return Err(ConnectionError::Closed),
            Ok(Some(frame)) => Ok(frame),
            Err(e) => Err(e),
            Ok(None) => tokio::select! {
            biased;
            _ = dp.closed() => return Err(ConnectionError::Closed),
            frame = reader.next() => frame,
            _ = echo.tick() => {
                if last_heard.elapsed() >= config.echo_interval {
                    if unanswered >= config.echo_missed_limit {
                        return Err(ConnectionError::EchoTimeout(unanswered));
                    }
                    unanswered += 1;
                    echo_xid = echo_xid.wrapping_add(1) | 0x8000_0000;
                    let _ = tx.try_send(Message::EchoRequest(Bytes::new()).to_bytes(echo_xid));
                }
                continue;
            }
            },
        };
        let frame = match frame {
            Ok(f) => f,
            Err(ConnectionError::Frame(e)) => {
                ctx.metrics.malformed.with_label_values(&["framing"]).inc();
                let _ = tx.try_send(reply_to_unframeable(reader));
                return Err(ConnectionError::Frame(e));
            }
            Err(e) => return Err(e),
        };
        let received = reader.read_at;
        last_heard = received;
        unanswered = 0;

        let (header, msg) = match Message::decode(&frame) {
            Ok(ok) => ok,
            Err(e) => {
                ctx.metrics.malformed.with_label_values(&["decode"]).inc();
                warn!(dpid = %format!("{:016x}", dp.dpid()), cause = %e, bytes = %hex_prefix(&frame, 256), "malformed message");
                let _ = tx.try_send(reply_to_undecodable(&e, &frame));
                return Err(e.into());
            }
        };

        match msg {
            Message::EchoRequest(data) => {
                let _ = tx.try_send(Message::EchoReply(data).to_bytes(header.xid));
            }
            Message::EchoReply(_) | Message::Hello(_) => {}
            Message::Unknown { .. } => {
                let _ = tx.try_send(reply_to_unknown_type(header.xid, &frame));
            }
            msg => {
                if let Message::Error(_) = &msg {
                    ctx.metrics.errors.with_label_values(&[label]).inc();
                }
                let Some(msg) = dp.complete(header.xid, msg, frame.len()) else { continue };
                match msg {
                    Message::PacketIn(packet_in) => {
                        packet_ins.inc();
                        ctx.dispatcher.offer(Event::PacketIn { dp: dp.clone(), packet_in }, received);
                    }
                    Message::FlowRemoved(flow_removed) => {
                        ctx.dispatcher
                            .deliver(Event::FlowRemoved { dp: dp.clone(), flow_removed }, received)
                            .await;
                    }
                    Message::PortStatus(status) => {
                        ctx.registry.apply_port_status(dp, &status);
                        ctx.dispatcher.deliver(Event::PortStatus { dp: dp.clone(), status }, received).await;
                    }
                    Message::Error(error) => {
                        warn!(dpid = %format!("{:016x}", dp.dpid()), xid = header.xid, error = ?error.error, "switch reported an error");
                        ctx.dispatcher
                            .offer(Event::Error { dp: dp.clone(), xid: header.xid, error }, received);
                    }
                    other => debug!(
                        msg = other.msg_type().spec_name(),
                        xid = header.xid,
                        "unsolicited message ignored"
                    ),
                }
            }
        }
    }
}
