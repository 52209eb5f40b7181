//! One SNAT address shared by guests on two sleds: guest `a` (sled 1) holds
//! ports 1024-2047 of 198.51.100.13, guest `b` (sled 2) ports 2048-3071.
//! The fleet writes a boundary map share per NIC (`boundary/map/IP/RANGE`);
//! the boundary sends each packet from the internet to the sled whose range
//! holds its destination port, echo identifier, or the source port its
//! ICMP error quotes.
//!
//! Checked, on a rack of three fleet-mode switches (tests/src/rack.rs):
//! both guests download 24 MB from the internet host at once, intact, each
//! on one connection, and the host sees both from the one address, each
//! from its guest's range; pings from both come back (echo replies by
//! identifier); a datagram to a closed port comes back to its sender as
//! "connection refused" (an ICMP error by the quoted port); the fleet
//! refuses a third NIC whose range overlaps, and a floating IP equal to
//! the shared address.

use serde_json::{json, Value};
use vswitch_e2e::ctl::{json as ctl_json, ok as ctl_ok};
use vswitch_e2e::download::{blob, Download, PacedServer};
use vswitch_e2e::fleet::{internet_nic, pings, wait_revision};
use vswitch_e2e::netns::{in_ns, Guest};
use vswitch_e2e::rack::{Rack, INET_HOST};

const SNAT_IP: &str = "198.51.100.13";

fn snat(first: u16, last: u16) -> Value {
    json!({"snat": {"ip": SNAT_IP, "first_port": first, "last_port": last}})
}

/// Runs `vswitch-fabric nic-put` with `nic`; its failure message.
fn nic_put_refused(rack: &Rack, nic: &Value) -> String {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), nic.to_string()).unwrap();
    let o = rack
        .etcd
        .fabric(&["nic-put", &f.path().display().to_string()]);
    assert!(!o.status.success(), "accepted: {nic}");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The reply a UDP datagram from `g` to the internet host's closed port 9
/// gets: "refused" when an ICMP port unreachable came back to the sender.
fn udp_to_closed_port(g: &Guest) -> String {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.settimeout(3)\ns.connect(('{INET_HOST}', 9))\n\
         for _ in range(3):\n    s.send(b'x')\n    try:\n        s.recv(100)\n        print('answered')\n        break\n\
         \x20   except ConnectionRefusedError:\n        print('refused')\n        break\n\
         \x20   except socket.timeout:\n        pass\nelse:\n    print('silence')\n"
    );
    in_ns(&g.ns, &["python3", "-c", &script]).trim().to_string()
}

#[test]
fn guests_on_two_sleds_share_one_snat_address_by_port_range() {
    let dir = tempfile::tempdir().unwrap();
    let rack = Rack::start(dir.path());
    let Rack {
        etcd,
        a,
        b,
        sw1,
        sw2,
        bnd,
        inet_ns,
        ..
    } = &rack;
    etcd.fabric_put("nic-put", &internet_nic(1, "web", a, snat(1024, 2047)));
    etcd.fabric_put("nic-put", &internet_nic(2, "db", b, snat(2048, 3071)));
    // Refused whole: an overlapping range, the shared address as a
    // floating IP.
    etcd.fabric_ok(&["instance-create", "cache", "--sled", "sled-2"]);
    let c = vswitch_e2e::fleet::guest(rack.tag, "c", "a8:40:25:00:00:07", "172.30.0.7");
    let e = nic_put_refused(&rack, &internet_nic(3, "cache", &c, snat(3000, 3100)));
    assert!(e.contains("overlap 2048-3071, NIC 2's"), "{e}");
    let e = nic_put_refused(
        &rack,
        &internet_nic(3, "cache", &c, json!({"floating": [SNAT_IP]})),
    );
    assert!(e.contains("shared by port range"), "{e}");
    assert!(
        etcd.keys("/vswitch/v1/nics/3").is_empty(),
        "nothing written"
    );

    let rev = etcd.revision();
    for sw in [sw1, sw2, bnd] {
        wait_revision(sw, rev);
    }
    let map = ctl_json(bnd, &["boundary-map-list"]);
    let shares: Vec<(String, String)> = map["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ports"].as_str().unwrap_or("all").to_string(),
                e["sled"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        shares,
        vec![
            ("1024-2047".to_string(), "fd00:1701:d:101::100".to_string()),
            ("2048-3071".to_string(), "fd00:1701:d:102::100".to_string()),
        ],
        "{map:#}"
    );

    // Echo replies find their sled by identifier.
    assert!(pings(a, INET_HOST, 3), "a pings the internet host");
    assert!(pings(b, INET_HOST, 3), "b pings the internet host");
    // ICMP errors by the source port they quote.
    assert_eq!(udp_to_closed_port(a), "refused");
    assert_eq!(udp_to_closed_port(b), "refused");

    // Two downloads at once, 24 MB each (4 s at the server's pace).
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = blob(24 << 20, 3);
    std::fs::write(www.join("i"), &data).unwrap();
    let _srv = PacedServer::start(inet_ns, INET_HOST, &www.join("i"));
    let url = format!("http://{INET_HOST}:8080/");
    let from_a = Download::start(&a.ns, &url, dir.path().join("got-a"));
    let from_b = Download::start(&b.ns, &url, dir.path().join("got-b"));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let mut peers = rack.inet_peers();
    peers.sort();
    assert_eq!(peers.len(), 2, "{peers:?}");
    let port = |p: &str| -> u16 {
        let (ip, port) = p.rsplit_once(':').unwrap();
        assert_eq!(ip, SNAT_IP, "seen from the shared address: {peers:?}");
        port.parse().unwrap()
    };
    let mut ports: Vec<u16> = peers.iter().map(|p| port(p)).collect();
    ports.sort();
    assert!(
        (1024..=2047).contains(&ports[0]) && (2048..=3071).contains(&ports[1]),
        "one port from each guest's range: {peers:?}"
    );
    let (out_a, out_b) = (from_a.out.clone(), from_b.out.clone());
    let (done_a, done_b) = (from_a.finish(), from_b.finish());
    let n = data.len() as u64;
    assert_eq!(
        (done_a, done_b),
        (Ok((1, n)), Ok((1, n))),
        "one connection each, every byte\nboundary: {}",
        ctl_ok(bnd, &["ports"])
    );
    assert!(std::fs::read(&out_a).unwrap() == data, "a's copy intact");
    assert!(std::fs::read(&out_b).unwrap() == data, "b's copy intact");
}
