//! The fleet's VPC objects: instances (each with its endpoint address and
//! its name), NICs (each with the V2P entries of its addresses and the
//! boundary map entries of its external IPs, derived and written in the
//! same transaction), and the shared tables (instance types, pools,
//! gateways, V2B). Every change is one etcd transaction guarded by the
//! revisions of what it read: a controller that loses a race reads again.

use crate::alloc::{Endpoint, FleetError, Name, Sled};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use vswitch_api::nic::InstanceRun;
use vswitch_api::state::{IgwState, InstanceTypeState, NicState, PoolState};
use vswitch_api::{PortRangeSpec, V2bEntry};
use vswitch_fabric::endpoints::next_endpoint;
use vswitch_fabric::keys;
use vswitch_fabric::records::{FleetBoundary, FleetInstance, FleetV2p};

/// Attempts at a transaction before giving up.
const RETRIES: usize = 64;

fn json<T: Serialize>(v: &T) -> Result<Value, FleetError> {
    serde_json::to_value(v).map_err(|e| FleetError::Etcd(e.to_string()))
}

fn check_segment(what: &str, s: &str) -> Result<(), FleetError> {
    if keys::valid_segment(s) {
        Ok(())
    } else {
        Err(FleetError::Refused(format!(
            "{what} {s:?}: 1 to 63 ASCII letters, digits, '-' or '.'"
        )))
    }
}

/// `instance-create`: an instance on `sled`, with the lowest free endpoint
/// address of the sled and its id bound to it as a name, all in one
/// transaction.
pub fn instance_create(
    store: &mut Store,
    id: &str,
    sled: &str,
    instance_type: Option<String>,
) -> Result<FleetInstance, FleetError> {
    check_segment("instance", id)?;
    check_segment("sled", sled)?;
    let s: Sled = store
        .get(&keys::sled(sled))?
        .ok_or_else(|| FleetError::Refused(format!("unknown sled {sled:?} (sled-add first)")))?;
    if let Some(t) = &instance_type {
        if store
            .get::<InstanceTypeState>(&keys::instance_type(t))?
            .is_none()
        {
            return Err(FleetError::Refused(format!(
                "unknown instance type {t:?} (tables-set first)"
            )));
        }
    }
    for _ in 0..RETRIES {
        if store.get::<FleetInstance>(&keys::instance(id))?.is_some() {
            return Err(FleetError::Refused(format!("instance {id:?} exists")));
        }
        if let Some(n) = store.get::<Name>(&keys::name(id))? {
            return Err(FleetError::Refused(format!(
                "the name {id:?} is bound to {} already",
                n.addr
            )));
        }
        let used: BTreeSet<Ipv6Addr> = store
            .list::<Endpoint>(&keys::endpoints(sled))?
            .into_iter()
            .map(|(_, e)| e.addr)
            .collect();
        let addr = next_endpoint(s.prefix, &used)?;
        let inst = FleetInstance {
            id: id.to_string(),
            instance_type: instance_type.clone(),
            state: InstanceRun::Running,
            sled: sled.to_string(),
            endpoint: addr,
        };
        let ep = Endpoint {
            sled: sled.to_string(),
            addr,
            holder: id.to_string(),
        };
        let name = Name {
            name: id.to_string(),
            addr,
        };
        let (ki, ke, kn) = (
            keys::instance(id),
            keys::endpoint(sled, addr),
            keys::name(id),
        );
        let guard = [(ki.clone(), 0), (ke.clone(), 0), (kn.clone(), 0)];
        let puts = [(ki, json(&inst)?), (ke, json(&ep)?), (kn, json(&name)?)];
        if store.commit(&guard, &puts, &[])? {
            return Ok(inst);
        }
    }
    Err(FleetError::Busy(format!("instance-create {id}")))
}

/// The instances, by id.
pub fn instance_list(store: &mut Store) -> Result<Vec<FleetInstance>, FleetError> {
    Ok(store
        .list::<FleetInstance>(&keys::instances())?
        .into_iter()
        .map(|(_, i)| i)
        .collect())
}

/// The NICs, by id.
pub fn nic_list(store: &mut Store) -> Result<Vec<NicState>, FleetError> {
    let mut v: Vec<NicState> = store
        .list::<NicState>(&keys::nics())?
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    v.sort_by_key(|n| n.nic.id);
    Ok(v)
}

/// Keys with the address each is about.
type Keyed = Vec<(String, IpAddr)>;

/// A key and the revision a transaction expects it (or a prefix) at.
type Guard = (String, i64);

/// Boundary map keys with the address and, for a share of a SNAT address,
/// the ports.
type ExtKeyed = Vec<(String, IpAddr, Option<PortRangeSpec>)>;

/// The keys a NIC's derived entries live at: its V2P entries (if it is
/// attached) and its external IPs' boundary map entries: the whole address
/// for a floating or ephemeral IP, the NIC's port range of a SNAT address
/// (which NICs on several sleds share).
pub(crate) fn derived(nic: &NicState) -> (Keyed, ExtKeyed) {
    let n = &nic.nic;
    let mut v2p = Vec::new();
    if nic.attached().is_some() {
        let ips = n
            .ipv4
            .map(IpAddr::V4)
            .into_iter()
            .chain(n.ipv6.map(IpAddr::V6))
            .chain(n.secondary_ipv4.iter().map(|a| IpAddr::V4(*a)))
            .chain(n.secondary_ipv6.iter().map(|a| IpAddr::V6(*a)));
        v2p = ips.map(|ip| (keys::v2p(n.vni.get(), ip), ip)).collect();
    }
    let mut ext = Vec::new();
    if let (Some(x), Some(_)) = (&nic.external, nic.attached()) {
        let ips = x.floating.iter().copied().chain(x.ephemeral);
        ext = ips.map(|ip| (keys::boundary_map(ip), ip, None)).collect();
        if let Some(s) = &x.snat {
            if let Ok(p) = PortRangeSpec::new(s.first_port, s.last_port) {
                ext.push((
                    keys::boundary_share(s.ip, s.first_port, s.last_port),
                    s.ip,
                    Some(p),
                ));
            }
        }
    }
    (v2p, ext)
}

/// Refuses a boundary map entry of NIC `id` that collides with what is in
/// etcd: a whole address held by another NIC or shared by port range, a
/// SNAT share overlapping another NIC's, or a SNAT address that is another
/// NIC's floating or ephemeral IP. Returns the guards that make the
/// transaction fail if any of it changes meanwhile (the whole key by
/// revision, the shares under the address by a prefix compare).
fn check_external(
    store: &mut Store,
    id: u32,
    k: &str,
    ip: IpAddr,
    ports: Option<PortRangeSpec>,
) -> Result<(Guard, Guard), FleetError> {
    let refused = |what: String| FleetError::Refused(format!("nic {id}: {what}"));
    let whole = keys::boundary_map(ip);
    let (cur, rev) = store.get_rev::<FleetBoundary>(&whole)?;
    if let Some(c) = cur.filter(|c| c.nic != Some(id) || ports.is_some()) {
        return Err(refused(format!(
            "{ip} is {} whole",
            c.nic
                .map_or("written by hand".to_string(), |n| format!("NIC {n}'s"))
        )));
    }
    let (read_at, shares) = store.list_at::<FleetBoundary>(&keys::boundary_shares(ip))?;
    for (sk, s) in shares {
        if sk == k {
            if s.nic != Some(id) {
                return Err(refused(format!(
                    "{k} is {}",
                    s.nic
                        .map_or("written by hand".to_string(), |n| format!("NIC {n}'s"))
                )));
            }
            continue;
        }
        if s.nic == Some(id) {
            continue; // this NIC's former range, replaced
        }
        let Some(sp) = s.ports else { continue };
        match ports {
            None => {
                return Err(refused(format!(
                    "{ip} is a SNAT address shared by port range (NIC {}'s {sp}); \
                     a floating or ephemeral IP must be an address of its own",
                    s.nic.map_or("?".to_string(), |n| n.to_string())
                )))
            }
            Some(p) if p.first() <= sp.last() && sp.first() <= p.last() => {
                return Err(refused(format!(
                    "SNAT ports {ip} {p} overlap {sp}, NIC {}'s; NICs sharing a SNAT address need disjoint ranges",
                    s.nic.map_or("?".to_string(), |n| n.to_string())
                )))
            }
            Some(_) => {}
        }
    }
    Ok(((whole, rev), (keys::boundary_shares(ip), read_at)))
}

/// `nic-put`: writes a NIC (as the state document has it) with the V2P
/// entries of its addresses (target: its instance's endpoint) and the
/// boundary map entries of its external IPs, removing those of its former
/// addresses, in one transaction. Refused when an address is another NIC's.
pub fn nic_put(store: &mut Store, nic: NicState) -> Result<NicState, FleetError> {
    let id = nic.nic.id;
    for _ in 0..RETRIES {
        let t = nic_put_txn(store, &nic)?;
        if store.commit_unchanged(&t.guard, &t.unchanged, &t.puts, &t.deletes)? {
            return Ok(nic);
        }
    }
    Err(FleetError::Busy(format!("nic-put {id}")))
}

/// One transaction's parts: the keys it compares, the prefixes that must be
/// unchanged since a revision, what it puts and what it deletes.
#[derive(Debug, Default)]
pub(crate) struct TxnParts {
    pub guard: Vec<(String, i64)>,
    pub unchanged: Vec<(String, i64)>,
    pub puts: Vec<(String, Value)>,
    pub deletes: Vec<String>,
}

/// The transaction that writes `nic` with its derived entries, as read now
/// (see [`nic_put`]); others add to it to change more in the same step.
pub(crate) fn nic_put_txn(store: &mut Store, nic: &NicState) -> Result<TxnParts, FleetError> {
    let id = nic.nic.id;
    {
        let mut guard = Vec::new();
        let mut puts = Vec::new();
        let endpoint = match nic.attached() {
            Some(a) => {
                let k = keys::instance(&a.instance);
                let (inst, rev) = store.get_rev::<FleetInstance>(&k)?;
                let inst = inst.ok_or_else(|| {
                    FleetError::Refused(format!(
                        "nic {id}: attached to instance {:?}, which does not exist (instance-create first)",
                        a.instance
                    ))
                })?;
                guard.push((k, rev));
                Some(inst.endpoint)
            }
            None => None,
        };
        let nk = keys::nic(id);
        let (old, rev) = store.get_rev::<NicState>(&nk)?;
        guard.push((nk.clone(), rev));
        let (old_v2p, old_ext) = old.as_ref().map(derived).unwrap_or_default();
        let (v2p, ext) = derived(nic);
        let mut keep = BTreeSet::new();
        for (k, _) in &v2p {
            let (cur, rev) = store.get_rev::<FleetV2p>(k)?;
            if let Some(c) = cur.filter(|c| c.nic != Some(id)) {
                return Err(FleetError::Refused(format!(
                    "nic {id}: {k} is {}",
                    c.nic
                        .map_or("written by hand".to_string(), |n| format!("NIC {n}'s"))
                )));
            }
            guard.push((k.clone(), rev));
            keep.insert(k.clone());
        }
        let mut unchanged_since = Vec::new();
        for (k, ip, ports) in &ext {
            let (g, p) = check_external(store, id, k, *ip, *ports)?;
            if !guard.iter().any(|(k, _)| *k == g.0) {
                guard.push(g);
            }
            unchanged_since.push(p);
            keep.insert(k.clone());
        }
        puts.push((nk, json(nic)?));
        if let Some(ep) = endpoint {
            for (k, _) in &v2p {
                puts.push((
                    k.clone(),
                    json(&FleetV2p {
                        mac: nic.nic.mac,
                        underlay: ep,
                        nic: Some(id),
                    })?,
                ));
            }
            for (k, ip, ports) in &ext {
                puts.push((
                    k.clone(),
                    json(&FleetBoundary {
                        ip: *ip,
                        sled: ep,
                        ports: *ports,
                        nic: Some(id),
                    })?,
                ));
            }
        }
        let deletes: Vec<String> = old_v2p
            .into_iter()
            .map(|(k, _)| k)
            .chain(old_ext.into_iter().map(|(k, _, _)| k))
            .filter(|k| !keep.contains(k))
            .collect();
        Ok(TxnParts {
            guard,
            unchanged: unchanged_since,
            puts,
            deletes,
        })
    }
}

/// The keys of `nic` and of everything derived from it.
fn nic_keys(nic: &NicState) -> Vec<String> {
    let (v2p, ext) = derived(nic);
    std::iter::once(keys::nic(nic.nic.id))
        .chain(v2p.into_iter().map(|(k, _)| k))
        .chain(ext.into_iter().map(|(k, _, _)| k))
        .collect()
}

/// Refuses to delete NIC `id` while floating IPs are bound to it: their
/// bindings, bridge addresses and static NAT would outlive it.
fn refuse_if_bound(store: &mut Store, id: u32) -> Result<(), FleetError> {
    let bound: Vec<String> = store
        .list::<vswitch_fabric::pods::FipBinding>(&vswitch_fabric::pods::fip_bindings())?
        .into_iter()
        .filter(|(_, b)| b.nic == id)
        .map(|(_, b)| b.fip.to_string())
        .collect();
    if bound.is_empty() {
        Ok(())
    } else {
        Err(FleetError::Refused(format!(
            "NIC {id} holds floating IP bindings ({}): fip-unbind first",
            bound.join(", ")
        )))
    }
}

/// `nic-delete`: a NIC and its V2P and boundary map entries.
pub fn nic_delete(store: &mut Store, id: u32) -> Result<(), FleetError> {
    let k = keys::nic(id);
    refuse_if_bound(store, id)?;
    for _ in 0..RETRIES {
        let (nic, rev) = store.get_rev::<NicState>(&k)?;
        let nic = nic.ok_or_else(|| FleetError::Refused(format!("there is no NIC {id}")))?;
        if store.commit(&[(k.clone(), rev)], &[], &nic_keys(&nic))? {
            return Ok(());
        }
    }
    Err(FleetError::Busy(format!("nic-delete {id}")))
}

/// `instance-delete`: an instance, its NICs (with what they derive), its
/// endpoint address and its name, in one transaction.
pub fn instance_delete(store: &mut Store, id: &str) -> Result<(), FleetError> {
    check_segment("instance", id)?;
    let k = keys::instance(id);
    for _ in 0..RETRIES {
        let (inst, rev) = store.get_rev::<FleetInstance>(&k)?;
        let inst =
            inst.ok_or_else(|| FleetError::Refused(format!("there is no instance {id:?}")))?;
        let mut guard = vec![(k.clone(), rev)];
        let mut deletes = vec![
            k.clone(),
            keys::endpoint(&inst.sled, inst.endpoint),
            keys::name(id),
        ];
        for (key, raw, rev) in store.list_raw(&keys::nics())? {
            let nic: NicState = serde_json::from_slice(&raw)
                .map_err(|e| FleetError::Corrupt(key.clone(), e.to_string()))?;
            if nic.attachment.as_ref().is_some_and(|a| a.instance == id) {
                refuse_if_bound(store, nic.nic.id)?;
                guard.push((key, rev));
                deletes.extend(nic_keys(&nic));
            }
        }
        if store.commit(&guard, &[], &deletes)? {
            return Ok(());
        }
    }
    Err(FleetError::Busy(format!("instance-delete {id}")))
}

/// The fleet's shared tables, as `tables-set` takes them: each one given
/// replaces the fleet's whole; one left out stays as it is.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    /// Instance types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_types: Option<Vec<InstanceTypeState>>,
    /// Address pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<PoolState>>,
    /// Internet gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igws: Option<Vec<IgwState>>,
    /// External prefixes -> boundary endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2b: Option<Vec<V2bEntry>>,
}

/// `tables-set`: replaces each table `t` gives, in one transaction.
pub fn tables_set(store: &mut Store, t: &Tables) -> Result<(), FleetError> {
    let mut puts: BTreeMap<String, Value> = BTreeMap::new();
    let mut prefixes = Vec::new();
    if let Some(v) = &t.instance_types {
        prefixes.push(keys::instance_types());
        for x in v {
            check_segment("instance type", &x.name)?;
            puts.insert(keys::instance_type(&x.name), json(x)?);
        }
    }
    if let Some(v) = &t.pools {
        prefixes.push(keys::pools());
        for x in v {
            check_segment("pool", &x.name)?;
            puts.insert(keys::pool(&x.name), json(x)?);
        }
    }
    if let Some(v) = &t.igws {
        prefixes.push(keys::gateways());
        for x in v {
            puts.insert(keys::gateway(x.id), json(x)?);
        }
    }
    if let Some(v) = &t.v2b {
        prefixes.push(keys::v2bs());
        for x in v {
            puts.insert(keys::v2b(&x.prefix.to_string()), json(x)?);
        }
    }
    let mut deletes = Vec::new();
    for p in prefixes {
        for (k, _, _) in store.list_raw(&p)? {
            if !puts.contains_key(&k) {
                deletes.push(k);
            }
        }
    }
    let puts: Vec<(String, Value)> = puts.into_iter().collect();
    store.commit(&[], &puts, &deletes)?;
    Ok(())
}

/// etcd's default limit on the operations of one transaction.
const TXN_OPS: usize = 128;

/// `v2p-import`: V2P entries written by hand (not derived from a NIC), in
/// transactions of at most 128 entries each (etcd's default limit). An
/// entry whose key holds a NIC's mapping is refused before anything is
/// written. Returns how many were written.
pub fn v2p_import(
    store: &mut Store,
    entries: &[vswitch_api::V2pEntry],
) -> Result<usize, FleetError> {
    let mut owned = BTreeMap::new();
    for (k, raw, _) in store.list_raw(&keys::v2p_all())? {
        if let Ok(v) = serde_json::from_slice::<FleetV2p>(&raw) {
            if let Some(n) = v.nic {
                owned.insert(k, n);
            }
        }
    }
    let mut puts = Vec::with_capacity(entries.len());
    let mut seen = BTreeSet::new();
    for e in entries {
        let k = keys::v2p(e.vni.get(), e.ip);
        if let Some(n) = owned.get(&k) {
            return Err(FleetError::Refused(format!(
                "{k} is NIC {n}'s (nic-put changes it); nothing written"
            )));
        }
        if !seen.insert(k.clone()) {
            return Err(FleetError::Refused(format!(
                "{k} is given twice; nothing written"
            )));
        }
        let v = FleetV2p {
            mac: e.mac,
            underlay: e.underlay,
            nic: None,
        };
        puts.push((k, json(&v)?));
    }
    for chunk in puts.chunks(TXN_OPS) {
        store.commit(&[], chunk, &[])?;
    }
    Ok(puts.len())
}
