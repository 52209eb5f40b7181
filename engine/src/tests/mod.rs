//! Engine tests in OPTE's manner: build a packet, run it through a port,
//! assert every byte that matters and the engine's decisions. State is set up
//! through the same functions the control socket uses. Frames are built and
//! read back with `etherparse`, an independent implementation.

use crate::control::vpc as admin;
use crate::pktbuf::{PacketBuf, VecPacket};
use crate::sequencer::Engine;
pub(crate) use crate::testing::{dropped, forwarded, mac_s, sled};
use crate::testing::{port, Switch};
pub(crate) use crate::testing::{typed, typed_all, vni};
use crate::{DropReason, PortIdx};
use crate::{Outcome, Path};
use crate::{PortRole, SwitchRole};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use std::net::Ipv6Addr;
use std::ops::{Deref, DerefMut};
use vswitch_api::{FwRuleSpec, VnicCreate};

pub(crate) const VNI: u32 = 7777;
pub(crate) const S: u64 = 1_000_000_000;
pub(crate) const GUEST_A: PortIdx = 0;
pub(crate) const UPLINK: PortIdx = 1;
pub(crate) const GUEST_B: PortIdx = 2;
pub(crate) const MAC_A: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x05];
pub(crate) const MAC_B: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x06];
pub(crate) const MAC_REMOTE: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x09];
pub(crate) const GW_MAC: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x01];
pub(crate) const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub(crate) const NEXTHOP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
pub(crate) const IP_A: [u8; 4] = [172, 30, 0, 5];
pub(crate) const IP_B: [u8; 4] = [172, 30, 0, 6];
pub(crate) const IP_REMOTE: [u8; 4] = [172, 30, 0, 9];

/// A firewall rule in the test's shorthand: direction, priority, action, hosts, protocols, ports.
pub(crate) type Rule<'a> = (
    &'a str,
    u16,
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    &'a [&'a str],
);

/// A sled switch (this sled is 1) with guest ports a and b, an uplink, and a
/// remote guest 172.30.0.9 on sled 2.
pub(crate) struct World(Switch);

impl Deref for World {
    type Target = Switch;
    fn deref(&self) -> &Switch {
        &self.0
    }
}

impl DerefMut for World {
    fn deref_mut(&mut self) -> &mut Switch {
        &mut self.0
    }
}

impl World {
    pub(crate) fn new() -> Self {
        Self::with_uplink_mtu(9000)
    }

    /// The world's ports with nothing configured.
    pub(crate) fn bare() -> Self {
        Self::bare_with_uplink_mtu(9000)
    }

    fn bare_with_uplink_mtu(mtu: u16) -> Self {
        let uplink = crate::testing::TestPort {
            mtu: Some(mtu),
            ..port("up", PortRole::Uplink, UPLINK_MAC)
        };
        World(Switch::new(
            SwitchRole::Sled,
            &[
                port("a", PortRole::Guest, [2, 0, 0, 0, 0, 0xa]),
                uplink,
                port("b", PortRole::Guest, [2, 0, 0, 0, 0, 0xb]),
            ],
        ))
    }

    /// The world with an uplink of MTU `mtu` (guest ports 1500).
    pub(crate) fn with_uplink_mtu(mtu: u16) -> Self {
        let w = Self::bare_with_uplink_mtu(mtu);
        w.vnic("a", MAC_A, IP_A);
        w.vnic("b", MAC_B, IP_B);
        admin::underlay_set(&w.dir, &w.tables, sled(1), "up", mac_s(NEXTHOP_MAC)).unwrap();
        for (ip, mac, s) in [
            (IP_A, MAC_A, 1),
            (IP_B, MAC_B, 1),
            (IP_REMOTE, MAC_REMOTE, 2),
        ] {
            admin::v2p_set(&w.dir, &w.tables, vni(VNI), ip.into(), mac_s(mac), sled(s)).unwrap();
        }
        for port in ["a", "b"] {
            admin::route_add(
                &w.dir,
                &w.tables,
                port,
                typed("172.30.0.0/22"),
                typed("subnet:172.30.0.0/22"),
                Some(typed("system")),
            )
            .unwrap();
        }
        w
    }

    pub(crate) fn vnic(&self, port: &str, mac: [u8; 6], ip: [u8; 4]) {
        self.vnic_in(port, mac, ip, VNI, Some(1430));
    }

    /// A VNIC on `port` in `vni`, advertising `mtu` (none: the one that fits).
    pub(crate) fn vnic_in(
        &self,
        port: &str,
        mac: [u8; 6],
        ip: [u8; 4],
        vni_n: u32,
        mtu: Option<u16>,
    ) {
        admin::vnic_create(
            &self.dir,
            &self.tables,
            &VnicCreate {
                port: port.into(),
                id: u32::from(mac[5]),
                vni: vni(vni_n),
                mac: mac_s(mac),
                ipv4: Some(ip.into()),
                ipv6: None,
                gateway_mac: mac_s(GW_MAC),
                gateway_ipv4: Some([172, 30, 0, 1].into()),
                gateway_ipv6: None,
                dns: vec![],
                hostname: None,
                domain: None,
                mtu,
                flow_quota: None,
            },
        )
        .unwrap();
    }

    pub(crate) fn firewall(&self, port: &str, rules: &[Rule]) {
        let specs: Vec<FwRuleSpec> = rules
            .iter()
            .map(|(d, prio, action, hosts, protos, ports)| FwRuleSpec {
                direction: typed(d),
                priority: *prio,
                action: typed(action),
                hosts: typed_all(hosts),
                protocols: typed_all(protos),
                ports: typed_all(ports),
            })
            .collect();
        admin::firewall_set(&self.dir, &self.tables, port, &specs).unwrap();
    }
}

/// A UDP frame from guest a to `dst`, as the guest sends it (to its gateway's MAC).
pub(crate) fn udp_from_a(dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, dst, 64)
        .udp(sport, dport);
    let payload = b"hello, vpc";
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// A UDP frame `src` -> guest a, as it arrives inside Geneve (inner dst MAC = a).
fn udp_to_a(src_mac: [u8; 6], src: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src_mac, MAC_A)
        .ipv4(src, IP_A, 64)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"reply").unwrap();
    v
}

/// Wraps `inner` in Geneve from sled 2 to `dst` with `vni`.
pub(crate) fn geneve(inner: &[u8], dst: Ipv6Addr, vni: u32, options: &[u8]) -> Vec<u8> {
    let mut g = vec![(options.len() / 4) as u8, 0, 0x65, 0x58];
    g.extend_from_slice(&(vni << 8).to_be_bytes());
    g.extend_from_slice(options);
    g.extend_from_slice(inner);
    let b = PacketBuilder::ethernet2(NEXTHOP_MAC, UPLINK_MAC)
        .ipv6(sled(2).octets(), dst.octets(), 255)
        .udp(0xc123, 6081);
    let mut v = Vec::new();
    b.write(&mut v, &g).unwrap();
    v
}

/// Checks the outer headers of an encapsulated frame and returns the inner frame.
pub(crate) fn check_encap(frame: &[u8], to_sled: Ipv6Addr) -> (u16, Vec<u8>) {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let eth = p.link.as_ref().unwrap().to_header().unwrap();
    let eth = eth.ethernet2().unwrap();
    assert_eq!(
        eth.destination, NEXTHOP_MAC,
        "outer dst MAC = underlay next hop"
    );
    assert_eq!(eth.source, UPLINK_MAC, "outer src MAC = uplink");
    let Some(NetSlice::Ipv6(ip)) = &p.net else {
        panic!("outer is not IPv6")
    };
    assert_eq!(
        ip.header().source_addr(),
        sled(1),
        "outer src = this sled's underlay address"
    );
    assert_eq!(ip.header().destination_addr(), to_sled);
    let Some(TransportSlice::Udp(udp)) = &p.transport else {
        panic!("outer is not UDP")
    };
    assert_eq!(udp.destination_port(), 6081);
    assert!(
        udp.source_port() >= 0xc000,
        "entropy source port in the dynamic range"
    );
    assert_eq!(
        udp.length() as usize,
        frame.len() - 54,
        "UDP length covers Geneve and the inner frame"
    );
    let g = udp.payload();
    assert_eq!(g[0], 0, "Geneve version 0, no options");
    assert_eq!(&g[2..4], &[0x65, 0x58], "protocol: Ethernet");
    assert_eq!(u32::from_be_bytes([0, g[4], g[5], g[6]]), VNI);
    (udp.source_port(), g[8..].to_vec())
}

#[test]
fn guest_to_guest_on_another_sled_is_encapsulated() {
    let mut w = World::new();
    let frame = udp_from_a(IP_REMOTE, 40000, 80);
    let (o, out) = w.run(GUEST_A, &frame, 0);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(o.path, Path::Slow);
    let (sport, inner) = check_encap(&out, sled(2));
    assert_eq!(
        &inner[0..6],
        &MAC_REMOTE,
        "inner dst MAC rewritten to the target guest's"
    );
    assert_eq!(&inner[6..12], &MAC_A, "inner src MAC is the sender's");
    assert_eq!(&inner[12..], &frame[12..], "inner IP packet untouched");

    // The second packet takes the fast path to the same bytes.
    let (o2, out2) = w.run(GUEST_A, &frame, S);
    assert_eq!(o2.path, Path::Fast);
    assert_eq!(out2, out);
    // Another flow gets its own entropy (with overwhelming likelihood).
    let (_, out3) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40001, 80), S);
    let (sport3, _) = check_encap(&out3, sled(2));
    assert_ne!(sport, sport3);
    assert_eq!(w.engine.flows().len(), 2);
}

#[test]
fn decap_delivers_only_replies_by_default() {
    let mut w = World::new();
    let reply = geneve(
        &udp_to_a(MAC_REMOTE, IP_REMOTE, 80, 40000),
        sled(1),
        VNI,
        &[],
    );
    // Inbound default deny: nothing asked for this.
    let (o, _) = w.run(UPLINK, &reply, 0);
    assert_eq!(dropped(o), DropReason::FirewallDeny);

    // The guest's request creates the flow; the same reply now passes.
    w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), S);
    let (o, out) = w.run(UPLINK, &reply, 2 * S);
    assert_eq!(forwarded(o), GUEST_A);
    let p = SlicedPacket::from_ethernet(&out).unwrap();
    let eth = p.link.as_ref().unwrap().to_header().unwrap();
    let eth = eth.ethernet2().unwrap();
    assert_eq!(eth.destination, MAC_A);
    assert_eq!(eth.source, GW_MAC, "delivered from the gateway's MAC");
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    assert_eq!(ip.header().source(), IP_REMOTE);
    assert_eq!(ip.header().destination(), IP_A);
    let Some(TransportSlice::Udp(udp)) = &p.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.payload(), b"reply");
    // And again on the fast path.
    let (o, out2) = w.run(UPLINK, &reply, 3 * S);
    assert_eq!(o.path, Path::Fast);
    assert_eq!(out2, out);
}

#[test]
fn inbound_rule_admits_new_connections() {
    let mut w = World::new();
    w.firewall(
        "a",
        &[("in", 100, "allow", &["vni:7777"], &["udp"], &["53"])],
    );
    let (o, _) = w.run(
        UPLINK,
        &geneve(
            &udp_to_a(MAC_REMOTE, IP_REMOTE, 5000, 53),
            sled(1),
            VNI,
            &[],
        ),
        0,
    );
    assert_eq!(forwarded(o), GUEST_A);
    let (o, _) = w.run(
        UPLINK,
        &geneve(
            &udp_to_a(MAC_REMOTE, IP_REMOTE, 5000, 54),
            sled(1),
            VNI,
            &[],
        ),
        0,
    );
    assert_eq!(
        dropped(o),
        DropReason::FirewallDeny,
        "other ports stay closed"
    );
    // The guest's answer to the admitted flow passes outbound (stateful).
    let (o, _) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 53, 5000), S);
    assert_eq!(forwarded(o), UPLINK);
    // The rule counted the flow it admitted.
    let snap = w.tables.current();
    let l = admin::layers(&w.dir, &snap, "a").unwrap();
    let fw = l.layers.iter().find(|l| l.name == "firewall").unwrap();
    assert_eq!(fw.rules[0].hits, 1);
}

#[test]
fn outbound_deny_rule_drops_and_caches() {
    let mut w = World::new();
    w.firewall("a", &[("out", 10, "deny", &["ip:172.30.0.9"], &[], &[])]);
    let (o, _) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    let (o, _) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    assert_eq!(
        (dropped(o), o.path),
        (DropReason::FirewallDeny, Path::Fast),
        "the denial is cached"
    );
}

#[test]
fn routes_drop_igw_and_missing() {
    let mut w = World::new();
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("10.0.0.0/8"),
        typed("drop"),
        None,
    )
    .unwrap();
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("0.0.0.0/0"),
        typed("igw"),
        Some(typed("system")),
    )
    .unwrap();
    let (o, _) = w.run(GUEST_A, &udp_from_a([10, 1, 2, 3], 1, 2), 0);
    assert_eq!(dropped(o), DropReason::RouteDrop);
    let (o, _) = w.run(GUEST_A, &udp_from_a([8, 8, 8, 8], 1, 2), 0);
    assert_eq!(
        dropped(o),
        DropReason::NoExternalIp,
        "no NAT yet: IGW traffic never leaves without an external IP"
    );
    admin::route_del(
        &w.dir,
        &w.tables,
        "a",
        typed("0.0.0.0/0"),
        Some(typed("system")),
    )
    .unwrap();
    let (o, _) = w.run(GUEST_A, &udp_from_a([8, 8, 8, 8], 1, 3), 0);
    assert_eq!(dropped(o), DropReason::NoRoute);
    // A longer custom route beats the system subnet route.
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("172.30.0.9/32"),
        typed("drop"),
        None,
    )
    .unwrap();
    let (o, _) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 1, 4), 0);
    assert_eq!(dropped(o), DropReason::RouteDrop);
}

#[test]
fn v2p_change_redirects_an_established_flow() {
    let mut w = World::new();
    let frame = udp_from_a(IP_REMOTE, 40000, 80);
    let (_, out) = w.run(GUEST_A, &frame, 0);
    check_encap(&out, sled(2));
    let (o, _) = w.run(GUEST_A, &frame, S);
    assert_eq!(o.path, Path::Fast);
    // The remote guest migrates to sled 3: one V2P swap.
    admin::v2p_set(
        &w.dir,
        &w.tables,
        vni(VNI),
        IP_REMOTE.into(),
        mac_s(MAC_REMOTE),
        sled(3),
    )
    .unwrap();
    let (o, out) = w.run(GUEST_A, &frame, 2 * S);
    assert_eq!(
        o.path,
        Path::Slow,
        "the epoch moved: the flow is recomputed"
    );
    check_encap(&out, sled(3));
    let (o, out) = w.run(GUEST_A, &frame, 3 * S);
    assert_eq!(o.path, Path::Fast);
    check_encap(&out, sled(3));
}

#[test]
fn flows_expire_with_the_clock() {
    let mut w = World::new();
    w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    let reply = geneve(
        &udp_to_a(MAC_REMOTE, IP_REMOTE, 80, 40000),
        sled(1),
        VNI,
        &[],
    );
    let (o, _) = w.run(UPLINK, &reply, 59 * S);
    assert_eq!(forwarded(o), GUEST_A, "alive within 60 s");
    let (o, _) = w.run(UPLINK, &reply, 59 * S + 61 * S);
    assert_eq!(
        dropped(o),
        DropReason::FirewallDeny,
        "61 s idle: the flow is gone, inbound default deny"
    );
    assert_eq!(w.engine.flows().counters().expired, 1);
}

#[test]
fn local_guests_talk_directly_through_both_firewalls() {
    let mut w = World::new();
    let to_b = {
        let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
            .ipv4(IP_A, IP_B, 64)
            .udp(1000, 2000);
        let mut v = Vec::new();
        b.write(&mut v, b"local").unwrap();
        v
    };
    let (o, _) = w.run(GUEST_A, &to_b, 0);
    assert_eq!(
        dropped(o),
        DropReason::FirewallDeny,
        "b's inbound default deny applies to local traffic too"
    );
    w.firewall(
        "b",
        &[("in", 100, "allow", &["subnet:172.30.0.0/22"], &["udp"], &[])],
    );
    let (o, out) = w.run(GUEST_A, &to_b, S);
    assert_eq!(
        forwarded(o),
        GUEST_B,
        "delivered on this sled, no encapsulation"
    );
    assert_eq!(&out[0..6], &MAC_B);
    assert_eq!(&out[6..12], &GW_MAC);
    assert_eq!(&out[12..], &to_b[12..]);
}

#[test]
fn underlay_checks() {
    let mut w = World::new();
    w.firewall("a", &[("in", 1, "allow", &[], &[], &[])]);
    let inner = udp_to_a(MAC_REMOTE, IP_REMOTE, 1, 2);
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(5), VNI, &[]), 0);
    assert_eq!(dropped(o), DropReason::NotGeneve, "for another sled");
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(1), VNI + 1, &[]), 0);
    assert_eq!(dropped(o), DropReason::NoVnic, "no such (VNI, MAC)");
    // An unknown option with the critical bit set: drop.
    let crit = [0x01, 0x29, 0x80 | 0x7f, 0x00];
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(1), VNI, &crit), 0);
    assert_eq!(dropped(o), DropReason::GeneveCriticalOption);
    // Oxide's External option (class 0x0129, type 0) is known: delivered.
    let ext = [0x01, 0x29, 0x00, 0x00];
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(1), VNI, &ext), 0);
    assert_eq!(forwarded(o), GUEST_A);
    let (o, _) = w.run(UPLINK, &[0u8; 30], 0);
    assert!(matches!(
        dropped(o),
        DropReason::NotGeneve | DropReason::Malformed
    ));
}

#[test]
fn headroom_shortage_is_a_counted_drop() {
    struct NoRoom(VecPacket);
    impl PacketBuf for NoRoom {
        fn bytes(&self) -> &[u8] {
            self.0.bytes()
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            self.0.bytes_mut()
        }
        fn prepend(&mut self, _: usize) -> bool {
            false
        }
        fn strip_front(&mut self, n: usize) -> bool {
            self.0.strip_front(n)
        }
        fn resize(&mut self, len: usize) -> bool {
            self.0.resize(len)
        }
    }
    let mut w = World::new();
    let snap = w.tables.current();
    let mut p = NoRoom(VecPacket::new(&udp_from_a(IP_REMOTE, 1, 2)));
    let o = w.engine.process(&snap, GUEST_A, &mut p, 0);
    assert_eq!(dropped(o), DropReason::NoHeadroom);
}

/// Writes frames to a classic little-endian pcap file.
fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    // The header's version fields are two u16s: fix them up (2, 4).
    out[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for (i, f) in frames.iter().enumerate() {
        for v in [i as u32, 0, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn encapsulated_frames_decode_as_geneve_in_tshark() {
    let mut w = World::new();
    let (o, out) = w.run(GUEST_A, &udp_from_a(IP_REMOTE, 40000, 80), 0);
    assert_eq!(forwarded(o), UPLINK);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("underlay.pcap");
    write_pcap(&pcap, &[out]);
    let res = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-E", "separator=,", "-E", "aggregator=;"])
        .args([
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "udp.dstport",
            "-e",
            "geneve.vni",
            "-e",
            "geneve.proto_type",
        ])
        .args(["-e", "eth.dst", "-e", "ip.src", "-e", "ip.dst"])
        .output()
        .expect("tshark is installed (scripts/setup installs it)");
    let text = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let fields: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(fields[0], "fd00:1701:d:101::1");
    assert_eq!(fields[1], "fd00:1701:d:102::1");
    assert_eq!(fields[2], "6081;80", "outer UDP to 6081, inner UDP to 80");
    assert_eq!(fields[3], format!("0x{VNI:06x}"), "tshark reads the VNI");
    assert_eq!(fields[4], "0x6558");
    // tshark decodes through Geneve into the inner frame.
    assert_eq!(
        fields[5], "02:00:00:00:00:fe;a8:40:25:ff:00:09",
        "outer then inner dst MAC: {text}"
    );
    assert_eq!(
        (fields[6], fields[7]),
        ("172.30.0.5", "172.30.0.9"),
        "{text}"
    );
}

/// The worker's two passes (a hint per packet, then processing from it)
/// decide and write exactly what one pass does, on every path a hint
/// covers: outbound slow then fast, local delivery, decapsulation fast path,
/// and a hint that does not apply (another port's).
#[test]
fn hinted_processing_equals_unhinted() {
    let mut hinted = World::new();
    let mut plain = World::new();
    for w in [&hinted, &plain] {
        w.firewall(
            "a",
            &[
                ("in", 100, "allow", &[], &["udp"], &[]),
                ("out", 100, "allow", &[], &[], &[]),
            ],
        );
    }
    let out = udp_from_a(IP_REMOTE, 4000, 53);
    let local = udp_from_a(IP_B, 4001, 53);
    let reply = geneve(
        &udp_to_a(MAC_REMOTE, IP_REMOTE, 53, 4000),
        sled(1),
        VNI,
        &[],
    );
    let frames: Vec<(PortIdx, &[u8])> = vec![
        (GUEST_A, &out),
        (GUEST_A, &out),
        (GUEST_A, &local),
        (GUEST_A, &local),
        (UPLINK, &reply),
        (UPLINK, &reply),
        (GUEST_A, &out),
    ];
    let mut fast = 0;
    for (i, (port, f)) in frames.iter().enumerate() {
        let a = hinted.run(*port, f, S + i as u64);
        let b = plain.run_unhinted(*port, f, S + i as u64);
        assert_eq!(a, b, "frame {i}");
        fast += usize::from(a.0.path == Path::Fast);
    }
    assert_eq!(fast, 4, "the repeats take the fast path");
    // A hint made for another port is not used for this one.
    let snap = hinted.tables.current();
    let wrong = hinted.engine.flow_hint(&snap, GUEST_A, &out);
    assert!(wrong.is_some());
    let mut p = VecPacket::new(&local);
    let o = hinted
        .engine
        .process_hinted(&snap, GUEST_B, &mut p, 2 * S, wrong.as_ref());
    let mut q = VecPacket::new(&local);
    let r = plain.engine.process(&snap, GUEST_B, &mut q, 2 * S);
    assert_eq!((o, p.to_vec()), (r, q.to_vec()));
}

mod carry;
mod endpoints;
mod hostile;
mod instances;
mod mtu;
mod state;

/// A burst is processed as its packets one by one would be: the same
/// outcome and the same bytes for each, whether its flows are new (slow
/// path) or compiled (fast path, with the first pass's hints), local or
/// encapsulated, and with enough flows that entries are prefetched ahead.
#[test]
fn a_burst_gives_what_its_packets_give_one_by_one() {
    let mut burst_world = World::new();
    let mut one_by_one = World::new();
    burst_world.engine = Engine::new(1 << 14);
    one_by_one.engine = Engine::new(1 << 14);
    // Enough flows that the burst prefetches entries (over 4096).
    let frames: Vec<Vec<u8>> = (0..5000u16)
        .map(|i| match i % 3 {
            0 => udp_from_a(IP_REMOTE, 1000 + i, 53),
            1 => udp_from_a(IP_B, 1000 + i, 80),
            _ => udp_from_a([10, 9, 9, 9], 1000 + i, 80),
        })
        .collect();
    for round in 0..2u64 {
        let now = (1 + round) * S;
        let snap = burst_world.tables.current();
        for chunk in frames.chunks(100) {
            let mut burst: Vec<VecPacket> = chunk.iter().map(|f| VecPacket::new(f)).collect();
            let mut out = vec![Outcome::drop(DropReason::Unsupported, Path::Early); chunk.len()];
            let n = burst_world
                .engine
                .process_burst(&snap, GUEST_A, &mut burst[..], now, &mut out);
            assert_eq!(n, chunk.len());
            for ((f, o), p) in chunk.iter().zip(&out).zip(&burst) {
                let (want, bytes) = one_by_one.run_unhinted(GUEST_A, f, now);
                assert_eq!(*o, want);
                assert_eq!(p.to_vec(), bytes);
            }
        }
        // The second round takes the fast path: the first compiled every flow.
        if round == 1 {
            let mut burst: Vec<VecPacket> =
                frames[..64].iter().map(|f| VecPacket::new(f)).collect();
            let mut out = vec![Outcome::drop(DropReason::Unsupported, Path::Early); 64];
            burst_world
                .engine
                .process_burst(&snap, GUEST_A, &mut burst[..], now, &mut out);
            assert!(out.iter().all(|o| o.path == Path::Fast), "{out:?}");
        }
    }
    assert_eq!(
        burst_world.engine.flows().len(),
        one_by_one.engine.flows().len()
    );
    assert!(burst_world.engine.flows().len() > 4096);
}

/// A patched port's burst is forwarded whole, its packets untouched, and
/// makes no flow.
#[test]
fn a_patched_ports_burst_is_forwarded_untouched() {
    let mut w = World::new();
    admin::vnic_delete(&w.dir, &w.tables, "a").unwrap();
    admin::vnic_delete(&w.dir, &w.tables, "b").unwrap();
    crate::control::patch::patch_set(&w.dir, &w.tables, "a", "b").unwrap();
    let snap = w.tables.current();
    let frames: Vec<Vec<u8>> = (0..70u16).map(|i| udp_from_a(IP_REMOTE, i, 53)).collect();
    let mut burst: Vec<VecPacket> = frames.iter().map(|f| VecPacket::new(f)).collect();
    let mut out = vec![Outcome::drop(DropReason::Unsupported, Path::Early); frames.len()];
    let n = w
        .engine
        .process_burst(&snap, GUEST_A, &mut burst[..], S, &mut out);
    assert_eq!(n, 70);
    for ((o, p), f) in out.iter().zip(&burst).zip(&frames) {
        assert_eq!(*o, Outcome::forward(GUEST_B, Path::Patch));
        assert_eq!(&p.to_vec(), f);
    }
    assert_eq!(w.engine.flows().len(), 0);
}
