//! Endpoint addresses (a VM's hypervisor process, a control-plane daemon):
//! from ::100 of their sled's /64 upward, the lowest free one first, so that
//! a released address is the next one handed out. ::1 is the sled's own;
//! ::2 to ::ff stay free for the sled's services.

use crate::plan::Prefix6;
use std::collections::BTreeSet;
use std::net::Ipv6Addr;

/// The first endpoint address's offset in a sled's /64.
pub const FIRST_ENDPOINT: u64 = 0x100;

/// The most endpoints one sled's addresses are handed to (a bound on what a
/// controller can make the fleet state hold; far beyond a sled's VMs).
pub const MAX_ENDPOINTS: usize = 65_536;

/// Why no address was handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The sled has [`MAX_ENDPOINTS`] endpoints.
    #[error("sled {0} has {MAX_ENDPOINTS} endpoints, its most")]
    Full(Prefix6),
    /// An address given back that is not one of the sled's endpoints.
    #[error("{0} is not an endpoint address of {1}")]
    NotEndpoint(Ipv6Addr, Prefix6),
}

/// The lowest endpoint address of `sled` (a /64) not in `used`.
pub fn next_endpoint(sled: Prefix6, used: &BTreeSet<Ipv6Addr>) -> Result<Ipv6Addr, EndpointError> {
    let base = u128::from(sled.addr);
    let taken = used.iter().filter(|a| is_endpoint(sled, **a)).count();
    if taken >= MAX_ENDPOINTS {
        return Err(EndpointError::Full(sled));
    }
    // `used` is ordered: walk it from ::100 up to the first gap.
    let mut want = base | u128::from(FIRST_ENDPOINT);
    for a in used.range(Ipv6Addr::from(want)..) {
        let a = u128::from(*a);
        if a != want {
            break;
        }
        want += 1;
    }
    Ok(Ipv6Addr::from(want))
}

/// Whether `a` is an endpoint address of `sled`: in its /64, at ::100 or above.
pub fn is_endpoint(sled: Prefix6, a: Ipv6Addr) -> bool {
    sled.contains(a) && (u128::from(a) & u128::from(u64::MAX)) >= u128::from(FIRST_ENDPOINT)
}

/// Checks that `a`, being given back, is one of `sled`'s endpoints.
pub fn check_release(sled: Prefix6, a: Ipv6Addr) -> Result<(), EndpointError> {
    if is_endpoint(sled, a) {
        Ok(())
    } else {
        Err(EndpointError::NotEndpoint(a, sled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::RackPlan;

    fn sled(n: u16) -> Prefix6 {
        let r = RackPlan {
            zone: "1701:d".parse().unwrap(),
            rack: 1,
        };
        r.sled_prefix(n).unwrap()
    }

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// From ::100 up, a released address reused first.
    #[test]
    fn endpoints_count_up_from_0x100_and_recycle() {
        let s2 = sled(2);
        let mut used = BTreeSet::new();
        for want in [
            "fd00:1701:d:102::100",
            "fd00:1701:d:102::101",
            "fd00:1701:d:102::102",
        ] {
            let got = next_endpoint(s2, &used).unwrap();
            assert_eq!(got, a(want));
            used.insert(got);
        }
        check_release(s2, a("fd00:1701:d:102::101")).unwrap();
        used.remove(&a("fd00:1701:d:102::101"));
        assert_eq!(next_endpoint(s2, &used).unwrap(), a("fd00:1701:d:102::101"));
        // Another sled's addresses and the sled's own ::1 do not count.
        let mut other = BTreeSet::from([a("fd00:1701:d:101::100"), a("fd00:1701:d:102::1")]);
        assert_eq!(
            next_endpoint(s2, &other).unwrap(),
            a("fd00:1701:d:102::100")
        );
        other.insert(a("fd00:1701:d:102::100"));
        assert_eq!(
            next_endpoint(s2, &other).unwrap(),
            a("fd00:1701:d:102::101")
        );
    }

    #[test]
    fn only_a_sled_s_endpoints_are_given_back() {
        let s1 = sled(1);
        assert!(
            check_release(s1, a("fd00:1701:d:101::1")).is_err(),
            "the sled's own"
        );
        assert!(check_release(s1, a("fd00:1701:d:101::ff")).is_err());
        assert!(
            check_release(s1, a("fd00:1701:d:102::100")).is_err(),
            "another sled's"
        );
        check_release(s1, a("fd00:1701:d:101::100")).unwrap();
    }

    #[test]
    fn a_full_sled_refuses() {
        let s1 = sled(1);
        let base = u128::from(s1.addr) | 0x100;
        let used: BTreeSet<Ipv6Addr> = (0..MAX_ENDPOINTS as u128)
            .map(|i| Ipv6Addr::from(base + i))
            .collect();
        assert_eq!(next_endpoint(s1, &used), Err(EndpointError::Full(s1)));
    }
}
