//! Ranges of addresses.

use super::Prefix;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A range of addresses of one family, `first` to `last` inclusive
/// (`first <= last`). Read as `A-B`, a single address `A`, or a CIDR `A/N`
/// (host bits zero); written `A` when it holds one address, else `A-B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrRange {
    first: IpAddr,
    last: IpAddr,
}

impl AddrRange {
    /// The range `first`-`last`; refused when the families differ or `last`
    /// comes before `first`.
    pub fn new(first: IpAddr, last: IpAddr) -> Result<Self, String> {
        let text = format!("{first}-{last}");
        Self::checked(&text, first, last)
    }

    fn checked(text: &str, first: IpAddr, last: IpAddr) -> Result<Self, String> {
        if first.is_ipv4() != last.is_ipv4() {
            return Err(format!("range {text:?} mixes IPv4 and IPv6"));
        }
        if last < first {
            return Err(format!("range {text:?} ends before it starts"));
        }
        Ok(AddrRange { first, last })
    }

    /// The first address.
    pub fn first(self) -> IpAddr {
        self.first
    }

    /// The last address.
    pub fn last(self) -> IpAddr {
        self.last
    }
}

impl FromStr for AddrRange {
    type Err = String;

    /// `A-B`, `A` or `A/N` (surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let addr = |a: &str| {
            a.trim().parse::<IpAddr>().map_err(|_| {
                format!("range {s:?}: {a:?} is not an IP address (ranges are A-B, A or A/N)")
            })
        };
        if s.contains('/') {
            let p: Prefix = s.parse().map_err(|_| {
                format!("range: {s:?} is not a prefix (e.g. 10.0.0.0/8, fd00::/64)")
            })?;
            if p.has_host_bits() {
                return Err(format!(
                    "range {s:?} has host bits set (did you mean {}?)",
                    p.network()
                ));
            }
            return Self::checked(s, p.addr(), p.last());
        }
        match s.split_once('-') {
            Some((a, b)) => Self::checked(s, addr(a)?, addr(b)?),
            None => {
                let a = addr(s)?;
                Ok(AddrRange { first: a, last: a })
            }
        }
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

serde_as_text!(AddrRange, "a range of addresses (A-B, A or A/N)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{refuses, round_trips};

    #[test]
    fn round_trips_as_a_or_a_dash_b() {
        round_trips::<AddrRange>("192.0.2.0-192.0.2.15", "192.0.2.0-192.0.2.15");
        round_trips::<AddrRange>("192.0.2.0/28", "192.0.2.0-192.0.2.15");
        round_trips::<AddrRange>(" 10.0.0.7 ", "10.0.0.7");
        round_trips::<AddrRange>("10.0.0.7-10.0.0.7", "10.0.0.7");
        round_trips::<AddrRange>("10.0.0.7/32", "10.0.0.7");
        round_trips::<AddrRange>("10.1.0.0/16", "10.1.0.0-10.1.255.255");
        round_trips::<AddrRange>("fd00::/126", "fd00::-fd00::3");
        round_trips::<AddrRange>("2001:db8::1 - 2001:db8::ff", "2001:db8::1-2001:db8::ff");
        let r: AddrRange = "10.0.0.1-10.0.0.9".parse().unwrap();
        assert_eq!(r.first(), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(r.last(), "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(AddrRange::new(r.first(), r.last()), Ok(r));
    }

    #[test]
    fn refuses_with_todays_messages() {
        for (bad, want) in [
            (
                "10.0.0.9-10.0.0.1",
                r#"range "10.0.0.9-10.0.0.1" ends before it starts"#,
            ),
            (
                "10.0.0.1-fd00::1",
                r#"range "10.0.0.1-fd00::1" mixes IPv4 and IPv6"#,
            ),
            (
                "10.1.0.1/16",
                r#"range "10.1.0.1/16" has host bits set (did you mean 10.1.0.0/16?)"#,
            ),
            (
                "10.0.0.0/33",
                r#"range: "10.0.0.0/33" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"#,
            ),
            (
                "ten",
                r#"range "ten": "ten" is not an IP address (ranges are A-B, A or A/N)"#,
            ),
            (
                "10.0.0.1-",
                r#"range "10.0.0.1-": "" is not an IP address (ranges are A-B, A or A/N)"#,
            ),
        ] {
            refuses::<AddrRange>(bad, want);
        }
        let (a, b) = ("10.0.0.2".parse().unwrap(), "::1".parse().unwrap());
        assert_eq!(
            AddrRange::new(a, b).unwrap_err(),
            r#"range "10.0.0.2-::1" mixes IPv4 and IPv6"#
        );
    }
}
