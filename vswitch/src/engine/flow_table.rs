//! The unified flow table (UFT) of one worker: one entry per connection,
//! keyed by (port, 5-tuple in the outbound orientation), so that both
//! directions of a flow share one entry, one epoch and one TCP state.
//!
//! Bounded: when full, expired entries are reclaimed; if none is, the insert
//! is refused and the caller drops the packet with a counted reason. Time is
//! passed in (nanoseconds on any monotonic clock), so tests choose it.

use super::tcp::TcpTracker;
use super::{FlowKey, PortIdx};
use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

/// Default idle timeout of a non-TCP flow.
pub const DEFAULT_TTL_NS: u64 = 60 * 1_000_000_000;

/// OPTE's bound on a port's firewall flow table, used as the default capacity.
pub const DEFAULT_CAPACITY: usize = 524_288;

/// A flow's key: the guest port and the 5-tuple as the guest sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowId {
    /// The guest port.
    pub port: PortIdx,
    /// The 5-tuple, outbound orientation (guest is the source).
    pub key: FlowKey,
}

/// A cached flow.
#[derive(Debug, Clone)]
pub struct FlowEntry<V> {
    /// What the slow path computed for the flow.
    pub value: V,
    /// The port epoch `value` was computed at; an older one is stale.
    pub epoch: u64,
    /// When a packet of the flow was last seen.
    pub last_seen_ns: u64,
    /// TCP state, for TCP flows.
    pub tcp: Option<TcpTracker>,
    /// Packets that used the entry.
    pub hits: u64,
}

impl std::hash::Hash for FlowId {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c, d] = self.key.words();
        state.write_u64(a);
        state.write_u64(b);
        state.write_u64(c ^ self.port as u64);
        state.write_u64(d);
    }
}

impl<V> FlowEntry<V> {
    /// A new entry seen at `now_ns`.
    pub fn new(value: V, epoch: u64, now_ns: u64, tcp: Option<TcpTracker>) -> Self {
        FlowEntry {
            value,
            epoch,
            last_seen_ns: now_ns,
            tcp,
            hits: 0,
        }
    }

    /// How long the flow may stay idle.
    pub fn ttl_ns(&self, default_ttl_ns: u64) -> u64 {
        match &self.tcp {
            Some(t) => t.state().ttl_secs() * 1_000_000_000,
            None => default_ttl_ns,
        }
    }

    /// Whether the flow has been idle longer than its TTL at `now_ns`.
    pub fn expired(&self, now_ns: u64, default_ttl_ns: u64) -> bool {
        now_ns.saturating_sub(self.last_seen_ns) > self.ttl_ns(default_ttl_ns)
            || self.tcp.is_some_and(|t| t.state().ttl_secs() == 0)
    }
}

/// Counters of a flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTableCounters {
    /// Entries created.
    pub inserted: u64,
    /// Entries removed because they expired.
    pub expired: u64,
    /// Inserts refused because the table was full.
    pub refused: u64,
}

/// The insert was refused: the table is full of live flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

/// A bounded flow table.
#[derive(Debug)]
pub struct FlowTable<V> {
    map: HashMap<FlowId, FlowEntry<V>>,
    capacity: usize,
    default_ttl_ns: u64,
    counters: FlowTableCounters,
}

impl<V> FlowTable<V> {
    /// An empty table holding at most `capacity` flows.
    pub fn new(capacity: usize, default_ttl_ns: u64) -> Self {
        FlowTable {
            map: HashMap::with_capacity(capacity.min(1 << 16)),
            capacity: capacity.max(1),
            default_ttl_ns,
            counters: FlowTableCounters::default(),
        }
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most flows it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Its counters.
    pub fn counters(&self) -> FlowTableCounters {
        self.counters
    }

    /// The live entry of `id` at `now_ns`, its last-seen time updated.
    /// An expired entry is removed and reported as absent. One probe.
    #[inline]
    pub fn get_mut(&mut self, id: &FlowId, now_ns: u64) -> Option<&mut FlowEntry<V>> {
        let ttl = self.default_ttl_ns;
        match self.map.entry(*id) {
            Entry::Occupied(o) => {
                if o.get().expired(now_ns, ttl) {
                    o.remove();
                    self.counters.expired += 1;
                    return None;
                }
                let e = o.into_mut();
                e.last_seen_ns = now_ns;
                e.hits += 1;
                Some(e)
            }
            Entry::Vacant(_) => None,
        }
    }

    /// Inserts (or replaces) the entry of `id`. When the table is full, expired
    /// entries are reclaimed first; if none is, the insert is refused.
    pub fn insert(
        &mut self,
        id: FlowId,
        entry: FlowEntry<V>,
        now_ns: u64,
    ) -> Result<&mut FlowEntry<V>, TableFull> {
        if self.map.len() >= self.capacity && !self.map.contains_key(&id) {
            self.expire(now_ns);
            if self.map.len() >= self.capacity {
                self.counters.refused += 1;
                return Err(TableFull);
            }
        }
        self.counters.inserted += 1;
        match self.map.entry(id) {
            Entry::Occupied(mut o) => {
                o.insert(entry);
                Ok(o.into_mut())
            }
            Entry::Vacant(v) => Ok(v.insert(entry)),
        }
    }

    /// Removes the entry of `id`.
    pub fn remove(&mut self, id: &FlowId) -> Option<FlowEntry<V>> {
        self.map.remove(id)
    }

    /// Removes every expired entry; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> usize {
        let ttl = self.default_ttl_ns;
        let before = self.map.len();
        self.map.retain(|_, e| !e.expired(now_ns, ttl));
        let n = before - self.map.len();
        self.counters.expired += n as u64;
        n
    }

    /// Removes every entry (of one port, when given); returns how many.
    pub fn clear(&mut self, port: Option<PortIdx>) -> usize {
        let before = self.map.len();
        match port {
            None => self.map.clear(),
            Some(p) => self.map.retain(|id, _| id.port != p),
        }
        before - self.map.len()
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowId, &FlowEntry<V>)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tcp::{flags, TcpState};
    use super::super::{proto, Direction};
    use super::*;

    const S: u64 = 1_000_000_000;

    fn id(port: PortIdx, sport: u16, p: u8) -> FlowId {
        FlowId {
            port,
            key: FlowKey {
                proto: p,
                src: "10.0.0.5".parse().unwrap(),
                dst: "10.0.0.6".parse().unwrap(),
                src_port: sport,
                dst_port: 80,
                icmp: None,
            },
        }
    }

    #[test]
    fn udp_flow_expires_after_default_ttl() {
        let mut t = FlowTable::new(16, DEFAULT_TTL_NS);
        t.insert(id(0, 1, proto::UDP), FlowEntry::new("x", 1, 0, None), 0)
            .unwrap();
        assert!(
            t.get_mut(&id(0, 1, proto::UDP), 59 * S).is_some(),
            "alive before 60 s idle"
        );
        assert!(
            t.get_mut(&id(0, 1, proto::UDP), 119 * S).is_some(),
            "a packet refreshes it"
        );
        assert!(
            t.get_mut(&id(0, 1, proto::UDP), 180 * S).is_none(),
            "61 s idle: gone"
        );
        assert_eq!(t.len(), 0);
        assert_eq!(t.counters().expired, 1);
    }

    #[test]
    fn tcp_ttl_follows_state() {
        let mut t = FlowTable::new(16, DEFAULT_TTL_NS);
        let f = id(0, 2, proto::TCP);
        t.insert(
            f,
            FlowEntry::new((), 1, 0, Some(TcpTracker::new(flags::SYN))),
            0,
        )
        .unwrap();
        assert!(
            t.get_mut(&f, 6 * S).is_none(),
            "an unanswered SYN lives 5 s"
        );

        t.insert(
            f,
            FlowEntry::new((), 1, 0, Some(TcpTracker::new(flags::SYN))),
            0,
        )
        .unwrap();
        let e = t.get_mut(&f, S).unwrap();
        let tcp = e.tcp.as_mut().unwrap();
        tcp.update(Direction::In, flags::SYN | flags::ACK);
        tcp.update(Direction::Out, flags::ACK);
        assert_eq!(tcp.state(), TcpState::Established);
        assert!(
            t.get_mut(&f, 7000 * S).is_some(),
            "established lives 8000 s idle"
        );
        let e = t.get_mut(&f, 7001 * S).unwrap();
        e.tcp.as_mut().unwrap().update(Direction::Out, flags::RST);
        assert_eq!(t.expire(7001 * S), 1, "a reset flow goes at once");
    }

    #[test]
    fn full_table_reclaims_expired_then_refuses() {
        let mut t = FlowTable::new(2, DEFAULT_TTL_NS);
        t.insert(id(0, 1, proto::UDP), FlowEntry::new(1, 1, 0, None), 0)
            .unwrap();
        t.insert(
            id(0, 2, proto::UDP),
            FlowEntry::new(2, 1, 30 * S, None),
            30 * S,
        )
        .unwrap();
        assert_eq!(
            t.insert(
                id(0, 3, proto::UDP),
                FlowEntry::new(3, 1, 40 * S, None),
                40 * S
            )
            .err(),
            Some(TableFull)
        );
        assert_eq!(t.counters().refused, 1);
        // At 70 s the first flow has expired: its slot is reclaimed.
        assert!(t
            .insert(
                id(0, 3, proto::UDP),
                FlowEntry::new(3, 1, 70 * S, None),
                70 * S
            )
            .is_ok());
        assert_eq!(t.len(), 2);
        // Replacing an existing entry never needs room.
        assert!(t
            .insert(
                id(0, 3, proto::UDP),
                FlowEntry::new(4, 2, 71 * S, None),
                71 * S
            )
            .is_ok());
    }

    #[test]
    fn clear_by_port() {
        let mut t = FlowTable::new(16, DEFAULT_TTL_NS);
        t.insert(id(0, 1, proto::UDP), FlowEntry::new((), 1, 0, None), 0)
            .unwrap();
        t.insert(id(1, 1, proto::UDP), FlowEntry::new((), 1, 0, None), 0)
            .unwrap();
        assert_eq!(t.clear(Some(1)), 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.clear(None), 1);
    }
}
