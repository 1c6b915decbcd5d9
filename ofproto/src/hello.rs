//! HELLO (OF1.3.5 §7.5.1) with hello elements and the version bitmap.
//!
//! SCAFFOLD: to be written by the owner of this file.

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::codec::{Body, PResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hello {}

impl Body for Hello {
    fn parse<'a>(_input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
