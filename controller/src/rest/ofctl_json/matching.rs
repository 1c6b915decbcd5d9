//! Flow match ↔ Ryu's ofctl match JSON (`to_match` / `match_to_str` in `ryu/lib/ofctl_v1_3.py`).
//!
//! Input accepts the OXM names (`eth_dst`, `ipv4_src`, `tcp_dst`, ...) and Ryu's OpenFlow 1.0 aliases
//! (`dl_dst`, `dl_type`, `dl_vlan`, `nw_src`, `nw_proto`, `tp_dst`); `nw_src`/`nw_dst` become
//! `arp_spa`/`arp_tpa` when `eth_type` is ARP, and `tp_src`/`tp_dst` become TCP or UDP ports by
//! `ip_proto`, as Ryu does. Masks are written `"value/mask"`, IPv4/IPv6 also as `"addr/prefixlen"`.
//! `vlan_vid` follows Ryu: a decimal number is a VLAN id (`OFPVID_PRESENT` added), a hex string is the
//! raw OXM value (OF1.3.5 §7.2.3.8). Output uses the OXM names with Ryu's value formatting.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ofproto::MacAddr;
use ofproto::PortNo;
use ofproto::oxm::{Match, OFPVID_PRESENT, Oxm};
use serde_json::{Map, Value};

use super::{BodyError, Obj, Reserved, kind, parse_int_text, parse_uint};

/// Converts an ofctl match object (`{"in_port": 1, "dl_type": 2048, ...}`) to a [`Match`].
pub fn match_from_json(obj: Obj<'_>) -> Result<Match, BodyError> {
    let eth_type_is_arp = ["eth_type", "dl_type"]
        .iter()
        .filter_map(|k| obj.get(k))
        .any(|v| parse_uint(v, u64::from(u16::MAX)) == Ok(0x0806));
    let mut m = Match::default();
    for (key, value) in obj.map {
        if value.is_null() {
            continue;
        }
        let path = obj.field(key);
        let name = canonical_name(key, eth_type_is_arp, obj, &path)?;
        let oxm = oxm_from_json(&name, value, (&path, &path), false)?;
        if let Some(field) = oxm.basic_field()
            && m.get(field).is_some()
        {
            return Err(BodyError::new(path, format!("{name} is given twice (once under another name)")));
        }
        m.insert(oxm);
    }
    Ok(m)
}

/// Maps Ryu's OpenFlow 1.0 field names to OXM names.
fn canonical_name(key: &str, eth_type_is_arp: bool, obj: Obj<'_>, path: &str) -> Result<String, BodyError> {
    let name = match key {
        "dl_dst" => "eth_dst",
        "dl_src" => "eth_src",
        "dl_type" => "eth_type",
        "dl_vlan" => "vlan_vid",
        "nw_proto" => "ip_proto",
        "nw_src" if eth_type_is_arp => "arp_spa",
        "nw_dst" if eth_type_is_arp => "arp_tpa",
        "nw_src" => "ipv4_src",
        "nw_dst" => "ipv4_dst",
        "tp_src" | "tp_dst" => {
            let proto = ["ip_proto", "nw_proto"].iter().find_map(|k| obj.get(k)).map(|v| parse_uint(v, 255));
            let prefix = match proto {
                Some(Ok(6)) => "tcp",
                Some(Ok(17)) => "udp",
                _ => {
                    return Err(BodyError::new(
                        path,
                        "tp_src/tp_dst need ip_proto (or nw_proto) 6 (TCP) or 17 (UDP)",
                    ));
                }
            };
            return Ok(format!("{prefix}_{}", &key[3..]));
        }
        other => other,
    };
    Ok(name.to_string())
}

fn text<'v>(v: &'v Value, path: &str) -> Result<&'v str, BodyError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(BodyError::new(path, format!("expected a string, got {}", kind(other)))),
    }
}

/// Splits `"value/mask"`; a mask is an error when `maskable` is false.
fn split_mask<'v>(s: &'v str, maskable: bool, path: &str) -> Result<(&'v str, Option<&'v str>), BodyError> {
    match s.split_once('/') {
        Some(_) if !maskable => Err(BodyError::new(path, format!("this field takes no mask, got {s:?}"))),
        Some((v, m)) => Ok((v, Some(m))),
        None => Ok((s, None)),
    }
}

fn mac(v: &Value, maskable: bool, path: &str) -> Result<(MacAddr, Option<MacAddr>), BodyError> {
    let s = text(v, path)?;
    let (value, mask) = split_mask(s, maskable, path)?;
    let parse = |t: &str| {
        MacAddr::from_str(t).map_err(|_| BodyError::new(path, format!("invalid MAC address {t:?}")))
    };
    Ok((parse(value)?, mask.map(parse).transpose()?))
}

fn ipv4(v: &Value, maskable: bool, path: &str) -> Result<(Ipv4Addr, Option<Ipv4Addr>), BodyError> {
    let s = text(v, path)?;
    let (value, mask) = split_mask(s, maskable, path)?;
    let addr = Ipv4Addr::from_str(value)
        .map_err(|_| BodyError::new(path, format!("invalid IPv4 address {value:?}")))?;
    let mask = match mask {
        None => None,
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => match m.parse::<u32>() {
            Ok(len @ 0..=32) => Some(Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0))),
            _ => return Err(BodyError::new(path, format!("invalid IPv4 prefix length {m:?}"))),
        },
        Some(m) => Some(
            Ipv4Addr::from_str(m).map_err(|_| BodyError::new(path, format!("invalid IPv4 mask {m:?}")))?,
        ),
    };
    Ok((addr, mask))
}

fn ipv6(v: &Value, maskable: bool, path: &str) -> Result<(Ipv6Addr, Option<Ipv6Addr>), BodyError> {
    let s = text(v, path)?;
    let (value, mask) = split_mask(s, maskable, path)?;
    let addr = Ipv6Addr::from_str(value)
        .map_err(|_| BodyError::new(path, format!("invalid IPv6 address {value:?}")))?;
    let mask = match mask {
        None => None,
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => match m.parse::<u32>() {
            Ok(len @ 0..=128) => Some(Ipv6Addr::from(u128::MAX.checked_shl(128 - len).unwrap_or(0))),
            _ => return Err(BodyError::new(path, format!("invalid IPv6 prefix length {m:?}"))),
        },
        Some(m) => Some(
            Ipv6Addr::from_str(m).map_err(|_| BodyError::new(path, format!("invalid IPv6 mask {m:?}")))?,
        ),
    };
    Ok((addr, mask))
}

fn uint(v: &Value, max: u64, path: &str) -> Result<u64, BodyError> {
    parse_uint(v, max).map_err(|m| BodyError::new(path, m))
}

/// `to_match_masked_int`: a number, or `"value/mask"` with each part in Python `int(x, 0)` syntax.
fn masked_uint(v: &Value, max: u64, maskable: bool, path: &str) -> Result<(u64, Option<u64>), BodyError> {
    if let Value::String(s) = v
        && s.contains('/')
    {
        let (value, mask) = split_mask(s, maskable, path)?;
        let part = |t: &str| {
            parse_int_text(t).filter(|n| *n <= max).ok_or_else(|| {
                BodyError::new(path, format!("expected an integer from 0 to {max}, got {t:?}"))
            })
        };
        return Ok((part(value)?, mask.map(part).transpose()?));
    }
    Ok((uint(v, max, path)?, None))
}

/// `to_match_vid`: a JSON number or decimal string is a VLAN id (`OFPVID_PRESENT` is added); a hex
/// string or `"value/mask"` is the raw OXM value.
fn vlan_vid(v: &Value, maskable: bool, path: &str) -> Result<(u16, Option<u16>), BodyError> {
    let decimal = match v {
        Value::Number(_) => true,
        Value::String(s) => !s.contains('/') && !s.is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    if decimal {
        let vid = uint(v, 0x0fff, path)? as u16;
        return Ok((vid | OFPVID_PRESENT, None));
    }
    let (value, mask) = masked_uint(v, 0x1fff, maskable, path)?;
    Ok((value as u16, mask.map(|m| m as u16)))
}

/// One OXM from its name and JSON value; errors name `name_path` for an unknown field and `path` for
/// a bad value (the same key in a match, `field` and `value` in a SET_FIELD action). `set_field`
/// values take no mask (OF1.3.5 §7.2.5).
pub fn oxm_from_json(
    name: &str,
    v: &Value,
    (name_path, path): (&str, &str),
    set_field: bool,
) -> Result<Oxm, BodyError> {
    let m = !set_field;
    const U8: u64 = u8::MAX as u64;
    const U16: u64 = u16::MAX as u64;
    const U32: u64 = u32::MAX as u64;
    Ok(match name {
        "in_port" => {
            Oxm::InPort(PortNo(Reserved::Port.from_user(v).map_err(|e| BodyError::new(path, e))? as u32))
        }
        "in_phy_port" => Oxm::InPhyPort(PortNo(uint(v, U32, path)? as u32)),
        "metadata" => {
            let (value, mask) = masked_uint(v, u64::MAX, m, path)?;
            Oxm::Metadata(value, mask)
        }
        "eth_dst" => {
            let (a, mk) = mac(v, m, path)?;
            Oxm::EthDst(a, mk)
        }
        "eth_src" => {
            let (a, mk) = mac(v, m, path)?;
            Oxm::EthSrc(a, mk)
        }
        "eth_type" => Oxm::EthType(uint(v, U16, path)? as u16),
        "vlan_vid" => {
            let (value, mask) = vlan_vid(v, m, path)?;
            Oxm::VlanVid(value, mask)
        }
        "vlan_pcp" => Oxm::VlanPcp(uint(v, 7, path)? as u8),
        "ip_dscp" => Oxm::IpDscp(uint(v, 63, path)? as u8),
        "ip_ecn" => Oxm::IpEcn(uint(v, 3, path)? as u8),
        "ip_proto" => Oxm::IpProto(uint(v, U8, path)? as u8),
        "ipv4_src" => {
            let (a, mk) = ipv4(v, m, path)?;
            Oxm::Ipv4Src(a, mk)
        }
        "ipv4_dst" => {
            let (a, mk) = ipv4(v, m, path)?;
            Oxm::Ipv4Dst(a, mk)
        }
        "tcp_src" => Oxm::TcpSrc(uint(v, U16, path)? as u16),
        "tcp_dst" => Oxm::TcpDst(uint(v, U16, path)? as u16),
        "udp_src" => Oxm::UdpSrc(uint(v, U16, path)? as u16),
        "udp_dst" => Oxm::UdpDst(uint(v, U16, path)? as u16),
        "sctp_src" => Oxm::SctpSrc(uint(v, U16, path)? as u16),
        "sctp_dst" => Oxm::SctpDst(uint(v, U16, path)? as u16),
        "icmpv4_type" => Oxm::Icmpv4Type(uint(v, U8, path)? as u8),
        "icmpv4_code" => Oxm::Icmpv4Code(uint(v, U8, path)? as u8),
        "arp_op" => Oxm::ArpOp(uint(v, U16, path)? as u16),
        "arp_spa" => {
            let (a, mk) = ipv4(v, m, path)?;
            Oxm::ArpSpa(a, mk)
        }
        "arp_tpa" => {
            let (a, mk) = ipv4(v, m, path)?;
            Oxm::ArpTpa(a, mk)
        }
        "arp_sha" => {
            let (a, mk) = mac(v, m, path)?;
            Oxm::ArpSha(a, mk)
        }
        "arp_tha" => {
            let (a, mk) = mac(v, m, path)?;
            Oxm::ArpTha(a, mk)
        }
        "ipv6_src" => {
            let (a, mk) = ipv6(v, m, path)?;
            Oxm::Ipv6Src(a, mk)
        }
        "ipv6_dst" => {
            let (a, mk) = ipv6(v, m, path)?;
            Oxm::Ipv6Dst(a, mk)
        }
        "ipv6_flabel" => {
            let (value, mask) = masked_uint(v, 0xf_ffff, m, path)?;
            Oxm::Ipv6Flabel(value as u32, mask.map(|x| x as u32))
        }
        "icmpv6_type" => Oxm::Icmpv6Type(uint(v, U8, path)? as u8),
        "icmpv6_code" => Oxm::Icmpv6Code(uint(v, U8, path)? as u8),
        "ipv6_nd_target" => Oxm::Ipv6NdTarget(ipv6(v, false, path)?.0),
        "ipv6_nd_sll" => Oxm::Ipv6NdSll(mac(v, false, path)?.0),
        "ipv6_nd_tll" => Oxm::Ipv6NdTll(mac(v, false, path)?.0),
        "mpls_label" => Oxm::MplsLabel(uint(v, 0xf_ffff, path)? as u32),
        "mpls_tc" => Oxm::MplsTc(uint(v, 7, path)? as u8),
        "mpls_bos" => Oxm::MplsBos(uint(v, 1, path)? as u8),
        "pbb_isid" => {
            let (value, mask) = masked_uint(v, 0xff_ffff, m, path)?;
            Oxm::PbbIsid(value as u32, mask.map(|x| x as u32))
        }
        "tunnel_id" => {
            let (value, mask) = masked_uint(v, u64::MAX, m, path)?;
            Oxm::TunnelId(value, mask)
        }
        "ipv6_exthdr" => {
            let (value, mask) = masked_uint(v, 0x1ff, m, path)?;
            Oxm::Ipv6Exthdr(value as u16, mask.map(|x| x as u16))
        }
        other => return Err(BodyError::new(name_path, format!("unknown match field {other:?}"))),
    })
}

/// `match_vid_to_str`: a VLAN id when `OFPVID_PRESENT` is set and there is no mask, else raw hex.
fn vid_to_json(value: u16, mask: Option<u16>) -> Value {
    match mask {
        Some(mask) => Value::from(format!("{value:#06x}/{mask:#06x}")),
        None if value & OFPVID_PRESENT != 0 => Value::from((value & !OFPVID_PRESENT).to_string()),
        None => Value::from(format!("{value:#06x}")),
    }
}

fn masked<T: ToString>(value: T, mask: &Option<T>, plain: impl FnOnce(T) -> Value) -> Value {
    match mask {
        Some(m) => Value::from(format!("{}/{}", value.to_string(), m.to_string())),
        None => plain(value),
    }
}

/// The JSON value of an OXM as `match_to_str` prints it: numbers as numbers, addresses as strings,
/// masked values as `"value/mask"`, `in_port` by reserved name, `vlan_vid` by `match_vid_to_str`.
pub fn oxm_value_json(oxm: &Oxm) -> Value {
    let num = |n: u64| Value::from(n);
    match oxm {
        Oxm::InPort(p) => Reserved::Port.to_user(u64::from(p.0)),
        Oxm::InPhyPort(p) => num(u64::from(p.0)),
        Oxm::Metadata(v, m) | Oxm::TunnelId(v, m) => masked(*v, m, num),
        Oxm::EthDst(v, m) | Oxm::EthSrc(v, m) | Oxm::ArpSha(v, m) | Oxm::ArpTha(v, m) => {
            masked(*v, m, |v| Value::from(v.to_string()))
        }
        Oxm::EthType(v) | Oxm::TcpSrc(v) | Oxm::TcpDst(v) | Oxm::UdpSrc(v) | Oxm::UdpDst(v) => {
            num(u64::from(*v))
        }
        Oxm::SctpSrc(v) | Oxm::SctpDst(v) | Oxm::ArpOp(v) => num(u64::from(*v)),
        Oxm::VlanVid(v, m) => vid_to_json(*v, *m),
        Oxm::VlanPcp(v) | Oxm::IpDscp(v) | Oxm::IpEcn(v) | Oxm::IpProto(v) => num(u64::from(*v)),
        Oxm::Icmpv4Type(v) | Oxm::Icmpv4Code(v) | Oxm::Icmpv6Type(v) | Oxm::Icmpv6Code(v) => {
            num(u64::from(*v))
        }
        Oxm::MplsTc(v) | Oxm::MplsBos(v) => num(u64::from(*v)),
        Oxm::Ipv4Src(v, m) | Oxm::Ipv4Dst(v, m) | Oxm::ArpSpa(v, m) | Oxm::ArpTpa(v, m) => {
            masked(*v, m, |v| Value::from(v.to_string()))
        }
        Oxm::Ipv6Src(v, m) | Oxm::Ipv6Dst(v, m) => masked(*v, m, |v| Value::from(v.to_string())),
        Oxm::Ipv6Flabel(v, m) | Oxm::PbbIsid(v, m) => masked(*v, m, |v| num(u64::from(v))),
        Oxm::Ipv6Exthdr(v, m) => masked(*v, m, |v| num(u64::from(v))),
        Oxm::MplsLabel(v) => num(u64::from(*v)),
        Oxm::Ipv6NdTarget(v) => Value::from(v.to_string()),
        Oxm::Ipv6NdSll(v) | Oxm::Ipv6NdTll(v) => Value::from(v.to_string()),
        Oxm::Other { body, .. } => {
            Value::from(format!("0x{}", body.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        }
    }
}

/// A [`Match`] as Ryu's `match_to_str` prints it: `{"in_port": 1, "eth_type": 2048,
/// "ipv4_dst": "10.0.0.0/255.255.255.0"}`. The first TLV of a field wins, as Ryu's `setdefault`.
pub fn match_to_json(m: &Match) -> Map<String, Value> {
    let mut out = Map::new();
    for oxm in &m.fields {
        out.entry(oxm.field_name().to_string()).or_insert_with(|| oxm_value_json(oxm));
    }
    out
}

/// The `SET_FIELD: {name:value}` text of an action (Ryu prints the Python `str` of the value).
pub fn set_field_str(oxm: &Oxm) -> String {
    let value = match oxm {
        // Ryu prints the raw `vlan_vid` value of a set-field, OFPVID_PRESENT included.
        Oxm::VlanVid(v, _) => v.to_string(),
        Oxm::InPort(p) => p.0.to_string(),
        other => match oxm_value_json(other) {
            Value::String(s) => s,
            v => v.to_string(),
        },
    };
    format!("SET_FIELD: {{{}:{}}}", oxm.field_name(), value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Match, BodyError> {
        match_from_json(Obj::from_value("match", &v).unwrap())
    }

    #[test]
    fn ryu_documented_flow_match() {
        // ofctl_rest.rst "Add a flow entry": {"in_port": 1, "dl_dst": ..., "dl_type": 2048, ...}
        let m = parse(json!({
            "in_port": 1, "dl_src": "aa:bb:cc:11:22:33", "dl_type": 2048,
            "nw_dst": "10.0.0.100/32", "nw_proto": 6, "tp_dst": 80
        }))
        .unwrap();
        let expected = Match::default()
            .in_port(PortNo(1))
            .eth_src("aa:bb:cc:11:22:33".parse().unwrap())
            .eth_type(0x0800)
            .ip_proto(6)
            .ipv4_dst_masked(Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::BROADCAST)
            .tcp_dst(80);
        assert_eq!(m, expected);
        let out = match_to_json(&m);
        assert_eq!(out["in_port"], json!(1));
        assert_eq!(out["eth_type"], json!(2048));
        assert_eq!(out["ipv4_dst"], json!("10.0.0.100/255.255.255.255"));
        assert_eq!(out["tcp_dst"], json!(80));
        assert_eq!(out["eth_src"], json!("aa:bb:cc:11:22:33"));
    }

    #[test]
    fn arp_and_udp_aliases() {
        let m = parse(json!({"dl_type": "0x0806", "nw_src": "10.0.0.1", "nw_dst": "10.0.0.0/8"})).unwrap();
        assert_eq!(m.get_arp_spa(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(
            m.fields.contains(&Oxm::ArpTpa(Ipv4Addr::new(10, 0, 0, 0), Some(Ipv4Addr::new(255, 0, 0, 0))))
        );
        let m = parse(json!({"eth_type": 2048, "ip_proto": 17, "tp_src": 53})).unwrap();
        assert_eq!(m.get_udp_src(), Some(53));
        let err = parse(json!({"tp_dst": 80})).unwrap_err();
        assert_eq!(err.path, "match.tp_dst");
    }

    #[test]
    fn vlan_vid_follows_ryu() {
        assert_eq!(parse(json!({"vlan_vid": 5})).unwrap().fields, vec![Oxm::VlanVid(0x1005, None)]);
        assert_eq!(parse(json!({"dl_vlan": "5"})).unwrap().fields, vec![Oxm::VlanVid(0x1005, None)]);
        assert_eq!(parse(json!({"vlan_vid": "0x1005"})).unwrap().fields, vec![Oxm::VlanVid(0x1005, None)]);
        assert_eq!(
            parse(json!({"vlan_vid": "0x1000/0x1000"})).unwrap().fields,
            vec![Oxm::VlanVid(0x1000, Some(0x1000))]
        );
        assert_eq!(vid_to_json(0x1005, None), json!("5"));
        assert_eq!(vid_to_json(0x0000, None), json!("0x0000"));
        assert_eq!(vid_to_json(0x1000, Some(0x1000)), json!("0x1000/0x1000"));
    }

    #[test]
    fn masked_values_print_like_ryu() {
        let m = parse(json!({"metadata": "0x1/0xff", "eth_dst": "00:00:00:00:00:01/ff:ff:ff:00:00:00", "ipv6_src": "2001:db8::/32"})).unwrap();
        let out = match_to_json(&m);
        assert_eq!(out["metadata"], json!("1/255"));
        assert_eq!(out["eth_dst"], json!("00:00:00:00:00:01/ff:ff:ff:00:00:00"));
        assert_eq!(out["ipv6_src"], json!("2001:db8::/ffff:ffff::"));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(json!({"ipv4_dst": "10.0.0.x"})).unwrap_err();
        assert_eq!(err.to_string(), "match.ipv4_dst: invalid IPv4 address \"10.0.0.x\"");
        assert_eq!(parse(json!({"tcp_dst": 70000})).unwrap_err().path, "match.tcp_dst");
        assert!(parse(json!({"nw_srcc": "1.2.3.4"})).unwrap_err().message.contains("unknown match field"));
        assert!(parse(json!({"eth_type": 2048, "dl_type": 2048})).unwrap_err().message.contains("twice"));
        assert!(parse(json!({"ipv4_src": "1.2.3.4/33"})).is_err());
        assert!(parse(json!({"in_port": "LOCAL"})).is_ok());
        assert!(
            oxm_from_json("ipv4_dst", &json!("10.0.0.0/8"), ("actions[0].field", "actions[0].value"), true)
                .is_err(),
            "set-field takes no mask"
        );
    }

    #[test]
    fn set_field_text() {
        assert_eq!(
            set_field_str(&Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)),
            "SET_FIELD: {ipv4_dst:10.0.0.2}"
        );
        assert_eq!(
            set_field_str(&Oxm::EthDst("00:00:00:00:00:02".parse().unwrap(), None)),
            "SET_FIELD: {eth_dst:00:00:00:00:00:02}"
        );
        assert_eq!(set_field_str(&Oxm::VlanVid(0x1005, None)), "SET_FIELD: {vlan_vid:4101}");
        assert_eq!(set_field_str(&Oxm::TcpDst(8080)), "SET_FIELD: {tcp_dst:8080}");
    }
}
