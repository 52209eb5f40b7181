//! The management thread's VPC commands: VNICs, underlay, V2P, routes and
//! firewall rules. Each builds the next snapshot from the current one and
//! publishes it whole; a refused command publishes nothing.

use crate::control::specs;
use crate::firewall::FirewallRules;
use crate::frame::offsets::{BOUNDARY_MAC, BOUNDARY_VNI};
use crate::overlay::v2p::PhysTarget;
use crate::router::{priority, RouteEntry, RouterTable, RouterTarget};
use crate::tables::{Snapshot, TableStore};
use crate::vnic::{DhcpOptions, LayerHits, Vnic, VnicSpec};
use crate::vpc::Underlay;
use crate::PortRole;
use crate::{Direction, PortIdx};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vswitch_api::{FwRuleSpec, LayerInfo, LayersInfo, RuleInfo, V2pEntry, VnicCreate, VnicInfo};
use wire::MacAddr;

/// The switch's ports as the VPC commands need them.
#[derive(Debug, Clone)]
pub struct PortDirectory {
    /// Names, by port index.
    pub names: Vec<String>,
    /// Roles, by port index.
    pub roles: Vec<PortRole>,
    /// MAC addresses, by port index.
    pub macs: Vec<MacAddr>,
    /// Number of poll-mode workers.
    pub workers: usize,
    /// Flows a VNIC may hold per worker unless its `vnic-create` says otherwise.
    pub flow_quota: usize,
    /// MTUs, by port index.
    pub mtus: Vec<u16>,
}

impl PortDirectory {
    fn index(&self, cmd: &str, name: &str) -> Result<PortIdx, String> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| i as PortIdx)
            .ok_or_else(|| {
                format!(
                    "{cmd}: unknown port {name:?} (ports: {})",
                    self.names.join(", ")
                )
            })
    }

    /// The MTU of port `i` (its role's default when the directory has none).
    pub fn mtu(&self, i: PortIdx) -> u16 {
        self.mtus
            .get(i as usize)
            .copied()
            .unwrap_or_else(|| self.roles.get(i as usize).map_or(1500, |r| r.default_mtu()))
    }

    fn guest(&self, cmd: &str, name: &str) -> Result<PortIdx, String> {
        let i = self.index(cmd, name)?;
        match self.roles.get(i as usize) {
            Some(PortRole::Guest) => Ok(i),
            Some(r) => Err(format!(
                "{cmd}: port {name:?} is an {} port, not a guest port",
                r.as_str()
            )),
            None => Err(format!("{cmd}: unknown port {name:?}")),
        }
    }
}

/// Bytes the Geneve encapsulation adds to a guest's IP packet (outer IPv6,
/// UDP and Geneve headers and the inner Ethernet header).
pub const ENCAP_OVERHEAD: u16 = 70;

/// The MTU the gateway advertises to the guest on `port` (`asked`, else the
/// largest that fits the port and, encapsulated, the uplink), and the
/// largest of its IP packets that fits both (MSS clamping's bound).
pub fn guest_mtu(
    dir: &PortDirectory,
    port: PortIdx,
    asked: Option<u16>,
    underlay: Option<&Underlay>,
) -> (u16, u16) {
    let fits = underlay.map_or(u16::MAX, |u| u.mtu.saturating_sub(ENCAP_OVERHEAD));
    let best = dir.mtu(port).min(fits);
    (asked.unwrap_or(best), best)
}

fn vnic_of<'a>(
    s: &'a Snapshot,
    cmd: &str,
    port: PortIdx,
    name: &str,
) -> Result<&'a Arc<Vnic>, String> {
    s.vpc
        .vnic(port)
        .ok_or_else(|| format!("{cmd}: port {name:?} has no VNIC (vnic-create first)"))
}

/// `vnic-create`: binds a new VNIC to a guest port (replacing any there).
pub fn vnic_create(
    dir: &PortDirectory,
    tables: &TableStore,
    req: &VnicCreate,
) -> Result<u64, String> {
    let cmd = "vnic-create";
    let port = dir.guest(cmd, &req.port)?;
    // Flow state lives with a worker; until packets are handed to the worker
    // that owns their flow, both directions must meet on one worker.
    if dir.workers > 1 {
        return Err(format!(
            "{cmd}: VPC ports need a single worker for now ({} configured in workers.lcores): \
             a flow's two directions arrive on different ports and must reach the worker holding its state",
            dir.workers
        ));
    }
    if req.vni > 0x00ff_ffff {
        return Err(format!("{cmd}: vni {} does not fit in 24 bits", req.vni));
    }
    if req.vni == BOUNDARY_VNI {
        return Err(format!(
            "{cmd}: vni {BOUNDARY_VNI} is reserved for boundary (internet) traffic"
        ));
    }
    let mac = specs::mac("mac", &req.mac).map_err(|e| format!("{cmd}: {e}"))?;
    let gateway_mac =
        specs::mac("gateway_mac", &req.gateway_mac).map_err(|e| format!("{cmd}: {e}"))?;
    if !mac.is_unicast() || !gateway_mac.is_unicast() {
        return Err(format!(
            "{cmd}: mac and gateway_mac must be unicast addresses"
        ));
    }
    if mac.0 == BOUNDARY_MAC || gateway_mac.0 == BOUNDARY_MAC {
        return Err(format!(
            "{cmd}: MAC {} is reserved (the inner destination of boundary traffic)",
            MacAddr(BOUNDARY_MAC)
        ));
    }
    let flow_quota = req.flow_quota.map_or(dir.flow_quota, |q| q as usize);
    if flow_quota == 0 {
        return Err(format!("{cmd}: flow_quota must be at least 1"));
    }
    if req.ipv4.is_none() && req.ipv6.is_none() {
        return Err(format!("{cmd}: the VNIC needs an ipv4 or an ipv6 address"));
    }
    if req.ipv4.is_some() != req.gateway_ipv4.is_some()
        || req.ipv6.is_some() != req.gateway_ipv6.is_some()
    {
        return Err(format!("{cmd}: each guest address family needs its gateway address (gateway_ipv4, gateway_ipv6)"));
    }
    let spec = VnicSpec {
        id: req.id,
        vni: req.vni,
        mac,
        ipv4: req.ipv4,
        ipv6: req.ipv6,
        gateway_mac,
        gateway_ipv4: req.gateway_ipv4,
        gateway_ipv6: req.gateway_ipv6,
        dhcp: DhcpOptions {
            dns: req.dns.clone(),
            hostname: req.hostname.clone(),
            domain: req.domain.clone(),
            mtu: req.mtu,
        },
    };
    tables
        .update(|s| {
            let patched = s.patch.entries().any(|(f, t)| f == port || t == port);
            if patched {
                return Err(format!(
                    "{cmd}: port {:?} is patched (patch-clear it first): a port carries a patch or a VNIC, not both",
                    req.port
                ));
            }
            if let Some(other) = s.vpc.by_vni_mac.get(&(req.vni, mac)) {
                if *other != port {
                    return Err(format!(
                        "{cmd}: MAC {mac} is already used in VNI {} by port {:?}",
                        req.vni,
                        dir.names.get(*other as usize).cloned().unwrap_or_default()
                    ));
                }
            }
            let epoch = s.vpc.next_epoch();
            let (mtu, clamp_mtu) = guest_mtu(dir, port, req.mtu, s.vpc.underlay.as_ref());
            let router = RouterTable::new();
            let firewall = FirewallRules::default();
            let hits = Arc::new(LayerHits::new(&firewall, &router, None, false));
            s.vpc.put_vnic(Vnic {
                port,
                spec,
                epoch,
                birth: epoch,
                flow_quota,
                mtu,
                clamp_mtu,
                router,
                firewall,
                hits,
                external_ips: Default::default(),
            });
            s.vpc.rebuild_owners();
            Ok(())
        })
        .map(|s| s.generation)
}

/// `vnic-delete`.
pub fn vnic_delete(dir: &PortDirectory, tables: &TableStore, name: &str) -> Result<u64, String> {
    let port = dir.guest("vnic-delete", name)?;
    tables
        .update(|s| {
            s.vpc
                .remove_vnic(port)
                .map(|_| ())
                .ok_or_else(|| format!("vnic-delete: port {name:?} has no VNIC"))
        })
        .map(|s| s.generation)
}

/// `vnic-list`.
pub fn vnic_list(dir: &PortDirectory, snap: &Snapshot) -> Vec<VnicInfo> {
    snap.vpc
        .vnics
        .iter()
        .flatten()
        .map(|v| VnicInfo {
            port: dir.names.get(v.port as usize).cloned().unwrap_or_default(),
            id: v.spec.id,
            vni: v.spec.vni,
            mac: v.spec.mac.to_string(),
            ipv4: v.spec.ipv4,
            ipv6: v.spec.ipv6,
            epoch: v.epoch,
            routes: v.router.len(),
            firewall_rules: v.firewall.rules().len(),
            flow_quota: v.flow_quota,
        })
        .collect()
}

/// `underlay-set`.
pub fn underlay_set(
    dir: &PortDirectory,
    tables: &TableStore,
    addr: std::net::Ipv6Addr,
    uplink: &str,
    nexthop_mac: &str,
) -> Result<u64, String> {
    let cmd = "underlay-set";
    let idx = dir.index(cmd, uplink)?;
    if dir.roles.get(idx as usize) != Some(&PortRole::Uplink) {
        return Err(format!("{cmd}: port {uplink:?} is not an uplink port"));
    }
    if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("{cmd}: {addr} cannot be a sled's underlay address"));
    }
    let nexthop_mac = specs::mac("nexthop_mac", nexthop_mac).map_err(|e| format!("{cmd}: {e}"))?;
    let uplink_mac = dir
        .macs
        .get(idx as usize)
        .copied()
        .unwrap_or(MacAddr([0; 6]));
    tables
        .update(|s| {
            let u = Underlay {
                addr,
                uplink: idx,
                uplink_mac,
                nexthop_mac,
                mtu: dir.mtu(idx),
            };
            s.vpc.underlay = Some(u);
            // Every flow's outer headers change: recompute them all; and the
            // MTU that fits the uplink may change.
            s.vpc.bump_where(|_| true);
            for v in s.vpc.vnics.iter_mut().flatten() {
                let (mtu, clamp_mtu) = guest_mtu(dir, v.port, v.spec.dhcp.mtu, Some(&u));
                if (mtu, clamp_mtu) != (v.mtu, v.clamp_mtu) {
                    let mut nv = Vnic::clone(v);
                    nv.mtu = mtu;
                    nv.clamp_mtu = clamp_mtu;
                    *v = Arc::new(nv);
                }
            }
            Ok::<(), String>(())
        })
        .map(|s| s.generation)
}

/// `v2p-set`: also bumps the epoch of every VNIC of the VNI, so established
/// flows follow the new mapping (OPTE does not; live migration needs it).
pub fn v2p_set(
    tables: &TableStore,
    vni: u32,
    ip: std::net::IpAddr,
    mac: &str,
    underlay: std::net::Ipv6Addr,
) -> Result<u64, String> {
    let mac = specs::mac("mac", mac).map_err(|e| format!("v2p-set: {e}"))?;
    if vni > 0x00ff_ffff {
        return Err(format!("v2p-set: vni {vni} does not fit in 24 bits"));
    }
    if vni == BOUNDARY_VNI {
        return Err(format!(
            "v2p-set: vni {BOUNDARY_VNI} is reserved for boundary (internet) traffic"
        ));
    }
    if !mac.is_unicast() || mac.0 == BOUNDARY_MAC {
        return Err(format!(
            "v2p-set: mac {mac} is not a guest's unicast address"
        ));
    }
    if underlay.is_unspecified() || underlay.is_multicast() || underlay.is_loopback() {
        return Err(format!(
            "v2p-set: underlay {underlay} is not a sled's unicast address"
        ));
    }
    tables
        .update(|s| {
            s.vpc.v2p.set(vni, ip, PhysTarget { mac, underlay });
            s.vpc.bump_vni_epochs(vni);
            Ok::<(), String>(())
        })
        .map(|s| s.generation)
}

/// `v2p-clear`.
pub fn v2p_clear(tables: &TableStore, vni: u32, ip: std::net::IpAddr) -> Result<u64, String> {
    tables
        .update(|s| {
            s.vpc
                .v2p
                .remove(vni, ip)
                .ok_or_else(|| format!("v2p-clear: no mapping for {ip} in VNI {vni}"))?;
            s.vpc.bump_vni_epochs(vni);
            Ok(())
        })
        .map(|s| s.generation)
}

/// `v2p-list`.
pub fn v2p_list(snap: &Snapshot) -> Vec<V2pEntry> {
    snap.vpc
        .v2p
        .entries()
        .into_iter()
        .map(|(vni, ip, t)| V2pEntry {
            vni,
            ip,
            mac: t.mac.to_string(),
            underlay: t.underlay,
        })
        .collect()
}

fn change_vnic(
    dir: &PortDirectory,
    tables: &TableStore,
    cmd: &str,
    name: &str,
    change: impl FnOnce(&mut Vnic) -> Result<bool, String>,
) -> Result<u64, String> {
    let port = dir.guest(cmd, name)?;
    tables
        .update(|s| {
            let mut v = Vnic::clone(vnic_of(s, cmd, port, name)?);
            let keep_fw = change(&mut v)?;
            v.epoch = s.vpc.next_epoch();
            v.hits = Arc::new(LayerHits::new(
                &v.firewall,
                &v.router,
                Some(&v.hits),
                keep_fw,
            ));
            s.vpc.put_vnic(v);
            Ok(())
        })
        .map(|s| s.generation)
}

/// `route-add`.
pub fn route_add(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    dest: &str,
    target: &str,
    class: Option<&str>,
) -> Result<u64, String> {
    let cmd = "route-add";
    let entry = RouteEntry {
        dest: specs::prefix("dest", dest).map_err(|e| format!("{cmd}: {e}"))?,
        target: specs::route_target(target).map_err(|e| format!("{cmd}: {e}"))?,
        class: specs::route_class(class).map_err(|e| format!("{cmd}: {e}"))?,
    };
    // A route may only name a gateway that exists (only this thread publishes).
    if let RouterTarget::InternetGateway(Some(id)) = entry.target {
        if !tables.current().vpc.igws.igws.contains_key(&id) {
            return Err(format!(
                "{cmd}: unknown gateway igw:{id} (igw-create first)"
            ));
        }
    }
    change_vnic(dir, tables, cmd, port, |v| {
        v.router.add(entry).map_err(|e| format!("{cmd}: {e}"))?;
        Ok(true)
    })
}

/// `route-del`.
pub fn route_del(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    dest: &str,
    class: Option<&str>,
) -> Result<u64, String> {
    let cmd = "route-del";
    let dest = specs::prefix("dest", dest).map_err(|e| format!("{cmd}: {e}"))?;
    let class = specs::route_class(class).map_err(|e| format!("{cmd}: {e}"))?;
    change_vnic(dir, tables, cmd, port, |v| {
        v.router
            .remove(dest, class)
            .map_err(|e| format!("{cmd}: {e}"))?;
        Ok(true)
    })
}

/// `firewall-set`: replaces the rule set whole (atomic for the workers).
pub fn firewall_set(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    rules: &[FwRuleSpec],
) -> Result<u64, String> {
    let cmd = "firewall-set";
    let parsed = rules
        .iter()
        .enumerate()
        .map(|(i, r)| specs::fw_rule(i, r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let fw = FirewallRules::new(parsed).map_err(|e| format!("{cmd}: {e}"))?;
    change_vnic(dir, tables, cmd, port, |v| {
        v.firewall = fw;
        Ok(false)
    })
}

/// `layers`: the VNIC's layers with their rules and hit counts.
pub fn layers(dir: &PortDirectory, snap: &Snapshot, name: &str) -> Result<LayersInfo, String> {
    let cmd = "layers";
    let port = dir.guest(cmd, name)?;
    let v = vnic_of(snap, cmd, port, name)?;
    let dir_s = |d: Direction| if d == Direction::In { "in" } else { "out" };
    let gw = &v.spec;
    let gateway = LayerInfo {
        name: "gateway".into(),
        default_out: "deny (anti-spoof)".into(),
        default_in: "deny".into(),
        rules: vec![
            RuleInfo {
                direction: "out".into(),
                priority: 0,
                predicates: format!("src mac {} and src ip {:?}/{:?}", gw.mac, gw.ipv4, gw.ipv6),
                action: "allow".into(),
                hits: 0,
            },
            RuleInfo {
                direction: "out".into(),
                priority: 0,
                predicates: format!(
                    "arp/dhcp/ndp/dhcpv6/echo for gateway {} {:?} {:?}",
                    gw.gateway_mac, gw.gateway_ipv4, gw.gateway_ipv6
                ),
                action: "hairpin".into(),
                hits: 0,
            },
            RuleInfo {
                direction: "in".into(),
                priority: 0,
                predicates: format!("dst mac {} and dst ip {:?}/{:?}", gw.mac, gw.ipv4, gw.ipv6),
                action: format!("allow, src mac := {}", gw.gateway_mac),
                hits: 0,
            },
        ],
    };
    let firewall = LayerInfo {
        name: "firewall".into(),
        default_out: "stateful allow".into(),
        default_in: "deny".into(),
        rules: v
            .firewall
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| RuleInfo {
                direction: dir_s(r.direction).into(),
                priority: r.priority as u32,
                predicates: format!(
                    "hosts {:?} protocols {:?} ports {:?}",
                    r.hosts, r.protocols, r.ports
                ),
                action: format!("{:?}", r.action).to_lowercase(),
                hits: v
                    .hits
                    .firewall
                    .get(i)
                    .map_or(0, |c| c.load(Ordering::Relaxed)),
            })
            .collect(),
    };
    let router = LayerInfo {
        name: "router".into(),
        default_out: "deny (no route)".into(),
        default_in: "allow".into(),
        rules: v
            .router
            .entries()
            .map(|e| RuleInfo {
                direction: "out".into(),
                priority: priority(e),
                predicates: format!("dst in {} ({})", e.dest, e.class),
                action: format!("{:?}", e.target),
                hits: v
                    .hits
                    .routes
                    .get(&(e.dest, e.class))
                    .map_or(0, |c| c.load(Ordering::Relaxed)),
            })
            .collect(),
    };
    let nat = LayerInfo {
        name: "nat".into(),
        default_out: "allow".into(),
        default_in: "allow".into(),
        rules: vec![],
    };
    let overlay = LayerInfo {
        name: "overlay".into(),
        default_out: "encapsulate (Geneve, V2P)".into(),
        default_in: "decapsulate".into(),
        rules: vec![],
    };
    Ok(LayersInfo {
        port: name.to_string(),
        epoch: v.epoch,
        layers: vec![gateway, firewall, router, nat, overlay],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{port, Switch};
    use crate::SwitchRole;

    fn setup() -> (PortDirectory, TableStore) {
        Switch::tables(
            SwitchRole::Sled,
            &[
                port("g", PortRole::Guest, [2, 0, 0, 0, 0, 1]),
                port("up", PortRole::Uplink, [2, 0, 0, 0, 0, 2]),
            ],
        )
    }

    fn req() -> VnicCreate {
        VnicCreate {
            port: "g".into(),
            id: 1,
            vni: 100,
            mac: "a8:40:25:00:00:05".into(),
            ipv4: Some("172.30.0.5".parse().unwrap()),
            ipv6: None,
            gateway_mac: "a8:40:25:00:00:01".into(),
            gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
            gateway_ipv6: None,
            dns: vec![],
            hostname: None,
            domain: None,
            mtu: None,
            flow_quota: None,
        }
    }

    /// Runs `f`, expects a refusal containing `want`, and checks nothing was published.
    fn refused(tables: &TableStore, want: &str, f: impl FnOnce() -> Result<u64, String>) {
        let before = tables.current().generation;
        let e = f().expect_err("must be refused");
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert_eq!(
            tables.current().generation,
            before,
            "a refused command publishes nothing"
        );
    }

    #[test]
    fn bad_vnic_requests_are_refused_whole() {
        let (dir, t) = setup();
        let mut r = req();
        r.port = "up".into();
        refused(&t, "not a guest port", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.port = "nope".into();
        refused(&t, "unknown port", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.mac = "zz:00".into();
        refused(&t, "is not a MAC address", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.vni = 1 << 24;
        refused(&t, "24 bits", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.gateway_ipv4 = None;
        refused(&t, "gateway address", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.mac = "01:00:5e:00:00:01".into();
        refused(&t, "unicast", || vnic_create(&dir, &t, &r));
        refused(&t, "has no VNIC", || vnic_delete(&dir, &t, "g"));
        let two = PortDirectory {
            workers: 2,
            flow_quota: 1 << 20,
            ..dir.clone()
        };
        refused(&t, "single worker", || vnic_create(&two, &t, &req()));
        assert!(t.current().vpc.vnic(0).is_none());
    }

    /// Values the switch keeps for itself are refused: the boundary's VNI
    /// and inner MAC, underlay addresses that are not a sled's, and a port
    /// carrying both a patch and a VNIC.
    #[test]
    fn reserved_values_are_refused() {
        let (dir, t) = setup();
        let mut r = req();
        r.vni = 99;
        refused(&t, "vni 99 is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.mac = "a8:40:25:77:77:77".into();
        refused(&t, "is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.gateway_mac = "A8:40:25:77:77:77".into();
        refused(&t, "is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.flow_quota = Some(0);
        refused(&t, "flow_quota", || vnic_create(&dir, &t, &r));
        let mac = "a8:40:25:00:00:09";
        let ip: std::net::IpAddr = "172.30.0.9".parse().unwrap();
        let sled: std::net::Ipv6Addr = "fd00:1701:d:102::1".parse().unwrap();
        refused(&t, "vni 99 is reserved", || v2p_set(&t, 99, ip, mac, sled));
        refused(&t, "not a guest's unicast", || {
            v2p_set(&t, 100, ip, "a8:40:25:77:77:77", sled)
        });
        refused(&t, "not a guest's unicast", || {
            v2p_set(&t, 100, ip, "ff:ff:ff:ff:ff:ff", sled)
        });
        for bad in ["::", "ff02::1", "::1"] {
            let u: std::net::Ipv6Addr = bad.parse().unwrap();
            refused(&t, "not a sled's unicast", || v2p_set(&t, 100, ip, mac, u));
        }
        // A patched port takes no VNIC.
        let names = dir.names.clone();
        crate::control::patch::patch_set(&names, &t, "g", "up").unwrap();
        refused(&t, "is patched", || vnic_create(&dir, &t, &req()));
        crate::control::patch::patch_clear(&names, &t, None).unwrap();
        vnic_create(&dir, &t, &req()).unwrap();
        // And a port with a VNIC takes no patch, either way.
        let before = t.current().generation;
        for (from, to) in [("g", "up"), ("up", "g")] {
            let e = crate::control::patch::patch_set(&names, &t, from, to).unwrap_err();
            assert!(e.contains("has a VNIC"), "{e}");
        }
        assert_eq!(t.current().generation, before);
        assert_eq!(t.current().patch.entries().count(), 0);
    }

    #[test]
    fn bad_route_firewall_and_v2p_requests_are_refused_whole() {
        let (dir, t) = setup();
        refused(&t, "has no VNIC", || {
            route_add(&dir, &t, "g", "10.0.0.0/8", "drop", None)
        });
        vnic_create(&dir, &t, &req()).unwrap();
        let epoch = t.current().vpc.vnic(0).map(|v| v.epoch);
        refused(&t, "host bits", || {
            route_add(&dir, &t, "g", "10.0.0.1/8", "drop", None)
        });
        refused(&t, "target", || {
            route_add(&dir, &t, "g", "10.0.0.0/8", "elsewhere", None)
        });
        refused(&t, "class", || {
            route_add(&dir, &t, "g", "10.0.0.0/8", "drop", Some("vip"))
        });
        route_add(&dir, &t, "g", "10.0.0.0/8", "drop", None).unwrap();
        refused(&t, "already exists", || {
            route_add(&dir, &t, "g", "10.0.0.0/8", "drop", None)
        });
        refused(&t, "10.9.0.0/16", || {
            route_del(&dir, &t, "g", "10.9.0.0/16", None)
        });
        let bad = FwRuleSpec {
            direction: "in".into(),
            priority: 1,
            action: "allow".into(),
            hosts: vec![],
            protocols: vec!["tcp".into()],
            ports: vec!["90-80".into()],
        };
        refused(&t, "rule 0", || firewall_set(&dir, &t, "g", &[bad]));
        refused(&t, "is not a MAC", || {
            v2p_set(
                &t,
                100,
                "172.30.0.6".parse().unwrap(),
                "x",
                "fd00::1".parse().unwrap(),
            )
        });
        refused(&t, "no mapping", || {
            v2p_clear(&t, 100, "172.30.0.6".parse().unwrap())
        });
        refused(&t, "not an uplink", || {
            underlay_set(
                &dir,
                &t,
                "fd00::1".parse().unwrap(),
                "g",
                "02:00:00:00:00:01",
            )
        });
        refused(&t, "cannot be a sled", || {
            underlay_set(&dir, &t, "::".parse().unwrap(), "up", "02:00:00:00:00:01")
        });
        // Only the one successful route-add moved the epoch.
        assert_eq!(
            t.current().vpc.vnic(0).map(|v| v.epoch),
            epoch.map(|e| e + 1)
        );
    }

    #[test]
    fn v2p_changes_bump_only_their_vni() {
        let (dir, t) = setup();
        vnic_create(&dir, &t, &req()).unwrap();
        let e0 = t.current().vpc.vnic(0).map(|v| v.epoch);
        v2p_set(
            &t,
            200,
            "10.0.0.1".parse().unwrap(),
            "a8:40:25:00:00:09",
            "fd00::2".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            t.current().vpc.vnic(0).map(|v| v.epoch),
            e0,
            "another VPC's V2P change leaves this VNIC alone"
        );
        v2p_set(
            &t,
            100,
            "172.30.0.9".parse().unwrap(),
            "a8:40:25:00:00:09",
            "fd00::2".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(t.current().vpc.vnic(0).map(|v| v.epoch), e0.map(|e| e + 1));
        assert_eq!(v2p_list(&t.current()).len(), 2);
    }
}
