//! Conversion between ofproto's typed messages and the JSON of Ryu's `ofctl_v1_3` / `ofctl_utils`
//! (what `ryu.app.ofctl_rest` accepts and prints), so scripts written against Ryu work unchanged.
//!
//! This module owns the shared pieces: [`BodyError`] (a bad body, naming the JSON path that failed),
//! [`Obj`] (a path-tracking reader over a JSON object), Ryu's number parsing (`int(str(x), 0)`:
//! decimal, `0x` hex, `0o`, `0b`) and its reserved-number names (`"CONTROLLER"`, `"ALL"`, ...). The
//! per-object conversions live in [`matching`] (flow match), [`actions`] (actions and instructions),
//! [`flows`] (flow mods, flow/table/port/queue statistics) and [`group_meter`] (groups and meters).
//!
//! Ryu silently drops what it does not understand (an unknown match field or action type is only
//! logged); here every unknown or malformed value is a [`BodyError`], so a typo never installs a
//! flow that matches more than intended.

pub mod actions;
pub mod flows;
pub mod group_meter;
pub mod matching;

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// A request body that could not be converted: `path` is where in the JSON (`match.ipv4_dst`,
/// `actions[1].port`), `message` what was wrong with the value there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub path: String,
    pub message: String,
}

impl BodyError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> BodyError {
        BodyError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for BodyError {}

/// Joins a parent path and a key: `join("match", "in_port")` is `"match.in_port"`.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// A JSON object being read, with the path that names it in errors.
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    pub path: &'a str,
    pub map: &'a Map<String, Value>,
}

/// An empty object, for absent optional sub-objects (`"match"` missing means match everything).
pub fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl<'a> Obj<'a> {
    /// Reads `value` as an object named `path`.
    pub fn from_value(path: &'a str, value: &'a Value) -> Result<Obj<'a>, BodyError> {
        match value {
            Value::Object(map) => Ok(Obj { path, map }),
            other => Err(BodyError::new(path, format!("expected a JSON object, got {}", kind(other)))),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn field(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// An unsigned integer no larger than `max`, `default` when absent.
    pub fn uint(&self, key: &str, default: u64, max: u64) -> Result<u64, BodyError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_uint(v, max).map_err(|m| BodyError::new(self.field(key), m)),
        }
    }

    /// A required unsigned integer.
    pub fn required_uint(&self, key: &str, max: u64) -> Result<u64, BodyError> {
        let v = self.get(key).ok_or_else(|| BodyError::new(self.field(key), "missing"))?;
        parse_uint(v, max).map_err(|m| BodyError::new(self.field(key), m))
    }

    /// A number that may also be given by its reserved name (`reserved`), `default` when absent.
    pub fn reserved(&self, key: &str, default: u64, reserved: Reserved) -> Result<u64, BodyError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => reserved.from_user(v).map_err(|m| BodyError::new(self.field(key), m)),
        }
    }

    /// A string, `None` when absent.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, BodyError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(BodyError::new(self.field(key), format!("expected a string, got {}", kind(other))))
            }
        }
    }

    /// A list, empty when absent.
    pub fn list(&self, key: &str) -> Result<&'a [Value], BodyError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => {
                Err(BodyError::new(self.field(key), format!("expected a list, got {}", kind(other))))
            }
        }
    }
}

/// A short description of a JSON value's type, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Python's `int(text, 0)` for non-negative numbers: decimal (no leading zeros), `0x`, `0o`, `0b`,
/// with `_` allowed between digits and surrounding whitespace ignored. `None` if it is not one.
pub fn parse_int_text(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        // Python rejects "010" in base 0 (ambiguous octal) but accepts "0" and "00".
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|b| b != b'0' && b != b'_') {
            return None;
        }
        (10, lower.as_str())
    };
    let digits = digits.strip_prefix('_').filter(|_| radix != 10).unwrap_or(digits);
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    u64::from_str_radix(&digits.replace('_', ""), radix).ok()
}

/// An unsigned integer from a JSON number or a numeric string, at most `max`.
pub fn parse_uint(v: &Value, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => {
            n.as_u64().ok_or_else(|| format!("expected an integer from 0 to {max}, got {n}"))?
        }
        Value::String(s) => {
            parse_int_text(s).ok_or_else(|| format!("expected an integer from 0 to {max}, got {s:?}"))?
        }
        other => return Err(format!("expected an integer, got {}", kind(other))),
    };
    if n > max {
        return Err(format!("{n} is out of range (0 to {max})"));
    }
    Ok(n)
}

/// The families of reserved numbers Ryu lets users write by name (`ofctl_utils.OFCtlUtil`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// `OFPP_*` (OF1.3.5 §7.2.1), 32-bit.
    Port,
    /// `OFPTT_*`, 8-bit.
    Table,
    /// `OFPG_*`, 32-bit.
    Group,
    /// `OFPM_*`, 32-bit.
    Meter,
    /// `OFPQ_*`, 32-bit.
    Queue,
    /// `OFPCML_*`, 16-bit.
    MaxLen,
    /// `OFP_NO_BUFFER`, 32-bit.
    Buffer,
    /// `OFPCR_ROLE_*`, 32-bit.
    Role,
}

impl Reserved {
    fn prefix(self) -> &'static str {
        match self {
            Reserved::Port => "OFPP_",
            Reserved::Table => "OFPTT_",
            Reserved::Group => "OFPG_",
            Reserved::Meter => "OFPM_",
            Reserved::Queue => "OFPQ_",
            Reserved::MaxLen => "OFPCML_",
            Reserved::Buffer => "OFP_",
            Reserved::Role => "OFPCR_ROLE_",
        }
    }

    fn max(self) -> u64 {
        match self {
            Reserved::Table => u64::from(u8::MAX),
            Reserved::MaxLen => u64::from(u16::MAX),
            _ => u64::from(u32::MAX),
        }
    }

    /// The names and values, as in Ryu's `ofproto_v1_3` constants.
    fn names(self) -> &'static [(&'static str, u64)] {
        match self {
            Reserved::Port => &[
                ("MAX", 0xffff_ff00),
                ("IN_PORT", 0xffff_fff8),
                ("TABLE", 0xffff_fff9),
                ("NORMAL", 0xffff_fffa),
                ("FLOOD", 0xffff_fffb),
                ("ALL", 0xffff_fffc),
                ("CONTROLLER", 0xffff_fffd),
                ("LOCAL", 0xffff_fffe),
                ("ANY", 0xffff_ffff),
            ],
            Reserved::Table => &[("MAX", 0xfe), ("ALL", 0xff)],
            Reserved::Group => &[("MAX", 0xffff_ff00), ("ALL", 0xffff_fffc), ("ANY", 0xffff_ffff)],
            Reserved::Meter => &[
                ("MAX", 0xffff_0000),
                ("SLOWPATH", 0xffff_fffd),
                ("CONTROLLER", 0xffff_fffe),
                ("ALL", 0xffff_ffff),
            ],
            Reserved::Queue => &[("ALL", 0xffff_ffff)],
            Reserved::MaxLen => &[("MAX", 0xffe5), ("NO_BUFFER", 0xffff)],
            Reserved::Buffer => &[("NO_BUFFER", 0xffff_ffff)],
            Reserved::Role => &[("NOCHANGE", 0), ("EQUAL", 1), ("MASTER", 2), ("SLAVE", 3)],
        }
    }

    /// Ryu's `_reserved_num_from_user`: a number, a numeric string, or a name with or without its
    /// prefix (`"CONTROLLER"`, `"OFPP_CONTROLLER"`, case-insensitive).
    pub fn from_user(self, v: &Value) -> Result<u64, String> {
        if let Value::String(s) = v
            && parse_int_text(s).is_none()
        {
            let upper = s.trim().to_ascii_uppercase();
            let name = upper.strip_prefix(self.prefix()).unwrap_or(&upper);
            return self.names().iter().find(|(n, _)| *n == name).map(|(_, value)| *value).ok_or_else(|| {
                let known: Vec<&str> = self.names().iter().map(|(n, _)| *n).collect();
                format!("expected a number or one of {}, got {s:?}", known.join(", "))
            });
        }
        parse_uint(v, self.max())
    }

    /// Ryu's `_reserved_num_to_user`: the name for a reserved value, else the number.
    pub fn to_user(self, n: u64) -> Value {
        match self.names().iter().find(|(_, value)| *value == n) {
            Some((name, _)) => Value::from(*name),
            None => Value::from(n),
        }
    }

    /// [`to_user`](Self::to_user) as Ryu's `str()` of it, for action strings (`OUTPUT:CONTROLLER`).
    pub fn to_user_str(self, n: u64) -> String {
        match self.to_user(n) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

/// The `data` of an experimenter action or message, as `data_type` says: `ascii` (the default) or
/// `base64` (Ryu's `ofctl_v1_3`). Ryu encodes ascii data with Python's `str.encode('ascii')`, so
/// text outside ASCII is refused here as there.
pub fn experimenter_data(obj: Obj<'_>) -> Result<Vec<u8>, BodyError> {
    let data = obj.str("data")?.unwrap_or("");
    match obj.str("data_type")?.unwrap_or("ascii") {
        "ascii" if data.is_ascii() => Ok(data.as_bytes().to_vec()),
        "ascii" => {
            Err(BodyError::new(obj.field("data"), "not ASCII (send other bytes with data_type base64)"))
        }
        "base64" => {
            base64_decode(data).map_err(|e| BodyError::new(obj.field("data"), format!("invalid base64: {e}")))
        }
        other => {
            Err(BodyError::new(obj.field("data_type"), format!("expected ascii or base64, got {other:?}")))
        }
    }
}

/// Standard base64 with padding (what Python's `base64.b64encode` produces).
pub fn base64_encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard base64, padding optional (Ryu's users send both forms).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT_PADDING.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_int_base_zero() {
        assert_eq!(parse_int_text("1"), Some(1));
        assert_eq!(parse_int_text("0x1A"), Some(26));
        assert_eq!(parse_int_text(" 0o17 "), Some(15));
        assert_eq!(parse_int_text("0b101"), Some(5));
        assert_eq!(parse_int_text("1_000"), Some(1000));
        assert_eq!(parse_int_text("0"), Some(0));
        assert_eq!(parse_int_text("00"), Some(0));
        assert_eq!(parse_int_text("010"), None, "Python rejects leading zeros in base 0");
        assert_eq!(parse_int_text("0x"), None);
        assert_eq!(parse_int_text("1__0"), None);
        assert_eq!(parse_int_text("-1"), None);
        assert_eq!(parse_int_text("abc"), None);
        assert_eq!(parse_int_text("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_int_text("0x10000000000000000"), None);
    }

    #[test]
    fn reserved_names_both_ways() {
        assert_eq!(Reserved::Port.from_user(&json!("CONTROLLER")), Ok(0xffff_fffd));
        assert_eq!(Reserved::Port.from_user(&json!("ofpp_local")), Ok(0xffff_fffe));
        assert_eq!(Reserved::Port.from_user(&json!(2)), Ok(2));
        assert_eq!(Reserved::Port.from_user(&json!("2")), Ok(2));
        assert!(Reserved::Port.from_user(&json!("PORT9")).unwrap_err().contains("CONTROLLER"));
        assert_eq!(Reserved::Table.from_user(&json!(256)), Err("256 is out of range (0 to 255)".to_string()));
        assert_eq!(Reserved::Port.to_user(0xffff_fffd), json!("CONTROLLER"));
        assert_eq!(Reserved::Port.to_user(3), json!(3));
        assert_eq!(Reserved::Group.to_user_str(0xffff_fffc), "ALL");
        assert_eq!(Reserved::Role.to_user(2), json!("MASTER"));
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(base64_encode(b"jikken data"), "amlra2VuIGRhdGE=");
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_decode("amlra2VuIGRhdGE=").unwrap(), b"jikken data");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert!(base64_decode("a!b").is_err());
        assert!(base64_decode("YWJ").is_err(), "trailing bits that are not zero");
    }

    #[test]
    fn reader_names_the_path() {
        let v = json!({"priority": "high", "actions": 3});
        let obj = Obj::from_value("", &v).unwrap();
        assert_eq!(
            obj.uint("priority", 0, 65535).unwrap_err().to_string(),
            "priority: expected an integer from 0 to 65535, got \"high\""
        );
        assert_eq!(obj.list("actions").unwrap_err().path, "actions");
        assert_eq!(obj.uint("idle_timeout", 7, 65535), Ok(7));
    }
}
