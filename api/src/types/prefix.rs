//! IP prefixes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP prefix, written `ADDR/LEN` (`10.0.0.0/8`, `fd00::/64`). Its length
/// fits its family; its host bits may be set (where they must not be, the
/// engine says so, with the prefix it probably meant: [`Prefix::network`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// The longest prefix of `addr`'s family.
fn max_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

impl Prefix {
    /// The prefix of `len` bits at `addr`; refused when `len` is longer
    /// than `addr`'s family allows.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, String> {
        let max = max_len(addr);
        if len > max {
            return Err(format!(
                "prefix length {len} is too long for {addr} (at most {max})"
            ));
        }
        Ok(Prefix { addr, len })
    }

    /// The address, as given (host bits included).
    pub fn addr(self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// The same prefix with its host bits cleared.
    pub fn network(self) -> Prefix {
        let keep = u32::from(max_len(self.addr) - self.len);
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(keep).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(keep).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Prefix { addr, ..self }
    }

    /// The last address of the prefix (all host bits set).
    pub fn last(self) -> IpAddr {
        let keep = u32::from(max_len(self.addr) - self.len);
        match self.addr {
            IpAddr::V4(a) => {
                let host = u32::MAX.checked_shl(keep).map_or(u32::MAX, |m| !m);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
            }
            IpAddr::V6(a) => {
                let host = u128::MAX.checked_shl(keep).map_or(u128::MAX, |m| !m);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) | host))
            }
        }
    }

    /// Whether bits beyond the prefix length are set in its address.
    pub fn has_host_bits(self) -> bool {
        self.network() != self
    }
}

impl FromStr for Prefix {
    type Err = String;

    /// `ADDR/LEN`, IPv4 or IPv6.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a prefix (e.g. 10.0.0.0/8, fd00::/64)");
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        if len.is_empty() || !len.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let len: u8 = len.parse().map_err(|_| bad())?;
        Prefix::new(addr, len).map_err(|_| bad())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

serde_as_text!(Prefix, "a prefix (e.g. 10.0.0.0/8, fd00::/64)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{refuses, round_trips};

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips_with_its_host_bits() {
        for s in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "192.0.2.1/32",
            "fd00::/64",
            "::/0",
            "fd00::1/128",
            "10.0.0.1/8",
        ] {
            round_trips::<Prefix>(s, s);
        }
        round_trips::<Prefix>("FD00::/64", "fd00::/64");
        let x = p("10.0.0.1/8");
        assert_eq!((x.addr(), x.prefix_len()), ("10.0.0.1".parse().unwrap(), 8));
    }

    #[test]
    fn network_and_last() {
        assert_eq!(p("10.1.2.3/8").network(), p("10.0.0.0/8"));
        assert!(p("10.1.2.3/8").has_host_bits());
        assert!(!p("10.0.0.0/8").has_host_bits());
        assert_eq!(p("10.1.2.3/0").network(), p("0.0.0.0/0"));
        assert_eq!(p("10.1.2.3/32").network(), p("10.1.2.3/32"));
        assert_eq!(p("fd00::1/64").network(), p("fd00::/64"));
        assert_eq!(
            p("192.0.2.0/28").last(),
            "192.0.2.15".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            p("0.0.0.0/0").last(),
            "255.255.255.255".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p("fd00::/126").last(), "fd00::3".parse::<IpAddr>().unwrap());
        assert_eq!(
            p("fd00::5/128").last(),
            "fd00::5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn refuses_what_is_not_a_prefix() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "/8",
            "ten/8",
            "10.0.0.0/8/8",
            "",
        ] {
            refuses::<Prefix>(
                bad,
                &format!("{bad:?} is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"),
            );
        }
        assert_eq!(
            Prefix::new("10.0.0.0".parse().unwrap(), 33).unwrap_err(),
            "prefix length 33 is too long for 10.0.0.0 (at most 32)"
        );
    }
}
