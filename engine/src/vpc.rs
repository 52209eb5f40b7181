//! The VPC state the workers read: VNICs by port and by (VNI, MAC), V2P, and
//! this sled's underlay. Part of every table snapshot.

use crate::nat::igw::{ExternalOwners, IgwTable, V2bTable};
use crate::overlay::v2p::V2pTable;
use crate::router::nic_target::NicTargets;
use crate::vnic::Vnic;
use crate::PortIdx;
use hashbrown::{HashMap, HashSet};
use std::net::Ipv6Addr;
use std::sync::Arc;
use wire::MacAddr;

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
    /// The uplink's MTU: an encapsulated packet must fit it.
    pub mtu: u16,
}

/// VNICs, V2P and underlay. Each table sits behind its own `Arc` (V2P one
/// per VNI), so that the next snapshot shares what a change leaves alone.
#[derive(Debug, Clone, Default)]
pub struct VpcState {
    /// The VNIC bound to each port, by port index.
    pub vnics: Vec<Option<Arc<Vnic>>>,
    /// Port of each (VNI, guest MAC).
    pub by_vni_mac: Arc<HashMap<(u32, MacAddr), PortIdx>>,
    /// Virtual-to-physical mappings.
    pub v2p: V2pTable,
    /// This sled's underlay, once set.
    pub underlay: Option<Underlay>,
    /// Endpoint addresses (the fleet's, in this sled's /64) taken as the
    /// underlay address: instances' addresses, which move with them.
    pub endpoints: Arc<HashSet<Ipv6Addr>>,
    /// Old endpoint -> new, after a migration moved an instance away:
    /// Geneve still sent to the old one is relayed (`overlay/relay.rs`).
    pub forwards: Arc<HashMap<Ipv6Addr, Ipv6Addr>>,
    /// IP pools and internet gateways.
    pub igws: Arc<IgwTable>,
    /// External prefixes -> boundary endpoints.
    pub v2b: Arc<V2bTable>,
    /// External address -> the guest port owning it (rebuilt from the VNICs).
    pub owners: Arc<ExternalOwners>,
    /// The NICs `nic:ID` routes reach now (attached to running instances).
    pub nic_targets: Arc<NicTargets>,
    /// Boundary role: external address -> the underlay address of its sled.
    pub boundary_map: Arc<crate::boundary::map::BoundaryMap>,
    /// Boundary role: the external port, once set.
    pub external_port: Option<ExternalPort>,
    /// Boundary role: links to other pods' boundaries (at most
    /// [`crate::boundary::bridge::MAX_BRIDGE_LINKS`]).
    pub bridges: Arc<Vec<BridgeLink>>,
    /// Boundary role: static 1:1 NAT between the external link and the
    /// bridge links.
    pub static_nat: Arc<crate::boundary::bridge::StaticNat>,
    /// The last epoch handed out (see [`Self::next_epoch`]).
    pub epochs: u64,
}

/// The boundary's port toward the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalPort {
    /// The port.
    pub port: PortIdx,
    /// Its own MAC (source MAC of what it sends).
    pub mac: MacAddr,
    /// The external next hop's MAC (destination MAC of what it sends).
    pub nexthop_mac: MacAddr,
    /// The boundary's own address on the external link (answered to ARP), if any.
    pub addr: Option<std::net::Ipv4Addr>,
}

/// A boundary's link to another pod's boundary: the port (with the other
/// boundary as next hop and this one's own address on the link) and the
/// bridge network it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeLink {
    /// The port, its MAC, the next hop's MAC and the own address.
    pub link: ExternalPort,
    /// The bridge network's address.
    pub net: std::net::Ipv4Addr,
    /// Its prefix length.
    pub len: u8,
}

impl BridgeLink {
    /// Whether the bridge network holds `ip`.
    #[inline]
    pub fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.net) & mask
    }
}

/// The underlay destinations a sled takes Geneve for: its own address and
/// the endpoint addresses allocated on it (README, *Fleet mode*).
#[derive(Debug, Clone, Copy)]
pub struct SledAddrs<'a> {
    addr: [u8; 16],
    endpoints: &'a HashSet<Ipv6Addr>,
}

impl SledAddrs<'_> {
    /// Whether the 16 bytes `dst` are one of them. The sled's own address is
    /// compared first: with no endpoint that is all there is to pay.
    #[inline]
    pub fn takes(&self, dst: &[u8]) -> bool {
        if dst == self.addr {
            return true;
        }
        if self.endpoints.is_empty() {
            return false;
        }
        <[u8; 16]>::try_from(dst).is_ok_and(|a| self.endpoints.contains(&Ipv6Addr::from(a)))
    }

    /// Whether `a` is one of them.
    #[inline]
    pub fn takes_addr(&self, a: &Ipv6Addr) -> bool {
        self.takes(&a.octets())
    }
}

impl VpcState {
    /// State for a switch of `ports` ports, with no VNIC.
    pub fn new(ports: usize) -> Self {
        VpcState {
            vnics: vec![None; ports],
            ..Default::default()
        }
    }

    /// A new epoch, above every one handed out before: the switch-wide
    /// counter every VNIC's epoch comes from, so that no flow cached under an
    /// epoch can match a later VNIC's (or a later state of the same one).
    pub fn next_epoch(&mut self) -> u64 {
        self.epochs += 1;
        self.epochs
    }

    /// The addresses this sled takes Geneve for under underlay `u`: its own
    /// and its endpoints'.
    #[inline]
    pub fn sled_addrs<'a>(&'a self, u: &Underlay) -> SledAddrs<'a> {
        SledAddrs {
            addr: u.addr.octets(),
            endpoints: &self.endpoints,
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
            Arc::make_mut(&mut self.by_vni_mac).remove(&(old.spec.vni, old.spec.mac));
        }
        Arc::make_mut(&mut self.by_vni_mac).insert((vnic.spec.vni, vnic.spec.mac), port);
        if let Some(slot) = self.vnics.get_mut(port as usize) {
            *slot = Some(Arc::new(vnic));
        }
    }

    /// Rebuilds [`VpcState::owners`] from the VNICs' external addresses.
    pub fn rebuild_owners(&mut self) {
        let mut owners = ExternalOwners::default();
        for v in self.vnics.iter().flatten() {
            let ext = &v.external_ips;
            for ip in ext.floating.iter().copied().chain(ext.ephemeral) {
                owners.add(
                    ip,
                    crate::nat::igw::ExternalOwner {
                        port: v.port,
                        ports: None,
                    },
                );
            }
            if let Some(s) = ext.snat {
                owners.add(
                    s.ip,
                    crate::nat::igw::ExternalOwner {
                        port: v.port,
                        ports: Some((s.first_port, s.last_port)),
                    },
                );
            }
        }
        self.owners = Arc::new(owners);
    }

    /// Bumps the epoch of the VNICs on `ports`.
    pub fn bump_epochs(&mut self, ports: &[PortIdx]) {
        self.bump_where(|v| ports.contains(&v.port));
    }

    /// Gives every VNIC for which `pick` holds a new epoch.
    pub fn bump_where(&mut self, pick: impl Fn(&Vnic) -> bool) {
        let mut epochs = self.epochs;
        for v in self.vnics.iter_mut().flatten() {
            if pick(v) {
                let mut nv = Vnic::clone(v);
                epochs += 1;
                nv.epoch = epochs;
                *v = Arc::new(nv);
            }
        }
        self.epochs = epochs;
    }

    /// Unbinds the VNIC of `port`.
    pub fn remove_vnic(&mut self, port: PortIdx) -> Option<Arc<Vnic>> {
        let old = self.vnics.get_mut(port as usize)?.take()?;
        Arc::make_mut(&mut self.by_vni_mac).remove(&(old.spec.vni, old.spec.mac));
        self.rebuild_owners();
        Some(old)
    }

    /// Bumps the epoch of every VNIC in `vni` (a V2P change), so their
    /// established flows follow the new mapping.
    pub fn bump_vni_epochs(&mut self, vni: u32) {
        self.bump_where(|v| v.spec.vni == vni);
    }
}
