//! Builds the next snapshot from a checked state and the snapshot in force.
//!
//! A VNIC's epoch moves exactly when its compiled view changes: its own
//! document (addresses, routes, firewall, external IPs), the underlay, the
//! V2P map of its VNI, the sources of a gateway its routes name, or the V2B
//! table when it routes to any gateway. So the update rules of
//! docs/VPC-MODEL.md (*Update rules*) hold by construction: creating a
//! gateway moves no epoch (no route names it yet), a gateway's new range
//! moves exactly the VNICs routing through it. A VNIC whose view is
//! unchanged is the very `Arc` the workers already hold.

use crate::control::check::{source_ranges, Checked, CheckedVnic, ParsedVnic};
use crate::control::vpc::{guest_mtu, PortDirectory};
use crate::nat::igw::{IgwTable, IpRange};
use crate::router::RouterTable;
use crate::tables::Snapshot;
use crate::vnic::{LayerHits, Vnic};
use crate::vpc::VpcState;
use crate::PortIdx;
use hashbrown::HashMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use vswitch_api::state::{NicState, SwitchState};

/// A compiled state, not yet published.
pub(crate) struct Compiled {
    /// The next snapshot (its generation is set when it is published).
    pub snapshot: Snapshot,
    /// Guest ports whose VNIC's epoch moved (new, replaced or changed).
    pub moved: Vec<PortIdx>,
    /// Guest ports whose VNIC was created, replaced or removed: their flows
    /// from before belong to another tenant and are cleared.
    pub reborn: Vec<PortIdx>,
}

/// The addresses gateway `id` may use, as `t` resolves its sources.
fn resolved(t: &IgwTable, id: u32) -> Option<Vec<IpRange>> {
    t.igws.get(&id).map(|g| {
        let mut v: Vec<IpRange> = g
            .sources
            .iter()
            .flat_map(|s| source_ranges(&t.pools, s))
            .collect();
        v.sort_unstable();
        v
    })
}

/// Compiles `state` (checked as `c`) against the snapshot in force.
pub(crate) fn compile(
    dir: &PortDirectory,
    prev: &Snapshot,
    state: Arc<SwitchState>,
    c: Checked,
) -> Compiled {
    let old_state = &prev.state;
    let mut vpc = VpcState::new(prev.vpc.vnics.len().max(dir.names.len()));
    vpc.epochs = prev.vpc.epochs;

    // V2P: the maps of the VNIs the document still shares are the very ones
    // compiled before.
    let mut v2p = prev.vpc.v2p.clone();
    v2p.retain_vnis(|vni| {
        vswitch_api::Vni::try_from(vni).is_ok_and(|v| state.v2p.vni(v).is_some())
    });
    let mut v2p_moved: BTreeSet<u32> = BTreeSet::new();
    for (vni, map) in c.v2p {
        v2p.put_vni(vni, map);
        v2p_moved.insert(vni);
    }
    for (vni, _) in old_state.v2p.vnis() {
        if state.v2p.vni(vni).is_none() {
            v2p_moved.insert(vni.get());
        }
    }
    vpc.v2p = v2p;

    // A flow to an endpoint that became this sled's (or stopped being it)
    // is placed again, as when the underlay moves.
    let underlay_moved = c.underlay != prev.vpc.underlay || c.endpoints != *prev.vpc.endpoints;
    vpc.forwards = Arc::new(c.forwards);
    vpc.endpoints = if c.endpoints == *prev.vpc.endpoints {
        Arc::clone(&prev.vpc.endpoints)
    } else {
        Arc::new(c.endpoints)
    };
    let v2b_moved = c.v2b != *prev.vpc.v2b;
    let gateway_moved = |id: u32| resolved(&prev.vpc.igws, id) != resolved(&c.igws, id);
    vpc.underlay = c.underlay;

    let mut moved = Vec::new();
    let mut reborn = Vec::new();
    let mut by_vni_mac = HashMap::new();
    let old_docs: HashMap<&str, &NicState> = old_state
        .nics
        .iter()
        .filter_map(|v| Some((v.port()?, &**v)))
        .collect();
    // A NIC a route names moved when it became reachable or not, or
    // changed its addresses: the flows routed to it are recomputed.
    let nic_moved = |id: &u32| prev.vpc.nic_targets.get(id) != c.nic_targets.get(id);
    for (doc, cv) in c.vnics {
        let Some(port) = cv.port() else { continue };
        let old_doc = doc.port().and_then(|p| old_docs.get(p)).copied();
        let old = prev.vpc.vnic(port).filter(|_| old_doc.is_some());
        let view_moved = |gateways: &BTreeSet<Option<u32>>, vni: u32, router: &RouterTable| {
            underlay_moved
                || v2p_moved.contains(&vni)
                || (v2b_moved && !gateways.is_empty())
                || gateways.iter().flatten().any(|id| gateway_moved(*id))
                || router.nics_named().any(|id| nic_moved(&id))
        };
        let vnic = match cv {
            CheckedVnic::Kept(old, gateways) => {
                by_vni_mac.insert((old.spec.vni, old.spec.mac), port);
                if !view_moved(&gateways, old.spec.vni, &old.router) {
                    vpc.vnics[port as usize] = Some(old);
                    continue;
                }
                let (mtu, clamp_mtu) =
                    guest_mtu(dir, port, old.spec.dhcp.mtu, vpc.underlay.as_ref());
                let mut v = Vnic::clone(&old);
                v.epoch = vpc.next_epoch();
                v.mtu = mtu;
                v.clamp_mtu = clamp_mtu;
                v.hits = Arc::new(LayerHits::new(
                    &v.firewall,
                    &v.router,
                    Some(&old.hits),
                    true,
                ));
                v
            }
            CheckedVnic::Parsed(p) => {
                let ParsedVnic {
                    port,
                    spec,
                    flow_quota,
                    router,
                    firewall,
                    external_ips,
                    gateways,
                } = *p;
                let Some(port) = port else { continue };
                by_vni_mac.insert((spec.vni, spec.mac), port);
                let (mtu, clamp_mtu) = guest_mtu(dir, port, spec.dhcp.mtu, vpc.underlay.as_ref());
                match (old, old_doc) {
                    (Some(old), Some(old_doc)) if old_doc.nic == doc.nic => {
                        if old_doc == &*doc && !view_moved(&gateways, spec.vni, &router) {
                            vpc.vnics[port as usize] = Some(Arc::clone(old));
                            continue;
                        }
                        let keep_fw = old_doc.firewall == doc.firewall;
                        Vnic {
                            port,
                            epoch: vpc.next_epoch(),
                            birth: old.birth,
                            flow_quota,
                            mtu,
                            clamp_mtu,
                            hits: Arc::new(LayerHits::new(
                                &firewall,
                                &router,
                                Some(&old.hits),
                                keep_fw,
                            )),
                            spec,
                            router,
                            firewall,
                            external_ips,
                        }
                    }
                    _ => {
                        let epoch = vpc.next_epoch();
                        reborn.push(port);
                        Vnic {
                            port,
                            epoch,
                            birth: epoch,
                            flow_quota,
                            mtu,
                            clamp_mtu,
                            hits: Arc::new(LayerHits::new(&firewall, &router, None, false)),
                            spec,
                            router,
                            firewall,
                            external_ips,
                        }
                    }
                }
            }
        };
        moved.push(port);
        vpc.vnics[port as usize] = Some(Arc::new(vnic));
    }
    for old in prev.vpc.vnics.iter().flatten() {
        if vpc.vnic(old.port).is_none() {
            reborn.push(old.port);
        }
    }
    vpc.by_vni_mac = Arc::new(by_vni_mac);
    vpc.nic_targets = if c.nic_targets == *prev.vpc.nic_targets {
        Arc::clone(&prev.vpc.nic_targets)
    } else {
        Arc::new(c.nic_targets)
    };
    vpc.rebuild_owners();
    vpc.igws = if old_state.pools == state.pools && old_state.igws == state.igws {
        Arc::clone(&prev.vpc.igws)
    } else {
        Arc::new(c.igws)
    };
    vpc.v2b = if v2b_moved {
        Arc::new(c.v2b)
    } else {
        Arc::clone(&prev.vpc.v2b)
    };
    vpc.boundary_map = if old_state.boundary_map == state.boundary_map {
        Arc::clone(&prev.vpc.boundary_map)
    } else {
        Arc::new(c.boundary_map)
    };
    vpc.external_port = c.external_port;
    vpc.bridges = if *prev.vpc.bridges == c.bridges {
        Arc::clone(&prev.vpc.bridges)
    } else {
        Arc::new(c.bridges)
    };
    vpc.static_nat = if *prev.vpc.static_nat == c.static_nat {
        Arc::clone(&prev.vpc.static_nat)
    } else {
        Arc::new(c.static_nat)
    };
    moved.sort_unstable();
    reborn.sort_unstable();
    reborn.dedup();
    Compiled {
        snapshot: prev.next(c.patch, vpc, state),
        moved,
        reborn,
    }
}
