//! Parses the API's compact rule and route notations into engine types,
//! with errors that name the field and say what is accepted.

use crate::firewall::{FwAction, FwHost, FwPorts, FwProtocol, FwRule, PortRange};
use crate::router::{RouteClass, RouterTarget};
use crate::Direction;
use ipnet::IpNet;
use vswitch_api::FwRuleSpec;
use wire::MacAddr;

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn mac(field: &str, s: &str) -> Result<MacAddr, String> {
    s.parse::<MacAddr>()
        .map_err(|_| format!("{field}: {s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"))
}

/// Parses a prefix such as `10.0.0.0/8` or `fd00::/64`.
pub fn prefix(field: &str, s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .map_err(|_| format!("{field}: {s:?} is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"))
}

/// Parses `custom` or `system` (default custom).
pub fn route_class(s: Option<&str>) -> Result<RouteClass, String> {
    match s.unwrap_or("custom") {
        "custom" => Ok(RouteClass::Custom),
        "system" => Ok(RouteClass::System),
        other => Err(format!("class: {other:?} is not one of custom, system")),
    }
}

/// Parses `drop`, `igw`, `igw:ID`, `ip:ADDR`, `subnet:PREFIX` or `nic:ID`.
pub fn route_target(s: &str) -> Result<RouterTarget, String> {
    let bad =
        || format!("target: {s:?} is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID");
    let (kind, arg) = match s.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (s, None),
    };
    match (kind, arg) {
        ("drop", None) => Ok(RouterTarget::Drop),
        ("igw", None) => Ok(RouterTarget::InternetGateway(None)),
        ("igw", Some(id)) => id
            .parse()
            .map(|i| RouterTarget::InternetGateway(Some(i)))
            .map_err(|_| bad()),
        ("ip", Some(a)) => a.parse().map(RouterTarget::Ip).map_err(|_| bad()),
        ("subnet", Some(p)) => prefix("target", p).map(RouterTarget::VpcSubnet),
        ("nic", Some(id)) => id.parse().map(RouterTarget::Nic).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn host(field: &str, s: &str) -> Result<FwHost, String> {
    let bad = || format!("{field}: {s:?} is not one of any, ip:ADDR, subnet:PREFIX, vni:N");
    match s.split_once(':') {
        None if s == "any" => Ok(FwHost::Any),
        Some(("ip", a)) => a.parse().map(FwHost::Ip).map_err(|_| bad()),
        Some(("subnet", p)) => prefix(field, p).map(FwHost::Subnet),
        Some(("vni", n)) => n.parse().map(FwHost::Vni).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn icmp_filter(arg: Option<&str>) -> Result<(Option<u8>, Option<u8>), ()> {
    let Some(arg) = arg else {
        return Ok((None, None));
    };
    match arg.split_once('/') {
        Some((t, c)) => Ok((
            Some(t.parse().map_err(|_| ())?),
            Some(c.parse().map_err(|_| ())?),
        )),
        None => Ok((Some(arg.parse().map_err(|_| ())?), None)),
    }
}

fn protocol(field: &str, s: &str) -> Result<FwProtocol, String> {
    let bad = || {
        format!("{field}: {s:?} is not one of any, tcp, udp, icmp[:TYPE[/CODE]], icmp6[:TYPE[/CODE]], proto:N")
    };
    let (kind, arg) = match s.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (s, None),
    };
    match (kind, arg) {
        ("any", None) => Ok(FwProtocol::Any),
        ("tcp", None) => Ok(FwProtocol::Tcp),
        ("udp", None) => Ok(FwProtocol::Udp),
        ("icmp", a) => icmp_filter(a)
            .map(|(icmp_type, code)| FwProtocol::Icmp { icmp_type, code })
            .map_err(|_| bad()),
        ("icmp6", a) => icmp_filter(a)
            .map(|(icmp_type, code)| FwProtocol::Icmp6 { icmp_type, code })
            .map_err(|_| bad()),
        ("proto", Some(n)) => n.parse().map(FwProtocol::Number).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn port_range(field: &str, s: &str) -> Result<PortRange, String> {
    let bad = || format!("{field}: {s:?} is not a port or a range FIRST-LAST");
    match s.split_once('-') {
        Some((a, b)) => Ok(PortRange {
            first: a.trim().parse().map_err(|_| bad())?,
            last: b.trim().parse().map_err(|_| bad())?,
        }),
        None => s.trim().parse().map(PortRange::single).map_err(|_| bad()),
    }
}

/// Parses one firewall rule (`i` is its index in the request, for messages).
pub fn fw_rule(i: usize, r: &FwRuleSpec) -> Result<FwRule, String> {
    let f = |name: &str| format!("rules[{i}].{name}");
    let direction = match r.direction.as_str() {
        "in" => Direction::In,
        "out" => Direction::Out,
        other => {
            return Err(format!(
                "{}: {other:?} is not one of in, out",
                f("direction")
            ))
        }
    };
    let action = match r.action.as_str() {
        "allow" => FwAction::Allow,
        "deny" => FwAction::Deny,
        other => {
            return Err(format!(
                "{}: {other:?} is not one of allow, deny",
                f("action")
            ))
        }
    };
    let hosts = r
        .hosts
        .iter()
        .map(|h| host(&f("hosts"), h))
        .collect::<Result<_, _>>()?;
    let protocols = r
        .protocols
        .iter()
        .map(|p| protocol(&f("protocols"), p))
        .collect::<Result<_, _>>()?;
    let ports = if r.ports.is_empty() {
        FwPorts::Any
    } else {
        FwPorts::List(
            r.ports
                .iter()
                .map(|p| port_range(&f("ports"), p))
                .collect::<Result<_, _>>()?,
        )
    };
    Ok(FwRule {
        direction,
        priority: r.priority,
        action,
        hosts,
        protocols,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: &[&str], protocols: &[&str], ports: &[&str]) -> FwRuleSpec {
        FwRuleSpec {
            direction: "in".into(),
            priority: 100,
            action: "allow".into(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            protocols: protocols.iter().map(|s| s.to_string()).collect(),
            ports: ports.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rules_parse() {
        let r = fw_rule(
            0,
            &spec(
                &["subnet:10.0.0.0/8", "vni:7", "ip:fd00::1"],
                &["tcp", "icmp:8/0", "proto:47"],
                &["22", "1000-2000"],
            ),
        )
        .unwrap();
        assert_eq!(r.direction, Direction::In);
        assert_eq!(r.hosts.len(), 3);
        assert_eq!(
            r.protocols[1],
            FwProtocol::Icmp {
                icmp_type: Some(8),
                code: Some(0)
            }
        );
        assert_eq!(
            r.ports,
            FwPorts::List(vec![
                PortRange::single(22),
                PortRange {
                    first: 1000,
                    last: 2000
                }
            ])
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let e = fw_rule(3, &spec(&["subnet:10.0.0.0"], &[], &[])).unwrap_err();
        assert!(e.starts_with("rules[3].hosts:"), "{e}");
        let e = fw_rule(0, &spec(&[], &["sctp"], &[])).unwrap_err();
        assert!(e.starts_with("rules[0].protocols:"), "{e}");
        let e = fw_rule(0, &spec(&[], &[], &["http"])).unwrap_err();
        assert!(e.starts_with("rules[0].ports:"), "{e}");
        let mut s = spec(&[], &[], &[]);
        s.direction = "both".into();
        assert!(fw_rule(0, &s).unwrap_err().contains("direction"));
    }

    #[test]
    fn route_targets_parse() {
        assert_eq!(route_target("drop"), Ok(RouterTarget::Drop));
        assert_eq!(route_target("igw"), Ok(RouterTarget::InternetGateway(None)));
        assert_eq!(
            route_target("igw:4"),
            Ok(RouterTarget::InternetGateway(Some(4)))
        );
        assert_eq!(
            route_target("ip:10.0.0.1"),
            Ok(RouterTarget::Ip("10.0.0.1".parse().unwrap()))
        );
        assert!(matches!(
            route_target("subnet:10.1.0.0/16"),
            Ok(RouterTarget::VpcSubnet(_))
        ));
        assert_eq!(route_target("nic:9"), Ok(RouterTarget::Nic(9)));
        assert!(route_target("gateway").is_err());
        assert!(route_target("ip:nope").is_err());
        assert_eq!(route_class(None), Ok(RouteClass::Custom));
        assert!(route_class(Some("vip")).is_err());
    }
}
