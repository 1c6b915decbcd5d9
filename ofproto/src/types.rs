//! Small value types shared by every message family: open enums, port numbers, MAC addresses,
//! fixed-size NUL-padded strings, and serde helpers for byte payloads.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Declares an *open* enum over an integer: known values get names, any other value is kept as
/// `Unknown(n)` so it round-trips instead of failing (smoltcp's `enum_with_unknown!`).
///
/// Serialises as the variant name for known values and as the bare number for unknown ones.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this library has no name for; kept so it round-trips.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// The wire value.
            pub fn value(self) -> $repr {
                <$repr>::from(self)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant => s.serialize_str(stringify!($variant)), )+
                    $name::Unknown(other) => s.serialize_u64(u64::from(*other)),
                }
            }
        }
    };
}
pub(crate) use open_enum;

/// An OpenFlow port number (`ofp_port_no`, OF1.3.5 §7.2.1), with the reserved ports as constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PortNo(pub u32);

impl PortNo {
    /// Maximum number of physical and logical switch ports.
    pub const MAX: PortNo = PortNo(0xffff_ff00);
    /// Send the packet out the input port.
    pub const IN_PORT: PortNo = PortNo(0xffff_fff8);
    /// Submit the packet to the first flow table (packet-out only).
    pub const TABLE: PortNo = PortNo(0xffff_fff9);
    /// Forward using non-OpenFlow pipeline.
    pub const NORMAL: PortNo = PortNo(0xffff_fffa);
    /// Flood using non-OpenFlow pipeline.
    pub const FLOOD: PortNo = PortNo(0xffff_fffb);
    /// All standard ports except input port.
    pub const ALL: PortNo = PortNo(0xffff_fffc);
    /// Send to controller.
    pub const CONTROLLER: PortNo = PortNo(0xffff_fffd);
    /// Local openflow "port".
    pub const LOCAL: PortNo = PortNo(0xffff_fffe);
    /// Special value used in some requests when no port is specified (i.e. wildcarded).
    pub const ANY: PortNo = PortNo(0xffff_ffff);

    /// Name of a reserved port, if this is one.
    pub fn reserved_name(self) -> Option<&'static str> {
        Some(match self {
            PortNo::IN_PORT => "IN_PORT",
            PortNo::TABLE => "TABLE",
            PortNo::NORMAL => "NORMAL",
            PortNo::FLOOD => "FLOOD",
            PortNo::ALL => "ALL",
            PortNo::CONTROLLER => "CONTROLLER",
            PortNo::LOCAL => "LOCAL",
            PortNo::ANY => "ANY",
            _ => return None,
        })
    }
}

impl From<u32> for PortNo {
    fn from(v: u32) -> Self {
        PortNo(v)
    }
}

impl fmt::Display for PortNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reserved_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Group id `OFPG_ALL` / `OFPG_ANY` (OF1.3.5 §7.3.4.2).
pub mod group_id {
    pub const MAX: u32 = 0xffff_ff00;
    pub const ALL: u32 = 0xffff_fffc;
    pub const ANY: u32 = 0xffff_ffff;
}

/// Special buffer id meaning "no buffer" (`OFP_NO_BUFFER`).
pub const NO_BUFFER: u32 = 0xffff_ffff;

/// `OFPTT_ALL`: every table, in flow-mod deletes and stats requests.
pub const TABLE_ALL: u8 = 0xff;

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

/// Hashes the address as one integer: one hasher call instead of a length prefix and a byte slice,
/// which matters to controllers that look MACs up per PACKET_IN. Equal addresses hash equally.
impl std::hash::Hash for MacAddr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let b = self.0;
        state.write_u64(u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]));
    }
}

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// Error parsing a MAC address from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex octets separated by ':'")]
pub struct MacAddrParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacAddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(|| MacAddrParseError(s.to_string()))?;
            if part.is_empty() || part.len() > 2 {
                return Err(MacAddrParseError(s.to_string()));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| MacAddrParseError(s.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(MacAddrParseError(s.to_string()));
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A fixed-size, NUL-padded text field (`char name[OFP_MAX_PORT_NAME_LEN]` and friends).
///
/// Keeps the raw bytes so that a field with bytes after the first NUL still re-encodes exactly;
/// [`FixedStr::as_str`] gives the text up to the first NUL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedStr<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedStr<N> {
    /// The text before the first NUL, with invalid UTF-8 replaced.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        String::from_utf8_lossy(&self.0[..end])
    }

    /// Builds the field from text, truncated so a terminating NUL always fits.
    pub fn new(text: &str) -> Self {
        let mut raw = [0u8; N];
        let len = text.len().min(N.saturating_sub(1));
        raw[..len].copy_from_slice(&text.as_bytes()[..len]);
        FixedStr(raw)
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        FixedStr([0; N])
    }
}

impl<const N: usize> From<&str> for FixedStr<N> {
    fn from(s: &str) -> Self {
        FixedStr::new(s)
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl<const N: usize> Serialize for FixedStr<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

/// serde helper: serialise opaque bytes as a lowercase hex string (`#[serde(serialize_with = ...)]`).
pub fn serialize_hex<S: Serializer, B: AsRef<[u8]>>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
    use std::fmt::Write;
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    s.serialize_str(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    open_enum! {
        enum Colour: u8 { Red = 1, Green = 2 }
    }

    #[test]
    fn open_enum_round_trips_unknown() {
        assert_eq!(Colour::from(1), Colour::Red);
        assert_eq!(Colour::from(9), Colour::Unknown(9));
        assert_eq!(u8::from(Colour::Unknown(9)), 9);
        assert_eq!(Colour::Green.value(), 2);
    }

    #[test]
    fn mac_parse_and_display() {
        let mac: MacAddr = "f2:0b:a4:7d:f8:ea".parse().unwrap();
        assert_eq!(mac.0, [0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea]);
        assert_eq!(mac.to_string(), "f2:0b:a4:7d:f8:ea");
        assert!("f2:0b:a4:7d:f8".parse::<MacAddr>().is_err());
        assert!("f2:0b:a4:7d:f8:ea:01".parse::<MacAddr>().is_err());
        assert!("zz:0b:a4:7d:f8:ea".parse::<MacAddr>().is_err());
    }

    #[test]
    fn fixed_str_keeps_raw_bytes() {
        let mut raw = [0u8; 16];
        raw[..4].copy_from_slice(b"eth0");
        raw[10] = 0x41; // garbage after the NUL survives
        let s = FixedStr(raw);
        assert_eq!(s.as_str(), "eth0");
        assert_eq!(s.0[10], 0x41);
        assert_eq!(FixedStr::<4>::new("abcdef").as_str(), "abc");
    }

    #[test]
    fn reserved_port_names() {
        assert_eq!(PortNo::CONTROLLER.to_string(), "CONTROLLER");
        assert_eq!(PortNo(3).to_string(), "3");
    }
}
