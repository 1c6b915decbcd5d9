//! An emulated OpenFlow 1.3 switch: enough of a switch to take a controller through its handshake and
//! then exchange messages with it. Used by `rudder bench` and by tests that need a switch whose
//! behaviour (garbage, silence, old versions) they control.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ofproto::hello::Hello;
use ofproto::multipart::{MultipartReply, MultipartReplyBody, MultipartRequestBody};
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketInReason};
use ofproto::port::{Port, port_features};
use ofproto::switch::SwitchFeatures;
use ofproto::types::{FixedStr, NO_BUFFER};
use ofproto::{Framer, MacAddr, Message, PortNo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why the emulated switch stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the controller closed the connection")]
    Closed,
    #[error("framing: {0}")]
    Frame(#[from] ofproto::FrameError),
    #[error("the controller sent a malformed message: {0}")]
    Decode(#[from] ofproto::DecodeError),
    #[error("timed out waiting for the controller")]
    Timeout,
    #[error("unexpected message from the controller: {0}")]
    Unexpected(String),
}

/// What one answered handshake message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandshakeStep {
    Features,
    Barrier,
    Other,
}

/// A switch with `n_ports` ports numbered from 1, MAC addresses derived from the dpid.
pub struct EmulatedSwitch {
    pub dpid: u64,
    pub ports: Vec<Port>,
    stream: TcpStream,
    buf: BytesMut,
    framer: Framer,
    next_xid: u32,
    /// Answer ECHO_REQUEST automatically in [`recv`](Self::recv).
    pub answer_echo: bool,
}

/// Port `n` of switch `dpid`, as the emulator describes it.
pub fn emulated_port(dpid: u64, n: u32) -> Port {
    let d = dpid.to_be_bytes();
    Port {
        port_no: PortNo(n),
        hw_addr: MacAddr([0x02, d[5], d[6], d[7], (n >> 8) as u8, n as u8]),
        name: FixedStr::new(&format!("s{dpid}-eth{n}")),
        config: 0,
        state: 0,
        curr: port_features::_10GB_FD | port_features::COPPER,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 10_000_000,
    }
}

impl EmulatedSwitch {
    /// Connects and exchanges HELLOs (offering `version`; 0x04 unless testing negotiation failure).
    pub async fn connect_with_version(
        addr: SocketAddr,
        dpid: u64,
        n_ports: u32,
        version: u8,
    ) -> Result<EmulatedSwitch, EmulatorError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut sw = EmulatedSwitch {
            dpid,
            ports: (1..=n_ports).map(|n| emulated_port(dpid, n)).collect(),
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            framer: Framer::default(),
            next_xid: 1,
            answer_echo: true,
        };
        let mut hello = Message::Hello(Hello::with_versions(&[version])).to_bytes(0).to_vec();
        hello[0] = version;
        sw.send_raw(&hello).await?;
        Ok(sw)
    }

    /// Connects, offers OpenFlow 1.3 and completes the controller's handshake.
    pub async fn connect(addr: SocketAddr, dpid: u64, n_ports: u32) -> Result<EmulatedSwitch, EmulatorError> {
        let mut sw = Self::connect_with_version(addr, dpid, n_ports, ofproto::OFP_VERSION).await?;
        sw.complete_handshake(Duration::from_secs(10)).await?;
        Ok(sw)
    }

    /// Answers the controller's handshake requests until it sends a BARRIER_REQUEST (its last step),
    /// and returns everything else it sent on the way (SET_CONFIG, FLOW_MODs, ...).
    pub async fn complete_handshake(&mut self, timeout: Duration) -> Result<Vec<Message>, EmulatorError> {
        let mut seen = Vec::new();
        tokio::time::timeout(timeout, async {
            loop {
                let (xid, msg) = self.recv_raw().await?;
                if self.answer_handshake(xid, msg, &mut seen).await? == HandshakeStep::Barrier {
                    return Ok::<(), EmulatorError>(());
                }
            }
        })
        .await
        .map_err(|_| EmulatorError::Timeout)??;
        Ok(seen)
    }

    /// Like [`complete_handshake`](Self::complete_handshake), for controllers that never send a barrier
    /// (ovs-testcontroller): the handshake also ends once FEATURES_REPLY is sent and the controller has
    /// then been silent for `quiet`.
    pub async fn complete_handshake_or_quiet(
        &mut self,
        timeout: Duration,
        quiet: Duration,
    ) -> Result<Vec<Message>, EmulatorError> {
        let mut seen = Vec::new();
        let mut features_sent = false;
        tokio::time::timeout(timeout, async {
            loop {
                let (xid, msg) = if features_sent {
                    match tokio::time::timeout(quiet, self.recv_raw()).await {
                        Ok(next) => next?,
                        Err(_) => return Ok::<(), EmulatorError>(()),
                    }
                } else {
                    self.recv_raw().await?
                };
                match self.answer_handshake(xid, msg, &mut seen).await? {
                    HandshakeStep::Barrier => return Ok(()),
                    HandshakeStep::Features => features_sent = true,
                    HandshakeStep::Other => {}
                }
            }
        })
        .await
        .map_err(|_| EmulatorError::Timeout)??;
        Ok(seen)
    }

    /// Answers one handshake message; anything that needs no answer is added to `seen`.
    async fn answer_handshake(
        &mut self,
        xid: u32,
        msg: Message,
        seen: &mut Vec<Message>,
    ) -> Result<HandshakeStep, EmulatorError> {
        match msg {
            Message::Hello(_) => {}
            Message::FeaturesRequest => {
                let features = SwitchFeatures {
                    datapath_id: self.dpid,
                    n_buffers: 0,
                    n_tables: 254,
                    auxiliary_id: 0,
                    capabilities: 0x4f,
                    reserved: 0,
                };
                self.send_xid(xid, &Message::FeaturesReply(features)).await?;
                return Ok(HandshakeStep::Features);
            }
            Message::MultipartRequest(req) => {
                let body = match req.body {
                    MultipartRequestBody::PortDesc => MultipartReplyBody::PortDesc(self.ports.clone()),
                    other => {
                        return Err(EmulatorError::Unexpected(format!("multipart {:?}", other.mp_type())));
                    }
                };
                self.send_xid(xid, &Message::MultipartReply(MultipartReply::new(body))).await?;
            }
            Message::EchoRequest(data) => self.send_xid(xid, &Message::EchoReply(data)).await?,
            Message::BarrierRequest => {
                self.send_xid(xid, &Message::BarrierReply).await?;
                return Ok(HandshakeStep::Barrier);
            }
            other => seen.push(other),
        }
        Ok(HandshakeStep::Other)
    }

    /// The next message from the controller, undecoded xid included. Nothing is answered.
    pub async fn recv_raw(&mut self) -> Result<(u32, Message), EmulatorError> {
        let frame = self.next_frame().await?;
        let (header, msg) = Message::decode(&frame)?;
        Ok((header.xid, msg))
    }

    /// The next whole message as bytes.
    pub async fn next_frame(&mut self) -> Result<Bytes, EmulatorError> {
        loop {
            if let Some(frame) = self.framer.next_frame(&mut self.buf)? {
                return Ok(frame);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(EmulatorError::Closed);
            }
        }
    }

    /// The next message that is not an echo or barrier (those are answered, if `answer_echo`).
    pub async fn recv(&mut self) -> Result<(u32, Message), EmulatorError> {
        loop {
            let (xid, msg) = self.recv_raw().await?;
            match msg {
                Message::EchoRequest(data) if self.answer_echo => {
                    self.send_xid(xid, &Message::EchoReply(data)).await?
                }
                Message::BarrierRequest => self.send_xid(xid, &Message::BarrierReply).await?,
                other => return Ok((xid, other)),
            }
        }
    }

    /// Like [`recv`](Self::recv) with a deadline.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<(u32, Message), EmulatorError> {
        tokio::time::timeout(timeout, self.recv()).await.map_err(|_| EmulatorError::Timeout)?
    }

    /// Sends `msg` with a fresh xid; returns the xid.
    pub async fn send(&mut self, msg: &Message) -> Result<u32, EmulatorError> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.send_xid(xid, msg).await?;
        Ok(xid)
    }

    pub async fn send_xid(&mut self, xid: u32, msg: &Message) -> Result<(), EmulatorError> {
        self.stream.write_all(&msg.to_bytes(xid)).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), EmulatorError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// A table-miss PACKET_IN (cookie 0, no buffer) carrying `frame` from `in_port`.
    pub fn packet_in(in_port: u32, frame: Bytes) -> Message {
        Message::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: frame.len() as u16,
            reason: PacketInReason::from(0),
            table_id: 0,
            cookie: 0,
            r#match: Match { fields: vec![Oxm::InPort(PortNo(in_port))] },
            data: frame,
        })
    }

    /// Splits into the raw stream, for drivers that do their own framing (the benchmark's hot loop).
    pub fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.buf)
    }
}

/// A minimal Ethernet frame (`len` bytes, at least 60) from `src` to `dst` with EtherType IPv4.
pub fn ethernet_frame(dst: MacAddr, src: MacAddr, len: usize) -> Bytes {
    let mut f = vec![0u8; len.max(60)];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    Bytes::from(f)
}
