//! Instructions (`ofp_instruction_*`, OF1.3.5 §7.2.4).
//!
//! SCAFFOLD: data model fixed by the lead; codec to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::action::Action;
use crate::codec::PResult;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata {
        metadata: u64,
        mask: u64,
    },
    WriteActions(Vec<Action>),
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
    /// `data` is everything after the 8-byte header + experimenter id.
    Experimenter {
        experimenter: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    Unknown {
        instruction_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Instruction {
    /// Parses instructions until `input` is exhausted.
    pub(crate) fn parse_list(_input: &[u8]) -> PResult<'_, Vec<Instruction>> {
        todo!("instruction owner")
    }

    pub(crate) fn emit_list(_instructions: &[Instruction], _buf: &mut BytesMut) {
        todo!("instruction owner")
    }
}
