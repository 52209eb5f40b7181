//! Virtual-to-physical mappings: per VNI, guest IP -> (guest MAC, the
//! underlay address of the sled that hosts it).

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use wire::MacAddr;

/// Where a guest IP lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysTarget {
    /// The guest's MAC (the inner destination MAC after encapsulation).
    pub mac: MacAddr,
    /// The underlay address of its sled.
    pub underlay: Ipv6Addr,
}

/// The V2P table.
#[derive(Debug, Clone, Default)]
pub struct V2pTable {
    map: HashMap<(u32, IpAddr), PhysTarget>,
}

impl V2pTable {
    /// Where `ip` in VPC `vni` lives.
    #[inline]
    pub fn get(&self, vni: u32, ip: IpAddr) -> Option<&PhysTarget> {
        self.map.get(&(vni, ip))
    }

    /// Sets a mapping; returns the previous one.
    pub fn set(&mut self, vni: u32, ip: IpAddr, target: PhysTarget) -> Option<PhysTarget> {
        self.map.insert((vni, ip), target)
    }

    /// Removes a mapping.
    pub fn remove(&mut self, vni: u32, ip: IpAddr) -> Option<PhysTarget> {
        self.map.remove(&(vni, ip))
    }

    /// Every mapping, sorted.
    pub fn entries(&self) -> Vec<(u32, IpAddr, PhysTarget)> {
        let mut v: Vec<_> = self
            .map
            .iter()
            .map(|((vni, ip), t)| (*vni, *ip, *t))
            .collect();
        v.sort_by_key(|(vni, ip, _)| (*vni, *ip));
        v
    }
}
