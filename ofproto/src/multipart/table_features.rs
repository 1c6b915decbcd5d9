//! Table features (`ofp_table_features`, OF1.3.5 §7.3.5.5): what each flow table can match, which
//! instructions and actions it accepts, and where it can go next. Used in both directions: the
//! TABLE_FEATURES reply describes the pipeline, a request with a body reconfigures it.
//!
//! Each property is a TLV whose length excludes its padding to 8 bytes (§7.3.5.5.2); the encoder
//! computes both. The ids the properties list are in [`super::feature_ids`].

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use super::feature_ids::{ActionId, InstructionId, OxmId, TLV_HEADER_LEN};
use super::{fixed_str, length_prefixed_list};
use crate::codec::{
    LenPatch, PResult, bad_length, fail, field, many_until_empty, pad, pad_to, put_zeros, within,
};
use crate::error::DecodeErrorKind;
use crate::types::{FixedStr, open_enum};

open_enum! {
    /// `ofp_table_feature_prop_type` (OF1.3.5 §7.3.5.5.2).
    pub enum TableFeaturePropType: u16 {
        Instructions = 0,
        InstructionsMiss = 1,
        NextTables = 2,
        NextTablesMiss = 3,
        WriteActions = 4,
        WriteActionsMiss = 5,
        ApplyActions = 6,
        ApplyActionsMiss = 7,
        Match = 8,
        Wildcards = 10,
        WriteSetfield = 12,
        WriteSetfieldMiss = 13,
        ApplySetfield = 14,
        ApplySetfieldMiss = 15,
        Experimenter = 0xfffe,
        ExperimenterMiss = 0xffff,
    }
}

/// One table feature property (`ofp_table_feature_prop_*`, §7.3.5.5.2). `miss: true` is the
/// `*_MISS` variant of a property: the capability of the table-miss flow entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TableFeatureProp {
    Instructions {
        miss: bool,
        ids: Vec<InstructionId>,
    },
    NextTables {
        miss: bool,
        table_ids: Vec<u8>,
    },
    WriteActions {
        miss: bool,
        ids: Vec<ActionId>,
    },
    ApplyActions {
        miss: bool,
        ids: Vec<ActionId>,
    },
    /// Fields the table can match on.
    Match(Vec<OxmId>),
    /// Fields the table can wildcard.
    Wildcards(Vec<OxmId>),
    WriteSetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    ApplySetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    /// `data` is everything after the experimenter id and type (unpadded).
    Experimenter {
        miss: bool,
        experimenter: u32,
        exp_type: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// A property type this library has no name for; `body` is everything after the 4-byte header,
    /// padding excluded.
    Unknown {
        prop_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl TableFeatureProp {
    /// The wire type of this property.
    pub fn prop_type(&self) -> TableFeaturePropType {
        use TableFeaturePropType as T;
        let pick = |miss: bool, hit: T, miss_type: T| if miss { miss_type } else { hit };
        match self {
            Self::Instructions { miss, .. } => pick(*miss, T::Instructions, T::InstructionsMiss),
            Self::NextTables { miss, .. } => pick(*miss, T::NextTables, T::NextTablesMiss),
            Self::WriteActions { miss, .. } => pick(*miss, T::WriteActions, T::WriteActionsMiss),
            Self::ApplyActions { miss, .. } => pick(*miss, T::ApplyActions, T::ApplyActionsMiss),
            Self::Match(_) => T::Match,
            Self::Wildcards(_) => T::Wildcards,
            Self::WriteSetfield { miss, .. } => pick(*miss, T::WriteSetfield, T::WriteSetfieldMiss),
            Self::ApplySetfield { miss, .. } => pick(*miss, T::ApplySetfield, T::ApplySetfieldMiss),
            Self::Experimenter { miss, .. } => pick(*miss, T::Experimenter, T::ExperimenterMiss),
            Self::Unknown { prop_type, .. } => T::from(*prop_type),
        }
    }

    /// Parses one property and the padding that follows it.
    fn parse(input: &[u8]) -> PResult<'_, TableFeatureProp> {
        let (i, prop_type) = field("table_feature_prop.type", be_u16)(input)?;
        let (_, length) = field("table_feature_prop.length", be_u16)(i)?;
        let length = usize::from(length);
        if length < TLV_HEADER_LEN {
            return Err(bad_length(i, "table_feature_prop.length", length));
        }
        let padded = length.div_ceil(8) * 8;
        if padded > input.len() {
            return Err(fail(i, "table_feature_prop.length", DecodeErrorKind::Truncated));
        }
        let (rest, prop) = within(input, length, "table_feature_prop", |p| {
            let (body, _) = crate::codec::take_exact(p, TLV_HEADER_LEN, "table_feature_prop")?;
            Self::parse_body(TableFeaturePropType::from(prop_type), body)
        })?;
        let (rest, ()) = pad(rest, padded - length)?;
        Ok((rest, prop))
    }

    /// Parses a property body (after the 4-byte header, before the padding).
    fn parse_body(prop_type: TableFeaturePropType, body: &[u8]) -> PResult<'_, TableFeatureProp> {
        use TableFeaturePropType as T;
        let instruction_ids = |b| many_until_empty(b, InstructionId::parse);
        let action_ids = |b| many_until_empty(b, ActionId::parse);
        let oxm_ids = |b| many_until_empty(b, OxmId::parse);
        let end = &body[body.len()..];
        let prop = match prop_type {
            T::Instructions | T::InstructionsMiss => {
                let miss = prop_type == T::InstructionsMiss;
                Self::Instructions { miss, ids: instruction_ids(body)?.1 }
            }
            T::NextTables | T::NextTablesMiss => {
                Self::NextTables { miss: prop_type == T::NextTablesMiss, table_ids: body.to_vec() }
            }
            T::WriteActions | T::WriteActionsMiss => {
                Self::WriteActions { miss: prop_type == T::WriteActionsMiss, ids: action_ids(body)?.1 }
            }
            T::ApplyActions | T::ApplyActionsMiss => {
                Self::ApplyActions { miss: prop_type == T::ApplyActionsMiss, ids: action_ids(body)?.1 }
            }
            T::Match => Self::Match(oxm_ids(body)?.1),
            T::Wildcards => Self::Wildcards(oxm_ids(body)?.1),
            T::WriteSetfield | T::WriteSetfieldMiss => {
                Self::WriteSetfield { miss: prop_type == T::WriteSetfieldMiss, ids: oxm_ids(body)?.1 }
            }
            T::ApplySetfield | T::ApplySetfieldMiss => {
                Self::ApplySetfield { miss: prop_type == T::ApplySetfieldMiss, ids: oxm_ids(body)?.1 }
            }
            T::Experimenter | T::ExperimenterMiss => {
                let (i, experimenter) = field("table_feature_prop.experimenter", be_u32)(body)?;
                let (i, exp_type) = field("table_feature_prop.exp_type", be_u32)(i)?;
                let miss = prop_type == T::ExperimenterMiss;
                Self::Experimenter { miss, experimenter, exp_type, data: Bytes::copy_from_slice(i) }
            }
            T::Unknown(prop_type) => Self::Unknown { prop_type, body: Bytes::copy_from_slice(body) },
        };
        Ok((end, prop))
    }

    /// Appends the property, its length (padding excluded) and its padding to 8 bytes.
    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u16(self.prop_type().value());
        let len = LenPatch::u16(buf, start);
        match self {
            Self::Instructions { ids, .. } => {
                ids.iter().for_each(|id| id.emit(buf));
            }
            Self::NextTables { table_ids, .. } => buf.put_slice(table_ids),
            Self::WriteActions { ids, .. } | Self::ApplyActions { ids, .. } => {
                ids.iter().for_each(|id| id.emit(buf));
            }
            Self::Match(ids)
            | Self::Wildcards(ids)
            | Self::WriteSetfield { ids, .. }
            | Self::ApplySetfield { ids, .. } => {
                ids.iter().for_each(|id| id.emit(buf));
            }
            Self::Experimenter { experimenter, exp_type, data, .. } => {
                buf.put_u32(*experimenter);
                buf.put_u32(*exp_type);
                buf.put_slice(data);
            }
            Self::Unknown { body, .. } => buf.put_slice(body),
        }
        len.finish(buf);
        pad_to(buf, start, 8);
    }
}

/// `ofp_table_features` (§7.3.5.5.1): one flow table's capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: FixedStr<32>,
    /// Bits of metadata the table can match.
    pub metadata_match: u64,
    /// Bits of metadata the table can write.
    pub metadata_write: u64,
    /// `ofp_table_config` bits (deprecated in 1.3, kept as sent).
    pub config: u32,
    /// Maximum number of entries supported.
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

impl TableFeatures {
    /// Size of the fixed part before the properties.
    pub const FIXED_SIZE: usize = 64;

    /// The property of type `prop_type`, if present.
    pub fn property(&self, prop_type: TableFeaturePropType) -> Option<&TableFeatureProp> {
        self.properties.iter().find(|p| p.prop_type() == prop_type)
    }

    /// Tables a `goto_table` from this table may name (the NEXT_TABLES property), if advertised.
    pub fn next_tables(&self) -> Option<&[u8]> {
        self.properties.iter().find_map(|p| match p {
            TableFeatureProp::NextTables { miss: false, table_ids } => Some(table_ids.as_slice()),
            _ => None,
        })
    }

    /// Parses entries until `input` is exhausted (each bounded by its own length).
    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<TableFeatures>> {
        length_prefixed_list(input, 0, Self::FIXED_SIZE, "table_features.length", |i| {
            let (i, _length) = field("table_features.length", be_u16)(i)?;
            let (i, table_id) = field("table_features.table_id", be_u8)(i)?;
            let (i, ()) = pad(i, 5)?;
            let (i, name) = fixed_str(i, "table_features.name")?;
            let (i, metadata_match) = field("table_features.metadata_match", be_u64)(i)?;
            let (i, metadata_write) = field("table_features.metadata_write", be_u64)(i)?;
            let (i, config) = field("table_features.config", be_u32)(i)?;
            let (i, max_entries) = field("table_features.max_entries", be_u32)(i)?;
            let (i, properties) = many_until_empty(i, TableFeatureProp::parse)?;
            let features = TableFeatures {
                table_id,
                name,
                metadata_match,
                metadata_write,
                config,
                max_entries,
                properties,
            };
            Ok((i, features))
        })
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let length = LenPatch::u16(buf, start);
        buf.put_u8(self.table_id);
        put_zeros(buf, 5);
        buf.put_slice(&self.name.0);
        buf.put_u64(self.metadata_match);
        buf.put_u64(self.metadata_write);
        buf.put_u32(self.config);
        buf.put_u32(self.max_entries);
        for prop in &self.properties {
            prop.emit(buf);
        }
        length.finish(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multipart::feature_ids::{ActionType, InstructionType};

    fn bytes(hex_text: &str) -> Vec<u8> {
        hex::decode(hex_text.split_whitespace().collect::<String>()).unwrap()
    }

    fn emit_prop(prop: &TableFeatureProp) -> Vec<u8> {
        let mut buf = BytesMut::new();
        prop.emit(&mut buf);
        buf.to_vec()
    }

    /// One property of every OF1.3 type, in wire order, with the parsed value beside it.
    fn every_property() -> Vec<(&'static str, TableFeatureProp)> {
        use TableFeatureProp as P;
        let oxm = |field, len| OxmId::basic(field, false, len);
        vec![
            // INSTRUCTIONS: goto_table, apply_actions; 12 bytes + 4 pad.
            (
                "0000 000c 0001 0004 0004 0004 00000000",
                P::Instructions {
                    miss: false,
                    ids: vec![
                        InstructionId::new(InstructionType::GotoTable),
                        InstructionId::new(InstructionType::ApplyActions),
                    ],
                },
            ),
            // INSTRUCTIONS_MISS with an experimenter instruction id (len 8: experimenter id).
            (
                "0001 000c ffff 0008 00002320 00000000",
                P::Instructions {
                    miss: true,
                    ids: vec![InstructionId {
                        instruction_type: InstructionType::Experimenter,
                        exp_data: Bytes::from_static(&[0, 0, 0x23, 0x20]),
                    }],
                },
            ),
            ("0002 0007 010203 00", P::NextTables { miss: false, table_ids: vec![1, 2, 3] }),
            ("0003 0004 00000000", P::NextTables { miss: true, table_ids: vec![] }),
            (
                "0004 0008 0000 0004",
                P::WriteActions { miss: false, ids: vec![ActionId::new(ActionType::Output)] },
            ),
            (
                "0005 0008 0016 0004",
                P::WriteActions { miss: true, ids: vec![ActionId::new(ActionType::Group)] },
            ),
            (
                "0006 0008 0019 0004",
                P::ApplyActions { miss: false, ids: vec![ActionId::new(ActionType::SetField)] },
            ),
            (
                "0007 0008 0012 0004",
                P::ApplyActions { miss: true, ids: vec![ActionId::new(ActionType::PopVlan)] },
            ),
            // MATCH: in_port (len 4), eth_dst masked (len 12), experimenter OXM id (8 bytes).
            (
                "0008 0014 80000004 8000070c ffff0104 4f4e4600 00000000",
                P::Match(vec![
                    oxm(0, 4),
                    OxmId::basic(3, true, 12),
                    OxmId {
                        class: 0xffff,
                        field: 0,
                        has_mask: true,
                        length: 4,
                        experimenter: Some(0x4f4e_4600),
                    },
                ]),
            ),
            ("000a 0008 80000a02", P::Wildcards(vec![oxm(5, 2)])),
            ("000c 0008 80001604", P::WriteSetfield { miss: false, ids: vec![oxm(11, 4)] }),
            ("000d 0008 80001804", P::WriteSetfield { miss: true, ids: vec![oxm(12, 4)] }),
            ("000e 0008 80000000", P::ApplySetfield { miss: false, ids: vec![oxm(0, 0)] }),
            ("000f 0008 80000600", P::ApplySetfield { miss: true, ids: vec![oxm(3, 0)] }),
            (
                "fffe 000c 00000065 00000000 00000000",
                P::Experimenter { miss: false, experimenter: 0x65, exp_type: 0, data: Bytes::new() },
            ),
            (
                "ffff 0010 00000065 00000001 00000001",
                P::Experimenter {
                    miss: true,
                    experimenter: 0x65,
                    exp_type: 1,
                    data: Bytes::from_static(&[0, 0, 0, 1]),
                },
            ),
            ("0009 0006 abcd 0000", P::Unknown { prop_type: 9, body: Bytes::from_static(&[0xab, 0xcd]) }),
        ]
    }

    #[test]
    fn every_property_type_parses_and_emits() {
        for (wire, expected) in every_property() {
            let wire = bytes(wire);
            let (rest, prop) =
                TableFeatureProp::parse(&wire).unwrap_or_else(|e| panic!("{expected:?}: {e:?}"));
            assert!(rest.is_empty(), "{expected:?} left {} bytes", rest.len());
            assert_eq!(prop, expected);
            assert_eq!(emit_prop(&expected), wire, "{expected:?}");
        }
    }

    #[test]
    fn table_features_entry_round_trips() {
        let wire = bytes(
            "0058 01 0000000000
             7461626c65310000000000000000000000000000000000000000000000000000
             ffffffffffffffff 0000000000000000 00000003 00001000
             0002 0006 0203 0000
             0000 0008 0001 0004
             0008 0008 80000004",
        );
        let (rest, list) = TableFeatures::parse_list(&wire).unwrap();
        assert!(rest.is_empty());
        let expected = TableFeatures {
            table_id: 1,
            name: FixedStr::new("table1"),
            metadata_match: u64::MAX,
            metadata_write: 0,
            config: 3,
            max_entries: 4096,
            properties: vec![
                TableFeatureProp::NextTables { miss: false, table_ids: vec![2, 3] },
                TableFeatureProp::Instructions {
                    miss: false,
                    ids: vec![InstructionId::new(InstructionType::GotoTable)],
                },
                TableFeatureProp::Match(vec![OxmId::basic(0, false, 4)]),
            ],
        };
        assert_eq!(list, vec![expected.clone()]);
        assert_eq!(expected.next_tables(), Some(&[2u8, 3][..]));
        assert!(expected.property(TableFeaturePropType::Wildcards).is_none());
        let mut buf = BytesMut::new();
        expected.emit(&mut buf);
        assert_eq!(buf.to_vec(), wire);
    }

    #[test]
    fn property_errors_name_the_problem() {
        let err_of = |wire: &str| match TableFeatureProp::parse(&bytes(wire)) {
            Err(nom::Err::Error(e)) => (e.field, e.kind),
            other => panic!("{other:?}"),
        };
        // Length below the header size.
        assert_eq!(
            err_of("0000 0002 00000000"),
            ("table_feature_prop.length", DecodeErrorKind::BadLength { value: 2 })
        );
        // Padding missing: length 6 needs 8 bytes.
        assert_eq!(err_of("0002 0006 0102"), ("table_feature_prop.length", DecodeErrorKind::Truncated));
        // Instruction id whose len is below 4.
        assert_eq!(
            err_of("0000 0008 0001 0002"),
            ("instruction_id", DecodeErrorKind::BadLength { value: 2 })
        );
        // Action id whose len runs past the property.
        assert_eq!(err_of("0004 0008 ffff 0008"), ("action_id", DecodeErrorKind::Truncated));
        // Half an OXM id.
        assert_eq!(err_of("0008 0006 8000 0000"), ("oxm_id", DecodeErrorKind::Truncated));
        // Experimenter OXM id without its experimenter field.
        assert_eq!(err_of("0008 0008 ffff0004"), ("oxm_id.experimenter", DecodeErrorKind::Truncated));
        // Experimenter property too short for its ids.
        assert_eq!(err_of("fffe 0008 00000065"), ("table_feature_prop.exp_type", DecodeErrorKind::Truncated));
    }
}
