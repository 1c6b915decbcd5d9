//! Names and text for the OXMs kept as raw bytes ([`super::Oxm::Other`]): the Nicira NXM fields and
//! ONF experimenter fields that Ryu names (its `nicira_ext.py` and `ofproto_v1_3.py` field tables), so
//! dumps of Open vSwitch flows read the same as Ryu's.

use std::fmt;

use super::oxm_class;

/// ONF's experimenter id (`ONF_EXPERIMENTER_ID`, "ONF\0").
pub const ONF_EXPERIMENTER_ID: u32 = 0x4f4e_4600;
/// ONF extension EXT-256: the pre-OF1.4 encoding of `pbb_uca` as an experimenter OXM (field 0, then a
/// 2-byte experimenter type 2560 after the experimenter id), which Ryu decodes as "pbb_uca".
const ONF_ET_PBB_UCA: u16 = 2560;

/// `NXM_OF_*` (class 0x0000) field names, indexed by field number, as Ryu names them.
const NXM_0_NAMES: [&str; 18] = [
    "in_port_nxm",
    "eth_dst_nxm",
    "eth_src_nxm",
    "eth_type_nxm",
    "vlan_tci",
    "nw_tos",
    "ip_proto_nxm",
    "ipv4_src_nxm",
    "ipv4_dst_nxm",
    "tcp_src_nxm",
    "tcp_dst_nxm",
    "udp_src_nxm",
    "udp_dst_nxm",
    "icmpv4_type_nxm",
    "icmpv4_code_nxm",
    "arp_op_nxm",
    "arp_spa_nxm",
    "arp_tpa_nxm",
];

const NXM_REGS: [&str; 16] = [
    "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10", "reg11",
    "reg12", "reg13", "reg14", "reg15",
];

/// Name of a non-basic (or post-OF1.3 basic) OXM, or `"unknown"`.
pub(super) fn other_name(class: u16, field: u8, body: &[u8]) -> &'static str {
    match class {
        oxm_class::NXM_0 => NXM_0_NAMES.get(usize::from(field)).copied().unwrap_or("unknown"),
        oxm_class::NXM_1 => match field {
            0..=15 => NXM_REGS.get(usize::from(field)).copied().unwrap_or("unknown"),
            16 => "tunnel_id_nxm",
            31 => "tun_ipv4_src",
            32 => "tun_ipv4_dst",
            33 => "pkt_mark",
            35 => "dp_hash",
            36 => "recirc_id",
            37 => "conj_id",
            105 => "ct_state",
            106 => "ct_zone",
            107 => "ct_mark",
            108 => "ct_label",
            _ => "unknown",
        },
        // Fields added to the basic class after OF1.3 (OF1.4 §7.2.3.7, OF1.5): 40 is unassigned.
        oxm_class::OPENFLOW_BASIC => match field {
            41 => "pbb_uca",
            42 => "tcp_flags",
            43 => "actset_output",
            44 => "packet_type",
            _ => "unknown",
        },
        oxm_class::EXPERIMENTER => {
            let experimenter = body.first_chunk::<4>().map(|b| u32::from_be_bytes(*b));
            let exp_type = body.get(4..).and_then(|r| r.first_chunk::<2>()).map(|b| u16::from_be_bytes(*b));
            match (experimenter, field, exp_type) {
                (Some(ONF_EXPERIMENTER_ID), 0, Some(ONF_ET_PBB_UCA)) => "pbb_uca",
                _ => "experimenter",
            }
        }
        _ => "unknown",
    }
}

/// Writes a raw OXM value as hex (`0x1234`, or `0x1234/0xff00` when masked). For the experimenter
/// class the experimenter id is shown first (`0x4f4e4600:0x0a0001`).
pub(super) fn fmt_other_value(
    f: &mut fmt::Formatter<'_>,
    class: u16,
    has_mask: bool,
    body: &[u8],
) -> fmt::Result {
    let mut body = body;
    if class == oxm_class::EXPERIMENTER
        && let Some((experimenter, rest)) = body.split_first_chunk::<4>()
    {
        write!(f, "{:#010x}:", u32::from_be_bytes(*experimenter))?;
        body = rest;
    }
    let half = body.len() / 2;
    match body.split_at_checked(half) {
        Some((value, mask)) if has_mask && !value.is_empty() && value.len() == mask.len() => {
            write_hex(f, value)?;
            f.write_str("/")?;
            write_hex(f, mask)
        }
        _ => write_hex(f, body),
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}
