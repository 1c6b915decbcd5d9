//! Groups: `ofp_bucket` (OF1.3.5 §7.3.4.2) and GROUP_MOD.
//!
//! SCAFFOLD: `Bucket` data model fixed by the lead; the rest to be written by the owner of this file.

use bytes::BytesMut;
use serde::Serialize;

use crate::action::Action;
use crate::codec::PResult;
use crate::types::PortNo;

/// `ofp_bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: PortNo,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    /// Parses buckets until `input` is exhausted.
    pub(crate) fn parse_list(_input: &[u8]) -> PResult<'_, Vec<Bucket>> {
        todo!("group owner")
    }

    pub(crate) fn emit_list(_buckets: &[Bucket], _buf: &mut BytesMut) {
        todo!("group owner")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMod {}

impl crate::codec::Body for GroupMod {
    fn parse<'a>(_input: &'a [u8], _src: &bytes::Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
