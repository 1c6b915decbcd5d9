//! Strategies for the structures nested in messages: OXM TLVs and matches, actions, instructions,
//! buckets, meter bands, ports, queue properties.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ofproto::action::Action;
use ofproto::group::Bucket;
use ofproto::instruction::Instruction;
use ofproto::meter::MeterBand;
use ofproto::oxm::{Match, Oxm};
use ofproto::port::Port;
use ofproto::queue::QueueProp;
use ofproto::types::{FixedStr, MacAddr, PortNo};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

pub fn bytes_of(len: impl Into<proptest::collection::SizeRange>) -> BoxedStrategy<Bytes> {
    vec(any::<u8>(), len).prop_map(Bytes::from).boxed()
}

/// Bytes whose length is a multiple of 8 (payloads that keep a structure 8-byte aligned).
pub fn aligned_bytes(max_words: usize) -> BoxedStrategy<Bytes> {
    (0..=max_words).prop_flat_map(|n| bytes_of(n * 8)).boxed()
}

pub fn mac() -> BoxedStrategy<MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr).boxed()
}

pub fn ipv4() -> BoxedStrategy<Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from).boxed()
}

pub fn ipv6() -> BoxedStrategy<Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from).boxed()
}

pub fn port_no() -> BoxedStrategy<PortNo> {
    prop_oneof![any::<u32>().prop_map(PortNo), Just(PortNo::CONTROLLER), Just(PortNo::ANY)].boxed()
}

pub fn masked<T: Clone + std::fmt::Debug + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<(T, Option<T>)> {
    (s.clone(), proptest::option::of(s)).boxed()
}

/// Every OXM basic field (OF1.3.5 §7.2.3.7) with and without mask where maskable, plus
/// non-basic TLVs (Nicira NXM class 0x0001, experimenter class 0xFFFF).
pub fn oxm() -> BoxedStrategy<Oxm> {
    let u20 = 0u32..(1 << 20);
    prop_oneof![
        port_no().prop_map(Oxm::InPort),
        port_no().prop_map(Oxm::InPhyPort),
        masked(any::<u64>().boxed()).prop_map(|(v, m)| Oxm::Metadata(v, m)),
        masked(mac()).prop_map(|(v, m)| Oxm::EthDst(v, m)),
        masked(mac()).prop_map(|(v, m)| Oxm::EthSrc(v, m)),
        any::<u16>().prop_map(Oxm::EthType),
        masked((0u16..0x2000).boxed()).prop_map(|(v, m)| Oxm::VlanVid(v, m)),
        (0u8..8).prop_map(Oxm::VlanPcp),
        (0u8..64).prop_map(Oxm::IpDscp),
        (0u8..4).prop_map(Oxm::IpEcn),
        any::<u8>().prop_map(Oxm::IpProto),
        masked(ipv4()).prop_map(|(v, m)| Oxm::Ipv4Src(v, m)),
        masked(ipv4()).prop_map(|(v, m)| Oxm::Ipv4Dst(v, m)),
        any::<u16>().prop_map(Oxm::TcpSrc),
        any::<u16>().prop_map(Oxm::TcpDst),
        any::<u16>().prop_map(Oxm::UdpSrc),
        any::<u16>().prop_map(Oxm::UdpDst),
        any::<u16>().prop_map(Oxm::SctpSrc),
        any::<u16>().prop_map(Oxm::SctpDst),
        any::<u8>().prop_map(Oxm::Icmpv4Type),
        any::<u8>().prop_map(Oxm::Icmpv4Code),
        any::<u16>().prop_map(Oxm::ArpOp),
        masked(ipv4()).prop_map(|(v, m)| Oxm::ArpSpa(v, m)),
        masked(ipv4()).prop_map(|(v, m)| Oxm::ArpTpa(v, m)),
        masked(mac()).prop_map(|(v, m)| Oxm::ArpSha(v, m)),
        masked(mac()).prop_map(|(v, m)| Oxm::ArpTha(v, m)),
        masked(ipv6()).prop_map(|(v, m)| Oxm::Ipv6Src(v, m)),
        masked(ipv6()).prop_map(|(v, m)| Oxm::Ipv6Dst(v, m)),
        masked(u20.clone().boxed()).prop_map(|(v, m)| Oxm::Ipv6Flabel(v, m)),
        any::<u8>().prop_map(Oxm::Icmpv6Type),
        any::<u8>().prop_map(Oxm::Icmpv6Code),
        ipv6().prop_map(Oxm::Ipv6NdTarget),
        mac().prop_map(Oxm::Ipv6NdSll),
        mac().prop_map(Oxm::Ipv6NdTll),
        u20.prop_map(Oxm::MplsLabel),
        (0u8..8).prop_map(Oxm::MplsTc),
        (0u8..2).prop_map(Oxm::MplsBos),
        masked((0u32..(1 << 24)).boxed()).prop_map(|(v, m)| Oxm::PbbIsid(v, m)),
        masked(any::<u64>().boxed()).prop_map(|(v, m)| Oxm::TunnelId(v, m)),
        masked((0u16..512).boxed()).prop_map(|(v, m)| Oxm::Ipv6Exthdr(v, m)),
        // Nicira registers: NXM_NX_REG0..15, 4 bytes, maskable.
        (0u8..16, any::<bool>(), any::<[u8; 8]>()).prop_map(|(field, has_mask, raw)| Oxm::Other {
            class: 0x0001,
            field,
            has_mask,
            body: Bytes::copy_from_slice(&raw[..if has_mask { 8 } else { 4 }]),
        }),
        // Experimenter OXM: 4-byte experimenter id, then payload.
        (0u8..128, any::<u32>(), bytes_of(0..8)).prop_map(|(field, exp, payload)| Oxm::Other {
            class: 0xffff,
            field,
            has_mask: false,
            body: Bytes::from([&exp.to_be_bytes()[..], &payload[..]].concat()),
        }),
    ]
    .boxed()
}

pub fn r#match() -> BoxedStrategy<Match> {
    vec(oxm(), 0..6).prop_map(|fields| Match { fields }).boxed()
}

/// Action type numbers OF1.3.5 §7.2.5 names (an `Unknown` action must use another one).
pub const KNOWN_ACTION_TYPES: [u16; 17] =
    [0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 0xffff];

pub fn action() -> BoxedStrategy<Action> {
    prop_oneof![
        (port_no(), any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        Just(Action::CopyTtlOut),
        Just(Action::CopyTtlIn),
        any::<u8>().prop_map(Action::SetMplsTtl),
        Just(Action::DecMplsTtl),
        any::<u16>().prop_map(Action::PushVlan),
        Just(Action::PopVlan),
        any::<u16>().prop_map(Action::PushMpls),
        any::<u16>().prop_map(Action::PopMpls),
        any::<u32>().prop_map(Action::SetQueue),
        any::<u32>().prop_map(Action::Group),
        any::<u8>().prop_map(Action::SetNwTtl),
        Just(Action::DecNwTtl),
        oxm().prop_map(Action::SetField),
        any::<u16>().prop_map(Action::PushPbb),
        Just(Action::PopPbb),
        (any::<u32>(), aligned_bytes(2))
            .prop_map(|(experimenter, data)| Action::Experimenter { experimenter, data }),
        (any::<u16>().prop_filter("unnamed type", |t| !KNOWN_ACTION_TYPES.contains(t)), 0usize..3)
            .prop_flat_map(|(t, words)| (Just(t), bytes_of(4 + 8 * words)))
            .prop_map(|(action_type, body)| Action::Unknown { action_type, body }),
    ]
    .boxed()
}

pub fn actions() -> BoxedStrategy<Vec<Action>> {
    vec(action(), 0..5).boxed()
}

pub fn instruction() -> BoxedStrategy<Instruction> {
    prop_oneof![
        any::<u8>().prop_map(Instruction::GotoTable),
        (any::<u64>(), any::<u64>())
            .prop_map(|(metadata, mask)| Instruction::WriteMetadata { metadata, mask }),
        actions().prop_map(Instruction::WriteActions),
        actions().prop_map(Instruction::ApplyActions),
        Just(Instruction::ClearActions),
        any::<u32>().prop_map(Instruction::Meter),
        (any::<u32>(), aligned_bytes(2))
            .prop_map(|(experimenter, data)| Instruction::Experimenter { experimenter, data }),
        ((7u16..0xffff), 0usize..3)
            .prop_flat_map(|(t, words)| (Just(t), bytes_of(4 + 8 * words)))
            .prop_map(|(instruction_type, body)| Instruction::Unknown { instruction_type, body }),
    ]
    .boxed()
}

pub fn instructions() -> BoxedStrategy<Vec<Instruction>> {
    vec(instruction(), 0..4).boxed()
}

pub fn bucket() -> BoxedStrategy<Bucket> {
    (any::<u16>(), port_no(), any::<u32>(), actions())
        .prop_map(|(weight, watch_port, watch_group, actions)| Bucket {
            weight,
            watch_port,
            watch_group,
            actions,
        })
        .boxed()
}

pub fn band() -> BoxedStrategy<MeterBand> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(rate, burst_size)| MeterBand::Drop { rate, burst_size }),
        (any::<u32>(), any::<u32>(), any::<u8>()).prop_map(|(rate, burst_size, prec_level)| {
            MeterBand::DscpRemark { rate, burst_size, prec_level }
        }),
        (any::<u32>(), any::<u32>(), any::<u32>(), aligned_bytes(2)).prop_map(
            |(rate, burst_size, experimenter, data)| MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter,
                data
            }
        ),
        ((3u16..0xffff), any::<u32>(), any::<u32>(), 0usize..3)
            .prop_flat_map(|(t, r, b, words)| (Just(t), Just(r), Just(b), bytes_of(4 + 8 * words)))
            .prop_map(|(band_type, rate, burst_size, body)| MeterBand::Unknown {
                band_type,
                rate,
                burst_size,
                body
            }),
    ]
    .boxed()
}

pub fn port() -> BoxedStrategy<Port> {
    (port_no(), mac(), "[a-z0-9]{0,15}", any::<[u32; 8]>())
        .prop_map(|(port_no, hw_addr, name, n)| Port {
            port_no,
            hw_addr,
            name: FixedStr::new(&name),
            config: n[0],
            state: n[1],
            curr: n[2],
            advertised: n[3],
            supported: n[4],
            peer: n[5],
            curr_speed: n[6],
            max_speed: n[7],
        })
        .boxed()
}

pub fn queue_prop() -> BoxedStrategy<QueueProp> {
    prop_oneof![
        any::<u16>().prop_map(QueueProp::MinRate),
        any::<u16>().prop_map(QueueProp::MaxRate),
        (any::<u32>(), aligned_bytes(2))
            .prop_map(|(experimenter, data)| QueueProp::Experimenter { experimenter, data }),
        ((3u16..0xffff), aligned_bytes(2)).prop_map(|(property, body)| QueueProp::Unknown { property, body }),
    ]
    .boxed()
}
