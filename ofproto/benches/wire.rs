//! Criterion benches for the OpenFlow wire codec: the per-packet and per-flow hot paths of a
//! controller. Each group runs a baseline beside the measured operation (a `Bytes` clone, a memcpy of
//! the same bytes) so results can be read as ratios that survive machine noise.
//!
//! Times are thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a shared machine whose
//! cgroup is throttled, wall time counts the periods the bench was not running at all.
//!
//! Run: `cargo bench -p ofproto --bench wire` (figures in docs/performance.md).
//!
//! Instruction counts (stable under machine load): with `WIRE_LOOP=<op>` set, the binary skips
//! criterion and runs one hot path `WIRE_LOOP_N` times (default 20000) inside a function of its own,
//! for `valgrind --tool=callgrind --toggle-collect='wire::hot_loop*'`; `<op>` is `packet_in_decode`,
//! `flow_mod_encode` or `flow_mod_decode`. The command is in docs/performance.md.

use std::hint::black_box;
use std::net::Ipv4Addr;

use bytes::{Bytes, BytesMut};
use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group};
use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::instruction::Instruction;
use ofproto::multipart::{FlowStats, MultipartReply, MultipartReplyBody, multipart_reply_flags};
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketInReason};
use ofproto::types::NO_BUFFER;
use ofproto::{Framer, MacAddr, Message, PortNo};

/// Criterion measurement of the bench thread's CPU time, printed like wall time.
struct ThreadCpuTime {
    wall: WallTime,
}

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

type Bench = Criterion<ThreadCpuTime>;

/// A PACKET_IN as OVS sends it for a table miss: match with in_port only, a 64-byte frame.
fn packet_in_64() -> Bytes {
    let frame: Vec<u8> = (0..64u8).collect();
    Message::PacketIn(PacketIn {
        buffer_id: NO_BUFFER,
        total_len: 64,
        reason: PacketInReason::NoMatch,
        table_id: 0,
        cookie: 0,
        r#match: Match::new().in_port(PortNo(1)),
        data: Bytes::from(frame),
    })
    .to_bytes(0x1234)
}

/// The load balancer's per-connection flow: 4 match fields, rewrite MAC and IP, output.
fn lb_flow_mod() -> Message {
    Message::FlowMod(
        FlowMod::add(
            Match::new().eth_type(0x0800).ipv4_dst(Ipv4Addr::new(10, 0, 0, 100)).ip_proto(6).tcp_dst(80),
        )
        .priority(100)
        .idle_timeout(10)
        .send_flow_rem()
        .apply_actions(vec![
            Action::set_field(Oxm::EthDst(MacAddr([0x02, 0, 0, 0, 0, 0x03]), None)),
            Action::set_field(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 3), None)),
            Action::output(PortNo(3)),
        ]),
    )
}

/// A flow-stats reply of `n` entries, each like the load balancer's flows (136 bytes on the wire).
/// 1000 of them do not fit one 64 KiB message, so the reply is a `REPLY_MORE` sequence of messages of
/// `PER_MESSAGE` entries, as a switch sends it (OF1.3.5 §7.3.5).
fn flow_stats_reply(n: u32) -> Vec<Bytes> {
    const PER_MESSAGE: usize = 400;
    let Message::FlowMod(template) = lb_flow_mod() else { unreachable!("lb_flow_mod builds a FLOW_MOD") };
    let entries = (0..n)
        .map(|i| FlowStats {
            table_id: 0,
            duration_sec: i,
            duration_nsec: 500,
            priority: 100,
            idle_timeout: 10,
            hard_timeout: 0,
            flags: 1,
            cookie: u64::from(i),
            packet_count: u64::from(i) * 10,
            byte_count: u64::from(i) * 1500,
            r#match: template.r#match.clone(),
            instructions: template.instructions.clone(),
        })
        .collect::<Vec<_>>();
    let parts: Vec<&[FlowStats]> = entries.chunks(PER_MESSAGE).collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let flags = if i < last { multipart_reply_flags::REPLY_MORE } else { 0 };
            let body = MultipartReplyBody::Flow(part.to_vec());
            let bytes = Message::MultipartReply(MultipartReply { flags, body }).to_bytes(7);
            assert!(bytes.len() <= usize::from(u16::MAX), "a part must fit one message");
            bytes
        })
        .collect()
}

/// 64 KiB of back-to-back messages: a repeating mix of PACKET_IN, FLOW_MOD, ECHO and BARRIER.
fn stream_64k() -> Vec<u8> {
    let mix = [
        packet_in_64(),
        lb_flow_mod().to_bytes(2),
        Message::EchoRequest(Bytes::from_static(b"ping")).to_bytes(3),
        Message::BarrierRequest.to_bytes(4),
    ];
    let mut out = Vec::with_capacity(64 * 1024 + 256);
    'fill: loop {
        for m in &mix {
            if out.len() + m.len() > 64 * 1024 {
                break 'fill;
            }
            out.extend_from_slice(m);
        }
    }
    out
}

fn packet_in_decode(c: &mut Bench) {
    let frame = packet_in_64();
    assert!(matches!(Message::decode(&frame), Ok((_, Message::PacketIn(_)))));
    let mut g = c.benchmark_group("packet_in_64B");
    g.bench_function("baseline_bytes_clone", |b| b.iter(|| black_box(black_box(&frame).clone())));
    g.bench_function("decode", |b| b.iter(|| black_box(Message::decode(black_box(&frame)))));
    g.finish();
}

fn flow_mod_encode(c: &mut Bench) {
    let message = lb_flow_mod();
    let wire = message.to_bytes(1);
    assert_eq!(Message::decode(&wire).map(|(_, m)| m).as_ref(), Ok(&message));
    let mut buf = BytesMut::with_capacity(256);
    let mut g = c.benchmark_group("flow_mod_lb");
    g.bench_function("baseline_memcpy", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&wire));
            black_box(&buf);
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&message).encode(1, &mut buf);
            black_box(&buf);
        })
    });
    g.bench_function("decode", |b| b.iter(|| black_box(Message::decode(black_box(&wire)))));
    g.finish();
}

fn flow_stats_decode(c: &mut Bench) {
    let parts = flow_stats_reply(1000);
    let decoded: usize = parts
        .iter()
        .map(|p| match Message::decode(p) {
            Ok((_, Message::MultipartReply(MultipartReply { body: MultipartReplyBody::Flow(f), .. }))) => {
                f.len()
            }
            other => panic!("flow stats reply does not decode: {other:?}"),
        })
        .sum();
    assert_eq!(decoded, 1000);
    let total: usize = parts.iter().map(Bytes::len).sum();
    let mut g = c.benchmark_group("flow_stats_reply_1000");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("baseline_memcpy", |b| {
        b.iter(|| {
            for p in black_box(&parts) {
                black_box(p[..].to_vec());
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for p in black_box(&parts) {
                black_box(Message::decode(p)).ok();
            }
        })
    });
    g.finish();
}

fn framing(c: &mut Bench) {
    let stream = stream_64k();
    let framer = Framer::default();
    let mut check = BytesMut::from(&stream[..]);
    while let Ok(Some(frame)) = framer.next_frame(&mut check) {
        assert!(Message::decode(&frame).is_ok(), "every message of the stream decodes");
    }
    assert!(check.is_empty());
    let mut g = c.benchmark_group("stream_64KiB");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("baseline_memcpy", |b| b.iter(|| black_box(BytesMut::from(black_box(&stream[..])))));
    g.bench_function("frame", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(black_box(&stream[..]));
            let mut n = 0usize;
            while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
                n += frame.len();
            }
            black_box(n)
        })
    });
    g.bench_function("frame_and_decode", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(black_box(&stream[..]));
            let mut ok = 0usize;
            while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
                ok += usize::from(Message::decode(&frame).is_ok());
            }
            black_box(ok)
        })
    });
    g.finish();
}

fn instructions_sanity() {
    // The benches measure what they claim: the FLOW_MOD really carries 4 match fields and 3 actions.
    let Message::FlowMod(m) = lb_flow_mod() else { unreachable!("lb_flow_mod builds a FLOW_MOD") };
    assert_eq!(m.r#match.fields.len(), 4);
    assert!(matches!(&m.instructions[..], [Instruction::ApplyActions(a)] if a.len() == 3));
}

fn all(c: &mut Bench) {
    instructions_sanity();
    packet_in_decode(c);
    flow_mod_encode(c);
    flow_stats_decode(c);
    framing(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime });
    targets = all
}

/// Runs `op` `n` times; never inlined, so callgrind can count just this loop.
#[inline(never)]
fn hot_loop(n: u32, mut op: impl FnMut()) {
    for _ in 0..n {
        op();
    }
}

/// The `WIRE_LOOP` mode (see the module docs). Returns false when the variable is not set.
fn instruction_count_loop() -> bool {
    let Ok(op) = std::env::var("WIRE_LOOP") else { return false };
    let n = std::env::var("WIRE_LOOP_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let packet_in = packet_in_64();
    let flow_mod = lb_flow_mod();
    let flow_mod_wire = flow_mod.to_bytes(1);
    let mut buf = BytesMut::with_capacity(256);
    match op.as_str() {
        "packet_in_decode" => hot_loop(n, || {
            black_box(Message::decode(black_box(&packet_in))).ok();
        }),
        "flow_mod_decode" => hot_loop(n, || {
            black_box(Message::decode(black_box(&flow_mod_wire))).ok();
        }),
        "flow_mod_encode" => hot_loop(n, || {
            buf.clear();
            black_box(&flow_mod).encode(1, &mut buf);
            black_box(&buf);
        }),
        other => {
            eprintln!("WIRE_LOOP={other}: expected packet_in_decode, flow_mod_decode or flow_mod_encode");
            std::process::exit(2);
        }
    }
    true
}

fn main() {
    if instruction_count_loop() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
