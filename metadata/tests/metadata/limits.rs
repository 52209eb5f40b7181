//! Everything is bounded: request size, connections, stacks, idle time.

use std::net::Ipv4Addr;
use std::time::Duration;

use smoltcp::socket::tcp::State;
use vswitch_metadata::{Limits, METADATA_ADDR};

use crate::harness::{parse_response, tcp_packet, two_nic_instance, World, ACK, GUEST_ADDR};

#[test]
fn a_head_longer_than_max_request_gets_400() {
    let mut w = World::new(Limits::default());
    w.views.insert(1, two_nic_instance("i-1"));
    let g = w.guest(1);
    let request = |pad: usize| {
        format!(
            "GET /latest/meta-data/instance-id HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(pad)
        )
    };
    // Just within the limit: answered.
    let base = request(0).len();
    let fits = request(2048 - base);
    assert_eq!(fits.len(), 2048);
    let r = parse_response(&w.exchange(g, fits.as_bytes()), false);
    assert_eq!((r.status, r.body.as_str()), (200, "i-1"));
    // One byte over: 400, and the connection closes (exchange waits for it).
    let over = request(2048 - base + 1);
    let r = parse_response(&w.exchange(g, over.as_bytes()), false);
    assert_eq!(r.status, 400);
    // Far over, more than the receive buffer: the same.
    let r = parse_response(&w.exchange(g, request(6000).as_bytes()), false);
    assert_eq!(r.status, 400);
    let c = w.server.counters();
    assert_eq!((c.responses_ok, c.responses_bad_request), (1, 2));
}

#[test]
fn at_most_conns_per_stack_connections_at_once() {
    let mut w = World::new(Limits {
        conns_per_stack: 2,
        ..Limits::default()
    });
    w.views.insert(1, two_nic_instance("i-1"));
    let g = w.guest(1);
    let h1 = w.guests[g].connect();
    let h2 = w.guests[g].connect();
    w.run_until(|w| {
        w.guests[g].state(h1) == State::Established && w.guests[g].state(h2) == State::Established
    });
    // The third is reset, never established.
    let h3 = w.guests[g].connect();
    w.run_until(|w| w.guests[g].state(h3) == State::Closed);
    assert_eq!(w.server.counters().connections_refused, 1);
    w.settle();
    assert_eq!(w.guests[g].state(h1), State::Established);
    assert_eq!(w.guests[g].state(h2), State::Established);

    // Both served, then closed...
    for h in [h1, h2] {
        w.guests[g].send(h, b"GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n");
    }
    w.run_until(|w| !w.guests[g].socket(h1).may_recv() && !w.guests[g].socket(h2).may_recv());
    for h in [h1, h2] {
        let r = parse_response(w.guests[g].received(h), false);
        assert_eq!((r.status, r.body.as_str()), (200, "i-1"));
        w.guests[g].socket(h).close();
    }
    w.settle();
    // ...the next connection is served.
    let r = w.get(g, "/latest/meta-data/instance-id");
    assert_eq!((r.status, r.body.as_str()), (200, "i-1"));
    assert_eq!(w.server.counters().connections_refused, 1);
}

#[test]
fn a_closed_connection_frees_its_socket_at_once() {
    // One socket: each request must wait for the one before to close, and
    // TIME-WAIT must not hold the socket.
    let mut w = World::new(Limits {
        conns_per_stack: 1,
        ..Limits::default()
    });
    w.views.insert(1, two_nic_instance("i-1"));
    let g = w.guest(1);
    let start = w.now;
    for _ in 0..5 {
        assert_eq!(w.get(g, "/latest/meta-data/instance-id").body, "i-1");
    }
    assert!(
        w.now - start < Duration::from_secs(1),
        "took {:?}",
        w.now - start
    );
    assert_eq!(w.server.counters().connections_refused, 0);
}

/// Feeds a stray ACK from `key` to the server: a tenant with a stack answers
/// it with a reset; one without refuses it. Whether `key` has a stack.
fn has_stack(w: &mut World, key: u32) -> bool {
    let refused = w.server.counters().refused_no_stack;
    let probe = tcp_packet(GUEST_ADDR, METADATA_ADDR, 40000, 80, ACK, b"");
    w.server.receive(key, &probe, w.now);
    let mut out = Vec::new();
    w.server.poll(w.now, &|_: u32| None, &mut out);
    let answered = out.iter().any(|(k, _)| *k == key);
    let was_refused = w.server.counters().refused_no_stack > refused;
    assert_ne!(
        answered, was_refused,
        "a probe is either answered or refused"
    );
    answered
}

#[test]
fn a_new_tenant_evicts_the_least_recently_used_idle_stack_or_is_refused() {
    let mut w = World::new(Limits {
        max_stacks: 2,
        ..Limits::default()
    });
    for key in 1..=4 {
        w.views.insert(key, two_nic_instance(&format!("i-{key}")));
    }
    let g1 = w.guest(1);
    let g2 = w.guest(2);
    let g3 = w.guest(3);
    let g4 = w.guest(4);
    assert_eq!(w.get(g1, "/latest/meta-data/instance-id").body, "i-1");
    assert_eq!(w.get(g2, "/latest/meta-data/instance-id").body, "i-2");
    assert_eq!(w.server.counters().stacks, 2);

    // Both idle: tenant 3 evicts tenant 1, the least recently used.
    assert_eq!(w.get(g3, "/latest/meta-data/instance-id").body, "i-3");
    let c = w.server.counters();
    assert_eq!((c.stacks, c.stacks_evicted), (2, 1));
    assert!(!has_stack(&mut w, 1));
    assert!(has_stack(&mut w, 2));
    assert!(has_stack(&mut w, 3));

    // Tenants 2 and 3 hold a connection each: tenant 4 is refused.
    let h2 = w.guests[g2].connect();
    let h3 = w.guests[g3].connect();
    w.run_until(|w| {
        w.guests[g2].state(h2) == State::Established && w.guests[g3].state(h3) == State::Established
    });
    let refused = w.server.counters().refused_no_stack;
    let h4 = w.guests[g4].connect();
    w.settle();
    assert_eq!(w.guests[g4].state(h4), State::SynSent);
    assert!(w.server.counters().refused_no_stack > refused);
    assert!(
        !w.sent.iter().any(|(k, _)| *k == 4),
        "nothing sent to tenant 4"
    );
    let c = w.server.counters();
    assert_eq!((c.stacks, c.stacks_evicted), (2, 1));

    // Once tenant 2's connection is over, tenant 4's retransmitted SYN gets
    // tenant 2's place.
    w.guests[g2].send(h2, b"GET /latest HTTP/1.1\r\n\r\n");
    w.run_until(|w| !w.guests[g2].socket(h2).may_recv());
    w.guests[g2].socket(h2).close();
    w.run_until(|w| w.guests[g4].state(h4) == State::Established);
    let c = w.server.counters();
    assert_eq!((c.stacks, c.stacks_evicted), (2, 2));
    assert!(!has_stack(&mut w, 2));
    assert!(has_stack(&mut w, 3));
    assert!(has_stack(&mut w, 4));
    assert_eq!(
        w.guests[g3].state(h3),
        State::Established,
        "tenant 3 untouched"
    );
}

#[test]
fn idle_connections_are_aborted_and_idle_stacks_freed() {
    let mut w = World::new(Limits::default());
    w.views.insert(1, two_nic_instance("i-1"));
    let g = w.guest(1);
    let silent = w.guests[g].connect();
    let halting = w.guests[g].connect();
    w.run_until(|w| {
        w.guests[g].state(silent) == State::Established
            && w.guests[g].state(halting) == State::Established
    });
    w.guests[g].send(halting, b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHo");
    w.settle();
    let delay = w.server.poll_delay(w.now).expect("a timeout is pending");
    assert!(
        delay > Duration::from_secs(29) && delay <= Duration::from_secs(30),
        "{delay:?}"
    );

    // Just before the limit nothing happens.
    w.advance(Duration::from_secs(29));
    w.settle();
    assert_eq!(w.server.counters().connections_aborted_idle, 0);
    assert_eq!(w.guests[g].state(silent), State::Established);

    // Past it both are reset.
    w.advance(Duration::from_secs(2));
    w.settle();
    assert_eq!(w.server.counters().connections_aborted_idle, 2);
    assert_eq!(w.guests[g].state(silent), State::Closed);
    assert_eq!(w.guests[g].state(halting), State::Closed);
    assert!(w.guests[g].received(halting).is_empty());
    assert_eq!(w.server.counters().stacks, 1);

    // The stack, now without a connection, goes after `idle` too.
    let delay = w
        .server
        .poll_delay(w.now)
        .expect("the stack's expiry is pending");
    assert!(delay <= Duration::from_secs(30), "{delay:?}");
    w.advance(delay);
    w.step();
    let c = w.server.counters();
    assert_eq!((c.stacks, c.stacks_expired), (0, 1));
    assert_eq!(w.server.poll_delay(w.now), None);

    // And a new connection makes a new stack.
    assert_eq!(w.get(g, "/latest/meta-data/instance-id").body, "i-1");
    assert_eq!(w.server.counters().stacks, 1);
}

#[test]
fn poll_delay_is_none_until_there_is_work_then_zero() {
    let mut w = World::new(Limits::default());
    assert_eq!(w.server.poll_delay(w.now), None);
    let syn = tcp_packet(
        Ipv4Addr::new(10, 0, 0, 9),
        METADATA_ADDR,
        40001,
        80,
        crate::harness::SYN,
        b"",
    );
    w.server.receive(5, &syn, w.now);
    assert_eq!(w.server.poll_delay(w.now), Some(Duration::ZERO));
    let mut out = Vec::new();
    w.server.poll(w.now, &|_: u32| None, &mut out);
    assert_eq!(out.len(), 1, "a SYN-ACK");
    assert_eq!(out[0].0, 5);
    // Now the SYN-ACK's retransmission is pending, within a second or so.
    let delay = w.server.poll_delay(w.now).unwrap();
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(2),
        "{delay:?}"
    );
    assert_eq!(w.server.counters().packets_out, 1);
}
