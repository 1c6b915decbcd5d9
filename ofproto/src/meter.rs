//! Meters: the `ofp_meter_band_*` structures and the METER_MOD request (OF1.3.5 §7.3.4.4).
//!
//! `MeterBand` is shared with the METER_CONFIG multipart reply (§7.3.5.13), which reads and writes band
//! lists through [`MeterBand::parse_list`] and [`MeterBand::emit_list`].

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};
use serde::Serialize;

use crate::codec::{Body, LenPatch, PResult, check_tlv_len, field, many_until_empty, pad, put_zeros, within};
use crate::types::open_enum;

/// Meter ids (`ofp_meter`, OF1.3.5 §7.3.4.4). Ids 1..=`MAX` are ordinary meters.
pub mod meter_id {
    /// Last usable meter.
    pub const MAX: u32 = 0xffff_0000;
    /// Meter for the slow datapath.
    pub const SLOWPATH: u32 = 0xffff_fffd;
    /// Meter for the controller connection.
    pub const CONTROLLER: u32 = 0xffff_fffe;
    /// Every meter (in deletes and stats requests).
    pub const ALL: u32 = 0xffff_ffff;
}

/// `ofp_meter_flags` bits (OF1.3.5 §7.3.4.4).
pub mod meter_flags {
    /// Rates are in kb/s.
    pub const KBPS: u16 = 1 << 0;
    /// Rates are in packets/s.
    pub const PKTPS: u16 = 1 << 1;
    /// Use the bands' `burst_size`.
    pub const BURST: u16 = 1 << 2;
    /// Collect statistics.
    pub const STATS: u16 = 1 << 3;
}

/// `ofp_meter_band_type` numbers (OF1.3.5 §7.3.4.4).
pub mod meter_band_type {
    /// Drop packets over the rate.
    pub const DROP: u16 = 1;
    /// Remark the DSCP drop precedence of packets over the rate.
    pub const DSCP_REMARK: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

open_enum! {
    /// `ofp_meter_mod_command` (OF1.3.5 §7.3.4.4).
    pub enum MeterModCommand: u16 {
        Add = 0,
        Modify = 1,
        Delete = 2,
    }
}

/// One meter band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MeterBand {
    Drop {
        rate: u32,
        burst_size: u32,
    },
    DscpRemark {
        rate: u32,
        burst_size: u32,
        prec_level: u8,
    },
    /// `data` is everything after the 16-byte band header (rate, burst, experimenter id).
    Experimenter {
        rate: u32,
        burst_size: u32,
        experimenter: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// `body` is everything after the 12-byte type/len/rate/burst prefix.
    Unknown {
        band_type: u16,
        rate: u32,
        burst_size: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

impl MeterBand {
    /// Size of the common band prefix (`ofp_meter_band_header`: type, len, rate, burst_size).
    pub const PREFIX_SIZE: usize = 12;
    /// Size of the drop, DSCP-remark and experimenter band structures.
    pub const SIZE: usize = 16;

    /// The band's `type` number (see [`meter_band_type`]).
    pub fn band_type(&self) -> u16 {
        match self {
            MeterBand::Drop { .. } => meter_band_type::DROP,
            MeterBand::DscpRemark { .. } => meter_band_type::DSCP_REMARK,
            MeterBand::Experimenter { .. } => meter_band_type::EXPERIMENTER,
            MeterBand::Unknown { band_type, .. } => *band_type,
        }
    }

    /// The rate above which the band applies, in the meter's unit (kb/s or packets/s).
    pub fn rate(&self) -> u32 {
        match self {
            MeterBand::Drop { rate, .. }
            | MeterBand::DscpRemark { rate, .. }
            | MeterBand::Experimenter { rate, .. }
            | MeterBand::Unknown { rate, .. } => *rate,
        }
    }

    /// The burst size, in the meter's unit (kilobits or packets); used with `meter_flags::BURST`.
    pub fn burst_size(&self) -> u32 {
        match self {
            MeterBand::Drop { burst_size, .. }
            | MeterBand::DscpRemark { burst_size, .. }
            | MeterBand::Experimenter { burst_size, .. }
            | MeterBand::Unknown { burst_size, .. } => *burst_size,
        }
    }

    /// Parses one band, bounded by its own `len` field.
    fn parse(input: &[u8]) -> PResult<'_, MeterBand> {
        let (i, band_type) = field("meter_band.type", be_u16)(input)?;
        let (_, len) = field("meter_band.len", be_u16)(i)?;
        let min = match band_type {
            meter_band_type::DROP | meter_band_type::DSCP_REMARK | meter_band_type::EXPERIMENTER => {
                Self::SIZE
            }
            _ => Self::PREFIX_SIZE,
        };
        let len = check_tlv_len(input, usize::from(len), min, "meter_band.len")?;
        within(input, len, "meter_band", |i| {
            let (i, ()) = pad(i, 4)?; // type and len, read above
            let (i, rate) = field("meter_band.rate", be_u32)(i)?;
            let (i, burst_size) = field("meter_band.burst_size", be_u32)(i)?;
            match band_type {
                meter_band_type::DROP => {
                    let (i, ()) = pad(i, 4)?;
                    Ok((i, MeterBand::Drop { rate, burst_size }))
                }
                meter_band_type::DSCP_REMARK => {
                    let (i, prec_level) = field("meter_band.prec_level", be_u8)(i)?;
                    let (i, ()) = pad(i, 3)?;
                    Ok((i, MeterBand::DscpRemark { rate, burst_size, prec_level }))
                }
                meter_band_type::EXPERIMENTER => {
                    let (i, experimenter) = field("meter_band.experimenter", be_u32)(i)?;
                    let data = Bytes::copy_from_slice(i);
                    Ok((&i[i.len()..], MeterBand::Experimenter { rate, burst_size, experimenter, data }))
                }
                _ => {
                    let body = Bytes::copy_from_slice(i);
                    Ok((&i[i.len()..], MeterBand::Unknown { band_type, rate, burst_size, body }))
                }
            }
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u16(self.band_type());
        let len = LenPatch::u16(buf, start);
        buf.put_u32(self.rate());
        buf.put_u32(self.burst_size());
        match self {
            MeterBand::Drop { .. } => put_zeros(buf, 4),
            MeterBand::DscpRemark { prec_level, .. } => {
                buf.put_u8(*prec_level);
                put_zeros(buf, 3);
            }
            MeterBand::Experimenter { experimenter, data, .. } => {
                buf.put_u32(*experimenter);
                buf.put_slice(data);
            }
            MeterBand::Unknown { body, .. } => buf.put_slice(body),
        }
        len.finish(buf);
    }

    /// Parses bands until `input` is exhausted.
    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<MeterBand>> {
        many_until_empty(input, MeterBand::parse)
    }

    pub(crate) fn emit_list(bands: &[MeterBand], buf: &mut BytesMut) {
        for band in bands {
            band.emit(buf);
        }
    }
}

/// METER_MOD (OF1.3.5 §7.3.4.4): add, modify or delete a meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterMod {
    pub command: MeterModCommand,
    /// `meter_flags` bits.
    pub flags: u16,
    /// The meter (see [`meter_id`]).
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    /// Size of the fixed part of the body (command, flags, meter_id).
    pub const BODY_HEADER_SIZE: usize = 8;

    /// A METER_MOD that adds meter `meter_id`.
    pub fn add(meter_id: u32, flags: u16, bands: Vec<MeterBand>) -> MeterMod {
        MeterMod { command: MeterModCommand::Add, flags, meter_id, bands }
    }

    /// A METER_MOD that deletes meter `meter_id` (`meter_id::ALL` for every meter).
    pub fn delete(meter_id: u32) -> MeterMod {
        MeterMod { command: MeterModCommand::Delete, flags: 0, meter_id, bands: Vec::new() }
    }
}

impl Body for MeterMod {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (i, command) = field("command", be_u16)(input)?;
        let (i, flags) = field("flags", be_u16)(i)?;
        let (i, meter_id) = field("meter_id", be_u32)(i)?;
        let (i, bands) = MeterBand::parse_list(i)?;
        Ok((i, MeterMod { command: MeterModCommand::from(command), flags, meter_id, bands }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u16(self.command.value());
        buf.put_u16(self.flags);
        buf.put_u32(self.meter_id);
        MeterBand::emit_list(&self.bands, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;

    /// METER_MOD ADD meter 100, flags KBPS|BURST|STATS, one band of each known type; the experimenter
    /// band (id 999) carries 8 bytes of data.
    static METER_MOD: [u8; 72] = [
        0x04, 0x1d, 0x00, 0x48, 0x00, 0x00, 0x00, 0x03, // header, xid 3
        0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x64, // ADD, flags 0x0d, meter 100
        0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x03, 0xe8, // DROP len 16 rate 1000
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, // burst 10, pad
        0x00, 0x02, 0x00, 0x10, 0x00, 0x00, 0x07, 0xd0, // DSCP_REMARK len 16 rate 2000
        0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00, // burst 20, prec_level 2, pad
        0xff, 0xff, 0x00, 0x18, 0x00, 0x00, 0x0b, 0xb8, // EXPERIMENTER len 24 rate 3000
        0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x03, 0xe7, // burst 30, experimenter 999
        0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, // experimenter data
    ];

    fn meter_mod() -> MeterMod {
        MeterMod::add(
            100,
            meter_flags::KBPS | meter_flags::BURST | meter_flags::STATS,
            vec![
                MeterBand::Drop { rate: 1000, burst_size: 10 },
                MeterBand::DscpRemark { rate: 2000, burst_size: 20, prec_level: 2 },
                MeterBand::Experimenter {
                    rate: 3000,
                    burst_size: 30,
                    experimenter: 999,
                    data: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]),
                },
            ],
        )
    }

    #[test]
    fn test_parse() {
        let (header, msg) = Message::decode(&Bytes::from_static(&METER_MOD)).unwrap();
        assert_eq!(header.xid, 3);
        assert_eq!(msg, Message::MeterMod(meter_mod()));
    }

    #[test]
    fn test_emit() {
        assert_eq!(&Message::MeterMod(meter_mod()).to_bytes(3)[..], &METER_MOD[..]);
    }

    #[test]
    fn ryu_meter_mod() {
        // Ryu's 4-45 and libofproto METER_MOD: meter 100, flags PKTPS|BURST|STATS, rate 1000 burst 10.
        let drop = MeterBand::Drop { rate: 1000, burst_size: 10 };
        let dscp = MeterBand::DscpRemark { rate: 1000, burst_size: 10, prec_level: 1 };
        let exp =
            MeterBand::Experimenter { rate: 1000, burst_size: 10, experimenter: 999, data: Bytes::new() };
        let flags = meter_flags::PKTPS | meter_flags::BURST | meter_flags::STATS;
        let cases: [(&'static [u8], Vec<MeterBand>); 2] = [
            (
                include_bytes!("../tests/data/ryu-of13/packet/4-45-ofp_meter_mod.packet"),
                vec![drop.clone(), dscp.clone(), exp],
            ),
            (
                include_bytes!("../tests/data/ryu-of13/packet/libofproto-OFP13-meter_mod.packet"),
                vec![drop, dscp],
            ),
        ];
        for (raw, bands) in cases {
            let frame = Bytes::from_static(raw);
            let (header, msg) = Message::decode(&frame).unwrap();
            assert_eq!(msg, Message::MeterMod(MeterMod::add(100, flags, bands)));
            assert_eq!(msg.to_bytes(header.xid), frame);
        }
    }

    #[test]
    fn unknown_band_round_trips() {
        // Band type 7, len 16: rate 5, burst 6, 4-byte body.
        let band = [0x00, 0x07, 0x00, 0x10, 0, 0, 0, 5, 0, 0, 0, 6, 0xaa, 0xbb, 0xcc, 0xdd];
        let (rest, bands) = MeterBand::parse_list(&band).unwrap();
        assert!(rest.is_empty());
        let expected = MeterBand::Unknown {
            band_type: 7,
            rate: 5,
            burst_size: 6,
            body: Bytes::from_static(&[0xaa, 0xbb, 0xcc, 0xdd]),
        };
        assert_eq!(bands, vec![expected]);
        let mut buf = BytesMut::new();
        MeterBand::emit_list(&bands, &mut buf);
        assert_eq!(&buf[..], &band[..]);
        assert_eq!((bands[0].band_type(), bands[0].rate(), bands[0].burst_size()), (7, 5, 6));
    }

    #[test]
    fn delete_all_has_no_bands() {
        let frame = Message::MeterMod(MeterMod::delete(meter_id::ALL)).to_bytes(1);
        assert_eq!(&frame[..], &[4, 0x1d, 0, 16, 0, 0, 0, 1, 0, 2, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let (_, msg) = Message::decode(&frame).unwrap();
        assert_eq!(msg, Message::MeterMod(MeterMod::delete(meter_id::ALL)));
    }

    #[test]
    fn drop_band_shorter_than_16_is_rejected() {
        let mut frame = METER_MOD;
        frame[19] = 12; // DROP len 12: long enough for the prefix, too short for ofp_meter_band_drop
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!((err.field, err.offset), ("meter_band.len", 16));
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 12 });
    }

    #[test]
    fn drop_band_longer_than_16_is_rejected() {
        let mut frame = METER_MOD;
        frame[19] = 24; // DROP len 24 swallows half the DSCP band
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!(err.field, "meter_band");
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 8 });
        assert_eq!(err.offset, 32);
    }

    #[test]
    fn band_past_the_end_is_truncated() {
        let mut frame = METER_MOD;
        frame[51] = 0x20; // experimenter band claims 32 bytes, 24 remain
        let err = Message::decode(&Bytes::copy_from_slice(&frame)).unwrap_err();
        assert_eq!((err.field, err.offset), ("meter_band.len", 48));
        assert!(err.is_truncation());
    }

    #[test]
    fn every_truncation_is_an_error() {
        // Cutting the message anywhere inside a band must fail (never panic, never silently succeed).
        for len in 8..METER_MOD.len() {
            let mut frame = METER_MOD[..len].to_vec();
            frame[3] = len as u8;
            let at_band_boundary = len == 16 || len == 32 || len == 48;
            match Message::decode(&Bytes::from(frame)) {
                Ok((_, Message::MeterMod(mm))) => {
                    assert!(at_band_boundary, "len {len} decoded");
                    assert_eq!(mm.bands.len(), (len - 16) / 16);
                }
                Ok((_, other)) => panic!("len {len}: {other:?}"),
                Err(err) => assert!(!at_band_boundary, "len {len}: {err}"),
            }
        }
    }
}
