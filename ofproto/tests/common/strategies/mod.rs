//! proptest strategies for every OpenFlow 1.3 message family, generating only values that have a
//! canonical encoding (so `decode(encode(m)) == m` must hold): field values within their wire width,
//! experimenter/unknown payloads sized so the structure stays 8-byte aligned, `Unknown` variants only
//! for numbers the library has no name for.

mod multipart;
mod parts;

use bytes::Bytes;
use ofproto::Message;
use ofproto::error_msg::{self, ErrorMsg, ErrorType};
use ofproto::experimenter::Experimenter;
use ofproto::flow::{FlowMod, FlowModCommand, FlowRemoved, FlowRemovedReason};
use ofproto::group::{GroupMod, GroupModCommand, GroupType};
use ofproto::hello::{Hello, HelloElement};
use ofproto::meter::{MeterMod, MeterModCommand};
use ofproto::packet::{PacketIn, PacketInReason, PacketOut};
use ofproto::port::{PortMod, PortReason, PortStatus};
use ofproto::queue::{PacketQueue, QueueGetConfigReply, QueueGetConfigRequest};
use ofproto::role::{AsyncConfig, ControllerRole, RoleMessage};
use ofproto::switch::{SwitchConfig, SwitchFeatures};
use ofproto::table::TableMod;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use multipart::{multipart_reply, multipart_request};
use parts::{actions, band, bucket, bytes_of, instructions, mac, r#match, port, port_no, queue_prop};

fn error_type() -> BoxedStrategy<ErrorType> {
    use error_msg::*;
    prop_oneof![
        any::<u16>().prop_map(|c| ErrorType::HelloFailed(HelloFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::BadRequest(BadRequestCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::BadAction(BadActionCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::BadInstruction(BadInstructionCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::BadMatch(BadMatchCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::FlowModFailed(FlowModFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::GroupModFailed(GroupModFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::PortModFailed(PortModFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::TableModFailed(TableModFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::QueueOpFailed(QueueOpFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::SwitchConfigFailed(SwitchConfigFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::RoleRequestFailed(RoleRequestFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::MeterModFailed(MeterModFailedCode::from(c))),
        any::<u16>().prop_map(|c| ErrorType::TableFeaturesFailed(TableFeaturesFailedCode::from(c))),
        (any::<u16>(), any::<u32>())
            .prop_map(|(exp_type, experimenter)| ErrorType::Experimenter { exp_type, experimenter }),
        ((14u16..0xffff), any::<u16>())
            .prop_map(|(error_type, code)| ErrorType::Unknown { error_type, code }),
    ]
    .boxed()
}

fn flow_mod() -> BoxedStrategy<FlowMod> {
    (
        any::<[u64; 2]>(),
        any::<[u8; 2]>(),
        any::<[u16; 4]>(),
        any::<[u32; 2]>(),
        port_no(),
        r#match(),
        instructions(),
    )
        .prop_map(|(c, b, s, w, out_port, r#match, instructions)| FlowMod {
            cookie: c[0],
            cookie_mask: c[1],
            table_id: b[0],
            command: FlowModCommand::from(b[1]),
            idle_timeout: s[0],
            hard_timeout: s[1],
            priority: s[2],
            buffer_id: w[0],
            out_port,
            out_group: w[1],
            flags: s[3],
            r#match,
            instructions,
        })
        .boxed()
}

/// Any OpenFlow 1.3 message, every family.
pub fn message() -> BoxedStrategy<Message> {
    let async_config = any::<[u32; 6]>().prop_map(|m| AsyncConfig {
        packet_in_mask: [m[0], m[1]],
        port_status_mask: [m[2], m[3]],
        flow_removed_mask: [m[4], m[5]],
    });
    let role = (any::<u32>(), any::<u64>())
        .prop_map(|(r, generation_id)| RoleMessage { role: ControllerRole::from(r), generation_id });
    let config = any::<[u16; 2]>().prop_map(|c| SwitchConfig { flags: c[0], miss_send_len: c[1] });
    prop_oneof![
        prop_oneof![
            vec(any::<u32>(), 1..3).prop_map(|w| Hello::new(vec![HelloElement::VersionBitmap(w)])),
            Just(Hello::new(Vec::new())),
        ]
        .prop_map(Message::Hello),
        (error_type(), bytes_of(0..64)).prop_map(|(error, data)| Message::Error(ErrorMsg { error, data })),
        bytes_of(0..32).prop_map(Message::EchoRequest),
        bytes_of(0..32).prop_map(Message::EchoReply),
        (any::<u32>(), any::<u32>(), bytes_of(0..32)).prop_map(|(experimenter, exp_type, data)| {
            Message::Experimenter(Experimenter { experimenter, exp_type, data })
        }),
        Just(Message::FeaturesRequest),
        (any::<u64>(), any::<u32>(), any::<[u8; 2]>(), any::<[u32; 2]>()).prop_map(
            |(datapath_id, n_buffers, b, c)| {
                Message::FeaturesReply(SwitchFeatures {
                    datapath_id,
                    n_buffers,
                    n_tables: b[0],
                    auxiliary_id: b[1],
                    capabilities: c[0],
                    reserved: c[1],
                })
            }
        ),
        Just(Message::GetConfigRequest),
        config.clone().prop_map(Message::GetConfigReply),
        config.prop_map(Message::SetConfig),
        (any::<u32>(), any::<u16>(), any::<[u8; 2]>(), any::<u64>(), r#match(), bytes_of(0..64)).prop_map(
            |(buffer_id, total_len, b, cookie, r#match, data)| Message::PacketIn(PacketIn {
                buffer_id,
                total_len,
                reason: PacketInReason::from(b[0]),
                table_id: b[1],
                cookie,
                r#match,
                data,
            })
        ),
        (any::<[u64; 3]>(), any::<[u16; 3]>(), any::<[u8; 2]>(), any::<[u32; 2]>(), r#match()).prop_map(
            |(c, s, b, d, r#match)| Message::FlowRemoved(FlowRemoved {
                cookie: c[0],
                priority: s[0],
                reason: FlowRemovedReason::from(b[0]),
                table_id: b[1],
                duration_sec: d[0],
                duration_nsec: d[1],
                idle_timeout: s[1],
                hard_timeout: s[2],
                packet_count: c[1],
                byte_count: c[2],
                r#match,
            })
        ),
        (any::<u8>(), port())
            .prop_map(|(r, desc)| Message::PortStatus(PortStatus { reason: PortReason::from(r), desc })),
        (any::<u32>(), port_no(), actions(), bytes_of(0..64)).prop_map(
            |(buffer_id, in_port, actions, data)| Message::PacketOut(PacketOut {
                buffer_id,
                in_port,
                actions,
                data
            })
        ),
        flow_mod().prop_map(Message::FlowMod),
        (any::<u16>(), any::<u8>(), any::<u32>(), vec(bucket(), 0..3)).prop_map(
            |(c, t, group_id, buckets)| {
                Message::GroupMod(GroupMod {
                    command: GroupModCommand::from(c),
                    group_type: GroupType::from(t),
                    group_id,
                    buckets,
                })
            }
        ),
        (port_no(), mac(), any::<[u32; 3]>()).prop_map(|(port_no, hw_addr, w)| Message::PortMod(PortMod {
            port_no,
            hw_addr,
            config: w[0],
            mask: w[1],
            advertise: w[2],
        })),
        (any::<u8>(), any::<u32>())
            .prop_map(|(table_id, config)| Message::TableMod(TableMod { table_id, config })),
        multipart_request().prop_map(Message::MultipartRequest),
        multipart_reply().prop_map(Message::MultipartReply),
        Just(Message::BarrierRequest),
        Just(Message::BarrierReply),
        port_no().prop_map(|port| Message::QueueGetConfigRequest(QueueGetConfigRequest { port })),
        (port_no(), vec((any::<u32>(), port_no(), vec(queue_prop(), 0..3)), 0..3)).prop_map(|(port, q)| {
            Message::QueueGetConfigReply(QueueGetConfigReply {
                port,
                queues: q
                    .into_iter()
                    .map(|(queue_id, port, properties)| PacketQueue { queue_id, port, properties })
                    .collect(),
            })
        }),
        role.clone().prop_map(Message::RoleRequest),
        role.prop_map(Message::RoleReply),
        Just(Message::GetAsyncRequest),
        async_config.clone().prop_map(Message::GetAsyncReply),
        async_config.prop_map(Message::SetAsync),
        (any::<u16>(), any::<u16>(), any::<u32>(), vec(band(), 0..3)).prop_map(
            |(c, flags, meter_id, bands)| {
                Message::MeterMod(MeterMod { command: MeterModCommand::from(c), flags, meter_id, bands })
            }
        ),
        ((30u8..=255), bytes_of(0..32)).prop_map(|(msg_type, body)| Message::Unknown { msg_type, body }),
    ]
    .boxed()
}

/// `n` encoded messages drawn from [`message`] with a fixed seed (mutation seeds for robustness).
pub fn generated_frames(n: usize, seed: u64) -> Vec<Bytes> {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let strategy = message();
    (0..n)
        .map(|i| {
            let tree = strategy.new_tree(&mut runner).unwrap_or_else(|e| panic!("strategy failed: {e}"));
            tree.current().to_bytes(i as u32)
        })
        .collect()
}
