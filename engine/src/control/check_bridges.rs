//! The check of a boundary's bridge links and static NAT (README, *Pods
//! and bridge networks*): every link on a port of role `bridge`, the links'
//! networks IPv4 and disjoint, every static NAT pair's bridge address on
//! one of them, and no address claimed twice (by the map, the external
//! port, another pair or a link).

use super::check::{boundary_only, port_of_role, unicast_v4, Errors};
use super::specs;
use super::vpc::PortDirectory;
use crate::boundary::bridge::{StaticNat, MAX_BRIDGE_LINKS};
use crate::boundary::map::BoundaryMap;
use crate::vpc::{BridgeLink, ExternalPort};
use crate::{PortRole, SwitchRole};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use vswitch_api::state::SwitchState;

/// The bridge links and static NAT of `state`, or the errors kept in `e`.
pub(crate) fn check_bridges(
    dir: &PortDirectory,
    role: SwitchRole,
    state: &SwitchState,
    map: &BoundaryMap,
    e: &mut Errors,
) -> (Vec<BridgeLink>, StaticNat) {
    let mut links: Vec<BridgeLink> = Vec::new();
    if !state.bridge_links.is_empty() {
        e.ok("bridge_links", boundary_only(role, "bridge links"));
    }
    if state.bridge_links.len() > MAX_BRIDGE_LINKS {
        e.add(
            "bridge_links",
            format!(
                "{} links, more than {MAX_BRIDGE_LINKS}",
                state.bridge_links.len()
            ),
        );
    }
    for l in &state.bridge_links {
        let obj = format!("bridge_link {}", l.port);
        let idx = e.ok(
            &obj,
            port_of_role(dir, &l.port, PortRole::Bridge).map_err(|m| format!("port: {m}")),
        );
        let nexthop = specs::mac(l.nexthop_mac);
        if !nexthop.is_unicast() {
            e.add(
                &obj,
                format!("nexthop_mac: {nexthop} must be a unicast address"),
            );
        }
        let IpAddr::V4(net) = l.cidr.addr() else {
            e.add(
                &obj,
                format!("cidr: {} is not IPv4 (bridge networks are IPv4)", l.cidr),
            );
            continue;
        };
        let len = l.cidr.prefix_len();
        if !(8..=30).contains(&len) || l.cidr.has_host_bits() {
            e.add(
                &obj,
                format!(
                    "cidr: {} must be a network of prefix length 8 to 30 without host bits",
                    l.cidr
                ),
            );
            continue;
        }
        let link = BridgeLink {
            link: ExternalPort {
                port: idx.unwrap_or(0),
                mac: idx
                    .and_then(|i| dir.macs.get(i as usize).copied())
                    .unwrap_or(wire::MacAddr::ZERO),
                nexthop_mac: nexthop,
                addr: l.addr,
            },
            net,
            len,
        };
        if let Some(a) = l.addr {
            if !unicast_v4(a) || !link.contains(a) {
                e.add(
                    &obj,
                    format!("addr: {a} is not a unicast address of {}", l.cidr),
                );
            }
        }
        if links.iter().any(|o| o.link.port == link.link.port) && idx.is_some() {
            e.add(&obj, "the port carries two bridge links");
        }
        if let Some(o) = links
            .iter()
            .find(|o| o.contains(net) || link.contains(o.net))
        {
            e.add(
                &obj,
                format!(
                    "cidr: {} overlaps the bridge network {}/{}",
                    l.cidr, o.net, o.len
                ),
            );
        }
        if idx.is_some() {
            links.push(link);
        }
    }
    let mut pairs: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    let mut bridged: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    if !state.static_nat.is_empty() {
        e.ok("static_nat", boundary_only(role, "static NAT"));
    }
    let own = state.external_port.as_ref().and_then(|x| x.addr);
    for s in &state.static_nat {
        let obj = format!("static_nat {}", s.external);
        if !unicast_v4(s.external) || !unicast_v4(s.bridge) {
            e.add(&obj, "both addresses must be unicast");
        }
        if own == Some(s.external) {
            e.add(
                &obj,
                "external: the boundary's own address on its external port",
            );
        }
        if map.serves(&IpAddr::V4(s.external)) {
            e.add(
                &obj,
                "external: the address is in the boundary map (a sled of this pod holds it)",
            );
        }
        if links.iter().any(|b| b.contains(s.external)) {
            e.add(&obj, "external: the address is on a bridge network");
        }
        match links.iter().find(|b| b.contains(s.bridge)) {
            None => e.add(
                &obj,
                format!("bridge: {} is on no bridge link's network", s.bridge),
            ),
            Some(b) if b.link.addr == Some(s.bridge) => e.add(
                &obj,
                format!(
                    "bridge: {} is this boundary's own address on the link",
                    s.bridge
                ),
            ),
            Some(_) => {}
        }
        if pairs.insert(s.external, s.bridge).is_some() {
            e.add(&obj, "the external address is given twice");
        }
        if let Some(x) = bridged.insert(s.bridge, s.external) {
            e.add(
                &obj,
                format!("bridge: {} is already the bridge address of {x}", s.bridge),
            );
        }
    }
    (links, StaticNat::new(pairs))
}
