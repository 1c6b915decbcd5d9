//! Actions (`ofp_action_*`, OF1.3.5 §7.2.5): the typed [`Action`] list carried by instructions,
//! PACKET_OUT and group buckets, its codec, constructors and ovs-ofctl-like text.
//!
//! Every action is `type:16 | len:16 | body`, `len` a multiple of 8 computed by the encoder. The 16
//! OF1.3 types are typed; experimenter actions (type 0xFFFF, e.g. Nicira's) keep their body as bytes,
//! and unknown types decode to [`Action::Unknown`], so any well-formed list re-encodes byte-exactly.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};
use serde::Serialize;

use crate::codec::{LenPatch, PResult, bad_length, field, pad, pad_to, take_exact, within};
use crate::oxm::Oxm;
use crate::types::{PortNo, open_enum};

#[cfg(test)]
mod tests;

open_enum! {
    /// `ofp_action_type` (OF1.3.5 §7.2.5).
    pub enum ActionType: u16 {
        Output = 0,
        CopyTtlOut = 11,
        CopyTtlIn = 12,
        SetMplsTtl = 15,
        DecMplsTtl = 16,
        PushVlan = 17,
        PopVlan = 18,
        PushMpls = 19,
        PopMpls = 20,
        SetQueue = 21,
        Group = 22,
        SetNwTtl = 23,
        DecNwTtl = 24,
        SetField = 25,
        PushPbb = 26,
        PopPbb = 27,
        Experimenter = 0xffff,
    }
}

/// `ofp_controller_max_len` (§7.2.5): how many bytes of a packet an output to CONTROLLER sends.
pub mod controller_max_len {
    /// Maximum `max_len` value usable to request a specific byte length.
    pub const MAX: u16 = 0xffe5;
    /// Do not buffer the packet: send all of it to the controller.
    pub const NO_BUFFER: u16 = 0xffff;
}

/// Size of the common action header (`ofp_action_header` is 8 bytes including 4 bytes of padding).
pub const ACTION_HEADER_LEN: usize = 4;
/// Size of `ofp_action_output`.
pub const OUTPUT_LEN: usize = 16;
/// Size of every other fixed-size OF1.3 action (`ofp_action_generic`, `_push`, `_group`, ...).
pub const SHORT_ACTION_LEN: usize = 8;
/// Size of `ofp_action_experimenter_header` (type, len, experimenter).
pub const EXPERIMENTER_HEADER_LEN: usize = 8;
/// Actions are padded to this multiple (§7.2.5).
pub const ACTION_ALIGN: usize = 8;

/// One action. Experimenter actions (type 0xFFFF, e.g. Nicira's) and unknown types round-trip as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Action {
    Output {
        port: PortNo,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    SetField(Oxm),
    PushPbb(u16),
    PopPbb,
    /// `data` is everything after the 8-byte action header + experimenter id (padding included).
    Experimenter {
        experimenter: u32,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        data: Bytes,
    },
    /// `body` is everything after the 4-byte type/len header.
    Unknown {
        action_type: u16,
        #[serde(serialize_with = "crate::types::serialize_hex")]
        body: Bytes,
    },
}

/// Constructors for the common actions.
impl Action {
    /// Output to `port`. `max_len` is `NO_BUFFER` (whole packet, unbuffered) for the CONTROLLER port
    /// and 0 otherwise (the field only matters for CONTROLLER, §7.2.5), as ovs-ofctl encodes
    /// `output:N` and `CONTROLLER`.
    pub fn output(port: PortNo) -> Action {
        let max_len = if port == PortNo::CONTROLLER { controller_max_len::NO_BUFFER } else { 0 };
        Action::Output { port, max_len }
    }

    /// Output to the controller, sending at most `max_len` bytes of the packet (see
    /// [`controller_max_len`]).
    pub fn to_controller(max_len: u16) -> Action {
        Action::Output { port: PortNo::CONTROLLER, max_len }
    }

    /// Set a header field; `oxm` must be unmasked in OF1.3 (§7.2.5, `ofp_action_set_field`).
    pub fn set_field(oxm: Oxm) -> Action {
        Action::SetField(oxm)
    }

    pub fn group(group_id: u32) -> Action {
        Action::Group(group_id)
    }

    pub fn set_queue(queue_id: u32) -> Action {
        Action::SetQueue(queue_id)
    }

    /// Push a VLAN tag with TPID `ethertype` (0x8100 or 0x88a8).
    pub fn push_vlan(ethertype: u16) -> Action {
        Action::PushVlan(ethertype)
    }

    pub fn pop_vlan() -> Action {
        Action::PopVlan
    }

    pub fn dec_nw_ttl() -> Action {
        Action::DecNwTtl
    }

    /// The action's type number on the wire.
    pub fn action_type(&self) -> ActionType {
        match self {
            Action::Output { .. } => ActionType::Output,
            Action::CopyTtlOut => ActionType::CopyTtlOut,
            Action::CopyTtlIn => ActionType::CopyTtlIn,
            Action::SetMplsTtl(_) => ActionType::SetMplsTtl,
            Action::DecMplsTtl => ActionType::DecMplsTtl,
            Action::PushVlan(_) => ActionType::PushVlan,
            Action::PopVlan => ActionType::PopVlan,
            Action::PushMpls(_) => ActionType::PushMpls,
            Action::PopMpls(_) => ActionType::PopMpls,
            Action::SetQueue(_) => ActionType::SetQueue,
            Action::Group(_) => ActionType::Group,
            Action::SetNwTtl(_) => ActionType::SetNwTtl,
            Action::DecNwTtl => ActionType::DecNwTtl,
            Action::SetField(_) => ActionType::SetField,
            Action::PushPbb(_) => ActionType::PushPbb,
            Action::PopPbb => ActionType::PopPbb,
            Action::Experimenter { .. } => ActionType::Experimenter,
            Action::Unknown { action_type, .. } => ActionType::from(*action_type),
        }
    }
}

/// Error-location names for a wrong `len` of each fixed-size action.
fn len_field(t: ActionType) -> &'static str {
    match t {
        ActionType::Output => "output.len",
        ActionType::CopyTtlOut => "copy_ttl_out.len",
        ActionType::CopyTtlIn => "copy_ttl_in.len",
        ActionType::SetMplsTtl => "set_mpls_ttl.len",
        ActionType::DecMplsTtl => "dec_mpls_ttl.len",
        ActionType::PushVlan => "push_vlan.len",
        ActionType::PopVlan => "pop_vlan.len",
        ActionType::PushMpls => "push_mpls.len",
        ActionType::PopMpls => "pop_mpls.len",
        ActionType::SetQueue => "set_queue.len",
        ActionType::Group => "group.len",
        ActionType::SetNwTtl => "set_nw_ttl.len",
        ActionType::DecNwTtl => "dec_nw_ttl.len",
        ActionType::SetField => "set_field.len",
        ActionType::PushPbb => "push_pbb.len",
        ActionType::PopPbb => "pop_pbb.len",
        ActionType::Experimenter => "experimenter.len",
        ActionType::Unknown(_) => "action.len",
    }
}

impl Action {
    /// Parses actions until `input` is exhausted (the caller bounds `input` by the enclosing length).
    pub(crate) fn parse_list(mut input: &[u8]) -> PResult<'_, Vec<Action>> {
        // Most actions are 8 or 16 bytes.
        let mut actions = Vec::with_capacity(input.len() / 12);
        while !input.is_empty() {
            let (rest, action) = Action::parse(input)?;
            actions.push(action);
            input = rest;
        }
        Ok((input, actions))
    }

    /// Parses one action.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Action> {
        let (after_type, raw_type) = field("action.type", be_u16)(input)?;
        let (_, len) = field("action.len", be_u16)(after_type)?;
        let len = usize::from(len);
        let action_type = ActionType::from(raw_type);
        let fixed_len = match action_type {
            ActionType::Output => Some(OUTPUT_LEN),
            ActionType::SetField | ActionType::Experimenter | ActionType::Unknown(_) => None,
            _ => Some(SHORT_ACTION_LEN),
        };
        let min_len = match action_type {
            ActionType::SetField | ActionType::Experimenter => SHORT_ACTION_LEN,
            _ => ACTION_HEADER_LEN,
        };
        // §7.2.5: every action's `len` includes padding to a multiple of 8.
        if fixed_len.is_some_and(|fixed| fixed != len) || len < min_len || len % ACTION_ALIGN != 0 {
            return Err(bad_length(after_type, len_field(action_type), len));
        }
        within(input, len, len_field(action_type), |i| {
            let (body, _) = take_exact(i, ACTION_HEADER_LEN, "action.header")?;
            Action::parse_body(action_type, body)
        })
    }

    /// Parses what follows the 4-byte type/len header; `body` is exactly `len - 4` bytes.
    fn parse_body(action_type: ActionType, body: &[u8]) -> PResult<'_, Action> {
        fn ethertype(i: &[u8]) -> PResult<'_, u16> {
            let (i, v) = field("ethertype", be_u16)(i)?;
            let (i, ()) = pad(i, 2)?;
            Ok((i, v))
        }
        fn ttl(i: &[u8]) -> PResult<'_, u8> {
            let (i, v) = field("ttl", be_u8)(i)?;
            let (i, ()) = pad(i, 3)?;
            Ok((i, v))
        }
        match action_type {
            ActionType::Output => {
                let (i, port) = field("output.port", be_u32)(body)?;
                let (i, max_len) = field("output.max_len", be_u16)(i)?;
                let (i, ()) = pad(i, 6)?;
                Ok((i, Action::Output { port: PortNo(port), max_len }))
            }
            ActionType::CopyTtlOut => pad(body, 4).map(|(i, ())| (i, Action::CopyTtlOut)),
            ActionType::CopyTtlIn => pad(body, 4).map(|(i, ())| (i, Action::CopyTtlIn)),
            ActionType::SetMplsTtl => ttl(body).map(|(i, v)| (i, Action::SetMplsTtl(v))),
            ActionType::DecMplsTtl => pad(body, 4).map(|(i, ())| (i, Action::DecMplsTtl)),
            ActionType::PushVlan => ethertype(body).map(|(i, v)| (i, Action::PushVlan(v))),
            ActionType::PopVlan => pad(body, 4).map(|(i, ())| (i, Action::PopVlan)),
            ActionType::PushMpls => ethertype(body).map(|(i, v)| (i, Action::PushMpls(v))),
            ActionType::PopMpls => ethertype(body).map(|(i, v)| (i, Action::PopMpls(v))),
            ActionType::SetQueue => {
                field("set_queue.queue_id", be_u32)(body).map(|(i, v)| (i, Action::SetQueue(v)))
            }
            ActionType::Group => field("group.group_id", be_u32)(body).map(|(i, v)| (i, Action::Group(v))),
            ActionType::SetNwTtl => ttl(body).map(|(i, v)| (i, Action::SetNwTtl(v))),
            ActionType::DecNwTtl => pad(body, 4).map(|(i, ())| (i, Action::DecNwTtl)),
            ActionType::PushPbb => ethertype(body).map(|(i, v)| (i, Action::PushPbb(v))),
            ActionType::PopPbb => pad(body, 4).map(|(i, ())| (i, Action::PopPbb)),
            ActionType::SetField => {
                let (i, oxm) = Oxm::parse(body)?;
                // §7.2.5 `ofp_action_set_field`: the OXM is followed by the minimum padding that
                // makes the action a multiple of 8 bytes. More than that could not re-encode exactly.
                let expected = (ACTION_HEADER_LEN + oxm.encoded_len()).next_multiple_of(ACTION_ALIGN);
                let actual = ACTION_HEADER_LEN + body.len();
                if actual != expected {
                    return Err(bad_length(body, "set_field.len", actual));
                }
                Ok((&i[i.len()..], Action::SetField(oxm)))
            }
            ActionType::Experimenter => {
                let (data, experimenter) = field("experimenter.experimenter", be_u32)(body)?;
                let data = Bytes::copy_from_slice(data);
                Ok((&body[body.len()..], Action::Experimenter { experimenter, data }))
            }
            ActionType::Unknown(action_type) => {
                let body_bytes = Bytes::copy_from_slice(body);
                Ok((&body[body.len()..], Action::Unknown { action_type, body: body_bytes }))
            }
        }
    }

    pub(crate) fn emit_list(actions: &[Action], buf: &mut BytesMut) {
        for action in actions {
            action.emit(buf);
        }
    }

    /// Appends one action with its length (and, for set_field, padding) computed.
    ///
    /// Fixed-size actions are assembled on the stack and written with one fixed-size copy, and each
    /// arm writes its own type number (no second dispatch through [`Action::action_type`]): per-call
    /// overhead dominates the cost of encoding a FLOW_MOD.
    pub(crate) fn emit(&self, buf: &mut BytesMut) {
        /// An 8-byte action (`ofp_action_generic` and kin, §7.2.5): type, len 8, 4 body bytes.
        fn short(buf: &mut BytesMut, action_type: ActionType, [a, b, c, d]: [u8; 4]) {
            let [t0, t1] = action_type.value().to_be_bytes();
            buf.put_slice(&[t0, t1, 0, SHORT_ACTION_LEN as u8, a, b, c, d]);
        }
        match self {
            Action::Output { port, max_len } => {
                // `ofp_action_output` (§7.2.5): type 0, len 16, port, max_len, pad[6].
                let [t0, t1] = ActionType::Output.value().to_be_bytes();
                let [p0, p1, p2, p3] = port.0.to_be_bytes();
                let [m0, m1] = max_len.to_be_bytes();
                buf.put_slice(&[t0, t1, 0, OUTPUT_LEN as u8, p0, p1, p2, p3, m0, m1, 0, 0, 0, 0, 0, 0]);
            }
            Action::CopyTtlOut => short(buf, ActionType::CopyTtlOut, [0; 4]),
            Action::CopyTtlIn => short(buf, ActionType::CopyTtlIn, [0; 4]),
            Action::DecMplsTtl => short(buf, ActionType::DecMplsTtl, [0; 4]),
            Action::PopVlan => short(buf, ActionType::PopVlan, [0; 4]),
            Action::DecNwTtl => short(buf, ActionType::DecNwTtl, [0; 4]),
            Action::PopPbb => short(buf, ActionType::PopPbb, [0; 4]),
            Action::SetMplsTtl(ttl) => short(buf, ActionType::SetMplsTtl, [*ttl, 0, 0, 0]),
            Action::SetNwTtl(ttl) => short(buf, ActionType::SetNwTtl, [*ttl, 0, 0, 0]),
            Action::PushVlan(ethertype) => short(buf, ActionType::PushVlan, ethertype_body(*ethertype)),
            Action::PushMpls(ethertype) => short(buf, ActionType::PushMpls, ethertype_body(*ethertype)),
            Action::PopMpls(ethertype) => short(buf, ActionType::PopMpls, ethertype_body(*ethertype)),
            Action::PushPbb(ethertype) => short(buf, ActionType::PushPbb, ethertype_body(*ethertype)),
            Action::SetQueue(id) => short(buf, ActionType::SetQueue, id.to_be_bytes()),
            Action::Group(id) => short(buf, ActionType::Group, id.to_be_bytes()),
            Action::SetField(oxm) => {
                // Length known up front (no back-patch): header + TLV, padded to 8 (§7.2.5).
                let start = buf.len();
                let [t0, t1] = ActionType::SetField.value().to_be_bytes();
                let tlv_len = oxm.encoded_len();
                let len = (ACTION_HEADER_LEN + tlv_len).next_multiple_of(ACTION_ALIGN);
                let [l0, l1] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
                buf.put_slice(&[t0, t1, l0, l1]);
                oxm.emit(buf);
                pad_to(buf, start, ACTION_ALIGN);
            }
            Action::Experimenter { experimenter, data } => {
                let start = buf.len();
                buf.put_slice(&ActionType::Experimenter.value().to_be_bytes());
                let len = LenPatch::u16(buf, start);
                buf.put_u32(*experimenter);
                buf.put_slice(data);
                // Decoded `data` already includes the sender's padding (the decoder only accepts
                // lengths that are multiples of 8); this pads only bodies built in code.
                pad_to(buf, start, ACTION_ALIGN);
                len.finish(buf);
            }
            Action::Unknown { action_type, body } => {
                let start = buf.len();
                buf.put_slice(&action_type.to_be_bytes());
                let len = LenPatch::u16(buf, start);
                buf.put_slice(body);
                pad_to(buf, start, ACTION_ALIGN);
                len.finish(buf);
            }
        }
    }

    /// Encoded size of the action.
    pub fn encoded_len(&self) -> usize {
        match self {
            Action::Output { .. } => OUTPUT_LEN,
            Action::SetField(oxm) => (ACTION_HEADER_LEN + oxm.encoded_len()).next_multiple_of(ACTION_ALIGN),
            Action::Experimenter { data, .. } => {
                (EXPERIMENTER_HEADER_LEN + data.len()).next_multiple_of(ACTION_ALIGN)
            }
            Action::Unknown { body, .. } => (ACTION_HEADER_LEN + body.len()).next_multiple_of(ACTION_ALIGN),
            _ => SHORT_ACTION_LEN,
        }
    }
}

/// The body of the push/pop actions that carry an ethertype: ethertype, pad[2] (§7.2.5).
fn ethertype_body(ethertype: u16) -> [u8; 4] {
    let [e0, e1] = ethertype.to_be_bytes();
    [e0, e1, 0, 0]
}

/// ovs-ofctl-like text: `output:3`, `CONTROLLER:65535`, `set_field:10.0.0.2->ipv4_dst`, `group:1`.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output { port, max_len } if *port == PortNo::CONTROLLER => {
                write!(f, "CONTROLLER:{max_len}")
            }
            Action::Output { port, .. } => match port.reserved_name() {
                Some(name) => f.write_str(name),
                None => write!(f, "output:{}", port.0),
            },
            Action::CopyTtlOut => f.write_str("copy_ttl_out"),
            Action::CopyTtlIn => f.write_str("copy_ttl_in"),
            Action::SetMplsTtl(ttl) => write!(f, "set_mpls_ttl:{ttl}"),
            Action::DecMplsTtl => f.write_str("dec_mpls_ttl"),
            Action::PushVlan(t) => write!(f, "push_vlan:{t:#06x}"),
            Action::PopVlan => f.write_str("pop_vlan"),
            Action::PushMpls(t) => write!(f, "push_mpls:{t:#06x}"),
            Action::PopMpls(t) => write!(f, "pop_mpls:{t:#06x}"),
            Action::SetQueue(q) => write!(f, "set_queue:{q}"),
            Action::Group(g) => write!(f, "group:{g}"),
            Action::SetNwTtl(ttl) => write!(f, "set_nw_ttl:{ttl}"),
            Action::DecNwTtl => f.write_str("dec_ttl"),
            Action::SetField(oxm) => {
                f.write_str("set_field:")?;
                oxm.fmt_value(f)?;
                write!(f, "->{}", oxm.field_name())
            }
            Action::PushPbb(t) => write!(f, "push_pbb:{t:#06x}"),
            Action::PopPbb => f.write_str("pop_pbb"),
            Action::Experimenter { experimenter, data } => {
                write!(f, "experimenter({experimenter:#010x},data=0x")?;
                data.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str(")")
            }
            Action::Unknown { action_type, body } => {
                write!(f, "unknown_action(type={action_type},body=0x")?;
                body.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str(")")
            }
        }
    }
}
