//! A rack on one host: three fleet-mode switches (sled 1, sled 2, a
//! boundary) on a real etcd, their uplinks `net_tap` devices joined by a
//! Linux bridge (the underlay: every switch sends to a next hop MAC nobody
//! owns, which the bridge floods; each takes the Geneve for its own
//! addresses), a guest namespace on each sled (`a` as instance `web` on
//! sled 1, `b` as `db` on sled 2), and the boundary's external port leading
//! to an "internet" namespace with one host. `net_tap` takes no MTU above
//! 1500, so the underlay's is 1500 and the switches clamp the guests' TCP
//! MSS to fit the encapsulation.

use crate::ctl::ok as ctl_ok;
use crate::etcd::Etcd;
use crate::fleet::{fleet_toml, guest, plumb};
use crate::netns::{in_ns, sh, Guest, Namespaces};
use crate::sleds::sled_config;
use crate::{Vswitch, TEST_EAL};
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// The internet host.
pub const INET_HOST: &str = "203.0.113.10";
/// Its MAC (the boundary's external next hop).
pub const INET_MAC: &str = "02:00:00:00:99:01";
/// The boundary's own address on the external link.
pub const BOUNDARY_EXT: &str = "203.0.113.1";
/// The boundary's underlay address (sled number 3 of rack 1).
pub const BOUNDARY: &str = "fd00:1701:d:103::1";
/// The external pool the guests' external IPs come from.
pub const PUBLIC: &str = "198.51.100.0/24";

/// A Linux bridge, removed when dropped.
pub struct Bridge(pub String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// The rack; dropping it stops the switches, then removes the namespaces.
pub struct Rack {
    _br: Bridge,
    /// The boundary switch.
    pub bnd: Vswitch,
    /// Sled 2's switch.
    pub sw2: Vswitch,
    /// Sled 1's switch.
    pub sw1: Vswitch,
    _ns: Namespaces,
    /// Guest `a` (instance `web`, sled 1, 172.30.0.5).
    pub a: Guest,
    /// Guest `b` (instance `db`, sled 2, 172.30.0.6).
    pub b: Guest,
    /// The internet namespace.
    pub inet_ns: String,
    /// Names made unique to this test process.
    pub tag: u32,
    /// The fleet's etcd.
    pub etcd: Etcd,
}

impl Rack {
    /// Starts etcd, the fleet's rack plan (sleds `sled-1`, `sled-2`, `bnd`;
    /// the pool `public`; V2B 0.0.0.0/0 -> the boundary; instances `web`
    /// and `db`), the three switches, the underlay bridge, the internet
    /// namespace and the boundary's external port. The guests' NICs are the
    /// test's to put.
    pub fn start(dir: &Path) -> Rack {
        let etcd = Etcd::start(dir);
        etcd.fabric_ok(&["rack-set", "--zone", "1701:d", "--rack", "1"]);
        for s in ["sled-1", "sled-2", "bnd"] {
            etcd.fabric_ok(&["sled-add", s]);
        }
        let tables = json!({
            "pools": [{"name": "public", "ranges": [PUBLIC]}],
            "v2b": [{"prefix": "0.0.0.0/0", "endpoints": [BOUNDARY]}]
        });
        etcd.fabric_put("tables-set", &tables);
        etcd.fabric_ok(&["instance-create", "web", "--sled", "sled-1"]);
        etcd.fabric_ok(&["instance-create", "db", "--sled", "sled-2"]);

        let tag = std::process::id() % 100_000;
        let a = guest(tag, "a", "a8:40:25:00:00:05", "172.30.0.5");
        let b = guest(tag, "b", "a8:40:25:00:00:06", "172.30.0.6");
        let inet_ns = format!("vfi{tag}");
        let inet_if = format!("vf{tag}x");
        let ns = Namespaces(vec![a.ns.clone(), b.ns.clone(), inet_ns.clone()]);
        let up = |x: &str| format!("vf{tag}u{x}");
        let start = |name: &str, toml: String| {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).unwrap();
            Vswitch::start(&d, &toml)
        };
        let sled = |x: &str, g: &Guest, name: &str| {
            fleet_toml(
                &sled_config(
                    &format!("net_tap1,iface={}", up(x)),
                    "net_tap0",
                    &g.iface,
                    1500,
                ),
                &etcd.url,
                name,
            )
        };
        let sw1 = start("sled1", sled("1", &a, "sled-1"));
        let sw2 = start("sled2", sled("2", &b, "sled-2"));
        let bnd_toml = fleet_toml(
            &format!(
                "role = \"boundary\"\n[eal]\n{TEST_EAL}\n[workers]\nlcores = [1]\n\
                 [[ports]]\nname = \"up\"\ndevargs = \"net_tap0,iface={}\"\nrole = \"uplink\"\n\
                 [[ports]]\nname = \"ext\"\ndevargs = \"net_tap1,iface={inet_if}\"\nrole = \"external\"\n",
                up("b")
            ),
            &etcd.url,
            "bnd",
        );
        let bnd = start("bnd", bnd_toml);

        let br = Bridge(format!("vf{tag}br"));
        sh(&["ip", "link", "add", &br.0, "type", "bridge"]);
        for x in ["1", "2", "b"] {
            sh(&["ip", "link", "set", &up(x), "master", &br.0]);
            sh(&["ip", "link", "set", &up(x), "up"]);
        }
        sh(&["ip", "link", "set", &br.0, "up"]);
        sh(&["ip", "netns", "add", &inet_ns]);
        sh(&["ip", "link", "set", &inet_if, "netns", &inet_ns]);
        in_ns(
            &inet_ns,
            &["ip", "link", "set", &inet_if, "address", INET_MAC],
        );
        in_ns(&inet_ns, &["ip", "link", "set", &inet_if, "up"]);
        in_ns(&inet_ns, &["ip", "link", "set", "lo", "up"]);
        let host = format!("{INET_HOST}/24");
        in_ns(&inet_ns, &["ip", "addr", "add", &host, "dev", &inet_if]);
        in_ns(
            &inet_ns,
            &["ip", "route", "add", PUBLIC, "via", BOUNDARY_EXT],
        );
        ctl_ok(
            &bnd,
            &[
                "external-port-set",
                "ext",
                "--nexthop-mac",
                INET_MAC,
                "--addr",
                BOUNDARY_EXT,
            ],
        );
        plumb(&a);
        plumb(&b);
        Rack {
            _br: br,
            bnd,
            sw2,
            sw1,
            _ns: ns,
            a,
            b,
            inet_ns,
            tag,
            etcd,
        }
    }

    /// The internet host's established TCP peers on its port 8080
    /// (`ADDR:PORT`).
    pub fn inet_peers(&self) -> Vec<String> {
        let filter = ["(", "sport", "=", ":8080", ")"];
        let mut args = vec!["ss", "-tnH", "state", "established"];
        args.extend(filter);
        in_ns(&self.inet_ns, &args)
            .lines()
            .filter_map(|l| l.split_whitespace().last().map(str::to_string))
            .collect()
    }
}
