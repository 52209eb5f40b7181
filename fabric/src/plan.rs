//! The underlay plan of a rack: an availability zone names two 16-bit groups
//! under the fd00::/16 unique-local prefix (`fd00:1701:d`), a rack owns the
//! /56 whose fourth group's high byte is its number (rack 01:
//! `fd00:1701:d:0100::/56`), and sled N the /64 whose low byte is N (sled 2
//! of rack 1: `fd00:1701:d:0102::/64`), with ::1 of it as the sled's own
//! underlay address.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The most sleds a rack's /56 holds (its /64s 0x00..=0xff; sled 0 is not
/// handed out, so that no sled's /64 is the rack's own first one).
pub const MAX_SLEDS: u16 = 255;

/// An availability zone: the two groups after fd00 (`1701:d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(pub u16, pub u16);

impl FromStr for Zone {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, PlanError> {
        let bad = || PlanError::Zone(s.to_string());
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let group = |g: &str| {
            if g.is_empty() || g.len() > 4 {
                return Err(bad());
            }
            u16::from_str_radix(g, 16).map_err(|_| bad())
        };
        Ok(Zone(group(a)?, group(b)?))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:x}", self.0, self.1)
    }
}

impl TryFrom<String> for Zone {
    type Error = PlanError;
    fn try_from(s: String) -> Result<Self, PlanError> {
        s.parse()
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.to_string()
    }
}

/// What the plan refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Not `XXXX:XXXX` in hex.
    #[error("{0:?} is not an availability zone (two hex groups, e.g. 1701:d)")]
    Zone(String),
    /// Sled number outside the rack.
    #[error("sled {0} is not within 1..={MAX_SLEDS}")]
    Sled(u16),
    /// Every sled number is taken.
    #[error("rack {0} has {MAX_SLEDS} sleds, its most")]
    RackFull(u8),
    /// Not `ADDR/LEN`.
    #[error("{0:?} is not an IPv6 prefix (ADDR/LEN)")]
    Prefix(String),
    /// An address outside the rack.
    #[error("{0} is not in rack {1}'s /56")]
    NotInRack(Ipv6Addr, u8),
}

/// A /64 or /56: its first address and length (`fd00:1701:d:101::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix6 {
    /// The first address.
    pub addr: Ipv6Addr,
    /// Prefix length.
    pub len: u8,
}

impl Prefix6 {
    /// Whether `a` is in the prefix.
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.len))
        };
        u128::from(a) & mask == u128::from(self.addr) & mask
    }
}

impl FromStr for Prefix6 {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, PlanError> {
        let bad = || PlanError::Prefix(s.to_string());
        let (a, l) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
        let len: u8 = l.parse().map_err(|_| bad())?;
        if len > 128 {
            return Err(bad());
        }
        Ok(Prefix6 { addr, len })
    }
}

impl TryFrom<String> for Prefix6 {
    type Error = PlanError;
    fn try_from(s: String) -> Result<Self, PlanError> {
        s.parse()
    }
}

impl From<Prefix6> for String {
    fn from(p: Prefix6) -> String {
        p.to_string()
    }
}

impl fmt::Display for Prefix6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// One rack's plan: its zone and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RackPlan {
    /// Availability zone.
    pub zone: Zone,
    /// Rack number (the fourth group's high byte).
    pub rack: u8,
}

impl RackPlan {
    /// The rack's /56.
    pub fn rack_prefix(&self) -> Prefix6 {
        Prefix6 {
            addr: Ipv6Addr::new(
                0xfd00,
                self.zone.0,
                self.zone.1,
                u16::from(self.rack) << 8,
                0,
                0,
                0,
                0,
            ),
            len: 56,
        }
    }

    /// Sled `n`'s /64.
    pub fn sled_prefix(&self, n: u16) -> Result<Prefix6, PlanError> {
        if !(1..=MAX_SLEDS).contains(&n) {
            return Err(PlanError::Sled(n));
        }
        Ok(Prefix6 {
            addr: Ipv6Addr::new(
                0xfd00,
                self.zone.0,
                self.zone.1,
                (u16::from(self.rack) << 8) | n,
                0,
                0,
                0,
                0,
            ),
            len: 64,
        })
    }

    /// Sled `n`'s own underlay address: ::1 of its /64.
    pub fn sled_underlay(&self, n: u16) -> Result<Ipv6Addr, PlanError> {
        let p = self.sled_prefix(n)?;
        Ok(Ipv6Addr::from(u128::from(p.addr) | 1))
    }

    /// The sled number whose /64 holds `a`.
    pub fn sled_of(&self, a: Ipv6Addr) -> Result<u16, PlanError> {
        if !self.rack_prefix().contains(a) {
            return Err(PlanError::NotInRack(a, self.rack));
        }
        let n = a.segments()[3] & 0xff;
        if n == 0 {
            return Err(PlanError::NotInRack(a, self.rack));
        }
        Ok(n)
    }

    /// The next sled number to hand out: the lowest not in `taken`.
    pub fn next_sled(&self, taken: impl IntoIterator<Item = u16>) -> Result<u16, PlanError> {
        let taken: std::collections::BTreeSet<u16> = taken.into_iter().collect();
        (1..=MAX_SLEDS)
            .find(|n| !taken.contains(n))
            .ok_or(PlanError::RackFull(self.rack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rack1() -> RackPlan {
        RackPlan {
            zone: "1701:d".parse().unwrap(),
            rack: 1,
        }
    }

    /// The addresses of the model: rack 01 of zone 1701:d.
    #[test]
    fn the_model_s_rack_and_sleds() {
        let r = rack1();
        assert_eq!(r.rack_prefix().to_string(), "fd00:1701:d:100::/56");
        assert_eq!(
            r.sled_prefix(1).unwrap().to_string(),
            "fd00:1701:d:101::/64"
        );
        assert_eq!(
            r.sled_prefix(2).unwrap().to_string(),
            "fd00:1701:d:102::/64"
        );
        assert_eq!(
            r.sled_underlay(2).unwrap().to_string(),
            "fd00:1701:d:102::1"
        );
        assert_eq!(r.sled_of("fd00:1701:d:102::100".parse().unwrap()), Ok(2));
        assert!(r.sled_of("fd00:1701:d:201::1".parse().unwrap()).is_err());
        assert!(r.sled_of("fd00:1701:d:100::1".parse().unwrap()).is_err());
        assert_eq!(r.sled_prefix(0), Err(PlanError::Sled(0)));
        assert_eq!(r.sled_prefix(256), Err(PlanError::Sled(256)));
    }

    #[test]
    fn sled_numbers_are_the_lowest_free() {
        let r = rack1();
        assert_eq!(r.next_sled([]), Ok(1));
        assert_eq!(r.next_sled([1, 2, 4]), Ok(3));
        assert_eq!(r.next_sled(1..=255), Err(PlanError::RackFull(1)));
    }

    #[test]
    fn zones_parse_and_print() {
        let z: Zone = "1701:d".parse().unwrap();
        assert_eq!(z, Zone(0x1701, 0xd));
        assert_eq!(z.to_string(), "1701:d");
        for bad in ["1701", "1701:", ":d", "12345:d", "x:d", "1701:d:1"] {
            assert!(bad.parse::<Zone>().is_err(), "{bad}");
        }
        let p = rack1().sled_prefix(2).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#""fd00:1701:d:102::/64""#
        );
        assert_eq!("fd00:1701:d:102::/64".parse::<Prefix6>(), Ok(p));
        assert!("fd00::/129".parse::<Prefix6>().is_err());
        let json = serde_json::to_string(&rack1()).unwrap();
        assert_eq!(json, r#"{"zone":"1701:d","rack":1}"#);
        assert_eq!(serde_json::from_str::<RackPlan>(&json).unwrap(), rack1());
    }
}
