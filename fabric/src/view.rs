//! What one switch of the fleet is told: the fleet-owned parts of its state
//! document, read from a copy of the fleet's keys, and merged with what
//! stays its own (ports, patches, the external port, the uplink).
//!
//! A sled gets its underlay address and endpoint addresses, the instances
//! placed on it and their NICs, the V2P entries of the VNIs those NICs are
//! in, the instance types, pools, gateways and V2B. A boundary gets its
//! underlay address and the boundary map. Every value is checked as it is
//! read: a key that does not parse refuses the whole view, naming the key,
//! and the switch keeps what it runs.

use crate::keys;
use crate::migration::{
    FleetMigration, FlowsIndex, MigrationImport, MigrationPhase, MigrationWork,
};
use crate::pods;
use crate::records::{FleetBoundary, FleetInstance, FleetV2p};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use vswitch_api::state::{
    FleetStamp, IgwState, InstanceState, InstanceTypeState, NicState, PoolState, SwitchState,
    UnderlayState, V2pMap, V2pTarget,
};
use vswitch_api::{BoundaryMapEntry, MacAddr, V2bEntry, Vni};

/// A copy of the fleet's keys and values (what a switch mirrors from etcd).
pub type Mirror = BTreeMap<String, Vec<u8>>;

/// The fleet-owned parts of one switch's state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FleetParts {
    /// The sled's own underlay address.
    pub underlay: Ipv6Addr,
    /// Endpoint addresses allocated on the sled.
    pub endpoints: Vec<Ipv6Addr>,
    /// Instance types.
    pub instance_types: Vec<InstanceTypeState>,
    /// The instances placed on the sled.
    pub instances: Vec<InstanceState>,
    /// Their NICs, by id.
    pub nics: Vec<Arc<NicState>>,
    /// V2P of the VNIs the NICs are in.
    pub v2p: V2pMap,
    /// Address pools.
    pub pools: Vec<PoolState>,
    /// Internet gateways.
    pub igws: Vec<IgwState>,
    /// External prefixes -> boundaries.
    pub v2b: Vec<V2bEntry>,
    /// Boundary role: external IP -> endpoint.
    pub boundary_map: Vec<BoundaryMapEntry>,
    /// Boundary role: links to other pods' boundaries whose bridge network
    /// is allocated.
    pub bridge_links: Vec<vswitch_api::state::BridgeLinkState>,
    /// Boundary role: the pod's static NAT.
    pub static_nat: Vec<vswitch_api::state::StaticNatEntry>,
    /// What the migrations under way ask of this switch.
    pub migrations: MigrationWork,
}

/// What stays the switch's own in fleet mode: where its underlay leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUnderlay {
    /// The uplink port's name.
    pub uplink: String,
    /// The underlay next hop's MAC.
    pub nexthop_mac: MacAddr,
}

#[derive(Deserialize)]
struct SledAddr {
    underlay: Ipv6Addr,
}

#[derive(Deserialize)]
struct EndpointAddr {
    addr: Ipv6Addr,
}

fn under<'a>(m: &'a Mirror, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a Vec<u8>)> {
    m.range(prefix.to_string()..)
        .take_while(move |(k, _)| k.starts_with(prefix))
}

fn parse<T: DeserializeOwned>(key: &str, v: &[u8], errors: &mut Vec<String>) -> Option<T> {
    match serde_json::from_slice(v) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(format!("{key}: {e}"));
            None
        }
    }
}

fn all<T: DeserializeOwned>(m: &Mirror, prefix: &str, errors: &mut Vec<String>) -> Vec<T> {
    under(m, prefix)
        .filter_map(|(k, v)| parse(k, v, errors))
        .collect()
}

/// The boundary's parts: the map (in a pod, only the entries of the pod's
/// sleds' endpoints), and the pod's bridge links and static NAT.
fn read_boundary(m: &Mirror, me: &str, parts: &mut FleetParts, errors: &mut Vec<String>) {
    let map = all::<FleetBoundary>(m, &keys::boundary_maps(), errors);
    let pods = all::<pods::Pod>(m, &pods::pods(), errors);
    let Some(pod) = pods.iter().find(|p| p.boundary == me) else {
        // No pods: one boundary for the whole fleet.
        parts.boundary_map = map.into_iter().map(map_entry).collect();
        return;
    };
    // The endpoint addresses of the pod's sleds, from their records.
    let mut ours: BTreeSet<Ipv6Addr> = BTreeSet::new();
    for s in &pod.sleds {
        let prefix = keys::endpoints(s);
        for (k, _) in under(m, &prefix) {
            if let Some(a) = k.strip_prefix(&prefix).and_then(|a| a.parse().ok()) {
                ours.insert(a);
            }
        }
    }
    parts.boundary_map = map
        .into_iter()
        .filter(|b| ours.contains(&b.sled))
        .map(map_entry)
        .collect();
    for l in all::<pods::BridgeLinkRecord>(m, &pods::bridge_links(), errors) {
        let Some(end) = l.ends.iter().find(|e| e.pod == pod.name) else {
            continue;
        };
        let pair = pods::pair(&l.ends[0].pod, &l.ends[1].pod);
        let k = pods::bridge(&pair);
        let Some(b) = m.get(&k).and_then(|v| parse::<pods::Bridge>(&k, v, errors)) else {
            continue; // no bridge network yet: nothing crosses the link
        };
        parts
            .bridge_links
            .push(vswitch_api::state::BridgeLinkState {
                port: end.port.clone(),
                cidr: b.cidr,
                nexthop_mac: end.nexthop_mac,
                addr: b.boundary_addr(&pod.name),
            });
    }
    parts.static_nat = all::<pods::StaticNatRecord>(m, &pods::static_nats(&pod.name), errors)
        .into_iter()
        .map(|s| vswitch_api::state::StaticNatEntry {
            external: s.external,
            bridge: s.bridge,
        })
        .collect();
}

fn map_entry(b: FleetBoundary) -> BoundaryMapEntry {
    BoundaryMapEntry {
        ip: b.ip,
        sled: b.sled,
        ports: b.ports,
    }
}

/// Reads the fleet-owned parts of sled `sled`'s switch (of role `role`,
/// `sled` or `boundary`) from `m`; refused whole with every fault found.
pub fn read(m: &Mirror, sled: &str, role: &str) -> Result<FleetParts, Vec<String>> {
    let mut errors = Vec::new();
    let key = keys::sled(sled);
    let underlay = match m.get(&key) {
        Some(v) => parse::<SledAddr>(&key, v, &mut errors).map(|s| s.underlay),
        None => {
            errors.push(format!(
                "sled {sled:?} is not in the fleet (vswitch-fabric sled-add {sled})"
            ));
            None
        }
    };
    let mut parts = FleetParts {
        underlay: underlay.unwrap_or(Ipv6Addr::UNSPECIFIED),
        endpoints: Vec::new(),
        instance_types: Vec::new(),
        instances: Vec::new(),
        nics: Vec::new(),
        v2p: V2pMap::default(),
        pools: Vec::new(),
        igws: Vec::new(),
        v2b: Vec::new(),
        boundary_map: Vec::new(),
        bridge_links: Vec::new(),
        static_nat: Vec::new(),
        migrations: MigrationWork::default(),
    };
    if role == "boundary" {
        read_boundary(m, sled, &mut parts, &mut errors);
    } else {
        read_sled(m, sled, &mut parts, &mut errors);
    }
    if errors.is_empty() {
        Ok(parts)
    } else {
        Err(errors)
    }
}

fn read_sled(m: &Mirror, sled: &str, parts: &mut FleetParts, errors: &mut Vec<String>) {
    parts.endpoints = all::<EndpointAddr>(m, &keys::endpoints(sled), errors)
        .into_iter()
        .map(|e| e.addr)
        .collect();
    parts.instance_types = all(m, &keys::instance_types(), errors);
    let migrations: BTreeMap<String, FleetMigration> =
        all::<FleetMigration>(m, &keys::migrations(), errors)
            .into_iter()
            .map(|g| (g.instance.clone(), g))
            .collect();
    // An instance migrating here runs here too until the flip, on the
    // guest ports its record names.
    let arriving = |id: &str| {
        migrations
            .get(id)
            .filter(|g| g.to == sled && g.phase < MigrationPhase::Flipped)
    };
    let mine: BTreeSet<String> = all::<FleetInstance>(m, &keys::instances(), errors)
        .into_iter()
        .filter(|i| i.sled == sled || arriving(&i.id).is_some())
        .map(|i| {
            parts.instances.push(i.state());
            i.id
        })
        .collect();
    let mut nics: Vec<NicState> = all::<NicState>(m, &keys::nics(), errors)
        .into_iter()
        .filter(|n| {
            n.attachment
                .as_ref()
                .is_some_and(|a| mine.contains(&a.instance))
        })
        .map(|mut n| {
            let id = n.nic.id;
            if let Some(a) = n.attachment.as_mut() {
                if let Some(p) = arriving(&a.instance).and_then(|g| g.ports.get(&id)) {
                    a.port = Some(p.clone());
                }
            }
            n
        })
        .collect();
    parts.migrations = migration_work(m, sled, &migrations, &nics_of(m, errors), errors);
    nics.sort_by_key(|n| n.nic.id);
    let vnis: BTreeSet<Vni> = nics.iter().map(|n| n.nic.vni).collect();
    parts.nics = nics.into_iter().map(Arc::new).collect();
    for vni in vnis {
        let prefix = keys::v2p_vni(vni.get());
        for (k, v) in under(m, &prefix) {
            let ip = k[prefix.len()..].parse::<IpAddr>();
            let (Ok(ip), Some(t)) = (ip, parse::<FleetV2p>(k, v, errors)) else {
                if k[prefix.len()..].parse::<IpAddr>().is_err() {
                    errors.push(format!("{k}: the key does not end in an IP address"));
                }
                continue;
            };
            parts.v2p.set(
                vni,
                ip,
                V2pTarget {
                    mac: t.mac,
                    underlay: t.underlay,
                },
            );
        }
    }
    parts.pools = all(m, &keys::pools(), errors);
    let mut igws: Vec<IgwState> = all(m, &keys::gateways(), errors);
    igws.sort_by_key(|g| g.id);
    parts.igws = igws;
    parts.v2b = all(m, &keys::v2bs(), errors);
}

/// Every NIC's id by the instance it is attached to.
fn nics_of(m: &Mirror, errors: &mut Vec<String>) -> BTreeMap<String, Vec<u32>> {
    let mut by: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for n in all::<NicState>(m, &keys::nics(), errors) {
        if let Some(a) = &n.attachment {
            by.entry(a.instance.clone()).or_default().push(n.nic.id);
        }
    }
    by
}

/// What the migrations under way ask of sled `sled`'s switch.
fn migration_work(
    m: &Mirror,
    sled: &str,
    migrations: &BTreeMap<String, FleetMigration>,
    nics: &BTreeMap<String, Vec<u32>>,
    errors: &mut Vec<String>,
) -> MigrationWork {
    let mut work = MigrationWork::default();
    for g in migrations.values() {
        let ids = nics.get(&g.instance).cloned().unwrap_or_default();
        let exported = |nic: u32| {
            let k = format!("{}{nic}", keys::migration_flows(&g.instance));
            m.get(&k)
                .and_then(|v| parse::<FlowsIndex>(&k, v, &mut Vec::new()))
        };
        match g.phase {
            MigrationPhase::Exporting
                if g.from == sled && ids.iter().any(|n| exported(*n).is_none()) =>
            {
                work.export.push((g.identity(), g.instance.clone(), ids));
            }
            MigrationPhase::Exporting if g.to == sled => {
                if m.contains_key(&keys::migration_import(&g.instance)) {
                    continue;
                }
                let mut all_flows = Vec::new();
                for nic in &ids {
                    let Some(ix) = exported(*nic) else {
                        break;
                    };
                    // The count comes from etcd: bound it by the most an
                    // export can hold, so a corrupt index cannot make this
                    // loop run for billions of missing keys.
                    if ix.chunks as usize > crate::migration::MAX_CHUNKS {
                        errors.push(format!(
                            "{}{nic}: {} chunks, more than an export can have ({})",
                            keys::migration_flows(&g.instance),
                            ix.chunks,
                            crate::migration::MAX_CHUNKS
                        ));
                        break;
                    }
                    let mut x: Option<crate::migration::CarriedNicFlows> = None;
                    for k in 0..ix.chunks {
                        let key = keys::migration_flows_chunk(&g.instance, *nic, k);
                        let Some(c) = m.get(&key).and_then(|v| {
                            parse::<crate::migration::CarriedNicFlows>(&key, v, errors)
                        }) else {
                            continue;
                        };
                        match x.as_mut() {
                            Some(x) => x.flows.extend(c.flows),
                            None => x = Some(c),
                        }
                    }
                    if let Some(x) = x {
                        all_flows.push(x);
                    }
                }
                if all_flows.len() == ids.len() {
                    work.import.push(MigrationImport {
                        id: g.identity(),
                        instance: g.instance.clone(),
                        started_unix: g.started_unix,
                        exports: all_flows,
                    });
                }
            }
            MigrationPhase::Flipped if g.from == sled => {
                work.forward.push((g.old_endpoint, g.new_endpoint));
            }
            _ => {}
        }
    }
    work
}

/// The state a fleet-mode switch runs: `local` (what stays its own) with
/// the fleet-owned parts replaced by `parts`, stamped with the revision
/// they were read at. Tables equal to `local`'s are shared with it, so that
/// only what changed is compiled again.
pub fn merge(
    local: &SwitchState,
    parts: FleetParts,
    uplink: &LocalUnderlay,
    stamp: FleetStamp,
) -> SwitchState {
    let mut s = local.clone();
    s.underlay = Some(UnderlayState {
        addr: parts.underlay,
        uplink: uplink.uplink.clone(),
        nexthop_mac: uplink.nexthop_mac,
        endpoints: parts.endpoints,
        forward: parts
            .migrations
            .forward
            .iter()
            .map(|(from, to)| vswitch_api::state::UnderlayForward {
                from: *from,
                to: *to,
            })
            .collect(),
    });
    s.instance_types = parts.instance_types;
    s.instances = parts.instances;
    let old: BTreeMap<u32, &Arc<NicState>> = local.nics.iter().map(|n| (n.nic.id, n)).collect();
    s.nics = parts
        .nics
        .into_iter()
        .map(|n| match old.get(&n.nic.id) {
            Some(o) if ***o == *n => Arc::clone(o),
            _ => n,
        })
        .collect();
    let mut v2p = parts.v2p;
    v2p.share_with(&local.v2p);
    s.v2p = v2p;
    s.pools = parts.pools;
    s.igws = parts.igws;
    s.v2b = parts.v2b;
    s.boundary_map = parts.boundary_map;
    s.bridge_links = parts.bridge_links;
    s.static_nat = parts.static_nat;
    s.fleet = Some(stamp);
    s
}

/// Whether `a` and `b` differ only in what stays a switch's own in fleet
/// mode (ports, patches, the external port, the uplink and next hop): a
/// local `apply` must leave everything else as the fleet made it.
pub fn same_fleet_parts(a: &SwitchState, b: &SwitchState) -> bool {
    let u = |s: &SwitchState| {
        s.underlay
            .as_ref()
            .map(|u| (u.addr, u.endpoints.clone(), u.forward.clone()))
    };
    u(a) == u(b)
        && a.instance_types == b.instance_types
        && a.instances == b.instances
        && a.nics == b.nics
        && a.v2p == b.v2p
        && a.pools == b.pools
        && a.igws == b.igws
        && a.v2b == b.v2b
        && a.boundary_map == b.boundary_map
        && a.bridge_links == b.bridge_links
        && a.static_nat == b.static_nat
        && a.fleet == b.fleet
}

#[cfg(test)]
mod tests;
