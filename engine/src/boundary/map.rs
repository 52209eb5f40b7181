//! The boundary map as the workers read it: external IP -> the underlay
//! address its traffic goes to. Floating and ephemeral IPs belong to one
//! NIC, so the whole address maps to one endpoint. A SNAT address is shared:
//! NICs on different sleds each hold a disjoint port range of it, so its
//! entries are (port range -> endpoint) and an inbound packet's port picks
//! one (see [`super::demux_port`]).

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// One share of a SNAT address: ports `first..=last` go to `sled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortShare {
    /// First port of the share.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
    /// Underlay address the share's traffic goes to.
    pub sled: Ipv6Addr,
}

/// External IP -> endpoint, whole or by port range. Built once per
/// generation by the check (which refuses overlaps); read by the workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundaryMap {
    whole: HashMap<IpAddr, Ipv6Addr>,
    /// Shares sorted by first port, disjoint.
    shared: HashMap<IpAddr, Box<[PortShare]>>,
}

impl BoundaryMap {
    /// A map of `whole` addresses and `shared` ones; each share list is
    /// sorted here. The caller has refused overlaps and addresses in both.
    pub fn new(
        whole: HashMap<IpAddr, Ipv6Addr>,
        shared: HashMap<IpAddr, Vec<PortShare>>,
    ) -> BoundaryMap {
        let shared = shared
            .into_iter()
            .map(|(ip, mut v)| {
                v.sort_by_key(|s| s.first);
                (ip, v.into_boxed_slice())
            })
            .collect();
        BoundaryMap { whole, shared }
    }

    /// Whether `ip` has an entry of either kind (the boundary answers ARP
    /// and neighbour solicitations for it).
    pub fn serves(&self, ip: &IpAddr) -> bool {
        self.whole.contains_key(ip) || self.shared.contains_key(ip)
    }

    /// The endpoint for traffic to `ip`; for a shared address the one whose
    /// range holds the port `port()` gives (none: no share can be chosen).
    #[inline]
    pub fn lookup(&self, ip: &IpAddr, port: impl FnOnce() -> Option<u16>) -> Option<Ipv6Addr> {
        if let Some(s) = self.whole.get(ip) {
            return Some(*s);
        }
        let shares = self.shared.get(ip)?;
        let p = port()?;
        let i = shares.partition_point(|s| s.last < p);
        shares
            .get(i)
            .filter(|s| s.first <= p && p <= s.last)
            .map(|s| s.sled)
    }

    /// Every entry: (IP, None, endpoint) for a whole address, (IP,
    /// Some((first, last)), endpoint) for each share.
    pub fn entries(&self) -> impl Iterator<Item = (IpAddr, Option<(u16, u16)>, Ipv6Addr)> + '_ {
        let whole = self.whole.iter().map(|(ip, s)| (*ip, None, *s));
        let shared = self.shared.iter().flat_map(|(ip, v)| {
            v.iter()
                .map(move |s| (*ip, Some((s.first, s.last)), s.sled))
        });
        whole.chain(shared)
    }

    /// Entries in all.
    pub fn len(&self) -> usize {
        self.whole.len() + self.shared.values().map(|v| v.len()).sum::<usize>()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.shared.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn sled(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0x1701, 0xd, 0x100 + n, 0, 0, 0, 1)
    }

    #[test]
    fn a_shared_address_is_split_by_port() {
        let mut shared = HashMap::new();
        shared.insert(
            ip("198.51.100.13"),
            vec![
                PortShare {
                    first: 2048,
                    last: 3071,
                    sled: sled(2),
                },
                PortShare {
                    first: 1024,
                    last: 2047,
                    sled: sled(1),
                },
            ],
        );
        let mut whole = HashMap::new();
        whole.insert(ip("198.51.100.5"), sled(3));
        let m = BoundaryMap::new(whole, shared);
        let s = ip("198.51.100.13");
        assert_eq!(m.lookup(&s, || Some(1024)), Some(sled(1)));
        assert_eq!(m.lookup(&s, || Some(2047)), Some(sled(1)));
        assert_eq!(m.lookup(&s, || Some(2048)), Some(sled(2)));
        assert_eq!(m.lookup(&s, || Some(3071)), Some(sled(2)));
        assert_eq!(m.lookup(&s, || Some(3072)), None, "past the last share");
        assert_eq!(m.lookup(&s, || Some(80)), None, "before the first share");
        assert_eq!(m.lookup(&s, || None), None, "no port to choose by");
        // A whole address needs no port.
        assert_eq!(m.lookup(&ip("198.51.100.5"), || None), Some(sled(3)));
        assert_eq!(m.lookup(&ip("198.51.100.6"), || Some(1)), None);
        assert!(m.serves(&s) && m.serves(&ip("198.51.100.5")));
        assert_eq!(m.len(), 3);
    }
}
