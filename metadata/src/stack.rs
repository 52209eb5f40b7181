//! One tenant's TCP/IP stack: a smoltcp interface at 169.254.169.254/32 with
//! `conns_per_stack` sockets listening on port 80, and the HTTP exchange on
//! each of them.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Instant;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::{HardwareAddress, IpCidr, IpListenEndpoint};

use crate::clock::Clock;
use crate::filter::{Segment, METADATA_ADDR, METADATA_PORT};
use crate::link::Link;
use crate::{http, Counters, Limits, MetadataSource};

/// How many packets a stack may hold for `poll` to hand out. Egress stops
/// when it is full (smoltcp retries later); a reply made while receiving is
/// dropped and counted.
const TX_QUEUE: usize = 64;

/// Where one socket's HTTP exchange stands.
enum Phase {
    /// Listening, or not yet seen connected.
    Idle,
    /// Reading the request head, bounded by `max_request`.
    Reading(Vec<u8>),
    /// Writing the response: the bytes, and how many are in the socket.
    Writing(Vec<u8>, usize),
    /// Response written and the socket closed; waiting for the peer's FIN.
    Closing,
}

/// One socket and its exchange.
struct Conn {
    handle: SocketHandle,
    phase: Phase,
    /// When the connection last made progress.
    progress_at: Instant,
    /// The TCP state and send queue length at the last look, to see progress
    /// made by smoltcp itself (handshake, ACKs).
    seen: (State, usize),
}

/// What a stack's poll needs from the server.
pub(crate) struct PollCtx<'a> {
    /// The tenant, as asked of `source` and tagged on `out`.
    pub key: u32,
    /// Caller time.
    pub now: Instant,
    /// The clock that turns `now` into smoltcp time and back.
    pub clock: &'a mut Clock,
    /// The bounds.
    pub limits: &'a Limits,
    /// Who answers requests.
    pub source: &'a dyn MetadataSource,
    /// The server's counters.
    pub counters: &'a mut Counters,
    /// Packets to send, with their tenant key.
    pub out: &'a mut Vec<(u32, Vec<u8>)>,
}

/// One tenant's interface, sockets and pending output.
pub(crate) struct Stack {
    iface: Interface,
    sockets: SocketSet<'static>,
    conns: Vec<Conn>,
    tx: VecDeque<Vec<u8>>,
    /// The server's use counter when this stack last got a packet (for LRU).
    pub(crate) last_used: u64,
    /// When the stack last got a packet or had a connection.
    active_at: Instant,
    /// Got a packet since the last poll.
    pub(crate) dirty: bool,
    /// When it must be polled at the latest, `None` if only a packet would
    /// give it work.
    pub(crate) deadline: Option<Instant>,
}

impl Stack {
    /// A stack listening on 169.254.169.254:80 with `conns_per_stack`
    /// sockets, `None` if smoltcp refuses the address or route.
    pub(crate) fn new(
        limits: &Limits,
        seed: u64,
        now: Instant,
        clock: &mut Clock,
    ) -> Option<Stack> {
        let at = clock.at(now);
        let mut tx = VecDeque::new();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut Link::new(None, &mut tx, TX_QUEUE), at);
        let mut added = false;
        iface.update_ip_addrs(|addrs| {
            added = addrs.push(IpCidr::new(METADATA_ADDR.into(), 32)).is_ok();
        });
        // Replies go to the guest, whatever its address: a default route
        // makes every destination reachable; on Medium::Ip the gateway is
        // never looked up.
        if !added
            || iface
                .routes_mut()
                .add_default_ipv4_route(METADATA_ADDR)
                .is_err()
        {
            return None;
        }
        let mut sockets = SocketSet::new(Vec::with_capacity(limits.conns_per_stack));
        let mut conns = Vec::with_capacity(limits.conns_per_stack);
        for _ in 0..limits.conns_per_stack {
            let rx = tcp::SocketBuffer::new(vec![0; limits.rx_bytes()]);
            let txb = tcp::SocketBuffer::new(vec![0; limits.tx_bytes()]);
            let mut socket = tcp::Socket::new(rx, txb);
            socket.listen(listen_endpoint()).ok()?;
            let seen = (socket.state(), 0);
            conns.push(Conn {
                handle: sockets.add(socket),
                phase: Phase::Idle,
                progress_at: now,
                seen,
            });
        }
        Some(Stack {
            iface,
            sockets,
            conns,
            tx,
            last_used: 0,
            active_at: now,
            dirty: false,
            deadline: None,
        })
    }

    /// Whether any connection is open (from SYN received until closed).
    pub(crate) fn is_busy(&self) -> bool {
        self.conns
            .iter()
            .any(|c| self.sockets.get::<tcp::Socket>(c.handle).is_active())
    }

    /// Whether the stack has had no connection for `limits.idle`.
    pub(crate) fn is_expired(&self, now: Instant, limits: &Limits) -> bool {
        !self.is_busy() && now.saturating_duration_since(self.active_at) >= limits.idle
    }

    /// Feeds one accepted packet (`segment` says what it is) to the stack.
    pub(crate) fn receive(
        &mut self,
        packet: &[u8],
        segment: &Segment,
        now: Instant,
        clock: &mut Clock,
        counters: &mut Counters,
    ) {
        if segment.opens && !self.can_take(segment.src) {
            counters.connections_refused += 1;
        }
        let at = clock.at(now);
        let packet = packet.get(..segment.len).unwrap_or(packet);
        let mut link = Link::new(Some(packet), &mut self.tx, TX_QUEUE);
        self.iface
            .poll_ingress_single(at, &mut link, &mut self.sockets);
        counters.packets_dropped += link.dropped();
        self.dirty = true;
        self.active_at = now;
    }

    /// Whether a SYN from `src` finds a socket: one listening, or the one
    /// already on that connection (a retransmitted SYN).
    fn can_take(&self, src: (Ipv4Addr, u16)) -> bool {
        self.conns.iter().any(|c| {
            let socket = self.sockets.get::<tcp::Socket>(c.handle);
            socket.is_listening()
                || socket
                    .remote_endpoint()
                    .is_some_and(|r| r.addr == src.0.into() && r.port == src.1)
        })
    }

    /// Serves every connection, sends what smoltcp has to send, relistens the
    /// closed sockets and hands the packets out.
    pub(crate) fn poll(&mut self, ctx: &mut PollCtx<'_>) {
        let at = ctx.clock.at(ctx.now);
        if self.is_busy() {
            self.active_at = ctx.now;
        }
        for conn in &mut self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
            serve(conn, socket, ctx);
        }
        let mut link = Link::new(None, &mut self.tx, TX_QUEUE);
        self.iface.poll(at, &mut link, &mut self.sockets);
        ctx.counters.packets_dropped += link.dropped();
        // Only now, with the last ACK or the reset of an abort sent, may a
        // closed socket listen again. A socket in TIME-WAIT listens at once
        // rather than holding one of the few slots for smoltcp's 10 s.
        for conn in &mut self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
            if matches!(socket.state(), State::Closed | State::TimeWait) {
                // Cannot fail: the socket is closed and the port is not 0.
                let _ = socket.listen(listen_endpoint());
                conn.phase = Phase::Idle;
                conn.seen = (socket.state(), 0);
            }
        }
        ctx.counters.packets_out += self.tx.len() as u64;
        ctx.out.extend(self.tx.drain(..).map(|p| (ctx.key, p)));
        self.dirty = false;
        self.schedule(ctx);
    }

    /// Sets `deadline`: smoltcp's next timer, each open connection's idle
    /// limit, or with none open the stack's own.
    fn schedule(&mut self, ctx: &mut PollCtx<'_>) {
        let at = ctx.clock.at(ctx.now);
        let mut deadline = self
            .iface
            .poll_at(at, &self.sockets)
            .and_then(|t| ctx.clock.instant(t));
        let mut busy = false;
        for conn in &self.conns {
            if self.sockets.get::<tcp::Socket>(conn.handle).is_active() {
                busy = true;
                deadline = earliest(deadline, conn.progress_at.checked_add(ctx.limits.idle));
            }
        }
        if busy {
            self.active_at = ctx.now;
        } else {
            deadline = earliest(deadline, self.active_at.checked_add(ctx.limits.idle));
        }
        self.deadline = deadline;
    }
}

/// Moves one connection's exchange on: reads the request head, writes the
/// answer, closes; aborts it after `idle` without progress.
fn serve(conn: &mut Conn, socket: &mut tcp::Socket<'static>, ctx: &mut PollCtx<'_>) {
    if !socket.is_active() {
        return;
    }
    let now = ctx.now;
    if matches!(conn.phase, Phase::Idle) {
        conn.phase = Phase::Reading(Vec::new());
        conn.progress_at = now;
    }
    let mut progressed = false;
    if let Phase::Reading(buf) = &mut conn.phase {
        let max = ctx.limits.max_request;
        while socket.can_recv() && buf.len() < max {
            let old = buf.len();
            buf.resize(max, 0);
            let n = socket.recv_slice(&mut buf[old..]).unwrap_or(0);
            buf.truncate(old + n);
            if n == 0 {
                break;
            }
            progressed = true;
        }
        if let Some(end) = http::head_end(buf) {
            let answer = http::answer(&buf[..end], ctx.key, ctx.source, ctx.counters);
            conn.phase = Phase::Writing(answer, 0);
        } else if buf.len() >= max {
            conn.phase = Phase::Writing(http::bad_request(ctx.counters), 0);
        } else if !socket.may_recv() && socket.state() != State::SynReceived {
            // The guest closed its half before ending the head.
            socket.close();
            conn.phase = Phase::Closing;
        }
    }
    if let Phase::Writing(answer, written) = &mut conn.phase {
        if socket.may_send() {
            let n = socket.send_slice(&answer[*written..]).unwrap_or(0);
            *written += n;
            progressed |= n > 0;
        }
        if *written >= answer.len() {
            socket.close();
            conn.phase = Phase::Closing;
        }
    }
    if matches!(conn.phase, Phase::Writing(..) | Phase::Closing) {
        // Anything sent after the head is ignored; drain it so the window
        // stays open for the FIN.
        while socket.can_recv() {
            if socket.recv(|data| (data.len(), ())).is_err() {
                break;
            }
        }
    }
    let seen = (socket.state(), socket.send_queue());
    if seen != conn.seen {
        conn.seen = seen;
        progressed = true;
    }
    if progressed {
        conn.progress_at = now;
    } else if now.saturating_duration_since(conn.progress_at) >= ctx.limits.idle {
        socket.abort();
        ctx.counters.connections_aborted_idle += 1;
        conn.phase = Phase::Idle;
    }
}

/// Where the sockets listen.
fn listen_endpoint() -> IpListenEndpoint {
    IpListenEndpoint {
        addr: Some(METADATA_ADDR.into()),
        port: METADATA_PORT,
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
