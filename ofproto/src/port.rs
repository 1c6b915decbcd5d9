//! Ports: `ofp_port` (OF1.3.5 §7.2.1), PORT_STATUS (§7.4.3) and PORT_MOD (§7.3.4.3).
//!
//! SCAFFOLD: `Port` data model fixed by the lead; the rest to be written by the owner of this file.

use bytes::BytesMut;
use serde::Serialize;

use crate::codec::PResult;
use crate::types::{FixedStr, MacAddr, PortNo};

/// `ofp_port`: 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub port_no: PortNo,
    pub hw_addr: MacAddr,
    pub name: FixedStr<16>,
    /// `ofp_port_config` bits.
    pub config: u32,
    /// `ofp_port_state` bits.
    pub state: u32,
    /// `ofp_port_features` bits.
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// Current and maximum bitrate in kbps.
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl Port {
    pub(crate) fn parse(_input: &[u8]) -> PResult<'_, Port> {
        todo!("port owner")
    }

    pub(crate) fn emit(&self, _buf: &mut BytesMut) {
        todo!("port owner")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {}

impl crate::codec::Body for PortStatus {
    fn parse<'a>(_input: &'a [u8], _src: &bytes::Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMod {}

impl crate::codec::Body for PortMod {
    fn parse<'a>(_input: &'a [u8], _src: &bytes::Bytes) -> PResult<'a, Self> {
        todo!()
    }

    fn emit(&self, _buf: &mut BytesMut) {
        todo!()
    }
}
