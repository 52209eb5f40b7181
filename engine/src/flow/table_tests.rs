//! Tests of the flow table: the index (chains, wrap-around, a model check
//! against a map), expiry, and the table under pressure (eviction order,
//! quotas, bounded work).

use super::*;
use crate::flow::tcp::{flags, TcpState};
use crate::{proto, Direction};
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
/// A quota that never binds.
const NO_QUOTA: usize = usize::MAX;

fn id(port: PortIdx, sport: u16, p: u8) -> FlowId {
    FlowId {
        port,
        realm: Realm::Vpc,
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

fn udp<V>(v: V, now: u64) -> FlowEntry<V> {
    FlowEntry::new(v, 1, now, None)
}

fn tcp<V>(v: V, now: u64, first: u8) -> FlowEntry<V> {
    FlowEntry::new(v, 1, now, Some(TcpTracker::new(Direction::Out, first)))
}

/// An established TCP flow: handshake seen both ways.
fn established<V>(v: V, now: u64) -> FlowEntry<V> {
    let mut e = tcp(v, now, flags::SYN);
    e.saw(Direction::In, flags::SYN | flags::ACK);
    e.saw(Direction::Out, flags::ACK);
    assert_eq!(e.class(), FlowClass::Established);
    e
}

/// Removes every flow of `port` (every port: `None`), in one go (tests only).
fn clear_all<V>(t: &mut FlowTable<V>, port: Option<PortIdx>) -> usize {
    let (n, next) = t.clear_from(port, u64::MAX, (0, u32::MAX), usize::MAX);
    assert_eq!(next, None);
    n
}

/// Removes everything expired, however long it takes (tests only).
fn expire_all<V>(t: &mut FlowTable<V>, now: u64) -> usize {
    let n = t.sweep(now, usize::MAX);
    t.reap(|_, _, _| {});
    n
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
        let x = h.hash(zone(3, Realm::Vpc), &k.words());
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
    // Another port, or the other realm, gives other hashes.
    let k = id(3, 7, proto::UDP).key.words();
    assert_ne!(
        h.hash(zone(3, Realm::Vpc), &k),
        h.hash(zone(4, Realm::Vpc), &k)
    );
    assert_ne!(
        h.hash(zone(3, Realm::Vpc), &k),
        h.hash(zone(3, Realm::Internet), &k)
    );
}

#[test]
fn realms_are_separate_flows() {
    let mut t = FlowTable::new(16, DEFAULT_TTL_NS);
    let vpc = id(0, 1, proto::UDP);
    let inet = FlowId {
        realm: Realm::Internet,
        ..vpc
    };
    t.insert(vpc, udp("vpc", 0), 0, NO_QUOTA).unwrap();
    assert!(t.get(&inet).is_none(), "same 5-tuple, other realm: no flow");
    assert!(t.has_realm(0, Realm::Vpc) && !t.has_realm(0, Realm::Internet));
    t.insert(inet, udp("internet", 0), 0, NO_QUOTA).unwrap();
    assert!(t.has_realm(0, Realm::Internet));
    assert_eq!(t.get(&vpc).map(|e| e.value), Some("vpc"));
    assert_eq!(t.get(&inet).map(|e| e.value), Some("internet"));
    let w = vpc.key.words();
    let h = t.hash_words(0, Realm::Internet, &w);
    assert_eq!(h, t.hash(&inet));
    assert_eq!(
        t.get_mut_words(0, Realm::Internet, &w, h, 1)
            .map(|e| e.value),
        Some("internet")
    );
}

#[test]
fn udp_flow_expires_after_default_ttl() {
    let mut t = FlowTable::new(16, DEFAULT_TTL_NS);
    t.insert(id(0, 1, proto::UDP), udp("x", 0), 0, NO_QUOTA)
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
    t.insert(f, tcp((), 0, flags::SYN), 0, NO_QUOTA).unwrap();
    assert!(
        t.get_mut(&f, 6 * S).is_none(),
        "an unanswered SYN lives 5 s"
    );

    t.insert(f, tcp((), 0, flags::SYN), 0, NO_QUOTA).unwrap();
    let e = t.get_mut(&f, S).unwrap();
    e.saw(Direction::In, flags::SYN | flags::ACK);
    e.saw(Direction::Out, flags::ACK);
    assert_eq!(e.tcp.unwrap().state(), TcpState::Established);
    assert!(
        t.get_mut(&f, 7000 * S).is_some(),
        "established lives 8000 s idle"
    );
    let e = t.get_mut(&f, 7001 * S).unwrap();
    e.saw(Direction::Out, flags::RST);
    assert_eq!(expire_all(&mut t, 7001 * S), 1, "a reset flow goes at once");

    // A bare ACK matching nothing lives 5 s, until the other side answers.
    t.insert(f, tcp((), 8000 * S, flags::ACK), 8000 * S, NO_QUOTA)
        .unwrap();
    assert!(
        t.get_mut(&f, 8006 * S).is_none(),
        "unanswered mid-stream: 5 s"
    );
}

#[test]
fn refused_flows_live_briefly_and_are_embryonic() {
    let mut e = udp((), 0);
    assert_eq!(e.class(), FlowClass::Unreplied);
    e.saw(Direction::Out, 0);
    e.saw(Direction::In, 0);
    assert_eq!(e.class(), FlowClass::Replied);
    e.refused = true;
    assert_eq!(e.class(), FlowClass::Embryonic);
    assert_eq!(e.ttl_ns(DEFAULT_TTL_NS), REFUSED_TTL_NS);
    let mut est = established((), 0);
    est.refused = true;
    assert_eq!(est.ttl_ns(DEFAULT_TTL_NS), REFUSED_TTL_NS);
}

#[test]
fn full_table_takes_expired_first_then_evicts_the_oldest() {
    let mut t = FlowTable::new(2, DEFAULT_TTL_NS);
    t.insert(id(0, 1, proto::UDP), udp(1, 0), 0, NO_QUOTA)
        .unwrap();
    t.insert(id(0, 2, proto::UDP), udp(2, 30 * S), 30 * S, NO_QUOTA)
        .unwrap();
    // At 70 s the first flow has expired: its slot is reclaimed.
    t.insert(id(0, 3, proto::UDP), udp(3, 70 * S), 70 * S, NO_QUOTA)
        .unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t.counters().expired, 1);
    assert!(t.get(&id(0, 1, proto::UDP)).is_none());
    // Nothing expired: the least recently used one-way flow (2) goes.
    t.insert(id(0, 4, proto::UDP), udp(4, 71 * S), 71 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&id(0, 2, proto::UDP)).is_none());
    assert_eq!(t.counters().evicted[FlowClass::Unreplied as usize], 1);
    let mut gone = Vec::new();
    t.reap(|id, e, why| gone.push((id.key.src_port, e.value, why)));
    gone.sort_by_key(|g| g.0);
    assert_eq!(
        gone,
        vec![(1, 1, Removal::Expired), (2, 2, Removal::Evicted)],
        "what left is handed over, with why"
    );
    // Replacing an existing entry never needs room.
    t.insert(id(0, 3, proto::UDP), udp(5, 72 * S), 72 * S, NO_QUOTA)
        .unwrap();
    assert_eq!(t.get(&id(0, 3, proto::UDP)).map(|e| e.value), Some(5));
}

#[test]
fn a_recently_used_flow_gets_a_second_chance() {
    let mut t = FlowTable::new(3, DEFAULT_TTL_NS);
    for i in 1..=3 {
        t.insert(id(0, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    // Flow 1 is the oldest queued, but was used since: 2 goes instead.
    t.get_mut(&id(0, 1, proto::UDP), 10 * S).unwrap();
    t.insert(id(0, 9, proto::UDP), udp(9, 11 * S), 11 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&id(0, 1, proto::UDP)).is_some());
    assert!(t.get(&id(0, 2, proto::UDP)).is_none());
}

/// Makes the flow of `f` established (its handshake answered).
fn answer<V>(t: &mut FlowTable<V>, f: FlowId, now: u64) {
    let e = t.get_mut(&f, now).unwrap();
    e.saw(Direction::In, flags::SYN | flags::ACK);
    e.saw(Direction::Out, flags::ACK);
}

#[test]
fn embryonic_go_before_established_and_established_only_from_a_bigger_port() {
    let t = &mut FlowTable::new(4, DEFAULT_TTL_NS);
    let f = |port, sport| id(port, sport, proto::TCP);
    // Port 0: two established flows, queued first (the oldest); port 1:
    // two unanswered SYNs.
    t.insert(f(0, 1), established(1, 0), 0, NO_QUOTA).unwrap();
    t.insert(f(0, 2), established(2, 0), 0, NO_QUOTA).unwrap();
    t.insert(f(1, 3), tcp(3, S, flags::SYN), S, NO_QUOTA)
        .unwrap();
    t.insert(f(1, 4), tcp(4, S, flags::SYN), S, NO_QUOTA)
        .unwrap();
    // A new flow of port 0: the oldest embryonic one goes, though younger
    // than the established ones.
    t.insert(f(0, 5), tcp(5, 2 * S, flags::SYN), 2 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&f(1, 3)).is_none() && t.get(&f(1, 4)).is_some());
    assert_eq!(t.counters().evicted[FlowClass::Embryonic as usize], 1);
    answer(t, f(0, 5), 3 * S);
    answer(t, f(1, 4), 3 * S);
    // Every flow established; port 0 holds 3, port 1 holds 1: a new flow
    // of port 1 takes port 0's least recently used one (flow 1).
    t.insert(f(1, 6), tcp(6, 4 * S, flags::SYN), 4 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&f(0, 1)).is_none());
    assert_eq!(t.counters().evicted[FlowClass::Established as usize], 1);
    // Port 0 (2 established) takes port 1's embryonic flow 6 first.
    t.insert(f(0, 7), tcp(7, 5 * S, flags::SYN), 5 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&f(1, 6)).is_none(), "the embryonic flow went");
    answer(t, f(0, 7), 6 * S);
    assert_eq!((t.port_len(0), t.port_len(1)), (3, 1));
    // Port 0, the biggest holder, only ever evicts its own established flows
    // (flow 2, its least recently used): port 1 keeps its one flow.
    t.insert(f(0, 8), tcp(8, 7 * S, flags::SYN), 7 * S, NO_QUOTA)
        .unwrap();
    answer(t, f(0, 8), 8 * S);
    t.insert(f(0, 9), tcp(9, 9 * S, flags::SYN), 9 * S, NO_QUOTA)
        .unwrap();
    assert!(t.get(&f(0, 2)).is_none());
    assert!(t.get(&f(1, 4)).is_some());
    assert_eq!((t.port_len(0), t.port_len(1)), (3, 1));
    // Equal shares: port 1 (2 flows) may not take port 0's (2 flows)
    // established flows; it evicts its own.
    assert!(t.remove(&f(0, 9)).is_some());
    t.insert(f(1, 10), established(10, 10 * S), 10 * S, NO_QUOTA)
        .unwrap();
    assert_eq!((t.port_len(0), t.port_len(1)), (2, 2));
    t.insert(f(1, 11), established(11, 11 * S), 11 * S, NO_QUOTA)
        .unwrap();
    assert_eq!((t.port_len(0), t.port_len(1)), (2, 2));
    assert!(t.get(&f(1, 4)).is_none(), "port 1's oldest went");
    assert_eq!(t.counters().refused, 0);
}

#[test]
fn a_port_at_its_quota_evicts_only_its_own_embryonic_flows() {
    let mut t = FlowTable::new(100, DEFAULT_TTL_NS);
    // Port 1: one established flow and one unanswered SYN.
    t.insert(id(1, 1, proto::TCP), established(1, 0), 0, NO_QUOTA)
        .unwrap();
    t.insert(id(1, 2, proto::TCP), tcp(2, 0, flags::SYN), 0, NO_QUOTA)
        .unwrap();
    // Port 0 floods with a quota of 10.
    for i in 0..1000u16 {
        t.insert(id(0, i, proto::UDP), udp(i, S), S, 10).unwrap();
    }
    assert_eq!(t.port_len(0), 10);
    assert_eq!(t.port_len(1), 2, "never another port's flows");
    assert_eq!(t.counters().evicted[FlowClass::Unreplied as usize], 990);
    // The newest ten are kept.
    assert!((990..1000).all(|i| t.get(&id(0, i, proto::UDP)).is_some()));
    // With only established flows of its own, a port at its quota is refused.
    let mut t = FlowTable::new(100, DEFAULT_TTL_NS);
    t.insert(id(0, 1, proto::TCP), established(1, 0), 0, 2)
        .unwrap();
    t.insert(id(0, 2, proto::TCP), established(2, 0), 0, 2)
        .unwrap();
    assert_eq!(
        t.insert(id(0, 3, proto::UDP), udp(3, S), S, 2).err(),
        Some(Refused::Quota)
    );
    assert_eq!(t.counters().quota_refused, 1);
    // ...unless one of them has expired.
    let e = t.get_mut(&id(0, 1, proto::TCP), S).unwrap();
    e.saw(Direction::Out, flags::RST);
    assert!(t
        .insert(id(0, 3, proto::UDP), udp(3, 2 * S), 2 * S, 2)
        .is_ok());
}

/// Flooding a full table costs a bounded number of steps per insert: the
/// slots looked at stay flat however many flows the table holds.
#[test]
fn inserts_into_a_full_table_do_bounded_work() {
    for cap in [1_000usize, 64_000] {
        let mut t = FlowTable::new(cap, DEFAULT_TTL_NS);
        for i in 0..cap as u32 {
            let mut f = id(0, (i % 60_000) as u16, proto::UDP);
            f.key.dst_port = (i / 60_000) as u16;
            t.insert(f, udp(i, 0), 0, NO_QUOTA).unwrap();
        }
        assert_eq!(t.len(), cap);
        let before = t.counters();
        for i in 0..10_000u32 {
            let mut f = id(0, (i % 60_000) as u16, proto::UDP);
            f.key.dst_port = 999 + (i / 60_000) as u16;
            t.insert(f, udp(i, S), S, NO_QUOTA).unwrap();
            t.reap(|_, _, _| {});
        }
        let after = t.counters();
        assert_eq!(
            after.evicted[FlowClass::Unreplied as usize]
                - before.evicted[FlowClass::Unreplied as usize],
            10_000
        );
        assert_eq!(t.len(), cap);
    }
}

#[test]
fn sweep_is_bounded_and_finds_what_expired() {
    let mut t = FlowTable::new(10_000, DEFAULT_TTL_NS);
    for i in 0..5000u16 {
        t.insert(id(0, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    for i in (0..5000u16).step_by(2) {
        t.get_mut(&id(0, i, proto::UDP), 30 * S).unwrap();
    }
    assert_eq!(
        t.sweep(61 * S, 100),
        50,
        "100 steps: 50 removed, 50 requeued"
    );
    let mut total = 50;
    while t.len() > 2500 {
        total += t.sweep(61 * S, 100);
    }
    assert_eq!(total, 2500);
    assert_eq!(t.sweep(61 * S, 100), 0, "nothing else is expired");
    assert_eq!(t.counters().expired, 2500);
    let mut n = 0;
    t.reap(|_, _, why| {
        assert_eq!(why, Removal::Expired);
        n += 1
    });
    assert_eq!(n, 2500);
    assert!(t.iter().all(|(id, _)| id.key.src_port % 2 == 0));
}

#[test]
fn clear_by_port_in_steps_and_below_an_epoch() {
    let mut t = FlowTable::new(64, DEFAULT_TTL_NS);
    for i in 0..10 {
        t.insert(id(0, i, proto::UDP), udp((), 0), 0, NO_QUOTA)
            .unwrap();
        t.insert(
            id(1, i, proto::UDP),
            FlowEntry::new((), 1 + u64::from(i % 2), 0, None),
            0,
            NO_QUOTA,
        )
        .unwrap();
    }
    // Port 1's flows of epoch 1 only, a few slots at a time.
    let (mut gone, mut at) = (0, Some(0));
    while let Some(from) = at {
        let (n, next) = t.clear_from(Some(1), 2, (from, u32::MAX), 3);
        gone += n;
        at = next;
    }
    assert_eq!(gone, 5);
    assert_eq!(t.port_len(1), 5);
    assert!(t
        .iter()
        .filter(|(id, _)| id.port == 1)
        .all(|(_, e)| e.epoch == 2));
    assert_eq!(clear_all(&mut t, Some(1)), 5);
    assert_eq!(t.len(), 10);
    assert_eq!(t.port_len(1), 0);
    assert_eq!(clear_all(&mut t, None), 10);
    let mut n = 0;
    t.reap(|_, _, why| {
        assert_eq!(why, Removal::Cleared);
        n += 1
    });
    assert_eq!(n, 20);
    assert!(t.is_empty());
    check_invariants(&t);
}

#[test]
fn visit_pages_through_every_entry_once() {
    let mut t = FlowTable::new(50_000, DEFAULT_TTL_NS);
    for i in 0..40_000u16 {
        t.insert(id(i % 3, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut at = Some(0);
    let mut pages = 0;
    while let Some(from) = at {
        let mut n = 0;
        at = t.visit_from(from, 1000, 4096, |id, _| {
            seen.push(id.key.src_port);
            n += 1;
        });
        assert!(n <= 1000);
        pages += 1;
    }
    seen.sort();
    assert_eq!(seen, (0..40_000u16).collect::<Vec<_>>());
    assert!(pages >= 40, "{pages} pages");
}

/// Checks the index against the slab: every live slot is in exactly one
/// lane, reachable from its home bucket, and every overflow count equals
/// the number of entries whose probe passed that bucket; and the lists hold
/// every live slot once, with the right port.
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
            assert!(t.lists.class_of(*s).is_some(), "a live slot is on a list");
        }
    }
    let live = t.iter().count();
    assert_eq!(lanes, live);
    assert_eq!(t.len(), live);
    for (b, bucket) in t.buckets.iter().enumerate() {
        assert_eq!(bucket.overflow, overflow[b], "overflow of bucket {b}");
    }
    assert_eq!(t.free.len() + live, t.chunks.len() * CHUNK);
    let mut per_port = std::collections::HashMap::new();
    for (id, _) in t.iter() {
        *per_port.entry(id.port).or_insert(0u32) += 1;
    }
    let listed: u32 = t.lists.ports().map(|(_, n)| n).sum();
    assert_eq!(listed as usize, live);
    for (p, n) in per_port {
        assert_eq!(t.lists.port_len(p), n);
    }
}

#[test]
fn bucket_is_one_line_and_an_entry_two() {
    assert_eq!(std::mem::size_of::<Bucket>(), 64);
    assert_eq!(std::mem::align_of::<Bucket>(), 64);
    let slot = std::mem::size_of::<Option<Slot<crate::flow::state::FlowState>>>();
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
        t.insert(id(0, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    check_invariants(&t);
    assert!(t.buckets[3].overflow > 0);
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
    // Refill the freed lanes, then one more: the oldest goes.
    for i in (0..64u16).step_by(2) {
        t.insert(id(0, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    t.insert(id(0, 99, proto::UDP), udp(99, 3), 3, NO_QUOTA)
        .unwrap();
    assert_eq!(t.len(), 64);
    t.reap(|_, _, _| {});
    check_invariants(&t);
    for i in (0..64u16).chain([99]) {
        t.remove(&id(0, i, proto::UDP));
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
        t.insert(id(0, i, proto::UDP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    check_invariants(&t);
    assert!(t.buckets[0].tags[0] != 0, "the chain wrapped to bucket 0");
    // Expiry removes by slot and must unwind the wrapped chain too.
    for i in (0..30u16).step_by(3) {
        t.get_mut(&id(0, i, proto::UDP), 50 * S).unwrap();
    }
    assert_eq!(t.sweep(70 * S, usize::MAX), 20);
    let mut gone = Vec::new();
    t.reap(|id, e, _| gone.push((id.key.src_port, e.value)));
    gone.sort();
    assert!(gone.iter().all(|(p, v)| p == v && p % 3 != 0));
    check_invariants(&t);
    for i in (0..30u16).step_by(3) {
        assert!(t.get_mut(&id(0, i, proto::UDP), 71 * S).is_some());
    }
}

/// Random inserts, lookups, removals and sweeps against a map model: the
/// table finds what the model holds; a full table makes room by removing
/// expired entries or exactly one live one, never more.
#[test]
fn agrees_with_a_map_under_random_operations() {
    use std::collections::HashMap;
    let cap = 300;
    let mut t = FlowTable::new(cap, DEFAULT_TTL_NS);
    let mut m: HashMap<FlowId, (u32, u64)> = HashMap::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut now = 0u64;
    let mut evictions = 0;
    for step in 0..20_000u32 {
        let r = rnd();
        let f = id((r % 3) as PortIdx, (r >> 8) as u16 % 400, proto::UDP);
        now += S / 100;
        match (r >> 40) % 8 {
            0..=2 => {
                assert!(t.insert(f, udp(step, now), now, NO_QUOTA).is_ok());
                m.insert(f, (step, now));
                // Whatever the table removed, the model drops too.
                let mut live_removed = 0;
                t.reap(|id, e, why| {
                    let (v, seen) = m.remove(&id).expect("removed what the model holds");
                    assert_eq!(v, e.value);
                    match why {
                        Removal::Expired => assert!(now - seen > DEFAULT_TTL_NS),
                        Removal::Evicted => live_removed += 1,
                        Removal::Cleared => panic!("nothing was cleared"),
                    }
                });
                assert!(live_removed <= 1);
                evictions += live_removed;
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
                t.reap(|_, _, _| {});
            }
            6 => assert_eq!(t.remove(&f).map(|e| e.value), m.remove(&f).map(|e| e.0)),
            _ => {
                if step % 50 == 0 {
                    t.sweep(now, 64);
                    t.reap(|id, _, why| {
                        assert_eq!(why, Removal::Expired);
                        let (_, seen) = m.remove(&id).unwrap();
                        assert!(now - seen > DEFAULT_TTL_NS);
                    });
                }
            }
        }
        assert_eq!(t.len(), m.len());
        assert!(t.len() <= cap);
        if step % 1000 == 0 {
            check_invariants(&t);
        }
    }
    assert!(evictions > 0, "the table filled up at times");
    check_invariants(&t);
}

#[test]
fn clear_all_then_reuse_and_prefetch_any_hash() {
    let mut t = FlowTable::new(40000, DEFAULT_TTL_NS);
    for i in 0..40000u16 {
        t.insert(id(i % 4, i, proto::TCP), udp(i, 0), 0, NO_QUOTA)
            .unwrap();
    }
    assert_eq!(t.chunks.len(), 40000usize.div_ceil(CHUNK));
    assert_eq!(clear_all(&mut t, Some(2)), 10000);
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
    assert_eq!(clear_all(&mut t, None), 30000);
    t.reap(|_, _, _| {});
    assert!(t.is_empty() && t.iter().next().is_none());
    check_invariants(&t);
    t.insert(id(0, 1, proto::TCP), udp(1, 0), 0, NO_QUOTA)
        .unwrap();
    assert_eq!(t.len(), 1);
    check_invariants(&t);
}
