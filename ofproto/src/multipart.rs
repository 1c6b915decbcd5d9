//! MULTIPART_REQUEST / MULTIPART_REPLY (§7.3.5), every type.
//!
//! SCAFFOLD: to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, PResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartRequest {}

impl Body for MultipartRequest {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartReply {}

impl Body for MultipartReply {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
