//! Checks a whole [`SwitchState`] and builds the engine's types from it
//! (its values were parsed once, where the document or the request was read;
//! what is checked here is what a well-formed value can still get wrong:
//! reserved values, host bits, overlaps, links between objects): every error
//! is collected (not only the first), each naming the object and the field,
//! so that `apply` can refuse a document with all that is wrong with it, and
//! a command with what its change broke.

use crate::boundary::map::{BoundaryMap, PortShare};
use crate::control::check_nics::{check_addresses, check_instances, nic_targets};
use crate::control::specs;
use crate::control::vpc::PortDirectory;
use crate::firewall::FirewallRules;
use crate::frame::offsets::{BOUNDARY_MAC, BOUNDARY_VNI};
use crate::nat::igw::V2bTable;
use crate::nat::igw::{ExternalIps, Igw, IgwSource, IgwTable, IgwTag, IpPool, IpRange, SnatSpec};
use crate::overlay::v2p::PhysTarget;
use crate::patch::PatchTable;
use crate::router::nic_target::NicTargets;
use crate::router::{RouteEntry, RouterTable, RouterTarget};
use crate::tables::Snapshot;
use crate::vnic::{DhcpOptions, Vnic, VnicSpec};
use crate::vpc::{ExternalPort, Underlay};
use crate::{PortIdx, PortRole, SwitchRole};
use hashbrown::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use vswitch_api::state::{NicState, SwitchState, STATE_VERSION};
use vswitch_api::{GatewayRef, Prefix};
use wire::MacAddr;

/// A VNIC of the state: parsed, or, when its document is the one the
/// snapshot in force was compiled from, that compiled VNIC as it is.
#[derive(Debug, Clone)]
pub(crate) enum CheckedVnic {
    /// Parsed from a new or changed document.
    Parsed(Box<ParsedVnic>),
    /// Unchanged: the compiled VNIC in force, with the gateways its routes name.
    Kept(Arc<Vnic>, BTreeSet<IgwTag>),
}

impl CheckedVnic {
    /// Its port (none: a NIC not bound to a port here).
    pub fn port(&self) -> Option<PortIdx> {
        match self {
            CheckedVnic::Parsed(p) => p.port,
            CheckedVnic::Kept(v, _) => Some(v.port),
        }
    }

    fn spec(&self) -> &VnicSpec {
        match self {
            CheckedVnic::Parsed(p) => &p.spec,
            CheckedVnic::Kept(v, _) => &v.spec,
        }
    }

    fn external_ips(&self) -> &ExternalIps {
        match self {
            CheckedVnic::Parsed(p) => &p.external_ips,
            CheckedVnic::Kept(v, _) => &v.external_ips,
        }
    }
}

/// A VNIC's document, parsed.
#[derive(Debug, Clone)]
pub(crate) struct ParsedVnic {
    /// Its port (none: a NIC not bound to a port here, checked only).
    pub port: Option<PortIdx>,
    /// Identity and addresses.
    pub spec: VnicSpec,
    /// Flows it may hold per worker.
    pub flow_quota: usize,
    /// Its router table.
    pub router: RouterTable,
    /// Its firewall rules.
    pub firewall: FirewallRules,
    /// Its external IPs.
    pub external_ips: ExternalIps,
    /// Gateways its routes name (`None`: the system gateway), for the epochs.
    pub gateways: BTreeSet<IgwTag>,
}

/// A whole state, parsed: what the compiler builds the snapshot from.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The underlay.
    pub underlay: Option<Underlay>,
    /// The endpoint addresses this sled takes Geneve for besides its own.
    pub endpoints: hashbrown::HashSet<Ipv6Addr>,
    /// Old endpoint -> new, after a migration (see `overlay/relay.rs`).
    pub forwards: hashbrown::HashMap<Ipv6Addr, Ipv6Addr>,
    /// The NICs bound to a guest port here, in the state's order, with
    /// their documents.
    pub vnics: Vec<(Arc<NicState>, CheckedVnic)>,
    /// The NICs a `nic:ID` route may reach now (attached to a running
    /// instance), by id.
    pub nic_targets: NicTargets,
    /// V2P maps of the VNIs that the previous state did not share.
    pub v2p: Vec<(u32, Arc<hashbrown::HashMap<IpAddr, PhysTarget>>)>,
    /// Pools and gateways.
    pub igws: IgwTable,
    /// External prefixes -> boundaries.
    pub v2b: V2bTable,
    /// The boundary's external port.
    pub external_port: Option<ExternalPort>,
    /// External IP (or a share of a SNAT address) -> sled.
    pub boundary_map: BoundaryMap,
    /// The boundary's bridge links.
    pub bridges: Vec<crate::vpc::BridgeLink>,
    /// The boundary's static 1:1 NAT.
    pub static_nat: crate::boundary::bridge::StaticNat,
    /// The patch table.
    pub patch: PatchTable,
}

/// Collected errors, each prefixed with the object it is about.
#[derive(Default)]
pub(crate) struct Errors(pub Vec<String>);

impl Errors {
    /// Keeps an error about `object`.
    pub fn add(&mut self, object: impl std::fmt::Display, msg: impl std::fmt::Display) {
        self.0.push(format!("{object}: {msg}"));
    }

    /// The value of `r`, or `None` with its error kept.
    pub(crate) fn ok<T>(
        &mut self,
        object: impl std::fmt::Display,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|e| self.add(object, e)).ok()
    }
}

fn unicast_v6(ip: Ipv6Addr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback())
}

pub(crate) fn unicast_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback())
}

pub(crate) fn unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => unicast_v4(a),
        IpAddr::V6(a) => unicast_v6(a),
    }
}

/// The index of the port called `name`.
pub(crate) fn port_named(dir: &PortDirectory, name: &str) -> Result<PortIdx, String> {
    dir.names
        .iter()
        .position(|n| !n.is_empty() && n == name)
        .map(|i| i as PortIdx)
        .ok_or_else(|| {
            format!(
                "unknown port {name:?} (ports: {})",
                crate::control::patch::listed(&dir.names)
            )
        })
}

/// The port called `name`, which must have role `want`.
pub(crate) fn port_of_role(
    dir: &PortDirectory,
    name: &str,
    want: PortRole,
) -> Result<PortIdx, String> {
    let i = port_named(dir, name)?;
    match dir.roles.get(i as usize) {
        Some(r) if *r == want => Ok(i),
        Some(r) => {
            let article = |r: &PortRole| {
                if matches!(r, PortRole::Uplink | PortRole::External) {
                    "an"
                } else {
                    "a"
                }
            };
            Err(format!(
                "port {name:?} is {} {} port, not {} {} port",
                article(r),
                r.as_str(),
                article(&want),
                want.as_str()
            ))
        }
        None => Err(format!("unknown port {name:?}")),
    }
}

/// An address as a number in its family's space (for walking ranges).
fn ordinal(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Whether every address of `r` is in one of `ranges` (which may be
/// adjacent: a range may span two neighbouring ranges of one pool).
pub(crate) fn covered_by(ranges: &[IpRange], r: &IpRange) -> bool {
    let mut same: Vec<(u128, u128)> = ranges
        .iter()
        .filter(|x| x.first.is_ipv4() == r.first.is_ipv4())
        .map(|x| (ordinal(x.first), ordinal(x.last)))
        .collect();
    same.sort_unstable();
    let (mut next, last) = (ordinal(r.first), ordinal(r.last));
    for (a, b) in same {
        if a > next {
            break;
        }
        if b >= next {
            if b >= last {
                return true;
            }
            next = b + 1;
        }
    }
    false
}

/// An assigned source in words (`pool:NAME`, `range:A-B`).
pub(crate) fn source_text(s: &IgwSource) -> String {
    match s {
        IgwSource::Pool(p) => format!("pool:{p}"),
        IgwSource::Range(r) => format!("range:{r}"),
    }
}

/// The addresses a source stands for.
pub(crate) fn source_ranges(pools: &BTreeMap<String, IpPool>, s: &IgwSource) -> Vec<IpRange> {
    match s {
        IgwSource::Pool(p) => pools.get(p).map(|p| p.ranges.clone()).unwrap_or_default(),
        IgwSource::Range(r) => vec![*r],
    }
}

/// A gateway of an `igw_map`: `system` or an id.
fn gateway_ref(ip: IpAddr, g: &GatewayRef) -> Result<IgwTag, String> {
    match g {
        GatewayRef::Id(id) => Ok(Some(*id)),
        GatewayRef::Named(n) if n == "system" => Ok(None),
        GatewayRef::Named(n) => n
            .parse()
            .map(Some)
            .map_err(|_| format!("unknown gateway {n:?} in igw_map[{ip}] (system or an IGW id)")),
    }
}

/// A V2B prefix: host bits zero.
pub(crate) fn v2b_prefix(p: Prefix) -> Result<ipnet::IpNet, String> {
    if p.has_host_bits() {
        return Err(format!(
            "prefix {p} has host bits set (did you mean {}?)",
            p.network()
        ));
    }
    Ok(specs::prefix(p))
}

/// Checks `state` whole for the switch with ports `dir` whose snapshot in
/// force is `prev_snap`, and parses it. The V2P maps and VNIC documents the
/// state in force shares with `state` are known good and not parsed again
/// (only their links to other objects are checked), and the VNICs it had
/// unchanged are checked first, so that a conflict is reported at the
/// object that changed.
pub(crate) fn check(
    dir: &PortDirectory,
    prev_snap: &Snapshot,
    state: &SwitchState,
) -> Result<Checked, Vec<String>> {
    let (role, prev) = (prev_snap.role, &*prev_snap.state);
    let mut e = Errors::default();
    if state.version != STATE_VERSION {
        e.add(
            "version",
            format!(
                "{} is not a state format this switch reads (it reads {STATE_VERSION})",
                state.version
            ),
        );
    }
    if state.role != role.as_str() {
        e.add(
            "role",
            format!(
                "{:?} is not this switch's role: it is a {} switch (role = {:?} in its configuration)",
                state.role,
                role.as_str(),
                role.as_str()
            ),
        );
    }
    super::check_ports::check_ports(dir, state, &mut e);
    let patch = check_patches(dir, state, &mut e);
    let underlay = check_underlay(dir, state, &mut e);
    let endpoints = check_endpoints(state, &mut e);
    let forwards = check_forwards(state, &endpoints, &mut e);
    let igws = check_igws(state, &mut e);
    let v2b = check_v2b(state, &mut e);
    check_instances(state, &mut e);
    let vnics = check_vnics(dir, prev_snap, state, &patch, &igws, &mut e);
    let nic_targets = nic_targets(state, &mut e);
    let v2p = check_v2p(prev, state, &mut e);
    let (external_port, boundary_map) = check_boundary(dir, role, state, &underlay, &mut e);
    let (bridges, static_nat) =
        crate::control::check_bridges::check_bridges(dir, role, state, &boundary_map, &mut e);
    if e.0.is_empty() {
        Ok(Checked {
            underlay,
            endpoints,
            forwards,
            vnics,
            nic_targets,
            v2p,
            igws,
            v2b,
            external_port,
            boundary_map,
            bridges,
            static_nat,
            patch,
        })
    } else {
        Err(e.0)
    }
}

fn check_patches(dir: &PortDirectory, state: &SwitchState, e: &mut Errors) -> PatchTable {
    let mut t = PatchTable::new(dir.names.len());
    for p in &state.patches {
        let obj = format!("patch {:?}", p.from);
        let from = e.ok(
            &obj,
            port_named(dir, &p.from).map_err(|m| format!("from: {m}")),
        );
        let to = e.ok(&obj, port_named(dir, &p.to).map_err(|m| format!("to: {m}")));
        if let (Some(f), Some(to)) = (from, to) {
            if t.entries().any(|(x, _)| x == f) {
                e.add(&obj, "the port is patched twice");
            } else if let Err(err) = t.set(f, to) {
                e.add(&obj, err);
            }
        }
    }
    t
}

/// At most this many endpoint addresses on one sled (the fabric's bound).
pub const MAX_ENDPOINTS: usize = 65_536;

fn check_endpoints(state: &SwitchState, e: &mut Errors) -> hashbrown::HashSet<Ipv6Addr> {
    let mut set = hashbrown::HashSet::new();
    let Some(u) = state.underlay.as_ref() else {
        return set;
    };
    let obj = "underlay";
    if u.endpoints.len() > MAX_ENDPOINTS {
        e.add(
            obj,
            format!(
                "endpoints: {} addresses, at most {MAX_ENDPOINTS}",
                u.endpoints.len()
            ),
        );
        return set;
    }
    for a in &u.endpoints {
        if !unicast_v6(*a) || *a == u.addr {
            e.add(
                obj,
                format!("endpoints: {a} cannot be an endpoint address of this sled"),
            );
        } else if !set.insert(*a) {
            e.add(obj, format!("endpoints: {a} is given twice"));
        }
    }
    set
}

/// The forwarding entries: each from one of this sled's endpoint addresses
/// (so that its Geneve reaches this switch) to an address elsewhere.
fn check_forwards(
    state: &SwitchState,
    endpoints: &hashbrown::HashSet<Ipv6Addr>,
    e: &mut Errors,
) -> hashbrown::HashMap<Ipv6Addr, Ipv6Addr> {
    let mut map = hashbrown::HashMap::new();
    let Some(u) = state.underlay.as_ref() else {
        return map;
    };
    for f in &u.forward {
        let why = if !endpoints.contains(&f.from) {
            Some("its old address is not one of this sled's endpoints")
        } else if !unicast_v6(f.to) || f.to == u.addr || endpoints.contains(&f.to) {
            Some("its new address is not elsewhere")
        } else if map.insert(f.from, f.to).is_some() {
            Some("the old address is given twice")
        } else {
            None
        };
        if let Some(why) = why {
            e.add("underlay", format!("forward {} -> {}: {why}", f.from, f.to));
        }
    }
    map
}

fn check_underlay(dir: &PortDirectory, state: &SwitchState, e: &mut Errors) -> Option<Underlay> {
    let u = state.underlay.as_ref()?;
    let obj = "underlay";
    let idx = e.ok(
        obj,
        port_of_role(dir, &u.uplink, PortRole::Uplink).map_err(|m| format!("uplink: {m}")),
    );
    if !unicast_v6(u.addr) {
        e.add(
            obj,
            format!("addr: {} cannot be a sled's underlay address", u.addr),
        );
    }
    let idx = idx?;
    Some(Underlay {
        addr: u.addr,
        uplink: idx,
        uplink_mac: dir
            .macs
            .get(idx as usize)
            .copied()
            .unwrap_or(MacAddr([0; 6])),
        nexthop_mac: specs::mac(u.nexthop_mac),
        mtu: dir.mtu(idx),
    })
}

fn check_igws(state: &SwitchState, e: &mut Errors) -> IgwTable {
    let mut t = IgwTable::default();
    for p in &state.pools {
        let obj = format!("pool {:?}", p.name);
        if p.name.is_empty() || p.name.chars().any(char::is_whitespace) {
            e.add(&obj, "name must be non-empty, without spaces");
        }
        if t.pools.contains_key(&p.name) {
            e.add(&obj, "the pool is given twice");
            continue;
        }
        if p.ranges.is_empty() {
            e.add(&obj, "ranges: the pool needs at least one range");
        }
        let mut ranges: Vec<IpRange> = Vec::new();
        for r in &p.ranges {
            let a = specs::range(*r);
            if let Some(b) = ranges.iter().find(|b| b.overlaps(&a)) {
                e.add(
                    &obj,
                    format!("range {a} overlaps range {b} of the same pool"),
                );
                continue;
            }
            if let Some((other, b)) = t
                .pools
                .values()
                .find_map(|q| q.ranges.iter().find(|b| b.overlaps(&a)).map(|b| (q, b)))
            {
                e.add(
                    &obj,
                    format!("range {a} overlaps range {b} of pool {:?}", other.name),
                );
                continue;
            }
            ranges.push(a);
        }
        t.pools.insert(
            p.name.clone(),
            IpPool {
                name: p.name.clone(),
                ranges,
            },
        );
    }
    for g in &state.igws {
        let obj = format!("igw {}", g.id);
        if t.igws.contains_key(&g.id) {
            e.add(&obj, format!("igw:{} is given twice", g.id));
            continue;
        }
        let mut sources = BTreeSet::new();
        let given = g
            .pools
            .iter()
            .map(|p| IgwSource::Pool(p.clone()))
            .chain(g.ranges.iter().map(|r| IgwSource::Range(specs::range(*r))));
        for src in given {
            match &src {
                IgwSource::Pool(p) if !t.pools.contains_key(p) => {
                    e.add(&obj, format!("pools: unknown pool {p:?}"));
                    continue;
                }
                IgwSource::Range(r) if !t.pools.values().any(|p| covered_by(&p.ranges, r)) => {
                    e.add(
                        &obj,
                        format!("ranges: range {r} is not inside one pool (every address of it must be in the same pool)"),
                    );
                    continue;
                }
                _ => {}
            }
            let new = source_ranges(&t.pools, &src);
            if let Some(old) = sources.iter().find(|old| {
                source_ranges(&t.pools, old)
                    .iter()
                    .any(|o| new.iter().any(|n| n.overlaps(o)))
            }) {
                e.add(
                    &obj,
                    format!(
                        "{} overlaps {}, already assigned to igw:{}",
                        source_text(&src),
                        source_text(old),
                        g.id
                    ),
                );
                continue;
            }
            sources.insert(src);
        }
        t.igws.insert(
            g.id,
            Igw {
                name: g.name.clone().unwrap_or_default(),
                sources,
            },
        );
    }
    t
}

fn check_v2b(state: &SwitchState, e: &mut Errors) -> V2bTable {
    let mut t = V2bTable::default();
    let mut seen = BTreeSet::new();
    for v in &state.v2b {
        let obj = format!("v2b {}", v.prefix);
        let Some(p) = e.ok(&obj, v2b_prefix(v.prefix)) else {
            continue;
        };
        if !seen.insert(p) {
            e.add(&obj, "the prefix is given twice");
            continue;
        }
        if v.endpoints.is_empty() {
            e.add(
                &obj,
                format!("endpoints: {p} needs at least one boundary endpoint"),
            );
        }
        for (i, ep) in v.endpoints.iter().enumerate() {
            if !unicast_v6(*ep) {
                e.add(
                    &obj,
                    format!("endpoints: {ep} cannot be a boundary's underlay address"),
                );
            }
            if v.endpoints[..i].contains(ep) {
                e.add(&obj, format!("endpoints: endpoint {ep} is given twice"));
            }
        }
        t.set(p, v.endpoints.clone());
    }
    t
}

fn check_v2p(
    prev: &SwitchState,
    state: &SwitchState,
    e: &mut Errors,
) -> Vec<(u32, Arc<HashMap<IpAddr, PhysTarget>>)> {
    let mut out = Vec::new();
    for (vni, map) in state.v2p.vnis() {
        if prev.v2p.vni(vni).is_some_and(|m| Arc::ptr_eq(m, map)) {
            continue;
        }
        let mut built = HashMap::with_capacity(map.len());
        if vni.get() == BOUNDARY_VNI {
            e.add(
                format!("v2p {vni}"),
                format!("vni {BOUNDARY_VNI} is reserved for boundary (internet) traffic"),
            );
        }
        for (ip, t) in map.iter() {
            let obj = format!("v2p {vni}/{ip}");
            let mac = specs::mac(t.mac);
            let mac = if mac.is_unicast() && mac.0 != BOUNDARY_MAC {
                Some(mac)
            } else {
                e.add(&obj, format!("mac: {mac} is not a guest's unicast address"));
                None
            };
            if !unicast_v6(t.underlay) {
                e.add(
                    &obj,
                    format!("underlay: {} is not a sled's unicast address", t.underlay),
                );
            }
            if let Some(mac) = mac {
                built.insert(
                    *ip,
                    PhysTarget {
                        mac,
                        underlay: t.underlay,
                    },
                );
            }
        }
        out.push((vni.get(), Arc::new(built)));
    }
    out
}

/// The order NICs are checked in: those `prev` had unchanged first.
fn vnic_order(prev: &SwitchState, state: &SwitchState) -> Vec<usize> {
    let before: HashMap<u32, &Arc<NicState>> = prev.nics.iter().map(|v| (v.nic.id, v)).collect();
    let same = |v: &Arc<NicState>| {
        before
            .get(&v.nic.id)
            .is_some_and(|p| Arc::ptr_eq(p, v) || ***p == **v)
    };
    let (mut a, b): (Vec<usize>, Vec<usize>) =
        (0..state.nics.len()).partition(|i| same(&state.nics[*i]));
    a.extend(b);
    a
}

/// A NIC as an error names it: `vnic "g0"` when bound to a guest port
/// here (as before NICs were objects), else `nic 7`.
struct VnicObject<'a>(&'a NicState);

impl std::fmt::Display for VnicObject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.attached().and_then(|a| a.port.as_deref()) {
            Some(port) => write!(f, "vnic {port:?}"),
            None => write!(f, "nic {}", self.0.nic.id),
        }
    }
}

/// An external IP held by a NIC checked before: who holds it and, for a
/// SNAT address, its port range (`None`: a 1:1 address).
struct Held {
    holder: String,
    snat: Option<(u16, u16)>,
}

/// Who holds an address, in words: `port "g1"` for a NIC bound to a port
/// here, else `nic 7`.
fn holder(v: &NicState) -> String {
    match v.port() {
        Some(p) => format!("port {p:?}"),
        None => format!("nic {}", v.nic.id),
    }
}

/// Checks the external IPs of `mine` (NIC object `obj`) against those the
/// NICs checked before it hold: a 1:1 address is one NIC's alone; a SNAT
/// address is shared only by SNAT, with disjoint port ranges. Detached NICs
/// count: their addresses stay theirs.
fn check_held(
    held: &HashMap<IpAddr, Vec<Held>>,
    mine: &ExternalIps,
    obj: &dyn std::fmt::Display,
    e: &mut Errors,
) {
    let one_to_one = mine
        .floating
        .iter()
        .map(|ip| (*ip, "floating"))
        .chain(mine.ephemeral.map(|ip| (ip, "ephemeral")));
    for (ip, kind) in one_to_one {
        if let Some(h) = held.get(&ip).and_then(|h| h.first()) {
            e.add(
                obj,
                format!("external: {ip} ({kind}) is already held by {}", h.holder),
            );
        }
    }
    if let Some(s) = mine.snat {
        for h in held.get(&s.ip).into_iter().flatten() {
            match h.snat {
                None => e.add(
                    obj,
                    format!(
                        "external: SNAT address {} is a 1:1 address (floating or ephemeral) of {}",
                        s.ip, h.holder
                    ),
                ),
                Some((first, last)) if first <= s.last_port && s.first_port <= last => e.add(
                    obj,
                    format!(
                        "external: SNAT ports {}-{} on {} overlap ports {first}-{last} of {}",
                        s.first_port, s.last_port, s.ip, h.holder
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

fn check_vnics(
    dir: &PortDirectory,
    prev_snap: &Snapshot,
    state: &SwitchState,
    patch: &PatchTable,
    igws: &IgwTable,
    e: &mut Errors,
) -> Vec<(Arc<NicState>, CheckedVnic)> {
    let prev = &*prev_snap.state;
    let patch = &patched_ports(patch);
    let mut out: Vec<(usize, CheckedVnic)> = Vec::new();
    let n = state.nics.len();
    let mut by_port: HashMap<PortIdx, usize> = HashMap::with_capacity(n);
    let mut by_vni_mac: HashMap<(u32, MacAddr), String> = HashMap::with_capacity(n);
    let mut by_vni_ip: HashMap<(u32, IpAddr), String> = HashMap::with_capacity(n);
    let mut held: HashMap<IpAddr, Vec<Held>> = HashMap::new();
    let names: HashMap<&str, PortIdx> = dir
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as PortIdx))
        .collect();
    let kept: HashMap<u32, &Arc<NicState>> = prev.nics.iter().map(|v| (v.nic.id, v)).collect();
    for i in vnic_order(prev, state) {
        let v = &state.nics[i];
        // Named only when there is something to say about it.
        let obj = VnicObject(v);
        let same = kept
            .get(&v.nic.id)
            .filter(|p| Arc::ptr_eq(p, v))
            .and_then(|_| v.port())
            .and_then(|p| names.get(p))
            .and_then(|p| prev_snap.vpc.vnic(*p))
            .filter(|old| old.spec.id == v.nic.id);
        let c = match same {
            Some(old) => match check_links(dir, old, patch, igws, &obj, e) {
                Some(c) => c,
                None => continue,
            },
            None => match check_vnic(dir, &names, v, patch, igws, &obj, e) {
                Some(c) => CheckedVnic::Parsed(Box::new(c)),
                None => continue,
            },
        };
        let spec = c.spec();
        if let Some(port) = c.port() {
            if by_port.insert(port, i).is_some() {
                e.add(&obj, "the port has two VNICs");
                continue;
            }
        }
        if let Some(other) = by_vni_mac.insert((spec.vni, spec.mac), holder(v)) {
            e.add(
                &obj,
                format!(
                    "mac: MAC {} is already used in VNI {} by {other}",
                    spec.mac, spec.vni
                ),
            );
            continue;
        }
        for ip in v.nic.private_ips() {
            if let Some(other) = by_vni_ip.insert((spec.vni, ip), holder(v)) {
                e.add(
                    &obj,
                    format!(
                        "private IP {ip} is already used in VNI {} by {other}",
                        spec.vni
                    ),
                );
            }
        }
        let x = c.external_ips();
        check_held(&held, x, &obj, e);
        for ip in x.floating.iter().copied().chain(x.ephemeral) {
            held.entry(ip).or_default().push(Held {
                holder: holder(v),
                snat: None,
            });
        }
        if let Some(s) = x.snat {
            held.entry(s.ip).or_default().push(Held {
                holder: holder(v),
                snat: Some((s.first_port, s.last_port)),
            });
        }
        if c.port().is_some() {
            out.push((i, c));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter()
        .map(|(i, c)| (Arc::clone(&state.nics[i]), c))
        .collect()
}

fn check_vnic(
    dir: &PortDirectory,
    names: &HashMap<&str, PortIdx>,
    v: &NicState,
    patch: &HashMap<PortIdx, (PortIdx, PortIdx)>,
    igws: &IgwTable,
    obj: &dyn std::fmt::Display,
    e: &mut Errors,
) -> Option<ParsedVnic> {
    let before = e.0.len();
    let n = &v.nic;
    let port = match v.port() {
        None => None,
        Some(name) => match names.get(name) {
            Some(&i) if dir.roles.get(i as usize) == Some(&PortRole::Guest) => Some(i),
            _ => e.ok(
                obj,
                port_of_role(dir, name, PortRole::Guest).map_err(|m| format!("port: {m}")),
            ),
        },
    };
    if let Some(p) = port {
        check_unpatched(dir, patch, p, obj, e);
    }
    check_addresses(n, obj, e);
    if n.vni.get() == BOUNDARY_VNI {
        e.add(
            obj,
            format!("vni: vni {BOUNDARY_VNI} is reserved for boundary (internet) traffic"),
        );
    }
    let (mac, gateway_mac) = (specs::mac(n.mac), specs::mac(n.gateway_mac));
    for (field, m) in [("mac", mac), ("gateway_mac", gateway_mac)] {
        if !m.is_unicast() {
            e.add(
                obj,
                format!("{field}: mac and gateway_mac must be unicast addresses ({m} is not)"),
            );
        } else if m.0 == BOUNDARY_MAC {
            e.add(
                obj,
                format!(
                    "{field}: MAC {} is reserved (the inner destination of boundary traffic)",
                    MacAddr(BOUNDARY_MAC)
                ),
            );
        }
    }
    if n.flow_quota == Some(0) {
        e.add(obj, "flow_quota: flow_quota must be at least 1");
    }
    if n.ipv4.is_none() && n.ipv6.is_none() {
        e.add(obj, "ipv4, ipv6: the VNIC needs an ipv4 or an ipv6 address");
    }
    if n.ipv4.is_some() != n.gateway_ipv4.is_some() || n.ipv6.is_some() != n.gateway_ipv6.is_some()
    {
        e.add(
            obj,
            "gateway_ipv4, gateway_ipv6: each guest address family needs its gateway address (gateway_ipv4, gateway_ipv6)",
        );
    }
    let mut router = RouterTable::new();
    let mut gateways = BTreeSet::new();
    for (i, r) in v.routes.iter().enumerate() {
        let entry = RouteEntry {
            dest: specs::prefix(r.dest),
            target: specs::route_target(r.target),
            class: specs::route_class(r.class),
        };
        if let RouterTarget::InternetGateway(tag) = entry.target {
            if let Some(id) = tag {
                if !igws.igws.contains_key(&id) {
                    e.add(
                        obj,
                        format!("routes[{i}]: unknown gateway igw:{id} (igw-create first)"),
                    );
                }
            }
            gateways.insert(tag);
        }
        if let Err(err) = router.add(entry) {
            e.add(obj, format!("routes[{i}]: {err}"));
        }
    }
    let rules = v.firewall.iter().map(specs::fw_rule).collect::<Vec<_>>();
    let firewall = e.ok(
        obj,
        FirewallRules::new(rules).map_err(|m| format!("firewall: {m}")),
    );
    let external_ips = check_external(v, igws, obj, e);
    if e.0.len() > before {
        return None;
    }
    if v.port().is_some() && port.is_none() {
        return None;
    }
    Some(ParsedVnic {
        port,
        spec: VnicSpec {
            id: n.id,
            vni: n.vni.get(),
            mac,
            ipv4: n.ipv4,
            ipv6: n.ipv6,
            secondary: n
                .secondary_ipv4
                .iter()
                .map(|a| IpAddr::V4(*a))
                .chain(n.secondary_ipv6.iter().map(|a| IpAddr::V6(*a)))
                .collect(),
            source_dest_check: n.source_dest_check,
            gateway_mac,
            gateway_ipv4: n.gateway_ipv4,
            gateway_ipv6: n.gateway_ipv6,
            dhcp: DhcpOptions {
                dns: n.dns.clone(),
                hostname: n.hostname.clone(),
                domain: n.domain.clone(),
                mtu: n.mtu,
            },
        },
        flow_quota: n.flow_quota.map_or(dir.flow_quota, |q| q as usize),
        router,
        firewall: firewall?,
        external_ips: external_ips?,
        gateways,
    })
}

/// The ports a patch names, either way (computed once per check).
fn patched_ports(patch: &PatchTable) -> HashMap<PortIdx, (PortIdx, PortIdx)> {
    let mut m = HashMap::new();
    for (f, t) in patch.entries() {
        m.insert(f, (f, t));
        m.entry(t).or_insert((f, t));
    }
    m
}

/// A port with a VNIC must not be patched.
fn check_unpatched(
    dir: &PortDirectory,
    patched: &HashMap<PortIdx, (PortIdx, PortIdx)>,
    p: PortIdx,
    obj: &dyn std::fmt::Display,
    e: &mut Errors,
) {
    if let Some((f, t)) = patched.get(&p).copied() {
        let name = |i: PortIdx| dir.names.get(i as usize).cloned().unwrap_or_default();
        e.add(
            obj,
            format!(
                "port {:?} is patched ({:?} -> {:?}) and has a VNIC: a port carries a patch or a VNIC, not both \
                 (patch-clear or vnic-delete first)",
                name(p),
                name(f),
                name(t)
            ),
        );
    }
}

/// An unchanged VNIC's links to the other objects: its port is not
/// patched, the gateways its routes and `igw_map` name exist, and its
/// external IPs lie in pools.
fn check_links(
    dir: &PortDirectory,
    old: &Arc<Vnic>,
    patch: &HashMap<PortIdx, (PortIdx, PortIdx)>,
    igws: &IgwTable,
    obj: &dyn std::fmt::Display,
    e: &mut Errors,
) -> Option<CheckedVnic> {
    let before = e.0.len();
    check_unpatched(dir, patch, old.port, obj, e);
    let mut gateways = BTreeSet::new();
    for r in old.router.entries() {
        if let RouterTarget::InternetGateway(tag) = r.target {
            if let Some(id) = tag.filter(|id| !igws.igws.contains_key(id)) {
                e.add(
                    obj,
                    format!(
                        "routes: the route to {} names unknown gateway igw:{id} (igw-create first)",
                        r.dest
                    ),
                );
            }
            gateways.insert(tag);
        }
    }
    let x = &old.external_ips;
    for ip in x.all() {
        if igws.pool_of(ip).is_none() {
            e.add(
                obj,
                format!("external: {ip} is an IP outside every pool (pool-create first)"),
            );
        }
    }
    for (ip, tags) in x.igw_map.iter().flatten() {
        for id in tags
            .iter()
            .flatten()
            .filter(|id| !igws.igws.contains_key(id))
        {
            e.add(
                obj,
                format!("external.igw_map: unknown gateway igw:{id} in igw_map[{ip}] (igw-create first)"),
            );
        }
    }
    (e.0.len() == before).then(|| CheckedVnic::Kept(Arc::clone(old), gateways))
}

fn check_external(
    v: &NicState,
    igws: &IgwTable,
    obj: &dyn std::fmt::Display,
    e: &mut Errors,
) -> Option<ExternalIps> {
    let Some(x) = &v.external else {
        return Some(ExternalIps::default());
    };
    let before = e.0.len();
    let snat = x.snat.map(|s| {
        if s.first_port == 0 || s.first_port > s.last_port {
            e.add(
                obj,
                format!(
                    "external.snat: snat ports {}-{}: first_port must be at least 1 and not above last_port",
                    s.first_port, s.last_port
                ),
            );
        }
        SnatSpec {
            ip: s.ip,
            first_port: s.first_port,
            last_port: s.last_port,
        }
    });
    let mut seen: Vec<(IpAddr, &str)> = Vec::new();
    let listed = x
        .floating
        .iter()
        .map(|ip| (*ip, "floating"))
        .chain(x.ephemeral.map(|ip| (ip, "ephemeral")))
        .chain(snat.map(|s| (s.ip, "snat")));
    for (ip, kind) in listed {
        if let Some((_, was)) = seen.iter().find(|(a, _)| *a == ip) {
            e.add(
                obj,
                format!("external: {ip} is given twice (as {was} and as {kind}); an external IP has one role"),
            );
            continue;
        }
        if !unicast(ip) {
            e.add(
                obj,
                format!("external.{kind}: {ip} ({kind}) cannot be an external address"),
            );
        } else if igws.pool_of(ip).is_none() {
            e.add(
                obj,
                format!("external.{kind}: {ip} ({kind}) is an IP outside every pool (pool-create first)"),
            );
        }
        seen.push((ip, kind));
    }
    let mut igw_map = None;
    if let Some(m) = &x.igw_map {
        let mut out = HashMap::new();
        for (ip, gws) in m {
            if !seen.iter().any(|(a, _)| a == ip) {
                e.add(
                    obj,
                    format!(
                        "external.igw_map: igw_map key {ip} is not one of this port's external IPs"
                    ),
                );
                continue;
            }
            let mut tags = BTreeSet::new();
            for g in gws {
                match gateway_ref(*ip, g) {
                    Ok(Some(id)) if !igws.igws.contains_key(&id) => e.add(
                        obj,
                        format!("external.igw_map: unknown gateway igw:{id} in igw_map[{ip}] (igw-create first)"),
                    ),
                    Ok(tag) => {
                        tags.insert(tag);
                    }
                    Err(m) => e.add(obj, format!("external.igw_map: {m}")),
                }
            }
            out.insert(*ip, tags);
        }
        igw_map = Some(out);
    }
    (e.0.len() == before).then(|| ExternalIps {
        floating: x.floating.clone(),
        ephemeral: x.ephemeral,
        snat,
        igw_map,
    })
}

pub(crate) fn boundary_only(role: SwitchRole, what: &str) -> Result<(), String> {
    match role {
        SwitchRole::Boundary => Ok(()),
        SwitchRole::Sled => Err(format!(
            "this switch is a sled switch (role = \"sled\" in its configuration); \
             {what} belong(s) to a boundary switch (role = \"boundary\")"
        )),
    }
}

fn check_boundary(
    dir: &PortDirectory,
    role: SwitchRole,
    state: &SwitchState,
    underlay: &Option<Underlay>,
    e: &mut Errors,
) -> (Option<ExternalPort>, BoundaryMap) {
    let mut map = HashMap::new();
    let mut shared: HashMap<IpAddr, Vec<PortShare>> = HashMap::new();
    let mut external = None;
    if let Some(x) = &state.external_port {
        let obj = "external_port";
        e.ok(obj, boundary_only(role, "the external port"));
        let idx = e.ok(
            obj,
            port_of_role(dir, &x.port, PortRole::External).map_err(|m| format!("port: {m}")),
        );
        let nexthop = specs::mac(x.nexthop_mac);
        if !nexthop.is_unicast() {
            e.add(
                obj,
                format!("nexthop_mac: nexthop_mac {nexthop} must be a unicast address"),
            );
        }
        if let Some(a) = x.addr.filter(|a| !unicast_v4(*a)) {
            e.add(
                obj,
                format!("addr: {a} cannot be the boundary's address (not a unicast address)"),
            );
        }
        if let Some(i) = idx {
            external = dir.macs.get(i as usize).map(|mac| ExternalPort {
                port: i,
                mac: *mac,
                nexthop_mac: nexthop,
                addr: x.addr,
            });
        }
    }
    if !state.boundary_map.is_empty() {
        e.ok("boundary_map", boundary_only(role, "the boundary map"));
    }
    for m in &state.boundary_map {
        let obj = match m.ports {
            Some(p) => format!("boundary_map {} ports {p}", m.ip),
            None => format!("boundary_map {}", m.ip),
        };
        if !unicast(m.ip) {
            e.add(
                &obj,
                format!(
                    "ip: {} cannot be an external IP (not a unicast address)",
                    m.ip
                ),
            );
        }
        if !unicast_v6(m.sled) {
            e.add(
                &obj,
                format!(
                    "sled: {} cannot be a sled's underlay address (not a unicast address)",
                    m.sled
                ),
            );
        }
        if underlay.is_some_and(|u| u.addr == m.sled) {
            e.add(
                &obj,
                format!(
                    "sled: {} is this boundary's own underlay address, not a sled's",
                    m.sled
                ),
            );
        }
        if state
            .external_port
            .as_ref()
            .is_some_and(|x| x.addr.map(IpAddr::V4) == Some(m.ip))
        {
            e.add(
                &obj,
                format!(
                    "ip: {} is the boundary's own address on its external port; an external IP must be another one",
                    m.ip
                ),
            );
        }
        match m.ports {
            None => {
                if map.insert(m.ip, m.sled).is_some() {
                    e.add(&obj, "the external IP is given twice");
                }
            }
            Some(p) => {
                let share = PortShare {
                    first: p.first(),
                    last: p.last(),
                    sled: m.sled,
                };
                if share.first == 0 {
                    e.add(
                        &obj,
                        "ports: port 0 is no SNAT port (a range starts at 1 or above)",
                    );
                }
                let v = shared.entry(m.ip).or_default();
                if let Some(o) = v
                    .iter()
                    .find(|o| o.first <= share.last && share.first <= o.last)
                {
                    e.add(
                        &obj,
                        format!(
                            "ports: {p} overlaps the share {}-{} (toward {}); the ranges sharing one SNAT address must be disjoint",
                            o.first, o.last, o.sled
                        ),
                    );
                }
                v.push(share);
            }
        }
    }
    for ip in shared.keys() {
        if map.contains_key(ip) {
            e.add(
                format!("boundary_map {ip}"),
                "the address has an entry of its own and shares by port range; \
                 a floating or ephemeral IP is one NIC's, only a SNAT address is shared",
            );
        }
    }
    (external, BoundaryMap::new(map, shared))
}
