//! A NIC's flows carried to another switch (`sequencer/carry.rs`): the
//! target translates the replies of a SNAT connection it never saw with
//! the same port, the guest's next segment leaves with that port, and what
//! the target cannot honour is refused by reason with nothing taken.

use super::*;
use crate::nat::tests::{
    check_to_boundary, from_boundary, igw_world, set_external, snat_only, source_of, SNAT_IP,
};
use crate::sequencer::carry::CarryRefused;
use crate::DropReason;
use etherparse::PacketBuilder;
use vswitch_api::migration::CarriedFlow;

const REMOTE: [u8; 4] = [8, 8, 8, 8];

fn tcp_out(sport: u16, syn: bool) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, REMOTE, 64)
        .tcp(sport, 80, 100, 4096);
    let b = if syn { b.syn() } else { b.ack(1) };
    let mut v = Vec::new();
    b.write(&mut v, b"").unwrap();
    v
}

/// The remote's segment to the SNAT address and `port`, as the boundary
/// delivers it.
fn tcp_in(port: u16, syn_ack: bool) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], crate::frame::offsets::BOUNDARY_MAC)
        .ipv4(REMOTE, SNAT_IP, 60)
        .tcp(80, port, 500, 4096)
        .ack(101);
    let b = if syn_ack { b.syn() } else { b };
    let mut v = Vec::new();
    b.write(&mut v, b"data").unwrap();
    from_boundary(&v)
}

fn export_a(w: &World) -> Vec<CarriedFlow> {
    let (flows, next) = w.engine.carry_out(GUEST_A, 0, 512, 1 << 20);
    assert_eq!(next, None);
    flows
}

fn import_a(w: &mut World, c: &CarriedFlow) -> Result<(), CarryRefused> {
    let snap = w.tables.current();
    let vnic = snap.vpc.vnic(GUEST_A).unwrap();
    w.engine.carry_in(vnic, c, 2 * S)
}

#[test]
fn a_snat_connection_moves_with_its_port_and_state() {
    // Source: guest a's connection through SNAT, answered.
    let mut src = igw_world();
    set_external(&src, GUEST_A, snat_only(3000, 3999));
    let (_, out) = src.run(GUEST_A, &tcp_out(40000, true), 0);
    let (_, port) = source_of(&check_to_boundary(&out));
    let (o, _) = src.run(UPLINK, &tcp_in(port, true), S / 10);
    assert_eq!(forwarded(o), GUEST_A);
    src.run(GUEST_A, &tcp_out(40000, false), S / 5);
    let flows = export_a(&src);
    assert_eq!(flows.len(), 1, "{flows:?}");
    let c = &flows[0];
    assert_eq!(c.realm, "internet");
    assert_eq!(c.origin, "out");
    assert!(c.allowed);
    assert_eq!(c.tcp.as_ref().unwrap().state, "established");
    let nat = c.nat.as_ref().unwrap();
    assert_eq!((nat.kind.as_str(), nat.ext_port), ("snat", port));

    // Target: the same NIC, never saw the connection.
    let mut dst = igw_world();
    set_external(&dst, GUEST_A, snat_only(3000, 3999));
    let (o, _) = dst.run(UPLINK, &tcp_in(port, false), S);
    assert_eq!(
        dropped(o),
        DropReason::NatNoState,
        "no state before the import"
    );
    import_a(&mut dst, c).unwrap();
    let (o, got) = dst.run(UPLINK, &tcp_in(port, false), 3 * S);
    assert_eq!(
        forwarded(o),
        GUEST_A,
        "the remote's segment reaches the guest"
    );
    assert_eq!(&got[30..34], &IP_A, "addressed to the guest");
    assert_eq!(u16::from_be_bytes([got[36], got[37]]), 40000);
    let (_, out) = dst.run(GUEST_A, &tcp_out(40000, false), 4 * S);
    let (ip, p) = source_of(&check_to_boundary(&out));
    assert_eq!(
        (ip, p),
        (SNAT_IP, port),
        "the same address and port outside"
    );
    let moved = export_a(&dst);
    assert_eq!(moved[0].tcp, c.tcp, "the TCP state came along");
    assert_eq!(
        dst.engine.nat_state().1,
        1,
        "one SNAT port held: the carried one"
    );
}

#[test]
fn what_the_target_cannot_honour_is_refused_by_reason() {
    let mut src = igw_world();
    set_external(&src, GUEST_A, snat_only(3000, 3999));
    src.run(GUEST_A, &tcp_out(40000, true), 0);
    let c = export_a(&src).remove(0);

    // The target's NIC has another SNAT range: the port is not its own.
    let mut dst = igw_world();
    set_external(&dst, GUEST_A, snat_only(5000, 5999));
    assert_eq!(import_a(&mut dst, &c), Err(CarryRefused::NatNotHeld));
    // Same range, but a flow of the target already holds the port for the
    // same remote.
    let mut dst = igw_world();
    set_external(&dst, GUEST_A, snat_only(3000, 3999));
    dst.run(GUEST_A, &tcp_out(41000, true), 0);
    assert_eq!(import_a(&mut dst, &c), Err(CarryRefused::NatPortTaken));
    assert_eq!(export_a(&dst).len(), 1, "nothing installed");
    // Forms this build does not know.
    let mut bad = c.clone();
    bad.realm = "elsewhere".into();
    assert_eq!(import_a(&mut dst, &bad), Err(CarryRefused::Malformed));
    let mut bad = c.clone();
    bad.tcp.as_mut().unwrap().state = "listening".into();
    assert_eq!(import_a(&mut dst, &bad), Err(CarryRefused::Malformed));
    let mut bad = c.clone();
    bad.nat = None;
    assert_eq!(import_a(&mut dst, &bad), Err(CarryRefused::Malformed));
}

#[test]
fn a_binding_the_target_made_first_gives_way_to_the_carried_one() {
    // Source: two connections to the same remote; the second holds 3001.
    let mut src = igw_world();
    set_external(&src, GUEST_A, snat_only(3000, 3999));
    src.run(GUEST_A, &tcp_out(39999, true), 0);
    let (_, out) = src.run(GUEST_A, &tcp_out(40000, true), 0);
    assert_eq!(source_of(&check_to_boundary(&out)).1, 3001);
    let c = export_a(&src)
        .into_iter()
        .find(|c| c.src_port == 40000)
        .unwrap();

    // Target: the guest's segment arrived before the import and took 3000.
    let mut dst = igw_world();
    set_external(&dst, GUEST_A, snat_only(3000, 3999));
    let (_, out) = dst.run(GUEST_A, &tcp_out(40000, false), S);
    assert_eq!(source_of(&check_to_boundary(&out)).1, 3000);
    import_a(&mut dst, &c).unwrap();
    assert_eq!(dst.engine.nat_state().1, 1, "3000 given back, 3001 held");
    let (o, _) = dst.run(UPLINK, &tcp_in(3000, false), 3 * S);
    assert_eq!(dropped(o), DropReason::NatNoState);
    let (o, _) = dst.run(UPLINK, &tcp_in(3001, false), 3 * S);
    assert_eq!(forwarded(o), GUEST_A);
}
