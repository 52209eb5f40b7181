//! The unified flow table (UFT) of one worker: one entry per connection,
//! keyed by (port, 5-tuple in the outbound orientation), so that both
//! directions of a flow share one entry, one epoch and one TCP state.
//!
//! Bounded, and never slowed by being full (no step on the packet path
//! scans the table):
//!
//! - Every flow is on one recency list of its port and [`FlowClass`]
//!   (`lists.rs`). Expiry is a sweep that walks from the lists' heads a
//!   bounded number of steps per call ([`FlowTable::sweep`]); a lookup that
//!   finds an entry expired removes it too.
//! - A full table makes room in O(1): expired entries first, then embryonic
//!   ones (unanswered handshakes, flows seen one way, refused traffic), least
//!   recently used first, taken from the port holding the most of them;
//!   established flows go last, and only from a port holding more flows than
//!   the one inserting (a fair share).
//! - Each port has a quota: a port at its quota evicts its own expired or
//!   embryonic flows, or is refused; it never takes another port's room.
//! - Removed entries are handed over by [`FlowTable::reap`], so that what
//!   they hold (a NAT port) is released before anything reuses it.
//!
//! Time is passed in (nanoseconds on any monotonic clock), so tests choose it.
//!
//! The table is our own rather than a general hash map because, with many
//! flows, every lookup misses the cache, and the way to hide that (as VPP and
//! DPDK's `rte_hash` do) is to hash a whole burst first and prefetch each
//! packet's bucket, then its entry, before processing any packet; hashbrown
//! gives no way to prefetch a bucket ahead of the lookup. The layout:
//!
//! - Buckets of one cache line each: seven 32-bit tags (high bits of the
//!   hash, 0 = empty lane), seven slot indices and an overflow count. Their
//!   number is fixed at creation (a power of two, load at most about one half),
//!   so the table never rehashes on the data path.
//! - A key goes to its home bucket (low bits of the hash) or, when that is
//!   full, to the next bucket with room; every bucket passed counts it in its
//!   `overflow`. A lookup stops at the first bucket without a match whose
//!   overflow is 0; a removal decrements the counts on its path, so no
//!   tombstones are needed (the F14 scheme).
//! - Entries live in a slab of fixed-size chunks, addressed by the slot
//!   index: growth adds a chunk and never moves an entry. A slot is aligned to
//!   a cache line, so an entry costs two lines to prefetch.
//! - The index and each chunk are 2 MB-aligned and backed by transparent huge
//!   pages where the kernel allows: at 100,000 flows the table spans about
//!   30 MB, and with 4 KB pages most lookups also missed the TLB, whose page
//!   walk held up even the prefetches (encap-100k 6.6 -> 8.5 Mpps with them).

use crate::flow::lists::ClassLists;
pub use crate::flow::lists::FlowClass;
use crate::flow::tcp::{TcpState, TcpTracker};
use crate::{Direction, FlowKey, KeyWords, PortIdx};
use mem::{prefetch, prefetch_offset, HugeArray};
use std::hash::BuildHasher;

/// Default idle timeout of a non-TCP flow.
pub const DEFAULT_TTL_NS: u64 = 60 * 1_000_000_000;

/// Idle timeout of a flow whose traffic is refused (a cached drop): short,
/// so that refused traffic holds no lasting state.
pub const REFUSED_TTL_NS: u64 = 5 * 1_000_000_000;

/// OPTE's bound on a port's firewall flow table, used as the default capacity.
pub const DEFAULT_CAPACITY: usize = 524_288;

/// Where a flow's remote end is: inside the VPC (reached over the underlay
/// by VNI), or on the internet (through the boundary, with NAT). Part of the
/// key, so that a packet from one never finds a flow of the other, even
/// with the same 5-tuple after DNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Realm {
    /// VPC traffic (guests of the VNI, on this sled or another).
    Vpc = 0,
    /// Internet-gateway traffic (SNAT, floating and ephemeral IPs).
    Internet = 1,
}

impl Realm {
    /// The other realm.
    #[inline]
    pub fn other(self) -> Realm {
        match self {
            Realm::Vpc => Realm::Internet,
            Realm::Internet => Realm::Vpc,
        }
    }
}

/// A flow's key: the guest port, the realm and the 5-tuple as the guest sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowId {
    /// The guest port.
    pub port: PortIdx,
    /// Where the remote end is.
    pub realm: Realm,
    /// The 5-tuple, outbound orientation (guest is the source).
    pub key: FlowKey,
}

/// What the hash and the lookup see of a flow's port and realm, in one word.
#[inline(always)]
fn zone(port: PortIdx, realm: Realm) -> u64 {
    u64::from(port) | (realm as u64) << 16
}

/// Which directions a flow has seen packets in (bits of [`FlowEntry::seen`]).
const SEEN_OUT: u8 = 1;
const SEEN_IN: u8 = 2;

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
    /// The directions packets were seen in.
    pub seen: u8,
    /// Whether the flow's traffic is refused (its transforms drop): it then
    /// lives [`REFUSED_TTL_NS`] and is evicted among the first.
    pub refused: bool,
}

impl std::hash::Hash for FlowId {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        write_words(state, zone(self.port, self.realm), &self.key.words());
    }
}

/// Whether two packed keys are equal, without a call to `bcmp` (which an
/// array comparison becomes).
#[inline(always)]
fn words_eq(a: &KeyWords, b: &KeyWords) -> bool {
    a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// The flow table's keyed hash of a packed key: three independent 64x64 ->
/// 128-bit multiplies folded to 64 bits (foldhash's mixing step), then one
/// more over their results. The three run in parallel, so the lookup, which
/// waits on the hash, starts two multiplies after the key is read rather
/// than after foldhash's chain of three; the random keys keep an outsider
/// from choosing colliding flows.
#[derive(Debug, Clone, Copy)]
struct FlowHasher {
    k: [u64; 8],
}

#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl FlowHasher {
    /// Keys drawn from foldhash's per-process random seed.
    fn new() -> Self {
        let seed = foldhash::fast::RandomState::default();
        let mut k = [0u64; 8];
        for (i, x) in k.iter_mut().enumerate() {
            // Odd, so no key turns a multiplier into zero by itself.
            *x = seed.hash_one(i as u64 ^ 0x9e37_79b9_7f4a_7c15) | 1;
        }
        FlowHasher { k }
    }

    #[inline(always)]
    fn hash(&self, zone: u64, w: &KeyWords) -> u64 {
        let k = &self.k;
        let x = folded_multiply(w[1] ^ k[0], w[3] ^ k[1]);
        let y = folded_multiply(w[0] ^ k[2], w[4] ^ k[3]);
        let z = folded_multiply(w[2] ^ k[4], zone ^ k[5]);
        folded_multiply(x ^ z ^ k[6], y ^ k[7])
    }
}

/// What a flow's hash is made of: its key's words, the zone folded in.
#[inline]
fn write_words<H: std::hash::Hasher>(state: &mut H, zone: u64, w: &KeyWords) {
    state.write_u64(w[0]);
    state.write_u64(w[1]);
    state.write_u64(w[2]);
    state.write_u64(w[3] ^ zone);
    state.write_u64(w[4]);
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
            seen: 0,
            refused: false,
        }
    }

    /// Notes a packet of the flow seen in direction `dir` with TCP flags
    /// `tcp_flags` (its TCP state and the directions seen).
    #[inline]
    pub fn saw(&mut self, dir: Direction, tcp_flags: u8) {
        if let Some(t) = self.tcp.as_mut() {
            t.update(dir, tcp_flags);
        }
        self.seen |= match dir {
            Direction::Out => SEEN_OUT,
            Direction::In => SEEN_IN,
        };
    }

    /// Notes the direction of the flow's first packet (its TCP state was
    /// made from that packet's flags).
    pub fn saw_first(&mut self, dir: Direction) {
        self.seen |= match dir {
            Direction::Out => SEEN_OUT,
            Direction::In => SEEN_IN,
        };
    }

    /// How long the flow may stay idle.
    pub fn ttl_ns(&self, default_ttl_ns: u64) -> u64 {
        let ttl = match &self.tcp {
            Some(t) => t.state().ttl_secs() * 1_000_000_000,
            None => default_ttl_ns,
        };
        if self.refused {
            ttl.min(REFUSED_TTL_NS)
        } else {
            ttl
        }
    }

    /// Whether the flow has been idle longer than its TTL at `now_ns`.
    pub fn expired(&self, now_ns: u64, default_ttl_ns: u64) -> bool {
        now_ns.saturating_sub(self.last_seen_ns) > self.ttl_ns(default_ttl_ns)
            || self.tcp.is_some_and(|t| t.state().ttl_secs() == 0)
    }

    /// How far the flow has come (which list it belongs on).
    pub fn class(&self) -> FlowClass {
        if self.refused {
            return FlowClass::Embryonic;
        }
        match self.tcp.map(|t| t.state()) {
            Some(TcpState::Established) => FlowClass::Established,
            Some(TcpState::FinWait | TcpState::Closing) => FlowClass::Closing,
            Some(_) => FlowClass::Embryonic,
            None if self.seen == SEEN_OUT | SEEN_IN => FlowClass::Replied,
            None => FlowClass::Unreplied,
        }
    }
}

/// The longest idle time of any flow of `class`: a list's head queued longer
/// ago than this and not expired was used since (see [`FlowTable::sweep`]).
fn class_ttl_ns(class: FlowClass, default_ttl_ns: u64) -> u64 {
    let tcp = |s: TcpState| s.ttl_secs() * 1_000_000_000;
    match class {
        FlowClass::Embryonic => tcp(TcpState::SynSent).max(REFUSED_TTL_NS),
        FlowClass::Unreplied | FlowClass::Replied => default_ttl_ns,
        FlowClass::Closing => tcp(TcpState::Closing),
        FlowClass::Established => tcp(TcpState::Established),
    }
}

/// Counters of a flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTableCounters {
    /// Entries created.
    pub inserted: u64,
    /// Entries removed because they expired.
    pub expired: u64,
    /// Inserts refused because the table was full (nothing could be evicted).
    pub refused: u64,
    /// Inserts refused because the port was at its quota with nothing of
    /// its own to evict.
    pub quota_refused: u64,
    /// Live entries evicted to make room, by the class they were in.
    pub evicted: [u64; FlowClass::COUNT],
}

/// Why an insert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The table is full and nothing could be evicted.
    TableFull,
    /// The port holds its quota of flows, none of them evictable.
    Quota,
}

/// Why an entry left the table, for [`FlowTable::reap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Idle past its TTL.
    Expired,
    /// Evicted to make room.
    Evicted,
    /// Removed on request (a port's flows cleared).
    Cleared,
}

/// Steps an eviction takes at most along one list (second chances given
/// to recently used heads) before it takes the head as it is.
const EVICT_STEPS: usize = 8;

/// Steps of the expiry sweep a full table takes before it evicts.
const FULL_SWEEP_STEPS: usize = 16;

/// Lanes (tag + slot index pairs) in a bucket: as many as fit one cache line
/// beside the overflow count.
const LANES: usize = 7;

/// One cache line of the index: the tags and slot indices of up to seven
/// entries, and how many entries homed at or before it are stored past it.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Bucket {
    /// High 32 bits of each entry's hash (forced nonzero); 0 marks a free lane.
    tags: [u32; LANES],
    /// Entries whose probe passed this bucket because it was full.
    overflow: u32,
    /// Slab index of each lane's entry (meaningful where the tag is nonzero).
    slots: [u32; LANES],
    _pad: u32,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        tags: [0; LANES],
        overflow: 0,
        slots: [0; LANES],
        _pad: 0,
    };

    /// The first free lane.
    #[inline]
    fn free_lane(&self) -> Option<usize> {
        self.tags.iter().position(|t| *t == 0)
    }
}

/// log2 of the entries in a slab chunk.
const CHUNK_BITS: u32 = 14;
/// Entries in a slab chunk: 2 MB of the engine's entries, one huge page.
const CHUNK: usize = 1 << CHUNK_BITS;

/// A stored entry with its key. Aligned to a cache line so that an entry
/// spans as few lines as its size allows (two for the engine's). The hash is
/// not kept: 8 more bytes would make the engine's entry three lines, and
/// only removal by slot (expiry, clearing a port) needs it again.
#[repr(align(64))]
struct Slot<V> {
    id: FlowId,
    entry: FlowEntry<V>,
}

type Chunk<V> = HugeArray<Option<Slot<V>>>;

/// The tag of a hash: its high half, never 0 (0 marks a free lane).
#[inline]
fn tag_of(hash: u64) -> u32 {
    ((hash >> 32) as u32).max(1)
}

/// A bounded flow table.
pub struct FlowTable<V> {
    /// The index; a power of two of buckets, fixed at creation.
    buckets: HugeArray<Bucket>,
    /// `buckets.len() - 1`.
    mask: usize,
    /// The entries; slot `i` is `chunks[i / CHUNK][i % CHUNK]`.
    chunks: Vec<Chunk<V>>,
    /// Slot indices of the allocated chunks not in use.
    free: Vec<u32>,
    len: usize,
    /// Internet-realm flows per port (the fast path looks that realm up
    /// only on a port that has some).
    internet: Vec<u32>,
    hasher: FlowHasher,
    capacity: usize,
    default_ttl_ns: u64,
    counters: FlowTableCounters,
    /// The recency lists of every stored flow, by port and class.
    lists: ClassLists,
    /// The list the sweep looks at next.
    sweep_at: usize,
    /// Entries removed (expired, evicted, cleared) and not yet handed over
    /// by [`Self::reap`], so that what they hold (a NAT port) is released
    /// before anything reuses it.
    dead: Vec<(FlowId, FlowEntry<V>, Removal)>,
    /// Replaces the hash, so that tests can make keys collide.
    #[cfg(test)]
    test_hash: Option<fn(&FlowId) -> u64>,
}

impl<V> std::fmt::Debug for FlowTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("buckets", &self.buckets.len())
            .field("counters", &self.counters)
            .finish()
    }
}

/// The most flows a table holds, whatever is asked: slot indices are 32-bit.
const MAX_CAPACITY: usize = 1 << 30;

impl<V> FlowTable<V> {
    /// An empty table holding at most `capacity` flows. Its index (64 bytes
    /// per 3.5 flows of capacity) is allocated now; entries as they come.
    pub fn new(capacity: usize, default_ttl_ns: u64) -> Self {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        // At most half the lanes in use: probes rarely leave the home bucket.
        let n = (capacity * 2).div_ceil(LANES).next_power_of_two();
        // Cannot overflow for a clamped capacity; were it to, a table with
        // no bucket finds nothing and refuses every insert (no panic).
        let buckets = HugeArray::new(n, || Bucket::EMPTY).unwrap_or_else(HugeArray::empty);
        FlowTable {
            mask: buckets.len().saturating_sub(1),
            buckets,
            chunks: Vec::new(),
            free: Vec::new(),
            len: 0,
            internet: Vec::new(),
            hasher: FlowHasher::new(),
            capacity,
            default_ttl_ns,
            counters: FlowTableCounters::default(),
            lists: ClassLists::default(),
            sweep_at: 0,
            dead: Vec::new(),
            #[cfg(test)]
            test_hash: None,
        }
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most flows it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Its counters.
    pub fn counters(&self) -> FlowTableCounters {
        self.counters
    }

    /// The hash this table files `id` under (seeded per table), for
    /// [`Self::prefetch_bucket`], [`Self::prefetch_entry`] and
    /// [`Self::get_mut_hashed`].
    #[inline]
    pub fn hash(&self, id: &FlowId) -> u64 {
        #[cfg(test)]
        if let Some(f) = self.test_hash {
            return f(id);
        }
        self.hasher.hash(zone(id.port, id.realm), &id.key.words())
    }

    /// [`Self::hash`] of the flow of `port` and `realm` whose key packs
    /// into `w`, from the words alone (the fast path reads them from the frame).
    #[inline]
    pub fn hash_words(&self, port: PortIdx, realm: Realm, w: &KeyWords) -> u64 {
        #[cfg(test)]
        if let Some(f) = self.test_hash {
            return f(&FlowId {
                port,
                realm,
                key: FlowKey::from_words(w),
            });
        }
        self.hasher.hash(zone(port, realm), w)
    }

    /// Starts loading the home bucket of `hash` into cache, so that a lookup
    /// a little later does not wait for memory.
    #[inline]
    pub fn prefetch_bucket(&self, hash: u64) {
        if let Some(b) = self.buckets.get(hash as usize & self.mask) {
            prefetch(b);
        }
    }

    /// Starts loading the entries of the home bucket of `hash` whose tag
    /// matches (normally the one entry looked for), every line of each. Reads the bucket, so call
    /// it once [`Self::prefetch_bucket`] has had time to bring it in.
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        let Some(b) = self.buckets.get(hash as usize & self.mask) else {
            return;
        };
        let tag = tag_of(hash);
        for (t, s) in b.tags.iter().zip(b.slots.iter()) {
            if *t == tag {
                if let Some(slot) = self.slot_ref(*s) {
                    prefetch(slot);
                    // The slot starts a line; its other lines (a constant count).
                    let mut at = 64;
                    while at < std::mem::size_of::<Option<Slot<V>>>() {
                        prefetch_offset(slot, at);
                        at += 64;
                    }
                }
            }
        }
    }

    /// Slot `s`, whether in use or not.
    #[inline]
    fn slot_ref(&self, s: u32) -> Option<&Option<Slot<V>>> {
        let s = s as usize;
        self.chunks.get(s >> CHUNK_BITS)?.get(s & (CHUNK - 1))
    }

    /// Slot `s`, writable.
    #[inline]
    fn slot_mut(&mut self, s: u32) -> Option<&mut Option<Slot<V>>> {
        let s = s as usize;
        self.chunks
            .get_mut(s >> CHUNK_BITS)?
            .get_mut(s & (CHUNK - 1))
    }

    /// The bucket, lane and slot holding `id`.
    #[inline]
    fn find(&self, id: &FlowId, hash: u64) -> Option<(usize, usize, u32)> {
        self.find_by(hash, |x| x == id)
    }

    /// The bucket, lane and slot of the entry with `hash` whose id `is` accepts.
    #[inline]
    fn find_by(&self, hash: u64, is: impl Fn(&FlowId) -> bool) -> Option<(usize, usize, u32)> {
        let tag = tag_of(hash);
        let mut b = hash as usize & self.mask;
        for _ in 0..self.buckets.len() {
            let bucket = self.buckets.get(b)?;
            // The lanes whose tag matches, as a bit mask: one branch-free pass
            // over the tags, then (almost always) one candidate to check.
            let mut lanes = bucket
                .tags
                .iter()
                .enumerate()
                .fold(0u32, |m, (i, t)| m | u32::from(*t == tag) << i);
            while lanes != 0 {
                let lane = lanes.trailing_zeros() as usize;
                lanes &= lanes - 1;
                if let Some(&s) = bucket.slots.get(lane) {
                    if let Some(Some(slot)) = self.slot_ref(s) {
                        if is(&slot.id) {
                            return Some((b, lane, s));
                        }
                    }
                }
            }
            if bucket.overflow == 0 {
                return None;
            }
            b = (b + 1) & self.mask;
        }
        None
    }

    /// The bucket and lane pointing at slot `s`, whose entry has `hash`.
    fn find_slot(&self, s: u32, hash: u64) -> Option<(usize, usize)> {
        let tag = tag_of(hash);
        let mut b = hash as usize & self.mask;
        for _ in 0..self.buckets.len() {
            let bucket = self.buckets.get(b)?;
            let lane = bucket
                .tags
                .iter()
                .zip(bucket.slots.iter())
                .position(|(t, x)| *t == tag && *x == s);
            if let Some(lane) = lane {
                return Some((b, lane));
            }
            if bucket.overflow == 0 {
                return None;
            }
            b = (b + 1) & self.mask;
        }
        None
    }

    /// Removes the entry at bucket `b`, lane `lane` (its hash `hash`): frees the
    /// lane, uncounts it from the overflow of the buckets its probe passed,
    /// takes it off its list and returns its slot to the free list.
    fn remove_at(&mut self, b: usize, lane: usize, hash: u64) -> Option<Slot<V>> {
        let s = *self.buckets.get(b)?.slots.get(lane)?;
        let mut p = hash as usize & self.mask;
        while p != b {
            if let Some(x) = self.buckets.get_mut(p) {
                x.overflow = x.overflow.saturating_sub(1);
            }
            p = (p + 1) & self.mask;
        }
        if let Some(t) = self.buckets.get_mut(b).and_then(|x| x.tags.get_mut(lane)) {
            *t = 0;
        }
        self.len = self.len.saturating_sub(1);
        self.lists.unlink(s);
        let slot = self.slot_mut(s)?.take();
        self.free.push(s);
        if let Some(x) = slot.as_ref().filter(|x| x.id.realm == Realm::Internet) {
            if let Some(n) = self.internet.get_mut(x.id.port as usize) {
                *n = n.saturating_sub(1);
            }
        }
        slot
    }

    /// Removes the entry in slot `s` and keeps it for [`Self::reap`].
    fn remove_slot(&mut self, s: u32, why: Removal) -> bool {
        let hash = match self.slot_ref(s) {
            Some(Some(slot)) => self.hash(&slot.id),
            _ => {
                // On a list but not in the slab: cannot happen; mend the list.
                self.lists.unlink(s);
                return false;
            }
        };
        let Some((b, lane)) = self.find_slot(s, hash) else {
            self.lists.unlink(s);
            return false;
        };
        match self.remove_at(b, lane, hash) {
            Some(slot) => {
                match why {
                    Removal::Expired => self.counters.expired += 1,
                    Removal::Evicted => {
                        if let Some(c) = self.counters.evicted.get_mut(slot.entry.class() as usize)
                        {
                            *c += 1;
                        }
                    }
                    Removal::Cleared => {}
                }
                self.dead.push((slot.id, slot.entry, why));
                true
            }
            None => false,
        }
    }

    /// The entry in slot `s`.
    fn entry_at(&self, s: u32) -> Option<&Slot<V>> {
        self.slot_ref(s)?.as_ref()
    }

    /// A free slot index, adding a chunk when none is left.
    fn alloc_slot(&mut self) -> Option<u32> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        let base = self.chunks.len() * CHUNK;
        if base + CHUNK > u32::MAX as usize {
            return None;
        }
        self.chunks.push(HugeArray::new(CHUNK, || None)?);
        self.lists.grow(self.chunks.len() * CHUNK);
        // Lowest index handed out first: entries fill a chunk in order.
        self.free
            .extend((base as u32 + 1..(base + CHUNK) as u32).rev());
        Some(base as u32)
    }

    /// The entry of `id` as it is: no expiry check, nothing refreshed (for
    /// checks on the side, such as whether a NAT port's holder still exists).
    pub fn get(&self, id: &FlowId) -> Option<&FlowEntry<V>> {
        let (_, _, s) = self.find(id, self.hash(id))?;
        self.slot_ref(s)?.as_ref().map(|slot| &slot.entry)
    }

    /// The live entry of `id` at `now_ns`, its last-seen time updated.
    /// An expired entry is removed and reported as absent.
    #[inline]
    pub fn get_mut(&mut self, id: &FlowId, now_ns: u64) -> Option<&mut FlowEntry<V>> {
        let hash = self.hash(id);
        self.get_mut_hashed(id, hash, now_ns)
    }

    /// [`Self::get_mut`] with the hash already computed by [`Self::hash`]
    /// (e.g. when the bucket was prefetched).
    #[inline]
    pub fn get_mut_hashed(
        &mut self,
        id: &FlowId,
        hash: u64,
        now_ns: u64,
    ) -> Option<&mut FlowEntry<V>> {
        let found = self.find(id, hash)?;
        self.use_found(found, hash, now_ns)
    }

    /// [`Self::get_mut_hashed`] of the flow of `port` and `realm` whose key
    /// packs into `w`, its hash `hash` from [`Self::hash_words`]; the fast
    /// path's lookup, which needs no [`FlowKey`].
    #[inline]
    pub fn get_mut_words(
        &mut self,
        port: PortIdx,
        realm: Realm,
        w: &KeyWords,
        hash: u64,
        now_ns: u64,
    ) -> Option<&mut FlowEntry<V>> {
        let found = self.find_by(hash, |x| {
            x.port == port && x.realm == realm && words_eq(&x.key.words(), w)
        })?;
        self.use_found(found, hash, now_ns)
    }

    /// The entry found at (bucket, lane, slot), unless it has expired (then
    /// it is removed and kept for [`Self::reap`]); its last-seen time updated.
    #[inline]
    fn use_found(
        &mut self,
        (b, lane, s): (usize, usize, u32),
        hash: u64,
        now_ns: u64,
    ) -> Option<&mut FlowEntry<V>> {
        let ttl = self.default_ttl_ns;
        let expired = match self.slot_ref(s)? {
            Some(slot) => slot.entry.expired(now_ns, ttl),
            None => return None,
        };
        if expired {
            if let Some(slot) = self.remove_at(b, lane, hash) {
                self.dead.push((slot.id, slot.entry, Removal::Expired));
            }
            self.counters.expired += 1;
            return None;
        }
        let e = &mut self.slot_mut(s)?.as_mut()?.entry;
        e.last_seen_ns = now_ns;
        e.hits += 1;
        Some(e)
    }

    /// Inserts (or replaces) the entry of `id`, its port holding at most
    /// `quota` flows. A port at its quota evicts its own expired or embryonic
    /// flows, or is refused; a full table evicts (see the module's doc).
    /// Evicted entries wait for [`Self::reap`].
    pub fn insert(
        &mut self,
        id: FlowId,
        entry: FlowEntry<V>,
        now_ns: u64,
        quota: usize,
    ) -> Result<&mut FlowEntry<V>, Refused> {
        let hash = self.hash(&id);
        if let Some((_, _, s)) = self.find(&id, hash) {
            self.counters.inserted += 1;
            let class = entry.class();
            if self.lists.class_of(s) != Some(class) {
                self.lists.requeue(s, id.port, class, now_ns);
            }
            let slot = self
                .slot_mut(s)
                .and_then(Option::as_mut)
                .ok_or(Refused::TableFull)?;
            slot.entry = entry;
            return Ok(&mut slot.entry);
        }
        self.make_room(id.port, now_ns, quota)?;
        // Fewer entries than lanes: a free lane exists, and the probe finds it.
        let home = hash as usize & self.mask;
        let mut b = home;
        let mut found = None;
        for _ in 0..self.buckets.len() {
            match self.buckets.get(b).and_then(Bucket::free_lane) {
                Some(lane) => {
                    found = Some((b, lane));
                    break;
                }
                None => b = (b + 1) & self.mask,
            }
        }
        let (b, lane) = found.ok_or(Refused::TableFull)?;
        let s = self.alloc_slot().ok_or(Refused::TableFull)?;
        let mut p = home;
        while p != b {
            if let Some(x) = self.buckets.get_mut(p) {
                x.overflow += 1;
            }
            p = (p + 1) & self.mask;
        }
        if let Some(x) = self.buckets.get_mut(b) {
            if let (Some(t), Some(sl)) = (x.tags.get_mut(lane), x.slots.get_mut(lane)) {
                *t = tag_of(hash);
                *sl = s;
            }
        }
        self.len += 1;
        self.counters.inserted += 1;
        self.lists.push_back(s, id.port, entry.class(), now_ns);
        if id.realm == Realm::Internet {
            let p = id.port as usize;
            if self.internet.len() <= p {
                self.internet.resize(p + 1, 0);
            }
            if let Some(n) = self.internet.get_mut(p) {
                *n += 1;
            }
        }
        let slot = self.slot_mut(s).ok_or(Refused::TableFull)?;
        let slot = slot.insert(Slot { id, entry });
        Ok(&mut slot.entry)
    }

    /// Whether `port` holds flows of `realm`.
    #[inline]
    pub fn has_realm(&self, port: PortIdx, realm: Realm) -> bool {
        match realm {
            Realm::Internet => self.internet.get(port as usize).is_some_and(|n| *n > 0),
            Realm::Vpc => {
                let internet = self.internet.get(port as usize).copied().unwrap_or(0);
                self.lists.port_len(port) > internet
            }
        }
    }

    /// Flows held by `port`.
    pub fn port_len(&self, port: PortIdx) -> usize {
        self.lists.port_len(port) as usize
    }

    /// Frees a place for a new flow of `port` (see [`Self::insert`]).
    fn make_room(&mut self, port: PortIdx, now: u64, quota: usize) -> Result<(), Refused> {
        if self.port_len(port) >= quota {
            let own = FlowClass::ALL
                .iter()
                .any(|c| self.evict_expired_head(port, *c, now))
                || FlowClass::ALL
                    .iter()
                    .filter(|c| c.early_drop())
                    .any(|c| self.evict_from(port, *c, now));
            if !own {
                self.counters.quota_refused += 1;
                return Err(Refused::Quota);
            }
        }
        if self.len < self.capacity {
            return Ok(());
        }
        if self.sweep(now, FULL_SWEEP_STEPS) > 0 && self.len < self.capacity {
            return Ok(());
        }
        for class in FlowClass::ALL {
            // An embryonic-like flow from the port holding the most of them;
            // an established-like one from the port holding the most flows,
            // only if that is `port` or holds more than `port` (a fair share).
            let victim = self
                .lists
                .ports()
                .filter(|(p, _)| self.lists.len(*p, class) > 0)
                .map(|(p, total)| {
                    let n = if class.early_drop() {
                        self.lists.len(p, class)
                    } else {
                        total
                    };
                    (n, p == port, p)
                })
                .max();
            let Some((_, _, v)) = victim else { continue };
            if !class.early_drop() && v != port && self.port_len(v) <= self.port_len(port) {
                continue;
            }
            if self.evict_from(v, class, now) {
                return Ok(());
            }
        }
        self.counters.refused += 1;
        Err(Refused::TableFull)
    }

    /// Removes the head of (`port`, `class`) if it has expired.
    fn evict_expired_head(&mut self, port: PortIdx, class: FlowClass, now: u64) -> bool {
        let ttl = self.default_ttl_ns;
        match self.lists.head(port, class) {
            Some(h) if self.entry_at(h).is_some_and(|x| x.entry.expired(now, ttl)) => {
                self.remove_slot(h, Removal::Expired)
            }
            _ => false,
        }
    }

    /// Evicts the least recently used flow of (`port`, `class`), expired
    /// ones first: a head used since it was queued goes to the tail (a
    /// second chance), a head that changed class to its own list, at most
    /// [`EVICT_STEPS`] times; then the head is taken as it is.
    fn evict_from(&mut self, port: PortIdx, class: FlowClass, now: u64) -> bool {
        let ttl = self.default_ttl_ns;
        for step in 0..=EVICT_STEPS {
            let Some(h) = self.lists.head(port, class) else {
                return false;
            };
            let Some(x) = self.entry_at(h) else {
                self.lists.unlink(h);
                continue;
            };
            if x.entry.expired(now, ttl) {
                return self.remove_slot(h, Removal::Expired);
            }
            let now_class = x.entry.class();
            if now_class != class {
                self.lists.requeue(h, port, now_class, now);
                continue;
            }
            if step < EVICT_STEPS && x.entry.last_seen_ns > self.lists.stamp(h) {
                self.lists.requeue(h, port, class, now);
                continue;
            }
            return self.remove_slot(h, Removal::Evicted);
        }
        false
    }

    /// One bounded step of expiry: walks from the lists' heads, at most
    /// `budget` entries looked at, removing the expired ones (kept for
    /// [`Self::reap`]); a head that changed class moves to its list, one
    /// queued longer than its class's TTL ago that is still live (it was
    /// used since) to the tail. A list is left at its first head queued less
    /// than a TTL ago and not expired. Returns how many were removed.
    pub fn sweep(&mut self, now: u64, budget: usize) -> usize {
        let ttl = self.default_ttl_ns;
        let lists = self.lists.list_count();
        let (mut steps, mut visited, mut removed) = (0, 0, 0);
        while steps < budget && visited < lists {
            let id = self.sweep_at % lists.max(1);
            let Some((h, port, class)) = self.lists.head_of(id) else {
                self.sweep_at = id + 1;
                visited += 1;
                continue;
            };
            steps += 1;
            let Some(x) = self.entry_at(h) else {
                self.lists.unlink(h);
                continue;
            };
            if x.entry.expired(now, ttl) {
                if self.remove_slot(h, Removal::Expired) {
                    removed += 1;
                }
                continue;
            }
            let now_class = x.entry.class();
            if now_class != class {
                self.lists.requeue(h, port, now_class, now);
            } else if self.lists.stamp(h).saturating_add(class_ttl_ns(class, ttl)) > now {
                self.sweep_at = id + 1;
                visited += 1;
            } else {
                self.lists.requeue(h, port, class, now);
            }
        }
        removed
    }

    /// Removes the entry of `id` (it is not kept for [`Self::reap`]).
    pub fn remove(&mut self, id: &FlowId) -> Option<FlowEntry<V>> {
        let hash = self.hash(id);
        let (b, lane, _) = self.find(id, hash)?;
        self.remove_at(b, lane, hash).map(|s| s.entry)
    }

    /// Hands over the entries removed since the last call (expired,
    /// evicted or cleared; already out of the table and counted).
    #[inline]
    pub fn reap(&mut self, mut on_remove: impl FnMut(FlowId, FlowEntry<V>, Removal)) {
        if !self.dead.is_empty() {
            for (id, e, why) in self.dead.drain(..) {
                on_remove(id, e, why);
            }
        }
    }

    /// Slots the slab has now (entries live below this index).
    pub fn slots(&self) -> u32 {
        (self.chunks.len() * CHUNK).min(u32::MAX as usize) as u32
    }

    /// Removes the flows of `port` (every port, when `None`) whose epoch
    /// is below `below_epoch`, stored at slots `from..to`, looking at most
    /// `max_slots` slots; they are kept for [`Self::reap`]. Returns how many
    /// went and the slot to go on from (`None`: done). A clear is a walk
    /// over the slots as they were when it began (`to`: [`Self::slots`]
    /// then), not over the lists, so that it ends however fast new flows
    /// arrive.
    pub fn clear_from(
        &mut self,
        port: Option<PortIdx>,
        below_epoch: u64,
        (from, to): (u32, u32),
        max_slots: usize,
    ) -> (usize, Option<u32>) {
        let end = (self.chunks.len() * CHUNK).min(to as usize) as u64;
        let mut s = u64::from(from);
        let (mut n, mut looked) = (0, 0);
        while s < end {
            if looked >= max_slots {
                return (n, Some(s as u32));
            }
            let hit = self.entry_at(s as u32).is_some_and(|x| {
                port.is_none_or(|p| x.id.port == p) && x.entry.epoch < below_epoch
            });
            if hit && self.remove_slot(s as u32, Removal::Cleared) {
                n += 1;
            }
            looked += 1;
            s += 1;
        }
        (n, None)
    }

    /// Visits the entries stored at slot `from` and after, at most
    /// `max_entries` of them and `max_slots` slots looked at; returns the
    /// slot to go on from, or `None` at the end of the table. Entries
    /// inserted or removed meanwhile may be missed (no snapshot is taken).
    pub fn visit_from(
        &self,
        from: u32,
        max_entries: usize,
        max_slots: usize,
        mut f: impl FnMut(&FlowId, &FlowEntry<V>),
    ) -> Option<u32> {
        let end = (self.chunks.len() * CHUNK) as u64;
        let mut s = u64::from(from);
        let (mut seen, mut looked) = (0, 0);
        while s < end {
            if seen >= max_entries || looked >= max_slots {
                return Some(s as u32);
            }
            if let Some(slot) = self.entry_at(s as u32) {
                f(&slot.id, &slot.entry);
                seen += 1;
            }
            looked += 1;
            s += 1;
        }
        None
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowId, &FlowEntry<V>)> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .filter_map(|s| s.as_ref().map(|s| (&s.id, &s.entry)))
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
