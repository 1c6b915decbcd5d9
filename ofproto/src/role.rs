//! ROLE_REQUEST / ROLE_REPLY (§7.3.9) and GET_ASYNC_REPLY / SET_ASYNC (§7.3.10).
//!
//! SCAFFOLD: to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, PResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleMessage {}

impl Body for RoleMessage {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsyncConfig {}

impl Body for AsyncConfig {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
