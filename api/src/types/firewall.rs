//! The parts of a firewall rule.

use super::Prefix;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Which traffic a rule applies to: `in` or `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwDirection {
    /// Toward the guest.
    In,
    /// From the guest.
    Out,
}

impl FromStr for FwDirection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "in" => Ok(FwDirection::In),
            "out" => Ok(FwDirection::Out),
            other => Err(format!("{other:?} is not one of in, out")),
        }
    }
}

impl fmt::Display for FwDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FwDirection::In => "in",
            FwDirection::Out => "out",
        })
    }
}

serde_as_text!(FwDirection, "a direction (in or out)");

/// What a matching rule does: `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwAction {
    /// Let the flow through.
    Allow,
    /// Drop the flow.
    Deny,
}

impl FromStr for FwAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(FwAction::Allow),
            "deny" => Ok(FwAction::Deny),
            other => Err(format!("{other:?} is not one of allow, deny")),
        }
    }
}

impl fmt::Display for FwAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FwAction::Allow => "allow",
            FwAction::Deny => "deny",
        })
    }
}

serde_as_text!(FwAction, "an action (allow or deny)");

/// The remote hosts a rule matches: `any`, `ip:ADDR`, `subnet:PREFIX` or
/// `vni:N` (any host of that VPC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwHostSpec {
    /// Any host.
    Any,
    /// Exactly this address.
    Ip(IpAddr),
    /// Any address of this prefix.
    Subnet(Prefix),
    /// Any host of the VPC of this VNI.
    Vni(u32),
}

impl FromStr for FwHostSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not one of any, ip:ADDR, subnet:PREFIX, vni:N");
        match s.split_once(':') {
            None if s == "any" => Ok(FwHostSpec::Any),
            Some(("ip", a)) => a.parse().map(FwHostSpec::Ip).map_err(|_| bad()),
            Some(("subnet", p)) => p.parse().map(FwHostSpec::Subnet),
            Some(("vni", n)) => n.parse().map(FwHostSpec::Vni).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for FwHostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FwHostSpec::Any => f.write_str("any"),
            FwHostSpec::Ip(a) => write!(f, "ip:{a}"),
            FwHostSpec::Subnet(p) => write!(f, "subnet:{p}"),
            FwHostSpec::Vni(n) => write!(f, "vni:{n}"),
        }
    }
}

serde_as_text!(FwHostSpec, "a host (any, ip:ADDR, subnet:PREFIX or vni:N)");

/// Which ICMP messages an `icmp` or `icmp6` filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpMatch {
    /// Every message.
    Any,
    /// Messages of one type, any code.
    Type(u8),
    /// Messages of one type and code.
    TypeCode(u8, u8),
}

impl IcmpMatch {
    /// `TYPE` or `TYPE/CODE`.
    fn parse(arg: &str) -> Option<Self> {
        match arg.split_once('/') {
            Some((t, c)) => Some(IcmpMatch::TypeCode(t.parse().ok()?, c.parse().ok()?)),
            None => arg.parse().ok().map(IcmpMatch::Type),
        }
    }

    /// The type and the code, each `None` when any matches.
    pub fn type_code(self) -> (Option<u8>, Option<u8>) {
        match self {
            IcmpMatch::Any => (None, None),
            IcmpMatch::Type(t) => (Some(t), None),
            IcmpMatch::TypeCode(t, c) => (Some(t), Some(c)),
        }
    }
}

/// The protocols a rule matches: `any`, `tcp`, `udp`,
/// `icmp[:TYPE[/CODE]]`, `icmp6[:TYPE[/CODE]]` or `proto:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwProtocolSpec {
    /// Any protocol.
    Any,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMPv4.
    Icmp(IcmpMatch),
    /// ICMPv6.
    Icmp6(IcmpMatch),
    /// An IP protocol number.
    Number(u8),
}

impl FromStr for FwProtocolSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not one of any, tcp, udp, icmp[:TYPE[/CODE]], icmp6[:TYPE[/CODE]], proto:N"
            )
        };
        let icmp = |arg: Option<&str>| match arg {
            None => Some(IcmpMatch::Any),
            Some(a) => IcmpMatch::parse(a),
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        match (kind, arg) {
            ("any", None) => Ok(FwProtocolSpec::Any),
            ("tcp", None) => Ok(FwProtocolSpec::Tcp),
            ("udp", None) => Ok(FwProtocolSpec::Udp),
            ("icmp", a) => icmp(a).map(FwProtocolSpec::Icmp).ok_or_else(bad),
            ("icmp6", a) => icmp(a).map(FwProtocolSpec::Icmp6).ok_or_else(bad),
            ("proto", Some(n)) => n.parse().map(FwProtocolSpec::Number).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for FwProtocolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let icmp = |f: &mut fmt::Formatter<'_>, name: &str, m: &IcmpMatch| match m {
            IcmpMatch::Any => f.write_str(name),
            IcmpMatch::Type(t) => write!(f, "{name}:{t}"),
            IcmpMatch::TypeCode(t, c) => write!(f, "{name}:{t}/{c}"),
        };
        match self {
            FwProtocolSpec::Any => f.write_str("any"),
            FwProtocolSpec::Tcp => f.write_str("tcp"),
            FwProtocolSpec::Udp => f.write_str("udp"),
            FwProtocolSpec::Icmp(m) => icmp(f, "icmp", m),
            FwProtocolSpec::Icmp6(m) => icmp(f, "icmp6", m),
            FwProtocolSpec::Number(n) => write!(f, "proto:{n}"),
        }
    }
}

serde_as_text!(
    FwProtocolSpec,
    "a protocol (any, tcp, udp, icmp[:TYPE[/CODE]], icmp6[:TYPE[/CODE]] or proto:N)"
);

/// A port or a range of ports (the destination ports a rule matches, a
/// share of a SNAT address): `PORT` or `FIRST-LAST` (`first <= last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRangeSpec {
    first: u16,
    last: u16,
}

impl PortRangeSpec {
    /// The ports `first` to `last`; refused when `first > last`.
    pub fn new(first: u16, last: u16) -> Result<Self, String> {
        if first > last {
            return Err(format!("port range {first}-{last} has first > last"));
        }
        Ok(PortRangeSpec { first, last })
    }

    /// The one port `port`.
    pub fn single(port: u16) -> Self {
        PortRangeSpec {
            first: port,
            last: port,
        }
    }

    /// The first port.
    pub fn first(self) -> u16 {
        self.first
    }

    /// The last port.
    pub fn last(self) -> u16 {
        self.last
    }
}

impl FromStr for PortRangeSpec {
    type Err = String;

    /// `PORT` or `FIRST-LAST` (blanks around the numbers ignored).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a port or a range FIRST-LAST");
        let port = |p: &str| p.trim().parse::<u16>().map_err(|_| bad());
        match s.split_once('-') {
            Some((a, b)) => PortRangeSpec::new(port(a)?, port(b)?),
            None => port(s).map(PortRangeSpec::single),
        }
    }
}

impl fmt::Display for PortRangeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

serde_as_text!(PortRangeSpec, "a port or a range FIRST-LAST");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{refuses, round_trips};

    #[test]
    fn directions_and_actions() {
        round_trips::<FwDirection>("in", "in");
        round_trips::<FwDirection>("out", "out");
        refuses::<FwDirection>("both", r#""both" is not one of in, out"#);
        round_trips::<FwAction>("allow", "allow");
        round_trips::<FwAction>("deny", "deny");
        refuses::<FwAction>("drop", r#""drop" is not one of allow, deny"#);
    }

    #[test]
    fn hosts() {
        for s in [
            "any",
            "ip:192.0.2.1",
            "ip:fd00::1",
            "subnet:10.0.0.0/8",
            "vni:77",
        ] {
            round_trips::<FwHostSpec>(s, s);
        }
        for bad in ["ip:x", "vni:-1", "host:1", "any:1", ""] {
            refuses::<FwHostSpec>(
                bad,
                &format!("{bad:?} is not one of any, ip:ADDR, subnet:PREFIX, vni:N"),
            );
        }
        refuses::<FwHostSpec>(
            "subnet:10.0.0.0",
            r#""10.0.0.0" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"#,
        );
    }

    #[test]
    fn protocols() {
        for s in [
            "any",
            "tcp",
            "udp",
            "icmp",
            "icmp:8",
            "icmp:8/0",
            "icmp6",
            "icmp6:128",
            "icmp6:1/4",
            "proto:47",
        ] {
            round_trips::<FwProtocolSpec>(s, s);
        }
        assert_eq!(
            "icmp:8/0".parse(),
            Ok(FwProtocolSpec::Icmp(IcmpMatch::TypeCode(8, 0)))
        );
        assert_eq!(IcmpMatch::Type(8).type_code(), (Some(8), None));
        for bad in [
            "sctp",
            "icmp:",
            "icmp:x",
            "icmp:8/",
            "icmp:/0",
            "icmp:300",
            "proto:256",
            "proto",
            "tcp:1",
            "",
        ] {
            refuses::<FwProtocolSpec>(
                bad,
                &format!(
                    "{bad:?} is not one of any, tcp, udp, icmp[:TYPE[/CODE]], icmp6[:TYPE[/CODE]], proto:N"
                ),
            );
        }
    }

    #[test]
    fn ports() {
        round_trips::<PortRangeSpec>("22", "22");
        round_trips::<PortRangeSpec>("1000-2000", "1000-2000");
        round_trips::<PortRangeSpec>(" 80 - 90 ", "80-90");
        round_trips::<PortRangeSpec>("53-53", "53");
        let p: PortRangeSpec = "1000-2000".parse().unwrap();
        assert_eq!((p.first(), p.last()), (1000, 2000));
        for bad in ["http", "", "1-", "-1", "65536", "1-2-3"] {
            refuses::<PortRangeSpec>(bad, &format!("{bad:?} is not a port or a range FIRST-LAST"));
        }
        refuses::<PortRangeSpec>("90-80", "port range 90-80 has first > last");
        assert_eq!(
            PortRangeSpec::new(2, 1).unwrap_err(),
            "port range 2-1 has first > last"
        );
    }
}
