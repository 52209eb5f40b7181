//! A guest VNIC: its own object (docs/VPC-MODEL.md: a NIC exists on its own and is
//! attached to an instance), bound to one guest port of the switch, with the
//! rule tables of its layers and its epoch.

use crate::firewall::FirewallRules;
use crate::nat::igw::ExternalIps;
use crate::router::{RouteClass, RouteEntry, RouterTable};
use crate::PortIdx;
use hashbrown::HashMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wire::MacAddr;

/// What the virtual gateway tells a guest by DHCP (and RA).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhcpOptions {
    /// DNS servers.
    pub dns: Vec<IpAddr>,
    /// Host name.
    pub hostname: Option<String>,
    /// Domain name.
    pub domain: Option<String>,
    /// The MTU the operator asked the gateway to advertise (`--mtu`); without
    /// one, the largest that fits (see [`Vnic::mtu`]).
    pub mtu: Option<u16>,
}

/// The addresses and identity of a VNIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnicSpec {
    /// The NIC's id (control-plane identity, used by `Nic` routes).
    pub id: u32,
    /// The VPC's Geneve VNI.
    pub vni: u32,
    /// The guest's MAC address.
    pub mac: MacAddr,
    /// The guest's private IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// The guest's private IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Its secondary private addresses (both families).
    pub secondary: Vec<IpAddr>,
    /// Whether it may send only from, and receive only for, its own
    /// addresses (off for a NAT or firewall appliance).
    pub source_dest_check: bool,
    /// The virtual gateway's MAC address.
    pub gateway_mac: MacAddr,
    /// The virtual gateway's IPv4 address.
    pub gateway_ipv4: Option<Ipv4Addr>,
    /// The virtual gateway's IPv6 address.
    pub gateway_ipv6: Option<Ipv6Addr>,
    /// DHCP options.
    pub dhcp: DhcpOptions,
}

impl VnicSpec {
    /// Whether `ip` is one of the guest's own addresses (primary or secondary).
    pub fn owns(&self, ip: IpAddr) -> bool {
        let primary = match ip {
            IpAddr::V4(a) => self.ipv4 == Some(a),
            IpAddr::V6(a) => self.ipv6 == Some(a),
        };
        primary || self.secondary.contains(&ip)
    }

    /// Whether the guest may use `ip` as its source (or receive for it as a
    /// destination): one of its own, or any address with the check off.
    pub fn may_use(&self, ip: IpAddr) -> bool {
        !self.source_dest_check || self.owns(ip)
    }

    /// Whether `ip` is the gateway's address.
    pub fn is_gateway(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.gateway_ipv4 == Some(a),
            IpAddr::V6(a) => self.gateway_ipv6 == Some(a),
        }
    }
}

/// A VNIC as the workers see it: immutable, replaced whole on every change.
#[derive(Debug, Clone)]
pub struct Vnic {
    /// The switch port it is bound to.
    pub port: PortIdx,
    /// Its addresses.
    pub spec: VnicSpec,
    /// Moved by every change to its rules or to the V2P entries of its VNI;
    /// a flow cached at an older epoch is recomputed on its next packet.
    /// Epochs come from one switch-wide counter ([`crate::vpc::VpcState::next_epoch`]),
    /// so no two VNICs ever share one.
    pub epoch: u64,
    /// The epoch it was created at: a flow entry of its port from before is
    /// an earlier VNIC's and is never used (see `sequencer/flows.rs`).
    pub birth: u64,
    /// Flows it may hold in each worker's flow table.
    pub flow_quota: usize,
    /// The MTU the gateway advertises (DHCP option 26, RA MTU): the one asked
    /// for, else the largest guest MTU that fits its port and, after the
    /// encapsulation, the uplink.
    pub mtu: u16,
    /// The largest IP packet of the guest's that fits the uplink after the
    /// encapsulation (and its port): TCP SYNs both ways get their MSS
    /// clamped to fit it.
    pub clamp_mtu: u16,
    /// The router layer's table.
    pub router: RouterTable,
    /// The firewall layer's rules.
    pub firewall: FirewallRules,
    /// Flows decided by each rule (shared by every worker).
    pub hits: Arc<LayerHits>,
    /// Its external addresses (NAT layer).
    pub external_ips: ExternalIps,
}

/// Per-rule hit counters of a VNIC's layers: flows whose first packet a rule
/// decided. Counted on the slow path only, so sharing them costs nothing on
/// the fast path.
#[derive(Debug, Default)]
pub struct LayerHits {
    /// By firewall rule index (evaluation order).
    pub firewall: Box<[AtomicU64]>,
    /// By route.
    pub routes: HashMap<(IpNet, RouteClass), AtomicU64>,
}

impl LayerHits {
    /// Counters for `firewall` and `router`, carrying over the counts of
    /// routes that `old` already had (a route change does not reset the others).
    pub fn new(
        firewall: &FirewallRules,
        router: &RouterTable,
        old: Option<&LayerHits>,
        keep_fw: bool,
    ) -> Self {
        let fw_old = old.filter(|_| keep_fw).map(|o| &o.firewall);
        LayerHits {
            firewall: (0..firewall.rules().len())
                .map(|i| {
                    AtomicU64::new(
                        fw_old
                            .and_then(|f| f.get(i))
                            .map_or(0, |c| c.load(Ordering::Relaxed)),
                    )
                })
                .collect(),
            routes: router
                .entries()
                .map(|e| {
                    let k = (e.dest, e.class);
                    let n = old
                        .and_then(|o| o.routes.get(&k))
                        .map_or(0, |c| c.load(Ordering::Relaxed));
                    (k, AtomicU64::new(n))
                })
                .collect(),
        }
    }

    /// Counts a flow decided by firewall rule `i`.
    pub fn firewall_hit(&self, i: usize) {
        if let Some(c) = self.firewall.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a flow routed by `route`.
    pub fn route_hit(&self, route: &RouteEntry) {
        if let Some(c) = self.routes.get(&(route.dest, route.class)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Vnic {
    /// The MSS clamping bound for a flow of `realm`: internet flows cross
    /// the underlay with the boundary's External option, 4 bytes more than
    /// VPC traffic's encapsulation, so their segments are clamped 4 bytes
    /// shorter (a full-size segment from the internet would not fit the
    /// underlay between boundary and sled otherwise).
    #[inline]
    pub fn clamp_for(&self, realm: crate::flow::table::Realm) -> u16 {
        match realm {
            crate::flow::table::Realm::Vpc => self.clamp_mtu,
            crate::flow::table::Realm::Internet => self.clamp_mtu.saturating_sub(
                (crate::frame::offsets::BOUNDARY_ENCAP_LEN - crate::frame::offsets::ENCAP_LEN)
                    as u16,
            ),
        }
    }
}
