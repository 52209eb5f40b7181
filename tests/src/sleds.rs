//! Two sled switches joined by a `net_memif` underlay, with a guest on each:
//! a Linux network namespace behind a `net_tap` port, configured over the
//! control sockets as a VPC (VNICs, underlay, V2P, routes, inbound ICMP and
//! TCP from the VNI). Shared by the tests that need two sleds.

use crate::netns::{in_ns, sh, Guest, Namespaces};
use crate::{typed, typed_all, Vswitch, TEST_EAL};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, FwHostSpec, FwRuleSpec, VnicCreate};

/// The VPC's VNI.
pub const VNI: u32 = 100;
/// The virtual gateway's MAC.
pub const GW_MAC: &str = "a8:40:25:00:00:01";

/// A sled's configuration: uplink `up` (MTU `uplink_mtu`), guest port `g`.
pub fn sled_config(uplink_devargs: &str, tap: &str, iface: &str, uplink_mtu: u16) -> String {
    format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "up"
devargs = "{uplink_devargs}"
role = "uplink"
mtu = {uplink_mtu}
[[ports]]
name = "g"
devargs = "{tap},iface={iface}"
role = "guest"
"#
    )
}

/// Configures sled `sw` (underlay `my_sled`) for its guest `me` and the peer
/// guest on `peer_sled`; the VNIC advertises `mtu` (none: the one that fits).
pub fn configure(
    sw: &Vswitch,
    (me, my_sled): (&Guest, &str),
    (peer, peer_sled): (&Guest, &str),
    mtu: Option<u16>,
) {
    let ok = |cmd: Cmd| {
        let r = sw.connect().request(&cmd);
        assert!(r.ok, "{cmd:?}: {:?}", r.error);
    };
    ok(Cmd::VnicCreate(VnicCreate {
        port: "g".into(),
        id: 1,
        vni: crate::vni(VNI),
        mac: typed(me.mac),
        ipv4: Some(me.ip.parse().unwrap()),
        ipv6: None,
        gateway_mac: typed(GW_MAC),
        gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
        gateway_ipv6: None,
        dns: vec!["172.30.0.1".parse().unwrap()],
        hostname: Some(format!("guest-{}", me.ip.rsplit('.').next().unwrap_or("x"))),
        domain: Some("vpc.test".into()),
        mtu,
        flow_quota: None,
    }));
    ok(Cmd::UnderlaySet {
        addr: my_sled.parse().unwrap(),
        uplink: "up".into(),
        nexthop_mac: typed("02:00:00:00:00:fe"),
    });
    for (g, sled) in [(me, my_sled), (peer, peer_sled)] {
        ok(Cmd::V2pSet {
            vni: crate::vni(VNI),
            ip: g.ip.parse().unwrap(),
            mac: typed(g.mac),
            underlay: sled.parse().unwrap(),
        });
    }
    ok(Cmd::RouteAdd {
        port: "g".into(),
        dest: typed("172.30.0.0/22"),
        target: typed("subnet:172.30.0.0/22"),
        class: Some(typed("system")),
    });
    let rule = |protocols: &[&str]| FwRuleSpec {
        direction: typed("in"),
        priority: 100,
        action: typed("allow"),
        hosts: vec![FwHostSpec::Vni(VNI)],
        protocols: typed_all(protocols),
        ports: vec![],
    };
    ok(Cmd::FirewallSet {
        port: "g".into(),
        rules: vec![rule(&["icmp"]), rule(&["tcp"])],
    });
}

/// Two running sleds and their guests (namespaces removed on drop).
pub struct TwoSleds {
    /// Sled 1 (guest a).
    pub sw1: Vswitch,
    /// Sled 2 (guest b).
    pub sw2: Vswitch,
    /// Guest a, 172.30.0.5 on sled 1.
    pub a: Guest,
    /// Guest b, 172.30.0.6 on sled 2.
    pub b: Guest,
    /// Sled 1's and sled 2's underlay addresses.
    pub sleds: (&'static str, &'static str),
    /// The guests' namespaces (removed when dropped).
    pub namespaces: Namespaces,
}

impl TwoSleds {
    /// Starts both sleds (uplinks of MTU `uplink_mtu`), configures them
    /// (VNICs advertising `mtu`) and moves the guests' TAP interfaces into
    /// their namespaces, up, with their MACs.
    pub fn start(dir: &Path, uplink_mtu: u16, mtu: Option<u16>) -> TwoSleds {
        let tag = std::process::id() % 100_000;
        let a = Guest {
            ns: format!("vsa{tag}"),
            iface: format!("vt{tag}a"),
            mac: "a8:40:25:00:00:05",
            ip: "172.30.0.5",
        };
        let b = Guest {
            ns: format!("vsb{tag}"),
            iface: format!("vt{tag}b"),
            mac: "a8:40:25:00:00:06",
            ip: "172.30.0.6",
        };
        let sleds = ("fd00:1701:d:101::1", "fd00:1701:d:102::1");
        let underlay = dir.join("underlay.memif");
        let (d1, d2) = (dir.join("sled1"), dir.join("sled2"));
        std::fs::create_dir_all(&d1).unwrap();
        std::fs::create_dir_all(&d2).unwrap();
        let memif = |role: &str| {
            format!(
                "net_memif0,role={role},socket={},socket-abstract=no,id=0",
                underlay.display()
            )
        };
        let sw1 = Vswitch::start(
            &d1,
            &sled_config(&memif("server"), "net_tap0", &a.iface, uplink_mtu),
        );
        let sw2 = Vswitch::start(
            &d2,
            &sled_config(&memif("client"), "net_tap0", &b.iface, uplink_mtu),
        );
        // The guests get their MACs before the VNICs exist: DPDK brings a
        // tap up with a random MAC, and the kernel's first IPv6 frames
        // (router solicitation, DAD, MLD) from it would be anti_spoof drops
        // if a VNIC already owned the port (a CI run saw one).
        let ns = Namespaces(vec![a.ns.clone(), b.ns.clone()]);
        for g in [&a, &b] {
            let _ = Command::new("ip").args(["netns", "del", &g.ns]).status();
            sh(&["ip", "netns", "add", &g.ns]);
            sh(&["ip", "link", "set", &g.iface, "netns", &g.ns]);
            in_ns(&g.ns, &["ip", "link", "set", &g.iface, "address", g.mac]);
            in_ns(&g.ns, &["ip", "link", "set", &g.iface, "up"]);
            in_ns(&g.ns, &["ip", "link", "set", "lo", "up"]);
        }
        configure(&sw1, (&a, sleds.0), (&b, sleds.1), mtu);
        configure(&sw2, (&b, sleds.1), (&a, sleds.0), mtu);
        TwoSleds {
            sw1,
            sw2,
            a,
            b,
            sleds,
            namespaces: ns,
        }
    }
}

/// Serves `blob` over HTTP from guest `server` (port 8080) and downloads it
/// with curl in guest `client`, retrying while the server starts; returns
/// what arrived.
pub fn http_download(dir: &Path, client: &Guest, server: &Guest, blob: &[u8]) -> Vec<u8> {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("blob"), blob).unwrap();
    let mut srv: Child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &server.ns,
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            server.ip,
        ])
        .arg("--directory")
        .arg(&www)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = dir.join("got");
    let url = format!("http://{}:8080/blob", server.ip);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ok = false;
    while Instant::now() < deadline {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &client.ns,
                "curl",
                "-sf",
                "--max-time",
                "30",
                "-o",
            ])
            .arg(&got)
            .arg(&url)
            .status()
            .unwrap();
        if st.success() {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = srv.kill();
    let _ = srv.wait();
    assert!(ok, "the download of {url} failed");
    std::fs::read(&got).unwrap()
}
