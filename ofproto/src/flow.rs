//! FLOW_MOD (OF1.3.5 §7.3.4.1) and FLOW_REMOVED (§7.4.2): installing, changing and deleting flow
//! entries, and the switch's notice that one expired or was deleted. The chainable builders the
//! controller uses to write flows live in [`builder`](self::builder).

mod builder;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use crate::codec::{Body, PResult, field, pad};
use crate::instruction::Instruction;
use crate::oxm::Match;
use crate::types::{PortNo, open_enum};

/// Size of the fixed part of `ofp_flow_mod` after `ofp_header` and before the match.
pub const FLOW_MOD_FIXED_LEN: usize = 40;
const FLOW_MOD_PAD: usize = 2;
const _: () = assert!(8 + 8 + 1 + 1 + 2 + 2 + 2 + 4 + 4 + 4 + 2 + FLOW_MOD_PAD == FLOW_MOD_FIXED_LEN);

/// Size of the fixed part of `ofp_flow_removed` after `ofp_header` and before the match.
pub const FLOW_REMOVED_FIXED_LEN: usize = 40;
const _: () = assert!(8 + 2 + 1 + 1 + 4 + 4 + 2 + 2 + 8 + 8 == FLOW_REMOVED_FIXED_LEN);

/// `OFP_DEFAULT_PRIORITY`: the priority a flow gets unless the controller says otherwise.
pub const OFP_DEFAULT_PRIORITY: u16 = 0x8000;

/// `ofp_flow_mod_flags` bits of [`FlowMod::flags`].
pub mod flow_mod_flags {
    /// Send a FLOW_REMOVED when the flow expires or is deleted.
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    /// Fail an add (`OFPFMFC_OVERLAP`) if it overlaps an entry of the same priority.
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    /// Reset the flow's packet and byte counts on modify.
    pub const RESET_COUNTS: u16 = 1 << 2;
    /// Don't keep track of the packet count.
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    /// Don't keep track of the byte count.
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}

open_enum! {
    /// `ofp_flow_mod_command`.
    pub enum FlowModCommand: u8 {
        /// New flow.
        Add = 0,
        /// Modify all matching flows.
        Modify = 1,
        /// Modify the entry strictly matching wildcards and priority.
        ModifyStrict = 2,
        /// Delete all matching flows.
        Delete = 3,
        /// Delete the entry strictly matching wildcards and priority.
        DeleteStrict = 4,
    }
}

open_enum! {
    /// `ofp_flow_removed_reason`.
    pub enum FlowRemovedReason: u8 {
        /// Flow idle time exceeded `idle_timeout`.
        IdleTimeout = 0,
        /// Time exceeded `hard_timeout`.
        HardTimeout = 1,
        /// Evicted by a DELETE flow mod.
        Delete = 2,
        /// Group was removed.
        GroupDelete = 3,
    }
}

/// OFPT_FLOW_MOD. Build one with [`FlowMod::add`], [`FlowMod::delete`] and friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowMod {
    /// Opaque controller-issued identifier.
    pub cookie: u64,
    /// For modify/delete: only entries whose cookie equals `cookie` under this mask; 0 = any.
    pub cookie_mask: u64,
    /// The table to put the flow in; `TABLE_ALL` (0xff) for delete from every table.
    pub table_id: u8,
    pub command: FlowModCommand,
    /// Idle time before discarding, in seconds; 0 = never.
    pub idle_timeout: u16,
    /// Max time before discarding, in seconds; 0 = never.
    pub hard_timeout: u16,
    pub priority: u16,
    /// A packet buffered on the switch to run through the new flow, or `NO_BUFFER`.
    pub buffer_id: u32,
    /// For delete: only entries that output to this port; `ANY` = no restriction.
    pub out_port: PortNo,
    /// For delete: only entries that output to this group; `group_id::ANY` = no restriction.
    pub out_group: u32,
    /// [`flow_mod_flags`] bits.
    pub flags: u16,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// The 40 bytes between `ofp_header` and the match (OF1.3.5 §7.3.4.1 `ofp_flow_mod`), padding
    /// included.
    fn fixed_part(&self) -> [u8; FLOW_MOD_FIXED_LEN] {
        let mut fixed = [0u8; FLOW_MOD_FIXED_LEN];
        fixed[0..8].copy_from_slice(&self.cookie.to_be_bytes());
        fixed[8..16].copy_from_slice(&self.cookie_mask.to_be_bytes());
        fixed[16] = self.table_id;
        fixed[17] = self.command.value();
        fixed[18..20].copy_from_slice(&self.idle_timeout.to_be_bytes());
        fixed[20..22].copy_from_slice(&self.hard_timeout.to_be_bytes());
        fixed[22..24].copy_from_slice(&self.priority.to_be_bytes());
        fixed[24..28].copy_from_slice(&self.buffer_id.to_be_bytes());
        fixed[28..32].copy_from_slice(&self.out_port.0.to_be_bytes());
        fixed[32..36].copy_from_slice(&self.out_group.to_be_bytes());
        fixed[36..38].copy_from_slice(&self.flags.to_be_bytes());
        // fixed[38..40]: pad[2], left zero.
        fixed
    }
}

impl Body for FlowMod {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, cookie) = field("cookie", be_u64)(input)?;
        let (rest, cookie_mask) = field("cookie_mask", be_u64)(rest)?;
        let (rest, table_id) = field("table_id", be_u8)(rest)?;
        let (rest, command) = field("command", be_u8)(rest)?;
        let (rest, idle_timeout) = field("idle_timeout", be_u16)(rest)?;
        let (rest, hard_timeout) = field("hard_timeout", be_u16)(rest)?;
        let (rest, priority) = field("priority", be_u16)(rest)?;
        let (rest, buffer_id) = field("buffer_id", be_u32)(rest)?;
        let (rest, out_port) = field("out_port", be_u32)(rest)?;
        let (rest, out_group) = field("out_group", be_u32)(rest)?;
        let (rest, flags) = field("flags", be_u16)(rest)?;
        let (rest, ()) = pad(rest, FLOW_MOD_PAD)?;
        let (rest, r#match) = Match::parse(rest)?;
        // The instructions run to the end of the message (no length field of their own).
        let (rest, instructions) = Instruction::parse_list(rest)?;
        let flow_mod = FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command: FlowModCommand::from(command),
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port: PortNo(out_port),
            out_group,
            flags,
            r#match,
            instructions,
        };
        Ok((rest, flow_mod))
    }

    fn emit(&self, buf: &mut BytesMut) {
        // FLOW_MOD encode is the controller's per-flow hot path: the fixed part is assembled on the
        // stack and appended with one copy instead of eleven `put_*` calls (each a capacity check).
        buf.put_slice(&self.fixed_part());
        self.r#match.emit(buf);
        Instruction::emit_list(&self.instructions, buf);
    }
}

/// OFPT_FLOW_REMOVED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: FlowRemovedReason,
    pub table_id: u8,
    /// Time the flow was alive: seconds, plus nanoseconds beyond them.
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// The timeouts from the original FLOW_MOD.
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
}

impl FlowRemoved {
    /// How long the flow was installed.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.duration_sec))
            + Duration::from_nanos(u64::from(self.duration_nsec))
    }
}

impl Body for FlowRemoved {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, cookie) = field("cookie", be_u64)(input)?;
        let (rest, priority) = field("priority", be_u16)(rest)?;
        let (rest, reason) = field("reason", be_u8)(rest)?;
        let (rest, table_id) = field("table_id", be_u8)(rest)?;
        let (rest, duration_sec) = field("duration_sec", be_u32)(rest)?;
        let (rest, duration_nsec) = field("duration_nsec", be_u32)(rest)?;
        let (rest, idle_timeout) = field("idle_timeout", be_u16)(rest)?;
        let (rest, hard_timeout) = field("hard_timeout", be_u16)(rest)?;
        let (rest, packet_count) = field("packet_count", be_u64)(rest)?;
        let (rest, byte_count) = field("byte_count", be_u64)(rest)?;
        let (rest, r#match) = Match::parse(rest)?;
        let removed = FlowRemoved {
            cookie,
            priority,
            reason: FlowRemovedReason::from(reason),
            table_id,
            duration_sec,
            duration_nsec,
            idle_timeout,
            hard_timeout,
            packet_count,
            byte_count,
            r#match,
        };
        Ok((rest, removed))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u64(self.cookie);
        buf.put_u16(self.priority);
        buf.put_u8(self.reason.value());
        buf.put_u8(self.table_id);
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
        buf.put_u16(self.idle_timeout);
        buf.put_u16(self.hard_timeout);
        buf.put_u64(self.packet_count);
        buf.put_u64(self.byte_count);
        self.r#match.emit(buf);
    }
}

#[cfg(test)]
mod tests;
