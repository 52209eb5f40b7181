//! The management thread's internet-gateway commands (docs/VPC-MODEL.md, *Internet
//! gateways and external IPs*): IP pools, internet gateways (IGWs) and the
//! pools or ranges assigned to them, each VNIC's external IPs with the map
//! external IP -> gateways, and the V2B table.
//!
//! Each command changes the state document in force and commits it
//! (`commit.rs`); a refused command publishes nothing. The update rules (docs/VPC-MODEL.md, *Update rules*) are
//! kept by the epochs each command moves, and every change answers with the
//! ports it updated:
//!
//! - creating a gateway (or a pool) changes nothing in the data plane;
//! - assigning or taking back a gateway's pool or range updates exactly the
//!   VNICs that have a route to that gateway;
//! - adding or removing a route to a gateway is a route update (`route-add`,
//!   `route-del`: that VNIC only);
//! - setting a VNIC's external IPs updates that VNIC only;
//! - a V2B change updates the VNICs that have a route to any gateway.

use crate::control::check::{covered_by, source_text, v2b_prefix};
use crate::control::commit::{self, Change};
use crate::control::specs;
use crate::control::vpc::PortDirectory;
use crate::nat::igw::{IgwSource, IgwTag};
use crate::router::RouterTarget;
use crate::tables::{Snapshot, TableStore};
use crate::PortIdx;
use crate::PortRole;
use vswitch_api::state::{ExternalState, IgwState, PoolState};
use vswitch_api::{
    AddrRange, ExternalIpsSpec, GatewayRef, IgwInfo, PoolInfo, Prefix, Reply, SnatRange, V2bEntry,
};

fn port_name(dir: &PortDirectory, port: PortIdx) -> String {
    dir.names.get(port as usize).cloned().unwrap_or_default()
}

/// The guest port called `name`.
fn guest_port(dir: &PortDirectory, cmd: &str, name: &str) -> Result<PortIdx, String> {
    let i = dir
        .names
        .iter()
        .position(|n| !n.is_empty() && n == name)
        .ok_or_else(|| {
            format!(
                "{cmd}: unknown port {name:?} (ports: {})",
                crate::control::patch::listed(&dir.names)
            )
        })?;
    match dir.roles.get(i) {
        Some(PortRole::Guest) => Ok(i as PortIdx),
        Some(r) => Err(format!(
            "{cmd}: port {name:?} is an {} port, not a guest port",
            r.as_str()
        )),
        None => Err(format!("{cmd}: unknown port {name:?}")),
    }
}

/// The VNICs with a route whose target is gateway `tag`, or, with `None`,
/// any internet gateway.
fn ports_routing_through(s: &Snapshot, tag: Option<IgwTag>) -> Vec<PortIdx> {
    s.vpc
        .vnics
        .iter()
        .flatten()
        .filter(|v| {
            v.router.entries().any(|e| match (&e.target, tag) {
                (RouterTarget::InternetGateway(_), None) => true,
                (RouterTarget::InternetGateway(t), Some(want)) => *t == want,
                _ => false,
            })
        })
        .map(|v| v.port)
        .collect()
}

/// The answer to a change: the generation and the ports it updated.
fn updated(dir: &PortDirectory, c: Change) -> Reply {
    Reply::Updated {
        generation: c.generation,
        updated_ports: c.moved.into_iter().map(|p| port_name(dir, p)).collect(),
    }
}

/// Changes the state in force with `f` and commits it.
fn publish(
    dir: &PortDirectory,
    tables: &TableStore,
    cmd: &str,
    f: impl FnOnce(&mut vswitch_api::state::SwitchState) -> Result<(), String>,
) -> Result<Reply, String> {
    commit::change(dir, tables, cmd, f).map(|c| updated(dir, c))
}

/// `pool-create`.
pub fn pool_create(
    dir: &PortDirectory,
    tables: &TableStore,
    name: &str,
    ranges: &[AddrRange],
) -> Result<Reply, String> {
    publish(dir, tables, "pool-create", |s| {
        if s.pools.iter().any(|p| p.name == name) {
            return Err(format!("pool {name:?} already exists"));
        }
        s.pools.push(PoolState {
            name: name.to_string(),
            ranges: ranges.to_vec(),
        });
        // No gateway can have this pool yet: nothing in the data plane changes.
        Ok(())
    })
}

/// `pool-delete`.
pub fn pool_delete(dir: &PortDirectory, tables: &TableStore, name: &str) -> Result<Reply, String> {
    let cmd = "pool-delete";
    let cur = tables.current();
    let t = &cur.vpc.igws;
    let pool = t
        .pools
        .get(name)
        .ok_or_else(|| format!("{cmd}: unknown pool {name:?}"))?;
    for (id, g) in &t.igws {
        for src in &g.sources {
            let uses = match src {
                IgwSource::Pool(p) => p == name,
                IgwSource::Range(r) => pool.ranges.iter().any(|x| x.overlaps(r)),
            };
            if uses {
                return Err(format!(
                    "{cmd}: pool {name:?} is assigned to igw:{id} ({}); igw-unassign it first",
                    source_text(src)
                ));
            }
        }
    }
    for v in cur.vpc.vnics.iter().flatten() {
        if let Some(ip) = v
            .external_ips
            .all()
            .find(|ip| pool.ranges.iter().any(|r| r.contains(*ip)))
        {
            return Err(format!(
                "{cmd}: pool {name:?} holds {ip}, an external IP of port {:?}",
                port_name(dir, v.port)
            ));
        }
    }
    publish(dir, tables, cmd, |s| {
        s.pools.retain(|p| p.name != name);
        Ok(())
    })
}

/// `pool-list`.
pub fn pool_list(dir: &PortDirectory, snap: &Snapshot) -> Vec<PoolInfo> {
    let t = &snap.vpc.igws;
    t.pools
        .values()
        .map(|p| PoolInfo {
            name: p.name.clone(),
            ranges: p.ranges.iter().map(|r| r.to_string()).collect(),
            igws: t
                .igws
                .iter()
                .filter(|(_, g)| {
                    g.sources.iter().any(|src| match src {
                        IgwSource::Pool(n) => *n == p.name,
                        IgwSource::Range(r) => p.ranges.iter().any(|x| x.overlaps(r)),
                    })
                })
                .map(|(id, _)| *id)
                .collect(),
            ports: snap
                .vpc
                .vnics
                .iter()
                .flatten()
                .filter(|v| {
                    v.external_ips
                        .all()
                        .any(|ip| p.ranges.iter().any(|r| r.contains(ip)))
                })
                .map(|v| port_name(dir, v.port))
                .collect(),
        })
        .collect()
}

/// `igw-create`: changes nothing in the data plane (docs/VPC-MODEL.md, *Update rules*).
pub fn igw_create(
    dir: &PortDirectory,
    tables: &TableStore,
    id: u32,
    name: Option<&str>,
) -> Result<Reply, String> {
    publish(dir, tables, "igw-create", |s| {
        if s.igws.iter().any(|g| g.id == id) {
            return Err(format!("igw:{id} already exists"));
        }
        s.igws.push(IgwState {
            id,
            name: name.map(str::to_string),
            pools: Vec::new(),
            ranges: Vec::new(),
        });
        // No route and no igw_map can name it yet: no epoch moves.
        Ok(())
    })
}

/// `igw-delete`.
pub fn igw_delete(dir: &PortDirectory, tables: &TableStore, id: u32) -> Result<Reply, String> {
    let cmd = "igw-delete";
    let cur = tables.current();
    if !cur.vpc.igws.igws.contains_key(&id) {
        return Err(format!("{cmd}: unknown gateway igw:{id}"));
    }
    if let Some(p) = ports_routing_through(&cur, Some(Some(id))).first() {
        return Err(format!(
            "{cmd}: port {:?} has a route to igw:{id}; route-del it first",
            port_name(dir, *p)
        ));
    }
    for v in cur.vpc.vnics.iter().flatten() {
        let named = v
            .external_ips
            .igw_map
            .iter()
            .flatten()
            .find(|(_, set)| set.contains(&Some(id)));
        if let Some((ip, _)) = named {
            return Err(format!(
                "{cmd}: port {:?} maps its external IP {ip} to igw:{id}; external-set that port without it first",
                port_name(dir, v.port)
            ));
        }
    }
    publish(dir, tables, cmd, |s| {
        s.igws.retain(|g| g.id != id);
        Ok(())
    })
}

/// The source `igw-assign` / `igw-unassign` name: exactly one of a pool and a range.
fn source_arg(
    cmd: &str,
    pool: Option<&str>,
    range: Option<AddrRange>,
) -> Result<IgwSource, String> {
    match (pool, range) {
        (Some(p), None) => Ok(IgwSource::Pool(p.to_string())),
        (None, Some(r)) => Ok(IgwSource::Range(specs::range(r))),
        _ => Err(format!("{cmd}: give exactly one of pool, range")),
    }
}

/// The gateway `id` of the document, to change.
fn igw_mut(s: &mut vswitch_api::state::SwitchState, id: u32) -> Result<&mut IgwState, String> {
    s.igws
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| format!("unknown gateway igw:{id} (igw-create first)"))
}

/// `igw-assign`: updates exactly the VNICs that route through the gateway.
pub fn igw_assign(
    dir: &PortDirectory,
    tables: &TableStore,
    id: u32,
    pool: Option<&str>,
    range: Option<AddrRange>,
) -> Result<Reply, String> {
    let cmd = "igw-assign";
    let src = source_arg(cmd, pool, range)?;
    if let IgwSource::Range(r) = &src {
        let cur = tables.current();
        if !cur
            .vpc
            .igws
            .pools
            .values()
            .any(|p| covered_by(&p.ranges, r))
        {
            return Err(format!(
                "{cmd}: range {r} is not inside one pool (every address of it must be in the same pool)"
            ));
        }
    }
    publish(dir, tables, cmd, |s| {
        if let IgwSource::Pool(p) = &src {
            if !s.pools.iter().any(|x| x.name == *p) {
                return Err(format!("unknown pool {p:?}"));
            }
        }
        let g = igw_mut(s, id)?;
        match src {
            IgwSource::Pool(p) => g.pools.push(p),
            // The range as given (the source was made from it).
            IgwSource::Range(_) => g.ranges.extend(range),
        }
        Ok(())
    })
}

/// `igw-unassign`: updates exactly the VNICs that route through the gateway.
pub fn igw_unassign(
    dir: &PortDirectory,
    tables: &TableStore,
    id: u32,
    pool: Option<&str>,
    range: Option<AddrRange>,
) -> Result<Reply, String> {
    let cmd = "igw-unassign";
    let src = source_arg(cmd, pool, range)?;
    publish(dir, tables, cmd, |s| {
        let g = igw_mut(s, id).map_err(|_| format!("unknown gateway igw:{id}"))?;
        let found = match &src {
            IgwSource::Pool(p) => g.pools.iter().position(|x| x == p).map(|i| {
                g.pools.remove(i);
            }),
            IgwSource::Range(r) => g
                .ranges
                .iter()
                .position(|x| specs::range(*x) == *r)
                .map(|i| {
                    g.ranges.remove(i);
                }),
        };
        if found.is_none() {
            let has: Vec<String> = g
                .pools
                .iter()
                .map(|p| format!("pool:{p}"))
                .chain(
                    g.ranges
                        .iter()
                        .map(|r| source_text(&IgwSource::Range(specs::range(*r)))),
                )
                .collect();
            return Err(format!(
                "{} is not assigned to igw:{id} (assigned: {})",
                source_text(&src),
                if has.is_empty() {
                    "none".to_string()
                } else {
                    has.join(", ")
                }
            ));
        }
        Ok(())
    })
}

/// `igw-list`.
pub fn igw_list(dir: &PortDirectory, snap: &Snapshot) -> Vec<IgwInfo> {
    snap.vpc
        .igws
        .igws
        .iter()
        .map(|(id, g)| IgwInfo {
            id: *id,
            name: g.name.clone(),
            sources: g.sources.iter().map(source_text).collect(),
            ports: ports_routing_through(snap, Some(Some(*id)))
                .into_iter()
                .map(|p| port_name(dir, p))
                .collect(),
        })
        .collect()
}

/// `external-set`: replaces a VNIC's external IPs; updates that VNIC only.
pub fn external_set(
    dir: &PortDirectory,
    tables: &TableStore,
    req: &ExternalIpsSpec,
) -> Result<Reply, String> {
    let cmd = "external-set";
    guest_port(dir, cmd, &req.port)?;
    let name = &req.port;
    publish(dir, tables, cmd, |s| {
        let v = s
            .vnic_mut(name)
            .ok_or_else(|| format!("port {name:?} has no VNIC (vnic-create first)"))?;
        let x = ExternalState {
            floating: req.floating.clone(),
            ephemeral: req.ephemeral,
            snat: req.snat,
            igw_map: req.igw_map.clone(),
        };
        v.external = (x != ExternalState::default()).then_some(x);
        Ok(())
    })
}

/// `external-clear`: removes a VNIC's external IPs; updates that VNIC only.
/// A VNIC without external IPs is left alone and nothing is published.
pub fn external_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    name: &str,
) -> Result<Reply, String> {
    let cmd = "external-clear";
    guest_port(dir, cmd, name)?;
    publish(dir, tables, cmd, |s| {
        let v = s
            .vnic_mut(name)
            .ok_or_else(|| format!("port {name:?} has no VNIC"))?;
        v.external = None;
        Ok(())
    })
}

/// `external-list`: every VNIC's external IPs, in port order.
pub fn external_list(dir: &PortDirectory, snap: &Snapshot) -> Vec<ExternalIpsSpec> {
    let gw = |t: &IgwTag| match t {
        None => GatewayRef::Named("system".into()),
        Some(id) => GatewayRef::Id(*id),
    };
    snap.vpc
        .vnics
        .iter()
        .flatten()
        .map(|v| {
            let e = &v.external_ips;
            ExternalIpsSpec {
                port: port_name(dir, v.port),
                floating: e.floating.clone(),
                ephemeral: e.ephemeral,
                snat: e.snat.map(|s| SnatRange {
                    ip: s.ip,
                    first_port: s.first_port,
                    last_port: s.last_port,
                }),
                igw_map: e.igw_map.as_ref().map(|m| {
                    m.iter()
                        .map(|(ip, set)| (*ip, set.iter().map(gw).collect()))
                        .collect()
                }),
            }
        })
        .collect()
}

/// `v2b-set`: updates the VNICs that have a route to an internet gateway.
pub fn v2b_set(
    dir: &PortDirectory,
    tables: &TableStore,
    prefix: Prefix,
    endpoints: &[std::net::Ipv6Addr],
) -> Result<Reply, String> {
    let cmd = "v2b-set";
    v2b_prefix(prefix).map_err(|e| format!("{cmd}: {e}"))?;
    publish(dir, tables, cmd, |s| {
        let entry = V2bEntry {
            prefix,
            endpoints: endpoints.to_vec(),
        };
        match s.v2b.iter_mut().find(|e| e.prefix == prefix) {
            Some(e) => *e = entry,
            None => s.v2b.push(entry),
        }
        Ok(())
    })
}

/// `v2b-clear`: updates the VNICs that have a route to an internet gateway.
pub fn v2b_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    prefix: Prefix,
) -> Result<Reply, String> {
    let cmd = "v2b-clear";
    v2b_prefix(prefix).map_err(|e| format!("{cmd}: {e}"))?;
    publish(dir, tables, cmd, |s| {
        let before = s.v2b.len();
        s.v2b.retain(|e| e.prefix != prefix);
        if s.v2b.len() == before {
            return Err(format!("no V2B entry for {prefix}"));
        }
        Ok(())
    })
}

/// `v2b-list`: the entries in force (those of the document the snapshot
/// was compiled from), by prefix.
pub fn v2b_list(snap: &Snapshot) -> Vec<V2bEntry> {
    let mut v = snap.state.v2b.clone();
    v.sort_by_key(|e| e.prefix);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::vpc::{route_add, route_del, vnic_create};
    use crate::nat::igw::{select_source, NatSource};
    use crate::testing::{port, typed, typed_all, vni, Switch};
    use crate::SwitchRole;
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use vswitch_api::VnicCreate;

    /// Three guest ports (g0, g1, g2) with a VNIC each, and an uplink.
    fn setup() -> (PortDirectory, TableStore) {
        let ports: Vec<_> = ["g0", "g1", "g2", "up"]
            .iter()
            .zip(1..=4u8)
            .map(|(name, i)| {
                let role = if *name == "up" {
                    PortRole::Uplink
                } else {
                    PortRole::Guest
                };
                port(name, role, [2, 0, 0, 0, 0, i])
            })
            .collect();
        let (dir, t) = Switch::tables(SwitchRole::Sled, &ports);
        for i in 0..3u8 {
            vnic_create(
                &dir,
                &t,
                &VnicCreate {
                    port: format!("g{i}"),
                    id: i as u32,
                    vni: vni(100),
                    mac: typed(&format!("a8:40:25:00:00:0{}", i + 5)),
                    ipv4: Some(format!("172.30.0.{}", i + 5).parse().unwrap()),
                    ipv6: None,
                    gateway_mac: typed("a8:40:25:00:00:01"),
                    gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
                    gateway_ipv6: None,
                    dns: vec![],
                    hostname: None,
                    domain: None,
                    mtu: None,
                    flow_quota: None,
                },
            )
            .unwrap();
        }
        (dir, t)
    }

    fn epochs(t: &TableStore) -> Vec<u64> {
        let s = t.current();
        (0..3).map(|p| s.vpc.vnic(p).unwrap().epoch).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Runs a change and asserts it moved exactly the epochs of `ports`
    /// (to new epochs, above every earlier one) and answered with their names.
    fn moves(t: &TableStore, ports: &[PortIdx], f: impl FnOnce() -> Result<Reply, String>) {
        let before = epochs(t);
        let gen = t.current().generation;
        let reply = f().expect("the change must be applied");
        let after = epochs(t);
        let highest = before.iter().copied().max().unwrap_or(0);
        for p in 0..3u16 {
            let (b, a) = (before[p as usize], after[p as usize]);
            if ports.contains(&p) {
                assert!(
                    a > highest,
                    "epoch of g{p}: {b} -> {a} (expected {ports:?} to move)"
                );
            } else {
                assert_eq!(a, b, "epoch of g{p} (expected {ports:?} to move)");
            }
        }
        assert_eq!(t.current().generation, gen + 1);
        let names: Vec<String> = ports.iter().map(|p| format!("g{p}")).collect();
        assert_eq!(
            reply,
            Reply::Updated {
                generation: gen + 1,
                updated_ports: names
            }
        );
    }

    /// Runs a request that must be refused with a message containing
    /// `want`, and checks that nothing was published and no epoch moved.
    fn refused<T: std::fmt::Debug>(
        t: &TableStore,
        want: &str,
        f: impl FnOnce() -> Result<T, String>,
    ) {
        let gen = t.current().generation;
        let before = epochs(t);
        let e = f().expect_err("must be refused");
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert_eq!(
            t.current().generation,
            gen,
            "a refusal publishes nothing: {e}"
        );
        assert_eq!(epochs(t), before, "a refusal moves no epoch: {e}");
    }

    fn ext(port: &str) -> ExternalIpsSpec {
        ExternalIpsSpec {
            port: port.into(),
            floating: vec![],
            ephemeral: None,
            snat: None,
            igw_map: None,
        }
    }

    fn snat(a: &str, first_port: u16, last_port: u16) -> Option<SnatRange> {
        Some(SnatRange {
            ip: ip(a),
            first_port,
            last_port,
        })
    }

    /// A range inside adjacent ranges of one pool is covered (ranges are
    /// parsed by the API: `vswitch_api::AddrRange`'s tests).
    #[test]
    fn ranges_cover() {
        let r = |s: &str| specs::range(typed(s));
        assert_eq!(
            (r("10.1.0.0/16").first, r("10.1.0.0/16").last),
            (ip("10.1.0.0"), ip("10.1.255.255"))
        );
        let two = [r("10.0.0.0-10.0.0.9"), r("10.0.0.10-10.0.0.19")];
        assert!(covered_by(&two, &r("10.0.0.5-10.0.0.15")));
        assert!(!covered_by(&two, &r("10.0.0.5-10.0.0.20")));
        assert!(!covered_by(&two, &r("::5")));
    }

    #[test]
    fn creating_a_gateway_or_a_pool_moves_no_epoch() {
        let (dir, t) = setup();
        route_add(&dir, &t, "g0", typed("0.0.0.0/0"), typed("igw"), None).unwrap();
        moves(&t, &[], || {
            pool_create(&dir, &t, "ext", &typed_all(&["192.168.0.0/24"]))
        });
        moves(&t, &[], || igw_create(&dir, &t, 1, Some("a")));
        moves(&t, &[], || igw_create(&dir, &t, 2, None));
        let igws = igw_list(&dir, &t.current());
        assert_eq!(igws.len(), 2);
        assert_eq!((igws[0].id, igws[0].name.as_str()), (1, "a"));
        assert!(igws[0].sources.is_empty() && igws[0].ports.is_empty());
        // Deleting a gateway nothing uses, and a pool nothing uses, moves none either.
        moves(&t, &[], || igw_delete(&dir, &t, 2));
        moves(&t, &[], || pool_delete(&dir, &t, "ext"));
        assert!(pool_list(&dir, &t.current()).is_empty());
    }

    #[test]
    fn assigning_a_gateways_ips_updates_exactly_the_ports_routing_through_it() {
        let (dir, t) = setup();
        pool_create(&dir, &t, "a", &typed_all(&["192.168.0.0/24"])).unwrap();
        pool_create(
            &dir,
            &t,
            "b",
            &typed_all(&["198.51.100.0/24", "2001:db8::/64"]),
        )
        .unwrap();
        igw_create(&dir, &t, 1, None).unwrap();
        igw_create(&dir, &t, 2, None).unwrap();
        // g0 routes through igw:1, g1 through igw:2 (twice), g2 through the system gateway.
        route_add(&dir, &t, "g0", typed("1.1.1.0/24"), typed("igw:1"), None).unwrap();
        route_add(&dir, &t, "g1", typed("2.2.2.0/24"), typed("igw:2"), None).unwrap();
        route_add(&dir, &t, "g1", typed("::/0"), typed("igw:2"), None).unwrap();
        route_add(&dir, &t, "g2", typed("0.0.0.0/0"), typed("igw"), None).unwrap();
        moves(&t, &[0], || igw_assign(&dir, &t, 1, Some("a"), None));
        moves(&t, &[1], || {
            igw_assign(&dir, &t, 2, None, Some(typed("198.51.100.8-198.51.100.15")))
        });
        moves(&t, &[1], || {
            igw_assign(&dir, &t, 2, None, Some(typed("2001:db8::/120")))
        });
        moves(&t, &[0], || {
            igw_assign(&dir, &t, 1, None, Some(typed("198.51.100.16/28")))
        });
        let igws = igw_list(&dir, &t.current());
        assert_eq!(
            igws[0].sources,
            strings(&["pool:a", "range:198.51.100.16-198.51.100.31"])
        );
        assert_eq!(igws[0].ports, strings(&["g0"]));
        assert_eq!(igws[1].ports, strings(&["g1"]));
        let pools = pool_list(&dir, &t.current());
        assert_eq!(
            (pools[0].name.as_str(), pools[0].igws.clone()),
            ("a", vec![1])
        );
        assert_eq!(
            (pools[1].name.as_str(), pools[1].igws.clone()),
            ("b", vec![1, 2])
        );
        // Taking them back is the same update.
        moves(&t, &[1], || {
            igw_unassign(&dir, &t, 2, None, Some(typed("2001:db8::/120")))
        });
        moves(&t, &[0], || igw_unassign(&dir, &t, 1, Some("a"), None));
        let s = t.current();
        assert!(s.vpc.igws.igw_may_use(Some(1), ip("198.51.100.20")));
        assert!(!s.vpc.igws.igw_may_use(Some(1), ip("192.168.0.9")));
        assert!(s.vpc.igws.igw_may_use(Some(2), ip("198.51.100.9")));
        assert!(!s.vpc.igws.igw_may_use(Some(2), ip("2001:db8::1")));
        // A gateway no port routes through: its changes update nobody.
        igw_create(&dir, &t, 3, None).unwrap();
        moves(&t, &[], || igw_assign(&dir, &t, 3, Some("a"), None));
    }

    #[test]
    fn a_route_to_a_gateway_is_a_route_update() {
        let (dir, t) = setup();
        refused(&t, "unknown gateway igw:5", || {
            route_add(&dir, &t, "g1", typed("0.0.0.0/0"), typed("igw:5"), None)
        });
        igw_create(&dir, &t, 5, None).unwrap();
        let e = epochs(&t);
        route_add(&dir, &t, "g1", typed("0.0.0.0/0"), typed("igw:5"), None).unwrap();
        let f = epochs(&t);
        assert!(
            f[0] == e[0] && f[1] > e[1] && f[2] == e[2],
            "{e:?} -> {f:?}"
        );
        // The system gateway always exists.
        route_add(&dir, &t, "g2", typed("0.0.0.0/0"), typed("igw"), None).unwrap();
        let g = epochs(&t);
        assert!(
            g[0] == e[0] && g[1] == f[1] && g[2] > f[1],
            "{f:?} -> {g:?}"
        );
        assert_eq!(igw_list(&dir, &t.current())[0].ports, strings(&["g1"]));
        refused(&t, "has a route to igw:5", || igw_delete(&dir, &t, 5));
        route_del(&dir, &t, "g1", typed("0.0.0.0/0"), None).unwrap();
        let h = epochs(&t);
        assert!(
            h[0] == e[0] && h[1] > g[2] && h[2] == g[2],
            "{g:?} -> {h:?}"
        );
        moves(&t, &[], || igw_delete(&dir, &t, 5));
    }

    #[test]
    fn external_ips_update_only_their_port() {
        let (dir, t) = setup();
        pool_create(
            &dir,
            &t,
            "ext",
            &typed_all(&["192.168.0.0/24", "fd00:ee::/64"]),
        )
        .unwrap();
        pool_create(&dir, &t, "snat", &typed_all(&["10.77.77.0/24"])).unwrap();
        igw_create(&dir, &t, 4, None).unwrap();
        route_add(&dir, &t, "g0", typed("0.0.0.0/0"), typed("igw:4"), None).unwrap();
        route_add(&dir, &t, "g2", typed("0.0.0.0/0"), typed("igw:4"), None).unwrap();
        let mut a = ext("g0");
        a.floating = vec![ip("192.168.0.2"), ip("fd00:ee::2")];
        a.ephemeral = Some(ip("192.168.0.1"));
        a.snat = snat("10.77.77.13", 1024, 2047);
        a.igw_map = Some(BTreeMap::from([(
            ip("192.168.0.2"),
            vec![GatewayRef::Named("system".into()), GatewayRef::Id(4)],
        )]));
        moves(&t, &[0], || external_set(&dir, &t, &a));
        // The SNAT address is shared, with another port range.
        let mut b = ext("g1");
        b.snat = snat("10.77.77.13", 2048, 4095);
        moves(&t, &[1], || external_set(&dir, &t, &b));
        let s = t.current();
        assert_eq!(s.vpc.owners.one_to_one(ip("192.168.0.2")), Some(0));
        assert_eq!(s.vpc.owners.one_to_one(ip("fd00:ee::2")), Some(0));
        assert_eq!(s.vpc.owners.snat_owner(ip("10.77.77.13"), 1500), Some(0));
        assert_eq!(s.vpc.owners.snat_owner(ip("10.77.77.13"), 3000), Some(1));
        let v0 = s.vpc.vnic(0).unwrap();
        assert!(v0.external_ips.mapped_to(ip("192.168.0.2"), Some(4)));
        assert!(v0.external_ips.mapped_to(ip("192.168.0.2"), None));
        assert!(!v0.external_ips.mapped_to(ip("192.168.0.1"), Some(4)));
        let list = external_list(&dir, &s);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0], a, "external-list shows what external-set set");
        assert_eq!(list[1], b);
        assert_eq!(list[2], ext("g2"));
        assert_eq!(pool_list(&dir, &s)[0].ports, strings(&["g0"]));
        assert_eq!(pool_list(&dir, &s)[1].ports, strings(&["g0", "g1"]));
        // Replacing and clearing: that port only, owners rebuilt.
        a.floating = vec![ip("192.168.0.3")];
        a.igw_map = None;
        moves(&t, &[0], || external_set(&dir, &t, &a));
        assert_eq!(t.current().vpc.owners.one_to_one(ip("192.168.0.2")), None);
        assert_eq!(
            t.current().vpc.owners.one_to_one(ip("192.168.0.3")),
            Some(0)
        );
        moves(&t, &[0], || external_clear(&dir, &t, "g0"));
        assert!(t.current().vpc.owners.owners(ip("192.168.0.3")).is_empty());
        assert_eq!(
            t.current().vpc.owners.snat_owner(ip("10.77.77.13"), 3000),
            Some(1)
        );
        // Clearing what is already clear publishes nothing.
        let gen = t.current().generation;
        assert_eq!(
            external_clear(&dir, &t, "g0"),
            Ok(Reply::Updated {
                generation: gen,
                updated_ports: vec![]
            })
        );
        assert_eq!(t.current().generation, gen);
    }

    #[test]
    fn v2b_changes_update_the_ports_with_a_gateway_route() {
        let (dir, t) = setup();
        igw_create(&dir, &t, 1, None).unwrap();
        route_add(&dir, &t, "g0", typed("1.1.1.0/24"), typed("igw:1"), None).unwrap();
        route_add(
            &dir,
            &t,
            "g1",
            typed("10.0.0.0/8"),
            typed("subnet:10.0.0.0/8"),
            None,
        )
        .unwrap();
        route_add(&dir, &t, "g2", typed("0.0.0.0/0"), typed("igw"), None).unwrap();
        let b1: std::net::Ipv6Addr = "fd00:99::1".parse().unwrap();
        let b2: std::net::Ipv6Addr = "fd00:99::2".parse().unwrap();
        moves(&t, &[0, 2], || {
            v2b_set(&dir, &t, typed("0.0.0.0/0"), &[b1, b2])
        });
        moves(&t, &[0, 2], || {
            v2b_set(&dir, &t, typed("8.8.8.0/24"), &[b2])
        });
        assert_eq!(
            v2b_list(&t.current()),
            vec![
                V2bEntry {
                    prefix: typed("0.0.0.0/0"),
                    endpoints: vec![b1, b2]
                },
                V2bEntry {
                    prefix: typed("8.8.8.0/24"),
                    endpoints: vec![b2]
                },
            ]
        );
        assert_eq!(t.current().vpc.v2b.lookup(ip("8.8.8.8"), 0), Some(b2));
        moves(&t, &[0, 2], || v2b_clear(&dir, &t, typed("8.8.8.0/24")));
        assert_eq!(v2b_list(&t.current()).len(), 1);
    }

    #[test]
    fn bad_pool_and_gateway_requests_are_refused_whole() {
        let (dir, t) = setup();
        pool_create(
            &dir,
            &t,
            "a",
            &typed_all(&["192.168.0.0/24", "10.0.0.0-10.0.0.9"]),
        )
        .unwrap();
        pool_create(&dir, &t, "b", &typed_all(&["10.0.0.10-10.0.0.19"])).unwrap();
        refused(&t, "pool \"a\" already exists", || {
            pool_create(&dir, &t, "a", &typed_all(&["172.16.0.1"]))
        });
        refused(
            &t,
            "overlaps range 192.168.0.0-192.168.0.255 of pool \"a\"",
            || {
                pool_create(
                    &dir,
                    &t,
                    "c",
                    &typed_all(&["172.16.0.1", "192.168.0.200-192.168.1.5"]),
                )
            },
        );
        refused(&t, "of the same pool", || {
            pool_create(&dir, &t, "c", &typed_all(&["172.16.0.0/24", "172.16.0.9"]))
        });
        refused(&t, "at least one range", || pool_create(&dir, &t, "c", &[]));
        refused(&t, "non-empty", || {
            pool_create(&dir, &t, "", &typed_all(&["172.16.0.1"]))
        });
        refused(&t, "unknown pool \"z\"", || pool_delete(&dir, &t, "z"));

        igw_create(&dir, &t, 1, None).unwrap();
        refused(&t, "igw:1 already exists", || igw_create(&dir, &t, 1, None));
        refused(&t, "unknown gateway igw:9", || igw_delete(&dir, &t, 9));
        refused(&t, "exactly one of pool, range", || {
            igw_assign(&dir, &t, 1, None, None)
        });
        refused(&t, "exactly one of pool, range", || {
            igw_assign(&dir, &t, 1, Some("a"), Some(typed("10.0.0.1")))
        });
        refused(&t, "unknown gateway igw:9", || {
            igw_assign(&dir, &t, 9, Some("a"), None)
        });
        refused(&t, "unknown pool \"z\"", || {
            igw_assign(&dir, &t, 1, Some("z"), None)
        });
        refused(&t, "not inside one pool", || {
            igw_assign(&dir, &t, 1, None, Some(typed("172.16.0.1")))
        });
        // 10.0.0.5-10.0.0.15 spans pools a and b.
        refused(&t, "not inside one pool", || {
            igw_assign(&dir, &t, 1, None, Some(typed("10.0.0.5-10.0.0.15")))
        });
        igw_assign(&dir, &t, 1, None, Some(typed("192.168.0.0/25"))).unwrap();
        refused(
            &t,
            "overlaps range:192.168.0.0-192.168.0.127, already assigned to igw:1",
            || {
                igw_assign(
                    &dir,
                    &t,
                    1,
                    None,
                    Some(typed("192.168.0.100-192.168.0.130")),
                )
            },
        );
        refused(&t, "already assigned to igw:1", || {
            igw_assign(&dir, &t, 1, Some("a"), None)
        });
        refused(&t, "already assigned to igw:1", || {
            igw_assign(&dir, &t, 1, None, Some(typed("192.168.0.0/25")))
        });
        refused(
            &t,
            "range:192.168.0.0-192.168.0.255 is not assigned to igw:1",
            || igw_unassign(&dir, &t, 1, None, Some(typed("192.168.0.0/24"))),
        );
        refused(&t, "unknown gateway igw:9", || {
            igw_unassign(&dir, &t, 9, Some("a"), None)
        });
        // A pool a gateway has (even by a range) cannot go.
        refused(&t, "assigned to igw:1", || pool_delete(&dir, &t, "a"));
        igw_assign(&dir, &t, 1, Some("b"), None).unwrap();
        refused(&t, "assigned to igw:1 (pool:b)", || {
            pool_delete(&dir, &t, "b")
        });
        refused(&t, "host bits", || {
            v2b_set(&dir, &t, typed("8.8.8.8/24"), &["fd00::1".parse().unwrap()])
        });
        refused(&t, "at least one boundary endpoint", || {
            v2b_set(&dir, &t, typed("8.8.8.0/24"), &[])
        });
        refused(&t, "given twice", || {
            v2b_set(
                &dir,
                &t,
                typed("8.8.8.0/24"),
                &["fd00::1".parse().unwrap(), "fd00::1".parse().unwrap()],
            )
        });
        refused(&t, "cannot be a boundary", || {
            v2b_set(&dir, &t, typed("8.8.8.0/24"), &["::".parse().unwrap()])
        });
        refused(&t, "host bits", || v2b_clear(&dir, &t, typed("8.8.8.8/24")));
        refused(&t, "no V2B entry for 8.8.8.0/24", || {
            v2b_clear(&dir, &t, typed("8.8.8.0/24"))
        });
    }

    /// Ranges and prefixes that do not parse are refused where the request
    /// is read, with the type's message.
    #[test]
    fn bad_ranges_and_prefixes_are_refused_when_the_request_is_read() {
        use vswitch_api::Request;
        for (fields, want) in [
            (
                r#""command":"pool-create","name":"c","ranges":["172.16.0.1","172.16.0.9-172.16.0.1"]"#,
                r#"range "172.16.0.9-172.16.0.1" ends before it starts"#,
            ),
            (
                r#""command":"pool-create","name":"c","ranges":["172.16.0.1/24"]"#,
                r#"range "172.16.0.1/24" has host bits set (did you mean 172.16.0.0/24?)"#,
            ),
            (
                r#""command":"igw-assign","id":1,"range":"10.0.0.1-fd00::1""#,
                r#"range "10.0.0.1-fd00::1" mixes IPv4 and IPv6"#,
            ),
            (
                r#""command":"v2b-clear","prefix":"8.8.8.8""#,
                r#""8.8.8.8" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)"#,
            ),
        ] {
            let line = format!(r#"{{"version":2,{fields}}}"#);
            let e = serde_json::from_str::<Request>(&line)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{line}: {e}");
        }
    }

    #[test]
    fn bad_external_ips_are_refused_whole() {
        let (dir, t) = setup();
        pool_create(
            &dir,
            &t,
            "ext",
            &typed_all(&["192.168.0.0/24", "10.77.77.0/24"]),
        )
        .unwrap();
        igw_create(&dir, &t, 1, None).unwrap();
        route_add(&dir, &t, "g0", typed("0.0.0.0/0"), typed("igw:1"), None).unwrap();
        let mut held = ext("g1");
        held.floating = vec![ip("192.168.0.2")];
        held.ephemeral = Some(ip("192.168.0.1"));
        held.snat = snat("10.77.77.13", 1024, 2047);
        held.igw_map = Some(BTreeMap::from([(
            ip("192.168.0.2"),
            vec![GatewayRef::Named("1".into())],
        )]));
        external_set(&dir, &t, &held).unwrap();
        let before = t.current().vpc.vnic(0).unwrap().external_ips.clone();

        let with = |f: &dyn Fn(&mut ExternalIpsSpec)| {
            let mut r = ext("g0");
            f(&mut r);
            r
        };
        let cases: Vec<(ExternalIpsSpec, &str)> = vec![
            (
                with(&|r| r.floating = vec![ip("203.0.113.9")]),
                "203.0.113.9 (floating) is an IP outside every pool",
            ),
            (
                with(&|r| r.ephemeral = Some(ip("2001:db8::1"))),
                "IP outside every pool",
            ),
            (
                with(&|r| r.snat = snat("203.0.113.9", 1, 10)),
                "IP outside every pool",
            ),
            (
                with(&|r| r.floating = vec![ip("192.168.0.2")]),
                "192.168.0.2 (floating) is already held by port \"g1\"",
            ),
            (
                with(&|r| r.ephemeral = Some(ip("192.168.0.1"))),
                "already held by port \"g1\"",
            ),
            (
                with(&|r| r.floating = vec![ip("10.77.77.13")]),
                "10.77.77.13 (floating) is already held by port \"g1\"",
            ),
            (
                with(&|r| r.snat = snat("192.168.0.1", 1, 100)),
                "SNAT address 192.168.0.1 is a 1:1 address",
            ),
            (
                with(&|r| r.snat = snat("10.77.77.13", 2000, 3000)),
                "SNAT ports 2000-3000 on 10.77.77.13 overlap ports 1024-2047 of port \"g1\"",
            ),
            (
                with(&|r| r.snat = snat("10.77.77.14", 0, 10)),
                "first_port must be at least 1",
            ),
            (
                with(&|r| r.snat = snat("10.77.77.14", 20, 10)),
                "not above last_port",
            ),
            (
                with(&|r| r.floating = vec![ip("192.168.0.9"), ip("192.168.0.9")]),
                "given twice",
            ),
            (
                with(&|r| {
                    r.ephemeral = Some(ip("192.168.0.9"));
                    r.snat = snat("192.168.0.9", 1, 10);
                }),
                "given twice (as ephemeral and as snat)",
            ),
            (
                with(&|r| {
                    r.floating = vec![ip("192.168.0.9")];
                    r.igw_map = Some(BTreeMap::from([(
                        ip("192.168.0.8"),
                        vec![GatewayRef::Id(1)],
                    )]));
                }),
                "igw_map key 192.168.0.8 is not one of this port's external IPs",
            ),
            (
                with(&|r| {
                    r.floating = vec![ip("192.168.0.9")];
                    r.igw_map = Some(BTreeMap::from([(
                        ip("192.168.0.9"),
                        vec![GatewayRef::Id(7)],
                    )]));
                }),
                "unknown gateway igw:7",
            ),
            (
                with(&|r| {
                    r.floating = vec![ip("192.168.0.9")];
                    r.igw_map = Some(BTreeMap::from([(
                        ip("192.168.0.9"),
                        vec![GatewayRef::Named("default".into())],
                    )]));
                }),
                "unknown gateway \"default\"",
            ),
            (
                with(&|r| r.floating = vec![ip("0.0.0.0")]),
                "cannot be an external address",
            ),
        ];
        for (req, want) in &cases {
            refused(&t, want, || external_set(&dir, &t, req));
        }
        refused(&t, "not a guest port", || {
            external_set(&dir, &t, &ext("up"))
        });
        refused(&t, "unknown port \"zz\"", || {
            external_set(&dir, &t, &ext("zz"))
        });
        refused(&t, "unknown port \"zz\"", || external_clear(&dir, &t, "zz"));
        assert_eq!(t.current().vpc.vnic(0).unwrap().external_ips, before);
        // What is in use cannot go.
        refused(
            &t,
            "holds 192.168.0.2, an external IP of port \"g1\"",
            || pool_delete(&dir, &t, "ext"),
        );
        refused(&t, "g0\" has a route to igw:1", || igw_delete(&dir, &t, 1));
        route_del(&dir, &t, "g0", typed("0.0.0.0/0"), None).unwrap();
        refused(&t, "maps its external IP 192.168.0.2 to igw:1", || {
            igw_delete(&dir, &t, 1)
        });
        // A port without a VNIC has no external IPs.
        crate::control::vpc::vnic_delete(&dir, &t, "g2").unwrap();
        let gen = t.current().generation;
        let e = external_set(&dir, &t, &ext("g2")).unwrap_err();
        assert!(e.contains("has no VNIC"), "{e}");
        assert!(external_clear(&dir, &t, "g2")
            .unwrap_err()
            .contains("has no VNIC"));
        assert_eq!(t.current().generation, gen);
    }

    #[test]
    fn requests_parse_from_socket_lines() {
        use vswitch_api::{Command, Request};
        let c = serde_json::from_str::<Request>(
            r#"{"version":1,"command":"external-set","port":"g0","floating":["192.168.0.2"],
                "snat":{"ip":"10.77.77.13","first_port":1025,"last_port":4096},
                "igw_map":{"192.168.0.2":["system",4,"1"]}}"#,
        )
        .map(|r| r.command)
        .unwrap();
        let Command::ExternalSet(spec) = c else {
            panic!("{c:?}")
        };
        let (dir, t) = setup();
        pool_create(
            &dir,
            &t,
            "p",
            &typed_all(&["192.168.0.0/24", "10.77.77.0/24"]),
        )
        .unwrap();
        igw_create(&dir, &t, 1, None).unwrap();
        igw_create(&dir, &t, 4, None).unwrap();
        external_set(&dir, &t, &spec).unwrap();
        let s = t.current();
        let e = &s.vpc.vnic(0).unwrap().external_ips;
        for tag in [None, Some(1), Some(4)] {
            assert!(e.mapped_to(ip("192.168.0.2"), tag), "{tag:?}");
        }
    }

    /// docs/VPC-MODEL.md's reference case (OPTE's `select_eip_conditioned_on_igw`),
    /// configured through the commands: each destination gets its exact
    /// source, and IGW C (no IPs) is a drop.
    #[test]
    fn reference_case_configured_through_the_commands() {
        let (dir, t) = setup();
        pool_create(&dir, &t, "ext", &typed_all(&["192.168.0.0/24"])).unwrap();
        pool_create(&dir, &t, "snat", &typed_all(&["10.77.77.0/24"])).unwrap();
        let (a, b, c, d) = (1, 2, 3, 4);
        for id in [a, b, c, d] {
            igw_create(&dir, &t, id, None).unwrap();
        }
        igw_assign(&dir, &t, a, None, Some(typed("192.168.0.2-192.168.0.3"))).unwrap();
        igw_assign(&dir, &t, b, None, Some(typed("192.168.0.4"))).unwrap();
        igw_assign(&dir, &t, d, Some("ext"), None).unwrap();
        igw_assign(&dir, &t, d, Some("snat"), None).unwrap();
        for (dest, target) in [
            ("0.0.0.0/0", "igw"),
            ("1.1.1.0/24", "igw:1"),
            ("2.2.2.0/24", "igw:2"),
            ("3.3.3.0/24", "igw:3"),
            ("4.4.4.0/24", "igw:4"),
        ] {
            route_add(&dir, &t, "g0", typed(dest), typed(target), None).unwrap();
        }
        let g = |v: &[GatewayRef]| v.to_vec();
        let (sys, id) = (GatewayRef::Named("system".into()), GatewayRef::Id);
        let mut r = ext("g0");
        r.floating = vec![ip("192.168.0.2"), ip("192.168.0.3"), ip("192.168.0.4")];
        r.ephemeral = Some(ip("192.168.0.1"));
        r.snat = snat("10.77.77.13", 1025, 4096);
        r.igw_map = Some(BTreeMap::from([
            (ip("192.168.0.1"), g(&[sys, id(d)])),
            (ip("192.168.0.2"), g(&[id(a), id(d)])),
            (ip("192.168.0.3"), g(&[id(a), id(d)])),
            (ip("192.168.0.4"), g(&[id(b), id(d)])),
        ]));
        moves(&t, &[0], || external_set(&dir, &t, &r));
        let s = t.current();
        let v = s.vpc.vnic(0).unwrap();
        let source = |dst: &str, hash: u32| {
            let dst = ip(dst);
            let tag = match v.router.lookup(dst).map(|e| &e.target) {
                Some(RouterTarget::InternetGateway(tag)) => *tag,
                other => panic!("{dst} routes to {other:?}"),
            };
            select_source(&v.external_ips, &s.vpc.igws, tag, dst, hash)
        };
        assert_eq!(
            source("77.77.77.77", 0),
            Some(NatSource::Ephemeral(ip("192.168.0.1")))
        );
        for h in 0..8 {
            let got = source("1.1.1.1", h).map(|x| x.ip());
            assert!(
                matches!(got, Some(a) if a == ip("192.168.0.2") || a == ip("192.168.0.3")),
                "{got:?}"
            );
            assert_eq!(
                source("2.2.2.1", h),
                Some(NatSource::Floating(ip("192.168.0.4")))
            );
            assert!(matches!(source("4.4.4.1", h), Some(NatSource::Floating(_))));
        }
        assert_eq!(
            source("3.3.3.1", 0),
            None,
            "IGW C has no usable source: drop"
        );
    }
}
