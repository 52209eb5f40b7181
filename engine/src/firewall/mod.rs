//! VPC firewall rules with OPTE/Oxide semantics.
//!
//! Rules are checked in priority order (lower number first, Deny before Allow
//! at equal priority); the first matching rule decides. With no match,
//! inbound traffic is denied and outbound traffic allowed.
//!
//! Allow is stateful, but the state lives in the flow table, not here:
//! [`FirewallRules::evaluate`] is consulted only for a flow's first packet,
//! and the caller records an allowed flow so that its replies pass.

pub mod stateful;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::{proto, Direction, FlowKey};

/// What a rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FwAction {
    /// Let the flow through (and, through the flow table, its replies).
    Allow,
    /// Drop the flow.
    Deny,
}

/// A host filter, checked against the remote end of the flow: the
/// destination outbound, the source inbound.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum FwHost {
    /// Any remote host.
    Any,
    /// Exactly this address.
    Ip(IpAddr),
    /// Any address in this prefix (host bits must be zero).
    Subnet(IpNet),
    /// Any host in the VPC of this VNI; see [`FwContext::remote_vni`].
    Vni(u32),
}

/// A protocol filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "type",
    content = "value",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum FwProtocol {
    /// Any protocol.
    Any,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMPv4, optionally of one type, and of one code within that type.
    Icmp {
        /// ICMP type; `None` matches every type.
        #[serde(default)]
        icmp_type: Option<u8>,
        /// ICMP code; `None` matches every code. Requires `icmp_type`.
        #[serde(default)]
        code: Option<u8>,
    },
    /// ICMPv6, optionally of one type, and of one code within that type.
    Icmp6 {
        /// ICMPv6 type; `None` matches every type.
        #[serde(default)]
        icmp_type: Option<u8>,
        /// ICMPv6 code; `None` matches every code. Requires `icmp_type`.
        #[serde(default)]
        code: Option<u8>,
    },
    /// Any IP protocol by number.
    Number(u8),
}

/// An inclusive range of ports; a single port has `first == last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    /// Lowest port of the range.
    pub first: u16,
    /// Highest port of the range.
    pub last: u16,
}

impl PortRange {
    /// The range holding just `port`.
    pub fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

/// A port filter.
///
/// As in Oxide, it matches the flow's destination port in both directions:
/// outbound that is the remote service's port, inbound the port the guest
/// listens on. Only TCP and UDP flows have ports; a port list never matches
/// any other protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum FwPorts {
    /// Any port, and flows without ports.
    #[default]
    Any,
    /// A TCP or UDP destination port within one of these ranges.
    List(Vec<PortRange>),
}

/// One firewall rule. A flow matches when every filter matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FwRule {
    /// Which traffic the rule applies to.
    #[serde(with = "DirectionDef")]
    pub direction: Direction,
    /// Lower numbers are checked first.
    pub priority: u16,
    /// What a match does.
    pub action: FwAction,
    /// Remote hosts (destination outbound, source inbound); empty = any.
    #[serde(default)]
    pub hosts: Vec<FwHost>,
    /// Protocols; empty = any.
    #[serde(default)]
    pub protocols: Vec<FwProtocol>,
    /// Destination ports, in both directions (see [`FwPorts`]).
    #[serde(default)]
    pub ports: FwPorts,
}

/// Serde's view of [`Direction`], which lives in a serde-free module.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Direction", rename_all = "kebab-case")]
enum DirectionDef {
    Out,
    In,
}

/// Why a rule set was refused. `rule` is the index in the list as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirewallError {
    /// A port range whose first port is above its last.
    #[error("rule {rule}: port range {first}-{last} has first > last")]
    ReversedPortRange {
        /// Index of the rule.
        rule: usize,
        /// First port as given.
        first: u16,
        /// Last port as given.
        last: u16,
    },
    /// A port list with no range, which would match nothing.
    #[error("rule {rule}: port list is empty; use \"any\" to match every port")]
    EmptyPortList {
        /// Index of the rule.
        rule: usize,
    },
    /// A port list whose protocols never carry ports.
    #[error("rule {rule}: a port filter needs TCP or UDP among the rule's protocols")]
    PortsWithoutTransport {
        /// Index of the rule.
        rule: usize,
    },
    /// An ICMP code filter without a type to qualify it.
    #[error("rule {rule}: ICMP code {code} given without an ICMP type")]
    IcmpCodeWithoutType {
        /// Index of the rule.
        rule: usize,
        /// The code given.
        code: u8,
    },
    /// A subnet with bits set beyond its prefix length.
    #[error("rule {rule}: subnet {subnet} has host bits set; did you mean {network}?")]
    SubnetHostBits {
        /// Index of the rule.
        rule: usize,
        /// The subnet as given.
        subnet: IpNet,
        /// The same prefix with its host bits cleared.
        network: IpNet,
    },
    /// A VNI that does not fit Geneve's 24 bits.
    #[error("rule {rule}: VNI {vni} does not fit in 24 bits")]
    VniOutOfRange {
        /// Index of the rule.
        rule: usize,
        /// The VNI given.
        vni: u32,
    },
}

/// What the firewall knows about a flow's first packet.
#[derive(Debug, Clone, Copy)]
pub struct FwContext<'a> {
    /// Which way the packet crosses the guest port.
    pub direction: Direction,
    /// The packet's flow, as seen on the guest side.
    pub key: &'a FlowKey,
    /// The VNI of the remote end, when it is inside a VPC: from decapsulation
    /// inbound, from the route's resolution outbound. `None` (e.g. internet
    /// traffic) matches no [`FwHost::Vni`] filter.
    pub remote_vni: Option<u32>,
}

/// The firewall's answer for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FwDecision {
    /// Allow or deny.
    pub action: FwAction,
    /// Index, in [`FirewallRules::rules`] order, of the rule that decided;
    /// `None` when no rule matched and the direction's default applied. The
    /// caller keeps per-rule hit counters by this index.
    pub rule: Option<usize>,
}

/// A validated rule set, sorted for evaluation. Immutable once built, so a
/// port can share it between workers and replace it atomically as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallRules {
    rules: Vec<FwRule>,
}

impl FirewallRules {
    /// Validates `rules` and sorts them by priority, Deny before Allow at
    /// equal priority, keeping the given order otherwise.
    pub fn new(mut rules: Vec<FwRule>) -> Result<Self, FirewallError> {
        for (i, rule) in rules.iter().enumerate() {
            validate(i, rule)?;
        }
        // Stable, so that equal rules keep the order the control plane sent.
        rules.sort_by_key(|r| (r.priority, r.action == FwAction::Allow));
        Ok(FirewallRules { rules })
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[FwRule] {
        &self.rules
    }

    /// The first matching rule's action, or the direction's default
    /// (inbound Deny, outbound Allow). Meant for a flow's first packet only:
    /// later packets and replies follow the flow table.
    pub fn evaluate(&self, ctx: FwContext<'_>) -> FwDecision {
        match self.rules.iter().enumerate().find(|(_, r)| r.matches(&ctx)) {
            Some((i, r)) => FwDecision {
                action: r.action,
                rule: Some(i),
            },
            None => FwDecision {
                action: default_action(ctx.direction),
                rule: None,
            },
        }
    }
}

/// The action when no rule matches.
pub fn default_action(direction: Direction) -> FwAction {
    match direction {
        Direction::In => FwAction::Deny,
        Direction::Out => FwAction::Allow,
    }
}

/// The largest VNI Geneve can carry.
const MAX_VNI: u32 = 0x00ff_ffff;

fn validate(rule: usize, r: &FwRule) -> Result<(), FirewallError> {
    for host in &r.hosts {
        match *host {
            FwHost::Subnet(subnet) if subnet.trunc() != subnet => {
                let network = subnet.trunc();
                return Err(FirewallError::SubnetHostBits {
                    rule,
                    subnet,
                    network,
                });
            }
            FwHost::Vni(vni) if vni > MAX_VNI => {
                return Err(FirewallError::VniOutOfRange { rule, vni });
            }
            _ => {}
        }
    }
    for p in &r.protocols {
        if let FwProtocol::Icmp {
            icmp_type: None,
            code: Some(code),
        }
        | FwProtocol::Icmp6 {
            icmp_type: None,
            code: Some(code),
        } = *p
        {
            return Err(FirewallError::IcmpCodeWithoutType { rule, code });
        }
    }
    if let FwPorts::List(ranges) = &r.ports {
        if ranges.is_empty() {
            return Err(FirewallError::EmptyPortList { rule });
        }
        if let Some(bad) = ranges.iter().find(|p| p.first > p.last) {
            return Err(FirewallError::ReversedPortRange {
                rule,
                first: bad.first,
                last: bad.last,
            });
        }
        if !r.protocols.is_empty() && !r.protocols.iter().any(FwProtocol::may_have_ports) {
            return Err(FirewallError::PortsWithoutTransport { rule });
        }
    }
    Ok(())
}

impl FwRule {
    fn matches(&self, ctx: &FwContext<'_>) -> bool {
        let remote = match ctx.direction {
            Direction::Out => ctx.key.dst,
            Direction::In => ctx.key.src,
        };
        self.direction == ctx.direction
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(remote, ctx)))
            && (self.protocols.is_empty() || self.protocols.iter().any(|p| p.matches(ctx.key)))
            && self.ports.matches(ctx.key)
    }
}

impl FwHost {
    fn matches(&self, remote: IpAddr, ctx: &FwContext<'_>) -> bool {
        match self {
            FwHost::Any => true,
            FwHost::Ip(ip) => *ip == remote,
            FwHost::Subnet(net) => net.contains(&remote),
            FwHost::Vni(vni) => ctx.remote_vni == Some(*vni),
        }
    }
}

impl FwProtocol {
    fn matches(&self, key: &FlowKey) -> bool {
        match *self {
            FwProtocol::Any => true,
            FwProtocol::Tcp => key.proto == proto::TCP,
            FwProtocol::Udp => key.proto == proto::UDP,
            FwProtocol::Icmp { icmp_type, code } => {
                key.proto == proto::ICMP && icmp_matches(icmp_type, code, key.icmp)
            }
            FwProtocol::Icmp6 { icmp_type, code } => {
                key.proto == proto::ICMPV6 && icmp_matches(icmp_type, code, key.icmp)
            }
            FwProtocol::Number(n) => key.proto == n,
        }
    }

    /// Whether a flow of this protocol can carry TCP or UDP ports.
    fn may_have_ports(&self) -> bool {
        match *self {
            FwProtocol::Any | FwProtocol::Tcp | FwProtocol::Udp => true,
            FwProtocol::Number(n) => has_ports(n),
            FwProtocol::Icmp { .. } | FwProtocol::Icmp6 { .. } => false,
        }
    }
}

fn icmp_matches(want_type: Option<u8>, want_code: Option<u8>, got: Option<(u8, u8)>) -> bool {
    let Some(want_type) = want_type else {
        return true;
    };
    got.is_some_and(|(t, c)| t == want_type && want_code.is_none_or(|want| want == c))
}

/// Only TCP and UDP keys carry real ports; ICMP keys hold the echo id there.
fn has_ports(p: u8) -> bool {
    p == proto::TCP || p == proto::UDP
}

impl FwPorts {
    fn matches(&self, key: &FlowKey) -> bool {
        match self {
            FwPorts::Any => true,
            FwPorts::List(ranges) => {
                has_ports(key.proto) && ranges.iter().any(|r| r.contains(key.dst_port))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{In, Out};
    use FwAction::{Allow, Deny};

    const GUEST: &str = "172.30.0.5";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rule(direction: Direction, priority: u16, action: FwAction) -> FwRule {
        FwRule {
            direction,
            priority,
            action,
            hosts: vec![],
            protocols: vec![],
            ports: FwPorts::Any,
        }
    }

    /// A flow between the guest and `remote` in `dir`, with `remote_port` on
    /// the remote side and `guest_port` on the guest side.
    fn flow(dir: Direction, p: u8, remote: &str, remote_port: u16, guest_port: u16) -> FlowKey {
        let (g, r) = (ip(GUEST), ip(remote));
        let (src, dst, src_port, dst_port) = match dir {
            Out => (g, r, guest_port, remote_port),
            In => (r, g, remote_port, guest_port),
        };
        FlowKey {
            proto: p,
            src,
            dst,
            src_port,
            dst_port,
            icmp: None,
        }
    }

    fn icmp(p: u8, dir: Direction, remote: &str, t: u8, c: u8) -> FlowKey {
        FlowKey {
            icmp: Some((t, c)),
            ..flow(dir, p, remote, 7, 7)
        }
    }

    fn eval(rules: &FirewallRules, key: &FlowKey, dir: Direction, vni: Option<u32>) -> FwDecision {
        rules.evaluate(FwContext {
            direction: dir,
            key,
            remote_vni: vni,
        })
    }

    /// The action for `key`, with a rule set of `r` plus nothing else.
    fn act(r: FwRule, key: &FlowKey, vni: Option<u32>) -> FwAction {
        let dir = r.direction;
        eval(&FirewallRules::new(vec![r]).unwrap(), key, dir, vni).action
    }

    fn ports(list: &[(u16, u16)]) -> FwPorts {
        FwPorts::List(
            list.iter()
                .map(|&(first, last)| PortRange { first, last })
                .collect(),
        )
    }

    #[test]
    fn defaults_deny_in_allow_out() {
        let fw = FirewallRules::default();
        let k = flow(In, proto::TCP, "10.0.0.1", 1234, 22);
        assert_eq!(
            eval(&fw, &k, In, None),
            FwDecision {
                action: Deny,
                rule: None
            }
        );
        let k = flow(Out, proto::TCP, "10.0.0.1", 443, 40000);
        assert_eq!(
            eval(&fw, &k, Out, None),
            FwDecision {
                action: Allow,
                rule: None
            }
        );
    }

    #[test]
    fn rules_apply_only_to_their_direction() {
        let fw = FirewallRules::new(vec![rule(Out, 1, Deny)]).unwrap();
        let k = flow(In, proto::TCP, "10.0.0.1", 1234, 22);
        assert_eq!(eval(&fw, &k, In, None).rule, None);
        let k = flow(Out, proto::TCP, "10.0.0.1", 22, 1234);
        assert_eq!(eval(&fw, &k, Out, None).rule, Some(0));
    }

    #[test]
    fn host_ip_is_destination_outbound() {
        let r = FwRule {
            hosts: vec![FwHost::Ip(ip("10.0.0.9"))],
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(
                r.clone(),
                &flow(Out, proto::UDP, "10.0.0.9", 53, 5000),
                None
            ),
            Deny
        );
        assert_eq!(
            act(r, &flow(Out, proto::UDP, "10.0.0.8", 53, 5000), None),
            Allow
        );
    }

    #[test]
    fn host_ip_is_source_inbound() {
        let r = FwRule {
            hosts: vec![FwHost::Ip(ip("10.0.0.9"))],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(r.clone(), &flow(In, proto::TCP, "10.0.0.9", 999, 22), None),
            Allow
        );
        assert_eq!(
            act(r.clone(), &flow(In, proto::TCP, "10.0.0.8", 999, 22), None),
            Deny
        );
        // The guest's own address is the destination inbound: never the host.
        let own = FwRule {
            hosts: vec![FwHost::Ip(ip(GUEST))],
            ..r
        };
        assert_eq!(
            act(own, &flow(In, proto::TCP, "10.0.0.9", 999, 22), None),
            Deny
        );
    }

    #[test]
    fn host_subnet_both_directions() {
        let hosts = vec![FwHost::Subnet("10.1.0.0/16".parse().unwrap())];
        let out = FwRule {
            hosts: hosts.clone(),
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(out.clone(), &flow(Out, proto::TCP, "10.1.2.3", 80, 5), None),
            Deny
        );
        assert_eq!(
            act(out, &flow(Out, proto::TCP, "10.2.2.3", 80, 5), None),
            Allow
        );
        let inb = FwRule {
            hosts,
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(inb.clone(), &flow(In, proto::TCP, "10.1.9.9", 5, 80), None),
            Allow
        );
        assert_eq!(
            act(inb.clone(), &flow(In, proto::TCP, "10.9.9.9", 5, 80), None),
            Deny
        );
        // A v4 subnet never matches a v6 remote.
        assert_eq!(
            act(inb, &flow(In, proto::TCP, "fd00::1", 5, 80), None),
            Deny
        );
    }

    #[test]
    fn host_vni_uses_remote_vni() {
        for dir in [In, Out] {
            let action = match dir {
                In => Allow,
                Out => Deny,
            };
            let r = FwRule {
                hosts: vec![FwHost::Vni(77)],
                ..rule(dir, 1, action)
            };
            let k = flow(dir, proto::TCP, "10.0.0.9", 80, 5);
            let fw = FirewallRules::new(vec![r]).unwrap();
            assert_eq!(eval(&fw, &k, dir, Some(77)).rule, Some(0));
            assert_eq!(eval(&fw, &k, dir, Some(78)).rule, None);
            assert_eq!(eval(&fw, &k, dir, None).rule, None);
        }
    }

    #[test]
    fn any_of_several_hosts_matches() {
        let r = FwRule {
            hosts: vec![FwHost::Ip(ip("10.0.0.1")), FwHost::Vni(5)],
            ..rule(In, 1, Allow)
        };
        let k = flow(In, proto::TCP, "10.0.0.2", 1, 2);
        assert_eq!(act(r.clone(), &k, Some(5)), Allow);
        assert_eq!(act(r.clone(), &k, None), Deny);
        let any = FwRule {
            hosts: vec![FwHost::Any],
            ..r
        };
        assert_eq!(act(any, &k, None), Allow);
    }

    #[test]
    fn tcp_udp_protocols() {
        let r = FwRule {
            protocols: vec![FwProtocol::Tcp],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(r.clone(), &flow(In, proto::TCP, "10.0.0.1", 1, 2), None),
            Allow
        );
        assert_eq!(act(r, &flow(In, proto::UDP, "10.0.0.1", 1, 2), None), Deny);
        let r = FwRule {
            protocols: vec![FwProtocol::Udp],
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(r.clone(), &flow(Out, proto::UDP, "10.0.0.1", 1, 2), None),
            Deny
        );
        assert_eq!(
            act(r, &flow(Out, proto::TCP, "10.0.0.1", 1, 2), None),
            Allow
        );
    }

    #[test]
    fn ports_match_destination_port_both_directions() {
        // Outbound: the remote service's port.
        let out = FwRule {
            protocols: vec![FwProtocol::Tcp],
            ports: ports(&[(443, 443)]),
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(
                out.clone(),
                &flow(Out, proto::TCP, "1.1.1.1", 443, 40000),
                None
            ),
            Deny
        );
        assert_eq!(
            act(out, &flow(Out, proto::TCP, "1.1.1.1", 40000, 443), None),
            Allow
        );
        // Inbound: the guest's listening port.
        let inb = FwRule {
            ports: ports(&[(22, 22)]),
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(
                inb.clone(),
                &flow(In, proto::TCP, "1.1.1.1", 40000, 22),
                None
            ),
            Allow
        );
        assert_eq!(
            act(inb, &flow(In, proto::TCP, "1.1.1.1", 22, 40000), None),
            Deny
        );
    }

    #[test]
    fn port_lists_and_ranges() {
        let r = FwRule {
            protocols: vec![FwProtocol::Tcp, FwProtocol::Udp],
            ports: ports(&[(80, 80), (8000, 8080)]),
            ..rule(In, 1, Allow)
        };
        for (p, port, want) in [
            (proto::TCP, 80, Allow),
            (proto::UDP, 80, Allow),
            (proto::TCP, 8000, Allow),
            (proto::TCP, 8042, Allow),
            (proto::UDP, 8080, Allow),
            (proto::TCP, 7999, Deny),
            (proto::TCP, 8081, Deny),
            (proto::TCP, 81, Deny),
        ] {
            let k = flow(In, p, "10.0.0.1", 5555, port);
            assert_eq!(act(r.clone(), &k, None), want, "proto {p} port {port}");
        }
    }

    #[test]
    fn port_list_never_matches_portless_flows() {
        // An ICMP echo key holds the echo id in its ports: it must not count.
        let r = FwRule {
            ports: ports(&[(7, 7)]),
            ..rule(In, 1, Allow)
        };
        assert_eq!(act(r, &icmp(proto::ICMP, In, "10.0.0.1", 8, 0), None), Deny);
    }

    #[test]
    fn icmp_type_and_code() {
        let echo = FwProtocol::Icmp {
            icmp_type: Some(8),
            code: Some(0),
        };
        let r = FwRule {
            protocols: vec![echo],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(r.clone(), &icmp(proto::ICMP, In, "10.0.0.1", 8, 0), None),
            Allow
        );
        assert_eq!(
            act(r.clone(), &icmp(proto::ICMP, In, "10.0.0.1", 8, 1), None),
            Deny
        );
        assert_eq!(
            act(r.clone(), &icmp(proto::ICMP, In, "10.0.0.1", 0, 0), None),
            Deny
        );
        // ICMPv4 filter does not match ICMPv6.
        assert_eq!(
            act(r, &icmp(proto::ICMPV6, In, "fd00::1", 8, 0), None),
            Deny
        );

        let any_code = FwRule {
            protocols: vec![FwProtocol::Icmp {
                icmp_type: Some(3),
                code: None,
            }],
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(
                any_code.clone(),
                &icmp(proto::ICMP, Out, "10.0.0.1", 3, 4),
                None
            ),
            Deny
        );
        assert_eq!(
            act(any_code, &icmp(proto::ICMP, Out, "10.0.0.1", 11, 0), None),
            Allow
        );

        let all = FwRule {
            protocols: vec![FwProtocol::Icmp {
                icmp_type: None,
                code: None,
            }],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(all, &icmp(proto::ICMP, In, "10.0.0.1", 13, 0), None),
            Allow
        );
    }

    #[test]
    fn icmp6_type_and_code() {
        let r = FwRule {
            protocols: vec![FwProtocol::Icmp6 {
                icmp_type: Some(128),
                code: None,
            }],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(r.clone(), &icmp(proto::ICMPV6, In, "fd00::1", 128, 0), None),
            Allow
        );
        assert_eq!(
            act(r.clone(), &icmp(proto::ICMPV6, In, "fd00::1", 129, 0), None),
            Deny
        );
        assert_eq!(
            act(r, &icmp(proto::ICMP, In, "10.0.0.1", 128, 0), None),
            Deny
        );
    }

    #[test]
    fn protocol_number() {
        let r = FwRule {
            protocols: vec![FwProtocol::Number(132)],
            ..rule(Out, 1, Deny)
        };
        assert_eq!(
            act(r.clone(), &flow(Out, 132, "10.0.0.1", 0, 0), None),
            Deny
        );
        assert_eq!(
            act(r, &flow(Out, proto::TCP, "10.0.0.1", 0, 0), None),
            Allow
        );
        let tcp_by_number = FwRule {
            protocols: vec![FwProtocol::Number(proto::TCP)],
            ports: ports(&[(22, 22)]),
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            act(
                tcp_by_number,
                &flow(In, proto::TCP, "10.0.0.1", 9, 22),
                None
            ),
            Allow
        );
    }

    #[test]
    fn lower_priority_number_wins() {
        let k = flow(In, proto::TCP, "10.0.0.1", 9, 22);
        let fw = FirewallRules::new(vec![rule(In, 200, Deny), rule(In, 100, Allow)]).unwrap();
        assert_eq!(
            eval(&fw, &k, In, None),
            FwDecision {
                action: Allow,
                rule: Some(0)
            }
        );
        assert_eq!(fw.rules()[0].priority, 100);
    }

    #[test]
    fn non_matching_higher_priority_falls_through() {
        let k = flow(In, proto::TCP, "10.0.0.1", 9, 22);
        let specific = FwRule {
            protocols: vec![FwProtocol::Udp],
            ..rule(In, 1, Deny)
        };
        let fw = FirewallRules::new(vec![specific, rule(In, 2, Allow)]).unwrap();
        assert_eq!(eval(&fw, &k, In, None).rule, Some(1));
    }

    #[test]
    fn deny_beats_allow_at_equal_priority() {
        let k = flow(In, proto::TCP, "10.0.0.1", 9, 22);
        let fw = FirewallRules::new(vec![rule(In, 5, Allow), rule(In, 5, Deny)]).unwrap();
        assert_eq!(
            eval(&fw, &k, In, None),
            FwDecision {
                action: Deny,
                rule: Some(0)
            }
        );
        assert_eq!(fw.rules()[1].action, Allow);
    }

    fn refused(r: FwRule) -> String {
        let ok = rule(In, 1, Allow);
        FirewallRules::new(vec![ok, r]).unwrap_err().to_string()
    }

    #[test]
    fn validation_errors_name_the_rule() {
        let reversed = FwRule {
            ports: ports(&[(80, 80), (90, 85)]),
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            refused(reversed),
            "rule 1: port range 90-85 has first > last"
        );
        let empty = FwRule {
            ports: ports(&[]),
            ..rule(In, 1, Allow)
        };
        assert!(refused(empty).starts_with("rule 1: port list is empty"));
        let code_only = FwRule {
            protocols: vec![FwProtocol::Icmp6 {
                icmp_type: None,
                code: Some(3),
            }],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            refused(code_only),
            "rule 1: ICMP code 3 given without an ICMP type"
        );
        let icmp_ports = FwRule {
            protocols: vec![FwProtocol::Icmp {
                icmp_type: None,
                code: None,
            }],
            ports: ports(&[(1, 2)]),
            ..rule(In, 1, Allow)
        };
        assert!(refused(icmp_ports).contains("needs TCP or UDP"));
        let host_bits = FwRule {
            hosts: vec![FwHost::Subnet("10.1.2.3/16".parse().unwrap())],
            ..rule(In, 1, Allow)
        };
        assert_eq!(
            refused(host_bits),
            "rule 1: subnet 10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?"
        );
        let vni = FwRule {
            hosts: vec![FwHost::Vni(1 << 24)],
            ..rule(In, 1, Allow)
        };
        assert_eq!(refused(vni), "rule 1: VNI 16777216 does not fit in 24 bits");
    }

    #[test]
    fn serde_round_trip() {
        let r = FwRule {
            hosts: vec![
                FwHost::Subnet("10.0.0.0/8".parse().unwrap()),
                FwHost::Vni(9),
            ],
            protocols: vec![
                FwProtocol::Tcp,
                FwProtocol::Icmp {
                    icmp_type: Some(8),
                    code: None,
                },
            ],
            ports: ports(&[(22, 22)]),
            ..rule(In, 10, Allow)
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""direction":"in""#), "{json}");
        assert!(json.contains(r#""icmp-type":8"#), "{json}");
        assert_eq!(serde_json::from_str::<FwRule>(&json).unwrap(), r);
        let minimal: FwRule =
            serde_json::from_str(r#"{"direction":"out","priority":1,"action":"deny"}"#).unwrap();
        assert_eq!(minimal, rule(Out, 1, Deny));
    }
}
