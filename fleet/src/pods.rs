//! Pods, bridge networks and floating IP bindings across pods (README,
//! *Pods and bridge networks*; the keys are in `fabric/src/pods.rs`). Each
//! command is one etcd transaction comparing what it read, so two
//! controllers never hand out the same bridge network or address.

use crate::alloc::FleetError;
use crate::objects::{nic_put_txn, TxnParts};
use crate::store::Store;
use serde::Serialize;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use vswitch_api::state::{NicState, PoolState};
use vswitch_api::{MacAddr, Prefix};
use vswitch_fabric::keys;
use vswitch_fabric::pods::{
    self, Bridge, BridgeAddr, BridgeLinkRecord, BridgePool, FipBinding, LinkEnd, Pod,
    StaticNatRecord,
};
use vswitch_fabric::records::FleetInstance;

const RETRIES: usize = 64;

fn json<T: Serialize>(v: &T) -> Result<Value, FleetError> {
    serde_json::to_value(v).map_err(|e| FleetError::Etcd(e.to_string()))
}

fn refused(s: String) -> FleetError {
    FleetError::Refused(s)
}

/// `pod-set`: a pod with its boundary switch, sleds and external networks
/// (replacing what the pod had). Refused when a sled or an external
/// network is another pod's, or the boundary another pod's.
pub fn pod_set(store: &mut Store, pod: Pod) -> Result<Pod, FleetError> {
    for what in std::iter::once(&pod.name)
        .chain(std::iter::once(&pod.boundary))
        .chain(&pod.sleds)
    {
        if !keys::valid_segment(what) || what.contains(',') {
            return Err(refused(format!("{what:?}: not a valid name")));
        }
    }
    for p in &pod.external {
        if p.has_host_bits() {
            return Err(refused(format!("external network {p} has host bits set")));
        }
    }
    for _ in 0..RETRIES {
        let (at, all) = store.list_at::<Value>(&pods::pods())?;
        for (k, v) in all {
            let Ok(other) = serde_json::from_value::<Pod>(v) else {
                return Err(FleetError::Corrupt(k, "not a pod".into()));
            };
            if other.name == pod.name {
                continue;
            }
            if other.boundary == pod.boundary {
                return Err(refused(format!(
                    "boundary {} is pod {}'s",
                    pod.boundary, other.name
                )));
            }
            if let Some(s) = pod.sleds.iter().find(|s| other.sleds.contains(s)) {
                return Err(refused(format!("sled {s} is in pod {}", other.name)));
            }
            if let Some(n) = pod
                .external
                .iter()
                .find(|n| other.external.iter().any(|o| overlap(**n, *o)))
            {
                return Err(refused(format!(
                    "external network {n} overlaps pod {}'s",
                    other.name
                )));
            }
        }
        let puts = vec![(pods::pod(&pod.name), json(&pod)?)];
        if store.commit_unchanged(&[], &[(pods::pods(), at)], &puts, &[])? {
            return Ok(pod);
        }
    }
    Err(FleetError::Busy(format!("pod-set {}", pod.name)))
}

fn overlap(a: Prefix, b: Prefix) -> bool {
    pods::prefix_contains(a, b.addr()) || pods::prefix_contains(b, a.addr())
}

/// `bridge-pool-set`: the CIDR bridge networks are cut from and their
/// length. Refused once a bridge network is allocated outside the new pool.
pub fn bridge_pool_set(store: &mut Store, pool: BridgePool) -> Result<(), FleetError> {
    let IpAddr::V4(_) = pool.cidr.addr() else {
        return Err(refused(format!("{}: bridge networks are IPv4", pool.cidr)));
    };
    if pool.cidr.has_host_bits()
        || pool.len < pool.cidr.prefix_len()
        || !(8..=30).contains(&pool.len)
    {
        return Err(refused(format!(
            "bridge pool {} --len {}: a network without host bits, cut into networks of 8 to 30 bits no shorter than it",
            pool.cidr, pool.len
        )));
    }
    for (k, b) in store.list::<Bridge>(&pods::bridges())? {
        if !pods::prefix_contains(pool.cidr, b.cidr.addr()) || b.cidr.prefix_len() != pool.len {
            return Err(refused(format!(
                "{k} uses {}, outside the new pool: unbind its floating IPs first",
                b.cidr
            )));
        }
    }
    store.put(&pods::bridge_pool(), &pool)
}

/// `bridge-link-set`: the link between the boundaries of two pods: each
/// end's port (of role `bridge`) and next hop (the other end's MAC).
pub fn bridge_link_set(store: &mut Store, a: LinkEnd, b: LinkEnd) -> Result<String, FleetError> {
    if a.pod == b.pod {
        return Err(refused(format!(
            "a bridge link joins two pods, not {} to itself",
            a.pod
        )));
    }
    for e in [&a, &b] {
        if store.get::<Pod>(&pods::pod(&e.pod))?.is_none() {
            return Err(refused(format!(
                "there is no pod {:?} (pod-set first)",
                e.pod
            )));
        }
    }
    let pair = pods::pair(&a.pod, &b.pod);
    let ends = if a.pod < b.pod { [a, b] } else { [b, a] };
    store.put(&pods::bridge_link(&pair), &BridgeLinkRecord { ends })?;
    Ok(pair)
}

/// Where a NIC runs: its pod, and the NIC as etcd has it with its revision.
fn nic_and_pod(
    store: &mut Store,
    id: u32,
    all_pods: &[Pod],
) -> Result<(NicState, String), FleetError> {
    let nic = store
        .get::<NicState>(&keys::nic(id))?
        .ok_or_else(|| refused(format!("there is no NIC {id}")))?;
    let a = nic
        .attached()
        .ok_or_else(|| refused(format!("NIC {id} is not attached to an instance")))?;
    let inst = store
        .get::<FleetInstance>(&keys::instance(&a.instance))?
        .ok_or_else(|| refused(format!("instance {:?} is gone", a.instance)))?;
    let pod = all_pods
        .iter()
        .find(|p| p.sleds.contains(&inst.sled))
        .ok_or_else(|| refused(format!("sled {} is in no pod (pod-set first)", inst.sled)))?;
    Ok((nic, pod.name.clone()))
}

fn all_pods(store: &mut Store) -> Result<Vec<Pod>, FleetError> {
    Ok(store
        .list::<Pod>(&pods::pods())?
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

/// Refuses `ip` as a NIC's floating IP unless a pool of the fleet's tables
/// holds it (a sled refuses a NIC whose external IP is in no pool).
fn in_a_pool(store: &mut Store, ip: IpAddr, what: &str) -> Result<(), FleetError> {
    let pools = store.list::<PoolState>(&keys::pools())?;
    if pools.iter().any(|(_, p)| {
        p.ranges
            .iter()
            .any(|r| r.first() <= ip && ip <= r.last() && r.first().is_ipv4() == ip.is_ipv4())
    }) {
        Ok(())
    } else {
        Err(refused(format!(
            "{what} {ip} is in no pool of the fleet's tables (add its range to a pool: tables-set)"
        )))
    }
}

/// What `fip-bind` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bound {
    /// The binding.
    pub binding: FipBinding,
    /// Across pods: the bridge network.
    pub bridge_cidr: Option<Prefix>,
}

/// `fip-bind NIC FIP`: in the NIC's own pod, FIP becomes one of its
/// floating IPs; across pods, the NIC takes the lowest free address of the
/// pair's bridge network (allocated from the pool on first use) as its
/// floating IP and FIP's pod's boundary the static NAT FIP <-> that
/// address. One transaction either way.
pub fn fip_bind(store: &mut Store, id: u32, fip: IpAddr) -> Result<Bound, FleetError> {
    for _ in 0..RETRIES {
        let pods_now = all_pods(store)?;
        let (mut nic, nic_pod) = nic_and_pod(store, id, &pods_now)?;
        let fip_pod = pods_now
            .iter()
            .find(|p| p.owns(fip))
            .ok_or_else(|| refused(format!("{fip} is in no pod's external networks")))?
            .name
            .clone();
        let bk = pods::fip_binding(fip);
        let (cur, brev) = store.get_rev::<FipBinding>(&bk)?;
        if let Some(b) = cur {
            if b.nic == id {
                return Ok(Bound {
                    binding: b,
                    bridge_cidr: None,
                });
            }
            return Err(refused(format!("{fip} is bound to NIC {}", b.nic)));
        }
        let mut extra = TxnParts {
            guard: vec![(bk.clone(), brev)],
            ..TxnParts::default()
        };
        let (held, bridge, cidr) = if fip_pod == nic_pod {
            in_a_pool(store, fip, "floating IP")?;
            (fip, None, None)
        } else {
            let IpAddr::V4(fip4) = fip else {
                return Err(refused(format!(
                    "{fip}: floating IPs across pods are IPv4 (bridge networks are)"
                )));
            };
            // On pod B the address is the static NAT's alone: no NIC of
            // that pod may hold it (its boundary would refuse both).
            let mk = keys::boundary_map(fip);
            let (held_by, mrev) = store.get_rev::<Value>(&mk)?;
            let shared = store.list::<Value>(&keys::boundary_shares(fip))?;
            if held_by.is_some() || !shared.is_empty() {
                return Err(refused(format!("{fip} is held by a NIC of pod {fip_pod}")));
            }
            extra.guard.push((mk, mrev));
            let pair = pods::pair(&nic_pod, &fip_pod);
            if store
                .get::<BridgeLinkRecord>(&pods::bridge_link(&pair))?
                .is_none()
            {
                return Err(refused(format!(
                    "pods {nic_pod} and {fip_pod} have no bridge link (bridge-link-set first)"
                )));
            }
            let b = bridge_of(store, &pair, &mut extra)?;
            let ak = pods::bridge_addrs(&pair);
            let (at, used) = store.list_at::<BridgeAddr>(&ak)?;
            let addr = b
                .hosts()
                .find(|h| !used.iter().any(|(k, _)| *k == pods::bridge_addr(&pair, *h)))
                .ok_or_else(|| refused(format!("bridge {pair} ({}) is full", b.cidr)))?;
            in_a_pool(store, IpAddr::V4(addr), "bridge address")?;
            extra.unchanged.push((ak, at));
            extra.puts.push((
                pods::bridge_addr(&pair, addr),
                json(&BridgeAddr { nic: id, fip: fip4 })?,
            ));
            let sk = pods::static_nat(&fip_pod, fip4);
            let (_, srev) = store.get_rev::<Value>(&sk)?;
            extra.guard.push((sk.clone(), srev));
            extra.puts.push((
                sk,
                json(&StaticNatRecord {
                    external: fip4,
                    bridge: addr,
                })?,
            ));
            (IpAddr::V4(addr), Some((pair, addr)), Some(b.cidr))
        };
        let x = nic.external.get_or_insert_with(Default::default);
        if x.floating.contains(&held) {
            return Err(refused(format!("NIC {id} already holds {held}")));
        }
        x.floating.push(held);
        let binding = FipBinding {
            fip,
            nic: id,
            pod: fip_pod,
            bridge,
        };
        extra.puts.push((bk, json(&binding)?));
        let mut t = nic_put_txn(store, &nic)?;
        t.guard.extend(extra.guard);
        t.unchanged.extend(extra.unchanged);
        t.puts.extend(extra.puts);
        if store.commit_unchanged(&t.guard, &t.unchanged, &t.puts, &t.deletes)? {
            return Ok(Bound {
                binding,
                bridge_cidr: cidr,
            });
        }
    }
    Err(FleetError::Busy(format!("fip-bind {id} {fip}")))
}

/// The bridge of `pair`, or a new one (the pool's lowest free network),
/// whose creation `t` then carries.
fn bridge_of(store: &mut Store, pair: &str, t: &mut TxnParts) -> Result<Bridge, FleetError> {
    let k = pods::bridge(pair);
    let (cur, rev) = store.get_rev::<Bridge>(&k)?;
    if let Some(b) = cur {
        t.guard.push((k, rev));
        return Ok(b);
    }
    let pool = store
        .get::<BridgePool>(&pods::bridge_pool())?
        .ok_or_else(|| refused("there is no bridge pool (bridge-pool-set first)".into()))?;
    let (at, claims) = store.list_at::<Value>(&pods::bridge_cidrs())?;
    let cidr = (0..)
        .map_while(|n| pool.network(n))
        .find(|c| !claims.iter().any(|(k, _)| *k == pods::bridge_cidr(*c)))
        .ok_or_else(|| refused(format!("the bridge pool {} is used up", pool.cidr)))?;
    let (a, b) = pair
        .split_once(',')
        .ok_or_else(|| refused(format!("{pair:?} is not a pair")))?;
    let bridge = Bridge {
        pods: [a.to_string(), b.to_string()],
        cidr,
    };
    t.guard.push((k.clone(), 0));
    t.unchanged.push((pods::bridge_cidrs(), at));
    t.puts.push((k, json(&bridge)?));
    t.puts
        .push((pods::bridge_cidr(cidr), Value::String(pair.to_string())));
    Ok(bridge)
}

/// `fip-unbind NIC FIP`: the binding goes with the floating IP (or bridge
/// address) from the NIC, the static NAT from FIP's pod's boundary and the
/// bridge address; the bridge network too when no binding uses it any
/// more. One transaction.
pub fn fip_unbind(store: &mut Store, id: u32, fip: IpAddr) -> Result<FipBinding, FleetError> {
    for _ in 0..RETRIES {
        let bk = pods::fip_binding(fip);
        let (cur, brev) = store.get_rev::<FipBinding>(&bk)?;
        let b = cur
            .filter(|b| b.nic == id)
            .ok_or_else(|| refused(format!("{fip} is not bound to NIC {id}")))?;
        let mut nic = store
            .get::<NicState>(&keys::nic(id))?
            .ok_or_else(|| refused(format!("there is no NIC {id}")))?;
        let held = b.bridge.as_ref().map_or(fip, |(_, a)| IpAddr::V4(*a));
        if let Some(x) = nic.external.as_mut() {
            x.floating.retain(|f| *f != held);
        }
        let mut t = nic_put_txn(store, &nic)?;
        t.guard.push((bk.clone(), brev));
        t.deletes.push(bk);
        if let (Some((pair, addr)), IpAddr::V4(fip4)) = (&b.bridge, fip) {
            t.deletes.push(pods::static_nat(&b.pod, fip4));
            let ak = pods::bridge_addrs(pair);
            let (at, used) = store.list_at::<BridgeAddr>(&ak)?;
            t.unchanged.push((ak, at));
            t.deletes.push(pods::bridge_addr(pair, *addr));
            if used.len() <= 1 {
                let k = pods::bridge(pair);
                if let (Some(br), rev) = store.get_rev::<Bridge>(&k)? {
                    t.guard.push((k.clone(), rev));
                    t.deletes.push(k);
                    t.deletes.push(pods::bridge_cidr(br.cidr));
                }
            }
        }
        if store.commit_unchanged(&t.guard, &t.unchanged, &t.puts, &t.deletes)? {
            return Ok(b);
        }
    }
    Err(FleetError::Busy(format!("fip-unbind {id} {fip}")))
}

/// One bridge network as `bridge-list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeInfo {
    /// The pair of pods.
    pub pods: [String; 2],
    /// Its network.
    pub cidr: Prefix,
    /// The boundaries' own addresses (first pod, second pod).
    pub boundaries: [Option<Ipv4Addr>; 2],
    /// Bridge addresses in use: address, NIC, floating IP.
    pub addresses: Vec<(Ipv4Addr, u32, Ipv4Addr)>,
}

/// `bridge-list`: every bridge network with its addresses in use.
pub fn bridge_list(store: &mut Store) -> Result<Vec<BridgeInfo>, FleetError> {
    let mut out = Vec::new();
    for (_, b) in store.list::<Bridge>(&pods::bridges())? {
        let pair = pods::pair(&b.pods[0], &b.pods[1]);
        let prefix = pods::bridge_addrs(&pair);
        let addresses = store
            .list::<BridgeAddr>(&prefix)?
            .into_iter()
            .filter_map(|(k, a)| {
                let ip = k.strip_prefix(&prefix)?.parse().ok()?;
                Some((ip, a.nic, a.fip))
            })
            .collect();
        out.push(BridgeInfo {
            boundaries: [b.boundary_addr(&b.pods[0]), b.boundary_addr(&b.pods[1])],
            pods: b.pods.clone(),
            cidr: b.cidr,
            addresses,
        });
    }
    Ok(out)
}

/// A link end from the command line: POD, PORT and the next hop's MAC.
pub fn link_end(pod: &str, port: &str, mac: MacAddr) -> LinkEnd {
    LinkEnd {
        pod: pod.to_string(),
        port: port.to_string(),
        nexthop_mac: mac,
    }
}
