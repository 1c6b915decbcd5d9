//! Chainable FLOW_MOD builders: the spec's defaults for each command, then one method per field.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use ofproto::action::Action;
//! use ofproto::flow::{FlowMod, flow_mod_flags};
//! use ofproto::oxm::{Match, Oxm};
//! use ofproto::{MacAddr, PortNo};
//!
//! // Rewrite web traffic for a virtual IP to backend 10.0.0.3 behind port 3.
//! let vip = Ipv4Addr::new(10, 0, 0, 100);
//! let flow = FlowMod::add(Match::new().eth_type(0x0800).ipv4_dst(vip).ip_proto(6).tcp_dst(80))
//!     .priority(100)
//!     .idle_timeout(10)
//!     .send_flow_rem()
//!     .apply_actions(vec![
//!         Action::set_field(Oxm::EthDst(MacAddr([2, 0, 0, 0, 0, 3]), None)),
//!         Action::set_field(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 3), None)),
//!         Action::output(PortNo(3)),
//!     ]);
//! assert_eq!(flow.flags, flow_mod_flags::SEND_FLOW_REM);
//! assert_eq!(ofproto::Message::FlowMod(flow).to_bytes(1).len(), 136);
//! ```

use std::mem::discriminant;

use super::{FlowMod, FlowModCommand, OFP_DEFAULT_PRIORITY, flow_mod_flags};
use crate::action::Action;
use crate::instruction::Instruction;
use crate::oxm::Match;
use crate::switch::OFPCML_NO_BUFFER;
use crate::types::{NO_BUFFER, PortNo, TABLE_ALL, group_id};

impl FlowMod {
    /// A `command` flow-mod with the spec's defaults: table 0, priority `OFP_DEFAULT_PRIORITY`, no
    /// timeouts, no cookie, `NO_BUFFER`, out_port/out_group ANY (no delete filter), no flags, no
    /// instructions.
    pub fn new(command: FlowModCommand, r#match: Match) -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: OFP_DEFAULT_PRIORITY,
            buffer_id: NO_BUFFER,
            out_port: PortNo::ANY,
            out_group: group_id::ANY,
            flags: 0,
            r#match,
            instructions: Vec::new(),
        }
    }

    /// Adds a flow to table 0 (OFPFC_ADD). With no instructions, matching packets are dropped.
    pub fn add(r#match: Match) -> FlowMod {
        FlowMod::new(FlowModCommand::Add, r#match)
    }

    /// Replaces the instructions of every flow in table 0 that `r#match` covers (OFPFC_MODIFY).
    pub fn modify(r#match: Match) -> FlowMod {
        FlowMod::new(FlowModCommand::Modify, r#match)
    }

    /// Replaces the instructions of the flow with exactly this match and priority (OFPFC_MODIFY_STRICT).
    pub fn modify_strict(r#match: Match) -> FlowMod {
        FlowMod::new(FlowModCommand::ModifyStrict, r#match)
    }

    /// Deletes every flow, in every table, that `r#match` covers (OFPFC_DELETE; table `TABLE_ALL`,
    /// no out_port/out_group filter). Narrow it with `.table(t)`, `.out_port(p)`, `.cookie(..)`.
    pub fn delete(r#match: Match) -> FlowMod {
        FlowMod::new(FlowModCommand::Delete, r#match).table(TABLE_ALL)
    }

    /// Deletes the flow with exactly this match and priority, in every table (OFPFC_DELETE_STRICT).
    /// Set the priority with `.priority(p)`; it defaults to `OFP_DEFAULT_PRIORITY`.
    pub fn delete_strict(r#match: Match) -> FlowMod {
        FlowMod::new(FlowModCommand::DeleteStrict, r#match).table(TABLE_ALL)
    }

    /// Deletes every flow in every table: what a controller sends when it takes over a switch.
    pub fn delete_all() -> FlowMod {
        FlowMod::delete(Match::default())
    }

    /// The table-miss flow of table 0 (OF1.3.5 §5.4): priority 0, empty match, send the whole packet
    /// to the controller (output CONTROLLER, max_len `OFPCML_NO_BUFFER`).
    pub fn table_miss() -> FlowMod {
        FlowMod::add(Match::default())
            .priority(0)
            .apply_actions(vec![Action::Output { port: PortNo::CONTROLLER, max_len: OFPCML_NO_BUFFER }])
    }

    pub fn table(mut self, table_id: u8) -> FlowMod {
        self.table_id = table_id;
        self
    }

    pub fn priority(mut self, priority: u16) -> FlowMod {
        self.priority = priority;
        self
    }

    /// Seconds without a matching packet before the flow expires; 0 = never.
    pub fn idle_timeout(mut self, seconds: u16) -> FlowMod {
        self.idle_timeout = seconds;
        self
    }

    /// Seconds after installation before the flow expires; 0 = never.
    pub fn hard_timeout(mut self, seconds: u16) -> FlowMod {
        self.hard_timeout = seconds;
        self
    }

    pub fn cookie(mut self, cookie: u64) -> FlowMod {
        self.cookie = cookie;
        self
    }

    /// For modify/delete: restrict to flows whose cookie matches `cookie` under this mask.
    pub fn cookie_mask(mut self, mask: u64) -> FlowMod {
        self.cookie_mask = mask;
        self
    }

    /// Replaces all [`flow_mod_flags`] bits.
    pub fn flags(mut self, flags: u16) -> FlowMod {
        self.flags = flags;
        self
    }

    /// Asks the switch for a FLOW_REMOVED when this flow goes (sets `SEND_FLOW_REM`).
    pub fn send_flow_rem(mut self) -> FlowMod {
        self.flags |= flow_mod_flags::SEND_FLOW_REM;
        self
    }

    /// Applies the new flow to the packet the switch buffered as `buffer_id`.
    pub fn buffer_id(mut self, buffer_id: u32) -> FlowMod {
        self.buffer_id = buffer_id;
        self
    }

    /// For delete: only flows that output to `port`.
    pub fn out_port(mut self, port: PortNo) -> FlowMod {
        self.out_port = port;
        self
    }

    /// For delete: only flows that output to `group`.
    pub fn out_group(mut self, group: u32) -> FlowMod {
        self.out_group = group;
        self
    }

    /// Sets the Apply-Actions instruction (replacing an earlier one: the spec allows one of each
    /// instruction type per flow).
    pub fn apply_actions(self, actions: Vec<Action>) -> FlowMod {
        self.set_instruction(Instruction::ApplyActions(actions))
    }

    /// Sets the Write-Actions instruction (replacing an earlier one).
    pub fn write_actions(self, actions: Vec<Action>) -> FlowMod {
        self.set_instruction(Instruction::WriteActions(actions))
    }

    /// Sets the Goto-Table instruction (replacing an earlier one).
    pub fn goto_table(self, table_id: u8) -> FlowMod {
        self.set_instruction(Instruction::GotoTable(table_id))
    }

    /// Sets the Meter instruction (replacing an earlier one).
    pub fn meter(self, meter_id: u32) -> FlowMod {
        self.set_instruction(Instruction::Meter(meter_id))
    }

    /// Replaces the whole instruction list.
    pub fn instructions(mut self, instructions: Vec<Instruction>) -> FlowMod {
        self.instructions = instructions;
        self
    }

    /// Puts `instruction` in place of one of the same type, or appends it.
    fn set_instruction(mut self, instruction: Instruction) -> FlowMod {
        let kind = discriminant(&instruction);
        match self.instructions.iter_mut().find(|i| discriminant(*i) == kind) {
            Some(slot) => *slot = instruction,
            None => self.instructions.push(instruction),
        }
        self
    }
}
