//! Routes to a NIC (`nic:ID`): the router sends a matching flow to that
//! NIC's primary address of the flow's family while the NIC is attached to
//! a running instance, and drops it as `route_blackhole` while it is not
//! (README, *NIC routes*). The table holds the NICs a route can reach now;
//! a NIC missing from it is a blackhole.

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A NIC a `nic:ID` route reaches: its VPC and primary addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicTarget {
    /// Its VNI (a route reaches it only from the same VPC).
    pub vni: u32,
    /// Primary IPv4.
    pub ipv4: Option<Ipv4Addr>,
    /// Primary IPv6.
    pub ipv6: Option<Ipv6Addr>,
}

/// The NICs `nic:ID` routes reach now, by id.
pub type NicTargets = HashMap<u32, NicTarget>;

/// Where a flow of VNI `vni` to `dst` routed to NIC `id` goes: that NIC's
/// primary address of `dst`'s family, or `None` (blackhole) when the NIC is
/// not reachable now, is in another VPC, or has no address of the family.
pub fn resolve(targets: &NicTargets, id: u32, vni: u32, dst: IpAddr) -> Option<IpAddr> {
    let t = targets.get(&id).filter(|t| t.vni == vni)?;
    match dst {
        IpAddr::V4(_) => t.ipv4.map(IpAddr::V4),
        IpAddr::V6(_) => t.ipv6.map(IpAddr::V6),
    }
}

/// `active` or `blackhole`, as `layers` shows a `nic:ID` route.
pub fn state_of(targets: &NicTargets, id: u32, vni: u32) -> &'static str {
    if targets.get(&id).is_some_and(|t| t.vni == vni) {
        "active"
    } else {
        "blackhole"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_reaches_only_an_active_nic_of_its_vpc_and_family() {
        let mut t = NicTargets::new();
        t.insert(
            7,
            NicTarget {
                vni: 100,
                ipv4: Some(Ipv4Addr::new(172, 30, 1, 9)),
                ipv6: None,
            },
        );
        let v4: IpAddr = "8.8.8.8".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(resolve(&t, 7, 100, v4), Some("172.30.1.9".parse().unwrap()));
        assert_eq!(resolve(&t, 7, 100, v6), None);
        assert_eq!(resolve(&t, 7, 101, v4), None);
        assert_eq!(resolve(&t, 8, 100, v4), None);
        assert_eq!(state_of(&t, 7, 100), "active");
        assert_eq!(state_of(&t, 8, 100), "blackhole");
        assert_eq!(state_of(&t, 7, 5), "blackhole");
    }
}
