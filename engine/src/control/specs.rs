//! The API's typed values as engine types. The API parsed them once, where
//! the request or the document was read; what is left is conversion, which
//! cannot fail (what the engine refuses of a well-formed value, such as the
//! host bits of a route's destination, `check.rs` says).

use crate::firewall::{FwAction, FwHost, FwPorts, FwProtocol, FwRule, PortRange};
use crate::nat::igw::IpRange;
use crate::router::{RouteClass, RouterTarget};
use crate::Direction;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::IpAddr;
use vswitch_api as api;
use wire::MacAddr;

/// A MAC address.
pub fn mac(m: api::MacAddr) -> MacAddr {
    MacAddr(m.octets())
}

/// A prefix, host bits as given.
pub fn prefix(p: api::Prefix) -> IpNet {
    let net = match p.addr() {
        IpAddr::V4(a) => Ipv4Net::new(a, p.prefix_len()).map(IpNet::V4),
        IpAddr::V6(a) => Ipv6Net::new(a, p.prefix_len()).map(IpNet::V6),
    };
    // A `Prefix`'s length always fits its family (it is checked where one
    // is made), so the fallback is never taken.
    net.unwrap_or_else(|_| IpNet::from(p.addr()))
}

/// A route class (`None`: custom).
pub fn route_class(c: Option<api::RouteClass>) -> RouteClass {
    match c.unwrap_or_default() {
        api::RouteClass::Custom => RouteClass::Custom,
        api::RouteClass::System => RouteClass::System,
    }
}

/// A route target.
pub fn route_target(t: api::RouteTarget) -> RouterTarget {
    match t {
        api::RouteTarget::Drop => RouterTarget::Drop,
        api::RouteTarget::Igw(id) => RouterTarget::InternetGateway(id),
        api::RouteTarget::Ip(a) => RouterTarget::Ip(a),
        api::RouteTarget::Subnet(p) => RouterTarget::VpcSubnet(prefix(p)),
        api::RouteTarget::Nic(id) => RouterTarget::Nic(id),
    }
}

/// A range of addresses.
pub fn range(r: api::AddrRange) -> IpRange {
    IpRange {
        first: r.first(),
        last: r.last(),
    }
}

fn host(h: api::FwHostSpec) -> FwHost {
    match h {
        api::FwHostSpec::Any => FwHost::Any,
        api::FwHostSpec::Ip(a) => FwHost::Ip(a),
        api::FwHostSpec::Subnet(p) => FwHost::Subnet(prefix(p)),
        api::FwHostSpec::Vni(n) => FwHost::Vni(n),
    }
}

fn protocol(p: api::FwProtocolSpec) -> FwProtocol {
    match p {
        api::FwProtocolSpec::Any => FwProtocol::Any,
        api::FwProtocolSpec::Tcp => FwProtocol::Tcp,
        api::FwProtocolSpec::Udp => FwProtocol::Udp,
        api::FwProtocolSpec::Icmp(m) => {
            let (icmp_type, code) = m.type_code();
            FwProtocol::Icmp { icmp_type, code }
        }
        api::FwProtocolSpec::Icmp6(m) => {
            let (icmp_type, code) = m.type_code();
            FwProtocol::Icmp6 { icmp_type, code }
        }
        api::FwProtocolSpec::Number(n) => FwProtocol::Number(n),
    }
}

/// One firewall rule (empty lists match anything).
pub fn fw_rule(r: &api::FwRuleSpec) -> FwRule {
    let ports = if r.ports.is_empty() {
        FwPorts::Any
    } else {
        FwPorts::List(
            r.ports
                .iter()
                .map(|p| PortRange {
                    first: p.first(),
                    last: p.last(),
                })
                .collect(),
        )
    };
    FwRule {
        direction: match r.direction {
            api::FwDirection::In => Direction::In,
            api::FwDirection::Out => Direction::Out,
        },
        priority: r.priority,
        action: match r.action {
            api::FwAction::Allow => FwAction::Allow,
            api::FwAction::Deny => FwAction::Deny,
        },
        hosts: r.hosts.iter().copied().map(host).collect(),
        protocols: r.protocols.iter().copied().map(protocol).collect(),
        ports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: &[&str], protocols: &[&str], ports: &[&str]) -> api::FwRuleSpec {
        api::FwRuleSpec {
            direction: api::FwDirection::In,
            priority: 100,
            action: api::FwAction::Allow,
            hosts: hosts.iter().map(|s| s.parse().unwrap()).collect(),
            protocols: protocols.iter().map(|s| s.parse().unwrap()).collect(),
            ports: ports.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn rules_convert() {
        let r = fw_rule(&spec(
            &["subnet:10.0.0.0/8", "vni:7", "ip:fd00::1"],
            &["tcp", "icmp:8/0", "icmp6:128", "proto:47"],
            &["22", "1000-2000"],
        ));
        assert_eq!(r.direction, Direction::In);
        assert_eq!(r.action, FwAction::Allow);
        assert_eq!(
            r.hosts,
            vec![
                FwHost::Subnet("10.0.0.0/8".parse().unwrap()),
                FwHost::Vni(7),
                FwHost::Ip("fd00::1".parse().unwrap())
            ]
        );
        assert_eq!(
            r.protocols[1..],
            [
                FwProtocol::Icmp {
                    icmp_type: Some(8),
                    code: Some(0)
                },
                FwProtocol::Icmp6 {
                    icmp_type: Some(128),
                    code: None
                },
                FwProtocol::Number(47)
            ]
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
        assert_eq!(fw_rule(&spec(&[], &[], &[])).ports, FwPorts::Any);
    }

    #[test]
    fn route_targets_and_prefixes_convert() {
        let t = |s: &str| route_target(s.parse().unwrap());
        assert_eq!(t("drop"), RouterTarget::Drop);
        assert_eq!(t("igw"), RouterTarget::InternetGateway(None));
        assert_eq!(t("igw:4"), RouterTarget::InternetGateway(Some(4)));
        assert_eq!(
            t("ip:10.0.0.1"),
            RouterTarget::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            t("subnet:10.1.0.0/16"),
            RouterTarget::VpcSubnet("10.1.0.0/16".parse().unwrap())
        );
        assert_eq!(t("nic:9"), RouterTarget::Nic(9));
        assert_eq!(route_class(None), RouteClass::Custom);
        assert_eq!(
            route_class(Some(api::RouteClass::System)),
            RouteClass::System
        );
        for p in ["10.0.0.1/8", "0.0.0.0/0", "fd00::1/128", "::/0"] {
            assert_eq!(prefix(p.parse().unwrap()), p.parse::<IpNet>().unwrap());
        }
        let r = range("192.0.2.0/28".parse().unwrap());
        assert_eq!(r.to_string(), "192.0.2.0-192.0.2.15");
        assert_eq!(
            mac("a8:40:25:00:00:05".parse().unwrap()),
            MacAddr([0xa8, 0x40, 0x25, 0, 0, 5])
        );
    }
}
