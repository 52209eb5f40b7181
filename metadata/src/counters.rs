//! What the service counts.

/// A snapshot of the server's counters; all count since
/// [`MetadataServer::new`](crate::MetadataServer::new) except `stacks`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets given to `receive`, whatever became of them.
    pub packets_in: u64,
    /// Packets handed out by `poll`.
    pub packets_out: u64,
    /// Packets dropped before any stack: not IPv4, truncated, a bad header or
    /// TCP checksum, a fragment, or not TCP to 169.254.169.254:80.
    pub malformed: u64,
    /// Packets dropped because their tenant has no stack and gets none: all
    /// stacks busy at `max_stacks`, or a packet other than a SYN for a tenant
    /// without a stack (only a SYN makes one).
    pub refused_no_stack: u64,
    /// Stacks now (a gauge).
    pub stacks: u64,
    /// Idle stacks freed to make room for a new tenant.
    pub stacks_evicted: u64,
    /// Stacks freed after `idle` with no connection.
    pub stacks_expired: u64,
    /// SYNs that found no listening socket (all `conns_per_stack` in use) and
    /// were reset.
    pub connections_refused: u64,
    /// Connections aborted (reset) after `idle` with no progress.
    pub connections_aborted_idle: u64,
    /// Requests answered, whatever the answer.
    pub requests: u64,
    /// 200 answers.
    pub responses_ok: u64,
    /// 404 answers: an unknown path, or a tenant attached to no instance.
    pub responses_not_found: u64,
    /// 400 answers: a malformed request, or a head longer than `max_request`.
    pub responses_bad_request: u64,
    /// 405 answers: a method other than GET or HEAD.
    pub responses_not_allowed: u64,
    /// Packets to send dropped because a stack's send queue was full (the
    /// caller did not poll for a long while).
    pub packets_dropped: u64,
}
