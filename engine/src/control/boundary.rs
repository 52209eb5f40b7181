//! The management thread's boundary commands (docs/VPC-MODEL.md, *Roles and ports*):
//! the external port with its next hop, and the boundary map (external IP ->
//! the underlay address of the sled that owns it). Each changes the state
//! document in force and commits it (`commit.rs`); a refused command
//! publishes nothing.
//!
//! The boundary keeps no flow state, so no epoch moves: the next packet sees
//! the new tables.

use crate::control::commit;
use crate::control::vpc::PortDirectory;
use crate::tables::Snapshot;
use crate::tables::TableStore;
use crate::SwitchRole;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vswitch_api::state::{BridgeLinkState, ExternalPortState, StaticNatEntry};
use vswitch_api::{BoundaryMapEntry, BoundaryMapInfo, ExternalPortInfo, PortRangeSpec};

/// Refuses boundary commands on a sled switch, whose configuration says so.
fn boundary_only(cmd: &str, role: SwitchRole) -> Result<(), String> {
    match role {
        SwitchRole::Boundary => Ok(()),
        SwitchRole::Sled => Err(format!(
            "{cmd}: this switch is a sled switch (role = \"sled\" in its configuration); \
             the external port and the boundary map belong to a boundary switch (role = \"boundary\")"
        )),
    }
}

/// `external-port-set`: the boundary's port toward the internet, its next
/// hop's MAC and, optionally, the boundary's own IPv4 address on that link
/// (answered to ARP and ping).
pub fn external_port_set(
    dir: &PortDirectory,
    role: SwitchRole,
    tables: &TableStore,
    port: &str,
    nexthop_mac: vswitch_api::MacAddr,
    addr: Option<Ipv4Addr>,
) -> Result<u64, String> {
    let cmd = "external-port-set";
    boundary_only(cmd, role)?;
    commit::change(dir, tables, cmd, |s| {
        if let Some(a) = addr {
            if let Some(m) = s.boundary_map.iter().find(|m| m.ip == IpAddr::V4(a)) {
                return Err(format!(
                    "{a} is an external IP in the boundary map (toward sled {}); \
                     the boundary's own address must be another one",
                    m.sled
                ));
            }
        }
        s.external_port = Some(ExternalPortState {
            port: port.to_string(),
            nexthop_mac,
            addr,
        });
        Ok(())
    })
    .map(|c| c.generation)
}

/// `boundary-map-set`: traffic from the internet for external IP `ip` is
/// encapsulated toward the sled at underlay address `sled` (replacing any
/// earlier entry of `ip`).
pub fn boundary_map_set(
    dir: &PortDirectory,
    role: SwitchRole,
    tables: &TableStore,
    ip: IpAddr,
    sled: Ipv6Addr,
) -> Result<u64, String> {
    let entry = BoundaryMapEntry {
        ip,
        sled,
        ports: None,
    };
    boundary_map_put(dir, role, tables, entry)
}

/// `boundary-map-set`, whole or for a share of a SNAT address (`ports`):
/// replaces the entry of the same address and ports, else adds one. The
/// check refuses a share that overlaps another of the same address, and an
/// address that is both whole and shared.
pub fn boundary_map_put(
    dir: &PortDirectory,
    role: SwitchRole,
    tables: &TableStore,
    entry: BoundaryMapEntry,
) -> Result<u64, String> {
    let cmd = "boundary-map-set";
    boundary_only(cmd, role)?;
    commit::change(dir, tables, cmd, |s| {
        let same = |m: &BoundaryMapEntry| m.ip == entry.ip && m.ports == entry.ports;
        match s.boundary_map.iter_mut().find(|m| same(m)) {
            Some(m) => *m = entry,
            None => {
                s.boundary_map.push(entry);
                s.boundary_map.sort_by_key(|m| (m.ip, m.ports));
            }
        }
        Ok(())
    })
    .map(|c| c.generation)
}

/// `boundary-map-clear`: removes the entry of `ip` (with `ports`: that
/// share of a shared SNAT address).
pub fn boundary_map_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    ip: IpAddr,
    ports: Option<PortRangeSpec>,
) -> Result<u64, String> {
    commit::change(dir, tables, "boundary-map-clear", |s| {
        let before = s.boundary_map.len();
        s.boundary_map.retain(|m| m.ip != ip || m.ports != ports);
        if s.boundary_map.len() == before {
            return Err(match ports {
                Some(p) => format!("{ip} has no share {p} in the boundary map"),
                None => format!("{ip} has no entry of its own in the boundary map"),
            });
        }
        Ok(())
    })
    .map(|c| c.generation)
}

/// `bridge-link-set`: the link on `link.port` to another pod's boundary
/// (replacing that port's link). The check refuses a port not of role
/// `bridge`, a network that is not IPv4, has host bits or overlaps another
/// link's, and an own address outside it.
pub fn bridge_link_set(
    dir: &PortDirectory,
    role: SwitchRole,
    tables: &TableStore,
    link: BridgeLinkState,
) -> Result<u64, String> {
    let cmd = "bridge-link-set";
    boundary_only(cmd, role)?;
    commit::change(dir, tables, cmd, |s| {
        s.bridge_links.retain(|l| l.port != link.port);
        s.bridge_links.push(link);
        s.bridge_links.sort_by(|a, b| a.port.cmp(&b.port));
        Ok(())
    })
    .map(|c| c.generation)
}

/// `bridge-link-clear`: removes the link on `port` (refused while a static
/// NAT entry's bridge address is on its network: the check says which).
pub fn bridge_link_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    port: &str,
) -> Result<u64, String> {
    commit::change(dir, tables, "bridge-link-clear", |s| {
        let before = s.bridge_links.len();
        s.bridge_links.retain(|l| l.port != port);
        if s.bridge_links.len() == before {
            return Err(format!("port {port:?} has no bridge link"));
        }
        Ok(())
    })
    .map(|c| c.generation)
}

/// `static-nat-set`: `entry.external` <-> `entry.bridge` (replacing the
/// entry of the same external address).
pub fn static_nat_set(
    dir: &PortDirectory,
    role: SwitchRole,
    tables: &TableStore,
    entry: StaticNatEntry,
) -> Result<u64, String> {
    let cmd = "static-nat-set";
    boundary_only(cmd, role)?;
    commit::change(dir, tables, cmd, |s| {
        s.static_nat.retain(|e| e.external != entry.external);
        s.static_nat.push(entry);
        s.static_nat.sort_by_key(|e| e.external);
        Ok(())
    })
    .map(|c| c.generation)
}

/// `static-nat-clear`: removes the static NAT of `external`.
pub fn static_nat_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    external: Ipv4Addr,
) -> Result<u64, String> {
    commit::change(dir, tables, "static-nat-clear", |s| {
        let before = s.static_nat.len();
        s.static_nat.retain(|e| e.external != external);
        if s.static_nat.len() == before {
            return Err(format!("{external} has no static NAT entry"));
        }
        Ok(())
    })
    .map(|c| c.generation)
}

/// `boundary-map-list`: the external port and the boundary map, by address.
pub fn boundary_map_list(dir: &PortDirectory, snap: &Snapshot) -> BoundaryMapInfo {
    let mut entries: Vec<BoundaryMapEntry> = snap
        .vpc
        .boundary_map
        .entries()
        .map(|(ip, ports, sled)| BoundaryMapEntry {
            ip,
            sled,
            ports: ports.and_then(|(a, b)| PortRangeSpec::new(a, b).ok()),
        })
        .collect();
    entries.sort_by_key(|e| (e.ip, e.ports));
    BoundaryMapInfo {
        external: snap.vpc.external_port.map(|x| ExternalPortInfo {
            port: dir
                .names
                .get(x.port as usize)
                .cloned()
                .unwrap_or_else(|| format!("#{}", x.port)),
            mac: x.mac.to_string(),
            nexthop_mac: x.nexthop_mac.to_string(),
            addr: x.addr,
        }),
        entries,
        bridge_links: snap.state.bridge_links.clone(),
        static_nat: snap.state.static_nat.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{port, typed, Switch};
    use crate::vpc::ExternalPort;
    use crate::PortRole;
    use wire::MacAddr;

    const EXT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xe];

    fn setup() -> (PortDirectory, TableStore) {
        Switch::tables(
            SwitchRole::Boundary,
            &[
                port("up", PortRole::Uplink, [2, 0, 0, 0, 0, 1]),
                port("ext", PortRole::External, EXT_MAC),
                port("g", PortRole::Guest, [2, 0, 0, 0, 0, 3]),
            ],
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Runs `f`, expects a refusal containing `want`, and checks nothing was published.
    fn refused(tables: &TableStore, want: &str, f: impl FnOnce() -> Result<u64, String>) {
        let before = tables.current().generation;
        let swaps = tables.swaps();
        let e = f().expect_err("must be refused");
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert_eq!(
            tables.current().generation,
            before,
            "a refused command publishes nothing"
        );
        assert_eq!(tables.swaps(), swaps);
    }

    #[test]
    fn external_port_set_publishes_the_port_with_its_mac() {
        let (dir, t) = setup();
        let g = external_port_set(
            &dir,
            SwitchRole::Boundary,
            &t,
            "ext",
            typed("02:00:00:00:00:fe"),
            Some("192.0.2.1".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(g, 1);
        assert_eq!(
            t.current().vpc.external_port,
            Some(ExternalPort {
                port: 1,
                mac: MacAddr(EXT_MAC),
                nexthop_mac: MacAddr([2, 0, 0, 0, 0, 0xfe]),
                addr: Some("192.0.2.1".parse().unwrap()),
            })
        );
        // Replaced whole, the address may go.
        external_port_set(
            &dir,
            SwitchRole::Boundary,
            &t,
            "ext",
            typed("02:00:00:00:00:fd"),
            None,
        )
        .unwrap();
        let x = t.current().vpc.external_port.unwrap();
        assert_eq!(x.addr, None);
        assert_eq!(x.nexthop_mac, MacAddr([2, 0, 0, 0, 0, 0xfd]));
    }

    #[test]
    fn bad_external_port_requests_are_refused_whole() {
        let (dir, t) = setup();
        let mac = typed("02:00:00:00:00:fe");
        refused(&t, "sled switch", || {
            external_port_set(&dir, SwitchRole::Sled, &t, "ext", mac, None)
        });
        refused(&t, "role = \"boundary\"", || {
            external_port_set(&dir, SwitchRole::Sled, &t, "ext", mac, None)
        });
        refused(&t, "unknown port \"nope\" (ports: up, ext, g)", || {
            external_port_set(&dir, SwitchRole::Boundary, &t, "nope", mac, None)
        });
        refused(&t, "is an uplink port, not an external port", || {
            external_port_set(&dir, SwitchRole::Boundary, &t, "up", mac, None)
        });
        refused(&t, "is a guest port, not an external port", || {
            external_port_set(&dir, SwitchRole::Boundary, &t, "g", mac, None)
        });
        // What is not a MAC address is refused where the request is read.
        let line = r#"{"version":2,"command":"external-port-set","port":"ext","nexthop_mac":"zz"}"#;
        let e = serde_json::from_str::<vswitch_api::Request>(line).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(r#""zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#),
            "{e}"
        );
        refused(&t, "must be a unicast address", || {
            external_port_set(
                &dir,
                SwitchRole::Boundary,
                &t,
                "ext",
                typed("ff:ff:ff:ff:ff:ff"),
                None,
            )
        });
        for bad in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1"] {
            refused(&t, "cannot be the boundary's address", || {
                external_port_set(
                    &dir,
                    SwitchRole::Boundary,
                    &t,
                    "ext",
                    mac,
                    Some(bad.parse().unwrap()),
                )
            });
        }
        boundary_map_set(
            &dir,
            SwitchRole::Boundary,
            &t,
            ip("203.0.113.5"),
            v6("fd00::1"),
        )
        .unwrap();
        refused(&t, "is an external IP in the boundary map", || {
            external_port_set(
                &dir,
                SwitchRole::Boundary,
                &t,
                "ext",
                mac,
                Some("203.0.113.5".parse().unwrap()),
            )
        });
        assert_eq!(t.current().vpc.external_port, None);
    }

    #[test]
    fn boundary_map_set_clear_and_list() {
        let (dir, t) = setup();
        let r = SwitchRole::Boundary;
        boundary_map_set(&dir, r, &t, ip("203.0.113.5"), v6("fd00:1701:d:101::1")).unwrap();
        boundary_map_set(&dir, r, &t, ip("198.51.100.7"), v6("fd00:1701:d:102::1")).unwrap();
        boundary_map_set(&dir, r, &t, ip("2001:db8::5"), v6("fd00:1701:d:101::1")).unwrap();
        // Set again: the entry moves (a floating IP reassigned to another sled).
        boundary_map_set(&dir, r, &t, ip("203.0.113.5"), v6("fd00:1701:d:103::1")).unwrap();
        let list = boundary_map_list(&dir, &t.current());
        assert_eq!(list.external, None);
        assert_eq!(
            list.entries,
            vec![
                BoundaryMapEntry {
                    ip: ip("198.51.100.7"),
                    sled: v6("fd00:1701:d:102::1"),
                    ports: None,
                },
                BoundaryMapEntry {
                    ip: ip("203.0.113.5"),
                    sled: v6("fd00:1701:d:103::1"),
                    ports: None,
                },
                BoundaryMapEntry {
                    ip: ip("2001:db8::5"),
                    sled: v6("fd00:1701:d:101::1"),
                    ports: None,
                },
            ]
        );
        boundary_map_clear(&dir, &t, ip("198.51.100.7"), None).unwrap();
        assert_eq!(t.current().vpc.boundary_map.len(), 2);
        refused(
            &t,
            "198.51.100.7 has no entry of its own in the boundary map",
            || boundary_map_clear(&dir, &t, ip("198.51.100.7"), None),
        );
        external_port_set(
            &dir,
            r,
            &t,
            "ext",
            typed("02:00:00:00:00:fe"),
            Some("192.0.2.1".parse().unwrap()),
        )
        .unwrap();
        let list = boundary_map_list(&dir, &t.current());
        assert_eq!(
            list.external,
            Some(ExternalPortInfo {
                port: "ext".into(),
                mac: "02:00:00:00:00:0e".into(),
                nexthop_mac: "02:00:00:00:00:fe".into(),
                addr: Some("192.0.2.1".parse().unwrap()),
            })
        );
    }

    #[test]
    fn bad_boundary_map_requests_are_refused_whole() {
        let (dir, t) = setup();
        let r = SwitchRole::Boundary;
        let sled = v6("fd00:1701:d:101::1");
        refused(&t, "sled switch", || {
            boundary_map_set(&dir, SwitchRole::Sled, &t, ip("203.0.113.5"), sled)
        });
        for bad in [
            "0.0.0.0",
            "239.1.1.1",
            "255.255.255.255",
            "::",
            "ff02::1",
            "::1",
        ] {
            refused(&t, "cannot be an external IP", || {
                boundary_map_set(&dir, r, &t, ip(bad), sled)
            });
        }
        for bad in ["::", "ff02::1", "::1"] {
            refused(&t, "cannot be a sled's underlay address", || {
                boundary_map_set(&dir, r, &t, ip("203.0.113.5"), v6(bad))
            });
        }
        crate::control::vpc::underlay_set(
            &dir,
            &t,
            v6("fd00:1701:d:1::1"),
            "up",
            typed("02:00:00:00:00:fe"),
        )
        .unwrap();
        refused(&t, "this boundary's own underlay address", || {
            boundary_map_set(&dir, r, &t, ip("203.0.113.5"), v6("fd00:1701:d:1::1"))
        });
        external_port_set(
            &dir,
            r,
            &t,
            "ext",
            typed("02:00:00:00:00:fe"),
            Some("192.0.2.1".parse().unwrap()),
        )
        .unwrap();
        refused(&t, "the boundary's own address", || {
            boundary_map_set(&dir, r, &t, ip("192.0.2.1"), sled)
        });
        refused(&t, "has no entry", || {
            boundary_map_clear(&dir, &t, ip("203.0.113.5"), None)
        });
        assert!(t.current().vpc.boundary_map.is_empty());
    }
}
