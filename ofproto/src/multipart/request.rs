//! The MULTIPART_REQUEST body (`ofp_multipart_request`, OF1.3.5 §7.3.5): what the controller asks
//! for, and constructors for the requests a controller sends routinely.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u32, be_u64};
use serde::Serialize;

use super::table_features::TableFeatures;
use super::{MultipartType, multipart_request_flags, parse_multipart_header};
use crate::codec::{Body, PResult, field, pad, put_zeros, share, take_exact, within};
use crate::oxm::Match;
use crate::types::{PortNo, TABLE_ALL, group_id};

/// A MULTIPART_REQUEST: `flags` holds [`multipart_request_flags`] bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartRequest {
    pub flags: u16,
    pub body: MultipartRequestBody,
}

/// The request body, one variant per `ofp_multipart_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MultipartRequestBody {
    /// Switch description (§7.3.5.1).
    Desc,
    /// Individual flow statistics (§7.3.5.2).
    Flow(FlowStatsRequest),
    /// Aggregate flow statistics (§7.3.5.3).
    Aggregate(FlowStatsRequest),
    /// Flow table statistics (§7.3.5.4).
    Table,
    /// Port statistics (§7.3.5.6); `PortNo::ANY` for all ports.
    PortStats { port_no: PortNo },
    /// Queue statistics (§7.3.5.8); `PortNo::ANY` / `OFPQ_ALL` (0xffffffff) for all.
    Queue { port_no: PortNo, queue_id: u32 },
    /// Group statistics (§7.3.5.9); `group_id::ALL` for all groups.
    Group { group_id: u32 },
    /// Group descriptions (§7.3.5.11).
    GroupDesc,
    /// Group features (§7.3.5.12).
    GroupFeatures,
    /// Meter statistics (§7.3.5.12); `meter_id::ALL` for all meters.
    Meter { meter_id: u32 },
    /// Meter configuration (§7.3.5.13).
    MeterConfig { meter_id: u32 },
    /// Meter features (§7.3.5.14).
    MeterFeatures,
    /// Table features (§7.3.5.5): empty to query, non-empty to set the pipeline.
    TableFeatures(Vec<TableFeatures>),
    /// Port descriptions (§7.3.5.7).
    PortDesc,
    /// Experimenter request (§7.3.5.16); `data` shares the frame's memory.
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// A multipart type this library has no name for; the body is kept as is.
    Unknown {
        mp_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

/// `ofp_flow_stats_request` / `ofp_aggregate_stats_request` (§7.3.5.2, §7.3.5.3): which flows to
/// report. `cookie_mask` 0 means any cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStatsRequest {
    pub table_id: u8,
    pub out_port: PortNo,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub r#match: Match,
}

impl FlowStatsRequest {
    /// Size of the fixed part before `ofp_match`.
    pub const FIXED_SIZE: usize = 32;

    /// Every flow of every table: table ALL, out_port ANY, out_group ANY, any cookie, empty match.
    pub fn all() -> Self {
        FlowStatsRequest {
            table_id: TABLE_ALL,
            out_port: PortNo::ANY,
            out_group: group_id::ANY,
            cookie: 0,
            cookie_mask: 0,
            r#match: Match::default(),
        }
    }

    fn parse(input: &[u8]) -> PResult<'_, FlowStatsRequest> {
        let (i, table_id) = field("flow_stats_request.table_id", be_u8)(input)?;
        let (i, ()) = pad(i, 3)?;
        let (i, out_port) = field("flow_stats_request.out_port", be_u32)(i)?;
        let (i, out_group) = field("flow_stats_request.out_group", be_u32)(i)?;
        let (i, ()) = pad(i, 4)?;
        let (i, cookie) = field("flow_stats_request.cookie", be_u64)(i)?;
        let (i, cookie_mask) = field("flow_stats_request.cookie_mask", be_u64)(i)?;
        let (i, r#match) = Match::parse(i)?;
        Ok((
            i,
            FlowStatsRequest {
                table_id,
                out_port: PortNo(out_port),
                out_group,
                cookie,
                cookie_mask,
                r#match,
            },
        ))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u8(self.table_id);
        put_zeros(buf, 3);
        buf.put_u32(self.out_port.0);
        buf.put_u32(self.out_group);
        put_zeros(buf, 4);
        buf.put_u64(self.cookie);
        buf.put_u64(self.cookie_mask);
        self.r#match.emit(buf);
    }
}

impl MultipartRequestBody {
    /// The `ofp_multipart_type` this body is sent as.
    pub fn mp_type(&self) -> MultipartType {
        match self {
            Self::Desc => MultipartType::Desc,
            Self::Flow(_) => MultipartType::Flow,
            Self::Aggregate(_) => MultipartType::Aggregate,
            Self::Table => MultipartType::Table,
            Self::PortStats { .. } => MultipartType::PortStats,
            Self::Queue { .. } => MultipartType::Queue,
            Self::Group { .. } => MultipartType::Group,
            Self::GroupDesc => MultipartType::GroupDesc,
            Self::GroupFeatures => MultipartType::GroupFeatures,
            Self::Meter { .. } => MultipartType::Meter,
            Self::MeterConfig { .. } => MultipartType::MeterConfig,
            Self::MeterFeatures => MultipartType::MeterFeatures,
            Self::TableFeatures(_) => MultipartType::TableFeatures,
            Self::PortDesc => MultipartType::PortDesc,
            Self::Experimenter { .. } => MultipartType::Experimenter,
            Self::Unknown { mp_type, .. } => MultipartType::from(*mp_type),
        }
    }

    /// Parses the body of type `mp_type`; `input` is exactly the body.
    fn parse<'a>(mp_type: MultipartType, input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        use MultipartType as T;
        let id_and_pad = |i: &'a [u8], name| -> PResult<'a, u32> {
            let (i, id) = field(name, be_u32)(i)?;
            let (i, ()) = pad(i, 4)?;
            Ok((i, id))
        };
        Ok(match mp_type {
            T::Desc => (input, Self::Desc),
            T::Table => (input, Self::Table),
            T::GroupDesc => (input, Self::GroupDesc),
            T::GroupFeatures => (input, Self::GroupFeatures),
            T::MeterFeatures => (input, Self::MeterFeatures),
            T::PortDesc => (input, Self::PortDesc),
            T::Flow => {
                let (i, request) = FlowStatsRequest::parse(input)?;
                (i, Self::Flow(request))
            }
            T::Aggregate => {
                let (i, request) = FlowStatsRequest::parse(input)?;
                (i, Self::Aggregate(request))
            }
            T::PortStats => {
                let (i, port_no) = id_and_pad(input, "port_stats_request.port_no")?;
                (i, Self::PortStats { port_no: PortNo(port_no) })
            }
            T::Queue => {
                let (i, port_no) = field("queue_stats_request.port_no", be_u32)(input)?;
                let (i, queue_id) = field("queue_stats_request.queue_id", be_u32)(i)?;
                (i, Self::Queue { port_no: PortNo(port_no), queue_id })
            }
            T::Group => {
                let (i, group_id) = id_and_pad(input, "group_stats_request.group_id")?;
                (i, Self::Group { group_id })
            }
            T::Meter => {
                let (i, meter_id) = id_and_pad(input, "meter_multipart_request.meter_id")?;
                (i, Self::Meter { meter_id })
            }
            T::MeterConfig => {
                let (i, meter_id) = id_and_pad(input, "meter_multipart_request.meter_id")?;
                (i, Self::MeterConfig { meter_id })
            }
            T::TableFeatures => {
                let (i, features) = TableFeatures::parse_list(input)?;
                (i, Self::TableFeatures(features))
            }
            T::Experimenter => {
                let (i, experimenter) = field("experimenter_multipart.experimenter", be_u32)(input)?;
                let (i, exp_type) = field("experimenter_multipart.exp_type", be_u32)(i)?;
                let (rest, data) = take_exact(i, i.len(), "experimenter_multipart.data")?;
                (rest, Self::Experimenter { experimenter, exp_type, data: share(src, data) })
            }
            T::Unknown(mp_type) => {
                let (rest, body) = take_exact(input, input.len(), "multipart_request.body")?;
                (rest, Self::Unknown { mp_type, body: share(src, body) })
            }
        })
    }

    fn emit(&self, buf: &mut BytesMut) {
        let id_and_pad = |buf: &mut BytesMut, id: u32| {
            buf.put_u32(id);
            put_zeros(buf, 4);
        };
        match self {
            Self::Desc
            | Self::Table
            | Self::GroupDesc
            | Self::GroupFeatures
            | Self::MeterFeatures
            | Self::PortDesc => {}
            Self::Flow(request) | Self::Aggregate(request) => request.emit(buf),
            Self::PortStats { port_no } => id_and_pad(buf, port_no.0),
            Self::Queue { port_no, queue_id } => {
                buf.put_u32(port_no.0);
                buf.put_u32(*queue_id);
            }
            Self::Group { group_id } => id_and_pad(buf, *group_id),
            Self::Meter { meter_id } | Self::MeterConfig { meter_id } => id_and_pad(buf, *meter_id),
            Self::TableFeatures(features) => features.iter().for_each(|f| f.emit(buf)),
            Self::Experimenter { experimenter, exp_type, data } => {
                buf.put_u32(*experimenter);
                buf.put_u32(*exp_type);
                buf.put_slice(data);
            }
            Self::Unknown { body, .. } => buf.put_slice(body),
        }
    }
}

impl MultipartRequest {
    /// A single-part request (no `REQ_MORE`).
    pub fn new(body: MultipartRequestBody) -> Self {
        MultipartRequest { flags: 0, body }
    }

    /// DESC: the switch's manufacturer, hardware, software, serial number and datapath description.
    pub fn desc() -> Self {
        Self::new(MultipartRequestBody::Desc)
    }

    /// PORT_DESC: every port's `ofp_port`.
    pub fn port_desc() -> Self {
        Self::new(MultipartRequestBody::PortDesc)
    }

    /// FLOW: per-flow statistics for the flows `request` selects (e.g. [`FlowStatsRequest::all`]).
    pub fn flow(request: FlowStatsRequest) -> Self {
        Self::new(MultipartRequestBody::Flow(request))
    }

    /// AGGREGATE: totals over the flows `request` selects.
    pub fn aggregate(request: FlowStatsRequest) -> Self {
        Self::new(MultipartRequestBody::Aggregate(request))
    }

    /// PORT_STATS for `port_no` (`PortNo::ANY` for every port).
    pub fn port_stats(port_no: PortNo) -> Self {
        Self::new(MultipartRequestBody::PortStats { port_no })
    }

    /// TABLE: per-table statistics.
    pub fn table() -> Self {
        Self::new(MultipartRequestBody::Table)
    }

    /// GROUP_DESC: every group's type and buckets.
    pub fn group_desc() -> Self {
        Self::new(MultipartRequestBody::GroupDesc)
    }

    /// TABLE_FEATURES query (empty body: report, don't change, the pipeline).
    pub fn table_features() -> Self {
        Self::new(MultipartRequestBody::TableFeatures(Vec::new()))
    }

    /// True when `REQ_MORE` is set: more request parts follow.
    pub fn is_more(&self) -> bool {
        self.flags & multipart_request_flags::REQ_MORE != 0
    }
}

impl Body for MultipartRequest {
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self> {
        let (body, (mp_type, flags)) = parse_multipart_header(input)?;
        let mp_type = MultipartType::from(mp_type);
        let (rest, body) = within(body, body.len(), "multipart_request.body", |i| {
            MultipartRequestBody::parse(mp_type, i, src)
        })?;
        Ok((rest, MultipartRequest { flags, body }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u16(self.body.mp_type().value());
        buf.put_u16(self.flags);
        put_zeros(buf, 4);
        self.body.emit(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::multipart::test_util::{frame, round_trip};
    use crate::multipart::{InstructionId, InstructionType, TableFeatureProp};
    use crate::oxm::Oxm;
    use crate::types::FixedStr;
    use crate::{Message, Message::MultipartRequest as Req};

    /// Parses `wire`, checks it equals `expected`, and that `expected` encodes to `wire`.
    fn check(wire: &str, expected: MultipartRequest) {
        assert_eq!(round_trip(wire), Req(expected.clone()));
        assert_eq!(hex::encode(Req(expected).to_bytes(1)), hex::encode(frame(wire)));
    }

    #[test]
    fn body_less_requests() {
        check("0412 0010 00000001 0000 0000 00000000", MultipartRequest::desc());
        check("0412 0010 00000001 0003 0000 00000000", MultipartRequest::table());
        check("0412 0010 00000001 0007 0000 00000000", MultipartRequest::group_desc());
        check(
            "0412 0010 00000001 0008 0000 00000000",
            MultipartRequest::new(MultipartRequestBody::GroupFeatures),
        );
        check(
            "0412 0010 00000001 000b 0000 00000000",
            MultipartRequest::new(MultipartRequestBody::MeterFeatures),
        );
        check("0412 0010 00000001 000c 0000 00000000", MultipartRequest::table_features());
        check("0412 0010 00000001 000d 0000 00000000", MultipartRequest::port_desc());
    }

    #[test]
    fn flow_and_aggregate_requests() {
        check(
            "0412 0038 00000001 0001 0000 00000000
             ff 000000 ffffffff ffffffff 00000000 0000000000000000 0000000000000000
             0001 0004 00000000",
            MultipartRequest::flow(FlowStatsRequest::all()),
        );
        let request = FlowStatsRequest {
            table_id: 2,
            out_port: PortNo(3),
            out_group: 4,
            cookie: 0x1122,
            cookie_mask: u64::MAX,
            r#match: Match { fields: vec![Oxm::EthType(0x0800)] },
        };
        check(
            "0412 0040 00000001 0002 0000 00000000
             02 000000 00000003 00000004 00000000 0000000000001122 ffffffffffffffff
             0001 000a 80000a02 0800 000000000000",
            MultipartRequest::aggregate(request),
        );
    }

    #[test]
    fn id_requests() {
        check(
            "0412 0018 00000001 0004 0000 00000000 ffffffff 00000000",
            MultipartRequest::port_stats(PortNo::ANY),
        );
        check(
            "0412 0018 00000001 0005 0000 00000000 00000001 ffffffff",
            MultipartRequest::new(MultipartRequestBody::Queue { port_no: PortNo(1), queue_id: u32::MAX }),
        );
        check(
            "0412 0018 00000001 0006 0000 00000000 fffffffc 00000000",
            MultipartRequest::new(MultipartRequestBody::Group { group_id: group_id::ALL }),
        );
        check(
            "0412 0018 00000001 0009 0000 00000000 00000005 00000000",
            MultipartRequest::new(MultipartRequestBody::Meter { meter_id: 5 }),
        );
        check(
            "0412 0018 00000001 000a 0000 00000000 ffffffff 00000000",
            MultipartRequest::new(MultipartRequestBody::MeterConfig { meter_id: u32::MAX }),
        );
    }

    #[test]
    fn table_features_request_with_more_flag() {
        let features = TableFeatures {
            table_id: 0,
            name: FixedStr::new("t0"),
            metadata_match: 0,
            metadata_write: 0,
            config: 0,
            max_entries: 16,
            properties: vec![TableFeatureProp::Instructions {
                miss: false,
                ids: vec![InstructionId::new(InstructionType::ClearActions)],
            }],
        };
        let request = MultipartRequest {
            flags: multipart_request_flags::REQ_MORE,
            body: MultipartRequestBody::TableFeatures(vec![features]),
        };
        assert!(request.is_more());
        check(
            "0412 0058 00000001 000c 0001 00000000
             0048 00 0000000000 7430000000000000000000000000000000000000000000000000000000000000
             0000000000000000 0000000000000000 00000000 00000010
             0000 0008 0005 0004",
            request,
        );
    }

    #[test]
    fn experimenter_and_unknown_requests_share_the_frame() {
        let wire = "0412 0020 00000001 ffff 0000 00000000 deadbeaf cafe8888 686f6765686f6765";
        let msg = round_trip(wire);
        let Req(MultipartRequest {
            body: MultipartRequestBody::Experimenter { experimenter, exp_type, data },
            ..
        }) = &msg
        else {
            panic!("{msg:?}")
        };
        assert_eq!((*experimenter, *exp_type, &data[..]), (0xdead_beaf, 0xcafe_8888, &b"hogehoge"[..]));
        let msg = round_trip("0412 0014 00000001 0042 0000 00000000 abcd 0102");
        assert_eq!(
            msg,
            Req(MultipartRequest::new(MultipartRequestBody::Unknown {
                mp_type: 0x42,
                body: Bytes::from_static(&[0xab, 0xcd, 1, 2])
            }))
        );
        // Zero-copy: the payload points into the decoded frame.
        let bytes = frame(wire);
        let (_, Req(MultipartRequest { body: MultipartRequestBody::Experimenter { data, .. }, .. })) =
            Message::decode(&bytes).unwrap()
        else {
            panic!()
        };
        assert_eq!(data.as_ptr(), bytes[24..].as_ptr());
    }

    #[test]
    fn malformed_requests_are_located() {
        // PORT_STATS request cut after the port number: the padding is missing.
        let err = Message::decode(&frame("0412 0014 00000001 0004 0000 00000000 ffffffff")).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("pad", 20, DecodeErrorKind::Truncated));
        // A DESC request with a body.
        let err = Message::decode(&frame("0412 0014 00000001 0000 0000 00000000 00000000")).unwrap_err();
        assert_eq!(
            (err.field, err.offset, err.kind),
            ("multipart_request.body", 16, DecodeErrorKind::TrailingBytes { count: 4 })
        );
        // Multipart header itself truncated.
        let err = Message::decode(&frame("0412 000c 00000001 0000 0000")).unwrap_err();
        assert_eq!((err.field, err.offset, err.kind), ("multipart.pad", 12, DecodeErrorKind::Truncated));
    }
}
