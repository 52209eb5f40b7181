//! Virtual-to-physical mappings: per VNI, guest IP -> (guest MAC, the
//! underlay address of the sled that hosts it).

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use wire::MacAddr;

/// Where a guest IP lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysTarget {
    /// The guest's MAC (the inner destination MAC after encapsulation).
    pub mac: MacAddr,
    /// The underlay address of its sled.
    pub underlay: Ipv6Addr,
}

/// The V2P table: one map per VNI, each behind its own `Arc`, so that a
/// snapshot's copy shares them and a change copies only its VNI's map.
#[derive(Debug, Clone, Default)]
pub struct V2pTable {
    by_vni: HashMap<u32, Arc<HashMap<IpAddr, PhysTarget>>>,
}

impl V2pTable {
    /// Where `ip` in VPC `vni` lives.
    #[inline]
    pub fn get(&self, vni: u32, ip: IpAddr) -> Option<&PhysTarget> {
        self.by_vni.get(&vni)?.get(&ip)
    }

    /// Sets a mapping; returns the previous one.
    pub fn set(&mut self, vni: u32, ip: IpAddr, target: PhysTarget) -> Option<PhysTarget> {
        Arc::make_mut(self.by_vni.entry(vni).or_default()).insert(ip, target)
    }

    /// Removes a mapping.
    pub fn remove(&mut self, vni: u32, ip: IpAddr) -> Option<PhysTarget> {
        let map = self.by_vni.get_mut(&vni)?;
        let old = Arc::make_mut(map).remove(&ip);
        if map.is_empty() {
            self.by_vni.remove(&vni);
        }
        old
    }

    /// Sets the whole map of `vni` (an empty map removes the VNI).
    pub fn put_vni(&mut self, vni: u32, map: Arc<HashMap<IpAddr, PhysTarget>>) {
        if map.is_empty() {
            self.by_vni.remove(&vni);
        } else {
            self.by_vni.insert(vni, map);
        }
    }

    /// Keeps only the VNIs for which `keep` holds.
    pub fn retain_vnis(&mut self, mut keep: impl FnMut(u32) -> bool) {
        self.by_vni.retain(|vni, _| keep(*vni));
    }

    /// How many mappings there are.
    pub fn len(&self) -> usize {
        self.by_vni.values().map(|m| m.len()).sum()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_vni.is_empty()
    }

    /// Whether the map of `vni` is the very one `other` holds (shared, not copied).
    pub fn shares_vni(&self, other: &V2pTable, vni: u32) -> bool {
        match (self.by_vni.get(&vni), other.by_vni.get(&vni)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Every mapping, sorted.
    pub fn entries(&self) -> Vec<(u32, IpAddr, PhysTarget)> {
        let mut v: Vec<_> = self
            .by_vni
            .iter()
            .flat_map(|(vni, m)| m.iter().map(|(ip, t)| (*vni, *ip, *t)))
            .collect();
        v.sort_by_key(|(vni, ip, _)| (*vni, *ip));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(n: u8) -> PhysTarget {
        PhysTarget {
            mac: MacAddr([2, 0, 0, 0, 0, n]),
            underlay: Ipv6Addr::new(0xfd00, 0, 0, u16::from(n), 0, 0, 0, 1),
        }
    }

    #[test]
    fn a_change_copies_only_its_vni() {
        let mut t = V2pTable::default();
        for i in 0..100u8 {
            t.set(1, IpAddr::from([10, 0, 0, i]), target(i));
            t.set(2, IpAddr::from([10, 0, 0, i]), target(i));
        }
        let before = t.clone();
        assert!(t.shares_vni(&before, 1) && t.shares_vni(&before, 2));
        assert_eq!(
            t.set(2, IpAddr::from([10, 0, 0, 7]), target(200)),
            Some(target(7))
        );
        // VNI 1 is still the same map; VNI 2 was copied, and the old
        // snapshot still sees the old entry.
        assert!(t.shares_vni(&before, 1));
        assert!(!t.shares_vni(&before, 2));
        assert_eq!(before.get(2, IpAddr::from([10, 0, 0, 7])), Some(&target(7)));
        assert_eq!(t.get(2, IpAddr::from([10, 0, 0, 7])), Some(&target(200)));
        assert_eq!(t.len(), 200);
        for i in 0..100u8 {
            assert!(t.remove(1, IpAddr::from([10, 0, 0, i])).is_some());
        }
        assert_eq!(t.remove(1, IpAddr::from([10, 0, 0, 1])), None);
        assert_eq!(t.len(), 100);
        assert_eq!(before.len(), 200);
    }
}
