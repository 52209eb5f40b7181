//! The identity of a flow and the direction of a packet through a port.

use std::net::IpAddr;

/// Which way a packet crosses a guest port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Guest -> wire.
    Out,
    /// Wire -> guest.
    In,
}

/// IP protocol numbers used by the engine.
pub mod proto {
    /// ICMPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// A flow's 5-tuple as seen on the guest side (inner headers).
///
/// `Hash` writes four packed 64-bit words (see [`FlowKey::words`]) rather than
/// each field through the `IpAddr` enums: hashing is on every packet's path.
///
/// For TCP and UDP the ports are the transport ports. For ICMP echo
/// request/reply, `src_port` and `dst_port` are both the echo identifier
/// (so a request and its reply are each other's reverse), and `icmp` holds
/// (type, code). For other protocols the ports are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub proto: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (or ICMP echo id).
    pub src_port: u16,
    /// Destination port (or ICMP echo id).
    pub dst_port: u16,
    /// ICMP (type, code), when `proto` is ICMP or ICMPv6.
    pub icmp: Option<(u8, u8)>,
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for w in self.words() {
            state.write_u64(w);
        }
    }
}

/// An address as two words; IPv4 is tagged so that it never equals an IPv6 word pair.
#[inline]
fn ip_words(ip: IpAddr) -> (u64, u64) {
    match ip {
        IpAddr::V4(a) => (0x0001_0000_0000_0000, u32::from(a) as u64),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            ((v >> 64) as u64, v as u64)
        }
    }
}

impl FlowKey {
    /// The key packed into four words (equal keys give equal words).
    #[inline]
    pub fn words(&self) -> [u64; 4] {
        let (sh, sl) = ip_words(self.src);
        let (dh, dl) = ip_words(self.dst);
        let (t, c) = self
            .icmp
            .map_or((0u64, 0u64), |(t, c)| (t as u64 | 0x100, c as u64));
        let misc = (self.proto as u64) << 56
            | t << 40
            | c << 32
            | (self.src_port as u64) << 16
            | self.dst_port as u64;
        [sl, dl, sh ^ dh.rotate_left(29), misc]
    }

    /// A well-mixed 32-bit hash of the key, stable across runs: the flow's
    /// entropy for the outer UDP source port and IPv6 flow label.
    #[inline]
    pub fn entropy(&self) -> u32 {
        let mut h = 0x9e37_79b9_7f4a_7c15u64;
        for w in self.words() {
            h = (h ^ w).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h ^= h >> 31;
        }
        (h ^ (h >> 32)) as u32
    }
    /// The key of the reply direction (addresses and ports swapped).
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            icmp: self.icmp.map(|(t, c)| (reply_icmp_type(self.proto, t), c)),
        }
    }
}

/// The ICMP type of the reply to an echo request (and vice versa); others unchanged.
fn reply_icmp_type(proto: u8, t: u8) -> u8 {
    match (proto, t) {
        (proto::ICMP, 8) => 0,
        (proto::ICMP, 0) => 8,
        (proto::ICMPV6, 128) => 129,
        (proto::ICMPV6, 129) => 128,
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_swaps_and_maps_echo() {
        let k = FlowKey {
            proto: proto::ICMP,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 7,
            dst_port: 7,
            icmp: Some((8, 0)),
        };
        let r = k.reverse();
        assert_eq!(r.src, k.dst);
        assert_eq!(r.icmp, Some((0, 0)));
        assert_eq!(r.reverse(), k);
    }
}
