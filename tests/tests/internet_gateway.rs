//! A guest reaches a server outside the VPC and is reached from it, through
//! real binaries: guest namespace -> sled switch -> `net_memif` underlay ->
//! boundary switch -> `net_tap` -> an "internet" namespace running an HTTP
//! server. The server logs the guest's SNAT address, then (once the guest
//! has one) its floating address; a connection from the internet to the
//! floating address reaches a server in the guest.
//!
//! Needs root (network namespaces), `dhclient`, `curl` and `python3`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, ExternalIpsSpec, FwRuleSpec, Reply, SnatRange, VnicCreate};
use vswitch_e2e::netns::{dhcp, in_ns, sh, Guest, Namespaces};
use vswitch_e2e::{prom, typed, typed_all, vni, Vswitch, TEST_EAL};

const SLED: &str = "fd00:1701:d:101::1";
const BOUNDARY: &str = "fd00:1701:d:1::1";
const SNAT_IP: &str = "198.51.100.13";
const FLOATING_IP: &str = "198.51.100.20";
const INET_HOST: &str = "203.0.113.10";
const BOUNDARY_EXT: &str = "203.0.113.1";
const INET_MAC: &str = "02:00:00:00:99:01";

fn config(role: &str, ports: &[(&str, String, &str)]) -> String {
    let mut c = format!("role = \"{role}\"\n[eal]\n{TEST_EAL}\n[workers]\nlcores = [1]\n");
    for (name, devargs, prole) in ports {
        c +=
            &format!("[[ports]]\nname = \"{name}\"\ndevargs = \"{devargs}\"\nrole = \"{prole}\"\n");
    }
    c
}

fn ok(sw: &Vswitch, cmd: Cmd) -> Reply {
    let r = sw.connect().request(&cmd);
    assert!(r.ok, "{cmd:?}: {:?}", r.error);
    r.result.expect("a result")
}

/// An HTTP server (python3) in namespace `ns`, its log (which names each
/// client) written to `log`.
fn http_server(ns: &str, bind: &str, port: u16, dir: &Path, log: &Path) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-m", "http.server"])
        .arg(port.to_string())
        .args(["--bind", bind, "--directory"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Downloads `url` from namespace `ns` into `out`, retrying while the
/// server starts; whether it succeeded.
fn download(ns: &str, url: &str, out: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let st = Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-sf", "--max-time", "20", "-o"])
            .arg(out)
            .arg(url)
            .status()
            .unwrap();
        if st.success() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

fn blob(seed: u32) -> Vec<u8> {
    (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[test]
fn guest_reaches_the_internet_through_snat_and_is_reached_on_its_floating_ip() {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id() % 100_000;
    let guest = Guest {
        ns: format!("vsg{tag}"),
        iface: format!("vt{tag}g"),
        mac: "a8:40:25:00:00:05",
        ip: "172.30.0.5",
    };
    let inet_ns = format!("vsi{tag}");
    let inet_if = format!("vt{tag}x");
    let underlay = dir.path().join("underlay.memif");
    let memif = |role: &str| {
        format!(
            "net_memif0,role={role},socket={},socket-abstract=no,id=0",
            underlay.display()
        )
    };
    let (ds, db) = (dir.path().join("sled"), dir.path().join("boundary"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let sled = Vswitch::start(
        &ds,
        &config(
            "sled",
            &[
                ("up", memif("server"), "uplink"),
                ("g", format!("net_tap0,iface={}", guest.iface), "guest"),
            ],
        ),
    );
    let bnd = Vswitch::start(
        &db,
        &config(
            "boundary",
            &[
                ("up", memif("client"), "uplink"),
                ("ext", format!("net_tap0,iface={inet_if}"), "external"),
            ],
        ),
    );
    let sled_mac = sled.port("up").mac;
    let bnd_mac = bnd.port("up").mac;

    // The sled: a guest whose default route is the system internet gateway,
    // a SNAT address from the "public" pool, and the boundary for every
    // external destination (V2B).
    ok(
        &sled,
        Cmd::VnicCreate(VnicCreate {
            port: "g".into(),
            id: 1,
            vni: vni(100),
            mac: typed(guest.mac),
            ipv4: Some(guest.ip.parse().unwrap()),
            ipv6: None,
            gateway_mac: typed("a8:40:25:00:00:01"),
            gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
            gateway_ipv6: None,
            dns: vec![],
            hostname: Some("guest".into()),
            domain: None,
            mtu: Some(1400),
            flow_quota: None,
        }),
    );
    ok(
        &sled,
        Cmd::UnderlaySet {
            addr: SLED.parse().unwrap(),
            uplink: "up".into(),
            nexthop_mac: typed(&bnd_mac),
        },
    );
    ok(
        &sled,
        Cmd::RouteAdd {
            port: "g".into(),
            dest: typed("0.0.0.0/0"),
            target: typed("igw"),
            class: Some(typed("system")),
        },
    );
    ok(
        &sled,
        Cmd::PoolCreate {
            name: "public".into(),
            ranges: typed_all(&["198.51.100.0/24"]),
        },
    );
    let snat = Some(SnatRange {
        ip: SNAT_IP.parse().unwrap(),
        first_port: 1024,
        last_port: 2047,
    });
    ok(
        &sled,
        Cmd::ExternalSet(ExternalIpsSpec {
            port: "g".into(),
            floating: vec![],
            ephemeral: None,
            snat,
            igw_map: None,
        }),
    );
    ok(
        &sled,
        Cmd::V2bSet {
            prefix: typed("0.0.0.0/0"),
            endpoints: vec![BOUNDARY.parse().unwrap()],
        },
    );
    // The boundary: its underlay, its external link, and where the
    // external addresses live.
    ok(
        &bnd,
        Cmd::UnderlaySet {
            addr: BOUNDARY.parse().unwrap(),
            uplink: "up".into(),
            nexthop_mac: typed(&sled_mac),
        },
    );
    ok(
        &bnd,
        Cmd::ExternalPortSet {
            port: "ext".into(),
            nexthop_mac: typed(INET_MAC),
            addr: Some(BOUNDARY_EXT.parse().unwrap()),
        },
    );
    ok(
        &bnd,
        Cmd::BoundaryMapSet {
            ip: SNAT_IP.parse().unwrap(),
            sled: SLED.parse().unwrap(),
            ports: None,
        },
    );

    // Namespaces: the guest takes its address by DHCP; the "internet" host
    // reaches the external addresses through the boundary's address.
    let _ns = Namespaces(vec![guest.ns.clone(), inet_ns.clone()]);
    for (ns, iface, mac) in [
        (&guest.ns, &guest.iface, guest.mac),
        (&inet_ns, &inet_if, INET_MAC),
    ] {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
        sh(&["ip", "netns", "add", ns]);
        sh(&["ip", "link", "set", iface, "netns", ns]);
        in_ns(ns, &["ip", "link", "set", iface, "address", mac]);
        in_ns(ns, &["ip", "link", "set", iface, "up"]);
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
    }
    in_ns(
        &inet_ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("{INET_HOST}/24"),
            "dev",
            &inet_if,
        ],
    );
    in_ns(
        &inet_ns,
        &["ip", "route", "add", "198.51.100.0/24", "via", BOUNDARY_EXT],
    );
    let lease = dhcp(dir.path(), &guest);
    assert!(lease.contains("ip=172.30.0.5"), "{lease}");

    // Guest -> internet: the server sees the SNAT address.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = blob(1);
    std::fs::write(www.join("blob"), &data).unwrap();
    let inet_log = dir.path().join("inet.log");
    let mut inet_server = http_server(&inet_ns, INET_HOST, 8080, &www, &inet_log);
    let got = dir.path().join("got");
    let url = format!("http://{INET_HOST}:8080/blob");
    let fetched = download(&guest.ns, &url, &got);
    let log = std::fs::read_to_string(&inet_log).unwrap_or_default();
    assert!(
        fetched,
        "the download from the internet failed; server log: {log}"
    );
    assert_eq!(
        std::fs::read(&got).unwrap(),
        data,
        "the file arrived intact"
    );
    assert!(
        log.contains(&format!("{SNAT_IP} - - ")) && log.contains("GET /blob"),
        "the server saw the SNAT address as the client: {log}"
    );
    assert!(
        !log.contains("172.30.0.5"),
        "the private address never left: {log}"
    );

    // The flow is compiled with its NAT binding, and the boundary carried it.
    let flows = match ok(
        &sled,
        Cmd::Flows {
            port: Some("g".into()),
            limit: None,
            from: None,
        },
    ) {
        Reply::Flows { flows, .. } => flows,
        other => panic!("{other:?}"),
    };
    // (curl may have retried while the server started: the download is the
    // busiest of the flows to port 8080.)
    let tcp = flows
        .iter()
        .filter(|f| f.proto == 6 && f.dst_port == 8080)
        .max_by_key(|f| f.hits)
        .expect("the TCP flow is in the sled's table");
    let out = tcp.out.as_deref().unwrap_or("");
    assert!(out.contains(SNAT_IP) && out.contains(BOUNDARY), "{tcp:?}");
    assert!(tcp.hits > 100, "the stream took the fast path: {tcp:?}");
    assert!(bnd.port("ext").counters.tx_packets > 100);

    // A floating IP: the internet connects to a server in the guest (the
    // firewall admits TCP 8081), and the guest's own connections now leave
    // from the floating address (floating beats SNAT).
    ok(
        &sled,
        Cmd::ExternalSet(ExternalIpsSpec {
            port: "g".into(),
            floating: vec![FLOATING_IP.parse().unwrap()],
            ephemeral: None,
            snat,
            igw_map: None,
        }),
    );
    ok(
        &sled,
        Cmd::FirewallSet {
            port: "g".into(),
            rules: vec![FwRuleSpec {
                direction: typed("in"),
                priority: 100,
                action: typed("allow"),
                hosts: vec![],
                protocols: typed_all(&["tcp"]),
                ports: typed_all(&["8081"]),
            }],
        },
    );
    ok(
        &bnd,
        Cmd::BoundaryMapSet {
            ip: FLOATING_IP.parse().unwrap(),
            sled: SLED.parse().unwrap(),
            ports: None,
        },
    );
    let gwww = dir.path().join("gwww");
    std::fs::create_dir_all(&gwww).unwrap();
    let gdata = blob(2);
    std::fs::write(gwww.join("blob2"), &gdata).unwrap();
    let guest_log = dir.path().join("guest.log");
    let mut guest_server = http_server(&guest.ns, guest.ip, 8081, &gwww, &guest_log);
    let got2 = dir.path().join("got2");
    let fetched = download(&inet_ns, &format!("http://{FLOATING_IP}:8081/blob2"), &got2);
    let glog = std::fs::read_to_string(&guest_log).unwrap_or_default();
    assert!(
        fetched,
        "the connection to the floating IP failed; guest log: {glog}"
    );
    assert_eq!(std::fs::read(&got2).unwrap(), gdata);
    assert!(
        glog.contains(&format!("{INET_HOST} - - ")),
        "the guest saw the internet host as the client: {glog}"
    );
    let got3 = dir.path().join("got3");
    assert!(download(&guest.ns, &url, &got3), "second download failed");
    let log = std::fs::read_to_string(&inet_log).unwrap_or_default();
    assert!(
        log.contains(&format!("{FLOATING_IP} - - ")),
        "the server saw the floating address as the client: {log}"
    );

    // The SNAT ports the downloads took are counted (by whichever worker
    // owns each connection).
    let m0 = prom::parse(&sled.scrape());
    assert!(prom::sum(&m0, "vswitch_worker_snat_allocated_total", &[]) >= 1.0);
    assert_eq!(
        prom::sum(&m0, "vswitch_worker_snat_exhausted_total", &[]),
        0.0
    );

    // Nothing was dropped for want of NAT state or a boundary endpoint.
    let m = prom::parse(&sled.scrape());
    for reason in ["no_external_ip", "snat_exhausted", "no_boundary"] {
        let l = [
            ("port", "g"),
            (
                "layer",
                if reason == "no_boundary" {
                    "overlay"
                } else {
                    "nat"
                },
            ),
            ("reason", reason),
        ];
        assert_eq!(
            prom::get(&m, "vswitch_port_drops_total", &l),
            0.0,
            "{reason}"
        );
    }

    let _ = inet_server.kill();
    let _ = inet_server.wait();
    let _ = guest_server.kill();
    let _ = guest_server.wait();
    let (s1, _) = sled.shutdown();
    let (s2, _) = bnd.shutdown();
    assert!(s1.success() && s2.success());
}
