//! One emulated switch of `rudder bench`: the handshake (through [`EmulatedSwitch`]), then the hot loop
//! that keeps a window of PACKET_INs in flight and counts the controller's answers.
//!
//! The hot loop never decodes a message. It frames by the header's length field, counts FLOW_MODs
//! (ADD/MODIFY/MODIFY_STRICT, as cbench) and PACKET_OUTs by the header's type, and reads a PACKET_OUT's
//! frame only at the fixed offsets of our sequence number. Sequence numbers make window accounting
//! exact even when a controller drops PACKET_INs under load (rudder does when an app's queue is full,
//! ovs-testcontroller when its tx queue overflows): the controller handles one switch's PACKET_INs in
//! order, so an answer to number `n` settles every number below `n`, answered or not.
//!
//! One task per switch; reads and writes share it through readiness (`try_read`/`try_write`), so a
//! controller that stops reading can never deadlock against a benchmark that stops reading.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use ofproto::header::MsgType;
use ofproto::multipart::{MultipartReply, MultipartReplyBody};
use ofproto::switch::SwitchFeatures;
use ofproto::{Message, OFP_VERSION};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::emulated::{EmulatedSwitch, EmulatorError};
use super::frames::{FrameKind, PacketInTemplates, frame_seq};
use super::report::Counts;
use super::window::SeqWindow;

/// Where the whole benchmark is; every switch task follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Switches are connecting; nothing is sent.
    Connect,
    /// Every host sends one broadcast so the controller learns where it is.
    Learn,
    /// Traffic flows, not counted.
    Warmup,
    /// Traffic flows and is counted (latency samples are kept only now).
    Measure,
    /// Tasks return.
    Stop,
}

/// Counters a switch task publishes for the orchestrator to snapshot between loops.
#[derive(Debug, Default)]
pub struct SharedCounts {
    packet_ins: AtomicU64,
    flow_mods: AtomicU64,
    packet_outs: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU64,
    /// Round trips timed so far (warm-up included): the orchestrator keeps the samples taken
    /// between the snapshots that open and close the measured loops, so the latency figures cover
    /// exactly the packets the counts cover.
    timed: AtomicU64,
}

impl SharedCounts {
    pub fn snapshot(&self) -> Counts {
        Counts {
            packet_ins: self.packet_ins.load(Ordering::Relaxed),
            flow_mods: self.flow_mods.load(Ordering::Relaxed),
            packet_outs: self.packet_outs.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// How many round trips the switch had timed when it last published.
    pub fn timed(&self) -> u64 {
        self.timed.load(Ordering::Acquire)
    }

    fn publish(&self, c: &Counts, timed: usize) {
        self.packet_ins.store(c.packet_ins, Ordering::Relaxed);
        self.flow_mods.store(c.flow_mods, Ordering::Relaxed);
        self.packet_outs.store(c.packet_outs, Ordering::Relaxed);
        self.lost.store(c.lost, Ordering::Relaxed);
        self.errors.store(c.errors, Ordering::Relaxed);
        self.timed.store(timed as u64, Ordering::Release);
    }
}

/// Settings shared by every switch task.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub controller: SocketAddr,
    pub templates: Arc<PacketInTemplates>,
    /// Unanswered PACKET_INs allowed in flight (1: latency mode).
    pub window: usize,
    /// Window of the learning phase.
    pub learn_window: usize,
    /// Keep per-packet round-trip times (latency mode).
    pub record_latency: bool,
    /// Silence after which in-flight PACKET_INs are written off as lost.
    pub stall_timeout: Duration,
    pub handshake_timeout: Duration,
}

/// Status reports from a switch task to the orchestrator.
#[derive(Debug)]
pub enum SwitchStatus {
    Connected { switch: u32 },
    Learned { switch: u32, lost: u64 },
}

/// Why a switch task failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("switch {switch}: handshake: {source}")]
    Handshake { switch: u32, source: EmulatorError },
    #[error("switch {switch}: i/o: {source}")]
    Io { switch: u32, source: std::io::Error },
    #[error("switch {switch}: the controller closed the connection")]
    Closed { switch: u32 },
    #[error("switch {switch}: the controller sent a message with length {length} (< 8)")]
    BadLength { switch: u32, length: usize },
}

/// What a switch task hands back when it stops.
#[derive(Debug, Default)]
pub struct SwitchOutcome {
    pub switch: u32,
    /// Round-trip times of the warm-up and measured loops, in nanoseconds, in the order taken.
    pub latencies_ns: Vec<u64>,
}

const READ_BUF: usize = 256 * 1024;
/// Most bytes queued for writing before the loop waits for the socket.
const WRITE_HIGH_WATER: usize = 128 * 1024;

/// Connects switch `switch` (dpid `switch + 1`), completes the handshake and runs until [`Phase::Stop`].
pub async fn run_switch(
    switch: u32,
    cfg: DriverConfig,
    counts: Arc<SharedCounts>,
    mut phase: watch::Receiver<Phase>,
    status: tokio::sync::mpsc::UnboundedSender<SwitchStatus>,
) -> Result<SwitchOutcome, DriverError> {
    let dpid = u64::from(switch) + 1;
    let ports = cfg.templates.layout().ports;
    let handshake = async {
        let mut sw = EmulatedSwitch::connect_with_version(cfg.controller, dpid, ports, OFP_VERSION).await?;
        // rudder ends its handshake with a barrier; ovs-testcontroller sends none, so a quiet spell
        // after FEATURES_REPLY ends it too.
        sw.complete_handshake_or_quiet(cfg.handshake_timeout, Duration::from_millis(250)).await?;
        Ok::<_, EmulatorError>(sw)
    };
    let sw = handshake.await.map_err(|source| DriverError::Handshake { switch, source })?;
    let replies = CannedReplies::new(&sw);
    let (stream, leftover) = sw.into_parts();
    let _ = status.send(SwitchStatus::Connected { switch });

    let mut rbuf = BytesMut::with_capacity(READ_BUF);
    rbuf.extend_from_slice(&leftover);
    let mut d = Driver {
        switch,
        cfg,
        stream,
        rbuf,
        wbuf: Vec::with_capacity(WRITE_HIGH_WATER + 4096),
        wpos: 0,
        replies,
        counts: Counts::default(),
        seqs: SeqWindow::default(),
        last_progress: Instant::now(),
        sent_at: None,
        host_cursor: 0,
        learn_sent: 0,
        learn_last_seq: None,
        learned: false,
        latencies: Vec::new(),
        next_xid: 0x1000,
    };
    let current = *phase.borrow_and_update();
    d.run(current, &mut phase, &counts, &status).await?;
    counts.publish(&d.counts, d.latencies.len());
    Ok(SwitchOutcome { switch, latencies_ns: d.latencies })
}

/// Pre-encoded answers to what a controller may ask after the handshake.
struct CannedReplies {
    features: Vec<u8>,
    port_desc: Vec<u8>,
}

impl CannedReplies {
    fn new(sw: &EmulatedSwitch) -> CannedReplies {
        let features = SwitchFeatures {
            datapath_id: sw.dpid,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x4f,
            reserved: 0,
        };
        CannedReplies {
            features: Message::FeaturesReply(features).to_bytes(0).to_vec(),
            port_desc: Message::MultipartReply(MultipartReply::new(MultipartReplyBody::PortDesc(
                sw.ports.clone(),
            )))
            .to_bytes(0)
            .to_vec(),
        }
    }
}

struct Driver {
    switch: u32,
    cfg: DriverConfig,
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    wpos: usize,
    replies: CannedReplies,
    counts: Counts,
    seqs: SeqWindow,
    last_progress: Instant,
    /// When the in-flight PACKET_IN was written (latency mode: the window is 1).
    sent_at: Option<Instant>,
    host_cursor: u32,
    learn_sent: u32,
    learn_last_seq: Option<u64>,
    learned: bool,
    latencies: Vec<u64>,
    next_xid: u32,
}

impl Driver {
    fn in_flight(&self) -> usize {
        self.seqs.in_flight() as usize
    }

    async fn run(
        &mut self,
        mut current: Phase,
        phase: &mut watch::Receiver<Phase>,
        shared: &SharedCounts,
        status: &tokio::sync::mpsc::UnboundedSender<SwitchStatus>,
    ) -> Result<(), DriverError> {
        let switch = self.switch;
        let mut stall_check = tokio::time::interval(self.cfg.stall_timeout / 4);
        stall_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        self.process_frames(current)?;
        loop {
            if current == Phase::Stop {
                return Ok(());
            }
            self.fill(current);
            if self.learn_done() && !self.learned {
                self.learned = true;
                let _ = status.send(SwitchStatus::Learned { switch, lost: self.counts.lost });
            }
            self.flush()?;
            let interest = if self.wpos < self.wbuf.len() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            tokio::select! {
                biased;
                ready = self.stream.ready(interest) => {
                    let ready = ready.map_err(|source| DriverError::Io { switch, source })?;
                    if ready.is_readable() {
                        self.read_available()?;
                        self.process_frames(current)?;
                        shared.publish(&self.counts, self.latencies.len());
                    }
                }
                changed = phase.changed() => {
                    current = if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Stop };
                }
                _ = stall_check.tick() => {
                    if self.in_flight() > 0 && self.last_progress.elapsed() >= self.cfg.stall_timeout {
                        // The controller dropped the tail of the window: write it off and go on.
                        self.counts.lost += self.seqs.write_off();
                        self.sent_at = None;
                        self.last_progress = Instant::now();
                        shared.publish(&self.counts, self.latencies.len());
                    }
                }
            }
        }
    }

    /// The learning phase is over: every host announced itself and every announcement is settled.
    fn learn_done(&self) -> bool {
        let macs = self.cfg.templates.layout().macs;
        self.learn_sent == macs && self.learn_last_seq.is_some_and(|s| self.seqs.settled >= s)
    }

    /// Tops the window up with PACKET_INs of the current phase.
    fn fill(&mut self, phase: Phase) {
        let layout = self.cfg.templates.layout();
        let (kind, window) = match phase {
            Phase::Learn if self.learn_sent < layout.macs => (FrameKind::Learn, self.cfg.learn_window),
            Phase::Warmup | Phase::Measure if self.learned => (FrameKind::Data, self.cfg.window),
            _ => return,
        };
        if self.in_flight() == 0 {
            self.last_progress = Instant::now();
        }
        while self.in_flight() < window && self.wbuf.len() - self.wpos < WRITE_HIGH_WATER {
            let host = match kind {
                FrameKind::Learn => {
                    let h = self.learn_sent;
                    self.learn_sent += 1;
                    h
                }
                FrameKind::Data => {
                    let h = self.host_cursor;
                    self.host_cursor = (self.host_cursor + 1) % layout.macs;
                    h
                }
            };
            let (seq, wire_seq) = self.seqs.issue();
            let xid = self.next_xid;
            self.next_xid = self.next_xid.wrapping_add(1).max(1);
            self.cfg.templates.push(&mut self.wbuf, kind, self.switch, host, xid, wire_seq);
            self.counts.packet_ins += 1;
            if self.cfg.record_latency {
                // Taken before the write, so the write's system call counts against the round trip.
                self.sent_at = Some(Instant::now());
            }
            if kind == FrameKind::Learn {
                self.learn_last_seq = Some(seq);
                if self.learn_sent == layout.macs {
                    break;
                }
            }
        }
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        while self.wpos < self.wbuf.len() {
            match self.stream.try_write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(source) => return Err(DriverError::Io { switch: self.switch, source }),
            }
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        Ok(())
    }

    fn read_available(&mut self) -> Result<(), DriverError> {
        loop {
            if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
                self.rbuf.reserve(READ_BUF);
            }
            match self.stream.try_read_buf(&mut self.rbuf) {
                Ok(0) => return Err(DriverError::Closed { switch: self.switch }),
                Ok(_) if self.rbuf.len() < READ_BUF => continue,
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(source) => return Err(DriverError::Io { switch: self.switch, source }),
            }
        }
    }

    /// Handles every whole message in the read buffer, by header only.
    fn process_frames(&mut self, phase: Phase) -> Result<(), DriverError> {
        let now = Instant::now();
        while self.rbuf.len() >= 8 {
            let length = usize::from(u16::from_be_bytes([self.rbuf[2], self.rbuf[3]]));
            if length < 8 {
                return Err(DriverError::BadLength { switch: self.switch, length });
            }
            if self.rbuf.len() < length {
                break;
            }
            let msg_type = MsgType::from(self.rbuf[1]);
            let xid = [self.rbuf[4], self.rbuf[5], self.rbuf[6], self.rbuf[7]];
            match msg_type {
                MsgType::PacketOut => {
                    self.counts.packet_outs += 1;
                    if let Some(seq) = packet_out_seq(&self.rbuf[..length]) {
                        self.settle(seq, now, phase);
                    }
                }
                // FLOW_MOD command at offset 25 (OF1.3.5 §7.3.4.1): ADD 0, MODIFY 1, MODIFY_STRICT 2.
                MsgType::FlowMod if self.rbuf.get(25).is_some_and(|c| *c <= 2) => self.counts.flow_mods += 1,
                MsgType::Error => self.counts.errors += 1,
                MsgType::EchoRequest => {
                    let start = self.wbuf.len();
                    self.wbuf.extend_from_slice(&self.rbuf[..length]);
                    self.wbuf[start + 1] = MsgType::EchoReply.into();
                }
                MsgType::BarrierRequest => {
                    self.wbuf.extend_from_slice(&[OFP_VERSION, MsgType::BarrierReply.into(), 0, 8]);
                    self.wbuf.extend_from_slice(&xid);
                }
                MsgType::FeaturesRequest => self.push_canned(true, xid),
                // Multipart type at offset 8; PORT_DESC is 13 (OF1.3.5 §7.3.5).
                MsgType::MultipartRequest if self.rbuf.get(8..10) == Some(&[0, 13]) => {
                    self.push_canned(false, xid)
                }
                _ => {}
            }
            self.rbuf.advance(length);
        }
        Ok(())
    }

    fn push_canned(&mut self, features: bool, xid: [u8; 4]) {
        let start = self.wbuf.len();
        let canned = if features { &self.replies.features } else { &self.replies.port_desc };
        self.wbuf.extend_from_slice(canned);
        self.wbuf[start + 4..start + 8].copy_from_slice(&xid);
    }

    /// A PACKET_OUT answered PACKET_IN `seq`: it and everything before it are settled.
    fn settle(&mut self, seq: u32, now: Instant, phase: Phase) {
        let Some(skipped) = self.seqs.settle(seq) else { return };
        self.counts.lost += skipped;
        self.last_progress = now;
        if let Some(sent) = self.sent_at.take()
            && matches!(phase, Phase::Warmup | Phase::Measure)
            && self.learned
        {
            self.latencies.push(now.duration_since(sent).as_nanos() as u64);
        }
    }
}

/// The sequence number of the frame a raw PACKET_OUT carries (OF1.3.5 §7.3.7: actions_len at 16,
/// actions from 24, then the frame).
pub fn packet_out_seq(msg: &[u8]) -> Option<u32> {
    let actions_len = usize::from(u16::from_be_bytes([*msg.get(16)?, *msg.get(17)?]));
    frame_seq(msg.get(24 + actions_len..)?)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ofproto::PortNo;
    use ofproto::action::Action;
    use ofproto::packet::PacketOut;

    use super::*;
    use crate::bench::frames::{HostLayout, data_frame, host_mac};

    #[test]
    fn finds_the_sequence_in_an_encoded_packet_out() {
        let t = PacketInTemplates::new(HostLayout::new(4).unwrap());
        let mut pi = Vec::new();
        t.push(&mut pi, FrameKind::Data, 0, 1, 1, 4242);
        let (_, Message::PacketIn(pi)) = Message::decode(&Bytes::from(pi)).unwrap() else {
            panic!("not a PACKET_IN")
        };
        let actions = vec![Action::Output { port: PortNo(2), max_len: 0 }];
        let po = Message::PacketOut(PacketOut::new(PortNo(1), actions, pi.data.clone())).to_bytes(7);
        assert_eq!(packet_out_seq(&po), Some(4242));
        let foreign = data_frame(host_mac(0, 0), host_mac(0, 1));
        let mut foreign = foreign.clone();
        foreign[42] = 0;
        let po = Message::PacketOut(PacketOut::new(PortNo(1), vec![], Bytes::from(foreign))).to_bytes(7);
        assert_eq!(packet_out_seq(&po), None);
        assert_eq!(packet_out_seq(&po[..20]), None, "truncated message");
    }
}
