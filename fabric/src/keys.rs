//! The fleet's state in etcd: one key per object, JSON values, under one
//! root (`/vswitch/v1`) so that a format change can live beside the old one.
//! A switch watches only the prefixes it needs (its sled's objects, the V2P
//! of its VNIs, the boundary's map); every allocation is a transaction that
//! compares the revision of the keys it read.
//!
//! | key | value |
//! |---|---|
//! | `/vswitch/v1/rack` | the rack plan (`{"zone":"1701:d","rack":1}`) |
//! | `/vswitch/v1/sleds/NAME` | a sled: its number, /64 and underlay address |
//! | `/vswitch/v1/sled-numbers/N` | the claim on sled number N (the sled's name) |
//! | `/vswitch/v1/sled-numbers/rack-R/N` | the same in another rack R of the zone (`sled-add --rack`) |
//! | `/vswitch/v1/endpoints/SLED/ADDR` | an endpoint address in use, and what holds it |
//! | `/vswitch/v1/names/NAME` | the address a name is bound to (the underlay DNS zone) |
//! | `/vswitch/v1/instance-types/NAME` | an instance type (its NIC limit) |
//! | `/vswitch/v1/instances/ID` | an instance: type, state, sled, endpoint |
//! | `/vswitch/v1/nics/ID` | a NIC as the state document has it, with its attachment |
//! | `/vswitch/v1/v2p/VNI/IP` | a V2P entry: the guest MAC, the endpoint address, the NIC |
//! | `/vswitch/v1/v2b/PREFIX` | a V2B entry (`/` of the prefix written `_`) |
//! | `/vswitch/v1/gateways/ID`, `/vswitch/v1/pools/NAME` | internet gateways, address pools |
//! | `/vswitch/v1/boundary/map/IP` | a boundary map entry: the endpoint an external IP's traffic goes to |
//! | `/vswitch/v1/boundary/map/IP/FIRST-LAST` | a share of a SNAT address: the endpoint of the NIC holding those ports |
//! | `/vswitch/v1/migrations/INSTANCE` | a migration's phase, so that a restarted controller finishes or rolls it back |
//! | `/vswitch/v1/migration-flows/INSTANCE/NIC` | a NIC's flows, written by the source switch |
//! | `/vswitch/v1/migration-imports/INSTANCE` | the target switch's import report |

use std::net::{IpAddr, Ipv6Addr};

/// The root of every key.
pub const ROOT: &str = "/vswitch/v1";

/// The rack plan.
pub fn rack() -> String {
    format!("{ROOT}/rack")
}

/// Every sled's key starts so.
pub fn sleds() -> String {
    format!("{ROOT}/sleds/")
}

/// A sled.
pub fn sled(name: &str) -> String {
    format!("{ROOT}/sleds/{name}")
}

/// The claim on sled number `n` (its value: the sled's name): the key a
/// `sled-add` transaction creates only if it does not exist yet.
pub fn sled_number(n: u16) -> String {
    format!("{ROOT}/sled-numbers/{n}")
}

/// The claim on sled number N of another rack R of the zone (a pod's own
/// underlay).
pub fn sled_number_in(rack: u8, n: u16) -> String {
    format!("{ROOT}/sled-numbers/rack-{rack}/{n}")
}

/// A sled's endpoint addresses in use start so.
pub fn endpoints(sled: &str) -> String {
    format!("{ROOT}/endpoints/{sled}/")
}

/// One endpoint address in use.
pub fn endpoint(sled: &str, addr: Ipv6Addr) -> String {
    format!("{ROOT}/endpoints/{sled}/{addr}")
}

/// Every name starts so.
pub fn names() -> String {
    format!("{ROOT}/names/")
}

/// A name's binding.
pub fn name(name: &str) -> String {
    format!("{ROOT}/names/{name}")
}

/// Every instance type starts so.
pub fn instance_types() -> String {
    format!("{ROOT}/instance-types/")
}

/// An instance type.
pub fn instance_type(name: &str) -> String {
    format!("{ROOT}/instance-types/{name}")
}

/// Every instance starts so.
pub fn instances() -> String {
    format!("{ROOT}/instances/")
}

/// Every NIC starts so.
pub fn nics() -> String {
    format!("{ROOT}/nics/")
}

/// Every V2P entry starts so.
pub fn v2p_all() -> String {
    format!("{ROOT}/v2p/")
}

/// Every V2B entry starts so.
pub fn v2bs() -> String {
    format!("{ROOT}/v2b/")
}

/// A V2B entry, by its prefix (`10.0.0.0/8` as `10.0.0.0_8`).
pub fn v2b(prefix: &str) -> String {
    format!("{ROOT}/v2b/{}", prefix.replace('/', "_"))
}

/// Every internet gateway starts so.
pub fn gateways() -> String {
    format!("{ROOT}/gateways/")
}

/// An internet gateway.
pub fn gateway(id: u32) -> String {
    format!("{ROOT}/gateways/{id}")
}

/// Every address pool starts so.
pub fn pools() -> String {
    format!("{ROOT}/pools/")
}

/// An address pool.
pub fn pool(name: &str) -> String {
    format!("{ROOT}/pools/{name}")
}

/// Every boundary map entry starts so.
pub fn boundary_maps() -> String {
    format!("{ROOT}/boundary/map/")
}

/// An instance.
pub fn instance(id: &str) -> String {
    format!("{ROOT}/instances/{id}")
}

/// A NIC.
pub fn nic(id: u32) -> String {
    format!("{ROOT}/nics/{id}")
}

/// Every V2P entry of a VNI starts so.
pub fn v2p_vni(vni: u32) -> String {
    format!("{ROOT}/v2p/{vni}/")
}

/// One V2P entry.
pub fn v2p(vni: u32, ip: IpAddr) -> String {
    format!("{ROOT}/v2p/{vni}/{ip}")
}

/// A boundary map entry.
pub fn boundary_map(ip: IpAddr) -> String {
    format!("{ROOT}/boundary/map/{ip}")
}

/// Every share of SNAT address `ip` starts so.
pub fn boundary_shares(ip: IpAddr) -> String {
    format!("{ROOT}/boundary/map/{ip}/")
}

/// The share of SNAT address `ip` holding ports `first..=last`.
pub fn boundary_share(ip: IpAddr, first: u16, last: u16) -> String {
    format!("{ROOT}/boundary/map/{ip}/{first}-{last}")
}

/// Every migration's record starts so.
pub fn migrations() -> String {
    format!("{ROOT}/migrations/")
}

/// A migration's record.
pub fn migration(instance: &str) -> String {
    format!("{ROOT}/migrations/{instance}")
}

/// The flows a migration's source exported start so (one key per NIC).
pub fn migration_flows(instance: &str) -> String {
    format!("{ROOT}/migration-flows/{instance}/")
}

/// The flows of one NIC a migration's source exported.
pub fn migration_nic_flows(instance: &str, nic: u32) -> String {
    format!("{ROOT}/migration-flows/{instance}/{nic}")
}

/// One chunk of a NIC's exported flows.
pub fn migration_flows_chunk(instance: &str, nic: u32, k: u32) -> String {
    format!("{ROOT}/migration-flows/{instance}/{nic}/{k}")
}

/// A migration target's import report.
pub fn migration_import(instance: &str) -> String {
    format!("{ROOT}/migration-imports/{instance}")
}

/// Whether `s` may be a path segment of a key (a sled, name or instance):
/// non-empty, at most 63 characters, ASCII letters, digits, '-' and '.',
/// so that no key can reach outside its prefix.
pub fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nest_under_their_prefixes() {
        assert!(sled("sled-2").starts_with(&sleds()));
        let e = endpoint("sled-2", "fd00:1701:d:102::100".parse().unwrap());
        assert_eq!(e, "/vswitch/v1/endpoints/sled-2/fd00:1701:d:102::100");
        assert!(e.starts_with(&endpoints("sled-2")));
        assert!(
            !e.starts_with(&endpoints("sled-20")),
            "one sled's prefix holds no other's"
        );
        let v = v2p(100, "172.30.0.5".parse().unwrap());
        assert!(v.starts_with(&v2p_vni(100)) && !v.starts_with(&v2p_vni(10)));
        assert_eq!(name("web-1-migrating"), "/vswitch/v1/names/web-1-migrating");
    }

    #[test]
    fn segments_cannot_escape_their_prefix() {
        for good in ["sled-1", "web-1.vpc", "a"] {
            assert!(valid_segment(good), "{good}");
        }
        for bad in ["", "a/b", "..", ".", "a b", &"x".repeat(64)] {
            assert!(!valid_segment(bad), "{bad:?}");
        }
    }
}
