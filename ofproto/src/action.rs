//! Actions (`ofp_action_*`, OF1.3.5 §7.2.5).
//!
//! SCAFFOLD: data model fixed by the lead; codec to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::PResult;
use crate::oxm::Oxm;
use crate::types::PortNo;

/// One action. Experimenter actions (type 0xFFFF, e.g. Nicira's) and unknown types round-trip as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Action {
    Output {
        port: PortNo,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    SetField(Oxm),
    PushPbb(u16),
    PopPbb,
    /// `data` is everything after the 8-byte action header + experimenter id (padding included).
    Experimenter {
        experimenter: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// `body` is everything after the 4-byte type/len header.
    Unknown {
        action_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl Action {
    /// Parses actions until `input` is exhausted (the caller bounds `input` by the enclosing length).
    pub(crate) fn parse_list(_input: &[u8]) -> PResult<'_, Vec<Action>> {
        todo!("action owner")
    }

    pub(crate) fn emit_list(_actions: &[Action], _buf: &mut BytesMut) {
        todo!("action owner")
    }
}
