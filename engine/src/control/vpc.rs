//! The management thread's VPC commands: VNICs, underlay, V2P, routes and
//! firewall rules. Each changes the state document in force and commits it
//! (`commit.rs`: checked whole, compiled, published as one generation); a
//! refused command publishes nothing.

use crate::control::commit;
use crate::router::{nic_target, priority};
use crate::tables::{Snapshot, TableStore};
use crate::vnic::Vnic;
use crate::vpc::Underlay;
use crate::PortRole;
use crate::{Direction, PortIdx};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vswitch_api::nic::VNIC_INSTANCE_PREFIX;
use vswitch_api::state::{nic_id_of, NicState, RouteState, SwitchState, UnderlayState, V2pTarget};
use vswitch_api::{
    FwRuleSpec, LayerInfo, LayersInfo, Prefix, RouteClass, RouteTarget, RuleInfo, V2pEntry, Vni,
    VnicCreate, VnicInfo,
};
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
    /// Whether each port was created at run time (the state document's
    /// `ports` must list exactly those); missing entries: configured ports.
    pub runtime: Vec<bool>,
}

impl PortDirectory {
    fn index(&self, cmd: &str, name: &str) -> Result<PortIdx, String> {
        self.names
            .iter()
            .position(|n| !n.is_empty() && n == name)
            .map(|i| i as PortIdx)
            .ok_or_else(|| {
                format!(
                    "{cmd}: unknown port {name:?} (ports: {})",
                    crate::control::patch::listed(&self.names)
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

/// Removes the NIC bound to guest port `port` and, when `vnic-create` made
/// its instance (`vnic:PORT`), that instance; refuses a NIC of an instance
/// of its own (`nic-detach` is for those). Returns whether there was one.
fn unbind_vnic(s: &mut SwitchState, port: &str) -> Result<bool, String> {
    let Some(v) = s.vnic(port) else {
        return Ok(false);
    };
    let (id, instance) = (v.nic.id, v.attached().map(|a| a.instance.clone()));
    let instance = instance.unwrap_or_default();
    if !instance.starts_with(VNIC_INSTANCE_PREFIX) {
        return Err(format!(
            "port {port:?} carries nic {id} of instance {instance:?} (nic-detach or instance-state first)"
        ));
    }
    s.nics.retain(|v| v.nic.id != id);
    let still_used = s
        .nics
        .iter()
        .any(|v| v.attached().is_some_and(|a| a.instance == instance));
    if !still_used {
        s.instances.retain(|i| i.id != instance);
    }
    Ok(true)
}

/// `vnic-create`: the shorthand for a one-NIC instance. Creates NIC `id`
/// attached at device index 0 (deleted on termination) to a running
/// instance `vnic:PORT` and bound to the guest port (replacing the VNIC
/// there, with its routes, rules and external IPs).
pub fn vnic_create(
    dir: &PortDirectory,
    tables: &TableStore,
    req: &VnicCreate,
) -> Result<u64, String> {
    let cmd = "vnic-create";
    dir.guest(cmd, &req.port)?;
    commit::change(dir, tables, cmd, |s| {
        unbind_vnic(s, &req.port)?;
        s.attachments_made += 1;
        let (nic, instance) = vswitch_api::state::vnic_as_instance(req, s.attachments_made);
        s.instances.retain(|i| i.id != instance.id);
        s.instances.push(instance);
        s.nics.push(Arc::new(nic));
        Ok(())
    })
    .map(|c| c.generation)
}

/// `vnic-delete`: removes the NIC `vnic-create` bound to the port (and its
/// one-NIC instance).
pub fn vnic_delete(dir: &PortDirectory, tables: &TableStore, name: &str) -> Result<u64, String> {
    let cmd = "vnic-delete";
    dir.guest(cmd, name)?;
    commit::change(dir, tables, cmd, |s| {
        if !unbind_vnic(s, name)? {
            return Err(format!("port {name:?} has no VNIC"));
        }
        Ok(())
    })
    .map(|c| c.generation)
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
    nexthop_mac: vswitch_api::MacAddr,
) -> Result<u64, String> {
    let cmd = "underlay-set";
    dir.index(cmd, uplink)?;
    commit::change(dir, tables, cmd, |s| {
        // The endpoints and forwarding (the fleet's) stay as they were.
        let (endpoints, forward) = s
            .underlay
            .take()
            .map(|u| (u.endpoints, u.forward))
            .unwrap_or_default();
        s.underlay = Some(UnderlayState {
            addr,
            uplink: uplink.to_string(),
            nexthop_mac,
            endpoints,
            forward,
        });
        Ok(())
    })
    .map(|c| c.generation)
}

/// `v2p-set`: also moves the epoch of every VNIC of the VNI, so established
/// flows follow the new mapping (OPTE does not; live migration needs it).
pub fn v2p_set(
    dir: &PortDirectory,
    tables: &TableStore,
    vni: Vni,
    ip: std::net::IpAddr,
    mac: vswitch_api::MacAddr,
    underlay: std::net::Ipv6Addr,
) -> Result<u64, String> {
    commit::change(dir, tables, "v2p-set", |s| {
        s.v2p.set(vni, ip, V2pTarget { mac, underlay });
        Ok(())
    })
    .map(|c| c.generation)
}

/// `v2p-clear`.
pub fn v2p_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    vni: Vni,
    ip: std::net::IpAddr,
) -> Result<u64, String> {
    commit::change(dir, tables, "v2p-clear", |s| {
        s.v2p
            .remove(vni, ip)
            .map(|_| ())
            .ok_or_else(|| format!("no mapping for {ip} in VNI {vni}"))
    })
    .map(|c| c.generation)
}

/// `v2p-list`: the mappings in force (those of the document the snapshot
/// was compiled from), by VNI and IP.
pub fn v2p_list(snap: &Snapshot) -> Vec<V2pEntry> {
    snap.state.v2p.entries().collect()
}

/// The NIC a command names (`nic:ID`, or the guest port it is bound to),
/// to change it.
pub(crate) fn nic_to_change<'a>(
    dir: &PortDirectory,
    cmd: &str,
    s: &'a mut SwitchState,
    name: &str,
) -> Result<&'a mut NicState, String> {
    if let Some(id) = nic_id_of(name) {
        return s
            .nic_named_mut(name)
            .ok_or_else(|| format!("there is no nic {id} (nic-create first)"));
    }
    dir.guest(cmd, name)?;
    s.vnic_mut(name)
        .ok_or_else(|| format!("port {name:?} has no VNIC (vnic-create first)"))
}

/// Changes the document of the NIC `name` names (`nic:ID` or a guest
/// port) with `f`.
fn change_vnic(
    dir: &PortDirectory,
    tables: &TableStore,
    cmd: &str,
    name: &str,
    f: impl FnOnce(&mut NicState) -> Result<(), String>,
) -> Result<u64, String> {
    if nic_id_of(name).is_none() {
        dir.guest(cmd, name)?;
    }
    commit::change(dir, tables, cmd, |s| f(nic_to_change(dir, cmd, s, name)?)).map(|c| c.generation)
}

/// `route-add`.
pub fn route_add(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    dest: Prefix,
    target: RouteTarget,
    class: Option<RouteClass>,
) -> Result<u64, String> {
    change_vnic(dir, tables, "route-add", port, |v| {
        v.routes.push(RouteState {
            dest,
            target,
            class,
        });
        Ok(())
    })
}

/// `route-del`.
pub fn route_del(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    dest: Prefix,
    class: Option<RouteClass>,
) -> Result<u64, String> {
    let cmd = "route-del";
    let class = class.unwrap_or_default();
    change_vnic(dir, tables, cmd, port, |v| {
        let i = v
            .routes
            .iter()
            .position(|r| r.dest == dest && r.class() == class)
            .ok_or_else(|| format!("no route {dest} ({class}) on port {port:?}"))?;
        v.routes.remove(i);
        Ok(())
    })
}

/// `firewall-set`: replaces the rule set whole (atomic for the workers).
pub fn firewall_set(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
    rules: &[FwRuleSpec],
) -> Result<u64, String> {
    change_vnic(dir, tables, "firewall-set", port, |v| {
        v.firewall = rules.to_vec();
        Ok(())
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
                state: None,
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
                state: None,
            },
            RuleInfo {
                direction: "in".into(),
                priority: 0,
                predicates: format!("dst mac {} and dst ip {:?}/{:?}", gw.mac, gw.ipv4, gw.ipv6),
                action: format!("allow, src mac := {}", gw.gateway_mac),
                hits: 0,
                state: None,
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
                state: None,
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
                state: match e.target {
                    crate::router::RouterTarget::Nic(id) => {
                        Some(nic_target::state_of(&snap.vpc.nic_targets, id, v.spec.vni).into())
                    }
                    _ => None,
                },
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
    use crate::testing::{port, typed, vni, Switch};
    use crate::SwitchRole;
    use vswitch_api::{FwAction, FwDirection};

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
            vni: vni(100),
            mac: typed("a8:40:25:00:00:05"),
            ipv4: Some("172.30.0.5".parse().unwrap()),
            ipv6: None,
            gateway_mac: typed("a8:40:25:00:00:01"),
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
        r.gateway_ipv4 = None;
        refused(&t, "gateway address", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.mac = typed("01:00:5e:00:00:01");
        refused(&t, "unicast", || vnic_create(&dir, &t, &r));
        refused(&t, "has no VNIC", || vnic_delete(&dir, &t, "g"));
        assert!(t.current().vpc.vnic(0).is_none());
        // Several workers take VNICs (each flow has an owner worker).
        let two = PortDirectory {
            workers: 2,
            flow_quota: 1 << 20,
            ..dir.clone()
        };
        vnic_create(&two, &t, &req()).unwrap();
        assert!(t.current().vpc.vnic(0).is_some());
    }

    /// What does not parse is refused where the request is read, with the
    /// type's message, before any command runs.
    #[test]
    fn bad_values_are_refused_when_the_request_is_read() {
        use vswitch_api::Request;
        let vnic = r#""command":"vnic-create","port":"g","id":1,"ipv4":"172.30.0.5","gateway_ipv4":"172.30.0.1""#;
        for (fields, want) in [
            (
                format!(r#"{vnic},"vni":100,"mac":"zz:00","gateway_mac":"a8:40:25:00:00:01""#),
                r#""zz:00" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
            (
                format!(r#"{vnic},"vni":16777216,"mac":"a8:40:25:00:00:05","gateway_mac":"a8:40:25:00:00:01""#),
                "vni 16777216 does not fit in 24 bits",
            ),
            (
                r#""command":"route-add","port":"g","dest":"10.0.0.0/8","target":"elsewhere""#.into(),
                r#""elsewhere" is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID"#,
            ),
            (
                r#""command":"route-add","port":"g","dest":"10.0.0.0/8","target":"drop","class":"vip""#.into(),
                r#""vip" is not one of custom, system"#,
            ),
            (
                r#""command":"route-del","port":"g","dest":"10.0.0.0""#.into(),
                r#""10.0.0.0" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"#,
            ),
            (
                r#""command":"firewall-set","port":"g","rules":[{"direction":"in","priority":1,"action":"allow","ports":["90-80"]}]"#.into(),
                "port range 90-80 has first > last",
            ),
            (
                r#""command":"v2p-set","vni":100,"ip":"172.30.0.6","mac":"x","underlay":"fd00::1""#.into(),
                r#""x" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
        ] {
            let line = format!(r#"{{"version":2,{fields}}}"#);
            let e = serde_json::from_str::<Request>(&line).unwrap_err().to_string();
            assert!(e.starts_with(want), "{line}: {e}");
        }
    }

    /// Values the switch keeps for itself are refused: the boundary's VNI
    /// and inner MAC, underlay addresses that are not a sled's, and a port
    /// carrying both a patch and a VNIC.
    #[test]
    fn reserved_values_are_refused() {
        let (dir, t) = setup();
        let mut r = req();
        r.vni = vni(99);
        refused(&t, "vni 99 is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.mac = typed("a8:40:25:77:77:77");
        refused(&t, "is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.gateway_mac = typed("A8:40:25:77:77:77");
        refused(&t, "is reserved", || vnic_create(&dir, &t, &r));
        let mut r = req();
        r.flow_quota = Some(0);
        refused(&t, "flow_quota", || vnic_create(&dir, &t, &r));
        let mac = typed("a8:40:25:00:00:09");
        let ip: std::net::IpAddr = "172.30.0.9".parse().unwrap();
        let sled: std::net::Ipv6Addr = "fd00:1701:d:102::1".parse().unwrap();
        refused(&t, "vni 99 is reserved", || {
            v2p_set(&dir, &t, vni(99), ip, mac, sled)
        });
        refused(&t, "not a guest's unicast", || {
            v2p_set(&dir, &t, vni(100), ip, typed("a8:40:25:77:77:77"), sled)
        });
        refused(&t, "not a guest's unicast", || {
            v2p_set(&dir, &t, vni(100), ip, typed("ff:ff:ff:ff:ff:ff"), sled)
        });
        for bad in ["::", "ff02::1", "::1"] {
            let u: std::net::Ipv6Addr = bad.parse().unwrap();
            refused(&t, "not a sled's unicast", || {
                v2p_set(&dir, &t, vni(100), ip, mac, u)
            });
        }
        // A patched port takes no VNIC.
        crate::control::patch::patch_set(&dir, &t, "g", "up").unwrap();
        refused(&t, "is patched", || vnic_create(&dir, &t, &req()));
        crate::control::patch::patch_clear(&dir, &t, None).unwrap();
        vnic_create(&dir, &t, &req()).unwrap();
        // And a port with a VNIC takes no patch, either way.
        let before = t.current().generation;
        for (from, to) in [("g", "up"), ("up", "g")] {
            let e = crate::control::patch::patch_set(&dir, &t, from, to).unwrap_err();
            assert!(e.contains("has a VNIC"), "{e}");
        }
        assert_eq!(t.current().generation, before);
        assert_eq!(t.current().patch.entries().count(), 0);
    }

    #[test]
    fn bad_route_firewall_and_v2p_requests_are_refused_whole() {
        let (dir, t) = setup();
        refused(&t, "has no VNIC", || {
            route_add(&dir, &t, "g", typed("10.0.0.0/8"), typed("drop"), None)
        });
        vnic_create(&dir, &t, &req()).unwrap();
        let epoch = t.current().vpc.vnic(0).map(|v| v.epoch);
        refused(&t, "host bits", || {
            route_add(&dir, &t, "g", typed("10.0.0.1/8"), typed("drop"), None)
        });
        route_add(&dir, &t, "g", typed("10.0.0.0/8"), typed("drop"), None).unwrap();
        refused(&t, "already exists", || {
            route_add(&dir, &t, "g", typed("10.0.0.0/8"), typed("drop"), None)
        });
        refused(&t, "10.9.0.0/16", || {
            route_del(&dir, &t, "g", typed("10.9.0.0/16"), None)
        });
        let bad = FwRuleSpec {
            direction: FwDirection::In,
            priority: 1,
            action: FwAction::Allow,
            hosts: vec![typed("subnet:10.0.0.1/8")],
            protocols: vec![typed("tcp")],
            ports: vec![typed("80-90")],
        };
        refused(&t, "rule 0: subnet 10.0.0.1/8 has host bits set", || {
            firewall_set(&dir, &t, "g", &[bad])
        });
        refused(&t, "no mapping", || {
            v2p_clear(&dir, &t, vni(100), "172.30.0.6".parse().unwrap())
        });
        refused(&t, "not an uplink", || {
            underlay_set(
                &dir,
                &t,
                "fd00::1".parse().unwrap(),
                "g",
                typed("02:00:00:00:00:01"),
            )
        });
        refused(&t, "cannot be a sled", || {
            underlay_set(
                &dir,
                &t,
                "::".parse().unwrap(),
                "up",
                typed("02:00:00:00:00:01"),
            )
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
            &dir,
            &t,
            vni(200),
            "10.0.0.1".parse().unwrap(),
            typed("a8:40:25:00:00:09"),
            "fd00::2".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            t.current().vpc.vnic(0).map(|v| v.epoch),
            e0,
            "another VPC's V2P change leaves this VNIC alone"
        );
        v2p_set(
            &dir,
            &t,
            vni(100),
            "172.30.0.9".parse().unwrap(),
            typed("a8:40:25:00:00:09"),
            "fd00::2".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(t.current().vpc.vnic(0).map(|v| v.epoch), e0.map(|e| e + 1));
        assert_eq!(v2p_list(&t.current()).len(), 2);
    }
}
