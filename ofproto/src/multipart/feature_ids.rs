//! The ids listed in table-feature properties (OF1.3.5 §7.3.5.5.2): instruction and action ids (the
//! 4-byte type/len header of the TLV, longer for experimenter ones) and OXM ids (the 4-byte OXM
//! header, 8 with the experimenter id of class `0xFFFF`), re-exporting the instruction and action type numbers.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u32};
use serde::Serialize;

use crate::codec::{LenPatch, PResult, bad_length, fail, field};
use crate::error::DecodeErrorKind;

// The type numbers are the ones the instruction and action codecs use.
pub use crate::action::ActionType;
pub use crate::instruction::InstructionType;

/// Size of a TLV header (type + length) and of a plain instruction/action/OXM id.
pub(super) const TLV_HEADER_LEN: usize = 4;

/// `ofp_instruction_id` (§7.3.5.5.2): an instruction type, with the experimenter bytes (experimenter
/// id first) when the type is `Experimenter`. The encoded `len` is `4 + exp_data.len()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstructionId {
    pub instruction_type: InstructionType,
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub exp_data: Bytes,
}

impl InstructionId {
    /// The id of a standard (non-experimenter) instruction.
    pub fn new(instruction_type: InstructionType) -> Self {
        InstructionId { instruction_type, exp_data: Bytes::new() }
    }

    pub(super) fn parse(input: &[u8]) -> PResult<'_, InstructionId> {
        let (i, (id_type, exp_data)) = parse_tlv_id(input, "instruction_id")?;
        Ok((i, InstructionId { instruction_type: InstructionType::from(id_type), exp_data }))
    }

    pub(super) fn emit(&self, buf: &mut BytesMut) {
        emit_tlv_id(self.instruction_type.value(), &self.exp_data, buf);
    }
}

/// `ofp_action_id` (§7.3.5.5.2): an action type, with the experimenter bytes (experimenter id first)
/// when the type is `Experimenter`. The encoded `len` is `4 + exp_data.len()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionId {
    pub action_type: ActionType,
    #[serde(serialize_with = "crate::types::serialize_hex")]
    pub exp_data: Bytes,
}

impl ActionId {
    /// The id of a standard (non-experimenter) action.
    pub fn new(action_type: ActionType) -> Self {
        ActionId { action_type, exp_data: Bytes::new() }
    }

    pub(super) fn parse(input: &[u8]) -> PResult<'_, ActionId> {
        let (i, (id_type, exp_data)) = parse_tlv_id(input, "action_id")?;
        Ok((i, ActionId { action_type: ActionType::from(id_type), exp_data }))
    }

    pub(super) fn emit(&self, buf: &mut BytesMut) {
        emit_tlv_id(self.action_type.value(), &self.exp_data, buf);
    }
}

/// Parses a type/len id header and its extra bytes (instruction and action ids share the layout).
fn parse_tlv_id<'a>(input: &'a [u8], name: &'static str) -> PResult<'a, (u16, Bytes)> {
    let (i, id_type) = field(name, be_u16)(input)?;
    let (i, len) = field(name, be_u16)(i)?;
    let len = usize::from(len);
    if len < TLV_HEADER_LEN {
        return Err(bad_length(i, name, len));
    }
    let extra = len - TLV_HEADER_LEN;
    if extra > i.len() {
        return Err(fail(i, name, DecodeErrorKind::Truncated));
    }
    let (data, rest) = i.split_at(extra);
    Ok((rest, (id_type, Bytes::copy_from_slice(data))))
}

fn emit_tlv_id(id_type: u16, exp_data: &[u8], buf: &mut BytesMut) {
    let start = buf.len();
    buf.put_u16(id_type);
    let len = LenPatch::u16(buf, start);
    buf.put_slice(exp_data);
    len.finish(buf);
}

/// An OXM id (§7.3.5.5.2): an OXM header naming a field, with `length` as the switch reports it (its
/// payload size, though some switches send 0); `experimenter` is present for class `0xFFFF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OxmId {
    pub class: u16,
    pub field: u8,
    pub has_mask: bool,
    pub length: u8,
    pub experimenter: Option<u32>,
}

impl OxmId {
    /// `OFPXMC_OPENFLOW_BASIC`.
    pub const CLASS_BASIC: u16 = 0x8000;
    /// `OFPXMC_EXPERIMENTER`: the header is followed by a 4-byte experimenter id.
    pub const CLASS_EXPERIMENTER: u16 = 0xffff;

    /// The id of an OpenFlow-basic field `field` (0..=39) whose value is `length` bytes.
    pub fn basic(field: u8, has_mask: bool, length: u8) -> Self {
        OxmId { class: Self::CLASS_BASIC, field, has_mask, length, experimenter: None }
    }

    pub(super) fn parse(input: &[u8]) -> PResult<'_, OxmId> {
        let (i, header) = field("oxm_id", be_u32)(input)?;
        let class = (header >> 16) as u16;
        let (i, experimenter) = if class == Self::CLASS_EXPERIMENTER {
            let (i, id) = field("oxm_id.experimenter", be_u32)(i)?;
            (i, Some(id))
        } else {
            (i, None)
        };
        let id = OxmId {
            class,
            field: ((header >> 9) & 0x7f) as u8,
            has_mask: header & 0x100 != 0,
            length: (header & 0xff) as u8,
            experimenter,
        };
        Ok((i, id))
    }

    pub(super) fn emit(&self, buf: &mut BytesMut) {
        let header = (u32::from(self.class) << 16)
            | (u32::from(self.field & 0x7f) << 9)
            | (u32::from(self.has_mask) << 8)
            | u32::from(self.length);
        buf.put_u32(header);
        if let Some(experimenter) = self.experimenter {
            buf.put_u32(experimenter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oxm_id_header_bits() {
        // OXM_OF_IPV4_SRC_W: class 0x8000, field 11, has_mask, length 8.
        let (rest, id) = OxmId::parse(&[0x80, 0x00, 0x17, 0x08]).unwrap();
        assert!(rest.is_empty());
        assert_eq!(id, OxmId::basic(11, true, 8));
        let mut buf = BytesMut::new();
        id.emit(&mut buf);
        assert_eq!(&buf[..], &[0x80, 0x00, 0x17, 0x08]);
        // Experimenter class: the experimenter id follows the header.
        let wire = [0xff, 0xff, 0x02, 0x04, 0x00, 0x00, 0x23, 0x20];
        let (_, id) = OxmId::parse(&wire).unwrap();
        assert_eq!((id.class, id.field, id.experimenter), (OxmId::CLASS_EXPERIMENTER, 1, Some(0x2320)));
        let mut buf = BytesMut::new();
        id.emit(&mut buf);
        assert_eq!(&buf[..], &wire);
    }

    #[test]
    fn experimenter_action_id_keeps_its_bytes() {
        let wire = [0xff, 0xff, 0x00, 0x0a, 0x00, 0x00, 0x23, 0x20, 0x00, 0x26];
        let (rest, id) = ActionId::parse(&wire).unwrap();
        assert!(rest.is_empty());
        assert_eq!(id.action_type, ActionType::Experimenter);
        assert_eq!(&id.exp_data[..], &wire[4..]);
        let mut buf = BytesMut::new();
        id.emit(&mut buf);
        assert_eq!(&buf[..], &wire);
        let nom::Err::Error(err) = InstructionId::parse(&[0, 1, 0, 3]).unwrap_err() else { panic!() };
        assert_eq!((err.field, err.kind), ("instruction_id", DecodeErrorKind::BadLength { value: 3 }));
    }
}
