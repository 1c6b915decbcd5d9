//! The readable body of a decoded message: ovs-ofctl-like one-liners for the messages people read
//! most (flow mods, packet-ins/outs, flow removed, errors, features), pretty `Debug` for the rest.

use std::fmt::Write as _;

use crate::Message;
use crate::error_msg::{ErrorMsg, ErrorType};
use crate::flow::{FlowMod, FlowModCommand, FlowRemoved, flow_mod_flags};
use crate::instruction::Instruction;
use crate::multipart::{FlowStats, MultipartReply, MultipartReplyBody, multipart_reply_flags};
use crate::packet::{PacketIn, PacketOut};
use crate::types::NO_BUFFER;

/// Readable text for `message`, possibly several lines; the caller indents it.
pub(crate) fn summarize(message: &Message) -> String {
    match message {
        Message::FlowMod(m) => flow_mod(m),
        Message::PacketIn(m) => packet_in(m),
        Message::PacketOut(m) => packet_out(m),
        Message::FlowRemoved(m) => flow_removed(m),
        Message::Error(m) => error(m),
        Message::MultipartReply(MultipartReply { flags, body: MultipartReplyBody::Flow(flows) }) => {
            flow_stats(*flags, flows)
        }
        Message::FeaturesReply(f) => format!(
            "dpid={:#018x} n_buffers={} n_tables={} auxiliary_id={} capabilities={:#x}",
            f.datapath_id, f.n_buffers, f.n_tables, f.auxiliary_id, f.capabilities
        ),
        Message::EchoRequest(data) | Message::EchoReply(data) => format!("data={}", hex(data)),
        Message::FeaturesRequest
        | Message::GetConfigRequest
        | Message::BarrierRequest
        | Message::BarrierReply
        | Message::GetAsyncRequest => String::new(),
        Message::Unknown { msg_type, body } => format!("type={msg_type} body={}", hex(body)),
        other => format!("{other:#?}"),
    }
}

fn buffer(id: u32) -> String {
    if id == NO_BUFFER { "none".to_string() } else { format!("{id:#x}") }
}

/// `ADD table=0 priority=100 idle_timeout=10 send_flow_rem eth_type=0x0800,tcp_dst=80 actions=output:3`
/// (ovs-ofctl's flow syntax, OF1.3.5 §7.3.4.1 fields).
fn flow_mod(m: &FlowMod) -> String {
    let command = match m.command {
        FlowModCommand::Add => "ADD".to_string(),
        FlowModCommand::Modify => "MOD".to_string(),
        FlowModCommand::ModifyStrict => "MOD_STRICT".to_string(),
        FlowModCommand::Delete => "DEL".to_string(),
        FlowModCommand::DeleteStrict => "DEL_STRICT".to_string(),
        FlowModCommand::Unknown(n) => format!("command={n}"),
    };
    let mut s = format!("{command} table={} priority={}", m.table_id, m.priority);
    if m.cookie != 0 || m.cookie_mask != 0 {
        let _ = write!(s, " cookie={:#x}/{:#x}", m.cookie, m.cookie_mask);
    }
    if m.idle_timeout != 0 {
        let _ = write!(s, " idle_timeout={}", m.idle_timeout);
    }
    if m.hard_timeout != 0 {
        let _ = write!(s, " hard_timeout={}", m.hard_timeout);
    }
    if m.buffer_id != NO_BUFFER {
        let _ = write!(s, " buffer={:#x}", m.buffer_id);
    }
    if m.out_port != crate::PortNo::ANY {
        let _ = write!(s, " out_port={}", m.out_port);
    }
    if m.out_group != crate::types::group_id::ANY {
        let _ = write!(s, " out_group={}", m.out_group);
    }
    s.push_str(&flow_flags(m.flags));
    if !m.r#match.fields.is_empty() {
        let _ = write!(s, " {}", m.r#match);
    }
    let _ = write!(s, " actions={}", instructions(&m.instructions));
    s
}

fn flow_flags(flags: u16) -> String {
    let names = [
        (flow_mod_flags::SEND_FLOW_REM, "send_flow_rem"),
        (flow_mod_flags::CHECK_OVERLAP, "check_overlap"),
        (flow_mod_flags::RESET_COUNTS, "reset_counts"),
        (flow_mod_flags::NO_PKT_COUNTS, "no_packet_counts"),
        (flow_mod_flags::NO_BYT_COUNTS, "no_byte_counts"),
    ];
    let mut s = String::new();
    let mut rest = flags;
    for (bit, name) in names {
        if flags & bit != 0 {
            let _ = write!(s, " {name}");
            rest &= !bit;
        }
    }
    if rest != 0 {
        let _ = write!(s, " flags={rest:#x}");
    }
    s
}

/// ovs-ofctl prints apply-actions bare and other instructions by name; no instructions is `drop`.
fn instructions(list: &[Instruction]) -> String {
    if list.is_empty() {
        return "drop".to_string();
    }
    let mut parts = Vec::with_capacity(list.len());
    for instruction in list {
        match instruction {
            Instruction::ApplyActions(actions) if actions.is_empty() => parts.push("drop".to_string()),
            Instruction::ApplyActions(actions) => {
                parts.extend(actions.iter().map(ToString::to_string));
            }
            other => parts.push(other.to_string()),
        }
    }
    parts.join(",")
}

/// ovs-ofctl dump-flows style: a count line, then one line per flow entry (OF1.3.5 §7.3.5.2).
fn flow_stats(flags: u16, flows: &[FlowStats]) -> String {
    let more = if flags & multipart_reply_flags::REPLY_MORE != 0 { " (more follow)" } else { "" };
    let mut s = format!("FLOW stats: {} flows{more}", flows.len());
    for f in flows {
        let _ = write!(
            s,
            "\ncookie={:#x} duration={}.{:03}s table={} n_packets={} n_bytes={}",
            f.cookie,
            f.duration_sec,
            f.duration_nsec / 1_000_000,
            f.table_id,
            f.packet_count,
            f.byte_count
        );
        if f.idle_timeout != 0 {
            let _ = write!(s, " idle_timeout={}", f.idle_timeout);
        }
        if f.hard_timeout != 0 {
            let _ = write!(s, " hard_timeout={}", f.hard_timeout);
        }
        let _ = write!(s, "{} priority={}", flow_flags(f.flags), f.priority);
        if !f.r#match.fields.is_empty() {
            let _ = write!(s, " {}", f.r#match);
        }
        let _ = write!(s, " actions={}", instructions(&f.instructions));
    }
    s
}

/// `in_port=1 reason=NoMatch table_id=0 cookie=0x0 total_len=64 buffer=none match=in_port=1` then
/// the frame's Ethernet header and bytes.
fn packet_in(m: &PacketIn) -> String {
    let mut s = String::new();
    if let Some(port) = m.in_port() {
        let _ = write!(s, "in_port={port} ");
    }
    let _ = write!(
        s,
        "reason={:?} table_id={} cookie={:#x} total_len={} buffer={}",
        m.reason,
        m.table_id,
        m.cookie,
        m.total_len,
        buffer(m.buffer_id)
    );
    let _ = write!(s, " match={}", m.r#match);
    let _ = write!(s, "\n{}", frame(&m.data));
    s
}

/// `in_port=CONTROLLER buffer=none actions=output:3` then the frame.
fn packet_out(m: &PacketOut) -> String {
    let actions: Vec<String> = m.actions.iter().map(ToString::to_string).collect();
    let actions = if actions.is_empty() { "drop".to_string() } else { actions.join(",") };
    let mut s = format!("in_port={} buffer={} actions={actions}", m.in_port, buffer(m.buffer_id));
    if !m.data.is_empty() {
        let _ = write!(s, "\n{}", frame(&m.data));
    }
    s
}

/// A one-line view of an Ethernet frame: addresses, EtherType and the bytes in hex.
fn frame(data: &[u8]) -> String {
    match data.get(..14) {
        Some(eth) => format!(
            "frame {} bytes: {} > {} type=0x{:02x}{:02x} data={}",
            data.len(),
            mac(&eth[6..12]),
            mac(&eth[0..6]),
            eth[12],
            eth[13],
            hex(data)
        ),
        None => format!("frame {} bytes: {}", data.len(), hex(data)),
    }
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn flow_removed(m: &FlowRemoved) -> String {
    format!(
        "reason={:?} table_id={} cookie={:#x} priority={} duration={}.{:09}s idle_timeout={} hard_timeout={} \
         n_packets={} n_bytes={} {}",
        m.reason,
        m.table_id,
        m.cookie,
        m.priority,
        m.duration_sec,
        m.duration_nsec,
        m.idle_timeout,
        m.hard_timeout,
        m.packet_count,
        m.byte_count,
        m.r#match
    )
}

/// `BadMatch(BadPrereq) type=4 code=7` then the data: text for HELLO_FAILED, otherwise the header of
/// the offending message and its bytes (OF1.3.5 §7.4.4).
fn error(m: &ErrorMsg) -> String {
    let (error_type, code) = m.error.type_code();
    let mut s = format!("{:?} type={error_type} code={code}", m.error);
    let printable = !m.data.is_empty() && m.data.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    if matches!(m.error, ErrorType::HelloFailed(_)) || printable {
        let _ = write!(s, "\ntext={:?}", String::from_utf8_lossy(&m.data));
        return s;
    }
    // The data should start with the failed request (OF1.3.5 §7.4.4); name it if it looks like one.
    if let Ok(h) = crate::Header::parse(&m.data)
        && h.version == crate::OFP_VERSION
        && !matches!(h.msg_type, crate::MsgType::Unknown(_))
    {
        let _ = write!(s, "\noffending {} xid={:#x} len={}", h.msg_type.spec_name(), h.xid, h.length);
    }
    if !m.data.is_empty() {
        let _ = write!(s, "\ndata={}", hex(&m.data));
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use bytes::Bytes;

    use super::*;
    use crate::action::Action;
    use crate::oxm::{Match, Oxm};
    use crate::{MacAddr, PortNo};

    #[test]
    fn flow_mod_reads_like_ovs_ofctl() {
        let m = FlowMod::add(
            Match::new().eth_type(0x0800).ipv4_dst(Ipv4Addr::new(10, 0, 0, 100)).ip_proto(6).tcp_dst(80),
        )
        .priority(100)
        .idle_timeout(10)
        .send_flow_rem()
        .apply_actions(vec![
            Action::set_field(Oxm::EthDst(MacAddr([2, 0, 0, 0, 0, 3]), None)),
            Action::output(PortNo(3)),
        ]);
        let text = summarize(&Message::FlowMod(m));
        assert_eq!(
            text,
            "ADD table=0 priority=100 idle_timeout=10 send_flow_rem \
             eth_type=0x0800,ip_proto=6,ipv4_dst=10.0.0.100,tcp_dst=80 \
             actions=set_field:02:00:00:00:00:03->eth_dst,output:3"
        );
        let text = summarize(&Message::FlowMod(FlowMod::delete_all()));
        assert!(text.starts_with("DEL table=255 "), "{text}");
        assert!(text.ends_with(" actions=drop"), "{text}");
    }

    #[test]
    fn flow_stats_reply_lists_one_flow_per_line() {
        let flow = FlowStats {
            table_id: 0,
            duration_sec: 3,
            duration_nsec: 250_000_000,
            priority: 100,
            idle_timeout: 10,
            hard_timeout: 0,
            flags: flow_mod_flags::SEND_FLOW_REM,
            cookie: 0x2a,
            packet_count: 7,
            byte_count: 700,
            r#match: Match::new().tcp_dst(80),
            instructions: vec![Instruction::ApplyActions(vec![Action::output(PortNo(3))])],
        };
        let reply = MultipartReply { flags: 1, body: MultipartReplyBody::Flow(vec![flow.clone(), flow]) };
        let text = summarize(&Message::MultipartReply(reply));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "FLOW stats: 2 flows (more follow)");
        assert_eq!(
            lines[1],
            "cookie=0x2a duration=3.250s table=0 n_packets=7 n_bytes=700 idle_timeout=10 send_flow_rem \
             priority=100 tcp_dst=80 actions=output:3"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn packet_in_and_out_show_port_and_frame() {
        let mut data = vec![0xff; 6];
        data.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1]);
        let pin = PacketIn {
            buffer_id: NO_BUFFER,
            total_len: 16,
            reason: crate::packet::PacketInReason::NoMatch,
            table_id: 0,
            cookie: 0,
            r#match: Match::new().in_port(PortNo(7)),
            data: Bytes::from(data.clone()),
        };
        let text = summarize(&Message::PacketIn(pin));
        assert!(
            text.starts_with("in_port=7 reason=NoMatch table_id=0 cookie=0x0 total_len=16 buffer=none"),
            "{text}"
        );
        assert!(text.contains("frame 16 bytes: 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type=0x0806"), "{text}");
        let pout = PacketOut::new(PortNo::CONTROLLER, vec![Action::output(PortNo::FLOOD)], Bytes::from(data));
        let text = summarize(&Message::PacketOut(pout));
        assert!(text.starts_with("in_port=CONTROLLER buffer=none actions=FLOOD\nframe 16 bytes"), "{text}");
    }

    #[test]
    fn errors_name_the_offending_message() {
        let offending = [4u8, 14, 0, 80, 0, 0, 0, 0x12, 0, 0, 0, 0];
        let text = summarize(&Message::Error(ErrorMsg {
            error: ErrorType::BadMatch(crate::error_msg::BadMatchCode::from(7)),
            data: Bytes::copy_from_slice(&offending),
        }));
        assert!(text.contains("type=4 code=7"), "{text}");
        assert!(text.contains("offending FLOW_MOD xid=0x12 len=80"), "{text}");
        let text = summarize(&Message::Error(ErrorMsg {
            error: ErrorType::BadRequest(crate::error_msg::BadRequestCode::from(1)),
            data: Bytes::from_static(b"fugafuga"),
        }));
        assert_eq!(text, "BadRequest(BadType) type=1 code=1\ntext=\"fugafuga\"");
    }
}
