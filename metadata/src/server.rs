//! The service: one stack per tenant key, created on a tenant's first SYN,
//! evicted when idle and room is needed, freed after `idle` without a
//! connection; and the counters.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::filter;
use crate::stack::{PollCtx, Stack};
use crate::{Counters, Limits, MetadataSource};

/// The instance metadata service of every tenant.
///
/// Driven by one thread: [`receive`](Self::receive) what the workers punted,
/// [`poll`](Self::poll), send what it gave, sleep up to
/// [`poll_delay`](Self::poll_delay), again.
pub struct MetadataServer {
    limits: Limits,
    stacks: HashMap<u32, Stack>,
    clock: Clock,
    /// Counts packets given to stacks, the LRU's clock.
    uses: u64,
    /// Seeds each stack's initial sequence numbers differently.
    seeds: RandomState,
    counters: Counters,
}

impl MetadataServer {
    /// A server with no stack yet, bounded by `limits`.
    pub fn new(limits: Limits) -> Self {
        MetadataServer {
            limits,
            stacks: HashMap::new(),
            clock: Clock::default(),
            uses: 0,
            seeds: RandomState::new(),
            counters: Counters::default(),
        }
    }

    /// The limits the server was made with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// An IPv4 packet (no Ethernet header) from tenant `key`. Anything not
    /// TCP to 169.254.169.254:80 or malformed is dropped and counted, never a
    /// panic.
    ///
    /// The packet goes through the tenant's TCP stack at once; what it makes
    /// the stack send comes out of the next [`poll`](Self::poll). A tenant's
    /// stack is made by its first SYN: when `max_stacks` exist, the least
    /// recently used one with no open connection is evicted for it, and with
    /// none such the packet is refused.
    pub fn receive(&mut self, key: u32, packet: &[u8], now: Instant) {
        self.counters.packets_in += 1;
        let Some(segment) = filter::check(packet) else {
            self.counters.malformed += 1;
            return;
        };
        if !self.stacks.contains_key(&key) && !self.make_room(key, segment.opens, now) {
            self.counters.refused_no_stack += 1;
            return;
        }
        let Some(stack) = self.stacks.get_mut(&key) else {
            self.counters.refused_no_stack += 1;
            return;
        };
        self.uses += 1;
        stack.last_used = self.uses;
        stack.receive(packet, &segment, now, &mut self.clock, &mut self.counters);
    }

    /// Makes a stack for `key` if the packet `opens` a connection, evicting
    /// an idle one when full; whether `key` has a stack now.
    fn make_room(&mut self, key: u32, opens: bool, now: Instant) -> bool {
        if !opens || self.limits.max_stacks == 0 {
            return false;
        }
        if self.stacks.len() >= self.limits.max_stacks {
            let victim = self
                .stacks
                .iter()
                .filter(|(_, s)| !s.is_busy())
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k);
            let Some(victim) = victim else {
                return false;
            };
            self.stacks.remove(&victim);
            self.counters.stacks_evicted += 1;
        }
        let seed = self.seeds.hash_one((key, self.uses));
        match Stack::new(&self.limits, seed, now, &mut self.clock) {
            Some(stack) => {
                self.stacks.insert(key, stack);
                true
            }
            None => false,
        }
    }

    /// Runs every stack that has work, answering complete requests from
    /// `source`; appends the IPv4 packets to send, each with its tenant key.
    /// Frees the stacks that have had no connection for `idle`.
    pub fn poll(
        &mut self,
        now: Instant,
        source: &dyn MetadataSource,
        out: &mut Vec<(u32, Vec<u8>)>,
    ) {
        for (&key, stack) in &mut self.stacks {
            let due = stack.dirty || stack.deadline.is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            let mut ctx = PollCtx {
                key,
                now,
                clock: &mut self.clock,
                limits: &self.limits,
                source,
                counters: &mut self.counters,
                out,
            };
            stack.poll(&mut ctx);
        }
        let before = self.stacks.len();
        let limits = &self.limits;
        self.stacks.retain(|_, s| !s.is_expired(now, limits));
        self.counters.stacks_expired += (before - self.stacks.len()) as u64;
    }

    /// When poll should run next at the latest (retransmissions, timeouts),
    /// `None` if nothing is pending. Zero when a packet was received since
    /// the last poll.
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        self.stacks
            .values()
            .filter_map(|s| {
                if s.dirty {
                    Some(Duration::ZERO)
                } else {
                    s.deadline.map(|d| d.saturating_duration_since(now))
                }
            })
            .min()
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        Counters {
            stacks: self.stacks.len() as u64,
            ..self.counters
        }
    }
}
