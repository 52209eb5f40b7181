//! A guest port reused for another tenant inherits nothing of the old one:
//! `vnic-create` on port `g` with VNI 100, a UDP flow 172.30.0.5:40000 ->
//! 172.30.0.6:80 and a SNAT flow to the internet, `vnic-delete` (which
//! answers only once every worker has dropped the port's flows and NAT
//! state), then `vnic-create` on the same port with VNI 200 and the same
//! addresses: the new tenant's first packet of that 5-tuple leaves the
//! uplink as Geneve VNI 200 toward the new tenant's peer.
//!
//! The guest is a `net_tap` interface written to with a packet socket
//! (exact frames); the uplink is `net_pcap`, whose capture is read back.

use std::process::Command;
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, ExternalIpsSpec, Reply, SnatRange, StatsInfo};
use vswitch_e2e::{guest_vnic, pcap, tap_send, typed, typed_all, vni, Vswitch, TEST_EAL};

const GUEST_MAC: &str = "a8:40:25:00:00:05";

fn ok(sw: &Vswitch, cmd: Cmd) -> Reply {
    let r = sw.connect().request(&cmd);
    assert!(r.ok, "{cmd:?}: {:?}", r.error);
    r.result.expect("a result")
}

fn vnic(vni: u32) -> Cmd {
    Cmd::VnicCreate(guest_vnic("g", vni, GUEST_MAC, "172.30.0.5"))
}

/// The tenant's VPC: its peer 172.30.0.6 on sled `peer_sled`, and a route.
fn vpc(sw: &Vswitch, vni_n: u32, peer_sled: &str) {
    ok(
        sw,
        Cmd::V2pSet {
            vni: vni(vni_n),
            ip: "172.30.0.6".parse().unwrap(),
            mac: typed("a8:40:25:00:00:06"),
            underlay: peer_sled.parse().unwrap(),
        },
    );
    ok(
        sw,
        Cmd::RouteAdd {
            port: "g".into(),
            dest: typed("172.30.0.0/22"),
            target: typed("subnet:172.30.0.0/22"),
            class: Some(typed("system")),
        },
    );
}

/// A UDP frame from the guest, as its kernel would send it.
fn udp(dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([0xa8, 0x40, 0x25, 0, 0, 5], [0xa8, 0x40, 0x25, 0, 0, 1])
        .ipv4([172, 30, 0, 5], dst, 64)
        .udp(sport, dport)
        .write(&mut v, b"tenant data")
        .unwrap();
    v
}

fn send(iface: &str, frame: &[u8]) {
    tap_send(iface, &[frame.to_vec()]);
}

fn uplink_tx(sw: &Vswitch) -> u64 {
    sw.port("up").counters.tx_packets
}

fn wait_tx(sw: &Vswitch, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while uplink_tx(sw) < want {
        assert!(
            Instant::now() < deadline,
            "uplink sent {} of {want}",
            uplink_tx(sw)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (flows, SNAT ports held, NAT reply keys) over every worker.
fn state(st: &StatsInfo) -> (u64, u64, u64) {
    st.workers.iter().fold((0, 0, 0), |(f, p, r), w| {
        (f + w.flows, p + w.snat_ports, r + w.nat_reverse)
    })
}

/// The VNI and outer IPv6 destination of an encapsulated frame.
fn geneve_of(f: &[u8]) -> (u32, std::net::Ipv6Addr) {
    let dst: [u8; 16] = f[38..54].try_into().unwrap();
    (u32::from_be_bytes([0, f[66], f[67], f[68]]), dst.into())
}

#[test]
fn a_reused_port_inherits_nothing_of_the_old_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let iface = format!("vsreuse{}", std::process::id() % 10_000);
    let out = dir.path().join("up-out.pcap");
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "g"
devargs = "net_tap0,iface={iface}"
role = "guest"
[[ports]]
name = "up"
devargs = "net_pcap0,tx_pcap={}"
role = "uplink"
"#,
        out.display()
    );
    let sw = Vswitch::start(dir.path(), &toml);
    // Keep the host's own chatter (IPv6 ND) off the guest port.
    let _ = Command::new("sysctl")
        .arg(format!("net.ipv6.conf.{iface}.disable_ipv6=1"))
        .output();
    let _ = Command::new("ip")
        .args(["link", "set", &iface, "up"])
        .status();
    ok(
        &sw,
        Cmd::UnderlaySet {
            addr: "fd00:1701:d:101::1".parse().unwrap(),
            uplink: "up".into(),
            nexthop_mac: typed("02:00:00:00:00:fe"),
        },
    );
    // The first tenant: VNI 100, a VPC peer on sled 2, and the internet
    // through SNAT.
    ok(&sw, vnic(100));
    vpc(&sw, 100, "fd00:1701:d:102::1");
    ok(
        &sw,
        Cmd::PoolCreate {
            name: "public".into(),
            ranges: typed_all(&["198.51.100.0/24"]),
        },
    );
    ok(
        &sw,
        Cmd::RouteAdd {
            port: "g".into(),
            dest: typed("0.0.0.0/0"),
            target: typed("igw"),
            class: Some(typed("system")),
        },
    );
    ok(
        &sw,
        Cmd::ExternalSet(ExternalIpsSpec {
            port: "g".into(),
            floating: vec![],
            ephemeral: None,
            snat: Some(SnatRange {
                ip: "198.51.100.13".parse().unwrap(),
                first_port: 1024,
                last_port: 2047,
            }),
            igw_map: None,
        }),
    );
    ok(
        &sw,
        Cmd::V2bSet {
            prefix: typed("0.0.0.0/0"),
            endpoints: vec!["fd00:1701:d:1::1".parse().unwrap()],
        },
    );
    let flow = udp([172, 30, 0, 6], 40000, 80);
    for _ in 0..3 {
        send(&iface, &flow);
    }
    send(&iface, &udp([8, 8, 8, 8], 5353, 53));
    wait_tx(&sw, 4);
    let old = sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(10));
    assert_eq!(state(&old), (2, 1, 1), "a VPC flow and a SNAT flow");

    // The tenant goes; the answer comes once its state is gone everywhere.
    ok(&sw, Cmd::VnicDelete { port: "g".into() });
    assert_eq!(
        state(&sw.stats()),
        (0, 0, 0),
        "nothing of the old tenant is left"
    );
    match ok(
        &sw,
        Cmd::Flows {
            port: None,
            limit: None,
            from: None,
        },
    ) {
        Reply::Flows { flows, next, .. } => assert!(flows.is_empty() && next.is_none()),
        other => panic!("{other:?}"),
    }

    // The new tenant on the same port, same addresses, VNI 200.
    ok(&sw, vnic(200));
    vpc(&sw, 200, "fd00:1701:d:103::1");
    send(&iface, &flow);
    wait_tx(&sw, 5);
    let (status, _) = sw.shutdown();
    assert!(status.success());
    let sent = pcap::read(&out);
    let geneve: Vec<_> = sent
        .iter()
        .filter(|f| f.len() > 70 && f[12..14] == [0x86, 0xdd])
        .map(|f| geneve_of(f))
        .collect();
    assert_eq!(geneve.len(), 5, "{geneve:?}");
    let sled2: std::net::Ipv6Addr = "fd00:1701:d:102::1".parse().unwrap();
    let sled3: std::net::Ipv6Addr = "fd00:1701:d:103::1".parse().unwrap();
    let boundary: std::net::Ipv6Addr = "fd00:1701:d:1::1".parse().unwrap();
    assert_eq!(&geneve[..3], &[(100, sled2); 3]);
    assert_eq!(geneve[3], (99, boundary), "the SNAT flow to the boundary");
    assert_eq!(
        geneve[4],
        (200, sled3),
        "the new tenant's first packet leaves with its own VNI"
    );
}
