//! Values in topology files that are written as text: an IPv4 subnet (`"10.0.0.0/24"`), a delay
//! (`"5ms"`) and a rate (`"100mbit"`), each parsed with an error that shows the expected form.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 subnet, `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) }
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// The network or the broadcast address: not usable by a host.
    pub fn is_reserved(self, ip: Ipv4Addr) -> bool {
        let host_bits = u32::from(ip) & !self.mask();
        self.prefix < 31 && (host_bits == 0 || host_bits == !self.mask())
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IPv4 subnet like \"10.0.0.0/24\"");
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let network: Ipv4Addr = ip.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("{s:?}: the prefix length must be 8..=30"));
        }
        let subnet = Subnet { network, prefix };
        if u32::from(network) & !subnet.mask() != 0 {
            return Err(format!(
                "{s:?}: host bits are set (did you mean {}?)",
                Ipv4Addr::from(u32::from(network) & subnet.mask())
            ));
        }
        Ok(subnet)
    }
}

/// A one-way delay (or jitter), written `"5ms"`, `"250us"`, `"1.5ms"`, `"1s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub micros: u64,
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}us", self.micros)
    }
}

impl FromStr for Delay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_unit(s);
        let scale = match unit {
            "us" => 1.0,
            "ms" => 1_000.0,
            "s" => 1_000_000.0,
            _ => return Err(format!("{s:?} is not a delay: write e.g. \"5ms\", \"250us\" or \"1s\"")),
        };
        let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a delay: bad number"))?;
        let micros = value * scale;
        if !micros.is_finite() || !(0.0..=60_000_000.0).contains(&micros) {
            return Err(format!("{s:?}: a delay must be between 0 and 60s"));
        }
        Ok(Delay { micros: micros.round() as u64 })
    }
}

/// A rate limit in bits per second, written `"100mbit"`, `"512kbit"`, `"1gbit"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bits_per_second: u64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}bit", self.bits_per_second)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_unit(s);
        let scale = match unit.to_ascii_lowercase().as_str() {
            "bit" => 1.0,
            "kbit" => 1e3,
            "mbit" => 1e6,
            "gbit" => 1e9,
            _ => {
                return Err(format!("{s:?} is not a rate: write e.g. \"100mbit\", \"512kbit\" or \"1gbit\""));
            }
        };
        let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a rate: bad number"))?;
        let bits = value * scale;
        if !bits.is_finite() || !(8_000.0..=100e9).contains(&bits) {
            return Err(format!("{s:?}: a rate must be between 8kbit and 100gbit"));
        }
        Ok(Rate { bits_per_second: bits.round() as u64 })
    }
}

fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let at = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    (s[..at].trim(), s[at..].trim())
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serde_via_str!(Subnet, Delay, Rate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!("5ms".parse::<Delay>().unwrap().micros, 5_000);
        assert_eq!("1.5ms".parse::<Delay>().unwrap().micros, 1_500);
        assert_eq!("250us".parse::<Delay>().unwrap().micros, 250);
        assert_eq!("1s".parse::<Delay>().unwrap().micros, 1_000_000);
        assert!("-1ms".parse::<Delay>().is_err());
        assert!("5".parse::<Delay>().is_err(), "a unit is required");
        assert_eq!("100mbit".parse::<Rate>().unwrap().bits_per_second, 100_000_000);
        assert_eq!("1.5Gbit".parse::<Rate>().unwrap().bits_per_second, 1_500_000_000);
        assert!("1bit".parse::<Rate>().is_err());
        assert_eq!("10.0.0.0/24".parse::<Subnet>().unwrap().to_string(), "10.0.0.0/24");
        let err = "10.0.0.1/24".parse::<Subnet>().unwrap_err();
        assert!(err.contains("did you mean 10.0.0.0"), "{err}");
        assert!("10.0.0.0/31".parse::<Subnet>().is_err());
        let subnet: Subnet = "10.0.0.0/24".parse().unwrap();
        assert!(subnet.contains(Ipv4Addr::new(10, 0, 0, 77)) && !subnet.contains(Ipv4Addr::new(10, 0, 1, 1)));
        assert!(
            subnet.is_reserved(Ipv4Addr::new(10, 0, 0, 0))
                && subnet.is_reserved(Ipv4Addr::new(10, 0, 0, 255))
        );
    }
}
