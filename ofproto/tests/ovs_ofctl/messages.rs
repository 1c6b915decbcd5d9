//! One or more cases for every OpenFlow 1.3 message type outside flow-mods and multipart.

use bytes::Bytes;
use ofproto::Message;
use ofproto::action::Action;
use ofproto::error_msg::{BadMatchCode, BadRequestCode, ErrorMsg, ErrorType, FlowModFailedCode};
use ofproto::experimenter::Experimenter;
use ofproto::flow::{FlowMod, FlowModCommand, FlowRemoved, FlowRemovedReason};
use ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use ofproto::hello::Hello;
use ofproto::meter::{MeterBand, MeterMod, MeterModCommand};
use ofproto::oxm::{Match, Oxm};
use ofproto::packet::{PacketIn, PacketInReason, PacketOut};
use ofproto::port::{Port, PortMod, PortReason, PortStatus};
use ofproto::queue::{PacketQueue, QueueGetConfigReply, QueueGetConfigRequest, QueueProp};
use ofproto::role::{AsyncConfig, ControllerRole, RoleMessage};
use ofproto::switch::{SwitchConfig, SwitchFeatures};
use ofproto::table::TableMod;
use ofproto::types::{FixedStr, PortNo};

use crate::flows::{ETH_IPV4, MAC_A, MAC_B, apply, flow_mod, ip};
use crate::{Case, case};

pub fn sample_port(port_no: u32, name: &str) -> Port {
    Port {
        port_no: PortNo(port_no),
        hw_addr: MAC_B,
        name: FixedStr::new(name),
        config: 0,
        state: 4, // OFPPS_LIVE
        curr: 0x2808,
        advertised: 0x2800,
        supported: 0x2808,
        peer: 0x2808,
        curr_speed: 10_000_000, // kbps
        max_speed: 10_000_000,
    }
}

pub fn message_cases() -> Vec<Case> {
    let lb_match = Match {
        fields: vec![
            Oxm::EthType(ETH_IPV4),
            Oxm::Ipv4Dst(ip(10, 0, 0, 100), None),
            Oxm::IpProto(6),
            Oxm::TcpDst(80),
        ],
    };
    vec![
        case("hello", Message::Hello(Hello::new_v13()), &["OFPT_HELLO", "version bitmap: 0x04"]),
        case(
            "error bad_request",
            Message::Error(ErrorMsg::new(
                ErrorType::BadRequest(BadRequestCode::BadType),
                &Message::BarrierRequest.to_bytes(0x42),
            )),
            &["OFPT_ERROR", "OFPBRC_BAD_TYPE", "OFPT_BARRIER_REQUEST"],
        ),
        case(
            "error bad_match",
            Message::Error(ErrorMsg::new(ErrorType::BadMatch(BadMatchCode::BadPrereq), &[])),
            &["OFPT_ERROR", "OFPBMC_BAD_PREREQ"],
        ),
        case(
            "error flow_mod_failed",
            Message::Error(ErrorMsg::new(ErrorType::FlowModFailed(FlowModFailedCode::TableFull), &[])),
            &["OFPT_ERROR", "OFPFMFC_TABLE_FULL"],
        ),
        case(
            "echo request",
            Message::EchoRequest(Bytes::from_static(b"ping")),
            &["OFPT_ECHO_REQUEST", "4 bytes of payload"],
        ),
        case(
            "echo reply",
            Message::EchoReply(Bytes::from_static(b"pong!")),
            &["OFPT_ECHO_REPLY", "5 bytes of payload"],
        ),
        // OVS decodes only experimenter messages it knows: Nicira's NXT_SET_CONTROLLER_ID (exp_type
        // 20, `nx_controller_id`: 6 pad bytes then the 16-bit id).
        case(
            "experimenter nicira set_controller_id",
            Message::Experimenter(Experimenter {
                experimenter: 0x2320,
                exp_type: 20,
                data: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0x01, 0x2c]),
            }),
            &["NXT_SET_CONTROLLER_ID", "id=300"],
        ),
        case("features request", Message::FeaturesRequest, &["OFPT_FEATURES_REQUEST"]),
        case(
            "features reply",
            Message::FeaturesReply(SwitchFeatures {
                datapath_id: 0x0000_0000_0000_00aa,
                n_buffers: 256,
                n_tables: 254,
                auxiliary_id: 0,
                capabilities: 0x4f,
                reserved: 0,
            }),
            &["OFPT_FEATURES_REPLY", "dpid:00000000000000aa", "n_tables:254", "n_buffers:256"],
        ),
        case("get config request", Message::GetConfigRequest, &["OFPT_GET_CONFIG_REQUEST"]),
        case(
            "get config reply",
            Message::GetConfigReply(SwitchConfig { flags: 0, miss_send_len: 128 }),
            &["OFPT_GET_CONFIG_REPLY", "miss_send_len=128"],
        ),
        case(
            "set config",
            Message::SetConfig(SwitchConfig { flags: 0, miss_send_len: 0xffff }),
            &["OFPT_SET_CONFIG", "miss_send_len=65535"],
        ),
        case(
            "packet in",
            Message::PacketIn(PacketIn {
                buffer_id: ofproto::types::NO_BUFFER,
                total_len: 60,
                reason: PacketInReason::NoMatch,
                table_id: 0,
                cookie: 0,
                r#match: Match { fields: vec![Oxm::InPort(PortNo(5))] },
                data: Bytes::from(vec![0u8; 60]),
            }),
            &["OFPT_PACKET_IN", "in_port=5", "total_len=60", "(via no_match)"],
        ),
        case(
            "flow removed",
            Message::FlowRemoved(FlowRemoved {
                cookie: 0x99,
                priority: 100,
                reason: FlowRemovedReason::from(0),
                table_id: 2,
                duration_sec: 5,
                duration_nsec: 0,
                idle_timeout: 10,
                hard_timeout: 0,
                packet_count: 11,
                byte_count: 1500,
                r#match: lb_match.clone(),
            }),
            &["OFPT_FLOW_REMOVED", "nw_dst=10.0.0.100", "tp_dst=80", "reason=idle", "pkts11", "bytes1500"],
        ),
        case(
            "port status",
            Message::PortStatus(PortStatus { reason: PortReason::Add, desc: sample_port(7, "eth7") }),
            &["OFPT_PORT_STATUS", "ADD", "7(eth7)", "addr:f2:0b:a4:7d:f8:ea"],
        ),
        case(
            "packet out",
            Message::PacketOut(PacketOut::new(
                PortNo::CONTROLLER,
                vec![Action::output(PortNo(3))],
                Bytes::from(vec![0xffu8; 64]),
            )),
            &["OFPT_PACKET_OUT", "in_port=CONTROLLER", "actions=output:3", "data_len=64"],
        ),
        case(
            "flow mod load balancer",
            Message::FlowMod(flow_mod(
                lb_match.fields.clone(),
                apply(vec![
                    Action::set_field(Oxm::EthDst(MAC_A, None)),
                    Action::set_field(Oxm::Ipv4Dst(ip(10, 0, 0, 2), None)),
                    Action::output(PortNo(3)),
                ]),
            )),
            &[
                "OFPT_FLOW_MOD",
                "ADD",
                "table:1",
                "priority=100",
                "nw_dst=10.0.0.100",
                "tp_dst=80",
                "idle:10",
                "hard:30",
                "actions=set_field:00:11:22:33:44:55->eth_dst,set_field:10.0.0.2->ip_dst,output:3",
            ],
        ),
        case(
            "flow mod delete strict",
            Message::FlowMod(FlowMod {
                command: FlowModCommand::DeleteStrict,
                ..flow_mod(lb_match.fields, vec![])
            }),
            &["OFPT_FLOW_MOD", "DEL_STRICT"],
        ),
        case(
            "group mod select",
            Message::GroupMod(GroupMod {
                command: GroupModCommand::Add,
                group_type: GroupType::Select,
                group_id: 1,
                buckets: vec![
                    Bucket::new(50, vec![Action::output(PortNo(2))]),
                    Bucket::new(50, vec![Action::output(PortNo(3))]),
                ],
            }),
            &["OFPT_GROUP_MOD", "ADD", "group_id=1", "type=select", "bucket=weight:50,actions=output:2"],
        ),
        case(
            "group mod fast failover",
            Message::GroupMod(GroupMod {
                command: GroupModCommand::Add,
                group_type: GroupType::FastFailover,
                group_id: 2,
                buckets: vec![Bucket {
                    weight: 0,
                    watch_port: PortNo(4),
                    watch_group: 0xffff_ffff,
                    actions: vec![Action::output(PortNo(4))],
                }],
            }),
            &["type=ff", "watch_port:4", "actions=output:4"],
        ),
        case(
            "group mod delete",
            Message::GroupMod(GroupMod::delete(3)),
            &["OFPT_GROUP_MOD", "DEL", "group_id=3"],
        ),
        case(
            "port mod",
            Message::PortMod(PortMod {
                port_no: PortNo(3),
                hw_addr: MAC_A,
                config: 1,
                mask: 1,
                advertise: 0,
            }),
            &["OFPT_PORT_MOD", "port: 3", "addr:00:11:22:33:44:55", "PORT_DOWN"],
        ),
        case(
            "table mod",
            Message::TableMod(TableMod { table_id: 3, config: 0 }),
            &["OFPT_TABLE_MOD", "table_id=3"],
        ),
        case("barrier request", Message::BarrierRequest, &["OFPT_BARRIER_REQUEST"]),
        case("barrier reply", Message::BarrierReply, &["OFPT_BARRIER_REPLY"]),
        case(
            "queue get config request",
            Message::QueueGetConfigRequest(QueueGetConfigRequest { port: PortNo(1) }),
            &["OFPT_QUEUE_GET_CONFIG_REQUEST", "port=1"],
        ),
        case(
            "queue get config reply",
            Message::QueueGetConfigReply(QueueGetConfigReply {
                port: PortNo(1),
                queues: vec![PacketQueue {
                    queue_id: 7,
                    port: PortNo(1),
                    properties: vec![QueueProp::MinRate(100), QueueProp::MaxRate(900)],
                }],
            }),
            &["OFPT_QUEUE_GET_CONFIG_REPLY", "queue 7", "min_rate:10.0%", "max_rate:90.0%"],
        ),
        case(
            "role request",
            Message::RoleRequest(RoleMessage { role: ControllerRole::Master, generation_id: 9 }),
            &["OFPT_ROLE_REQUEST", "role=primary", "generation_id=9"],
        ),
        case(
            "role reply",
            Message::RoleReply(RoleMessage { role: ControllerRole::Slave, generation_id: 10 }),
            &["OFPT_ROLE_REPLY", "role=secondary", "generation_id=10"],
        ),
        case("get async request", Message::GetAsyncRequest, &["OFPT_GET_ASYNC_REQUEST"]),
        case(
            "get async reply",
            Message::GetAsyncReply(AsyncConfig {
                packet_in_mask: [1, 0],
                port_status_mask: [7, 0],
                flow_removed_mask: [0, 0],
            }),
            &["OFPT_GET_ASYNC_REPLY", "PACKET_IN: no_match", "PORT_STATUS: add delete modify"],
        ),
        case(
            "set async",
            Message::SetAsync(AsyncConfig {
                packet_in_mask: [3, 1],
                port_status_mask: [7, 7],
                flow_removed_mask: [15, 0],
            }),
            &["OFPT_SET_ASYNC", "no_match action"],
        ),
        case(
            "meter mod",
            Message::MeterMod(MeterMod {
                command: MeterModCommand::Add,
                flags: 0b0101, // KBPS | BURST
                meter_id: 1,
                bands: vec![
                    MeterBand::Drop { rate: 1000, burst_size: 100 },
                    MeterBand::DscpRemark { rate: 2000, burst_size: 200, prec_level: 1 },
                ],
            }),
            &[
                "OFPT_METER_MOD",
                "meter=1",
                "kbps",
                "burst",
                "type=drop rate=1000 burst_size=100",
                "type=dscp_remark rate=2000 burst_size=200 prec_level=1",
            ],
        ),
    ]
}
