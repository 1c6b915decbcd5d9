//! `DatapathHandle`: how apps and the REST API talk to one connected switch.
//!
//! A handle is a cheap `Clone` (an `Arc`). Sending encodes the message on the caller's task and queues
//! the bytes for the connection's writer task through a bounded channel, so the socket is never written
//! from two places and a slow switch pushes back on its own senders only. `request` allocates an xid,
//! waits for the matching reply (multipart REPLY_MORE parts reassembled, OFPT_ERROR surfaced as
//! `RequestError::Switch`) and times out rather than waiting forever.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ofproto::error_msg::ErrorMsg;
use ofproto::multipart::{MultipartReply, merge_replies};
use ofproto::{EncodeError, Message};
use prometheus::IntCounter;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::listener::Peer;
use crate::metrics::{Metrics, dpid_label};

/// Capacity of a connection's outgoing queue, in encoded messages (or batches of messages).
pub const OUTGOING_QUEUE: usize = 1024;

/// What [`DatapathHandle::send_all_in`] reserves when its arena runs low.
pub const ARENA_CHUNK: usize = 64 * 1024;

/// Why a request got no reply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("the switch connection is closed")]
    Closed,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("the switch answered with an error: {0:?}")]
    Switch(Box<ErrorMsg>),
    #[error("multipart reply parts did not fit together: {0}")]
    Multipart(String),
    /// Nothing was sent: the request cannot be encoded (over 65535 bytes).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Removes a request's entry from the pending map when the request ends, however it ends.
struct ForgetOnDrop<'a> {
    dp: &'a DatapathHandle,
    xid: u32,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.dp.lock_pending().remove(&self.xid);
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the switch connection is closed")]
    Closed,
    #[error("the switch's outgoing queue is full")]
    Full,
    /// Nothing was sent: the message cannot be encoded (over 65535 bytes).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl<T> From<mpsc::error::TrySendError<T>> for SendError {
    fn from(e: mpsc::error::TrySendError<T>) -> SendError {
        match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        }
    }
}

enum Pending {
    Single(oneshot::Sender<Result<Message, RequestError>>),
    /// `bytes`: the wire size of the parts so far (see [`MAX_MULTIPART_REPLY`]).
    Multipart {
        tx: oneshot::Sender<Result<Message, RequestError>>,
        parts: Vec<MultipartReply>,
        bytes: usize,
    },
}

/// Largest multipart reply reassembled, in wire bytes (a flow table of some 300 000 flows). A switch
/// that sends REPLY_MORE parts without end would otherwise grow the controller's memory until the
/// request times out.
pub const MAX_MULTIPART_REPLY: usize = 64 << 20;

struct Inner {
    dpid: u64,
    conn_id: u64,
    peer: Peer,
    n_tables: u8,
    tx: mpsc::Sender<Bytes>,
    next_xid: AtomicU32,
    pending: Mutex<HashMap<u32, Pending>>,
    closed: CancellationToken,
    request_timeout: Duration,
    /// `of_flowmsgs_sent{dpid}` and `of_packet_outs_sent{dpid}` for this switch, resolved once.
    flowmsgs_sent: IntCounter,
    packet_outs_sent: IntCounter,
}

/// A connected switch. Equality is by connection: a switch that reconnects gets a new handle.
#[derive(Clone)]
pub struct DatapathHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for DatapathHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Datapath({:016x} conn {} {})", self.inner.dpid, self.inner.conn_id, self.inner.peer)
    }
}

impl PartialEq for DatapathHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
impl Eq for DatapathHandle {}

/// The parts of a handle only the connection task uses.
pub(crate) struct DatapathWiring {
    pub dpid: u64,
    pub conn_id: u64,
    pub peer: Peer,
    pub n_tables: u8,
    pub tx: mpsc::Sender<Bytes>,
    pub closed: CancellationToken,
    pub request_timeout: Duration,
    pub metrics: Metrics,
    /// First xid this handle allocates (the handshake used the ones before it).
    pub first_xid: u32,
}

impl DatapathHandle {
    /// A handle for switch 1 with no connection behind it, for unit tests: what it sends is queued
    /// on the returned receiver (`queue` deep), with xids from `first_xid`.
    #[cfg(test)]
    pub(crate) fn unconnected(queue: usize, first_xid: u32) -> (DatapathHandle, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(queue);
        let dp = DatapathHandle::new(DatapathWiring {
            dpid: 1,
            conn_id: 1,
            peer: Peer::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 1))),
            n_tables: 1,
            tx,
            closed: CancellationToken::new(),
            request_timeout: Duration::from_secs(1),
            metrics: Metrics::new(),
            first_xid,
        });
        (dp, rx)
    }

    pub(crate) fn new(w: DatapathWiring) -> DatapathHandle {
        DatapathHandle {
            inner: Arc::new(Inner {
                dpid: w.dpid,
                conn_id: w.conn_id,
                peer: w.peer,
                n_tables: w.n_tables,
                tx: w.tx,
                next_xid: AtomicU32::new(w.first_xid),
                pending: Mutex::new(HashMap::new()),
                closed: w.closed,
                request_timeout: w.request_timeout,
                flowmsgs_sent: w.metrics.flowmsgs_sent.with_label_values(&[&dpid_label(w.dpid)]),
                packet_outs_sent: w.metrics.packet_outs_sent.with_label_values(&[&dpid_label(w.dpid)]),
            }),
        }
    }

    pub fn dpid(&self) -> u64 {
        self.inner.dpid
    }

    /// Identifies this connection (a reconnecting switch gets a new one).
    pub fn conn_id(&self) -> u64 {
        self.inner.conn_id
    }

    pub fn peer(&self) -> &Peer {
        &self.inner.peer
    }

    pub fn n_tables(&self) -> u8 {
        self.inner.n_tables
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Closes the connection (the connection task notices and shuts down).
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// Resolves when the connection has closed.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }

    fn next_xid(&self) -> u32 {
        // xid 0 is avoided: some switches use it for unsolicited messages.
        loop {
            let xid = self.inner.next_xid.fetch_add(1, Ordering::Relaxed);
            if xid != 0 {
                return xid;
            }
        }
    }

    fn count_sent(&self, msg: &Message) {
        match msg {
            Message::FlowMod(_) => self.inner.flowmsgs_sent.inc(),
            Message::PacketOut(_) => self.inner.packet_outs_sent.inc(),
            _ => {}
        }
    }

    /// Waits for room in the outgoing queue, giving up when the connection closes: a switch that
    /// stopped reading keeps its queue full until it is disconnected, and the caller (an app that
    /// serves every switch) must not wait longer than that.
    async fn queue(&self, bytes: Bytes) -> Result<(), SendError> {
        tokio::select! {
            sent = self.inner.tx.send(bytes) => sent.map_err(|_| SendError::Closed),
            () = self.inner.closed.cancelled() => Err(SendError::Closed),
        }
    }

    /// Queues `msg` with a fresh xid, waiting for room if the queue is full. Returns the xid.
    pub async fn send(&self, msg: &Message) -> Result<u32, SendError> {
        let xid = self.next_xid();
        self.queue(msg.try_to_bytes(xid)?).await?;
        self.count_sent(msg);
        Ok(xid)
    }

    /// Queues `msg` without waiting; fails with `SendError::Full` rather than blocking (packet-in paths).
    pub fn try_send(&self, msg: &Message) -> Result<u32, SendError> {
        let xid = self.next_xid();
        let bytes = msg.try_to_bytes(xid)?;
        self.inner.tx.try_send(bytes)?;
        self.count_sent(msg);
        Ok(xid)
    }

    /// Queues several messages as one write (e.g. forward rule, reverse rule and packet-out).
    pub async fn send_all(&self, msgs: &[Message]) -> Result<(), SendError> {
        let buf = self.encode_all(msgs)?;
        self.queue(buf).await?;
        msgs.iter().for_each(|m| self.count_sent(m));
        Ok(())
    }

    /// [`send_all`](Self::send_all), encoding into the caller's `arena` and sending a slice of it, so
    /// that an app sending per PACKET_IN allocates once per [`ARENA_CHUNK`] bytes instead of once per
    /// packet. The arena is reused once the writer has sent (and dropped) the earlier slices.
    pub async fn send_all_in(&self, arena: &mut BytesMut, msgs: &[Message]) -> Result<(), SendError> {
        let bytes = self.encode_in(arena, msgs)?;
        self.queue(bytes).await?;
        msgs.iter().for_each(|m| self.count_sent(m));
        Ok(())
    }

    /// `msgs` encoded with fresh xids into `arena`, split off as one buffer; none of them if one
    /// cannot be encoded.
    fn encode_in(&self, arena: &mut BytesMut, msgs: &[Message]) -> Result<Bytes, EncodeError> {
        if arena.capacity() < 512 * msgs.len() {
            arena.reserve(ARENA_CHUNK);
        }
        let start = arena.len();
        for msg in msgs {
            if let Err(e) = msg.try_encode(self.next_xid(), arena) {
                arena.truncate(start);
                return Err(e);
            }
        }
        Ok(arena.split().freeze())
    }

    /// `msgs` encoded with fresh xids into one new buffer.
    fn encode_all(&self, msgs: &[Message]) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::with_capacity(128 * msgs.len());
        for msg in msgs {
            msg.try_encode(self.next_xid(), &mut buf)?;
        }
        Ok(buf.freeze())
    }

    /// Non-blocking variant of [`send_all_in`](Self::send_all_in), for packet-in paths: a full queue
    /// (a switch that does not read) drops the messages rather than stalling the app for every
    /// other switch. Nothing is encoded into the arena when the queue is already full.
    pub fn try_send_all_in(&self, arena: &mut BytesMut, msgs: &[Message]) -> Result<(), SendError> {
        let permit = self.inner.tx.try_reserve()?;
        permit.send(self.encode_in(arena, msgs)?);
        msgs.iter().for_each(|m| self.count_sent(m));
        Ok(())
    }

    /// Non-blocking variant of [`send_all`](Self::send_all).
    pub fn try_send_all(&self, msgs: &[Message]) -> Result<(), SendError> {
        let buf = self.encode_all(msgs)?;
        self.inner.tx.try_send(buf)?;
        msgs.iter().for_each(|m| self.count_sent(m));
        Ok(())
    }

    /// Sends a request and waits for its reply (multipart replies reassembled into one).
    pub async fn request(&self, msg: &Message) -> Result<Message, RequestError> {
        let timeout = self.inner.request_timeout;
        self.request_with_timeout(msg, timeout).await
    }

    pub async fn request_with_timeout(
        &self,
        msg: &Message,
        timeout: Duration,
    ) -> Result<Message, RequestError> {
        let xid = self.next_xid();
        let bytes = msg.try_to_bytes(xid)?;
        let (tx, rx) = oneshot::channel();
        let pending = match msg {
            Message::MultipartRequest(_) => Pending::Multipart { tx, parts: Vec::new(), bytes: 0 },
            _ => Pending::Single(tx),
        };
        self.lock_pending().insert(xid, pending);
        // However this ends (reply, error, time-out, or the caller dropping this future, e.g. a REST
        // client that went away), the xid leaves the map; after a reply it is already gone.
        let _forget = ForgetOnDrop { dp: self, xid };
        // The time-out covers the wait for queue room too: a switch that does not read must not
        // hold a caller longer than `timeout`.
        let exchange = async {
            self.queue(bytes).await.map_err(|_| RequestError::Closed)?;
            self.count_sent(msg);
            rx.await.unwrap_or(Err(RequestError::Closed))
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(RequestError::Timeout(timeout)))
    }

    /// Sends a BARRIER_REQUEST and waits for the reply: every message queued before it has been processed.
    pub async fn barrier(&self) -> Result<(), RequestError> {
        self.request(&Message::BarrierRequest).await.map(|_| ())
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Pending>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts/removes).
        self.inner.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the connection's reader for every message (`wire_len` bytes on the wire). Returns the
    /// message back if nobody awaits `xid`, so it is dispatched to apps as an event.
    pub(crate) fn complete(&self, xid: u32, msg: Message, wire_len: usize) -> Option<Message> {
        let mut pending = self.lock_pending();
        let Some(entry) = pending.remove(&xid) else {
            return Some(msg);
        };
        match (entry, msg) {
            (Pending::Single(tx), Message::Error(err))
            | (Pending::Multipart { tx, .. }, Message::Error(err)) => {
                let _ = tx.send(Err(RequestError::Switch(Box::new(err))));
            }
            (Pending::Multipart { tx, mut parts, bytes }, Message::MultipartReply(part)) => {
                let more = part.is_more();
                let bytes = bytes + wire_len;
                if bytes > MAX_MULTIPART_REPLY {
                    let _ = tx.send(Err(RequestError::Multipart(format!(
                        "reply over {} MiB; its remaining parts are ignored",
                        MAX_MULTIPART_REPLY >> 20
                    ))));
                    return None;
                }
                parts.push(part);
                if more {
                    pending.insert(xid, Pending::Multipart { tx, parts, bytes });
                } else {
                    let merged = merge_replies(parts)
                        .map(Message::MultipartReply)
                        .map_err(|e| RequestError::Multipart(e.to_string()));
                    let _ = tx.send(merged);
                }
            }
            (Pending::Single(tx), msg) | (Pending::Multipart { tx, .. }, msg) => {
                let _ = tx.send(Ok(msg));
            }
        }
        None
    }

    /// Fails every outstanding request (the connection is gone).
    pub(crate) fn fail_all(&self) {
        let drained: Vec<Pending> = self.lock_pending().drain().map(|(_, p)| p).collect();
        for p in drained {
            let tx = match p {
                Pending::Single(tx) | Pending::Multipart { tx, .. } => tx,
            };
            let _ = tx.send(Err(RequestError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::packet::PacketOut;
    use ofproto::types::PortNo;

    /// Splits one queued write into its messages.
    fn messages(mut write: Bytes) -> Vec<(u32, Message)> {
        let mut out = Vec::new();
        while !write.is_empty() {
            let len = u16::from_be_bytes([write[2], write[3]]) as usize;
            let (header, msg) = Message::decode(&write.split_to(len)).expect("decodes");
            out.push((header.xid, msg));
        }
        out
    }

    #[tokio::test]
    async fn arena_sends_keep_every_message_intact_while_the_arena_is_reused() {
        let (dp, mut rx) = DatapathHandle::unconnected(4, 100);
        let mut arena = BytesMut::new();
        let mut last_xid = 99;
        // Enough rounds to exhaust the first arena chunk several times over, with earlier slices
        // still queued (not yet written) whenever the arena grows.
        for round in 0..2000u32 {
            let frame = Bytes::from(round.to_be_bytes().repeat(40));
            let out = PacketOut::new(PortNo(1), vec![], frame);
            let msgs = [Message::BarrierRequest, Message::PacketOut(out)];
            dp.send_all_in(&mut arena, &msgs).await.unwrap();
            if rx.len() == 4 || round == 1999 {
                while let Ok(write) = rx.try_recv() {
                    let got = messages(write);
                    assert_eq!(got.len(), 2, "one write per call, both messages in it");
                    assert_eq!(got[0].1, Message::BarrierRequest);
                    let Message::PacketOut(p) = &got[1].1 else { panic!("packet-out second") };
                    let sent_in_round = (got[0].0 - 100) / 2;
                    assert_eq!(p.data, Bytes::from(sent_in_round.to_be_bytes().repeat(40)), "frame intact");
                    assert!(got[0].0 == last_xid + 1 && got[1].0 == last_xid + 2, "fresh, ordered xids");
                    last_xid = got[1].0;
                }
            }
        }
        assert_eq!(last_xid, 99 + 2 * 2000);
    }
}
