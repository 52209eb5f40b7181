//! The desired state of a switch: one document of everything it has been
//! told. `export` prints it, `apply` replaces it whole, the state file keeps
//! it across restarts, and every command of the control socket is a change
//! to it (README, *The state document*).

use crate::{
    AddrRange, BoundaryMapEntry, GatewayRef, MacAddr, PatchEntry, Prefix, RouteClass, RouteTarget,
    SnatRange, V2bEntry, V2pEntry, Vni,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

mod nics;
mod ports;
pub(crate) mod v1;

pub use nics::{nic_id_of, AttachmentState, InstanceState, InstanceTypeState, NicState};
pub use ports::RuntimePortState;
pub use v1::{attachment_id, vnic_as_instance};

/// The format version of [`SwitchState`] this build writes (and reads; a
/// version-1 document, whose VNICs were bound to ports, is read as the
/// NICs, instances and attachments `vnic-create` makes today).
pub const STATE_VERSION: u32 = 2;

/// Everything a switch has been told, as one typed document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "v1::StateDoc")]
pub struct SwitchState {
    /// Format version; must be [`STATE_VERSION`].
    pub version: u32,
    /// The generation of the snapshot this state was published as (in an
    /// export and in the state file; `apply` ignores it: see `if_generation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// `sled` or `boundary`; must be the switch's own (set at start-up).
    pub role: String,
    /// Guest ports created at run time (`port-add`, `nic-attach --devargs`),
    /// created again when the switch restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<RuntimePortState>,
    /// This sled's place on the underlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay: Option<UnderlayState>,
    /// Instance types and their NIC limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_types: Vec<InstanceTypeState>,
    /// Instances and their life-cycle states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceState>,
    /// The NICs, each with its layers' rules and its attachment. Each behind
    /// its own `Arc`, so that a change copies only its NIC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nics: Vec<Arc<NicState>>,
    /// Attachments made so far (the next attachment id's number).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attachments_made: u64,
    /// Virtual-to-physical mappings (a list in the document; kept per VNI).
    #[serde(default, skip_serializing_if = "V2pMap::is_empty")]
    pub v2p: V2pMap,
    /// Pools of external addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolState>,
    /// Internet gateways and what is assigned to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub igws: Vec<IgwState>,
    /// External prefixes -> boundary endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v2b: Vec<V2bEntry>,
    /// Boundary role: the port toward the internet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_port: Option<ExternalPortState>,
    /// Boundary role: external IP -> the sled that owns it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boundary_map: Vec<BoundaryMapEntry>,
    /// Boundary role: links to other pods' boundaries, one per bridge
    /// network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridge_links: Vec<BridgeLinkState>,
    /// Boundary role: static 1:1 NAT between the external link and a bridge
    /// link (the floating IPs of this pod's external networks that VMs in
    /// other pods hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_nat: Vec<StaticNatEntry>,
    /// Patch entries (ingress port -> egress port).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<PatchEntry>,
    /// Fleet mode: the sled and etcd revision the fleet-owned parts are from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetStamp>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SwitchState {
    /// The state of a switch of `role` that has been told nothing.
    pub fn empty(role: &str) -> Self {
        SwitchState {
            version: STATE_VERSION,
            generation: None,
            role: role.to_string(),
            ports: Vec::new(),
            underlay: None,
            instance_types: Vec::new(),
            instances: Vec::new(),
            nics: Vec::new(),
            attachments_made: 0,
            v2p: V2pMap::default(),
            pools: Vec::new(),
            igws: Vec::new(),
            v2b: Vec::new(),
            external_port: None,
            boundary_map: Vec::new(),
            bridge_links: Vec::new(),
            static_nat: Vec::new(),
            patches: Vec::new(),
            fleet: None,
        }
    }

    /// The NIC bound to guest port `port` (attached there).
    pub fn vnic(&self, port: &str) -> Option<&NicState> {
        self.nics
            .iter()
            .find(|v| v.port() == Some(port))
            .map(|v| &**v)
    }

    /// The NIC bound to guest port `port`, to change it (copied first if
    /// another state shares it).
    pub fn vnic_mut(&mut self, port: &str) -> Option<&mut NicState> {
        self.nics
            .iter_mut()
            .find(|v| v.port() == Some(port))
            .map(Arc::make_mut)
    }

    /// The NIC of id `id`.
    pub fn nic(&self, id: u32) -> Option<&NicState> {
        self.nics.iter().find(|v| v.nic.id == id).map(|v| &**v)
    }

    /// The NIC a command names: `nic:ID`, or the guest port it is bound to.
    pub fn nic_named(&self, name: &str) -> Option<&NicState> {
        match nic_id_of(name) {
            Some(id) => self.nic(id),
            None => self.vnic(name),
        }
    }

    /// The NIC a command names, to change it (see [`SwitchState::nic_named`]).
    pub fn nic_named_mut(&mut self, name: &str) -> Option<&mut NicState> {
        let id = match nic_id_of(name) {
            Some(id) => id,
            None => self.vnic(name)?.nic.id,
        };
        self.nics
            .iter_mut()
            .find(|v| v.nic.id == id)
            .map(Arc::make_mut)
    }

    /// Adds what `vnic-create` makes of `v` (a NIC attached to the
    /// one-NIC instance `vnic:PORT`), for a document built by hand; returns
    /// the NIC, to give it routes and rules.
    pub fn add_vnic(&mut self, v: &crate::VnicCreate) -> &mut NicState {
        self.attachments_made += 1;
        let (nic, instance) = vnic_as_instance(v, self.attachments_made);
        self.instances.push(instance);
        self.nics.push(Arc::new(nic));
        let last = self.nics.len() - 1;
        Arc::make_mut(&mut self.nics[last])
    }

    /// The instance of id `id`.
    pub fn instance(&self, id: &str) -> Option<&InstanceState> {
        self.instances.iter().find(|i| i.id == id)
    }

    /// The same state without its generation, for comparing two states.
    pub fn without_generation(&self) -> SwitchState {
        SwitchState {
            generation: None,
            ..self.clone()
        }
    }
}

/// Where a guest IP lives: its MAC and its sled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct V2pTarget {
    /// Guest MAC.
    pub mac: MacAddr,
    /// Sled underlay address.
    pub underlay: Ipv6Addr,
}

/// The V2P mappings, one map per VNI behind its own `Arc` (a change copies
/// only its VNI's map, and the compiler reuses a VNI's table when its map is
/// the very one it compiled before). Written as a flat list of
/// [`V2pEntry`], sorted by VNI and IP; a (VNI, IP) given twice is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<V2pEntry>", into = "Vec<V2pEntry>")]
pub struct V2pMap {
    by_vni: BTreeMap<Vni, Arc<BTreeMap<IpAddr, V2pTarget>>>,
}

impl V2pMap {
    /// Whether there is no mapping.
    pub fn is_empty(&self) -> bool {
        self.by_vni.is_empty()
    }

    /// How many mappings there are.
    pub fn len(&self) -> usize {
        self.by_vni.values().map(|m| m.len()).sum()
    }

    /// The mapping of `ip` in `vni`.
    pub fn get(&self, vni: Vni, ip: IpAddr) -> Option<&V2pTarget> {
        self.by_vni.get(&vni)?.get(&ip)
    }

    /// Sets a mapping; returns the one it replaces.
    pub fn set(&mut self, vni: Vni, ip: IpAddr, target: V2pTarget) -> Option<V2pTarget> {
        Arc::make_mut(self.by_vni.entry(vni).or_default()).insert(ip, target)
    }

    /// Removes a mapping.
    pub fn remove(&mut self, vni: Vni, ip: IpAddr) -> Option<V2pTarget> {
        let map = self.by_vni.get_mut(&vni)?;
        let old = Arc::make_mut(map).remove(&ip);
        if map.is_empty() {
            self.by_vni.remove(&vni);
        }
        old
    }

    /// The map of each VNI.
    pub fn vnis(&self) -> impl Iterator<Item = (Vni, &Arc<BTreeMap<IpAddr, V2pTarget>>)> {
        self.by_vni.iter().map(|(v, m)| (*v, m))
    }

    /// The map of one VNI.
    pub fn vni(&self, vni: Vni) -> Option<&Arc<BTreeMap<IpAddr, V2pTarget>>> {
        self.by_vni.get(&vni)
    }

    /// Shares with `prev` the map of every VNI that is equal in both, so
    /// that a state rebuilt from scratch (a fleet-mode switch's, from etcd)
    /// recompiles only the VNIs that changed.
    pub fn share_with(&mut self, prev: &V2pMap) {
        for (vni, map) in self.by_vni.iter_mut() {
            if let Some(old) = prev.by_vni.get(vni) {
                if !Arc::ptr_eq(old, map) && **old == **map {
                    *map = Arc::clone(old);
                }
            }
        }
    }

    /// Every mapping, by VNI and IP.
    pub fn entries(&self) -> impl Iterator<Item = V2pEntry> + '_ {
        self.by_vni.iter().flat_map(|(vni, m)| {
            m.iter().map(|(ip, t)| V2pEntry {
                vni: *vni,
                ip: *ip,
                mac: t.mac,
                underlay: t.underlay,
            })
        })
    }
}

impl TryFrom<Vec<V2pEntry>> for V2pMap {
    type Error = String;

    fn try_from(list: Vec<V2pEntry>) -> Result<Self, String> {
        let mut m = V2pMap::default();
        for e in list {
            let t = V2pTarget {
                mac: e.mac,
                underlay: e.underlay,
            };
            if m.set(e.vni, e.ip, t).is_some() {
                return Err(format!("v2p: {} in VNI {} is given twice", e.ip, e.vni));
            }
        }
        Ok(m)
    }
}

impl From<V2pMap> for Vec<V2pEntry> {
    fn from(m: V2pMap) -> Self {
        m.entries().collect()
    }
}

/// `underlay-set`'s arguments, kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnderlayState {
    /// The sled's underlay address.
    pub addr: Ipv6Addr,
    /// The uplink port name.
    pub uplink: String,
    /// MAC of the underlay next hop.
    pub nexthop_mac: MacAddr,
    /// Endpoint addresses the fleet allocated on this sled (instances'
    /// addresses in its /64): Geneve for any of them is taken as for `addr`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Ipv6Addr>,
    /// After a live migration moved an instance away: Geneve still sent to
    /// its old endpoint (one of `endpoints`) is sent on to the new one, for
    /// the grace period the fleet keeps this entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<UnderlayForward>,
}

/// One forwarding entry of [`UnderlayState::forward`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnderlayForward {
    /// The old endpoint address.
    pub from: Ipv6Addr,
    /// Where its traffic goes now.
    pub to: Ipv6Addr,
}

/// Where a fleet-mode switch's state came from: its sled and the etcd
/// revision it was built at (README, *Fleet mode*).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FleetStamp {
    /// The sled this switch is.
    pub sled: String,
    /// The etcd revision the fleet-owned parts were read at.
    pub revision: i64,
}

/// One router entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteState {
    /// Destination prefix.
    pub dest: Prefix,
    /// `drop`, `igw`, `igw:ID`, `ip:ADDR`, `subnet:PREFIX` or `nic:ID`.
    pub target: RouteTarget,
    /// `custom` (the default) or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<RouteClass>,
}

impl RouteState {
    /// The class, with its default.
    pub fn class(&self) -> RouteClass {
        self.class.unwrap_or_default()
    }
}

/// A VNIC's external IPs (`external-set` without the port).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExternalState {
    /// Floating IPs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floating: Vec<IpAddr>,
    /// The ephemeral IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<IpAddr>,
    /// The SNAT address and port range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat: Option<SnatRange>,
    /// External IP -> the gateways it may leave through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igw_map: Option<BTreeMap<IpAddr, Vec<GatewayRef>>>,
}

/// A pool of external addresses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PoolState {
    /// Pool name.
    pub name: String,
    /// Ranges: `A-B`, `A` or `A/N`.
    pub ranges: Vec<AddrRange>,
}

/// An internet gateway and the pools and ranges assigned to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgwState {
    /// Gateway id.
    pub id: u32,
    /// A name, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pools assigned whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<String>,
    /// Ranges assigned (each inside one pool).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<AddrRange>,
}

/// A boundary's link to another pod's boundary (a port of role `bridge`),
/// carrying the bridge network `cidr` between the two pods.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BridgeLinkState {
    /// Port name.
    pub port: String,
    /// The bridge network (IPv4).
    pub cidr: Prefix,
    /// MAC of the other boundary's port on the link.
    pub nexthop_mac: MacAddr,
    /// This boundary's own address on the link (answered to ARP and ping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Ipv4Addr>,
}

/// Static 1:1 NAT on a boundary: `external` (a floating IP of this pod's
/// external network) <-> `bridge` (the address on a bridge network that a
/// VM in another pod holds as its floating IP).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticNatEntry {
    /// The address the internet sees.
    pub external: Ipv4Addr,
    /// The address on the bridge network.
    pub bridge: Ipv4Addr,
}

/// The boundary's external port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExternalPortState {
    /// External port name.
    pub port: String,
    /// MAC of the external next hop.
    pub nexthop_mac: MacAddr,
    /// The boundary's own address on the external link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Ipv4Addr>,
}

/// What replacing one state by another changes, object by object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateDiff {
    /// Objects only the new state has.
    pub added: Vec<String>,
    /// Objects both have, different.
    pub changed: Vec<String>,
    /// Objects only the old state has.
    pub removed: Vec<String>,
}

impl StateDiff {
    /// Whether the two states are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    fn compare<K: Ord + std::fmt::Display, V: PartialEq>(
        &mut self,
        kind: &str,
        old: impl IntoIterator<Item = (K, V)>,
        new: impl IntoIterator<Item = (K, V)>,
    ) {
        let old: BTreeMap<K, V> = old.into_iter().collect();
        let new: BTreeMap<K, V> = new.into_iter().collect();
        let keys: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
        for k in keys {
            let name = format!("{kind} {k}");
            match (old.get(k), new.get(k)) {
                (None, Some(_)) => self.added.push(name),
                (Some(_), None) => self.removed.push(name),
                (Some(a), Some(b)) if a != b => self.changed.push(name),
                _ => {}
            }
        }
    }

    /// V2P entries, comparing only the VNIs whose maps are not shared.
    fn compare_v2p(&mut self, old: &V2pMap, new: &V2pMap) {
        let vnis: BTreeSet<Vni> = old
            .by_vni
            .keys()
            .chain(new.by_vni.keys())
            .copied()
            .collect();
        let empty = Arc::new(BTreeMap::new());
        for vni in vnis {
            let a = old.by_vni.get(&vni).unwrap_or(&empty);
            let b = new.by_vni.get(&vni).unwrap_or(&empty);
            if Arc::ptr_eq(a, b) {
                continue;
            }
            let named = |m: &BTreeMap<IpAddr, V2pTarget>| {
                m.iter()
                    .map(|(ip, t)| (format!("{vni}/{ip}"), t.clone()))
                    .collect::<Vec<_>>()
            };
            self.compare("v2p", named(a), named(b));
        }
    }

    /// The objects `new` adds to, changes in and removes from `old`.
    pub fn between(old: &SwitchState, new: &SwitchState) -> StateDiff {
        let mut d = StateDiff::default();
        let one = |s: &SwitchState| s.underlay.clone().map(|u| ("", u));
        d.compare("underlay", one(old), one(new));
        let ext = |s: &SwitchState| s.external_port.clone().map(|x| ("", x));
        d.compare("external-port", ext(old), ext(new));
        let types = |s: &SwitchState| {
            s.instance_types
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("instance-type", types(old), types(new));
        let instances = |s: &SwitchState| {
            s.instances
                .iter()
                .map(|i| (i.id.clone(), i.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("instance", instances(old), instances(new));
        let nics = |s: &SwitchState| {
            s.nics
                .iter()
                .map(|v| (v.nic.id, Arc::clone(v)))
                .collect::<Vec<_>>()
        };
        d.compare("nic", nics(old), nics(new));
        d.compare_v2p(&old.v2p, &new.v2p);
        let pools = |s: &SwitchState| {
            s.pools
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("pool", pools(old), pools(new));
        let igws = |s: &SwitchState| s.igws.iter().map(|g| (g.id, g.clone())).collect::<Vec<_>>();
        d.compare("igw", igws(old), igws(new));
        let v2b = |s: &SwitchState| {
            s.v2b
                .iter()
                .map(|e| (e.prefix, e.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("v2b", v2b(old), v2b(new));
        let bmap = |s: &SwitchState| {
            s.boundary_map
                .iter()
                .map(|e| {
                    let key = match e.ports {
                        Some(p) => format!("{} ports {p}", e.ip),
                        None => e.ip.to_string(),
                    };
                    (key, e.sled)
                })
                .collect::<Vec<_>>()
        };
        d.compare("boundary-map", bmap(old), bmap(new));
        let links = |s: &SwitchState| {
            s.bridge_links
                .iter()
                .map(|l| (l.port.clone(), l.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("bridge-link", links(old), links(new));
        let snat = |s: &SwitchState| {
            s.static_nat
                .iter()
                .map(|e| (e.external, e.bridge))
                .collect::<Vec<_>>()
        };
        d.compare("static-nat", snat(old), snat(new));
        let patches = |s: &SwitchState| {
            s.patches
                .iter()
                .map(|p| (p.from.clone(), p.to.clone()))
                .collect::<Vec<_>>()
        };
        d.compare("patch", patches(old), patches(new));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::InstanceRun;
    use crate::{FwAction, FwDirection, FwRuleSpec, VnicCreate};

    fn vni(n: u32) -> Vni {
        Vni::try_from(n).unwrap()
    }

    fn nic(port: &str) -> VnicCreate {
        VnicCreate {
            port: port.into(),
            id: 1,
            vni: vni(100),
            mac: "a8:40:25:00:00:05".parse().unwrap(),
            ipv4: Some("172.30.0.5".parse().unwrap()),
            ipv6: None,
            gateway_mac: "a8:40:25:00:00:01".parse().unwrap(),
            gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
            gateway_ipv6: None,
            dns: vec![],
            hostname: None,
            domain: None,
            mtu: None,
            flow_quota: None,
        }
    }

    #[test]
    fn json_round_trips_and_refuses_unknown_fields() {
        let mut s = SwitchState::empty("sled");
        s.add_vnic(&nic("g0")).routes.push(RouteState {
            dest: "0.0.0.0/0".parse().unwrap(),
            target: RouteTarget::Igw(None),
            class: None,
        });
        s.v2p.set(
            vni(100),
            "172.30.0.9".parse().unwrap(),
            V2pTarget {
                mac: "a8:40:25:00:00:09".parse().unwrap(),
                underlay: "fd00::2".parse().unwrap(),
            },
        );
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SwitchState>(&text).unwrap(), s);
        let bad = text.replacen("\"routes\"", "\"routez\"", 1);
        let e = serde_json::from_str::<SwitchState>(&bad).unwrap_err();
        assert!(e.to_string().contains("routez"), "{e}");
    }

    #[test]
    fn diff_names_each_object() {
        let mut a = SwitchState::empty("sled");
        a.add_vnic(&nic("g0"));
        let mut g1 = nic("g1");
        g1.id = 2;
        a.add_vnic(&g1);
        a.pools.push(PoolState {
            name: "p".into(),
            ranges: vec!["192.0.2.0/28".parse().unwrap()],
        });
        let mut b = a.clone();
        b.nics.remove(1);
        b.instances.remove(1);
        Arc::make_mut(&mut b.nics[0]).firewall.push(FwRuleSpec {
            direction: FwDirection::In,
            priority: 1,
            action: FwAction::Allow,
            hosts: vec![],
            protocols: vec![],
            ports: vec![],
        });
        b.igws.push(IgwState {
            id: 4,
            name: None,
            pools: vec!["p".into()],
            ranges: vec![],
        });
        let d = StateDiff::between(&a, &b);
        assert_eq!(d.added, vec!["igw 4"]);
        assert_eq!(d.changed, vec!["nic 1"]);
        assert_eq!(d.removed, vec!["instance vnic:g1", "nic 2"]);
        assert!(StateDiff::between(&b, &b).is_empty());
    }

    /// The typed values are written as the same text as before they were
    /// typed: a state file or an export reads back the same.
    #[test]
    fn typed_values_keep_their_json_text() {
        let text = r#"{"version":1,"role":"sled","underlay":{"addr":"fd00::1","uplink":"up","nexthop_mac":"02:00:00:00:00:fe"},"vnics":[{"nic":{"port":"g0","id":1,"vni":100,"mac":"a8:40:25:00:00:05","ipv4":"172.30.0.5","gateway_mac":"a8:40:25:00:00:01","gateway_ipv4":"172.30.0.1","dns":[]},"routes":[{"dest":"0.0.0.0/0","target":"igw:4"},{"dest":"10.1.0.0/16","target":"subnet:10.1.0.0/16","class":"system"}],"firewall":[{"direction":"in","priority":100,"action":"allow","hosts":["subnet:10.0.0.0/8","vni:7"],"protocols":["tcp","icmp:8/0"],"ports":["22","1000-2000"]}]}],"v2p":[{"vni":100,"ip":"172.30.0.9","mac":"a8:40:25:00:00:09","underlay":"fd00::2"}],"pools":[{"name":"p","ranges":["192.0.2.0-192.0.2.15","192.0.2.99"]}],"igws":[{"id":4,"ranges":["192.0.2.0-192.0.2.7"]}],"v2b":[{"prefix":"0.0.0.0/0","endpoints":["fd00::9"]}]}"#;
        let s: SwitchState = serde_json::from_str(text).unwrap();
        // Version 1 is read as version 2: the VNIC is NIC 1, attached to
        // the one-NIC instance vnic:g0; version 2 reads back as written.
        assert_eq!(s.version, STATE_VERSION);
        assert_eq!(s.vnic("g0").map(|v| v.nic.id), Some(1));
        assert_eq!(
            s.instance("vnic:g0").map(|i| i.state),
            Some(InstanceRun::Running)
        );
        let v2 = serde_json::to_string(&s).unwrap();
        assert_eq!(
            serde_json::to_string(&serde_json::from_str::<SwitchState>(&v2).unwrap()).unwrap(),
            v2
        );
        assert!(v2.contains(r#""firewall":[{"direction":"in","priority":100,"action":"allow","hosts":["subnet:10.0.0.0/8","vni:7"],"protocols":["tcp","icmp:8/0"],"ports":["22","1000-2000"]}]"#), "{v2}");
        let r = &s.nics[0].routes;
        assert_eq!(r[0].target, RouteTarget::Igw(Some(4)));
        assert_eq!(
            (r[0].class(), r[1].class()),
            (RouteClass::Custom, RouteClass::System)
        );
        assert!(s.v2p.get(vni(100), "172.30.0.9".parse().unwrap()).is_some());
    }

    /// A bad value is refused where the document is read, with the type's
    /// message.
    #[test]
    fn bad_values_are_refused_at_parse_time() {
        let doc = |nic: &str| {
            format!(
                r#"{{"version":1,"role":"sled","vnics":[{{"nic":{{"port":"g0","id":1,{nic},"gateway_mac":"a8:40:25:00:00:01"}}}}]}}"#
            )
        };
        for (nic, want) in [
            (
                r#""vni":100,"mac":"zz""#,
                r#""zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
            (
                r#""vni":16777216,"mac":"a8:40:25:00:00:05""#,
                "vni 16777216 does not fit in 24 bits",
            ),
        ] {
            let e = serde_json::from_str::<SwitchState>(&doc(nic)).unwrap_err();
            assert!(e.to_string().starts_with(want), "{e}");
        }
        let bad_range =
            r#"{"version":1,"role":"sled","pools":[{"name":"p","ranges":["10.0.0.9-10.0.0.1"]}]}"#;
        let e = serde_json::from_str::<SwitchState>(bad_range).unwrap_err();
        assert!(e.to_string().contains("ends before it starts"), "{e}");
    }
}
