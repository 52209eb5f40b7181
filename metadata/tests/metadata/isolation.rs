//! Tenants never see each other.

use smoltcp::socket::tcp::State;
use vswitch_metadata::Limits;

use crate::harness::{parse_response, two_nic_instance, World};

#[test]
fn two_tenants_with_the_same_guest_address_get_their_own_instance() {
    let mut w = World::new(Limits::default());
    w.views.insert(10, two_nic_instance("i-aaaaaaaaaaaaaaaaa"));
    w.views.insert(20, two_nic_instance("i-bbbbbbbbbbbbbbbbb"));
    let a = w.guest(10);
    let b = w.guest(20);
    // Same address, same first source port: the same 4-tuple in both
    // tenants, at the same time.
    let ha = w.guests[a].connect();
    let hb = w.guests[b].connect();
    w.run_until(|w| {
        w.guests[a].state(ha) == State::Established && w.guests[b].state(hb) == State::Established
    });
    let req = b"GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n";
    w.guests[a].send(ha, req);
    w.guests[b].send(hb, req);
    w.run_until(|w| !w.guests[a].socket(ha).may_recv() && !w.guests[b].socket(hb).may_recv());
    let ra = parse_response(w.guests[a].received(ha), false);
    let rb = parse_response(w.guests[b].received(hb), false);
    assert_eq!((ra.status, ra.body.as_str()), (200, "i-aaaaaaaaaaaaaaaaa"));
    assert_eq!((rb.status, rb.body.as_str()), (200, "i-bbbbbbbbbbbbbbbbb"));
    assert_eq!(w.server.counters().stacks, 2);

    // Sequentially too, and one tenant's view changing does not touch the other.
    w.views.insert(20, two_nic_instance("i-ccccccccccccccccc"));
    assert_eq!(
        w.get(a, "/latest/meta-data/instance-id").body,
        "i-aaaaaaaaaaaaaaaaa"
    );
    assert_eq!(
        w.get(b, "/latest/meta-data/instance-id").body,
        "i-ccccccccccccccccc"
    );
}
