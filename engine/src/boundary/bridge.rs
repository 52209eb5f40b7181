//! Cross-pod floating IPs at the boundary (README, *Pods and bridge
//! networks*). Two pods' boundaries are joined by a link (a port of role
//! `bridge` on each) carrying their bridge network, e.g. 100.0.1.0/24. A VM
//! in pod A holds a bridge address (100.0.1.4) as its floating IP; the
//! address the internet sees (162.3.124.5) is in pod B's external network.
//!
//! - Pod B's boundary keeps the static 1:1 NAT 162.3.124.5 <-> 100.0.1.4: from
//!   its external port, a packet for 162.3.124.5 is translated to 100.0.1.4
//!   and sent out of the bridge link whose network holds it
//!   ([`to_bridge`]); from the bridge link, a packet from 100.0.1.4 is
//!   translated to come from 162.3.124.5 and sent out of the external port.
//!   ICMP errors are translated inside too (the quoted packet's address).
//! - Pod A's boundary treats the bridge link as an external link: its map
//!   has 100.0.1.4 -> the VM's sled, so what the link brings is encapsulated
//!   toward the sled, and traffic its sleds send from a bridge address
//!   leaves by the bridge link rather than the external port.
//!
//! The boundary still keeps no flow state: each packet is a table lookup
//! and an address rewrite with incremental checksums.

use super::{answer_arp, answer_echo, ip_facts, tagged, to_sled};
use crate::nat::rewrite::{self, End};
use crate::pktbuf::PacketBuf;
use crate::tables::Snapshot;
use crate::vpc::{BridgeLink, ExternalPort};
use crate::{DropReason, Outcome, Path};
use hashbrown::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use wire::ethernet::{ethertype, EthernetFrame};

/// The most bridge links one boundary has (one per other pod it pairs with).
pub const MAX_BRIDGE_LINKS: usize = 64;

/// Static 1:1 NAT between external addresses and bridge addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticNat {
    to_bridge: HashMap<Ipv4Addr, Ipv4Addr>,
    to_external: HashMap<Ipv4Addr, Ipv4Addr>,
}

impl StaticNat {
    /// The table of `pairs` (external, bridge); the check has refused
    /// duplicates on either side.
    pub fn new(pairs: impl IntoIterator<Item = (Ipv4Addr, Ipv4Addr)>) -> StaticNat {
        let mut t = StaticNat::default();
        for (x, b) in pairs {
            t.to_bridge.insert(x, b);
            t.to_external.insert(b, x);
        }
        t
    }

    /// The bridge address of external address `ip`.
    #[inline]
    pub fn bridge_of(&self, ip: IpAddr) -> Option<Ipv4Addr> {
        match ip {
            IpAddr::V4(a) if !self.to_bridge.is_empty() => self.to_bridge.get(&a).copied(),
            _ => None,
        }
    }

    /// The external address of bridge address `ip`.
    #[inline]
    pub fn external_of(&self, ip: IpAddr) -> Option<Ipv4Addr> {
        match ip {
            IpAddr::V4(a) if !self.to_external.is_empty() => self.to_external.get(&a).copied(),
            _ => None,
        }
    }

    /// Every pair (external, bridge).
    pub fn pairs(&self) -> impl Iterator<Item = (Ipv4Addr, Ipv4Addr)> + '_ {
        self.to_bridge.iter().map(|(x, b)| (*x, *b))
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.to_bridge.is_empty()
    }
}

/// The bridge link whose network holds `ip`, if any.
#[inline]
pub fn link_for(snap: &Snapshot, ip: Ipv4Addr) -> Option<&BridgeLink> {
    snap.vpc.bridges.iter().find(|b| b.contains(ip))
}

/// Pod B, from the external port: `pkt` (for an external address with
/// bridge address `to`) translated and sent out of the bridge link.
pub fn to_bridge<P: PacketBuf>(snap: &Snapshot, to: Ipv4Addr, pkt: &mut P) -> Outcome {
    let Some(b) = link_for(snap, to) else {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    };
    let f = pkt.bytes_mut();
    // An error about a packet the VM sent (from the external address, as
    // the internet saw it) quotes that address as its source.
    let done = rewrite::icmp_error(f).is_some_and(|_| {
        rewrite::rewrite_icmp_error(f, End::Dst, to.into(), End::Src, to.into(), None)
    }) || rewrite::rewrite(f, End::Dst, to.into(), None);
    if !done {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    }
    out_of(&b.link, pkt)
}

/// Pod B, from a bridge link: `pkt` (from bridge address whose external
/// address is `from`) translated and sent out of the external port.
fn to_external<P: PacketBuf>(snap: &Snapshot, from: Ipv4Addr, pkt: &mut P) -> Outcome {
    let Some(x) = snap.vpc.external_port else {
        return Outcome::drop(DropReason::NoExternalPort, Path::Early);
    };
    let f = pkt.bytes_mut();
    // An error the VM sends quotes the packet it got, addressed to the
    // bridge address: the internet sent it to the external one.
    let done = rewrite::icmp_error(f).is_some_and(|_| {
        rewrite::rewrite_icmp_error(f, End::Src, from.into(), End::Dst, from.into(), None)
    }) || rewrite::rewrite(f, End::Src, from.into(), None);
    if !done {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    }
    out_of(&x, pkt)
}

/// Sends `pkt` out of `link`: from its MAC to its next hop.
fn out_of<P: PacketBuf>(link: &ExternalPort, pkt: &mut P) -> Outcome {
    let mut eth = EthernetFrame::new_unchecked(pkt.bytes_mut());
    eth.set_dst(link.nexthop_mac);
    eth.set_src(link.mac);
    Outcome::forward(link.port, Path::Fast)
}

/// Whether the boundary answers ARP for `ip` on bridge link `b`: its own
/// address there, and the bridge addresses its map sends to a sled (pod A's
/// side: they are its pod's external IPs on that link).
fn serves_on(snap: &Snapshot, b: &BridgeLink, ip: Ipv4Addr) -> bool {
    b.link.addr == Some(ip) || (b.contains(ip) && snap.vpc.boundary_map.serves(&IpAddr::V4(ip)))
}

/// A frame received on bridge link `b`.
pub fn from_bridge<P: PacketBuf>(snap: &Snapshot, b: &BridgeLink, pkt: &mut P) -> Outcome {
    let ethertype = match EthernetFrame::new_checked(pkt.bytes()) {
        Ok(eth) => eth.ethertype(),
        Err(_) => return Outcome::drop(DropReason::Malformed, Path::Early),
    };
    if ethertype == ethertype::ARP {
        return answer_arp(&b.link, pkt, |ip| serves_on(snap, b, ip));
    }
    if tagged(pkt.bytes()) {
        return Outcome::drop(DropReason::VlanTagged, Path::Early);
    }
    if ethertype != ethertype::IPV4 {
        // Bridge networks are IPv4.
        return Outcome::drop(DropReason::Unsupported, Path::Early);
    }
    let (info, l3, key) = match ip_facts(pkt.bytes()) {
        Ok(f) => f,
        Err(o) => return o,
    };
    if b.link.addr.is_some_and(|a| l3.dst == IpAddr::V4(a)) {
        return answer_echo(&b.link, &l3, info.icmp, pkt);
    }
    if let Some(x) = snap.vpc.static_nat.external_of(l3.src) {
        return to_external(snap, x, pkt);
    }
    // Only the bridge network's own addresses come to a sled this way.
    if !matches!(l3.dst, IpAddr::V4(d) if b.contains(d)) {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    }
    to_sled(snap, &b.link, &l3, &key, pkt)
}

/// Pod A, from the underlay: the port a decapsulated frame from a sled
/// leaves by: the bridge link whose network holds its source address, else
/// the external port.
#[inline]
pub fn exit_for(snap: &Snapshot, inner: &[u8]) -> Option<ExternalPort> {
    if !snap.vpc.bridges.is_empty() && inner.get(12..14) == Some(&[0x08, 0x00]) {
        if let Some(src) = inner.get(26..30).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
            if let Some(b) = link_for(snap, Ipv4Addr::from(src)) {
                return Some(b.link);
            }
        }
    }
    snap.vpc.external_port
}
