//! The flow table's recency lists: every stored flow is on exactly one
//! doubly linked list, the one of its port and its [`FlowClass`], in the
//! order it was (re)queued. They give, without a scan, the oldest flows of a
//! port and class: the expiry sweep walks from their heads a bounded number
//! of steps per call, and a full table or a port at its quota evicts from
//! them (expired first, then embryonic, least recently used first; see
//! `table.rs`).
//!
//! The links live beside the entries, not in them, so that the packet path,
//! which only reads and refreshes entries, never touches them; they change
//! on insert, removal, eviction and the sweep. A flow is not moved when a
//! packet uses it (that would write two more cache lines per packet): a
//! list's head that was used since it was queued gets a second chance, a
//! move to the tail, when a sweep or an eviction reaches it (CLOCK).

use crate::PortIdx;

/// How far a flow has come, which decides when it may be evicted: in this
/// order, embryonic first, established last. Linux conntrack's early drop
/// likewise takes unassured connections first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowClass {
    /// A TCP handshake never completed, a TCP flow first seen mid-stream and
    /// not answered, a reset one, or a flow whose traffic is refused (a
    /// cached drop).
    Embryonic,
    /// Not TCP, seen in one direction only.
    Unreplied,
    /// TCP, closing (a FIN seen).
    Closing,
    /// Not TCP, seen in both directions.
    Replied,
    /// TCP, established.
    Established,
}

impl FlowClass {
    /// Every class, in eviction order.
    pub const ALL: [FlowClass; 5] = [
        FlowClass::Embryonic,
        FlowClass::Unreplied,
        FlowClass::Closing,
        FlowClass::Replied,
        FlowClass::Established,
    ];
    /// Number of classes.
    pub const COUNT: usize = Self::ALL.len();

    /// A short lowercase name (metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowClass::Embryonic => "embryonic",
            FlowClass::Unreplied => "unreplied",
            FlowClass::Closing => "closing",
            FlowClass::Replied => "replied",
            FlowClass::Established => "established",
        }
    }

    /// Whether a port at its flow quota may evict its own flows of this class.
    pub fn early_drop(self) -> bool {
        matches!(self, FlowClass::Embryonic | FlowClass::Unreplied)
    }
}

/// No slot: the end of a list.
pub const NIL: u32 = u32::MAX;

/// log2 of the links in a chunk (as many as the table's slab chunks hold).
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A slot's place on its list.
#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    /// The list: `port * FlowClass::COUNT + class`; NIL when on none.
    list: u32,
    /// When it was queued at the tail (ns).
    stamp: u64,
}

impl Link {
    const NONE: Link = Link {
        prev: NIL,
        next: NIL,
        list: NIL,
        stamp: 0,
    };
}

#[derive(Debug, Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
    len: u32,
}

impl Ends {
    const EMPTY: Ends = Ends {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// The lists of one flow table, and each port's flow count.
#[derive(Debug, Default)]
pub struct ClassLists {
    /// Links by slot index, in chunks (growth never copies them).
    links: Vec<Box<[Link]>>,
    /// List ends by list id.
    lists: Vec<Ends>,
    /// Flows per port, by port index.
    per_port: Vec<u32>,
}

fn list_id(port: PortIdx, class: FlowClass) -> usize {
    port as usize * FlowClass::COUNT + class as usize
}

impl ClassLists {
    /// Makes room for slots below `slots` (called as the slab grows).
    pub fn grow(&mut self, slots: usize) {
        while self.links.len() * CHUNK < slots {
            self.links.push(vec![Link::NONE; CHUNK].into_boxed_slice());
        }
    }

    fn link(&self, s: u32) -> Option<&Link> {
        let s = s as usize;
        self.links.get(s >> CHUNK_BITS)?.get(s & (CHUNK - 1))
    }

    fn link_mut(&mut self, s: u32) -> Option<&mut Link> {
        let s = s as usize;
        self.links
            .get_mut(s >> CHUNK_BITS)?
            .get_mut(s & (CHUNK - 1))
    }

    /// Queues slot `s` at the tail of the list of (`port`, `class`), as of `now`.
    /// The slot must be on no list.
    pub fn push_back(&mut self, s: u32, port: PortIdx, class: FlowClass, now: u64) {
        let id = list_id(port, class);
        if self.lists.len() <= id {
            self.lists.resize(id + 1, Ends::EMPTY);
        }
        if self.per_port.len() <= port as usize {
            self.per_port.resize(port as usize + 1, 0);
        }
        let Some(ends) = self.lists.get(id).copied() else {
            return;
        };
        let Some(l) = self.link_mut(s) else {
            return;
        };
        *l = Link {
            prev: ends.tail,
            next: NIL,
            list: id as u32,
            stamp: now,
        };
        if let Some(t) = self.link_mut(ends.tail) {
            t.next = s;
        }
        if let Some(e) = self.lists.get_mut(id) {
            if e.head == NIL {
                e.head = s;
            }
            e.tail = s;
            e.len += 1;
        }
        if let Some(n) = self.per_port.get_mut(port as usize) {
            *n += 1;
        }
    }

    /// Takes slot `s` off its list (nothing if it is on none).
    pub fn unlink(&mut self, s: u32) {
        let Some(l) = self.link(s).copied() else {
            return;
        };
        if l.list == NIL {
            return;
        }
        match self.link_mut(l.prev) {
            Some(p) => p.next = l.next,
            None => {
                if let Some(e) = self.lists.get_mut(l.list as usize) {
                    e.head = l.next;
                }
            }
        }
        match self.link_mut(l.next) {
            Some(n) => n.prev = l.prev,
            None => {
                if let Some(e) = self.lists.get_mut(l.list as usize) {
                    e.tail = l.prev;
                }
            }
        }
        if let Some(e) = self.lists.get_mut(l.list as usize) {
            e.len = e.len.saturating_sub(1);
        }
        let port = l.list as usize / FlowClass::COUNT;
        if let Some(n) = self.per_port.get_mut(port) {
            *n = n.saturating_sub(1);
        }
        if let Some(x) = self.link_mut(s) {
            *x = Link::NONE;
        }
    }

    /// Moves slot `s` to the tail of the list of (`port`, `class`).
    pub fn requeue(&mut self, s: u32, port: PortIdx, class: FlowClass, now: u64) {
        self.unlink(s);
        self.push_back(s, port, class, now);
    }

    /// The oldest slot of (`port`, `class`).
    pub fn head(&self, port: PortIdx, class: FlowClass) -> Option<u32> {
        let h = self.lists.get(list_id(port, class))?.head;
        (h != NIL).then_some(h)
    }

    /// The oldest slot of list `id` (see [`Self::list_count`]).
    pub fn head_of(&self, id: usize) -> Option<(u32, PortIdx, FlowClass)> {
        let h = self.lists.get(id)?.head;
        let class = FlowClass::ALL.get(id % FlowClass::COUNT).copied()?;
        (h != NIL).then_some((h, (id / FlowClass::COUNT) as PortIdx, class))
    }

    /// How many lists there are (ids `0..list_count()`).
    pub fn list_count(&self) -> usize {
        self.lists.len()
    }

    /// When slot `s` was queued.
    pub fn stamp(&self, s: u32) -> u64 {
        self.link(s).map_or(0, |l| l.stamp)
    }

    /// The class of the list slot `s` is on.
    pub fn class_of(&self, s: u32) -> Option<FlowClass> {
        let l = self.link(s)?;
        (l.list != NIL)
            .then(|| {
                FlowClass::ALL
                    .get(l.list as usize % FlowClass::COUNT)
                    .copied()
            })
            .flatten()
    }

    /// Flows of `port` in `class`.
    pub fn len(&self, port: PortIdx, class: FlowClass) -> u32 {
        self.lists.get(list_id(port, class)).map_or(0, |e| e.len)
    }

    /// Flows of `port`.
    pub fn port_len(&self, port: PortIdx) -> u32 {
        self.per_port.get(port as usize).copied().unwrap_or(0)
    }

    /// Ports that hold flows, with how many.
    pub fn ports(&self) -> impl Iterator<Item = (PortIdx, u32)> + '_ {
        self.per_port
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| (p as PortIdx, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(l: &ClassLists, port: PortIdx, class: FlowClass) -> Vec<u32> {
        let mut v = Vec::new();
        let mut s = l.head(port, class).unwrap_or(NIL);
        while s != NIL {
            v.push(s);
            s = l.link(s).map_or(NIL, |x| x.next);
        }
        v
    }

    #[test]
    fn push_unlink_requeue_keep_order_and_counts() {
        let mut l = ClassLists::default();
        l.grow(10);
        for s in 0..5 {
            l.push_back(s, 2, FlowClass::Embryonic, s as u64);
        }
        l.push_back(7, 2, FlowClass::Established, 9);
        assert_eq!(walk(&l, 2, FlowClass::Embryonic), vec![0, 1, 2, 3, 4]);
        assert_eq!(l.port_len(2), 6);
        l.unlink(2);
        l.unlink(0);
        l.unlink(4);
        l.unlink(4);
        assert_eq!(walk(&l, 2, FlowClass::Embryonic), vec![1, 3]);
        l.requeue(1, 2, FlowClass::Embryonic, 20);
        assert_eq!(walk(&l, 2, FlowClass::Embryonic), vec![3, 1]);
        assert_eq!(l.stamp(1), 20);
        l.requeue(3, 2, FlowClass::Replied, 21);
        assert_eq!(walk(&l, 2, FlowClass::Embryonic), vec![1]);
        assert_eq!(l.class_of(3), Some(FlowClass::Replied));
        assert_eq!(l.len(2, FlowClass::Replied), 1);
        assert_eq!(l.port_len(2), 3);
        assert_eq!(l.ports().collect::<Vec<_>>(), vec![(2, 3)]);
        for s in [1, 3, 7] {
            l.unlink(s);
        }
        assert_eq!(l.port_len(2), 0);
        assert!(FlowClass::ALL.iter().all(|c| l.head(2, *c).is_none()));
    }
}
