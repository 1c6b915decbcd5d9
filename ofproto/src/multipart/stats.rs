//! Switch description and flow, aggregate, table, port and queue statistics (OF1.3.5 §7.3.5.1–§7.3.5.8).
//!
//! Counters a switch does not support are all-ones on the wire (§7.3.5); they are kept as `u64::MAX`
//! (or `u32::MAX`) and re-encode unchanged.

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use super::{fixed_str, length_prefixed_list};
use crate::codec::{LenPatch, PResult, field, pad, put_zeros};
use crate::instruction::Instruction;
use crate::oxm::Match;
use crate::types::{FixedStr, PortNo};

/// `ofp_desc` (§7.3.5.1): the DESC reply. Every field is a NUL-padded string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Desc {
    /// Manufacturer description.
    pub mfr_desc: FixedStr<256>,
    /// Hardware description.
    pub hw_desc: FixedStr<256>,
    /// Software description.
    pub sw_desc: FixedStr<256>,
    /// Serial number.
    pub serial_num: FixedStr<32>,
    /// Human readable description of the datapath.
    pub dp_desc: FixedStr<256>,
}

impl Desc {
    /// `sizeof(struct ofp_desc)`: `DESC_STR_LEN` (256) x 4 + `SERIAL_NUM_LEN` (32).
    pub const SIZE: usize = 1056;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Desc> {
        let (i, mfr_desc) = fixed_str(input, "desc.mfr_desc")?;
        let (i, hw_desc) = fixed_str(i, "desc.hw_desc")?;
        let (i, sw_desc) = fixed_str(i, "desc.sw_desc")?;
        let (i, serial_num) = fixed_str(i, "desc.serial_num")?;
        let (i, dp_desc) = fixed_str(i, "desc.dp_desc")?;
        Ok((i, Desc { mfr_desc, hw_desc, sw_desc, serial_num, dp_desc }))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.mfr_desc.0);
        buf.put_slice(&self.hw_desc.0);
        buf.put_slice(&self.sw_desc.0);
        buf.put_slice(&self.serial_num.0);
        buf.put_slice(&self.dp_desc.0);
    }
}

/// `ofp_flow_stats` (§7.3.5.2): one flow entry in a FLOW reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStats {
    pub table_id: u8,
    /// Time the flow has been alive: seconds, plus nanoseconds beyond `duration_sec`.
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `ofp_flow_mod_flags` bits.
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    /// Size of the fixed part before `ofp_match`.
    pub const FIXED_SIZE: usize = 48;
    /// Smallest valid entry: the fixed part plus an empty, padded `ofp_match` (8 bytes).
    pub const MIN_SIZE: usize = Self::FIXED_SIZE + 8;

    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<FlowStats>> {
        length_prefixed_list(input, 0, Self::MIN_SIZE, "flow_stats.length", Self::parse_fields)
    }

    /// Parses exactly one entry (the caller bounded `input` by its length field).
    fn parse_fields(input: &[u8]) -> PResult<'_, FlowStats> {
        let (i, _length) = field("flow_stats.length", be_u16)(input)?;
        let (i, table_id) = field("flow_stats.table_id", be_u8)(i)?;
        let (i, ()) = pad(i, 1)?;
        let (i, duration_sec) = field("flow_stats.duration_sec", be_u32)(i)?;
        let (i, duration_nsec) = field("flow_stats.duration_nsec", be_u32)(i)?;
        let (i, priority) = field("flow_stats.priority", be_u16)(i)?;
        let (i, idle_timeout) = field("flow_stats.idle_timeout", be_u16)(i)?;
        let (i, hard_timeout) = field("flow_stats.hard_timeout", be_u16)(i)?;
        let (i, flags) = field("flow_stats.flags", be_u16)(i)?;
        let (i, ()) = pad(i, 4)?;
        let (i, cookie) = field("flow_stats.cookie", be_u64)(i)?;
        let (i, packet_count) = field("flow_stats.packet_count", be_u64)(i)?;
        let (i, byte_count) = field("flow_stats.byte_count", be_u64)(i)?;
        let (i, r#match) = Match::parse(i)?;
        let (i, instructions) = Instruction::parse_list(i)?;
        let stats = FlowStats {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie,
            packet_count,
            byte_count,
            r#match,
            instructions,
        };
        Ok((i, stats))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let length = LenPatch::u16(buf, start);
        buf.put_u8(self.table_id);
        put_zeros(buf, 1);
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
        buf.put_u16(self.priority);
        buf.put_u16(self.idle_timeout);
        buf.put_u16(self.hard_timeout);
        buf.put_u16(self.flags);
        put_zeros(buf, 4);
        buf.put_u64(self.cookie);
        buf.put_u64(self.packet_count);
        buf.put_u64(self.byte_count);
        self.r#match.emit(buf);
        Instruction::emit_list(&self.instructions, buf);
        length.finish(buf);
    }
}

/// `ofp_aggregate_stats_reply` (§7.3.5.3): totals over the flows an AGGREGATE request selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

impl AggregateStats {
    pub const SIZE: usize = 24;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, AggregateStats> {
        let (i, packet_count) = field("aggregate_stats.packet_count", be_u64)(input)?;
        let (i, byte_count) = field("aggregate_stats.byte_count", be_u64)(i)?;
        let (i, flow_count) = field("aggregate_stats.flow_count", be_u32)(i)?;
        let (i, ()) = pad(i, 4)?;
        Ok((i, AggregateStats { packet_count, byte_count, flow_count }))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u64(self.packet_count);
        buf.put_u64(self.byte_count);
        buf.put_u32(self.flow_count);
        put_zeros(buf, 4);
    }
}

/// `ofp_table_stats` (§7.3.5.4): one table's counters in a TABLE reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStats {
    pub table_id: u8,
    /// Number of active entries.
    pub active_count: u32,
    /// Packets looked up in the table.
    pub lookup_count: u64,
    /// Packets that hit the table.
    pub matched_count: u64,
}

impl TableStats {
    pub const SIZE: usize = 24;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, TableStats> {
        let (i, table_id) = field("table_stats.table_id", be_u8)(input)?;
        let (i, ()) = pad(i, 3)?;
        let (i, active_count) = field("table_stats.active_count", be_u32)(i)?;
        let (i, lookup_count) = field("table_stats.lookup_count", be_u64)(i)?;
        let (i, matched_count) = field("table_stats.matched_count", be_u64)(i)?;
        Ok((i, TableStats { table_id, active_count, lookup_count, matched_count }))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u8(self.table_id);
        put_zeros(buf, 3);
        buf.put_u32(self.active_count);
        buf.put_u64(self.lookup_count);
        buf.put_u64(self.matched_count);
    }
}

/// `ofp_port_stats` (§7.3.5.6): one port's counters in a PORT_STATS reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStats {
    pub port_no: PortNo,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl PortStats {
    pub const SIZE: usize = 112;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, PortStats> {
        let (i, port_no) = field("port_stats.port_no", be_u32)(input)?;
        let (i, ()) = pad(i, 4)?;
        let (i, rx_packets) = field("port_stats.rx_packets", be_u64)(i)?;
        let (i, tx_packets) = field("port_stats.tx_packets", be_u64)(i)?;
        let (i, rx_bytes) = field("port_stats.rx_bytes", be_u64)(i)?;
        let (i, tx_bytes) = field("port_stats.tx_bytes", be_u64)(i)?;
        let (i, rx_dropped) = field("port_stats.rx_dropped", be_u64)(i)?;
        let (i, tx_dropped) = field("port_stats.tx_dropped", be_u64)(i)?;
        let (i, rx_errors) = field("port_stats.rx_errors", be_u64)(i)?;
        let (i, tx_errors) = field("port_stats.tx_errors", be_u64)(i)?;
        let (i, rx_frame_err) = field("port_stats.rx_frame_err", be_u64)(i)?;
        let (i, rx_over_err) = field("port_stats.rx_over_err", be_u64)(i)?;
        let (i, rx_crc_err) = field("port_stats.rx_crc_err", be_u64)(i)?;
        let (i, collisions) = field("port_stats.collisions", be_u64)(i)?;
        let (i, duration_sec) = field("port_stats.duration_sec", be_u32)(i)?;
        let (i, duration_nsec) = field("port_stats.duration_nsec", be_u32)(i)?;
        let stats = PortStats {
            port_no: PortNo(port_no),
            rx_packets,
            tx_packets,
            rx_bytes,
            tx_bytes,
            rx_dropped,
            tx_dropped,
            rx_errors,
            tx_errors,
            rx_frame_err,
            rx_over_err,
            rx_crc_err,
            collisions,
            duration_sec,
            duration_nsec,
        };
        Ok((i, stats))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port_no.0);
        put_zeros(buf, 4);
        for counter in [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ] {
            buf.put_u64(counter);
        }
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
    }
}

/// `ofp_queue_stats` (§7.3.5.8): one queue's counters in a QUEUE reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub port_no: PortNo,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl QueueStats {
    pub const SIZE: usize = 40;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, QueueStats> {
        let (i, port_no) = field("queue_stats.port_no", be_u32)(input)?;
        let (i, queue_id) = field("queue_stats.queue_id", be_u32)(i)?;
        let (i, tx_bytes) = field("queue_stats.tx_bytes", be_u64)(i)?;
        let (i, tx_packets) = field("queue_stats.tx_packets", be_u64)(i)?;
        let (i, tx_errors) = field("queue_stats.tx_errors", be_u64)(i)?;
        let (i, duration_sec) = field("queue_stats.duration_sec", be_u32)(i)?;
        let (i, duration_nsec) = field("queue_stats.duration_nsec", be_u32)(i)?;
        let stats = QueueStats {
            port_no: PortNo(port_no),
            queue_id,
            tx_bytes,
            tx_packets,
            tx_errors,
            duration_sec,
            duration_nsec,
        };
        Ok((i, stats))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.port_no.0);
        buf.put_u32(self.queue_id);
        buf.put_u64(self.tx_bytes);
        buf.put_u64(self.tx_packets);
        buf.put_u64(self.tx_errors);
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
    }
}

// Struct sizes from openflow.h (OFP_ASSERTs in OF1.3.5 §7.3.5).
const _: () = assert!(Desc::SIZE == 4 * 256 + 32);
const _: () = assert!(PortStats::SIZE == 8 + 12 * 8 + 8);

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut buf = BytesMut::new();
        f(&mut buf);
        buf.to_vec()
    }

    #[test]
    fn table_stats_parse_and_emit() {
        let bytes =
            hex::decode("03000000 0000000a 0000000000000064 ffffffffffffffff".replace(' ', "")).unwrap();
        let (rest, stats) = TableStats::parse(&bytes).unwrap();
        assert!(rest.is_empty());
        let expected =
            TableStats { table_id: 3, active_count: 10, lookup_count: 100, matched_count: u64::MAX };
        assert_eq!(stats, expected);
        assert_eq!(emitted(|b| expected.emit(b)), bytes);
    }

    #[test]
    fn queue_stats_keeps_unsupported_counters_all_ones() {
        let stats = QueueStats {
            port_no: PortNo(7),
            queue_id: 1,
            tx_bytes: u64::MAX,
            tx_packets: 5,
            tx_errors: u64::MAX,
            duration_sec: u32::MAX,
            duration_nsec: u32::MAX,
        };
        let bytes = emitted(|b| stats.emit(b));
        assert_eq!(bytes.len(), QueueStats::SIZE);
        assert_eq!(&bytes[8..16], &[0xff; 8]);
        assert_eq!(QueueStats::parse(&bytes).unwrap().1, stats);
    }

    #[test]
    fn truncated_port_stats_names_the_field() {
        let bytes = [0u8; PortStats::SIZE - 1];
        let err = PortStats::parse(&bytes).unwrap_err();
        let nom::Err::Error(err) = err else { panic!("{err:?}") };
        assert_eq!(err.field, "port_stats.duration_nsec");
    }

    #[test]
    fn flow_stats_length_below_minimum_is_bad_length() {
        let mut bytes = vec![0u8; FlowStats::MIN_SIZE];
        bytes[1] = 40; // declared 40 < 56
        let nom::Err::Error(err) = FlowStats::parse_list(&bytes).unwrap_err() else { panic!() };
        assert_eq!(err.field, "flow_stats.length");
        assert_eq!(err.kind, crate::error::DecodeErrorKind::BadLength { value: 40 });
    }
}
