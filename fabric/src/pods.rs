//! Pods and bridge networks in the fleet's state (README, *Pods and bridge
//! networks*). A pod is a rack (or zone) with its own sleds, boundary and
//! external networks. A floating IP of pod B's external network bound to a
//! VM in pod A goes over the bridge network of the pair (A, B): a CIDR from
//! the bridge pool, allocated on first use, carried on the link between the
//! two boundaries. The VM's NIC holds a bridge address as its floating IP;
//! pod B's boundary keeps the static NAT between the two.
//!
//! | key | value |
//! |---|---|
//! | `pods/NAME` | a pod: its boundary switch, sleds and external networks |
//! | `bridge-pool` | the CIDR bridge networks are cut from, and their length |
//! | `bridge-links/A,B` | the link between two pods' boundaries: each end's port and next hop |
//! | `bridges/A,B` | the bridge network of a pair of pods (allocated on first use) |
//! | `bridge-cidrs/NET_LEN` | the claim on one CIDR of the pool |
//! | `bridge-addrs/A,B/IP` | a bridge address in use, and the binding it serves |
//! | `fip-bindings/FIP` | a floating IP's binding to a NIC (and its bridge address) |
//! | `static-nat/B/FIP` | pod B's boundary's static NAT entry |

use crate::keys::ROOT;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use vswitch_api::{MacAddr, Prefix};

/// Bridge addresses start here: .0 is the network, .1 and .2 the two
/// boundaries, .3 kept back; the last is the broadcast address.
pub const FIRST_HOST: u32 = 4;

/// A pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    /// Its name.
    pub name: String,
    /// The fleet name of its boundary switch.
    pub boundary: String,
    /// Its sleds.
    #[serde(default)]
    pub sleds: Vec<String>,
    /// Its external networks: the floating IPs it hands out.
    #[serde(default)]
    pub external: Vec<Prefix>,
}

impl Pod {
    /// Whether `ip` is in one of the pod's external networks.
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.external.iter().any(|p| prefix_contains(*p, ip))
    }
}

/// Whether prefix `p` holds `ip`.
pub fn prefix_contains(p: Prefix, ip: IpAddr) -> bool {
    match (p.addr(), ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(p.prefix_len()))
                .unwrap_or(0);
            u32::from(n) & m == u32::from(a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(p.prefix_len()))
                .unwrap_or(0);
            u128::from(n) & m == u128::from(a) & m
        }
        _ => false,
    }
}

/// The bridge pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgePool {
    /// The CIDR bridge networks are cut from (IPv4).
    pub cidr: Prefix,
    /// The prefix length of each bridge network.
    pub len: u8,
}

impl BridgePool {
    /// The `n`th network of the pool, if the pool has that many.
    pub fn network(&self, n: u32) -> Option<Prefix> {
        // The pool comes from etcd: every step is checked, none can panic.
        let IpAddr::V4(base) = self.cidr.addr() else {
            return None;
        };
        let bits = self.len.checked_sub(self.cidr.prefix_len())?;
        if bits > 32 || u64::from(n) >= 1u64 << bits {
            return None;
        }
        let size = 1u32.checked_shl(32u32.checked_sub(u32::from(self.len))?)?;
        let a = u32::from(base).checked_add(n.checked_mul(size)?)?;
        Prefix::new(IpAddr::V4(Ipv4Addr::from(a)), self.len).ok()
    }
}

/// One end of a bridge link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEnd {
    /// The pod.
    pub pod: String,
    /// Its boundary's port of role `bridge`.
    pub port: String,
    /// The MAC of the other boundary's port (this end's next hop).
    pub nexthop_mac: MacAddr,
}

/// The link between two pods' boundaries; `ends` sorted by pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeLinkRecord {
    /// The two ends.
    pub ends: [LinkEnd; 2],
}

/// The bridge network of a pair of pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// The pair, sorted.
    pub pods: [String; 2],
    /// Its network.
    pub cidr: Prefix,
}

impl Bridge {
    /// The own address on the link of the boundary of `pod`: .1 for the
    /// first of the pair, .2 for the second.
    pub fn boundary_addr(&self, pod: &str) -> Option<Ipv4Addr> {
        let IpAddr::V4(n) = self.cidr.addr() else {
            return None;
        };
        let i = self.pods.iter().position(|p| p == pod)? as u32;
        u32::from(n).checked_add(1 + i).map(Ipv4Addr::from)
    }

    /// The addresses bindings may take, lowest first.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let (n, len) = match self.cidr.addr() {
            IpAddr::V4(n) => (u32::from(n), self.cidr.prefix_len()),
            IpAddr::V6(_) => (0, 32),
        };
        let size = 1u64 << (32 - u32::from(len.min(32)));
        (u64::from(FIRST_HOST)..size.saturating_sub(1))
            .map_while(move |i| n.checked_add(i as u32).map(Ipv4Addr::from))
    }
}

/// A bridge address in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeAddr {
    /// The NIC holding it as its floating IP.
    pub nic: u32,
    /// The floating IP it stands for.
    pub fip: Ipv4Addr,
}

/// A floating IP's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FipBinding {
    /// The floating IP.
    pub fip: IpAddr,
    /// The NIC it is bound to.
    pub nic: u32,
    /// The pod whose external network it is in.
    pub pod: String,
    /// Across pods: the pair and the bridge address the NIC holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<(String, Ipv4Addr)>,
}

/// A static NAT entry of a pod's boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticNatRecord {
    /// The floating IP.
    pub external: Ipv4Addr,
    /// The bridge address.
    pub bridge: Ipv4Addr,
}

/// The name of a pair of pods: the two names sorted, joined by a comma.
pub fn pair(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a},{b}")
    } else {
        format!("{b},{a}")
    }
}

/// Every pod starts so.
pub fn pods() -> String {
    format!("{ROOT}/pods/")
}

/// A pod.
pub fn pod(name: &str) -> String {
    format!("{ROOT}/pods/{name}")
}

/// The bridge pool.
pub fn bridge_pool() -> String {
    format!("{ROOT}/bridge-pool")
}

/// Every bridge link starts so.
pub fn bridge_links() -> String {
    format!("{ROOT}/bridge-links/")
}

/// The link of a pair.
pub fn bridge_link(pair: &str) -> String {
    format!("{ROOT}/bridge-links/{pair}")
}

/// Every bridge starts so.
pub fn bridges() -> String {
    format!("{ROOT}/bridges/")
}

/// The bridge of a pair.
pub fn bridge(pair: &str) -> String {
    format!("{ROOT}/bridges/{pair}")
}

/// Every CIDR claim starts so.
pub fn bridge_cidrs() -> String {
    format!("{ROOT}/bridge-cidrs/")
}

/// The claim on a CIDR.
pub fn bridge_cidr(p: Prefix) -> String {
    format!("{ROOT}/bridge-cidrs/{}_{}", p.addr(), p.prefix_len())
}

/// Every bridge address of a pair starts so.
pub fn bridge_addrs(pair: &str) -> String {
    format!("{ROOT}/bridge-addrs/{pair}/")
}

/// A bridge address.
pub fn bridge_addr(pair: &str, ip: Ipv4Addr) -> String {
    format!("{ROOT}/bridge-addrs/{pair}/{ip}")
}

/// Every binding starts so.
pub fn fip_bindings() -> String {
    format!("{ROOT}/fip-bindings/")
}

/// A floating IP's binding.
pub fn fip_binding(fip: IpAddr) -> String {
    format!("{ROOT}/fip-bindings/{fip}")
}

/// Every static NAT entry of a pod starts so.
pub fn static_nats(pod: &str) -> String {
    format!("{ROOT}/static-nat/{pod}/")
}

/// A static NAT entry.
pub fn static_nat(pod: &str, fip: Ipv4Addr) -> String {
    format!("{ROOT}/static-nat/{pod}/{fip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_cut_into_networks_and_a_bridge_into_hosts() {
        let pool = BridgePool {
            cidr: "100.0.0.0/16".parse().unwrap(),
            len: 24,
        };
        assert_eq!(pool.network(0).unwrap().to_string(), "100.0.0.0/24");
        assert_eq!(pool.network(1).unwrap().to_string(), "100.0.1.0/24");
        assert_eq!(pool.network(255).unwrap().to_string(), "100.0.255.0/24");
        assert!(pool.network(256).is_none());
        let b = Bridge {
            pods: ["a".into(), "b".into()],
            cidr: "100.0.1.0/24".parse().unwrap(),
        };
        assert_eq!(b.boundary_addr("a"), Some("100.0.1.1".parse().unwrap()));
        assert_eq!(b.boundary_addr("b"), Some("100.0.1.2".parse().unwrap()));
        assert_eq!(b.boundary_addr("c"), None);
        let hosts: Vec<Ipv4Addr> = b.hosts().collect();
        assert_eq!(hosts.first(), Some(&"100.0.1.4".parse().unwrap()));
        assert_eq!(hosts.last(), Some(&"100.0.1.254".parse().unwrap()));
        assert_eq!(hosts.len(), 251);
        assert_eq!(pair("b", "a"), "a,b");
        // Values from etcd that make no sense give nothing, not a panic.
        let odd = BridgePool {
            cidr: "100.0.0.0/24".parse().unwrap(),
            len: 16,
        };
        assert!(odd.network(0).is_none());
        let top = Bridge {
            pods: ["a".into(), "b".into()],
            cidr: "255.255.255.255/24".parse().unwrap(),
        };
        assert_eq!(top.boundary_addr("a"), None);
        assert_eq!(top.hosts().count(), 0);
        assert!(prefix_contains(
            "162.3.124.0/24".parse().unwrap(),
            "162.3.124.5".parse().unwrap()
        ));
        assert!(!prefix_contains(
            "162.3.124.0/24".parse().unwrap(),
            "162.3.125.5".parse().unwrap()
        ));
    }
}
