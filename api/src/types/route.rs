//! Route targets and classes.

use super::Prefix;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Where a route sends what it matches: `drop`, `igw` (the system internet
/// gateway), `igw:ID`, `ip:ADDR` (a next hop in the VPC), `subnet:PREFIX`
/// (a subnet of the VPC) or `nic:ID` (another NIC of the instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteTarget {
    /// Discard.
    Drop,
    /// An internet gateway: `None` for the system gateway, else its id.
    Igw(Option<u32>),
    /// A next hop inside the VPC.
    Ip(IpAddr),
    /// A subnet of the VPC.
    Subnet(Prefix),
    /// Another NIC of the same instance, by NIC id.
    Nic(u32),
}

impl FromStr for RouteTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID");
        match s.split_once(':') {
            None if s == "drop" => Ok(RouteTarget::Drop),
            None if s == "igw" => Ok(RouteTarget::Igw(None)),
            Some(("igw", id)) => id
                .parse()
                .map(|i| RouteTarget::Igw(Some(i)))
                .map_err(|_| bad()),
            Some(("ip", a)) => a.parse().map(RouteTarget::Ip).map_err(|_| bad()),
            Some(("subnet", p)) => p.parse().map(RouteTarget::Subnet),
            Some(("nic", id)) => id.parse().map(RouteTarget::Nic).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::Drop => f.write_str("drop"),
            RouteTarget::Igw(None) => f.write_str("igw"),
            RouteTarget::Igw(Some(id)) => write!(f, "igw:{id}"),
            RouteTarget::Ip(a) => write!(f, "ip:{a}"),
            RouteTarget::Subnet(p) => write!(f, "subnet:{p}"),
            RouteTarget::Nic(id) => write!(f, "nic:{id}"),
        }
    }
}

serde_as_text!(
    RouteTarget,
    "a route target (drop, igw, igw:ID, ip:ADDR, subnet:PREFIX or nic:ID)"
);

/// Who installed a route: `custom` (a user; the default, and the winner
/// over a `system` route of the same prefix) or `system` (the control plane).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteClass {
    /// Installed by a user.
    #[default]
    Custom,
    /// Installed by the control plane for the VPC itself.
    System,
}

impl FromStr for RouteClass {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "custom" => Ok(RouteClass::Custom),
            "system" => Ok(RouteClass::System),
            other => Err(format!("{other:?} is not one of custom, system")),
        }
    }
}

impl fmt::Display for RouteClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteClass::Custom => "custom",
            RouteClass::System => "system",
        })
    }
}

serde_as_text!(RouteClass, "a route class (custom or system)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{refuses, round_trips};

    #[test]
    fn targets_round_trip() {
        for s in [
            "drop",
            "igw",
            "igw:4",
            "ip:10.0.0.1",
            "ip:fd00::1",
            "subnet:10.1.0.0/16",
            "subnet:fd00::/64",
            "nic:9",
        ] {
            round_trips::<RouteTarget>(s, s);
        }
        assert_eq!("igw:4".parse(), Ok(RouteTarget::Igw(Some(4))));
        assert_eq!("nic:9".parse(), Ok(RouteTarget::Nic(9)));
    }

    #[test]
    fn targets_refuse_with_todays_messages() {
        for bad in ["gateway", "ip:nope", "igw:x", "nic:", "drop:1", "igw:", ""] {
            refuses::<RouteTarget>(
                bad,
                &format!("{bad:?} is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID"),
            );
        }
        refuses::<RouteTarget>(
            "subnet:10.0.0.0",
            r#""10.0.0.0" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"#,
        );
    }

    #[test]
    fn classes_round_trip_and_default_to_custom() {
        round_trips::<RouteClass>("custom", "custom");
        round_trips::<RouteClass>("system", "system");
        assert_eq!(RouteClass::default(), RouteClass::Custom);
        refuses::<RouteClass>("vip", r#""vip" is not one of custom, system"#);
    }
}
