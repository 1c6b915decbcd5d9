//! TABLE_MOD (§7.3.3).
//!
//! SCAFFOLD: to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, PResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableMod {}

impl Body for TableMod {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
