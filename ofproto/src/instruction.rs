//! Instructions (`ofp_instruction_*`, OF1.3.5 §7.2.4): what a flow entry does with a matching packet.
//!
//! Every instruction is `type:16 | len:16 | body` with `len` a multiple of 8, computed by the encoder.
//! Experimenter instructions keep their body as bytes and unknown types decode to
//! [`Instruction::Unknown`], so any well-formed list re-encodes byte-exactly.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use crate::action::Action;
use crate::codec::{LenPatch, PResult, bad_length, field, pad, pad_to, take_exact, within};
use crate::types::open_enum;

open_enum! {
    /// `ofp_instruction_type` (OF1.3.5 §7.2.4).
    pub enum InstructionType: u16 {
        GotoTable = 1,
        WriteMetadata = 2,
        WriteActions = 3,
        ApplyActions = 4,
        ClearActions = 5,
        Meter = 6,
        Experimenter = 0xffff,
    }
}

/// Size of the type/len prefix.
pub const INSTRUCTION_HEADER_LEN: usize = 4;
/// Size of `ofp_instruction_goto_table`, `_actions` (without actions), `_meter` and the experimenter
/// header.
pub const SHORT_INSTRUCTION_LEN: usize = 8;
/// Size of `ofp_instruction_write_metadata`.
pub const WRITE_METADATA_LEN: usize = 24;
/// Instructions are padded to this multiple.
pub const INSTRUCTION_ALIGN: usize = 8;

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

fn len_field(t: InstructionType) -> &'static str {
    match t {
        InstructionType::GotoTable => "goto_table.len",
        InstructionType::WriteMetadata => "write_metadata.len",
        InstructionType::WriteActions => "write_actions.len",
        InstructionType::ApplyActions => "apply_actions.len",
        InstructionType::ClearActions => "clear_actions.len",
        InstructionType::Meter => "meter.len",
        InstructionType::Experimenter => "experimenter.len",
        InstructionType::Unknown(_) => "instruction.len",
    }
}

impl Instruction {
    /// The instruction's type number on the wire.
    pub fn instruction_type(&self) -> InstructionType {
        match self {
            Instruction::GotoTable(_) => InstructionType::GotoTable,
            Instruction::WriteMetadata { .. } => InstructionType::WriteMetadata,
            Instruction::WriteActions(_) => InstructionType::WriteActions,
            Instruction::ApplyActions(_) => InstructionType::ApplyActions,
            Instruction::ClearActions => InstructionType::ClearActions,
            Instruction::Meter(_) => InstructionType::Meter,
            Instruction::Experimenter { .. } => InstructionType::Experimenter,
            Instruction::Unknown { instruction_type, .. } => InstructionType::from(*instruction_type),
        }
    }

    /// Parses instructions until `input` is exhausted.
    pub(crate) fn parse_list(mut input: &[u8]) -> PResult<'_, Vec<Instruction>> {
        let mut instructions = Vec::with_capacity(2);
        while !input.is_empty() {
            let (rest, instruction) = Instruction::parse(input)?;
            instructions.push(instruction);
            input = rest;
        }
        Ok((input, instructions))
    }

    /// Parses one instruction.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Instruction> {
        let (after_type, raw_type) = field("instruction.type", be_u16)(input)?;
        let (_, len) = field("instruction.len", be_u16)(after_type)?;
        let len = usize::from(len);
        let kind = InstructionType::from(raw_type);
        let len_ok = match kind {
            InstructionType::GotoTable | InstructionType::ClearActions | InstructionType::Meter => {
                len == SHORT_INSTRUCTION_LEN
            }
            InstructionType::WriteMetadata => len == WRITE_METADATA_LEN,
            InstructionType::WriteActions | InstructionType::ApplyActions | InstructionType::Experimenter => {
                len >= SHORT_INSTRUCTION_LEN
            }
            InstructionType::Unknown(_) => len >= INSTRUCTION_HEADER_LEN,
        };
        // §7.2.4: instruction lengths are multiples of 8 (padding included).
        if !len_ok || len % INSTRUCTION_ALIGN != 0 {
            return Err(bad_length(after_type, len_field(kind), len));
        }
        within(input, len, len_field(kind), |i| {
            let (body, _) = take_exact(i, INSTRUCTION_HEADER_LEN, "instruction.header")?;
            Instruction::parse_body(kind, body)
        })
    }

    fn parse_body(kind: InstructionType, body: &[u8]) -> PResult<'_, Instruction> {
        let end = &body[body.len()..];
        match kind {
            InstructionType::GotoTable => {
                let (i, table_id) = field("goto_table.table_id", be_u8)(body)?;
                let (i, ()) = pad(i, 3)?;
                Ok((i, Instruction::GotoTable(table_id)))
            }
            InstructionType::WriteMetadata => {
                let (i, ()) = pad(body, 4)?;
                let (i, metadata) = field("write_metadata.metadata", be_u64)(i)?;
                let (i, mask) = field("write_metadata.metadata_mask", be_u64)(i)?;
                Ok((i, Instruction::WriteMetadata { metadata, mask }))
            }
            InstructionType::WriteActions => {
                let (i, ()) = pad(body, 4)?;
                let (i, actions) = Action::parse_list(i)?;
                Ok((i, Instruction::WriteActions(actions)))
            }
            InstructionType::ApplyActions => {
                let (i, ()) = pad(body, 4)?;
                let (i, actions) = Action::parse_list(i)?;
                Ok((i, Instruction::ApplyActions(actions)))
            }
            InstructionType::ClearActions => pad(body, 4).map(|(i, ())| (i, Instruction::ClearActions)),
            InstructionType::Meter => {
                field("meter.meter_id", be_u32)(body).map(|(i, id)| (i, Instruction::Meter(id)))
            }
            InstructionType::Experimenter => {
                let (data, experimenter) = field("experimenter.experimenter", be_u32)(body)?;
                Ok((end, Instruction::Experimenter { experimenter, data: Bytes::copy_from_slice(data) }))
            }
            InstructionType::Unknown(instruction_type) => {
                Ok((end, Instruction::Unknown { instruction_type, body: Bytes::copy_from_slice(body) }))
            }
        }
    }

    pub(crate) fn emit_list(instructions: &[Instruction], buf: &mut BytesMut) {
        for instruction in instructions {
            instruction.emit(buf);
        }
    }

    /// Appends one instruction with its length and padding computed.
    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let [t0, t1] = self.instruction_type().value().to_be_bytes();
        let short = |buf: &mut BytesMut, [a, b, c, d]: [u8; 4]| {
            buf.put_slice(&[t0, t1, 0, SHORT_INSTRUCTION_LEN as u8, a, b, c, d]);
        };
        match self {
            Instruction::GotoTable(table_id) => short(buf, [*table_id, 0, 0, 0]),
            Instruction::ClearActions => short(buf, [0; 4]),
            Instruction::Meter(meter_id) => short(buf, meter_id.to_be_bytes()),
            Instruction::WriteMetadata { metadata, mask } => {
                buf.put_slice(&[t0, t1, 0, WRITE_METADATA_LEN as u8, 0, 0, 0, 0]);
                buf.put_u64(*metadata);
                buf.put_u64(*mask);
            }
            Instruction::WriteActions(actions) | Instruction::ApplyActions(actions) => {
                // Header with a placeholder length in one write, then the actions, then the patch.
                let start = buf.len();
                buf.put_slice(&[t0, t1, 0, 0, 0, 0, 0, 0]);
                Action::emit_list(actions, buf);
                let len = u16::try_from(buf.len() - start).unwrap_or(u16::MAX);
                if let Some(field) = buf.get_mut(start + 2..start + INSTRUCTION_HEADER_LEN) {
                    field.copy_from_slice(&len.to_be_bytes());
                }
            }
            Instruction::Experimenter { experimenter, data } => {
                let start = buf.len();
                buf.put_slice(&[t0, t1]);
                let len = LenPatch::u16(buf, start);
                buf.put_u32(*experimenter);
                buf.put_slice(data);
                // Only caller-built bodies can need this: decoded ones are aligned.
                pad_to(buf, start, INSTRUCTION_ALIGN);
                len.finish(buf);
            }
            Instruction::Unknown { body, .. } => {
                let start = buf.len();
                buf.put_slice(&[t0, t1]);
                let len = LenPatch::u16(buf, start);
                buf.put_slice(body);
                pad_to(buf, start, INSTRUCTION_ALIGN);
                len.finish(buf);
            }
        }
    }

    /// Encoded size of the instruction.
    pub fn encoded_len(&self) -> usize {
        match self {
            Instruction::GotoTable(_) | Instruction::ClearActions | Instruction::Meter(_) => {
                SHORT_INSTRUCTION_LEN
            }
            Instruction::WriteMetadata { .. } => WRITE_METADATA_LEN,
            Instruction::WriteActions(actions) | Instruction::ApplyActions(actions) => {
                SHORT_INSTRUCTION_LEN + actions.iter().map(Action::encoded_len).sum::<usize>()
            }
            Instruction::Experimenter { data, .. } => {
                (SHORT_INSTRUCTION_LEN + data.len()).next_multiple_of(INSTRUCTION_ALIGN)
            }
            Instruction::Unknown { body, .. } => {
                (INSTRUCTION_HEADER_LEN + body.len()).next_multiple_of(INSTRUCTION_ALIGN)
            }
        }
    }
}

fn write_actions(f: &mut fmt::Formatter<'_>, name: &str, actions: &[Action]) -> fmt::Result {
    write!(f, "{name}(")?;
    for (i, action) in actions.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{action}")?;
    }
    f.write_str(")")
}

/// ovs-ofctl-like text: `goto_table:1`, `write_metadata:0x1/0xff`, `apply_actions(output:3)`.
impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instruction::GotoTable(t) => write!(f, "goto_table:{t}"),
            Instruction::WriteMetadata { metadata, mask } => {
                write!(f, "write_metadata:{metadata:#x}/{mask:#x}")
            }
            Instruction::WriteActions(actions) => write_actions(f, "write_actions", actions),
            Instruction::ApplyActions(actions) => write_actions(f, "apply_actions", actions),
            Instruction::ClearActions => f.write_str("clear_actions"),
            Instruction::Meter(m) => write!(f, "meter:{m}"),
            Instruction::Experimenter { experimenter, data } => {
                write!(f, "experimenter({experimenter:#010x},data=0x")?;
                data.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str(")")
            }
            Instruction::Unknown { instruction_type, body } => {
                write!(f, "unknown_instruction(type={instruction_type},body=0x")?;
                body.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::codec::WireErr;
    use crate::error::DecodeErrorKind;
    use crate::types::PortNo;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test vector is hex")
    }

    fn emit(instructions: &[Instruction]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        Instruction::emit_list(instructions, &mut buf);
        buf.to_vec()
    }

    fn wire_err<T: fmt::Debug>(r: PResult<'_, T>) -> (&'static str, DecodeErrorKind) {
        match r {
            Err(
                nom::Err::Error(WireErr { field, kind, .. }) | nom::Err::Failure(WireErr { field, kind, .. }),
            ) => (field, kind),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    /// One vector per instruction kind (§7.2.4 structure sizes).
    fn vectors() -> Vec<(Instruction, Vec<u8>)> {
        let output6 = Action::Output { port: PortNo(6), max_len: 0xffff };
        vec![
            (Instruction::GotoTable(1), hex("0001 0008 01 000000")),
            (
                Instruction::WriteMetadata { metadata: 1, mask: 0xff },
                hex("0002 0018 00000000 0000000000000001 00000000000000ff"),
            ),
            (
                Instruction::WriteActions(vec![output6.clone()]),
                hex("0003 0018 00000000 0000 0010 00000006 ffff 000000000000"),
            ),
            (
                Instruction::ApplyActions(vec![Action::PopVlan, output6]),
                hex("0004 0020 00000000 0012 0008 00000000 0000 0010 00000006 ffff 000000000000"),
            ),
            (Instruction::ApplyActions(vec![]), hex("0004 0008 00000000")),
            (Instruction::ClearActions, hex("0005 0008 00000000")),
            (Instruction::Meter(1), hex("0006 0008 00000001")),
            (
                Instruction::Experimenter {
                    experimenter: 0x2320,
                    data: Bytes::from(hex("0102030405060708")),
                },
                hex("ffff 0010 00002320 0102030405060708"),
            ),
            (
                Instruction::Unknown { instruction_type: 7, body: Bytes::from(hex("00000000")) },
                hex("0007 0008 00000000"),
            ),
        ]
    }

    #[test]
    fn test_parse_each_instruction() {
        for (expected, bytes) in vectors() {
            let (rest, parsed) = Instruction::parse(&bytes).unwrap_or_else(|e| panic!("{expected:?}: {e:?}"));
            assert!(rest.is_empty());
            assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn test_emit_each_instruction() {
        for (instruction, bytes) in vectors() {
            assert_eq!(emit(std::slice::from_ref(&instruction)), bytes, "{instruction:?}");
            assert_eq!(instruction.encoded_len(), bytes.len(), "{instruction:?}");
        }
    }

    #[test]
    fn ryu_instruction_lists_round_trip() {
        // 4-46-ofp_flow_mod.packet: instructions start after the 16-byte match at offset 64.
        let packet = include_bytes!("../tests/data/ryu-of13/packet/4-46-ofp_flow_mod.packet");
        let (rest, list) = Instruction::parse_list(&packet[64..]).unwrap();
        assert!(rest.is_empty());
        let output6 = Action::Output { port: PortNo(6), max_len: 65535 };
        assert_eq!(list, vec![Instruction::Meter(1), Instruction::WriteActions(vec![output6])]);
        assert_eq!(emit(&list), &packet[64..]);
        // 4-2-ofp_flow_mod.packet: a 176-byte WRITE_ACTIONS with every action type, then APPLY_ACTIONS.
        let packet = include_bytes!("../tests/data/ryu-of13/packet/4-2-ofp_flow_mod.packet");
        let (_, list) = Instruction::parse_list(&packet[64..]).unwrap();
        assert_eq!(list.len(), 2);
        assert!(matches!(&list[0], Instruction::WriteActions(a) if a.len() == 18));
        assert!(matches!(&list[1], Instruction::ApplyActions(a) if a.len() == 2));
        assert_eq!(emit(&list), &packet[64..]);
    }

    #[test]
    fn display_is_ovs_ofctl_like() {
        assert_eq!(Instruction::GotoTable(1).to_string(), "goto_table:1");
        assert_eq!(
            Instruction::WriteMetadata { metadata: 1, mask: 0xff }.to_string(),
            "write_metadata:0x1/0xff"
        );
        let apply = Instruction::ApplyActions(vec![Action::group(1), Action::output(PortNo(3))]);
        assert_eq!(apply.to_string(), "apply_actions(group:1,output:3)");
        assert_eq!(Instruction::ClearActions.to_string(), "clear_actions");
        assert_eq!(Instruction::Meter(4).to_string(), "meter:4");
    }

    #[test]
    fn wrong_lengths_are_bad_length() {
        assert_eq!(
            wire_err(Instruction::parse(&hex("0001 0010 01000000 00000000 00000000"))),
            ("goto_table.len", DecodeErrorKind::BadLength { value: 16 })
        );
        assert_eq!(
            wire_err(Instruction::parse(&hex("0002 0010 00000000 0000000000000001"))),
            ("write_metadata.len", DecodeErrorKind::BadLength { value: 16 })
        );
        assert_eq!(
            wire_err(Instruction::parse_list(&hex("0009 0000 00000000"))),
            ("instruction.len", DecodeErrorKind::BadLength { value: 0 })
        );
        assert_eq!(
            wire_err(Instruction::parse(&hex("0004 000c 00000000 00000000"))),
            ("apply_actions.len", DecodeErrorKind::BadLength { value: 12 })
        );
    }

    #[test]
    fn truncated_and_inner_errors() {
        assert_eq!(
            wire_err(Instruction::parse(&hex("0001 00"))),
            ("instruction.len", DecodeErrorKind::Truncated)
        );
        assert_eq!(
            wire_err(Instruction::parse(&hex("0004 0018 00000000 0000 0010"))),
            ("apply_actions.len", DecodeErrorKind::Truncated)
        );
        // An action that overruns the instruction is cut by the instruction's length.
        assert_eq!(
            wire_err(Instruction::parse(&hex("0004 0010 00000000 0000 0010 00000006"))),
            ("output.len", DecodeErrorKind::Truncated)
        );
    }

    #[test]
    fn caller_built_experimenter_is_padded() {
        let exp = Instruction::Experimenter { experimenter: 1, data: Bytes::from_static(&[9]) };
        assert_eq!(emit(std::slice::from_ref(&exp)), hex("ffff 0010 00000001 09 00000000000000"));
        assert_eq!(exp.encoded_len(), 16);
    }

    proptest::proptest! {
        /// Arbitrary bytes never make the decoder panic; whatever decodes round-trips.
        #[test]
        fn decode_encode_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            if let Ok((_, list)) = Instruction::parse_list(&bytes) {
                let encoded = emit(&list);
                proptest::prop_assert_eq!(encoded.len(), bytes.len());
                let (_, again) = Instruction::parse_list(&encoded).unwrap();
                proptest::prop_assert_eq!(again, list);
            }
        }
    }
}
