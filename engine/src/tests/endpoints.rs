//! Endpoint addresses (README, *Fleet mode*): a sled takes Geneve for every
//! endpoint address the fleet allocated on it, as for its own address, and a
//! V2P target that is one of them is this sled.

use super::*;
use crate::control::commit;

/// The first endpoint address of sled 1 (::100 of its /64).
fn endpoint(n: u16) -> Ipv6Addr {
    let s = sled(1).segments();
    Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0x100 + n)
}

fn set_endpoints(w: &World, eps: Vec<Ipv6Addr>) -> Result<(), String> {
    commit::change(&w.dir, &w.tables, "test", |s| {
        let u = s.underlay.as_mut().ok_or("no underlay")?;
        u.endpoints = eps;
        Ok(())
    })
    .map(|_| ())
}

fn reply_to_a(dst: Ipv6Addr) -> Vec<u8> {
    geneve(&udp_to_a(MAC_REMOTE, IP_REMOTE, 80, 40000), dst, VNI, &[])
}

#[test]
fn geneve_for_an_endpoint_address_is_taken_as_for_the_sled() {
    let mut w = World::new();
    w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    let (o, _) = w.run(UPLINK, &reply_to_a(endpoint(0)), S);
    assert_eq!(dropped(o), DropReason::NotGeneve, "not an endpoint yet");

    set_endpoints(&w, vec![endpoint(0), endpoint(1)]).unwrap();
    for path in [Path::Slow, Path::Fast] {
        let (o, out) = w.run(UPLINK, &reply_to_a(endpoint(0)), 2 * S);
        assert_eq!(forwarded(o), GUEST_A);
        assert_eq!(&out[0..6], &MAC_A);
        if path == Path::Fast {
            assert_eq!(o.path, Path::Fast, "the quick reader takes endpoints too");
        }
    }
    let (o, _) = w.run(UPLINK, &reply_to_a(sled(1)), 3 * S);
    assert_eq!(forwarded(o), GUEST_A, "the sled's own address still works");
    let (o, _) = w.run(UPLINK, &reply_to_a(endpoint(2)), 3 * S);
    assert_eq!(
        dropped(o),
        DropReason::NotGeneve,
        "an address of the /64 that is not allocated"
    );

    // Released: the address is no longer this sled's.
    set_endpoints(&w, vec![endpoint(1)]).unwrap();
    let (o, _) = w.run(UPLINK, &reply_to_a(endpoint(0)), 4 * S);
    assert_eq!(dropped(o), DropReason::NotGeneve);
}

#[test]
fn a_v2p_target_that_is_an_endpoint_here_is_delivered_here() {
    let mut w = World::new();
    w.firewall(
        "b",
        &[("in", 100, "allow", &["subnet:172.30.0.0/22"], &["udp"], &[])],
    );
    set_endpoints(&w, vec![endpoint(0)]).unwrap();
    admin::v2p_set(
        &w.dir,
        &w.tables,
        vni(VNI),
        IP_B.into(),
        mac_s(MAC_B),
        endpoint(0),
    )
    .unwrap();
    let (o, out) = w.run(GUEST_A, &udp_from_a(IP_B, 1000, 2000), 0);
    assert_eq!(forwarded(o), GUEST_B, "no encapsulation to this sled");
    assert_eq!(&out[0..6], &MAC_B);

    // The endpoint moves away (the instance migrated): the same flow is
    // placed again, encapsulated to it.
    set_endpoints(&w, vec![]).unwrap();
    let (o, out) = w.run(GUEST_A, &udp_from_a(IP_B, 1000, 2000), S);
    assert_eq!(forwarded(o), UPLINK);
    check_encap(&out, endpoint(0));
}

#[test]
fn bad_endpoint_lists_are_refused_whole() {
    let w = World::new();
    let before = w.tables.current().generation;
    for (eps, want) in [
        (vec![sled(1)], "cannot be an endpoint address"),
        (vec![endpoint(0), endpoint(0)], "given twice"),
        (vec![Ipv6Addr::UNSPECIFIED], "cannot be an endpoint address"),
    ] {
        let e = set_endpoints(&w, eps).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
    assert_eq!(w.tables.current().generation, before, "nothing published");
}

#[test]
fn an_old_endpoint_in_its_grace_period_is_relayed_to_the_new_one() {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let mut w = World::new();
    let new: Ipv6Addr = "fd00:1701:d:102::101".parse().unwrap();
    commit::change(&w.dir, &w.tables, "test", |s| {
        let u = s.underlay.as_mut().ok_or("no underlay")?;
        u.endpoints = vec![endpoint(0)];
        u.forward = vec![vswitch_api::state::UnderlayForward {
            from: endpoint(0),
            to: new,
        }];
        Ok(())
    })
    .unwrap();
    w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    let sent = reply_to_a(endpoint(0));
    let (o, out) = w.run(UPLINK, &sent, S);
    assert_eq!((forwarded(o), o.path), (UPLINK, Path::Relayed));
    assert_eq!(&out[0..6], &NEXTHOP_MAC, "to the next hop");
    assert_eq!(&out[6..12], &UPLINK_MAC, "from this uplink");
    let p = SlicedPacket::from_ethernet(&out).unwrap();
    let Some(NetSlice::Ipv6(v6)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(v6.header().destination_addr(), new);
    assert_eq!(v6.header().source_addr(), sled(2), "the sender's, kept");
    assert_eq!(v6.header().hop_limit(), 254);
    let Some(TransportSlice::Udp(u)) = &p.transport else {
        panic!("not UDP")
    };
    let h = u.to_header();
    assert_ne!(h.checksum, 0);
    assert_eq!(
        h.calc_checksum_ipv6(&v6.header().to_header(), u.payload())
            .unwrap(),
        h.checksum,
        "the UDP checksum follows the new destination"
    );
    assert_eq!(
        &out[62..],
        &sent[62..],
        "Geneve and the inner frame untouched"
    );

    // The sled's own address still takes the usual path; a spent hop limit is dropped.
    let (o, _) = w.run(UPLINK, &reply_to_a(sled(1)), 2 * S);
    assert_eq!(forwarded(o), GUEST_A);
    let mut last = reply_to_a(endpoint(0));
    last[21] = 1;
    let (o, _) = w.run(UPLINK, &last, 3 * S);
    assert_eq!(dropped(o), DropReason::RelayHopLimit);

    // A forward from an address that is not this sled's endpoint is refused.
    let r = commit::change(&w.dir, &w.tables, "test", |s| {
        let u = s.underlay.as_mut().ok_or("no underlay")?;
        u.forward[0].from = endpoint(5);
        Ok(())
    });
    let e = r.err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(e.contains("not one of this sled's endpoints"), "{e}");
}
