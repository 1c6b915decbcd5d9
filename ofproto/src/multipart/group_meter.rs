//! Group and meter statistics, descriptions and features (OF1.3.5 §7.3.5.9–§7.3.5.15).

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u64};
use serde::Serialize;

use super::length_prefixed_list;
use crate::codec::{LenPatch, PResult, bad_length, field, pad, put_zeros};
use crate::group::{Bucket, GroupType};
use crate::meter::MeterBand;

/// `ofp_bucket_counter` (§7.3.5.10): per-bucket counters in a GROUP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BucketCounter {
    pub packet_count: u64,
    pub byte_count: u64,
}

/// `ofp_meter_band_stats` (§7.3.5.12): per-band counters in a METER reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MeterBandStats {
    pub packet_band_count: u64,
    pub byte_band_count: u64,
}

/// Size of `ofp_bucket_counter` and of `ofp_meter_band_stats` (two 64-bit counters).
const COUNTER_PAIR_SIZE: usize = 16;

/// Parses the trailing array of 16-byte counter pairs that fills `input`; a length that is not a
/// multiple of 16 is a bad length of the enclosing entry.
fn counter_pairs<'a, T>(
    input: &'a [u8],
    name: &'static str,
    make: impl Fn(u64, u64) -> T,
) -> PResult<'a, Vec<T>> {
    if !input.len().is_multiple_of(COUNTER_PAIR_SIZE) {
        return Err(bad_length(input, name, input.len()));
    }
    let mut out = Vec::with_capacity(input.len() / COUNTER_PAIR_SIZE);
    let mut rest = input;
    while !rest.is_empty() {
        let (i, packets) = field(name, be_u64)(rest)?;
        let (i, bytes) = field(name, be_u64)(i)?;
        out.push(make(packets, bytes));
        rest = i;
    }
    Ok((rest, out))
}

/// `ofp_group_stats` (§7.3.5.10): one group's counters in a GROUP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStats {
    pub group_id: u32,
    /// Number of flows or groups that forward to this group.
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// One entry per bucket, in bucket order.
    pub bucket_stats: Vec<BucketCounter>,
}

impl GroupStats {
    /// Size of the fixed part before `bucket_stats`.
    pub const FIXED_SIZE: usize = 40;

    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<GroupStats>> {
        length_prefixed_list(input, 0, Self::FIXED_SIZE, "group_stats.length", |i| {
            let (i, _length) = field("group_stats.length", be_u16)(i)?;
            let (i, ()) = pad(i, 2)?;
            let (i, group_id) = field("group_stats.group_id", be_u32)(i)?;
            let (i, ref_count) = field("group_stats.ref_count", be_u32)(i)?;
            let (i, ()) = pad(i, 4)?;
            let (i, packet_count) = field("group_stats.packet_count", be_u64)(i)?;
            let (i, byte_count) = field("group_stats.byte_count", be_u64)(i)?;
            let (i, duration_sec) = field("group_stats.duration_sec", be_u32)(i)?;
            let (i, duration_nsec) = field("group_stats.duration_nsec", be_u32)(i)?;
            let (i, bucket_stats) =
                counter_pairs(i, "group_stats.bucket_stats", |packet_count, byte_count| BucketCounter {
                    packet_count,
                    byte_count,
                })?;
            let stats = GroupStats {
                group_id,
                ref_count,
                packet_count,
                byte_count,
                duration_sec,
                duration_nsec,
                bucket_stats,
            };
            Ok((i, stats))
        })
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let length = LenPatch::u16(buf, start);
        put_zeros(buf, 2);
        buf.put_u32(self.group_id);
        buf.put_u32(self.ref_count);
        put_zeros(buf, 4);
        buf.put_u64(self.packet_count);
        buf.put_u64(self.byte_count);
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
        for counter in &self.bucket_stats {
            buf.put_u64(counter.packet_count);
            buf.put_u64(counter.byte_count);
        }
        length.finish(buf);
    }
}

/// `ofp_group_desc` (§7.3.5.11): one group's configuration in a GROUP_DESC reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDesc {
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupDesc {
    /// Size of the fixed part before the buckets.
    pub const FIXED_SIZE: usize = 8;

    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<GroupDesc>> {
        length_prefixed_list(input, 0, Self::FIXED_SIZE, "group_desc.length", |i| {
            let (i, _length) = field("group_desc.length", be_u16)(i)?;
            let (i, group_type) = field("group_desc.type", be_u8)(i)?;
            let (i, ()) = pad(i, 1)?;
            let (i, group_id) = field("group_desc.group_id", be_u32)(i)?;
            let (i, buckets) = Bucket::parse_list(i)?;
            Ok((i, GroupDesc { group_type: GroupType::from(group_type), group_id, buckets }))
        })
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let length = LenPatch::u16(buf, start);
        buf.put_u8(self.group_type.value());
        put_zeros(buf, 1);
        buf.put_u32(self.group_id);
        Bucket::emit_list(&self.buckets, buf);
        length.finish(buf);
    }
}

/// `ofp_group_capabilities` bits (§7.3.5.12).
pub mod group_capabilities {
    /// Support weight for select groups.
    pub const SELECT_WEIGHT: u32 = 1 << 0;
    /// Support liveness for select groups.
    pub const SELECT_LIVENESS: u32 = 1 << 1;
    /// Support chaining groups.
    pub const CHAINING: u32 = 1 << 2;
    /// Check chaining for loops and delete.
    pub const CHAINING_CHECKS: u32 = 1 << 3;
}

/// `ofp_group_features` (§7.3.5.12): the GROUP_FEATURES reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupFeatures {
    /// Bitmap of supported group types: bit `n` set means `GroupType` value `n` is supported.
    pub types: u32,
    /// [`group_capabilities`] bits.
    pub capabilities: u32,
    /// Maximum number of groups for each type, indexed by `GroupType` value.
    pub max_groups: [u32; 4],
    /// Bitmaps of supported action types for each group type: bit `n` means action type `n`.
    pub actions: [u32; 4],
}

impl GroupFeatures {
    pub const SIZE: usize = 40;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, GroupFeatures> {
        let (mut i, types) = field("group_features.types", be_u32)(input)?;
        let (rest, capabilities) = field("group_features.capabilities", be_u32)(i)?;
        i = rest;
        let mut max_groups = [0u32; 4];
        for slot in &mut max_groups {
            let (rest, value) = field("group_features.max_groups", be_u32)(i)?;
            *slot = value;
            i = rest;
        }
        let mut actions = [0u32; 4];
        for slot in &mut actions {
            let (rest, value) = field("group_features.actions", be_u32)(i)?;
            *slot = value;
            i = rest;
        }
        Ok((i, GroupFeatures { types, capabilities, max_groups, actions }))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.types);
        buf.put_u32(self.capabilities);
        for value in self.max_groups.iter().chain(&self.actions) {
            buf.put_u32(*value);
        }
    }
}

/// `ofp_meter_stats` (§7.3.5.12): one meter's counters in a METER reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterStats {
    pub meter_id: u32,
    /// Number of flows bound to the meter.
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// One entry per band, in band order.
    pub band_stats: Vec<MeterBandStats>,
}

impl MeterStats {
    /// Size of the fixed part before `band_stats`.
    pub const FIXED_SIZE: usize = 40;
    /// Unlike the other entries, the length comes after the 4-byte meter id.
    const LEN_OFFSET: usize = 4;

    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<MeterStats>> {
        length_prefixed_list(input, Self::LEN_OFFSET, Self::FIXED_SIZE, "meter_stats.len", |i| {
            let (i, meter_id) = field("meter_stats.meter_id", be_u32)(i)?;
            let (i, _len) = field("meter_stats.len", be_u16)(i)?;
            let (i, ()) = pad(i, 6)?;
            let (i, flow_count) = field("meter_stats.flow_count", be_u32)(i)?;
            let (i, packet_in_count) = field("meter_stats.packet_in_count", be_u64)(i)?;
            let (i, byte_in_count) = field("meter_stats.byte_in_count", be_u64)(i)?;
            let (i, duration_sec) = field("meter_stats.duration_sec", be_u32)(i)?;
            let (i, duration_nsec) = field("meter_stats.duration_nsec", be_u32)(i)?;
            let (i, band_stats) =
                counter_pairs(i, "meter_stats.band_stats", |packet_band_count, byte_band_count| {
                    MeterBandStats { packet_band_count, byte_band_count }
                })?;
            let stats = MeterStats {
                meter_id,
                flow_count,
                packet_in_count,
                byte_in_count,
                duration_sec,
                duration_nsec,
                band_stats,
            };
            Ok((i, stats))
        })
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u32(self.meter_id);
        let length = LenPatch::u16(buf, start);
        put_zeros(buf, 6);
        buf.put_u32(self.flow_count);
        buf.put_u64(self.packet_in_count);
        buf.put_u64(self.byte_in_count);
        buf.put_u32(self.duration_sec);
        buf.put_u32(self.duration_nsec);
        for band in &self.band_stats {
            buf.put_u64(band.packet_band_count);
            buf.put_u64(band.byte_band_count);
        }
        length.finish(buf);
    }
}

/// `ofp_meter_config` (§7.3.5.13): one meter's configuration in a METER_CONFIG reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterConfig {
    /// `crate::meter::meter_flags` bits.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterConfig {
    /// Size of the fixed part before the bands.
    pub const FIXED_SIZE: usize = 8;

    pub(crate) fn parse_list(input: &[u8]) -> PResult<'_, Vec<MeterConfig>> {
        length_prefixed_list(input, 0, Self::FIXED_SIZE, "meter_config.length", |i| {
            let (i, _length) = field("meter_config.length", be_u16)(i)?;
            let (i, flags) = field("meter_config.flags", be_u16)(i)?;
            let (i, meter_id) = field("meter_config.meter_id", be_u32)(i)?;
            let (i, bands) = MeterBand::parse_list(i)?;
            Ok((i, MeterConfig { flags, meter_id, bands }))
        })
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let length = LenPatch::u16(buf, start);
        buf.put_u16(self.flags);
        buf.put_u32(self.meter_id);
        MeterBand::emit_list(&self.bands, buf);
        length.finish(buf);
    }
}

/// `ofp_meter_features` (§7.3.5.14): the METER_FEATURES reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterFeatures {
    /// Maximum number of meters.
    pub max_meter: u32,
    /// Bitmap of supported band types: bit `n` means band type `n` (`1 << OFPMBT_DROP` ...).
    pub band_types: u32,
    /// Bitmap of supported `crate::meter::meter_flags`.
    pub capabilities: u32,
    /// Maximum bands per meter.
    pub max_bands: u8,
    /// Maximum colour value.
    pub max_color: u8,
}

impl MeterFeatures {
    pub const SIZE: usize = 16;

    pub(crate) fn parse(input: &[u8]) -> PResult<'_, MeterFeatures> {
        let (i, max_meter) = field("meter_features.max_meter", be_u32)(input)?;
        let (i, band_types) = field("meter_features.band_types", be_u32)(i)?;
        let (i, capabilities) = field("meter_features.capabilities", be_u32)(i)?;
        let (i, max_bands) = field("meter_features.max_bands", be_u8)(i)?;
        let (i, max_color) = field("meter_features.max_color", be_u8)(i)?;
        let (i, ()) = pad(i, 2)?;
        Ok((i, MeterFeatures { max_meter, band_types, capabilities, max_bands, max_color }))
    }

    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        buf.put_u32(self.max_meter);
        buf.put_u32(self.band_types);
        buf.put_u32(self.capabilities);
        buf.put_u8(self.max_bands);
        buf.put_u8(self.max_color);
        put_zeros(buf, 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    fn bytes(hex_text: &str) -> Vec<u8> {
        hex::decode(hex_text.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn group_stats_with_bucket_counters() {
        let wire = bytes(
            "0048 0000 00000005 00000002 00000000 0000000000000010 0000000000000400
             0000000a 00000014 0000000000000001 0000000000000002 ffffffffffffffff ffffffffffffffff",
        );
        let (rest, list) = GroupStats::parse_list(&wire).unwrap();
        assert!(rest.is_empty());
        let expected = GroupStats {
            group_id: 5,
            ref_count: 2,
            packet_count: 16,
            byte_count: 1024,
            duration_sec: 10,
            duration_nsec: 20,
            bucket_stats: vec![
                BucketCounter { packet_count: 1, byte_count: 2 },
                BucketCounter { packet_count: u64::MAX, byte_count: u64::MAX },
            ],
        };
        assert_eq!(list, vec![expected.clone()]);
        let mut buf = BytesMut::new();
        expected.emit(&mut buf);
        assert_eq!(buf.to_vec(), wire);
    }

    #[test]
    fn group_stats_with_partial_counter_is_bad_length() {
        // Declared 48: the fixed 40 bytes plus 8 bytes, half a bucket counter.
        let wire = bytes(
            "0030 0000 00000005 00000002 00000000 0000000000000010 0000000000000400 0000000a 00000014 0000000000000001",
        );
        let nom::Err::Error(err) = GroupStats::parse_list(&wire).unwrap_err() else { panic!() };
        assert_eq!(err.field, "group_stats.bucket_stats");
        assert_eq!(err.kind, DecodeErrorKind::BadLength { value: 8 });
    }

    #[test]
    fn meter_stats_length_is_after_meter_id() {
        let wire = bytes(
            "00000064 0038 000000000000 00000003 0000000000000007 0000000000000100 00000001 00000002
             0000000000000005 0000000000000050",
        );
        let (_, list) = MeterStats::parse_list(&wire).unwrap();
        let expected = MeterStats {
            meter_id: 100,
            flow_count: 3,
            packet_in_count: 7,
            byte_in_count: 256,
            duration_sec: 1,
            duration_nsec: 2,
            band_stats: vec![MeterBandStats { packet_band_count: 5, byte_band_count: 80 }],
        };
        assert_eq!(list, vec![expected.clone()]);
        let mut buf = BytesMut::new();
        expected.emit(&mut buf);
        assert_eq!(buf.to_vec(), wire);
        // A length past the end of the body is a truncation blamed on the length field.
        let mut long = wire.clone();
        long[5] = 0x48;
        let nom::Err::Error(err) = MeterStats::parse_list(&long).unwrap_err() else { panic!() };
        assert_eq!((err.field, err.kind, err.remaining), ("meter_stats.len", DecodeErrorKind::Truncated, 52));
    }

    #[test]
    fn group_and_meter_features() {
        let wire = bytes(
            "0000000f 00000005 01000000 01000000 01000000 01000000 03ff9801 03ff9801 03ff9801 03ff9801",
        );
        let (_, features) = GroupFeatures::parse(&wire).unwrap();
        assert_eq!(features.types, 0xf);
        assert_eq!(features.capabilities, group_capabilities::SELECT_WEIGHT | group_capabilities::CHAINING);
        assert_eq!(features.max_groups, [16_777_216; 4]);
        assert_eq!(features.actions, [0x03ff_9801; 4]);
        let mut buf = BytesMut::new();
        features.emit(&mut buf);
        assert_eq!(buf.to_vec(), wire);

        let wire = bytes("01000000 00000006 0000000f ff000000");
        let (_, features) = MeterFeatures::parse(&wire).unwrap();
        let expected = MeterFeatures {
            max_meter: 16_777_216,
            band_types: 6,
            capabilities: 0xf,
            max_bands: 255,
            max_color: 0,
        };
        assert_eq!(features, expected);
        let mut buf = BytesMut::new();
        expected.emit(&mut buf);
        assert_eq!(buf.to_vec(), wire);
    }
}
