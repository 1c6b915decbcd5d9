//! QUEUE_GET_CONFIG_REQUEST / REPLY (§7.3.6) and queue properties.
//!
//! SCAFFOLD: to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, PResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueGetConfigRequest {}

impl Body for QueueGetConfigRequest {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueGetConfigReply {}

impl Body for QueueGetConfigReply {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
