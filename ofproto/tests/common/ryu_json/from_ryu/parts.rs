//! Builders for the structures nested in messages: OXM TLVs and matches, actions, instructions,
//! buckets, meter bands, ports, queues.

use bytes::Bytes;
use ofproto::action::Action;
use ofproto::group::Bucket;
use ofproto::instruction::Instruction;
use ofproto::meter::MeterBand;
use ofproto::oxm::{Match, Oxm};
use ofproto::port::Port;
use ofproto::queue::{PacketQueue, QueueProp};
use ofproto::types::{FixedStr, PortNo};
use serde_json::Value;

use super::{Built, Fields, be, data, field, int_of, ipv4_of, ipv6_of, list, mac_of, opt, split, text, uint};

pub fn oxm(v: &Value) -> Built<Oxm> {
    let (class, f) = split(v)?;
    if class != "OXMTlv" {
        return Err(format!("expected OXMTlv, got {class}"));
    }
    let name = text(f, "field")?;
    let (val, mask) = (field(f, "value")?, field(f, "mask")?);
    let port = |v: &Value| int_of::<u32>(v).map(PortNo);
    use Oxm::*;
    Ok(match name {
        "in_port" => InPort(port(val)?),
        "in_phy_port" => InPhyPort(port(val)?),
        "metadata" => Metadata(int_of(val)?, opt(mask, int_of)?),
        "eth_dst" => EthDst(mac_of(val)?, opt(mask, mac_of)?),
        "eth_src" => EthSrc(mac_of(val)?, opt(mask, mac_of)?),
        "eth_type" => EthType(int_of(val)?),
        "vlan_vid" => VlanVid(int_of(val)?, opt(mask, int_of)?),
        "vlan_pcp" => VlanPcp(int_of(val)?),
        "ip_dscp" => IpDscp(int_of(val)?),
        "ip_ecn" => IpEcn(int_of(val)?),
        "ip_proto" => IpProto(int_of(val)?),
        "ipv4_src" => Ipv4Src(ipv4_of(val)?, opt(mask, ipv4_of)?),
        "ipv4_dst" => Ipv4Dst(ipv4_of(val)?, opt(mask, ipv4_of)?),
        "tcp_src" => TcpSrc(int_of(val)?),
        "tcp_dst" => TcpDst(int_of(val)?),
        "udp_src" => UdpSrc(int_of(val)?),
        "udp_dst" => UdpDst(int_of(val)?),
        "sctp_src" => SctpSrc(int_of(val)?),
        "sctp_dst" => SctpDst(int_of(val)?),
        "icmpv4_type" => Icmpv4Type(int_of(val)?),
        "icmpv4_code" => Icmpv4Code(int_of(val)?),
        "arp_op" => ArpOp(int_of(val)?),
        "arp_spa" => ArpSpa(ipv4_of(val)?, opt(mask, ipv4_of)?),
        "arp_tpa" => ArpTpa(ipv4_of(val)?, opt(mask, ipv4_of)?),
        "arp_sha" => ArpSha(mac_of(val)?, opt(mask, mac_of)?),
        "arp_tha" => ArpTha(mac_of(val)?, opt(mask, mac_of)?),
        "ipv6_src" => Ipv6Src(ipv6_of(val)?, opt(mask, ipv6_of)?),
        "ipv6_dst" => Ipv6Dst(ipv6_of(val)?, opt(mask, ipv6_of)?),
        "ipv6_flabel" => Ipv6Flabel(int_of(val)?, opt(mask, int_of)?),
        "icmpv6_type" => Icmpv6Type(int_of(val)?),
        "icmpv6_code" => Icmpv6Code(int_of(val)?),
        "ipv6_nd_target" => Ipv6NdTarget(ipv6_of(val)?),
        "ipv6_nd_sll" => Ipv6NdSll(mac_of(val)?),
        "ipv6_nd_tll" => Ipv6NdTll(mac_of(val)?),
        "mpls_label" => MplsLabel(int_of(val)?),
        "mpls_tc" => MplsTc(int_of(val)?),
        "mpls_bos" => MplsBos(int_of(val)?),
        "pbb_isid" => PbbIsid(int_of(val)?, opt(mask, int_of)?),
        "tunnel_id" => TunnelId(int_of(val)?, opt(mask, int_of)?),
        "ipv6_exthdr" => Ipv6Exthdr(int_of(val)?, opt(mask, int_of)?),
        // ONF EXT-256 pbb_uca in OF1.3: experimenter OXM, ONF id, exp_type 2560, 1-byte value.
        "pbb_uca" => Other {
            class: 0xffff,
            field: 0,
            has_mask: false,
            body: Bytes::from(
                [&0x4f4e_4600u32.to_be_bytes()[..], &2560u16.to_be_bytes(), &[int_of::<u8>(val)?]].concat(),
            ),
        },
        nx => {
            // Nicira NXM class 0x0001 fields (`ryu/ofproto/nicira_ext.py`): (field number, width).
            let (number, width) = match nx {
                "tunnel_id_nxm" => (16, 8),
                "tun_ipv4_src" => (31, 4),
                "tun_ipv4_dst" => (32, 4),
                "pkt_mark" => (33, 4),
                "conj_id" => (37, 4),
                "ct_state" => (105, 4),
                "ct_zone" => (106, 2),
                "ct_mark" => (107, 4),
                reg if reg.starts_with("reg") => {
                    (reg[3..].parse::<u8>().map_err(|_| format!("bad register {reg}"))?, 4)
                }
                other => return Err(format!("OXM field {other} has no builder")),
            };
            let word = |v: &Value| -> Built<u64> {
                match v {
                    Value::String(_) => ipv4_of(v).map(|a| u64::from(u32::from(a))),
                    _ => int_of(v),
                }
            };
            let mut body = be(word(val)?, width);
            if !mask.is_null() {
                body.extend(be(word(mask)?, width));
            }
            Other { class: 0x0001, field: number, has_mask: !mask.is_null(), body: Bytes::from(body) }
        }
    })
}

pub fn r#match(v: &Value) -> Built<Match> {
    let (_, f) = split(v)?;
    Ok(Match { fields: list(f, "oxm_fields")?.iter().map(oxm).collect::<Built<_>>()? })
}

pub fn action(v: &Value) -> Built<Action> {
    let (class, f) = split(v)?;
    Ok(match class {
        "OFPActionOutput" => {
            Action::Output { port: PortNo(num!(f, "port", u32)), max_len: num!(f, "max_len", u16) }
        }
        "OFPActionCopyTtlOut" => Action::CopyTtlOut,
        "OFPActionCopyTtlIn" => Action::CopyTtlIn,
        "OFPActionSetMplsTtl" => Action::SetMplsTtl(num!(f, "mpls_ttl", u8)),
        "OFPActionDecMplsTtl" => Action::DecMplsTtl,
        "OFPActionPushVlan" => Action::PushVlan(num!(f, "ethertype", u16)),
        "OFPActionPopVlan" => Action::PopVlan,
        "OFPActionPushMpls" => Action::PushMpls(num!(f, "ethertype", u16)),
        "OFPActionPopMpls" => Action::PopMpls(num!(f, "ethertype", u16)),
        "OFPActionSetQueue" => Action::SetQueue(num!(f, "queue_id", u32)),
        "OFPActionGroup" => Action::Group(num!(f, "group_id", u32)),
        "OFPActionSetNwTtl" => Action::SetNwTtl(num!(f, "nw_ttl", u8)),
        "OFPActionDecNwTtl" => Action::DecNwTtl,
        "OFPActionSetField" => Action::SetField(oxm(field(f, "field")?)?),
        "OFPActionPushPbb" => Action::PushPbb(num!(f, "ethertype", u16)),
        "OFPActionPopPbb" => Action::PopPbb,
        "OFPActionExperimenterUnknown" => {
            Action::Experimenter { experimenter: num!(f, "experimenter", u32), data: data(f, "data")? }
        }
        // NXActionUnknown keeps the bytes after the subtype: experimenter data = subtype ++ data.
        "NXActionUnknown" => Action::Experimenter {
            experimenter: num!(f, "experimenter", u32),
            data: Bytes::from([&num!(f, "subtype", u16).to_be_bytes()[..], &data(f, "data")?].concat()),
        },
        nx if nx.starts_with("NXAction") => return Err(format!("{nx}: Nicira payload is opaque in ofproto")),
        other => return Err(format!("action {other} has no builder")),
    })
}

pub(super) fn actions(f: &Fields, key: &str) -> Built<Vec<Action>> {
    list(f, key)?.iter().map(action).collect()
}

pub fn instruction(v: &Value) -> Built<Instruction> {
    let (class, f) = split(v)?;
    Ok(match (class, uint(f, "type")?) {
        ("OFPInstructionGotoTable", _) => Instruction::GotoTable(num!(f, "table_id", u8)),
        ("OFPInstructionWriteMetadata", _) => {
            Instruction::WriteMetadata { metadata: uint(f, "metadata")?, mask: uint(f, "metadata_mask")? }
        }
        ("OFPInstructionActions", 3) => Instruction::WriteActions(actions(f, "actions")?),
        ("OFPInstructionActions", 4) => Instruction::ApplyActions(actions(f, "actions")?),
        ("OFPInstructionActions", 5) => Instruction::ClearActions,
        ("OFPInstructionMeter", _) => Instruction::Meter(num!(f, "meter_id", u32)),
        (other, t) => return Err(format!("instruction {other} type {t} has no builder")),
    })
}

pub(super) fn instructions(f: &Fields) -> Built<Vec<Instruction>> {
    list(f, "instructions")?.iter().map(instruction).collect()
}

pub(super) fn bucket(v: &Value) -> Built<Bucket> {
    let (_, f) = split(v)?;
    Ok(Bucket {
        weight: num!(f, "weight", u16),
        watch_port: PortNo(num!(f, "watch_port", u32)),
        watch_group: num!(f, "watch_group", u32),
        actions: actions(f, "actions")?,
    })
}

pub(super) fn buckets(f: &Fields) -> Built<Vec<Bucket>> {
    list(f, "buckets")?.iter().map(bucket).collect()
}

pub(super) fn band(v: &Value) -> Built<MeterBand> {
    let (class, f) = split(v)?;
    let (rate, burst_size) = (num!(f, "rate", u32), num!(f, "burst_size", u32));
    Ok(match class {
        "OFPMeterBandDrop" => MeterBand::Drop { rate, burst_size },
        "OFPMeterBandDscpRemark" => {
            MeterBand::DscpRemark { rate, burst_size, prec_level: num!(f, "prec_level", u8) }
        }
        // Ryu's JSON holds no bytes after the experimenter id: the corpus bands have none (len 16).
        "OFPMeterBandExperimenter" => MeterBand::Experimenter {
            rate,
            burst_size,
            experimenter: num!(f, "experimenter", u32),
            data: Bytes::new(),
        },
        other => return Err(format!("band {other} has no builder")),
    })
}

pub(super) fn bands(f: &Fields) -> Built<Vec<MeterBand>> {
    list(f, "bands")?.iter().map(band).collect()
}

pub(super) fn port(v: &Value) -> Built<Port> {
    let (_, f) = split(v)?;
    Ok(Port {
        port_no: PortNo(num!(f, "port_no", u32)),
        hw_addr: mac_of(field(f, "hw_addr")?)?,
        name: FixedStr::new(text(f, "name")?),
        config: num!(f, "config", u32),
        state: num!(f, "state", u32),
        curr: num!(f, "curr", u32),
        advertised: num!(f, "advertised", u32),
        supported: num!(f, "supported", u32),
        peer: num!(f, "peer", u32),
        curr_speed: num!(f, "curr_speed", u32),
        max_speed: num!(f, "max_speed", u32),
    })
}

pub(super) fn queue(v: &Value) -> Built<PacketQueue> {
    let (_, f) = split(v)?;
    let properties = list(f, "properties")?
        .iter()
        .map(|p| {
            let (class, f) = split(p)?;
            Ok(match class {
                "OFPQueuePropMinRate" => QueueProp::MinRate(num!(f, "rate", u16)),
                "OFPQueuePropMaxRate" => QueueProp::MaxRate(num!(f, "rate", u16)),
                "OFPQueuePropExperimenter" => QueueProp::Experimenter {
                    experimenter: num!(f, "experimenter", u32),
                    data: data(f, "data")?,
                },
                other => return Err(format!("queue property {other} has no builder")),
            })
        })
        .collect::<Built<_>>()?;
    Ok(PacketQueue { queue_id: num!(f, "queue_id", u32), port: PortNo(num!(f, "port", u32)), properties })
}
