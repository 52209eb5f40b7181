//! The per-port router table: longest-prefix match over IPv4 and IPv6 routes.
//!
//! The semantics follow OPTE: the longest matching prefix wins, and at equal
//! length a Custom route beats a System route (see [`priority`]).

pub mod decision;
pub mod nic_target;

use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Where a route sends matching traffic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum RouterTarget {
    /// Discard the packet.
    Drop,
    /// Leave the VPC through an internet gateway: `Some(id)` tags the packet
    /// with that gateway, `None` with the system (default) gateway.
    InternetGateway(Option<u32>),
    /// A next hop inside the VPC, resolved later through V2P.
    Ip(IpAddr),
    /// A subnet of the VPC: the destination itself is resolved through V2P.
    VpcSubnet(IpNet),
    /// A NIC of the same VPC, by NIC id (a NAT or firewall appliance):
    /// see [`nic_target`].
    Nic(u32),
}

/// Who installed a route; decides ties between routes of equal prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteClass {
    /// Created by the control plane for the VPC itself (subnets, default route).
    System,
    /// Created by a user; wins over a System route of the same prefix.
    Custom,
}

impl fmt::Display for RouteClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteClass::System => "system",
            RouteClass::Custom => "custom",
        })
    }
}

/// One route: a destination prefix, its target and its class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RouteEntry {
    /// Destination prefix; must have its host bits zero.
    pub dest: IpNet,
    /// Where matching traffic goes.
    pub target: RouterTarget,
    /// Who installed the route.
    pub class: RouteClass,
}

/// Why a change to a [`RouterTable`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// A route with the same destination and class is already present.
    #[error("route {dest} ({class}) already exists")]
    Duplicate {
        /// The destination of the refused route.
        dest: IpNet,
        /// The class of the refused route.
        class: RouteClass,
    },
    /// The destination has bits set beyond its prefix length.
    #[error("route {dest} has host bits set; did you mean {network}?")]
    HostBits {
        /// The destination as given.
        dest: IpNet,
        /// The same prefix with its host bits cleared.
        network: IpNet,
    },
    /// No route with this destination and class is present.
    #[error("route {dest} ({class}) not found")]
    NotFound {
        /// The destination asked for.
        dest: IpNet,
        /// The class asked for.
        class: RouteClass,
    },
}

/// OPTE's rule priority of a route (lower wins):
/// `((max_len - prefix_len) * 2 + (1 if System else 0)) + 10`, where `max_len`
/// is 32 for IPv4 and 128 for IPv6.
///
/// [`RouterTable::lookup`] returns the same route as choosing the lowest
/// priority among the matching routes of the address's family; no two
/// matching routes share a priority, since they would need the same prefix
/// length and class and thus the same destination.
pub fn priority(entry: &RouteEntry) -> u32 {
    let unused = u32::from(
        entry
            .dest
            .max_prefix_len()
            .saturating_sub(entry.dest.prefix_len()),
    );
    let system = u32::from(entry.class == RouteClass::System);
    unused * 2 + system + 10
}

/// A router table. Clones share storage (copy-on-write), so a snapshot can
/// hold one cheaply; lookups never allocate.
#[derive(Debug, Clone, Default)]
pub struct RouterTable {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    v4: Family<u32>,
    v6: Family<u128>,
    len: usize,
}

impl RouterTable {
    /// An empty table: every lookup misses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route, refusing a destination with host bits set or a second
    /// route of the same destination and class.
    pub fn add(&mut self, entry: RouteEntry) -> Result<(), RouterError> {
        let network = entry.dest.trunc();
        if network != entry.dest {
            return Err(RouterError::HostBits {
                dest: entry.dest,
                network,
            });
        }
        let (dest, class) = (entry.dest, entry.class);
        // Checked before make_mut so that a refusal does not copy a shared table.
        if self.get(dest, class).is_some() {
            return Err(RouterError::Duplicate { dest, class });
        }
        let inner = Arc::make_mut(&mut self.inner);
        *inner.slot_mut(dest, class) = Some(entry);
        inner.len += 1;
        Ok(())
    }

    /// Removes and returns the route of this destination and class.
    pub fn remove(&mut self, dest: IpNet, class: RouteClass) -> Result<RouteEntry, RouterError> {
        let not_found = RouterError::NotFound { dest, class };
        if self.get(dest, class).is_none() {
            return Err(not_found);
        }
        let inner = Arc::make_mut(&mut self.inner);
        let removed = match dest {
            IpNet::V4(n) => inner
                .v4
                .remove(u32::from(n.network()), n.prefix_len(), class),
            IpNet::V6(n) => inner
                .v6
                .remove(u128::from(n.network()), n.prefix_len(), class),
        };
        let entry = removed.ok_or(not_found)?;
        inner.len -= 1;
        Ok(entry)
    }

    /// The route of exactly this destination and class.
    pub fn get(&self, dest: IpNet, class: RouteClass) -> Option<&RouteEntry> {
        let found = match dest {
            IpNet::V4(n) => self
                .inner
                .v4
                .get(u32::from(n.network()), n.prefix_len(), class),
            IpNet::V6(n) => self
                .inner
                .v6
                .get(u128::from(n.network()), n.prefix_len(), class),
        };
        // The index is keyed by the masked address: 10.0.0.1/8 is not 10.0.0.0/8.
        found.filter(|e| e.dest == dest)
    }

    /// Every route: IPv4 before IPv6, then in order of precedence (longest
    /// prefix first, Custom before System), then by destination address.
    pub fn entries(&self) -> impl Iterator<Item = &RouteEntry> + '_ {
        let mut all: Vec<&RouteEntry> = self.inner.v4.iter().chain(self.inner.v6.iter()).collect();
        all.sort_by_key(|e| (e.dest.max_prefix_len(), priority(e), e.dest.network()));
        all.into_iter()
    }

    /// The NIC ids its `nic:ID` routes name.
    pub fn nics_named(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries().filter_map(|e| match e.target {
            RouterTarget::Nic(id) => Some(id),
            _ => None,
        })
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the table has no route.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The route for `addr`: the longest matching prefix of its family, a
    /// Custom route winning at equal length. IPv4 addresses only match IPv4
    /// routes and IPv6 addresses only IPv6 routes.
    pub fn lookup(&self, addr: IpAddr) -> Option<&RouteEntry> {
        match addr {
            IpAddr::V4(a) => self.inner.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.inner.v6.lookup(u128::from(a)),
        }
    }
}

impl Inner {
    /// The slot of `(dest, class)`, creating its level and key when missing.
    fn slot_mut(&mut self, dest: IpNet, class: RouteClass) -> &mut Option<RouteEntry> {
        match dest {
            IpNet::V4(n) => self
                .v4
                .slot_mut(u32::from(n.network()), n.prefix_len(), class),
            IpNet::V6(n) => self
                .v6
                .slot_mut(u128::from(n.network()), n.prefix_len(), class),
        }
    }
}

/// An address as an integer, masked to a prefix length.
trait Key: Copy + Eq + Hash {
    /// Address width in bits.
    const WIDTH: u8;
    /// Keeps the top `len` bits.
    fn masked(self, len: u8) -> Self;
}

impl Key for u32 {
    const WIDTH: u8 = 32;
    fn masked(self, len: u8) -> Self {
        // checked_shl: a /0 shifts by the full width, which plain << rejects.
        self & u32::MAX
            .checked_shl(u32::from(Self::WIDTH.saturating_sub(len)))
            .unwrap_or(0)
    }
}

impl Key for u128 {
    const WIDTH: u8 = 128;
    fn masked(self, len: u8) -> Self {
        self & u128::MAX
            .checked_shl(u32::from(Self::WIDTH.saturating_sub(len)))
            .unwrap_or(0)
    }
}

/// The routes of one address family, grouped by prefix length so that a
/// lookup costs one hash probe per length present, longest first.
#[derive(Debug, Clone)]
struct Family<K> {
    /// Only lengths that hold a route, sorted by descending length.
    levels: Vec<Level<K>>,
}

impl<K> Default for Family<K> {
    fn default() -> Self {
        Family { levels: Vec::new() }
    }
}

#[derive(Debug, Clone)]
struct Level<K> {
    len: u8,
    routes: HashMap<K, Slot>,
}

/// The routes of one prefix; never both `None` while stored.
#[derive(Debug, Clone, Default)]
struct Slot {
    custom: Option<RouteEntry>,
    system: Option<RouteEntry>,
}

impl Slot {
    fn get(&self, class: RouteClass) -> Option<&RouteEntry> {
        match class {
            RouteClass::Custom => self.custom.as_ref(),
            RouteClass::System => self.system.as_ref(),
        }
    }

    fn get_mut(&mut self, class: RouteClass) -> &mut Option<RouteEntry> {
        match class {
            RouteClass::Custom => &mut self.custom,
            RouteClass::System => &mut self.system,
        }
    }

    fn best(&self) -> Option<&RouteEntry> {
        self.custom.as_ref().or(self.system.as_ref())
    }
}

impl<K: Key> Family<K> {
    fn lookup(&self, addr: K) -> Option<&RouteEntry> {
        self.levels
            .iter()
            .find_map(|l| l.routes.get(&addr.masked(l.len)).and_then(Slot::best))
    }

    fn level(&self, len: u8) -> Result<usize, usize> {
        self.levels.binary_search_by(|l| len.cmp(&l.len))
    }

    fn get(&self, key: K, len: u8, class: RouteClass) -> Option<&RouteEntry> {
        let level = self.levels.get(self.level(len).ok()?)?;
        level.routes.get(&key)?.get(class)
    }

    fn slot_mut(&mut self, key: K, len: u8, class: RouteClass) -> &mut Option<RouteEntry> {
        let at = match self.level(len) {
            Ok(at) => at,
            Err(at) => {
                let routes = HashMap::new();
                self.levels.insert(at, Level { len, routes });
                at
            }
        };
        // Indexing is in bounds: `at` was found or inserted just above.
        self.levels[at]
            .routes
            .entry(key)
            .or_default()
            .get_mut(class)
    }

    /// Removes a route, dropping its slot and level once empty so that
    /// lookups only probe lengths that hold a route.
    fn remove(&mut self, key: K, len: u8, class: RouteClass) -> Option<RouteEntry> {
        let at = self.level(len).ok()?;
        let level = self.levels.get_mut(at)?;
        let slot = level.routes.get_mut(&key)?;
        let entry = slot.get_mut(class).take();
        if slot.best().is_none() {
            level.routes.remove(&key);
        }
        if level.routes.is_empty() {
            self.levels.remove(at);
        }
        entry
    }

    fn iter(&self) -> impl Iterator<Item = &RouteEntry> + '_ {
        self.levels
            .iter()
            .flat_map(|l| l.routes.values())
            .flat_map(|s| s.custom.iter().chain(s.system.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn entry(dest: &str, target: RouterTarget, class: RouteClass) -> RouteEntry {
        RouteEntry {
            dest: net(dest),
            target,
            class,
        }
    }

    fn table(routes: &[(&str, RouterTarget, RouteClass)]) -> RouterTable {
        let mut t = RouterTable::new();
        for (d, target, class) in routes {
            t.add(entry(d, target.clone(), *class)).unwrap();
        }
        t
    }

    fn target_of(t: &RouterTable, addr: &str) -> Option<RouterTarget> {
        t.lookup(ip(addr)).map(|e| e.target.clone())
    }

    use RouteClass::{Custom, System};
    use RouterTarget::{Drop, InternetGateway, Nic, VpcSubnet};

    #[test]
    fn longest_prefix_wins_v4() {
        let t = table(&[
            ("10.0.0.0/8", Nic(1), System),
            ("10.1.0.0/16", Nic(2), System),
            ("10.1.2.0/24", Nic(3), System),
            ("10.1.2.3/32", Nic(4), System),
        ]);
        assert_eq!(target_of(&t, "10.9.9.9"), Some(Nic(1)));
        assert_eq!(target_of(&t, "10.1.9.9"), Some(Nic(2)));
        assert_eq!(target_of(&t, "10.1.2.9"), Some(Nic(3)));
        assert_eq!(target_of(&t, "10.1.2.3"), Some(Nic(4)));
        assert_eq!(target_of(&t, "11.0.0.1"), None);
    }

    #[test]
    fn longest_prefix_wins_v6() {
        let t = table(&[
            ("fd00::/8", Nic(1), System),
            ("fd00:1::/32", Nic(2), Custom),
            ("fd00:1:2::/48", Nic(3), System),
            ("fd00:1:2::7/128", Nic(4), Custom),
        ]);
        assert_eq!(target_of(&t, "fd99::1"), Some(Nic(1)));
        assert_eq!(target_of(&t, "fd00:1:9::1"), Some(Nic(2)));
        assert_eq!(target_of(&t, "fd00:1:2::1"), Some(Nic(3)));
        assert_eq!(target_of(&t, "fd00:1:2::7"), Some(Nic(4)));
        assert_eq!(target_of(&t, "fe80::1"), None);
    }

    #[test]
    fn custom_beats_system_at_equal_length_only() {
        let t = table(&[
            ("10.0.0.0/16", Drop, System),
            ("10.0.0.0/16", Nic(7), Custom),
            ("10.0.0.0/8", Nic(8), Custom),
            ("10.0.5.0/24", Nic(9), System),
        ]);
        assert_eq!(target_of(&t, "10.0.1.1"), Some(Nic(7)));
        assert_eq!(target_of(&t, "10.0.5.1"), Some(Nic(9)));
        assert_eq!(target_of(&t, "10.3.0.1"), Some(Nic(8)));
    }

    #[test]
    fn removing_custom_uncovers_system() {
        let mut t = table(&[
            ("10.0.0.0/16", Drop, System),
            ("10.0.0.0/16", Nic(7), Custom),
        ]);
        let gone = t.remove(net("10.0.0.0/16"), Custom).unwrap();
        assert_eq!(gone.target, Nic(7));
        assert_eq!(target_of(&t, "10.0.1.1"), Some(Drop));
        t.remove(net("10.0.0.0/16"), System).unwrap();
        assert!(t.is_empty());
        assert_eq!(target_of(&t, "10.0.1.1"), None);
    }

    #[test]
    fn default_routes_per_family() {
        let t = table(&[
            ("0.0.0.0/0", InternetGateway(None), System),
            ("::/0", InternetGateway(Some(3)), System),
            ("172.30.0.0/22", VpcSubnet(net("172.30.0.0/22")), System),
        ]);
        assert_eq!(target_of(&t, "8.8.8.8"), Some(InternetGateway(None)));
        assert_eq!(
            target_of(&t, "255.255.255.255"),
            Some(InternetGateway(None))
        );
        assert_eq!(target_of(&t, "2001:db8::1"), Some(InternetGateway(Some(3))));
        assert_eq!(
            target_of(&t, "172.30.1.4"),
            Some(VpcSubnet(net("172.30.0.0/22")))
        );
    }

    #[test]
    fn families_do_not_mix() {
        let v4_only = table(&[("0.0.0.0/0", Drop, System)]);
        assert_eq!(target_of(&v4_only, "::1"), None);
        assert_eq!(target_of(&v4_only, "::ffff:10.0.0.1"), None);
        let v6_only = table(&[("::/0", Drop, System)]);
        assert_eq!(target_of(&v6_only, "10.0.0.1"), None);
    }

    #[test]
    fn duplicate_is_refused_and_table_unchanged() {
        let mut t = table(&[("10.0.0.0/8", Nic(1), Custom)]);
        let err = t.add(entry("10.0.0.0/8", Nic(2), Custom)).unwrap_err();
        assert_eq!(err.to_string(), "route 10.0.0.0/8 (custom) already exists");
        assert_eq!(target_of(&t, "10.1.1.1"), Some(Nic(1)));
        assert_eq!(t.len(), 1);
        // Same prefix, other class: allowed.
        t.add(entry("10.0.0.0/8", Nic(2), System)).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn host_bits_are_refused() {
        let mut t = RouterTable::new();
        let err = t.add(entry("10.0.0.1/8", Drop, Custom)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"
        );
        let err = t.add(entry("fd00::1/64", Drop, Custom)).unwrap_err();
        assert!(err.to_string().contains("did you mean fd00::/64?"));
        assert!(t.is_empty());
    }

    #[test]
    fn remove_missing_is_an_error() {
        let mut t = table(&[("10.0.0.0/8", Nic(1), Custom)]);
        let err = t.remove(net("10.0.0.0/8"), System).unwrap_err();
        assert_eq!(err.to_string(), "route 10.0.0.0/8 (system) not found");
        assert!(t.remove(net("10.0.0.0/9"), Custom).is_err());
        assert!(t.remove(net("10.0.0.1/8"), Custom).is_err());
        assert!(t.remove(net("::/0"), Custom).is_err());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn clones_are_independent() {
        let a = table(&[("10.0.0.0/8", Nic(1), Custom)]);
        let mut b = a.clone();
        b.add(entry("10.1.0.0/16", Nic(2), Custom)).unwrap();
        assert_eq!(target_of(&a, "10.1.0.1"), Some(Nic(1)));
        assert_eq!(target_of(&b, "10.1.0.1"), Some(Nic(2)));
    }

    #[test]
    fn entries_are_sorted() {
        let t = table(&[
            ("::/0", Drop, System),
            ("10.0.0.0/8", Nic(1), System),
            ("0.0.0.0/0", Drop, System),
            ("10.0.0.0/8", Nic(2), Custom),
            ("9.0.0.0/8", Nic(3), Custom),
            ("10.1.0.0/16", Nic(4), System),
        ]);
        let got: Vec<String> = t
            .entries()
            .map(|e| format!("{} {}", e.dest, e.class))
            .collect();
        assert_eq!(
            got,
            [
                "10.1.0.0/16 system",
                "9.0.0.0/8 custom",
                "10.0.0.0/8 custom",
                "10.0.0.0/8 system",
                "0.0.0.0/0 system",
                "::/0 system",
            ]
        );
    }

    #[test]
    fn priority_formula() {
        let p = |d: &str, c| priority(&entry(d, Drop, c));
        assert_eq!(p("10.0.0.1/32", Custom), 10);
        assert_eq!(p("10.0.0.1/32", System), 11);
        assert_eq!(p("10.0.0.0/24", Custom), 26);
        assert_eq!(p("10.0.0.0/24", System), 27);
        assert_eq!(p("0.0.0.0/0", System), 75);
        assert_eq!(p("fd00::1/128", Custom), 10);
        assert_eq!(p("fd00::/64", System), 139);
        assert_eq!(p("::/0", System), 267);
    }

    #[test]
    fn serde_round_trip() {
        let e = entry("10.0.0.0/8", InternetGateway(Some(4)), Custom);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"dest":"10.0.0.0/8","target":{"type":"internet-gateway","value":4},"class":"custom"}"#
        );
        assert_eq!(serde_json::from_str::<RouteEntry>(&json).unwrap(), e);
        let drop: RouterTarget = serde_json::from_str(r#"{"type":"drop"}"#).unwrap();
        assert_eq!(drop, Drop);
    }

    use crate::testing::Rng;

    /// Addresses drawn from a small pool of prefixes so that routes overlap.
    fn random_addr(rng: &mut Rng) -> IpAddr {
        if rng.below(2) == 0 {
            let base = [0x0a00_0000u32, 0x0a01_0000, 0xc0a8_0000][rng.below(3) as usize];
            let low = (rng.next() as u32).checked_shr(rng.below(33) as u32);
            IpAddr::from(Ipv4Addr::from(base ^ low.unwrap_or(0)))
        } else {
            let base = [0xfd00u128 << 112, 0xfd00_0001u128 << 96][rng.below(2) as usize];
            let noise = u128::from(rng.next()) << 64 | u128::from(rng.next());
            let low = noise.checked_shr(rng.below(129) as u32);
            IpAddr::from(Ipv6Addr::from(base ^ low.unwrap_or(0)))
        }
    }

    #[test]
    fn lookup_matches_lowest_priority_brute_force() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut t = RouterTable::new();
        let mut all: Vec<RouteEntry> = Vec::new();
        while all.len() < 400 {
            let addr = random_addr(&mut rng);
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = rng.below(max + 1) as u8;
            let dest = IpNet::new(addr, len).unwrap().trunc();
            let class = if rng.below(2) == 0 { Custom } else { System };
            let e = RouteEntry {
                dest,
                target: Nic(all.len() as u32),
                class,
            };
            let dup = all.iter().any(|o| o.dest == dest && o.class == class);
            assert_eq!(t.add(e.clone()).is_err(), dup);
            if !dup {
                all.push(e);
            }
        }
        // Remove a few so that emptied slots and levels are exercised.
        for _ in 0..40 {
            let e = all.swap_remove(rng.below(all.len() as u64) as usize);
            assert_eq!(t.remove(e.dest, e.class).unwrap(), e);
        }
        assert_eq!(t.len(), all.len());
        // Prefix lengths of the winning routes: the check is only worth
        // something if many different lengths win.
        let mut won = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let addr = random_addr(&mut rng);
            let want = all
                .iter()
                .filter(|e| e.dest.contains(&addr))
                .min_by_key(|e| priority(e));
            assert_eq!(t.lookup(addr), want, "lookup {addr}");
            won.extend(want.map(|e| (e.dest.max_prefix_len(), e.dest.prefix_len())));
        }
        assert!(won.len() > 40, "only {} lengths won", won.len());
    }
}
