//! The VPC state the workers read: VNICs by port and by (VNI, MAC), V2P, and
//! this sled's underlay. Part of every table snapshot.

use super::v2p::V2pTable;
use super::vnic::Vnic;
use super::PortIdx;
use crate::wire::MacAddr;
use hashbrown::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

/// This sled's place on the underlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Underlay {
    /// The sled's underlay address (::1 of its /64).
    pub addr: Ipv6Addr,
    /// The uplink port encapsulated traffic leaves on.
    pub uplink: PortIdx,
    /// The uplink's own MAC (outer source MAC).
    pub uplink_mac: MacAddr,
    /// The underlay next hop's MAC (outer destination MAC).
    pub nexthop_mac: MacAddr,
}

/// VNICs, V2P and underlay.
#[derive(Debug, Clone, Default)]
pub struct VpcState {
    /// The VNIC bound to each port, by port index.
    pub vnics: Vec<Option<Arc<Vnic>>>,
    /// Port of each (VNI, guest MAC).
    pub by_vni_mac: HashMap<(u32, MacAddr), PortIdx>,
    /// Virtual-to-physical mappings.
    pub v2p: V2pTable,
    /// This sled's underlay, once set.
    pub underlay: Option<Underlay>,
}

impl VpcState {
    /// State for a switch of `ports` ports, with no VNIC.
    pub fn new(ports: usize) -> Self {
        VpcState {
            vnics: vec![None; ports],
            ..Default::default()
        }
    }

    /// The VNIC on `port`.
    #[inline]
    pub fn vnic(&self, port: PortIdx) -> Option<&Arc<Vnic>> {
        self.vnics.get(port as usize).and_then(Option::as_ref)
    }

    /// Binds `vnic` to its port (replacing what was there).
    pub fn put_vnic(&mut self, vnic: Vnic) {
        let port = vnic.port;
        if let Some(old) = self.vnic(port).cloned() {
            self.by_vni_mac.remove(&(old.spec.vni, old.spec.mac));
        }
        self.by_vni_mac.insert((vnic.spec.vni, vnic.spec.mac), port);
        if let Some(slot) = self.vnics.get_mut(port as usize) {
            *slot = Some(Arc::new(vnic));
        }
    }

    /// Unbinds the VNIC of `port`.
    pub fn remove_vnic(&mut self, port: PortIdx) -> Option<Arc<Vnic>> {
        let old = self.vnics.get_mut(port as usize)?.take()?;
        self.by_vni_mac.remove(&(old.spec.vni, old.spec.mac));
        Some(old)
    }

    /// Bumps the epoch of every VNIC in `vni` (a V2P change), so their
    /// established flows follow the new mapping.
    pub fn bump_vni_epochs(&mut self, vni: u32) {
        for v in self.vnics.iter_mut().flatten() {
            if v.spec.vni == vni {
                let mut nv = Vnic::clone(v);
                nv.epoch += 1;
                *v = Arc::new(nv);
            }
        }
    }
}
