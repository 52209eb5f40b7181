//! Internet gateways and external IPs (docs/VPC-MODEL.md, *Internet gateways and
//! external IPs*): the operator's IP pools, the internet gateways (IGWs) and
//! the pools or ranges assigned to them, each VNIC's external addresses with
//! the map external IP -> IGWs, the V2B table toward the boundary, and the
//! boundary's table external IP -> sled.
//!
//! Which address a flow leaves with is decided here ([`select_source`]); the
//! NAT layer (`nat.rs`) applies it.

use hashbrown::HashMap;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};

/// An internet gateway as a route or NAT rule names it: `None` is the system
/// (default) gateway, `Some(id)` a gateway created over the control API.
pub type IgwTag = Option<u32>;

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    /// First address.
    pub first: IpAddr,
    /// Last address (same family, not below `first`).
    pub last: IpAddr,
}

impl IpRange {
    /// A range; `None` when the families differ or `last < first`.
    pub fn new(first: IpAddr, last: IpAddr) -> Option<Self> {
        (first.is_ipv4() == last.is_ipv4() && first <= last).then_some(IpRange { first, last })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.first.is_ipv4() && self.first <= ip && ip <= self.last
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.first.is_ipv4() == other.first.is_ipv4()
            && self.first <= other.last
            && other.first <= self.last
    }

    /// Whether every address of `other` is in `self`.
    pub fn covers(&self, other: &IpRange) -> bool {
        self.contains(other.first) && self.contains(other.last)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// An operator's pool of external addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPool {
    /// Its name.
    pub name: String,
    /// Its ranges (no two overlap, here or in another pool).
    pub ranges: Vec<IpRange>,
}

/// What an IGW may take its source addresses from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum IgwSource {
    /// Every range of a pool.
    Pool(String),
    /// One range (inside a pool).
    Range(IpRange),
}

/// An internet gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Igw {
    /// Its name (for people).
    pub name: String,
    /// The pools and ranges assigned to it.
    pub sources: BTreeSet<IgwSource>,
}

/// Pools and internet gateways.
#[derive(Debug, Clone, Default)]
pub struct IgwTable {
    /// Pools by name.
    pub pools: BTreeMap<String, IpPool>,
    /// Gateways by id.
    pub igws: BTreeMap<u32, Igw>,
}

impl IgwTable {
    /// The pool holding `ip`.
    pub fn pool_of(&self, ip: IpAddr) -> Option<&IpPool> {
        self.pools
            .values()
            .find(|p| p.ranges.iter().any(|r| r.contains(ip)))
    }

    /// Whether gateway `tag` may use `ip` as a source: the system gateway may
    /// use any pool's address; a created gateway only those of the pools and
    /// ranges assigned to it.
    pub fn igw_may_use(&self, tag: IgwTag, ip: IpAddr) -> bool {
        match tag {
            None => true,
            Some(id) => self.igws.get(&id).is_some_and(|g| {
                g.sources.iter().any(|s| match s {
                    IgwSource::Range(r) => r.contains(ip),
                    IgwSource::Pool(name) => self
                        .pools
                        .get(name)
                        .is_some_and(|p| p.ranges.iter().any(|r| r.contains(ip))),
                })
            }),
        }
    }
}

/// A VNIC's SNAT address: shared with other VNICs, each with its own port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnatSpec {
    /// The shared external address.
    pub ip: IpAddr,
    /// First port of the VNIC's range.
    pub first_port: u16,
    /// Last port of the VNIC's range (inclusive).
    pub last_port: u16,
}

/// A VNIC's external addresses and the gateways each may leave through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIps {
    /// Floating IPs (1:1; several are spread over flows by hash).
    pub floating: Vec<IpAddr>,
    /// The ephemeral IP (1:1).
    pub ephemeral: Option<IpAddr>,
    /// The SNAT address and port range.
    pub snat: Option<SnatSpec>,
    /// External IP -> the gateways it may be used through. An IP missing from
    /// the map (every IP, when the map is `None`) belongs to the system
    /// gateway only.
    pub igw_map: Option<HashMap<IpAddr, BTreeSet<IgwTag>>>,
}

impl ExternalIps {
    /// Whether the control plane lets `ip` be used through gateway `tag`.
    pub fn mapped_to(&self, ip: IpAddr, tag: IgwTag) -> bool {
        match self.igw_map.as_ref().and_then(|m| m.get(&ip)) {
            Some(set) => set.contains(&tag),
            None => tag.is_none(),
        }
    }

    /// Whether the VNIC still holds `src` (same address, same kind; for
    /// SNAT the same port range).
    pub fn holds(&self, src: &NatSource) -> bool {
        match src {
            NatSource::Floating(a) => self.floating.contains(a),
            NatSource::Ephemeral(a) => self.ephemeral == Some(*a),
            NatSource::Snat(s) => self.snat == Some(*s),
        }
    }

    /// Every external address of the VNIC.
    pub fn all(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.floating
            .iter()
            .copied()
            .chain(self.ephemeral)
            .chain(self.snat.map(|s| s.ip))
    }

    /// Whether the VNIC has no external address.
    pub fn is_empty(&self) -> bool {
        self.floating.is_empty() && self.ephemeral.is_none() && self.snat.is_none()
    }
}

/// The external source NAT chose for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatSource {
    /// A floating IP, 1:1 (ports kept).
    Floating(IpAddr),
    /// The ephemeral IP, 1:1 (ports kept).
    Ephemeral(IpAddr),
    /// The SNAT address; the port comes from the VNIC's range.
    Snat(SnatSpec),
}

impl NatSource {
    /// The external address.
    pub fn ip(&self) -> IpAddr {
        match self {
            NatSource::Floating(a) | NatSource::Ephemeral(a) => *a,
            NatSource::Snat(s) => s.ip,
        }
    }

    /// Its kind, in words.
    pub fn kind(&self) -> &'static str {
        match self {
            NatSource::Floating(_) => "floating",
            NatSource::Ephemeral(_) => "ephemeral",
            NatSource::Snat(_) => "snat",
        }
    }
}

/// The NAT layer's outbound rules for gateway `tag`, in priority order:
/// floating (spread by `hash`) > ephemeral > SNAT > deny (`None`). Only
/// addresses of the destination's family, mapped to `tag` by the control
/// plane and usable by that gateway, qualify.
pub fn select_source(
    ext: &ExternalIps,
    igws: &IgwTable,
    tag: IgwTag,
    dst: IpAddr,
    hash: u32,
) -> Option<NatSource> {
    let usable = |ip: IpAddr| {
        ip.is_ipv4() == dst.is_ipv4() && ext.mapped_to(ip, tag) && igws.igw_may_use(tag, ip)
    };
    // No allocation: this runs for every new internet flow.
    let floating = || ext.floating.iter().copied().filter(|a| usable(*a));
    let n = floating().count();
    if n > 0 {
        return floating().nth(hash as usize % n).map(NatSource::Floating);
    }
    if let Some(e) = ext.ephemeral.filter(|a| usable(*a)) {
        return Some(NatSource::Ephemeral(e));
    }
    ext.snat.filter(|s| usable(s.ip)).map(NatSource::Snat)
}

/// Whether a flow's existing source is still valid for gateway `tag` (soft
/// revalidation: a flow keeps its address across unrelated changes).
pub fn source_still_valid(
    ext: &ExternalIps,
    igws: &IgwTable,
    tag: IgwTag,
    src: &NatSource,
) -> bool {
    let ip = src.ip();
    ext.holds(src) && ext.mapped_to(ip, tag) && igws.igw_may_use(tag, ip)
}

/// The V2B table: external prefixes -> boundary endpoints (underlay
/// addresses; traffic to them uses [`crate::frame::offsets::BOUNDARY_VNI`]). Longest prefix wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V2bTable {
    entries: BTreeMap<IpNet, Vec<Ipv6Addr>>,
}

impl V2bTable {
    /// Sets the endpoints of `prefix` (replacing any).
    pub fn set(&mut self, prefix: IpNet, endpoints: Vec<Ipv6Addr>) {
        self.entries.insert(prefix.trunc(), endpoints);
    }

    /// Removes `prefix`; whether it was there.
    pub fn remove(&mut self, prefix: &IpNet) -> bool {
        self.entries.remove(&prefix.trunc()).is_some()
    }

    /// The boundary endpoint for traffic to `dst`, chosen among the longest
    /// matching prefix's endpoints by `hash`.
    pub fn lookup(&self, dst: IpAddr, hash: u32) -> Option<Ipv6Addr> {
        let (_, eps) = self
            .entries
            .iter()
            .filter(|(p, eps)| p.contains(&dst) && !eps.is_empty())
            .max_by_key(|(p, _)| p.prefix_len())?;
        eps.get(hash as usize % eps.len()).copied()
    }

    /// Every entry, by prefix.
    pub fn entries(&self) -> impl Iterator<Item = (&IpNet, &Vec<Ipv6Addr>)> {
        self.entries.iter()
    }
}

/// Who owns an external address on this sled: the port, and for a shared
/// SNAT address the port range that names the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalOwner {
    /// The guest port.
    pub port: crate::PortIdx,
    /// `None` for a 1:1 address (floating, ephemeral); the SNAT range otherwise.
    pub ports: Option<(u16, u16)>,
}

/// External address -> owners, rebuilt from the VNICs' external IPs.
#[derive(Debug, Clone, Default)]
pub struct ExternalOwners {
    map: HashMap<IpAddr, Vec<ExternalOwner>>,
}

impl ExternalOwners {
    /// Records an owner.
    pub fn add(&mut self, ip: IpAddr, owner: ExternalOwner) {
        self.map.entry(ip).or_default().push(owner);
    }

    /// The port that owns `ip` 1:1, if any.
    pub fn one_to_one(&self, ip: IpAddr) -> Option<crate::PortIdx> {
        self.map
            .get(&ip)?
            .iter()
            .find(|o| o.ports.is_none())
            .map(|o| o.port)
    }

    /// The port whose SNAT range on `ip` holds `port`.
    pub fn snat_owner(&self, ip: IpAddr, port: u16) -> Option<crate::PortIdx> {
        self.map
            .get(&ip)?
            .iter()
            .find(|o| o.ports.is_some_and(|(a, b)| a <= port && port <= b))
            .map(|o| o.port)
    }

    /// Every owner of `ip`.
    pub fn owners(&self, ip: IpAddr) -> &[ExternalOwner] {
        self.map.get(&ip).map_or(&[], |v| v.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_overlap_and_contain_by_family() {
        let a = IpRange::new(ip("10.0.0.1"), ip("10.0.0.10")).unwrap();
        let b = IpRange::new(ip("10.0.0.10"), ip("10.0.0.20")).unwrap();
        let c = IpRange::new(ip("10.0.0.11"), ip("10.0.0.20")).unwrap();
        assert!(a.overlaps(&b) && !a.overlaps(&c));
        assert!(a.contains(ip("10.0.0.5")) && !a.contains(ip("::a00:5")));
        assert!(IpRange::new(ip("10.0.0.2"), ip("10.0.0.1")).is_none());
        assert!(IpRange::new(ip("10.0.0.2"), ip("::1")).is_none());
    }

    #[test]
    fn v2b_longest_prefix_then_hash() {
        let mut t = V2bTable::default();
        let e1: Ipv6Addr = "fd00:99::1".parse().unwrap();
        let e2: Ipv6Addr = "fd00:99::2".parse().unwrap();
        t.set("0.0.0.0/0".parse().unwrap(), vec![e1, e2]);
        t.set("8.8.8.0/24".parse().unwrap(), vec![e2]);
        assert_eq!(t.lookup(ip("8.8.8.8"), 0), Some(e2));
        assert_eq!(t.lookup(ip("1.1.1.1"), 0), Some(e1));
        assert_eq!(t.lookup(ip("1.1.1.1"), 1), Some(e2));
        assert_eq!(t.lookup(ip("2001:db8::1"), 0), None);
    }
}
