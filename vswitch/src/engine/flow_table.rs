//! The unified flow table (UFT) of one worker: one entry per connection,
//! keyed by (port, 5-tuple in the outbound orientation), so that both
//! directions of a flow share one entry, one epoch and one TCP state.
//!
//! Bounded: when full, expired entries are reclaimed; if none is, the insert
//! is refused and the caller drops the packet with a counted reason. Time is
//! passed in (nanoseconds on any monotonic clock), so tests choose it.
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

use super::tcp::TcpTracker;
use super::{FlowKey, KeyWords, PortIdx};
use crate::dpdk::prefetch::{prefetch, prefetch_offset, HugeArray};
use std::hash::BuildHasher;

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
        write_words(state, self.port, &self.key.words());
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
    fn hash(&self, port: PortIdx, w: &KeyWords) -> u64 {
        let k = &self.k;
        let x = folded_multiply(w[1] ^ k[0], w[3] ^ k[1]);
        let y = folded_multiply(w[0] ^ k[2], w[4] ^ k[3]);
        let z = folded_multiply(w[2] ^ k[4], u64::from(port) ^ k[5]);
        folded_multiply(x ^ z ^ k[6], y ^ k[7])
    }
}

/// What a flow's hash is made of: its key's words, the port folded in.
#[inline]
fn write_words<H: std::hash::Hasher>(state: &mut H, port: PortIdx, w: &KeyWords) {
    state.write_u64(w[0]);
    state.write_u64(w[1]);
    state.write_u64(w[2]);
    state.write_u64(w[3] ^ port as u64);
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
    hasher: FlowHasher,
    capacity: usize,
    default_ttl_ns: u64,
    counters: FlowTableCounters,
    /// Entries a lookup found expired and removed, kept until [`Self::reap`]
    /// or [`Self::expire_with`] hands them over, so that what they hold
    /// (a NAT port) is released before anything reuses it.
    dead: Vec<(FlowId, FlowEntry<V>)>,
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
            hasher: FlowHasher::new(),
            capacity,
            default_ttl_ns,
            counters: FlowTableCounters::default(),
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
        self.hasher.hash(id.port, &id.key.words())
    }

    /// [`Self::hash`] of the flow of `port` whose key packs into `w`, from
    /// the words alone (the fast path reads them from the frame).
    #[inline]
    pub fn hash_words(&self, port: PortIdx, w: &KeyWords) -> u64 {
        #[cfg(test)]
        if let Some(f) = self.test_hash {
            return f(&FlowId {
                port,
                key: FlowKey::from_words(w),
            });
        }
        self.hasher.hash(port, w)
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
    /// and returns its slot to the free list.
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
        let slot = self.slot_mut(s)?.take();
        self.free.push(s);
        slot
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

    /// [`Self::get_mut_hashed`] of the flow of `port` whose key packs into
    /// `w`, its hash `hash` from [`Self::hash_words`]; the fast path's
    /// lookup, which needs no [`FlowKey`].
    #[inline]
    pub fn get_mut_words(
        &mut self,
        port: PortIdx,
        w: &KeyWords,
        hash: u64,
        now_ns: u64,
    ) -> Option<&mut FlowEntry<V>> {
        let found = self.find_by(hash, |x| x.port == port && words_eq(&x.key.words(), w))?;
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
                self.dead.push((slot.id, slot.entry));
            }
            self.counters.expired += 1;
            return None;
        }
        let e = &mut self.slot_mut(s)?.as_mut()?.entry;
        e.last_seen_ns = now_ns;
        e.hits += 1;
        Some(e)
    }

    /// Inserts (or replaces) the entry of `id`. When the table is full, expired
    /// entries are reclaimed first; if none is, the insert is refused.
    pub fn insert(
        &mut self,
        id: FlowId,
        entry: FlowEntry<V>,
        now_ns: u64,
    ) -> Result<&mut FlowEntry<V>, TableFull> {
        let hash = self.hash(&id);
        if let Some((_, _, s)) = self.find(&id, hash) {
            self.counters.inserted += 1;
            let slot = self.slot_mut(s).and_then(Option::as_mut).ok_or(TableFull)?;
            slot.entry = entry;
            return Ok(&mut slot.entry);
        }
        if self.len >= self.capacity {
            self.expire(now_ns);
            if self.len >= self.capacity {
                self.counters.refused += 1;
                return Err(TableFull);
            }
        }
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
        let (b, lane) = found.ok_or(TableFull)?;
        let s = self.alloc_slot().ok_or(TableFull)?;
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
        let slot = self.slot_mut(s).ok_or(TableFull)?;
        let slot = slot.insert(Slot { id, entry });
        Ok(&mut slot.entry)
    }

    /// Removes the entry of `id`.
    pub fn remove(&mut self, id: &FlowId) -> Option<FlowEntry<V>> {
        let hash = self.hash(id);
        let (b, lane, _) = self.find(id, hash)?;
        self.remove_at(b, lane, hash).map(|s| s.entry)
    }

    /// Removes every entry for which `pred` holds, handing each to `on_remove`;
    /// returns how many.
    fn remove_where(
        &mut self,
        mut pred: impl FnMut(&FlowId, &FlowEntry<V>) -> bool,
        mut on_remove: impl FnMut(FlowId, FlowEntry<V>),
    ) -> usize {
        let mut n = 0;
        for s in 0..(self.chunks.len() * CHUNK) as u32 {
            let hash = match self.slot_ref(s) {
                Some(Some(slot)) if pred(&slot.id, &slot.entry) => self.hash(&slot.id),
                _ => continue,
            };
            let Some((b, lane)) = self.find_slot(s, hash) else {
                continue;
            };
            if let Some(slot) = self.remove_at(b, lane, hash) {
                on_remove(slot.id, slot.entry);
                n += 1;
            }
        }
        n
    }

    /// Removes every expired entry; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> usize {
        self.expire_with(now_ns, |_, _| {})
    }

    /// Removes every expired entry, handing each to `on_remove` (to free what
    /// the flow held); returns how many.
    pub fn expire_with(
        &mut self,
        now_ns: u64,
        mut on_remove: impl FnMut(FlowId, FlowEntry<V>),
    ) -> usize {
        self.reap(&mut on_remove);
        let ttl = self.default_ttl_ns;
        let n = self.remove_where(|_, e| e.expired(now_ns, ttl), on_remove);
        self.counters.expired += n as u64;
        n
    }

    /// Hands over the entries lookups found expired since the last call
    /// (already counted as expired and out of the table).
    #[inline]
    pub fn reap(&mut self, mut on_remove: impl FnMut(FlowId, FlowEntry<V>)) {
        if !self.dead.is_empty() {
            for (id, e) in self.dead.drain(..) {
                on_remove(id, e);
            }
        }
    }

    /// Removes every entry (of one port, when given); returns how many.
    pub fn clear(&mut self, port: Option<PortIdx>) -> usize {
        match port {
            None => {
                let n = self.len;
                self.buckets.fill(Bucket::EMPTY);
                self.chunks.clear();
                self.free.clear();
                self.len = 0;
                n
            }
            Some(p) => self.remove_where(|id, _| id.port == p, |_, _| {}),
        }
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
mod tests {
    use super::super::tcp::{flags, TcpState};
    use super::super::{proto, Direction};
    use super::*;
    use std::net::IpAddr;

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

    /// The keyed hash spreads keys that differ in a few bits (the usual
    /// case: ports, or the last octet of an address) evenly over buckets,
    /// and its tags (high bits) rarely repeat.
    #[test]
    fn hash_spreads_similar_keys() {
        let h = FlowHasher::new();
        let buckets = 1usize << 16;
        let mut load = vec![0u32; buckets];
        let mut tags = std::collections::HashSet::new();
        let n = 100_000u32;
        for i in 0..n {
            let mut k = id(3, (i % 50_000) as u16, proto::UDP).key;
            k.dst_port = if i < 50_000 { 80 } else { 443 };
            if let IpAddr::V4(a) = k.dst {
                k.dst = IpAddr::V4((u32::from(a) + i / 25_000).into());
            }
            let x = h.hash(3, &k.words());
            load[x as usize & (buckets - 1)] += 1;
            tags.insert(tag_of(x));
        }
        // 100,000 keys into 65,536 buckets: mean 1.5; a bucket holding 12
        // would be a wildly uneven hash (Poisson tail ~1e-7 per bucket).
        let max = load.iter().copied().max().unwrap_or(0);
        assert!(max <= 12, "fullest bucket holds {max}");
        let empty = load.iter().filter(|l| **l == 0).count() as f64 / buckets as f64;
        // Poisson: e^-1.53 = 0.217 of buckets empty.
        assert!((0.19..0.25).contains(&empty), "empty fraction {empty}");
        assert!(tags.len() as u32 > n - 10, "{} distinct tags", tags.len());
        // Another port gives other hashes.
        let k = id(3, 7, proto::UDP).key.words();
        assert_ne!(h.hash(3, &k), h.hash(4, &k));
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

    /// Checks the index against the slab: every live slot is in exactly one
    /// lane, reachable from its home bucket, and every overflow count equals
    /// the number of entries whose probe passed that bucket.
    fn check_invariants<V>(t: &FlowTable<V>) {
        let n = t.buckets.len();
        let mut overflow = vec![0u32; n];
        let mut lanes = 0;
        for (b, bucket) in t.buckets.iter().enumerate() {
            for (tag, s) in bucket.tags.iter().zip(bucket.slots.iter()) {
                if *tag == 0 {
                    continue;
                }
                lanes += 1;
                let slot = t
                    .slot_ref(*s)
                    .and_then(Option::as_ref)
                    .expect("lane -> live slot");
                let hash = t.hash(&slot.id);
                assert_eq!(tag_of(hash), *tag);
                let mut p = hash as usize & t.mask;
                while p != b {
                    overflow[p] += 1;
                    p = (p + 1) & t.mask;
                }
                assert_eq!(
                    t.find(&slot.id, hash).map(|(b, lane, _)| (b, lane)),
                    Some((b, bucket.slots.iter().position(|x| x == s).unwrap()))
                );
            }
        }
        let live = t.iter().count();
        assert_eq!(lanes, live);
        assert_eq!(t.len(), live);
        for (b, bucket) in t.buckets.iter().enumerate() {
            assert_eq!(bucket.overflow, overflow[b], "overflow of bucket {b}");
        }
        assert_eq!(t.free.len() + live, t.chunks.len() * CHUNK);
    }

    #[test]
    fn bucket_is_one_line_and_an_entry_two() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(std::mem::align_of::<Bucket>(), 64);
        let slot = std::mem::size_of::<Option<Slot<crate::engine::pipeline::FlowState>>>();
        assert!(slot <= 128, "an engine entry takes {slot} bytes");
    }

    #[test]
    fn colliding_hashes_chain_across_buckets_and_unwind() {
        // 64 flows, all homed in bucket 3 of 32: the chain runs over ~10
        // buckets; some share a tag too, so the key comparison decides.
        let mut t = FlowTable::new(64, DEFAULT_TTL_NS);
        assert_eq!(t.buckets.len(), 32);
        t.test_hash = Some(|f| ((f.key.src_port as u64 % 5 + 1) << 32) | 3);
        for i in 0..64u16 {
            t.insert(id(0, i, proto::UDP), FlowEntry::new(i, 1, 0, None), 0)
                .unwrap();
        }
        check_invariants(&t);
        assert!(t.buckets[3].overflow > 0);
        assert_eq!(
            t.insert(id(0, 99, proto::UDP), FlowEntry::new(99, 1, 0, None), 0)
                .err(),
            Some(TableFull)
        );
        for i in 0..64u16 {
            let e = t.get_mut(&id(0, i, proto::UDP), 1).unwrap();
            assert_eq!(e.value, i);
        }
        // Remove every other one (from the middle of the chain), then check
        // the rest are still found and the counts unwound.
        for i in (0..64u16).step_by(2) {
            assert_eq!(t.remove(&id(0, i, proto::UDP)).map(|e| e.value), Some(i));
            assert!(t.remove(&id(0, i, proto::UDP)).is_none());
        }
        check_invariants(&t);
        for i in 0..64u16 {
            assert_eq!(t.get_mut(&id(0, i, proto::UDP), 2).is_some(), i % 2 == 1);
        }
        // Refill the freed lanes, then empty the table.
        for i in (0..64u16).step_by(2) {
            t.insert(id(0, i, proto::UDP), FlowEntry::new(i, 1, 0, None), 0)
                .unwrap();
        }
        check_invariants(&t);
        for i in 0..64u16 {
            assert!(t.remove(&id(0, i, proto::UDP)).is_some());
        }
        check_invariants(&t);
        assert!(t
            .buckets
            .iter()
            .all(|b| b.overflow == 0 && b.tags == [0; LANES]));
    }

    #[test]
    fn chain_wraps_around_the_last_bucket() {
        let mut t = FlowTable::new(64, DEFAULT_TTL_NS);
        t.test_hash = Some(|f| ((f.key.src_port as u64 + 1) << 32) | 31);
        for i in 0..30u16 {
            t.insert(id(0, i, proto::UDP), FlowEntry::new(i, 1, 0, None), 0)
                .unwrap();
        }
        check_invariants(&t);
        assert!(t.buckets[0].tags[0] != 0, "the chain wrapped to bucket 0");
        // Expiry removes by slot and must unwind the wrapped chain too.
        for i in (0..30u16).step_by(3) {
            t.get_mut(&id(0, i, proto::UDP), 50 * S).unwrap();
        }
        let mut gone = Vec::new();
        assert_eq!(
            t.expire_with(70 * S, |id, e| gone.push((id.key.src_port, e.value))),
            20
        );
        gone.sort();
        assert!(gone.iter().all(|(p, v)| p == v && p % 3 != 0));
        check_invariants(&t);
        for i in (0..30u16).step_by(3) {
            assert!(t.get_mut(&id(0, i, proto::UDP), 71 * S).is_some());
        }
    }

    #[test]
    fn agrees_with_a_map_under_random_operations() {
        use std::collections::HashMap;
        let mut t = FlowTable::new(300, DEFAULT_TTL_NS);
        let mut m: HashMap<FlowId, (u32, u64)> = HashMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 0u64;
        for step in 0..20_000u32 {
            let r = rnd();
            let f = id((r % 3) as PortIdx, (r >> 8) as u16 % 400, proto::UDP);
            now += S / 100;
            match (r >> 40) % 8 {
                0..=2 => {
                    // A full table reclaims the expired entries first.
                    if m.len() >= 300 && !m.contains_key(&f) {
                        m.retain(|_, (_, seen)| now - *seen <= DEFAULT_TTL_NS);
                    }
                    let res = t.insert(f, FlowEntry::new(step, 1, now, None), now);
                    if m.len() >= 300 && !m.contains_key(&f) {
                        assert_eq!(res.err(), Some(TableFull));
                    } else {
                        assert!(res.is_ok());
                        m.insert(f, (step, now));
                    }
                }
                3..=5 => {
                    let want = m
                        .get(&f)
                        .filter(|(_, seen)| now - *seen <= DEFAULT_TTL_NS)
                        .map(|(v, _)| *v);
                    assert_eq!(t.get_mut(&f, now).map(|e| e.value), want);
                    match want {
                        Some(_) => {
                            if let Some(e) = m.get_mut(&f) {
                                e.1 = now;
                            }
                        }
                        None => {
                            m.remove(&f);
                        }
                    }
                }
                6 => assert_eq!(t.remove(&f).map(|e| e.value), m.remove(&f).map(|e| e.0)),
                _ => {
                    if step % 50 == 0 {
                        let before = m.len();
                        m.retain(|_, (_, seen)| now - *seen <= DEFAULT_TTL_NS);
                        assert_eq!(t.expire(now), before - m.len());
                    }
                }
            }
            assert_eq!(t.len(), m.len());
            if step % 1000 == 0 {
                check_invariants(&t);
            }
        }
        check_invariants(&t);
    }

    #[test]
    fn clear_all_then_reuse_and_prefetch_any_hash() {
        let mut t = FlowTable::new(40000, DEFAULT_TTL_NS);
        for i in 0..40000u16 {
            t.insert(id(i % 4, i, proto::TCP), FlowEntry::new(i, 1, 0, None), 0)
                .unwrap();
        }
        assert_eq!(t.chunks.len(), 40000usize.div_ceil(CHUNK));
        assert_eq!(t.clear(Some(2)), 10000);
        check_invariants(&t);
        for h in [0u64, 1, u64::MAX, 0xdead_beef_0000_0007] {
            t.prefetch_bucket(h);
            t.prefetch_entry(h);
        }
        for i in 0..40000u16 {
            let f = id(i % 4, i, proto::TCP);
            let h = t.hash(&f);
            t.prefetch_bucket(h);
            t.prefetch_entry(h);
            assert_eq!(t.get_mut_hashed(&f, h, 1).is_some(), i % 4 != 2);
        }
        assert_eq!(t.clear(None), 30000);
        assert!(t.is_empty() && t.iter().next().is_none());
        check_invariants(&t);
        t.insert(id(0, 1, proto::TCP), FlowEntry::new(1, 1, 0, None), 0)
            .unwrap();
        assert_eq!(t.len(), 1);
        check_invariants(&t);
    }
}
